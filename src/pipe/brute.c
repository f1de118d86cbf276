/* The exhaustive search, the check of src/pipe/search.c on small problems.
 *
 * Step 1 enumerates every pipeline: every split of the layers at legal cuts, every placement of
 * every stage (a group and a thread count, or two of them when stages may be replicated), kept
 * when the CPUs fit; for each exact CPU vector it keeps the best (period, then latency) pipeline.
 * Step 2 enumerates every multiset of such vectors that fits the groups (non-decreasing vector
 * indices, so each multiset once) and scores each whole plan. Nothing is pruned by dominance, so
 * this shares no reasoning with the dynamic program beyond the definition of a stage's cost.
 */
#include "pipe/search_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BRUTE_MAX_LAYERS 10
#define BRUTE_MAX_CPUS 8

typedef struct brute {
    const axnn_pipe_problem *p;
    pipe_space sp;
    axnn_pipe_lane cur;
    int used[AXNN_PIPE_MAX_GROUPS];
    axnn_pipe_lane *best; /* per CPU vector */
    bool *have;
    int64_t evaluated;
    /* step 2 */
    int pick[AXNN_PIPE_MAX_LANES], npick, best_pick[AXNN_PIPE_MAX_LANES], best_npick;
    double best_thr, best_w;
} brute;

static int vec_index(const brute *b)
{
    int u = 0;
    for (int g = 0; g < b->p->ngroups; g++) u += b->used[g] * b->sp.stride[g];
    return u;
}

/* Scores the complete pipeline in b->cur. */
static void score_pipeline(brute *b)
{
    const axnn_pipe_problem *p = b->p;
    axnn_pipe_lane *ln = &b->cur;
    ln->period = ln->latency = 0;
    for (int s = 0; s < ln->nstages; s++) {
        axnn_pipe_stage *st = &ln->stages[s];
        for (int r = 0; r < st->nrep; r++)
            st->time[r] = axnn_pipe_stage_time(p, st->first, st->last, p->group_type[st->group[r]],
                                               st->threads[r]);
        double lat;
        pipe_stage_period(st->time, st->nrep, &st->period, &lat);
        if (!isfinite(st->period)) return;
        if (st->period > ln->period) ln->period = st->period;
        ln->latency += lat;
    }
    b->evaluated++;
    int u = vec_index(b);
    axnn_pipe_lane *best = &b->best[u];
    if (!b->have[u] || pipe_lt(ln->period, best->period) ||
        (pipe_le(ln->period, best->period) && pipe_lt(ln->latency, best->latency))) {
        *best = *ln;
        b->have[u] = true;
    }
}

static void place(brute *b, int pos);

/* Tries replica r of the stage [pos, last] on every (group, threads) with free CPUs. */
static void place_replica(brute *b, int pos, int last, int r)
{
    const axnn_pipe_problem *p = b->p;
    axnn_pipe_stage *st = &b->cur.stages[b->cur.nstages - 1];
    for (int g = 0; g < p->ngroups; g++)
        for (int k = 1; k <= p->maxthreads && b->used[g] + k <= p->group_size[g]; k++) {
            if (r == 1 && (g < st->group[0] || (g == st->group[0] && k < st->threads[0])))
                continue; /* each unordered pair once */
            st->group[r] = g;
            st->threads[r] = k;
            st->nrep = r + 1;
            b->used[g] += k;
            place(b, last + 1);
            if (r == 0 && p->stage_replicas) place_replica(b, pos, last, 1);
            b->used[g] -= k;
        }
}

/* Extends the current pipeline from layer pos (all stage ends j >= pos). */
static void place(brute *b, int pos)
{
    const axnn_pipe_problem *p = b->p;
    if (pos == p->nlayers) {
        score_pipeline(b);
        return;
    }
    if (p->max_stages && b->cur.nstages == p->max_stages) return;
    for (int j = pos; j < p->nlayers; j++) {
        if (j < p->nlayers - 1 && p->cut && !p->cut[j]) continue;
        axnn_pipe_stage *st = &b->cur.stages[b->cur.nstages++];
        memset(st, 0, sizeof *st);
        st->first = pos;
        st->last = j;
        place_replica(b, pos, j, 0);
        b->cur.nstages--;
    }
}

/* Step 2: multisets of pipelines, vectors in non-decreasing order starting at `from`. */
static void combine(brute *b, int from, int *left)
{
    if (b->npick) {
        double thr = 0, w = 0;
        for (int i = 0; i < b->npick; i++) {
            const axnn_pipe_lane *ln = &b->best[b->pick[i]];
            thr += 1 / ln->period;
            w += ln->latency / ln->period;
        }
        b->evaluated++;
        if (b->best_npick == 0 || pipe_better(thr, w, b->best_thr, b->best_w)) {
            b->best_thr = thr;
            b->best_w = w;
            b->best_npick = b->npick;
            memcpy(b->best_pick, b->pick, sizeof b->pick);
        }
        if (!b->p->lanes || b->npick == AXNN_PIPE_MAX_LANES) return;
    }
    for (int u = from > 0 ? from : 1; u < b->sp.nres; u++) {
        if (!b->have[u]) continue;
        bool fits = true;
        for (int g = 0; g < b->p->ngroups; g++) fits &= pipe_space_get(&b->sp, u, g) <= left[g];
        if (!fits) continue;
        for (int g = 0; g < b->p->ngroups; g++) left[g] -= pipe_space_get(&b->sp, u, g);
        b->pick[b->npick++] = u;
        combine(b, u, left);
        b->npick--;
        for (int g = 0; g < b->p->ngroups; g++) left[g] += pipe_space_get(&b->sp, u, g);
    }
}

static axnn_status brute_check(const axnn_pipe_problem *p)
{
    int cpus = 0;
    for (int g = 0; g < p->ngroups; g++) cpus += p->group_size[g];
    if (p->nlayers > BRUTE_MAX_LAYERS || cpus > BRUTE_MAX_CPUS)
        return axnn_error(AXNN_ERR_UNSUPPORTED,
                          "exhaustive search: at most %d layers and %d "
                          "CPUs (got %d and %d)",
                          BRUTE_MAX_LAYERS, BRUTE_MAX_CPUS, p->nlayers, cpus);
    return AXNN_OK;
}

axnn_status axnn_pipe_search_exhaustive(const axnn_pipe_problem *p, axnn_pipe_plan **out)
{
    *out = NULL;
    double t0 = axnn_now();
    axnn_status s = axnn_pipe_problem_check(p);
    if (!s) s = brute_check(p);
    brute *b = s ? NULL : calloc(1, sizeof *b);
    if (!s && !b) s = axnn_error(AXNN_ERR_NOMEM, "search: out of memory");
    if (s) return s;
    b->p = p;
    axnn_pipe_plan *plan = NULL;
    if (!(s = pipe_space_init(&b->sp, p))) {
        b->best = calloc((size_t)b->sp.nres, sizeof *b->best);
        b->have = calloc((size_t)b->sp.nres, sizeof *b->have);
        plan = calloc(1, sizeof *plan);
        if (!b->best || !b->have || !plan) s = axnn_error(AXNN_ERR_NOMEM, "out of memory");
    }
    if (!s) {
        place(b, 0);
        int left[AXNN_PIPE_MAX_GROUPS];
        memcpy(left, p->group_size, sizeof left);
        combine(b, 0, left);
        if (!b->best_npick) s = axnn_error(AXNN_ERR_ARG, "search: no feasible plan");
    }
    if (!s) {
        plan->nlanes = b->best_npick;
        for (int i = 0; i < b->best_npick; i++) plan->lanes[i] = b->best[b->best_pick[i]];
        plan->evaluated = b->evaluated;
        s = axnn_pipe_plan_eval(p, plan);
    }
    pipe_space_free(&b->sp);
    free(b->best);
    free(b->have);
    free(b);
    if (s) {
        free(plan);
        return s;
    }
    plan->search_s = axnn_now() - t0;
    *out = plan;
    return AXNN_OK;
}
