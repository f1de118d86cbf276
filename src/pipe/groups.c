/* Overrides of the topology: core groups given by hand (--groups) and simulated speeds
 * (--simulate), plus the CPUs a plan's stages get inside their groups. */
#include "axnn/pipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cpu_index(const axnn_pipe_topo *t, int cpu)
{
    for (int i = 0; i < t->ncpus; i++)
        if (t->cpus[i].id == cpu) return i;
    return -1;
}

static bool is_offline(const axnn_pipe_topo *t, int cpu)
{
    for (int i = 0; i < t->noffline; i++)
        if (t->offline[i] == cpu) return true;
    return false;
}

/* Parses one group ("0-3" or "0-1+4-5") of spec into g, marking its CPUs in used. */
static axnn_status parse_group(const axnn_pipe_topo *t, const char *item, int gi,
                               axnn_pipe_group *g, bool *used)
{
    char list[512];
    snprintf(list, sizeof list, "%s", item);
    for (char *q = list; *q; q++)
        if (*q == '+') *q = ',';
    bool set[AXNN_PIPE_MAX_CPUS];
    if (axnn_pipe_cpulist_parse(list, set, AXNN_PIPE_MAX_CPUS, "--groups")) return AXNN_ERR_ARG;
    g->n = 0;
    g->type = -1;
    for (int c = 0; c < AXNN_PIPE_MAX_CPUS; c++) {
        if (!set[c]) continue;
        int i = cpu_index(t, c);
        if (i < 0)
            return axnn_error(AXNN_ERR_ARG, "--groups: CPU %d is %s", c,
                              is_offline(t, c) ? "offline" : "not present");
        if (used[c]) return axnn_error(AXNN_ERR_ARG, "--groups: CPU %d appears twice", c);
        used[c] = true;
        int ty = t->cpus[i].type;
        if (g->type >= 0 && ty != g->type)
            return axnn_error(AXNN_ERR_ARG, "--groups: group %d (%s) mixes core types %s and %s",
                              gi + 1, item, t->types[g->type].name, t->types[ty].name);
        g->type = ty;
        g->cpus[g->n++] = c;
    }
    if (g->n == 0) return axnn_error(AXNN_ERR_ARG, "--groups: group %d is empty", gi + 1);
    snprintf(g->shares, sizeof g->shares, "--groups");
    return AXNN_OK;
}

axnn_status axnn_pipe_topo_set_groups(axnn_pipe_topo *t, const char *spec)
{
    axnn_pipe_group *groups = calloc(AXNN_PIPE_MAX_GROUPS, sizeof *groups);
    bool used[AXNN_PIPE_MAX_CPUS] = {0};
    if (!groups) return axnn_error(AXNN_ERR_NOMEM, "--groups: out of memory");
    char *copy = strdup(spec), *save = NULL;
    int n = 0;
    axnn_status s = copy ? AXNN_OK : axnn_error(AXNN_ERR_NOMEM, "--groups: out of memory");
    for (char *item = copy ? strtok_r(copy, ",", &save) : NULL; item && !s;
         item = strtok_r(NULL, ",", &save)) {
        if (n == AXNN_PIPE_MAX_GROUPS)
            s = axnn_error(AXNN_ERR_ARG, "--groups: more than %d groups", AXNN_PIPE_MAX_GROUPS);
        else
            s = parse_group(t, item, n, &groups[n], used);
        n++;
    }
    if (!s && n == 0) s = axnn_error(AXNN_ERR_ARG, "--groups: no group in '%s'", spec);
    if (!s) {
        memcpy(t->groups, groups, (size_t)n * sizeof *groups);
        t->ngroups = n;
        t->groups_overridden = true;
        for (int i = 0; i < t->ncpus; i++) t->cpus[i].group = -1;
        for (int g = 0; g < n; g++)
            for (int k = 0; k < groups[g].n; k++)
                t->cpus[cpu_index(t, groups[g].cpus[k])].group = g;
    }
    free(copy);
    free(groups);
    return s;
}

axnn_status axnn_pipe_topo_simulate(axnn_pipe_topo *t, const char *name, const char *speeds)
{
    double sp[AXNN_PIPE_MAX_TYPES];
    for (int i = 0; i < t->ntypes; i++) sp[i] = t->types[i].speed;
    char *copy = strdup(speeds), *save = NULL;
    if (!copy) return axnn_error(AXNN_ERR_NOMEM, "--simulate: out of memory");
    axnn_status s = AXNN_OK;
    for (char *item = strtok_r(copy, ",", &save); item && !s; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        char *end = NULL;
        double v = eq ? strtod(eq + 1, &end) : 0;
        if (!eq || end == eq + 1 || *end || !(v > 0) || v > 1e3) {
            s = axnn_error(AXNN_ERR_ARG, "--speeds: '%s' is not TYPE=FACTOR (factor > 0)", item);
            break;
        }
        *eq = 0;
        int ty = -1;
        for (int i = 0; i < t->ntypes; i++)
            if (!strcmp(t->types[i].name, item)) ty = i;
        if (ty < 0) {
            s = axnn_error(AXNN_ERR_ARG, "--speeds: no core type '%s' in this topology", item);
            break;
        }
        sp[ty] = v;
    }
    free(copy);
    if (s) return s;
    for (int i = 0; i < t->ntypes; i++) t->types[i].speed = sp[i];
    t->simulated = true;
    snprintf(t->sim_name, sizeof t->sim_name, "%s", name);
    return AXNN_OK;
}

axnn_status axnn_pipe_plan_cpus(const axnn_pipe_plan *plan, const axnn_pipe_topo *t, int *first)
{
    int next[AXNN_PIPE_MAX_GROUPS] = {0};
    for (int l = 0; l < plan->nlanes; l++)
        for (int s = 0; s < plan->lanes[l].nstages; s++) {
            const axnn_pipe_stage *st = &plan->lanes[l].stages[s];
            for (int r = 0; r < st->nrep; r++) {
                int g = st->group[r];
                if (g < 0 || g >= t->ngroups || next[g] + st->threads[r] > t->groups[g].n)
                    return axnn_error(AXNN_ERR_ARG,
                                      "plan: needs more CPUs of group %d than the "
                                      "topology has",
                                      g);
                first[(l * AXNN_PIPE_MAX_STAGES + s) * 2 + r] = next[g];
                next[g] += st->threads[r];
            }
        }
    return AXNN_OK;
}

/* Simulation presets. hikey970: Kirin 970, 4 x Cortex-A73 at 2.36 GHz and 4 x Cortex-A53 at
 * 1.84 GHz. The factor is our assumption, not a measurement: the clock ratio (1.28) times an
 * A73/A53 per-clock ratio of about 1.6 for dense kernels gives ~2 (the A73 is the host core,
 * 1.0; the A53 runs at 0.5). Give --speeds to use other factors. */
const char *axnn_pipe_sim_preset(const char *name)
{
    if (name && !strcmp(name, "hikey970")) return "A73=1,A53=0.5";
    return NULL;
}
