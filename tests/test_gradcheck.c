/* Gradient checks by central finite differences, for every differentiable op and for a tiny
 * ResNet-like graph whose residual add gives a value two consumers (gradient accumulation).
 *
 * For a graph with output y and a fixed random r, f(theta) = sum(y * r) (accumulated in double);
 * graphs with a loss use f = loss. The analytic gradient comes from axnn_plan_backward_from
 * (seeded with r) or axnn_plan_backward; the numeric one from
 *   (f(theta + eps) - f(theta - eps)) / (2 eps),   eps = 1e-3,
 * for every element of every parameter, including the op inputs, which are PARAM values here.
 * The forward runs in float32, so the difference quotient carries rounding noise of about
 * 1e-7 * |f| / eps; ops that are linear in the perturbed element (conv, linear, pools, add) are
 * otherwise exact, smooth ones (batch norm, softmax) add O(eps^2) truncation. Inputs of relu and
 * max-pool are spread so that no perturbation crosses a kink. In the tiny ResNet kinks cannot be
 * avoided: eps = 1e-2 there gave 10% errors on a few stem weights (curvature of BN + ReLU), which
 * vanish at 1e-3 (worst error measured: 7% of the tolerance). Tolerance, per element:
 *   |numeric - analytic| <= 1e-2 * |analytic| + 2e-3 * max(1, max |analytic| over the tensor).
 * Dropout is checked with p = 0.4: its mask is a function of the training step, which is reset
 * before every forward so all evaluations see the same mask.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-3f
#define RTOL 1e-2
#define ATOL 2e-3

typedef struct gc {
    axnn_graph *g;
    axnn_plan *p;
    axnn_pool *pool;
    int out;         /* checked output (non-loss graphs) */
    bool use_loss;   /* f = loss instead of sum(y * r) */
    int32_t *labels; /* for graphs with a loss */
    float *input;    /* image input (may be a dummy) */
    float *r;
    int batch;
} gc;

static double worst_ratio; /* max |num - ana| / tolerance over all checks, for the summary */

static int64_t out_numel(const gc *c)
{
    return tu_plan_numel(c->p, c->out);
}

static double eval_f(gc *c)
{
    axnn_plan_set_step(c->p, 0); /* same dropout mask every time */
    assert_int_equal(axnn_plan_forward(c->p, c->pool, c->input, c->labels, c->batch), AXNN_OK);
    if (c->use_loss) return axnn_plan_loss(c->p);
    const float *y = axnn_plan_data(c->p, c->out);
    double s = 0.0;
    for (int64_t i = 0; i < out_numel(c); i++) s += (double)y[i] * c->r[i];
    return s;
}

static void analytic(gc *c)
{
    eval_f(c);
    axnn_plan_zero_param_grads(c->p);
    axnn_status st = c->use_loss ? axnn_plan_backward(c->p, c->pool)
                                 : axnn_plan_backward_from(c->p, c->pool, c->out, c->r);
    if (st != AXNN_OK) fail_msg("%s", axnn_last_error());
}

static double eval_cb(void *c) { return eval_f(c); }

static void check_value(gc *c, int v, const char *what)
{
    worst_ratio = fmax(worst_ratio, tu_gradcheck_value(c->p, v, eval_cb, c, EPS, RTOL, ATOL, what));
}

/* Checks the gradient of every PARAM of c->g. */
static void check_all(gc *c, const char *what)
{
    analytic(c);
    for (int i = 0; i < c->g->nvals; i++) {
        axnn_value *v = &c->g->vals[i];
        if (v->kind == AXNN_VAL_PARAM && axnn_plan_grad(c->p, i)) check_value(c, i, what);
    }
}

/* ------------------------------------------------------------------ setup helpers ---- */

/* A graph with a dummy image input and a PARAM "x" of the given shape, uniform in [lo, hi). */
static int start(axnn_graph *g, int nd, const int64_t *d, float lo, float hi, axnn_rng *r)
{
    assert_true(axnn_input(g, 1, 1, 1) >= 0);
    axnn_shape s = axnn_shape_make(nd, d);
    int x = axnn_graph_add_value(g, "x", AXNN_VAL_PARAM, AXNN_F32, &s, 0);
    tu_fill_uniform(g->vals[x].data, axnn_shape_numel(&s), lo, hi, r);
    return x;
}

static void randomize_params(axnn_graph *g, axnn_rng *r)
{
    for (int i = 0; i < g->nvals; i++) {
        axnn_value *v = &g->vals[i];
        if (v->kind != AXNN_VAL_PARAM || !strcmp(v->name, "x") || v->dtype != AXNN_F32) continue;
        bool bn_w = strstr(v->name, "bn") && strstr(v->name, ".weight");
        tu_fill_uniform(v->data, axnn_shape_numel(&v->shape), bn_w ? 0.5f : -0.5f,
                        bn_w ? 1.5f : 0.5f, r);
    }
}

/* Plans for `batch`, draws r, checks every parameter, frees everything. */
static void run_check(axnn_graph *g, int out, int batch, const char *what, axnn_rng *r)
{
    static float dummy[64];
    axnn_pool *pool = axnn_pool_create(2, NULL);
    gc c = {g, NULL, pool, out, false, NULL, dummy, NULL, batch};
    c.p = axnn_plan_new(g, batch, 2, true);
    assert_non_null(c.p);
    c.r = malloc((size_t)out_numel(&c) * sizeof(float));
    tu_fill_uniform(c.r, out_numel(&c), -1.0f, 1.0f, r);
    check_all(&c, what);
    free(c.r);
    axnn_pool_destroy(pool);
    axnn_plan_free(c.p);
    axnn_graph_free(g);
}

/* ------------------------------------------------------------------ single ops ---- */

static void conv_check(const axnn_conv2d_attr *a, int64_t h, int64_t w, const char *what)
{
    axnn_rng r;
    axnn_rng_seed(&r, 11);
    axnn_graph *g = axnn_graph_new();
    int64_t d[4] = {2, 2, h, w};
    int x = start(g, 4, d, -1.0f, 1.0f, &r);
    int y = axnn_conv2d_ex(g, "conv", x, a);
    randomize_params(g, &r);
    run_check(g, y, 2, what, &r);
}

static void test_conv(void **state)
{
    axnn_conv2d_attr k3 = {3, 3, 3, 2, 2, 1, 1, true}, k1 = {3, 1, 1, 2, 2, 0, 0, false};
    axnn_conv2d_attr pw = {3, 1, 1, 1, 1, 0, 0, true}, ns = {2, 3, 2, 2, 1, 1, 0, true};
    conv_check(&k3, 5, 5, "conv 3x3 s2 p1");
    conv_check(&k1, 5, 5, "conv 1x1 s2");
    conv_check(&pw, 3, 4, "conv 1x1 s1");
    conv_check(&ns, 5, 4, "conv 3x2 s2x1 p1x0");
}

static void test_batchnorm(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 12);
    axnn_graph *g = axnn_graph_new();
    int64_t d[4] = {3, 2, 3, 3};
    int x = start(g, 4, d, -1.0f, 2.0f, &r);
    int y = axnn_batchnorm2d(g, "bn", x);
    randomize_params(g, &r);
    run_check(g, y, 3, "batchnorm2d (train)", &r);
}

/* x = a shuffled grid of values 0.1 apart, centred on 0 but never within 0.05 of it. */
static void spread_values(axnn_value *v, axnn_rng *r)
{
    int64_t n = axnn_shape_numel(&v->shape);
    float *p = v->data;
    for (int64_t i = 0; i < n; i++) p[i] = 0.1f * (float)(i - n / 2) + 0.05f;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = axnn_rng_below(r, (uint32_t)(i + 1));
        float t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

static void test_relu_pools(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 13);
    int64_t d[4] = {2, 2, 5, 5};
    const char *what[4] = {"relu", "maxpool 3x3 s2 p1", "avgpool 3x3 s2 p1", "global avgpool"};
    for (int k = 0; k < 4; k++) {
        axnn_graph *g = axnn_graph_new();
        int x = start(g, 4, d, 0, 1, &r), y;
        spread_values(&g->vals[x], &r);
        if (k == 0)
            y = axnn_relu(g, x);
        else if (k == 1)
            y = axnn_maxpool2d(g, x, 3, 2, 1);
        else if (k == 2)
            y = axnn_avgpool2d(g, x, 3, 2, 1);
        else
            y = axnn_global_avgpool(g, x);
        run_check(g, y, 2, what[k], &r);
    }
}

static void test_flatten_linear_add_dropout(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 14);
    int64_t d[4] = {2, 2, 2, 3};
    axnn_graph *g = axnn_graph_new();
    int x = start(g, 4, d, -1, 1, &r);
    int y = axnn_linear(g, "fc", axnn_flatten(g, x), 4, true);
    randomize_params(g, &r);
    run_check(g, y, 2, "flatten + linear", &r);

    g = axnn_graph_new();
    int64_t d2[2] = {3, 5};
    x = start(g, 2, d2, -1, 1, &r);
    axnn_shape s = axnn_shape_make(2, d2);
    int b = axnn_graph_add_value(g, "b", AXNN_VAL_PARAM, AXNN_F32, &s, 0);
    tu_fill_uniform(g->vals[b].data, 15, -1, 1, &r);
    y = axnn_add(g, x, b);
    run_check(g, y, 3, "add", &r);

    g = axnn_graph_new();
    x = start(g, 2, d2, -1, 1, &r);
    y = axnn_linear(g, "fc", axnn_dropout(g, x, 0.4f), 2, false);
    randomize_params(g, &r);
    run_check(g, y, 3, "dropout p=0.4 + linear", &r);
}

static void test_softmax_ce(void **state)
{
    for (int k = 0; k < 2; k++) {
        axnn_rng r;
        axnn_rng_seed(&r, 15);
        axnn_graph *g = axnn_graph_new();
        int64_t d[2] = {4, 5};
        int x = start(g, 2, d, -2, 2, &r);
        int y = axnn_softmax_ce(g, x, axnn_labels(g), k ? 0.1f : 0.0f);
        static float dummy[8];
        static int32_t labels[4] = {0, 4, 2, 2};
        axnn_pool *pool = axnn_pool_create(2, NULL);
        gc c = {g, NULL, pool, y, true, labels, dummy, NULL, 4};
        c.p = axnn_plan_new(g, 4, 2, true);
        assert_non_null(c.p);
        check_all(&c, k ? "softmax_ce, smoothing 0.1" : "softmax_ce");
        axnn_pool_destroy(pool);
        axnn_plan_free(c.p);
        axnn_graph_free(g);
    }
}

/* ------------------------------------------------------------------ tiny ResNet ---- */

static int conv_bn(axnn_graph *g, const char *name, int x, int cout, int k, int stride)
{
    char n[64];
    snprintf(n, sizeof n, "%s.conv", name);
    int y = axnn_conv2d(g, n, x, cout, k, stride, k / 2, false);
    snprintf(n, sizeof n, "%s.bn", name);
    return axnn_batchnorm2d(g, n, y);
}

/* stem conv-bn-relu (s), a block conv-bn-relu-conv-bn + s (s has two consumers), relu, a
 * strided block with a 1x1 conv-bn downsample, then global pool, linear and the loss. */
static void test_tiny_resnet(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 16);
    axnn_graph *g = axnn_graph_new();
    int x = axnn_input(g, 3, 6, 6);
    int s = axnn_relu(g, conv_bn(g, "stem", x, 4, 3, 1));
    int b = axnn_relu(g, conv_bn(g, "b1a", s, 4, 3, 1));
    b = axnn_relu(g, axnn_add(g, conv_bn(g, "b1b", b, 4, 3, 1), s));
    int c = axnn_relu(g, conv_bn(g, "b2a", b, 6, 3, 2));
    c = axnn_relu(g, axnn_add(g, conv_bn(g, "b2b", c, 6, 3, 1), conv_bn(g, "b2d", b, 6, 1, 2)));
    int z = axnn_linear(g, "fc", axnn_flatten(g, axnn_global_avgpool(g, c)), 3, true);
    assert_true(axnn_softmax_ce(g, z, axnn_labels(g), 0.1f) >= 0);
    randomize_params(g, &r);
    static float input[2 * 3 * 6 * 6];
    static int32_t labels[2] = {2, 0};
    tu_fill_uniform(input, 2 * 3 * 36, -1, 1, &r);
    axnn_pool *pool = axnn_pool_create(2, NULL);
    gc gcx = {g, NULL, pool, z, true, labels, input, NULL, 2};
    gcx.p = axnn_plan_new(g, 2, 2, true);
    assert_non_null(gcx.p);
    check_all(&gcx, "tiny resnet");
    print_message("worst gradient error: %.3g of the tolerance\n", worst_ratio);
    axnn_pool_destroy(pool);
    axnn_plan_free(gcx.p);
    axnn_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv),       cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_relu_pools), cmocka_unit_test(test_flatten_linear_add_dropout),
        cmocka_unit_test(test_softmax_ce), cmocka_unit_test(test_tiny_resnet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
