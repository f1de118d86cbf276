/* Training inside the study: float fine-tuning of topologies and approximation-aware
 * retraining. SGD with Nesterov momentum, weight decay on everything, a cosine schedule over
 * the run, batches from the first `images` training images (shuffled per epoch, no
 * augmentation: the runs are short). In a numeric mode the forward pass is quantized (the
 * conv/linear nodes re-quantize their weights at each training step) and the backward pass is
 * the straight-through estimator or the table-derived gradient (axnn_quant_cfg.grad); the
 * quantized weights are refreshed from the final float weights at the end. */
#include "study/study_internal.h"

#include "axnn/ops.h"

#include <stdlib.h>
#include <string.h>

void study_progress_add(study_progress *sp, int64_t units)
{
    sp->done += units;
    if (sp->done > sp->total) sp->total = sp->done;
    axnn_progress_update(sp->p, sp->done, sp->status);
}

static axnn_loader_cfg loader_cfg(const study_train *t, const axnn_preproc *pp)
{
    axnn_loader_cfg lc = {.batch = t->batch, .shuffle = true, .drop_last = true, .seed = t->seed,
                          .out_h = pp->out_h, .out_w = pp->out_w};
    memcpy(lc.mean, pp->mean, sizeof lc.mean);
    memcpy(lc.std, pp->std, sizeof lc.std);
    return lc;
}

static axnn_status run_steps(axnn_plan *p, axnn_pool *pool, axnn_loader *ld, axnn_optimizer *opt,
                             const study_train *t, study_progress *sp)
{
    const int64_t spe = axnn_loader_batches(ld), total = spe * t->epochs;
    axnn_sched_cfg sc = {.kind = AXNN_SCHED_COSINE};
    double acc_units = 0.0;
    for (int ep = 0; ep < t->epochs; ep++) {
        axnn_loader_start_epoch(ld, ep);
        const float *x;
        const int32_t *y;
        int n;
        while (axnn_loader_next(ld, &x, &y, &n)) {
            float lr = axnn_sched_lr(&sc, t->lr, axnn_optim_steps(opt), total, spe);
            axnn_plan_zero_param_grads(p);
            axnn_status st = axnn_plan_forward(p, pool, x, y, n);
            if (!st) st = axnn_plan_backward(p, pool);
            if (st) return st;
            axnn_optim_step(opt, lr, pool);
            float l = axnn_plan_loss(p);
            if (!(l == l)) return axnn_error(AXNN_ERR_ARG, "training diverged (loss is NaN); lower --lr");
            acc_units += n * t->unit_cost;
            if (acc_units >= 1.0) {
                study_progress_add(sp, (int64_t)acc_units);
                acc_units -= (double)(int64_t)acc_units;
            }
        }
    }
    return AXNN_OK;
}

/* Re-estimates BatchNorm running statistics as the plain average of the batch statistics of
 * up to `images` training images (forward passes in training mode, no update). A short
 * retraining moves the weights a lot relative to how far momentum-0.1 running averages follow,
 * so without this the eval-mode statistics lag behind the retrained network. A BN that runs on
 * a ragged batch (an expert) averages over its own calls (num_batches_tracked counts them). */
static axnn_status recalibrate_bn(axnn_plan *p, axnn_pool *pool, axnn_loader *ld, int images)
{
    axnn_graph *g = axnn_plan_graph(p);
    float *mom = calloc((size_t)g->nnodes, sizeof *mom);
    int64_t *nbt0 = calloc((size_t)g->nnodes, sizeof *nbt0);
    if (!mom || !nbt0) {
        free(mom), free(nbt0);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < g->nnodes; k++)
        if (!strcmp(axnn_node_op_name(&g->nodes[k]), "batchnorm2d")) {
            mom[k] = ((axnn_bn_attr *)g->nodes[k].attr)->momentum;
            nbt0[k] = *(int64_t *)g->vals[g->nodes[k].in[5]].data;
        }
    axnn_plan_set_training(p, true);
    axnn_loader_start_epoch(ld, 1 << 20);
    axnn_status st = AXNN_OK;
    const float *x;
    const int32_t *y;
    int n, seen = 0;
    while (!st && seen < images && axnn_loader_next(ld, &x, &y, &n)) {
        for (int k = 0; k < g->nnodes; k++)
            if (mom[k] > 0) {
                int64_t calls = *(int64_t *)g->vals[g->nodes[k].in[5]].data - nbt0[k];
                ((axnn_bn_attr *)g->nodes[k].attr)->momentum = 1.0f / (float)(calls + 1);
            }
        st = axnn_plan_forward(p, pool, x, NULL, n);
        seen += n;
    }
    for (int k = 0; k < g->nnodes; k++)
        if (mom[k] > 0) ((axnn_bn_attr *)g->nodes[k].attr)->momentum = mom[k];
    free(mom), free(nbt0);
    return st;
}

axnn_status study_finetune(axnn_plan *p, axnn_pool *pool, const axnn_dataset *train, const axnn_preproc *pp,
                           const study_train *t, study_progress *sp)
{
    if (t->epochs < 1) return AXNN_OK;
    axnn_dataset view = *train;
    if (t->images > 0 && t->images < view.n) view.n = t->images;
    axnn_optim_cfg oc = {.kind = AXNN_OPT_SGD, .lr = t->lr, .momentum = t->momentum, .nesterov = t->momentum > 0,
                         .weight_decay = t->wd, .decay_all = true};
    axnn_optimizer *opt = NULL;
    axnn_loader *ld = NULL;
    axnn_loader_cfg lc = loader_cfg(t, pp);
    axnn_graph *g = axnn_plan_graph(p);
    axnn_plan_set_training(p, true);
    axnn_status st = axnn_optim_create(p, &oc, &opt);
    if (!st) st = axnn_loader_create(&view, &lc, &ld);
    if (!st && axnn_loader_batches(ld) < 1)
        st = axnn_error(AXNN_ERR_ARG, "training subset of %lld images is smaller than one batch of %d",
                        (long long)view.n, t->batch);
    if (!st) st = run_steps(p, pool, ld, opt, t, sp);
    if (!st) axnn_quant_refresh_weights(g);
    if (!st && t->bn_images > 0) st = recalibrate_bn(p, pool, ld, t->bn_images);
    axnn_loader_destroy(ld);
    axnn_optim_free(opt);
    axnn_plan_set_training(p, false);
    return st;
}
