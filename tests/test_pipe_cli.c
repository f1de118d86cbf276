/* `axnn pipe` on the command line: output on the fake sysfs trees, and bad input (offline or
 * repeated CPUs in --groups, more stages than layers, zero images, a profile of another network,
 * a file that is not what it claims): one line naming the flag or file, a non-zero exit; a
 * profile from another machine only warns. */
#include "testutil.h"
#include "axnn/pipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char *dir;

typedef struct result {
    int rc;
    char out[16384], err[4096];
} result;

static void slurp(const char *path, char *buf, size_t n)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t k = fread(buf, 1, n - 1, f);
    buf[k] = 0;
    fclose(f);
}

/* Runs "axnn ARGS" and captures its exit status, stdout and stderr. */
static void run(result *r, const char *args)
{
    const char *bin = getenv("AXNN_BIN");
    if (!bin) fail_msg("AXNN_BIN is not set");
    char cmd[4096], o[600], e[600];
    snprintf(o, sizeof o, "%s/out.txt", dir);
    snprintf(e, sizeof e, "%s/err.txt", dir);
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s", bin, args, o, e);
    int st = system(cmd);
    r->rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    slurp(o, r->out, sizeof r->out);
    slurp(e, r->err, sizeof r->err);
}

/* A non-zero exit and exactly one error line on stderr (warnings may precede it), which
 * contains `what`. */
static void expect_error(const char *args, const char *what)
{
    result r;
    run(&r, args);
    const char *e = strstr(r.err, "axnn: error: ");
    if (r.rc == 0 || !e || strstr(e + 1, "axnn: error: ") || !strstr(e, what) ||
        strchr(e, '\n') != e + strlen(e) - 1)
        fail_msg("axnn %s: rc %d, stderr '%s' (wanted one line with '%s')", args, r.rc, r.err,
                 what);
}

static void test_topology_output(void **st)
{
    (void)st;
    result r;
    char args[1024];
    snprintf(args, sizeof args, "pipe topology --sysfs %s", tu_data_path("sysfs/hikey970"));
    run(&r, args);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "group 0: 4 x A53, CPUs 0-3, sharing L2"));
    assert_non_null(strstr(r.out, "group 1: 4 x A73, CPUs 4-7, sharing L2"));
    snprintf(args, sizeof args, "pipe topology --sysfs %s", tu_data_path("sysfs/offline"));
    run(&r, args);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "6 online CPUs (0-2,4-5,7), 2 offline (3,6)"));
    snprintf(args, sizeof args, "pipe topology --sysfs %s --simulate hikey970",
             tu_data_path("sysfs/hikey970"));
    run(&r, args);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "SIMULATED"));
    run(&r, "pipe topology");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "core groups:"));
}

static void test_bad_groups(void **st)
{
    (void)st;
    char args[1024];
    snprintf(args, sizeof args, "pipe topology --sysfs %s --groups 0-3,4-5",
             tu_data_path("sysfs/offline"));
    expect_error(args, "--groups: CPU 3 is offline");
    snprintf(args, sizeof args, "pipe topology --sysfs %s --groups 0-2,1",
             tu_data_path("sysfs/offline"));
    expect_error(args, "--groups: CPU 1 appears twice");
    snprintf(args, sizeof args, "pipe topology --sysfs %s --groups 0-5",
             tu_data_path("sysfs/hikey970"));
    expect_error(args, "mixes core types");
    expect_error("pipe topology --sysfs /nonexistent/sys",
                 "/nonexistent/sys/devices/system/cpu/online");
    expect_error("pipe topology --simulate nosuch", "--simulate");
    expect_error("pipe frobnicate", "unknown subcommand");
}

/* A fitted model and a 3-layer profile of resnet20 "from another machine" in dir. */
static void write_inputs(char *model, char *profile, size_t n)
{
    axnn_pipe_profile p;
    memset(&p, 0, sizeof p);
    snprintf(p.machine, sizeof p.machine, "another machine");
    snprintf(p.network, sizeof p.network, "resnet20");
    p.ntypes = 1;
    snprintf(p.type_name[0], 32, "core");
    p.nconf = 2;
    p.conf[0] = (axnn_pipe_conf){0, 1};
    p.conf[1] = (axnn_pipe_conf){0, 2};
    p.nsamples = 3;
    p.samples = calloc(3, sizeof *p.samples);
    for (int i = 0; i < 3; i++) {
        axnn_pipe_sample *s = &p.samples[i];
        snprintf(s->name, sizeof s->name, "l%d", i);
        s->d = (axnn_pipe_desc){.kind = i == 2 ? AXNN_PK_LINEAR : AXNN_PK_CONV,
                                .batch = 1,
                                .in_c = 16,
                                .in_h = 8 >> i,
                                .in_w = 8 >> i,
                                .out_c = 16,
                                .out_h = 8 >> i,
                                .out_w = 8 >> i,
                                .kh = 3,
                                .kw = 3,
                                .stride = 1,
                                .macs = 100000 >> i,
                                .in_bytes = 4096,
                                .out_bytes = 4096,
                                .w_bytes = 9216};
        s->t[0] = 1e-4 * (i + 1);
        s->t[1] = 0.6e-4 * (i + 1);
    }
    snprintf(profile, n, "%s/profile-resnet20.json", dir);
    assert_int_equal(axnn_pipe_profile_write(&p, profile), AXNN_OK);
    /* the model: two samples of every kind, times growing with the work */
    axnn_pipe_sample *fit = calloc(2 * AXNN_PK_COUNT, sizeof *fit);
    for (int i = 0; i < 2 * AXNN_PK_COUNT; i++) {
        fit[i].d = p.samples[i % 2].d;
        fit[i].d.kind = (axnn_pipe_kind)(i / 2);
        fit[i].t[0] = 1e-5 * (1 + i % 2);
        fit[i].t[1] = 0.7e-5 * (1 + i % 2);
    }
    axnn_pipe_sample *net = p.samples;
    p.samples = fit;
    p.nsamples = 2 * AXNN_PK_COUNT;
    axnn_pipe_model *m = calloc(1, sizeof *m);
    assert_int_equal(axnn_pipe_fit(&p, m), AXNN_OK);
    free(fit);
    p.samples = net;
    snprintf(model, n, "%s/model.json", dir);
    assert_int_equal(axnn_pipe_model_write(m, model), AXNN_OK);
    free(m);
    axnn_pipe_profile_free(&p);
}

static void test_search(void **st)
{
    (void)st;
    char model[600], profile[600], args[2048];
    write_inputs(model, profile, sizeof model);
    result r;
    /* from the measured profile: works, warns about the machine */
    snprintf(args, sizeof args, "pipe search --profile %s --exhaustive", profile);
    run(&r, args);
    if (r.rc) fail_msg("%s: %s", args, r.err);
    assert_non_null(strstr(r.err, "warning"));
    assert_non_null(strstr(r.err, "another machine"));
    assert_non_null(strstr(r.out, "best plan"));
    assert_non_null(strstr(r.out, "(equal)"));
    snprintf(args, sizeof args, "pipe search --profile %s --stages 4", profile);
    expect_error(args, "--stages: 4 stages but the network has 3 layers");
    snprintf(args, sizeof args, "pipe search --profile %s --arch vgg11_bn", profile);
    expect_error(args, "is a profile of 'resnet20', not of vgg11_bn");
    snprintf(args, sizeof args, "pipe search --profile %s", model);
    expect_error(args, "model.json");
    snprintf(args, sizeof args, "pipe search --model %s", profile);
    expect_error(args, "profile-resnet20.json");
    snprintf(args, sizeof args, "pipe search --model %s --stages 100", model);
    expect_error(args, "--stages: 100 stages but the network has 24 layers");
    snprintf(args, sizeof args, "pipe search --model %s --sysfs %s", model,
             tu_data_path("sysfs/intel-8p8e"));
    expect_error(args, "no core type 'P-core'");
    /* predictions on a simulated big.LITTLE */
    snprintf(args, sizeof args,
             "pipe search --model %s --sysfs %s --simulate hikey970 --out %s/plan.json", model,
             tu_data_path("sysfs/hikey970"), dir);
    run(&r, args);
    if (r.rc) fail_msg("%s: %s", args, r.err);
    assert_non_null(strstr(r.out, "SIMULATED"));
    assert_non_null(strstr(r.out, "A73"));
    char plan[4096];
    snprintf(args, sizeof args, "%s/plan.json", dir);
    slurp(args, plan, sizeof plan);
    assert_non_null(strstr(plan, "\"simulated\":\ttrue"));
}

static void test_calibrate_bad(void **st)
{
    (void)st;
    expect_error("pipe calibrate --batch 0", "--batch");
    expect_error("pipe calibrate --stat mean", "--stat");
    expect_error("pipe calibrate --repeats 0", "--repeats");
    expect_error("pipe profile --batch 0", "--batch");
    expect_error("pipe profile --arch resnet21", "unknown model 'resnet21'");
}

static int setup(void **st)
{
    (void)st;
    dir = tu_tmpdir();
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topology_output),
        cmocka_unit_test(test_bad_groups),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_calibrate_bad),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
