/* Cuts: subgraphs between chosen values, and the cut points of a network.
 *
 * axnn_graph_extract replays, through the rewrite module, the nodes that the outputs depend on
 * without passing through the chosen inputs. The chosen inputs become INPUT values of the new
 * graph; inputs of the source that the kept nodes still read (the image, the labels of a loss)
 * are re-created too. Parameters and buffers are borrowed (AXNN_VF_BORROWED: the same memory),
 * and so are node extensions (numeric modes, with their quantized weights and calibration) and
 * the graph-level extension; the subgraph records its parent, which must outlive it.
 *
 * Cut points. Number the nodes in graph order. Between node k and node k+1, the values "live"
 * are those made at or before k (activations, and graph inputs other than labels) and read
 * after k. A value made by node k is a cut point when it is the only live value there: every
 * path from the inputs to the outputs crosses it, so the graph splits there into a prefix and
 * a suffix that talk through that one tensor (Pipe-it's stage boundaries, the dispatcher's
 * feature extractor). The scan is linear in the size of the graph.
 */
#include "graph/rewrite.h"

#include <stdlib.h>
#include <string.h>

int axnn_graph_find_node(const axnn_graph *g, const char *name)
{
    for (int k = 0; k < g->nnodes; k++)
        if (!strcmp(g->nodes[k].name, name)) return k;
    return -1;
}

int axnn_graph_sole_consumer(const axnn_graph *g, int v)
{
    if (g->vals[v].nconsumers != 1 || axnn_graph_is_output(g, v)) return -1;
    for (int k = g->vals[v].producer + 1; k < g->nnodes; k++)
        for (int i = 0; i < g->nodes[k].nin; i++)
            if (g->nodes[k].in[i] == v) return k;
    return -1;
}

/* on[k] = node k is needed for the outputs, stopping at the cut's inputs. */
static void mark_needed(const axnn_graph *g, const bool *is_in, const int *outputs, int nout, bool *need_v,
                        bool *on)
{
    for (int i = 0; i < nout; i++) need_v[outputs[i]] = true;
    for (int k = g->nnodes - 1; k >= 0; k--) {
        const axnn_node *nd = &g->nodes[k];
        on[k] = need_v[nd->out] && !is_in[nd->out];
        if (!on[k]) continue;
        for (int i = 0; i < nd->nin; i++) need_v[nd->in[i]] = true;
        if (nd->rows_of >= 0) need_v[nd->rows_of] = true;
    }
}

static axnn_status check_ids(const axnn_graph *g, const int *ids, int n, const char *what)
{
    if (n < 0 || n > AXNN_MAX_IO) return axnn_error(AXNN_ERR_ARG, "extract: %d %s (at most %d)", n, what, AXNN_MAX_IO);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= g->nvals)
            return axnn_error(AXNN_ERR_ARG, "extract: %s %d: no value %d", what, i, ids[i]);
    return AXNN_OK;
}

/* Re-creates the chosen inputs, then any input of g the kept nodes read. */
static axnn_status cut_inputs(axnn_rw *rw, const int *inputs, int nin, const bool *need_v, const bool *is_in)
{
    const axnn_graph *g = rw->src;
    for (int i = 0; i < nin; i++) {
        const axnn_value *v = &g->vals[inputs[i]];
        if (v->kind == AXNN_VAL_PARAM || v->kind == AXNN_VAL_BUFFER)
            return axnn_error(AXNN_ERR_ARG, "extract: input %s is a parameter", v->name);
        if (rw->map[inputs[i]] >= 0) return axnn_error(AXNN_ERR_ARG, "extract: input %d given twice", inputs[i]);
        char name[AXNN_NAME_MAX];
        snprintf(name, sizeof name, "%s", v->name[0] ? v->name : "cut");
        axnn_val_kind kind = v->kind == AXNN_VAL_LABEL ? AXNN_VAL_LABEL : AXNN_VAL_INPUT;
        int id = axnn_graph_add_value(rw->dst, name, kind, v->dtype, &v->shape, v->flags & AXNN_VF_BATCHED);
        if (id < 0) return AXNN_ERR_NOMEM;
        rw->map[inputs[i]] = id;
        if (inputs[i] == g->input) rw->dst->input = id;
        if (inputs[i] == g->label) rw->dst->label = id;
    }
    for (int i = 0; i < g->ninputs; i++) {
        int v = g->inputs[i];
        if (!need_v[v] || is_in[v]) continue;
        const axnn_value *sv = &g->vals[v];
        int id = axnn_graph_add_value(rw->dst, sv->name, sv->kind, sv->dtype, &sv->shape, sv->flags & AXNN_VF_BATCHED);
        if (id < 0) return AXNN_ERR_NOMEM;
        rw->map[v] = id;
        if (v == g->input) rw->dst->input = id;
        if (v == g->label) rw->dst->label = id;
    }
    return AXNN_OK;
}

/* The subgraph's outputs; the source's logits stay its logits. */
static axnn_status cut_outputs(axnn_rw *rw, const int *outputs, int nout)
{
    const axnn_graph *g = rw->src;
    axnn_graph *d = rw->dst;
    d->logits = d->loss = -1;
    for (int i = 0; i < nout; i++) {
        int id = rw->map[outputs[i]];
        if (id < 0) return axnn_error(AXNN_ERR_ARG, "extract: output %d is not computed from the inputs", outputs[i]);
        if (outputs[i] == g->loss) d->loss = id;
        else if (outputs[i] == g->logits) d->logits = id;
        else if (axnn_graph_mark_output(d, id)) return AXNN_ERR_ARG;
    }
    return AXNN_OK;
}

static axnn_status do_extract(axnn_rw *rw, const int *inputs, int nin, const int *outputs, int nout, bool *is_in,
                              bool *need_v, bool *on)
{
    const axnn_graph *g = rw->src;
    for (int i = 0; i < nin; i++) is_in[inputs[i]] = true;
    mark_needed(g, is_in, outputs, nout, need_v, on);
    axnn_status st = cut_inputs(rw, inputs, nin, need_v, is_in);
    rw->dst->info = g->info;
    for (int k = 0; k < g->nnodes && !st; k++) {
        if (!on[k]) continue;
        const axnn_node *nd = &g->nodes[k];
        for (int i = 0; i < nd->nin && !st; i++) {
            const axnn_value *v = &g->vals[nd->in[i]];
            if (v->kind != AXNN_VAL_PARAM && v->kind != AXNN_VAL_BUFFER && rw->map[nd->in[i]] < 0)
                st = axnn_error(AXNN_ERR_ARG, "extract: node %s needs a value the cut does not provide", nd->name);
        }
        if (!st && axnn_rw_node(rw, k) < 0) st = AXNN_ERR_ARG;
        if (st) break;
        axnn_node *dn = &rw->dst->nodes[rw->nmap[k]];
        dn->ext = nd->ext; /* borrowed: the parent frees it */
        dn->ext_ops = nd->ext_ops;
    }
    rw->dst->loss = rw->dst->logits = -1;
    if (!st) st = cut_outputs(rw, outputs, nout);
    return st;
}

axnn_status axnn_graph_extract(const axnn_graph *g, const int *inputs, int nin, const int *outputs, int nout,
                               axnn_graph **sub, int *map)
{
    *sub = NULL;
    axnn_status st = check_ids(g, inputs, nin, "inputs");
    if (!st) st = check_ids(g, outputs, nout, "outputs");
    if (st) return st;
    if (nout < 1) return axnn_error(AXNN_ERR_ARG, "extract: no outputs");
    axnn_graph *d = axnn_graph_new();
    bool *is_in = calloc((size_t)g->nvals + 1, sizeof *is_in), *need_v = calloc((size_t)g->nvals + 1, sizeof *need_v),
         *on = calloc((size_t)g->nnodes + 1, sizeof *on);
    axnn_rw rw;
    st = d && is_in && need_v && on ? axnn_rw_init(&rw, g, d) : axnn_error(AXNN_ERR_NOMEM, "out of memory");
    if (!st) {
        d->parent = g;
        d->ext = g->ext;
        d->ext_free = g->ext_free;
        st = do_extract(&rw, inputs, nin, outputs, nout, is_in, need_v, on);
        if (!st && map) memcpy(map, rw.map, (size_t)g->nvals * sizeof *map);
        axnn_rw_free(&rw);
    }
    free(is_in);
    free(need_v);
    free(on);
    if (st) {
        axnn_graph_free(d);
        return st;
    }
    *sub = d;
    return AXNN_OK;
}

int axnn_graph_cut_points(const axnn_graph *g, int *out, int cap)
{
    /* last[v] = the last node that reads v (-1: none) */
    int *last = malloc(((size_t)g->nvals + 1) * sizeof *last);
    if (!last) return 0;
    for (int i = 0; i < g->nvals; i++) last[i] = axnn_graph_is_output(g, i) ? g->nnodes : -1;
    for (int k = 0; k < g->nnodes; k++)
        for (int i = 0; i < g->nodes[k].nin; i++)
            if (last[g->nodes[k].in[i]] < k) last[g->nodes[k].in[i]] = k;
    int live = 0, n = 0; /* live values crossing the boundary after node k */
    for (int i = 0; i < g->ninputs; i++) {
        int v = g->inputs[i];
        if (g->vals[v].kind != AXNN_VAL_LABEL && last[v] >= 0) live++;
    }
    for (int k = 0; k < g->nnodes; k++) {
        const axnn_node *nd = &g->nodes[k];
        /* values whose last reader is k die here (each value counted once per node) */
        for (int i = 0; i < nd->nin; i++) {
            int v = nd->in[i];
            const axnn_value *val = &g->vals[v];
            bool counted = val->kind == AXNN_VAL_ACT || (val->kind == AXNN_VAL_INPUT);
            bool first = true;
            for (int j = 0; j < i; j++) first = first && nd->in[j] != v;
            if (counted && first && last[v] == k) live--;
        }
        if (last[nd->out] > k) live++;
        if (live == 1 && last[nd->out] > k && last[nd->out] < g->nnodes && nd->out != g->loss) {
            if (n < cap) out[n] = nd->out;
            n++;
        }
    }
    free(last);
    return n;
}
