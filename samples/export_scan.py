#!/usr/bin/python3
# Exports the scan samples (random weights, fixed seeds) with PyTorch reference
# outputs, like samples/export.py: a Mamba with T = 256 unrolled steps (the
# bench model), a Griffin/Hawk-style RG-LRU recurrence, a Mamba-2 (SSD,
# scalar decay per head) mixer, and a Mamba whose scan is mamba_ssm's
# selective_scan_ref style ([b,d,l] layout, einsums), and one that discretises
# inside the loop step by step (mambastep). Run with Debian's /usr/bin/python3:
#   /usr/bin/python3 samples/export_scan.py [mamba256 rglru mamba2 mambaref mambastep]
import argparse
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export import Mamba, MambaMixer, RmsNorm, export_one  # noqa: E402


# ---------------------------------------------------------------- mamba256
def make_mamba256(gen):
	model = Mamba(d_model=64, layers=2, d_inner=128, d_state=16, d_conv=4, dt_rank=8)
	with torch.no_grad():
		for m in model.modules():
			if isinstance(m, MambaMixer):
				m.D.copy_(1.0 + 0.1 * torch.randn(m.D.shape, generator=gen))
	x = torch.randn(1, 256, 64, generator=gen)
	return dict(model=model, inputs=(x,), input_names=["x"], output_names=["y"],
		dynamic_axes=None)


# ---------------------------------------------------------------- mambaref
def selective_scan_ref(u, delta, A, B, C, D, z):
	"""The plain selective scan in mamba_ssm's reference layout: u, delta, z
	[b, d, l]; A [d, n]; B, C [b, n, l]; einsums, a loop over l, stack on dim 2."""
	delta = F.softplus(delta)
	batch, dim, dstate = u.shape[0], A.shape[0], A.shape[1]
	deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
	deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
	x = u.new_zeros((batch, dim, dstate))
	ys = []
	for i in range(u.shape[2]):
		x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
		ys.append(torch.einsum("bdn,bn->bd", x, C[:, :, i]))
	y = torch.stack(ys, dim=2)
	out = y + u * D.reshape(-1, 1)
	return out * F.silu(z)


class MambaRefMixer(MambaMixer):
	def forward(self, hidden):
		b, t, _ = hidden.shape
		xz = self.in_proj(hidden).transpose(1, 2)  # [b, 2*di, t]
		x, z = xz.chunk(2, dim=1)
		x = F.silu(self.conv1d(x)[..., :t])  # [b, di, t]
		dbc = self.x_proj(x.transpose(1, 2))
		dt, B, C = torch.split(dbc, [self.dt_rank, self.d_state, self.d_state], dim=-1)
		dt = (dt @ self.dt_proj.weight.t()).transpose(1, 2) + self.dt_proj.bias.reshape(-1, 1)
		y = selective_scan_ref(x, dt, -torch.exp(self.A_log), B.transpose(1, 2),
			C.transpose(1, 2), self.D, z)
		return self.out_proj(y.transpose(1, 2))


def make_mambaref(gen):
	model = Mamba()
	for i in range(len(model.mixers)):
		old = model.mixers[i]
		new = MambaRefMixer(32, 64, 16, 4, 4)
		new.load_state_dict(old.state_dict())
		model.mixers[i] = new
	with torch.no_grad():
		for m in model.modules():
			if isinstance(m, MambaMixer):
				m.D.copy_(1.0 + 0.1 * torch.randn(m.D.shape, generator=gen))
	x = torch.randn(1, 20, 32, generator=gen)
	return dict(model=model, inputs=(x,), input_names=["x"], output_names=["y"],
		dynamic_axes=None)


# ---------------------------------------------------------------- mambastep
class MambaStepMixer(MambaMixer):
	"""Discretisation inside the loop, one step at a time, readout by sum."""

	def forward(self, hidden):
		b, t, _ = hidden.shape
		x, z = self.in_proj(hidden).chunk(2, dim=-1)
		x = F.silu(self.conv1d(x.transpose(1, 2))[..., :t]).transpose(1, 2)  # [b, t, di]
		dt, B, C = torch.split(self.x_proj(x), [self.dt_rank, self.d_state, self.d_state], dim=-1)
		dt = F.softplus(self.dt_proj(dt))
		A = -torch.exp(self.A_log)
		h = torch.zeros(b, self.d_inner, self.d_state)
		ys = []
		for i in range(t):
			dA = torch.exp(dt[:, i, :, None] * A)
			dBx = dt[:, i, :, None] * B[:, i, None, :] * x[:, i, :, None]
			h = dA * h + dBx
			ys.append((h * C[:, i, None, :]).sum(-1))
		y = torch.stack(ys, dim=1) + x * self.D
		return self.out_proj(y * F.silu(z))


def make_mambastep(gen):
	model = Mamba()
	for i in range(len(model.mixers)):
		new = MambaStepMixer(32, 64, 16, 4, 4)
		new.load_state_dict(model.mixers[i].state_dict())
		model.mixers[i] = new
	with torch.no_grad():
		for m in model.modules():
			if isinstance(m, MambaMixer):
				m.D.copy_(1.0 + 0.1 * torch.randn(m.D.shape, generator=gen))
	x = torch.randn(1, 12, 32, generator=gen)
	return dict(model=model, inputs=(x,), input_names=["x"], output_names=["y"],
		dynamic_axes=None)


# ---------------------------------------------------------------- rglru
class RgLru(nn.Module):
	"""Griffin's real-gated linear recurrent unit: a_t = sigmoid(lam)^(c r_t),
	h_t = a_t * h_{t-1} + sqrt(1 - a_t^2) * (i_t * x_t), written as a loop."""

	def __init__(self, d, c=8.0):
		super().__init__()
		self.c = c
		self.wa = nn.Linear(d, d)
		self.wx = nn.Linear(d, d)
		self.lam = nn.Parameter(torch.linspace(0.5, 4.0, d))

	def forward(self, x):
		bsz, t, d = x.shape
		r = torch.sigmoid(self.wa(x))
		i = torch.sigmoid(self.wx(x))
		log_a = -self.c * r * F.softplus(-self.lam)  # log(sigmoid(lam)^(c r))
		a = torch.exp(log_a)
		b = torch.sqrt(1.0 - a * a) * (i * x)
		h = torch.zeros(bsz, d)
		hs = []
		for k in range(t):
			h = a[:, k] * h + b[:, k]
			hs.append(h)
		return torch.stack(hs, dim=1)


class Hawk(nn.Module):
	def __init__(self, d_model=32, d_rnn=48, layers=2):
		super().__init__()
		self.norms = nn.ModuleList([RmsNorm(d_model, 1e-6) for _ in range(layers)])
		self.inp = nn.ModuleList([nn.Linear(d_model, d_rnn) for _ in range(layers)])
		self.gate = nn.ModuleList([nn.Linear(d_model, d_rnn) for _ in range(layers)])
		self.rnn = nn.ModuleList([RgLru(d_rnn) for _ in range(layers)])
		self.out = nn.ModuleList([nn.Linear(d_rnn, d_model) for _ in range(layers)])

	def forward(self, x):
		for i in range(len(self.rnn)):
			h = self.norms[i](x)
			y = self.rnn[i](self.inp[i](h)) * F.gelu(self.gate[i](h))
			x = x + self.out[i](y)
		return x


def make_rglru(gen):
	x = torch.randn(1, 24, 32, generator=gen)
	return dict(model=Hawk(), inputs=(x,), input_names=["x"], output_names=["y"],
		dynamic_axes=None)


# ---------------------------------------------------------------- mamba2
class Mamba2Mixer(nn.Module):
	"""Mamba-2's SSD layer (scalar decay per head, one B/C group), the scan
	written as a loop over a [heads, headdim, dstate] state."""

	def __init__(self, d_model, heads, headdim, d_state):
		super().__init__()
		self.h, self.p, self.n = heads, headdim, d_state
		di = heads * headdim
		self.in_proj = nn.Linear(d_model, 2 * di + 2 * d_state + heads, bias=False)
		self.A_log = nn.Parameter(torch.log(torch.linspace(1.0, 8.0, heads)))
		self.dt_bias = nn.Parameter(torch.linspace(-2.0, 0.0, heads))
		self.D = nn.Parameter(torch.ones(heads))
		self.out_proj = nn.Linear(di, d_model, bias=False)

	def forward(self, u):
		b, t, _ = u.shape
		di = self.h * self.p
		z, x, B, C, dt = torch.split(self.in_proj(u), [di, di, self.n, self.n, self.h], dim=-1)
		x = F.silu(x).view(b, t, self.h, self.p)
		dt = F.softplus(dt + self.dt_bias)  # [b, t, h]
		A = -torch.exp(self.A_log)  # [h]
		dA = torch.exp(dt * A)  # [b, t, h]
		dBx = (dt.unsqueeze(-1) * x).unsqueeze(-1) * B.unsqueeze(2).unsqueeze(2)  # [b,t,h,p,n]
		h = torch.zeros(b, self.h, self.p, self.n)
		ys = []
		for i in range(t):
			h = dA[:, i].unsqueeze(-1).unsqueeze(-1) * h + dBx[:, i]
			ys.append(torch.matmul(h, C[:, i].unsqueeze(1).unsqueeze(-1)).squeeze(-1))
		y = torch.stack(ys, dim=1)  # [b, t, h, p]
		y = y + x * self.D.unsqueeze(-1)
		y = y.reshape(b, t, di) * F.silu(z)
		return self.out_proj(y)


class Mamba2(nn.Module):
	def __init__(self, d_model=32, layers=2, heads=4, headdim=16, d_state=16):
		super().__init__()
		self.norms = nn.ModuleList([RmsNorm(d_model, 1e-5) for _ in range(layers)])
		self.mixers = nn.ModuleList([Mamba2Mixer(d_model, heads, headdim, d_state)
			for _ in range(layers)])

	def forward(self, x):
		for norm, mixer in zip(self.norms, self.mixers):
			x = x + mixer(norm(x))
		return x


def make_mamba2(gen):
	model = Mamba2()
	with torch.no_grad():
		for m in model.modules():
			if isinstance(m, Mamba2Mixer):
				m.D.copy_(1.0 + 0.1 * torch.randn(m.D.shape, generator=gen))
	x = torch.randn(1, 32, 32, generator=gen)
	return dict(model=model, inputs=(x,), input_names=["x"], output_names=["y"],
		dynamic_axes=None)


SAMPLES = {"mamba256": make_mamba256, "rglru": make_rglru, "mamba2": make_mamba2,
	"mambaref": make_mambaref, "mambastep": make_mambastep}


def main():
	ap = argparse.ArgumentParser(description="export the scan sample models")
	ap.add_argument("names", nargs="*", help="samples to export (default: all)")
	ap.add_argument("--out", default=HERE, help="output folder (default: samples/)")
	args = ap.parse_args()
	for n in args.names:
		if n not in SAMPLES:
			print("unknown sample '%s' (have: %s)" % (n, ", ".join(SAMPLES)), file=sys.stderr)
			return 2
	torch.set_num_threads(1)
	for n in args.names or list(SAMPLES):
		export_one(n, SAMPLES[n], args.out)
	return 0


if __name__ == "__main__":
	sys.exit(main())
