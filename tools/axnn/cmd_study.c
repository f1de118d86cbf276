/* axnn study: the AxMoE characterization study (topologies x multipliers, before and after
 * approximation-aware retraining). With no flags it runs the default study: ResNet-20 on
 * Fashion-MNIST, dense + hard + soft + cluster MoE, eight built-in multipliers, sized to finish
 * within about 20 minutes on two cores (see docs/study.md). */
#include "cli.h"

#include "axnn/study.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 1024

static int parse_shard(const char *s, int *k, int *n)
{
    char *e;
    long a = strtol(s, &e, 10), b = 0;
    bool ok = e != s && *e == '/';
    if (ok) {
        const char *p = e + 1;
        b = strtol(p, &e, 10);
        ok = e != p && !*e && a >= 1 && a <= b && b <= MAX_SHARDS;
    }
    if (!ok) return cli_fail("--shard: expected K/N with 1 <= K <= N <= %d, got '%s'", MAX_SHARDS, s);
    *k = (int)a;
    *n = (int)b;
    return 0;
}

/* axnn study --merge DIR... --out DIR: the settings come from the shards, so other flags are refused. */
static int run_merge(const cli_flag *flags, int nf, const char *const *dirs, int ndirs, const char *out)
{
    for (int i = 0; i < nf; i++)
        if (flags[i].seen && strcmp(flags[i].name, "merge") && strcmp(flags[i].name, "out"))
            return cli_fail("--merge takes the settings from the shards' study.json: drop --%s", flags[i].name);
    if (ndirs < 1) return cli_fail("--merge: give the shard folders, e.g. axnn study --merge runs/s1 runs/s2 --out runs/s");
    if (!cli_flag_seen(flags, nf, "out")) return cli_fail("--merge: give the merged study's folder with --out DIR");
    axnn_status st = axnn_study_merge(dirs, ndirs, out);
    if (st) return cli_fail_status(st);
    printf("merged %d shard folder(s): report %s/report.md (results.csv, results.json, accuracy_by_multiplier.png, "
           "accuracy_vs_power.png)\n",
           ndirs, out);
    return 0;
}

typedef struct study_flags {
    const char *grad, *calib_method, *shard;
    bool merge;
} study_flags;

static int add_flags(axnn_study_cfg *c, study_flags *sf, cli_flag *f)
{
    int n = 0;
    f[n++] = (cli_flag){"arch", FLAG_STR, &c->arch, "NAME", "architecture (default resnet20; vgg11_bn, vgg19_bn, ...)"};
    f[n++] = (cli_flag){"data", FLAG_STR, &c->data, "NAME", "dataset (default fashion-mnist)"};
    f[n++] = (cli_flag){"data-dir", FLAG_STR, &c->data_dir, "DIR", "dataset folder"};
    f[n++] = (cli_flag){"topologies", FLAG_STR, &c->topologies, "T,T", "of dense, hard, soft, cluster (default all four)"};
    f[n++] = (cli_flag){"mul", FLAG_STR, &c->muls, "A,B,...", "multipliers (default exact,udm,trunc:6,mitchell,bam:2,6,drum:3,trunc:7,trunc:8)"};
    f[n++] = (cli_flag){"out", FLAG_STR, &c->out, "DIR", "study folder; an existing one is resumed (default runs/study)"};
    f[n++] = (cli_flag){"base", FLAG_STR, &c->base_path, "CKPT", "start from this trained dense checkpoint"};
    f[n++] = (cli_flag){"size", FLAG_INT, &c->size, "S", "model input size (default: the --base checkpoint's, else 32 for 28x28 data with CNNs, else the image size)", 0, 4096};
    f[n++] = (cli_flag){"base-epochs", FLAG_INT, &c->base_epochs, "N", "epochs of dense training (default 2)", 0, 1e6};
    f[n++] = (cli_flag){"base-images", FLAG_INT, &c->base_images, "N", "images per base epoch (default 0 = all)", 0, 1e9};
    f[n++] = (cli_flag){"base-lr", FLAG_FLOAT, &c->base_lr, "X", "base learning rate (default 0.1)", 0, 10};
    f[n++] = (cli_flag){"moe-epochs", FLAG_INT, &c->moe_epochs, "N", "float fine-tuning epochs of MoE topologies (default 1)", 0, 1e6};
    f[n++] = (cli_flag){"moe-images", FLAG_INT, &c->moe_images, "N", "images per MoE fine-tuning epoch (default 12800)", 0, 1e9};
    f[n++] = (cli_flag){"moe-lr", FLAG_FLOAT, &c->moe_lr, "X", "MoE fine-tuning learning rate (default 0.02)", 0, 10};
    f[n++] = (cli_flag){"calib", FLAG_INT, &c->calib, "N", "calibration images (default 512)", 1, 1e7};
    f[n++] = (cli_flag){"calib-method", FLAG_STR, &sf->calib_method, "M", "max, percentile or mse (default max)"};
    f[n++] = (cli_flag){"retrain-epochs", FLAG_INT, &c->retrain_epochs, "N", "retraining epochs per cell (default 1)", 0, 1e6};
    f[n++] = (cli_flag){"retrain-images", FLAG_INT, &c->retrain_images, "N", "images per retraining epoch (default 1280; 0 = all)", 0, 1e9};
    f[n++] = (cli_flag){"eval-images", FLAG_INT, &c->eval_images, "N", "test images per evaluation (default 1000; 0 = all)", 0, 1e9};
    f[n++] = (cli_flag){"cluster-images", FLAG_INT, &c->cluster_images, "N", "images for k-means (default 5000)", 0, 1e9};
    f[n++] = (cli_flag){"bn-images", FLAG_INT, &c->bn_images, "N", "re-estimate BatchNorm statistics after retraining on N images (default 512; 0 = off)", 0, 1e9};
    f[n++] = (cli_flag){"lr", FLAG_FLOAT, &c->lr, "X", "retraining learning rate (default 0.1)", 0, 10};
    f[n++] = (cli_flag){"wd", FLAG_FLOAT, &c->wd, "X", "weight decay (default 5e-4)", 0, 1};
    f[n++] = (cli_flag){"momentum", FLAG_FLOAT, &c->momentum, "X", "SGD momentum (default 0.9)", 0, 0.999};
    f[n++] = (cli_flag){"batch", FLAG_INT, &c->batch, "N", "batch size (default 128)", 1, 65536};
    f[n++] = (cli_flag){"grad", FLAG_STR, &sf->grad, "ste|table", "retraining gradient (default ste)"};
    f[n++] = (cli_flag){"compare-grad", FLAG_STR, &c->table_grad_muls, "A,B", "also retrain these (dense) with the other gradient (default trunc:7,bam:2,6; '' = none)"};
    f[n++] = (cli_flag){"experts", FLAG_INT, &c->moe.experts, "E", "experts per MoE unit (default 4)", 2, 16};
    f[n++] = (cli_flag){"moe-units", FLAG_STR, &c->moe.units, "U,U", "MoE units (default: the last block; e.g. layer3.2,layer2.2)"};
    f[n++] = (cli_flag){"expert-width", FLAG_FLOAT, &c->moe.width, "W", "expert hidden width relative to the unit (default 1)", 0.01, 1};
    f[n++] = (cli_flag){"aux-weight", FLAG_FLOAT, &c->moe.aux_weight, "X", "load-balancing loss weight (default 0.01)", 0, 100};
    f[n++] = (cli_flag){"gateway", FLAG_STR, &c->moe.gateway, "NAME", "cluster gateway: the nodes before this one (default layer1.1)"};
    f[n++] = (cli_flag){"seed", FLAG_U64, &c->seed, "N", "random seed (default 1)"};
    f[n++] = (cli_flag){"threads", FLAG_INT, &c->threads, "N", "threads (default: all cores)", 1, 1024};
    f[n++] = (cli_flag){"shard", FLAG_STR, &sf->shard, "K/N", "run only shard K of N (a fixed share of the cells; see docs/study.md)"};
    f[n++] = (cli_flag){"merge", FLAG_BOOL, &sf->merge, NULL, "build the report in --out from the shard folders given as arguments"};
    return n;
}

int cli_study(int argc, char **argv)
{
    axnn_study_cfg c;
    axnn_study_defaults(&c);
    c.table_grad_muls = "trunc:7,bam:2,6";
    study_flags sf = {"ste", "max", NULL, false};
    cli_flag flags[48];
    int nf = add_flags(&c, &sf, flags);
    static const char *pos[MAX_SHARDS];
    int npos;
    int rc = cli_parse("study", "[options] | --merge DIR... --out DIR", argc, argv, flags, nf, pos, MAX_SHARDS, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if (sf.merge) return run_merge(flags, nf, pos, npos, c.out);
    if (npos > 0) return cli_fail("study: unexpected argument '%s' (shard folders go with --merge)", pos[0]);
    if (sf.shard && parse_shard(sf.shard, &c.shard_k, &c.shard_n)) return 1;
    if (!strcmp(sf.grad, "table"))
        c.grad = AXNN_GRAD_TABLE;
    else if (strcmp(sf.grad, "ste"))
        return cli_fail("--grad: expected ste or table, got '%s'", sf.grad);
    bool ok;
    c.calib_method = axnn_calib_parse(sf.calib_method, &ok);
    if (!ok) return cli_fail("--calib-method: expected max, percentile or mse, got '%s'", sf.calib_method);
    if (c.table_grad_muls && !*c.table_grad_muls) c.table_grad_muls = NULL;
    if (c.threads <= 0) c.threads = axnn_default_threads();
    axnn_progress *prog = axnn_progress_new(stderr, 10.0);
    double t0 = axnn_now();
    axnn_status st = axnn_study_run(&c, prog);
    axnn_progress_free(prog);
    if (st) return cli_fail_status(st);
    if (c.shard_n > 0) {
        printf("shard %d/%d finished in %.0f s: cells in %s/cells; build the report with axnn study --merge "
               "SHARD_DIR... --out DIR\n",
               c.shard_k, c.shard_n, axnn_now() - t0, c.out);
        return 0;
    }
    printf("study finished in %.0f s: report %s/report.md (results.csv, results.json, accuracy_by_multiplier.png, "
           "accuracy_vs_power.png)\n",
           axnn_now() - t0, c.out);
    return 0;
}
