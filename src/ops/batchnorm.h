/* BatchNorm as the head of a training-mode chain batchnorm2d -> [add] -> [relu] (graph/fuse.c):
 * one pass writes the chain's output, and backward reads the chain's output gradient directly,
 * so the values in between are neither written nor read. Results equal those of the separate
 * nodes bit for bit. `res` is the value id added before the ReLU (-1: none), `out` the chain's
 * output value; res_accum tells whether the residual's gradient is added to (the add node's
 * accum flag for that input). */
#ifndef AXNN_OPS_BATCHNORM_H
#define AXNN_OPS_BATCHNORM_H

#include "ops/op.h"

void axnn_bn_chain_forward(axnn_exec *e, axnn_node *bn, int res, bool relu, int out);
void axnn_bn_chain_backward(axnn_exec *e, axnn_node *bn, int res, bool res_accum, bool relu, int out);

#endif
