/* Quantization kernels: reference, dispatch and int8 im2col (see quantize.h). */
#include "kernels/quant/quantize.h"

#include "axnn/base.h"

#include <math.h>
#include <string.h>

void axnn_quantize_s8_ref(const float *x, int64_t n, float inv_scale, int8_t *q)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] * inv_scale;
        v = v > -127.0f ? v : -127.0f; /* NaN -> -127, as max_ps with the bound second */
        v = v < 127.0f ? v : 127.0f;
        q[i] = (int8_t)rintf(v);
    }
}

void axnn_quantize_s8(const float *x, int64_t n, float inv_scale, int8_t *q)
{
    if (axnn_cpu_features()->avx512bw)
        axnn_quantize_s8_avx512(x, n, inv_scale, q);
    else
        axnn_quantize_s8_ref(x, n, inv_scale, q);
}

float axnn_absmax(const float *x, int64_t n)
{
    float m = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        m = a > m ? a : m;
    }
    return m;
}

/* Output columns ox in [lo, hi) read inside the image for kernel column kx. */
static void valid_range(const axnn_im2col_geom *g, int kx, int *lo, int *hi)
{
    int a = 0, b = g->ow;
    while (a < g->ow && a * g->sw - g->pw + kx < 0) a++;
    while (b > a && (b - 1) * g->sw - g->pw + kx >= g->w) b--;
    *lo = a;
    *hi = b;
}

void axnn_im2col_s8(const axnn_im2col_geom *g, const int8_t *x, int8_t *col, int64_t ldc)
{
    if (axnn_cpu_features()->avx512bw)
        axnn_im2col_s8_avx512(g, x, col, ldc);
    else
        axnn_im2col_s8_ref(g, x, col, ldc);
}

void axnn_im2col_s8_ref(const axnn_im2col_geom *g, const int8_t *x, int8_t *col, int64_t ldc)
{
    for (int c = 0; c < g->c; c++) {
        const int8_t *xc = x + (int64_t)c * g->h * g->w;
        for (int ky = 0; ky < g->kh; ky++)
            for (int kx = 0; kx < g->kw; kx++) {
                int8_t *row = col + ((int64_t)(c * g->kh + ky) * g->kw + kx) * ldc;
                int lo, hi;
                valid_range(g, kx, &lo, &hi);
                for (int oy = 0; oy < g->oh; oy++) {
                    int8_t *dst = row + (int64_t)oy * g->ow;
                    int iy = oy * g->sh - g->ph + ky;
                    if (iy < 0 || iy >= g->h || lo >= hi) {
                        memset(dst, 0, (size_t)g->ow);
                        continue;
                    }
                    /* rows are short (ow <= 64 in the CIFAR models): plain loops beat libc calls */
                    const int8_t *src = xc + (int64_t)iy * g->w + lo * g->sw - g->pw + kx;
                    for (int ox = 0; ox < lo; ox++) dst[ox] = 0;
                    if (g->sw == 1)
                        for (int ox = lo; ox < hi; ox++) dst[ox] = src[ox - lo];
                    else
                        for (int ox = lo; ox < hi; ox++) dst[ox] = src[(ox - lo) * g->sw];
                    for (int ox = hi; ox < g->ow; ox++) dst[ox] = 0;
                }
            }
    }
}

void axnn_map_s8(const int8_t *src, int64_t n, const int8_t *table, int8_t *dst)
{
    const axnn_cpu *c = axnn_cpu_features();
    if (c->avx512bw && c->avx512vbmi) {
        axnn_map_s8_avx512vbmi(src, n, table, dst);
        return;
    }
    for (int64_t i = 0; i < n; i++) dst[i] = table[src[i] + 128];
}
