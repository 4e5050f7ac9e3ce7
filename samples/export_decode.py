#!/usr/bin/python3
# Exports samples/llama_decode: a Llama-style decoder step with a KV cache
# (past_key_i/past_value_i inputs, present_key_i/present_value_i outputs; HF
# layout [batch, kv_heads, past, head_dim]), dynamic batch/seq/past, RoPE at
# positions past..past+seq, GQA 4 q / 2 kv heads, HF-style additive causal
# mask (zeros for the past, triu(finfo.min) for the new block). Random weights,
# fixed seeds; reference outputs from PyTorch: test_data_set_0 is a prefill of
# 6 tokens after 9 cached ones, test_data_set_1 one decode step after 40.
# Run with Debian's /usr/bin/python3 (python3-torch, python3-onnx):
#   /usr/bin/python3 samples/export_decode.py [--out DIR] [--layers N] [--d D] ...
import argparse
import math
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


class Rms(nn.Module):
	def __init__(self, d, eps=1e-6):
		super().__init__()
		self.weight = nn.Parameter(torch.ones(d))
		self.eps = eps

	def forward(self, x):
		return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
	h = x.shape[-1] // 2
	return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Layer(nn.Module):
	def __init__(self, d, heads, kv, ffn):
		super().__init__()
		self.heads, self.kv, self.hd = heads, kv, d // heads
		self.ln1, self.ln2 = Rms(d), Rms(d)
		self.q = nn.Linear(d, heads * self.hd, bias=False)
		self.k = nn.Linear(d, kv * self.hd, bias=False)
		self.v = nn.Linear(d, kv * self.hd, bias=False)
		self.o = nn.Linear(heads * self.hd, d, bias=False)
		self.gate = nn.Linear(d, ffn, bias=False)
		self.up = nn.Linear(d, ffn, bias=False)
		self.down = nn.Linear(ffn, d, bias=False)

	def forward(self, x, cos, sin, mask, pk, pv):
		b, t, _ = x.shape
		h = self.ln1(x)
		q = self.q(h).view(b, t, self.heads, self.hd).transpose(1, 2)
		k = self.k(h).view(b, t, self.kv, self.hd).transpose(1, 2)
		v = self.v(h).view(b, t, self.kv, self.hd).transpose(1, 2)
		q = q * cos + rotate_half(q) * sin
		k = k * cos + rotate_half(k) * sin
		k = torch.cat((pk, k), dim=2)
		v = torch.cat((pv, v), dim=2)
		present = (k, v)
		n = self.heads // self.kv
		kl = k.shape[2]
		kr = k[:, :, None].expand(b, self.kv, n, kl, self.hd).reshape(b, self.heads, kl, self.hd)
		vr = v[:, :, None].expand(b, self.kv, n, kl, self.hd).reshape(b, self.heads, kl, self.hd)
		w = torch.matmul(q, kr.transpose(2, 3)) / math.sqrt(self.hd) + mask
		w = F.softmax(w, dim=-1)
		a = torch.matmul(w, vr).transpose(1, 2).reshape(b, t, -1)
		x = x + self.o(a)
		h = self.ln2(x)
		return x + self.down(F.silu(self.gate(h)) * self.up(h)), present


class Decoder(nn.Module):
	def __init__(self, vocab, d, layers, heads, kv, ffn, theta=10000.0):
		super().__init__()
		self.hd = d // heads
		self.emb = nn.Embedding(vocab, d)
		self.layers = nn.ModuleList([Layer(d, heads, kv, ffn) for _ in range(layers)])
		self.norm = Rms(d)
		self.head = nn.Linear(d, vocab, bias=False)
		inv = 1.0 / (theta ** (torch.arange(0, self.hd, 2).float() / self.hd))
		self.register_buffer("inv_freq", inv, persistent=False)

	def forward(self, input_ids, *past):
		b, t = input_ids.shape
		p = past[0].shape[2]
		x = self.emb(input_ids)
		pos = torch.arange(p, p + t).float()
		freqs = torch.matmul(pos[:, None], self.inv_freq[None, :])
		e = torch.cat((freqs, freqs), dim=-1)
		cos, sin = e.cos()[None, None], e.sin()[None, None]
		lo = torch.finfo(x.dtype).min
		new = torch.full((t, t), lo).triu(1)
		mask = torch.cat((torch.zeros(t, p), new), dim=-1)[None, None]
		outs = []
		for i, layer in enumerate(self.layers):
			x, (k, v) = layer(x, cos, sin, mask, past[2 * i], past[2 * i + 1])
			outs += [k, v]
		return (self.head(self.norm(x)), *outs)


def write(path, arr, name):
	arr = np.ascontiguousarray(arr)
	with open(path, "wb") as f:
		f.write(numpy_helper.from_array(arr, name).SerializeToString())


def main():
	ap = argparse.ArgumentParser(description="export the KV-cache decoder sample")
	ap.add_argument("--out", default=os.path.join(HERE, "llama_decode"))
	ap.add_argument("--vocab", type=int, default=512)
	ap.add_argument("--d", type=int, default=128)
	ap.add_argument("--layers", type=int, default=4)
	ap.add_argument("--heads", type=int, default=4)
	ap.add_argument("--kv", type=int, default=2)
	ap.add_argument("--ffn", type=int, default=344)
	ap.add_argument("--no-data", action="store_true", help="model only")
	a = ap.parse_args()
	torch.manual_seed(3)
	torch.set_num_threads(1)
	gen = torch.Generator().manual_seed(5)
	m = Decoder(a.vocab, a.d, a.layers, a.heads, a.kv, a.ffn)
	with torch.no_grad():
		for mod in m.modules():
			if isinstance(mod, Rms):
				mod.weight.copy_(1.0 + 0.1 * torch.randn(mod.weight.shape, generator=gen))
	m.eval()
	hd = a.d // a.heads
	names = ["input_ids"]
	outs = ["logits"]
	dyn = {"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
	for i in range(a.layers):
		for kind in ("key", "value"):
			names.append("past_%s_%d" % (kind, i))
			outs.append("present_%s_%d" % (kind, i))
			dyn[names[-1]] = {0: "batch", 2: "past"}
			dyn[outs[-1]] = {0: "batch", 2: "total"}

	def inputs(b, t, p):
		ids = torch.randint(0, a.vocab, (b, t), generator=gen)
		past = [torch.randn(b, a.kv, p, hd, generator=gen) for _ in range(2 * a.layers)]
		return (ids, *past)

	os.makedirs(a.out, exist_ok=True)
	path = os.path.join(a.out, "model.onnx")
	with torch.no_grad():
		torch.onnx.export(m, inputs(1, 3, 4), path, opset_version=17, input_names=names,
			output_names=outs, dynamic_axes=dyn, do_constant_folding=True)
	onnx.checker.check_model(onnx.load(path))
	if a.no_data:
		return 0
	for k, (b, t, p) in enumerate([(1, 6, 9), (1, 1, 40)]):
		ins = inputs(b, t, p)
		with torch.no_grad():
			res = m(*ins)
		ds = os.path.join(a.out, "test_data_set_%d" % k)
		os.makedirs(ds, exist_ok=True)
		for i, (n, x) in enumerate(zip(names, ins)):
			write(os.path.join(ds, "input_%d.pb" % i), x.numpy(), n)
		for i, (n, x) in enumerate(zip(outs, res)):
			write(os.path.join(ds, "output_%d.pb" % i), x.numpy(), n)
	print("%s: %d bytes" % (path, os.path.getsize(path)))
	return 0


if __name__ == "__main__":
	sys.exit(main())
