#!/usr/bin/python3
"""Small ONNX models and bad ONNX files for axnn's ONNX reader (tests/test_onnx.c).

Run from the repository root with Debian's torch 1.13 / torchvision 0.14 / onnx 1.12
(apt-get install python3-torch python3-torchvision python3-onnx):

    /usr/bin/python3 tests/gen/gen_onnx.py

Outputs go to tests/data/onnx/ (each file well under 200 KB):

  <net>.onnx            a narrow network exported by torch.onnx.export with a dynamic batch
                        dimension ("batch"), so the exporter emits its shape subgraphs
                        (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) where the code
                        reads x.size(0)
  <net>.input.pb        a fixed input, batch 2 (serialized TensorProto, as ONNX's test data)
  <net>.output.pb       PyTorch's logits for it (eval mode)

  nets: tiny_resnet      an input BatchNorm, conv/BN/ReLU stem, max pool 3x3/2 pad 1, two basic blocks (one with
                         a strided 1x1 downsample), a BatchNorm after the last block (the exporter folds
                         the BNs that follow convs; these two stay BatchNormalization nodes),
                         global average pool, flatten, linear
        tiny_mobilenetv2 stem stride 2, inverted residuals (1x1 expand, depthwise 3x3 stride 1
                         and 2, ReLU6 = Clip, 1x1 project, residual add), a MobileNetV3-style
                         block (hard-swish, opset 14, squeeze-excite with hard-sigmoid), average pool
                         3x3/2 pad 1 with count_include_pad=False and ceil_mode, linear
        tiny_shufflenet  ShuffleNetV2 units: chunk (Split), channel shuffle written with
                         x.size(0) (view, transpose, view), concat, grouped 1x1 conv, max pool
                         with ceil_mode
        tiny_attention   patch embedding, one pre-norm transformer block (LayerNorm, batched
                         MatMul, Softmax, GELU as Erf), opset 17
  tiny_resnet_ext.onnx  tiny_resnet with its weights in tiny_resnet_ext.data (external data)

  bad_*.onnx            hand-made broken graphs (onnx.helper, the checker off):
        bad_short_init   an initializer with fewer values than its shape
        bad_cycle        two nodes that read each other's output
        bad_unknown_op   a node of op "FrobnicateV2"
        bad_no_producer  a graph output that no node produces
        bad_huge_dim     a graph input dimension of 2^40
        bad_attr         a Conv with attribute "frobnicate"
        bad_ext_escape   an initializer whose external data location is "../secret.bin"
        bad_ext_short    one whose external data lies past the end of its file
        bad_opset        a model of opset 9
  unordered.onnx        a valid graph whose nodes are stored consumer first
  (truncated protobufs are made by the C test, by cutting tiny_resnet.onnx)

With --zoo DIR it instead exports torchvision's resnet18, resnet50, mobilenet_v2,
squeezenet1_1, shufflenet_v2_x1_0 and googlenet (random weights, ImageNet shapes, batch 1,
dynamic batch) with PyTorch's logits to DIR/<net>.onnx, .input.pb, .output.pb: too large to
commit (5-100 MB); tests/test_onnx_run.c runs them when AXNN_ONNX_ZOO=DIR is set.
With --opset N DIR it exports the tiny nets at opset N (11..17) to DIR, for the same test.
"""
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "onnx")


def conv_bn(cin, cout, k=3, s=1, groups=1, act=nn.ReLU):
    layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(act(inplace=True) if act in (nn.ReLU, nn.ReLU6) else act())
    return nn.Sequential(*layers)


class Basic(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = conv_bn(cin, cout, 3, stride)
        self.c2 = conv_bn(cout, cout, 3, 1, act=None)
        self.down = conv_bn(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else None

    def forward(self, x):
        r = self.down(x) if self.down is not None else x
        return F.relu(self.c2(self.c1(x)) + r)


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(3)
        self.stem = conv_bn(3, 8)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.b1 = Basic(8, 8, 1)
        self.b2 = Basic(8, 16, 2)
        self.post = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.post(self.b2(self.b1(self.pool(self.stem(self.bn0(x))))))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


class InvRes(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        mid = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.body = nn.Sequential(conv_bn(cin, mid, 1, act=nn.ReLU6),
                                  conv_bn(mid, mid, 3, stride, groups=mid, act=nn.ReLU6),
                                  conv_bn(mid, cout, 1, act=None))

    def forward(self, x):
        y = self.body(x)
        return x + y if self.use_res else y


class SEHardswish(nn.Module):
    """MobileNetV3-style: depthwise conv, hard-swish, squeeze-excite with hard-sigmoid."""

    def __init__(self, c):
        super().__init__()
        self.dw = conv_bn(c, c, 3, 1, groups=c, act=nn.Hardswish)
        self.se1 = nn.Conv2d(c, 4, 1)
        self.se2 = nn.Conv2d(4, c, 1)

    def forward(self, x):
        x = self.dw(x)
        s = F.adaptive_avg_pool2d(x, 1)
        s = F.hardsigmoid(self.se2(F.relu(self.se1(s))))
        return x * s


class TinyMobileNetV2(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 8, 3, 2, act=nn.ReLU6)
        self.blocks = nn.Sequential(InvRes(8, 8, 1, 2), InvRes(8, 12, 2, 3), InvRes(12, 12, 1, 2),
                                    SEHardswish(12))
        self.pool = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        x = self.pool(self.blocks(self.stem(x)))
        x = x.mean((2, 3))
        return self.fc(x)


def channel_shuffle(x, groups):
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous()
    return x.view(b, -1, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c // 2
        self.branch = nn.Sequential(conv_bn(h, h, 1), conv_bn(h, h, 3, 1, groups=h, act=None),
                                    conv_bn(h, h, 1))

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        return channel_shuffle(torch.cat((a, self.branch(b)), 1), 2)


class TinyShuffleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 8, 3, 2)
        self.pool = nn.MaxPool2d(3, 2, 0, ceil_mode=True)
        self.u1 = ShuffleUnit(8)
        self.gconv = conv_bn(8, 16, 1, groups=2)
        self.u2 = ShuffleUnit(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.u2(self.gconv(self.u1(self.pool(self.stem(x)))))
        return self.fc(x.mean((2, 3)))


class TinyAttention(nn.Module):
    def __init__(self, d=16, heads=2):
        super().__init__()
        self.heads = heads
        self.embed = nn.Conv2d(3, d, 8, 8)
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)  # (B, T, d)
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(b, t, 3, self.heads, d // self.heads).permute(
            2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5, dim=-1)
        x = x + self.proj((a @ v).transpose(1, 2).reshape(b, t, d))
        x = x + self.mlp(self.ln2(x))
        return self.head(x.mean(1))


def randomize_bn(model, g):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.1)


def write_tensor(path, arr):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr).SerializeToString())


def export(name, model, opset=13, ext=False, fold=True, out=None, shape=(2, 3, 32, 32)):
    out = out or OUT
    g = torch.Generator().manual_seed(1234)
    for p in model.parameters():
        p.data.copy_(torch.randn(p.shape, generator=g) * (1.0 / max(1, p[0].numel()) ** 0.5))
    randomize_bn(model, g)
    model.eval()
    x = torch.randn(*shape, generator=g)
    path = os.path.join(out, name + ".onnx")
    torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"],
                      do_constant_folding=fold,
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"},
                                                             "logits": {0: "batch"}})
    with torch.no_grad():
        y = model(x).numpy()
    write_tensor(os.path.join(out, name + ".input.pb"), x.numpy())
    write_tensor(os.path.join(out, name + ".output.pb"), y)
    if ext:
        data = os.path.join(OUT, name + "_ext.data")
        if os.path.exists(data):
            os.remove(data)  # onnx appends to an existing external-data file
        m = onnx.load(path)
        onnx.save_model(m, os.path.join(OUT, name + "_ext.onnx"), save_as_external_data=True,
                        all_tensors_to_one_file=True, location=name + "_ext.data",
                        size_threshold=64)
    ops = sorted({n.op_type for n in onnx.load(path).graph.node})
    print(f"{path}: {os.path.getsize(path)} bytes, ops {' '.join(ops)}")


def save_raw(name, graph, opset=13):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = os.path.join(OUT, name + ".onnx")
    with open(path, "wb") as f:
        f.write(m.SerializeToString())  # no checker: these are broken on purpose


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def bad_files():
    relu = helper.make_node("Relu", ["x"], ["y"], name="relu")
    short = helper.make_tensor("w", TensorProto.FLOAT, [4, 4], np.ones(16, np.float32))
    del short.float_data[10:]
    add = helper.make_node("Add", ["x", "w"], ["y"], name="add")
    save_raw("bad_short_init", helper.make_graph([add], "g", [vi("x", [4, 4])], [vi("y", [4, 4])],
                                                 [short]))
    a = helper.make_node("Add", ["x", "b"], ["a"], name="first")
    b = helper.make_node("Relu", ["a"], ["b"], name="second")
    save_raw("bad_cycle", helper.make_graph([a, b], "g", [vi("x", [4])], [vi("b", [4])]))
    u = helper.make_node("FrobnicateV2", ["x"], ["y"], name="frob")
    save_raw("bad_unknown_op", helper.make_graph([u], "g", [vi("x", [4])], [vi("y", [4])]))
    save_raw("bad_no_producer", helper.make_graph([relu], "g", [vi("x", [4])],
                                                  [vi("y", [4]), vi("z", [4])]))
    save_raw("bad_huge_dim", helper.make_graph([relu], "g", [vi("x", [1 << 40, 4])],
                                               [vi("y", [1 << 40, 4])]))
    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 1, 1, 1], np.ones(2, np.float32))
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv1", frobnicate=3)
    save_raw("bad_attr", helper.make_graph([conv], "g", [vi("x", [1, 1, 4, 4])],
                                           [vi("y", [1, 2, 4, 4])], [w]))
    e = helper.make_tensor("w", TensorProto.FLOAT, [4], np.zeros(4, np.float32))
    e.ClearField("float_data")
    e.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../secret.bin"), ("offset", "0"), ("length", "16")):
        entry = e.external_data.add()
        entry.key, entry.value = k, v
    save_raw("bad_ext_escape", helper.make_graph([add], "g", [vi("x", [4])], [vi("y", [4])], [e]))
    e.external_data[0].value = "tiny_resnet_ext.data"  # a real file, read past its end
    e.external_data[1].value = str(1 << 30)
    save_raw("bad_ext_short", helper.make_graph([add], "g", [vi("x", [4])], [vi("y", [4])], [e]))
    save_raw("bad_opset", helper.make_graph([relu], "g", [vi("x", [4])], [vi("y", [4])]), opset=9)
    second = helper.make_node("Relu", ["t"], ["y"], name="second")
    first = helper.make_node("Sigmoid", ["x"], ["t"], name="first")
    save_raw("unordered", helper.make_graph([second, first], "g", [vi("x", [4])], [vi("y", [4])]))


def zoo(out):
    import torchvision.models as tvm
    os.makedirs(out, exist_ok=True)
    nets = {"resnet18": lambda: tvm.resnet18(), "resnet50": lambda: tvm.resnet50(),
            "mobilenet_v2": lambda: tvm.mobilenet_v2(), "squeezenet1_1": lambda: tvm.squeezenet1_1(),
            "shufflenet_v2_x1_0": lambda: tvm.shufflenet_v2_x1_0(),
            "googlenet": lambda: tvm.googlenet(aux_logits=False, transform_input=False,
                                               init_weights=False)}
    for name, make in nets.items():
        export(name, make(), out=out, shape=(1, 3, 224, 224))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--zoo":
        zoo(sys.argv[2])
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--opset":  # the tiny nets at another opset
        os.makedirs(sys.argv[3], exist_ok=True)
        opset = int(sys.argv[2])
        torch.manual_seed(0)
        for name, net in (("tiny_resnet", TinyResNet()), ("tiny_mobilenetv2", TinyMobileNetV2()),
                          ("tiny_shufflenet", TinyShuffleNet())):
            export(name, net, opset=opset, out=sys.argv[3])
        if opset >= 17:
            export("tiny_attention", TinyAttention(), opset=opset, out=sys.argv[3])
        return
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    export("tiny_resnet", TinyResNet(), ext=True)
    export("tiny_mobilenetv2", TinyMobileNetV2(), opset=14)  # 14: HardSwish is an op
    export("tiny_shufflenet", TinyShuffleNet())
    export("tiny_attention", TinyAttention(), opset=17)
    bad_files()


if __name__ == "__main__":
    main()
