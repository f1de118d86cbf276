/* moe_dispatch: gathers the images routed to one expert of a hard Mixture-of-Experts.
 *
 * x (N, ...) and probs (N, E) -> y (N, ...), of which the first `rows` images are those whose
 * top-1 expert (argmax of probs, lowest index on ties) is attr.expert, in batch order. The
 * expert's nodes carry node->rows = &attr.rows, so the executor runs them on those rows only:
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
    if (!(x->flags & AXNN_VF_BATCHED) || p->shape.nd != 2 || a->expert < 0 || a->expert >= p->shape.d[1])
        return axnn_error(AXNN_ERR_SHAPE, "%s: moe_dispatch needs a batch and (N, E) probabilities", nd->name);
    *out = x->shape;
    *fl = AXNN_VF_BATCHED;
    return AXNN_OK;
}

static void dispatch_forward(axnn_exec *e, axnn_node *nd)
{
    axnn_moe_dispatch_attr *a = nd->attr;
    const axnn_value *x = op_in(e, nd, 0), *p = op_in(e, nd, 1);
    const int E = (int)p->shape.d[1];
    const int64_t img = per_image(x);
    const float *X = x->data, *P = p->data;
    float *Y = op_out(e, nd)->data;
    int rows = 0;
    for (int64_t i = 0; i < e->n; i++)
        if (axnn_moe_top1(P + i * E, E) == a->expert)
            memcpy(Y + (int64_t)rows++ * img, X + i * img, (size_t)img * sizeof(float));
    a->rows = rows;
    a->routed += rows;
    a->seen += e->n;
}

static void dispatch_backward(axnn_exec *e, axnn_node *nd)
{
    const axnn_moe_dispatch_attr *a = nd->attr;
    const axnn_value *x = op_in(e, nd, 0), *p = op_in(e, nd, 1);
    if (!x->grad) return;
    const int E = (int)p->shape.d[1];
    const int64_t img = per_image(x);
    const float *P = p->data, *dY = op_out(e, nd)->grad;
    int64_t j = 0;
    for (int64_t i = 0; i < e->n; i++) {
        float *dx = x->grad + i * img;
        bool mine = axnn_moe_top1(P + i * E, E) == a->expert;
        if (!mine) {
            if (!nd->accum[0]) memset(dx, 0, (size_t)img * sizeof(float));
            continue;
        }
        const float *dy = dY + j++ * img;
        if (nd->accum[0])
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
};
