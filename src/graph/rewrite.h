/* Graph rewriting: build a new graph by replaying nodes of a source graph.
 *
 * Activations map through a value table (source id -> new id); a node is re-added with its op,
 * a copy of its attributes and the mapped inputs, so shape inference runs again on the new
 * graph. What happens to parameters and buffers, node names and attributes is up to the
 * rewrite's hooks: a cut (cut.c) borrows the parameters unchanged; the MoE transformations
 * (src/moe) copy them under new names, sliced or with noise. Ragged-row references
 * (node->rows_of) follow the value map. */
#ifndef AXNN_GRAPH_REWRITE_H
#define AXNN_GRAPH_REWRITE_H

#include "graph/op.h"

typedef struct axnn_rw axnn_rw;
struct axnn_rw {
    const axnn_graph *src;
    axnn_graph *dst;
    int *map;  /* src value id -> dst value id (-1: not yet) */
    int *nmap; /* src node index -> dst node index (-1: not copied) */
    uint32_t nflags; /* added to every new node */
    int rows_of;     /* >= 0: set as rows_of on every new node (a dst value) */
    /* hooks (NULL = defaults: borrow parameters, keep names and attributes) */
    void *ctx;
    int (*param)(axnn_rw *rw, int src_value, int node);          /* dst value id or -1 */
    const char *(*name)(axnn_rw *rw, const axnn_node *nd, char *buf, size_t n);
    axnn_status (*attr)(axnn_rw *rw, int node, void *buf, size_t n); /* after the copy */
};

axnn_status axnn_rw_init(axnn_rw *rw, const axnn_graph *src, axnn_graph *dst);
void axnn_rw_free(axnn_rw *rw);
/* Maps src's image input and labels to new ones of dst (and copies the model info). */
axnn_status axnn_rw_inputs(axnn_rw *rw);
/* Re-adds node k of src to dst; returns the new output id or -1. Sets dst's loss and logits
 * when the node makes src's. */
int axnn_rw_node(axnn_rw *rw, int k);
/* The default parameter hook: dst borrows src's tensor under the same name. */
int axnn_rw_borrow_param(axnn_rw *rw, int src_value, int node);

#endif
