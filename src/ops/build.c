/* Builder calls (axnn/ops.h): each creates the node's parameters under PyTorch names and adds
 * the node. Parameters start at zero (BatchNorm: weight and running_var at one); model builders
 * initialize them. */
#include "axnn/ops.h"

#include "ops/op.h"

#include <stdio.h>
#include <string.h>

static const axnn_op_def *const all_ops[] = {
    &axnn_op_conv2d,  &axnn_op_batchnorm2d, &axnn_op_relu,   &axnn_op_maxpool2d,
    &axnn_op_avgpool2d, &axnn_op_global_avgpool, &axnn_op_flatten, &axnn_op_linear,
    &axnn_op_add,     &axnn_op_dropout,     &axnn_op_softmax_ce,
    &axnn_op_moe_gate, &axnn_op_moe_nearest, &axnn_op_moe_dispatch, &axnn_op_moe_combine,
    &axnn_op_tokens,  &axnn_op_cls_token,   &axnn_op_pos_embed, &axnn_op_layernorm,
    &axnn_op_attention, &axnn_op_gelu,      &axnn_op_drop_path, &axnn_op_cls_pool,
};

#include <pthread.h>

static pthread_once_t ops_once = PTHREAD_ONCE_INIT;

static void register_all(void)
{
    for (size_t i = 0; i < sizeof all_ops / sizeof all_ops[0]; i++) axnn_op_register(all_ops[i]);
}

void axnn_ops_init(void) { pthread_once(&ops_once, register_all); }

int axnn_op_node(axnn_graph *g, const axnn_op_def *op, const char *name, const int *in, int nin,
                 const void *attr, size_t attr_size)
{
    axnn_ops_init();
    return axnn_graph_add_node_op(g, op, name, in, nin, attr, attr_size);
}

static int param(axnn_graph *g, const char *module, const char *leaf, axnn_val_kind kind,
                 axnn_dtype dt, int nd, const int64_t *d, uint32_t flags)
{
    char name[AXNN_NAME_MAX];
    if (module && module[0])
        snprintf(name, sizeof name, "%s.%s", module, leaf);
    else
        snprintf(name, sizeof name, "%s", leaf);
    if (axnn_graph_find_value(g, name) >= 0)
        return axnn_error(AXNN_ERR_ARG, "duplicate tensor name '%s'", name), -1;
    axnn_shape s = axnn_shape_make(nd, d);
    return axnn_graph_add_value(g, name, kind, dt, &s, flags);
}

int axnn_op_param(axnn_graph *g, const char *module, const char *leaf, axnn_val_kind kind,
                  axnn_dtype dt, int nd, const int64_t *d, uint32_t flags)
{
    return param(g, module, leaf, kind, dt, nd, d, flags);
}

int axnn_input(axnn_graph *g, int c, int h, int w)
{
    axnn_ops_init();
    axnn_shape s = {4, {1, c, h, w}};
    int v = axnn_graph_add_value(g, "input", AXNN_VAL_INPUT, AXNN_F32, &s, AXNN_VF_BATCHED);
    if (v >= 0) g->input = v;
    return v;
}

int axnn_labels(axnn_graph *g)
{
    axnn_shape s = {1, {1}};
    int v = axnn_graph_add_value(g, "labels", AXNN_VAL_LABEL, AXNN_I32, &s, AXNN_VF_BATCHED);
    if (v >= 0) g->label = v;
    return v;
}

int axnn_conv2d_ex(axnn_graph *g, const char *name, int x, const axnn_conv2d_attr *a)
{
    if (x < 0) return -1;
    int64_t cin = g->vals[x].shape.nd == 4 ? g->vals[x].shape.d[1] : 0;
    int64_t wd[4] = {a->cout, cin, a->kh, a->kw}, bd[1] = {a->cout};
    int in[3] = {x, param(g, name, "weight", AXNN_VAL_PARAM, AXNN_F32, 4, wd, 0), -1};
    int nin = 2;
    if (a->bias) in[nin++] = param(g, name, "bias", AXNN_VAL_PARAM, AXNN_F32, 1, bd, AXNN_VF_NO_DECAY);
    for (int i = 0; i < nin; i++)
        if (in[i] < 0) return -1;
    return axnn_op_node(g, &axnn_op_conv2d, name, in, nin, a, sizeof *a);
}

int axnn_conv2d(axnn_graph *g, const char *name, int x, int cout, int k, int stride, int pad,
                bool bias)
{
    axnn_conv2d_attr a = {cout, k, k, stride, stride, pad, pad, bias};
    return axnn_conv2d_ex(g, name, x, &a);
}

int axnn_batchnorm2d(axnn_graph *g, const char *name, int x)
{
    if (x < 0) return -1;
    int64_t c[1] = {g->vals[x].shape.nd == 4 ? g->vals[x].shape.d[1] : 0};
    int in[6] = {x,
                 param(g, name, "weight", AXNN_VAL_PARAM, AXNN_F32, 1, c, AXNN_VF_NO_DECAY),
                 param(g, name, "bias", AXNN_VAL_PARAM, AXNN_F32, 1, c, AXNN_VF_NO_DECAY),
                 param(g, name, "running_mean", AXNN_VAL_BUFFER, AXNN_F32, 1, c, 0),
                 param(g, name, "running_var", AXNN_VAL_BUFFER, AXNN_F32, 1, c, 0),
                 param(g, name, "num_batches_tracked", AXNN_VAL_BUFFER, AXNN_I64, 0, c, 0)};
    for (int i = 0; i < 6; i++)
        if (in[i] < 0) return -1;
    float *w = g->vals[in[1]].data, *rv = g->vals[in[4]].data;
    for (int64_t i = 0; i < c[0]; i++) w[i] = rv[i] = 1.0f;
    axnn_bn_attr a = {1e-5f, 0.1f};
    return axnn_op_node(g, &axnn_op_batchnorm2d, name, in, 6, &a, sizeof a);
}

int axnn_relu(axnn_graph *g, int x)
{
    if (x < 0) return -1;
    return axnn_op_node(g, &axnn_op_relu, "relu", &x, 1, NULL, 0);
}

static int pool_node(axnn_graph *g, const axnn_op_def *op, int x, int k, int stride, int pad)
{
    if (x < 0) return -1;
    axnn_pool_attr a = {k, k, stride, stride, pad, pad};
    return axnn_op_node(g, op, op->name, &x, 1, &a, sizeof a);
}

int axnn_maxpool2d(axnn_graph *g, int x, int k, int stride, int pad)
{
    return pool_node(g, &axnn_op_maxpool2d, x, k, stride, pad);
}

int axnn_avgpool2d(axnn_graph *g, int x, int k, int stride, int pad)
{
    return pool_node(g, &axnn_op_avgpool2d, x, k, stride, pad);
}

int axnn_global_avgpool(axnn_graph *g, int x)
{
    if (x < 0) return -1;
    return axnn_op_node(g, &axnn_op_global_avgpool, "avgpool", &x, 1, NULL, 0);
}

int axnn_flatten(axnn_graph *g, int x)
{
    if (x < 0) return -1;
    return axnn_op_node(g, &axnn_op_flatten, "flatten", &x, 1, NULL, 0);
}

int axnn_linear(axnn_graph *g, const char *name, int x, int out, bool bias)
{
    if (x < 0) return -1;
    const axnn_shape *xs = &g->vals[x].shape;
    int64_t in_f = xs->nd >= 2 ? xs->d[xs->nd - 1] : 0; /* (N, in) or tokens (N, T, in) */
    int64_t wd[2] = {out, in_f}, bd[1] = {out};
    int in[3] = {x, param(g, name, "weight", AXNN_VAL_PARAM, AXNN_F32, 2, wd, 0), -1};
    int nin = 2;
    if (bias) in[nin++] = param(g, name, "bias", AXNN_VAL_PARAM, AXNN_F32, 1, bd, AXNN_VF_NO_DECAY);
    for (int i = 0; i < nin; i++)
        if (in[i] < 0) return -1;
    axnn_linear_attr a = {out, bias};
    return axnn_op_node(g, &axnn_op_linear, name, in, nin, &a, sizeof a);
}

int axnn_add(axnn_graph *g, int a, int b)
{
    if (a < 0 || b < 0) return -1;
    int in[2] = {a, b};
    return axnn_op_node(g, &axnn_op_add, "add", in, 2, NULL, 0);
}

int axnn_dropout(axnn_graph *g, int x, float p)
{
    if (x < 0) return -1;
    axnn_dropout_attr a = {p};
    return axnn_op_node(g, &axnn_op_dropout, "dropout", &x, 1, &a, sizeof a);
}

int axnn_softmax_ce(axnn_graph *g, int logits, int labels, float label_smoothing)
{
    if (logits < 0 || labels < 0) return -1;
    int in[2] = {logits, labels};
    axnn_ce_attr a = {label_smoothing};
    int v = axnn_op_node(g, &axnn_op_softmax_ce, "loss", in, 2, &a, sizeof a);
    if (v >= 0) {
        g->loss = v;
        g->logits = logits;
    }
    return v;
}
