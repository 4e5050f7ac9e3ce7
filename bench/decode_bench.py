#!/usr/bin/env python3
# Greedy generation with the KV-cache decoder sample (samples/llama_decode):
# a P-token prompt (prefill, one run), then G decode steps of one token each
# feeding the present K/V back as the past, with vibeec (the model.so through
# libvibeert, two contexts ping-ponging so outputs feed the next step without
# a copy) and with ONNX Runtime (CPU, ORT_ENABLE_ALL) on the same model,
# threads and prompt, back to back in one run. Prints prefill ms, decode
# tokens/s, the ratio, and whether both generated the same tokens.
# Usage: python3 bench/decode_bench.py [--prompt 1024] [--gen 256] [--threads 2]
import argparse
import ctypes as C
import os
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class VTensor(C.Structure):
	_fields_ = [("dtype", C.c_int32), ("rank", C.c_int32), ("dims", C.c_int64 * 8),
		("data", C.c_void_p)]


class VOpts(C.Structure):
	_fields_ = [("nthreads", C.c_int32)]


NP_OF = {1: np.float32, 7: np.int64}
DT_OF = {np.dtype(np.float32): 1, np.dtype(np.int64): 7}


class Vibee:
	"""A model.so run through libvibeert with two contexts (ping-pong)."""

	def __init__(self, lib, so, nin, nout, threads):
		self.rt = C.CDLL(lib)
		self.err = C.create_string_buffer(512)
		self.h = C.c_void_p()
		if self.rt.vibee_load(so.encode(), C.byref(self.h), self.err, 512):
			raise RuntimeError(self.err.value.decode())
		opt = VOpts(threads)
		self.ctx = [C.c_void_p(), C.c_void_p()]
		for c in self.ctx:
			if self.rt.vibee_context_create(self.h, C.byref(opt), C.byref(c), self.err, 512):
				raise RuntimeError(self.err.value.decode())
		self.nin, self.nout, self.turn = nin, nout, 0

	def run(self, ins):
		"""ins: numpy arrays or (VTensor) from a previous run. Returns VTensors
		(valid until this context runs again) and logits as numpy."""
		arr = (VTensor * self.nin)()
		keep = []
		for i, x in enumerate(ins):
			if isinstance(x, VTensor):
				arr[i] = x
				continue
			x = np.ascontiguousarray(x)
			keep.append(x)
			arr[i].dtype = DT_OF[x.dtype]
			arr[i].rank = x.ndim
			for k, d in enumerate(x.shape):
				arr[i].dims[k] = d
			arr[i].data = x.ctypes.data
		outs = (VTensor * self.nout)()
		c = self.ctx[self.turn]
		self.turn ^= 1
		if self.rt.vibee_context_run(c, arr, outs, self.err, 512):
			raise RuntimeError(self.err.value.decode())
		o = outs[0]
		shape = tuple(o.dims[k] for k in range(o.rank))
		n = int(np.prod(shape))
		logits = np.ctypeslib.as_array(C.cast(o.data, C.POINTER(C.c_float)), shape=(n,)).reshape(shape)
		return [outs[i] for i in range(self.nout)], logits.copy()


def generate(step, prompt, past0, gen):
	"""step(ids, past) -> (present, logits). Returns (prefill s, decode s, tokens)."""
	t0 = time.perf_counter()
	past, logits = step(prompt, past0)
	t1 = time.perf_counter()
	tok = int(np.argmax(logits[0, -1]))
	toks = [tok]
	for _ in range(gen):
		past, logits = step(np.array([[tok]], dtype=np.int64), past)
		tok = int(np.argmax(logits[0, -1]))
		toks.append(tok)
	t2 = time.perf_counter()
	return t1 - t0, t2 - t1, toks


def main():
	ap = argparse.ArgumentParser(description=__doc__)
	ap.add_argument("--model", default=os.path.join(ROOT, "samples/llama_decode/model.onnx"))
	ap.add_argument("--prompt", type=int, default=1024)
	ap.add_argument("--gen", type=int, default=256)
	ap.add_argument("--threads", type=int, default=2)
	ap.add_argument("--repeat", type=int, default=2, help="runs of each; the best is reported")
	ap.add_argument("--vibeec", default=os.path.join(ROOT, "build/vibeec"))
	ap.add_argument("--lib", default=os.path.join(ROOT, "build/libvibeert.so"))
	ap.add_argument("--workdir", default=os.path.join(ROOT, "build/bench"))
	a = ap.parse_args()
	os.makedirs(a.workdir, exist_ok=True)
	so = os.path.join(a.workdir, "decode.so")
	cmd = [a.vibeec, a.model, "-O2", "-o", so]
	print("$ " + " ".join(cmd))
	subprocess.run(cmd, check=True)
	m = onnx.load(a.model, load_external_data=False)
	ins = [i for i in m.graph.input]
	outs = [o.name for o in m.graph.output]
	past_shapes = []
	for i in ins[1:]:
		d = i.type.tensor_type.shape.dim
		past_shapes.append((1, d[1].dim_value, 0, d[3].dim_value))
	vocab = m.graph.output[0].type.tensor_type.shape.dim[2].dim_value
	rng = np.random.default_rng(0)
	prompt = rng.integers(0, vocab, size=(1, a.prompt), dtype=np.int64)
	past0 = [np.zeros(s, dtype=np.float32) for s in past_shapes]

	v = Vibee(a.lib, so, len(ins), len(outs), a.threads)

	def vstep(ids, past):
		res, logits = v.run([ids] + list(past))
		return res[1:], logits

	so_opt = ort.SessionOptions()
	so_opt.intra_op_num_threads = a.threads
	so_opt.inter_op_num_threads = 1
	so_opt.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
	so_opt.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
	sess = ort.InferenceSession(a.model, so_opt, providers=["CPUExecutionProvider"])
	names = [i.name for i in ins]

	def ostep(ids, past):
		res = sess.run(None, dict(zip(names, [ids] + list(past))))
		return res[1:], res[0]

	best = {}
	for r in range(a.repeat):
		for name, step in (("vibeec", vstep), ("ort", ostep)):
			pre, dec, toks = generate(step, prompt, past0, a.gen)
			b = best.get(name)
			if b is None or dec < b[1]:
				best[name] = (pre, dec, toks)
	vt, ot = best["vibeec"][2], best["ort"][2]
	same = sum(x == y for x, y in zip(vt, ot))
	print("model %s, prompt %d, %d generated tokens, %d threads, best of %d" % (
		os.path.relpath(a.model, ROOT), a.prompt, a.gen, a.threads, a.repeat))
	print("%-8s %12s %14s" % ("", "prefill ms", "decode tok/s"))
	for name in ("vibeec", "ort"):
		pre, dec, _ = best[name]
		print("%-8s %12.1f %14.1f" % (name, 1e3 * pre, a.gen / dec))
	ratio = best["ort"][1] / best["vibeec"][1]
	print("decode tokens/s ratio vibeec/ORT: %.2fx" % ratio)
	print("prefill latency ratio vibeec/ORT: %.2fx" % (best["vibeec"][0] / best["ort"][0]))
	print("same greedy tokens: %d of %d" % (same, len(vt)))
	return 0


if __name__ == "__main__":
	sys.exit(main())
