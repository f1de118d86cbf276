/* im2col / col2im for one image.
 *
 * x is (C, H, W). col is (C*kh*kw, OH*OW): row (c, ky, kx) holds, for every output pixel
 * (oy, ox), x[c][oy*sh - ph + ky][ox*sw - pw + kx], or 0 outside the image. col2im is the
 * adjoint: it adds each column entry back into x.
 */
#ifndef AXNN_KERNELS_IM2COL_H
#define AXNN_KERNELS_IM2COL_H

#include <stdint.h>

typedef struct axnn_im2col_geom {
    int c, h, w, kh, kw, sh, sw, ph, pw, oh, ow;
} axnn_im2col_geom;

void axnn_im2col(const axnn_im2col_geom *g, const float *x, float *col);
void axnn_col2im_add(const axnn_im2col_geom *g, const float *col, float *x);

#endif
