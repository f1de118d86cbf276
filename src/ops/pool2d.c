/* Spatial pooling: max-pool, avg-pool and global average pool, as torch.nn.MaxPool2d,
 * AvgPool2d (count_include_pad=True, floor mode) and AdaptiveAvgPool2d(1).
 *
 * x (N, C, H, W) -> y (N, C, OH, OW). Work is split over the N*C planes. Max-pool keeps, in
 * training, the index of each window's maximum in its input plane (the first one on ties, NaN
 * wins, as in PyTorch) and routes the gradient there. The common 2x2 stride-2 window on even
 * planes runs a vectorized kernel (kernels/eltwise) with the same tie and NaN rules.
 */
#include "ops/op.h"

#include "kernels/eltwise/eltwise.h"

#include <math.h>
#include <string.h>

static axnn_status pool_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_pool_attr *a = nd->attr;
    const axnn_value *x = &g->vals[nd->in[0]];
    if (x->shape.nd != 4) return axnn_error(AXNN_ERR_SHAPE, "%s needs a 4-d input", nd->op->name);
    if (a->kh < 1 || a->kw < 1 || a->sh < 1 || a->sw < 1 || a->ph < 0 || a->pw < 0 ||
        2 * a->ph > a->kh || 2 * a->pw > a->kw)
        return axnn_error(AXNN_ERR_ARG, "%s: bad pooling parameters", nd->op->name);
    int64_t oh = (x->shape.d[2] + 2 * a->ph - a->kh) / a->sh + 1;
    int64_t ow = (x->shape.d[3] + 2 * a->pw - a->kw) / a->sw + 1;
    if (oh < 1 || ow < 1)
        return axnn_error(AXNN_ERR_SHAPE, "%s: input %lldx%lld is smaller than the window", nd->op->name,
                          (long long)x->shape.d[2], (long long)x->shape.d[3]);
    *out = (axnn_shape){4, {x->shape.d[0], x->shape.d[1], oh, ow}};
    *fl = AXNN_VF_BATCHED;
    return AXNN_OK;
}

typedef struct pool_task {
    axnn_exec *e;
    axnn_node *nd;
} pool_task;

typedef struct plane_geom {
    int64_t H, W, OH, OW, planes;
} plane_geom;

static plane_geom plane_of(axnn_exec *e, axnn_node *nd)
{
    const axnn_tensor *x = op_in(e, nd, 0), *y = op_out(e, nd);
    return (plane_geom){x->shape.d[2], x->shape.d[3], y->shape.d[2], y->shape.d[3], e->n * x->shape.d[1]};
}

static void maxpool_fwd_task(void *arg, int ith, int nth)
{
    pool_task *t = arg;
    const axnn_pool_attr *a = t->nd->attr;
    plane_geom q = plane_of(t->e, t->nd);
    const float *x = op_in(t->e, t->nd, 0)->data;
    float *y = op_out(t->e, t->nd)->data;
    int32_t *idx = t->e->training ? op_state(t->e, t->nd) : NULL;
    int64_t lo, hi;
    axnn_split(q.planes, ith, nth, &lo, &hi);
    if (a->kh == 2 && a->kw == 2 && a->sh == 2 && a->sw == 2 && a->ph == 0 && a->pw == 0 &&
        q.H % 2 == 0 && q.W % 2 == 0) {
        const axnn_eltwise *k = axnn_eltwise_get();
        for (int64_t pl = lo; pl < hi; pl++)
            k->maxpool2x2(x + pl * q.H * q.W, y + pl * q.OH * q.OW, idx ? idx + pl * q.OH * q.OW : NULL,
                          q.H, q.W);
        return;
    }
    for (int64_t pl = lo; pl < hi; pl++) {
        const float *xp = x + pl * q.H * q.W;
        for (int64_t oy = 0; oy < q.OH; oy++)
            for (int64_t ox = 0; ox < q.OW; ox++) {
                float best = -INFINITY;
                int32_t bi = -1;
                for (int ky = 0; ky < a->kh; ky++) {
                    int64_t iy = oy * a->sh - a->ph + ky;
                    if (iy < 0 || iy >= q.H) continue;
                    for (int kx = 0; kx < a->kw; kx++) {
                        int64_t ix = ox * a->sw - a->pw + kx;
                        if (ix < 0 || ix >= q.W) continue;
                        float v = xp[iy * q.W + ix];
                        if (v > best || isnan(v) || bi < 0) {
                            best = v;
                            bi = (int32_t)(iy * q.W + ix);
                            if (isnan(v)) goto done;
                        }
                    }
                }
            done:
                y[(pl * q.OH + oy) * q.OW + ox] = best;
                if (idx) idx[(pl * q.OH + oy) * q.OW + ox] = bi;
            }
    }
}

static void maxpool_bwd_task(void *arg, int ith, int nth)
{
    pool_task *t = arg;
    plane_geom q = plane_of(t->e, t->nd);
    const float *dy = op_out(t->e, t->nd)->grad;
    float *dx = op_in(t->e, t->nd, 0)->grad;
    const int32_t *idx = op_state(t->e, t->nd);
    int64_t lo, hi;
    axnn_split(q.planes, ith, nth, &lo, &hi);
    for (int64_t pl = lo; pl < hi; pl++) {
        float *dxp = dx + pl * q.H * q.W;
        if (!op_accum(t->e, t->nd)[0]) memset(dxp, 0, (size_t)(q.H * q.W) * sizeof(float));
        for (int64_t o = pl * q.OH * q.OW; o < (pl + 1) * q.OH * q.OW; o++) dxp[idx[o]] += dy[o];
    }
}

static void maxpool_forward(axnn_exec *e, axnn_node *nd)
{
    pool_task t = {e, nd};
    axnn_pool_run(e->pool, maxpool_fwd_task, &t);
}

static void maxpool_backward(axnn_exec *e, axnn_node *nd)
{
    if (!in_needs_grad(e, nd, 0)) return;
    pool_task t = {e, nd};
    axnn_pool_run(e->pool, maxpool_bwd_task, &t);
}

static size_t maxpool_state(const axnn_graph *g, const axnn_node *nd, int batch)
{
    return (size_t)(batch * per_image(&g->vals[nd->out])) * sizeof(int32_t);
}

const axnn_op_def axnn_op_maxpool2d = {
    .name = "maxpool2d",
    .flags = AXNN_OPF_PER_IMAGE,
    .infer = pool_infer,
    .state_bytes = maxpool_state,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
};

/* Average pooling over a window; the divisor is kh*kw (count_include_pad). Backward spreads
 * each output gradient evenly over the in-image part of its window. */
static void avgpool_fwd_task(void *arg, int ith, int nth)
{
    pool_task *t = arg;
    const axnn_pool_attr *a = t->nd->attr;
    plane_geom q = plane_of(t->e, t->nd);
    const float *x = op_in(t->e, t->nd, 0)->data;
    float *y = op_out(t->e, t->nd)->data;
    const float inv = 1.0f / (float)(a->kh * a->kw);
    int64_t lo, hi;
    axnn_split(q.planes, ith, nth, &lo, &hi);
    for (int64_t pl = lo; pl < hi; pl++) {
        const float *xp = x + pl * q.H * q.W;
        for (int64_t oy = 0; oy < q.OH; oy++)
            for (int64_t ox = 0; ox < q.OW; ox++) {
                float s = 0.0f;
                for (int ky = 0; ky < a->kh; ky++) {
                    int64_t iy = oy * a->sh - a->ph + ky;
                    if (iy < 0 || iy >= q.H) continue;
                    for (int kx = 0; kx < a->kw; kx++) {
                        int64_t ix = ox * a->sw - a->pw + kx;
                        if (ix >= 0 && ix < q.W) s += xp[iy * q.W + ix];
                    }
                }
                y[(pl * q.OH + oy) * q.OW + ox] = s * inv;
            }
    }
}

static void avgpool_bwd_task(void *arg, int ith, int nth)
{
    pool_task *t = arg;
    const axnn_pool_attr *a = t->nd->attr;
    plane_geom q = plane_of(t->e, t->nd);
    const float *dy = op_out(t->e, t->nd)->grad;
    float *dx = op_in(t->e, t->nd, 0)->grad;
    const float inv = 1.0f / (float)(a->kh * a->kw);
    int64_t lo, hi;
    axnn_split(q.planes, ith, nth, &lo, &hi);
    for (int64_t pl = lo; pl < hi; pl++) {
        float *dxp = dx + pl * q.H * q.W;
        if (!op_accum(t->e, t->nd)[0]) memset(dxp, 0, (size_t)(q.H * q.W) * sizeof(float));
        for (int64_t oy = 0; oy < q.OH; oy++)
            for (int64_t ox = 0; ox < q.OW; ox++) {
                float g = dy[(pl * q.OH + oy) * q.OW + ox] * inv;
                for (int ky = 0; ky < a->kh; ky++) {
                    int64_t iy = oy * a->sh - a->ph + ky;
                    if (iy < 0 || iy >= q.H) continue;
                    for (int kx = 0; kx < a->kw; kx++) {
                        int64_t ix = ox * a->sw - a->pw + kx;
                        if (ix >= 0 && ix < q.W) dxp[iy * q.W + ix] += g;
                    }
                }
            }
    }
}

static void avgpool_forward(axnn_exec *e, axnn_node *nd)
{
    pool_task t = {e, nd};
    axnn_pool_run(e->pool, avgpool_fwd_task, &t);
}

static void avgpool_backward(axnn_exec *e, axnn_node *nd)
{
    if (!in_needs_grad(e, nd, 0)) return;
    pool_task t = {e, nd};
    axnn_pool_run(e->pool, avgpool_bwd_task, &t);
}

const axnn_op_def axnn_op_avgpool2d = {
    .name = "avgpool2d",
    .flags = AXNN_OPF_PER_IMAGE,
    .infer = pool_infer,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
};

/* Global average pool: (N, C, H, W) -> (N, C, 1, 1). */
static axnn_status gap_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_value *x = &g->vals[nd->in[0]];
    if (x->shape.nd != 4) return axnn_error(AXNN_ERR_SHAPE, "global_avgpool needs a 4-d input");
    *out = (axnn_shape){4, {x->shape.d[0], x->shape.d[1], 1, 1}};
    *fl = AXNN_VF_BATCHED;
    return AXNN_OK;
}

static void gap_fwd_task(void *arg, int ith, int nth)
{
    pool_task *t = arg;
    plane_geom q = plane_of(t->e, t->nd);
    const float *x = op_in(t->e, t->nd, 0)->data;
    float *y = op_out(t->e, t->nd)->data;
    const int64_t hw = q.H * q.W;
    int64_t lo, hi;
    axnn_split(q.planes, ith, nth, &lo, &hi);
    for (int64_t pl = lo; pl < hi; pl++) {
        float s = 0.0f;
        for (int64_t i = 0; i < hw; i++) s += x[pl * hw + i];
        y[pl] = s / (float)hw;
    }
}

static void gap_bwd_task(void *arg, int ith, int nth)
{
    pool_task *t = arg;
    plane_geom q = plane_of(t->e, t->nd);
    const float *dy = op_out(t->e, t->nd)->grad;
    float *dx = op_in(t->e, t->nd, 0)->grad;
    const int64_t hw = q.H * q.W;
    int64_t lo, hi;
    axnn_split(q.planes, ith, nth, &lo, &hi);
    for (int64_t pl = lo; pl < hi; pl++) {
        float g = dy[pl] / (float)hw;
        float *d = dx + pl * hw;
        if (op_accum(t->e, t->nd)[0])
            for (int64_t i = 0; i < hw; i++) d[i] += g;
        else
            for (int64_t i = 0; i < hw; i++) d[i] = g;
    }
}

static void gap_forward(axnn_exec *e, axnn_node *nd)
{
    pool_task t = {e, nd};
    axnn_pool_run(e->pool, gap_fwd_task, &t);
}

static void gap_backward(axnn_exec *e, axnn_node *nd)
{
    if (!in_needs_grad(e, nd, 0)) return;
    pool_task t = {e, nd};
    axnn_pool_run(e->pool, gap_bwd_task, &t);
}

const axnn_op_def axnn_op_global_avgpool = {
    .name = "global_avgpool",
    .flags = AXNN_OPF_PER_IMAGE,
    .infer = gap_infer,
    .forward = gap_forward,
    .backward = gap_backward,
};
