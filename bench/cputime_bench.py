#!/usr/bin/env python3
# CPU-time ratio of vibeec against ONNX Runtime, one thread each, for a
# machine shared with other load (wall-clock medians then mostly measure the
# other load): CPU seconds per run, from the difference between a long and a
# short run of each, so start-up, loading and warm-up cancel out.
#   vibeec: task-clock of `vibee-run MODEL.so --data DIR --bench N --threads 1`
#           (perf stat), (long - short) / (N_long - N_short)
#   ORT:    time.process_time() over N runs of a 1-thread session, after warm-up
# Usage: python3 bench/cputime_bench.py MODEL.onnx DATA_DIR [-n 40] [--rounds 3]
#        [--vibeec build/vibeec] [--vibee-run build/vibee-run]
# DATA_DIR holds input_N.pb as vibee-run reads them. Needs `perf`.
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def task_clock_ms(cmd):
	out = subprocess.run(["perf", "stat", "-x,", "-e", "task-clock"] + cmd,
		stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).stderr
	for line in out.splitlines():
		f = line.split(",")
		if len(f) > 2 and f[2].startswith("task-clock"):
			return float(f[0])
	raise RuntimeError("perf stat: " + out[-300:])


def vibee_cpu_ms(a, so, data, n):
	base = [a.vibee_run, so, "--data", data, "--threads", "1", "--bench"]
	short = task_clock_ms(base + ["2"])
	long_ = task_clock_ms(base + [str(2 + n)])
	return (long_ - short) / n


def ort_cpu_ms(model, feeds, n):
	so = ort.SessionOptions()
	so.intra_op_num_threads = 1
	so.inter_op_num_threads = 1
	so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
	so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
	s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
	for _ in range(2):
		s.run(None, feeds)
	t0 = time.process_time()
	for _ in range(n):
		s.run(None, feeds)
	return 1e3 * (time.process_time() - t0) / n


def main():
	ap = argparse.ArgumentParser(description="1-thread CPU-time ratio vibeec / ORT")
	ap.add_argument("model")
	ap.add_argument("data")
	ap.add_argument("-n", type=int, default=40, help="runs per measurement")
	ap.add_argument("--rounds", type=int, default=3)
	ap.add_argument("--vibeec", default=os.path.join(ROOT, "build/vibeec"))
	ap.add_argument("--vibee-run", default=os.path.join(ROOT, "build/vibee-run"))
	a = ap.parse_args()
	m = onnx.load(a.model, load_external_data=False)
	feeds = {}
	for i, inp in enumerate(x for x in m.graph.input
	                        if x.name not in {t.name for t in m.graph.initializer}):
		t = onnx.TensorProto()
		with open(os.path.join(a.data, "input_%d.pb" % i), "rb") as f:
			t.ParseFromString(f.read())
		feeds[inp.name] = numpy_helper.to_array(t)
	with tempfile.TemporaryDirectory() as d:
		so = os.path.join(d, "model.so")
		subprocess.run([a.vibeec, a.model, "-O2", "-o", so], check=True)
		print("%-6s %14s %14s %7s" % ("round", "vibeec cpu ms", "ORT cpu ms", "ratio"))
		rs = []
		for r in range(a.rounds):
			v = vibee_cpu_ms(a, so, a.data, a.n)
			o = ort_cpu_ms(a.model, feeds, a.n)
			rs.append(v / o)
			print("%-6d %14.2f %14.2f %6.2fx" % (r, v, o, v / o))
		print("ratio median %.2fx, range %.2f-%.2fx" % (float(np.median(rs)), min(rs), max(rs)))
	return 0


if __name__ == "__main__":
	sys.exit(main())
