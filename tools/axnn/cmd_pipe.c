/* axnn pipe: Pipe-it's pieces that need no pipelined runtime.
 *
 *   axnn pipe topology  [--sysfs DIR] [--groups 0-3,4-7]
 *   axnn pipe calibrate [--quick] [--out DIR] [--batch N] [--repeats N] [--eval LIST]
 *   axnn pipe profile   [--arch A] [--batch N] [--out FILE]
 *   axnn pipe search    [--model FILE | --profile FILE] [--arch A] [--sysfs DIR] [--groups G]
 *                       [--simulate NAME] [--speeds T=F,..] [--stages N] [--lanes=false] ...
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
               "  profile      time every layer of a network alone on every core configuration\n"
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
    printf("%-3s %-8s %-6s %-8s %-16s %s\n", "cpu", "type", "pkg", "cluster", "L2 / L3 with",
           "group");
    for (int i = 0; i < t->ncpus; i++) {
        const axnn_pipe_cpu *c = &t->cpus[i];
        char l2[16] = "-", l3[16] = "-", grp[16] = "-";
        if (c->l2 >= 0) snprintf(l2, sizeof l2, "cpu%d", c->l2);
        if (c->l3 >= 0) snprintf(l3, sizeof l3, "cpu%d", c->l3);
        if (c->group >= 0) snprintf(grp, sizeof grp, "%d", c->group);
        printf("%-3d %-8s %-6d %-8d %-7s / %-8s %s%s\n", c->id, t->types[c->type].name, c->package,
               c->cluster, l2, l3, grp, c->smt_first != c->id ? " (SMT sibling)" : "");
    }
    printf("core groups%s:\n", t->groups_overridden ? " (from --groups)" : "");
    for (int g = 0; g < t->ngroups; g++) {
        const axnn_pipe_group *gr = &t->groups[g];
        printf("  group %d: %d x %s, CPUs %s, sharing %s\n", g, gr->n, t->types[gr->type].name,
               axnn_pipe_cpulist_str(gr->cpus, gr->n, list, sizeof list), gr->shares);
    }
}

/* Reads the topology and applies --groups and --simulate/--speeds. */
static int pipe_load_topology(const char *sysfs, const char *groups, const char *sim,
                              const char *speeds, axnn_pipe_topo **out)
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
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int w = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    size_t need = t->n + (size_t)(w > 0 ? w : 0) + 1;
    if (w >= 0 && need > t->cap) {
        char *x = realloc(t->s, need * 2);
        if (x) {
            t->s = x;
            t->cap = need * 2;
        }
    }
    if (w >= 0 && need <= t->cap) {
        vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap2);
        t->n += (size_t)w;
    }
    va_end(ap2);
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
    tprintf(md,
            "## Fit on %d synthetic layers\n\n| configuration | kind | samples | fit MAPE %% |\n"
            "| --- | --- | ---: | ---: |\n",
            cal->nsamples);
    for (int c = 0; c < m->nconf; c++)
        for (int k = 0; k < AXNN_PK_COUNT; k++) {
            if (!m->fitted[c][k]) continue;
            int n = 0;
            for (int i = 0; i < cal->nsamples; i++)
                n += cal->samples[i].d.kind == (axnn_pipe_kind)k;
            char cn[64];
            conf_name(m, c, cn, sizeof cn);
            tprintf(md, "| %s | %s | %d | %.1f |\n", cn, axnn_pipe_kind_name(k), n,
                    m->fit_mape[c][k]);
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
/* Per-layer measured and predicted times of configuration 0 (one thread of the first type). */
static void layer_table(const axnn_pipe_model *m, const axnn_pipe_profile *p, text *d)
{
    char cn[64];
    conf_name(m, 0, cn, sizeof cn);
    tprintf(d,
            "\n### %s, %s\n\n| # | layer | kind | measured ms | predicted ms | error %% |\n"
            "| ---: | --- | --- | ---: | ---: | ---: |\n",
            p->network, cn);
    for (int i = 0; i < p->nsamples; i++) {
        const axnn_pipe_sample *x = &p->samples[i];
        double y = axnn_pipe_predict(m, 0, &x->d);
        tprintf(d, "| %d | %s | %s | %.4f | %.4f | %+.0f |\n", i, x->name,
                axnn_pipe_kind_name(x->d.kind), 1e3 * x->t[0], 1e3 * y,
                x->t[0] > 0 ? 100 * (y - x->t[0]) / x->t[0] : 0.0);
    }
}

static int eval_network(const axnn_pipe_topo *t, const char *arch, const axnn_pipe_model *m,
                        const axnn_pipe_bench_opts *o, int max_threads, const char *out, text *md,
                        text *detail, cJSON *jnets)
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
    layer_table(m, &p, detail);
    for (int c = 0; c < m->nconf; c++) {
        const axnn_pipe_conf *cf = &m->conf[c];
        double whole = NAN;
        const int *cpus = t->groups[0].cpus;
        for (int g = 0; g < t->ngroups; g++)
            if (t->groups[g].type == cf->type && t->groups[g].n >= cf->threads)
                cpus = t->groups[g].cpus;
        axnn_pipe_bench_opts ow = *o; /* long calls are preempted more often: more tries */
        ow.repeats = o->repeats * 2;
        ow.max_s = 2 * o->max_s;
        s = axnn_pipe_bench_model(arch, ch, size, cpus, cf->threads, &ow, &whole);
        if (s) {
            axnn_pipe_profile_free(&p);
            return cli_fail_status(s);
        }
        axnn_pipe_err el = axnn_pipe_error(m, &p, c, 1, 0.01),
                      es = axnn_pipe_error(m, &p, c, stage, 0);
        double pw = predicted_sum(m, &p, c), net = 100 * fabs(pw - whole) / whole;
        char cn[64];
        conf_name(m, c, cn, sizeof cn);
        printf("%-10s %-8s %6d %8.1f %8.1f %8.1f %8.1f %10.3f %10.3f %8.1f\n", arch, cn, p.nsamples,
               el.mape, el.mape_major, el.wape, es.mape, 1e3 * whole, 1e3 * pw, net);
        tprintf(md, "| %s | %s | %d | %.1f | %.1f (%d) | %.1f | %.1f | %.3f | %.3f | %.1f |\n",
                arch, cn, p.nsamples, el.mape, el.mape_major, el.n_major, el.wape, es.mape,
                1e3 * whole, 1e3 * pw, net);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "network", arch);
        cJSON_AddStringToObject(j, "config", cn);
        cJSON_AddNumberToObject(j, "layers", p.nsamples);
        cJSON_AddNumberToObject(j, "mape_layer_pct", el.mape);
        cJSON_AddNumberToObject(j, "mape_major_layer_pct", el.mape_major);
        cJSON_AddNumberToObject(j, "major_layers", el.n_major);
        cJSON_AddNumberToObject(j, "wape_layer_pct", el.wape);
        cJSON_AddNumberToObject(j, "stage_layers", stage);
        cJSON_AddNumberToObject(j, "mape_stage_pct", es.mape);
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
    tprintf(md,
            "\n## Networks left out of the fit\n\nEach layer (as it runs after fusion) is "
            "rebuilt and timed alone; per stage = sums over runs of a quarter of the layers; "
            "whole = one forward of the whole network against the sum of the predicted "
            "layer times. Major layers: those that take at least 1%% of the network's time; "
            "WAPE: sum of absolute errors over sum of times.\n\n| network | configuration | "
            "layers | MAPE/layer %% | MAPE/major layer %% (n) | WAPE/layer %% | MAPE/stage %% | "
            "whole ms | predicted ms | whole error %% |\n"
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    printf("%-10s %-8s %6s %8s %8s %8s %8s %10s %10s %8s\n", "network", "config", "layers",
           "MAPE/l", "major/l", "WAPE/l", "MAPE/st", "whole ms", "pred ms", "whole %");
    cJSON *root = cJSON_CreateObject(), *jnets = cJSON_AddArrayToObject(root, "networks");
    text detail = {0};
    cJSON_AddStringToObject(root, "machine", m->machine);
    char *list = strdup(evals), *save = NULL;
    int rc = list ? 0 : cli_fail("out of memory");
    for (char *a = list ? strtok_r(list, ",", &save) : NULL; a && !rc;
         a = strtok_r(NULL, ",", &save))
        rc = eval_network(t, a, m, o, max_threads, out, md, &detail, jnets);
    free(list);
    tprintf(md, "\n## Per layer\n%s", detail.s ? detail.s : "");
    free(detail.s);
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
        {"repeats", FLAG_INT, &repeats, "N", "timed calls per layer (default 25, quick 5)", 1,
         10000},
        {"warmup", FLAG_INT, &warmup, "N", "untimed calls first (default 3, quick 1)", 0, 1000},
        {"max-threads", FLAG_INT, &max_threads, "N", "largest thread count (default: group size)",
         1, AXNN_PIPE_MAX_THREADS},
        {"groups", FLAG_STR, &groups, "LIST", "core groups by hand: 0-3,4-7"},
        {"eval", FLAG_STR, &evals, "LIST",
         "left-out networks (default resnet20,vgg11_bn,vit_mini)"},
        {"stat", FLAG_STR, &stat, "median|best",
         "per-layer statistic of the repeats (default median)"},
    };
    const char *pos[1];
    int npos;
    int rc = cli_parse("pipe calibrate", "[--quick] [--out DIR] [--eval LIST]", argc, argv, flags,
                       9, pos, 0, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if (strcmp(stat, "median") && strcmp(stat, "best"))
        return cli_fail("--stat: '%s' is not median or best", stat);
    axnn_pipe_bench_opts o = {batch,
                              warmup >= 0 ? warmup
                              : quick     ? 1
                                          : 3,
                              repeats ? repeats
                              : quick ? 5
                                      : 25,
                              quick ? 0.02 : 0.3, !strcmp(stat, "best")};
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
        tprintf(&md,
                "# Pipe-it predictor calibration\n\nMachine: %s (load average %s). %d "
                "synthetic layers x %d configurations, batch %d, %s of %d calls (after %d "
                "warm-up), %.1f s. Form: src/pipe/predict.c.\n\n",
                m->machine, load, cal.nsamples, m->nconf, batch, o.best ? "fastest" : "median",
                o.repeats, o.warmup, t_sweep);
        report_fit(m, &cal, &md);
        rc = calibrate_eval(t, evals, m, &o, max_threads, out, &md);
    }
    if (!rc) rc = write_text(out, "calibration.md", md.s ? md.s : "");
    if (!rc) printf("total %.1f s; report: %s/calibration.md\n", axnn_now() - t0, out);
    free(md.s);
    axnn_pipe_profile_free(&cal); /* safe after a failed calibration too */
    free(m);
    free(t);
    return rc;
}

/* ---------------------------------------------------------------- profile ---- */

static int cmd_profile(int argc, char **argv)
{
    const char *arch = "resnet20", *out = NULL, *groups = NULL, *stat = "median";
    int batch = 1, repeats = 25, warmup = 3, max_threads = 0;
    cli_flag flags[] = {
        {"arch", FLAG_STR, &arch, "NAME", "network (default resnet20)"},
        {"out", FLAG_STR, &out, "FILE", "profile file (default runs/pipe/profile-ARCH.json)"},
        {"batch", FLAG_INT, &batch, "N", "images per timed call (default 1)", 1, 4096},
        {"repeats", FLAG_INT, &repeats, "N", "timed calls per layer (default 25)", 1, 10000},
        {"warmup", FLAG_INT, &warmup, "N", "untimed calls first (default 3)", 0, 1000},
        {"stat", FLAG_STR, &stat, "median|best", "statistic of the repeats (default median)"},
        {"max-threads", FLAG_INT, &max_threads, "N", "largest thread count (default: group size)",
         1, AXNN_PIPE_MAX_THREADS},
        {"groups", FLAG_STR, &groups, "LIST", "core groups by hand: 0-3,4-7"},
    };
    const char *pos[1];
    int npos;
    int rc = cli_parse("pipe profile", "[--arch NAME] [--batch N] [--out FILE]", argc, argv, flags,
                       8, pos, 0, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if (strcmp(stat, "median") && strcmp(stat, "best"))
        return cli_fail("--stat: '%s' is not median or best", stat);
    axnn_status s = axnn_model_check(arch);
    if (s) return cli_fail_status(s);
    axnn_pipe_topo *t;
    if ((rc = pipe_load_topology(NULL, groups, NULL, NULL, &t))) return rc;
    char path[1024];
    snprintf(path, sizeof path, "runs/pipe/profile-%s.json", arch);
    if (out)
        snprintf(path, sizeof path, "%s", out);
    else if ((mkdir("runs", 0777) && errno != EEXIST) ||
             (mkdir("runs/pipe", 0777) && errno != EEXIST))
        rc = cli_fail("runs/pipe: cannot create the folder: %s", strerror(errno));
    if (rc) {
        free(t);
        return rc;
    }
    axnn_pipe_bench_opts o = {batch, warmup, repeats, 0, !strcmp(stat, "best")};
    int ch, size;
    net_input(arch, &ch, &size);
    axnn_pipe_profile p;
    double t0 = axnn_now();
    s = axnn_pipe_profile_network(t, arch, ch, size, max_threads, &o, &p);
    if (!s) s = axnn_pipe_profile_write(&p, path);
    if (!s) {
        printf("%s: %d layers x %d configurations, each layer timed alone, batch %d, %.1f s: %s\n",
               arch, p.nsamples, p.nconf, batch, axnn_now() - t0, path);
        axnn_pipe_profile_free(&p);
    }
    free(t);
    return s ? cli_fail_status(s) : 0;
}

/* ---------------------------------------------------------------- search ---- */

/* Per-layer times on the host configurations, from a measured profile or a model's
 * predictions, with names, hand-off bytes and legal cuts. */
typedef struct layer_times {
    int n, nconf, ntypes;
    axnn_pipe_conf conf[AXNN_PIPE_MAX_TYPES * AXNN_PIPE_MAX_THREADS];
    char type_name[AXNN_PIPE_MAX_TYPES][32];
    char machine[256];
    double *t;     /* n x nconf */
    double *bytes; /* n */
    bool *cut;     /* n - 1, or NULL */
    char (*names)[64];
    const char *source; /* "measured" or "predicted" */
    char network[64];
} layer_times;

static void layer_times_free(layer_times *lt)
{
    free(lt->t);
    free(lt->bytes);
    free(lt->cut);
    free(lt->names);
}

static void warn_machine(const char *path, const char *machine)
{
    char here[256];
    axnn_pipe_machine_id(here, sizeof here);
    if (strcmp(here, machine))
        fprintf(stderr,
                "axnn: warning: %s was measured on another machine ('%s'; this one is "
                "'%s')\n",
                path, machine, here);
}

static int times_from_profile(const char *path, const char *arch, layer_times *lt)
{
    axnn_pipe_profile p;
    axnn_status s = axnn_pipe_profile_read(path, &p);
    if (s) return cli_fail_status(s);
    if (!p.network[0] || (arch && strcmp(arch, p.network))) {
        int rc = cli_fail("--profile: %s is a profile of '%s', not of %s", path,
                          p.network[0] ? p.network : "synthetic layers", arch ? arch : "a network");
        axnn_pipe_profile_free(&p);
        return rc;
    }
    warn_machine(path, p.machine);
    lt->n = p.nsamples;
    lt->nconf = p.nconf;
    lt->ntypes = p.ntypes;
    memcpy(lt->conf, p.conf, sizeof lt->conf);
    memcpy(lt->type_name, p.type_name, sizeof lt->type_name);
    snprintf(lt->machine, sizeof lt->machine, "%s", p.machine);
    lt->t = malloc((size_t)p.nsamples * p.nconf * sizeof *lt->t);
    lt->bytes = malloc((size_t)p.nsamples * sizeof *lt->bytes);
    lt->names = malloc((size_t)p.nsamples * sizeof *lt->names);
    if (!lt->t || !lt->bytes || !lt->names) {
        axnn_pipe_profile_free(&p);
        return cli_fail("out of memory");
    }
    for (int i = 0; i < p.nsamples; i++) {
        for (int c = 0; c < p.nconf; c++) lt->t[(size_t)i * p.nconf + c] = p.samples[i].t[c];
        lt->bytes[i] = (double)p.samples[i].d.out_bytes;
        snprintf(lt->names[i], 64, "%s", p.samples[i].name);
    }
    lt->cut = p.cut;
    p.cut = NULL;
    lt->source = "measured (each layer alone)";
    snprintf(lt->network, sizeof lt->network, "%s", p.network);
    axnn_pipe_profile_free(&p);
    return 0;
}

static int times_from_model(const char *path, const char *arch, layer_times *lt)
{
    axnn_pipe_model *m = calloc(1, sizeof *m);
    if (!m) return cli_fail("out of memory");
    axnn_status s = axnn_pipe_model_read(path, m);
    int ch, size;
    net_input(arch, &ch, &size);
    axnn_pipe_synth *L = NULL;
    axnn_pipe_desc *D = NULL;
    if (!s) s = axnn_pipe_model_layers(arch, ch, size, &L, &D, &lt->names, &lt->cut, &lt->n);
    if (s) {
        free(m);
        return cli_fail_status(s);
    }
    warn_machine(path, m->machine);
    lt->nconf = m->nconf;
    lt->ntypes = m->ntypes;
    memcpy(lt->conf, m->conf, sizeof lt->conf);
    memcpy(lt->type_name, m->type_name, sizeof lt->type_name);
    snprintf(lt->machine, sizeof lt->machine, "%s", m->machine);
    lt->t = malloc((size_t)lt->n * m->nconf * sizeof *lt->t);
    lt->bytes = malloc((size_t)lt->n * sizeof *lt->bytes);
    int rc = lt->t && lt->bytes ? 0 : cli_fail("out of memory");
    for (int i = 0; !rc && i < lt->n; i++) {
        for (int c = 0; c < m->nconf; c++)
            lt->t[(size_t)i * m->nconf + c] = axnn_pipe_predict(m, c, &D[i]);
        lt->bytes[i] = (double)D[i].out_bytes;
    }
    lt->source = "predicted from descriptors";
    free(L);
    free(D);
    free(m);
    return rc;
}

static void print_plan(const char *title, const axnn_pipe_plan *pl, const axnn_pipe_topo *t,
                       const layer_times *lt)
{
    int first[AXNN_PIPE_MAX_LANES * AXNN_PIPE_MAX_STAGES * 2];
    bool cpus_ok = axnn_pipe_plan_cpus(pl, t, first) == AXNN_OK;
    printf("%s: %.1f images/s, latency %.3f ms, %d lane%s\n", title, pl->throughput,
           1e3 * pl->latency, pl->nlanes, pl->nlanes > 1 ? "s" : "");
    for (int l = 0; l < pl->nlanes; l++) {
        const axnn_pipe_lane *ln = &pl->lanes[l];
        printf("  lane %d: period %.3f ms, latency %.3f ms\n", l, 1e3 * ln->period,
               1e3 * ln->latency);
        for (int s = 0; s < ln->nstages; s++) {
            const axnn_pipe_stage *st = &ln->stages[s];
            printf("    stage %d: layers %d-%d (%s .. %s)", s, st->first, st->last,
                   lt->names[st->first], lt->names[st->last]);
            for (int r = 0; r < st->nrep; r++) {
                const axnn_pipe_group *g = &t->groups[st->group[r]];
                char list[256] = "?";
                if (cpus_ok)
                    axnn_pipe_cpulist_str(g->cpus + first[(l * AXNN_PIPE_MAX_STAGES + s) * 2 + r],
                                          st->threads[r], list, sizeof list);
                printf("%s %d x %s [CPUs %s] %.3f ms", r ? " +" : ":", st->threads[r],
                       t->types[g->type].name, list, 1e3 * st->time[r]);
            }
            printf("\n");
        }
    }
}

static cJSON *plan_json(const char *name, const axnn_pipe_plan *pl)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddNumberToObject(o, "images_per_s", pl->throughput);
    cJSON_AddNumberToObject(o, "latency_ms", 1e3 * pl->latency);
    cJSON *lanes = cJSON_AddArrayToObject(o, "lanes");
    for (int l = 0; l < pl->nlanes; l++) {
        cJSON *lo = cJSON_CreateObject(), *st = cJSON_AddArrayToObject(lo, "stages");
        cJSON_AddNumberToObject(lo, "period_ms", 1e3 * pl->lanes[l].period);
        for (int s = 0; s < pl->lanes[l].nstages; s++) {
            const axnn_pipe_stage *x = &pl->lanes[l].stages[s];
            cJSON *so = cJSON_CreateObject();
            cJSON_AddNumberToObject(so, "first", x->first);
            cJSON_AddNumberToObject(so, "last", x->last);
            cJSON_AddItemToObject(so, "groups", cJSON_CreateIntArray(x->group, x->nrep));
            cJSON_AddItemToObject(so, "threads", cJSON_CreateIntArray(x->threads, x->nrep));
            cJSON_AddNumberToObject(so, "period_ms", 1e3 * x->period);
            cJSON_AddItemToArray(st, so);
        }
        cJSON_AddItemToArray(lanes, lo);
    }
    return o;
}

/* Baselines: each group alone on all its CPUs; k-thread streams on every group. */
static void baselines(const axnn_pipe_problem *p, const axnn_pipe_topo *t, const layer_times *lt,
                      const axnn_pipe_plan *best, cJSON *jb)
{
    axnn_pipe_problem q = *p;
    q.lanes = true;
    q.max_stages = 0;
    axnn_pipe_plan *b = calloc(1, sizeof *b);
    if (!b) return;
    printf("\n%-44s %10s %12s %8s\n", "baseline (same times)", "images/s", "latency ms", "best/x");
    for (int g = 0; g < t->ngroups; g++) {
        memset(b, 0, sizeof *b);
        b->nlanes = 1;
        b->lanes[0].nstages = 1;
        b->lanes[0].stages[0] = (axnn_pipe_stage){0, p->nlayers - 1, 1, {g}, {t->groups[g].n}};
        if (axnn_pipe_plan_eval(&q, b)) continue;
        char name[96];
        snprintf(name, sizeof name, "group %d (%d x %s), one image at a time", g, t->groups[g].n,
                 t->types[t->groups[g].type].name);
        printf("%-44.44s %10.1f %12.3f %8.2f\n", name, b->throughput, 1e3 * b->latency,
               best->throughput / b->throughput);
        cJSON_AddItemToArray(jb, plan_json(name, b));
    }
    for (int k = 1; k <= p->maxthreads; k++) {
        memset(b, 0, sizeof *b);
        for (int g = 0; g < t->ngroups; g++)
            for (int i = 0; i + k <= t->groups[g].n && b->nlanes < AXNN_PIPE_MAX_LANES; i += k) {
                axnn_pipe_lane *ln = &b->lanes[b->nlanes++];
                ln->nstages = 1;
                ln->stages[0] = (axnn_pipe_stage){0, p->nlayers - 1, 1, {g}, {k}};
            }
        if (b->nlanes < 2 || axnn_pipe_plan_eval(&q, b)) continue;
        char name[96];
        snprintf(name, sizeof name, "%d streams of %d thread%s", b->nlanes, k, k > 1 ? "s" : "");
        printf("%-44.44s %10.1f %12.3f %8.2f\n", name, b->throughput, 1e3 * b->latency,
               best->throughput / b->throughput);
        cJSON_AddItemToArray(jb, plan_json(name, b));
    }
    free(b);
    (void)lt;
}

typedef struct search_args {
    const char *arch, *model, *profile, *sysfs, *groups, *sim, *speeds, *out, *plan_out;
    int stages;
    bool lanes, replicas, exhaustive;
    float handoff_us, handoff_gbs;
} search_args;

static int run_search(const search_args *a, const axnn_pipe_topo *t, const layer_times *lt)
{
    double *time =
        malloc((size_t)lt->n * AXNN_PIPE_MAX_TYPES * AXNN_PIPE_MAX_THREADS * sizeof *time);
    axnn_pipe_problem p;
    axnn_status s = time ? axnn_pipe_problem_build(&p, t, lt->type_name, lt->ntypes, lt->conf,
                                                   lt->nconf, lt->t, lt->n, time)
                         : axnn_error(AXNN_ERR_NOMEM, "out of memory");
    p.out_bytes = lt->bytes;
    p.cut = lt->cut;
    p.handoff_s = a->handoff_us * 1e-6;
    p.handoff_s_per_byte = 1 / (a->handoff_gbs * 1e9);
    p.max_stages = a->stages;
    p.lanes = a->lanes;
    p.stage_replicas = a->replicas;
    axnn_pipe_plan *plan = NULL, *ex = NULL;
    if (!s) s = axnn_pipe_search(&p, &plan);
    if (s) {
        free(time);
        return cli_fail_status(s);
    }
    printf("%s, %d layers, times %s on %s%s\n", a->arch, lt->n, lt->source, lt->machine,
           t->simulated ? "; SIMULATED topology (times scaled by the speed factors)" : "");
    printf("search: %.1f ms, %lld candidate stages\n", 1e3 * plan->search_s,
           (long long)plan->evaluated);
    print_plan(t->simulated ? "best plan (SIMULATED)" : "best plan", plan, t, lt);
    int rc = 0;
    if (a->exhaustive) {
        s = axnn_pipe_search_exhaustive(&p, &ex);
        if (s)
            rc = cli_fail_status(s);
        else
            printf("exhaustive search: %.1f ms, %lld plans: %.6g images/s (%s)\n",
                   1e3 * ex->search_s, (long long)ex->evaluated, ex->throughput,
                   fabs(ex->throughput - plan->throughput) <= 1e-9 * ex->throughput ? "equal"
                                                                                    : "DIFFERENT");
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "network", a->arch);
    cJSON_AddStringToObject(root, "times", lt->source);
    cJSON_AddBoolToObject(root, "simulated", t->simulated);
    cJSON_AddNumberToObject(root, "search_ms", 1e3 * plan->search_s);
    cJSON_AddItemToObject(root, "best", plan_json("best", plan));
    baselines(&p, t, lt, plan, cJSON_AddArrayToObject(root, "baselines"));
    char *js = cJSON_Print(root);
    cJSON_Delete(root);
    if (!rc && a->out && js && (s = axnn_write_file_atomic(a->out, js, strlen(js))))
        rc = cli_fail_status(s);
    if (!rc && a->plan_out &&
        (s = axnn_pipe_plan_write(plan, a->arch, lt->n, t->simulated, a->plan_out)))
        rc = cli_fail_status(s);
    free(js);
    free(plan);
    free(ex);
    free(time);
    return rc;
}

static int cmd_search(int argc, char **argv)
{
    search_args a = {.arch = "resnet20",
                     .model = "runs/pipe/model.json",
                     .lanes = true,
                     .replicas = true,
                     .handoff_us = 5,
                     .handoff_gbs = 5};
    cli_flag flags[] = {
        {"arch", FLAG_STR, &a.arch, "NAME", "network (default resnet20)"},
        {"model", FLAG_STR, &a.model, "FILE",
         "predictor from 'pipe calibrate' (default runs/pipe/model.json)"},
        {"profile", FLAG_STR, &a.profile, "FILE",
         "measured per-layer times instead of predictions"},
        {"sysfs", FLAG_STR, &a.sysfs, "DIR", "sysfs root of the topology (default /sys)"},
        {"groups", FLAG_STR, &a.groups, "LIST", "core groups by hand: 0-3,4-7"},
        {"simulate", FLAG_STR, &a.sim, "NAME", "simulated speeds preset (hikey970)"},
        {"speeds", FLAG_STR, &a.speeds, "T=F,..", "simulated speed factor per core type"},
        {"stages", FLAG_INT, &a.stages, "N", "at most N stages per pipeline (default any)", 1, 1e6},
        {"lanes", FLAG_BOOL, &a.lanes, NULL, "allow several pipelines / streams (default true)"},
        {"replicas", FLAG_BOOL, &a.replicas, NULL, "allow a stage on two core sets (default true)"},
        {"handoff-us", FLAG_FLOAT, &a.handoff_us, "US", "fixed cost of a hand-off (default 5)", 0,
         1e6},
        {"handoff-gbs", FLAG_FLOAT, &a.handoff_gbs, "GB/S", "hand-off bandwidth (default 5)", 1e-3,
         1e4},
        {"exhaustive", FLAG_BOOL, &a.exhaustive, NULL,
         "also run the exhaustive search (small cases)"},
        {"out", FLAG_STR, &a.out, "FILE", "write the plan and the baselines as JSON"},
        {"plan", FLAG_STR, &a.plan_out, "FILE", "write the plan file (for the pipelined runtime)"},
    };
    const char *pos[1];
    int npos;
    int nf = (int)(sizeof flags / sizeof flags[0]);
    int rc =
        cli_parse("pipe search", "[--arch A] [--model FILE | --profile FILE] [--sysfs DIR] ...",
                  argc, argv, flags, nf, pos, 0, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    axnn_status s = axnn_model_check(a.arch);
    if (s) return cli_fail_status(s);
    axnn_pipe_topo *t;
    if ((rc = pipe_load_topology(a.sysfs, a.groups, a.sim, a.speeds, &t))) return rc;
    layer_times lt = {0};
    rc = a.profile
             ? times_from_profile(a.profile, cli_flag_seen(flags, nf, "arch") ? a.arch : NULL, &lt)
             : times_from_model(a.model, a.arch, &lt);
    if (!rc && a.profile) a.arch = lt.network;
    if (!rc) rc = run_search(&a, t, &lt);
    layer_times_free(&lt);
    free(t);
    return rc;
}

int cli_pipe(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } subs[] = {{"topology", cmd_topology},
                {"calibrate", cmd_calibrate},
                {"profile", cmd_profile},
                {"search", cmd_search}};
    if (argc < 2)
        return cli_fail("pipe: give a subcommand: topology, calibrate, profile or search (see "
                        "'axnn pipe "
                        "--help')") +
               1;
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(argv[1], subs[i].name)) return subs[i].run(argc - 1, argv + 1);
    return cli_fail("pipe: unknown subcommand '%s' (topology, calibrate, profile, search)",
                    argv[1]) +
           1;
}
