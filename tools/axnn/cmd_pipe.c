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

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int cli_pipe(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } subs[] = {{"topology", cmd_topology}};
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
