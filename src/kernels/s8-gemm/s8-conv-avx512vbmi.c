/* The quad-layout quantizer with the decomposition's f_t planes made in the same pass
 * (AVX-512 VBMI; see s8-conv.h). Each 16-pixel vector of quantized bytes (a + 128) is stored,
 * then looked up in each term's 256-entry table held in four zmm registers (two vpermi2b and
 * a blend on the byte's top bit) and stored at the same place of the term's plane: no second
 * pass over the planes. Same bytes as axnn_s8_conv_quantize_avx512 + axnn_s8_conv_map_terms.
 */
#include "kernels/s8-gemm/s8-conv.h"
#include "kernels/s8-gemm/s8-conv-avx512.h"

#include <immintrin.h>
#include <string.h>

#define MAXTERMS 4 /* 1 + the largest rank this pass handles; more take the two-pass path */

typedef struct table {
    __m512i t[4];
} table;

/* bytes u = a + 128 -> f(a) + 128 */
static inline __m512i lookup(const table *t, __m512i u)
{
    const __mmask64 top = _mm512_movepi8_mask(u);
    return _mm512_mask_blend_epi8(top, _mm512_permutex2var_epi8(t->t[0], u, t->t[1]),
                                  _mm512_permutex2var_epi8(t->t[2], u, t->t[3]));
}

static inline void store16(uint8_t *p, __m512i v, __mmask16 m, bool whole)
{
    if (whole)
        _mm512_storeu_si512(p, v);
    else
        _mm512_mask_storeu_epi32(p, m, v);
}

static inline void fill_dwords(uint8_t *p, int n, uint32_t v)
{
    for (int j = 0; j < n; j++) memcpy(p + 4 * j, &v, 4);
}

bool axnn_s8_conv_quantize_avx512vbmi(const axnn_s8_conv_geom *g, const float *x, float inv_scale,
                                      const int8_t (*fmap)[256], int q0, int q1, uint8_t *dst)
{
    const int nt = g->terms;
    if (nt > MAXTERMS) return false;
    const axnn_s8_xlayout l = axnn_s8_xlayout_make(g);
    const int64_t hw = (int64_t)g->h * g->w, row = (int64_t)l.wp * 4, tplane = (int64_t)l.c4 * l.plane;
    const __m512 s = _mm512_set1_ps(inv_scale);
    const __m512i flip = _mm512_set1_epi32((int)0x80808080u);
    table tab[MAXTERMS];
    uint32_t pad[MAXTERMS];
    pad[0] = 0x80808080u;
    for (int t = 1; t < nt; t++) {
        /* indexed by the byte u = a + 128: fmap[t-1] (indexed by a as uint8_t) with its halves
         * swapped */
        const int8_t *f = fmap[t - 1];
        tab[t].t[0] = _mm512_loadu_si512(f + 128);
        tab[t].t[1] = _mm512_loadu_si512(f + 192);
        tab[t].t[2] = _mm512_loadu_si512(f);
        tab[t].t[3] = _mm512_loadu_si512(f + 64);
        pad[t] = 0x01010101u * (uint8_t)f[0]; /* activation 0 */
    }
    /* as in axnn_s8_conv_quantize_avx512: a row's partial last vector may be stored whole */
    const int64_t wr = (g->w + 15) / 16 * 16;
    const bool spill = (int64_t)(g->ph + g->h - 1) * l.wp + g->pw + wr <= (int64_t)l.hp * l.wp;
    for (int q = q0; q < q1; q++) {
        const int nc = g->c - 4 * q < 4 ? g->c - 4 * q : 4;
        const float *xc = x + (int64_t)4 * q * hw;
        for (int t = 0; t < nt; t++) axnn_fill_bytes(dst + t * tplane + q * l.plane, g->ph * row, pad[t]);
        for (int y = 0; y < g->h; y++) {
            const int64_t ro = q * l.plane + (int64_t)(g->ph + y) * row;
            const float *xr = xc + (int64_t)y * g->w;
            for (int x0 = 0; x0 < g->w; x0 += 16) {
                __mmask16 m = g->w - x0 >= 16 ? 0xffff : (__mmask16)((1u << (g->w - x0)) - 1);
                __m512i d = axnn_quant16(xr + x0, m, s);
                if (nc > 1) d = _mm512_or_si512(d, _mm512_slli_epi32(axnn_quant16(xr + hw + x0, m, s), 8));
                if (nc > 2) d = _mm512_or_si512(d, _mm512_slli_epi32(axnn_quant16(xr + 2 * hw + x0, m, s), 16));
                if (nc > 3) d = _mm512_or_si512(d, _mm512_slli_epi32(axnn_quant16(xr + 3 * hw + x0, m, s), 24));
                d = _mm512_xor_si512(d, flip);
                const int64_t o = ro + (int64_t)(g->pw + x0) * 4;
                store16(dst + o, d, m, m == 0xffff || spill);
                for (int t = 1; t < nt; t++) store16(dst + t * tplane + o, lookup(&tab[t], d), m, m == 0xffff || spill);
            }
            for (int t = 0; t < nt; t++) {
                fill_dwords(dst + t * tplane + ro, g->pw, pad[t]);
                fill_dwords(dst + t * tplane + ro + (int64_t)(g->pw + g->w) * 4, g->pw, pad[t]);
            }
        }
        for (int t = 0; t < nt; t++)
            axnn_fill_bytes(dst + t * tplane + q * l.plane + (int64_t)(g->ph + g->h) * row, g->ph * row, pad[t]);
    }
    return true;
}
