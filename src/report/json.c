/* Valid JSON from fprintf-based writers (results.json, sweep.json): strings go through cJSON's
 * quoting, and a non-finite number becomes null, its place listed under "nonfinite" and named
 * in a warning, so a reader sees both that a value is missing and which one. */
#include "axnn/report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

void axnn_json_string(FILE *f, const char *s)
{
    cJSON *o = cJSON_CreateString(s ? s : "");
    char *q = o ? cJSON_PrintUnformatted(o) : NULL;
    fputs(q ? q : "\"\"", f);
    free(q);
    cJSON_Delete(o);
}

void axnn_json_number(FILE *f, const char *fmt, double v, axnn_json_nonfinite *nf,
                      const char *field)
{
    if (isfinite(v)) {
        fprintf(f, fmt, v);
        return;
    }
    fputs("null", f);
    if (nf->count < AXNN_JSON_MAX_FLAGGED) {
        char *d = nf->names[nf->count];
        if (nf->array)
            snprintf(d, sizeof nf->names[0], "%s[%d].%s", nf->array, nf->row, field);
        else
            snprintf(d, sizeof nf->names[0], "%s", field);
    }
    nf->count++;
}

void axnn_json_flag_nonfinite(FILE *f, const axnn_json_nonfinite *nf, const char *path)
{
    if (nf->count == 0) return;
    int named = nf->count < AXNN_JSON_MAX_FLAGGED ? nf->count : AXNN_JSON_MAX_FLAGGED;
    fputs(", \"nonfinite\": [", f);
    for (int i = 0; i < named; i++) {
        if (i) fputs(", ", f);
        axnn_json_string(f, nf->names[i]);
    }
    fputs("]", f);
    axnn_log(AXNN_LOG_WARN,
             "%s: %d value(s) not finite, written as null (listed under \"nonfinite\"; first: %s)",
             path, nf->count, nf->names[0]);
}
