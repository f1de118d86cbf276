/* axnn pipe: Pipe-it's pieces that need no pipelined runtime.
 *
 *   axnn pipe topology  [--sysfs DIR] [--groups 0-3,4-7]
 *   axnn pipe calibrate [--quick] [--out DIR] [--batch N] [--repeats N] [--eval LIST]
 *   axnn pipe search    [--model FILE | --profile FILE] [--arch A] [--sysfs DIR] [--groups G]
 *                       [--simulate NAME] [--speeds T=F,..] [--stages N] [--no-lanes] ...
 *
 * The library does the work (include/axnn/pipe.h); this file parses flags and prints.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "axnn/pipe.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: axnn pipe <subcommand> [options]\n\n"
               "subcommands:\n"
               "  topology     CPUs, core types, caches and core groups (from sysfs)\n"
               "  calibrate    time synthetic layers, fit the per-layer predictor, report its\n"
               "               error on networks left out of the fit\n"
               "  search       best pipeline / streams / mixture for a network from predictions\n"
               "               or a measured profile\n"
               "\n'axnn pipe <subcommand> --help' shows its options.\n");
}

/* ---------------------------------------------------------------- topology ---- */

static void pipe_print_topology(const axnn_pipe_topo *t)
{
    char list[1024];
    int ids[AXNN_PIPE_MAX_CPUS];
    for (int i = 0; i < t->ncpus; i++) ids[i] = t->cpus[i].id;
    printf("sysfs %s: %d online CPUs (%s)", t->root, t->ncpus,
           axnn_pipe_cpulist_str(ids, t->ncpus, list, sizeof list));
    if (t->noffline)
        printf(", %d offline (%s)", t->noffline,
               axnn_pipe_cpulist_str(t->offline, t->noffline, list, sizeof list));
    printf("%s%s\n", t->hybrid ? ", hybrid (cpu_core/cpu_atom)" : "", t->smt ? ", SMT" : "");
    if (t->simulated)
        printf("SIMULATED topology '%s': times are measured on this machine's cores and scaled "
               "by the speed factors below\n",
               t->sim_name);
    printf("core types:\n");
    for (int y = 0; y < t->ntypes; y++) {
        const axnn_pipe_type *ty = &t->types[y];
        printf("  %-8s", ty->name);
        if (ty->capacity) printf(" capacity %d", ty->capacity);
        if (ty->max_khz) printf(" max %.2f GHz", ty->max_khz / 1e6);
        if (t->simulated) printf(" speed x%.3g (simulated)", ty->speed);
        printf("\n");
    }
    printf("%-3s %-8s %-6s %-8s %-16s %s\n", "cpu", "type", "pkg", "cluster", "L2 / L3 with", "group");
    for (int i = 0; i < t->ncpus; i++) {
        const axnn_pipe_cpu *c = &t->cpus[i];
        char l2[16] = "-", l3[16] = "-", grp[16] = "-";
        if (c->l2 >= 0) snprintf(l2, sizeof l2, "cpu%d", c->l2);
        if (c->l3 >= 0) snprintf(l3, sizeof l3, "cpu%d", c->l3);
        if (c->group >= 0) snprintf(grp, sizeof grp, "%d", c->group);
        printf("%-3d %-8s %-6d %-8d %-7s / %-8s %s%s\n", c->id, t->types[c->type].name,
               c->package, c->cluster, l2, l3, grp, c->smt_first != c->id ? " (SMT sibling)" : "");
    }
    printf("core groups%s:\n", t->groups_overridden ? " (from --groups)" : "");
    for (int g = 0; g < t->ngroups; g++) {
        const axnn_pipe_group *gr = &t->groups[g];
        printf("  group %d: %d x %s, CPUs %s, sharing %s\n", g, gr->n, t->types[gr->type].name,
               axnn_pipe_cpulist_str(gr->cpus, gr->n, list, sizeof list), gr->shares);
    }
}

/* Reads the topology and applies --groups and --simulate/--speeds. */
static int pipe_load_topology(const char *sysfs, const char *groups, const char *sim, const char *speeds,
                       axnn_pipe_topo **out)
{
    axnn_status s = axnn_pipe_topo_read(sysfs ? sysfs : "/sys", out);
    if (s) return cli_fail_status(s);
    if (groups && (s = axnn_pipe_topo_set_groups(*out, groups))) goto fail;
    if (sim || speeds) {
        const char *sp = speeds;
        if (!sp && !(sp = axnn_pipe_sim_preset(sim))) {
            free(*out);
            return cli_fail("--simulate: unknown preset '%s' (known: hikey970; or give --speeds)",
                            sim);
        }
        if ((s = axnn_pipe_topo_simulate(*out, sim ? sim : "custom", sp))) goto fail;
    }
    return 0;
fail:
    free(*out);
    *out = NULL;
    return cli_fail_status(s);
}

static int cmd_topology(int argc, char **argv)
{
    const char *sysfs = NULL, *groups = NULL, *sim = NULL, *speeds = NULL;
    cli_flag flags[] = {
        {"sysfs", FLAG_STR, &sysfs, "DIR", "sysfs root to read (default /sys)"},
        {"groups", FLAG_STR, &groups, "LIST", "core groups by hand: 0-3,4-7 ('+' joins ranges)"},
        {"simulate", FLAG_STR, &sim, "NAME", "simulated speeds preset (hikey970)"},
        {"speeds", FLAG_STR, &speeds, "T=F,..", "simulated speed factor per core type"},
    };
    const char *pos[1];
    int npos;
    int rc = cli_parse("pipe topology", "[--sysfs DIR] [--groups LIST]", argc, argv, flags, 4, pos,
                       0, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    axnn_pipe_topo *t;
    if ((rc = pipe_load_topology(sysfs, groups, sim, speeds, &t))) return rc;
    pipe_print_topology(t);
    free(t);
    return 0;
}

/* ---------------------------------------------------------------- calibrate ---- */

/* A growing text buffer for the Markdown report. */
typedef struct text {
    char *s;
    size_t n, cap;
} text;

static void tprintf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[1024];
    int w = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (w < 0) return;
    size_t need = t->n + (size_t)w + 1;
    if (need > t->cap) {
        size_t cap = need * 2;
        char *x = realloc(t->s, cap);
        if (!x) return;
        t->s = x;
        t->cap = cap;
    }
    memcpy(t->s + t->n, buf, (size_t)w + 1);
    t->n += (size_t)w;
}

static void net_input(const char *arch, int *channels, int *size)
{
    bool vit = strstr(arch, "vit") != NULL;
    *channels = vit ? 1 : 3;
    *size = vit ? 28 : 32;
}

static void conf_name(const axnn_pipe_model *m, int c, char *buf, size_t n)
{
    snprintf(buf, n, "%s x%d", m->type_name[m->conf[c].type], m->conf[c].threads);
}

static void report_fit(const axnn_pipe_model *m, const axnn_pipe_profile *cal, text *md)
{
    tprintf(md, "## Fit on %d synthetic layers\n\n| configuration | kind | samples | fit MAPE %% |\n"
                "| --- | --- | ---: | ---: |\n", cal->nsamples);
    for (int c = 0; c < m->nconf; c++)
        for (int k = 0; k < AXNN_PK_COUNT; k++) {
            if (!m->fitted[c][k]) continue;
            int n = 0;
            for (int i = 0; i < cal->nsamples; i++) n += cal->samples[i].d.kind == (axnn_pipe_kind)k;
            char cn[64];
            conf_name(m, c, cn, sizeof cn);
            tprintf(md, "| %s | %s | %d | %.1f |\n", cn, axnn_pipe_kind_name(k), n, m->fit_mape[c][k]);
        }
}

/* Sum over the layers of a network profile of the predicted time on configuration c. */
static double predicted_sum(const axnn_pipe_model *m, const axnn_pipe_profile *p, int c)
{
    double t = 0;
    for (int i = 0; i < p->nsamples; i++) {
        double y = axnn_pipe_predict(m, c, &p->samples[i].d);
        if (isfinite(y)) t += y;
    }
    return t;
}

/* Profiles one left-out network, writes its profile, adds its MAPE rows. */
static int eval_network(const axnn_pipe_topo *t, const char *arch, const axnn_pipe_model *m,
                        const axnn_pipe_bench_opts *o, int max_threads, const char *out, text *md,
                        cJSON *jnets)
{
    int ch, size;
    net_input(arch, &ch, &size);
    axnn_pipe_profile p;
    axnn_status s = axnn_pipe_profile_network(t, arch, ch, size, max_threads, o, &p);
    if (s) return cli_fail_status(s);
    char path[1024];
    snprintf(path, sizeof path, "%s/profile-%s.json", out, arch);
    if ((s = axnn_pipe_profile_write(&p, path))) {
        axnn_pipe_profile_free(&p);
        return cli_fail_status(s);
    }
    int stage = (p.nsamples + 3) / 4;
    for (int c = 0; c < m->nconf; c++) {
        const axnn_pipe_conf *cf = &m->conf[c];
        double whole = NAN;
        const int *cpus = t->groups[0].cpus;
        for (int g = 0; g < t->ngroups; g++)
            if (t->groups[g].type == cf->type && t->groups[g].n >= cf->threads) cpus = t->groups[g].cpus;
        axnn_pipe_bench_opts ow = *o; /* long calls are preempted more often: more tries */
        ow.repeats = o->repeats * 2;
        ow.max_s = 2 * o->max_s;
        s = axnn_pipe_bench_model(arch, ch, size, cpus, cf->threads, &ow, &whole);
        if (s) {
            axnn_pipe_profile_free(&p);
            return cli_fail_status(s);
        }
        double ml = axnn_pipe_mape(m, &p, c, 1), ms = axnn_pipe_mape(m, &p, c, stage);
        double pw = predicted_sum(m, &p, c), net = 100 * fabs(pw - whole) / whole;
        char cn[64];
        conf_name(m, c, cn, sizeof cn);
        printf("%-10s %-8s %6d %10.1f %10.1f %12.3f %12.3f %8.1f\n", arch, cn, p.nsamples, ml, ms,
               1e3 * whole, 1e3 * pw, net);
        tprintf(md, "| %s | %s | %d | %.1f | %.1f | %.3f | %.3f | %.1f |\n", arch, cn, p.nsamples, ml,
                ms, 1e3 * whole, 1e3 * pw, net);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "network", arch);
        cJSON_AddStringToObject(j, "config", cn);
        cJSON_AddNumberToObject(j, "layers", p.nsamples);
        cJSON_AddNumberToObject(j, "mape_layer_pct", ml);
        cJSON_AddNumberToObject(j, "stage_layers", stage);
        cJSON_AddNumberToObject(j, "mape_stage_pct", ms);
        cJSON_AddNumberToObject(j, "whole_forward_ms", 1e3 * whole);
        cJSON_AddNumberToObject(j, "predicted_sum_ms", 1e3 * pw);
        cJSON_AddNumberToObject(j, "whole_error_pct", net);
        cJSON_AddItemToArray(jnets, j);
    }
    axnn_pipe_profile_free(&p);
    return 0;
}

/* The 1-minute load average ("?" when unknown): timings on a shared machine need it. */
static void load_average(char *buf, size_t n)
{
    snprintf(buf, n, "?");
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return;
    double l;
    if (fscanf(f, "%lf", &l) == 1) snprintf(buf, n, "%.1f", l);
    fclose(f);
}

static int write_text(const char *dir, const char *name, const char *txt)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    axnn_status s = axnn_write_file_atomic(path, txt, strlen(txt));
    return s ? cli_fail_status(s) : 0;
}

static int calibrate_eval(const axnn_pipe_topo *t, const char *evals, const axnn_pipe_model *m,
                          const axnn_pipe_bench_opts *o, int max_threads, const char *out, text *md)
{
    tprintf(md, "\n## Networks left out of the fit\n\nEach layer (as it runs after fusion) is "
                "rebuilt and timed alone; per stage = sums over runs of a quarter of the layers; "
                "whole = one forward of the whole network against the sum of the predicted "
                "layer times.\n\n| network | configuration | layers | MAPE/layer %% | "
                "MAPE/stage %% | whole ms | predicted ms | whole error %% |\n"
                "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    printf("%-10s %-8s %6s %10s %10s %12s %12s %8s\n", "network", "config", "layers",
           "MAPE/layer", "MAPE/stage", "whole ms", "predicted ms", "whole %");
    cJSON *root = cJSON_CreateObject(), *jnets = cJSON_AddArrayToObject(root, "networks");
    cJSON_AddStringToObject(root, "machine", m->machine);
    char *list = strdup(evals), *save = NULL;
    int rc = list ? 0 : cli_fail("out of memory");
    for (char *a = list ? strtok_r(list, ",", &save) : NULL; a && !rc; a = strtok_r(NULL, ",", &save))
        rc = eval_network(t, a, m, o, max_threads, out, md, jnets);
    free(list);
    char *js = rc ? NULL : cJSON_Print(root);
    cJSON_Delete(root);
    if (js) rc = write_text(out, "calibration.json", js);
    free(js);
    return rc;
}

static int cmd_calibrate(int argc, char **argv)
{
    const char *out = "runs/pipe", *groups = NULL, *evals = "resnet20,vgg11_bn,vit_mini";
    bool quick = false;
    int batch = 1, repeats = 0, warmup = -1, max_threads = 0;
    const char *stat = "median";
    cli_flag flags[] = {
        {"quick", FLAG_BOOL, &quick, NULL, "short sweep, few repeats (under 30 s)"},
        {"out", FLAG_STR, &out, "DIR", "output folder (default runs/pipe)"},
        {"batch", FLAG_INT, &batch, "N", "images per timed call (default 1)", 1, 4096},
        {"repeats", FLAG_INT, &repeats, "N", "timed calls per layer (default 25, quick 5)", 1, 10000},
        {"warmup", FLAG_INT, &warmup, "N", "untimed calls first (default 3, quick 1)", 0, 1000},
        {"max-threads", FLAG_INT, &max_threads, "N", "largest thread count (default: group size)", 1,
         AXNN_PIPE_MAX_THREADS},
        {"groups", FLAG_STR, &groups, "LIST", "core groups by hand: 0-3,4-7"},
        {"eval", FLAG_STR, &evals, "LIST", "left-out networks (default resnet20,vgg11_bn,vit_mini)"},
        {"stat", FLAG_STR, &stat, "median|best", "per-layer statistic of the repeats (default median)"},
    };
    const char *pos[1];
    int npos;
    int rc = cli_parse("pipe calibrate", "[--quick] [--out DIR] [--eval LIST]", argc, argv, flags, 9,
                       pos, 0, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if (strcmp(stat, "median") && strcmp(stat, "best"))
        return cli_fail("--stat: '%s' is not median or best", stat);
    axnn_pipe_bench_opts o = {batch, warmup >= 0 ? warmup : quick ? 1 : 3,
                              repeats ? repeats : quick ? 5 : 25, quick ? 0.02 : 0.3,
                              !strcmp(stat, "best")};
    axnn_pipe_topo *t;
    if ((rc = pipe_load_topology(NULL, groups, NULL, NULL, &t))) return rc;
    if (mkdir(out, 0777) && errno != EEXIST) {
        free(t);
        return cli_fail("--out: cannot create folder %s: %s", out, strerror(errno));
    }
    double t0 = axnn_now();
    axnn_pipe_profile cal;
    axnn_progress *prog = axnn_progress_new(stderr, 10.0);
    axnn_status s = axnn_pipe_calibrate(t, quick, max_threads, &o, prog, &cal);
    axnn_progress_free(prog);
    axnn_pipe_model *m = calloc(1, sizeof *m);
    char path[1024];
    snprintf(path, sizeof path, "%s/sweep.json", out);
    if (!s) s = axnn_pipe_profile_write(&cal, path);
    if (!s) s = m ? axnn_pipe_fit(&cal, m) : axnn_error(AXNN_ERR_NOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/model.json", out);
    if (!s) s = axnn_pipe_model_write(m, path);
    if (s) rc = cli_fail_status(s);
    double t_sweep = axnn_now() - t0;
    text md = {0};
    if (!rc) {
        printf("calibrated %d synthetic layers x %d configurations in %.1f s: %s\n", cal.nsamples,
               m->nconf, t_sweep, path);
        char load[16];
        load_average(load, sizeof load);
        tprintf(&md, "# Pipe-it predictor calibration\n\nMachine: %s (load average %s). %d "
                     "synthetic layers x %d configurations, batch %d, %s of %d calls (after %d "
                     "warm-up), %.1f s. Form: src/pipe/predict.c.\n\n", m->machine, load, cal.nsamples, m->nconf, batch,
                o.best ? "fastest" : "median", o.repeats, o.warmup, t_sweep);
        report_fit(m, &cal, &md);
        rc = calibrate_eval(t, evals, m, &o, max_threads, out, &md);
    }
    if (!rc) rc = write_text(out, "calibration.md", md.s ? md.s : "");
    if (!rc) printf("total %.1f s; report: %s/calibration.md\n", axnn_now() - t0, out);
    free(md.s);
    if (!s) axnn_pipe_profile_free(&cal);
    free(m);
    free(t);
    return rc;
}

int cli_pipe(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } subs[] = {{"topology", cmd_topology}, {"calibrate", cmd_calibrate}};
    if (argc < 2)
        return cli_fail("pipe: give a subcommand: topology, calibrate or search (see 'axnn pipe "
                        "--help')") +
               1;
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(argv[1], subs[i].name)) return subs[i].run(argc - 1, argv + 1);
    return cli_fail("pipe: unknown subcommand '%s' (topology, calibrate, search)", argv[1]) + 1;
}
