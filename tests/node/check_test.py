#!/usr/bin/env python3
"""Tests of `vibeec --check` (every unsupported node listed, exit 0/1) and of
the opset 1-6 forms the frontend maps onto today's semantics (broadcast with
axis, per-channel PRelu, Cast-1's string type, Concat-1's default axis),
each checked against numpy computing the old spec's meaning.

usage: check_test.py VIBEEC VIBEE-RUN     (exit 77 without python onnx)
"""
import os, shutil, subprocess, sys, tempfile
try:
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper, TensorProto as TP
except ImportError:
    print("python onnx/numpy not available: skipped")
    sys.exit(77)

VIBEEC, VIBEERUN = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="vibee-check-")
failures = 0

def model(nodes, inputs, outputs, opset, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 3 if opset < 7 else 7
    return m

def save(m, name):
    p = os.path.join(work, name + ".onnx")
    onnx.save(m, p)
    return p

def vi(name, dt, shape):
    return helper.make_tensor_value_info(name, dt, shape)

def expect(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)
    else:
        print("ok:", what)

def check(path):
    p = subprocess.run([VIBEEC, "--check", path], capture_output=True, text=True)
    return p.returncode, [l for l in p.stdout.splitlines() if l.strip()], p.stderr

# 1. a supported model: exit 0, nothing listed
m = model([helper.make_node("Relu", ["x"], ["y"], name="r")],
          [vi("x", TP.FLOAT, [2, 3])], [vi("y", TP.FLOAT, [2, 3])], 13)
rc, lines, _ = check(save(m, "ok"))
expect(rc == 0 and lines == [], "supported model: exit 0, no lines (%d, %r)" % (rc, lines))

# 2. three bad nodes of different kinds, all listed; nodes after a bad one
#    are not blamed for it
m = model([helper.make_node("Relu", ["x"], ["a"], name="fine"),
           helper.make_node("FooBar", ["a"], ["b"], name="unknown_op"),
           helper.make_node("Relu", ["b"], ["c"], name="downstream"),
           helper.make_node("Frob", ["a"], ["d"], name="other_domain", domain="com.example"),
           helper.make_node("MatMul", ["x", "w"], ["e"], name="bad_matmul")],
          [vi("x", TP.FLOAT, [2, 3]), vi("w", TP.FLOAT, [4, 5])],
          [vi("c", TP.FLOAT, None), vi("d", TP.FLOAT, None), vi("e", TP.FLOAT, None)], 13)
m.opset_import.append(helper.make_opsetid("com.example", 1))
rc, lines, err = check(save(m, "bad"))
expect(rc == 1, "unsupported nodes: exit 1 (%d)" % rc)
expect(len(lines) == 2 and "'unknown_op' (FooBar, opset 13)" in lines[0]
       and "'other_domain' (com.example.Frob, opset 1)" in lines[1],
       "unknown op and foreign domain both listed: %r" % lines)
# shape problems show once every node exists
m2 = model([helper.make_node("MatMul", ["x", "w"], ["e"], name="bad_matmul"),
            helper.make_node("Relu", ["e"], ["f"], name="after"),
            helper.make_node("Transpose", ["x"], ["t"], name="bad_perm", perm=[0, 0])],
           [vi("x", TP.FLOAT, [2, 3]), vi("w", TP.FLOAT, [4, 5])],
           [vi("f", TP.FLOAT, None), vi("t", TP.FLOAT, None)], 13)
rc, lines, err = check(save(m2, "badshape"))
expect(rc == 1 and len(lines) == 2 and "'bad_matmul' (MatMul, opset 13)" in lines[0]
       and "'bad_perm' (Transpose, opset 13)" in lines[1],
       "shape-rule failures listed, dependents skipped: %r" % lines)

# 3. old forms that cannot be mapped are refused by name
m = model([helper.make_node("Reshape", ["x"], ["y"], name="old_reshape", shape=[3, 2]),
           helper.make_node("Tile", ["x", "t", "ax"], ["z"], name="old_tile")],
          [vi("x", TP.FLOAT, [2, 3]), vi("t", TP.INT64, [1]), vi("ax", TP.INT64, [1])],
          [vi("y", TP.FLOAT, None), vi("z", TP.FLOAT, None)], 1)
rc, lines, _ = check(save(m, "old"))
expect(rc == 1 and len(lines) == 2 and "'old_reshape' (Reshape, opset 1)" in lines[0]
       and "not supported" in lines[0] and "'old_tile' (Tile, opset 1)" in lines[1],
       "Reshape-1 and Tile-1 refused: %r" % lines)

# 4. old forms mapped onto today's semantics: compile, run, compare to numpy
def run_case(name, m, feeds, want):
    path = save(m, name)
    so = os.path.join(work, name + ".so")
    p = subprocess.run([VIBEEC, path, "-o", so], capture_output=True, text=True)
    if p.returncode != 0:
        expect(False, "%s compiles: %s" % (name, p.stderr.strip()))
        return
    ds = os.path.join(work, name + "_data")
    os.makedirs(ds, exist_ok=True)
    for i, (k, v) in enumerate(feeds):
        with open(os.path.join(ds, "input_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(v, k).SerializeToString())
    for i, (k, v) in enumerate(want):
        with open(os.path.join(ds, "output_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(v, k).SerializeToString())
    p = subprocess.run([VIBEERUN, so, "--data", ds], capture_output=True, text=True)
    expect(p.returncode == 0, "%s matches numpy (%s)" % (name, (p.stdout + p.stderr).strip()[-200:]))

rng = np.random.default_rng(3)
a = rng.standard_normal((2, 3, 4)).astype(np.float32)
b = rng.standard_normal((3,)).astype(np.float32)
c = rng.standard_normal((3, 4)).astype(np.float32)
# Add-6 / Mul-6 with broadcast=1, axis: B lines up with A's dims from axis on
m = model([helper.make_node("Add", ["a", "b"], ["y"], name="add_axis1", broadcast=1, axis=1),
           helper.make_node("Mul", ["a", "c"], ["z"], name="mul_axis_neg", broadcast=1, axis=-2)],
          [vi("a", TP.FLOAT, [2, 3, 4]), vi("b", TP.FLOAT, [3]), vi("c", TP.FLOAT, [3, 4])],
          [vi("y", TP.FLOAT, [2, 3, 4]), vi("z", TP.FLOAT, [2, 3, 4])], 6)
run_case("bcast_axis", m, [("a", a), ("b", b), ("c", c)],
         [("y", a + b.reshape(1, 3, 1)), ("z", a * c.reshape(1, 3, 4))])
# PRelu-6: a 1-D slope is per channel (dim 1)
x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
s = np.array([0.1, 0.2, 0.3], np.float32)
m = model([helper.make_node("PRelu", ["x", "s"], ["y"], name="prelu")],
          [vi("x", TP.FLOAT, [2, 3, 4, 5])], [vi("y", TP.FLOAT, [2, 3, 4, 5])], 6,
          [numpy_helper.from_array(s, "s")])
run_case("prelu6", m, [("x", x)], [("y", np.where(x < 0, x * s.reshape(1, 3, 1, 1), x))])
# Cast-1 names its type by string; Concat-1 defaults to axis 1
p = rng.standard_normal((2, 2)).astype(np.float32) * 10
m = model([helper.make_node("Cast", ["p"], ["q"], name="cast1", to="INT32"),
           helper.make_node("Concat", ["p", "p"], ["r"], name="concat1")],
          [vi("p", TP.FLOAT, [2, 2])], [vi("q", TP.INT32, [2, 2]), vi("r", TP.FLOAT, [2, 4])], 1)
m.graph.node[0].attribute[0].type = onnx.AttributeProto.STRING
run_case("cast1_concat1", m, [("p", p)],
         [("q", np.trunc(p).astype(np.int32)), ("r", np.concatenate([p, p], axis=1))])

shutil.rmtree(work, ignore_errors=True)
sys.exit(1 if failures else 0)
