/* batchnorm2d, as torch.nn.BatchNorm2d.
 *
 * x (N, C, H, W) -> y, same shape. Inputs: x, weight (C), bias (C), running_mean (C),
 * running_var (C), num_batches_tracked (scalar int64).
 * Training: mean and biased variance over (N, H, W) normalize the batch; the running averages
 * move by `momentum` toward the mean and the *unbiased* variance, as in PyTorch. Eval: the
 * running averages normalize. The statistics take one pass: sums of x and x^2 accumulated in
 * double (var = E[x^2] - mean^2 keeps ~9 significant digits even when |mean| is 1000 times the
 * standard deviation), per channel, in a fixed order.
 * State kept for backward: mean and 1/sqrt(var + eps) per channel. Channels are split over
 * threads; each (image, channel) plane is one run of the kernels in kernels/eltwise (float sums
 * per plane, double across planes), so results do not depend on the thread count.
 * Backward (with xhat = (x - mean) * invstd, M = N*H*W):
 *   dbias = sum dy, dweight = sum dy*xhat,
 *   dx = weight * invstd / M * (M*dy - dbias - xhat * dweight).
 */
#include "ops/op.h"
#include "ops/op.h"

#include "kernels/eltwise/eltwise.h"

#include <math.h>

static axnn_status bn_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_value *x = &g->vals[nd->in[0]];
    if (x->shape.nd != 4) return axnn_error(AXNN_ERR_SHAPE, "%s: batchnorm2d needs a 4-d input", nd->name);
    for (int i = 1; i <= 4; i++)
        if (g->vals[nd->in[i]].shape.d[0] != x->shape.d[1])
            return axnn_error(AXNN_ERR_SHAPE, "%s: parameter %d does not have %lld channels", nd->name, i,
                              (long long)x->shape.d[1]);
    *out = x->shape;
    *fl = AXNN_VF_BATCHED;
    return AXNN_OK;
}

static size_t bn_state(const axnn_graph *g, const axnn_node *nd, int batch)
{
    return 2 * (size_t)g->vals[nd->in[0]].shape.d[1] * sizeof(float);
}

/* What one call computes. Alone: y = BN(x), dx from dy. As the head of a training-mode chain
 * (graph/fuse.c): out = relu(BN(x) + res), and backward reads the chain's output gradient,
 * masks it by out > 0, adds it into the residual's gradient and takes dx from it. */
typedef struct bn_task {
    axnn_exec *e;
    axnn_node *nd;
    const float *res; /* residual added before the ReLU, or NULL */
    bool relu;
    float *out;        /* value written */
    const float *dout; /* its gradient (backward) */
    float *dres;       /* gradient of the residual, or NULL */
    bool dres_accum;
} bn_task;

static void bn_fwd_task(void *arg, int ith, int nth)
{
    bn_task *t = arg;
    axnn_exec *e = t->e;
    axnn_node *nd = t->nd;
    const axnn_bn_attr *a = nd->attr;
    const axnn_tensor *x = op_in(e, nd, 0);
    const float *wt = op_in(e, nd, 1)->data, *bs = op_in(e, nd, 2)->data;
    float *rm = op_in(e, nd, 3)->data, *rv = op_in(e, nd, 4)->data;
    const int64_t C = x->shape.d[1], HW = x->shape.d[2] * x->shape.d[3], img = C * HW;
    const int64_t M = e->n * HW;
    float *saved = op_state(e, nd);
    int64_t lo, hi;
    axnn_split(C, ith, nth, &lo, &hi);
    const axnn_eltwise *k = axnn_eltwise_get();
    for (int64_t c = lo; c < hi; c++) {
        float mean, invstd;
        if (e->training) {
            double s1 = 0.0, s2 = 0.0;
            for (int64_t n = 0; n < e->n; n++) k->moments((const float *)x->data + n * img + c * HW, HW, &s1, &s2);
            double m = s1 / (double)M, var = s2 / (double)M - m * m;
            var = var > 0.0 ? var : 0.0;
            double ss = var * (double)M;
            mean = (float)m;
            invstd = (float)(1.0 / sqrt(var + a->eps));
            double unbiased = M > 1 ? ss / (double)(M - 1) : var;
            rm[c] = (float)((1.0 - a->momentum) * rm[c] + a->momentum * m);
            rv[c] = (float)((1.0 - a->momentum) * rv[c] + a->momentum * unbiased);
            if (saved) {
                saved[c] = mean;
                saved[C + c] = invstd;
            }
        } else {
            mean = rm[c];
            invstd = 1.0f / sqrtf(rv[c] + a->eps);
        }
        float scale = wt[c] * invstd, shift = bs[c] - mean * scale;
        for (int64_t n = 0; n < e->n; n++) {
            const int64_t o = n * img + c * HW;
            k->bn_apply((const float *)x->data + o, t->res ? t->res + o : NULL, t->out + o, HW, scale,
                        shift, t->relu);
        }
    }
}

static void bn_run_forward(bn_task *t)
{
    axnn_pool_run(t->e->pool, bn_fwd_task, t);
    if (t->e->training) ((int64_t *)op_in(t->e, t->nd, 5)->data)[0] += 1;
}

static void bn_forward(axnn_exec *e, axnn_node *nd)
{
    bn_task t = {e, nd, NULL, false, op_out(e, nd)->data};
    bn_run_forward(&t);
}

static void bn_chain_forward(axnn_exec *e, axnn_node *bn, int res, bool relu, int out)
{
    bn_task t = {e, bn, res >= 0 ? op_t(e, res)->data : NULL, relu, op_t(e, out)->data};
    bn_run_forward(&t);
}

static void bn_bwd_task(void *arg, int ith, int nth)
{
    bn_task *t = arg;
    axnn_exec *e = t->e;
    axnn_node *nd = t->nd;
    const axnn_tensor *x = op_in(e, nd, 0);
    const float *wt = op_in(e, nd, 1)->data, *mask = t->relu ? t->out : NULL;
    float *dwt = op_in(e, nd, 1)->grad, *dbs = op_in(e, nd, 2)->grad;
    float *dx = op_in(e, nd, 0)->grad;
    const int64_t C = x->shape.d[1], HW = x->shape.d[2] * x->shape.d[3], img = C * HW;
    const int64_t M = e->n * HW;
    const float *saved = op_state(e, nd);
    int64_t lo, hi;
    axnn_split(C, ith, nth, &lo, &hi);
    const axnn_eltwise *kern = axnn_eltwise_get();
    for (int64_t c = lo; c < hi; c++) {
        const float mean = saved[c], invstd = saved[C + c];
        double sdy = 0.0, sdyx = 0.0;
        for (int64_t n = 0; n < e->n; n++) {
            const int64_t o = n * img + c * HW;
            float r1, r2;
            kern->bn_bwd_sums((const float *)x->data + o, t->dout + o, mask ? mask + o : NULL, HW, mean,
                              &r1, &r2, t->dres ? t->dres + o : NULL, t->dres_accum);
            sdy += r1;
            sdyx += r2;
        }
        sdyx *= invstd; /* sum dy * xhat */
        if (dwt) dwt[c] += (float)sdyx;
        if (dbs) dbs[c] += (float)sdy;
        if (!dx) continue;
        const float k = wt[c] * invstd;
        const float mdy = (float)(sdy / (double)M), mdyx = (float)(sdyx / (double)M);
        for (int64_t n = 0; n < e->n; n++) {
            const int64_t o = n * img + c * HW;
            kern->bn_bwd_dx((const float *)x->data + o, t->dout + o, mask ? mask + o : NULL, dx + o, HW,
                            mean, invstd, k, mdy, mdyx, op_accum(e, nd)[0]);
        }
    }
}

static void bn_backward(axnn_exec *e, axnn_node *nd)
{
    bn_task t = {e, nd, NULL, false, op_out(e, nd)->data, op_out(e, nd)->grad, NULL, false};
    axnn_pool_run(e->pool, bn_bwd_task, &t);
}

static void bn_chain_backward(axnn_exec *e, axnn_node *bn, int res, bool res_accum, bool relu, int out)
{
    float *dres = res >= 0 ? op_t(e, res)->grad : NULL;
    bn_task t = {e, bn, NULL, relu, op_t(e, out)->data, op_t(e, out)->grad, dres, res_accum};
    axnn_pool_run(e->pool, bn_bwd_task, &t);
}

const axnn_op_def axnn_op_batchnorm2d = {
    .name = "batchnorm2d",
    .flags = AXNN_OPF_PER_IMAGE | AXNN_OPF_FUSE_BN,
    .infer = bn_infer,
    .state_bytes = bn_state,
    .forward = bn_forward,
    .backward = bn_backward,
    .chain_forward = bn_chain_forward,
    .chain_backward = bn_chain_backward,
};
