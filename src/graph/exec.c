/* The executor: runs the nodes in order (forward) and in reverse (backward). In eval mode it
 * runs fused chains (graph/fuse.c) at their tails and skips their other nodes, and in training
 * mode runs the BatchNorm part of a chain (BN -> [add] -> [relu]) at the tail; inference plans
 * with micro-batches (graph/plan.c) run the nodes once per micro-batch, then the loss once.
 *
 * With AXNN_PROFILE=1 in the environment, every forward and backward call prints, on stderr,
 * the wall time of each node and the total per op type (a cheap substitute for perf).
 */
#include "graph/plan_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int profile_on(void) { return axnn_settings_get()->profile; }

/* Prints per-node times t[k] (seconds, 0 = not run) and a per-op summary. */
static void profile_print(const axnn_graph *g, const double *t, const char *pass)
{
    const char *ops[32];
    double tot[32] = {0}, all = 0.0;
    int nops = 0;
    for (int k = 0; k < g->nnodes; k++) {
        if (t[k] <= 0) continue;
        const axnn_node *nd = &g->nodes[k];
        fprintf(stderr, "profile %s %3d %-14s %-28s %8.3f ms\n", pass, k, nd->op->name, nd->name,
                1e3 * t[k]);
        int j = 0;
        while (j < nops && strcmp(ops[j], nd->op->name)) j++;
        if (j == nops && nops < 32) ops[nops++] = nd->op->name;
        if (j < nops) tot[j] += t[k];
        all += t[k];
    }
    for (int j = 0; j < nops; j++)
        fprintf(stderr, "profile %s total %-14s %8.3f ms (%4.1f%%)\n", pass, ops[j], 1e3 * tot[j],
                100.0 * tot[j] / all);
    fprintf(stderr, "profile %s total %-14s %8.3f ms\n", pass, "all", 1e3 * all);
}

axnn_exec axnn_plan_exec(axnn_plan *p, axnn_pool *pool)
{
    void *shared = (char *)p->scratch + p->scratch_per_thread * (size_t)p->nthreads;
    return (axnn_exec){.g = p->g,
                       .pool = pool,
                       .n = p->n,
                       .batch = p->batch,
                       .nth = axnn_pool_size(pool),
                       .training = p->training,
                       .scratch = p->scratch,
                       .shared = shared,
                       .scratch_per_thread = p->scratch_per_thread,
                       .t = p->t,
                       .nrt = p->nrt,
                       .seed = p->seed,
                       .step = p->step};
}

/* The call as node nd sees it: its rows of a ragged batch (nd->rows_of, MoE experts) and its
 * mode (AXNN_NF_EVAL). False when the node has no rows to run. */
static bool node_exec(const axnn_exec *e, const axnn_node *nd, axnn_exec *out)
{
    *out = *e;
    if (nd->rows_of >= 0) out->n = e->t[nd->rows_of].rows < e->n ? e->t[nd->rows_of].rows : e->n;
    if (nd->flags & AXNN_NF_EVAL) out->training = false;
    return out->n > 0;
}

/* Training mode under a chain (graph/fuse.c): a node runs as usual, is skipped, or (the tail)
 * runs the chain's BatchNorm part in one pass. */
enum { TR_NODE, TR_SKIP, TR_CHAIN };

static int train_role(const axnn_plan *p, const axnn_node *nd)
{
    const axnn_fusion *f = &p->nrt[nd - p->g->nodes].fuse;
    if (f->role == AXNN_FUSE_NONE || f->role == AXNN_FUSE_HEAD) return TR_NODE;
    if (nd->flags & AXNN_NF_EVAL) return TR_NODE; /* runs alone, in eval mode */
    int add;
    if (!axnn_fuse_train(p, f->head, &add)) return TR_NODE;
    return f->role == AXNN_FUSE_TAIL ? TR_CHAIN : TR_SKIP;
}

static void chain_forward(const axnn_plan *p, axnn_exec *e, const axnn_node *tail)
{
    const axnn_fusion *f = &p->nrt[p->nrt[tail - p->g->nodes].fuse.head].fuse;
    axnn_node *bn = &p->g->nodes[f->bn];
    bn->op->chain_forward(e, bn, f->res, f->relu, f->out);
}

static void chain_backward(const axnn_plan *p, axnn_exec *e, const axnn_node *tail)
{
    const axnn_graph *g = p->g;
    const int head = p->nrt[tail - g->nodes].fuse.head;
    const axnn_fusion *f = &p->nrt[head].fuse;
    if (!p->t[f->out].grad) return;
    int add;
    axnn_fuse_train(p, head, &add);
    bool res_accum = add >= 0 && p->nrt[add].accum[g->nodes[add].in[0] == f->res ? 0 : 1];
    axnn_node *bn = &g->nodes[f->bn];
    bn->op->chain_backward(e, bn, f->res, res_accum, f->relu, f->out);
}

static void run_node(const axnn_plan *p, axnn_exec *e, axnn_node *nd, double *prof)
{
    double t0 = prof ? axnn_now() : 0.0;
    p->be->forward(e, nd);
    if (prof) prof[nd - p->g->nodes] += axnn_now() - t0;
}

/* Runs every node but the loss in order; in eval mode a fused chain (graph/fuse.c) runs at its
 * tail, computed by its head. Profile times go to the node at whose place a node runs. */
static void run_nodes(axnn_plan *p, axnn_exec *e, double *prof)
{
    axnn_graph *g = p->g;
    for (int k = 0; k < g->nnodes; k++) {
        axnn_node *nd = &g->nodes[k];
        const axnn_fusion *f = &p->nrt[k].fuse;
        if (nd->out == g->loss) continue;
        if (!p->training && f->role != AXNN_FUSE_NONE) {
            if (f->role != AXNN_FUSE_TAIL) continue;
            nd = &g->nodes[f->head];
        } else if (p->training && train_role(p, nd) != TR_NODE) {
            axnn_exec ne;
            double t0 = prof ? axnn_now() : 0.0;
            if (train_role(p, nd) == TR_CHAIN && node_exec(e, nd, &ne)) chain_forward(p, &ne, nd);
            if (prof) prof[k] += axnn_now() - t0;
            continue;
        }
        axnn_exec ne;
        if (!node_exec(e, nd, &ne)) continue;
        double t0 = prof ? axnn_now() : 0.0;
        p->be->forward(&ne, nd);
        if (prof) prof[k] += axnn_now() - t0;
    }
}

/* An inference plan with micro-batches (graph/plan.c): the input and the logits are seen
 * through a window of mb images that slides over the batch. */
static void run_micro_batches(axnn_plan *p, axnn_exec *e, const float *x, int n, int mb, double *prof)
{
    const axnn_graph *g = p->g;
    axnn_tensor *in = &p->t[g->input], *lg = &p->t[g->logits];
    float *logits = lg->data;
    const int64_t in_img = per_image(in), lg_img = per_image(lg);
    for (int i0 = 0; i0 < n; i0 += mb) {
        e->n = n - i0 < mb ? n - i0 : mb;
        in->data = (void *)(x + i0 * in_img);
        lg->data = logits + i0 * lg_img;
        run_nodes(p, e, prof);
    }
    in->data = (void *)x;
    lg->data = logits;
    e->n = n;
}

axnn_status axnn_plan_run(axnn_plan *p, axnn_pool *pool, const void *const *inputs, int n)
{
    axnn_graph *g = p->g;
    axnn_status st = axnn_plan_sync(p);
    if (st) return st;
    if (n < 1 || n > p->batch)
        return axnn_error(AXNN_ERR_ARG, "batch of %d images does not fit the plan (1..%d)", n, p->batch);
    if (axnn_pool_size(pool) > p->nthreads)
        return axnn_error(AXNN_ERR_ARG, "pool of %d threads, plan made for %d", axnn_pool_size(pool), p->nthreads);
    p->n = n;
    const void *labels = NULL;
    for (int i = 0; i < g->ninputs; i++) {
        int v = g->inputs[i];
        if (!inputs[i] && g->vals[v].kind != AXNN_VAL_LABEL)
            return axnn_error(AXNN_ERR_ARG, "graph input %d (%s) not given", i, g->vals[v].name);
        p->t[v].data = (void *)inputs[i];
        p->t[v].rows = n;
        if (v == g->label) labels = inputs[i];
    }
    for (int i = 0; i < g->nvals; i++) p->t[i].rows = n;
    axnn_exec e = axnn_plan_exec(p, pool);
    double *prof = profile_on() ? calloc((size_t)g->nnodes, sizeof(double)) : NULL;
    if (p->micro > 0 && n > p->micro && g->input >= 0) {
        run_micro_batches(p, &e, p->t[g->input].data, n, p->micro, prof);
    } else {
        run_nodes(p, &e, prof);
    }
    if (labels && g->loss >= 0) run_node(p, &e, &g->nodes[g->vals[g->loss].producer], prof);
    if (prof) profile_print(g, prof, p->training ? "fwd-train" : "fwd-eval");
    free(prof);
    if (p->training) p->step++;
    return AXNN_OK;
}

axnn_status axnn_plan_forward(axnn_plan *p, axnn_pool *pool, const float *x, const int32_t *labels, int n)
{
    const axnn_graph *g = p->g;
    const void *in[AXNN_MAX_IO] = {0};
    for (int i = 0; i < g->ninputs; i++) {
        int v = g->inputs[i];
        if (v == g->input) in[i] = x;
        else if (v == g->label) in[i] = labels;
        else return axnn_error(AXNN_ERR_ARG, "graph has input %s besides the image and labels: use axnn_plan_run",
                               g->vals[v].name);
    }
    if (g->input < 0) return axnn_error(AXNN_ERR_ARG, "graph has no image input");
    return axnn_plan_run(p, pool, in, n);
}

axnn_status axnn_plan_backward(axnn_plan *p, axnn_pool *pool)
{
    axnn_graph *g = p->g;
    if (!p->planned_training || !p->training)
        return axnn_error(AXNN_ERR_ARG, "backward needs a training plan and a training forward");
    if (g->loss < 0) return axnn_error(AXNN_ERR_ARG, "graph has no loss");
    axnn_exec e = axnn_plan_exec(p, pool);
    p->t[g->loss].grad[0] = 1.0f;
    double *prof = profile_on() ? malloc((size_t)g->nnodes * sizeof(double)) : NULL;
    for (int k = g->nnodes - 1; k >= 0; k--) {
        axnn_node *nd = &g->nodes[k];
        if (prof) prof[k] = -1.0;
        if (train_role(p, nd) != TR_NODE) {
            axnn_exec ne;
            double t0 = prof ? axnn_now() : 0.0;
            if (train_role(p, nd) == TR_CHAIN && node_exec(&e, nd, &ne)) chain_backward(p, &ne, nd);
            if (prof) prof[k] = axnn_now() - t0;
            continue;
        }
        axnn_exec ne;
        if (!nd->op->backward || !p->t[nd->out].grad || !node_exec(&e, nd, &ne)) continue;
        double t0 = prof ? axnn_now() : 0.0;
        p->be->backward(&ne, nd);
        if (prof) prof[k] = axnn_now() - t0;
    }
    if (prof) profile_print(g, prof, "bwd");
    free(prof);
    return AXNN_OK;
}

void axnn_plan_zero_param_grads(axnn_plan *p)
{
    const axnn_graph *g = p->g;
    for (int i = 0; i < g->nvals; i++) {
        const axnn_value *v = &g->vals[i];
        if (v->kind == AXNN_VAL_PARAM && p->t[i].grad)
            memset(p->t[i].grad, 0, (size_t)axnn_shape_numel(&v->shape) * sizeof(float));
    }
}

const float *axnn_plan_logits(const axnn_plan *p)
{
    return p->g->logits >= 0 ? (const float *)p->t[p->g->logits].data : NULL;
}

float axnn_plan_loss(const axnn_plan *p)
{
    const axnn_graph *g = p->g;
    return g->loss >= 0 && p->t[g->loss].data ? ((const float *)p->t[g->loss].data)[0] : 0.0f;
}
