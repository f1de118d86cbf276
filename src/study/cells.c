/* Cells of the study grid as small JSON files, written atomically (temporary file, fsync,
 * rename) the moment a cell (or its "before" half) is finished, and read back on resume. */
#include "study/study_internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

axnn_status study_cell_save(const char *path, const study_cell *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "topology", c->topo);
    cJSON_AddStringToObject(o, "multiplier", c->mul);
    cJSON_AddStringToObject(o, "gradient", c->grad);
    cJSON_AddBoolToObject(o, "have_before", c->have_before);
    cJSON_AddBoolToObject(o, "have_after", c->have_after);
    cJSON_AddNumberToObject(o, "accuracy_before", c->acc_before);
    cJSON_AddNumberToObject(o, "accuracy_after", c->acc_after);
    cJSON_AddNumberToObject(o, "static_macs", c->static_macs);
    cJSON_AddNumberToObject(o, "eff_macs_before", c->eff_before);
    cJSON_AddNumberToObject(o, "eff_macs_after", c->eff_after);
    cJSON_AddNumberToObject(o, "f_apx", c->f_apx);
    cJSON_AddNumberToObject(o, "p_norm_before", c->pnorm_before);
    cJSON_AddNumberToObject(o, "p_norm_after", c->pnorm_after);
    cJSON_AddNumberToObject(o, "p_mul_mw", c->p_mul);
    cJSON_AddNumberToObject(o, "p_exact_mw", c->p_exact);
    cJSON_AddBoolToObject(o, "power_estimated", c->p_est);
    cJSON_AddNumberToObject(o, "experts", c->experts);
    cJSON_AddNumberToObject(o, "retrain_seconds", c->retrain_seconds);
    cJSON *units = cJSON_AddArrayToObject(o, "loads");
    for (int u = 0; u < c->nunits; u++) {
        cJSON *un = cJSON_CreateObject();
        cJSON_AddStringToObject(un, "router", c->unit_names[u]);
        cJSON *arr = cJSON_AddArrayToObject(un, "share");
        for (int e = 0; e < c->experts; e++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(c->loads[u][e]));
        cJSON_AddItemToArray(units, un);
    }
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    axnn_status st = axnn_write_file_atomic(path, s, strlen(s));
    free(s);
    return st;
}

/* ---- reading, with validation: every field a number (or string, or bool) of its range ---- */

typedef struct reader {
    const cJSON *o;
    const char *path;
    bool bad;
    char why[256];
} reader;

static void fail(reader *r, const char *fmt, const char *a, const char *b)
{
    if (r->bad) return;
    r->bad = true;
    snprintf(r->why, sizeof r->why, fmt, a, b);
}

/* A finite number in [lo, hi]; `extra` is a value also accepted (P_norm's -1 = unknown). */
static double num_in(reader *r, const cJSON *o, const char *k, double lo, double hi, double extra)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) {
        fail(r, "'%s' is %s", k, v ? "not a number" : "missing");
        return 0;
    }
    double x = v->valuedouble;
    if (!(x >= lo && x <= hi) && x != extra) {
        char b[64];
        snprintf(b, sizeof b, "%g", x);
        fail(r, "'%s' is out of range (%s)", k, b);
        return 0;
    }
    return x;
}

static bool flag(reader *r, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->o, k);
    if (!cJSON_IsBool(v)) fail(r, "'%s' is %s", k, v ? "not true or false" : "missing");
    return cJSON_IsTrue(v);
}

static void str_is(reader *r, const char *k, const char *want, char *dst, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->o, k);
    const char *s = cJSON_IsString(v) ? v->valuestring : NULL;
    if (!s || strcmp(s, want)) {
        char b[160];
        snprintf(b, sizeof b, "'%.120s'", s ? s : "nothing");
        fail(r, "names %s, not this file's %s", b, k);
    }
    snprintf(dst, n, "%s", want);
}

static void read_loads(reader *r, study_cell *c)
{
    const cJSON *units = cJSON_GetObjectItemCaseSensitive(r->o, "loads"), *un;
    if (!cJSON_IsArray(units)) return fail(r, "'%s' is %s", "loads", "not a list");
    if (cJSON_GetArraySize(units) > STUDY_MAX_UNITS) return fail(r, "'%s' has %s", "loads", "too many routers");
    cJSON_ArrayForEach(un, units)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(un, "router"),
                    *share = cJSON_GetObjectItemCaseSensitive(un, "share"), *v;
        if (!cJSON_IsString(name) || !cJSON_IsArray(share) || cJSON_GetArraySize(share) != c->experts)
            return fail(r, "'%s' holds %s", "loads", "a router without a name or with the wrong count of experts");
        snprintf(c->unit_names[c->nunits], sizeof c->unit_names[0], "%s", name->valuestring);
        int e = 0;
        cJSON_ArrayForEach(v, share)
        {
            if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1))
                return fail(r, "'%s' holds %s", "loads", "a share outside [0, 1]");
            c->loads[c->nunits][e++] = v->valuedouble;
        }
        c->nunits++;
    }
}

static void read_cell(reader *r, const char *topo, const char *mul, const char *grad, study_cell *c)
{
    const double big = 1e18; /* costs: finite, non-negative */
    str_is(r, "topology", topo, c->topo, sizeof c->topo);
    str_is(r, "multiplier", mul, c->mul, sizeof c->mul);
    str_is(r, "gradient", grad, c->grad, sizeof c->grad);
    c->have_before = flag(r, "have_before");
    c->have_after = flag(r, "have_after");
    if (c->have_after && !c->have_before) fail(r, "'%s' without '%s'", "have_after", "have_before");
    c->acc_before = num_in(r, r->o, "accuracy_before", 0, 1, 0);
    c->acc_after = num_in(r, r->o, "accuracy_after", 0, 1, 0);
    c->static_macs = num_in(r, r->o, "static_macs", 0, big, 0);
    c->eff_before = num_in(r, r->o, "eff_macs_before", 0, big, 0);
    c->eff_after = num_in(r, r->o, "eff_macs_after", 0, big, 0);
    c->f_apx = num_in(r, r->o, "f_apx", 0, 1, 0);
    c->pnorm_before = num_in(r, r->o, "p_norm_before", 0, big, -1);
    c->pnorm_after = num_in(r, r->o, "p_norm_after", 0, big, -1);
    c->p_mul = num_in(r, r->o, "p_mul_mw", 0, big, 0);
    c->p_exact = num_in(r, r->o, "p_exact_mw", 0, big, 0);
    c->p_est = flag(r, "power_estimated");
    c->experts = (int)num_in(r, r->o, "experts", 0, AXNN_MOE_MAX_EXPERTS, 0);
    c->retrain_seconds = num_in(r, r->o, "retrain_seconds", 0, big, 0);
    read_loads(r, c);
}

axnn_status study_cell_load(const char *path, const char *topo, const char *mul, const char *grad, study_cell *c)
{
    memset(c, 0, sizeof *c);
    char *s;
    axnn_status st = study_read_file(path, 1 << 20, &s);
    if (st || !s) return st;
    cJSON *o = cJSON_Parse(s);
    free(s);
    if (!o) return axnn_error(AXNN_ERR_FORMAT, "%s: not valid JSON", path);
    reader r = {.o = o, .path = path};
    if (!cJSON_IsObject(o))
        fail(&r, "%s%s", "not a JSON object", "");
    else
        read_cell(&r, topo, mul, grad, c);
    cJSON_Delete(o);
    if (!r.bad) return AXNN_OK;
    memset(c, 0, sizeof *c);
    return axnn_error(AXNN_ERR_FORMAT, "%s: %s", path, r.why);
}

axnn_status study_cell_load_warn(const char *path, const char *topo, const char *mul, const char *grad,
                                 study_cell *c)
{
    axnn_status st = study_cell_load(path, topo, mul, grad, c);
    if (st != AXNN_ERR_FORMAT) return st;
    axnn_log(AXNN_LOG_WARN, "%s; the cell is recomputed", axnn_last_error());
    axnn_clear_error();
    return AXNN_OK;
}
