/* Exact int8 GEMM with AVX2 (see s8-gemm.h). There is no byte dot product that is exact for
 * signed x signed bytes in AVX2 (vpmaddubsw saturates), so both operands are widened to int16
 * and vpmaddwd sums pairs of products into int32 lanes, exactly.
 *
 * Packing: B as panels of NR columns with k-pairs interleaved, Bp[p][NR][2] int16; A as groups
 * of MR rows, Ap[g][p][MR] dwords (two int16 weights). K is padded to even with zero weights.
 */
#include "kernels/s8-gemm/s8-gemm.h"

#include <immintrin.h>
#include <string.h>

#define MR 4
#define NR 16

static void pack_a(int64_t M, int64_t K, const int8_t *A, int64_t lda, int32_t *ap)
{
    const int64_t p2 = (K + 1) / 2, groups = (M + MR - 1) / MR;
    for (int64_t g = 0; g < groups; g++)
        for (int64_t p = 0; p < p2; p++)
            for (int i = 0; i < MR; i++) {
                int64_t m = g * MR + i;
                int16_t w[2] = {0, 0};
                for (int j = 0; j < 2 && m < M && p * 2 + j < K; j++) w[j] = A[m * lda + p * 2 + j];
                memcpy(&ap[(g * p2 + p) * MR + i], w, 4);
            }
}

static void pack_b(int64_t K, const int8_t *B, int64_t ldb, int64_t n0, int64_t nc, int16_t *bp)
{
    const int64_t p2 = (K + 1) / 2;
    memset(bp, 0, (size_t)(p2 * NR * 2) * sizeof *bp);
    for (int64_t k = 0; k < K; k++) {
        const int8_t *src = B + k * ldb + n0;
        int16_t *dst = bp + (k / 2) * NR * 2 + (k % 2);
        for (int64_t n = 0; n < nc; n++) dst[n * 2] = src[n];
    }
}

static void ukernel(int64_t p2, const int32_t *ap, const int16_t *bp, int32_t *C, int64_t ldc,
                    int64_t mrows, int64_t ncols, bool accumulate)
{
    __m256i acc[MR][2];
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    for (int64_t p = 0; p < p2; p++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)bp);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(bp + 16));
        for (int i = 0; i < MR; i++) {
            __m256i a = _mm256_set1_epi32(ap[i]);
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(b0, a));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(b1, a));
        }
        ap += MR;
        bp += NR * 2;
    }
    int32_t tile[MR][NR];
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_si256((__m256i *)tile[i], acc[i][0]);
        _mm256_storeu_si256((__m256i *)(tile[i] + 8), acc[i][1]);
    }
    for (int i = 0; i < MR && i < mrows; i++)
        for (int64_t n = 0; n < ncols; n++) C[i * ldc + n] = accumulate ? C[i * ldc + n] + tile[i][n] : tile[i][n];
}

void axnn_s8_gemm_avx2(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                       const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc, bool accumulate,
                       void *ws)
{
    if (M <= 0 || N <= 0) return;
    const int64_t p2 = (K + 1) / 2, groups = (M + MR - 1) / MR;
    int32_t *ap = ws;
    int16_t *bp = (int16_t *)(ap + groups * p2 * MR);
    pack_a(M, K, A, lda, ap);
    for (int64_t n0 = 0; n0 < N; n0 += NR) {
        int64_t nc = N - n0 < NR ? N - n0 : NR;
        pack_b(K, B, ldb, n0, nc, bp);
        for (int64_t g = 0; g < groups; g++)
            ukernel(p2, ap + g * p2 * MR, bp, C + g * MR * ldc + n0, ldc, M - g * MR, nc, accumulate);
    }
}
