#!/usr/bin/python3
"""PyTorch peer of bench/bench_engine.c: the same measurement with the same models.

The CNNs follow the definitions of chenyaofo/pytorch-cifar-models (CifarResNet with BasicBlocks
and a 1x1 conv + BN downsample; VGG with batch norm and a 512-512-classes classifier with
dropout). The Vision Transformers are timm's VisionTransformer (class token, learned position
embedding, pre-norm blocks with qkv bias, exact GELU, LayerNorm eps 1e-6, head on the class
token): vit_tiny (192, 12 blocks, 3 heads, MLP 768), vit_small (384, 12, 6, 1536) and vit_mini
(128, 6, 4, 256), with attention written as timm writes it without fused kernels (q @ k^T,
softmax, @ v; torch 1.13 has no CPU scaled_dot_product_attention). All are written out here so
that nothing is downloaded.

Train step: zero the gradients, forward, cross-entropy, backward, then for the CNNs SGD
(lr 0.01, momentum 0.9, weight decay 5e-4), for the ViTs gradient-norm clipping to 1 and AdamW
(lr 1e-3, weight decay 0.05 except on norms, biases and embeddings). Eval: model.eval() under
torch.no_grad(). Input 3x32x32 with 10 classes for the CNNs and 3x64x64, patch 8, 200 classes
for the ViTs unless --size/--patch/--classes say otherwise. Warmup untimed, then the median of
the timed iterations. Prints "torch <model> <train|eval> <img/s> <median ms> <best img/s>" per
measurement (img/s from the median step time; the last field from the fastest step).

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
    print("torch_engine.py: PyTorch is not installed; skipping the peer measurement", file=sys.stderr)
    sys.exit(0)


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class CifarResNet(nn.Module):
    def __init__(self, blocks, num_classes=10):
        super().__init__()
        self.cin = 16
        self.conv1 = conv3x3(3, 16)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._stage(16, blocks, 1)
        self.layer2 = self._stage(32, blocks, 2)
        self.layer3 = self._stage(64, blocks, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _stage(self, planes, blocks, stride):
        down = None
        if stride != 1 or self.cin != planes:
            down = nn.Sequential(nn.Conv2d(self.cin, planes, 1, stride=stride, bias=False),
                                 nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.cin, planes, stride, down)]
        self.cin = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


VGG_CFG = {11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]}


class VGG(nn.Module):
    def __init__(self, cfg, num_classes=10):
        super().__init__()
        layers, cin = [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(),
            nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(),
            nn.Linear(512, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


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


def build(name, size, patch, classes):
    if name == "resnet20":
        return CifarResNet(3, classes)
    if name == "vgg11_bn":
        return VGG(VGG_CFG[11], classes)
    if name in CONFIGS:
        return ViT(name, size, patch, classes)
    raise SystemExit(f"torch_engine.py: unknown model {name}")


def timed(fn, warmup, iters):
    """(median, fastest) step time in seconds"""
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return statistics.median(t), min(t)


def optimizer(name, model):
    if name not in CONFIGS:
        return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    nodecay = lambda n, p: p.dim() < 2 or "embed" in n or "token" in n
    params = list(model.named_parameters())
    return torch.optim.AdamW([{"params": [p for n, p in params if not nodecay(n, p)], "weight_decay": 0.05},
                              {"params": [p for n, p in params if nodecay(n, p)], "weight_decay": 0.0}], lr=1e-3)


def bench(name, args):
    vit = name in CONFIGS
    size = args.size or (64 if vit else 32)
    classes = args.classes or (200 if vit else 10)
    torch.manual_seed(42)
    model = build(name, size, args.patch, classes)
    x = torch.randn(args.batch, 3, size, size)
    y = torch.randint(0, classes, (args.batch,))
    opt = optimizer(name, model)

    def train_step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        if vit:
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    def eval_step():
        with torch.no_grad():
            model(x)

    if args.mode in ("train", "both"):
        model.train()
        m, b = timed(train_step, args.warmup, args.iters)
        print(f"torch {name} train {args.batch / m:.1f} {1e3 * m:.3f} {args.batch / b:.1f}", flush=True)
    if args.mode in ("eval", "both"):
        if args.mode == "eval":
            # One untimed training step first. Torch 1.13's eval of a model that has never run
            # backward is 5-6x slower on our 2-core machine (about 450 against 3000 img/s for
            # resnet20); measuring that would flatter axnn.
            model.train()
            train_step()
        model.eval()
        m, b = timed(eval_step, args.warmup, args.iters)
        print(f"torch {name} eval {args.batch / m:.1f} {1e3 * m:.3f} {args.batch / b:.1f}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--models", default="resnet20,vgg11_bn")
    p.add_argument("--mode", choices=["train", "eval", "both"], default="both")
    p.add_argument("--size", type=int, default=0, help="input size (0: 32 for CNNs, 64 for ViTs)")
    p.add_argument("--patch", type=int, default=8, help="ViT patch size")
    p.add_argument("--classes", type=int, default=0, help="classes (0: 10 for CNNs, 200 for ViTs)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch_engine.py: torch {torch.__version__}, {args.threads} threads, batch {args.batch}",
          file=sys.stderr)
    for name in args.models.split(","):
        bench(name, args)


if __name__ == "__main__":
    main()
