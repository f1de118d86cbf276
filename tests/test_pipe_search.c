/* The design-space search: hand-made problems with known optima, and the exact search (Pareto
 * DP + lane knapsack) against the exhaustive one on many random small problems, including
 * integer times that make ties (and so the latency tie-break) common. */
#include "testutil.h"
#include "axnn/pipe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXL 10
#define MAXT 4

typedef struct prob {
    axnn_pipe_problem p;
    double time[MAXL * 2 * MAXT];
    double bytes[MAXL];
    bool cut[MAXL];
} prob;

static void set_time(prob *q, int l, int type, int k, double t)
{
    q->time[(l * q->p.ntypes + type) * q->p.maxthreads + k - 1] = t;
}

static void init(prob *q, int L, int ntypes, int maxthreads)
{
    memset(q, 0, sizeof *q);
    q->p.nlayers = L;
    q->p.ntypes = ntypes;
    q->p.maxthreads = maxthreads;
    q->p.time = q->time;
    q->p.out_bytes = q->bytes;
    for (int i = 0; i < L * ntypes * maxthreads; i++) q->time[i] = INFINITY;
}

static axnn_pipe_plan *search(const prob *q)
{
    axnn_pipe_plan *plan = NULL;
    axnn_status s = axnn_pipe_search(&q->p, &plan);
    if (s) fail_msg("search: %s", axnn_last_error());
    return plan;
}

static void assert_close(double a, double b)
{
    if (fabs(a - b) > 1e-9 * fabs(b)) fail_msg("%.17g != %.17g", a, b);
}

/* Four equal layers on one group of 2 CPUs; two threads run a layer in 0.6. */
static void test_streams_vs_pipeline(void **st)
{
    (void)st;
    prob q;
    init(&q, 4, 1, 2);
    for (int l = 0; l < 4; l++) {
        set_time(&q, l, 0, 1, 1.0);
        set_time(&q, l, 0, 2, 0.6);
    }
    q.p.ngroups = 1;
    q.p.group_size[0] = 2;
    q.p.handoff_s = 0.1;
    /* one pipeline: two 1-CPU stages (2.1) beat all cores (2.4) */
    axnn_pipe_plan *p = search(&q);
    assert_int_equal(p->nlanes, 1);
    assert_int_equal(p->lanes[0].nstages, 2);
    assert_int_equal(p->lanes[0].stages[0].last, 1);
    assert_close(p->lanes[0].period, 2.1);
    assert_close(p->latency, 4.1);
    free(p);
    /* with streams: two 1-CPU streams, 0.5 images/s */
    q.p.lanes = true;
    p = search(&q);
    assert_int_equal(p->nlanes, 2);
    assert_int_equal(p->lanes[0].nstages, 1);
    assert_close(p->throughput, 0.5);
    free(p);
    /* one stage at most, no streams: all cores */
    q.p.lanes = false;
    q.p.max_stages = 1;
    p = search(&q);
    assert_int_equal(p->lanes[0].stages[0].threads[0], 2);
    assert_close(p->throughput, 1 / 2.4);
    free(p);
}

/* big.LITTLE: one fast CPU (1 per layer), one slow (3 per layer). */
static void test_big_little(void **st)
{
    (void)st;
    prob q;
    init(&q, 4, 2, 1);
    for (int l = 0; l < 4; l++) {
        set_time(&q, l, 0, 1, 1.0);
        set_time(&q, l, 1, 1, 3.0);
    }
    q.p.ngroups = 2;
    q.p.group_type[0] = 0;
    q.p.group_type[1] = 1;
    q.p.group_size[0] = q.p.group_size[1] = 1;
    axnn_pipe_plan *p = search(&q);
    const axnn_pipe_lane *ln = &p->lanes[0];
    assert_int_equal(ln->nstages, 2); /* slow [0], fast [1-3]: period 3 */
    assert_int_equal(ln->stages[0].group[0], 1);
    assert_int_equal(ln->stages[0].last, 0);
    assert_int_equal(ln->stages[1].group[0], 0);
    assert_close(ln->period, 3);
    free(p);
    /* only boundary 2 may be cut: fast [0-2], slow [3] */
    for (int i = 0; i < 3; i++) q.cut[i] = i == 2;
    q.p.cut = q.cut;
    p = search(&q);
    ln = &p->lanes[0];
    assert_int_equal(ln->nstages, 2);
    assert_int_equal(ln->stages[0].group[0], 0);
    assert_int_equal(ln->stages[0].last, 2);
    assert_int_equal(ln->stages[1].group[0], 1);
    assert_close(ln->period, 3);
    free(p);
    /* no legal cut: the fast CPU alone */
    for (int i = 0; i < 3; i++) q.cut[i] = false;
    p = search(&q);
    assert_int_equal(p->lanes[0].nstages, 1);
    assert_int_equal(p->lanes[0].stages[0].group[0], 0);
    assert_close(p->throughput, 0.25);
    free(p);
}

/* One layer; a stage replicated on 1 + 1 CPUs beats 2 threads. */
static void test_stage_replica(void **st)
{
    (void)st;
    prob q;
    init(&q, 1, 1, 2);
    set_time(&q, 0, 0, 1, 1.0);
    set_time(&q, 0, 0, 2, 0.9);
    q.p.ngroups = 1;
    q.p.group_size[0] = 2;
    axnn_pipe_plan *p = search(&q);
    assert_int_equal(p->lanes[0].stages[0].nrep, 1);
    assert_int_equal(p->lanes[0].stages[0].threads[0], 2);
    free(p);
    q.p.stage_replicas = true;
    p = search(&q);
    assert_int_equal(p->lanes[0].stages[0].nrep, 2);
    assert_close(p->throughput, 2.0);
    assert_close(p->latency, 1.0);
    free(p);
}

/* The hand-off cost moves the cut to the boundary with the smallest activation. */
static void test_handoff(void **st)
{
    (void)st;
    prob q;
    init(&q, 4, 1, 1);
    for (int l = 0; l < 4; l++) set_time(&q, l, 0, 1, 1.0);
    double bytes[4] = {1000, 10, 1000, 0};
    memcpy(q.bytes, bytes, sizeof bytes);
    q.p.handoff_s_per_byte = 1e-3;
    q.p.ngroups = 1;
    q.p.group_size[0] = 2;
    axnn_pipe_plan *p = search(&q);
    assert_int_equal(p->lanes[0].nstages, 2);
    assert_int_equal(p->lanes[0].stages[0].last, 1);
    assert_close(p->lanes[0].period, 2.01);
    free(p);
}

static void test_bad_problems(void **st)
{
    (void)st;
    prob q;
    init(&q, 3, 1, 1);
    for (int l = 0; l < 3; l++) set_time(&q, l, 0, 1, 1.0);
    q.p.ngroups = 1;
    q.p.group_size[0] = 4;
    q.p.max_stages = 4;
    axnn_pipe_plan *p = NULL;
    assert_int_equal(axnn_pipe_search(&q.p, &p), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "--stages: 4 stages but the network has 3 layers"));
    assert_null(p);
    q.p.max_stages = 0;
    q.p.group_size[0] = 0;
    assert_int_equal(axnn_pipe_search(&q.p, &p), AXNN_ERR_ARG);
    q.p.group_size[0] = 1;
    set_time(&q, 1, 0, 1, INFINITY);
    assert_int_equal(axnn_pipe_search(&q.p, &p), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "no feasible plan"));
    set_time(&q, 1, 0, 1, -1);
    assert_int_equal(axnn_pipe_search(&q.p, &p), AXNN_ERR_ARG);
}

/* A random problem: 1-2 groups, up to 5 CPUs, up to 6 layers, times that scale with threads
 * imperfectly (or small integers, for ties). */
static void random_problem(prob *q, axnn_rng *r)
{
    int L = 1 + (int)axnn_rng_below(r, 6), ng = 1 + (int)axnn_rng_below(r, 2);
    init(q, L, ng, 3);
    q->p.ngroups = ng;
    int cpus = 0;
    for (int g = 0; g < ng; g++) {
        q->p.group_type[g] = g;
        q->p.group_size[g] = 1 + (int)axnn_rng_below(r, ng == 1 ? 4 : 3);
        cpus += q->p.group_size[g];
    }
    (void)cpus;
    bool integers = axnn_rng_below(r, 2);
    for (int l = 0; l < L; l++) {
        for (int y = 0; y < ng; y++) {
            double t1 = integers ? 1 + axnn_rng_below(r, 4) : 0.1 + axnn_rng_uniform(r);
            double serial = axnn_rng_uniform(r);
            for (int k = 1; k <= 3; k++)
                set_time(q, l, y, k,
                         integers ? t1 * (k == 1 ? 1 : 1 + (int)axnn_rng_below(r, 2)) / k
                                  : t1 * (serial + (1 - serial) / k));
        }
        q->bytes[l] = integers ? (double)axnn_rng_below(r, 3) : 1000 * axnn_rng_uniform(r);
        q->cut[l] = axnn_rng_below(r, 4) != 0;
    }
    q->p.cut = axnn_rng_below(r, 2) ? q->cut : NULL;
    q->p.handoff_s = integers ? 0 : 0.01 * axnn_rng_uniform(r);
    q->p.handoff_s_per_byte = integers ? 0.5 : 1e-4 * axnn_rng_uniform(r);
    q->p.lanes = axnn_rng_below(r, 2);
    q->p.stage_replicas = axnn_rng_below(r, 2);
    q->p.max_stages = axnn_rng_below(r, 3) ? 0 : 1 + (int)axnn_rng_below(r, (uint32_t)L);
}

static void test_exact_equals_exhaustive(void **st)
{
    (void)st;
    axnn_rng r;
    axnn_rng_seed(&r, 12);
    double dp_s = 0, brute_s = 0;
    int n = 400;
    for (int c = 0; c < n; c++) {
        prob q;
        random_problem(&q, &r);
        axnn_pipe_plan *a = NULL, *b = NULL;
        axnn_status sa = axnn_pipe_search(&q.p, &a), sb = axnn_pipe_search_exhaustive(&q.p, &b);
        assert_int_equal(sa, sb);
        if (sa) continue;
        if (fabs(a->throughput - b->throughput) > 1e-9 * b->throughput ||
            fabs(a->latency - b->latency) > 1e-9 * b->latency)
            fail_msg("case %d (%d layers, %d groups, lanes %d, replicas %d, stages %d): exact "
                     "%.12g img/s %.12g s, exhaustive %.12g img/s %.12g s",
                     c, q.p.nlayers, q.p.ngroups, q.p.lanes, q.p.stage_replicas, q.p.max_stages,
                     a->throughput, a->latency, b->throughput, b->latency);
        /* the plan the exact search returns is legal and scores what it claims */
        axnn_pipe_plan again = *a;
        assert_int_equal(axnn_pipe_plan_eval(&q.p, &again), AXNN_OK);
        assert_close(again.throughput, a->throughput);
        dp_s += a->search_s;
        brute_s += b->search_s;
        free(a);
        free(b);
    }
    print_message("%d random cases: exact %.3f ms, exhaustive %.3f ms per case\n", n,
                  1e3 * dp_s / n, 1e3 * brute_s / n);
}

/* A network-sized problem (24 layers, 8 P-cores + 8 E-cores, up to 8 threads): the search
 * time. */
static void test_search_time(void **st)
{
    (void)st;
    int L = 24, T = 8;
    double *time = malloc((size_t)L * 2 * T * sizeof *time), bytes[24];
    axnn_pipe_problem p = {.nlayers = L,
                           .ntypes = 2,
                           .maxthreads = T,
                           .time = time,
                           .out_bytes = bytes,
                           .ngroups = 2,
                           .group_type = {0, 1},
                           .group_size = {8, 8},
                           .lanes = true,
                           .stage_replicas = true,
                           .handoff_s_per_byte = 1e-10};
    axnn_rng r;
    axnn_rng_seed(&r, 3);
    for (int l = 0; l < L; l++) {
        bytes[l] = 65536;
        for (int y = 0; y < 2; y++)
            for (int k = 1; k <= T; k++)
                time[(l * 2 + y) * T + k - 1] =
                    (1 + 2 * axnn_rng_uniform(&r)) * (y ? 2 : 1) * (0.2 + 0.8 / k) * 1e-4;
    }
    axnn_pipe_plan *plan = NULL;
    assert_int_equal(axnn_pipe_search(&p, &plan), AXNN_OK);
    print_message("24 layers on 8 P + 8 E CPUs, lanes and stage replicas: %.1f ms, %lld "
                  "candidate stages, %d lanes\n",
                  1e3 * plan->search_s, (long long)plan->evaluated, plan->nlanes);
    free(plan);
    free(time);
}

/* Plan files: round trip, a plan for another network, a broken file. */
static void test_plan_file(void **st)
{
    (void)st;
    prob q;
    init(&q, 4, 2, 1);
    for (int l = 0; l < 4; l++) {
        set_time(&q, l, 0, 1, 1.0);
        set_time(&q, l, 1, 1, 3.0);
    }
    q.p.ngroups = 2;
    q.p.group_type[1] = 1;
    q.p.group_size[0] = q.p.group_size[1] = 1;
    q.p.stage_replicas = true;
    axnn_pipe_plan *p = search(&q), back;
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    assert_int_equal(axnn_pipe_plan_write(p, "resnet20", 4, false, path), AXNN_OK);
    assert_int_equal(axnn_pipe_plan_read(path, "resnet20", 4, &back), AXNN_OK);
    assert_int_equal(axnn_pipe_plan_eval(&q.p, &back), AXNN_OK);
    assert_close(back.throughput, p->throughput);
    assert_int_equal(back.lanes[0].nstages, p->lanes[0].nstages);
    assert_int_equal(axnn_pipe_plan_read(path, "vgg11_bn", 4, &back), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "a plan for resnet20 (4 layers), not for vgg11_bn"));
    assert_int_equal(axnn_pipe_plan_read(path, "resnet20", 24, &back), AXNN_ERR_ARG);
    const char *broken = "{\"format\": \"axnn-pipe-plan-1\", \"network\": \"resnet20\", "
                         "\"layers\": 4, \"lanes\": [{\"stages\": [{\"first\": 0}]}]}";
    tu_write_file(path, broken, strlen(broken));
    assert_int_equal(axnn_pipe_plan_read(path, "resnet20", 4, &back), AXNN_ERR_FORMAT);
    assert_non_null(strstr(axnn_last_error(), "plan.json"));
    assert_non_null(strstr(axnn_last_error(), "\"last\""));
    free(p);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streams_vs_pipeline), cmocka_unit_test(test_big_little),
        cmocka_unit_test(test_stage_replica),       cmocka_unit_test(test_handoff),
        cmocka_unit_test(test_bad_problems),        cmocka_unit_test(test_exact_equals_exhaustive),
        cmocka_unit_test(test_search_time),         cmocka_unit_test(test_plan_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
