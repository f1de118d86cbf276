/* Every node type against PyTorch (golden data from tests/gen/gen_golden.py in
 * tests/data/ops_golden.safetensors), plus dropout's mask statistics, which PyTorch cannot give.
 *
 * Each golden case becomes a one-node graph. The node's data inputs are PARAM values (so the
 * planner gives them gradients) and a dummy image input satisfies the executor. After a training
 * forward, PyTorch's upstream gradient dy is fed with axnn_plan_backward_from and the gradients
 * of the inputs and parameters are compared with autograd's for loss = (y * dy).sum().
 *
 * Tolerances (float32 against float32, different summation orders):
 *   forward (y, running statistics)   |a - b| <= 1e-5 |b| + 1e-6
 *   gradients                          |a - b| <= 1e-4 |b| + 1e-5
 * Every case runs with pools of 1 and 2 threads, twice each: the two runs with the same thread
 * count must agree bit for bit.
 */
#include "testutil.h"

#include "ops/op.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FWD_RTOL 1e-5
#define FWD_ATOL 1e-6
#define GRAD_RTOL 1e-4
#define GRAD_ATOL 1e-5

static const char *const all_ops[] = {"conv2d",    "batchnorm2d",    "relu",      "maxpool2d",
                                      "avgpool2d", "global_avgpool", "flatten",   "linear",
                                      "add",       "dropout",        "softmax_ce"};
#define NOPS ((int)(sizeof all_ops / sizeof all_ops[0]))

static double worst_fwd_rel, worst_grad_rel; /* max |a-b| / (rtol |b| + atol), for the summary */
static double worst_fwd_abs, worst_grad_abs;

/* ------------------------------------------------------------------ golden case access ---- */

/* A PARAM value "name" holding golden tensor t (a node input that gets a gradient). */
static int leaf(axnn_graph *g, const char *name, const tu_case *c, const char *t)
{
    const axnn_st_tensor *s = tu_gt(c, t);
    assert_non_null(s);
    axnn_shape sh = axnn_shape_make(s->nd, s->shape);
    int id = axnn_graph_add_value(g, name, AXNN_VAL_PARAM, AXNN_F32, &sh, 0);
    assert_true(id >= 0);
    tu_fill(g, name, c, t);
    return id;
}

/* ------------------------------------------------------------------ building ---- */

static axnn_pool_attr pool_attr(const tu_case *c)
{
    return (axnn_pool_attr){(int)tu_attr_num(c, "kh"), (int)tu_attr_num(c, "kw"), (int)tu_attr_num(c, "sh"),
                            (int)tu_attr_num(c, "sw"), (int)tu_attr_num(c, "ph"), (int)tu_attr_num(c, "pw")};
}

static int build_conv(axnn_graph *g, const tu_case *c, int x)
{
    axnn_conv2d_attr a = {(int)tu_attr_num(c, "cout"), (int)tu_attr_num(c, "kh"), (int)tu_attr_num(c, "kw"),
                          (int)tu_attr_num(c, "sh"),   (int)tu_attr_num(c, "sw"), (int)tu_attr_num(c, "ph"),
                          (int)tu_attr_num(c, "pw"),   tu_attr_bool(c, "bias")};
    int y = axnn_conv2d_ex(g, "op", x, &a);
    tu_fill(g, "op.weight", c, "weight");
    if (a.bias) tu_fill(g, "op.bias", c, "bias");
    return y;
}

static int build_bn(axnn_graph *g, const tu_case *c, int x)
{
    int y = axnn_batchnorm2d(g, "op", x);
    const axnn_bn_attr *a = g->nodes[g->nnodes - 1].attr;
    assert_float_equal(a->eps, tu_attr_num(c, "eps"), 1e-12);
    assert_float_equal(a->momentum, tu_attr_num(c, "momentum"), 1e-7);
    static const char *const names[5] = {"weight", "bias", "running_mean", "running_var",
                                         "num_batches_tracked"};
    for (int i = 0; i < 5; i++) {
        char n[64];
        snprintf(n, sizeof n, "op.%s", names[i]);
        tu_fill(g, n, c, names[i]);
    }
    return y;
}

static int build_linear(axnn_graph *g, const tu_case *c, int x)
{
    bool bias = tu_attr_bool(c, "bias");
    int y = axnn_linear(g, "op", x, (int)tu_attr_num(c, "out"), bias);
    tu_fill(g, "op.weight", c, "weight");
    if (bias) tu_fill(g, "op.bias", c, "bias");
    return y;
}

/* Builds the one-node graph of case c; returns its output value. *labels gets the labels. */
static int build_case(axnn_graph *g, const tu_case *c, int32_t **labels)
{
    const char *op = tu_attr_op(c);
    assert_true(axnn_input(g, 1, 1, 1) >= 0); /* never read: the data enters as PARAM "x" */
    int x = leaf(g, "x", c, "x"), y = -1;
    if (!strcmp(op, "conv2d"))
        y = build_conv(g, c, x);
    else if (!strcmp(op, "batchnorm2d"))
        y = build_bn(g, c, x);
    else if (!strcmp(op, "relu"))
        y = axnn_relu(g, x);
    else if (!strcmp(op, "global_avgpool"))
        y = axnn_global_avgpool(g, x);
    else if (!strcmp(op, "flatten"))
        y = axnn_flatten(g, x);
    else if (!strcmp(op, "linear"))
        y = build_linear(g, c, x);
    else if (!strcmp(op, "add"))
        y = axnn_add(g, x, leaf(g, "b", c, "b"));
    else if (!strcmp(op, "dropout"))
        y = axnn_dropout(g, x, (float)tu_attr_num(c, "p"));
    else if (!strcmp(op, "maxpool2d") || !strcmp(op, "avgpool2d")) {
        axnn_pool_attr a = pool_attr(c);
        y = axnn_graph_add_node(g, op, op, &x, 1, &a, sizeof a);
    } else if (!strcmp(op, "softmax_ce")) {
        const axnn_st_tensor *lt = tu_gt(c, "labels");
        int64_t n = tu_numel(lt), *tmp = malloc((size_t)n * sizeof *tmp);
        *labels = malloc((size_t)n * sizeof **labels);
        axnn_st_to_i64(lt, tmp);
        for (int64_t i = 0; i < n; i++) (*labels)[i] = (int32_t)tmp[i];
        free(tmp);
        y = axnn_softmax_ce(g, x, axnn_labels(g), (float)tu_attr_num(c, "label_smoothing"));
    }
    if (y < 0) fail_msg("%s: building op '%s' failed: %s", c->name, op, axnn_last_error());
    return y;
}

/* ------------------------------------------------------------------ running ---- */

static const float *grad_of(const axnn_plan *p, const char *name)
{
    int id = axnn_graph_find_value(axnn_plan_graph(p), name);
    return id >= 0 ? axnn_plan_grad(p, id) : NULL;
}

static void collect(axnn_plan *p, const tu_case *c, int y, tu_result *r)
{
    axnn_graph *g = axnn_plan_graph(p);
    tu_keep(r, "y", axnn_plan_data(p, y), tu_plan_numel(p, y));
    if (!tu_gt(c, "dy")) return;
    static const struct {
        const char *value, *golden;
    } grads[] = {{"x", "dx"}, {"b", "db"}, {"op.weight", "dweight"}, {"op.bias", "dbias"}};
    for (int i = 0; i < 4; i++) {
        const float *gr = grad_of(p, grads[i].value);
        if (gr && tu_gt(c, grads[i].golden))
            tu_keep(r, grads[i].golden, gr, tu_numel(tu_gt(c, grads[i].golden)));
    }
    if (tu_gt(c, "running_mean_out")) {
        tu_keep(r, "running_mean_out", g->vals[axnn_graph_find_value(g, "op.running_mean")].data,
             tu_numel(tu_gt(c, "running_mean")));
        tu_keep(r, "running_var_out", g->vals[axnn_graph_find_value(g, "op.running_var")].data,
             tu_numel(tu_gt(c, "running_var")));
    }
}

/* Builds, plans and runs case c on a pool of nth threads. */
static void run_case(const tu_case *c, axnn_pool *pool, tu_result *r)
{
    axnn_graph *g = axnn_graph_new();
    int32_t *labels = NULL;
    int y = build_case(g, c, &labels);
    bool train = tu_attr_bool(c, "train");
    const axnn_st_tensor *x = tu_gt(c, "x");
    int batch = (int)x->shape[0];
    static float dummy[64];
    axnn_plan *p = axnn_plan_new(g, batch, axnn_pool_size(pool), train);
    assert_non_null(p);
    assert_int_equal(axnn_plan_forward(p, pool, dummy, labels, batch), AXNN_OK);
    if (train && tu_gt(c, "dy")) {
        int64_t n = tu_numel(tu_gt(c, "dy"));
        float *dy = malloc((size_t)n * sizeof *dy);
        axnn_st_to_f32(tu_gt(c, "dy"), dy);
        axnn_plan_zero_param_grads(p);
        if (axnn_plan_backward_from(p, pool, y, dy) != AXNN_OK)
            fail_msg("%s: %s", c->name, axnn_last_error());
        free(dy);
    }
    collect(p, c, y, r);
    if (tu_gt(c, "num_batches_tracked_out")) {
        int64_t want;
        axnn_st_to_i64(tu_gt(c, "num_batches_tracked_out"), &want);
        assert_true(*(int64_t *)g->vals[axnn_graph_find_value(g, "op.num_batches_tracked")].data ==
                    want);
    }
    free(labels);
    axnn_plan_free(p);
    axnn_graph_free(g);
}

/* |a - b| <= rtol |b| + atol everywhere; returns the worst ratio, records the worst abs error. */
static double compare(const char *cname, const char *what, const float *a,
                      const axnn_st_tensor *gold, double rtol, double atol, double *worst_abs)
{
    int64_t n = tu_numel(gold);
    float *b = malloc((size_t)n * sizeof *b);
    axnn_st_to_f32(gold, b);
    double worst = 0.0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]), q = d / (rtol * fabs((double)b[i]) + atol);
        if (!(q <= worst)) {
            worst = isnan(q) ? INFINITY : q;
            at = i;
        }
        if (d > *worst_abs) *worst_abs = d;
    }
    if (!(worst <= 1.0))
        fail_msg("%s: %s[%lld] = %.9g, PyTorch %.9g (error %.3g of the tolerance)", cname, what,
                 (long long)at, a[at], b[at], worst);
    free(b);
    return worst;
}

static void check_against_golden(const tu_case *c, const tu_result *r)
{
    for (int i = 0; i < r->n; i++) {
        bool fwd = !strcmp(r->what[i], "y") || strstr(r->what[i], "running");
        const axnn_st_tensor *gold = tu_gt(c, r->what[i]);
        assert_non_null(gold);
        assert_int_equal(tu_numel(gold), r->len[i]);
        double q = compare(c->name, r->what[i], r->data[i], gold, fwd ? FWD_RTOL : GRAD_RTOL,
                           fwd ? FWD_ATOL : GRAD_ATOL, fwd ? &worst_fwd_abs : &worst_grad_abs);
        double *w = fwd ? &worst_fwd_rel : &worst_grad_rel;
        if (q > *w) *w = q;
    }
}

static void assert_bitwise_same(const tu_case *c, const tu_result *a, const tu_result *b, int nth)
{
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++)
        if (memcmp(a->data[i], b->data[i], (size_t)a->len[i] * sizeof(float)))
            fail_msg("%s: %s differs between two runs with %d threads", c->name, a->what[i], nth);
}

/* Every golden case, with 1 and 2 threads, twice each. */
static void test_golden_cases(void **state)
{
    axnn_st_file *f;
    if (axnn_st_read(tu_data_path("ops_golden.safetensors"), &f) != AXNN_OK)
        fail_msg("%s", axnn_last_error());
    cJSON *names = cJSON_Parse(axnn_st_meta(f, "cases"));
    assert_true(cJSON_IsArray(names));
    bool covered[NOPS] = {false};
    const cJSON *nm;
    int ncases = 0;
    cJSON_ArrayForEach(nm, names)
    {
        cJSON *attr = cJSON_Parse(axnn_st_meta(f, nm->valuestring));
        tu_case c = {f, nm->valuestring, attr};
        int k = 0;
        while (k < NOPS && strcmp(all_ops[k], tu_attr_op(&c))) k++;
        assert_true(k < NOPS);
        covered[k] = true;
        for (int nth = 1; nth <= 2; nth++) {
            axnn_pool *pool = axnn_pool_create(nth, NULL);
            tu_result r1 = {0}, r2 = {0};
            run_case(&c, pool, &r1);
            run_case(&c, pool, &r2);
            check_against_golden(&c, &r1);
            assert_bitwise_same(&c, &r1, &r2, nth);
            tu_result_free(&r1);
            tu_result_free(&r2);
            axnn_pool_destroy(pool);
        }
        cJSON_Delete(attr);
        ncases++;
    }
    for (int k = 0; k < NOPS; k++)
        if (!covered[k]) fail_msg("op %s has no golden case", all_ops[k]);
    print_message(
        "%d cases; worst forward error %.3g of tolerance (max abs %.3g), worst gradient error "
        "%.3g of tolerance (max abs %.3g)\n",
        ncases, worst_fwd_rel, worst_fwd_abs, worst_grad_rel, worst_grad_abs);
    cJSON_Delete(names);
    axnn_st_close(f);
}

/* ------------------------------------------------------------------ dropout ---- */

/* Dropout in training: the kept fraction is 1-p within 5 sigma, kept values are x / (1 - p)
 * exactly, the backward uses the same mask and scale, masks do not depend on the thread count
 * and change from step to step. */
enum { DROP_N = 64, DROP_F = 1000 };

static void dropout_run(int nth, uint64_t step, float *y, float *dx, const float *x)
{
    axnn_graph *g = axnn_graph_new();
    assert_true(axnn_input(g, 1, 1, 1) >= 0);
    axnn_shape s = {2, {DROP_N, DROP_F}};
    int xv = axnn_graph_add_value(g, "x", AXNN_VAL_PARAM, AXNN_F32, &s, 0);
    memcpy(g->vals[xv].data, x, sizeof(float) * DROP_N * DROP_F);
    int yv = axnn_dropout(g, xv, 0.3f);
    axnn_pool *pool = axnn_pool_create(nth, NULL);
    static float dummy[DROP_N], ones[DROP_N * DROP_F];
    for (int i = 0; i < DROP_N * DROP_F; i++) ones[i] = 1.0f;
    axnn_plan *p = axnn_plan_new(g, DROP_N, nth, true);
    assert_non_null(p);
    axnn_plan_set_step(p, step);
    assert_int_equal(axnn_plan_forward(p, pool, dummy, NULL, DROP_N), AXNN_OK);
    axnn_plan_zero_param_grads(p);
    assert_int_equal(axnn_plan_backward_from(p, pool, yv, ones), AXNN_OK);
    memcpy(y, axnn_plan_data(p, yv), sizeof(float) * DROP_N * DROP_F);
    memcpy(dx, axnn_plan_grad(p, xv), sizeof(float) * DROP_N * DROP_F);
    axnn_pool_destroy(pool);
    axnn_plan_free(p);
    axnn_graph_free(g);
}

static void test_dropout_mask(void **state)
{
    const int n = DROP_N * DROP_F;
    float *x = malloc(sizeof(float) * n), *y1 = malloc(sizeof(float) * n),
          *d1 = malloc(sizeof(float) * n);
    float *y2 = malloc(sizeof(float) * n), *d2 = malloc(sizeof(float) * n);
    axnn_rng r;
    axnn_rng_seed(&r, 5);
    tu_fill_uniform(x, n, 0.5f, 2.0f, &r); /* never zero */
    dropout_run(1, 0, y1, d1, x);
    const float scale = 1.0f / (1.0f - 0.3f);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        bool k = y1[i] != 0.0f;
        kept += k;
        assert_true(k ? y1[i] == x[i] * scale : y1[i] == 0.0f);
        assert_true(d1[i] == (k ? scale : 0.0f));
    }
    double frac = (double)kept / n, sigma = sqrt(0.3 * 0.7 / n);
    print_message("dropout p=0.3: kept %.4f (expected 0.7 +- %.4f)\n", frac, sigma);
    assert_true(fabs(frac - 0.7) < 5 * sigma);
    dropout_run(2, 0, y2, d2, x); /* same step, two threads: same mask */
    assert_memory_equal(y1, y2, sizeof(float) * n);
    assert_memory_equal(d1, d2, sizeof(float) * n);
    dropout_run(1, 1, y2, d2, x); /* next step: another mask */
    int same = 0;
    for (int i = 0; i < n; i++) same += (y1[i] != 0.0f) == (y2[i] != 0.0f);
    assert_true(same < n - n / 10);
    free(x);
    free(y1);
    free(d1);
    free(y2);
    free(d2);
}

/* ------------------------------------------------------------------ backward_from ---- */

/* backward_from refuses eval plans, non-activations, and graphs where a value on the path also
 * feeds a node off the path. */
static void test_backward_from_checks(void **state)
{
    axnn_graph *g = axnn_graph_new();
    int in = axnn_input(g, 2, 3, 3);
    int a = axnn_conv2d(g, "c", in, 2, 1, 1, 0, false);
    int b = axnn_relu(g, a);
    int side = axnn_relu(g, a); /* a second consumer of a, off the path to b */
    assert_true(side >= 0);
    axnn_pool *pool = axnn_pool_create(1, NULL);
    static float x[2 * 2 * 9], dy[2 * 2 * 9];
    axnn_plan *p = axnn_plan_new(g, 2, 1, false);
    assert_non_null(p);
    assert_int_equal(axnn_plan_forward(p, pool, x, NULL, 2), AXNN_OK);
    assert_int_equal(axnn_plan_backward_from(p, pool, b, dy), AXNN_ERR_ARG);
    axnn_plan_free(p);
    p = axnn_plan_new(g, 2, 1, true);
    assert_non_null(p);
    assert_int_equal(axnn_plan_forward(p, pool, x, NULL, 2), AXNN_OK);
    assert_int_equal(axnn_plan_backward_from(p, pool, in, dy), AXNN_ERR_ARG);
    assert_int_equal(axnn_plan_backward_from(p, pool, b, dy), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "also takes a gradient"));
    assert_int_equal(axnn_plan_backward_from(p, pool, side, dy), AXNN_ERR_ARG);
    assert_int_equal(axnn_plan_backward_from(p, pool, a, dy),
                     AXNN_OK); /* consumers after a ignored */
    axnn_pool_destroy(pool);
    axnn_plan_free(p);
    axnn_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_cases),
        cmocka_unit_test(test_dropout_mask),
        cmocka_unit_test(test_backward_from_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
