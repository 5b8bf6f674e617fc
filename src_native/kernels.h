#ifndef FEDCRYPTO_KERNELS_H
#define FEDCRYPTO_KERNELS_H
/* C kernels over GMP: no Python.h here. */
const char *fc_gmp_version(void);
#endif
