/* Target machine descriptions, as data: one file per target under
 * targets/<name>/ defines a Target; targets.c lists them. */
#ifndef VIBEE_TARGET_H
#define VIBEE_TARGET_H

/* What runs the loop kernels (codegen/render_gpu.c for the GPU kinds). */
enum { TK_CPU, TK_OPENCL, TK_CUDA, TK_HIP };

/* Figures of a GPU, from the vendors' public datasheets (dense, no
 * sparsity); tiling choices read them. 0 = not known / ask the device. */
typedef struct GpuSpec {
	int units;               /* SMs (NVIDIA) or CUs (AMD) */
	int warp;                /* warp / wavefront size */
	int max_threads;         /* threads per block */
	int block_threads;       /* threads per block the 1-D mapping uses */
	int smem_kb;             /* shared memory (LDS) per block, opt-in maximum */
	int regs_per_block;      /* 32-bit registers per block */
	const char *mma;         /* tensor-core / MFMA shapes (f16 MxNxK) */
	double mem_gbs;          /* memory bandwidth, GB/s */
	double tflops_fp32, tflops_tf32, tflops_fp16, tflops_bf16;
} GpuSpec;

typedef struct Target {
	const char *name;        /* --target=NAME */
	const char *desc;
	const char *isa;         /* -march value for the C compiler */
	const char *cflags;      /* extra flags for the C compiler */
	int vector_bytes;        /* widest SIMD register */
	int cores_hint;          /* 0: ask the machine at run time */
	int l1d_kb, l2_kb, l3_kb;
	/* GPU targets (kind != TK_CPU); the host part runs on the x86-64 host */
	int kind;                /* TK_* */
	const char *arch;        /* cubin / code-object arch: sm_90a, gfx942 */
	const char *varch;       /* NVIDIA: virtual arch of the embedded PTX */
	const char *arch2;       /* AMD: more code objects ("gfx90a,gfx940"), or NULL */
	const GpuSpec *gpu;
} Target;

extern const Target target_cpu;
extern const Target target_opencl, target_h100, target_h200, target_b100, target_a100,
	target_mi300x, target_mi250;

/* NULL or "" selects "cpu". Returns NULL if unknown. */
const Target *target_find(const char *name);
/* "cpu, ..." for messages. */
const char *target_names(void);
#endif
