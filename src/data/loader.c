/* The batch loader: one background thread prepares the next batch while the caller trains on the
 * current one.
 *
 * Two batch slots are used in turn: batch b lives in slot b % 2. While the caller holds batch k
 * (its pointers stay valid until the next call), the thread may fill batch k + 1 in the other
 * slot, and no further: it may fill batch j only once j <= handed, where `handed` counts the
 * batches given to the caller in this epoch. So the thread is at most one batch ahead and never
 * writes the slot the caller is reading. One mutex guards the shared counters; the thread sleeps
 * on cv_work and the caller on cv_ready.
 *
 * Epochs are numbered by a generation counter. start_epoch bumps it and resets the counters; the
 * thread notices the new generation, builds the epoch's order and starts again at batch 0. A
 * batch the thread was filling for an older generation is finished and then dropped, so the
 * caller never sees it. The order array belongs to the thread alone.
 *
 * Results never depend on timing: the order of an epoch comes from an rng seeded by
 * (seed, epoch), and the augmentation of batch b from a fresh rng seeded by (seed, epoch, b).
 * Within a batch, images draw in order: crop offset dy, dx (if crop_pad > 0), then the flip coin
 * (if hflip).
 *
 * Per image (in raw pixel space, then normalized): the image sits centered on a black out_h x
 * out_w canvas ((out_h - h) / 2 rows above it, the rest below), the canvas gets crop_pad more
 * black pixels on each side, and an out_h x out_w window at offset (dy, dx) in [0, 2 crop_pad] is
 * taken; a flip mirrors that window. Each output pixel is computed directly from its source
 * coordinate, without building the padded canvas.
 */
#include "axnn/data.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CROP_PAD 4096

struct axnn_loader {
    const axnn_dataset *d;
    axnn_loader_cfg cfg;
    int oh, ow;
    float std[4];
    int64_t nbatches;
    int64_t *order; /* thread only */
    float *x[2];    /* (batch, c, oh, ow) */
    int32_t *y[2];
    int count[2];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_ready;
    /* under mu */
    bool quit, running;
    uint64_t gen;
    int epoch;
    int64_t handed, produced;
};

/* ---- seeding ---- */

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Stream 0 is the epoch's order; stream b + 1 the augmentation of batch b. */
static void seed_stream(axnn_rng *r, uint64_t seed, int epoch, uint64_t stream)
{
    axnn_rng_seed(r, mix64(mix64(mix64(seed) ^ (uint64_t)(int64_t)epoch) ^ stream));
}

static void make_order(axnn_loader *l, int epoch)
{
    int64_t n = l->d->n;
    for (int64_t i = 0; i < n; i++) l->order[i] = i;
    if (!l->cfg.shuffle) return;
    axnn_rng r;
    seed_stream(&r, l->cfg.seed, epoch, 0);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = axnn_rng_below(&r, (uint32_t)(i + 1));
        int64_t t = l->order[i];
        l->order[i] = l->order[j];
        l->order[j] = t;
    }
}

/* ---- one image, one batch ---- */

/* img is (c, h, w) uint8; dst is (c, oh, ow) float. */
static void transform(const axnn_loader *l, const uint8_t *img, float *dst, axnn_rng *r)
{
    const axnn_dataset *d = l->d;
    int pad = l->cfg.crop_pad, dy = 0, dx = 0;
    bool flip = false;
    if (pad > 0) {
        dy = (int)axnn_rng_below(r, (uint32_t)(2 * pad + 1));
        dx = (int)axnn_rng_below(r, (uint32_t)(2 * pad + 1));
    }
    if (l->cfg.hflip) flip = axnn_rng_below(r, 2) == 1;
    int top = (l->oh - d->h) / 2 + pad - dy, left = (l->ow - d->w) / 2 + pad - dx;
    for (int c = 0; c < d->c; c++) {
        const uint8_t *src = img + (int64_t)c * d->h * d->w;
        float mean = l->cfg.mean[c], sd = l->std[c];
        for (int y = 0; y < l->oh; y++) {
            int iy = y - top;
            float *row = dst + ((int64_t)c * l->oh + y) * l->ow;
            for (int x = 0; x < l->ow; x++) {
                int ix = (flip ? l->ow - 1 - x : x) - left;
                bool inside = iy >= 0 && iy < d->h && ix >= 0 && ix < d->w;
                float v = inside ? src[iy * d->w + ix] / 255.0f : 0.0f;
                row[x] = (v - mean) / sd;
            }
        }
    }
}

static void fill_batch(axnn_loader *l, int epoch, int64_t b)
{
    const axnn_dataset *d = l->d;
    int slot = (int)(b % 2);
    int64_t lo = b * l->cfg.batch, hi = lo + l->cfg.batch;
    if (hi > d->n) hi = d->n;
    int64_t in_size = (int64_t)d->c * d->h * d->w, out_size = (int64_t)d->c * l->oh * l->ow;
    axnn_rng r;
    seed_stream(&r, l->cfg.seed, epoch, (uint64_t)b + 1);
    for (int64_t i = lo; i < hi; i++) {
        int64_t k = l->order[i];
        transform(l, d->images + k * in_size, l->x[slot] + (i - lo) * out_size, &r);
        l->y[slot][i - lo] = d->labels[k];
    }
    l->count[slot] = (int)(hi - lo);
}

/* ---- the thread ---- */

static bool may_fill(const axnn_loader *l, int64_t next)
{
    return l->running && next < l->nbatches && next <= l->handed;
}

static void *worker(void *arg)
{
    axnn_loader *l = arg;
    uint64_t gen = 0;
    int epoch = 0;
    int64_t next = 0;
    pthread_mutex_lock(&l->mu);
    while (!l->quit) {
        if (l->gen != gen) { /* a new epoch: build its order, then start over */
            gen = l->gen;
            epoch = l->epoch;
            next = 0;
            pthread_mutex_unlock(&l->mu);
            make_order(l, epoch);
            pthread_mutex_lock(&l->mu);
        } else if (may_fill(l, next)) {
            pthread_mutex_unlock(&l->mu);
            fill_batch(l, epoch, next);
            pthread_mutex_lock(&l->mu);
            if (l->gen == gen) {
                l->produced = ++next;
                pthread_cond_broadcast(&l->cv_ready);
            }
        } else {
            pthread_cond_wait(&l->cv_work, &l->mu);
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ---- public calls ---- */

static axnn_status check_cfg(const axnn_dataset *d, const axnn_loader_cfg *cfg)
{
    if (!d || !d->images || d->n < 1 || d->n > UINT32_MAX)
        return axnn_error(AXNN_ERR_ARG, "loader: empty or oversized dataset");
    if (d->c < 1 || d->c > 4)
        return axnn_error(AXNN_ERR_UNSUPPORTED, "loader: %d channels (at most 4)", d->c);
    if (cfg->batch < 1) return axnn_error(AXNN_ERR_ARG, "loader: batch %d < 1", cfg->batch);
    int oh = cfg->out_h ? cfg->out_h : d->h, ow = cfg->out_w ? cfg->out_w : d->w;
    if (oh < d->h || ow < d->w)
        return axnn_error(AXNN_ERR_ARG, "loader: output %dx%d smaller than the %dx%d images", oh,
                          ow, d->h, d->w);
    if (cfg->crop_pad < 0 || cfg->crop_pad > MAX_CROP_PAD)
        return axnn_error(AXNN_ERR_ARG, "loader: crop padding %d out of range", cfg->crop_pad);
    for (int c = 0; c < d->c; c++)
        if (!(cfg->std[c] >= 0))
            return axnn_error(AXNN_ERR_ARG, "loader: std[%d] = %g must be >= 0", c,
                              (double)cfg->std[c]);
    return AXNN_OK;
}

static axnn_status alloc_buffers(axnn_loader *l)
{
    size_t per = (size_t)l->d->c * l->oh * l->ow;
    l->order = malloc((size_t)l->d->n * sizeof *l->order);
    bool ok = l->order != NULL;
    for (int s = 0; s < 2; s++) {
        l->x[s] = axnn_alloc((size_t)l->cfg.batch * per * sizeof(float));
        l->y[s] = axnn_alloc((size_t)l->cfg.batch * sizeof(int32_t));
        ok = ok && l->x[s] && l->y[s];
    }
    return ok ? AXNN_OK : axnn_error(AXNN_ERR_NOMEM, "loader: out of memory");
}

static void free_loader(axnn_loader *l)
{
    free(l->order);
    for (int s = 0; s < 2; s++) {
        axnn_free(l->x[s]);
        axnn_free(l->y[s]);
    }
    free(l);
}

axnn_status axnn_loader_create(const axnn_dataset *d, const axnn_loader_cfg *cfg, axnn_loader **out)
{
    *out = NULL;
    axnn_status st = check_cfg(d, cfg);
    if (st) return st;
    axnn_loader *l = calloc(1, sizeof *l);
    if (!l) return axnn_error(AXNN_ERR_NOMEM, "loader: out of memory");
    l->d = d;
    l->cfg = *cfg;
    l->oh = cfg->out_h ? cfg->out_h : d->h;
    l->ow = cfg->out_w ? cfg->out_w : d->w;
    for (int c = 0; c < 4; c++) l->std[c] = cfg->std[c] > 0 ? cfg->std[c] : 1.0f;
    l->nbatches = cfg->drop_last ? d->n / cfg->batch : (d->n + cfg->batch - 1) / cfg->batch;
    if ((st = alloc_buffers(l))) {
        free_loader(l);
        return st;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv_work, NULL);
    pthread_cond_init(&l->cv_ready, NULL);
    if (pthread_create(&l->thread, NULL, worker, l) != 0) {
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv_work);
        pthread_cond_destroy(&l->cv_ready);
        free_loader(l);
        return axnn_error(AXNN_ERR_INTERNAL, "loader: cannot start its thread");
    }
    *out = l;
    return AXNN_OK;
}

void axnn_loader_destroy(axnn_loader *l)
{
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->quit = true;
    pthread_cond_signal(&l->cv_work);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv_work);
    pthread_cond_destroy(&l->cv_ready);
    free_loader(l);
}

void axnn_loader_start_epoch(axnn_loader *l, int epoch)
{
    pthread_mutex_lock(&l->mu);
    l->gen++;
    l->epoch = epoch;
    l->handed = 0;
    l->produced = 0;
    l->running = true;
    pthread_cond_signal(&l->cv_work);
    pthread_mutex_unlock(&l->mu);
}

bool axnn_loader_next(axnn_loader *l, const float **x, const int32_t **y, int *n)
{
    pthread_mutex_lock(&l->mu);
    if (!l->running || l->handed >= l->nbatches) {
        pthread_mutex_unlock(&l->mu);
        return false;
    }
    int64_t k = l->handed++;
    pthread_cond_signal(&l->cv_work); /* batch k - 1 is released: the thread may go ahead */
    while (l->produced <= k) pthread_cond_wait(&l->cv_ready, &l->mu);
    pthread_mutex_unlock(&l->mu);
    int slot = (int)(k % 2);
    *x = l->x[slot];
    *y = l->y[slot];
    *n = l->count[slot];
    return true;
}

int64_t axnn_loader_batches(const axnn_loader *l)
{
    return l->nbatches;
}
