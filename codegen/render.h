/* Renderers of the kernel IR: C (render_c.c) and the GPU dialects
 * (render_gpu.c, gpu.h), sharing one expression renderer (render_expr.c)
 * that a CgSpell table per dialect parameterises. */
#ifndef VIBEE_RENDER_H
#define VIBEE_RENDER_H
#include "cbuf.h"
#include "kir.h"

const char *cg_ctype(int dt);             /* C storage type of a dtype */
/* Typed helper functions every rendered kernel may use; expects
 * `struct vibee_ctx` (with `int bad`) to be declared before it. */
void cg_render_prelude(CBuf *b);
/* Render loop kernel ki as `static void k<ki>(struct vibee_ctx *r)`
 * (plus its parallel bodies). slot[v]: index into r->buf of value v's
 * storage pointer. Dim-table entry i is read from r->dv[i]. */
void cg_render_kernel(CBuf *b, const KProg *p, int ki, const uint32_t *slot);
/* How a C-family dialect spells what expressions need (render_expr.c);
 * one table each for C (render_c.c) and OpenCL C / CUDA C / HIP C++
 * (render_gpu.c). */
typedef struct CgSpell {
	const char *(*type)(int dt);   /* storage type of a dtype */
	const char *boolty;            /* compute type of bool */
	const char *fm;                /* suffix of the f32 math functions */
	const char *nan, *inf;         /* f32 NaN and infinity */
	const char *i64lit, *u64lit;   /* printf formats of i64 / u64 literals */
	const char *i64min;            /* INT64_MIN */
	const char *cv;                /* prefix of the f16/bf16 <-> f32 helpers */
	const char *chk;               /* first argument of vchk (the bad flag) */
	bool wrap_i64;                 /* i64 + - * on data wrap through u64 (no -fwrapv) */
} CgSpell;
/* An expression being rendered: into b, kernel k of p, spelled by sp. */
typedef struct CgExpr {
	CBuf *b;
	const KProg *p;
	const Kernel *k;
	const CgSpell *sp;
	/* GPU vectorised bodies (render_gpu.c): with vload set, a load e with
	 * vload[e] renders as lane `lane` of the vector vl<e> */
	const unsigned char *vload;
	int lane;
} CgExpr;
/* Render expression e of r->k. */
void cg_expr(CgExpr *r, int e);
/* Render a KS_STORE/KS_ACC statement st (no indent) through its ";\n". */
void cg_expr_store(CgExpr *r, const KStmt *st);
/* Storage type name of dtype dt in C (gpu false) or the GPU dialects. */
const char *cg_tyname(int dt, bool gpu);
/* The typed helpers every kernel may use, functions qualified by q. */
void cg_prelude_helpers(CBuf *b, const char *q, const CgSpell *sp);
/* Helper-name suffix of a compute type: vmax_<sfx>. */
const char *cg_sfx(int ty);
/* Copy s into buf keeping only characters safe in a C comment/string. */
const char *cg_safe(const char *s, char *buf, size_t n);
#endif
