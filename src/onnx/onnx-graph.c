/* Graph checks of the ONNX reader: topological order (the file's own when it is one, else
 * Kahn's algorithm over a hash map of value names; a cycle, an undefined input, a value
 * defined twice or a graph output that nothing produces is an error) and the table of ops that axnn supports, with the name and
 * type of each attribute it accepts and the values it accepts where it accepts only some.
 *
 * The table is the contract with the op implementations (src/ops): an op or attribute missing
 * here is refused at load time with one line naming the node, the op and the attribute, so a
 * model never runs with an attribute silently ignored.
 */
#include "onnx/onnx-internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- a string -> int map (open addressing; keys are borrowed) ---- */
typedef axnn_onnx_smap smap;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

bool axnn_onnx_smap_init(smap *m, size_t n)
{
    m->cap = 16;
    while (m->cap < 2 * n + 16) m->cap *= 2;
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->vals = calloc(m->cap, sizeof *m->vals);
    return m->keys && m->vals;
}

void axnn_onnx_smap_free(smap *m)
{
    free(m->keys);
    free(m->vals);
}

/* Slot of key: where it is, or the empty slot where it would go. */
static size_t smap_slot(const smap *m, const char *key)
{
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key)) i = (i + 1) & (m->cap - 1);
    return i;
}

int axnn_onnx_smap_get(const smap *m, const char *key)
{
    size_t i = smap_slot(m, key);
    return m->keys[i] ? m->vals[i] : -1;
}

void axnn_onnx_smap_put(smap *m, const char *key, int v)
{
    size_t i = smap_slot(m, key);
    m->keys[i] = key;
    m->vals[i] = v;
}

/* ---- topological order ---- */

#define EXTERNAL_VALUE (-2) /* a graph input or initializer */

static axnn_status define_values(const axnn_onnx_model *m, smap *prod)
{
    for (int k = 0; k < m->ninits; k++) axnn_onnx_smap_put(prod, m->inits[k].name, EXTERNAL_VALUE);
    for (int k = 0; k < m->ninputs; k++)
        axnn_onnx_smap_put(prod, m->inputs[k].name, EXTERNAL_VALUE);
    for (int k = 0; k < m->nnodes; k++) {
        const axnn_onnx_node *n = &m->nodes[k];
        for (int j = 0; j < n->noutputs; j++) {
            if (!n->outputs[j][0]) continue;
            if (axnn_onnx_smap_get(prod, n->outputs[j]) != -1)
                return axnn_error(AXNN_ERR_FORMAT,
                                  "%s: node '%s' (%s): output '%s' is already defined", m->path,
                                  n->name, n->op_type, n->outputs[j]);
            axnn_onnx_smap_put(prod, n->outputs[j], k);
        }
    }
    return AXNN_OK;
}

/* pending[k] = number of inputs of node k produced by other nodes still to run. */
static axnn_status count_deps(const axnn_onnx_model *m, const smap *prod, int *pending)
{
    for (int k = 0; k < m->nnodes; k++) {
        const axnn_onnx_node *n = &m->nodes[k];
        for (int j = 0; j < n->ninputs; j++) {
            if (!n->inputs[j][0]) continue;
            int p = axnn_onnx_smap_get(prod, n->inputs[j]);
            if (p == -1)
                return axnn_error(
                    AXNN_ERR_FORMAT,
                    "%s: node '%s' (%s): input '%s' is defined by no node, input or initializer",
                    m->path, n->name, n->op_type, n->inputs[j]);
            if (p >= 0) pending[k]++;
        }
    }
    for (int k = 0; k < m->noutputs; k++)
        if (axnn_onnx_smap_get(prod, m->outputs[k].name) == -1)
            return axnn_error(AXNN_ERR_FORMAT, "%s: graph output '%s' is produced by no node",
                              m->path, m->outputs[k].name);
    return AXNN_OK;
}

/* Kahn's algorithm; consumers of node k are found by scanning (graphs are small). */
static axnn_status kahn(axnn_onnx_model *m, const smap *prod, int *pending, int *order)
{
    int head = 0, tail = 0;
    for (int k = 0; k < m->nnodes; k++)
        if (!pending[k]) order[tail++] = k;
    /* consumers lists: for each node, the nodes that read its outputs (with multiplicity) */
    int *start = calloc((size_t)m->nnodes + 1, sizeof(int)), nedges = 0;
    if (!start) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", m->path);
    for (int k = 0; k < m->nnodes; k++)
        for (int j = 0; j < m->nodes[k].ninputs; j++) {
            int p = m->nodes[k].inputs[j][0] ? axnn_onnx_smap_get(prod, m->nodes[k].inputs[j]) : -1;
            if (p >= 0) start[p + 1]++, nedges++;
        }
    for (int k = 0; k < m->nnodes; k++) start[k + 1] += start[k];
    int *fill = calloc((size_t)m->nnodes + 1, sizeof(int)),
        *edge = malloc(((size_t)nedges + 1) * sizeof(int));
    if (!fill || !edge) {
        free(start), free(fill), free(edge);
        return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", m->path);
    }
    for (int k = 0; k < m->nnodes; k++)
        for (int j = 0; j < m->nodes[k].ninputs; j++) {
            int p = m->nodes[k].inputs[j][0] ? axnn_onnx_smap_get(prod, m->nodes[k].inputs[j]) : -1;
            if (p >= 0) edge[start[p] + fill[p]++] = k;
        }
    while (head < tail) {
        int k = order[head++];
        for (int e = start[k]; e < start[k + 1]; e++)
            if (--pending[edge[e]] == 0) order[tail++] = edge[e];
    }
    free(start), free(fill), free(edge);
    if (tail < m->nnodes) {
        for (int k = 0; k < m->nnodes; k++)
            if (pending[k])
                return axnn_error(AXNN_ERR_FORMAT,
                                  "%s: the graph has a cycle through node '%s' (%s)", m->path,
                                  m->nodes[k].name, m->nodes[k].op_type);
    }
    return AXNN_OK;
}

/* True when every node's inputs come from earlier nodes (the usual case for exports): then
 * the file's order is kept as it is. */
static bool in_order(const axnn_onnx_model *m, const smap *prod)
{
    for (int k = 0; k < m->nnodes; k++)
        for (int j = 0; j < m->nodes[k].ninputs; j++) {
            const char *in = m->nodes[k].inputs[j];
            if (in[0] && axnn_onnx_smap_get(prod, in) >= k) return false;
        }
    return true;
}

axnn_status axnn_onnx_toposort(axnn_onnx_model *m)
{
    smap prod;
    int n = m->nnodes;
    size_t keys = (size_t)m->ninits + (size_t)m->ninputs;
    for (int k = 0; k < n; k++) keys += (size_t)m->nodes[k].noutputs;
    int *pending = calloc((size_t)n + 1, sizeof(int)), *order = calloc((size_t)n + 1, sizeof(int));
    axnn_onnx_node *sorted = calloc((size_t)n + 1, sizeof *sorted);
    axnn_status s = AXNN_OK;
    if (!axnn_onnx_smap_init(&prod, keys) || !pending || !order || !sorted)
        s = axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", m->path);
    if (!s) s = define_values(m, &prod);
    if (!s) s = count_deps(m, &prod, pending);
    if (!s && !in_order(m, &prod)) {
        s = kahn(m, &prod, pending, order);
        if (!s) {
            for (int k = 0; k < n; k++) sorted[k] = m->nodes[order[k]];
            memcpy(m->nodes, sorted, (size_t)n * sizeof *sorted);
        }
    }
    axnn_onnx_smap_free(&prod);
    free(pending), free(order), free(sorted);
    return s;
}

/* ---- the op table ----
 * attrs: space-separated "name:t", t = f float, i int, s string, F floats, I ints, t tensor. */
typedef struct op_spec {
    const char *op;
    const char *attrs;
    int max_outputs;
} op_spec;

#define POOL "auto_pad:s kernel_shape:I pads:I strides:I ceil_mode:i"
static const op_spec OPS[] = {
    {"Conv", "auto_pad:s dilations:I group:i kernel_shape:I pads:I strides:I", 1},
    {"ConvTranspose",
     "auto_pad:s dilations:I group:i kernel_shape:I output_padding:I output_shape:I pads:I "
     "strides:I",
     1},
    {"BatchNormalization", "epsilon:f momentum:f training_mode:i", 1},
    {"Relu", "", 1},
    {"LeakyRelu", "alpha:f", 1},
    {"Clip", "", 1},
    {"Sigmoid", "", 1},
    {"HardSigmoid", "alpha:f beta:f", 1},
    {"HardSwish", "", 1},
    {"Tanh", "", 1},
    {"Erf", "", 1},
    {"Add", "", 1},
    {"Sub", "", 1},
    {"Mul", "", 1},
    {"Div", "", 1},
    {"Pow", "", 1},
    {"Sqrt", "", 1},
    {"Neg", "", 1},
    {"Exp", "", 1},
    {"Concat", "axis:i", 1},
    {"Split", "axis:i split:I", 64},
    {"MaxPool", POOL " dilations:I storage_order:i", 1},
    {"AveragePool", POOL " count_include_pad:i", 1},
    {"GlobalAveragePool", "", 1},
    {"GlobalMaxPool", "", 1},
    {"Flatten", "axis:i", 1},
    {"Reshape", "allowzero:i", 1},
    {"Transpose", "perm:I", 1},
    {"Gemm", "alpha:f beta:f transA:i transB:i", 1},
    {"MatMul", "", 1},
    {"Softmax", "axis:i", 1},
    /* LayerNormalization's Mean and InvStdDev and Dropout's mask (all true in inference) are
     * optional outputs that the ops must produce when a model names them */
    {"LayerNormalization", "axis:i epsilon:f stash_type:i", 3},
    {"Dropout", "seed:i", 2},
    {"Identity", "", 1},
    {"ReduceMean", "axes:I keepdims:i", 1},
    {"Pad", "mode:s", 1},
    {"Squeeze", "axes:I", 1},
    {"Unsqueeze", "axes:I", 1}, /* axes: opsets 11-12 */
    /* shape subgraphs (folded to constants by axnn_onnx_fix_inputs) */
    {"Shape", "start:i end:i", 1},
    {"Gather", "axis:i", 1},
    {"Slice", "", 1},
    {"Cast", "to:i", 1},
    {"Constant", "value:t value_float:f value_floats:F value_int:i value_ints:I", 1},
    {"ConstantOfShape", "value:t", 1},
    {"Range", "", 1},
    {"Expand", "", 1},
};

static const op_spec *find_op(const char *op)
{
    for (size_t k = 0; k < sizeof OPS / sizeof OPS[0]; k++)
        if (!strcmp(OPS[k].op, op)) return &OPS[k];
    return NULL;
}

bool axnn_onnx_op_known(const char *op)
{
    return find_op(op) != NULL;
}

static char type_letter(axnn_onnx_attr_type t)
{
    switch (t) {
    case AXNN_ONNX_ATTR_FLOAT:
        return 'f';
    case AXNN_ONNX_ATTR_INT:
        return 'i';
    case AXNN_ONNX_ATTR_STRING:
        return 's';
    case AXNN_ONNX_ATTR_FLOATS:
        return 'F';
    case AXNN_ONNX_ATTR_INTS:
        return 'I';
    case AXNN_ONNX_ATTR_TENSOR:
        return 't';
    default:
        return '?';
    }
}

/* The letter of attribute `name` in spec (0 when it is not listed). */
static char spec_type(const op_spec *sp, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = sp->attrs; (p = strstr(p, name)); p += len)
        if ((p == sp->attrs || p[-1] == ' ') && p[len] == ':') return p[len + 1];
    return 0;
}

static bool one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(s, *set)) return true;
    return false;
}

/* Values axnn accepts for attributes that it accepts only partly; NULL when a is fine. */
static const char *bad_value(const axnn_onnx_node *n, const axnn_onnx_attr *a)
{
    static const char *const auto_pad[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", NULL};
    static const char *const pad_modes[] = {"constant", "reflect", "edge", NULL};
    if (!strcmp(a->name, "auto_pad") && !one_of(a->s, auto_pad))
        return "is not NOTSET, SAME_UPPER, SAME_LOWER or VALID";
    if (!strcmp(n->op_type, "Pad") && !strcmp(a->name, "mode") && !one_of(a->s, pad_modes))
        return "is not constant, reflect or edge";
    if (!strcmp(a->name, "storage_order") && a->i != 0) return "is not 0 (row-major)";
    if (!strcmp(a->name, "training_mode") && a->i != 0)
        return "is not 0 (axnn imports inference graphs)";
    if (!strcmp(a->name, "group") && a->i < 1) return "is below 1";
    if (!strcmp(a->name, "to") && (a->i == AXNN_ONNX_STRING || a->i == 14 || a->i == 15 || !a->i))
        return "is not a numeric type";
    return NULL;
}

axnn_status axnn_onnx_check_node(const axnn_onnx_model *m, const axnn_onnx_node *n)
{
    const op_spec *sp = n->domain[0] ? NULL : find_op(n->op_type);
    if (!sp) {
        if (n->domain[0])
            return axnn_error(AXNN_ERR_UNSUPPORTED,
                              "%s: node '%s' (%s): op of domain '%s' is not supported", m->path,
                              n->name, n->op_type, n->domain);
        return axnn_error(AXNN_ERR_UNSUPPORTED, "%s: node '%s' (%s): unknown op", m->path, n->name,
                          n->op_type);
    }
    for (int k = 0; k < n->nattrs; k++) {
        const axnn_onnx_attr *a = &n->attrs[k];
        char t = spec_type(sp, a->name);
        if (!t)
            return axnn_error(AXNN_ERR_UNSUPPORTED,
                              "%s: node '%s' (%s): unsupported attribute '%s'", m->path, n->name,
                              n->op_type, a->name);
        if (t != type_letter(a->type))
            return axnn_error(AXNN_ERR_FORMAT,
                              "%s: node '%s' (%s): attribute '%s' has the wrong type", m->path,
                              n->name, n->op_type, a->name);
        const char *why = bad_value(n, a);
        if (why)
            return axnn_error(AXNN_ERR_UNSUPPORTED, "%s: node '%s' (%s): attribute '%s' %s",
                              m->path, n->name, n->op_type, a->name, why);
    }
    int used = 0;
    for (int k = 0; k < n->noutputs; k++)
        if (n->outputs[k][0]) used = k + 1;
    if (used > sp->max_outputs)
        return axnn_error(AXNN_ERR_UNSUPPORTED,
                          "%s: node '%s' (%s): output %d ('%s') is not supported", m->path, n->name,
                          n->op_type, used - 1, n->outputs[used - 1]);
    return AXNN_OK;
}
