/* AVX-512 depthwise 3x3 convolution, padding 1, stride 1 or 2 (see gconv.h).
 *
 * Sixteen outputs of a row at a time. For each of the three input rows that exist, each tap
 * column is one masked load: lanes whose input column falls in the padding (or past the row)
 * read zero, and masked-off lanes never touch memory, so no padded copy of the plane is made.
 * Stride 2 reads 32 consecutive floats in two masked loads and keeps the even (or odd) ones
 * with one permute. The taps are added in the reference's order with a multiply and an add,
 * so the results equal the portable kernel's.
 */
#include "kernels/gconv/gconv.h"

#include <immintrin.h>

/* Lanes j in [0, 16) with 0 <= start + j < w. */
static inline __mmask16 in_row(int64_t start, int64_t w)
{
    int64_t lo = start < 0 ? -start : 0, hi = w - start;
    if (hi > 16) hi = 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

static inline __m512 load_s1(const float *row, int64_t start, int64_t w)
{
    return _mm512_maskz_loadu_ps(in_row(start, w), row + start);
}

/* v[j] = row[start + 2j] (0 outside the row) */
static inline __m512 load_s2(const float *row, int64_t start, int64_t w, __m512i even)
{
    __m512 lo = _mm512_maskz_loadu_ps(in_row(start, w), row + start);
    __m512 hi = _mm512_maskz_loadu_ps(in_row(start + 16, w), row + start + 16);
    return _mm512_permutex2var_ps(lo, even, hi);
}

static void dw3x3_z(const float *x, int64_t h, int64_t w, const float *k, float bias, float lo,
                    float hi, float *y, int stride)
{
    int64_t oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    __m512 kv[9];
    for (int t = 0; t < 9; t++) kv[t] = _mm512_set1_ps(k[t]);
    for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox += 16) {
            __m512 acc = _mm512_set1_ps(bias);
            for (int ky = 0; ky < 3; ky++) {
                int64_t iy = oy * stride - 1 + ky;
                if (iy < 0 || iy >= h) continue;
                const float *row = x + iy * w;
                for (int kx = 0; kx < 3; kx++) {
                    int64_t start = ox * stride - 1 + kx;
                    __m512 v = stride == 1 ? load_s1(row, start, w) : load_s2(row, start, w, even);
                    acc = _mm512_add_ps(acc, _mm512_mul_ps(v, kv[ky * 3 + kx]));
                }
            }
            acc = _mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), acc));
            int64_t n = ow - ox < 16 ? ow - ox : 16;
            _mm512_mask_storeu_ps(y + oy * ow + ox, (__mmask16)((1u << n) - 1), acc);
        }
}

const axnn_dw3x3 axnn_dw3x3_avx512 = {"avx512", dw3x3_z};
