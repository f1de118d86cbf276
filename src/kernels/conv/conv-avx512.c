/* AVX-512 helpers of the convolution engine (see conv.h): the epilogue and the two gathers.
 * Runs and rows are processed 16 lanes at a time under a mask, so short runs (2x2 images)
 * cost one masked load and store each. */
#include "kernels/conv/conv.h"

#include <immintrin.h>

static inline __mmask16 lanes(int64_t n) { return n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1); }

static void epilogue_avx512(const axnn_conv_epi *e, const float *ct, int64_t ldct, int r0,
                            int nrows, const axnn_conv_run *runs, int nruns)
{
    const __m512 zero = _mm512_setzero_ps();
    for (int r = 0; r < nrows; r++) {
        const int64_t ch = r0 + r;
        const __m512 sc = _mm512_set1_ps(e->scale ? e->scale[ch] : 1.0f);
        const __m512 sh = _mm512_set1_ps(e->shift ? e->shift[ch] : 0.0f);
        const float *src = ct + r * ldct;
        for (int q = 0; q < nruns; q++) {
            const axnn_conv_run *u = &runs[q];
            float *o = e->out + u->dst + ch * e->out_ch;
            const float *rs = e->res ? e->res + u->dst + ch * e->out_ch : NULL;
            const float *v = src + u->col;
            for (int i = 0; i < u->len; i += 16) {
                __mmask16 m = lanes(u->len - i);
                __m512 t = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, v + i), sc, sh);
                if (rs) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(m, rs + i));
                if (e->relu) t = _mm512_max_ps(t, zero);
                if (e->accumulate) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(m, o + i));
                _mm512_mask_storeu_ps(o + i, m, t);
            }
        }
    }
}

static void pack_cols_avx512(float *dst, int nr, const float *const *rows, int64_t kc,
                             const int32_t *cofs, int ncols)
{
    if (nr % 16) {
        axnn_conv_isa_portable.pack_cols(dst, nr, rows, kc, cofs, ncols);
        return;
    }
    __m512i idx[AXNN_F32_MAX_NR / 16];
    __mmask16 m[AXNN_F32_MAX_NR / 16];
    const int nv = nr / 16;
    for (int v = 0; v < nv; v++) {
        m[v] = lanes(ncols - 16 * v > 0 ? ncols - 16 * v : 0);
        idx[v] = _mm512_maskz_loadu_epi32(m[v], cofs + 16 * v);
    }
    for (int64_t p = 0; p < kc; p++) {
        float *d = dst + p * nr;
        for (int v = 0; v < nv; v++)
            _mm512_storeu_ps(d + 16 * v, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m[v], idx[v],
                                                                  rows[p], 4));
    }
}

static void pack_rows_avx512(float *dst, int nr, const float *base, const int32_t *cofs,
                             int ncols, const int32_t *kofs, int nk)
{
    for (int q = 0; q < nr; q += 16) {
        __mmask16 mg = lanes(nk - q > 0 ? nk - q : 0), ms = lanes(nr - q);
        __m512i idx = _mm512_maskz_loadu_epi32(mg, kofs + q);
        for (int j = 0; j < ncols; j++) {
            __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mg, idx, base + cofs[j], 4);
            _mm512_mask_storeu_ps(dst + (int64_t)j * nr + q, ms, v);
        }
    }
}

static void pad_rows_avx512(float *dst, int64_t pitch, int pw, const float *src, int64_t w,
                            int64_t nrows)
{
    const __m512 z = _mm512_setzero_ps();
    for (int64_t r = 0; r < nrows; r++) {
        float *d = dst + r * pitch;
        const float *sr = src + r * w;
        for (int q = 0; q < pw; q += 16) _mm512_mask_storeu_ps(d + q, lanes(pw - q), z);
        d += pw;
        int64_t i = 0;
        for (; i + 16 <= w; i += 16) _mm512_storeu_ps(d + i, _mm512_loadu_ps(sr + i));
        if (i < w) {
            __mmask16 m = lanes(w - i);
            _mm512_mask_storeu_ps(d + i, m, _mm512_maskz_loadu_ps(m, sr + i));
        }
    }
}

const axnn_conv_isa axnn_conv_isa_avx512 = {epilogue_avx512, pack_cols_avx512, pack_rows_avx512,
                                            pad_rows_avx512};
