/* Shards of a study (axnn study --shard K/N): each machine runs a fixed share of the cells in
 * its own folder, and axnn study --merge (study/merge.c) builds the report from the folders.
 *
 * The assignment: the C cells in run order (study/grid.c) are cut into N contiguous blocks,
 * cell i going to shard floor(i * N / C) + 1. Blocks keep a shard on few topologies, so few
 * shards fine-tune the same MoE topology. The folder's shard.json records the shard, the grid
 * (topologies, multipliers, comparison cells, gradient) and the cells it owns; a rerun in that
 * folder with another K/N or another grid is refused, as is a whole-study run in it or a shard
 * run in a whole study's folder. After the base model is built the shard also records the
 * architecture and M_base, and when it finishes its wall time: the merge reads them. */
#include "study/study_internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *names_array(char (*names)[128], int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(names[i]));
    return a;
}

/* The grid part of shard.json: what a rerun and the merge compare. */
static cJSON *grid_json(const study_grid *g)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *t = cJSON_AddArrayToObject(o, "topologies");
    for (int i = 0; i < g->ntopos; i++) cJSON_AddItemToArray(t, cJSON_CreateString(g->topos[i]));
    cJSON_AddItemToObject(o, "multipliers", names_array((char(*)[128])g->muls, g->nmuls));
    cJSON_AddItemToObject(o, "compare_grad", names_array((char(*)[128])g->tmuls, g->ntmuls));
    cJSON_AddStringToObject(o, "gradient", g->grad == AXNN_GRAD_TABLE ? "table" : "ste");
    return o;
}

static const char *const grid_keys[] = {"topologies", "multipliers", "compare_grad", "gradient"};

bool study_shard_same_grid(const cJSON *a, const cJSON *b)
{
    for (size_t i = 0; i < sizeof grid_keys / sizeof *grid_keys; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, grid_keys[i]),
                    *y = cJSON_GetObjectItemCaseSensitive(b, grid_keys[i]);
        if (!x || !y || !cJSON_Compare(x, y, true)) return false;
    }
    return true;
}

static int int_item(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e6 ? (int)v->valuedouble
                                                                            : -1;
}

axnn_status study_shard_read(const char *dir, cJSON **o, int *k, int *n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/shard.json", dir);
    char *s;
    *o = NULL;
    axnn_status st = study_read_file(path, 1 << 20, &s);
    if (st || !s) return st;
    cJSON *j = cJSON_Parse(s);
    free(s);
    *k = j ? int_item(j, "shard") : -1;
    *n = j ? int_item(j, "of") : -1;
    if (!j || *n < 1 || *k < 1 || *k > *n) {
        cJSON_Delete(j);
        return axnn_error(AXNN_ERR_FORMAT, "%s: not a valid shard file (shard K of N)", path);
    }
    *o = j;
    return AXNN_OK;
}

static axnn_status write_json(const char *dir, const char *name, cJSON *o)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *s = cJSON_Print(o);
    if (!s) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    size_t len = strlen(s);
    s[len] = '\n'; /* cJSON_Print's buffer has room for the NUL; write the newline in its place */
    axnn_status st = axnn_write_file_atomic(path, s, len + 1);
    free(s);
    return st;
}

static axnn_status write_shard(const char *out, const study_grid *g, int k, int n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "shard", k);
    cJSON_AddNumberToObject(o, "of", n);
    cJSON_AddStringToObject(
        o, "assignment",
        "cells in run order (each topology's multipliers, then dense's gradient comparison); "
        "cell i of C belongs to shard floor(i * N / C) + 1");
    cJSON *gj = grid_json(g);
    for (size_t i = 0; i < sizeof grid_keys / sizeof *grid_keys; i++)
        cJSON_AddItemToObject(o, grid_keys[i],
                              cJSON_DetachItemFromObjectCaseSensitive(gj, grid_keys[i]));
    cJSON_Delete(gj);
    cJSON *cells = cJSON_AddArrayToObject(o, "cells");
    for (int i = 0; i < study_grid_ncells(g); i++) {
        if (!study_shard_owns(g, k, n, i)) continue;
        int t, m;
        char p[300];
        study_grid_cell(g, i, &t, &m);
        study_grid_cell_path(g, t, m, p, sizeof p);
        cJSON_AddItemToArray(cells, cJSON_CreateString(p));
    }
    axnn_status st = write_json(out, "shard.json", o);
    cJSON_Delete(o);
    return st;
}

axnn_status study_shard_prepare(const char *out, const study_grid *g, int k, int n)
{
    const int c = study_grid_ncells(g);
    if (n > c)
        return axnn_error(AXNN_ERR_ARG,
                          "--shard %d/%d: the study has only %d cells, so at most %d shards", k, n,
                          c, c);
    int hk, hn;
    cJSON *have;
    axnn_status st = study_shard_read(out, &have, &hk, &hn);
    if (st) return st;
    if (have) {
        cJSON *want = grid_json(g);
        bool same = study_shard_same_grid(have, want);
        cJSON_Delete(want);
        cJSON_Delete(have);
        if (n == 0)
            return axnn_error(
                AXNN_ERR_ARG,
                "%s holds shard %d/%d of a study: rerun it with --shard %d/%d, or merge the shards "
                "with --merge",
                out, hk, hn, hk, hn);
        if (hk != k || hn != n)
            return axnn_error(AXNN_ERR_ARG,
                              "%s holds shard %d/%d of a study, not %d/%d (the assignment of cells "
                              "depends on N): "
                              "rerun it with --shard %d/%d, or use another --out",
                              out, hk, hn, k, n, hk, hn);
        if (!same)
            return axnn_error(
                AXNN_ERR_ARG,
                "%s holds shard %d/%d of a study with other --topologies, --mul, --compare-grad or "
                "--grad (see its shard.json): use the same, or another --out",
                out, hk, hn);
        return AXNN_OK;
    }
    if (n == 0) return AXNN_OK;
    char sj[4200];
    snprintf(sj, sizeof sj, "%s/study.json", out);
    char *s;
    if ((st = study_read_file(sj, 1 << 20, &s))) return st;
    free(s);
    if (s)
        return axnn_error(
            AXNN_ERR_ARG,
            "%s holds a whole study (it has no shard.json): give each shard its own --out", out);
    return write_shard(out, g, k, n);
}

axnn_status study_shard_record(const char *out, const char *arch, double base_macs, double seconds)
{
    int k, n;
    cJSON *o;
    axnn_status st = study_shard_read(out, &o, &k, &n);
    if (st || !o) return st;
    cJSON_DeleteItemFromObjectCaseSensitive(o, "arch");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "base_macs");
    cJSON_AddStringToObject(o, "arch", arch);
    cJSON_AddNumberToObject(o, "base_macs", base_macs);
    if (seconds >= 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "seconds");
        cJSON_AddNumberToObject(o, "seconds", seconds);
    }
    st = write_json(out, "shard.json", o);
    cJSON_Delete(o);
    return st;
}
