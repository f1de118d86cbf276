/* How numeric modes enter execution: the extension methods (axnn_ext_ops, axnn/graph.h) that
 * quantized nodes carry. The float ops in src/ops know nothing of quantization; their forward
 * first offers the node to its extension (op_ext_forward), and the backend calls the
 * extension's backward after the op's own.
 *
 *   conv2d / linear with an axnn_qnode: while calibrating, record the float input's statistics
 *   and let the float forward run; once calibrated, run the int8 / table forward instead
 *   (conv2d_q.c, linear_q.c). Backward: the table-derived gradient correction (qgrad.c) when
 *   the configuration asks for it; the float backward itself is the straight-through part.
 *   attention: when the graph quantizes attention products, run them in int8 (attention_q.c).
 */
#include "quant/qgrad.h"
#include "quant/quantized.h"
#include "quant/qstate.h"

#include <stdlib.h>

static void qnode_ext_free(void *ext) { axnn_qnode_free(ext); }

static bool qnode_forward(axnn_exec *e, axnn_node *nd, const void *arg)
{
    axnn_qnode *q = nd->ext;
    const axnn_tensor *x = op_in(e, nd, 0);
    if (q->calib) axnn_qnode_observe(q, x->data, e->n * per_image(x));
    if (!axnn_qnode_active(nd)) return false;
    if (nd->op == &axnn_op_conv2d)
        axnn_conv2d_forward_q(e, nd, arg);
    else
        axnn_linear_forward_q(e, nd);
    return true;
}

static axnn_status qnode_backward(axnn_exec *e, axnn_node *nd)
{
    if (!axnn_qgrad_table_on(e->g, nd)) return AXNN_OK;
    if (nd->op == &axnn_op_conv2d)
        axnn_conv2d_qgrad(e, nd);
    else
        axnn_linear_qgrad(e, nd);
    return AXNN_OK;
}

static size_t qnode_scratch(const axnn_graph *g, const axnn_node *nd, int batch, int nth, bool training)
{
    return nd->op == &axnn_op_conv2d ? axnn_conv2d_q_scratch(g, nd, batch) : axnn_linear_q_scratch(g, nd, batch, nth);
}

static size_t qnode_shared(const axnn_graph *g, const axnn_node *nd, int batch, int nth, bool training)
{
    return nd->op == &axnn_op_conv2d ? axnn_conv2d_q_shared(g, nd, batch) : 0;
}

const axnn_ext_ops axnn_qnode_ext_ops = {
    .name = "quant",
    .free = qnode_ext_free,
    .forward = qnode_forward,
    .backward = qnode_backward,
    .scratch_bytes = qnode_scratch,
    .shared_bytes = qnode_shared,
};

static void qattn_free(void *ext) { free(ext); }

static bool qattn_forward(axnn_exec *e, axnn_node *nd, const void *arg)
{
    const axnn_qmul *qm = axnn_quant_attention_qmul(e->g, nd);
    if (!qm) return false;
    axnn_attention_forward_q(e, nd, qm);
    return true;
}

static size_t qattn_scratch(const axnn_graph *g, const axnn_node *nd, int batch, int nth, bool training)
{
    return axnn_attention_q_scratch(g, nd);
}

const axnn_ext_ops axnn_qattn_ext_ops = {
    .name = "quant-attention",
    .free = qattn_free,
    .forward = qattn_forward,
    .scratch_bytes = qattn_scratch,
};
