/* The exact design-space search: pipelines, streams and their mixtures.
 *
 * The problem. Layers 0..L-1 run in order. A stage is a contiguous run [i, j] that ends at a
 * legal cut (or the last layer) and runs on `k` CPUs of one core group (or, replicated, on two
 * disjoint CPU sets, images alternating between them). Its time per image is the sum of its
 * layers' times on that core type and thread count plus the hand-off of layer j's output when a
 * stage follows. A lane is a pipeline of stages; its period is its slowest stage's period. A
 * plan is one or several lanes on disjoint CPUs (one-stage lanes are independent streams).
 * Throughput = sum over lanes of 1 / period; ties are broken by the mean latency (each lane's
 * stage times summed, weighted by the lane's share of the images).
 *
 * Resources. A CPU vector u (u_g CPUs used in group g) is one mixed-radix index, so a state is
 * (position, stages so far, u). There are prod_g (n_g + 1) vectors: 81 for HiKey 970's 4 + 4,
 * 153 for an Intel 16 + 8.
 *
 * Phase 1, one pipeline per exact CPU vector. Minimizing the bottleneck alone is a plain min-max
 * dynamic program, but minimizing (bottleneck, then latency) is not: a prefix with a worse
 * bottleneck and a better latency may win once a later stage dominates the bottleneck. So each
 * state keeps its Pareto front of (bottleneck, latency) pairs; a candidate is dropped only when
 * another pair is at least as good in both, which keeps the search exact. Fronts stay small (a
 * handful of pairs), and a transition costs O(1), so phase 1 is O(L^2 x S x |u| x A x front)
 * for A stage assignments (single (g, k), or a pair of them when stages may be replicated).
 *
 * Phase 2, lanes. Each lane independently maximizes its own 1 / period and then minimizes its
 * latency, so the best plan on exactly the vector R is a knapsack over sub-vectors:
 * G(R) = best over R' <= R of lane(R') + G(R - R'), adding throughputs and throughput-weighted
 * latencies (both additive, so the lexicographic best composes). The answer is the best G(R)
 * over all R (a plan need not use every CPU).
 *
 * src/pipe/brute.c solves the same problem by enumerating every plan; the tests check that both
 * agree on random small problems.
 */
#include "axnn/pipe.h"
#include "pipe/search_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- Pareto fronts ---- */

typedef struct entry {
    double b, lat;
    int prev;   /* global state of the previous stage's end, -1 at the start */
    int prev_e; /* entry index in that state */
    int assign; /* stage assignment index */
    bool dead;  /* dominated by a later entry */
} entry;

typedef struct front {
    entry *e;
    int n, cap;
} front;

/* Inserts (b, lat) unless dominated; marks the entries it dominates dead. False when out of
 * memory. */
static bool front_insert(front *f, double b, double lat, int prev, int prev_e, int assign)
{
    for (int i = 0; i < f->n; i++) {
        const entry *x = &f->e[i];
        if (!x->dead && pipe_le(x->b, b) && pipe_le(x->lat, lat)) return true;
    }
    for (int i = 0; i < f->n; i++)
        if (!f->e[i].dead && pipe_le(b, f->e[i].b) && pipe_le(lat, f->e[i].lat))
            f->e[i].dead = true;
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 4;
        entry *e = realloc(f->e, (size_t)cap * sizeof *e);
        if (!e) return false;
        f->e = e;
        f->cap = cap;
    }
    f->e[f->n++] = (entry){b, lat, prev, prev_e, assign, false};
    return true;
}

/* ---------------------------------------------------------------- phase 1 ---- */

typedef struct dp {
    const axnn_pipe_problem *p;
    pipe_space sp;
    int ns;    /* stage-count dimension: max_stages + 1, or 1 when unbounded */
    front *fr; /* (L + 1) x ns x nres */
    int64_t evaluated;
    bool oom;
} dp;

static int state_index(const dp *d, int pos, int s, int u)
{
    return (pos * d->ns + s) * d->sp.nres + u;
}

/* Stage [i, j] on every assignment: the stage's period and latency; infinite for assignments
 * that another one beats with fewer CPUs. A single (g, k) is beaten when (g, k') with k' < k is
 * at least as fast (the extra threads buy nothing), and a pair when one of its replicas is
 * beaten: swapping in the better placement gives a stage no slower on a subset of the CPUs,
 * which leaves every plan at least as good, so the optimum is kept. */
static void stage_costs(const dp *d, const double *acc, int j, double *period, double *lat)
{
    const axnn_pipe_problem *p = d->p;
    double h = j < p->nlayers - 1 ? pipe_handoff(p, j) : 0;
    double best = INFINITY;
    int group = -1;
    for (int a = 0; a < d->sp.nassign; a++) {
        const pipe_assign *as = &d->sp.assign[a];
        double t[2];
        for (int r = 0; r < as->nrep; r++)
            t[r] = acc[p->group_type[as->g[r]] * p->maxthreads + as->k[r] - 1] + h;
        pipe_stage_period(t, as->nrep, &period[a], &lat[a]);
        if (as->nrep == 1) { /* singles come first, by group and then k */
            if (as->g[0] != group) group = as->g[0], best = INFINITY;
            if (pipe_le(best, period[a]))
                period[a] = INFINITY;
            else
                best = period[a];
        } else if (!isfinite(period[as->single[0]]) || !isfinite(period[as->single[1]])) {
            period[a] = INFINITY;
        }
    }
}

static void expand(dp *d, int i, int j, const double *period, const double *lat)
{
    int s_next_max = d->ns == 1 ? 0 : d->ns - 1;
    for (int s = 0; s < d->ns; s++) {
        int s2 = d->ns == 1 ? 0 : s + 1;
        if (s2 > s_next_max) continue;
        for (int u = 0; u < d->sp.nres; u++) {
            int from = state_index(d, i, s, u);
            front *f = &d->fr[from];
            for (int e = 0; e < f->n; e++) {
                if (f->e[e].dead) continue;
                for (int a = 0; a < d->sp.nassign; a++) {
                    if (!isfinite(period[a])) continue;
                    int u2 = pipe_space_add(&d->sp, u, a);
                    if (u2 < 0) continue;
                    d->evaluated++;
                    double b = f->e[e].b > period[a] ? f->e[e].b : period[a];
                    front *t = &d->fr[state_index(d, j + 1, s2, u2)];
                    if (!front_insert(t, b, f->e[e].lat + lat[a], from, e, a)) d->oom = true;
                }
            }
        }
    }
}

static axnn_status phase1(dp *d)
{
    const axnn_pipe_problem *p = d->p;
    int L = p->nlayers, nt = p->ntypes * p->maxthreads;
    double *acc = malloc((size_t)nt * sizeof *acc);
    double *period = malloc((size_t)d->sp.nassign * 2 * sizeof *period);
    if (!acc || !period) {
        free(acc);
        free(period);
        return axnn_error(AXNN_ERR_NOMEM, "search: out of memory");
    }
    double *lat = period + d->sp.nassign;
    d->oom = !front_insert(&d->fr[state_index(d, 0, 0, 0)], 0, 0, -1, -1, -1);
    for (int i = 0; i < L; i++) {
        for (int x = 0; x < nt; x++) acc[x] = 0;
        for (int j = i; j < L; j++) {
            for (int x = 0; x < nt; x++) acc[x] += p->time[(size_t)j * nt + x];
            if (j < L - 1 && p->cut && !p->cut[j]) continue;
            stage_costs(d, acc, j, period, lat);
            expand(d, i, j, period, lat);
        }
    }
    free(acc);
    free(period);
    return d->oom ? axnn_error(AXNN_ERR_NOMEM, "search: out of memory") : AXNN_OK;
}

/* The best (bottleneck, latency) pipeline on exactly the vector u: state and entry, or -1. */
static void best_lane(const dp *d, int u, int *state, int *ent)
{
    *state = *ent = -1;
    double b = INFINITY, lat = INFINITY;
    for (int s = 0; s < d->ns; s++) {
        int st = state_index(d, d->p->nlayers, s, u);
        const front *f = &d->fr[st];
        for (int e = 0; e < f->n; e++) {
            const entry *x = &f->e[e];
            if (x->dead) continue;
            if (pipe_lt(x->b, b) || (pipe_le(x->b, b) && pipe_lt(x->lat, lat))) {
                b = x->b;
                lat = x->lat;
                *state = st;
                *ent = e;
            }
        }
    }
}

/* Rebuilds lane from its final (state, entry). */
static void rebuild_lane(const dp *d, int state, int ent, axnn_pipe_lane *lane)
{
    axnn_pipe_stage tmp[AXNN_PIPE_MAX_STAGES];
    int n = 0;
    int per_pos = d->ns * d->sp.nres;
    while (state >= 0 && d->fr[state].e[ent].prev >= 0 && n < AXNN_PIPE_MAX_STAGES) {
        const entry *x = &d->fr[state].e[ent];
        const pipe_assign *as = &d->sp.assign[x->assign];
        axnn_pipe_stage *st = &tmp[n++];
        memset(st, 0, sizeof *st);
        st->first = x->prev / per_pos;
        st->last = state / per_pos - 1;
        st->nrep = as->nrep;
        for (int r = 0; r < as->nrep; r++) {
            st->group[r] = as->g[r];
            st->threads[r] = as->k[r];
        }
        ent = x->prev_e;
        state = x->prev;
    }
    lane->nstages = n;
    for (int i = 0; i < n; i++) lane->stages[i] = tmp[n - 1 - i];
}

/* ---------------------------------------------------------------- phase 2 ---- */

typedef struct knap {
    double thr, w; /* throughput, sum of throughput x latency */
    int lane_u;    /* the lane's vector, -1 = none (G(0)) */
    int nlanes;
    bool ok;
} knap;

static axnn_status lanes_knapsack(const dp *d, const double *lb, const double *ll, int *chosen,
                                  int *nchosen)
{
    const pipe_space *sp = &d->sp;
    knap *G = calloc((size_t)sp->nres, sizeof *G);
    if (!G) return axnn_error(AXNN_ERR_NOMEM, "search: out of memory");
    G[0].ok = true;
    G[0].lane_u = -1;
    int best = -1;
    for (int u = 1; u < sp->nres; u++) {
        for (int v = 1; v <= u; v++) {
            if (!isfinite(lb[v]) || !pipe_space_sub_ok(sp, u, v)) continue;
            const knap *rest = &G[u - v];
            if (!rest->ok || rest->nlanes + 1 > AXNN_PIPE_MAX_LANES) continue;
            if (!d->p->lanes && rest->nlanes) continue;
            double thr = rest->thr + 1 / lb[v], w = rest->w + ll[v] / lb[v];
            if (!G[u].ok || pipe_better(thr, w, G[u].thr, G[u].w)) {
                G[u] = (knap){thr, w, v, rest->nlanes + 1, true};
            }
        }
        if (G[u].ok && (best < 0 || pipe_better(G[u].thr, G[u].w, G[best].thr, G[best].w)))
            best = u;
    }
    *nchosen = 0;
    for (int u = best; u > 0 && G[u].ok; u -= G[u].lane_u) chosen[(*nchosen)++] = G[u].lane_u;
    free(G);
    return best < 0 ? axnn_error(AXNN_ERR_ARG, "search: no feasible plan (no layer time is "
                                               "finite on the configurations the groups allow)")
                    : AXNN_OK;
}

static void dp_free(dp *d)
{
    if (d->fr) {
        size_t n = (size_t)(d->p->nlayers + 1) * d->ns * d->sp.nres;
        for (size_t i = 0; i < n; i++) free(d->fr[i].e);
    }
    free(d->fr);
    pipe_space_free(&d->sp);
}

static axnn_status solve(dp *d, axnn_pipe_plan *plan)
{
    const axnn_pipe_problem *p = d->p;
    int nres = d->sp.nres;
    int *lst = malloc((size_t)nres * 2 * sizeof *lst);
    double *lb = malloc((size_t)nres * 2 * sizeof *lb);
    int chosen[AXNN_PIPE_MAX_LANES], nchosen = 0;
    axnn_status s = lst && lb ? phase1(d) : axnn_error(AXNN_ERR_NOMEM, "search: out of memory");
    if (!s) {
        double *ll = lb + nres;
        for (int u = 0; u < nres; u++) {
            best_lane(d, u, &lst[u], &lst[nres + u]);
            lb[u] = ll[u] = INFINITY;
            if (u && lst[u] >= 0) {
                const entry *x = &d->fr[lst[u]].e[lst[nres + u]];
                lb[u] = x->b;
                ll[u] = x->lat;
            }
        }
        s = lanes_knapsack(d, lb, ll, chosen, &nchosen);
    }
    if (!s) {
        plan->nlanes = nchosen;
        for (int i = 0; i < nchosen; i++)
            rebuild_lane(d, lst[chosen[i]], lst[nres + chosen[i]], &plan->lanes[i]);
        plan->evaluated = d->evaluated;
        s = axnn_pipe_plan_eval(p, plan);
    }
    free(lst);
    free(lb);
    return s;
}

axnn_status axnn_pipe_search(const axnn_pipe_problem *p, axnn_pipe_plan **out)
{
    *out = NULL;
    double t0 = axnn_now();
    axnn_status s = axnn_pipe_problem_check(p);
    if (s) return s;
    dp d = {.p = p, .ns = p->max_stages ? p->max_stages + 1 : 1};
    if ((s = pipe_space_init(&d.sp, p))) return s;
    size_t nst = (size_t)(p->nlayers + 1) * d.ns * d.sp.nres;
    d.fr = calloc(nst, sizeof *d.fr);
    axnn_pipe_plan *plan = calloc(1, sizeof *plan);
    if (!d.fr || !plan) s = axnn_error(AXNN_ERR_NOMEM, "search: out of memory");
    if (!s) s = solve(&d, plan);
    dp_free(&d);
    if (s) {
        free(plan);
        return s;
    }
    plan->search_s = axnn_now() - t0;
    *out = plan;
    return AXNN_OK;
}
