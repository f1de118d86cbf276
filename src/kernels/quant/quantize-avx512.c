/* float -> int8 quantization with AVX-512: 16 floats per step, clamped in float, converted with
 * the current rounding mode (round to nearest even) and narrowed. */
#include "kernels/quant/quantize.h"

#include <immintrin.h>

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
