/* Model registry: parses an architecture name and builds the graph around the network. */
#include "axnn/models.h"
#include "axnn/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"resnet8", "resnet14", "resnet20", "resnet32", "resnet44", "resnet56", "vgg11_bn",
                                    "vgg13_bn", "vgg16_bn", "vgg19_bn", "vit_tiny", "vit_small",
                                    "vit_mini", NULL};

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
    for (int i = 0; names[i] && strncmp(names[i], "vit", 3); i++) {
        if (strcmp(*base, names[i])) continue;
        *resnet = !strncmp(names[i], "resnet", 6);
        *depth = atoi(names[i] + (*resnet ? 6 : 3));
        return AXNN_OK;
    }
    return axnn_error(AXNN_ERR_ARG,
                      "unknown model '%s' (known: resnet8, resnet14, resnet20, resnet32, resnet44, resnet56, vgg11_bn, vgg13_bn, "
                      "vgg16_bn, vgg19_bn, vit_tiny, vit_small, vit_mini (optionally _p<patch>), optionally "
                      "prefixed cifar10_ or cifar100_)",
                      arch);
}

/* A ViT name after the optional cifar prefix: fills *v and returns true. */
static bool vit_arch(const char *arch, axnn_vit_cfg *v, int *prefix_classes)
{
    const char *base = arch;
    *prefix_classes = 0;
    if (!strncmp(arch, "cifar100_", 9)) {
        base = arch + 9;
        *prefix_classes = 100;
    } else if (!strncmp(arch, "cifar10_", 8)) {
        base = arch + 8;
        *prefix_classes = 10;
    }
    bool ok = axnn_vit_lookup(base, v) == AXNN_OK;
    axnn_clear_error();
    return ok;
}

int axnn_model_default_size(const char *arch, int h, int w)
{
    axnn_vit_cfg v;
    int prefix_classes;
    return h == 28 && w == 28 && !vit_arch(arch, &v, &prefix_classes) ? 32 : h;
}

axnn_status axnn_model_check(const char *arch)
{
    bool resnet;
    int depth, pc;
    const char *base;
    axnn_vit_cfg v;
    if (vit_arch(arch, &v, &pc)) return AXNN_OK;
    return parse_arch(arch, &resnet, &depth, &pc, &base);
}

/* The patch size: the name's, cfg->patch, or by image size; the image must divide into it. */
static axnn_status vit_patch(const char *arch, const axnn_model_cfg *cfg, axnn_vit_cfg *v)
{
    if (v->patch && cfg->patch > 0 && cfg->patch != v->patch)
        return axnn_error(AXNN_ERR_ARG, "%s has patch size %d, not %d", arch, v->patch, cfg->patch);
    int size = cfg->height > cfg->width ? cfg->height : cfg->width;
    if (!v->patch) v->patch = cfg->patch > 0 ? cfg->patch : size <= 32 ? 4 : size <= 64 ? 8 : 16;
    if (cfg->height % v->patch || cfg->width % v->patch)
        return axnn_error(AXNN_ERR_ARG, "%s: input %dx%d is not a multiple of the patch size %d", arch, cfg->height,
                          cfg->width, v->patch);
    if (!(cfg->drop_path >= 0.0f && cfg->drop_path < 1.0f))
        return axnn_error(AXNN_ERR_ARG, "drop path rate must be in [0, 1) (got %g)", cfg->drop_path);
    v->drop_path = cfg->drop_path;
    return AXNN_OK;
}

/* Builds the network of arch into g from input x; sets g->info.arch. Returns the logits. */
static int build_net(axnn_graph *g, const char *arch, const axnn_model_cfg *cfg, int x, int classes,
                     axnn_rng *r)
{
    axnn_vit_cfg v;
    int pc;
    if (vit_arch(arch, &v, &pc)) {
        if (vit_patch(arch, cfg, &v)) return -1;
        v.num_classes = classes;
        const char *base = arch + (pc == 100 ? 9 : pc == 10 ? 8 : 0);
        int len = (int)strcspn(base + 4, "_") + 4; /* "vit_tiny" of "vit_tiny_p16" */
        snprintf(g->info.arch, sizeof g->info.arch, "%.*s_p%d", len, base, v.patch);
        return axnn_build_vit(g, x, &v, r);
    }
    bool resnet;
    int depth;
    const char *base;
    parse_arch(arch, &resnet, &depth, &pc, &base);
    snprintf(g->info.arch, sizeof g->info.arch, "%s", base);
    return resnet ? axnn_build_cifar_resnet(g, x, depth, classes, r) : axnn_build_cifar_vgg(g, x, depth, classes, r);
}

axnn_status axnn_model_build(const char *arch, const axnn_model_cfg *cfg, axnn_graph **out)
{
    *out = NULL;
    bool resnet = false, vit;
    int depth, classes = cfg->num_classes, prefix_classes;
    const char *base;
    axnn_vit_cfg v;
    vit = vit_arch(arch, &v, &prefix_classes);
    axnn_status pst = vit ? AXNN_OK : parse_arch(arch, &resnet, &depth, &prefix_classes, &base);
    if (pst) return pst;
    if (classes <= 0) classes = prefix_classes;
    if (classes < 2) return axnn_error(AXNN_ERR_ARG, "number of classes must be at least 2 (got %d)", classes);
    if (cfg->in_channels < 1 || cfg->height < 1 || cfg->width < 1)
        return axnn_error(AXNN_ERR_ARG, "bad input shape %dx%dx%d", cfg->in_channels, cfg->height, cfg->width);
    if (!resnet && !vit && (cfg->height % 32 || cfg->width % 32))
        return axnn_error(AXNN_ERR_ARG, "%s needs an input size divisible by 32 (got %dx%d)", arch,
                          cfg->height, cfg->width);

    axnn_graph *g = axnn_graph_new();
    if (!g) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    axnn_rng r;
    axnn_rng_seed(&r, cfg->seed);
    g->seed = cfg->seed ^ 0xd0d0d0d0ull;
    int x = axnn_input(g, cfg->in_channels, cfg->height, cfg->width);
    int y = build_net(g, arch, cfg, x, classes, &r);
    int lab = axnn_labels(g);
    if (y < 0 || lab < 0 || axnn_softmax_ce(g, y, lab, cfg->label_smoothing) < 0) {
        axnn_graph_free(g);
        return AXNN_ERR_ARG;
    }
    g->info.in_channels = cfg->in_channels;
    g->info.height = cfg->height;
    g->info.width = cfg->width;
    g->info.num_classes = classes;
    *out = g;
    return AXNN_OK;
}
