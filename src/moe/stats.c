/* Routing statistics of MoE graphs: per-expert loads and the load-balancing loss. The nodes
 * accumulate counts in their attributes on every forward (src/ops/moe_*.c). */
#include "moe/rewrite.h"

#include <string.h>

static bool is_router(const axnn_node *nd) { return nd->op == &axnn_op_moe_gate || nd->op == &axnn_op_moe_nearest; }

void axnn_moe_reset_stats(axnn_graph *g)
{
    for (int k = 0; k < g->nnodes; k++) {
        axnn_node *nd = &g->nodes[k];
        if (nd->op == &axnn_op_moe_gate) {
            axnn_moe_gate_attr *a = nd->attr;
            a->seen = 0;
            memset(a->load, 0, sizeof a->load);
            memset(a->prob_sum, 0, sizeof a->prob_sum);
        } else if (nd->op == &axnn_op_moe_nearest) {
            axnn_moe_nearest_attr *a = nd->attr;
            a->seen = 0;
            memset(a->load, 0, sizeof a->load);
        } else if (nd->op == &axnn_op_moe_dispatch) {
            axnn_moe_dispatch_attr *a = nd->attr;
            a->routed = a->seen = 0;
        }
    }
}

static const axnn_node *router(const axnn_graph *g, int unit)
{
    for (int k = 0; k < g->nnodes; k++)
        if (is_router(&g->nodes[k]) && unit-- == 0) return &g->nodes[k];
    return NULL;
}

int axnn_moe_units(const axnn_graph *g)
{
    int n = 0;
    for (int k = 0; k < g->nnodes; k++) n += is_router(&g->nodes[k]);
    return n;
}

const char *axnn_moe_unit_name(const axnn_graph *g, int unit)
{
    const axnn_node *nd = router(g, unit);
    return nd ? nd->name : "";
}

int axnn_moe_loads(const axnn_graph *g, int unit, double *share)
{
    const axnn_node *nd = router(g, unit);
    if (!nd) return 0;
    const int64_t *load;
    int64_t seen;
    int E;
    if (nd->op == &axnn_op_moe_gate) {
        const axnn_moe_gate_attr *a = nd->attr;
        load = a->load, seen = a->seen, E = a->experts;
    } else {
        const axnn_moe_nearest_attr *a = nd->attr;
        load = a->load, seen = a->seen, E = a->experts;
    }
    for (int e = 0; e < E; e++) share[e] = seen ? (double)load[e] / (double)seen : 0.0;
    return E;
}

float axnn_moe_aux_loss(const axnn_graph *g)
{
    float s = 0.0f;
    for (int k = 0; k < g->nnodes; k++)
        if (g->nodes[k].op == &axnn_op_moe_gate) s += ((const axnn_moe_gate_attr *)g->nodes[k].attr)->aux_loss;
    return s;
}
