/* tokens: a feature map as a sequence of tokens, (N, C, H, W) -> (N, H*W, C), as
 * x.flatten(2).transpose(1, 2) after timm's patch embedding (token p = row-major pixel p).
 * A transpose of each image's (C, H*W) plane in both directions, in 16 x 16 tiles; images are
 * split over threads. */
#include "ops/op.h"

static axnn_status tokens_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_value *x = &g->vals[nd->in[0]];
    if (x->shape.nd != 4) return axnn_error(AXNN_ERR_SHAPE, "%s: tokens needs an (N, C, H, W) input", nd->name);
    *out = (axnn_shape){3, {x->shape.d[0], x->shape.d[2] * x->shape.d[3], x->shape.d[1]}};
    *fl = x->flags & AXNN_VF_BATCHED;
    return AXNN_OK;
}

typedef struct tok_task {
    axnn_exec *e;
    axnn_node *nd;
    int64_t c, p;
} tok_task;

/* dst (cols, rows) (+)= transpose of src (rows, cols), both contiguous. */
static void transpose(const float *src, float *dst, int64_t rows, int64_t cols, bool accumulate)
{
    for (int64_t r0 = 0; r0 < rows; r0 += 16)
        for (int64_t c0 = 0; c0 < cols; c0 += 16) {
            int64_t r1 = r0 + 16 < rows ? r0 + 16 : rows, c1 = c0 + 16 < cols ? c0 + 16 : cols;
            for (int64_t c = c0; c < c1; c++)
                for (int64_t r = r0; r < r1; r++) {
                    float v = src[r * cols + c];
                    dst[c * rows + r] = accumulate ? dst[c * rows + r] + v : v;
                }
        }
}

static void tok_fwd_task(void *arg, int ith, int nth)
{
    tok_task *t = arg;
    const float *x = op_in(t->e, t->nd, 0)->data;
    float *y = op_out(t->e, t->nd)->data;
    int64_t lo, hi;
    axnn_split(t->e->n, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) transpose(x + n * t->c * t->p, y + n * t->c * t->p, t->c, t->p, false);
}

static void tok_bwd_task(void *arg, int ith, int nth)
{
    tok_task *t = arg;
    const float *dy = op_out(t->e, t->nd)->grad;
    float *dx = op_in(t->e, t->nd, 0)->grad;
    int64_t lo, hi;
    axnn_split(t->e->n, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++)
        transpose(dy + n * t->c * t->p, dx + n * t->c * t->p, t->p, t->c, op_accum(t->e, t->nd)[0]);
}

static tok_task make_task(axnn_exec *e, axnn_node *nd)
{
    const axnn_tensor *x = op_in(e, nd, 0);
    return (tok_task){e, nd, x->shape.d[1], x->shape.d[2] * x->shape.d[3]};
}

static void tokens_forward(axnn_exec *e, axnn_node *nd)
{
    tok_task t = make_task(e, nd);
    axnn_pool_run(e->pool, tok_fwd_task, &t);
}

static void tokens_backward(axnn_exec *e, axnn_node *nd)
{
    if (!in_needs_grad(e, nd, 0)) return;
    tok_task t = make_task(e, nd);
    axnn_pool_run(e->pool, tok_bwd_task, &t);
}

const axnn_op_def axnn_op_tokens = {
    .name = "tokens",
    .infer = tokens_infer,
    .forward = tokens_forward,
    .backward = tokens_backward,
};
