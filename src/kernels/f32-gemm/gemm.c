/* f32 GEMM driver: blocking, packing and the run-time choice of micro-kernel (see gemm.h). */
#include "kernels/f32-gemm/gemm.h"

#include "axnn/base.h"

#include <string.h>

#define KC 256
#define MC_MAX 192
#define NC 512

static const axnn_f32_gemm_config cfg_portable = {
    "portable", AXNN_F32_PORTABLE_MR, AXNN_F32_PORTABLE_NR, axnn_f32_ukernel_portable,
    axnn_f32_ind_ukernel_portable, AXNN_F32_PORTABLE_DMR, AXNN_F32_PORTABLE_DNR,
    axnn_f32_dot_ukernel_portable};
static const axnn_f32_gemm_config cfg_avx2 = {
    "avx2", AXNN_F32_AVX2_MR, AXNN_F32_AVX2_NR, axnn_f32_ukernel_avx2, axnn_f32_ind_ukernel_avx2,
    AXNN_F32_AVX2_DMR, AXNN_F32_AVX2_DNR, axnn_f32_dot_ukernel_avx2};
static const axnn_f32_gemm_config cfg_avx512 = {
    "avx512", AXNN_F32_AVX512_MR, AXNN_F32_AVX512_NR, axnn_f32_ukernel_avx512,
    axnn_f32_ind_ukernel_avx512, AXNN_F32_AVX512_DMR, AXNN_F32_AVX512_DNR,
    axnn_f32_dot_ukernel_avx512, axnn_f32_pack_t_avx512};
static const axnn_f32_gemm_config cfg_avx512_12x32 = {
    "avx512-12x32", 12, 32, axnn_f32_ukernel_avx512_12x32, axnn_f32_ind_ukernel_avx512_12x32,
    AXNN_F32_AVX512_DMR, AXNN_F32_AVX512_DNR, axnn_f32_dot_ukernel_avx512, axnn_f32_pack_t_avx512};

int axnn_f32_gemm_configs(const axnn_f32_gemm_config **out, int max)
{
    const axnn_cpu *c = axnn_cpu_features();
    int n = 0;
    if (n < max) out[n++] = &cfg_portable;
    if (c->avx2 && c->fma && n < max) out[n++] = &cfg_avx2;
    if (c->avx512f && c->avx512bw && c->avx512vl && n < max) out[n++] = &cfg_avx512;
    if (c->avx512f && c->avx512bw && c->avx512vl && n < max) out[n++] = &cfg_avx512_12x32;
    return n;
}

const axnn_f32_gemm_config *axnn_f32_gemm_config_get(void)
{
    const axnn_cpu *c = axnn_cpu_features();
    if (c->avx512f && c->avx512bw && c->avx512vl) return &cfg_avx512;
    if (c->avx2 && c->fma) return &cfg_avx2;
    return &cfg_portable;
}

int64_t axnn_sgemm_ws_floats(void)
{
    /* A block (MC_MAX rounded to the largest MR) plus B block (NC rounded to the largest NR). */
    return (int64_t)(MC_MAX + 16) * KC + (int64_t)KC * (NC + 64);
}

static inline float elem(const float *X, int64_t ld, bool t, int64_t r, int64_t c)
{
    return t ? X[c * ld + r] : X[r * ld + c];
}

/* Packs rows [i0, i0+mc) and columns [p0, p0+kc) of op(A) into MR-tall panels, scaled by alpha. */
static void pack_a(const axnn_f32_gemm_config *cfg, bool ta, const float *A, int64_t lda, int64_t i0,
                   int64_t mc, int64_t p0, int64_t kc, float alpha, float *ap)
{
    const int mr = cfg->mr;
    for (int64_t ib = 0; ib < mc; ib += mr) {
        int64_t m = mc - ib < mr ? mc - ib : mr;
        if (!ta && cfg->pack_t && mr % 8 == 0) { /* row-major A: a transpose of the panel */
            cfg->pack_t(A + (i0 + ib) * lda + p0, lda, m, kc, mr, alpha, ap);
            ap += kc * mr;
            continue;
        }
        for (int64_t p = 0; p < kc; p++) {
            float *dst = ap + p * mr;
            if (!ta) {
                const float *src = A + (i0 + ib) * lda + p0 + p;
                for (int64_t i = 0; i < m; i++) dst[i] = alpha * src[i * lda];
            } else {
                const float *src = A + (p0 + p) * lda + i0 + ib;
                for (int64_t i = 0; i < m; i++) dst[i] = alpha * src[i];
            }
            for (int64_t i = m; i < mr; i++) dst[i] = 0.0f;
        }
        ap += kc * mr;
    }
}

/* Packs rows [p0, p0+kc) and columns [j0, j0+nc) of op(B) into NR-wide panels. */
static void pack_b(const axnn_f32_gemm_config *cfg, bool tb, const float *B, int64_t ldb, int64_t p0,
                   int64_t kc, int64_t j0, int64_t nc, float *bp)
{
    const int nr = cfg->nr;
    for (int64_t jb = 0; jb < nc; jb += nr) {
        int64_t n = nc - jb < nr ? nc - jb : nr;
        if (tb && cfg->pack_t && nr % 8 == 0) {
            cfg->pack_t(B + (j0 + jb) * ldb + p0, ldb, n, kc, nr, 1.0f, bp);
        } else if (!tb) {
            for (int64_t p = 0; p < kc; p++) {
                const float *src = B + (p0 + p) * ldb + j0 + jb;
                float *dst = bp + p * nr;
                memcpy(dst, src, (size_t)n * sizeof(float));
                for (int64_t j = n; j < nr; j++) dst[j] = 0.0f;
            }
        } else {
            for (int64_t p = 0; p < kc; p++) {
                float *dst = bp + p * nr;
                for (int64_t j = 0; j < n; j++) dst[j] = B[(j0 + jb + j) * ldb + p0 + p];
                for (int64_t j = n; j < nr; j++) dst[j] = 0.0f;
            }
        }
        bp += kc * nr;
    }
}

static void scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++) {
        float *row = C + i * ldc;
        if (beta == 0.0f)
            memset(row, 0, (size_t)N * sizeof(float));
        else
            for (int64_t j = 0; j < N; j++) row[j] *= beta;
    }
}

void axnn_sgemm_with(const axnn_f32_gemm_config *cfg, bool ta, bool tb, int64_t M, int64_t N,
                     int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                     int64_t ldb, float beta, float *C, int64_t ldc, float *ws)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        if (beta != 1.0f) scale_c(M, N, beta, C, ldc);
        return;
    }
    const int mr = cfg->mr, nr = cfg->nr;
    const int64_t mc_blk = (MC_MAX / mr) * mr;
    float *ap = ws;
    float *bp = ws + (int64_t)(MC_MAX + 16) * KC;
    /* The edge tile: the micro-kernel always computes a full MR x NR tile. */
    float edge[16 * 64];
    bool beta_is_1 = beta == 1.0f;
    if (beta != 0.0f && !beta_is_1) {
        scale_c(M, N, beta, C, ldc);
        beta_is_1 = true;
    }

    for (int64_t j0 = 0; j0 < N; j0 += NC) {
        int64_t nc = N - j0 < NC ? N - j0 : NC;
        for (int64_t p0 = 0; p0 < K; p0 += KC) {
            int64_t kc = K - p0 < KC ? K - p0 : KC;
            bool acc = p0 > 0 || beta_is_1;
            pack_b(cfg, tb, B, ldb, p0, kc, j0, nc, bp);
            for (int64_t i0 = 0; i0 < M; i0 += mc_blk) {
                int64_t mc = M - i0 < mc_blk ? M - i0 : mc_blk;
                pack_a(cfg, ta, A, lda, i0, mc, p0, kc, alpha, ap);
                for (int64_t jb = 0; jb < nc; jb += nr) {
                    int64_t n = nc - jb < nr ? nc - jb : nr;
                    const float *bpp = bp + (jb / nr) * kc * nr;
                    for (int64_t ib = 0; ib < mc; ib += mr) {
                        int64_t m = mc - ib < mr ? mc - ib : mr;
                        const float *app = ap + (ib / mr) * kc * mr;
                        float *c = C + (i0 + ib) * ldc + j0 + jb;
                        if (m == mr && n == nr) {
                            cfg->ukernel(kc, app, bpp, c, ldc, acc);
                            continue;
                        }
                        cfg->ukernel(kc, app, bpp, edge, nr, false);
                        for (int64_t i = 0; i < m; i++)
                            for (int64_t j = 0; j < n; j++)
                                c[i * ldc + j] = acc ? c[i * ldc + j] + edge[i * nr + j]
                                                     : edge[i * nr + j];
                    }
                }
            }
        }
    }
}

void axnn_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                float *ws)
{
    axnn_sgemm_with(axnn_f32_gemm_config_get(), ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C,
                    ldc, ws);
}

void axnn_sgemm_ref(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                    const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                    float *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0.0;
            for (int64_t p = 0; p < K; p++)
                s += (double)elem(A, lda, ta, i, p) * (double)elem(B, ldb, tb, p, j);
            float prev = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
            C[i * ldc + j] = (float)(alpha * s) + prev;
        }
}
