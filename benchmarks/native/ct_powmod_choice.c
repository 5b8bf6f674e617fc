/*
 * Which constant-time exponentiation for fedcrypto's secret exponents?  (issue 12, item 1)
 *
 * One run, same operands, interleaved batches, minimum of the batch means:
 *   - GMP mpz_powm_sec (what the kernel used), GMP mpz_powm (variable time, for scale);
 *   - OpenSSL BN_mod_exp_mont_consttime (BN_FLG_CONSTTIME operands);
 *   - our own fixed-window Montgomery exponentiation (window k = 4..6) on GMP's
 *     side-channel-silent mpn_sec_mul / mpn_sec_sqr, a whole-row mpn_sec_tabselect
 *     and a branch-free REDC;
 *   - our own fixed-window loop over OpenSSL's BN_mod_mul_montgomery with a whole-row
 *     mask select (how close a hand-written loop over OpenSSL's products gets).
 * Build and run (results in docs/native-kernel.md):
 *   cc -O3 -march=native benchmarks/native/ct_powmod_choice.c -lgmp -lcrypto -o /tmp/ctc
 *   /tmp/ctc 2048 1024 40      # modulus bits, exponent bits, batches
 * Not part of the package or of the tests.
 */
#include <gmp.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef struct { size_t n; const mp_limb_t *m; mp_limb_t minv; } mc;
static void redc_ct(const mc *c, mp_limb_t *r, mp_limb_t *t, mp_limb_t *tmp) {
    size_t n = c->n, j; mp_limb_t cy, borrow;
    for (j = 0; j < n; j++) { mp_limb_t qj = t[j] * c->minv; t[j] = mpn_addmul_1(t + j, c->m, (mp_size_t)n, qj); }
    cy = mpn_add_n(r, t + n, t, (mp_size_t)n);
    borrow = mpn_sub_n(tmp, r, c->m, (mp_size_t)n);
    mpn_cnd_sub_n(cy | (borrow ^ 1), r, r, c->m, (mp_size_t)n);
}
/* own: fixed window k, table 2^k entries Montgomery form */
static void own_powm(mp_limb_t *rp, const mp_limb_t *b, const mp_limb_t *e, size_t ebits, const mc *c, unsigned k, mp_limb_t *tab, mp_limb_t *scr) {
    size_t n=c->n, i; mp_limb_t *t=scr, *tmp=t+2*n+2, *acc=tmp+n, *ent=acc+n, *mtp=ent+n;
    size_t T=(size_t)1<<k;
    /* tab[0] = R mod m, tab[1] = bR mod m */
    mpz_t x, m; mpz_roinit_n(m, c->m, n); mpz_init(x); mpz_set_ui(x,1); mpz_mul_2exp(x,x,64*n); mpz_mod(x,x,m);
    memset(tab,0,n*8); memcpy(tab, mpz_limbs_read(x), mpz_size(x)*8);
    mpz_t bb; mpz_roinit_n(bb,b,n); mpz_mul_2exp(x,bb,64*n); mpz_mod(x,x,m);
    memset(tab+n,0,n*8); memcpy(tab+n, mpz_limbs_read(x), mpz_size(x)*8); mpz_clear(x);
    for (i=2;i<T;i++){ mpn_sec_mul(t, tab+(i-1)*n, n, tab+n, n, mtp); redc_ct(c, tab+i*n, t, tmp);}    
    size_t nw=(ebits+k-1)/k; 
    memcpy(acc, tab, n*8);
    for (size_t w=nw; w-- > 0;) {
        for (unsigned j=0;j<k;j++){ mpn_sec_sqr(t, acc, n, mtp); redc_ct(c, acc, t, tmp);} 
        size_t pos=w*k; size_t limb=pos/64; unsigned off=pos%64; uint64_t v=e[limb]>>off; if(off+k>64 && (limb+1)*64<ebits) v|=e[limb+1]<<(64-off);
        unsigned d = v & (T-1);
        mpn_sec_tabselect(ent, tab, n, T, d);
        mpn_sec_mul(t, acc, n, ent, n, mtp); redc_ct(c, acc, t, tmp);
    }
    memcpy(t, acc, n*8); memset(t+n,0,n*8); redc_ct(c, rp, t, tmp);
}

/* own fixed-window loop over OpenSSL's Montgomery product (bn_mul_mont asm), whole-row CT select */
static void sel_row(BN_ULONG *dst, const BN_ULONG *tab, size_t n, size_t T, size_t d) {
    for (size_t j=0;j<n;j++) dst[j]=0;
    for (size_t i=0;i<T;i++){ uint64_t x = (uint64_t)(i ^ d); BN_ULONG mask = (BN_ULONG)0 - (BN_ULONG)((~x & (x - 1)) >> 63);
        const BN_ULONG *row = tab + i*n; for (size_t j=0;j<n;j++) dst[j] |= row[j] & mask; }
}
static void ossl_own(BIGNUM *R, const BIGNUM *B, const mp_limb_t *e, size_t ebits, const BIGNUM *M, BN_MONT_CTX *mont, BN_CTX *ctx, unsigned k, BN_ULONG *tab, size_t n) {
    size_t T=(size_t)1<<k, i; BIGNUM *acc=BN_new(), *ent=BN_new(), *one=BN_new(); BN_one(one);
    BIGNUM *t=BN_new();
    BN_to_montgomery(t, one, mont, ctx); memset(tab,0,n*8*T); BN_bn2lebinpad(t,(unsigned char*)tab, n*8);
    BIGNUM *bm=BN_new(); BN_to_montgomery(bm, B, mont, ctx); BN_bn2lebinpad(bm,(unsigned char*)(tab+n), n*8);
    BN_copy(t,bm);
    for(i=2;i<T;i++){ BN_mod_mul_montgomery(t,t,bm,mont,ctx); BN_bn2lebinpad(t,(unsigned char*)(tab+i*n), n*8);} 
    BN_ULONG ebuf[128];
    size_t nw=(ebits+k-1)/k; BN_lebin2bn((unsigned char*)tab, n*8, acc);
    for (size_t w=nw; w-- > 0;) {
        for (unsigned j=0;j<k;j++) BN_mod_mul_montgomery(acc,acc,acc,mont,ctx);
        size_t pos=w*k; size_t limb=pos/64; unsigned off=pos%64; uint64_t v=e[limb]>>off; if(off+k>64 && (limb+1)*64<ebits) v|=e[limb+1]<<(64-off);
        sel_row(ebuf, tab, n, T, v&(T-1));
        BN_lebin2bn((unsigned char*)ebuf, n*8, ent);
        BN_mod_mul_montgomery(acc,acc,ent,mont,ctx);
    }
    BN_from_montgomery(R, acc, mont, ctx);
    BN_free(acc);BN_free(ent);BN_free(one);BN_free(t);BN_free(bm);
}
int main(int argc,char**argv){
    int mbits = argc>1?atoi(argv[1]):2048, ebits=argc>2?atoi(argv[2]):1024, reps=argc>3?atoi(argv[3]):300;
    size_t n=mbits/64, en=ebits/64;
    gmp_randstate_t rs; gmp_randinit_default(rs); gmp_randseed_ui(rs, 42);
    mpz_t m,b,e,r1,r2; mpz_inits(m,b,e,r1,r2,NULL);
    mpz_urandomb(m,rs,mbits); mpz_setbit(m,mbits-1); mpz_setbit(m,0);
    mpz_urandomm(b,rs,m); mpz_urandomb(e,rs,ebits); mpz_setbit(e,ebits-1);
    /* OpenSSL */
    BN_CTX *ctx=BN_CTX_new(); BIGNUM *M=BN_new(),*B=BN_new(),*E=BN_new(),*R=BN_new();
    BN_lebin2bn((unsigned char*)mpz_limbs_read(m), n*8, M); BN_lebin2bn((unsigned char*)mpz_limbs_read(b), mpz_size(b)*8, B); BN_lebin2bn((unsigned char*)mpz_limbs_read(e), en*8, E);
    BN_set_flags(E, BN_FLG_CONSTTIME); BN_set_flags(B, BN_FLG_CONSTTIME);
    BN_MONT_CTX *mont=BN_MONT_CTX_new(); BN_MONT_CTX_set(mont, M, ctx);
    mp_limb_t minv, inv=mpz_getlimbn(m,0); for(int i=0;i<5;i++) inv*=2-mpz_getlimbn(m,0)*inv; minv=-inv;
    mc c={n, mpz_limbs_read(m), minv};
    mp_limb_t *tab=malloc(64*n*8*2), *scr=malloc((20*n+200+mpn_sec_mul_itch(n,n)+mpn_sec_sqr_itch(n))*8), rp[128];
    mp_limb_t bl[128]={0}; memcpy(bl,mpz_limbs_read(b),mpz_size(b)*8);
    mp_limb_t el[128]={0}; memcpy(el,mpz_limbs_read(e),en*8);
    mp_size_t itch=mpn_sec_powm_itch(n,ebits,n); mp_limb_t *tp=malloc(itch*8);
    double best[9]={1e9,1e9,1e9,1e9,1e9,1e9,1e9,1e9,1e9};
    for (int round=0; round<reps; round++){ double t0,d;
      t0=now(); for(int i=0;i<5;i++) mpz_powm_sec(r1,b,e,m); d=(now()-t0)/5; if(d<best[0])best[0]=d;
      t0=now(); for(int i=0;i<5;i++) mpz_powm(r2,b,e,m); d=(now()-t0)/5; if(d<best[1])best[1]=d;
      t0=now(); for(int i=0;i<5;i++) BN_mod_exp_mont_consttime(R,B,E,M,ctx,mont); d=(now()-t0)/5; if(d<best[2])best[2]=d;
      for (unsigned k=4;k<=6;k++){ t0=now(); for(int i=0;i<5;i++) ossl_own(R,B,el,ebits,M,mont,ctx,k,(BN_ULONG*)tab,n); d=(now()-t0)/5; if(d<best[k+2])best[k+2]=d; }
      for (unsigned k=4;k<=6;k++){ t0=now(); for(int i=0;i<5;i++) own_powm(rp,bl,el,ebits,&c,k,tab,scr); d=(now()-t0)/5; if(d<best[k-1])best[k-1]=d; }
    }
    { mpz_t x; mpz_roinit_n(x,rp,n); if (mpz_cmp(x,r1)) printf(" OWN MISMATCH"); }
    unsigned char buf[1024]; memset(buf,0,sizeof buf); BN_bn2lebinpad(R,buf,n*8); if (memcmp(buf, mpz_limbs_read(r1), mpz_size(r1)*8)) printf(" OSSL MISMATCH");
    printf("bits %d/%d (min of %d batches of 5): mpz_powm_sec %.3f ms | mpz_powm (variable time) %.3f | OpenSSL BN_mod_exp_mont_consttime %.3f (%.2fx powm_sec) | own fixed-window k=4 %.3f (%.2fx) k=5 %.3f (%.2fx) k=6 %.3f (%.2fx)\n",
      mbits, ebits, reps, best[0]*1e3, best[1]*1e3, best[2]*1e3, best[0]/best[2], best[3]*1e3, best[0]/best[3], best[4]*1e3, best[0]/best[4], best[5]*1e3, best[0]/best[5]);
    printf("   own loop over BN_mod_mul_montgomery: k=4 %.3f k=5 %.3f k=6 %.3f ms\n", best[6]*1e3,best[7]*1e3,best[8]*1e3);
    printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
    return 0;
}
