/* Vision Transformers as timm's VisionTransformer (class token, learned position embedding,
 * pre-norm blocks, no pre-logits layer), with its state_dict names:
 *
 *   patch_embed.proj.{weight,bias}   conv, kernel = stride = patch: (N, C, H, W) -> (N, D, h, w)
 *   cls_token (1, 1, D), pos_embed (1, 1 + h*w, D)
 *   blocks.i.norm1, blocks.i.attn.qkv, blocks.i.attn.proj       x = x + proj(attn(qkv(norm1(x))))
 *   blocks.i.norm2, blocks.i.mlp.fc1, blocks.i.mlp.fc2          x = x + fc2(gelu(fc1(norm2(x))))
 *   norm, head                                                  logits = head(norm(x)[:, 0])
 *
 * The final norm is applied to the class token only (pooling first): LayerNorm works token by
 * token, so the logits are those of timm's norm-then-pool, for less work. Stochastic depth, when
 * asked for, sits on both residual branches with timm's linear schedule over the blocks.
 *
 * Initialization follows timm's init_weights (mode ''): linear weights trunc_normal(std .02)
 * and zero biases, pos_embed trunc_normal(.02), cls_token normal(std 1e-6), LayerNorm weight 1
 * and bias 0, and the patch embedding's conv keeps PyTorch's default (uniform, bound
 * 1 / sqrt(fan_in), bias too).
 *
 * Names: vit_tiny (192, 12 blocks, 3 heads, MLP 768) and vit_small (384, 12, 6, 1536) are
 * timm's; vit_mini (128, 6, 4, 256) is ours, small enough to train on Fashion-MNIST in minutes
 * on two cores. A suffix "_p<N>" fixes the patch size; without one it defaults by image size
 * (4 up to 32 pixels, 8 up to 64 as for Tiny ImageNet, else 16).
 */
#include "axnn/models.h"
#include "axnn/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vit_arch {
    const char *name;
    int dim, depth, heads, mlp_dim;
} vit_arch;

static const vit_arch archs[] = {
    {"vit_tiny", 192, 12, 3, 768},
    {"vit_small", 384, 12, 6, 1536},
    {"vit_mini", 128, 6, 4, 256},
};

axnn_status axnn_vit_lookup(const char *arch, axnn_vit_cfg *out)
{
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        size_t len = strlen(archs[i].name);
        if (strncmp(arch, archs[i].name, len)) continue;
        const char *rest = arch + len;
        int patch = 0;
        if (*rest) {
            char *end;
            long p = strncmp(rest, "_p", 2) ? 0 : strtol(rest + 2, &end, 10);
            if (p < 1 || p > 1024 || *end) continue;
            patch = (int)p;
        }
        *out = (axnn_vit_cfg){archs[i].dim, archs[i].depth, archs[i].heads, archs[i].mlp_dim, patch, 0, 0.0f};
        return AXNN_OK;
    }
    return axnn_error(AXNN_ERR_ARG, "'%s' is not a ViT (vit_tiny, vit_small, vit_mini, optionally _p<patch>)", arch);
}

static axnn_value *val(axnn_graph *g, const char *module, const char *leaf)
{
    char key[AXNN_NAME_MAX];
    snprintf(key, sizeof key, "%s.%s", module, leaf);
    return &g->vals[axnn_graph_find_value(g, key)];
}

/* A linear layer with timm's init: trunc_normal(.02) weight, zero bias. */
static int linear(axnn_graph *g, const char *name, int x, int out, axnn_rng *r)
{
    int y = axnn_linear(g, name, x, out, true);
    if (y >= 0) axnn_init_trunc_normal(val(g, name, "weight"), 0.02f, -2.0f, 2.0f, r);
    return y;
}

static int residual(axnn_graph *g, int x, int branch, float drop)
{
    if (drop > 0.0f) branch = axnn_drop_path(g, branch, drop);
    return axnn_add(g, x, branch);
}

static int block(axnn_graph *g, int x, int i, const axnn_vit_cfg *c, axnn_rng *r)
{
    char n[AXNN_NAME_MAX];
    const float drop = c->depth > 1 ? c->drop_path * (float)i / (float)(c->depth - 1) : c->drop_path;
    snprintf(n, sizeof n, "blocks.%d.norm1", i);
    int h = axnn_layernorm(g, n, x, 1e-6f);
    snprintf(n, sizeof n, "blocks.%d.attn.qkv", i);
    h = linear(g, n, h, 3 * c->dim, r);
    snprintf(n, sizeof n, "blocks.%d.attn", i);
    h = axnn_attention(g, n, h, c->heads);
    snprintf(n, sizeof n, "blocks.%d.attn.proj", i);
    x = residual(g, x, linear(g, n, h, c->dim, r), drop);
    snprintf(n, sizeof n, "blocks.%d.norm2", i);
    h = axnn_layernorm(g, n, x, 1e-6f);
    snprintf(n, sizeof n, "blocks.%d.mlp.fc1", i);
    h = axnn_gelu(g, linear(g, n, h, c->mlp_dim, r));
    snprintf(n, sizeof n, "blocks.%d.mlp.fc2", i);
    return residual(g, x, linear(g, n, h, c->dim, r), drop);
}

int axnn_build_vit(axnn_graph *g, int x, const axnn_vit_cfg *c, axnn_rng *r)
{
    axnn_conv2d_attr pa = {c->dim, c->patch, c->patch, c->patch, c->patch, 0, 0, true};
    int y = axnn_conv2d_ex(g, "patch_embed.proj", x, &pa);
    if (y < 0) return -1;
    axnn_init_torch_linear(val(g, "patch_embed.proj", "weight"), val(g, "patch_embed.proj", "bias"), r);
    y = axnn_cls_token(g, "", axnn_tokens(g, y));
    y = axnn_pos_embed(g, "", y);
    if (y < 0) return -1;
    axnn_init_trunc_normal(&g->vals[axnn_graph_find_value(g, "pos_embed")], 0.02f, -2.0f, 2.0f, r);
    axnn_init_normal(&g->vals[axnn_graph_find_value(g, "cls_token")], 1e-6f, r);
    for (int i = 0; i < c->depth && y >= 0; i++) y = block(g, y, i, c, r);
    y = axnn_layernorm(g, "norm", axnn_cls_pool(g, y), 1e-6f);
    return linear(g, "head", y, c->num_classes, r);
}
