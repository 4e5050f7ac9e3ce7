#!/usr/bin/env python3
# Counts the floating-point work of one run of an ONNX model: 2 flops per
# multiply-add of its MatMul, Gemm, Conv and ConvTranspose nodes (the products
# that dominate every sample), at the shapes ONNX's own shape inference gives
# for the inputs of a test data set. It reads the model, not vibeec's IR, so
# the count is the same for every engine; bench.py divides it by each engine's
# median latency to show how close each comes to the machine's FMA peak.
# Elementwise ops, reductions, Softmax and normalisations are not counted.
# Where inference leaves a shape symbolic (data-dependent Reshapes, loops), the
# shapes come from one ONNX Runtime run on the test data set with the needed
# tensors exposed as outputs.
# Usage: python3 bench/flops.py MODEL.onnx [TEST_DATA_SET_DIR]
import glob
import os
import sys

import onnx
from onnx import numpy_helper, shape_inference

COUNTED = ("MatMul", "Gemm", "Conv", "ConvTranspose")


def prod(xs):
	p = 1
	for x in xs:
		p *= x
	return p


def input_shapes(ds):
	"""Shapes of the input_N.pb tensors of a test data set, in file order."""
	out = []
	if not ds:
		return out
	for p in sorted(glob.glob(os.path.join(ds, "input_*.pb")),
			key=lambda s: int(os.path.basename(s)[6:-3])):
		t = onnx.TensorProto()
		with open(p, "rb") as f:
			t.ParseFromString(f.read())
		out.append(list(t.dims))
	return out


def ort_shapes(model, names, ds):
	"""name -> shape of the given intermediate tensors, from one ORT run."""
	import numpy as np
	import onnxruntime as ort
	from onnx import helper
	m = onnx.ModelProto()
	m.CopyFrom(model)
	have = {o.name for o in m.graph.output}
	for x in names:
		if x not in have:
			m.graph.output.append(helper.make_empty_tensor_value_info(x))
	so = ort.SessionOptions()
	so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
	sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
	feeds = {}
	for i, p in zip(sess.get_inputs(), sorted(glob.glob(os.path.join(ds, "input_*.pb")),
			key=lambda s: int(os.path.basename(s)[6:-3]))):
		t = onnx.TensorProto()
		with open(p, "rb") as f:
			t.ParseFromString(f.read())
		feeds[i.name] = numpy_helper.to_array(t)
	outs = sess.run(names, feeds)
	return {n: list(np.shape(o)) for n, o in zip(names, outs)}


def static_shapes(model):
	"""name -> list of ints, for every value whose inferred shape is fully static."""
	g = model.graph
	shapes = {}
	for vi in list(g.input) + list(g.value_info) + list(g.output):
		tt = vi.type.tensor_type
		if not tt.HasField("shape"):
			continue
		dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
		if all(d is not None for d in dims):
			shapes[vi.name] = dims
	for t in g.initializer:
		shapes[t.name] = list(t.dims)
	return shapes


def count(model_path, ds=None):
	"""(flops, uncounted): flops of the counted ops; names of counted-kind nodes
	whose shapes were not static after inference (their work is missing)."""
	m = onnx.load(model_path, load_external_data=False)
	real = [i for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}]
	for vi, dims in zip(real, input_shapes(ds)):
		shp = vi.type.tensor_type.shape
		del shp.dim[:]
		for d in dims:
			shp.dim.add().dim_value = d
	try:
		m = shape_inference.infer_shapes(m, data_prop=True)
	except Exception:   # a model ORT runs but the checker dislikes: count what is known
		pass
	s = static_shapes(m)
	want = [x for n in m.graph.node if n.op_type in COUNTED
		for x in list(n.input[:2]) + list(n.output[:1]) if x and x not in s]
	if want and ds:
		try:
			full = onnx.load(model_path)   # with its external data, to run it
			s.update(ort_shapes(full, list(dict.fromkeys(want)), ds))
		except Exception as e:
			print("flops: shapes from ONNX Runtime failed: %s" % e, file=sys.stderr)
	flops, uncounted = 0, []
	for n in m.graph.node:
		if n.op_type not in COUNTED:
			continue
		ins = [s.get(x) if x else None for x in n.input]
		out = s.get(n.output[0]) if n.output else None
		f = None
		if n.op_type == "MatMul" and out is not None and ins[0]:
			f = 2 * prod(out) * ins[0][-1]
		elif n.op_type == "Gemm" and out is not None and ins[0]:
			ta = next((a.i for a in n.attribute if a.name == "transA"), 0)
			k = ins[0][0] if ta else ins[0][-1]
			f = 2 * prod(out) * k
		elif n.op_type == "Conv" and out is not None and len(ins) > 1 and ins[1]:
			f = 2 * prod(out) * prod(ins[1][1:])
		elif n.op_type == "ConvTranspose" and len(ins) > 1 and ins[0] and ins[1]:
			f = 2 * prod(ins[0]) * prod(ins[1][1:])
		if f is None:
			uncounted.append(n.name or n.op_type)
		else:
			flops += f
	return flops, uncounted


def main():
	if len(sys.argv) not in (2, 3):
		print("usage: flops.py MODEL.onnx [TEST_DATA_SET_DIR]", file=sys.stderr)
		return 2
	flops, unc = count(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else None)
	print("gflop %.4f" % (flops / 1e9))
	if unc:
		print("not counted (shapes not static): %s" % ", ".join(unc))
	return 0


if __name__ == "__main__":
	sys.exit(main())
