/* Grouped and depthwise 2-d convolution kernels (NCHW, float): the general reference with
 * groups, dilation and asymmetric padding (forward, input gradient, weight and bias gradient),
 * a fast depthwise 3x3 (stride 1 or 2, padding 1) with AVX2 and AVX-512 variants chosen at run
 * time,
 * and the grouped 1x1 convolution on the f32 GEMM.
 *
 * Shapes: x is (n, c, h, w); W is (m, c/groups, kh, kw); y is (n, m, oh, ow). Output channel
 * r belongs to group g = r / (m/groups) and reads input channels [g*c/groups, (g+1)*c/groups).
 * Padding is (pt, pl) before and (pb, pr) after; the output size is
 * oh = (h + pt + pb - ((kh - 1) * dh + 1)) / sh + 1 (floor), likewise ow.
 *
 * Sums in the references run in a fixed order (bias first, then input channel, ky, kx) in
 * float. The depthwise 3x3 kernels compute each output as bias + sum over the 9 taps in
 * row-major order with separate multiplies and adds (no FMA), so the SIMD variants give
 * the same floats as the reference on finite inputs (a skipped border tap is an added zero).
 * The grouped 1x1 path runs the blocked GEMM, whose sums are ordered differently: it matches
 * the reference within 1e-5 relative (tests/test_kernels_new.c).
 */
#ifndef AXNN_KERNELS_GCONV_H
#define AXNN_KERNELS_GCONV_H

#include <stdbool.h>
#include <stdint.h>

typedef struct axnn_gconv_shape {
    int64_t n, c, h, w; /* input */
    int64_t m, groups;  /* output channels, groups (c and m divisible by groups) */
    int64_t kh, kw, sh, sw, dh, dw;
    int64_t pt, pl, pb, pr; /* padding: top, left, bottom, right */
    int64_t oh, ow;         /* set by axnn_gconv_shape_init */
} axnn_gconv_shape;

/* Computes oh, ow; false when the shape is invalid (non-positive sizes, groups that do not
 * divide c and m, an empty output). */
bool axnn_gconv_shape_init(axnn_gconv_shape *s);

/* y = conv(x, W) + bias (bias may be NULL). */
void axnn_gconv_fwd_ref(const axnn_gconv_shape *s, const float *x, const float *wt,
                        const float *bias, float *y);
/* dx = the input gradient for dy (overwritten). */
void axnn_gconv_dx_ref(const axnn_gconv_shape *s, const float *dy, const float *wt, float *dx);
/* dw = the weight gradient, db = the bias gradient (db may be NULL); both overwritten. */
void axnn_gconv_dw_ref(const axnn_gconv_shape *s, const float *x, const float *dy, float *dw,
                       float *db);

/* ---- depthwise 3x3, padding 1, stride 1 or 2, one plane at a time ----
 * x is one (h, w) plane, k its 9 weights (row-major), y the (oh, ow) plane with
 * oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1. Each output is clamped to [lo, hi]
 * as min(hi, max(lo, v)) (a folded BatchNorm's ReLU or ReLU6; -INFINITY and INFINITY for
 * none; NaN propagates). The op splits the n*c planes over threads. */
typedef void (*axnn_dw3x3_fn)(const float *x, int64_t h, int64_t w, const float *k, float bias,
                              float lo, float hi, float *y, int stride);
typedef struct axnn_dw3x3 {
    const char *name;
    axnn_dw3x3_fn plane;
} axnn_dw3x3;

/* The best variant for this CPU (AXNN_ISA and AXNN_FORCE_REF respected). */
const axnn_dw3x3 *axnn_dw3x3_get(void);
/* All variants this CPU can run, the portable reference first (for tests). */
int axnn_dw3x3_variants(const axnn_dw3x3 **out, int max);
extern const axnn_dw3x3 axnn_dw3x3_portable, axnn_dw3x3_avx2, axnn_dw3x3_avx512;

/* ---- grouped 1x1 convolution (stride 1, no padding): per image and group, a GEMM
 * y_g (m/groups, hw) = W_g (m/groups, c/groups) x_g (c/groups, hw) (+ bias). ws: a
 * workspace of axnn_sgemm_ws_floats() floats. Images [i0, i1) only (threads split images). */
void axnn_gconv1x1(int64_t n_lo, int64_t n_hi, int64_t c, int64_t hw, int64_t m, int64_t groups,
                   const float *x, const float *wt, const float *bias, float *y, float *ws);

#endif
