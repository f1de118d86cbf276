/* linear in INT8 / TABLE mode: x (N, in) is quantized per tensor and transposed into the
 * GEMM's activation layout (in, N), each thread takes a range of the batch's columns, and
 * y[n][o] = acc[o][n] * s_x * s_w[o] + b[o]. Token inputs (N, T, in) are N*T columns. A thread
 * runs its columns in blocks of at most QCOLS, so scratch does not grow with the batch (each
 * column's integer sums do not depend on the blocking). On AVX-512 VNNI the exact and
 * decomposed GEMMs use the weights packed when they were quantized (quant.c). */
#include "quant/quantized.h"

#include "kernels/quant/quantize.h"
#include "kernels/s8-gemm/s8-gemm.h"
#include "quant/qstate.h"

#define QCOLS 256

static size_t align64(size_t b) { return (b + 63) & ~(size_t)63; }

size_t axnn_linear_q_scratch(const axnn_graph *g, const axnn_node *nd, int batch, int nth)
{
    const axnn_qnode *q = axnn_qnode_of(nd);
    if (!q) return 0;
    int64_t cols = QCOLS, kaug = q->K * (1 + axnn_qnode_aug_rank(q));
    size_t ws = axnn_s8_gemm_ws_bytes(q->rows, kaug), lws = axnn_lut_gemm_ws_bytes(cols);
    return align64((size_t)(kaug * cols)) + align64((size_t)(q->K * cols)) + align64((size_t)(q->rows * cols) * 4) +
           align64((size_t)q->K * 4) + align64(ws > lws ? ws : lws);
}

typedef struct qlin_task {
    axnn_exec *e;
    axnn_node *nd;
    axnn_qnode *q;
} qlin_task;

/* Columns [lo, hi) of the node's output (rows of x), at most QCOLS of them. */
static void qlin_block(qlin_task *t, int ith, int64_t lo, int64_t hi)
{
    axnn_qnode *q = t->q;
    const axnn_linear_attr *a = t->nd->attr;
    const float *X = op_in(t->e, t->nd, 0)->data, *bias = a->bias ? op_in(t->e, t->nd, 2)->data : NULL;
    float *Y = op_out(t->e, t->nd)->data;
    const int64_t IN = q->K, OUT = q->rows;
    const int rank = q->kernel == AXNN_QK_DECOMP ? q->qm->dec.rank : 0;
    const int64_t cols = hi - lo, maxcols = QCOLS;
    int8_t *col = (int8_t *)op_scratch(t->e, ith);
    int8_t *xq = col + align64((size_t)(IN * (1 + axnn_qnode_aug_rank(q)) * maxcols));
    int32_t *acc = (int32_t *)(xq + align64((size_t)(IN * maxcols)));
    void *ws = (char *)acc + align64((size_t)(OUT * maxcols) * 4) + align64((size_t)IN * 4);
    axnn_quantize_s8(X + lo * IN, cols * IN, 1.0f / q->in_scale, xq);
    for (int64_t n = 0; n < cols; n++)
        for (int64_t k = 0; k < IN; k++) col[k * cols + n] = xq[n * IN + k];
    for (int r = 0; r < rank; r++) axnn_map_s8(col, IN * cols, q->qm->fa[r], col + (1 + r) * IN * cols);
    if (q->kernel == AXNN_QK_EXACT && q->wpack)
        axnn_s8_gemm_packed_avx512vnni(OUT, cols, IN, q->wpack, col, cols, acc, cols, false, ws);
    else if (q->kernel == AXNN_QK_DECOMP && q->wpack_aug)
        axnn_s8_gemm_packed_avx512vnni(OUT, cols, IN * (1 + rank), q->wpack_aug, col, cols, acc, cols, false, ws);
    else switch (q->kernel) {
    case AXNN_QK_EXACT: axnn_s8_gemm(OUT, cols, IN, q->wq, IN, col, cols, acc, cols, false, ws); break;
    case AXNN_QK_LUT: axnn_lut_gemm(OUT, cols, IN, q->wq, IN, col, cols, acc, cols, false, q->qm->lut, ws); break;
    case AXNN_QK_DECOMP:
        axnn_s8_gemm(OUT, cols, IN * (1 + rank), q->wq_aug, IN * (1 + rank), col, cols, acc, cols, false, ws);
        break;
    default:
        axnn_s8_gemm_ref(OUT, cols, IN, q->wq, IN, col, cols, acc, cols, false, q->qm->mul ? q->qm->mul->table : NULL);
    }
    for (int64_t o = 0; o < OUT; o++) {
        const float k = q->in_scale * q->w_scale[o], b = bias ? bias[o] : 0.0f;
        for (int64_t n = 0; n < cols; n++) Y[(lo + n) * OUT + o] = (float)acc[o * cols + n] * k + b;
    }
}

static void qlin_task_fn(void *arg, int ith, int nth)
{
    qlin_task *t = arg;
    const axnn_tensor *x = op_in(t->e, t->nd, 0);
    const int64_t rows = x->shape.nd == 3 ? t->e->n * x->shape.d[1] : t->e->n;
    int64_t lo, hi;
    axnn_split(rows, ith, nth, &lo, &hi);
    for (int64_t c = lo; c < hi; c += QCOLS) qlin_block(t, ith, c, hi - c < QCOLS ? hi : c + QCOLS);
}

/* A node that may run decomposed times one full run with each kernel and keeps the faster
 * (same bits either way). */
static void autotune(qlin_task *t)
{
    const axnn_qkernel cand[2] = {AXNN_QK_LUT, AXNN_QK_DECOMP};
    double best = 1e30;
    axnn_qkernel pick = AXNN_QK_LUT;
    for (int k = 0; k < 2; k++) {
        t->q->kernel = cand[k];
        double t0 = axnn_now();
        axnn_pool_run(t->e->pool, qlin_task_fn, t);
        double dt = axnn_now() - t0;
        if (dt < best) {
            best = dt;
            pick = cand[k];
        }
    }
    t->q->kernel = pick;
}

void axnn_linear_forward_q(axnn_exec *e, axnn_node *nd)
{
    axnn_qnode *q = axnn_qnode_of(nd);
    if (e->training) axnn_qnode_quantize_weights(q, op_in(e, nd, 1)->data);
    qlin_task t = {e, nd, q};
    if (q->kernel == AXNN_QK_AUTO) autotune(&t);
    axnn_pool_run(e->pool, qlin_task_fn, &t);
}
