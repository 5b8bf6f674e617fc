/*
 * fedcrypto._native: Python glue for the GMP kernels in kernels.c and the
 * curve25519 hash-to-curve kernel in h2c25519.c.
 *
 * Every entry point is a table (`entry`) of its positional arguments, a `check`
 * function and a `run` function, executed by one skeleton, run_entry():
 *   1. parse the arguments (limb arrays through the buffer protocol: 2-D,
 *      C-contiguous, 8-byte unsigned items, outputs writable; bools; ints);
 *   2. check(): validate shapes, moduli and value ranges, with the GIL held;
 *   3. run(): the kernel, with the GIL released once around the whole batch
 *      (kept, on one thread, when another extension installed GMP allocators
 *      that may need it);
 *   4. turn the kernel's return code into an exception, release the buffers.
 * Errors are fedcrypto.exceptions.InvalidTypeError / InvalidArgumentError /
 * KernelError, looked up once when the module is executed and kept in the module
 * state (multi-phase init), so one process can hold the module in several
 * interpreters.  Outputs are allocated by the Python wrapper
 * (fedcrypto/_backend/_native.py) and must not overlap any input.
 *
 * There is no mutable module-level (static) state: the module state is written
 * once by module_exec and only read afterwards, fixed-base tables are immutable
 * once built.  Hence Py_MOD_GIL_NOT_USED and per-interpreter GIL support.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#include "ct_powmod.h"
#include "h2c25519.h"
#include "x25519.h"
#include "kernels.h"

/* ------------------------------------------------------------- module state -- */

typedef struct {
    PyObject *invalid_type;     /* fedcrypto.exceptions.InvalidTypeError */
    PyObject *invalid_argument; /* fedcrypto.exceptions.InvalidArgumentError */
    PyObject *kernel_error;     /* fedcrypto.exceptions.KernelError */
    PyObject *fixed_base_type;  /* FixedBase (a heap type bound to this module) */
} native_state;

static native_state *module_state(PyObject *module) {
    return (native_state *)PyModule_GetState(module);
}

/* ------------------------------------------------------------ error helpers -- */

static void raise_fmt(PyObject *cls, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    PyErr_FormatV(cls, fmt, ap);
    va_end(ap);
}

#define TYPE_ERR(st, ...) raise_fmt((st)->invalid_type, __VA_ARGS__)
#define VALUE_ERR(st, ...) raise_fmt((st)->invalid_argument, __VA_ARGS__)

/* 0 for FC_OK, else -1 with the matching exception set. */
static int raise_rc(const native_state *st, int rc) {
    switch (rc) {
    case FC_OK:
        return 0;
    case FC_ENOMEM:
        PyErr_NoMemory();
        break;
    case FC_ERANGE:
        VALUE_ERR(st, "output array too narrow for results modulo the modulus");
        break;
    case FC_EBOUND:
        raise_fmt(st->kernel_error,
                  "native kernel: a modular reduction exceeded its proven bound (inputs changed "
                  "during the call, or a kernel bug); no result was produced");
        break;
    default:
        raise_fmt(st->kernel_error, "native kernel: unexpected return code %d", rc);
        break;
    }
    return -1;
}

/* ------------------------------------------------------------------ buffers -- */

typedef struct {
    Py_buffer view;
    int held;
    const char *what;
} limbbuf;

static void release(limbbuf *b) {
    if (b->held) PyBuffer_Release(&b->view);
    b->held = 0;
}

static int format_is_u64(const char *fmt) {
    if (!fmt) return 1; /* unformatted buffers are bytes; the itemsize check rejects them */
    if (*fmt == '@' || *fmt == '=') fmt++;
#if PY_LITTLE_ENDIAN
    else if (*fmt == '<') fmt++;
#else
    else if (*fmt == '>' || *fmt == '!') fmt++;
#endif
    return (strcmp(fmt, "Q") == 0 || strcmp(fmt, "L") == 0);
}

/* Acquire a (count, width) uint64 limb array. */
static int get_limbs(const native_state *st, PyObject *obj, const char *what, int writable,
                     limbbuf *b) {
    int flags = PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    b->held = 0;
    b->what = what;
    if (PyObject_GetBuffer(obj, &b->view, flags) < 0) {
        PyErr_Clear();
        TYPE_ERR(st, "%s must be a %s 2-D uint64 array, got %.100s", what,
                 writable ? "writable" : "C-contiguous", Py_TYPE(obj)->tp_name);
        return -1;
    }
    b->held = 1;
    if (b->view.itemsize != 8 || !format_is_u64(b->view.format)) {
        TYPE_ERR(st, "%s must have dtype uint64 (format %s)", what,
                 b->view.format ? b->view.format : "B");
        goto fail;
    }
    if (b->view.ndim != 2) {
        TYPE_ERR(st, "%s must be 2-D (count, limbs), got %d-D", what, b->view.ndim);
        goto fail;
    }
    if (!PyBuffer_IsContiguous(&b->view, 'C')) {
        TYPE_ERR(st, "%s must be C-contiguous", what);
        goto fail;
    }
    if (b->view.shape[1] < 1) {
        TYPE_ERR(st, "%s must have at least one limb per integer", what);
        goto fail;
    }
    return 0;
fail:
    release(b);
    return -1;
}

/* Acquire any C-contiguous bytes-like object. */
static int get_bytes(const native_state *st, PyObject *obj, const char *what, limbbuf *b) {
    b->held = 0;
    b->what = what;
    if (PyObject_GetBuffer(obj, &b->view, PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Clear();
        TYPE_ERR(st, "%s must be a C-contiguous bytes-like object, got %.100s", what,
                 Py_TYPE(obj)->tp_name);
        return -1;
    }
    b->held = 1;
    return 0;
}

static fc_in as_in(const limbbuf *b) {
    fc_in r;
    r.p = (const uint64_t *)b->view.buf;
    r.count = (size_t)b->view.shape[0];
    r.width = (size_t)b->view.shape[1];
    return r;
}

static fc_out as_out(const limbbuf *b) {
    fc_out r;
    r.p = (uint64_t *)b->view.buf;
    r.count = (size_t)b->view.shape[0];
    r.width = (size_t)b->view.shape[1];
    return r;
}

static int overlaps(const limbbuf *a, const limbbuf *b) {
    const char *a0 = (const char *)a->view.buf, *b0 = (const char *)b->view.buf;
    return a->view.len > 0 && b->view.len > 0 && a0 < b0 + b->view.len && b0 < a0 + a->view.len;
}

/* -------------------------------------------------------- the entry skeleton -- */

enum arg_kind {
    A_IN,      /* limb array, read */
    A_OUT,     /* limb array, written (the one output of an entry) */
    A_BYTES,   /* bytes-like, read */
    A_FLAG,    /* a bool (exactly True or False) */
    A_SIZE,    /* a non-negative int (range checked by the entry) */
    A_U64,     /* an int taken modulo 2^64 */
    A_THREADS, /* an int >= 1 (clamped to INT_MAX) */
};

#define MAX_ARGS 7

typedef struct {
    enum arg_kind kind;
    const char *what; /* in messages */
} argdef;

/* One call: the parsed arguments by position, and what check() derives from them. */
typedef struct {
    const native_state *st;
    limbbuf buf[MAX_ARGS]; /* A_IN, A_OUT, A_BYTES */
    fc_in in[MAX_ARGS];    /* A_IN */
    size_t norm[MAX_ARGS]; /* A_IN: normalized limb count, once get_modulus has seen it */
    Py_ssize_t size[MAX_ARGS];
    unsigned long long u64[MAX_ARGS];
    int flag;      /* the A_FLAG argument */
    int threads;   /* the A_THREADS argument */
    int out_index; /* position of the A_OUT argument, -1 if none */
    fc_out out;
    const uint64_t *mod; /* set by get_modulus */
    size_t mn;
    void *obj;        /* entry-specific: the FixedBase object or type */
    void *made;       /* entry-specific: what run() built (a fixed-base table) */
    long value;       /* entry-specific: what run() computed (test hooks) */
    PyObject *result; /* entry-specific result (None when NULL) */
} call;

typedef struct {
    const char *name;
    int nargs;
    argdef args[MAX_ARGS];
    int uses_gmp; /* the kernel allocates through libgmp (see run_entry) */
    int (*check)(call *c);                         /* GIL held: 0, or -1 with an exception */
    int (*run)(call *c);                           /* GIL released: an FC_* code */
    PyObject *(*finish)(call *c);                  /* GIL held, optional: the result */
} entry;

static int parse_int(const native_state *st, PyObject *o, const char *what, long long *v,
                     int *overflow) {
    if (!PyLong_Check(o) || PyBool_Check(o)) {
        TYPE_ERR(st, "%s must be an int, got %.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    *v = PyLong_AsLongLongAndOverflow(o, overflow);
    if (*v == -1 && PyErr_Occurred()) return -1;
    return 0;
}

static int parse_arg(call *c, const argdef *d, int i, PyObject *o) {
    const native_state *st = c->st;
    long long v;
    int overflow;
    switch (d->kind) {
    case A_IN:
        if (get_limbs(st, o, d->what, 0, &c->buf[i])) return -1;
        c->in[i] = as_in(&c->buf[i]);
        return 0;
    case A_OUT:
        if (get_limbs(st, o, d->what, 1, &c->buf[i])) return -1;
        c->out = as_out(&c->buf[i]);
        c->out_index = i;
        return 0;
    case A_BYTES:
        return get_bytes(st, o, d->what, &c->buf[i]);
    case A_FLAG:
        if (!PyBool_Check(o)) {
            TYPE_ERR(st, "%s must be a bool, got %.100s", d->what, Py_TYPE(o)->tp_name);
            return -1;
        }
        c->flag = o == Py_True;
        return 0;
    case A_SIZE:
        if (parse_int(st, o, d->what, &v, &overflow)) return -1;
        if (overflow || v < 0 || v > PY_SSIZE_T_MAX) {
            VALUE_ERR(st, "%s is out of range", d->what);
            return -1;
        }
        c->size[i] = (Py_ssize_t)v;
        return 0;
    case A_U64:
        if (!PyLong_Check(o) || PyBool_Check(o)) {
            TYPE_ERR(st, "%s must be an int, got %.100s", d->what, Py_TYPE(o)->tp_name);
            return -1;
        }
        c->u64[i] = PyLong_AsUnsignedLongLongMask(o);
        return (c->u64[i] == (unsigned long long)-1 && PyErr_Occurred()) ? -1 : 0;
    case A_THREADS:
        if (parse_int(st, o, d->what, &v, &overflow)) return -1;
        if (overflow < 0 || (!overflow && v < 1)) {
            VALUE_ERR(st, "threads must be at least 1");
            return -1;
        }
        c->threads = (overflow || v > INT_MAX) ? INT_MAX : (int)v;
        return 0;
    }
    return 0;
}

/* Parse, check (GIL held), run (GIL released once), raise, release. */
static PyObject *run_entry(const native_state *st, const entry *e, PyObject *const *args,
                           Py_ssize_t nargs, void *obj) {
    call c;
    int i, rc;
    PyObject *result = NULL;
    memset(&c, 0, sizeof c);
    c.st = st;
    c.obj = obj;
    c.out_index = -1;
    c.threads = 1;
    if (nargs != e->nargs) {
        TYPE_ERR(st, "%s() takes exactly %d positional arguments (%zd given)", e->name, e->nargs,
                 nargs);
        return NULL;
    }
    for (i = 0; i < e->nargs; i++)
        if (parse_arg(&c, &e->args[i], i, args[i])) goto done;
    if (e->check(&c)) goto done;
    if (!e->uses_gmp || fc_gmp_alloc_is_default()) {
        Py_BEGIN_ALLOW_THREADS rc = e->run(&c);
        Py_END_ALLOW_THREADS
    } else {
        /* GMP allocators installed by another extension may need the GIL: keep it and
         * stay on this thread (same result: the split never changes the answer). */
        c.threads = 1;
        rc = e->run(&c);
    }
    if (raise_rc(st, rc)) goto done;
    if (e->finish)
        result = e->finish(&c);
    else if (c.result)
        result = Py_NewRef(c.result);
    else
        result = Py_NewRef(Py_None);
done:
    Py_XDECREF(c.result);
    for (i = 0; i < MAX_ARGS; i++) release(&c.buf[i]);
    return result;
}

/* ------------------------------------------------------- shared validation -- */

/* The modulus at position i, a (1, w) limb row: sets c->mod and its normalized limb
 * count c->mn.  odd: reject even moduli. */
static int get_modulus(call *c, int i, int odd) {
    const fc_in *m = &c->in[i];
    const char *what = c->buf[i].what;
    if (m->count != 1) {
        TYPE_ERR(c->st, "%s must be one limb row, got %zu rows", what, m->count);
        return -1;
    }
    c->mod = m->p;
    c->mn = c->norm[i] = fc_norm(m->p, m->width);
    if (c->mn == 0 || (c->mn == 1 && m->p[0] <= 1)) {
        VALUE_ERR(c->st, "%s must be greater than 1", what);
        return -1;
    }
    if (odd && !(m->p[0] & 1)) {
        VALUE_ERR(c->st, "%s must be odd for this operation", what);
        return -1;
    }
    return 0;
}

/* Every row of the array at position i below (m, mn). */
static int check_below(call *c, int i, const uint64_t *m, size_t mn, const char *what) {
    ptrdiff_t bad = fc_first_not_below(&c->in[i], m, mn);
    if (bad >= 0) {
        VALUE_ERR(c->st, "every %s must be below the modulus (row %zd is not)", what, bad);
        return -1;
    }
    return 0;
}

/* Batch lengths: the array at j has as many rows as the one at i (or one, if broadcast). */
static int check_pair(call *c, int i, int j, int broadcast) {
    size_t ni = c->in[i].count, nj = c->in[j].count;
    if (nj != ni && !(broadcast && nj == 1)) {
        VALUE_ERR(c->st, "%s and %s have different lengths (%zu and %zu)", c->buf[i].what,
                  c->buf[j].what, ni, nj);
        return -1;
    }
    return 0;
}

/* The output has shape (count, width) and overlaps no input. */
static int check_out(call *c, size_t count, size_t width) {
    int i;
    if (c->out.count != count || c->out.width != width) {
        VALUE_ERR(c->st, "output must have shape (%zu, %zu), got (%zu, %zu)", count, width,
                  c->out.count, c->out.width);
        return -1;
    }
    for (i = 0; i < MAX_ARGS; i++) {
        if (i == c->out_index || !c->buf[i].held) continue;
        if (overlaps(&c->buf[c->out_index], &c->buf[i])) {
            VALUE_ERR(c->st, "output must not overlap %s", c->buf[i].what);
            return -1;
        }
    }
    return 0;
}

/* --------------------------------------------------------------- entries -- */

/* powmod(bases, exps, mod, out, secret, threads) */
static int powmod_check(call *c) {
    if (get_modulus(c, 2, c->flag) || check_pair(c, 0, 1, 1) ||
        check_below(c, 0, c->mod, c->mn, "base"))
        return -1;
    /* The constant-time path works on the whole exponent row: cap its width. */
    if (c->flag && c->in[1].width > FC_CT_MAX_EXP_LIMBS) {
        VALUE_ERR(c->st, "constant-time exponent rows are limited to %d bits, got %zu",
                  FC_CT_MAX_EXP_LIMBS * 64, c->in[1].width * 64);
        return -1;
    }
    return check_out(c, c->in[0].count, fc_result_width(c->mod, c->mn));
}

static int powmod_run(call *c) {
    if (!c->in[0].count) return FC_OK;
    return fc_powmod(&c->in[0], &c->in[1], c->mod, c->mn, c->flag, &c->out, c->threads);
}

static const entry powmod_entry = {
    "powmod", 6,
    {{A_IN, "bases"}, {A_IN, "exponents"}, {A_IN, "modulus"}, {A_OUT, "output"},
     {A_FLAG, "secret"}, {A_THREADS, "threads"}},
    1, powmod_check, powmod_run, NULL,
};

/* _powmod_gmp_sec(bases, exps, mod, out, threads): GMP's mpn_sec_powm only (the
 * reference for tests and the peer in benchmarks of the constant-time path). */
static int powmod_gmp_sec_check(call *c) {
    c->flag = 1;
    return powmod_check(c);
}

static int powmod_gmp_sec_run(call *c) {
    if (!c->in[0].count) return FC_OK;
    return fc_gmp_sec_powmod(&c->in[0], &c->in[1], c->mod, c->mn, &c->out, c->threads);
}

static const entry powmod_gmp_sec_entry = {
    "_powmod_gmp_sec", 5,
    {{A_IN, "bases"}, {A_IN, "exponents"}, {A_IN, "modulus"}, {A_OUT, "output"},
     {A_THREADS, "threads"}},
    1, powmod_gmp_sec_check, powmod_gmp_sec_run, NULL,
};

/* mulmod(a, b, mod, out, threads) */
static int mulmod_check(call *c) {
    if (get_modulus(c, 2, 0) || check_pair(c, 0, 1, 1) ||
        check_below(c, 0, c->mod, c->mn, "left operand") ||
        check_below(c, 1, c->mod, c->mn, "right operand"))
        return -1;
    return check_out(c, c->in[0].count, fc_result_width(c->mod, c->mn));
}

static int mulmod_run(call *c) {
    if (!c->in[0].count) return FC_OK;
    return fc_mulmod(&c->in[0], &c->in[1], c->mod, c->mn, &c->out, c->threads);
}

static const entry mulmod_entry = {
    "mulmod", 5,
    {{A_IN, "left operands"}, {A_IN, "right operands"}, {A_IN, "modulus"}, {A_OUT, "output"},
     {A_THREADS, "threads"}},
    1, mulmod_check, mulmod_run, NULL,
};

/* prodmod(values, mod, out, threads) */
static int prodmod_check(call *c) {
    if (get_modulus(c, 1, 0) || check_below(c, 0, c->mod, c->mn, "value")) return -1;
    return check_out(c, 1, fc_result_width(c->mod, c->mn));
}

static int prodmod_run(call *c) {
    return fc_prodmod(&c->in[0], c->mod, c->mn, &c->out, c->threads);
}

static const entry prodmod_entry = {
    "prodmod", 4,
    {{A_IN, "values"}, {A_IN, "modulus"}, {A_OUT, "output"}, {A_THREADS, "threads"}},
    1, prodmod_check, prodmod_run, NULL,
};

/* multi_powmod(bases, exps, mod, out, threads) */
static int multi_powmod_check(call *c) {
    if (get_modulus(c, 2, 0) || check_pair(c, 0, 1, 0) || check_below(c, 0, c->mod, c->mn, "base"))
        return -1;
    return check_out(c, 1, fc_result_width(c->mod, c->mn));
}

static int multi_powmod_run(call *c) {
    return fc_multi_powmod(&c->in[0], &c->in[1], c->mod, c->mn, &c->out, c->threads);
}

static const entry multi_powmod_entry = {
    "multi_powmod", 5,
    {{A_IN, "bases"}, {A_IN, "exponents"}, {A_IN, "modulus"}, {A_OUT, "output"},
     {A_THREADS, "threads"}},
    1, multi_powmod_check, multi_powmod_run, NULL,
};

/* crt(rp, rq, p, q, qinv, out, threads): c->mod, c->mn are p; q and q^-1 mod p
 * keep their normalized limb counts in norm[3], norm[4]. */
static int crt_check(call *c) {
    const fc_in *qi = &c->in[4];
    size_t pn, qn, qin;
    if (get_modulus(c, 3, 0)) return -1;
    qn = c->mn;
    if (get_modulus(c, 2, 0)) return -1; /* last: c->mod, c->mn are p */
    pn = c->mn;
    if (check_pair(c, 0, 1, 0)) return -1;
    if (qi->count != 1) {
        TYPE_ERR(c->st, "q^-1 mod p must be one limb row");
        return -1;
    }
    qin = fc_norm(qi->p, qi->width);
    if (qin == 0 || !(qin < pn || (qin == pn && fc_first_not_below(qi, c->mod, pn) < 0))) {
        VALUE_ERR(c->st, "q^-1 mod p must be in [1, p)");
        return -1;
    }
    if (check_below(c, 0, c->mod, pn, "residue mod p") ||
        check_below(c, 1, c->in[3].p, qn, "residue mod q"))
        return -1;
    c->norm[4] = qin;
    /* The output width is the caller's; the kernel reports a result that does not fit
     * (FC_ERANGE). */
    return check_out(c, c->in[0].count, c->out.width);
}

static int crt_run(call *c) {
    if (!c->in[0].count) return FC_OK;
    return fc_crt(&c->in[0], &c->in[1], c->mod, c->mn, c->in[3].p, c->norm[3], c->in[4].p,
                  c->norm[4], &c->out, c->threads);
}

static const entry crt_entry = {
    "crt", 7,
    {{A_IN, "residues mod p"}, {A_IN, "residues mod q"}, {A_IN, "p"}, {A_IN, "q"},
     {A_IN, "q^-1 mod p"}, {A_OUT, "output"}, {A_THREADS, "threads"}},
    1, crt_check, crt_run, NULL,
};

/* curve25519_h2c_u(uniform, threads) -> bytes.  The kernel uses no GMP, so the GIL
 * is always released. */
static int h2c_check(call *c) {
    Py_ssize_t len = c->buf[0].view.len;
    size_t count;
    if (len % FC_H2C25519_IN != 0) {
        VALUE_ERR(c->st, "uniform bytes must be a multiple of %d bytes (2 x 48 per message), got %zd",
                  FC_H2C25519_IN, len);
        return -1;
    }
    count = (size_t)len / FC_H2C25519_IN;
    if (count > (size_t)PY_SSIZE_T_MAX / FC_H2C25519_OUT) {
        VALUE_ERR(c->st, "too many messages");
        return -1;
    }
    c->size[0] = (Py_ssize_t)count;
    c->result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(count * FC_H2C25519_OUT));
    return c->result ? 0 : -1;
}

static int h2c_run(call *c) {
    size_t count = (size_t)c->size[0];
    if (!count) return FC_OK;
    return fc_h2c25519_u((const uint8_t *)c->buf[0].view.buf, count,
                         (uint8_t *)PyBytes_AS_STRING(c->result), c->threads)
               ? FC_ENOMEM
               : FC_OK;
}

static const entry h2c_entry = {
    "curve25519_h2c_u", 2,
    {{A_BYTES, "uniform bytes"}, {A_THREADS, "threads"}},
    0, h2c_check, h2c_run, NULL,
};

/* x25519_many(scalar, us, threads) -> bytes: X25519(scalar, u) for each 32-byte u.  No
 * GMP: the GIL is always released.  The result is allocated (as bytes) under the GIL. */
static int x25519_check(call *c) {
    Py_ssize_t len = c->buf[1].view.len;
    if (c->buf[0].view.len != 32) {
        VALUE_ERR(c->st, "an X25519 scalar is 32 bytes, got %zd", c->buf[0].view.len);
        return -1;
    }
    if (len % 32 != 0) {
        VALUE_ERR(c->st, "u-coordinates must be a multiple of 32 bytes, got %zd", len);
        return -1;
    }
    c->size[1] = len / 32;
    c->result = PyBytes_FromStringAndSize(NULL, len);
    return c->result ? 0 : -1;
}

static int x25519_run(call *c) {
    size_t count = (size_t)c->size[1];
    if (!count) return FC_OK;
    return fc_x25519_many((const uint8_t *)c->buf[0].view.buf,
                          (const uint8_t *)c->buf[1].view.buf, count,
                          (uint8_t *)PyBytes_AS_STRING(c->result), c->threads)
               ? FC_ENOMEM
               : FC_OK;
}

static const entry x25519_entry = {
    "x25519_many", 3,
    {{A_BYTES, "scalar"}, {A_BYTES, "u-coordinates"}, {A_THREADS, "threads"}},
    0, x25519_check, x25519_run, NULL,
};

/* curve25519_u_status(us, threads) -> bytes: one status byte per 32-byte u. */
static int ustatus_check(call *c) {
    Py_ssize_t len = c->buf[0].view.len;
    if (len % 32 != 0) {
        VALUE_ERR(c->st, "u-coordinates must be a multiple of 32 bytes, got %zd", len);
        return -1;
    }
    c->size[0] = len / 32;
    c->result = PyBytes_FromStringAndSize(NULL, len / 32);
    return c->result ? 0 : -1;
}

static int ustatus_run(call *c) {
    size_t count = (size_t)c->size[0];
    if (!count) return FC_OK;
    return fc_curve25519_u_status((const uint8_t *)c->buf[0].view.buf, count,
                                  (uint8_t *)PyBytes_AS_STRING(c->result), c->threads)
               ? FC_ENOMEM
               : FC_OK;
}

static const entry ustatus_entry = {
    "curve25519_u_status", 2,
    {{A_BYTES, "u-coordinates"}, {A_THREADS, "threads"}},
    0, ustatus_check, ustatus_run, NULL,
};

/* _redc_selftest(mod, rounds, seed) -> int | None (test hook) */
static int redc_selftest_check(call *c) { return get_modulus(c, 0, 1); }

static int redc_selftest_run(call *c) {
    c->value = fc_redc_selftest(c->mod, c->mn, (size_t)c->size[1], (uint64_t)c->u64[2]);
    return c->value == FC_ENOMEM ? FC_ENOMEM : FC_OK;
}

static PyObject *selftest_finish(call *c) {
    if (c->value == FC_NOT_APPLICABLE) Py_RETURN_NONE;
    return PyLong_FromLong(c->value);
}

static const entry redc_selftest_entry = {
    "_redc_selftest", 3,
    {{A_IN, "modulus"}, {A_SIZE, "rounds"}, {A_U64, "seed"}},
    1, redc_selftest_check, redc_selftest_run, selftest_finish,
};

/* _barrett_selftest(mod, rounds, seed, broken_mu) -> int | None (test hook) */
static int barrett_selftest_check(call *c) { return get_modulus(c, 0, 0); }

static int barrett_selftest_run(call *c) {
    c->value = fc_barrett_selftest(c->mod, c->mn, (size_t)c->size[1], (uint64_t)c->u64[2], c->flag);
    return c->value == FC_ENOMEM || c->value == FC_EBOUND ? (int)c->value : FC_OK;
}

static const entry barrett_selftest_entry = {
    "_barrett_selftest", 4,
    {{A_IN, "modulus"}, {A_SIZE, "rounds"}, {A_U64, "seed"}, {A_FLAG, "broken_mu"}},
    1, barrett_selftest_check, barrett_selftest_run, selftest_finish,
};

/* ---------------------------------------------------------------- FixedBase -- */

typedef struct {
    PyObject_HEAD
    fc_fixed_base *fb;
    size_t max_exp_bits;
    size_t mn;
    size_t out_width;
} FixedBaseObject;

/* FixedBase(base, mod, max_exp_bits, window, threads, secret=False) */
static int fbnew_check(call *c) {
    if (c->size[2] < 1 || c->size[2] > (1 << 16)) {
        VALUE_ERR(c->st, "max_exp_bits must be between 1 and 65536");
        return -1;
    }
    if (c->size[3] > 16) {
        VALUE_ERR(c->st, "window must be between 0 (automatic) and 16 bits");
        return -1;
    }
    if (get_modulus(c, 1, c->flag)) return -1;
    if (c->in[0].count != 1) {
        TYPE_ERR(c->st, "base must be one limb row");
        return -1;
    }
    return check_below(c, 0, c->mod, c->mn, "base");
}

static int fbnew_run(call *c) {
    int err = FC_OK;
    c->made = fc_fb_new(c->in[0].p, c->in[0].width, c->mod, c->mn, (size_t)c->size[2],
                        (unsigned)c->size[3], c->flag, c->threads, &err);
    return c->made ? FC_OK : err;
}

static PyObject *fbnew_finish(call *c) {
    PyTypeObject *type = (PyTypeObject *)c->obj;
    FixedBaseObject *self = (FixedBaseObject *)type->tp_alloc(type, 0);
    if (!self) {
        fc_fb_free((fc_fixed_base *)c->made);
        return NULL;
    }
    self->fb = (fc_fixed_base *)c->made;
    self->max_exp_bits = (size_t)c->size[2];
    self->mn = c->mn;
    self->out_width = fc_result_width(c->mod, c->mn);
    return (PyObject *)self;
}

static const entry fbnew_entry = {
    "FixedBase", 6,
    {{A_IN, "base"}, {A_IN, "modulus"}, {A_SIZE, "max_exp_bits"}, {A_SIZE, "window"},
     {A_THREADS, "threads"}, {A_FLAG, "secret"}},
    1, fbnew_check, fbnew_run, fbnew_finish,
};

/* FixedBase.pow(exps, out, threads) */
static int fbpow_check(call *c) {
    const FixedBaseObject *self = (const FixedBaseObject *)c->obj;
    const fc_in *e = &c->in[0];
    if (fc_fb_secret(self->fb) ? !fc_rows_fit_bits(e, self->max_exp_bits)
                               : fc_max_bitlen(e) > self->max_exp_bits) {
        VALUE_ERR(c->st, "exponent wider than the table's %zu bits", self->max_exp_bits);
        return -1;
    }
    return check_out(c, e->count, self->out_width);
}

static int fbpow_run(call *c) {
    const FixedBaseObject *self = (const FixedBaseObject *)c->obj;
    if (!c->in[0].count) return FC_OK;
    return fc_fb_pow(self->fb, &c->in[0], &c->out, c->threads);
}

static const entry fbpow_entry = {
    "pow", 3,
    {{A_IN, "exponents"}, {A_OUT, "output"}, {A_THREADS, "threads"}},
    1, fbpow_check, fbpow_run, NULL,
};

static PyObject *fixedbase_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"base", "mod", "max_exp_bits", "window", "threads", "secret", NULL};
    PyObject *argv[6] = {NULL, NULL, NULL, NULL, NULL, Py_False};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOO|O:FixedBase", kwlist, &argv[0], &argv[1],
                                     &argv[2], &argv[3], &argv[4], &argv[5]))
        return NULL;
    return run_entry((const native_state *)PyType_GetModuleState(type), &fbnew_entry, argv, 6,
                     type);
}

static void fixedbase_dealloc(FixedBaseObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    fc_fb_free(self->fb);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *fixedbase_pow(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return run_entry((const native_state *)PyType_GetModuleState(Py_TYPE(self)), &fbpow_entry, args,
                     nargs, self);
}

static PyObject *fixedbase_window(FixedBaseObject *self, void *closure) {
    (void)closure;
    return PyLong_FromUnsignedLong(fc_fb_window(self->fb));
}

static PyObject *fixedbase_secret(FixedBaseObject *self, void *closure) {
    (void)closure;
    return PyBool_FromLong(fc_fb_secret(self->fb));
}

static PyObject *fixedbase_table_bytes(FixedBaseObject *self, void *closure) {
    (void)closure;
    return PyLong_FromSize_t(fc_fb_table_bytes(self->fb));
}

static PyObject *fixedbase_max_exp_bits(FixedBaseObject *self, void *closure) {
    (void)closure;
    return PyLong_FromSize_t(self->max_exp_bits);
}

static PyObject *fixedbase_out_width(FixedBaseObject *self, void *closure) {
    (void)closure;
    return PyLong_FromSize_t(self->out_width);
}

static PyObject *fixedbase_reduce(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    PyErr_SetString(PyExc_TypeError, "fixed-base tables are process-local and cannot be pickled");
    return NULL;
}

static PyMethodDef fixedbase_methods[] = {
    {"pow", (PyCFunction)(void (*)(void))fixedbase_pow, METH_FASTCALL,
     "pow($self, exps, out, threads, /)\n--\n\nout[i] = base ** exps[i] mod m."},
    {"__reduce__", fixedbase_reduce, METH_NOARGS, "__reduce__($self, /)\n--\n\nRefuse pickling."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef fixedbase_getset[] = {
    {"window", (getter)fixedbase_window, NULL, "Window width in bits.", NULL},
    {"table_bytes", (getter)fixedbase_table_bytes, NULL, "Size of the precomputed table.", NULL},
    {"secret", (getter)fixedbase_secret, NULL, "Constant-time pow (odd modulus).", NULL},
    {"max_exp_bits", (getter)fixedbase_max_exp_bits, NULL, "Widest exponent accepted.", NULL},
    {"out_width", (getter)fixedbase_out_width, NULL, "Limb width of results.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot fixedbase_slots[] = {
    {Py_tp_new, fixedbase_new},
    {Py_tp_dealloc, fixedbase_dealloc},
    {Py_tp_methods, fixedbase_methods},
    {Py_tp_getset, fixedbase_getset},
    {Py_tp_doc, "FixedBase(base, mod, max_exp_bits, window, threads, secret=False)\n--\n\n"
                "Immutable table of powers of one base (limb rows), shareable between threads; "
                "secret: constant-time pow for secret exponents (odd modulus)."},
    {0, NULL},
};

static PyType_Spec fixedbase_spec = {
    "fedcrypto._native.FixedBase",
    sizeof(FixedBaseObject),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    fixedbase_slots,
};

/* ------------------------------------------------------------- module level -- */

#define ENTRY_FN(fn, ent)                                                                  \
    static PyObject *fn(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {       \
        return run_entry(module_state(module), &(ent), args, nargs, NULL);                 \
    }

ENTRY_FN(powmod_py, powmod_entry)
ENTRY_FN(mulmod_py, mulmod_entry)
ENTRY_FN(prodmod_py, prodmod_entry)
ENTRY_FN(multi_powmod_py, multi_powmod_entry)
ENTRY_FN(powmod_gmp_sec_py, powmod_gmp_sec_entry)
ENTRY_FN(crt_py, crt_entry)
ENTRY_FN(curve25519_h2c_u_py, h2c_entry)
ENTRY_FN(x25519_many_py, x25519_entry)
ENTRY_FN(curve25519_u_status_py, ustatus_entry)
ENTRY_FN(redc_selftest_py, redc_selftest_entry)
ENTRY_FN(barrett_selftest_py, barrett_selftest_entry)

static PyObject *gmp_version_py(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    return PyUnicode_FromString(fc_gmp_version());
}

static PyObject *openssl_version_py(PyObject *self, PyObject *args) {
    const char *v = fc_openssl_version();
    (void)self;
    (void)args;
    if (!v) Py_RETURN_NONE;
    return PyUnicode_FromString(v);
}

static PyObject *gmp_default_alloc_py(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    return PyBool_FromLong(fc_gmp_alloc_is_default());
}

#define FASTCALL(fn) (PyCFunction)(void (*)(void))(fn), METH_FASTCALL

static PyMethodDef methods[] = {
    {"gmp_version", gmp_version_py, METH_NOARGS,
     "gmp_version($module, /)\n--\n\nVersion of the GMP library linked in."},
    {"openssl_version", openssl_version_py, METH_NOARGS,
     "openssl_version($module, /)\n--\n\n"
     "Version of the libcrypto used for constant-time exponentiation (None: built without "
     "it; GMP's mpn_sec_powm is used)."},
    {"_powmod_gmp_sec", FASTCALL(powmod_gmp_sec_py),
     "_powmod_gmp_sec($module, bases, exps, mod, out, threads, /)\n--\n\n"
     "Reference/benchmark hook: powmod(secret=True) through GMP's mpn_sec_powm only."},
    {"gmp_default_allocators", gmp_default_alloc_py, METH_NOARGS,
     "gmp_default_allocators($module, /)\n--\n\n"
     "True when libgmp uses its own allocators (batches then run without the GIL, threaded)."},
    {"powmod", FASTCALL(powmod_py),
     "powmod($module, bases, exps, mod, out, secret, threads, /)\n--\n\n"
     "out[i] = bases[i] ** exps[i or 0] mod m."},
    {"mulmod", FASTCALL(mulmod_py),
     "mulmod($module, a, b, mod, out, threads, /)\n--\n\nout[i] = a[i] * b[i or 0] mod m."},
    {"prodmod", FASTCALL(prodmod_py),
     "prodmod($module, values, mod, out, threads, /)\n--\n\nout[0] = prod values mod m."},
    {"multi_powmod", FASTCALL(multi_powmod_py),
     "multi_powmod($module, bases, exps, mod, out, threads, /)\n--\n\n"
     "out[0] = prod bases[i] ** exps[i] mod m."},
    {"crt", FASTCALL(crt_py),
     "crt($module, rp, rq, p, q, qinv, out, threads, /)\n--\n\n"
     "out[i] = rq[i] + q * ((rp[i] - rq[i]) * qinv mod p)."},
    {"curve25519_u_status", FASTCALL(curve25519_u_status_py),
     "curve25519_u_status($module, us, threads, /)\n--\n\n"
     "One status byte per 32-byte little-endian u: 0 on curve25519, 1 non-canonical "
     "(u >= p), 2 on the twist."},
    {"x25519_many", FASTCALL(x25519_many_py),
     "x25519_many($module, scalar, us, threads, /)\n--\n\n"
     "RFC 7748 X25519(scalar, u) for each 32-byte little-endian u (constant time, GIL "
     "released, threads); 32 bytes per u."},
    {"curve25519_h2c_u", FASTCALL(curve25519_h2c_u_py),
     "curve25519_h2c_u($module, uniform, threads, /)\n--\n\n"
     "RFC 9380 curve25519_XMD:SHA-512_ELL2_RO_ u-coordinates (32 bytes little-endian each) "
     "from expand_message_xmd outputs (96 bytes each)."},
    {"_redc_selftest", FASTCALL(redc_selftest_py),
     "_redc_selftest($module, mod, rounds, seed, /)\n--\n\n"
     "Test hook: mismatches between the two Montgomery reductions (None: the wrap-around one "
     "does not apply to this modulus)."},
    {"_barrett_selftest", FASTCALL(barrett_selftest_py),
     "_barrett_selftest($module, mod, rounds, seed, broken_mu, /)\n--\n\n"
     "Test hook: mismatches between Barrett's reduction and division (None: Barrett is not "
     "used for this modulus); broken_mu forces the old truncated mu to exercise the bound "
     "(KernelError)."},
    {NULL, NULL, 0, NULL},
};

static int module_exec(PyObject *module) {
    native_state *st = module_state(module);
    PyObject *exc = PyImport_ImportModule("fedcrypto.exceptions");
    if (!exc) return -1;
    st->invalid_type = PyObject_GetAttrString(exc, "InvalidTypeError");
    st->invalid_argument = PyObject_GetAttrString(exc, "InvalidArgumentError");
    st->kernel_error = PyObject_GetAttrString(exc, "KernelError");
    Py_DECREF(exc);
    if (!st->invalid_type || !st->invalid_argument || !st->kernel_error) return -1;
    st->fixed_base_type = PyType_FromModuleAndSpec(module, &fixedbase_spec, NULL);
    if (!st->fixed_base_type) return -1;
    return PyModule_AddObjectRef(module, "FixedBase", st->fixed_base_type);
}

static int module_traverse(PyObject *module, visitproc visit, void *arg) {
    native_state *st = module_state(module);
    Py_VISIT(st->invalid_type);
    Py_VISIT(st->invalid_argument);
    Py_VISIT(st->kernel_error);
    Py_VISIT(st->fixed_base_type);
    return 0;
}

static int module_clear(PyObject *module) {
    native_state *st = module_state(module);
    Py_CLEAR(st->invalid_type);
    Py_CLEAR(st->invalid_argument);
    Py_CLEAR(st->kernel_error);
    Py_CLEAR(st->fixed_base_type);
    return 0;
}

static void module_free(void *module) { module_clear((PyObject *)module); }

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
#ifdef Py_mod_multiple_interpreters
    /* Everything per-interpreter lives in the module state; the kernels touch no
     * Python object and no mutable process-wide state. */
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    /* No mutable module-level state; every call works on its own buffers and tables
     * are immutable once built, so the module is safe without the GIL. */
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    "_native",
    "fedcrypto native GMP kernel",
    sizeof(native_state),
    methods,
    module_slots,
    module_traverse,
    module_clear,
    module_free,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModuleDef_Init(&moduledef); }
