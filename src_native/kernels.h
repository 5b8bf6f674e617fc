#ifndef FEDCRYPTO_KERNELS_H
#define FEDCRYPTO_KERNELS_H
/*
 * C kernels over GMP: no Python.h here.
 *
 * Integers are rows of 64-bit limbs, least significant limb first (the layout of
 * fedcrypto/_backend/_limbs.py).  A batch is `count` rows of `width` limbs,
 * contiguous.  Moduli are passed normalized (top limb non-zero) with their limb
 * count `mn`.  The caller (glue.c, holding the GIL) has validated everything the
 * kernels rely on: shapes, every value below its modulus, odd moduli where
 * required, output widths.  The kernels then run without touching Python, and
 * their results do not depend on the thread count.
 *
 * Return codes: FC_OK, FC_ENOMEM when a scratch allocation failed, FC_ERANGE,
 * FC_EBOUND.  Every loop runs a number of times fixed by the sizes of its inputs
 * (limb counts, batch counts, exponent bits); the only correction loop (Barrett's)
 * has a hard bound of two steps, and every reduction checks that its result is
 * below the modulus: a violated bound is returned as FC_EBOUND (a typed
 * exception in the glue), never looped on.  See docs/native-kernel.md.
 */
#include <stddef.h>
#include <stdint.h>

#define FC_OK 0
#define FC_ENOMEM (-1)
#define FC_ERANGE (-2) /* a result did not fit its output row (caller bug) */
#define FC_EBOUND (-3) /* a reduction exceeded its proven bound (kernel bug or broken precondition) */
#define FC_NOT_APPLICABLE (-4) /* test hooks: the tested method does not apply to these inputs */

typedef struct {
    const uint64_t *p; /* count * width limbs */
    size_t count;
    size_t width;
} fc_in;

typedef struct {
    uint64_t *p;
    size_t count;
    size_t width;
} fc_out;

const char *fc_gmp_version(void);
/* 1 when libgmp still uses its default (malloc-based, thread-safe) allocators.
 * Another extension sharing this libgmp may have installed allocators that need
 * the GIL (e.g. PyMem-based); the glue then keeps the GIL and runs on one thread. */
int fc_gmp_alloc_is_default(void);

/* Number of limbs of p[0..w) once leading zero limbs are dropped (0 for zero). */
size_t fc_norm(const uint64_t *p, size_t w);
/* Bit length of the integer in p[0..w). */
size_t fc_bitlen(const uint64_t *p, size_t w);
/* Limb width of m - 1 (the width of results mod m); m normalized, m > 1. */
size_t fc_result_width(const uint64_t *m, size_t mn);
/* Index of the first row that is >= m, or -1 when every row is below m. */
ptrdiff_t fc_first_not_below(const fc_in *a, const uint64_t *m, size_t mn);
/* 1 when every row is below 2^bits; constant time in the values. */
int fc_rows_fit_bits(const fc_in *a, size_t bits);
/* Largest bit length of any row. */
size_t fc_max_bitlen(const fc_in *a);

/* out[i] = bases[i] ^ exps[i or 0] mod m.  secret: constant time (mpn_sec_powm, m odd);
 * its running time depends on the exponent row width, never on the values. */
int fc_powmod(const fc_in *bases, const fc_in *exps, const uint64_t *m, size_t mn, int secret,
              const fc_out *out, int threads);
/* out[i] = a[i] * b[i or 0] mod m. */
int fc_mulmod(const fc_in *a, const fc_in *b, const uint64_t *m, size_t mn, const fc_out *out,
              int threads);
/* out[0] = prod a[i] mod m (1 when empty). */
int fc_prodmod(const fc_in *a, const uint64_t *m, size_t mn, const fc_out *out, int threads);
/* out[0] = prod bases[i] ^ exps[i] mod m (Pippenger's bucket method; 1 when empty). */
int fc_multi_powmod(const fc_in *bases, const fc_in *exps, const uint64_t *m, size_t mn,
                    const fc_out *out, int threads);
/* out[i] = rq[i] + q * ((rp[i] - rq[i]) * qinv mod p). */
int fc_crt(const fc_in *rp, const fc_in *rq, const uint64_t *p, size_t pn, const uint64_t *q,
           size_t qn, const uint64_t *qinv, size_t qin, const fc_out *out, int threads);

/* Test hook: mismatches between the two Montgomery reductions (see kernels.c);
 * FC_NOT_APPLICABLE when the wrap-around reduction is not used for m. */
long fc_redc_selftest(const uint64_t *m, size_t mn, size_t rounds, uint64_t seed);

/* Test hook: Barrett's reduction against division (see kernels.c). */
long fc_barrett_selftest(const uint64_t *m, size_t mn, size_t rounds, uint64_t seed,
                         int broken_mu);

/* Fixed-base tables: immutable after fc_fb_new, safe to use from many threads. */
typedef struct fc_fixed_base fc_fixed_base;
/* window 0 = choose automatically.  secret (odd m only): constant-time pow (fixed
 * window count, whole-row table scans).  Returns NULL with *err = FC_ENOMEM or
 * FC_EBOUND on failure. */
fc_fixed_base *fc_fb_new(const uint64_t *base, size_t bw, const uint64_t *m, size_t mn,
                         size_t max_exp_bits, unsigned window, int secret, int threads,
                         int *err);
int fc_fb_secret(const fc_fixed_base *fb);
void fc_fb_free(fc_fixed_base *fb);
unsigned fc_fb_window(const fc_fixed_base *fb);
size_t fc_fb_table_bytes(const fc_fixed_base *fb);
/* out[i] = base ^ exps[i] mod m; every exponent at most max_exp_bits bits (checked by caller). */
int fc_fb_pow(const fc_fixed_base *fb, const fc_in *exps, const fc_out *out, int threads);

#endif
