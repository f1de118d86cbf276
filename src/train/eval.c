/* Evaluation: top-1 accuracy and mean cross-entropy of a graph over a dataset, in eval mode
 * (running BatchNorm statistics, no dropout). The graph's mode is restored afterwards. */
#include "axnn/train.h"

#include <math.h>
#include <stdio.h>

static void score_batch(const float *logits, const int32_t *y, int n, int C, int64_t *correct,
                        double *loss)
{
    for (int i = 0; i < n; i++) {
        const float *z = logits + (int64_t)i * C;
        int best = 0;
        float mx = z[0];
        for (int c = 1; c < C; c++)
            if (z[c] > mx) {
                mx = z[c];
                best = c;
            }
        double s = 0.0;
        for (int c = 0; c < C; c++) s += exp((double)(z[c] - mx));
        *loss += log(s) + mx - z[y[i]];
        *correct += best == y[i];
    }
}

axnn_status axnn_evaluate(axnn_graph *g, axnn_pool *pool, const axnn_dataset *d,
                          const axnn_preproc *pp, int batch, axnn_progress *prog,
                          axnn_eval_result *res)
{
    if (d->c != g->info.in_channels)
        return axnn_error(AXNN_ERR_SHAPE, "dataset %s has %d channels, model %s expects %d", d->name, d->c,
                          g->info.arch, g->info.in_channels);
    if (d->num_classes > g->info.num_classes)
        return axnn_error(AXNN_ERR_SHAPE, "dataset %s has %d classes, model has %d outputs", d->name,
                          d->num_classes, g->info.num_classes);
    if (!g->act_arena || g->batch < batch || g->nthreads < axnn_pool_size(pool)) {
        axnn_status st = axnn_graph_plan(g, batch, axnn_pool_size(pool), false);
        if (st) return st;
    }
    axnn_loader_cfg lc = {.batch = batch, .seed = 0, .out_h = pp->out_h, .out_w = pp->out_w};
    for (int c = 0; c < 4; c++) {
        lc.mean[c] = pp->mean[c];
        lc.std[c] = pp->std[c];
    }
    axnn_loader *ld;
    axnn_status st = axnn_loader_create(d, &lc, &ld);
    if (st) return st;
    bool was_training = g->training;
    axnn_graph_set_training(g, false);
    axnn_loader_start_epoch(ld, 0);
    double t0 = axnn_now(), loss = 0.0;
    int64_t correct = 0, seen = 0;
    const float *x;
    const int32_t *y;
    int n;
    axnn_progress_begin(prog, "eval", d->n, "img");
    while (axnn_loader_next(ld, &x, &y, &n)) {
        st = axnn_graph_forward(g, pool, x, NULL, n);
        if (st) break;
        score_batch(axnn_graph_logits(g), y, n, g->info.num_classes, &correct, &loss);
        seen += n;
        axnn_progress_update(prog, seen, NULL);
    }
    axnn_loader_destroy(ld);
    axnn_graph_set_training(g, was_training);
    if (st) return st;
    res->n = seen;
    res->accuracy = seen ? (double)correct / (double)seen : 0.0;
    res->loss = seen ? loss / (double)seen : 0.0;
    res->seconds = axnn_now() - t0;
    char buf[64];
    snprintf(buf, sizeof buf, "acc %.2f%%", 100.0 * res->accuracy);
    axnn_progress_end(prog, buf);
    return AXNN_OK;
}
