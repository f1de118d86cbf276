/* axnn/ops.h - node types and the builder calls that add them to a graph.
 *
 * Each builder call takes the graph, a module name (the PyTorch module path, used to name the
 * parameters: "<name>.weight", "<name>.bias") and input value ids, and returns the output value
 * id, or -1 with the error set. Layouts follow PyTorch: images are NCHW, conv weights
 * (Cout, Cin, kh, kw), linear weights (out, in).
 */
#ifndef AXNN_OPS_H
#define AXNN_OPS_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct axnn_conv2d_attr {
    int cout, kh, kw, sh, sw, ph, pw;
    bool bias;
} axnn_conv2d_attr;

typedef struct axnn_bn_attr {
    float eps, momentum; /* PyTorch defaults 1e-5, 0.1 */
} axnn_bn_attr;

typedef struct axnn_pool_attr {
    int kh, kw, sh, sw, ph, pw;
} axnn_pool_attr;

typedef struct axnn_linear_attr {
    int out;
    bool bias;
} axnn_linear_attr;

typedef struct axnn_dropout_attr {
    float p;
} axnn_dropout_attr;

typedef struct axnn_ce_attr {
    float label_smoothing;
} axnn_ce_attr;

/* Registers the ops of src/ops by name (axnn_graph_add_node, loaders); the builder calls do
 * it themselves. Thread-safe, once. */
void axnn_ops_init(void);

int axnn_input(axnn_graph *g, int c, int h, int w);
int axnn_labels(axnn_graph *g);
int axnn_conv2d(axnn_graph *g, const char *name, int x, int cout, int k, int stride, int pad,
                bool bias);
int axnn_conv2d_ex(axnn_graph *g, const char *name, int x, const axnn_conv2d_attr *a);
int axnn_batchnorm2d(axnn_graph *g, const char *name, int x);
int axnn_relu(axnn_graph *g, int x);
int axnn_maxpool2d(axnn_graph *g, int x, int k, int stride, int pad);
int axnn_avgpool2d(axnn_graph *g, int x, int k, int stride, int pad);
int axnn_global_avgpool(axnn_graph *g, int x); /* (N, C, H, W) -> (N, C, 1, 1) */
int axnn_flatten(axnn_graph *g, int x);        /* (N, ...) -> (N, rest) */
int axnn_linear(axnn_graph *g, const char *name, int x, int out, bool bias);
int axnn_add(axnn_graph *g, int a, int b);
int axnn_dropout(axnn_graph *g, int x, float p);
/* Mean softmax cross-entropy over the batch; output is a scalar. Sets g->loss. */
int axnn_softmax_ce(axnn_graph *g, int logits, int labels, float label_smoothing);

/* ---- transformer nodes (ViT, timm's VisionTransformer; src/ops/build_vit.c) ----
 * Token tensors are (N, T, D). axnn_linear also takes tokens: (N, T, in) -> (N, T, out), the
 * same weights applied to every token. */
typedef struct axnn_layernorm_attr {
    float eps; /* timm's ViT: 1e-6 */
} axnn_layernorm_attr;

typedef struct axnn_attention_attr {
    int heads;
} axnn_attention_attr;

typedef struct axnn_drop_path_attr {
    float p;
} axnn_drop_path_attr;

/* (N, C, H, W) -> (N, H*W, C): the patch embedding's feature map as tokens */
int axnn_tokens(axnn_graph *g, int x);
/* Prepends the class token: (N, P, D) -> (N, 1+P, D); parameter "cls_token" (1, 1, D) of module
 * `module` ("" = top level, as in timm). */
int axnn_cls_token(axnn_graph *g, const char *module, int x);
/* Adds the position embedding "pos_embed" (1, T, D) of module `module`. */
int axnn_pos_embed(axnn_graph *g, const char *module, int x);
/* LayerNorm over the last dimension: "<name>.weight" = 1, "<name>.bias" = 0. */
int axnn_layernorm(axnn_graph *g, const char *name, int x, float eps);
/* Multi-head scaled dot-product self-attention: qkv (N, T, 3D) -> (N, T, D). */
int axnn_attention(axnn_graph *g, const char *name, int qkv, int heads);
/* Exact-erf GELU. */
int axnn_gelu(axnn_graph *g, int x);
/* Stochastic depth: whole samples dropped with probability p in training. */
int axnn_drop_path(axnn_graph *g, int x, float p);
/* The class token: (N, T, D) -> (N, D). */
int axnn_cls_pool(axnn_graph *g, int x);

#ifdef __cplusplus
}
#endif
#endif
