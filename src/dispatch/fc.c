/* The dispatcher's trainable part: one linear layer (k x d) on cached, standardized features,
 * trained with the penalty loss by mini-batch Adam (Kingma and Ba 2015; lr, beta1 0.9, beta2
 * 0.999, eps 1e-8, L2 weight decay added to the gradient). The features of every sample were
 * computed once by the frozen extractor, so an epoch is two small GEMMs per batch: logits
 * Z = X W^T + b (B x k) and the gradient dW = dZ^T X (k x d). Single-threaded and seeded (the
 * initialization and the per-epoch sample order come from cfg->seed), so a configuration always
 * trains to the same weights; the search runs several of them in parallel instead.
 */
#include "axnn/dispatch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void axnn_fc_free(axnn_fc *fc)
{
    if (!fc) return;
    free(fc->w), free(fc->b), free(fc->mean), free(fc->istd);
    memset(fc, 0, sizeof *fc);
}

static void standardize_stats(const float *x, int64_t n, int d, float *mean, float *istd)
{
    for (int j = 0; j < d; j++) {
        double s = 0.0, s2 = 0.0;
        for (int64_t i = 0; i < n; i++) {
            double v = x[i * d + j];
            s += v;
            s2 += v * v;
        }
        double mu = n ? s / (double)n : 0.0, var = n ? s2 / (double)n - mu * mu : 0.0;
        mean[j] = (float)mu;
        istd[j] = (float)(1.0 / sqrt(var > 1e-12 ? var : 1e-12));
    }
}

/* Z (bn x k) = standardized rows idx[0..bn) of x times W^T plus b; xs gets the rows. */
static void fc_forward(const axnn_fc *fc, const float *x, const int64_t *idx, int bn, float *xs,
                       float *z)
{
    int d = fc->d, k = fc->k;
    for (int r = 0; r < bn; r++) {
        const float *row = x + (idx ? idx[r] : r) * d;
        float *o = xs + (size_t)r * d;
        for (int j = 0; j < d; j++) o[j] = (row[j] - fc->mean[j]) * fc->istd[j];
        for (int c = 0; c < k; c++) {
            const float *w = fc->w + (size_t)c * d;
            float acc = fc->b[c];
            for (int j = 0; j < d; j++) acc += w[j] * o[j];
            z[(size_t)r * k + c] = acc;
        }
    }
}

typedef struct adam {
    float *m, *v;
    int64_t t;
} adam;

static void adam_update(float *p, const float *g, float *m, float *v, int n, float lr, float wd,
                        int64_t t)
{
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);
    for (int i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        p[i] -= lr * (m[i] / c1) / (sqrtf(v[i] / c2) + eps);
    }
}

static axnn_status fc_alloc(axnn_fc *fc, int d, int k)
{
    fc->d = d;
    fc->k = k;
    fc->w = calloc((size_t)k * d, sizeof *fc->w);
    fc->b = calloc((size_t)k, sizeof *fc->b);
    fc->mean = calloc((size_t)d, sizeof *fc->mean);
    fc->istd = calloc((size_t)d, sizeof *fc->istd);
    if (fc->w && fc->b && fc->mean && fc->istd) return AXNN_OK;
    axnn_fc_free(fc);
    return axnn_error(AXNN_ERR_NOMEM, "out of memory for the dispatcher");
}

axnn_status axnn_fc_constant(int d, int k, int j, axnn_fc *out)
{
    memset(out, 0, sizeof *out);
    if (j < 0 || j >= k) return axnn_error(AXNN_ERR_ARG, "route %d out of range [0, %d)", j, k);
    axnn_status st = fc_alloc(out, d, k);
    if (st) return st;
    for (int i = 0; i < d; i++) out->istd[i] = 1.0f;
    out->b[j] = 1.0f;
    return AXNN_OK;
}

/* One mini-batch: gradients of the mean loss into gw, gb. */
static void fc_grad(const axnn_fc *fc, const float *xs, const float *dz, int bn, float *gw,
                    float *gb)
{
    int d = fc->d, k = fc->k;
    memset(gw, 0, (size_t)k * d * sizeof *gw);
    memset(gb, 0, (size_t)k * sizeof *gb);
    for (int r = 0; r < bn; r++)
        for (int c = 0; c < k; c++) {
            float g = dz[(size_t)r * k + c];
            if (g == 0.0f) continue;
            gb[c] += g;
            float *w = gw + (size_t)c * d;
            const float *o = xs + (size_t)r * d;
            for (int j = 0; j < d; j++) w[j] += g * o[j];
        }
}

axnn_status axnn_fc_train(const float *x, int64_t n, int d, const int32_t *labels, int k,
                          const double *P, const double *wc, const axnn_fc_cfg *cfg, axnn_fc *out)
{
    memset(out, 0, sizeof *out);
    if (n < 1 || d < 1 || k < 1 || k > AXNN_ZOO_MAX)
        return axnn_error(AXNN_ERR_ARG, "dispatcher: %lld samples, %d features, %d outputs",
                          (long long)n, d, k);
    axnn_status st = fc_alloc(out, d, k);
    if (st) return st;
    standardize_stats(x, n, d, out->mean, out->istd);
    axnn_rng r;
    axnn_rng_seed(&r, cfg->seed);
    float bound = 1.0f / sqrtf((float)d); /* nn.Linear's default range */
    for (int i = 0; i < k * d; i++) out->w[i] = (2.0f * axnn_rng_uniform(&r) - 1.0f) * bound;
    int B = cfg->batch > 0 ? cfg->batch : 256;
    size_t np = (size_t)k * d + (size_t)k;
    float *buf = calloc((size_t)B * (d + 2 * k) + 3 * np, sizeof *buf);
    int64_t *order = malloc((size_t)n * sizeof *order);
    int32_t *bl = malloc((size_t)B * sizeof *bl);
    if (!buf || !order || !bl) {
        free(buf), free(order), free(bl);
        axnn_fc_free(out);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory for the dispatcher");
    }
    float *xs = buf, *z = xs + (size_t)B * d, *dz = z + (size_t)B * k, *g = dz + (size_t)B * k;
    float *m = g + np, *v = m + np;
    for (int64_t i = 0; i < n; i++) order[i] = i;
    int64_t t = 0;
    for (int e = 0; e < cfg->epochs; e++) {
        for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates, seeded */
            int64_t j = (int64_t)(axnn_rng_u64(&r) % (uint64_t)(i + 1)), tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        for (int64_t s = 0; s < n; s += B) {
            int bn = (int)(n - s < B ? n - s : B);
            for (int q = 0; q < bn; q++) bl[q] = labels[order[s + q]];
            fc_forward(out, x, order + s, bn, xs, z);
            axnn_penalty_loss(z, bl, bn, k, P, wc, dz);
            fc_grad(out, xs, dz, bn, g, g + (size_t)k * d);
            t++;
            adam_update(out->w, g, m, v, k * d, cfg->lr, cfg->wd, t);
            adam_update(out->b, g + (size_t)k * d, m + (size_t)k * d, v + (size_t)k * d, k, cfg->lr,
                        0.0f, t);
        }
    }
    free(buf), free(order), free(bl);
    return AXNN_OK;
}

void axnn_fc_route(const axnn_fc *fc, const float *x, int64_t n, int32_t *route)
{
    float z[AXNN_ZOO_MAX], *xs = malloc((size_t)fc->d * sizeof *xs);
    for (int64_t i = 0; i < n; i++) {
        int best = 0;
        if (xs) {
            fc_forward(fc, x + i * fc->d, NULL, 1, xs, z);
            for (int c = 1; c < fc->k; c++)
                if (z[c] > z[best]) best = c;
        }
        route[i] = best;
    }
    free(xs);
}
