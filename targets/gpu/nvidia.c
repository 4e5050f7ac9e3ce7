/* NVIDIA targets: CUDA C -> PTX (NVRTC) -> cubin (ptxas). Figures from the
 * public H100/H200/B100/A100 datasheets (SXM parts, dense). The embedded PTX
 * uses the portable virtual arch (compute_90, ...) so newer chips can JIT it;
 * the cubin is built for the exact arch. */
#include "../target.h"

#define HOST .isa = "x86-64-v3", .cflags = "-fwrapv -fno-math-errno", .vector_bytes = 32

static const GpuSpec h100 = {
	.units = 132, .warp = 32, .max_threads = 1024, .block_threads = 256, .smem_kb = 227,
	.regs_per_block = 65536, .mma = "mma.sync m16n8k16 f16/bf16, m16n8k8 tf32; wgmma m64nNk16",
	.mem_gbs = 3350, .tflops_fp32 = 67, .tflops_tf32 = 494.7, .tflops_fp16 = 989.4,
	.tflops_bf16 = 989.4,
};
static const GpuSpec h200 = {
	.units = 132, .warp = 32, .max_threads = 1024, .block_threads = 256, .smem_kb = 227,
	.regs_per_block = 65536, .mma = "mma.sync m16n8k16 f16/bf16, m16n8k8 tf32; wgmma m64nNk16",
	.mem_gbs = 4800, .tflops_fp32 = 67, .tflops_tf32 = 494.7, .tflops_fp16 = 989.4,
	.tflops_bf16 = 989.4,
};
/* B100: NVIDIA has not published an SM count; the B200's 148 is used. */
static const GpuSpec b100 = {
	.units = 148, .warp = 32, .max_threads = 1024, .block_threads = 256, .smem_kb = 227,
	.regs_per_block = 65536, .mma = "mma.sync m16n8k16 f16/bf16; tcgen05.mma",
	.mem_gbs = 8000, .tflops_fp32 = 60, .tflops_tf32 = 875, .tflops_fp16 = 1750,
	.tflops_bf16 = 1750,
};
static const GpuSpec a100 = {
	.units = 108, .warp = 32, .max_threads = 1024, .block_threads = 256, .smem_kb = 163,
	.regs_per_block = 65536, .mma = "mma.sync m16n8k16 f16/bf16, m16n8k8 tf32",
	.mem_gbs = 2039, .tflops_fp32 = 19.5, .tflops_tf32 = 156, .tflops_fp16 = 312,
	.tflops_bf16 = 312,
};

const Target target_h100 = {.name = "h100", .desc = "NVIDIA H100 SXM (sm_90a), CUDA driver API",
	HOST, .kind = TK_CUDA, .arch = "sm_90a", .varch = "compute_90", .gpu = &h100};
const Target target_h200 = {.name = "h200", .desc = "NVIDIA H200 SXM (sm_90a), CUDA driver API",
	HOST, .kind = TK_CUDA, .arch = "sm_90a", .varch = "compute_90", .gpu = &h200};
const Target target_b100 = {.name = "b100", .desc = "NVIDIA B100 (sm_100a), CUDA driver API",
	HOST, .kind = TK_CUDA, .arch = "sm_100a", .varch = "compute_100", .gpu = &b100};
const Target target_a100 = {.name = "a100", .desc = "NVIDIA A100 SXM (sm_80), CUDA driver API",
	HOST, .kind = TK_CUDA, .arch = "sm_80", .varch = "compute_80", .gpu = &a100};
