/* Portable C micro-kernel, 4 x 16: plain loops that any compiler can vectorize. */
#include "kernels/f32-gemm/gemm.h"

#define MR AXNN_F32_PORTABLE_MR
#define NR AXNN_F32_PORTABLE_NR

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
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}
