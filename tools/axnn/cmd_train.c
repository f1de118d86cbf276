/* axnn train: trains a model on a dataset, with checkpoints, metrics and resume. */
#include "model_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct train_opts {
    cli_model_args m;
    const char *data, *data_dir, *out, *metrics, *opt, *sched, *milestones;
    int epochs, batch, threads, crop_pad, eval_every, patch;
    float lr, momentum, wd, warmup, gamma, label_smoothing, clip, drop_path;
    bool nesterov, hflip, resume, decay_all;
} train_opts;

static int parse_milestones(const char *s, axnn_sched_cfg *sc)
{
    sc->nmilestones = 0;
    if (!s || !*s) return 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || sc->nmilestones == 8)
            return cli_fail("--milestones: expected up to 8 comma-separated epochs, got '%s'", s);
        sc->milestones[sc->nmilestones++] = (int)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return cli_fail("--milestones: expected comma-separated epochs, got '%s'", s);
    }
    return 0;
}

static int make_cfg(const train_opts *o, axnn_train_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->epochs = o->epochs;
    c->batch = o->batch;
    c->threads = o->threads;
    c->seed = o->m.seed;
    c->crop_pad = o->crop_pad;
    c->hflip = o->hflip;
    c->eval_every = o->eval_every;
    c->out_dir = o->out;
    c->metrics_path = o->metrics;
    c->dataset_name = o->data;
    c->resume = o->resume;
    if (!strcmp(o->opt, "sgd"))
        c->opt.kind = AXNN_OPT_SGD;
    else if (!strcmp(o->opt, "adamw"))
        c->opt.kind = AXNN_OPT_ADAMW;
    else
        return cli_fail("--opt: expected sgd or adamw, got '%s'", o->opt);
    c->opt.lr = o->lr;
    c->opt.momentum = c->opt.kind == AXNN_OPT_SGD ? o->momentum : 0.0f;
    c->opt.nesterov = c->opt.kind == AXNN_OPT_SGD && o->nesterov && o->momentum > 0;
    c->opt.weight_decay = o->wd;
    c->opt.beta1 = 0.9f;
    c->opt.beta2 = 0.999f;
    c->opt.eps = 1e-8f;
    c->opt.decay_all = o->decay_all;
    c->opt.clip_norm = o->clip;
    if (!strcmp(o->sched, "cosine"))
        c->sched.kind = AXNN_SCHED_COSINE;
    else if (!strcmp(o->sched, "multistep"))
        c->sched.kind = AXNN_SCHED_MULTISTEP;
    else if (!strcmp(o->sched, "constant"))
        c->sched.kind = AXNN_SCHED_CONSTANT;
    else
        return cli_fail("--sched: expected cosine, multistep or constant, got '%s'", o->sched);
    c->sched.warmup_epochs = o->warmup;
    c->sched.warmup_start = 0.01f;
    c->sched.gamma = o->gamma;
    return parse_milestones(o->milestones, &c->sched);
}

/* Flags that describe where and how fast a run goes, not what it computes: they are not saved
 * in the checkpoint, and on --resume they are taken from the command line. */
static const char *const run_flags[] = {"threads", "out", "resume", "metrics", NULL};

/* Training defaults of a model family for the flags not given on the command line (the flags'
 * own defaults are the CNN recipe). Vision Transformers train with AdamW, a linear warmup then
 * cosine, label smoothing, gradient clipping, and no weight decay on norms, biases and
 * embeddings (as DeiT and timm do). */
static const struct family_default {
    const char *prefix; /* of the architecture name, after an optional cifar10_/cifar100_ */
    const char *flag, *value;
} family_defaults[] = {
    {"vit_", "opt", "adamw"},      {"vit_", "lr", "1e-3"},  {"vit_", "wd", "0.05"},
    {"vit_", "warmup", "2"},       {"vit_", "label-smoothing", "0.1"},
    {"vit_", "clip", "1"},         {"vit_", "decay-all", "false"},
};

/* Sets flag `name` (not given on the command line) to a constant value. */
static void set_default(cli_flag *flags, int nf, const char *name, const char *value)
{
    for (int i = 0; i < nf; i++) {
        cli_flag *f = &flags[i];
        if (strcmp(f->name, name) || f->seen) continue;
        switch (f->type) {
        case FLAG_STR: *(const char **)f->dst = value; break;
        case FLAG_INT: *(int *)f->dst = (int)strtol(value, NULL, 10); break;
        case FLAG_FLOAT: *(float *)f->dst = strtof(value, NULL); break;
        case FLAG_BOOL: *(bool *)f->dst = !strcmp(value, "true"); break;
        case FLAG_U64: *(uint64_t *)f->dst = strtoull(value, NULL, 10); break;
        }
    }
}

static const char *arch_base(const char *arch)
{
    return !strncmp(arch, "cifar100_", 9) ? arch + 9 : !strncmp(arch, "cifar10_", 8) ? arch + 8 : arch;
}

static void apply_family_defaults(cli_flag *flags, int nf, const char *arch)
{
    const char *base = arch_base(arch);
    for (size_t i = 0; i < sizeof family_defaults / sizeof family_defaults[0]; i++)
        if (!strncmp(base, family_defaults[i].prefix, strlen(family_defaults[i].prefix)))
            set_default(flags, nf, family_defaults[i].flag, family_defaults[i].value);
}

/* On --resume, the flags not given again come from the checkpoint's saved configuration. */
static int apply_saved(cli_flag *flags, int nf, const char *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", out);
    if (access(path, F_OK) != 0) return 0;
    axnn_st_file *f;
    axnn_status st = axnn_st_read(path, &f);
    if (st) return cli_fail_status(st);
    axnn_ckpt_meta m; /* ranges checked now, before any data is read */
    st = axnn_checkpoint_read_meta(f, &m);
    if (st) {
        axnn_st_close(f);
        return cli_fail_status(st);
    }
    const char *json = axnn_st_meta(f, "train");
    int rc = json ? cli_flags_apply_json(flags, nf, json, run_flags) : 0;
    axnn_st_close(f);
    return rc;
}

/* Before any data is read or an epoch runs: the output folder must be creatable and writable,
 * and --metrics a regular file in such a folder (not a device, a FIFO, a folder). */
static int check_outputs(const train_opts *o)
{
    axnn_status st = axnn_check_out_dir(o->out, "--out");
    if (!st && o->metrics) st = axnn_check_out_file(o->metrics, "--metrics");
    return st ? cli_fail_status(st) : 0;
}

static int load_data(const train_opts *o, axnn_dataset *tr, axnn_dataset *te)
{
    axnn_status st = axnn_dataset_load(o->data, o->data_dir, true, tr);
    if (st) return cli_fail_status(st);
    st = axnn_dataset_load(o->data, o->data_dir, false, te);
    if (st) {
        axnn_dataset_free(tr);
        return cli_fail_status(st);
    }
    return 0;
}

int cli_train(int argc, char **argv)
{
    train_opts o = {.data = "fashion-mnist", .opt = "sgd", .sched = "cosine", .milestones = "",
                    .epochs = 15, .batch = 128, .threads = axnn_default_threads(), .crop_pad = 4,
                    .eval_every = 1, .lr = 0.1f, .momentum = 0.9f, .wd = 5e-4f, .gamma = 0.1f,
                    .nesterov = true, .hflip = true, .decay_all = true};
    o.m.arch = "resnet20";
    o.m.seed = 1;
    cli_flag flags[48];
    int nf = 0;
    flags[nf++] = (cli_flag){"arch", FLAG_STR, &o.m.arch, "NAME", "architecture: resnet20|32|44|56, vgg11_bn|13_bn|16_bn|19_bn, vit_tiny|small|mini (default resnet20); vit_* change the defaults of the flags not given to --opt adamw --lr 1e-3 --wd 0.05 --warmup 2 --label-smoothing 0.1 --clip 1 --decay-all=false"};
    flags[nf++] = (cli_flag){"patch", FLAG_INT, &o.patch, "P", "ViT patch size (default: 4 up to 32x32 inputs, 8 up to 64x64, else 16)", 0, 1024};
    flags[nf++] = (cli_flag){"drop-path", FLAG_FLOAT, &o.drop_path, "X", "ViT stochastic depth rate of the last block (default 0)", 0, 0.999};
    flags[nf++] = (cli_flag){"data", FLAG_STR, &o.data, "NAME", "dataset: fashion-mnist, mnist, cifar10, cifar100, cifar100-coarse, tinyimagenet"};
    flags[nf++] = (cli_flag){"data-dir", FLAG_STR, &o.data_dir, "DIR", "dataset folder (default: the dataset's standard place)"};
    flags[nf++] = (cli_flag){"size", FLAG_INT, &o.m.size, "S", "model input size; images are zero-padded to it (default 0 = auto: 32 for 28x28 data with CNNs, else the image size)", 0, 4096};
    flags[nf++] = (cli_flag){"classes", FLAG_INT, &o.m.classes, "N", "output classes (default 0 = the dataset's)", 0, 1e6};
    flags[nf++] = (cli_flag){"epochs", FLAG_INT, &o.epochs, "N", "epochs (default 15)", 1, 1e6};
    flags[nf++] = (cli_flag){"batch", FLAG_INT, &o.batch, "N", "batch size (default 128)", 1, 65536};
    flags[nf++] = (cli_flag){"opt", FLAG_STR, &o.opt, "sgd|adamw", "optimizer (default sgd)"};
    flags[nf++] = (cli_flag){"lr", FLAG_FLOAT, &o.lr, "X", "base learning rate (default 0.1)", 0, 100};
    flags[nf++] = (cli_flag){"momentum", FLAG_FLOAT, &o.momentum, "X", "SGD momentum (default 0.9)", 0, 0.999999};
    flags[nf++] = (cli_flag){"nesterov", FLAG_BOOL, &o.nesterov, NULL, "Nesterov momentum (default on; --nesterov=false)"};
    flags[nf++] = (cli_flag){"wd", FLAG_FLOAT, &o.wd, "X", "weight decay (default 5e-4)", 0, 10};
    flags[nf++] = (cli_flag){"decay-all", FLAG_BOOL, &o.decay_all, NULL, "decay norms and biases too (default on)"};
    flags[nf++] = (cli_flag){"sched", FLAG_STR, &o.sched, "KIND", "cosine, multistep or constant (default cosine)"};
    flags[nf++] = (cli_flag){"warmup", FLAG_FLOAT, &o.warmup, "EPOCHS", "linear warmup epochs (default 0)", 0, 1e6};
    flags[nf++] = (cli_flag){"milestones", FLAG_STR, &o.milestones, "E,E", "multistep: epochs where lr *= gamma"};
    flags[nf++] = (cli_flag){"gamma", FLAG_FLOAT, &o.gamma, "X", "multistep factor (default 0.1)", 0, 1};
    flags[nf++] = (cli_flag){"label-smoothing", FLAG_FLOAT, &o.label_smoothing, "X", "label smoothing (default 0)", 0, 1};
    flags[nf++] = (cli_flag){"clip", FLAG_FLOAT, &o.clip, "X", "clip the gradient norm to X (default off)", 0, 1e9};
    flags[nf++] = (cli_flag){"crop-pad", FLAG_INT, &o.crop_pad, "P", "random crop padding (default 4; 0 = off)", 0, 64};
    flags[nf++] = (cli_flag){"hflip", FLAG_BOOL, &o.hflip, NULL, "random horizontal flips (default on)"};
    flags[nf++] = (cli_flag){"seed", FLAG_U64, &o.m.seed, "N", "random seed (default 1)"};
    flags[nf++] = (cli_flag){"threads", FLAG_INT, &o.threads, "N", "threads (default: all cores)", 1, 1024};
    flags[nf++] = (cli_flag){"eval-every", FLAG_INT, &o.eval_every, "N", "test every N epochs (default 1; 0 = at the end)", 0, 1e6};
    flags[nf++] = (cli_flag){"out", FLAG_STR, &o.out, "DIR", "output folder (default runs/<arch>-<data>)"};
    flags[nf++] = (cli_flag){"metrics", FLAG_STR, &o.metrics, "FILE", "per-epoch JSON lines (default <out>/metrics.jsonl)"};
    flags[nf++] = (cli_flag){"resume", FLAG_BOOL, &o.resume, NULL, "continue from <out>/checkpoint.safetensors"};
    const char *pos[1];
    int npos;
    int rc = cli_parse("train", "[options]", argc, argv, flags, nf, pos, 0, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    char outbuf[512];
    if (!o.out) {
        snprintf(outbuf, sizeof outbuf, "runs/%s-%s", o.m.arch, o.data);
        o.out = outbuf;
    }
    apply_family_defaults(flags, nf, o.m.arch);
    if (check_outputs(&o)) return 1;
    if (o.resume && apply_saved(flags, nf, o.out)) return 1;
    axnn_train_cfg cfg;
    if (make_cfg(&o, &cfg)) return 1;

    axnn_status chk = axnn_model_check(o.m.arch);
    if (chk) return cli_fail_status(chk);
    axnn_dataset tr = {0}, te = {0};
    if (load_data(&o, &tr, &te)) return 1;
    axnn_preproc pp = {0};
    axnn_dataset_channel_stats(&tr, pp.mean, pp.std);
    int size = o.m.size > 0 ? o.m.size : axnn_model_default_size(o.m.arch, tr.h, tr.w);
    if (size < tr.h || size < tr.w) {
        axnn_dataset_free(&tr);
        axnn_dataset_free(&te);
        return cli_fail("--size %d is smaller than the %dx%d images", size, tr.h, tr.w);
    }
    pp.out_h = pp.out_w = size;
    axnn_model_cfg mc = {tr.c, size, size, o.m.classes > 0 ? o.m.classes : tr.num_classes, o.label_smoothing,
                         o.m.seed, o.patch, o.drop_path};
    axnn_graph *g = NULL;
    axnn_status st = axnn_model_build(o.m.arch, &mc, &g);
    char *json = cli_flags_to_json(flags, nf, run_flags);
    cfg.config_json = json;
    axnn_progress *prog = axnn_progress_new(stderr, 10.0);
    axnn_train_result res;
    if (!st) {
        axnn_log(AXNN_LOG_INFO, "training %s on %s (%lld images, %dx%dx%d padded to %d) for %d epochs, %d threads, "
                 "out %s", g->info.arch, tr.name, (long long)tr.n, tr.c, tr.h, tr.w, size, cfg.epochs, cfg.threads,
                 o.out);
        st = axnn_train(g, &tr, &te, &pp, &cfg, prog, &res);
    }
    rc = st ? cli_fail_status(st) : 0;
    if (!st)
        printf("%s on %s: test accuracy %.2f%% (%lld images), train loss %.4f, %.1f img/s, %d epochs, "
               "model %s/model.safetensors\n",
               g->info.arch, tr.name, 100.0 * res.test.accuracy, (long long)res.test.n, res.train_loss,
               res.images_per_second, res.epochs_done, o.out);
    free(json);
    axnn_progress_free(prog);
    axnn_graph_free(g);
    axnn_dataset_free(&tr);
    axnn_dataset_free(&te);
    return rc;
}
