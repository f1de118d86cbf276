/* Portable activation kernels (the reference) and the run-time choice (see act.h). */
#include "kernels/act/act.h"

#include "axnn/base.h"

#include <math.h>

static inline float min_(float a, float b)
{
    return a < b ? a : b;
}
static inline float max_(float a, float b)
{
    return a > b ? a : b;
}

static void fwd_c(const axnn_act *p, const float *x, float *y, int64_t n)
{
    const float a = p->alpha, b = p->beta, sixth = 1.0f / 6.0f;
    switch (p->kind) {
    case AXNN_ACT_HARDSIGMOID:
        for (int64_t i = 0; i < n; i++) y[i] = max_(0.0f, min_(1.0f, a * x[i] + b));
        break;
    case AXNN_ACT_HARDSWISH:
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * max_(0.0f, min_(1.0f, sixth * x[i] + 0.5f));
        break;
    case AXNN_ACT_CLIP:
        for (int64_t i = 0; i < n; i++) y[i] = min_(p->hi, max_(p->lo, x[i]));
        break;
    case AXNN_ACT_LEAKYRELU:
        for (int64_t i = 0; i < n; i++) y[i] = x[i] >= 0.0f ? x[i] : a * x[i];
        break;
    case AXNN_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case AXNN_ACT_TANH:
        for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    }
}

static float grad(const axnn_act *p, float x, float y)
{
    switch (p->kind) {
    case AXNN_ACT_HARDSIGMOID: {
        float t = p->alpha * x + p->beta;
        return t > 0.0f && t < 1.0f ? p->alpha : 0.0f;
    }
    case AXNN_ACT_HARDSWISH:
        return x < -3.0f ? 0.0f : x <= 3.0f ? (2.0f * x + 3.0f) / 6.0f : 1.0f;
    case AXNN_ACT_CLIP:
        return x >= p->lo && x <= p->hi ? 1.0f : 0.0f;
    case AXNN_ACT_LEAKYRELU:
        return x > 0.0f ? 1.0f : p->alpha;
    case AXNN_ACT_SIGMOID:
        return y * (1.0f - y);
    default:
        return 1.0f - y * y;
    }
}

static void bwd_c(const axnn_act *p, const float *x, const float *y, const float *dy, float *dx,
                  int64_t n)
{
    for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * grad(p, x ? x[i] : 0.0f, y ? y[i] : 0.0f);
}

const axnn_act_kernels axnn_act_portable = {"portable", fwd_c, bwd_c};

void axnn_act_bwd_ref(const axnn_act *p, const float *x, const float *y, const float *dy, float *dx,
                      int64_t n)
{
    bwd_c(p, x, y, dy, dx, n);
}

int axnn_act_variants(const axnn_act_kernels **out, int max)
{
    const axnn_cpu *c = axnn_cpu_features();
    int n = 0;
    if (n < max) out[n++] = &axnn_act_portable;
    if (c->avx2 && c->fma && n < max) out[n++] = &axnn_act_avx2;
    if (c->avx512f && c->avx512bw && c->avx512vl && n < max) out[n++] = &axnn_act_avx512;
    return n;
}

const axnn_act_kernels *axnn_act_get(void)
{
    const axnn_act_kernels *v[3];
    return v[axnn_act_variants(v, 3) - 1];
}
