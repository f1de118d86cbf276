/* axnn/models.h - model builders. Tensor names equal the PyTorch state_dict keys of the
 * reference definitions (chenyaofo/pytorch-cifar-models for the CIFAR ResNets and VGGs). */
#ifndef AXNN_MODELS_H
#define AXNN_MODELS_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct axnn_model_cfg {
    int in_channels, height, width, num_classes;
    float label_smoothing; /* of the loss node */
    uint64_t seed;         /* weight initialization */
    int patch;             /* ViT patch size (0 = the name's, else by image size; see vit.c) */
    float drop_path;       /* ViT stochastic depth rate of the last block (0 = off) */
} axnn_model_cfg;

/* arch: "resnet20|32|44|56", "vgg11_bn|13_bn|16_bn|19_bn", "vit_tiny|small|mini" (optionally
 * with the patch size, "vit_tiny_p16"), optionally prefixed "cifar10_" or "cifar100_" (which
 * then fixes num_classes unless cfg->num_classes > 0). Builds the graph with an input, labels,
 * the network, and a softmax cross-entropy loss; parameters are initialized as the reference
 * does (Kaiming-normal fan-out convs, BN weight 1 and bias 0, timm's ViT init, ...). A ViT's
 * g->info.arch always names its patch size ("vit_tiny_p8"), so checkpoints rebuild it. */
axnn_status axnn_model_build(const char *arch, const axnn_model_cfg *cfg, axnn_graph **out);
/* The default input size of arch for h x w images (the size the images are zero-padded to):
 * CNNs pad 28x28 images (MNIST, Fashion-MNIST) to 32, which their five 2x2 downsamplings need;
 * ViTs, and every other image size, take the image's height. */
int axnn_model_default_size(const char *arch, int h, int w);
/* AXNN_OK when arch names a known model (else the error lists the known ones). */
axnn_status axnn_model_check(const char *arch);
/* NULL-terminated list of the base architecture names. */
const char *const *axnn_model_names(void);

/* Builders for the families (used by axnn_model_build). `x` is the input value. */
int axnn_build_cifar_resnet(axnn_graph *g, int x, int depth, int num_classes, axnn_rng *init);
int axnn_build_cifar_vgg(axnn_graph *g, int x, int depth, int num_classes, axnn_rng *init);

/* Vision Transformer (Dosovitskiy et al. 2021) as timm's VisionTransformer with class-token
 * pooling, pre-norm blocks, qkv bias, exact GELU and LayerNorm eps 1e-6 (src/models/vit.c). */
typedef struct axnn_vit_cfg {
    int dim, depth, heads, mlp_dim;
    int patch, num_classes;
    float drop_path; /* rate of the last block; block i gets drop_path * i / (depth - 1) */
} axnn_vit_cfg;
/* The configuration of a ViT name ("vit_tiny", "vit_small_p16", ...; patch 0 when the name has
 * none); AXNN_ERR_ARG when arch is no ViT. */
axnn_status axnn_vit_lookup(const char *arch, axnn_vit_cfg *out);
int axnn_build_vit(axnn_graph *g, int x, const axnn_vit_cfg *c, axnn_rng *init);

/* Initializers, PyTorch's formulas. */
void axnn_init_kaiming_normal_fan_out(axnn_value *w, axnn_rng *r);
void axnn_init_normal(axnn_value *w, float std, axnn_rng *r);
void axnn_init_torch_linear(axnn_value *w, axnn_value *b, axnn_rng *r); /* nn.Linear default */
void axnn_init_constant(axnn_value *w, float v);
void axnn_init_trunc_normal(axnn_value *w, float std, float lo, float hi, axnn_rng *r);

#ifdef __cplusplus
}
#endif
#endif
