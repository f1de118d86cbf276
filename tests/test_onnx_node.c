/* ONNX's own backend tests (Debian's libonnx-testdata, /usr/share/libonnx-testdata/data, or
 * $AXNN_ONNX_TESTDATA): every case's model.onnx is read by the ONNX reader (parse and
 * structural validation, any op), every test_data_set_N/{input,output}_K.pb by the tensor
 * reader, and the tensors are checked against the model's declared inputs and outputs (count,
 * element type, static dimensions). A file may be refused only for a reason axnn documents
 * (opset outside 11-17, sequence/optional/map values, string or complex tensors); any other
 * failure fails the test. Counts per op are printed: cases, parsed, whose data sets read and
 * match, and whose op passes axnn's op table (strict load). Execution is hooked in later.
 * Skipped when the package is not installed. */
#include "testutil.h"

#include "axnn/onnx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct op_count {
    char op[64];
    int cases, parsed, data_ok, strict_ok;
} op_count;

typedef struct tally {
    op_count ops[512];
    int nops;
    int cases, parsed, data_ok, strict_ok, refused_documented, shapes_inferred;
    int unexpected;
} tally;

static op_count *count_for(tally *t, const char *op)
{
    for (int k = 0; k < t->nops; k++)
        if (!strcmp(t->ops[k].op, op)) return &t->ops[k];
    assert_true(t->nops < 512);
    op_count *c = &t->ops[t->nops++];
    memset(c, 0, sizeof *c);
    snprintf(c->op, sizeof c->op, "%s", op);
    return c;
}

/* Reasons for which axnn documents that it refuses a file (docs/onnx.md). */
static bool documented_refusal(const char *msg)
{
    static const char *const reasons[] = {
        "(axnn reads opsets 11 to 17)", "is not a tensor (sequence", "has data type string",
        "has data type complex",        "has data type undefined",   "model-local functions",
        "sparse initializers",          "not a valid TensorProto", /* a sequence or optional test
                                                                      value, not a tensor */
    };
    for (size_t k = 0; k < sizeof reasons / sizeof reasons[0]; k++)
        if (strstr(msg, reasons[k])) return true;
    return false;
}

/* Cases whose data sets disagree with their own model in ONNX 1.12 (the 'like' input is
 * stored with shape [1] where the model declares [3, 4]). */
static bool data_known_bad(const char *name)
{
    return !strncmp(name, "test_castlike_BFLOAT16_to_FLOAT", 31) ||
           !strncmp(name, "test_castlike_FLOAT_to_BFLOAT16", 31);
}

/* The op a case tests: its only node's op, or "<op>(expanded)" for function expansions. */
static void case_op(const axnn_onnx_model *m, const char *name, char *op, size_t n)
{
    if (m && m->nnodes == 1)
        snprintf(op, n, "%s", m->nodes[0].op_type);
    else if (m && m->nnodes > 1)
        snprintf(op, n, "(graph of %s...)", m->nodes[m->nnodes - 1].op_type);
    else
        snprintf(op, n, "(unparsed:%s)", name);
}

static bool tensor_matches(const axnn_onnx_tensor *t, const axnn_onnx_value_info *v)
{
    /* ONNX 1.12's bfloat16 test data is stored as uint16 bit patterns (its own quirk) */
    bool bf16_bits = v->elem_type == AXNN_ONNX_BFLOAT16 && t->elem_type == AXNN_ONNX_UINT16;
    if (v->elem_type && v->elem_type != t->elem_type && !bf16_bits) return false;
    if (v->nd < 0) return true;
    if (v->nd != t->nd) return false;
    for (int k = 0; k < v->nd; k++)
        if (v->dims[k] >= 0 && v->dims[k] != t->dims[k]) return false;
    return true;
}

/* Reads every data set of c and checks it against m; returns the first problem or NULL. */
static const char *check_sets(const axnn_onnx_case *c, const axnn_onnx_model *m, char *why,
                              size_t n)
{
    for (int s = 0; s < c->nsets; s++) {
        axnn_onnx_tensor *in, *out;
        int nin, nout;
        if (axnn_onnx_read_case_set(c, s, &in, &nin, &out, &nout)) {
            snprintf(why, n, "%s", axnn_last_error());
            return why;
        }
        bool ok = nout == m->noutputs && nin <= m->ninputs;
        for (int k = 0; ok && k < nin; k++) ok = tensor_matches(&in[k], &m->inputs[k]);
        for (int k = 0; ok && k < nout; k++) ok = tensor_matches(&out[k], &m->outputs[k]);
        axnn_onnx_free_tensors(in, nin);
        axnn_onnx_free_tensors(out, nout);
        if (!ok) {
            snprintf(why, n, "data set %d does not match the model's inputs/outputs", s);
            return why;
        }
    }
    return NULL;
}

/* Shape inference on a case that passes the op table: fixing the (static) inputs must work, and
 * every graph output whose shape gets inferred must have the shape of ONNX's expected output. */
static void check_inferred(tally *t, const axnn_onnx_case *c, axnn_onnx_model *m)
{
    for (int k = 0; k < m->ninputs; k++)
        for (int d = 0; d < m->inputs[k].nd; d++)
            if (m->inputs[k].dims[d] < 0) return; /* a dynamic case: its sizes come from the data */
    if (c->nsets < 1 || m->ninputs == 0) return;
    axnn_onnx_tensor *in, *out;
    int nin, nout;
    if (axnn_onnx_read_case_set(c, 0, &in, &nin, &out, &nout)) return;
    if (axnn_onnx_fix_inputs(m, 1)) {
        t->unexpected++;
        print_message("UNEXPECTED %s: shape folding: %s\n", c->name, axnn_last_error());
    }
    for (int k = 0; k < m->noutputs && k < nout; k++) {
        const axnn_onnx_value_info *v = axnn_onnx_find_shape(m, m->outputs[k].name);
        if (!v) continue;
        t->shapes_inferred++;
        if (v->nd != out[k].nd || memcmp(v->dims, out[k].dims, (size_t)v->nd * sizeof(int64_t))) {
            t->unexpected++;
            print_message("UNEXPECTED %s: inferred shape of output %d differs from ONNX's\n", c->name, k);
        }
    }
    axnn_onnx_free_tensors(in, nin);
    axnn_onnx_free_tensors(out, nout);
}

static void run_case(tally *t, const axnn_onnx_case *c)
{
    char path[4096], op[128], why[512];
    snprintf(path, sizeof path, "%s/model.onnx", c->dir);
    axnn_onnx_model *m = NULL;
    axnn_status st = axnn_onnx_load(path, AXNN_ONNX_ANY_OP | AXNN_ONNX_ANY_OPSET, &m);
    case_op(m, c->name, op, sizeof op);
    op_count *oc = count_for(t, op);
    oc->cases++, t->cases++;
    if (st) {
        if (getenv("AXNN_ONNX_VERBOSE"))
            print_message("refused %s: %s\n", c->name, axnn_last_error());
        if (documented_refusal(axnn_last_error()))
            t->refused_documented++;
        else {
            t->unexpected++;
            print_message("UNEXPECTED %s: %s\n", c->name, axnn_last_error());
        }
        return;
    }
    oc->parsed++, t->parsed++;
    const char *bad = check_sets(c, m, why, sizeof why);
    if (!bad)
        oc->data_ok++, t->data_ok++;
    else if (data_known_bad(c->name))
        t->refused_documented++;
    else if (documented_refusal(bad))
        t->refused_documented++;
    else {
        t->unexpected++;
        print_message("UNEXPECTED %s: %s\n", c->name, bad);
    }
    /* folding must cope with any parsed graph (unknown ops included): an error or success */
    if (axnn_onnx_fix_inputs(m, 2) != AXNN_OK) assert_true(axnn_last_error()[0] != 0);
    axnn_onnx_free(m);
    if (axnn_onnx_load(path, AXNN_ONNX_ANY_OPSET, &m) == AXNN_OK) {
        oc->strict_ok++, t->strict_ok++;
        check_inferred(t, c, m);
    } else if (getenv("AXNN_ONNX_VERBOSE"))
        print_message("op table refuses %s: %s\n", c->name, axnn_last_error());
    axnn_onnx_free(m);
}

static void run_root(const char *root)
{
    axnn_onnx_case *cases;
    int n;
    assert_int_equal(axnn_onnx_list_cases(root, &cases, &n), AXNN_OK);
    assert_true(n > 0);
    tally *t = calloc(1, sizeof *t);
    for (int k = 0; k < n; k++) run_case(t, &cases[k]);
    print_message("%s: %d cases, %d parsed, %d with matching data, %d pass the op table, %d "
                  "output shapes inferred and equal to ONNX's, %d refused for documented "
                  "reasons, %d unexpected\n",
                  root, t->cases, t->parsed, t->data_ok, t->strict_ok, t->shapes_inferred,
                  t->refused_documented, t->unexpected);
    if (getenv("AXNN_ONNX_VERBOSE"))
        for (int k = 0; k < t->nops; k++)
            print_message("  %-28s cases %3d parsed %3d data %3d strict %3d\n", t->ops[k].op,
                          t->ops[k].cases, t->ops[k].parsed, t->ops[k].data_ok,
                          t->ops[k].strict_ok);
    int unexpected = t->unexpected;
    free(t);
    axnn_onnx_free_cases(cases, n);
    assert_int_equal(unexpected, 0);
}

static const char *testdata_root(void)
{
    const char *e = getenv("AXNN_ONNX_TESTDATA");
    return e ? e : "/usr/share/libonnx-testdata/data";
}

static void run_named(const char *sub)
{
    char root[4096];
    snprintf(root, sizeof root, "%s/%s", testdata_root(), sub);
    struct stat st;
    if (stat(root, &st)) {
        print_message("%s: not installed (apt-get install libonnx-testdata)\n", root);
        skip();
    }
    run_root(root);
}

static void test_node(void **state)
{
    run_named("node");
}
static void test_pytorch_converted(void **state)
{
    run_named("pytorch-converted");
}
static void test_pytorch_operator(void **state)
{
    run_named("pytorch-operator");
}
static void test_simple(void **state)
{
    run_named("simple");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node),
        cmocka_unit_test(test_pytorch_converted),
        cmocka_unit_test(test_pytorch_operator),
        cmocka_unit_test(test_simple),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
