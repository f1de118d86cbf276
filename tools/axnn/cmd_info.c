/* axnn info: a per-layer table of a model's output shapes, parameters and MACs, with totals.
 * The argument is a checkpoint, or an architecture name (`axnn info resnet20` is `axnn info
 * --arch resnet20`) when no file of that name exists. */
#include "model_args.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void print_table(const axnn_graph *g)
{
    printf("%-4s %-28s %-15s %-20s %12s %14s\n", "#", "layer", "op", "output", "params", "MACs");
    for (int k = 0; k < g->nnodes; k++) {
        const axnn_node *nd = &g->nodes[k];
        const axnn_value *y = &g->vals[nd->out];
        if (nd->out == g->loss) continue;
        char shape[64];
        axnn_shape s = y->shape;
        if (y->flags & AXNN_VF_BATCHED) s.d[0] = 1;
        axnn_shape_str(&s, shape, sizeof shape);
        printf("%-4d %-28s %-15s %-20s %12" PRId64 " %14" PRId64 "\n", k, nd->name, axnn_node_op_name(nd), shape,
               axnn_node_params(g, nd), axnn_node_macs(g, nd));
    }
    printf("total: %" PRId64 " parameters, %" PRId64 " MACs per image (%.2f M params, %.2f M MACs)\n",
           axnn_graph_params(g), axnn_graph_macs(g), axnn_graph_params(g) / 1e6, axnn_graph_macs(g) / 1e6);
}

int cli_info(int argc, char **argv)
{
    cli_model_args m = {0};
    cli_flag flags[8];
    int nf = cli_model_flags(&m, flags);
    const char *pos[1];
    int npos;
    int rc = cli_parse("info", "[CHECKPOINT] [--arch NAME --classes N --in-channels C --size S]", argc, argv,
                       flags, nf, pos, 1, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    axnn_graph *g = NULL;
    struct stat sb;
    bool name_like = npos == 1 && !strpbrk(pos[0], "/."); /* architecture names hold neither */
    if (name_like && stat(pos[0], &sb) && errno == ENOENT) {
        if (axnn_model_check(pos[0])) return cli_fail("%s: no such file, nor an architecture (%s)", pos[0], axnn_last_error());
        if (m.arch) return cli_fail("info: '%s' and --arch %s both name an architecture: give one", pos[0], m.arch);
        m.arch = pos[0]; /* an architecture name, not a file */
        npos = 0;
    }
    if (npos == 1) {
        axnn_ckpt_meta meta;
        if ((rc = cli_open_model(pos[0], &m, &g, &meta))) return rc;
        printf("%s: %s, %d classes, input %dx%dx%d%s%s\n", pos[0], g->info.arch, g->info.num_classes,
               g->info.in_channels, g->info.height, g->info.width, meta.dataset[0] ? ", trained on " : "",
               meta.dataset);
    } else {
        if (!m.arch) m.arch = "resnet20";
        if ((rc = cli_build_model(&m, &g))) return rc;
        printf("%s, %d classes, input %dx%dx%d\n", g->info.arch, g->info.num_classes, g->info.in_channels,
               g->info.height, g->info.width);
    }
    print_table(g);
    axnn_graph_free(g);
    return 0;
}
