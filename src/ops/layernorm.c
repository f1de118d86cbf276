/* layernorm, as torch.nn.LayerNorm(D, eps) over the last dimension.
 *
 * x (N, ..., D) -> y, same shape; weight (D), bias (D). Every row of D floats (a token) is
 * normalized on its own: y = (x - mean) / sqrt(var + eps) * weight + bias, biased variance.
 * Rows are split over threads and run by the row kernels of kernels/transformer. Training
 * keeps mean and rstd = 1 / sqrt(var + eps) per row for backward (2 floats per token).
 * Backward (kernels/transformer): dx per row; dweight and dbias are summed by each thread over
 * its rows into a private slice of scratch, then added in thread order, so a result depends on
 * the thread count only.
 */
#include "ops/op.h"

#include "kernels/transformer/transformer.h"

#include <string.h>

static axnn_status ln_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_value *x = &g->vals[nd->in[0]];
    if (x->shape.nd < 2) return axnn_error(AXNN_ERR_SHAPE, "%s: layernorm needs (N, ..., D)", nd->name);
    const int64_t d = x->shape.d[x->shape.nd - 1];
    for (int i = 1; i <= 2; i++)
        if (g->vals[nd->in[i]].shape.nd != 1 || g->vals[nd->in[i]].shape.d[0] != d)
            return axnn_error(AXNN_ERR_SHAPE, "%s: parameter %d does not have %lld elements", nd->name, i,
                              (long long)d);
    *out = x->shape;
    *fl = x->flags & AXNN_VF_BATCHED;
    return AXNN_OK;
}

static int64_t dim_of(const axnn_graph *g, const axnn_node *nd)
{
    const axnn_value *x = &g->vals[nd->in[0]];
    return x->shape.d[x->shape.nd - 1];
}

static int64_t rows_per_image(const axnn_graph *g, const axnn_node *nd)
{
    const axnn_value *x = &g->vals[nd->in[0]];
    return per_image(x) / dim_of(g, nd);
}

static size_t ln_state(const axnn_graph *g, const axnn_node *nd, int batch)
{
    return 2 * (size_t)batch * (size_t)rows_per_image(g, nd) * sizeof(float);
}

/* Per thread, in training plans: partial dweight and dbias, and a row for an unneeded dx. */
static size_t ln_scratch(const axnn_graph *g, const axnn_node *nd, int batch, int nth, bool training)
{
    return training ? 3 * (size_t)dim_of(g, nd) * sizeof(float) : 0;
}

typedef struct ln_task {
    axnn_exec *e;
    axnn_node *nd;
    int64_t rows, d;
} ln_task;

static void ln_fwd_task(void *arg, int ith, int nth)
{
    ln_task *t = arg;
    const axnn_layernorm_attr *a = t->nd->attr;
    const float *x = op_in(t->e, t->nd, 0)->data, *w = op_in(t->e, t->nd, 1)->data;
    const float *b = op_in(t->e, t->nd, 2)->data;
    float *y = op_out(t->e, t->nd)->data, *saved = t->e->training ? op_state(t->e, t->nd) : NULL;
    const axnn_tfm_kernels *k = axnn_tfm_get();
    int64_t lo, hi;
    axnn_split(t->rows, ith, nth, &lo, &hi);
    for (int64_t r = lo; r < hi; r++) {
        float mean, rstd;
        k->layernorm(x + r * t->d, w, b, y + r * t->d, t->d, a->eps, &mean, &rstd);
        if (saved) {
            saved[2 * r] = mean;
            saved[2 * r + 1] = rstd;
        }
    }
}

static void ln_forward(axnn_exec *e, axnn_node *nd)
{
    ln_task t = {e, nd, e->n * rows_per_image(e->g, nd), dim_of(e->g, nd)};
    axnn_pool_run(e->pool, ln_fwd_task, &t);
}

static void ln_bwd_task(void *arg, int ith, int nth)
{
    ln_task *t = arg;
    axnn_node *nd = t->nd;
    const axnn_tensor *x = op_in(t->e, nd, 0);
    const float *w = op_in(t->e, nd, 1)->data, *dy = op_out(t->e, nd)->grad, *saved = op_state(t->e, nd);
    float *dw = op_scratch(t->e, ith), *db = dw + t->d, *sink = db + t->d;
    memset(dw, 0, 2 * (size_t)t->d * sizeof(float));
    const axnn_tfm_kernels *k = axnn_tfm_get();
    int64_t lo, hi;
    axnn_split(t->rows, ith, nth, &lo, &hi);
    for (int64_t r = lo; r < hi; r++) {
        float *dx = x->grad ? x->grad + r * t->d : sink;
        k->layernorm_bwd((const float *)x->data + r * t->d, w, dy + r * t->d, dx, dw, db, t->d,
                         saved[2 * r], saved[2 * r + 1], x->grad ? op_accum(t->e, nd)[0] : false);
    }
}

static void ln_backward(axnn_exec *e, axnn_node *nd)
{
    ln_task t = {e, nd, e->n * rows_per_image(e->g, nd), dim_of(e->g, nd)};
    axnn_pool_run(e->pool, ln_bwd_task, &t);
    float *gw = op_in(e, nd, 1)->grad, *gb = op_in(e, nd, 2)->grad;
    for (int th = 0; th < e->nth; th++) {
        const float *dw = op_scratch(e, th), *db = dw + t.d;
        for (int64_t i = 0; i < t.d; i++) {
            if (gw) gw[i] += dw[i];
            if (gb) gb[i] += db[i];
        }
    }
}

const axnn_op_def axnn_op_layernorm = {
    .name = "layernorm",
    .infer = ln_infer,
    .state_bytes = ln_state,
    .scratch_bytes = ln_scratch,
    .forward = ln_forward,
    .backward = ln_backward,
};
