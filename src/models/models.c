/* Model registry: parses an architecture name and builds the graph around the network. */
#include "axnn/models.h"
#include "axnn/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"resnet20", "resnet32", "resnet44", "resnet56", "vgg11_bn",
                                    "vgg13_bn", "vgg16_bn", "vgg19_bn", NULL};

const char *const *axnn_model_names(void) { return names; }

/* Splits "cifar100_vgg11_bn" into family, depth and the class count its prefix implies. */
static axnn_status parse_arch(const char *arch, bool *resnet, int *depth, int *prefix_classes,
                              const char **base)
{
    *base = arch;
    *prefix_classes = 0;
    if (!strncmp(arch, "cifar100_", 9)) {
        *base = arch + 9;
        *prefix_classes = 100;
    } else if (!strncmp(arch, "cifar10_", 8)) {
        *base = arch + 8;
        *prefix_classes = 10;
    }
    for (int i = 0; names[i]; i++) {
        if (strcmp(*base, names[i])) continue;
        *resnet = !strncmp(names[i], "resnet", 6);
        *depth = atoi(names[i] + (*resnet ? 6 : 3));
        return AXNN_OK;
    }
    return axnn_error(AXNN_ERR_ARG,
                      "unknown model '%s' (known: resnet20, resnet32, resnet44, resnet56, vgg11_bn, vgg13_bn, "
                      "vgg16_bn, vgg19_bn, optionally prefixed cifar10_ or cifar100_)",
                      arch);
}

axnn_status axnn_model_check(const char *arch)
{
    bool resnet;
    int depth, pc;
    const char *base;
    return parse_arch(arch, &resnet, &depth, &pc, &base);
}

axnn_status axnn_model_build(const char *arch, const axnn_model_cfg *cfg, axnn_graph **out)
{
    *out = NULL;
    bool resnet;
    int depth, classes = cfg->num_classes, prefix_classes;
    const char *base;
    axnn_status pst = parse_arch(arch, &resnet, &depth, &prefix_classes, &base);
    if (pst) return pst;
    if (classes <= 0) classes = prefix_classes;
    if (classes < 2) return axnn_error(AXNN_ERR_ARG, "number of classes must be at least 2 (got %d)", classes);
    if (cfg->in_channels < 1 || cfg->height < 1 || cfg->width < 1)
        return axnn_error(AXNN_ERR_ARG, "bad input shape %dx%dx%d", cfg->in_channels, cfg->height, cfg->width);
    if (!resnet && (cfg->height % 32 || cfg->width % 32))
        return axnn_error(AXNN_ERR_ARG, "%s needs an input size divisible by 32 (got %dx%d)", arch,
                          cfg->height, cfg->width);

    axnn_graph *g = axnn_graph_new();
    if (!g) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    axnn_rng r;
    axnn_rng_seed(&r, cfg->seed);
    axnn_rng_seed(&g->rng, cfg->seed ^ 0xd0d0d0d0ull);
    int x = axnn_input(g, cfg->in_channels, cfg->height, cfg->width);
    int y = resnet ? axnn_build_cifar_resnet(g, x, depth, classes, &r)
                   : axnn_build_cifar_vgg(g, x, depth, classes, &r);
    int lab = axnn_labels(g);
    if (y < 0 || lab < 0 || axnn_softmax_ce(g, y, lab, cfg->label_smoothing) < 0) {
        axnn_graph_free(g);
        return AXNN_ERR_ARG;
    }
    snprintf(g->info.arch, sizeof g->info.arch, "%s", base);
    g->info.in_channels = cfg->in_channels;
    g->info.height = cfg->height;
    g->info.width = cfg->width;
    g->info.num_classes = classes;
    *out = g;
    return AXNN_OK;
}
