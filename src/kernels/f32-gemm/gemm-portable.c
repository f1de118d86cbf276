/* Portable C micro-kernels: plain loops that any compiler can vectorize. Packed and indirect
 * kernels are 4 x 16; the dot kernel is 2 x 4. */
#include "kernels/f32-gemm/gemm.h"

#define MR AXNN_F32_PORTABLE_MR
#define NR AXNN_F32_PORTABLE_NR
#define DMR AXNN_F32_PORTABLE_DMR
#define DNR AXNN_F32_PORTABLE_DNR

static void store_tile(float acc[MR][NR], float *c, int64_t ldc, bool accumulate)
{
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

void axnn_f32_ukernel_portable(int64_t k, const float *a, const float *b, float *c, int64_t ldc,
                               bool accumulate)
{
    float acc[MR][NR] = {{0}};
    for (int64_t p = 0; p < k; p++) {
        for (int i = 0; i < MR; i++) {
            float ai = a[p * MR + i];
            for (int j = 0; j < NR; j++) acc[i][j] += ai * b[p * NR + j];
        }
    }
    store_tile(acc, c, ldc, accumulate);
}

void axnn_f32_ind_ukernel_portable(int64_t k, const float *a, const float *const *b,
                                   int64_t boff, float *c, int64_t ldc, bool accumulate)
{
    float acc[MR][NR] = {{0}};
    for (int64_t p = 0; p < k; p++) {
        const float *bp = b[p] + boff;
        for (int i = 0; i < MR; i++) {
            float ai = a[p * MR + i];
            for (int j = 0; j < NR; j++) acc[i][j] += ai * bp[j];
        }
    }
    store_tile(acc, c, ldc, accumulate);
}

void axnn_f32_dot_ukernel_portable(int64_t k, const float *const *a, const float *const *b,
                                   int64_t off, float *c, int64_t ldc, bool accumulate)
{
    for (int i = 0; i < DMR; i++)
        for (int j = 0; j < DNR; j++) {
            const float *x = a[i] + off, *y = b[j] + off;
            float s = 0.0f;
            for (int64_t p = 0; p < k; p++) s += x[p] * y[p];
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + s : s;
        }
}
