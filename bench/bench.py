#!/usr/bin/env python3
# Benchmarks the sample models: vibeec-compiled model.so (timed by `vibee-run --bench`)
# against ONNX Runtime and, where importable, PyTorch (bench/bench_torch.py under
# /usr/bin/python3) on the same inputs, threads and run count; each engine runs in
# its own process, whose peak RSS is reported. --rounds R alternates the engines
# R times per sample and reports the median of the per-round medians. A second
# table turns the medians into GFLOP/s of each model's MatMul/Gemm/Conv work
# (bench/flops.py), to set them against the machine's FMA peak.
# Usage: python3 bench/bench.py [-n N] [--threads T] [--rounds R] [--ort-only]
#                               [--build DIR] [--no-torch] [SAMPLE ...]
import argparse
import glob
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import onnx
import onnxruntime as ort
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flops as flopcount  # noqa: E402

RSS_RE = re.compile(r"maxrss_kb\s+([0-9]+)")

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
		p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
	except OSError as e:
		return None, str(e)
	try:
		out, _ = p.communicate(timeout=timeout)
	except subprocess.TimeoutExpired:
		p.kill()
		p.communicate()
		return None, "timed out after %ds" % timeout
	return p.returncode, out


GNU_TIME = "/usr/bin/time"


def run_timed(cmd, timeout):
	"""Runs cmd; returns (rc, output, peak RSS in KiB or None). The RSS comes
	from GNU time (a small process, so the figure is the command's own: a
	child forked straight from this Python would inherit its high-water mark
	across exec)."""
	rss = None
	if os.access(GNU_TIME, os.X_OK):
		fd, path = tempfile.mkstemp(prefix="vibee-bench-rss.")
		os.close(fd)
		rc, out = run_cmd([GNU_TIME, "-o", path, "-f", "%M"] + cmd, timeout)
		try:
			with open(path) as f:
				rss = int(f.read().strip().splitlines()[-1])
		except (OSError, ValueError, IndexError):
			rss = None
		os.unlink(path)
		return rc, out, rss
	rc, out = run_cmd(cmd, timeout)
	return rc, out, None


def compile_vibeec(args, name, model, cmds):
	"""Compiles one sample; returns (so path or None, note)."""
	so = os.path.join(args.workdir, name + ".so")
	compile_cmd = [args.vibeec, model, args.opt, "-o", so]
	cmds.append(compile_cmd)
	rc, out = run_cmd(compile_cmd, args.timeout)
	if rc != 0:
		return None, "compile failed: " + last_line(out)
	return so, ""


def bench_vibeec(args, so, ds, cmds):
	"""Times one compiled sample with vibee-run; returns (ms or None, rss_kb, note)."""
	run = [args.vibee_run, so, "--data", ds, "--bench", str(args.n),
		"--threads", str(args.threads)]
	if run not in cmds:
		cmds.append(run)
	rc, out, rss = run_timed(run, args.timeout)
	m = MEDIAN_RE.findall(out or "")
	if not m:
		return None, None, "run failed (rc %s): %s" % (rc, last_line(out))
	note = "" if rc == 0 else "outputs do not match reference (rc %s)" % rc
	return float(m[-1]), rss, note


def bench_child(args, cmd, cmds):
	"""Runs a child engine that prints median_ms / maxrss_kb; returns (ms, rss, note)."""
	if cmd not in cmds:
		cmds.append(cmd)
	rc, out, rss = run_timed(cmd, args.timeout)
	m = MEDIAN_RE.findall(out or "")
	r = RSS_RE.findall(out or "")
	if rc != 0 or not m:
		return None, None, "rc %s: %s" % (rc, last_line(out))
	return float(m[-1]), rss if rss else (int(r[-1]) if r else None), ""


def ort_child(args):
	"""--child-ort MODEL DS: time ONNX Runtime in this process, print the result."""
	import resource
	ms = bench_ort(args, args.child_ort[0], args.child_ort[1])
	print("median_ms %.6f maxrss_kb %d" % (ms, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
	return 0


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


def mib(kb):
	return "%.1f" % (kb / 1024.0) if kb else "-"


def med(xs):
	xs = [x for x in xs if x is not None]
	return statistics.median(xs) if xs else None


def ratio(a, b):
	return "%.3gx" % (a / b) if a is not None and b else "-"


def fma_peak(args):
	"""The fp32 FMA roof at the benchmark's thread count, from build/fma_peak."""
	exe = os.path.join(args.build, "fma_peak")
	if not os.access(exe, os.X_OK):
		return "FMA peak not measured (no %s)" % exe
	rc, out = run_cmd([exe, str(args.threads)], 60)
	m = re.search(r"GFLOP/s\s+([0-9.]+)", out or "")
	if rc != 0 or not m:
		return "FMA peak not measured (%s exited %s)" % (exe, rc)
	return "fp32 FMA peak on %d thread(s), bench/fma_peak.c after the runs: %s GFLOP/s" % (
		args.threads, m.group(1))


def table(head, rows):
	w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
	line = lambda r: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |"
	print(line(head))
	print("|" + "|".join("-" * (x + 2) for x in w) + "|")
	for r in rows:
		print(line(r))


def main():
	ap = argparse.ArgumentParser(description="vibeec vs ONNX Runtime (and PyTorch) on the samples")
	ap.add_argument("names", nargs="*", help="samples (default: all in samples/)")
	ap.add_argument("-n", type=int, default=50, help="timed runs (default 50)")
	ap.add_argument("--warmup", type=int, default=5, help="ORT/PyTorch warm-up runs (default 5)")
	ap.add_argument("--threads", type=int, default=2, help="threads for all (default 2)")
	ap.add_argument("--rounds", type=int, default=1,
		help="alternate the engines this many times per sample (default 1)")
	ap.add_argument("--opt", default="-O2", help="vibeec optimisation level (default -O2)")
	ap.add_argument("--build", default=os.path.join(ROOT, "build"),
		help="build folder holding vibeec and vibee-run (default build/)")
	ap.add_argument("--vibeec", default=None)
	ap.add_argument("--vibee-run", dest="vibee_run", default=None)
	ap.add_argument("--torch-python", default="/usr/bin/python3",
		help="a python with torch for the PyTorch column (default /usr/bin/python3)")
	ap.add_argument("--no-torch", action="store_true", help="skip PyTorch")
	ap.add_argument("--samples", default=os.path.join(ROOT, "samples"))
	ap.add_argument("--workdir", default=None,
		help="where the compiled .so files go (default BUILD/bench)")
	ap.add_argument("--timeout", type=int, default=600, help="seconds per tool call")
	ap.add_argument("--ort-only", action="store_true", help="time ONNX Runtime only")
	ap.add_argument("--child-ort", nargs=2, metavar=("MODEL", "DS"), help=argparse.SUPPRESS)
	args = ap.parse_args()
	if args.n < 1 or args.warmup < 0 or args.threads < 1 or args.rounds < 1:
		print("bench: -n, --threads and --rounds must be >= 1, --warmup >= 0", file=sys.stderr)
		return 2
	if args.child_ort:
		return ort_child(args)
	args.vibeec = args.vibeec or os.path.join(args.build, "vibeec")
	args.vibee_run = args.vibee_run or os.path.join(args.build, "vibee-run")
	args.workdir = args.workdir or os.path.join(args.build, "bench")
	names = args.names or sorted(os.path.basename(os.path.dirname(p))
		for p in glob.glob(os.path.join(args.samples, "*", "model.onnx")))
	if not names:
		print("bench: no samples under %s" % args.samples, file=sys.stderr)
		return 2
	os.makedirs(args.workdir, exist_ok=True)
	torch_ok = False
	if not args.no_torch:
		rc, _ = run_cmd([args.torch_python, "-c", "import torch"], 120)
		torch_ok = rc == 0
	torch_note = "" if torch_ok else ("skipped (--no-torch)" if args.no_torch else
		"torch not importable by %s" % args.torch_python)

	rows, rates, notes, cmds, failed = [], [], [], [], False
	for n in names:
		model = os.path.join(args.samples, n, "model.onnx")
		ds = os.path.join(args.samples, n, "test_data_set_0")
		if not os.path.isfile(model) or not os.path.isdir(ds):
			print("bench: sample '%s' lacks model.onnx or test_data_set_0" % n, file=sys.stderr)
			return 2
		so, note = (None, "skipped (--ort-only)") if args.ort_only else \
			compile_vibeec(args, n, model, cmds)
		if so is None and not args.ort_only:
			failed = True
		vt, ot, tt, vr, orr, tr = [], [], [], [], [], []
		ort_cmd = [sys.executable, os.path.abspath(__file__), "--child-ort", model, ds,
			"-n", str(args.n), "--warmup", str(args.warmup), "--threads", str(args.threads)]
		torch_cmd = [args.torch_python, os.path.join(ROOT, "bench", "bench_torch.py"), n,
			"-n", str(args.n), "--warmup", str(args.warmup), "--threads", str(args.threads),
			"--samples", args.samples]
		for _ in range(args.rounds):
			if so:
				ms, rss, nt = bench_vibeec(args, so, ds, cmds)
				vt.append(ms)
				vr.append(rss)
				if nt:
					note = (note + "; " if note else "") + nt
					failed |= ms is None
			ms, rss, nt = bench_child(args, ort_cmd, cmds)
			ot.append(ms)
			orr.append(rss)
			if nt:
				failed = True
				note = (note + "; " if note else "") + "ORT: " + nt
			if torch_ok:
				ms, rss, nt = bench_child(args, torch_cmd, cmds)
				tt.append(ms)
				tr.append(rss)
				if nt:
					note = (note + "; " if note else "") + "PyTorch: " + nt
		vms, oms, tms = med(vt), med(ot), med(tt)
		rows.append((n, fmt(vms), fmt(oms), fmt(tms), ratio(vms, oms), ratio(vms, tms),
			mib(max([x for x in vr if x] or [0])), mib(max([x for x in orr if x] or [0])),
			mib(max([x for x in tr if x] or [0]))))
		try:
			fl, unc = flopcount.count(model, ds)
		except Exception as e:
			fl, unc = None, ["(%s)" % e]
		if unc:
			notes.append("%s: GFLOP misses %d node(s) whose shapes are unknown" % (n, len(unc)))
		rate = lambda ms: "%.1f" % (fl / ms / 1e6) if fl and ms else "-"
		rates.append((n, "%.4g" % (fl / 1e9) if fl else "-", rate(vms), rate(oms), rate(tms)))
		if note:
			notes.append("%s: %s" % (n, note))
		print("%-8s done" % n, file=sys.stderr)

	print("ONNX Runtime %s (CPU, ORT_ENABLE_ALL), PyTorch via %s%s; %d thread(s), warm-up %d, "
		"%d timed runs, median of %d round(s); ratio = vibeec / other (below 1: vibeec faster); "
		"RSS = peak resident set of each engine's process" % (ort.__version__,
		args.torch_python, "" if torch_ok else " (" + torch_note + ")", args.threads,
		args.warmup, args.n, args.rounds))
	table(("sample", "vibeec ms", "ORT ms", "PyTorch ms", "vs ORT", "vs PyTorch",
		"vibeec MiB", "ORT MiB", "PyTorch MiB"), rows)
	print("GFLOP/s = 2 x multiply-adds of the model's MatMul, Gemm, Conv and ConvTranspose "
		"nodes (bench/flops.py) / median latency; %s" % fma_peak(args))
	table(("sample", "GFLOP per run", "vibeec GFLOP/s", "ORT GFLOP/s", "PyTorch GFLOP/s"), rates)
	for note in notes:
		print("note: " + note)
	print("command: " + " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv))
	for c in cmds:
		print("  " + " ".join(shlex.quote(a) for a in c))
	return 1 if failed else 0


if __name__ == "__main__":
	sys.exit(main())
