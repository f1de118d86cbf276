/* dropout: in training, y = x * m / (1 - p) with m ~ Bernoulli(1 - p); in eval, y = x.
 *
 * The mask is drawn in fixed chunks of CHUNK elements, each from a generator seeded by
 * (graph seed, training step, node, chunk), so it does not depend on how chunks fall to
 * threads. It is kept (one byte per element) for backward.
 */
#include "ops/op.h"

#include <string.h>

#define CHUNK 4096

static axnn_status dropout_infer(axnn_graph *g, axnn_node *nd, axnn_shape *out, uint32_t *fl)
{
    const axnn_dropout_attr *a = nd->attr;
    if (!(a->p >= 0.0f && a->p < 1.0f))
        return axnn_error(AXNN_ERR_ARG, "dropout probability must be in [0, 1) (got %g)", a->p);
    *out = g->vals[nd->in[0]].shape;
    *fl = g->vals[nd->in[0]].flags & AXNN_VF_BATCHED;
    return AXNN_OK;
}

static size_t dropout_state(const axnn_graph *g, const axnn_node *nd, int batch)
{
    const axnn_value *y = &g->vals[nd->out];
    return (size_t)((y->flags & AXNN_VF_BATCHED) ? batch * per_image(y) : axnn_shape_numel(&y->shape));
}

typedef struct drop_task {
    axnn_exec *e;
    axnn_node *nd;
    int64_t total;
    uint64_t seed;
} drop_task;

static void dropout_fwd_task(void *arg, int ith, int nth)
{
    drop_task *t = arg;
    const axnn_dropout_attr *a = t->nd->attr;
    const float *x = op_in(t->e, t->nd, 0)->data;
    float *y = op_out(t->e, t->nd)->data;
    uint8_t *mask = op_state(t->e, t->nd);
    const float scale = 1.0f / (1.0f - a->p);
    int64_t nchunks = (t->total + CHUNK - 1) / CHUNK, lo, hi;
    axnn_split(nchunks, ith, nth, &lo, &hi);
    for (int64_t c = lo; c < hi; c++) {
        axnn_rng r;
        axnn_rng_seed(&r, t->seed ^ ((uint64_t)c * 0x9e3779b97f4a7c15ull));
        int64_t end = (c + 1) * CHUNK < t->total ? (c + 1) * CHUNK : t->total;
        for (int64_t i = c * CHUNK; i < end; i++) {
            uint8_t keep = axnn_rng_uniform(&r) >= a->p;
            mask[i] = keep;
            y[i] = keep ? x[i] * scale : 0.0f;
        }
    }
}

static void dropout_forward(axnn_exec *e, axnn_node *nd)
{
    const axnn_tensor *x = op_in(e, nd, 0);
    int64_t total = e->n * per_image(x);
    const axnn_dropout_attr *a = nd->attr;
    if (!e->training || a->p == 0.0f || !op_state(e, nd)) {
        memcpy(op_out(e, nd)->data, x->data, (size_t)total * sizeof(float));
        return;
    }
    uint64_t seed = e->seed ^ (e->step * 0xd1342543de82ef95ull) ^
                    ((uint64_t)(nd - e->g->nodes) << 48);
    drop_task t = {e, nd, total, seed};
    axnn_pool_run(e->pool, dropout_fwd_task, &t);
}

static void dropout_backward(axnn_exec *e, axnn_node *nd)
{
    const axnn_tensor *x = op_in(e, nd, 0);
    if (!x->grad) return;
    const axnn_dropout_attr *a = nd->attr;
    const float *dy = op_out(e, nd)->grad;
    const uint8_t *mask = op_state(e, nd);
    const float scale = a->p == 0.0f ? 1.0f : 1.0f / (1.0f - a->p);
    int64_t n = e->n * per_image(x);
    for (int64_t i = 0; i < n; i++) {
        float v = (a->p == 0.0f || mask[i]) ? dy[i] * scale : 0.0f;
        x->grad[i] = op_accum(e, nd)[0] ? x->grad[i] + v : v;
    }
}

const axnn_op_def axnn_op_dropout = {
    .name = "dropout",
    .flags = AXNN_OPF_PER_IMAGE,
    .infer = dropout_infer,
    .state_bytes = dropout_state,
    .forward = dropout_forward,
    .backward = dropout_backward,
};
