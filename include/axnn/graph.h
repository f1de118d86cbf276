/* axnn/graph.h - the graph IR: values (tensors), typed nodes, parameters and metadata; the
 * builder, cuts and accounting. Execution lives in plans (axnn/plan.h): a graph holds no
 * batch, threads, memory or mode, so several plans can run one graph's weights at once.
 *
 * A graph is a list of values and a list of nodes in topological order (the builder only refers
 * to values that already exist, so creation order is execution order). Every node has one output
 * value. Values are of five kinds:
 *   INPUT   graph inputs: the batch of images, (N, C, H, W) float32, or any tensor (cuts)
 *   LABEL   the batch of labels, (N) int32
 *   PARAM   trainable tensors, named by their PyTorch state_dict key ("layer1.0.conv1.weight")
 *   BUFFER  saved but not trained (BatchNorm running statistics)
 *   ACT     activations computed by nodes
 * INPUT, LABEL and most ACT values are "batched": their dimension 0 is the batch size, which each
 * plan fixes for itself (1 in the graph). Parameters and buffers own their memory (a cut borrows
 * its parent's); inputs, activations and gradients live in the plans.
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
    AXNN_VF_BORROWED = 1u << 4, /* data belongs to the parent graph (axnn_graph_extract) */
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
    axnn_shape shape; /* for batched values d[0] is 1; a plan's tensors carry its batch */
    uint32_t flags;
    void *data;  /* params/buffers: owned (or borrowed, AXNN_VF_BORROWED); else NULL: the
                  * data of inputs and activations lives in each plan (axnn/plan.h) */
    int producer; /* node index, -1 for non-activations */
    int nconsumers;
} axnn_value;

/* Node extensions (numeric modes, src/quant): an object on node->ext with its own methods, so
 * that the graph core and the ops know nothing of what it holds. Every method may be NULL. */
struct axnn_exec;
struct axnn_node;
struct axnn_graph;
typedef struct axnn_ext_ops {
    const char *name;
    void (*free)(void *ext);
    /* Called by the op's forward before it runs in float; returns true when it ran the node
     * itself (e.g. quantized). `arg` is op specific (conv2d: the float epilogue, kernels/conv). */
    bool (*forward)(struct axnn_exec *e, struct axnn_node *nd, const void *arg);
    /* Called after the op's float backward (e.g. the table-derived gradient correction). */
    axnn_status (*backward)(struct axnn_exec *e, struct axnn_node *nd);
    /* Extra per-thread scratch and shared bytes of the forward/backward (max'ed with the op's). */
    size_t (*scratch_bytes)(const struct axnn_graph *g, const struct axnn_node *nd, int batch, int nth, bool training);
    size_t (*shared_bytes)(const struct axnn_graph *g, const struct axnn_node *nd, int batch, int nth, bool training);
} axnn_ext_ops;

struct axnn_op_def;
typedef struct axnn_node {
    const struct axnn_op_def *op;
    char name[AXNN_NAME_MAX]; /* module path, "layer1.0.conv1" */
    int in[AXNN_MAX_IN];
    int nin;
    int out;
    void *attr;           /* op parameters, owned (freed with the graph) */
    size_t attr_size;     /* bytes of attr (graph rewrites copy it) */
    uint32_t flags;       /* AXNN_NF_* */
    void *ext;            /* per-node extension (numeric mode), freed by ext_ops->free */
    const axnn_ext_ops *ext_ops;
    /* Ragged batches (Mixture-of-Experts): when >= 0, the node runs on the first rows of the
     * batch, as many as value `rows_of` holds at run time (an MoE dispatch's output, whose
     * row count the dispatch sets in the plan); a node with no rows is skipped. -1 = the
     * whole batch. */
    int rows_of;
} axnn_node;

/* What a model was built as; stored in checkpoint metadata. */
typedef struct axnn_model_info {
    char arch[64];
    int in_channels, height, width, num_classes;
} axnn_model_info;

#define AXNN_MAX_IO 16

typedef struct axnn_graph {
    axnn_value *vals;
    int nvals, cap_vals;
    axnn_node *nodes;
    int nnodes, cap_nodes;
    /* Inputs: every INPUT and LABEL value, in creation order (a plan's run takes their data in
     * this order). Outputs: values a caller reads after a run (kept alive to the end of a
     * plan's forward): the logits and the loss when present, and any marked with
     * axnn_graph_mark_output (a cut's outputs). */
    int inputs[AXNN_MAX_IO], ninputs;
    int outputs[AXNN_MAX_IO], noutputs;
    int input, label, logits, loss; /* conventional value ids, -1 when absent */
    axnn_model_info info;
    /* Graph-level extension (the numeric-mode state of src/quant), freed by ext_free. */
    void *ext;
    void (*ext_free)(struct axnn_graph *g);
    /* Bumped whenever something a plan depends on changes (node extensions, frozen flags):
     * a plan made for an older version re-plans itself before its next run. */
    uint64_t version;
    uint64_t seed; /* metadata: the dropout seed that new plans start from (axnn_plan_seed) */
    /* A graph made by axnn_graph_extract borrows the parameters, buffers and node extensions
     * of `parent` (which must outlive it). */
    const struct axnn_graph *parent;
} axnn_graph;

/* ---- construction ---- */
axnn_graph *axnn_graph_new(void);
void axnn_graph_free(axnn_graph *g);
/* Adds a value; name may be NULL for activations. Returns its id, or -1 (out of memory). For
 * PARAM/BUFFER values memory is allocated and zeroed. */
int axnn_graph_add_value(axnn_graph *g, const char *name, axnn_val_kind kind, axnn_dtype dt,
                         const axnn_shape *shape, uint32_t flags);
/* Adds a node of the named op (registered: axnn_ops_init, axnn/ops.h) with the given inputs; infers and creates its output value.
 * `attr` (may be NULL) is copied (attr_size bytes). Returns the output value id, or -1 with the
 * error set. */
int axnn_graph_add_node(axnn_graph *g, const char *op, const char *name, const int *in, int nin,
                        const void *attr, size_t attr_size);
/* The same with the op given directly (rewrites, importers). */
int axnn_graph_add_node_op(axnn_graph *g, const struct axnn_op_def *op, const char *name,
                           const int *in, int nin, const void *attr, size_t attr_size);
int axnn_graph_find_value(const axnn_graph *g, const char *name);
/* Sets node k's extension (NULL to remove), freeing the old one; bumps the version. */
void axnn_node_set_ext(axnn_graph *g, int k, void *ext, const axnn_ext_ops *ops);

/* True when v is an output: the logits, the loss, or marked. */
bool axnn_graph_is_output(const axnn_graph *g, int v);
/* Marks value v as an output (kept to the end of a forward; read with axnn_plan_data). */
axnn_status axnn_graph_mark_output(axnn_graph *g, int v);
/* Records a change that plans must see (numeric modes, frozen parameters). */
static inline void axnn_graph_touch(axnn_graph *g) { g->version++; }

/* ---- cuts and rewrites (src/graph/cut.c) ---- */
/* The subgraph that computes `outputs` from `inputs` (value ids of g): a new graph whose
 * inputs are `inputs` (re-created as INPUT values of the same shape and dtype, in that order)
 * plus any input of g that its nodes still need, and whose outputs are `outputs` (also its
 * logits when one of them is g's logits). Parameters, buffers and node extensions are shared
 * with g (borrowed, not copied), so the subgraph runs on g's weights and g must outlive it.
 * map (may be NULL) receives, for every value of g, its id in the subgraph or -1. */
axnn_status axnn_graph_extract(const axnn_graph *g, const int *inputs, int nin, const int *outputs,
                               int nout, axnn_graph **sub, int *map);
/* The cut points of g: activations that every path from the inputs (labels aside) to the
 * outputs crosses, i.e. the only value live between the node that makes it and the next one.
 * Writes up to cap value ids in graph order to out; returns how many there are. */
int axnn_graph_cut_points(const axnn_graph *g, int *out, int cap);
/* Index of the node named `name`, or -1. */
int axnn_graph_find_node(const axnn_graph *g, const char *name);
/* The node consuming value v when it is v's only consumer (v no graph output), or -1. */
int axnn_graph_sole_consumer(const axnn_graph *g, int v);

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
