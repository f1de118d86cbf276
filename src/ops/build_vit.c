/* Builder calls of the transformer nodes (axnn/ops.h). Parameters start as the reference module
 * leaves them before its own initialization (LayerNorm: weight 1, bias 0; embeddings 0); the ViT
 * builder (src/models/vit.c) initializes them as timm does. Norms, biases and embeddings are
 * flagged AXNN_VF_NO_DECAY. */
#include "axnn/ops.h"

#include "ops/op.h"

static int64_t last_dim(const axnn_graph *g, int x)
{
    const axnn_shape *s = &g->vals[x].shape;
    return s->nd ? s->d[s->nd - 1] : 0;
}

int axnn_tokens(axnn_graph *g, int x)
{
    if (x < 0) return -1;
    return axnn_op_node(g, &axnn_op_tokens, "tokens", &x, 1, NULL, 0);
}

int axnn_cls_token(axnn_graph *g, const char *module, int x)
{
    if (x < 0) return -1;
    int64_t d[3] = {1, 1, last_dim(g, x)};
    int in[2] = {x, axnn_op_param(g, module, "cls_token", AXNN_VAL_PARAM, AXNN_F32, 3, d, AXNN_VF_NO_DECAY)};
    if (in[1] < 0) return -1;
    return axnn_op_node(g, &axnn_op_cls_token, module && module[0] ? module : "cls_token", in, 2, NULL, 0);
}

int axnn_pos_embed(axnn_graph *g, const char *module, int x)
{
    if (x < 0) return -1;
    const axnn_shape *s = &g->vals[x].shape;
    int64_t d[3] = {1, s->nd == 3 ? s->d[1] : 0, last_dim(g, x)};
    int in[2] = {x, axnn_op_param(g, module, "pos_embed", AXNN_VAL_PARAM, AXNN_F32, 3, d, AXNN_VF_NO_DECAY)};
    if (in[1] < 0) return -1;
    return axnn_op_node(g, &axnn_op_pos_embed, module && module[0] ? module : "pos_embed", in, 2, NULL, 0);
}

int axnn_layernorm(axnn_graph *g, const char *name, int x, float eps)
{
    if (x < 0) return -1;
    int64_t d[1] = {last_dim(g, x)};
    int in[3] = {x, axnn_op_param(g, name, "weight", AXNN_VAL_PARAM, AXNN_F32, 1, d, AXNN_VF_NO_DECAY),
                 axnn_op_param(g, name, "bias", AXNN_VAL_PARAM, AXNN_F32, 1, d, AXNN_VF_NO_DECAY)};
    if (in[1] < 0 || in[2] < 0) return -1;
    float *w = g->vals[in[1]].data;
    for (int64_t i = 0; i < d[0]; i++) w[i] = 1.0f;
    axnn_layernorm_attr a = {eps};
    return axnn_op_node(g, &axnn_op_layernorm, name, in, 3, &a, sizeof a);
}

int axnn_attention(axnn_graph *g, const char *name, int qkv, int heads)
{
    if (qkv < 0) return -1;
    axnn_attention_attr a = {heads};
    return axnn_op_node(g, &axnn_op_attention, name, &qkv, 1, &a, sizeof a);
}

int axnn_gelu(axnn_graph *g, int x)
{
    if (x < 0) return -1;
    return axnn_op_node(g, &axnn_op_gelu, "gelu", &x, 1, NULL, 0);
}

int axnn_drop_path(axnn_graph *g, int x, float p)
{
    if (x < 0) return -1;
    axnn_drop_path_attr a = {p};
    return axnn_op_node(g, &axnn_op_drop_path, "drop_path", &x, 1, &a, sizeof a);
}

int axnn_cls_pool(axnn_graph *g, int x)
{
    if (x < 0) return -1;
    return axnn_op_node(g, &axnn_op_cls_pool, "cls_pool", &x, 1, NULL, 0);
}
