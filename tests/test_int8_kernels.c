/* int8 kernels: every exact and table variant equals the scalar reference bit for bit, over
 * random shapes including odd sizes and K not a multiple of 4; the int8 convolution kernel
 * (quad layout, packed weights, fused epilogue) equals quantize + im2col + the reference GEMM +
 * the scalar epilogue, over random convolution shapes, strides, paddings and decompositions. */
#include "testutil.h"

#include "kernels/lut-gemm/lut-gemm.h"
#include "kernels/quant/quantize.h"
#include "kernels/s8-gemm/s8-conv.h"
#include "kernels/s8-gemm/s8-gemm.h"

#include <stdlib.h>
#include <string.h>

static const int64_t shapes[][3] = {
    {1, 1, 1},   {3, 5, 7},     {8, 32, 4},   {9, 33, 5},    {16, 1024, 144},
    {17, 65, 3}, {64, 64, 576}, {5, 200, 27}, {12, 100, 130}, {33, 7, 513},
};

static void fill_s8(int8_t *p, int64_t n, axnn_rng *r)
{
    for (int64_t i = 0; i < n; i++) p[i] = (int8_t)(axnn_rng_below(r, 256) - 128);
}

static int32_t *random_table(axnn_rng *r, int32_t range)
{
    int32_t *t = malloc(65536 * sizeof *t);
    for (int i = 0; i < 65536; i++) t[i] = (int32_t)axnn_rng_below(r, 2u * (uint32_t)range + 1) - range;
    return t;
}

static int32_t *exact_table(void)
{
    int32_t *t = malloc(65536 * sizeof *t);
    for (int a = -128; a < 128; a++)
        for (int b = -128; b < 128; b++) t[(a + 128) * 256 + b + 128] = a * b;
    return t;
}

typedef struct gemm_case {
    int64_t M, N, K, lda, ldb, ldc;
    int8_t *A, *B;
    int32_t *C0, *ref;
} gemm_case;

static gemm_case make_case(const int64_t *s, axnn_rng *r)
{
    gemm_case c = {s[0], s[1], s[2], s[2] + 3, s[1] + 5, s[1] + 2};
    c.A = malloc((size_t)(c.M * c.lda));
    c.B = malloc((size_t)(c.K * c.ldb));
    c.C0 = malloc((size_t)(c.M * c.ldc) * sizeof(int32_t));
    c.ref = malloc((size_t)(c.M * c.ldc) * sizeof(int32_t));
    fill_s8(c.A, c.M * c.lda, r);
    fill_s8(c.B, c.K * c.ldb, r);
    for (int64_t i = 0; i < c.M * c.ldc; i++) c.C0[i] = (int32_t)axnn_rng_below(r, 1000) - 500;
    return c;
}

static void free_case(gemm_case *c)
{
    free(c->A);
    free(c->B);
    free(c->C0);
    free(c->ref);
}

static void check_equal(const gemm_case *c, const int32_t *got, const char *what)
{
    for (int64_t m = 0; m < c->M; m++)
        for (int64_t n = 0; n < c->ldc; n++)
            if (got[m * c->ldc + n] != c->ref[m * c->ldc + n]) {
                fail_msg("%s: M=%lld N=%lld K=%lld differs at (%lld, %lld): %d vs %d", what, (long long)c->M,
                         (long long)c->N, (long long)c->K, (long long)m, (long long)n, got[m * c->ldc + n],
                         c->ref[m * c->ldc + n]);
            }
}

static void test_s8_exact_variants(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 11);
    const axnn_s8_gemm_config *cfgs[8];
    int ncfg = axnn_s8_gemm_configs(cfgs, 8);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        gemm_case c = make_case(shapes[s], &r);
        void *ws = axnn_alloc(axnn_s8_gemm_ws_bytes(c.M, c.K));
        int32_t *got = malloc((size_t)(c.M * c.ldc) * sizeof(int32_t));
        for (int acc = 0; acc < 2; acc++) {
            memcpy(c.ref, c.C0, (size_t)(c.M * c.ldc) * sizeof(int32_t));
            axnn_s8_gemm_ref(c.M, c.N, c.K, c.A, c.lda, c.B, c.ldb, c.ref, c.ldc, acc, NULL);
            for (int v = 0; v < ncfg; v++) {
                memcpy(got, c.C0, (size_t)(c.M * c.ldc) * sizeof(int32_t));
                cfgs[v]->gemm(c.M, c.N, c.K, c.A, c.lda, c.B, c.ldb, got, c.ldc, acc, ws);
                check_equal(&c, got, cfgs[v]->name);
            }
            if (axnn_s8_conv_available()) { /* weights packed once */
                void *ap = axnn_alloc(axnn_s8_conv_packed_w_bytes((int)c.M, (int)c.K, 1, 1));
                axnn_s8_conv_pack_w((int)c.M, (int)c.K, 1, 1, c.A, c.lda, ap);
                memcpy(got, c.C0, (size_t)(c.M * c.ldc) * sizeof(int32_t));
                axnn_s8_gemm_packed_avx512vnni(c.M, c.N, c.K, ap, c.B, c.ldb, got, c.ldc, acc, ws);
                check_equal(&c, got, "avx512vnni packed");
                axnn_free(ap);
            }
        }
        free(got);
        axnn_free(ws);
        free_case(&c);
    }
}

static void run_lut_variants(const int32_t *table, axnn_rng *r)
{
    axnn_lut8 *t = axnn_alloc(sizeof *t);
    axnn_lut8_prepare(table, t);
    const axnn_lut_gemm_config *cfgs[8];
    int ncfg = axnn_lut_gemm_configs(cfgs, 8);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        gemm_case c = make_case(shapes[s], r);
        void *ws = axnn_alloc(axnn_lut_gemm_ws_bytes(c.N));
        int32_t *got = malloc((size_t)(c.M * c.ldc) * sizeof(int32_t));
        for (int acc = 0; acc < 2; acc++) {
            memcpy(c.ref, c.C0, (size_t)(c.M * c.ldc) * sizeof(int32_t));
            axnn_s8_gemm_ref(c.M, c.N, c.K, c.A, c.lda, c.B, c.ldb, c.ref, c.ldc, acc, table);
            for (int v = 0; v < ncfg; v++) {
                if (cfgs[v]->needs16 && !t->fits16) continue;
                memcpy(got, c.C0, (size_t)(c.M * c.ldc) * sizeof(int32_t));
                cfgs[v]->gemm(c.M, c.N, c.K, c.A, c.lda, c.B, c.ldb, got, c.ldc, acc, t, ws);
                check_equal(&c, got, cfgs[v]->name);
            }
            memcpy(got, c.C0, (size_t)(c.M * c.ldc) * sizeof(int32_t));
            axnn_lut_gemm(c.M, c.N, c.K, c.A, c.lda, c.B, c.ldb, got, c.ldc, acc, t, ws);
            check_equal(&c, got, "dispatched");
        }
        free(got);
        axnn_free(ws);
        free_case(&c);
    }
    axnn_free(t);
}

static void test_lut_exact_table(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 12);
    int32_t *t = exact_table();
    run_lut_variants(t, &r);
    free(t);
}

static void test_lut_random_int16_table(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 13);
    int32_t *t = random_table(&r, 32767);
    run_lut_variants(t, &r);
    free(t);
}

static void test_lut_wide_table(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 14);
    int32_t *t = random_table(&r, 1 << 20); /* does not fit int16: the 16-bit kernels step aside */
    run_lut_variants(t, &r);
    free(t);
}

/* With the exact table, the table path and the exact path give the same bits. */
static void test_table_exact_equals_s8(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 15);
    int32_t *table = exact_table();
    axnn_lut8 *t = axnn_alloc(sizeof *t);
    axnn_lut8_prepare(table, t);
    int64_t s[3] = {20, 300, 99};
    gemm_case c = make_case(s, &r);
    void *ws = axnn_alloc(axnn_s8_gemm_ws_bytes(c.M, c.K) + axnn_lut_gemm_ws_bytes(c.N));
    axnn_s8_gemm(c.M, c.N, c.K, c.A, c.lda, c.B, c.ldb, c.ref, c.ldc, false, ws);
    int32_t *got = calloc((size_t)(c.M * c.ldc), sizeof(int32_t));
    memcpy(got, c.ref, (size_t)(c.M * c.ldc) * sizeof(int32_t));
    axnn_lut_gemm(c.M, c.N, c.K, c.A, c.lda, c.B, c.ldb, got, c.ldc, false, t, ws);
    check_equal(&c, got, "lut(exact) vs s8");
    free(got);
    axnn_free(ws);
    axnn_free(t);
    free(table);
    free_case(&c);
}

/* ---- the int8 convolution kernel ---- */

typedef struct conv_case {
    int n, c, h, w, m, kh, kw, sh, sw, ph, pw, terms;
} conv_case;

static const conv_case conv_cases[] = {
    {2, 3, 6, 6, 5, 3, 3, 1, 1, 1, 1, 1},    {3, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1},
    {1, 7, 5, 9, 9, 3, 3, 1, 1, 1, 1, 2},    {4, 5, 4, 4, 13, 3, 3, 1, 1, 1, 1, 1},
    {2, 8, 9, 7, 17, 3, 3, 2, 2, 1, 1, 1},   {3, 6, 8, 8, 12, 1, 1, 2, 2, 0, 0, 1},
    {2, 9, 11, 13, 7, 5, 5, 1, 1, 2, 2, 1},  {5, 4, 2, 2, 8, 3, 3, 1, 1, 1, 1, 3},
    {1, 33, 16, 16, 31, 3, 3, 1, 1, 1, 1, 1}, {2, 10, 7, 7, 6, 3, 2, 1, 2, 0, 1, 2},
    {3, 1, 40, 37, 3, 3, 3, 1, 1, 1, 1, 1},  {37, 2, 1, 1, 9, 1, 1, 1, 1, 0, 0, 2},
    {2, 12, 10, 10, 20, 4, 4, 3, 3, 1, 2, 1}, {2, 4, 4, 4, 5, 3, 3, 2, 2, 1, 1, 1},
    {1, 5, 32, 32, 9, 3, 3, 2, 2, 1, 1, 2},  {2, 16, 33, 35, 16, 3, 3, 1, 1, 1, 1, 1},
    {2, 6, 32, 32, 11, 3, 3, 1, 1, 1, 1, 2}, /* halves are whole rows: B read in place */
    {2, 70, 8, 8, 12, 3, 3, 1, 1, 1, 1, 2},  {1, 40, 16, 16, 9, 3, 3, 1, 1, 1, 1, 2}, /* K in chunks */
};

/* Reference for one case: per image, quantize, im2col, decomposition rows through f, the
 * reference GEMM with [w, g(w)...], then the scalar epilogue. */
static void conv_reference(const conv_case *cc, const axnn_s8_conv_geom *g, const float *x, float inv,
                           const int8_t *w, const int8_t (*f)[256], const float *sc, const float *sh,
                           const float *res, bool relu, bool accumulate, float *out)
{
    axnn_im2col_geom ig = {cc->c, cc->h, cc->w, cc->kh, cc->kw, cc->sh, cc->sw, cc->ph, cc->pw, g->oh, g->ow};
    const int64_t K = (int64_t)cc->c * cc->kh * cc->kw, P = (int64_t)g->oh * g->ow, img = (int64_t)cc->c * cc->h * cc->w;
    int8_t *xq = malloc((size_t)img), *col = malloc((size_t)(K * P * cc->terms));
    int32_t *acc = malloc((size_t)(cc->m * P) * sizeof(int32_t));
    for (int i = 0; i < cc->n; i++) {
        axnn_quantize_s8_ref(x + i * img, img, inv, xq);
        axnn_im2col_s8(&ig, xq, col, P);
        for (int t = 1; t < cc->terms; t++)
            for (int64_t j = 0; j < K * P; j++) col[t * K * P + j] = f[t - 1][col[j] + 128];
        axnn_s8_gemm_ref(cc->m, P, K * cc->terms, w, K * cc->terms, col, P, acc, P, false, NULL);
        for (int r = 0; r < cc->m; r++)
            for (int64_t p = 0; p < P; p++) {
                int64_t o = ((int64_t)i * cc->m + r) * P + p;
                float v = (float)acc[r * P + p] * sc[r];
                v = v + sh[r];
                if (res) v = v + res[o];
                if (relu) v = v > 0.0f ? v : 0.0f;
                out[o] = accumulate ? out[o] + v : v;
            }
    }
    free(xq);
    free(col);
    free(acc);
}

static void test_s8_conv_kernel(void **state)
{
    if (!axnn_s8_conv_available()) skip();
    axnn_rng r;
    axnn_rng_seed(&r, 21);
    for (size_t ci = 0; ci < sizeof conv_cases / sizeof conv_cases[0]; ci++) {
        const conv_case *cc = &conv_cases[ci];
        axnn_s8_conv_geom g = {cc->c, cc->h, cc->w, cc->m, cc->kh, cc->kw, cc->sh, cc->sw, cc->ph, cc->pw,
                               (cc->h + 2 * cc->ph - cc->kh) / cc->sh + 1, (cc->w + 2 * cc->pw - cc->kw) / cc->sw + 1,
                               cc->terms};
        const axnn_s8_xlayout l = axnn_s8_xlayout_make(&g);
        const int64_t K = (int64_t)cc->c * cc->kh * cc->kw, P = (int64_t)g.oh * g.ow;
        const int64_t img = (int64_t)cc->c * cc->h * cc->w, outn = (int64_t)cc->n * cc->m * P;
        float *x = malloc((size_t)(cc->n * img) * sizeof(float));
        for (int64_t i = 0; i < cc->n * img; i++) x[i] = 3.0f * (axnn_rng_uniform(&r) - 0.5f);
        x[0] = 1e9f; /* clamps */
        const float inv = 60.0f;
        int8_t *w = malloc((size_t)(cc->m * K * cc->terms));
        fill_s8(w, cc->m * K * cc->terms, &r);
        int8_t f[3][256];
        fill_s8(&f[0][0], 3 * 256, &r);
        int8_t fmap[3][256];
        for (int t = 0; t < 3; t++)
            for (int v = 0; v < 256; v++) fmap[t][(uint8_t)(v - 128)] = (int8_t)(uint8_t)((f[t][v] + 128) & 0xff);
        /* quantizers agree */
        uint8_t *xa = malloc((size_t)(cc->n * l.img)), *xb = malloc((size_t)(cc->n * l.img));
        for (int i = 0; i < cc->n; i++) {
            axnn_s8_conv_quantize_ref(&g, x + i * img, inv, (const int8_t(*)[256])fmap, 0, l.c4, xa + i * l.img);
            for (int q = 0; q < l.c4; q++) /* one quad at a time, as the op's threads do */
                axnn_s8_conv_quantize_avx512(&g, x + i * img, inv, (const int8_t(*)[256])fmap, q, q + 1, xb + i * l.img);
        }
        assert_memory_equal(xa, xb, (size_t)(cc->n * l.img));
        if (axnn_cpu_features()->avx512vbmi) { /* the one-pass version with the f planes */
            memset(xb, 0, (size_t)(cc->n * l.img));
            for (int i = 0; i < cc->n; i++)
                for (int q = 0; q < l.c4; q += 2)
                    assert_true(axnn_s8_conv_quantize_avx512vbmi(&g, x + i * img, inv, (const int8_t(*)[256])fmap, q,
                                                                 q + 2 < l.c4 ? q + 2 : l.c4, xb + i * l.img));
            assert_memory_equal(xa, xb, (size_t)(cc->n * l.img));
        }
        void *wp = axnn_alloc(axnn_s8_conv_packed_w_bytes(cc->m, cc->c, cc->kh * cc->kw, cc->terms));
        axnn_s8_conv_pack_w(cc->m, cc->c, cc->kh * cc->kw, cc->terms, w, K * cc->terms, wp);
        float *sc = malloc((size_t)cc->m * sizeof(float)), *sh = malloc((size_t)cc->m * sizeof(float));
        for (int i = 0; i < cc->m; i++) {
            sc[i] = 1e-3f * (axnn_rng_uniform(&r) + 0.1f);
            sh[i] = axnn_rng_uniform(&r) - 0.5f;
        }
        float *res = malloc((size_t)outn * sizeof(float)), *want = malloc((size_t)outn * sizeof(float));
        float *got = malloc((size_t)outn * sizeof(float));
        for (int64_t i = 0; i < outn; i++) res[i] = axnn_rng_uniform(&r) - 0.5f;
        size_t wsb = axnn_s8_conv_ws_bytes(&g);
        void *ws = axnn_alloc(wsb);
        for (int variant = 0; variant < 4; variant++) {
            const bool use_res = variant & 1, relu = variant >= 2, accumulate = variant == 3;
            for (int64_t i = 0; i < outn; i++) want[i] = got[i] = (float)i * 0.25f;
            conv_reference(cc, &g, x, inv, w, (const int8_t(*)[256])f, sc, sh, use_res ? res : NULL, relu, accumulate, want);
            axnn_s8_conv_args a = {g, cc->n, xb, wp, sc, sh, use_res ? res : NULL, got, cc->m * P, P, relu, accumulate};
            for (int nth = 1; nth <= 3; nth++) {
                for (int64_t i = 0; i < outn && accumulate; i++) got[i] = (float)i * 0.25f;
                for (int ith = 0; ith < nth; ith++) axnn_s8_conv_avx512vnni(&a, ws, ith, nth);
                for (int64_t i = 0; i < outn; i++)
                    if (memcmp(&got[i], &want[i], sizeof(float)))
                        fail_msg("conv case %zu variant %d nth %d: element %lld: %.9g vs %.9g", ci, variant, nth,
                                 (long long)i, got[i], want[i]);
            }
            /* column ranges at image boundaries (tiles then start mid-tile-grid) */
            for (int64_t i = 0; i < outn && accumulate; i++) got[i] = (float)i * 0.25f;
            const int64_t cut = (int64_t)(cc->n / 2) * P, end = (int64_t)cc->n * P;
            axnn_s8_conv_cols_avx512vnni(&a, ws, cut, end);
            axnn_s8_conv_cols_avx512vnni(&a, ws, 0, cut);
            assert_memory_equal(got, want, (size_t)outn * sizeof(float));
        }
        axnn_free(ws);
        axnn_free(wp);
        free(x);
        free(w);
        free(xa);
        free(xb);
        free(sc);
        free(sh);
        free(res);
        free(want);
        free(got);
    }
}

/* Packed weights: dword (group, quad, row) holds the four channels' weights of one tap. */
static void test_s8_conv_pack_w(void **state)
{
    const int m = 11, c = 6, khw = 4, terms = 2, c4 = 2;
    int8_t w[11 * 6 * 4 * 2];
    for (int i = 0; i < (int)sizeof w; i++) w[i] = (int8_t)(i * 7 - 100);
    uint8_t *p = axnn_alloc(axnn_s8_conv_packed_w_bytes(m, c, khw, terms));
    axnn_s8_conv_pack_w(m, c, khw, terms, w, c * khw * terms, p);
    const int Q = terms * c4 * khw;
    const int32_t *corr = (const int32_t *)(p + 2 * 8 * Q * 4);
    for (int r = 0; r < 16; r++) {
        int32_t sum = 0;
        for (int q = 0; q < Q; q++)
            for (int j = 0; j < 4; j++) {
                int t = q / (c4 * khw), cq = (q / khw) % c4, s = q % khw, ch = cq * 4 + j;
                int8_t want = r < m && ch < c ? w[r * c * khw * terms + (t * c + ch) * khw + s] : 0;
                int8_t got = (int8_t)p[(((r / 8) * Q + q) * 8 + r % 8) * 4 + j];
                assert_int_equal(got, want);
                sum += want;
            }
        assert_int_equal(corr[r], 128 * sum);
    }
    axnn_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s8_exact_variants),   cmocka_unit_test(test_lut_exact_table),
        cmocka_unit_test(test_lut_random_int16_table), cmocka_unit_test(test_lut_wide_table),
        cmocka_unit_test(test_table_exact_equals_s8), cmocka_unit_test(test_s8_conv_kernel),
        cmocka_unit_test(test_s8_conv_pack_w),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
