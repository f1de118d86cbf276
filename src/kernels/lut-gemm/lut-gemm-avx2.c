/* Approximate int8 GEMM, AVX2: 8 products per vpgatherdd from the weight's row of the
 * weight-major int32 table (see lut-gemm.h). */
#include "kernels/lut-gemm/lut-gemm.h"

#include <immintrin.h>
#include <string.h>

void axnn_lut_gemm_avx2(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                        const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc, bool accumulate,
                        const axnn_lut8 *t, void *ws)
{
    (void)ws;
    const int64_t N8 = N / 8 * 8;
    for (int64_t m = 0; m < M; m++) {
        int32_t *c = C + m * ldc;
        if (!accumulate) memset(c, 0, (size_t)N * sizeof *c);
        for (int64_t k = 0; k < K; k++) {
            const int32_t *row = t->t32 + (A[m * lda + k] + 128) * 256 + 128;
            const int8_t *b = B + k * ldb;
            int64_t n = 0;
            for (; n < N8; n += 8) {
                __m256i idx = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b + n)));
                __m256i v = _mm256_i32gather_epi32(row, idx, 4);
                __m256i acc = _mm256_loadu_si256((const __m256i *)(c + n));
                _mm256_storeu_si256((__m256i *)(c + n), _mm256_add_epi32(acc, v));
            }
            for (; n < N; n++) c[n] += row[b[n]];
        }
    }
}
