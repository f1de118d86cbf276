/* The op interface: what every node type provides to the planner and the executor, and what
 * the executor hands to it. It belongs to the graph module; src/ops fills the registry.
 *
 * An op is a table of pure functions. `infer` checks the inputs and gives the output's shape
 * (with dimension 0 = 1 for batched values; plans set the batch). `forward` and `backward` run
 * over the plan's current batch, splitting their work over the pool that the executor passes
 * in; they find tensors only through the execution context (op_in, op_out, op_t: the plan's
 * memory for each value) and get memory only from the plan: `state` (kept from forward to
 * backward, e.g. max-pool indices), `scratch` (one slice per thread, valid during one call),
 * `shared` (one region all threads of a call may use), and `stats` (kept across calls).
 *
 * What the planner and the fuser need to know of an op are its flags and hooks, never its
 * name: AXNN_OPF_PER_IMAGE (images independent in eval mode: micro-batches allowed), the
 * fusion roles of eval-mode chains (graph/fuse.c), and the BatchNorm-chain hooks of training-
 * mode chains.
 */
#ifndef AXNN_GRAPH_OP_H
#define AXNN_GRAPH_OP_H

#include "axnn/graph.h"
#include "axnn/plan.h"

/* Eval-mode fusion of a node chain (set per plan by the planner; see graph/fuse.c). */
typedef enum axnn_fuse_role {
    AXNN_FUSE_NONE = 0,
    AXNN_FUSE_HEAD,  /* computes the chain */
    AXNN_FUSE_INNER, /* absorbed, skipped */
    AXNN_FUSE_TAIL,  /* absorbed; the chain runs at its place */
} axnn_fuse_role;

typedef struct axnn_fusion {
    axnn_fuse_role role;
    int head;  /* inner/tail: node index of the head */
    int tail;  /* head: node index of the tail */
    int bn;    /* head: node index of the absorbed batchnorm, or -1 */
    int res;   /* head: value id added after the batchnorm, or -1 */
    bool relu; /* head: ReLU last */
    int out;   /* head: value id the chain writes (the tail's output) */
} axnn_fusion;

/* A value as one plan sees it. */
typedef struct axnn_tensor {
    axnn_shape shape; /* batched values: d[0] = the plan's (micro-)batch */
    void *data;
    float *grad;      /* NULL when no gradient flows here */
    int rows;         /* rows written by the last run (ragged MoE outputs set it) */
} axnn_tensor;

/* What a plan keeps for one node. */
typedef struct axnn_node_rt {
    void *state;             /* saved for backward (training plans) */
    void *stats;             /* kept across runs (op->stats_bytes) */
    axnn_fusion fuse;        /* eval-mode fusion; zero = none */
    bool accum[AXNN_MAX_IN]; /* backward: add into in[i]'s gradient instead of writing it */
} axnn_node_rt;

typedef struct axnn_exec {
    const axnn_graph *g;
    axnn_pool *pool;
    int n;         /* images in this batch (or this node's rows of it) */
    int batch;     /* the plan's batch (largest n) */
    int nth;       /* threads of the pool */
    bool training; /* batch statistics, dropout on */
    void *scratch; /* scratch_per_thread bytes per thread */
    void *shared;  /* the largest shared_bytes of any node; valid during one call */
    size_t scratch_per_thread;
    axnn_tensor *t;     /* the plan's tensors, one per value */
    axnn_node_rt *nrt;  /* the plan's per-node state */
    uint64_t seed, step; /* dropout masks: plan seed, training forwards so far */
} axnn_exec;

enum {
    AXNN_OPF_PER_IMAGE = 1u << 0,  /* images are independent in eval mode */
    AXNN_OPF_FUSE_HEAD = 1u << 1,  /* heads an eval chain: its forward applies the chain's epilogue */
    AXNN_OPF_FUSE_BN = 1u << 2,    /* per-channel affine in eval mode: joins a chain after the head */
    AXNN_OPF_FUSE_ADD = 1u << 3,   /* binary add: joins a chain as the residual add */
    AXNN_OPF_FUSE_RELU = 1u << 4,  /* ReLU: ends a chain */
};

typedef struct axnn_op_def {
    const char *name;
    uint32_t flags; /* AXNN_OPF_* */
    axnn_status (*infer)(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *out_flags);
    /* Bytes kept from forward to backward, for a batch of `batch` (training plans only). */
    size_t (*state_bytes)(const axnn_graph *g, const axnn_node *nd, int batch);
    /* Bytes of scratch for one thread (the executor gives nth slices, contiguous). */
    size_t (*scratch_bytes)(const axnn_graph *g, const axnn_node *nd, int batch, int nth, bool training);
    void (*forward)(axnn_exec *e, axnn_node *nd);
    /* Gradient of the output -> gradients of inputs (honouring op_accum) and of parameters
     * (always accumulated). NULL when the op passes no gradient (e.g. the loss's labels). */
    void (*backward)(axnn_exec *e, axnn_node *nd);
    int64_t (*macs)(const axnn_graph *g, const axnn_node *nd); /* per image; NULL = 0 */
    /* Bytes of memory shared by all threads during one forward or backward call; NULL = 0. */
    size_t (*shared_bytes)(const axnn_graph *g, const axnn_node *nd, int batch, int nth, bool training);
    /* Bytes of per-plan statistics kept across runs (NULL = none). */
    size_t (*stats_bytes)(const axnn_graph *g, const axnn_node *nd);
    /* AXNN_OPF_FUSE_BN ops in training mode: the chain bn -> [add res] -> [relu] as one pass
     * writing value `out`, and its backward from out's gradient (res_accum: the residual's
     * gradient is added to). NULL: such chains run node by node in training. */
    void (*chain_forward)(axnn_exec *e, axnn_node *bn, int res, bool relu, int out);
    void (*chain_backward)(axnn_exec *e, axnn_node *bn, int res, bool res_accum, bool relu, int out);
} axnn_op_def;

/* ---- registry (src/graph/registry.c; src/ops registers its ops, axnn_ops_init) ---- */
axnn_status axnn_op_register(const axnn_op_def *op);
const axnn_op_def *axnn_op_find(const char *name);

/* ---- helpers for ops ---- */
static inline int op_index(const axnn_exec *e, const axnn_node *nd) { return (int)(nd - e->g->nodes); }
static inline axnn_tensor *op_t(const axnn_exec *e, int v) { return &e->t[v]; }
static inline axnn_tensor *op_in(const axnn_exec *e, const axnn_node *nd, int i) { return &e->t[nd->in[i]]; }
static inline axnn_tensor *op_out(const axnn_exec *e, const axnn_node *nd) { return &e->t[nd->out]; }
static inline const axnn_value *op_val(const axnn_exec *e, int v) { return &e->g->vals[v]; }
static inline void *op_state(const axnn_exec *e, const axnn_node *nd) { return e->nrt[op_index(e, nd)].state; }
static inline void *op_stats(const axnn_exec *e, const axnn_node *nd) { return e->nrt[op_index(e, nd)].stats; }
static inline const bool *op_accum(const axnn_exec *e, const axnn_node *nd) { return e->nrt[op_index(e, nd)].accum; }
static inline const axnn_fusion *op_fuse(const axnn_exec *e, const axnn_node *nd) { return &e->nrt[op_index(e, nd)].fuse; }
static inline float *op_scratch(const axnn_exec *e, int ith)
{
    return (float *)((char *)e->scratch + (size_t)ith * e->scratch_per_thread);
}
static inline float *op_shared(const axnn_exec *e) { return (float *)e->shared; }
/* Elements of one image of a batched value or tensor (product of dims 1..). */
static inline int64_t axnn_shape_per_image(const axnn_shape *s)
{
    int64_t n = 1;
    for (int i = 1; i < s->nd; i++) n *= s->d[i];
    return n;
}
#define per_image(v) axnn_shape_per_image(&(v)->shape)
/* Elements of value v in this call: n images of a batched value, else all of it. */
static inline int64_t op_numel(const axnn_exec *e, int v)
{
    const axnn_value *val = &e->g->vals[v];
    return (val->flags & AXNN_VF_BATCHED) ? e->n * axnn_shape_per_image(&val->shape) : axnn_shape_numel(&val->shape);
}
/* Whether input i needs a gradient. */
static inline bool in_needs_grad(const axnn_exec *e, const axnn_node *nd, int i)
{
    return e->t[nd->in[i]].grad != NULL;
}
/* The node's extension hook ran it (numeric modes): the op's own forward is skipped. */
static inline bool op_ext_forward(axnn_exec *e, axnn_node *nd, const void *arg)
{
    return nd->ext_ops && nd->ext_ops->forward && nd->ext_ops->forward(e, nd, arg);
}

#endif
