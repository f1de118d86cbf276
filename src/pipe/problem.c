/* The search problem: checks, stage costs, CPU vectors and assignments, and the evaluation of
 * a given plan (which the tests and the baselines use). */
#include "pipe/search_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RES (1 << 16) /* CPU vectors: 2 groups of 255, or 4 groups of 15 ... */

axnn_status axnn_pipe_problem_check(const axnn_pipe_problem *p)
{
    if (p->nlayers < 1) return axnn_error(AXNN_ERR_ARG, "search: no layers");
    if (p->ntypes < 1 || p->ntypes > AXNN_PIPE_MAX_TYPES)
        return axnn_error(AXNN_ERR_ARG, "search: %d core types (1-%d)", p->ntypes,
                          AXNN_PIPE_MAX_TYPES);
    if (p->maxthreads < 1 || p->maxthreads > AXNN_PIPE_MAX_THREADS)
        return axnn_error(AXNN_ERR_ARG, "search: %d threads per configuration (1-%d)",
                          p->maxthreads, AXNN_PIPE_MAX_THREADS);
    if (p->ngroups < 1 || p->ngroups > AXNN_PIPE_MAX_GROUPS)
        return axnn_error(AXNN_ERR_ARG, "search: %d core groups (1-%d)", p->ngroups,
                          AXNN_PIPE_MAX_GROUPS);
    if (p->max_stages < 0 || p->max_stages > p->nlayers)
        return axnn_error(AXNN_ERR_ARG, "--stages: %d stages but the network has %d layers",
                          p->max_stages, p->nlayers);
    if (p->max_stages > AXNN_PIPE_MAX_STAGES)
        return axnn_error(AXNN_ERR_ARG, "--stages: at most %d", AXNN_PIPE_MAX_STAGES);
    if (!(p->handoff_s >= 0) || !(p->handoff_s_per_byte >= 0))
        return axnn_error(AXNN_ERR_ARG, "search: negative hand-off cost");
    int64_t nres = 1;
    for (int g = 0; g < p->ngroups; g++) {
        if (p->group_type[g] < 0 || p->group_type[g] >= p->ntypes || p->group_size[g] < 1)
            return axnn_error(AXNN_ERR_ARG, "search: group %d has a bad type or size", g);
        nres *= p->group_size[g] + 1;
        if (nres > MAX_RES)
            return axnn_error(AXNN_ERR_UNSUPPORTED,
                              "search: too many CPU combinations over %d "
                              "groups (merge groups with --groups)",
                              p->ngroups);
    }
    size_t n = (size_t)p->nlayers * p->ntypes * p->maxthreads;
    for (size_t i = 0; i < n; i++)
        if (p->time[i] < 0)
            return axnn_error(AXNN_ERR_ARG, "search: negative time for layer %zu",
                              i / ((size_t)p->ntypes * p->maxthreads));
    return AXNN_OK;
}

double axnn_pipe_time(const axnn_pipe_problem *p, int l, int type, int threads)
{
    if (threads < 1 || threads > p->maxthreads) return INFINITY;
    double t = p->time[((size_t)l * p->ntypes + type) * p->maxthreads + threads - 1];
    return isfinite(t) ? t : INFINITY;
}

double pipe_handoff(const axnn_pipe_problem *p, int j)
{
    double bytes = p->out_bytes ? p->out_bytes[j] : 0;
    return p->handoff_s + bytes * p->handoff_s_per_byte;
}

double axnn_pipe_stage_time(const axnn_pipe_problem *p, int first, int last, int type, int threads)
{
    double t = 0;
    for (int l = first; l <= last; l++) t += axnn_pipe_time(p, l, type, threads);
    return last < p->nlayers - 1 ? t + pipe_handoff(p, last) : t;
}

void pipe_stage_period(const double *t, int nrep, double *period, double *lat)
{
    if (nrep == 1) {
        *period = *lat = t[0];
        return;
    }
    double r = 1 / t[0] + 1 / t[1];
    *period = 1 / r;
    *lat = 2 / r;
}

/* ---------------------------------------------------------------- CPU vectors ---- */

static axnn_status add_assign(pipe_space *sp, int *cap, pipe_assign a)
{
    if (sp->nassign == *cap) {
        int c = *cap ? 2 * *cap : 64;
        pipe_assign *x = realloc(sp->assign, (size_t)c * sizeof *x);
        if (!x) return axnn_error(AXNN_ERR_NOMEM, "search: out of memory");
        sp->assign = x;
        *cap = c;
    }
    sp->assign[sp->nassign++] = a;
    return AXNN_OK;
}

axnn_status pipe_space_init(pipe_space *sp, const axnn_pipe_problem *p)
{
    memset(sp, 0, sizeof *sp);
    sp->ngroups = p->ngroups;
    sp->nres = 1;
    for (int g = 0; g < p->ngroups; g++) {
        sp->size[g] = p->group_size[g];
        sp->stride[g] = sp->nres;
        sp->nres *= p->group_size[g] + 1;
    }
    int cap = 0;
    axnn_status s = AXNN_OK;
    /* singles (g, k), then pairs (g1, k1) <= (g2, k2) in that order */
    for (int g = 0; g < p->ngroups && !s; g++)
        for (int k = 1; k <= sp->size[g] && k <= p->maxthreads && !s; k++)
            s = add_assign(sp, &cap, (pipe_assign){1, {g, g}, {k, k}, {-1, -1}});
    int nsingle = sp->nassign;
    for (int a = 0; a < nsingle && p->stage_replicas && !s; a++)
        for (int b = a; b < nsingle && !s; b++) {
            pipe_assign x = sp->assign[a], y = sp->assign[b];
            if (x.g[0] == y.g[0] && x.k[0] + y.k[0] > sp->size[x.g[0]]) continue;
            s = add_assign(sp, &cap, (pipe_assign){2, {x.g[0], y.g[0]}, {x.k[0], y.k[0]}, {a, b}});
        }
    if (s) pipe_space_free(sp);
    return s;
}

void pipe_space_free(pipe_space *sp)
{
    free(sp->assign);
    sp->assign = NULL;
    sp->nassign = 0;
}

int pipe_space_add(const pipe_space *sp, int u, int a)
{
    const pipe_assign *as = &sp->assign[a];
    int add[2] = {as->k[0], as->nrep == 2 ? as->k[1] : 0};
    if (as->nrep == 2 && as->g[0] == as->g[1]) {
        add[0] += add[1];
        add[1] = 0;
    }
    for (int r = 0; r < 2; r++) {
        if (!add[r]) continue;
        int g = as->g[r];
        if (pipe_space_get(sp, u, g) + add[r] > sp->size[g]) return -1;
        u += add[r] * sp->stride[g];
    }
    return u;
}

bool pipe_space_sub_ok(const pipe_space *sp, int u, int v)
{
    for (int g = 0; g < sp->ngroups; g++)
        if (pipe_space_get(sp, v, g) > pipe_space_get(sp, u, g)) return false;
    return true;
}

/* ---------------------------------------------------------------- plan evaluation ---- */

static axnn_status eval_lane(const axnn_pipe_problem *p, axnn_pipe_lane *ln, int li, int *used)
{
    if (ln->nstages < 1 || ln->nstages > AXNN_PIPE_MAX_STAGES)
        return axnn_error(AXNN_ERR_ARG, "plan: lane %d has %d stages", li, ln->nstages);
    if (p->max_stages && ln->nstages > p->max_stages)
        return axnn_error(AXNN_ERR_ARG, "plan: lane %d has more than %d stages", li, p->max_stages);
    ln->period = ln->latency = 0;
    for (int s = 0, next = 0; s < ln->nstages; s++) {
        axnn_pipe_stage *st = &ln->stages[s];
        bool last = s == ln->nstages - 1;
        if (st->first != next || st->last < st->first || st->last >= p->nlayers ||
            (last && st->last != p->nlayers - 1) || (!last && p->cut && !p->cut[st->last]) ||
            st->nrep < 1 || st->nrep > 2)
            return axnn_error(AXNN_ERR_ARG,
                              "plan: lane %d stage %d (layers %d-%d) is not a "
                              "legal contiguous stage",
                              li, s, st->first, st->last);
        next = st->last + 1;
        for (int r = 0; r < st->nrep; r++) {
            int g = st->group[r];
            if (g < 0 || g >= p->ngroups || st->threads[r] < 1)
                return axnn_error(AXNN_ERR_ARG, "plan: lane %d stage %d: bad group", li, s);
            used[g] += st->threads[r];
            st->time[r] =
                axnn_pipe_stage_time(p, st->first, st->last, p->group_type[g], st->threads[r]);
        }
        double lat;
        pipe_stage_period(st->time, st->nrep, &st->period, &lat);
        if (st->period > ln->period) ln->period = st->period;
        ln->latency += lat;
    }
    return AXNN_OK;
}

axnn_status axnn_pipe_plan_eval(const axnn_pipe_problem *p, axnn_pipe_plan *plan)
{
    int used[AXNN_PIPE_MAX_GROUPS] = {0};
    if (plan->nlanes < 1 || plan->nlanes > AXNN_PIPE_MAX_LANES || (!p->lanes && plan->nlanes > 1))
        return axnn_error(AXNN_ERR_ARG, "plan: %d lanes", plan->nlanes);
    double thr = 0, w = 0;
    for (int l = 0; l < plan->nlanes; l++) {
        axnn_status s = eval_lane(p, &plan->lanes[l], l, used);
        if (s) return s;
        thr += 1 / plan->lanes[l].period;
        w += plan->lanes[l].latency / plan->lanes[l].period;
    }
    for (int g = 0; g < p->ngroups; g++)
        if (used[g] > p->group_size[g])
            return axnn_error(AXNN_ERR_ARG, "plan: uses %d CPUs of group %d, which has %d", used[g],
                              g, p->group_size[g]);
    plan->throughput = thr;
    plan->latency = w / thr;
    return AXNN_OK;
}
