#!/usr/bin/env python3
"""The MatMul tensor-core bodies (codegen/render_gpu_mma.c) run on the host:
MatMul, Gemm and fused_matmul cases (edge tiles, K not a multiple of 16,
batch, transposes, alpha / beta / C, bias, residual, Relu / Gelu / Silu)
emitted with `vibeec --precision=P --emit=cuda|hip` for h100 (wgmma, the
64-row and the 16-row tile), a100 (mma.sync) and mi300x (MFMA, fp16/bf16),
each tensor-core statement rewritten into a call of tests/gpu/cuda_sim.h's
stand-in (mma.sync fragments, wgmma matrix descriptors and D fragment, MFMA
lanes, all by our reading of the PTX ISA / AMD ISA), compiled with the host
C++ compiler and run one block at a time as 256 threads. The result must be
within the fp32 accumulation bound of a numpy emulation (operands rounded
as the tensor core reads them, products and epilogue in f64). This checks
the bodies' indexing, descriptors and epilogues against those readings of
the ISAs; it cannot check that the hardware behaves as they are read.
VENDOR nvidia: h100 and a100 only; amd: mi300x only; all (default): both.
Exits 77 without a C++ compiler.
usage: mma_sim.py VIBEEC CXX WORK [nvidia|amd|all]"""
import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np

KIND = {"tf32": 0, "fp16": 1, "bf16": 2}

# name, vir body (inputs a, b, ...), input shapes, op attributes for the reference
CASES = [
    ("mm_edge", "MatMul(%a, %b)", {"a": (37, 45), "b": (45, 29)}, {}),
    ("mm_batch", "MatMul(%a, %b)", {"a": (2, 20, 19), "b": (2, 19, 33)}, {}),
    ("mm_bcast", "MatMul(%a, %b)", {"a": (3, 70, 24), "b": (24, 18)}, {}),
    ("mm_small", "MatMul(%a, %b)", {"a": (5, 24), "b": (24, 17)}, {}),
    ("gemm_tt", "Gemm(%a, %b, %c) {transA = 1, transB = 1, alpha = 0.5, beta = 2.0}",
     {"a": (45, 37), "b": (29, 45), "c": (37, 29)}, {"ta": 1, "tb": 1, "alpha": 0.5, "beta": 2.0}),
    ("gemm_row", "Gemm(%a, %b, %c) {transB = 1, alpha = 1.5, beta = -1.0}",
     {"a": (70, 40), "b": (23, 40), "c": (23,)}, {"tb": 1, "alpha": 1.5, "beta": -1.0}),
    ("gemm_col", "Gemm(%a, %b, %c)", {"a": (12, 9), "b": (9, 20), "c": (12, 1)}, {}),
    ("fused_gelu", 'fused_matmul(%a, %b, %c, %d) {activation = "Gelu"}',
     {"a": (2, 9, 40), "b": (40, 24), "c": (24,), "d": (2, 9, 24)}, {"act": "Gelu"}),
    ("fused_relu", 'fused_matmul(%a, %b, %c) {activation = "Relu"}',
     {"a": (70, 33), "b": (33, 20), "c": (20,)}, {"act": "Relu"}),
    ("fused_silu", 'fused_matmul(%a, %b) {activation = "Silu"}',
     {"a": (3, 16, 16), "b": (16, 16)}, {"act": "Silu"}),
]
TARGETS = [("h100", "cuda"), ("a100", "cuda"), ("mi300x", "hip")]

MMA = re.compile(
    r'asm volatile\("mma\.sync\.aligned\.m16n8k\d+\.row\.col\.f32\.\w+\.\w+\.f32 "\s*'
    r'"[^"]*"\s*:\s*"\+f"\((\w+)\), "\+f"\((\w+)\), "\+f"\((\w+)\), "\+f"\((\w+)\)\s*:\s*'
    r'"r"\((\w+)\), "r"\((\w+)\), "r"\((\w+)\), "r"\((\w+)\), "r"\((\w+)\), "r"\((\w+)\)\);')
WG = re.compile(
    r'asm volatile\("\{\\n\\t\.reg \.pred p;.*?wgmma\.mma_async\.sync\.aligned\.m64n(\d+)k\d+\.'
    r'f32\.(\w+)\.\w+ "\s*"\{[^}]*\}, %\d+, %\d+, p, (-?1), (-?1)(?:, (\d), (\d))?;.*?'
    r':\s*((?:"\+f"\(\w+\),?\s*)+):\s*"l"\((.*?)\), "l"\((.*?)\), "r"\((.*?)\) : "memory"\);',
    re.S)
FENCE = re.compile(r'asm volatile\("fence\.proxy\.async\.shared::cta;" ::: "memory"\);')
MFMA = re.compile(r'__builtin_amdgcn_mfma_f32_16x16x16(f16|bf16_1k)\((\w+), (\w+), (\w+), 0, 0, 0\)')

MAIN = r"""
thread_local vsim_dim threadIdx, blockIdx;
pthread_barrier_t vsim_block, vsim_warp[4], vsim_mwarp[8];
float vsim_xf[4][32];
unsigned vsim_reg[4][32][6], vsim_mreg[8][32][6];
vsim_bdim_t vsim_bdim = {16, 16};
vsim_win vsim_wins[8];
int vsim_nwin;
pthread_mutex_t vsim_winmu = PTHREAD_MUTEX_INITIALIZER;
static vu8 *buf[8];
static int nbuf;
static long long nblk;
static vi32 bad;
static void *worker(void *arg)
{
	long t = (long)arg;
	threadIdx.x = (unsigned)(t % 16);
	threadIdx.y = (unsigned)(t / 16);
	for (long long b = 0; b < nblk; b++) {
		blockIdx.x = (unsigned)b;
		KCALL;
		pthread_barrier_wait(&vsim_block);
	}
	return 0;
}
int main(int argc, char **argv)
{
	nblk = atoll(argv[1]);
	if ((nbuf = vsim_read_bufs(argc, argv, buf)) < 0) return 2;
	pthread_barrier_init(&vsim_block, 0, 256);
	for (int w = 0; w < 8; w++)
		pthread_barrier_init(&vsim_mwarp[w], 0, WAVE);
	pthread_t th[256];
	for (long t = 0; t < 256; t++) pthread_create(&th[t], 0, worker, (void *)t);
	for (int t = 0; t < 256; t++) pthread_join(th[t], 0);
	vsim_write_buf(argv, buf, OUTP);
	return bad != 0;
}
"""


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def rnd(x, prec):
    """x (f32) rounded as the tensor core reads it, as f64"""
    x = np.asarray(x, np.float32)
    if prec == "tf32":   # nearest, ties away (cvt.rna.tf32.f32)
        u = x.view(np.uint32).astype(np.uint64)
        fin = (u & 0x7f800000) != 0x7f800000
        u = np.where(fin, (u + 0x1000) & 0xffffe000, u).astype(np.uint32)
        return u.view(np.float32).astype(np.float64)
    if prec == "fp16":
        return x.astype(np.float16).astype(np.float64)
    u = x.view(np.uint32).astype(np.uint64)   # bf16: nearest even
    u = ((u + 0x7fff + ((u >> 16) & 1)) >> 16 << 16).astype(np.uint32)
    return u.view(np.float32).astype(np.float64)


def reference(name, op, ins, at, prec):
    """f64 emulation and the scale of the rounding-error bound"""
    a, b = rnd(ins["a"], prec), rnd(ins["b"], prec)
    if at.get("ta"):
        a = a.T
    if at.get("tb"):
        b = b.T
    y = np.matmul(a, b)
    s = np.matmul(np.abs(a), np.abs(b))
    K = a.shape[-1]
    alpha = at.get("alpha", 1.0)
    extra = np.zeros_like(y)
    if op.startswith("Gemm"):
        y = alpha * y
        s = abs(alpha) * s
        beta = at.get("beta", 1.0)
        c = beta * ins["c"].astype(np.float64)
        y = y + c
        extra = extra + np.abs(c)
    else:
        if "c" in ins:
            y = y + ins["c"]
            extra = extra + np.abs(ins["c"])
        if "d" in ins:
            y = y + ins["d"]
            extra = extra + np.abs(ins["d"])
        act = at.get("act")
        if act == "Relu":
            y = np.maximum(y, 0)
        elif act == "Gelu":
            y = 0.5 * y * (1 + np.vectorize(math.erf)(y / math.sqrt(2)))
        elif act == "Silu":
            y = y / (1 + np.exp(-y))
    bound = 1.01 * K * 2.0 ** -24 * s + 4e-7 * (s + extra) + 1e-6
    return y, bound


def vir(name, op, shapes):
    lines = ['graph "%s" opset 17 {' % name]
    for k, sh in shapes.items():
        lines.append("  in %%%s: f32[%s]" % (k, ",".join(str(d) for d in sh)))
    lines += ["  %%y: ? = %s" % op, "  out %y", "}"]
    return "\n".join(lines) + "\n"


def rewrite(src, dialect, prec):
    """the tensor-core statements as stand-in calls; (source, count) or an error"""
    n = 0
    if dialect == "cuda":
        src, k = MMA.subn(lambda m: "vsim_mm_mma(%d, %s);" % (KIND[prec], ", ".join(m.groups())), src)
        n += k

        def wg(m):
            outs = re.findall(r'"\+f"\((\w+)\)', m.group(7))
            ta, tb = m.group(5) or "0", m.group(6) or "0"
            return "vsim_wgmma(%d, %s, %s, %s, %s, %s, %s, %s, %s, %s);" % (
                KIND[prec], m.group(1), ", ".join(outs), m.group(8), m.group(9), m.group(10),
                m.group(3), m.group(4), ta, tb)
        src, k = WG.subn(wg, src)
        n += k
        src = FENCE.sub(";", src)
        if "asm" in src:
            return None, "an asm statement the stand-ins do not cover"
    else:
        src = src.replace("#include <hip/hip_runtime.h>\n", "")
        src = re.sub(r'typedef \w+ v[hsf]4 __attribute__\(\(ext_vector_type\(4\)\)\);\n', "", src)
        src = src.replace("__builtin_bit_cast(_Float16, (vu16)", "((vu16)")
        src, n = MFMA.subn(lambda m: "vsim_mfma(%d, %s, %s, %s)" % (m.group(1) != "f16", m.group(2),
                                                                    m.group(3), m.group(4)), src)
        if "__builtin_amdgcn" in src:
            return None, "an AMD builtin the stand-ins do not cover"
    return src, n


def main():
    if len(sys.argv) not in (4, 5) or (len(sys.argv) == 5 and
                                       sys.argv[4] not in ("nvidia", "amd", "all")):
        print(__doc__)
        return 2
    vibeec, cxx, work = sys.argv[1:4]
    vendor = sys.argv[4] if len(sys.argv) == 5 else "all"
    if not cxx or cxx.endswith("NOTFOUND") or not shutil.which(cxx):
        print("skipped: no C++ compiler")
        return 77
    os.makedirs(work, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(67)
    fails = 0
    for name, op, shapes, at in CASES:
        d = os.path.join(work, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "m.vir")
        with open(path, "w") as f:
            f.write(vir(name, op, shapes))
        ins = {k: rng.standard_normal(sh).astype(np.float32) for k, sh in shapes.items()}
        for tgt, dialect in TARGETS:
            if vendor != "all" and (dialect == "hip") != (vendor == "amd"):
                continue
            for prec in ("tf32", "fp16", "bf16"):
                if dialect == "hip" and prec == "tf32":
                    continue   # no MFMA: the rounded fp32 loop
                tag = "%s/%s/%s" % (name, tgt, prec)
                cu = os.path.join(d, "k.%s.%s.%s" % (tgt, prec, "cu" if dialect == "cuda" else "hip"))
                rc, out = run([vibeec, path, "--target=" + tgt, "--precision=" + prec,
                               "--emit=" + dialect, "-o", cu])
                if rc != 0:
                    print("FAIL %s: vibeec: %s" % (tag, out))
                    fails += 1
                    continue
                src = open(cu).read()
                if len(re.findall(r'__global__ void', src)) != 1:
                    print("FAIL %s: expected one kernel" % tag)
                    fails += 1
                    continue
                src, n = rewrite(src, dialect, prec)
                if src is None or n == 0:
                    print("FAIL %s: not a tensor-core body (%s)" % (tag, n))
                    fails += 1
                    continue
                form = "wgmma" if "vsim_wgmma" in src else "mfma" if "vsim_mfma" in src else "mma.sync"
                tm = int(re.search(r'mt = \(M \+ (\d+)\)', src).group(1)) + 1
                sig = re.search(r'__global__ void (vk\w+)\(([^)]*)\)', src)
                nparam = sig.group(2).count("vu8 *b")
                pa = int(re.search(r'\*A = p(\d+)', src).group(1))
                pb = int(re.search(r'\*B = p(\d+)', src).group(1))
                po = int(re.search(r'p(\d+)\[bt \* M \* N \+ i\d+', src).group(1))
                rest = [i for i in range(nparam) if i not in (pa, pb, po)]
                extra = [k for k in shapes if k not in ("a", "b")]
                if len(rest) != len(extra):
                    print("FAIL %s: %d parameters" % (tag, nparam))
                    fails += 1
                    continue
                y, bound = reference(name, op, ins, at, prec)
                files = [None] * nparam
                for p, k in [(pa, "a"), (pb, "b")] + list(zip(rest, extra)):
                    fn = os.path.join(d, "in_%s.bin" % k)
                    ins[k].tofile(fn)
                    files[p] = fn
                ofn = os.path.join(d, "out.bin")
                np.full(y.shape, np.nan, np.float32).tofile(ofn)
                files[po] = ofn
                call = "%s(%s, &bad)" % (sig.group(1), ", ".join("buf[%d], 0" % i for i in range(nparam)))
                cpp = os.path.join(d, "sim.%s.%s.cpp" % (tgt, prec))
                with open(cpp, "w") as f:
                    f.write('#define VSIM_MATMUL\n#include "cuda_sim.h"\n' + src + MAIN.replace("KCALL", call)
                            .replace("OUTP", str(po)).replace("WAVE", "64" if dialect == "hip" else "32"))
                exe = cpp[:-4]
                rc, out = run([cxx, "-O1", "-std=c++11", "-pthread", "-w", "-I", here, cpp, "-o", exe])
                if rc != 0:
                    print("FAIL %s: %s: %s" % (tag, cxx, out[-3000:]))
                    fails += 1
                    continue
                M, N = y.shape[-2], y.shape[-1]
                bat = int(np.prod(y.shape[:-2])) if y.ndim > 2 else 1
                nblk = bat * ((M + tm - 1) // tm) * ((N + 15) // 16)
                rc, out = run([exe, str(nblk)] + files)
                if rc != 0:
                    print("FAIL %s: simulation exit %d %s" % (tag, rc, out[-2000:]))
                    fails += 1
                    continue
                got = np.fromfile(ofn, np.float32).reshape(y.shape).astype(np.float64)
                e = np.abs(got - y)
                ok = bool(np.all(np.isfinite(got))) and bool((e <= bound).all())
                print("%s %s: %s %d-row tile, %d call(s), max |got-emu| %.3g (worst bound ratio %.3g)"
                      % ("ok  " if ok else "FAIL", tag, form, tm, n, np.nanmax(e),
                         np.nanmax(e / bound)))
                fails += not ok
    print("%d failure(s)" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
