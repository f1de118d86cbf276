/* int8 GEMM: the scalar reference, the portable variant and run-time dispatch (s8-gemm.h). */
#include "kernels/s8-gemm/s8-gemm.h"

#include "axnn/base.h"

#include <string.h>

void axnn_s8_gemm_ref(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                      const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc, bool accumulate,
                      const int32_t *table)
{
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            int32_t s = accumulate ? C[m * ldc + n] : 0;
            for (int64_t k = 0; k < K; k++) {
                int a = B[k * ldb + n], b = A[m * lda + k];
                s += table ? table[(a + 128) * 256 + (b + 128)] : a * b;
            }
            C[m * ldc + n] = s;
        }
}

/* Portable: for each weight, a row of B is scaled and added into a row of C (the compiler
 * vectorizes the inner loop). */
void axnn_s8_gemm_portable(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                           const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc, bool accumulate,
                           void *ws)
{
    (void)ws;
    for (int64_t m = 0; m < M; m++) {
        int32_t *c = C + m * ldc;
        if (!accumulate) memset(c, 0, (size_t)N * sizeof *c);
        for (int64_t k = 0; k < K; k++) {
            const int32_t w = A[m * lda + k];
            const int8_t *b = B + k * ldb;
            if (w == 0) continue;
            for (int64_t n = 0; n < N; n++) c[n] += w * b[n];
        }
    }
}

size_t axnn_s8_gemm_ws_bytes(int64_t M, int64_t K)
{
    int64_t k4 = (K + 3) / 4 * 4, m16 = (M + 15) / 16 * 16;
    /* packed A (int8, or int16 pairs for AVX2) + one B panel of up to 64 columns (int16 for
     * AVX2) + row sums */
    return (size_t)(2 * m16 * k4 + 2 * k4 * 64 + m16 * 4 + 256);
}

static const axnn_s8_gemm_config cfg_portable = {"portable", axnn_s8_gemm_portable};
static const axnn_s8_gemm_config cfg_avx2 = {"avx2", axnn_s8_gemm_avx2};
static const axnn_s8_gemm_config cfg_vnni = {"avx512vnni", axnn_s8_gemm_avx512vnni};

int axnn_s8_gemm_configs(const axnn_s8_gemm_config **out, int max)
{
    const axnn_cpu *c = axnn_cpu_features();
    int n = 0;
    if (n < max) out[n++] = &cfg_portable;
    if (c->avx2 && n < max) out[n++] = &cfg_avx2;
    if (c->avx512bw && c->avx512vnni && n < max) out[n++] = &cfg_vnni;
    return n;
}

const axnn_s8_gemm_config *axnn_s8_gemm_config_get(void)
{
    const axnn_cpu *c = axnn_cpu_features();
    if (c->avx512bw && c->avx512vnni) return &cfg_vnni;
    if (c->avx2) return &cfg_avx2;
    return &cfg_portable;
}

void axnn_s8_gemm(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda, const int8_t *B,
                  int64_t ldb, int32_t *C, int64_t ldc, bool accumulate, void *ws)
{
    axnn_s8_gemm_config_get()->gemm(M, N, K, A, lda, B, ldb, C, ldc, accumulate, ws);
}
