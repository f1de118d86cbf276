/* Reference row kernels of the transformer nodes (double precision, libm) and the run-time
 * choice (see transformer.h). */
#include "kernels/transformer/transformer.h"

#include "axnn/base.h"

#include <math.h>

/* Phi(x), the standard normal CDF, without cancellation in either tail. */
static double phi_cdf(double x) { return 0.5 * erfc(-x * M_SQRT1_2); }

static void gelu_ref(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        y[i] = (float)(v * phi_cdf(v));
    }
}

static void gelu_bwd_ref(const float *x, const float *dy, float *dx, int64_t n, bool accumulate)
{
    const double k = 1.0 / sqrt(2.0 * M_PI);
    for (int64_t i = 0; i < n; i++) {
        double v = x[i], d = phi_cdf(v) + v * k * exp(-0.5 * v * v);
        float g = (float)(d * dy[i]);
        dx[i] = accumulate ? dx[i] + g : g;
    }
}

static void layernorm_ref(const float *x, const float *w, const float *b, float *y, int64_t d,
                          float eps, float *mean, float *rstd)
{
    double s = 0.0, ss = 0.0;
    for (int64_t i = 0; i < d; i++) s += x[i];
    const double m = s / (double)d;
    for (int64_t i = 0; i < d; i++) ss += (x[i] - m) * (x[i] - m);
    const double r = 1.0 / sqrt(ss / (double)d + eps);
    for (int64_t i = 0; i < d; i++) y[i] = (float)((x[i] - m) * r * w[i] + b[i]);
    *mean = (float)m;
    *rstd = (float)r;
}

static void layernorm_bwd_ref(const float *x, const float *w, const float *dy, float *dx, float *dw,
                              float *db, int64_t d, float mean, float rstd, bool accumulate)
{
    double sg = 0.0, sgx = 0.0;
    for (int64_t i = 0; i < d; i++) {
        double xh = ((double)x[i] - mean) * rstd, g = (double)dy[i] * w[i];
        sg += g;
        sgx += g * xh;
        dw[i] += (float)(dy[i] * xh);
        db[i] += dy[i];
    }
    const double mg = sg / (double)d, mgx = sgx / (double)d;
    for (int64_t i = 0; i < d; i++) {
        double xh = ((double)x[i] - mean) * rstd, g = (double)dy[i] * w[i];
        float v = (float)(rstd * (g - mg - xh * mgx));
        dx[i] = accumulate ? dx[i] + v : v;
    }
}

static float softmax_ref(float *x, int64_t n)
{
    float mx = x[0];
    for (int64_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += exp((double)x[i] - mx);
    const double lse = mx + log(s);
    for (int64_t i = 0; i < n; i++) x[i] = (float)exp((double)x[i] - lse);
    return (float)lse;
}

static void exp_shift_ref(float *x, int64_t n, float c)
{
    for (int64_t i = 0; i < n; i++) x[i] = (float)exp((double)x[i] - c);
}

static void softmax_bwd_ref(const float *p, float *dp, int64_t n, float c)
{
    for (int64_t i = 0; i < n; i++) dp[i] = (float)((double)p[i] * ((double)dp[i] - c));
}

static float dot_ref(const float *a, const float *b, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return (float)s;
}

static void gemm_ref(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                     int64_t ldb, float *C, int64_t ldc, bool accumulate)
{
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (!accumulate)
            for (int64_t j = 0; j < N; j++) c[j] = 0.0f;
        for (int64_t p = 0; p < K; p++) {
            const float a = alpha * A[i * lda + p];
            const float *b = B + p * ldb;
            for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
        }
    }
}

static void transpose_ref(const float *src, int64_t rows, int64_t cols, int64_t lds, float *dst, int64_t ldd)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) dst[c * ldd + r] = src[r * lds + c];
}

const axnn_tfm_kernels axnn_tfm_ref = {
    "ref",         gelu_ref,      gelu_bwd_ref,    layernorm_ref, layernorm_bwd_ref,
    softmax_ref,   exp_shift_ref, softmax_bwd_ref, dot_ref,       gemm_ref,
    transpose_ref,
};

const axnn_tfm_kernels *axnn_tfm_get(void)
{
    const axnn_cpu *c = axnn_cpu_features();
    if (c->avx512f && c->avx512bw && c->avx512vl) return &axnn_tfm_avx512;
    return &axnn_tfm_ref;
}
