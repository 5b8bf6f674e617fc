/*
 * X25519 (RFC 7748, section 5) for a batch of u-coordinates and one scalar, written from
 * the RFC: clamp the scalar, run the Montgomery ladder over bits 254..0 with
 * (x2 : z2), (x3 : z3), swap by mask, then x2 / z2 through one inversion (z^(p - 2)).
 *
 * Constant time: the loop count is fixed (255 steps), the only data-dependent choice is
 * the conditional swap, done with a mask on every limb; the field operations of
 * fe25519.h are straight-line; the final encoding subtracts p by mask.  The scalar is
 * secret, the u-coordinates are not (they are hashes or a peer's masked values), but
 * nothing branches on them either.
 */
#include "x25519.h"

#include <string.h>

#include "fe25519.h"
#include "parallel.h"

#define A24_7748 121665 /* (A - 2) / 4, RFC 7748's a24 */

/* Additions without the carry pass: every sum below feeds a product or a subtraction,
 * which accept limbs of up to 2^54 (fe_mul's 128-bit sums stay below 2^128: five terms
 * of 19 * 2^54 * 2^54).  Inputs are carried values (limbs below 2^51 + 2^13 * 19). */
static inline void fe_add_nc(fe *h, const fe *f, const fe *g) {
    int i;
    for (i = 0; i < 5; i++) h->v[i] = f->v[i] + g->v[i];
}

/* f - g + 4p without the carry pass (limbs of g below 2^53 - 76; result below 2^54). */
static inline void fe_sub_nc(fe *h, const fe *f, const fe *g) {
    h->v[0] = f->v[0] + ((uint64_t)0x1FFFFFFFFFFFB4) - g->v[0];
    h->v[1] = f->v[1] + ((uint64_t)0x1FFFFFFFFFFFFC) - g->v[1];
    h->v[2] = f->v[2] + ((uint64_t)0x1FFFFFFFFFFFFC) - g->v[2];
    h->v[3] = f->v[3] + ((uint64_t)0x1FFFFFFFFFFFFC) - g->v[3];
    h->v[4] = f->v[4] + ((uint64_t)0x1FFFFFFFFFFFFC) - g->v[4];
}

/* Swap (a, b) when bit == 1, by mask. */
static inline void fe_cswap(fe *a, fe *b, uint64_t bit) {
    uint64_t mask = (uint64_t)0 - bit, t;
    int i;
    for (i = 0; i < 5; i++) {
        t = mask & (a->v[i] ^ b->v[i]);
        a->v[i] ^= t;
        b->v[i] ^= t;
    }
}

static uint64_t load_le64(const uint8_t *p) {
    uint64_t x = 0;
    int i;
    for (i = 7; i >= 0; i--) x = (x << 8) | p[i];
    return x;
}

/* The canonical encoding (value mod p, 32 bytes little-endian), without branches. */
static void fe_store_ct(uint8_t *o, const fe *f) {
    fe h = *f;
    uint64_t r[4], s[4], mask;
    u128 acc;
    int i, k;
    fe_carry(&h);
    fe_carry(&h); /* limbs below 2^51 + 19: value below 2^256 */
    acc = (u128)h.v[0] + ((u128)h.v[1] << 51);
    r[0] = (uint64_t)acc;
    acc = (acc >> 64) + ((u128)h.v[2] << 38);
    r[1] = (uint64_t)acc;
    acc = (acc >> 64) + ((u128)h.v[3] << 25);
    r[2] = (uint64_t)acc;
    acc = (acc >> 64) + ((u128)h.v[4] << 12);
    r[3] = (uint64_t)acc;
    for (k = 0; k < 2; k++) { /* fold bit 255 (2^255 = 19): value below 2^255 after two */
        uint64_t top = r[3] >> 63;
        r[3] &= (uint64_t)0x7FFFFFFFFFFFFFFF;
        acc = (u128)r[0] + 19 * top;
        r[0] = (uint64_t)acc;
        for (i = 1; i < 4; i++) {
            acc = (acc >> 64) + r[i];
            r[i] = (uint64_t)acc;
        }
    }
    /* value < 2^255; value >= p  <=>  value + 19 >= 2^255: then keep value + 19 - 2^255 */
    acc = (u128)r[0] + 19;
    s[0] = (uint64_t)acc;
    for (i = 1; i < 4; i++) {
        acc = (acc >> 64) + r[i];
        s[i] = (uint64_t)acc;
    }
    mask = (uint64_t)0 - (s[3] >> 63);
    s[3] &= (uint64_t)0x7FFFFFFFFFFFFFFF;
    for (i = 0; i < 4; i++) {
        uint64_t v = (r[i] & ~mask) | (s[i] & mask);
        for (k = 0; k < 8; k++) o[8 * i + k] = (uint8_t)(v >> (8 * k));
    }
}

/* The ladder: X25519(k, u) = X / Z (X, Z out).  k is clamped. */
static void ladder(fe *X, fe *Z, const uint8_t k[32], const uint8_t u[32]) {
    fe x1, x2, z2, x3, z3, a, aa, b, bb, e, c, d, da, cb, t;
    uint64_t r[4], swap = 0;
    int pos;
    r[0] = load_le64(u);
    r[1] = load_le64(u + 8);
    r[2] = load_le64(u + 16);
    r[3] = load_le64(u + 24) & (uint64_t)0x7FFFFFFFFFFFFFFF; /* RFC 7748: ignore the top bit */
    x1.v[0] = r[0] & MASK51;
    x1.v[1] = ((r[0] >> 51) | (r[1] << 13)) & MASK51;
    x1.v[2] = ((r[1] >> 38) | (r[2] << 26)) & MASK51;
    x1.v[3] = ((r[2] >> 25) | (r[3] << 39)) & MASK51;
    x1.v[4] = r[3] >> 12;
    fe_set_small(&x2, 1);
    fe_set_small(&z2, 0);
    x3 = x1;
    fe_set_small(&z3, 1);
    for (pos = 254; pos >= 0; pos--) {
        uint64_t bit = (uint64_t)(k[pos >> 3] >> (pos & 7)) & 1; /* k is clamped */
        swap ^= bit;
        fe_cswap(&x2, &x3, swap);
        fe_cswap(&z2, &z3, swap);
        swap = bit;
        /* Bounds: products and squares leave limbs below 2^51 + 2^13; sums of two such
         * stay below 2^52 + 2^14, differences (+4p) below 2^53.33.  Every product below
         * then has 128-bit column sums under 2^113 and fe_reduce_wide's top carry
         * 19 * (r4 >> 51) under 2^63: no overflow. */
        fe_add_nc(&a, &x2, &z2);
        fe_sq(&aa, &a);
        fe_sub_nc(&b, &x2, &z2);
        fe_sq(&bb, &b);
        fe_sub_nc(&e, &aa, &bb);
        fe_add_nc(&c, &x3, &z3);
        fe_sub_nc(&d, &x3, &z3);
        fe_mul(&da, &d, &a);
        fe_mul(&cb, &c, &b);
        fe_add_nc(&t, &da, &cb);
        fe_sq(&x3, &t);
        fe_sub_nc(&t, &da, &cb);
        fe_sq(&t, &t);
        fe_mul(&z3, &x1, &t);
        fe_mul(&x2, &aa, &bb);
        fe_mul_small(&t, &e, A24_7748);
        fe_add_nc(&t, &aa, &t);
        fe_mul(&z2, &e, &t);
    }
    fe_cswap(&x2, &x3, swap);
    fe_cswap(&z2, &z3, swap);
    *X = x2;
    *Z = z2;
}

/* 1 when f = 0 mod p, without branches. */
static uint64_t fe_is_zero_ct(const fe *f) {
    uint8_t b[32];
    uint64_t acc = 0;
    int i;
    fe_store_ct(b, f);
    for (i = 0; i < 32; i++) acc |= b[i];
    return ((acc | (0 - acc)) >> 63) ^ 1;
}

/* Ladders per block, then one inversion for the block (Montgomery's trick: prefix
 * products, one z^(p-2), then back).  A zero Z (a low-order u: the output must be 0,
 * RFC 7748) would zero the whole chain, so it is replaced by 1 by mask and its X by 0. */
#define XBLOCK 32

static void x25519_block(uint8_t *out, const uint8_t k[32], const uint8_t *us, size_t n) {
    fe X[XBLOCK], Z[XBLOCK], pre[XBLOCK], inv, t, one;
    size_t i;
    int j;
    fe_set_small(&one, 1);
    for (i = 0; i < n; i++) {
        uint64_t zero, mask;
        ladder(&X[i], &Z[i], k, us + 32 * i);
        zero = fe_is_zero_ct(&Z[i]);
        mask = (uint64_t)0 - zero;
        for (j = 0; j < 5; j++) {
            Z[i].v[j] = (Z[i].v[j] & ~mask) | (one.v[j] & mask);
            X[i].v[j] &= ~mask;
        }
    }
    pre[0] = Z[0];
    for (i = 1; i < n; i++) fe_mul(&pre[i], &pre[i - 1], &Z[i]);
    fe_invert(&inv, &pre[n - 1]); /* 1 / (Z_0 ... Z_{n-1}) */
    for (i = n; i-- > 1;) {
        fe_mul(&t, &inv, &pre[i - 1]); /* 1 / Z_i */
        fe_mul(&inv, &inv, &Z[i]);      /* 1 / (Z_0 ... Z_{i-1}) */
        fe_mul(&t, &X[i], &t);
        fe_store_ct(out + 32 * i, &t);
    }
    fe_mul(&t, &X[0], &inv);
    fe_store_ct(out, &t);
}

/* Status of a peer's u-coordinate: FC_U_OK, FC_U_NONCANONICAL (u >= p as a 256-bit
 * little-endian integer) or FC_U_TWIST (u^3 + A u^2 + u is not a square mod p: a point of
 * the quadratic twist).  Public data: branches are fine here.  The Legendre symbol is
 * g^((p - 1) / 2) = g^(2^254 - 10) = (g^(2^250 - 1))^16 * g^6: 1, 0 or p - 1. */
static uint8_t u_status(const uint8_t u[32]) {
    uint64_t r[4], c[4];
    fe x, g, t, z11, g2, g6;
    r[0] = load_le64(u);
    r[1] = load_le64(u + 8);
    r[2] = load_le64(u + 16);
    r[3] = load_le64(u + 24);
    if (r[3] >> 63) return FC_U_NONCANONICAL;
    if (r[3] == 0x7FFFFFFFFFFFFFFF && r[2] == ~(uint64_t)0 && r[1] == ~(uint64_t)0 &&
        r[0] >= 0xFFFFFFFFFFFFFFED)
        return FC_U_NONCANONICAL;
    x.v[0] = r[0] & MASK51;
    x.v[1] = ((r[0] >> 51) | (r[1] << 13)) & MASK51;
    x.v[2] = ((r[1] >> 38) | (r[2] << 26)) & MASK51;
    x.v[3] = ((r[2] >> 25) | (r[3] << 39)) & MASK51;
    x.v[4] = r[3] >> 12;
    fe_set_small(&t, 486662); /* A */
    fe_add(&t, &x, &t);
    fe_mul(&t, &t, &x);
    fe_set_small(&g, 1);
    fe_add(&t, &t, &g);
    fe_mul(&g, &t, &x); /* g = u (u (u + A) + 1) */
    fe_pow_2_250_1(&t, &z11, &g);
    fe_sqn(&t, &t, 4);
    fe_sq(&g2, &g);
    fe_sq(&g6, &g2);
    fe_mul(&g6, &g6, &g2);
    fe_mul(&t, &t, &g6);
    {
        uint8_t b[32];
        fe_store_ct(b, &t);
        c[0] = load_le64(b);
        c[1] = load_le64(b + 8);
        c[2] = load_le64(b + 16);
        c[3] = load_le64(b + 24);
    }
    if (c[0] == 0xFFFFFFFFFFFFFFEC && c[1] == ~(uint64_t)0 && c[2] == ~(uint64_t)0 &&
        c[3] == 0x7FFFFFFFFFFFFFFF)
        return FC_U_TWIST;
    return FC_U_OK;
}

typedef struct {
    const uint8_t *us;
    uint8_t *status;
} s_ctx;

static void s_task(void *vc, size_t part, size_t begin, size_t end) {
    s_ctx *c = (s_ctx *)vc;
    size_t i;
    (void)part;
    for (i = begin; i < end; i++) c->status[i] = u_status(c->us + 32 * i);
}

int fc_curve25519_u_status(const uint8_t *us, size_t count, uint8_t *status, int threads) {
    s_ctx c = {us, status};
    size_t parts = threads < 1 ? 1 : (size_t)threads;
    if (parts > 256) parts = 256;
    if (parts > count / 64) parts = count / 64;
    if (parts < 1) parts = 1;
    fc_run_parallel(count, parts, s_task, &c);
    return 0;
}

typedef struct {
    const uint8_t *k, *us;
    uint8_t *out;
} x_ctx;

static void x_task(void *vc, size_t part, size_t begin, size_t end) {
    x_ctx *c = (x_ctx *)vc;
    size_t i;
    (void)part;
    for (i = begin; i < end; i += XBLOCK) {
        size_t n = end - i < XBLOCK ? end - i : XBLOCK;
        x25519_block(c->out + 32 * i, c->k, c->us + 32 * i, n);
    }
}

int fc_x25519_many(const uint8_t scalar[32], const uint8_t *us, size_t count, uint8_t *out,
                   int threads) {
    uint8_t k[32];
    x_ctx c = {k, us, out};
    size_t parts = threads < 1 ? 1 : (size_t)threads;
    if (parts > 256) parts = 256;
    if (parts > count / 16) parts = count / 16; /* at least 16 ladders (~0.5 ms) per thread */
    if (parts < 1) parts = 1;
    /* RFC 7748 decodeScalar25519: clear bits 0-2 and 255, set bit 254 */
    memcpy(k, scalar, 32);
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
    fc_run_parallel(count, parts, x_task, &c);
    memset(k, 0, sizeof k);
    __asm__ __volatile__("" : : "r"(k) : "memory"); /* keep the wipe */
    return 0;
}
