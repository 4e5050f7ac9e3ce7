#!/usr/bin/env python3
# Numerics of the fusions of passes/fuse.c (tests/ir/fuse_move.vir has their
# IR): small ONNX graphs built here with onnx.helper, run under ONNX Runtime
# for the reference and compiled with vibeec (-O2: fused, -O0: one kernel per
# node) and run with vibee-run on the same random inputs.
# usage: fuse_check.py VIBEEC VIBEE_RUN WORKDIR [--target T]; exit 0 all match,
# 1 a mismatch or failure, 77 without onnx/onnxruntime.
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


def const(name, vals, dt=TensorProto.INT64):
	arr = np.array(vals, dtype=np.int64 if dt == TensorProto.INT64 else np.float32)
	return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(arr, name))


def model(name, nodes, ins, outs):
	g = helper.make_graph(nodes, name, [helper.make_tensor_value_info(n, F, s) for n, s in ins],
		[helper.make_tensor_value_info(n, F, None) for n in outs])
	m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
	m.ir_version = 8
	return m, ins


def rope():
	"""Rotary embedding over a head-split Transpose (q of Llama)."""
	n = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1, 3]),
		const("s0", [0]), const("s8", [8]), const("big", [1 << 62]), const("ax", [3]),
		helper.make_node("Mul", ["t", "cs"], ["c1"]),
		helper.make_node("Slice", ["t", "s0", "s8", "ax"], ["lo"]),
		helper.make_node("Slice", ["t", "s8", "big", "ax"], ["hi"]),
		helper.make_node("Neg", ["hi"], ["nh"]),
		helper.make_node("Concat", ["nh", "lo"], ["rot"], axis=-1),
		helper.make_node("Mul", ["rot", "sn"], ["c2"]),
		helper.make_node("Add", ["c1", "c2"], ["q"])]
	return model("rope", n, [("x", [2, 7, 3, 16]), ("cs", [7, 16]), ("sn", [7, 16])], ["q"])


def mixed():
	"""Stepped and negative Slices, a 3-way Concat on a middle axis, an Expand
	(from a broadcast Slice), transposes with other perms; several outputs,
	one of them also read inside a group."""
	n = [const("a0", [-5]), const("a1", [1 << 62]), const("ax1", [1]), const("st2", [2]),
		const("b0", [0]), const("b1", [6]), const("b12", [12]), const("ax2", [2]),
		const("shp", [4, 5, 6]),
		helper.make_node("Slice", ["x", "a0", "a1", "ax1"], ["s1"]),          # [4,5,6]
		helper.make_node("Slice", ["y", "b0", "b12", "ax2", "st2"], ["s2"]),  # [4,2,6]
		helper.make_node("Transpose", ["z"], ["tz"], perm=[2, 0, 1]),         # [4,3,6]
		helper.make_node("Exp", ["s2"], ["e2"]),
		helper.make_node("Concat", ["e2", "tz", "s1"], ["cat"], axis=1),      # [4,10,6]
		helper.make_node("Sigmoid", ["w"], ["sw"]),
		helper.make_node("Expand", ["sw", "shp"], ["ew"]),                    # [4,5,6]
		helper.make_node("Mul", ["ew", "s1"], ["m1"]),
		helper.make_node("Tanh", ["m1"], ["o2"]),
		helper.make_node("Slice", ["cat", "b0", "b1", "ax1"], ["cs"]),        # [4,6,6]
		helper.make_node("Add", ["cs", "v"], ["o1"])]
	return model("mixed", n, [("x", [4, 9, 6]), ("y", [4, 2, 12]), ("z", [3, 6, 4]),
		("w", [1, 5, 1]), ("v", [1, 6, 1])], ["o1", "o2", "cat"])


def catmid():
	"""The same movement with every intermediate read once: one group whose
	Concat (middle axis) selects among an Exp of a stepped Slice, a Transpose
	and a negative-start Slice, then a Slice of the Concat."""
	m, ins = mixed()
	keep = [n for n in m.graph.node if n.output[0] not in ("sw", "ew", "m1", "o2")]
	keep.append(helper.make_node("Relu", ["o1"], ["r"]))
	return model("catmid", keep, ins, ["r"])


def interleave():
	"""Interleaved rotary embedding: even/odd stepped Slices, Unsqueeze, Concat
	on a new last axis, a Reshape merging it back (div/mod index arithmetic)
	and a Squeeze/Unsqueeze pair, all inside the group of the final Mul."""
	n = [const("s0", [0]), const("s1", [1]), const("big", [1 << 62]), const("ax", [-1]),
		const("st", [2]), const("shp", [2, 3, 8]), const("u", [-1]), const("ua", [0]),
		helper.make_node("Slice", ["x", "s0", "big", "ax", "st"], ["ev"]),
		helper.make_node("Slice", ["x", "s1", "big", "ax", "st"], ["od"]),
		helper.make_node("Mul", ["ev", "c"], ["ec"]), helper.make_node("Mul", ["od", "s"], ["os"]),
		helper.make_node("Sub", ["ec", "os"], ["ra"]),
		helper.make_node("Mul", ["ev", "s"], ["es"]), helper.make_node("Mul", ["od", "c"], ["oc"]),
		helper.make_node("Add", ["es", "oc"], ["rb"]),
		helper.make_node("Unsqueeze", ["ra", "u"], ["ua1"]),
		helper.make_node("Unsqueeze", ["rb", "u"], ["ub1"]),
		helper.make_node("Concat", ["ua1", "ub1"], ["cat"], axis=-1),
		helper.make_node("Reshape", ["cat", "shp"], ["rs"]),
		helper.make_node("Unsqueeze", ["rs", "ua"], ["r1"]),
		helper.make_node("Squeeze", ["r1", "ua"], ["r2"]),
		helper.make_node("Mul", ["r2", "w"], ["y"])]
	return model("interleave", n, [("x", [2, 3, 8]), ("c", [3, 4]), ("s", [3, 4]), ("w", [8])],
		["y"])


def rms():
	"""RMSNorm as PyTorch exports it (Pow, ReduceMean, Add eps, Sqrt, Div 1/..,
	Mul x, Mul weight), on a residual sum that a second output also reads;
	and the Div(x, Sqrt) form over a ReduceSum with a symbolic batch."""
	n = [helper.make_node("Add", ["x", "res"], ["s"]),
		const("two", [2.0], TensorProto.FLOAT), const("eps", [1e-6], TensorProto.FLOAT),
		const("one", [1.0], TensorProto.FLOAT),
		helper.make_node("Pow", ["s", "two"], ["p"]),
		helper.make_node("ReduceMean", ["p"], ["m"], axes=[-1], keepdims=1),
		helper.make_node("Add", ["m", "eps"], ["a"]),
		helper.make_node("Sqrt", ["a"], ["q"]),
		helper.make_node("Div", ["one", "q"], ["inv"]),
		helper.make_node("Mul", ["s", "inv"], ["y0"]),
		helper.make_node("Mul", ["w", "y0"], ["y"]),
		helper.make_node("Relu", ["s"], ["s2"])]
	return model("rms", n, [("x", [2, 5, 24]), ("res", [2, 5, 24]), ("w", [24])], ["y", "s2"])


def ln_decomposed():
	"""LayerNorm written out: two row groups (x - mean; variance and scale)."""
	n = [const("eps", [1e-5], TensorProto.FLOAT),
		helper.make_node("ReduceMean", ["x"], ["mu"], axes=[-1], keepdims=1),
		helper.make_node("Sub", ["x", "mu"], ["xc"]),
		helper.make_node("Mul", ["xc", "xc"], ["xc2"]),
		helper.make_node("ReduceMean", ["xc2"], ["var"], axes=[-1], keepdims=1),
		helper.make_node("Add", ["var", "eps"], ["ve"]),
		helper.make_node("Sqrt", ["ve"], ["sd"]),
		helper.make_node("Div", ["xc", "sd"], ["n0"]),
		helper.make_node("Mul", ["n0", "w"], ["n1"]),
		helper.make_node("Add", ["n1", "b"], ["y"])]
	return model("ln_decomposed", n, [("x", [3, 4, 40]), ("w", [40]), ("b", [40])], ["y"])


def rms_dyn():
	n = [const("eps", [1e-5], TensorProto.FLOAT), const("ax", [-1]),
		helper.make_node("Mul", ["x", "x"], ["p"]),
		helper.make_node("ReduceSum", ["p", "ax"], ["m"], keepdims=1),
		helper.make_node("Mul", ["m", "k"], ["mk"]),
		helper.make_node("Add", ["mk", "eps"], ["a"]),
		helper.make_node("Sqrt", ["a"], ["q"]),
		helper.make_node("Div", ["x", "q"], ["y0"]),
		helper.make_node("Mul", ["y0", "w"], ["y1"]),
		helper.make_node("Add", ["y1", "b"], ["y"])]
	return model("rms_dyn", n, [("x", ["B", 3, 19]), ("k", ["B", 1, 1]), ("w", [19]),
		("b", [3, 1])], ["y"])


def ln_residual():
	"""LayerNorm of a residual sum that is read again after it (the transformer
	residual stream): one row kernel that also writes the sum (fuse_out); and a
	LayerNorm without bias of a longer chain (Relu, Mul by a broadcast weight,
	Sub) whose row length is no multiple of the vector width."""
	n = [helper.make_node("Add", ["x", "r"], ["h"]),
		helper.make_node("LayerNormalization", ["h", "w", "b"], ["ln"], axis=-1, epsilon=1e-5),
		helper.make_node("Add", ["ln", "h"], ["y"]),
		helper.make_node("Relu", ["x2"], ["a"]),
		helper.make_node("Mul", ["a", "v"], ["av"]),
		helper.make_node("Sub", ["av", "r2"], ["h2"]),
		helper.make_node("LayerNormalization", ["h2", "w2"], ["y2"], axis=2, epsilon=1e-3)]
	return model("ln_residual", n, [("x", [2, 7, 32]), ("r", [2, 7, 32]), ("w", [32]),
		("b", [32]), ("x2", ["B", 3, 37]), ("v", [1, 1, 37]), ("r2", ["B", 3, 37]), ("w2", [37])],
		["y", "y2"])


def softmax_pro():
	"""Softmax over the last axis of scores * scale + an attention mask that
	broadcasts over heads and query rows (the prologue computed in the row
	kernel), with a symbolic batch; LogSoftmax of x / c."""
	n = [const("c", [0.125], TensorProto.FLOAT), const("neg", [-3.0], TensorProto.FLOAT),
		const("one", [1.0], TensorProto.FLOAT),
		helper.make_node("Mul", ["s", "c"], ["sc"]),
		helper.make_node("Sub", ["one", "m"], ["mi"]),
		helper.make_node("Mul", ["mi", "neg"], ["mk"]),
		helper.make_node("Add", ["sc", "mk"], ["z"]),
		helper.make_node("Softmax", ["z"], ["p"], axis=-1),
		helper.make_node("Div", ["x", "c"], ["xd"]),
		helper.make_node("LogSoftmax", ["xd"], ["lp"], axis=1)]
	return model("softmax_pro", n, [("s", ["B", 2, 9, 9]), ("m", ["B", 1, 1, 9]),
		("x", [5, 21])], ["p", "lp"])


def kv_concat():
	"""KV-cache append: present = Concat(past, new) on the sequence axis with a
	symbolic past length; the new keys' rotary-style chain over a Transpose and
	the values' Transpose are computed into their slices of the Concat's output
	(a Concat-rooted group); a third Concat on the last axis of an Exp and a
	Slice with a static shape."""
	n = [const("s0", [0]), const("s2", [2]), const("ax", [3]),
		helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1, 3]),
		helper.make_node("Mul", ["kt", "c"], ["k1"]),
		helper.make_node("Slice", ["kt", "s0", "s2", "ax"], ["ks"]),
		helper.make_node("Neg", ["ks"], ["kn"]),
		helper.make_node("Concat", ["kn", "ks"], ["kc"], axis=3),
		helper.make_node("Mul", ["kc", "s"], ["k2"]),
		helper.make_node("Add", ["k1", "k2"], ["kr"]),
		helper.make_node("Concat", ["past_k", "kr"], ["pk"], axis=2),
		helper.make_node("Transpose", ["v"], ["vt"], perm=[0, 2, 1, 3]),
		helper.make_node("Concat", ["past_v", "vt"], ["pv"], axis=-2),
		helper.make_node("Exp", ["w"], ["we"]),
		helper.make_node("Slice", ["w", "s0", "s2", "ax"], ["wsl"]),
		helper.make_node("Concat", ["we", "wsl"], ["wc"], axis=-1)]
	return model("kv_concat", n, [("past_k", [1, 2, "P", 4]), ("past_v", [1, 2, "P", 4]),
		("k", [1, 3, 2, 4]), ("v", [1, 3, 2, 4]), ("c", [3, 4]), ("s", [3, 4]),
		("w", [2, 3, 5, 6])], ["pk", "pv", "wc"])


def dyn():
	"""A symbolic batch: the Transpose/Slice index arithmetic with run-time dims."""
	n = [const("s0", [1]), const("s1", [3]), const("ax", [2]),
		helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1]),      # [B,4,5]
		helper.make_node("Slice", ["t", "s0", "s1", "ax"], ["s"]),        # [B,4,2]
		helper.make_node("Concat", ["s", "s"], ["c"], axis=2),            # [B,4,4]
		helper.make_node("Mul", ["c", "w"], ["o"])]
	return model("dyn", n, [("x", ["B", 5, 4]), ("w", [4, 4])], ["o"])


def new_gelu(x, y):
	"""HF's NewGELU on x as exported: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
	x^3 as Pow, with its constants (so once per graph)."""
	return [const("half", [0.5], TensorProto.FLOAT), const("one", [1.0], TensorProto.FLOAT),
		const("three", [3.0], TensorProto.FLOAT), const("kap", [0.044715], TensorProto.FLOAT),
		const("beta", [0.7978845608028654], TensorProto.FLOAT),
		helper.make_node("Pow", [x, "three"], [x + "3"]),
		helper.make_node("Mul", ["kap", x + "3"], [x + "4"]),
		helper.make_node("Add", [x, x + "4"], [x + "5"]),
		helper.make_node("Mul", ["beta", x + "5"], [x + "6"]),
		helper.make_node("Tanh", [x + "6"], [x + "7"]),
		helper.make_node("Add", ["one", x + "7"], [x + "8"]),
		helper.make_node("Mul", ["half", x], [x + "9"]),
		helper.make_node("Mul", [x + "9", x + "8"], [y])]


def gelu_tanh():
	"""The tanh GELU as exporters write it (HF's NewGELU with Pow after a
	MatMul + bias: the product's GeluTanh epilogue; torch's decomposition
	with x*x*x on a plain input: Gelu(approximate=tanh) in a loop)."""
	r = np.random.default_rng(3)
	n = [const("w", r.standard_normal([24, 40]).tolist(), TensorProto.FLOAT),
		const("bias", r.standard_normal([40]).tolist(), TensorProto.FLOAT),
		helper.make_node("MatMul", ["x", "w"], ["mm"]),
		helper.make_node("Add", ["mm", "bias"], ["h"])] + new_gelu("h", "y") + [
		helper.make_node("Mul", ["u", "u"], ["u2"]),
		helper.make_node("Mul", ["u2", "u"], ["u3"]),
		helper.make_node("Mul", ["u3", "kap"], ["u4"]),
		helper.make_node("Add", ["u4", "u"], ["u5"]),
		helper.make_node("Mul", ["u5", "beta"], ["u6"]),
		helper.make_node("Tanh", ["u6"], ["u7"]),
		helper.make_node("Add", ["u7", "one"], ["u8"]),
		helper.make_node("Mul", ["half", "u8"], ["u9"]),
		helper.make_node("Mul", ["u", "u9"], ["y2"])]
	return model("gelu_tanh", n, [("x", ["B", 5, 24]), ("u", [3, 37])], ["y", "y2"])


def gemm_linear():
	"""Linear layers as Gemm (passes/gemm_mm.c): GPT-2's Conv1D (Reshape to
	[T, K], Gemm with bias, Reshape back) into the tanh GELU, then another
	Conv1D into a residual Add; nn.Linear (transB = 1, a [1, N] bias) into
	Relu."""
	r = np.random.default_rng(5)
	w = lambda *s: r.standard_normal(list(s)).tolist()
	n = [const("w1", w(24, 40), TensorProto.FLOAT), const("b1", w(40), TensorProto.FLOAT),
		const("w2", w(40, 24), TensorProto.FLOAT), const("b2", w(24), TensorProto.FLOAT),
		const("wt", w(16, 24), TensorProto.FLOAT), const("bt", w(1, 16), TensorProto.FLOAT),
		const("flat", [-1, 24]), const("back", [2, 5, 40]), const("flat2", [-1, 40]),
		const("back2", [2, 5, 24]),
		helper.make_node("Reshape", ["x", "flat"], ["x2"]),
		helper.make_node("Gemm", ["x2", "w1", "b1"], ["g"]),
		helper.make_node("Reshape", ["g", "back"], ["h"])] + new_gelu("h", "act") + [
		helper.make_node("Reshape", ["act", "flat2"], ["a2"]),
		helper.make_node("Gemm", ["a2", "w2", "b2"], ["g2"]),
		helper.make_node("Reshape", ["g2", "back2"], ["o"]),
		helper.make_node("Add", ["o", "x"], ["y"]),
		helper.make_node("Gemm", ["u", "wt", "bt"], ["l"], transB=1),
		helper.make_node("Relu", ["l"], ["y2"])]
	return model("gemm_linear", n, [("x", [2, 5, 24]), ("u", [7, 24])], ["y", "y2"])


def gemm_dyn():
	"""GPT-2's Conv1D exported with dynamic axes: x [B, T, 24] flattened by
	[-1, 24], the product restored to Shape(x)[:2] + [40], into the tanh GELU
	(as Gelu) and a residual-free second Conv1D back to 24."""
	r = np.random.default_rng(6)
	w = lambda *s: r.standard_normal(list(s)).tolist()
	n = [const("w1", w(24, 40), TensorProto.FLOAT), const("b1", w(40), TensorProto.FLOAT),
		const("w2", w(40, 24), TensorProto.FLOAT), const("b2", w(24), TensorProto.FLOAT),
		const("flat", [-1, 24]), const("flat2", [-1, 40]), const("z", [0]), const("e2", [2]),
		const("n40", [40]), const("n24", [24]),
		helper.make_node("Shape", ["x"], ["xs"]),
		helper.make_node("Slice", ["xs", "z", "e2"], ["lead"]),
		helper.make_node("Concat", ["lead", "n40"], ["s40"], axis=0),
		helper.make_node("Concat", ["lead", "n24"], ["s24"], axis=0),
		helper.make_node("Reshape", ["x", "flat"], ["x2"]),
		helper.make_node("Gemm", ["x2", "w1", "b1"], ["g"]),
		helper.make_node("Reshape", ["g", "s40"], ["h"]),
		helper.make_node("Tanh", ["h"], ["a"]),
		helper.make_node("Reshape", ["a", "flat2"], ["a2"]),
		helper.make_node("Gemm", ["a2", "w2", "b2"], ["g2"]),
		helper.make_node("Reshape", ["g2", "s24"], ["y"])]
	return model("gemm_dyn", n, [("x", ["B", "T", 24])], ["y"])


def run(args, cases):
	vibeec, run_, work = args[0], args[1], args[2]
	extra = args[3:]
	rng = np.random.default_rng(7)
	ok = True
	for make, batch in cases:
		m, ins = make()
		name = m.graph.name
		d = os.path.join(work, name)
		ds = os.path.join(d, "test_data_set_0")
		os.makedirs(ds, exist_ok=True)
		path = os.path.join(d, "model.onnx")
		onnx.save(m, path)
		feeds = {}
		for i, (n, s) in enumerate(ins):
			shape = [batch if isinstance(x, str) else x for x in s]
			a = rng.standard_normal(shape).astype(np.float32)
			feeds[n] = a
			with open(os.path.join(ds, "input_%d.pb" % i), "wb") as f:
				f.write(numpy_helper.from_array(a, n).SerializeToString())
		sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
		outs = sess.run(None, feeds)
		for i, o in enumerate(outs):
			with open(os.path.join(ds, "output_%d.pb" % i), "wb") as f:
				f.write(numpy_helper.from_array(o, "out%d" % i).SerializeToString())
		for opt in ["-O2", "-O0"]:
			so = os.path.join(d, "model%s.so" % opt)
			c = subprocess.run([vibeec, path, opt, "-o", so] + extra, capture_output=True, text=True)
			if c.returncode != 0:
				print("FAIL %s %s: vibeec: %s" % (name, opt, c.stderr.strip()))
				ok = False
				continue
			r = subprocess.run([run_, so, "--data", ds, "--threads", "2"], capture_output=True,
				text=True)
			print("%s %s: %s" % (name, opt, " ".join(r.stdout.split("\n")).strip()))
			if r.returncode != 0:
				print("FAIL %s %s: %s" % (name, opt, r.stderr.strip()))
				ok = False
	return ok


def main():
	if len(sys.argv) < 4:
		print(__doc__ or "usage: fuse_check.py VIBEEC VIBEE_RUN WORKDIR [vibeec args]")
		return 2
	cases = [(rope, None), (mixed, None), (catmid, None), (interleave, None), (dyn, 3), (rms, None), (rms_dyn, 4), (ln_decomposed, None),
		(ln_residual, 3), (softmax_pro, 2), (kv_concat, 5), (gelu_tanh, 2),
		(gemm_linear, None), (gemm_dyn, 3)]
	return 0 if run(sys.argv[1:], cases) else 1


if __name__ == "__main__":
	sys.exit(main())
