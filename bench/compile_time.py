#!/usr/bin/env python3
"""Times vibeec on a generated model with ~100M float32 parameters (an MLP of
25 MatMul+Add+Relu layers of 2000x2000), to check that weights go into the
.so as binary data quickly. Prints parameters, file size and seconds.

usage: python3 bench/compile_time.py [--build build] [--layers 25] [--width 2000]
"""
import argparse, os, subprocess, sys, tempfile, time
import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper

def make(path, layers, width):
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    x = "x"
    for i in range(layers):
        w = (rng.standard_normal((width, width), dtype=np.float32) * (1.0 / np.sqrt(width))).astype(np.float32)
        b = np.zeros(width, np.float32)
        inits += [numpy_helper.from_array(w, "w%d" % i), numpy_helper.from_array(b, "b%d" % i)]
        nodes += [helper.make_node("MatMul", [x, "w%d" % i], ["m%d" % i]),
                  helper.make_node("Add", ["m%d" % i, "b%d" % i], ["a%d" % i]),
                  helper.make_node("Relu", ["a%d" % i], ["r%d" % i])]
        x = "r%d" % i
    g = helper.make_graph(nodes, "mlp100m",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
                          [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, width])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(m, path)
    return layers * (width * width + width)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--layers", type=int, default=25)
    ap.add_argument("--width", type=int, default=2000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        model = os.path.join(d, "mlp.onnx")
        params = make(model, a.layers, a.width)
        so = os.path.join(d, "mlp.so")
        t0 = time.time()
        p = subprocess.run([os.path.join(a.build, "vibeec"), model, "-o", so])
        dt = time.time() - t0
        if p.returncode:
            print("vibeec failed (exit %d)" % p.returncode)
            return 1
        print("params %d  onnx %.1f MB  so %.1f MB  vibeec %.2f s"
              % (params, os.path.getsize(model) / 1e6, os.path.getsize(so) / 1e6, dt))
        print("command: python3 bench/compile_time.py --build %s --layers %d --width %d"
              % (a.build, a.layers, a.width))
    return 0

if __name__ == "__main__":
    sys.exit(main())
