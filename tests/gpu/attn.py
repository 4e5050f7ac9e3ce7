#!/usr/bin/env python3
"""Device attention (codegen/lower_gpu_attn.c) on --target=opencl (PoCL)
against the reference evaluator (vibee-eval, ir/ref_attn.c: double loops).
Each case is an `attention` op written as IR text (.vir) with random
inputs; it covers GQA/MQA, causal with f32 and bool masks (broadcast, a
fully masked row), sliding windows with and without sinks, a non-causal
band, softcap, ALiBi, Tq < Tk and Tq > Tk (rows with no key), rank 3, T not
a multiple of the tiles, head dims 32/64/80/128 and a wide head that takes
16-key tiles. For each case:
  * `--emit=c` must show the attention as `1 device launch` (or, for the
    case the device lowering refuses, the host kernel: no device launch);
  * fp32: |device - reference| <= 2e-5 (1 + |reference|);
  * --precision=tf32/fp16/bf16 (a GQA causal case and a masked one): the
    result is within the rounding bound of a numpy emulation (q, K, V and
    the probabilities rounded, everything else in f64):
        |got - emu| <= A (2u + 2 gamma_D scale S + 1e-5) + 1e-6
    with A = sum_j p_j |v~_j| / l, S = max_j sum |q~||k~_j|, u the unit
    roundoff of the precision; and it is *not* within fp32 accuracy of the
    exact result (the rounding happened).
Exits 77 when there is no OpenCL device.
usage: attn.py VIBEEC VIBEERUN VIBEEEVAL WORK"""
import os
import subprocess
import sys

import numpy as np
from onnx import numpy_helper

U = {"tf32": 2.0 ** -11, "fp16": 2.0 ** -11, "bf16": 2.0 ** -8}


def round_to(x, prec):
    x = np.asarray(x, np.float32)
    u = x.view(np.uint32).astype(np.uint64)
    finite = (u & 0x7F800000) != 0x7F800000
    if prec == "fp16":
        return x.astype(np.float16).astype(np.float32)
    if prec == "tf32":   # nearest, ties away from zero
        r = np.where(finite, (u + 0x1000) & 0xFFFFE000, u)
    else:                # bf16, nearest even
        r = np.where(finite, (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000, u)
    return r.astype(np.uint32).view(np.float32)


def fmt_attrs(a):
    parts = []
    for k, v in a.items():
        if isinstance(v, list):
            parts.append("%s = [%s]" % (k, ", ".join(repr(float(x)) for x in v)))
        else:
            parts.append("%s = %r" % (k, v))
    return " {" + ", ".join(parts) + "}" if parts else ""


# name, q shape, k shape, v shape, attrs, mask (shape, dtype) or None
CASES = [
    ("gqa_causal_d64", (2, 4, 100, 64), (2, 2, 100, 64), (2, 2, 100, 64), {"causal": 1}, None),
    ("causal_pad_f32_d32", (2, 2, 70, 32), (2, 2, 70, 32), (2, 2, 70, 32), {"causal": 1},
     ((2, 1, 1, 70), "f32")),
    ("causal_bool_d80", (1, 2, 90, 80), (1, 2, 90, 80), (1, 2, 90, 80), {"causal": 1},
     ((90, 90), "bool")),
    ("window_d32", (1, 2, 150, 32), (1, 2, 150, 32), (1, 2, 150, 32),
     {"causal": 1, "window": 16}, None),
    ("window_sinks_d64", (1, 2, 200, 64), (1, 2, 200, 64), (1, 2, 200, 64),
     {"causal": 1, "window": 20, "sinks": 4}, None),
    ("band_noncausal_d32", (1, 3, 77, 32), (1, 3, 77, 32), (1, 3, 77, 32), {"window": 10}, None),
    ("band_sinks_noncausal", (1, 1, 99, 32), (1, 1, 99, 32), (1, 1, 99, 32),
     {"window": 8, "sinks": 3}, None),
    ("softcap_d64", (1, 2, 65, 64), (1, 2, 65, 64), (1, 2, 65, 64),
     {"scale": 0.25, "causal": 1, "softcap": 5.0}, None),
    ("alibi_d32", (2, 4, 50, 32), (2, 4, 50, 32), (2, 4, 50, 32),
     {"causal": 1, "alibi": [0.5, 0.25, 0.125, 0.0625]}, None),
    ("decode_mqa_d64", (2, 4, 3, 64), (2, 1, 130, 64), (2, 1, 130, 32), {"causal": 1}, None),
    ("tq_gt_tk_causal", (1, 2, 70, 32), (1, 2, 40, 32), (1, 2, 40, 32), {"causal": 1}, None),
    ("rank3_mask_d32", (3, 33, 32), (3, 45, 32), (3, 45, 16), {}, ((3, 33, 45), "f32")),
    ("full_masked_row", (1, 2, 20, 32), (1, 2, 20, 32), (1, 2, 20, 32), {},
     ((1, 1, 20, 20), "bool")),
    ("d128_gqa4", (1, 8, 40, 128), (1, 2, 40, 128), (1, 2, 40, 128), {"causal": 1}, None),
    ("d200_bk16", (1, 1, 50, 200), (1, 1, 50, 200), (1, 1, 50, 160), {"causal": 1}, None),
    ("sym_seq_mask", (2, 2, 37, 64), (2, 2, 81, 64), (2, 2, 81, 64), {"causal": 1},
     ((2, 1, 1, 81), "f32")),
    ("host_fallback_d300", (1, 1, 20, 300), (1, 1, 20, 300), (1, 1, 20, 300), {"causal": 1},
     None),
]
FALLBACK = {"host_fallback_d300"}
# cases whose IR gives the sequence dims as symbols (bound from the data)
SYMBOLIC = {"sym_seq_mask": {"q": [None, None, "t", None], "k": [None, None, "s", None],
                             "v": [None, None, "s", None], "m": [None, None, None, "s"]}}
PREC_CASES = {"gqa_causal_d64", "causal_pad_f32_d32", "alibi_d32", "softcap_d64"}


def make_inputs(rng, case):
    name, qs, ks, vs, attrs, mask = case
    q = (rng.standard_normal(qs) * 1.5).astype(np.float32)
    k = rng.standard_normal(ks).astype(np.float32)
    v = rng.standard_normal(vs).astype(np.float32)
    ins = [q, k, v]
    if mask:
        ms, mdt = mask
        if mdt == "bool":
            m = rng.random(ms) > 0.3
            if name == "full_masked_row":
                m[..., 5, :] = False   # row 5: no visible key -> 0
            ins.append(m)
        else:
            m = np.where(rng.random(ms) > 0.2, rng.standard_normal(ms), -np.inf)
            m = m.astype(np.float32)
            m.reshape(-1)[::7] = -10000.0
            ins.append(m)
    return ins


def write_case(d, rng, case):
    name, qs, ks, vs, attrs, mask = case
    ins = make_inputs(rng, case)
    data = os.path.join(d, "data")
    os.makedirs(data, exist_ok=True)
    names = ["q", "k", "v", "m"]
    lines = ['graph "%s" opset 17 {' % name]
    for i, x in enumerate(ins):
        ty = "bool" if x.dtype == np.bool_ else "f32"
        sym = SYMBOLIC.get(name, {}).get(names[i], [None] * x.ndim)
        dims = [s if d is None else d for s, d in zip(x.shape, sym)]
        lines.append("  in %%%s: %s[%s]" % (names[i], ty, ",".join(str(s) for s in dims)))
        with open(os.path.join(data, "input_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(x, names[i]).SerializeToString())
    args = ", ".join("%" + names[i] for i in range(len(ins)))
    lines.append("  %%o: ? = attention(%s)%s" % (args, fmt_attrs(attrs)))
    lines.append("  out %o")
    lines.append("}")
    path = os.path.join(d, "model.vir")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path, data, ins


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def read_out(dirname):
    with open(os.path.join(dirname, "output_0.pb"), "rb") as f:
        from onnx import TensorProto
        t = TensorProto()
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t).astype(np.float64)


def emulate(ins, attrs, prec):
    """The semantics of ir/ref_attn.c with the tensor-core roundings."""
    q, k, v = [round_to(x, prec).astype(np.float64) for x in ins[:3]]
    r = q.ndim
    if r == 3:
        q, k, v = q[:, None], k[:, None], v[:, None]
    B, Hq, Tq, D = q.shape
    Hkv, Tk = k.shape[1], k.shape[2]
    grp = Hq // Hkv
    k = np.repeat(k, grp, axis=1)
    v = np.repeat(v, grp, axis=1)
    scale = attrs.get("scale", 1.0 / np.sqrt(D))
    scale = float(np.float32(scale))
    s = np.einsum("bhid,bhjd->bhij", q, k) * scale
    cap = attrs.get("softcap", 0)
    if cap > 0:
        s = cap * np.tanh(s / cap)
    S = np.einsum("bhid,bhjd->bhij", np.abs(q), np.abs(k)).max(axis=-1, keepdims=True)
    i = np.arange(Tq)[:, None]
    j = np.arange(Tk)[None, :]
    p = i + Tk - Tq
    vis = np.ones((Tq, Tk), bool)
    if attrs.get("causal"):
        vis &= j <= p
    w = attrs.get("window", 0)
    if w > 0:
        inw = j > p - w
        if not attrs.get("causal"):
            inw &= j < p + w
        if attrs.get("sinks", 0) > 0:
            inw |= j < attrs["sinks"]
        vis &= inw
    vis = np.broadcast_to(vis, s.shape).copy()
    if "alibi" in attrs:
        s += np.array(attrs["alibi"], np.float64)[None, :, None, None] * (j - p)[None, None]
    if len(ins) > 3:
        m = ins[3]
        if r == 3:
            m = m[:, None] if m.ndim == 3 else m
        if m.dtype == np.bool_:
            vis &= np.broadcast_to(m, s.shape)
        else:
            s = s + np.broadcast_to(m.astype(np.float64), s.shape)
    vis &= s > -np.inf
    mx = np.where(vis, s, -np.inf).max(axis=-1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore"):
        pe = np.where(vis, np.exp(s - np.where(np.isfinite(mx), mx, 0)), 0.0)
    l = pe.sum(axis=-1, keepdims=True)
    pr = round_to(pe.astype(np.float32), prec).astype(np.float64)
    out = np.einsum("bhij,bhjd->bhid", pr, v)
    A = np.einsum("bhij,bhjd->bhid", pe, np.abs(v))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(l > 0, out / l, 0.0)
        A = np.where(l > 0, A / l, 0.0)
    Sb = np.broadcast_to(S, out.shape[:-1] + (1,))
    if r == 3:
        out, A, Sb = out[:, 0], A[:, 0], Sb[:, 0]
    return out, A, Sb, D, scale


def main():
    if len(sys.argv) != 5:
        print(__doc__)
        return 2
    vibeec, vrun, veval, work = sys.argv[1:]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(6)
    fails = 0
    for case in CASES:
        name, attrs = case[0], case[4]
        d = os.path.join(work, name)
        os.makedirs(d, exist_ok=True)
        path, data, ins = write_case(d, rng, case)
        refd = os.path.join(d, "ref")
        rc, out = run([veval, path, "--data", data, "--out", refd])
        if rc != 0:
            print("FAIL %s: vibee-eval: %s" % (name, out))
            fails += 1
            continue
        ref = read_out(refd)
        precs = ["fp32"] + (["tf32", "fp16", "bf16"] if name in PREC_CASES else [])
        for prec in precs:
            tag = "%s/%s" % (name, prec)
            so = os.path.join(d, "model.%s.so" % prec)
            opt = [] if prec == "fp32" else ["--precision=" + prec]
            rc, out = run([vibeec, path, "--target=opencl", "-o", so] + opt)
            if rc != 0:
                print("FAIL %s: vibeec: %s" % (tag, out))
                fails += 1
                continue
            csrc = os.path.join(d, "model.%s.c" % prec)
            rc, out = run([vibeec, path, "--target=opencl", "--emit=c", "-o", csrc] + opt)
            with open(csrc) as f:
                c = f.read()
            dev = "/* attention 'o': 1 device launch */" in c or \
                  any(l.startswith("/* attention") and "1 device launch" in l
                      for l in c.splitlines())
            if dev == (name in FALLBACK):
                print("FAIL %s: attention %s a device launch" %
                      (tag, "is" if dev else "is not"))
                fails += 1
                continue
            gotd = os.path.join(d, "got." + prec)
            rc, out = run([vrun, so, "--data", data, "--out", gotd, "--threads", "2"])
            if rc == 2 and "no OpenCL device found" in out:
                print("skipped: no OpenCL device")
                return 77
            if rc not in (0, 1):
                print("FAIL %s: vibee-run: %s" % (tag, out))
                fails += 1
                continue
            got = read_out(gotd)
            if got.shape != ref.shape or not np.all(np.isfinite(got)):
                print("FAIL %s: shape %s vs %s or non-finite" % (tag, got.shape, ref.shape))
                fails += 1
                continue
            err = np.abs(got - ref)
            if prec == "fp32":
                bad = err > 2e-5 * (1 + np.abs(ref))
                ok = not bad.any()
                print("%s %s: max |got-ref| %.3g" % ("ok  " if ok else "FAIL", tag, err.max()))
            else:
                emu, A, S, D, scale = emulate(ins, attrs, prec)
                gam = D * 2.0 ** -24 * 1.01
                bound = A * (2 * U[prec] + 2 * gam * scale * S + 1e-5) + 1e-6
                e2 = np.abs(got - emu)
                ok_emu = bool((e2 <= bound).all())
                rounded = bool((err > 2e-5 * (1 + np.abs(ref))).any())
                ok = ok_emu and rounded
                print("%s %s: max |got-emu| %.3g (worst bound ratio %.3g), max |got-exact| %.3g%s"
                      % ("ok  " if ok else "FAIL", tag, e2.max(), (e2 / bound).max(), err.max(),
                         "" if rounded else " (no rounding seen)"))
            fails += not ok
    print("%d failure(s)" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
