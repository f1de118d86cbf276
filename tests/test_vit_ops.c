/* The transformer nodes (tokens, cls_token, pos_embed, layernorm, linear on tokens, attention,
 * gelu, drop_path, cls_pool):
 *
 *   golden     forward and backward against PyTorch (tests/gen/gen_vit.py ->
 *              tests/data/vit_ops_golden.safetensors), one-node graphs as in test_ops.c, with
 *              pools of 1 and 2 threads, twice each (same thread count: same bits);
 *              tolerances |a - b| <= 1e-5 |b| + 1e-6 (forward), 1e-4 |b| + 1e-5 (gradients);
 *   gradcheck  central finite differences (eps 1e-3) of every node and a two-block ViT with a
 *              loss, as test_gradcheck.c: |num - ana| <= 1e-2 |ana| + 2e-3 max(1, max |ana|);
 *   kernels    the AVX-512 row kernels against the double-precision reference: GELU and its
 *              derivative on a dense grid of [-12, 12] and on random inputs within the stated
 *              |a - b| <= 1e-6 |b| + 1e-37 (GELU) and 1e-6 |b| + 4e-7 (GELU', a sum of two
 *              terms of size ~0.2 that cancel near x = -0.75),
 *              LayerNorm and softmax rows (with tails) within 2e-6 of the row's scale, the
 *              small unpacked GEMM (every tile shape) within float rounding, the transpose
 *              exactly;
 *   drop path  the kept fraction of samples, the 1 / (1 - p) scale, the backward mask, and the
 *              same decisions for 1 and 2 threads;
 *   int8       quantized attention products: INT8 and TABLE with the exact multiplier run
 *              through the table kernel and the scalar reference give identical bits; with an
 *              approximate multiplier (trunc:6) the table, decomposition and reference kernels
 *              agree bit for bit and the output changes; the products count in the MAC split.
 */
#include "testutil.h"

#include "axnn/quant.h"
#include "kernels/transformer/transformer.h"
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

static const char *const vit_ops[] = {"tokens", "cls_token", "pos_embed", "layernorm", "linear",
                                      "attention", "gelu", "drop_path", "cls_pool"};
#define NOPS ((int)(sizeof vit_ops / sizeof vit_ops[0]))

/* ------------------------------------------------------------------ golden cases ---- */

static int build_case(axnn_graph *g, const tu_case *c)
{
    const char *op = tu_attr_op(c);
    assert_true(axnn_input(g, 1, 1, 1) >= 0);
    const axnn_st_tensor *xs = tu_gt(c, "x");
    axnn_shape sh = axnn_shape_make(xs->nd, xs->shape);
    int x = axnn_graph_add_value(g, "x", AXNN_VAL_PARAM, AXNN_F32, &sh, 0), y = -1;
    tu_fill(g, "x", c, "x");
    if (!strcmp(op, "tokens")) {
        y = axnn_tokens(g, x);
    } else if (!strcmp(op, "cls_token")) {
        y = axnn_cls_token(g, "", x);
        tu_fill(g, "cls_token", c, "cls_token");
    } else if (!strcmp(op, "pos_embed")) {
        y = axnn_pos_embed(g, "", x);
        tu_fill(g, "pos_embed", c, "pos_embed");
    } else if (!strcmp(op, "layernorm")) {
        y = axnn_layernorm(g, "op", x, (float)tu_attr_num(c, "eps"));
        tu_fill(g, "op.weight", c, "weight");
        tu_fill(g, "op.bias", c, "bias");
    } else if (!strcmp(op, "linear")) {
        y = axnn_linear(g, "op", x, (int)tu_attr_num(c, "out"), true);
        tu_fill(g, "op.weight", c, "weight");
        tu_fill(g, "op.bias", c, "bias");
    } else if (!strcmp(op, "attention")) {
        y = axnn_attention(g, "op", x, (int)tu_attr_num(c, "heads"));
    } else if (!strcmp(op, "gelu")) {
        y = axnn_gelu(g, x);
    } else if (!strcmp(op, "drop_path")) {
        y = axnn_drop_path(g, x, (float)tu_attr_num(c, "p"));
    } else if (!strcmp(op, "cls_pool")) {
        y = axnn_cls_pool(g, x);
    }
    if (y < 0) fail_msg("%s: building op '%s' failed: %s", c->name, op, axnn_last_error());
    return y;
}

static void run_case(const tu_case *c, axnn_pool *pool, tu_result *r)
{
    axnn_graph *g = axnn_graph_new();
    int y = build_case(g, c);
    int batch = (int)tu_gt(c, "x")->shape[0];
    static float dummy[64];
    axnn_plan *p = axnn_plan_new(g, batch, axnn_pool_size(pool), true);
    assert_non_null(p);
    assert_int_equal(axnn_plan_forward(p, pool, dummy, NULL, batch), AXNN_OK);
    int64_t n = tu_numel(tu_gt(c, "dy"));
    float *dy = malloc((size_t)n * sizeof *dy);
    axnn_st_to_f32(tu_gt(c, "dy"), dy);
    axnn_plan_zero_param_grads(p);
    if (axnn_plan_backward_from(p, pool, y, dy) != AXNN_OK) fail_msg("%s: %s", c->name, axnn_last_error());
    free(dy);
    tu_keep(r, "y", axnn_plan_data(p, y), tu_plan_numel(p, y));
    static const struct {
        const char *value, *golden;
    } grads[] = {{"x", "dx"},
                 {"op.weight", "dweight"},
                 {"op.bias", "dbias"},
                 {"cls_token", "dcls_token"},
                 {"pos_embed", "dpos_embed"}};
    for (int i = 0; i < 5; i++) {
        int id = axnn_graph_find_value(g, grads[i].value);
        if (id >= 0 && axnn_plan_grad(p, id) && tu_gt(c, grads[i].golden))
            tu_keep(r, grads[i].golden, axnn_plan_grad(p, id), tu_numel(tu_gt(c, grads[i].golden)));
    }
    axnn_plan_free(p);
    axnn_graph_free(g);
}

static double worst_fwd, worst_grad;

static void compare(const tu_case *c, const char *what, const float *a, const axnn_st_tensor *gold, bool fwd)
{
    const double rtol = fwd ? FWD_RTOL : GRAD_RTOL, atol = fwd ? FWD_ATOL : GRAD_ATOL;
    int64_t n = tu_numel(gold);
    float *b = malloc((size_t)n * sizeof *b);
    axnn_st_to_f32(gold, b);
    double worst = 0.0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double q = fabs((double)a[i] - (double)b[i]) / (rtol * fabs((double)b[i]) + atol);
        if (!(q <= worst)) {
            worst = isnan(q) ? INFINITY : q;
            at = i;
        }
    }
    if (!(worst <= 1.0))
        fail_msg("%s: %s[%lld] = %.9g, PyTorch %.9g (%.3g of the tolerance)", c->name, what, (long long)at, a[at],
                 b[at], worst);
    double *w = fwd ? &worst_fwd : &worst_grad;
    if (worst > *w) *w = worst;
    free(b);
}

static void test_golden(void **state)
{
    axnn_st_file *f;
    if (axnn_st_read(tu_data_path("vit_ops_golden.safetensors"), &f) != AXNN_OK) fail_msg("%s", axnn_last_error());
    cJSON *names = cJSON_Parse(axnn_st_meta(f, "cases"));
    assert_true(cJSON_IsArray(names));
    bool covered[NOPS] = {false};
    const cJSON *nm;
    int ncases = 0;
    cJSON_ArrayForEach(nm, names)
    {
        cJSON *attr = cJSON_Parse(axnn_st_meta(f, nm->valuestring));
        tu_case c = {f, nm->valuestring, attr};
        for (int k = 0; k < NOPS; k++) covered[k] |= !strcmp(vit_ops[k], tu_attr_op(&c));
        for (int nth = 1; nth <= 2; nth++) {
            axnn_pool *pool = axnn_pool_create(nth, NULL);
            tu_result r1 = {0}, r2 = {0};
            run_case(&c, pool, &r1);
            run_case(&c, pool, &r2);
            for (int i = 0; i < r1.n; i++) {
                compare(&c, r1.what[i], r1.data[i], tu_gt(&c, r1.what[i]), !strcmp(r1.what[i], "y"));
                if (memcmp(r1.data[i], r2.data[i], (size_t)r1.len[i] * sizeof(float)))
                    fail_msg("%s: %s differs between two runs with %d threads", c.name, r1.what[i], nth);
            }
            tu_result_free(&r1);
            tu_result_free(&r2);
            axnn_pool_destroy(pool);
        }
        cJSON_Delete(attr);
        ncases++;
    }
    for (int k = 0; k < NOPS; k++)
        if (!covered[k]) fail_msg("op %s has no golden case", vit_ops[k]);
    print_message("%d cases; worst forward error %.3g, worst gradient error %.3g of the tolerance\n", ncases,
                  worst_fwd, worst_grad);
    cJSON_Delete(names);
    axnn_st_close(f);
}

/* ------------------------------------------------------------------ gradcheck ---- */

#define EPS 1e-3f
#define RTOL 1e-2
#define ATOL 2e-3

typedef struct gc {
    axnn_graph *g;
    axnn_plan *p;
    axnn_pool *pool;
    int out, batch;
    bool use_loss;
    int32_t *labels;
    float *input, *r;
} gc;

static double worst_ratio;

static double eval_f(gc *c)
{
    axnn_plan_set_step(c->p, 0); /* same drop-path decisions every time */
    assert_int_equal(axnn_plan_forward(c->p, c->pool, c->input, c->labels, c->batch), AXNN_OK);
    if (c->use_loss) return axnn_plan_loss(c->p);
    const float *y = axnn_plan_data(c->p, c->out);
    double s = 0.0;
    for (int64_t i = 0; i < tu_plan_numel(c->p, c->out); i++) s += (double)y[i] * c->r[i];
    return s;
}

static double eval_cb(void *c) { return eval_f(c); }

static void check_value(gc *c, int v, const char *what)
{
    worst_ratio = fmax(worst_ratio, tu_gradcheck_value(c->p, v, eval_cb, c, EPS, RTOL, ATOL, what));
}

static void check_all(gc *c, const char *what)
{
    eval_f(c);
    axnn_plan_zero_param_grads(c->p);
    axnn_status st = c->use_loss ? axnn_plan_backward(c->p, c->pool)
                                 : axnn_plan_backward_from(c->p, c->pool, c->out, c->r);
    if (st != AXNN_OK) fail_msg("%s", axnn_last_error());
    for (int i = 0; i < c->g->nvals; i++) {
        axnn_value *v = &c->g->vals[i];
        if (v->kind == AXNN_VAL_PARAM && axnn_plan_grad(c->p, i)) check_value(c, i, what);
    }
}

static void randomize_params(axnn_graph *g, axnn_rng *r, float lo, float hi)
{
    for (int i = 0; i < g->nvals; i++) {
        axnn_value *v = &g->vals[i];
        if (v->kind != AXNN_VAL_PARAM || v->dtype != AXNN_F32) continue;
        bool ln_w = strstr(v->name, "norm") && strstr(v->name, ".weight");
        tu_fill_uniform(v->data, axnn_shape_numel(&v->shape), ln_w ? 0.5f : lo, ln_w ? 1.5f : hi, r);
    }
}

/* A graph whose data input is PARAM "x" of the given shape. */
static int start(axnn_graph *g, int nd, const int64_t *d)
{
    assert_true(axnn_input(g, 1, 1, 1) >= 0);
    axnn_shape s = axnn_shape_make(nd, d);
    return axnn_graph_add_value(g, "x", AXNN_VAL_PARAM, AXNN_F32, &s, 0);
}

/* One thread: thousands of tiny forwards, which a busy machine (ctest -j) would slow down by
 * orders of magnitude at every pool hand-over; the golden tests cover two threads. */
static void run_check(axnn_graph *g, int out, int batch, const char *what, axnn_rng *r)
{
    static float dummy[64];
    axnn_pool *pool = axnn_pool_create(1, NULL);
    gc c = {g, NULL, pool, out, batch, false, NULL, dummy, NULL};
    c.p = axnn_plan_new(g, batch, 1, true);
    assert_non_null(c.p);
    int64_t n = tu_plan_numel(c.p, out);
    c.r = malloc((size_t)n * sizeof(float));
    tu_fill_uniform(c.r, n, -1.0f, 1.0f, r);
    check_all(&c, what);
    free(c.r);
    axnn_pool_destroy(pool);
    axnn_plan_free(c.p);
    axnn_graph_free(g);
}

static void test_gradcheck_nodes(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 41);
    int64_t d4[4] = {2, 3, 2, 2}, d3[3] = {2, 5, 6}, qkv[3] = {2, 5, 12};
    for (int k = 0; k < 8; k++) {
        axnn_graph *g = axnn_graph_new();
        int x = start(g, k == 0 ? 4 : 3, k == 0 ? d4 : k == 4 ? qkv : d3), y = -1;
        const char *what = "";
        switch (k) {
        case 0: y = axnn_tokens(g, x), what = "tokens"; break;
        case 1: y = axnn_pos_embed(g, "", axnn_cls_token(g, "", x)), what = "cls_token + pos_embed"; break;
        case 2: y = axnn_layernorm(g, "norm", x, 1e-6f), what = "layernorm"; break;
        case 3: y = axnn_linear(g, "fc", x, 4, true), what = "linear on tokens"; break;
        case 4: y = axnn_attention(g, "attn", x, 2), what = "attention"; break;
        case 5: y = axnn_gelu(g, x), what = "gelu"; break;
        case 6: y = axnn_drop_path(g, x, 0.5f), what = "drop_path p=0.5"; break;
        case 7: y = axnn_cls_pool(g, x), what = "cls_pool"; break;
        }
        assert_true(y >= 0);
        randomize_params(g, &r, k == 4 ? -2.0f : -1.0f, k == 4 ? 2.0f : 1.0f);
        run_check(g, y, 2, what, &r);
    }
}

/* Two pre-norm blocks with the loss on the class token: every gradient path of the model. */
static void test_gradcheck_vit(void **state)
{
    axnn_rng r;
    axnn_rng_seed(&r, 42);
    axnn_graph *g = axnn_graph_new();
    int x = axnn_input(g, 2, 4, 4);
    axnn_vit_cfg c = {8, 2, 2, 12, 2, 3, 0.0f};
    int z = axnn_build_vit(g, x, &c, &r);
    assert_true(z >= 0 && axnn_softmax_ce(g, z, axnn_labels(g), 0.1f) >= 0);
    randomize_params(g, &r, -0.6f, 0.6f);
    static float input[2 * 2 * 16];
    static int32_t labels[2] = {2, 0};
    tu_fill_uniform(input, 2 * 2 * 16, -1, 1, &r);
    axnn_pool *pool = axnn_pool_create(1, NULL);
    gc gcx = {g, NULL, pool, z, 2, true, labels, input, NULL};
    gcx.p = axnn_plan_new(g, 2, 1, true);
    assert_non_null(gcx.p);
    check_all(&gcx, "two-block vit");
    print_message("worst gradient error: %.3g of the tolerance\n", worst_ratio);
    axnn_pool_destroy(pool);
    axnn_plan_free(gcx.p);
    axnn_graph_free(g);
}

/* ------------------------------------------------------------------ row kernels ---- */

static void expect_close(const char *what, float a, float b, double rtol, double atol, double x)
{
    if (!(fabs((double)a - (double)b) <= rtol * fabs((double)b) + atol))
        fail_msg("%s(%.9g): %.9g, reference %.9g", what, x, a, b);
}

static void test_kernels(void **state)
{
    const axnn_tfm_kernels *ref = &axnn_tfm_ref, *k = axnn_tfm_get();
    if (k == ref) {
        print_message("no AVX-512: the reference runs everywhere\n");
        return;
    }
    enum { N = 24001 };
    float *x = malloc(N * sizeof(float)), *a = malloc(N * sizeof(float)), *b = malloc(N * sizeof(float));
    float *dy = malloc(N * sizeof(float));
    axnn_rng r;
    axnn_rng_seed(&r, 43);
    for (int i = 0; i < N; i++) {
        x[i] = i < 20001 ? -12.0f + 24.0f * (float)i / 20000.0f : 8.0f * axnn_rng_normal(&r);
        dy[i] = 1.0f;
    }
    k->gelu(x, a, N);
    ref->gelu(x, b, N);
    for (int i = 0; i < N; i++) expect_close("gelu", a[i], b[i], 1e-6, 1e-37, x[i]);
    k->gelu_bwd(x, dy, a, N, false);
    ref->gelu_bwd(x, dy, b, N, false);
    for (int i = 0; i < N; i++) expect_close("gelu'", a[i], b[i], 1e-6, 4e-7, x[i]);
    /* rows of 1..70 floats (every tail length), LayerNorm and softmax */
    float w[70], bias[70], dw1[70] = {0}, db1[70] = {0}, dw2[70] = {0}, db2[70] = {0};
    tu_fill_uniform(w, 70, 0.5f, 1.5f, &r);
    tu_fill_uniform(bias, 70, -0.5f, 0.5f, &r);
    for (int d = 1; d <= 70; d++) {
        float row[70], s1[70], s2[70], m1, r1, m2, r2;
        tu_fill_uniform(row, d, -3.0f, 5.0f, &r);
        k->layernorm(row, w, bias, s1, d, 1e-6f, &m1, &r1);
        ref->layernorm(row, w, bias, s2, d, 1e-6f, &m2, &r2);
        for (int i = 0; i < d; i++) expect_close("layernorm", s1[i], s2[i], 2e-6, 2e-6, d);
        k->layernorm_bwd(row, w, dy, s1, dw1, db1, d, m2, r2, false);
        ref->layernorm_bwd(row, w, dy, s2, dw2, db2, d, m2, r2, false);
        for (int i = 0; i < d; i++) expect_close("layernorm_bwd", s1[i], s2[i], 2e-6, 2e-6 * r2, d);
        memcpy(s1, row, sizeof row);
        memcpy(s2, row, sizeof row);
        float l1 = k->softmax(s1, d), l2 = ref->softmax(s2, d);
        expect_close("softmax lse", l1, l2, 1e-6, 1e-6, d);
        for (int i = 0; i < d; i++) expect_close("softmax", s1[i], s2[i], 2e-6, 1e-9, d);
    }
    for (int i = 0; i < 70; i++) expect_close("layernorm dweight", dw1[i], dw2[i], 1e-5, 1e-5, i);
    /* small GEMM (every tile shape and tail) and transpose, strided operands */
    static const int64_t dims[][3] = {{1, 1, 1}, {5, 17, 3}, {6, 64, 8}, {7, 65, 64}, {65, 65, 64},
                                      {65, 64, 65}, {13, 130, 9}, {20, 48, 33}};
    for (size_t c = 0; c < sizeof dims / sizeof dims[0]; c++) {
        const int64_t M = dims[c][0], Nc = dims[c][1], K = dims[c][2], lda = K + 3, ldb = Nc + 5, ldc = Nc + 2;
        float *A = malloc((size_t)(M * lda) * 4), *B = malloc((size_t)(K * ldb) * 4);
        float *C1 = malloc((size_t)(M * ldc) * 4), *C2 = malloc((size_t)(M * ldc) * 4);
        tu_fill_uniform(A, M * lda, -1, 1, &r);
        tu_fill_uniform(B, K * ldb, -1, 1, &r);
        for (int accumulate = 0; accumulate < 2; accumulate++) {
            tu_fill_uniform(C1, M * ldc, -1, 1, &r);
            memcpy(C2, C1, (size_t)(M * ldc) * 4);
            k->gemm(M, Nc, K, 0.7f, A, lda, B, ldb, C1, ldc, accumulate);
            ref->gemm(M, Nc, K, 0.7f, A, lda, B, ldb, C2, ldc, accumulate);
            for (int64_t i = 0; i < M * ldc; i++) /* padding columns untouched */
                expect_close("gemm", C1[i], C2[i], 1e-5, 1e-5 * (double)K, (double)i);
        }
        float *T1 = calloc((size_t)(K * (M + 1)), 4), *T2 = calloc((size_t)(K * (M + 1)), 4);
        k->transpose(A, M, K, lda, T1, M + 1);
        ref->transpose(A, M, K, lda, T2, M + 1);
        assert_memory_equal(T1, T2, (size_t)(K * (M + 1)) * 4);
        free(T1);
        free(T2);
        free(A);
        free(B);
        free(C1);
        free(C2);
    }
    free(x);
    free(a);
    free(b);
    free(dy);
}

/* ------------------------------------------------------------------ drop path ---- */

enum { DP_N = 4000, DP_F = 3 };

static void drop_path_run(int nth, uint64_t step, float *y, float *dx, const float *x)
{
    axnn_graph *g = axnn_graph_new();
    int64_t d[2] = {DP_N, DP_F};
    int xv = start(g, 2, d);
    memcpy(g->vals[xv].data, x, sizeof(float) * DP_N * DP_F);
    int yv = axnn_drop_path(g, xv, 0.25f);
    axnn_pool *pool = axnn_pool_create(nth, NULL);
    static float dummy[8], ones[DP_N * DP_F];
    for (int i = 0; i < DP_N * DP_F; i++) ones[i] = 1.0f;
    axnn_plan *p = axnn_plan_new(g, DP_N, nth, true);
    assert_non_null(p);
    axnn_plan_set_step(p, step);
    assert_int_equal(axnn_plan_forward(p, pool, dummy, NULL, DP_N), AXNN_OK);
    axnn_plan_zero_param_grads(p);
    assert_int_equal(axnn_plan_backward_from(p, pool, yv, ones), AXNN_OK);
    memcpy(y, axnn_plan_data(p, yv), sizeof(float) * DP_N * DP_F);
    memcpy(dx, axnn_plan_grad(p, xv), sizeof(float) * DP_N * DP_F);
    axnn_plan_set_training(p, false); /* eval: the identity */
    assert_int_equal(axnn_plan_forward(p, pool, dummy, NULL, DP_N), AXNN_OK);
    assert_memory_equal(axnn_plan_data(p, yv), x, sizeof(float) * DP_N * DP_F);
    axnn_pool_destroy(pool);
    axnn_plan_free(p);
    axnn_graph_free(g);
}

static void test_drop_path(void **state)
{
    const int n = DP_N * DP_F;
    float *x = malloc(sizeof(float) * n), *y1 = malloc(sizeof(float) * n), *d1 = malloc(sizeof(float) * n);
    float *y2 = malloc(sizeof(float) * n), *d2 = malloc(sizeof(float) * n);
    axnn_rng r;
    axnn_rng_seed(&r, 44);
    tu_fill_uniform(x, n, 0.5f, 2.0f, &r);
    drop_path_run(1, 3, y1, d1, x);
    const float scale = 1.0f / 0.75f;
    int kept = 0;
    for (int s = 0; s < DP_N; s++) {
        bool k = y1[s * DP_F] != 0.0f;
        kept += k;
        for (int j = 0; j < DP_F; j++) { /* whole samples */
            int i = s * DP_F + j;
            assert_true(k ? y1[i] == x[i] * scale : y1[i] == 0.0f);
            assert_true(d1[i] == (k ? scale : 0.0f));
        }
    }
    double frac = (double)kept / DP_N, sigma = sqrt(0.25 * 0.75 / DP_N);
    print_message("drop path p=0.25: kept %.4f of the samples (expected 0.75 +- %.4f)\n", frac, sigma);
    assert_true(fabs(frac - 0.75) < 5 * sigma);
    drop_path_run(2, 3, y2, d2, x);
    assert_memory_equal(y1, y2, sizeof(float) * n);
    assert_memory_equal(d1, d2, sizeof(float) * n);
    drop_path_run(1, 4, y2, d2, x);
    assert_true(memcmp(y1, y2, sizeof(float) * n) != 0);
    free(x);
    free(y1);
    free(d1);
    free(y2);
    free(d2);
}

/* ------------------------------------------------------------------ int8 attention ---- */

/* A one-node attention graph behind a linear qkv layer (its producer), quantized per cfg. */
static axnn_graph *qattn_graph(int *out)
{
    axnn_rng r;
    axnn_rng_seed(&r, 45);
    axnn_graph *g = axnn_graph_new();
    int64_t d[3] = {3, 21, 24};
    int x = start(g, 3, d);
    int qkv = axnn_linear(g, "attn.qkv", x, 72, true);
    *out = axnn_attention(g, "attn", qkv, 3);
    randomize_params(g, &r, -1.0f, 1.0f);
    return g;
}

/* Output of the attention node with quantization cfg (NULL = float). */
static float *qattn_run(const axnn_quant_cfg *cfg, int nth)
{
    int y;
    axnn_graph *g = qattn_graph(&y);
    axnn_pool *pool = axnn_pool_create(nth, NULL);
    static float dummy[8];
    axnn_plan *p = axnn_plan_new(g, 3, nth, false);
    assert_non_null(p);
    if (cfg) {
        if (axnn_quant_attach(g, cfg) != AXNN_OK) fail_msg("%s", axnn_last_error());
        assert_int_equal(axnn_quant_set_input_scale(g, 0, 4.0f / 127.0f), AXNN_OK);
    }
    assert_int_equal(axnn_plan_forward(p, pool, dummy, NULL, 3), AXNN_OK);
    int64_t n = tu_plan_numel(p, y);
    float *res = malloc((size_t)n * sizeof *res);
    memcpy(res, axnn_plan_data(p, y), (size_t)n * sizeof *res);
    if (cfg) {
        int64_t approx, total;
        axnn_quant_mac_split(g, &approx, &total);
        int64_t attn = axnn_node_macs(g, &g->nodes[1]), lin = axnn_node_macs(g, &g->nodes[0]);
        assert_int_equal(attn, 2 * 21 * 21 * 24);
        assert_true(total == (cfg->count_attention ? attn + lin : lin));
        assert_true(approx == (cfg->mul && strcmp(cfg->mul, "exact") ? total : 0));
    }
    axnn_pool_destroy(pool);
    axnn_plan_free(p);
    axnn_graph_free(g);
    return res;
}

static void test_int8_attention(void **state)
{
    const int64_t n = 3 * 21 * 24;
    axnn_quant_cfg int8 = {0}, lut = {0}, ref = {0}, approx = {0}, linear_only = {0};
    int8.count_attention = lut.count_attention = ref.count_attention = approx.count_attention = true;
    lut.mul = ref.mul = "exact";
    lut.kernel = AXNN_QK_LUT;
    ref.kernel = AXNN_QK_REF;
    approx.mul = "trunc:6";
    float *f = qattn_run(NULL, 2), *a = qattn_run(&int8, 2), *b = qattn_run(&lut, 2), *c = qattn_run(&ref, 1);
    float *d = qattn_run(&approx, 2), *e = qattn_run(&linear_only, 2);
    assert_memory_equal(a, b, (size_t)n * sizeof(float)); /* exact table = exact int8, bit for bit */
    assert_memory_equal(a, c, (size_t)n * sizeof(float));
    static const axnn_qkernel kernels[3] = {AXNN_QK_LUT, AXNN_QK_DECOMP, AXNN_QK_REF};
    for (int k = 0; k < 3; k++) { /* an approximate table: every kernel gives the same bits */
        axnn_quant_cfg forced = approx;
        forced.kernel = kernels[k];
        float *o = qattn_run(&forced, 2);
        assert_memory_equal(d, o, (size_t)n * sizeof(float));
        free(o);
    }
    assert_true(memcmp(a, d, (size_t)n * sizeof(float)) != 0);
    assert_true(memcmp(a, e, (size_t)n * sizeof(float)) != 0);
    double err8 = tu_max_rel_err(a, e, n, 1.0), errt = tu_max_rel_err(d, e, n, 1.0);
    print_message("int8 attention vs float attention (int8 qkv): max error %.3g; trunc:6 %.3g\n", err8, errt);
    assert_true(err8 < 0.25); /* outputs of size ~2; a sanity bound, not an accuracy claim */
    free(f);
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),          cmocka_unit_test(test_gradcheck_nodes),
        cmocka_unit_test(test_gradcheck_vit),   cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_drop_path),       cmocka_unit_test(test_int8_attention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
