/* bench_engine: training and inference throughput of the axnn engine.
 *
 * For each model (resnet20 and vgg11_bn by default) it measures
 *   train  one step = zero the gradients, forward with the loss, backward, and an update of
 *          every trainable parameter: for the CNNs SGD with momentum 0.9 and weight decay 5e-4
 *          on everything (lr 0.01); for the Vision Transformers (vit_*) the transformer recipe
 *          of `axnn train`: AdamW, lr 1e-3, weight decay 0.05 except on norms, biases and
 *          embeddings, the gradient norm clipped to 1;
 *   eval   one forward pass in eval mode without labels (running statistics, no gradients).
 * The input is 3 x size x size with `classes` classes: by default 32x32 and 10 classes for the
 * CNNs (CIFAR-10's shape) and 64x64, patch 8, 200 classes for the ViTs (Tiny ImageNet's).
 * Each step is run `warmup` times untimed, then `iters` times timed; the median step time gives
 * the images per second. The inputs are random (fixed seed); the speed does not depend on them.
 *
 * Output: one line per measurement, "axnn <model> <train|eval> <img/s> <median ms> <best img/s>"
 * (img/s from the median step time; the last field from the fastest step), which
 * bench/run_engine.sh puts next to the PyTorch numbers (bench/peers/torch_engine.py).
 *
 *   bench_engine [--threads N] [--batch B] [--iters K] [--warmup W] [--models a,b] [--mode m]
 *                [--size S] [--patch P] [--classes C]
 */
#include "axnn/axnn.h"
#include "axnn/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bench_opts {
    int threads, batch, iters, warmup;
    int size, patch, classes; /* 0: the model family's default */
    char models[256];
    char mode[16]; /* train, eval or both */
} bench_opts;

static bool is_vit(const char *name) { return !strncmp(name, "vit_", 4); }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *model, const char *what, double *t, int iters, int batch)
{
    qsort(t, (size_t)iters, sizeof *t, cmp_double);
    double m = iters % 2 ? t[iters / 2] : 0.5 * (t[iters / 2 - 1] + t[iters / 2]);
    printf("axnn %s %s %.1f %.3f %.1f\n", model, what, batch / m, 1e3 * m, batch / t[0]);
    fflush(stdout);
}

static int bench_train(const char *name, axnn_graph *g, axnn_pool *pool, const bench_opts *o, const float *x,
                       const int32_t *y, double *t)
{
    axnn_plan *p = axnn_plan_new(g, o->batch, o->threads, true);
    if (!p) return -1;
    const axnn_optim_cfg sgd = {AXNN_OPT_SGD, 0.01f, 0.9f, false, 5e-4f, 0.9f, 0.999f, 1e-8f, true, 0.0f};
    const axnn_optim_cfg adamw = {AXNN_OPT_ADAMW, 1e-3f, 0.0f, false, 0.05f, 0.9f, 0.999f, 1e-8f, false, 1.0f};
    const axnn_optim_cfg *oc = is_vit(name) ? &adamw : &sgd;
    axnn_optimizer *opt;
    if (axnn_optim_create(p, oc, &opt) != AXNN_OK) {
        axnn_plan_free(p);
        return -1;
    }
    int rc = 0;
    for (int it = 0; it < o->warmup + o->iters && !rc; it++) {
        double t0 = axnn_now();
        axnn_plan_zero_param_grads(p);
        if (axnn_plan_forward(p, pool, x, y, o->batch) != AXNN_OK || axnn_plan_backward(p, pool) != AXNN_OK)
            rc = -1;
        else
            axnn_optim_step(opt, oc->lr, pool);
        if (it >= o->warmup) t[it - o->warmup] = axnn_now() - t0;
    }
    axnn_optim_free(opt);
    axnn_plan_free(p);
    return rc;
}

static int bench_eval(axnn_graph *g, axnn_pool *pool, const bench_opts *o, const float *x, double *t)
{
    axnn_plan *p = axnn_plan_new(g, o->batch, o->threads, false);
    if (!p) return -1;
    int rc = 0;
    for (int it = 0; it < o->warmup + o->iters && !rc; it++) {
        double t0 = axnn_now();
        if (axnn_plan_forward(p, pool, x, NULL, o->batch) != AXNN_OK) rc = -1;
        else if (it >= o->warmup) t[it - o->warmup] = axnn_now() - t0;
    }
    axnn_plan_free(p);
    return rc;
}

static int bench_model(const char *name, axnn_pool *pool, const bench_opts *o)
{
    const bool vit = is_vit(name);
    const int size = o->size ? o->size : vit ? 64 : 32, classes = o->classes ? o->classes : vit ? 200 : 10;
    axnn_model_cfg cfg = {3, size, size, classes, 0.0f, 42, vit ? (o->patch ? o->patch : 8) : 0, 0.0f};
    axnn_graph *g = NULL;
    if (axnn_model_build(name, &cfg, &g) != AXNN_OK) {
        fprintf(stderr, "bench_engine: %s\n", axnn_last_error());
        return 1;
    }
    const int64_t img = 3 * (int64_t)size * size;
    float *x = axnn_alloc((size_t)(o->batch * img) * sizeof(float));
    int32_t *y = axnn_alloc((size_t)o->batch * sizeof(int32_t));
    double *t = calloc((size_t)o->iters, sizeof *t);
    axnn_rng r;
    axnn_rng_seed(&r, 7);
    for (int64_t i = 0; i < o->batch * img; i++) x[i] = axnn_rng_normal(&r);
    for (int i = 0; i < o->batch; i++) y[i] = (int32_t)axnn_rng_below(&r, (uint32_t)classes);
    int rc = 0;
    bool train = strcmp(o->mode, "eval") != 0, eval = strcmp(o->mode, "train") != 0;
    if (train && (rc = bench_train(name, g, pool, o, x, y, t)) == 0) report(name, "train", t, o->iters, o->batch);
    if (!rc && eval && (rc = bench_eval(g, pool, o, x, t)) == 0) report(name, "eval", t, o->iters, o->batch);
    if (rc) fprintf(stderr, "bench_engine: %s: %s\n", name, axnn_last_error());
    free(t);
    axnn_free(x);
    axnn_free(y);
    axnn_graph_free(g);
    return rc ? 1 : 0;
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: bench_engine [--threads N] [--batch B] [--iters K] [--warmup W]\n"
                   "                    [--models resnet20,vgg11_bn] [--mode train|eval|both]\n"
                   "                    [--size S] [--patch P] [--classes C]\n"
                   "defaults: size 32 and 10 classes for CNNs; size 64, patch 8, 200 classes for vit_*\n");
            exit(0);
        }
        if (!v) return fprintf(stderr, "bench_engine: %s needs a value\n", a), -1;
        if (!strcmp(a, "--threads")) o->threads = atoi(v);
        else if (!strcmp(a, "--batch")) o->batch = atoi(v);
        else if (!strcmp(a, "--iters")) o->iters = atoi(v);
        else if (!strcmp(a, "--warmup")) o->warmup = atoi(v);
        else if (!strcmp(a, "--size")) o->size = atoi(v);
        else if (!strcmp(a, "--patch")) o->patch = atoi(v);
        else if (!strcmp(a, "--classes")) o->classes = atoi(v);
        else if (!strcmp(a, "--models")) snprintf(o->models, sizeof o->models, "%s", v);
        else if (!strcmp(a, "--mode")) snprintf(o->mode, sizeof o->mode, "%s", v);
        else return fprintf(stderr, "bench_engine: unknown flag %s\n", a), -1;
        i++;
    }
    if (o->threads < 1 || o->batch < 1 || o->iters < 1 || o->warmup < 0 || o->size < 0 || o->patch < 0 ||
        o->classes == 1 || o->classes < 0)
        return fprintf(stderr, "bench_engine: bad numeric flag\n"), -1;
    if (strcmp(o->mode, "train") && strcmp(o->mode, "eval") && strcmp(o->mode, "both"))
        return fprintf(stderr, "bench_engine: --mode train|eval|both\n"), -1;
    return 0;
}

int main(int argc, char **argv)
{
    bench_opts o = {2, 128, 10, 3, 0, 0, 0, "resnet20,vgg11_bn", "both"};
    if (parse_args(argc, argv, &o)) return 2;
    axnn_pool *pool = axnn_pool_create(o.threads, NULL);
    fprintf(stderr, "bench_engine: isa %s, %d threads, batch %d, %d+%d iterations\n", axnn_cpu_isa_name(),
            o.threads, o.batch, o.warmup, o.iters);
    int rc = 0;
    for (char *m = strtok(o.models, ","); m; m = strtok(NULL, ",")) rc |= bench_model(m, pool, &o);
    axnn_pool_destroy(pool);
    return rc;
}
