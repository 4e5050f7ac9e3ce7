#!/usr/bin/python3
# Exports the GPT-style bench model for bench/attn_bench.py: the samples'
# Gpt2 architecture (pre-LN blocks, causal mask by triu(ones(t, t)) + Where,
# exact GELU) with a dynamic sequence axis and n_ctx 8192, random weights.
# Not committed (the position table alone is 8 MB): generated on demand.
# Run with Debian's /usr/bin/python3 (python3-torch, python3-onnx):
#   /usr/bin/python3 bench/export_gpt.py OUT.onnx [--d 256] [--layers 4] [--heads 4]
import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "samples"))
from export import Gpt2  # noqa: E402


def main():
	ap = argparse.ArgumentParser(description="export the GPT-style bench model")
	ap.add_argument("out")
	ap.add_argument("--vocab", type=int, default=1024)
	ap.add_argument("--ctx", type=int, default=8192)
	ap.add_argument("--d", type=int, default=256)
	ap.add_argument("--layers", type=int, default=4)
	ap.add_argument("--heads", type=int, default=4)
	a = ap.parse_args()
	torch.manual_seed(1)
	m = Gpt2(vocab=a.vocab, n_ctx=a.ctx, d=a.d, layers=a.layers, heads=a.heads).eval()
	ids = torch.randint(0, a.vocab, (1, 16))
	with torch.no_grad():
		torch.onnx.export(m, (ids,), a.out, opset_version=17, input_names=["input_ids"],
			output_names=["logits"], dynamic_axes={"input_ids": {1: "seq"}, "logits": {1: "seq"}},
			do_constant_folding=True)
	return 0


if __name__ == "__main__":
	sys.exit(main())
