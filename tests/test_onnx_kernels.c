/* The new kernels against ONNX's expected outputs: every single-node case of ONNX's backend
 * tests (Debian's libonnx-testdata: node/ and pytorch-converted/) whose op has a kernel in
 * src/kernels/{gconv,pool,tensor,act} is read with the ONNX reader and computed with that
 * kernel's reference (and the fast variants), then compared within ONNX's test tolerances
 * (|got - want| <= 1e-7 + 1e-3 |want|). Cases the kernels do not cover (3-d convs and pools,
 * integer types, the indices output of MaxPool) are skipped and counted. Every covered op
 * must pass all its cases and at least one. This is a kernel check that runs before the op
 * layer exists; the op layer's own node-test run replaces it later. Skipped when
 * libonnx-testdata is not installed. */
#include "testutil.h"

#include "axnn/onnx.h"
#include "kernels/act/act.h"
#include "kernels/f32-gemm/gemm.h"
#include "kernels/gconv/gconv.h"
#include "kernels/pool/pool.h"
#include "kernels/tensor/tensor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct run {
    const axnn_onnx_node *n;
    const axnn_onnx_tensor *in[16]; /* the node's inputs: data-set tensors or initializers */
    axnn_onnx_tensor *data, *want;
    int nin, ndata, nout;
    float *out[8]; /* one per expected output, sized like it */
    char why[200]; /* a failure, or "" */
} run;

enum { RAN = 1, SKIP = 0 };

static int64_t iattr(const axnn_onnx_node *n, const char *name, int64_t def)
{
    const axnn_onnx_attr *a = axnn_onnx_find_attr(n, name);
    return a ? a->i : def;
}

static float fattr(const axnn_onnx_node *n, const char *name, float def)
{
    const axnn_onnx_attr *a = axnn_onnx_find_attr(n, name);
    return a ? a->f : def;
}

static const char *sattr(const axnn_onnx_node *n, const char *name)
{
    const axnn_onnx_attr *a = axnn_onnx_find_attr(n, name);
    return a ? a->s : "NOTSET";
}

static int64_t ints_at(const axnn_onnx_node *n, const char *name, int k, int64_t def)
{
    const axnn_onnx_attr *a = axnn_onnx_find_attr(n, name);
    return a && k < a->n ? a->ints[k] : def;
}

static bool all_float(const run *r)
{
    int data_inputs = strcmp(r->n->op_type, "Split") ? r->nin : 1; /* Split's sizes are int64 */
    for (int k = 0; k < data_inputs; k++)
        if (r->in[k] && r->in[k]->numel && !r->in[k]->f) return false;
    for (int k = 0; k < r->nout; k++)
        if (!r->want[k].f) return false;
    return true;
}

/* Pads of one spatial axis (begin, end) from pads or auto_pad. */
static void axis_pads(const axnn_onnx_node *n, int axis, int sp, int64_t in, int64_t k, int64_t s,
                      int64_t d, int64_t *pb, int64_t *pe)
{
    const char *ap = sattr(n, "auto_pad");
    if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
        int64_t out = (in + s - 1) / s, total = (out - 1) * s + (k - 1) * d + 1 - in;
        if (total < 0) total = 0;
        *pb = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
        *pe = total - *pb;
    } else if (!strcmp(ap, "VALID"))
        *pb = *pe = 0;
    else
        *pb = ints_at(n, "pads", axis, 0), *pe = ints_at(n, "pads", sp + axis, 0);
}

static int expect_shape(run *r, int k, int nd, const int64_t *dims)
{
    if (r->want[k].nd != nd || memcmp(r->want[k].dims, dims, (size_t)nd * sizeof(int64_t))) {
        snprintf(r->why, sizeof r->why, "output %d: computed shape differs from ONNX's", k);
        return RAN;
    }
    return -1;
}

static int run_conv(run *r)
{
    const axnn_onnx_tensor *x = r->in[0], *w = r->in[1], *b = r->nin > 2 ? r->in[2] : NULL;
    if (r->nin < 2 || w->nd != x->nd) return SKIP;
    if (x->nd != 4 && x->nd != 3) return SKIP;
    bool one = x->nd == 3; /* 1-d: h = 1 */
    axnn_gconv_shape s = {.n = x->dims[0],
                          .c = x->dims[1],
                          .h = one ? 1 : x->dims[2],
                          .w = x->dims[x->nd - 1],
                          .m = w->dims[0],
                          .groups = iattr(r->n, "group", 1),
                          .kh = one ? 1 : w->dims[2],
                          .kw = w->dims[w->nd - 1]};
    int sp = one ? 1 : 2, ax = one ? -1 : 0;
    s.sh = one ? 1 : ints_at(r->n, "strides", 0, 1), s.sw = ints_at(r->n, "strides", sp - 1, 1);
    s.dh = one ? 1 : ints_at(r->n, "dilations", 0, 1), s.dw = ints_at(r->n, "dilations", sp - 1, 1);
    if (!one) axis_pads(r->n, 0, sp, s.h, s.kh, s.sh, s.dh, &s.pt, &s.pb);
    axis_pads(r->n, ax + 1, sp, s.w, s.kw, s.sw, s.dw, &s.pl, &s.pr);
    if (!axnn_gconv_shape_init(&s)) {
        snprintf(r->why, sizeof r->why, "shape rejected");
        return RAN;
    }
    int64_t d4[4] = {s.n, s.m, s.oh, s.ow}, d3[3] = {s.n, s.m, s.ow};
    int e = expect_shape(r, 0, x->nd, one ? d3 : d4);
    if (e >= 0) return e;
    axnn_gconv_fwd_ref(&s, x->f, w->f, b ? b->f : NULL, r->out[0]);
    return RAN;
}

static int run_pool(run *r, bool max)
{
    const axnn_onnx_tensor *x = r->in[0];
    if ((x->nd != 4 && x->nd != 3) || r->nout != 1 || iattr(r->n, "storage_order", 0)) return SKIP;
    bool one = x->nd == 3;
    int sp = one ? 1 : 2;
    axnn_pool_shape p = {.h = one ? 1 : x->dims[2],
                         .w = x->dims[x->nd - 1],
                         .kh = one ? 1 : ints_at(r->n, "kernel_shape", 0, 1),
                         .kw = ints_at(r->n, "kernel_shape", sp - 1, 1),
                         .sh = one ? 1 : ints_at(r->n, "strides", 0, 1),
                         .sw = ints_at(r->n, "strides", sp - 1, 1),
                         .dh = one ? 1 : ints_at(r->n, "dilations", 0, 1),
                         .dw = ints_at(r->n, "dilations", sp - 1, 1),
                         .ceil_mode = iattr(r->n, "ceil_mode", 0),
                         .count_include_pad = iattr(r->n, "count_include_pad", 0)};
    if (!one) axis_pads(r->n, 0, sp, p.h, p.kh, p.sh, p.dh, &p.pt, &p.pb);
    axis_pads(r->n, sp - 1, sp, p.w, p.kw, p.sw, p.dw, &p.pl, &p.pr);
    if (!axnn_pool_shape_init(&p)) {
        snprintf(r->why, sizeof r->why, "shape rejected");
        return RAN;
    }
    int64_t d4[4] = {x->dims[0], x->dims[1], p.oh, p.ow}, d3[3] = {x->dims[0], x->dims[1], p.ow};
    int e = expect_shape(r, 0, x->nd, one ? d3 : d4);
    if (e >= 0) return e;
    int64_t planes = x->dims[0] * x->dims[1];
    for (int64_t q = 0; q < planes; q++) {
        if (max)
            axnn_maxpool_ref(&p, x->f + q * p.h * p.w, r->out[0] + q * p.oh * p.ow, NULL);
        else
            axnn_avgpool_ref(&p, x->f + q * p.h * p.w, r->out[0] + q * p.oh * p.ow);
    }
    return RAN;
}

static int run_act(run *r, axnn_act_kind kind)
{
    axnn_act p = {.kind = kind, .alpha = 0, .beta = 0, .lo = -INFINITY, .hi = INFINITY};
    if (kind == AXNN_ACT_HARDSIGMOID)
        p.alpha = fattr(r->n, "alpha", 0.2f), p.beta = fattr(r->n, "beta", 0.5f);
    if (kind == AXNN_ACT_LEAKYRELU) p.alpha = fattr(r->n, "alpha", 0.01f);
    if (kind == AXNN_ACT_CLIP) {
        p.lo = fattr(r->n, "min", -INFINITY), p.hi = fattr(r->n, "max", INFINITY); /* opset < 11 */
        if (r->nin > 1 && r->in[1] && r->in[1]->numel) p.lo = r->in[1]->f[0];
        if (r->nin > 2 && r->in[2] && r->in[2]->numel) p.hi = r->in[2]->f[0];
    }
    const axnn_act_kernels *v[4];
    int nv = axnn_act_variants(v, 4);
    float *tmp = malloc((size_t)(r->in[0]->numel + 1) * sizeof(float));
    v[0]->fwd(&p, r->in[0]->f, r->out[0], r->in[0]->numel);
    for (int q = 1; q < nv;
         q++) { /* the SIMD variants stay within their own bound of the reference */
        v[q]->fwd(&p, r->in[0]->f, tmp, r->in[0]->numel);
        for (int64_t i = 0; i < r->in[0]->numel; i++)
            if (fabsf(tmp[i] - r->out[0][i]) > 1e-6f * fabsf(r->out[0][i]) + 1e-37f)
                snprintf(r->why, sizeof r->why, "%s variant differs at %lld", v[q]->name,
                         (long long)i);
    }
    free(tmp);
    return RAN;
}

static int run_binary(run *r, axnn_binop op)
{
    const axnn_onnx_tensor *a = r->in[0], *b = r->in[1];
    int nd;
    int64_t od[8];
    if (!axnn_broadcast_shape(a->nd, a->dims, b->nd, b->dims, &nd, od)) return SKIP;
    int e = expect_shape(r, 0, nd, od);
    if (e >= 0) return e;
    axnn_binary(op, a->f, a->nd, a->dims, b->f, b->nd, b->dims, r->out[0]);
    float *ref = malloc((size_t)(r->want[0].numel + 1) * sizeof(float));
    axnn_binary_ref(op, a->f, a->nd, a->dims, b->f, b->nd, b->dims, ref);
    if (memcmp(ref, r->out[0], (size_t)r->want[0].numel * sizeof(float)))
        snprintf(r->why, sizeof r->why, "fast path differs from the reference");
    free(ref);
    return RAN;
}

static int run_transpose(run *r)
{
    const axnn_onnx_tensor *x = r->in[0];
    int perm[8];
    int64_t od[8];
    if (x->nd > AXNN_TENSOR_MAX_DIMS) return SKIP;
    for (int k = 0; k < x->nd; k++)
        perm[k] = (int)ints_at(r->n, "perm", k, x->nd - 1 - k), od[k] = x->dims[perm[k]];
    int e = expect_shape(r, 0, x->nd, od);
    if (e >= 0) return e;
    axnn_transpose(x->f, x->nd, x->dims, perm, r->out[0]);
    return RAN;
}

/* outer and per-part lengths of a concat/split along axis of shape dims with sizes cs[k] */
static int64_t blocks(int nd, const int64_t *dims, int axis, int64_t *inner)
{
    int64_t outer = 1;
    *inner = 1;
    for (int k = 0; k < axis; k++) outer *= dims[k];
    for (int k = axis + 1; k < nd; k++) *inner *= dims[k];
    return outer;
}

static int run_concat(run *r)
{
    int nd = r->in[0]->nd, axis = (int)iattr(r->n, "axis", 0);
    if (axis < 0) axis += nd;
    int64_t inner, len[16];
    const float *parts[16];
    if (r->nin > 16) return SKIP;
    int64_t outer = blocks(nd, r->in[0]->dims, axis, &inner);
    for (int k = 0; k < r->nin; k++) parts[k] = r->in[k]->f, len[k] = r->in[k]->dims[axis] * inner;
    axnn_tensor_concat(r->nin, parts, len, outer, r->out[0]);
    return RAN;
}

static int run_split(run *r)
{
    const axnn_onnx_tensor *x = r->in[0];
    int axis = (int)iattr(r->n, "axis", 0);
    if (axis < 0) axis += x->nd;
    int64_t inner, len[8], sum = 0;
    int64_t outer = blocks(x->nd, x->dims, axis, &inner);
    for (int k = 0; k < r->nout; k++) {
        int64_t c =
            r->nin > 1 ? r->in[1]->i[k] : ints_at(r->n, "split", k, x->dims[axis] / r->nout);
        if (r->want[k].dims[axis] != c) {
            snprintf(r->why, sizeof r->why, "split %d: size %lld, ONNX %lld", k, (long long)c,
                     (long long)r->want[k].dims[axis]);
            return RAN;
        }
        len[k] = c * inner, sum += c;
    }
    if (sum != x->dims[axis]) return SKIP;
    axnn_tensor_split(x->f, r->nout, r->out, len, outer);
    return RAN;
}

static int run_matmul(run *r)
{
    const axnn_onnx_tensor *a = r->in[0], *b = r->in[1];
    if (a->nd < 2 || b->nd < 2) return SKIP;
    float *ws = malloc((size_t)axnn_sgemm_ws_floats() * sizeof(float));
    axnn_matmul(a->f, a->nd, a->dims, b->f, b->nd, b->dims, r->out[0], ws);
    free(ws);
    return RAN;
}

typedef struct op_entry {
    const char *op;
    int passed, failed, skipped;
} op_entry;

static op_entry OPS[] = {
    {"Conv"},      {"AveragePool"}, {"MaxPool"}, {"HardSigmoid"}, {"HardSwish"}, {"Clip"},
    {"LeakyRelu"}, {"Sigmoid"},     {"Tanh"},    {"Add"},         {"Sub"},       {"Mul"},
    {"Div"},       {"Transpose"},   {"Concat"},  {"Split"},       {"MatMul"},
};
#define NOPS (int)(sizeof OPS / sizeof OPS[0])

static int dispatch(run *r)
{
    const char *op = r->n->op_type;
    if (!all_float(r)) return SKIP;
    if (!strcmp(op, "Conv")) return run_conv(r);
    if (!strcmp(op, "AveragePool")) return run_pool(r, false);
    if (!strcmp(op, "MaxPool")) return run_pool(r, true);
    if (!strcmp(op, "HardSigmoid")) return run_act(r, AXNN_ACT_HARDSIGMOID);
    if (!strcmp(op, "HardSwish")) return run_act(r, AXNN_ACT_HARDSWISH);
    if (!strcmp(op, "Clip")) return run_act(r, AXNN_ACT_CLIP);
    if (!strcmp(op, "LeakyRelu")) return run_act(r, AXNN_ACT_LEAKYRELU);
    if (!strcmp(op, "Sigmoid")) return run_act(r, AXNN_ACT_SIGMOID);
    if (!strcmp(op, "Tanh")) return run_act(r, AXNN_ACT_TANH);
    if (!strcmp(op, "Add")) return run_binary(r, AXNN_BIN_ADD);
    if (!strcmp(op, "Sub")) return run_binary(r, AXNN_BIN_SUB);
    if (!strcmp(op, "Mul")) return run_binary(r, AXNN_BIN_MUL);
    if (!strcmp(op, "Div")) return run_binary(r, AXNN_BIN_DIV);
    if (!strcmp(op, "Transpose")) return run_transpose(r);
    if (!strcmp(op, "Concat")) return run_concat(r);
    if (!strcmp(op, "Split")) return run_split(r);
    if (!strcmp(op, "MatMul")) return run_matmul(r);
    return SKIP;
}

static void compare(run *r)
{
    for (int k = 0; k < r->nout && !r->why[0]; k++)
        for (int64_t i = 0; i < r->want[k].numel; i++) {
            double g = r->out[k][i], w = r->want[k].f[i];
            if (!(g == w || fabs(g - w) <= 1e-7 + 1e-3 * fabs(w)) && !(isnan(g) && isnan(w))) {
                snprintf(r->why, sizeof r->why, "output %d element %lld: %.9g, ONNX %.9g", k,
                         (long long)i, g, w);
                break;
            }
        }
}

/* Runs data set `set` of case c on model m; returns RAN or SKIP (r->why set on failure). */
static int run_set(const axnn_onnx_case *c, const axnn_onnx_model *m, int set, run *r)
{
    memset(r, 0, sizeof *r);
    r->n = &m->nodes[0];
    assert_int_equal(axnn_onnx_read_case_set(c, set, &r->data, &r->ndata, &r->want, &r->nout),
                     AXNN_OK);
    int st = SKIP;
    bool resolved = r->n->ninputs <= 16;
    for (int k = 0; resolved && k < r->n->ninputs; k++) {
        const char *name = r->n->inputs[k];
        r->in[k] = NULL;
        for (int j = 0; j < m->ninputs && j < r->ndata; j++)
            if (!strcmp(m->inputs[j].name, name)) r->in[k] = &r->data[j];
        if (!r->in[k]) r->in[k] = axnn_onnx_find_init(m, name);
        if (!r->in[k] && name[0]) resolved = false;
        r->nin = k + 1;
    }
    if (resolved && r->nout <= 8) {
        for (int k = 0; k < r->nout; k++)
            r->out[k] = calloc((size_t)(r->want[k].numel + 1), sizeof(float));
        st = dispatch(r);
        if (st == RAN && !r->why[0]) compare(r);
        for (int k = 0; k < r->nout; k++) free(r->out[k]);
    }
    axnn_onnx_free_tensors(r->data, r->ndata);
    axnn_onnx_free_tensors(r->want, r->nout);
    return st;
}

static void run_case(const axnn_onnx_case *c)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/model.onnx", c->dir);
    axnn_onnx_model *m;
    if (axnn_onnx_load(path, AXNN_ONNX_ANY_OP | AXNN_ONNX_ANY_OPSET, &m)) return;
    op_entry *e = NULL;
    for (int k = 0; m->nnodes == 1 && k < NOPS; k++)
        if (!strcmp(OPS[k].op, m->nodes[0].op_type)) e = &OPS[k];
    for (int set = 0; e && set < c->nsets; set++) {
        run r;
        if (run_set(c, m, set, &r) == SKIP) {
            e->skipped++;
            continue;
        }
        if (r.why[0]) {
            e->failed++;
            print_message("FAIL %s set %d: %s\n", c->name, set, r.why);
        } else
            e->passed++;
    }
    axnn_onnx_free(m);
}

static void test_node_kernels(void **state)
{
    const char *root = getenv("AXNN_ONNX_TESTDATA");
    if (!root) root = "/usr/share/libonnx-testdata/data";
    static const char *const subs[] = {"node", "pytorch-converted", "pytorch-operator"};
    char dir[4096];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/node", root);
    if (stat(dir, &st)) {
        print_message("%s: not installed (apt-get install libonnx-testdata)\n", dir);
        skip();
    }
    for (int s = 0; s < 3; s++) {
        snprintf(dir, sizeof dir, "%s/%s", root, subs[s]);
        axnn_onnx_case *cases;
        int n;
        if (axnn_onnx_list_cases(dir, &cases, &n)) continue;
        for (int k = 0; k < n; k++) run_case(&cases[k]);
        axnn_onnx_free_cases(cases, n);
    }
    int failed = 0;
    for (int k = 0; k < NOPS; k++) {
        print_message("  %-12s passed %3d failed %d skipped %d\n", OPS[k].op, OPS[k].passed,
                      OPS[k].failed, OPS[k].skipped);
        failed += OPS[k].failed;
        if (!OPS[k].passed) fail_msg("%s: no case ran", OPS[k].op);
    }
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_node_kernels)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
