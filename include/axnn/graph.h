/* axnn/graph.h - the graph IR: values (tensors) and typed nodes, a builder, a planner and an
 * executor with a backward pass.
 *
 * A graph is a list of values and a list of nodes in topological order (the builder only refers
 * to values that already exist, so creation order is execution order). Every node has one output
 * value. Values are of five kinds:
 *   INPUT   the batch of images, (N, C, H, W) float32
 *   LABEL   the batch of labels, (N) int32
 *   PARAM   trainable tensors, named by their PyTorch state_dict key ("layer1.0.conv1.weight")
 *   BUFFER  saved but not trained (BatchNorm running statistics)
 *   ACT     activations computed by nodes
 * INPUT, LABEL and most ACT values are "batched": their dimension 0 is the batch size, which the
 * planner fixes. Parameters and buffers own their memory; activations and gradients live in two
 * arenas laid out once by axnn_graph_plan() (see src/graph/plan.c for the lifetime rules).
 */
#ifndef AXNN_GRAPH_H
#define AXNN_GRAPH_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AXNN_MAX_DIMS 6
#define AXNN_MAX_IN 17 /* an MoE combine takes the gate and up to 16 experts */
#define AXNN_NAME_MAX 128

typedef enum axnn_dtype { AXNN_F32, AXNN_I32, AXNN_I64 } axnn_dtype;
size_t axnn_dtype_size(axnn_dtype t);
const char *axnn_dtype_name(axnn_dtype t);

typedef struct axnn_shape {
    int nd;
    int64_t d[AXNN_MAX_DIMS];
} axnn_shape;
int64_t axnn_shape_numel(const axnn_shape *s);
axnn_shape axnn_shape_make(int nd, const int64_t *d);
bool axnn_shape_eq(const axnn_shape *a, const axnn_shape *b);
/* "[128, 16, 32, 32]" into buf; returns buf. */
char *axnn_shape_str(const axnn_shape *s, char *buf, size_t n);

typedef enum axnn_val_kind {
    AXNN_VAL_INPUT,
    AXNN_VAL_LABEL,
    AXNN_VAL_PARAM,
    AXNN_VAL_BUFFER,
    AXNN_VAL_ACT,
} axnn_val_kind;

enum {
    AXNN_VF_BATCHED = 1u << 0,  /* dimension 0 is the batch */
    AXNN_VF_NO_DECAY = 1u << 1, /* optimizer: no weight decay (norms, biases, embeddings) */
    AXNN_VF_FROZEN = 1u << 2,   /* optimizer: not updated */
    AXNN_VF_NEEDS_GRAD = 1u << 3, /* planner: a gradient flows into this value */
};

/* Node flags (axnn_node.flags). */
enum {
    AXNN_NF_FLOAT = 1u << 0, /* numeric modes never apply: stays float (MoE gates, gateways) */
    AXNN_NF_EVAL = 1u << 1,  /* always runs in eval mode (a frozen gateway's BatchNorm) */
};

typedef struct axnn_value {
    char name[AXNN_NAME_MAX];
    axnn_val_kind kind;
    axnn_dtype dtype;
    axnn_shape shape; /* for batched values d[0] is the planned batch size */
    uint32_t flags;
    void *data;  /* params/buffers: owned; activations: points into the arena */
    float *grad; /* params: owned (training plan); activations: gradient arena; else NULL */
    int producer; /* node index, -1 for non-activations */
    int nconsumers;
} axnn_value;

/* Eval-mode fusion of a node chain (set by axnn_graph_plan; see src/graph/fuse.c). In eval
 * mode a chain conv2d -> [batchnorm2d] -> [add] -> [relu] runs as one node: the executor skips
 * the head (the conv) and the inner nodes, and at the tail (the chain's last node) runs the
 * head's forward, which writes the tail's output with BatchNorm, the residual add and ReLU
 * applied in its epilogue. Training mode ignores it. */
typedef enum axnn_fuse_role {
    AXNN_FUSE_NONE = 0,
    AXNN_FUSE_HEAD,  /* computes the chain */
    AXNN_FUSE_INNER, /* absorbed, skipped */
    AXNN_FUSE_TAIL,  /* absorbed; the chain runs at its place */
} axnn_fuse_role;

typedef struct axnn_fusion {
    axnn_fuse_role role;
    int head;   /* inner/tail: node index of the head */
    int tail;   /* head: node index of the tail */
    int bn;     /* head: node index of the absorbed batchnorm2d, or -1 */
    int res;    /* head: value id added after the batchnorm, or -1 */
    bool relu;  /* head: ReLU last */
    int out;    /* head: value id the chain writes (the tail's output) */
} axnn_fusion;

struct axnn_op_def;
typedef struct axnn_node {
    const struct axnn_op_def *op;
    char name[AXNN_NAME_MAX]; /* module path, "layer1.0.conv1" */
    int in[AXNN_MAX_IN];
    int nin;
    int out;
    void *attr;           /* op parameters, owned (freed with the graph) */
    void *state;          /* saved-for-backward memory, planned (op->state_bytes) */
    bool accum[AXNN_MAX_IN]; /* backward: add into in[i]'s gradient instead of writing it */
    void *ext;            /* per-node extension (numeric mode), owned by its module */
    axnn_fusion fuse;     /* eval-mode fusion (planner); zero = none */
    size_t attr_size;     /* bytes of attr (graph rewrites copy it) */
    uint32_t flags;       /* AXNN_NF_* */
    /* Ragged batches (Mixture-of-Experts): when non-NULL the node runs on the first *rows
     * images of the batch, a count written at run time by an earlier node (an MoE dispatch,
     * src/ops/moe_dispatch.c); a node with *rows == 0 is skipped. NULL = the whole batch. */
    const int *rows;
} axnn_node;

/* What a model was built as; stored in checkpoint metadata. */
typedef struct axnn_model_info {
    char arch[64];
    int in_channels, height, width, num_classes;
} axnn_model_info;

typedef struct axnn_graph {
    axnn_value *vals;
    int nvals, cap_vals;
    axnn_node *nodes;
    int nnodes, cap_nodes;
    int input, label, logits, loss; /* value ids, -1 when absent */
    axnn_model_info info;

    /* plan (axnn_graph_plan) */
    int batch;      /* planned (largest) batch */
    int n;          /* current batch, <= batch */
    int nthreads;
    bool planned_training; /* gradients planned */
    bool training;         /* current mode: batch statistics, dropout on */
    void *act_arena, *grad_arena, *state_arena, *scratch;
    size_t act_bytes, grad_bytes, state_bytes, scratch_per_thread;
    axnn_rng rng; /* dropout masks */
    uint64_t step; /* forward calls in training mode */
    bool fusion_off; /* set before axnn_graph_plan to run eval mode unfused (tests); also
                      * AXNN_NO_FUSE=1 in the environment */
    struct axnn_quant_state *quant; /* numeric modes (axnn/quant.h), NULL = float */
} axnn_graph;

/* ---- construction ---- */
axnn_graph *axnn_graph_new(void);
void axnn_graph_free(axnn_graph *g);
/* Adds a value; name may be NULL for activations. Returns its id, or -1 (out of memory). For
 * PARAM/BUFFER values memory is allocated and zeroed. */
int axnn_graph_add_value(axnn_graph *g, const char *name, axnn_val_kind kind, axnn_dtype dt,
                         const axnn_shape *shape, uint32_t flags);
/* Adds a node of the named op with the given inputs; infers and creates its output value.
 * `attr` (may be NULL) is copied (attr_size bytes). Returns the output value id, or -1 with the
 * error set. */
int axnn_graph_add_node(axnn_graph *g, const char *op, const char *name, const int *in, int nin,
                        const void *attr, size_t attr_size);
int axnn_graph_find_value(const axnn_graph *g, const char *name);

/* ---- planning and execution ---- */
/* Lays out activations (and gradients when training) for batches of up to `batch` images and
 * `nthreads` threads. May be called again to re-plan. */
axnn_status axnn_graph_plan(axnn_graph *g, int batch, int nthreads, bool training);
void axnn_graph_set_training(axnn_graph *g, bool training);
/* x: (n, C, H, W) float32; labels: n int32 or NULL (then the loss is not computed). */
axnn_status axnn_graph_forward(axnn_graph *g, axnn_pool *pool, const float *x,
                               const int32_t *labels, int n);
/* Backpropagates the loss of the last forward; fills parameter gradients. */
axnn_status axnn_graph_backward(axnn_graph *g, axnn_pool *pool);
/* Backpropagates a given gradient `dy` of activation `value` (its current element count: n *
 * per-image size for batched values) after a training forward: seeds value's gradient with dy
 * and runs the backward of every node that `value` depends on, in reverse order; fills
 * parameter gradients (accumulated, as always). The loss, if any, is ignored. Used by tests to
 * drive one node with PyTorch's upstream gradient, and by graph cuts that receive a gradient.
 * Every gradient-carrying value that `value` depends on must feed only nodes that `value`
 * depends on (otherwise their gradients would be incomplete): AXNN_ERR_ARG if not. */
axnn_status axnn_graph_backward_from(axnn_graph *g, axnn_pool *pool, int value, const float *dy);
void axnn_graph_zero_param_grads(axnn_graph *g);

const float *axnn_graph_logits(const axnn_graph *g); /* (n, classes) after forward */
float axnn_graph_loss_value(const axnn_graph *g);

const char *axnn_node_op_name(const axnn_node *nd);

/* ---- accounting ---- */
int64_t axnn_node_params(const axnn_graph *g, const axnn_node *nd);
int64_t axnn_node_macs(const axnn_graph *g, const axnn_node *nd); /* per image */
int64_t axnn_graph_params(const axnn_graph *g);
int64_t axnn_graph_macs(const axnn_graph *g);

#ifdef __cplusplus
}
#endif
#endif
