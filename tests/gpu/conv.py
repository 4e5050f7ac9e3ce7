#!/usr/bin/env python3
"""Device convolution on --target=opencl (PoCL): Conv models covering
groups (2, depthwise), strides, asymmetric pads, auto_pad, dilations, 1-D
convolution, bias, and the fused epilogues (Relu, Silu, a residual Add
then Relu) are compiled, run with vibee-run and compared with ONNX
Runtime (float64 bound: |y - ref| <= 1e-5 * sum|w||x| + 1e-6). Each model
must run its convolution on the device: the host C (--emit=c) must show
the conv node as a device launch and no library or reference conv call.
Exits 77 when there is no OpenCL device.
usage: conv.py VIBEEC VIBEERUN WORK"""
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

# name, x shape, w shape, conv attributes, bias, epilogue
CASES = [
    ("basic_relu", [2, 3, 10, 11], [20, 3, 3, 3], {"pads": [1, 1, 1, 1]}, True, "relu"),
    ("group2_stride", [1, 6, 9, 8], [8, 3, 3, 2],
     {"group": 2, "strides": [2, 1], "pads": [1, 0, 2, 1]}, True, ""),
    ("depthwise_silu", [1, 16, 12, 12], [16, 1, 3, 3],
     {"group": 16, "strides": [2, 2], "pads": [1, 1, 1, 1]}, True, "silu"),
    ("dilated", [1, 4, 13, 13], [5, 4, 3, 3], {"dilations": [2, 3], "pads": [2, 3, 2, 3]}, False, ""),
    ("conv1d", [2, 5, 17], [7, 5, 4], {"strides": [3], "pads": [1, 2], "dilations": [2]}, True, ""),
    ("residual_relu", [1, 8, 7, 7], [24, 8, 1, 1], {}, True, "res_relu"),
    ("same_upper", [1, 3, 11, 10], [6, 3, 5, 5], {"auto_pad": "SAME_UPPER", "strides": [2, 2]},
     True, "relu"),
    ("wide_k", [1, 40, 6, 6], [33, 40, 3, 3], {"pads": [1, 1, 1, 1]}, True, ""),
]


def build(path, xs, ws, attrs, bias, epi, rng):
    inits = [numpy_helper.from_array(rng.standard_normal(ws).astype(np.float32), "W")]
    ins = ["X", "W"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal([ws[0]]).astype(np.float32), "B"))
        ins.append("B")
    nodes = [helper.make_node("Conv", ins, ["C"], **attrs)]
    graph_in = [helper.make_tensor_value_info("X", TensorProto.FLOAT, xs)]
    last = "C"
    if epi == "relu":
        nodes.append(helper.make_node("Relu", ["C"], ["Y"]))
        last = "Y"
    elif epi == "silu":
        nodes.append(helper.make_node("Sigmoid", ["C"], ["S"]))
        nodes.append(helper.make_node("Mul", ["C", "S"], ["Y"]))
        last = "Y"
    elif epi == "res_relu":
        nodes.append(helper.make_node("Add", ["C", "R"], ["A"]))
        nodes.append(helper.make_node("Relu", ["A"], ["Y"]))
        last = "Y"
    g = helper.make_graph(nodes, "conv", graph_in,
                          [helper.make_tensor_value_info(last, TensorProto.FLOAT, None)], inits)
    if epi == "res_relu":   # the residual's shape is the output's: ask ONNX Runtime
        m0 = helper.make_model(helper.make_graph(nodes[:1], "c", graph_in,
                               [helper.make_tensor_value_info("C", TensorProto.FLOAT, None)], inits),
                               opset_imports=[helper.make_opsetid("", 17)])
        m0.ir_version = 8
        s = ort.InferenceSession(m0.SerializeToString(), providers=["CPUExecutionProvider"])
        cs = s.run(None, {"X": np.zeros(xs, np.float32)})[0].shape
        g.input.append(helper.make_tensor_value_info("R", TensorProto.FLOAT, list(cs)))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)
    return m


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def check(vibeec, vrun, work, case, rng):
    name, xs, ws, attrs, bias, epi = case
    d = os.path.join(work, name)
    data, out = os.path.join(d, "data"), os.path.join(d, "out")
    os.makedirs(data, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    m = build(path, xs, ws, attrs, bias, epi, rng)
    feeds = {}
    for i, vi in enumerate(m.graph.input):
        shape = [dd.dim_value for dd in vi.type.tensor_type.shape.dim]
        feeds[vi.name] = rng.standard_normal(shape).astype(np.float32)
        with open(os.path.join(data, "input_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(feeds[vi.name], vi.name).SerializeToString())
    so = os.path.join(d, "model.so")
    rc, msg = run([vibeec, path, "--target=opencl", "-o", so])
    if rc:
        print("%s: vibeec failed:\n%s" % (name, msg))
        return False
    # the convolution is a device launch, not a host (library/reference) call
    hc = os.path.join(d, "host.c")
    rc, msg = run([vibeec, path, "--target=opencl", "--emit=c", "-o", hc])
    if rc:
        print("%s: vibeec --emit=c failed:\n%s" % (name, msg))
        return False
    src = open(hc).read()
    dev = re.findall(r"^/\* (?:Conv|fused_conv) '[^']*': \d+ device launch", src, re.M)
    host = re.findall(r"^/\* (?:Conv|fused_conv) '[^']*' \(", src, re.M)
    if len(dev) != 1 or host:
        print("%s: conv not on the device (device %d, host %d)" % (name, len(dev), len(host)))
        return False
    rc, msg = run([vrun, so, "--data", data, "--out", out, "--threads", "2"])
    if rc == 2 and "no OpenCL device found" in msg:
        print("skipped: no OpenCL device")
        sys.exit(77)
    if rc:
        print("%s: vibee-run failed:\n%s" % (name, msg))
        return False
    t = onnx.TensorProto()
    with open(os.path.join(out, "output_0.pb"), "rb") as f:
        t.ParseFromString(f.read())
    y = numpy_helper.to_array(t).astype(np.float64)
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    ref = sess.run(None, feeds)[0].astype(np.float64)
    # scale: the same conv of |x| and |w| (ONNX Runtime, in float32)
    am = onnx.ModelProto()
    am.CopyFrom(m)
    del am.graph.node[1:]
    am.graph.output[0].name = "C"
    for init in am.graph.initializer:
        a = np.abs(numpy_helper.to_array(init))
        init.CopyFrom(numpy_helper.from_array(a, init.name))
    del am.graph.input[1:]
    asess = ort.InferenceSession(am.SerializeToString(), providers=["CPUExecutionProvider"])
    scale = asess.run(None, {"X": np.abs(feeds["X"])})[0].astype(np.float64)
    if "R" in feeds:
        scale = scale + np.abs(feeds["R"])
    if y.shape != ref.shape:
        print("%s: shape %s, reference %s" % (name, y.shape, ref.shape))
        return False
    err = np.abs(y - ref) / (1e-5 * scale + 1e-6)
    print("%-15s y%s: max |y-ref|/bound %.3f" % (name, list(y.shape), err.max()))
    return bool(err.max() <= 1)


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    if ort is None:
        print("skipped: onnxruntime is not installed")
        return 77
    vibeec, vrun, work = sys.argv[1:]
    rng = np.random.default_rng(6)
    ok = True
    for c in CASES:
        ok = check(vibeec, vrun, work, c, rng) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
