/* cls_token: prepends a learned class token to every image's tokens, as timm's
 * torch.cat((cls_token.expand(N, -1, -1), x), dim=1).
 *
 * x (N, P, D), cls_token (1, 1, D) -> y (N, 1 + P, D). Backward: dx = dy[:, 1:], and
 * dcls += sum over images of dy[:, 0], summed image by image into the parameter gradient by the
 * thread that owns those elements (ranges of D), so the order never depends on the pool. */
#include "ops/op.h"

#include <string.h>

static axnn_status cls_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_value *x = &g->vals[nd->in[0]], *c = &g->vals[nd->in[1]];
    if (x->shape.nd != 3) return axnn_error(AXNN_ERR_SHAPE, "%s: cls_token needs (N, P, D) tokens", nd->name);
    if (c->shape.nd != 3 || c->shape.d[0] != 1 || c->shape.d[1] != 1 || c->shape.d[2] != x->shape.d[2])
        return axnn_error(AXNN_ERR_SHAPE, "%s: class token must be (1, 1, %lld)", nd->name, (long long)x->shape.d[2]);
    *out = (axnn_shape){3, {x->shape.d[0], x->shape.d[1] + 1, x->shape.d[2]}};
    *fl = x->flags & AXNN_VF_BATCHED;
    return AXNN_OK;
}

typedef struct cls_task {
    axnn_exec *e;
    axnn_node *nd;
    int64_t p, d;
} cls_task;

static void cls_fwd_task(void *arg, int ith, int nth)
{
    cls_task *t = arg;
    const float *x = op_in(t->e, t->nd, 0)->data, *c = op_in(t->e, t->nd, 1)->data;
    float *y = op_out(t->e, t->nd)->data;
    const int64_t in_img = t->p * t->d, out_img = in_img + t->d;
    int64_t lo, hi;
    axnn_split(t->e->n, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        memcpy(y + n * out_img, c, (size_t)t->d * sizeof(float));
        memcpy(y + n * out_img + t->d, x + n * in_img, (size_t)in_img * sizeof(float));
    }
}

static void cls_bwd_task(void *arg, int ith, int nth)
{
    cls_task *t = arg;
    axnn_node *nd = t->nd;
    const float *dy = op_out(t->e, nd)->grad;
    float *dx = op_in(t->e, nd, 0)->grad, *dc = op_in(t->e, nd, 1)->grad;
    const int64_t in_img = t->p * t->d, out_img = in_img + t->d;
    int64_t lo, hi;
    axnn_split(t->e->n, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi && dx; n++) {
        const float *src = dy + n * out_img + t->d;
        float *dst = dx + n * in_img;
        if (op_accum(t->e, nd)[0])
            for (int64_t i = 0; i < in_img; i++) dst[i] += src[i];
        else
            memcpy(dst, src, (size_t)in_img * sizeof(float));
    }
    if (!dc) return;
    axnn_split(t->d, ith, nth, &lo, &hi);
    for (int64_t n = 0; n < t->e->n; n++)
        for (int64_t j = lo; j < hi; j++) dc[j] += dy[n * out_img + j];
}

static cls_task make_task(axnn_exec *e, axnn_node *nd)
{
    const axnn_tensor *x = op_in(e, nd, 0);
    return (cls_task){e, nd, x->shape.d[1], x->shape.d[2]};
}

static void cls_forward(axnn_exec *e, axnn_node *nd)
{
    cls_task t = make_task(e, nd);
    axnn_pool_run(e->pool, cls_fwd_task, &t);
}

static void cls_backward(axnn_exec *e, axnn_node *nd)
{
    cls_task t = make_task(e, nd);
    axnn_pool_run(e->pool, cls_bwd_task, &t);
}

const axnn_op_def axnn_op_cls_token = {
    .name = "cls_token",
    .infer = cls_infer,
    .forward = cls_forward,
    .backward = cls_backward,
};
