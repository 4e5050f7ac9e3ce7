#!/usr/bin/env python3
# Builds the scan samples whose recurrence sits inside an ONNX control-flow
# op (issue 5): a small Mamba block written with onnx.helper, its selective
# scan h = exp(dt*A)*h + dt*B*x, y = sum_n(h*C) as the body of
#   mambascan: a Scan (scan inputs x, dt, B, C over axis 1; softplus(dt) in
#              the body; A captured from the outer graph; the last state is
#              a second model output),
#   mambaloop: a Loop (trip count T; the body Gathers step i of x, dt, B, C
#              along axis 1 and emits y_t as a scan output stacked on axis 0,
#              transposed back to [b,T,d] outside).
# Reference outputs come from a plain numpy implementation of the same
# block (float64), written independently of the graph; the script also
# checks ONNX Runtime agrees with it before saving.
#   python3 samples/export_scanop.py [mambascan mambaloop]
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
F = TensorProto.FLOAT
BATCH, T, DM, D, N, R = 2, 48, 16, 24, 8, 4   # batch, steps, d_model, d_inner, d_state, dt_rank


def weights(seed):
	rs = np.random.RandomState(seed)
	w = dict(
		Win=rs.randn(DM, 2 * D) / np.sqrt(DM),
		Wdt=rs.randn(D, R) / np.sqrt(D), Wdt2=rs.randn(R, D) / np.sqrt(R),
		bdt=rs.uniform(-3.0, -1.0, D),
		WB=rs.randn(D, N) / np.sqrt(D), WC=rs.randn(D, N) / np.sqrt(D),
		A_log=np.log(np.tile(np.arange(1, N + 1, dtype=np.float64), (D, 1))) + 0.1 * rs.randn(D, N),
		Dskip=1.0 + 0.1 * rs.randn(D),
		Wout=rs.randn(D, DM) / np.sqrt(D),
		h0=0.1 * rs.randn(BATCH, D, N))
	return {k: v.astype(np.float32) for k, v in w.items()}


def reference(w, x):
	"""The block in float64 numpy, step by step."""
	w = {k: v.astype(np.float64) for k, v in w.items()}
	x = x.astype(np.float64)
	xz = x @ w["Win"]
	u, z = xz[..., :D], xz[..., D:]
	dt = np.logaddexp(0.0, (u @ w["Wdt"]) @ w["Wdt2"] + w["bdt"])   # softplus
	Bm, Cm = u @ w["WB"], u @ w["WC"]
	A = -np.exp(w["A_log"])
	h = w["h0"].copy()
	ys = np.zeros((BATCH, T, D))
	for t in range(T):
		h = np.exp(dt[:, t, :, None] * A) * h + dt[:, t, :, None] * Bm[:, t, None, :] * u[:, t, :, None]
		ys[:, t] = (h * Cm[:, t, None, :]).sum(-1)
	y = ys + u * w["Dskip"]
	y = y * z / (1.0 + np.exp(-z))
	return (y @ w["Wout"]).astype(np.float32), h.astype(np.float32)


def c(name, arr):
	return numpy_helper.from_array(np.asarray(arr), name)


def i64(name, vals):
	return c(name, np.array(vals, dtype=np.int64))


def outer_head(w):
	"""Nodes and initialisers shared by both samples, up to u, dt, B, C, z and A."""
	inits = [c(k, w[k]) for k in ("Win", "Wdt", "Wdt2", "bdt", "WB", "WC", "A_log", "Dskip", "Wout", "h0")]
	inits += [i64("split", [D, D])]
	nodes = [
		helper.make_node("MatMul", ["x", "Win"], ["xz"]),
		helper.make_node("Split", ["xz", "split"], ["u", "z"], axis=-1),
		helper.make_node("MatMul", ["u", "Wdt"], ["dtr"]),
		helper.make_node("MatMul", ["dtr", "Wdt2"], ["dtp"]),
		helper.make_node("Add", ["dtp", "bdt"], ["dt_raw"]),
		helper.make_node("MatMul", ["u", "WB"], ["Bm"]),
		helper.make_node("MatMul", ["u", "WC"], ["Cm"]),
		helper.make_node("Exp", ["A_log"], ["A_e"]),
		helper.make_node("Neg", ["A_e"], ["A"]),
	]
	return nodes, inits


def outer_tail(ys):
	return [
		helper.make_node("Mul", ["u", "Dskip"], ["uD"]),
		helper.make_node("Add", [ys, "uD"], ["yD"]),
		helper.make_node("Sigmoid", ["z"], ["zs"]),
		helper.make_node("Mul", ["z", "zs"], ["zg"]),
		helper.make_node("Mul", ["yD", "zg"], ["yg"]),
		helper.make_node("MatMul", ["yg", "Wout"], ["y"]),
	]


def step_nodes(h_in, u_t, dt_t, B_t, C_t, h_out, y_t, pre):
	"""h_out = exp(dt*A) * h_in + dt*B*x; y_t = sum_n(h_out * C)"""
	p = lambda s: pre + s  # noqa: E731
	return [
		helper.make_node("Unsqueeze", [dt_t, p("ax2")], [p("dtu")]),
		helper.make_node("Mul", [p("dtu"), "A"], [p("dA_")]),
		helper.make_node("Exp", [p("dA_")], [p("dA")]),
		helper.make_node("Mul", [p("dA"), h_in], [p("decay")]),
		helper.make_node("Unsqueeze", [B_t, p("ax1")], [p("Bu")]),
		helper.make_node("Unsqueeze", [u_t, p("ax2")], [p("xu")]),
		helper.make_node("Mul", [p("dtu"), p("Bu")], [p("dB")]),
		helper.make_node("Mul", [p("dB"), p("xu")], [p("dBx")]),
		helper.make_node("Add", [p("decay"), p("dBx")], [h_out]),
		helper.make_node("Unsqueeze", [C_t, p("ax1")], [p("Cu")]),
		helper.make_node("Mul", [h_out, p("Cu")], [p("hC")]),
		helper.make_node("ReduceSum", [p("hC"), p("axm1")], [y_t], keepdims=0),
	], [i64(p("ax1"), [1]), i64(p("ax2"), [2]), i64(p("axm1"), [-1])]


def vi(name, shape):
	return helper.make_tensor_value_info(name, F, shape)


def make_scan(w):
	nodes, inits = outer_head(w)
	sn, sinit = step_nodes("h", "u_t", "dt_t", "B_t", "C_t", "h_new", "y_t", "s_")
	body = helper.make_graph(
		[helper.make_node("Softplus", ["dtr_t"], ["dt_t"])] + sn, "mamba_step",
		[vi("h", [BATCH, D, N]), vi("u_t", [BATCH, D]), vi("dtr_t", [BATCH, D]),
		 vi("B_t", [BATCH, N]), vi("C_t", [BATCH, N])],
		[vi("h_new", [BATCH, D, N]), vi("y_t", [BATCH, D])], sinit)
	nodes.append(helper.make_node("Scan", ["h0", "u", "dt_raw", "Bm", "Cm"], ["h_last", "ys"],
		body=body, num_scan_inputs=4, scan_input_axes=[1, 1, 1, 1], scan_output_axes=[1]))
	nodes += outer_tail("ys")
	g = helper.make_graph(nodes, "mambascan", [vi("x", [BATCH, T, DM])],
		[vi("y", [BATCH, T, DM]), vi("h_last", [BATCH, D, N])], inits)
	return g, 2


def make_loop(w):
	nodes, inits = outer_head(w)
	nodes.append(helper.make_node("Softplus", ["dt_raw"], ["dt"]))
	inits += [i64("trip", T), c("cond", np.array(True))]
	sn, sinit = step_nodes("h", "u_t", "dt_t", "B_t", "C_t", "h_new", "y_t", "l_")
	gat = [helper.make_node("Gather", [s, "i"], [s + "_t"], axis=1) for s in ("u", "dt", "B", "C")]
	gat[2].input[0], gat[3].input[0] = "Bm", "Cm"
	body = helper.make_graph(
		gat + sn + [helper.make_node("Identity", ["cond_in"], ["cond_out"])], "mamba_loop_step",
		[helper.make_tensor_value_info("i", TensorProto.INT64, []),
		 helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []), vi("h", [BATCH, D, N])],
		[helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), vi("h_new", [BATCH, D, N]),
		 vi("y_t", [BATCH, D])], sinit)
	nodes.append(helper.make_node("Loop", ["trip", "cond", "h0"], ["h_last", "ys_tbd"], body=body))
	nodes.append(helper.make_node("Transpose", ["ys_tbd"], ["ys"], perm=[1, 0, 2]))
	nodes += outer_tail("ys")
	g = helper.make_graph(nodes, "mambaloop", [vi("x", [BATCH, T, DM])], [vi("y", [BATCH, T, DM])], inits)
	return g, 1


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("names", nargs="*", default=["mambascan", "mambaloop"])
	args = ap.parse_args()
	makers = {"mambascan": (make_scan, 11), "mambaloop": (make_loop, 12)}
	for name in args.names:
		make, seed = makers[name]
		w = weights(seed)
		x = np.random.RandomState(seed + 100).randn(BATCH, T, DM).astype(np.float32)
		g, nout = make(w)
		model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="export_scanop")
		model.ir_version = 8
		onnx.checker.check_model(model)
		ref = reference(w, x)[:nout]
		import onnxruntime as ort
		sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
		got = sess.run(None, {"x": x})
		for r, o in zip(ref, got):
			err = np.max(np.abs(r - o))
			assert err < 1e-4 * (1 + np.max(np.abs(r))), (name, err)
		d = os.path.join(HERE, name)
		ds = os.path.join(d, "test_data_set_0")
		os.makedirs(ds, exist_ok=True)
		onnx.save(model, os.path.join(d, "model.onnx"))
		with open(os.path.join(ds, "input_0.pb"), "wb") as f:
			f.write(numpy_helper.from_array(x, "x").SerializeToString())
		for k, r in enumerate(ref):
			with open(os.path.join(ds, "output_%d.pb" % k), "wb") as f:
				f.write(numpy_helper.from_array(r, g.output[k].name).SerializeToString())
		print("%s: %d nodes, ORT matches the numpy reference" % (name, len(g.node)))


if __name__ == "__main__":
	main()
