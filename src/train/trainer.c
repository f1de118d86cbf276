/* The training loop.
 *
 * Each epoch: the loader (background thread) streams shuffled, augmented batches; each batch
 * runs forward, backward and one optimizer step at the scheduled learning rate. After the
 * epoch the test set is evaluated (per eval_every), one JSON line of metrics is written, and
 * <out_dir>/checkpoint.safetensors is replaced atomically (weights, optimizer state, epoch,
 * step). With resume, the loop restarts after the last completed epoch with the same state, so
 * the result equals an uninterrupted run; metrics lines of unfinished epochs are dropped. At
 * the end <out_dir>/model.safetensors holds the weights and metadata only.
 */
#define _GNU_SOURCE
#include "axnn/train.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct metrics_log {
    char path[4096];
    char **lines;
    int n, cap;
} metrics_log;

static axnn_status mkdirs(const char *dir)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1;; p++) {
        bool end = *p == 0;
        if (*p == '/' || end) {
            *p = 0;
            if (mkdir(buf, 0777) && errno != EEXIST)
                return axnn_error(AXNN_ERR_IO, "%s: cannot create folder: %s", buf, strerror(errno));
            if (end) break;
            *p = '/';
        }
    }
    return AXNN_OK;
}

static void metrics_push(metrics_log *m, const char *line)
{
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 32;
        char **nl = realloc(m->lines, (size_t)cap * sizeof *nl);
        if (!nl) return;
        m->lines = nl;
        m->cap = cap;
    }
    m->lines[m->n++] = strdup(line);
}

static void metrics_free(metrics_log *m)
{
    for (int i = 0; i < m->n; i++) free(m->lines[i]);
    free(m->lines);
}

/* Keeps the lines of epochs <= upto from an existing file (resume). */
static void metrics_reload(metrics_log *m, int upto)
{
    FILE *f = fopen(m->path, "r");
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        int ep;
        if (sscanf(line, "{\"epoch\": %d", &ep) == 1 && ep <= upto) {
            line[strcspn(line, "\n")] = 0;
            metrics_push(m, line);
        }
    }
    fclose(f);
}

static axnn_status metrics_write(const metrics_log *m)
{
    size_t len = 0;
    for (int i = 0; i < m->n; i++) len += strlen(m->lines[i]) + 1;
    char *buf = malloc(len + 1), *p = buf;
    if (!buf) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n; i++) p += sprintf(p, "%s\n", m->lines[i]);
    axnn_status st = axnn_write_file_atomic(m->path, buf, len);
    free(buf);
    return st;
}

static axnn_loader_cfg loader_cfg(const axnn_train_cfg *cfg, const axnn_preproc *pp)
{
    axnn_loader_cfg lc = {.batch = cfg->batch, .shuffle = true, .drop_last = true, .seed = cfg->seed,
                          .out_h = pp->out_h, .out_w = pp->out_w, .crop_pad = cfg->crop_pad,
                          .hflip = cfg->hflip};
    for (int c = 0; c < 4; c++) {
        lc.mean[c] = pp->mean[c];
        lc.std[c] = pp->std[c];
    }
    return lc;
}

typedef struct run_state {
    axnn_graph *g;
    axnn_plan *plan; /* the training plan */
    axnn_optimizer *opt;
    axnn_pool *pool;
    axnn_ckpt_meta meta;
    int start_epoch;
} run_state;

static bool same_shape(const axnn_shape *s, const axnn_st_tensor *t)
{
    if (s->nd != t->nd) return false;
    for (int i = 0; i < t->nd; i++)
        if (s->d[i] != t->shape[i]) return false;
    return true;
}

/* Every "optim.<param>.<slot>" tensor must name a parameter of g and a known slot, and have
 * the parameter's exact shape (a transposed [out, in] state would otherwise load, as only the
 * element count is compared); exp_avg_sq, a mean of squares, is never negative. */
static axnn_status check_optim_state(const axnn_graph *g, const axnn_st_file *f)
{
    static const char *const slots[] = {"momentum_buffer", "exp_avg", "exp_avg_sq"};
    for (int i = 0; i < f->ntensors; i++) {
        const axnn_st_tensor *t = &f->tensors[i];
        if (strncmp(t->name, "optim.", 6)) continue;
        char pname[AXNN_NAME_MAX + 32];
        snprintf(pname, sizeof pname, "%s", t->name + 6);
        char *dot = strrchr(pname, '.');
        int slot = -1;
        for (int k = 0; dot && k < 3; k++)
            if (!strcmp(dot + 1, slots[k])) slot = k;
        if (slot < 0)
            return axnn_error(AXNN_ERR_FORMAT, "%s: optimizer state '%s' has an unknown slot", f->path, t->name);
        *dot = 0;
        int id = axnn_graph_find_value(g, pname);
        if (id < 0 || g->vals[id].kind != AXNN_VAL_PARAM)
            return axnn_error(AXNN_ERR_FORMAT, "%s: optimizer state '%s' belongs to no parameter of the model",
                              f->path, t->name);
        char a[160], b[160];
        axnn_shape ts = {.nd = t->nd <= AXNN_MAX_DIMS ? t->nd : 0};
        for (int d = 0; d < ts.nd; d++) ts.d[d] = t->shape[d];
        if (t->dtype != AXNN_ST_F32 || !same_shape(&g->vals[id].shape, t))
            return axnn_error(AXNN_ERR_FORMAT, "%s: optimizer state '%s' is %s %s, the parameter is F32 %s",
                              f->path, t->name, axnn_st_dtype_name(t->dtype), axnn_shape_str(&ts, a, sizeof a),
                              axnn_shape_str(&g->vals[id].shape, b, sizeof b));
        const float *v = t->data;
        for (size_t k = 0; slot == 2 && k < t->nbytes / 4; k++) {
            float x;
            memcpy(&x, (const uint8_t *)v + 4 * k, 4);
            if (x < 0)
                return axnn_error(AXNN_ERR_FORMAT, "%s: optimizer state '%s' holds a negative value at element %zu",
                                  f->path, t->name, k);
        }
    }
    return AXNN_OK;
}

/* The checkpoint's counters must fit this run: at most --epochs epochs, and exactly one step
 * per batch of every finished epoch (drop_last: floor(n / batch) per epoch). */
static axnn_status check_counters(const axnn_ckpt_meta *m, const axnn_train_cfg *cfg, int64_t n, const char *ckpt)
{
    if (m->epoch > cfg->epochs)
        return axnn_error(AXNN_ERR_FORMAT, "%s: checkpoint is after epoch %d, beyond --epochs %d", ckpt, m->epoch,
                          cfg->epochs);
    int64_t spe = n / cfg->batch;
    if (m->step != (int64_t)m->epoch * spe)
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: checkpoint records %" PRId64 " steps after %d epochs, expected %" PRId64
                          " (%lld images, --batch %d): corrupt, or the data or --batch changed",
                          ckpt, m->step, m->epoch, (int64_t)m->epoch * spe, (long long)n, cfg->batch);
    return AXNN_OK;
}

static axnn_status try_resume(run_state *rs, const axnn_train_cfg *cfg, int64_t ntrain, const char *ckpt)
{
    if (access(ckpt, F_OK) != 0) {
        axnn_log(AXNN_LOG_INFO, "no checkpoint at %s: starting from scratch", ckpt);
        return AXNN_OK;
    }
    axnn_st_file *f;
    axnn_status st = axnn_st_read(ckpt, &f);
    if (st) return st;
    axnn_ckpt_meta m;
    st = axnn_checkpoint_read_meta(f, &m);
    if (!st && strcmp(m.model.arch, rs->g->info.arch))
        st = axnn_error(AXNN_ERR_ARG, "%s: checkpoint is a %s, not a %s", ckpt, m.model.arch, rs->g->info.arch);
    if (!st) st = check_counters(&m, cfg, ntrain, ckpt);
    if (!st) st = check_optim_state(rs->g, f);
    if (!st) st = axnn_graph_load_weights(rs->g, f, false);
    if (!st) st = axnn_optim_load_state(rs->opt, f);
    if (!st) {
        rs->start_epoch = m.epoch;
        axnn_plan_set_step(rs->plan, (uint64_t)m.step);
        rs->meta.epoch = m.epoch;
        rs->meta.step = m.step;
        axnn_log(AXNN_LOG_INFO, "resuming from %s after epoch %d (step %" PRId64 ")", ckpt, m.epoch, m.step);
    }
    axnn_st_close(f);
    return st;
}

typedef struct epoch_stats {
    double loss, acc, seconds, ips;
    float lr;
} epoch_stats;

static axnn_status train_epoch(run_state *rs, axnn_loader *ld, const axnn_train_cfg *cfg, int epoch,
                               axnn_progress *prog, epoch_stats *es)
{
    axnn_plan *p = rs->plan;
    const axnn_graph *g = rs->g;
    const int64_t spe = axnn_loader_batches(ld), total = spe * cfg->epochs;
    const int C = g->info.num_classes;
    axnn_loader_start_epoch(ld, epoch);
    axnn_plan_set_training(p, true);
    char label[64], extra[96];
    snprintf(label, sizeof label, "epoch %d/%d", epoch + 1, cfg->epochs);
    axnn_progress_begin(prog, label, spe * cfg->batch, "img");
    double t0 = axnn_now(), loss = 0.0;
    int64_t seen = 0, correct = 0;
    const float *x;
    const int32_t *y;
    int n;
    while (axnn_loader_next(ld, &x, &y, &n)) {
        float lr = axnn_sched_lr(&cfg->sched, cfg->opt.lr, axnn_optim_steps(rs->opt), total, spe);
        axnn_plan_zero_param_grads(p);
        axnn_status st = axnn_plan_forward(p, rs->pool, x, y, n);
        if (!st) st = axnn_plan_backward(p, rs->pool);
        if (st) return st;
        axnn_optim_step(rs->opt, lr, rs->pool);
        float l = axnn_plan_loss(p);
        if (!(l == l)) return axnn_error(AXNN_ERR_ARG, "training diverged (loss is NaN) at epoch %d; lower the learning rate", epoch + 1);
        loss += (double)l * n;
        const float *z = axnn_plan_logits(p);
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int c = 1; c < C; c++)
                if (z[(int64_t)i * C + c] > z[(int64_t)i * C + best]) best = c;
            correct += best == y[i];
        }
        seen += n;
        es->lr = lr;
        snprintf(extra, sizeof extra, "loss %.4f acc %.2f%% lr %.4g", loss / (double)seen,
                 100.0 * (double)correct / (double)seen, lr);
        axnn_progress_update(prog, seen, extra);
    }
    es->seconds = axnn_now() - t0;
    es->loss = seen ? loss / (double)seen : 0.0;
    es->acc = seen ? (double)correct / (double)seen : 0.0;
    es->ips = es->seconds > 0 ? (double)seen / es->seconds : 0.0;
    axnn_progress_end(prog, extra);
    return AXNN_OK;
}

static axnn_status run_epochs(run_state *rs, const axnn_dataset *train, const axnn_dataset *test,
                              const axnn_preproc *pp, const axnn_train_cfg *cfg, axnn_progress *prog,
                              metrics_log *ml, const char *ckpt, axnn_train_result *res)
{
    axnn_loader_cfg lc = loader_cfg(cfg, pp);
    axnn_loader *ld;
    axnn_status st = axnn_loader_create(train, &lc, &ld);
    if (st) return st;
    if (axnn_loader_batches(ld) < 1) {
        axnn_loader_destroy(ld);
        return axnn_error(AXNN_ERR_ARG, "training set of %lld images is smaller than one batch of %d",
                          (long long)train->n, cfg->batch);
    }
    double t_start = axnn_now(), imgs = 0;
    int end = cfg->epochs;
    if (cfg->stop_after > 0 && rs->start_epoch + cfg->stop_after < end) end = rs->start_epoch + cfg->stop_after;
    for (int epoch = rs->start_epoch; epoch < end && !st; epoch++) {
        epoch_stats es = {0};
        st = train_epoch(rs, ld, cfg, epoch, prog, &es);
        if (st) break;
        imgs += es.ips * es.seconds;
        res->epochs_done = epoch + 1;
        res->train_loss = es.loss;
        res->train_acc = es.acc;
        bool last = epoch + 1 == end;
        bool do_eval = test && (last || (cfg->eval_every > 0 && (epoch + 1) % cfg->eval_every == 0));
        axnn_eval_result ev = {0};
        if (do_eval) st = axnn_evaluate_plan(rs->plan, rs->pool, test, pp, prog, &ev);
        if (st) break;
        if (do_eval) res->test = ev;
        char line[1024];
        int k = snprintf(line, sizeof line,
                         "{\"epoch\": %d, \"lr\": %.6g, \"train_loss\": %.6f, \"train_acc\": %.6f, "
                         "\"seconds\": %.3f, \"images_per_s\": %.1f",
                         epoch + 1, es.lr, es.loss, es.acc, es.seconds, es.ips);
        if (do_eval)
            k += snprintf(line + k, sizeof line - (size_t)k, ", \"test_loss\": %.6f, \"test_acc\": %.6f", ev.loss,
                          ev.accuracy);
        snprintf(line + k, sizeof line - (size_t)k, "}");
        metrics_push(ml, line);
        st = metrics_write(ml);
        rs->meta.epoch = epoch + 1;
        rs->meta.step = axnn_optim_steps(rs->opt);
        if (!st) st = axnn_checkpoint_save(ckpt, rs->g, &rs->meta, rs->opt);
        axnn_log(AXNN_LOG_INFO, "epoch %d: train loss %.4f acc %.2f%%%s%.2f%s, %.0f img/s", epoch + 1, es.loss,
                 100 * es.acc, do_eval ? ", test acc " : "", do_eval ? 100 * ev.accuracy : 0.0,
                 do_eval ? "%" : "", es.ips);
    }
    double el = axnn_now() - t_start;
    res->seconds = el;
    res->images_per_second = el > 0 ? imgs / el : 0;
    axnn_loader_destroy(ld);
    return st;
}

axnn_status axnn_train(axnn_graph *g, const axnn_dataset *train, const axnn_dataset *test,
                       const axnn_preproc *pp, const axnn_train_cfg *cfg, axnn_progress *prog,
                       axnn_train_result *res)
{
    memset(res, 0, sizeof *res);
    if (cfg->epochs < 1) return axnn_error(AXNN_ERR_ARG, "training needs at least 1 epoch (epochs = %d)", cfg->epochs);
    if (cfg->batch < 1) return axnn_error(AXNN_ERR_ARG, "batch size must be at least 1 (got %d)", cfg->batch);
    if (train->c != g->info.in_channels)
        return axnn_error(AXNN_ERR_SHAPE, "dataset %s has %d channels, model expects %d", train->name, train->c,
                          g->info.in_channels);
    if (train->num_classes > g->info.num_classes)
        return axnn_error(AXNN_ERR_SHAPE, "dataset %s has %d classes, model has %d outputs", train->name,
                          train->num_classes, g->info.num_classes);
    const char *out = cfg->out_dir ? cfg->out_dir : "runs/default";
    axnn_status st = mkdirs(out);
    if (st) return st;
    char ckpt[4096], final_path[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", out);
    snprintf(final_path, sizeof final_path, "%s/model.safetensors", out);

    run_state rs = {.g = g};
    rs.meta.model = g->info;
    rs.meta.pre = *pp;
    rs.meta.seed = cfg->seed;
    snprintf(rs.meta.dataset, sizeof rs.meta.dataset, "%s", cfg->dataset_name ? cfg->dataset_name : train->name);
    if (cfg->config_json) snprintf(rs.meta.train_json, sizeof rs.meta.train_json, "%s", cfg->config_json);
    metrics_log ml = {0};
    if (cfg->metrics_path)
        snprintf(ml.path, sizeof ml.path, "%s", cfg->metrics_path);
    else
        snprintf(ml.path, sizeof ml.path, "%s/metrics.jsonl", out);

    rs.pool = axnn_pool_create(cfg->threads > 0 ? cfg->threads : axnn_default_threads(), NULL);
    st = rs.pool ? AXNN_OK : axnn_error(AXNN_ERR_NOMEM, "no thread pool");
    if (!st && !(rs.plan = axnn_plan_new(g, cfg->batch, axnn_pool_size(rs.pool), true))) st = AXNN_ERR_NOMEM;
    if (!st) st = axnn_optim_create(rs.plan, &cfg->opt, &rs.opt);
    if (!st && cfg->resume) st = try_resume(&rs, cfg, train->n, ckpt);
    if (!st) metrics_reload(&ml, rs.start_epoch);
    if (!st) st = run_epochs(&rs, train, test, pp, cfg, prog, &ml, ckpt, res);
    if (!st && rs.start_epoch >= cfg->epochs) {
        axnn_log(AXNN_LOG_INFO, "checkpoint already holds %d epochs", rs.start_epoch);
        res->epochs_done = rs.start_epoch;
        if (test) st = axnn_evaluate_plan(rs.plan, rs.pool, test, pp, prog, &res->test);
    }
    if (!st) st = axnn_checkpoint_save(final_path, g, &rs.meta, NULL);
    axnn_optim_free(rs.opt);
    axnn_plan_free(rs.plan);
    axnn_pool_destroy(rs.pool);
    metrics_free(&ml);
    return st;
}
