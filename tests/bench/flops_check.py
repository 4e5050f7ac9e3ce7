#!/usr/bin/env python3
# bench/flops.py counts 2 flops per multiply-add of MatMul, Gemm, Conv and
# ConvTranspose. Checked against hand-computed counts on a small graph that has
# every counted kind (batched MatMul, transposed Gemm, grouped strided Conv,
# ConvTranspose), ops that are not counted, and a MatMul behind a Reshape whose
# shape is computed at run time (so only the ONNX Runtime run can tell it).
import os
import sys
import tempfile

try:
	import numpy as np
	import onnx
	import onnxruntime  # noqa: F401  (flops.py runs it for run-time shapes)
	from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
	print("skipped: %s (run scripts/deps.sh)" % e)
	sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import flops  # noqa: E402


def init(name, shape, rng):
	return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def main():
	rng = np.random.default_rng(1)
	nodes = [
		# x [2,3,4] @ w1 [4,5] -> [2,3,5]: 2*2*3*5*4
		helper.make_node("MatMul", ["x", "w1"], ["m1"]),
		helper.make_node("Relu", ["m1"], ["r1"]),
		# Gemm transA: a [6,3] (A^T is [3,6]) x b [6,7] -> [3,7]: 2*3*7*6
		helper.make_node("Gemm", ["a", "gb"], ["g"], transA=1),
		# Conv 1x8x10x10, w [16, 8/2, 3, 3], group 2, stride 2, pad 1 -> 1x16x5x5: 2*400*36
		helper.make_node("Conv", ["img", "cw"], ["c"], group=2, strides=[2, 2], pads=[1, 1, 1, 1]),
		# ConvTranspose 1x16x5x5, w [16, 4, 2, 2] stride 2 -> 1x4x10x10: 2*400*16
		helper.make_node("ConvTranspose", ["c", "tw"], ["ct"], strides=[2, 2]),
		# shape of y decided at run time: Reshape to [-1, prod(shape)/...]
		helper.make_node("Shape", ["y"], ["ys"]),
		helper.make_node("ReduceProd", ["ys"], ["n"], keepdims=1),
		helper.make_node("Div", ["n", "four"], ["rows"]),
		helper.make_node("Concat", ["rows", "four"], ["shp"], axis=0),
		helper.make_node("Reshape", ["y", "shp"], ["y2"]),
		# y2 [6,4] @ w1 [4,5] -> [6,5]: 2*6*5*4 (y is fed as [2,12])
		helper.make_node("MatMul", ["y2", "w1"], ["m2"]),
	]
	inits = [init("w1", [4, 5], rng), init("gb", [6, 7], rng), init("cw", [16, 4, 3, 3], rng),
		init("tw", [16, 4, 2, 2], rng), numpy_helper.from_array(np.array([4], np.int64), "four")]
	g = helper.make_graph(nodes, "flops", [
		helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4]),
		helper.make_tensor_value_info("a", TensorProto.FLOAT, [6, 3]),
		helper.make_tensor_value_info("img", TensorProto.FLOAT, [1, 8, 10, 10]),
		helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n0", "n1"])],
		[helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ("r1", "g", "ct", "m2")],
		inits)
	m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
	want_static = 2 * 2 * 3 * 5 * 4 + 2 * 3 * 7 * 6 + 2 * 400 * 36 + 2 * 400 * 16
	want = want_static + 2 * 6 * 5 * 4
	fails = 0
	with tempfile.TemporaryDirectory() as d:
		path = os.path.join(d, "model.onnx")
		onnx.save(m, path)
		ds = os.path.join(d, "test_data_set_0")
		os.makedirs(ds)
		for i, (name, shape) in enumerate([("x", [2, 3, 4]), ("a", [6, 3]),
				("img", [1, 8, 10, 10]), ("y", [2, 12])]):
			t = numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
			with open(os.path.join(ds, "input_%d.pb" % i), "wb") as f:
				f.write(t.SerializeToString())
		got, unc = flops.count(path, ds)
		if got != want or unc:
			print("FAIL with data set: %d flops (want %d), uncounted %s" % (got, want, unc))
			fails += 1
		# without a data set the run-time shape stays unknown: counted apart, named
		got, unc = flops.count(path)
		if got != want_static or len(unc) != 1:
			print("FAIL without data set: %d flops (want %d), uncounted %s" % (got, want_static, unc))
			fails += 1
	print("flops: %s" % ("FAIL" if fails else "PASS (%d flops)" % want))
	return 1 if fails else 0


if __name__ == "__main__":
	sys.exit(main())
