/* Graph rewriting: see rewrite.h. */
#include "graph/rewrite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

axnn_status axnn_rw_init(axnn_rw *rw, const axnn_graph *src, axnn_graph *dst)
{
    memset(rw, 0, sizeof *rw);
    rw->src = src;
    rw->dst = dst;
    rw->rows_of = -1;
    rw->map = malloc(((size_t)src->nvals + 1) * sizeof *rw->map);
    rw->nmap = malloc(((size_t)src->nnodes + 1) * sizeof *rw->nmap);
    if (!rw->map || !rw->nmap) {
        axnn_rw_free(rw);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < src->nvals; i++) rw->map[i] = -1;
    for (int i = 0; i < src->nnodes; i++) rw->nmap[i] = -1;
    return AXNN_OK;
}

void axnn_rw_free(axnn_rw *rw)
{
    free(rw->map);
    free(rw->nmap);
    rw->map = NULL;
    rw->nmap = NULL;
}

/* A new INPUT/LABEL value of dst like src's value v. */
static int copy_input(axnn_rw *rw, int v)
{
    const axnn_value *sv = &rw->src->vals[v];
    int id = axnn_graph_add_value(rw->dst, sv->name, sv->kind, sv->dtype, &sv->shape, sv->flags & AXNN_VF_BATCHED);
    if (id >= 0 && v == rw->src->input) rw->dst->input = id;
    if (id >= 0 && v == rw->src->label) rw->dst->label = id;
    return id;
}

axnn_status axnn_rw_inputs(axnn_rw *rw)
{
    const axnn_graph *s = rw->src;
    if (s->input >= 0 && (rw->map[s->input] = copy_input(rw, s->input)) < 0) return AXNN_ERR_NOMEM;
    if (s->label >= 0 && (rw->map[s->label] = copy_input(rw, s->label)) < 0) return AXNN_ERR_NOMEM;
    rw->dst->info = s->info;
    return AXNN_OK;
}

int axnn_rw_borrow_param(axnn_rw *rw, int sid, int node)
{
    (void)node;
    const axnn_value *sv = &rw->src->vals[sid];
    int id = axnn_graph_find_value(rw->dst, sv->name);
    if (id >= 0) return id;
    id = axnn_graph_add_value(rw->dst, sv->name, sv->kind, sv->dtype, &sv->shape, sv->flags | AXNN_VF_BORROWED);
    if (id >= 0) rw->dst->vals[id].data = sv->data;
    return id;
}

int axnn_rw_node(axnn_rw *rw, int k)
{
    const axnn_graph *s = rw->src;
    const axnn_node *nd = &s->nodes[k];
    int in[AXNN_MAX_IN];
    for (int i = 0; i < nd->nin; i++) {
        const axnn_value *sv = &s->vals[nd->in[i]];
        bool param = sv->kind == AXNN_VAL_PARAM || sv->kind == AXNN_VAL_BUFFER;
        in[i] = param ? (rw->param ? rw->param : axnn_rw_borrow_param)(rw, nd->in[i], k) : rw->map[nd->in[i]];
        if (param && in[i] >= 0) rw->map[nd->in[i]] = in[i];
        if (in[i] < 0) {
            axnn_error(AXNN_ERR_INTERNAL, "%s: input %d has no counterpart in the new graph", nd->name, i);
            return -1;
        }
    }
    _Alignas(16) unsigned char attr[1024];
    if (nd->attr_size > sizeof attr) return axnn_error(AXNN_ERR_INTERNAL, "%s: attributes too large", nd->name), -1;
    if (nd->attr_size) memcpy(attr, nd->attr, nd->attr_size);
    if (rw->attr && rw->attr(rw, k, attr, sizeof attr)) return -1;
    char name[AXNN_NAME_MAX];
    const char *nm = rw->name ? rw->name(rw, nd, name, sizeof name) : nd->name;
    int out = axnn_graph_add_node_op(rw->dst, nd->op, nm, in, nd->nin, nd->attr_size ? attr : NULL, nd->attr_size);
    if (out < 0) return -1;
    axnn_node *dn = &rw->dst->nodes[rw->dst->nnodes - 1];
    dn->flags = nd->flags | rw->nflags;
    dn->rows_of = rw->rows_of >= 0 ? rw->rows_of : nd->rows_of >= 0 ? rw->map[nd->rows_of] : -1;
    rw->map[nd->out] = out;
    rw->nmap[k] = rw->dst->nnodes - 1;
    if (nd->out == s->loss) {
        rw->dst->loss = out;
        rw->dst->logits = rw->map[s->logits];
    }
    return out;
}
