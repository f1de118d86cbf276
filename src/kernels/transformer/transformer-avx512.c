/* AVX-512 row kernels of the transformer nodes (see transformer.h for the algorithms and their
 * accuracy): 16 lanes at a time, the tail of a row under a mask. */
#include "kernels/transformer/transformer.h"

#include <immintrin.h>
#include <math.h>

static inline __mmask16 tail(int64_t n) { return (__mmask16)((1u << n) - 1); }
static inline __m512 cst(float v) { return _mm512_set1_ps(v); }

/* exp(x) for x in float range; NaN stays NaN (the clamps keep x as their second operand). */
static inline __m512 exp_z(__m512 x)
{
    x = _mm512_min_ps(cst(89.0f), _mm512_max_ps(cst(-104.0f), x));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, cst(1.44269504089f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, cst(0.693147182464599609375f), x);
    r = _mm512_fnmadd_ps(n, cst(-1.9046543231e-09f), r);
    __m512 p = cst(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, cst(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, cst(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, cst(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, cst(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, cst(0.5f));
    p = _mm512_fmadd_ps(p, r, cst(1.0f));
    p = _mm512_fmadd_ps(p, r, cst(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* G(t) of erfc(z) = exp(-z^2) G(2 / (2 + z)); coefficients from tests/gen/gen_erfc_poly.py. */
static inline __m512 erfc_g(__m512 t)
{
    static const float c[12] = {
        -8.873875450e-15f, 2.820948064e-01f, 2.820938230e-01f,  2.468809932e-01f,
        1.753722876e-01f,  9.302853793e-02f, -5.733470991e-02f, 1.273213625e-01f,
        -4.473065734e-01f, 4.864628911e-01f, -2.309938371e-01f, 4.238040000e-02f,
    };
    __m512 p = cst(c[11]);
    for (int j = 10; j >= 0; j--) p = _mm512_fmadd_ps(p, t, cst(c[j]));
    return p;
}

/* Phi(x) into *phi and exp(-x^2 / 2) into *e. */
static inline void phi_z(__m512 x, __m512 *phi, __m512 *e)
{
    const __m512 a = _mm512_min_ps(cst(20.0f), _mm512_abs_ps(x)); /* Phi saturates long before */
    const __m512 xx = _mm512_mul_ps(a, a), lo = _mm512_fmsub_ps(a, a, xx);
    const __m512 q = _mm512_mul_ps(xx, cst(0.5f)), ql = _mm512_mul_ps(lo, cst(0.5f));
    __m512 ex = exp_z(_mm512_sub_ps(_mm512_setzero_ps(), q));
    ex = _mm512_fnmadd_ps(ex, ql, ex); /* exp(-q - ql) = exp(-q) (1 - ql) */
    const __m512 t = _mm512_div_ps(cst(2.0f), _mm512_fmadd_ps(a, cst(0.7071067812f), cst(2.0f)));
    const __m512 half_erfc = _mm512_mul_ps(_mm512_mul_ps(ex, erfc_g(t)), cst(0.5f));
    const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    *phi = _mm512_mask_blend_ps(neg, _mm512_sub_ps(cst(1.0f), half_erfc), half_erfc);
    *e = ex;
}

/* The loops below take two vectors per step: each vector's polynomial is one long dependency
 * chain, and two independent chains keep the FMA units busy. */
static void gelu_z(const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        __m512 p0, p1, e0, e1;
        phi_z(v0, &p0, &e0);
        phi_z(v1, &p1, &e1);
        _mm512_storeu_ps(y + i, _mm512_mul_ps(v0, p0));
        _mm512_storeu_ps(y + i + 16, _mm512_mul_ps(v1, p1));
    }
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? 0xffff : tail(n - i);
        const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512 phi, e;
        phi_z(v, &phi, &e);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(v, phi));
    }
}

static inline __m512 gelu_grad(__m512 v, __m512 dy)
{
    __m512 phi, e;
    phi_z(v, &phi, &e);
    return _mm512_mul_ps(_mm512_fmadd_ps(_mm512_mul_ps(v, e), cst(0.3989422804f), phi), dy);
}

static void gelu_bwd_z(const float *x, const float *dy, float *dx, int64_t n, bool accumulate)
{
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 g0 = gelu_grad(_mm512_loadu_ps(x + i), _mm512_loadu_ps(dy + i));
        __m512 g1 = gelu_grad(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(dy + i + 16));
        if (accumulate) {
            g0 = _mm512_add_ps(g0, _mm512_loadu_ps(dx + i));
            g1 = _mm512_add_ps(g1, _mm512_loadu_ps(dx + i + 16));
        }
        _mm512_storeu_ps(dx + i, g0);
        _mm512_storeu_ps(dx + i + 16, g1);
    }
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? 0xffff : tail(n - i);
        __m512 g = gelu_grad(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, dy + i));
        if (accumulate) g = _mm512_add_ps(g, _mm512_maskz_loadu_ps(m, dx + i));
        _mm512_mask_storeu_ps(dx + i, m, g);
    }
}

static inline __mmask16 mask_at(int64_t i, int64_t n) { return n - i >= 16 ? 0xffff : tail(n - i); }

static void layernorm_z(const float *x, const float *w, const float *b, float *y, int64_t d,
                        float eps, float *mean, float *rstd)
{
    __m512 s = _mm512_setzero_ps();
    for (int64_t i = 0; i < d; i += 16) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(mask_at(i, d), x + i));
    const float m = _mm512_reduce_add_ps(s) / (float)d;
    const __m512 mv = cst(m);
    __m512 ss = _mm512_setzero_ps();
    for (int64_t i = 0; i < d; i += 16) {
        const __mmask16 k = mask_at(i, d);
        const __m512 dv = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + i), mv);
        ss = _mm512_fmadd_ps(dv, dv, ss);
    }
    const float r = 1.0f / sqrtf(_mm512_reduce_add_ps(ss) / (float)d + eps);
    const __m512 rv = cst(r);
    for (int64_t i = 0; i < d; i += 16) {
        const __mmask16 k = mask_at(i, d);
        const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mv), rv);
        const __m512 v = _mm512_fmadd_ps(xh, _mm512_maskz_loadu_ps(k, w + i), _mm512_maskz_loadu_ps(k, b + i));
        _mm512_mask_storeu_ps(y + i, k, v);
    }
    *mean = m;
    *rstd = r;
}

static void layernorm_bwd_z(const float *x, const float *w, const float *dy, float *dx, float *dw,
                            float *db, int64_t d, float mean, float rstd, bool accumulate)
{
    const __m512 mv = cst(mean), rv = cst(rstd);
    __m512 sg = _mm512_setzero_ps(), sgx = _mm512_setzero_ps();
    for (int64_t i = 0; i < d; i += 16) {
        const __mmask16 k = mask_at(i, d);
        const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mv), rv);
        const __m512 g = _mm512_maskz_loadu_ps(k, dy + i);
        const __m512 gw = _mm512_mul_ps(g, _mm512_maskz_loadu_ps(k, w + i));
        sg = _mm512_add_ps(sg, gw);
        sgx = _mm512_fmadd_ps(gw, xh, sgx);
        _mm512_mask_storeu_ps(dw + i, k, _mm512_fmadd_ps(g, xh, _mm512_maskz_loadu_ps(k, dw + i)));
        _mm512_mask_storeu_ps(db + i, k, _mm512_add_ps(g, _mm512_maskz_loadu_ps(k, db + i)));
    }
    const __m512 mg = cst(_mm512_reduce_add_ps(sg) / (float)d), mgx = cst(_mm512_reduce_add_ps(sgx) / (float)d);
    for (int64_t i = 0; i < d; i += 16) {
        const __mmask16 k = mask_at(i, d);
        const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mv), rv);
        const __m512 gw = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, dy + i), _mm512_maskz_loadu_ps(k, w + i));
        __m512 v = _mm512_mul_ps(rv, _mm512_fnmadd_ps(xh, mgx, _mm512_sub_ps(gw, mg)));
        if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, dx + i));
        _mm512_mask_storeu_ps(dx + i, k, v);
    }
}

static float softmax_z(float *x, int64_t n)
{
    __m512 mx = cst(-INFINITY);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = mask_at(i, n);
        mx = _mm512_mask_max_ps(mx, k, mx, _mm512_maskz_loadu_ps(k, x + i));
    }
    const float m = _mm512_reduce_max_ps(mx);
    const __m512 mv = cst(m);
    __m512 s = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = mask_at(i, n);
        const __m512 e = _mm512_maskz_mov_ps(k, exp_z(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mv)));
        s = _mm512_add_ps(s, e);
        _mm512_mask_storeu_ps(x + i, k, e);
    }
    const float sum = _mm512_reduce_add_ps(s);
    const __m512 inv = cst(1.0f / sum);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = mask_at(i, n);
        _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), inv));
    }
    return m + logf(sum);
}

static void exp_shift_z(float *x, int64_t n, float c)
{
    const __m512 cv = cst(c);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = mask_at(i, n);
        _mm512_mask_storeu_ps(x + i, k, exp_z(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), cv)));
    }
}

static void softmax_bwd_z(const float *p, float *dp, int64_t n, float c)
{
    const __m512 cv = cst(c);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = mask_at(i, n);
        const __m512 v = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, dp + i), cv);
        _mm512_mask_storeu_ps(dp + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, p + i), v));
    }
}

static float dot_z(const float *a, const float *b, int64_t n)
{
    __m512 s = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = mask_at(i, n);
        s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i), s);
    }
    return _mm512_reduce_add_ps(s);
}


/* ---- small GEMM: C (M, N) (+)= alpha A B, row-major, unpacked ---- */

/* One tile of R rows x NV vectors of 16 columns (the last one masked by `last`). */
#define NN_TILE(R, NV)                                                                               \
    static void tile_##R##_##NV(int64_t K, float alpha, const float *A, int64_t lda, const float *B,  \
                                int64_t ldb, float *C, int64_t ldc, __mmask16 last, bool accumulate)  \
    {                                                                                                \
        __m512 acc[R][NV];                                                                           \
        _Pragma("GCC unroll 6") for (int r = 0; r < R; r++)                                         \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();    \
        for (int64_t p = 0; p < K; p++) {                                                            \
            __m512 b[NV];                                                                            \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                     \
                b[v] = _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xffff, B + p * ldb + 16 * v);     \
            _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) {                                    \
                const __m512 a = _mm512_set1_ps(A[r * lda + p]);                                     \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                 \
                    acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);                                 \
            }                                                                                        \
        }                                                                                            \
        const __m512 al = _mm512_set1_ps(alpha);                                                     \
        _Pragma("GCC unroll 6") for (int r = 0; r < R; r++)                                         \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                                   \
                const __mmask16 m = v == NV - 1 ? last : 0xffff;                                     \
                float *c = C + r * ldc + 16 * v;                                                     \
                __m512 o = _mm512_mul_ps(acc[r][v], al);                                             \
                if (accumulate) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(m, c));                  \
                _mm512_mask_storeu_ps(c, m, o);                                                      \
            }                                                                                        \
    }

#define NN_ROWS(R) NN_TILE(R, 1) NN_TILE(R, 2) NN_TILE(R, 3) NN_TILE(R, 4)
NN_ROWS(1)
NN_ROWS(2)
NN_ROWS(3)
NN_ROWS(4)
NN_ROWS(5)
NN_ROWS(6)

typedef void (*tile_fn)(int64_t, float, const float *, int64_t, const float *, int64_t, float *, int64_t,
                        __mmask16, bool);
#define NN_ENTRY(R) {tile_##R##_1, tile_##R##_2, tile_##R##_3, tile_##R##_4}
static const tile_fn tiles[6][4] = {NN_ENTRY(1), NN_ENTRY(2), NN_ENTRY(3), NN_ENTRY(4), NN_ENTRY(5), NN_ENTRY(6)};

static void gemm_z(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                   int64_t ldb, float *C, int64_t ldc, bool accumulate)
{
    for (int64_t c0 = 0; c0 < N; c0 += 64) {
        const int64_t nc = N - c0 < 64 ? N - c0 : 64, nv = (nc + 15) / 16;
        const int64_t rem = nc - 16 * (nv - 1); /* columns in the last vector, 1..16 */
        const __mmask16 last = rem == 16 ? 0xffff : tail(rem);
        for (int64_t r0 = 0; r0 < M; r0 += 6) {
            const int64_t nr = M - r0 < 6 ? M - r0 : 6;
            tiles[nr - 1][nv - 1](K, alpha, A + r0 * lda, lda, B + c0, ldb, C + r0 * ldc + c0, ldc, last, accumulate);
        }
    }
}

/* 8 x 8 transpose of v[0..7] in ymm registers (rows in, columns out). */
static inline void transpose8(__m256 v[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        v[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

static void transpose_z(const float *src, int64_t rows, int64_t cols, int64_t lds, float *dst, int64_t ldd)
{
    for (int64_t r0 = 0; r0 < rows; r0 += 8) {
        const int64_t nr = rows - r0 < 8 ? rows - r0 : 8;
        const __mmask8 rm = (__mmask8)((1u << nr) - 1);
        for (int64_t c0 = 0; c0 < cols; c0 += 8) {
            const int64_t nc = cols - c0 < 8 ? cols - c0 : 8;
            const __mmask8 cm = (__mmask8)((1u << nc) - 1);
            __m256 v[8];
            for (int i = 0; i < 8; i++)
                v[i] = i < nr ? _mm256_maskz_loadu_ps(cm, src + (r0 + i) * lds + c0) : _mm256_setzero_ps();
            transpose8(v);
            for (int k = 0; k < nc; k++) _mm256_mask_storeu_ps(dst + (c0 + k) * ldd + r0, rm, v[k]);
        }
    }
}

const axnn_tfm_kernels axnn_tfm_avx512 = {
    "avx512",  gelu_z,      gelu_bwd_z,    layernorm_z, layernorm_bwd_z,
    softmax_z, exp_shift_z, softmax_bwd_z, dot_z,       gemm_z,
    transpose_z,
};
