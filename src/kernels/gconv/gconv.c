/* Grouped convolution references, the portable depthwise 3x3, the grouped 1x1 on the GEMM and
 * the run-time choice of the depthwise kernel (see gconv.h). */
#include "kernels/gconv/gconv.h"

#include "axnn/base.h"
#include "kernels/f32-gemm/gemm.h"

bool axnn_gconv_shape_init(axnn_gconv_shape *s)
{
    if (s->n < 1 || s->c < 1 || s->h < 1 || s->w < 1 || s->m < 1 || s->groups < 1) return false;
    if (s->c % s->groups || s->m % s->groups) return false;
    if (s->kh < 1 || s->kw < 1 || s->sh < 1 || s->sw < 1 || s->dh < 1 || s->dw < 1) return false;
    if (s->pt < 0 || s->pl < 0 || s->pb < 0 || s->pr < 0) return false;
    int64_t eh = (s->kh - 1) * s->dh + 1, ew = (s->kw - 1) * s->dw + 1;
    int64_t sh = s->h + s->pt + s->pb - eh, sw = s->w + s->pl + s->pr - ew;
    if (sh < 0 || sw < 0) return false;
    s->oh = sh / s->sh + 1;
    s->ow = sw / s->sw + 1;
    return true;
}

/* Index helpers: x (n, c, h, w), W (m, cg, kh, kw), y (n, m, oh, ow). */
#define XI(s, i, ci, yy, xx) ((((i) * (s)->c + (ci)) * (s)->h + (yy)) * (s)->w + (xx))
#define WI(s, r, cj, ky, kx)                                                                       \
    ((((r) * ((s)->c / (s)->groups) + (cj)) * (s)->kh + (ky)) * (s)->kw + (kx))
#define YI(s, i, r, oy, ox) ((((i) * (s)->m + (r)) * (s)->oh + (oy)) * (s)->ow + (ox))

static float out_elem(const axnn_gconv_shape *s, const float *x, const float *wt, float b,
                      int64_t i, int64_t r, int64_t oy, int64_t ox)
{
    int64_t cg = s->c / s->groups, g = r / (s->m / s->groups);
    float acc = b;
    for (int64_t cj = 0; cj < cg; cj++)
        for (int64_t ky = 0; ky < s->kh; ky++) {
            int64_t iy = oy * s->sh - s->pt + ky * s->dh;
            if (iy < 0 || iy >= s->h) continue;
            for (int64_t kx = 0; kx < s->kw; kx++) {
                int64_t ix = ox * s->sw - s->pl + kx * s->dw;
                if (ix < 0 || ix >= s->w) continue;
                acc += x[XI(s, i, g * cg + cj, iy, ix)] * wt[WI(s, r, cj, ky, kx)];
            }
        }
    return acc;
}

void axnn_gconv_fwd_ref(const axnn_gconv_shape *s, const float *x, const float *wt,
                        const float *bias, float *y)
{
    for (int64_t i = 0; i < s->n; i++)
        for (int64_t r = 0; r < s->m; r++)
            for (int64_t oy = 0; oy < s->oh; oy++)
                for (int64_t ox = 0; ox < s->ow; ox++)
                    y[YI(s, i, r, oy, ox)] =
                        out_elem(s, x, wt, bias ? bias[r] : 0.0f, i, r, oy, ox);
}

/* Calls f for every (output, tap) pair that reads an input pixel. */
#define FOR_TAPS(s, BODY)                                                                          \
    for (int64_t i = 0; i < (s)->n; i++)                                                           \
        for (int64_t r = 0; r < (s)->m; r++) {                                                     \
            int64_t cg = (s)->c / (s)->groups, g = r / ((s)->m / (s)->groups);                     \
            for (int64_t oy = 0; oy < (s)->oh; oy++)                                               \
                for (int64_t ox = 0; ox < (s)->ow; ox++)                                           \
                    for (int64_t cj = 0; cj < cg; cj++)                                            \
                        for (int64_t ky = 0; ky < (s)->kh; ky++) {                                 \
                            int64_t iy = oy * (s)->sh - (s)->pt + ky * (s)->dh;                    \
                            if (iy < 0 || iy >= (s)->h) continue;                                  \
                            for (int64_t kx = 0; kx < (s)->kw; kx++) {                             \
                                int64_t ix = ox * (s)->sw - (s)->pl + kx * (s)->dw;                \
                                if (ix < 0 || ix >= (s)->w) continue;                              \
                                int64_t xi = XI(s, i, g * cg + cj, iy, ix);                        \
                                int64_t wi = WI(s, r, cj, ky, kx), yi = YI(s, i, r, oy, ox);       \
                                BODY;                                                              \
                            }                                                                      \
                        }                                                                          \
        }

void axnn_gconv_dx_ref(const axnn_gconv_shape *s, const float *dy, const float *wt, float *dx)
{
    for (int64_t k = 0; k < s->n * s->c * s->h * s->w; k++) dx[k] = 0.0f;
    FOR_TAPS(s, dx[xi] += dy[yi] * wt[wi]);
}

void axnn_gconv_dw_ref(const axnn_gconv_shape *s, const float *x, const float *dy, float *dw,
                       float *db)
{
    for (int64_t k = 0; k < s->m * (s->c / s->groups) * s->kh * s->kw; k++) dw[k] = 0.0f;
    FOR_TAPS(s, dw[wi] += dy[yi] * x[xi]);
    if (!db) return;
    for (int64_t r = 0; r < s->m; r++) {
        float acc = 0.0f;
        for (int64_t i = 0; i < s->n; i++)
            for (int64_t p = 0; p < s->oh * s->ow; p++)
                acc += dy[(i * s->m + r) * s->oh * s->ow + p];
        db[r] = acc;
    }
}

/* ---- depthwise 3x3 ---- */

static void dw3x3_c(const float *x, int64_t h, int64_t w, const float *k, float bias, float lo,
                    float hi, float *y, int stride)
{
    int64_t oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
    for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox++) {
            float acc = bias;
            for (int ky = 0; ky < 3; ky++) {
                int64_t iy = oy * stride - 1 + ky;
                if (iy < 0 || iy >= h) continue;
                for (int kx = 0; kx < 3; kx++) {
                    int64_t ix = ox * stride - 1 + kx;
                    if (ix >= 0 && ix < w) acc += x[iy * w + ix] * k[ky * 3 + kx];
                }
            }
            acc = lo > acc ? lo : acc; /* x86 maxps/minps order: NaN in acc propagates */
            y[oy * ow + ox] = hi < acc ? hi : acc;
        }
}

const axnn_dw3x3 axnn_dw3x3_portable = {"portable", dw3x3_c};

int axnn_dw3x3_variants(const axnn_dw3x3 **out, int max)
{
    const axnn_cpu *c = axnn_cpu_features();
    int n = 0;
    if (n < max) out[n++] = &axnn_dw3x3_portable;
    if (c->avx2 && n < max) out[n++] = &axnn_dw3x3_avx2;
    if (c->avx512f && c->avx512bw && c->avx512vl && n < max) out[n++] = &axnn_dw3x3_avx512;
    return n;
}

const axnn_dw3x3 *axnn_dw3x3_get(void)
{
    const axnn_dw3x3 *v[3];
    return v[axnn_dw3x3_variants(v, 3) - 1];
}

/* ---- grouped 1x1 ---- */

void axnn_gconv1x1(int64_t n_lo, int64_t n_hi, int64_t c, int64_t hw, int64_t m, int64_t groups,
                   const float *x, const float *wt, const float *bias, float *y, float *ws)
{
    int64_t cg = c / groups, mg = m / groups;
    for (int64_t i = n_lo; i < n_hi; i++)
        for (int64_t g = 0; g < groups; g++) {
            float *yg = y + (i * m + g * mg) * hw;
            const float *xg = x + (i * c + g * cg) * hw, *wg = wt + g * mg * cg;
            float beta = 0.0f;
            if (bias) {
                for (int64_t r = 0; r < mg; r++)
                    for (int64_t p = 0; p < hw; p++) yg[r * hw + p] = bias[g * mg + r];
                beta = 1.0f;
            }
            axnn_sgemm(false, false, mg, hw, cg, 1.0f, wg, cg, xg, hw, beta, yg, hw, ws);
        }
}
