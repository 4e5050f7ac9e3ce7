#!/usr/bin/env python3
# The node library kernels (runtime/knode*.c) against ONNX Runtime in the
# same run, one op per model at a moderate size: median ms of --bench N runs
# (vibee-run) vs of N ORT runs, both 2 threads, repeated --rounds times; prints
# each ratio (vibeec / ORT, lower is better) with the spread over rounds.
# These kernels are plain loops (correctness first), so expect ratios > 1.
# Usage: python3 bench/knode_bench.py [-n 20] [--rounds 3] [--only NAME]
import argparse, os, re, statistics, subprocess, sys, tempfile, time
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as TP, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEDIAN_RE = re.compile(r"median_ms\s+([0-9.eE+-]+)")
vi = helper.make_tensor_value_info
rs = np.random.RandomState(0)


def f32(*s):
	return rs.standard_normal(s).astype(np.float32)


def cases():
	"""(name, nodes, inputs {name: array}, initializers {name: array}, outputs [(name, shape)], opset)"""
	yield ("ConvTranspose 32->16 ch, 32x32, k4 s2",
	       [helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1])],
	       {"x": f32(1, 32, 32, 32)}, {"w": f32(32, 16, 4, 4), "b": f32(16)}, [("y", [1, 16, 64, 64])], 17)
	yield ("LSTM T=64 B=4 I=64 H=64",
	       [helper.make_node("LSTM", ["x", "w", "r", "b"], ["y", "yh"], hidden_size=64)],
	       {"x": f32(64, 4, 64)}, {"w": f32(1, 256, 64) * 0.1, "r": f32(1, 256, 64) * 0.1, "b": f32(1, 512)},
	       [("y", [64, 1, 4, 64]), ("yh", [1, 4, 64])], 14)
	yield ("GRU T=64 B=4 I=64 H=64",
	       [helper.make_node("GRU", ["x", "w", "r", "b"], ["y", "yh"], hidden_size=64)],
	       {"x": f32(64, 4, 64)}, {"w": f32(1, 192, 64) * 0.1, "r": f32(1, 192, 64) * 0.1, "b": f32(1, 384)},
	       [("y", [64, 1, 4, 64]), ("yh", [1, 4, 64])], 14)
	yield ("InstanceNormalization 8x64x32x32",
	       [helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"])],
	       {"x": f32(8, 64, 32, 32)}, {"s": f32(64), "b": f32(64)}, [("y", [8, 64, 32, 32])], 17)
	yield ("LRN size 5, 8x64x32x32",
	       [helper.make_node("LRN", ["x"], ["y"], size=5)],
	       {"x": f32(8, 64, 32, 32)}, {}, [("y", [8, 64, 32, 32])], 17)
	yield ("Einsum bij,bjk->bik 8x64x64",
	       [helper.make_node("Einsum", ["a", "b"], ["y"], equation="bij,bjk->bik")],
	       {"a": f32(8, 64, 64), "b": f32(8, 64, 64)}, {}, [("y", [8, 64, 64])], 17)
	yield ("SoftmaxCrossEntropyLoss N=64 C=1000",
	       [helper.make_node("SoftmaxCrossEntropyLoss", ["x", "l"], ["y"])],
	       {"x": f32(64, 1000), "l": rs.randint(0, 1000, (64,)).astype(np.int64)}, {}, [("y", [])], 17)


def build(d, name, nodes, feeds, inits, outs, opset):
	ins = [vi(k, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape)) for k, v in feeds.items()]
	g = helper.make_graph(nodes, "b", ins, [vi(o, TP.FLOAT, s) for o, s in outs],
	                      [numpy_helper.from_array(v, k) for k, v in inits.items()])
	m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
	m.ir_version = 8
	path = os.path.join(d, "model.onnx")
	onnx.save(m, path)
	ds = os.path.join(d, "data")
	os.makedirs(ds, exist_ok=True)
	for i, (k, v) in enumerate(feeds.items()):
		open(os.path.join(ds, "input_%d.pb" % i), "wb").write(numpy_helper.from_array(v, k).SerializeToString())
	return path, ds


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("-n", type=int, default=20)
	ap.add_argument("--rounds", type=int, default=3)
	ap.add_argument("--only", default="")
	ap.add_argument("--vibeec", default=os.path.join(ROOT, "build", "vibeec"))
	ap.add_argument("--vibee-run", default=os.path.join(ROOT, "build", "vibee-run"))
	a = ap.parse_args()
	work = tempfile.mkdtemp(prefix="knode-bench-")
	print("%-40s %10s %10s %8s  %s" % ("case", "vibeec_ms", "ort_ms", "ratio", "ratio spread"))
	for k, (name, nodes, feeds, inits, outs, opset) in enumerate(cases()):
		if a.only and a.only not in name:
			continue
		d = os.path.join(work, str(k))
		os.makedirs(d)
		path, ds = build(d, name, nodes, feeds, inits, outs, opset)
		so = os.path.join(d, "model.so")
		p = subprocess.run([a.vibeec, path, "-o", so, "--stats"], capture_output=True, text=True)
		if p.returncode:
			print("%-40s compile failed: %s" % (name, p.stderr.strip()))
			continue
		if "reference calls:" in p.stdout + p.stderr:
			print("%-40s (note: makes reference calls)" % name)
		so_opt = ort.SessionOptions()
		so_opt.intra_op_num_threads = 2
		sess = ort.InferenceSession(path, so_opt, providers=["CPUExecutionProvider"])
		ratios, vs, os_ = [], [], []
		for _ in range(a.rounds):
			p = subprocess.run([a.vibee_run, so, "--data", ds, "--bench", str(a.n), "--threads", "2"],
			                   capture_output=True, text=True)
			m = MEDIAN_RE.search(p.stdout + p.stderr)
			if not m:
				print("%-40s run failed: %s" % (name, (p.stdout + p.stderr).strip()[-200:]))
				break
			v = float(m.group(1))
			sess.run(None, feeds)
			ts = []
			for _ in range(a.n):
				t = time.perf_counter()
				sess.run(None, feeds)
				ts.append((time.perf_counter() - t) * 1e3)
			o = statistics.median(ts)
			vs.append(v)
			os_.append(o)
			ratios.append(v / o)
		if ratios:
			print("%-40s %10.3f %10.3f %8.2f  %.2f..%.2f" % (name, statistics.median(vs), statistics.median(os_),
			      statistics.median(ratios), min(ratios), max(ratios)))
	return 0


if __name__ == "__main__":
	sys.exit(main())
