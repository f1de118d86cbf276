/* The plan object (axnn/plan.h), internal to the graph module. */
#ifndef AXNN_GRAPH_PLAN_IMPL_H
#define AXNN_GRAPH_PLAN_IMPL_H

#include "graph/backend.h"
#include "graph/op.h"

struct axnn_plan {
    axnn_graph *g;
    axnn_plan_cfg cfg;
    const axnn_backend *be;
    uint64_t version;      /* g->version this layout was made for */
    int batch, n, nthreads;
    int micro;             /* micro-batch of inference runs, 0 = whole batches */
    bool planned_training; /* gradients planned */
    bool training;         /* current mode */
    axnn_tensor *t;        /* per value */
    axnn_node_rt *nrt;     /* per node */
    bool *needs_grad;      /* per value: a gradient flows into it */
    void *act_arena, *grad_arena, *state_arena, *scratch, *stats_arena;
    size_t act_bytes, grad_bytes, state_bytes, scratch_per_thread, shared_bytes, stats_total;
    uint64_t seed, step;
};

/* (Re)lays out the plan's memory for its graph as it is now. */
axnn_status axnn_plan_layout(axnn_plan *p);
/* Re-plans when the graph changed since the layout. */
axnn_status axnn_plan_sync(axnn_plan *p);
/* The execution context of a call with pool. */
axnn_exec axnn_plan_exec(axnn_plan *p, axnn_pool *pool);

/* Eval-mode fusion (fuse.c) */
void axnn_plan_fuse(axnn_plan *p);
int axnn_fuse_step(const axnn_plan *p, int k);
bool axnn_fuse_internal(const axnn_plan *p, int v);
bool axnn_fuse_train(const axnn_plan *p, int head, int *add_node);

#endif
