/* int8 kernels: every exact and table variant equals the scalar reference bit for bit, over
 * random shapes including odd sizes and K not a multiple of 4. */
#include "testutil.h"

#include "kernels/lut-gemm/lut-gemm.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s8_exact_variants),   cmocka_unit_test(test_lut_exact_table),
        cmocka_unit_test(test_lut_random_int16_table), cmocka_unit_test(test_lut_wide_table),
        cmocka_unit_test(test_table_exact_equals_s8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
