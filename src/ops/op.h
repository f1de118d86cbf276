/* The op interface: what every node type provides to the graph executor.
 *
 * An op is a table of pure functions. `infer` checks the inputs and gives the output's shape
 * (with dimension 0 = 1 for batched values; the planner sets the batch). `forward` and
 * `backward` run over the whole batch, splitting their work over the pool; they find tensors
 * through the graph's values and get memory only from the planner: `state` (kept from forward to
 * backward, e.g. max-pool indices) and `scratch` (shared by all nodes, valid during one call).
 *
 * `scratch` is split into one slice per thread. `shared` (added later, optional: ops that do not
 * set shared_bytes never see it) is one more region that all threads of a call may use, e.g. for
 * a re-laid-out input or packed weights written in one pool task and read in the next.
 */
#ifndef AXNN_OPS_OP_H
#define AXNN_OPS_OP_H

#include "axnn/graph.h"
#include "axnn/ops.h"

typedef struct axnn_exec {
    axnn_graph *g;
    axnn_pool *pool;
    int n;          /* images in this batch */
    int nth;        /* threads of the pool */
    bool training;  /* batch statistics, dropout on */
    void *scratch;  /* g->scratch_per_thread * nth bytes */
    void *shared;   /* the largest shared_bytes of any node; valid during one call */
} axnn_exec;

typedef struct axnn_op_def {
    const char *name;
    axnn_status (*infer)(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *out_flags);
    /* Bytes kept from forward to backward, for a batch of `batch` (training plans only). */
    size_t (*state_bytes)(const axnn_graph *g, const axnn_node *nd, int batch);
    /* Bytes of scratch for one thread (the executor gives nth slices, contiguous). */
    size_t (*scratch_bytes)(const axnn_graph *g, const axnn_node *nd, int batch, int nth);
    void (*forward)(axnn_exec *e, axnn_node *nd);
    /* Gradient of the output -> gradients of inputs (honouring nd->accum) and of parameters
     * (always accumulated). NULL when the op passes no gradient (e.g. the loss's labels). */
    void (*backward)(axnn_exec *e, axnn_node *nd);
    int64_t (*macs)(const axnn_graph *g, const axnn_node *nd); /* per image; NULL = 0 */
    /* Bytes of memory shared by all threads during one forward or backward call; NULL = 0. */
    size_t (*shared_bytes)(const axnn_graph *g, const axnn_node *nd, int batch, int nth);
} axnn_op_def;

const axnn_op_def *axnn_op_find(const char *name);

/* Helpers for ops */
static inline axnn_value *op_in(axnn_exec *e, const axnn_node *nd, int i)
{
    return &e->g->vals[nd->in[i]];
}
static inline axnn_value *op_out(axnn_exec *e, const axnn_node *nd) { return &e->g->vals[nd->out]; }
static inline float *op_scratch(axnn_exec *e, int ith)
{
    return (float *)((char *)e->scratch + (size_t)ith * e->g->scratch_per_thread);
}
/* The shared scratch region (it follows the per-thread slices; an axnn_exec built without
 * `shared` still finds it). */
static inline float *op_shared(axnn_exec *e)
{
    if (e->shared) return (float *)e->shared;
    return (float *)((char *)e->g->scratch + e->g->scratch_per_thread * (size_t)e->g->nthreads);
}
/* Elements of one image of a batched value (product of dims 1..). */
static inline int64_t per_image(const axnn_value *v)
{
    int64_t n = 1;
    for (int i = 1; i < v->shape.nd; i++) n *= v->shape.d[i];
    return n;
}
/* Whether input i needs a gradient. */
static inline bool in_needs_grad(axnn_exec *e, const axnn_node *nd, int i)
{
    return e->g->vals[nd->in[i]].grad != NULL;
}
/* Writes or accumulates `v` into gradient slot i per nd->accum. */
static inline void grad_put(const axnn_node *nd, int i, float *dst, float v)
{
    *dst = nd->accum[i] ? *dst + v : v;
}

extern const axnn_op_def axnn_op_conv2d, axnn_op_batchnorm2d, axnn_op_relu, axnn_op_maxpool2d,
    axnn_op_avgpool2d, axnn_op_global_avgpool, axnn_op_flatten, axnn_op_linear, axnn_op_add,
    axnn_op_dropout, axnn_op_softmax_ce;
/* Transformer nodes (ViT). */
extern const axnn_op_def axnn_op_tokens, axnn_op_cls_token, axnn_op_pos_embed, axnn_op_layernorm,
    axnn_op_attention, axnn_op_gelu, axnn_op_drop_path, axnn_op_cls_pool;

/* Adds a PARAM or BUFFER value named "<module>.<leaf>" (or "<leaf>" when module is empty);
 * -1 with the error set on a duplicate name. For builder calls (ops/build*.c). */
int axnn_op_param(axnn_graph *g, const char *module, const char *leaf, axnn_val_kind kind,
                  axnn_dtype dt, int nd, const int64_t *d, uint32_t flags);
/* Mixture-of-Experts nodes (axnn/moe.h) */
extern const axnn_op_def axnn_op_moe_gate, axnn_op_moe_nearest, axnn_op_moe_dispatch, axnn_op_moe_combine;
/* Top-1 expert of one row of gate probabilities: the argmax, lowest index on ties. */
int axnn_moe_top1(const float *p, int E);

#endif
