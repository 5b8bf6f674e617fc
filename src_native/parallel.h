#ifndef FEDCRYPTO_PARALLEL_H
#define FEDCRYPTO_PARALLEL_H
/* The one thread runner of the native kernels: static slices, so results never
 * depend on the thread count.  Pure C with pthreads; no Python.h, no GMP. */
#include <stddef.h>

typedef void (*fc_task)(void *ctx, size_t part, size_t begin, size_t end);

/* Run fn over [0, count) in `parts` static slices; slice 0 runs on the calling
 * thread.  A slice whose thread cannot be started (or a failed allocation) runs
 * on the caller too: same result, fewer threads. */
void fc_run_parallel(size_t count, size_t parts, fc_task fn, void *ctx);

#endif
