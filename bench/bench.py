#!/usr/bin/env python3
# Benchmarks the sample models: vibeec-compiled model.so (timed by `vibee-run --bench`)
# against ONNX Runtime on the same inputs, threads, warm-up and run count.
# Usage: python3 bench/bench.py [-n N] [--threads T] [--ort-only] [SAMPLE ...]
import argparse
import glob
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

import onnx
import onnxruntime as ort
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEDIAN_RE = re.compile(r"median_ms\s+([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)")


def read_inputs(ds):
	files = sorted(glob.glob(os.path.join(ds, "input_*.pb")),
		key=lambda p: int(p.rsplit("_", 1)[1][:-3]))
	out = []
	for p in files:
		t = onnx.TensorProto()
		with open(p, "rb") as f:
			t.ParseFromString(f.read())
		out.append(numpy_helper.to_array(t))
	return out


def last_line(text):
	lines = [l for l in text.strip().splitlines() if l.strip()]
	return lines[-1] if lines else "(no output)"


def run_cmd(cmd, timeout):
	"""Runs cmd; returns (rc, stdout+stderr). rc None on timeout or missing tool."""
	try:
		p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
			text=True, timeout=timeout)
		return p.returncode, p.stdout
	except subprocess.TimeoutExpired:
		return None, "timed out after %ds" % timeout
	except OSError as e:
		return None, str(e)


def bench_vibeec(args, name, model, ds, cmds):
	"""Compiles and times one sample with vibeec; returns (ms or None, note)."""
	so = os.path.join(args.workdir, name + ".so")
	compile_cmd = [args.vibeec, model, args.opt, "-o", so]
	run = [args.vibee_run, so, "--data", ds, "--bench", str(args.n),
		"--threads", str(args.threads)]
	cmds.append(compile_cmd)
	cmds.append(run)
	rc, out = run_cmd(compile_cmd, args.timeout)
	if rc != 0:
		return None, "compile failed: " + last_line(out)
	rc, out = run_cmd(run, args.timeout)
	m = MEDIAN_RE.findall(out or "")
	if not m:
		return None, "run failed (rc %s): %s" % (rc, last_line(out))
	note = "" if rc == 0 else "outputs do not match reference (rc %s)" % rc
	return float(m[-1]), note


def bench_ort(args, model, ds):
	"""Times one sample under ONNX Runtime; returns median ms."""
	so = ort.SessionOptions()
	so.intra_op_num_threads = args.threads
	so.inter_op_num_threads = 1
	so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
	so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
	sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
	names = [i.name for i in sess.get_inputs()]
	feeds = dict(zip(names, read_inputs(ds)))
	for _ in range(args.warmup):
		sess.run(None, feeds)
	times = []
	for _ in range(args.n):
		t0 = time.perf_counter()
		sess.run(None, feeds)
		times.append((time.perf_counter() - t0) * 1e3)
	return statistics.median(times)


def fmt(ms):
	return "%.3f" % ms if ms is not None else "-"


def main():
	ap = argparse.ArgumentParser(description="vibeec vs ONNX Runtime on the samples")
	ap.add_argument("names", nargs="*", help="samples (default: all in samples/)")
	ap.add_argument("-n", type=int, default=50, help="timed runs (default 50)")
	ap.add_argument("--warmup", type=int, default=5, help="ORT warm-up runs (default 5)")
	ap.add_argument("--threads", type=int, default=2, help="threads for both (default 2)")
	ap.add_argument("--opt", default="-O2", help="vibeec optimisation level (default -O2)")
	ap.add_argument("--vibeec", default=os.path.join(ROOT, "build", "vibeec"))
	ap.add_argument("--vibee-run", dest="vibee_run",
		default=os.path.join(ROOT, "build", "vibee-run"))
	ap.add_argument("--samples", default=os.path.join(ROOT, "samples"))
	ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"),
		help="where the compiled .so files go (default build/bench)")
	ap.add_argument("--timeout", type=int, default=600, help="seconds per tool call")
	ap.add_argument("--ort-only", action="store_true", help="time ONNX Runtime only")
	args = ap.parse_args()
	if args.n < 1 or args.warmup < 0 or args.threads < 1:
		print("bench: -n and --threads must be >= 1, --warmup >= 0", file=sys.stderr)
		return 2
	names = args.names or sorted(os.path.basename(os.path.dirname(p))
		for p in glob.glob(os.path.join(args.samples, "*", "model.onnx")))
	if not names:
		print("bench: no samples under %s" % args.samples, file=sys.stderr)
		return 2
	os.makedirs(args.workdir, exist_ok=True)

	rows, notes, cmds, failed = [], [], [], False
	for n in names:
		model = os.path.join(args.samples, n, "model.onnx")
		ds = os.path.join(args.samples, n, "test_data_set_0")
		if not os.path.isfile(model) or not os.path.isdir(ds):
			print("bench: sample '%s' lacks model.onnx or test_data_set_0" % n, file=sys.stderr)
			return 2
		vms, note = (None, "skipped (--ort-only)") if args.ort_only else \
			bench_vibeec(args, n, model, ds, cmds)
		if vms is None and not args.ort_only:
			failed = True
		try:
			oms = bench_ort(args, model, ds)
		except Exception as e:
			oms, failed = None, True
			note = (note + "; " if note else "") + "ORT: " + str(e).splitlines()[0]
		ratio = "%.2fx" % (vms / oms) if vms is not None and oms else "-"
		rows.append((n, fmt(vms), fmt(oms), ratio))
		if note:
			notes.append("%s: %s" % (n, note))
		print("%-8s done" % n, file=sys.stderr)

	print("ONNX Runtime %s, %d thread(s), warm-up %d, %d timed runs, median; "
		"ratio = vibeec / ORT (lower is better for vibeec)" % (ort.__version__,
		args.threads, args.warmup, args.n))
	head = ("sample", "vibeec ms", "ORT ms", "ratio")
	w = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
	line = lambda r: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |"
	print(line(head))
	print("|" + "|".join("-" * (x + 2) for x in w) + "|")
	for r in rows:
		print(line(r))
	for note in notes:
		print("note: " + note)
	print("command: " + " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv))
	for c in cmds:
		print("  " + " ".join(shlex.quote(a) for a in c))
	return 1 if failed else 0


if __name__ == "__main__":
	sys.exit(main())
