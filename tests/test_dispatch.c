/* Dispatcher math: labels from a hand-made correctness matrix, class weights, the penalty loss
 * against finite differences, the linear dispatcher learning a separable routing, system cost
 * and the baselines on a hand-made zoo, the zoo file round trip and corrupt files, and a search
 * stopped after some generations resuming to the same front as an uninterrupted one. */
#include "testutil.h"

#include "axnn/dispatch.h"
#include "axnn/models.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_labels(void **state)
{
    /* 3 models with costs 5, 1, 3 (cheapest is model 1). Rows: samples. */
    const uint8_t cor[] = {1, 1, 1, /* all: cheapest = 1 */
                           1, 0, 1, /* 0 and 2: 2 (cost 3) */
                           1, 0, 0, /* only 0 */
                           0, 0, 0, /* none */
                           0, 0, 1};
    const double cost[3] = {5, 1, 3};
    int32_t lab[5];
    axnn_dispatch_labels(cor, 5, 3, cost, AXNN_NONE_ACCURATE, lab);
    const int32_t want[5] = {1, 2, 0, 2, 2}; /* most accurate: model 2 and 0 tie on 3 hits? */
    /* hits: model 0: 3, model 1: 1, model 2: 3 -> tie broken by cost: model 2 */
    assert_memory_equal(lab, want, sizeof want);
    axnn_dispatch_labels(cor, 5, 3, cost, AXNN_NONE_CHEAPEST, lab);
    assert_int_equal(lab[3], 1);
    axnn_dispatch_labels(cor, 5, 3, cost, AXNN_NONE_DEAREST, lab);
    assert_int_equal(lab[3], 0);
}

static void test_class_weights(void **state)
{
    int32_t lab[10] = {0, 0, 0, 0, 1, 1, 1, 1, 1, 2}; /* counts 4, 5, 1; class 3 absent */
    double w[4];
    axnn_class_weights(lab, 10, 4, AXNN_WEIGHT_NONE, 0, w);
    assert_true(w[0] == 1 && w[1] == 1 && w[2] == 1 && w[3] == 0);
    axnn_class_weights(lab, 10, 4, AXNN_WEIGHT_INS, 0, w);
    double s = 1.0 / 4 + 1.0 / 5 + 1.0;
    assert_true(fabs(w[0] - 3 * 0.25 / s) < 1e-12 && fabs(w[2] - 3 * 1.0 / s) < 1e-12 && w[3] == 0);
    axnn_class_weights(lab, 10, 4, AXNN_WEIGHT_ISNS, 0, w);
    s = 0.5 + 1 / sqrt(5.0) + 1;
    assert_true(fabs(w[1] - 3 / sqrt(5.0) / s) < 1e-12);
    axnn_class_weights(lab, 10, 4, AXNN_WEIGHT_ENS, 0.9, w);
    double e0 = 0.1 / (1 - pow(0.9, 4)), e1 = 0.1 / (1 - pow(0.9, 5)), e2 = 0.1 / 0.1;
    s = e0 + e1 + e2;
    assert_true(fabs(w[0] - 3 * e0 / s) < 1e-12 && fabs(w[2] - 3 * e2 / s) < 1e-12);
}

static void test_loss_gradient(void **state)
{
    enum { N = 6, K = 4 };
    axnn_rng r;
    axnn_rng_seed(&r, 11);
    float z[N * K], dz[N * K];
    int32_t t[N] = {0, 1, 2, 3, 1, 0};
    double P[K * K], wc[K] = {0.5, 1.5, 1.0, 2.0};
    for (int i = 0; i < N * K; i++) z[i] = 3.0f * (2.0f * axnn_rng_uniform(&r) - 1.0f);
    z[5] = 12.0f; /* a confident wrong answer: p close to 1 */
    for (int i = 0; i < K * K; i++) P[i] = i % (K + 1) == 0 ? 0.0 : 100.0 * axnn_rng_uniform(&r);
    double L = axnn_penalty_loss(z, t, N, K, P, wc, dz);
    assert_true(isfinite(L) && L > 0);
    double worst = 0;
    for (int i = 0; i < N * K; i++) {
        float keep = z[i];
        double h = 1e-2;
        z[i] = (float)(keep + h);
        double lp = axnn_penalty_loss(z, t, N, K, P, wc, NULL);
        z[i] = (float)(keep - h);
        double lm = axnn_penalty_loss(z, t, N, K, P, wc, NULL);
        z[i] = keep;
        double num = (lp - lm) / (2 * h), err = fabs(num - dz[i]) / (1e-3 + fabs(num));
        worst = err > worst ? err : worst;
    }
    print_message("penalty loss: worst relative gradient error %.2e\n", worst);
    assert_true(worst < 1e-3);
    /* P = 0 and no weighting: plain cross-entropy */
    double Z[K * K] = {0};
    float one[K] = {1, 2, 3, 4};
    int32_t t0 = 2;
    double ce = log(exp(1.) + exp(2.) + exp(3.) + exp(4.)) - 3.0;
    assert_true(fabs(axnn_penalty_loss(one, &t0, 1, K, Z, NULL, NULL) - ce) < 1e-6);
}

/* A synthetic zoo: n samples with 2-D features; model 0 (cheap) is right when x0 < 0, model 1
 * (dear) always; model 2 (dearest) always too. */
static void make_zoo(axnn_zoo *z, int64_t n, uint64_t seed)
{
    int64_t ns[3] = {n, n / 2, n / 2};
    assert_int_equal(axnn_zoo_init(z, ns), AXNN_OK);
    snprintf(z->dataset, sizeof z->dataset, "synthetic");
    z->num_classes = 2;
    z->c = 1, z->h = z->w = 4;
    axnn_rng r;
    axnn_rng_seed(&r, seed);
    float *feat[3];
    int32_t *pred[3][3];
    float *conf[3][3];
    for (int s = 0; s < 3; s++) {
        int64_t m = ns[s];
        feat[s] = malloc((size_t)m * 2 * sizeof(float));
        for (int j = 0; j < 3; j++)
            pred[s][j] = malloc((size_t)m * sizeof(int32_t)),
            conf[s][j] = malloc((size_t)m * sizeof(float));
        for (int64_t i = 0; i < m; i++) {
            float x0 = 2 * axnn_rng_uniform(&r) - 1, x1 = 2 * axnn_rng_uniform(&r) - 1;
            int y = x1 > 0;
            z->split[s].label[i] = y;
            feat[s][2 * i] = x0;
            feat[s][2 * i + 1] = x1;
            pred[s][0][i] = x0 < 0 ? y : 1 - y;
            conf[s][0][i] = x0 < 0 ? 0.95f : 0.6f;
            pred[s][1][i] = y, conf[s][1][i] = 0.9f;
            pred[s][2][i] = y, conf[s][2][i] = 0.99f;
        }
    }
    const char *names[3] = {"small", "medium", "large"};
    const double macs[3] = {100, 400, 900};
    for (int j = 0; j < 3; j++) {
        axnn_zoo_model md = {.macs = macs[j], .params = 10 * (j + 1)};
        snprintf(md.name, sizeof md.name, "%s", names[j]);
        snprintf(md.arch, sizeof md.arch, "toy%d", j);
        const int32_t *p[3] = {pred[0][j], pred[1][j], pred[2][j]};
        const float *c[3] = {conf[0][j], conf[1][j], conf[2][j]};
        assert_int_equal(axnn_zoo_add(z, &md, p, c), AXNN_OK);
    }
    for (int s = 0; s < 3; s++) assert_int_equal(axnn_zoo_set_features(z, s, feat[s], 2), AXNN_OK);
    z->ext = 0;
    z->ext_macs = 90;
    for (int s = 0; s < 3; s++) {
        free(feat[s]);
        for (int j = 0; j < 3; j++) free(pred[s][j]), free(conf[s][j]);
    }
}

static void test_fc_learns_routing(void **state)
{
    axnn_zoo z;
    make_zoo(&z, 2000, 1);
    assert_true(fabs(z.models[0].accuracy[0] - 0.5) < 0.05);
    axnn_disp_genes g = {0};
    axnn_fc_cfg fc = {20, 64, 0.02f, 0.0f, 3};
    axnn_disp_point p, q;
    assert_int_equal(axnn_dispatch_fit(&z, &g, &fc, AXNN_NONE_ACCURATE, &p), AXNN_OK);
    /* The oracle sends x0 < 0 to model 0 (cost 90 + 6 + 10) and the rest to model 1 (96 + 400). */
    print_message("dispatcher: test acc %.4f, macs %.1f, shares %lld %lld %lld\n", p.acc[2],
                  p.macs[2], (long long)p.share[2][0], (long long)p.share[2][1],
                  (long long)p.share[2][2]);
    assert_true(p.acc[AXNN_SPLIT_TEST] > 0.97);
    assert_true(p.macs[AXNN_SPLIT_TEST] < 0.6 * 496 + 0.4 * 106 + 10);
    assert_int_equal(p.share[2][2], 0);
    assert_int_equal(axnn_dispatch_fit(&z, &g, &fc, AXNN_NONE_ACCURATE, &q), AXNN_OK);
    assert_memory_equal(&p, &q, sizeof p); /* deterministic */
    axnn_zoo_free(&z);
}

static void test_costs_and_baselines(void **state)
{
    axnn_zoo z;
    make_zoo(&z, 400, 2);
    double dm = axnn_dispatcher_macs(&z);
    assert_true(dm == 6);
    assert_true(axnn_dispatch_cost(&z, dm, 0) == 90 + 6 + 10);
    assert_true(axnn_dispatch_cost(&z, dm, 2) == 90 + 6 + 900);
    double acc, macs;
    axnn_oracle(&z, 2, &acc, &macs);
    assert_true(acc == 1.0);
    int64_t n0 = 0;
    for (int64_t i = 0; i < z.split[2].n; i++) n0 += z.split[2].correct[i * 3];
    assert_true(fabs(macs - (n0 * 100.0 + (z.split[2].n - n0) * 400.0) / z.split[2].n) < 1e-9);
    /* cascade at 0.85: model 0 answers when x0 < 0 (conf .95, right), else model 1 (conf .9) */
    axnn_cascade(&z, 2, 0.85, &acc, &macs);
    assert_true(acc == 1.0);
    assert_true(fabs(macs - (n0 * 100.0 + (z.split[2].n - n0) * 500.0) / z.split[2].n) < 1e-9);
    axnn_cascade(&z, 2, 0.999, &acc, &macs); /* nothing passes: all three run */
    assert_true(macs == 1400 && acc == 1.0);
    axnn_cascade(&z, 2, 0.0, &acc, &macs);
    assert_true(macs == 100 && acc == z.models[0].accuracy[2]);
    double a0 = z.models[0].accuracy[2], a1 = z.models[1].accuracy[2];
    assert_true(fabs(axnn_random_at_cost(&z, 2, 250) - (0.5 * a0 + 0.5 * a1)) < 1e-12);
    assert_true(axnn_random_at_cost(&z, 2, 50) == a0);
    /* routes: everything to one model gives that model's accuracy and cost */
    int32_t *route = calloc((size_t)z.split[2].n, sizeof *route);
    int64_t share[AXNN_ZOO_MAX];
    for (int j = 0; j < 3; j++) {
        for (int64_t i = 0; i < z.split[2].n; i++) route[i] = j;
        axnn_dispatch_eval(&z, 2, route, dm, &acc, &macs, share);
        assert_true(acc == z.models[j].accuracy[2]);
        assert_true(macs == axnn_dispatch_cost(&z, dm, j));
        assert_int_equal(share[j], z.split[2].n);
    }
    free(route);
    axnn_zoo_free(&z);
}

static void test_zoo_file(void **state)
{
    axnn_zoo z, y;
    make_zoo(&z, 100, 4);
    snprintf(z.config, sizeof z.config, "{\"k\": 1}");
    char *dir = tu_tmpdir(), path[512], bad[512];
    snprintf(path, sizeof path, "%s/zoo.safetensors", dir);
    assert_int_equal(axnn_zoo_save(&z, path), AXNN_OK);
    assert_int_equal(axnn_zoo_load(path, &y), AXNN_OK);
    assert_int_equal(y.m, 3);
    assert_int_equal(y.d, 2);
    assert_int_equal(y.ext, 0);
    assert_string_equal(y.models[2].name, "large");
    for (int s = 0; s < 3; s++) {
        assert_int_equal(y.split[s].n, z.split[s].n);
        assert_memory_equal(y.split[s].pred, z.split[s].pred, (size_t)z.split[s].n * 3 * 4);
        assert_memory_equal(y.split[s].conf, z.split[s].conf, (size_t)z.split[s].n * 3 * 4);
        assert_memory_equal(y.split[s].feat, z.split[s].feat, (size_t)z.split[s].n * 2 * 4);
    }
    axnn_zoo_free(&y);
    /* sorting by cost keeps columns together */
    z.models[0].macs = 1000;
    axnn_zoo_sort(&z);
    assert_string_equal(z.models[2].name, "small");
    assert_int_equal(z.ext, 2);
    assert_int_equal(z.split[0].correct[2], z.split[0].pred[2] == z.split[0].label[0]);
    /* corrupt files: truncated, and a flipped prediction that disagrees with "correct" */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    tu_write_file(bad, buf, (size_t)n - 100);
    assert_int_not_equal(axnn_zoo_load(bad, &y), AXNN_OK);
    tu_write_file(bad, "garbage", 7);
    assert_int_not_equal(axnn_zoo_load(bad, &y), AXNN_OK);
    free(buf);
    axnn_zoo_free(&z);
    tu_rmtree(dir);
    free(dir);
}

static void run_search(const axnn_zoo *z, const char *state, int gens, axnn_search_result *r)
{
    axnn_search_cfg c = {.pop = 8,
                         .gens = gens,
                         .fc = {3, 64, 0.02f, 0, 1},
                         .threads = 2,
                         .seed = 9,
                         .state_path = state};
    assert_int_equal(axnn_dispatch_search(z, &c, NULL, r), AXNN_OK);
}

static void test_search_resume(void **state)
{
    axnn_zoo z;
    make_zoo(&z, 600, 5);
    char *dir = tu_tmpdir(), a[512], b[512];
    snprintf(a, sizeof a, "%s/a.json", dir);
    snprintf(b, sizeof b, "%s/b.json", dir);
    axnn_search_result full, part, resumed;
    run_search(&z, a, 4, &full);
    run_search(&z, b, 2, &part); /* as if killed after generation 2 */
    axnn_search_result_free(&part);
    run_search(&z, b, 4, &resumed);
    assert_int_equal(resumed.gens_done, 4);
    assert_int_equal(resumed.nhv, 5);
    assert_memory_equal(full.hv, resumed.hv, 5 * sizeof(double));
    assert_int_equal(full.nfront, resumed.nfront);
    assert_memory_equal(full.front, resumed.front, (size_t)full.nfront * sizeof *full.front);
    /* Crowding truncation may drop a point of the first front, so the hypervolume need not grow
     * every generation; over the search it does. */
    assert_true(full.hv[4] >= full.hv[0]);
    print_message("search: front %d points, hv %.4f -> %.4f\n", full.nfront, full.hv[0],
                  full.hv[4]);
    /* other settings refuse the saved state; a smaller --gens than saved too */
    axnn_search_cfg c = {
        .pop = 10, .gens = 4, .fc = {3, 64, 0.02f, 0, 1}, .threads = 1, .seed = 9, .state_path = b};
    assert_int_equal(axnn_dispatch_search(&z, &c, NULL, &part), AXNN_ERR_ARG);
    c.pop = 8;
    c.gens = 1;
    assert_int_equal(axnn_dispatch_search(&z, &c, NULL, &part), AXNN_ERR_ARG);
    c.pop = 3;
    assert_int_equal(axnn_dispatch_search(&z, &c, NULL, &part), AXNN_ERR_ARG);
    axnn_search_result_free(&full);
    axnn_search_result_free(&resumed);
    axnn_zoo_free(&z);
    tu_rmtree(dir);
    free(dir);
}

/* The zoo's small ResNets: depth 6n + 2 with n = 1 and 2, chenyaofo's state-dict names. */
static void test_small_resnets(void **state)
{
    axnn_model_cfg mc = {1, 32, 32, 10, 0, 1};
    const char *names[3] = {"resnet8", "resnet14", "resnet20"};
    const int blocks[3] = {1, 2, 3};
    int64_t prev = 0;
    for (int i = 0; i < 3; i++) {
        axnn_graph *g;
        assert_int_equal(axnn_model_build(names[i], &mc, &g), AXNN_OK);
        char key[64];
        for (int s = 1; s <= 3; s++) {
            snprintf(key, sizeof key, "layer%d.%d.conv2.weight", s, blocks[i] - 1);
            assert_true(axnn_graph_find_value(g, key) >= 0);
            snprintf(key, sizeof key, "layer%d.%d.conv1.weight", s, blocks[i]);
            assert_true(axnn_graph_find_value(g, key) < 0);
        }
        assert_true(axnn_graph_find_value(g, "layer2.0.downsample.0.weight") >= 0);
        assert_true(axnn_graph_macs(g) > prev);
        prev = axnn_graph_macs(g);
        axnn_graph_free(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_class_weights),
        cmocka_unit_test(test_loss_gradient),
        cmocka_unit_test(test_fc_learns_routing),
        cmocka_unit_test(test_costs_and_baselines),
        cmocka_unit_test(test_zoo_file),
        cmocka_unit_test(test_search_resume), cmocka_unit_test(test_small_resnets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
