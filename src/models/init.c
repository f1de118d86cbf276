/* Parameter initializers with PyTorch's formulas (torch.nn.init). */
#include "axnn/models.h"

#include <math.h>

static int64_t fan_out(const axnn_value *w)
{
    int64_t f = w->shape.d[0];
    for (int i = 2; i < w->shape.nd; i++) f *= w->shape.d[i];
    return f;
}

static int64_t fan_in(const axnn_value *w)
{
    int64_t f = w->shape.nd > 1 ? w->shape.d[1] : 1;
    for (int i = 2; i < w->shape.nd; i++) f *= w->shape.d[i];
    return f;
}

void axnn_init_normal(axnn_value *w, float std, axnn_rng *r)
{
    float *p = w->data;
    int64_t n = axnn_shape_numel(&w->shape);
    for (int64_t i = 0; i < n; i++) p[i] = std * axnn_rng_normal(r);
}

/* kaiming_normal_(mode='fan_out', nonlinearity='relu'): std = sqrt(2 / fan_out). */
void axnn_init_kaiming_normal_fan_out(axnn_value *w, axnn_rng *r)
{
    axnn_init_normal(w, sqrtf(2.0f / (float)fan_out(w)), r);
}

/* nn.Linear's reset_parameters: kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), ...);
 * the bias is U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
void axnn_init_torch_linear(axnn_value *w, axnn_value *b, axnn_rng *r)
{
    float bound = 1.0f / sqrtf((float)fan_in(w));
    float *p = w->data;
    int64_t n = axnn_shape_numel(&w->shape);
    for (int64_t i = 0; i < n; i++) p[i] = bound * (2.0f * axnn_rng_uniform(r) - 1.0f);
    if (b) {
        float *q = b->data;
        for (int64_t i = 0; i < b->shape.d[0]; i++) q[i] = bound * (2.0f * axnn_rng_uniform(r) - 1.0f);
    }
}

/* trunc_normal_(std, a=lo, b=hi): normal(0, std) redrawn until it falls in [lo, hi]. timm's ViT
 * uses lo = -2, hi = 2 (absolute bounds), so with std = 0.02 nothing is ever redrawn. */
void axnn_init_trunc_normal(axnn_value *w, float std, float lo, float hi, axnn_rng *r)
{
    float *p = w->data;
    int64_t n = axnn_shape_numel(&w->shape);
    for (int64_t i = 0; i < n; i++) {
        float v;
        do v = std * axnn_rng_normal(r);
        while (!(v >= lo && v <= hi));
        p[i] = v;
    }
}

void axnn_init_constant(axnn_value *w, float v)
{
    float *p = w->data;
    int64_t n = axnn_shape_numel(&w->shape);
    for (int64_t i = 0; i < n; i++) p[i] = v;
}
