/* Winograd F(2x2, 3x3) for eval-mode 3x3 stride-1 pad-1 convolutions (see winograd.c). The
 * forward uses axnn_conv_fwd_args with `ap` holding the transformed weights
 * (axnn_conv_wino_pack_w); xs/xl are not used. Results differ from the direct convolution by
 * rounding only. */
#ifndef AXNN_KERNELS_CONV_WINOGRAD_H
#define AXNN_KERNELS_CONV_WINOGRAD_H

#include "kernels/conv/conv.h"

/* True when this shape and configuration run through Winograd. */
bool axnn_conv_wino_ok(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s);
int64_t axnn_conv_wino_w_floats(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s);
void axnn_conv_wino_pack_w(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s,
                           const float *w, float *uw, int ith, int nth);
int64_t axnn_conv_wino_ws_floats(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s);
void axnn_conv_wino_fwd(const axnn_conv_fwd_args *a, float *ws, int ith, int nth);

/* The transforms of one block (winograd-avx512.c): `groups` groups of 16 tiles from tile t0.
 * Input: v[(xi*c + ci)*48 + tile] = (B^T d B)[xi]. Output: tiles from
 * mo[(r*16 + xi)*48 + tile], with the epilogue. */
void axnn_wino_input_avx512(const axnn_conv_shape *s, const float *x, int64_t x_img, int64_t x_ch,
                            int64_t t0, int groups, float *v);
void axnn_wino_output_avx512(const axnn_conv_shape *s, const axnn_conv_epi *e, int64_t t0,
                             int groups, const float *mo, int64_t mpad);

#endif
