/* NSGA-II: non-dominated sorting and crowding distance on hand-made cases, SBX and polynomial
 * mutation within bounds, the 2-D hypervolume, ZDT1 and ZDT2 reaching a hypervolume within 1% of
 * their true fronts', determinism per seed, and an exact JSON round trip of the state. */
#include "testutil.h"

#include "axnn/dispatch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_nd_sort_hand(void **state)
{
    /* (1,5) (2,3) (4,1) non-dominated; (3,4) dominated by (2,3); (5,5) by (3,4) and all;
     * (2,3) duplicate is not dominated by its twin. */
    const double f[] = {1, 5, 2, 3, 4, 1, 3, 4, 5, 5, 2, 3};
    int rank[6];
    int nf = axnn_nd_sort(f, 6, 2, rank);
    assert_int_equal(nf, 3);
    const int want[6] = {0, 0, 0, 1, 2, 0};
    for (int i = 0; i < 6; i++) assert_int_equal(rank[i], want[i]);
    /* three objectives: a chain a < b < c */
    const double g[] = {0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 3, -1};
    int r3[4];
    assert_int_equal(axnn_nd_sort(g, 4, 3, r3), 3);
    assert_int_equal(r3[0], 0);
    assert_int_equal(r3[1], 1);
    assert_int_equal(r3[2], 2);
    assert_int_equal(r3[3], 0);
}

static void test_crowding_hand(void **state)
{
    /* Front (0,4) (1,2) (3,1) (4,0): ranges 4 and 4. Inner distances: (1,2): (3-0)/4 + (4-1)/4
     * = 1.5; (3,1): (4-1)/4 + (2-0)/4 = 1.25. */
    const double f[] = {0, 4, 1, 2, 3, 1, 4, 0};
    int idx[4] = {2, 0, 3, 1};
    double cd[4];
    axnn_crowding(f, 2, idx, 4, cd);
    assert_true(isinf(cd[1]) && isinf(cd[2]));
    assert_true(fabs(cd[0] - 1.25) < 1e-12);
    assert_true(fabs(cd[3] - 1.5) < 1e-12);
    int two[2] = {0, 1};
    axnn_crowding(f, 2, two, 2, cd);
    assert_true(isinf(cd[0]) && isinf(cd[1]));
}

static void test_operators_in_bounds(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 7);
    double lo[5] = {0, -1, 10, 0, 5}, hi[5] = {1, 1, 100, 1e-9, 5};
    int changed = 0;
    for (int t = 0; t < 20000; t++) {
        double a[5], b[5], c1[5], c2[5];
        for (int i = 0; i < 5; i++) {
            /* parents often on the bounds, the hard case */
            double u = axnn_rng_uniform(&r);
            a[i] = t % 3 == 0 ? lo[i] : lo[i] + u * (hi[i] - lo[i]);
            b[i] = t % 5 == 0 ? hi[i] : lo[i] + axnn_rng_uniform(&r) * (hi[i] - lo[i]);
        }
        axnn_sbx(a, b, c1, c2, lo, hi, 5, 20.0, 0.9, &r);
        axnn_poly_mutate(c1, lo, hi, 5, 25.0, 0.5, &r);
        axnn_poly_mutate(c2, lo, hi, 5, 25.0, 1.0, &r);
        for (int i = 0; i < 5; i++) {
            assert_true(c1[i] >= lo[i] && c1[i] <= hi[i]);
            assert_true(c2[i] >= lo[i] && c2[i] <= hi[i]);
            changed += c1[i] != a[i] && c1[i] != b[i];
        }
    }
    assert_true(changed > 10000); /* the operators do move genes */
}

static void test_sbx_spread(void **state)
{
    /* With eta 20 children stay near their parents: mean |c - p| is a small part of |p1 - p2|. */
    axnn_rng r;
    axnn_rng_seed(&r, 3);
    double lo[1] = {0}, hi[1] = {100}, p1[1] = {40}, p2[1] = {60}, sum = 0;
    int n = 0;
    for (int t = 0; t < 10000; t++) {
        double c1[1], c2[1];
        axnn_sbx(p1, p2, c1, c2, lo, hi, 1, 20.0, 1.0, &r);
        if (c1[0] == 40 || c1[0] == 60) continue;
        double a = fmin(c1[0], c2[0]), b = fmax(c1[0], c2[0]);
        assert_true(fabs((a + b) / 2 - 50) < 1e-9); /* SBX keeps the parents' mean */
        sum += fabs(a - 40);
        n++;
    }
    assert_true(n > 4000);
    assert_true(sum / n > 0.1 && sum / n < 2.0);
}

static void test_hv2d(void **state)
{
    const double f[] = {0.2, 0.8, 0.5, 0.5, 0.8, 0.2, 0.6, 0.6, 1.5, 0.0};
    /* staircase: 0.8*0.2 + 0.5*0.3 + 0.2*0.3 = 0.37 (the 4th is dominated, the 5th is outside) */
    assert_true(fabs(axnn_hv2d(f, 5, 1.0, 1.0) - 0.37) < 1e-12);
    assert_true(axnn_hv2d(f, 0, 1.0, 1.0) == 0.0);
}

typedef struct zdt {
    int kind, n;
} zdt;

static axnn_status zdt_eval(void *ctx, int n, const double *x, const int *xi, double *f)
{
    const zdt *z = ctx;
    for (int i = 0; i < n; i++) {
        const double *v = x + (size_t)i * z->n;
        double s = 0;
        for (int j = 1; j < z->n; j++) s += v[j];
        double g = 1.0 + 9.0 * s / (z->n - 1), f1 = v[0];
        f[2 * i] = f1;
        f[2 * i + 1] = z->kind == 1 ? g * (1.0 - sqrt(f1 / g)) : g * (1.0 - (f1 / g) * (f1 / g));
    }
    return AXNN_OK;
}

static double run_zdt(int kind, uint64_t seed, int gens, axnn_nsga2 **keep)
{
    zdt z = {kind, 30};
    double lo[30], hi[30];
    for (int i = 0; i < 30; i++) lo[i] = 0, hi[i] = 1;
    axnn_nsga2_cfg c = {200, 30, 0, lo, hi, NULL, 2, 0.9, 20.0, 25.0, 0.0, seed};
    axnn_nsga2 *s;
    assert_int_equal(axnn_nsga2_create(&c, &s), AXNN_OK);
    assert_int_equal(axnn_nsga2_init(s, zdt_eval, &z), AXNN_OK);
    for (int g = 0; g < gens; g++) assert_int_equal(axnn_nsga2_step(s, zdt_eval, &z), AXNN_OK);
    double hv = axnn_hv2d(s->f, c.pop, 1.1, 1.1);
    if (keep)
        *keep = s;
    else
        axnn_nsga2_free(s);
    return hv;
}

static void test_zdt(void **state)
{
    /* True fronts: f2 = 1 - sqrt(f1) (ZDT1), 1 - f1^2 (ZDT2) for f1 in [0, 1]; against (1.1, 1.1)
     * they dominate 1.1 * 1.1 - 0.1 * 1.1 - integral of (f2 + 0) ... = 1.1 - I + 0.11. */
    double hv1 = 1.1 - 1.0 / 3.0 + 0.11, hv2 = 1.1 - 2.0 / 3.0 + 0.11;
    double a = run_zdt(1, 1, 250, NULL), b = run_zdt(2, 1, 250, NULL);
    print_message("ZDT1 hv %.5f of %.5f (%.2f%%), ZDT2 hv %.5f of %.5f (%.2f%%)\n", a, hv1,
                  100 * (hv1 - a) / hv1, b, hv2, 100 * (hv2 - b) / hv2);
    assert_true(a >= 0.99 * hv1 && a <= hv1);
    assert_true(b >= 0.99 * hv2 && b <= hv2);
}

static void test_deterministic_and_json(void **state)
{
    axnn_nsga2 *a, *b;
    run_zdt(1, 5, 10, &a);
    run_zdt(1, 5, 10, &b);
    assert_memory_equal(a->x, b->x, 200 * 30 * sizeof(double));
    assert_memory_equal(a->f, b->f, 200 * 2 * sizeof(double));
    /* save after 10 generations, restore into a fresh state, continue 5: equals 15 straight */
    char *js = axnn_nsga2_to_json(a);
    assert_non_null(js);
    axnn_nsga2 *c;
    assert_int_equal(axnn_nsga2_create(&a->cfg, &c), AXNN_OK);
    assert_int_equal(axnn_nsga2_from_json(c, js, "state"), AXNN_OK);
    assert_int_equal(c->gen, 10);
    zdt z = {1, 30};
    for (int g = 0; g < 5; g++) {
        assert_int_equal(axnn_nsga2_step(c, zdt_eval, &z), AXNN_OK);
        assert_int_equal(axnn_nsga2_step(a, zdt_eval, &z), AXNN_OK);
    }
    assert_memory_equal(a->x, c->x, 200 * 30 * sizeof(double));
    assert_memory_equal(a->f, c->f, 200 * 2 * sizeof(double));
    assert_int_equal(axnn_nsga2_from_json(c, "{\"gen\": 1}", "bad"), AXNN_ERR_FORMAT);
    free(js);
    axnn_nsga2_free(a), axnn_nsga2_free(b), axnn_nsga2_free(c);
}

static void test_bad_config(void **state)
{
    double lo[1] = {0}, hi[1] = {1};
    axnn_nsga2_cfg c = {2, 1, 0, lo, hi, NULL, 2, 0.9, 20, 25, 0, 1};
    axnn_nsga2 *s;
    assert_int_equal(axnn_nsga2_create(&c, &s), AXNN_ERR_ARG);
    c.pop = 5;
    assert_int_equal(axnn_nsga2_create(&c, &s), AXNN_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nd_sort_hand),
        cmocka_unit_test(test_crowding_hand),
        cmocka_unit_test(test_operators_in_bounds),
        cmocka_unit_test(test_sbx_spread),
        cmocka_unit_test(test_hv2d),
        cmocka_unit_test(test_zdt),
        cmocka_unit_test(test_deterministic_and_json),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
