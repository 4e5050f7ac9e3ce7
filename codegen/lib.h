/* Library kernels (KK_LIB): the analysis shared by their lowering
 * (lower_lib.c) and their C rendering (emit_lib.c). */
#ifndef VIBEE_LIB_H
#define VIBEE_LIB_H
#include "kir.h"
#include "plan.h"
#include "cbuf.h"

/* A matrix product Y[b] = op(A[b]) x op(B[b]) over output batch dims.
 * fold: B has no batch dims, so A's batch dims fold into the rows. */
typedef struct LibMM {
	uint32_t a, b, y;
	Dim M, N, K;
	bool ta, tb, fold;
	double alpha;
	int nb;                   /* output batch dims */
	Dim bext[IR_MAXRANK];
	Dim ast[IR_MAXRANK], bst[IR_MAXRANK];   /* 0: broadcast */
	Dim rows;                 /* fold: rows of the single product */
} LibMM;

/* Analyse MatMul / Gemm / fused_matmul node n; false when the library
 * kernel does not cover it (the loop lowering or reference kernel will). */
bool lib_mm_shape(Graph *g, const Node *n, LibMM *m);

/* Conv / fused_conv: rank 3 (1-D, as H = 1) or 4, f32, attributes read. */
typedef struct LibConv {
	uint32_t x, w, y;
	Dim n;                    /* batch (may be symbolic) */
	int64_t c, h, wd, m, kh, kw, oh, ow, sh, sw, pt, pl, dh, dw, grp;
	Dim vh, vw, voh, vow;     /* h, wd, oh, ow as dims (symbolic where dyn) */
	bool dyn;                 /* some of them symbolic (h.. ow then -1) */
} LibConv;
bool lib_conv_shape(Graph *g, const Node *n, LibConv *c);
/* As lib_conv_shape, but a 2-D conv with explicit pads (no SAME auto_pad)
 * may have symbolic H, W, OH, OW (dyn). */
bool lib_conv_shape_dyn(Graph *g, const Node *n, LibConv *c);
/* MaxPool / GlobalAveragePool (4-D): n = planes (N*C), kh.. as Conv; with
 * symbolic dims (dyn: explicit pads only) n, h .. ow are -1, vh .. vow set. */
bool lib_pool_shape(Graph *g, const Node *n, LibConv *c);

/* Render KK_LIB kernel ki as `static int k<ki>(struct vibee_ctx *r)`. */
int cg_emit_lib(CBuf *b, const KProg *p, const Plan *pl, int ki, Diag *d);
/* Lower node n as a library kernel: LW_OK, or LW_CALL when not covered. */
struct Low;
int lower_lib(struct Low *L, Node *n);
/* A new f32 constant of `bytes` bytes for packed weights (*data to fill);
 * IR_NONE when out of memory. */
uint32_t lib_new_const(struct Low *L, size_t bytes, float **data);
/* emit_lib.c: a dim as C (a constant or the run's r->dv[]); a typed local
 * bound to value v's buffer (NULL for IR_NONE) */
void lib_dimc(CBuf *b, Dim d);
void lib_bind(CBuf *b, const Plan *pl, const char *ty, const char *nm, uint32_t v);
/* The blocked-layout ops (to_nchwc ... gap_nchwc): lowering and rendering
 * (codegen/lower_nchwc.c). */
int lower_nchwc(struct Low *L, Node *n);
int cg_emit_nchwc(CBuf *b, const KProg *p, const Plan *pl, int ki, Diag *d);
#endif
