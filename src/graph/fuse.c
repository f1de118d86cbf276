/* Eval-mode fusion: chains conv2d -> [batchnorm2d] -> [add] -> [relu] become one node.
 *
 * In eval mode a BatchNorm is a per-channel affine map with fixed coefficients, so it can be
 * applied to the convolution's sums before they are stored, together with the conv's bias, a
 * residual add and a ReLU: the chain then reads its inputs once and writes one tensor instead
 * of four. The IR stays one graph; the planner marks chains in each plan's node records
 * (axnn_node_rt.fuse), by the ops' flags (AXNN_OPF_FUSE_*), never their names:
 *
 *   head   the conv (AXNN_OPF_FUSE_HEAD); it records the absorbed batchnorm node, the residual value (the add's
 *          other input), whether a ReLU ends the chain, and the value the chain writes;
 *   inner  absorbed nodes before the last (skipped in eval mode);
 *   tail   the last node; in eval mode the executor runs the head's forward in its place.
 *
 * The chain runs at the tail's position, not the head's, because the residual may be computed
 * after the conv (in a ResNet block with a downsample, the shortcut's conv and BN follow the
 * main branch's second conv). Every input of the chain exists by then: the conv's input was
 * made before the conv, and the residual before the add.
 *
 * A node joins a chain only when the value between it and the previous link has that node as
 * its only consumer and is not a graph output (logits, loss), so no one can observe the values
 * the chain skips. Convs carrying a numeric-mode extension (node->ext), and nodes of ragged
 * batches (node->rows_of) or with a forced mode (AXNN_NF_EVAL), are left alone.
 *
 * Memory: in eval plans the skipped values (outputs of the head and inner nodes) get no memory
 * at all, and lifetimes are measured in execution steps, where every node of a chain executes
 * at its tail's index (axnn_fuse_step): the conv's input and the residual live until the tail,
 * the chain's output starts there. Training plans keep every value, so a graph planned for
 * training can switch to eval mode (axnn_graph_set_training) and run fused, leaving the skipped
 * values stale, and back to training, which ignores the marks.
 *
 * Training mode. A BatchNorm needs the batch's statistics before it can normalize, so it
 * cannot join the conv; but the rest of a chain, batchnorm2d -> [add] -> [relu], still runs as
 * one pass (the BN op's chain_forward / chain_backward hooks), and its backward as one pass from the chain's output gradient:
 * the conv runs at its own place, the BN chain at the tail's. The same marks serve; a chain
 * qualifies (axnn_fuse_train) when it has a BN and something after it, and when no node between
 * the add and the tail also takes the residual (so that the residual's gradient, written at the
 * tail's place in the backward order, is still written before it is added to).
 *
 * Fusion is off when the plan is made with no_fusion, or AXNN_NO_FUSE=1.
 */
#include "graph/plan_impl.h"

#include <stdlib.h>
#include <string.h>

/* The node that consumes value v, when it is its only consumer and comes after node k. */
static int sole_consumer(const axnn_graph *g, int v, int k)
{
    const axnn_value *val = &g->vals[v];
    if (val->nconsumers != 1 || axnn_graph_is_output(g, v)) return -1;
    for (int j = k + 1; j < g->nnodes; j++)
        for (int i = 0; i < g->nodes[j].nin; i++)
            if (g->nodes[j].in[i] == v) return j;
    return -1;
}

/* Nodes of a ragged batch (MoE experts, node->rows_of) or with a forced mode stay unfused. */
static bool plain(const axnn_node *nd) { return nd->rows_of < 0 && !(nd->flags & AXNN_NF_EVAL); }

static bool is_op(const axnn_plan *p, int k, uint32_t flag)
{
    return k >= 0 && p->nrt[k].fuse.role == AXNN_FUSE_NONE && plain(&p->g->nodes[k]) &&
           (p->g->nodes[k].op->flags & flag);
}

/* Marks the chain starting at conv node k, if any link follows. */
static void fuse_from(axnn_plan *p, int k)
{
    const axnn_graph *g = p->g;
    axnn_fusion f = {AXNN_FUSE_HEAD, k, k, -1, -1, false, g->nodes[k].out};
    int links[3], nlinks = 0;
    int c = sole_consumer(g, f.out, k);
    if (is_op(p, c, AXNN_OPF_FUSE_BN) && g->nodes[c].in[0] == f.out) {
        f.bn = c;
        links[nlinks++] = c;
        f.out = g->nodes[c].out;
        c = sole_consumer(g, f.out, c);
    }
    if (is_op(p, c, AXNN_OPF_FUSE_ADD)) {
        const axnn_node *a = &g->nodes[c];
        int other = a->in[0] == f.out ? a->in[1] : a->in[0];
        if (other != f.out && g->vals[other].dtype == AXNN_F32) {
            f.res = other;
            links[nlinks++] = c;
            f.out = a->out;
            c = sole_consumer(g, f.out, c);
        }
    }
    if (is_op(p, c, AXNN_OPF_FUSE_RELU)) {
        f.relu = true;
        links[nlinks++] = c;
        f.out = g->nodes[c].out;
    }
    if (nlinks == 0) return;
    f.tail = links[nlinks - 1];
    p->nrt[k].fuse = f;
    for (int i = 0; i < nlinks; i++) {
        axnn_fusion *l = &p->nrt[links[i]].fuse;
        *l = (axnn_fusion){i == nlinks - 1 ? AXNN_FUSE_TAIL : AXNN_FUSE_INNER, k, f.tail, -1, -1, false, -1};
    }
}

void axnn_plan_fuse(axnn_plan *p)
{
    const axnn_graph *g = p->g;
    for (int k = 0; k < g->nnodes; k++) memset(&p->nrt[k].fuse, 0, sizeof p->nrt[k].fuse);
    if (p->cfg.no_fusion || axnn_settings_get()->no_fuse) return;
    for (int k = 0; k < g->nnodes; k++) {
        const axnn_node *nd = &g->nodes[k];
        if (p->nrt[k].fuse.role == AXNN_FUSE_NONE && !nd->ext && plain(nd) && (nd->op->flags & AXNN_OPF_FUSE_HEAD))
            fuse_from(p, k);
    }
}

int axnn_fuse_step(const axnn_plan *p, int k)
{
    const axnn_fusion *f = &p->nrt[k].fuse;
    return f->role == AXNN_FUSE_NONE ? k : f->tail;
}

bool axnn_fuse_internal(const axnn_plan *p, int v)
{
    int k = p->g->vals[v].producer;
    if (k < 0) return false;
    axnn_fuse_role r = p->nrt[k].fuse.role;
    return r == AXNN_FUSE_HEAD || r == AXNN_FUSE_INNER;
}

bool axnn_fuse_train(const axnn_plan *p, int head, int *add_node)
{
    const axnn_graph *g = p->g;
    const axnn_fusion *f = &p->nrt[head].fuse;
    *add_node = -1;
    if (f->role != AXNN_FUSE_HEAD || f->bn < 0 || f->tail == f->bn) return false;
    if (!g->nodes[f->bn].op->chain_forward) return false;
    if (f->res < 0) return true;
    for (int k = f->bn + 1; k <= f->tail; k++)
        if (p->nrt[k].fuse.head == head && p->nrt[k].fuse.role != AXNN_FUSE_NONE &&
            (g->nodes[k].op->flags & AXNN_OPF_FUSE_ADD))
            *add_node = k;
    if (*add_node < 0) return false;
    for (int k = *add_node + 1; k <= f->tail; k++)
        for (int i = 0; i < g->nodes[k].nin; i++)
            if (g->nodes[k].in[i] == f->res) return false;
    return true;
}
