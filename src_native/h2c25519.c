/*
 * RFC 9380 curve25519_XMD:SHA-512_ELL2_RO_ hash_to_curve (u-coordinate), written
 * from RFC 9380 (sections 5.2, 6.7.1, appendix G.2.1, 8.5) and RFC 7748.
 *
 * Field GF(p), p = 2^255 - 19: elements are five unsigned limbs of (nominally)
 * 51 bits, value = sum v[i] 2^(51 i); limbs may exceed 51 bits by a few bits
 * between carries and the value need not be reduced below p.  Products use
 * unsigned __int128 and fold 2^255 = 19.  Comparisons, parity and the output
 * go through the canonical 256-bit form (fe_canon).
 *
 * Per message: two Elligator 2 maps (one exponentiation to (p - 5) / 8 each,
 * the straight-line square-root trick of appendix G.2.1, with branches instead
 * of CMOVs: this hashes public identifiers), one affine Montgomery addition
 * done projectively in x (X : Z), three x-only doublings (cofactor 8), and one
 * inversion per block of messages (Montgomery's batch-inversion trick).
 */
#include "h2c25519.h"
#include "parallel.h"

#include <stdlib.h>
#include <string.h>

#include "fe25519.h"

/* z^((p - 5) / 8) = z^(2^252 - 3) = (z^(2^250 - 1))^4 * z. */
static void fe_pow_p58(fe *out, const fe *z) {
    fe t, z11;
    fe_pow_2_250_1(&t, &z11, z);
    fe_sqn(&t, &t, 2);
    fe_mul(out, &t, z);
}

/* Two independent z^((p - 5) / 8) in lockstep: the squaring chains are latency bound,
 * so interleaving two of them lets the CPU overlap their multiplications. */
static inline void fe_sq2(fe *ha, fe *hb, const fe *fa, const fe *fb) {
    fe_sq(ha, fa);
    fe_sq(hb, fb);
}

static inline void fe_mul2(fe *ha, fe *hb, const fe *fa, const fe *fb, const fe *ga,
                           const fe *gb) {
    fe_mul(ha, fa, ga);
    fe_mul(hb, fb, gb);
}

static void fe_sqn2(fe *ha, fe *hb, const fe *fa, const fe *fb, int n) {
    int i;
    fe_sq2(ha, hb, fa, fb);
    for (i = 1; i < n; i++) fe_sq2(ha, hb, ha, hb);
}

static void fe_pow_p58_2(fe *oa, fe *ob, const fe *za, const fe *zb) {
    fe a2, b2, a9, b9, ta, tb, a5, b5, a10, b10, a20, b20, a50, b50, a100, b100;
    fe_sq2(&a2, &b2, za, zb);
    fe_sqn2(&ta, &tb, &a2, &b2, 2);
    fe_mul2(&a9, &b9, &ta, &tb, za, zb);
    fe_mul2(&ta, &tb, &a9, &b9, &a2, &b2);      /* 11 */
    fe_sq2(&ta, &tb, &ta, &tb);                 /* 22 */
    fe_mul2(&a5, &b5, &ta, &tb, &a9, &b9);      /* 2^5 - 1 */
    fe_sqn2(&ta, &tb, &a5, &b5, 5);
    fe_mul2(&a10, &b10, &ta, &tb, &a5, &b5);    /* 2^10 - 1 */
    fe_sqn2(&ta, &tb, &a10, &b10, 10);
    fe_mul2(&a20, &b20, &ta, &tb, &a10, &b10);  /* 2^20 - 1 */
    fe_sqn2(&ta, &tb, &a20, &b20, 20);
    fe_mul2(&ta, &tb, &ta, &tb, &a20, &b20);    /* 2^40 - 1 */
    fe_sqn2(&ta, &tb, &ta, &tb, 10);
    fe_mul2(&a50, &b50, &ta, &tb, &a10, &b10);  /* 2^50 - 1 */
    fe_sqn2(&ta, &tb, &a50, &b50, 50);
    fe_mul2(&a100, &b100, &ta, &tb, &a50, &b50); /* 2^100 - 1 */
    fe_sqn2(&ta, &tb, &a100, &b100, 100);
    fe_mul2(&ta, &tb, &ta, &tb, &a100, &b100);  /* 2^200 - 1 */
    fe_sqn2(&ta, &tb, &ta, &tb, 50);
    fe_mul2(&ta, &tb, &ta, &tb, &a50, &b50);    /* 2^250 - 1 */
    fe_sqn2(&ta, &tb, &ta, &tb, 2);             /* 2^252 - 4 */
    fe_mul2(oa, ob, &ta, &tb, za, zb);          /* 2^252 - 3 */
}

/* The canonical value (below p) as four 64-bit limbs, least significant first. */
static void fe_canon(uint64_t r[4], const fe *f) {
    fe h = *f;
    u128 acc;
    uint64_t top;
    int k;
    fe_carry(&h);
    fe_carry(&h); /* limbs below 2^51 + 19, value below 2^256 */
    acc = (u128)h.v[0] + ((u128)h.v[1] << 51);
    r[0] = (uint64_t)acc;
    acc >>= 64;
    acc += (u128)h.v[2] << 38;
    r[1] = (uint64_t)acc;
    acc >>= 64;
    acc += (u128)h.v[3] << 25;
    r[2] = (uint64_t)acc;
    acc >>= 64;
    acc += (u128)h.v[4] << 12;
    r[3] = (uint64_t)acc;
    /* acc >> 64 is zero: the value is below 2^256. */
    for (k = 0; k < 2; k++) { /* fold bit 255: value < 2^255 afterwards */
        top = r[3] >> 63;
        r[3] &= (uint64_t)0x7FFFFFFFFFFFFFFF;
        acc = (u128)r[0] + 19 * top;
        r[0] = (uint64_t)acc;
        acc = (acc >> 64) + r[1];
        r[1] = (uint64_t)acc;
        acc = (acc >> 64) + r[2];
        r[2] = (uint64_t)acc;
        acc = (acc >> 64) + r[3];
        r[3] = (uint64_t)acc;
    }
    /* value < 2^255: subtract p once if value + 19 >= 2^255 */
    {
        uint64_t s[4];
        acc = (u128)r[0] + 19;
        s[0] = (uint64_t)acc;
        acc = (acc >> 64) + r[1];
        s[1] = (uint64_t)acc;
        acc = (acc >> 64) + r[2];
        s[2] = (uint64_t)acc;
        acc = (acc >> 64) + r[3];
        s[3] = (uint64_t)acc;
        if (s[3] >> 63) {
            r[0] = s[0];
            r[1] = s[1];
            r[2] = s[2];
            r[3] = s[3] & (uint64_t)0x7FFFFFFFFFFFFFFF;
        }
    }
}

/* From four 64-bit limbs (any value below 2^256). */
static void fe_from_u64(fe *h, const uint64_t r[4]) {
    h->v[0] = r[0] & MASK51;
    h->v[1] = ((r[0] >> 51) | (r[1] << 13)) & MASK51;
    h->v[2] = ((r[1] >> 38) | (r[2] << 26)) & MASK51;
    h->v[3] = ((r[2] >> 25) | (r[3] << 39)) & MASK51;
    h->v[4] = r[3] >> 12; /* below 2^52 */
}

static int fe_eq(const fe *f, const fe *g) {
    uint64_t a[4], b[4];
    fe_canon(a, f);
    fe_canon(b, g);
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

static int fe_is_zero(const fe *f) {
    uint64_t a[4];
    fe_canon(a, f);
    return (a[0] | a[1] | a[2] | a[3]) == 0;
}

static int fe_is_odd(const fe *f) { /* sgn0 for m = 1 */
    uint64_t a[4];
    fe_canon(a, f);
    return (int)(a[0] & 1);
}

static uint64_t load_be64(const uint8_t *p) {
    uint64_t x = 0;
    int i;
    for (i = 0; i < 8; i++) x = (x << 8) | p[i];
    return x;
}

/* hash_to_field for one element: a 48-byte big-endian integer x, reduced mod p.
 * x = a + 2^255 b with a < 2^255, b < 2^129, and 2^255 = 19 mod p, so
 * x = a + 19 b mod p, and a + 19 b < 2^256. */
static void fe_from_be48(fe *h, const uint8_t *s) {
    uint64_t w[6], b[3], r[4];
    u128 acc;
    int i;
    for (i = 0; i < 6; i++) w[i] = load_be64(s + 8 * (5 - i)); /* w[0] least significant */
    b[0] = (w[3] >> 63) | (w[4] << 1);
    b[1] = (w[4] >> 63) | (w[5] << 1);
    b[2] = w[5] >> 63;
    w[3] &= (uint64_t)0x7FFFFFFFFFFFFFFF;
    acc = (u128)b[0] * 19 + w[0];
    r[0] = (uint64_t)acc;
    acc = (acc >> 64) + (u128)b[1] * 19 + w[1];
    r[1] = (uint64_t)acc;
    acc = (acc >> 64) + (u128)b[2] * 19 + w[2];
    r[2] = (uint64_t)acc;
    acc = (acc >> 64) + w[3];
    r[3] = (uint64_t)acc;
    fe_from_u64(h, r);
}

/* ------------------------------------------------------------- the curve -- */

#define J25 486662
#define A24 121666 /* (J + 2) / 4 */

typedef struct {
    fe c2; /* 2^((p + 3) / 8) */
    fe c3; /* sqrt(-1) = 2^((p - 1) / 4) */
} consts;

static void consts_init(consts *k) {
    fe two, t;
    fe_set_small(&two, 2);
    fe_pow_p58(&t, &two);          /* 2^(2^252 - 3) */
    fe_mul_small(&k->c2, &t, 2);   /* 2^(2^252 - 2) = 2^((p + 3) / 8) */
    fe_sq(&t, &t);                 /* 2^(2^253 - 6) */
    fe_mul_small(&k->c3, &t, 2);   /* 2^(2^253 - 5) = 2^((p - 1) / 4) */
}

/* Elligator 2 (RFC 9380 section 6.7.1 via appendix G.2.1), in two halves around
 * the one exponentiation so that two maps can share a two-lane chain. */
typedef struct {
    fe u, tv1, x1n, xd, gxd, gx1, tv3, w; /* w = gx1 gxd^7, raised to (p - 5) / 8 */
} ell2;

static void ell2_prepare(ell2 *m, const fe *u) {
    fe tv2, one;
    m->u = *u;
    fe_set_small(&one, 1);
    fe_sq(&m->tv1, u);
    fe_add(&m->tv1, &m->tv1, &m->tv1);         /* 2 u^2 */
    fe_add(&m->xd, &m->tv1, &one);             /* 1 + 2 u^2, never 0: -1/2 is not a square */
    fe_set_small(&tv2, J25);
    fe_neg(&m->x1n, &tv2);                     /* x1 = -J / xd */
    fe_sq(&tv2, &m->xd);
    fe_mul(&m->gxd, &tv2, &m->xd);             /* xd^3 */
    fe_mul_small(&m->gx1, &m->tv1, J25);       /* J * 2u^2 = x1n + J xd */
    fe_mul(&m->gx1, &m->gx1, &m->x1n);
    fe_add(&m->gx1, &m->gx1, &tv2);
    fe_mul(&m->gx1, &m->gx1, &m->x1n);         /* g(x1) = gx1 / gxd */
    fe_sq(&m->tv3, &m->gxd);
    fe_sq(&tv2, &m->tv3);                      /* gxd^4 */
    fe_mul(&m->tv3, &m->tv3, &m->gxd);         /* gxd^3 */
    fe_mul(&m->tv3, &m->tv3, &m->gx1);         /* gx1 gxd^3 */
    fe_mul(&m->w, &tv2, &m->tv3);              /* gx1 gxd^7 */
}

/* After m->w has been raised to (p - 5) / 8 (passed as wp): the point (xn / xd, y). */
static void ell2_finish(fe *xn, fe *xd, fe *y, const ell2 *m, const fe *wp, const consts *k) {
    fe y11, tv2, tv3, gx2, y21;
    *xd = m->xd;
    fe_mul(&y11, wp, &m->tv3);                 /* y11^2 gxd = gx1 * (fourth root of unity) */
    fe_sq(&tv2, &y11);
    fe_mul(&tv2, &tv2, &m->gxd);
    if (fe_eq(&tv2, &m->gx1)) {                /* g(x1) square, y = y11 */
        *xn = m->x1n;
        *y = y11;
        if (!fe_is_odd(y)) fe_neg(y, y);
        return;
    }
    fe_neg(&tv3, &m->gx1);
    if (fe_eq(&tv2, &tv3)) {                   /* g(x1) square, y = y11 sqrt(-1) */
        *xn = m->x1n;
        fe_mul(y, &y11, &k->c3);
        if (!fe_is_odd(y)) fe_neg(y, y);
        return;
    }
    /* g(x1) is not a square: x2 = 2 u^2 x1, g(x2) = 2 u^2 g(x1) */
    fe_mul(xn, &m->x1n, &m->tv1);
    fe_mul(&y21, &y11, &m->u);
    fe_mul(&y21, &y21, &k->c2);
    fe_mul(&gx2, &m->gx1, &m->tv1);
    fe_sq(&tv2, &y21);
    fe_mul(&tv2, &tv2, &m->gxd);
    if (fe_eq(&tv2, &gx2))
        *y = y21;
    else
        fe_mul(y, &y21, &k->c3);
    if (fe_is_odd(y)) fe_neg(y, y);
}

/* x-only doubling (RFC 7748 ladder formulas): (X : Z) -> u(2P). */
static void xdbl(fe *X, fe *Z) {
    fe s, d, e, t;
    fe_add(&t, X, Z);
    fe_sq(&s, &t);
    fe_sub(&t, X, Z);
    fe_sq(&d, &t);
    fe_sub(&e, &s, &d);
    fe_mul(X, &s, &d);
    fe_mul_small(&t, &e, A24);
    fe_add(&t, &t, &d);
    fe_mul(Z, &e, &t);
}

/* (X : Z) of 8 * (map(u0) + map(u1)); Z = 0 for the point at infinity. */
static void hash_one(fe *X, fe *Z, const uint8_t *uniform, const consts *k) {
    fe u0, u1, n1, d1, y1, n2, d2, y2, D, t, dy, d12, s;
    int i, dbl = 3;
    ell2 m0, m1;
    fe w0, w1;
    fe_from_be48(&u0, uniform);
    fe_from_be48(&u1, uniform + 48);
    ell2_prepare(&m0, &u0);
    ell2_prepare(&m1, &u1);
    fe_pow_p58_2(&w0, &w1, &m0.w, &m1.w);
    ell2_finish(&n1, &d1, &y1, &m0, &w0, k);
    ell2_finish(&n2, &d2, &y2, &m1, &w1, k);
    fe_mul(&D, &n2, &d1);
    fe_mul(&t, &n1, &d2);
    fe_sub(&D, &D, &t);                 /* (x2 - x1) d1 d2 */
    if (fe_is_zero(&D)) {
        fe_add(&t, &y1, &y2);
        if (fe_is_zero(&t)) {           /* P2 = -P1: the sum is the identity */
            fe_set_small(X, 1);
            fe_set_small(Z, 0);
            return;
        }
        *X = n1;                        /* P2 = P1: 8 (2 P1) = 16 P1 */
        *Z = d1;
        dbl = 4;
    } else {
        /* lambda = (y2 - y1) d1 d2 / D; x3 = lambda^2 - J - x1 - x2
         * X3 = (y2 - y1)^2 (d1 d2)^3 - (J d1 d2 + n1 d2 + n2 d1) D^2, Z3 = D^2 d1 d2 */
        fe_sub(&dy, &y2, &y1);
        fe_sq(&dy, &dy);
        fe_mul(&d12, &d1, &d2);
        fe_sq(&t, &d12);
        fe_mul(&t, &t, &d12);
        fe_mul(X, &dy, &t);
        fe_mul_small(&s, &d12, J25);
        fe_mul(&t, &n1, &d2);
        fe_add(&s, &s, &t);
        fe_mul(&t, &n2, &d1);
        fe_add(&s, &s, &t);
        fe_sq(&D, &D);
        fe_mul(&s, &s, &D);
        fe_sub(X, X, &s);
        fe_mul(Z, &D, &d12);
    }
    for (i = 0; i < dbl; i++) xdbl(X, Z);
}

static void store_le32(uint8_t *o, const fe *f) {
    uint64_t r[4];
    int i, j;
    fe_canon(r, f);
    for (i = 0; i < 4; i++)
        for (j = 0; j < 8; j++) o[8 * i + j] = (uint8_t)(r[i] >> (8 * j));
}

#define BLOCK 64

/* Messages [begin, end): one inversion per block of BLOCK. */
static void hash_range(const uint8_t *uniform, uint8_t *out, size_t begin, size_t end,
                       const consts *k) {
    fe X[BLOCK], Z[BLOCK], acc[BLOCK], inv, t;
    int zero[BLOCK];
    size_t b, n, i;
    for (b = begin; b < end; b += n) {
        n = end - b < BLOCK ? end - b : BLOCK;
        for (i = 0; i < n; i++) {
            hash_one(&X[i], &Z[i], uniform + (b + i) * FC_H2C25519_IN, k);
            zero[i] = fe_is_zero(&Z[i]);
            if (zero[i]) fe_set_small(&Z[i], 1);
            if (i == 0)
                acc[0] = Z[0];
            else
                fe_mul(&acc[i], &acc[i - 1], &Z[i]);
        }
        fe_invert(&inv, &acc[n - 1]);
        for (i = n; i-- > 0;) {
            if (i > 0) {
                fe_mul(&t, &inv, &acc[i - 1]); /* 1 / Z[i] */
                fe_mul(&inv, &inv, &Z[i]);
            } else {
                t = inv;
            }
            if (zero[i])
                fe_set_small(&t, 0);
            else
                fe_mul(&t, &X[i], &t);
            store_le32(out + (b + i) * FC_H2C25519_OUT, &t);
        }
    }
}

typedef struct {
    const uint8_t *uniform;
    uint8_t *out;
    const consts *k;
} h2c_job;

static void h2c_task(void *ctx, size_t part, size_t begin, size_t end) {
    const h2c_job *j = (const h2c_job *)ctx;
    (void)part;
    hash_range(j->uniform, j->out, begin, end, j->k);
}

int fc_h2c25519_u(const uint8_t *uniform, size_t count, uint8_t *out, int threads) {
    consts k;
    h2c_job job;
    size_t parts;
    consts_init(&k);
    parts = threads < 1 ? 1 : (size_t)threads;
    if (parts > 256) parts = 256;
    if (parts > count / 32) parts = count / 32; /* about 0.5 ms per slice at least */
    job.uniform = uniform;
    job.out = out;
    job.k = &k;
    fc_run_parallel(count, parts, h2c_task, &job);
    return 0;
}
