/* Graph rewriting for the MoE transformations (internal to src/moe), on top of the graph
 * module's rewrite (src/graph/rewrite.h): a rewrite builds a new graph by replaying the nodes
 * of a source graph; here parameters and buffers are copied under a (possibly changed) name,
 * sliced to an expert's width or perturbed with noise, and nodes renamed per expert. */
#ifndef AXNN_MOE_REWRITE_H
#define AXNN_MOE_REWRITE_H

#include "axnn/moe.h"
#include "graph/rewrite.h"
#include "ops/op.h"

typedef struct moe_rw {
    axnn_rw base;
    const axnn_graph *src;
    axnn_graph *dst;
    int *map;        /* src value id -> dst value id (-1: not yet); base.map */
    int *nmap;       /* src node index -> dst node index (-1: not copied); base.nmap */
    /* naming of copied parameters and nodes */
    const char *prefix; /* "experts.2." for whole-model copies, or NULL */
    int expert;         /* >= 0: insert ".experts.<e>" before the leaf of parameter names */
    uint32_t nflags;    /* added to every new node */
    bool freeze;        /* new parameters are frozen */
    int rows_of;        /* >= 0: set as node->rows_of on every new node (a dst value) */
    float noise;        /* relative noise on copied float parameters */
    axnn_rng *rng;
    /* width of an expert's hidden layer: the first parameter layer's outputs and the next
     * one's inputs are cut to `hidden` channels taken from offset `hoff` (mod the original) */
    int first, second; /* node indices of the two layers (-1: no width change) */
    int hidden, hoff;
} moe_rw;

axnn_status moe_rw_init(moe_rw *rw, const axnn_graph *src, axnn_graph *dst);
void moe_rw_free(moe_rw *rw);
/* Maps INPUT and LABEL values of src to those of dst (creating them). */
axnn_status moe_rw_inputs(moe_rw *rw);
/* Re-adds node k of src to dst (inputs through rw->map; the caller may pre-map activation
 * inputs); returns the new output id or -1. Sets loss/logits when the node makes them. */
int moe_rw_node(moe_rw *rw, int k);
/* Name of a node or parameter as renamed by rw into buf. */
const char *moe_rw_name(const moe_rw *rw, const char *name, char *buf, size_t n);
#define moe_find_node axnn_graph_find_node
#define moe_sole_consumer axnn_graph_sole_consumer
/* New graph holding the ancestors of value v of g (v becomes its logits; no loss), in float
 * (no numeric modes), on g's weights (borrowed). With pool, global average pooling and
 * flatten are appended when v is 4-d (features). */
axnn_status moe_extract(const axnn_graph *g, int v, bool pool, axnn_graph **out);
/* Runs a graph made by moe_extract over the first n images of d (eval mode); its logits, (n, D)
 * floats, go to *out (malloc). */
axnn_status moe_features(axnn_graph *sub, axnn_pool *pool, const axnn_dataset *d, const axnn_preproc *pp,
                         int64_t n, float **out, int *dim);

#endif
