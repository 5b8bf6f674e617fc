#include "parallel.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct {
    fc_task fn;
    void *ctx;
    size_t part, begin, end;
} fc_slice;

static void *slice_main(void *arg) {
    fc_slice *s = (fc_slice *)arg;
    s->fn(s->ctx, s->part, s->begin, s->end);
    return NULL;
}

void fc_run_parallel(size_t count, size_t parts, fc_task fn, void *ctx) {
    fc_slice *slices;
    pthread_t *tids;
    int *started;
    size_t t;
    if (parts <= 1) {
        fn(ctx, 0, 0, count);
        return;
    }
    slices = (fc_slice *)malloc(parts * sizeof(fc_slice));
    tids = (pthread_t *)malloc(parts * sizeof(pthread_t));
    started = (int *)calloc(parts, sizeof(int));
    if (!slices || !tids || !started) {
        free(slices);
        free(tids);
        free(started);
        fn(ctx, 0, 0, count); /* same result, one thread */
        return;
    }
    for (t = 0; t < parts; t++) {
        slices[t].fn = fn;
        slices[t].ctx = ctx;
        slices[t].part = t;
        slices[t].begin = count * t / parts;
        slices[t].end = count * (t + 1) / parts;
    }
    for (t = 1; t < parts; t++)
        started[t] = pthread_create(&tids[t], NULL, slice_main, &slices[t]) == 0;
    slice_main(&slices[0]);
    for (t = 1; t < parts; t++) {
        if (started[t])
            pthread_join(tids[t], NULL);
        else
            slice_main(&slices[t]);
    }
    free(slices);
    free(tids);
    free(started);
}
