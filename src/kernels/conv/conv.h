/* The convolution engine: forward, input gradient and weight gradient of a 2-d convolution
 * over a whole batch, on the f32 GEMM micro-kernels (see conv.c for the design).
 *
 * Shapes: x is (n, c, h, w), the weights W are (m, c, kh, kw), y is (n, m, oh, ow), all NCHW
 * with arbitrary image and channel strides. K = c*kh*kw is the reduction length.
 *
 * Every call is split in two phases run by the thread pool, with a barrier between them:
 *   prepare  axnn_conv_to_xs (copy an input batch into the padded channel-major layout) and
 *            axnn_conv_pack_w / axnn_conv_pack_w_flip (weights into MR-wide panels), both
 *            split by (ith, nth) over channels or panels, writing shared memory;
 *   compute  axnn_conv_fwd (any thread count; each output element is computed by one thread
 *            in a fixed order, so results do not depend on the split) and axnn_conv_dw (each
 *            thread sums its share of the pixels into a private partial gradient; the caller
 *            adds the partials in thread order, so results depend only on the thread count).
 * Nothing here allocates: the caller passes shared buffers and per-thread workspaces of the
 * sizes the *_floats() functions give.
 */
#ifndef AXNN_KERNELS_CONV_H
#define AXNN_KERNELS_CONV_H

#include "kernels/f32-gemm/gemm.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct axnn_conv_shape {
    int n, c, h, w; /* input batch */
    int m;          /* output channels */
    int kh, kw, sh, sw, ph, pw;
    int oh, ow;
} axnn_conv_shape;

/* The padded channel-major layout ("xs") of a batch (n, c, h, w) with padding (ph, pw):
 * channel ci is a plane of rows of `pitch` = w + pw floats; image i's rows start at row
 * i*rows + ph (rows = h + ph), its pixels at column pw. The pw columns and ph rows between two
 * images are zero and serve as the right/bottom padding of one and the left/top padding of the
 * next. Element (i, ci, y, x) sits at ci*plane + (i*rows + ph + y)*pitch + pw + x. */
typedef struct axnn_conv_layout {
    int n, c, h, w, ph, pw;
    int64_t pitch, rows, plane;
} axnn_conv_layout;

axnn_conv_layout axnn_conv_layout_make(int n, int c, int h, int w, int ph, int pw, int kh);
static inline int64_t axnn_conv_layout_floats(const axnn_conv_layout *l)
{
    return (int64_t)l->c * l->plane;
}
/* Copies planes [c_lo, c_hi) of the batch x (element (i, ci, y, x) at x[i*x_img + ci*x_ch +
 * y*w + x]) into xs, zeroing the padding. Threads take disjoint channel ranges. */
void axnn_conv_to_xs(const axnn_conv_layout *l, const float *x, int64_t x_img, int64_t x_ch,
                     float *xs, int ith, int nth);

/* True when the forward pass reads B in place from xs (stride 1, small padding waste). */
bool axnn_conv_direct(const axnn_conv_shape *s);
/* The shape of the convolution whose forward pass gives the input gradient (stride-1 convs):
 * dy convolved with the flipped, transposed weights, padding kh-1-ph. */
axnn_conv_shape axnn_conv_dx_shape(const axnn_conv_shape *s);
bool axnn_conv_dx_ok(const axnn_conv_shape *s);

/* Packed weights: roundup(m, MR) x K floats. pack_w reads W as (m, K); pack_w_flip packs the
 * weights of the input-gradient convolution (c x m*kh*kw, kernel rotated by 180 degrees). */
int64_t axnn_conv_packed_w_floats(const axnn_f32_gemm_config *cfg, int m, int64_t K);
void axnn_conv_pack_w(const axnn_f32_gemm_config *cfg, int m, int64_t K, const float *w,
                      float *ap, int ith, int nth);
void axnn_conv_pack_w_flip(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s,
                           const float *w, float *ap, int ith, int nth);

/* What the forward pass does with each sum v of output channel r for pixel p of image i:
 *   t = v * scale[r] + shift[r]   (scale NULL: 1; shift NULL: 0)
 *   t += res[i*out_img + r*out_ch + p]       (res NULL: nothing)
 *   t = max(t, 0)                            (relu)
 *   out[i*out_img + r*out_ch + p] = t, or += t (accumulate) */
typedef struct axnn_conv_epi {
    float *out;
    int64_t out_img, out_ch;
    const float *scale, *shift, *res;
    bool relu, accumulate;
} axnn_conv_epi;

/* The input x: element (i, ci, y, x) at x[i*x_img + ci*x_ch + y*w + x]. The direct path reads
 * it directly (each thread copies the rows it needs into a local block of the padded layout),
 * and so does the packed path (each tile of B is packed from x). xs and xl are not used by the
 * forward pass (the weight gradient's arguments have their own). */
typedef struct axnn_conv_fwd_args {
    const axnn_f32_gemm_config *cfg;
    axnn_conv_shape s;
    const float *x;
    int64_t x_img, x_ch;
    axnn_conv_layout xl; /* layout of xs: axnn_conv_layout_make(n, c, h, w, ph, pw, kh) */
    const float *xs;     /* packed path only */
    const float *ap;     /* axnn_conv_pack_w(...) of the weights */
    axnn_conv_epi epi;
} axnn_conv_fwd_args;

/* True when the weight gradient needs the whole batch in the padded layout (packed path). */
bool axnn_conv_dw_needs_xs(const axnn_conv_shape *s);

int64_t axnn_conv_fwd_ws_floats(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s);
void axnn_conv_fwd(const axnn_conv_fwd_args *a, float *ws, int ith, int nth);

/* Weight gradient: part[r*ldp + k] = this thread's share of sum over pixels of dy * im2col(x),
 * with ldp = axnn_conv_dw_ldp(). x and dy (n, m, oh, ow) as given; the packed path also reads
 * xs (as the forward pass). */
typedef struct axnn_conv_dw_args {
    const axnn_f32_gemm_config *cfg;
    axnn_conv_shape s;
    const float *x;
    int64_t x_img, x_ch;
    axnn_conv_layout xl;
    const float *xs; /* packed path only */
    const float *dy;
    int64_t dy_img, dy_ch;
} axnn_conv_dw_args;

/* Layout of dy for the input-gradient convolution (padding kh-1-ph, kw-1-pw). */
axnn_conv_layout axnn_conv_dx_layout(const axnn_conv_shape *s);
int64_t axnn_conv_dw_ldp(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s);
int64_t axnn_conv_dw_part_floats(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s);
int64_t axnn_conv_dw_ws_floats(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s);
void axnn_conv_dw(const axnn_conv_dw_args *a, float *part, float *ws, int ith, int nth);

/* ---- ISA helpers (conv.c holds the portable ones) ---- */

/* A run of a packed tile's columns along one output row: columns [col, col + len) are output
 * pixels (n, oy, ox .. ox + len - 1). */
typedef struct axnn_conv_srun {
    int32_t col, len, n, oy, ox;
} axnn_conv_srun;

/* A run of consecutive columns of a tile that land on consecutive output pixels. */
typedef struct axnn_conv_run {
    int32_t col, len; /* first column in the tile, count */
    int64_t dst;      /* i*out_img + p of the first pixel */
} axnn_conv_run;

typedef struct axnn_conv_isa {
    /* Applies the epilogue to rows [r0, r0 + nrows) of a tile: ct[(r - r0)*ldct + col]. */
    void (*epilogue)(const axnn_conv_epi *e, const float *ct, int64_t ldct, int r0, int nrows,
                     const axnn_conv_run *runs, int nruns);
    /* Rows [k0, k0 + kc) of B for a packed tile, straight from x: dst[p*nr + col] for row
     * k = k0 + p = (ci, ky, kx) and the column of pixel (n, oy, ox) of a run is
     * x[n*x_img + ci*x_ch + iy*w + ix], iy = oy*sh - ph + ky, ix = ox*sw - pw + kx, or 0 when
     * (iy, ix) is outside the image; columns not in a run are 0. */
    void (*pack_x)(float *dst, int nr, const axnn_conv_shape *s, const float *x, int64_t x_img,
                   int64_t x_ch, int64_t k0, int64_t kc, const axnn_conv_srun *runs, int nruns);
    /* dst[j*nr + q] = base[cofs[j] + kofs[q]] for q < nk, 0 for nk <= q < nr; j < ncols. */
    void (*pack_rows)(float *dst, int nr, const float *base, const int32_t *cofs, int ncols,
                      const int32_t *kofs, int nk);
    /* dst[k*mr + i] = w[i*ldw + k] for i < rows, 0 for rows <= i < mr; k < K (one weight panel). */
    void (*pack_panel)(float *dst, int mr, const float *w, int64_t ldw, int rows, int64_t K);
    /* For r < nrows: dst[r*pitch + q] = 0 for q < pw, dst[r*pitch + pw + i] = src[r*w + i] for
     * i < w (pitch = w + pw): rows of an image into the padded layout. */
    void (*pad_rows)(float *dst, int64_t pitch, int pw, const float *src, int64_t w, int64_t nrows);
} axnn_conv_isa;

const axnn_conv_isa *axnn_conv_isa_get(void);
extern const axnn_conv_isa axnn_conv_isa_portable, axnn_conv_isa_avx512;

#endif
