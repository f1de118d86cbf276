/* axnn dispatch: PERTINENCE input-adaptive dispatch (docs/dispatch.md). Builds and profiles a
 * zoo (or reuses one with --zoo), searches the dispatcher's settings with NSGA-II and writes
 * the report. `axnn dispatch zoo` stops after the zoo; `axnn dispatch run` classifies the test set
 * with a front point, really running each model only on the inputs routed to it. */
#include "cli.h"

#include "axnn/dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct dispatch_opts {
    const char *data, *data_dir, *models, *extractor, *out, *zoo, *none, *route_all;
    int point, run_images, interval;
    float change, pixel_w, hist_w;
    int epochs, batch, val, profile, train_images, test_images, pop, gens, fc_epochs, fc_batch,
        threads;
    float lr, fc_lr;
    uint64_t seed;
    bool published, sweep;
} dispatch_opts;

#define MAX_MODELS 8

static int split_models(char *list, const char **out)
{
    int n = 0;
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        if (n == MAX_MODELS) return cli_fail("--models: at most %d models", MAX_MODELS);
        out[n++] = tok;
    }
    if (n < 2) return -cli_fail("--models: give at least 2 comma-separated models, got '%s'", list);
    return n;
}

static int find_extractor(const char *name, const char *const *models, int n)
{
    if (!name) return -1;
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(models[i], '=');
        size_t len = eq ? (size_t)(eq - models[i]) : strlen(models[i]);
        if (strlen(name) == len && !strncmp(models[i], name, len)) return i;
    }
    return -2;
}

static int build_zoo(const dispatch_opts *o, axnn_progress *prog, axnn_zoo *z)
{
    char *list = strdup(o->models);
    const char *models[MAX_MODELS];
    int n = list ? split_models(list, models) : 0;
    if (n < 2) { /* the error is printed */
        free(list);
        return 1;
    }
    int ext = find_extractor(o->extractor, models, n);
    if (ext == -2) {
        free(list);
        return cli_fail("--extractor: '%s' is none of --models", o->extractor);
    }
    axnn_dataset tr = {0}, te = {0};
    axnn_status st = axnn_dataset_load(o->data, o->data_dir, true, &tr);
    if (!st) st = axnn_dataset_load(o->data, o->data_dir, false, &te);
    axnn_zoo_cfg zc = {
        models,          n,          ext,    o->epochs,      o->batch, o->threads, o->lr,
        o->train_images, o->profile, o->val, o->test_images, o->seed,  o->out};
    if (!st) st = axnn_zoo_build(&tr, &te, &zc, prog, z);
    axnn_dataset_free(&tr);
    axnn_dataset_free(&te);
    free(list);
    return st ? cli_fail_status(st) : 0;
}

static int parse_none(const char *s, axnn_none_policy *p)
{
    if (!strcmp(s, "accurate"))
        *p = AXNN_NONE_ACCURATE;
    else if (!strcmp(s, "cheapest"))
        *p = AXNN_NONE_CHEAPEST;
    else if (!strcmp(s, "dearest"))
        *p = AXNN_NONE_DEAREST;
    else
        return cli_fail("--none: expected accurate, cheapest or dearest, got '%s'", s);
    return 0;
}

static void print_summary(const axnn_zoo *z, const axnn_search_result *r,
                          const axnn_dispatch_summary *s, const char *out)
{
    printf("best single model %s: %.2f%% at %.2f MMACs (test)\n", z->models[s->best].name,
           100 * s->best_acc, s->best_macs / 1e6);
    printf("plain-CE dispatcher: %.2f%% at %.2f MMACs\n", 100 * r->plain.acc[AXNN_SPLIT_TEST],
           r->plain.macs[AXNN_SPLIT_TEST] / 1e6);
    for (int k = 0; k < r->nfront; k++)
        printf("front %d: %.2f%% at %.2f MMACs (%.2fx best), val %.2f%%\n", k,
               100 * r->front[k].acc[AXNN_SPLIT_TEST], r->front[k].macs[AXNN_SPLIT_TEST] / 1e6,
               r->front[k].macs[AXNN_SPLIT_TEST] / s->best_macs,
               100 * r->front[k].acc[AXNN_SPLIT_VAL]);
    if (s->hit >= 0)
        printf("target met: front %d at %.2fx the best model's MACs\n", s->hit, s->hit_ratio);
    else
        printf("target not met: cheapest front point at the best accuracy %.2fx (0 = none); best "
               "at <= 0.64x %.2f%%\n",
               s->min_ratio, 100 * s->acc_at_064);
    printf("front points above the cascade: %d of %d (largest margin %+.2f points)\n",
           s->above_cascade, r->nfront, 100 * s->max_margin);
    printf("report %s/report.md\n", out);
}

static int search_and_report(const dispatch_opts *o, const axnn_zoo *z, axnn_progress *prog,
                             double t0)
{
    axnn_search_cfg sc = {.pop = o->pop,
                          .gens = o->gens,
                          .fc = {o->fc_epochs, o->fc_batch, o->fc_lr, 0.0f, o->seed},
                          .threads = o->threads,
                          .seed = o->seed};
    if (parse_none(o->none, &sc.none)) return 1;
    char state[4200];
    snprintf(state, sizeof state, "%s/search.json", o->out);
    sc.state_path = state;
    axnn_search_result r;
    axnn_status st = axnn_dispatch_search(z, &sc, prog, &r);
    if (st) return cli_fail_status(st);
    char note[512];
    snprintf(note, sizeof note,
             "Search: population %d, %d generations, %d dispatcher epochs per individual (lr %g, "
             "batch %d), seed %llu. "
             "Wall time of this run: %.0f s.",
             sc.pop, sc.gens, sc.fc.epochs, sc.fc.lr, sc.fc.batch, (unsigned long long)sc.seed,
             axnn_now() - t0);
    axnn_dispatch_summary sum;
    snprintf(state, sizeof state, "%s/front.json", o->out);
    st = axnn_front_save(&r, z->m, state);
    if (!st) st = axnn_dispatch_report(z, &r, o->out, note, &sum);
    if (!st) print_summary(z, &r, &sum, o->out);
    axnn_search_result_free(&r);
    return st ? cli_fail_status(st) : 0;
}

static int add_flags(dispatch_opts *o, cli_flag *f)
{
    int n = 0;
    f[n++] = (cli_flag){"data", FLAG_STR, &o->data, "NAME", "dataset (default fashion-mnist)"};
    f[n++] = (cli_flag){"data-dir", FLAG_STR, &o->data_dir, "DIR", "dataset folder"};
    f[n++] = (cli_flag){"models", FLAG_STR, &o->models, "A,B,...",
                        "zoo: architectures or NAME=CHECKPOINT (default "
                        "resnet8,resnet14,resnet20,resnet32,resnet44)"};
    f[n++] =
        (cli_flag){"extractor", FLAG_STR, &o->extractor, "NAME",
                   "zoo model whose pooled features feed the dispatcher (default: the cheapest)"};
    f[n++] = (cli_flag){
        "epochs", FLAG_INT, &o->epochs, "N", "training epochs per zoo model (default 2)", 1, 1e6};
    f[n++] = (cli_flag){"batch",
                        FLAG_INT,
                        &o->batch,
                        "N",
                        "training batch (default 64: more steps for the brief training)",
                        1,
                        65536};
    f[n++] = (cli_flag){
        "lr", FLAG_FLOAT, &o->lr, "X", "zoo SGD learning rate, cosine schedule (default 0.1)",
        0,    100};
    f[n++] =
        (cli_flag){"train-images",
                   FLAG_INT,
                   &o->train_images,
                   "N",
                   "images the zoo models train on (default 10000; 0 = the rest of the train set)",
                   0,
                   1e9};
    f[n++] = (cli_flag){"profile-images",
                        FLAG_INT,
                        &o->profile,
                        "N",
                        "train-set images the dispatcher trains on (default 6000)",
                        0,
                        1e9};
    f[n++] = (cli_flag){
        "val", FLAG_INT, &o->val, "N", "validation images carved from the train set (default 3000)",
        0,     1e9};
    f[n++] = (cli_flag){"test-images",
                        FLAG_INT,
                        &o->test_images,
                        "N",
                        "test images for the final report (default 0 = all)",
                        0,
                        1e9};
    f[n++] = (cli_flag){"zoo", FLAG_STR, &o->zoo, "FILE",
                        "reuse a profiled zoo file instead of building one"};
    f[n++] =
        (cli_flag){"pop", FLAG_INT, &o->pop, "N", "NSGA-II population, even (default 24)", 4, 1024};
    f[n++] =
        (cli_flag){"gens", FLAG_INT, &o->gens, "N", "NSGA-II generations (default 25)", 0, 1e6};
    f[n++] = (cli_flag){
        "fc-epochs", FLAG_INT, &o->fc_epochs, "N", "dispatcher epochs per individual (default 8)",
        1,           1e6};
    f[n++] = (cli_flag){"fc-batch", FLAG_INT, &o->fc_batch, "N", "dispatcher batch (default 128)",
                        1,          1 << 20};
    f[n++] = (cli_flag){
        "fc-lr", FLAG_FLOAT, &o->fc_lr, "X", "dispatcher Adam learning rate (default 0.01)", 0, 10};
    f[n++] = (cli_flag){"none", FLAG_STR, &o->none, "POLICY",
                        "label of samples no model gets right: accurate (the most accurate model), "
                        "cheapest, dearest (default accurate)"};
    f[n++] = (cli_flag){"published", FLAG_BOOL, &o->published, NULL,
                        "the paper's search settings: --pop 50 --gens 50 --fc-epochs 20"};
    f[n++] = (cli_flag){"seed", FLAG_U64, &o->seed, "N", "random seed (default 1)"};
    f[n++] =
        (cli_flag){"threads", FLAG_INT, &o->threads, "N", "threads (default: all cores)", 1, 1024};
    f[n++] = (cli_flag){"point",
                        FLAG_INT,
                        &o->point,
                        "K",
                        "run: the front point to run (default 0; -1 = the plain-CE dispatcher)",
                        -1e6,
                        1e6};
    f[n++] = (cli_flag){"route-all", FLAG_STR, &o->route_all, "NAME",
                        "run: send every input to this zoo model instead"};
    f[n++] = (cli_flag){
        "sweep", FLAG_BOOL, &o->sweep, NULL,
        "run: every front point and the plain-CE dispatcher, one line each, into <out>/run.csv"};
    f[n++] = (cli_flag){"interval",
                        FLAG_INT,
                        &o->interval,
                        "D",
                        "run, streams: the dispatcher on every D-th frame only, the others reuse "
                        "its choice (default 0 = every frame)",
                        0,
                        1e9};
    f[n++] = (cli_flag){"change",
                        FLAG_FLOAT,
                        &o->change,
                        "T",
                        "run, streams: also dispatch when the change score passes T (default 0 = "
                        "off; 0.1 is a start)",
                        0,
                        1};
    f[n++] = (cli_flag){"pixel-weight",
                        FLAG_FLOAT,
                        &o->pixel_w,
                        "W",
                        "change score: weight of the mean pixel difference (default 0.5)",
                        0,
                        1e6};
    f[n++] = (cli_flag){"hist-weight",
                        FLAG_FLOAT,
                        &o->hist_w,
                        "W",
                        "change score: weight of the 16-bin histogram difference (default 0.5)",
                        0,
                        1e6};
    f[n++] = (cli_flag){"run-images",
                        FLAG_INT,
                        &o->run_images,
                        "N",
                        "run: first N test images (default 0 = all)",
                        0,
                        1e9};
    f[n++] =
        (cli_flag){"out", FLAG_STR, &o->out, "DIR", "output folder (default runs/dispatch-<data>)"};
    return n;
}

/* The dispatcher of run: a front point's (re-trained, deterministically) or a constant route. */
static int run_dispatcher(const dispatch_opts *o, const axnn_zoo *z, axnn_fc *fc, char *what,
                          size_t n)
{
    axnn_status st;
    if (o->route_all) {
        int j = -1;
        for (int k = 0; k < z->m; k++)
            if (!strcmp(z->models[k].name, o->route_all)) j = k;
        if (j < 0) return cli_fail("--route-all: '%s' is not a model of the zoo", o->route_all);
        snprintf(what, n, "everything to %s", o->route_all);
        st = axnn_fc_constant(z->d, z->m, j, fc);
    } else {
        char path[4200];
        snprintf(path, sizeof path, "%s/front.json", o->out);
        axnn_disp_genes g;
        axnn_fc_cfg fcc;
        axnn_none_policy none;
        int np;
        st = axnn_front_load(path, z->m, o->point, &g, &fcc, &none, &np);
        if (!st) st = axnn_dispatch_train(z, &g, &fcc, none, fc);
        if (o->point < 0)
            snprintf(what, n, "plain-CE dispatcher");
        else
            snprintf(what, n, "front point %d of %d", o->point, np);
    }
    return st ? cli_fail_status(st) : 0;
}

/* --sweep: every point (plain CE first), wall time per image against mean MACs, into run.csv. */
static int run_sweep(const dispatch_opts *o, const axnn_zoo *z, const axnn_dataset *te,
                     axnn_progress *prog)
{
    char path[4200], *csv = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&csv, &len);
    if (!f) return cli_fail("out of memory");
    fprintf(f, "point,accuracy,mean_macs,ms_per_image,images_per_second\n");
    axnn_run_cfg rc = {
        32,         o->threads,  o->run_images > 0 ? o->run_images : z->split[AXNN_SPLIT_TEST].n,
        false,      o->interval, o->change,
        o->pixel_w, o->hist_w};
    int np = 1, rcode = 0;
    for (int k = -1; k < np && !rcode; k++) {
        axnn_fc fc = {0};
        char what[128];
        snprintf(path, sizeof path, "%s/front.json", o->out);
        axnn_disp_genes g;
        axnn_fc_cfg fcc;
        axnn_none_policy none;
        axnn_status st = axnn_front_load(path, z->m, k, &g, &fcc, &none, &np);
        if (!st) st = axnn_dispatch_train(z, &g, &fcc, none, &fc);
        axnn_run_result r;
        if (!st) st = axnn_dispatch_run(z, &fc, te, &rc, prog, &r);
        axnn_fc_free(&fc);
        if (st) {
            rcode = cli_fail_status(st);
            break;
        }
        snprintf(what, sizeof what, k < 0 ? "plain" : "front%d", k);
        fprintf(f, "%s,%.6f,%.1f,%.4f,%.1f\n", what, r.acc, r.mean_macs,
                1e3 * r.seconds / (double)r.n, r.n / r.seconds);
        printf("%-8s accuracy %.2f%%, mean %.2f MMACs, %.3f ms/img\n", what, 100 * r.acc,
               r.mean_macs / 1e6, 1e3 * r.seconds / (double)r.n);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/run.csv", o->out);
    axnn_status st = rcode ? AXNN_OK : axnn_write_file_atomic(path, csv, len);
    free(csv);
    if (!rcode && st) rcode = cli_fail_status(st);
    if (!rcode) printf("run %s\n", path);
    return rcode;
}

static int run_mode(const dispatch_opts *o, const axnn_zoo *z, axnn_progress *prog)
{
    if (o->sweep) {
        axnn_dataset te = {0};
        axnn_status st = axnn_dataset_load(o->data, o->data_dir, false, &te);
        int rc = st ? cli_fail_status(st) : run_sweep(o, z, &te, prog);
        axnn_dataset_free(&te);
        return rc;
    }
    axnn_fc fc = {0};
    char what[128];
    int rc = run_dispatcher(o, z, &fc, what, sizeof what);
    if (rc) return rc;
    axnn_dataset te = {0};
    axnn_status st = axnn_dataset_load(o->data, o->data_dir, false, &te);
    axnn_run_cfg rc2 = {
        32,         o->threads,  o->run_images > 0 ? o->run_images : z->split[AXNN_SPLIT_TEST].n,
        true,       o->interval, o->change,
        o->pixel_w, o->hist_w};
    axnn_run_result r;
    if (!st) st = axnn_dispatch_run(z, &fc, &te, &rc2, prog, &r);
    if (!st) {
        printf("dispatch run (%s) on %lld %s test images: accuracy %.2f%%, mean %.2f MMACs, %.1f "
               "img/s (%.3f ms/img)\n",
               what, (long long)r.n, z->dataset, 100 * r.acc, r.mean_macs / 1e6, r.n / r.seconds,
               1e3 * r.seconds / (double)r.n);
        if (o->interval > 0 || o->change > 0)
            printf("stream: the dispatcher ran on %lld of %lld frames\n", (long long)r.keyframes,
                   (long long)r.n);
        printf("shares:");
        for (int j = 0; j < z->m; j++)
            printf(" %s %.1f%%", z->models[j].name, 100.0 * (double)r.share[j] / (double)r.n);
        printf("\n");
        for (int j = 0; j < z->m; j++)
            printf("alone %s: accuracy %.2f%%, %.2f MMACs, %.1f img/s (%.3f ms/img)\n",
                   z->models[j].name, 100 * r.alone_acc[j], z->models[j].macs / 1e6,
                   r.n / r.alone_seconds[j], 1e3 * r.alone_seconds[j] / (double)r.n);
    }
    axnn_dataset_free(&te);
    axnn_fc_free(&fc);
    return st ? cli_fail_status(st) : 0;
}

int cli_dispatch(int argc, char **argv)
{
    dispatch_opts o = {.data = "fashion-mnist",
                       .models = "resnet8,resnet14,resnet20,resnet32,resnet44",
                       .none = "accurate",
                       .epochs = 2,
                       .batch = 64,
                       .val = 3000,
                       .profile = 6000,
                       .train_images = 10000,
                       .pop = 24,
                       .gens = 25,
                       .fc_epochs = 8,
                       .fc_batch = 128,
                       .threads = axnn_default_threads(),
                       .lr = 0.1f,
                       .fc_lr = 0.01f,
                       .seed = 1,
                       .pixel_w = 0.5f,
                       .hist_w = 0.5f};
    cli_flag flags[40];
    int nf = add_flags(&o, flags);
    const char *pos[1];
    int npos;
    int rc = cli_parse("dispatch", "[zoo|run] [options]", argc, argv, flags, nf, pos, 1, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    bool zoo_only = npos == 1 && !strcmp(pos[0], "zoo"), run = npos == 1 && !strcmp(pos[0], "run");
    if (npos == 1 && !zoo_only && !run)
        return cli_fail("dispatch: unknown mode '%s' (expected zoo, run, or nothing)", pos[0]);
    if (o.published) o.pop = 50, o.gens = 50, o.fc_epochs = 20;
    o.pop += o.pop & 1;
    char outbuf[512];
    if (!o.out) {
        snprintf(outbuf, sizeof outbuf, "runs/dispatch-%s", o.data);
        o.out = outbuf;
    }
    if (zoo_only && o.zoo)
        return cli_fail("dispatch zoo: --zoo reuses a zoo; give one or the other");
    char zoobuf[4200];
    if (run && !o.zoo) {
        snprintf(zoobuf, sizeof zoobuf, "%s/zoo.safetensors", o.out);
        o.zoo = zoobuf;
    }
    double t0 = axnn_now();
    axnn_progress *prog = axnn_progress_new(stderr, 10.0);
    axnn_zoo z;
    memset(&z, 0, sizeof z);
    axnn_status st = AXNN_OK;
    if (o.zoo) {
        st = axnn_zoo_load(o.zoo, &z);
        if (!st) axnn_zoo_sort(&z);
        rc = st ? cli_fail_status(st) : 0;
        if (!rc && mkdir(o.out, 0777) && access(o.out, W_OK))
            rc = cli_fail("--out: cannot create folder %s", o.out);
    } else {
        rc = build_zoo(&o, prog, &z);
    }
    if (!rc && run)
        rc = run_mode(&o, &z, prog);
    else if (!rc && zoo_only)
        printf("zoo of %d models, %s/zoo.safetensors\n", z.m, o.out);
    else if (!rc)
        rc = search_and_report(&o, &z, prog, t0);
    axnn_zoo_free(&z);
    axnn_progress_free(prog);
    return rc;
}
