/* AVX-512 micro-kernel, 12 x 32: 24 zmm accumulators, two B loads and twelve broadcasts of A
 * per step of k (the broadcasts fold into the FMAs as memory operands). */
#include "kernels/f32-gemm/gemm.h"

#include <immintrin.h>

#define MR AXNN_F32_AVX512_MR

void axnn_f32_ukernel_avx512(int64_t k, const float *a, const float *b, float *c, int64_t ldc,
                             bool accumulate)
{
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < k; p++) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += MR;
        b += 32;
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        float *r = c + i * ldc;
        if (accumulate) {
            acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_loadu_ps(r));
            acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_loadu_ps(r + 16));
        }
        _mm512_storeu_ps(r, acc[i][0]);
        _mm512_storeu_ps(r + 16, acc[i][1]);
    }
}
