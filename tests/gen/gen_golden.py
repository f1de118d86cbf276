#!/usr/bin/python3
"""Golden data from PyTorch for axnn's correctness tests (tests/test_ops.c, tests/test_models.c).

Run from the repository root with Debian's python3-torch:  /usr/bin/python3 tests/gen/gen_golden.py
Outputs (committed, small) go to tests/data/:

  ops_golden.safetensors       one case per op configuration: inputs, parameters, a random upstream
                               gradient dy, the output y and the autograd gradients of
                               loss = (y * dy).sum() (dx, dweight, dbias, ...), as "<case>.<tensor>".
                               __metadata__: "cases" (JSON list of names) and, per case, a JSON
                               object of attributes ({"op": "conv2d", "kh": 3, ...}).
  resnet20_weights.safetensors a plain state_dict export of CifarResNet-20 (as a user would make
                               it), BN running statistics randomized so eval-mode BN is exercised.
  resnet20_io.safetensors      input, labels, eval and train logits and losses, running stats after
                               the train-mode forward, and gradients of some parameters.
  vgg11_bn_bn.safetensors      vgg11_bn's BN tensors and biases; the conv and linear weights (39 MB)
                               are not stored but generated from hash_uniform() below, which
                               tests/test_models.c implements identically in C.
  vgg11_bn_io.safetensors      as resnet20_io (train mode with dropout disabled).

Files are written by st_write(), a small safetensors writer (json + struct): the Python
`safetensors` package is not installed. The model definitions follow chenyaofo/pytorch-cifar-models.
"""
import copy
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")

# ----------------------------------------------------------------------------------- files ----

ST_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
             torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
             torch.uint8: "U8", torch.bool: "BOOL"}


def st_write(path, tensors, metadata=None):
    """Writes a safetensors file: tensors sorted by name, header space-padded to 8 bytes."""
    header, chunks, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)
    print(f"wrote {os.path.relpath(path)}: {len(tensors)} tensors, {os.path.getsize(path)} bytes")


# ------------------------------------------------------------------------------ op cases ----

class Cases:
    def __init__(self):
        self.tensors, self.meta, self.names = {}, {}, []

    def add(self, name, attrs, **tensors):
        assert name not in self.meta
        self.names.append(name)
        self.meta[name] = json.dumps(attrs, separators=(",", ":"))
        for k, v in tensors.items():
            if v is not None:
                self.tensors[f"{name}.{k}"] = v.detach().clone()


def backward(y, *leaves):
    """Random upstream gradient dy; returns dy and d((y*dy).sum())/d leaf for each leaf."""
    dy = torch.randn_like(y)
    grads = torch.autograd.grad((y * dy).sum(), leaves)
    return dy, grads


def conv_case(c, name, n, cin, h, w, cout, k, s, p, bias):
    kh, kw = k
    x = torch.randn(n, cin, h, w, requires_grad=True)
    conv = nn.Conv2d(cin, cout, k, s, p, bias=bias)
    y = conv(x)
    leaves = [x, conv.weight] + ([conv.bias] if bias else [])
    dy, g = backward(y, *leaves)
    attrs = {"op": "conv2d", "cout": cout, "kh": kh, "kw": kw, "sh": s[0], "sw": s[1], "ph": p[0],
             "pw": p[1], "bias": bias, "train": True}
    c.add(name, attrs, x=x, weight=conv.weight, bias=conv.bias if bias else None, y=y, dy=dy, dx=g[0],
          dweight=g[1], dbias=g[2] if bias else None)


def bn_case(c, name, train):
    n, ch, h, w = 3, 4, 5, 3
    x = (torch.randn(n, ch, h, w) * 2.0 + 0.5).requires_grad_()
    bn = nn.BatchNorm2d(ch)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.num_batches_tracked.fill_(5)
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    bn.train(train)
    y = bn(x)
    attrs = {"op": "batchnorm2d", "eps": bn.eps, "momentum": bn.momentum, "train": train}
    t = dict(x=x, weight=before["weight"], bias=before["bias"], running_mean=before["running_mean"],
             running_var=before["running_var"], num_batches_tracked=before["num_batches_tracked"], y=y)
    if train:
        dy, g = backward(y, x, bn.weight, bn.bias)
        t.update(dy=dy, dx=g[0], dweight=g[1], dbias=g[2], running_mean_out=bn.running_mean,
                 running_var_out=bn.running_var, num_batches_tracked_out=bn.num_batches_tracked)
    c.add(name, attrs, **t)


def unary_case(c, name, attrs, x, fn):
    x = x.requires_grad_()
    y = fn(x)
    if attrs.get("train", True):
        dy, g = backward(y, x)
        c.add(name, attrs, x=x, y=y, dy=dy, dx=g[0])
    else:
        c.add(name, attrs, x=x, y=y)


def pool_case(c, name, op, n, ch, h, w, k, s, p):
    attrs = {"op": op, "kh": k[0], "kw": k[1], "sh": s[0], "sw": s[1], "ph": p[0], "pw": p[1], "train": True}
    x = torch.randn(n, ch, h, w)
    if op == "maxpool2d":
        fn = lambda t: F.max_pool2d(t, k, s, p)
    else:
        fn = lambda t: F.avg_pool2d(t, k, s, p, count_include_pad=True)
    unary_case(c, name, attrs, x, fn)


def linear_case(c, name, bias):
    x = torch.randn(3, 7, requires_grad=True)
    lin = nn.Linear(7, 5, bias=bias)
    y = lin(x)
    leaves = [x, lin.weight] + ([lin.bias] if bias else [])
    dy, g = backward(y, *leaves)
    c.add(name, {"op": "linear", "out": 5, "bias": bias, "train": True}, x=x, weight=lin.weight,
          bias=lin.bias if bias else None, y=y, dy=dy, dx=g[0], dweight=g[1], dbias=g[2] if bias else None)


def ce_case(c, name, smoothing):
    x = (torch.randn(5, 7) * 2.0).requires_grad_()
    labels = torch.tensor([0, 6, 3, 3, 1], dtype=torch.int64)
    y = F.cross_entropy(x, labels, label_smoothing=smoothing)
    dy = torch.tensor(0.7)
    (g,) = torch.autograd.grad(y * dy, x)
    c.add(name, {"op": "softmax_ce", "label_smoothing": smoothing, "train": True}, x=x, labels=labels,
          y=y.reshape(1), dy=dy.reshape(1), dx=g)


def gen_ops():
    torch.manual_seed(1234)
    c = Cases()
    conv_case(c, "conv_k3s1p1_bias", 2, 3, 7, 7, 4, (3, 3), (1, 1), (1, 1), True)
    conv_case(c, "conv_k3s2p1", 2, 3, 7, 7, 4, (3, 3), (2, 2), (1, 1), False)
    conv_case(c, "conv_k1s2p0", 2, 4, 7, 7, 6, (1, 1), (2, 2), (0, 0), False)
    conv_case(c, "conv_k1s1p0_bias", 2, 5, 4, 3, 3, (1, 1), (1, 1), (0, 0), True)
    conv_case(c, "conv_k3x2_s2x1_p1x0_bias", 3, 2, 7, 6, 5, (3, 2), (2, 1), (1, 0), True)
    conv_case(c, "conv_k5s1p2", 1, 3, 6, 6, 2, (5, 5), (1, 1), (2, 2), False)
    conv_case(c, "conv_k2s2p0_bias", 2, 3, 6, 5, 4, (2, 2), (2, 2), (0, 0), True)
    bn_case(c, "bn_train", True)
    bn_case(c, "bn_eval", False)
    x = torch.randn(2, 3, 4, 5)
    x[0, 0, 0, :3] = 0.0  # relu'(0) = 0, as in PyTorch
    unary_case(c, "relu", {"op": "relu", "train": True}, x, F.relu)
    pool_case(c, "maxpool_k2s2p0", "maxpool2d", 2, 3, 6, 6, (2, 2), (2, 2), (0, 0))
    pool_case(c, "maxpool_k3s2p1", "maxpool2d", 2, 3, 7, 7, (3, 3), (2, 2), (1, 1))
    pool_case(c, "maxpool_k3s1p1", "maxpool2d", 1, 2, 5, 6, (3, 3), (1, 1), (1, 1))
    pool_case(c, "maxpool_k3s2p0", "maxpool2d", 2, 2, 7, 7, (3, 3), (2, 2), (0, 0))
    pool_case(c, "maxpool_k3x2_s2x1_p1x0", "maxpool2d", 2, 2, 7, 6, (3, 2), (2, 1), (1, 0))
    ties = torch.randint(0, 3, (2, 2, 6, 6)).float()  # many equal maxima: the first one wins
    unary_case(c, "maxpool_k3s1p1_ties", {"op": "maxpool2d", "kh": 3, "kw": 3, "sh": 1, "sw": 1, "ph": 1, "pw": 1,
                                          "train": True}, ties, lambda t: F.max_pool2d(t, 3, 1, 1))
    pool_case(c, "avgpool_k2s2p0", "avgpool2d", 2, 3, 6, 6, (2, 2), (2, 2), (0, 0))
    pool_case(c, "avgpool_k3s2p1", "avgpool2d", 2, 3, 7, 7, (3, 3), (2, 2), (1, 1))
    pool_case(c, "avgpool_k3s1p0", "avgpool2d", 1, 2, 5, 6, (3, 3), (1, 1), (0, 0))
    pool_case(c, "avgpool_k3x2_s2x1_p1x0", "avgpool2d", 2, 2, 7, 6, (3, 2), (2, 1), (1, 0))
    unary_case(c, "global_avgpool", {"op": "global_avgpool", "train": True}, torch.randn(2, 3, 5, 4),
               lambda t: F.adaptive_avg_pool2d(t, 1))
    unary_case(c, "flatten", {"op": "flatten", "train": True}, torch.randn(2, 3, 4, 5),
               lambda t: torch.flatten(t, 1))
    linear_case(c, "linear_bias", True)
    linear_case(c, "linear_nobias", False)
    a = torch.randn(2, 3, 4, 5, requires_grad=True)
    b = torch.randn(2, 3, 4, 5, requires_grad=True)
    y = a + b
    dy, g = backward(y, a, b)
    c.add("add", {"op": "add", "train": True}, x=a, b=b, y=y, dy=dy, dx=g[0], db=g[1])
    unary_case(c, "dropout_p0_train", {"op": "dropout", "p": 0.0, "train": True}, torch.randn(3, 8),
               lambda t: F.dropout(t, 0.0, training=True))
    unary_case(c, "dropout_p05_eval", {"op": "dropout", "p": 0.5, "train": False}, torch.randn(2, 3, 4, 4),
               lambda t: F.dropout(t, 0.5, training=False))
    ce_case(c, "softmax_ce_ls0", 0.0)
    ce_case(c, "softmax_ce_ls01", 0.1)
    meta = dict(c.meta)
    meta["cases"] = json.dumps(c.names)
    meta["generator"] = "tests/gen/gen_golden.py, torch " + torch.__version__
    st_write(os.path.join(OUT, "ops_golden.safetensors"), c.tensors, meta)


# -------------------------------------------------------------------------------- models ----
# chenyaofo/pytorch-cifar-models definitions (written out here; same module names and order).

def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class CifarResNet(nn.Module):
    def __init__(self, block, layers, num_classes=10):
        super().__init__()
        self.inplanes = 16
        self.conv1 = conv3x3(3, 16)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, 16, layers[0])
        self.layer2 = self._make_layer(block, 32, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 64, layers[2], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = self.avgpool(x)
        return self.fc(x.view(x.size(0), -1))


VGG_CFG_A = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


class VGG(nn.Module):
    def __init__(self, features, num_classes=10):
        super().__init__()
        self.features = features
        self.classifier = nn.Sequential(
            nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(),
            nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(),
            nn.Linear(512, num_classes))

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


def make_layers(cfg):
    layers, cin = [], 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            layers += [nn.Conv2d(cin, v, kernel_size=3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            cin = v
    return nn.Sequential(*layers)


# ---- the shared weight generator (mirrored by tests/test_models.c) ----
M32 = 0xFFFFFFFF


def fnv1a32(s):
    h = 2166136261
    for b in s.encode():
        h = ((h ^ b) * 16777619) & M32
    return h


def mix32(x):
    """A 32-bit integer hash on an int64 tensor of values in [0, 2^32). The multipliers are below
    2^31, so no product overflows int64."""
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & M32
    x = x ^ (x >> 15)
    x = (x * 0x2C1B3C6D) & M32
    return x ^ (x >> 16)


def hash_uniform(name, n, scale):
    """Element i of tensor `name`: scale * (2u - 1) with u = (mix32(fnv1a32(name) + i * 0x9E3779B1
    mod 2^32) >> 8) / 2^24, all float32 steps exact except the final multiply (rounded once)."""
    i = torch.arange(n, dtype=torch.int64)
    key = (fnv1a32(name) + i * 0x9E3779B1) & M32
    u = (mix32(key) >> 8).to(torch.float32) * (1.0 / 16777216.0)
    return (u * 2.0 - 1.0) * torch.tensor(scale, dtype=torch.float32)


def hash_scale(shape):
    """Conv weights: uniform with the std of Kaiming-normal fan-out, a = sqrt(6 / fan_out);
    linear weights: PyTorch's default bound 1/sqrt(fan_in)."""
    if len(shape) == 4:
        return float(torch.tensor(math.sqrt(6.0 / (shape[0] * shape[2] * shape[3])), dtype=torch.float32))
    return float(torch.tensor(1.0 / math.sqrt(shape[1]), dtype=torch.float32))


def randomize_bn(model, nbatches=3):
    """Random BN affine parameters, then running statistics calibrated on random batches (so eval
    activations stay O(1) through the depth) and perturbed so they differ from batch statistics."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for m in bns:
            m.weight.uniform_(0.6, 1.4)
            m.bias.uniform_(-0.3, 0.3)
            m.reset_running_stats()
            m.momentum = None  # cumulative average while calibrating
        model.train()
        for _ in range(nbatches):
            model(torch.randn(8, 3, 32, 32))
        for m in bns:
            m.momentum = 0.1
            m.running_mean.add_(torch.randn_like(m.running_mean) * 0.1)
            m.running_var.mul_(torch.empty_like(m.running_var).uniform_(0.8, 1.25))
            m.num_batches_tracked.fill_(int(torch.randint(1, 100000, ())))


def relu_margin(model, x):
    """Smallest |ReLU input| in a train-mode forward (dropout off), on a copy of the model."""
    m, seen = copy.deepcopy(model), []
    for r in m.modules():
        if isinstance(r, nn.ReLU):
            r.register_forward_pre_hook(lambda mod, inp: seen.append(float(inp[0].abs().min())))
    m.train()
    for d in m.modules():
        if isinstance(d, nn.Dropout):
            d.eval()
    with torch.no_grad():
        m(x)
    return min(seen)


def pick_input(model, n, seed, margin=1e-5):
    """A batch whose train-mode ReLU inputs all lie at least `margin` from 0. A pre-activation
    within a few ulps of 0 can fall on the other side in axnn (another summation order), and that
    one flipped ReLU changes the gradients of every layer before it by about 1% (batch norm spreads
    it over the channel). Such a batch is a fair test of the forward pass but not of backward."""
    for k in range(2000):
        x = torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed + k))
        m = relu_margin(model, x)
        if m > margin:
            return x, m
    raise RuntimeError("no input batch with a clean ReLU margin")


def run_model(model, x, labels, grad_names, smoothing=0.1):
    """Eval logits/loss, then train-mode logits/loss, running stats after it, and gradients."""
    out = {"input": x, "labels": labels}
    model.eval()
    with torch.no_grad():
        z = model(x)
    out["logits_eval"] = z
    out["loss_eval"] = F.cross_entropy(z, labels, label_smoothing=smoothing).reshape(1)
    model.train()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.eval()  # dropout off: axnn's masks come from its own generator
    z = model(x)
    loss = F.cross_entropy(z, labels, label_smoothing=smoothing)
    loss.backward()
    out["logits_train"] = z
    out["loss_train"] = loss.reshape(1)
    for k, v in model.state_dict().items():
        if "running" in k or "num_batches" in k:
            out["train_state." + k] = v
    params = dict(model.named_parameters())
    for k in grad_names:
        out["grad." + k] = params[k].grad
    return out


def gen_resnet20():
    torch.manual_seed(20)
    model = CifarResNet(BasicBlock, [3, 3, 3], num_classes=10)
    randomize_bn(model)
    st_write(os.path.join(OUT, "resnet20_weights.safetensors"), model.state_dict(), {"format": "pt"})
    x, margin = pick_input(model, 3, 2000)
    labels = torch.tensor([3, 0, 9])
    grads = ["conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
             "layer2.0.downsample.1.bias", "layer3.2.bn2.weight", "layer3.2.conv2.weight", "fc.weight", "fc.bias"]
    io = run_model(model, x, labels, grads)
    st_write(os.path.join(OUT, "resnet20_io.safetensors"), io,
             {"model": "resnet20", "label_smoothing": "0.1", "relu_margin": repr(margin)})


def gen_vgg11_bn():
    torch.manual_seed(11)
    model = VGG(make_layers(VGG_CFG_A), num_classes=10)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() in (2, 4):
                p.copy_(hash_uniform(name, p.numel(), hash_scale(p.shape)).reshape(p.shape))
            elif "features" in name and p.dim() == 1 and name.endswith(".bias") and \
                    isinstance(model.features[int(name.split(".")[1])], nn.Conv2d):
                p.uniform_(-0.1, 0.1)
            elif name.startswith("classifier") and name.endswith(".bias"):
                p.uniform_(-0.05, 0.05)
    randomize_bn(model)
    small = {k: v for k, v in model.state_dict().items() if v.dim() not in (2, 4)}
    st_write(os.path.join(OUT, "vgg11_bn_bn.safetensors"), small,
             {"format": "pt", "note": "conv/linear weights come from hash_uniform (tests/gen/gen_golden.py)"})
    x, margin = pick_input(model, 2, 1100)
    labels = torch.tensor([7, 2])
    # (features.0.bias is left out: a conv bias before train-mode BN has a zero gradient)
    grads = ["features.0.weight", "features.1.weight", "features.26.weight", "classifier.0.bias",
             "classifier.6.weight", "classifier.6.bias"]
    io = run_model(model, x, labels, grads)
    params = dict(model.named_parameters())
    for k in ("features.0.weight", "classifier.6.weight"):  # first values, to diagnose a hash mismatch
        io["hash_check." + k] = params[k].detach().flatten()[:16].clone()
    st_write(os.path.join(OUT, "vgg11_bn_io.safetensors"), io,
             {"model": "vgg11_bn", "label_smoothing": "0.1", "relu_margin": repr(margin)})


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    gen_ops()
    gen_resnet20()
    gen_vgg11_bn()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT) if f.endswith(".safetensors"))
    print(f"total {total} bytes")
    assert total < 5 * 1024 * 1024, "golden data too large"


if __name__ == "__main__":
    sys.exit(main())
