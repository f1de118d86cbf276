/* float -> int8 quantization with AVX-512: 16 floats per step, clamped in float, converted with
 * the current rounding mode (round to nearest even) and narrowed. */
#include "kernels/quant/quantize.h"

#include <immintrin.h>
#include <stdbool.h>

void axnn_quantize_s8_avx512(const float *x, int64_t n, float inv_scale, int8_t *q)
{
    const __m512 s = _mm512_set1_ps(inv_scale);
    const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        /* max_ps returns its second operand when the first is NaN: NaN -> -127 */
        __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), s), lo), hi);
        _mm_storeu_si128((__m128i *)(q + i), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(v)));
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s), lo), hi);
        _mm_mask_storeu_epi8(q + i, m, _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(v)));
    }
}

/* Lanes [a, b) of a 64-lane mask, 0 <= a, b <= 64. */
static inline __mmask64 lanes(int a, int b)
{
    if (b <= a) return 0;
    __mmask64 hi = b >= 64 ? ~0ull : (1ull << b) - 1, lo = a >= 64 ? ~0ull : (1ull << a) - 1;
    return hi & ~lo;
}

/* int8 im2col with AVX-512 BW: with stride 1 each output row is one masked byte load per 64
 * pixels (out-of-image lanes masked to 0); other strides take the portable loop. */
void axnn_im2col_s8_avx512(const axnn_im2col_geom *g, const int8_t *x, int8_t *col, int64_t ldc)
{
    if (g->sw != 1) {
        axnn_im2col_s8_ref(g, x, col, ldc);
        return;
    }
    for (int c = 0; c < g->c; c++) {
        const int8_t *xc = x + (int64_t)c * g->h * g->w;
        for (int ky = 0; ky < g->kh; ky++)
            for (int kx = 0; kx < g->kw; kx++) {
                int8_t *row = col + ((int64_t)(c * g->kh + ky) * g->kw + kx) * ldc;
                /* in-image output columns: 0 <= ox - pw + kx < w */
                const int lo = g->pw - kx, hi = g->w + g->pw - kx;
                for (int oy = 0; oy < g->oh; oy++) {
                    int8_t *dst = row + (int64_t)oy * g->ow;
                    const int iy = oy * g->sh - g->ph + ky;
                    const bool in = iy >= 0 && iy < g->h;
                    const int8_t *src = xc + (int64_t)iy * g->w - g->pw + kx;
                    for (int o0 = 0; o0 < g->ow; o0 += 64) {
                        const __mmask64 st = lanes(0, g->ow - o0);
                        const __mmask64 ld = in ? st & lanes(lo - o0 < 0 ? 0 : lo - o0, hi - o0 > 64 ? 64 : hi - o0) : 0;
                        _mm512_mask_storeu_epi8(dst + o0, st, _mm512_maskz_loadu_epi8(ld, src + o0));
                    }
                }
            }
    }
}
