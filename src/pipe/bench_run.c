/* Everything of src/pipe that touches the graph API (include/axnn/graph.h, ops.h, models.h) is
 * in this one file, so that the graph IR / execution plan split can port it in one place:
 *
 *   - building a one-layer graph for a synthetic layer (axnn_input + one builder call, or a
 *     conv -> BN -> (+ input) -> ReLU chain that the planner fuses), making an eval plan
 *     (axnn_plan_new) and timing axnn_plan_forward on a pool pinned to given CPUs (the
 *     calling thread, which runs task 0, is pinned with sched_setaffinity too);
 *   - reading a model's layers as they run after eval-mode fusion (a fused chain is one layer)
 *     into descriptors, and into synthetic layers that rebuild each one alone.
 *
 * Timing: `warmup` untimed calls, then `repeats` timed calls (fewer when max_s runs out), the
 * median (or, with `best`, the fastest) call divided by the batch. Layers whose input goes through
 * a tokens or flatten node first time that prefix alone as well and subtract it.
 */
#define _GNU_SOURCE
#include "axnn/pipe.h"
#include "axnn/graph.h"
#include "axnn/models.h"
#include "axnn/ops.h"
#include "axnn/plan.h"

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- building ---- */

static int build_conv(axnn_graph *g, const axnn_pipe_synth *s, int x)
{
    axnn_conv2d_attr a = {s->cout, s->k, s->k, s->stride, s->stride, s->pad, s->pad, false};
    int y = axnn_conv2d_ex(g, "l", x, &a);
    if (s->bn) y = axnn_batchnorm2d(g, "l.bn", y);
    if (s->residual && y >= 0 && axnn_shape_eq(&g->vals[y].shape, &g->vals[x].shape))
        y = axnn_add(g, y, x);
    if (s->relu) y = axnn_relu(g, y);
    return y;
}

/* Adds the layer of s on value x; -1 with the error set. */
static int build_op(axnn_graph *g, const axnn_pipe_synth *s, int x)
{
    const char *op = s->op;
    if (!strcmp(op, "conv")) return build_conv(g, s, x);
    if (!strcmp(op, "linear")) return axnn_linear(g, "l", x, s->cout, true);
    if (!strcmp(op, "maxpool")) return axnn_maxpool2d(g, x, s->k, s->stride, s->pad);
    if (!strcmp(op, "avgpool")) return axnn_avgpool2d(g, x, s->k, s->stride, s->pad);
    if (!strcmp(op, "gap")) return axnn_global_avgpool(g, x);
    if (!strcmp(op, "relu")) return axnn_relu(g, x);
    if (!strcmp(op, "add")) return axnn_add(g, x, x);
    if (!strcmp(op, "dropout")) return axnn_dropout(g, x, 0.1f);
    if (!strcmp(op, "batchnorm2d")) return axnn_batchnorm2d(g, "l", x);
    if (!strcmp(op, "gelu")) return axnn_gelu(g, x);
    if (!strcmp(op, "layernorm")) return axnn_layernorm(g, "l", x, 1e-6f);
    if (!strcmp(op, "attention")) return axnn_attention(g, "l", x, s->heads);
    if (!strcmp(op, "flatten")) return axnn_flatten(g, x);
    if (!strcmp(op, "tokens")) return axnn_tokens(g, x);
    if (!strcmp(op, "cls_token")) return axnn_cls_token(g, "", x);
    if (!strcmp(op, "pos_embed")) return axnn_pos_embed(g, "", x);
    if (!strcmp(op, "cls_pool")) return axnn_cls_pool(g, x);
    axnn_error(AXNN_ERR_ARG, "synthetic layer: unknown op '%s'", op);
    return -1;
}

/* Input, prefix (tokens / flatten) and, unless prefix_only, the layer. *nprefix: nodes before
 * the layer. */
static axnn_status build_synth(const axnn_pipe_synth *s, bool prefix_only, axnn_graph **out,
                               int *nprefix)
{
    axnn_graph *g = axnn_graph_new();
    if (!g) return axnn_error(AXNN_ERR_NOMEM, "synthetic layer: out of memory");
    int x = axnn_input(g, s->c, s->h, s->w);
    if (x >= 0 && s->in_nd == 3) x = axnn_tokens(g, x);
    if (x >= 0 && s->in_nd == 2) x = axnn_flatten(g, x);
    *nprefix = g->nnodes;
    if (x >= 0 && !prefix_only) x = build_op(g, s, x);
    if (x < 0) {
        axnn_graph_free(g);
        return AXNN_ERR_ARG;
    }
    g->logits = x;
    *out = g;
    return AXNN_OK;
}

/* ---------------------------------------------------------------- descriptors ---- */

static int64_t per_image_numel(const axnn_value *v)
{
    int64_t n = axnn_shape_numel(&v->shape);
    return (v->flags & AXNN_VF_BATCHED) && v->shape.d[0] > 0 ? n / v->shape.d[0] : n;
}

/* (C, H, W) of a value per image: images as they are, tokens (N, T, D) as (D, T, 1), vectors
 * (N, K) as (K, 1, 1). */
static void chw(const axnn_value *v, int *c, int *h, int *w)
{
    const axnn_shape *s = &v->shape;
    *c = *h = *w = 1;
    if (s->nd == 4) *c = (int)s->d[1], *h = (int)s->d[2], *w = (int)s->d[3];
    if (s->nd == 3) *c = (int)s->d[2], *h = (int)s->d[1];
    if (s->nd == 2) *c = (int)s->d[1];
}

static axnn_pipe_kind kind_of(const char *op)
{
    static const struct {
        const char *op;
        axnn_pipe_kind k;
    } map[] = {{"conv2d", AXNN_PK_CONV},          {"linear", AXNN_PK_LINEAR},
               {"maxpool2d", AXNN_PK_POOL},       {"avgpool2d", AXNN_PK_POOL},
               {"global_avgpool", AXNN_PK_GPOOL}, {"relu", AXNN_PK_ELTWISE},
               {"add", AXNN_PK_ELTWISE},          {"dropout", AXNN_PK_ELTWISE},
               {"batchnorm2d", AXNN_PK_ELTWISE},  {"gelu", AXNN_PK_GELU},
               {"drop_path", AXNN_PK_ELTWISE},    {"layernorm", AXNN_PK_NORM},
               {"attention", AXNN_PK_ATTENTION}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(op, map[i].op)) return map[i].k;
    return AXNN_PK_OTHER;
}

/* Descriptor of the layer made of the nodes in mask (the first one is its head). */
static void describe(const axnn_graph *g, const bool *mask, int batch, axnn_pipe_desc *d)
{
    memset(d, 0, sizeof *d);
    int head = 0;
    while (!mask[head]) head++;
    const axnn_node *h = &g->nodes[head];
    d->kind = kind_of(axnn_node_op_name(h));
    d->batch = batch;
    d->groups = 1;
    const axnn_value *in = &g->vals[h->in[0]];
    chw(in, &d->in_c, &d->in_h, &d->in_w);
    d->in_bytes = per_image_numel(in) * (int64_t)axnn_dtype_size(in->dtype);
    int last = head;
    for (int k = head; k < g->nnodes; k++) {
        if (!mask[k]) continue;
        const axnn_node *nd = &g->nodes[k];
        last = k;
        d->macs += axnn_node_macs(g, nd);
        for (int i = 0; i < nd->nin; i++) {
            const axnn_value *v = &g->vals[nd->in[i]];
            if (v->kind == AXNN_VAL_PARAM || v->kind == AXNN_VAL_BUFFER)
                d->w_bytes += axnn_shape_numel(&v->shape) * (int64_t)axnn_dtype_size(v->dtype);
        }
        const char *op = axnn_node_op_name(nd);
        if (k != head && !strcmp(op, "batchnorm2d")) d->bn = true;
        if (k != head && !strcmp(op, "relu")) d->relu = true;
        if (k != head && !strcmp(op, "add")) {
            d->residual = true;
            d->in_bytes += d->in_bytes; /* the residual is read too (same shape) */
        }
    }
    const char *op = axnn_node_op_name(h);
    if (!strcmp(op, "conv2d")) {
        const axnn_conv2d_attr *c = h->attr;
        d->kh = c->kh, d->kw = c->kw, d->stride = c->sh;
    } else if (!strcmp(op, "maxpool2d") || !strcmp(op, "avgpool2d")) {
        const axnn_pool_attr *p = h->attr;
        d->kh = p->kh, d->kw = p->kw, d->stride = p->sh;
    }
    const axnn_value *out = &g->vals[g->nodes[last].out];
    chw(out, &d->out_c, &d->out_h, &d->out_w);
    d->out_bytes = per_image_numel(out) * (int64_t)axnn_dtype_size(out->dtype);
}

/* ---------------------------------------------------------------- timing ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds per forward call of a planned graph on pool. */
static axnn_status time_forward(axnn_graph *g, axnn_pool *pool, const float *x,
                                const axnn_pipe_bench_opts *o, double *t)
{
    double *ts = malloc((size_t)o->repeats * sizeof *ts);
    if (!ts) return axnn_error(AXNN_ERR_NOMEM, "bench: out of memory");
    axnn_status s = AXNN_OK;
    axnn_plan *p = axnn_plan_new(g, o->batch, axnn_pool_size(pool), false);
    if (!p) {
        free(ts);
        return AXNN_ERR_NOMEM;
    }
    for (int i = 0; i < o->warmup && !s; i++) s = axnn_plan_forward(p, pool, x, NULL, o->batch);
    int n = 0;
    double start = axnn_now();
    while (!s && n < o->repeats) {
        double t0 = axnn_now();
        s = axnn_plan_forward(p, pool, x, NULL, o->batch);
        ts[n++] = axnn_now() - t0;
        if (o->max_s > 0 && axnn_now() - start > o->max_s && n >= 3) break;
    }
    if (!s) {
        qsort(ts, (size_t)n, sizeof *ts, cmp_double);
        *t = o->best ? ts[0] : n % 2 ? ts[n / 2] : 0.5 * (ts[n / 2 - 1] + ts[n / 2]);
    }
    free(ts);
    axnn_plan_free(p);
    return s;
}

/* Plans g for the batch and threads and times it on pool. */
static axnn_status plan_and_time(axnn_graph *g, axnn_pool *pool, int threads,
                                 const axnn_pipe_bench_opts *o, double *t)
{
    axnn_status s = AXNN_OK;
    const axnn_value *in = &g->vals[g->input];
    int64_t n = (int64_t)o->batch * per_image_numel(in);
    float *x = axnn_alloc((size_t)n * sizeof *x);
    if (!x) return axnn_error(AXNN_ERR_NOMEM, "bench: out of memory");
    axnn_rng r;
    axnn_rng_seed(&r, 1);
    for (int64_t i = 0; i < n; i++) x[i] = 2 * axnn_rng_uniform(&r) - 1;
    s = time_forward(g, pool, x, o, t);
    axnn_free(x);
    return s;
}

static axnn_status check_opts(const axnn_pipe_bench_opts *o, int threads)
{
    if (o->batch < 1) return axnn_error(AXNN_ERR_ARG, "--batch: must be at least 1 image");
    if (o->repeats < 1) return axnn_error(AXNN_ERR_ARG, "--repeats: must be at least 1");
    if (threads < 1) return axnn_error(AXNN_ERR_ARG, "bench: no CPUs");
    return AXNN_OK;
}

axnn_status axnn_pipe_bench_synth(const axnn_pipe_synth *s, const int *cpus, int threads,
                                  const axnn_pipe_bench_opts *o, axnn_pipe_desc *d, double *t)
{
    axnn_status st = check_opts(o, threads);
    if (st) return st;
    axnn_graph *g = NULL, *pre = NULL;
    int npre = 0;
    if ((st = build_synth(s, false, &g, &npre))) return st;
    if (s->in_nd != 4 && (st = build_synth(s, true, &pre, &npre))) {
        axnn_graph_free(g);
        return st;
    }
    cpu_set_t old, one;
    bool pinned = sched_getaffinity(0, sizeof old, &old) == 0;
    CPU_ZERO(&one);
    CPU_SET(cpus[0], &one);
    if (pinned) sched_setaffinity(0, sizeof one, &one);
    axnn_pool *pool = axnn_pool_create(threads, cpus);
    double tl = 0, tp = 0;
    st = pool ? plan_and_time(g, pool, threads, o, &tl)
              : axnn_error(AXNN_ERR_NOMEM, "bench: cannot create a pool");
    if (!st && pre) st = plan_and_time(pre, pool, threads, o, &tp);
    if (pool) axnn_pool_destroy(pool);
    if (pinned) sched_setaffinity(0, sizeof old, &old);
    if (!st) {
        bool *mask = calloc((size_t)g->nnodes, sizeof *mask);
        if (!mask) st = axnn_error(AXNN_ERR_NOMEM, "bench: out of memory");
        for (int k = npre; mask && k < g->nnodes; k++) mask[k] = true;
        if (mask) describe(g, mask, o->batch, d);
        free(mask);
        /* a prefix can take as long as a tiny layer: keep at least 5% of the whole */
        double layer = tl - tp;
        *t = (layer > 0.05 * tl ? layer : 0.05 * tl) / o->batch;
    }
    axnn_graph_free(g);
    axnn_graph_free(pre);
    return st;
}

/* ---------------------------------------------------------------- model layers ---- */

/* The synthetic layer that rebuilds layer `head` of g (nodes in mask) alone. */
static void rebuild_spec(const axnn_graph *g, int head, const axnn_pipe_desc *d, axnn_pipe_synth *s)
{
    const axnn_node *h = &g->nodes[head];
    const char *op = axnn_node_op_name(h);
    const axnn_value *in = &g->vals[h->in[0]];
    memset(s, 0, sizeof *s);
    s->in_nd = in->shape.nd == 3 ? 3 : in->shape.nd == 2 ? 2 : 4;
    s->c = d->in_c, s->h = d->in_h, s->w = d->in_w;
    static const struct {
        const char *graph, *synth;
    } names[] = {{"conv2d", "conv"},
                 {"linear", "linear"},
                 {"maxpool2d", "maxpool"},
                 {"avgpool2d", "avgpool"},
                 {"global_avgpool", "gap"},
                 {"relu", "relu"},
                 {"add", "add"},
                 {"dropout", "dropout"},
                 {"drop_path", "dropout"},
                 {"batchnorm2d", "batchnorm2d"},
                 {"gelu", "gelu"},
                 {"layernorm", "layernorm"},
                 {"attention", "attention"},
                 {"flatten", "flatten"},
                 {"tokens", "tokens"},
                 {"cls_token", "cls_token"},
                 {"pos_embed", "pos_embed"},
                 {"cls_pool", "cls_pool"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(op, names[i].graph)) s->op = names[i].synth;
    if (!s->op) return;
    if (!strcmp(op, "conv2d")) {
        const axnn_conv2d_attr *a = h->attr;
        s->cout = a->cout, s->k = a->kh, s->stride = a->sh, s->pad = a->ph;
        s->bn = d->bn, s->relu = d->relu;
        s->residual = d->residual;
    } else if (!strcmp(op, "linear")) {
        s->cout = ((const axnn_linear_attr *)h->attr)->out;
    } else if (!strcmp(op, "maxpool2d") || !strcmp(op, "avgpool2d")) {
        const axnn_pool_attr *a = h->attr;
        s->k = a->kh, s->stride = a->sh, s->pad = a->ph;
    } else if (!strcmp(op, "attention")) {
        s->heads = ((const axnn_attention_attr *)h->attr)->heads;
    }
}

/* Marks the nodes of the layer whose head is k (a fused chain, or the node alone). */
static void layer_mask(const axnn_plan *p, const axnn_graph *g, int k, bool *mask)
{
    memset(mask, 0, (size_t)g->nnodes * sizeof *mask);
    mask[k] = true;
    if (axnn_plan_fusion(p, k, NULL) != AXNN_FUSED_HEAD) return;
    for (int j = k + 1; j < g->nnodes; j++) {
        int head;
        axnn_fused r = axnn_plan_fusion(p, j, &head);
        if ((r == AXNN_FUSED_INNER || r == AXNN_FUSED_TAIL) && head == k) mask[j] = true;
    }
}

/* cut[b] for the boundaries after layers b = 0..n-2: one activation crosses. layer_of[k] is
 * node k's layer (-1: the loss). */
static void legal_cuts(const axnn_graph *g, const int *layer_of, int n, bool *cut)
{
    int *cross = calloc((size_t)n, sizeof *cross), *maxc = malloc((size_t)g->nvals * sizeof *maxc);
    if (!cross || !maxc) { /* out of memory: no cut is claimed legal */
        for (int b = 0; b + 1 < n; b++) cut[b] = false;
        free(cross);
        free(maxc);
        return;
    }
    for (int v = 0; v < g->nvals; v++) maxc[v] = -1;
    for (int k = 0; k < g->nnodes; k++)
        for (int i = 0; layer_of[k] >= 0 && i < g->nodes[k].nin; i++) {
            int v = g->nodes[k].in[i];
            if (layer_of[k] > maxc[v]) maxc[v] = layer_of[k];
        }
    for (int v = 0; v < g->nvals; v++) {
        const axnn_value *x = &g->vals[v];
        if (x->kind != AXNN_VAL_ACT && x->kind != AXNN_VAL_INPUT) continue;
        int lp = x->producer >= 0 ? layer_of[x->producer] : -1;
        for (int b = lp < 0 ? 0 : lp; b < maxc[v]; b++) cross[b]++;
    }
    for (int b = 0; b + 1 < n; b++) cut[b] = cross[b] == 1;
    free(cross);
    free(maxc);
}

static axnn_status collect_layers(const axnn_plan *p, axnn_graph *g, axnn_pipe_synth *L, axnn_pipe_desc *D,
                                  char (*N)[64], bool *cut, int *n)
{
    bool *mask = calloc((size_t)g->nnodes, sizeof *mask);
    int *layer_of = malloc((size_t)g->nnodes * sizeof *layer_of);
    if (!mask || !layer_of) {
        free(mask);
        free(layer_of);
        return axnn_error(AXNN_ERR_NOMEM, "model layers: out of memory");
    }
    for (int k = 0; k < g->nnodes; k++) layer_of[k] = -1;
    *n = 0;
    for (int k = 0; k < g->nnodes; k++) {
        const axnn_node *nd = &g->nodes[k];
        axnn_fused r = axnn_plan_fusion(p, k, NULL);
        if (nd->out == g->loss || r == AXNN_FUSED_INNER || r == AXNN_FUSED_TAIL) continue;
        layer_mask(p, g, k, mask);
        for (int j = 0; j < g->nnodes; j++)
            if (mask[j]) layer_of[j] = *n;
        describe(g, mask, 1, &D[*n]);
        rebuild_spec(g, k, &D[*n], &L[*n]);
        snprintf(N[*n], 64, "%s", nd->name[0] ? nd->name : axnn_node_op_name(nd));
        (*n)++;
    }
    legal_cuts(g, layer_of, *n, cut);
    free(mask);
    free(layer_of);
    return AXNN_OK;
}

axnn_status axnn_pipe_model_layers(const char *arch, int channels, int size,
                                   axnn_pipe_synth **layers, axnn_pipe_desc **descs,
                                   char (**names)[64], bool **cut, int *n)
{
    *layers = NULL;
    *descs = NULL;
    *names = NULL;
    *cut = NULL;
    *n = 0;
    axnn_model_cfg cfg = {
        .in_channels = channels, .height = size, .width = size, .num_classes = 10, .seed = 1};
    axnn_graph *g = NULL;
    axnn_status s = axnn_model_build(arch, &cfg, &g);
    if (s) return s;
    axnn_plan *p = axnn_plan_new(g, 1, 1, false);
    if (!p) s = AXNN_ERR_NOMEM;
    if (!s) {
        *layers = calloc((size_t)g->nnodes, sizeof **layers);
        *descs = calloc((size_t)g->nnodes, sizeof **descs);
        *names = calloc((size_t)g->nnodes, sizeof **names);
        *cut = calloc((size_t)g->nnodes, sizeof **cut);
        if (!*layers || !*descs || !*names || !*cut)
            s = axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", arch);
        else
            s = collect_layers(p, g, *layers, *descs, *names, *cut, n);
    }
    axnn_plan_free(p);
    axnn_graph_free(g);
    if (s) {
        free(*layers);
        free(*descs);
        free(*names);
        free(*cut);
        *layers = NULL;
        *descs = NULL;
        *names = NULL;
        *cut = NULL;
    }
    return s;
}

axnn_status axnn_pipe_bench_model(const char *arch, int channels, int size, const int *cpus,
                                  int threads, const axnn_pipe_bench_opts *o, double *t)
{
    axnn_status s = check_opts(o, threads);
    if (s) return s;
    axnn_model_cfg cfg = {
        .in_channels = channels, .height = size, .width = size, .num_classes = 10, .seed = 1};
    axnn_graph *g = NULL;
    if ((s = axnn_model_build(arch, &cfg, &g))) return s;
    cpu_set_t old, one;
    bool pinned = sched_getaffinity(0, sizeof old, &old) == 0;
    CPU_ZERO(&one);
    CPU_SET(cpus[0], &one);
    if (pinned) sched_setaffinity(0, sizeof one, &one);
    axnn_pool *pool = axnn_pool_create(threads, cpus);
    s = pool ? plan_and_time(g, pool, threads, o, t)
             : axnn_error(AXNN_ERR_NOMEM, "bench: cannot create a pool");
    if (!s) *t /= o->batch;
    if (pool) axnn_pool_destroy(pool);
    if (pinned) sched_setaffinity(0, sizeof old, &old);
    axnn_graph_free(g);
    return s;
}
