/* linear: y = x W^T + b, as torch.nn.Linear.
 *
 * x (N, in) -> y (N, out); W (out, in); b (out). Tokens (N, T, in) -> (N, T, out) are the same
 * computation on N*T rows (a transformer's token-wise linear layers), so numeric modes cover
 * them too. Forward and dx split the rows over threads (or the output columns when there are
 * fewer rows than threads); dW = dy^T x splits the output rows of W, so no thread shares a
 * gradient element and no reduction is needed. db sums each column over the rows in order, in
 * double.
 */
#include "ops/op.h"

#include "kernels/f32-gemm/gemm.h"

#include <string.h>

static axnn_status linear_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_linear_attr *a = nd->attr;
    const axnn_value *x = &g->vals[nd->in[0]], *w = &g->vals[nd->in[1]];
    if (x->shape.nd != 2 && x->shape.nd != 3)
        return axnn_error(AXNN_ERR_SHAPE, "%s: linear needs an (N, in) or (N, T, in) input (flatten first)",
                          nd->name);
    if (w->shape.nd != 2 || w->shape.d[0] != a->out || w->shape.d[1] != x->shape.d[x->shape.nd - 1])
        return axnn_error(AXNN_ERR_SHAPE, "%s: weight shape does not match", nd->name);
    *out = x->shape;
    out->d[out->nd - 1] = a->out;
    *fl = AXNN_VF_BATCHED;
    return AXNN_OK;
}

/* The GEMM configuration for a product with n columns: the default one, unless its panel width
 * does not divide n and another configuration's does (transformer widths such as 128 or 256
 * against the 48-wide AVX-512 panels). Every configuration sums in the same order, so the
 * choice never changes a result. */
static const axnn_f32_gemm_config *cfg_for(int64_t n)
{
    const axnn_f32_gemm_config *d = axnn_f32_gemm_config_get(), *all[8];
    if (n % d->nr == 0) return d;
    int k = axnn_f32_gemm_configs(all, 8);
    for (int i = 0; i < k; i++)
        if (n % all[i]->nr == 0 && all[i]->nr >= 32 && !strncmp(all[i]->name, d->name, strlen(d->name))) return all[i];
    return d;
}

/* Rows of the GEMM for n images: n, or n * T for tokens. */
static int64_t rows_of(const axnn_shape *x, int64_t n) { return x->nd == 3 ? n * x->d[1] : n; }

static size_t linear_scratch(const axnn_graph *g, const axnn_node *nd, int batch, int nth, bool training)
{
    const axnn_linear_attr *a = nd->attr;
    size_t f = (size_t)axnn_sgemm_ws_floats() * sizeof(float) + (size_t)a->out * sizeof(double);
    return f;
}

typedef struct lin_task {
    axnn_exec *e;
    axnn_node *nd;
} lin_task;

static void lin_fwd_task(void *arg, int ith, int nth)
{
    lin_task *t = arg;
    axnn_exec *e = t->e;
    const axnn_linear_attr *a = t->nd->attr;
    const axnn_tensor *x = op_in(e, t->nd, 0), *w = op_in(e, t->nd, 1), *y = op_out(e, t->nd);
    const int64_t IN = w->shape.d[1], OUT = a->out, R = rows_of(&x->shape, e->n);
    const float *X = x->data, *W = w->data, *b = a->bias ? op_in(e, t->nd, 2)->data : NULL;
    float *Y = y->data;
    int64_t r0 = 0, r1 = R, c0 = 0, c1 = OUT;
    if (R >= nth)
        axnn_split(R, ith, nth, &r0, &r1);
    else
        axnn_split(OUT, ith, nth, &c0, &c1);
    if (r1 <= r0 || c1 <= c0) return;
    axnn_sgemm_with(cfg_for(c1 - c0), false, true, r1 - r0, c1 - c0, IN, 1.0f, X + r0 * IN, IN, W + c0 * IN, IN, 0.0f,
               Y + r0 * OUT + c0, OUT, op_scratch(e, ith));
    if (b)
        for (int64_t r = r0; r < r1; r++)
            for (int64_t c = c0; c < c1; c++) Y[r * OUT + c] += b[c];
}

static void linear_forward(axnn_exec *e, axnn_node *nd)
{
    if (op_ext_forward(e, nd, NULL)) return; /* numeric modes (src/quant/linear_q.c) */
    lin_task t = {e, nd};
    axnn_pool_run(e->pool, lin_fwd_task, &t);
}

static void lin_bwd_task(void *arg, int ith, int nth)
{
    lin_task *t = arg;
    axnn_exec *e = t->e;
    axnn_node *nd = t->nd;
    const axnn_linear_attr *a = nd->attr;
    const axnn_tensor *x = op_in(e, nd, 0), *w = op_in(e, nd, 1), *y = op_out(e, nd);
    const int64_t IN = w->shape.d[1], OUT = a->out, N = rows_of(&x->shape, e->n);
    const float *dY = y->grad;
    float *ws = op_scratch(e, ith);
    int64_t lo, hi;
    if (w->grad) { /* dW[o0:o1, :] += dY[:, o0:o1]^T X */
        axnn_split(OUT, ith, nth, &lo, &hi);
        if (hi > lo)
            axnn_sgemm_with(cfg_for(IN), true, false, hi - lo, IN, N, 1.0f, dY + lo, OUT, x->data, IN, 1.0f,
                       w->grad + lo * IN, IN, ws);
        if (a->bias && op_in(e, nd, 2)->grad) { /* row by row: contiguous reads */
            float *db = op_in(e, nd, 2)->grad;
            double *s = (double *)(ws + axnn_sgemm_ws_floats());
            for (int64_t o = lo; o < hi; o++) s[o - lo] = 0.0;
            for (int64_t r = 0; r < N; r++)
                for (int64_t o = lo; o < hi; o++) s[o - lo] += dY[r * OUT + o];
            for (int64_t o = lo; o < hi; o++) db[o] += (float)s[o - lo];
        }
    }
    if (x->grad) { /* dX[r0:r1, :] = dY[r0:r1, :] W */
        axnn_split(N, ith, nth, &lo, &hi);
        if (hi > lo)
            axnn_sgemm_with(cfg_for(IN), false, false, hi - lo, IN, OUT, 1.0f, dY + lo * OUT, OUT, w->data, IN,
                       op_accum(e, nd)[0] ? 1.0f : 0.0f, x->grad + lo * IN, IN, ws);
    }
}

static void linear_backward(axnn_exec *e, axnn_node *nd)
{
    lin_task t = {e, nd};
    axnn_pool_run(e->pool, lin_bwd_task, &t);
}

static int64_t linear_macs(const axnn_graph *g, const axnn_node *nd)
{
    return rows_of(&g->vals[nd->in[0]].shape, 1) * g->vals[nd->in[1]].shape.d[0] * g->vals[nd->in[1]].shape.d[1];
}

const axnn_op_def axnn_op_linear = {
    .name = "linear",
    .flags = AXNN_OPF_PER_IMAGE,
    .infer = linear_infer,
    .scratch_bytes = linear_scratch,
    .forward = linear_forward,
    .backward = linear_backward,
    .macs = linear_macs,
};
