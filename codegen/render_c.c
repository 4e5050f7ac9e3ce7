/* The C renderer: kernel IR -> C99. A kernel becomes `static void k<N>(ctx)`;
 * each top-level thread loop becomes a body function run through the
 * kernel library's kpool_for. Expressions render with typed helpers from
 * the prelude (NaN-propagating max, guarded integer division, ...). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "render.h"

const char *cg_ctype(int dt)
{
	switch (dt) {
	case DT_F32: return "float";
	case DT_F64: return "double";
	case DT_F16: case DT_BF16: case DT_U16: return "uint16_t";
	case DT_BOOL: case DT_U8: return "uint8_t";
	case DT_I8: return "int8_t";
	case DT_I16: return "int16_t";
	case DT_I32: return "int32_t";
	case DT_I64: return "int64_t";
	case DT_U32: return "uint32_t";
	case DT_U64: return "uint64_t";
	}
	return "uint8_t";
}

/* compute type as C, and its helper suffix */
static const char *cty(int ty) { return ty == DT_BOOL ? "int" : cg_ctype(ty); }
static const char *sfx(int ty)
{
	switch (ty) {
	case DT_F32: return "f32";
	case DT_F64: return "f64";
	case DT_I8: return "i8";
	case DT_I16: return "i16";
	case DT_I32: case DT_BOOL: return "i32";
	case DT_I64: return "i64";
	case DT_U8: return "u8";
	case DT_U16: return "u16";
	case DT_U32: return "u32";
	case DT_U64: return "u64";
	}
	return "f32";
}

void cg_render_prelude(CBuf *b)
{
	cb_puts(b,
	"#define VF(T, S, M) \\\n"
	"static inline T vmax_##S(T a, T b) { return (a > b || a != a) ? a : b; } \\\n"
	"static inline T vmin_##S(T a, T b) { return (a < b || a != a) ? a : b; } \\\n"
	"static inline T vmod_##S(T a, T b) { T r = fmod##M(a, b); \\\n"
	"	if (r != 0 && ((r < 0) != (b < 0))) r += b; return r; } \\\n"
	"static inline T vsign_##S(T a) { return a > 0 ? 1 : a < 0 ? -1 : a; }\n"
	"VF(float, f32, f)\n"
	"VF(double, f64, )\n"
	"#define VI(T, S, U, BITS) \\\n"
	"static inline T vmax_##S(T a, T b) { return a > b ? a : b; } \\\n"
	"static inline T vmin_##S(T a, T b) { return a < b ? a : b; } \\\n"
	"static inline T vdiv_##S(T a, T b) { return b == 0 ? 0 : (!U && b == (T)-1) ? (T)(0 - (uint64_t)a) : (T)(a / b); } \\\n"
	"static inline T vfmod_##S(T a, T b) { return b == 0 || (!U && b == (T)-1) ? 0 : (T)(a % b); } \\\n"
	"static inline T vmod_##S(T a, T b) { T r = vfmod_##S(a, b); \\\n"
	"	if (!U && r != 0 && ((r < 0) != (b < 0))) r = (T)(r + b); return r; } \\\n"
	"static inline T vabs_##S(T a) { return (U || a >= 0) ? a : (T)(0 - (uint64_t)a); } \\\n"
	"static inline T vsign_##S(T a) { return (T)((a > 0) - (!U && a < 0)); } \\\n"
	"static inline T vshl_##S(T a, T b) { return (b < 0 || b >= BITS) ? 0 : (T)((uint64_t)a << b); } \\\n"
	"static inline T vshr_##S(T a, T b) { return (b < 0 || b >= BITS) ? 0 : (T)(a >> b); }\n"
	"VI(int8_t, i8, 0, 8) VI(int16_t, i16, 0, 16) VI(int32_t, i32, 0, 32)\n"
	"VI(int64_t, i64, 0, 64) VI(uint8_t, u8, 1, 8) VI(uint16_t, u16, 1, 16)\n"
	"VI(uint32_t, u32, 1, 32) VI(uint64_t, u64, 1, 64)\n"
	"static inline int64_t vchk(struct vibee_ctx *r, int64_t i, int64_t n)\n"
	"{\n\tif (i < 0 || i >= n) {\n\t\tr->bad = 1;\n\t\treturn 0;\n\t}\n\treturn i;\n}\n\n");
}

const char *cg_safe(const char *s, char *buf, size_t n)
{
	size_t k = 0;
	for (; s && *s && k + 1 < n; s++) {
		char c = *s;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          c == '_' || c == '.' || c == ':' || c == '-' || c == ' ' || c == '[' || c == ']';
		buf[k++] = ok ? c : '_';
	}
	buf[k] = 0;
	return buf;
}

typedef struct R {
	CBuf *b;
	const KProg *p;
	const Kernel *k;
	const uint32_t *slot;
	int id;          /* kernel number */
	int npar;        /* parallel bodies emitted */
} R;

static void ex(R *r, int e);

static void un(R *r, const KExpr *x)
{
	CBuf *b = r->b;
	int ty = r->k->x[x->a].ty, fl = dt_is_float(ty);
	const char *m = ty == DT_F32 ? "f" : "";
	static const char *math[KU_COUNT] = {[KU_EXP] = "exp", [KU_LOG] = "log",
		[KU_SQRT] = "sqrt", [KU_SIN] = "sin", [KU_COS] = "cos", [KU_TAN] = "tan",
		[KU_ASIN] = "asin", [KU_ACOS] = "acos", [KU_ATAN] = "atan", [KU_SINH] = "sinh",
		[KU_COSH] = "cosh", [KU_TANH] = "tanh", [KU_ASINH] = "asinh", [KU_ACOSH] = "acosh",
		[KU_ATANH] = "atanh", [KU_ERF] = "erf", [KU_FLOOR] = "floor", [KU_CEIL] = "ceil",
		[KU_ROUND] = "rint", [KU_LOG1P] = "log1p", [KU_ABS] = "fabs"};
	if (math[x->fn] && fl) {
		cb_printf(b, "%s%s(", math[x->fn], m);
		ex(r, x->a);
		cb_puts(b, ")");
		return;
	}
	if (math[x->fn] && x->fn != KU_ABS) {   /* integer input */
		if (x->fn == KU_FLOOR || x->fn == KU_CEIL || x->fn == KU_ROUND) {
			ex(r, x->a);
			return;
		}
		cb_printf(b, "((%s)%s((double)", cty(x->ty), math[x->fn]);
		ex(r, x->a);
		cb_puts(b, "))");
		return;
	}
	switch (x->fn) {
	case KU_NEG: cb_printf(b, "((%s)-", cty(x->ty)); ex(r, x->a); cb_puts(b, ")"); return;
	case KU_ABS: cb_printf(b, "vabs_%s(", sfx(ty)); break;
	case KU_SIGN: cb_printf(b, "vsign_%s(", sfx(ty)); break;
	case KU_NOT: cb_puts(b, "(!"); break;
	case KU_BNOT: cb_printf(b, "((%s)~", cty(ty)); break;
	case KU_ISNAN: if (!fl) { cb_puts(b, "0"); return; } cb_puts(b, "(isnan("); break;
	case KU_ISPINF: case KU_ISNINF:
		if (!fl) {
			cb_puts(b, "0");
			return;
		}
		cb_puts(b, "(isinf(");
		ex(r, x->a);
		cb_puts(b, ") && (");
		ex(r, x->a);
		cb_puts(b, x->fn == KU_ISPINF ? ") > 0)" : ") < 0)");
		return;
	case KU_RECIP:
		if (fl)
			cb_printf(b, "((%s)1 / ", cty(ty));
		else
			cb_printf(b, "vdiv_%s(1, ", sfx(ty));
		break;
	default: cb_puts(b, "(");
	}
	ex(r, x->a);
	cb_puts(b, x->fn == KU_ISNAN ? ") != 0)" : ")");
}

static void bin(R *r, const KExpr *x)
{
	CBuf *b = r->b;
	int ty = r->k->x[x->a].ty, fl = dt_is_float(ty);
	static const char *ops[KB_COUNT] = {[KB_ADD] = "+", [KB_SUB] = "-", [KB_MUL] = "*",
		[KB_BAND] = "&", [KB_BOR] = "|", [KB_BXOR] = "^", [KB_EQ] = "==", [KB_NE] = "!=",
		[KB_LT] = "<", [KB_LE] = "<=", [KB_GT] = ">", [KB_GE] = ">=", [KB_AND] = "&&",
		[KB_OR] = "||"};
	const char *fn = NULL;
	switch (x->fn) {
	case KB_DIV: fn = fl ? NULL : "vdiv"; break;
	case KB_MOD: fn = "vmod"; break;
	case KB_FMOD: fn = fl ? NULL : "vfmod"; break;
	case KB_MAX: fn = "vmax"; break;
	case KB_MIN: fn = "vmin"; break;
	case KB_SHL: fn = "vshl"; break;
	case KB_SHR: fn = "vshr"; break;
	}
	if (fn) {
		cb_printf(b, "%s_%s(", fn, sfx(ty));
		ex(r, x->a);
		cb_puts(b, ", ");
		ex(r, x->b);
		cb_puts(b, ")");
		return;
	}
	if (x->fn == KB_FMOD || x->fn == KB_POW) {
		cb_printf(b, "%s%s(", x->fn == KB_FMOD ? "fmod" : "pow", ty == DT_F32 ? "f" : "");
		ex(r, x->a);
		cb_puts(b, ", ");
		ex(r, x->b);
		cb_puts(b, ")");
		return;
	}
	if (x->fn == KB_XOR) {
		cb_puts(b, "(!(");
		ex(r, x->a);
		cb_puts(b, ") != !(");
		ex(r, x->b);
		cb_puts(b, "))");
		return;
	}
	const char *op = x->fn == KB_DIV ? "/" : ops[x->fn];
	bool wrap = !fl && x->ty != DT_BOOL && ty != DT_I64;   /* keep narrow ints wrapping */
	if (wrap)
		cb_printf(b, "((%s)", cty(x->ty));
	cb_puts(b, "(");
	ex(r, x->a);
	cb_printf(b, " %s ", op);
	ex(r, x->b);
	cb_puts(b, ")");
	if (wrap)
		cb_puts(b, ")");
}

static void cnst(R *r, const KExpr *x)
{
	CBuf *b = r->b;
	if (dt_is_float(x->ty)) {
		if (isnan(x->f))
			cb_puts(b, x->ty == DT_F32 ? "NAN" : "(double)NAN");
		else if (isinf(x->f))
			cb_printf(b, "%s%s", x->f < 0 ? "-" : "", x->ty == DT_F32 ? "INFINITY" : "(double)INFINITY");
		else {
			char t[64];
			snprintf(t, sizeof t, x->ty == DT_F32 ? "%.9g" : "%.17g", x->ty == DT_F32 ? (double)(float)x->f : x->f);
			if (!strpbrk(t, ".e"))
				strcat(t, ".0");
			cb_printf(b, "%s%s", t, x->ty == DT_F32 ? "f" : "");
		}
		return;
	}
	if (x->ty == DT_U64)
		cb_printf(b, "((uint64_t)%lluULL)", (unsigned long long)x->i);
	else if (x->i == INT64_MIN)
		cb_puts(b, "(-9223372036854775807LL - 1)");
	else if (x->ty == DT_I64)
		cb_printf(b, "((int64_t)%lldLL)", (long long)x->i);
	else
		cb_printf(b, "((%s)%lld)", cty(x->ty), (long long)x->i);
}

static void load(R *r, int prm, int idx)
{
	uint32_t v = r->k->param[prm].value;
	int dt = r->p->g->val[v].dt;
	const char *open = dt == DT_F16 ? "f16_to_f32(" : dt == DT_BF16 ? "bf16_to_f32(" :
	                   dt == DT_BOOL ? "((int)" : "(";
	cb_printf(r->b, "%sp%d[", open, prm);
	ex(r, idx);
	cb_puts(r->b, "])");
}

static void ex(R *r, int e)
{
	const KExpr *x = &r->k->x[e];
	CBuf *b = r->b;
	switch (x->op) {
	case KX_CONST: cnst(r, x); return;
	case KX_DIM:
		if (x->i >= 0)
			cb_printf(b, "((int64_t)%lldLL)", (long long)x->i);
		else
			cb_printf(b, "d%u", DIM_IDX(x->i));
		return;
	case KX_VAR: cb_printf(b, "i%lld", (long long)x->i); return;
	case KX_LOAD: load(r, (int)x->i, x->a); return;
	case KX_LREAD: cb_printf(b, "l%lld[", (long long)x->i); ex(r, x->a); cb_puts(b, "]"); return;
	case KX_UN: un(r, x); return;
	case KX_BIN: bin(r, x); return;
	case KX_SEL:
		cb_puts(b, "((");
		ex(r, x->a);
		cb_puts(b, ") ? (");
		ex(r, x->b);
		cb_puts(b, ") : (");
		ex(r, x->c);
		cb_puts(b, "))");
		return;
	case KX_CAST: {
		int from = r->k->x[x->a].ty;
		if (x->ty == DT_BOOL) {
			cb_puts(b, "((");
			ex(r, x->a);
			cb_puts(b, ") != 0)");
		} else if (dt_is_float(from) && !dt_is_float(x->ty) && x->ty != DT_U64) {
			cb_printf(b, "((%s)(int64_t)(", cty(x->ty));
			ex(r, x->a);
			cb_puts(b, "))");
		} else {
			cb_printf(b, "((%s)(", cty(x->ty));
			ex(r, x->a);
			cb_puts(b, "))");
		}
		return;
	}
	case KX_CHECK:
		cb_puts(b, "vchk(r, ");
		ex(r, x->a);
		cb_puts(b, ", ");
		ex(r, x->b);
		cb_puts(b, ")");
		return;
	}
}

static void indent(CBuf *b, int d)
{
	for (int i = 0; i < d; i++)
		cb_puts(b, "\t");
}

/* "convert a computed value to the storage of param prm" */
static void store_val(R *r, int prm, int val, const char *pre, const char *post)
{
	int dt = r->p->g->val[r->k->param[prm].value].dt;
	CBuf *b = r->b;
	if (dt == DT_F16 || dt == DT_BF16)
		cb_printf(b, "%s((float)(%s", dt == DT_F16 ? "f32_to_f16" : "f32_to_bf16", pre);
	else if (dt == DT_BOOL)
		cb_printf(b, "(uint8_t)((%s", pre);
	else
		cb_printf(b, "(%s)(%s", cg_ctype(dt), pre);
	ex(r, val);
	cb_printf(b, "%s)%s", post, dt == DT_BOOL ? " != 0)" : dt == DT_F16 || dt == DT_BF16 ? ")" : "");
}

static void stmts(R *r, int s, int depth, bool top);

/* A serial loop whose whole body is one float sum into a private scalar
 * (l[c] = l[c] + v, c constant): the innermost loop of a ReduceSum/Mean/L2
 * /SumSquare. C's strict left-to-right order keeps GCC from vectorising it,
 * so it is rendered over a register copy with an OpenMP simd reduction
 * (-fopenmp-simd): partial sums per lane, added up at the end. */
static bool sum_loop(const R *r, int s)
{
	const KStmt *st = &r->k->s[s];
	if (st->op != KS_LOOP || st->par != KP_SERIAL || st->body < 0)
		return false;
	const KStmt *a = &r->k->s[st->body];
	if (a->next >= 0 || a->op != KS_ACC || !a->local || a->fn != KB_ADD)
		return false;
	int ty = r->k->local[a->tgt].ty;
	return (ty == DT_F32 || ty == DT_F64) && r->k->x[a->idx].op == KX_CONST;
}

static void render_sum_loop(R *r, int s, int depth)
{
	const KStmt *st = &r->k->s[s], *a = &r->k->s[st->body];
	CBuf *b = r->b;
	indent(b, depth);
	cb_printf(b, "{\n");
	indent(b, depth + 1);
	cb_printf(b, "%s rs%d = l%d[", cty(r->k->local[a->tgt].ty), st->var, a->tgt);
	ex(r, a->idx);
	cb_puts(b, "];\n");
	indent(b, depth + 1);
	cb_printf(b, "#pragma omp simd reduction(+:rs%d)\n", st->var);
	indent(b, depth + 1);
	cb_printf(b, "for (int64_t i%d = ", st->var);
	ex(r, st->lo);
	cb_printf(b, "; i%d < ", st->var);
	ex(r, st->hi);
	cb_printf(b, "; i%d += %lld)\n", st->var, (long long)st->step);
	indent(b, depth + 2);
	cb_printf(b, "rs%d = rs%d + (", st->var, st->var);
	ex(r, a->val);
	cb_puts(b, ");\n");
	indent(b, depth + 1);
	cb_printf(b, "l%d[", a->tgt);
	ex(r, a->idx);
	cb_printf(b, "] = rs%d;\n", st->var);
	indent(b, depth);
	cb_puts(b, "}\n");
}

static void stmt(R *r, int s, int depth, bool top)
{
	const KStmt *st = &r->k->s[s];
	CBuf *b = r->b;
	switch (st->op) {
	case KS_LOOP: {
		const KExpr *lo = &r->k->x[st->lo];
		if (top && st->par == KP_THREAD && st->step == 1 && lo->op == KX_CONST && lo->i == 0) {
			indent(b, depth);
			cb_printf(b, "kpool_for(r->pool, ");
			ex(r, st->hi);
			cb_printf(b, ", %lld, k%d_p%d, r);\n", (long long)st->grain, r->id, r->npar++);
			return;
		}
		if (st->par == KP_VECTOR) {
			indent(b, depth);
			cb_puts(b, "#pragma GCC ivdep\n");
		}
		if (sum_loop(r, s)) {
			render_sum_loop(r, s, depth);
			return;
		}
		indent(b, depth);
		cb_printf(b, "for (int64_t i%d = ", st->var);
		ex(r, st->lo);
		cb_printf(b, "; i%d < ", st->var);
		ex(r, st->hi);
		cb_printf(b, "; i%d += %lld) {\n", st->var, (long long)st->step);
		stmts(r, st->body, depth + 1, false);
		indent(b, depth);
		cb_puts(b, "}\n");
		return;
	}
	case KS_STORE: case KS_ACC: {
		indent(b, depth);
		char tgt[64];
		if (st->local) {
			cb_printf(b, "l%d[", st->tgt);
			ex(r, st->idx);
			cb_puts(b, "] = ");
			if (st->op == KS_ACC) {
				int ty = r->k->local[st->tgt].ty;
				if (st->fn == KB_ADD || st->fn == KB_MUL) {
					cb_printf(b, "l%d[", st->tgt);
					ex(r, st->idx);
					cb_printf(b, "] %s ", st->fn == KB_ADD ? "+" : "*");
					ex(r, st->val);
				} else {
					cb_printf(b, "%s_%s(l%d[", st->fn == KB_MAX ? "vmax" : "vmin", sfx(ty), st->tgt);
					ex(r, st->idx);
					cb_puts(b, "], ");
					ex(r, st->val);
					cb_puts(b, ")");
				}
			} else {
				cb_printf(b, "(%s)(", cty(r->k->local[st->tgt].ty));
				ex(r, st->val);
				cb_puts(b, ")");
			}
			cb_puts(b, ";\n");
			return;
		}
		snprintf(tgt, sizeof tgt, "p%d[", st->tgt);
		cb_puts(b, tgt);
		ex(r, st->idx);
		cb_puts(b, "] = ");
		if (st->op == KS_STORE) {
			store_val(r, st->tgt, st->val, "", "");
		} else {
			/* y = conv(fn(load(y), v)) */
			CBuf t = {0};
			CBuf *save = r->b;
			r->b = &t;
			load(r, st->tgt, st->idx);
			r->b = save;
			int ty = kir_ty(r->p->g->val[r->k->param[st->tgt].value].dt);
			char pre[96];
			if (st->fn == KB_ADD || st->fn == KB_MUL)
				snprintf(pre, sizeof pre, "%s %s ", "%s", st->fn == KB_ADD ? "+" : "*");
			else
				snprintf(pre, sizeof pre, "%s_%s(%s, ", st->fn == KB_MAX ? "vmax" : "vmin", sfx(ty), "%s");
			CBuf p2 = {0};
			cb_printf(&p2, pre, t.s ? t.s : "");
			store_val(r, st->tgt, st->val, p2.s ? p2.s : "",
			          st->fn == KB_ADD || st->fn == KB_MUL ? "" : ")");
			cb_free(&t);
			cb_free(&p2);
		}
		cb_puts(b, ";\n");
		return;
	}
	case KS_IF:
		indent(b, depth);
		cb_puts(b, "if (");
		ex(r, st->val);
		cb_puts(b, ") {\n");
		stmts(r, st->body, depth + 1, false);
		indent(b, depth);
		cb_puts(b, "}\n");
		return;
	case KS_BARRIER:
		indent(b, depth);
		cb_puts(b, "/* barrier */\n");
		return;
	}
}

static void stmts(R *r, int s, int depth, bool top)
{
	for (; s >= 0; s = r->k->s[s].next)
		stmt(r, s, depth, top);
}

/* Declarations every function of the kernel starts with. */
static void decls(R *r)
{
	const Kernel *k = r->k;
	CBuf *b = r->b;
	for (int i = 0; i < k->nparam; i++) {
		uint32_t v = k->param[i].value;
		const char *t = cg_ctype(r->p->g->val[v].dt);
		cb_printf(b, "\t%s%s *restrict p%d = (%s%s *)r->buf[%u]; (void)p%d;\n",
		          k->param[i].write ? "" : "const ", t, i, k->param[i].write ? "" : "const ", t,
		          r->slot[v], i);
	}
	/* dims: every dim-table entry the kernel reads */
	uint32_t nd = r->p->g->ndim;
	unsigned char *used = calloc(nd ? nd : 1, 1);
	for (int e = 0; used && e < k->nx; e++)
		if (k->x[e].op == KX_DIM && k->x[e].i < 0 && DIM_IDX(k->x[e].i) < nd)
			used[DIM_IDX(k->x[e].i)] = 1;
	for (uint32_t i = 0; used && i < nd; i++)
		if (used[i])
			cb_printf(b, "\tconst int64_t d%u = r->dv[%u]; (void)d%u;\n", i, i, i);
	free(used);
	for (int i = 0; i < k->nlocal; i++)
		cb_printf(b, "\t%s l%d[%lld]; (void)l%d;\n", cty(k->local[i].ty), i,
		          (long long)k->local[i].n, i);
}

void cg_render_kernel(CBuf *b, const KProg *p, int ki, const uint32_t *slot)
{
	const Kernel *k = &p->k[ki];
	R r = {b, p, k, slot, ki, 0};
	const Node *n = &p->g->node[k->node];
	/* parallel bodies first */
	int np = 0;
	for (int s = k->root; s >= 0; s = k->s[s].next) {
		const KStmt *st = &k->s[s];
		const KExpr *lo = &k->x[st->lo >= 0 ? st->lo : 0];
		if (st->op != KS_LOOP || st->par != KP_THREAD || st->step != 1 || lo->op != KX_CONST ||
		    lo->i != 0)
			continue;
		cb_printf(b, "static void k%d_p%d(void *arg_, int64_t lo_, int64_t hi_)\n{\n", ki, np++);
		cb_puts(b, "\tstruct vibee_ctx *r = arg_;\n");
		decls(&r);
		cb_printf(b, "\tfor (int64_t i%d = lo_; i%d < hi_; i%d++) {\n", st->var, st->var, st->var);
		stmts(&r, st->body, 2, false);
		cb_puts(b, "\t}\n}\n\n");
	}
	char nm[128];
	cb_printf(b, "/* %s '%s' */\nstatic void k%d(struct vibee_ctx *r)\n{\n", ir_op_name(n->op),
	          cg_safe(n->name, nm, sizeof nm), ki);
	decls(&r);
	stmts(&r, k->root, 1, true);
	cb_puts(b, "}\n\n");
}
