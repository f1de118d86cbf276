/* Portable element-wise kernels (the reference) and the run-time choice (see eltwise.h). */
#include "kernels/eltwise/eltwise.h"

#include "axnn/base.h"

#include <math.h>

static void relu_c(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void relu_bwd_c(const float *y, const float *dy, float *dx, int64_t n, bool accumulate)
{
    if (accumulate)
        for (int64_t i = 0; i < n; i++) dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
    else
        for (int64_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

static void add_c(const float *a, const float *b, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

static void acc_c(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

static void moments_c(const float *x, int64_t n, double *s1, double *s2)
{
    double a = 0.0, b = 0.0;
    for (int64_t i = 0; i < n; i++) {
        a += x[i];
        b += (double)x[i] * x[i];
    }
    *s1 += a;
    *s2 += b;
}

static void bn_apply_c(const float *x, const float *res, float *y, int64_t n, float a, float b,
                       bool relu)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] * a + b;
        if (res) v += res[i];
        y[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
}

static inline float masked(const float *dy, const float *out, int64_t i)
{
    return out && !(out[i] > 0.0f) ? 0.0f : dy[i];
}

static void bn_bwd_sums_c(const float *x, const float *dy, const float *out, int64_t n, float mean,
                          float *sdy, float *sdyx, float *dres, bool dres_accumulate)
{
    float r1 = 0.0f, r2 = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float g = masked(dy, out, i);
        r1 += g;
        r2 += g * (x[i] - mean);
        if (dres) dres[i] = dres_accumulate ? dres[i] + g : g;
    }
    *sdy = r1;
    *sdyx = r2;
}

static void bn_bwd_dx_c(const float *x, const float *dy, const float *out, float *dx, int64_t n,
                        float mean, float invstd, float k, float mdy, float mdyx, bool accumulate)
{
    for (int64_t i = 0; i < n; i++) {
        float xhat = (x[i] - mean) * invstd;
        float v = k * (masked(dy, out, i) - mdy - xhat * mdyx);
        dx[i] = accumulate ? dx[i] + v : v;
    }
}

static void maxpool2x2_c(const float *x, float *y, int32_t *idx, int64_t h, int64_t w)
{
    for (int64_t oy = 0; oy < h / 2; oy++)
        for (int64_t ox = 0; ox < w / 2; ox++) {
            const int64_t base = 2 * oy * w + 2 * ox, off[4] = {0, 1, w, w + 1};
            float best = x[base];
            int64_t bi = base;
            for (int q = 1; q < 4 && !isnan(best); q++) {
                float v = x[base + off[q]];
                if (v > best || isnan(v)) {
                    best = v;
                    bi = base + off[q];
                }
            }
            y[oy * (w / 2) + ox] = best;
            if (idx) idx[oy * (w / 2) + ox] = (int32_t)bi;
        }
}

const axnn_eltwise axnn_eltwise_portable = {
    "portable", relu_c, relu_bwd_c, add_c, acc_c, moments_c, bn_apply_c,
    bn_bwd_sums_c, bn_bwd_dx_c, maxpool2x2_c,
};

const axnn_eltwise *axnn_eltwise_get(void)
{
    const axnn_cpu *c = axnn_cpu_features();
    if (c->avx512f && c->avx512bw && c->avx512vl) return &axnn_eltwise_avx512;
    return &axnn_eltwise_portable;
}
