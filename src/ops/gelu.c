/* gelu: y = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), as torch.nn.GELU() (the exact form, not the
 * tanh approximation). Any shape; element ranges (multiples of 16 floats) are split over
 * threads and run by the kernels of kernels/transformer, whose header states the accuracy.
 * Backward reads the input: dx = dy (Phi(x) + x phi(x)). */
#include "ops/op.h"

#include "kernels/transformer/transformer.h"

static axnn_status gelu_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_value *x = &g->vals[nd->in[0]];
    *out = x->shape;
    *fl = x->flags & AXNN_VF_BATCHED;
    return AXNN_OK;
}

typedef struct gelu_task {
    axnn_exec *e;
    axnn_node *nd;
    int64_t total;
} gelu_task;

static void range16(int64_t total, int ith, int nth, int64_t *lo, int64_t *hi)
{
    axnn_split((total + 15) / 16, ith, nth, lo, hi);
    *lo = *lo * 16 < total ? *lo * 16 : total;
    *hi = *hi * 16 < total ? *hi * 16 : total;
}

static void gelu_fwd_task(void *arg, int ith, int nth)
{
    gelu_task *t = arg;
    int64_t lo, hi;
    range16(t->total, ith, nth, &lo, &hi);
    if (hi > lo)
        axnn_tfm_get()->gelu((const float *)op_in(t->e, t->nd, 0)->data + lo,
                             (float *)op_out(t->e, t->nd)->data + lo, hi - lo);
}

static void gelu_bwd_task(void *arg, int ith, int nth)
{
    gelu_task *t = arg;
    int64_t lo, hi;
    range16(t->total, ith, nth, &lo, &hi);
    const axnn_tensor *x = op_in(t->e, t->nd, 0);
    if (hi > lo)
        axnn_tfm_get()->gelu_bwd((const float *)x->data + lo, op_out(t->e, t->nd)->grad + lo, x->grad + lo,
                                 hi - lo, op_accum(t->e, t->nd)[0]);
}

static void gelu_forward(axnn_exec *e, axnn_node *nd)
{
    gelu_task t = {e, nd, op_numel(e, nd->out)};
    axnn_pool_run(e->pool, gelu_fwd_task, &t);
}

static void gelu_backward(axnn_exec *e, axnn_node *nd)
{
    if (!in_needs_grad(e, nd, 0)) return;
    gelu_task t = {e, nd, op_numel(e, nd->out)};
    axnn_pool_run(e->pool, gelu_bwd_task, &t);
}

const axnn_op_def axnn_op_gelu = {
    .name = "gelu",
    .infer = gelu_infer,
    .forward = gelu_forward,
    .backward = gelu_backward,
};
