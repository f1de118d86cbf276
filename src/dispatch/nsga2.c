/* NSGA-II (Deb, Pratap, Agarwal and Meyarivan, "A fast and elitist multiobjective genetic
 * algorithm: NSGA-II", IEEE TEC 6(2), 2002), written from the paper. Every objective is
 * minimized.
 *
 * One generation: parents are picked by binary tournaments (lower front rank wins, then larger
 * crowding distance, then the first drawn); pairs of parents make two children by simulated
 * binary crossover (SBX, Deb and Agrawal 1995, with the bounded spread of Deb's reference
 * implementation) and polynomial mutation (Deb and Goyal 1996, bounded variant) on the real
 * genes, and by uniform crossover and random reset on the integer genes. Parents and children
 * (2N) are sorted into non-dominated fronts; whole fronts fill the next population, and the front
 * that does not fit is cut by descending crowding distance (ties by index, so the result is
 * deterministic).
 *
 * Randomness comes from one xoshiro generator in the state, drawn in a fixed order; the state
 * (genes, objectives, generator) round-trips exactly through JSON, so a search resumed from a
 * saved generation continues as the uninterrupted one.
 */
#include "axnn/dispatch.h"
#include "dispatch/nsga2_json.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double u01(axnn_rng *r)
{
    return (double)(axnn_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* a dominates b: no worse in every objective, better in one. */
static bool dominates(const double *a, const double *b, int m)
{
    bool better = false;
    for (int k = 0; k < m; k++) {
        if (a[k] > b[k]) return false;
        if (a[k] < b[k]) better = true;
    }
    return better;
}

int axnn_nd_sort(const double *f, int n, int m, int *rank)
{
    /* count[i]: how many points dominate i; dom lists, per point, the points it dominates. */
    int *count = calloc((size_t)n, sizeof *count),
        *dom = malloc((size_t)n * (size_t)n * sizeof *dom);
    int *ndom = calloc((size_t)n, sizeof *ndom), *cur = malloc((size_t)n * sizeof *cur);
    int *next = malloc((size_t)n * sizeof *next);
    if (!count || !dom || !ndom || !cur || !next) {
        free(count), free(dom), free(ndom), free(cur), free(next);
        for (int i = 0; i < n; i++) rank[i] = 0;
        return n > 0;
    }
    int ncur = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            if (dominates(f + (size_t)i * m, f + (size_t)j * m, m))
                dom[(size_t)i * n + ndom[i]++] = j;
            else if (dominates(f + (size_t)j * m, f + (size_t)i * m, m))
                count[i]++;
        }
        if (count[i] == 0) {
            rank[i] = 0;
            cur[ncur++] = i;
        }
    }
    int fronts = 0;
    while (ncur > 0) {
        int nnext = 0;
        for (int a = 0; a < ncur; a++) {
            int i = cur[a];
            for (int b = 0; b < ndom[i]; b++) {
                int j = dom[(size_t)i * n + b];
                if (--count[j] == 0) {
                    rank[j] = fronts + 1;
                    next[nnext++] = j;
                }
            }
        }
        fronts++;
        memcpy(cur, next, (size_t)nnext * sizeof *cur);
        ncur = nnext;
    }
    free(count), free(dom), free(ndom), free(cur), free(next);
    return fronts;
}

void axnn_crowding(const double *f, int m, const int *idx, int cnt, double *crowd)
{
    for (int j = 0; j < cnt; j++) crowd[j] = 0.0;
    if (cnt <= 2) {
        for (int j = 0; j < cnt; j++) crowd[j] = INFINITY;
        return;
    }
    int *ord = malloc((size_t)cnt * sizeof *ord);
    if (!ord) return;
    for (int k = 0; k < m; k++) {
        for (int j = 0; j < cnt; j++) ord[j] = j;
        /* sort positions j by f[idx[j]][k] */
        for (int a = 1; a < cnt; a++) {
            int v = ord[a], b = a - 1;
            double fv = f[(size_t)idx[v] * m + k];
            while (b >= 0 && (f[(size_t)idx[ord[b]] * m + k] > fv ||
                              (f[(size_t)idx[ord[b]] * m + k] == fv && ord[b] > v))) {
                ord[b + 1] = ord[b];
                b--;
            }
            ord[b + 1] = v;
        }
        double lo = f[(size_t)idx[ord[0]] * m + k], hi = f[(size_t)idx[ord[cnt - 1]] * m + k];
        crowd[ord[0]] = crowd[ord[cnt - 1]] = INFINITY;
        if (hi <= lo) continue;
        for (int a = 1; a < cnt - 1; a++)
            crowd[ord[a]] +=
                (f[(size_t)idx[ord[a + 1]] * m + k] - f[(size_t)idx[ord[a - 1]] * m + k]) /
                (hi - lo);
    }
    free(ord);
}

static double spread_q(double u, double alpha, double eta)
{
    return u <= 1.0 / alpha ? pow(u * alpha, 1.0 / (eta + 1.0))
                            : pow(1.0 / (2.0 - u * alpha), 1.0 / (eta + 1.0));
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void axnn_sbx(const double *p1, const double *p2, double *c1, double *c2, const double *lo,
              const double *hi, int n, double eta, double pc, axnn_rng *r)
{
    memcpy(c1, p1, (size_t)n * sizeof *c1);
    memcpy(c2, p2, (size_t)n * sizeof *c2);
    if (u01(r) > pc) return;
    for (int i = 0; i < n; i++) {
        if (u01(r) > 0.5 || fabs(p1[i] - p2[i]) <= 1e-14 || hi[i] <= lo[i]) continue;
        double y1 = fmin(p1[i], p2[i]), y2 = fmax(p1[i], p2[i]), d = y2 - y1, u = u01(r);
        double beta1 = 1.0 + 2.0 * (y1 - lo[i]) / d, beta2 = 1.0 + 2.0 * (hi[i] - y2) / d;
        double q1 = spread_q(u, 2.0 - pow(beta1, -(eta + 1.0)), eta);
        double q2 = spread_q(u, 2.0 - pow(beta2, -(eta + 1.0)), eta);
        double a = clampd(0.5 * ((y1 + y2) - q1 * d), lo[i], hi[i]);
        double b = clampd(0.5 * ((y1 + y2) + q2 * d), lo[i], hi[i]);
        if (u01(r) <= 0.5) {
            c1[i] = b;
            c2[i] = a;
        } else {
            c1[i] = a;
            c2[i] = b;
        }
    }
}

void axnn_poly_mutate(double *x, const double *lo, const double *hi, int n, double eta, double pm,
                      axnn_rng *r)
{
    for (int i = 0; i < n; i++) {
        if (u01(r) > pm || hi[i] <= lo[i]) continue;
        double span = hi[i] - lo[i], d1 = (x[i] - lo[i]) / span, d2 = (hi[i] - x[i]) / span;
        double u = u01(r), p = 1.0 / (eta + 1.0), dq;
        if (u < 0.5) {
            double v = 2.0 * u + (1.0 - 2.0 * u) * pow(1.0 - d1, eta + 1.0);
            dq = pow(v, p) - 1.0;
        } else {
            double v = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * pow(1.0 - d2, eta + 1.0);
            dq = 1.0 - pow(v, p);
        }
        x[i] = clampd(x[i] + dq * span, lo[i], hi[i]);
    }
}

static int by_f0(const void *a, const void *b)
{
    const double *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

double axnn_hv2d(const double *f, int n, double r0, double r1)
{
    double *p = malloc((size_t)(n > 0 ? n : 1) * 2 * sizeof *p);
    if (!p) return 0.0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (f[2 * i] < r0 && f[2 * i + 1] < r1) {
            p[2 * k] = f[2 * i];
            p[2 * k + 1] = f[2 * i + 1];
            k++;
        }
    qsort(p, (size_t)k, 2 * sizeof *p, by_f0);
    double area = 0.0, prev = r1;
    for (int i = 0; i < k; i++)
        if (p[2 * i + 1] < prev) {
            area += (r0 - p[2 * i]) * (prev - p[2 * i + 1]);
            prev = p[2 * i + 1];
        }
    free(p);
    return area;
}

/* ---- the population ---- */

axnn_status axnn_nsga2_create(const axnn_nsga2_cfg *cfg, axnn_nsga2 **out)
{
    *out = NULL;
    if (cfg->pop < 4 || cfg->pop % 2)
        return axnn_error(AXNN_ERR_ARG, "NSGA-II population must be even and at least 4, got %d",
                          cfg->pop);
    if (cfg->nreal < 0 || cfg->nreal > 64 || cfg->nint < 0 || cfg->nint > 8 ||
        cfg->nreal + cfg->nint < 1 || cfg->nobj < 1)
        return axnn_error(
            AXNN_ERR_ARG,
            "NSGA-II: 0..64 real and 0..8 integer genes, at least one, and objectives");
    for (int i = 0; i < cfg->nreal; i++)
        if (!(cfg->lo[i] <= cfg->hi[i]))
            return axnn_error(AXNN_ERR_ARG, "NSGA-II: gene %d has lo > hi", i);
    for (int i = 0; i < cfg->nint; i++)
        if (cfg->imax[i] < 0)
            return axnn_error(AXNN_ERR_ARG, "NSGA-II: integer gene %d has max < 0", i);
    axnn_nsga2 *s = calloc(1, sizeof *s);
    if (!s) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    s->cfg = *cfg;
    memcpy(s->lo, cfg->lo, (size_t)cfg->nreal * sizeof *s->lo);
    memcpy(s->hi, cfg->hi, (size_t)cfg->nreal * sizeof *s->hi);
    if (cfg->nint) memcpy(s->imax, cfg->imax, (size_t)cfg->nint * sizeof *s->imax);
    s->cfg.lo = s->lo;
    s->cfg.hi = s->hi;
    s->cfg.imax = s->imax;
    if (s->cfg.pm <= 0) s->cfg.pm = 1.0 / (cfg->nreal + cfg->nint);
    size_t p2 = 2 * (size_t)cfg->pop; /* room for parents + offspring */
    s->x = calloc(p2 * (size_t)(cfg->nreal + 1), sizeof *s->x);
    s->xi = calloc(p2 * (size_t)(cfg->nint + 1), sizeof *s->xi);
    s->f = calloc(p2 * (size_t)cfg->nobj, sizeof *s->f);
    s->rank = calloc(p2, sizeof *s->rank);
    s->crowd = calloc(p2, sizeof *s->crowd);
    if (!s->x || !s->xi || !s->f || !s->rank || !s->crowd) {
        axnn_nsga2_free(s);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    }
    axnn_rng_seed(&s->rng, cfg->seed);
    *out = s;
    return AXNN_OK;
}

void axnn_nsga2_free(axnn_nsga2 *s)
{
    if (!s) return;
    free(s->x), free(s->xi), free(s->f), free(s->rank), free(s->crowd);
    free(s);
}

/* Ranks and crowding distances of the first n individuals. */
static axnn_status assign_rank_crowd(axnn_nsga2 *s, int n)
{
    int m = s->cfg.nobj, nf = axnn_nd_sort(s->f, n, m, s->rank);
    int *idx = calloc((size_t)n, sizeof *idx);
    double *cd = calloc((size_t)n, sizeof *cd);
    if (!idx || !cd) {
        free(idx), free(cd);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    }
    for (int r = 0; r < nf; r++) {
        int cnt = 0;
        for (int i = 0; i < n; i++)
            if (s->rank[i] == r) idx[cnt++] = i;
        axnn_crowding(s->f, m, idx, cnt, cd);
        for (int j = 0; j < cnt; j++) s->crowd[idx[j]] = cd[j];
    }
    free(idx), free(cd);
    return AXNN_OK;
}

axnn_status axnn_nsga2_init(axnn_nsga2 *s, axnn_nsga2_eval_fn eval, void *ctx)
{
    const axnn_nsga2_cfg *c = &s->cfg;
    for (int i = 0; i < c->pop; i++) {
        for (int g = 0; g < c->nreal; g++)
            s->x[(size_t)i * c->nreal + g] = s->lo[g] + u01(&s->rng) * (s->hi[g] - s->lo[g]);
        for (int g = 0; g < c->nint; g++)
            s->xi[(size_t)i * c->nint + g] = (int)axnn_rng_below(&s->rng, (uint32_t)s->imax[g] + 1);
    }
    axnn_status st = eval(ctx, c->pop, s->x, s->xi, s->f);
    if (st) return st;
    s->gen = 0;
    return assign_rank_crowd(s, c->pop);
}

static int tournament(axnn_nsga2 *s)
{
    int a = (int)axnn_rng_below(&s->rng, (uint32_t)s->cfg.pop),
        b = (int)axnn_rng_below(&s->rng, (uint32_t)s->cfg.pop);
    if (s->rank[a] != s->rank[b]) return s->rank[a] < s->rank[b] ? a : b;
    if (s->crowd[a] != s->crowd[b]) return s->crowd[a] > s->crowd[b] ? a : b;
    return a;
}

/* Offspring pairs into rows pop .. 2 pop - 1. */
static void make_offspring(axnn_nsga2 *s)
{
    const axnn_nsga2_cfg *c = &s->cfg;
    int nr = c->nreal, ni = c->nint;
    for (int k = 0; k < c->pop; k += 2) {
        int p1 = tournament(s), p2 = tournament(s), o1 = c->pop + k, o2 = o1 + 1;
        double *x1 = s->x + (size_t)o1 * nr, *x2 = s->x + (size_t)o2 * nr;
        axnn_sbx(s->x + (size_t)p1 * nr, s->x + (size_t)p2 * nr, x1, x2, s->lo, s->hi, nr, c->eta_c,
                 c->pc, &s->rng);
        axnn_poly_mutate(x1, s->lo, s->hi, nr, c->eta_m, c->pm, &s->rng);
        axnn_poly_mutate(x2, s->lo, s->hi, nr, c->eta_m, c->pm, &s->rng);
        for (int g = 0; g < ni; g++) {
            int a = s->xi[(size_t)p1 * ni + g], b = s->xi[(size_t)p2 * ni + g];
            bool swap = u01(&s->rng) < 0.5;
            s->xi[(size_t)o1 * ni + g] = swap ? b : a;
            s->xi[(size_t)o2 * ni + g] = swap ? a : b;
            for (int o = o1; o <= o2; o++)
                if (u01(&s->rng) < c->pm)
                    s->xi[(size_t)o * ni + g] =
                        (int)axnn_rng_below(&s->rng, (uint32_t)s->imax[g] + 1);
        }
    }
}

static int cmp_rank_crowd(const axnn_nsga2 *s, int a, int b)
{
    if (s->rank[a] != s->rank[b]) return s->rank[a] - s->rank[b];
    if (s->crowd[a] != s->crowd[b]) return s->crowd[a] > s->crowd[b] ? -1 : 1;
    return a - b;
}

/* Stable, reentrant ordering (qsort with a global would not be thread-safe). */
static void order_population(const axnn_nsga2 *s, int *ord, int n)
{
    for (int i = 0; i < n; i++) ord[i] = i;
    for (int a = 1; a < n; a++) {
        int v = ord[a], b = a - 1;
        while (b >= 0 && cmp_rank_crowd(s, ord[b], v) > 0) {
            ord[b + 1] = ord[b];
            b--;
        }
        ord[b + 1] = v;
    }
}

axnn_status axnn_nsga2_step(axnn_nsga2 *s, axnn_nsga2_eval_fn eval, void *ctx)
{
    const axnn_nsga2_cfg *c = &s->cfg;
    int n2 = 2 * c->pop, nr = c->nreal, ni = c->nint, m = c->nobj;
    make_offspring(s);
    axnn_status st = eval(ctx, c->pop, s->x + (size_t)c->pop * nr, s->xi + (size_t)c->pop * ni,
                          s->f + (size_t)c->pop * m);
    if (st) return st;
    if ((st = assign_rank_crowd(s, n2))) return st;
    int *ord = malloc((size_t)n2 * sizeof *ord);
    double *x = malloc((size_t)n2 * (size_t)(nr + 1) * sizeof *x),
           *f = malloc((size_t)n2 * (size_t)m * sizeof *f);
    int *xi = malloc((size_t)n2 * (size_t)(ni + 1) * sizeof *xi);
    if (!ord || !x || !f || !xi) {
        free(ord), free(x), free(f), free(xi);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    }
    order_population(s, ord, n2);
    for (int i = 0; i < c->pop; i++) {
        memcpy(x + (size_t)i * nr, s->x + (size_t)ord[i] * nr, (size_t)nr * sizeof *x);
        memcpy(xi + (size_t)i * ni, s->xi + (size_t)ord[i] * ni, (size_t)ni * sizeof *xi);
        memcpy(f + (size_t)i * m, s->f + (size_t)ord[i] * m, (size_t)m * sizeof *f);
    }
    memcpy(s->x, x, (size_t)c->pop * nr * sizeof *x);
    memcpy(s->xi, xi, (size_t)c->pop * ni * sizeof *xi);
    memcpy(s->f, f, (size_t)c->pop * m * sizeof *f);
    free(ord), free(x), free(f), free(xi);
    s->gen++;
    /* Ranks and crowding within the new population (the tournaments of the next generation). */
    return assign_rank_crowd(s, c->pop);
}

/* ---- state as JSON ---- */

static cJSON *rows_json(const double *v, const int *vi, int n, int w)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        cJSON *r = cJSON_CreateArray();
        for (int j = 0; r && j < w; j++) { /* %.17g: cJSON's own printing is not exact */
            char b[32];
            snprintf(b, sizeof b, "%.17g",
                     v ? v[(size_t)i * w + j] : (double)vi[(size_t)i * w + j]);
            cJSON_AddItemToArray(r, cJSON_CreateRaw(b));
        }
        cJSON_AddItemToArray(a, r);
    }
    return a;
}

char *axnn_nsga2_to_json(const axnn_nsga2 *s)
{
    const axnn_nsga2_cfg *c = &s->cfg;
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "gen", s->gen);
    cJSON_AddNumberToObject(o, "pop", c->pop);
    cJSON *rng = cJSON_AddArrayToObject(o, "rng");
    for (int i = 0; i < 4; i++) {
        char b[24];
        snprintf(b, sizeof b, "%016" PRIx64, s->rng.s[i]);
        cJSON_AddItemToArray(rng, cJSON_CreateString(b));
    }
    cJSON_AddItemToObject(o, "x", rows_json(s->x, NULL, c->pop, c->nreal));
    cJSON_AddItemToObject(o, "xi", rows_json(NULL, s->xi, c->pop, c->nint));
    cJSON_AddItemToObject(o, "f", rows_json(s->f, NULL, c->pop, c->nobj));
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    return txt;
}

static bool read_rows(const cJSON *a, double *v, int *vi, int n, int w)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) return false;
    for (int i = 0; i < n; i++) {
        const cJSON *r = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsArray(r) || cJSON_GetArraySize(r) != w) return false;
        for (int j = 0; j < w; j++) {
            const cJSON *e = cJSON_GetArrayItem(r, j);
            if (!cJSON_IsNumber(e)) return false;
            if (v)
                v[(size_t)i * w + j] = e->valuedouble;
            else
                vi[(size_t)i * w + j] = e->valueint;
        }
    }
    return true;
}

axnn_status axnn_nsga2_from_json(axnn_nsga2 *s, const char *json, const char *what)
{
    cJSON *o = cJSON_Parse(json);
    axnn_status st = axnn_nsga2_from_cjson(s, o, what);
    cJSON_Delete(o);
    return st;
}

axnn_status axnn_nsga2_from_cjson(axnn_nsga2 *s, const cJSON *o, const char *what)
{
    const axnn_nsga2_cfg *c = &s->cfg;
    bool ok = o != NULL;
    const cJSON *gen = cJSON_GetObjectItem(o, "gen"), *pop = cJSON_GetObjectItem(o, "pop");
    const cJSON *rng = cJSON_GetObjectItem(o, "rng");
    ok = ok && cJSON_IsNumber(gen) && gen->valueint >= 0 && cJSON_IsNumber(pop) &&
         pop->valueint == c->pop && cJSON_IsArray(rng) && cJSON_GetArraySize(rng) == 4;
    for (int i = 0; ok && i < 4; i++) {
        const cJSON *e = cJSON_GetArrayItem(rng, i);
        char *end;
        ok = cJSON_IsString(e);
        if (ok) s->rng.s[i] = strtoull(e->valuestring, &end, 16), ok = *end == 0;
    }
    ok = ok && read_rows(cJSON_GetObjectItem(o, "x"), s->x, NULL, c->pop, c->nreal) &&
         read_rows(cJSON_GetObjectItem(o, "xi"), NULL, s->xi, c->pop, c->nint) &&
         read_rows(cJSON_GetObjectItem(o, "f"), s->f, NULL, c->pop, c->nobj);
    for (int i = 0; ok && i < c->pop * c->nreal; i++)
        ok = s->x[i] >= s->lo[i % c->nreal] && s->x[i] <= s->hi[i % c->nreal];
    for (int i = 0; ok && i < c->pop * c->nint; i++)
        ok = s->xi[i] >= 0 && s->xi[i] <= s->imax[i % c->nint];
    if (ok) s->gen = gen->valueint;
    if (!ok)
        return axnn_error(AXNN_ERR_FORMAT, "%s: not a search state of this configuration", what);
    return assign_rank_crowd(s, c->pop);
}
