/*
 * Constant-time batch modular exponentiation (secret exponents).
 *
 * Why OpenSSL: measured in one C harness (benchmarks/native/ct_powmod_choice.c,
 * 2048-bit modulus, 1024-bit exponent), OpenSSL 3.0's BN_mod_exp_mont_consttime
 * ran 1.42x faster than GMP's mpz_powm_sec, while our own fixed-window loop over
 * GMP's side-channel-silent mpn_sec_mul/mpn_sec_sqr and a branch-free REDC ran at
 * 0.96x (GMP's constant-time products are schoolbook C loops; OpenSSL's are
 * mulx/adx assembly with a fused 5-squaring kernel).  docs/native-kernel.md has the
 * figures.
 *
 * OpenSSL processes 64 * (limbs of the exponent, leading zero limbs dropped) bits:
 * its time depends on the position of the exponent's top non-zero limb.  The kernel
 * keeps the contract of the secret path, "time depends on the exponent ROW width",
 * by using OpenSSL only when every row of the batch has a non-zero top limb (checked
 * without early exit); otherwise the whole batch runs mpn_sec_powm over the full
 * row width.  The only value-dependent bit is therefore that per-batch choice, and
 * fedcrypto's own callers (CRT halves, RSA signing, DH) pass normalized rows, for
 * which it is always "OpenSSL".
 */
#include "ct_powmod.h"

#include <gmp.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"

#ifdef FC_HAVE_OPENSSL
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#endif

/* Slices as in kernels.c: one thread for cheap batches. */
static size_t ct_parts(size_t count, int threads, double work) {
    size_t parts = threads < 1 ? 1 : (size_t)threads;
    if (parts > 256) parts = 256;
    if (parts > count) parts = count;
    if (parts < 1) parts = 1;
    if (work < 150000.0) parts = 1;
    return parts;
}

static int store_row(uint64_t *dst, size_t ow, const uint64_t *src, size_t n) {
    size_t sn = fc_norm(src, n);
    if (sn > ow) return FC_ERANGE;
    memcpy(dst, src, sn * sizeof(uint64_t));
    if (sn < ow) memset(dst + sn, 0, (ow - sn) * sizeof(uint64_t));
    return FC_OK;
}

typedef struct {
    const fc_in *b, *e;
    const uint64_t *m;
    size_t mn;
    const fc_out *out;
#ifdef FC_HAVE_OPENSSL
    const BIGNUM *bm;
    const BN_MONT_CTX *mont;
#endif
    int secret; /* OpenSSL path: constant time (else its sliding-window exponentiation) */
    int err;
} ct_ctx;

static void set_err(int *slot, int code) { __atomic_store_n(slot, code, __ATOMIC_RELAXED); }

static void gmp_task(void *vc, size_t part, size_t begin, size_t end) {
    ct_ctx *c = (ct_ctx *)vc;
    size_t i, n = c->mn, ew = c->e->width;
    int shared = c->e->count == 1;
    mp_bitcnt_t enb = (mp_bitcnt_t)ew * 64; /* the row width, not the value's length */
    mp_size_t itch;
    mp_limb_t *tp, *bp, *rp;
    (void)part;
    if (begin >= end) return;
    itch = mpn_sec_powm_itch((mp_size_t)n, enb, (mp_size_t)n);
    tp = (mp_limb_t *)malloc(((size_t)itch + 2 * n) * sizeof(mp_limb_t));
    if (!tp) {
        set_err(&c->err, FC_ENOMEM);
        return;
    }
    bp = tp + itch;
    rp = bp + n;
    for (i = begin; i < end; i++) {
        const uint64_t *ep = c->e->p + (shared ? 0 : i) * ew;
        const uint64_t *row = c->b->p + i * c->b->width;
        size_t w = c->b->width < n ? c->b->width : n;
        int rc;
        memcpy(bp, row, w * sizeof(mp_limb_t));
        if (w < n) memset(bp + w, 0, (n - w) * sizeof(mp_limb_t));
        mpn_sec_powm(rp, bp, (mp_size_t)n, (mp_srcptr)ep, enb, (mp_srcptr)c->m, (mp_size_t)n, tp);
        rc = store_row(c->out->p + i * c->out->width, c->out->width, (const uint64_t *)rp, n);
        if (rc) set_err(&c->err, rc);
    }
    free(tp);
}

int fc_gmp_sec_powmod(const fc_in *bases, const fc_in *exps, const uint64_t *m, size_t mn,
                      const fc_out *out, int threads) {
    ct_ctx c;
    double work = (double)bases->count * (double)mn * (double)mn * (double)(exps->width * 64);
    memset(&c, 0, sizeof c);
    c.b = bases;
    c.e = exps;
    c.m = m;
    c.mn = mn;
    c.out = out;
    fc_run_parallel(bases->count, ct_parts(bases->count, threads, work), gmp_task, &c);
    return c.err;
}

#ifdef FC_HAVE_OPENSSL

const char *fc_openssl_version(void) { return OpenSSL_version(OPENSSL_VERSION); }

/* Limbs <-> little-endian bytes, portable (a no-op copy on little-endian machines). */
static void limbs_to_le(unsigned char *dst, const uint64_t *src, size_t n) {
    size_t i, j;
    for (i = 0; i < n; i++)
        for (j = 0; j < 8; j++) dst[8 * i + j] = (unsigned char)(src[i] >> (8 * j));
}

static void le_to_limbs(uint64_t *dst, const unsigned char *src, size_t n) {
    size_t i, j;
    for (i = 0; i < n; i++) {
        uint64_t v = 0;
        for (j = 0; j < 8; j++) v |= (uint64_t)src[8 * i + j] << (8 * j);
        dst[i] = v;
    }
}

static void ossl_task(void *vc, size_t part, size_t begin, size_t end) {
    ct_ctx *c = (ct_ctx *)vc;
    size_t i, n = c->mn, ew = c->e->width, bw = c->b->width;
    int shared = c->e->count == 1;
    size_t nbytes = 8 * (ew > n ? (ew > bw ? ew : bw) : (n > bw ? n : bw));
    BN_CTX *ctx;
    BIGNUM *b, *e, *r;
    unsigned char *buf;
    uint64_t *limbs;
    (void)part;
    if (begin >= end) return;
    ctx = BN_CTX_new();
    b = BN_new();
    e = BN_new();
    r = BN_new();
    buf = (unsigned char *)malloc(nbytes);
    limbs = (uint64_t *)malloc(n * sizeof(uint64_t));
    if (!ctx || !b || !e || !r || !buf || !limbs) {
        set_err(&c->err, FC_ENOMEM);
        goto done;
    }
    /* Marks every exponentiation operand secret (OpenSSL then never takes a
     * variable-time path). */
    if (c->secret) {
        BN_set_flags(e, BN_FLG_CONSTTIME);
        BN_set_flags(b, BN_FLG_CONSTTIME);
    }
    for (i = begin; i < end; i++) {
        const uint64_t *ep = c->e->p + (shared ? 0 : i) * ew;
        int rc;
        limbs_to_le(buf, c->b->p + i * bw, bw);
        if (!BN_lebin2bn(buf, (int)(8 * bw), b)) goto oom;
        if (!shared || i == begin) {
            limbs_to_le(buf, ep, ew);
            if (!BN_lebin2bn(buf, (int)(8 * ew), e)) goto oom;
        }
        if (c->secret ? !BN_mod_exp_mont_consttime(r, b, e, c->bm, ctx, (BN_MONT_CTX *)c->mont)
                      : !BN_mod_exp_mont(r, b, e, c->bm, ctx, (BN_MONT_CTX *)c->mont))
            goto oom;
        if (BN_bn2lebinpad(r, buf, (int)(8 * n)) < 0) goto oom;
        le_to_limbs(limbs, buf, n);
        rc = store_row(c->out->p + i * c->out->width, c->out->width, limbs, n);
        if (rc) set_err(&c->err, rc);
    }
    goto done;
oom:
    ERR_clear_error();
    set_err(&c->err, FC_ENOMEM);
done:
    if (buf) OPENSSL_cleanse(buf, nbytes);
    free(buf);
    free(limbs);
    BN_clear_free(e);
    BN_free(b);
    BN_free(r);
    BN_CTX_free(ctx);
}

/* 1 when every exponent row has a non-zero top limb; no early exit. */
static int rows_full_width(const fc_in *e) {
    uint64_t missing = 0;
    size_t i;
    for (i = 0; i < e->count; i++) {
        uint64_t top = e->p[i * e->width + e->width - 1];
        missing |= ((top | (0 - top)) >> 63) ^ 1; /* 1 iff top == 0 */
    }
    return missing == 0;
}

/* The batch through OpenSSL: constant time (secret) or its sliding window. */
static int ossl_powmod(const fc_in *bases, const fc_in *exps, const uint64_t *m, size_t mn,
                       int secret, const fc_out *out, int threads) {
    ct_ctx c;
    BN_CTX *ctx = NULL;
    BIGNUM *bm = NULL;
    BN_MONT_CTX *mont = NULL;
    unsigned char *buf = NULL;
    double work = (double)bases->count * (double)mn * (double)mn * (double)(exps->width * 64);
    memset(&c, 0, sizeof c);
    c.secret = secret;
    c.b = bases;
    c.e = exps;
    c.m = m;
    c.mn = mn;
    c.out = out;
    ctx = BN_CTX_new();
    bm = BN_new();
    mont = BN_MONT_CTX_new();
    buf = (unsigned char *)malloc(8 * mn);
    if (!ctx || !bm || !mont || !buf) goto oom;
    limbs_to_le(buf, m, mn);
    if (!BN_lebin2bn(buf, (int)(8 * mn), bm) || !BN_MONT_CTX_set(mont, bm, ctx)) goto oom;
    c.bm = bm;
    c.mont = mont;
    fc_run_parallel(bases->count, ct_parts(bases->count, threads, work), ossl_task, &c);
    goto done;
oom:
    ERR_clear_error();
    c.err = FC_ENOMEM;
done:
    free(buf);
    BN_MONT_CTX_free(mont);
    BN_free(bm);
    BN_CTX_free(ctx);
    return c.err;
}

int fc_ct_powmod(const fc_in *bases, const fc_in *exps, const uint64_t *m, size_t mn,
                 const fc_out *out, int threads) {
    if (exps->width == 0 || !rows_full_width(exps))
        return fc_gmp_sec_powmod(bases, exps, m, mn, out, threads);
    return ossl_powmod(bases, exps, m, mn, 1, out, threads);
}

int fc_vt_powmod_applies(const uint64_t *m, size_t mn) {
    return (m[0] & 1) && mn >= FC_VT_OSSL_MIN_LIMBS && mn <= FC_VT_OSSL_MAX_LIMBS;
}

int fc_vt_powmod(const fc_in *bases, const fc_in *exps, const uint64_t *m, size_t mn,
                 const fc_out *out, int threads) {
    return ossl_powmod(bases, exps, m, mn, 0, out, threads);
}

#else /* !FC_HAVE_OPENSSL */

int fc_vt_powmod_applies(const uint64_t *m, size_t mn) {
    (void)m;
    (void)mn;
    return 0;
}

int fc_vt_powmod(const fc_in *bases, const fc_in *exps, const uint64_t *m, size_t mn,
                 const fc_out *out, int threads) {
    (void)bases, (void)exps, (void)m, (void)mn, (void)out, (void)threads;
    return FC_NOT_APPLICABLE;
}

const char *fc_openssl_version(void) { return NULL; }

int fc_ct_powmod(const fc_in *bases, const fc_in *exps, const uint64_t *m, size_t mn,
                 const fc_out *out, int threads) {
    return fc_gmp_sec_powmod(bases, exps, m, mn, out, threads);
}

#endif
