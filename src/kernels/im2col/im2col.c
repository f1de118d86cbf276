/* im2col / col2im (see im2col.h). The inner loop runs along an output row; the in-image part of
 * each row is found once so that the copy itself has no branch. */
#include "kernels/im2col/im2col.h"

#include <string.h>

/* Output columns ox in [lo, hi) read inside the image for kernel column kx. */
static void valid_range(int ow, int sw, int pw, int w, int kx, int *lo, int *hi)
{
    int a = 0, b = ow;
    while (a < ow && a * sw - pw + kx < 0) a++;
    while (b > a && (b - 1) * sw - pw + kx >= w) b--;
    *lo = a;
    *hi = b;
}

void axnn_im2col(const axnn_im2col_geom *g, const float *x, float *col)
{
    const int64_t P = (int64_t)g->oh * g->ow;
    for (int c = 0; c < g->c; c++) {
        const float *xc = x + (int64_t)c * g->h * g->w;
        for (int ky = 0; ky < g->kh; ky++)
            for (int kx = 0; kx < g->kw; kx++) {
                float *row = col + ((int64_t)(c * g->kh + ky) * g->kw + kx) * P;
                int lo, hi;
                valid_range(g->ow, g->sw, g->pw, g->w, kx, &lo, &hi);
                for (int oy = 0; oy < g->oh; oy++) {
                    float *dst = row + (int64_t)oy * g->ow;
                    int iy = oy * g->sh - g->ph + ky;
                    if (iy < 0 || iy >= g->h || lo >= hi) {
                        memset(dst, 0, (size_t)g->ow * sizeof(float));
                        continue;
                    }
                    /* first in-image input pixel of this row */
                    const float *src = xc + (int64_t)iy * g->w + lo * g->sw - g->pw + kx;
                    for (int ox = 0; ox < lo; ox++) dst[ox] = 0.0f;
                    if (g->sw == 1)
                        memcpy(dst + lo, src, (size_t)(hi - lo) * sizeof(float));
                    else
                        for (int ox = lo; ox < hi; ox++) dst[ox] = src[(ox - lo) * g->sw];
                    for (int ox = hi; ox < g->ow; ox++) dst[ox] = 0.0f;
                }
            }
    }
}

void axnn_col2im_add(const axnn_im2col_geom *g, const float *col, float *x)
{
    const int64_t P = (int64_t)g->oh * g->ow;
    for (int c = 0; c < g->c; c++) {
        float *xc = x + (int64_t)c * g->h * g->w;
        for (int ky = 0; ky < g->kh; ky++)
            for (int kx = 0; kx < g->kw; kx++) {
                const float *row = col + ((int64_t)(c * g->kh + ky) * g->kw + kx) * P;
                int lo, hi;
                valid_range(g->ow, g->sw, g->pw, g->w, kx, &lo, &hi);
                for (int oy = 0; oy < g->oh; oy++) {
                    int iy = oy * g->sh - g->ph + ky;
                    if (iy < 0 || iy >= g->h) continue;
                    if (lo >= hi) continue;
                    const float *src = row + (int64_t)oy * g->ow;
                    float *dst = xc + (int64_t)iy * g->w + lo * g->sw - g->pw + kx;
                    for (int ox = lo; ox < hi; ox++) dst[(ox - lo) * g->sw] += src[ox];
                }
            }
    }
}
