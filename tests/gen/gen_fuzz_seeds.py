#!/usr/bin/python3
"""Writes the small seed corpora of the fuzz targets into tests/fuzz/<target>/ (stdlib only).

Each seed is a valid input of its target (or a near miss), so the fuzzer starts from inputs
that reach deep into the parser. The formats of the multi-file targets are described at the
top of each tests/fuzz/fuzz_<target>.c. Run: /usr/bin/python3 tests/gen/gen_fuzz_seeds.py
"""
import gzip
import json
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors(tensors, meta=None, crc=False):
    """tensors: list of (name, dtype, shape, bytes). With crc, stamps axnn_crc32 as axnn does."""
    hdr, off, data = {}, 0, b""
    if meta is not None or crc:
        m = dict(meta or {})
        if crc:
            m["axnn_crc32"] = "00000000"
        hdr["__metadata__"] = m
    for name, dt, shape, raw in tensors:
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        data += raw
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    out = struct.pack("<Q", len(h)) + h + data
    if crc:
        c = zlib.crc32(out) & 0xFFFFFFFF
        out = out.replace(b'"axnn_crc32":"00000000"', b'"axnn_crc32":"%08x"' % c)
    return out


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


def gen_safetensors():
    put("safetensors", "plain", safetensors([("fc.bias", "F32", [2], f32(1, 2)),
                                              ("fc.weight", "F32", [2, 2], f32(1, 0, 0, 1))]))
    meta = {"format": "axnn-checkpoint-1", "arch": "resnet20", "num_classes": "10",
            "in_channels": "1", "height": "28", "width": "28", "dataset": "mnist", "epoch": "1",
            "step": "2", "seed": "1", "mean": "[0.13]", "std": "[0.3]", "optim_steps": "2",
            "train": '{"epochs":"2","lr":"0.1"}'}
    put("safetensors", "checkpoint", safetensors(
        [("bn1.running_var", "F32", [2], f32(1, 0.5)), ("bn1.num_batches_tracked", "I64", [], struct.pack("<q", 3)),
         ("optim.fc.weight.momentum_buffer", "F32", [1, 2], f32(0, 0))], meta, crc=True))
    put("safetensors", "dtypes", safetensors(
        [("a", "F16", [2], struct.pack("<2H", 0x3C00, 0x7C00)), ("b", "BF16", [1], struct.pack("<H", 0x3F80)),
         ("c", "F64", [1], struct.pack("<d", 2.5)), ("d", "I8", [2], b"\x01\xff"), ("e", "BOOL", [1], b"\x01"),
         ("f", "U8", [0], b""), ("g", "I32", [1], struct.pack("<i", -5)), ("h", "I16", [1], struct.pack("<h", 7))]))
    put("safetensors", "nan", safetensors([("w", "F32", [1], f32(float("nan")))]))


def idx(magic, dims, body):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + body


def gen_idx():
    n = 3
    img = idx(0x803, [n, 4, 4], bytes(range(16 * n)))
    lab = idx(0x801, [n], bytes([0, 1, 2]))
    put("idx", "raw", b"\x00" + img + b"\nLABELS\n" + lab)
    put("idx", "gz_inside", b"\x03" + img + b"\nLABELS\n" + lab)
    put("idx", "gz_file", b"\x00" + gzip.compress(img, mtime=0) + b"\nLABELS\n" + lab)
    put("idx", "short", b"\x00" + img[:20] + b"\nLABELS\n" + lab)


def gen_cifar():
    rec10 = bytes([3]) + bytes(i % 256 for i in range(3072))
    put("cifar", "c10", b"\x00" + rec10 * 2 + b"\nNAMES\n" + b"\n".join(b"c%d" % i for i in range(10)) + b"\n")
    rec100 = bytes([7, 42]) + bytes(3072)
    put("cifar", "c100", b"\x01" + rec100 + b"\nNAMES\n" + b"a\nb\n")
    put("cifar", "c100coarse", b"\x03" + rec100 + b"\nNAMES\n" + b"\n".join(b"k%d" % i for i in range(20)))


# A valid 64x64 grayscale baseline JPEG, built by hand: one DC-only Huffman table, every 8x8
# block coded as DC difference 0 with end-of-block. (No encoder in the stdlib.)
def tiny_jpeg():
    def seg(marker, payload):
        return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload
    soi = b"\xff\xd8"
    dqt = seg(0xDB, b"\x00" + bytes([1] * 64))
    sof = seg(0xC0, b"\x08" + struct.pack(">HH", 64, 64) + b"\x01" + b"\x01\x11\x00")
    # DC table 0: one code of length 1 for category 0. AC table 0: one code of length 1 for EOB.
    dht = seg(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00" + b"\x10" + bytes([1] + [0] * 15) + b"\x00")
    sos = seg(0xDA, b"\x01" + b"\x01\x00" + b"\x00\x3f\x00")
    # 64 blocks, each "0" (DC cat 0) then "0" (EOB): 128 zero bits = 16 bytes.
    scan = bytes(16)
    return soi + dqt + sof + dht + sos + scan + b"\xff\xd9"


def gen_tinyimagenet():
    j = tiny_jpeg()
    put("jpeg", "gray64", j)
    put("jpeg", "truncated", j[:len(j) // 2])
    wn = b"n01443537\nn01629819\n"
    put("tinyimagenet", "val", wn + b"\nANNOT\n" + b"a.JPEG\tn01629819\t0\t0\t63\t63\n" + b"\nJPEG\n" + j)
    put("tinyimagenet", "badclass", wn + b"\nANNOT\n" + b"a.JPEG\tn99\n" + b"\nJPEG\n" + j)


def gen_axmul():
    table = [(a * b) for a in range(-128, 128) for b in range(-128, 128)]
    meta = {"format": "axnn-multiplier-1", "name": "fz", "source": "fuzz seed", "power_mw": "-1",
            "power_estimated": "false", "area_um2": "-1", "delay_ns": "-1"}
    put("axmul", "exact_axmul", b"\x00" + safetensors(
        [("table", "I32", [256, 256], struct.pack("<65536i", *table))], meta, crc=True))
    put("axmul", "exact_bin", b"\x01" + struct.pack("<65536h", *[max(-32768, min(32767, t)) for t in table]))
    rows = [",".join("0" for c in range(256)) for r in range(256)]  # a zero table keeps it small
    put("axmul", "zero_csv", b"\x02" + ("\n".join(rows) + "\n").encode())


def gen_config():
    put("config", "saved", json.dumps({"arch": "resnet20", "milestones": "30,60", "epochs": "15",
                                       "patch": "4", "lr": "0.100000001", "clip": "0",
                                       "hflip": "true", "seed": "1"}).encode())
    put("config", "bad_range", b'{"epochs":"0","lr":"1e9"}')


if __name__ == "__main__":
    gen_safetensors()
    gen_idx()
    gen_cifar()
    gen_tinyimagenet()
    gen_axmul()
    gen_config()
