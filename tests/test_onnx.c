/* The ONNX reader: the small PyTorch exports of tests/gen/gen_onnx.py (inputs with a dynamic
 * batch, initializers under their ONNX names, opsets 13/14/17, shape subgraphs folded once the
 * batch is fixed, inferred shapes), external data equal to the inline model, the tensor reader
 * on the golden .pb files, every bad file (one line naming node, op and attribute), every
 * truncation of a model and random byte mutations (an error or a valid model, never a crash). */
#include "testutil.h"

#include "axnn/onnx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *data(const char *name)
{
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, 1024, "onnx/%s", name);
    return tu_data_path(p);
}

static axnn_onnx_model *load_ok(const char *name, unsigned flags)
{
    axnn_onnx_model *m = NULL;
    axnn_status s = axnn_onnx_load(data(name), flags, &m);
    if (s) fail_msg("%s: %s", name, axnn_last_error());
    return m;
}

static int count_op(const axnn_onnx_model *m, const char *op)
{
    int n = 0;
    for (int k = 0; k < m->nnodes; k++) n += !strcmp(m->nodes[k].op_type, op);
    return n;
}

static const axnn_onnx_node *find_op(const axnn_onnx_model *m, const char *op, int which)
{
    for (int k = 0; k < m->nnodes; k++)
        if (!strcmp(m->nodes[k].op_type, op) && which-- == 0) return &m->nodes[k];
    return NULL;
}

static void check_io(const axnn_onnx_model *m)
{
    assert_int_equal(m->ninputs, 1);
    assert_string_equal(m->inputs[0].name, "input");
    assert_int_equal(m->inputs[0].nd, 4);
    assert_int_equal(m->inputs[0].dims[0], -1);
    assert_string_equal(m->inputs[0].dim_param[0], "batch");
    assert_int_equal(m->inputs[0].dims[1], 3);
    assert_int_equal(m->inputs[0].dims[3], 32);
    assert_int_equal(m->inputs[0].elem_type, AXNN_ONNX_FLOAT);
    assert_int_equal(m->noutputs, 1);
    assert_string_equal(m->outputs[0].name, "logits");
}

/* After fixing the batch, the logits' shape is inferred and no shape op is left. */
static void check_folded(axnn_onnx_model *m, int64_t batch)
{
    assert_int_equal(axnn_onnx_fix_inputs(m, batch), AXNN_OK);
    static const char *const gone[] = {"Shape", "Gather", "Unsqueeze", "Constant", "Cast", NULL};
    for (int k = 0; gone[k]; k++)
        if (count_op(m, gone[k])) fail_msg("%s: %s left after folding", m->path, gone[k]);
    const axnn_onnx_value_info *y = axnn_onnx_find_shape(m, "logits");
    assert_non_null(y);
    assert_int_equal(y->nd, 2);
    assert_int_equal(y->dims[0], batch);
    assert_int_equal(y->dims[1], 10);
    /* every Reshape reads a constant shape */
    for (int k = 0; k < m->nnodes; k++)
        if (!strcmp(m->nodes[k].op_type, "Reshape"))
            assert_non_null(axnn_onnx_find_init(m, m->nodes[k].inputs[1]));
    for (int k = 0; k < m->nnodes; k++)
        for (int j = 0; j < m->nodes[k].noutputs; j++)
            if (!axnn_onnx_find_shape(m, m->nodes[k].outputs[j]))
                fail_msg("%s: no shape for %s", m->path, m->nodes[k].outputs[j]);
}

static void test_tiny_resnet(void **state)
{
    axnn_onnx_model *m = load_ok("tiny_resnet.onnx", 0);
    check_io(m);
    assert_int_equal(m->opset, 13);
    assert_string_equal(m->producer, "pytorch");
    assert_int_equal(count_op(m, "BatchNormalization"), 2);
    assert_int_equal(count_op(m, "MaxPool"), 1);
    const axnn_onnx_tensor *w = axnn_onnx_find_init(m, "fc.weight");
    assert_non_null(w);
    assert_int_equal(w->nd, 2);
    assert_int_equal(w->dims[0], 10);
    assert_int_equal(w->dims[1], 16);
    assert_non_null(w->f);
    const axnn_onnx_tensor *rv = axnn_onnx_find_init(m, "bn0.running_var");
    assert_non_null(rv);
    for (int k = 0; k < 3; k++) assert_true(rv->f[k] >= 0.75f && rv->f[k] <= 1.25f);
    const axnn_onnx_node *mp = find_op(m, "MaxPool", 0);
    const axnn_onnx_attr *ks = axnn_onnx_find_attr(mp, "kernel_shape");
    assert_int_equal(ks->type, AXNN_ONNX_ATTR_INTS);
    assert_int_equal(ks->n, 2);
    assert_int_equal(ks->ints[0], 3);
    assert_string_equal(m->nodes[0].op_type, "BatchNormalization"); /* the file's order */
    check_folded(m, 2);
    /* stem at 32x32, max pool 3/2 pad 1 -> 16, block 2 stride 2 -> 8 */
    const axnn_onnx_value_info *p = axnn_onnx_find_shape(m, mp->outputs[0]);
    assert_int_equal(p->dims[2], 16);
    axnn_onnx_free(m);
}

static void test_external_data(void **state)
{
    axnn_onnx_model *a = load_ok("tiny_resnet.onnx", 0), *b = load_ok("tiny_resnet_ext.onnx", 0);
    assert_int_equal(a->ninits, b->ninits);
    int big = 0;
    for (int k = 0; k < a->ninits; k++) {
        const axnn_onnx_tensor *x = &a->inits[k], *y = axnn_onnx_find_init(b, x->name);
        assert_non_null(y);
        assert_int_equal(x->numel, y->numel);
        if (x->f)
            assert_memory_equal(x->f, y->f, (size_t)x->numel * sizeof(float));
        else
            assert_memory_equal(x->i, y->i, (size_t)x->numel * sizeof(int64_t));
        big += x->numel * 4 >= 64;
    }
    assert_true(big > 5);
    axnn_onnx_free(a);
    axnn_onnx_free(b);
    /* the same bytes from memory without a folder: external data must be refused */
    uint8_t *buf;
    size_t len;
    FILE *f = fopen(data("tiny_resnet_ext.onnx"), "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    rewind(f);
    buf = malloc(len);
    assert_int_equal(fread(buf, 1, len, f), len);
    fclose(f);
    axnn_onnx_model *m;
    assert_int_equal(axnn_onnx_load_mem(buf, len, NULL, "mem", 0, &m), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "external data"));
    free(buf);
}

static void test_tiny_mobilenetv2(void **state)
{
    axnn_onnx_model *m = load_ok("tiny_mobilenetv2.onnx", 0);
    check_io(m);
    assert_int_equal(m->opset, 14);
    assert_true(count_op(m, "HardSwish") >= 1);
    assert_true(count_op(m, "HardSigmoid") >= 1);
    assert_true(count_op(m, "Clip") >= 4);
    int depthwise = 0;
    for (int k = 0; k < m->nnodes; k++) {
        const axnn_onnx_attr *g = axnn_onnx_find_attr(&m->nodes[k], "group");
        if (g && g->i > 1) depthwise++;
    }
    assert_int_equal(depthwise, 4);
    const axnn_onnx_node *ap = find_op(m, "AveragePool", 0);
    assert_int_equal(axnn_onnx_find_attr(ap, "ceil_mode")->i, 1);
    const axnn_onnx_attr *cip = axnn_onnx_find_attr(ap, "count_include_pad");
    assert_true(!cip || cip->i == 0); /* the default, 0, may be left out */
    check_folded(m, 3);
    /* Clip's min and max were Constant nodes: now initializers */
    const axnn_onnx_node *clip = find_op(m, "Clip", 0);
    const axnn_onnx_tensor *hi = axnn_onnx_find_init(m, clip->inputs[2]);
    assert_non_null(hi);
    assert_true(hi->f[0] == 6.0f);
    /* 32 -> stem 16 -> stride-2 block 8 -> avg pool 3/2 pad 1 ceil: ceil(7 / 2) + 1 = 5 */
    const axnn_onnx_value_info *p = axnn_onnx_find_shape(m, ap->outputs[0]);
    assert_int_equal(p->dims[2], 5);
    assert_int_equal(p->dims[0], 3);
    axnn_onnx_free(m);
}

static void test_tiny_shufflenet(void **state)
{
    axnn_onnx_model *m = load_ok("tiny_shufflenet.onnx", 0);
    check_io(m);
    assert_true(count_op(m, "Shape") >= 4);
    check_folded(m, 2);
    /* chunk(): Slices of the activation with folded starts/ends [0,4) and [4,8) */
    const axnn_onnx_node *s0 = find_op(m, "Slice", 0), *s1 = find_op(m, "Slice", 1);
    assert_non_null(s1);
    assert_int_equal(axnn_onnx_find_init(m, s0->inputs[2])->i[0], 4);
    assert_int_equal(axnn_onnx_find_init(m, s1->inputs[1])->i[0], 4);
    assert_int_equal(axnn_onnx_find_init(m, s1->inputs[2])->i[0], 8);
    /* channel shuffle: view(b, 2, c/2, h, w) with h = w = 8 after the ceil-mode max pool */
    const axnn_onnx_node *r = find_op(m, "Reshape", 0);
    const axnn_onnx_tensor *shape = axnn_onnx_find_init(m, r->inputs[1]);
    int64_t want[5] = {2, 2, 4, 8, 8};
    assert_int_equal(shape->numel, 5);
    assert_memory_equal(shape->i, want, sizeof want);
    const axnn_onnx_value_info *t = axnn_onnx_find_shape(m, find_op(m, "Transpose", 0)->outputs[0]);
    assert_int_equal(t->dims[1], 4);
    assert_int_equal(t->dims[2], 2);
    int grouped = 0;
    for (int k = 0; k < m->nnodes; k++) {
        const axnn_onnx_attr *g = axnn_onnx_find_attr(&m->nodes[k], "group");
        grouped += g && g->i == 2;
    }
    assert_int_equal(grouped, 1);
    axnn_onnx_free(m);
}

static void test_tiny_attention(void **state)
{
    axnn_onnx_model *m = load_ok("tiny_attention.onnx", 0);
    check_io(m);
    assert_int_equal(m->opset, 17);
    assert_int_equal(count_op(m, "LayerNormalization"), 2);
    assert_int_equal(count_op(m, "Erf"), 1);
    check_folded(m, 2);
    /* q @ k^T: (2, heads 2, T 16, 16) */
    const axnn_onnx_value_info *s = axnn_onnx_find_shape(m, find_op(m, "Softmax", 0)->outputs[0]);
    int64_t want[4] = {2, 2, 16, 16};
    assert_int_equal(s->nd, 4);
    assert_memory_equal(s->dims, want, sizeof want);
    axnn_onnx_free(m);
}

static void test_golden_tensors(void **state)
{
    static const char *const nets[] = {"tiny_resnet", "tiny_mobilenetv2", "tiny_shufflenet",
                                       "tiny_attention"};
    for (int k = 0; k < 4; k++) {
        char name[256];
        axnn_onnx_tensor x, y;
        snprintf(name, sizeof name, "%s.input.pb", nets[k]);
        assert_int_equal(axnn_onnx_read_tensor(data(name), &x), AXNN_OK);
        snprintf(name, sizeof name, "%s.output.pb", nets[k]);
        assert_int_equal(axnn_onnx_read_tensor(data(name), &y), AXNN_OK);
        int64_t xd[4] = {2, 3, 32, 32}, yd[2] = {2, 10};
        assert_int_equal(x.nd, 4);
        assert_memory_equal(x.dims, xd, sizeof xd);
        assert_int_equal(y.nd, 2);
        assert_memory_equal(y.dims, yd, sizeof yd);
        assert_non_null(y.f);
        double s = 0;
        for (int j = 0; j < 20; j++) s += y.f[j] * y.f[j];
        assert_true(s > 0);
        axnn_onnx_tensor_clear(&x);
        axnn_onnx_tensor_clear(&y);
    }
}

static void test_batch_and_dynamic_dims(void **state)
{
    axnn_onnx_model *m = load_ok("tiny_shufflenet.onnx", 0);
    assert_int_equal(axnn_onnx_fix_inputs(m, 7), AXNN_OK);
    assert_int_equal(axnn_onnx_find_shape(m, "logits")->dims[0], 7);
    assert_int_equal(axnn_onnx_find_init(m, find_op(m, "Reshape", 0)->inputs[1])->i[0], 7);
    axnn_onnx_free(m);
    m = load_ok("tiny_resnet.onnx", 0);
    m->inputs[0].dims[2] = -1; /* as if the height were dynamic too */
    assert_int_equal(axnn_onnx_fix_inputs(m, 1), AXNN_ERR_UNSUPPORTED);
    assert_non_null(strstr(axnn_last_error(), "dimension 2 is dynamic"));
    assert_int_equal(axnn_onnx_fix_inputs(m, 0), AXNN_ERR_ARG);
    axnn_onnx_free(m);
}

/* A bad file must fail with status `want` and a message holding every needle. */
static void expect_bad(const char *name, axnn_status want, const char *n1, const char *n2,
                       const char *n3)
{
    axnn_onnx_model *m = (axnn_onnx_model *)0x1;
    axnn_status s = axnn_onnx_load(data(name), 0, &m);
    const char *e = axnn_last_error();
    if (s != want || (n1 && !strstr(e, n1)) || (n2 && !strstr(e, n2)) || (n3 && !strstr(e, n3)) ||
        !strstr(e, name))
        fail_msg("%s: status %d (want %d): \"%s\"", name, s, want, e);
    assert_null(m);
    assert_null(strchr(e, '\n'));
}

static void test_bad_files(void **state)
{
    expect_bad("bad_short_init.onnx", AXNN_ERR_FORMAT, "tensor 'w'", "10 values", "needs 16");
    expect_bad("bad_cycle.onnx", AXNN_ERR_FORMAT, "cycle", "node '", NULL);
    expect_bad("bad_unknown_op.onnx", AXNN_ERR_UNSUPPORTED, "node 'frob'", "(FrobnicateV2)",
               "unknown op");
    expect_bad("bad_no_producer.onnx", AXNN_ERR_FORMAT, "graph output 'z'", "no node", NULL);
    expect_bad("bad_huge_dim.onnx", AXNN_ERR_FORMAT, "'x'", "1099511627776", NULL);
    expect_bad("bad_attr.onnx", AXNN_ERR_UNSUPPORTED, "node 'conv1' (Conv)",
               "unsupported attribute 'frobnicate'", NULL);
    expect_bad("bad_ext_escape.onnx", AXNN_ERR_FORMAT, "'../secret.bin'",
               "leaves the model's folder", NULL);
    expect_bad("bad_ext_short.onnx", AXNN_ERR_FORMAT, "tensor 'w'", "tiny_resnet_ext.data has fewer than 1073741824 + 16 bytes", NULL);
    expect_bad("bad_opset.onnx", AXNN_ERR_UNSUPPORTED, "opset 9", NULL, NULL);
    expect_bad("missing.onnx", AXNN_ERR_IO, NULL, NULL, NULL);
    /* a valid graph stored consumer first is put in order; an ordered one keeps its order */
    axnn_onnx_model *u = load_ok("unordered.onnx", 0);
    assert_string_equal(u->nodes[0].name, "first");
    assert_string_equal(u->nodes[1].name, "second");
    axnn_onnx_free(u);
    /* the unknown op is accepted by the any-op load (the node-test harness's mode) */
    axnn_onnx_model *m = load_ok("bad_unknown_op.onnx", AXNN_ONNX_ANY_OP);
    assert_int_equal(m->nnodes, 1);
    axnn_onnx_free(m);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*len);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void test_truncated(void **state)
{
    size_t len;
    uint8_t *b = read_all(data("tiny_shufflenet.onnx"), &len);
    int refused = 0, tried = 0;
    for (size_t cut = 0; cut < len; cut += cut + 64 < len ? 13 : 1) {
        axnn_onnx_model *m = NULL;
        axnn_status s = axnn_onnx_load_mem(b, cut, NULL, "cut.onnx", 0, &m);
        tried++;
        if (s == AXNN_OK) fail_msg("a model cut at %zu of %zu bytes loaded", cut, len);
        refused++;
        assert_null(m);
        assert_non_null(strstr(axnn_last_error(), "cut.onnx"));
    }
    assert_int_equal(refused, tried);
    free(b);
}

static void test_mutations(void **state)
{
    size_t len;
    uint8_t *b = read_all(data("tiny_mobilenetv2.onnx"), &len), *c = malloc(len);
    axnn_rng r;
    axnn_rng_seed(&r, 42);
    int ok = 0;
    for (int it = 0; it < 300; it++) {
        memcpy(c, b, len);
        int flips = 1 + (int)axnn_rng_below(&r, 4);
        for (int k = 0; k < flips; k++)
            c[axnn_rng_below(&r, (uint32_t)len)] = (uint8_t)axnn_rng_u64(&r);
        axnn_onnx_model *m = NULL;
        if (axnn_onnx_load_mem(c, len, NULL, "mut.onnx", 0, &m) == AXNN_OK) {
            ok++;
            axnn_onnx_fix_inputs(m, 2); /* must not crash either */
            axnn_onnx_free(m);
        } else
            assert_null(m);
    }
    print_message("mutations: %d of 300 still load\n", ok);
    free(b);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_resnet),
        cmocka_unit_test(test_external_data),
        cmocka_unit_test(test_tiny_mobilenetv2),
        cmocka_unit_test(test_tiny_shufflenet),
        cmocka_unit_test(test_tiny_attention),
        cmocka_unit_test(test_golden_tensors),
        cmocka_unit_test(test_batch_and_dynamic_dims),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
