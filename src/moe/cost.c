/* Cost accounting of (MoE) graphs under numeric modes.
 *
 * Static MACs count every node once per image (every expert). Effective MACs weight a node
 * that runs on a ragged batch (node->rows_of, an expert of a hard or cluster MoE) by the share of
 * images its dispatch routed to it in a plan, as counted since axnn_moe_reset_stats; before any image
 * has been seen an expert counts 1/E. Gates, the cluster gateway, the routing and the soft
 * combine's weighted sum are included (they run in float and count as exact).
 * f_apx is the share of the effective MACs done on an approximate multiplier (TABLE nodes
 * whose table is not the exact product), and
 *     P_norm = (M_eff / M_base) * (f_apx * P_mul / P_exact + (1 - f_apx))
 * is the multiplication power relative to the dense model with the exact multiplier, where
 * M_base is the dense model's MAC count. Everything that is not on the approximate multiplier
 * is charged as the exact multiplier (float MACs of gates and gateway included).
 */
#include "moe/rewrite.h"

#include "quant/qstate.h"

/* Share of the images that node nd runs on, as plan p routed them (p NULL: none seen yet). */
static double run_share(const axnn_graph *g, const axnn_plan *p, const axnn_node *nd)
{
    if (nd->rows_of < 0) return 1.0;
    const int k = g->vals[nd->rows_of].producer;
    if (k < 0 || g->nodes[k].op != &axnn_op_moe_dispatch) return 1.0;
    const axnn_node *d = &g->nodes[k];
    const axnn_moe_dispatch_stats *a = p ? axnn_plan_node_stats(p, k) : NULL;
    if (a && a->seen > 0) return (double)a->routed / (double)a->seen;
    return 1.0 / (double)g->vals[d->in[1]].shape.d[1];
}

void axnn_moe_cost_of(const axnn_graph *g, const axnn_plan *p, axnn_moe_cost *c)
{
    *c = (axnn_moe_cost){0};
    for (int k = 0; k < g->nnodes; k++) {
        const axnn_node *nd = &g->nodes[k];
        double m = (double)axnn_node_macs(g, nd), share = run_share(g, p, nd);
        c->static_macs += m;
        c->eff_macs += m * share;
        const axnn_qnode *q = axnn_qnode_of(nd);
        bool approx = q && q->mode == AXNN_NUM_TABLE && !q->qm->exact;
        if (approx)
            c->approx_macs += m * share;
        else
            c->exact_macs += m * share;
        if (nd->flags & AXNN_NF_FLOAT) c->router_macs += m * share;
    }
    c->f_apx = c->eff_macs > 0 ? c->approx_macs / c->eff_macs : 0.0;
}

double axnn_moe_pnorm(double eff, double base, double f_apx, double p_mul, double p_exact)
{
    if (!(base > 0) || !(p_exact > 0)) return -1.0;
    return eff / base * (f_apx * p_mul / p_exact + (1.0 - f_apx));
}
