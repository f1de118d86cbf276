/* bench_engine: training and inference throughput of the axnn engine on the CIFAR models.
 *
 * For each model (resnet20 and vgg11_bn by default) at batch 128 on 3x32x32 inputs with 10
 * classes, it measures
 *   train  one step = zero the gradients, forward with the loss, backward, and an SGD update
 *          with momentum 0.9 and weight decay 5e-4 over every trainable parameter;
 *   eval   one forward pass in eval mode without labels (running statistics, no gradients).
 * Each is run `warmup` times untimed, then `iters` times timed; the median step time gives the
 * images per second. The inputs are random (fixed seed); the speed does not depend on them.
 *
 * Output: one line per measurement, "axnn <model> <train|eval> <img/s> <median ms> <best img/s>"
 * (img/s from the median step time; the last field from the fastest step), which
 * bench/run_engine.sh puts next to the PyTorch numbers (bench/peers/torch_engine.py).
 *
 *   bench_engine [--threads N] [--batch B] [--iters K] [--warmup W] [--models a,b] [--mode m]
 */
#include "axnn/axnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bench_opts {
    int threads, batch, iters, warmup;
    char models[256];
    char mode[16]; /* train, eval or both */
} bench_opts;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* SGD with momentum (PyTorch's form): v = mu*v + (g + wd*w); w -= lr*v. */
typedef struct sgd {
    float **vel;
    int n;
} sgd;

static void sgd_step(axnn_graph *g, sgd *s, float lr, float mu, float wd)
{
    for (int i = 0; i < g->nvals; i++) {
        axnn_value *v = &g->vals[i];
        if (v->kind != AXNN_VAL_PARAM || !v->grad) continue;
        int64_t n = axnn_shape_numel(&v->shape);
        if (!s->vel[i]) s->vel[i] = axnn_calloc((size_t)n * sizeof(float));
        float *w = v->data, *gr = v->grad, *vel = s->vel[i];
        float d = (v->flags & AXNN_VF_NO_DECAY) ? 0.0f : wd;
        for (int64_t k = 0; k < n; k++) {
            vel[k] = mu * vel[k] + gr[k] + d * w[k];
            w[k] -= lr * vel[k];
        }
    }
}

static void random_batch(float *x, int32_t *y, int n, int64_t img, axnn_rng *r)
{
    for (int64_t i = 0; i < n * img; i++) x[i] = axnn_rng_normal(r);
    for (int i = 0; i < n; i++) y[i] = (int32_t)axnn_rng_below(r, 10);
}

static void report(const char *model, const char *what, double *t, int iters, int batch)
{
    double m = median(t, iters); /* sorts t */
    printf("axnn %s %s %.1f %.3f %.1f\n", model, what, batch / m, 1e3 * m, batch / t[0]);
    fflush(stdout);
}

static int bench_train(axnn_graph *g, axnn_pool *pool, const bench_opts *o, const float *x,
                       const int32_t *y, double *t)
{
    if (axnn_graph_plan(g, o->batch, o->threads, true) != AXNN_OK) return -1;
    sgd s = {calloc((size_t)g->nvals, sizeof(float *)), g->nvals};
    for (int it = 0; it < o->warmup + o->iters; it++) {
        double t0 = axnn_now();
        axnn_graph_zero_param_grads(g);
        if (axnn_graph_forward(g, pool, x, y, o->batch) != AXNN_OK) return -1;
        if (axnn_graph_backward(g, pool) != AXNN_OK) return -1;
        sgd_step(g, &s, 0.01f, 0.9f, 5e-4f);
        if (it >= o->warmup) t[it - o->warmup] = axnn_now() - t0;
    }
    for (int i = 0; i < s.n; i++) axnn_free(s.vel[i]);
    free(s.vel);
    return 0;
}

static int bench_eval(axnn_graph *g, axnn_pool *pool, const bench_opts *o, const float *x,
                      double *t)
{
    if (axnn_graph_plan(g, o->batch, o->threads, false) != AXNN_OK) return -1;
    for (int it = 0; it < o->warmup + o->iters; it++) {
        double t0 = axnn_now();
        if (axnn_graph_forward(g, pool, x, NULL, o->batch) != AXNN_OK) return -1;
        if (it >= o->warmup) t[it - o->warmup] = axnn_now() - t0;
    }
    return 0;
}

static int bench_model(const char *name, axnn_pool *pool, const bench_opts *o)
{
    axnn_model_cfg cfg = {3, 32, 32, 10, 0.0f, 42};
    axnn_graph *g = NULL;
    if (axnn_model_build(name, &cfg, &g) != AXNN_OK) {
        fprintf(stderr, "bench_engine: %s\n", axnn_last_error());
        return 1;
    }
    const int64_t img = 3 * 32 * 32;
    float *x = axnn_alloc((size_t)(o->batch * img) * sizeof(float));
    int32_t *y = axnn_alloc((size_t)o->batch * sizeof(int32_t));
    double *t = calloc((size_t)o->iters, sizeof *t);
    axnn_rng r;
    axnn_rng_seed(&r, 7);
    random_batch(x, y, o->batch, img, &r);
    int rc = 0;
    bool train = strcmp(o->mode, "eval") != 0, eval = strcmp(o->mode, "train") != 0;
    if (train && (rc = bench_train(g, pool, o, x, y, t)) == 0) report(name, "train", t, o->iters, o->batch);
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
                   "                    [--models resnet20,vgg11_bn] [--mode train|eval|both]\n");
            exit(0);
        }
        if (!v) return fprintf(stderr, "bench_engine: %s needs a value\n", a), -1;
        if (!strcmp(a, "--threads")) o->threads = atoi(v);
        else if (!strcmp(a, "--batch")) o->batch = atoi(v);
        else if (!strcmp(a, "--iters")) o->iters = atoi(v);
        else if (!strcmp(a, "--warmup")) o->warmup = atoi(v);
        else if (!strcmp(a, "--models")) snprintf(o->models, sizeof o->models, "%s", v);
        else if (!strcmp(a, "--mode")) snprintf(o->mode, sizeof o->mode, "%s", v);
        else return fprintf(stderr, "bench_engine: unknown flag %s\n", a), -1;
        i++;
    }
    if (o->threads < 1 || o->batch < 1 || o->iters < 1 || o->warmup < 0)
        return fprintf(stderr, "bench_engine: bad numeric flag\n"), -1;
    return 0;
}

int main(int argc, char **argv)
{
    bench_opts o = {2, 128, 10, 3, "resnet20,vgg11_bn", "both"};
    if (parse_args(argc, argv, &o)) return 2;
    axnn_pool *pool = axnn_pool_create(o.threads, NULL);
    fprintf(stderr, "bench_engine: isa %s, %d threads, batch %d, %d+%d iterations\n",
            axnn_cpu_isa_name(), o.threads, o.batch, o.warmup, o.iters);
    int rc = 0;
    for (char *m = strtok(o.models, ","); m; m = strtok(NULL, ",")) rc |= bench_model(m, pool, &o);
    axnn_pool_destroy(pool);
    return rc;
}
