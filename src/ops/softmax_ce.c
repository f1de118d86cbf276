/* Softmax cross-entropy with label smoothing, as torch.nn.functional.cross_entropy(logits, y,
 * label_smoothing=eps), mean over the batch.
 *
 * logits (N, C), labels (N) int32 -> loss, a scalar. The target distribution is
 * q = (1 - eps) * onehot(y) + eps / C; loss_n = -sum_c q_c log softmax(z_n)_c.
 * State: the softmax probabilities (N, C). Backward: dz = (p - q) * dloss / N.
 */
#include "ops/op.h"

#include <math.h>

static axnn_status ce_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_ce_attr *a = nd->attr;
    const axnn_value *z = &g->vals[nd->in[0]], *y = &g->vals[nd->in[1]];
    if (z->shape.nd != 2) return axnn_error(AXNN_ERR_SHAPE, "cross-entropy needs (N, C) logits");
    if (y->dtype != AXNN_I32 || y->shape.nd != 1)
        return axnn_error(AXNN_ERR_SHAPE, "cross-entropy needs int32 labels of shape (N)");
    if (!(a->label_smoothing >= 0.0f && a->label_smoothing <= 1.0f))
        return axnn_error(AXNN_ERR_ARG, "label smoothing must be in [0, 1] (got %g)", a->label_smoothing);
    *out = (axnn_shape){1, {1}};
    *fl = 0;
    return AXNN_OK;
}

static size_t ce_state(const axnn_graph *g, const axnn_node *nd, int batch)
{
    return (size_t)(batch * per_image(&g->vals[nd->in[0]])) * sizeof(float);
}

static void ce_forward(axnn_exec *e, axnn_node *nd)
{
    const axnn_ce_attr *a = nd->attr;
    const axnn_tensor *zv = op_in(e, nd, 0);
    const float *z = zv->data;
    const int32_t *y = op_in(e, nd, 1)->data;
    const int64_t C = zv->shape.d[1];
    float *prob = op_state(e, nd); /* NULL in eval plans */
    const double eps = a->label_smoothing;
    double total = 0.0;
    for (int64_t n = 0; n < e->n; n++) {
        const float *zn = z + n * C;
        float mx = zn[0];
        for (int64_t c = 1; c < C; c++) mx = zn[c] > mx ? zn[c] : mx;
        double s = 0.0, sumz = 0.0;
        for (int64_t c = 0; c < C; c++) {
            s += exp((double)(zn[c] - mx));
            sumz += zn[c];
        }
        double lse = log(s) + mx;
        int32_t t = y[n];
        double nll = (t >= 0 && t < C) ? lse - zn[t] : 0.0;
        double smooth = lse - sumz / (double)C; /* -mean_c log p_c */
        total += (1.0 - eps) * nll + eps * smooth;
        if (prob)
            for (int64_t c = 0; c < C; c++) prob[n * C + c] = (float)exp((double)zn[c] - lse);
    }
    ((float *)op_out(e, nd)->data)[0] = (float)(total / (double)e->n);
}

static void ce_backward(axnn_exec *e, axnn_node *nd)
{
    const axnn_ce_attr *a = nd->attr;
    const axnn_tensor *zv = op_in(e, nd, 0);
    if (!zv->grad) return;
    const int32_t *y = op_in(e, nd, 1)->data;
    const int64_t C = zv->shape.d[1];
    const float *prob = op_state(e, nd);
    const float g = op_out(e, nd)->grad[0] / (float)e->n;
    const float eps = a->label_smoothing, off = eps / (float)C;
    for (int64_t n = 0; n < e->n; n++)
        for (int64_t c = 0; c < C; c++) {
            float q = off + (c == y[n] ? 1.0f - eps : 0.0f);
            float v = (prob[n * C + c] - q) * g;
            zv->grad[n * C + c] = op_accum(e, nd)[0] ? zv->grad[n * C + c] + v : v;
        }
}

const axnn_op_def axnn_op_softmax_ce = {
    .name = "softmax_ce",
    .flags = AXNN_OPF_PER_IMAGE,
    .infer = ce_infer,
    .state_bytes = ce_state,
    .forward = ce_forward,
    .backward = ce_backward,
};
