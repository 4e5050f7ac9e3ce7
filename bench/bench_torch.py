#!/usr/bin/python3
# Times one sample model under PyTorch (eager, torch.inference_mode, T
# intra-op threads) on its test_data_set_0 inputs; the model is rebuilt
# from samples/export.py with the seeds the export used, so its weights are
# the ones in model.onnx. Prints "median_ms X maxrss_kb Y max_abs_err Z".
# Needs torch (Debian's python3-torch: run with /usr/bin/python3).
# With --samples DIR holding DIR/NAME/torch_model.pt (bench/scale/export_scale.py
# saves one), that pickled model runs on DIR/NAME/test_data_set_0's inputs instead.
# Usage: bench_torch.py NAME [-n N] [--warmup W] [--threads T] [--samples DIR]
import argparse
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "samples"))


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("name")
	ap.add_argument("-n", type=int, default=50)
	ap.add_argument("--warmup", type=int, default=5)
	ap.add_argument("--threads", type=int, default=2)
	ap.add_argument("--samples", default=None)
	args = ap.parse_args()
	import numpy as np
	import torch
	import export
	pt = os.path.join(args.samples, args.name, "torch_model.pt") if args.samples else ""
	if pt and os.path.isfile(pt):
		return run_saved(args, pt)
	if args.name not in export.SAMPLES:
		print("bench_torch: unknown sample '%s'" % args.name, file=sys.stderr)
		return 2
	torch.set_num_threads(args.threads)
	torch.manual_seed(1234)
	gen = torch.Generator().manual_seed(4321)
	spec = export.SAMPLES[args.name](gen)
	model = spec["model"].eval()
	inputs = spec["inputs"]
	ref = os.path.join(os.path.dirname(HERE), "samples", args.name, "test_data_set_0",
		"output_0.pb")
	times, out = time_model(model, inputs, args)
	err = float(np.max(np.abs(load_pb(ref) - out.numpy()))) if os.path.isfile(ref) else -1.0
	rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
	print("median_ms %.6f maxrss_kb %d max_abs_err %.3g" % (statistics.median(times), rss, err))
	return 0


def time_model(model, inputs, args):
	"""args.warmup untimed runs, then args.n timed ones: (times in ms, the
	first output of the last run)."""
	import torch
	with torch.inference_mode():
		for _ in range(args.warmup):
			out = model(*inputs)
		times = []
		for _ in range(args.n):
			t0 = time.perf_counter()
			out = model(*inputs)
			times.append((time.perf_counter() - t0) * 1e3)
	return times, out[0] if isinstance(out, (tuple, list)) else out


def load_pb(path):
	import onnx
	from onnx import numpy_helper
	t = onnx.TensorProto()
	with open(path, "rb") as f:
		t.ParseFromString(f.read())
	return numpy_helper.to_array(t)


def run_saved(args, pt):
	"""Times a pickled model (bench/scale/) on its test_data_set_0 inputs."""
	import glob
	import numpy as np
	import torch
	sys.path.insert(0, os.path.join(os.path.dirname(HERE), "bench", "scale"))
	# the hf_* models pickle transformers classes: scripts/deps.sh scale's folder
	deps = os.environ.get("VIBEE_SCALE_PY") or os.path.join(os.path.dirname(HERE), "build", "scale-py")
	if os.path.isdir(deps):
		sys.path.append(deps)
	torch.set_num_threads(args.threads)
	model = torch.load(pt).eval()
	ds = os.path.join(os.path.dirname(pt), "test_data_set_0")
	n_in = len(glob.glob(os.path.join(ds, "input_*.pb")))
	inputs = [torch.from_numpy(load_pb(os.path.join(ds, "input_%d.pb" % i))) for i in range(n_in)]
	times, out = time_model(model, inputs, args)
	err = float(np.max(np.abs(load_pb(os.path.join(ds, "output_0.pb")) - out.numpy())))
	rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
	print("median_ms %.6f maxrss_kb %d max_abs_err %.3g" % (statistics.median(times), rss, err))
	return 0


if __name__ == "__main__":
	sys.exit(main())
