/* flatten: (N, d1, d2, ...) -> (N, d1*d2*...), as torch.flatten(x, 1). A copy in both
 * directions (it only ever sits on small tensors before a classifier). */
#include "ops/op.h"

#include <string.h>

static axnn_status flatten_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_value *x = &g->vals[nd->in[0]];
    *out = (axnn_shape){2, {x->shape.d[0], per_image(x)}};
    *fl = AXNN_VF_BATCHED;
    return AXNN_OK;
}

static void flatten_forward(axnn_exec *e, axnn_node *nd)
{
    const axnn_tensor *x = op_in(e, nd, 0);
    memcpy(op_out(e, nd)->data, x->data, (size_t)(e->n * per_image(x)) * sizeof(float));
}

static void flatten_backward(axnn_exec *e, axnn_node *nd)
{
    const axnn_tensor *x = op_in(e, nd, 0);
    if (!x->grad) return;
    const float *dy = op_out(e, nd)->grad;
    int64_t n = e->n * per_image(x);
    if (op_accum(e, nd)[0])
        for (int64_t i = 0; i < n; i++) x->grad[i] += dy[i];
    else
        memcpy(x->grad, dy, (size_t)n * sizeof(float));
}

const axnn_op_def axnn_op_flatten = {
    .name = "flatten",
    .flags = AXNN_OPF_PER_IMAGE,
    .infer = flatten_infer,
    .forward = flatten_forward,
    .backward = flatten_backward,
};
