/* The kernel IR: loop-level kernels lowered from the graph, the input of
 * every renderer (C now; GPU grids or accelerator tiles later). A kernel is
 * params (graph buffers), local buffers, and a tree of statements: loops
 * with a parallel-mapping tag, stores, accumulations, ifs, barriers, over
 * expressions (loads by index expression, constants, dim variables, loop
 * variables, math, select, cast). Ops with no loop lowering become CALL
 * kernels that invoke the reference kernel ref_table[op]. */
#ifndef VIBEE_KIR_H
#define VIBEE_KIR_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "../ir/ir.h"

/* ---- expressions --------------------------------------------------------
 * Each has a compute type `ty` (a DType): f16/bf16 buffers load as f32 and
 * convert back on store; bool computes as 0/1; index math is i64. */
enum {
	KX_CONST,    /* ty float: f, else i */
	KX_DIM,      /* runtime dim value: i = Dim (>= 0 constant or table entry) */
	KX_VAR,      /* loop variable i */
	KX_LOAD,     /* param i at element index a */
	KX_LREAD,    /* local i at element index a */
	KX_UN,       /* fn(a) */
	KX_BIN,      /* fn(a, b) */
	KX_SEL,      /* a ? b : c */
	KX_CAST,     /* (ty) a */
	KX_CHECK     /* a if 0 <= a < b, else 0 and the run fails (bad index) */
};

/* unary functions */
enum {
	KU_NEG, KU_ABS, KU_EXP, KU_LOG, KU_SQRT, KU_SIN, KU_COS, KU_TAN, KU_ASIN,
	KU_ACOS, KU_ATAN, KU_SINH, KU_COSH, KU_TANH, KU_ASINH, KU_ACOSH, KU_ATANH,
	KU_ERF, KU_FLOOR, KU_CEIL, KU_ROUND /* half to even */, KU_NOT /* logical */,
	KU_BNOT, KU_ISNAN, KU_ISPINF, KU_ISNINF, KU_SIGN, KU_RECIP, KU_LOG1P,
	KU_RTF32, KU_RF16, KU_RBF16, /* f32 rounded to tf32 (nearest, ties away), f16, bf16 (even) */
	KU_WSUM, KU_WMAX, KU_WMIN,   /* sum/max/min of a over the warp (KProg.warp lanes), every lane */
	KU_COUNT
};

/* binary functions (also the accumulation ops of KS_ACC) */
enum {
	KB_ADD, KB_SUB, KB_MUL, KB_DIV, KB_MOD /* sign of divisor */, KB_FMOD,
	KB_POW, KB_MAX, KB_MIN, KB_AND, KB_OR, KB_XOR, KB_BAND, KB_BOR, KB_BXOR,
	KB_SHL, KB_SHR, KB_EQ, KB_NE, KB_LT, KB_LE, KB_GT, KB_GE,
	KB_COUNT
};

typedef struct KExpr {
	uint8_t op;          /* KX_* */
	uint8_t ty;          /* compute DType */
	uint16_t fn;         /* KU_* / KB_* */
	int32_t a, b, c;     /* operand expressions */
	int64_t i;
	double f;
} KExpr;

/* ---- statements --------------------------------------------------------- */
enum {
	KS_LOOP,     /* for var in [lo, hi) step step: body */
	KS_STORE,    /* target[idx] = val */
	KS_ACC,      /* target[idx] = fn(target[idx], val) */
	KS_IF,       /* if (val) body */
	KS_BARRIER   /* all threads of a gpu-block / cpu group (no-op serially) */
};

/* parallel mapping of a loop */
enum { KP_SERIAL, KP_THREAD /* cpu thread pool */, KP_GPU_BLOCK, KP_GPU_THREAD,
       KP_VECTOR };
/* memory space of a local buffer */
enum { KM_PRIVATE, KM_SHARED, KM_SCRATCH };

typedef struct KStmt {
	uint8_t op;          /* KS_* */
	uint8_t par;         /* LOOP: KP_* */
	uint8_t local;       /* STORE/ACC: target is a local (else a param) */
	uint16_t fn;         /* ACC: KB_ADD/MUL/MAX/MIN */
	int32_t var;         /* LOOP: its variable */
	int32_t lo, hi;      /* LOOP: bounds (expressions) */
	int64_t step;        /* LOOP: constant step > 0 */
	int64_t grain;       /* LOOP KP_THREAD: minimum iterations per task */
	int32_t tgt;         /* STORE/ACC: param or local id */
	int32_t idx, val;    /* STORE/ACC: index, value; IF: val = condition */
	int32_t body;        /* LOOP/IF: first child, -1 if none */
	int32_t next;        /* next sibling, -1 at the end */
} KStmt;

/* A buffer the kernel reads or writes: a graph value. */
typedef struct KParam {
	uint32_t value;
	bool write;
} KParam;

typedef struct KLocal {
	int ty;              /* compute DType */
	int64_t n;           /* elements */
	uint8_t space;       /* KM_* */
} KLocal;

enum { KK_LOOP, KK_CALL, KK_LIB /* a call into the kernel library, see KLib */ };

/* KK_LIB: the node runs as a call of a tuned kernel-library routine
 * (runtime/kgemm.h, runtime/kops.h), rendered by codegen/emit_lib.c. */
enum { KL_GEMM = 1 /* MatMul, Gemm, fused_matmul */, KL_CONV /* Conv, fused_conv */,
       KL_LAYERNORM, KL_POOL /* MaxPool, GlobalAveragePool */,
       KL_NCHWC /* the blocked-layout ops (codegen/lower_nchwc.c) */ };
typedef struct KLib {
	int fn;              /* KL_* */
	uint32_t packed;     /* constant: B (KL_GEMM) or W (KL_CONV) pre-packed, or IR_NONE */
	uint32_t bias, res;  /* fused bias ([N] or per channel) and residual (Y's shape), or IR_NONE */
	int act;             /* kgemm_act of the fused epilogue */
	int64_t iarg[8];     /* per fn */
} KLib;

typedef struct Kernel {
	int kind;            /* KK_* */
	uint32_t node;       /* graph node it implements */
	Graph *g;
	KParam *param;  int nparam, capparam;
	KLocal *local;  int nlocal, caplocal;
	KExpr *x;       int nx, capx;
	KStmt *s;       int ns, caps;
	int root;            /* first top-level statement, -1 if none */
	int nvar;            /* loop variables 0..nvar-1 */
	KLib lib;            /* KK_LIB only */
	/* GPU MatMul tiles (lower_gpu.c) a tensor-core renderer may replace:
	 * mm[0..2] expressions M, N, K; mm[3..5] params A, B, Y; mm[6] B has
	 * batch dims; mm[7] 1 if set (0: an ordinary kernel). mm[7] 2: the
	 * attention launch of lower_gpu_attn.c for render_gpu_attn.c (mm[0..1]
	 * Tq, Tk; mm[2..5] mask strides; mm[6] keys per tile); mm[7] 3: the
	 * same as wgmma (sm_90a, 128 threads, 64 query rows); 4: as HIP MFMA
	 * (2 wavefronts, 32 query rows). */
	int32_t mm[8];
	/* mm[7] == 1: mmx[0..1] transA, transB; mmx[2] tile rows (16, or 64
	 * for the sm_90a wgmma tile); mmx[3..5] variables row, column, batch
	 * and mmx[6] the accumulator local (element 0) that mmx[7], the
	 * stored value's expression (Gemm / fused_matmul epilogue), reads. */
	int32_t mmx[8];
} Kernel;

/* A lowered graph: kernels in execution order, and for each value the value
 * whose storage it shares (Reshape-family outputs alias their input). */
typedef struct KProg {
	Graph *g;
	Kernel *k;  int nk, capk;
	uint32_t *alias;     /* [g->nval]: storage owner; itself if none */
	int opt;             /* -O level: 0 turns off threads and tiling */
	int vec;             /* target vector width in bytes (tiling hint) */
	bool gpu;            /* GPU target: mark every independent outer loop KP_THREAD */
	int prec;            /* GPU f32 MatMul operand precision: KPREC_* */
	int warp;            /* lanes of a warp-shuffle reduction (CUDA 32, HIP 64); 0: none */
	bool wgmma;          /* sm_90a: --precision MatMul tiles as wgmma (render_gpu_mma.c) */
	struct CgSubs *subs; /* compiled control-flow subgraphs (subgraph.h), or NULL */
} KProg;
enum { KPREC_FP32, KPREC_TF32, KPREC_FP16, KPREC_BF16 };

/* ---- building (kir.c) ----------------------------------------------------- */
Kernel *kir_kernel(KProg *p, int kind, uint32_t node);
int kir_param(Kernel *k, uint32_t value, bool write);
int kir_local(Kernel *k, int ty, int64_t n, int space);
int kir_x(Kernel *k, KExpr e);
int kir_const_i(Kernel *k, int64_t v);
int kir_const_f(Kernel *k, int ty, double v);
int kir_const_t(Kernel *k, int ty, double v);      /* constant of any type */
int kir_dim(Kernel *k, Dim d);
int kir_var(Kernel *k, int var);
/* index arithmetic on i64 with constant folding */
int kir_add(Kernel *k, int a, int b);
int kir_mul(Kernel *k, int a, int b);
int kir_min(Kernel *k, int a, int b);
int kir_load(Kernel *k, uint32_t value, int idx);
int kir_lread(Kernel *k, int local, int idx);
int kir_un(Kernel *k, int fn, int a);
int kir_bin(Kernel *k, int fn, int a, int b);      /* result type from fn/operands */
int kir_sel(Kernel *k, int c, int a, int b);
int kir_cast(Kernel *k, int ty, int a);
int kir_check(Kernel *k, int a, int hi);
/* Statements append to the body of `parent` (-1: top level). A loop returns
 * its statement id; its variable is k->s[id].var. */
int kir_loop(Kernel *k, int parent, int lo, int hi, int64_t step, int par);
int kir_store(Kernel *k, int parent, bool local, int tgt, int idx, int val);
int kir_acc(Kernel *k, int parent, bool local, int tgt, int fn, int idx, int val);
int kir_if(Kernel *k, int parent, int cond);
int kir_barrier(Kernel *k, int parent);
int kir_ty(int dt);                                 /* compute type of a dtype */
void kir_prog_free(KProg *p);
/* Debug dump of a kernel in a readable text form. */
void kir_print(FILE *f, const KProg *p, const Kernel *k);

/* ---- lowering (lower*.c) ------------------------------------------------ */
/* Lower every node of g (types and shapes inferred) into p's kernels. */
int cg_lower(Graph *g, KProg *p, Diag *d);
bool cg_is_alias_op(int op);
/* Is op lowered as an elementwise loop (each output element from the
 * operand elements at the same index, or broadcast ones)? */
bool cg_is_elementwise(int op);
#endif
