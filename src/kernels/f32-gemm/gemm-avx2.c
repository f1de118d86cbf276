/* AVX2+FMA micro-kernels. The packed and indirect kernels are 6 x 16: twelve ymm accumulators,
 * two B loads and six broadcasts of A per step of k. The dot kernel is 3 x 4: twelve ymm
 * accumulators of 8 partial sums along k, reduced at the end. */
#include "kernels/f32-gemm/gemm.h"

#include <immintrin.h>

#define MR AXNN_F32_AVX2_MR

#define GEMM_BODY(LOAD_B, NEXT_B)                                                              \
    __m256 acc[MR][2];                                                                         \
    _Pragma("GCC unroll 6") for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] =              \
        _mm256_setzero_ps();                                                                   \
    for (int64_t p = 0; p < k; p++) {                                                          \
        const float *bp = LOAD_B;                                                              \
        __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);                         \
        _Pragma("GCC unroll 6") for (int i = 0; i < MR; i++) {                                 \
            __m256 ai = _mm256_broadcast_ss(a + i);                                            \
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);                                    \
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);                                    \
        }                                                                                      \
        a += MR;                                                                               \
        NEXT_B;                                                                                \
    }                                                                                          \
    _Pragma("GCC unroll 6") for (int i = 0; i < MR; i++) {                                     \
        float *r = c + i * ldc;                                                                \
        if (accumulate) {                                                                      \
            acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(r));                          \
            acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(r + 8));                      \
        }                                                                                      \
        _mm256_storeu_ps(r, acc[i][0]);                                                        \
        _mm256_storeu_ps(r + 8, acc[i][1]);                                                    \
    }

void axnn_f32_ukernel_avx2(int64_t k, const float *a, const float *b, float *c, int64_t ldc,
                           bool accumulate)
{
    GEMM_BODY(b, b += 16)
}

void axnn_f32_ind_ukernel_avx2(int64_t k, const float *a, const float *const *b, int64_t boff,
                               float *c, int64_t ldc, bool accumulate)
{
    GEMM_BODY(b[p] + boff, (void)0)
}

#define DMR AXNN_F32_AVX2_DMR
#define DNR AXNN_F32_AVX2_DNR

static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

void axnn_f32_dot_ukernel_avx2(int64_t k, const float *const *a, const float *const *b,
                               int64_t off, float *c, int64_t ldc, bool accumulate)
{
    __m256 acc[DMR][DNR];
    const float *ar[DMR], *br[DNR];
    for (int i = 0; i < DMR; i++) ar[i] = a[i] + off;
    for (int j = 0; j < DNR; j++) br[j] = b[j] + off;
#pragma GCC unroll 4
    for (int i = 0; i < DMR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < DNR; j++) acc[i][j] = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 8 <= k; p += 8) {
        __m256 av[DMR], bv[DNR];
#pragma GCC unroll 4
        for (int i = 0; i < DMR; i++) av[i] = _mm256_loadu_ps(ar[i] + p);
#pragma GCC unroll 4
        for (int j = 0; j < DNR; j++) bv[j] = _mm256_loadu_ps(br[j] + p);
#pragma GCC unroll 4
        for (int i = 0; i < DMR; i++)
#pragma GCC unroll 4
            for (int j = 0; j < DNR; j++) acc[i][j] = _mm256_fmadd_ps(av[i], bv[j], acc[i][j]);
    }
    for (int i = 0; i < DMR; i++)
        for (int j = 0; j < DNR; j++) {
            float s = hsum(acc[i][j]);
            for (int64_t q = p; q < k; q++) s += ar[i][q] * br[j][q];
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + s : s;
        }
}
