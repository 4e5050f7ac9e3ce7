#!/usr/bin/env python3
# Attention benchmarks, vibeec against ONNX Runtime in the same run (2 threads):
#  1. attention alone: the SDPA subgraph as PyTorch exports it (MatMul(Q, K^T),
#     Div, Where over a triangular constant, Softmax, MatMul V) at T = 1024 and
#     4096, built here with onnx.helper; vibeec fuses it into one `attention`.
#  2. the GPT-style model (bench/export_gpt.py, needs /usr/bin/python3 with
#     torch) at T = 1024: whole-model latency.
#  3. peak RSS of `vibee-run` on that model at T = 1k, 2k, 4k, 8k (O(T) when
#     attention never materialises the T x T scores), and of ORT for contrast
#     (GNU time's %M; /usr/bin/time is Debian's `time` package).
# Usage: python3 bench/attn_bench.py [-n 5] [--skip-model] [--skip-rss] [--no-ort-rss]
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEDIAN_RE = re.compile(r"median_ms\s+([0-9.eE+-]+)")


def sdpa_model(path, T, H, D):
	"""The exported-SDPA subgraph with a causal triu constant."""
	tri = np.triu(np.ones((T, T), dtype=bool), 1)
	nodes = [
		helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
		helper.make_node("MatMul", ["q", "kt"], ["s"]),
		helper.make_node("Div", ["s", "c"], ["sd"]),
		helper.make_node("Where", ["tri", "fmin", "sd"], ["w"]),
		helper.make_node("Softmax", ["w"], ["p"], axis=-1),
		helper.make_node("MatMul", ["p", "v"], ["o"]),
	]
	inits = [numpy_helper.from_array(np.array(np.sqrt(D), dtype=np.float32), "c"),
		numpy_helper.from_array(np.array(np.finfo(np.float32).min, dtype=np.float32), "fmin"),
		numpy_helper.from_array(tri, "tri")]
	ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, H, T, D]) for n in "qkv"]
	out = [helper.make_tensor_value_info("o", TensorProto.FLOAT, [1, H, T, D])]
	g = helper.make_graph(nodes, "sdpa", ins, out, inits)
	m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
	onnx.save(m, path)


def write_pb(d, arrays, names):
	os.makedirs(d, exist_ok=True)
	for i, (x, n) in enumerate(zip(arrays, names)):
		with open(os.path.join(d, "input_%d.pb" % i), "wb") as f:
			f.write(numpy_helper.from_array(x, n).SerializeToString())


def vibee_ms(a, so, ds, n):
	out = subprocess.run([a.vibee_run, so, "--data", ds, "--bench", str(n), "--threads",
		str(a.threads)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
	m = MEDIAN_RE.findall(out)
	if not m:
		raise RuntimeError("vibee-run: " + out[-500:])
	return float(m[-1])


def ort_session(a, path):
	so = ort.SessionOptions()
	so.intra_op_num_threads = a.threads
	so.inter_op_num_threads = 1
	so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
	so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
	return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ort_ms(a, path, feeds, n):
	s = ort_session(a, path)
	for _ in range(2):
		s.run(None, feeds)
	ts = []
	for _ in range(n):
		t0 = time.perf_counter()
		s.run(None, feeds)
		ts.append(time.perf_counter() - t0)
	return 1e3 * statistics.median(ts)


def compile_so(a, model, so):
	subprocess.run([a.vibeec, model, "-O2", "-o", so], check=True)


def peak_rss_kb(cmd, workdir):
	"""Runs cmd under GNU time (a small parent: a child forked from this big
	Python would inherit its high-water mark); returns (exit code, peak RSS in
	KiB)."""
	out = os.path.join(workdir, "rss.txt")
	rc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out] + cmd,
		stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
	with open(out) as f:
		lines = [l for l in f.read().split() if l.isdigit()]
	return rc, int(lines[-1]) if lines else -1


ORT_RSS = """
import sys, numpy as np, onnxruntime as ort
so = ort.SessionOptions(); so.intra_op_num_threads = %d
s = ort.InferenceSession(sys.argv[1], so, providers=["CPUExecutionProvider"])
s.run(None, {"input_ids": np.zeros((1, int(sys.argv[2])), dtype=np.int64)})
"""


def main():
	ap = argparse.ArgumentParser(description="attention benchmarks against ONNX Runtime")
	ap.add_argument("-n", type=int, default=5, help="timed runs (median)")
	ap.add_argument("--threads", type=int, default=2)
	ap.add_argument("--skip-model", action="store_true", help="only the attention subgraph")
	ap.add_argument("--skip-rss", action="store_true")
	ap.add_argument("--no-ort-rss", action="store_true", help="RSS of vibee-run only")
	ap.add_argument("--vibeec", default=os.path.join(ROOT, "build/vibeec"))
	ap.add_argument("--vibee-run", default=os.path.join(ROOT, "build/vibee-run"))
	ap.add_argument("--torch-python", default="/usr/bin/python3")
	ap.add_argument("--workdir", default=os.path.join(ROOT, "build/bench-attn"))
	a = ap.parse_args()
	w = a.workdir
	os.makedirs(w, exist_ok=True)
	rng = np.random.default_rng(0)
	print("threads %d, median of %d runs; ratio = vibeec / ORT (below 1: vibeec faster)\n" % (
		a.threads, a.n))
	print("%-34s %10s %10s %7s" % ("case", "vibeec ms", "ORT ms", "ratio"))
	H, D = 4, 64
	for T in (1024, 4096):
		path = os.path.join(w, "sdpa_T%d.onnx" % T)
		sdpa_model(path, T, H, D)
		so = os.path.join(w, "sdpa_T%d.so" % T)
		compile_so(a, path, so)
		qkv = [rng.standard_normal((1, H, T, D), dtype=np.float32) for _ in range(3)]
		ds = os.path.join(w, "sdpa_T%d_data" % T)
		write_pb(ds, qkv, "qkv")
		vm = vibee_ms(a, so, ds, a.n)
		om = ort_ms(a, path, dict(zip("qkv", qkv)), a.n)
		print("%-34s %10.2f %10.2f %6.2fx" % ("causal SDPA H=%d D=%d T=%d" % (H, D, T), vm, om, vm / om))
	if a.skip_model and a.skip_rss:
		return 0
	model = os.path.join(w, "gpt.onnx")
	if not os.path.exists(model):
		subprocess.run([a.torch_python, os.path.join(ROOT, "bench/export_gpt.py"), model],
			check=True, stderr=subprocess.DEVNULL)
	so = os.path.join(w, "gpt.so")
	compile_so(a, model, so)
	ids = {}
	for T in (1024, 2048, 4096, 8192):
		ids[T] = rng.integers(0, 1024, size=(1, T), dtype=np.int64)
		write_pb(os.path.join(w, "gpt_T%d" % T), [ids[T]], ["input_ids"])
	if not a.skip_model:
		vm = vibee_ms(a, so, os.path.join(w, "gpt_T1024"), a.n)
		om = ort_ms(a, model, {"input_ids": ids[1024]}, a.n)
		print("%-34s %10.2f %10.2f %6.2fx" % ("GPT-style d=256 L=4 H=4 T=1024", vm, om, vm / om))
	if a.skip_rss:
		return 0
	print("\npeak RSS (MiB) of one run of the GPT-style model")
	print("%-8s %12s %12s" % ("T", "vibee-run", "" if a.no_ort_rss else "ORT (python)"))
	for T in (1024, 2048, 4096, 8192):
		rc, kb = peak_rss_kb([a.vibee_run, so, "--data", os.path.join(w, "gpt_T%d" % T),
			"--threads", str(a.threads)], w)
		col = ""
		if not a.no_ort_rss:
			orc, okb = peak_rss_kb([sys.executable, "-c", ORT_RSS % a.threads, model, str(T)], w)
			col = "%12.0f" % (okb / 1024) if orc == 0 else "failed"
		print("%-8d %12s %12s" % (T, "%.0f" % (kb / 1024) if rc == 0 else "failed (%d)" % rc, col))
	return 0


if __name__ == "__main__":
	sys.exit(main())
