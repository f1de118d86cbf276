/* Numeric modes: attaching INT8 / TABLE execution to conv and linear nodes, loading the
 * multipliers, quantizing weights, and choosing the kernel of each multiplier.
 *
 * Kernel choice for a TABLE node (unless forced): the exact int8 GEMM when the table is the
 * exact product; otherwise, when the multiplier's error has a separable integer decomposition
 * whose factors fit int8, the faster of the decomposition path and the SIMD table kernel, timed
 * on the node's own shape at its first forward (both give the same bits); otherwise the SIMD
 * table kernel. AXNN_FORCE_REF=1 makes everything use the scalar reference.
 */
#include "quant/qstate.h"

#include "kernels/s8-gemm/s8-conv.h"
#include "kernels/s8-gemm/s8-gemm.h"
#include "ops/op.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *axnn_calib_name(axnn_calib_method m)
{
    return m == AXNN_CALIB_MAX ? "max" : m == AXNN_CALIB_PERCENTILE ? "percentile" : "mse";
}

axnn_calib_method axnn_calib_parse(const char *s, bool *ok)
{
    *ok = true;
    if (!strcmp(s, "max")) return AXNN_CALIB_MAX;
    if (!strcmp(s, "percentile")) return AXNN_CALIB_PERCENTILE;
    if (!strcmp(s, "mse")) return AXNN_CALIB_MSE;
    *ok = false;
    return AXNN_CALIB_MAX;
}

static bool force_ref(void) { return axnn_settings_get()->force_ref; }

static bool decomp_fits_int8(const axnn_mul_decomp *d)
{
    for (int i = 0; i < d->rank; i++)
        if (d->f_min[i] < -128 || d->f_max[i] > 127 || d->g_min[i] < -128 || d->g_max[i] > 127) return false;
    return true;
}

static void choose_kernel(axnn_qmul *q, axnn_qkernel forced)
{
    if (force_ref()) {
        q->kernel = AXNN_QK_REF;
        return;
    }
    if (q->exact) {
        q->kernel = forced == AXNN_QK_REF ? AXNN_QK_REF : forced == AXNN_QK_LUT && q->lut ? AXNN_QK_LUT : AXNN_QK_EXACT;
        return;
    }
    if (forced == AXNN_QK_REF || forced == AXNN_QK_LUT) {
        q->kernel = forced;
        return;
    }
    if (forced == AXNN_QK_DECOMP && q->have_decomp) {
        q->kernel = AXNN_QK_DECOMP;
        return;
    }
    /* both are correct; which is faster depends on the rank, the layer's shape and the CPU:
     * each node times both on its first forward (conv2d_q.c, linear_q.c) */
    q->kernel = q->have_decomp ? AXNN_QK_AUTO : AXNN_QK_LUT;
}

static axnn_status load_qmul(axnn_quant_state *st, const char *name, axnn_qkernel forced, axnn_qmul **out)
{
    for (int i = 0; i < st->nmuls; i++)
        if (!strcmp(st->muls[i]->name, name ? name : "int8")) {
            *out = st->muls[i];
            return AXNN_OK;
        }
    if (st->nmuls == (int)(sizeof st->muls / sizeof st->muls[0]))
        return axnn_error(AXNN_ERR_ARG, "too many distinct multipliers in one graph");
    axnn_qmul *q = axnn_calloc(sizeof *q);
    if (!q) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    snprintf(q->name, sizeof q->name, "%s", name ? name : "int8");
    q->exact = true;
    if (name) {
        axnn_status s = axnn_mul_get(name, &q->mul);
        if (s) {
            axnn_free(q);
            return s;
        }
        q->exact = axnn_mul_is_exact(q->mul);
        q->lut = axnn_alloc(sizeof *q->lut);
        if (!q->lut) {
            axnn_mul_free(q->mul);
            axnn_free(q);
            return axnn_error(AXNN_ERR_NOMEM, "out of memory");
        }
        axnn_lut8_prepare(q->mul->table, q->lut);
        if (!q->exact && axnn_mul_decompose(q->mul, AXNN_MUL_MAX_RANK, &q->dec) == AXNN_OK &&
            decomp_fits_int8(&q->dec)) {
            q->have_decomp = true;
            for (int i = 0; i < q->dec.rank; i++)
                for (int v = 0; v < 256; v++) {
                    q->fa[i][v] = (int8_t)q->dec.f[i][v];
                    q->gb[i][v] = (int8_t)q->dec.g[i][v];
                    q->fmap[i][(uint8_t)(v - 128)] = (int8_t)(uint8_t)((q->dec.f[i][v] + 128) & 0xff);
                }
        }
        axnn_clear_error();
    }
    choose_kernel(q, forced);
    st->muls[st->nmuls++] = q;
    *out = q;
    return AXNN_OK;
}

static void qmul_free(axnn_qmul *q)
{
    if (!q) return;
    axnn_mul_free(q->mul);
    axnn_free(q->lut);
    axnn_free(q);
}

void axnn_qnode_free(axnn_qnode *q)
{
    if (!q) return;
    axnn_free(q->w_scale);
    axnn_free(q->wq);
    axnn_free(q->wq_aug);
    axnn_free(q->wpack);
    axnn_free(q->wpack_aug);
    axnn_free(q);
}

/* The graph's state lives in graph->ext; this frees it (the graph calls it when freed). */
static void state_free(axnn_graph *g)
{
    axnn_quant_state *st = g->ext;
    if (!st) return;
    for (int i = 0; i < st->nmuls; i++) qmul_free(st->muls[i]);
    free((void *)st->cfg.mul);
    free((void *)st->cfg.layers);
    free((void *)st->cfg.exact_layers);
    free(st);
    g->ext = NULL;
    g->ext_free = NULL;
}

axnn_quant_state *axnn_quant_state_of(const axnn_graph *g) { return g->ext_free == state_free ? g->ext : NULL; }

void axnn_quant_state_free(axnn_graph *g)
{
    for (int k = 0; k < g->nnodes; k++) {
        const axnn_ext_ops *x = g->nodes[k].ext_ops;
        if (x == &axnn_qnode_ext_ops || x == &axnn_qattn_ext_ops) axnn_node_set_ext(g, k, NULL, NULL);
    }
    if (axnn_quant_state_of(g)) state_free(g);
    axnn_graph_touch(g); /* plans re-plan: scratch sizes and fusion change with numeric modes */
}

void axnn_quant_detach(axnn_graph *g) { axnn_quant_state_free(g); }

bool axnn_quant_attached(const axnn_graph *g) { return axnn_quant_state_of(g) != NULL; }

/* ---- weights ---- */

void axnn_qnode_quantize_weights(axnn_qnode *q, const float *w)
{
    const int64_t K = q->K;
    for (int64_t r = 0; r < q->rows; r++) {
        const float *wr = w + r * K;
        float m = 0.0f;
        for (int64_t k = 0; k < K; k++) m = fmaxf(m, fabsf(wr[k]));
        float s = m > 0.0f ? m / 127.0f : 1.0f;
        q->w_scale[r] = s;
        int8_t *dst = q->wq + r * K;
        for (int64_t k = 0; k < K; k++) {
            float v = rintf(wr[k] / s);
            dst[k] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
        }
        if (!q->wq_aug) continue;
        int8_t *aug = q->wq_aug + r * K * (1 + axnn_qnode_aug_rank(q));
        memcpy(aug, dst, (size_t)K);
        for (int i = 0; i < axnn_qnode_aug_rank(q); i++)
            for (int64_t k = 0; k < K; k++) aug[(1 + i) * K + k] = q->qm->gb[i][dst[k] + 128];
    }
    const int terms = 1 + axnn_qnode_aug_rank(q), rows = (int)q->rows;
    if (q->wpack && q->conv) axnn_s8_conv_pack_w(rows, q->cin, q->khw, 1, q->wq, K, q->wpack);
    if (q->wpack && !q->conv) axnn_s8_conv_pack_w(rows, (int)K, 1, 1, q->wq, K, q->wpack);
    if (q->wpack_aug && q->conv) axnn_s8_conv_pack_w(rows, q->cin, q->khw, terms, q->wq_aug, K * terms, q->wpack_aug);
    if (q->wpack_aug && !q->conv) axnn_s8_conv_pack_w(rows, (int)K * terms, 1, 1, q->wq_aug, K * terms, q->wpack_aug);
    q->weights_fresh = true;
}

void axnn_quant_refresh_weights(axnn_graph *g)
{
    for (int k = 0; k < g->nnodes; k++) {
        axnn_qnode *q = axnn_qnode_of(&g->nodes[k]);
        if (q) axnn_qnode_quantize_weights(q, g->vals[g->nodes[k].in[1]].data);
    }
}

static axnn_status qnode_make(axnn_graph *g, axnn_node *nd, axnn_qmul *qm, axnn_numeric mode)
{
    const axnn_value *w = &g->vals[nd->in[1]];
    axnn_qnode *q = axnn_calloc(sizeof *q);
    if (!q) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    q->mode = mode;
    q->qm = qm;
    q->kernel = qm->kernel;
    q->rows = w->shape.d[0];
    q->K = axnn_shape_numel(&w->shape) / q->rows;
    q->khw = w->shape.nd == 4 ? (int)(w->shape.d[2] * w->shape.d[3]) : 1;
    q->cin = (int)(q->K / q->khw);
    int rank = axnn_qnode_aug_rank(q);
    q->w_scale = axnn_alloc((size_t)q->rows * sizeof(float));
    q->wq = axnn_alloc((size_t)(q->rows * q->K));
    if (rank) q->wq_aug = axnn_alloc((size_t)(q->rows * q->K * (1 + rank)));
    /* nodes whose kernel may be the exact GEMM (exact, or decomposed) keep their weights packed
     * for the VNNI kernels where the CPU has them: the int8 convolution kernel for conv nodes,
     * the GEMM with packed weights for linear nodes */
    q->conv = nd->op == &axnn_op_conv2d;
    bool pack = axnn_s8_conv_available();
    bool pack_exact = pack && q->kernel == AXNN_QK_EXACT, pack_aug = pack && rank > 0;
    const int rows = (int)q->rows, K = (int)q->K;
    if (pack_exact)
        q->wpack = axnn_alloc(q->conv ? axnn_s8_conv_packed_w_bytes(rows, q->cin, q->khw, 1)
                                      : axnn_s8_conv_packed_w_bytes(rows, K, 1, 1));
    if (pack_aug)
        q->wpack_aug = axnn_alloc(q->conv ? axnn_s8_conv_packed_w_bytes(rows, q->cin, q->khw, 1 + rank)
                                          : axnn_s8_conv_packed_w_bytes(rows, K * (1 + rank), 1, 1));
    if (!q->w_scale || !q->wq || (rank && !q->wq_aug) || (pack_exact && !q->wpack) || (pack_aug && !q->wpack_aug)) {
        axnn_qnode_free(q);
        return axnn_error(AXNN_ERR_NOMEM, "out of memory quantizing %s", nd->name);
    }
    axnn_qnode_quantize_weights(q, w->data);
    axnn_node_set_ext(g, (int)(nd - g->nodes), q, &axnn_qnode_ext_ops);
    return AXNN_OK;
}

/* ---- layer selection ---- */

static bool in_list(const char *list, const char *name)
{
    if (!list) return false;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (!fnmatch(tok, name, 0)) return true;
    return false;
}

static bool quantizable(const axnn_node *nd)
{
    return (nd->op == &axnn_op_conv2d || nd->op == &axnn_op_linear) && !(nd->flags & AXNN_NF_FLOAT);
}

/* Checks that every name in a list matches some quantizable node (or attention node, when the
 * attention products are quantized too). */
static axnn_status check_list(const axnn_graph *g, const char *list, const char *flag, bool attention)
{
    if (!list) return AXNN_OK;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        bool hit = false;
        for (int k = 0; k < g->nnodes && !hit; k++)
            hit = (quantizable(&g->nodes[k]) || (attention && g->nodes[k].op == &axnn_op_attention)) &&
                  !fnmatch(tok, g->nodes[k].name, 0);
        if (!hit) return axnn_error(AXNN_ERR_ARG, "%s: no conv or linear layer named '%s' in %s", flag, tok, g->info.arch);
    }
    return AXNN_OK;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

axnn_status axnn_quant_attach(axnn_graph *g, const axnn_quant_cfg *cfg)
{
    axnn_quant_state_free(g);
    axnn_status s = check_list(g, cfg->layers, "approximated layers", cfg->count_attention);
    if (!s) s = check_list(g, cfg->exact_layers, "exact layers", cfg->count_attention);
    if (s) return s;
    axnn_quant_state *st = calloc(1, sizeof *st);
    if (!st) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    st->cfg = *cfg;
    st->cfg.mul = dup_or_null(cfg->mul);
    st->cfg.layers = dup_or_null(cfg->layers);
    st->cfg.exact_layers = dup_or_null(cfg->exact_layers);
    g->ext = st;
    g->ext_free = state_free;
    int first = -1, last = -1;
    for (int k = 0; k < g->nnodes; k++)
        if (quantizable(&g->nodes[k])) {
            if (first < 0) first = k;
            last = k;
        }
    for (int k = 0; k < g->nnodes && !s; k++) {
        axnn_node *nd = &g->nodes[k];
        if (!quantizable(nd)) continue;
        bool approx = cfg->mul && (!cfg->layers || in_list(cfg->layers, nd->name)) &&
                      !in_list(cfg->exact_layers, nd->name) &&
                      !(cfg->keep_first_last && (k == first || k == last));
        axnn_qmul *qm;
        s = load_qmul(st, approx ? cfg->mul : NULL, cfg->kernel, &qm);
        if (!s) s = qnode_make(g, nd, qm, approx ? AXNN_NUM_TABLE : AXNN_NUM_INT8);
    }
    axnn_qmul *unused;
    if (!s && cfg->count_attention) s = load_qmul(st, NULL, cfg->kernel, &unused); /* see below */
    if (!s && cfg->count_attention && cfg->mul) s = load_qmul(st, cfg->mul, cfg->kernel, &unused);
    for (int k = 0; k < g->nnodes && !s && cfg->count_attention; k++)
        if (g->nodes[k].op == &axnn_op_attention) {
            void *marker = calloc(1, 1); /* the node's state is the graph's (axnn_quant_attention_qmul) */
            if (!marker) s = axnn_error(AXNN_ERR_NOMEM, "out of memory");
            else axnn_node_set_ext(g, k, marker, &axnn_qattn_ext_ops);
        }
    if (s) {
        axnn_quant_state_free(g);
        return s;
    }
    axnn_graph_touch(g);
    return AXNN_OK;
}

axnn_status axnn_quant_reattach(axnn_graph *g, const axnn_quant_cfg *cfg)
{
    float *scales = calloc((size_t)g->nnodes, sizeof *scales);
    if (!scales) return axnn_error(AXNN_ERR_NOMEM, "out of memory");
    for (int k = 0; k < g->nnodes; k++) {
        const axnn_qnode *q = axnn_qnode_of(&g->nodes[k]);
        scales[k] = q ? q->in_scale : 0.0f;
    }
    axnn_status s = axnn_quant_attach(g, cfg);
    for (int k = 0; k < g->nnodes && !s; k++) {
        axnn_qnode *q = axnn_qnode_of(&g->nodes[k]);
        if (q) q->in_scale = scales[k];
    }
    free(scales);
    return s;
}

axnn_status axnn_quant_set_node_mul(axnn_graph *g, int node, const char *mul)
{
    axnn_quant_state *st = axnn_quant_state_of(g);
    if (!st) return axnn_error(AXNN_ERR_ARG, "graph is not quantized");
    axnn_node *nd = &g->nodes[node];
    axnn_qnode *q = axnn_qnode_of(nd);
    if (!q) return axnn_error(AXNN_ERR_ARG, "%s is not a quantized layer", nd->name);
    axnn_qmul *qm;
    axnn_status s = load_qmul(st, mul, st->cfg.kernel, &qm);
    if (s) return s;
    float scale = q->in_scale;
    axnn_node_set_ext(g, node, NULL, NULL);
    s = qnode_make(g, nd, qm, mul ? AXNN_NUM_TABLE : AXNN_NUM_INT8);
    if (!s) axnn_qnode_of(nd)->in_scale = scale;
    return s;
}

axnn_status axnn_quant_set_input_scale(axnn_graph *g, int node, float scale)
{
    axnn_qnode *q = node >= 0 && node < g->nnodes ? axnn_qnode_of(&g->nodes[node]) : NULL;
    if (!q) return axnn_error(AXNN_ERR_ARG, "node %d is not a quantized layer", node);
    if (!(scale > 0.0f)) return axnn_error(AXNN_ERR_ARG, "input scale must be positive (got %g)", scale);
    q->in_scale = scale;
    return AXNN_OK;
}

/* ---- attention products (ViT, cfg.count_attention) ----
 * An attention node has no weights and no qnode: its two products use dynamic scales
 * (ops/attention_q.c). It asks here, at each forward, which multiplier to use: the graph's
 * multiplier when the layer lists select the node (by its name, "blocks.3.attn"), else exact
 * int8; both were loaded by axnn_quant_attach. While the graph calibrates (its qkv layer
 * collects statistics) the attention runs in float, so calibration stays multiplier-free. */
const axnn_qmul *axnn_quant_attention_qmul(const axnn_graph *g, const axnn_node *nd)
{
    const axnn_quant_state *st = axnn_quant_state_of(g);
    if (!st || !st->cfg.count_attention || nd->op != &axnn_op_attention) return NULL;
    const int p = g->vals[nd->in[0]].producer;
    const axnn_qnode *in = p >= 0 ? axnn_qnode_of(&g->nodes[p]) : NULL;
    if (in && in->calib) return NULL;
    const axnn_quant_cfg *c = &st->cfg;
    bool approx = c->mul && (!c->layers || in_list(c->layers, nd->name)) && !in_list(c->exact_layers, nd->name);
    const char *name = approx ? c->mul : "int8";
    for (int i = 0; i < st->nmuls; i++)
        if (!strcmp(st->muls[i]->name, name)) return st->muls[i];
    return NULL;
}

/* ---- introspection ---- */

const char *axnn_qnode_kernel_name(const axnn_qnode *q)
{
    static _Thread_local char buf[64];
    switch (q->kernel) {
    case AXNN_QK_REF: return "ref";
    case AXNN_QK_EXACT:
        snprintf(buf, sizeof buf, "exact-%s", q->wpack && q->conv ? "conv-avx512vnni" : axnn_s8_gemm_config_get()->name);
        return buf;
    case AXNN_QK_LUT: snprintf(buf, sizeof buf, "lut-%s", axnn_lut_gemm_config_get(q->qm->lut)->name); return buf;
    case AXNN_QK_DECOMP:
        snprintf(buf, sizeof buf, "decomp(r=%d)-%s", q->qm->dec.rank,
                 q->wpack_aug && q->conv ? "conv-avx512vnni" : axnn_s8_gemm_config_get()->name);
        return buf;
    case AXNN_QK_AUTO: return "auto (lut or decomp, chosen at first run)";
    }
    return "?";
}

bool axnn_quant_node_info(const axnn_graph *g, int node, axnn_qnode_info *out)
{
    const axnn_qnode *q = axnn_qnode_of(&g->nodes[node]);
    if (!q) return false;
    out->mode = q->mode;
    out->mul = q->qm->mul ? q->qm->name : "exact";
    out->kernel = axnn_qnode_kernel_name(q);
    out->in_scale = q->in_scale;
    out->macs = axnn_node_macs(g, &g->nodes[node]);
    return true;
}

void axnn_quant_mac_split(const axnn_graph *g, int64_t *approx_macs, int64_t *total_macs)
{
    *approx_macs = *total_macs = 0;
    for (int k = 0; k < g->nnodes; k++) {
        const axnn_qnode *q = axnn_qnode_of(&g->nodes[k]);
        if (!q) continue;
        int64_t m = axnn_node_macs(g, &g->nodes[k]);
        *total_macs += m;
        if (q->mode == AXNN_NUM_TABLE && !q->qm->exact) *approx_macs += m;
    }
    for (int k = 0; k < g->nnodes; k++) { /* attention products, when quantized */
        const axnn_qmul *qm = axnn_quant_attention_qmul(g, &g->nodes[k]);
        if (!qm) continue;
        int64_t m = axnn_node_macs(g, &g->nodes[k]);
        *total_macs += m;
        if (qm->mul && !qm->exact) *approx_macs += m;
    }
}
