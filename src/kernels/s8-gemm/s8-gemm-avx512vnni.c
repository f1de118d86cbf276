/* Exact int8 GEMM with AVX-512 VNNI (see s8-gemm.h).
 *
 * vpdpbusd multiplies unsigned by signed bytes, four per 32-bit lane. Activations are signed,
 * so they are packed with their sign bit flipped (a + 128, unsigned) and the result is
 * corrected by 128 * sum_k A[m][k] per row:  sum (a + 128) b = sum a b + 128 sum b.
 *
 * Packing: A as groups of MR rows, each k-quad of a row one dword: Ap[g][q][MR] (dword);
 * B as panels of NR columns: Bp[q][NR][4] bytes. The micro-kernel holds an MR x NR tile of
 * int32 in 2*MR zmm registers and, per k-quad, loads two B vectors and broadcasts MR weight
 * dwords. K is padded to a multiple of 4 with zero weights; columns past N compute garbage
 * that is not stored.
 */
#include "kernels/s8-gemm/s8-gemm.h"
#include "kernels/s8-gemm/vnni-tile.h"

#include <immintrin.h>
#include <string.h>

#define MR 8
#define NR 32

static void pack_a(int64_t M, int64_t K, const int8_t *A, int64_t lda, int32_t *ap, int32_t *corr)
{
    const int64_t q4 = (K + 3) / 4, groups = (M + MR - 1) / MR;
    for (int64_t g = 0; g < groups; g++)
        for (int i = 0; i < MR; i++) {
            int64_t m = g * MR + i;
            int32_t sum = 0;
            for (int64_t q = 0; q < q4; q++) {
                uint8_t b[4] = {0, 0, 0, 0};
                for (int j = 0; j < 4 && m < M && q * 4 + j < K; j++) {
                    b[j] = (uint8_t)A[m * lda + q * 4 + j];
                    sum += A[m * lda + q * 4 + j];
                }
                memcpy(&ap[(g * q4 + q) * MR + i], b, 4);
            }
            corr[g * MR + i] = 128 * sum;
        }
}

/* Row k of B, columns [n0, n0+nc), flipped to unsigned; rows past K read as activation 0. */
static inline __m256i load_row(const int8_t *B, int64_t ldb, int64_t k, int64_t K, int64_t n0,
                               int64_t nc)
{
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    if (k >= K) return flip;
    __mmask32 mk = nc >= 32 ? 0xffffffffu : (__mmask32)((1u << nc) - 1);
    return _mm256_xor_si256(_mm256_maskz_loadu_epi8(mk, B + k * ldb + n0), flip);
}

/* Columns [n0, n0+nc) of B, nc <= NR: each k-quad becomes NR dwords (4 bytes of one column),
 * a 4 x 32 byte transpose done with two rounds of unpacks. */
static void pack_b(int64_t K, const int8_t *B, int64_t ldb, int64_t n0, int64_t nc, uint8_t *bp)
{
    const int64_t q4 = (K + 3) / 4;
    for (int64_t q = 0; q < q4; q++) {
        __m256i r0 = load_row(B, ldb, 4 * q, K, n0, nc), r1 = load_row(B, ldb, 4 * q + 1, K, n0, nc);
        __m256i r2 = load_row(B, ldb, 4 * q + 2, K, n0, nc), r3 = load_row(B, ldb, 4 * q + 3, K, n0, nc);
        __m256i t0 = _mm256_unpacklo_epi8(r0, r1), t1 = _mm256_unpackhi_epi8(r0, r1);
        __m256i t2 = _mm256_unpacklo_epi8(r2, r3), t3 = _mm256_unpackhi_epi8(r2, r3);
        __m256i u0 = _mm256_unpacklo_epi16(t0, t2), u1 = _mm256_unpackhi_epi16(t0, t2);
        __m256i u2 = _mm256_unpacklo_epi16(t1, t3), u3 = _mm256_unpackhi_epi16(t1, t3);
        uint8_t *dst = bp + q * NR * 4;
        _mm256_storeu_si256((__m256i *)dst, _mm256_permute2x128_si256(u0, u1, 0x20));
        _mm256_storeu_si256((__m256i *)(dst + 32), _mm256_permute2x128_si256(u2, u3, 0x20));
        _mm256_storeu_si256((__m256i *)(dst + 64), _mm256_permute2x128_si256(u0, u1, 0x31));
        _mm256_storeu_si256((__m256i *)(dst + 96), _mm256_permute2x128_si256(u2, u3, 0x31));
    }
}

static void ukernel(int64_t q4, const int32_t *ap, const uint8_t *bp, const int32_t *corr,
                    int32_t *C, int64_t ldc, int64_t mrows, int64_t ncols, bool accumulate)
{
    __m512i acc[MR][2];
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_si512();
    axnn_vnni_tile(q4, ap, bp, bp + 64, NULL, NR * 4, acc);
    __mmask16 m0 = ncols >= 16 ? 0xffff : (__mmask16)((1u << ncols) - 1);
    __mmask16 m1 = ncols >= 32 ? 0xffff : ncols <= 16 ? 0 : (__mmask16)((1u << (ncols - 16)) - 1);
    for (int i = 0; i < MR && i < mrows; i++) {
        __m512i c = _mm512_set1_epi32(corr[i]);
        __m512i v0 = _mm512_sub_epi32(acc[i][0], c), v1 = _mm512_sub_epi32(acc[i][1], c);
        int32_t *row = C + i * ldc;
        if (accumulate) {
            v0 = _mm512_add_epi32(v0, _mm512_maskz_loadu_epi32(m0, row));
            v1 = _mm512_add_epi32(v1, _mm512_maskz_loadu_epi32(m1, row + 16));
        }
        if (ncols >= 32) { /* masked stores are slow on some CPUs */
            _mm512_storeu_si512(row, v0);
            _mm512_storeu_si512(row + 16, v1);
            continue;
        }
        _mm512_mask_storeu_epi32(row, m0, v0);
        _mm512_mask_storeu_epi32(row + 16, m1, v1);
    }
}

/* C from packed A (groups of MR rows, then the corrections) and B, panel by panel. */
static void run(int64_t M, int64_t N, int64_t K, const int32_t *ap, const int32_t *corr, const int8_t *B,
                int64_t ldb, int32_t *C, int64_t ldc, bool accumulate, uint8_t *bp)
{
    const int64_t q4 = (K + 3) / 4, groups = (M + MR - 1) / MR;
    for (int64_t n0 = 0; n0 < N; n0 += NR) {
        int64_t nc = N - n0 < NR ? N - n0 : NR;
        pack_b(K, B, ldb, n0, nc, bp);
        for (int64_t g = 0; g < groups; g++)
            ukernel(q4, ap + g * q4 * MR, bp, corr + g * MR, C + g * MR * ldc + n0, ldc, M - g * MR, nc,
                    accumulate);
    }
}

void axnn_s8_gemm_avx512vnni(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                             const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc,
                             bool accumulate, void *ws)
{
    if (M <= 0 || N <= 0) return;
    const int64_t q4 = (K + 3) / 4, groups = (M + MR - 1) / MR;
    int32_t *ap = ws;
    int32_t *corr = ap + groups * q4 * MR;
    pack_a(M, K, A, lda, ap, corr);
    run(M, N, K, ap, corr, B, ldb, C, ldc, accumulate, (uint8_t *)(corr + groups * MR));
}

void axnn_s8_gemm_packed_avx512vnni(int64_t M, int64_t N, int64_t K, const void *apacked, const int8_t *B,
                                    int64_t ldb, int32_t *C, int64_t ldc, bool accumulate, void *ws)
{
    if (M <= 0 || N <= 0) return;
    const int64_t q4 = (K + 3) / 4, groups = (M + MR - 1) / MR;
    const int32_t *ap = apacked;
    run(M, N, K, ap, ap + groups * MR * q4, B, ldb, C, ldc, accumulate, ws);
}
