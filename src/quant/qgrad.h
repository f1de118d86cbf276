/* Table-derived gradients of quantized conv2d / linear nodes (src/ops/qgrad.c). */
#ifndef AXNN_OPS_QGRAD_H
#define AXNN_OPS_QGRAD_H

#include "ops/op.h"

/* True when node nd's backward should add the table-derived correction. */
bool axnn_qgrad_table_on(const axnn_graph *g, const axnn_node *nd);
/* Add the error-slope part of the gradient after the node's float (straight-through) backward. */
void axnn_conv2d_qgrad(axnn_exec *e, axnn_node *nd);
void axnn_linear_qgrad(axnn_exec *e, axnn_node *nd);

#endif
