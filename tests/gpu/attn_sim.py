#!/usr/bin/env python3
"""The mma.sync attention body (codegen/render_gpu_attn.c) run on the host:
`vibeec --target=h100 --precision=P --emit=cuda` for a set of the
tests/gpu/attn.py cases, each mma.sync asm statement rewritten into a call
of tests/gpu/cuda_sim.h's warp-collective stand-in (fragments reassembled
by the PTX ISA layouts), compiled with the host C++ compiler and run one
block at a time as 64 threads. The result must be within the rounding
bound of attn.py's numpy emulation (q, K, P, V rounded, the rest f64), as
the OpenCL form is in opencl.attn. This checks the body's indexing,
barriers, shuffles and online softmax; it cannot check that the hardware
lays fragments out as cuda_sim.h reads the PTX ISA.
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

MAIN = r"""
thread_local vsim_dim threadIdx, blockIdx;
pthread_barrier_t vsim_block, vsim_warp[2];
float vsim_xf[2][32];
unsigned vsim_reg[2][32][6];
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
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
	nblk = atoll(argv[1]);
	nbuf = argc - 2;
	for (int i = 0; i < nbuf; i++) {
		FILE *f = fopen(argv[2 + i], "rb");
		fseek(f, 0, SEEK_END);
		long n = ftell(f);
		fseek(f, 0, SEEK_SET);
		buf[i] = (vu8 *)malloc(n);
		if (fread(buf[i], 1, n, f) != (size_t)n) return 2;
		fclose(f);
	}
	pthread_barrier_init(&vsim_block, 0, 64);
	pthread_barrier_init(&vsim_warp[0], 0, 32);
	pthread_barrier_init(&vsim_warp[1], 0, 32);
	pthread_t th[64];
	for (long t = 0; t < 64; t++) pthread_create(&th[t], 0, worker, (void *)t);
	for (int t = 0; t < 64; t++) pthread_join(th[t], 0);
	FILE *f = fopen(argv[2 + OUTP], "r+b");
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	fwrite(buf[OUTP], 1, n, f);
	fclose(f);
	return bad != 0;
}
"""


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


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
            tag = "%s/%s" % (name, prec)
            cu = os.path.join(d, "k.%s.cu" % prec)
            rc, out = run([vibeec, path, "--target=h100", "--precision=" + prec, "--emit=cuda",
                           "-o", cu])
            if rc != 0:
                print("FAIL %s: vibeec: %s" % (tag, out))
                fails += 1
                continue
            src = open(cu).read()
            nm = len(MMA.findall(src))
            if nm == 0 or "mma.sync" in MMA.sub("", src):
                print("FAIL %s: the kernel is not the mma.sync body (%d mma)" % (tag, nm))
                fails += 1
                continue
            src = MMA.sub(lambda m: "vsim_mma(%d, %s);" % (KIND[prec], ", ".join(m.groups())), src)
            sig = re.search(r'__global__ void (vk\w+)\(([^)]*)\)', src)
            nparam = sig.group(2).count("vu8 *b")
            if "vi64 d" in sig.group(2):
                print("FAIL %s: symbolic dims are not simulated" % tag)
                fails += 1
                continue
            outp = int(re.search(r'p(\d+)\[\(bh \* Tq', src).group(1))
            call = "%s(%s, &bad)" % (sig.group(1), ", ".join("buf[%d], 0" % i for i in range(nparam)))
            cpp = os.path.join(d, "sim.%s.cpp" % prec)
            with open(cpp, "w") as f:
                f.write('#include "cuda_sim.h"\n' + src +
                        MAIN.replace("KCALL", call).replace("OUTP", str(outp)))
            exe = os.path.join(d, "sim.%s" % prec)
            rc, out = run([cxx, "-O1", "-std=c++11", "-pthread", "-w", "-I", here, cpp, "-o", exe])
            if rc != 0:
                print("FAIL %s: %s: %s" % (tag, cxx, out[-3000:]))
                fails += 1
                continue
            files = []
            for i, x in enumerate(ins):
                fn = os.path.join(d, "in%d.bin" % i)
                np.ascontiguousarray(x).astype(np.uint8 if x.dtype == np.bool_ else np.float32)\
                    .tofile(fn)
                files.append(fn)
            ofn = os.path.join(d, "out.bin")
            np.zeros(out_shape, np.float32).tofile(ofn)
            files.insert(outp, ofn)
            nblk = B * Hq * ((Tq + 31) // 32)
            rc, out = run([exe, str(nblk)] + files)
            if rc != 0:
                print("FAIL %s: simulation exit %d %s" % (tag, rc, out))
                fails += 1
                continue
            got = np.fromfile(ofn, np.float32).reshape(out_shape).astype(np.float64)
            emu, A, S, D, scale = attn.emulate(ins, case[4], prec)
            gam = D * 2.0 ** -24 * 1.01
            bound = A * (2 * attn.U[prec] + 2 * gam * scale * S + 1e-5) + 1e-6
            e2 = np.abs(got - emu)
            ok = bool(np.all(np.isfinite(got))) and bool((e2 <= bound).all())
            print("%s %s: %d mma.sync, max |got-emu| %.3g (worst bound ratio %.3g)"
                  % ("ok  " if ok else "FAIL", tag, nm, e2.max(), (e2 / bound).max()))
            fails += not ok
    print("%d failure(s)" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
