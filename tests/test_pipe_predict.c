/* The predictor: NNLS, fitting a model whose true coefficients are known, profile and model
 * files (round trip and bad files), timing synthetic layers through the graph, reading a
 * network's layers with their legal cuts, and the problem built for a simulated topology. */
#include "testutil.h"
#include "axnn/pipe.h"
#include "pipe/nnls.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_nnls(void **st)
{
    (void)st;
    /* b = 2 a0 + 0 a1 + 3 a2 exactly; unconstrained LS would also be exact */
    double A[5 * 3], b[5], x[3];
    axnn_rng r;
    axnn_rng_seed(&r, 5);
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 3; j++) A[i * 3 + j] = axnn_rng_uniform(&r) * (j == 2 ? 1e6 : 1);
        b[i] = 2 * A[i * 3] + 3 * A[i * 3 + 2];
    }
    assert_true(pipe_nnls(A, b, 5, 3, x));
    assert_true(fabs(x[0] - 2) < 1e-6 && fabs(x[1]) < 1e-6 && fabs(x[2] - 3) < 1e-6);
    /* b = -a0 + a1: the best non-negative fit has x0 = 0 */
    double A2[4 * 2] = {1, 0, 0, 1, 1, 1, 2, 1}, b2[4], x2[2];
    for (int i = 0; i < 4; i++) b2[i] = -A2[i * 2] + A2[i * 2 + 1];
    assert_true(pipe_nnls(A2, b2, 4, 2, x2));
    assert_true(x2[0] == 0 && x2[1] >= 0);
}

/* A profile whose times follow known coefficients exactly. */
static void known_profile(axnn_pipe_profile *p, const double coef[AXNN_PIPE_NFEAT])
{
    memset(p, 0, sizeof *p);
    snprintf(p->machine, sizeof p->machine, "test machine");
    p->ntypes = 1;
    snprintf(p->type_name[0], 32, "core");
    p->nconf = 1;
    p->conf[0] = (axnn_pipe_conf){0, 1};
    p->nsamples = 40;
    p->samples = calloc(40, sizeof *p->samples);
    axnn_rng r;
    axnn_rng_seed(&r, 9);
    for (int i = 0; i < 40; i++) {
        axnn_pipe_desc *d = &p->samples[i].d;
        d->kind = AXNN_PK_CONV;
        d->batch = 1 + (int)axnn_rng_below(&r, 4);
        d->in_c = 16 << axnn_rng_below(&r, 3);
        d->out_c = d->in_c;
        d->in_h = d->in_w = d->out_h = d->out_w = 4 << axnn_rng_below(&r, 3);
        d->kh = d->kw = 1 + 2 * (int)axnn_rng_below(&r, 2);
        d->stride = 1;
        d->residual = axnn_rng_below(&r, 2);
        d->macs = (int64_t)d->in_c * d->out_c * d->kh * d->kw * d->out_h * d->out_w;
        d->in_bytes = d->out_bytes = 4LL * d->in_c * d->in_h * d->in_w;
        d->w_bytes = 4LL * d->in_c * d->out_c * d->kh * d->kw;
        double f[AXNN_PIPE_NFEAT], t = 0;
        axnn_pipe_features(d, f);
        for (int j = 0; j < AXNN_PIPE_NFEAT; j++) t += coef[j] * f[j];
        p->samples[i].t[0] = t;
        snprintf(p->samples[i].name, sizeof p->samples[i].name, "l%d", i);
    }
}

static void test_fit_known(void **st)
{
    (void)st;
    const double coef[AXNN_PIPE_NFEAT] = {2e-6, 1e-10, 4e-11, 5e-11, 2e-10, 1e-10, 0, 0, 3e-11};
    axnn_pipe_profile p;
    known_profile(&p, coef);
    axnn_pipe_model *m = calloc(1, sizeof *m);
    assert_int_equal(axnn_pipe_fit(&p, m), AXNN_OK);
    assert_true(m->fitted[0][AXNN_PK_CONV]);
    assert_false(m->fitted[0][AXNN_PK_POOL]);
    assert_true(axnn_pipe_mape(m, &p, 0, 1) < 1e-4);
    assert_true(axnn_pipe_mape(m, &p, 0, 5) < 1e-4);
    /* a pool layer falls back to ELTWISE, which is not fitted: no prediction */
    axnn_pipe_desc d = p.samples[0].d;
    d.kind = AXNN_PK_POOL;
    assert_true(isnan(axnn_pipe_predict(m, 0, &d)));
    assert_true(isnan(axnn_pipe_predict(m, 3, &p.samples[0].d)));

    /* files round trip */
    char *dir = tu_tmpdir(), path[512], mpath[512];
    snprintf(path, sizeof path, "%s/profile.json", dir);
    snprintf(mpath, sizeof mpath, "%s/model.json", dir);
    p.cut = calloc(40, sizeof *p.cut);
    p.cut[3] = true;
    assert_int_equal(axnn_pipe_profile_write(&p, path), AXNN_OK);
    assert_int_equal(axnn_pipe_model_write(m, mpath), AXNN_OK);
    axnn_pipe_profile q;
    assert_int_equal(axnn_pipe_profile_read(path, &q), AXNN_OK);
    assert_int_equal(q.nsamples, 40);
    assert_true(q.cut && q.cut[3] && !q.cut[4]);
    assert_int_equal(q.samples[7].d.macs, p.samples[7].d.macs);
    assert_true(fabs(q.samples[7].t[0] / p.samples[7].t[0] - 1) < 1e-13);
    axnn_pipe_model *m2 = calloc(1, sizeof *m2);
    assert_int_equal(axnn_pipe_model_read(mpath, m2), AXNN_OK);
    for (int i = 0; i < 40; i++)
        if (fabs(axnn_pipe_predict(m2, 0, &q.samples[i].d) /
                     axnn_pipe_predict(m, 0, &p.samples[i].d) -
                 1) > 1e-13) /* cJSON prints 15 digits when they read back within a few ulps */
            fail_msg("layer %d: %.17g after reading, %.17g before", i,
                     axnn_pipe_predict(m2, 0, &q.samples[i].d),
                     axnn_pipe_predict(m, 0, &p.samples[i].d));
    axnn_pipe_profile_free(&q);
    /* bad files name themselves */
    assert_int_equal(axnn_pipe_model_read(path, m2), AXNN_ERR_FORMAT);
    assert_non_null(strstr(axnn_last_error(), "profile.json"));
    assert_non_null(strstr(axnn_last_error(), "axnn-pipe-model-1"));
    tu_write_file(path, "{\"format\": \"axnn-pipe-profile-1\", \"machine\": \"x\"}", 48);
    assert_int_equal(axnn_pipe_profile_read(path, &q), AXNN_ERR_FORMAT);
    assert_non_null(strstr(axnn_last_error(), "profile.json"));
    tu_write_file(path, "{\"format\": ", 11);
    assert_int_equal(axnn_pipe_profile_read(path, &q), AXNN_ERR_FORMAT);
    assert_non_null(strstr(axnn_last_error(), "not valid JSON"));
    assert_int_equal(axnn_pipe_profile_read("/nonexistent/p.json", &q), AXNN_ERR_IO);
    axnn_pipe_profile_free(&q);
    axnn_pipe_profile_free(&p);
    tu_rmtree(dir);
    free(dir);
    free(m);
    free(m2);
}

static const int cpu0[1] = {0};

static void test_bench_synth(void **st)
{
    (void)st;
    axnn_pipe_bench_opts o = {.batch = 1, .warmup = 1, .repeats = 3};
    axnn_pipe_synth conv = {"conv", 4, 16, 16, 16, 32, 3, 2, 1, true, false, true, 0};
    axnn_pipe_desc d;
    double t = 0;
    assert_int_equal(axnn_pipe_bench_synth(&conv, cpu0, 1, &o, &d, &t), AXNN_OK);
    assert_true(t > 0 && t < 1);
    assert_int_equal(d.kind, AXNN_PK_CONV);
    assert_true(d.bn && d.relu && !d.residual);
    assert_int_equal(d.out_c, 32);
    assert_int_equal(d.out_h, 8);
    assert_int_equal(d.stride, 2);
    assert_true(d.macs >= 32LL * 16 * 9 * 8 * 8); /* + the BatchNorm's, if it counts any */
    assert_int_equal(d.in_bytes, 4 * 16 * 16 * 16);
    assert_int_equal(d.out_bytes, 4 * 32 * 8 * 8);
    /* a linear layer on tokens: the tokens prefix is not part of the layer */
    axnn_pipe_synth lin = {"linear", 3, 64, 17, 1, 192, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(axnn_pipe_bench_synth(&lin, cpu0, 1, &o, &d, &t), AXNN_OK);
    assert_int_equal(d.kind, AXNN_PK_LINEAR);
    assert_int_equal(d.in_c, 64);
    assert_int_equal(d.in_h, 17);
    assert_int_equal(d.out_c, 192);
    assert_int_equal(d.macs, 17LL * 64 * 192);
    assert_int_equal(d.w_bytes, 4LL * (64 * 192 + 192));
    /* every layer of the quick sweep builds and runs */
    int n;
    const axnn_pipe_synth *sw = axnn_pipe_sweep(true, &n);
    o.repeats = 1;
    o.warmup = 0;
    for (int i = 0; i < n; i++)
        if (axnn_pipe_bench_synth(&sw[i], cpu0, 1, &o, &d, &t))
            fail_msg("sweep layer %d (%s): %s", i, sw[i].op, axnn_last_error());
    int nfull;
    axnn_pipe_sweep(false, &nfull);
    print_message("sweep: %d layers, quick %d\n", nfull, n);
    o.batch = 0;
    assert_int_equal(axnn_pipe_bench_synth(&conv, cpu0, 1, &o, &d, &t), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "--batch"));
}

static void test_model_layers(void **st)
{
    (void)st;
    axnn_pipe_synth *L;
    axnn_pipe_desc *D;
    char(*N)[64];
    bool *cut;
    int n;
    assert_int_equal(axnn_pipe_model_layers("resnet20", 3, 32, &L, &D, &N, &cut, &n), AXNN_OK);
    /* conv1 chain, 9 blocks x 2 chains, 2 shortcut chains, pool, flatten, fc */
    int convs = 0, legal = 0;
    for (int i = 0; i < n; i++) {
        convs += D[i].kind == AXNN_PK_CONV;
        assert_non_null(L[i].op);
    }
    for (int i = 0; i + 1 < n; i++) legal += cut[i];
    print_message("resnet20: %d layers (%d conv chains), %d legal cuts\n", n, convs, legal);
    assert_int_equal(convs, 21);
    assert_string_equal(L[0].op, "conv");
    assert_true(D[0].bn && D[0].relu);
    assert_true(cut[0]);  /* after conv1: one activation */
    assert_false(cut[1]); /* inside layer1.0: the block input waits for the residual */
    assert_true(D[2].residual);
    assert_true(cut[2]); /* after layer1.0 */
    assert_true(cut[n - 2]);
    free(L);
    free(D);
    free(N);
    free(cut);
    assert_int_equal(axnn_pipe_model_layers("resnet21", 3, 32, &L, &D, &N, &cut, &n), AXNN_ERR_ARG);
}

/* A simulated HiKey 970: A73 at the host's speed, A53 at half; 4 threads extrapolated. */
static void test_problem_simulated(void **st)
{
    (void)st;
    axnn_pipe_topo *t;
    assert_int_equal(axnn_pipe_topo_read(tu_data_path("sysfs/hikey970"), &t), AXNN_OK);
    const char host[1][32] = {"core"};
    axnn_pipe_conf hc[2] = {{0, 1}, {0, 2}};
    double th[2 * 2] = {1.0, 0.6, 2.0, 1.0}; /* 2 layers x 2 configs */
    double *time = malloc(2 * AXNN_PIPE_MAX_TYPES * AXNN_PIPE_MAX_THREADS * sizeof *time);
    axnn_pipe_problem p;
    assert_int_equal(axnn_pipe_problem_build(&p, t, host, 1, hc, 2, th, 2, time), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "no core type 'A53'"));
    assert_int_equal(axnn_pipe_topo_simulate(t, "hikey970", axnn_pipe_sim_preset("hikey970")),
                     AXNN_OK);
    assert_int_equal(axnn_pipe_problem_build(&p, t, host, 1, hc, 2, th, 2, time), AXNN_OK);
    int a53 = t->cpus[0].type, a73 = t->cpus[4].type;
    assert_int_equal(p.maxthreads, 4);
    assert_true(fabs(axnn_pipe_time(&p, 0, a73, 1) - 1.0) < 1e-12);
    assert_true(fabs(axnn_pipe_time(&p, 0, a53, 2) - 1.2) < 1e-12);
    /* layer 0: s = (0.6 - 0.5) / 0.5 = 0.2, t(4) = 0.2 + 0.8 / 4 = 0.4 */
    assert_true(fabs(axnn_pipe_time(&p, 0, a73, 4) - 0.4) < 1e-12);
    assert_true(fabs(axnn_pipe_time(&p, 1, a73, 4) - 0.5) < 1e-12); /* s = 0: 2 / 4 */
    axnn_pipe_plan *plan;
    assert_int_equal(axnn_pipe_search(&p, &plan), AXNN_OK);
    assert_true(plan->throughput > 1 / 0.9); /* better than 0.4 + 0.5 on four A73s */
    free(plan);
    free(time);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nnls),
        cmocka_unit_test(test_fit_known),
        cmocka_unit_test(test_bench_synth),
        cmocka_unit_test(test_model_layers),
        cmocka_unit_test(test_problem_simulated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
