/* The GPU side of the code generator: mapping loop kernels onto grids
 * (gpu_map.c), rendering them as OpenCL C, CUDA C or HIP C++ (render_gpu.c),
 * the host code that launches them and keeps host and device copies in step
 * (emit_gpu.c), and building the device code (build_gpu.c). */
#ifndef VIBEE_GPU_H
#define VIBEE_GPU_H
#include "cbuf.h"
#include "kir.h"
#include "plan.h"
#include "../targets/target.h"

enum { GD_OPENCL, GD_CUDA, GD_HIP };

/* In launches made by gpu_map.c, a KX_BIN DIV/MOD whose c field is
 * KX_NONNEG has non-negative operands and a positive divisor: the GPU
 * renderer writes plain / and %. (c is otherwise unused by KX_BIN.) */
#define KX_NONNEG 0x4e4e

/* One device kernel (one launch) cut from a loop kernel: its own copy of
 * the IR, with grid (KP_GPU_BLOCK) and block (KP_GPU_THREAD) loops at the
 * top of its nest. grid[d]: expression in k (i64, host-computable: consts,
 * dims, + - * /) of the block count in dimension d, -1 for 1; block[d]:
 * threads. A kernel with no GPU loops runs as one thread. */
typedef struct GLaunch {
	Kernel k;
	int src;             /* loop kernel of the KProg it comes from */
	int grid[3];
	int64_t block[3];
	bool serial;         /* one work-item (no parallel loop could be mapped) */
	/* vectorised (gpu_map.c): each work-item does 4 consecutive elements in
	 * a KP_VECTOR loop of variable vlane; vload[e]: load e reads 4
	 * consecutive f32 at its index with the lane 0 (index a multiple of 4) */
	unsigned char *vload;
	int vlane;
} GLaunch;

typedef struct GProg {
	GLaunch *l;
	int nl, capl;
	int *first, *count;  /* [p->nk]: launches of kernel ki */
	int dialect;         /* GD_* */
} GProg;

/* Map every loop kernel of p onto launches. threads: block size of the
 * 1-D mapping. Returns 0 or E_* with a message in d. */
int cg_gpu_map(const KProg *p, GProg *gp, int threads, Diag *d);
void cg_gpu_free(GProg *gp);

/* The device code of the whole program (every launch) in a dialect.
 * Kernel names: vk<ki>_<j>. */
void cg_gpu_render(CBuf *b, const KProg *p, const GProg *gp);
/* --precision (render_gpu_mma.c): the rounding helpers vrnd_tf32/f16/bf16
 * and the vector types of the tensor-core bodies, after the prelude. */
void cg_gpu_prec_prelude(CBuf *b, int dialect);
void cg_gpu_mma_types(CBuf *b, int dialect);
/* Does launch kernel k render as a tensor-core body in this dialect? */
bool cg_gpu_mma(const KProg *p, const Kernel *k, int dialect);
struct CgExpr;
/* The body (after the parameter declarations) of such a launch. */
void cg_gpu_mma_body(struct CgExpr *x, int dialect);
/* The attention launch of lower_gpu_attn.c (mm[7] == 2) as mma.sync on
 * CUDA with --precision (render_gpu_attn.c). */
bool cg_gpu_attn_mma(const KProg *p, const Kernel *k, int dialect);
void cg_gpu_attn_body(struct CgExpr *x);
/* Name of a launch's kernel function. */
void cg_gpu_kname(char *buf, size_t n, const GLaunch *l, int j);

/* Host code hooks for emit.c (GPU targets). */
struct GpuHost {
	const GProg *gp;
	int kind;            /* TK_OPENCL / TK_CUDA / TK_HIP */
	const char *build_opts;
};
typedef struct GpuHost GpuHost;
void cg_gpu_ctx_fields(CBuf *b, const Plan *pl);
void cg_gpu_helpers(CBuf *b, const GpuHost *h);
void cg_gpu_launch_fn(CBuf *b, const KProg *p, const Plan *pl, const GpuHost *h, int ki);
void cg_gpu_before_call(CBuf *b, const KProg *p, const Plan *pl, int ki);
void cg_gpu_after_call(CBuf *b, const KProg *p, const Plan *pl, int ki);
void cg_gpu_create(CBuf *b, const KProg *p, const Plan *pl, const GpuHost *h);
void cg_gpu_destroy(CBuf *b, const Plan *pl);
void cg_gpu_run_begin(CBuf *b, const KProg *p, const Plan *pl);
void cg_gpu_before_outputs(CBuf *b, const KProg *p, const Plan *pl);
void cg_gpu_after_outputs(CBuf *b, const KProg *p);
void cg_gpu_run_device(CBuf *b, const KProg *p);
/* the desc entries cg_gpu_run_device defines */
#define CG_GPU_DESC_DEVICE "\t.flags = VIBEE_FLAG_DEVICE_IO,\n\t.device = m_device,\n" \
	"\t.run_device = m_run_device,\n"

/* Device code build for target t: the rendered source -> the blobs the
 * .so embeds. Writes files into dir and appends .incbin lines to asm.
 * emit: if non-NULL, write only that form ("cuda", "ptx", "hip",
 * "opencl") to out. */
int cg_gpu_build(const Target *t, const CBuf *src, const char *dir, CBuf *as, Diag *d);
int cg_gpu_emit(const Target *t, const CBuf *src, const char *form, const char *out, Diag *d);

/* Build helpers of codegen/build.c, shared with build_gpu.c: write n bytes
 * to path (E_IO with the path on failure); run argv with stdout+stderr
 * into log (exit status, 127 when not found, -1); the first line of log
 * naming an error (or "undefined"), or "" */
int cg_write_file(const char *path, const void *p, size_t n, Diag *d);
int cg_run_tool(char *const *argv, const char *log);
void cg_first_error(const char *log, char *out, size_t n);
#endif
