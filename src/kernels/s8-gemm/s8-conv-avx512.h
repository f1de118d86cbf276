/* Helpers of the AVX-512 quad-layout quantizers (s8-conv-avx512vnni.c, s8-conv-avx512vbmi.c);
 * include only from files compiled for AVX-512 (F, BW). */
#ifndef AXNN_KERNELS_S8_CONV_AVX512_H
#define AXNN_KERNELS_S8_CONV_AVX512_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* 16 floats (lanes in m) times s, rounded and clamped to [-127, 127], as the low byte of each
 * dword; as axnn_quantize_s8_avx512: max_ps returns the bound for NaN */
static inline __m512i axnn_quant16(const float *src, __mmask16 m, __m512 s)
{
    const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, src), s), lo), hi);
    return _mm512_and_si512(_mm512_cvtps_epi32(v), _mm512_set1_epi32(0xff));
}

/* n bytes (a multiple of 4) of the dword v, without a libc call (padding rows are short) */
static inline void axnn_fill_bytes(uint8_t *p, int64_t n, uint32_t v)
{
    const __m512i z = _mm512_set1_epi32((int)v);
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) _mm512_storeu_si512(p + i, z);
    for (; i + 16 <= n; i += 16) _mm_storeu_si128((__m128i *)(p + i), _mm512_castsi512_si128(z));
    for (; i < n; i += 4) memcpy(p + i, &v, 4);
}

#endif
