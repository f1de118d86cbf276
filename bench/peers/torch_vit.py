#!/usr/bin/python3
"""PyTorch peer of bench/bench_vit.c: the same measurement with the same Vision Transformers.

The model is timm's VisionTransformer (class token, learned position embedding, pre-norm blocks
with qkv bias, exact GELU, LayerNorm eps 1e-6, head on the class token), written out here so
that nothing is downloaded: vit_tiny (192, 12 blocks, 3 heads, MLP 768) and vit_small (384, 12,
6, 1536). Attention is written as timm writes it without fused kernels (q @ k^T, softmax, @ v):
torch 1.13's CPU scaled_dot_product_attention does not exist yet.

Train step: zero the gradients, forward, cross-entropy, backward, gradient-norm clipping to 1,
AdamW (lr 1e-3, weight decay 0.05 except on norms, biases and embeddings). Eval: model.eval()
under torch.no_grad(). Warmup untimed, then the median of the timed iterations. Prints
"torch <model> <train|eval> <img/s> <median ms>" per measurement.

Run with /usr/bin/python3; exits 0 with a message when torch is not installed.
"""
import argparse
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("torch_vit.py: PyTorch is not installed; skipping the peer measurement", file=sys.stderr)
    sys.exit(0)

CONFIGS = {"vit_tiny": (192, 12, 3, 768), "vit_small": (384, 12, 6, 1536), "vit_mini": (128, 6, 4, 256)}


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        a = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(B, N, C))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, name, img, patch, classes):
        super().__init__()
        dim, depth, heads, hidden = CONFIGS[name]
        self.proj = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, (img // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, hidden) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


def timed(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return statistics.median(t)


def bench(name, args):
    torch.manual_seed(42)
    model = ViT(name, args.size, args.patch, args.classes)
    x = torch.randn(args.batch, 3, args.size, args.size)
    y = torch.randint(0, args.classes, (args.batch,))
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n and "token" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n and "token" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-3)

    def train_step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    def eval_step():
        with torch.no_grad():
            model(x)

    if args.mode in ("train", "both"):
        model.train()
        m = timed(train_step, args.warmup, args.iters)
        print(f"torch {name} train {args.batch / m:.1f} {1e3 * m:.3f}", flush=True)
    if args.mode in ("eval", "both"):
        if args.mode == "eval":
            # One untimed training step first: torch 1.13 runs the eval of a model that has never
            # run backward several times slower on our 2-core machine (see torch_engine.py).
            model.train()
            train_step()
        model.eval()
        m = timed(eval_step, args.warmup, args.iters)
        print(f"torch {name} eval {args.batch / m:.1f} {1e3 * m:.3f}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--models", default="vit_tiny,vit_small")
    p.add_argument("--mode", choices=["train", "eval", "both"], default="both")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--patch", type=int, default=8)
    p.add_argument("--classes", type=int, default=200)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch_vit.py: torch {torch.__version__}, {args.threads} threads, batch {args.batch}", file=sys.stderr)
    for name in args.models.split(","):
        bench(name, args)


if __name__ == "__main__":
    main()
