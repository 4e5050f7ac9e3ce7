#!/usr/bin/env python3
# Cross-checks the sample models: runs each samples/*/model.onnx under ONNX Runtime
# and compares with the stored PyTorch references (test_data_set_*/output_N.pb).
# Usage: python3 tests/crosscheck_ort.py [--rtol R] [--atol A] [SAMPLE ...]; exit 1 on mismatch.
import argparse
import glob
import os
import sys

try:
	import numpy as np
	import onnx
	import onnxruntime as ort
	from onnx import numpy_helper
except ImportError as e:  # scripts/deps.sh installs them; without them this check is skipped, not passed
	print("skipped: %s (run scripts/deps.sh)" % e)
	sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_pb(path):
	t = onnx.TensorProto()
	with open(path, "rb") as f:
		t.ParseFromString(f.read())
	return numpy_helper.to_array(t)


def read_set(d, prefix):
	files = sorted(glob.glob(os.path.join(d, prefix + "_*.pb")),
		key=lambda p: int(p.rsplit("_", 1)[1][:-3]))
	return [read_pb(p) for p in files]


def check_sample(model, rtol, atol):
	"""Returns (ok, lines) for one model.onnx and all its test data sets."""
	sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
	in_names = [i.name for i in sess.get_inputs()]
	out_names = [o.name for o in sess.get_outputs()]
	sets = sorted(glob.glob(os.path.join(os.path.dirname(model), "test_data_set_*")))
	if not sets:
		return False, ["no test_data_set_* folder"]
	ok, lines = True, []
	for ds in sets:
		ins, refs = read_set(ds, "input"), read_set(ds, "output")
		if len(ins) != len(in_names) or len(refs) != len(out_names):
			return False, ["%s: %d inputs/%d outputs on disk, model has %d/%d" % (
				os.path.basename(ds), len(ins), len(refs), len(in_names), len(out_names))]
		got = sess.run(out_names, dict(zip(in_names, ins)))
		for name, g, r in zip(out_names, got, refs):
			if g.shape != r.shape or g.dtype != r.dtype:
				ok = False
				lines.append("%s %s: got %s%s, reference %s%s" % (os.path.basename(ds),
					name, g.dtype, list(g.shape), r.dtype, list(r.shape)))
				continue
			diff = np.abs(g.astype(np.float64) - r.astype(np.float64))
			bad = ~(diff <= atol + rtol * np.abs(r.astype(np.float64)))
			if g.dtype.kind == "f":  # NaN where the reference has NaN is a match
				bad &= ~(np.isnan(g) & np.isnan(r))
			maxabs = float(np.nanmax(diff)) if diff.size else 0.0
			nbad = int(np.count_nonzero(bad))
			ok &= nbad == 0
			lines.append("%s %s %s%s max_abs %.3g  %s" % (os.path.basename(ds), name,
				g.dtype, list(g.shape), maxabs,
				"PASS" if nbad == 0 else "FAIL (%d of %d off)" % (nbad, diff.size)))
	return ok, lines


def main():
	ap = argparse.ArgumentParser(description="check the samples under ONNX Runtime")
	ap.add_argument("names", nargs="*", help="samples (default: all in samples/)")
	ap.add_argument("--rtol", type=float, default=1e-3)
	ap.add_argument("--atol", type=float, default=1e-4)
	ap.add_argument("--samples", default=os.path.join(ROOT, "samples"))
	args = ap.parse_args()
	names = args.names or sorted(os.path.basename(os.path.dirname(p))
		for p in glob.glob(os.path.join(args.samples, "*", "model.onnx")))
	if not names:
		print("no samples found under %s" % args.samples, file=sys.stderr)
		return 2
	print("onnxruntime %s, rtol %g, atol %g" % (ort.__version__, args.rtol, args.atol))
	all_ok = True
	for n in names:
		model = os.path.join(args.samples, n, "model.onnx")
		try:
			ok, lines = check_sample(model, args.rtol, args.atol)
		except Exception as e:  # a model ORT cannot load or run is a failure
			ok, lines = False, ["error: %s" % str(e).splitlines()[0]]
		all_ok &= ok
		for line in lines:
			print("%-7s %s" % (n, line))
	print("ALL PASS" if all_ok else "MISMATCH")
	return 0 if all_ok else 1


if __name__ == "__main__":
	sys.exit(main())
