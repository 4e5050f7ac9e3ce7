/* The GPU renderer family: kernel IR launches -> OpenCL C, CUDA C or HIP
 * C++. One renderer; a small table per dialect holds what differs
 * (qualifiers, address spaces, block/thread indices, barriers, the float
 * math names, the prelude's types). Each launch becomes one kernel
 *     vk<ki>_<j>(b0, o0, b1, o1, ..., d<i>..., bad)
 * where param i is the byte buffer b<i> at byte offset o<i>, d<i> are the
 * run-time dims it reads and bad is the index-check flag. gpu.block loops
 * are the block index (x, y, z in nesting order), gpu.thread loops the
 * thread index; the host launches exactly their extents. Semantics follow
 * render_c.c: expressions and stores render through the shared
 * render_expr.c with a CgSpell per dialect (same helpers: NaN-propagating
 * max, guarded integer division, wrapping narrow integers). Tensor-core
 * bodies for --precision are in render_gpu_mma.c. */
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
	const char *shfl;      /* xor shuffle of v by lane mask o (NULL: none) */
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
		"", "NAN", "INFINITY", NULL},
	[GD_CUDA] = {
		"typedef long long vi64; typedef unsigned long long vu64; typedef int vi32;\n"
		"typedef unsigned int vu32; typedef short vi16; typedef unsigned short vu16;\n"
		"typedef signed char vi8; typedef unsigned char vu8;\n",
		"extern \"C\" __global__ void", "static __device__ __forceinline__", "", "__shared__ ",
		"__syncthreads()",
		{"blockIdx.x", "blockIdx.y", "blockIdx.z"}, {"threadIdx.x", "threadIdx.y", "threadIdx.z"},
		"f", "__int_as_float(0x7fc00000)", "__int_as_float(0x7f800000)",
		"__shfl_xor_sync(0xffffffffu, v, o)"},
	[GD_HIP] = {
		"#include <hip/hip_runtime.h>\n"
		"typedef long long vi64; typedef unsigned long long vu64; typedef int vi32;\n"
		"typedef unsigned int vu32; typedef short vi16; typedef unsigned short vu16;\n"
		"typedef signed char vi8; typedef unsigned char vu8;\n",
		"extern \"C\" __global__ void", "static __device__ __forceinline__", "", "__shared__ ",
		"__syncthreads()",
		{"blockIdx.x", "blockIdx.y", "blockIdx.z"}, {"threadIdx.x", "threadIdx.y", "threadIdx.z"},
		"f", "__int_as_float(0x7fc00000)", "__int_as_float(0x7f800000)", "__shfl_xor(v, o)"},
};

static const char *gtype(int dt) { return cg_tyname(dt, true); }
static const char *cty(int ty) { return ty == DT_BOOL ? "vi32" : gtype(ty); }

/* the expression spellings of the three dialects (index: GD_*) */
static const CgSpell spell[] = {
	[GD_OPENCL] = {gtype, "vi32", "", "VNAN", "VINF", "((vi64)%lldL)", "((vu64)%lluUL)",
		"((vi64)(-9223372036854775807L - 1))", "v", "vbad", true},
	[GD_CUDA] = {gtype, "vi32", "f", "VNAN", "VINF", "((vi64)%lldL)", "((vu64)%lluUL)",
		"((vi64)(-9223372036854775807L - 1))", "v", "vbad", true},
	[GD_HIP] = {gtype, "vi32", "f", "VNAN", "VINF", "((vi64)%lldL)", "((vu64)%lluUL)",
		"((vi64)(-9223372036854775807L - 1))", "v", "vbad", true},
};

static void prelude(CBuf *b, const Dialect *D)
{
	cb_puts(b, D->head);
	cb_printf(b, "#define VFN %s\n#define VG %s\n#define VNAN %s\n#define VINF %s\n", D->fn,
	          D->glob, D->nan, D->inf);
	cg_prelude_helpers(b, "VFN", &spell[D - dia]);
	cb_puts(b,
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

/* Does any launch use the warp reductions (lower_gpu.c, KProg.warp)? */
static bool uses_warp(const GProg *gp)
{
	for (int i = 0; i < gp->nl; i++)
		for (int e = 0; e < gp->l[i].k.nx; e++) {
			const KExpr *x = &gp->l[i].k.x[e];
			if (x->op == KX_UN && (x->fn == KU_WSUM || x->fn == KU_WMAX || x->fn == KU_WMIN))
				return true;
		}
	return false;
}

/* vwsum/vwmax/vwmin_f32/f64: butterfly over the warp's lanes, so every
 * lane ends with the whole warp's result. */
static void warp_prelude(CBuf *b, const Dialect *D, int warp)
{
	cb_printf(b, "#define VW(T, S) \\\n"
	          "VFN T vwsum_##S(T v) { for (int o = %d; o > 0; o >>= 1) v += %s; return v; } \\\n"
	          "VFN T vwmax_##S(T v) { for (int o = %d; o > 0; o >>= 1) v = vmax_##S(v, %s); return v; } \\\n"
	          "VFN T vwmin_##S(T v) { for (int o = %d; o > 0; o >>= 1) v = vmin_##S(v, %s); return v; }\n"
	          "VW(float, f32) VW(double, f64)\n\n", warp / 2, D->shfl, warp / 2, D->shfl, warp / 2,
	          D->shfl);
}

typedef struct R {
	CgExpr x;        /* b, p, k: where and what is rendered */
	const Dialect *D;
	int nb, nt;      /* gpu loops seen (block, thread) */
	const GLaunch *l;
} R;

static void ex(R *r, int e) { cg_expr(&r->x, e); }

static void indent(CBuf *b, int d)
{
	for (int i = 0; i < d; i++)
		cb_puts(b, "\t");
}

static void stmts(R *r, int s, int depth);
static void vec_loop(R *r, const KStmt *lp, int depth);

static void stmt(R *r, int s, int depth)
{
	const KStmt *st = &r->x.k->s[s];
	CBuf *b = r->x.b;
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
		if (st->par == KP_VECTOR && r->l && r->l->vload && st->var == r->l->vlane) {
			vec_loop(r, st, depth);
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
	case KS_STORE: case KS_ACC:
		indent(b, depth);
		cg_expr_store(&r->x, st);
		return;
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

/* Does load e feed the store's value (so its vector is needed)? */
static bool feeds(const Kernel *k, int v, int e, int depth)
{
	if (v < 0 || depth > 64)
		return false;
	if (v == e)
		return true;
	const KExpr *x = &k->x[v];
	if (x->op == KX_CONST || x->op == KX_DIM || x->op == KX_VAR || x->op == KX_LOAD ||
	    x->op == KX_LREAD)
		return false;
	return feeds(k, x->a, e, depth + 1) || (x->op != KX_UN && x->op != KX_CAST &&
	       (feeds(k, x->b, e, depth + 1) || (x->op == KX_SEL && feeds(k, x->c, e, depth + 1))));
}

/* The vector loop of a vectorised launch (gpu_map.c): 4 elements
 * from float4 loads, one float4 store. With lane variable i<v>:
 *     { const vi64 iv = 0; float4 vl<e> = vload4(0, p + idx_e); ... }
 *     float4 vo; { const vi64 iv = j; vo.xyzw[j] = value; } (j = 0..3)
 *     { const vi64 iv = 0; vstore4(vo, 0, p + idx); }
 * CUDA and HIP dereference float4 pointers, which needs 16-byte
 * alignment: unless every pointer involved is aligned, the lanes run as the
 * scalar loop. OpenCL's vload4/vstore4 need only element alignment. */
static void vec_loop(R *r, const KStmt *lp, int depth)
{
	const Kernel *k = r->x.k;
	const KStmt *st = &k->s[lp->body];
	CBuf *b = r->x.b;
	bool cl = r->D == &dia[GD_OPENCL];
	int v = lp->var;
	cb_puts(b, "{\n");   /* stmt() indented it */
	if (!cl) {
		indent(b, depth + 1);
		cb_printf(b, "if (((vu64)p%d", st->tgt);
		for (int e = 0; e < k->nx; e++)
			if (r->l->vload[e] && feeds(k, st->val, e, 0))
				cb_printf(b, " | (vu64)p%lld", (long long)k->x[e].i);
		cb_puts(b, ") & 15) {\n");
		indent(b, depth + 2);
		cb_printf(b, "for (vi64 i%d = 0; i%d < 4; i%d++) {\n", v, v, v);
		indent(b, depth + 3);
		cg_expr_store(&r->x, st);
		indent(b, depth + 2);
		cb_puts(b, "}\n");
		indent(b, depth + 1);
		cb_puts(b, "} else {\n");
		depth++;
	}
	indent(b, depth + 1);
	cb_printf(b, "const vi64 i%d = 0;\n", v);
	for (int e = 0; e < k->nx; e++) {
		if (!r->l->vload[e] || !feeds(k, st->val, e, 0))
			continue;
		indent(b, depth + 1);
		if (cl)
			cb_printf(b, "const float4 vl%d = vload4(0, p%lld + ", e, (long long)k->x[e].i);
		else
			cb_printf(b, "const float4 vl%d = *(const float4 *)(p%lld + ", e, (long long)k->x[e].i);
		ex(r, k->x[e].a);
		cb_puts(b, ");\n");
	}
	indent(b, depth + 1);
	cb_puts(b, "float4 vo;\n");
	r->x.vload = r->l->vload;
	for (int j = 0; j < 4; j++) {
		r->x.lane = j;
		indent(b, depth + 1);
		cb_printf(b, "{ const vi64 i%d = %d; vo.%c = (float)(", v, j, "xyzw"[j]);
		ex(r, st->val);
		cb_puts(b, "); (void)i");
		cb_printf(b, "%d; }\n", v);
	}
	r->x.vload = NULL;
	indent(b, depth + 1);
	if (cl)
		cb_printf(b, "vstore4(vo, 0, p%d + ", st->tgt);
	else
		cb_printf(b, "*(float4 *)(p%d + ", st->tgt);
	ex(r, st->idx);
	cb_puts(b, cl ? ");\n" : ") = vo;\n");
	if (!cl) {
		depth--;
		indent(b, depth + 1);
		cb_puts(b, "}\n");
	}
	indent(b, depth);
	cb_puts(b, "}\n");
}

static void stmts(R *r, int s, int depth)
{
	for (; s >= 0; s = r->x.k->s[s].next)
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
	R r = {{b, p, k, &spell[D - dia], NULL, 0}, D, 0, 0, l};
	if (cg_gpu_attn_mma(p, k, (int)(D - dia))) {   /* attention tensor cores: render_gpu_attn.c */
		cg_gpu_attn_body(&r.x);
		cb_puts(b, "}\n\n");
		return;
	}
	if (cg_gpu_mma(p, k, (int)(D - dia))) {   /* tensor cores: render_gpu_mma.c */
		cg_gpu_mma_body(&r.x, (int)(D - dia));
		cb_puts(b, "}\n\n");
		return;
	}
	for (int i = 0; i < k->nlocal; i++)
		cb_printf(b, "\t%s%s l%d[%lld]; (void)l%d;\n",
		          k->local[i].space == KM_SHARED ? D->shared : "", cty(k->local[i].ty), i,
		          (long long)k->local[i].n, i);
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
	if (D->shfl && p->warp > 1 && uses_warp(gp))
		warp_prelude(b, D, p->warp);
	if (p->prec != KPREC_FP32) {
		cg_gpu_prec_prelude(b, gp->dialect);
		cg_gpu_mma_types(b, gp->dialect);
	}
	for (int ki = 0; ki < p->nk; ki++)
		for (int j = 0; j < gp->count[ki]; j++)
			render_launch(b, p, &gp->l[gp->first[ki] + j], j, D);
}
