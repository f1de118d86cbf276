/* Mixture-of-Experts: routing against a hand computation (top-1 and soft weights), k-means on a
 * toy set, P_norm and MAC accounting on a hand-computed configuration, gradient flow of every
 * topology (finite differences), the table-derived gradient's factorization, and retraining
 * that recovers accuracy under an aggressive multiplier on a tiny problem. */
#include "testutil.h"

#include "axnn/moe.h"
#include "axnn/quant.h"
#include "quant/grad_table.h"
#include "study/study_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- routing ---- */

static void set(axnn_graph *g, const char *name, const float *v)
{
    int id = axnn_graph_find_value(g, name);
    assert_true(id >= 0);
    memcpy(g->vals[id].data, v, (size_t)axnn_shape_numel(&g->vals[id].shape) * sizeof(float));
}

/* x (4, 2, 1, 1) -> gate (3 experts) -> expert e = 1x1 conv with weights (e + 1) * I. */
static axnn_graph *routing_graph(bool soft, int *out)
{
    axnn_graph *g = axnn_graph_new();
    int x = axnn_input(g, 2, 1, 1);
    int p = axnn_moe_gate(g, "gate", x, 3, 0.0f, NULL);
    int ys[3];
    for (int e = 0; e < 3; e++) {
        char n[32];
        int xe = x, rows_of = -1;
        if (!soft) {
            snprintf(n, sizeof n, "dispatch.%d", e);
            xe = axnn_moe_dispatch(g, n, x, p, e);
            rows_of = xe;
        }
        snprintf(n, sizeof n, "expert.%d", e);
        ys[e] = axnn_conv2d(g, n, xe, 2, 1, 1, 0, false);
        g->nodes[g->nnodes - 1].rows_of = rows_of;
        float w[4] = {(float)(e + 1), 0, 0, (float)(e + 1)};
        snprintf(n, sizeof n, "expert.%d.weight", e);
        set(g, n, w);
    }
    *out = axnn_moe_combine(g, "combine", p, ys, 3, soft);
    assert_true(*out >= 0);
    const float W[6] = {1, 0, 0, 1, -1, -1}, b[3] = {0, 0, 0.5f};
    set(g, "gate.weight", W);
    set(g, "gate.bias", b);
    return g;
}

static void test_routing(void **state)
{
    const float x[8] = {2, 1, 0.5f, 3, -1, -2, 0.2f, -0.5f};
    for (int soft = 0; soft <= 1; soft++) {
        int out;
        axnn_graph *g = routing_graph(soft, &out);
        axnn_pool *pool = axnn_pool_create(2, NULL);
        axnn_plan *pl = axnn_plan_new(g, 4, 2, false);
        assert_non_null(pl);
        assert_int_equal(axnn_plan_forward(pl, pool, x, NULL, 4), AXNN_OK);
        const float *y = axnn_plan_data(pl, out);
        int counts[3] = {0};
        for (int i = 0; i < 4; i++) {
            /* by hand: z = (x0, x1, -x0 - x1 + 0.5), p = softmax(z) */
            double z[3] = {x[2 * i], x[2 * i + 1], -x[2 * i] - x[2 * i + 1] + 0.5}, m = fmax(z[0], fmax(z[1], z[2]));
            double s = exp(z[0] - m) + exp(z[1] - m) + exp(z[2] - m), p[3];
            int top = 0;
            for (int e = 0; e < 3; e++) {
                p[e] = exp(z[e] - m) / s;
                if (p[e] > p[top]) top = e;
            }
            counts[top]++;
            for (int c = 0; c < 2; c++) {
                double want = 0.0;
                for (int e = 0; e < 3; e++) want += soft ? p[e] * (e + 1) * x[2 * i + c] : (e == top) * (e + 1) * x[2 * i + c];
                if (fabs(y[2 * i + c] - want) > 1e-5) fail_msg("soft %d image %d channel %d: %g, by hand %g", soft, i, c, y[2 * i + c], want);
            }
        }
        /* image 0 -> expert 0, 1 -> 1, 2 -> 2, 3 -> 2 */
        assert_int_equal(counts[0], 1);
        assert_int_equal(counts[1], 1);
        assert_int_equal(counts[2], 2);
        double share[3];
        assert_int_equal(axnn_moe_loads(pl, 0, share), 3);
        assert_true(fabs(share[2] - 0.5) < 1e-12);
        if (!soft) {
            int d2 = -1;
            for (int k = 0; k < g->nnodes; k++)
                if (!strcmp(g->nodes[k].name, "dispatch.2")) d2 = k;
            assert_int_equal(axnn_plan_rows(pl, g->nodes[d2].out), 2);
        }
        axnn_pool_destroy(pool);
        axnn_plan_free(pl);
        axnn_graph_free(g);
    }
}

/* ---- k-means ---- */

static void test_kmeans(void **state)
{
    enum { N = 300, D = 2 };
    float x[N * D], c[3 * D], c2[3 * D];
    int as[N];
    const float centers[3][2] = {{0, 0}, {10, 0}, {0, 10}};
    axnn_rng r;
    axnn_rng_seed(&r, 5);
    for (int i = 0; i < N; i++)
        for (int d = 0; d < D; d++) x[i * D + d] = centers[i % 3][d] + 0.5f * axnn_rng_normal(&r);
    double inertia;
    assert_int_equal(axnn_kmeans(x, N, D, 3, 100, 7, c, as, &inertia), AXNN_OK);
    for (int k = 0; k < 3; k++) { /* every true center has a centroid within 0.3 */
        double best = 1e9;
        for (int j = 0; j < 3; j++)
            best = fmin(best, hypot(c[j * D] - centers[k][0], c[j * D + 1] - centers[k][1]));
        assert_true(best < 0.3);
    }
    for (int i = 3; i < N; i++) assert_int_equal(as[i], as[i % 3]); /* pure clusters */
    assert_true(inertia < N * 2 * 0.25 * 1.5);
    assert_int_equal(axnn_kmeans(x, N, D, 3, 100, 7, c2, NULL, NULL), AXNN_OK);
    assert_memory_equal(c, c2, sizeof c); /* deterministic */
    assert_int_equal(axnn_kmeans_nearest(c, 3, D, x), as[0]);
    assert_int_not_equal(axnn_kmeans(x, 2, D, 3, 100, 7, c, NULL, NULL), AXNN_OK);
}

/* ---- a tiny ResNet-like dense model: stem, block "layer1.0", fc ---- */

static axnn_graph *tiny_dense(int cin, int hw, int ch, int classes, uint64_t seed)
{
    axnn_graph *g = axnn_graph_new();
    int x = axnn_input(g, cin, hw, hw);
    int y = axnn_relu(g, axnn_batchnorm2d(g, "bn1", axnn_conv2d(g, "conv1", x, ch, 3, 1, 1, false)));
    int b = axnn_relu(g, axnn_batchnorm2d(g, "layer1.0.bn1", axnn_conv2d(g, "layer1.0.conv1", y, ch, 3, 1, 1, false)));
    b = axnn_batchnorm2d(g, "layer1.0.bn2", axnn_conv2d(g, "layer1.0.conv2", b, ch, 3, 1, 1, false));
    y = axnn_relu(g, axnn_add(g, b, y));
    y = axnn_linear(g, "fc", axnn_flatten(g, axnn_global_avgpool(g, y)), classes, true);
    assert_true(axnn_softmax_ce(g, y, axnn_labels(g), 0.0f) >= 0);
    snprintf(g->info.arch, sizeof g->info.arch, "tiny");
    g->info = (axnn_model_info){"tiny", cin, hw, hw, classes};
    axnn_rng r;
    axnn_rng_seed(&r, seed);
    for (int i = 0; i < g->nvals; i++) {
        axnn_value *v = &g->vals[i];
        if (v->kind == AXNN_VAL_PARAM && v->shape.nd >= 2) tu_fill_uniform(v->data, axnn_shape_numel(&v->shape), -0.4f, 0.4f, &r);
    }
    return g;
}

static float loss_at(axnn_plan *p, axnn_pool *pool, const float *x, const int32_t *y, int n)
{
    assert_int_equal(axnn_plan_forward(p, pool, x, y, n), AXNN_OK);
    return axnn_plan_loss(p);
}

/* Compares the gradient of `count` elements of parameter `name` with central differences. */
static void check_param(axnn_plan *p, axnn_pool *pool, const float *x, const int32_t *y, int n, const char *name,
                        int count)
{
    axnn_graph *g = axnn_plan_graph(p);
    int id = axnn_graph_find_value(g, name);
    assert_true(id >= 0);
    axnn_value *v = &g->vals[id];
    assert_non_null(axnn_plan_grad(p, id));
    axnn_plan_zero_param_grads(p);
    loss_at(p, pool, x, y, n);
    assert_int_equal(axnn_plan_backward(p, pool), AXNN_OK);
    int64_t numel = axnn_shape_numel(&v->shape);
    float *analytic = malloc((size_t)numel * sizeof(float));
    memcpy(analytic, axnn_plan_grad(p, id), (size_t)numel * sizeof(float));
    float *w = v->data;
    double maxg = 0.0;
    for (int64_t i = 0; i < numel; i++) maxg = fmax(maxg, fabs(analytic[i]));
    if (!(maxg > 0.0)) fail_msg("%s: no gradient reaches it", name);
    bool *used = calloc((size_t)numel, sizeof *used);
    for (int k = 0; k < count && k < numel; k++) { /* the largest elements: most signal over float noise */
        int64_t i = -1;
        for (int64_t j = 0; j < numel; j++)
            if (!used[j] && (i < 0 || fabs(analytic[j]) > fabs(analytic[i]))) i = j;
        used[i] = true;
        const float h = 2e-3f, w0 = w[i];
        w[i] = w0 + h;
        double lp = loss_at(p, pool, x, y, n);
        w[i] = w0 - h;
        double lm = loss_at(p, pool, x, y, n);
        w[i] = w0;
        double fd = (lp - lm) / (2.0 * h);
        if (fabs(fd - analytic[i]) > 0.1 * fmax(fabs(fd), fabs(analytic[i])) + 3e-4)
            fail_msg("%s %s[%lld]: backward %g, finite differences %g", g->info.arch, name, (long long)i, analytic[i], fd);
    }
    free(used);
    free(analytic);
}

static void batch_of(int n, int cin, int hw, int classes, float *x, int32_t *y, uint64_t seed)
{
    axnn_rng r;
    axnn_rng_seed(&r, seed);
    tu_fill_uniform(x, (int64_t)n * cin * hw * hw, -1.0f, 1.0f, &r);
    for (int i = 0; i < n; i++) y[i] = i % classes;
}

static void test_gradient_flow(void **state)
{
    enum { N = 16, C = 2, HW = 6, CH = 4, K = 3 };
    float x[N * C * HW * HW];
    int32_t y[N];
    axnn_dataset d = {0};
    assert_int_equal(axnn_dataset_alloc(&d, "toy", 64, C, HW, HW, K), AXNN_OK);
    axnn_rng r;
    axnn_rng_seed(&r, 9);
    for (int64_t i = 0; i < 64 * C * HW * HW; i++) d.images[i] = (uint8_t)axnn_rng_below(&r, 256);
    for (int i = 0; i < N * C * HW * HW; i++) x[i] = (d.images[i] / 255.0f - 0.5f) / 0.3f; /* as the loader does */
    for (int i = 0; i < N; i++) y[i] = i % K;
    axnn_preproc pp = {.out_h = HW, .out_w = HW, .mean = {0.5f, 0.5f}, .std = {0.3f, 0.3f}};
    axnn_pool *pool = axnn_pool_create(2, NULL);
    axnn_graph *dense = tiny_dense(C, HW, CH, K, 3);
    for (int kind = AXNN_MOE_DENSE; kind <= AXNN_MOE_CLUSTER; kind++) {
        axnn_moe_cfg mc;
        axnn_moe_cfg_defaults(&mc);
        mc.kind = (axnn_moe_kind)kind;
        mc.experts = 3;
        mc.units = "layer1.0";
        mc.gateway = "layer1.0";
        mc.aux_weight = 0.0f; /* the check compares with the task loss alone */
        mc.noise = 0.05f;
        axnn_graph *g = NULL;
        assert_int_equal(axnn_moe_build(dense, &mc, &g), AXNN_OK);
        if (kind == AXNN_MOE_CLUSTER) {
            assert_int_equal(axnn_moe_cluster_fit(g, pool, &d, &pp, 64, 1), AXNN_OK);
        } else if (kind != AXNN_MOE_DENSE) { /* balanced, decisive routing (finite differences do not flip it) */
            assert_int_equal(axnn_moe_init_gates(g, pool, &d, &pp, 64, 1), AXNN_OK);
            for (int i = 0; i < g->nvals; i++)
                if (strstr(g->vals[i].name, ".gate."))
                    for (int64_t j = 0; j < axnn_shape_numel(&g->vals[i].shape); j++) ((float *)g->vals[i].data)[j] *= 4.0f;
        }
        axnn_plan *pl = axnn_plan_new(g, N, 2, true);
        assert_non_null(pl);
        const char *expert = kind == AXNN_MOE_CLUSTER ? "experts.1.layer1.0.conv2.weight"
                             : kind == AXNN_MOE_DENSE ? "layer1.0.conv2.weight"
                                                      : "layer1.0.conv2.experts.1.weight";
        check_param(pl, pool, x, y, N, expert, 6);
        /* upstream of a hard gate the gradient includes the gate's Switch-style surrogate (the
         * forward value does not depend on p), which finite differences cannot see */
        if (kind != AXNN_MOE_HARD)
            check_param(pl, pool, x, y, N, kind == AXNN_MOE_CLUSTER ? "experts.0.conv1.weight" : "conv1.weight", 6);
        else
            check_param(pl, pool, x, y, N, "layer1.0.bn1.experts.2.weight", 4);
        if (kind == AXNN_MOE_SOFT) check_param(pl, pool, x, y, N, "layer1.0.gate.weight", 6);
        if (kind == AXNN_MOE_HARD) { /* the gate learns through the combine (Switch-style) */
            axnn_plan_zero_param_grads(pl);
            loss_at(pl, pool, x, y, N);
            axnn_plan_backward(pl, pool);
            const float *gw = axnn_plan_grad(pl, axnn_graph_find_value(g, "layer1.0.gate.weight"));
            assert_non_null(gw);
            double s = 0;
            for (int i = 0; i < 3 * CH; i++) s += fabs(gw[i]);
            assert_true(s > 0);
        }
        if (kind == AXNN_MOE_CLUSTER) assert_null(axnn_plan_grad(pl, axnn_graph_find_value(g, "gateway.conv1.weight")));
        axnn_plan_free(pl);
        axnn_graph_free(g);
    }
    axnn_graph_free(dense);
    axnn_pool_destroy(pool);
    axnn_dataset_free(&d);
}

/* ---- P_norm and MAC accounting ---- */

static void test_pnorm(void **state)
{
    assert_true(fabs(axnn_moe_pnorm(2e6, 4e6, 0.5, 0.2, 0.4) - 0.375) < 1e-12);
    assert_true(fabs(axnn_moe_pnorm(4e6, 4e6, 0.0, 0.1, 0.4) - 1.0) < 1e-12);
    enum { N = 8, C = 2, HW = 4, CH = 4, K = 3 };
    axnn_graph *dense = tiny_dense(C, HW, CH, K, 5);
    axnn_moe_cfg mc;
    axnn_moe_cfg_defaults(&mc);
    mc.experts = 2;
    mc.units = "layer1.0";
    axnn_graph *g;
    assert_int_equal(axnn_moe_build(dense, &mc, &g), AXNN_OK);
    /* routing by hand: gate weight 0, bias (0, 1) -> every image to expert 1 */
    const float zero[2 * CH] = {0}, bias[2] = {0, 1};
    set(g, "layer1.0.gate.weight", zero);
    set(g, "layer1.0.gate.bias", bias);
    axnn_quant_cfg qc = {.mul = "trunc:8"};
    assert_int_equal(axnn_quant_attach(g, &qc), AXNN_OK);
    for (int k = 0; k < g->nnodes; k++) {
        axnn_qnode_info qi;
        if (axnn_quant_node_info(g, k, &qi)) axnn_quant_set_input_scale(g, k, 0.05f);
    }
    axnn_pool *pool = axnn_pool_create(1, NULL);
    float x[N * C * HW * HW];
    int32_t y[N];
    batch_of(N, C, HW, K, x, y, 2);
    axnn_plan *pl = axnn_plan_new(g, N, 1, false);
    assert_non_null(pl);
    axnn_moe_reset_stats(pl);
    assert_int_equal(axnn_plan_forward(pl, pool, x, NULL, N), AXNN_OK);
    /* by hand: a 3x3 conv CH->CH on HWxHW is 9*CH*CH*HW*HW MACs; stem C->CH; fc CH*K; gate CH*2 */
    const double conv = 9.0 * CH * CH * HW * HW, stem = 9.0 * C * CH * HW * HW, fc = CH * K, gate = CH * 2;
    const double base = stem + 2 * conv + fc, eff = stem + 2 * conv + fc + gate;
    axnn_moe_cost cost;
    axnn_moe_cost_of(g, pl, &cost);
    assert_true(fabs(cost.static_macs - (stem + 4 * conv + fc + gate)) < 1e-6);
    assert_true(fabs(cost.eff_macs - eff) < 1e-6);
    assert_true(fabs(cost.f_apx - (base / eff)) < 1e-9); /* everything but the gate is approximate */
    assert_true(fabs((double)axnn_graph_macs(dense) - base) < 1e-6);
    axnn_mul *m, *ex;
    assert_int_equal(axnn_mul_get("trunc:8", &m), AXNN_OK);
    assert_int_equal(axnn_mul_get("exact", &ex), AXNN_OK);
    double want = eff / base * (base / eff * m->power_mw / ex->power_mw + gate / eff);
    assert_true(fabs(axnn_moe_pnorm(cost.eff_macs, base, cost.f_apx, m->power_mw, ex->power_mw) - want) < 1e-12);
    axnn_mul_free(m);
    axnn_mul_free(ex);
    axnn_pool_destroy(pool);
    axnn_plan_free(pl);
    axnn_graph_free(g);
    axnn_graph_free(dense);
}

/* ---- table-derived gradient ---- */

static void test_table_gradient_factors(void **state)
{
    axnn_mul *m;
    assert_int_equal(axnn_mul_get("exact", &m), AXNN_OK);
    const axnn_tgrad *t = axnn_tgrad_get(m->table);
    assert_non_null(t);
    assert_int_equal(t->ra, 0); /* the exact product's slopes are the straight-through ones */
    assert_int_equal(t->rb, 0);
    axnn_mul_free(m);
    assert_int_equal(axnn_mul_get("trunc:8", &m), AXNN_OK);
    t = axnn_tgrad_get(m->table);
    assert_true(t->ra >= 1 && t->energy_a > 0.5);
    /* the factored slope along a, at an interior point, against the table's central difference */
    double worst = 0, scale = 0;
    for (int a = -100; a <= 100; a += 10)
        for (int b = -100; b <= 100; b += 10) {
            double s = (axnn_mul_at(m, a + 1, b) - axnn_mul_at(m, a - 1, b)) / 2.0 - b, f = 0;
            for (int i = 0; i < t->ra; i++) f += t->ua[i][a + 128] * t->va[i][b + 128];
            worst = fmax(worst, fabs(s - f));
            scale = fmax(scale, fabs(s));
        }
    assert_true(worst < 0.6 * scale + 1.0);
    axnn_mul_free(m);
}

/* ---- retraining recovers accuracy under an aggressive multiplier ---- */

/* 8x8 images, 4 classes: class k has a bright horizontal bar at rows 2k, 2k+1, plus noise. */
static void bars(axnn_dataset *d, int n, uint64_t seed)
{
    assert_int_equal(axnn_dataset_alloc(d, "bars", n, 1, 8, 8, 4), AXNN_OK);
    axnn_rng r;
    axnn_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        int k = i % 4;
        d->labels[i] = k;
        for (int p = 0; p < 64; p++)
            d->images[(int64_t)i * 64 + p] = (uint8_t)(p / 8 / 2 == k ? 150 + axnn_rng_below(&r, 100) : axnn_rng_below(&r, 110));
    }
}

static double accuracy(axnn_graph *g, axnn_pool *pool, const axnn_dataset *d, const axnn_preproc *pp)
{
    axnn_eval_result r;
    assert_int_equal(axnn_evaluate(g, pool, d, pp, 64, NULL, &r), AXNN_OK);
    return r.accuracy;
}

/* study_finetune on a training plan of g for batches of t->batch (freed afterwards). */
static axnn_status finetune(axnn_graph *g, axnn_pool *pool, const axnn_dataset *tr, const axnn_preproc *pp,
                            const study_train *t, study_progress *sp)
{
    axnn_plan *p = axnn_plan_new(g, t->batch, axnn_pool_size(pool), true);
    assert_non_null(p);
    axnn_status st = study_finetune(p, pool, tr, pp, t, sp);
    axnn_plan_free(p);
    return st;
}

static void test_retraining_recovers(void **state)
{
    axnn_dataset tr, te;
    bars(&tr, 512, 1);
    bars(&te, 256, 2);
    axnn_preproc pp = {.out_h = 8, .out_w = 8, .mean = {0.3f}, .std = {0.3f}};
    axnn_pool *pool = axnn_pool_create(2, NULL);
    axnn_graph *g = tiny_dense(1, 8, 8, 4, 7);
    study_progress sp = {0};
    study_train t = {4, 0, 32, 0.05f, 5e-4f, 0.9f, 1, 1.0, 0};
    assert_int_equal(finetune(g, pool, &tr, &pp, &t, &sp), AXNN_OK);
    double f32 = accuracy(g, pool, &te, &pp);
    assert_true(f32 > 0.9);
    axnn_quant_cfg qc = {.mul = "bam:6,8"};
    assert_int_equal(axnn_quant_attach(g, &qc), AXNN_OK);
    assert_int_equal(axnn_quant_calibrate(g, pool, &tr, &pp, 128, AXNN_CALIB_MAX, 99.99f), AXNN_OK);
    double before = accuracy(g, pool, &te, &pp);
    t = (study_train){2, 0, 32, 0.01f, 5e-4f, 0.9f, 2, 1.0, 256};
    assert_int_equal(finetune(g, pool, &tr, &pp, &t, &sp), AXNN_OK);
    double after = accuracy(g, pool, &te, &pp);
    print_message("float %.3f, bam:6,8 before retraining %.3f, after %.3f\n", f32, before, after);
    assert_true(before < f32 - 0.1); /* the multiplier hurts */
    assert_true(after > before + 0.1);
    axnn_graph_free(g);
    axnn_pool_destroy(pool);
    axnn_dataset_free(&tr);
    axnn_dataset_free(&te);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),       cmocka_unit_test(test_kmeans),
        cmocka_unit_test(test_gradient_flow), cmocka_unit_test(test_pnorm),
        cmocka_unit_test(test_table_gradient_factors), cmocka_unit_test(test_retraining_recovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
