#!/usr/bin/python3
# Exports the small sample models (random weights, fixed seeds) to ONNX opset 17
# together with PyTorch reference outputs in test_data_set_0/. Run with Debian's
# /usr/bin/python3 (python3-torch + python3-onnx): /usr/bin/python3 samples/export.py
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

OPSET = 17
HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- gpt2
class Gpt2Block(nn.Module):
	def __init__(self, d, heads):
		super().__init__()
		self.heads = heads
		self.ln_1 = nn.LayerNorm(d, eps=1e-5)
		self.c_attn = nn.Linear(d, 3 * d)
		self.c_proj = nn.Linear(d, d)
		self.ln_2 = nn.LayerNorm(d, eps=1e-5)
		self.c_fc = nn.Linear(d, 4 * d)
		self.mlp_proj = nn.Linear(4 * d, d)
		self.gelu = nn.GELU()  # exact (erf) GELU

	def attn(self, x):
		b, t, d = x.shape
		hd = d // self.heads
		q, k, v = self.c_attn(x).split(d, dim=2)
		q = q.view(b, t, self.heads, hd).transpose(1, 2)
		k = k.view(b, t, self.heads, hd).transpose(1, 2)
		v = v.view(b, t, self.heads, hd).transpose(1, 2)
		w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd)
		# causal mask: True above the diagonal means "masked"
		ones = torch.ones(t, t, dtype=torch.bool, device=x.device)
		masked = torch.triu(ones, diagonal=1)
		neg = torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype)
		w = torch.where(masked, neg, w)
		w = torch.softmax(w, dim=-1)
		y = torch.matmul(w, v).transpose(1, 2).reshape(b, t, d)
		return self.c_proj(y)

	def forward(self, x):
		x = x + self.attn(self.ln_1(x))
		x = x + self.mlp_proj(self.gelu(self.c_fc(self.ln_2(x))))
		return x


class Gpt2(nn.Module):
	def __init__(self, vocab=512, n_ctx=64, d=128, layers=3, heads=4):
		super().__init__()
		self.wte = nn.Embedding(vocab, d)
		self.wpe = nn.Embedding(n_ctx, d)
		self.blocks = nn.ModuleList([Gpt2Block(d, heads) for _ in range(layers)])
		self.ln_f = nn.LayerNorm(d, eps=1e-5)
		self.lm_head = nn.Linear(d, vocab, bias=False)

	def forward(self, input_ids):
		t = input_ids.shape[1]
		pos = torch.arange(0, t, dtype=torch.long, device=input_ids.device)
		x = self.wte(input_ids) + self.wpe(pos).unsqueeze(0)
		for blk in self.blocks:
			x = blk(x)
		return self.lm_head(self.ln_f(x))


def make_gpt2(gen):
	model = Gpt2()
	ids = torch.randint(0, 512, (1, 32), generator=gen, dtype=torch.long)
	return dict(model=model, inputs=(ids,), input_names=["input_ids"],
		output_names=["logits"], dynamic_axes=None)


# ---------------------------------------------------------------- llama
class RmsNorm(nn.Module):
	def __init__(self, d, eps=1e-6):
		super().__init__()
		self.weight = nn.Parameter(torch.ones(d))
		self.eps = eps

	def forward(self, x):
		var = x.pow(2).mean(-1, keepdim=True)
		x = x * torch.rsqrt(var + self.eps)
		return self.weight * x


def rotate_half(x):
	h = x.shape[-1] // 2
	x1 = x[..., :h]
	x2 = x[..., h:]
	return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
	b, kv, t, hd = x.shape
	if n_rep == 1:
		return x
	x = x[:, :, None, :, :].expand(b, kv, n_rep, t, hd)
	return x.reshape(b, kv * n_rep, t, hd)


class LlamaAttention(nn.Module):
	def __init__(self, d, heads, kv_heads):
		super().__init__()
		self.heads, self.kv_heads = heads, kv_heads
		self.hd = d // heads
		self.q_proj = nn.Linear(d, heads * self.hd, bias=False)
		self.k_proj = nn.Linear(d, kv_heads * self.hd, bias=False)
		self.v_proj = nn.Linear(d, kv_heads * self.hd, bias=False)
		self.o_proj = nn.Linear(heads * self.hd, d, bias=False)

	def forward(self, x, cos, sin, mask):
		b, t, _ = x.shape
		q = self.q_proj(x).view(b, t, self.heads, self.hd).transpose(1, 2)
		k = self.k_proj(x).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
		v = self.v_proj(x).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
		q = q * cos + rotate_half(q) * sin
		k = k * cos + rotate_half(k) * sin
		n_rep = self.heads // self.kv_heads
		k = repeat_kv(k, n_rep)
		v = repeat_kv(v, n_rep)
		w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.hd)
		w = w + mask
		w = torch.softmax(w, dim=-1)
		y = torch.matmul(w, v).transpose(1, 2).reshape(b, t, -1)
		return self.o_proj(y)


class LlamaMlp(nn.Module):
	def __init__(self, d, ffn):
		super().__init__()
		self.gate_proj = nn.Linear(d, ffn, bias=False)
		self.up_proj = nn.Linear(d, ffn, bias=False)
		self.down_proj = nn.Linear(ffn, d, bias=False)

	def forward(self, x):
		return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaLayer(nn.Module):
	def __init__(self, d, heads, kv_heads, ffn):
		super().__init__()
		self.input_layernorm = RmsNorm(d)
		self.self_attn = LlamaAttention(d, heads, kv_heads)
		self.post_attention_layernorm = RmsNorm(d)
		self.mlp = LlamaMlp(d, ffn)

	def forward(self, x, cos, sin, mask):
		x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
		return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
	def __init__(self, vocab=512, d=128, layers=3, heads=4, kv_heads=2,
			ffn=344, theta=10000.0):
		super().__init__()
		self.hd = d // heads
		self.embed_tokens = nn.Embedding(vocab, d)
		self.layers = nn.ModuleList(
			[LlamaLayer(d, heads, kv_heads, ffn) for _ in range(layers)])
		self.norm = RmsNorm(d)
		self.lm_head = nn.Linear(d, vocab, bias=False)
		inv = 1.0 / (theta ** (torch.arange(0, self.hd, 2).float() / self.hd))
		self.register_buffer("inv_freq", inv, persistent=False)

	def forward(self, input_ids):
		b, t = input_ids.shape
		x = self.embed_tokens(input_ids)
		pos = torch.arange(t, device=input_ids.device).float()
		freqs = torch.matmul(pos[:, None], self.inv_freq[None, :])  # [t, hd/2]
		emb = torch.cat((freqs, freqs), dim=-1)
		cos = emb.cos()[None, None, :, :]
		sin = emb.sin()[None, None, :, :]
		# additive causal mask (HF style): finfo.min above the diagonal
		mask = torch.full((t, t), torch.finfo(x.dtype).min, device=x.device)
		mask = torch.triu(mask, diagonal=1)[None, None, :, :]
		for layer in self.layers:
			x = layer(x, cos, sin, mask)
		return self.lm_head(self.norm(x))


def make_llama(gen):
	model = Llama()
	# RMSNorm weights are ones at init; perturb them so they matter
	with torch.no_grad():
		for m in model.modules():
			if isinstance(m, RmsNorm):
				m.weight.copy_(1.0 + 0.1 * torch.randn(m.weight.shape, generator=gen))
	ids = torch.randint(0, 512, (1, 32), generator=gen, dtype=torch.long)
	return dict(model=model, inputs=(ids,), input_names=["input_ids"],
		output_names=["logits"], dynamic_axes=None)


# ---------------------------------------------------------------- resnet
class BasicBlock(nn.Module):
	def __init__(self, cin, cout, stride):
		super().__init__()
		self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
		self.bn1 = nn.BatchNorm2d(cout)
		self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
		self.bn2 = nn.BatchNorm2d(cout)
		self.down = None
		if stride != 1 or cin != cout:
			self.down = nn.Sequential(
				nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

	def forward(self, x):
		y = F.relu(self.bn1(self.conv1(x)))
		y = self.bn2(self.conv2(y))
		skip = x if self.down is None else self.down(x)
		return F.relu(y + skip)


class ResNet(nn.Module):
	def __init__(self, widths=(16, 32, 64, 128), blocks=(2, 2, 2, 2), classes=10):
		super().__init__()
		self.stem = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
		self.bn = nn.BatchNorm2d(widths[0])
		self.pool = nn.MaxPool2d(3, 2, 1)
		layers = []
		cin = widths[0]
		for i, (w, n) in enumerate(zip(widths, blocks)):
			for j in range(n):
				stride = 2 if (i > 0 and j == 0) else 1
				layers.append(BasicBlock(cin, w, stride))
				cin = w
		self.layers = nn.Sequential(*layers)
		self.fc = nn.Linear(cin, classes)

	def forward(self, x):
		x = self.pool(F.relu(self.bn(self.stem(x))))
		x = self.layers(x)
		x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
		return self.fc(x)


def make_resnet(gen):
	model = ResNet()
	# non-trivial eval-mode BatchNorm statistics and affine parameters
	with torch.no_grad():
		for m in model.modules():
			if isinstance(m, nn.BatchNorm2d):
				c = m.num_features
				m.running_mean.copy_(0.1 * torch.randn(c, generator=gen))
				m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
				m.weight.copy_(1.0 + 0.2 * torch.randn(c, generator=gen))
				m.bias.copy_(0.1 * torch.randn(c, generator=gen))
	x = torch.randn(1, 3, 64, 64, generator=gen)
	# PRESERVE (the model is in eval mode) keeps the BatchNormalization nodes:
	# with TrainingMode.EVAL torch would fuse them into the convolutions
	return dict(model=model, inputs=(x,), input_names=["input"],
		output_names=["logits"], dynamic_axes=None,
		training=torch.onnx.TrainingMode.PRESERVE)


# ---------------------------------------------------------------- bert
class BertLayer(nn.Module):
	def __init__(self, d, heads, ffn):
		super().__init__()
		self.heads = heads
		self.query = nn.Linear(d, d)
		self.key = nn.Linear(d, d)
		self.value = nn.Linear(d, d)
		self.attn_out = nn.Linear(d, d)
		self.attn_ln = nn.LayerNorm(d, eps=1e-12)
		self.intermediate = nn.Linear(d, ffn)
		self.output = nn.Linear(ffn, d)
		self.out_ln = nn.LayerNorm(d, eps=1e-12)

	def split(self, x):
		b, t, d = x.shape
		return x.view(b, t, self.heads, d // self.heads).permute(0, 2, 1, 3)

	def forward(self, x, ext_mask):
		b, t, d = x.shape
		q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
		s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d // self.heads)
		s = s + ext_mask
		p = torch.softmax(s, dim=-1)
		c = torch.matmul(p, v).permute(0, 2, 1, 3).reshape(b, t, d)
		x = self.attn_ln(self.attn_out(c) + x)  # post-LN
		h = F.gelu(self.intermediate(x))
		return self.out_ln(self.output(h) + x)


class Bert(nn.Module):
	def __init__(self, vocab=512, max_pos=64, types=2, d=128, layers=3, heads=4, ffn=512):
		super().__init__()
		self.word_embeddings = nn.Embedding(vocab, d)
		self.position_embeddings = nn.Embedding(max_pos, d)
		self.token_type_embeddings = nn.Embedding(types, d)
		self.emb_ln = nn.LayerNorm(d, eps=1e-12)
		self.layers = nn.ModuleList([BertLayer(d, heads, ffn) for _ in range(layers)])

	def forward(self, input_ids, attention_mask):
		t = input_ids.shape[1]
		pos = torch.arange(t, dtype=torch.long, device=input_ids.device).unsqueeze(0)
		tt = torch.zeros_like(input_ids)
		x = self.word_embeddings(input_ids) + self.position_embeddings(pos) \
			+ self.token_type_embeddings(tt)
		x = self.emb_ln(x)
		ext = attention_mask[:, None, None, :].to(x.dtype)
		ext = (1.0 - ext) * -10000.0
		for layer in self.layers:
			x = layer(x, ext)
		return x


def make_bert(gen):
	model = Bert()
	ids = torch.randint(1, 512, (2, 16), generator=gen, dtype=torch.long)
	mask = torch.ones(2, 16, dtype=torch.long)
	mask[1, 11:] = 0  # second sequence: 11 real tokens, 5 padding
	ids[1, 11:] = 0
	return dict(model=model, inputs=(ids, mask),
		input_names=["input_ids", "attention_mask"],
		output_names=["last_hidden_state"],
		dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
			"attention_mask": {0: "batch", 1: "seq"},
			"last_hidden_state": {0: "batch", 1: "seq"}})


# ---------------------------------------------------------------- mamba
class MambaMixer(nn.Module):
	def __init__(self, d_model, d_inner, d_state, d_conv, dt_rank):
		super().__init__()
		self.d_inner, self.d_state, self.dt_rank = d_inner, d_state, dt_rank
		self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
		self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner,
			padding=d_conv - 1, bias=True)
		self.x_proj = nn.Linear(d_inner, dt_rank + 2 * d_state, bias=False)
		self.dt_proj = nn.Linear(dt_rank, d_inner, bias=True)
		a = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)
		self.A_log = nn.Parameter(torch.log(a))
		self.D = nn.Parameter(torch.ones(d_inner))
		self.out_proj = nn.Linear(d_inner, d_model, bias=False)

	def forward(self, hidden):
		b, t, _ = hidden.shape
		xz = self.in_proj(hidden).transpose(1, 2)  # [b, 2*di, t]
		x, z = xz.chunk(2, dim=1)
		x = F.silu(self.conv1d(x)[..., :t])  # causal depthwise conv
		x = x.transpose(1, 2)  # [b, t, di]
		dbc = self.x_proj(x)
		dt, B, C = torch.split(dbc, [self.dt_rank, self.d_state, self.d_state], dim=-1)
		dt = F.softplus(self.dt_proj(dt))  # [b, t, di]
		A = -torch.exp(self.A_log)  # [di, n]
		dA = torch.exp(dt.unsqueeze(-1) * A)  # [b, t, di, n]
		dBx = dt.unsqueeze(-1) * B.unsqueeze(2) * x.unsqueeze(-1)  # [b, t, di, n]
		h = torch.zeros(b, self.d_inner, self.d_state, device=hidden.device)
		ys = []
		for i in range(t):  # selective scan, unrolled by the exporter
			h = dA[:, i] * h + dBx[:, i]
			ys.append(torch.matmul(h, C[:, i].unsqueeze(-1)).squeeze(-1))
		y = torch.stack(ys, dim=1)  # [b, t, di]
		y = y + x * self.D
		y = y * F.silu(z.transpose(1, 2))
		return self.out_proj(y)


class Mamba(nn.Module):
	def __init__(self, d_model=32, layers=2, d_inner=64, d_state=16, d_conv=4, dt_rank=4):
		super().__init__()
		self.norms = nn.ModuleList([RmsNorm(d_model, 1e-5) for _ in range(layers)])
		self.mixers = nn.ModuleList([MambaMixer(d_model, d_inner, d_state, d_conv, dt_rank)
			for _ in range(layers)])
		self.norm_f = RmsNorm(d_model, 1e-5)

	def forward(self, x):
		for norm, mixer in zip(self.norms, self.mixers):
			x = x + mixer(norm(x))
		return self.norm_f(x)


def make_mamba(gen):
	model = Mamba()
	with torch.no_grad():
		for m in model.modules():
			if isinstance(m, MambaMixer):
				m.D.copy_(1.0 + 0.1 * torch.randn(m.D.shape, generator=gen))
	x = torch.randn(1, 16, 32, generator=gen)
	return dict(model=model, inputs=(x,), input_names=["x"],
		output_names=["y"], dynamic_axes=None)


SAMPLES = {
	"gpt2": make_gpt2,
	"llama": make_llama,
	"resnet": make_resnet,
	"bert": make_bert,
	"mamba": make_mamba,
}


def write_tensor(path, arr, name):
	t = numpy_helper.from_array(np.ascontiguousarray(arr), name)
	with open(path, "wb") as f:
		f.write(t.SerializeToString())


def export_one(name, make, outdir):
	torch.manual_seed(1234)
	gen = torch.Generator().manual_seed(4321)
	spec = make(gen)
	model = spec["model"].eval()
	inputs = spec["inputs"]
	d = os.path.join(outdir, name)
	data = os.path.join(d, "test_data_set_0")
	os.makedirs(data, exist_ok=True)
	path = os.path.join(d, "model.onnx")
	with torch.no_grad():
		outs = model(*inputs)
		if isinstance(outs, torch.Tensor):
			outs = (outs,)
		torch.onnx.export(model, inputs, path, opset_version=OPSET,
			input_names=spec["input_names"], output_names=spec["output_names"],
			dynamic_axes=spec["dynamic_axes"],
			do_constant_folding=True,
			training=spec.get("training", torch.onnx.TrainingMode.EVAL))
	m = onnx.load(path)
	onnx.checker.check_model(m)
	for i, (n, a) in enumerate(zip(spec["input_names"], inputs)):
		write_tensor(os.path.join(data, "input_%d.pb" % i), a.numpy(), n)
	for i, (n, a) in enumerate(zip(spec["output_names"], outs)):
		write_tensor(os.path.join(data, "output_%d.pb" % i), a.numpy(), n)
	ops = sorted({n.op_type for n in m.graph.node})
	print("%-7s %8d bytes  %5d nodes  ops: %s" % (name, os.path.getsize(path),
		len(m.graph.node), " ".join(ops)))


def main():
	ap = argparse.ArgumentParser(description="export the vibeec sample models")
	ap.add_argument("names", nargs="*", help="samples to export (default: all)")
	ap.add_argument("--out", default=HERE, help="output folder (default: samples/)")
	args = ap.parse_args()
	names = args.names or list(SAMPLES)
	for n in names:
		if n not in SAMPLES:
			print("unknown sample '%s' (have: %s)" % (n, ", ".join(SAMPLES)), file=sys.stderr)
			return 2
	torch.set_num_threads(1)
	for n in names:
		export_one(n, SAMPLES[n], args.out)
	return 0


if __name__ == "__main__":
	sys.exit(main())
