/* Max and average pooling references (see pool.h). */
#include "kernels/pool/pool.h"

#include <math.h>

static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe,
                        bool ceil_mode)
{
    int64_t span = in + pb + pe - ((k - 1) * d + 1);
    if (span < 0) return 0;
    int64_t n = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (n - 1) * s >= in + pb) n--;
    return n;
}

bool axnn_pool_shape_init(axnn_pool_shape *p)
{
    if (p->h < 1 || p->w < 1 || p->kh < 1 || p->kw < 1 || p->sh < 1 || p->sw < 1) return false;
    if (p->dh < 1 || p->dw < 1 || p->pt < 0 || p->pl < 0 || p->pb < 0 || p->pr < 0) return false;
    /* padding as wide as the window would make windows of padding only */
    int64_t eh = (p->kh - 1) * p->dh + 1, ew = (p->kw - 1) * p->dw + 1;
    if (p->pt >= eh || p->pb >= eh || p->pl >= ew || p->pr >= ew) return false;
    p->oh = out_size(p->h, p->kh, p->sh, p->dh, p->pt, p->pb, p->ceil_mode);
    p->ow = out_size(p->w, p->kw, p->sw, p->dw, p->pl, p->pr, p->ceil_mode);
    return p->oh > 0 && p->ow > 0;
}

void axnn_maxpool_ref(const axnn_pool_shape *p, const float *x, float *y, int32_t *idx)
{
    for (int64_t oy = 0; oy < p->oh; oy++)
        for (int64_t ox = 0; ox < p->ow; ox++) {
            float best = -INFINITY;
            int64_t bi = -1;
            for (int64_t ky = 0; ky < p->kh; ky++) {
                int64_t iy = oy * p->sh - p->pt + ky * p->dh;
                if (iy < 0 || iy >= p->h) continue;
                for (int64_t kx = 0; kx < p->kw; kx++) {
                    int64_t ix = ox * p->sw - p->pl + kx * p->dw;
                    if (ix < 0 || ix >= p->w) continue;
                    float v = x[iy * p->w + ix];
                    if (bi < 0 || (!isnan(best) && (v > best || isnan(v)))) {
                        best = v;
                        bi = iy * p->w + ix;
                    }
                }
            }
            y[oy * p->ow + ox] = best;
            if (idx) idx[oy * p->ow + ox] = (int32_t)bi;
        }
}

void axnn_maxpool_bwd_ref(const axnn_pool_shape *p, const int32_t *idx, const float *dy, float *dx)
{
    for (int64_t o = 0; o < p->oh * p->ow; o++)
        if (idx[o] >= 0) dx[idx[o]] += dy[o];
}

/* The rows [*lo, *hi) of the input a window covers, and its clipped size (count_include_pad
 * divisor) along that axis. */
static int64_t window(int64_t o, int64_t s, int64_t k, int64_t pb, int64_t pe, int64_t in,
                      int64_t *lo, int64_t *hi)
{
    int64_t a = o * s - pb, b = a + k;
    if (b > in + pe) b = in + pe;
    int64_t size = b - a;
    *lo = a < 0 ? 0 : a;
    *hi = b > in ? in : b;
    return size;
}

static float divisor(const axnn_pool_shape *p, int64_t oy, int64_t ox, int64_t *y0, int64_t *y1,
                     int64_t *x0, int64_t *x1)
{
    int64_t sy = window(oy, p->sh, p->kh, p->pt, p->pb, p->h, y0, y1);
    int64_t sx = window(ox, p->sw, p->kw, p->pl, p->pr, p->w, x0, x1);
    return p->count_include_pad ? (float)(sy * sx) : (float)((*y1 - *y0) * (*x1 - *x0));
}

void axnn_avgpool_ref(const axnn_pool_shape *p, const float *x, float *y)
{
    for (int64_t oy = 0; oy < p->oh; oy++)
        for (int64_t ox = 0; ox < p->ow; ox++) {
            int64_t y0, y1, x0, x1;
            float div = divisor(p, oy, ox, &y0, &y1, &x0, &x1), acc = 0.0f;
            for (int64_t iy = y0; iy < y1; iy++)
                for (int64_t ix = x0; ix < x1; ix++) acc += x[iy * p->w + ix];
            y[oy * p->ow + ox] = acc / div;
        }
}

void axnn_avgpool_bwd_ref(const axnn_pool_shape *p, const float *dy, float *dx)
{
    for (int64_t oy = 0; oy < p->oh; oy++)
        for (int64_t ox = 0; ox < p->ow; ox++) {
            int64_t y0, y1, x0, x1;
            float g = dy[oy * p->ow + ox] / divisor(p, oy, ox, &y0, &y1, &x0, &x1);
            for (int64_t iy = y0; iy < y1; iy++)
                for (int64_t ix = x0; ix < x1; ix++) dx[iy * p->w + ix] += g;
        }
}
