#!/usr/bin/env python3
"""Control flow (If, Loop, Scan) beyond the ONNX node tests: branches of
different shapes (run-time sized outputs), values captured from enclosing
graphs (also two levels up), a while-loop ended by its condition, a
loop-carried value that grows every iteration, Scan with non-default axes
and directions. Each model is compiled with vibeec, run with vibee-run, and
compared with onnx.reference.ReferenceEvaluator.

usage: cf_test.py VIBEEC VIBEE-RUN     (exit 77 without python onnx)
"""
import os, shutil, subprocess, sys, tempfile
try:
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper, TensorProto as TP
    from onnx.reference import ReferenceEvaluator
except ImportError:
    print("python onnx/numpy not available: skipped")
    sys.exit(77)

VIBEEC, VIBEERUN = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="vibee-cf-")
failures = 0

def vi(name, dt, shape):
    return helper.make_tensor_value_info(name, dt, shape)

def run_case(name, graph, feeds, opset=16, ref=None):
    """Compile, run on feeds, compare every output with onnx.reference (or
    with ref, where onnx.reference cannot run the case)."""
    global failures
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    d = os.path.join(work, name)
    ds = os.path.join(d, "test_data_set_0")
    os.makedirs(ds)
    path = os.path.join(d, "model.onnx")
    onnx.save(m, path)
    if ref is None:
        ref = ReferenceEvaluator(m).run(None, feeds)
    for i, inp in enumerate(graph.input):
        t = numpy_helper.from_array(feeds[inp.name], inp.name)
        open(os.path.join(ds, "input_%d.pb" % i), "wb").write(t.SerializeToString())
    for i, (out, r) in enumerate(zip(graph.output, ref)):
        t = numpy_helper.from_array(np.asarray(r), out.name)
        open(os.path.join(ds, "output_%d.pb" % i), "wb").write(t.SerializeToString())
    so = os.path.join(d, "model.so")
    p = subprocess.run([VIBEEC, path, "-o", so], capture_output=True, text=True)
    if p.returncode != 0:
        failures += 1
        print("FAIL %s: compile: %s" % (name, p.stderr.strip()))
        return
    p = subprocess.run([VIBEERUN, so, "--data", ds], capture_output=True, text=True)
    if p.returncode != 0:
        failures += 1
        print("FAIL %s: run (%d): %s%s" % (name, p.returncode, p.stdout.strip(), p.stderr.strip()))
        return
    print("ok: %s" % name)

f32 = np.float32

# 1. If whose branches give different shapes; both capture outer values
x = vi("x", TP.FLOAT, [4]); c = vi("c", TP.BOOL, [])
then_g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["t"])], "then", [],
                           [vi("t", TP.FLOAT, None)])
else_g = helper.make_graph([helper.make_node("Concat", ["x", "w"], ["e"], axis=0)], "else", [],
                           [vi("e", TP.FLOAT, None)])
g = helper.make_graph([helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g),
                       helper.make_node("ReduceSum", ["y"], ["s"], keepdims=0)],
                      "if_shapes", [c, x, vi("w", TP.FLOAT, [3])],
                      [vi("y", TP.FLOAT, None), vi("s", TP.FLOAT, None)])
xs = np.arange(4, dtype=f32)
run_case("if_then", g, {"c": np.array(True), "x": xs, "w": np.ones(3, f32)})
run_case("if_else", g, {"c": np.array(False), "x": xs, "w": np.ones(3, f32)})

# 2. Loop (trip count and condition) with a carried value that grows, a
#    scan output, and a nested If capturing a value two graphs up
inner_then = helper.make_graph([helper.make_node("Mul", ["acc", "k"], ["r"])], "it", [],
                               [vi("r", TP.FLOAT, None)])
inner_else = helper.make_graph([helper.make_node("Identity", ["acc"], ["r2"])], "ie", [],
                               [vi("r2", TP.FLOAT, None)])
body = helper.make_graph(
    [helper.make_node("Cast", ["i"], ["fi"], to=TP.FLOAT),
     helper.make_node("Unsqueeze", ["fi", "ax0"], ["fi1"]),
     helper.make_node("Concat", ["grow_in", "fi1"], ["grow_out"], axis=0),
     helper.make_node("Less", ["i", "lim"], ["small"]),
     helper.make_node("If", ["small"], ["acc2"], then_branch=inner_then, else_branch=inner_else),
     helper.make_node("Add", ["acc2", "fi"], ["acc_out"]),
     helper.make_node("Identity", ["cond_in"], ["cond_out"]),
     helper.make_node("Identity", ["acc_out"], ["scan_out"])],
    "body",
    [vi("i", TP.INT64, []), vi("cond_in", TP.BOOL, []), vi("acc", TP.FLOAT, [2]),
     vi("grow_in", TP.FLOAT, None)],
    [vi("cond_out", TP.BOOL, []), vi("acc_out", TP.FLOAT, None), vi("grow_out", TP.FLOAT, None),
     vi("scan_out", TP.FLOAT, None)],
    initializer=[numpy_helper.from_array(np.array([0], np.int64), "ax0")])
g = helper.make_graph(
    [helper.make_node("Loop", ["M", "cT", "a0", "g0"], ["a", "grow", "scan"], body=body)],
    "loop_grow", [vi("M", TP.INT64, []), vi("a0", TP.FLOAT, [2]), vi("g0", TP.FLOAT, [1]),
                  vi("k", TP.FLOAT, [2]), vi("lim", TP.INT64, [])],
    [vi("a", TP.FLOAT, None), vi("grow", TP.FLOAT, None), vi("scan", TP.FLOAT, None)],
    initializer=[numpy_helper.from_array(np.array(True), "cT")])
feeds = {"M": np.array(5, np.int64), "a0": np.array([1, 2], f32), "g0": np.array([9], f32),
         "k": np.array([2, 0.5], f32), "lim": np.array(3, np.int64)}
run_case("loop_grow_nested", g, feeds)
feeds["M"] = np.array(0, np.int64)   # onnx.reference cannot stack zero scan slices
run_case("loop_zero_trips", g, feeds,
         ref=[feeds["a0"], feeds["g0"], np.zeros((0, 2), f32)])

# 3. while-loop: no trip count, ends when the carried sum passes a limit
body = helper.make_graph(
    [helper.make_node("Add", ["s", "step"], ["s2"]),
     helper.make_node("Less", ["s2", "limit"], ["go"])],
    "wbody", [vi("i", TP.INT64, []), vi("c", TP.BOOL, []), vi("s", TP.FLOAT, [])],
    [vi("go", TP.BOOL, []), vi("s2", TP.FLOAT, [])])
g = helper.make_graph(
    [helper.make_node("Loop", ["", "c0", "s0"], ["s"], body=body)],
    "while", [vi("c0", TP.BOOL, []), vi("s0", TP.FLOAT, []), vi("step", TP.FLOAT, []),
              vi("limit", TP.FLOAT, [])], [vi("s", TP.FLOAT, None)])
run_case("while_loop", g, {"c0": np.array(True), "s0": np.array(0, f32),
                           "step": np.array(1.5, f32), "limit": np.array(10, f32)})

# 4. Scan-11: scan over axis 1 backwards, stacked output on axis 1
body = helper.make_graph(
    [helper.make_node("Add", ["st", "xi"], ["st2"]),
     helper.make_node("Mul", ["st2", "xi"], ["yo"])],
    "sbody", [vi("st", TP.FLOAT, [3]), vi("xi", TP.FLOAT, [3])],
    [vi("st2", TP.FLOAT, [3]), vi("yo", TP.FLOAT, [3])])
g = helper.make_graph(
    [helper.make_node("Scan", ["s0", "xs"], ["sN", "ys"], body=body, num_scan_inputs=1,
                      scan_input_axes=[1], scan_input_directions=[1], scan_output_axes=[1])],
    "scan_axes", [vi("s0", TP.FLOAT, [3]), vi("xs", TP.FLOAT, [3, 5])],
    [vi("sN", TP.FLOAT, None), vi("ys", TP.FLOAT, None)])
xs = np.arange(15, dtype=f32).reshape(3, 5) / 7   # onnx.reference lacks directions: numpy
st, ys = np.zeros(3, f32), np.zeros((3, 5), f32)
for t in range(5):
    xi = xs[:, 4 - t]
    st = st + xi
    ys[:, t] = st * xi
run_case("scan_axes_reverse", g, {"s0": np.zeros(3, f32), "xs": xs}, ref=[st, ys])

# 5. malformed control flow: refused with a message naming the node, never a crash
def refuse(name, graph, want, opset=16, feeds=None):
    global failures
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    d = os.path.join(work, name)
    os.makedirs(d)
    path = os.path.join(d, "model.onnx")
    onnx.save(m, path)
    so = os.path.join(d, "model.so")
    p = subprocess.run([VIBEEC, path, "-o", so], capture_output=True, text=True)
    msg = p.stderr.strip()
    if p.returncode == 0 and feeds is not None:
        ds = os.path.join(d, "ds")
        os.makedirs(ds)
        for i, inp in enumerate(graph.input):
            t = numpy_helper.from_array(feeds[inp.name], inp.name)
            open(os.path.join(ds, "input_%d.pb" % i), "wb").write(t.SerializeToString())
        p = subprocess.run([VIBEERUN, so, "--data", ds], capture_output=True, text=True)
        msg = p.stderr.strip()
    if p.returncode in (1, 2) and want in msg:
        print("ok: %s refused: %s" % (name, msg.splitlines()[0][-110:]))
    else:
        failures += 1
        print("FAIL %s: exit %d, wanted a message with %r: %s" % (name, p.returncode, want, msg))

two = helper.make_graph([helper.make_node("Identity", ["x"], ["a"]),
                         helper.make_node("Identity", ["x"], ["b"])], "two", [],
                        [vi("a", TP.FLOAT, None), vi("b", TP.FLOAT, None)])
one = helper.make_graph([helper.make_node("Identity", ["x"], ["a1"])], "one", [],
                        [vi("a1", TP.FLOAT, None)])
refuse("if_output_count", helper.make_graph(
    [helper.make_node("If", ["c"], ["y"], name="bad_if", then_branch=two, else_branch=one)],
    "g", [vi("c", TP.BOOL, []), vi("x", TP.FLOAT, [2])], [vi("y", TP.FLOAT, None)]),
    "'bad_if' (If, opset 16)")
undef = helper.make_graph([helper.make_node("Add", ["s", "nowhere"], ["s2"]),
                           helper.make_node("Identity", ["c"], ["c2"])], "ub",
                          [vi("i", TP.INT64, []), vi("c", TP.BOOL, []), vi("s", TP.FLOAT, [])],
                          [vi("c2", TP.BOOL, []), vi("s2", TP.FLOAT, [])])
refuse("loop_undefined_name", helper.make_graph(
    [helper.make_node("Loop", ["M", "", "s0"], ["s"], name="bad_loop", body=undef)],
    "g", [vi("M", TP.INT64, []), vi("s0", TP.FLOAT, [])], [vi("s", TP.FLOAT, None)]),
    "'nowhere' is not defined")
forever = helper.make_graph([helper.make_node("Identity", ["s"], ["s2"]),
                             helper.make_node("Identity", ["c"], ["c2"])], "fb",
                            [vi("i", TP.INT64, []), vi("c", TP.BOOL, []), vi("s", TP.FLOAT, [])],
                            [vi("c2", TP.BOOL, []), vi("s2", TP.FLOAT, [])])
refuse("loop_without_end", helper.make_graph(
    [helper.make_node("Loop", ["", "", "s0"], ["s"], name="endless", body=forever)],
    "g", [vi("s0", TP.FLOAT, [])], [vi("s", TP.FLOAT, None)]),
    "would never end", feeds={"s0": np.array(1, f32)})
sb = helper.make_graph([helper.make_node("Identity", ["xi"], ["yo"])], "sb",
                       [vi("xi", TP.FLOAT, [3])], [vi("yo", TP.FLOAT, [3])])
refuse("scan_too_many_inputs", helper.make_graph(
    [helper.make_node("Scan", ["xs"], ["ys"], name="bad_scan", body=sb, num_scan_inputs=3)],
    "g", [vi("xs", TP.FLOAT, [4, 3])], [vi("ys", TP.FLOAT, None)]),
    "'bad_scan' (Scan, opset 16)")

shutil.rmtree(work, ignore_errors=True)
print("%d failure(s)" % failures)
sys.exit(1 if failures else 0)
