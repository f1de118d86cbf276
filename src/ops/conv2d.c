/* conv2d: y = W * x (+ b), any kernel, stride and padding.
 *
 * x (N, Cin, H, W) -> y (N, Cout, OH, OW); W (Cout, Cin, kh, kw); b (Cout).
 * Per image the convolution is a GEMM: y_n (Cout, P) = W (Cout, K) * col_n (K, P), with
 * K = Cin*kh*kw, P = OH*OW and col_n = im2col(x_n); a 1x1 stride-1 unpadded conv uses x_n as is.
 * Backward, per image: dW += dy_n * col_n^T and dcol = W^T * dy_n, then dx_n = col2im(dcol).
 * Images are split over threads; each thread sums its dW into a private slice of scratch, and
 * the slices are added in thread order, so results depend only on the thread count.
 */
#include "ops/op.h"

#include "kernels/f32-gemm/gemm.h"
#include "kernels/im2col/im2col.h"

#include <string.h>

static axnn_status conv_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_conv2d_attr *a = nd->attr;
    const axnn_value *x = &g->vals[nd->in[0]];
    if (x->shape.nd != 4)
        return axnn_error(AXNN_ERR_SHAPE, "%s: conv2d needs a 4-d input", nd->name);
    if (a->cout < 1 || a->kh < 1 || a->kw < 1 || a->sh < 1 || a->sw < 1 || a->ph < 0 || a->pw < 0)
        return axnn_error(AXNN_ERR_ARG, "%s: bad conv2d parameters", nd->name);
    int64_t oh = (x->shape.d[2] + 2 * a->ph - a->kh) / a->sh + 1;
    int64_t ow = (x->shape.d[3] + 2 * a->pw - a->kw) / a->sw + 1;
    if (oh < 1 || ow < 1)
        return axnn_error(AXNN_ERR_SHAPE, "%s: input %lldx%lld is smaller than the kernel", nd->name,
                          (long long)x->shape.d[2], (long long)x->shape.d[3]);
    const axnn_value *w = &g->vals[nd->in[1]];
    if (w->shape.nd != 4 || w->shape.d[0] != a->cout || w->shape.d[1] != x->shape.d[1] ||
        w->shape.d[2] != a->kh || w->shape.d[3] != a->kw)
        return axnn_error(AXNN_ERR_SHAPE, "%s: weight shape does not match", nd->name);
    *out = (axnn_shape){4, {x->shape.d[0], a->cout, oh, ow}};
    *fl = AXNN_VF_BATCHED;
    return AXNN_OK;
}

static axnn_im2col_geom geom_of(const axnn_graph *g, const axnn_node *nd)
{
    const axnn_conv2d_attr *a = nd->attr;
    const axnn_value *x = &g->vals[nd->in[0]], *y = &g->vals[nd->out];
    return (axnn_im2col_geom){(int)x->shape.d[1], (int)x->shape.d[2], (int)x->shape.d[3], a->kh, a->kw,
                              a->sh, a->sw, a->ph, a->pw, (int)y->shape.d[2], (int)y->shape.d[3]};
}

static bool is_pointwise(const axnn_im2col_geom *q)
{
    return q->kh == 1 && q->kw == 1 && q->sh == 1 && q->sw == 1 && q->ph == 0 && q->pw == 0;
}

static int64_t conv_K(const axnn_im2col_geom *q) { return (int64_t)q->c * q->kh * q->kw; }
static int64_t conv_P(const axnn_im2col_geom *q) { return (int64_t)q->oh * q->ow; }

static size_t conv_scratch(const axnn_graph *g, const axnn_node *nd, int batch, int nth)
{
    axnn_im2col_geom q = geom_of(g, nd);
    const axnn_conv2d_attr *a = nd->attr;
    int64_t floats = axnn_sgemm_ws_floats() + conv_K(&q) * conv_P(&q) + 16;
    if (g->planned_training) floats += (int64_t)a->cout * conv_K(&q) + 16; /* private dW */
    return (size_t)floats * sizeof(float);
}

typedef struct conv_task {
    axnn_exec *e;
    axnn_node *nd;
    axnn_im2col_geom q;
} conv_task;

static void conv_fwd_task(void *arg, int ith, int nth)
{
    conv_task *t = arg;
    axnn_exec *e = t->e;
    axnn_node *nd = t->nd;
    const axnn_conv2d_attr *a = nd->attr;
    const axnn_value *x = op_in(e, nd, 0), *w = op_in(e, nd, 1), *y = op_out(e, nd);
    const float *bias = a->bias ? op_in(e, nd, 2)->data : NULL;
    const int64_t K = conv_K(&t->q), P = conv_P(&t->q);
    float *ws = op_scratch(e, ith), *col = ws + axnn_sgemm_ws_floats();
    int64_t lo, hi;
    axnn_split(e->n, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        const float *xn = (const float *)x->data + n * per_image(x);
        float *yn = (float *)y->data + n * per_image(y);
        const float *B = xn;
        if (!is_pointwise(&t->q)) {
            axnn_im2col(&t->q, xn, col);
            B = col;
        }
        axnn_sgemm(false, false, a->cout, P, K, 1.0f, w->data, K, B, P, 0.0f, yn, P, ws);
        if (bias)
            for (int co = 0; co < a->cout; co++)
                for (int64_t p = 0; p < P; p++) yn[co * P + p] += bias[co];
    }
}

static void conv_forward(axnn_exec *e, axnn_node *nd)
{
    conv_task t = {e, nd, geom_of(e->g, nd)};
    axnn_pool_run(e->pool, conv_fwd_task, &t);
}

static void conv_bwd_task(void *arg, int ith, int nth)
{
    conv_task *t = arg;
    axnn_exec *e = t->e;
    axnn_node *nd = t->nd;
    const axnn_conv2d_attr *a = nd->attr;
    const axnn_value *x = op_in(e, nd, 0), *w = op_in(e, nd, 1), *y = op_out(e, nd);
    const int64_t K = conv_K(&t->q), P = conv_P(&t->q);
    float *ws = op_scratch(e, ith), *col = ws + axnn_sgemm_ws_floats();
    float *dw = col + K * P + 16;
    const bool need_dx = in_needs_grad(e, nd, 0), need_dw = w->grad != NULL;
    if (need_dw) memset(dw, 0, (size_t)(a->cout * K) * sizeof(float));
    int64_t lo, hi;
    axnn_split(e->n, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        const float *xn = (const float *)x->data + n * per_image(x);
        const float *dyn = y->grad + n * per_image(y);
        if (need_dw) {
            const float *B = xn;
            if (!is_pointwise(&t->q)) {
                axnn_im2col(&t->q, xn, col);
                B = col;
            }
            axnn_sgemm(false, true, a->cout, K, P, 1.0f, dyn, P, B, P, 1.0f, dw, K, ws);
        }
        if (need_dx) {
            float *dxn = op_in(e, nd, 0)->grad + n * per_image(x);
            if (is_pointwise(&t->q)) {
                axnn_sgemm(true, false, K, P, a->cout, 1.0f, w->data, K, dyn, P,
                           nd->accum[0] ? 1.0f : 0.0f, dxn, P, ws);
            } else {
                axnn_sgemm(true, false, K, P, a->cout, 1.0f, w->data, K, dyn, P, 0.0f, col, P, ws);
                if (!nd->accum[0]) memset(dxn, 0, (size_t)per_image(x) * sizeof(float));
                axnn_col2im_add(&t->q, col, dxn);
            }
        }
    }
}

/* Adds every thread's private dW (and computes db) for this thread's share of elements. */
static void conv_reduce_task(void *arg, int ith, int nth)
{
    conv_task *t = arg;
    axnn_exec *e = t->e;
    axnn_node *nd = t->nd;
    const axnn_conv2d_attr *a = nd->attr;
    const axnn_value *w = op_in(e, nd, 1), *y = op_out(e, nd);
    const int64_t K = conv_K(&t->q), P = conv_P(&t->q), total = (int64_t)a->cout * K;
    int64_t lo, hi;
    if (w->grad) {
        axnn_split(total, ith, nth, &lo, &hi);
        for (int th = 0; th < nth; th++) {
            const float *dw = op_scratch(e, th) + axnn_sgemm_ws_floats() + K * P + 16;
            for (int64_t i = lo; i < hi; i++) w->grad[i] += dw[i];
        }
    }
    if (a->bias && op_in(e, nd, 2)->grad) {
        float *db = op_in(e, nd, 2)->grad;
        axnn_split(a->cout, ith, nth, &lo, &hi);
        for (int64_t co = lo; co < hi; co++) {
            double s = 0.0;
            for (int64_t n = 0; n < e->n; n++) {
                const float *d = y->grad + n * per_image(y) + co * P;
                float r = 0.0f;
                for (int64_t p = 0; p < P; p++) r += d[p];
                s += r;
            }
            db[co] += (float)s;
        }
    }
}

static void conv_backward(axnn_exec *e, axnn_node *nd)
{
    conv_task t = {e, nd, geom_of(e->g, nd)};
    axnn_pool_run(e->pool, conv_bwd_task, &t);
    axnn_pool_run(e->pool, conv_reduce_task, &t);
}

static int64_t conv_macs(const axnn_graph *g, const axnn_node *nd)
{
    axnn_im2col_geom q = geom_of(g, nd);
    return conv_K(&q) * conv_P(&q) * ((const axnn_conv2d_attr *)nd->attr)->cout;
}

const axnn_op_def axnn_op_conv2d = {
    .name = "conv2d",
    .infer = conv_infer,
    .scratch_bytes = conv_scratch,
    .forward = conv_forward,
    .backward = conv_backward,
    .macs = conv_macs,
};
