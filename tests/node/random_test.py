#!/usr/bin/env python3
"""The random ops' library kernels (runtime/knode_misc.c, knode_nn.c):
their draws cannot match the ONNX test data, so check what must hold of
any draw instead. Bernoulli gives only 0/1, 0 where p = 0, 1 where p = 1,
and a mean near p; RandomUniformLike stays in [low, high) with a mean near
the middle, and a fixed seed repeats its draw; Dropout in training mode
gives y = x * mask / (1 - ratio) with about ratio of the mask false.

usage: random_test.py VIBEEC VIBEE-RUN     (exit 77 without python onnx)
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
work = tempfile.mkdtemp(prefix="vibee-rand-")
failures = 0


def run(name, graph, feeds, opset=16):
    """Compile and run once; the outputs as numpy arrays (None on failure)."""
    global failures
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    d = os.path.join(work, name)
    ds, od = os.path.join(d, "data"), os.path.join(d, "out")
    os.makedirs(ds)
    os.makedirs(od)
    onnx.save(m, os.path.join(d, "model.onnx"))
    for i, inp in enumerate(graph.input):
        t = numpy_helper.from_array(feeds[inp.name], inp.name)
        open(os.path.join(ds, "input_%d.pb" % i), "wb").write(t.SerializeToString())
    so = os.path.join(d, "model.so")
    p = subprocess.run([VIBEEC, os.path.join(d, "model.onnx"), "-o", so, "--stats"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        failures += 1
        print("FAIL %s: compile: %s" % (name, p.stderr.strip()))
        return None
    if "reference calls:" in p.stdout + p.stderr:
        failures += 1
        print("FAIL %s: the model still makes reference calls" % name)
    p = subprocess.run([VIBEERUN, so, "--data", ds, "--out", od], capture_output=True, text=True)
    if p.returncode != 0:
        failures += 1
        print("FAIL %s: run: %s%s" % (name, p.stdout.strip(), p.stderr.strip()))
        return None
    outs = []
    for i in range(len(graph.output)):
        t = onnx.TensorProto()
        t.ParseFromString(open(os.path.join(od, "output_%d.pb" % i), "rb").read())
        outs.append(numpy_helper.to_array(t))
    return outs


def check(name, cond, what):
    global failures
    if cond:
        print("ok: %s: %s" % (name, what))
    else:
        failures += 1
        print("FAIL %s: %s" % (name, what))


vi = helper.make_tensor_value_info
n = 20000

# Bernoulli: p in {0, 1, 0.3} thirds
p = np.concatenate([np.zeros(n), np.ones(n), np.full(n, 0.3)]).astype(np.float32)
g = helper.make_graph([helper.make_node("Bernoulli", ["p"], ["y"], seed=3.0)], "b",
                      [vi("p", TP.FLOAT, [3 * n])], [vi("y", TP.FLOAT, [3 * n])])
r = run("bernoulli", g, {"p": p}, opset=15)
if r:
    y = r[0]
    check("bernoulli", set(np.unique(y)) <= {0.0, 1.0}, "only 0 and 1")
    check("bernoulli", (y[:n] == 0).all() and (y[n:2 * n] == 1).all(), "p = 0 gives 0, p = 1 gives 1")
    check("bernoulli", abs(y[2 * n:].mean() - 0.3) < 0.02, "mean %.4f near p = 0.3" % y[2 * n:].mean())

# RandomUniformLike: range, mean, and the seed repeats the draw
x = np.zeros((n,), np.float32)
g = helper.make_graph([helper.make_node("RandomUniformLike", ["x"], ["a"], low=-2.0, high=6.0, seed=7.0),
                       helper.make_node("RandomUniformLike", ["x"], ["b"], low=-2.0, high=6.0, seed=7.0)],
                      "u", [vi("x", TP.FLOAT, [n])], [vi("a", TP.FLOAT, [n]), vi("b", TP.FLOAT, [n])])
r = run("uniform", g, {"x": x})
if r:
    a, b = r
    check("uniform", a.min() >= -2 and a.max() < 6, "in [low, high)")
    check("uniform", abs(a.mean() - 2.0) < 0.1, "mean %.4f near 2" % a.mean())
    check("uniform", np.array_equal(a, b), "the same seed gives the same draw")
    check("uniform", len(np.unique(a)) > n // 2, "draws differ from each other")

# Dropout, training mode, ratio 0.25
xd = np.random.RandomState(0).uniform(1, 2, (n,)).astype(np.float32)
g = helper.make_graph([helper.make_node("Dropout", ["x", "r", "t"], ["y", "m"], seed=5)], "d",
                      [vi("x", TP.FLOAT, [n]), vi("r", TP.FLOAT, []), vi("t", TP.BOOL, [])],
                      [vi("y", TP.FLOAT, [n]), vi("m", TP.BOOL, [n])])
r = run("dropout_train", g, {"x": xd, "r": np.array(0.25, np.float32), "t": np.array(True)}, opset=13)
if r:
    y, m = r
    check("dropout_train", np.allclose(y, xd * m / 0.75, rtol=1e-6), "y = x * mask / (1 - ratio)")
    check("dropout_train", abs((~m).mean() - 0.25) < 0.02, "dropped fraction %.4f near 0.25" % (~m).mean())
r = run("dropout_eval", g, {"x": xd, "r": np.array(0.25, np.float32), "t": np.array(False)}, opset=13)
if r:
    check("dropout_eval", np.array_equal(r[0], xd) and r[1].all(), "identity, mask all true")

shutil.rmtree(work, ignore_errors=True)
print("random ops: %s" % ("FAILED (%d)" % failures if failures else "all passed"))
sys.exit(1 if failures else 0)
