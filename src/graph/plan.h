/* Planner facts the executor needs (internal to the graph module). */
#ifndef AXNN_GRAPH_PLAN_H
#define AXNN_GRAPH_PLAN_H

#include "axnn/graph.h"

/* Inference plans of graphs with small weights run the batch in micro-batches of this many
 * images (activations are planned for one micro-batch, so they stay in cache from node to
 * node); 0 when the plan runs whole batches. A pure function of the graph and its plan. */
int axnn_plan_micro_batch(const axnn_graph *g);

#endif
