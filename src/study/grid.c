/* The study's grid: which topologies and multipliers it holds, the order the cells are run in,
 * and the file each cell lives in. A shard (study/shard.c) is a contiguous block of that order.
 *
 * Run order: for each topology (in --topologies order) its multipliers (in --mul order), then,
 * for the dense topology only, the gradient-comparison cells (--compare-grad order). */
#include "study/study_internal.h"

#include <stdio.h>
#include <string.h>

static int split_list(const char *list, char (*dst)[128], int max)
{
    char buf[4096];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", list ? list : "");
    for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
        if (n == max) return -1;
        snprintf(dst[n++], 128, "%s", t);
    }
    return n;
}

/* Multipliers like "bam:4,8" contain commas: a piece that is a bare number joins the previous. */
static int split_muls(const char *list, char (*dst)[128], int max)
{
    char tmp[AXNN_STUDY_MAX_MULS * 2][128];
    int n = split_list(list, tmp, AXNN_STUDY_MAX_MULS * 2), m = 0;
    for (int i = 0; i < n; i++) {
        bool number = tmp[i][0] >= '0' && tmp[i][0] <= '9';
        if (number && m > 0 && strchr(dst[m - 1], ':')) {
            size_t l = strlen(dst[m - 1]);
            snprintf(dst[m - 1] + l, 128 - l, ",%s", tmp[i]);
            continue;
        }
        if (m == max) return -1;
        snprintf(dst[m++], 128, "%s", tmp[i]);
    }
    return n < 0 ? -1 : m;
}

static void safe_name(const char *mul, char *out, size_t n)
{
    const char *b = strrchr(mul, '/');
    snprintf(out, n, "%s", b ? b + 1 : mul);
    for (char *p = out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.'))
            *p = '_';
}

/* A list must not name one multiplier twice, nor two that map to the same cell file. */
static axnn_status check_unique(const char *flag, char (*names)[128], int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) {
            if (!strcmp(names[i], names[j]))
                return axnn_error(AXNN_ERR_ARG, "%s: '%s' is given twice", flag, names[i]);
            char a[160], b[160];
            safe_name(names[i], a, sizeof a);
            safe_name(names[j], b, sizeof b);
            if (!strcmp(a, b))
                return axnn_error(AXNN_ERR_ARG,
                                  "%s: '%s' and '%s' would share the cell file %s.json", flag,
                                  names[j], names[i], a);
        }
    return AXNN_OK;
}

axnn_status study_grid_parse(study_grid *g, const char *topologies, const char *muls,
                             const char *tmuls, axnn_grad_mode grad)
{
    memset(g, 0, sizeof *g);
    g->grad = grad;
    char t[8][128];
    int nt = split_list(topologies, t, 8);
    if (nt < 1 || nt > AXNN_STUDY_MAX_TOPOS)
        return axnn_error(AXNN_ERR_ARG,
                          "--topologies: give 1 to 4 of dense, hard, soft, cluster (got '%s')",
                          topologies ? topologies : "");
    for (int i = 0; i < nt; i++) {
        if (!axnn_moe_kind_parse(t[i], &g->kinds[i]))
            return axnn_error(AXNN_ERR_ARG,
                              "--topologies: unknown topology '%s' (dense, hard, soft, cluster)",
                              t[i]);
        snprintf(g->topos[i], sizeof g->topos[i], "%s", t[i]);
    }
    g->ntopos = nt;
    axnn_status st = check_unique("--topologies", t, nt);
    if (st) return st;
    g->nmuls = split_muls(muls, g->muls, AXNN_STUDY_MAX_MULS);
    if (g->nmuls < 1)
        return axnn_error(AXNN_ERR_ARG, "--mul: give 1 to %d multipliers", AXNN_STUDY_MAX_MULS);
    if ((st = check_unique("--mul", g->muls, g->nmuls))) return st;
    g->ntmuls = tmuls ? split_muls(tmuls, g->tmuls, AXNN_STUDY_MAX_MULS) : 0;
    if (g->ntmuls < 0) return axnn_error(AXNN_ERR_ARG, "--compare-grad: too many multipliers");
    return check_unique("--compare-grad", g->tmuls, g->ntmuls);
}

static int dense_index(const study_grid *g)
{
    for (int t = 0; t < g->ntopos; t++)
        if (g->kinds[t] == AXNN_MOE_DENSE) return t;
    return -1;
}

int study_grid_ncells(const study_grid *g)
{
    return g->ntopos * g->nmuls + (dense_index(g) >= 0 ? g->ntmuls : 0);
}

void study_grid_cell(const study_grid *g, int i, int *t, int *m)
{
    const int d = dense_index(g), extra = d >= 0 ? g->ntmuls : 0;
    int first = 0; /* run-order index of topology t's first cell */
    for (*t = 0; *t < g->ntopos; (*t)++) {
        int n = g->nmuls + (*t == d ? extra : 0);
        if (i < first + n) {
            *m = i - first;
            return;
        }
        first += n;
    }
    *t = *m = -1;
}

int study_grid_index(const study_grid *g, int t, int m)
{
    const int d = dense_index(g);
    if (t < 0 || t >= g->ntopos || m < 0 || m >= g->nmuls + (t == d ? g->ntmuls : 0)) return -1;
    int first = 0;
    for (int u = 0; u < t; u++) first += g->nmuls + (u == d ? g->ntmuls : 0);
    return first + m;
}

const char *study_grid_mul(const study_grid *g, int m)
{
    return m < g->nmuls ? g->muls[m] : g->tmuls[m - g->nmuls];
}

axnn_grad_mode study_grid_grad(const study_grid *g, int m)
{
    if (m < g->nmuls) return g->grad;
    return g->grad == AXNN_GRAD_STE ? AXNN_GRAD_TABLE : AXNN_GRAD_STE;
}

void study_grid_cell_path(const study_grid *g, int t, int m, char *out, size_t n)
{
    char name[160];
    safe_name(study_grid_mul(g, m), name, sizeof name);
    const char *suffix = m < g->nmuls                               ? ""
                         : study_grid_grad(g, m) == AXNN_GRAD_TABLE ? ".table"
                                                                    : ".ste";
    snprintf(out, n, "cells/%s/%s%s.json", g->topos[t], name, suffix);
}

bool study_shard_owns(const study_grid *g, int k, int n, int i)
{
    if (n <= 0) return true;
    const int c = study_grid_ncells(g);
    return (int)((int64_t)i * n / c) + 1 == k;
}
