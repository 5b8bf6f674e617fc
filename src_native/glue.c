/*
 * fedcrypto._native: Python glue for the GMP kernels in kernels.c.
 *
 * Every entry point takes limb arrays through the buffer protocol (2-D,
 * C-contiguous, 8-byte unsigned items; outputs writable), validates shapes,
 * moduli and value ranges while holding the GIL, raising
 * fedcrypto.exceptions.InvalidTypeError / InvalidArgumentError, then releases the
 * GIL once around the whole batch.  Outputs are allocated by the Python wrapper
 * (fedcrypto/_backend/_native.py) and must not overlap any input.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdarg.h>
#include <string.h>

#include "kernels.h"
#include "h2c25519.h"

/* ------------------------------------------------------------ error helpers -- */

static void raise_fc(const char *cls, const char *fmt, ...) {
    PyObject *mod, *exc = NULL;
    va_list ap;
    mod = PyImport_ImportModule("fedcrypto.exceptions");
    if (mod) {
        exc = PyObject_GetAttrString(mod, cls);
        Py_DECREF(mod);
    }
    if (!exc) {
        PyErr_Clear();
        exc = strcmp(cls, "InvalidTypeError") == 0 ? PyExc_TypeError : PyExc_ValueError;
        Py_INCREF(exc);
    }
    va_start(ap, fmt);
    PyErr_FormatV(exc, fmt, ap);
    va_end(ap);
    Py_DECREF(exc);
}

#define TYPE_ERR(...) raise_fc("InvalidTypeError", __VA_ARGS__)
#define VALUE_ERR(...) raise_fc("InvalidArgumentError", __VA_ARGS__)

static int raise_rc(int rc) {
    if (rc == FC_OK) return 0;
    if (rc == FC_ENOMEM)
        PyErr_NoMemory();
    else
        VALUE_ERR("output array too narrow for results modulo the modulus");
    return -1;
}

/* ---------------------------------------------------------------- buffers -- */

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
    if (!fmt) return 1; /* unformatted buffers are bytes; itemsize check rejects them */
    if (*fmt == '@' || *fmt == '=') fmt++;
#if PY_LITTLE_ENDIAN
    else if (*fmt == '<') fmt++;
#else
    else if (*fmt == '>' || *fmt == '!') fmt++;
#endif
    return (strcmp(fmt, "Q") == 0 || strcmp(fmt, "L") == 0);
}

/* Acquire a (count, width) uint64 limb array. */
static int get_limbs(PyObject *obj, const char *what, int writable, limbbuf *b) {
    int flags = PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    b->held = 0;
    b->what = what;
    if (PyObject_GetBuffer(obj, &b->view, flags) < 0) {
        PyErr_Clear();
        TYPE_ERR("%s must be a %s 2-D uint64 array, got %.100s", what,
                 writable ? "writable" : "C-contiguous", Py_TYPE(obj)->tp_name);
        return -1;
    }
    b->held = 1;
    if (b->view.itemsize != 8 || !format_is_u64(b->view.format)) {
        TYPE_ERR("%s must have dtype uint64 (format %s)", what,
                 b->view.format ? b->view.format : "B");
        goto fail;
    }
    if (b->view.ndim != 2) {
        TYPE_ERR("%s must be 2-D (count, limbs), got %d-D", what, b->view.ndim);
        goto fail;
    }
    if (!PyBuffer_IsContiguous(&b->view, 'C')) {
        TYPE_ERR("%s must be C-contiguous", what);
        goto fail;
    }
    if (b->view.shape[1] < 1) {
        TYPE_ERR("%s must have at least one limb per integer", what);
        goto fail;
    }
    return 0;
fail:
    release(b);
    return -1;
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

/* A modulus given as a (1, w) limb row: returns its normalized limb count, or 0
 * with an exception set.  odd: reject even moduli. */
static size_t get_modulus(const limbbuf *b, const char *what, int odd) {
    fc_in m = as_in(b);
    size_t mn;
    if (m.count != 1) {
        TYPE_ERR("%s must be one limb row, got %zu rows", what, m.count);
        return 0;
    }
    mn = fc_norm(m.p, m.width);
    if (mn == 0 || (mn == 1 && m.p[0] <= 1)) {
        VALUE_ERR("%s must be greater than 1", what);
        return 0;
    }
    if (odd && !(m.p[0] & 1)) {
        VALUE_ERR("%s must be odd for this operation", what);
        return 0;
    }
    return mn;
}

static int check_below(const limbbuf *b, const uint64_t *m, size_t mn, const char *what) {
    fc_in a = as_in(b);
    ptrdiff_t bad = fc_first_not_below(&a, m, mn);
    if (bad >= 0) {
        VALUE_ERR("every %s must be below the modulus (row %zd is not)", what, bad);
        return -1;
    }
    return 0;
}

static int check_out(const limbbuf *out, size_t count, size_t width, const limbbuf **inputs,
                     int ninputs) {
    int i;
    if ((size_t)out->view.shape[0] != count || (size_t)out->view.shape[1] != width) {
        VALUE_ERR("output must have shape (%zu, %zu), got (%zd, %zd)", count, width,
                  out->view.shape[0], out->view.shape[1]);
        return -1;
    }
    for (i = 0; i < ninputs; i++) {
        if (overlaps(out, inputs[i])) {
            VALUE_ERR("output must not overlap %s", inputs[i]->what);
            return -1;
        }
    }
    return 0;
}

static int check_threads(int threads) {
    if (threads < 1) {
        VALUE_ERR("threads must be at least 1");
        return -1;
    }
    return 0;
}

/* Run a kernel call: with the GIL released when GMP's allocators are its
 * thread-safe defaults, otherwise (allocators installed by another extension
 * that may need the GIL) with the GIL held on the calling thread only.  The
 * result is the same either way. */
#define RUN_KERNEL(threads, stmt)              \
    do {                                       \
        if (fc_gmp_alloc_is_default()) {       \
            Py_BEGIN_ALLOW_THREADS stmt;       \
            Py_END_ALLOW_THREADS               \
        } else {                               \
            (threads) = 1;                     \
            stmt;                              \
        }                                      \
    } while (0)

/* ------------------------------------------------------------ entry points -- */

static PyObject *gmp_version_py(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    return PyUnicode_FromString(fc_gmp_version());
}

static PyObject *redc_selftest_py(PyObject *self, PyObject *args) {
    PyObject *om;
    Py_ssize_t rounds;
    unsigned long long seed;
    limbbuf m = {0};
    size_t mn;
    long bad;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnK:_redc_selftest", &om, &rounds, &seed)) return NULL;
    if (rounds < 0) {
        VALUE_ERR("rounds must be non-negative");
        return NULL;
    }
    if (get_limbs(om, "modulus", 0, &m)) return NULL;
    mn = get_modulus(&m, "modulus", 1);
    if (!mn) {
        release(&m);
        return NULL;
    }
    bad = fc_redc_selftest(as_in(&m).p, mn, (size_t)rounds, (uint64_t)seed);
    release(&m);
    if (bad == FC_ENOMEM) return PyErr_NoMemory();
    if (bad == -3) Py_RETURN_NONE; /* not applicable to this modulus */
    return PyLong_FromLong(bad);
}

static PyObject *gmp_default_alloc_py(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    return PyBool_FromLong(fc_gmp_alloc_is_default());
}

static PyObject *powmod_py(PyObject *self, PyObject *args) {
    PyObject *ob, *oe, *om, *oo;
    int secret, threads, rc;
    limbbuf b = {0}, e = {0}, m = {0}, out = {0};
    fc_in bi, ei;
    fc_out oi;
    size_t mn;
    PyObject *result = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOpi:powmod", &ob, &oe, &om, &oo, &secret, &threads)) return NULL;
    if (check_threads(threads) || get_limbs(ob, "bases", 0, &b) || get_limbs(oe, "exponents", 0, &e) ||
        get_limbs(om, "modulus", 0, &m) || get_limbs(oo, "output", 1, &out))
        goto done;
    if (!(mn = get_modulus(&m, "modulus", secret))) goto done;
    bi = as_in(&b);
    ei = as_in(&e);
    if (ei.count != bi.count && ei.count != 1) {
        VALUE_ERR("bases and exponents have different lengths (%zu and %zu)", bi.count, ei.count);
        goto done;
    }
    {
        const limbbuf *ins[] = {&b, &e, &m};
        if (check_below(&b, as_in(&m).p, mn, "base") ||
            check_out(&out, bi.count, fc_result_width(as_in(&m).p, mn), ins, 3))
            goto done;
    }
    oi = as_out(&out);
    {
        const uint64_t *mp = as_in(&m).p;
        RUN_KERNEL(threads,
                   rc = bi.count ? fc_powmod(&bi, &ei, mp, mn, secret, &oi, threads) : FC_OK);
    }
    if (raise_rc(rc)) goto done;
    result = Py_NewRef(Py_None);
done:
    release(&b);
    release(&e);
    release(&m);
    release(&out);
    return result;
}

static PyObject *mulmod_py(PyObject *self, PyObject *args) {
    PyObject *oa, *ob, *om, *oo;
    int threads, rc;
    limbbuf a = {0}, b = {0}, m = {0}, out = {0};
    fc_in ai, bi;
    fc_out oi;
    size_t mn;
    PyObject *result = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOi:mulmod", &oa, &ob, &om, &oo, &threads)) return NULL;
    if (check_threads(threads) || get_limbs(oa, "left operands", 0, &a) ||
        get_limbs(ob, "right operands", 0, &b) || get_limbs(om, "modulus", 0, &m) ||
        get_limbs(oo, "output", 1, &out))
        goto done;
    if (!(mn = get_modulus(&m, "modulus", 0))) goto done;
    ai = as_in(&a);
    bi = as_in(&b);
    if (bi.count != ai.count && bi.count != 1) {
        VALUE_ERR("left and right operands have different lengths (%zu and %zu)", ai.count, bi.count);
        goto done;
    }
    {
        const limbbuf *ins[] = {&a, &b, &m};
        const uint64_t *mp = as_in(&m).p;
        if (check_below(&a, mp, mn, "left operand") || check_below(&b, mp, mn, "right operand") ||
            check_out(&out, ai.count, fc_result_width(mp, mn), ins, 3))
            goto done;
    }
    oi = as_out(&out);
    {
        const uint64_t *mp = as_in(&m).p;
        RUN_KERNEL(threads, rc = ai.count ? fc_mulmod(&ai, &bi, mp, mn, &oi, threads) : FC_OK);
    }
    if (raise_rc(rc)) goto done;
    result = Py_NewRef(Py_None);
done:
    release(&a);
    release(&b);
    release(&m);
    release(&out);
    return result;
}

static PyObject *prodmod_py(PyObject *self, PyObject *args) {
    PyObject *oa, *om, *oo;
    int threads, rc;
    limbbuf a = {0}, m = {0}, out = {0};
    fc_in ai;
    fc_out oi;
    size_t mn;
    PyObject *result = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOi:prodmod", &oa, &om, &oo, &threads)) return NULL;
    if (check_threads(threads) || get_limbs(oa, "values", 0, &a) || get_limbs(om, "modulus", 0, &m) ||
        get_limbs(oo, "output", 1, &out))
        goto done;
    if (!(mn = get_modulus(&m, "modulus", 0))) goto done;
    ai = as_in(&a);
    {
        const limbbuf *ins[] = {&a, &m};
        const uint64_t *mp = as_in(&m).p;
        if (check_below(&a, mp, mn, "value") || check_out(&out, 1, fc_result_width(mp, mn), ins, 2))
            goto done;
    }
    oi = as_out(&out);
    {
        const uint64_t *mp = as_in(&m).p;
        RUN_KERNEL(threads, rc = fc_prodmod(&ai, mp, mn, &oi, threads));
    }
    if (raise_rc(rc)) goto done;
    result = Py_NewRef(Py_None);
done:
    release(&a);
    release(&m);
    release(&out);
    return result;
}

static PyObject *multi_powmod_py(PyObject *self, PyObject *args) {
    PyObject *ob, *oe, *om, *oo;
    int threads, rc;
    limbbuf b = {0}, e = {0}, m = {0}, out = {0};
    fc_in bi, ei;
    fc_out oi;
    size_t mn;
    PyObject *result = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOi:multi_powmod", &ob, &oe, &om, &oo, &threads)) return NULL;
    if (check_threads(threads) || get_limbs(ob, "bases", 0, &b) || get_limbs(oe, "exponents", 0, &e) ||
        get_limbs(om, "modulus", 0, &m) || get_limbs(oo, "output", 1, &out))
        goto done;
    if (!(mn = get_modulus(&m, "modulus", 0))) goto done;
    bi = as_in(&b);
    ei = as_in(&e);
    if (ei.count != bi.count) {
        VALUE_ERR("bases and exponents have different lengths (%zu and %zu)", bi.count, ei.count);
        goto done;
    }
    {
        const limbbuf *ins[] = {&b, &e, &m};
        const uint64_t *mp = as_in(&m).p;
        if (check_below(&b, mp, mn, "base") || check_out(&out, 1, fc_result_width(mp, mn), ins, 3))
            goto done;
    }
    oi = as_out(&out);
    {
        const uint64_t *mp = as_in(&m).p;
        RUN_KERNEL(threads, rc = fc_multi_powmod(&bi, &ei, mp, mn, &oi, threads));
    }
    if (raise_rc(rc)) goto done;
    result = Py_NewRef(Py_None);
done:
    release(&b);
    release(&e);
    release(&m);
    release(&out);
    return result;
}

static PyObject *crt_py(PyObject *self, PyObject *args) {
    PyObject *orp, *orq, *op, *oq, *oqi, *oo;
    int threads, rc;
    limbbuf rp = {0}, rq = {0}, p = {0}, q = {0}, qi = {0}, out = {0};
    fc_in rpi, rqi, pi, qq, qii;
    fc_out oi;
    size_t pn, qn, qin;
    PyObject *result = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOOi:crt", &orp, &orq, &op, &oq, &oqi, &oo, &threads)) return NULL;
    if (check_threads(threads) || get_limbs(orp, "residues mod p", 0, &rp) ||
        get_limbs(orq, "residues mod q", 0, &rq) || get_limbs(op, "p", 0, &p) ||
        get_limbs(oq, "q", 0, &q) || get_limbs(oqi, "q^-1 mod p", 0, &qi) ||
        get_limbs(oo, "output", 1, &out))
        goto done;
    if (!(pn = get_modulus(&p, "p", 0)) || !(qn = get_modulus(&q, "q", 0))) goto done;
    rpi = as_in(&rp);
    rqi = as_in(&rq);
    pi = as_in(&p);
    qq = as_in(&q);
    qii = as_in(&qi);
    if (rpi.count != rqi.count) {
        VALUE_ERR("residues mod p and residues mod q have different lengths (%zu and %zu)", rpi.count,
                  rqi.count);
        goto done;
    }
    if (qii.count != 1) {
        TYPE_ERR("q^-1 mod p must be one limb row");
        goto done;
    }
    qin = fc_norm(qii.p, qii.width);
    if (qin == 0 || !(qin < pn || (qin == pn && fc_first_not_below(&qii, pi.p, pn) < 0))) {
        VALUE_ERR("q^-1 mod p must be in [1, p)");
        goto done;
    }
    {
        const limbbuf *ins[] = {&rp, &rq, &p, &q, &qi};
        /* The kernel reports a result wider than the output rows (FC_ERANGE). */
        size_t ow = (size_t)out.view.shape[1];
        if (check_below(&rp, pi.p, pn, "residue mod p") || check_below(&rq, qq.p, qn, "residue mod q"))
            goto done;
        if (check_out(&out, rpi.count, ow, ins, 5)) goto done;
    }
    oi = as_out(&out);
    RUN_KERNEL(threads,
               rc = rpi.count ? fc_crt(&rpi, &rqi, pi.p, pn, qq.p, qn, qii.p, qin, &oi, threads)
                              : FC_OK);
    if (raise_rc(rc)) goto done;
    result = Py_NewRef(Py_None);
done:
    release(&rp);
    release(&rq);
    release(&p);
    release(&q);
    release(&qi);
    release(&out);
    return result;
}

/* ------------------------------------------------------------- FixedBase -- */

typedef struct {
    PyObject_HEAD
    fc_fixed_base *fb;
    size_t max_exp_bits;
    size_t mn;
    size_t out_width;
} FixedBaseObject;

static PyObject *fixedbase_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    PyObject *obase, *om;
    Py_ssize_t max_exp_bits;
    int window, threads, secret = 0;
    limbbuf b = {0}, m = {0};
    size_t mn;
    fc_fixed_base *fb = NULL;
    FixedBaseObject *self = NULL;
    static char *kwlist[] = {"base", "mod", "max_exp_bits", "window", "threads", "secret", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOnii|p:FixedBase", kwlist, &obase, &om,
                                     &max_exp_bits, &window, &threads, &secret))
        return NULL;
    if (check_threads(threads) || get_limbs(obase, "base", 0, &b) || get_limbs(om, "modulus", 0, &m))
        goto done;
    if (max_exp_bits < 1 || max_exp_bits > (1 << 16)) {
        VALUE_ERR("max_exp_bits must be between 1 and 65536");
        goto done;
    }
    if (window < 0 || window > 16) {
        VALUE_ERR("window must be between 0 (automatic) and 16 bits");
        goto done;
    }
    if (!(mn = get_modulus(&m, "modulus", secret))) goto done;
    if (as_in(&b).count != 1) {
        TYPE_ERR("base must be one limb row");
        goto done;
    }
    if (check_below(&b, as_in(&m).p, mn, "base")) goto done;
    {
        fc_in bi = as_in(&b), mi = as_in(&m);
        RUN_KERNEL(threads, fb = fc_fb_new(bi.p, bi.width, mi.p, mn, (size_t)max_exp_bits,
                                           (unsigned)window, secret, threads));
    }
    if (!fb) {
        PyErr_NoMemory();
        goto done;
    }
    self = (FixedBaseObject *)type->tp_alloc(type, 0);
    if (!self) {
        fc_fb_free(fb);
        goto done;
    }
    self->fb = fb;
    self->max_exp_bits = (size_t)max_exp_bits;
    self->mn = mn;
    self->out_width = fc_result_width(as_in(&m).p, mn);
done:
    release(&b);
    release(&m);
    return (PyObject *)self;
}

static void fixedbase_dealloc(FixedBaseObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    fc_fb_free(self->fb);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *fixedbase_pow(FixedBaseObject *self, PyObject *args) {
    PyObject *oe, *oo;
    int threads, rc;
    limbbuf e = {0}, out = {0};
    fc_in ei;
    fc_out oi;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "OOi:pow", &oe, &oo, &threads)) return NULL;
    if (check_threads(threads) || get_limbs(oe, "exponents", 0, &e) || get_limbs(oo, "output", 1, &out))
        goto done;
    ei = as_in(&e);
    if (fc_fb_secret(self->fb) ? !fc_rows_fit_bits(&ei, self->max_exp_bits)
                               : fc_max_bitlen(&ei) > self->max_exp_bits) {
        VALUE_ERR("exponent wider than the table's %zu bits", self->max_exp_bits);
        goto done;
    }
    {
        const limbbuf *ins[] = {&e};
        if (check_out(&out, ei.count, self->out_width, ins, 1)) goto done;
    }
    oi = as_out(&out);
    RUN_KERNEL(threads, rc = ei.count ? fc_fb_pow(self->fb, &ei, &oi, threads) : FC_OK);
    if (raise_rc(rc)) goto done;
    result = Py_NewRef(Py_None);
done:
    release(&e);
    release(&out);
    return result;
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
    {"pow", (PyCFunction)fixedbase_pow, METH_VARARGS,
     "pow(exps, out, threads): out[i] = base ** exps[i] mod m."},
    {"__reduce__", fixedbase_reduce, METH_NOARGS, "Refuse pickling."},
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
    {Py_tp_doc, "FixedBase(base, mod, max_exp_bits, window, threads, secret=False): immutable table "
                "of powers of one base (limb rows), shareable between threads; secret: constant-time "
                "pow for secret exponents (odd modulus)."},
    {0, NULL},
};

static PyType_Spec fixedbase_spec = {
    "fedcrypto._native.FixedBase",
    sizeof(FixedBaseObject),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    fixedbase_slots,
};

/* curve25519_h2c_u(uniform, threads) -> bytes: RFC 9380 curve25519_XMD:SHA-512_ELL2_RO_
 * after expand_message_xmd (h2c25519.c).  `uniform` is any C-contiguous buffer of
 * count * 96 bytes; the result is count * 32 bytes.  The kernel uses no GMP, so
 * the GIL is always released. */
static PyObject *curve25519_h2c_u_py(PyObject *self, PyObject *args) {
    PyObject *ou, *result = NULL;
    int threads;
    Py_buffer view;
    size_t count;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oi:curve25519_h2c_u", &ou, &threads)) return NULL;
    if (check_threads(threads)) return NULL;
    if (PyObject_GetBuffer(ou, &view, PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Clear();
        TYPE_ERR("uniform bytes must be a C-contiguous bytes-like object, got %.100s",
                 Py_TYPE(ou)->tp_name);
        return NULL;
    }
    if (view.len % FC_H2C25519_IN != 0) {
        VALUE_ERR("uniform bytes must be a multiple of %d bytes (2 x 48 per message), got %zd",
                  FC_H2C25519_IN, view.len);
        goto done;
    }
    count = (size_t)view.len / FC_H2C25519_IN;
    if (count > (size_t)PY_SSIZE_T_MAX / FC_H2C25519_OUT) {
        VALUE_ERR("too many messages");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(count * FC_H2C25519_OUT));
    if (!result) goto done;
    if (count) {
        const uint8_t *in = (const uint8_t *)view.buf;
        uint8_t *o = (uint8_t *)PyBytes_AS_STRING(result);
        int rc;
        Py_BEGIN_ALLOW_THREADS rc = fc_h2c25519_u(in, count, o, threads);
        Py_END_ALLOW_THREADS
        if (rc != 0) {
            Py_CLEAR(result);
            PyErr_NoMemory();
        }
    }
done:
    PyBuffer_Release(&view);
    return result;
}

/* ----------------------------------------------------------------- module -- */

static PyMethodDef methods[] = {
    {"gmp_version", gmp_version_py, METH_NOARGS, "Version of the GMP library linked in."},
    {"_redc_selftest", redc_selftest_py, METH_VARARGS,
     "_redc_selftest(mod, rounds, seed): mismatches between the two Montgomery reductions "
     "(None: the wrap-around one does not apply to this modulus).  Test hook."},
    {"gmp_default_allocators", gmp_default_alloc_py, METH_NOARGS,
     "True when libgmp uses its own allocators (batches then run without the GIL, threaded)."},
    {"powmod", powmod_py, METH_VARARGS,
     "powmod(bases, exps, mod, out, secret, threads): out[i] = bases[i] ** exps[i or 0] mod m."},
    {"mulmod", mulmod_py, METH_VARARGS,
     "mulmod(a, b, mod, out, threads): out[i] = a[i] * b[i or 0] mod m."},
    {"prodmod", prodmod_py, METH_VARARGS, "prodmod(values, mod, out, threads): out[0] = prod values mod m."},
    {"multi_powmod", multi_powmod_py, METH_VARARGS,
     "multi_powmod(bases, exps, mod, out, threads): out[0] = prod bases[i] ** exps[i] mod m."},
    {"crt", crt_py, METH_VARARGS,
     "crt(rp, rq, p, q, qinv, out, threads): out[i] = rq[i] + q * ((rp[i] - rq[i]) * qinv mod p)."},
    {"curve25519_h2c_u", curve25519_h2c_u_py, METH_VARARGS,
     "curve25519_h2c_u(uniform, threads): RFC 9380 curve25519_XMD:SHA-512_ELL2_RO_ u-coordinates "
     "(32 bytes little-endian each) from expand_message_xmd outputs (96 bytes each)."},
    {NULL, NULL, 0, NULL},
};

static int module_exec(PyObject *module) {
    PyObject *type = PyType_FromModuleAndSpec(module, &fixedbase_spec, NULL);
    if (!type) return -1;
    if (PyModule_AddObject(module, "FixedBase", type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_native", "fedcrypto native GMP kernel", 0, methods, module_slots,
    NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModuleDef_Init(&moduledef); }
