/* Mixture-of-Experts topologies as transformations of the one graph IR.
 *
 * A topology is built by replaying a dense graph's nodes into a new graph (moe/rewrite.c). At
 * a chosen unit, a chain of nodes with one entry value and one exit value (a ResNet block's
 * conv1 -> bn1 -> relu -> conv2 -> bn2, before the residual add; a VGG conv -> BN -> ReLU), the
 * replay emits instead
 *
 *     probs = moe_gate(entry)                         "<unit>.gate", float, E outputs
 *     hard:  x_e = moe_dispatch(entry, probs, e)      images whose top-1 is e, packed
 *            y_e = unit copy e (x_e)                  nodes with rows = &dispatch_e.rows
 *     soft:  y_e = unit copy e (entry)                every expert sees every image
 *     exit' = moe_combine(probs, y_0 .. y_{E-1})
 *
 * and later nodes read exit' where they read exit. Expert e's parameters are the unit's, named
 * "<module>.experts.<e>.<leaf>", copied from the dense weights with a little relative noise so
 * that soft experts do not stay identical; with a width w < 1 (units with a hidden layer),
 * expert e keeps round(w C) of the C hidden channels, starting at channel e * round(w C)
 * (mod C), so the experts start from different slices of the dense unit.
 *
 * Hard routing keeps images independent (each image runs only its expert, the combine puts the
 * rows back in batch order), so eval-mode micro-batches and fusion work unchanged. The gate's
 * Switch-style load-balancing loss is added through its backward (src/ops/moe_gate.c).
 * Because the hard combine passes the expert's output unchanged, an MoE made of unperturbed
 * copies computes exactly the dense network: fine-tuning starts from the dense accuracy.
 */
#include "moe/rewrite.h"

#include "axnn/models.h"
#include "axnn/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"dense", "hard", "soft", "cluster"};

const char *axnn_moe_kind_name(axnn_moe_kind k) { return k <= AXNN_MOE_CLUSTER ? kind_names[k] : "?"; }

bool axnn_moe_kind_parse(const char *s, axnn_moe_kind *out)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, kind_names[i])) {
            *out = (axnn_moe_kind)i;
            return true;
        }
    return false;
}

void axnn_moe_cfg_defaults(axnn_moe_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->kind = AXNN_MOE_HARD;
    c->experts = 4;
    c->width = 1.0f;
    c->aux_weight = 0.01f;
    c->noise = 0.01f;
    c->seed = 1;
}

/* ---- builder calls ---- */

int axnn_moe_gate(axnn_graph *g, const char *name, int x, int experts, float aux_weight, axnn_rng *init)
{
    if (x < 0) return -1;
    if (experts < 2 || experts > AXNN_MOE_MAX_EXPERTS)
        return axnn_error(AXNN_ERR_ARG, "%s: %d experts (2..%d)", name, experts, AXNN_MOE_MAX_EXPERTS), -1;
    char n[AXNN_NAME_MAX];
    const axnn_shape *xs = &g->vals[x].shape; /* features: channels, or a token's width */
    int64_t wd[2] = {experts, xs->d[xs->nd == 3 ? 2 : 1]}, bd[1] = {experts};
    axnn_shape ws = axnn_shape_make(2, wd), bs = axnn_shape_make(1, bd);
    snprintf(n, sizeof n, "%s.weight", name);
    int w = axnn_graph_add_value(g, n, AXNN_VAL_PARAM, AXNN_F32, &ws, 0);
    snprintf(n, sizeof n, "%s.bias", name);
    int b = axnn_graph_add_value(g, n, AXNN_VAL_PARAM, AXNN_F32, &bs, AXNN_VF_NO_DECAY);
    if (w < 0 || b < 0) return -1;
    if (init) axnn_init_normal(&g->vals[w], 0.01f, init);
    axnn_moe_gate_attr a = {.experts = experts, .aux_weight = aux_weight};
    int in[3] = {x, w, b};
    int y = axnn_op_node(g, &axnn_op_moe_gate, name, in, 3, &a, sizeof a);
    if (y >= 0) g->nodes[g->nnodes - 1].flags |= AXNN_NF_FLOAT;
    return y;
}

int axnn_moe_nearest(axnn_graph *g, const char *name, int feat, int experts)
{
    if (feat < 0) return -1;
    char n[AXNN_NAME_MAX];
    snprintf(n, sizeof n, "%s.centroids", name);
    int64_t cd[2] = {experts, g->vals[feat].shape.nd == 2 ? g->vals[feat].shape.d[1] : 0};
    axnn_shape cs = axnn_shape_make(2, cd);
    int c = axnn_graph_add_value(g, n, AXNN_VAL_BUFFER, AXNN_F32, &cs, 0);
    if (c < 0) return -1;
    axnn_moe_nearest_attr a = {.experts = experts};
    int in[2] = {feat, c};
    int y = axnn_op_node(g, &axnn_op_moe_nearest, name, in, 2, &a, sizeof a);
    if (y >= 0) g->nodes[g->nnodes - 1].flags |= AXNN_NF_FLOAT;
    return y;
}

int axnn_moe_dispatch(axnn_graph *g, const char *name, int x, int probs, int expert)
{
    if (x < 0 || probs < 0) return -1;
    axnn_moe_dispatch_attr a = {.expert = expert};
    int in[2] = {x, probs};
    return axnn_op_node(g, &axnn_op_moe_dispatch, name, in, 2, &a, sizeof a);
}

int axnn_moe_combine(axnn_graph *g, const char *name, int probs, const int *ys, int experts, bool soft)
{
    if (probs < 0 || experts < 1 || experts + 1 > AXNN_MAX_IN) return -1;
    int in[AXNN_MAX_IN] = {probs};
    for (int e = 0; e < experts; e++) {
        if (ys[e] < 0) return -1;
        in[1 + e] = ys[e];
    }
    axnn_moe_combine_attr a = {experts, soft};
    int y = axnn_op_node(g, &axnn_op_moe_combine, name, in, experts + 1, &a, sizeof a);
    if (y >= 0) g->nodes[g->nnodes - 1].flags |= AXNN_NF_FLOAT;
    return y;
}

/* ---- units ---- */

typedef struct moe_unit {
    char name[AXNN_NAME_MAX];
    int first, last; /* node indices of the chain (consecutive by construction, checked) */
    int entry;       /* value the chain reads */
    int l1, l2;      /* the unit's first two conv/linear layers (l2 = -1 when only one) */
} moe_unit;

static bool is_layer(const axnn_node *nd) { return nd->op == &axnn_op_conv2d || nd->op == &axnn_op_linear; }

/* Follows sole consumers from node `first` through `last_name` (or, when NULL, through the
 * BatchNorm and ReLU right after a VGG conv). */
static axnn_status chain_of(const axnn_graph *g, moe_unit *u, const char *last_name)
{
    int k = u->first;
    u->l1 = u->l2 = -1;
    u->entry = g->nodes[k].in[0];
    for (;;) {
        const axnn_node *nd = &g->nodes[k];
        if (is_layer(nd)) {
            if (u->l1 < 0) u->l1 = k;
            else if (u->l2 < 0) u->l2 = k;
        }
        u->last = k;
        if (last_name && !strcmp(nd->name, last_name)) return AXNN_OK;
        int c = moe_sole_consumer(g, nd->out);
        if (c != k + 1 || g->nodes[c].in[0] != nd->out) break;
        const char *op = g->nodes[c].op->name;
        if (!last_name && strcmp(op, "batchnorm2d") && strcmp(op, "relu")) return AXNN_OK;
        k = c;
    }
    if (!last_name) return AXNN_OK;
    return axnn_error(AXNN_ERR_ARG, "MoE unit %s: %s does not follow as a simple chain", u->name, last_name);
}

static axnn_status find_unit(const axnn_graph *g, const char *name, moe_unit *u)
{
    char a[AXNN_NAME_MAX + 16], b[AXNN_NAME_MAX + 16];
    snprintf(u->name, sizeof u->name, "%s", name);
    snprintf(a, sizeof a, "%s.conv1", name);
    snprintf(b, sizeof b, "%s.bn2", name);
    if ((u->first = moe_find_node(g, a)) >= 0 && moe_find_node(g, b) >= 0) return chain_of(g, u, b);
    snprintf(a, sizeof a, "%s.mlp.fc1", name);
    snprintf(b, sizeof b, "%s.mlp.fc2", name);
    if ((u->first = moe_find_node(g, a)) >= 0 && moe_find_node(g, b) >= 0) return chain_of(g, u, b);
    u->first = moe_find_node(g, name);
    if (u->first >= 0 && g->nodes[u->first].op == &axnn_op_conv2d) return chain_of(g, u, NULL);
    return axnn_error(AXNN_ERR_ARG,
                      "MoE unit '%s' is not in %s: give a ResNet block (layer3.2), a VGG conv layer (features.40) "
                      "or a ViT block (blocks.5)",
                      name, g->info.arch);
}

const char *axnn_moe_default_units(const axnn_graph *d)
{
    static _Thread_local char buf[AXNN_NAME_MAX];
    buf[0] = 0;
    for (int k = 0; k < d->nnodes; k++) { /* the last unit of the network */
        const char *n = d->nodes[k].name;
        const char *s = strstr(n, ".conv1");
        if (!strncmp(n, "layer", 5) && s && !s[6]) snprintf(buf, sizeof buf, "%.*s", (int)(s - n), n);
        s = strstr(n, ".mlp.fc1");
        if (!strncmp(n, "blocks.", 7) && s && !s[8]) snprintf(buf, sizeof buf, "%.*s", (int)(s - n), n);
        if (!strncmp(n, "features.", 9) && d->nodes[k].op == &axnn_op_conv2d) snprintf(buf, sizeof buf, "%s", n);
    }
    return buf;
}

static axnn_status parse_units(const axnn_graph *g, const char *list, moe_unit *u, int *nu, int max)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    *nu = 0;
    for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
        if (*nu == max) return axnn_error(AXNN_ERR_ARG, "too many MoE units (at most %d)", max);
        axnn_status st = find_unit(g, t, &u[*nu]);
        if (st) return st;
        for (int i = 0; i < *nu; i++)
            if (!(u[*nu].last < u[i].first || u[i].last < u[*nu].first))
                return axnn_error(AXNN_ERR_ARG, "MoE units %s and %s overlap", u[i].name, t);
        (*nu)++;
    }
    if (*nu == 0) return axnn_error(AXNN_ERR_ARG, "no MoE units given");
    return AXNN_OK;
}

/* ---- hard and soft ---- */

static int emit_expert(moe_rw *rw, const moe_unit *u, const axnn_moe_cfg *cfg, int e, int x, int rows)
{
    rw->expert = e;
    rw->rows_of = rows;
    rw->map[u->entry] = x;
    rw->first = rw->second = -1;
    if (cfg->width != 1.0f) {
        int C = (int)rw->src->vals[rw->src->nodes[u->l1].out].shape.d[1];
        rw->first = u->l1;
        rw->second = u->l2;
        rw->hidden = (int)lrintf(cfg->width * C);
        rw->hidden = rw->hidden < 1 ? 1 : rw->hidden;
        rw->hoff = (e * rw->hidden) % C;
    }
    int y = -1;
    for (int k = u->first; k <= u->last; k++)
        if ((y = moe_rw_node(rw, k)) < 0) break;
    rw->expert = -1;
    rw->rows_of = -1;
    rw->first = rw->second = -1;
    return y;
}

static axnn_status emit_unit(moe_rw *rw, const moe_unit *u, const axnn_moe_cfg *cfg, axnn_rng *init)
{
    axnn_graph *d = rw->dst;
    const bool soft = cfg->kind == AXNN_MOE_SOFT;
    const int entry = rw->map[u->entry];
    char n[AXNN_NAME_MAX + 32];
    snprintf(n, sizeof n, "%s.gate", u->name);
    int probs = axnn_moe_gate(d, n, entry, cfg->experts, soft ? 0.0f : cfg->aux_weight, init);
    if (probs < 0) return AXNN_ERR_ARG;
    int ys[AXNN_MOE_MAX_EXPERTS];
    for (int e = 0; e < cfg->experts; e++) {
        int x = entry;
        int rows = -1;
        if (!soft) {
            snprintf(n, sizeof n, "%s.dispatch.%d", u->name, e);
            if ((x = axnn_moe_dispatch(d, n, entry, probs, e)) < 0) return AXNN_ERR_ARG;
            rows = x; /* the expert runs on the dispatch's rows */
        }
        if ((ys[e] = emit_expert(rw, u, cfg, e, x, rows)) < 0) return AXNN_ERR_ARG;
    }
    rw->map[u->entry] = entry;
    snprintf(n, sizeof n, "%s.combine", u->name);
    int y = axnn_moe_combine(d, n, probs, ys, cfg->experts, soft);
    if (y < 0) return AXNN_ERR_ARG;
    rw->map[rw->src->nodes[u->last].out] = y;
    return AXNN_OK;
}

static axnn_status check_cfg(const axnn_graph *dense, const axnn_moe_cfg *cfg)
{
    if (cfg->experts < 2 || cfg->experts > AXNN_MOE_MAX_EXPERTS)
        return axnn_error(AXNN_ERR_ARG, "experts per MoE unit must be in 2..%d (got %d)", AXNN_MOE_MAX_EXPERTS, cfg->experts);
    if (!(cfg->width > 0.0f && cfg->width <= 1.0f))
        return axnn_error(AXNN_ERR_ARG, "expert width must be in (0, 1] (got %g)", cfg->width);
    for (int k = 0; k < dense->nnodes; k++)
        if (!strncmp(dense->nodes[k].op->name, "moe_", 4))
            return axnn_error(AXNN_ERR_ARG, "%s is already a Mixture-of-Experts graph", dense->info.arch);
    return AXNN_OK;
}

axnn_status moe_build_cluster(const axnn_graph *dense, const axnn_moe_cfg *cfg, axnn_graph *d);

static axnn_status build_units(const axnn_graph *dense, const axnn_moe_cfg *cfg, axnn_graph *d)
{
    moe_unit units[32];
    int nu = 0;
    axnn_status st = AXNN_OK;
    if (cfg->kind == AXNN_MOE_HARD || cfg->kind == AXNN_MOE_SOFT) {
        const char *list = cfg->units ? cfg->units : axnn_moe_default_units(dense);
        st = parse_units(dense, list, units, &nu, 32);
        for (int i = 0; i < nu && !st; i++)
            if (cfg->width != 1.0f && units[i].l2 < 0)
                st = axnn_error(AXNN_ERR_ARG, "MoE unit %s has no hidden layer: the expert width must be 1", units[i].name);
    }
    moe_rw rw;
    if (!st) st = moe_rw_init(&rw, dense, d);
    if (st) return st;
    axnn_rng init;
    axnn_rng_seed(&init, cfg->seed ^ 0x6a7e5ull);
    rw.rng = &init;
    rw.noise = cfg->noise;
    st = moe_rw_inputs(&rw);
    for (int k = 0; k < dense->nnodes && !st; k++) {
        int in_unit = -1;
        for (int i = 0; i < nu; i++)
            if (k >= units[i].first && k <= units[i].last) in_unit = i;
        if (in_unit < 0) {
            float noise = rw.noise;
            rw.noise = 0;
            if (moe_rw_node(&rw, k) < 0) st = AXNN_ERR_ARG;
            rw.noise = noise;
        } else if (k == units[in_unit].first) {
            st = emit_unit(&rw, &units[in_unit], cfg, &init);
        }
    }
    moe_rw_free(&rw);
    return st;
}

axnn_status axnn_moe_build(const axnn_graph *dense, const axnn_moe_cfg *cfg, axnn_graph **out)
{
    *out = NULL;
    axnn_status st = check_cfg(dense, cfg);
    if (st) return st;
    axnn_graph *d = axnn_graph_new();
    if (!d) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    d->seed = dense->seed;
    st = cfg->kind == AXNN_MOE_CLUSTER ? moe_build_cluster(dense, cfg, d) : build_units(dense, cfg, d);
    if (!st && (d->loss < 0 || d->logits < 0))
        st = axnn_error(AXNN_ERR_ARG, "%s: the graph has no loss node", dense->info.arch);
    if (st) {
        if (st == AXNN_ERR_ARG && !axnn_last_error()[0]) axnn_error(st, "building the %s topology failed", axnn_moe_kind_name(cfg->kind));
        axnn_graph_free(d);
        return st;
    }
    d->info = dense->info;
    *out = d;
    return AXNN_OK;
}

void axnn_moe_freeze_gates(axnn_graph *g, bool frozen)
{
    for (int k = 0; k < g->nnodes; k++) {
        const axnn_node *nd = &g->nodes[k];
        if (!(nd->flags & AXNN_NF_FLOAT) || nd->op == &axnn_op_moe_combine) continue;
        if (nd->flags & AXNN_NF_EVAL) continue; /* a cluster gateway stays frozen */
        for (int i = 0; i < nd->nin; i++) {
            axnn_value *v = &g->vals[nd->in[i]];
            if (v->kind != AXNN_VAL_PARAM) continue;
            v->flags = frozen ? v->flags | AXNN_VF_FROZEN : v->flags & ~AXNN_VF_FROZEN;
        }
    }
}
