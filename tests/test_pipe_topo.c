/* Core topology on the fake sysfs trees of tests/data/sysfs (HiKey 970, Intel hybrid 8P+8E,
 * a homogeneous 16-core part, a machine with offline CPUs), CPU lists, --groups overrides and
 * simulated speeds; and that this machine's own /sys reads. */
#include "testutil.h"
#include "axnn/pipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static axnn_pipe_topo *load(const char *tree)
{
    char root[600];
    snprintf(root, sizeof root, "%s", tu_data_path(tree));
    axnn_pipe_topo *t = NULL;
    axnn_status s = axnn_pipe_topo_read(root, &t);
    if (s) fail_msg("%s: %s", tree, axnn_last_error());
    return t;
}

static const char *group_list(const axnn_pipe_topo *t, int g, char *buf, size_t n)
{
    return axnn_pipe_cpulist_str(t->groups[g].cpus, t->groups[g].n, buf, n);
}

static void test_hikey970(void **st)
{
    (void)st;
    axnn_pipe_topo *t = load("sysfs/hikey970");
    char b[64];
    assert_int_equal(t->ncpus, 8);
    assert_int_equal(t->noffline, 0);
    assert_int_equal(t->ntypes, 2);
    assert_string_equal(t->types[t->cpus[0].type].name, "A53");
    assert_string_equal(t->types[t->cpus[7].type].name, "A73");
    assert_int_equal(t->types[t->cpus[7].type].capacity, 1024);
    assert_int_equal(t->types[t->cpus[0].type].max_khz, 1844000);
    assert_int_equal(t->cpus[5].cluster, 1);
    assert_int_equal(t->cpus[5].l2, 4);
    assert_int_equal(t->cpus[5].l3, -1);
    assert_int_equal(t->ngroups, 2);
    assert_string_equal(group_list(t, 0, b, sizeof b), "0-3");
    assert_string_equal(group_list(t, 1, b, sizeof b), "4-7");
    assert_string_equal(t->groups[1].shares, "L2");
    assert_false(t->hybrid);
    assert_false(t->smt);
    free(t);
}

static void test_intel_hybrid(void **st)
{
    (void)st;
    axnn_pipe_topo *t = load("sysfs/intel-8p8e");
    char b[64];
    assert_int_equal(t->ncpus, 24);
    assert_true(t->hybrid);
    assert_true(t->smt);
    assert_int_equal(t->ntypes, 2);
    assert_string_equal(t->types[t->cpus[3].type].name, "P-core");
    assert_string_equal(t->types[t->cpus[16].type].name, "E-core");
    assert_int_equal(t->cpus[3].smt_first, 2);
    assert_int_equal(t->cpus[21].l2, 20); /* E-core modules of 4 share an L2 */
    assert_int_equal(t->cpus[21].l3, 0);
    assert_int_equal(t->ngroups, 2);
    assert_string_equal(group_list(t, 0, b, sizeof b), "0-15");
    assert_string_equal(group_list(t, 1, b, sizeof b), "16-23");
    assert_string_equal(t->groups[0].shares, "L3");
    free(t);
}

static void test_homogeneous(void **st)
{
    (void)st;
    axnn_pipe_topo *t = load("sysfs/homogeneous16");
    char b[64];
    assert_int_equal(t->ncpus, 16);
    assert_int_equal(t->ntypes, 1);
    assert_string_equal(t->types[0].name, "core");
    assert_int_equal(t->ngroups, 1);
    assert_string_equal(group_list(t, 0, b, sizeof b), "0-15");
    free(t);
}

static void test_offline(void **st)
{
    (void)st;
    axnn_pipe_topo *t = load("sysfs/offline");
    char b[64];
    assert_int_equal(t->ncpus, 6);
    assert_int_equal(t->noffline, 2);
    assert_int_equal(t->offline[0], 3);
    assert_int_equal(t->offline[1], 6);
    assert_int_equal(t->ngroups, 1);
    assert_string_equal(group_list(t, 0, b, sizeof b), "0-2,4-5,7");
    /* --groups naming an offline CPU, a repeated CPU, one that does not exist */
    assert_int_equal(axnn_pipe_topo_set_groups(t, "0-3,4-5"), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "CPU 3 is offline"));
    assert_int_equal(axnn_pipe_topo_set_groups(t, "0-2,2+4"), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "CPU 2 appears twice"));
    assert_int_equal(axnn_pipe_topo_set_groups(t, "0,9"), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "CPU 9 is not present"));
    assert_int_equal(axnn_pipe_topo_set_groups(t, "0-x"), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "--groups"));
    assert_int_equal(t->ngroups, 1); /* unchanged after errors */
    assert_int_equal(axnn_pipe_topo_set_groups(t, "0-2,4-5+7"), AXNN_OK);
    assert_int_equal(t->ngroups, 2);
    assert_string_equal(group_list(t, 1, b, sizeof b), "4-5,7");
    assert_int_equal(t->cpus[4].group, 1); /* CPU 5 is the fifth online one */
    assert_true(t->groups_overridden);
    free(t);
}

static void test_groups_types(void **st)
{
    (void)st;
    axnn_pipe_topo *t = load("sysfs/hikey970");
    assert_int_equal(axnn_pipe_topo_set_groups(t, "0-5,6-7"), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "mixes core types"));
    assert_int_equal(axnn_pipe_topo_set_groups(t, "0-1,2-3,4-7"), AXNN_OK);
    assert_int_equal(t->ngroups, 3);
    assert_int_equal(t->groups[2].type, t->cpus[4].type);
    free(t);
}

static void test_simulate(void **st)
{
    (void)st;
    axnn_pipe_topo *t = load("sysfs/hikey970");
    assert_int_equal(axnn_pipe_topo_simulate(t, "x", "A53=0.25,Z=1"), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "'Z'"));
    assert_int_equal(axnn_pipe_topo_simulate(t, "x", "A53=-1"), AXNN_ERR_ARG);
    assert_false(t->simulated);
    assert_int_equal(axnn_pipe_topo_simulate(t, "hikey970", axnn_pipe_sim_preset("hikey970")),
                     AXNN_OK);
    assert_true(t->simulated);
    assert_true(t->types[t->cpus[0].type].speed == 0.5);
    assert_true(t->types[t->cpus[4].type].speed == 1.0);
    assert_null(axnn_pipe_sim_preset("nosuch"));
    free(t);
}

static void test_cpulist(void **st)
{
    (void)st;
    bool set[16];
    assert_int_equal(axnn_pipe_cpulist_parse("0-2,5,7-8\n", set, 16, "x"), AXNN_OK);
    int ids[16], n = 0;
    for (int i = 0; i < 16; i++)
        if (set[i]) ids[n++] = i;
    assert_int_equal(n, 6);
    char b[64];
    assert_string_equal(axnn_pipe_cpulist_str(ids, n, b, sizeof b), "0-2,5,7-8");
    assert_int_equal(axnn_pipe_cpulist_parse("", set, 16, "x"), AXNN_OK);
    assert_int_equal(axnn_pipe_cpulist_parse("3-1", set, 16, "x"), AXNN_ERR_FORMAT);
    assert_int_equal(axnn_pipe_cpulist_parse("1,,2", set, 16, "x"), AXNN_ERR_FORMAT);
    assert_int_equal(axnn_pipe_cpulist_parse("16", set, 16, "x"), AXNN_ERR_FORMAT);
    assert_int_equal(axnn_pipe_cpulist_parse("1 2", set, 16, "x"), AXNN_ERR_FORMAT);
}

static void test_missing_root(void **st)
{
    (void)st;
    axnn_pipe_topo *t = (axnn_pipe_topo *)1;
    assert_int_equal(axnn_pipe_topo_read("/nonexistent/sysfs", &t), AXNN_ERR_IO);
    assert_null(t);
    assert_non_null(strstr(axnn_last_error(), "/nonexistent/sysfs/devices/system/cpu/online"));
}

/* This machine: every online CPU in exactly one group. */
static void test_real_sys(void **st)
{
    (void)st;
    axnn_pipe_topo *t = NULL;
    assert_int_equal(axnn_pipe_topo_read("/sys", &t), AXNN_OK);
    int n = 0;
    for (int g = 0; g < t->ngroups; g++) n += t->groups[g].n;
    assert_int_equal(n, t->ncpus);
    assert_true(t->ncpus >= 1);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hikey970),     cmocka_unit_test(test_intel_hybrid),
        cmocka_unit_test(test_homogeneous),  cmocka_unit_test(test_offline),
        cmocka_unit_test(test_groups_types), cmocka_unit_test(test_simulate),
        cmocka_unit_test(test_cpulist),      cmocka_unit_test(test_missing_root),
        cmocka_unit_test(test_real_sys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
