#!/usr/bin/env python3
"""Device Gemm, fused_matmul, LayerNormalization and pooling on
--target=opencl (PoCL): small models are compiled, run with vibee-run and
compared with ONNX Runtime, and each model's node must be a device launch
(--emit=c shows '<op> ...: N device launch' and no host call of it).
  Gemm: transA/transB, alpha, beta, C of [N], [M, 1], [1], [M, N];
  fused_matmul (MatMul + bias Add + Relu / + residual, fused by vibeec);
  LayerNormalization: axis -1 and 1, rows longer than the 128 threads,
    scale with a leading 1, no bias, the Mean / InvStdDev outputs;
  MaxPool (pads, strides), AveragePool (count_include_pad),
  GlobalAveragePool, GlobalMaxPool.
Bounds (float64): products |y - ref| <= 1e-5 (|alpha| |A||B| + |beta C| +
|bias| + |res|) + 1e-6; the others |y - ref| <= 2e-5 (|ref| + 1).
Exits 77 without an OpenCL device or ONNX Runtime.
usage: rows.py VIBEEC VIBEERUN WORK"""
import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

try:
    import onnxruntime as ort
except ImportError:   # the reference is needed
    ort = None

F = TensorProto.FLOAT


def vi(name, shape):
    return helper.make_tensor_value_info(name, F, shape)


def gemm(a, b, c, attrs):
    ins = [vi("A", a), vi("B", b)] + ([vi("C", c)] if c else [])
    nd = helper.make_node("Gemm", ["A", "B"] + (["C"] if c else []), ["Y"], **attrs)
    return [nd], ins, [vi("Y", None)], [], "Gemm"


def fused(res):
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal([33, 40]).astype(np.float32), "W")
    bias = numpy_helper.from_array(rng.standard_normal([40]).astype(np.float32), "Bi")
    nodes = [helper.make_node("MatMul", ["X", "W"], ["M"]),
             helper.make_node("Add", ["M", "Bi"], ["S"])]
    ins = [vi("X", [2, 20, 33])]
    if res:
        nodes.append(helper.make_node("Add", ["S", "R"], ["Y"]))
        ins.append(vi("R", [2, 20, 40]))
    else:
        nodes.append(helper.make_node("Relu", ["S"], ["Y"]))
    return nodes, ins, [vi("Y", None)], [w, bias], "fused_matmul"


def lnorm(x, axis, sshape, bias, stats, eps=1e-5):
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(rng.standard_normal(sshape).astype(np.float32), "Sc")]
    ins = ["X", "Sc"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(sshape).astype(np.float32), "Bi"))
        ins.append("Bi")
    outs = ["Y", "Mean", "Inv"] if stats else ["Y"]
    nd = helper.make_node("LayerNormalization", ins, outs, axis=axis, epsilon=eps)
    return [nd], [vi("X", x)], [vi(o, None) for o in outs], inits, "LayerNormalization"


def pool(op, x, attrs):
    nd = helper.make_node(op, ["X"], ["Y"], **attrs)
    return [nd], [vi("X", x)], [vi("Y", None)], [], op


CASES = [
    ("gemm_plain", gemm([37, 45], [45, 29], None, {})),
    ("gemm_all", gemm([45, 37], [29, 45], [29],
                      {"transA": 1, "transB": 1, "alpha": 0.7, "beta": 1.3})),
    ("gemm_cm", gemm([37, 45], [29, 45], [37, 1], {"transB": 1})),
    ("gemm_c1", gemm([5, 70], [70, 3], [1], {"alpha": -2.0})),
    ("gemm_c2", gemm([17, 33], [33, 18], [17, 18], {"alpha": 2.0, "beta": 0.5})),
    ("fused_relu", fused(False)),
    ("fused_res", fused(True)),
    ("ln_last", lnorm([3, 5, 70], -1, [70], True, False, 1e-3)),
    ("ln_axis1", lnorm([2, 3, 4, 50], 1, [3, 4, 50], False, True)),
    ("ln_wide", lnorm([4, 1000], -1, [1, 1000], True, True)),
    ("maxpool", pool("MaxPool", [1, 3, 13, 12],
                     {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]})),
    ("avgpool", pool("AveragePool", [2, 4, 11, 11],
                     {"kernel_shape": [3, 2], "strides": [2, 1], "pads": [1, 0, 1, 1],
                      "count_include_pad": 1})),
    ("gap", pool("GlobalAveragePool", [2, 5, 9, 7], {})),
    ("gmp", pool("GlobalMaxPool", [1, 6, 17, 3], {})),
]


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def bound(name, feeds, m, ref):
    """float64 error scale of each output element"""
    if not name.startswith(("gemm", "fused")):
        return 2e-5 * (np.abs(ref) + 1)
    am = onnx.ModelProto()   # the same model on |inputs|, |weights|, |alpha|, |beta|
    am.CopyFrom(m)
    for init in am.graph.initializer:
        init.CopyFrom(numpy_helper.from_array(np.abs(numpy_helper.to_array(init)), init.name))
    for nd in am.graph.node:
        for a in nd.attribute:
            if a.name in ("alpha", "beta"):
                a.f = abs(a.f)
        if nd.op_type == "Relu":
            nd.op_type = "Identity"
    s = ort.InferenceSession(am.SerializeToString(), providers=["CPUExecutionProvider"])
    sc = s.run(None, {k: np.abs(v) for k, v in feeds.items()})[0].astype(np.float64)
    return 1e-5 * sc + 1e-6


def check(vibeec, vrun, work, name, spec, rng):
    nodes, ins, outs, inits, op = spec
    d = os.path.join(work, name)
    data, out = os.path.join(d, "data"), os.path.join(d, "out")
    os.makedirs(data, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    m = helper.make_model(helper.make_graph(nodes, name, ins, outs, inits),
                          opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = os.path.join(d, "model.onnx")
    onnx.save(m, path)
    feeds = {}
    for i, v in enumerate(m.graph.input):
        shape = [dd.dim_value for dd in v.type.tensor_type.shape.dim]
        feeds[v.name] = rng.standard_normal(shape).astype(np.float32)
        with open(os.path.join(data, "input_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(feeds[v.name], v.name).SerializeToString())
    so = os.path.join(d, "model.so")
    rc, msg = run([vibeec, path, "--target=opencl", "-o", so])
    if rc:
        print("%s: vibeec failed:\n%s" % (name, msg))
        return False
    hc = os.path.join(d, "host.c")
    rc, msg = run([vibeec, path, "--target=opencl", "--emit=c", "-o", hc])
    if rc:
        print("%s: vibeec --emit=c failed:\n%s" % (name, msg))
        return False
    src = open(hc).read()
    dev = re.findall(r"^/\* %s '[^']*': \d+ device launch" % op, src, re.M)
    host = re.findall(r"^/\* %s '[^']*' \(" % op, src, re.M)
    if len(dev) != 1 or host:
        print("%s: %s not on the device (device %d, host %d)" % (name, op, len(dev), len(host)))
        return False
    rc, msg = run([vrun, so, "--data", data, "--out", out, "--threads", "2"])
    if rc == 2 and "no OpenCL device found" in msg:
        print("skipped: no OpenCL device")
        sys.exit(77)
    if rc:
        print("%s: vibee-run failed:\n%s" % (name, msg))
        return False
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    refs = sess.run(None, feeds)
    ok = True
    for i, r in enumerate(refs):
        t = onnx.TensorProto()
        with open(os.path.join(out, "output_%d.pb" % i), "rb") as f:
            t.ParseFromString(f.read())
        y = numpy_helper.to_array(t).astype(np.float64)
        ref = r.astype(np.float64)
        if y.shape != ref.shape:
            print("%s: output %d shape %s, reference %s" % (name, i, y.shape, ref.shape))
            return False
        err = np.abs(y - ref) / (bound(name, feeds, m, ref) if i == 0 else 2e-5 * (np.abs(ref) + 1))
        print("%-11s %-18s out %d %s: max |y-ref|/bound %.3f" % (name, op, i, list(y.shape),
                                                                err.max()))
        ok = ok and bool(err.max() <= 1)
    return ok


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    if ort is None:
        print("skipped: onnxruntime is not installed")
        return 77
    vibeec, vrun, work = sys.argv[1:]
    rng = np.random.default_rng(7)
    ok = True
    for name, spec in CASES:
        ok = check(vibeec, vrun, work, name, spec, rng) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
