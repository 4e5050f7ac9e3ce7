/* Expression and store rendering shared by the C renderer (render_c.c) and
 * the GPU renderer family (render_gpu.c). The languages agree on operators
 * and helper names (vmax_f32, vdiv_i32, ...); what differs is spelled by a
 * CgSpell table: type names, literal suffixes, the f32 math suffix, NaN and
 * infinity, the conversion helpers' prefix and the index-check flag. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "gpu.h"
#include "render.h"

/* Storage type names: C's <stdint.h> names, and the GPU dialects' own
 * typedefs (OpenCL C has no <stdint.h>). */
const char *cg_tyname(int dt, bool gpu)
{
	static const char *const nm[DT_COUNT][2] = {
		[DT_F32] = {"float", "float"}, [DT_F64] = {"double", "double"},
		[DT_F16] = {"uint16_t", "vu16"}, [DT_BF16] = {"uint16_t", "vu16"},
		[DT_U16] = {"uint16_t", "vu16"}, [DT_BOOL] = {"uint8_t", "vu8"},
		[DT_U8] = {"uint8_t", "vu8"}, [DT_I8] = {"int8_t", "vi8"},
		[DT_I16] = {"int16_t", "vi16"}, [DT_I32] = {"int32_t", "vi32"},
		[DT_I64] = {"int64_t", "vi64"}, [DT_U32] = {"uint32_t", "vu32"},
		[DT_U64] = {"uint64_t", "vu64"}};
	const char *t = dt >= 0 && dt < DT_COUNT ? nm[dt][gpu] : NULL;
	return t ? t : gpu ? "vu8" : "uint8_t";
}

/* The typed helpers (NaN-propagating max/min, floored mod, sign, guarded
 * integer division and shifts) as macros instantiated per type; q is the
 * function qualifier. */
void cg_prelude_helpers(CBuf *b, const char *q, const CgSpell *sp)
{
	const char *u64 = sp->type(DT_U64);
	cb_printf(b,
	"#define VF(T, S, M) \\\n"
	"%s T vmax_##S(T a, T b) { return (a > b || a != a) ? a : b; } \\\n"
	"%s T vmin_##S(T a, T b) { return (a < b || a != a) ? a : b; } \\\n"
	"%s T vmod_##S(T a, T b) { T r = fmod##M(a, b); \\\n"
	"	if (r != 0 && ((r < 0) != (b < 0))) r += b; return r; } \\\n"
	"%s T vsign_##S(T a) { return a > 0 ? 1 : a < 0 ? -1 : a; }\n"
	"VF(float, f32, %s)\n"
	"VF(double, f64, )\n", q, q, q, q, sp->fm);
	cb_puts(b, "#define VI(T, S, U, BITS) \\\n");
	cb_printf(b, "%s T vmax_##S(T a, T b) { return a > b ? a : b; } \\\n", q);
	cb_printf(b, "%s T vmin_##S(T a, T b) { return a < b ? a : b; } \\\n", q);
	cb_printf(b, "%s T vdiv_##S(T a, T b) { return b == 0 ? 0 : (!U && b == (T)-1) ? (T)(0 - (%s)a) : (T)(a / b); } \\\n", q, u64);
	cb_printf(b, "%s T vfmod_##S(T a, T b) { return b == 0 || (!U && b == (T)-1) ? 0 : (T)(a %% b); } \\\n", q);
	cb_printf(b, "%s T vmod_##S(T a, T b) { T r = vfmod_##S(a, b); \\\n"
	          "	if (!U && r != 0 && ((r < 0) != (b < 0))) r = (T)(r + b); return r; } \\\n", q);
	cb_printf(b, "%s T vabs_##S(T a) { return (U || a >= 0) ? a : (T)(0 - (%s)a); } \\\n", q, u64);
	cb_printf(b, "%s T vsign_##S(T a) { return (T)((a > 0) - (!U && a < 0)); } \\\n", q);
	cb_printf(b, "%s T vshl_##S(T a, T b) { return (b < 0 || b >= BITS) ? 0 : (T)((%s)a << b); } \\\n", q, u64);
	cb_printf(b, "%s T vshr_##S(T a, T b) { return (b < 0 || b >= BITS) ? 0 : (T)(a >> b); }\n", q);
	static const struct { int dt; const char *s; int u, bits; } vi[] = {
		{DT_I8, "i8", 0, 8}, {DT_I16, "i16", 0, 16}, {DT_I32, "i32", 0, 32},
		{DT_I64, "i64", 0, 64}, {DT_U8, "u8", 1, 8}, {DT_U16, "u16", 1, 16},
		{DT_U32, "u32", 1, 32}, {DT_U64, "u64", 1, 64}};
	for (int i = 0; i < 8; i++)
		cb_printf(b, "VI(%s, %s, %d, %d)%s", sp->type(vi[i].dt), vi[i].s, vi[i].u, vi[i].bits,
		          i % 3 == 2 || i == 7 ? "\n" : " ");
}

const char *cg_sfx(int ty)
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

/* compute type of ty: bool computes as the dialect's int */
static const char *cty(const CgExpr *r, int ty)
{
	return ty == DT_BOOL ? r->sp->boolty : r->sp->type(ty);
}

static void un(CgExpr *r, const KExpr *x)
{
	CBuf *b = r->b;
	int ty = r->k->x[x->a].ty, fl = dt_is_float(ty);
	const char *m = ty == DT_F32 ? r->sp->fm : "";
	static const char *math[KU_COUNT] = {[KU_EXP] = "exp", [KU_LOG] = "log",
		[KU_SQRT] = "sqrt", [KU_SIN] = "sin", [KU_COS] = "cos", [KU_TAN] = "tan",
		[KU_ASIN] = "asin", [KU_ACOS] = "acos", [KU_ATAN] = "atan", [KU_SINH] = "sinh",
		[KU_COSH] = "cosh", [KU_TANH] = "tanh", [KU_ASINH] = "asinh", [KU_ACOSH] = "acosh",
		[KU_ATANH] = "atanh", [KU_ERF] = "erf", [KU_FLOOR] = "floor", [KU_CEIL] = "ceil",
		[KU_ROUND] = "rint", [KU_LOG1P] = "log1p", [KU_ABS] = "fabs"};
	if (math[x->fn] && fl) {
		cb_printf(b, "%s%s(", math[x->fn], m);
		cg_expr(r, x->a);
		cb_puts(b, ")");
		return;
	}
	if (math[x->fn] && x->fn != KU_ABS) {   /* integer input */
		if (x->fn == KU_FLOOR || x->fn == KU_CEIL || x->fn == KU_ROUND) {
			cg_expr(r, x->a);
			return;
		}
		cb_printf(b, "((%s)%s((double)", cty(r, x->ty), math[x->fn]);
		cg_expr(r, x->a);
		cb_puts(b, "))");
		return;
	}
	switch (x->fn) {
	case KU_NEG: cb_printf(b, "((%s)-", cty(r, x->ty)); cg_expr(r, x->a); cb_puts(b, ")"); return;
	case KU_ABS: cb_printf(b, "vabs_%s(", cg_sfx(ty)); break;
	case KU_SIGN: cb_printf(b, "vsign_%s(", cg_sfx(ty)); break;
	case KU_NOT: cb_puts(b, "(!"); break;
	case KU_RTF32: cb_puts(b, "vrnd_tf32("); break;   /* GPU prelude, --precision only */
	case KU_RF16: cb_puts(b, "vrnd_f16("); break;
	case KU_RBF16: cb_puts(b, "vrnd_bf16("); break;
	case KU_WSUM: case KU_WMAX: case KU_WMIN:   /* GPU prelude, CUDA/HIP only */
		cb_printf(b, "vw%s_%s(", x->fn == KU_WSUM ? "sum" : x->fn == KU_WMAX ? "max" : "min",
		          cg_sfx(ty));
		break;
	case KU_BNOT: cb_printf(b, "((%s)~", cty(r, ty)); break;
	case KU_ISNAN: if (!fl) { cb_puts(b, "0"); return; } cb_puts(b, "(isnan("); break;
	case KU_ISPINF: case KU_ISNINF:
		if (!fl) {
			cb_puts(b, "0");
			return;
		}
		cb_puts(b, "(isinf(");
		cg_expr(r, x->a);
		cb_puts(b, ") && (");
		cg_expr(r, x->a);
		cb_puts(b, x->fn == KU_ISPINF ? ") > 0)" : ") < 0)");
		return;
	case KU_RECIP:
		if (fl)
			cb_printf(b, "((%s)1 / ", cty(r, ty));
		else
			cb_printf(b, "vdiv_%s(1, ", cg_sfx(ty));
		break;
	default: cb_puts(b, "(");
	}
	cg_expr(r, x->a);
	cb_puts(b, x->fn == KU_ISNAN ? ") != 0)" : ")");
}

/* Does e read tensor data? Index arithmetic of loop variables, dims and
 * constants is bounded by tensor sizes and needs no wrapping. */
static bool data_dep(const Kernel *k, int e, int depth)
{
	if (e < 0 || depth > 64)
		return e >= 0;
	const KExpr *x = &k->x[e];
	if (x->op == KX_LOAD || x->op == KX_LREAD)
		return true;
	return (x->op == KX_UN || x->op == KX_BIN || x->op == KX_SEL || x->op == KX_CAST ||
	        x->op == KX_CHECK) &&
	       (data_dep(k, x->a, depth + 1) || (x->op != KX_UN && x->op != KX_CAST &&
	        (data_dep(k, x->b, depth + 1) || (x->op == KX_SEL && data_dep(k, x->c, depth + 1)))));
}

static void bin(CgExpr *r, const KExpr *x)
{
	CBuf *b = r->b;
	int ty = r->k->x[x->a].ty, fl = dt_is_float(ty);
	static const char *ops[KB_COUNT] = {[KB_ADD] = "+", [KB_SUB] = "-", [KB_MUL] = "*",
		[KB_BAND] = "&", [KB_BOR] = "|", [KB_BXOR] = "^", [KB_EQ] = "==", [KB_NE] = "!=",
		[KB_LT] = "<", [KB_LE] = "<=", [KB_GT] = ">", [KB_GE] = ">=", [KB_AND] = "&&",
		[KB_OR] = "||"};
	const char *fn = NULL;
	switch (x->fn) {   /* KX_NONNEG: only gpu_map.c's launches carry it */
	case KB_DIV: fn = fl || x->c == KX_NONNEG ? NULL : "vdiv"; break;
	case KB_MOD: fn = x->c == KX_NONNEG ? NULL : "vmod"; break;
	case KB_FMOD: fn = fl ? NULL : "vfmod"; break;
	case KB_MAX: fn = "vmax"; break;
	case KB_MIN: fn = "vmin"; break;
	case KB_SHL: fn = "vshl"; break;
	case KB_SHR: fn = "vshr"; break;
	}
	if (fn) {
		cb_printf(b, "%s_%s(", fn, cg_sfx(ty));
		cg_expr(r, x->a);
		cb_puts(b, ", ");
		cg_expr(r, x->b);
		cb_puts(b, ")");
		return;
	}
	if (x->fn == KB_FMOD || x->fn == KB_POW) {
		cb_printf(b, "%s%s(", x->fn == KB_FMOD ? "fmod" : "pow", ty == DT_F32 ? r->sp->fm : "");
		cg_expr(r, x->a);
		cb_puts(b, ", ");
		cg_expr(r, x->b);
		cb_puts(b, ")");
		return;
	}
	if (x->fn == KB_XOR) {
		cb_puts(b, "(!(");
		cg_expr(r, x->a);
		cb_puts(b, ") != !(");
		cg_expr(r, x->b);
		cb_puts(b, "))");
		return;
	}
	const char *op = x->fn == KB_DIV ? "/" : x->fn == KB_MOD ? "%" : ops[x->fn];
	/* narrow ints wrap; where the host has no -fwrapv, i64 + - * on data
	 * wrap through u64 */
	bool wrap = !fl && x->ty != DT_BOOL && ty != DT_I64;
	bool u64 = r->sp->wrap_i64 && ty == DT_I64 &&
	           (x->fn == KB_ADD || x->fn == KB_SUB || x->fn == KB_MUL) &&
	           data_dep(r->k, x->a, 0) | data_dep(r->k, x->b, 0);
	if (wrap || u64)
		cb_printf(b, "((%s)", cty(r, x->ty));
	cb_puts(b, "(");
	if (u64)
		cb_printf(b, "(%s)", r->sp->type(DT_U64));
	cg_expr(r, x->a);
	cb_printf(b, " %s ", op);
	cg_expr(r, x->b);
	cb_puts(b, ")");
	if (wrap || u64)
		cb_puts(b, ")");
}

static void cnst(CgExpr *r, const KExpr *x)
{
	CBuf *b = r->b;
	const CgSpell *sp = r->sp;
	if (dt_is_float(x->ty)) {
		if (isnan(x->f))
			cb_printf(b, "%s%s", x->ty == DT_F32 ? "" : "(double)", sp->nan);
		else if (isinf(x->f))
			cb_printf(b, "%s%s%s", x->f < 0 ? "-" : "", x->ty == DT_F32 ? "" : "(double)", sp->inf);
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
		cb_printf(b, sp->u64lit, (unsigned long long)x->i);
	else if (x->i == INT64_MIN)
		cb_puts(b, sp->i64min);
	else if (x->ty == DT_I64)
		cb_printf(b, sp->i64lit, (long long)x->i);
	else
		cb_printf(b, "((%s)%lld)", cty(r, x->ty), (long long)x->i);
}

/* load of param prm at index idx, converted to its compute type */
static void load(CgExpr *r, int prm, int idx)
{
	uint32_t v = r->k->param[prm].value;
	int dt = r->p->g->val[v].dt;
	if (dt == DT_F16 || dt == DT_BF16)
		cb_printf(r->b, "%s%s_to_f32(p%d[", r->sp->cv, dt == DT_F16 ? "f16" : "bf16", prm);
	else if (dt == DT_BOOL)
		cb_printf(r->b, "((%s)p%d[", r->sp->boolty, prm);
	else
		cb_printf(r->b, "(p%d[", prm);
	cg_expr(r, idx);
	cb_puts(r->b, "])");
}

void cg_expr(CgExpr *r, int e)
{
	const KExpr *x = &r->k->x[e];
	CBuf *b = r->b;
	switch (x->op) {
	case KX_CONST: cnst(r, x); return;
	case KX_DIM:
		if (x->i >= 0)
			cb_printf(b, r->sp->i64lit, (long long)x->i);
		else
			cb_printf(b, "d%u", DIM_IDX(x->i));
		return;
	case KX_VAR: cb_printf(b, "i%lld", (long long)x->i); return;
	case KX_LOAD:
		if (r->vload && r->vload[e]) {   /* a lane of a float4 load */
			cb_printf(b, "vl%d.%c", e, "xyzw"[r->lane & 3]);
			return;
		}
		load(r, (int)x->i, x->a);
		return;
	case KX_LREAD: cb_printf(b, "l%lld[", (long long)x->i); cg_expr(r, x->a); cb_puts(b, "]"); return;
	case KX_UN: un(r, x); return;
	case KX_BIN: bin(r, x); return;
	case KX_SEL:
		cb_puts(b, "((");
		cg_expr(r, x->a);
		cb_puts(b, ") ? (");
		cg_expr(r, x->b);
		cb_puts(b, ") : (");
		cg_expr(r, x->c);
		cb_puts(b, "))");
		return;
	case KX_CAST: {
		int from = r->k->x[x->a].ty;
		if (x->ty == DT_BOOL) {
			cb_puts(b, "((");
			cg_expr(r, x->a);
			cb_puts(b, ") != 0)");
		} else if (dt_is_float(from) && !dt_is_float(x->ty) && x->ty != DT_U64) {
			cb_printf(b, "((%s)(%s)(", cty(r, x->ty), r->sp->type(DT_I64));
			cg_expr(r, x->a);
			cb_puts(b, "))");
		} else {
			cb_printf(b, "((%s)(", cty(r, x->ty));
			cg_expr(r, x->a);
			cb_puts(b, "))");
		}
		return;
	}
	case KX_CHECK:
		cb_printf(b, "vchk(%s, ", r->sp->chk);
		cg_expr(r, x->a);
		cb_puts(b, ", ");
		cg_expr(r, x->b);
		cb_puts(b, ")");
		return;
	}
}

/* value val converted to the storage of param prm, wrapped in pre/post */
static void store_val(CgExpr *r, int prm, int val, const char *pre, const char *post)
{
	int dt = r->p->g->val[r->k->param[prm].value].dt;
	CBuf *b = r->b;
	if (dt == DT_F16 || dt == DT_BF16)
		cb_printf(b, "%sf32_to_%s((float)(%s", r->sp->cv, dt == DT_F16 ? "f16" : "bf16", pre);
	else if (dt == DT_BOOL)
		cb_printf(b, "(%s)((%s", r->sp->type(DT_U8), pre);
	else
		cb_printf(b, "(%s)(%s", r->sp->type(dt), pre);
	cg_expr(r, val);
	cb_printf(b, "%s)%s", post, dt == DT_BOOL ? " != 0)" : dt == DT_F16 || dt == DT_BF16 ? ")" : "");
}

void cg_expr_store(CgExpr *r, const KStmt *st)
{
	CBuf *b = r->b;
	if (st->local) {
		cb_printf(b, "l%d[", st->tgt);
		cg_expr(r, st->idx);
		cb_puts(b, "] = ");
		if (st->op == KS_ACC) {
			int ty = r->k->local[st->tgt].ty;
			if (st->fn == KB_ADD || st->fn == KB_MUL) {
				cb_printf(b, "l%d[", st->tgt);
				cg_expr(r, st->idx);
				cb_printf(b, "] %s ", st->fn == KB_ADD ? "+" : "*");
				cg_expr(r, st->val);
			} else {
				cb_printf(b, "%s_%s(l%d[", st->fn == KB_MAX ? "vmax" : "vmin", cg_sfx(ty), st->tgt);
				cg_expr(r, st->idx);
				cb_puts(b, "], ");
				cg_expr(r, st->val);
				cb_puts(b, ")");
			}
		} else {
			cb_printf(b, "(%s)(", cty(r, r->k->local[st->tgt].ty));
			cg_expr(r, st->val);
			cb_puts(b, ")");
		}
		cb_puts(b, ";\n");
		return;
	}
	cb_printf(b, "p%d[", st->tgt);
	cg_expr(r, st->idx);
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
			snprintf(pre, sizeof pre, "%s_%s(%s, ", st->fn == KB_MAX ? "vmax" : "vmin", cg_sfx(ty), "%s");
		CBuf p2 = {0};
		cb_printf(&p2, pre, t.s ? t.s : "");
		store_val(r, st->tgt, st->val, p2.s ? p2.s : "",
		          st->fn == KB_ADD || st->fn == KB_MUL ? "" : ")");
		cb_free(&t);
		cb_free(&p2);
	}
	cb_puts(b, ";\n");
}
