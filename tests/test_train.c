/* Training: optimizer update rules against hand computation, schedules, a small run that must
 * learn, determinism for a fixed seed and thread count, and resume equal to an uninterrupted
 * run. */
#include "testutil.h"

#include "axnn/train.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* A graph with one 1x1 parameter vector p (as a linear layer's weight) is enough to test the
 * update rules: we set the gradient by hand. */
static axnn_graph *one_param_graph(float p0, axnn_plan **plan)
{
    axnn_graph *g = axnn_graph_new();
    int x = axnn_input(g, 1, 1, 1);
    int y = axnn_linear(g, "fc", axnn_flatten(g, x), 1, false);
    assert_true(y >= 0);
    axnn_value *w = &g->vals[axnn_graph_find_value(g, "fc.weight")];
    ((float *)w->data)[0] = p0;
    *plan = axnn_plan_new(g, 1, 1, true);
    assert_non_null(*plan);
    return g;
}

static void test_sgd_nesterov_rule(void **state)
{
    axnn_plan *pl;
    axnn_graph *g = one_param_graph(1.0f, &pl);
    int wid = axnn_graph_find_value(g, "fc.weight");
    axnn_value *w = &g->vals[wid];
    float *wgrad = axnn_plan_grad(pl, wid);
    assert_non_null(wgrad);
    axnn_optim_cfg c = {.kind = AXNN_OPT_SGD, .lr = 0.1f, .momentum = 0.9f, .nesterov = true,
                        .weight_decay = 0.01f, .decay_all = true};
    axnn_optimizer *o;
    assert_int_equal(axnn_optim_create(pl, &c, &o), AXNN_OK);
    double p = 1.0, buf = 0.0;
    const float grads[3] = {0.5f, -0.25f, 1.0f};
    for (int t = 0; t < 3; t++) {
        wgrad[0] = grads[t];
        axnn_optim_step(o, 0.1f, NULL);
        double d = grads[t] + 0.01 * p;
        buf = 0.9 * buf + d;
        p -= 0.1 * (d + 0.9 * buf);
        assert_float_equal(((float *)w->data)[0], p, 1e-6);
    }
    axnn_optim_free(o);
    axnn_plan_free(pl);
    axnn_graph_free(g);
}

static void test_adamw_rule(void **state)
{
    axnn_plan *pl;
    axnn_graph *g = one_param_graph(2.0f, &pl);
    int wid = axnn_graph_find_value(g, "fc.weight");
    axnn_value *w = &g->vals[wid];
    float *wgrad = axnn_plan_grad(pl, wid);
    assert_non_null(wgrad);
    axnn_optim_cfg c = {.kind = AXNN_OPT_ADAMW, .lr = 0.01f, .weight_decay = 0.1f, .beta1 = 0.9f,
                        .beta2 = 0.999f, .eps = 1e-8f, .decay_all = true};
    axnn_optimizer *o;
    assert_int_equal(axnn_optim_create(pl, &c, &o), AXNN_OK);
    double p = 2.0, m = 0, v = 0;
    const float grads[4] = {0.3f, -0.1f, 0.2f, 0.05f};
    for (int t = 1; t <= 4; t++) {
        double gr = grads[t - 1];
        wgrad[0] = grads[t - 1];
        axnn_optim_step(o, 0.01f, NULL);
        p *= 1.0 - 0.01 * 0.1;
        m = 0.9 * m + 0.1 * gr;
        v = 0.999 * v + 0.001 * gr * gr;
        double mh = m / (1 - pow(0.9, t)), vh = v / (1 - pow(0.999, t));
        p -= 0.01 * mh / (sqrt(vh) + 1e-8);
        assert_float_equal(((float *)w->data)[0], p, 1e-5);
    }
    axnn_optim_free(o);
    axnn_plan_free(pl);
    axnn_graph_free(g);
}

static void test_clip_and_no_decay(void **state)
{
    axnn_plan *pl;
    axnn_graph *g = one_param_graph(1.0f, &pl);
    int wid = axnn_graph_find_value(g, "fc.weight");
    axnn_value *w = &g->vals[wid];
    float *wgrad = axnn_plan_grad(pl, wid);
    assert_non_null(wgrad);
    w->flags |= AXNN_VF_NO_DECAY;
    axnn_optim_cfg c = {.kind = AXNN_OPT_SGD, .lr = 1.0f, .weight_decay = 0.5f, .clip_norm = 0.5f};
    axnn_optimizer *o;
    assert_int_equal(axnn_optim_create(pl, &c, &o), AXNN_OK);
    wgrad[0] = 2.0f;
    float norm = axnn_optim_step(o, 1.0f, NULL);
    assert_float_equal(norm, 2.0f, 1e-6);
    /* clipped gradient 0.5, no decay: p = 1 - 0.5 */
    assert_float_equal(((float *)w->data)[0], 0.5f, 1e-5);
    axnn_optim_free(o);
    axnn_plan_free(pl);
    axnn_graph_free(g);
}

static void test_schedules(void **state)
{
    axnn_sched_cfg cos = {.kind = AXNN_SCHED_COSINE};
    assert_float_equal(axnn_sched_lr(&cos, 0.1f, 0, 100, 10), 0.1f, 1e-7);
    assert_float_equal(axnn_sched_lr(&cos, 0.1f, 50, 100, 10), 0.05f, 1e-6);
    assert_float_equal(axnn_sched_lr(&cos, 0.1f, 100, 100, 10), 0.0f, 1e-7);
    axnn_sched_cfg warm = {.kind = AXNN_SCHED_COSINE, .warmup_epochs = 1, .warmup_start = 0.0f};
    assert_float_equal(axnn_sched_lr(&warm, 0.1f, 5, 110, 10), 0.05f, 1e-6);
    assert_float_equal(axnn_sched_lr(&warm, 0.1f, 10, 110, 10), 0.1f, 1e-6);
    assert_float_equal(axnn_sched_lr(&warm, 0.1f, 60, 110, 10), 0.05f, 1e-6);
    axnn_sched_cfg ms = {.kind = AXNN_SCHED_MULTISTEP, .milestones = {2, 4}, .nmilestones = 2, .gamma = 0.1f};
    assert_float_equal(axnn_sched_lr(&ms, 1.0f, 19, 100, 10), 1.0f, 1e-7);
    assert_float_equal(axnn_sched_lr(&ms, 1.0f, 20, 100, 10), 0.1f, 1e-7);
    assert_float_equal(axnn_sched_lr(&ms, 1.0f, 45, 100, 10), 0.01f, 1e-7);
}

/* Two classes: a bright square top-left (0) or bottom-right (1), with noise. */
static void toy_dataset(axnn_dataset *d, int n, uint64_t seed)
{
    assert_int_equal(axnn_dataset_alloc(d, "toy", n, 1, 8, 8, 2), AXNN_OK);
    axnn_rng r;
    axnn_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        uint8_t *im = d->images + (int64_t)i * 64;
        int cls = i % 2;
        for (int k = 0; k < 64; k++) im[k] = (uint8_t)axnn_rng_below(&r, 60);
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++) im[(y + cls * 5) * 8 + x + cls * 5] = 200;
        d->labels[i] = cls;
    }
}

static axnn_graph *toy_model(void)
{
    axnn_model_cfg mc = {1, 8, 8, 2, 0.0f, 7};
    axnn_graph *g;
    assert_int_equal(axnn_model_build("resnet20", &mc, &g), AXNN_OK);
    return g;
}

static axnn_train_cfg toy_cfg(const char *out, int epochs)
{
    axnn_train_cfg c = {.epochs = epochs, .batch = 16, .threads = 2, .seed = 3, .out_dir = out,
                        .eval_every = 1};
    c.opt = (axnn_optim_cfg){.kind = AXNN_OPT_SGD, .lr = 0.05f, .momentum = 0.9f, .nesterov = true,
                             .weight_decay = 5e-4f, .decay_all = true};
    c.sched = (axnn_sched_cfg){.kind = AXNN_SCHED_COSINE};
    return c;
}

static axnn_preproc toy_pp(void)
{
    return (axnn_preproc){8, 8, {0.25f}, {0.3f}};
}

/* Copies all parameters and buffers of g into one array (for bitwise comparison). */
static float *snapshot(const axnn_graph *g, int64_t *n)
{
    int64_t total = 0;
    for (int i = 0; i < g->nvals; i++)
        if (g->vals[i].kind == AXNN_VAL_PARAM || g->vals[i].kind == AXNN_VAL_BUFFER)
            total += axnn_shape_numel(&g->vals[i].shape) * (int64_t)axnn_dtype_size(g->vals[i].dtype);
    char *buf = malloc((size_t)total), *p = buf;
    for (int i = 0; i < g->nvals; i++)
        if (g->vals[i].kind == AXNN_VAL_PARAM || g->vals[i].kind == AXNN_VAL_BUFFER) {
            size_t b = (size_t)axnn_shape_numel(&g->vals[i].shape) * axnn_dtype_size(g->vals[i].dtype);
            memcpy(p, g->vals[i].data, b);
            p += b;
        }
    *n = total;
    return (float *)buf;
}

static void test_learns_deterministic_and_resumes(void **state)
{
    axnn_dataset tr = {0}, te = {0};
    toy_dataset(&tr, 128, 1);
    toy_dataset(&te, 64, 2);
    axnn_preproc pp = toy_pp();
    char *dir = tu_tmpdir();
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);

    /* Run A: 3 epochs straight. */
    axnn_graph *ga = toy_model();
    axnn_train_cfg ca = toy_cfg(a, 3);
    axnn_train_result ra;
    assert_int_equal(axnn_train(ga, &tr, &te, &pp, &ca, NULL, &ra), AXNN_OK);
    assert_true(ra.test.accuracy >= 0.95);
    assert_int_equal(ra.epochs_done, 3);

    /* Run B: stopped after 1 of 3 epochs, then resumed in a fresh graph: must equal A bit for
     * bit. */
    axnn_graph *gb = toy_model();
    axnn_train_cfg cb = toy_cfg(b, 3);
    cb.stop_after = 1;
    axnn_train_result rb;
    assert_int_equal(axnn_train(gb, &tr, &te, &pp, &cb, NULL, &rb), AXNN_OK);
    assert_int_equal(rb.epochs_done, 1);
    axnn_graph_free(gb);
    gb = toy_model();
    cb.stop_after = 0;
    cb.resume = true;
    assert_int_equal(axnn_train(gb, &tr, &te, &pp, &cb, NULL, &rb), AXNN_OK);
    assert_int_equal(rb.epochs_done, 3);
    int64_t na, nb;
    float *sa = snapshot(ga, &na), *sb = snapshot(gb, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(sa, sb, (size_t)na);
    assert_float_equal(ra.test.accuracy, rb.test.accuracy, 0.0);

    /* metrics.jsonl of B has exactly 3 lines, epochs 1..3. */
    char path[600], line[1024];
    snprintf(path, sizeof path, "%s/metrics.jsonl", b);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int lines = 0, ep;
    while (fgets(line, sizeof line, f)) {
        assert_int_equal(sscanf(line, "{\"epoch\": %d", &ep), 1);
        assert_int_equal(ep, ++lines);
    }
    fclose(f);
    assert_int_equal(lines, 3);
    free(sa);
    free(sb);
    axnn_graph_free(ga);
    axnn_graph_free(gb);
    axnn_dataset_free(&tr);
    axnn_dataset_free(&te);
    tu_rmtree(dir);
    free(dir);
}

static void test_checkpoint_metadata_roundtrip(void **state)
{
    axnn_graph *g = toy_model();
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    axnn_ckpt_meta m = {.model = g->info, .pre = toy_pp(), .epoch = 4, .step = 99, .seed = 12};
    snprintf(m.dataset, sizeof m.dataset, "toy");
    assert_int_equal(axnn_checkpoint_save(path, g, &m, NULL), AXNN_OK);
    axnn_st_file *f;
    assert_int_equal(axnn_st_read(path, &f), AXNN_OK);
    axnn_ckpt_meta r;
    assert_int_equal(axnn_checkpoint_read_meta(f, &r), AXNN_OK);
    assert_string_equal(r.model.arch, "resnet20");
    assert_int_equal(r.model.num_classes, 2);
    assert_int_equal(r.model.height, 8);
    assert_int_equal(r.epoch, 4);
    assert_int_equal(r.step, 99);
    assert_string_equal(r.dataset, "toy");
    assert_float_equal(r.pre.mean[0], 0.25f, 1e-7);
    assert_float_equal(r.pre.std[0], 0.3f, 1e-7);
    axnn_st_close(f);
    axnn_graph_free(g);
    tu_rmtree(dir);
    free(dir);
}

static void test_bad_train_config(void **state)
{
    axnn_dataset tr = {0};
    toy_dataset(&tr, 32, 1);
    axnn_preproc pp = toy_pp();
    axnn_graph *g = toy_model();
    char *dir = tu_tmpdir();
    axnn_train_cfg c = toy_cfg(dir, 0);
    axnn_train_result r;
    assert_int_equal(axnn_train(g, &tr, NULL, &pp, &c, NULL, &r), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "epochs"));
    c = toy_cfg(dir, 1);
    c.batch = 64; /* larger than the 32-image set: no full batch */
    assert_int_equal(axnn_train(g, &tr, NULL, &pp, &c, NULL, &r), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "batch"));
    axnn_graph_free(g);
    axnn_dataset_free(&tr);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_nesterov_rule),
        cmocka_unit_test(test_adamw_rule),
        cmocka_unit_test(test_clip_and_no_decay),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_checkpoint_metadata_roundtrip),
        cmocka_unit_test(test_bad_train_config),
        cmocka_unit_test(test_learns_deterministic_and_resumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
