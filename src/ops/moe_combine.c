/* moe_combine: merges the outputs of a Mixture-of-Experts unit's experts.
 *
 * Inputs probs (N, E), then ys[0..E-1], each (N, ...). Output y (N, ...).
 *   hard: ys[k] holds, packed at its front, the images routed to expert k (moe_dispatch's
 *         order); y_i = ys[k_i][position of i] * p_ik / sg(p_ik). The value is the expert's
 *         output itself (an MoE made of copies of a unit computes what the unit computed),
 *         and the gate's gradient is Switch's (y = p * expert) divided by p:
 *         dp_ik = <dy_i, ys[k_i][pos]> / p_ik, other entries 0.
 *   soft: y_i = sum_e p_ie ys[e]_i;  d ys[e]_i = p_ie dy_i;  dp_ie = <dy_i, ys[e]_i>.
 * Per-token routing: probs (N, T, E) and each row above is a token (hard: tokens packed as
 * moe_dispatch packs them).
 * MACs per image: soft E * (elements of an image), hard 0 (a copy).
 */
#include "ops/op.h"

#include "axnn/moe.h"

#include <string.h>

static axnn_status combine_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_moe_combine_attr *a = nd->attr;
    const axnn_value *p = &g->vals[nd->in[0]], *y0 = &g->vals[nd->in[1]];
    if (nd->nin != a->experts + 1 || p->shape.nd < 2 || p->shape.d[p->shape.nd - 1] != a->experts ||
        per_image(y0) % (per_image(p) / a->experts))
        return axnn_error(AXNN_ERR_SHAPE, "%s: moe_combine takes probs (N, [T,] E) and E expert outputs", nd->name);
    for (int k = 2; k < nd->nin; k++)
        if (!axnn_shape_eq(&y0->shape, &g->vals[nd->in[k]].shape))
            return axnn_error(AXNN_ERR_SHAPE, "%s: expert outputs differ in shape", nd->name);
    *out = y0->shape;
    *fl = AXNN_VF_BATCHED;
    return AXNN_OK;
}

static void combine_forward(axnn_exec *e, axnn_node *nd)
{
    const axnn_moe_combine_attr *a = nd->attr;
    const int E = a->experts;
    const float *P = op_in(e, nd, 0)->data;
    const int64_t T = per_image(op_in(e, nd, 0)) / E, img = per_image(op_out(e, nd)) / T;
    float *Y = op_out(e, nd)->data;
    int64_t pos[AXNN_MOE_MAX_EXPERTS] = {0};
    for (int64_t i = 0; i < e->n * T; i++) {
        float *y = Y + i * img;
        const float *p = P + i * E;
        if (!a->soft) {
            int k = axnn_moe_top1(p, E);
            memcpy(y, (const float *)op_in(e, nd, 1 + k)->data + pos[k]++ * img, (size_t)img * sizeof(float));
            continue;
        }
        const float *y0 = (const float *)op_in(e, nd, 1)->data + i * img;
        for (int64_t j = 0; j < img; j++) y[j] = p[0] * y0[j];
        for (int k = 1; k < E; k++) {
            const float *yk = (const float *)op_in(e, nd, 1 + k)->data + i * img;
            for (int64_t j = 0; j < img; j++) y[j] += p[k] * yk[j];
        }
    }
}

static float dot(const float *a, const float *b, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return (float)s;
}

/* ys[k] row gets dy scaled by s (stored or added per accum). */
static void put_row(float *dst, const float *dy, float s, int64_t n, bool accum)
{
    for (int64_t j = 0; j < n; j++) dst[j] = accum ? dst[j] + s * dy[j] : s * dy[j];
}

static void combine_backward(axnn_exec *e, axnn_node *nd)
{
    const axnn_moe_combine_attr *a = nd->attr;
    const int E = a->experts;
    const axnn_tensor *pv = op_in(e, nd, 0);
    const float *P = pv->data, *dY = op_out(e, nd)->grad;
    const int64_t T = per_image(pv) / E, img = per_image(op_out(e, nd)) / T;
    int64_t pos[AXNN_MOE_MAX_EXPERTS] = {0};
    for (int64_t i = 0; i < e->n * T; i++) {
        const float *p = P + i * E, *dy = dY + i * img;
        float dp[AXNN_MOE_MAX_EXPERTS] = {0};
        int top = a->soft ? -1 : axnn_moe_top1(p, E);
        for (int k = 0; k < E; k++) {
            if (!a->soft && k != top) continue;
            const axnn_tensor *yv = op_in(e, nd, 1 + k);
            int64_t row = a->soft ? i : pos[k]++;
            const float *yk = (const float *)yv->data + row * img;
            dp[k] = dot(dy, yk, img);
            if (!a->soft) dp[k] = p[k] > 0 ? dp[k] / p[k] : 0.0f;
            if (yv->grad) put_row(yv->grad + row * img, dy, a->soft ? p[k] : 1.0f, img, op_accum(e, nd)[1 + k]);
        }
        if (pv->grad)
            for (int k = 0; k < E; k++) pv->grad[i * E + k] = op_accum(e, nd)[0] ? pv->grad[i * E + k] + dp[k] : dp[k];
    }
}

static int64_t combine_macs(const axnn_graph *g, const axnn_node *nd)
{
    const axnn_moe_combine_attr *a = nd->attr;
    return a->soft ? a->experts * per_image(&g->vals[nd->out]) : 0;
}

const axnn_op_def axnn_op_moe_combine = {
    .name = "moe_combine",
    .infer = combine_infer,
    .forward = combine_forward,
    .backward = combine_backward,
    .macs = combine_macs,
};
