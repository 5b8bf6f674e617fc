#ifndef FEDCRYPTO_FE25519_H
#define FEDCRYPTO_FE25519_H
/*
 * Field arithmetic mod p = 2^255 - 19 in radix 2^51, shared by the hash-to-curve
 * kernel (h2c25519.c) and the X25519 ladder (x25519.c).  Elements are five unsigned
 * limbs of (nominally) 51 bits, value = sum v[i] 2^(51 i); limbs may exceed 51 bits
 * by a few bits between carries and the value need not be reduced below p.
 * Products use unsigned __int128 and fold 2^255 = 19.  Every function here is
 * straight-line code: no branch and no memory index depends on the values, so the
 * ladder can use them on secret data.
 */
#include <stdint.h>

typedef unsigned __int128 u128;

#define MASK51 ((uint64_t)0x7FFFFFFFFFFFF)

typedef struct {
    uint64_t v[5];
} fe;

/* ------------------------------------------------------------- field ops -- */

static inline void fe_set_small(fe *h, uint64_t x) {
    h->v[0] = x;
    h->v[1] = h->v[2] = h->v[3] = h->v[4] = 0;
}

/* Propagate carries: afterwards every limb is below 2^51 except v[0], below 2^51 + 19 * 2^13. */
static inline void fe_carry(fe *h) {
    uint64_t c;
    c = h->v[0] >> 51; h->v[0] &= MASK51; h->v[1] += c;
    c = h->v[1] >> 51; h->v[1] &= MASK51; h->v[2] += c;
    c = h->v[2] >> 51; h->v[2] &= MASK51; h->v[3] += c;
    c = h->v[3] >> 51; h->v[3] &= MASK51; h->v[4] += c;
    c = h->v[4] >> 51; h->v[4] &= MASK51; h->v[0] += 19 * c;
}

static inline void fe_add(fe *h, const fe *f, const fe *g) {
    int i;
    for (i = 0; i < 5; i++) h->v[i] = f->v[i] + g->v[i];
    fe_carry(h);
}

/* h = f - g + 4p (limbs of g below 2^53 - 76). */
static inline void fe_sub(fe *h, const fe *f, const fe *g) {
    h->v[0] = f->v[0] + ((uint64_t)0x1FFFFFFFFFFFB4) - g->v[0];
    h->v[1] = f->v[1] + ((uint64_t)0x1FFFFFFFFFFFFC) - g->v[1];
    h->v[2] = f->v[2] + ((uint64_t)0x1FFFFFFFFFFFFC) - g->v[2];
    h->v[3] = f->v[3] + ((uint64_t)0x1FFFFFFFFFFFFC) - g->v[3];
    h->v[4] = f->v[4] + ((uint64_t)0x1FFFFFFFFFFFFC) - g->v[4];
    fe_carry(h);
}

static inline void fe_neg(fe *h, const fe *f) {
    fe z;
    fe_set_small(&z, 0);
    fe_sub(h, &z, f);
}

static inline void fe_reduce_wide(fe *h, u128 r0, u128 r1, u128 r2, u128 r3, u128 r4) {
    uint64_t c;
    r1 += (uint64_t)(r0 >> 51);
    r2 += (uint64_t)(r1 >> 51);
    r3 += (uint64_t)(r2 >> 51);
    r4 += (uint64_t)(r3 >> 51);
    c = (uint64_t)(r4 >> 51);
    h->v[0] = ((uint64_t)r0 & MASK51) + 19 * c;
    h->v[1] = (uint64_t)r1 & MASK51;
    h->v[2] = (uint64_t)r2 & MASK51;
    h->v[3] = (uint64_t)r3 & MASK51;
    h->v[4] = (uint64_t)r4 & MASK51;
    c = h->v[0] >> 51;
    h->v[0] &= MASK51;
    h->v[1] += c;
}

static inline void fe_mul(fe *h, const fe *f, const fe *g) {
    uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
    uint64_t g0 = g->v[0], g1 = g->v[1], g2 = g->v[2], g3 = g->v[3], g4 = g->v[4];
    uint64_t g1_19 = 19 * g1, g2_19 = 19 * g2, g3_19 = 19 * g3, g4_19 = 19 * g4;
    u128 r0 = (u128)f0 * g0 + (u128)f1 * g4_19 + (u128)f2 * g3_19 + (u128)f3 * g2_19 +
              (u128)f4 * g1_19;
    u128 r1 = (u128)f0 * g1 + (u128)f1 * g0 + (u128)f2 * g4_19 + (u128)f3 * g3_19 +
              (u128)f4 * g2_19;
    u128 r2 = (u128)f0 * g2 + (u128)f1 * g1 + (u128)f2 * g0 + (u128)f3 * g4_19 +
              (u128)f4 * g3_19;
    u128 r3 = (u128)f0 * g3 + (u128)f1 * g2 + (u128)f2 * g1 + (u128)f3 * g0 +
              (u128)f4 * g4_19;
    u128 r4 = (u128)f0 * g4 + (u128)f1 * g3 + (u128)f2 * g2 + (u128)f3 * g1 + (u128)f4 * g0;
    fe_reduce_wide(h, r0, r1, r2, r3, r4);
}

static inline void fe_sq(fe *h, const fe *f) {
    uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
    uint64_t f0_2 = 2 * f0, f1_2 = 2 * f1;
    uint64_t f3_19 = 19 * f3, f4_19 = 19 * f4;
    u128 r0 = (u128)f0 * f0 + (u128)f1_2 * f4_19 + (u128)(2 * f2) * f3_19;
    u128 r1 = (u128)f0_2 * f1 + (u128)(2 * f2) * f4_19 + (u128)f3 * f3_19;
    u128 r2 = (u128)f0_2 * f2 + (u128)f1 * f1 + (u128)(2 * f3) * f4_19;
    u128 r3 = (u128)f0_2 * f3 + (u128)f1_2 * f2 + (u128)f4 * f4_19;
    u128 r4 = (u128)f0_2 * f4 + (u128)f1_2 * f3 + (u128)f2 * f2;
    fe_reduce_wide(h, r0, r1, r2, r3, r4);
}

static inline void fe_sqn(fe *h, const fe *f, int n) {
    int i;
    fe_sq(h, f);
    for (i = 1; i < n; i++) fe_sq(h, h);
}

/* Multiply by a small constant (below 2^20). */
static inline void fe_mul_small(fe *h, const fe *f, uint64_t k) {
    fe_reduce_wide(h, (u128)f->v[0] * k, (u128)f->v[1] * k, (u128)f->v[2] * k,
                   (u128)f->v[3] * k, (u128)f->v[4] * k);
}

/* z^(2^250 - 1) and z^11 (shared start of both exponent chains). */
static inline void fe_pow_2_250_1(fe *out, fe *z11, const fe *z) {
    fe z2, z9, t, z5, z10, z20, z40, z50, z100;
    fe_sq(&z2, z);            /* 2 */
    fe_sqn(&t, &z2, 2);       /* 8 */
    fe_mul(&z9, &t, z);       /* 9 */
    fe_mul(z11, &z9, &z2);    /* 11 */
    fe_sq(&t, z11);           /* 22 */
    fe_mul(&z5, &t, &z9);     /* 31 = 2^5 - 1 */
    fe_sqn(&t, &z5, 5);
    fe_mul(&z10, &t, &z5);    /* 2^10 - 1 */
    fe_sqn(&t, &z10, 10);
    fe_mul(&z20, &t, &z10);   /* 2^20 - 1 */
    fe_sqn(&t, &z20, 20);
    fe_mul(&z40, &t, &z20);   /* 2^40 - 1 */
    fe_sqn(&t, &z40, 10);
    fe_mul(&z50, &t, &z10);   /* 2^50 - 1 */
    fe_sqn(&t, &z50, 50);
    fe_mul(&z100, &t, &z50);  /* 2^100 - 1 */
    fe_sqn(&t, &z100, 100);
    fe_mul(&t, &t, &z100);    /* 2^200 - 1 */
    fe_sqn(&t, &t, 50);
    fe_mul(out, &t, &z50);    /* 2^250 - 1 */
}

/* z^(p - 2) = z^(2^255 - 21) = (z^(2^250 - 1))^32 * z^11: 1/z for z != 0. */
static inline void fe_invert(fe *out, const fe *z) {
    fe t, z11;
    fe_pow_2_250_1(&t, &z11, z);
    fe_sqn(&t, &t, 5);
    fe_mul(out, &t, &z11);
}

#endif
