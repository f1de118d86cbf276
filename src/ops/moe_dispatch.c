/* moe_dispatch: gathers the images (or tokens) routed to one expert of a hard Mixture-of-Experts.
 *
 * x (N, ...) and probs (N, E) -> y (N, ...), of which the first `rows` images are those whose
 * top-1 expert (argmax of probs, lowest index on ties) is attr.expert, in batch order.
 * Per-token routing (a ViT's MLP): x (N, T, D) and probs (N, T, E); the routed tokens are packed
 * in order into y's N * T token rows and `rows` = ceil(tokens / T) pseudo-images of T tokens
 * (the tail of the last one is zeroed), so the expert's per-token nodes run on just those. The
 * dispatch sets its output's row count in the plan to `rows`, and the expert's nodes carry
 * node->rows_of = this output, so the executor runs them on those rows only:
 * an image costs the MACs of its own expert, not of all of them. The rest of y is never read.
 *
 * Backward: dx[i] (+)= dy[position of i] for the routed images; the others get 0 (or nothing
 * when accumulating). The routing is recomputed from probs, which is cheap (N * E) and keeps
 * the node stateless. No gradient goes to probs (the choice is piecewise constant; the gate
 * learns through moe_combine).
 */
#include "ops/op.h"

#include "axnn/moe.h"

#include <string.h>

static axnn_status dispatch_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_moe_dispatch_attr *a = nd->attr;
    const axnn_value *x = &g->vals[nd->in[0]], *p = &g->vals[nd->in[1]];
    const int64_t E = p->shape.d[p->shape.nd - 1];
    if (!(x->flags & AXNN_VF_BATCHED) || p->shape.nd < 2 || a->expert < 0 || a->expert >= E ||
        per_image(x) % (per_image(p) / E))
        return axnn_error(AXNN_ERR_SHAPE, "%s: moe_dispatch needs a batch and (N, E) or (N, T, E) probabilities",
                          nd->name);
    *out = x->shape;
    *fl = AXNN_VF_BATCHED;
    return AXNN_OK;
}

/* Routing rows per image (1, or T tokens), their width, and E. */
static void row_geometry(const axnn_tensor *x, const axnn_tensor *p, int64_t *T, int64_t *w, int *E)
{
    *E = (int)p->shape.d[p->shape.nd - 1];
    *T = per_image(p) / *E;
    *w = per_image(x) / *T;
}

static size_t dispatch_stats_bytes(const axnn_graph *g, const axnn_node *nd) { return sizeof(axnn_moe_dispatch_stats); }

static void dispatch_forward(axnn_exec *e, axnn_node *nd)
{
    const axnn_moe_dispatch_attr *a = nd->attr;
    axnn_moe_dispatch_stats *st = op_stats(e, nd);
    const axnn_tensor *x = op_in(e, nd, 0), *p = op_in(e, nd, 1);
    int64_t T, w;
    int E;
    row_geometry(x, p, &T, &w, &E);
    const float *X = x->data, *P = p->data;
    float *Y = op_out(e, nd)->data;
    int64_t rows = 0;
    for (int64_t i = 0; i < e->n * T; i++)
        if (axnn_moe_top1(P + i * E, E) == a->expert)
            memcpy(Y + rows++ * w, X + i * w, (size_t)w * sizeof(float));
    int64_t imgs = (rows + T - 1) / T;
    if (imgs * T > rows) memset(Y + rows * w, 0, (size_t)((imgs * T - rows) * w) * sizeof(float));
    op_out(e, nd)->rows = (int)imgs;
    st->routed += imgs;
    st->seen += e->n;
}

static void dispatch_backward(axnn_exec *e, axnn_node *nd)
{
    const axnn_moe_dispatch_attr *a = nd->attr;
    const axnn_tensor *x = op_in(e, nd, 0), *p = op_in(e, nd, 1);
    if (!x->grad) return;
    int64_t T, img;
    int E;
    row_geometry(x, p, &T, &img, &E);
    const float *P = p->data, *dY = op_out(e, nd)->grad;
    int64_t j = 0;
    for (int64_t i = 0; i < e->n * T; i++) {
        float *dx = x->grad + i * img;
        bool mine = axnn_moe_top1(P + i * E, E) == a->expert;
        if (!mine) {
            if (!op_accum(e, nd)[0]) memset(dx, 0, (size_t)img * sizeof(float));
            continue;
        }
        const float *dy = dY + j++ * img;
        if (op_accum(e, nd)[0])
            for (int64_t k = 0; k < img; k++) dx[k] += dy[k];
        else
            memcpy(dx, dy, (size_t)img * sizeof(float));
    }
}

const axnn_op_def axnn_op_moe_dispatch = {
    .name = "moe_dispatch",
    .infer = dispatch_infer,
    .forward = dispatch_forward,
    .backward = dispatch_backward,
    .stats_bytes = dispatch_stats_bytes,
};
