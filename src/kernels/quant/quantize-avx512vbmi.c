/* 256-entry byte-table lookup with AVX-512 VBMI: the table is four zmm registers; vpermi2b
 * looks up 64 bytes in a register pair (128 entries) and a blend on the index's top bit picks
 * the half. Indices are the int8 values with the sign bit flipped (a + 128). */
#include "kernels/quant/quantize.h"

#include <immintrin.h>

void axnn_map_s8_avx512vbmi(const int8_t *src, int64_t n, const int8_t *table, int8_t *dst)
{
    const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
    const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int64_t i = 0; i < n; i += 64) {
        __mmask64 m = n - i >= 64 ? ~0ull : (1ull << (n - i)) - 1;
        __m512i idx = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src + i), flip);
        __mmask64 top = _mm512_movepi8_mask(idx);
        __m512i v = _mm512_mask_blend_epi8(top, _mm512_permutex2var_epi8(t0, idx, t1),
                                           _mm512_permutex2var_epi8(t2, idx, t3));
        if (n - i >= 64) /* plain stores where possible: masked ones are slow on some CPUs */
            _mm512_storeu_si512(dst + i, v);
        else
            _mm512_mask_storeu_epi8(dst + i, m, v);
    }
}
