#!/usr/bin/env python3
# Scan bench (issue 5): the Mamba-style model with T = 256 unrolled steps
# (samples/mamba256) and the other scan samples. For each model: vibeec's
# compile time (wall clock, -O2, the whole .so build), then R rounds run back
# to back, each timing vibee-run --bench N and ONNX Runtime (N session.run
# calls) on the same inputs with the same thread count; prints every round's
# ratio (vibeec / ORT; below 1 is faster) and the median over rounds.
# Usage: python3 bench/scan_bench.py [-n N] [--rounds R] [--threads T] [SAMPLE ...]
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (bench_vibeec, bench_ort, run_cmd, MEDIAN_RE)

ROOT = os.path.dirname(HERE)
DEFAULT = ["mamba256", "mamba", "mambaref", "mambastep", "mamba2", "rglru"]


def main():
	ap = argparse.ArgumentParser(description="scan models: compile time and latency vs ORT")
	ap.add_argument("names", nargs="*", help="samples (default: %s)" % " ".join(DEFAULT))
	ap.add_argument("-n", type=int, default=50, help="timed runs per round (default 50)")
	ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
	ap.add_argument("--warmup", type=int, default=5, help="ORT warm-up runs (default 5)")
	ap.add_argument("--threads", type=int, default=2, help="threads for both (default 2)")
	ap.add_argument("--opt", default="-O2")
	ap.add_argument("--vibeec", default=os.path.join(ROOT, "build", "vibeec"))
	ap.add_argument("--vibee-run", dest="vibee_run", default=os.path.join(ROOT, "build", "vibee-run"))
	ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
	ap.add_argument("--timeout", type=int, default=600)
	args = ap.parse_args()
	if args.n < 1 or args.rounds < 1 or args.threads < 1:
		print("scan_bench: -n, --rounds and --threads must be >= 1", file=sys.stderr)
		return 2
	os.makedirs(args.workdir, exist_ok=True)
	failed = False
	print("# python3 bench/scan_bench.py -n %d --rounds %d --threads %d %s" %
		(args.n, args.rounds, args.threads, " ".join(args.names)))
	print("%-9s %10s %10s %10s %8s   %s" % ("sample", "compile s", "vibeec ms", "ORT ms",
		"ratio", "per-round ratios"))
	for name in args.names or DEFAULT:
		model = os.path.join(ROOT, "samples", name, "model.onnx")
		ds = os.path.join(ROOT, "samples", name, "test_data_set_0")
		if not os.path.isfile(model):
			print("scan_bench: no %s" % model, file=sys.stderr)
			return 2
		so = os.path.join(args.workdir, name + ".so")
		t0 = time.perf_counter()
		rc, out = bench.run_cmd([args.vibeec, model, args.opt, "-o", so], args.timeout)
		compile_s = time.perf_counter() - t0
		if rc != 0:
			print("%-9s compile failed: %s" % (name, bench.last_line(out)))
			failed = True
			continue
		run = [args.vibee_run, so, "--data", ds, "--bench", str(args.n),
			"--threads", str(args.threads)]
		vs, os_, ratios = [], [], []
		for _ in range(args.rounds):
			rc, out = bench.run_cmd(run, args.timeout)
			m = bench.MEDIAN_RE.findall(out or "")
			if rc != 0 or not m:
				print("%-9s run failed (rc %s): %s" % (name, rc, bench.last_line(out)))
				failed = True
				break
			v = float(m[-1])
			o = bench.bench_ort(args, model, ds)
			vs.append(v)
			os_.append(o)
			ratios.append(v / o)
		if not ratios:
			continue
		print("%-9s %10.2f %10.3f %10.3f %7.3fx   %s" % (name, compile_s, statistics.median(vs),
			statistics.median(os_), statistics.median(ratios),
			" ".join("%.3f" % r for r in ratios)))
	print("# compile: %s MODEL %s -o SO; run: %s SO --data DS --bench %d --threads %d; "
		"ORT: CPU provider, ORT_ENABLE_ALL, intra-op %d, sequential" % (args.vibeec, args.opt,
		args.vibee_run, args.n, args.threads, args.threads))
	return 1 if failed else 0


if __name__ == "__main__":
	sys.exit(main())
