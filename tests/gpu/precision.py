#!/usr/bin/env python3
"""--precision on --target=opencl (PoCL): f32 MatMul (and Gemm: transB,
alpha, the products scaled by |alpha|) operands rounded as a
tensor core reads them (tf32: nearest, ties away; fp16/bf16: nearest even),
products accumulated in fp32. For each precision the device result must
  1. match the emulation (operands rounded here in numpy, product in f64)
     within the fp32 accumulation bound gamma_K * sum|a~||b~|;
  2. match the exact product within the bound the precision allows,
     (2u + u^2) sum|a||b| + gamma_K sum|a~||b~| (u = 2^-11 tf32/fp16, 2^-8 bf16);
  3. for tf32/fp16/bf16, differ from the exact product by more than fp32
     accumulation alone explains (the rounding really happened).
Exits 77 when there is no OpenCL device.
usage: precision.py VIBEEC VIBEERUN WORK"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

U = {"fp32": 2.0 ** -24, "tf32": 2.0 ** -11, "fp16": 2.0 ** -11, "bf16": 2.0 ** -8}


def round_to(x, prec):
    x = np.asarray(x, np.float32)
    u = x.view(np.uint32).astype(np.uint64)
    finite = (u & 0x7F800000) != 0x7F800000
    if prec == "fp32":
        return x.copy()
    if prec == "fp16":
        return x.astype(np.float16).astype(np.float32)
    if prec == "tf32":   # ties away from zero: add half an ulp to the magnitude
        r = np.where(finite, (u + 0x1000) & 0xFFFFE000, u)
    else:                # bf16, nearest even
        r = np.where(finite, (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000, u)
    return r.astype(np.uint32).view(np.float32)


def model(path, a_shape, b_shape, alpha):
    if alpha is None:
        y_shape = list(a_shape[:-1]) + [b_shape[-1]]
        node = helper.make_node("MatMul", ["A", "B"], ["Y"])
    else:   # Gemm, B given as [N, K]
        y_shape = [a_shape[0], b_shape[0]]
        node = helper.make_node("Gemm", ["A", "B"], ["Y"], transB=1, alpha=alpha)
    g = helper.make_graph(
        [node], "mm",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, a_shape),
         helper.make_tensor_value_info("B", TensorProto.FLOAT, b_shape)],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, y_shape)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def check(vibeec, vrun, work, name, a_shape, b_shape, rng, alpha=None):
    d = os.path.join(work, name)
    data = os.path.join(d, "data")
    os.makedirs(data, exist_ok=True)
    onnx_path = os.path.join(d, "model.onnx")
    model(onnx_path, a_shape, b_shape, alpha)
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = rng.standard_normal(b_shape).astype(np.float32)
    for i, t in enumerate((a, b)):
        with open(os.path.join(data, "input_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(t).SerializeToString())
    al = 1.0 if alpha is None else alpha
    bt = (lambda x: x) if alpha is None else (lambda x: x.T)
    exact = al * np.matmul(a.astype(np.float64), bt(b.astype(np.float64)))
    K = a_shape[-1]
    gamma = 1.01 * K * 2.0 ** -24
    ok = True
    for prec in ("fp32", "tf32", "fp16", "bf16"):
        so = os.path.join(d, prec + ".so")
        out = os.path.join(d, "out_" + prec)
        os.makedirs(out, exist_ok=True)
        rc, msg = run([vibeec, onnx_path, "--target=opencl", "--precision=" + prec, "-o", so])
        if rc:
            print("%s %s: vibeec failed:\n%s" % (name, prec, msg))
            return False
        rc, msg = run([vrun, so, "--data", data, "--out", out, "--threads", "2"])
        if rc == 2 and "no OpenCL device found" in msg:
            print("skipped: no OpenCL device")
            sys.exit(77)
        if rc:
            print("%s %s: vibee-run failed:\n%s" % (name, prec, msg))
            return False
        t = onnx.TensorProto()
        with open(os.path.join(out, "output_0.pb"), "rb") as f:
            t.ParseFromString(f.read())
        y = numpy_helper.to_array(t).astype(np.float64)
        ar, br = round_to(a, prec).astype(np.float64), round_to(b, prec).astype(np.float64)
        emul = al * np.matmul(ar, bt(br))
        s_r = abs(al) * np.matmul(np.abs(ar), np.abs(bt(br)))
        s = abs(al) * np.matmul(np.abs(a.astype(np.float64)), np.abs(bt(b.astype(np.float64))))
        u = U[prec]
        e_emul = np.abs(y - emul) / (gamma * s_r + 1e-30)
        tol = (2 * u + u * u) * s + gamma * s_r
        e_exact = np.abs(y - exact) / tol
        fp32_only = np.abs(y - exact) / (gamma * s + 1e-30)
        print("%s %-4s: |y-emul|/bound %.3f  |y-exact|/bound %.3f  |y-exact|/fp32 bound %.3f"
              % (name, prec, e_emul.max(), e_exact.max(), fp32_only.max()))
        if e_emul.max() > 1 or e_exact.max() > 1:
            print("  FAIL: outside the bound")
            ok = False
        if prec != "fp32" and fp32_only.max() <= 1:
            print("  FAIL: result as exact as fp32: operands were not rounded")
            ok = False
    return ok


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    vibeec, vrun, work = sys.argv[1:]
    rng = np.random.default_rng(6)
    ok = check(vibeec, vrun, work, "b2d", [2, 37, 70], [70, 45], rng)
    ok = check(vibeec, vrun, work, "batched", [3, 16, 33], [3, 33, 19], rng) and ok
    ok = check(vibeec, vrun, work, "gemm", [21, 50], [35, 50], rng, alpha=0.5) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
