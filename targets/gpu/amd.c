/* AMD targets: HIP C++ -> code objects (hipcc/clang offline). Figures from
 * the public MI300X / MI250 datasheets (dense). MI300X is gfx942; Debian's
 * ROCm 5.2 builds gfx940 and gfx90a, so the .so also embeds the HIP source
 * for hiprtc on the actual chip. MI250: one GCD (the device a process sees)
 * has 104 of the package's 208 CUs; bandwidth is per GCD too. */
#include "../target.h"

#define HOST .isa = "x86-64-v3", .cflags = "-fwrapv -fno-math-errno", .vector_bytes = 32

static const GpuSpec mi300x = {
	.units = 304, .warp = 64, .max_threads = 1024, .block_threads = 256, .smem_kb = 64,
	.regs_per_block = 131072, .mma = "MFMA 32x32x8 / 16x16x16 f16/bf16, 16x16x8 xf32",
	.mem_gbs = 5300, .tflops_fp32 = 163.4, .tflops_tf32 = 653.7, .tflops_fp16 = 1307.4,
	.tflops_bf16 = 1307.4,
};
static const GpuSpec mi250 = {
	.units = 104, .warp = 64, .max_threads = 1024, .block_threads = 256, .smem_kb = 64,
	.regs_per_block = 131072, .mma = "MFMA 32x32x8 / 16x16x16 f16/bf16",
	.mem_gbs = 1638, .tflops_fp32 = 45.3, .tflops_tf32 = 0, .tflops_fp16 = 181,
	.tflops_bf16 = 181,
};

const Target target_mi300x = {.name = "mi300x", .desc = "AMD Instinct MI300X (gfx942), HIP",
	HOST, .kind = TK_HIP, .arch = "gfx940", .arch2 = "gfx90a", .gpu = &mi300x};
const Target target_mi250 = {.name = "mi250", .desc = "AMD Instinct MI250 (gfx90a), HIP",
	HOST, .kind = TK_HIP, .arch = "gfx90a", .gpu = &mi250};
