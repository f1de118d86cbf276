/* axnn study --merge: one study folder from the folders of its shards (study/shard.c).
 *
 * Every folder must hold the same study.json (byte for byte: the same settings) and a
 * shard.json of the same grid and the same N, each shard at most once. The merged folder gets
 * that study.json, every valid cell file (each read from the shard that owns it, validated
 * like a resumed study's), each topology's float accuracy, and the report, built by the same
 * code as a single run's. So a plain `axnn study` with the same settings can later resume the
 * merged folder (it has no models: those would be rebuilt). Shards that are missing, or cells
 * not finished, are warnings and show as "-"; a float accuracy that differs between two shards
 * (they did not start from identical models) is a warning. */
#include "study/study_internal.h"

#include "axnn/report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shard_in {
    const char *dir;
    char *settings; /* study.json */
    cJSON *shard;   /* shard.json */
    int k, n;
} shard_in;

typedef struct merge {
    shard_in *in;
    int nin, n;
    const shard_in **by_k; /* [n], NULL where missing */
    study_grid grid;
    axnn_study_cfg cfg;
    cJSON *settings; /* parsed study.json: cfg's strings point into it */
    study_cell *cells, *extra;
    double float_acc[AXNN_STUDY_MAX_TOPOS];
} merge;

static axnn_status read_in(shard_in *s)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/study.json", s->dir);
    axnn_status st = study_read_file(path, 1 << 20, &s->settings);
    if (st) return st;
    if (!s->settings)
        return axnn_error(AXNN_ERR_ARG, "%s: not a study folder (no study.json)", s->dir);
    if ((st = study_shard_read(s->dir, &s->shard, &s->k, &s->n))) return st;
    if (!s->shard)
        return axnn_error(
            AXNN_ERR_ARG,
            "%s: not a shard (no shard.json): --merge takes folders of axnn study --shard K/N",
            s->dir);
    return AXNN_OK;
}

/* All folders: one study, one grid, one N, no shard twice. */
static axnn_status check_in(merge *g)
{
    const shard_in *a = &g->in[0];
    g->n = a->n;
    g->by_k = calloc((size_t)g->n, sizeof *g->by_k);
    if (!g->by_k) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->nin; i++) {
        const shard_in *b = &g->in[i];
        if (strcmp(a->settings, b->settings))
            return axnn_error(AXNN_ERR_ARG,
                              "%s: another study configuration than %s (their study.json differ)",
                              b->dir, a->dir);
        if (!study_shard_same_grid(a->shard, b->shard))
            return axnn_error(AXNN_ERR_ARG,
                              "%s: a shard of another grid than %s (topologies, multipliers or "
                              "--compare-grad differ in "
                              "shard.json)",
                              b->dir, a->dir);
        if (b->n != a->n)
            return axnn_error(AXNN_ERR_ARG, "%s: shard %d/%d, but %s is a shard of %d", b->dir,
                              b->k, b->n, a->dir, a->n);
        if (g->by_k[b->k - 1])
            return axnn_error(AXNN_ERR_ARG, "%s: shard %d/%d is already given by %s", b->dir, b->k,
                              b->n, g->by_k[b->k - 1]->dir);
        g->by_k[b->k - 1] = b;
    }
    return AXNN_OK;
}

static axnn_status names_of(const cJSON *arr, const char *key, char *dst, size_t n)
{
    size_t len = 0;
    dst[0] = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        if (!cJSON_IsString(v))
            return axnn_error(AXNN_ERR_FORMAT, "shard.json: '%s' holds a non-string", key);
        len += (size_t)snprintf(dst + len, len < n ? n - len : 0, "%s%s", len ? "," : "",
                                v->valuestring);
    }
    return len < n ? AXNN_OK : axnn_error(AXNN_ERR_FORMAT, "shard.json: '%s' too long", key);
}

/* The grid, from the first shard.json (the lists joined as --mul would give them). */
static axnn_status grid_of(merge *g)
{
    static char t[4096], m[8192], x[8192];
    const cJSON *sh = g->in[0].shard;
    axnn_status st =
        names_of(cJSON_GetObjectItemCaseSensitive(sh, "topologies"), "topologies", t, sizeof t);
    if (!st)
        st = names_of(cJSON_GetObjectItemCaseSensitive(sh, "multipliers"), "multipliers", m,
                      sizeof m);
    if (!st)
        st = names_of(cJSON_GetObjectItemCaseSensitive(sh, "compare_grad"), "compare_grad", x,
                      sizeof x);
    const cJSON *gr = cJSON_GetObjectItemCaseSensitive(sh, "gradient");
    bool table = cJSON_IsString(gr) && !strcmp(gr->valuestring, "table");
    if (!st)
        st = study_grid_parse(&g->grid, t, m, x[0] ? x : NULL,
                              table ? AXNN_GRAD_TABLE : AXNN_GRAD_STE);
    if (!st) return AXNN_OK;
    char why[512];
    snprintf(why, sizeof why, "%s", axnn_last_error());
    return axnn_error(st, "%s/shard.json: %s", g->in[0].dir, why);
}

/* ---- the configuration, read back from study.json (the fields the report prints) ---- */

static const char *cfg_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static double cfg_num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static axnn_status cfg_of(merge *g, const char *out)
{
    axnn_study_cfg *c = &g->cfg;
    axnn_study_defaults(c);
    cJSON *o = g->settings = cJSON_Parse(g->in[0].settings);
    if (!cJSON_IsObject(o))
        return axnn_error(AXNN_ERR_FORMAT, "%s/study.json: not valid JSON", g->in[0].dir);
    c->out = out;
    c->arch = cfg_str(o, "arch");
    c->data = cfg_str(o, "data");
    c->base_path = cfg_str(o, "base");
    c->moe.units = cfg_str(o, "units");
    c->moe.gateway = cfg_str(o, "gateway");
    if (!c->arch || !c->data)
        return axnn_error(AXNN_ERR_FORMAT, "%s/study.json: no arch or data", g->in[0].dir);
    c->size = (int)cfg_num(o, "size");
    c->base_epochs = (int)cfg_num(o, "base_epochs");
    c->base_images = (int)cfg_num(o, "base_images");
    c->base_lr = (float)cfg_num(o, "base_lr");
    c->moe_epochs = (int)cfg_num(o, "moe_epochs");
    c->moe_images = (int)cfg_num(o, "moe_images");
    c->moe_lr = (float)cfg_num(o, "moe_lr");
    c->calib = (int)cfg_num(o, "calib");
    bool ok;
    const char *cm = cfg_str(o, "calib_method");
    c->calib_method = axnn_calib_parse(cm ? cm : "max", &ok);
    c->retrain_epochs = (int)cfg_num(o, "retrain_epochs");
    c->retrain_images = (int)cfg_num(o, "retrain_images");
    c->eval_images = (int)cfg_num(o, "eval_images");
    c->cluster_images = (int)cfg_num(o, "cluster_images");
    c->bn_images = (int)cfg_num(o, "bn_images");
    c->lr = (float)cfg_num(o, "lr");
    c->wd = (float)cfg_num(o, "wd");
    c->momentum = (float)cfg_num(o, "momentum");
    c->batch = (int)cfg_num(o, "batch");
    c->grad = g->grid.grad;
    c->moe.experts = (int)cfg_num(o, "experts");
    c->moe.width = (float)cfg_num(o, "width");
    c->moe.aux_weight = (float)cfg_num(o, "aux_weight");
    return AXNN_OK;
}

/* ---- cells ---- */

static int owner(const merge *g, int i)
{
    for (int k = 1; k <= g->n; k++)
        if (study_shard_owns(&g->grid, k, g->n, i)) return k;
    return 0;
}

static axnn_status copy_cell(const char *out, const char *rel, const study_cell *c)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", out, rel);
    return study_cell_save(path, c);
}

/* Loads a cell from a shard; a bad file is a warning and reads as missing. */
static axnn_status load(const char *dir, const char *rel, const char *topo, const char *mul,
                        const char *grad, study_cell *c)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    axnn_status st = study_cell_load(path, topo, mul, grad, c);
    if (st != AXNN_ERR_FORMAT) return st;
    axnn_log(AXNN_LOG_WARN, "merge: %s; the cell is left out (rerun that shard to redo it)",
             axnn_last_error());
    axnn_clear_error();
    return AXNN_OK;
}

/* Each topology's float accuracy, from every shard that ran the topology. */
static axnn_status merge_float(merge *g, const char *out, int t)
{
    char rel[300];
    snprintf(rel, sizeof rel, "cells/%s/float.json", g->grid.topos[t]);
    const char *from = NULL;
    for (int k = 1; k <= g->n; k++) {
        if (!g->by_k[k - 1]) continue;
        study_cell c;
        axnn_status st = load(g->by_k[k - 1]->dir, rel, g->grid.topos[t], "float", "ste", &c);
        if (st) return st;
        if (!c.have_before) continue;
        if (!from) {
            from = g->by_k[k - 1]->dir;
            g->float_acc[t] = c.acc_before;
            if ((st = copy_cell(out, rel, &c))) return st;
        } else if (c.acc_before != g->float_acc[t]) {
            axnn_log(AXNN_LOG_WARN,
                     "merge: %s in float is %.2f%% in %s but %.2f%% in %s: the shards did not "
                     "start from identical "
                     "models (give them one --base, and the same --threads)",
                     g->grid.topos[t], 100 * g->float_acc[t], from, 100 * c.acc_before,
                     g->by_k[k - 1]->dir);
        }
    }
    if (!from)
        axnn_log(AXNN_LOG_WARN, "merge: no shard holds %s's float accuracy (%s)", g->grid.topos[t],
                 rel);
    return AXNN_OK;
}

static axnn_status merge_cells(merge *g, const char *out)
{
    const study_grid *gr = &g->grid;
    int missing = 0;
    for (int i = 0; i < study_grid_ncells(gr); i++) {
        int t, m;
        study_grid_cell(gr, i, &t, &m);
        study_cell *c = m < gr->nmuls ? &g->cells[t * gr->nmuls + m] : &g->extra[m - gr->nmuls];
        const shard_in *s = g->by_k[owner(g, i) - 1];
        char rel[300];
        study_grid_cell_path(gr, t, m, rel, sizeof rel);
        if (!s) {
            missing++;
            continue;
        }
        axnn_status st = load(s->dir, rel, gr->topos[t], study_grid_mul(gr, m),
                              study_grid_grad(gr, m) == AXNN_GRAD_TABLE ? "table" : "ste", c);
        if (st) return st;
        if (!c->have_after) missing++;
        if (c->have_before && (st = copy_cell(out, rel, c))) return st;
    }
    if (missing)
        axnn_log(AXNN_LOG_WARN, "merge: %d of %d cells are not finished; they show as '-'", missing,
                 study_grid_ncells(gr));
    return AXNN_OK;
}

/* ---- the merged folder ---- */

static axnn_status prepare_out(merge *g, const char *out)
{
    static const char *const outputs[] = {"study.json", "report.md", "results.csv", "results.json",
                                          "accuracy_by_multiplier.png", "accuracy_vs_power.png", NULL};
    axnn_status st = study_check_out(out);
    if (!st) st = axnn_output_files(out, outputs);
    cJSON *sh;
    int k, n;
    if (!st) st = study_shard_read(out, &sh, &k, &n);
    if (st) return st;
    if (sh) {
        cJSON_Delete(sh);
        return axnn_error(AXNN_ERR_ARG, "%s holds shard %d/%d: merge into another --out", out, k,
                          n);
    }
    char path[4200], *have;
    snprintf(path, sizeof path, "%s/study.json", out);
    if ((st = study_read_file(path, 1 << 20, &have))) return st;
    bool other = have && strcmp(have, g->in[0].settings);
    free(have);
    if (other)
        return axnn_error(AXNN_ERR_ARG, "%s holds a study with other settings (see its study.json)",
                          out);
    for (int t = 0; t < g->grid.ntopos && !st; t++) {
        snprintf(path, sizeof path, "%s/cells/%s", out, g->grid.topos[t]);
        st = study_mkdir_p(path);
    }
    snprintf(path, sizeof path, "%s/study.json", out);
    return st ? st : axnn_write_file_atomic(path, g->in[0].settings, strlen(g->in[0].settings));
}

/* The architecture's name, M_base and the summed wall time, as the shards recorded them. */
static void recorded(const merge *g, const char **arch, double *macs, double *seconds)
{
    *arch = g->cfg.arch;
    *macs = 0;
    *seconds = 0;
    for (int i = g->nin - 1; i >= 0; i--) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(g->in[i].shard, "arch"),
                    *m = cJSON_GetObjectItemCaseSensitive(g->in[i].shard, "base_macs"),
                    *s = cJSON_GetObjectItemCaseSensitive(g->in[i].shard, "seconds");
        if (cJSON_IsString(a)) *arch = a->valuestring;
        if (cJSON_IsNumber(m) && isfinite(m->valuedouble) && m->valuedouble > 0)
            *macs = m->valuedouble;
        if (cJSON_IsNumber(s) && isfinite(s->valuedouble) && s->valuedouble > 0)
            *seconds += s->valuedouble;
    }
}

static axnn_status write_report(merge *g)
{
    const char *arch;
    double macs, seconds;
    recorded(g, &arch, &macs, &seconds);
    study_report r = {.cfg = &g->cfg,
                      .arch = arch,
                      .data = g->cfg.data,
                      .ntopos = g->grid.ntopos,
                      .nmuls = g->grid.nmuls,
                      .base_macs = macs,
                      .cells = g->cells,
                      .extra = g->extra,
                      .nextra = g->grid.ntmuls,
                      .seconds = seconds,
                      .nshards = g->n};
    memcpy(r.topos, g->grid.topos, sizeof r.topos);
    memcpy(r.muls, g->grid.muls, sizeof r.muls);
    memcpy(r.float_acc, g->float_acc, sizeof r.float_acc);
    return study_write_report(&r);
}

axnn_status axnn_study_merge(const char *const *dirs, int ndirs, const char *out)
{
    if (ndirs < 1) return axnn_error(AXNN_ERR_ARG, "--merge: give the shards' folders");
    merge g = {.nin = ndirs};
    g.in = calloc((size_t)ndirs, sizeof *g.in);
    if (!g.in) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    axnn_status st = AXNN_OK;
    for (int i = 0; i < ndirs && !st; i++) {
        g.in[i].dir = dirs[i];
        st = read_in(&g.in[i]);
    }
    if (!st) st = check_in(&g);
    if (!st) st = grid_of(&g);
    if (!st) st = cfg_of(&g, out);
    if (!st) st = prepare_out(&g, out);
    for (int k = 1; k <= g.n && !st; k++) {
        if (g.by_k[k - 1]) continue;
        int c = 0;
        for (int i = 0; i < study_grid_ncells(&g.grid); i++)
            c += study_shard_owns(&g.grid, k, g.n, i);
        axnn_log(AXNN_LOG_WARN, "merge: shard %d/%d is not given; its %d cell(s) show as '-'", k,
                 g.n, c);
    }
    if (!st) {
        g.cells = calloc((size_t)(g.grid.ntopos * g.grid.nmuls), sizeof *g.cells);
        g.extra = calloc((size_t)g.grid.ntmuls + 1, sizeof *g.extra);
        if (!g.cells || !g.extra) st = axnn_error(AXNN_ERR_NOMEM, "out of memory");
    }
    for (int t = 0; t < g.grid.ntopos && !st; t++) st = merge_float(&g, out, t);
    if (!st) st = merge_cells(&g, out);
    if (!st) st = write_report(&g);
    for (int i = 0; i < ndirs; i++) {
        free(g.in[i].settings);
        cJSON_Delete(g.in[i].shard);
    }
    free(g.in);
    free(g.by_k);
    free(g.cells);
    free(g.extra);
    cJSON_Delete(g.settings);
    return st;
}
