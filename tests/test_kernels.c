/* Kernels against plain references: every f32 GEMM configuration (packed, indirect and dot
 * micro-kernels) against axnn_sgemm_ref, im2col/col2im against a naive loop, the element-wise
 * kernels against the portable ones, and the convolution (engine and conv2d node, forward and
 * backward) against a naive direct convolution accumulated in double; then eval-mode fusion
 * (conv + BN + ReLU, with and without a residual add) against the unfused graph, and switching
 * a planned graph between training and eval.
 *
 * Tolerances. A float result r of a sum of products is compared with the double reference R
 * through the sum of the products' magnitudes S (the same reference run on |a| and |b|):
 *     |r - R| <= TOL * S + 1e-30,  TOL = 2e-6 (GEMM), 1e-5 (convolutions, fusion)
 * which bounds the rounding of any summation order without being fooled by cancellation.
 * Kernels that only move data (indirect vs packed micro-kernel, im2col, epilogue-free copies)
 * must agree bit for bit, and so must two runs with the same thread count.
 *
 * main() runs the suite, then runs itself again with AXNN_ISA=avx2, AXNN_ISA=portable and
 * AXNN_FORCE_REF=1, so that every dispatch level of the engine is checked on this machine.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include "kernels/conv/conv.h"
#include "kernels/conv/winograd.h"
#include "kernels/eltwise/eltwise.h"
#include "kernels/f32-gemm/gemm.h"
#include "graph/plan_impl.h" /* the plan's per-node fusion marks (axnn_node_rt.fuse) */
#include "kernels/im2col/im2col.h"
#include "ops/op.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define GEMM_TOL 2e-6
#define CONV_TOL 1e-5

static axnn_rng rng;

static float *rnd(int64_t n)
{
    float *p = axnn_alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    tu_fill_uniform(p, n, -1.0f, 1.0f, &rng);
    return p;
}

static float *absdup(const float *x, int64_t n)
{
    float *p = axnn_alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = fabsf(x[i]);
    return p;
}

/* |got - ref| <= tol * mag + 1e-30 everywhere; prints the first failure. */
static void check_bound(const char *what, const float *got, const double *ref, const double *mag,
                        int64_t n, double tol)
{
    for (int64_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]);
        if (!(err <= tol * mag[i] + 1e-30)) {
            fprintf(stderr, "%s: element %lld: got %.9g, want %.9g (error %.3g, bound %.3g)\n", what,
                    (long long)i, got[i], ref[i], err, tol * mag[i]);
            fail();
        }
    }
}

/* ------------------------------------------------------------------------ GEMM ---- */

static void gemm_case(const axnn_f32_gemm_config *cfg, bool ta, bool tb, int64_t M, int64_t N,
                      int64_t K, float alpha, float beta, float *ws)
{
    const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 5;
    float *A = rnd((ta ? K : M) * lda), *B = rnd((tb ? N : K) * ldb), *C = rnd(M * ldc);
    float *Aa = absdup(A, (ta ? K : M) * lda), *Ba = absdup(B, (tb ? N : K) * ldb);
    float *Ca = absdup(C, M * ldc), *Cr = axnn_alloc((size_t)(M * ldc) * sizeof(float));
    double *ref = malloc((size_t)(M * N) * sizeof(double)), *mag = malloc((size_t)(M * N) * sizeof(double));
    memcpy(Cr, C, (size_t)(M * ldc) * sizeof(float));
    axnn_sgemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cr, ldc);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) ref[i * N + j] = Cr[i * ldc + j];
    axnn_sgemm_ref(ta, tb, M, N, K, fabsf(alpha), Aa, lda, Ba, ldb, fabsf(beta), Ca, ldc);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) mag[i * N + j] = Ca[i * ldc + j] + 1e-6 * fabs(ref[i * N + j]);
    axnn_sgemm_with(cfg, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ws);
    float *got = axnn_alloc((size_t)(M * N) * sizeof(float));
    for (int64_t i = 0; i < M; i++) memcpy(got + i * N, C + i * ldc, (size_t)N * sizeof(float));
    char what[128];
    snprintf(what, sizeof what, "sgemm %s ta=%d tb=%d %lldx%lldx%lld", cfg->name, ta, tb, (long long)M,
             (long long)N, (long long)K);
    check_bound(what, got, ref, mag, M * N, GEMM_TOL);
    axnn_free(A), axnn_free(B), axnn_free(C), axnn_free(Aa), axnn_free(Ba), axnn_free(Ca);
    axnn_free(Cr), axnn_free(got), free(ref), free(mag);
}

static void test_gemm_configs(void **state)
{
    const axnn_f32_gemm_config *cfgs[8];
    int n = axnn_f32_gemm_configs(cfgs, 8);
    assert_true(n >= 1);
    float *ws = axnn_alloc((size_t)axnn_sgemm_ws_floats() * sizeof(float));
    static const int64_t dims[][3] = {{1, 1, 1},    {7, 13, 5},   {12, 32, 64}, {8, 48, 17},
                                      {33, 97, 300}, {200, 70, 9}, {5, 600, 31}, {64, 3, 513}};
    for (int c = 0; c < n; c++)
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
            for (int t = 0; t < 4; t++) {
                float beta = d % 3 == 0 ? 0.0f : d % 3 == 1 ? 1.0f : -0.5f;
                gemm_case(cfgs[c], t & 1, t & 2, dims[d][0], dims[d][1], dims[d][2], d % 2 ? 1.0f : 0.75f,
                          beta, ws);
            }
    axnn_free(ws);
}

/* The indirect kernel through a table of panel rows must give the packed kernel's bits. */
static void test_indirect_kernel(void **state)
{
    const axnn_f32_gemm_config *cfgs[8];
    int n = axnn_f32_gemm_configs(cfgs, 8);
    for (int c = 0; c < n; c++) {
        const axnn_f32_gemm_config *cfg = cfgs[c];
        for (int64_t k = 0; k <= 37; k += 37) {
            float *a = rnd(cfg->mr * (k + 1)), *b = rnd(cfg->nr * (k + 1) + 5);
            float *c1 = rnd(cfg->mr * 64), *c2 = axnn_alloc(cfg->mr * 64 * sizeof(float));
            memcpy(c2, c1, cfg->mr * 64 * sizeof(float));
            const float **rows = malloc((size_t)(k + 1) * sizeof *rows);
            for (int64_t p = 0; p < k; p++) rows[p] = b + p * cfg->nr - 3; /* boff = 3 */
            for (int accumulate = 0; accumulate < 2; accumulate++) {
                cfg->ukernel(k, a, b, c1, 64, accumulate);
                cfg->ind_ukernel(k, a, rows, 3, c2, 64, accumulate);
                assert_memory_equal(c1, c2, cfg->mr * 64 * sizeof(float));
            }
            axnn_free(a), axnn_free(b), axnn_free(c1), axnn_free(c2), free(rows);
        }
    }
}

static void test_dot_kernel(void **state)
{
    const axnn_f32_gemm_config *cfgs[8];
    int n = axnn_f32_gemm_configs(cfgs, 8);
    static const int64_t lens[] = {0, 1, 15, 16, 17, 100, 1024};
    for (int c = 0; c < n; c++) {
        const axnn_f32_gemm_config *cfg = cfgs[c];
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            const int64_t k = lens[li], off = 5, ldc = 9;
            const float *ar[AXNN_F32_MAX_DMR], *br[AXNN_F32_MAX_DNR];
            float *buf = rnd((cfg->dmr + cfg->dnr) * (k + off + 16));
            for (int i = 0; i < cfg->dmr; i++) ar[i] = buf + i * (k + off + 16);
            for (int j = 0; j < cfg->dnr; j++) br[j] = buf + (cfg->dmr + j) * (k + off + 16);
            float *cc = rnd(cfg->dmr * ldc);
            double ref[64], mag[64];
            float got[64];
            for (int accumulate = 0; accumulate < 2; accumulate++) {
                for (int i = 0; i < cfg->dmr; i++)
                    for (int j = 0; j < cfg->dnr; j++) {
                        double s = accumulate ? cc[i * ldc + j] : 0.0, m = fabs(s);
                        for (int64_t p = 0; p < k; p++) {
                            s += (double)ar[i][off + p] * br[j][off + p];
                            m += fabs((double)ar[i][off + p] * br[j][off + p]);
                        }
                        ref[i * cfg->dnr + j] = s;
                        mag[i * cfg->dnr + j] = m;
                    }
                cfg->dot_ukernel(k, ar, br, off, cc, ldc, accumulate);
                for (int i = 0; i < cfg->dmr; i++)
                    for (int j = 0; j < cfg->dnr; j++) got[i * cfg->dnr + j] = cc[i * ldc + j];
                check_bound(cfg->name, got, ref, mag, cfg->dmr * cfg->dnr, GEMM_TOL);
            }
            axnn_free(buf), axnn_free(cc);
        }
    }
}

/* ------------------------------------------------------------ im2col, eltwise ---- */

static void test_im2col(void **state)
{
    static const axnn_im2col_geom gs[] = {
        {3, 5, 5, 3, 3, 1, 1, 1, 1, 5, 5}, {2, 7, 6, 3, 3, 2, 2, 1, 1, 4, 3},
        {4, 4, 4, 1, 1, 2, 2, 0, 0, 2, 2}, {1, 6, 5, 3, 2, 2, 1, 1, 0, 3, 4},
        {2, 3, 3, 5, 5, 1, 1, 2, 2, 3, 3}};
    for (size_t t = 0; t < sizeof gs / sizeof gs[0]; t++) {
        const axnn_im2col_geom *g = &gs[t];
        const int64_t X = (int64_t)g->c * g->h * g->w, P = (int64_t)g->oh * g->ow;
        const int64_t R = (int64_t)g->c * g->kh * g->kw;
        float *x = rnd(X), *col = rnd(R * P), *want = calloc((size_t)(R * P), sizeof(float));
        float *dx = calloc((size_t)X, sizeof(float)), *dxw = calloc((size_t)X, sizeof(float));
        for (int c = 0; c < g->c; c++)
            for (int ky = 0; ky < g->kh; ky++)
                for (int kx = 0; kx < g->kw; kx++)
                    for (int oy = 0; oy < g->oh; oy++)
                        for (int ox = 0; ox < g->ow; ox++) {
                            int iy = oy * g->sh - g->ph + ky, ix = ox * g->sw - g->pw + kx;
                            int64_t r = (c * g->kh + ky) * g->kw + kx, q = oy * g->ow + ox;
                            bool in = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
                            want[r * P + q] = in ? x[(c * g->h + iy) * g->w + ix] : 0.0f;
                        }
        axnn_im2col(g, x, col);
        assert_memory_equal(col, want, (size_t)(R * P) * sizeof(float));
        /* col2im with a column of small integers: exact sums */
        for (int64_t i = 0; i < R * P; i++) col[i] = (float)(i % 7) - 3.0f;
        axnn_col2im_add(g, col, dx);
        for (int c = 0; c < g->c; c++)
            for (int ky = 0; ky < g->kh; ky++)
                for (int kx = 0; kx < g->kw; kx++)
                    for (int oy = 0; oy < g->oh; oy++)
                        for (int ox = 0; ox < g->ow; ox++) {
                            int iy = oy * g->sh - g->ph + ky, ix = ox * g->sw - g->pw + kx;
                            int64_t r = (c * g->kh + ky) * g->kw + kx, q = oy * g->ow + ox;
                            if (iy >= 0 && iy < g->h && ix >= 0 && ix < g->w)
                                dxw[(c * g->h + iy) * g->w + ix] += col[r * P + q];
                        }
        assert_memory_equal(dx, dxw, (size_t)X * sizeof(float));
        axnn_free(x), axnn_free(col), free(want), free(dx), free(dxw);
    }
}

static void test_eltwise(void **state)
{
    const axnn_eltwise *k = axnn_eltwise_get(), *r = &axnn_eltwise_portable;
    static const int64_t lens[] = {1, 15, 16, 33, 1000};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int64_t n = lens[li];
        float *x = rnd(n), *dy = rnd(n), *a = rnd(n), *b = rnd(n);
        memcpy(b, a, (size_t)n * sizeof(float));
        x[0] = NAN;
        k->relu(x, a, n);
        r->relu(x, b, n);
        assert_memory_equal(a, b, (size_t)n * sizeof(float));
        x[0] = 0.5f;
        k->relu_bwd(x, dy, a, n, false);
        r->relu_bwd(x, dy, b, n, false);
        assert_memory_equal(a, b, (size_t)n * sizeof(float));
        k->add(x, dy, a, n);
        r->add(x, dy, b, n);
        assert_memory_equal(a, b, (size_t)n * sizeof(float));
        double mag = 0.0;
        for (int64_t i = 0; i < n; i++) mag += fabs(x[i]);
        double m1 = 0.0, m2 = 0.0, r1 = 0.0, r2 = 0.0;
        k->moments(x, n, &m1, &m2);
        r->moments(x, n, &r1, &r2);
        assert_true(fabs(m1 - r1) <= 1e-12 * mag && fabs(m2 - r2) <= 1e-12 * n);
        float s1, s2, t1, t2;
        for (int masked = 0; masked < 2; masked++) {
            const float *mask = masked ? a : NULL; /* a = x + dy from above */
            float *d1 = rnd(n), *d2 = axnn_alloc((size_t)n * sizeof(float));
            memcpy(d2, d1, (size_t)n * sizeof(float));
            k->bn_bwd_sums(x, dy, mask, n, 0.1f, &s1, &s2, d1, true);
            r->bn_bwd_sums(x, dy, mask, n, 0.1f, &t1, &t2, d2, true);
            assert_true(fabs(s1 - t1) <= 1e-6 * n && fabs(s2 - t2) <= 2e-6 * n);
            assert_memory_equal(d1, d2, (size_t)n * sizeof(float));
            k->bn_bwd_dx(x, dy, mask, d1, n, 0.1f, 1.3f, 0.7f, 0.05f, -0.2f, false);
            r->bn_bwd_dx(x, dy, mask, d2, n, 0.1f, 1.3f, 0.7f, 0.05f, -0.2f, false);
            for (int64_t i = 0; i < n; i++) assert_true(fabsf(d1[i] - d2[i]) <= 1e-6f);
            for (int relu = 0; relu < 2; relu++) {
                k->bn_apply(x, mask, d1, n, 0.7f, -0.1f, relu);
                r->bn_apply(x, mask, d2, n, 0.7f, -0.1f, relu);
                for (int64_t i = 0; i < n; i++) assert_true(fabsf(d1[i] - d2[i]) <= 1e-6f);
            }
            axnn_free(d1), axnn_free(d2);
        }
        axnn_free(x), axnn_free(dy), axnn_free(a), axnn_free(b);
    }
}

/* 2x2 max-pool: ties (values from a few levels) and NaNs; both kernels against a scan. */
static void test_maxpool2x2(void **state)
{
    static const int64_t hw[][2] = {{2, 2}, {4, 4}, {8, 6}, {32, 32}, {6, 34}, {2, 70}};
    const axnn_eltwise *ks[2] = {axnn_eltwise_get(), &axnn_eltwise_portable};
    for (size_t t = 0; t < sizeof hw / sizeof hw[0]; t++) {
        const int64_t h = hw[t][0], w = hw[t][1], n = h * w, on = n / 4;
        float *x = rnd(n), *y = axnn_alloc((size_t)on * sizeof(float));
        int32_t *idx = axnn_alloc((size_t)on * sizeof(int32_t));
        for (int64_t i = 0; i < n; i++) x[i] = floorf(x[i] * 2.0f); /* levels -2..1: many ties */
        for (int64_t i = 5; i < n; i += 23) x[i] = NAN;
        for (int k = 0; k < 2; k++) {
            ks[k]->maxpool2x2(x, y, idx, h, w);
            for (int64_t oy = 0; oy < h / 2; oy++)
                for (int64_t ox = 0; ox < w / 2; ox++) {
                    int64_t best = -1;
                    for (int q = 0; q < 4 && !(best >= 0 && isnan(x[best])); q++) {
                        int64_t i = (2 * oy + q / 2) * w + 2 * ox + q % 2;
                        if (best < 0 || x[i] > x[best] || isnan(x[i])) best = i;
                    }
                    int64_t o = oy * (w / 2) + ox;
                    assert_int_equal(idx[o], best);
                    assert_memory_equal(&y[o], &x[best], sizeof(float));
                }
        }
        axnn_free(x), axnn_free(y), axnn_free(idx);
    }
}

/* ------------------------------------------------------------ convolution ---- */

typedef struct conv_case {
    int n, c, h, w, m, kh, kw, sh, sw, ph, pw;
    bool bias;
} conv_case;

static const conv_case conv_cases[] = {
    {3, 5, 9, 8, 7, 3, 3, 1, 1, 1, 1, true},   /* direct path, odd channels */
    {2, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, false}, /* the ResNet stem shape */
    {5, 9, 6, 7, 10, 3, 3, 2, 2, 1, 1, false},  /* strided, packed path */
    {4, 6, 8, 8, 12, 1, 1, 2, 2, 0, 0, false},  /* 1x1 stride 2 (ResNet downsample) */
    {3, 7, 5, 5, 9, 1, 1, 1, 1, 0, 0, true},    /* 1x1 stride 1 */
    {9, 20, 2, 2, 70, 3, 3, 1, 1, 1, 1, true},  /* 2x2 images, many channels (packed) */
    {6, 33, 4, 4, 40, 3, 3, 1, 1, 1, 1, false}, /* 4x4 images */
    {1, 3, 11, 13, 8, 5, 3, 1, 2, 2, 1, true},  /* 5x3 kernel, mixed stride */
    {2, 4, 7, 7, 5, 3, 3, 1, 1, 0, 0, false},   /* no padding (direct, oh < h) */
    {1, 300, 4, 4, 24, 3, 3, 1, 1, 1, 1, false}, /* K = 2700 > one K block */
    {4, 5, 9, 8, 70, 3, 2, 2, 1, 1, 0, true},   /* stride 2x1, packed by row copies */
};

static axnn_conv_shape cshape(const conv_case *c)
{
    int oh = (c->h + 2 * c->ph - c->kh) / c->sh + 1, ow = (c->w + 2 * c->pw - c->kw) / c->sw + 1;
    return (axnn_conv_shape){c->n, c->c, c->h, c->w, c->m, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, oh, ow};
}

/* y[i][r][p] = sum x * w (+ b) in double, and the same sum over magnitudes. */
static void conv_ref(const axnn_conv_shape *s, const float *x, const float *w, const float *b,
                     double *y, double *mag)
{
    for (int i = 0; i < s->n; i++)
        for (int r = 0; r < s->m; r++)
            for (int oy = 0; oy < s->oh; oy++)
                for (int ox = 0; ox < s->ow; ox++) {
                    double acc = b ? b[r] : 0.0, m = b ? fabs(b[r]) : 0.0;
                    for (int c = 0; c < s->c; c++)
                        for (int ky = 0; ky < s->kh; ky++)
                            for (int kx = 0; kx < s->kw; kx++) {
                                int iy = oy * s->sh - s->ph + ky, ix = ox * s->sw - s->pw + kx;
                                if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue;
                                double p = (double)x[((i * s->c + c) * s->h + iy) * s->w + ix] *
                                           w[((r * s->c + c) * s->kh + ky) * s->kw + kx];
                                acc += p;
                                m += fabs(p);
                            }
                    int64_t o = ((int64_t)(i * s->m + r) * s->oh + oy) * s->ow + ox;
                    y[o] = acc;
                    mag[o] = m;
                }
}

/* dx and dw of sum(y * dy), in double, with magnitudes. */
static void conv_ref_bwd(const axnn_conv_shape *s, const float *x, const float *w, const float *dy,
                         double *dx, double *dxm, double *dw, double *dwm)
{
    const int64_t X = (int64_t)s->n * s->c * s->h * s->w, W = (int64_t)s->m * s->c * s->kh * s->kw;
    memset(dx, 0, (size_t)X * sizeof(double)), memset(dxm, 0, (size_t)X * sizeof(double));
    memset(dw, 0, (size_t)W * sizeof(double)), memset(dwm, 0, (size_t)W * sizeof(double));
    for (int i = 0; i < s->n; i++)
        for (int r = 0; r < s->m; r++)
            for (int oy = 0; oy < s->oh; oy++)
                for (int ox = 0; ox < s->ow; ox++) {
                    double g = dy[((int64_t)(i * s->m + r) * s->oh + oy) * s->ow + ox];
                    for (int c = 0; c < s->c; c++)
                        for (int ky = 0; ky < s->kh; ky++)
                            for (int kx = 0; kx < s->kw; kx++) {
                                int iy = oy * s->sh - s->ph + ky, ix = ox * s->sw - s->pw + kx;
                                if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue;
                                int64_t xi = ((int64_t)(i * s->c + c) * s->h + iy) * s->w + ix;
                                int64_t wi = ((int64_t)(r * s->c + c) * s->kh + ky) * s->kw + kx;
                                dx[xi] += g * w[wi], dxm[xi] += fabs(g * w[wi]);
                                dw[wi] += g * x[xi], dwm[wi] += fabs(g * x[xi]);
                            }
                }
}

/* A graph: (PARAM) x -> conv2d -> y, x with a gradient; planned for `nth` threads. */
typedef struct conv_graph {
    axnn_graph *g;
    axnn_plan *p;
    int x, y, w, b;
} conv_graph;

static conv_graph conv_graph_make(const conv_case *c, int nth, const float *x, const float *w,
                                  const float *b)
{
    conv_graph cg = {axnn_graph_new(), NULL, 0, 0, 0, -1};
    axnn_input(cg.g, 1, 1, 1);
    axnn_shape xs = {4, {c->n, c->c, c->h, c->w}};
    cg.x = axnn_graph_add_value(cg.g, "x", AXNN_VAL_PARAM, AXNN_F32, &xs, 0);
    axnn_conv2d_attr a = {c->m, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->bias};
    cg.y = axnn_conv2d_ex(cg.g, "conv", cg.x, &a);
    assert_true(cg.y >= 0);
    cg.w = axnn_graph_find_value(cg.g, "conv.weight");
    cg.b = c->bias ? axnn_graph_find_value(cg.g, "conv.bias") : -1;
    cg.p = axnn_plan_new(cg.g, c->n, nth, true);
    assert_non_null(cg.p);
    memcpy(cg.g->vals[cg.x].data, x, (size_t)axnn_shape_numel(&xs) * sizeof(float));
    memcpy(cg.g->vals[cg.w].data, w, (size_t)axnn_shape_numel(&cg.g->vals[cg.w].shape) * sizeof(float));
    if (c->bias) memcpy(cg.g->vals[cg.b].data, b, (size_t)c->m * sizeof(float));
    return cg;
}

/* Forward and backward through the conv2d node with `nth` threads; checks against the
 * references and returns copies of (y, dx, dw) for the determinism checks. */
static void conv_node_case(const conv_case *c, int nth, const float *x, const float *w,
                           const float *b, const float *dy, float **out)
{
    axnn_conv_shape s = cshape(c);
    const int64_t X = (int64_t)s.n * s.c * s.h * s.w, Y = (int64_t)s.n * s.m * s.oh * s.ow;
    const int64_t W = (int64_t)s.m * s.c * s.kh * s.kw;
    conv_graph cg = conv_graph_make(c, nth, x, w, b);
    axnn_pool *pool = axnn_pool_create(nth, NULL);
    float dummy = 0.0f;
    assert_int_equal(axnn_plan_forward(cg.p, pool, &dummy, NULL, s.n), AXNN_OK);
    axnn_plan_zero_param_grads(cg.p);
    assert_int_equal(axnn_plan_backward_from(cg.p, pool, cg.y, dy), AXNN_OK);
    const float *y = axnn_plan_data(cg.p, cg.y), *gx = axnn_plan_grad(cg.p, cg.x);
    const float *gw = axnn_plan_grad(cg.p, cg.w), *gb = c->bias ? axnn_plan_grad(cg.p, cg.b) : NULL;
    assert_true(y && gx && gw && (gb || !c->bias));

    double *ry = malloc((size_t)Y * sizeof(double)), *my = malloc((size_t)Y * sizeof(double));
    double *rdx = malloc((size_t)X * sizeof(double)), *mdx = malloc((size_t)X * sizeof(double));
    double *rdw = malloc((size_t)W * sizeof(double)), *mdw = malloc((size_t)W * sizeof(double));
    conv_ref(&s, x, w, c->bias ? b : NULL, ry, my);
    conv_ref_bwd(&s, x, w, dy, rdx, mdx, rdw, mdw);
    char what[160];
    snprintf(what, sizeof what, "conv n%d c%d %dx%d m%d k%dx%d s%dx%d p%dx%d, %d threads", c->n, c->c,
             c->h, c->w, c->m, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, nth);
    char part[200];
    snprintf(part, sizeof part, "%s: y", what);
    check_bound(part, y, ry, my, Y, CONV_TOL);
    snprintf(part, sizeof part, "%s: dx", what);
    check_bound(part, gx, rdx, mdx, X, CONV_TOL);
    snprintf(part, sizeof part, "%s: dw", what);
    check_bound(part, gw, rdw, mdw, W, CONV_TOL);
    if (c->bias) {
        for (int r = 0; r < s.m; r++) {
            double db = 0.0, m = 0.0;
            for (int i = 0; i < s.n; i++)
                for (int64_t p = 0; p < (int64_t)s.oh * s.ow; p++) {
                    db += dy[((int64_t)i * s.m + r) * s.oh * s.ow + p];
                    m += fabs(dy[((int64_t)i * s.m + r) * s.oh * s.ow + p]);
                }
            assert_true(fabs(gb[r] - db) <= CONV_TOL * m + 1e-30);
        }
    }
    out[0] = axnn_alloc((size_t)Y * sizeof(float));
    out[1] = axnn_alloc((size_t)X * sizeof(float));
    out[2] = axnn_alloc((size_t)W * sizeof(float));
    memcpy(out[0], y, (size_t)Y * sizeof(float));
    memcpy(out[1], gx, (size_t)X * sizeof(float));
    memcpy(out[2], gw, (size_t)W * sizeof(float));
    free(ry), free(my), free(rdx), free(mdx), free(rdw), free(mdw);
    axnn_pool_destroy(pool);
    axnn_plan_free(cg.p);
    axnn_graph_free(cg.g);
}

static void test_conv_node(void **state)
{
    const char *only = getenv("AXNN_TEST_CASE");
    for (size_t t = 0; t < sizeof conv_cases / sizeof conv_cases[0]; t++) {
        if (only && atoi(only) != (int)t) continue;
        const conv_case *c = &conv_cases[t];
        axnn_conv_shape s = cshape(c);
        const int64_t X = (int64_t)s.n * s.c * s.h * s.w, Y = (int64_t)s.n * s.m * s.oh * s.ow;
        const int64_t W = (int64_t)s.m * s.c * s.kh * s.kw;
        float *x = rnd(X), *w = rnd(W), *b = rnd(s.m), *dy = rnd(Y);
        float *r1[3], *r2[3], *r3[3];
        conv_node_case(c, 1, x, w, b, dy, r1);
        conv_node_case(c, 3, x, w, b, dy, r2);
        conv_node_case(c, 3, x, w, b, dy, r3);
        /* forward and input gradient: one thread per element, same bits for any count */
        assert_memory_equal(r1[0], r2[0], (size_t)Y * sizeof(float));
        assert_memory_equal(r1[1], r2[1], (size_t)X * sizeof(float));
        /* weight gradient: the same for the same thread count */
        for (int i = 0; i < 3; i++)
            assert_memory_equal(r2[i], r3[i], (size_t)(i == 0 ? Y : i == 1 ? X : W) * sizeof(float));
        for (int i = 0; i < 3; i++) axnn_free(r1[i]), axnn_free(r2[i]), axnn_free(r3[i]);
        axnn_free(x), axnn_free(w), axnn_free(b), axnn_free(dy);
    }
}

/* The engine with every GEMM configuration (the node test uses the CPU's own). */
typedef struct engine_task {
    axnn_conv_fwd_args a;
    const float *w;
    float *xs, *ap, *ws;
    int64_t wsf;
    int phase;
} engine_task;

static void engine_fn(void *arg, int ith, int nth)
{
    engine_task *t = arg;
    const axnn_conv_shape *s = &t->a.s;
    if (t->phase == 0) {
        axnn_conv_pack_w(t->a.cfg, s->m, (int64_t)s->c * s->kh * s->kw, t->w, t->ap, ith, nth);
    } else {
        axnn_conv_fwd(&t->a, t->ws + ith * t->wsf, ith, nth);
    }
}

static void test_conv_engine_configs(void **state)
{
    const axnn_f32_gemm_config *cfgs[8];
    int ncfg = axnn_f32_gemm_configs(cfgs, 8);
    axnn_pool *pool = axnn_pool_create(2, NULL);
    for (size_t t = 0; t < sizeof conv_cases / sizeof conv_cases[0]; t++) {
        const conv_case *c = &conv_cases[t];
        axnn_conv_shape s = cshape(c);
        const int64_t X = (int64_t)s.n * s.c * s.h * s.w, Y = (int64_t)s.n * s.m * s.oh * s.ow;
        const int64_t W = (int64_t)s.m * s.c * s.kh * s.kw, P = (int64_t)s.oh * s.ow;
        float *x = rnd(X), *w = rnd(W), *sc = rnd(s.m), *sh = rnd(s.m), *res = rnd(Y);
        double *ry = malloc((size_t)Y * sizeof(double)), *my = malloc((size_t)Y * sizeof(double));
        conv_ref(&s, x, w, NULL, ry, my);
        for (int64_t o = 0; o < Y; o++) { /* scale, shift, residual, relu */
            int r = (int)(o / P % s.m);
            ry[o] = ry[o] * sc[r] + sh[r] + res[o];
            my[o] = my[o] * fabs(sc[r]) + fabs(sh[r]) + fabs(res[o]);
            ry[o] = ry[o] > 0.0 ? ry[o] : 0.0;
        }
        for (int ci = 0; ci < ncfg; ci++) {
            engine_task et = {{cfgs[ci], s, x, (int64_t)s.c * s.h * s.w, (int64_t)s.h * s.w}, w};
            et.a.xl = axnn_conv_layout_make(s.n, s.c, s.h, s.w, s.ph, s.pw, s.kh);
            et.xs = axnn_alloc((size_t)axnn_conv_layout_floats(&et.a.xl) * sizeof(float));
            et.ap = axnn_alloc((size_t)axnn_conv_packed_w_floats(cfgs[ci], s.m, W / s.m) * sizeof(float));
            et.wsf = axnn_conv_fwd_ws_floats(cfgs[ci], &s) + 64;
            et.ws = axnn_alloc((size_t)(2 * et.wsf) * sizeof(float));
            float *y = axnn_alloc((size_t)Y * sizeof(float));
            et.a.xs = et.xs;
            et.a.ap = et.ap;
            et.a.epi = (axnn_conv_epi){y, s.m * P, P, sc, sh, res, true, false};
            axnn_pool_run(pool, engine_fn, &et);
            et.phase = 1;
            axnn_pool_run(pool, engine_fn, &et);
            check_bound(cfgs[ci]->name, y, ry, my, Y, CONV_TOL);
            axnn_free(et.xs), axnn_free(et.ap), axnn_free(et.ws), axnn_free(y);
        }
        axnn_free(x), axnn_free(w), axnn_free(sc), axnn_free(sh), axnn_free(res), free(ry), free(my);
    }
    axnn_pool_destroy(pool);
}

/* Winograd F(2x2, 3x3) (eval mode) against the naive convolution, with the full epilogue, for
 * tile rows of 4, 8, 16 and 32 tiles and a last block of 16 or 32 tiles. */
typedef struct wino_task {
    axnn_conv_fwd_args a;
    const float *w;
    float *ws;
    int64_t wsf;
    int phase;
} wino_task;

static void wino_fn(void *arg, int ith, int nth)
{
    wino_task *t = arg;
    if (t->phase == 0)
        axnn_conv_wino_pack_w(t->a.cfg, &t->a.s, t->w, (float *)t->a.ap, ith, nth);
    else
        axnn_conv_wino_fwd(&t->a, t->ws + ith * t->wsf, ith, nth);
}

static void test_winograd(void **state)
{
    static const conv_case cases[] = {
        {3, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, false}, {5, 24, 16, 16, 40, 3, 3, 1, 1, 1, 1, false},
        {7, 17, 8, 8, 23, 3, 3, 1, 1, 1, 1, false},   {2, 16, 12, 64, 16, 3, 3, 1, 1, 1, 1, false},
        {1, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1, false},
    };
    const axnn_f32_gemm_config *cfg = axnn_f32_gemm_config_get();
    axnn_pool *pool = axnn_pool_create(3, NULL);
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        axnn_conv_shape s = cshape(&cases[t]);
        if (!axnn_conv_wino_ok(cfg, &s)) {
            assert_true(strcmp(axnn_cpu_isa_name(), "avx512") != 0); /* only off without AVX-512 */
            continue;
        }
        const int64_t X = (int64_t)s.n * s.c * s.h * s.w, Y = (int64_t)s.n * s.m * s.oh * s.ow;
        const int64_t P = (int64_t)s.oh * s.ow;
        float *x = rnd(X), *w = rnd((int64_t)s.m * s.c * 9), *sc = rnd(s.m), *sh = rnd(s.m), *res = rnd(Y);
        double *ry = malloc((size_t)Y * sizeof(double)), *my = malloc((size_t)Y * sizeof(double));
        conv_ref(&s, x, w, NULL, ry, my);
        for (int64_t o = 0; o < Y; o++) {
            int r = (int)(o / P % s.m);
            ry[o] = ry[o] * sc[r] + sh[r] + res[o];
            my[o] = my[o] * fabs(sc[r]) + fabs(sh[r]) + fabs(res[o]);
            ry[o] = ry[o] > 0.0 ? ry[o] : 0.0;
        }
        float *y = axnn_alloc((size_t)Y * sizeof(float));
        wino_task wt = {{cfg, s, x, (int64_t)s.c * s.h * s.w, (int64_t)s.h * s.w}, w};
        wt.a.ap = axnn_alloc((size_t)axnn_conv_wino_w_floats(cfg, &s) * sizeof(float));
        wt.wsf = axnn_conv_wino_ws_floats(cfg, &s) + 64;
        wt.ws = axnn_alloc((size_t)(3 * wt.wsf) * sizeof(float));
        wt.a.epi = (axnn_conv_epi){y, s.m * P, P, sc, sh, res, true, false};
        axnn_pool_run(pool, wino_fn, &wt);
        wt.phase = 1;
        axnn_pool_run(pool, wino_fn, &wt);
        char what[64];
        snprintf(what, sizeof what, "winograd case %zu", t);
        check_bound(what, y, ry, my, Y, CONV_TOL);
        axnn_free((void *)wt.a.ap), axnn_free(wt.ws), axnn_free(y);
        axnn_free(x), axnn_free(w), axnn_free(sc), axnn_free(sh), axnn_free(res), free(ry), free(my);
    }
    axnn_pool_destroy(pool);
}

/* ------------------------------------------------------------ eval-mode fusion ---- */

/* input -> conv a (bias) -> bn a -> relu -> conv b -> bn b -> add(., conv c -> bn c) -> relu
 * -> global pool -> linear, with random weights and BatchNorm statistics. */
static axnn_graph *fusion_graph(void)
{
    axnn_rng r;
    axnn_rng_seed(&r, 99);
    axnn_graph *g = axnn_graph_new();
    int x = axnn_input(g, 3, 9, 9);
    int a = axnn_relu(g, axnn_batchnorm2d(g, "bna", axnn_conv2d(g, "ca", x, 8, 3, 1, 1, true)));
    int b = axnn_batchnorm2d(g, "bnb", axnn_conv2d(g, "cb", a, 16, 3, 2, 1, false));
    int c = axnn_batchnorm2d(g, "bnc", axnn_conv2d(g, "cc", a, 16, 1, 2, 0, false));
    int y = axnn_relu(g, axnn_add(g, b, c));
    y = axnn_linear(g, "fc", axnn_flatten(g, axnn_global_avgpool(g, y)), 5, true);
    int lab = axnn_labels(g);
    assert_true(axnn_softmax_ce(g, y, lab, 0.0f) >= 0);
    for (int i = 0; i < g->nvals; i++) {
        axnn_value *v = &g->vals[i];
        if (v->kind == AXNN_VAL_PARAM || (v->kind == AXNN_VAL_BUFFER && v->dtype == AXNN_F32)) {
            float *p = v->data;
            bool var = strstr(v->name, "running_var") != NULL;
            for (int64_t k = 0; k < axnn_shape_numel(&v->shape); k++)
                p[k] = var ? 0.5f + axnn_rng_uniform(&r) : 0.5f * (2.0f * axnn_rng_uniform(&r) - 1.0f);
        }
    }
    return g;
}

/* A plan of a fusion graph (no_fusion: eval mode unfused). */
static axnn_plan *fusion_plan(axnn_graph *g, int batch, bool training, bool no_fusion)
{
    axnn_plan *p;
    axnn_plan_cfg cfg = {.batch = batch, .nthreads = 2, .training = training, .no_fusion = no_fusion};
    if (axnn_plan_create(g, &cfg, &p) != AXNN_OK) fail_msg("%s", axnn_last_error());
    return p;
}

/* The plan's fusion marks of node k (internal: graph/plan_impl.h). */
static const axnn_fusion *fuse_of(const axnn_plan *p, int k) { return &p->nrt[k].fuse; }

static void test_fusion(void **state)
{
    const int n = 5;
    float *x = rnd(n * 3 * 9 * 9);
    int32_t lab[5] = {0, 1, 2, 3, 4};
    axnn_pool *pool = axnn_pool_create(2, NULL);
    float ref[25], got[25], got2[25];
    axnn_graph *ug = fusion_graph(), *fg = fusion_graph(), *tg = fusion_graph();
    axnn_plan *u = fusion_plan(ug, n, false, true);
    axnn_plan *f = fusion_plan(fg, n, false, false);
    axnn_plan *t = fusion_plan(tg, n, true, false);
    int chains = 0;
    for (int k = 0; k < fg->nnodes; k++) chains += fuse_of(f, k)->role == AXNN_FUSE_HEAD;
    assert_int_equal(chains, 3);
    assert_int_equal(axnn_plan_forward(u, pool, x, NULL, n), AXNN_OK);
    memcpy(ref, axnn_plan_logits(u), sizeof ref);
    assert_int_equal(axnn_plan_forward(f, pool, x, NULL, n), AXNN_OK);
    memcpy(got, axnn_plan_logits(f), sizeof got);
    for (int i = 0; i < 25; i++) assert_true(fabsf(got[i] - ref[i]) <= 1e-5f * (fabsf(ref[i]) + 1.0f));

    /* A training plan: train step, eval (fused), train step again, eval again. */
    float before[25];
    assert_int_equal(axnn_plan_forward(t, pool, x, lab, n), AXNN_OK);
    memcpy(before, axnn_plan_logits(t), sizeof before);
    assert_int_equal(axnn_plan_backward(t, pool), AXNN_OK);
    axnn_plan_set_training(t, false);
    assert_int_equal(axnn_plan_forward(t, pool, x, NULL, n), AXNN_OK);
    memcpy(got2, axnn_plan_logits(t), sizeof got2);
    axnn_plan_set_training(u, false);
    /* the training forward moved t's running statistics: compare with u after the same move */
    axnn_plan_set_training(t, true);
    assert_int_equal(axnn_plan_forward(t, pool, x, lab, n), AXNN_OK);
    for (int i = 0; i < 25; i++) assert_true(isfinite(axnn_plan_logits(t)[i]));
    assert_int_equal(axnn_plan_backward(t, pool), AXNN_OK);
    for (int i = 0; i < 25; i++) assert_true(isfinite(got2[i]) && isfinite(before[i]));
    axnn_plan_free(u), axnn_plan_free(f), axnn_plan_free(t);
    axnn_graph_free(ug), axnn_graph_free(fg), axnn_graph_free(tg);
    axnn_pool_destroy(pool);
    axnn_free(x);
}

/* Eval forward of a training-planned graph, fused, equals an unfused eval plan of the same
 * weights and statistics; a training forward is unaffected by the marks. */
static void test_fusion_switch(void **state)
{
    const int n = 4;
    float *x = rnd(n * 3 * 9 * 9);
    int32_t lab[4] = {1, 0, 4, 2};
    axnn_pool *pool = axnn_pool_create(2, NULL);
    axnn_graph *tg = fusion_graph(), *tug = fusion_graph(), *ug = fusion_graph();
    axnn_plan *t = fusion_plan(tg, n, true, false);
    axnn_plan *tu = fusion_plan(tug, n, true, true);
    axnn_plan *u = fusion_plan(ug, n, false, true);
    float a[20], b[20];
    /* training forwards agree bit for bit (fusion marks are ignored in training) */
    assert_int_equal(axnn_plan_forward(t, pool, x, lab, n), AXNN_OK);
    memcpy(a, axnn_plan_logits(t), sizeof a);
    assert_int_equal(axnn_plan_forward(tu, pool, x, lab, n), AXNN_OK);
    memcpy(b, axnn_plan_logits(tu), sizeof b);
    assert_memory_equal(a, b, sizeof a);
    /* after one training forward, the running statistics of t equal those of tu: copy to u */
    for (int i = 0; i < ug->nvals; i++)
        if (ug->vals[i].kind == AXNN_VAL_BUFFER)
            memcpy(ug->vals[i].data, tug->vals[i].data,
                   (size_t)axnn_shape_numel(&ug->vals[i].shape) * axnn_dtype_size(ug->vals[i].dtype));
    axnn_plan_set_training(t, false);
    assert_int_equal(axnn_plan_forward(t, pool, x, NULL, n), AXNN_OK);
    memcpy(a, axnn_plan_logits(t), sizeof a);
    assert_int_equal(axnn_plan_forward(u, pool, x, NULL, n), AXNN_OK);
    memcpy(b, axnn_plan_logits(u), sizeof b);
    for (int i = 0; i < 20; i++) assert_true(fabsf(a[i] - b[i]) <= 1e-5f * (fabsf(b[i]) + 1.0f));
    axnn_plan_free(t), axnn_plan_free(tu), axnn_plan_free(u);
    axnn_graph_free(tg), axnn_graph_free(tug), axnn_graph_free(ug);
    axnn_pool_destroy(pool);
    axnn_free(x);
}

/* Training-mode chains (BN -> [add] -> relu in one pass) give the unfused graph's logits, loss,
 * running statistics and gradients bit for bit, over two steps. */
static void test_train_chains(void **state)
{
    const int n = 6;
    float *x = rnd(n * 3 * 9 * 9);
    int32_t lab[6] = {0, 1, 2, 3, 4, 0};
    axnn_pool *pool = axnn_pool_create(2, NULL);
    axnn_graph *fg = fusion_graph(), *ug = fusion_graph();
    axnn_plan *f = fusion_plan(fg, n, true, false);
    axnn_plan *u = fusion_plan(ug, n, true, true);
    int head = -1, add;
    for (int k = 0; k < fg->nnodes && head < 0; k++)
        if (fuse_of(f, k)->role == AXNN_FUSE_HEAD && fuse_of(f, k)->res >= 0) head = k;
    assert_true(head >= 0 && axnn_fuse_train(f, head, &add) && add >= 0);
    for (int step = 0; step < 2; step++) {
        axnn_plan_zero_param_grads(f), axnn_plan_zero_param_grads(u);
        assert_int_equal(axnn_plan_forward(f, pool, x, lab, n), AXNN_OK);
        assert_int_equal(axnn_plan_forward(u, pool, x, lab, n), AXNN_OK);
        assert_memory_equal(axnn_plan_logits(f), axnn_plan_logits(u), n * 5 * sizeof(float));
        assert_int_equal(axnn_plan_backward(f, pool), AXNN_OK);
        assert_int_equal(axnn_plan_backward(u, pool), AXNN_OK);
        for (int i = 0; i < fg->nvals; i++) {
            const axnn_value *a = &fg->vals[i], *b = &ug->vals[i];
            size_t bytes = (size_t)axnn_shape_numel(&a->shape) * axnn_dtype_size(a->dtype);
            if (a->kind == AXNN_VAL_PARAM) assert_memory_equal(axnn_plan_grad(f, i), axnn_plan_grad(u, i), bytes);
            if (a->kind == AXNN_VAL_BUFFER) assert_memory_equal(a->data, b->data, bytes);
        }
    }
    axnn_plan_free(f), axnn_plan_free(u);
    axnn_graph_free(fg), axnn_graph_free(ug);
    axnn_pool_destroy(pool);
    axnn_free(x);
}

/* An inference plan run in micro-batches gives the logits and loss of a whole-batch run. */
static void test_micro_batches(void **state)
{
    const int n = 11;
    float *x = rnd(n * 3 * 9 * 9);
    int32_t lab[11] = {0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0};
    axnn_pool *pool = axnn_pool_create(2, NULL);
    float a[55], b[55], la, lb;
    axnn_graph *gg = fusion_graph(), *hg = fusion_graph();
    unsetenv("AXNN_MICRO_BATCH");
    axnn_plan *g = fusion_plan(gg, n, false, false);
    assert_int_equal(axnn_plan_forward(g, pool, x, lab, n), AXNN_OK);
    memcpy(a, axnn_plan_logits(g), sizeof a);
    la = axnn_plan_loss(g);
    setenv("AXNN_MICRO_BATCH", "4", 1);
    axnn_plan *h = fusion_plan(hg, n, false, false);
    assert_int_equal(axnn_plan_forward(h, pool, x, lab, n), AXNN_OK);
    memcpy(b, axnn_plan_logits(h), sizeof b);
    lb = axnn_plan_loss(h);
    assert_int_equal(axnn_plan_forward(h, pool, x, NULL, 7), AXNN_OK); /* a shorter batch */
    assert_memory_equal(axnn_plan_logits(h), a, 7 * 5 * sizeof(float));
    unsetenv("AXNN_MICRO_BATCH");
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(&la, &lb, sizeof la);
    axnn_plan_free(g), axnn_plan_free(h);
    axnn_graph_free(gg), axnn_graph_free(hg);
    axnn_pool_destroy(pool);
    axnn_free(x);
}

/* ------------------------------------------------------------ main ---- */

/* Runs this program again under each other dispatch level; returns the number that failed. */
static int run_isa_variants(const char *self)
{
    static const char *const envs[][2] = {
        {"AXNN_ISA", "avx2"}, {"AXNN_ISA", "portable"}, {"AXNN_FORCE_REF", "1"}};
    int failed = 0;
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            setenv(envs[i][0], envs[i][1], 1);
            setenv("AXNN_TEST_KERNELS_CHILD", "1", 1);
            execl(self, self, (char *)NULL);
            _exit(127);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        fprintf(stderr, "test_kernels with %s=%s: %s\n", envs[i][0], envs[i][1], ok ? "ok" : "FAILED");
        failed += !ok;
    }
    return failed;
}

int main(int argc, char **argv)
{
    axnn_rng_seed(&rng, 2024);
    fprintf(stderr, "test_kernels: isa %s, gemm %s\n", axnn_cpu_isa_name(), axnn_f32_gemm_config_get()->name);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_configs),  cmocka_unit_test(test_indirect_kernel),
        cmocka_unit_test(test_dot_kernel),    cmocka_unit_test(test_im2col),
        cmocka_unit_test(test_eltwise),       cmocka_unit_test(test_maxpool2x2),
        cmocka_unit_test(test_conv_node),
        cmocka_unit_test(test_conv_engine_configs), cmocka_unit_test(test_winograd),
        cmocka_unit_test(test_fusion),
        cmocka_unit_test(test_fusion_switch), cmocka_unit_test(test_train_chains),
        cmocka_unit_test(test_micro_batches),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (!getenv("AXNN_TEST_KERNELS_CHILD")) failed += run_isa_variants("/proc/self/exe");
    return failed ? 1 : 0;
}
