/* The code generator's entry point: lower a typed graph to kernels, render
 * C, and build one self-contained model.so (or just write the C). */
#ifndef VIBEE_CODEGEN_H
#define VIBEE_CODEGEN_H
#include "../ir/ir.h"

typedef struct CgOptions {
	const char *target;   /* NULL or "cpu" = host; names in targets/ */
	const char *out;      /* output path, "-" = stdout (emit c only) */
	int emit;             /* CG_EMIT_SO or CG_EMIT_C */
	int opt;              /* 0..3; 0 turns off threads */
	const char *cc;       /* NULL: $CC or "cc" */
	int keep_temps;       /* keep the build directory (its path goes to stderr) */
	int stats;            /* print kernel/plan statistics to stderr */
	const char *dev_form; /* CG_EMIT_DEV: "cuda", "ptx", "hip" or "opencl" */
	int precision;        /* GPU f32 MatMul operands: KPREC_* (codegen/kir.h); 0 = fp32 */
} CgOptions;
enum { CG_EMIT_SO, CG_EMIT_C, CG_EMIT_DEV /* device code of a GPU target */ };

/* g must have inferred types and shapes (ir_infer). Returns 0, or an E_*
 * code with a one-line message in d (unknown target: E_USAGE). The
 * kernel library and headers are found through $VIBEE_HOME (lib/ and
 * include/, or a source tree with build/) or the compile-time
 * VIBEE_KERN_LIB / VIBEE_INCLUDE_DIR. */
int cg_compile(Graph *g, const CgOptions *o, Diag *d);
#endif
