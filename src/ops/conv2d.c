/* conv2d: y = W * x (+ b), any kernel, stride and padding.
 *
 * x (N, Cin, H, W) -> y (N, Cout, OH, OW); W (Cout, Cin, kh, kw); b (Cout).
 * The work is done by the convolution engine (kernels/conv/conv.h), which treats the whole
 * batch as one GEMM with a column per output pixel. Each call runs two pool tasks: `prepare`
 * copies the input into the engine's padded channel-major layout and packs the weights (into
 * the shared scratch), and `compute` runs the GEMM with a fused epilogue (bias; in eval mode,
 * when the planner fused the node with what follows (graph/fuse.c), also BatchNorm with its
 * running statistics, a residual add and ReLU, writing the chain's last value). In eval mode,
 * 3x3 stride-1 convolutions with 16 to 128 channels run Winograd F(2x2, 3x3) instead
 * (kernels/conv/winograd.h): 2.25 times fewer multiplies, same epilogue.
 *
 * Backward: the input gradient of a stride-1 convolution is the forward convolution of dy with
 * the rotated weights (same engine); strided convolutions use, per image, dcol = W^T dy_n and
 * col2im. The weight gradient is summed by each thread over its share of pixels into a private
 * slice of scratch; a third task adds the slices in thread order (and sums the bias gradient),
 * so results depend only on the thread count.
 */
#include "ops/op.h"

#include "kernels/conv/conv.h"
#include "kernels/conv/winograd.h"
#include "kernels/im2col/im2col.h"

#include <math.h>
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

static axnn_conv_shape shape_of(const axnn_graph *g, const axnn_node *nd, int n)
{
    const axnn_conv2d_attr *a = nd->attr;
    const axnn_value *x = &g->vals[nd->in[0]], *y = &g->vals[nd->out];
    return (axnn_conv_shape){n, (int)x->shape.d[1], (int)x->shape.d[2], (int)x->shape.d[3],
                             a->cout, a->kh, a->kw, a->sh, a->sw, a->ph, a->pw,
                             (int)y->shape.d[2], (int)y->shape.d[3]};
}

static axnn_im2col_geom geom_of(const axnn_conv_shape *s)
{
    return (axnn_im2col_geom){s->c, s->h, s->w, s->kh, s->kw, s->sh, s->sw, s->ph, s->pw, s->oh, s->ow};
}

static int64_t conv_K(const axnn_conv_shape *s) { return (int64_t)s->c * s->kh * s->kw; }
static int64_t conv_P(const axnn_conv_shape *s) { return (int64_t)s->oh * s->ow; }
static int64_t fl64(int64_t floats) { return (floats + 15) / 16 * 16; } /* 64-byte multiple */

static axnn_conv_layout x_layout(const axnn_conv_shape *s)
{
    return axnn_conv_layout_make(s->n, s->c, s->h, s->w, s->ph, s->pw, s->kh);
}

/* ---- memory ---- */

/* Floats of packed weights: the engine's panels or, when it may run, Winograd's. */
static int64_t weights_floats(const axnn_f32_gemm_config *cfg, const axnn_conv_shape *s)
{
    int64_t f = axnn_conv_packed_w_floats(cfg, s->m, conv_K(s));
    if (axnn_conv_wino_ok(cfg, s) && axnn_conv_wino_w_floats(cfg, s) > f) f = axnn_conv_wino_w_floats(cfg, s);
    return f;
}

/* Per thread, in floats: the engine's forward workspace; in training plans also a partial
 * weight gradient with the weight-gradient workspace, and the input-gradient workspace (the
 * engine's, or GEMM + col2im for strided convolutions). */
static size_t conv_scratch(const axnn_graph *g, const axnn_node *nd, int batch, int nth, bool training)
{
    const axnn_f32_gemm_config *cfg = axnn_f32_gemm_config_get();
    axnn_conv_shape s = shape_of(g, nd, batch);
    int64_t f = axnn_conv_fwd_ws_floats(cfg, &s);
    if (axnn_conv_wino_ok(cfg, &s) && axnn_conv_wino_ws_floats(cfg, &s) > f) f = axnn_conv_wino_ws_floats(cfg, &s);
    if (training) {
        int64_t dx = axnn_sgemm_ws_floats() + fl64(conv_K(&s) * conv_P(&s));
        if (axnn_conv_dx_ok(&s)) {
            axnn_conv_shape ds = axnn_conv_dx_shape(&s);
            dx = axnn_conv_fwd_ws_floats(cfg, &ds);
        }
        int64_t dw = fl64(axnn_conv_dw_part_floats(cfg, &s)) + axnn_conv_dw_ws_floats(cfg, &s);
        if (dw + dx > f) f = dw + dx;
    }
    return (size_t)(f + 64) * sizeof(float);
}

/* Shared, in floats. Forward: packed weights and per-channel scale and shift (the engine reads
 * the input in place). Backward (training plans): the input in the engine's padded layout when
 * the weight gradient needs it (packed path), and the flipped weights of the input-gradient
 * convolution. The two never run at once. */
static int64_t bwd_xs_floats(const axnn_conv_shape *s)
{
    axnn_conv_layout xl = x_layout(s);
    return axnn_conv_dw_needs_xs(s) ? fl64(axnn_conv_layout_floats(&xl)) : 0;
}

static size_t conv_shared(const axnn_graph *g, const axnn_node *nd, int batch, int nth, bool training)
{
    const axnn_f32_gemm_config *cfg = axnn_f32_gemm_config_get();
    axnn_conv_shape s = shape_of(g, nd, batch);
    int64_t f = fl64(weights_floats(cfg, &s)) + 2 * fl64(s.m);
    if (training) {
        int64_t flip = axnn_conv_packed_w_floats(cfg, s.c, (int64_t)s.m * s.kh * s.kw);
        int64_t b = bwd_xs_floats(&s) + fl64(flip);
        f = b > f ? b : f;
    }
    return (size_t)(f + 64) * sizeof(float);
}

/* ---- forward ---- */

typedef struct conv_fwd_task {
    axnn_exec *e;
    axnn_node *nd;
    const float *x, *w;
    float *xs, *ap;
    axnn_conv_fwd_args a;
    bool wino; /* eval mode, 3x3 stride 1: Winograd F(2x2, 3x3) (kernels/conv/winograd.h) */
} conv_fwd_task;

static void conv_prep_task(void *arg, int ith, int nth)
{
    conv_fwd_task *t = arg;
    const axnn_conv_shape *s = &t->a.s;
    if (t->wino)
        axnn_conv_wino_pack_w(t->a.cfg, s, t->w, t->ap, ith, nth);
    else
        axnn_conv_pack_w(t->a.cfg, s->m, conv_K(s), t->w, t->ap, ith, nth);
}

static void conv_fwd_task_fn(void *arg, int ith, int nth)
{
    conv_fwd_task *t = arg;
    if (t->wino)
        axnn_conv_wino_fwd(&t->a, op_scratch(t->e, ith), ith, nth);
    else
        axnn_conv_fwd(&t->a, op_scratch(t->e, ith), ith, nth);
}

/* The epilogue of an eval-mode chain (graph/fuse.c): BatchNorm with its running statistics
 * folded into a per-channel scale and shift (with the conv's bias), then residual and ReLU. */
static axnn_conv_epi fused_epilogue(axnn_exec *e, axnn_node *nd, const axnn_conv_shape *s,
                                    float *scale, float *shift)
{
    const axnn_conv2d_attr *a = nd->attr;
    const axnn_fusion *f = op_fuse(e, nd);
    const float *bias = a->bias ? op_in(e, nd, 2)->data : NULL;
    axnn_conv_epi epi = {op_t(e, f->out)->data, (int64_t)s->m * conv_P(s), conv_P(s), NULL, bias,
                         f->res >= 0 ? op_t(e, f->res)->data : NULL, f->relu, false};
    if (f->bn < 0) return epi;
    axnn_node *bn = &e->g->nodes[f->bn];
    const float eps = ((const axnn_bn_attr *)bn->attr)->eps;
    const float *wt = op_in(e, bn, 1)->data, *bs = op_in(e, bn, 2)->data;
    const float *rm = op_in(e, bn, 3)->data, *rv = op_in(e, bn, 4)->data;
    for (int c = 0; c < s->m; c++) {
        float invstd = 1.0f / sqrtf(rv[c] + eps);
        scale[c] = wt[c] * invstd;
        shift[c] = bs[c] - rm[c] * scale[c] + (bias ? bias[c] * scale[c] : 0.0f);
    }
    epi.scale = scale;
    epi.shift = shift;
    return epi;
}

static void conv_forward(axnn_exec *e, axnn_node *nd)
{
    const axnn_conv2d_attr *a = nd->attr;
    axnn_conv_shape s = shape_of(e->g, nd, e->n);
    conv_fwd_task t = {e, nd, op_in(e, nd, 0)->data, op_in(e, nd, 1)->data, NULL, NULL, {0}};
    t.a.cfg = axnn_f32_gemm_config_get();
    t.a.s = s;
    t.a.x = t.x;
    t.a.x_img = (int64_t)s.c * s.h * s.w;
    t.a.x_ch = (int64_t)s.h * s.w;
    t.a.xl = x_layout(&s);
    t.ap = op_shared(e);
    t.a.ap = t.ap;
    t.a.epi = (axnn_conv_epi){op_out(e, nd)->data, (int64_t)s.m * conv_P(&s), conv_P(&s), NULL,
                              a->bias ? op_in(e, nd, 2)->data : NULL, NULL, false, false};
    t.wino = !e->training && axnn_conv_wino_ok(t.a.cfg, &s);
    if (!e->training && op_fuse(e, nd)->role == AXNN_FUSE_HEAD) {
        float *scale = t.ap + fl64(weights_floats(t.a.cfg, &s));
        t.a.epi = fused_epilogue(e, nd, &s, scale, scale + fl64(s.m));
    }
    if (op_ext_forward(e, nd, &t.a.epi)) return; /* numeric modes (src/quant/conv2d_q.c) */
    axnn_pool_run(e->pool, conv_prep_task, &t);
    axnn_pool_run(e->pool, conv_fwd_task_fn, &t);
}

/* ---- backward ---- */

typedef struct conv_bwd_task {
    axnn_exec *e;
    axnn_node *nd;
    axnn_conv_shape s;
    const axnn_f32_gemm_config *cfg;
    bool need_dx, need_dw, dx_engine, need_xs;
    axnn_conv_layout xl, yl;
    float *xs, *dys, *ap;
    axnn_conv_fwd_args dxa;
    axnn_conv_dw_args dwa;
} conv_bwd_task;

static void conv_bwd_prep_task(void *arg, int ith, int nth)
{
    conv_bwd_task *t = arg;
    const axnn_conv_shape *s = &t->s;
    if (t->need_xs)
        axnn_conv_to_xs(&t->xl, op_in(t->e, t->nd, 0)->data, (int64_t)s->c * s->h * s->w,
                        (int64_t)s->h * s->w, t->xs, ith, nth);
    if (t->dx_engine) axnn_conv_pack_w_flip(t->cfg, s, op_in(t->e, t->nd, 1)->data, t->ap, ith, nth);
}

/* Input gradient of a strided convolution, for this thread's images: per image
 * dcol = W^T dy_n (K x P), then dx_n (+)= col2im(dcol). */
static void conv_dx_gemm(conv_bwd_task *t, float *ws, int ith, int nth)
{
    axnn_exec *e = t->e;
    axnn_node *nd = t->nd;
    const axnn_conv_shape *s = &t->s;
    const axnn_tensor *x = op_in(e, nd, 0), *y = op_out(e, nd);
    const int64_t K = conv_K(s), P = conv_P(s);
    axnn_im2col_geom q = geom_of(s);
    float *col = ws + axnn_sgemm_ws_floats();
    int64_t lo, hi;
    axnn_split(e->n, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        float *dxn = x->grad + n * per_image(x);
        axnn_sgemm(true, false, K, P, s->m, 1.0f, op_in(e, nd, 1)->data, K, y->grad + n * per_image(y),
                   P, 0.0f, col, P, ws);
        if (!op_accum(e, nd)[0]) memset(dxn, 0, (size_t)per_image(x) * sizeof(float));
        axnn_col2im_add(&q, col, dxn);
    }
}

static void conv_bwd_task_fn(void *arg, int ith, int nth)
{
    conv_bwd_task *t = arg;
    float *ws = op_scratch(t->e, ith);
    float *rest = ws;
    if (t->need_dw) {
        rest = ws + fl64(axnn_conv_dw_part_floats(t->cfg, &t->s));
        axnn_conv_dw(&t->dwa, ws, rest, ith, nth);
    }
    if (!t->need_dx) return;
    if (t->dx_engine)
        axnn_conv_fwd(&t->dxa, rest, ith, nth);
    else
        conv_dx_gemm(t, rest, ith, nth);
}

/* Adds every thread's partial dW in thread order (and sums db) for this thread's elements. */
static void conv_reduce_task(void *arg, int ith, int nth)
{
    conv_bwd_task *t = arg;
    axnn_exec *e = t->e;
    axnn_node *nd = t->nd;
    const axnn_conv2d_attr *a = nd->attr;
    const axnn_tensor *w = op_in(e, nd, 1), *y = op_out(e, nd);
    const int64_t K = conv_K(&t->s), P = conv_P(&t->s), ldp = axnn_conv_dw_ldp(t->cfg, &t->s);
    int64_t lo, hi;
    if (t->need_dw) {
        axnn_split(a->cout, ith, nth, &lo, &hi);
        for (int th = 0; th < nth; th++) {
            const float *part = op_scratch(e, th);
            for (int64_t r = lo; r < hi; r++)
                for (int64_t k = 0; k < K; k++) w->grad[r * K + k] += part[r * ldp + k];
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

static void conv_bwd_setup(conv_bwd_task *t)
{
    axnn_exec *e = t->e;
    axnn_node *nd = t->nd;
    const axnn_conv_shape *s = &t->s;
    t->cfg = axnn_f32_gemm_config_get();
    t->need_dx = in_needs_grad(e, nd, 0);
    t->need_dw = op_in(e, nd, 1)->grad != NULL;
    t->dx_engine = t->need_dx && axnn_conv_dx_ok(s);
    axnn_conv_shape ds = axnn_conv_dx_shape(s);
    t->need_xs = t->need_dw && axnn_conv_dw_needs_xs(s);
    t->xl = x_layout(s);
    t->yl = axnn_conv_dx_layout(s);
    t->xs = op_shared(e);
    t->dys = NULL; /* the input-gradient convolution reads dy in place */
    t->ap = t->xs + bwd_xs_floats(s);
    const axnn_tensor *x = op_in(e, nd, 0), *y = op_out(e, nd);
    t->dwa = (axnn_conv_dw_args){t->cfg, *s, x->data, per_image(x), (int64_t)s->h * s->w, t->xl,
                                 t->xs, y->grad, per_image(y), conv_P(s)};
    t->dxa = (axnn_conv_fwd_args){t->cfg, ds, y->grad, per_image(y), conv_P(s), t->yl, t->dys, t->ap,
                                  {x->grad, per_image(x), (int64_t)s->h * s->w, NULL, NULL, NULL,
                                   false, op_accum(e, nd)[0]}};
}

static void conv_backward(axnn_exec *e, axnn_node *nd)
{
    conv_bwd_task t = {e, nd, shape_of(e->g, nd, e->n)};
    conv_bwd_setup(&t);
    if (!t.need_dx && !t.need_dw && !(((const axnn_conv2d_attr *)nd->attr)->bias)) return;
    axnn_pool_run(e->pool, conv_bwd_prep_task, &t);
    axnn_pool_run(e->pool, conv_bwd_task_fn, &t);
    axnn_pool_run(e->pool, conv_reduce_task, &t);
}

static int64_t conv_macs(const axnn_graph *g, const axnn_node *nd)
{
    axnn_conv_shape s = shape_of(g, nd, 1);
    return conv_K(&s) * conv_P(&s) * s.m;
}

const axnn_op_def axnn_op_conv2d = {
    .name = "conv2d",
    .flags = AXNN_OPF_PER_IMAGE | AXNN_OPF_FUSE_HEAD,
    .infer = conv_infer,
    .scratch_bytes = conv_scratch,
    .forward = conv_forward,
    .backward = conv_backward,
    .macs = conv_macs,
    .shared_bytes = conv_shared,
};
