/* attention in INT8 / TABLE mode: the two attention products Q K^T and P V run on int8
 * operands with int32 accumulation, exact or through the node's multiplier, with the same
 * kernels and bit-exactness rules as quantized conv and linear layers.
 *
 * The operands are activations on both sides, so their scales are dynamic: for each (image,
 * head) pair, each of Q, K, P and V is quantized symmetric with s = max |.| / 127 of its own
 * (T, hd) or (T, T) block, q in [-127, 127] (rint, as axnn_quantize_s8). In the kernels'
 * convention C[m][n] = sum_k P(B[k][n], A[m][k]) (A the "weight" operand b, B the activation
 * operand a of the multiplier table T[a][b]):
 *   S32 = Q_q K_q^T    A = Q_q (T, hd), B = K_q^T (hd, T), transposed into scratch
 *   S   = S32 * s_q * s_k / sqrt(hd);  P = softmax(S) in float
 *   O32 = P_q V_q      A = P_q (T, T),  B = V_q (T, hd)
 *   y   = O32 * s_p * s_v
 * The decomposition kernel appends g_i(A) to the rows of A and f_i(B) below B, as the linear
 * layers do. Softmax, the scales and everything else stay in float. Backward is the float
 * gradient (straight-through), computed by attention.c from the float inputs.
 *
 * Per-thread scratch: the int8 operands (with room for the decomposition's extra terms), the
 * two int32 accumulators, the float scores and the int8 GEMM workspace; pairs are split over
 * threads like the float path.
 */
#include "quant/quantized.h"

#include "kernels/quant/quantize.h"
#include "kernels/s8-gemm/s8-gemm.h"
#include "kernels/transformer/transformer.h"
#include "quant/qstate.h"

#include <math.h>
#include <string.h>

typedef struct qattn_geom {
    int64_t t, d, h, hd, ld, r; /* tokens, width, heads, head size, qkv row stride, rank */
} qattn_geom;

static size_t align64(size_t b) { return (b + 63) & ~(size_t)63; }

/* The multiplier's kernel; where the linear layers would time the table kernel against the
 * decomposition (AUTO), the attention products take the table kernel. */
static axnn_qkernel kernel_of(const axnn_qmul *qm)
{
    return qm->kernel == AXNN_QK_AUTO ? AXNN_QK_LUT : qm->kernel;
}

static qattn_geom qgeom(const axnn_graph *g, const axnn_node *nd, const axnn_qmul *qm)
{
    const axnn_value *x = &g->vals[nd->in[0]];
    const int64_t h = ((const axnn_attention_attr *)nd->attr)->heads, d = x->shape.d[2] / 3;
    const int64_t r = kernel_of(qm) == AXNN_QK_DECOMP ? qm->dec.rank : 0;
    return (qattn_geom){x->shape.d[1], d, h, d / h, 3 * d, r};
}

/* Byte offsets of the scratch pieces: A (T x K'), B (K' x T), acc (T x T int32), scores
 * (T x T float), workspace; K' = max(hd, T) * (1 + rank). */
typedef struct qattn_layout {
    size_t a, b, acc, s, ws, total;
} qattn_layout;

static qattn_layout layout(const qattn_geom *q)
{
    const int64_t kmax = (q->hd > q->t ? q->hd : q->t) * (1 + q->r), nmax = q->hd > q->t ? q->hd : q->t;
    size_t ws = axnn_s8_gemm_ws_bytes(q->t, kmax), lws = axnn_lut_gemm_ws_bytes(nmax);
    qattn_layout l;
    l.a = 0;
    l.b = l.a + align64((size_t)(q->t * kmax));
    l.acc = l.b + align64((size_t)(kmax * nmax));
    l.s = l.acc + align64((size_t)(q->t * nmax) * 4);
    l.ws = l.s + align64((size_t)(q->t * q->t) * 4);
    l.total = l.ws + align64(ws > lws ? ws : lws);
    return l;
}

size_t axnn_attention_q_scratch(const axnn_graph *g, const axnn_node *nd)
{
    const axnn_qmul *qm = axnn_quant_attention_qmul(g, nd);
    if (!qm) return 0;
    qattn_geom q = qgeom(g, nd, qm);
    return layout(&q).total;
}

/* Scale of a block: max |x| / 127 over `rows` rows of `cols` floats (row stride ld). */
static float block_scale(const float *x, int64_t rows, int64_t cols, int64_t ld)
{
    float m = 0.0f;
    for (int64_t r = 0; r < rows; r++) m = fmaxf(m, axnn_absmax(x + r * ld, cols));
    return m > 0.0f ? m / 127.0f : 1.0f;
}

/* Quantizes rows x cols floats (row stride ld) into dst (row stride ldd). */
static void quantize_rows(const float *x, int64_t rows, int64_t cols, int64_t ld, float s, int8_t *dst,
                          int64_t ldd)
{
    for (int64_t r = 0; r < rows; r++) axnn_quantize_s8(x + r * ld, cols, 1.0f / s, dst + r * ldd);
}

/* The decomposition's extra terms: a (M, K) row-major with row stride K(1+r) gets g_i(a) in
 * columns [(1+i)K, (2+i)K); b (K, N) gets f_i(b) in rows [(1+i)K, (2+i)K). */
static void augment(const axnn_qmul *qm, int r, int8_t *a, int64_t m, int64_t k, int8_t *b, int64_t n)
{
    for (int i = 0; i < r; i++) {
        for (int64_t row = 0; row < m; row++)
            for (int64_t j = 0; j < k; j++) a[row * k * (1 + r) + (1 + i) * k + j] = qm->gb[i][a[row * k * (1 + r) + j] + 128];
        for (int64_t j = 0; j < k * n; j++) b[(1 + i) * k * n + j] = qm->fa[i][b[j] + 128];
    }
}

/* acc (M, N) = sum_k P(B[k][n], A[m][k]) with the node's multiplier; A has row stride K(1+r). */
static void qgemm(const axnn_qmul *qm, int r, int64_t M, int64_t N, int64_t K, const int8_t *A, const int8_t *B,
                  int32_t *acc, void *ws)
{
    const int64_t lda = K * (1 + r);
    switch (kernel_of(qm)) {
    case AXNN_QK_EXACT: axnn_s8_gemm(M, N, K, A, lda, B, N, acc, N, false, ws); break;
    case AXNN_QK_LUT: axnn_lut_gemm(M, N, K, A, lda, B, N, acc, N, false, qm->lut, ws); break;
    case AXNN_QK_DECOMP: axnn_s8_gemm(M, N, lda, A, lda, B, N, acc, N, false, ws); break;
    default: axnn_s8_gemm_ref(M, N, K, A, lda, B, N, acc, N, false, qm->mul ? qm->mul->table : NULL);
    }
}

typedef struct qattn_task {
    axnn_exec *e;
    axnn_node *nd;
    const axnn_qmul *qm;
    qattn_geom q;
    qattn_layout l;
} qattn_task;

/* Scores of one pair: S = softmax(Q_q K_q^T s_q s_k / sqrt(hd)) into s (T, T). */
static void qscores(const qattn_task *t, const float *qp, char *sc, float *s)
{
    const qattn_geom *q = &t->q;
    int8_t *a = (int8_t *)(sc + t->l.a), *b = (int8_t *)(sc + t->l.b);
    int32_t *acc = (int32_t *)(sc + t->l.acc);
    const float *kp = qp + q->d;
    const float sq = block_scale(qp, q->t, q->hd, q->ld), sk = block_scale(kp, q->t, q->hd, q->ld);
    quantize_rows(qp, q->t, q->hd, q->ld, sq, a, q->hd * (1 + q->r));
    int8_t *krow = (int8_t *)acc; /* K_q row-major, then transposed into b (hd, T) */
    quantize_rows(kp, q->t, q->hd, q->ld, sk, krow, q->hd);
    for (int64_t j = 0; j < q->t; j++)
        for (int64_t c = 0; c < q->hd; c++) b[c * q->t + j] = krow[j * q->hd + c];
    augment(t->qm, (int)q->r, a, q->t, q->hd, b, q->t);
    qgemm(t->qm, (int)q->r, q->t, q->t, q->hd, a, b, acc, sc + t->l.ws);
    const float k = sq * sk / sqrtf((float)q->hd);
    const axnn_tfm_kernels *kr = axnn_tfm_get();
    for (int64_t i = 0; i < q->t; i++) {
        for (int64_t j = 0; j < q->t; j++) s[i * q->t + j] = (float)acc[i * q->t + j] * k;
        kr->softmax(s + i * q->t, q->t);
    }
}

/* y slice (T, hd) of one pair = P_q V_q s_p s_v. */
static void qcontext(const qattn_task *t, const float *vp, const float *s, char *sc, float *y)
{
    const qattn_geom *q = &t->q;
    int8_t *a = (int8_t *)(sc + t->l.a), *b = (int8_t *)(sc + t->l.b);
    int32_t *acc = (int32_t *)(sc + t->l.acc);
    const float sp = block_scale(s, q->t, q->t, q->t), sv = block_scale(vp, q->t, q->hd, q->ld);
    quantize_rows(s, q->t, q->t, q->t, sp, a, q->t * (1 + q->r));
    quantize_rows(vp, q->t, q->hd, q->ld, sv, b, q->hd);
    augment(t->qm, (int)q->r, a, q->t, q->t, b, q->hd);
    qgemm(t->qm, (int)q->r, q->t, q->hd, q->t, a, b, acc, sc + t->l.ws);
    const float k = sp * sv;
    for (int64_t i = 0; i < q->t; i++)
        for (int64_t c = 0; c < q->hd; c++) y[i * q->d + c] = (float)acc[i * q->hd + c] * k;
}

static void qattn_task_fn(void *arg, int ith, int nth)
{
    qattn_task *t = arg;
    const qattn_geom *q = &t->q;
    const float *qkv = op_in(t->e, t->nd, 0)->data;
    float *y = op_out(t->e, t->nd)->data;
    char *sc = (char *)op_scratch(t->e, ith);
    float *s = (float *)(sc + t->l.s);
    int64_t lo, hi;
    axnn_split(t->e->n * q->h, ith, nth, &lo, &hi);
    for (int64_t p = lo; p < hi; p++) {
        const int64_t n = p / q->h, h = p % q->h;
        const float *qp = qkv + n * q->t * q->ld + h * q->hd;
        qscores(t, qp, sc, s);
        qcontext(t, qp + 2 * q->d, s, sc, y + n * q->t * q->d + h * q->hd);
    }
}

void axnn_attention_forward_q(axnn_exec *e, axnn_node *nd, const axnn_qmul *qm)
{
    qattn_task t = {e, nd, qm, qgeom(e->g, nd, qm), {0}};
    t.l = layout(&t.q);
    axnn_pool_run(e->pool, qattn_task_fn, &t);
}
