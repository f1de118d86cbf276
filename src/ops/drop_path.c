/* drop_path (stochastic depth, Huang et al. 2016), as timm's DropPath: in training each sample
 * keeps its whole input with probability 1 - p, scaled by 1 / (1 - p), or is zeroed; in eval
 * y = x. It sits on a residual branch, so a dropped sample skips the block.
 *
 * x (N, ...) -> y, same shape. The keep decision of sample n comes from a generator seeded by
 * (graph seed, training step, node, n), as dropout's masks, so it does not depend on threads.
 * State: one byte per sample (the decisions), for backward: dx = dy * keep / (1 - p). */
#include "ops/op.h"

#include <string.h>

static axnn_status dp_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_drop_path_attr *a = nd->attr;
    if (!(a->p >= 0.0f && a->p < 1.0f))
        return axnn_error(AXNN_ERR_ARG, "drop path probability must be in [0, 1) (got %g)", a->p);
    const axnn_value *x = &g->vals[nd->in[0]];
    *out = x->shape;
    *fl = x->flags & AXNN_VF_BATCHED;
    return AXNN_OK;
}

static size_t dp_state(const axnn_graph *g, const axnn_node *nd, int batch) { return (size_t)batch; }

typedef struct dp_task {
    axnn_exec *e;
    axnn_node *nd;
    int64_t img;
    bool drop; /* training with p > 0 */
} dp_task;

static void dp_fwd_task(void *arg, int ith, int nth)
{
    dp_task *t = arg;
    const float p = ((const axnn_drop_path_attr *)t->nd->attr)->p, scale = 1.0f / (1.0f - p);
    const float *x = op_in(t->e, t->nd, 0)->data;
    float *y = op_out(t->e, t->nd)->data;
    const uint8_t *keep = op_state(t->e, t->nd);
    int64_t lo, hi;
    axnn_split(t->e->n, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        const float *src = x + n * t->img;
        float *dst = y + n * t->img;
        if (!t->drop)
            memcpy(dst, src, (size_t)t->img * sizeof(float));
        else if (!keep[n])
            memset(dst, 0, (size_t)t->img * sizeof(float));
        else
            for (int64_t i = 0; i < t->img; i++) dst[i] = src[i] * scale;
    }
}

static void dp_forward(axnn_exec *e, axnn_node *nd)
{
    const float p = ((const axnn_drop_path_attr *)nd->attr)->p;
    dp_task t = {e, nd, per_image(op_in(e, nd, 0)), e->training && p > 0.0f && op_state(e, nd)};
    if (t.drop) {
        uint64_t seed = e->seed ^ (e->step * 0xd1342543de82ef95ull) ^
                        ((uint64_t)(nd - e->g->nodes) << 48) ^ 0x5d0b5d0b5d0bull;
        uint8_t *keep = op_state(e, nd);
        for (int64_t n = 0; n < e->n; n++) {
            axnn_rng r;
            axnn_rng_seed(&r, seed ^ ((uint64_t)(n + 1) * 0x9e3779b97f4a7c15ull));
            keep[n] = axnn_rng_uniform(&r) >= p;
        }
    }
    axnn_pool_run(e->pool, dp_fwd_task, &t);
}

static void dp_bwd_task(void *arg, int ith, int nth)
{
    dp_task *t = arg;
    const float p = ((const axnn_drop_path_attr *)t->nd->attr)->p, scale = 1.0f / (1.0f - p);
    const float *dy = op_out(t->e, t->nd)->grad;
    float *dx = op_in(t->e, t->nd, 0)->grad;
    const uint8_t *keep = op_state(t->e, t->nd);
    const bool acc = op_accum(t->e, t->nd)[0];
    int64_t lo, hi;
    axnn_split(t->e->n, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        const float k = !t->drop ? 1.0f : keep[n] ? scale : 0.0f;
        const float *src = dy + n * t->img;
        float *dst = dx + n * t->img;
        for (int64_t i = 0; i < t->img; i++) dst[i] = acc ? dst[i] + src[i] * k : src[i] * k;
    }
}

static void dp_backward(axnn_exec *e, axnn_node *nd)
{
    if (!in_needs_grad(e, nd, 0)) return;
    const float p = ((const axnn_drop_path_attr *)nd->attr)->p;
    dp_task t = {e, nd, per_image(op_in(e, nd, 0)), p > 0.0f && op_state(e, nd)};
    axnn_pool_run(e->pool, dp_bwd_task, &t);
}

const axnn_op_def axnn_op_drop_path = {
    .name = "drop_path",
    .infer = dp_infer,
    .state_bytes = dp_state,
    .forward = dp_forward,
    .backward = dp_backward,
};
