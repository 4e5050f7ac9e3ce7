#!/usr/bin/python3
# Held-out-style regression models: the five families (and a MobileNet-style CNN) written differently from
# samples/export.py (HF-style code, dynamic axes, other opsets) with PyTorch
# references at shapes other than the traced ones. /usr/bin/python3 tests/heldout/export_heldout.py
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


# ------------------------------------------------ gpt2 with a kv cache (HF style)
class KvGpt2(nn.Module):
	"""Dynamic batch/seq/past, a bool tril buffer sliced at [klen-t:klen],
	qkv split by view+unbind, Where(finfo.min), tied lm head."""

	def __init__(self, vocab=300, d=64, heads=4, n_ctx=64):
		super().__init__()
		self.heads, self.hd = heads, d // heads
		self.wte = nn.Embedding(vocab, d)
		self.wpe = nn.Embedding(n_ctx, d)
		self.ln = nn.LayerNorm(d)
		self.qkv = nn.Linear(d, 3 * d)
		self.proj = nn.Linear(d, d)
		causal = torch.tril(torch.ones(n_ctx, n_ctx, dtype=torch.bool))
		self.register_buffer("bias", causal.view(1, 1, n_ctx, n_ctx))

	def forward(self, input_ids, past_k, past_v):
		b, t = input_ids.shape
		p = past_k.shape[2]
		pos = torch.arange(p, p + t, dtype=torch.long).unsqueeze(0)
		x = self.wte(input_ids) + self.wpe(pos)
		qkv = self.qkv(self.ln(x)).view(b, t, 3, self.heads, self.hd)
		q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
		k = torch.cat((past_k, k), dim=-2)
		v = torch.cat((past_v, v), dim=-2)
		klen = k.size(-2)
		w = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd))
		causal = self.bias[:, :, klen - t:klen, :klen]
		w = torch.where(causal, w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
		a = torch.matmul(w.softmax(-1), v).transpose(1, 2).reshape(b, t, -1)
		x = x + self.proj(a)
		return torch.matmul(x, self.wte.weight.T), k, v


# ------------------------------------------------ llama: interleaved RoPE from buffers
class Rms(nn.Module):
	def __init__(self, d, eps=1e-6):
		super().__init__()
		self.w = nn.Parameter(1 + 0.1 * torch.randn(d))
		self.eps = eps

	def forward(self, x):
		dt = x.dtype
		x = x.to(torch.float32)
		x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
		return self.w * x.to(dt)


def rope_interleaved(x, cos, sin):
	x1, x2 = x[..., 0::2], x[..., 1::2]
	return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class Llama(nn.Module):
	"""cos/sin buffers gathered by a position_ids input, GQA by expand+reshape,
	triu(full(min)) causal mask plus a padding mask, fp32 softmax."""

	def __init__(self, vocab=300, d=64, heads=4, kv=2, layers=2, ffn=128, maxpos=64):
		super().__init__()
		self.heads, self.kv, self.hd = heads, kv, d // heads
		self.emb = nn.Embedding(vocab, d)
		inv = 1.0 / (10000 ** (torch.arange(0, self.hd, 2).float() / self.hd))
		fr = torch.outer(torch.arange(maxpos).float(), inv)
		self.register_buffer("cos_c", fr.cos())
		self.register_buffer("sin_c", fr.sin())
		self.layers = nn.ModuleList([nn.ModuleDict(dict(
			n1=Rms(d), n2=Rms(d),
			q=nn.Linear(d, heads * self.hd, bias=False), k=nn.Linear(d, kv * self.hd, bias=False),
			v=nn.Linear(d, kv * self.hd, bias=False), o=nn.Linear(d, d, bias=False),
			g=nn.Linear(d, ffn, bias=False), u=nn.Linear(d, ffn, bias=False),
			dn=nn.Linear(ffn, d, bias=False))) for _ in range(layers)])
		self.norm = Rms(d)
		self.head = nn.Linear(d, vocab, bias=False)

	def forward(self, input_ids, attention_mask, position_ids):
		b, t = input_ids.shape
		x = self.emb(input_ids)
		cos = self.cos_c[position_ids].unsqueeze(1)
		sin = self.sin_c[position_ids].unsqueeze(1)
		lo = torch.finfo(x.dtype).min
		causal = torch.full((t, t), lo, dtype=x.dtype).triu(1)
		pad = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * lo
		mask = (causal[None, None] + pad).clamp(min=lo)
		n = self.heads // self.kv
		for l in self.layers:
			h = l["n1"](x)
			q = l["q"](h).view(b, t, self.heads, self.hd).transpose(1, 2)
			k = l["k"](h).view(b, t, self.kv, self.hd).transpose(1, 2)
			v = l["v"](h).view(b, t, self.kv, self.hd).transpose(1, 2)
			q, k = rope_interleaved(q, cos, sin), rope_interleaved(k, cos, sin)
			k = k[:, :, None].expand(b, self.kv, n, t, self.hd).reshape(b, self.heads, t, self.hd)
			v = v[:, :, None].expand(b, self.kv, n, t, self.hd).reshape(b, self.heads, t, self.hd)
			w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.hd) + mask
			w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
			a = torch.matmul(w, v).transpose(1, 2).contiguous().reshape(b, t, -1)
			x = x + l["o"](a)
			h = l["n2"](x)
			x = x + l["dn"](F.silu(l["g"](h)) * l["u"](h))
		return self.head(self.norm(x))


# ------------------------------------------------ bert: nn.TransformerEncoder
class TorchBert(nn.Module):
	"""nn.TransformerEncoderLayer (batch_first) with src_key_padding_mask."""

	def __init__(self, vocab=300, d=64, heads=4, layers=2, ffn=128):
		super().__init__()
		self.emb = nn.Embedding(vocab, d)
		self.pos = nn.Embedding(64, d)
		self.ln = nn.LayerNorm(d)
		layer = nn.TransformerEncoderLayer(d, heads, ffn, dropout=0.1, activation="gelu",
			batch_first=True)
		self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
		self.pool = nn.Linear(d, d)

	def forward(self, input_ids, attention_mask):
		t = input_ids.shape[1]
		pos = torch.arange(t).expand(input_ids.shape[0], t)
		x = self.ln(self.emb(input_ids) + self.pos(pos))
		h = self.enc(x, src_key_padding_mask=attention_mask == 0)
		return h, torch.tanh(self.pool(h[:, 0]))


# ------------------------------------------------ resnet: pre-activation (BN stays)
class PreAct(nn.Module):
	def __init__(self, cin, cout, stride):
		super().__init__()
		self.bn1 = nn.BatchNorm2d(cin)
		self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
		self.bn2 = nn.BatchNorm2d(cout)
		self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
		self.sc = None if stride == 1 and cin == cout else nn.Conv2d(cin, cout, 1, stride, bias=False)

	def forward(self, x):
		o = F.relu(self.bn1(x))
		sc = x if self.sc is None else self.sc(o)
		o = self.c2(F.relu6(self.bn2(self.c1(o))))
		return o + sc


class PreActNet(nn.Module):
	"""BatchNormalization that cannot fold into a conv, ReLU6 (Clip),
	adaptive pooling, dynamic batch/height/width."""

	def __init__(self):
		super().__init__()
		self.stem = nn.Conv2d(3, 16, 3, 1, 1)
		self.blocks = nn.Sequential(PreAct(16, 16, 1), PreAct(16, 32, 2), PreAct(32, 64, 2))
		self.bn = nn.BatchNorm2d(64)
		self.fc = nn.Linear(64, 10)

	def forward(self, x):
		x = F.relu(self.bn(self.blocks(self.stem(x))))
		x = F.adaptive_avg_pool2d(x, 1).view(x.size(0), -1)
		return self.fc(F.dropout(x, 0.2, self.training))


# ------------------------------------------------ mobilenet-style: depthwise, hardswish
class InvRes(nn.Module):
	def __init__(self, cin, cexp, cout, stride, act):
		super().__init__()
		self.exp = nn.Sequential(nn.Conv2d(cin, cexp, 1, bias=False), nn.BatchNorm2d(cexp), act())
		self.dw = nn.Sequential(nn.Conv2d(cexp, cexp, 3, stride, 1, groups=cexp, bias=False),
			nn.BatchNorm2d(cexp), act())
		self.proj = nn.Sequential(nn.Conv2d(cexp, cout, 1, bias=False), nn.BatchNorm2d(cout))
		self.skip = stride == 1 and cin == cout

	def forward(self, x):
		o = self.proj(self.dw(self.exp(x)))
		return x + o if self.skip else o


class MobileNetish(nn.Module):
	"""Inverted residuals: 1x1 expand, depthwise 3x3 (stride 1/2), 1x1
	project, BN everywhere, ReLU6 (Clip) and Hardswish, a MaxPool, a dense
	3x3, adaptive average pooling; static shape [1, 3, 64, 64]."""

	def __init__(self):
		super().__init__()
		self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
			nn.Hardswish())
		self.pool = nn.MaxPool2d(3, 2, 1)
		self.blocks = nn.Sequential(InvRes(16, 48, 16, 1, nn.ReLU6), InvRes(16, 64, 24, 2, nn.ReLU6),
			InvRes(24, 72, 24, 1, nn.Hardswish), InvRes(24, 96, 40, 2, nn.Hardswish),
			InvRes(40, 120, 40, 1, nn.Hardswish))
		self.head = nn.Sequential(nn.Conv2d(40, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64),
			nn.Hardswish())
		self.fc = nn.Linear(64, 10)

	def forward(self, x):
		x = self.head(self.blocks(self.pool(self.stem(x))))
		return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ------------------------------------------------ mamba: parallel scan by cumsum
class MambaCumsum(nn.Module):
	"""Causal conv by F.pad, the selective scan as exp(segment sums) of a
	cumsum under a causal Where, dynamic batch and seq."""

	def __init__(self, d_model=24, d_inner=48, d_state=4, d_conv=3, dt_rank=3, layers=2):
		super().__init__()
		self.di, self.ds, self.dconv, self.dtr = d_inner, d_state, d_conv, dt_rank
		self.layers = nn.ModuleList([nn.ModuleDict(dict(
			norm=Rms(d_model, 1e-5),
			inp=nn.Linear(d_model, 2 * d_inner, bias=False),
			conv=nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner),
			xp=nn.Linear(d_inner, dt_rank + 2 * d_state, bias=False),
			dtp=nn.Linear(dt_rank, d_inner),
			out=nn.Linear(d_inner, d_model, bias=False))) for _ in range(layers)])
		a = torch.arange(1, d_state + 1).float().repeat(d_inner, 1)
		self.A_log = nn.ParameterList([nn.Parameter(torch.log(a * (1 + 0.1 * torch.rand(d_inner, d_state))))
			for _ in range(layers)])
		self.D = nn.ParameterList([nn.Parameter(1 + 0.1 * torch.randn(d_inner)) for _ in range(layers)])

	def mix(self, i, l, hs):
		t = hs.shape[1]
		x, z = l["inp"](hs).split(self.di, dim=-1)
		x = F.pad(x.permute(0, 2, 1), (self.dconv - 1, 0))
		x = F.silu(l["conv"](x)).permute(0, 2, 1)
		dbc = l["xp"](x)
		dt = F.softplus(l["dtp"](dbc[..., :self.dtr]))
		B = dbc[..., self.dtr:self.dtr + self.ds]
		C = dbc[..., self.dtr + self.ds:]
		cs = torch.cumsum(dt.unsqueeze(-1) * -torch.exp(self.A_log[i]), dim=1)
		seg = cs.unsqueeze(2) - cs.unsqueeze(1)  # [b, t_out, t_in, di, n]
		tt = torch.arange(t)
		causal = (tt[:, None] >= tt[None, :])[None, :, :, None, None]
		w = torch.exp(torch.where(causal, seg, torch.full_like(seg, -float("inf"))))
		dbx = dt.unsqueeze(-1) * B.unsqueeze(2) * x.unsqueeze(-1)
		h = (w * dbx.unsqueeze(1)).sum(2)
		y = (h * C.unsqueeze(2)).sum(-1) + x * self.D[i]
		return l["out"](y * F.silu(z))

	def forward(self, x):
		for i, l in enumerate(self.layers):
			x = x + self.mix(i, l, l["norm"](x))
		return x


# ------------------------------------------------ registry
def ids(gen, b, t, vocab=300):
	return torch.randint(0, vocab, (b, t), generator=gen)


def pad_mask(b, t):
	m = torch.ones(b, t, dtype=torch.long)
	for i in range(1, b):
		m[i, t - 1 - (i % max(1, t // 2)):] = 0
	return m


def init_bn(model, gen):
	with torch.no_grad():
		for m in model.modules():
			if isinstance(m, nn.BatchNorm2d):
				m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
				m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
				m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=gen))
				m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))


BT = {0: "batch", 1: "seq"}
MODELS = {
	"gpt2_kvcache": dict(model=KvGpt2, opset=17,
		inputs=lambda g, b, t: (ids(g, b, t), torch.randn(b, 4, t + 3, 16, generator=g),
			torch.randn(b, 4, t + 3, 16, generator=g)),
		names=["input_ids", "past_k", "past_v"], outs=["logits", "k", "v"],
		dyn=dict(input_ids=BT, past_k={0: "batch", 2: "past"}, past_v={0: "batch", 2: "past"},
			logits=BT, k={0: "batch", 2: "total"}, v={0: "batch", 2: "total"})),
	"llama_rope_buffers": dict(model=Llama, opset=17,
		inputs=lambda g, b, t: (ids(g, b, t), pad_mask(b, t),
			torch.arange(t).unsqueeze(0).expand(b, t).contiguous()),
		names=["input_ids", "attention_mask", "position_ids"], outs=["logits"],
		dyn=dict(input_ids=BT, attention_mask=BT, position_ids=BT, logits=BT)),
	"bert_torch_encoder": dict(model=TorchBert, opset=14, grad=True,  # grad: no fused fast path
		inputs=lambda g, b, t: (ids(g, b, t), pad_mask(b, t)),
		names=["input_ids", "attention_mask"], outs=["hidden", "pooled"],
		dyn=dict(input_ids=BT, attention_mask=BT, hidden=BT, pooled={0: "batch"})),
	"resnet_preact": dict(model=PreActNet, opset=14, prep=init_bn,
		inputs=lambda g, b, t: (torch.randn(b, 3, 16 + 2 * t, 16 + 2 * t, generator=g),),
		names=["image"], outs=["logits"],
		dyn=dict(image={0: "n", 2: "h", 3: "w"}, logits={0: "n"})),
	"mobilenet_dw": dict(model=MobileNetish, opset=14, prep=init_bn,
		inputs=lambda g, b, t: (torch.randn(1, 3, 64, 64, generator=g),),
		names=["image"], outs=["logits"], dyn={}),
	"mamba_cumsum": dict(model=MambaCumsum, opset=14,
		inputs=lambda g, b, t: (torch.randn(b, t, 24, generator=g),),
		names=["x"], outs=["y"], dyn=dict(x=BT, y=BT)),
}
TRACE = (2, 8)            # (batch, seq) the export traces with
TESTS = [(3, 11), (1, 1)]  # reference shapes: test_data_set_0, _1


def write_tensor(path, arr, name):
	arr = np.ascontiguousarray(arr).reshape(np.shape(arr))  # keep rank 0
	with open(path, "wb") as f:
		f.write(numpy_helper.from_array(arr, name).SerializeToString())


def export_one(name, spec, outdir):
	torch.manual_seed(7)
	gen = torch.Generator().manual_seed(11)
	model = spec["model"]()
	if spec.get("prep"):
		spec["prep"](model, gen)
	model.eval()
	d = os.path.join(outdir, name)
	os.makedirs(d, exist_ok=True)
	path = os.path.join(d, "model.onnx")
	with torch.set_grad_enabled(spec.get("grad", False)):
		torch.onnx.export(model, spec["inputs"](gen, *TRACE), path, opset_version=spec["opset"],
			input_names=spec["names"], output_names=spec["outs"], dynamic_axes=spec["dyn"],
			do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
	m = onnx.load(path)
	onnx.checker.check_model(m)
	for k, (b, t) in enumerate(TESTS):
		ins = spec["inputs"](gen, b, t)
		with torch.no_grad():
			outs = model(*ins)
		if isinstance(outs, torch.Tensor):
			outs = (outs,)
		ds = os.path.join(d, "test_data_set_%d" % k)
		os.makedirs(ds, exist_ok=True)
		for i, (n, a) in enumerate(zip(spec["names"], ins)):
			write_tensor(os.path.join(ds, "input_%d.pb" % i), a.numpy(), n)
		for i, (n, a) in enumerate(zip(spec["outs"], outs)):
			write_tensor(os.path.join(ds, "output_%d.pb" % i), a.numpy(), n)
	ops = sorted({n.op_type for n in m.graph.node})
	print("%-20s %8d bytes %5d nodes  ops: %s" % (name, os.path.getsize(path),
		len(m.graph.node), " ".join(ops)))


def main():
	ap = argparse.ArgumentParser(description="export the held-out-style regression models")
	ap.add_argument("names", nargs="*", help="models to export (default: all)")
	ap.add_argument("--out", default=HERE, help="output folder (default: tests/heldout/)")
	args = ap.parse_args()
	for n in args.names:
		if n not in MODELS:
			print("unknown model '%s' (have: %s)" % (n, ", ".join(MODELS)), file=sys.stderr)
			return 2
	torch.set_num_threads(1)
	for n in args.names or list(MODELS):
		export_one(n, MODELS[n], args.out)
	return 0


if __name__ == "__main__":
	sys.exit(main())
