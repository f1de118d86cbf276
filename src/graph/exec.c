/* The executor: runs the nodes in order (forward) and in reverse (backward). In eval mode it
 * runs fused chains (graph/fuse.c) at their tails and skips their other nodes, and in training
 * mode runs the BatchNorm part of a chain (BN -> [add] -> [relu]) at the tail; inference plans
 * with micro-batches (graph/plan.c) run the nodes once per micro-batch, then the loss once.
 *
 * With AXNN_PROFILE=1 in the environment, every forward and backward call prints, on stderr,
 * the wall time of each node and the total per op type (a cheap substitute for perf).
 */
#include "axnn/graph.h"

#include "graph/fuse.h"
#include "graph/plan.h"
#include "ops/batchnorm.h"
#include "ops/op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int profile_on(void)
{
    static int on = -1;
    if (on < 0) {
        const char *s = getenv("AXNN_PROFILE");
        on = s && s[0] && strcmp(s, "0");
    }
    return on;
}

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

void axnn_graph_set_training(axnn_graph *g, bool training)
{
    g->training = training && g->planned_training;
}

static axnn_exec make_exec(axnn_graph *g, axnn_pool *pool)
{
    void *shared = (char *)g->scratch + g->scratch_per_thread * (size_t)g->nthreads;
    return (axnn_exec){g, pool, g->n, axnn_pool_size(pool), g->training, g->scratch, shared};
}

/* The call as node nd sees it: its rows of a ragged batch (nd->rows, MoE experts) and its mode
 * (AXNN_NF_EVAL). False when the node has no rows to run. */
static bool node_exec(const axnn_exec *e, const axnn_node *nd, axnn_exec *out)
{
    *out = *e;
    if (nd->rows) out->n = *nd->rows < e->n ? *nd->rows : e->n;
    if (nd->flags & AXNN_NF_EVAL) out->training = false;
    return out->n > 0;
}

/* Training mode under a chain (graph/fuse.c): a node runs as usual, is skipped, or (the tail)
 * runs the chain's BatchNorm part in one pass. */
enum { TR_NODE, TR_SKIP, TR_CHAIN };

static int train_role(const axnn_graph *g, const axnn_node *nd)
{
    if (nd->fuse.role == AXNN_FUSE_NONE || nd->fuse.role == AXNN_FUSE_HEAD) return TR_NODE;
    if (nd->flags & AXNN_NF_EVAL) return TR_NODE; /* runs alone, in eval mode */
    int add;
    if (!axnn_fuse_train(g, nd->fuse.head, &add)) return TR_NODE;
    return nd->fuse.role == AXNN_FUSE_TAIL ? TR_CHAIN : TR_SKIP;
}

static void chain_forward(axnn_exec *e, const axnn_node *tail)
{
    const axnn_fusion *f = &e->g->nodes[tail->fuse.head].fuse;
    axnn_bn_chain_forward(e, &e->g->nodes[f->bn], f->res, f->relu, f->out);
}

static void chain_backward(axnn_exec *e, const axnn_node *tail)
{
    axnn_graph *g = e->g;
    const axnn_fusion *f = &g->nodes[tail->fuse.head].fuse;
    if (!g->vals[f->out].grad) return;
    int add;
    axnn_fuse_train(g, tail->fuse.head, &add);
    bool res_accum = add >= 0 && g->nodes[add].accum[g->nodes[add].in[0] == f->res ? 0 : 1];
    axnn_bn_chain_backward(e, &g->nodes[f->bn], f->res, res_accum, f->relu, f->out);
}

static void run_node(axnn_exec *e, axnn_node *nd, double *prof)
{
    double t0 = prof ? axnn_now() : 0.0;
    nd->op->forward(e, nd);
    if (prof) prof[nd - e->g->nodes] += axnn_now() - t0;
}

/* Runs every node but the loss in order; in eval mode a fused chain (graph/fuse.c) runs at its
 * tail, computed by its head. Profile times go to the node at whose place a node runs. */
static void run_nodes(axnn_graph *g, axnn_exec *e, double *prof)
{
    for (int k = 0; k < g->nnodes; k++) {
        axnn_node *nd = &g->nodes[k];
        if (nd->out == g->loss) continue;
        if (!g->training && nd->fuse.role != AXNN_FUSE_NONE) {
            if (nd->fuse.role != AXNN_FUSE_TAIL) continue;
            nd = &g->nodes[nd->fuse.head];
        } else if (g->training && train_role(g, nd) != TR_NODE) {
            axnn_exec ne;
            double t0 = prof ? axnn_now() : 0.0;
            if (train_role(g, nd) == TR_CHAIN && node_exec(e, nd, &ne)) chain_forward(&ne, nd);
            if (prof) prof[k] += axnn_now() - t0;
            continue;
        }
        axnn_exec ne;
        if (!node_exec(e, nd, &ne)) continue;
        double t0 = prof ? axnn_now() : 0.0;
        nd->op->forward(&ne, nd);
        if (prof) prof[k] += axnn_now() - t0;
    }
}

/* An inference plan with micro-batches (graph/plan.c): the input and the logits are seen
 * through a window of mb images that slides over the batch. */
static void run_micro_batches(axnn_graph *g, axnn_exec *e, const float *x, int n, int mb,
                              double *prof)
{
    axnn_value *in = &g->vals[g->input], *lg = &g->vals[g->logits];
    float *logits = lg->data;
    const int64_t in_img = per_image(in), lg_img = per_image(lg);
    for (int i0 = 0; i0 < n; i0 += mb) {
        e->n = n - i0 < mb ? n - i0 : mb;
        in->data = (void *)(x + i0 * in_img);
        lg->data = logits + i0 * lg_img;
        run_nodes(g, e, prof);
    }
    in->data = (void *)x;
    lg->data = logits;
    e->n = n;
}

axnn_status axnn_graph_forward(axnn_graph *g, axnn_pool *pool, const float *x,
                               const int32_t *labels, int n)
{
    if (!g->act_arena) return axnn_error(AXNN_ERR_ARG, "graph is not planned");
    if (n < 1 || n > g->batch)
        return axnn_error(AXNN_ERR_ARG, "batch of %d images does not fit the plan (1..%d)", n, g->batch);
    if (axnn_pool_size(pool) > g->nthreads)
        return axnn_error(AXNN_ERR_ARG, "pool of %d threads, graph planned for %d", axnn_pool_size(pool),
                          g->nthreads);
    g->n = n;
    if (g->label >= 0) g->vals[g->label].data = (void *)labels;
    axnn_exec e = make_exec(g, pool);
    double *prof = profile_on() ? calloc((size_t)g->nnodes, sizeof(double)) : NULL;
    const int mb = axnn_plan_micro_batch(g);
    if (mb > 0 && n > mb) {
        run_micro_batches(g, &e, x, n, mb, prof);
    } else {
        g->vals[g->input].data = (void *)x;
        run_nodes(g, &e, prof);
    }
    if (labels && g->loss >= 0) run_node(&e, &g->nodes[g->vals[g->loss].producer], prof);
    if (prof) profile_print(g, prof, g->training ? "fwd-train" : "fwd-eval");
    free(prof);
    if (g->training) g->step++;
    return AXNN_OK;
}

axnn_status axnn_graph_backward(axnn_graph *g, axnn_pool *pool)
{
    if (!g->planned_training || !g->training)
        return axnn_error(AXNN_ERR_ARG, "backward needs a training plan and a training forward");
    if (g->loss < 0) return axnn_error(AXNN_ERR_ARG, "graph has no loss");
    axnn_exec e = make_exec(g, pool);
    g->vals[g->loss].grad[0] = 1.0f;
    double *prof = profile_on() ? malloc((size_t)g->nnodes * sizeof(double)) : NULL;
    for (int k = g->nnodes - 1; k >= 0; k--) {
        axnn_node *nd = &g->nodes[k];
        if (prof) prof[k] = -1.0;
        if (train_role(g, nd) != TR_NODE) {
            axnn_exec ne;
            double t0 = prof ? axnn_now() : 0.0;
            if (train_role(g, nd) == TR_CHAIN && node_exec(&e, nd, &ne)) chain_backward(&ne, nd);
            if (prof) prof[k] = axnn_now() - t0;
            continue;
        }
        axnn_exec ne;
        if (!nd->op->backward || !g->vals[nd->out].grad || !node_exec(&e, nd, &ne)) continue;
        double t0 = prof ? axnn_now() : 0.0;
        nd->op->backward(&ne, nd);
        if (prof) prof[k] = axnn_now() - t0;
    }
    if (prof) profile_print(g, prof, "bwd");
    free(prof);
    return AXNN_OK;
}

void axnn_graph_zero_param_grads(axnn_graph *g)
{
    for (int i = 0; i < g->nvals; i++) {
        axnn_value *v = &g->vals[i];
        if (v->kind == AXNN_VAL_PARAM && v->grad)
            memset(v->grad, 0, (size_t)axnn_shape_numel(&v->shape) * sizeof(float));
    }
}

const float *axnn_graph_logits(const axnn_graph *g)
{
    return g->logits >= 0 ? (const float *)g->vals[g->logits].data : NULL;
}

float axnn_graph_loss_value(const axnn_graph *g)
{
    return g->loss >= 0 && g->vals[g->loss].data ? ((const float *)g->vals[g->loss].data)[0] : 0.0f;
}
