#ifndef FEDCRYPTO_CT_POWMOD_H
#define FEDCRYPTO_CT_POWMOD_H
/*
 * Constant-time batch modular exponentiation for secret exponents (no Python.h).
 * With the system libcrypto (built with FC_HAVE_OPENSSL): OpenSSL's
 * BN_mod_exp_mont_consttime, a fixed-window Montgomery exponentiation with a
 * scatter/gather table and assembly Montgomery products; without it, GMP's
 * mpn_sec_powm.  See docs/native-kernel.md ("Constant-time exponentiation").
 */
#include "kernels.h"

/* Largest exponent row accepted on the constant-time path, in limbs (65,536 bits: the
 * backend's MAX_EXP_BITS).  The glue rejects wider rows with InvalidArgumentError. */
#define FC_CT_MAX_EXP_LIMBS 1024

/* out[i] = bases[i] ^ exps[i or 0] mod m in constant time; m odd and > 1, bases below m
 * (checked by the caller).  Running time depends on the sizes (count, limbs of m, the
 * exponent row width) and on one bit per batch: whether every exponent row has a
 * non-zero top limb (then OpenSSL; else GMP's mpn_sec_powm over the full row width). */
int fc_ct_powmod(const fc_in *bases, const fc_in *exps, const uint64_t *m, size_t mn,
                 const fc_out *out, int threads);

/* The same through GMP's mpn_sec_powm only (the reference and the benchmark peer). */
int fc_gmp_sec_powmod(const fc_in *bases, const fc_in *exps, const uint64_t *m, size_t mn,
                      const fc_out *out, int threads);

/* Variable-time exponentiation (public exponents) through OpenSSL's BN_mod_exp_mont:
 * measured 1.22-1.39x faster than mpz_powm for odd moduli of 1024-4096 bits (its
 * Montgomery products are mulx/adx assembly), level at 5120-6144 bits, slower at 8192
 * (GMP's Toom products win there); see docs/native-kernel.md.  fc_vt_powmod_applies
 * says whether the kernel routes a modulus there (odd, FC_VT_OSSL_MIN_LIMBS to
 * FC_VT_OSSL_MAX_LIMBS limbs, OpenSSL linked). */
#define FC_VT_OSSL_MIN_LIMBS 8
#define FC_VT_OSSL_MAX_LIMBS 64
int fc_vt_powmod_applies(const uint64_t *m, size_t mn);
int fc_vt_powmod(const fc_in *bases, const fc_in *exps, const uint64_t *m, size_t mn,
                 const fc_out *out, int threads);

/* OpenSSL's version string, or NULL when built without libcrypto. */
const char *fc_openssl_version(void);

#endif
