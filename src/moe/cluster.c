/* Cluster MoE: E copies of the whole network behind a gateway.
 *
 * The graph:
 *     f     = gateway(input)        the dense graph's nodes before cfg->gateway ("layer1.1"),
 *                                   then global average pooling: "gateway.<name>", float,
 *                                   frozen, always in eval mode (AXNN_NF_FLOAT | AXNN_NF_EVAL)
 *     probs = moe_nearest(f)        one-hot of the nearest k-means centroid ("gateway.centroids")
 *     x_e   = moe_dispatch(input, probs, e)
 *     z_e   = copy e of the dense network (x_e)   "experts.<e>.<name>", rows = dispatch e's
 *     logits = moe_combine(probs, z_0 .. z_{E-1}) (hard), then the loss
 * Training this graph fine-tunes each copy on the images of its cluster only (its rows of each
 * batch); the gateway and centroids do not move. axnn_moe_cluster_fit runs the gateway alone
 * (moe_extract) over the training images and fits the centroids with k-means++ / Lloyd.
 */
#include "moe/rewrite.h"

#include "axnn/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Index of the first node of the dense graph that is not part of the gateway. */
static int gateway_cut(const axnn_graph *g, const char *spec)
{
    size_t n = strlen(spec);
    for (int k = 0; k < g->nnodes; k++)
        if (!strncmp(g->nodes[k].name, spec, n) && (g->nodes[k].name[n] == '.' || !g->nodes[k].name[n])) return k;
    return -1;
}

static const char *default_gateway(const axnn_graph *g)
{
    if (moe_find_node(g, "layer1.1.conv1") >= 0) return "layer1.1";
    if (moe_find_node(g, "blocks.1.attn.qkv") >= 0) return "blocks.1";
    if (moe_find_node(g, "features.4") >= 0) return "features.4";
    return "layer2";
}

static int emit_gateway(moe_rw *rw, const axnn_moe_cfg *cfg)
{
    const axnn_graph *s = rw->src;
    const char *spec = cfg->gateway ? cfg->gateway : default_gateway(s);
    int cut = gateway_cut(s, spec);
    if (cut < 1) {
        axnn_error(AXNN_ERR_ARG, "gateway %s: no node of %s starts with that name (the gateway is every node before it)",
                   spec, s->info.arch);
        return -1;
    }
    rw->prefix = "gateway.";
    rw->nflags = AXNN_NF_FLOAT | AXNN_NF_EVAL;
    rw->freeze = true;
    int y = -1;
    for (int k = 0; k < cut; k++)
        if ((y = moe_rw_node(rw, k)) < 0) return -1;
    axnn_graph *d = rw->dst;
    int v = y;
    if (d->vals[v].shape.nd == 4) v = axnn_global_avgpool(d, v);
    if (v >= 0 && d->vals[v].shape.nd != 2) v = axnn_flatten(d, v);
    if (v < 0) return -1;
    for (int k = d->nnodes - 2; k < d->nnodes; k++) /* the pooling nodes belong to the gateway */
        if (!strcmp(d->nodes[k].op->name, "global_avgpool") || !strcmp(d->nodes[k].op->name, "flatten"))
            d->nodes[k].flags |= AXNN_NF_FLOAT | AXNN_NF_EVAL;
    rw->prefix = NULL;
    rw->nflags = 0;
    rw->freeze = false;
    return axnn_moe_nearest(d, "gateway.nearest", v, cfg->experts);
}

/* Copy e of the network (all nodes but the loss) on the images routed to it; returns its logits. */
static int emit_copy(moe_rw *rw, int e, int x, int rows)
{
    const axnn_graph *s = rw->src;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "experts.%d.", e);
    rw->prefix = prefix;
    rw->rows_of = rows;
    for (int i = 0; i < s->nvals; i++)
        if (s->vals[i].kind == AXNN_VAL_ACT) rw->map[i] = -1;
    rw->map[s->input] = x;
    for (int k = 0; k < s->nnodes; k++) {
        if (s->nodes[k].out == s->loss) continue;
        if (moe_rw_node(rw, k) < 0) return -1;
    }
    rw->prefix = NULL;
    rw->rows_of = -1;
    return rw->map[s->logits];
}

axnn_status moe_build_cluster(const axnn_graph *dense, const axnn_moe_cfg *cfg, axnn_graph *d)
{
    if (dense->loss < 0 || dense->logits < 0 || dense->label < 0)
        return axnn_error(AXNN_ERR_ARG, "%s: cluster MoE needs a graph with logits and a loss", dense->info.arch);
    moe_rw rw;
    axnn_status st = moe_rw_init(&rw, dense, d);
    if (st) return st;
    axnn_rng rng;
    axnn_rng_seed(&rng, cfg->seed ^ 0xc1a5ull);
    rw.rng = &rng;
    st = moe_rw_inputs(&rw);
    const int input = d->input, labels = d->label;
    int probs = st ? -1 : emit_gateway(&rw, cfg);
    int zs[AXNN_MOE_MAX_EXPERTS];
    for (int e = 0; e < cfg->experts && probs >= 0; e++) {
        char n[64];
        snprintf(n, sizeof n, "experts.%d.dispatch", e);
        int x = axnn_moe_dispatch(d, n, input, probs, e);
        if (x < 0) return moe_rw_free(&rw), AXNN_ERR_ARG;
        rw.noise = 0.0f; /* each copy is fine-tuned on its own cluster */
        zs[e] = emit_copy(&rw, e, x, x);
        if (zs[e] < 0) probs = -1;
    }
    moe_rw_free(&rw);
    if (st || probs < 0) return st ? st : AXNN_ERR_ARG;
    const axnn_ce_attr *ce = dense->nodes[dense->vals[dense->loss].producer].attr;
    int logits = axnn_moe_combine(d, "experts.combine", probs, zs, cfg->experts, false);
    if (logits < 0 || axnn_softmax_ce(d, logits, labels, ce ? ce->label_smoothing : 0.0f) < 0) return AXNN_ERR_ARG;
    return AXNN_OK;
}

static int find_op(const axnn_graph *g, const char *op)
{
    for (int k = 0; k < g->nnodes; k++)
        if (!strcmp(g->nodes[k].op->name, op)) return k;
    return -1;
}

axnn_status axnn_moe_cluster_fit(axnn_graph *g, axnn_pool *pool, const axnn_dataset *d, const axnn_preproc *pp,
                                 int n, uint64_t seed)
{
    int k = find_op(g, "moe_nearest");
    if (k < 0) return axnn_error(AXNN_ERR_ARG, "not a cluster MoE graph (no gateway)");
    const axnn_node *nd = &g->nodes[k];
    const int E = ((const axnn_moe_nearest_attr *)nd->attr)->experts;
    int64_t m = n > 0 && n < d->n ? n : d->n;
    if (m < E) return axnn_error(AXNN_ERR_ARG, "k-means needs at least %d images (got %lld)", E, (long long)m);
    axnn_graph *gw;
    axnn_status st = moe_extract(g, nd->in[0], false, &gw);
    float *f = NULL;
    int dim = 0;
    if (!st) st = moe_features(gw, pool, d, pp, m, &f, &dim);
    axnn_graph_free(gw);
    if (!st) st = axnn_kmeans(f, m, dim, E, 100, seed, g->vals[nd->in[1]].data, NULL, NULL);
    free(f);
    return st;
}
