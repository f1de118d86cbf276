/* Quantization kernels: float -> int8 with a per-tensor scale, and int8 im2col.
 *
 * axnn_quantize_s8: q[i] = rint(clamp(x[i] * inv_scale, -127, 127)), rint rounding half to
 * even (the CPU's default mode, as torch.round); NaN becomes -127. Every variant gives the
 * same bits.
 */
#ifndef AXNN_KERNELS_QUANTIZE_H
#define AXNN_KERNELS_QUANTIZE_H

#include "kernels/im2col/im2col.h"

#include <stdint.h>

void axnn_quantize_s8(const float *x, int64_t n, float inv_scale, int8_t *q);
void axnn_quantize_s8_ref(const float *x, int64_t n, float inv_scale, int8_t *q);
void axnn_quantize_s8_avx512(const float *x, int64_t n, float inv_scale, int8_t *q);
/* max |x[i]| */
float axnn_absmax(const float *x, int64_t n);

/* int8 im2col of one image x (c, h, w) into rows of col with row stride ldc: row (c, ky, kx),
 * columns [0, oh*ow). Outside the image: 0. */
void axnn_im2col_s8(const axnn_im2col_geom *g, const int8_t *x, int8_t *col, int64_t ldc);
void axnn_im2col_s8_ref(const axnn_im2col_geom *g, const int8_t *x, int8_t *col, int64_t ldc);
void axnn_im2col_s8_avx512(const axnn_im2col_geom *g, const int8_t *x, int8_t *col, int64_t ldc);


/* dst[i] = table[src[i] + 128] for a 256-entry byte table (the decomposition's f_i). */
void axnn_map_s8(const int8_t *src, int64_t n, const int8_t *table, int8_t *dst);
void axnn_map_s8_avx512vbmi(const int8_t *src, int64_t n, const int8_t *table, int8_t *dst);

#endif
