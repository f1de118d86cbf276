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

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

static void str(const cJSON *o, const char *k, char *dst, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    snprintf(dst, n, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static char *slurp(const char *path)
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

axnn_status study_cell_load(const char *path, study_cell *c)
{
    memset(c, 0, sizeof *c);
    char *s = slurp(path);
    if (!s) return AXNN_ERR_IO;
    cJSON *o = cJSON_Parse(s);
    free(s);
    if (!o) return axnn_error(AXNN_ERR_FORMAT, "%s: not valid JSON (delete it to redo the cell)", path);
    str(o, "topology", c->topo, sizeof c->topo);
    str(o, "multiplier", c->mul, sizeof c->mul);
    str(o, "gradient", c->grad, sizeof c->grad);
    c->have_before = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "have_before"));
    c->have_after = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "have_after"));
    c->acc_before = num(o, "accuracy_before");
    c->acc_after = num(o, "accuracy_after");
    c->static_macs = num(o, "static_macs");
    c->eff_before = num(o, "eff_macs_before");
    c->eff_after = num(o, "eff_macs_after");
    c->f_apx = num(o, "f_apx");
    c->pnorm_before = num(o, "p_norm_before");
    c->pnorm_after = num(o, "p_norm_after");
    c->p_mul = num(o, "p_mul_mw");
    c->p_exact = num(o, "p_exact_mw");
    c->p_est = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "power_estimated"));
    c->experts = (int)num(o, "experts");
    c->retrain_seconds = num(o, "retrain_seconds");
    const cJSON *units = cJSON_GetObjectItemCaseSensitive(o, "loads"), *un;
    cJSON_ArrayForEach(un, units)
    {
        if (c->nunits == STUDY_MAX_UNITS) break;
        str(un, "router", c->unit_names[c->nunits], sizeof c->unit_names[0]);
        int e = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(un, "share"))
        {
            if (e < AXNN_MOE_MAX_EXPERTS) c->loads[c->nunits][e++] = v->valuedouble;
        }
        c->nunits++;
    }
    cJSON_Delete(o);
    if (c->experts > AXNN_MOE_MAX_EXPERTS) c->experts = AXNN_MOE_MAX_EXPERTS;
    return AXNN_OK;
}
