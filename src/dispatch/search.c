/* The PERTINENCE search: NSGA-II over the dispatcher's training settings.
 *
 * Chromosome (m zoo models): the m (m - 1) off-diagonal entries of the penalty matrix P, each in
 * [0, 100], row-major skipping the diagonal; then beta of the ENS weighting in [0.9, 0.9999];
 * then one integer gene, the class weighting (0 none, 1 INS, 2 ISNS, 3 ENS). Beta is carried by
 * every individual but only read under ENS.
 *
 * Objectives, both minimized: the validation error 1 - top-1 of the dispatched system, and its
 * mean MACs per input divided by the dearest possible per-input cost (extractor + dispatcher +
 * the dearest model), so both lie in [0, 1]. The hypervolume of each generation's first front
 * is taken against the fixed reference point (1, 1.1).
 *
 * Each individual trains a fresh dispatcher (same seed for all, so a chromosome always gives
 * the same dispatcher) on the train split; individuals of a generation train in parallel on the
 * pool, each on one thread, so results do not depend on the thread count. After each
 * generation the whole state goes atomically to cfg->state_path; a search started again with
 * the same settings continues from the last saved generation and ends exactly where an
 * uninterrupted one would.
 */
#include "axnn/dispatch.h"
#include "axnn/io.h"
#include "dispatch/nsga2_json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_ERR 1.0
#define REF_COST 1.1

typedef struct search_ctx {
    const axnn_zoo *z;
    const axnn_search_cfg *cfg;
    int32_t *labels; /* train split */
    double disp_macs, norm;
    axnn_pool *pool;
    /* the batch being evaluated */
    int n;
    const double *x;
    const int *xi;
    double *f;
    axnn_status st[1024];
} search_ctx;

static void decode(int m, const double *x, const int *xi, axnn_disp_genes *g)
{
    memset(g, 0, sizeof *g);
    int q = 0;
    for (int a = 0; a < m; a++)
        for (int b = 0; b < m; b++) g->P[a * m + b] = a == b ? 0.0 : x[q++];
    g->beta = x[q];
    g->weighting = (axnn_weighting)xi[0];
}

/* Trains the dispatcher of genes g on the train split (labels given) and evaluates it on the
 * splits in [s0, s1]. */
static axnn_status fit(const axnn_zoo *z, const int32_t *labels, const axnn_disp_genes *g,
                       const axnn_fc_cfg *fcc, int s0, int s1, axnn_disp_point *out)
{
    const axnn_zoo_split *tr = &z->split[AXNN_SPLIT_TRAIN];
    double wc[AXNN_ZOO_MAX];
    axnn_class_weights(labels, tr->n, z->m, g->weighting, g->beta, wc);
    axnn_fc fc;
    axnn_status st = axnn_fc_train(tr->feat, tr->n, z->d, labels, z->m, g->P, wc, fcc, &fc);
    if (st) return st;
    out->genes = *g;
    double dm = axnn_dispatcher_macs(z);
    for (int s = s0; s <= s1 && !st; s++) {
        const axnn_zoo_split *p = &z->split[s];
        int32_t *route = malloc((size_t)(p->n ? p->n : 1) * sizeof *route);
        if (!route) {
            st = axnn_error(AXNN_ERR_NOMEM, "out of memory");
            break;
        }
        axnn_fc_route(&fc, p->feat, p->n, route);
        axnn_dispatch_eval(z, s, route, dm, &out->acc[s], &out->macs[s], out->share[s]);
        free(route);
    }
    axnn_fc_free(&fc);
    return st;
}

static axnn_status check_zoo(const axnn_zoo *z)
{
    if (z->m < 2)
        return axnn_error(AXNN_ERR_ARG, "dispatch needs a zoo of at least 2 models, got %d", z->m);
    if (z->d < 1 || z->ext < 0)
        return axnn_error(AXNN_ERR_ARG, "the zoo has no extractor features");
    for (int s = 0; s < 3; s++)
        if (!z->split[s].feat) return axnn_error(AXNN_ERR_ARG, "the zoo has no extractor features");
    if (z->split[AXNN_SPLIT_TRAIN].n < 10 || z->split[AXNN_SPLIT_VAL].n < 10)
        return axnn_error(
            AXNN_ERR_ARG,
            "the zoo's train and validation splits need at least 10 samples (%lld, %lld)",
            (long long)z->split[AXNN_SPLIT_TRAIN].n, (long long)z->split[AXNN_SPLIT_VAL].n);
    return AXNN_OK;
}

static void train_labels(const axnn_zoo *z, axnn_none_policy none, int32_t *labels)
{
    double cost[AXNN_ZOO_MAX];
    for (int j = 0; j < z->m; j++) cost[j] = axnn_dispatch_cost(z, axnn_dispatcher_macs(z), j);
    axnn_dispatch_labels(z->split[AXNN_SPLIT_TRAIN].correct, z->split[AXNN_SPLIT_TRAIN].n, z->m,
                         cost, none, labels);
}

axnn_status axnn_dispatch_fit(const axnn_zoo *z, const axnn_disp_genes *g, const axnn_fc_cfg *fc,
                              axnn_none_policy none, axnn_disp_point *out)
{
    axnn_status st = check_zoo(z);
    if (st) return st;
    int32_t *labels = malloc((size_t)z->split[AXNN_SPLIT_TRAIN].n * sizeof *labels);
    if (!labels) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    train_labels(z, none, labels);
    memset(out, 0, sizeof *out);
    st = fit(z, labels, g, fc, 0, 2, out);
    free(labels);
    return st;
}

axnn_status axnn_dispatch_train(const axnn_zoo *z, const axnn_disp_genes *g, const axnn_fc_cfg *fc,
                                axnn_none_policy none, axnn_fc *out)
{
    axnn_status st = check_zoo(z);
    if (st) return st;
    const axnn_zoo_split *tr = &z->split[AXNN_SPLIT_TRAIN];
    int32_t *labels = malloc((size_t)tr->n * sizeof *labels);
    if (!labels) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    train_labels(z, none, labels);
    double wc[AXNN_ZOO_MAX];
    axnn_class_weights(labels, tr->n, z->m, g->weighting, g->beta, wc);
    st = axnn_fc_train(tr->feat, tr->n, z->d, labels, z->m, g->P, wc, fc, out);
    free(labels);
    return st;
}

static void eval_task(void *arg, int ith, int nth)
{
    search_ctx *c = arg;
    int nr = c->z->m * (c->z->m - 1) + 1;
    for (int i = ith; i < c->n; i += nth) {
        axnn_disp_genes g;
        axnn_disp_point pt;
        decode(c->z->m, c->x + (size_t)i * nr, c->xi + i, &g);
        c->st[i] = fit(c->z, c->labels, &g, &c->cfg->fc, AXNN_SPLIT_VAL, AXNN_SPLIT_VAL, &pt);
        c->f[2 * i] = 1.0 - pt.acc[AXNN_SPLIT_VAL];
        c->f[2 * i + 1] = pt.macs[AXNN_SPLIT_VAL] / c->norm;
    }
}

static axnn_status eval_batch(void *ctx, int n, const double *x, const int *xi, double *f)
{
    search_ctx *c = ctx;
    c->n = n;
    c->x = x;
    c->xi = xi;
    c->f = f;
    axnn_pool_run(c->pool, eval_task, c);
    for (int i = 0; i < n; i++)
        if (c->st[i]) return c->st[i];
    return AXNN_OK;
}

static double front_hv(const axnn_nsga2 *s)
{
    double *f = malloc((size_t)s->cfg.pop * 2 * sizeof *f);
    if (!f) return 0.0;
    int k = 0;
    for (int i = 0; i < s->cfg.pop; i++)
        if (s->rank[i] == 0) {
            f[2 * k] = s->f[2 * i];
            f[2 * k + 1] = s->f[2 * i + 1];
            k++;
        }
    double hv = axnn_hv2d(f, k, REF_ERR, REF_COST);
    free(f);
    return hv;
}

/* The settings a saved state must match to be resumed. */
static char *settings_json(const axnn_zoo *z, const axnn_search_cfg *cfg)
{
    char buf[1024];
    snprintf(
        buf, sizeof buf,
        "{\"pop\":%d,\"fc_epochs\":%d,\"fc_batch\":%d,\"fc_lr\":%.9g,\"fc_wd\":%.9g,\"seed\":%llu,"
        "\"none\":%d,\"models\":%d,\"train\":%lld,\"val\":%lld,\"val_acc0\":%.9g}",
        cfg->pop, cfg->fc.epochs, cfg->fc.batch, cfg->fc.lr, cfg->fc.wd,
        (unsigned long long)cfg->seed, (int)cfg->none, z->m, (long long)z->split[0].n,
        (long long)z->split[1].n, z->models[0].accuracy[1]);
    return strdup(buf);
}

static axnn_status save_state(const char *path, const char *settings, const axnn_nsga2 *s,
                              const double *hv, int nhv)
{
    char *pop = axnn_nsga2_to_json(s);
    if (!pop) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    size_t cap = strlen(pop) + strlen(settings) + 64 + (size_t)nhv * 26;
    char *txt = malloc(cap);
    if (!txt) {
        free(pop);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    }
    size_t o = (size_t)snprintf(txt, cap, "{\"settings\": %s,\n\"hv\": [", settings);
    for (int i = 0; i < nhv; i++)
        o += (size_t)snprintf(txt + o, cap - o, "%s%.17g", i ? ", " : "", hv[i]);
    o += (size_t)snprintf(txt + o, cap - o, "],\n\"nsga2\": %s}\n", pop);
    axnn_status st = axnn_write_file_atomic(path, txt, o);
    free(pop);
    free(txt);
    return st;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) b[n] = 0;
    fclose(f);
    return b;
}

/* Loads a saved state when present: returns AXNN_OK and *loaded, or an error. */
static axnn_status load_state(const char *path, const char *settings, axnn_nsga2 *s, double *hv,
                              int maxhv, int *nhv, bool *loaded)
{
    *loaded = false;
    char *txt = read_text(path);
    if (!txt) return AXNN_OK;
    cJSON *o = cJSON_Parse(txt), *want = cJSON_Parse(settings);
    free(txt);
    const cJSON *have = cJSON_GetObjectItem(o, "settings"), *h = cJSON_GetObjectItem(o, "hv");
    const cJSON *pop = cJSON_GetObjectItem(o, "nsga2");
    axnn_status st = AXNN_OK;
    if (!o || !cJSON_IsObject(pop) || !cJSON_IsArray(h))
        st = axnn_error(AXNN_ERR_FORMAT, "%s: not a search state file", path);
    else if (!cJSON_Compare(have, want, true))
        st = axnn_error(AXNN_ERR_ARG,
                        "%s holds a search with other settings (remove it or change --out)", path);
    if (!st) {
        st = axnn_nsga2_from_cjson(s, pop, path);
    }
    if (!st && cJSON_GetArraySize(h) != s->gen + 1)
        st = axnn_error(AXNN_ERR_FORMAT, "%s: hypervolume count", path);
    for (int i = 0; !st && i < cJSON_GetArraySize(h) && i < maxhv; i++)
        hv[i] = cJSON_GetArrayItem(h, i)->valuedouble;
    if (!st) *nhv = cJSON_GetArraySize(h), *loaded = true;
    cJSON_Delete(o);
    cJSON_Delete(want);
    return st;
}

static int by_val_macs(const void *a, const void *b)
{
    const axnn_disp_point *x = a, *y = b;
    double u = x->macs[AXNN_SPLIT_VAL], v = y->macs[AXNN_SPLIT_VAL];
    if (u != v) return u < v ? -1 : 1;
    return y->acc[AXNN_SPLIT_VAL] > x->acc[AXNN_SPLIT_VAL]   ? 1
           : y->acc[AXNN_SPLIT_VAL] < x->acc[AXNN_SPLIT_VAL] ? -1
                                                             : 0;
}

/* Re-trains the distinct first-front individuals and evaluates them on every split. */
static axnn_status final_front(search_ctx *c, const axnn_nsga2 *s, axnn_search_result *res)
{
    int nr = c->z->m * (c->z->m - 1) + 1;
    res->front = calloc((size_t)s->cfg.pop, sizeof *res->front);
    if (!res->front) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < s->cfg.pop; i++) {
        if (s->rank[i] != 0) continue;
        bool dup = false;
        for (int j = 0; j < i && !dup; j++)
            dup =
                s->rank[j] == 0 && s->f[2 * j] == s->f[2 * i] && s->f[2 * j + 1] == s->f[2 * i + 1];
        if (dup) continue;
        axnn_disp_genes g;
        decode(c->z->m, s->x + (size_t)i * nr, s->xi + i, &g);
        axnn_status st = fit(c->z, c->labels, &g, &c->cfg->fc, 0, 2, &res->front[res->nfront]);
        if (st) return st;
        res->nfront++;
    }
    qsort(res->front, (size_t)res->nfront, sizeof *res->front, by_val_macs);
    axnn_disp_genes plain = {0};
    return fit(c->z, c->labels, &plain, &c->cfg->fc, 0, 2, &res->plain);
}

static axnn_status run_generations(search_ctx *c, axnn_nsga2 *s, const char *settings,
                                   axnn_progress *prog, axnn_search_result *res)
{
    const axnn_search_cfg *cfg = c->cfg;
    bool loaded = false;
    axnn_status st = cfg->state_path ? load_state(cfg->state_path, settings, s, res->hv,
                                                  cfg->gens + 1, &res->nhv, &loaded)
                                     : AXNN_OK;
    if (!st && loaded && s->gen > cfg->gens)
        st = axnn_error(AXNN_ERR_ARG, "%s already holds %d generations, more than the %d asked",
                        cfg->state_path, s->gen, cfg->gens);
    if (!st && !loaded) {
        st = axnn_nsga2_init(s, eval_batch, c);
        if (!st) res->hv[res->nhv++] = front_hv(s);
        if (!st && cfg->state_path)
            st = save_state(cfg->state_path, settings, s, res->hv, res->nhv);
    }
    axnn_progress_begin(prog, "search", cfg->gens, "gen");
    char extra[64];
    while (!st && s->gen < cfg->gens) {
        snprintf(extra, sizeof extra, "hv %.4f", res->hv[res->nhv - 1]);
        axnn_progress_update(prog, s->gen, extra);
        st = axnn_nsga2_step(s, eval_batch, c);
        if (!st) res->hv[res->nhv++] = front_hv(s);
        if (!st && cfg->state_path)
            st = save_state(cfg->state_path, settings, s, res->hv, res->nhv);
    }
    if (st) return st;
    snprintf(extra, sizeof extra, "hv %.4f", res->hv[res->nhv - 1]);
    axnn_progress_end(prog, extra);
    res->gens_done = s->gen;
    return AXNN_OK;
}

axnn_status axnn_dispatch_search(const axnn_zoo *z, const axnn_search_cfg *cfg, axnn_progress *prog,
                                 axnn_search_result *res)
{
    memset(res, 0, sizeof *res);
    axnn_status st = check_zoo(z);
    if (st) return st;
    if (cfg->pop < 4 || cfg->pop > 1024)
        return axnn_error(AXNN_ERR_ARG, "--pop must be in [4, 1024], got %d", cfg->pop);
    if (cfg->gens < 0) return axnn_error(AXNN_ERR_ARG, "--gens must be >= 0, got %d", cfg->gens);
    int m = z->m, nr = m * (m - 1) + 1;
    double lo[AXNN_ZOO_MAX * AXNN_ZOO_MAX], hi[AXNN_ZOO_MAX * AXNN_ZOO_MAX];
    if (nr > 64)
        return axnn_error(AXNN_ERR_ARG, "the search handles zoos of up to 8 models, got %d", m);
    for (int i = 0; i < nr - 1; i++) lo[i] = 0.0, hi[i] = 100.0;
    lo[nr - 1] = 0.9, hi[nr - 1] = 0.9999;
    int imax[1] = {3};
    axnn_nsga2_cfg nc = {
        cfg->pop + (cfg->pop & 1), nr, 1, lo, hi, imax, 2, 0.9, 20.0, 25.0, 0.0, cfg->seed};
    axnn_nsga2 *s = NULL;
    search_ctx c = {.z = z, .cfg = cfg, .disp_macs = axnn_dispatcher_macs(z)};
    c.norm = axnn_dispatch_cost(z, c.disp_macs, 0);
    for (int j = 1; j < m; j++) c.norm = fmax(c.norm, axnn_dispatch_cost(z, c.disp_macs, j));
    res->disp_macs = c.disp_macs;
    res->fc = cfg->fc;
    res->none = cfg->none;
    res->ref_cost = REF_COST * c.norm;
    c.labels = malloc((size_t)z->split[AXNN_SPLIT_TRAIN].n * sizeof *c.labels);
    res->hv = calloc((size_t)cfg->gens + 1, sizeof *res->hv);
    char *settings = settings_json(z, cfg);
    c.pool = axnn_pool_create(cfg->threads > 0 ? cfg->threads : 1, NULL);
    if (!c.labels || !res->hv || !settings || !c.pool)
        st = axnn_error(AXNN_ERR_NOMEM, "out of memory");
    if (!st) st = axnn_nsga2_create(&nc, &s);
    if (!st) {
        train_labels(z, cfg->none, c.labels);
        st = run_generations(&c, s, settings, prog, res);
    }
    if (!st) st = final_front(&c, s, res);
    axnn_nsga2_free(s);
    axnn_pool_destroy(c.pool);
    free(settings);
    free(c.labels);
    if (st) axnn_search_result_free(res);
    return st;
}

void axnn_search_result_free(axnn_search_result *r)
{
    free(r->hv);
    free(r->front);
    memset(r, 0, sizeof *r);
}
