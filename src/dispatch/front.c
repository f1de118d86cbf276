/* front.json: the searched front's chromosomes, exactly, and how their dispatchers train, so that
 * `axnn dispatch run` re-trains the very dispatcher of a chosen point (training is
 * deterministic). Numbers are printed with %.17g: they round-trip bit for bit. */
#include "axnn/dispatch.h"
#include "axnn/io.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_genes(FILE *f, const axnn_disp_genes *g, int m)
{
    fprintf(f, "{\"weighting\": %d, \"beta\": %.17g, \"P\": [", (int)g->weighting, g->beta);
    for (int a = 0; a < m * m; a++) fprintf(f, "%s%.17g", a ? ", " : "", g->P[a]);
    fprintf(f, "]}");
}

axnn_status axnn_front_save(const axnn_search_result *r, int m, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    fprintf(f,
            "{\"models\": %d, \"fc\": {\"epochs\": %d, \"batch\": %d, \"lr\": %.9g, \"wd\": %.9g, "
            "\"seed\": \"%llu\"}, "
            "\"none\": %d,\n\"plain\": ",
            m, r->fc.epochs, r->fc.batch, r->fc.lr, r->fc.wd, (unsigned long long)r->fc.seed,
            (int)r->none);
    put_genes(f, &r->plain.genes, m);
    fprintf(f, ",\n\"front\": [");
    for (int k = 0; k < r->nfront; k++) {
        fprintf(f, "%s\n", k ? "," : "");
        put_genes(f, &r->front[k].genes, m);
    }
    fprintf(f, "]}\n");
    fclose(f);
    axnn_status st =
        buf ? axnn_write_file_atomic(path, buf, len) : axnn_error(AXNN_ERR_NOMEM, "out of memory");
    free(buf);
    return st;
}

static bool get_genes(const cJSON *o, int m, axnn_disp_genes *g)
{
    const cJSON *w = cJSON_GetObjectItem(o, "weighting"), *b = cJSON_GetObjectItem(o, "beta");
    const cJSON *P = cJSON_GetObjectItem(o, "P");
    if (!cJSON_IsNumber(w) || w->valueint < 0 || w->valueint > 3 || !cJSON_IsNumber(b) ||
        !cJSON_IsArray(P) || cJSON_GetArraySize(P) != m * m)
        return false;
    memset(g, 0, sizeof *g);
    g->weighting = (axnn_weighting)w->valueint;
    g->beta = b->valuedouble;
    for (int a = 0; a < m * m; a++) {
        const cJSON *e = cJSON_GetArrayItem(P, a);
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 100) return false;
        g->P[a] = e->valuedouble;
    }
    return true;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) free(b), b = NULL;
    if (b) b[n] = 0;
    fclose(f);
    return b;
}

axnn_status axnn_front_load(const char *path, int m, int point, axnn_disp_genes *g, axnn_fc_cfg *fc,
                            axnn_none_policy *none, int *npoints)
{
    char *txt = slurp(path);
    if (!txt) return axnn_error(AXNN_ERR_IO, "cannot read %s (run the search first)", path);
    cJSON *o = cJSON_Parse(txt);
    free(txt);
    const cJSON *fr = cJSON_GetObjectItem(o, "front"), *f = cJSON_GetObjectItem(o, "fc");
    const cJSON *mm = cJSON_GetObjectItem(o, "models"), *nn = cJSON_GetObjectItem(o, "none");
    const cJSON *ep = cJSON_GetObjectItem(f, "epochs"), *ba = cJSON_GetObjectItem(f, "batch");
    const cJSON *lr = cJSON_GetObjectItem(f, "lr"), *wd = cJSON_GetObjectItem(f, "wd"),
                *sd = cJSON_GetObjectItem(f, "seed");
    axnn_status st = AXNN_OK;
    if (!o || !cJSON_IsArray(fr) || !cJSON_IsNumber(mm) || !cJSON_IsNumber(nn) ||
        !cJSON_IsNumber(ep) || !cJSON_IsNumber(ba) || !cJSON_IsNumber(lr) || !cJSON_IsNumber(wd) ||
        !cJSON_IsString(sd) || nn->valueint < 0 || nn->valueint > 2)
        st = axnn_error(AXNN_ERR_FORMAT, "%s: not a front file", path);
    else if (mm->valueint != m)
        st = axnn_error(AXNN_ERR_FORMAT, "%s is for a zoo of %d models, not %d", path, mm->valueint,
                        m);
    if (!st) {
        *npoints = cJSON_GetArraySize(fr);
        if (point < -1 || point >= *npoints)
            st = axnn_error(
                AXNN_ERR_ARG,
                "--point %d is out of range [-1, %d) (-1 = the plain cross-entropy dispatcher)",
                point, *npoints);
    }
    if (!st &&
        !get_genes(point < 0 ? cJSON_GetObjectItem(o, "plain") : cJSON_GetArrayItem(fr, point), m,
                   g))
        st = axnn_error(AXNN_ERR_FORMAT, "%s: point %d is damaged", path, point);
    if (!st) {
        *fc = (axnn_fc_cfg){ep->valueint, ba->valueint, (float)lr->valuedouble,
                            (float)wd->valuedouble, strtoull(sd->valuestring, NULL, 10)};
        *none = (axnn_none_policy)nn->valueint;
    }
    cJSON_Delete(o);
    return st;
}
