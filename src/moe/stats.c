/* Routing statistics of MoE graphs: per-expert loads and the load-balancing loss. The routing
 * nodes accumulate counts in their plan's node statistics on every forward (src/ops/moe_*.c),
 * so each plan counts what it routed. */
#include "moe/rewrite.h"

#include <string.h>

static bool is_router(const axnn_node *nd) { return nd->op == &axnn_op_moe_gate || nd->op == &axnn_op_moe_nearest; }

void axnn_moe_reset_stats(axnn_plan *p) { axnn_plan_reset_stats(p); }

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

int axnn_moe_loads(const axnn_plan *p, int unit, double *share)
{
    const axnn_graph *g = axnn_plan_graph(p);
    const axnn_node *nd = router(g, unit);
    if (!nd) return 0;
    const int64_t *load;
    int64_t seen;
    int E;
    const void *st = axnn_plan_node_stats(p, (int)(nd - g->nodes));
    if (nd->op == &axnn_op_moe_gate) {
        const axnn_moe_gate_stats *a = st;
        load = a->load, seen = a->seen, E = ((const axnn_moe_gate_attr *)nd->attr)->experts;
    } else {
        const axnn_moe_nearest_stats *a = st;
        load = a->load, seen = a->seen, E = ((const axnn_moe_nearest_attr *)nd->attr)->experts;
    }
    for (int e = 0; e < E; e++) share[e] = seen ? (double)load[e] / (double)seen : 0.0;
    return E;
}

float axnn_moe_aux_loss(const axnn_plan *p)
{
    const axnn_graph *g = axnn_plan_graph(p);
    float s = 0.0f;
    for (int k = 0; k < g->nnodes; k++)
        if (g->nodes[k].op == &axnn_op_moe_gate) s += ((const axnn_moe_gate_stats *)axnn_plan_node_stats(p, k))->aux_loss;
    return s;
}
