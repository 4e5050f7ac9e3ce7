#!/usr/bin/env python3
"""The tensor-core attention bodies (codegen/render_gpu_attn.c) run on the
host: `vibeec --target=a100|h100 --precision=P --emit=cuda` for a set of the
tests/gpu/attn.py cases, each mma.sync (a100) or wgmma.mma_async (h100,
sm_90a) asm statement rewritten into a call of tests/gpu/cuda_sim.h's
warp- or warpgroup-collective stand-in (fragments reassembled, shared
memory descriptors decoded by the PTX ISA rules), compiled with the host
C++ compiler and run one block at a time as 64 threads (mma.sync) or 128
(wgmma). Where the body's tiles do not fit in 48 KiB of static shared
memory the kernel must be the next form down (h100: mma.sync, then the
loop nest), which is checked instead. The result must be within the rounding
bound of attn.py's numpy emulation (q, K, P, V rounded, the rest f64), as
the OpenCL form is in opencl.attn. This checks the bodies' indexing,
barriers, shuffles, descriptors and online softmax; it cannot check that
the hardware lays fragments out as cuda_sim.h reads the PTX ISA.
Exits 77 without a C++ compiler.
usage: attn_sim.py VIBEEC CXX WORK"""
import os
import re
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attn  # noqa: E402

CASES = ["gqa_causal_d64", "causal_pad_f32_d32", "causal_bool_d80", "window_sinks_d64",
         "band_noncausal_d32", "softcap_d64", "alibi_d32", "decode_mqa_d64", "tq_gt_tk_causal",
         "rank3_mask_d32", "d128_gqa4"]
KIND = {"tf32": 0, "fp16": 1, "bf16": 2}

MMA = re.compile(
    r'asm volatile\("mma\.sync\.aligned\.m16n8k\d+\.row\.col\.f32\.\w+\.\w+\.f32 "\s*'
    r'"[^"]*"\s*:\s*"\+f"\(([^)]*\]?)\), "\+f"\(([^)]*\]?)\), "\+f"\(([^)]*\]?)\), '
    r'"\+f"\(([^)]*\]?)\)\s*:\s*"r"\((\w+)\), "r"\((\w+)\), "r"\((\w+)\), "r"\((\w+)\), '
    r'"r"\((\w+)\), "r"\((\w+)\)\);')

WGMMA = re.compile(
    r'asm volatile\("\{\\n\\t\.reg \.pred p;\\n\\tsetp\.ne\.b32 p, %(\d+), 0;\\n\\t"\s*'
    r'"wgmma\.fence\.sync\.aligned;\\n\\t"\s*'
    r'"wgmma\.mma_async\.sync\.aligned\.m64n(\d+)k(\d+)\.f32\.(\w+)\.\w+ "\s*'
    r'"\{([^}]*)\}, %(\d+), %(\d+), p, 1, 1((?:, \d)*);\\n\\t"\s*'
    r'"wgmma\.commit_group\.sync\.aligned;\\n\\t"\s*'
    r'"wgmma\.wait_group\.sync\.aligned 0;\\n\\t\}"\s*'
    r':((?:\s*"\+f"\([^)]*\),?)+)\s*'
    r': "l"\((.*?)\), "l"\((.*?)\), "r"\((.*?)\) : "memory"\);', re.S)
FENCE = 'asm volatile("fence.proxy.async.shared::cta;" ::: "memory");'
WKIND = {"tf32": 0, "f16": 1, "bf16": 2}


def wgmma_call(m, prec):
    """one wgmma asm statement -> vsim_wgmma(...), checking its operand
    numbering and that it is the K-major form the stand-in decodes"""
    pn, n, k, ty, regs, na, nb, imm, outs, da, db, sc = m.groups()
    n, nreg = int(n), int(n) // 2
    acc = re.findall(r'"\+f"\(([^)]*)\)', outs)
    if (regs != ", ".join("%%%d" % i for i in range(nreg)) or len(acc) != nreg or
            (int(na), int(nb), int(pn)) != (nreg, nreg + 1, nreg + 2) or
            int(k) != (8 if ty == "tf32" else 16) or ty != {"tf32": "tf32", "fp16": "f16",
                                                           "bf16": "bf16"}[prec] or
            imm != ("" if ty == "tf32" else ", 0, 0")):
        return None
    return ("{ float *vd_[] = {%s}; vsim_wgmma(%d, %d, %s, %s, %s, vd_); }"
            % (", ".join("&" + a for a in acc), WKIND[ty], n, sc, da, db))


MAIN = r"""
thread_local vsim_dim threadIdx, blockIdx;
pthread_barrier_t vsim_block, vsim_warp[4];
float vsim_xf[4][32];
unsigned vsim_reg[4][32][6];
pthread_mutex_t vsim_smu = PTHREAD_MUTEX_INITIALIZER;
const unsigned char *vsim_sbase[4];
int vsim_nsh, vsim_wgbad;
vsim_wgarg vsim_wga[128];
#ifdef VSIM_HIP
pthread_barrier_t vsim_wave[4];
float vsim_xw[4][64];
double vsim_mf[4][64][8];
#endif
static vu8 *buf[8];
static int nbuf;
static long long nblk;
static vi32 bad;
static void *worker(void *arg)
{
	threadIdx.x = (unsigned)(long)arg;
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
	pthread_barrier_init(&vsim_block, 0, NTHR);
	for (int w = 0; w < NTHR / 32; w++) pthread_barrier_init(&vsim_warp[w], 0, 32);
#ifdef VSIM_HIP
	for (int w = 0; w < NTHR / 64; w++) pthread_barrier_init(&vsim_wave[w], 0, 64);
#endif
	pthread_t th[NTHR];
	for (long t = 0; t < NTHR; t++) pthread_create(&th[t], 0, worker, (void *)t);
	for (int t = 0; t < NTHR; t++) pthread_join(th[t], 0);
	if (vsim_wgbad) { fprintf(stderr, "wgmma stand-in: bad descriptor or non-uniform operands\n"); return 3; }
	vsim_write_buf(argv, buf, OUTP);
	return bad != 0;
}
"""


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def expected_form(case, prec, tgt):
    """the body lower_gpu_attn.c picks: wgmma (h100), mma.sync, or the loop
    nest when the tiles do not fit in 48 KiB of static shared memory"""
    D, Dv = case[1][-1], case[3][-1]
    BK = 32 if D + Dv <= 256 else 16
    eb = 4 if prec == "tf32" else 2
    if tgt == "mi300x":
        ok = prec != "tf32" and D % 16 == 0 and Dv % 16 == 0 and D + Dv <= 256
        return "mfma" if ok and (32 * D + BK * (D + Dv)) * 2 <= 65536 else "loop"
    ok = D % (8 if prec == "tf32" else 16) == 0 and Dv % 8 == 0 and D + Dv <= 256
    if ok and tgt == "h100" and (64 * (D + BK) + BK * (D + Dv)) * eb <= 49152:
        return "wgmma"
    if ok and (32 * (D + BK) + BK * (D + Dv)) * eb <= 49152:
        return "mma.sync"
    return "loop"


def sim_one(vibeec, cxx, here, d, path, ins, case, prec, tgt):
    qs, vs = case[1], case[3]
    r = len(qs)
    B, Hq, Tq = qs[0], (qs[1] if r == 4 else 1), qs[-2]
    out_shape = tuple(qs[:-1]) + (vs[-1],)
    tag = "%s/%s/%s" % (case[0], prec, tgt)
    cu = os.path.join(d, "k.%s.%s.cu" % (prec, tgt))
    rc, out = run([vibeec, path, "--target=" + tgt, "--precision=" + prec,
                   "--emit=" + ("hip" if tgt == "mi300x" else "cuda"), "-o", cu])
    if rc != 0:
        print("FAIL %s: vibeec: %s" % (tag, out))
        return False
    src = open(cu).read()
    form = expected_form(case, prec, tgt)
    nm, nw = len(MMA.findall(src)), len(WGMMA.findall(src))
    has_mma, has_wg = "mma.sync" in src, "wgmma" in src
    has_mf = "__builtin_amdgcn_mfma" in src
    std, pre = "-std=c++11", '#include "cuda_sim.h"\n'
    if form == "loop":
        ok = not has_mma and not has_wg and not has_mf
        why = ("no tf32 MFMA" if tgt == "mi300x" and prec == "tf32" else
               "the tiles exceed the static shared memory")
        print("%s %s: %s, %s" % ("ok  " if ok else "FAIL", tag, why,
                                 "the loop nest (opencl.attn checks it)" if ok
                                 else "yet a tensor-core body"))
        return ok
    if form == "wgmma":
        if nw == 0 or has_mma or "wgmma." in WGMMA.sub("", src):
            print("FAIL %s: the kernel is not the wgmma body (%d wgmma)" % (tag, nw))
            return False
        calls = []
        src = WGMMA.sub(lambda m: calls.append(wgmma_call(m, prec)) or calls[-1] or "BAD", src)
        if None in calls:
            print("FAIL %s: a wgmma statement of unexpected form" % tag)
            return False
        nfence = src.count(FENCE)
        if nfence < 2:
            print("FAIL %s: %d fence.proxy.async (want one before each wgmma's barrier)" %
                  (tag, nfence))
            return False
        src = src.replace(FENCE, "/* fence.proxy.async */")
        nthr, bq, what = 128, 64, "%d wgmma" % nw
    elif form == "mfma":
        nf = src.count("__builtin_amdgcn_mfma_f32_16x16x16")
        if nf == 0 or has_mma or has_wg:
            print("FAIL %s: the kernel is not the MFMA body" % tag)
            return False
        src = src.replace("#include <hip/hip_runtime.h>\n", "")
        for t, el in (("vh4", "_Float16"), ("vs4", "short"), ("vf4", "float")):
            src = src.replace("typedef %s %s __attribute__((ext_vector_type(4)));" % (el, t),
                              "typedef vsim_v4<%s> %s;" % (el, t))
        if "ext_vector_type" in src:
            print("FAIL %s: an unexpected vector type" % tag)
            return False
        std, pre = "-std=c++17", '#define VSIM_HIP\n#include "cuda_sim.h"\n'
        nthr, bq, what = 128, 32, "%d MFMA" % nf
    else:
        if nm == 0 or has_wg or "mma.sync" in MMA.sub("", src):
            print("FAIL %s: the kernel is not the mma.sync body (%d mma)" % (tag, nm))
            return False
        src = MMA.sub(lambda m: "vsim_mma(%d, %s);" % (KIND[prec], ", ".join(m.groups())), src)
        nthr, bq, what = 64, 32, "%d mma.sync" % nm
    sig = re.search(r'__global__ void (vk\w+)\(([^)]*)\)', src)
    nparam = sig.group(2).count("vu8 *b")
    if "vi64 d" in sig.group(2):
        print("FAIL %s: symbolic dims are not simulated" % tag)
        return False
    outp = int(re.search(r'p(\d+)\[\(bh \* Tq', src).group(1))
    call = "%s(%s, &bad)" % (sig.group(1), ", ".join("buf[%d], 0" % i for i in range(nparam)))
    cpp = os.path.join(d, "sim.%s.%s.cpp" % (prec, tgt))
    with open(cpp, "w") as f:
        f.write(pre + src +
                MAIN.replace("KCALL", call).replace("OUTP", str(outp)).replace("NTHR", str(nthr)))
    exe = os.path.join(d, "sim.%s.%s" % (prec, tgt))
    rc, out = run([cxx, "-O1", std, "-pthread", "-w", "-I", here, cpp, "-o", exe])
    if rc != 0:
        print("FAIL %s: %s: %s" % (tag, cxx, out[-3000:]))
        return False
    files = []
    for i, x in enumerate(ins):
        fn = os.path.join(d, "in%d.bin" % i)
        np.ascontiguousarray(x).astype(np.uint8 if x.dtype == np.bool_ else np.float32)\
            .tofile(fn)
        files.append(fn)
    ofn = os.path.join(d, "out.bin")
    np.zeros(out_shape, np.float32).tofile(ofn)
    files.insert(outp, ofn)
    nblk = B * Hq * ((Tq + bq - 1) // bq)
    rc, out = run([exe, str(nblk)] + files)
    if rc != 0:
        print("FAIL %s: simulation exit %d %s" % (tag, rc, out))
        return False
    got = np.fromfile(ofn, np.float32).reshape(out_shape).astype(np.float64)
    emu, A, S, D, scale = attn.emulate(ins, case[4], prec)
    gam = D * 2.0 ** -24 * 1.01
    bound = A * (2 * attn.U[prec] + 2 * gam * scale * S + 1e-5) + 1e-6
    e2 = np.abs(got - emu)
    ok = bool(np.all(np.isfinite(got))) and bool((e2 <= bound).all())
    print("%s %s: %s, max |got-emu| %.3g (worst bound ratio %.3g)"
          % ("ok  " if ok else "FAIL", tag, what, e2.max(), (e2 / bound).max()))
    return ok


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    vibeec, cxx, work = sys.argv[1:]
    if not cxx or cxx.endswith("NOTFOUND") or not shutil.which(cxx):
        print("skipped: no C++ compiler")
        return 77
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(61)
    here = os.path.dirname(os.path.abspath(__file__))
    fails = 0
    for case in attn.CASES:
        name = case[0]
        if name not in CASES:
            continue
        d = os.path.join(work, name)
        os.makedirs(d, exist_ok=True)
        path, data, ins = attn.write_case(d, rng, case)
        qs, vs = case[1], case[3]
        r = len(qs)
        B, Hq, Tq = qs[0], (qs[1] if r == 4 else 1), qs[-2]
        out_shape = tuple(qs[:-1]) + (vs[-1],)
        for prec in ("tf32", "fp16", "bf16"):
            for tgt in ("a100", "h100", "mi300x"):
                fails += not sim_one(vibeec, cxx, here, d, path, ins, case, prec, tgt)
    print("%d failure(s)" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
