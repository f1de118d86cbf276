/* Fixing input shapes and folding the shape subgraphs of exported models.
 *
 * Exporters write x.size(0), x.view(b, -1) and chunk() as small integer subgraphs: Shape of an
 * activation, Gather of one element, Unsqueeze, Concat with constants, Cast, arithmetic, and a
 * Reshape or Slice that reads the result. Once the graph inputs have fixed shapes (the batch
 * chosen), all of these are constants. axnn_onnx_fix_inputs walks the nodes in topological
 * order with, for every value, its shape when known and its contents when constant:
 *   - a node of the foldable set whose inputs are all constant (Shape: whose input shape is
 *     known) is evaluated here, and its outputs become constants;
 *   - any other node gets its output shapes inferred from its input shapes and the constant
 *     inputs that shape it (Reshape's shape, Slice's starts, Pad's pads, ...).
 * Folded nodes are removed, and the constants that remaining nodes read become initializers
 * (int64 or float, named as the value they replace). Nodes that produce a graph output are
 * never removed. The inferred shapes are kept in m->shapes.
 */
#include "onnx/onnx-internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct val {
    bool known;
    int32_t type; /* element type when known (constants, graph inputs), else 0 */
    int nd;
    int64_t dims[AXNN_ONNX_MAX_DIMS];
    const axnn_onnx_tensor *c; /* constant contents, or NULL */
} val;

typedef struct fctx {
    axnn_onnx_model *m;
    axnn_onnx_smap map; /* name -> index in vals */
    const char **names;
    val *vals;
    int nvals, cap;
    axnn_onnx_tensor **owned; /* folded constants, one per value index (or NULL) */
} fctx;

typedef struct nctx {
    fctx *f;
    const axnn_onnx_node *n;
    val *in[16];
    int nin;
} nctx;

static axnn_status err_node(const nctx *c, const char *msg)
{
    return axnn_error(AXNN_ERR_SHAPE, "%s: node '%s' (%s): %s", c->f->m->path, c->n->name,
                      c->n->op_type, msg);
}

static val *lookup(fctx *f, const char *name)
{
    int k = name[0] ? axnn_onnx_smap_get(&f->map, name) : -1;
    return k >= 0 ? &f->vals[k] : NULL;
}

static int add_val(fctx *f, const char *name)
{
    int k = axnn_onnx_smap_get(&f->map, name);
    if (k >= 0) return k;
    if (f->nvals == f->cap) return -1;
    k = f->nvals++;
    f->names[k] = name;
    memset(&f->vals[k], 0, sizeof f->vals[k]);
    axnn_onnx_smap_put(&f->map, name, k);
    return k;
}

static void set_shape(val *v, int nd, const int64_t *dims)
{
    v->known = true;
    v->nd = nd;
    memcpy(v->dims, dims, (size_t)nd * sizeof(int64_t));
}

/* ---- constants ---- */

static axnn_onnx_tensor *new_tensor(int32_t type, int nd, const int64_t *dims)
{
    axnn_onnx_tensor *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->elem_type = type;
    t->nd = nd;
    t->numel = 1;
    for (int k = 0; k < nd; k++) t->numel *= (t->dims[k] = dims[k]);
    size_t n = (size_t)(t->numel ? t->numel : 1);
    if (axnn_onnx_is_float_type(type))
        t->f = calloc(n, sizeof(float));
    else
        t->i = calloc(n, sizeof(int64_t));
    if (!t->f && !t->i) {
        free(t);
        return NULL;
    }
    return t;
}

static void free_tensor(axnn_onnx_tensor *t)
{
    if (!t) return;
    axnn_onnx_tensor_clear(t);
    free(t);
}

static int64_t ival(const axnn_onnx_tensor *t, int64_t k)
{
    return t->i ? t->i[k] : (int64_t)t->f[k];
}
static double fval(const axnn_onnx_tensor *t, int64_t k)
{
    return t->f ? t->f[k] : (double)t->i[k];
}

static int64_t norm_axis(int64_t a, int rank)
{
    return a < 0 ? a + rank : a;
}

/* Axes of a node: the `axes` input at index `in` (opset 13+) or the attribute (before). */
/* True when input k is given (not omitted) but its contents are not known here. */
static bool input_not_const(const nctx *c, int k)
{
    return k < c->nin && c->n->inputs[k][0] && !(c->in[k] && c->in[k]->c);
}

/* Reads axes: -1 none given, -2 too many, -3 given as an input that is not constant. */
static int get_axes(const nctx *c, int in, int64_t *axes, int rank)
{
    const axnn_onnx_attr *a = axnn_onnx_find_attr(c->n, "axes");
    int n = -1;
    if (input_not_const(c, in)) return -3;
    if (in < c->nin && c->in[in] && c->in[in]->c) {
        n = (int)c->in[in]->c->numel;
        for (int k = 0; k < n && k < AXNN_ONNX_MAX_DIMS; k++)
            axes[k] = norm_axis(ival(c->in[in]->c, k), rank);
    } else if (a && a->type == AXNN_ONNX_ATTR_INTS) {
        n = a->n;
        for (int k = 0; k < n && k < AXNN_ONNX_MAX_DIMS; k++) axes[k] = norm_axis(a->ints[k], rank);
    }
    return n > AXNN_ONNX_MAX_DIMS ? -2 : n;
}

static int64_t attr_i(const axnn_onnx_node *n, const char *name, int64_t def)
{
    const axnn_onnx_attr *a = axnn_onnx_find_attr(n, name);
    return a && a->type == AXNN_ONNX_ATTR_INT ? a->i : def;
}

static bool has_axis(const int64_t *axes, int n, int64_t k)
{
    for (int j = 0; j < n; j++)
        if (axes[j] == k) return true;
    return false;
}

/* Strides of a row-major shape. */
static void strides_of(int nd, const int64_t *dims, int64_t *st)
{
    int64_t s = 1;
    for (int k = nd - 1; k >= 0; k--) st[k] = s, s *= dims[k];
}

static bool broadcast_shape(int na, const int64_t *a, int nb, const int64_t *b, int *nd,
                            int64_t *out)
{
    *nd = na > nb ? na : nb;
    for (int k = 0; k < *nd; k++) {
        int64_t x = k - (*nd - na) >= 0 ? a[k - (*nd - na)] : 1;
        int64_t y = k - (*nd - nb) >= 0 ? b[k - (*nd - nb)] : 1;
        if (x != y && x != 1 && y != 1) return false;
        out[k] = x == 1 ? y : x;
    }
    return true;
}

/* Offset in a tensor of shape (n, dims), broadcast to out_nd dims, of output index idx. */
static int64_t bcast_offset(const int64_t *idx, int out_nd, int n, const int64_t *dims)
{
    int64_t off = 0, s = 1;
    for (int k = n - 1; k >= 0; k--) {
        int64_t i = dims[k] == 1 ? 0 : idx[k + out_nd - n];
        off += i * s;
        s *= dims[k];
    }
    return off;
}

static double binop_f(const char *op, double x, double y)
{
    switch (op[0]) {
    case 'A':
        return x + y;
    case 'S':
        return x - y;
    case 'M':
        return x * y;
    case 'D':
        return x / y;
    default:
        return pow(x, y);
    }
}

static bool binop_i(const char *op, int64_t x, int64_t y, int64_t *r)
{
    switch (op[0]) {
    case 'A':
        *r = (int64_t)((uint64_t)x + (uint64_t)y);
        return true;
    case 'S':
        *r = (int64_t)((uint64_t)x - (uint64_t)y);
        return true;
    case 'M':
        *r = (int64_t)((uint64_t)x * (uint64_t)y);
        return true;
    case 'D':
        if (!y || (x == INT64_MIN && y == -1)) return false;
        *r = x / y;
        return true;
    default:
        return false;
    }
}

static axnn_status eval_binary(nctx *c, axnn_onnx_tensor **out)
{
    const axnn_onnx_tensor *a = c->in[0]->c, *b = c->in[1]->c;
    int nd;
    int64_t dims[AXNN_ONNX_MAX_DIMS], idx[AXNN_ONNX_MAX_DIMS] = {0};
    if (!broadcast_shape(a->nd, a->dims, b->nd, b->dims, &nd, dims))
        return err_node(c, "shapes do not broadcast");
    bool ints = a->i && b->i;
    axnn_onnx_tensor *t = new_tensor(ints ? AXNN_ONNX_INT64 : AXNN_ONNX_FLOAT, nd, dims);
    if (!t) return err_node(c, "out of memory");
    for (int64_t k = 0; k < t->numel; k++) {
        int64_t ia = bcast_offset(idx, nd, a->nd, a->dims),
                ib = bcast_offset(idx, nd, b->nd, b->dims);
        if (ints && !binop_i(c->n->op_type, a->i[ia], b->i[ib], &t->i[k])) {
            free_tensor(t);
            return err_node(c, "integer division by zero");
        }
        if (!ints) t->f[k] = (float)binop_f(c->n->op_type, fval(a, ia), fval(b, ib));
        for (int d = nd - 1; d >= 0 && ++idx[d] == dims[d]; d--) idx[d] = 0;
    }
    t->elem_type = ints ? a->elem_type : AXNN_ONNX_FLOAT;
    *out = t;
    return AXNN_OK;
}

static axnn_onnx_tensor *copy_tensor(const axnn_onnx_tensor *s, int nd, const int64_t *dims)
{
    axnn_onnx_tensor *t = new_tensor(s->elem_type, nd, dims);
    if (!t) return NULL;
    if (s->f)
        memcpy(t->f, s->f, (size_t)s->numel * sizeof(float));
    else
        memcpy(t->i, s->i, (size_t)s->numel * sizeof(int64_t));
    return t;
}

static axnn_status eval_constant(nctx *c, axnn_onnx_tensor **out)
{
    const axnn_onnx_node *n = c->n;
    if (n->nattrs != 1) return err_node(c, "needs exactly one value attribute");
    const axnn_onnx_attr *a = &n->attrs[0];
    int64_t cnt = a->n;
    axnn_onnx_tensor *t = NULL;
    static const axnn_onnx_attr_type want[5] = {AXNN_ONNX_ATTR_TENSOR, AXNN_ONNX_ATTR_FLOAT,
                                                AXNN_ONNX_ATTR_INT, AXNN_ONNX_ATTR_FLOATS,
                                                AXNN_ONNX_ATTR_INTS};
    static const char *const names[5] = {"value", "value_float", "value_int", "value_floats",
                                         "value_ints"};
    for (int k = 0; k < 5; k++)
        if (!strcmp(a->name, names[k]) && a->type != want[k])
            return err_node(c, "value attribute of the wrong type");
    if (!strcmp(a->name, "value"))
        t = copy_tensor(a->t, a->t->nd, a->t->dims);
    else if (!strcmp(a->name, "value_float") && (t = new_tensor(AXNN_ONNX_FLOAT, 0, NULL)))
        t->f[0] = a->f;
    else if (!strcmp(a->name, "value_int") && (t = new_tensor(AXNN_ONNX_INT64, 0, NULL)))
        t->i[0] = a->i;
    else if (!strcmp(a->name, "value_floats") && (t = new_tensor(AXNN_ONNX_FLOAT, 1, &cnt)))
        memcpy(t->f, a->floats, (size_t)cnt * sizeof(float));
    else if (!strcmp(a->name, "value_ints") && (t = new_tensor(AXNN_ONNX_INT64, 1, &cnt)))
        memcpy(t->i, a->ints, (size_t)cnt * sizeof(int64_t));
    if (!t) return err_node(c, "cannot make its value");
    *out = t;
    return AXNN_OK;
}

static axnn_status eval_shape(nctx *c, axnn_onnx_tensor **out)
{
    const val *v = c->in[0];
    int64_t r = v->nd, s = norm_axis(attr_i(c->n, "start", 0), v->nd),
            e = norm_axis(attr_i(c->n, "end", r), v->nd);
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    int64_t len = e > s ? e - s : 0;
    axnn_onnx_tensor *t = new_tensor(AXNN_ONNX_INT64, 1, &len);
    if (!t) return err_node(c, "out of memory");
    for (int64_t k = 0; k < len; k++) t->i[k] = v->dims[s + k];
    *out = t;
    return AXNN_OK;
}

static axnn_status eval_gather(nctx *c, axnn_onnx_tensor **out)
{
    const axnn_onnx_tensor *d = c->in[0]->c, *ix = c->in[1]->c;
    int64_t axis = norm_axis(attr_i(c->n, "axis", 0), d->nd);
    if (axis < 0 || axis >= d->nd || !ix->i) return err_node(c, "bad axis or indices");
    int nd = d->nd - 1 + ix->nd;
    if (nd > AXNN_ONNX_MAX_DIMS) return err_node(c, "rank too high");
    int64_t dims[AXNN_ONNX_MAX_DIMS], outer = 1, inner = 1;
    int q = 0;
    for (int k = 0; k < axis; k++) dims[q++] = d->dims[k], outer *= d->dims[k];
    for (int k = 0; k < ix->nd; k++) dims[q++] = ix->dims[k];
    for (int k = (int)axis + 1; k < d->nd; k++) dims[q++] = d->dims[k], inner *= d->dims[k];
    axnn_onnx_tensor *t = new_tensor(d->elem_type, nd, dims);
    if (!t) return err_node(c, "out of memory");
    int64_t n = d->dims[axis], o = 0;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t j = 0; j < ix->numel; j++) {
            int64_t i = ix->i[j] < 0 ? ix->i[j] + n : ix->i[j];
            if (i < 0 || i >= n) {
                free_tensor(t);
                return err_node(c, "index out of range");
            }
            for (int64_t b = 0; b < inner; b++, o++) {
                int64_t src = (a * n + i) * inner + b;
                if (t->f)
                    t->f[o] = d->f[src];
                else
                    t->i[o] = d->i[src];
            }
        }
    *out = t;
    return AXNN_OK;
}

static axnn_status eval_concat(nctx *c, axnn_onnx_tensor **out)
{
    const axnn_onnx_tensor *a0 = c->in[0]->c;
    int64_t axis = norm_axis(attr_i(c->n, "axis", 0), a0->nd), dims[AXNN_ONNX_MAX_DIMS];
    if (axis < 0 || axis >= a0->nd) return err_node(c, "bad axis");
    memcpy(dims, a0->dims, sizeof dims);
    dims[axis] = 0;
    bool ints = true;
    for (int k = 0; k < c->nin; k++) {
        const axnn_onnx_tensor *t = c->in[k]->c;
        if (t->nd != a0->nd) return err_node(c, "inputs of different ranks");
        for (int d = 0; d < t->nd; d++)
            if (d != axis && t->dims[d] != a0->dims[d]) return err_node(c, "input shapes differ");
        dims[axis] += t->dims[axis];
        ints = ints && t->i;
    }
    axnn_onnx_tensor *t = new_tensor(ints ? a0->elem_type : AXNN_ONNX_FLOAT, a0->nd, dims);
    if (!t) return err_node(c, "out of memory");
    int64_t outer = 1, o = 0;
    for (int d = 0; d < axis; d++) outer *= dims[d];
    for (int64_t a = 0; a < outer; a++)
        for (int k = 0; k < c->nin; k++) {
            const axnn_onnx_tensor *s = c->in[k]->c;
            int64_t chunk = s->numel / (outer ? outer : 1);
            for (int64_t j = 0; j < chunk; j++, o++) {
                if (t->i)
                    t->i[o] = s->i[a * chunk + j];
                else
                    t->f[o] = (float)fval(s, a * chunk + j);
            }
        }
    *out = t;
    return AXNN_OK;
}

static axnn_status eval_cast(nctx *c, axnn_onnx_tensor **out)
{
    const axnn_onnx_tensor *s = c->in[0]->c;
    int32_t to = (int32_t)attr_i(c->n, "to", 0);
    axnn_onnx_tensor *t = new_tensor(to, s->nd, s->dims);
    if (!t) return err_node(c, "out of memory");
    for (int64_t k = 0; k < s->numel; k++) {
        if (t->f)
            t->f[k] = (float)fval(s, k);
        else if (to == AXNN_ONNX_BOOL)
            t->i[k] = s->i ? s->i[k] != 0 : s->f[k] != 0.0f;
        else if (s->i)
            t->i[k] = s->i[k];
        else if (!(fabsf(s->f[k]) < 9.2e18f)) {
            free_tensor(t);
            return err_node(c, "float value out of the integer range");
        } else
            t->i[k] = (int64_t)s->f[k];
    }
    *out = t;
    return AXNN_OK;
}

/* New shape of Squeeze/Unsqueeze/Flatten/Reshape: a copy of the data with other dims. */
static axnn_status eval_reshaped(nctx *c, int nd, const int64_t *dims, axnn_onnx_tensor **out)
{
    if (!(*out = copy_tensor(c->in[0]->c, nd, dims))) return err_node(c, "out of memory");
    return AXNN_OK;
}

/* Slice parameters of one axis after clamping (ONNX's rules). */
static void slice_axis(int64_t dim, int64_t st, int64_t en, int64_t step, int64_t *s0, int64_t *len)
{
    if (st < 0) st += dim;
    if (en < 0) en += dim;
    if (step > 0) {
        st = st < 0 ? 0 : st > dim ? dim : st;
        en = en < 0 ? 0 : en > dim ? dim : en;
        *len = en > st ? (en - st + step - 1) / step : 0;
    } else {
        st = st < 0 ? -1 : st > dim - 1 ? dim - 1 : st;
        en = en < -1 ? -1 : en > dim - 1 ? dim - 1 : en;
        *len = st > en ? (st - en + (-step) - 1) / (-step) : 0;
    }
    *s0 = st;
}

typedef struct slice_plan {
    int nd;
    int64_t start[AXNN_ONNX_MAX_DIMS], step[AXNN_ONNX_MAX_DIMS], len[AXNN_ONNX_MAX_DIMS];
} slice_plan;

/* Reads Slice's starts/ends/axes/steps (inputs 1-4, constant) for input shape (nd, dims). */
static axnn_status plan_slice(nctx *c, int nd, const int64_t *dims, slice_plan *p)
{
    p->nd = nd;
    for (int k = 0; k < nd; k++) p->start[k] = 0, p->step[k] = 1, p->len[k] = dims[k];
    for (int k = 1; k < c->nin && k < 5; k++)
        if (input_not_const(c, k)) return AXNN_ERR_UNSUPPORTED;
    if (c->nin < 3 || !c->in[1] || !c->in[2]) return err_node(c, "needs starts and ends inputs");
    const axnn_onnx_tensor *st = c->in[1]->c, *en = c->in[2]->c;
    const axnn_onnx_tensor *ax = c->nin > 3 && c->in[3] ? c->in[3]->c : NULL;
    const axnn_onnx_tensor *sp = c->nin > 4 && c->in[4] ? c->in[4]->c : NULL;
    if (st->numel != en->numel || (ax && ax->numel != st->numel) || (sp && sp->numel != st->numel))
        return err_node(c, "starts, ends, axes and steps differ in length");
    for (int64_t j = 0; j < st->numel; j++) {
        int64_t a = ax ? norm_axis(ival(ax, j), nd) : j, step = sp ? ival(sp, j) : 1;
        if (a < 0 || a >= nd || step == 0) return err_node(c, "bad axis or zero step");
        p->step[a] = step;
        slice_axis(dims[a], ival(st, j), ival(en, j), step, &p->start[a], &p->len[a]);
    }
    return AXNN_OK;
}

static axnn_status eval_slice(nctx *c, axnn_onnx_tensor **out)
{
    const axnn_onnx_tensor *d = c->in[0]->c;
    slice_plan p;
    axnn_status s = plan_slice(c, d->nd, d->dims, &p);
    if (s) return s;
    axnn_onnx_tensor *t = new_tensor(d->elem_type, d->nd, p.len);
    if (!t) return err_node(c, "out of memory");
    int64_t st[AXNN_ONNX_MAX_DIMS], idx[AXNN_ONNX_MAX_DIMS] = {0};
    strides_of(d->nd, d->dims, st);
    for (int64_t k = 0; k < t->numel; k++) {
        int64_t off = 0;
        for (int a = 0; a < d->nd; a++) off += (p.start[a] + idx[a] * p.step[a]) * st[a];
        if (t->f)
            t->f[k] = d->f[off];
        else
            t->i[k] = d->i[off];
        for (int a = d->nd - 1; a >= 0 && ++idx[a] == p.len[a]; a--) idx[a] = 0;
    }
    *out = t;
    return AXNN_OK;
}

static axnn_status eval_unary(nctx *c, axnn_onnx_tensor **out)
{
    const axnn_onnx_tensor *s = c->in[0]->c;
    bool neg = !strcmp(c->n->op_type, "Neg");
    if (!neg && !s->f) return err_node(c, "integer input");
    axnn_onnx_tensor *t = copy_tensor(s, s->nd, s->dims);
    if (!t) return err_node(c, "out of memory");
    for (int64_t k = 0; k < t->numel; k++) {
        if (t->i)
            t->i[k] = -t->i[k];
        else
            t->f[k] = neg ? -t->f[k] : sqrtf(t->f[k]);
    }
    *out = t;
    return AXNN_OK;
}

static axnn_status eval_constant_of_shape(nctx *c, axnn_onnx_tensor **out)
{
    const axnn_onnx_tensor *sh = c->in[0]->c;
    const axnn_onnx_attr *a = axnn_onnx_find_attr(c->n, "value");
    if (a && (a->type != AXNN_ONNX_ATTR_TENSOR || a->t->numel < 1))
        return err_node(c, "bad value attribute");
    int64_t dims[AXNN_ONNX_MAX_DIMS], numel;
    if (sh->numel > AXNN_ONNX_MAX_DIMS || !sh->i) return err_node(c, "bad shape input");
    for (int k = 0; k < sh->numel; k++) dims[k] = sh->i[k];
    if (axnn_onnx_check_dims(dims, (size_t)sh->numel, c->f->m->path, c->n->name, &numel))
        return AXNN_ERR_SHAPE;
    axnn_onnx_tensor *t = new_tensor(a ? a->t->elem_type : AXNN_ONNX_FLOAT, (int)sh->numel, dims);
    if (!t) return err_node(c, "out of memory");
    for (int64_t k = 0; k < t->numel; k++) {
        if (t->f)
            t->f[k] = a ? a->t->f[0] : 0.0f;
        else
            t->i[k] = a->t->i[0];
    }
    *out = t;
    return AXNN_OK;
}

static axnn_status eval_range(nctx *c, axnn_onnx_tensor **out)
{
    const axnn_onnx_tensor *s = c->in[0]->c, *l = c->in[1]->c, *d = c->in[2]->c;
    if (!s->i || !l->i || !d->i || !d->i[0])
        return err_node(c, "needs integer start, limit and a non-zero delta");
    int64_t n = (l->i[0] - s->i[0] + d->i[0] + (d->i[0] > 0 ? -1 : 1)) / d->i[0];
    if (n < 0) n = 0;
    if (n > AXNN_ONNX_MAX_DIM) return err_node(c, "too many values");
    axnn_onnx_tensor *t = new_tensor(s->elem_type, 1, &n);
    if (!t) return err_node(c, "out of memory");
    for (int64_t k = 0; k < n; k++) t->i[k] = s->i[0] + k * d->i[0];
    *out = t;
    return AXNN_OK;
}

/* ---- shape inference (also gives the output shapes that folding of reshapes needs) ---- */

typedef struct oshape {
    int nd;
    int64_t d[AXNN_ONNX_MAX_DIMS];
} oshape;

static bool in_known(const nctx *c, int k)
{
    return k < c->nin && c->in[k] && c->in[k]->known;
}

static axnn_status infer_reshape(nctx *c, oshape *o)
{
    const val *x = c->in[0];
    const axnn_onnx_tensor *s = c->nin > 1 && c->in[1] ? c->in[1]->c : NULL;
    if (!s) return AXNN_ERR_UNSUPPORTED;
    if (s->numel > AXNN_ONNX_MAX_DIMS || !s->i) return err_node(c, "bad shape input");
    int64_t total = 1, known = 1;
    int neg = -1;
    for (int k = 0; k < x->nd; k++) total *= x->dims[k];
    o->nd = (int)s->numel;
    bool allowzero = attr_i(c->n, "allowzero", 0) != 0;
    for (int k = 0; k < o->nd; k++) {
        int64_t v = s->i[k];
        if (v == 0 && !allowzero) {
            if (k >= x->nd) return err_node(c, "shape copies a dimension the input lacks");
            v = x->dims[k];
        }
        if (v == -1) {
            if (neg >= 0) return err_node(c, "shape has two -1");
            neg = k;
            continue;
        }
        if (v < 0) return err_node(c, "shape has a negative size");
        o->d[k] = v;
        known *= v;
    }
    if (neg >= 0) {
        if (!known || total % known) return err_node(c, "shape does not divide the input");
        o->d[neg] = total / known;
    } else if (known != total)
        return err_node(c, "shape has a different element count");
    return AXNN_OK;
}

/* Output spatial size of a conv or pool along one axis. */
static int64_t window_out(const char *auto_pad, int64_t in, int64_t k, int64_t s, int64_t d,
                          int64_t pb, int64_t pe, bool ceil_mode)
{
    int64_t ek = (k - 1) * d + 1;
    if (!strcmp(auto_pad, "SAME_UPPER") || !strcmp(auto_pad, "SAME_LOWER")) return (in + s - 1) / s;
    if (!strcmp(auto_pad, "VALID")) return (in - ek) / s + 1;
    int64_t span = in + pb + pe - ek;
    if (span < 0) return 0;
    int64_t n = ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
    /* ceil mode: the last window must start inside the input or the leading padding */
    if (ceil_mode && (n - 1) * s >= in + pb) n--;
    return n;
}

static void ints_attr(const axnn_onnx_node *n, const char *name, int64_t *v, int count, int64_t def)
{
    const axnn_onnx_attr *a = axnn_onnx_find_attr(n, name);
    for (int k = 0; k < count; k++)
        v[k] = a && a->type == AXNN_ONNX_ATTR_INTS && k < a->n ? a->ints[k] : def;
}

static axnn_status infer_window(nctx *c, oshape *o)
{
    const val *x = c->in[0];
    bool conv = !strcmp(c->n->op_type, "Conv");
    int sp = x->nd - 2;
    if (sp < 1) return err_node(c, "input of rank below 3");
    int64_t k[AXNN_ONNX_MAX_DIMS], s[AXNN_ONNX_MAX_DIMS], d[AXNN_ONNX_MAX_DIMS],
        p[2 * AXNN_ONNX_MAX_DIMS];
    const axnn_onnx_attr *ks = axnn_onnx_find_attr(c->n, "kernel_shape");
    if (conv && !ks) {
        if (!in_known(c, 1) || c->in[1]->nd != x->nd) return AXNN_ERR_UNSUPPORTED;
        for (int j = 0; j < sp; j++) k[j] = c->in[1]->dims[2 + j];
    } else
        ints_attr(c->n, "kernel_shape", k, sp, 1);
    ints_attr(c->n, "strides", s, sp, 1);
    ints_attr(c->n, "dilations", d, sp, 1);
    ints_attr(c->n, "pads", p, 2 * sp, 0);
    const axnn_onnx_attr *ap = axnn_onnx_find_attr(c->n, "auto_pad");
    bool ceil_mode = attr_i(c->n, "ceil_mode", 0) != 0;
    o->nd = x->nd;
    o->d[0] = x->dims[0];
    o->d[1] = x->dims[1];
    if (conv) {
        if (!in_known(c, 1)) return AXNN_ERR_UNSUPPORTED;
        o->d[1] = c->in[1]->dims[0];
    }
    for (int j = 0; j < sp; j++) {
        if (s[j] < 1 || d[j] < 1 || k[j] < 1)
            return err_node(c, "non-positive kernel, stride or dilation");
        o->d[2 + j] = window_out(ap ? ap->s : "NOTSET", x->dims[2 + j], k[j], s[j], d[j], p[j],
                                 p[sp + j], ceil_mode);
    }
    return AXNN_OK;
}

static axnn_status infer_matmul(nctx *c, oshape *o)
{
    const val *a = c->in[0], *b = c->in[1];
    int64_t ad[AXNN_ONNX_MAX_DIMS + 1], bd[AXNN_ONNX_MAX_DIMS + 1];
    int na = a->nd, nb = b->nd;
    if (!na || !nb) return err_node(c, "scalar operand");
    memcpy(ad, a->dims, (size_t)na * sizeof(int64_t));
    memcpy(bd, b->dims, (size_t)nb * sizeof(int64_t));
    bool a1 = na == 1, b1 = nb == 1;
    if (a1) ad[1] = ad[0], ad[0] = 1, na = 2;
    if (b1) bd[1] = 1, nb = 2;
    if (ad[na - 1] != bd[nb - 2]) return err_node(c, "inner dimensions differ");
    int nd;
    if (!broadcast_shape(na - 2, ad, nb - 2, bd, &nd, o->d))
        return err_node(c, "batch dimensions do not broadcast");
    if (!a1) o->d[nd++] = ad[na - 2];
    if (!b1) o->d[nd++] = bd[nb - 1];
    o->nd = nd;
    return AXNN_OK;
}

static axnn_status infer_squeeze(nctx *c, bool unsq, oshape *o)
{
    const val *x = c->in[0];
    int64_t axes[AXNN_ONNX_MAX_DIMS];
    int rank = x->nd, na;
    if (unsq) {
        na = get_axes(c, 1, axes, AXNN_ONNX_MAX_DIMS); /* normalized below */
        if (na == -3) return AXNN_ERR_UNSUPPORTED;
        if (na < 0) return na == -1 ? err_node(c, "no axes") : err_node(c, "too many axes");
        rank = x->nd + na;
        if (rank > AXNN_ONNX_MAX_DIMS) return err_node(c, "rank too high");
        na = get_axes(c, 1, axes, rank);
        int q = 0;
        for (int k = 0; k < rank; k++) o->d[k] = has_axis(axes, na, k) ? 1 : x->dims[q++];
        if (q != x->nd) return err_node(c, "bad or repeated axes");
        o->nd = rank;
        return AXNN_OK;
    }
    na = get_axes(c, 1, axes, rank);
    if (na == -3) return AXNN_ERR_UNSUPPORTED;
    if (na == -2) return err_node(c, "too many axes");
    o->nd = 0;
    for (int k = 0; k < x->nd; k++) {
        bool drop = na < 0 ? x->dims[k] == 1 : has_axis(axes, na, k);
        if (drop && x->dims[k] != 1) return err_node(c, "squeezes a dimension that is not 1");
        if (!drop) o->d[o->nd++] = x->dims[k];
    }
    return AXNN_OK;
}

static axnn_status infer_reduce(nctx *c, oshape *o)
{
    const val *x = c->in[0];
    int64_t axes[AXNN_ONNX_MAX_DIMS];
    int na = get_axes(c, 1, axes, x->nd);
    if (na == -3) return AXNN_ERR_UNSUPPORTED;
    if (na == -2) return err_node(c, "too many axes");
    bool keep = attr_i(c->n, "keepdims", 1) != 0;
    o->nd = 0;
    for (int k = 0; k < x->nd; k++) {
        bool red = na < 0 || has_axis(axes, na, k);
        if (!red)
            o->d[o->nd++] = x->dims[k];
        else if (keep)
            o->d[o->nd++] = 1;
    }
    return AXNN_OK;
}

static axnn_status infer_pad(nctx *c, oshape *o)
{
    const val *x = c->in[0];
    const axnn_onnx_tensor *p = c->nin > 1 && c->in[1] ? c->in[1]->c : NULL;
    if (!p) return AXNN_ERR_UNSUPPORTED;
    if (p->numel != 2 * x->nd) return err_node(c, "pads of the wrong length");
    o->nd = x->nd;
    for (int k = 0; k < x->nd; k++) o->d[k] = x->dims[k] + ival(p, k) + ival(p, x->nd + k);
    return AXNN_OK;
}

static axnn_status infer_split(nctx *c, oshape *o)
{
    const val *x = c->in[0];
    int64_t axis = norm_axis(attr_i(c->n, "axis", 0), x->nd);
    if (axis < 0 || axis >= x->nd) return err_node(c, "bad axis");
    int n = c->n->noutputs;
    if (input_not_const(c, 1)) return AXNN_ERR_UNSUPPORTED;
    const axnn_onnx_tensor *sp = c->nin > 1 && c->in[1] ? c->in[1]->c : NULL;
    const axnn_onnx_attr *sa = axnn_onnx_find_attr(c->n, "split");
    int64_t sum = 0;
    for (int k = 0; k < n; k++) {
        o[k].nd = x->nd;
        memcpy(o[k].d, x->dims, sizeof o[k].d);
        if (sp && sp->numel == n)
            o[k].d[axis] = ival(sp, k);
        else if (sa && sa->n == n)
            o[k].d[axis] = sa->ints[k];
        else if (sp || sa)
            return err_node(c, "split sizes do not match the outputs");
        else
            o[k].d[axis] = (x->dims[axis] + n - 1) / n;
        if (!sp && !sa && k == n - 1) o[k].d[axis] = x->dims[axis] - sum;
        sum += o[k].d[axis];
    }
    if (sum != x->dims[axis]) return err_node(c, "split sizes do not add up to the axis");
    return AXNN_OK;
}

static axnn_status infer_concat(nctx *c, oshape *o)
{
    const val *x = c->in[0];
    int64_t axis = norm_axis(attr_i(c->n, "axis", 0), x->nd);
    if (axis < 0 || axis >= x->nd) return err_node(c, "bad axis");
    o->nd = x->nd;
    memcpy(o->d, x->dims, sizeof o->d);
    o->d[axis] = 0;
    for (int k = 0; k < c->nin; k++) {
        if (!in_known(c, k)) return AXNN_ERR_UNSUPPORTED;
        if (c->in[k]->nd != x->nd) return err_node(c, "inputs of different ranks");
        for (int d = 0; d < x->nd; d++)
            if (d != axis && c->in[k]->dims[d] != x->dims[d])
                return err_node(c, "input shapes differ off the axis");
        o->d[axis] += c->in[k]->dims[axis];
    }
    return AXNN_OK;
}

static axnn_status infer_gemm(nctx *c, oshape *o)
{
    const val *a = c->in[0], *b = c->in[1];
    if (a->nd != 2 || b->nd != 2) return err_node(c, "operands are not matrices");
    bool ta = attr_i(c->n, "transA", 0), tb = attr_i(c->n, "transB", 0);
    if (a->dims[ta ? 0 : 1] != b->dims[tb ? 1 : 0]) return err_node(c, "inner dimensions differ");
    o->nd = 2;
    o->d[0] = a->dims[ta ? 1 : 0];
    o->d[1] = b->dims[tb ? 0 : 1];
    return AXNN_OK;
}

static bool is_op(const nctx *c, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(c->n->op_type, *set)) return true;
    return false;
}

/* Infers c's output shapes into o (one per output). AXNN_ERR_UNSUPPORTED: unknown. */
static axnn_status infer(nctx *c, oshape *o)
{
    static const char *const same[] = {"Relu",        "LeakyRelu", "Clip",    "Sigmoid",
                                       "HardSigmoid", "HardSwish", "Tanh",    "Erf",
                                       "Sqrt",        "Neg",       "Exp",     "BatchNormalization",
                                       "Dropout",     "Identity",  "Softmax", "LayerNormalization",
                                       "Cast",        NULL};
    static const char *const bin[] = {"Add", "Sub", "Mul", "Div", "Pow", NULL};
    static const char *const win[] = {"Conv", "MaxPool", "AveragePool", NULL};
    const char *op = c->n->op_type;
    if (!in_known(c, 0)) return AXNN_ERR_UNSUPPORTED;
    const val *x = c->in[0];
    o->nd = x->nd;
    memcpy(o->d, x->dims, sizeof o->d);
    if (is_op(c, same)) return AXNN_OK;
    if (is_op(c, bin)) {
        if (!in_known(c, 1)) return AXNN_ERR_UNSUPPORTED;
        if (!broadcast_shape(x->nd, x->dims, c->in[1]->nd, c->in[1]->dims, &o->nd, o->d))
            return err_node(c, "shapes do not broadcast");
        return AXNN_OK;
    }
    if (is_op(c, win)) return infer_window(c, o);
    if (!strcmp(op, "GlobalAveragePool") || !strcmp(op, "GlobalMaxPool")) {
        for (int k = 2; k < x->nd; k++) o->d[k] = 1;
        return AXNN_OK;
    }
    if (!strcmp(op, "Flatten")) {
        int64_t axis = norm_axis(attr_i(c->n, "axis", 1), x->nd), a = 1, b = 1;
        if (axis < 0 || axis > x->nd) return err_node(c, "bad axis");
        for (int k = 0; k < x->nd; k++) *(k < axis ? &a : &b) *= x->dims[k];
        o->nd = 2, o->d[0] = a, o->d[1] = b;
        return AXNN_OK;
    }
    if (!strcmp(op, "Transpose")) {
        const axnn_onnx_attr *p = axnn_onnx_find_attr(c->n, "perm");
        if (p && p->n != x->nd) return err_node(c, "perm of the wrong length");
        for (int k = 0; k < x->nd; k++) {
            int64_t j = p ? p->ints[k] : x->nd - 1 - k;
            if (j < 0 || j >= x->nd) return err_node(c, "bad perm");
            o->d[k] = x->dims[j];
        }
        return AXNN_OK;
    }
    if (!strcmp(op, "Reshape")) return infer_reshape(c, o);
    if (!strcmp(op, "MatMul")) return in_known(c, 1) ? infer_matmul(c, o) : AXNN_ERR_UNSUPPORTED;
    if (!strcmp(op, "Gemm")) return in_known(c, 1) ? infer_gemm(c, o) : AXNN_ERR_UNSUPPORTED;
    if (!strcmp(op, "Squeeze")) return infer_squeeze(c, false, o);
    if (!strcmp(op, "Unsqueeze")) return infer_squeeze(c, true, o);
    if (!strcmp(op, "ReduceMean")) return infer_reduce(c, o);
    if (!strcmp(op, "Pad")) return infer_pad(c, o);
    if (!strcmp(op, "Split")) return infer_split(c, o);
    if (!strcmp(op, "Concat")) return infer_concat(c, o);
    if (!strcmp(op, "Slice")) {
        slice_plan p;
        axnn_status s = plan_slice(c, x->nd, x->dims, &p);
        if (!s) memcpy(o->d, p.len, sizeof p.len);
        return s;
    }
    return AXNN_ERR_UNSUPPORTED;
}

/* ---- the walk ---- */

static bool all_const(const nctx *c)
{
    for (int k = 0; k < c->nin; k++)
        if (input_not_const(c, k)) return false;
    return c->nin > 0 && c->in[0];
}

/* Evaluates a foldable node with constant inputs (AXNN_ERR_UNSUPPORTED: not foldable). */
static axnn_status evaluate(nctx *c, axnn_onnx_tensor **out)
{
    const char *op = c->n->op_type;
    static const char *const bin[] = {"Add", "Sub", "Mul", "Div", "Pow", NULL};
    if (!strcmp(op, "Constant")) return eval_constant(c, out);
    if (!strcmp(op, "Shape")) return in_known(c, 0) ? eval_shape(c, out) : AXNN_ERR_UNSUPPORTED;
    if (!all_const(c) || c->n->noutputs != 1) return AXNN_ERR_UNSUPPORTED;
    int need = !strcmp(op, "Concat")                    ? c->nin
               : !strcmp(op, "Range")                   ? 3
               : is_op(c, bin) || !strcmp(op, "Gather") ? 2
                                                        : 1;
    if (c->nin < need) return err_node(c, "too few inputs");
    for (int k = 0; k < need; k++)
        if (!c->in[k]) return err_node(c, "a required input is empty");
    if (!strcmp(op, "Gather")) return eval_gather(c, out);
    if (!strcmp(op, "Concat")) return eval_concat(c, out);
    if (!strcmp(op, "Cast")) return eval_cast(c, out);
    if (!strcmp(op, "Slice")) return eval_slice(c, out);
    if (is_op(c, bin)) return eval_binary(c, out);
    if (!strcmp(op, "Sqrt") || !strcmp(op, "Neg")) return eval_unary(c, out);
    if (!strcmp(op, "ConstantOfShape")) return eval_constant_of_shape(c, out);
    if (!strcmp(op, "Range")) return eval_range(c, out);
    if (!strcmp(op, "Identity")) return eval_reshaped(c, c->in[0]->nd, c->in[0]->dims, out);
    static const char *const reshapes[] = {"Squeeze", "Unsqueeze", "Reshape", "Flatten", NULL};
    if (is_op(c, reshapes)) {
        oshape o;
        axnn_status s = infer(c, &o);
        return s ? s : eval_reshaped(c, o.nd, o.d, out);
    }
    return AXNN_ERR_UNSUPPORTED;
}

static bool is_graph_output(const axnn_onnx_model *m, const axnn_onnx_node *n)
{
    for (int k = 0; k < m->noutputs; k++)
        for (int j = 0; j < n->noutputs; j++)
            if (!strcmp(m->outputs[k].name, n->outputs[j])) return true;
    return false;
}

/* Runs node k; *folded tells whether it became a constant. */
static axnn_status visit(fctx *f, int k, bool *folded)
{
    const axnn_onnx_node *n = &f->m->nodes[k];
    nctx c = {.f = f, .n = n, .nin = n->ninputs < 16 ? n->ninputs : 16};
    for (int j = 0; j < c.nin; j++) c.in[j] = lookup(f, n->inputs[j]);
    *folded = false;
    axnn_onnx_tensor *t = NULL;
    axnn_status s = is_graph_output(f->m, n) ? AXNN_ERR_UNSUPPORTED : evaluate(&c, &t);
    if (s == AXNN_OK) {
        int v = add_val(f, n->outputs[0]);
        f->owned[v] = t;
        f->vals[v].c = t;
        f->vals[v].type = t->elem_type;
        set_shape(&f->vals[v], t->nd, t->dims);
        *folded = true;
        return AXNN_OK;
    }
    if (s != AXNN_ERR_UNSUPPORTED) return s;
    oshape o[64];
    if (n->noutputs > 64) return AXNN_OK;
    s = infer(&c, o);
    if (s == AXNN_ERR_UNSUPPORTED) return AXNN_OK; /* shape unknown: not an error here */
    if (s) return s;
    int nout = !strcmp(n->op_type, "Split") ? n->noutputs : 1;
    for (int j = 0; j < nout; j++) {
        int64_t numel;
        char what[300];
        snprintf(what, sizeof what, "node '%s' (%s) output '%s'", n->name, n->op_type,
                 n->outputs[j]);
        if (axnn_onnx_check_dims(o[j].d, (size_t)o[j].nd, f->m->path, what, &numel))
            return AXNN_ERR_SHAPE;
        if (n->outputs[j][0]) set_shape(&f->vals[add_val(f, n->outputs[j])], o[j].nd, o[j].d);
    }
    return AXNN_OK;
}

static axnn_status fix_graph_inputs(axnn_onnx_model *m, int64_t batch)
{
    if (batch < 1 || batch > AXNN_ONNX_MAX_DIM)
        return axnn_error(AXNN_ERR_ARG, "%s: batch %lld", m->path, (long long)batch);
    for (int k = 0; k < m->ninputs; k++) {
        axnn_onnx_value_info *v = &m->inputs[k];
        if (v->nd < 0)
            return axnn_error(AXNN_ERR_SHAPE, "%s: graph input '%s' has no shape", m->path,
                              v->name);
        for (int d = 0; d < v->nd; d++) {
            if (v->dims[d] >= 0) continue;
            if (d != 0)
                return axnn_error(AXNN_ERR_UNSUPPORTED,
                                  "%s: graph input '%s': dimension %d is dynamic (only the batch, "
                                  "dimension 0, may be)",
                                  m->path, v->name, d);
            v->dims[d] = batch;
        }
    }
    return AXNN_OK;
}

static axnn_status walk(fctx *f, bool *folded)
{
    axnn_onnx_model *m = f->m;
    for (int k = 0; k < m->ninits; k++) {
        val *v = &f->vals[add_val(f, m->inits[k].name)];
        set_shape(v, m->inits[k].nd, m->inits[k].dims);
        v->c = &m->inits[k];
        v->type = m->inits[k].elem_type;
    }
    for (int k = 0; k < m->ninputs; k++) {
        val *v = &f->vals[add_val(f, m->inputs[k].name)];
        set_shape(v, m->inputs[k].nd, m->inputs[k].dims);
        v->type = m->inputs[k].elem_type;
    }
    for (int k = 0; k < m->nnodes; k++) {
        axnn_status s = visit(f, k, &folded[k]);
        if (s) return s;
    }
    return AXNN_OK;
}

/* Moves the folded constants that kept nodes read into m->inits. */
static axnn_status keep_constants(fctx *f, const bool *folded)
{
    axnn_onnx_model *m = f->m;
    int extra = 0;
    for (int v = 0; v < f->nvals; v++) extra += f->owned[v] != NULL;
    axnn_onnx_tensor *inits = realloc(m->inits, (size_t)(m->ninits + extra + 1) * sizeof *inits);
    if (!inits) return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", m->path);
    m->inits = inits;
    for (int k = 0; k < m->nnodes; k++) {
        if (folded[k]) continue;
        for (int j = 0; j < m->nodes[k].ninputs; j++) {
            const char *in = m->nodes[k].inputs[j];
            int v = in[0] ? axnn_onnx_smap_get(&f->map, in) : -1;
            if (v < 0 || !f->owned[v]) continue;
            axnn_onnx_tensor *t = f->owned[v];
            if (!(t->name = axnn_onnx_strdup(in)))
                return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", m->path);
            m->inits[m->ninits++] = *t;
            free(t);
            f->owned[v] = NULL;
        }
    }
    return AXNN_OK;
}

/* Removes folded nodes, and records every known shape in m->shapes. */
static axnn_status compact(fctx *f, const bool *folded)
{
    axnn_onnx_model *m = f->m;
    for (int k = 0; k < m->nshapes; k++) free(m->shapes[k].name);
    free(m->shapes);
    m->nshapes = 0;
    if (!(m->shapes = calloc((size_t)f->nvals + 1, sizeof *m->shapes)))
        return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", m->path);
    for (int v = 0; v < f->nvals; v++) {
        if (!f->vals[v].known) continue;
        axnn_onnx_value_info *s = &m->shapes[m->nshapes];
        if (!(s->name = axnn_onnx_strdup(f->names[v])))
            return axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", m->path);
        s->elem_type = f->vals[v].type;
        s->nd = f->vals[v].nd;
        memcpy(s->dims, f->vals[v].dims, sizeof s->dims);
        m->nshapes++;
    }
    /* then drop the folded nodes (f->names borrows their strings) */
    int q = 0;
    for (int k = 0; k < m->nnodes; k++) {
        if (folded[k])
            axnn_onnx_node_clear(&m->nodes[k]);
        else
            m->nodes[q++] = m->nodes[k];
    }
    m->nnodes = q;
    return AXNN_OK;
}

axnn_status axnn_onnx_fix_inputs(axnn_onnx_model *m, int64_t batch)
{
    axnn_status s = fix_graph_inputs(m, batch);
    if (s) return s;
    fctx f = {.m = m};
    int cap = m->ninits + m->ninputs + 1;
    for (int k = 0; k < m->nnodes; k++) cap += m->nodes[k].noutputs;
    f.cap = cap;
    f.names = calloc((size_t)cap, sizeof *f.names);
    f.vals = calloc((size_t)cap, sizeof *f.vals);
    f.owned = calloc((size_t)cap, sizeof *f.owned);
    bool *folded = calloc((size_t)m->nnodes + 1, sizeof(bool));
    if (!axnn_onnx_smap_init(&f.map, (size_t)cap) || !f.names || !f.vals || !f.owned || !folded)
        s = axnn_error(AXNN_ERR_NOMEM, "%s: out of memory", m->path);
    if (!s) s = walk(&f, folded);
    /* keep_constants reallocs m->inits: no val's constant pointer is read after it */
    if (!s) s = keep_constants(&f, folded);
    if (!s) s = compact(&f, folded);
    for (int v = 0; v < f.nvals; v++) free_tensor(f.owned[v]);
    axnn_onnx_smap_free(&f.map);
    free(f.names), free(f.vals), free(f.owned), free(folded);
    return s;
}
