/* 2-d max and average pooling references with ONNX's parameters (NCHW, float, one (h, w)
 * plane per call; the op splits n*c planes over threads): kernel, stride, dilation (max
 * pool), asymmetric padding, ceil_mode and count_include_pad, with their backward passes.
 *
 * Output size along an axis of size in, with padding pb + pe, effective kernel
 * ek = (k - 1) * d + 1 and stride s: floor or ceil of (in + pb + pe - ek) / s, plus 1; in ceil
 * mode a last window that would start past the input and its leading padding is dropped
 * (PyTorch's and ONNX Runtime's rule), so every window covers at least one input pixel.
 *
 * Max pool: padding never wins (it is -inf); a NaN in a window wins (the first one); ties go
 * to the first maximum in row-major order. idx receives, for each output, the index y*w + x
 * of its maximum in the plane, which the backward pass scatters to.
 * Average pool: a window is clipped to the padded input (h + pt + pb rows); the sum over its
 * input pixels is divided by the clipped window's size when count_include_pad, else by the
 * number of input pixels it covers (the same for every window inside the input).
 */
#ifndef AXNN_KERNELS_POOL_H
#define AXNN_KERNELS_POOL_H

#include <stdbool.h>
#include <stdint.h>

typedef struct axnn_pool_shape {
    int64_t h, w, kh, kw, sh, sw, dh, dw;
    int64_t pt, pl, pb, pr;
    bool ceil_mode, count_include_pad;
    int64_t oh, ow; /* set by axnn_pool_shape_init */
} axnn_pool_shape;

/* Computes oh, ow; false when the parameters are invalid (a padding as large as the dilated
 * kernel included, as ONNX requires) or the output is empty. */
bool axnn_pool_shape_init(axnn_pool_shape *p);

void axnn_maxpool_ref(const axnn_pool_shape *p, const float *x, float *y, int32_t *idx);
/* dx (h, w) += dy scattered to idx (dx is not cleared: planes may be accumulated). */
void axnn_maxpool_bwd_ref(const axnn_pool_shape *p, const int32_t *idx, const float *dy, float *dx);
void axnn_avgpool_ref(const axnn_pool_shape *p, const float *x, float *y);
/* dx (h, w) += each dy spread over its window's input pixels with the forward divisor. */
void axnn_avgpool_bwd_ref(const axnn_pool_shape *p, const float *dy, float *dx);

#endif
