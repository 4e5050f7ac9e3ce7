#!/usr/bin/python3
# Exports the flex-attention samples (issue 5) with PyTorch reference outputs,
# like samples/export.py: small causal decoders whose attention carries
#   attn_softcap: a Gemma-2 style logit softcap, tanh(s / c) * c, c = 5;
#   attn_alibi:   BLOOM-style ALiBi biases slopes_h * arange(T) added to the
#                 scores (with the causal mask), static shapes so the bias
#                 folds to a constant.
# vibeec should recognise both as `attention` with softcap / alibi
# attributes. Run with Debian's /usr/bin/python3 (torch 1.13):
#   /usr/bin/python3 samples/export_flex.py [attn_softcap attn_alibi]
import argparse
import math
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export import export_one  # noqa: E402

D_MODEL, HEADS, T, LAYERS = 32, 4, 24, 2


class Block(nn.Module):
	def __init__(self, softcap, alibi):
		super().__init__()
		self.qkv = nn.Linear(D_MODEL, 3 * D_MODEL)
		self.out = nn.Linear(D_MODEL, D_MODEL)
		self.ln = nn.LayerNorm(D_MODEL)
		self.softcap = softcap
		self.alibi = alibi
		hd = D_MODEL // HEADS
		self.scale = 1.0 / math.sqrt(hd)
		slopes = torch.tensor([2.0 ** (-8.0 * (h + 1) / HEADS) for h in range(HEADS)])
		self.register_buffer("slopes", slopes.view(HEADS, 1, 1), persistent=False)

	def forward(self, x):
		b, t, _ = x.shape
		hd = D_MODEL // HEADS
		q, k, v = self.qkv(self.ln(x)).split(D_MODEL, dim=-1)
		q = q.view(b, t, HEADS, hd).transpose(1, 2)
		k = k.view(b, t, HEADS, hd).transpose(1, 2)
		v = v.view(b, t, HEADS, hd).transpose(1, 2)
		s = torch.matmul(q, k.transpose(-1, -2)) * self.scale
		if self.softcap:
			s = torch.tanh(s / self.softcap) * self.softcap
		if self.alibi:
			s = s + self.slopes * torch.arange(t, dtype=torch.float32).view(1, 1, t)
		causal = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
		s = s.masked_fill(causal, float("-inf"))
		o = torch.matmul(torch.softmax(s, dim=-1), v)
		o = o.transpose(1, 2).reshape(b, t, D_MODEL)
		return x + self.out(o)


class Decoder(nn.Module):
	def __init__(self, softcap=0.0, alibi=False):
		super().__init__()
		self.blocks = nn.ModuleList([Block(softcap, alibi) for _ in range(LAYERS)])

	def forward(self, x):
		for blk in self.blocks:
			x = blk(x)
		return x


def make(softcap, alibi):
	def f(gen):
		model = Decoder(softcap, alibi)
		with torch.no_grad():   # larger q/k weights so the softcap matters
			for blk in model.blocks:
				blk.qkv.weight.mul_(3.0)
		x = torch.randn(1, T, D_MODEL, generator=gen)
		return dict(model=model, inputs=(x,), input_names=["x"], output_names=["y"],
			dynamic_axes=None)
	return f


SAMPLES = {"attn_softcap": make(5.0, False), "attn_alibi": make(0.0, True)}


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("names", nargs="*", default=list(SAMPLES))
	args = ap.parse_args()
	torch.set_num_threads(1)
	for n in args.names:
		export_one(n, SAMPLES[n], HERE)


if __name__ == "__main__":
	main()
