/* The profiled zoo in memory and on disk.
 *
 * Per split, the arrays are row-major by sample: pred/correct/conf are n x m (one column per
 * model), feat is n x d. The file is safetensors (axnn/io.h) with tensors "<split>.label" (I32
 * [n]), "<split>.pred" (I32 [n, m]), "<split>.correct" (U8 [n, m]), "<split>.conf" (F32 [n, m]),
 * "<split>.feat" (F32 [n, d], once the extractor is profiled), for split in train, val, test;
 * and metadata "format" = "axnn-zoo" and "zoo" = JSON with the dataset, the models (name, arch,
 * MACs, parameters, accuracy per split), the extractor and the settings that built it. The
 * reader checks every shape and range, so a damaged file is one clear error.
 */
#include "axnn/dispatch.h"
#include "axnn/io.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char *const split_names[3] = {"train", "val", "test"};

void axnn_zoo_free(axnn_zoo *z)
{
    for (int s = 0; s < 3; s++) {
        axnn_zoo_split *p = &z->split[s];
        free(p->label), free(p->pred), free(p->correct), free(p->conf), free(p->feat);
    }
    memset(z, 0, sizeof *z);
}

axnn_status axnn_zoo_init(axnn_zoo *z, const int64_t n[3])
{
    memset(z, 0, sizeof *z);
    z->ext = -1;
    for (int s = 0; s < 3; s++) {
        z->split[s].n = n[s];
        z->split[s].label = calloc((size_t)(n[s] > 0 ? n[s] : 1), sizeof(int32_t));
        if (!z->split[s].label) {
            axnn_zoo_free(z);
            return axnn_error(AXNN_ERR_NOMEM, "out of memory for the zoo");
        }
    }
    return AXNN_OK;
}

/* Widens the n x m arrays of split s to n x (m + 1). */
static axnn_status widen(axnn_zoo_split *p, int m)
{
    size_t n = (size_t)p->n, w = (size_t)m + 1;
    int32_t *pred = malloc((n ? n : 1) * w * sizeof *pred);
    uint8_t *cor = malloc((n ? n : 1) * w);
    float *conf = malloc((n ? n : 1) * w * sizeof *conf);
    if (!pred || !cor || !conf) {
        free(pred), free(cor), free(conf);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory for the zoo");
    }
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            pred[i * w + j] = p->pred[i * m + j];
            cor[i * w + j] = p->correct[i * m + j];
            conf[i * w + j] = p->conf[i * m + j];
        }
    free(p->pred), free(p->correct), free(p->conf);
    p->pred = pred;
    p->correct = cor;
    p->conf = conf;
    return AXNN_OK;
}

axnn_status axnn_zoo_add(axnn_zoo *z, const axnn_zoo_model *md, const int32_t *const pred[3],
                         const float *const conf[3])
{
    if (z->m >= AXNN_ZOO_MAX)
        return axnn_error(AXNN_ERR_ARG, "a zoo holds at most %d models", AXNN_ZOO_MAX);
    int m = z->m, w = m + 1;
    for (int s = 0; s < 3; s++) {
        axnn_status st = widen(&z->split[s], m);
        if (st) return st;
    }
    z->models[m] = *md;
    for (int s = 0; s < 3; s++) {
        axnn_zoo_split *p = &z->split[s];
        int64_t hits = 0;
        for (int64_t i = 0; i < p->n; i++) {
            p->pred[i * w + m] = pred[s][i];
            p->conf[i * w + m] = conf[s][i];
            p->correct[i * w + m] = pred[s][i] == p->label[i];
            hits += p->correct[i * w + m];
        }
        z->models[m].accuracy[s] = p->n ? (double)hits / (double)p->n : 0.0;
    }
    z->m = w;
    return AXNN_OK;
}

axnn_status axnn_zoo_set_features(axnn_zoo *z, int s, const float *feat, int d)
{
    axnn_zoo_split *p = &z->split[s];
    float *f = malloc((size_t)(p->n ? p->n : 1) * (size_t)d * sizeof *f);
    if (!f) return axnn_error(AXNN_ERR_NOMEM, "out of memory for the features");
    memcpy(f, feat, (size_t)p->n * (size_t)d * sizeof *f);
    free(p->feat);
    p->feat = f;
    z->d = d;
    return AXNN_OK;
}

void axnn_zoo_sort(axnn_zoo *z)
{
    int ord[AXNN_ZOO_MAX], m = z->m;
    for (int j = 0; j < m; j++) ord[j] = j;
    for (int a = 1; a < m; a++) { /* stable insertion sort by MACs */
        int v = ord[a], b = a - 1;
        while (b >= 0 && z->models[ord[b]].macs > z->models[v].macs) {
            ord[b + 1] = ord[b];
            b--;
        }
        ord[b + 1] = v;
    }
    axnn_zoo_model md[AXNN_ZOO_MAX];
    int ext = z->ext;
    for (int j = 0; j < m; j++) {
        md[j] = z->models[ord[j]];
        if (ord[j] == z->ext) ext = j;
    }
    memcpy(z->models, md, sizeof md);
    z->ext = ext;
    for (int s = 0; s < 3; s++) {
        axnn_zoo_split *p = &z->split[s];
        int32_t pr[AXNN_ZOO_MAX];
        uint8_t co[AXNN_ZOO_MAX];
        float cf[AXNN_ZOO_MAX];
        for (int64_t i = 0; i < p->n; i++) {
            for (int j = 0; j < m; j++) {
                pr[j] = p->pred[i * m + ord[j]];
                co[j] = p->correct[i * m + ord[j]];
                cf[j] = p->conf[i * m + ord[j]];
            }
            memcpy(p->pred + i * m, pr, (size_t)m * sizeof *pr);
            memcpy(p->correct + i * m, co, (size_t)m);
            memcpy(p->conf + i * m, cf, (size_t)m * sizeof *cf);
        }
    }
}

/* ---- file ---- */

static char *meta_json(const axnn_zoo *z)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "dataset", z->dataset);
    cJSON_AddNumberToObject(o, "num_classes", z->num_classes);
    cJSON_AddNumberToObject(o, "c", z->c);
    cJSON_AddNumberToObject(o, "h", z->h);
    cJSON_AddNumberToObject(o, "w", z->w);
    cJSON_AddNumberToObject(o, "ext", z->ext);
    cJSON_AddNumberToObject(o, "d", z->d);
    cJSON_AddNumberToObject(o, "ext_macs", z->ext_macs);
    cJSON_AddStringToObject(o, "config", z->config);
    cJSON *ms = cJSON_AddArrayToObject(o, "models");
    for (int j = 0; j < z->m; j++) {
        const axnn_zoo_model *md = &z->models[j];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", md->name);
        cJSON_AddStringToObject(e, "arch", md->arch);
        cJSON_AddStringToObject(e, "checkpoint", md->ckpt);
        cJSON_AddNumberToObject(e, "macs", md->macs);
        cJSON_AddNumberToObject(e, "params", (double)md->params);
        cJSON *acc = cJSON_AddArrayToObject(e, "accuracy");
        for (int s = 0; s < 3; s++) cJSON_AddItemToArray(acc, cJSON_CreateNumber(md->accuracy[s]));
        cJSON_AddItemToArray(ms, e);
    }
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return txt;
}

axnn_status axnn_zoo_save(const axnn_zoo *z, const char *path)
{
    axnn_st_writer *w = axnn_st_writer_new();
    char *js = meta_json(z);
    if (!w || !js) {
        axnn_st_writer_free(w);
        free(js);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory writing %s", path);
    }
    axnn_status st = axnn_st_writer_meta(w, "format", "axnn-zoo");
    if (!st) st = axnn_st_writer_meta(w, "zoo", js);
    char names[3][5][32];
    for (int s = 0; s < 3 && !st; s++) {
        const axnn_zoo_split *p = &z->split[s];
        int64_t s1[1] = {p->n}, s2[2] = {p->n, z->m}, sf[2] = {p->n, z->d};
        static const char *const kinds[5] = {"label", "pred", "correct", "conf", "feat"};
        for (int k = 0; k < 5; k++)
            snprintf(names[s][k], sizeof names[s][k], "%s.%s", split_names[s], kinds[k]);
        st = axnn_st_writer_add(w, names[s][0], AXNN_ST_I32, 1, s1, p->label);
        if (!st && z->m > 0) st = axnn_st_writer_add(w, names[s][1], AXNN_ST_I32, 2, s2, p->pred);
        if (!st && z->m > 0) st = axnn_st_writer_add(w, names[s][2], AXNN_ST_U8, 2, s2, p->correct);
        if (!st && z->m > 0) st = axnn_st_writer_add(w, names[s][3], AXNN_ST_F32, 2, s2, p->conf);
        if (!st && p->feat && z->d > 0)
            st = axnn_st_writer_add(w, names[s][4], AXNN_ST_F32, 2, sf, p->feat);
    }
    if (!st) st = axnn_st_writer_write(w, path);
    axnn_st_writer_free(w);
    free(js);
    return st;
}

static bool json_int(const cJSON *o, const char *k, int lo, int hi, int *v)
{
    const cJSON *e = cJSON_GetObjectItem(o, k);
    if (!cJSON_IsNumber(e) || e->valuedouble < lo || e->valuedouble > hi) return false;
    *v = e->valueint;
    return true;
}

static bool json_str(const cJSON *o, const char *k, char *dst, size_t n)
{
    const cJSON *e = cJSON_GetObjectItem(o, k);
    if (!cJSON_IsString(e) || strlen(e->valuestring) >= n) return false;
    strcpy(dst, e->valuestring);
    return true;
}

static bool parse_models(const cJSON *ms, axnn_zoo *z)
{
    if (!cJSON_IsArray(ms) || cJSON_GetArraySize(ms) > AXNN_ZOO_MAX) return false;
    z->m = cJSON_GetArraySize(ms);
    for (int j = 0; j < z->m; j++) {
        const cJSON *e = cJSON_GetArrayItem(ms, j), *acc = cJSON_GetObjectItem(e, "accuracy");
        const cJSON *macs = cJSON_GetObjectItem(e, "macs"), *par = cJSON_GetObjectItem(e, "params");
        axnn_zoo_model *md = &z->models[j];
        if (!json_str(e, "name", md->name, sizeof md->name) ||
            !json_str(e, "arch", md->arch, sizeof md->arch) ||
            !json_str(e, "checkpoint", md->ckpt, sizeof md->ckpt) || !cJSON_IsNumber(macs) ||
            macs->valuedouble < 0 || !cJSON_IsNumber(par) || !cJSON_IsArray(acc) ||
            cJSON_GetArraySize(acc) != 3)
            return false;
        md->macs = macs->valuedouble;
        md->params = (int64_t)par->valuedouble;
        for (int s = 0; s < 3; s++) md->accuracy[s] = cJSON_GetArrayItem(acc, s)->valuedouble;
    }
    return true;
}

static bool parse_meta(const char *js, axnn_zoo *z)
{
    cJSON *o = cJSON_Parse(js);
    const cJSON *em = cJSON_GetObjectItem(o, "ext_macs");
    bool ok =
        o && json_str(o, "dataset", z->dataset, sizeof z->dataset) &&
        json_int(o, "num_classes", 1, 1 << 20, &z->num_classes) && json_int(o, "c", 1, 4, &z->c) &&
        json_int(o, "h", 1, 1 << 16, &z->h) && json_int(o, "w", 1, 1 << 16, &z->w) &&
        json_int(o, "ext", -1, AXNN_ZOO_MAX - 1, &z->ext) && json_int(o, "d", 0, 1 << 20, &z->d) &&
        cJSON_IsNumber(em) && json_str(o, "config", z->config, sizeof z->config) &&
        parse_models(cJSON_GetObjectItem(o, "models"), z);
    if (ok) z->ext_macs = em->valuedouble;
    ok = ok && z->ext < z->m;
    cJSON_Delete(o);
    return ok;
}

/* Copies tensor name of dtype dt and shape (d0[, d1]) into dst (allocated). */
static axnn_status take(const axnn_st_file *f, const char *name, axnn_st_dtype dt, int64_t d0,
                        int64_t d1, void **dst)
{
    const axnn_st_tensor *t = axnn_st_find(f, name);
    int nd = d1 >= 0 ? 2 : 1;
    if (!t || t->dtype != dt || t->nd != nd || t->shape[0] != d0 || (nd == 2 && t->shape[1] != d1))
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: tensor %s is missing or has the wrong type or shape", f->path, name);
    *dst = malloc(t->nbytes ? t->nbytes : 1);
    if (!*dst) return axnn_error(AXNN_ERR_NOMEM, "out of memory reading %s", f->path);
    memcpy(*dst, t->data, t->nbytes);
    return AXNN_OK;
}

static axnn_status load_split(const axnn_st_file *f, axnn_zoo *z, int s)
{
    axnn_zoo_split *p = &z->split[s];
    char nm[64];
    snprintf(nm, sizeof nm, "%s.label", split_names[s]);
    const axnn_st_tensor *t = axnn_st_find(f, nm);
    if (!t || t->nd != 1)
        return axnn_error(AXNN_ERR_FORMAT, "%s: tensor %s is missing", f->path, nm);
    p->n = t->shape[0];
    axnn_status st = take(f, nm, AXNN_ST_I32, p->n, -1, (void **)&p->label);
    if (!st && z->m > 0) {
        snprintf(nm, sizeof nm, "%s.pred", split_names[s]);
        st = take(f, nm, AXNN_ST_I32, p->n, z->m, (void **)&p->pred);
        snprintf(nm, sizeof nm, "%s.correct", split_names[s]);
        if (!st) st = take(f, nm, AXNN_ST_U8, p->n, z->m, (void **)&p->correct);
        snprintf(nm, sizeof nm, "%s.conf", split_names[s]);
        if (!st) st = take(f, nm, AXNN_ST_F32, p->n, z->m, (void **)&p->conf);
    }
    snprintf(nm, sizeof nm, "%s.feat", split_names[s]);
    if (!st && z->d > 0) st = take(f, nm, AXNN_ST_F32, p->n, z->d, (void **)&p->feat);
    for (int64_t i = 0; !st && i < p->n; i++) {
        if (p->label[i] < 0 || p->label[i] >= z->num_classes)
            st = axnn_error(AXNN_ERR_FORMAT, "%s: %s label %lld out of range", f->path,
                            split_names[s], (long long)i);
        for (int j = 0; !st && j < z->m; j++)
            if (p->correct[i * z->m + j] != (p->pred[i * z->m + j] == p->label[i]))
                st =
                    axnn_error(AXNN_ERR_FORMAT, "%s: %s correctness disagrees with the predictions",
                               f->path, split_names[s]);
    }
    return st;
}

axnn_status axnn_zoo_load(const char *path, axnn_zoo *z)
{
    memset(z, 0, sizeof *z);
    axnn_st_file *f;
    axnn_status st = axnn_st_read(path, &f);
    if (st) return st;
    const char *fmt = axnn_st_meta(f, "format"), *js = axnn_st_meta(f, "zoo");
    if (!fmt || strcmp(fmt, "axnn-zoo") || !js || !parse_meta(js, z))
        st =
            axnn_error(AXNN_ERR_FORMAT, "%s: not an axnn zoo file (bad or missing metadata)", path);
    if (!st && z->d > 0 && z->ext < 0)
        st = axnn_error(AXNN_ERR_FORMAT, "%s: features without an extractor", path);
    for (int s = 0; s < 3 && !st; s++) st = load_split(f, z, s);
    axnn_st_close(f);
    if (st) axnn_zoo_free(z);
    return st;
}
