/* The ONNX model reader: a ModelProto decoded by protobuf-c (code generated at build time from
 * Debian's onnx.proto) becomes an axnn_onnx_model of plain C arrays, and is validated (see
 * axnn/onnx.h). The protobuf structs never leave this file: the model owns copies of every
 * string and tensor, so the decoded message is freed before returning.
 */
#include "onnx/onnx-internal.h"

#include <stdlib.h>
#include <string.h>

void axnn_onnx_node_clear(axnn_onnx_node *n)
{
    for (int k = 0; k < n->ninputs; k++) free(n->inputs[k]);
    for (int k = 0; k < n->noutputs; k++) free(n->outputs[k]);
    for (int k = 0; k < n->nattrs; k++) {
        axnn_onnx_attr *a = &n->attrs[k];
        free(a->name);
        free(a->s);
        free(a->floats);
        free(a->ints);
        for (int j = 0; a->strings && j < a->n; j++) free(a->strings[j]);
        free(a->strings);
        if (a->t) {
            axnn_onnx_tensor_clear(a->t);
            free(a->t);
        }
    }
    free(n->inputs);
    free(n->outputs);
    free(n->attrs);
    free(n->name);
    free(n->op_type);
    free(n->domain);
    memset(n, 0, sizeof *n);
}

static void value_info_clear(axnn_onnx_value_info *v)
{
    free(v->name);
    for (int k = 0; k < AXNN_ONNX_MAX_DIMS; k++) free(v->dim_param[k]);
}

void axnn_onnx_free(axnn_onnx_model *m)
{
    if (!m) return;
    for (int k = 0; k < m->nnodes; k++) axnn_onnx_node_clear(&m->nodes[k]);
    for (int k = 0; k < m->ninits; k++) axnn_onnx_tensor_clear(&m->inits[k]);
    for (int k = 0; k < m->ninputs; k++) value_info_clear(&m->inputs[k]);
    for (int k = 0; k < m->noutputs; k++) value_info_clear(&m->outputs[k]);
    for (int k = 0; k < m->nshapes; k++) value_info_clear(&m->shapes[k]);
    free(m->nodes);
    free(m->inits);
    free(m->inputs);
    free(m->outputs);
    free(m->shapes);
    free(m->path);
    free(m->producer);
    free(m);
}

static char *bytes_dup(ProtobufCBinaryData b)
{
    char *s = malloc(b.len + 1);
    if (s) {
        if (b.len) memcpy(s, b.data, b.len);
        s[b.len] = 0;
    }
    return s;
}

static axnn_status nomem(const char *what)
{
    return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", what);
}

static axnn_status convert_attr(const Onnx__AttributeProto *p, const axnn_onnx_node *n,
                                const char *dir, const char *what, axnn_onnx_attr *a)
{
    a->name = axnn_onnx_strdup(p->name);
    if (!a->name) return nomem(what);
    if (!p->has_type)
        return axnn_error(AXNN_ERR_FORMAT, "%s: node '%s' (%s): attribute '%s' has no type", what,
                          n->name, n->op_type, a->name);
    a->type = (axnn_onnx_attr_type)p->type;
    switch (p->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        a->f = p->f;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        a->i = p->i;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        if (!(a->s = bytes_dup(p->s))) return nomem(what);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        a->n = (int)p->n_floats;
        if (!(a->floats = malloc((p->n_floats + 1) * sizeof(float)))) return nomem(what);
        if (p->n_floats) memcpy(a->floats, p->floats, p->n_floats * sizeof(float));
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        a->n = (int)p->n_ints;
        if (!(a->ints = malloc((p->n_ints + 1) * sizeof(int64_t)))) return nomem(what);
        if (p->n_ints) memcpy(a->ints, p->ints, p->n_ints * sizeof(int64_t));
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
        if (!(a->strings = calloc(p->n_strings + 1, sizeof(char *)))) return nomem(what);
        for (size_t k = 0; k < p->n_strings; k++, a->n++)
            if (!(a->strings[k] = bytes_dup(p->strings[k]))) return nomem(what);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
        if (!p->t)
            return axnn_error(AXNN_ERR_FORMAT, "%s: node '%s' (%s): tensor attribute '%s' is empty",
                              what, n->name, n->op_type, a->name);
        if (!(a->t = calloc(1, sizeof *a->t))) return nomem(what);
        return axnn_onnx_convert_tensor(p->t, dir, what, a->t);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
        break;
    default:
        return axnn_error(AXNN_ERR_UNSUPPORTED,
                          "%s: node '%s' (%s): attribute '%s' has unsupported type %d", what,
                          n->name, n->op_type, a->name, (int)p->type);
    }
    return AXNN_OK;
}

static char **dup_strings(char **src, size_t n)
{
    char **d = calloc(n + 1, sizeof(char *));
    for (size_t k = 0; d && k < n; k++)
        if (!(d[k] = axnn_onnx_strdup(src[k]))) {
            for (size_t j = 0; j < k; j++) free(d[j]);
            free(d);
            return NULL;
        }
    return d;
}

static axnn_status convert_node(const Onnx__NodeProto *p, int index, const char *dir,
                                const char *what, axnn_onnx_node *n)
{
    n->op_type = axnn_onnx_strdup(p->op_type);
    n->domain = axnn_onnx_strdup(p->domain && strcmp(p->domain, "ai.onnx") ? p->domain : "");
    if (p->name && p->name[0])
        n->name = axnn_onnx_strdup(p->name);
    else if ((n->name = malloc(strlen(n->op_type ? n->op_type : "") + 24)))
        sprintf(n->name, "%s_%d", n->op_type ? n->op_type : "", index);
    if (!n->op_type || !n->domain || !n->name) return nomem(what);
    if (!n->op_type[0])
        return axnn_error(AXNN_ERR_FORMAT, "%s: node '%s' has no op_type", what, n->name);
    if (!(n->inputs = dup_strings(p->input, p->n_input))) return nomem(what);
    n->ninputs = (int)p->n_input;
    if (!(n->outputs = dup_strings(p->output, p->n_output))) return nomem(what);
    n->noutputs = (int)p->n_output;
    if (!(n->attrs = calloc(p->n_attribute + 1, sizeof *n->attrs))) return nomem(what);
    for (size_t k = 0; k < p->n_attribute; k++) {
        n->nattrs++;
        axnn_status s = convert_attr(p->attribute[k], n, dir, what, &n->attrs[k]);
        if (s) return s;
    }
    return AXNN_OK;
}

static axnn_status convert_value_info(const Onnx__ValueInfoProto *p, const char *what,
                                      axnn_onnx_value_info *v)
{
    if (!(v->name = axnn_onnx_strdup(p->name))) return nomem(what);
    v->nd = -1;
    const Onnx__TypeProto *tp = p->type;
    if (!tp) return AXNN_OK;
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
        return axnn_error(AXNN_ERR_UNSUPPORTED,
                          "%s: graph value '%s' is not a tensor (sequence, map or optional)", what,
                          v->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    v->elem_type = tt->has_elem_type ? tt->elem_type : 0;
    if (!tt->shape) return AXNN_OK;
    if (tt->shape->n_dim > AXNN_ONNX_MAX_DIMS)
        return axnn_error(AXNN_ERR_UNSUPPORTED, "%s: graph value '%s' has rank %zu (at most %d)",
                          what, v->name, tt->shape->n_dim, AXNN_ONNX_MAX_DIMS);
    v->nd = (int)tt->shape->n_dim;
    for (int k = 0; k < v->nd; k++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[k];
        v->dims[k] = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (d->dim_value < 0 || d->dim_value > AXNN_ONNX_MAX_DIM)
                return axnn_error(AXNN_ERR_FORMAT,
                                  "%s: graph value '%s' declares dimension %d of size %lld", what,
                                  v->name, k, (long long)d->dim_value);
            v->dims[k] = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) {
            if (!(v->dim_param[k] = axnn_onnx_strdup(d->dim_param))) return nomem(what);
        }
    }
    return AXNN_OK;
}

static axnn_status check_opset(const Onnx__ModelProto *mp, const char *what, unsigned flags,
                               axnn_onnx_model *m)
{
    m->opset = -1;
    for (size_t k = 0; k < mp->n_opset_import; k++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[k];
        if (!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) m->opset = o->version;
    }
    if (flags & AXNN_ONNX_ANY_OPSET) return AXNN_OK;
    if (m->opset < 0)
        return axnn_error(AXNN_ERR_FORMAT, "%s: no opset import for the default domain", what);
    if (m->opset < 11 || m->opset > 17)
        return axnn_error(AXNN_ERR_UNSUPPORTED, "%s: opset %lld (axnn reads opsets 11 to 17)", what,
                          (long long)m->opset);
    return AXNN_OK;
}

static axnn_status convert_graph(const Onnx__GraphProto *g, const char *dir, const char *what,
                                 axnn_onnx_model *m)
{
    axnn_status s;
    if (g->n_sparse_initializer)
        return axnn_error(AXNN_ERR_UNSUPPORTED, "%s: sparse initializers", what);
    m->inits = calloc(g->n_initializer + 1, sizeof *m->inits);
    m->nodes = calloc(g->n_node + 1, sizeof *m->nodes);
    m->inputs = calloc(g->n_input + 1, sizeof *m->inputs);
    m->outputs = calloc(g->n_output + 1, sizeof *m->outputs);
    if (!m->inits || !m->nodes || !m->inputs || !m->outputs) return nomem(what);
    for (size_t k = 0; k < g->n_initializer; k++, m->ninits++)
        if ((s = axnn_onnx_convert_tensor(g->initializer[k], dir, what, &m->inits[k]))) return s;
    for (size_t k = 0; k < g->n_input; k++) {
        if (axnn_onnx_find_init(m, g->input[k]->name)) continue;
        if ((s = convert_value_info(g->input[k], what, &m->inputs[m->ninputs++]))) return s;
    }
    /* counted before conversion, so a half-converted entry is freed with the model */
    for (size_t k = 0; k < g->n_output; k++)
        if ((s = convert_value_info(g->output[k], what, &m->outputs[m->noutputs++]))) return s;
    for (size_t k = 0; k < g->n_node; k++)
        if ((s = convert_node(g->node[k], (int)k, dir, what, &m->nodes[m->nnodes++]))) return s;
    return AXNN_OK;
}

static axnn_status convert_model(const Onnx__ModelProto *mp, const char *dir, const char *what,
                                 unsigned flags, axnn_onnx_model *m)
{
    axnn_status s;
    m->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    if (!(m->producer = axnn_onnx_strdup(mp->producer_name))) return nomem(what);
    if ((s = check_opset(mp, what, flags, m))) return s;
    if (!mp->graph) return axnn_error(AXNN_ERR_FORMAT, "%s: the model has no graph", what);
    if (mp->n_functions && !(flags & AXNN_ONNX_ANY_OP))
        return axnn_error(AXNN_ERR_UNSUPPORTED, "%s: model-local functions", what);
    if ((s = convert_graph(mp->graph, dir, what, m))) return s;
    if ((s = axnn_onnx_toposort(m))) return s;
    if (!(flags & AXNN_ONNX_ANY_OP))
        for (int k = 0; k < m->nnodes; k++)
            if ((s = axnn_onnx_check_node(m, &m->nodes[k]))) return s;
    return AXNN_OK;
}

axnn_status axnn_onnx_load_mem(const void *buf, size_t len, const char *dir, const char *what,
                               unsigned flags, axnn_onnx_model **out)
{
    *out = NULL;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    if (!mp)
        return axnn_error(AXNN_ERR_FORMAT,
                          "%s: not a valid ONNX model (truncated or corrupt protobuf)", what);
    axnn_onnx_model *m = calloc(1, sizeof *m);
    axnn_status s = m ? AXNN_OK : nomem(what);
    if (!s && !(m->path = axnn_onnx_strdup(what))) s = nomem(what);
    if (!s) s = convert_model(mp, dir, what, flags, m);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (s) {
        axnn_onnx_free(m);
        return s;
    }
    *out = m;
    return AXNN_OK;
}

axnn_status axnn_onnx_load(const char *path, unsigned flags, axnn_onnx_model **out)
{
    *out = NULL;
    uint8_t *buf;
    size_t len;
    axnn_status s = axnn_onnx_slurp(path, &buf, &len);
    if (s) return s;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    s = axnn_onnx_load_mem(buf, len, dir, path, flags, out);
    free(buf);
    return s;
}

const axnn_onnx_tensor *axnn_onnx_find_init(const axnn_onnx_model *m, const char *name)
{
    for (int k = 0; name && k < m->ninits; k++)
        if (!strcmp(m->inits[k].name, name)) return &m->inits[k];
    return NULL;
}

const axnn_onnx_attr *axnn_onnx_find_attr(const axnn_onnx_node *n, const char *name)
{
    for (int k = 0; k < n->nattrs; k++)
        if (!strcmp(n->attrs[k].name, name)) return &n->attrs[k];
    return NULL;
}

const axnn_onnx_value_info *axnn_onnx_find_shape(const axnn_onnx_model *m, const char *name)
{
    for (int k = 0; k < m->nshapes; k++)
        if (!strcmp(m->shapes[k].name, name)) return &m->shapes[k];
    return NULL;
}
