/* Aligned allocation and the monotonic clock. */
#include "axnn/base.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void *axnn_alloc(size_t bytes)
{
    void *p = NULL;
    size_t n = (bytes + 63) & ~(size_t)63;
    if (n == 0) n = 64;
    if (posix_memalign(&p, 64, n)) return NULL;
    return p;
}

void *axnn_calloc(size_t bytes)
{
    void *p = axnn_alloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void axnn_free(void *p) { free(p); }

double axnn_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
