/* Building a zoo: the only file of src/dispatch that calls the graph and trainer API (model
 * builders, axnn_train, planning and forward passes), so that the graph IR / execution plan
 * split touches nothing else here.
 *
 * Splits. The training set is permuted with the seed; the first `val` images are the validation
 * split, the next `profile_images` the dispatcher's training split ("train" in the zoo), and the
 * zoo models train on the rest (at most `train_images` of it). The dispatcher's samples are kept
 * out of the models' training so that its labels (which model is right) look like those of
 * unseen inputs: briefly trained models are right more often on their own training images. The
 * test split (the first `test_images` of the test set) is only for the final report.
 *
 * Models. An entry is an architecture ("resnet20", trained here into <dir>/models/<name>/ with
 * axnn_train, which resumes per epoch) or NAME=CHECKPOINT (an axnn checkpoint, used as is; its
 * dataset, classes and input shape must match). Every model must take the same input shape and
 * have the dataset's class count.
 *
 * Profiling runs each model in eval mode on every split: argmax and max softmax per sample. For
 * the extractor model it also keeps the pooled penultimate features: the input of the node that
 * computes the logits. Those are read from the activation arena after each forward, which is
 * valid because the plan has batch PROFILE_BATCH, too small for micro-batching (src/graph/plan.c),
 * so the features value keeps its memory until the final linear layer has read it; the first
 * batch is checked by recomputing the logits from the features and the layer's weights.
 *
 * The zoo file is rewritten atomically after each model; on a new run with the same settings
 * the models already in it are skipped.
 */
#include "axnn/dispatch.h"
#include "axnn/models.h"
#include "axnn/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PROFILE_BATCH 32

typedef struct zoo_entry {
    char name[64], arch[64];
    const char *ckpt; /* NAME=FILE, else NULL */
    axnn_graph *g;
    axnn_plan *plan; /* eval plan of PROFILE_BATCH images (profiling, dispatch run) */
    axnn_preproc pp;
    double macs, ext_macs;
} zoo_entry;

static int fc_node(const axnn_graph *g);

/* The entry's eval plan; the extractor's features (the input of the last linear layer) are a
 * graph output, so they stay readable after a run. */
static axnn_status entry_plan(zoo_entry *e, int threads)
{
    axnn_plan_free(e->plan);
    e->plan = NULL;
    axnn_status st = axnn_graph_mark_output(e->g, e->g->nodes[fc_node(e->g)].in[0]);
    if (!st && !(e->plan = axnn_plan_new(e->g, PROFILE_BATCH, threads, false))) st = AXNN_ERR_NOMEM;
    return st;
}

static void entry_free(zoo_entry *e)
{
    axnn_plan_free(e->plan);
    axnn_graph_free(e->g);
    e->plan = NULL;
    e->g = NULL;
}

static axnn_status subset(const axnn_dataset *src, const int64_t *idx, int64_t n, const char *tag,
                          axnn_dataset *out)
{
    char nm[64];
    snprintf(nm, sizeof nm, "%s", src->name);
    axnn_status st = axnn_dataset_alloc(out, nm, n, src->c, src->h, src->w, src->num_classes);
    if (st) return st;
    size_t img = (size_t)src->c * src->h * src->w;
    for (int64_t i = 0; i < n; i++) {
        int64_t j = idx ? idx[i] : i;
        memcpy(out->images + (size_t)i * img, src->images + (size_t)j * img, img);
        out->labels[i] = src->labels[j];
    }
    (void)tag;
    return AXNN_OK;
}

static int fc_node(const axnn_graph *g)
{
    return g->logits >= 0 ? g->vals[g->logits].producer : -1;
}

/* MACs of the model, and of the model without the node that computes the logits. */
static void model_costs(zoo_entry *e)
{
    e->macs = (double)axnn_graph_macs(e->g);
    int k = fc_node(e->g);
    e->ext_macs = e->macs - (k >= 0 ? (double)axnn_node_macs(e->g, &e->g->nodes[k]) : 0.0);
}

/* Opens e->ckpt (an axnn checkpoint) for dataset `data`; its normalization, or tr's statistics
 * when it has none (tr may be NULL: then it must have them). */
static axnn_status open_checkpoint(zoo_entry *e, const char *data, const axnn_dataset *tr)
{
    axnn_st_file *f;
    axnn_status st = axnn_st_read(e->ckpt, &f);
    if (st) return st;
    axnn_ckpt_meta meta;
    st = axnn_checkpoint_read_meta(f, &meta);
    if (st)
        st = axnn_error(AXNN_ERR_FORMAT,
                        "%s: not an axnn checkpoint (a zoo entry NAME=FILE needs its metadata)",
                        e->ckpt);
    if (!st && meta.dataset[0] && strcmp(meta.dataset, data))
        st = axnn_error(AXNN_ERR_ARG, "%s is a checkpoint for %s, not %s", e->ckpt, meta.dataset,
                        data);
    if (!st && !meta.have_norm && !tr)
        st = axnn_error(AXNN_ERR_FORMAT, "%s has no normalization", e->ckpt);
    axnn_model_cfg mc = {
        meta.model.in_channels, meta.model.height, meta.model.width, meta.model.num_classes, 0, 1};
    if (!st) st = axnn_model_build(meta.model.arch, &mc, &e->g);
    if (!st) st = axnn_graph_load_weights(e->g, f, true);
    if (!st) {
        snprintf(e->arch, sizeof e->arch, "%s", meta.model.arch);
        e->pp = meta.pre;
        if (!meta.have_norm) axnn_dataset_channel_stats(tr, e->pp.mean, e->pp.std);
    }
    axnn_st_close(f);
    return st;
}

static axnn_status open_entry(zoo_entry *e, const char *spec, const axnn_dataset *tr, uint64_t seed)
{
    const char *eq = strchr(spec, '=');
    if (eq) {
        snprintf(e->name, sizeof e->name, "%.*s", (int)(eq - spec), spec);
        e->ckpt = eq + 1;
        if (!e->name[0] || !e->ckpt[0])
            return axnn_error(AXNN_ERR_ARG, "--models: bad entry '%s' (NAME=CHECKPOINT)", spec);
        axnn_status st = open_checkpoint(e, tr->name, tr);
        if (st) return st;
    } else {
        snprintf(e->name, sizeof e->name, "%s", spec);
        snprintf(e->arch, sizeof e->arch, "%s", spec);
        int size = axnn_model_default_size(spec, tr->h, tr->w);
        axnn_model_cfg mc = {tr->c, size, size, tr->num_classes, 0.0f, seed};
        axnn_status st = axnn_model_build(spec, &mc, &e->g);
        if (st) return st;
        axnn_dataset_channel_stats(tr, e->pp.mean, e->pp.std);
        e->pp.out_h = e->pp.out_w = size;
    }
    const axnn_model_info *in = &e->g->info;
    if (in->num_classes != tr->num_classes)
        return axnn_error(AXNN_ERR_SHAPE, "zoo model %s has %d classes, the dataset %s %d", e->name,
                          in->num_classes, tr->name, tr->num_classes);
    if (in->in_channels != tr->c || in->height < tr->h || in->width < tr->w)
        return axnn_error(AXNN_ERR_SHAPE,
                          "zoo model %s takes %dx%dx%d inputs, the dataset has %dx%dx%d images",
                          e->name, in->in_channels, in->height, in->width, tr->c, tr->h, tr->w);
    model_costs(e);
    return AXNN_OK;
}

static axnn_status mkdir_p(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0777);
            *p = '/';
        }
    struct stat sb;
    if (mkdir(buf, 0777) && (stat(buf, &sb) || !S_ISDIR(sb.st_mode)))
        return axnn_error(AXNN_ERR_IO, "cannot create folder %s", path);
    return AXNN_OK;
}

/* Trains entry e (an architecture) on `train`, resuming its checkpoint when there is one. */
static axnn_status train_entry(zoo_entry *e, const axnn_dataset *train, const axnn_zoo_cfg *cfg,
                               axnn_progress *prog)
{
    char out[4096];
    snprintf(out, sizeof out, "%s/models/%s", cfg->dir, e->name);
    axnn_train_cfg tc = {.epochs = cfg->epochs,
                         .batch = cfg->batch,
                         .threads = cfg->threads,
                         .seed = cfg->seed,
                         .out_dir = out,
                         .dataset_name = train->name,
                         .resume = true};
    tc.opt = (axnn_optim_cfg){.kind = AXNN_OPT_SGD,
                              .lr = cfg->lr,
                              .momentum = 0.9f,
                              .nesterov = true,
                              .weight_decay = 5e-4f,
                              .decay_all = true};
    tc.sched = (axnn_sched_cfg){.kind = AXNN_SCHED_COSINE};
    axnn_train_result res;
    axnn_log(AXNN_LOG_INFO, "zoo: training %s on %lld images for %d epoch(s)", e->name,
             (long long)train->n, cfg->epochs);
    return axnn_train(e->g, train, NULL, &e->pp, &tc, prog, &res);
}

/* Checks that the features value holds what the final linear layer read: its logits. */
static axnn_status check_features(const axnn_plan *p, const float *feat, int d, int n)
{
    const axnn_graph *g = axnn_plan_graph(p);
    const axnn_node *nd = &g->nodes[fc_node(g)];
    if (nd->nin < 2)
        return axnn_error(AXNN_ERR_INTERNAL, "the extractor's last layer has no weight");
    const float *w = g->vals[nd->in[1]].data, *b = nd->nin > 2 ? g->vals[nd->in[2]].data : NULL;
    const float *z = axnn_plan_logits(p);
    int k = g->info.num_classes;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < k; c++) {
            double acc = b ? b[c] : 0.0;
            for (int j = 0; j < d; j++)
                acc += (double)w[(size_t)c * d + j] * feat[(size_t)i * d + j];
            if (fabs(acc - z[(size_t)i * k + c]) > 1e-3 * (1.0 + fabs(acc)))
                return axnn_error(AXNN_ERR_INTERNAL,
                                  "extractor features do not reproduce the logits");
        }
    return AXNN_OK;
}

typedef struct profile_out {
    int32_t *pred;
    float *conf;
    float *feat; /* NULL: not wanted */
    int d;
} profile_out;

static void score(const float *z, int n, int k, int32_t *pred, float *conf)
{
    for (int i = 0; i < n; i++) {
        const float *r = z + (size_t)i * k;
        int best = 0;
        for (int c = 1; c < k; c++)
            if (r[c] > r[best]) best = c;
        double s = 0.0;
        for (int c = 0; c < k; c++) s += exp((double)r[c] - r[best]);
        pred[i] = best;
        conf[i] = (float)(1.0 / s);
    }
}

/* Eval-mode forward of every image of d: predictions, confidences and (optionally) features. */
static axnn_status profile(zoo_entry *e, axnn_pool *pool, const axnn_dataset *d, profile_out *o,
                           axnn_progress *prog, const char *label)
{
    axnn_graph *g = e->g;
    axnn_status st = entry_plan(e, axnn_pool_size(pool));
    if (st) return st;
    int fv = g->nodes[fc_node(g)].in[0];
    o->d = (int)(axnn_shape_numel(&g->vals[fv].shape) / g->vals[fv].shape.d[0]); /* d[0] = 1 */
    axnn_loader_cfg lc = {.batch = PROFILE_BATCH, .out_h = e->pp.out_h, .out_w = e->pp.out_w};
    for (int c = 0; c < 4; c++) lc.mean[c] = e->pp.mean[c], lc.std[c] = e->pp.std[c];
    axnn_loader *ld;
    if ((st = axnn_loader_create(d, &lc, &ld))) return st;
    axnn_loader_start_epoch(ld, 0);
    const float *x;
    const int32_t *y;
    int n;
    int64_t done = 0;
    axnn_progress_begin(prog, label, d->n, "img");
    while (!st && axnn_loader_next(ld, &x, &y, &n)) {
        st = axnn_plan_forward(e->plan, pool, x, NULL, n);
        if (st) break;
        score(axnn_plan_logits(e->plan), n, g->info.num_classes, o->pred + done, o->conf + done);
        if (o->feat) {
            memcpy(o->feat + done * o->d, axnn_plan_data(e->plan, fv), (size_t)n * o->d * sizeof(float));
            if (done == 0) st = check_features(e->plan, o->feat, o->d, n);
        }
        done += n;
        axnn_progress_update(prog, done, NULL);
    }
    axnn_loader_destroy(ld);
    axnn_progress_end(prog, NULL);
    return st;
}

/* The split indices of the training set (see the header comment). */
static axnn_status carve(const axnn_dataset *tr, const axnn_zoo_cfg *cfg, int64_t **perm,
                         int64_t *nval, int64_t *nprof, int64_t *nfit)
{
    if (cfg->val < 10)
        return axnn_error(AXNN_ERR_ARG, "--val %lld: the validation split needs at least 10 images",
                          (long long)cfg->val);
    if (cfg->profile_images < 10)
        return axnn_error(AXNN_ERR_ARG,
                          "--profile-images %lld: the dispatcher needs at least 10 training images",
                          (long long)cfg->profile_images);
    if (cfg->val + cfg->profile_images + 10 > tr->n)
        return axnn_error(
            AXNN_ERR_ARG,
            "--val %lld plus --profile-images %lld leave too few of the %lld training images",
            (long long)cfg->val, (long long)cfg->profile_images, (long long)tr->n);
    *perm = malloc((size_t)tr->n * sizeof **perm);
    if (!*perm) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    axnn_rng r;
    axnn_rng_seed(&r, cfg->seed ^ 0x5a11d0u);
    for (int64_t i = 0; i < tr->n; i++) (*perm)[i] = i;
    for (int64_t i = tr->n - 1; i > 0; i--) {
        int64_t j = (int64_t)(axnn_rng_u64(&r) % (uint64_t)(i + 1)), t = (*perm)[i];
        (*perm)[i] = (*perm)[j];
        (*perm)[j] = t;
    }
    *nval = cfg->val;
    *nprof = cfg->profile_images;
    int64_t rest = tr->n - *nval - *nprof;
    *nfit = cfg->train_images > 0 && cfg->train_images < rest ? cfg->train_images : rest;
    return AXNN_OK;
}

static void config_json(const axnn_zoo_cfg *cfg, const axnn_dataset *tr, int64_t ntest, char *buf,
                        size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "{\"dataset\":\"%s\",\"models\":[", tr->name);
    for (int i = 0; i < cfg->narchs && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s\"%s\"", i ? "," : "", cfg->archs[i]);
    if (o < n)
        snprintf(buf + o, n - o,
                 "],\"ext\":%d,\"epochs\":%d,\"batch\":%d,\"lr\":%.9g,\"train_images\":%lld,"
                 "\"profile_images\":%lld,"
                 "\"val\":%lld,\"test_images\":%lld,\"seed\":%llu}",
                 cfg->ext, cfg->epochs, cfg->batch, cfg->lr, (long long)cfg->train_images,
                 (long long)cfg->profile_images, (long long)cfg->val, (long long)ntest,
                 (unsigned long long)cfg->seed);
}

typedef struct build_ctx {
    const axnn_zoo_cfg *cfg;
    axnn_dataset fit, split[3];
    zoo_entry e[AXNN_ZOO_MAX];
    int ext;
    char path[4096];
} build_ctx;

static axnn_status profile_entry(build_ctx *b, int i, axnn_progress *prog, axnn_zoo *z)
{
    zoo_entry *e = &b->e[i];
    axnn_pool *pool = axnn_pool_create(b->cfg->threads > 0 ? b->cfg->threads : 1, NULL);
    if (!pool) return axnn_error(AXNN_ERR_NOMEM, "no thread pool");
    int32_t *pred[3] = {0};
    float *conf[3] = {0}, *feat[3] = {0};
    axnn_status st = AXNN_OK;
    static const char *const labels[3] = {"profile train", "profile val", "profile test"};
    int d = 0;
    for (int s = 0; s < 3 && !st; s++) {
        int64_t n = b->split[s].n;
        pred[s] = malloc((size_t)n * sizeof *pred[s]);
        conf[s] = malloc((size_t)n * sizeof *conf[s]);
        profile_out o = {pred[s], conf[s], NULL, 0};
        if (i == b->ext) {
            int fv = b->e[i].g->nodes[fc_node(e->g)].in[0];
            const axnn_value *v = &e->g->vals[fv];
            d = (int)(axnn_shape_numel(&v->shape) / v->shape.d[0]);
            o.feat = feat[s] = malloc((size_t)n * d * sizeof *feat[s]);
        }
        if (!pred[s] || !conf[s] || (i == b->ext && !feat[s]))
            st = axnn_error(AXNN_ERR_NOMEM, "out of memory");
        if (!st) st = profile(e, pool, &b->split[s], &o, prog, labels[s]);
    }
    axnn_zoo_model md = {.macs = e->macs, .params = axnn_graph_params(e->g)};
    snprintf(md.name, sizeof md.name, "%s", e->name);
    snprintf(md.arch, sizeof md.arch, "%s", e->arch);
    if (e->ckpt)
        snprintf(md.ckpt, sizeof md.ckpt, "%s", e->ckpt);
    else
        snprintf(md.ckpt, sizeof md.ckpt, "%s/models/%s/model.safetensors", b->cfg->dir, e->name);
    if (!st) st = axnn_zoo_add(z, &md, (const int32_t *const *)pred, (const float *const *)conf);
    for (int s = 0; s < 3 && !st && i == b->ext; s++) st = axnn_zoo_set_features(z, s, feat[s], d);
    if (!st && i == b->ext) {
        z->ext = z->m - 1;
        z->ext_macs = e->ext_macs;
    }
    for (int s = 0; s < 3; s++) free(pred[s]), free(conf[s]), free(feat[s]);
    axnn_pool_destroy(pool);
    return st;
}

/* Resumes from the zoo file when it exists with the same settings. */
static axnn_status open_zoo(build_ctx *b, const char *config, axnn_zoo *z)
{
    FILE *f = fopen(b->path, "rb");
    if (!f) {
        int64_t n[3] = {b->split[0].n, b->split[1].n, b->split[2].n};
        axnn_status st = axnn_zoo_init(z, n);
        for (int s = 0; s < 3 && !st; s++)
            memcpy(z->split[s].label, b->split[s].labels, (size_t)n[s] * sizeof(int32_t));
        return st;
    }
    fclose(f);
    axnn_status st = axnn_zoo_load(b->path, z);
    if (st) return st;
    if (strcmp(z->config, config)) {
        axnn_zoo_free(z);
        return axnn_error(AXNN_ERR_ARG,
                          "%s was made with other settings (remove it or use another --out)",
                          b->path);
    }
    return AXNN_OK;
}

static bool in_zoo(const axnn_zoo *z, const char *name)
{
    for (int j = 0; j < z->m; j++)
        if (!strcmp(z->models[j].name, name)) return true;
    return false;
}

static axnn_status build_models(build_ctx *b, axnn_progress *prog, axnn_zoo *z)
{
    const axnn_zoo_cfg *cfg = b->cfg;
    axnn_status st = AXNN_OK;
    for (int i = 0; i < cfg->narchs && !st; i++) {
        zoo_entry *e = &b->e[i];
        if (in_zoo(z, e->name)) continue;
        if (!e->ckpt) st = train_entry(e, &b->fit, cfg, prog);
        if (!st) st = profile_entry(b, i, prog, z);
        if (!st) st = axnn_zoo_save(z, b->path);
        if (!st)
            axnn_log(AXNN_LOG_INFO, "zoo: %s %.1f MMACs, val %.2f%%, test %.2f%%", e->name,
                     e->macs / 1e6, 100 * z->models[z->m - 1].accuracy[1],
                     100 * z->models[z->m - 1].accuracy[2]);
    }
    return st;
}

static axnn_status open_entries(build_ctx *b, const axnn_dataset *train)
{
    const axnn_zoo_cfg *cfg = b->cfg;
    if (cfg->narchs < 2 || cfg->narchs > 8)
        return axnn_error(AXNN_ERR_ARG, "--models: give 2 to 8 models, got %d", cfg->narchs);
    for (int i = 0; i < cfg->narchs; i++) {
        axnn_status st = open_entry(&b->e[i], cfg->archs[i], train, cfg->seed + (uint64_t)i);
        if (st) return st;
        for (int j = 0; j < i; j++)
            if (!strcmp(b->e[j].name, b->e[i].name))
                return axnn_error(AXNN_ERR_ARG, "--models: %s twice", b->e[i].name);
        const axnn_model_info *a = &b->e[0].g->info, *c = &b->e[i].g->info;
        if (a->height != c->height || a->width != c->width || a->in_channels != c->in_channels)
            return axnn_error(AXNN_ERR_SHAPE, "zoo models %s and %s take different input shapes",
                              b->e[0].name, b->e[i].name);
    }
    if (cfg->ext >= cfg->narchs)
        return axnn_error(AXNN_ERR_ARG, "--extractor index %d out of range", cfg->ext);
    b->ext = cfg->ext;
    if (b->ext < 0) {
        b->ext = 0;
        for (int i = 1; i < cfg->narchs; i++)
            if (b->e[i].macs < b->e[b->ext].macs) b->ext = i;
    }
    return AXNN_OK;
}

axnn_status axnn_zoo_build(const axnn_dataset *train, const axnn_dataset *test,
                           const axnn_zoo_cfg *cfg, axnn_progress *prog, axnn_zoo *z)
{
    memset(z, 0, sizeof *z);
    build_ctx *b = calloc(1, sizeof *b);
    if (!b) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    b->cfg = cfg;
    int64_t *perm = NULL, nval = 0, nprof = 0, nfit = 0;
    int64_t ntest = cfg->test_images > 0 && cfg->test_images < test->n ? cfg->test_images : test->n;
    axnn_status st = carve(train, cfg, &perm, &nval, &nprof, &nfit);
    if (!st && ntest < 1) st = axnn_error(AXNN_ERR_ARG, "the test set is empty");
    if (!st) st = subset(train, perm, nval, "val", &b->split[AXNN_SPLIT_VAL]);
    if (!st) st = subset(train, perm + nval, nprof, "train", &b->split[AXNN_SPLIT_TRAIN]);
    if (!st) st = subset(train, perm + nval + nprof, nfit, "fit", &b->fit);
    if (!st) st = subset(test, NULL, ntest, "test", &b->split[AXNN_SPLIT_TEST]);
    if (!st) st = open_entries(b, &b->fit);
    if (!st) st = mkdir_p(cfg->dir);
    char config[2048];
    config_json(cfg, train, ntest, config, sizeof config);
    snprintf(b->path, sizeof b->path, "%s/zoo.safetensors", cfg->dir);
    if (!st) st = open_zoo(b, config, z);
    if (!st && z->m == 0) {
        snprintf(z->dataset, sizeof z->dataset, "%s", train->name);
        snprintf(z->config, sizeof z->config, "%s", config);
        z->num_classes = train->num_classes;
        z->c = train->c, z->h = train->h, z->w = train->w;
    }
    if (!st) st = build_models(b, prog, z);
    if (!st) axnn_zoo_sort(z);
    for (int i = 0; i < AXNN_ZOO_MAX; i++) entry_free(&b->e[i]);
    for (int s = 0; s < 3; s++) axnn_dataset_free(&b->split[s]);
    axnn_dataset_free(&b->fit);
    free(perm);
    free(b);
    if (st) axnn_zoo_free(z);
    return st;
}

/* ---- dispatch run ----
 * Images come from the loader as [0, 1] pixels zero-padded to the models' input size (mean 0,
 * std 1), so each model normalizes its own batch with its own statistics, as its loader would.
 * Every model's plan has batch PROFILE_BATCH (no micro-batching, so the extractor's features
 * can be read). Per model a queue gathers the images routed to it and runs when full, and at the
 * end: real sub-batches, no model touches an image it was not given. */

typedef struct run_model {
    zoo_entry e;
    float *q;      /* queued images, PROFILE_BATCH x image size */
    int32_t *qlab; /* their labels */
    int qn;
    int64_t hits, seen;
} run_model;

static void normalize(const zoo_entry *e, const float *x, int n, size_t img, int c, float *out)
{
    size_t plane = img / (size_t)c;
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            float mu = e->pp.mean[ch], sd = e->pp.std[ch] > 0 ? e->pp.std[ch] : 1.0f;
            const float *src = x + (size_t)i * img + (size_t)ch * plane;
            float *dst = out + (size_t)i * img + (size_t)ch * plane;
            for (size_t p = 0; p < plane; p++) dst[p] = (src[p] - mu) / sd;
        }
}

static axnn_status run_batch(run_model *r, axnn_pool *pool, const float *x, const int32_t *y, int n,
                             size_t img, int c, float *buf)
{
    normalize(&r->e, x, n, img, c, buf);
    axnn_status st = axnn_plan_forward(r->e.plan, pool, buf, NULL, n);
    if (st) return st;
    const float *z = axnn_plan_logits(r->e.plan);
    int k = r->e.g->info.num_classes;
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int cc = 1; cc < k; cc++)
            if (z[(size_t)i * k + cc] > z[(size_t)i * k + best]) best = cc;
        r->hits += best == y[i];
    }
    r->seen += n;
    return AXNN_OK;
}

static axnn_status flush(run_model *r, axnn_pool *pool, size_t img, int c, float *buf)
{
    axnn_status st = r->qn ? run_batch(r, pool, r->q, r->qlab, r->qn, img, c, buf) : AXNN_OK;
    r->qn = 0;
    return st;
}

static axnn_status open_run_models(const axnn_zoo *z, int threads, run_model *rm)
{
    for (int j = 0; j < z->m; j++) {
        rm[j].e.ckpt = z->models[j].ckpt;
        snprintf(rm[j].e.name, sizeof rm[j].e.name, "%s", z->models[j].name);
        axnn_status st = open_checkpoint(&rm[j].e, z->dataset, NULL);
        if (!st &&
            (rm[j].e.g->info.num_classes != z->num_classes || rm[j].e.g->info.in_channels != z->c))
            st = axnn_error(AXNN_ERR_SHAPE, "%s does not fit the zoo's dataset", z->models[j].ckpt);
        if (!st) st = entry_plan(&rm[j].e, threads);
        if (st) return st;
    }
    return AXNN_OK;
}

/* Streams: which frames are keyframes (the dispatcher runs on them; the others reuse the last
 * keyframe's route, without the extractor). Frame 0 always is one; then every `interval`-th frame
 * (interval > 0) and any frame whose change score against the last keyframe exceeds `change`
 * (change > 0): score = pixel_w * mean |x - key| + hist_w * (1/2) sum_b |h_x(b) - h_key(b)|, with
 * [0, 1] pixels and 16-bin histograms normalized to sum 1; both terms lie in [0, 1]. Without
 * interval and change every frame is a keyframe (plain dispatch). */
typedef struct stream_state {
    const axnn_run_cfg *cfg;
    float *key; /* last keyframe's pixels */
    double hkey[16];
    int64_t t;
    int last;                   /* route of the last keyframe */
    float *lg;                  /* the extractor's logits of the keyframes of a batch */
    int64_t keys[AXNN_ZOO_MAX]; /* keyframes per route */
} stream_state;

static void histogram(const float *x, size_t n, double *h)
{
    for (int b = 0; b < 16; b++) h[b] = 0.0;
    for (size_t p = 0; p < n; p++) {
        int b = (int)(x[p] * 16.0f);
        h[b < 0 ? 0 : b > 15 ? 15 : b] += 1.0 / (double)n;
    }
}

static bool is_key(stream_state *ss, const float *x, size_t img)
{
    const axnn_run_cfg *c = ss->cfg;
    bool key = ss->t == 0 || (c->interval <= 0 && c->change <= 0) ||
               (c->interval > 0 && ss->t % c->interval == 0);
    double h[16];
    histogram(x, img, h);
    if (!key && c->change > 0) {
        double pix = 0.0, hd = 0.0;
        for (size_t p = 0; p < img; p++) pix += fabs((double)x[p] - ss->key[p]);
        for (int b = 0; b < 16; b++) hd += fabs(h[b] - ss->hkey[b]);
        key = c->pixel_w * pix / (double)img + c->hist_w * 0.5 * hd > c->change;
    }
    if (key) {
        memcpy(ss->key, x, img * sizeof *x);
        memcpy(ss->hkey, h, sizeof h);
    }
    ss->t++;
    return key;
}

static void score_one(const float *lg, int k, int y, run_model *r)
{
    int best = 0;
    for (int c = 1; c < k; c++)
        if (lg[c] > lg[best]) best = c;
    r->hits += best == y;
    r->seen++;
}

static axnn_status enqueue(run_model *r, axnn_pool *pool, const float *x, int y, size_t img, int c,
                           float *buf)
{
    memcpy(r->q + (size_t)r->qn * img, x, img * sizeof(float));
    r->qlab[r->qn++] = y;
    return r->qn == PROFILE_BATCH ? flush(r, pool, img, c, buf) : AXNN_OK;
}

/* One batch: the extractor's model and the dispatcher on its keyframes, then the queues. */
static axnn_status dispatch_batch(const axnn_zoo *z, const axnn_fc *fc, run_model *rm,
                                  axnn_pool *pool, const float *x, const int32_t *y, int n,
                                  size_t img, float *buf, float *feat, int32_t *route,
                                  stream_state *ss)
{
    run_model *ex = &rm[z->ext];
    int kidx[PROFILE_BATCH], nk = 0;
    float *kx = buf + PROFILE_BATCH * img; /* keyframes gathered */
    for (int i = 0; i < n; i++) {
        kidx[i] = -1;
        if (!is_key(ss, x + (size_t)i * img, img)) continue;
        memcpy(kx + (size_t)nk * img, x + (size_t)i * img, img * sizeof(float));
        kidx[i] = nk++;
    }
    const axnn_graph *g = ex->e.g;
    axnn_status st = AXNN_OK;
    if (nk > 0) {
        normalize(&ex->e, kx, nk, img, z->c, buf);
        st = axnn_plan_forward(ex->e.plan, pool, buf, NULL, nk);
        if (st) return st;
        memcpy(feat, axnn_plan_data(ex->e.plan, g->nodes[fc_node(g)].in[0]), (size_t)nk * z->d * sizeof *feat);
        axnn_fc_route(fc, feat, nk, route);
    }
    int k = g->info.num_classes;
    /* kept: a full queue of the extractor's model (non-keyframes routed to it) overwrites them */
    memcpy(ss->lg, axnn_plan_logits(ex->e.plan), (size_t)nk * k * sizeof *ss->lg);
    const float *lg = ss->lg;
    for (int i = 0; i < n && !st; i++) {
        if (kidx[i] >= 0) {
            ss->last = route[kidx[i]];
            ss->keys[ss->last]++;
            if (ss->last == z->ext) { /* its logits are already there */
                score_one(lg + (size_t)kidx[i] * k, k, y[i], ex);
                continue;
            }
        }
        st = enqueue(&rm[ss->last], pool, x + (size_t)i * img, y[i], img, z->c, buf);
    }
    return st;
}

static axnn_status run_loader(const axnn_dataset *d, const axnn_graph *g, axnn_loader **ld)
{
    axnn_loader_cfg lc = {.batch = PROFILE_BATCH, .out_h = g->info.height, .out_w = g->info.width};
    axnn_status st = axnn_loader_create(d, &lc, ld);
    if (!st) axnn_loader_start_epoch(*ld, 0);
    return st;
}

static axnn_status run_dispatched(const axnn_zoo *z, const axnn_fc *fc, run_model *rm,
                                  axnn_pool *pool, const axnn_dataset *d, size_t img, float *buf,
                                  axnn_progress *prog, axnn_run_result *res)
{
    float *feat = malloc(PROFILE_BATCH * (size_t)z->d * sizeof *feat);
    int32_t route[PROFILE_BATCH];
    axnn_loader *ld = NULL;
    stream_state ss = {.cfg = res->cfg, .key = malloc(img * sizeof(float))};
    ss.lg = malloc(PROFILE_BATCH * (size_t)z->num_classes * sizeof *ss.lg);
    axnn_status st = feat && ss.key && ss.lg ? run_loader(d, rm[z->ext].e.g, &ld)
                                             : axnn_error(AXNN_ERR_NOMEM, "out of memory");
    const float *x;
    const int32_t *y;
    int n;
    int64_t done = 0;
    double t0 = axnn_now();
    axnn_progress_begin(prog, "dispatch run", d->n, "img");
    while (!st && axnn_loader_next(ld, &x, &y, &n)) {
        st = dispatch_batch(z, fc, rm, pool, x, y, n, img, buf, feat, route, &ss);
        done += n;
        axnn_progress_update(prog, done, NULL);
    }
    for (int j = 0; j < z->m && !st; j++) st = flush(&rm[j], pool, img, z->c, buf);
    res->seconds = axnn_now() - t0;
    axnn_progress_end(prog, NULL);
    axnn_loader_destroy(ld);
    free(feat);
    free(ss.key);
    free(ss.lg);
    if (st) return st;
    int64_t hits = 0;
    double cost = 0.0;
    for (int j = 0; j < z->m; j++) { /* keyframes pay the dispatch, the others only the model */
        res->share[j] = rm[j].seen;
        res->keyframes += ss.keys[j];
        hits += rm[j].hits;
        cost += (double)ss.keys[j] * axnn_dispatch_cost(z, axnn_dispatcher_macs(z), j) +
                (double)(rm[j].seen - ss.keys[j]) * z->models[j].macs;
    }
    res->n = done;
    res->acc = done ? (double)hits / (double)done : 0.0;
    res->mean_macs = done ? cost / (double)done : 0.0;
    return AXNN_OK;
}

static axnn_status run_alone(run_model *r, axnn_pool *pool, const axnn_dataset *d, size_t img,
                             int c, float *buf, double *acc, double *seconds)
{
    axnn_loader *ld;
    axnn_status st = run_loader(d, r->e.g, &ld);
    r->hits = r->seen = 0;
    const float *x;
    const int32_t *y;
    int n;
    double t0 = axnn_now();
    while (!st && axnn_loader_next(ld, &x, &y, &n)) st = run_batch(r, pool, x, y, n, img, c, buf);
    *seconds = axnn_now() - t0;
    axnn_loader_destroy(ld);
    *acc = r->seen ? (double)r->hits / (double)r->seen : 0.0;
    return st;
}

axnn_status axnn_dispatch_run(const axnn_zoo *z, const axnn_fc *fc, const axnn_dataset *test,
                              const axnn_run_cfg *cfg, axnn_progress *prog, axnn_run_result *res)
{
    memset(res, 0, sizeof *res);
    res->cfg = cfg;
    if (z->ext < 0 || z->m < 1 || fc->k != z->m || fc->d != z->d)
        return axnn_error(
            AXNN_ERR_ARG,
            "the dispatcher does not fit the zoo (%d x %d against %d models, %d features)", fc->k,
            fc->d, z->m, z->d);
    if (test->c != z->c || test->num_classes > z->num_classes)
        return axnn_error(AXNN_ERR_SHAPE, "dataset %s does not fit the zoo's models", test->name);
    run_model *rm = calloc((size_t)z->m, sizeof *rm);
    axnn_pool *pool = axnn_pool_create(cfg->threads > 0 ? cfg->threads : 1, NULL);
    axnn_dataset d = {0};
    int64_t n = cfg->images > 0 && cfg->images < test->n ? cfg->images : test->n;
    axnn_status st =
        rm && pool ? subset(test, NULL, n, "run", &d) : axnn_error(AXNN_ERR_NOMEM, "out of memory");
    size_t img = 0;
    if (!st) st = open_run_models(z, axnn_pool_size(pool), rm);
    if (!st) {
        const axnn_model_info *in = &rm[0].e.g->info;
        img = (size_t)in->in_channels * in->height * in->width;
        for (int j = 0; j < z->m && !st; j++) {
            rm[j].q = malloc(PROFILE_BATCH * img * sizeof(float));
            rm[j].qlab = malloc(PROFILE_BATCH * sizeof(int32_t));
            if (!rm[j].q || !rm[j].qlab) st = axnn_error(AXNN_ERR_NOMEM, "out of memory");
        }
    }
    float *buf = st ? NULL : malloc(2 * PROFILE_BATCH * img * sizeof *buf);
    if (!st && !buf) st = axnn_error(AXNN_ERR_NOMEM, "out of memory");
    if (!st) st = run_dispatched(z, fc, rm, pool, &d, img, buf, prog, res);
    for (int j = 0; j < z->m && !st && cfg->alone; j++)
        st =
            run_alone(&rm[j], pool, &d, img, z->c, buf, &res->alone_acc[j], &res->alone_seconds[j]);
    for (int j = 0; rm && j < z->m; j++) {
        entry_free(&rm[j].e);
        free(rm[j].q), free(rm[j].qlab);
    }
    free(rm);
    free(buf);
    axnn_dataset_free(&d);
    axnn_pool_destroy(pool);
    return st;
}
