/* The int8 VNNI micro-kernel shared by the GEMM (s8-gemm-avx512vnni.c) and the direct
 * convolution (s8-conv-avx512vnni.c); include it only from files compiled for AVX-512 VNNI.
 *
 * acc[i][h] += the sums of an 8 x 32 int32 tile over Q k-quads: row i's weights for quad q are
 * the dword ap[8q + i] (four int8), columns 16h..16h+15 of quad q are the 64 bytes at
 * bh + off(q) (four unsigned bytes per column), off(q) = kofs ? kofs[q] : q * step.
 * The accumulators live in named registers: an indexed array made GCC shuffle and spill them
 * inside the loop. Always inlined, so a constant kofs == NULL folds away. */
#ifndef AXNN_KERNELS_VNNI_TILE_H
#define AXNN_KERNELS_VNNI_TILE_H

#include <immintrin.h>
#include <stdint.h>

static inline __attribute__((always_inline)) void axnn_vnni_tile(int64_t Q, const int32_t *ap, const uint8_t *b0p,
                                                                 const uint8_t *b1p, const int32_t *kofs,
                                                                 int64_t step, __m512i acc[8][2])
{
    __m512i a00 = acc[0][0], a01 = acc[0][1], a10 = acc[1][0], a11 = acc[1][1];
    __m512i a20 = acc[2][0], a21 = acc[2][1], a30 = acc[3][0], a31 = acc[3][1];
    __m512i a40 = acc[4][0], a41 = acc[4][1], a50 = acc[5][0], a51 = acc[5][1];
    __m512i a60 = acc[6][0], a61 = acc[6][1], a70 = acc[7][0], a71 = acc[7][1];
    for (int64_t q = 0; q < Q; q++) {
        const int64_t off = kofs ? kofs[q] : q * step;
        const __m512i b0 = _mm512_loadu_si512(b0p + off), b1 = _mm512_loadu_si512(b1p + off);
        __m512i w;
#define AXNN_ROW(i, x0, x1)                                                                        \
    w = _mm512_set1_epi32(ap[i]);                                                                  \
    x0 = _mm512_dpbusd_epi32(x0, b0, w);                                                           \
    x1 = _mm512_dpbusd_epi32(x1, b1, w);
        AXNN_ROW(0, a00, a01)
        AXNN_ROW(1, a10, a11)
        AXNN_ROW(2, a20, a21)
        AXNN_ROW(3, a30, a31)
        AXNN_ROW(4, a40, a41)
        AXNN_ROW(5, a50, a51)
        AXNN_ROW(6, a60, a61)
        AXNN_ROW(7, a70, a71)
#undef AXNN_ROW
        ap += 8;
    }
    acc[0][0] = a00, acc[0][1] = a01, acc[1][0] = a10, acc[1][1] = a11;
    acc[2][0] = a20, acc[2][1] = a21, acc[3][0] = a30, acc[3][1] = a31;
    acc[4][0] = a40, acc[4][1] = a41, acc[5][0] = a50, acc[5][1] = a51;
    acc[6][0] = a60, acc[6][1] = a61, acc[7][0] = a70, acc[7][1] = a71;
}

#endif
