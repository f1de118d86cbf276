/* Backward from an arbitrary activation with a given upstream gradient (axnn_graph_backward_from).
 *
 * The ancestors of the seed value are marked by one reverse sweep over the nodes (a node is on
 * the path when its output is marked; then its inputs are). Only those nodes run backward. That
 * is correct only when no marked value with a gradient also feeds an unmarked node: such a node
 * would never add its share (and, being the first writer in backward order, might be the one
 * that was planned to store rather than accumulate). Those graphs are refused. */
#include "graph/plan_impl.h"

#include <stdlib.h>
#include <string.h>

/* on[v] = value v is `seed` or an ancestor of it; node_on[k] = node k's output is. */
static void mark_ancestors(const axnn_graph *g, int seed, bool *on, bool *node_on)
{
    on[seed] = true;
    for (int k = g->vals[seed].producer; k >= 0; k--) {
        const axnn_node *nd = &g->nodes[k];
        node_on[k] = on[nd->out];
        if (!node_on[k]) continue;
        for (int i = 0; i < nd->nin; i++) on[nd->in[i]] = true;
    }
}

/* A marked value (other than the seed) with a gradient consumed by an unmarked node. */
static int find_leak(const axnn_plan *p, int seed, const bool *on, const bool *node_on)
{
    const axnn_graph *g = p->g;
    for (int k = 0; k < g->nnodes; k++) {
        if (node_on[k]) continue;
        const axnn_node *nd = &g->nodes[k];
        for (int i = 0; i < nd->nin; i++) {
            const axnn_value *v = &g->vals[nd->in[i]];
            if (nd->in[i] != seed && on[nd->in[i]] && p->t[nd->in[i]].grad && v->kind == AXNN_VAL_ACT &&
                nd->op->backward)
                return k;
        }
    }
    return -1;
}

static axnn_status check_seed(const axnn_plan *p, int value)
{
    const axnn_graph *g = p->g;
    if (!p->planned_training || !p->training)
        return axnn_error(AXNN_ERR_ARG, "backward needs a training plan and a training forward");
    if (value < 0 || value >= g->nvals || g->vals[value].kind != AXNN_VAL_ACT || !p->t[value].grad)
        return axnn_error(AXNN_ERR_ARG,
                          "backward_from: value %d is not an activation with a gradient", value);
    return AXNN_OK;
}

static void run_marked(axnn_plan *p, axnn_pool *pool, int value, const bool *node_on)
{
    axnn_graph *g = p->g;
    axnn_exec e = axnn_plan_exec(p, pool);
    for (int k = g->vals[value].producer; k >= 0; k--) {
        axnn_node *nd = &g->nodes[k];
        if (!node_on[k] || !nd->op->backward || !p->t[nd->out].grad) continue;
        axnn_exec ne = e;
        if (nd->rows_of >= 0) ne.n = p->t[nd->rows_of].rows < e.n ? p->t[nd->rows_of].rows : e.n;
        if (ne.n > 0) p->be->backward(&ne, nd);
    }
}

axnn_status axnn_plan_backward_from(axnn_plan *p, axnn_pool *pool, int value, const float *dy)
{
    const axnn_graph *g = p->g;
    axnn_status st = check_seed(p, value);
    if (st != AXNN_OK) return st;
    bool *on = calloc((size_t)g->nvals, sizeof *on),
         *node_on = calloc((size_t)g->nnodes + 1, sizeof *node_on);
    if (!on || !node_on) {
        free(on);
        free(node_on);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    }
    mark_ancestors(g, value, on, node_on);
    int leak = find_leak(p, value, on, node_on);
    if (leak >= 0) {
        st =
            axnn_error(AXNN_ERR_ARG,
                       "backward_from: node %d (%s) also takes a gradient from a value on the path",
                       leak, g->nodes[leak].name);
    } else {
        const axnn_value *v = &g->vals[value];
        int64_t n = (v->flags & AXNN_VF_BATCHED) && v->shape.nd ? p->n * per_image(v) : axnn_shape_numel(&v->shape);
        memcpy(p->t[value].grad, dy, (size_t)n * sizeof(float));
        run_marked(p, pool, value, node_on);
    }
    free(on);
    free(node_on);
    return st;
}
