/* Graph rewriting for the MoE transformations: see rewrite.h. */
#include "moe/rewrite.h"

#include "axnn/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int param_hook(axnn_rw *base, int sid, int k);
static const char *name_hook(axnn_rw *base, const axnn_node *nd, char *buf, size_t n);
static axnn_status attr_hook(axnn_rw *base, int k, void *buf, size_t n);

axnn_status moe_rw_init(moe_rw *rw, const axnn_graph *src, axnn_graph *dst)
{
    memset(rw, 0, sizeof *rw);
    axnn_status st = axnn_rw_init(&rw->base, src, dst);
    if (st) return st;
    rw->src = src;
    rw->dst = dst;
    rw->map = rw->base.map;
    rw->nmap = rw->base.nmap;
    rw->expert = -1;
    rw->first = rw->second = -1;
    rw->rows_of = -1;
    rw->base.ctx = rw;
    rw->base.param = param_hook;
    rw->base.name = name_hook;
    rw->base.attr = attr_hook;
    return AXNN_OK;
}

void moe_rw_free(moe_rw *rw)
{
    axnn_rw_free(&rw->base);
    rw->map = NULL;
    rw->nmap = NULL;
}

axnn_status moe_rw_inputs(moe_rw *rw) { return axnn_rw_inputs(&rw->base); }

/* Parameter names: "<prefix><name>", or "<module>.experts.<e>.<leaf>". */
const char *moe_rw_name(const moe_rw *rw, const char *name, char *buf, size_t n)
{
    const char *dot = strrchr(name, '.');
    if (rw->prefix)
        snprintf(buf, n, "%s%s", rw->prefix, name);
    else if (rw->expert >= 0 && dot)
        snprintf(buf, n, "%.*s.experts.%d%s", (int)(dot - name), name, rw->expert, dot);
    else
        snprintf(buf, n, "%s", name);
    return buf;
}

static const char *node_name(const moe_rw *rw, const axnn_node *nd, char *buf, size_t n)
{
    bool module = false;
    for (int i = 0; i < nd->nin; i++) {
        axnn_val_kind k = rw->src->vals[nd->in[i]].kind;
        module = module || k == AXNN_VAL_PARAM || k == AXNN_VAL_BUFFER;
    }
    if (rw->prefix)
        snprintf(buf, n, "%s%s", rw->prefix, nd->name);
    else if (rw->expert >= 0 && module)
        snprintf(buf, n, "%s.experts.%d", nd->name, rw->expert);
    else
        snprintf(buf, n, "%s", nd->name);
    return buf;
}

/* Which dimension of parameter sv of node k is cut to the expert's hidden width (-1: none). */
static int slice_dim(const moe_rw *rw, int k, const axnn_value *sv)
{
    if (rw->first < 0 || k < rw->first || k > rw->second || sv->shape.nd < 1) return -1;
    if (k == rw->second) return sv->shape.nd >= 2 && sv->kind == AXNN_VAL_PARAM && strstr(sv->name, ".weight") ? 1 : -1;
    return k == rw->first || sv->shape.nd == 1 ? 0 : -1;
}

static void copy_sliced(const axnn_value *sv, axnn_value *dv, int dim, int hidden, int hoff)
{
    size_t es = axnn_dtype_size(sv->dtype);
    if (dim < 0) {
        memcpy(dv->data, sv->data, (size_t)axnn_shape_numel(&sv->shape) * es);
        return;
    }
    int64_t outer = 1, inner = 1, C = sv->shape.d[dim];
    for (int d = 0; d < dim; d++) outer *= sv->shape.d[d];
    for (int d = dim + 1; d < sv->shape.nd; d++) inner *= sv->shape.d[d];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < hidden; j++)
            memcpy((char *)dv->data + ((o * hidden + j) * inner) * es,
                   (const char *)sv->data + ((o * C + (hoff + j) % C) * inner) * es, (size_t)inner * es);
}

static int copy_param(moe_rw *rw, int sid, int k)
{
    const axnn_value *sv = &rw->src->vals[sid];
    char nm[AXNN_NAME_MAX];
    moe_rw_name(rw, sv->name, nm, sizeof nm);
    int id = axnn_graph_find_value(rw->dst, nm);
    if (id >= 0) return id;
    axnn_shape sh = sv->shape;
    int dim = slice_dim(rw, k, sv);
    if (dim >= 0) sh.d[dim] = rw->hidden;
    uint32_t fl = sv->flags | (rw->freeze && sv->kind == AXNN_VAL_PARAM ? AXNN_VF_FROZEN : 0);
    id = axnn_graph_add_value(rw->dst, nm, sv->kind, sv->dtype, &sh, fl);
    if (id < 0) return -1;
    axnn_value *dv = &rw->dst->vals[id];
    copy_sliced(sv, dv, dim, rw->hidden, rw->hoff);
    if (rw->noise > 0 && rw->rng && sv->kind == AXNN_VAL_PARAM && sv->shape.nd >= 2) {
        float *w = dv->data;
        for (int64_t i = 0; i < axnn_shape_numel(&sh); i++) w[i] *= 1.0f + rw->noise * axnn_rng_normal(rw->rng);
    }
    return id;
}

/* The attributes of node k (copied into buf), with the output width cut for the first layer of a
 * narrow expert. */
static axnn_status node_attr(const moe_rw *rw, int k, void *buf, size_t n)
{
    const axnn_node *nd = &rw->src->nodes[k];
    if (k != rw->first) return AXNN_OK;
    if (nd->op == &axnn_op_conv2d)
        ((axnn_conv2d_attr *)buf)->cout = rw->hidden;
    else if (nd->op == &axnn_op_linear)
        ((axnn_linear_attr *)buf)->out = rw->hidden;
    else
        return axnn_error(AXNN_ERR_UNSUPPORTED, "%s: expert width applies to conv and linear layers", nd->name);
    return AXNN_OK;
}

static int param_hook(axnn_rw *base, int sid, int k) { return copy_param(base->ctx, sid, k); }

static const char *name_hook(axnn_rw *base, const axnn_node *nd, char *buf, size_t n)
{
    return node_name(base->ctx, nd, buf, n);
}

static axnn_status attr_hook(axnn_rw *base, int k, void *buf, size_t n) { return node_attr(base->ctx, k, buf, n); }

int moe_rw_node(moe_rw *rw, int k)
{
    rw->base.nflags = rw->nflags;
    rw->base.rows_of = rw->rows_of;
    return axnn_rw_node(&rw->base, k);
}

axnn_status moe_extract(const axnn_graph *g, int v, bool pool, axnn_graph **out)
{
    *out = NULL;
    bool *on = calloc((size_t)g->nvals, sizeof *on);
    axnn_graph *d = axnn_graph_new();
    axnn_rw rw;
    axnn_status st = on && d ? axnn_rw_init(&rw, g, d) : axnn_error(AXNN_ERR_NOMEM, "out of memory");
    if (st) {
        free(on);
        axnn_graph_free(d);
        return st;
    }
    st = axnn_rw_inputs(&rw);
    on[v] = true;
    for (int k = g->vals[v].producer; k >= 0; k--)
        if (on[g->nodes[k].out])
            for (int i = 0; i < g->nodes[k].nin; i++) on[g->nodes[k].in[i]] = true;
    for (int k = 0; k <= g->vals[v].producer && !st; k++)
        if (on[g->nodes[k].out] && axnn_rw_node(&rw, k) < 0) st = AXNN_ERR_ARG;
    int y = st ? -1 : rw.map[v];
    if (!st && pool && d->vals[y].shape.nd == 4) y = axnn_flatten(d, axnn_global_avgpool(d, y));
    if (!st && y < 0) st = AXNN_ERR_ARG;
    if (!st) d->logits = y;
    axnn_rw_free(&rw);
    free(on);
    if (st) {
        axnn_graph_free(d);
        return st;
    }
    *out = d;
    return AXNN_OK;
}

axnn_status moe_features(axnn_graph *sub, axnn_pool *pool, const axnn_dataset *d, const axnn_preproc *pp,
                         int64_t n, float **out, int *dim)
{
    const int batch = 128;
    int64_t per = 1;
    for (int i = 1; i < sub->vals[sub->logits].shape.nd; i++) per *= sub->vals[sub->logits].shape.d[i];
    *dim = (int)per;
    float *f = malloc((size_t)n * (size_t)*dim * sizeof(float));
    axnn_loader_cfg lc = {.batch = batch, .out_h = pp->out_h, .out_w = pp->out_w};
    memcpy(lc.mean, pp->mean, sizeof lc.mean);
    memcpy(lc.std, pp->std, sizeof lc.std);
    axnn_dataset view = *d;
    view.n = n;
    axnn_loader *ld = NULL;
    axnn_plan *p = NULL;
    axnn_status st = f ? AXNN_OK : axnn_error(AXNN_ERR_NOMEM, "out of memory");
    if (!st && !(p = axnn_plan_new(sub, batch, axnn_pool_size(pool), false))) st = AXNN_ERR_NOMEM;
    if (!st) st = axnn_loader_create(&view, &lc, &ld);
    if (!st) axnn_loader_start_epoch(ld, 0);
    const float *x;
    const int32_t *y;
    int nb;
    int64_t seen = 0;
    while (!st && axnn_loader_next(ld, &x, &y, &nb)) {
        st = axnn_plan_forward(p, pool, x, NULL, nb);
        if (!st) memcpy(f + seen * *dim, axnn_plan_logits(p), (size_t)nb * (size_t)*dim * sizeof(float));
        seen += nb;
    }
    axnn_loader_destroy(ld);
    axnn_plan_free(p);
    if (st) {
        free(f);
        return st;
    }
    *out = f;
    return AXNN_OK;
}
