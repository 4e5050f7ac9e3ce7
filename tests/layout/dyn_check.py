#!/usr/bin/env python3
# The blocked-layout convolutions (passes/layout.c, codegen/lower_nchwc.c)
# with run-time N, H and W: a small CNN built here with symbolic dims (stem,
# unfolded BatchNormalization + Relu, Winograd-shaped 3x3 convs, strided and
# dilated ones, asymmetric pads, a depthwise conv, MaxPool, Clip, a residual
# Add, GlobalAveragePool) and the held-out resnet_preact are compiled once
# and run at several input shapes, H and W down to 1 (smaller than every
# kernel), against ONNX Runtime on the same random inputs. It also checks
# that the compiled model has no reference calls and runs its convolutions
# blocked (NCHW16c) rather than as NCHW implicit GEMM. NCHW MaxPool and
# GlobalAveragePool with symbolic N, C, H, W (library kernels, no reference
# call) are checked the same way.
# usage: dyn_check.py VIBEEC VIBEE_RUN SRCDIR WORKDIR; exit 0 all match, 1 a
# mismatch or failure, 77 without onnx/onnxruntime.
import os
import subprocess
import sys

try:
	import numpy as np
	import onnx
	import onnxruntime as ort
	from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
	print("skipped: %s (run scripts/deps.sh)" % e)
	sys.exit(77)

F = TensorProto.FLOAT
SHAPES = [(1, 3, 1, 1), (2, 3, 2, 3), (1, 3, 5, 7), (3, 3, 17, 9), (1, 3, 40, 33)]


def cnn(rng):
	inits = []

	def w(name, *shape):
		a = (rng.standard_normal(shape) * (1.0 / np.sqrt(np.prod(shape[1:])))).astype(np.float32)
		inits.append(numpy_helper.from_array(a, name))
		return name

	def bn(name, c):
		for s, v in (("s", rng.uniform(0.5, 1.5, c)), ("b", rng.standard_normal(c) * 0.1),
				("m", rng.standard_normal(c) * 0.1), ("v", rng.uniform(0.5, 1.5, c))):
			inits.append(numpy_helper.from_array(v.astype(np.float32), name + s))
		return [name + "s", name + "b", name + "m", name + "v"]

	inits.append(numpy_helper.from_array(np.array(0.0, np.float32), "lo"))
	inits.append(numpy_helper.from_array(np.array(6.0, np.float32), "hi"))
	C = helper.make_node
	n = [C("Conv", ["x", w("w0", 16, 3, 3, 3), w("b0", 16)], ["c0"], pads=[1, 1, 1, 1]),
		C("BatchNormalization", ["c0"] + bn("bn1", 16), ["n1"]),
		C("Relu", ["n1"], ["r1"]),
		C("Conv", ["r1", w("w1", 20, 16, 3, 3)], ["c1"], pads=[1, 1, 1, 1]),     # Winograd
		C("Relu", ["c1"], ["r1b"]),
		C("Clip", ["r1b", "lo", "hi"], ["k1"]),
		C("Conv", ["k1", w("w2", 20, 20, 3, 3)], ["c2"], pads=[1, 1, 1, 1]),
		C("Add", ["c2", "c1"], ["a2"]),
		C("Conv", ["a2", w("w3", 32, 20, 3, 3)], ["c3"], pads=[1, 1, 1, 1], strides=[2, 2]),
		C("Conv", ["a2", w("w3s", 32, 20, 1, 1)], ["c3s"], strides=[2, 2]),
		C("Add", ["c3", "c3s"], ["a3"]),
		C("BatchNormalization", ["a3"] + bn("bn2", 32), ["n3"]),
		C("Relu", ["n3"], ["r3"]),
		C("Conv", ["r3", w("w4", 32, 1, 3, 3)], ["c4"], pads=[1, 1, 1, 1], group=32),
		C("Conv", ["c4", w("w5", 24, 32, 3, 3)], ["c5"], pads=[2, 2, 2, 2], dilations=[2, 2]),
		C("Conv", ["c5", w("w6", 24, 24, 2, 2)], ["c6"], pads=[0, 1, 1, 0]),
		C("MaxPool", ["c6"], ["p6"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
		C("Relu", ["p6"], ["r6"]),
		C("GlobalAveragePool", ["r6"], ["g"])]
	g = helper.make_graph(n, "cnn_dyn", [helper.make_tensor_value_info("x", F, ["n", 3, "h", "w"])],
		[helper.make_tensor_value_info("g", F, None), helper.make_tensor_value_info("r6", F, None)],
		inits)
	m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
	m.ir_version = 8
	return m


def pools(rng):
	"""NCHW pools with symbolic N, C, H, W (no convolution: no blocked layout)."""
	C = helper.make_node
	n = [C("MaxPool", ["x"], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
		C("MaxPool", ["x"], ["q"], kernel_shape=[2, 3], strides=[1, 2], pads=[0, 1, 1, 0],
			dilations=[2, 1]),
		C("MaxPool", ["x"], ["u"], kernel_shape=[3, 2], strides=[2, 2], ceil_mode=1),
		C("Relu", ["p"], ["r"]),
		C("GlobalAveragePool", ["r"], ["g"])]
	g = helper.make_graph(n, "pools_dyn",
		[helper.make_tensor_value_info("x", F, ["n", "c", "h", "w"])],
		[helper.make_tensor_value_info(v, F, None) for v in ("g", "q", "u")])
	m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
	m.ir_version = 8
	return m


def stats(vibeec, path, so):
	c = subprocess.run([vibeec, path, "-o", so, "--stats", "--emit=c"], capture_output=True,
		text=True)
	if c.returncode != 0:
		return None, "vibeec: " + c.stderr.strip()
	code = open(so).read()
	c2 = subprocess.run([vibeec, path, "-o", so[:-2] + ".so"], capture_output=True, text=True)
	if c2.returncode != 0:
		return None, "vibeec: " + c2.stderr.strip()
	return (c.stderr, code), None


def check(vibeec, run_, path, work, rng, blocked=True, shapes=SHAPES):
	name = os.path.basename(os.path.dirname(path)) if path.endswith("model.onnx") else \
		os.path.splitext(os.path.basename(path))[0]
	d = os.path.join(work, name)
	os.makedirs(d, exist_ok=True)
	so_c = os.path.join(d, "model.c")
	res, err = stats(vibeec, path, so_c)
	if err:
		print("FAIL %s: %s" % (name, err))
		return False
	log, code = res
	ok = True
	if "0 reference calls" not in log:
		print("FAIL %s: reference calls left: %s" % (name, log.strip().splitlines()[-1]))
		ok = False
	if blocked and ("(implicit GEMM)" in code or "NCHW16c" not in code):
		print("FAIL %s: convolutions not in the blocked layout" % name)
		ok = False
	sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
	iname = sess.get_inputs()[0].name
	for k, shape in enumerate(shapes):
		ds = os.path.join(d, "test_data_set_%d" % k)
		os.makedirs(ds, exist_ok=True)
		x = rng.standard_normal(shape).astype(np.float32)
		with open(os.path.join(ds, "input_0.pb"), "wb") as f:
			f.write(numpy_helper.from_array(x, iname).SerializeToString())
		for i, o in enumerate(sess.run(None, {iname: x})):
			with open(os.path.join(ds, "output_%d.pb" % i), "wb") as f:
				f.write(numpy_helper.from_array(o, "out%d" % i).SerializeToString())
		for th in ("1", "2"):
			r = subprocess.run([run_, os.path.join(d, "model.so"), "--data", ds, "--threads", th],
				capture_output=True, text=True)
			print("%s %s threads %s: %s" % (name, shape, th, " ".join(r.stdout.split("\n")).strip()))
			if r.returncode != 0:
				print("FAIL %s %s: %s" % (name, shape, r.stderr.strip()))
				ok = False
	return ok


def main():
	if len(sys.argv) != 5:
		print("usage: dyn_check.py VIBEEC VIBEE_RUN SRCDIR WORKDIR")
		return 2
	vibeec, run_, src, work = sys.argv[1:]
	rng = np.random.default_rng(11)
	os.makedirs(work, exist_ok=True)
	path = os.path.join(work, "cnn_dyn.onnx")
	onnx.save(cnn(rng), path)
	ok = check(vibeec, run_, path, work, rng)
	path = os.path.join(work, "pools_dyn.onnx")
	onnx.save(pools(rng), path)
	ok &= check(vibeec, run_, path, work, rng, False,
		[(1, 1, 3, 2), (2, 5, 4, 4), (1, 3, 7, 10), (3, 17, 12, 5)])
	ok &= check(vibeec, run_, os.path.join(src, "tests/heldout/resnet_preact/model.onnx"), work, rng)
	return 0 if ok else 1


if __name__ == "__main__":
	sys.exit(main())
