/* Row kernels of the transformer nodes: GELU, LayerNorm rows, softmax rows and their
 * gradients, chosen once per process like the GEMM micro-kernels.
 *
 * The reference (portable) kernels compute in double with libm's erfc and exp, rounded once to
 * float at the end: they are what the tests trust. The AVX-512 kernels compute in float:
 *
 *   exp(x)    n = round(x log2 e), r = x - n ln 2 (ln 2 split in two parts, so r is exact to
 *             a few ulp), exp(r) by its degree-7 Taylor polynomial on |r| <= ln2 / 2 (truncation
 *             below 5e-9 relative), scaled by 2^n with vscalefps (which also gives 0 and inf on
 *             underflow and overflow);
 *   Phi(x)    the normal CDF, written with erfc of z = |x| / sqrt 2:
 *             erfc(z) = exp(-z^2) G(t), t = 2 / (2 + z), G a degree-11 polynomial fitted by
 *             tests/gen/gen_erfc_poly.py (relative error 1.5e-7 in float Horner form). z^2 is
 *             taken as x*x/2 with its rounding error recovered by an FMA and folded into the
 *             exponential (exp(-q - e) = exp(-q) (1 - e)), so the tail keeps its relative
 *             accuracy. Phi = erfc/2 for x < 0 and 1 - erfc/2 otherwise: there is no
 *             cancellation on either side, so GELU = x Phi(x) is accurate in relative terms
 *             everywhere, also far into the negative tail where 0.5 x (1 + erf) would not be;
 *   GELU'(x)  = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi) (the same exponential).
 * Measured against the reference on 4M points of [-20, 20]: GELU within 4.2e-7 relative
 * (7 ulp; 12 ulp among the subnormal results below x = -13), GELU' within 1.8e-7 absolute (it
 * is a sum of two terms of size ~0.2 that cancel near x = -0.75, so relative error is not the
 * measure there). tests/test_vit_ops.c allows |a - b| <= 1e-6 |b| + 1e-37 (GELU) and
 * 1e-6 |b| + 4e-7 (GELU').
 *
 * LayerNorm statistics use two passes (mean, then the mean of squared deviations), softmax
 * uses the row maximum, both summed in 16 float lanes on AVX-512 and in double in the
 * reference; they agree to float rounding (a few ulp of the row's scale).
 *
 * The small GEMM (attention's Q K^T, P V and their gradients, per image and head) keeps a tile
 * of 6 rows x up to 64 columns in 24 zmm accumulators, broadcasting A from its rows and loading
 * B rows as vectors, so neither operand is packed; the reference is the plain i-k-j loop.
 *
 * Shapes: the row kernels work on one contiguous row (n or d floats); the ops split rows over
 * threads. None allocates.
 */
#ifndef AXNN_KERNELS_TRANSFORMER_H
#define AXNN_KERNELS_TRANSFORMER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct axnn_tfm_kernels {
    const char *name;
    /* y = x Phi(x) (exact-erf GELU), n floats; y may equal x */
    void (*gelu)(const float *x, float *y, int64_t n);
    /* dx (+)= dy * GELU'(x) */
    void (*gelu_bwd)(const float *x, const float *dy, float *dx, int64_t n, bool accumulate);
    /* One LayerNorm row of d floats: mean and rstd = 1 / sqrt(var + eps) (biased variance)
     * go to *mean, *rstd; y = (x - mean) * rstd * w + b. */
    void (*layernorm)(const float *x, const float *w, const float *b, float *y, int64_t d,
                      float eps, float *mean, float *rstd);
    /* Its gradient, with xhat = (x - mean) rstd and g = dy * w:
     *   dx (+)= rstd (g - mean(g) - xhat mean(g xhat)),  dw += dy xhat,  db += dy. */
    void (*layernorm_bwd)(const float *x, const float *w, const float *dy, float *dx, float *dw,
                          float *db, int64_t d, float mean, float rstd, bool accumulate);
    /* In place x = softmax(x) over n floats; returns log(sum exp(x)) of the input (the
     * log-sum-exp, kept to recompute the row in backward). */
    float (*softmax)(float *x, int64_t n);
    /* In place x = exp(x - c): a softmax row rebuilt from its log-sum-exp c. */
    void (*exp_shift)(float *x, int64_t n, float c);
    /* In place dp = p * (dp - c): the softmax gradient of a row, c = sum p * dp. */
    void (*softmax_bwd)(const float *p, float *dp, int64_t n, float c);
    /* sum a * b */
    float (*dot)(const float *a, const float *b, int64_t n);
    /* C (M, N) (+)= alpha A (M, K) B (K, N): all row-major with row strides lda, ldb, ldc, none
     * packed (the attention's per-head products, read in place from the qkv rows). B is read
     * once per 6 rows of A, so it should fit in L1/L2 (T x head size for attention). */
    void (*gemm)(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                 const float *B, int64_t ldb, float *C, int64_t ldc, bool accumulate);
    /* dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols */
    void (*transpose)(const float *src, int64_t rows, int64_t cols, int64_t lds, float *dst, int64_t ldd);
} axnn_tfm_kernels;

/* The kernels for this CPU (AXNN_ISA and AXNN_FORCE_REF respected). */
const axnn_tfm_kernels *axnn_tfm_get(void);
extern const axnn_tfm_kernels axnn_tfm_ref, axnn_tfm_avx512;

#endif
