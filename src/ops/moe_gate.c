/* moe_gate: the router of a Mixture-of-Experts unit (see axnn/moe.h).
 *
 * Per image: x (N, C, H, W) or (N, C) -> probs (N, E):  g = mean over H, W of x (or x itself);
 * z = W g + b; probs = softmax(z). Per token (a ViT's MLP): x (N, T, D) -> probs (N, T, E), one
 * softmax per token row. W (E, C), b (E). The gate always runs in float (AXNN_NF_FLOAT).
 * Below, a "row" is an image or a token.
 *
 * Load balancing (training, when the gate is trainable): Switch Transformer's auxiliary loss
 *   aux = E * sum_e f_e * P_e,   f_e = share of the batch whose top-1 is e (no gradient),
 *                                P_e = mean over the batch of probs[:, e],
 * weighted by aux_weight and added to the training objective through this node's backward:
 * d aux / d probs[n, e] = E * f_e / N. Its value is kept in the plan's node statistics (aux_loss).
 *
 * Backward: dz = p * (dp - <p, dp>) (softmax), dW += dz^T g, db += sum dz,
 * dx[n, c, :, :] (+)= (dz_n W)[c] / (H W). Top-1 ties go to the lowest index everywhere.
 * The node is small (C * E MACs per image) and runs on the calling thread.
 */
#include "ops/op.h"

#include "axnn/moe.h"

#include <math.h>
#include <string.h>

static axnn_status gate_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_moe_gate_attr *a = nd->attr;
    const axnn_value *x = &g->vals[nd->in[0]], *w = &g->vals[nd->in[1]];
    if (x->shape.nd < 2 || x->shape.nd > 4)
        return axnn_error(AXNN_ERR_SHAPE, "%s: moe_gate needs (N, C, H, W), (N, T, D) or (N, C)", nd->name);
    const int64_t C = x->shape.d[x->shape.nd == 3 ? 2 : 1];
    if (a->experts < 2 || a->experts > AXNN_MOE_MAX_EXPERTS)
        return axnn_error(AXNN_ERR_ARG, "%s: %d experts (2..%d)", nd->name, a->experts, AXNN_MOE_MAX_EXPERTS);
    if (w->shape.nd != 2 || w->shape.d[0] != a->experts || w->shape.d[1] != C)
        return axnn_error(AXNN_ERR_SHAPE, "%s: gate weight shape does not match", nd->name);
    *out = x->shape.nd == 3 ? (axnn_shape){3, {x->shape.d[0], x->shape.d[1], a->experts}}
                            : (axnn_shape){2, {x->shape.d[0], a->experts}};
    *fl = AXNN_VF_BATCHED;
    return AXNN_OK;
}

/* Rows per image (tokens, or 1), features per row (C), and values averaged per feature (HW). */
static void geometry(const axnn_tensor *x, int64_t *T, int64_t *C, int64_t *HW)
{
    *T = x->shape.nd == 3 ? x->shape.d[1] : 1;
    *C = x->shape.d[x->shape.nd == 3 ? 2 : 1];
    *HW = x->shape.nd == 4 ? x->shape.d[2] * x->shape.d[3] : 1;
}

/* Feature c of row n: the global average of channel c (images), or the value itself. */
static float pooled(const axnn_tensor *x, int64_t n, int64_t c)
{
    int64_t T, C, HW;
    geometry(x, &T, &C, &HW);
    const float *p = (const float *)x->data + (n * C + c) * HW;
    if (HW == 1) return p[0];
    double s = 0.0;
    for (int64_t i = 0; i < HW; i++) s += p[i];
    return (float)(s / (double)HW);
}

int axnn_moe_top1(const float *p, int E)
{
    int best = 0;
    for (int e = 1; e < E; e++)
        if (p[e] > p[best]) best = e;
    return best;
}

static void gate_row(const axnn_tensor *x, const float *W, const float *b, int64_t n, int E, float *p)
{
    int64_t T, C, HW;
    geometry(x, &T, &C, &HW);
    float z[AXNN_MOE_MAX_EXPERTS], mx = -INFINITY;
    for (int e = 0; e < E; e++) z[e] = b[e];
    for (int64_t c = 0; c < C; c++) {
        float gc = pooled(x, n, c);
        for (int e = 0; e < E; e++) z[e] += W[e * C + c] * gc;
    }
    for (int e = 0; e < E; e++) mx = z[e] > mx ? z[e] : mx;
    double s = 0.0;
    for (int e = 0; e < E; e++) s += exp((double)(z[e] - mx));
    for (int e = 0; e < E; e++) p[e] = (float)(exp((double)(z[e] - mx)) / s);
}

static void gate_forward(axnn_exec *e, axnn_node *nd)
{
    const axnn_moe_gate_attr *a = nd->attr;
    axnn_moe_gate_stats *st = op_stats(e, nd);
    const int E = a->experts;
    const axnn_tensor *x = op_in(e, nd, 0);
    const float *W = op_in(e, nd, 1)->data, *b = op_in(e, nd, 2)->data;
    float *P = op_out(e, nd)->data;
    int64_t load[AXNN_MOE_MAX_EXPERTS] = {0}, T, C, HW;
    double psum[AXNN_MOE_MAX_EXPERTS] = {0};
    geometry(x, &T, &C, &HW);
    const int64_t R = e->n * T;
    for (int64_t n = 0; n < R; n++) {
        gate_row(x, W, b, n, E, P + n * E);
        load[axnn_moe_top1(P + n * E, E)]++;
        for (int k = 0; k < E; k++) psum[k] += P[n * E + k];
    }
    double aux = 0.0;
    for (int k = 0; k < E; k++) {
        st->load[k] += load[k];
        st->prob_sum[k] += psum[k];
        aux += (double)load[k] / (double)R * psum[k] / (double)R;
    }
    st->seen += R;
    if (e->training) st->aux_loss = (float)(a->aux_weight * E * aux);
}

static void gate_backward(axnn_exec *e, axnn_node *nd)
{
    const axnn_moe_gate_attr *a = nd->attr;
    const int E = a->experts;
    const axnn_tensor *x = op_in(e, nd, 0), *y = op_out(e, nd);
    axnn_tensor *w = op_in(e, nd, 1), *bv = op_in(e, nd, 2);
    const float *P = y->data, *dP = y->grad, *W = w->data;
    int64_t T, C, HW;
    geometry(x, &T, &C, &HW);
    const int64_t N = e->n * T; /* rows */
    float aux[AXNN_MOE_MAX_EXPERTS] = {0};
    if (w->grad && a->aux_weight > 0) { /* d (aux_weight * E * sum f_e P_e) / d p[n, e] */
        for (int64_t n = 0; n < N; n++) aux[axnn_moe_top1(P + n * E, E)] += 1.0f;
        for (int k = 0; k < E; k++) aux[k] = a->aux_weight * E * (aux[k] / (float)N) / (float)N;
    }
    float *dx = x->grad;
    for (int64_t n = 0; n < N; n++) {
        const float *p = P + n * E;
        float dz[AXNN_MOE_MAX_EXPERTS], dot = 0.0f;
        for (int k = 0; k < E; k++) dot += p[k] * (dP[n * E + k] + aux[k]);
        for (int k = 0; k < E; k++) dz[k] = p[k] * (dP[n * E + k] + aux[k] - dot);
        for (int64_t c = 0; c < C; c++) {
            float s = 0.0f;
            if (w->grad) {
                float gc = pooled(x, n, c);
                for (int k = 0; k < E; k++) w->grad[k * C + c] += dz[k] * gc;
            }
            for (int k = 0; k < E; k++) s += dz[k] * W[k * C + c];
            if (!dx) continue;
            float *d = dx + (n * C + c) * HW, v = s / (float)HW;
            for (int64_t i = 0; i < HW; i++) d[i] = op_accum(e, nd)[0] ? d[i] + v : v;
        }
        if (bv->grad)
            for (int k = 0; k < E; k++) bv->grad[k] += dz[k];
    }
}

static int64_t gate_macs(const axnn_graph *g, const axnn_node *nd)
{
    const axnn_shape *x = &g->vals[nd->in[0]].shape;
    const int64_t T = x->nd == 3 ? x->d[1] : 1;
    return T * g->vals[nd->in[1]].shape.d[0] * g->vals[nd->in[1]].shape.d[1];
}

static size_t moe_gate_stats_bytes(const axnn_graph *g, const axnn_node *nd) { return sizeof(axnn_moe_gate_stats); }

const axnn_op_def axnn_op_moe_gate = {
    .name = "moe_gate",
    .infer = gate_infer,
    .forward = gate_forward,
    .backward = gate_backward,
    .macs = gate_macs,
    .stats_bytes = moe_gate_stats_bytes,
};
