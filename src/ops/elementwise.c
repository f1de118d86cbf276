/* Element-wise nodes: relu (y = max(x, 0)) and add (y = a + b, same shapes). Both are split
 * over threads by element ranges (multiples of 16 floats, so that vectors stay aligned with
 * the tensor) and run the kernels of kernels/eltwise. relu's backward masks by the output
 * (y > 0). */
#include "ops/op.h"

#include "kernels/eltwise/eltwise.h"

#include <string.h>

static axnn_status same_shape_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_value *x = &g->vals[nd->in[0]];
    for (int i = 1; i < nd->nin; i++)
        if (!axnn_shape_eq(&x->shape, &g->vals[nd->in[i]].shape)) {
            char a[64], b[64];
            return axnn_error(AXNN_ERR_SHAPE, "%s: shapes %s and %s differ", nd->op->name,
                              axnn_shape_str(&x->shape, a, sizeof a),
                              axnn_shape_str(&g->vals[nd->in[i]].shape, b, sizeof b));
        }
    *out = x->shape;
    *fl = x->flags & AXNN_VF_BATCHED;
    return AXNN_OK;
}

typedef struct ew_task {
    axnn_exec *e;
    axnn_node *nd;
    int64_t total;
} ew_task;

/* This thread's element range [*lo, *hi) of `total`, cut at multiples of 16. */
static void split16(int64_t total, int ith, int nth, int64_t *lo, int64_t *hi)
{
    axnn_split((total + 15) / 16, ith, nth, lo, hi);
    *lo *= 16;
    *hi = *hi * 16 < total ? *hi * 16 : total;
    if (*lo > total) *lo = total;
}

static void relu_fwd_task(void *arg, int ith, int nth)
{
    ew_task *t = arg;
    const float *x = op_in(t->e, t->nd, 0)->data;
    float *y = op_out(t->e, t->nd)->data;
    int64_t lo, hi;
    split16(t->total, ith, nth, &lo, &hi);
    if (hi > lo) axnn_eltwise_get()->relu(x + lo, y + lo, hi - lo);
}

static void relu_bwd_task(void *arg, int ith, int nth)
{
    ew_task *t = arg;
    const axnn_tensor *yv = op_out(t->e, t->nd);
    const float *y = yv->data, *dy = yv->grad;
    float *dx = op_in(t->e, t->nd, 0)->grad;
    int64_t lo, hi;
    split16(t->total, ith, nth, &lo, &hi);
    if (hi > lo) axnn_eltwise_get()->relu_bwd(y + lo, dy + lo, dx + lo, hi - lo, op_accum(t->e, t->nd)[0]);
}

static void relu_forward(axnn_exec *e, axnn_node *nd)
{
    ew_task t = {e, nd, op_numel(e, nd->out)};
    axnn_pool_run(e->pool, relu_fwd_task, &t);
}

static void relu_backward(axnn_exec *e, axnn_node *nd)
{
    if (!in_needs_grad(e, nd, 0)) return;
    ew_task t = {e, nd, op_numel(e, nd->out)};
    axnn_pool_run(e->pool, relu_bwd_task, &t);
}

const axnn_op_def axnn_op_relu = {
    .name = "relu",
    .flags = AXNN_OPF_PER_IMAGE | AXNN_OPF_FUSE_RELU,
    .infer = same_shape_infer,
    .forward = relu_forward,
    .backward = relu_backward,
};

static void add_fwd_task(void *arg, int ith, int nth)
{
    ew_task *t = arg;
    const float *a = op_in(t->e, t->nd, 0)->data, *b = op_in(t->e, t->nd, 1)->data;
    float *y = op_out(t->e, t->nd)->data;
    int64_t lo, hi;
    split16(t->total, ith, nth, &lo, &hi);
    if (hi > lo) axnn_eltwise_get()->add(a + lo, b + lo, y + lo, hi - lo);
}

static void add_bwd_task(void *arg, int ith, int nth)
{
    ew_task *t = arg;
    const float *dy = op_out(t->e, t->nd)->grad;
    int64_t lo, hi;
    split16(t->total, ith, nth, &lo, &hi);
    if (hi <= lo) return;
    for (int k = 0; k < 2; k++) {
        float *dx = op_in(t->e, t->nd, k)->grad;
        if (!dx) continue;
        if (op_accum(t->e, t->nd)[k])
            axnn_eltwise_get()->acc(dy + lo, dx + lo, hi - lo);
        else
            memcpy(dx + lo, dy + lo, (size_t)(hi - lo) * sizeof(float));
    }
}

static void add_forward(axnn_exec *e, axnn_node *nd)
{
    ew_task t = {e, nd, op_numel(e, nd->out)};
    axnn_pool_run(e->pool, add_fwd_task, &t);
}

static void add_backward(axnn_exec *e, axnn_node *nd)
{
    ew_task t = {e, nd, op_numel(e, nd->out)};
    axnn_pool_run(e->pool, add_bwd_task, &t);
}

const axnn_op_def axnn_op_add = {
    .name = "add",
    .flags = AXNN_OPF_PER_IMAGE | AXNN_OPF_FUSE_ADD,
    .infer = same_shape_infer,
    .forward = add_forward,
    .backward = add_backward,
};
