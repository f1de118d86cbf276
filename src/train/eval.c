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

static axnn_status check_data(const axnn_graph *g, const axnn_dataset *d)
{
    if (d->c != g->info.in_channels)
        return axnn_error(AXNN_ERR_SHAPE, "dataset %s has %d channels, model %s expects %d", d->name, d->c,
                          g->info.arch, g->info.in_channels);
    if (d->num_classes > g->info.num_classes)
        return axnn_error(AXNN_ERR_SHAPE, "dataset %s has %d classes, model has %d outputs", d->name,
                          d->num_classes, g->info.num_classes);
    return AXNN_OK;
}

axnn_status axnn_evaluate(axnn_graph *g, axnn_pool *pool, const axnn_dataset *d,
                          const axnn_preproc *pp, int batch, axnn_progress *prog,
                          axnn_eval_result *res)
{
    axnn_status st = check_data(g, d);
    if (st) return st;
    axnn_plan *p = axnn_plan_new(g, batch, axnn_pool_size(pool), false);
    if (!p) return AXNN_ERR_NOMEM;
    st = axnn_evaluate_plan(p, pool, d, pp, prog, res);
    axnn_plan_free(p);
    return st;
}

axnn_status axnn_evaluate_plan(axnn_plan *p, axnn_pool *pool, const axnn_dataset *d, const axnn_preproc *pp,
                               axnn_progress *prog, axnn_eval_result *res)
{
    const axnn_graph *g = axnn_plan_graph(p);
    const int batch = axnn_plan_batch(p);
    axnn_status st = check_data(g, d);
    if (st) return st;
    axnn_loader_cfg lc = {.batch = batch, .seed = 0, .out_h = pp->out_h, .out_w = pp->out_w};
    for (int c = 0; c < 4; c++) {
        lc.mean[c] = pp->mean[c];
        lc.std[c] = pp->std[c];
    }
    axnn_loader *ld;
    st = axnn_loader_create(d, &lc, &ld);
    if (st) return st;
    bool was_training = axnn_plan_training(p);
    axnn_plan_set_training(p, false);
    axnn_loader_start_epoch(ld, 0);
    double t0 = axnn_now(), loss = 0.0;
    int64_t correct = 0, seen = 0;
    const float *x;
    const int32_t *y;
    int n;
    axnn_progress_begin(prog, "eval", d->n, "img");
    while (axnn_loader_next(ld, &x, &y, &n)) {
        st = axnn_plan_forward(p, pool, x, NULL, n);
        if (st) break;
        score_batch(axnn_plan_logits(p), y, n, g->info.num_classes, &correct, &loss);
        seen += n;
        axnn_progress_update(prog, seen, NULL);
    }
    axnn_loader_destroy(ld);
    axnn_plan_set_training(p, was_training);
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
