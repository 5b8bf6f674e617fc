#ifndef FEDCRYPTO_H2C25519_H
#define FEDCRYPTO_H2C25519_H
/*
 * RFC 9380 curve25519_XMD:SHA-512_ELL2_RO_ hash_to_curve, after expand_message_xmd:
 * pure C (no Python.h, no GMP), field arithmetic mod 2^255 - 19 in radix 2^51.
 *
 * Input: `count` records of 96 bytes, the expand_message_xmd output for one
 * message (len_in_bytes = 96): bytes [0, 48) and [48, 96) are the big-endian
 * integers reduced mod p to the field elements u0 and u1 (hash_to_field, L = 48).
 * Output: `count` records of 32 bytes, the u-coordinate of
 * 8 * (map_to_curve(u0) + map_to_curve(u1)) (Elligator 2, RFC 9380 section 6.7.1),
 * canonical little-endian (the X25519 encoding); 0 for the point at infinity.
 *
 * Not constant time (the inputs are public hashes).  Results do not depend on
 * `threads` (static partition).  Returns 0, or -1 when out of memory (nothing
 * useful is then in `out`).
 */
#include <stddef.h>
#include <stdint.h>

#define FC_H2C25519_IN 96
#define FC_H2C25519_OUT 32

int fc_h2c25519_u(const uint8_t *uniform, size_t count, uint8_t *out, int threads);

#endif
