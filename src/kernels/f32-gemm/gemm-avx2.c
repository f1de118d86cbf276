/* AVX2+FMA micro-kernel, 6 x 16: twelve ymm accumulators, two B loads and six broadcasts of A
 * per step of k. */
#include "kernels/f32-gemm/gemm.h"

#include <immintrin.h>

#define MR AXNN_F32_AVX2_MR

void axnn_f32_ukernel_avx2(int64_t k, const float *a, const float *b, float *c, int64_t ldc,
                           bool accumulate)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t p = 0; p < k; p++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 a0 = _mm256_broadcast_ss(a + 0), a1 = _mm256_broadcast_ss(a + 1);
        c00 = _mm256_fmadd_ps(a0, b0, c00);
        c01 = _mm256_fmadd_ps(a0, b1, c01);
        c10 = _mm256_fmadd_ps(a1, b0, c10);
        c11 = _mm256_fmadd_ps(a1, b1, c11);
        a0 = _mm256_broadcast_ss(a + 2);
        a1 = _mm256_broadcast_ss(a + 3);
        c20 = _mm256_fmadd_ps(a0, b0, c20);
        c21 = _mm256_fmadd_ps(a0, b1, c21);
        c30 = _mm256_fmadd_ps(a1, b0, c30);
        c31 = _mm256_fmadd_ps(a1, b1, c31);
        a0 = _mm256_broadcast_ss(a + 4);
        a1 = _mm256_broadcast_ss(a + 5);
        c40 = _mm256_fmadd_ps(a0, b0, c40);
        c41 = _mm256_fmadd_ps(a0, b1, c41);
        c50 = _mm256_fmadd_ps(a1, b0, c50);
        c51 = _mm256_fmadd_ps(a1, b1, c51);
        a += MR;
        b += 16;
    }
#define STORE(row, v0, v1)                                                                     \
    do {                                                                                       \
        float *r = c + (row) * ldc;                                                            \
        if (accumulate) {                                                                      \
            v0 = _mm256_add_ps(v0, _mm256_loadu_ps(r));                                        \
            v1 = _mm256_add_ps(v1, _mm256_loadu_ps(r + 8));                                    \
        }                                                                                      \
        _mm256_storeu_ps(r, v0);                                                               \
        _mm256_storeu_ps(r + 8, v1);                                                           \
    } while (0)
    STORE(0, c00, c01);
    STORE(1, c10, c11);
    STORE(2, c20, c21);
    STORE(3, c30, c31);
    STORE(4, c40, c41);
    STORE(5, c50, c51);
#undef STORE
}
