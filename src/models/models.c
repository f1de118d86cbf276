/* Model registry: parses an architecture name and builds the graph around the network. */
#include "axnn/models.h"
#include "axnn/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"resnet20", "resnet32", "resnet44", "resnet56", "vgg11_bn",
                                    "vgg13_bn", "vgg16_bn", "vgg19_bn", NULL};

const char *const *axnn_model_names(void) { return names; }

axnn_status axnn_model_build(const char *arch, const axnn_model_cfg *cfg, axnn_graph **out)
{
    *out = NULL;
    const char *base = arch;
    int classes = cfg->num_classes;
    if (!strncmp(arch, "cifar100_", 9)) {
        base = arch + 9;
        if (classes <= 0) classes = 100;
    } else if (!strncmp(arch, "cifar10_", 8)) {
        base = arch + 8;
        if (classes <= 0) classes = 10;
    }
    int depth = 0;
    bool resnet = false;
    if (sscanf(base, "resnet%d", &depth) == 1 && (depth == 20 || depth == 32 || depth == 44 || depth == 56) &&
        !strcmp(base + 6 + (depth >= 10 ? 2 : 1), ""))
        resnet = true;
    else if (!(sscanf(base, "vgg%d_bn", &depth) == 1 &&
               (depth == 11 || depth == 13 || depth == 16 || depth == 19) && strstr(base, "_bn") &&
               !strcmp(strstr(base, "_bn"), "_bn")))
        return axnn_error(AXNN_ERR_ARG,
                          "unknown model '%s' (known: resnet20, resnet32, resnet44, resnet56, vgg11_bn, "
                          "vgg13_bn, vgg16_bn, vgg19_bn)",
                          arch);
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
