/* Element-wise kernels for the memory-bound nodes (relu, add, batchnorm), chosen once per
 * process from the CPU's features like the GEMM micro-kernels: plain C loops (the reference,
 * and what AXNN_FORCE_REF=1 or AXNN_ISA=portable|avx2 run) and AVX-512 versions.
 *
 * All work on contiguous runs of n floats; the ops split their tensors over threads and call
 * these on each piece. Sums are returned per run (moments accumulate in double): the ops add
 * them across runs in a fixed order, so a result depends only on how the tensor is cut into
 * runs (per image and channel), never on the thread count. The AVX-512 sums add in 16 lanes
 * and reduce the lanes at the end; they differ from the sequential C sums by rounding only.
 */
#ifndef AXNN_KERNELS_ELTWISE_H
#define AXNN_KERNELS_ELTWISE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct axnn_eltwise {
    const char *name;
    /* y = x > 0 ? x : 0 (NaN gives 0) */
    void (*relu)(const float *x, float *y, int64_t n);
    /* dx (+)= y > 0 ? dy : 0 */
    void (*relu_bwd)(const float *y, const float *dy, float *dx, int64_t n, bool accumulate);
    /* y = a + b */
    void (*add)(const float *a, const float *b, float *y, int64_t n);
    /* y += x */
    void (*acc)(const float *x, float *y, int64_t n);
    /* *s1 += sum of x, *s2 += sum of x^2, accumulated in double (one pass over x) */
    void (*moments)(const float *x, int64_t n, double *s1, double *s2);
    /* y = x * a + b (+ res when not NULL), then max(y, 0) when relu: a BatchNorm, alone or
     * with the add and ReLU that follow it (training-mode chains, graph/fuse.c). */
    void (*bn_apply)(const float *x, const float *res, float *y, int64_t n, float a, float b,
                     bool relu);
    /* With g = dy, masked to 0 where out <= 0 when out is not NULL (a ReLU after the BN):
     * *sdy = sum of g, *sdyx = sum of g * (x - mean); when dres is not NULL, also
     * dres (+)= g (the gradient of a residual added before the ReLU). */
    void (*bn_bwd_sums)(const float *x, const float *dy, const float *out, int64_t n, float mean,
                        float *sdy, float *sdyx, float *dres, bool dres_accumulate);
    /* dx (+)= k * (g - mdy - (x - mean) * invstd * mdyx), g as in bn_bwd_sums */
    void (*bn_bwd_dx)(const float *x, const float *dy, const float *out, float *dx, int64_t n,
                      float mean, float invstd, float k, float mdy, float mdyx, bool accumulate);
    /* 2x2 max-pool with stride 2 of one (h, w) plane, h and w even: y (h/2, w/2) and, when idx
     * is not NULL, the index in the plane of each window's maximum (the first on ties in
     * row-major order; the first NaN wins). */
    void (*maxpool2x2)(const float *x, float *y, int32_t *idx, int64_t h, int64_t w);
} axnn_eltwise;

const axnn_eltwise *axnn_eltwise_get(void);
extern const axnn_eltwise axnn_eltwise_portable, axnn_eltwise_avx512;

#endif
