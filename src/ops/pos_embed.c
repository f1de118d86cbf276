/* pos_embed: adds a learned position embedding to every image's tokens, as timm's
 * x + pos_embed.
 *
 * x (N, T, D), pos_embed (1, T, D) -> y (N, T, D). Backward: dx = dy, and dpos += sum over
 * images of dy, summed image by image into the parameter gradient by the thread that owns those
 * elements (ranges of T*D), so the order never depends on the pool. */
#include "ops/op.h"

#include <string.h>

static axnn_status pos_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_value *x = &g->vals[nd->in[0]], *p = &g->vals[nd->in[1]];
    if (x->shape.nd != 3) return axnn_error(AXNN_ERR_SHAPE, "%s: pos_embed needs (N, T, D) tokens", nd->name);
    if (p->shape.nd != 3 || p->shape.d[0] != 1 || p->shape.d[1] != x->shape.d[1] || p->shape.d[2] != x->shape.d[2])
        return axnn_error(AXNN_ERR_SHAPE, "%s: position embedding must be (1, %lld, %lld)", nd->name,
                          (long long)x->shape.d[1], (long long)x->shape.d[2]);
    *out = x->shape;
    *fl = x->flags & AXNN_VF_BATCHED;
    return AXNN_OK;
}

typedef struct pos_task {
    axnn_exec *e;
    axnn_node *nd;
    int64_t img;
} pos_task;

static void pos_fwd_task(void *arg, int ith, int nth)
{
    pos_task *t = arg;
    const float *x = op_in(t->e, t->nd, 0)->data, *p = op_in(t->e, t->nd, 1)->data;
    float *y = op_out(t->e, t->nd)->data;
    int64_t lo, hi;
    axnn_split(t->e->n, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++)
        for (int64_t i = 0; i < t->img; i++) y[n * t->img + i] = x[n * t->img + i] + p[i];
}

static void pos_bwd_task(void *arg, int ith, int nth)
{
    pos_task *t = arg;
    axnn_node *nd = t->nd;
    const float *dy = op_out(t->e, nd)->grad;
    float *dx = op_in(t->e, nd, 0)->grad, *dp = op_in(t->e, nd, 1)->grad;
    int64_t lo, hi;
    axnn_split(t->img, ith, nth, &lo, &hi);
    for (int64_t n = 0; n < t->e->n; n++) {
        const float *src = dy + n * t->img;
        if (dp)
            for (int64_t i = lo; i < hi; i++) dp[i] += src[i];
        if (!dx) continue;
        float *dst = dx + n * t->img;
        if (op_accum(t->e, nd)[0])
            for (int64_t i = lo; i < hi; i++) dst[i] += src[i];
        else
            memcpy(dst + lo, src + lo, (size_t)(hi - lo) * sizeof(float));
    }
}

static void pos_forward(axnn_exec *e, axnn_node *nd)
{
    pos_task t = {e, nd, per_image(op_in(e, nd, 0))};
    axnn_pool_run(e->pool, pos_fwd_task, &t);
}

static void pos_backward(axnn_exec *e, axnn_node *nd)
{
    pos_task t = {e, nd, per_image(op_in(e, nd, 0))};
    axnn_pool_run(e->pool, pos_bwd_task, &t);
}

const axnn_op_def axnn_op_pos_embed = {
    .name = "pos_embed",
    .infer = pos_infer,
    .forward = pos_forward,
    .backward = pos_backward,
};
