/* conv2d in INT8 / TABLE mode.
 *
 * Exact and decomposed nodes on CPUs with AVX-512 VNNI run the int8 convolution kernel
 * (kernels/s8-gemm/s8-conv.h): x is quantized into the kernel's padded quad layout (shared
 * scratch; with the decomposition's f_i planes), then convolved with the weights packed at
 * quantization time and the epilogue fused (scale[r], shift[r] below). When the images split
 * evenly over the threads (or there are many), each thread does both for whole images in one
 * pool task; otherwise one task quantizes and a second splits the output tiles.
 *
 * Otherwise (table kernel, reference, CPUs without VNNI):
 * x (N, C, H, W) float is quantized per tensor into int8 (shared scratch), then the batch is cut
 * into blocks of whole images (enough images for ~256 columns); each thread takes whole blocks:
 *   col   (K', cols) int8   im2col of the block's images side by side (cols = images * P); for
 *                           the decomposition kernel also the rows f_i(col) (K' = K(1+rank));
 *   acc   (rows, cols) int32  GEMM of the quantized weights with col (exact, table, decomposed
 *                           or the scalar reference, per the node's multiplier);
 *   y     acc * s_x * s_w[r], then the float epilogue (bias, or fused BN / residual / ReLU).
 * In training the weights are re-quantized from the float weights at each forward. A node whose
 * multiplier can run either as table lookups or decomposed times both on its first block.
 */
#include "quant/quantized.h"

#include "kernels/im2col/im2col.h"
#include "kernels/quant/quantize.h"
#include "kernels/s8-gemm/s8-conv.h"
#include "kernels/s8-gemm/s8-gemm.h"
#include "quant/qstate.h"

#include <string.h>

#define TARGET_COLS 256
#define QCHUNK_BYTES (256 << 10) /* quad-layout bytes a thread quantizes before convolving them */

typedef struct qconv_geom {
    axnn_im2col_geom q;
    axnn_s8_conv_geom s8; /* for the int8 convolution kernel; terms = most the node may use */
    int64_t K, P, img_in, rows, kaug;
    int g; /* images per block */
} qconv_geom;

static qconv_geom geom(const axnn_graph *g, const axnn_node *nd, int n)
{
    const axnn_conv2d_attr *a = nd->attr;
    const axnn_value *x = &g->vals[nd->in[0]], *y = &g->vals[nd->out];
    const axnn_qnode *q = axnn_qnode_of(nd);
    qconv_geom c;
    c.q = (axnn_im2col_geom){(int)x->shape.d[1], (int)x->shape.d[2], (int)x->shape.d[3], a->kh, a->kw,
                             a->sh, a->sw, a->ph, a->pw, (int)y->shape.d[2], (int)y->shape.d[3]};
    c.K = (int64_t)c.q.c * a->kh * a->kw;
    c.P = (int64_t)c.q.oh * c.q.ow;
    c.img_in = (int64_t)c.q.c * c.q.h * c.q.w;
    c.rows = a->cout;
    c.kaug = c.K * (1 + (q ? axnn_qnode_aug_rank(q) : 0)); /* room for the decomposition rows */
    c.s8 = (axnn_s8_conv_geom){c.q.c, c.q.h, c.q.w, a->cout, a->kh, a->kw, a->sh, a->sw, a->ph, a->pw, c.q.oh, c.q.ow,
                               1 + (q ? axnn_qnode_aug_rank(q) : 0)};
    int64_t gi = (TARGET_COLS + c.P - 1) / c.P;
    c.g = (int)(gi < 1 ? 1 : gi > n ? (n > 0 ? n : 1) : gi);
    return c;
}

static size_t align64(size_t b) { return (b + 63) & ~(size_t)63; }

size_t axnn_conv2d_q_scratch(const axnn_graph *g, const axnn_node *nd, int batch)
{
    if (!axnn_qnode_of(nd)) return 0;
    qconv_geom c = geom(g, nd, batch);
    int64_t cols = c.g * c.P;
    size_t ws = axnn_s8_gemm_ws_bytes(c.rows, c.kaug);
    size_t lws = axnn_lut_gemm_ws_bytes(cols);
    size_t old = align64((size_t)(c.kaug * cols)) + align64((size_t)(c.rows * cols) * 4) + align64(ws > lws ? ws : lws);
    size_t s8 = align64((size_t)c.rows * 2 * sizeof(float)) + axnn_s8_conv_ws_bytes(&c.s8);
    return old > s8 ? old : s8;
}

size_t axnn_conv2d_q_shared(const axnn_graph *g, const axnn_node *nd, int batch)
{
    if (!axnn_qnode_of(nd)) return 0;
    qconv_geom c = geom(g, nd, batch);
    axnn_s8_xlayout l = axnn_s8_xlayout_make(&c.s8);
    size_t old = align64((size_t)(batch * c.img_in)), s8 = align64((size_t)(batch * l.img));
    return old > s8 ? old : s8;
}

typedef struct qconv_task {
    axnn_exec *e;
    axnn_node *nd;
    axnn_qnode *q;
    qconv_geom c;
    const axnn_conv_epi *epi;
    const float *x;
    int8_t *xq;
    float inv_scale;
} qconv_task;

static void quantize_task(void *arg, int ith, int nth)
{
    qconv_task *t = arg;
    int64_t lo, hi;
    axnn_split(t->e->n * t->c.img_in, ith, nth, &lo, &hi);
    axnn_quantize_s8(t->x + lo, hi - lo, t->inv_scale, t->xq + lo);
}

/* im2col of images [i0, i0+ni) into col (ldc = ni * P), plus the decomposition rows. */
static void build_cols(const qconv_task *t, axnn_qkernel k, int64_t i0, int64_t ni, int8_t *col)
{
    const qconv_geom *c = &t->c;
    const int64_t ldc = ni * c->P;
    for (int64_t i = 0; i < ni; i++) axnn_im2col_s8(&c->q, t->xq + (i0 + i) * c->img_in, col + i * c->P, ldc);
    if (k != AXNN_QK_DECOMP) return;
    const axnn_qmul *qm = t->q->qm;
    for (int r = 0; r < qm->dec.rank; r++) axnn_map_s8(col, c->K * ldc, qm->fa[r], col + (1 + r) * c->K * ldc);
}

static void gemm(const qconv_task *t, axnn_qkernel k, int64_t cols, const int8_t *col, int32_t *acc, void *ws)
{
    const axnn_qnode *q = t->q;
    const int64_t M = t->c.rows, K = t->c.K;
    switch (k) {
    case AXNN_QK_EXACT: axnn_s8_gemm(M, cols, K, q->wq, K, col, cols, acc, cols, false, ws); break;
    case AXNN_QK_LUT: axnn_lut_gemm(M, cols, K, q->wq, K, col, cols, acc, cols, false, q->qm->lut, ws); break;
    case AXNN_QK_DECOMP:
        axnn_s8_gemm(M, cols, t->c.kaug, q->wq_aug, t->c.kaug, col, cols, acc, cols, false, ws);
        break;
    default:
        axnn_s8_gemm_ref(M, cols, K, q->wq, K, col, cols, acc, cols, false, q->qm->mul ? q->qm->mul->table : NULL);
    }
}

/* One output row: out[p] (+)= relu?(a[p] * sc + sh + res[p]). The branches are hoisted so
 * that each loop vectorizes. */
static void epi_row(const int32_t *a, int64_t P, float sc, float sh, const float *res, bool relu,
                    bool accumulate, float *out)
{
    if (!res && !relu && !accumulate) {
        for (int64_t p = 0; p < P; p++) out[p] = (float)a[p] * sc + sh;
        return;
    }
    if (!res && relu && !accumulate) {
        for (int64_t p = 0; p < P; p++) {
            float v = (float)a[p] * sc + sh;
            out[p] = v > 0.0f ? v : 0.0f;
        }
        return;
    }
    if (res && relu && !accumulate) {
        for (int64_t p = 0; p < P; p++) {
            float v = (float)a[p] * sc + sh + res[p];
            out[p] = v > 0.0f ? v : 0.0f;
        }
        return;
    }
    for (int64_t p = 0; p < P; p++) {
        float v = (float)a[p] * sc + sh;
        if (res) v += res[p];
        if (relu) v = v > 0.0f ? v : 0.0f;
        out[p] = accumulate ? out[p] + v : v;
    }
}

/* y = acc * s_x * s_w[r], then the float epilogue, for images [i0, i0+ni). */
static void epilogue(const qconv_task *t, int64_t i0, int64_t ni, const int32_t *acc)
{
    const axnn_conv_epi *ep = t->epi;
    const qconv_geom *c = &t->c;
    const int64_t ldc = ni * c->P;
    for (int64_t r = 0; r < c->rows; r++) {
        const float k = t->q->in_scale * t->q->w_scale[r];
        const float sc = ep->scale ? ep->scale[r] * k : k, sh = ep->shift ? ep->shift[r] : 0.0f;
        for (int64_t i = 0; i < ni; i++) {
            int64_t off = (i0 + i) * ep->out_img + r * ep->out_ch;
            epi_row(acc + r * ldc + i * c->P, c->P, sc, sh, ep->res ? ep->res + off : NULL, ep->relu,
                    ep->accumulate, ep->out + off);
        }
    }
}

static void compute_task(void *arg, int ith, int nth)
{
    qconv_task *t = arg;
    const qconv_geom *c = &t->c;
    const int64_t blocks = (t->e->n + c->g - 1) / c->g;
    const int64_t maxcols = c->g * c->P;
    int8_t *col = (int8_t *)op_scratch(t->e, ith);
    int32_t *acc = (int32_t *)(col + align64((size_t)(c->kaug * maxcols)));
    void *ws = (char *)acc + align64((size_t)(c->rows * maxcols) * 4);
    int64_t lo, hi;
    axnn_split(blocks, ith, nth, &lo, &hi);
    for (int64_t b = lo; b < hi; b++) {
        int64_t i0 = b * c->g, ni = t->e->n - i0 < c->g ? t->e->n - i0 : c->g;
        build_cols(t, t->q->kernel, i0, ni, col);
        gemm(t, t->q->kernel, ni * c->P, col, acc, ws);
        epilogue(t, i0, ni, acc);
    }
}

/* ---- the int8 convolution kernel (exact and decomposed nodes, AVX-512 VNNI) ---- */

static bool use_s8_conv(const axnn_qnode *q, axnn_qkernel k)
{
    return (k == AXNN_QK_EXACT && q->wpack) || (k == AXNN_QK_DECOMP && q->wpack_aug);
}

static axnn_s8_conv_geom s8_geom(const qconv_task *t, axnn_qkernel k)
{
    axnn_s8_conv_geom g = t->c.s8;
    g.terms = k == AXNN_QK_DECOMP ? 1 + t->q->qm->dec.rank : 1;
    return g;
}

static void quantize4_task(void *arg, int ith, int nth)
{
    qconv_task *t = arg;
    const axnn_s8_conv_geom g = s8_geom(t, t->q->kernel);
    const axnn_s8_xlayout l = axnn_s8_xlayout_make(&g);
    int64_t lo, hi;
    axnn_split((int64_t)t->e->n * l.c4, ith, nth, &lo, &hi);
    for (int64_t u = lo; u < hi; u++) {
        const int64_t i = u / l.c4;
        const int q = (int)(u % l.c4);
        axnn_s8_conv_quantize(&g, t->x + i * t->c.img_in, t->inv_scale, t->q->qm->fmap, q, q + 1,
                                     (uint8_t *)t->xq + i * l.img);
    }
}

/* The kernel's arguments for this call; the thread's per-row scale and shift go to its
 * scratch, the kernel's workspace after them. */
static axnn_s8_conv_args conv4_args(const qconv_task *t, int ith, void **ws)
{
    const axnn_conv_epi *ep = t->epi;
    const int64_t rows = t->c.rows;
    float *sc = op_scratch(t->e, ith), *sh = sc + rows;
    for (int64_t r = 0; r < rows; r++) {
        const float k = t->q->in_scale * t->q->w_scale[r];
        sc[r] = ep->scale ? ep->scale[r] * k : k;
        sh[r] = ep->shift ? ep->shift[r] : 0.0f;
    }
    *ws = (char *)sc + align64((size_t)rows * 2 * sizeof(float));
    const bool dec = t->q->kernel == AXNN_QK_DECOMP;
    return (axnn_s8_conv_args){s8_geom(t, t->q->kernel), t->e->n, (const uint8_t *)t->xq,
                               dec ? t->q->wpack_aug : t->q->wpack, sc, sh, ep->res, ep->out, ep->out_img,
                               ep->out_ch, ep->relu, ep->accumulate};
}

static void conv4_task(void *arg, int ith, int nth)
{
    qconv_task *t = arg;
    void *ws;
    axnn_s8_conv_args a = conv4_args(t, ith, &ws);
    axnn_s8_conv_avx512vnni(&a, ws, ith, nth);
}

/* Whole images per thread: each thread quantizes its images and convolves them at once
 * (no barrier in between, and the quantized images are still in the thread's cache). */
static void fused4_task(void *arg, int ith, int nth)
{
    qconv_task *t = arg;
    void *ws;
    axnn_s8_conv_args a = conv4_args(t, ith, &ws);
    const axnn_s8_xlayout l = axnn_s8_xlayout_make(&a.g);
    int64_t lo, hi;
    axnn_split(t->e->n, ith, nth, &lo, &hi);
    /* a few images at a time, so that their quad layout stays in the cache until convolved */
    const int64_t P = t->c.P, chunk = l.img < QCHUNK_BYTES ? QCHUNK_BYTES / l.img : 1;
    for (int64_t i0 = lo; i0 < hi; i0 += chunk) {
        const int64_t i1 = hi - i0 < chunk ? hi : i0 + chunk;
        for (int64_t i = i0; i < i1; i++)
            axnn_s8_conv_quantize(&a.g, t->x + i * t->c.img_in, t->inv_scale, t->q->qm->fmap, 0, l.c4,
                                         (uint8_t *)t->xq + i * l.img);
        axnn_s8_conv_cols_avx512vnni(&a, ws, i0 * P, i1 * P);
    }
}

static void run_node(qconv_task *t)
{
    if (use_s8_conv(t->q, t->q->kernel)) {
        const int n = t->e->n, nth = t->e->nth;
        if (n % nth == 0 || n >= 8 * nth) {
            axnn_pool_run(t->e->pool, fused4_task, t);
            return;
        }
        axnn_pool_run(t->e->pool, quantize4_task, t);
        axnn_pool_run(t->e->pool, conv4_task, t);
        return;
    }
    axnn_pool_run(t->e->pool, quantize_task, t);
    axnn_pool_run(t->e->pool, compute_task, t);
}

/* A node whose multiplier can run either as table lookups or decomposed runs the whole node
 * once with each and keeps the faster for later calls (both give the same bits; the output is
 * simply written twice, which the forward never accumulates into). */
static void autotune(qconv_task *t)
{
    const axnn_qkernel cand[2] = {AXNN_QK_LUT, AXNN_QK_DECOMP};
    double best = 1e30;
    axnn_qkernel pick = AXNN_QK_LUT;
    for (int k = 0; k < 2; k++) {
        t->q->kernel = cand[k];
        double t0 = axnn_now();
        run_node(t);
        double dt = axnn_now() - t0;
        if (dt < best) {
            best = dt;
            pick = cand[k];
        }
    }
    t->q->kernel = pick;
}

void axnn_conv2d_forward_q(axnn_exec *e, axnn_node *nd, const axnn_conv_epi *epi)
{
    axnn_qnode *q = axnn_qnode_of(nd);
    if (e->training) axnn_qnode_quantize_weights(q, op_in(e, nd, 1)->data);
    qconv_task t = {e, nd, q, geom(e->g, nd, e->batch), epi, op_in(e, nd, 0)->data, (int8_t *)op_shared(e),
                    1.0f / q->in_scale};
    if (q->kernel == AXNN_QK_AUTO && !epi->accumulate) {
        autotune(&t);
        return;
    }
    if (q->kernel == AXNN_QK_AUTO) q->kernel = AXNN_QK_DECOMP;
    run_node(&t);
}
