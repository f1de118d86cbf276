/* AVX-512 helpers of the convolution engine (see conv.h): the epilogue and the two gathers.
 * Runs and rows are processed 16 lanes at a time under a mask, so short runs (2x2 images)
 * cost one masked load and store each. */
#include "kernels/conv/conv.h"

#include <immintrin.h>
#include <stdint.h>

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

/* pack_x by copies: strides 1 and 2 along x, runs of 4 or more pixels. Per tile, each run is
 * cut into chunks of up to 16 pixels, and for each kernel column kx the chunk's source offset
 * and masks are worked out once: a load mask that keeps padding lanes out (never read, stored
 * as zeros) and a store mask. Stride 2 loads 32 consecutive floats and keeps the even ones.
 * Per row of B a chunk is then one or two masked loads, a permute (stride 2) and a store. */
typedef struct copy_chunk {
    int32_t col, run, src; /* column in the tile, run index, source column of lane 0 */
    uint32_t mload;        /* load mask (32 lanes for stride 2, 16 for stride 1) */
    __mmask16 mstore;
} copy_chunk;

enum { CHUNK_MAX = AXNN_F32_MAX_NR, KW_MAX = 8 };

static int copy_chunks(const axnn_conv_shape *s, int kx, const axnn_conv_srun *runs, int nruns,
                       copy_chunk *ch)
{
    int n = 0;
    for (int q = 0; q < nruns; q++)
        for (int i = 0; i < runs[q].len; i += 16) {
            const int64_t cnt = runs[q].len - i < 16 ? runs[q].len - i : 16;
            const int64_t a = (int64_t)(runs[q].ox + i) * s->sw - s->pw + kx;
            const int64_t span = s->sw == 1 ? cnt : 2 * cnt - 1;
            const int64_t lo = a < 0 ? -a : 0, hi = s->w - a < span ? s->w - a : span;
            uint32_t m = 0;
            if (hi > lo) m = (uint32_t)((hi >= 32 ? 0xffffffffu : ((1u << hi) - 1)) & ~((1u << lo) - 1));
            ch[n++] = (copy_chunk){runs[q].col + i, q, (int32_t)a, m, lanes(cnt)};
        }
    return n;
}

static void pack_x_copy(float *dst, int nr, const axnn_conv_shape *s, const float *x,
                        int64_t x_img, int64_t x_ch, int64_t k0, int64_t kc,
                        const axnn_conv_srun *runs, int nruns)
{
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const int64_t taps = (int64_t)s->kh * s->kw;
    copy_chunk ch[KW_MAX][CHUNK_MAX];
    int nch = 0;
    for (int kx = 0; kx < s->kw; kx++) nch = copy_chunks(s, kx, runs, nruns, ch[kx]);
    int64_t rbase[CHUNK_MAX]; /* input row of tap ky = 0, from the image's start */
    for (int q = 0; q < nruns; q++) rbase[q] = (int64_t)runs[q].oy * s->sh - s->ph;
    int64_t c = k0 / taps, t = k0 % taps;
    for (int64_t p = 0; p < kc; p++) {
        const int ky = (int)(t / s->kw), kx = (int)(t % s->kw);
        float *d = dst + p * nr;
        for (int v = 0; v < nr; v += 16) _mm512_storeu_ps(d + v, _mm512_setzero_ps());
        const float *xc = x + c * x_ch;
        for (int i = 0; i < nch; i++) {
            const copy_chunk *k = &ch[kx][i];
            const int64_t iy = rbase[k->run] + ky;
            if (iy < 0 || iy >= s->h) continue;
            const float *src = xc + runs[k->run].n * x_img + iy * s->w + k->src;
            __m512 v = _mm512_maskz_loadu_ps((__mmask16)k->mload, src);
            if (s->sw == 2)
                v = _mm512_permutex2var_ps(v, even,
                                           _mm512_maskz_loadu_ps((__mmask16)(k->mload >> 16), src + 16));
            _mm512_mask_storeu_ps(d + k->col, k->mstore, v);
        }
        if (++t == taps) {
            t = 0;
            c++;
        }
    }
}

/* pack_x by gathers: per column the offset of tap (0, 0) from the channel's plane, per tap a
 * mask of the columns whose input pixel is inside the image. */
static void pack_x_gather(float *dst, int nr, const axnn_conv_shape *s, const float *x,
                          int64_t x_img, int64_t x_ch, int64_t k0, int64_t kc,
                          const axnn_conv_srun *runs, int nruns)
{
    enum { MAXV = AXNN_F32_MAX_NR / 16, MAXT = 64 };
    const int64_t taps = (int64_t)s->kh * s->kw;
    const int nv = nr / 16;
    int32_t cb[AXNN_F32_MAX_NR] = {0}, iy0[AXNN_F32_MAX_NR], ix0[AXNN_F32_MAX_NR];
    bool used[AXNN_F32_MAX_NR] = {false};
    for (int q = 0; q < nruns; q++)
        for (int l = 0; l < runs[q].len; l++) {
            const int j = runs[q].col + l;
            iy0[j] = runs[q].oy * s->sh - s->ph;
            ix0[j] = (runs[q].ox + l) * s->sw - s->pw;
            cb[j] = (int32_t)(runs[q].n * x_img + (int64_t)iy0[j] * s->w + ix0[j]);
            used[j] = true;
        }
    __mmask16 valid[MAXT][MAXV];
    for (int64_t t = 0; t < taps; t++)
        for (int v = 0; v < nv; v++) {
            __mmask16 m = 0;
            for (int l = 0; l < 16; l++) {
                const int j = 16 * v + l, ky = (int)(t / s->kw), kx = (int)(t % s->kw);
                if (used[j] && iy0[j] + ky >= 0 && iy0[j] + ky < s->h && ix0[j] + kx >= 0 &&
                    ix0[j] + kx < s->w)
                    m |= (__mmask16)(1u << l);
            }
            valid[t][v] = m;
        }
    __m512i idx[MAXV];
    for (int v = 0; v < nv; v++) idx[v] = _mm512_loadu_si512(cb + 16 * v);
    int64_t c = k0 / taps, t = k0 % taps;
    for (int64_t p = 0; p < kc; p++) {
        const float *base = x + c * x_ch + (t / s->kw) * s->w + t % s->kw;
        for (int v = 0; v < nv; v++)
            _mm512_storeu_ps(dst + p * nr + 16 * v,
                             _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid[t][v], idx[v], base, 4));
        if (++t == taps) {
            t = 0;
            c++;
        }
    }
}

static void pack_x_avx512(float *dst, int nr, const axnn_conv_shape *s, const float *x,
                          int64_t x_img, int64_t x_ch, int64_t k0, int64_t kc,
                          const axnn_conv_srun *runs, int nruns)
{
    int ncols = 0;
    for (int q = 0; q < nruns; q++) ncols += runs[q].len;
    if (nr % 16 || nr > AXNN_F32_MAX_NR || (int64_t)s->kh * s->kw > 64 || s->kw > KW_MAX ||
        (int64_t)x_img * (runs[nruns - 1].n + 1) > INT32_MAX / 2)
        axnn_conv_isa_portable.pack_x(dst, nr, s, x, x_img, x_ch, k0, kc, runs, nruns);
    else if (s->sw <= 2 && nruns * 4 <= ncols)
        pack_x_copy(dst, nr, s, x, x_img, x_ch, k0, kc, runs, nruns);
    else
        pack_x_gather(dst, nr, s, x, x_img, x_ch, k0, kc, runs, nruns);
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
    const char *end = (const char *)(src + nrows * w);
    for (int64_t r = 0; r < nrows; r++) {
        float *d = dst + r * pitch;
        const float *sr = src + r * w;
        /* the source is one long run: keep the next kilobyte in flight */
        for (const char *p = (const char *)sr + 1024; p < (const char *)(sr + w) + 1024 && p < end; p += 64)
            __builtin_prefetch(p, 0, 3);
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

/* Transposes 8 rows of 16 floats (r[i][q], row i, column q) into out[j], j < 8, holding
 * columns 2j and 2j+1: out[j][8*h + i] = r[i][2j + h]. Two rounds of unpacks give, per 128-bit
 * lane, four rows at one column; two-source permutes and lane shuffles finish the job. */
static inline void transpose_8x16(const __m512 r[8], __m512 out[8])
{
    __m512 q[8]; /* q[4g + c]: rows 4g..4g+3, columns c, c+4, c+8, c+12 (one per lane) */
    for (int g = 0; g < 2; g++) {
        __m512 lo0 = _mm512_unpacklo_ps(r[4 * g], r[4 * g + 1]), hi0 = _mm512_unpackhi_ps(r[4 * g], r[4 * g + 1]);
        __m512 lo1 = _mm512_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]), hi1 = _mm512_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
        q[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(lo0), _mm512_castps_pd(lo1)));
        q[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(lo0), _mm512_castps_pd(lo1)));
        q[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(hi0), _mm512_castps_pd(hi1)));
        q[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(hi0), _mm512_castps_pd(hi1)));
    }
    /* lanes of (rows 0-3, rows 4-7) interleaved: lo = lanes 0,1 of each; hi = lanes 2,3 */
    const __m512i ilo = _mm512_set_epi32(23, 22, 21, 20, 7, 6, 5, 4, 19, 18, 17, 16, 3, 2, 1, 0);
    const __m512i ihi = _mm512_set_epi32(31, 30, 29, 28, 15, 14, 13, 12, 27, 26, 25, 24, 11, 10, 9, 8);
    for (int c = 0; c < 4; c += 2) {
        __m512 ua = _mm512_permutex2var_ps(q[c], ilo, q[4 + c]);         /* col c: k=c, c+4 */
        __m512 ub = _mm512_permutex2var_ps(q[c + 1], ilo, q[4 + c + 1]); /* col c+1 */
        __m512 va = _mm512_permutex2var_ps(q[c], ihi, q[4 + c]);         /* k=c+8, c+12 */
        __m512 vb = _mm512_permutex2var_ps(q[c + 1], ihi, q[4 + c + 1]);
        out[c / 2] = _mm512_shuffle_f32x4(ua, ub, 0x44);     /* k = c, c+1 */
        out[c / 2 + 2] = _mm512_shuffle_f32x4(ua, ub, 0xee); /* k = c+4, c+5 */
        out[c / 2 + 4] = _mm512_shuffle_f32x4(va, vb, 0x44); /* k = c+8, c+9 */
        out[c / 2 + 6] = _mm512_shuffle_f32x4(va, vb, 0xee); /* k = c+12, c+13 */
    }
}

static void pack_panel_avx512(float *dst, int mr, const float *w, int64_t ldw, int rows, int64_t K)
{
    if (mr != 8 || rows != 8) {
        axnn_conv_isa_portable.pack_panel(dst, mr, w, ldw, rows, K);
        return;
    }
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 r[8], out[8];
        for (int i = 0; i < 8; i++) r[i] = _mm512_loadu_ps(w + i * ldw + k);
        transpose_8x16(r, out);
        for (int j = 0; j < 8; j++) _mm512_storeu_ps(dst + (k + 2 * j) * 8, out[j]);
    }
    if (k < K) axnn_conv_isa_portable.pack_panel(dst + k * 8, 8, w + k, ldw, 8, K - k);
}

const axnn_conv_isa axnn_conv_isa_avx512 = {epilogue_avx512, pack_x_avx512, pack_rows_avx512,
                                            pack_panel_avx512, pad_rows_avx512};
