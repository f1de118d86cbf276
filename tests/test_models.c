/* Whole models against PyTorch: resnet20 and vgg11_bn built with axnn_model_build, weights loaded
 * with axnn_graph_load_weights, logits compared with the reference definitions
 * (chenyaofo/pytorch-cifar-models, written out in tests/gen/gen_golden.py).
 *
 * resnet20: the weights are a plain state_dict export (tests/data/resnet20_weights.safetensors),
 * loaded strictly, so every name and shape must match the reference model.
 * vgg11_bn: its float32 weights (39 MB) are too big to commit. Its conv and linear weights are
 * generated instead, identically here and in the generator, by a 32-bit integer hash of (tensor
 * name, element index) -- see hash_uniform() -- every step of which is exact in float32 except
 * one final multiply, rounded the same way in C and PyTorch. The BN tensors and biases (small)
 * come from tests/data/vgg11_bn_bn.safetensors, loaded non-strictly.
 *
 * Both models run in eval mode (BN running statistics, randomized so they matter) and in train
 * mode (batch statistics; vgg's dropout set to p = 0 on both sides, since masks cannot match):
 * logits and losses, the running statistics after the train-mode forward, and the gradients of
 * several parameters after backward. Measures and tolerances, float32 against float32:
 *   logits, losses, running stats:  max |a - b| / max |b| over the tensor <= 1e-4
 *   parameter gradients:            max |a - b| / max |b| over the tensor <= 1e-3
 * Measured (x86-64, AVX-512 GEMM): forward <= 2.2e-6, gradients <= 4e-6; the test prints them.
 *
 * The input batches were chosen by the generator so that every ReLU input of the train-mode
 * forward lies at least 1e-5 from 0 (metadata "relu_margin"). With a random batch, a
 * pre-activation a few ulps from 0 can land on the other side here than in PyTorch; one such
 * flipped ReLU moved the gradients of all earlier layers by about 1% (train-mode BN spreads it
 * over the channel), which says nothing about correctness. If a gradient check fails by ~1% after
 * a change of summation order, suspect such a flip before a bug: regenerate with a larger margin.
 */
#include "testutil.h"

#include "ops/op.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FWD_TOL 1e-4
#define GRAD_TOL 1e-3

static double worst_fwd, worst_grad;

/* max |a - b| / max |b| */
static double rel_err(const float *a, const float *b, int64_t n)
{
    double d = 0.0, m = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        d = isnan(e) || e > d ? (isnan(e) ? INFINITY : e) : d;
        m = fmax(m, fabs((double)b[i]));
    }
    return d / fmax(m, 1e-30);
}

static const axnn_st_tensor *need(const axnn_st_file *f, const char *name)
{
    const axnn_st_tensor *t = axnn_st_find(f, name);
    if (!t) fail_msg("%s: no tensor '%s'", f->path, name);
    return t;
}

static float *to_f32(const axnn_st_tensor *t, int64_t *n)
{
    *n = (int64_t)(t->nbytes / axnn_st_dtype_size(t->dtype));
    float *p = malloc((size_t)(*n ? *n : 1) * sizeof *p);
    axnn_st_to_f32(t, p);
    return p;
}

static void compare(const char *model, const char *what, const float *a, const axnn_st_tensor *gold,
                    double tol, double *worst)
{
    int64_t n;
    float *b = to_f32(gold, &n);
    double e = rel_err(a, b, n);
    if (e > *worst) *worst = e;
    if (!(e <= tol))
        fail_msg("%s: %s differs from PyTorch: max|a-b|/max|b| = %.3g (tolerance %.g)", model, what,
                 e, tol);
    free(b);
}

/* ------------------------------------------------------------------ vgg weights ---- */

/* Element i: scale * (2u - 1), u = (mix32(fnv1a32(name) + i * 0x9e3779b1) >> 8) / 2^24. Conv
 * weights: scale = sqrt(6 / fan_out) (the std of Kaiming-normal fan-out); linear weights
 * 1 / sqrt(fan_in). Same as hash_uniform() in tests/gen/gen_golden.py. */
static void hash_uniform(axnn_value *v)
{
    const int64_t *d = v->shape.d;
    tu_hash_uniform(v, v->shape.nd == 4 ? (float)sqrt(6.0 / (double)(d[0] * d[2] * d[3]))
                                        : (float)(1.0 / sqrt((double)d[1])));
}

static bool is_generated(const axnn_value *v)
{
    return v->kind == AXNN_VAL_PARAM && (v->shape.nd == 4 || v->shape.nd == 2);
}

static void load_vgg_weights(axnn_graph *g, const axnn_st_file *io)
{
    axnn_st_file *f;
    if (axnn_st_read(tu_data_path("vgg11_bn_bn.safetensors"), &f) != AXNN_OK)
        fail_msg("%s", axnn_last_error());
    for (int i = 0; i < g->nvals; i++) {
        axnn_value *v = &g->vals[i];
        if (is_generated(v)) {
            hash_uniform(v);
            assert_null(axnn_st_find(f, v->name));
        } else if (v->kind == AXNN_VAL_PARAM || v->kind == AXNN_VAL_BUFFER) {
            if (!axnn_st_find(f, v->name))
                fail_msg("vgg11_bn: '%s' neither generated nor stored", v->name);
        }
    }
    if (axnn_graph_load_weights(g, f, false) != AXNN_OK) fail_msg("%s", axnn_last_error());
    assert_int_equal(f->ntensors, 51);
    axnn_st_close(f);
    static const char *const checks[2] = {"features.0.weight", "classifier.6.weight"};
    for (int k = 0; k < 2; k++) { /* the hash reproduces PyTorch's first values bit for bit */
        char key[64];
        snprintf(key, sizeof key, "hash_check.%s", checks[k]);
        const axnn_st_tensor *t = need(io, key);
        assert_memory_equal(g->vals[axnn_graph_find_value(g, checks[k])].data, t->data, t->nbytes);
    }
}

/* ------------------------------------------------------------------ running ---- */

typedef struct mcase {
    const char *arch, *io_path;
    axnn_st_file *io;
    axnn_graph *g;
    axnn_plan *p;
    axnn_pool *pool;
    float *x;
    int32_t *labels;
    int n;
} mcase;

static void read_io(mcase *m)
{
    if (axnn_st_read(tu_data_path(m->io_path), &m->io) != AXNN_OK)
        fail_msg("%s", axnn_last_error());
    int64_t nx;
    const axnn_st_tensor *lt = need(m->io, "labels");
    m->x = to_f32(need(m->io, "input"), &nx);
    m->n = (int)lt->shape[0];
    int64_t *tmp = malloc((size_t)m->n * sizeof *tmp);
    axnn_st_to_i64(lt, tmp);
    m->labels = malloc((size_t)m->n * sizeof *m->labels);
    for (int i = 0; i < m->n; i++) m->labels[i] = (int32_t)tmp[i];
    free(tmp);
}

static void build(mcase *m)
{
    axnn_model_cfg cfg = {3, 32, 32, 10, 0.1f, 1};
    if (axnn_model_build(m->arch, &cfg, &m->g) != AXNN_OK) fail_msg("%s", axnn_last_error());
    m->pool = axnn_pool_create(2, NULL);
}

static void check_outputs(mcase *m, const char *mode)
{
    char key[64];
    snprintf(key, sizeof key, "logits_%s", mode);
    compare(m->arch, key, axnn_plan_logits(m->p), need(m->io, key), FWD_TOL, &worst_fwd);
    float loss = axnn_plan_loss(m->p);
    snprintf(key, sizeof key, "loss_%s", mode);
    compare(m->arch, key, &loss, need(m->io, key), FWD_TOL, &worst_fwd);
}

static void run_eval(mcase *m)
{
    m->p = axnn_plan_new(m->g, m->n, 2, false);
    assert_non_null(m->p);
    assert_int_equal(axnn_plan_forward(m->p, m->pool, m->x, m->labels, m->n), AXNN_OK);
    check_outputs(m, "eval");
}

/* Running statistics after the train-mode forward ("train_state.<name>"). */
static void check_train_state(mcase *m)
{
    int checked = 0;
    for (int i = 0; i < m->io->ntensors; i++) {
        const axnn_st_tensor *t = &m->io->tensors[i];
        if (strncmp(t->name, "train_state.", 12)) continue;
        int id = axnn_graph_find_value(m->g, t->name + 12);
        assert_true(id >= 0);
        const axnn_value *v = &m->g->vals[id];
        if (v->dtype == AXNN_I64) {
            int64_t want;
            axnn_st_to_i64(t, &want);
            assert_true(*(const int64_t *)v->data == want);
        } else {
            compare(m->arch, t->name, v->data, t, FWD_TOL, &worst_fwd);
        }
        checked++;
    }
    assert_true(checked > 0);
}

static void check_grads(mcase *m)
{
    int checked = 0;
    for (int i = 0; i < m->io->ntensors; i++) {
        const axnn_st_tensor *t = &m->io->tensors[i];
        if (strncmp(t->name, "grad.", 5)) continue;
        int id = axnn_graph_find_value(m->g, t->name + 5);
        assert_true(id >= 0 && axnn_plan_grad(m->p, id));
        compare(m->arch, t->name, axnn_plan_grad(m->p, id), t, GRAD_TOL, &worst_grad);
        checked++;
    }
    assert_true(checked > 0);
}

/* Train mode: batch statistics; dropout off (p = 0) to match the reference run. */
static void run_train(mcase *m)
{
    for (int k = 0; k < m->g->nnodes; k++)
        if (!strcmp(m->g->nodes[k].op->name, "dropout"))
            ((axnn_dropout_attr *)m->g->nodes[k].attr)->p = 0.0f;
    axnn_plan_free(m->p);
    m->p = axnn_plan_new(m->g, m->n, 2, true);
    assert_non_null(m->p);
    assert_int_equal(axnn_plan_forward(m->p, m->pool, m->x, m->labels, m->n), AXNN_OK);
    check_outputs(m, "train");
    check_train_state(m);
    axnn_plan_zero_param_grads(m->p);
    assert_int_equal(axnn_plan_backward(m->p, m->pool), AXNN_OK);
    check_grads(m);
}

static void finish(mcase *m)
{
    print_message("%s: worst forward error %.3g, worst gradient error %.3g (max|a-b|/max|b|)\n",
                  m->arch, worst_fwd, worst_grad);
    worst_fwd = worst_grad = 0.0;
    axnn_pool_destroy(m->pool);
    axnn_plan_free(m->p);
    axnn_graph_free(m->g);
    axnn_st_close(m->io);
    free(m->x);
    free(m->labels);
}

static void test_resnet20(void **state)
{
    mcase m = {"resnet20", "resnet20_io.safetensors"};
    read_io(&m);
    build(&m);
    axnn_st_file *w;
    if (axnn_st_read(tu_data_path("resnet20_weights.safetensors"), &w) != AXNN_OK)
        fail_msg("%s", axnn_last_error());
    if (axnn_graph_load_weights(m.g, w, true) != AXNN_OK) fail_msg("%s", axnn_last_error());
    axnn_st_close(w);
    run_eval(&m);
    run_train(&m);
    finish(&m);
}

static void test_vgg11_bn(void **state)
{
    mcase m = {"vgg11_bn", "vgg11_bn_io.safetensors"};
    read_io(&m);
    build(&m);
    load_vgg_weights(m.g, m.io);
    run_eval(&m);
    run_train(&m);
    finish(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resnet20),
        cmocka_unit_test(test_vgg11_bn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
