/* Element-wise activations of the ONNX op set, forward and backward, on runs of n floats:
 *   hard-sigmoid  y = max(0, min(1, alpha x + beta))          (ONNX defaults 0.2, 0.5)
 *   hard-swish    y = x * max(0, min(1, x / 6 + 1/2))         (ONNX: alpha 1/6, beta 1/2)
 *   clip          y = min(max(x, lo), hi)                      (ReLU6: lo 0, hi 6)
 *   leaky-relu    y = x >= 0 ? x : alpha x                     (ONNX default 0.01)
 *   sigmoid       y = 1 / (1 + exp(-x))
 *   tanh          y = tanh(x)
 * Gradients (dx = dy * y'(x)), with PyTorch's choice at the kinks: hard-sigmoid alpha where
 * 0 < alpha x + beta < 1, else 0; hard-swish 0 for x < -3, (2x + 3) / 6 for -3 <= x <= 3, 1
 * above; clip 1 where lo <= x <= hi, else 0; leaky-relu 1 for x > 0, else alpha; sigmoid
 * y (1 - y); tanh 1 - y^2. Only the reference computes them (they are cheap and rare).
 *
 * NaN propagates through all of them. min(a, b) and max(a, b) are written a < b ? a : b and
 * a > b ? a : b, the semantics of x86's minps/maxps, with the NaN-carrying operand second.
 *
 * The reference is plain C with libm's expf and tanhf. The SIMD variants (AVX2, AVX-512)
 * give the same floats for the piecewise-linear ones (same IEEE operations in the same
 * order); for sigmoid and tanh they use their own exponential (n = round(x log2 e), a
 * degree-7 Taylor polynomial of exp on |r| <= ln2/2, scaled by 2^n) and, for tanh on
 * |x| < 0.5, its odd Taylor series to x^15: both stay within 1e-6 relative (plus 1e-37
 * absolute) of the reference, which tests/test_kernels_new.c checks.
 */
#ifndef AXNN_KERNELS_ACT_H
#define AXNN_KERNELS_ACT_H

#include <stdint.h>

typedef enum axnn_act_kind {
    AXNN_ACT_HARDSIGMOID,
    AXNN_ACT_HARDSWISH,
    AXNN_ACT_CLIP,
    AXNN_ACT_LEAKYRELU,
    AXNN_ACT_SIGMOID,
    AXNN_ACT_TANH,
} axnn_act_kind;

typedef struct axnn_act {
    axnn_act_kind kind;
    float alpha, beta; /* hard-sigmoid; alpha of leaky-relu */
    float lo, hi;      /* clip */
} axnn_act;

typedef struct axnn_act_kernels {
    const char *name;
    void (*fwd)(const axnn_act *p, const float *x, float *y, int64_t n);
    /* dx = dy * y'(x); y is the forward output (sigmoid and tanh use it, the others x) */
    void (*bwd)(const axnn_act *p, const float *x, const float *y, const float *dy, float *dx,
                int64_t n);
} axnn_act_kernels;

/* The reference backward pass (every variant's bwd). */
void axnn_act_bwd_ref(const axnn_act *p, const float *x, const float *y, const float *dy, float *dx,
                      int64_t n);

const axnn_act_kernels *axnn_act_get(void);
int axnn_act_variants(const axnn_act_kernels **out, int max); /* portable first */
extern const axnn_act_kernels axnn_act_portable, axnn_act_avx2, axnn_act_avx512;

#endif
