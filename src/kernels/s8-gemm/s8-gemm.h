/* int8 GEMMs for quantized and approximate execution.
 *
 *   C[m*ldc + n] (+)= sum_k P(B[k*ldb + n], A[m*lda + k])          (int32)
 *
 * A (M x K) holds weights, B (K x N) activations (im2col columns), both int8. P is the exact
 * product a*b (s8 family) or an approximate multiplier's product T[a][b] (lut family, see
 * lut-gemm.h), with `a` the activation and `b` the weight. Accumulation is int32 and exact, so
 * every variant must equal the scalar reference bit for bit.
 *
 * Exact variants: AVX-512 VNNI (vpdpbusd on activations biased to unsigned, minus 128 * the
 * weight row sums), AVX2 (sign-extended to int16, vpmaddwd) and portable C. They pack B into
 * panels and A into row groups in the caller's workspace (axnn_s8_gemm_ws_bytes) and never
 * allocate. Single-threaded: callers split M or N over threads.
 */
#ifndef AXNN_KERNELS_S8_GEMM_H
#define AXNN_KERNELS_S8_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*axnn_s8_gemm_fn)(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                                const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc,
                                bool accumulate, void *ws);

typedef struct axnn_s8_gemm_config {
    const char *name;
    axnn_s8_gemm_fn gemm;
} axnn_s8_gemm_config;

/* Workspace bytes for any variant for an M x K weight matrix. */
size_t axnn_s8_gemm_ws_bytes(int64_t M, int64_t K);
const axnn_s8_gemm_config *axnn_s8_gemm_config_get(void);
int axnn_s8_gemm_configs(const axnn_s8_gemm_config **out, int max);
void axnn_s8_gemm(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda, const int8_t *B,
                  int64_t ldb, int32_t *C, int64_t ldc, bool accumulate, void *ws);

/* The reference: one product per (m, n, k), in order. table == NULL means exact products;
 * else table[(a + 128) * 256 + (b + 128)] is the product of activation a and weight b. */
void axnn_s8_gemm_ref(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                      const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc, bool accumulate,
                      const int32_t *table);

void axnn_s8_gemm_portable(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                           const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc, bool accumulate,
                           void *ws);
void axnn_s8_gemm_avx2(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                       const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc, bool accumulate,
                       void *ws);
void axnn_s8_gemm_avx512vnni(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                             const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc,
                             bool accumulate, void *ws);

/* The VNNI GEMM with A packed once, by axnn_s8_conv_pack_w(M, K, 1, 1, A, lda, apacked)
 * (kernels/s8-gemm/s8-conv.h; same layout as the per-call packing). ws: at least
 * axnn_s8_gemm_ws_bytes(M, K) bytes (only one B panel is used). */
void axnn_s8_gemm_packed_avx512vnni(int64_t M, int64_t N, int64_t K, const void *apacked,
                                    const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc,
                                    bool accumulate, void *ws);

#endif
