#include <gmp.h>
#include "kernels.h"
const char *fc_gmp_version(void) { return gmp_version; }
