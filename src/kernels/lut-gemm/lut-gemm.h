/* Approximate int8 GEMM through a multiplier's product table.
 *
 *   C[m*ldc + n] (+)= sum_k T[B[k*ldb + n]][A[m*lda + k]]          (int32)
 *
 * with A the weights (M x K), B the activations (K x N) and T the multiplier's 256 x 256 table
 * indexed [activation][weight]. The reference is axnn_s8_gemm_ref with the table.
 *
 * A prepared table (axnn_lut8) stores the table weight-major, so that the 256 products of one
 * weight value are contiguous: t32[(w+128)*256 + (a+128)]; when every product fits int16 it
 * also stores those 256 int16 products as a low-byte plane and a high-byte plane. The AVX-512
 * VBMI kernel keeps the two planes of a weight (4 + 4 zmm registers, 128 entries per register
 * pair) and looks up 64 activations at once with vpermi2b; the AVX2 kernel gathers 8 int32
 * products at a time; the portable kernel indexes the weight's row once per (m, k).
 */
#ifndef AXNN_KERNELS_LUT_GEMM_H
#define AXNN_KERNELS_LUT_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct axnn_lut8 {
    int32_t t32[65536]; /* weight-major: [(w+128)*256 + (a+128)] */
    uint8_t lo[65536];  /* low bytes of the products, same indexing */
    uint8_t hi[65536];  /* high bytes (valid when fits16) */
    bool fits16;
} axnn_lut8;

/* table is indexed [(a+128)*256 + (b+128)] (activation a, weight b), as axnn_mul.table. */
void axnn_lut8_prepare(const int32_t *table, axnn_lut8 *out);

typedef void (*axnn_lut_gemm_fn)(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                                 const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc,
                                 bool accumulate, const axnn_lut8 *t, void *ws);

typedef struct axnn_lut_gemm_config {
    const char *name;
    axnn_lut_gemm_fn gemm;
    bool needs16; /* needs fits16 */
} axnn_lut_gemm_config;

/* Workspace bytes for N columns. */
size_t axnn_lut_gemm_ws_bytes(int64_t N);
const axnn_lut_gemm_config *axnn_lut_gemm_config_get(const axnn_lut8 *t);
int axnn_lut_gemm_configs(const axnn_lut_gemm_config **out, int max);
void axnn_lut_gemm(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda, const int8_t *B,
                   int64_t ldb, int32_t *C, int64_t ldc, bool accumulate, const axnn_lut8 *t,
                   void *ws);

void axnn_lut_gemm_portable(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                            const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc, bool accumulate,
                            const axnn_lut8 *t, void *ws);
void axnn_lut_gemm_avx2(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                        const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc, bool accumulate,
                        const axnn_lut8 *t, void *ws);
void axnn_lut_gemm_avx512vbmi(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                              const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc,
                              bool accumulate, const axnn_lut8 *t, void *ws);

#endif
