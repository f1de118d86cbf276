/* AVX-512 micro-kernels.
 *
 * The packed and indirect kernels share one body, written once as a macro over the tile shape:
 * MR rows of A are broadcast (the broadcasts fold into the FMAs as memory operands) against NV
 * vectors of 16 columns of B, with MR*NV zmm accumulators. Two shapes are built:
 *   8 x 48   the default: 24 accumulators, 3 B loads and 8 broadcasts per step of k. Eight rows
 *            divide every channel count of the CIFAR models (16 ... 512), so no row is wasted.
 *   12 x 32  the classic shape (24 accumulators, 2 loads, 12 broadcasts), kept for comparison.
 * The dot kernel keeps 4 x 6 accumulators of 16 partial sums along k and reduces each to one
 * number at the end (four at a time, by halving and horizontal adds).
 */
#include "kernels/f32-gemm/gemm.h"

#include <immintrin.h>

#define GEMM_BODY(MR, NV, LOAD_B, NEXT_B)                                                      \
    __m512 acc[MR][NV];                                                                        \
    _Pragma("GCC unroll 12") for (int i = 0; i < MR; i++)                                      \
        _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();  \
    for (int64_t p = 0; p < k; p++) {                                                          \
        __m512 bv[NV];                                                                         \
        const float *bp = LOAD_B;                                                              \
        _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++) bv[v] = _mm512_loadu_ps(bp + 16 * v); \
        _Pragma("GCC unroll 12") for (int i = 0; i < MR; i++) {                                \
            __m512 ai = _mm512_set1_ps(a[i]);                                                  \
            _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++)                               \
                acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);                             \
        }                                                                                      \
        a += MR;                                                                               \
        NEXT_B;                                                                                \
    }                                                                                          \
    _Pragma("GCC unroll 12") for (int i = 0; i < MR; i++) {                                    \
        float *r = c + i * ldc;                                                                \
        _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++) {                                 \
            if (accumulate) acc[i][v] = _mm512_add_ps(acc[i][v], _mm512_loadu_ps(r + 16 * v)); \
            _mm512_storeu_ps(r + 16 * v, acc[i][v]);                                           \
        }                                                                                      \
    }

void axnn_f32_ukernel_avx512(int64_t k, const float *a, const float *b, float *c, int64_t ldc,
                             bool accumulate)
{
    GEMM_BODY(8, 3, b, b += 48)
}

void axnn_f32_ind_ukernel_avx512(int64_t k, const float *a, const float *const *b,
                                 int64_t boff, float *c, int64_t ldc, bool accumulate)
{
    GEMM_BODY(8, 3, b[p] + boff, (void)0)
}

void axnn_f32_ukernel_avx512_12x32(int64_t k, const float *a, const float *b, float *c,
                                   int64_t ldc, bool accumulate)
{
    GEMM_BODY(12, 2, b, b += 32)
}

void axnn_f32_ind_ukernel_avx512_12x32(int64_t k, const float *a, const float *const *b,
                                       int64_t boff, float *c, int64_t ldc, bool accumulate)
{
    GEMM_BODY(12, 2, b[p] + boff, (void)0)
}

static inline __m256 hi256(__m512 v)
{
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

/* [sum(a), sum(b), sum(c), sum(d)] */
static inline __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d)
{
    __m256 ta = _mm256_add_ps(_mm512_castps512_ps256(a), hi256(a));
    __m256 tb = _mm256_add_ps(_mm512_castps512_ps256(b), hi256(b));
    __m256 tc = _mm256_add_ps(_mm512_castps512_ps256(c), hi256(c));
    __m256 td = _mm256_add_ps(_mm512_castps512_ps256(d), hi256(d));
    __m256 v = _mm256_hadd_ps(_mm256_hadd_ps(ta, tb), _mm256_hadd_ps(tc, td));
    return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
}

static inline void put4(float *c, __m128 v, bool accumulate)
{
    if (accumulate) v = _mm_add_ps(v, _mm_loadu_ps(c));
    _mm_storeu_ps(c, v);
}

static inline void put1(float *c, float v, bool accumulate) { *c = accumulate ? *c + v : v; }

#define DMR AXNN_F32_AVX512_DMR
#define DNR AXNN_F32_AVX512_DNR

void axnn_f32_dot_ukernel_avx512(int64_t k, const float *const *a, const float *const *b,
                                 int64_t off, float *c, int64_t ldc, bool accumulate)
{
    __m512 acc[DMR][DNR];
    const float *ar[DMR], *br[DNR];
#pragma GCC unroll 6
    for (int i = 0; i < DMR; i++) ar[i] = a[i] + off;
#pragma GCC unroll 6
    for (int j = 0; j < DNR; j++) br[j] = b[j] + off;
#pragma GCC unroll 6
    for (int i = 0; i < DMR; i++)
#pragma GCC unroll 6
        for (int j = 0; j < DNR; j++) acc[i][j] = _mm512_setzero_ps();
#define DOT_STEP(LOAD)                                                                         \
    do {                                                                                       \
        __m512 av[DMR], bv[DNR];                                                               \
        _Pragma("GCC unroll 6") for (int i = 0; i < DMR; i++) av[i] = LOAD(ar[i] + p);         \
        _Pragma("GCC unroll 6") for (int j = 0; j < DNR; j++) bv[j] = LOAD(br[j] + p);         \
        _Pragma("GCC unroll 6") for (int i = 0; i < DMR; i++)                                  \
            _Pragma("GCC unroll 6") for (int j = 0; j < DNR; j++)                              \
                acc[i][j] = _mm512_fmadd_ps(av[i], bv[j], acc[i][j]);                          \
    } while (0)
#define FULL(ptr) _mm512_loadu_ps(ptr)
#define TAIL(ptr) _mm512_maskz_loadu_ps(m, ptr)
    int64_t p = 0;
    for (; p + 16 <= k; p += 16) DOT_STEP(FULL);
    if (p < k) {
        __mmask16 m = (__mmask16)((1u << (k - p)) - 1);
        DOT_STEP(TAIL);
    }
#undef FULL
#undef TAIL
#undef DOT_STEP
#pragma GCC unroll 6
    for (int i = 0; i < DMR; i++)
        put4(c + i * ldc, reduce4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]), accumulate);
#pragma GCC unroll 6
    for (int i = 0; i < DMR; i += 2) {
        float s[4];
        _mm_storeu_ps(s, reduce4(acc[i][4], acc[i][5], acc[i + 1][4], acc[i + 1][5]));
        put1(c + i * ldc + 4, s[0], accumulate);
        put1(c + i * ldc + 5, s[1], accumulate);
        put1(c + (i + 1) * ldc + 4, s[2], accumulate);
        put1(c + (i + 1) * ldc + 5, s[3], accumulate);
    }
}

/* 8 x 8 transpose of v[0..7] (rows) into columns, in ymm registers. */
static inline void transpose8(__m256 v[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]); /* a0 b0 a1 b1 | a4 b4 a5 b5 */
        t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44); /* a0 b0 c0 d0 | a4 b4 c4 d4 */
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        v[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* dst[c*w + r] = alpha * src[r*ld + c] (see gemm.h), in 8 x 8 blocks; rows and columns past
 * the ends are never read (masked loads). */
void axnn_f32_pack_t_avx512(const float *src, int64_t ld, int64_t rows, int64_t cols, int64_t w,
                            float alpha, float *dst)
{
    const __m256 av = _mm256_set1_ps(alpha);
    for (int64_t r0 = 0; r0 < w; r0 += 8) {
        const int64_t nr = rows - r0 < 8 ? rows - r0 : 8;
        for (int64_t c0 = 0; c0 < cols; c0 += 8) {
            const int64_t nc = cols - c0 < 8 ? cols - c0 : 8;
            const __mmask8 cm = (__mmask8)((1u << nc) - 1);
            __m256 v[8];
            for (int i = 0; i < 8; i++)
                v[i] = i < nr ? _mm256_maskz_loadu_ps(cm, src + (r0 + i) * ld + c0) : _mm256_setzero_ps();
            transpose8(v);
            for (int k = 0; k < nc; k++) _mm256_storeu_ps(dst + (c0 + k) * w + r0, _mm256_mul_ps(v[k], av));
        }
    }
}
