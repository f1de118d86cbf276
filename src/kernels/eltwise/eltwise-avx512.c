/* AVX-512 element-wise kernels (see eltwise.h): 16 lanes at a time, the tail under a mask.
 * Loops are unrolled by two where a sum's dependency chain would otherwise set the pace. */
#include "kernels/eltwise/eltwise.h"

#include <immintrin.h>

static inline __mmask16 tail(int64_t n) { return (__mmask16)((1u << n) - 1); }

static void relu_z(const float *x, float *y, int64_t n)
{
    const __m512 z = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_max_ps(_mm512_loadu_ps(x + i), z));
    if (i < n) {
        __mmask16 m = tail(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_max_ps(_mm512_maskz_loadu_ps(m, x + i), z));
    }
}

static inline __m512 relu_mask(__m512 y, __m512 dy)
{
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ), dy);
}

static void relu_bwd_z(const float *y, const float *dy, float *dx, int64_t n, bool accumulate)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = relu_mask(_mm512_loadu_ps(y + i), _mm512_loadu_ps(dy + i));
        if (accumulate) v = _mm512_add_ps(v, _mm512_loadu_ps(dx + i));
        _mm512_storeu_ps(dx + i, v);
    }
    if (i < n) {
        __mmask16 m = tail(n - i);
        __m512 v = relu_mask(_mm512_maskz_loadu_ps(m, y + i), _mm512_maskz_loadu_ps(m, dy + i));
        if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, dx + i));
        _mm512_mask_storeu_ps(dx + i, m, v);
    }
}

static void add_z(const float *a, const float *b, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
    if (i < n) {
        __mmask16 m = tail(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i),
                                                      _mm512_maskz_loadu_ps(m, b + i)));
    }
}

static void acc_z(const float *x, float *y, int64_t n) { add_z(x, y, y, n); }

static void moments_z(const float *x, int64_t n, double *s1, double *s2)
{
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, b0 = a0, b1 = a0;
    for (int64_t i = 0; i < n; i += 16) {
        __m512 v = _mm512_maskz_loadu_ps(n - i >= 16 ? 0xffff : tail(n - i), x + i);
        __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
        __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
        a0 = _mm512_add_pd(a0, lo);
        a1 = _mm512_add_pd(a1, hi);
        b0 = _mm512_fmadd_pd(lo, lo, b0);
        b1 = _mm512_fmadd_pd(hi, hi, b1);
    }
    *s1 += _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
    *s2 += _mm512_reduce_add_pd(_mm512_add_pd(b0, b1));
}

static void bn_apply_z(const float *x, const float *res, float *y, int64_t n, float a, float b,
                       bool relu)
{
    const __m512 av = _mm512_set1_ps(a), bv = _mm512_set1_ps(b), z = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : tail(n - i);
        __m512 v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), av, bv);
        if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + i));
        if (relu) v = _mm512_max_ps(v, z);
        _mm512_mask_storeu_ps(y + i, m, v);
    }
}

/* dy masked by out > 0 (out may be NULL: no mask) */
static inline __m512 masked_dy(const float *dy, const float *out, int64_t i, __mmask16 m)
{
    __m512 d = _mm512_maskz_loadu_ps(m, dy + i);
    if (!out) return d;
    __mmask16 pos = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, out + i), _mm512_setzero_ps(),
                                            _CMP_GT_OQ);
    return _mm512_maskz_mov_ps(pos, d);
}

static void bn_bwd_sums_z(const float *x, const float *dy, const float *out, int64_t n, float mean,
                          float *sdy, float *sdyx, float *dres, bool dres_accumulate)
{
    const __m512 mv = _mm512_set1_ps(mean);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 d0 = masked_dy(dy, out, i, 0xffff), d1 = masked_dy(dy, out, i + 16, 0xffff);
        a0 = _mm512_add_ps(a0, d0);
        a1 = _mm512_add_ps(a1, d1);
        b0 = _mm512_fmadd_ps(d0, _mm512_sub_ps(_mm512_loadu_ps(x + i), mv), b0);
        b1 = _mm512_fmadd_ps(d1, _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), mv), b1);
        if (dres) {
            if (dres_accumulate) {
                d0 = _mm512_add_ps(d0, _mm512_loadu_ps(dres + i));
                d1 = _mm512_add_ps(d1, _mm512_loadu_ps(dres + i + 16));
            }
            _mm512_storeu_ps(dres + i, d0);
            _mm512_storeu_ps(dres + i + 16, d1);
        }
    }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : tail(n - i);
        __m512 d = masked_dy(dy, out, i, m);
        a0 = _mm512_add_ps(a0, d);
        b0 = _mm512_fmadd_ps(d, _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), mv), b0);
        if (dres) {
            if (dres_accumulate) d = _mm512_add_ps(d, _mm512_maskz_loadu_ps(m, dres + i));
            _mm512_mask_storeu_ps(dres + i, m, d);
        }
    }
    *sdy = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    *sdyx = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
}

static void bn_bwd_dx_z(const float *x, const float *dy, const float *out, float *dx, int64_t n,
                        float mean, float invstd, float k, float mdy, float mdyx, bool accumulate)
{
    /* k * (g - mdy - (x - mean) * invstd * mdyx) = k*g - k*mdy - (x - mean) * (k*invstd*mdyx) */
    const __m512 mv = _mm512_set1_ps(mean), kv = _mm512_set1_ps(k);
    const __m512 c0 = _mm512_set1_ps(-k * mdy), c1 = _mm512_set1_ps(-k * invstd * mdyx);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : tail(n - i);
        __m512 xc = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mv);
        __m512 v = _mm512_fmadd_ps(kv, masked_dy(dy, out, i, m), c0);
        v = _mm512_fmadd_ps(xc, c1, v);
        if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, dx + i));
        _mm512_mask_storeu_ps(dx + i, m, v);
    }
}

/* One output row of a 2x2 max-pool: 16 outputs at a time from 32 inputs of each of the two
 * input rows r0 and r1, split into even and odd columns by a two-source permute. The four
 * candidates are scanned in row-major order as in the portable kernel. */
static void maxpool_row(const float *r0, const float *r1, float *y, int32_t *idx, int64_t ow,
                        int32_t base0, int32_t w)
{
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int64_t ox = 0; ox < ow; ox += 16) {
        const int64_t cnt = ow - ox < 16 ? ow - ox : 16;
        const __mmask16 m0 = tail(2 * cnt >= 16 ? 16 : 2 * cnt);
        const __mmask16 m1 = 2 * cnt > 16 ? tail(2 * cnt - 16) : 0, mo = cnt == 16 ? 0xffff : tail(cnt);
        __m512 a0 = _mm512_maskz_loadu_ps(m0, r0 + 2 * ox), a1 = _mm512_maskz_loadu_ps(m1, r0 + 2 * ox + 16);
        __m512 b0 = _mm512_maskz_loadu_ps(m0, r1 + 2 * ox), b1 = _mm512_maskz_loadu_ps(m1, r1 + 2 * ox + 16);
        __m512 c[4] = {_mm512_permutex2var_ps(a0, even, a1), _mm512_permutex2var_ps(a0, odd, a1),
                       _mm512_permutex2var_ps(b0, even, b1), _mm512_permutex2var_ps(b0, odd, b1)};
        const int32_t offs[4] = {0, 1, w, w + 1};
        __m512 best = c[0];
        __mmask16 nan = _mm512_cmp_ps_mask(best, best, _CMP_UNORD_Q);
        __m512i pos = _mm512_add_epi32(_mm512_set1_epi32(base0 + 2 * (int32_t)ox),
                                       _mm512_slli_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8,
                                                                          7, 6, 5, 4, 3, 2, 1, 0), 1));
        __m512i bi = pos;
        for (int q = 1; q < 4; q++) {
            __mmask16 isnan_q = _mm512_cmp_ps_mask(c[q], c[q], _CMP_UNORD_Q);
            __mmask16 take = (_mm512_cmp_ps_mask(c[q], best, _CMP_GT_OQ) | isnan_q) & ~nan;
            best = _mm512_mask_mov_ps(best, take, c[q]);
            bi = _mm512_mask_mov_epi32(bi, take, _mm512_add_epi32(pos, _mm512_set1_epi32(offs[q])));
            nan |= isnan_q & take;
        }
        _mm512_mask_storeu_ps(y + ox, mo, best);
        if (idx) _mm512_mask_storeu_epi32(idx + ox, mo, bi);
    }
}

static void maxpool2x2_z(const float *x, float *y, int32_t *idx, int64_t h, int64_t w)
{
    const int64_t ow = w / 2;
    for (int64_t oy = 0; oy < h / 2; oy++)
        maxpool_row(x + 2 * oy * w, x + (2 * oy + 1) * w, y + oy * ow, idx ? idx + oy * ow : NULL, ow,
                    (int32_t)(2 * oy * w), (int32_t)w);
}

const axnn_eltwise axnn_eltwise_avx512 = {
    "avx512", relu_z, relu_bwd_z, add_z, acc_z, moments_z, bn_apply_z,
    bn_bwd_sums_z, bn_bwd_dx_z, maxpool2x2_z,
};
