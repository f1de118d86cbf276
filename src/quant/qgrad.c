/* Table-derived gradient of quantized conv2d and linear nodes (axnn_quant_cfg.grad =
 * AXNN_GRAD_TABLE; the factorization is explained in src/quant/grad_table.c).
 *
 * The float backward of the node runs first (the straight-through part: the exact product's
 * slopes, b for the activation and a for the weight, on the float tensors). These functions then
 * add the error slopes' share, with a = q(x) = clamp(rint(x / s_x), -127, 127) and b = the
 * node's quantized weights:
 *   conv    dx_n += sum_i ua_i(a_n) . col2im(W_i^T dy_n),   W_i[o, k] = s_w[o] va_i(b[o, k])
 *           dW   += sum_i s_x vb_i(b) . sum_n dy_n im2col(ub_i(a_n))^T
 *   linear  the same with the GEMMs of a linear layer (rows = images, or tokens).
 * Images are split over threads; each thread adds its weight-gradient share into a private
 * buffer, and the buffers are added in thread order (deterministic for a thread count). The
 * buffers are allocated per call: this path is for studies of the gradient, not for speed.
 */
#include "ops/op.h"
#include "quant/qgrad.h"

#include "kernels/f32-gemm/gemm.h"
#include "kernels/im2col/im2col.h"
#include "quant/grad_table.h"
#include "quant/qstate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool axnn_qgrad_table_on(const axnn_graph *g, const axnn_node *nd)
{
    const axnn_qnode *q = axnn_qnode_of(nd);
    const axnn_quant_state *st = axnn_quant_state_of(g);
    return q && st && st->cfg.grad == AXNN_GRAD_TABLE && q->mode == AXNN_NUM_TABLE && !q->qm->exact &&
           q->qm->mul && q->in_scale > 0.0f;
}

static inline int qa(float x, float inv)
{
    float v = rintf(x * inv);
    return (int)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v) + 128;
}

typedef struct qg_task {
    axnn_exec *e;
    axnn_node *nd;
    const axnn_qnode *q;
    const axnn_tgrad *tg;
    axnn_im2col_geom geo;
    int64_t K, P, M, img_in, img_out;
    float *Wi;      /* ra x M x K */
    float *part;    /* nth x rb x M x K */
    float *ws;      /* nth x per-thread workspace */
    int64_t ws_per;
} qg_task;

static void conv_task(void *arg, int ith, int nth)
{
    qg_task *t = arg;
    axnn_exec *e = t->e;
    const axnn_tensor *x = op_in(e, t->nd, 0), *y = op_out(e, t->nd);
    const float inv = 1.0f / t->q->in_scale;
    float *col = t->ws + ith * t->ws_per, *tmp = col + t->K * t->P, *map = tmp + t->img_in,
          *gws = map + t->img_in, *part = t->part + (int64_t)ith * t->tg->rb * t->M * t->K;
    int64_t lo, hi;
    axnn_split(e->n, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        const float *xn = (const float *)x->data + n * t->img_in, *dyn = y->grad + n * t->img_out;
        for (int i = 0; i < t->tg->ra && x->grad; i++) {
            axnn_sgemm(true, false, t->K, t->P, t->M, 1.0f, t->Wi + i * t->M * t->K, t->K, dyn, t->P, 0.0f, col, t->P, gws);
            memset(tmp, 0, (size_t)t->img_in * sizeof(float));
            axnn_col2im_add(&t->geo, col, tmp);
            float *dx = x->grad + n * t->img_in;
            for (int64_t j = 0; j < t->img_in; j++) dx[j] += t->tg->ua[i][qa(xn[j], inv)] * tmp[j];
        }
        for (int i = 0; i < t->tg->rb && op_in(e, t->nd, 1)->grad; i++) {
            for (int64_t j = 0; j < t->img_in; j++) map[j] = t->tg->ub[i][qa(xn[j], inv)];
            axnn_im2col(&t->geo, map, col);
            axnn_sgemm(false, true, t->M, t->K, t->P, 1.0f, dyn, t->P, col, t->P, 1.0f, part + i * t->M * t->K, t->K, gws);
        }
    }
}

/* dW += s_x vb_i(b) . (sum over threads of the partial G_i), in thread order. */
static void add_dw(qg_task *t, int nth)
{
    float *dw = op_in(t->e, t->nd, 1)->grad;
    if (!dw) return;
    const int64_t MK = t->M * t->K;
    for (int i = 0; i < t->tg->rb; i++)
        for (int64_t j = 0; j < MK; j++) {
            float s = 0.0f;
            for (int th = 0; th < nth; th++) s += t->part[((int64_t)th * t->tg->rb + i) * MK + j];
            dw[j] += t->q->in_scale * t->tg->vb[i][t->q->wq[j] + 128] * s;
        }
}

static bool setup(qg_task *t, int nth, int64_t ws_per)
{
    const int64_t MK = t->M * t->K;
    t->Wi = malloc(sizeof(float) * (size_t)((t->tg->ra ? t->tg->ra : 1) * MK));
    t->part = calloc((size_t)(nth * (t->tg->rb ? t->tg->rb : 1) * MK), sizeof(float));
    t->ws_per = ws_per;
    t->ws = axnn_alloc(sizeof(float) * (size_t)(nth * ws_per));
    if (!t->Wi || !t->part || !t->ws) return false;
    for (int i = 0; i < t->tg->ra; i++)
        for (int64_t o = 0; o < t->M; o++)
            for (int64_t k = 0; k < t->K; k++)
                t->Wi[i * MK + o * t->K + k] = t->q->w_scale[o] * t->tg->va[i][t->q->wq[o * t->K + k] + 128];
    return true;
}

static void cleanup(qg_task *t)
{
    free(t->Wi);
    free(t->part);
    axnn_free(t->ws);
}

void axnn_conv2d_qgrad(axnn_exec *e, axnn_node *nd)
{
    const axnn_qnode *q = axnn_qnode_of(nd);
    const axnn_tgrad *tg = axnn_tgrad_get(q->qm->mul->table);
    if (!tg || (tg->ra == 0 && tg->rb == 0)) return;
    const axnn_conv2d_attr *a = nd->attr;
    const axnn_tensor *x = op_in(e, nd, 0), *y = op_out(e, nd);
    qg_task t = {e, nd, q, tg};
    t.geo = (axnn_im2col_geom){(int)x->shape.d[1], (int)x->shape.d[2], (int)x->shape.d[3], a->kh, a->kw, a->sh, a->sw,
                               a->ph, a->pw, (int)y->shape.d[2], (int)y->shape.d[3]};
    t.K = (int64_t)t.geo.c * a->kh * a->kw;
    t.P = (int64_t)t.geo.oh * t.geo.ow;
    t.M = a->cout;
    t.img_in = per_image(x);
    t.img_out = per_image(y);
    const int nth = e->nth;
    if (setup(&t, nth, t.K * t.P + 2 * t.img_in + axnn_sgemm_ws_floats() + 16)) {
        axnn_pool_run(e->pool, conv_task, &t);
        add_dw(&t, nth);
    }
    cleanup(&t);
}

void axnn_linear_qgrad(axnn_exec *e, axnn_node *nd)
{
    const axnn_qnode *q = axnn_qnode_of(nd);
    const axnn_tgrad *tg = axnn_tgrad_get(q->qm->mul->table);
    if (!tg || (tg->ra == 0 && tg->rb == 0)) return;
    const axnn_tensor *x = op_in(e, nd, 0), *y = op_out(e, nd);
    qg_task t = {e, nd, q, tg};
    t.M = q->rows;
    t.K = q->K;
    const int64_t R = e->n * per_image(x) / t.K; /* rows: images, or tokens */
    if (!setup(&t, 1, R * t.K + axnn_sgemm_ws_floats() + 16)) {
        cleanup(&t);
        return;
    }
    const float inv = 1.0f / q->in_scale, *X = x->data, *dY = y->grad;
    float *tmp = t.ws, *gws = tmp + R * t.K;
    for (int i = 0; i < tg->ra && x->grad; i++) { /* dx += ua(a) . (dY Wi) */
        axnn_sgemm(false, false, R, t.K, t.M, 1.0f, dY, t.M, t.Wi + i * t.M * t.K, t.K, 0.0f, tmp, t.K, gws);
        for (int64_t j = 0; j < R * t.K; j++) x->grad[j] += tg->ua[i][qa(X[j], inv)] * tmp[j];
    }
    for (int i = 0; i < tg->rb && op_in(e, nd, 1)->grad; i++) { /* G_i = dY^T ub(a) */
        for (int64_t j = 0; j < R * t.K; j++) tmp[j] = tg->ub[i][qa(X[j], inv)];
        axnn_sgemm(true, false, t.M, t.K, R, 1.0f, dY, t.M, tmp, t.K, 0.0f, t.part + i * t.M * t.K, t.K, gws);
    }
    add_dw(&t, 1);
    cleanup(&t);
}
