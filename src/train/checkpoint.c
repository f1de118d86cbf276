/* Checkpoints: a safetensors file whose tensors are the graph's parameters and buffers under
 * their PyTorch names, optionally followed by optimizer state ("optim.<param>.<slot>"), and
 * whose metadata records how to rebuild and feed the model:
 *   format=axnn-checkpoint-2 (-1: written before checkpoints had a checksum), arch, num_classes, in_channels, height, width, dataset,
 *   mean, std (JSON lists), epoch, step, seed, train (JSON of the training configuration),
 *   optimizer, optim_steps.
 * A PyTorch user loads the weights with safetensors.torch.load_file and drops the "optim."
 * keys. The file is written atomically (temporary file + rename).
 *
 * Reading trusts no field: integers must parse whole and lie in range (epoch at most
 * AXNN_CKPT_MAX_EPOCHS, as the CLI's --epochs; step counts non-negative, at least one per epoch,
 * 'step' equal to 'optim_steps'), normalization values must be finite with std > 0. */
#include "axnn/train.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AXNN_CKPT_MAX_EPOCHS 1000000           /* the --epochs limit */
#define AXNN_CKPT_MAX_STEPS (INT64_C(1) << 48) /* far beyond any run, far below overflow */

static void fmt_list(char *buf, size_t n, const float *v, int k)
{
    size_t off = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < k && off < n; i++) off += (size_t)snprintf(buf + off, n - off, "%s%.9g", i ? ", " : "", v[i]);
    if (off < n) snprintf(buf + off, n - off, "]");
}

axnn_status axnn_checkpoint_save(const char *path, const axnn_graph *g, const axnn_ckpt_meta *m,
                                 const axnn_optimizer *opt)
{
    axnn_st_writer *w = axnn_st_writer_new();
    if (!w) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    char buf[256];
    axnn_status st = axnn_graph_add_weights(w, g);
    if (!st && opt) st = axnn_optim_add_state(opt, w);
#define META(k, ...)                                                                              \
    do {                                                                                          \
        snprintf(buf, sizeof buf, __VA_ARGS__);                                                   \
        if (!st) st = axnn_st_writer_meta(w, k, buf);                                             \
    } while (0)
    META("format", "axnn-checkpoint-2");
    META("arch", "%s", m->model.arch);
    META("num_classes", "%d", m->model.num_classes);
    META("in_channels", "%d", m->model.in_channels);
    META("height", "%d", m->model.height);
    META("width", "%d", m->model.width);
    META("dataset", "%s", m->dataset);
    META("epoch", "%d", m->epoch);
    META("step", "%" PRId64, m->step);
    META("seed", "%" PRIu64, m->seed);
    fmt_list(buf, sizeof buf, m->pre.mean, m->model.in_channels);
    if (!st) st = axnn_st_writer_meta(w, "mean", buf);
    fmt_list(buf, sizeof buf, m->pre.std, m->model.in_channels);
    if (!st) st = axnn_st_writer_meta(w, "std", buf);
    if (!st && m->train_json[0]) st = axnn_st_writer_meta(w, "train", m->train_json);
    if (opt) {
        META("optim_steps", "%" PRId64, axnn_optim_steps(opt));
    }
#undef META
    if (!st) st = axnn_st_writer_write(w, path);
    axnn_st_writer_free(w);
    return st;
}

static axnn_status meta_int(const axnn_st_file *f, const char *key, int lo, int hi, int *out)
{
    const char *v = axnn_st_meta(f, key);
    char *end;
    if (!v) return axnn_error(AXNN_ERR_FORMAT, "%s: metadata '%s' is missing", f->path, key);
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < lo || x > hi)
        return axnn_error(AXNN_ERR_FORMAT, "%s: metadata '%s' = '%s' is not an integer in [%d, %d]", f->path,
                          key, v, lo, hi);
    *out = (int)x;
    return AXNN_OK;
}

/* Optional 64-bit count in [0, hi]; absent is 0. */
static axnn_status meta_count(const axnn_st_file *f, const char *key, int64_t hi, int64_t *out)
{
    const char *v = axnn_st_meta(f, key);
    *out = 0;
    if (!v) return AXNN_OK;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < 0 || x > hi)
        return axnn_error(AXNN_ERR_FORMAT, "%s: metadata '%s' = '%.40s' is not an integer in [0, %" PRId64 "]",
                          f->path, key, v, hi);
    *out = x;
    return AXNN_OK;
}

static axnn_status meta_list(const axnn_st_file *f, const char *key, int n, float *out)
{
    const char *v = axnn_st_meta(f, key);
    if (!v) return axnn_error(AXNN_ERR_FORMAT, "%s: metadata '%s' is missing", f->path, key);
    const char *p = strchr(v, '[');
    for (int i = 0; i < n; i++) {
        char *end;
        if (!p) break;
        p++;
        out[i] = strtof(p, &end);
        if (end != p && !isfinite(out[i]))
            return axnn_error(AXNN_ERR_FORMAT, "%s: metadata '%s' holds a non-finite value", f->path, key);
        if (end == p) return axnn_error(AXNN_ERR_FORMAT, "%s: metadata '%s' is not a list of %d numbers", f->path, key, n);
        p = strchr(end, i + 1 < n ? ',' : ']');
    }
    if (!p) return axnn_error(AXNN_ERR_FORMAT, "%s: metadata '%s' is not a list of %d numbers", f->path, key, n);
    return AXNN_OK;
}

axnn_status axnn_checkpoint_read_meta(const axnn_st_file *f, axnn_ckpt_meta *m)
{
    memset(m, 0, sizeof *m);
    const char *fmt = axnn_st_meta(f, "format");
    if (!fmt || (strcmp(fmt, "axnn-checkpoint-2") && strcmp(fmt, "axnn-checkpoint-1"))) /* -1: no checksum */
        return axnn_error(AXNN_ERR_FORMAT, "%s: not an axnn checkpoint (no 'format' metadata); for a plain "
                                           "PyTorch export pass --arch and --classes",
                          f->path);
    const char *arch = axnn_st_meta(f, "arch"), *ds = axnn_st_meta(f, "dataset");
    if (!arch) return axnn_error(AXNN_ERR_FORMAT, "%s: metadata 'arch' is missing", f->path);
    snprintf(m->model.arch, sizeof m->model.arch, "%s", arch);
    snprintf(m->dataset, sizeof m->dataset, "%s", ds ? ds : "");
    axnn_status st = meta_int(f, "num_classes", 2, 1 << 20, &m->model.num_classes);
    if (!st) st = meta_int(f, "in_channels", 1, 4, &m->model.in_channels);
    if (!st) st = meta_int(f, "height", 1, 1 << 14, &m->model.height);
    if (!st) st = meta_int(f, "width", 1, 1 << 14, &m->model.width);
    if (!st) st = meta_int(f, "epoch", 0, AXNN_CKPT_MAX_EPOCHS, &m->epoch);
    if (!st) st = meta_list(f, "mean", m->model.in_channels, m->pre.mean);
    if (!st) st = meta_list(f, "std", m->model.in_channels, m->pre.std);
    if (st) return st;
    for (int c = 0; c < m->model.in_channels; c++)
        if (!(m->pre.std[c] > 0))
            return axnn_error(AXNN_ERR_FORMAT, "%s: metadata 'std' must be positive", f->path);
    m->have_norm = true;
    m->pre.out_h = m->model.height;
    m->pre.out_w = m->model.width;
    st = meta_count(f, "step", AXNN_CKPT_MAX_STEPS, &m->step);
    int64_t osteps = 0;
    if (!st) st = meta_count(f, "optim_steps", AXNN_CKPT_MAX_STEPS, &osteps);
    if (st) return st;
    if (axnn_st_meta(f, "optim_steps") && osteps != m->step)
        return axnn_error(AXNN_ERR_FORMAT, "%s: metadata 'step' = %" PRId64 " but 'optim_steps' = %" PRId64, f->path,
                          m->step, osteps);
    if (m->step < m->epoch)
        return axnn_error(AXNN_ERR_FORMAT, "%s: metadata 'step' = %" PRId64 " is fewer than one step per epoch "
                          "(epoch %d)", f->path, m->step, m->epoch);
    const char *v = axnn_st_meta(f, "seed");
    char *end;
    errno = 0;
    m->seed = v ? strtoull(v, &end, 10) : 0;
    if (v && (errno || end == v || *end || v[0] == '-'))
        return axnn_error(AXNN_ERR_FORMAT, "%s: metadata 'seed' = '%.40s' is not a non-negative integer", f->path, v);
    v = axnn_st_meta(f, "train");
    if (v) snprintf(m->train_json, sizeof m->train_json, "%s", v);
    return AXNN_OK;
}
