/* The executor: runs the nodes in order (forward) and in reverse (backward). */
#include "axnn/graph.h"

#include "ops/op.h"

#include <string.h>

void axnn_graph_set_training(axnn_graph *g, bool training)
{
    g->training = training && g->planned_training;
}

static axnn_exec make_exec(axnn_graph *g, axnn_pool *pool)
{
    return (axnn_exec){g, pool, g->n, axnn_pool_size(pool), g->training, g->scratch};
}

axnn_status axnn_graph_forward(axnn_graph *g, axnn_pool *pool, const float *x,
                               const int32_t *labels, int n)
{
    if (!g->act_arena) return axnn_error(AXNN_ERR_ARG, "graph is not planned");
    if (n < 1 || n > g->batch)
        return axnn_error(AXNN_ERR_ARG, "batch of %d images does not fit the plan (1..%d)", n, g->batch);
    if (axnn_pool_size(pool) > g->nthreads)
        return axnn_error(AXNN_ERR_ARG, "pool of %d threads, graph planned for %d", axnn_pool_size(pool),
                          g->nthreads);
    g->n = n;
    g->vals[g->input].data = (void *)x;
    if (g->label >= 0) g->vals[g->label].data = (void *)labels;
    axnn_exec e = make_exec(g, pool);
    for (int k = 0; k < g->nnodes; k++) {
        axnn_node *nd = &g->nodes[k];
        if (nd->out == g->loss && !labels) continue;
        nd->op->forward(&e, nd);
    }
    if (g->training) g->step++;
    return AXNN_OK;
}

axnn_status axnn_graph_backward(axnn_graph *g, axnn_pool *pool)
{
    if (!g->planned_training || !g->training)
        return axnn_error(AXNN_ERR_ARG, "backward needs a training plan and a training forward");
    if (g->loss < 0) return axnn_error(AXNN_ERR_ARG, "graph has no loss");
    axnn_exec e = make_exec(g, pool);
    g->vals[g->loss].grad[0] = 1.0f;
    for (int k = g->nnodes - 1; k >= 0; k--) {
        axnn_node *nd = &g->nodes[k];
        if (!nd->op->backward || !g->vals[nd->out].grad) continue;
        nd->op->backward(&e, nd);
    }
    return AXNN_OK;
}

void axnn_graph_zero_param_grads(axnn_graph *g)
{
    for (int i = 0; i < g->nvals; i++) {
        axnn_value *v = &g->vals[i];
        if (v->kind == AXNN_VAL_PARAM && v->grad)
            memset(v->grad, 0, (size_t)axnn_shape_numel(&v->shape) * sizeof(float));
    }
}

const float *axnn_graph_logits(const axnn_graph *g)
{
    return g->logits >= 0 ? (const float *)g->vals[g->logits].data : NULL;
}

float axnn_graph_loss_value(const axnn_graph *g)
{
    return g->loss >= 0 && g->vals[g->loss].data ? ((const float *)g->vals[g->loss].data)[0] : 0.0f;
}
