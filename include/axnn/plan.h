/* axnn/plan.h - execution plans over a graph.
 *
 * A plan is one way of running a graph (axnn/graph.h): a batch size, a thread count, training
 * or eval, the memory of activations, gradients, saved state and scratch, the dropout rng and
 * step, fusion and micro-batch decisions. The graph's parameters are shared, not copied: an eval
 * plan beside a training plan, plans of several batch sizes, or the plans of a pipeline's stages
 * all run one set of weights. Plans are independent of each other: two threads may run two
 * inference plans of one graph at once, each with its own pool. (Training plans own the
 * parameter gradients; the optimizer updates the shared weights, so training is one plan at a
 * time.)
 *
 * Lifetime: a plan must not outlive its graph. When the graph changes in a way that matters to
 * plans (numeric modes attached or detached, parameters frozen: axnn_graph_touch), the plan
 * re-plans itself at its next run.
 */
#ifndef AXNN_PLAN_H
#define AXNN_PLAN_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct axnn_plan axnn_plan;

typedef struct axnn_plan_cfg {
    int batch;       /* largest batch a run takes (>= 1) */
    int nthreads;    /* largest pool a run uses (>= 1) */
    bool training;   /* plan gradients and saved state (training mode available) */
    bool no_fusion;  /* eval mode unfused (tests; AXNN_NO_FUSE=1 does the same) */
    int micro_batch; /* inference: 0 = automatic (graph/plan.c), -1 = whole batches, N = N */
} axnn_plan_cfg;

axnn_status axnn_plan_create(axnn_graph *g, const axnn_plan_cfg *cfg, axnn_plan **out);
/* Shorthand: NULL on failure (axnn_last_error says why). */
axnn_plan *axnn_plan_new(axnn_graph *g, int batch, int nthreads, bool training);
void axnn_plan_free(axnn_plan *p);

axnn_graph *axnn_plan_graph(const axnn_plan *p);
int axnn_plan_batch(const axnn_plan *p);
int axnn_plan_threads(const axnn_plan *p);
bool axnn_plan_trainable(const axnn_plan *p); /* planned for training */
bool axnn_plan_training(const axnn_plan *p);  /* current mode */
/* Training mode (batch statistics, dropout) or eval; training needs a trainable plan. */
void axnn_plan_set_training(axnn_plan *p, bool training);
/* Dropout / drop-path masks: a pure function of (seed, step, node, image), see ops/dropout.c. */
void axnn_plan_seed(axnn_plan *p, uint64_t seed);
uint64_t axnn_plan_step(const axnn_plan *p); /* training forwards so far */
void axnn_plan_set_step(axnn_plan *p, uint64_t step);

/* ---- running ---- */
/* x: (n, C, H, W) float32 for the graph's image input; labels: n int32 or NULL (then the loss
 * is not computed). The caller's buffers are read in place during the call. */
axnn_status axnn_plan_forward(axnn_plan *p, axnn_pool *pool, const float *x, const int32_t *labels,
                              int n);
/* General form: one pointer per graph input (g->inputs order; NULL for a label input skips
 * the loss); batched inputs hold n rows. */
axnn_status axnn_plan_run(axnn_plan *p, axnn_pool *pool, const void *const *inputs, int n);
/* Backpropagates the loss of the last training forward; fills parameter gradients (added to
 * what they hold: zero them between steps). */
axnn_status axnn_plan_backward(axnn_plan *p, axnn_pool *pool);
/* Backpropagates a given gradient dy of activation `value` (n * per-image elements for batched
 * values) after a training forward: runs the backward of every node `value` depends on. Every
 * gradient-carrying value on that path must feed only nodes on it: AXNN_ERR_ARG if not. */
axnn_status axnn_plan_backward_from(axnn_plan *p, axnn_pool *pool, int value, const float *dy);
void axnn_plan_zero_param_grads(axnn_plan *p);

/* ---- reading results ---- */
/* The data of value v in this plan: activations and inputs after a run (outputs stay valid
 * until the next run; other activations may share memory), parameters and buffers the
 * graph's. NULL for values that have no memory in this plan (fused away). */
void *axnn_plan_data(const axnn_plan *p, int v);
/* The gradient of v (activations after backward, trainable parameters): NULL when none. */
float *axnn_plan_grad(const axnn_plan *p, int v);
/* Rows of v in the last run: the batch, or a ragged count (MoE dispatch outputs). */
int axnn_plan_rows(const axnn_plan *p, int v);
const float *axnn_plan_logits(const axnn_plan *p); /* (n, classes) after a forward */
float axnn_plan_loss(const axnn_plan *p);
/* Per-node statistics that ops keep across runs (MoE routing counts; op specific layout,
 * zeroed at creation and by axnn_plan_reset_stats); NULL when the op keeps none. */
void *axnn_plan_node_stats(const axnn_plan *p, int node);
void axnn_plan_reset_stats(axnn_plan *p);
/* Eval-mode fusion of node k in p: AXNN_FUSED_NONE (runs alone), _HEAD (computes a chain of
 * nodes as one), _INNER / _TAIL (absorbed into the chain of *head; the chain runs at the tail's
 * place). head may be NULL. */
typedef enum axnn_fused { AXNN_FUSED_NONE, AXNN_FUSED_HEAD, AXNN_FUSED_INNER, AXNN_FUSED_TAIL } axnn_fused;
axnn_fused axnn_plan_fusion(const axnn_plan *p, int k, int *head);
/* Bytes of activation, gradient, state and scratch memory. */
size_t axnn_plan_bytes(const axnn_plan *p);

#ifdef __cplusplus
}
#endif
#endif
