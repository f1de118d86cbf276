/* int8 convolution from the quad layout: layout, weight packing, the portable quantizer and
 * the workspace size (s8-conv.h). */
#include "kernels/s8-gemm/s8-conv.h"

#include "axnn/base.h"
#include "kernels/quant/quantize.h"

#include <string.h>

#define MR 8
#define NR 32

axnn_s8_xlayout axnn_s8_xlayout_make(const axnn_s8_conv_geom *g)
{
    axnn_s8_xlayout l;
    l.c4 = (g->c + 3) / 4;
    l.terms = g->terms;
    l.hp = g->h + 2 * g->ph;
    l.wp = g->w + 2 * g->pw;
    l.plane = (int64_t)l.hp * l.wp * 4;
    l.img = (int64_t)l.terms * l.c4 * l.plane;
    return l;
}

bool axnn_s8_conv_available(void)
{
    const axnn_cpu *c = axnn_cpu_features();
    return c->avx512f && c->avx512bw && c->avx512vnni;
}

size_t axnn_s8_conv_packed_w_bytes(int m, int c, int khw, int terms)
{
    int64_t groups = (m + MR - 1) / MR, q = (int64_t)terms * ((c + 3) / 4) * khw;
    return (size_t)(groups * MR * (q + 1) * 4);
}

void axnn_s8_conv_pack_w(int m, int c, int khw, int terms, const int8_t *w, int64_t ldw, void *dst)
{
    const int c4 = (c + 3) / 4;
    const int64_t groups = (m + MR - 1) / MR, Q = (int64_t)terms * c4 * khw;
    uint8_t *ap = dst;
    int32_t *corr = (int32_t *)(ap + groups * MR * Q * 4);
    for (int64_t g = 0; g < groups; g++)
        for (int i = 0; i < MR; i++) {
            const int64_t r = g * MR + i;
            int32_t sum = 0;
            for (int64_t q = 0; q < Q; q++) {
                const int64_t s = q % khw, tc = q / khw, t = tc / c4, ci0 = (tc % c4) * 4;
                uint8_t *d = ap + ((g * Q + q) * MR + i) * 4;
                for (int j = 0; j < 4; j++) {
                    int8_t v = 0;
                    if (r < m && ci0 + j < c) v = w[r * ldw + (t * c + ci0 + j) * khw + s];
                    d[j] = (uint8_t)v;
                    sum += v;
                }
            }
            corr[r] = 128 * sum;
        }
}

/* Fills the padding of quad plane p (hp x wp dwords) with 128 bytes. */
static void pad_plane(const axnn_s8_conv_geom *g, const axnn_s8_xlayout *l, uint8_t *p)
{
    const int64_t row = (int64_t)l->wp * 4;
    memset(p, 0x80, (size_t)(g->ph * row));
    memset(p + (int64_t)(g->ph + g->h) * row, 0x80, (size_t)(g->ph * row));
    for (int y = 0; y < g->h; y++) {
        uint8_t *r = p + (int64_t)(g->ph + y) * row;
        memset(r, 0x80, (size_t)g->pw * 4);
        memset(r + (int64_t)(g->pw + g->w) * 4, 0x80, (size_t)g->pw * 4);
    }
}

/* The f_t planes of quads [q0, q1). */
static void map_terms(const axnn_s8_conv_geom *g, const axnn_s8_xlayout *l, const int8_t (*fmap)[256],
                      int q0, int q1, uint8_t *dst)
{
    for (int t = 1; t < g->terms; t++)
        axnn_map_s8((const int8_t *)dst + q0 * l->plane, (q1 - q0) * l->plane, fmap[t - 1],
                    (int8_t *)dst + ((int64_t)t * l->c4 + q0) * l->plane);
}

void axnn_s8_conv_quantize_ref(const axnn_s8_conv_geom *g, const float *x, float inv_scale,
                               const int8_t (*fmap)[256], int q0, int q1, uint8_t *dst)
{
    const axnn_s8_xlayout l = axnn_s8_xlayout_make(g);
    const int64_t hw = (int64_t)g->h * g->w;
    for (int q = q0; q < q1; q++) {
        uint8_t *p = dst + q * l.plane;
        pad_plane(g, &l, p);
        for (int y = 0; y < g->h; y++)
            for (int xx = 0; xx < g->w; xx++) {
                uint8_t *d = p + ((int64_t)(g->ph + y) * l.wp + g->pw + xx) * 4;
                for (int j = 0; j < 4; j++) {
                    int ci = q * 4 + j;
                    int8_t v = 0;
                    if (ci < g->c) axnn_quantize_s8_ref(x + ci * hw + (int64_t)y * g->w + xx, 1, inv_scale, &v);
                    d[j] = (uint8_t)(v ^ 0x80);
                }
            }
    }
    map_terms(g, &l, fmap, q0, q1, dst);
}

void axnn_s8_conv_map_terms(const axnn_s8_conv_geom *g, const int8_t (*fmap)[256], int q0, int q1, uint8_t *dst)
{
    const axnn_s8_xlayout l = axnn_s8_xlayout_make(g);
    map_terms(g, &l, fmap, q0, q1, dst);
}

void axnn_s8_conv_quantize(const axnn_s8_conv_geom *g, const float *x, float inv_scale, const int8_t (*fmap)[256],
                           int q0, int q1, uint8_t *dst)
{
    if (g->terms > 1 && axnn_cpu_features()->avx512vbmi &&
        axnn_s8_conv_quantize_avx512vbmi(g, x, inv_scale, fmap, q0, q1, dst))
        return;
    axnn_s8_conv_quantize_avx512(g, x, inv_scale, fmap, q0, q1, dst);
}

size_t axnn_s8_conv_ws_bytes(const axnn_s8_conv_geom *g)
{
    const int64_t Q = (int64_t)g->terms * ((g->c + 3) / 4) * g->kh * g->kw;
    const int64_t groups = (g->m + MR - 1) / MR;
    /* the groups' partial sums, a panel (at most all of K), tap offsets */
    return (size_t)(groups * MR * NR * 4 + Q * NR * 4 + Q * 4 + 8192 + 128);
}
