/* The host code of a model.so: the context struct, CALL kernels (KTensor/
 * KAttr tables and a call through ref_table), dim evaluation, create/run/
 * destroy, and the exported vibee_model descriptor. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "emit.h"
#include "fused.h"
#include "render.h"
#include "lib.h"
#include "../ir/text.h"
#include "gpu.h"

#ifndef VIBEE_VERSION
#define VIBEE_VERSION "0.1.0"
#endif

/* A C string literal of s. */
static void lit(CBuf *b, const char *s)
{
	cb_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if (*p == '"' || *p == '\\')
			cb_printf(b, "\\%c", *p);
		else if (*p < 32 || *p >= 127 || *p == '?')
			cb_printf(b, "\\%03o", *p);
		else
			cb_printf(b, "%c", *p);
	}
	cb_puts(b, "\"");
}

static void flt(CBuf *b, double f)
{
	if (isnan(f))
		cb_puts(b, "NAN");
	else if (isinf(f))
		cb_puts(b, f < 0 ? "-INFINITY" : "INFINITY");
	else
		cb_printf(b, "%.17g", f);
}

/* A dim as a C expression reading r->dv. */
static void dimc(CBuf *b, Dim d)
{
	if (d >= 0)
		cb_printf(b, "%lldLL", (long long)d);
	else
		cb_printf(b, "r->dv[%u]", DIM_IDX(d));
}

/* Squeeze without axes keeps the symbolic dims of its input, assuming they
 * are not 1 (ir/shape_rules2.c); check that for live such nodes with index
 * in [*next, upto), so a run where one is 1 fails instead of returning a
 * tensor of the wrong rank. Run-time dims not yet known (< 0) pass. */
static void squeeze_checks(CBuf *b, const Graph *g, uint32_t *next, uint32_t upto)
{
	for (; *next < upto && *next < g->nnode; (*next)++) {
		const Node *n = &g->node[*next];
		if (n->dead || n->op != OP_Squeeze || n->nin < 1 || n->in[0] == IR_NONE ||
		    (n->nin > 1 && n->in[1] != IR_NONE) || ir_attr(n, "axes"))
			continue;
		const Value *x = &g->val[n->in[0]];
		char nm[128];
		cg_safe(n->name, nm, sizeof nm);
		for (int i = 0; i < x->shape.rank; i++) {
			if (x->shape.d[i] >= 0)
				continue;
			cb_puts(b, "\tif (");
			dimc(b, x->shape.d[i]);
			cb_printf(b, " == 1)\n\t\treturn vfail(r, 5, \"node '%s' (Squeeze): input dim %d is 1 "
			          "at run time; this model was compiled assuming it is not (Squeeze "
			          "without axes)\");\n", nm, i);
		}
	}
}

/* The CALL kernel of node n: static attribute tables and k<ki>(r). */
static int call_kernel(CBuf *b, const KProg *p, const Plan *pl, int ki, Diag *d)
{
	Graph *g = p->g;
	const Node *n = &g->node[p->k[ki].node];
	char nm[128];
	cg_safe(n->name, nm, sizeof nm);
	for (int a = 0; a < n->nattr; a++) {
		const Attr *at = &n->attr[a];
		if (at->kind == AK_INTS && at->n > 0) {
			cb_printf(b, "static const int64_t k%d_a%d[] = {", ki, a);
			for (int i = 0; i < at->n; i++)
				cb_printf(b, "%s%lldLL", i ? ", " : "", (long long)at->ints[i]);
			cb_puts(b, "};\n");
		} else if (at->kind == AK_FLOATS && at->n > 0) {
			cb_printf(b, "static const float k%d_a%d[] = {", ki, a);
			for (int i = 0; i < at->n; i++) {
				cb_puts(b, i ? ", " : "");
				flt(b, at->floats[i]);
			}
			cb_puts(b, "};\n");
		} else if (at->kind == AK_STRINGS && at->n > 0) {
			cb_printf(b, "static const char *const k%d_a%d[] = {", ki, a);
			for (int i = 0; i < at->n; i++) {
				cb_puts(b, i ? ", " : "");
				lit(b, at->strs[i] ? at->strs[i] : "");
			}
			cb_puts(b, "};\n");
		} else if (at->kind == AK_TENSOR) {
			if (at->t == IR_NONE || at->t >= g->nval || pl->slot[at->t] == SLOT_NONE ||
			    pl->kind[pl->slot[at->t]] != SL_CONST)
				return ir_node_error(d, g, n, E_MODEL, "tensor attribute '%s' is not a constant",
				                     at->name);
			const Value *v = &g->val[at->t];
			cb_printf(b, "static const KTensor k%d_a%d = {%d, %d, {", ki, a, v->dt, v->shape.rank);
			for (int i = 0; i < v->shape.rank; i++)
				cb_printf(b, "%s%lldLL", i ? ", " : "", (long long)v->shape.d[i]);
			cb_printf(b, "%s}, (void *)(vibee_weights + %llu)};\n", v->shape.rank ? "" : "0",
			          (unsigned long long)pl->off[pl->slot[at->t]]);
		} else if (at->kind == AK_GRAPH && ir_attr_i(n, "_kcf", 0)) {   /* compiled subgraph */
			cb_printf(b, "extern const vibee_model_desc vibee_sub_%lld "
			          "__attribute__((visibility(\"hidden\")));\n", (long long)at->i);
		} else if (at->kind == AK_GRAPH) {     /* its IR text: ir/ref_cf.c parses it */
			char *txt = at->g ? ir_print_str_opts(at->g, 1) : NULL;
			if (!txt)
				return ir_node_error(d, g, n, E_MODEL, "graph attribute '%s' cannot be printed",
				                     at->name);
			cb_printf(b, "static const char k%d_a%d[] = ", ki, a);
			lit(b, txt);
			cb_puts(b, ";\n");
			free(txt);
		}
	}
	cb_printf(b, "static const KAttr k%d_attr[] = {\n", ki);
	for (int a = 0; a < n->nattr; a++) {
		const Attr *at = &n->attr[a];
		cb_puts(b, "\t{.name = ");
		lit(b, at->name);
		cb_printf(b, ", .kind = %d", at->kind);
		switch (at->kind) {
		case AK_INT: cb_printf(b, ", .i = %lldLL", (long long)at->i); break;
		case AK_FLOAT: cb_puts(b, ", .f = "); flt(b, at->f); break;
		case AK_STRING: cb_puts(b, ", .s = "); lit(b, at->s ? at->s : ""); break;
		case AK_INTS:
			cb_printf(b, ", .n = %d", at->n);
			if (at->n > 0)
				cb_printf(b, ", .ints = k%d_a%d", ki, a);
			break;
		case AK_FLOATS:
			cb_printf(b, ", .n = %d", at->n);
			if (at->n > 0)
				cb_printf(b, ", .floats = k%d_a%d", ki, a);
			break;
		case AK_STRINGS:
			cb_printf(b, ", .n = %d", at->n);
			if (at->n > 0)
				cb_printf(b, ", .strs = k%d_a%d", ki, a);
			break;
		case AK_TENSOR: cb_printf(b, ", .t = &k%d_a%d", ki, a); break;
		case AK_GRAPH:
			if (ir_attr_i(n, "_kcf", 0))
				cb_printf(b, ", .g = &vibee_sub_%lld", (long long)at->i);
			else
				cb_printf(b, ", .s = k%d_a%d", ki, a);
			break;
		}
		cb_puts(b, "},\n");
	}
	cb_printf(b, "\t{.name = \"_opset\", .kind = %d, .i = %d},\n};\n", AK_INT, n->opset);
	int nin = n->nin ? n->nin : 1, nout = n->nout ? n->nout : 1;
	cb_printf(b, "/* %s '%s' (reference kernel) */\nstatic int k%d(struct vibee_ctx *r)\n{\n",
	          ir_op_name(n->op), nm, ki);
	cb_printf(b, "\tKTensor in[%d], out[%d];\n\tmemset(in, 0, sizeof in);\n"
	          "\tmemset(out, 0, sizeof out);\n", nin, nout);
	uint32_t *uses = ir_use_counts(g);
	for (int j = 0; j < n->nin; j++) {
		uint32_t v = n->in[j];
		if (v == IR_NONE)
			continue;
		const Value *x = &g->val[v];
		cb_printf(b, "\tin[%d].dt = %d;\n\tin[%d].rank = %d;\n", j, x->dt, j, x->shape.rank);
		for (int i = 0; i < x->shape.rank; i++) {
			cb_printf(b, "\tin[%d].dims[%d] = ", j, i);
			dimc(b, x->shape.d[i]);
			cb_puts(b, ";\n");
		}
		cb_printf(b, "\tin[%d].data = r->buf[%u];\n", j, pl->slot[v]);
	}
	for (int j = 0; j < n->nout; j++) {
		uint32_t v = n->out[j];
		const Value *x = &g->val[v];
		bool used = uses && uses[v] > 0;
		for (uint32_t o = 0; o < g->nout; o++)
			used |= g->out[o] == v;
		if (!used && j >= op_info[n->op].min_out) {
			cb_printf(b, "\tout[%d].dt = 0;   /* unused optional output */\n", j);
			continue;
		}
		cb_printf(b, "\tout[%d].dt = %d;\n\tout[%d].rank = %d;\n", j, x->dt, j, x->shape.rank);
		for (int i = 0; i < x->shape.rank; i++) {
			cb_printf(b, "\tout[%d].dims[%d] = ", j, i);
			dimc(b, x->shape.d[i]);
			cb_puts(b, ";\n");
		}
		cb_printf(b, "\tout[%d].data = r->buf[%u];\n", j, pl->slot[v]);
	}
	cb_printf(b, "\tchar msg[512] = \"\";\n"
	          "\tKCall c = {%d, %d, %d, %d, in, out, k%d_attr, msg, sizeof msg, karena_alloc, &r->arena};\n",
	          n->op, n->nin, n->nout, n->nattr + 1, ki);
	if (cg_fused_kernel_node(g, n))   /* a fused library kernel on the context's pool */
		cb_printf(b, "\tif (%s(r->pool, &c))\n", cg_fused_kernel_node(g, n));
	else
		cb_printf(b, "\tif (ref_table[%d](&c))\n", n->op);
	cb_printf(b, "\t\treturn vfail(r, %d, \"node '%s' (%s): %%s\", msg);\n", 5, nm,
	          ir_op_name(n->op));
	/* outputs whose shape was not known: bind run-time symbols, check */
	for (int j = 0; j < n->nout; j++) {
		uint32_t v = n->out[j];
		const Value *x = &g->val[v];
		if (ir_shape_static(&x->shape))
			continue;
		cb_printf(b, "\tif (out[%d].dt && !r->buf[%u]) {\n", j, pl->slot[v]);
		cb_printf(b, "\t\tif (out[%d].rank != %d)\n\t\t\treturn vfail(r, 5, \"node '%s' (%s): "
		          "output %d has rank %%d, expected %d\", (int)out[%d].rank);\n", j,
		          x->shape.rank, nm, ir_op_name(n->op), j, x->shape.rank, j);
		for (int i = 0; i < x->shape.rank; i++)
			if (ir_dim_is_sym(g, x->shape.d[i]))
				cb_printf(b, "\t\tif (r->dv[%u] < 0)\n\t\t\tr->dv[%u] = out[%d].dims[%d];\n",
				          DIM_IDX(x->shape.d[i]), DIM_IDX(x->shape.d[i]), j, i);
		cb_puts(b, "\t\teval_dims(r->dv);\n");
		for (int i = 0; i < x->shape.rank; i++) {
			if (x->shape.d[i] >= 0)
				cb_printf(b, "\t\tif (out[%d].dims[%d] != %lldLL)\n", j, i, (long long)x->shape.d[i]);
			else
				cb_printf(b, "\t\tif (out[%d].dims[%d] != r->dv[%u])\n", j, i,
				          DIM_IDX(x->shape.d[i]));
			cb_printf(b, "\t\t\treturn vfail(r, 5, \"node '%s' (%s): output %d dim %d is %%lld, "
			          "inconsistent with the inferred shape\", (long long)out[%d].dims[%d]);\n",
			          nm, ir_op_name(n->op), j, i, j, i);
		}
		cb_printf(b, "\t\tr->buf[%u] = out[%d].data;\n\t}\n", pl->slot[v], j);
	}
	free(uses);
	cb_puts(b, "\treturn 0;\n}\n\n");
	return E_OK;
}

static void eval_dims_fn(CBuf *b, const Graph *g)
{
	cb_puts(b, "static int64_t vdimop(int op, int64_t a, int64_t b)\n{\n"
	        "\tif (a < 0 || b < 0)\n\t\treturn -1;\n\tswitch (op) {\n"
	        "\tcase 1: return a + b;\n\tcase 2: return a - b;\n\tcase 3: return a * b;\n"
	        "\tcase 4: return b ? a / b : -1;\n\tcase 5: return b ? a % b : -1;\n"
	        "\tcase 6: return a > b ? a : b;\n\tcase 7: return a < b ? a : b;\n"
	        "\tcase 8: return b ? (a + b - 1) / b : -1;\n\t}\n\treturn -1;\n}\n\n");
	_Static_assert(DX_ADD == 1 && DX_SUB == 2 && DX_MUL == 3 && DX_DIV == 4 && DX_MOD == 5 &&
	               DX_MAX == 6 && DX_MIN == 7 && DX_CDIV == 8, "DX numbering used above");
	cb_printf(b, "static void eval_dims(int64_t *dv)\n{\n\t(void)dv;\n");
	for (uint32_t i = 0; i < g->ndim; i++) {
		const DimExpr *x = &g->dim[i];
		if (x->op == DX_SYM)
			continue;
		cb_printf(b, "\tdv[%u] = vdimop(%d, ", i, x->op);
		if (x->a >= 0)
			cb_printf(b, "%lldLL, ", (long long)x->a);
		else
			cb_printf(b, "dv[%u], ", DIM_IDX(x->a));
		if (x->b >= 0)
			cb_printf(b, "%lldLL);\n", (long long)x->b);
		else
			cb_printf(b, "dv[%u]);\n", DIM_IDX(x->b));
	}
	cb_puts(b, "}\n\n");
}

/* io descriptor tables for inputs (which = 0) or outputs */
static void io_tables(CBuf *b, const Graph *g, int which)
{
	uint32_t cnt = which ? g->nout : g->nin;
	const uint32_t *ids = which ? g->out : g->in;
	const char *pre = which ? "out" : "in";
	for (uint32_t i = 0; i < cnt; i++) {
		const Value *v = &g->val[ids[i]];
		cb_printf(b, "static const int64_t %s%u_dims[] = {", pre, i);
		for (int k = 0; k < v->shape.rank; k++)
			cb_printf(b, "%s%lld", k ? ", " : "", (long long)(v->shape.d[k] >= 0 ? v->shape.d[k] : -1));
		cb_printf(b, "%s};\nstatic const char *const %s%u_names[] = {", v->shape.rank ? "" : "0", pre, i);
		for (int k = 0; k < v->shape.rank; k++) {
			cb_puts(b, k ? ", " : "");
			if (v->shape.d[k] >= 0) {
				cb_puts(b, "0");
			} else {
				char t[256];
				lit(b, ir_dim_str(g, v->shape.d[k], t, sizeof t));
			}
		}
		cb_printf(b, "%s};\n", v->shape.rank ? "" : "0");
	}
	cb_printf(b, "static const vibee_io_desc m_%ss[] = {\n", pre);
	for (uint32_t i = 0; i < cnt; i++) {
		const Value *v = &g->val[ids[i]];
		char t[32];
		snprintf(t, sizeof t, "%s%u", pre, i);
		cb_puts(b, "\t{");
		if (v->name)
			lit(b, v->name);
		else
			cb_printf(b, "\"%s\"", t);
		cb_printf(b, ", %d, %d, %s_dims, %s_names},\n", v->dt, v->shape.rank, t, t);
	}
	if (!cnt)
		cb_puts(b, "\t{0},\n");
	cb_puts(b, "};\n");
}

/* The profiler's kernel table (runtime/kprof.h): node name, op, kind and
 * first output of every kernel, in kernel order. */
static void prof_table(CBuf *b, const KProg *p)
{
	const Graph *g = p->g;
	cb_printf(b, "static const kprof_kern m_kprof[%d] = {\n", p->nk ? p->nk : 1);
	for (int ki = 0; ki < p->nk; ki++) {
		const Kernel *k = &p->k[ki];
		const Node *n = &g->node[k->node];
		char sh[512], t[256];
		int o = 0;
		if (n->nout > 0 && n->out[0] != IR_NONE) {
			const Value *v = &g->val[n->out[0]];
			o = snprintf(sh, sizeof sh, "%s[", dt_name(v->dt));
			for (int i = 0; i < v->shape.rank && o < (int)sizeof sh; i++)
				o += snprintf(sh + o, sizeof sh - (size_t)o, "%s%s", i ? "," : "",
				              ir_dim_str(g, v->shape.d[i], t, sizeof t));
			if (o < (int)sizeof sh)
				snprintf(sh + o, sizeof sh - (size_t)o, "]");
		} else {
			snprintf(sh, sizeof sh, "-");
		}
		const char *kind = k->kind == KK_LIB ? "lib" : k->kind != KK_CALL ? "loop" :
		                   cg_fused_kernel_node(g, n) ? "lib" : "call";
		cb_puts(b, "\t{");
		lit(b, n->name ? n->name : "");
		cb_puts(b, ", ");
		lit(b, ir_op_name(n->op));
		cb_printf(b, ", \"%s\", ", kind);
		lit(b, sh);
		cb_puts(b, "},\n");
	}
	if (!p->nk)
		cb_puts(b, "\t{0},\n");
	cb_puts(b, "};\n\n");
}

int cg_emit_c(CBuf *b, const KProg *p, const Plan *pl, const EmitInfo *ei, Diag *d)
{
	Graph *g = p->g;
	char src[256], name[256];
	cg_safe(g->source, src, sizeof src);
	cb_printf(b, "/* Generated by vibeec %s from %s. Do not edit. */\n", VIBEE_VERSION, src);
	cb_puts(b, "#include <math.h>\n#include <stdarg.h>\n#include <stdint.h>\n#include <stdio.h>\n"
	        "#include <stdlib.h>\n#include <string.h>\n#include \"ir/kern.h\"\n"
	        "#include \"runtime/kpool.h\"\n#include \"runtime/kops.h\"\n#include \"runtime/vibee.h\"\n\n");
	cb_puts(b, cg_fused_includes);
	cb_puts(b, "#include \"runtime/kdyn.h\"\n#include \"runtime/kcf.h\"\n");
	cb_puts(b, "#include \"runtime/kprof.h\"\n");
	if (ei->gpu)
		cb_puts(b, "#include \"runtime/vdev.h\"\n\n");
	cb_puts(b, "extern const unsigned char vibee_weights[] __attribute__((visibility(\"hidden\")));\n\n");
	cb_printf(b, "struct vibee_ctx {\n\tkpool *pool;\n\tkarena arena;\n\tunsigned char *ws;\n"
	          "\tint bad;\n\tchar *err;\n\tsize_t errlen;\n\tvoid *buf[%u];\n\tint64_t dv[%u];\n",
	          pl->nslot ? pl->nslot : 1, g->ndim ? g->ndim : 1);
	if (ei->gpu)
		cg_gpu_ctx_fields(b, pl);
	cb_puts(b, "\tkprof *prof;   /* VIBEE_PROFILE: NULL when off */\n");
	cb_puts(b, "};\n\n");
	cb_puts(b, "static int vfail(struct vibee_ctx *r, int code, const char *fmt, ...)\n{\n"
	        "\tif (r->err && r->errlen) {\n\t\tva_list ap;\n\t\tva_start(ap, fmt);\n"
	        "\t\tvsnprintf(r->err, r->errlen, fmt, ap);\n\t\tva_end(ap);\n\t}\n\treturn code;\n}\n\n");
	cg_render_prelude(b);
	if (ei->gpu)
		cg_gpu_helpers(b, ei->gpu);
	eval_dims_fn(b, g);
	for (int ki = 0; ki < p->nk; ki++) {
		if (p->k[ki].kind == KK_CALL) {
			int rc = call_kernel(b, p, pl, ki, d);
			if (rc)
				return rc;
		} else if (p->k[ki].kind == KK_LIB) {
			int rc = cg_emit_lib(b, p, pl, ki, d);
			if (rc)
				return rc;
		} else if (ei->gpu) {
			cg_gpu_launch_fn(b, p, pl, ei->gpu, ki);
		} else {
			cg_render_kernel(b, p, ki, pl->slot);
		}
	}
	/* create / destroy */
	uint64_t ws = pl->ws_bytes ? pl->ws_bytes : 64;
	bool prof = !ei->gpu && !ei->no_profile;
	if (prof)
		prof_table(b, p);
	cb_puts(b, "static void m_destroy(struct vibee_ctx *r)\n{\n\tif (!r)\n\t\treturn;\n");
	if (prof)
		cb_puts(b, "\tkprof_close(r->prof, r->pool);\n");
	if (ei->gpu)
		cg_gpu_destroy(b, pl);
	cb_puts(b, "\tkpool_free(r->pool);\n\tkarena_free(&r->arena);\n\tfree(r->ws);\n\tfree(r);\n}\n\n");
	cb_puts(b, "static int m_create(struct vibee_ctx **pr, const vibee_options *opt, char *err, "
	        "size_t errlen)\n{\n");
	if (ei->check_avx2)
		cb_puts(b, "\t__builtin_cpu_init();\n\tif (!__builtin_cpu_supports(\"avx2\") || "
		        "!__builtin_cpu_supports(\"fma\")) {\n\t\tif (err && errlen)\n\t\t\tsnprintf(err, "
		        "errlen, \"this model needs an x86-64-v3 CPU (AVX2, FMA)\");\n\t\treturn 4;\n\t}\n");
	cb_printf(b, "\tstruct vibee_ctx *r = calloc(1, sizeof *r);\n"
	          "\tif (!r || !(r->ws = aligned_alloc(64, %lluULL)) ||\n"
	          "\t    !(r->pool = kpool_new(opt ? opt->nthreads : 0))) {\n"
	          "\t\tm_destroy(r);\n\t\tif (err && errlen)\n\t\t\tsnprintf(err, errlen, \"out of memory"
	          " (workspace %llu bytes)\");\n\t\treturn %d;\n\t}\n",
	          (unsigned long long)((ws + 63) & ~63ull), (unsigned long long)ws, 4);
	for (uint32_t s = 0; s < pl->nslot; s++) {
		if (pl->kind[s] == SL_CONST)
			cb_printf(b, "\tr->buf[%u] = (void *)(vibee_weights + %lluULL);\n", s,
			          (unsigned long long)pl->off[s]);
		else if (pl->kind[s] == SL_STATIC)
			cb_printf(b, "\tr->buf[%u] = r->ws + %lluULL;\n", s, (unsigned long long)pl->off[s]);
	}
	if (ei->gpu)
		cg_gpu_create(b, p, pl, ei->gpu);
	if (prof) {
		cb_puts(b, "\tr->prof = kprof_open(");
		lit(b, g->name ? g->name : "");
		cb_printf(b, ", m_kprof, %d);\n", p->nk);
	}
	cb_puts(b, "\t*pr = r;\n\treturn 0;\n}\n\n");
	/* run */
	cb_puts(b, "static int m_run(struct vibee_ctx *r, const vibee_tensor *in, vibee_tensor *out, "
	        "char *err, size_t errlen)\n{\n\tint rc;\n\t(void)rc;\n"
	        "\tr->err = err;\n\tr->errlen = errlen;\n\tr->bad = 0;\n\tkarena_reset(&r->arena);\n");
	cb_printf(b, "\tfor (int i = 0; i < %u; i++)\n\t\tr->dv[i] = -1;\n", g->ndim ? g->ndim : 1);
	for (uint32_t i = 0; i < g->nin; i++) {
		const Value *v = &g->val[g->in[i]];
		for (int k = 0; k < v->shape.rank; k++)
			if (ir_dim_is_sym(g, v->shape.d[k]))
				cb_printf(b, "\tr->dv[%u] = in[%u].dims[%d];\n", DIM_IDX(v->shape.d[k]), i, k);
		if (pl->slot[g->in[i]] != SLOT_NONE)
			cb_printf(b, "\tr->buf[%u] = in[%u].data;\n", pl->slot[g->in[i]], i);
	}
	cb_puts(b, "\teval_dims(r->dv);\n");
	if (prof)
		cb_puts(b, "\tif (r->prof)\n\t\tkprof_run_begin(r->prof);\n");
	if (ei->gpu)
		cg_gpu_run_begin(b, p, pl);
	uint32_t sq_next = 0;
	for (int ki = 0; ki < p->nk; ki++) {
		const Kernel *k = &p->k[ki];
		const Node *n = &g->node[k->node];
		char nm[128];
		squeeze_checks(b, g, &sq_next, k->node);
		cg_safe(n->name, nm, sizeof nm);
		/* run-time sized outputs of this kernel */
		for (uint32_t s = 0; s < pl->nslot; s++) {
			if (pl->kind[s] != SL_DYN || pl->defk[s] != ki)
				continue;
			const Value *v = &g->val[pl->owner[s]];
			cb_printf(b, "\t{\n\t\tint64_t n = %zu;\n", dt_size(v->dt) ? dt_size(v->dt) : 1);
			for (int j = 0; j < v->shape.rank; j++) {
				cb_puts(b, "\t\tn = n < 0 || ");
				dimc(b, v->shape.d[j]);
				cb_puts(b, " < 0 ? -1 : n * ");
				dimc(b, v->shape.d[j]);
				cb_puts(b, ";\n");
			}
			cb_printf(b, "\t\tr->buf[%u] = n < 0 ? NULL : karena_alloc(&r->arena, (size_t)n);\n", s);
			if (k->kind != KK_CALL)
				cb_printf(b, "\t\tif (!r->buf[%u])\n\t\t\treturn vfail(r, 5, \"node '%s' (%s): "
				          "output size unknown or out of memory\");\n", s, nm, ir_op_name(n->op));
			cb_puts(b, "\t}\n");
		}
		if ((k->kind == KK_CALL || k->kind == KK_LIB) && ei->gpu) {   /* host kernel: sync around it */
			cg_gpu_before_call(b, p, pl, ki);
			cb_printf(b, "\tif ((rc = k%d(r)))\n\t\treturn rc;\n", ki);
			cg_gpu_after_call(b, p, pl, ki);
		} else if (k->kind == KK_CALL || k->kind == KK_LIB || ei->gpu) {
			if (prof)
				cb_puts(b, "\tif (r->prof)\n\t\tkprof_begin(r->prof, r->pool);\n");
			cb_printf(b, "\tif ((rc = k%d(r)))\n\t\treturn rc;\n", ki);
			if (prof)
				cb_printf(b, "\tif (r->prof)\n\t\tkprof_end(r->prof, %d, r->pool);\n", ki);
		} else {
			if (prof)
				cb_puts(b, "\tif (r->prof)\n\t\tkprof_begin(r->prof, r->pool);\n");
			cb_printf(b, "\tk%d(r);\n", ki);
			if (prof)
				cb_printf(b, "\tif (r->prof)\n\t\tkprof_end(r->prof, %d, r->pool);\n", ki);
			bool chk = false;
			for (int e = 0; e < k->nx; e++)
				chk |= k->x[e].op == KX_CHECK;
			if (chk)
				cb_printf(b, "\tif (r->bad)\n\t\treturn vfail(r, 5, \"node '%s' (%s): index out "
				          "of range\");\n", nm, ir_op_name(n->op));
		}
	}
	squeeze_checks(b, g, &sq_next, g->nnode);
	if (ei->gpu)
		cg_gpu_before_outputs(b, p, pl);
	for (uint32_t i = 0; i < g->nout; i++) {
		uint32_t v = g->out[i];
		const Value *x = &g->val[v];
		uint32_t s = pl->slot[v];
		cb_printf(b, "\tout[%u].dtype = %d;\n\tout[%u].rank = %d;\n", i, x->dt, i, x->shape.rank);
		for (int j = 0; j < x->shape.rank; j++) {
			cb_printf(b, "\tout[%u].dims[%d] = ", i, j);
			dimc(b, x->shape.d[j]);
			cb_puts(b, ";\n");
		}
		if (pl->kind[s] == SL_INPUT || pl->kind[s] == SL_CONST) {   /* copy: outputs are ours */
			cb_printf(b, "\t{\n\t\tsize_t n = %zu;\n\t\tfor (int j = 0; j < %d; j++)\n"
			          "\t\t\tn *= (size_t)out[%u].dims[j];\n"
			          "\t\tout[%u].data = karena_alloc(&r->arena, n ? n : 1);\n"
			          "\t\tif (!out[%u].data)\n\t\t\treturn vfail(r, 4, \"out of memory\");\n"
			          "\t\tif (n)\n\t\t\tmemcpy(out[%u].data, r->buf[%u], n);\n\t}\n",
			          dt_size(x->dt) ? dt_size(x->dt) : 1, x->shape.rank, i, i, i, i, s);
		} else {
			cb_printf(b, "\tout[%u].data = r->buf[%u];\n", i, s);
		}
	}
	if (ei->gpu)
		cg_gpu_after_outputs(b, p);
	if (prof)
		cb_puts(b, "\tif (r->prof)\n\t\tkprof_run_end(r->prof);\n");
	cb_puts(b, "\treturn 0;\n}\n\n");
	if (ei->gpu)
		cg_gpu_run_device(b, p);
	io_tables(b, g, 0);
	io_tables(b, g, 1);
	cg_safe(g->name ? g->name : "", name, sizeof name);
	cb_printf(b, "__attribute__((visibility(\"default\"))) const vibee_model_desc vibee_model = {\n"
	          "\t.abi_version = VIBEE_ABI_VERSION,\n\t.compiler_version = \"vibeec %s\",\n"
	          "\t.target = \"%s\",\n\t.isa = \"%s\",\n\t.name = \"%s\",\n"
	          "\t.ninputs = %u,\n\t.noutputs = %u,\n\t.inputs = m_ins,\n\t.outputs = m_outs,\n"
	          "\t.workspace_bytes = %lluULL,\n\t.weight_bytes = %lluULL,\n"
	          "\t.create = m_create,\n\t.run = m_run,\n\t.destroy = m_destroy,\n%s};\n",
	          VIBEE_VERSION, ei->target, ei->isa, name, g->nin, g->nout,
	          (unsigned long long)pl->ws_bytes, (unsigned long long)pl->w_bytes,
	          ei->gpu ? CG_GPU_DESC_DEVICE : "");
	if (b->oom)
		return diag_set(d, E_MODEL, "out of memory while generating C");
	return E_OK;
}
