/* End to end before the op layer exists: the tiny PyTorch exports of tests/gen/gen_onnx.py are
 * read (axnn_onnx_load), their shapes fixed and shape subgraphs folded (axnn_onnx_fix_inputs),
 * and run by a small interpreter in this file on the new kernels (the fast depthwise 3x3 and
 * grouped 1x1 paths where they apply, the references elsewhere), with every value's size
 * taken from the inferred shapes. The logits must match PyTorch's within 1e-4 relative
 * (floor 1e-3). This checks the reader (initializer names and layouts, attributes, folding,
 * shape inference) and the kernels' semantics on real exports; the interpreter is a test
 * fixture, not the runtime (src/graph builds the real one). */
#include "testutil.h"

#include "axnn/onnx.h"
#include "kernels/act/act.h"
#include "kernels/f32-gemm/gemm.h"
#include "kernels/gconv/gconv.h"
#include "kernels/pool/pool.h"
#include "kernels/tensor/tensor.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct value {
    const char *name;
    const axnn_onnx_tensor *t; /* an initializer, or owned below */
    axnn_onnx_tensor own;
} value;

typedef struct interp {
    const axnn_onnx_model *m;
    value *v;
    int nv;
    float *ws;
} interp;

static const axnn_onnx_tensor *get(interp *it, const char *name)
{
    for (int k = it->nv - 1; k >= 0; k--)
        if (!strcmp(it->v[k].name, name)) return it->v[k].t;
    const axnn_onnx_tensor *t = axnn_onnx_find_init(it->m, name);
    if (!t) fail_msg("value %s is not available", name);
    return t;
}

/* A new float output named `name`, sized by the inferred shape. */
static axnn_onnx_tensor *out_tensor(interp *it, const char *name)
{
    const axnn_onnx_value_info *s = axnn_onnx_find_shape(it->m, name);
    if (!s) fail_msg("no inferred shape for %s", name);
    value *v = &it->v[it->nv++];
    v->name = name;
    memset(&v->own, 0, sizeof v->own);
    v->own.nd = s->nd;
    v->own.numel = 1;
    for (int k = 0; k < s->nd; k++) v->own.numel *= (v->own.dims[k] = s->dims[k]);
    v->own.elem_type = AXNN_ONNX_FLOAT;
    v->own.f = calloc((size_t)v->own.numel + 1, sizeof(float));
    v->t = &v->own;
    return &v->own;
}

static int64_t ia(const axnn_onnx_node *n, const char *name, int64_t def)
{
    const axnn_onnx_attr *a = axnn_onnx_find_attr(n, name);
    return a ? a->i : def;
}

static float fa(const axnn_onnx_node *n, const char *name, float def)
{
    const axnn_onnx_attr *a = axnn_onnx_find_attr(n, name);
    return a ? a->f : def;
}

static int64_t ints(const axnn_onnx_node *n, const char *name, int k, int64_t def)
{
    const axnn_onnx_attr *a = axnn_onnx_find_attr(n, name);
    return a && k < a->n ? a->ints[k] : def;
}

static void op_conv(interp *it, const axnn_onnx_node *n)
{
    const axnn_onnx_tensor *x = get(it, n->inputs[0]), *w = get(it, n->inputs[1]);
    const axnn_onnx_tensor *b = n->ninputs > 2 ? get(it, n->inputs[2]) : NULL;
    axnn_onnx_tensor *y = out_tensor(it, n->outputs[0]);
    axnn_gconv_shape s = {.n = x->dims[0],
                          .c = x->dims[1],
                          .h = x->dims[2],
                          .w = x->dims[3],
                          .m = w->dims[0],
                          .groups = ia(n, "group", 1),
                          .kh = w->dims[2],
                          .kw = w->dims[3],
                          .sh = ints(n, "strides", 0, 1),
                          .sw = ints(n, "strides", 1, 1),
                          .dh = ints(n, "dilations", 0, 1),
                          .dw = ints(n, "dilations", 1, 1),
                          .pt = ints(n, "pads", 0, 0),
                          .pl = ints(n, "pads", 1, 0),
                          .pb = ints(n, "pads", 2, 0),
                          .pr = ints(n, "pads", 3, 0)};
    assert_true(axnn_gconv_shape_init(&s));
    assert_int_equal(s.oh, y->dims[2]);
    assert_int_equal(s.ow, y->dims[3]);
    bool dw3 = s.groups == s.c && s.m == s.c && s.kh == 3 && s.kw == 3 && s.sh == s.sw &&
               s.sh <= 2 && s.dh == 1 && s.dw == 1 && s.pt == 1 && s.pl == 1 && s.pb == 1 &&
               s.pr == 1;
    bool pw = s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && !s.pt && !s.pl && !s.pb && !s.pr;
    if (dw3) {
        const axnn_dw3x3 *k = axnn_dw3x3_get();
        for (int64_t p = 0; p < s.n * s.c; p++)
            k->plane(x->f + p * s.h * s.w, s.h, s.w, w->f + (p % s.c) * 9, b ? b->f[p % s.c] : 0.0f,
                     -INFINITY, INFINITY, y->f + p * s.oh * s.ow, (int)s.sh);
    } else if (pw)
        axnn_gconv1x1(0, s.n, s.c, s.h * s.w, s.m, s.groups, x->f, w->f, b ? b->f : NULL, y->f,
                      it->ws);
    else
        axnn_gconv_fwd_ref(&s, x->f, w->f, b ? b->f : NULL, y->f);
}

static void op_bn(interp *it, const axnn_onnx_node *n)
{
    const axnn_onnx_tensor *x = get(it, n->inputs[0]), *sc = get(it, n->inputs[1]),
                           *bi = get(it, n->inputs[2]);
    const axnn_onnx_tensor *mean = get(it, n->inputs[3]), *var = get(it, n->inputs[4]);
    axnn_onnx_tensor *y = out_tensor(it, n->outputs[0]);
    float eps = fa(n, "epsilon", 1e-5f);
    int64_t c = x->dims[1], inner = x->numel / (x->dims[0] * c);
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t ch = (i / inner) % c;
        y->f[i] = (x->f[i] - mean->f[ch]) / sqrtf(var->f[ch] + eps) * sc->f[ch] + bi->f[ch];
    }
}

static void op_act(interp *it, const axnn_onnx_node *n, axnn_act p)
{
    const axnn_onnx_tensor *x = get(it, n->inputs[0]);
    axnn_onnx_tensor *y = out_tensor(it, n->outputs[0]);
    axnn_act_get()->fwd(&p, x->f, y->f, x->numel);
}

static void op_clip(interp *it, const axnn_onnx_node *n)
{
    axnn_act p = {.kind = AXNN_ACT_CLIP, .lo = -INFINITY, .hi = INFINITY};
    if (n->ninputs > 1 && n->inputs[1][0]) p.lo = get(it, n->inputs[1])->f[0];
    if (n->ninputs > 2 && n->inputs[2][0]) p.hi = get(it, n->inputs[2])->f[0];
    op_act(it, n, p);
}

static void op_binary(interp *it, const axnn_onnx_node *n, axnn_binop op)
{
    const axnn_onnx_tensor *a = get(it, n->inputs[0]), *b = get(it, n->inputs[1]);
    axnn_onnx_tensor *y = out_tensor(it, n->outputs[0]);
    assert_non_null(a->f);
    assert_non_null(b->f);
    axnn_binary(op, a->f, a->nd, a->dims, b->f, b->nd, b->dims, y->f);
}

static void op_unary(interp *it, const axnn_onnx_node *n, float (*f)(float))
{
    const axnn_onnx_tensor *x = get(it, n->inputs[0]);
    axnn_onnx_tensor *y = out_tensor(it, n->outputs[0]);
    for (int64_t i = 0; i < x->numel; i++) y->f[i] = f(x->f[i]);
}

static void op_pow(interp *it, const axnn_onnx_node *n)
{
    const axnn_onnx_tensor *x = get(it, n->inputs[0]), *e = get(it, n->inputs[1]);
    axnn_onnx_tensor *y = out_tensor(it, n->outputs[0]);
    assert_int_equal(e->numel, 1);
    for (int64_t i = 0; i < x->numel; i++) y->f[i] = powf(x->f[i], e->f[0]);
}

static void op_pool(interp *it, const axnn_onnx_node *n, bool max)
{
    const axnn_onnx_tensor *x = get(it, n->inputs[0]);
    axnn_onnx_tensor *y = out_tensor(it, n->outputs[0]);
    axnn_pool_shape p = {.h = x->dims[2],
                         .w = x->dims[3],
                         .kh = ints(n, "kernel_shape", 0, 1),
                         .kw = ints(n, "kernel_shape", 1, 1),
                         .sh = ints(n, "strides", 0, 1),
                         .sw = ints(n, "strides", 1, 1),
                         .dh = ints(n, "dilations", 0, 1),
                         .dw = ints(n, "dilations", 1, 1),
                         .pt = ints(n, "pads", 0, 0),
                         .pl = ints(n, "pads", 1, 0),
                         .pb = ints(n, "pads", 2, 0),
                         .pr = ints(n, "pads", 3, 0),
                         .ceil_mode = ia(n, "ceil_mode", 0),
                         .count_include_pad = ia(n, "count_include_pad", 0)};
    assert_true(axnn_pool_shape_init(&p));
    assert_int_equal(p.oh, y->dims[2]);
    for (int64_t q = 0; q < x->dims[0] * x->dims[1]; q++) {
        if (max)
            axnn_maxpool_ref(&p, x->f + q * p.h * p.w, y->f + q * p.oh * p.ow, NULL);
        else
            axnn_avgpool_ref(&p, x->f + q * p.h * p.w, y->f + q * p.oh * p.ow);
    }
}

/* Mean over the axes in `red` (a mask over x's dims), written in y's order. */
static void reduce_mean(const axnn_onnx_tensor *x, unsigned red, axnn_onnx_tensor *y)
{
    int64_t idx[8] = {0}, cnt = 1;
    for (int k = 0; k < x->nd; k++)
        if (red >> k & 1) cnt *= x->dims[k];
    double *acc = calloc((size_t)y->numel + 1, sizeof(double));
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t o = 0;
        for (int k = 0; k < x->nd; k++)
            if (!(red >> k & 1)) o = o * x->dims[k] + idx[k];
        acc[o] += x->f[i];
        for (int k = x->nd - 1; k >= 0 && ++idx[k] == x->dims[k]; k--) idx[k] = 0;
    }
    for (int64_t o = 0; o < y->numel; o++) y->f[o] = (float)(acc[o] / (double)cnt);
    free(acc);
}

static void op_reduce_mean(interp *it, const axnn_onnx_node *n)
{
    const axnn_onnx_tensor *x = get(it, n->inputs[0]);
    axnn_onnx_tensor *y = out_tensor(it, n->outputs[0]);
    const axnn_onnx_attr *a = axnn_onnx_find_attr(n, "axes");
    unsigned red = 0;
    for (int k = 0; a && k < a->n; k++)
        red |= 1u << (a->ints[k] < 0 ? a->ints[k] + x->nd : a->ints[k]);
    if (!a) red = (1u << x->nd) - 1;
    reduce_mean(x, red, y);
}

static void op_gap(interp *it, const axnn_onnx_node *n)
{
    const axnn_onnx_tensor *x = get(it, n->inputs[0]);
    reduce_mean(x, ~3u & ((1u << x->nd) - 1), out_tensor(it, n->outputs[0]));
}

static void op_copy(interp *it, const axnn_onnx_node *n)
{
    const axnn_onnx_tensor *x = get(it, n->inputs[0]);
    axnn_onnx_tensor *y = out_tensor(it, n->outputs[0]);
    assert_int_equal(x->numel, y->numel);
    memcpy(y->f, x->f, (size_t)x->numel * sizeof(float));
}

static void op_transpose(interp *it, const axnn_onnx_node *n)
{
    const axnn_onnx_tensor *x = get(it, n->inputs[0]);
    axnn_onnx_tensor *y = out_tensor(it, n->outputs[0]);
    int perm[8];
    for (int k = 0; k < x->nd; k++) perm[k] = (int)ints(n, "perm", k, x->nd - 1 - k);
    axnn_transpose(x->f, x->nd, x->dims, perm, y->f);
}

static int64_t axis_blocks(const axnn_onnx_tensor *t, int axis, int64_t *inner)
{
    int64_t outer = 1;
    *inner = 1;
    for (int k = 0; k < axis; k++) outer *= t->dims[k];
    for (int k = axis + 1; k < t->nd; k++) *inner *= t->dims[k];
    return outer;
}

static void op_concat(interp *it, const axnn_onnx_node *n)
{
    const float *parts[16];
    int64_t len[16], inner, outer = 0;
    int axis = (int)ia(n, "axis", 0);
    for (int k = 0; k < n->ninputs; k++) {
        const axnn_onnx_tensor *t = get(it, n->inputs[k]);
        int a = axis < 0 ? axis + t->nd : axis;
        outer = axis_blocks(t, a, &inner);
        parts[k] = t->f, len[k] = t->dims[a] * inner;
    }
    axnn_tensor_concat(n->ninputs, parts, len, outer, out_tensor(it, n->outputs[0])->f);
}

static void op_split(interp *it, const axnn_onnx_node *n)
{
    const axnn_onnx_tensor *x = get(it, n->inputs[0]);
    int axis = (int)ia(n, "axis", 0);
    if (axis < 0) axis += x->nd;
    float *outs[16];
    int64_t len[16], inner, outer = axis_blocks(x, axis, &inner);
    for (int k = 0; k < n->noutputs; k++) {
        axnn_onnx_tensor *y = out_tensor(it, n->outputs[k]);
        outs[k] = y->f, len[k] = y->dims[axis] * inner;
    }
    axnn_tensor_split(x->f, n->noutputs, outs, len, outer);
}

static void op_slice(interp *it, const axnn_onnx_node *n)
{
    const axnn_onnx_tensor *x = get(it, n->inputs[0]), *st = get(it, n->inputs[1]);
    const axnn_onnx_tensor *ax = n->ninputs > 3 ? get(it, n->inputs[3]) : NULL;
    const axnn_onnx_tensor *sp = n->ninputs > 4 ? get(it, n->inputs[4]) : NULL;
    axnn_onnx_tensor *y = out_tensor(it, n->outputs[0]);
    int64_t start[8] = {0}, step[8], idx[8] = {0}, xs[8], s = 1;
    for (int k = 0; k < x->nd; k++) step[k] = 1;
    for (int64_t j = 0; j < st->numel; j++) {
        int64_t a = ax ? ax->i[j] : j, b = st->i[j];
        if (a < 0) a += x->nd;
        if (b < 0) b += x->dims[a];
        if (b > x->dims[a]) b = x->dims[a];
        start[a] = b;
        step[a] = sp ? sp->i[j] : 1;
        assert_true(step[a] > 0);
    }
    for (int k = x->nd - 1; k >= 0; k--) xs[k] = s, s *= x->dims[k];
    for (int64_t o = 0; o < y->numel; o++) {
        int64_t off = 0;
        for (int k = 0; k < x->nd; k++) off += (start[k] + idx[k] * step[k]) * xs[k];
        y->f[o] = x->f[off];
        for (int k = y->nd - 1; k >= 0 && ++idx[k] == y->dims[k]; k--) idx[k] = 0;
    }
}

static void op_gemm(interp *it, const axnn_onnx_node *n)
{
    const axnn_onnx_tensor *a = get(it, n->inputs[0]), *b = get(it, n->inputs[1]);
    const axnn_onnx_tensor *c = n->ninputs > 2 ? get(it, n->inputs[2]) : NULL;
    axnn_onnx_tensor *y = out_tensor(it, n->outputs[0]);
    bool ta = ia(n, "transA", 0), tb = ia(n, "transB", 0);
    int64_t M = y->dims[0], N = y->dims[1], K = ta ? a->dims[0] : a->dims[1];
    float alpha = fa(n, "alpha", 1.0f), beta = fa(n, "beta", 1.0f);
    for (int64_t i = 0; c && i < M * N; i++)
        y->f[i] = c->numel == N ? c->f[i % N] : c->numel == 1 ? c->f[0] : c->f[i];
    axnn_sgemm(ta, tb, M, N, K, alpha, a->f, a->dims[1], b->f, b->dims[1], c ? beta : 0.0f, y->f, N,
               it->ws);
}

static void op_matmul(interp *it, const axnn_onnx_node *n)
{
    const axnn_onnx_tensor *a = get(it, n->inputs[0]), *b = get(it, n->inputs[1]);
    assert_true(a->nd >= 2 && b->nd >= 2);
    axnn_matmul(a->f, a->nd, a->dims, b->f, b->nd, b->dims, out_tensor(it, n->outputs[0])->f,
                it->ws);
}

static void op_softmax(interp *it, const axnn_onnx_node *n)
{
    const axnn_onnx_tensor *x = get(it, n->inputs[0]);
    axnn_onnx_tensor *y = out_tensor(it, n->outputs[0]);
    int axis = (int)ia(n, "axis", -1);
    if (axis < 0) axis += x->nd;
    int64_t inner, outer = axis_blocks(x, axis, &inner), len = x->dims[axis];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            const float *p = x->f + o * len * inner + j;
            float *q = y->f + o * len * inner + j, mx = -INFINITY;
            double sum = 0;
            for (int64_t k = 0; k < len; k++) mx = fmaxf(mx, p[k * inner]);
            for (int64_t k = 0; k < len; k++) sum += (q[k * inner] = expf(p[k * inner] - mx));
            for (int64_t k = 0; k < len; k++) q[k * inner] = (float)(q[k * inner] / sum);
        }
}

static void op_layernorm(interp *it, const axnn_onnx_node *n)
{
    const axnn_onnx_tensor *x = get(it, n->inputs[0]), *g = get(it, n->inputs[1]);
    const axnn_onnx_tensor *b = n->ninputs > 2 ? get(it, n->inputs[2]) : NULL;
    axnn_onnx_tensor *y = out_tensor(it, n->outputs[0]);
    int axis = (int)ia(n, "axis", -1);
    if (axis < 0) axis += x->nd;
    int64_t len = 1;
    for (int k = axis; k < x->nd; k++) len *= x->dims[k];
    float eps = fa(n, "epsilon", 1e-5f);
    for (int64_t r = 0; r < x->numel / len; r++) {
        const float *p = x->f + r * len;
        double mu = 0, var = 0;
        for (int64_t k = 0; k < len; k++) mu += p[k];
        mu /= (double)len;
        for (int64_t k = 0; k < len; k++) var += (p[k] - mu) * (p[k] - mu);
        var /= (double)len;
        double inv = 1.0 / sqrt(var + eps);
        for (int64_t k = 0; k < len; k++)
            y->f[r * len + k] = (float)((p[k] - mu) * inv) * g->f[k] + (b ? b->f[k] : 0.0f);
    }
}

static float relu_f(float v)
{
    return v > 0 ? v : 0;
}

static void step(interp *it, const axnn_onnx_node *n)
{
    const char *op = n->op_type;
    if (!strcmp(op, "Conv"))
        op_conv(it, n);
    else if (!strcmp(op, "BatchNormalization"))
        op_bn(it, n);
    else if (!strcmp(op, "Relu"))
        op_unary(it, n, relu_f);
    else if (!strcmp(op, "Erf"))
        op_unary(it, n, erff);
    else if (!strcmp(op, "Sqrt"))
        op_unary(it, n, sqrtf);
    else if (!strcmp(op, "Clip"))
        op_clip(it, n);
    else if (!strcmp(op, "HardSwish"))
        op_act(it, n, (axnn_act){.kind = AXNN_ACT_HARDSWISH});
    else if (!strcmp(op, "HardSigmoid"))
        op_act(it, n,
               (axnn_act){.kind = AXNN_ACT_HARDSIGMOID,
                          .alpha = fa(n, "alpha", 0.2f),
                          .beta = fa(n, "beta", 0.5f)});
    else if (!strcmp(op, "Sigmoid"))
        op_act(it, n, (axnn_act){.kind = AXNN_ACT_SIGMOID});
    else if (!strcmp(op, "Tanh"))
        op_act(it, n, (axnn_act){.kind = AXNN_ACT_TANH});
    else if (!strcmp(op, "Add"))
        op_binary(it, n, AXNN_BIN_ADD);
    else if (!strcmp(op, "Sub"))
        op_binary(it, n, AXNN_BIN_SUB);
    else if (!strcmp(op, "Mul"))
        op_binary(it, n, AXNN_BIN_MUL);
    else if (!strcmp(op, "Div"))
        op_binary(it, n, AXNN_BIN_DIV);
    else if (!strcmp(op, "Pow"))
        op_pow(it, n);
    else if (!strcmp(op, "MaxPool"))
        op_pool(it, n, true);
    else if (!strcmp(op, "AveragePool"))
        op_pool(it, n, false);
    else if (!strcmp(op, "GlobalAveragePool"))
        op_gap(it, n);
    else if (!strcmp(op, "ReduceMean"))
        op_reduce_mean(it, n);
    else if (!strcmp(op, "Flatten") || !strcmp(op, "Reshape") || !strcmp(op, "Squeeze") ||
             !strcmp(op, "Unsqueeze") || !strcmp(op, "Identity") || !strcmp(op, "Dropout"))
        op_copy(it, n);
    else if (!strcmp(op, "Transpose"))
        op_transpose(it, n);
    else if (!strcmp(op, "Concat"))
        op_concat(it, n);
    else if (!strcmp(op, "Split"))
        op_split(it, n);
    else if (!strcmp(op, "Slice"))
        op_slice(it, n);
    else if (!strcmp(op, "Gemm"))
        op_gemm(it, n);
    else if (!strcmp(op, "MatMul"))
        op_matmul(it, n);
    else if (!strcmp(op, "Softmax"))
        op_softmax(it, n);
    else if (!strcmp(op, "LayerNormalization"))
        op_layernorm(it, n);
    else
        fail_msg("%s: op %s has no interpreter step", n->name, op);
}

/* Runs dir/net.onnx on dir/io.input.pb and compares with dir/io.output.pb (dir NULL: the
 * committed test data). */
static void run_in(const char *dir, const char *net, const char *io)
{
    char p[4096];
#define PATH(fmt, name)                                                                            \
    (dir ? snprintf(p, sizeof p, "%s/" fmt, dir, name) : snprintf(p, sizeof p, "onnx/" fmt, name), \
     dir ? p : tu_data_path(p))
    axnn_onnx_model *m;
    if (axnn_onnx_load(PATH("%s.onnx", net), 0, &m)) fail_msg("%s", axnn_last_error());
    axnn_onnx_tensor x, want;
    assert_int_equal(axnn_onnx_read_tensor(PATH("%s.input.pb", io), &x), AXNN_OK);
    assert_int_equal(axnn_onnx_read_tensor(PATH("%s.output.pb", io), &want), AXNN_OK);
#undef PATH
    int before = m->nnodes;
    if (axnn_onnx_fix_inputs(m, x.dims[0])) fail_msg("%s", axnn_last_error());
    int nv = 0;
    for (int k = 0; k < m->nnodes; k++) nv += m->nodes[k].noutputs;
    interp it = {.m = m,
                 .v = calloc((size_t)nv + 2, sizeof(value)),
                 .ws = malloc((size_t)axnn_sgemm_ws_floats() * sizeof(float))};
    it.v[it.nv++] = (value){.name = m->inputs[0].name, .t = &x};
    for (int k = 0; k < m->nnodes; k++) step(&it, &m->nodes[k]);
    const axnn_onnx_tensor *y = get(&it, m->outputs[0].name);
    assert_int_equal(y->numel, want.numel);
    /* elementwise |d| / max(|want|, 1e-3), and normwise max |d| / max |want| */
    double e = tu_max_rel_err(y->f, want.f, want.numel, 1e-3), dmax = 0, wmax = 0;
    for (int64_t i = 0; i < want.numel; i++) {
        dmax = fmax(dmax, fabs((double)y->f[i] - want.f[i]));
        wmax = fmax(wmax, fabs((double)want.f[i]));
    }
    double norm = dmax / fmax(wmax, 1e-30);
    print_message("%s: %d nodes, %d after folding, vs PyTorch: max rel error %.2e, max error / max "
                  "logit %.2e (%.3g)\n",
                  net, before, m->nnodes, e, norm, wmax);
    if (norm > 1e-4) fail_msg("%s: logits differ from PyTorch's by %g of the largest", net, norm);
    if (!dir && e > 1e-4) fail_msg("%s: logits differ from PyTorch's by %g relative", net, e);
    for (int k = 1; k < it.nv; k++) axnn_onnx_tensor_clear(&it.v[k].own);
    free(it.v);
    free(it.ws);
    axnn_onnx_tensor_clear(&x);
    axnn_onnx_tensor_clear(&want);
    axnn_onnx_free(m);
}

static void run_net(const char *net, const char *io)
{
    run_in(NULL, net, io);
}

/* Every DIR/<net>.onnx with DIR/<net>.input.pb and .output.pb, for AXNN_ONNX_ZOO=DIR: e.g.
 * torchvision's ImageNet networks exported by gen_onnx.py --zoo DIR (not committed: 5-100
 * MB each), or the tiny nets at other opsets (gen_onnx.py --opset N DIR). */
static void test_zoo(void **state)
{
    const char *dir = getenv("AXNN_ONNX_ZOO");
    if (!dir) {
        print_message("AXNN_ONNX_ZOO not set: no extra networks\n");
        skip();
    }
    DIR *d = opendir(dir);
    if (!d) fail_msg("%s: cannot open", dir);
    struct dirent *e;
    int ran = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".onnx")) continue;
        char net[256], probe[4096];
        snprintf(net, sizeof net, "%.*s", (int)(n - 5), e->d_name);
        snprintf(probe, sizeof probe, "%s/%s.output.pb", dir, net);
        if (access(probe, R_OK)) continue;
        run_in(dir, net, net);
        ran++;
    }
    closedir(d);
    assert_true(ran > 0);
}

static void test_tiny_resnet(void **state)
{
    run_net("tiny_resnet", "tiny_resnet");
}
static void test_tiny_resnet_ext(void **state)
{
    run_net("tiny_resnet_ext", "tiny_resnet");
}
static void test_tiny_mobilenetv2(void **state)
{
    run_net("tiny_mobilenetv2", "tiny_mobilenetv2");
}
static void test_tiny_shufflenet(void **state)
{
    run_net("tiny_shufflenet", "tiny_shufflenet");
}
static void test_tiny_attention(void **state)
{
    run_net("tiny_attention", "tiny_attention");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_resnet),      cmocka_unit_test(test_tiny_resnet_ext),
        cmocka_unit_test(test_tiny_mobilenetv2), cmocka_unit_test(test_tiny_shufflenet),
        cmocka_unit_test(test_tiny_attention),   cmocka_unit_test(test_zoo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
