/* The ops of src/ops: their definitions (for code above the ops that recognizes node types, as
 * src/quant and src/moe do) and helpers for the builder calls. The op interface itself is
 * src/graph/op.h. */
#ifndef AXNN_OPS_OP_H
#define AXNN_OPS_OP_H

#include "axnn/ops.h"
#include "graph/op.h"

extern const axnn_op_def axnn_op_conv2d, axnn_op_batchnorm2d, axnn_op_relu, axnn_op_maxpool2d,
    axnn_op_avgpool2d, axnn_op_global_avgpool, axnn_op_flatten, axnn_op_linear, axnn_op_add,
    axnn_op_dropout, axnn_op_softmax_ce;
/* Transformer nodes (ViT). */
extern const axnn_op_def axnn_op_tokens, axnn_op_cls_token, axnn_op_pos_embed, axnn_op_layernorm,
    axnn_op_attention, axnn_op_gelu, axnn_op_drop_path, axnn_op_cls_pool;
/* Mixture-of-Experts nodes (axnn/moe.h) */
extern const axnn_op_def axnn_op_moe_gate, axnn_op_moe_nearest, axnn_op_moe_dispatch, axnn_op_moe_combine;

/* Adds a PARAM or BUFFER value named "<module>.<leaf>" (or "<leaf>" when module is empty);
 * -1 with the error set on a duplicate name. For builder calls (ops/build*.c). */
int axnn_op_param(axnn_graph *g, const char *module, const char *leaf, axnn_val_kind kind,
                  axnn_dtype dt, int nd, const int64_t *d, uint32_t flags);
/* Adds a node of op `op` (builder calls pass their op directly; registers the ops first). */
int axnn_op_node(axnn_graph *g, const axnn_op_def *op, const char *name, const int *in, int nin,
                 const void *attr, size_t attr_size);
/* Top-1 expert of one row of gate probabilities: the argmax, lowest index on ties. */
int axnn_moe_top1(const float *p, int E);

#endif
