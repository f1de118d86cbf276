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
} axnn_model_cfg;

/* arch: "resnet20|32|44|56", "vgg11_bn|13_bn|16_bn|19_bn", optionally prefixed "cifar10_" or
 * "cifar100_" (which then fixes num_classes unless cfg->num_classes > 0). Builds the graph with
 * an input, labels, the network, and a softmax cross-entropy loss; parameters are initialized as
 * the reference does (Kaiming-normal fan-out convs, BN weight 1 and bias 0, ...). */
axnn_status axnn_model_build(const char *arch, const axnn_model_cfg *cfg, axnn_graph **out);
/* AXNN_OK when arch names a known model (else the error lists the known ones). */
axnn_status axnn_model_check(const char *arch);
/* NULL-terminated list of the base architecture names. */
const char *const *axnn_model_names(void);

/* Builders for the families (used by axnn_model_build). `x` is the input value. */
int axnn_build_cifar_resnet(axnn_graph *g, int x, int depth, int num_classes, axnn_rng *init);
int axnn_build_cifar_vgg(axnn_graph *g, int x, int depth, int num_classes, axnn_rng *init);

/* Initializers, PyTorch's formulas. */
void axnn_init_kaiming_normal_fan_out(axnn_value *w, axnn_rng *r);
void axnn_init_normal(axnn_value *w, float std, axnn_rng *r);
void axnn_init_torch_linear(axnn_value *w, axnn_value *b, axnn_rng *r); /* nn.Linear default */
void axnn_init_constant(axnn_value *w, float v);

#ifdef __cplusplus
}
#endif
#endif
