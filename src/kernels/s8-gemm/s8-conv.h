/* Exact int8 convolution straight from a channel-quad layout (AVX-512 VNNI).
 *
 * The generic int8 path (conv2d_q.c's fallback) quantizes the input, builds int8 im2col
 * columns, then lets axnn_s8_gemm pack weights and columns again. This kernel family skips
 * both copies:
 *
 *   activations  are quantized once per image into the "quad layout": for each group of four
 *                channels (c4), a zero-padded plane of (h + 2ph) x (w + 2pw) pixels whose
 *                dwords hold the four channels' bytes, each as a + 128 (unsigned, the operand
 *                vpdpbusd wants). Padding pixels and missing channels hold 128 (activation 0).
 *                A decomposition (terms = 1 + rank) appends, per term t, the planes of
 *                f_t(a) (again + 128), so that the augmented GEMM reads them as more channels.
 *   weights      are packed once when they are quantized (axnn_s8_conv_pack_w): row groups of
 *                MR = 8 output channels, one dword per (row, quad) with the four channels'
 *                weights at one kernel tap; quads are ordered (t, c4, ky, kx); missing
 *                channels and rows are zero. The correction 128 * (sum of a row's weights)
 *                follows the groups.
 *   the GEMM     has a column per output pixel (image-major, NCHW order). For a tile of NR = 32
 *                columns, each quad's B row is 32 dwords read from the quad layout: with stride
 *                1 these are runs of consecutive dwords (one masked load per output row the
 *                tile touches), otherwise one gather per 16 columns. The tile's panel (K/4 x 32
 *                dwords) is then used by every row group -- or, when each 16-column half is one
 *                whole run, the micro-kernel reads B in place at each tap's offset and there is
 *                no panel at all; the 8 x 32 int32 accumulators go through the float epilogue
 *                in registers and are stored straight into y.
 *
 * The sums are exact int32, so the result equals im2col + axnn_s8_gemm_ref bit for bit; the
 * epilogue does the same float operations, in the same order, as conv2d_q.c's scalar one:
 *   t = (float)acc * scale[r];  t = t + shift[r];  [t = t + res];  [t = max(t, 0)];
 *   out = t, or out = out + t (accumulate)
 * Kernels never allocate; single images or tiles are split over threads by (ith, nth).
 */
#ifndef AXNN_KERNELS_S8_CONV_H
#define AXNN_KERNELS_S8_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct axnn_s8_conv_geom {
    int c, h, w;    /* input channels (per term) and image size */
    int m;          /* output channels */
    int kh, kw, sh, sw, ph, pw, oh, ow;
    int terms;      /* 1, or 1 + rank for the decomposition */
} axnn_s8_conv_geom;

/* The quad layout of one image: `c4` quads per term, planes of hp x wp dwords. */
typedef struct axnn_s8_xlayout {
    int c4, terms, hp, wp;
    int64_t plane; /* bytes of one quad plane: hp * wp * 4 */
    int64_t img;   /* bytes of one image: terms * c4 * plane */
} axnn_s8_xlayout;

axnn_s8_xlayout axnn_s8_xlayout_make(const axnn_s8_conv_geom *g);

/* True when this CPU runs the kernels below (AVX-512 BW + VNNI, not AXNN_FORCE_REF). */
bool axnn_s8_conv_available(void);

/* Packed weights of an m x (terms * c * khw) matrix (row r: term t, channel ci, tap s at
 * w[r * ldw + (t * c + ci) * khw + s]); a plain M x K GEMM operand is c = K, khw = 1. */
size_t axnn_s8_conv_packed_w_bytes(int m, int c, int khw, int terms);
void axnn_s8_conv_pack_w(int m, int c, int khw, int terms, const int8_t *w, int64_t ldw, void *dst);

/* Quantizes channel quads [q0, q1) (of term 0) of one float image x (c, h, w) into its quad
 * layout dst (q = rint(clamp(x * inv_scale, -127, 127)), as axnn_quantize_s8), padding
 * included, then makes their f_t planes (axnn_s8_conv_map_terms). The _ref variant is
 * portable C. */
void axnn_s8_conv_quantize_ref(const axnn_s8_conv_geom *g, const float *x, float inv_scale,
                               const int8_t (*fmap)[256], int q0, int q1, uint8_t *dst);
void axnn_s8_conv_quantize_avx512(const axnn_s8_conv_geom *g, const float *x, float inv_scale,
                                  const int8_t (*fmap)[256], int q0, int q1, uint8_t *dst);
/* The same with the f_t planes made in the quantizing pass (AVX-512 VBMI); false (nothing
 * done) when terms is larger than it handles (4). */
bool axnn_s8_conv_quantize_avx512vbmi(const axnn_s8_conv_geom *g, const float *x, float inv_scale,
                                      const int8_t (*fmap)[256], int q0, int q1, uint8_t *dst);
/* The fastest of the above for this CPU (which must have AVX-512 BW: axnn_s8_conv_available). */
void axnn_s8_conv_quantize(const axnn_s8_conv_geom *g, const float *x, float inv_scale,
                           const int8_t (*fmap)[256], int q0, int q1, uint8_t *dst);
/* For t = 1 .. terms-1, the planes of term t of quads [q0, q1) from their term-0 planes: the
 * byte of activation a (a + 128) becomes f_t(a) + 128, through the table fmap[t-1][(uint8_t)a]
 * = (uint8_t)(f_t(a) + 128) (axnn_map_s8 indexes it by byte ^ 128). Padding (activation 0)
 * becomes f_t(0) + 128, as im2col's zeros would. */
void axnn_s8_conv_map_terms(const axnn_s8_conv_geom *g, const int8_t (*fmap)[256], int q0, int q1,
                            uint8_t *dst);

typedef struct axnn_s8_conv_args {
    axnn_s8_conv_geom g;
    int n;              /* images */
    const uint8_t *x;   /* n images in the quad layout, back to back */
    const void *w;      /* axnn_s8_conv_pack_w(g.m, g.c, kh*kw, g.terms, ...) */
    /* epilogue (see above); res and out: element (i, r, p) at i*out_img + r*out_ch + p */
    const float *scale, *shift;
    const float *res;
    float *out;
    int64_t out_img, out_ch;
    bool relu, accumulate;
} axnn_s8_conv_args;

/* Per-thread workspace bytes of axnn_s8_conv_avx512vnni. */
size_t axnn_s8_conv_ws_bytes(const axnn_s8_conv_geom *g);
/* The thread's share (ith of nth) of the n * oh * ow output columns, in whole tiles. */
void axnn_s8_conv_avx512vnni(const axnn_s8_conv_args *a, void *ws, int ith, int nth);
/* Output columns [c0, c1) (column (i*oh + oy)*ow + ox is pixel (oy, ox) of image i), in tiles
 * from c0; only the images these columns read need to be in the quad layout. */
void axnn_s8_conv_cols_avx512vnni(const axnn_s8_conv_args *a, void *ws, int64_t c0, int64_t c1);

#endif
