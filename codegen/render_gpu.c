/* The GPU renderer family: kernel IR launches -> OpenCL C, CUDA C or HIP
 * C++. One renderer; a small table per dialect holds what differs
 * (qualifiers, address spaces, block/thread indices, barriers, the float
 * math names, the prelude's types). Each launch becomes one kernel
 *     vk<ki>_<j>(b0, o0, b1, o1, ..., d<i>..., bad)
 * where param i is the byte buffer b<i> at byte offset o<i>, d<i> are the
 * run-time dims it reads and bad is the index-check flag. gpu.block loops
 * are the block index (x, y, z in nesting order), gpu.thread loops the
 * thread index; the host launches exactly their extents. Semantics follow
 * render_c.c (same helpers: NaN-propagating max, guarded integer
 * division, wrapping narrow integers). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gpu.h"
#include "render.h"

typedef struct Dialect {
	const char *head;      /* first lines of the program */
	const char *kern;      /* kernel function qualifier */
	const char *fn;        /* helper function qualifier */
	const char *glob;      /* global pointer address space */
	const char *shared;    /* shared/local memory qualifier */
	const char *barrier;
	const char *bid[3], *tid[3];
	const char *fm;        /* suffix of float math functions */
	const char *nan, *inf; /* f32 NaN and infinity */
} Dialect;

static const Dialect dia[] = {
	[GD_OPENCL] = {
		"#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
		"typedef long vi64; typedef ulong vu64; typedef int vi32; typedef uint vu32;\n"
		"typedef short vi16; typedef ushort vu16; typedef char vi8; typedef uchar vu8;\n",
		"__kernel void", "static inline", "__global ", "__local ",
		"barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE)",
		{"get_group_id(0)", "get_group_id(1)", "get_group_id(2)"},
		{"get_local_id(0)", "get_local_id(1)", "get_local_id(2)"},
		"", "NAN", "INFINITY"},
	[GD_CUDA] = {
		"typedef long long vi64; typedef unsigned long long vu64; typedef int vi32;\n"
		"typedef unsigned int vu32; typedef short vi16; typedef unsigned short vu16;\n"
		"typedef signed char vi8; typedef unsigned char vu8;\n",
		"extern \"C\" __global__ void", "static __device__ __forceinline__", "", "__shared__ ",
		"__syncthreads()",
		{"blockIdx.x", "blockIdx.y", "blockIdx.z"}, {"threadIdx.x", "threadIdx.y", "threadIdx.z"},
		"f", "__int_as_float(0x7fc00000)", "__int_as_float(0x7f800000)"},
	[GD_HIP] = {
		"#include <hip/hip_runtime.h>\n"
		"typedef long long vi64; typedef unsigned long long vu64; typedef int vi32;\n"
		"typedef unsigned int vu32; typedef short vi16; typedef unsigned short vu16;\n"
		"typedef signed char vi8; typedef unsigned char vu8;\n",
		"extern \"C\" __global__ void", "static __device__ __forceinline__", "", "__shared__ ",
		"__syncthreads()",
		{"blockIdx.x", "blockIdx.y", "blockIdx.z"}, {"threadIdx.x", "threadIdx.y", "threadIdx.z"},
		"f", "__int_as_float(0x7fc00000)", "__int_as_float(0x7f800000)"},
};

static const char *gtype(int dt)
{
	switch (dt) {
	case DT_F32: return "float";
	case DT_F64: return "double";
	case DT_F16: case DT_BF16: case DT_U16: return "vu16";
	case DT_BOOL: case DT_U8: return "vu8";
	case DT_I8: return "vi8";
	case DT_I16: return "vi16";
	case DT_I32: return "vi32";
	case DT_I64: return "vi64";
	case DT_U32: return "vu32";
	case DT_U64: return "vu64";
	}
	return "vu8";
}
static const char *cty(int ty) { return ty == DT_BOOL ? "vi32" : gtype(ty); }
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

static void prelude(CBuf *b, const Dialect *D)
{
	cb_puts(b, D->head);
	cb_printf(b, "#define VFN %s\n#define VG %s\n#define VNAN %s\n#define VINF %s\n", D->fn,
	          D->glob, D->nan, D->inf);
	cb_printf(b,
	"#define VF(T, S, M) \\\n"
	"VFN T vmax_##S(T a, T b) { return (a > b || a != a) ? a : b; } \\\n"
	"VFN T vmin_##S(T a, T b) { return (a < b || a != a) ? a : b; } \\\n"
	"VFN T vmod_##S(T a, T b) { T r = fmod##M(a, b); \\\n"
	"	if (r != 0 && ((r < 0) != (b < 0))) r += b; return r; } \\\n"
	"VFN T vsign_##S(T a) { return a > 0 ? 1 : a < 0 ? -1 : a; }\n"
	"VF(float, f32, %s)\n"
	"VF(double, f64, )\n", D->fm);
	cb_puts(b,
	"#define VI(T, S, U, BITS) \\\n"
	"VFN T vmax_##S(T a, T b) { return a > b ? a : b; } \\\n"
	"VFN T vmin_##S(T a, T b) { return a < b ? a : b; } \\\n"
	"VFN T vdiv_##S(T a, T b) { return b == 0 ? 0 : (!U && b == (T)-1) ? (T)(0 - (vu64)a) : (T)(a / b); } \\\n"
	"VFN T vfmod_##S(T a, T b) { return b == 0 || (!U && b == (T)-1) ? 0 : (T)(a % b); } \\\n"
	"VFN T vmod_##S(T a, T b) { T r = vfmod_##S(a, b); \\\n"
	"	if (!U && r != 0 && ((r < 0) != (b < 0))) r = (T)(r + b); return r; } \\\n"
	"VFN T vabs_##S(T a) { return (U || a >= 0) ? a : (T)(0 - (vu64)a); } \\\n"
	"VFN T vsign_##S(T a) { return (T)((a > 0) - (!U && a < 0)); } \\\n"
	"VFN T vshl_##S(T a, T b) { return (b < 0 || b >= BITS) ? 0 : (T)((vu64)a << b); } \\\n"
	"VFN T vshr_##S(T a, T b) { return (b < 0 || b >= BITS) ? 0 : (T)(a >> b); }\n"
	"VI(vi8, i8, 0, 8) VI(vi16, i16, 0, 16) VI(vi32, i32, 0, 32)\n"
	"VI(vi64, i64, 0, 64) VI(vu8, u8, 1, 8) VI(vu16, u16, 1, 16)\n"
	"VI(vu32, u32, 1, 32) VI(vu64, u64, 1, 64)\n"
	"VFN vi64 vchk(VG vi32 *bad, vi64 i, vi64 n) { if (i < 0 || i >= n) { *bad = 1; return 0; } return i; }\n");
	/* f16/bf16 <-> f32 by bits (round to nearest even), as ir/dtype.c */
	const char *asf = D == &dia[GD_OPENCL] ? "as_float" : "__uint_as_float";
	const char *asu = D == &dia[GD_OPENCL] ? "as_uint" : "__float_as_uint";
	cb_printf(b,
	"VFN float vf16_to_f32(vu16 h) { vu32 s = (vu32)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;\n"
	"	if (e == 0x1f) return %s(s | 0x7f800000u | (m << 13));\n"
	"	if (e == 0) { float v = (float)m * 5.9604644775390625e-8f; return s ? -v : v; }\n"
	"	return %s(s | ((e + 112) << 23) | (m << 13)); }\n"
	"VFN vu16 vf32_to_f16(float f) { vu32 u = %s(f), s = (u >> 16) & 0x8000, a = u & 0x7fffffffu;\n"
	"	if (a >= 0x7f800000u) return (vu16)(s | 0x7c00 | (a > 0x7f800000u ? 0x200 | ((a >> 13) & 0x3ff) : 0));\n"
	"	if (a >= 0x477ff000u) return (vu16)(s | 0x7c00);\n"
	"	if (a < 0x38800000u) return (vu16)(s | (vu32)rint%s(%s(a) * 16777216.0f));\n"
	"	vu32 e = (a >> 23) - 112, m = a & 0x7fffff, h = (e << 10) | (m >> 13), r = m & 0x1fff;\n"
	"	if (r > 0x1000 || (r == 0x1000 && (h & 1))) h++;\n"
	"	return (vu16)(s | h); }\n"
	"VFN float vbf16_to_f32(vu16 h) { return %s((vu32)h << 16); }\n"
	"VFN vu16 vf32_to_bf16(float f) { vu32 u = %s(f);\n"
	"	if ((u & 0x7fffffffu) > 0x7f800000u) return (vu16)((u >> 16) | 0x40);\n"
	"	u += 0x7fff + ((u >> 16) & 1); return (vu16)(u >> 16); }\n\n",
	asf, asf, asu, D->fm, asf, asf, asu);
}

typedef struct R {
	CBuf *b;
	const KProg *p;
	const Kernel *k;
	const Dialect *D;
	int nb, nt;      /* gpu loops seen (block, thread) */
} R;

static void ex(R *r, int e);

static void un(R *r, const KExpr *x)
{
	CBuf *b = r->b;
	int ty = r->k->x[x->a].ty, fl = dt_is_float(ty);
	const char *m = ty == DT_F32 ? r->D->fm : "";
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
	case KB_DIV: fn = fl || x->c == KX_NONNEG ? NULL : "vdiv"; break;
	case KB_MOD: fn = x->c == KX_NONNEG ? NULL : "vmod"; break;
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
		cb_printf(b, "%s%s(", x->fn == KB_FMOD ? "fmod" : "pow", ty == DT_F32 ? r->D->fm : "");
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
	const char *op = x->fn == KB_DIV ? "/" : x->fn == KB_MOD ? "%" : ops[x->fn];
	/* narrow ints wrap; i64 add/sub/mul wrap through u64 (as -fwrapv on the host) */
	bool wrap = !fl && x->ty != DT_BOOL && ty != DT_I64;
	bool u64 = ty == DT_I64 && (x->fn == KB_ADD || x->fn == KB_SUB || x->fn == KB_MUL) &&
	           data_dep(r->k, x->a, 0) | data_dep(r->k, x->b, 0);
	if (wrap || u64)
		cb_printf(b, "((%s)", cty(x->ty));
	cb_puts(b, "(");
	if (u64)
		cb_puts(b, "(vu64)");
	ex(r, x->a);
	cb_printf(b, " %s ", op);
	ex(r, x->b);
	cb_puts(b, ")");
	if (wrap || u64)
		cb_puts(b, ")");
}

static void cnst(R *r, const KExpr *x)
{
	CBuf *b = r->b;
	if (dt_is_float(x->ty)) {
		if (isnan(x->f))
			cb_puts(b, x->ty == DT_F32 ? "VNAN" : "(double)VNAN");
		else if (isinf(x->f))
			cb_printf(b, "%s%s", x->f < 0 ? "-" : "", x->ty == DT_F32 ? "VINF" : "(double)VINF");
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
		cb_printf(b, "((vu64)%lluUL)", (unsigned long long)x->i);
	else if (x->i == INT64_MIN)
		cb_puts(b, "((vi64)(-9223372036854775807L - 1))");
	else if (x->ty == DT_I64)
		cb_printf(b, "((vi64)%lldL)", (long long)x->i);
	else
		cb_printf(b, "((%s)%lld)", cty(x->ty), (long long)x->i);
}

static void load(R *r, int prm, int idx)
{
	uint32_t v = r->k->param[prm].value;
	int dt = r->p->g->val[v].dt;
	const char *open = dt == DT_F16 ? "vf16_to_f32(" : dt == DT_BF16 ? "vbf16_to_f32(" :
	                   dt == DT_BOOL ? "((vi32)" : "(";
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
			cb_printf(b, "((vi64)%lldL)", (long long)x->i);
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
			cb_printf(b, "((%s)(vi64)(", cty(x->ty));
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
		cb_puts(b, "vchk(vbad, ");
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

/* value val converted to the storage of param prm, wrapped in pre/post */
static void store_val(R *r, int prm, int val, const char *pre, const char *post)
{
	int dt = r->p->g->val[r->k->param[prm].value].dt;
	CBuf *b = r->b;
	if (dt == DT_F16 || dt == DT_BF16)
		cb_printf(b, "%s((float)(%s", dt == DT_F16 ? "vf32_to_f16" : "vf32_to_bf16", pre);
	else if (dt == DT_BOOL)
		cb_printf(b, "(vu8)((%s", pre);
	else
		cb_printf(b, "(%s)(%s", gtype(dt), pre);
	ex(r, val);
	cb_printf(b, "%s)%s", post, dt == DT_BOOL ? " != 0)" : dt == DT_F16 || dt == DT_BF16 ? ")" : "");
}

static void stmts(R *r, int s, int depth);

static void stmt(R *r, int s, int depth)
{
	const KStmt *st = &r->k->s[s];
	CBuf *b = r->b;
	switch (st->op) {
	case KS_LOOP:
		indent(b, depth);
		if (st->par == KP_GPU_BLOCK || st->par == KP_GPU_THREAD) {
			/* the host launches exactly the extent: no bound check */
			bool blk = st->par == KP_GPU_BLOCK;
			cb_printf(b, "{\n");
			indent(b, depth + 1);
			cb_printf(b, "const vi64 i%d = (vi64)%s;\n", st->var,
			          blk ? r->D->bid[r->nb++ % 3] : r->D->tid[r->nt++ % 3]);
			stmts(r, st->body, depth + 1);
			indent(b, depth);
			cb_puts(b, "}\n");
			return;
		}
		cb_printf(b, "for (vi64 i%d = ", st->var);
		ex(r, st->lo);
		cb_printf(b, "; i%d < ", st->var);
		ex(r, st->hi);
		cb_printf(b, "; i%d += %lld) {\n", st->var, (long long)st->step);
		stmts(r, st->body, depth + 1);
		indent(b, depth);
		cb_puts(b, "}\n");
		return;
	case KS_STORE: case KS_ACC: {
		indent(b, depth);
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
		cb_printf(b, "p%d[", st->tgt);
		ex(r, st->idx);
		cb_puts(b, "] = ");
		if (st->op == KS_STORE) {
			store_val(r, st->tgt, st->val, "", "");
		} else {
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
		stmts(r, st->body, depth + 1);
		indent(b, depth);
		cb_puts(b, "}\n");
		return;
	case KS_BARRIER:
		indent(b, depth);
		cb_printf(b, "%s;\n", r->D->barrier);
		return;
	}
}

static void stmts(R *r, int s, int depth)
{
	for (; s >= 0; s = r->k->s[s].next)
		stmt(r, s, depth);
}

/* Does the launch's kernel use dim-table entry i / any index check? The
 * whole expression table is scanned: launches cut from one loop kernel
 * share it, so this may over-approximate (an unused argument). */
static bool uses_check(const Kernel *k)
{
	for (int e = 0; e < k->nx; e++)
		if (k->x[e].op == KX_CHECK)
			return true;
	return false;
}

static void render_launch(CBuf *b, const KProg *p, const GLaunch *l, int j, const Dialect *D)
{
	const Kernel *k = &l->k;
	const Node *n = &p->g->node[k->node];
	char nm[128], kn[64];
	cg_gpu_kname(kn, sizeof kn, l, j);
	cb_printf(b, "/* %s '%s'%s */\n%s %s(", ir_op_name(n->op), cg_safe(n->name, nm, sizeof nm),
	          l->serial ? " (one work-item)" : "", D->kern, kn);
	for (int i = 0; i < k->nparam; i++)
		cb_printf(b, "%s%svu8 *b%d, vi64 o%d", i ? ", " : "", D->glob, i, i);
	uint32_t nd = p->g->ndim;
	unsigned char *used = calloc(nd ? nd : 1, 1);
	for (int e = 0; used && e < k->nx; e++)
		if (k->x[e].op == KX_DIM && k->x[e].i < 0 && DIM_IDX(k->x[e].i) < nd)
			used[DIM_IDX(k->x[e].i)] = 1;
	for (uint32_t i = 0; used && i < nd; i++)
		if (used[i])
			cb_printf(b, ", vi64 d%u", i);
	free(used);
	cb_printf(b, ", %svi32 *vbad)\n{\n", D->glob);
	if (!uses_check(k))
		cb_puts(b, "\t(void)vbad;\n");
	for (int i = 0; i < k->nparam; i++) {
		const char *t = gtype(p->g->val[k->param[i].value].dt);
		cb_printf(b, "\t%s%s *p%d = (%s%s *)(b%d + o%d); (void)p%d;\n", D->glob, t, i, D->glob,
		          t, i, i, i);
	}
	for (int i = 0; i < k->nlocal; i++)
		cb_printf(b, "\t%s%s l%d[%lld]; (void)l%d;\n",
		          k->local[i].space == KM_SHARED ? D->shared : "", cty(k->local[i].ty), i,
		          (long long)k->local[i].n, i);
	R r = {b, p, k, D, 0, 0};
	stmts(&r, k->root, 1);
	cb_puts(b, "}\n\n");
}

void cg_gpu_render(CBuf *b, const KProg *p, const GProg *gp)
{
	const Dialect *D = &dia[gp->dialect];
	char src[256];
	cb_printf(b, "/* Device code generated by vibeec from %s (%s). Do not edit. */\n",
	          cg_safe(p->g->source, src, sizeof src),
	          gp->dialect == GD_OPENCL ? "OpenCL C" : gp->dialect == GD_CUDA ? "CUDA C" : "HIP C++");
	prelude(b, D);
	for (int ki = 0; ki < p->nk; ki++)
		for (int j = 0; j < gp->count[ki]; j++)
			render_launch(b, p, &gp->l[gp->first[ki] + j], j, D);
}
