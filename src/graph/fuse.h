/* Eval-mode fusion of node chains (see fuse.c). Internal to the graph module and the ops. */
#ifndef AXNN_GRAPH_FUSE_H
#define AXNN_GRAPH_FUSE_H

#include "axnn/graph.h"

/* Marks conv2d -> [batchnorm2d] -> [add] -> [relu] chains on the nodes (clears old marks). */
void axnn_graph_fuse(axnn_graph *g);
/* The step at which node k executes in eval mode: its chain's tail, or k itself. */
int axnn_fuse_step(const axnn_graph *g, int k);
/* True when value v is skipped by a chain in eval mode (made by a head or inner node). */
bool axnn_fuse_internal(const axnn_graph *g, int v);

/* True when the chain headed by node `head` runs fused in training mode (its BN part, at the
 * tail's place); *add_node is the chain's add node, or -1. */
bool axnn_fuse_train(const axnn_graph *g, int head, int *add_node);

#endif
