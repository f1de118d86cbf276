/* Approximate int8 GEMM with AVX-512 VBMI (see lut-gemm.h).
 *
 * For one weight w, the 256 int16 products T[a][w] are two 256-byte planes (low and high
 * bytes), four zmm registers each. vpermi2b looks up 64 bytes in a 128-entry register pair,
 * so a 256-entry lookup is two vpermi2b and a blend on the index's top bit.
 *
 * Two consecutive k are processed together. Their int16 products are interleaved so that each
 * 32-bit lane holds (T_k[n], T_k+1[n]) and vpdpwssd against ones adds both into the int32
 * accumulator of column n. The byte and word unpacks work within 128-bit lanes, so a chunk of
 * 64 columns ends up in four accumulators in the order acc_j[lane L, i] = column 16L + 4j + i;
 * the final store undoes it with two rounds of 128-bit lane shuffles.
 *
 * Accumulators for a whole row of C live in the workspace (N rounded up to 64, int32); an odd
 * last k is paired with an all-zero table.
 */
#include "kernels/lut-gemm/lut-gemm.h"

#include <immintrin.h>
#include <string.h>

typedef struct planes {
    __m512i lo[4], hi[4];
} planes;

static inline void load_planes(const axnn_lut8 *t, int w, planes *p)
{
    const uint8_t *lo = t->lo + (w + 128) * 256, *hi = t->hi + (w + 128) * 256;
    for (int i = 0; i < 4; i++) {
        p->lo[i] = _mm512_loadu_si512(lo + 64 * i);
        p->hi[i] = _mm512_loadu_si512(hi + 64 * i);
    }
}

/* idx: activation bytes with the sign bit flipped (a + 128). Returns the 64 int16 products as
 * two vectors of words (byte order within 128-bit lanes: low half, then high half). */
static inline void lookup(const planes *p, __m512i idx, __m512i *w0, __m512i *w1)
{
    __mmask64 top = _mm512_movepi8_mask(idx);
    __m512i lo = _mm512_mask_blend_epi8(top, _mm512_permutex2var_epi8(p->lo[0], idx, p->lo[1]),
                                        _mm512_permutex2var_epi8(p->lo[2], idx, p->lo[3]));
    __m512i hi = _mm512_mask_blend_epi8(top, _mm512_permutex2var_epi8(p->hi[0], idx, p->hi[1]),
                                        _mm512_permutex2var_epi8(p->hi[2], idx, p->hi[3]));
    *w0 = _mm512_unpacklo_epi8(lo, hi);
    *w1 = _mm512_unpackhi_epi8(lo, hi);
}

static inline __m512i load_idx(const int8_t *b, int64_t n, int64_t N)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    int64_t rem = N - n;
    __m512i v = rem >= 64 ? _mm512_loadu_si512(b + n)
                          : _mm512_maskz_loadu_epi8((__mmask64)((1ull << rem) - 1), b + n);
    return _mm512_xor_si512(v, flip);
}

/* acc[0..3] += products of k (planes p0, row b0) and k+1 (planes p1, row b1) for 64 columns. */
static inline void step2(const planes *p0, const planes *p1, const int8_t *b0, const int8_t *b1,
                         int64_t n, int64_t N, int32_t *acc)
{
    const __m512i ones = _mm512_set1_epi16(1);
    __m512i a0, a1, c0, c1;
    lookup(p0, load_idx(b0, n, N), &a0, &a1);
    if (b1)
        lookup(p1, load_idx(b1, n, N), &c0, &c1);
    else
        c0 = c1 = _mm512_setzero_si512();
    __m512i d[4] = {_mm512_unpacklo_epi16(a0, c0), _mm512_unpackhi_epi16(a0, c0),
                    _mm512_unpacklo_epi16(a1, c1), _mm512_unpackhi_epi16(a1, c1)};
    for (int j = 0; j < 4; j++) {
        __m512i v = _mm512_loadu_si512(acc + 16 * j);
        _mm512_storeu_si512(acc + 16 * j, _mm512_dpwssd_epi32(v, d[j], ones));
    }
}

/* Undoes the lane order of one 64-column chunk and adds/stores it into c (ncols <= 64). */
static void store_chunk(const int32_t *acc, int32_t *c, int64_t ncols, bool accumulate)
{
    __m512i a0 = _mm512_loadu_si512(acc), a1 = _mm512_loadu_si512(acc + 16);
    __m512i a2 = _mm512_loadu_si512(acc + 32), a3 = _mm512_loadu_si512(acc + 48);
    __m512i t0 = _mm512_shuffle_i32x4(a0, a1, 0x44), t1 = _mm512_shuffle_i32x4(a2, a3, 0x44);
    __m512i t2 = _mm512_shuffle_i32x4(a0, a1, 0xee), t3 = _mm512_shuffle_i32x4(a2, a3, 0xee);
    __m512i out[4] = {_mm512_shuffle_i32x4(t0, t1, 0x88), _mm512_shuffle_i32x4(t0, t1, 0xdd),
                      _mm512_shuffle_i32x4(t2, t3, 0x88), _mm512_shuffle_i32x4(t2, t3, 0xdd)};
    for (int j = 0; j < 4; j++) {
        int64_t rem = ncols - 16 * j;
        if (rem <= 0) break;
        __mmask16 mk = rem >= 16 ? 0xffff : (__mmask16)((1u << rem) - 1);
        __m512i v = out[j];
        if (accumulate) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(mk, c + 16 * j));
        if (rem >= 16) /* full: a plain store (masked stores are slow on some CPUs) */
            _mm512_storeu_si512(c + 16 * j, v);
        else
            _mm512_mask_storeu_epi32(c + 16 * j, mk, v);
    }
}

void axnn_lut_gemm_avx512vbmi(int64_t M, int64_t N, int64_t K, const int8_t *A, int64_t lda,
                              const int8_t *B, int64_t ldb, int32_t *C, int64_t ldc,
                              bool accumulate, const axnn_lut8 *t, void *ws)
{
    if (M <= 0 || N <= 0) return;
    int32_t *acc = ws;
    const int64_t chunks = (N + 63) / 64;
    planes p0, p1;
    for (int64_t m = 0; m < M; m++) {
        const int8_t *a = A + m * lda;
        memset(acc, 0, (size_t)chunks * 64 * sizeof *acc);
        for (int64_t k = 0; k < K; k += 2) {
            bool pair = k + 1 < K;
            load_planes(t, a[k], &p0);
            if (pair) load_planes(t, a[k + 1], &p1);
            const int8_t *b0 = B + k * ldb, *b1 = pair ? B + (k + 1) * ldb : NULL;
            for (int64_t ch = 0; ch < chunks; ch++) step2(&p0, &p1, b0, b1, ch * 64, N, acc + ch * 64);
        }
        for (int64_t ch = 0; ch < chunks; ch++) {
            int64_t nc = N - ch * 64 < 64 ? N - ch * 64 : 64;
            store_chunk(acc + ch * 64, C + m * ldc + ch * 64, nc, accumulate);
        }
    }
}
