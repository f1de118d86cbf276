/* moe_nearest: the routing decision of a Cluster MoE (see axnn/moe.h).
 *
 * feat (N, D) -> probs (N, E), one-hot: probs[n, e] = 1 for the centroid nearest to feat[n]
 * (squared Euclidean distance, lowest index on ties), from the buffer centroids (E, D) that
 * k-means fitted on the training set's gateway features. No gradient flows through a choice,
 * so the node has no backward. It runs in float (AXNN_NF_FLOAT) on the calling thread.
 */
#include "ops/op.h"

#include "axnn/moe.h"

#include <string.h>

static axnn_status nearest_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_moe_nearest_attr *a = nd->attr;
    const axnn_value *x = &g->vals[nd->in[0]], *c = &g->vals[nd->in[1]];
    if (x->shape.nd != 2) return axnn_error(AXNN_ERR_SHAPE, "%s: moe_nearest needs (N, D) features", nd->name);
    if (a->experts < 2 || a->experts > AXNN_MOE_MAX_EXPERTS)
        return axnn_error(AXNN_ERR_ARG, "%s: %d experts (2..%d)", nd->name, a->experts, AXNN_MOE_MAX_EXPERTS);
    if (c->shape.nd != 2 || c->shape.d[0] != a->experts || c->shape.d[1] != x->shape.d[1])
        return axnn_error(AXNN_ERR_SHAPE, "%s: centroids shape does not match", nd->name);
    *out = (axnn_shape){2, {x->shape.d[0], a->experts}};
    *fl = AXNN_VF_BATCHED;
    return AXNN_OK;
}

static void nearest_forward(axnn_exec *e, axnn_node *nd)
{
    const axnn_moe_nearest_attr *a = nd->attr;
    axnn_moe_nearest_stats *st = op_stats(e, nd);
    const axnn_tensor *x = op_in(e, nd, 0);
    const int E = a->experts, D = (int)x->shape.d[1];
    const float *F = x->data, *C = op_in(e, nd, 1)->data;
    float *P = op_out(e, nd)->data;
    memset(P, 0, (size_t)e->n * (size_t)E * sizeof(float));
    for (int64_t n = 0; n < e->n; n++) {
        int k = axnn_kmeans_nearest(C, E, D, F + n * D);
        P[n * E + k] = 1.0f;
        st->load[k]++;
    }
    st->seen += e->n;
}

static int64_t nearest_macs(const axnn_graph *g, const axnn_node *nd)
{
    return axnn_shape_numel(&g->vals[nd->in[1]].shape);
}

static size_t moe_nearest_stats_bytes(const axnn_graph *g, const axnn_node *nd) { return sizeof(axnn_moe_nearest_stats); }

const axnn_op_def axnn_op_moe_nearest = {
    .name = "moe_nearest",
    .infer = nearest_infer,
    .forward = nearest_forward,
    .macs = nearest_macs,
    .stats_bytes = moe_nearest_stats_bytes,
};
