/* cls_pool: the class token of every image, as timm's x[:, 0] in forward_head.
 * x (N, T, D) -> y (N, D). Backward: dx[:, 0] (+)= dy, and the other tokens get no gradient
 * (zeros, or left as they are when accumulating). */
#include "ops/op.h"

#include <string.h>

static axnn_status pool_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_value *x = &g->vals[nd->in[0]];
    if (x->shape.nd != 3) return axnn_error(AXNN_ERR_SHAPE, "%s: cls_pool needs (N, T, D) tokens", nd->name);
    *out = (axnn_shape){2, {x->shape.d[0], x->shape.d[2]}};
    *fl = x->flags & AXNN_VF_BATCHED;
    return AXNN_OK;
}

static void pool_forward(axnn_exec *e, axnn_node *nd)
{
    const axnn_tensor *x = op_in(e, nd, 0);
    const int64_t d = x->shape.d[2], img = per_image(x);
    float *y = op_out(e, nd)->data;
    for (int64_t n = 0; n < e->n; n++) memcpy(y + n * d, (const float *)x->data + n * img, (size_t)d * sizeof(float));
}

static void pool_backward(axnn_exec *e, axnn_node *nd)
{
    const axnn_tensor *x = op_in(e, nd, 0);
    if (!x->grad) return;
    const int64_t d = x->shape.d[2], img = per_image(x);
    const float *dy = op_out(e, nd)->grad;
    for (int64_t n = 0; n < e->n; n++) {
        float *dx = x->grad + n * img;
        if (op_accum(e, nd)[0]) {
            for (int64_t j = 0; j < d; j++) dx[j] += dy[n * d + j];
        } else {
            memcpy(dx, dy + n * d, (size_t)d * sizeof(float));
            memset(dx + d, 0, (size_t)(img - d) * sizeof(float));
        }
    }
}

const axnn_op_def axnn_op_cls_pool = {
    .name = "cls_pool",
    .infer = pool_infer,
    .forward = pool_forward,
    .backward = pool_backward,
};
