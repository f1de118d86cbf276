#!/usr/bin/python3
"""PyTorch peer of bench/bench_engine.c: the same measurement with the same models.

The models follow the definitions of chenyaofo/pytorch-cifar-models (CifarResNet with
BasicBlocks and a 1x1 conv + BN downsample; VGG with batch norm and a 512-512-classes
classifier with dropout), written out here so that nothing is downloaded.

Train step: zero the gradients, forward, cross-entropy, backward, SGD (momentum 0.9, weight
decay 5e-4). Eval: model.eval() under torch.no_grad(). Warmup untimed, then the median of the
timed iterations. Prints "torch <model> <train|eval> <img/s> <median ms> <best img/s>" per
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


def build(name):
    if name == "resnet20":
        return CifarResNet(3)
    if name == "vgg11_bn":
        return VGG(VGG_CFG[11])
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


def bench(name, args):
    torch.manual_seed(42)
    model = build(name)
    x = torch.randn(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def train_step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
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
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch_engine.py: torch {torch.__version__}, {args.threads} threads, batch {args.batch}",
          file=sys.stderr)
    for name in args.models.split(","):
        bench(name, args)


if __name__ == "__main__":
    main()
