/* Quantized execution: quantization kernels against the reference, the int8 pipeline against a
 * hand-built reference, bit-identity of INT8 and TABLE(exact) and of every kernel for the same
 * multiplier, calibration methods, and accuracy close to float on a small trained model. */
#include "testutil.h"

#include "axnn/quant.h"
#include "kernels/im2col/im2col.h"
#include "kernels/quant/quantize.h"
#include "kernels/s8-gemm/s8-gemm.h"
#include "quant/qstate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_quantize_kernels(void **state)
{
    enum { N = 1037 };
    float x[N];
    int8_t a[N], b[N];
    axnn_rng r;
    axnn_rng_seed(&r, 3);
    for (int i = 0; i < N; i++) x[i] = 300.0f * (axnn_rng_uniform(&r) - 0.5f);
    for (int i = 0; i < 40; i++) x[i] = (float)(i - 20) + 0.5f; /* ties round to even */
    x[40] = NAN;
    x[41] = INFINITY;
    x[42] = -INFINITY;
    x[43] = 1e30f;
    axnn_quantize_s8_ref(x, N, 0.9f, a);
    axnn_quantize_s8(x, N, 0.9f, b);
    assert_memory_equal(a, b, N);
    assert_int_equal(a[20], 0); /* 0.5 * 0.9 = 0.45 -> 0 */
    float t[4] = {0.5f, 1.5f, 2.5f, -2.5f};
    int8_t q[4];
    axnn_quantize_s8(t, 4, 1.0f, q);
    assert_int_equal(q[0], 0);
    assert_int_equal(q[1], 2);
    assert_int_equal(q[2], 2);
    assert_int_equal(q[3], -2);
    assert_int_equal(a[41], 127);
    assert_int_equal(a[42], -127);
    assert_int_equal(a[40], -127);
}

/* The int8 im2col variants agree (odd sizes, strides, paddings, rows longer than 64). */
static void test_im2col_s8_variants(void **state)
{
    static const int geo[][9] = {
        /* c, h, w, kh, kw, s, p */
        {3, 6, 6, 3, 3, 1, 1}, {2, 5, 9, 3, 3, 1, 1}, {4, 8, 8, 1, 1, 2, 0}, {2, 7, 70, 3, 5, 1, 2},
        {1, 3, 3, 5, 5, 1, 3}, {2, 9, 9, 3, 3, 2, 1}, {1, 1, 1, 1, 1, 1, 0}, {3, 4, 130, 3, 3, 1, 1},
    };
    axnn_rng r;
    axnn_rng_seed(&r, 17);
    for (size_t i = 0; i < sizeof geo / sizeof geo[0]; i++) {
        const int *q = geo[i];
        axnn_im2col_geom gm = {q[0], q[1], q[2], q[3], q[4], q[5], q[5], q[6], q[6],
                               (q[1] + 2 * q[6] - q[3]) / q[5] + 1, (q[2] + 2 * q[6] - q[4]) / q[5] + 1};
        const int64_t P = (int64_t)gm.oh * gm.ow, K = (int64_t)gm.c * gm.kh * gm.kw, ldc = P + 3;
        int8_t *x = malloc((size_t)(gm.c * gm.h * gm.w));
        for (int64_t j = 0; j < gm.c * gm.h * gm.w; j++) x[j] = (int8_t)(axnn_rng_below(&r, 255) - 127);
        int8_t *a = malloc((size_t)(K * ldc)), *b = malloc((size_t)(K * ldc));
        memset(a, 7, (size_t)(K * ldc));
        memset(b, 7, (size_t)(K * ldc));
        axnn_im2col_s8_ref(&gm, x, a, ldc);
        axnn_im2col_s8(&gm, x, b, ldc);
        assert_memory_equal(a, b, (size_t)(K * ldc));
        if (axnn_cpu_features()->avx512bw) {
            memset(b, 7, (size_t)(K * ldc));
            axnn_im2col_s8_avx512(&gm, x, b, ldc);
            assert_memory_equal(a, b, (size_t)(K * ldc));
        }
        free(x);
        free(a);
        free(b);
    }
}

/* A graph: input -> conv (3x3, pad 1, bias) -> flatten -> linear, no BN (so nothing fuses). */
static axnn_graph *small_graph(int cin, int hw, int cout, int classes, uint64_t seed)
{
    axnn_graph *g = axnn_graph_new();
    int x = axnn_input(g, cin, hw, hw);
    int y = axnn_conv2d(g, "conv", x, cout, 3, 1, 1, true);
    y = axnn_linear(g, "fc", axnn_flatten(g, y), classes, true);
    assert_true(y >= 0);
    g->logits = y;
    g->info.num_classes = classes;
    g->info.in_channels = cin;
    snprintf(g->info.arch, sizeof g->info.arch, "small");
    axnn_rng r;
    axnn_rng_seed(&r, seed);
    for (int i = 0; i < g->nvals; i++)
        if (g->vals[i].kind == AXNN_VAL_PARAM) tu_fill_uniform(g->vals[i].data, axnn_shape_numel(&g->vals[i].shape), -0.5f, 0.5f, &r);
    return g;
}

static float *run(axnn_plan *p, axnn_pool *pool, const float *x, int n)
{
    assert_int_equal(axnn_plan_forward(p, pool, x, NULL, n), AXNN_OK);
    int64_t sz = (int64_t)n * axnn_plan_graph(p)->info.num_classes;
    float *out = malloc((size_t)sz * sizeof(float));
    memcpy(out, axnn_plan_logits(p), (size_t)sz * sizeof(float));
    return out;
}

/* Sets the input scales by hand (no dataset needed). */
static void set_scales(axnn_graph *g, float s)
{
    for (int k = 0; k < g->nnodes; k++) {
        axnn_qnode *q = axnn_qnode_of(&g->nodes[k]);
        if (q) q->in_scale = s;
    }
}

/* The conv output of the quantized graph equals a hand-built int8 reference: quantize, im2col,
 * reference GEMM with the table, dequantize, add bias. */
static void check_conv_against_reference(const char *mul, axnn_qkernel kernel)
{
    const int cin = 3, hw = 6, cout = 5, n = 3;
    axnn_graph *g = small_graph(cin, hw, cout, 4, 1);
    axnn_pool *pool = axnn_pool_create(2, NULL);
    /* a training plan keeps every activation alive, so the conv output can be read back */
    axnn_plan *pl = axnn_plan_new(g, n, 2, true);
    assert_non_null(pl);
    axnn_plan_set_training(pl, false);
    axnn_quant_cfg cfg = {.mul = mul, .kernel = kernel};
    assert_int_equal(axnn_quant_attach(g, &cfg), AXNN_OK);
    set_scales(g, 0.02f);
    float x[3 * 3 * 6 * 6];
    axnn_rng r;
    axnn_rng_seed(&r, 5);
    tu_fill_uniform(x, 3 * 3 * 36, -2.0f, 2.0f, &r);
    free(run(pl, pool, x, n));
    int conv = 0;
    const axnn_qnode *q = axnn_qnode_of(&g->nodes[conv]);
    const float *y = axnn_plan_data(pl, g->nodes[conv].out);
    assert_non_null(y);
    const float *bias = g->vals[axnn_graph_find_value(g, "conv.bias")].data;
    axnn_mul *m = NULL;
    if (mul) assert_int_equal(axnn_mul_get(mul, &m), AXNN_OK);
    axnn_im2col_geom geo = {cin, hw, hw, 3, 3, 1, 1, 1, 1, hw, hw};
    int8_t xq[3 * 36], col[27 * 36];
    int32_t acc[5 * 36];
    for (int i = 0; i < n; i++) {
        axnn_quantize_s8_ref(x + i * 108, 108, 1.0f / 0.02f, xq);
        axnn_im2col_s8(&geo, xq, col, 36);
        axnn_s8_gemm_ref(cout, 36, 27, q->wq, 27, col, 36, acc, 36, false, m ? m->table : NULL);
        for (int c = 0; c < cout; c++)
            for (int p = 0; p < 36; p++) {
                float want = (float)acc[c * 36 + p] * (0.02f * q->w_scale[c]) + bias[c];
                assert_true(y[i * cout * 36 + c * 36 + p] == want);
            }
    }
    axnn_mul_free(m);
    axnn_pool_destroy(pool);
    axnn_plan_free(pl);
    axnn_graph_free(g);
}

static void test_conv_int8_reference(void **state) { check_conv_against_reference(NULL, AXNN_QK_AUTO); }
static void test_conv_table_ref_kernel(void **state) { check_conv_against_reference("trunc:5", AXNN_QK_REF); }
static void test_conv_table_lut_kernel(void **state) { check_conv_against_reference("trunc:5", AXNN_QK_LUT); }
static void test_conv_table_decomp_kernel(void **state) { check_conv_against_reference("trunc:5", AXNN_QK_DECOMP); }
static void test_conv_table_mitchell(void **state) { check_conv_against_reference("mitchell", AXNN_QK_AUTO); }

/* INT8 and TABLE with the exact multiplier, through every kernel, give the same bits; and the
 * kernels agree bit for bit for an approximate multiplier too. */
static void kernels_bit_identical(int n)
{
    float x[5 * 2 * 8 * 8];
    axnn_rng r;
    axnn_rng_seed(&r, 9);
    tu_fill_uniform(x, 5 * 128, -1.0f, 1.0f, &r);
    axnn_pool *pool = axnn_pool_create(2, NULL);
    const char *muls[] = {"exact", "trunc:4", "bam:2,4", "drum:4"};
    for (int mi = 0; mi < 4; mi++) {
        float *ref = NULL;
        axnn_qkernel ks[] = {AXNN_QK_REF, AXNN_QK_LUT, AXNN_QK_DECOMP, AXNN_QK_AUTO};
        for (int ki = 0; ki < 4; ki++) {
            axnn_graph *g = small_graph(2, 8, 6, 3, 2);
            axnn_plan *p = axnn_plan_new(g, n, 2, false);
            assert_non_null(p);
            axnn_quant_cfg cfg = {.mul = muls[mi], .kernel = ks[ki]};
            assert_int_equal(axnn_quant_attach(g, &cfg), AXNN_OK);
            set_scales(g, 0.01f);
            float *out = run(p, pool, x, n);
            if (!ref)
                ref = out;
            else {
                assert_memory_equal(out, ref, (size_t)n * 3 * sizeof(float));
                free(out);
            }
            axnn_plan_free(p);
            axnn_graph_free(g);
        }
        if (mi == 0) { /* INT8 mode equals TABLE(exact) */
            axnn_graph *g = small_graph(2, 8, 6, 3, 2);
            axnn_plan *p = axnn_plan_new(g, n, 2, false);
            assert_non_null(p);
            axnn_quant_cfg cfg = {0};
            assert_int_equal(axnn_quant_attach(g, &cfg), AXNN_OK);
            set_scales(g, 0.01f);
            float *out = run(p, pool, x, n);
            assert_memory_equal(out, ref, (size_t)n * 3 * sizeof(float));
            free(out);
            axnn_plan_free(p);
            axnn_graph_free(g);
        }
        free(ref);
    }
    axnn_pool_destroy(pool);
}

/* 5 images on 2 threads split the int8 convolution by tiles, 4 by whole images */
static void test_kernels_bit_identical(void **state)
{
    kernels_bit_identical(5);
    kernels_bit_identical(4);
}

static void test_unknown_multiplier_error(void **state)
{
    axnn_graph *g = small_graph(1, 4, 2, 2, 1);
    axnn_quant_cfg cfg = {.mul = "mul8s_1KV9"};
    assert_int_not_equal(axnn_quant_attach(g, &cfg), AXNN_OK);
    assert_non_null(strstr(axnn_last_error(), "axnn mul import"));
    axnn_quant_cfg bad = {.mul = "exact", .exact_layers = "nosuchlayer"};
    assert_int_equal(axnn_quant_attach(g, &bad), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "nosuchlayer"));
    axnn_graph_free(g);
}

static void test_layer_selection(void **state)
{
    axnn_model_cfg mc = {1, 8, 8, 3, 0, 1};
    axnn_graph *g;
    assert_int_equal(axnn_model_build("resnet20", &mc, &g), AXNN_OK);
    axnn_quant_cfg cfg = {.mul = "trunc:4", .keep_first_last = true, .exact_layers = "layer2.*"};
    assert_int_equal(axnn_quant_attach(g, &cfg), AXNN_OK);
    int approx = 0, exact = 0;
    for (int k = 0; k < g->nnodes; k++) {
        axnn_qnode_info qi;
        if (!axnn_quant_node_info(g, k, &qi)) continue;
        bool is_exact = qi.mode == AXNN_NUM_INT8;
        if (!strcmp(g->nodes[k].name, "conv1") || !strcmp(g->nodes[k].name, "fc") ||
            !strncmp(g->nodes[k].name, "layer2.", 7))
            assert_true(is_exact);
        else
            assert_false(is_exact);
        approx += !is_exact;
        exact += is_exact;
    }
    assert_int_equal(approx + exact, 22); /* 19 3x3 convs + 2 downsample convs + fc */
    int64_t am, tm;
    axnn_quant_mac_split(g, &am, &tm);
    assert_true(am > 0 && am < tm);
    axnn_graph_free(g);
}

/* Calibration on a dataset: scales follow the method's definition. */
static void test_calibration_methods(void **state)
{
    axnn_dataset d = {0};
    assert_int_equal(axnn_dataset_alloc(&d, "toy", 64, 1, 8, 8, 2), AXNN_OK);
    axnn_rng r;
    axnn_rng_seed(&r, 4);
    for (int64_t i = 0; i < 64 * 64; i++) d.images[i] = (uint8_t)axnn_rng_below(&r, 256);
    d.images[5] = 255;
    axnn_preproc pp = {8, 8, {0.0f}, {1.0f}};
    axnn_pool *pool = axnn_pool_create(2, NULL);
    float s[3];
    axnn_calib_method ms[3] = {AXNN_CALIB_MAX, AXNN_CALIB_PERCENTILE, AXNN_CALIB_MSE};
    for (int i = 0; i < 3; i++) {
        axnn_graph *g = small_graph(1, 8, 2, 2, 1);
        axnn_quant_cfg cfg = {0};
        assert_int_equal(axnn_quant_attach(g, &cfg), AXNN_OK);
        assert_int_equal(axnn_quant_calibrate(g, pool, &d, &pp, 64, ms[i], 90.0f), AXNN_OK);
        s[i] = axnn_qnode_of(&g->nodes[0])->in_scale;
        axnn_graph_free(g);
    }
    assert_float_equal(s[0], 1.0f / 127.0f, 1e-7); /* input max is exactly 1 */
    assert_true(s[1] < s[0] && s[1] > 0.8f / 127.0f); /* 90th percentile of uniform |x| ~ 0.9 */
    assert_true(s[2] <= s[0] && s[2] > 0.5f / 127.0f);
    axnn_pool_destroy(pool);
    axnn_dataset_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_kernels),        cmocka_unit_test(test_im2col_s8_variants),
        cmocka_unit_test(test_conv_int8_reference),
        cmocka_unit_test(test_conv_table_ref_kernel),   cmocka_unit_test(test_conv_table_lut_kernel),
        cmocka_unit_test(test_conv_table_decomp_kernel), cmocka_unit_test(test_conv_table_mitchell),
        cmocka_unit_test(test_kernels_bit_identical),   cmocka_unit_test(test_unknown_multiplier_error),
        cmocka_unit_test(test_layer_selection),         cmocka_unit_test(test_calibration_methods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
