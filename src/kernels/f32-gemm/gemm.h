/* f32 GEMM: C = alpha * op(A) * op(B) + beta * C, row-major, single-threaded.
 *
 * Shapes: op(A) is (M, K), op(B) is (K, N), C is (M, N) with row stride ldc. With ta set, A is
 * stored (K, M) with row stride lda; with tb set, B is stored (N, K). The caller parallelizes
 * by handing each thread its own slice of C, and passes `ws`, a workspace of
 * axnn_sgemm_ws_floats() floats (kernels never allocate).
 *
 * The driver follows Goto's layering: B is packed into NR-wide column panels (KC x NR, kept in
 * L1 while A streams), A into MR-tall row panels, and a register-blocked micro-kernel computes
 * each MR x NR tile. The micro-kernel is picked once per process from the CPU's features
 * (avx512, avx2, portable C); axnn_sgemm_ref is the plain triple loop that the tests trust.
 *
 * Each configuration has three micro-kernels of one family:
 *   ukernel      the packed kernel above (A panel and B panel both packed);
 *   ind_ukernel  the same tile, but row p of the B panel is read at b[p] + boff: the caller
 *                hands a table of row pointers, so B may be a packed panel (b[p] = panel +
 *                p*NR) or rows of an image read in place (the convolution engine's direct
 *                path, src/kernels/conv/conv.h);
 *   dot_ukernel  a DMR x DNR tile of inner products along rows: C[i][j] (+)= sum_p
 *                a[i][off+p] * b[j][off+p]. It suits the weight gradient of a convolution,
 *                whose reduction runs along pixels, contiguous in both operands.
 */
#ifndef AXNN_KERNELS_F32_GEMM_H
#define AXNN_KERNELS_F32_GEMM_H

#include <stdbool.h>
#include <stdint.h>

/* Computes the MR x NR tile c[i*ldc + j] (+)= sum_p a[p*MR + i] * b[p*NR + j], p < k. */
typedef void (*axnn_f32_ukernel_fn)(int64_t k, const float *a, const float *b, float *c,
                                    int64_t ldc, bool accumulate);
/* Computes the MR x NR tile c[i*ldc + j] (+)= sum_p a[p*MR + i] * b[p][boff + j], p < k.
 * Every b[p] + boff must have NR readable floats. */
typedef void (*axnn_f32_ind_ukernel_fn)(int64_t k, const float *a, const float *const *b,
                                        int64_t boff, float *c, int64_t ldc, bool accumulate);
/* Computes the DMR x DNR tile c[i*ldc + j] (+)= sum_p a[i][off + p] * b[j][off + p], p < k,
 * for any k >= 0 (the tail is masked; no element past off + k is read). */
typedef void (*axnn_f32_dot_ukernel_fn)(int64_t k, const float *const *a, const float *const *b,
                                        int64_t off, float *c, int64_t ldc, bool accumulate);

/* Packs a transposed block: dst[c*w + r] = alpha * src[r*ld + c] for r < rows, c < cols, and
 * zeros for rows <= r < w (rows <= w, w a multiple of 8). The driver packs row-major A panels
 * and transposed B panels with it (a transformer's activations times weights); NULL = scalar. */
typedef void (*axnn_f32_pack_t_fn)(const float *src, int64_t ld, int64_t rows, int64_t cols, int64_t w,
                                   float alpha, float *dst);

typedef struct axnn_f32_gemm_config {
    const char *name;
    int mr, nr;
    axnn_f32_ukernel_fn ukernel;
    axnn_f32_ind_ukernel_fn ind_ukernel;
    int dmr, dnr;
    axnn_f32_dot_ukernel_fn dot_ukernel;
    axnn_f32_pack_t_fn pack_t; /* may be NULL */
} axnn_f32_gemm_config;

/* The configuration for this CPU (AXNN_ISA and AXNN_FORCE_REF respected). */
const axnn_f32_gemm_config *axnn_f32_gemm_config_get(void);

/* Micro-kernels (one family per ISA file). */
void axnn_f32_ukernel_portable(int64_t k, const float *a, const float *b, float *c, int64_t ldc,
                               bool accumulate);
void axnn_f32_ind_ukernel_portable(int64_t k, const float *a, const float *const *b,
                                   int64_t boff, float *c, int64_t ldc, bool accumulate);
void axnn_f32_dot_ukernel_portable(int64_t k, const float *const *a, const float *const *b,
                                   int64_t off, float *c, int64_t ldc, bool accumulate);
void axnn_f32_ukernel_avx2(int64_t k, const float *a, const float *b, float *c, int64_t ldc,
                           bool accumulate);
void axnn_f32_ind_ukernel_avx2(int64_t k, const float *a, const float *const *b, int64_t boff,
                               float *c, int64_t ldc, bool accumulate);
void axnn_f32_dot_ukernel_avx2(int64_t k, const float *const *a, const float *const *b,
                               int64_t off, float *c, int64_t ldc, bool accumulate);
void axnn_f32_ukernel_avx512(int64_t k, const float *a, const float *b, float *c, int64_t ldc,
                             bool accumulate);
void axnn_f32_ind_ukernel_avx512(int64_t k, const float *a, const float *const *b,
                                 int64_t boff, float *c, int64_t ldc, bool accumulate);
void axnn_f32_ukernel_avx512_12x32(int64_t k, const float *a, const float *b, float *c,
                                   int64_t ldc, bool accumulate);
void axnn_f32_ind_ukernel_avx512_12x32(int64_t k, const float *a, const float *const *b,
                                       int64_t boff, float *c, int64_t ldc, bool accumulate);
void axnn_f32_dot_ukernel_avx512(int64_t k, const float *const *a, const float *const *b,
                                 int64_t off, float *c, int64_t ldc, bool accumulate);
void axnn_f32_pack_t_avx512(const float *src, int64_t ld, int64_t rows, int64_t cols, int64_t w,
                            float alpha, float *dst);
#define AXNN_F32_PORTABLE_MR 4
#define AXNN_F32_PORTABLE_NR 16
#define AXNN_F32_PORTABLE_DMR 2
#define AXNN_F32_PORTABLE_DNR 4
#define AXNN_F32_AVX2_MR 6
#define AXNN_F32_AVX2_NR 16
#define AXNN_F32_AVX2_DMR 3
#define AXNN_F32_AVX2_DNR 4
#define AXNN_F32_AVX512_MR 8
#define AXNN_F32_AVX512_NR 48
#define AXNN_F32_AVX512_DMR 4
#define AXNN_F32_AVX512_DNR 6
/* The largest MR, NR, DMR and DNR of any configuration (for scratch sizes). */
#define AXNN_F32_MAX_MR 12
#define AXNN_F32_MAX_NR 48
#define AXNN_F32_MAX_DMR 4
#define AXNN_F32_MAX_DNR 6

int64_t axnn_sgemm_ws_floats(void);
void axnn_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                float *ws);
/* Same contract with an explicit micro-kernel configuration (tests compare every variant). */
void axnn_sgemm_with(const axnn_f32_gemm_config *cfg, bool ta, bool tb, int64_t M, int64_t N,
                     int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                     int64_t ldb, float beta, float *C, int64_t ldc, float *ws);
/* The reference: a plain triple loop accumulating in double. */
void axnn_sgemm_ref(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                    const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                    float *C, int64_t ldc);

/* All configurations this CPU can run (for tests and benchmarks). */
int axnn_f32_gemm_configs(const axnn_f32_gemm_config **out, int max);

#endif
