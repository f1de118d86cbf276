/* Profile and model files: JSON through cJSON, written atomically (axnn_write_file_atomic).
 *
 * Profile ("format": "axnn-pipe-profile-1"): the machine, the network ("" for a calibration
 * sweep), core type names, configurations [{"type", "threads"}], and layers in order, each with
 * its descriptor (kind, batch, in [C,H,W], out [C,H,W], kernel [kh,kw], stride, groups, bn,
 * residual, relu, macs, in_bytes, out_bytes, w_bytes) and "seconds": one time per image per
 * configuration (null = not measured); optional "cuts": one boolean per boundary.
 *
 * Model ("format": "axnn-pipe-model-1"): the machine, the form as text, the feature names, the
 * core type names and per configuration {"type", "threads", "kinds": {kind: {"coef": [one
 * number per feature], "fit_mape": percent}}}. Readers check every field and name the file.
 */
#include "axnn/pipe.h"
#include "axnn/io.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROFILE_FORMAT "axnn-pipe-profile-1"
#define MODEL_FORMAT "axnn-pipe-model-1"
#define PLAN_FORMAT "axnn-pipe-plan-1"

static const char *const feature_names[AXNN_PIPE_NFEAT] = {
    "1/batch",   "macs_direct",         "macs_winograd",           "macs_tile_waste", "in_bytes",
    "out_bytes", "w_bytes_in_l2/batch", "w_bytes_beyond_l2/batch", "macs_residual"};

/* ---------------------------------------------------------------- writing ---- */

static axnn_status write_json(cJSON *root, const char *path)
{
    char *txt = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!txt) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    axnn_status s = axnn_write_file_atomic(path, txt, strlen(txt));
    free(txt);
    return s;
}

static cJSON *int3(int a, int b, int c)
{
    int v[3] = {a, b, c};
    return cJSON_CreateIntArray(v, 3);
}

static cJSON *types_json(int n, const char (*names)[32])
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(names[i]));
    return a;
}

static cJSON *confs_json(int n, const axnn_pipe_conf *conf)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "type", conf[i].type);
        cJSON_AddNumberToObject(o, "threads", conf[i].threads);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static cJSON *layer_json(const axnn_pipe_sample *s, int nconf)
{
    const axnn_pipe_desc *d = &s->d;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddStringToObject(o, "kind", axnn_pipe_kind_name(d->kind));
    cJSON_AddNumberToObject(o, "batch", d->batch);
    cJSON_AddItemToObject(o, "in", int3(d->in_c, d->in_h, d->in_w));
    cJSON_AddItemToObject(o, "out", int3(d->out_c, d->out_h, d->out_w));
    int k[2] = {d->kh, d->kw};
    cJSON_AddItemToObject(o, "kernel", cJSON_CreateIntArray(k, 2));
    cJSON_AddNumberToObject(o, "stride", d->stride);
    cJSON_AddNumberToObject(o, "groups", d->groups);
    cJSON_AddBoolToObject(o, "bn", d->bn);
    cJSON_AddBoolToObject(o, "residual", d->residual);
    cJSON_AddBoolToObject(o, "relu", d->relu);
    cJSON_AddNumberToObject(o, "macs", (double)d->macs);
    cJSON_AddNumberToObject(o, "in_bytes", (double)d->in_bytes);
    cJSON_AddNumberToObject(o, "out_bytes", (double)d->out_bytes);
    cJSON_AddNumberToObject(o, "w_bytes", (double)d->w_bytes);
    cJSON *t = cJSON_AddArrayToObject(o, "seconds");
    for (int c = 0; c < nconf; c++)
        cJSON_AddItemToArray(t,
                             isfinite(s->t[c]) ? cJSON_CreateNumber(s->t[c]) : cJSON_CreateNull());
    return o;
}

axnn_status axnn_pipe_profile_write(const axnn_pipe_profile *p, const char *path)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", PROFILE_FORMAT);
    cJSON_AddStringToObject(root, "machine", p->machine);
    cJSON_AddStringToObject(root, "network", p->network);
    cJSON_AddItemToObject(root, "types", types_json(p->ntypes, p->type_name));
    cJSON_AddItemToObject(root, "configs", confs_json(p->nconf, p->conf));
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    for (int i = 0; i < p->nsamples; i++)
        cJSON_AddItemToArray(layers, layer_json(&p->samples[i], p->nconf));
    if (p->cut && p->nsamples > 1) {
        cJSON *cuts = cJSON_AddArrayToObject(root, "cuts");
        for (int i = 0; i < p->nsamples - 1; i++)
            cJSON_AddItemToArray(cuts, cJSON_CreateBool(p->cut[i]));
    }
    return write_json(root, path);
}

axnn_status axnn_pipe_model_write(const axnn_pipe_model *m, const char *path)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", MODEL_FORMAT);
    cJSON_AddStringToObject(root, "machine", m->machine);
    cJSON_AddStringToObject(root, "form",
                            "seconds per image = sum_j coef[j] * feature[j], "
                            "per configuration and layer kind (src/pipe/predict.c)");
    cJSON *f = cJSON_AddArrayToObject(root, "features");
    for (int j = 0; j < AXNN_PIPE_NFEAT; j++)
        cJSON_AddItemToArray(f, cJSON_CreateString(feature_names[j]));
    cJSON_AddItemToObject(root, "types", types_json(m->ntypes, m->type_name));
    cJSON *confs = cJSON_AddArrayToObject(root, "configs");
    for (int c = 0; c < m->nconf; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "type", m->conf[c].type);
        cJSON_AddNumberToObject(o, "threads", m->conf[c].threads);
        cJSON *kinds = cJSON_AddObjectToObject(o, "kinds");
        for (int k = 0; k < AXNN_PK_COUNT; k++) {
            if (!m->fitted[c][k]) continue;
            cJSON *ko = cJSON_AddObjectToObject(kinds, axnn_pipe_kind_name(k));
            cJSON_AddItemToObject(ko, "coef",
                                  cJSON_CreateDoubleArray(m->coef[c][k], AXNN_PIPE_NFEAT));
            cJSON_AddNumberToObject(ko, "fit_mape", m->fit_mape[c][k]);
        }
        cJSON_AddItemToArray(confs, o);
    }
    return write_json(root, path);
}

/* ---------------------------------------------------------------- reading ---- */

typedef struct rd {
    const char *path;
    axnn_status s;
} rd;

static bool bad(rd *r, const char *what)
{
    if (!r->s) r->s = axnn_error(AXNN_ERR_FORMAT, "%s: %s", r->path, what);
    return false;
}

static double num(rd *r, const cJSON *o, const char *key, double lo, double hi)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) {
        char m[128];
        snprintf(m, sizeof m, "\"%s\" missing or out of range", key);
        bad(r, m);
        return lo;
    }
    return v->valuedouble;
}

static bool flag(rd *r, const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsBool(v)) {
        char m[128];
        snprintf(m, sizeof m, "\"%s\" is not a boolean", key);
        return bad(r, m);
    }
    return cJSON_IsTrue(v);
}

static void ints(rd *r, const cJSON *o, const char *key, int *dst, int n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) {
        char m[128];
        snprintf(m, sizeof m, "\"%s\" is not an array of %d numbers", key, n);
        bad(r, m);
        return;
    }
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        dst[i] = cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e9 ? v->valueint : 0;
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= 1e9) bad(r, key);
    }
}

static void str(rd *r, const cJSON *o, const char *key, char *dst, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v)) {
        char m[128];
        snprintf(m, sizeof m, "\"%s\" is not a string", key);
        bad(r, m);
        return;
    }
    snprintf(dst, n, "%s", v->valuestring);
}

static cJSON *load(rd *r, const char *format)
{
    FILE *f = fopen(r->path, "rb");
    if (!f) {
        r->s = axnn_error(AXNN_ERR_IO, "%s: cannot open", r->path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!buf || got != (size_t)n) {
        free(buf);
        r->s = axnn_error(AXNN_ERR_IO, "%s: cannot read", r->path);
        return NULL;
    }
    buf[n] = 0;
    cJSON *root = cJSON_Parse(buf);
    free(buf);
    if (!root) {
        bad(r, "not valid JSON");
        return NULL;
    }
    const cJSON *fm = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(fm) || strcmp(fm->valuestring, format)) {
        char m[128];
        snprintf(m, sizeof m, "\"format\" is not \"%s\"", format);
        bad(r, m);
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static int read_types(rd *r, const cJSON *root, char (*names)[32])
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "types");
    int n = cJSON_GetArraySize(a);
    if (!cJSON_IsArray(a) || n < 1 || n > AXNN_PIPE_MAX_TYPES)
        return bad(r, "\"types\": 1-8 names");
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsString(v)) return bad(r, "\"types\": not strings");
        snprintf(names[i], 32, "%s", v->valuestring);
    }
    return n;
}

static int read_confs(rd *r, const cJSON *a, int ntypes, axnn_pipe_conf *conf)
{
    int n = cJSON_GetArraySize(a);
    if (!cJSON_IsArray(a) || n < 1 || n > AXNN_PIPE_MAX_TYPES * AXNN_PIPE_MAX_THREADS)
        return bad(r, "\"configs\" missing or empty");
    for (int i = 0; i < n; i++) {
        const cJSON *o = cJSON_GetArrayItem(a, i);
        conf[i].type = (int)num(r, o, "type", 0, ntypes - 1);
        conf[i].threads = (int)num(r, o, "threads", 1, AXNN_PIPE_MAX_THREADS);
    }
    return n;
}

static void read_layer(rd *r, const cJSON *o, int nconf, axnn_pipe_sample *s)
{
    axnn_pipe_desc *d = &s->d;
    str(r, o, "name", s->name, sizeof s->name);
    char kind[32] = "";
    str(r, o, "kind", kind, sizeof kind);
    if (!r->s && axnn_pipe_kind_parse(kind, &d->kind)) bad(r, "unknown \"kind\"");
    d->batch = (int)num(r, o, "batch", 1, 1 << 20);
    int v[3];
    ints(r, o, "in", v, 3);
    d->in_c = v[0], d->in_h = v[1], d->in_w = v[2];
    ints(r, o, "out", v, 3);
    d->out_c = v[0], d->out_h = v[1], d->out_w = v[2];
    ints(r, o, "kernel", v, 2);
    d->kh = v[0], d->kw = v[1];
    d->stride = (int)num(r, o, "stride", 0, 1 << 16);
    d->groups = (int)num(r, o, "groups", 0, 1 << 20);
    d->bn = flag(r, o, "bn");
    d->residual = flag(r, o, "residual");
    d->relu = flag(r, o, "relu");
    d->macs = (int64_t)num(r, o, "macs", 0, 1e18);
    d->in_bytes = (int64_t)num(r, o, "in_bytes", 0, 1e18);
    d->out_bytes = (int64_t)num(r, o, "out_bytes", 0, 1e18);
    d->w_bytes = (int64_t)num(r, o, "w_bytes", 0, 1e18);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "seconds");
    if (!cJSON_IsArray(t) || cJSON_GetArraySize(t) != nconf) {
        bad(r, "a layer's \"seconds\" does not have one entry per configuration");
        return;
    }
    for (int c = 0; c < nconf; c++) {
        const cJSON *x = cJSON_GetArrayItem(t, c);
        s->t[c] = cJSON_IsNumber(x) && x->valuedouble >= 0 ? x->valuedouble : NAN;
        if (!cJSON_IsNull(x) && !(cJSON_IsNumber(x) && x->valuedouble >= 0))
            bad(r, "\"seconds\": not a non-negative number or null");
    }
}

static void read_cuts(rd *r, const cJSON *root, axnn_pipe_profile *p)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "cuts");
    if (!a) return;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != p->nsamples - 1) {
        bad(r, "\"cuts\" needs one boolean per boundary between layers");
        return;
    }
    p->cut = calloc((size_t)p->nsamples, sizeof *p->cut);
    for (int i = 0; p->cut && i < p->nsamples - 1; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsBool(v)) bad(r, "\"cuts\": not booleans");
        p->cut[i] = cJSON_IsTrue(v);
    }
}

axnn_status axnn_pipe_profile_read(const char *path, axnn_pipe_profile *p)
{
    memset(p, 0, sizeof *p);
    rd r = {path, AXNN_OK};
    cJSON *root = load(&r, PROFILE_FORMAT);
    if (!root) return r.s;
    str(&r, root, "machine", p->machine, sizeof p->machine);
    str(&r, root, "network", p->network, sizeof p->network);
    p->ntypes = read_types(&r, root, p->type_name);
    if (!r.s)
        p->nconf =
            read_confs(&r, cJSON_GetObjectItemCaseSensitive(root, "configs"), p->ntypes, p->conf);
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    int n = cJSON_GetArraySize(layers);
    if (!r.s && (!cJSON_IsArray(layers) || n < 1)) bad(&r, "\"layers\" missing or empty");
    if (!r.s && !(p->samples = calloc((size_t)n, sizeof *p->samples)))
        r.s = axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; !r.s && i < n; i++)
        read_layer(&r, cJSON_GetArrayItem(layers, i), p->nconf, &p->samples[i]);
    if (!r.s) p->nsamples = n;
    if (!r.s) read_cuts(&r, root, p);
    cJSON_Delete(root);
    if (r.s) axnn_pipe_profile_free(p);
    return r.s;
}

static void read_kinds(rd *r, const cJSON *kinds, axnn_pipe_model *m, int c)
{
    if (!cJSON_IsObject(kinds)) {
        bad(r, "a configuration has no \"kinds\" object");
        return;
    }
    for (const cJSON *k = kinds->child; k && !r->s; k = k->next) {
        axnn_pipe_kind kind;
        if (axnn_pipe_kind_parse(k->string, &kind)) {
            bad(r, "unknown layer kind");
            return;
        }
        const cJSON *coef = cJSON_GetObjectItemCaseSensitive(k, "coef");
        if (!cJSON_IsArray(coef) || cJSON_GetArraySize(coef) != AXNN_PIPE_NFEAT) {
            bad(r, "\"coef\" needs one number per feature");
            return;
        }
        for (int j = 0; j < AXNN_PIPE_NFEAT; j++) {
            const cJSON *v = cJSON_GetArrayItem(coef, j);
            if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || !isfinite(v->valuedouble)) {
                bad(r, "\"coef\": not non-negative numbers");
                return;
            }
            m->coef[c][kind][j] = v->valuedouble;
        }
        m->fit_mape[c][kind] = num(r, k, "fit_mape", 0, 1e9);
        m->fitted[c][kind] = true;
    }
}

axnn_status axnn_pipe_model_read(const char *path, axnn_pipe_model *m)
{
    memset(m, 0, sizeof *m);
    rd r = {path, AXNN_OK};
    cJSON *root = load(&r, MODEL_FORMAT);
    if (!root) return r.s;
    str(&r, root, "machine", m->machine, sizeof m->machine);
    m->ntypes = read_types(&r, root, m->type_name);
    const cJSON *confs = cJSON_GetObjectItemCaseSensitive(root, "configs");
    if (!r.s) m->nconf = read_confs(&r, confs, m->ntypes, m->conf);
    for (int c = 0; !r.s && c < m->nconf; c++)
        read_kinds(&r, cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(confs, c), "kinds"), m,
                   c);
    cJSON_Delete(root);
    return r.s;
}

void axnn_pipe_profile_free(axnn_pipe_profile *p)
{
    free(p->samples);
    free(p->cut);
    p->samples = NULL;
    p->cut = NULL;
    p->nsamples = 0;
}

/* ---------------------------------------------------------------- plans ---- */

axnn_status axnn_pipe_plan_write(const axnn_pipe_plan *plan, const char *network, int nlayers,
                                 bool simulated, const char *path)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", PLAN_FORMAT);
    cJSON_AddStringToObject(root, "network", network);
    cJSON_AddNumberToObject(root, "layers", nlayers);
    cJSON_AddBoolToObject(root, "simulated", simulated);
    cJSON_AddNumberToObject(root, "images_per_s", plan->throughput);
    cJSON_AddNumberToObject(root, "latency_ms", 1e3 * plan->latency);
    cJSON *lanes = cJSON_AddArrayToObject(root, "lanes");
    for (int l = 0; l < plan->nlanes; l++) {
        cJSON *lo = cJSON_CreateObject(), *st = cJSON_AddArrayToObject(lo, "stages");
        for (int s = 0; s < plan->lanes[l].nstages; s++) {
            const axnn_pipe_stage *x = &plan->lanes[l].stages[s];
            cJSON *so = cJSON_CreateObject();
            cJSON_AddNumberToObject(so, "first", x->first);
            cJSON_AddNumberToObject(so, "last", x->last);
            cJSON_AddItemToObject(so, "groups", cJSON_CreateIntArray(x->group, x->nrep));
            cJSON_AddItemToObject(so, "threads", cJSON_CreateIntArray(x->threads, x->nrep));
            cJSON_AddItemToArray(st, so);
        }
        cJSON_AddItemToArray(lanes, lo);
    }
    return write_json(root, path);
}

static void read_stage(rd *r, const cJSON *o, int nlayers, axnn_pipe_stage *st)
{
    memset(st, 0, sizeof *st);
    st->first = (int)num(r, o, "first", 0, nlayers - 1);
    st->last = (int)num(r, o, "last", 0, nlayers - 1);
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "groups");
    st->nrep = cJSON_GetArraySize(g);
    if (!cJSON_IsArray(g) || st->nrep < 1 || st->nrep > 2) {
        bad(r, "a stage needs \"groups\" of one or two entries");
        return;
    }
    ints(r, o, "groups", st->group, st->nrep);
    ints(r, o, "threads", st->threads, st->nrep);
}

axnn_status axnn_pipe_plan_read(const char *path, const char *network, int nlayers,
                                axnn_pipe_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    rd r = {path, AXNN_OK};
    cJSON *root = load(&r, PLAN_FORMAT);
    if (!root) return r.s;
    char net[64] = "";
    str(&r, root, "network", net, sizeof net);
    int n = (int)num(&r, root, "layers", 1, 1 << 20);
    if (!r.s && (strcmp(net, network) || n != nlayers))
        r.s = axnn_error(AXNN_ERR_ARG, "%s: a plan for %s (%d layers), not for %s (%d layers)",
                         path, net, n, network, nlayers);
    const cJSON *lanes = cJSON_GetObjectItemCaseSensitive(root, "lanes");
    plan->nlanes = cJSON_GetArraySize(lanes);
    if (!r.s && (!cJSON_IsArray(lanes) || plan->nlanes < 1 || plan->nlanes > AXNN_PIPE_MAX_LANES))
        bad(&r, "\"lanes\" missing, empty or too many");
    for (int l = 0; !r.s && l < plan->nlanes; l++) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(lanes, l), "stages");
        int ns = cJSON_GetArraySize(st);
        if (!cJSON_IsArray(st) || ns < 1 || ns > AXNN_PIPE_MAX_STAGES) {
            bad(&r, "a lane needs \"stages\"");
            break;
        }
        plan->lanes[l].nstages = ns;
        for (int s = 0; !r.s && s < ns; s++)
            read_stage(&r, cJSON_GetArrayItem(st, s), nlayers, &plan->lanes[l].stages[s]);
    }
    cJSON_Delete(root);
    return r.s;
}
