/* Quantized forward passes of conv2d and linear (INT8 / TABLE numeric modes, see
 * axnn/quant.h and quant/qstate.h). The float ops call these when the node is quantized. */
#ifndef AXNN_OPS_QUANTIZED_H
#define AXNN_OPS_QUANTIZED_H

#include "kernels/conv/conv.h"
#include "ops/op.h"

/* Per-thread scratch and shared bytes of the quantized conv forward (0 for float nodes). */
size_t axnn_conv2d_q_scratch(const axnn_graph *g, const axnn_node *nd, int batch);
size_t axnn_conv2d_q_shared(const axnn_graph *g, const axnn_node *nd, int batch);
/* Runs the node quantized; epi is the float epilogue the float path would apply to the sums
 * (bias as shift, or the fused BatchNorm / residual / ReLU of an eval chain). */
void axnn_conv2d_forward_q(axnn_exec *e, axnn_node *nd, const axnn_conv_epi *epi);

size_t axnn_linear_q_scratch(const axnn_graph *g, const axnn_node *nd, int batch, int nth);
void axnn_linear_forward_q(axnn_exec *e, axnn_node *nd);

/* Attention products in int8 (ViT; ops/attention_q.c): per-thread scratch (0 when the node
 * runs in float) and the forward with the multiplier from axnn_quant_attention_qmul. */
struct axnn_qmul;
size_t axnn_attention_q_scratch(const axnn_graph *g, const axnn_node *nd);
void axnn_attention_forward_q(axnn_exec *e, axnn_node *nd, const struct axnn_qmul *qm);

#endif
