/* Opening a model for the CLI: from an axnn checkpoint (metadata says everything), from a plain
 * PyTorch safetensors export (--arch, --classes, --in-channels, --size, --mean, --std), both
 * through the inference API's axnn_model_load, or from an architecture name alone (fresh
 * weights). */
#include "model_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_model_flags(cli_model_args *a, cli_flag *f)
{
    int n = 0;
    f[n++] = (cli_flag){"arch", FLAG_STR, &a->arch, "NAME", "architecture (resnet20 ... vgg19_bn); for plain exports"};
    f[n++] = (cli_flag){"classes", FLAG_INT, &a->classes, "N", "number of classes", 2, 1e6};
    f[n++] = (cli_flag){"in-channels", FLAG_INT, &a->in_channels, "C", "input channels", 1, 4};
    f[n++] = (cli_flag){"size", FLAG_INT, &a->size, "S", "input height and width", 1, 4096};
    f[n++] = (cli_flag){"mean", FLAG_STR, &a->mean, "M,M,M", "per-channel normalization mean (plain exports)"};
    f[n++] = (cli_flag){"std", FLAG_STR, &a->std, "S,S,S", "per-channel normalization std (plain exports)"};
    return n;
}

static int parse_floats(const char *flag, const char *s, float *out, int n)
{
    const char *p = s;
    for (int i = 0; i < n; i++) {
        char *end;
        out[i] = strtof(p, &end);
        if (end == p) return cli_fail("--%s: expected %d comma-separated numbers, got '%s'", flag, n, s);
        p = end;
        if (i + 1 < n) {
            if (*p != ',') return cli_fail("--%s: expected %d comma-separated numbers, got '%s'", flag, n, s);
            p++;
        }
    }
    if (*p) return cli_fail("--%s: expected %d comma-separated numbers, got '%s'", flag, n, s);
    return 0;
}

int cli_build_model(const cli_model_args *a, axnn_graph **g)
{
    axnn_model_cfg mc = {a->in_channels > 0 ? a->in_channels : 3, a->size > 0 ? a->size : 32,
                         a->size > 0 ? a->size : 32, a->classes, 0.0f, a->seed};
    if (!a->arch) return cli_fail("--arch is needed");
    if (mc.num_classes <= 0 && strncmp(a->arch, "cifar", 5)) mc.num_classes = 10;
    axnn_status st = axnn_model_build(a->arch, &mc, g);
    return st ? cli_fail_status(st) : 0;
}

int cli_open_model(const char *path, cli_model_args *a, axnn_graph **g, axnn_ckpt_meta *meta)
{
    *g = NULL;
    /* a checkpoint fixes the normalization (the commands compare --mean/--std with it); a plain
     * export takes one value per input channel */
    axnn_st_file *f;
    axnn_status st = axnn_st_read(path, &f);
    if (st) return cli_fail_status(st);
    const bool plain = axnn_st_meta(f, "format") == NULL;
    axnn_st_close(f);
    float mean[4] = {0, 0, 0, 0}, sd[4] = {1, 1, 1, 1};
    const int nc = a->in_channels > 0 ? a->in_channels : 3;
    int rc = plain && a->mean ? parse_floats("mean", a->mean, mean, nc) : 0;
    if (!rc && plain && a->std) rc = parse_floats("std", a->std, sd, nc);
    if (rc) return rc;
    if (plain && !a->arch) return cli_fail("%s: a plain weights file needs --arch (and --classes)", path);
    axnn_open_cfg oc = {a->arch, a->classes, a->in_channels, a->size, mean, sd, 0};
    st = axnn_model_load(path, &oc, g, meta);
    if (st) return cli_fail_status(st);
    meta->have_norm = meta->have_norm || (plain && a->mean && a->std);
    return 0;
}
