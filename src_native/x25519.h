#ifndef FEDCRYPTO_X25519_H
#define FEDCRYPTO_X25519_H
/*
 * Batch X25519 (RFC 7748): out[i] = X25519(scalar, u[i]) for one secret scalar and
 * `count` public u-coordinates, 32 bytes each (little-endian; the top bit of u is
 * ignored, as RFC 7748 says; non-canonical u are reduced).  Pure C (no Python.h, no
 * GMP): a radix-2^51 Montgomery ladder over the field code of fe25519.h.  Constant time
 * in the scalar and in the u-coordinates: a fixed 255-step ladder, conditional swaps by
 * mask, a fixed inversion chain and a branch-free canonical encoding.  Results do not
 * depend on `threads` (static partition).  Returns 0.
 */
#include <stddef.h>
#include <stdint.h>

int fc_x25519_many(const uint8_t scalar[32], const uint8_t *us, size_t count, uint8_t *out,
                   int threads);

/* Validation of peer u-coordinates (public data, not constant time): status[i] is
 * FC_U_OK, FC_U_NONCANONICAL (u >= p) or FC_U_TWIST (not on curve25519 but on its
 * twist).  Returns 0. */
#define FC_U_OK 0
#define FC_U_NONCANONICAL 1
#define FC_U_TWIST 2
int fc_curve25519_u_status(const uint8_t *us, size_t count, uint8_t *status, int threads);

#endif
