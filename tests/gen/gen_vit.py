#!/usr/bin/python3
"""Golden data from PyTorch for axnn's Vision Transformer tests (tests/test_vit_ops.c,
tests/test_vit_models.c).

Run from the repository root with Debian's python3-torch:  /usr/bin/python3 tests/gen/gen_vit.py
Outputs (committed, small) go to tests/data/:

  vit_ops_golden.safetensors   one case per transformer node configuration, in the layout of
                               ops_golden.safetensors (see gen_golden.py): inputs, parameters, a
                               random upstream gradient dy, the output y and the autograd
                               gradients of loss = (y * dy).sum(), as "<case>.<tensor>", with the
                               attributes of each case as JSON in __metadata__.
  vit_micro_weights.safetensors  a plain state_dict export of a small ViT (16x16 images, patch 4,
                               dim 32, 2 blocks, 2 heads, MLP 64, 10 classes) with random weights.
  vit_micro_io.safetensors     its input, labels, logits, loss (label smoothing 0.1) and the
                               gradients of every parameter.
  vit_tiny32_small.safetensors vit_tiny (dim 192, 12 blocks, 3 heads, MLP 768) on 32x32 images
                               with patch 8 and 10 classes: the tensors that are not matrices
                               (norms, biases, cls_token, pos_embed). Its linear and conv weights
                               (5.4 M floats) are not stored but made by hash_uniform() of
                               gen_golden.py, which tests/test_vit_models.c mirrors in C.
  vit_tiny32_io.safetensors    its input, labels, logits, loss, and gradients of some parameters
                               (the first 6144 elements of each, flattened).

The reference model below is written to match timm's VisionTransformer (class token, learned
position embedding, pre-norm blocks with qkv bias, exact GELU, LayerNorm eps 1e-6, head on the
class token), with timm's module names, so its state_dict keys are timm's. timm itself is not
installed (nor needed).
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden import OUT, Cases, backward, hash_uniform, st_write  # noqa: E402


# ------------------------------------------------------------------ reference ViT (timm) ----

class PatchEmbed(nn.Module):
    def __init__(self, patch, cin, dim):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        return self.proj(attention(self.qkv(x), self.heads))


def attention(qkv, heads):
    """timm's Attention.forward between qkv and proj."""
    B, N, C3 = qkv.shape
    C = C3 // 3
    q, k, v = qkv.reshape(B, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4).unbind(0)
    a = (q * (C // heads) ** -0.5) @ k.transpose(-2, -1)
    a = a.softmax(dim=-1)
    return (a @ v).transpose(1, 2).reshape(B, N, C)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(self, img, patch, cin, classes, dim, depth, heads, hidden):
        super().__init__()
        self.patch_embed = PatchEmbed(patch, cin, dim)
        tokens = (img // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, hidden) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


# ------------------------------------------------------------------------------ op cases ----

def unary(c, name, attrs, x, fn, **params):
    x = x.requires_grad_()
    leaves = [x] + list(params.values())
    y = fn(x)
    dy, g = backward(y, *leaves)
    grads = {"d" + k: v for k, v in zip(["x"] + list(params), g)}
    c.add(name, attrs, x=x, y=y, dy=dy, **params, **grads)


def layernorm_case(c, name, shape):
    d = shape[-1]
    w = (torch.rand(d) + 0.5).requires_grad_()
    b = (torch.rand(d) - 0.5).requires_grad_()
    x = torch.randn(*shape) * 2.0 + 0.7
    unary(c, name, {"op": "layernorm", "eps": 1e-6}, x, lambda t: F.layer_norm(t, (d,), w, b, 1e-6),
          weight=w, bias=b)


def linear_case(c, name):
    lin = nn.Linear(7, 9)
    x = torch.randn(2, 5, 7)
    unary(c, name, {"op": "linear", "out": 9, "bias": True}, x, lin, weight=lin.weight, bias=lin.bias)


def gen_ops():
    torch.manual_seed(4)
    c = Cases()
    unary(c, "tokens", {"op": "tokens"}, torch.randn(2, 5, 3, 4), lambda t: t.flatten(2).transpose(1, 2))
    cls = torch.randn(1, 1, 6).requires_grad_()
    unary(c, "cls_token", {"op": "cls_token"}, torch.randn(2, 4, 6),
          lambda t: torch.cat((cls.expand(t.shape[0], -1, -1), t), dim=1), cls_token=cls)
    pos = torch.randn(1, 5, 6).requires_grad_()
    unary(c, "pos_embed", {"op": "pos_embed"}, torch.randn(2, 5, 6), lambda t: t + pos, pos_embed=pos)
    layernorm_case(c, "layernorm_d24", (2, 5, 24))
    layernorm_case(c, "layernorm_d32_2d", (3, 32))
    layernorm_case(c, "layernorm_d5", (4, 5))
    linear_case(c, "linear_tokens")
    unary(c, "attention_t7_h3", {"op": "attention", "heads": 3}, torch.randn(2, 7, 36) * 1.5,
          lambda t: attention(t, 3))
    unary(c, "attention_t20_h2", {"op": "attention", "heads": 2}, torch.randn(2, 20, 96),
          lambda t: attention(t, 2))
    unary(c, "attention_t65_h1", {"op": "attention", "heads": 1}, torch.randn(1, 65, 48),
          lambda t: attention(t, 1))
    g = torch.cat([torch.linspace(-9, 9, 181), torch.randn(57) * 3, torch.zeros(2)]).reshape(4, 60)
    unary(c, "gelu", {"op": "gelu"}, g, F.gelu)
    unary(c, "drop_path_p0", {"op": "drop_path", "p": 0.0}, torch.randn(3, 4, 5), lambda t: t * 1.0)
    unary(c, "cls_pool", {"op": "cls_pool"}, torch.randn(2, 5, 6), lambda t: t[:, 0])
    meta = dict(c.meta)
    meta["cases"] = json.dumps(c.names)
    meta["generator"] = "tests/gen/gen_vit.py, torch " + torch.__version__
    st_write(os.path.join(OUT, "vit_ops_golden.safetensors"), c.tensors, meta)


# -------------------------------------------------------------------------------- models ----

def model_io(model, x, labels, grad_names, max_grad=None):
    """Logits, loss and gradients; with max_grad, only the first max_grad elements (in
    row-major order) of each gradient are kept, and the test compares that prefix."""
    model.train()  # no dropout, no drop path, no BatchNorm: train and eval agree
    z = model(x)
    loss = F.cross_entropy(z, labels, label_smoothing=0.1)
    loss.backward()
    out = {"input": x, "labels": labels, "logits": z, "loss": loss.reshape(1)}
    params = dict(model.named_parameters())
    for k in grad_names:
        g = params[k].grad.flatten()
        out["grad." + k] = g[:max_grad].clone() if max_grad else g
    return out


def gen_micro():
    torch.manual_seed(32)
    model = VisionTransformer(16, 4, 3, 10, 32, 2, 2, 64)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
                p.uniform_(0.6, 1.4)
            elif p.dim() == 1:
                p.uniform_(-0.2, 0.2)
            elif p.dim() == 3:
                p.normal_(0.0, 0.3)
            else:
                fan_in = p[0].numel()
                p.uniform_(-(3.0 / fan_in) ** 0.5, (3.0 / fan_in) ** 0.5)
    st_write(os.path.join(OUT, "vit_micro_weights.safetensors"), model.state_dict(), {"format": "pt"})
    x = torch.randn(3, 3, 16, 16)
    labels = torch.tensor([4, 0, 9])
    io = model_io(model, x, labels, [n for n, _ in model.named_parameters()])
    st_write(os.path.join(OUT, "vit_micro_io.safetensors"), io, {"model": "vit_micro", "label_smoothing": "0.1"})


def gen_tiny32():
    torch.manual_seed(192)
    model = VisionTransformer(32, 8, 3, 10, 192, 12, 3, 768)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() in (2, 4):
                fan_in = p[0].numel()
                scale = float(torch.tensor(1.0 / math.sqrt(fan_in), dtype=torch.float32))
                p.copy_(hash_uniform(name, p.numel(), scale).reshape(p.shape))
            elif "norm" in name and name.endswith(".weight"):
                p.uniform_(0.7, 1.3)
            elif p.dim() == 1:
                p.uniform_(-0.1, 0.1)
            else:
                p.normal_(0.0, 0.5)
    small = {k: v for k, v in model.state_dict().items() if v.dim() not in (2, 4)}
    st_write(os.path.join(OUT, "vit_tiny32_small.safetensors"), small,
             {"format": "pt", "note": "linear/conv weights come from hash_uniform (tests/gen/gen_golden.py), "
                                      "scale 1/sqrt(fan_in)"})
    x = torch.randn(2, 3, 32, 32)
    labels = torch.tensor([3, 8])
    grads = ["patch_embed.proj.weight", "cls_token", "pos_embed", "blocks.0.attn.qkv.weight",
             "blocks.0.norm1.weight", "blocks.5.mlp.fc1.bias", "blocks.11.attn.proj.weight",
             "blocks.11.mlp.fc2.weight", "norm.bias", "head.weight", "head.bias"]
    io = model_io(model, x, labels, grads, max_grad=6144)
    params = dict(model.named_parameters())
    for k in ("patch_embed.proj.weight", "head.weight"):  # first values, to diagnose a hash mismatch
        io["hash_check." + k] = params[k].detach().flatten()[:16].clone()
    st_write(os.path.join(OUT, "vit_tiny32_io.safetensors"), io, {"model": "vit_tiny_p8", "label_smoothing": "0.1"})


def main():
    torch.set_num_threads(1)
    gen_ops()
    gen_micro()
    gen_tiny32()
    names = [f for f in os.listdir(OUT) if f.startswith("vit_") and f.endswith(".safetensors")]
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in names)
    print(f"total {total} bytes")
    assert total < 2 * 1024 * 1024, "golden data too large"


if __name__ == "__main__":
    sys.exit(main())
