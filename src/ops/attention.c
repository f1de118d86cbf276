/* attention: multi-head scaled dot-product self-attention, the core of timm's Attention
 * between its qkv and proj linear layers (which are ordinary linear nodes here, so numeric
 * modes cover them like any other layer).
 *
 * qkv (N, T, 3D) -> y (N, T, D), H heads of size hd = D / H. Token t of image n holds, as timm's
 * qkv.reshape(N, T, 3, H, hd): q of head h at [h*hd, (h+1)*hd), k at D + h*hd, v at 2D + h*hd.
 * For each (image, head) pair, with Q, K, V the (T, hd) slices read in place (row stride 3D):
 *   S = Q K^T / sqrt(hd)   (T, T)   K transposed into scratch, the scale folded into the GEMM
 *   P = softmax(S) by rows          in place, the row kernel of kernels/transformer
 *   O = P V                (T, hd)  written in place into y (row stride D)
 * The products are the small unpacked GEMM of kernels/transformer (6 x 64 register tiles read
 * straight from the qkv rows): a pair is too small for the packing of the general GEMM to pay.
 * Only one T x T block per thread exists at a time (in scratch, L1/L2-resident, so the softmax
 * runs on the scores while they are hot); pairs are split over threads.
 * Nothing is kept for backward beyond qkv and y: backward recomputes S and its softmax for each
 * pair, the same kernels on the same inputs, so P is bit-identical to the forward's. That costs
 * one small GEMM per pair (T^2 hd MACs, a few percent of a block) instead of keeping N H T^2
 * probabilities (6.5 MB per block for ViT-S at batch 64).
 * Backward, per pair, with dO the (T, hd) slice of dy:
 *   dP = dO V^T;  dV = P^T dO;  dS = P * (dP - rowsum(P * dP));
 *   dQ = dS K / sqrt(hd);  dK = dS^T Q / sqrt(hd)
 * each written (or added, per accum) into its own slice of dqkv, so pairs never collide.
 *
 * Numeric modes: with axnn_quant_cfg.count_attention, the node's forward runs the two products
 * in int8 with the multiplier the quantization module chose for it (attention_q.c); backward is
 * then the straight-through float gradient, as for quantized linear layers.
 */
#include "ops/op.h"

#include "kernels/transformer/transformer.h"

#include <math.h>

typedef struct attn_geom {
    int64_t t, d, h, hd, ld; /* tokens, width, heads, head size, qkv row stride (3D) */
    float scale;
} attn_geom;

static attn_geom geom_of(const axnn_graph *g, const axnn_node *nd)
{
    const axnn_value *x = &g->vals[nd->in[0]];
    const int64_t h = ((const axnn_attention_attr *)nd->attr)->heads, d = x->shape.d[2] / 3;
    return (attn_geom){x->shape.d[1], d, h, d / h, 3 * d, 1.0f / sqrtf((float)(d / h))};
}

static axnn_status attn_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_attention_attr *a = nd->attr;
    const axnn_value *x = &g->vals[nd->in[0]];
    if (x->shape.nd != 3 || x->shape.d[2] % 3)
        return axnn_error(AXNN_ERR_SHAPE, "%s: attention needs (N, T, 3D) qkv", nd->name);
    const int64_t d = x->shape.d[2] / 3;
    if (a->heads < 1 || d % a->heads)
        return axnn_error(AXNN_ERR_ARG, "%s: width %lld is not a multiple of %d heads", nd->name, (long long)d,
                          a->heads);
    *out = (axnn_shape){3, {x->shape.d[0], x->shape.d[1], d}};
    *fl = x->flags & AXNN_VF_BATCHED;
    return AXNN_OK;
}

static int64_t fl64(int64_t floats) { return (floats + 15) / 16 * 16; }

/* Per thread, in floats: S (T x T) and K^T (hd x T); in training plans also dP and a transposed
 * T x T block. */
static size_t attn_scratch(const axnn_graph *g, const axnn_node *nd, int batch, int nth, bool training)
{
    attn_geom a = geom_of(g, nd);
    int64_t f = (training ? 3 : 1) * fl64(a.t * a.t) + fl64(a.hd * a.t);
    return (size_t)f * sizeof(float);
}

typedef struct attn_task {
    axnn_exec *e;
    axnn_node *nd;
    attn_geom a;
} attn_task;

/* P = softmax(Q K^T / sqrt(hd)) of one pair into s (T, T), through kt (hd, T). */
static void scores(const attn_task *t, const axnn_tfm_kernels *k, const float *q, float *s, float *kt)
{
    const attn_geom *a = &t->a;
    k->transpose(q + a->d, a->t, a->hd, a->ld, kt, a->t);
    k->gemm(a->t, a->t, a->hd, a->scale, q, a->ld, kt, a->t, s, a->t, false);
    for (int64_t i = 0; i < a->t; i++) k->softmax(s + i * a->t, a->t);
}

static void attn_fwd_task(void *arg, int ith, int nth)
{
    attn_task *t = arg;
    const attn_geom *a = &t->a;
    const axnn_tfm_kernels *k = axnn_tfm_get();
    const float *qkv = op_in(t->e, t->nd, 0)->data;
    float *y = op_out(t->e, t->nd)->data, *s = op_scratch(t->e, ith), *kt = s + fl64(a->t * a->t);
    int64_t lo, hi;
    axnn_split(t->e->n * a->h, ith, nth, &lo, &hi);
    for (int64_t p = lo; p < hi; p++) {
        const int64_t n = p / a->h, h = p % a->h;
        const float *q = qkv + n * a->t * a->ld + h * a->hd;
        scores(t, k, q, s, kt);
        k->gemm(a->t, a->hd, a->t, 1.0f, s, a->t, q + 2 * a->d, a->ld, y + n * a->t * a->d + h * a->hd, a->d,
                false);
    }
}

static void attn_forward(axnn_exec *e, axnn_node *nd)
{
    if (op_ext_forward(e, nd, NULL)) return; /* int8 products (src/quant/attention_q.c) */
    attn_task t = {e, nd, geom_of(e->g, nd)};
    axnn_pool_run(e->pool, attn_fwd_task, &t);
}

/* The backward of one pair (see the top of the file). s, dp and tr are T x T blocks, kt is
 * hd x T (K^T, then V^T); tr holds P^T, then dS^T. */
static void pair_backward(const attn_task *t, int64_t n, int64_t h, float *s, float *dp, float *tr, float *kt)
{
    const attn_geom *a = &t->a;
    const axnn_tfm_kernels *k = axnn_tfm_get();
    const axnn_tensor *x = op_in(t->e, t->nd, 0), *y = op_out(t->e, t->nd);
    const int64_t off = n * a->t * a->ld + h * a->hd, T = a->t;
    const float *q = (const float *)x->data + off, *kk = q + a->d, *v = q + 2 * a->d;
    const float *dout = y->grad + n * T * a->d + h * a->hd;
    float *dq = x->grad + off, *dk = dq + a->d, *dv = dq + 2 * a->d;
    const bool acc = op_accum(t->e, t->nd)[0];
    scores(t, k, q, s, kt);
    k->transpose(v, T, a->hd, a->ld, kt, T);
    k->gemm(T, T, a->hd, 1.0f, dout, a->d, kt, T, dp, T, false);   /* dP = dO V^T */
    k->transpose(s, T, T, T, tr, T);
    k->gemm(T, a->hd, T, 1.0f, tr, T, dout, a->d, dv, a->ld, acc); /* dV = P^T dO */
    for (int64_t i = 0; i < T; i++) {
        float *pi = s + i * T, *dpi = dp + i * T;
        k->softmax_bwd(pi, dpi, T, k->dot(pi, dpi, T));            /* dS */
    }
    k->gemm(T, a->hd, T, a->scale, dp, T, kk, a->ld, dq, a->ld, acc); /* dQ = dS K / sqrt(hd) */
    k->transpose(dp, T, T, T, tr, T);
    k->gemm(T, a->hd, T, a->scale, tr, T, q, a->ld, dk, a->ld, acc); /* dK = dS^T Q / sqrt(hd) */
}

static void attn_bwd_task(void *arg, int ith, int nth)
{
    attn_task *t = arg;
    const attn_geom *a = &t->a;
    float *s = op_scratch(t->e, ith), *dp = s + fl64(a->t * a->t), *tr = dp + fl64(a->t * a->t);
    float *kt = tr + fl64(a->t * a->t);
    int64_t lo, hi;
    axnn_split(t->e->n * a->h, ith, nth, &lo, &hi);
    for (int64_t p = lo; p < hi; p++) pair_backward(t, p / a->h, p % a->h, s, dp, tr, kt);
}

static void attn_backward(axnn_exec *e, axnn_node *nd)
{
    if (!in_needs_grad(e, nd, 0)) return;
    attn_task t = {e, nd, geom_of(e->g, nd)};
    axnn_pool_run(e->pool, attn_bwd_task, &t);
}

/* Q K^T and P V: T * T * hd MACs each per head. */
static int64_t attn_macs(const axnn_graph *g, const axnn_node *nd)
{
    attn_geom a = geom_of(g, nd);
    return 2 * a.t * a.t * a.d;
}

const axnn_op_def axnn_op_attention = {
    .name = "attention",
    .infer = attn_infer,
    .scratch_bytes = attn_scratch,
    .forward = attn_forward,
    .backward = attn_backward,
    .macs = attn_macs,
};
