/* Approximate int8 GEMM: table preparation, the portable kernel and dispatch (lut-gemm.h). */
#include "kernels/lut-gemm/lut-gemm.h"

#include "axnn/base.h"

#include <string.h>

void axnn_lut8_prepare(const int32_t *table, axnn_lut8 *out)
{
    out->fits16 = true;
    for (int a = 0; a < 256; a++)
        for (int w = 0; w < 256; w++) {
            int32_t v = table[a * 256 + w];
            out->t32[w * 256 + a] = v;
            out->lo[w * 256 + a] = (uint8_t)(v & 0xff);
            out->hi[w * 256 + a] = (uint8_t)((v >> 8) & 0xff);
            if (v < INT16_MIN || v > INT16_MAX) out->fits16 = false;
        }
}

void axnn_lut_gemm_portable(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                            const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc, bool accumulate,
                            const axnn_lut8 *t, void *ws)
{
    (void)ws;
    for (int64_t m = 0; m < M; m++) {
        int32_t *c = C + m * ldc;
        if (!accumulate) memset(c, 0, (size_t)N * sizeof *c);
        for (int64_t k = 0; k < K; k++) {
            const int32_t *row = t->t32 + (A[m * lda + k] + 128) * 256 + 128;
            const int8_t *b = B + k * ldb;
            for (int64_t n = 0; n < N; n++) c[n] += row[b[n]];
        }
    }
}

size_t axnn_lut_gemm_ws_bytes(int64_t N) { return (size_t)((N + 63) / 64 * 64) * 4 + 256; }

static const axnn_lut_gemm_config cfg_portable = {"portable", axnn_lut_gemm_portable, false};
static const axnn_lut_gemm_config cfg_avx2 = {"avx2", axnn_lut_gemm_avx2, false};
static const axnn_lut_gemm_config cfg_vbmi = {"avx512vbmi", axnn_lut_gemm_avx512vbmi, true};

int axnn_lut_gemm_configs(const axnn_lut_gemm_config **out, int max)
{
    const axnn_cpu *c = axnn_cpu_features();
    int n = 0;
    if (n < max) out[n++] = &cfg_portable;
    if (c->avx2 && n < max) out[n++] = &cfg_avx2;
    if (c->avx512bw && c->avx512vbmi && c->avx512vnni && n < max) out[n++] = &cfg_vbmi;
    return n;
}

const axnn_lut_gemm_config *axnn_lut_gemm_config_get(const axnn_lut8 *t)
{
    const axnn_cpu *c = axnn_cpu_features();
    if (c->avx512bw && c->avx512vbmi && c->avx512vnni && t->fits16) return &cfg_vbmi;
    if (c->avx2) return &cfg_avx2;
    return &cfg_portable;
}

void axnn_lut_gemm(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda, const int8_t *B,
                   int64_t ldb, int32_t *C, int64_t ldc, bool accumulate, const axnn_lut8 *t,
                   void *ws)
{
    axnn_lut_gemm_config_get(t)->gemm(M, N, K, A, lda, B, ldb, C, ldc, accumulate, t, ws);
}
