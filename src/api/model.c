/* The inference API (axnn/infer.h): a model is a graph opened from a file, its preprocessing,
 * a thread pool and an eval plan, re-made when a larger batch arrives. Opening follows the
 * CLI's rules (tools/axnn uses these calls): an axnn checkpoint names its architecture, input
 * and normalization in its metadata; a plain PyTorch export needs them from the caller. */
#include "axnn/infer.h"

#include "axnn/io.h"
#include "axnn/models.h"
#include "axnn/plan.h"
#include "axnn/quant.h"
#include "axnn/train.h"

#include <stdlib.h>
#include <string.h>

struct axnn_model {
    axnn_graph *g;
    axnn_ckpt_meta meta;
    axnn_pool *pool;
    axnn_plan *plan;
    bool quantized, calibrated;
};

static axnn_status build(const char *arch, int classes, int in_channels, int size, axnn_graph **g)
{
    axnn_model_cfg mc = {in_channels > 0 ? in_channels : 3, size > 0 ? size : 32, size > 0 ? size : 32, classes, 0.0f, 0};
    if (!arch) return axnn_error(AXNN_ERR_ARG, "no architecture given");
    if (mc.num_classes <= 0 && strncmp(arch, "cifar", 5)) mc.num_classes = 10;
    return axnn_model_build(arch, &mc, g);
}

/* The graph and metadata of file f (see the top of the file). */
static axnn_status open_graph(const char *path, axnn_st_file *f, const axnn_open_cfg *c, axnn_graph **g,
                              axnn_ckpt_meta *meta)
{
    if (axnn_st_meta(f, "format")) {
        axnn_status st = axnn_checkpoint_read_meta(f, meta);
        if (st) return st;
        return build(meta->model.arch, meta->model.num_classes, meta->model.in_channels, meta->model.height, g);
    }
    if (!c || !c->arch)
        return axnn_error(AXNN_ERR_ARG, "%s: a plain weights file needs the architecture (and classes)", path);
    axnn_status st = build(c->arch, c->classes, c->in_channels, c->size, g);
    if (st) return st;
    meta->model = (*g)->info;
    meta->pre.out_h = meta->model.height;
    meta->pre.out_w = meta->model.width;
    for (int i = 0; i < meta->model.in_channels && i < 4; i++) {
        meta->pre.mean[i] = c->mean ? c->mean[i] : 0.0f;
        meta->pre.std[i] = c->std ? c->std[i] : 1.0f;
        if (!(meta->pre.std[i] > 0.0f) || meta->pre.mean[i] != meta->pre.mean[i])
            return axnn_error(AXNN_ERR_ARG, "%s: normalization of channel %d is not a finite mean and positive std", path, i);
    }
    meta->have_norm = c->mean && c->std;
    return AXNN_OK;
}

axnn_status axnn_model_load(const char *path, const axnn_open_cfg *cfg, axnn_graph **g, axnn_ckpt_meta *meta)
{
    *g = NULL;
    memset(meta, 0, sizeof *meta);
    axnn_st_file *f = NULL;
    axnn_status st = axnn_st_read(path, &f);
    if (!st) st = open_graph(path, f, cfg, g, meta);
    if (!st) st = axnn_graph_load_weights(*g, f, true);
    axnn_st_close(f);
    if (st) {
        axnn_graph_free(*g);
        *g = NULL;
    }
    return st;
}

axnn_status axnn_model_open(const char *path, const axnn_open_cfg *cfg, axnn_model **out)
{
    *out = NULL;
    axnn_model *m = calloc(1, sizeof *m);
    if (!m) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    axnn_status st = axnn_model_load(path, cfg, &m->g, &m->meta);
    int threads = cfg && cfg->threads > 0 ? cfg->threads : axnn_default_threads();
    if (!st && !(m->pool = axnn_pool_create(threads, NULL))) st = axnn_error(AXNN_ERR_NOMEM, "no thread pool");
    if (st) {
        axnn_model_close(m);
        return st;
    }
    *out = m;
    return AXNN_OK;
}

void axnn_model_close(axnn_model *m)
{
    if (!m) return;
    axnn_plan_free(m->plan);
    axnn_graph_free(m->g);
    axnn_pool_destroy(m->pool);
    free(m);
}

const axnn_model_info *axnn_model_describe(const axnn_model *m) { return &m->meta.model; }

axnn_graph *axnn_model_graph(axnn_model *m) { return m->g; }

size_t axnn_model_input_floats(const axnn_model *m)
{
    const axnn_model_info *i = &m->meta.model;
    return (size_t)i->in_channels * (size_t)i->height * (size_t)i->width;
}

axnn_status axnn_model_preprocess(const axnn_model *m, const uint8_t *px, int h, int w, axnn_layout layout, float *out)
{
    const axnn_model_info *i = &m->meta.model;
    const axnn_preproc *pp = &m->meta.pre;
    const int C = i->in_channels, H = i->height, W = i->width;
    if (h < 1 || w < 1 || h > H || w > W)
        return axnn_error(AXNN_ERR_SHAPE, "image of %dx%d does not fit the model's %dx%d input", h, w, H, W);
    const int top = (H - h) / 2, left = (W - w) / 2;
    for (int c = 0; c < C; c++) {
        const float mean = pp->mean[c], sd = pp->std[c] > 0 ? pp->std[c] : 1.0f;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int iy = y - top, ix = x - left;
                bool inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
                size_t at = layout == AXNN_LAYOUT_CHW ? ((size_t)c * h + iy) * w + ix : ((size_t)iy * w + ix) * C + c;
                float v = inside ? px[at] / 255.0f : 0.0f;
                out[((size_t)c * H + y) * W + x] = (v - mean) / sd;
            }
    }
    return AXNN_OK;
}

axnn_status axnn_model_set_multiplier(axnn_model *m, const char *mul, const char *layers)
{
    axnn_quant_detach(m->g);
    m->quantized = m->calibrated = false;
    if (!mul) return AXNN_OK;
    axnn_quant_cfg qc = {.mul = strcmp(mul, "exact") ? mul : NULL, .layers = layers};
    axnn_status st = axnn_quant_attach(m->g, &qc);
    m->quantized = !st;
    return st;
}

axnn_status axnn_model_calibrate(axnn_model *m, const float *x, int n)
{
    if (!m->quantized) return axnn_error(AXNN_ERR_ARG, "calibration needs an int8 mode (axnn_model_set_multiplier)");
    axnn_status st = axnn_quant_calibrate_data(m->g, m->pool, x, n, AXNN_CALIB_MAX, 100.0f);
    m->calibrated = !st;
    return st;
}

axnn_status axnn_model_run(axnn_model *m, const float *x, int n, float *logits)
{
    if (n < 1) return axnn_error(AXNN_ERR_ARG, "a run needs at least 1 image (got %d)", n);
    if (m->quantized && !m->calibrated)
        return axnn_error(AXNN_ERR_ARG, "the int8 mode is not calibrated (axnn_model_calibrate)");
    if (!m->plan || axnn_plan_batch(m->plan) < n) {
        axnn_plan_free(m->plan);
        if (!(m->plan = axnn_plan_new(m->g, n, axnn_pool_size(m->pool), false))) return AXNN_ERR_NOMEM;
    }
    axnn_status st = axnn_plan_forward(m->plan, m->pool, x, NULL, n);
    if (st) return st;
    memcpy(logits, axnn_plan_logits(m->plan), (size_t)n * (size_t)m->meta.model.num_classes * sizeof(float));
    return AXNN_OK;
}

axnn_status axnn_model_classify(axnn_model *m, const float *x, int n, int *labels)
{
    const int C = m->meta.model.num_classes;
    float *z = malloc((size_t)n * (size_t)C * sizeof(float));
    if (!z) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    axnn_status st = axnn_model_run(m, x, n, z);
    for (int i = 0; i < n && !st; i++) {
        int best = 0;
        for (int c = 1; c < C; c++)
            if (z[(size_t)i * C + c] > z[(size_t)i * C + best]) best = c;
        labels[i] = best;
    }
    free(z);
    return st;
}
