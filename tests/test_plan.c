/* Plans and cuts: several plans over one graph, run at once from two threads with their own
 * pools, give the logits of one plan alone, bit for bit (float and int8); ResNet-20 cut at two
 * of its cut points and run as prefix, middle and suffix gives the whole graph's logits bit for
 * bit; subgraphs share the weights; a training plan beside an eval plan leaves the eval
 * results alone. */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { B = 8, REPS = 6 };

typedef struct fixture {
    axnn_graph *g;
    float *x;
    int classes;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    axnn_model_cfg mc = {3, 32, 32, 10, 0.0f, 7};
    if (axnn_model_build("resnet20", &mc, &f->g)) fail_msg("%s", axnn_last_error());
    f->classes = 10;
    f->x = malloc((size_t)B * 3 * 32 * 32 * sizeof(float));
    axnn_rng r;
    axnn_rng_seed(&r, 11);
    tu_fill_uniform(f->x, (int64_t)B * 3 * 32 * 32, -2.0f, 2.0f, &r);
    /* BatchNorm statistics other than 0 / 1, so that folding them matters */
    for (int i = 0; i < f->g->nvals; i++) {
        axnn_value *v = &f->g->vals[i];
        if (v->kind != AXNN_VAL_BUFFER || v->dtype != AXNN_F32) continue;
        float *d = v->data;
        bool var = strstr(v->name, "running_var") != NULL;
        for (int64_t k = 0; k < axnn_shape_numel(&v->shape); k++)
            d[k] = var ? 0.5f + axnn_rng_uniform(&r) : 0.2f * (axnn_rng_uniform(&r) - 0.5f);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    axnn_graph_free(f->g);
    free(f->x);
    free(f);
    return 0;
}

/* Logits of x on a fresh eval plan of g (1 thread). */
static float *logits_of(axnn_graph *g, const float *x, int n, int classes)
{
    axnn_pool *pool = axnn_pool_create(1, NULL);
    axnn_plan *p = axnn_plan_new(g, n, 1, false);
    assert_non_null(p);
    assert_int_equal(axnn_plan_forward(p, pool, x, NULL, n), AXNN_OK);
    float *z = malloc((size_t)n * classes * sizeof(float));
    memcpy(z, axnn_plan_logits(p), (size_t)n * classes * sizeof(float));
    axnn_plan_free(p);
    axnn_pool_destroy(pool);
    return z;
}

typedef struct worker {
    axnn_plan *plan;
    axnn_pool *pool;
    const float *x, *want;
    int classes, mismatches;
    axnn_status st;
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    for (int r = 0; r < REPS && !w->st; r++) {
        w->st = axnn_plan_forward(w->plan, w->pool, w->x, NULL, B);
        if (!w->st && memcmp(axnn_plan_logits(w->plan), w->want, (size_t)B * w->classes * sizeof(float)))
            w->mismatches++;
    }
    return NULL;
}

/* Two plans of one graph, each with its own pool, run at once from two threads. */
static void two_plans_at_once(fixture *f)
{
    float *want = logits_of(f->g, f->x, B, f->classes);
    worker w[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        w[i] = (worker){axnn_plan_new(f->g, B, 1, false), axnn_pool_create(1, NULL), f->x, want, f->classes, 0, AXNN_OK};
        assert_non_null(w[i].plan);
        assert_int_equal(axnn_plan_forward(w[i].plan, w[i].pool, f->x, NULL, B), AXNN_OK); /* warm (kernel choice) */
    }
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, run_worker, &w[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(w[i].st, AXNN_OK);
        assert_int_equal(w[i].mismatches, 0);
        axnn_plan_free(w[i].plan);
        axnn_pool_destroy(w[i].pool);
    }
    free(want);
}

static void test_two_plans_float(void **state) { two_plans_at_once(*state); }

static void test_two_plans_int8(void **state)
{
    fixture *f = *state;
    axnn_quant_cfg qc = {.mul = "mitchell"};
    assert_int_equal(axnn_quant_attach(f->g, &qc), AXNN_OK);
    axnn_pool *pool = axnn_pool_create(1, NULL);
    assert_int_equal(axnn_quant_calibrate_data(f->g, pool, f->x, B, AXNN_CALIB_MAX, 100.0f), AXNN_OK);
    axnn_pool_destroy(pool);
    two_plans_at_once(f);
    axnn_quant_detach(f->g);
}

/* A training plan beside an eval plan: each has its own memory (a training step leaves the eval
 * plan's results where they were), both read the same weights and buffers (after the step the
 * eval plan computes what a fresh plan computes on the updated BatchNorm statistics). */
static void test_train_beside_eval(void **state)
{
    fixture *f = *state;
    axnn_pool *pool = axnn_pool_create(2, NULL);
    axnn_plan *ev = axnn_plan_new(f->g, B, 2, false), *tr = axnn_plan_new(f->g, B, 2, true);
    assert_non_null(ev);
    assert_non_null(tr);
    float *before = logits_of(f->g, f->x, B, f->classes);
    assert_int_equal(axnn_plan_forward(ev, pool, f->x, NULL, B), AXNN_OK);
    assert_memory_equal(axnn_plan_logits(ev), before, (size_t)B * f->classes * sizeof(float));
    int32_t y[B];
    for (int i = 0; i < B; i++) y[i] = i % f->classes;
    assert_int_equal(axnn_plan_forward(tr, pool, f->x, y, B), AXNN_OK);
    assert_int_equal(axnn_plan_backward(tr, pool), AXNN_OK);
    assert_memory_equal(axnn_plan_logits(ev), before, (size_t)B * f->classes * sizeof(float));
    float *want = logits_of(f->g, f->x, B, f->classes);
    int w = axnn_graph_find_value(f->g, "fc.weight");
    assert_true(w >= 0);
    assert_non_null(axnn_plan_grad(tr, w));
    assert_null(axnn_plan_grad(ev, w));
    assert_ptr_equal(axnn_plan_data(tr, w), axnn_plan_data(ev, w));
    assert_int_equal(axnn_plan_forward(ev, pool, f->x, NULL, B), AXNN_OK);
    assert_memory_equal(axnn_plan_logits(ev), want, (size_t)B * f->classes * sizeof(float));
    axnn_plan_free(ev);
    axnn_plan_free(tr);
    axnn_pool_destroy(pool);
    free(want);
    free(before);
}

/* Runs graph sub (one input) on in; returns a copy of output `out` (n rows of `per` floats). */
static float *run_stage(axnn_graph *sub, int out, const float *in, int64_t per)
{
    axnn_pool *pool = axnn_pool_create(1, NULL);
    axnn_plan *p = axnn_plan_new(sub, B, 1, false);
    assert_non_null(p);
    assert_int_equal(sub->ninputs, 1);
    const void *ins[1] = {in};
    assert_int_equal(axnn_plan_run(p, pool, ins, B), AXNN_OK);
    float *y = malloc((size_t)(B * per) * sizeof(float));
    memcpy(y, axnn_plan_data(p, out), (size_t)(B * per) * sizeof(float));
    axnn_plan_free(p);
    axnn_pool_destroy(pool);
    return y;
}

static void test_cut_prefix_middle_suffix(void **state)
{
    fixture *f = *state;
    axnn_graph *g = f->g;
    int cuts[64];
    int nc = axnn_graph_cut_points(g, cuts, 64);
    assert_true(nc >= 10); /* the stem, nine blocks, the pooled features */
    const int a = cuts[nc / 4], b = cuts[nc / 2]; /* inside layer1 and layer2 */
    const int64_t pa = axnn_shape_numel(&g->vals[a].shape), pb = axnn_shape_numel(&g->vals[b].shape);
    axnn_graph *pre, *mid, *suf;
    int map_pre[4096], map_mid[4096], map_suf[4096];
    assert_true(g->nvals <= 4096);
    assert_int_equal(axnn_graph_extract(g, &g->input, 1, &a, 1, &pre, map_pre), AXNN_OK);
    assert_int_equal(axnn_graph_extract(g, &a, 1, &b, 1, &mid, map_mid), AXNN_OK);
    assert_int_equal(axnn_graph_extract(g, &b, 1, &g->logits, 1, &suf, map_suf), AXNN_OK);
    assert_int_equal(pre->nnodes + mid->nnodes + suf->nnodes, g->nnodes - 1); /* all but the loss */
    /* the subgraphs run on g's weights */
    int w = axnn_graph_find_value(g, "layer2.0.conv1.weight");
    assert_ptr_equal(mid->vals[map_mid[w]].data, g->vals[w].data);
    float *want = logits_of(g, f->x, B, f->classes);
    float *ya = run_stage(pre, map_pre[a], f->x, pa);
    float *yb = run_stage(mid, map_mid[b], ya, pb);
    float *z = run_stage(suf, suf->logits, yb, f->classes);
    assert_memory_equal(z, want, (size_t)B * f->classes * sizeof(float));
    free(ya), free(yb), free(z), free(want);
    axnn_graph_free(pre);
    axnn_graph_free(mid);
    axnn_graph_free(suf);
}

/* Bad cuts are refused with a message: an output not computed from the inputs, a parameter as
 * an input. */
static void test_cut_errors(void **state)
{
    fixture *f = *state;
    axnn_graph *g = f->g, *sub = NULL;
    int cuts[64];
    assert_true(axnn_graph_cut_points(g, cuts, 64) >= 3);
    int w = axnn_graph_find_value(g, "fc.weight");
    assert_int_not_equal(axnn_graph_extract(g, &w, 1, &g->logits, 1, &sub, NULL), AXNN_OK);
    assert_null(sub);
    int bad = g->nvals + 5;
    assert_int_not_equal(axnn_graph_extract(g, &g->input, 1, &bad, 1, &sub, NULL), AXNN_OK);
    assert_null(sub);
    assert_non_null(strstr(axnn_last_error(), "extract"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_plans_float), cmocka_unit_test(test_two_plans_int8),
        cmocka_unit_test(test_train_beside_eval), cmocka_unit_test(test_cut_prefix_middle_suffix),
        cmocka_unit_test(test_cut_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
