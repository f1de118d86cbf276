/* Graph construction: values, nodes and shape inference; parameter and MAC accounting. */
#include "axnn/graph.h"

#include "graph/op.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t axnn_dtype_size(axnn_dtype t) { return t == AXNN_I64 ? 8 : 4; }

const char *axnn_dtype_name(axnn_dtype t)
{
    switch (t) {
    case AXNN_F32: return "F32";
    case AXNN_I32: return "I32";
    case AXNN_I64: return "I64";
    }
    return "?";
}

int64_t axnn_shape_numel(const axnn_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->nd; i++) n *= s->d[i];
    return n;
}

axnn_shape axnn_shape_make(int nd, const int64_t *d)
{
    axnn_shape s = {.nd = nd};
    for (int i = 0; i < nd; i++) s.d[i] = d[i];
    return s;
}

bool axnn_shape_eq(const axnn_shape *a, const axnn_shape *b)
{
    if (a->nd != b->nd) return false;
    for (int i = 0; i < a->nd; i++)
        if (a->d[i] != b->d[i]) return false;
    return true;
}

char *axnn_shape_str(const axnn_shape *s, char *buf, size_t n)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < s->nd && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%" PRId64, i ? ", " : "", s->d[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

axnn_graph *axnn_graph_new(void)
{
    axnn_graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->input = g->label = g->logits = g->loss = -1;
    g->seed = 0x5eed;
    return g;
}

void axnn_graph_free(axnn_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->nnodes; i++) {
        axnn_node *nd = &g->nodes[i];
        if (nd->ext && nd->ext_ops && nd->ext_ops->free && !g->parent) nd->ext_ops->free(nd->ext);
        free(nd->attr);
    }
    if (g->ext_free && !g->parent) g->ext_free(g);
    for (int i = 0; i < g->nvals; i++) {
        axnn_value *v = &g->vals[i];
        if ((v->kind == AXNN_VAL_PARAM || v->kind == AXNN_VAL_BUFFER) && !(v->flags & AXNN_VF_BORROWED))
            axnn_free(v->data);
    }
    free(g->vals);
    free(g->nodes);
    free(g);
}

int axnn_graph_add_value(axnn_graph *g, const char *name, axnn_val_kind kind, axnn_dtype dt,
                         const axnn_shape *shape, uint32_t flags)
{
    if (g->nvals == g->cap_vals) {
        int cap = g->cap_vals ? 2 * g->cap_vals : 64;
        axnn_value *nv = realloc(g->vals, (size_t)cap * sizeof *nv);
        if (!nv) return axnn_error(AXNN_ERR_NOMEM, "out of memory adding a value"), -1;
        g->vals = nv;
        g->cap_vals = cap;
    }
    axnn_value *v = &g->vals[g->nvals];
    memset(v, 0, sizeof *v);
    if (name) snprintf(v->name, sizeof v->name, "%s", name);
    v->kind = kind;
    v->dtype = dt;
    v->shape = *shape;
    v->flags = flags;
    v->producer = -1;
    if ((kind == AXNN_VAL_PARAM || kind == AXNN_VAL_BUFFER) && !(flags & AXNN_VF_BORROWED)) {
        v->data = axnn_calloc((size_t)axnn_shape_numel(shape) * axnn_dtype_size(dt));
        if (!v->data) return axnn_error(AXNN_ERR_NOMEM, "out of memory for %s", name), -1;
    }
    if (kind == AXNN_VAL_INPUT || kind == AXNN_VAL_LABEL) {
        if (g->ninputs == AXNN_MAX_IO) return axnn_error(AXNN_ERR_ARG, "more than %d graph inputs", AXNN_MAX_IO), -1;
        g->inputs[g->ninputs++] = g->nvals;
    }
    return g->nvals++;
}

int axnn_graph_find_value(const axnn_graph *g, const char *name)
{
    for (int i = 0; i < g->nvals; i++)
        if (g->vals[i].name[0] && !strcmp(g->vals[i].name, name)) return i;
    return -1;
}

int axnn_graph_add_node(axnn_graph *g, const char *opname, const char *name, const int *in,
                        int nin, const void *attr, size_t attr_size)
{
    const axnn_op_def *op = axnn_op_find(opname);
    if (!op) return axnn_error(AXNN_ERR_ARG, "unknown op '%s'", opname), -1;
    return axnn_graph_add_node_op(g, op, name, in, nin, attr, attr_size);
}

int axnn_graph_add_node_op(axnn_graph *g, const axnn_op_def *op, const char *name, const int *in,
                           int nin, const void *attr, size_t attr_size)
{
    const char *opname = op->name;
    if (nin > AXNN_MAX_IN) return axnn_error(AXNN_ERR_ARG, "%s: too many inputs", opname), -1;
    for (int i = 0; i < nin; i++)
        if (in[i] < 0 || in[i] >= g->nvals)
            return axnn_error(AXNN_ERR_ARG, "%s: input %d does not exist", opname, i), -1;
    if (g->nnodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 64;
        axnn_node *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return axnn_error(AXNN_ERR_NOMEM, "out of memory adding a node"), -1;
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    axnn_node *nd = &g->nodes[g->nnodes];
    memset(nd, 0, sizeof *nd);
    nd->op = op;
    snprintf(nd->name, sizeof nd->name, "%s", name ? name : "");
    memcpy(nd->in, in, (size_t)nin * sizeof *in);
    nd->nin = nin;
    nd->out = -1;
    nd->rows_of = -1;
    if (attr && attr_size) {
        nd->attr = malloc(attr_size);
        if (!nd->attr) return axnn_error(AXNN_ERR_NOMEM, "out of memory"), -1;
        memcpy(nd->attr, attr, attr_size);
        nd->attr_size = attr_size;
    }
    axnn_shape out;
    uint32_t oflags = 0;
    axnn_status st = op->infer(g, nd, &out, &oflags);
    if (st != AXNN_OK) {
        free(nd->attr);
        return -1;
    }
    int o = axnn_graph_add_value(g, NULL, AXNN_VAL_ACT, AXNN_F32, &out, oflags);
    if (o < 0) {
        free(nd->attr);
        return -1;
    }
    nd->out = o;
    g->vals[o].producer = g->nnodes;
    for (int i = 0; i < nin; i++) g->vals[in[i]].nconsumers++;
    g->nnodes++;
    return o;
}

const char *axnn_node_op_name(const axnn_node *nd) { return nd->op->name; }

void axnn_node_set_ext(axnn_graph *g, int k, void *ext, const axnn_ext_ops *ops)
{
    axnn_node *nd = &g->nodes[k];
    if (nd->ext && nd->ext_ops && nd->ext_ops->free) nd->ext_ops->free(nd->ext);
    nd->ext = ext;
    nd->ext_ops = ext ? ops : NULL;
    g->version++;
}

bool axnn_graph_is_output(const axnn_graph *g, int v)
{
    if (v == g->logits || v == g->loss) return true;
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == v) return true;
    return false;
}

axnn_status axnn_graph_mark_output(axnn_graph *g, int v)
{
    if (v < 0 || v >= g->nvals) return axnn_error(AXNN_ERR_ARG, "output value %d does not exist", v);
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == v) return AXNN_OK;
    if (g->noutputs == AXNN_MAX_IO) return axnn_error(AXNN_ERR_ARG, "more than %d graph outputs", AXNN_MAX_IO);
    g->outputs[g->noutputs++] = v;
    g->version++;
    return AXNN_OK;
}

int64_t axnn_node_params(const axnn_graph *g, const axnn_node *nd)
{
    int64_t n = 0;
    for (int i = 0; i < nd->nin; i++)
        if (g->vals[nd->in[i]].kind == AXNN_VAL_PARAM) n += axnn_shape_numel(&g->vals[nd->in[i]].shape);
    return n;
}

int64_t axnn_node_macs(const axnn_graph *g, const axnn_node *nd)
{
    return nd->op->macs ? nd->op->macs(g, nd) : 0;
}

int64_t axnn_graph_params(const axnn_graph *g)
{
    int64_t n = 0;
    for (int i = 0; i < g->nvals; i++)
        if (g->vals[i].kind == AXNN_VAL_PARAM) n += axnn_shape_numel(&g->vals[i].shape);
    return n;
}

int64_t axnn_graph_macs(const axnn_graph *g)
{
    int64_t n = 0;
    for (int i = 0; i < g->nnodes; i++) n += axnn_node_macs(g, &g->nodes[i]);
    return n;
}
