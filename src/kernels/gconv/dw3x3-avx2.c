/* AVX2 depthwise 3x3 convolution, padding 1, stride 1 or 2 (see gconv.h): the AVX-512 kernel's
 * scheme with eight lanes. Masked loads (vmaskmovps) read zero for lanes in the padding and do
 * not touch their memory; stride 2 keeps the even floats of 16 with a shuffle and a permute.
 * Taps are added in the reference's order with a multiply and an add (no FMA), so results
 * equal the portable kernel's. */
#include "kernels/gconv/gconv.h"

#include <immintrin.h>

/* Mask of lanes j in [0, 8) with 0 <= start + j < w. */
static inline __m256i in_row(int64_t start, int64_t w)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int64_t lo = start < 0 ? -start : 0, hi = w - start;
    if (hi > 8) hi = 8;
    if (hi < lo) hi = lo;
    __m256i ge = _mm256_cmpgt_epi32(lane, _mm256_set1_epi32((int)lo - 1));
    __m256i lt = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), lane);
    return _mm256_and_si256(ge, lt);
}

static inline __m256 load_s1(const float *row, int64_t start, int64_t w)
{
    return _mm256_maskload_ps(row + start, in_row(start, w));
}

static inline __m256 load_s2(const float *row, int64_t start, int64_t w)
{
    __m256 lo = _mm256_maskload_ps(row + start, in_row(start, w));
    __m256 hi = _mm256_maskload_ps(row + start + 8, in_row(start + 8, w));
    __m256 ev = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0)));
}

static void dw3x3_y(const float *x, int64_t h, int64_t w, const float *k, float bias, float lo,
                    float hi, float *y, int stride)
{
    int64_t oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
    __m256 kv[9];
    for (int t = 0; t < 9; t++) kv[t] = _mm256_set1_ps(k[t]);
    for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox += 8) {
            __m256 acc = _mm256_set1_ps(bias);
            for (int ky = 0; ky < 3; ky++) {
                int64_t iy = oy * stride - 1 + ky;
                if (iy < 0 || iy >= h) continue;
                const float *row = x + iy * w;
                for (int kx = 0; kx < 3; kx++) {
                    int64_t start = ox * stride - 1 + kx;
                    __m256 v = stride == 1 ? load_s1(row, start, w) : load_s2(row, start, w);
                    acc = _mm256_add_ps(acc, _mm256_mul_ps(v, kv[ky * 3 + kx]));
                }
            }
            acc = _mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), acc));
            int64_t n = ow - ox < 8 ? ow - ox : 8;
            if (n == 8)
                _mm256_storeu_ps(y + oy * ow + ox, acc);
            else
                _mm256_maskstore_ps(y + oy * ow + ox, in_row(0, n), acc);
        }
}

const axnn_dw3x3 axnn_dw3x3_avx2 = {"avx2", dw3x3_y};
