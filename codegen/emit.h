/* Host-code emission and the model.so build (emit.c, build.c). */
#ifndef VIBEE_EMIT_H
#define VIBEE_EMIT_H
#include "cbuf.h"
#include "plan.h"

typedef struct EmitInfo {
	const char *target;   /* target name for the descriptor */
	const char *isa;
	bool check_avx2;      /* create() refuses CPUs without AVX2/FMA */
	const struct GpuHost *gpu;   /* GPU target: loop kernels run on a device (gpu.h) */
	bool no_profile;      /* no VIBEE_PROFILE hooks (compiled subgraph bodies) */
} EmitInfo;

/* Render the whole model.c for p into b. */
int cg_emit_c(CBuf *b, const KProg *p, const Plan *pl, const EmitInfo *ei, Diag *d);
#endif
