/* C rendering of library kernels (KK_LIB): each becomes
 * `static int k<N>(struct vibee_ctx *r)` that binds its buffers and dims
 * and calls kgemm / kops (runtime/kgemm.h, runtime/kops.h). Batched
 * products run their batch loop in the thread pool when each thread gets
 * whole products, else hand the pool to kgemm. */
#include <math.h>
#include <string.h>
#include "lib.h"
#include "render.h"

void lib_dimc(CBuf *b, Dim d)
{
	if (d >= 0)
		cb_printf(b, "%lldLL", (long long)d);
	else
		cb_printf(b, "r->dv[%u]", DIM_IDX(d));
}

void lib_bind(CBuf *b, const Plan *pl, const char *ty, const char *nm, uint32_t v)
{
	if (v == IR_NONE)
		cb_printf(b, "\t%s%s = NULL;\n", ty, nm);
	else
		cb_printf(b, "\t%s%s = (%s)r->buf[%u];\n", ty, nm, ty, pl->slot[v]);
}

/* Y[i, j] (rows x N) = sum of the Gemm C term and the residual; beta = 1. */
static void prefill(CBuf *b, const Graph *g, const Node *n, const KLib *lb, const LibMM *m)
{
	bool cterm = lb->iarg[0] == 2;
	if (!cterm && lb->res == IR_NONE)
		return;
	cb_puts(b, "\tfor (int64_t i = 0; i < rows; i++)\n\t\tfor (int64_t j = 0; j < N; j++) {\n"
	        "\t\t\tfloat v = 0.0f;\n");
	if (cterm) {
		const Shape *cs = &g->val[lb->bias].shape;
		Dim cm = cs->rank == 2 ? cs->d[0] : 1, cn = cs->rank >= 1 ? cs->d[cs->rank - 1] : 1;
		cb_puts(b, "\t\t\tv += (float)");
		cb_printf(b, "%.17g * Cb[", ir_attr_f(n, "beta", 1.0));
		if (cm != 1) {
			cb_puts(b, "i * ");
			lib_dimc(b, cn);
			cb_puts(b, cn != 1 ? " + " : "");
		}
		cb_puts(b, cn != 1 ? "j" : (cm != 1 ? "" : "0"));
		cb_puts(b, "];\n");
	}
	if (lb->res != IR_NONE)
		cb_puts(b, "\t\t\tv += R[i * N + j];\n");
	cb_puts(b, "\t\t\tY[i * N + j] = v;\n\t\t}\n\tbeta = 1.0f;\n");
	(void)m;
}

static int emit_gemm(CBuf *b, const KProg *p, const Plan *pl, int ki, Diag *d)
{
	Graph *g = p->g;
	const Kernel *k = &p->k[ki];
	const Node *n = &g->node[k->node];
	const KLib *lb = &k->lib;
	LibMM m;
	if (!lib_mm_shape(g, n, &m))
		return diag_set(d, E_MODEL, "internal: library GEMM of node %u no longer applies", k->node);
	char nm[128];
	cg_safe(n->name, nm, sizeof nm);
	bool packed = lb->packed != IR_NONE;
	if (!m.fold) {
		cb_printf(b, "struct k%d_s { struct vibee_ctx *r; const float *A, *B; float *Y; kpool *pool; "
		          "kgemm_epilogue ep; float beta; };\n", ki);
		cb_printf(b, "static void k%d_b(void *arg, int64_t lo, int64_t hi)\n{\n"
		          "\tstruct k%d_s *s = arg;\n\tstruct vibee_ctx *r = s->r;\n\t(void)r;\n", ki, ki);
		cb_puts(b, "\tconst int64_t M = ");
		lib_dimc(b, m.M);
		cb_puts(b, ", N = ");
		lib_dimc(b, m.N);
		cb_puts(b, ", K = ");
		lib_dimc(b, m.K);
		cb_puts(b, ";\n\tfor (int64_t t = lo; t < hi; t++) {\n"
		        "\t\tint64_t rest = t, ao = 0, bo = 0, id;\n\t\t(void)rest;\n\t\t(void)id;\n");
		for (int dd = m.nb - 1; dd >= 0; dd--) {
			cb_puts(b, "\t\tid = rest % ");
			lib_dimc(b, m.bext[dd]);
			cb_puts(b, ";\n\t\trest /= ");
			lib_dimc(b, m.bext[dd]);
			cb_puts(b, ";\n");
			if (m.ast[dd] != 0) {
				cb_puts(b, "\t\tao += id * ");
				lib_dimc(b, m.ast[dd]);
				cb_puts(b, ";\n");
			}
			if (m.bst[dd] != 0) {
				cb_puts(b, "\t\tbo += id * ");
				lib_dimc(b, m.bst[dd]);
				cb_puts(b, ";\n");
			}
		}
		cb_puts(b, "\t\tkgemm_f32_ex(s->pool, M, N, K, 1.0f, s->A + ao, K, 0, s->B + bo, N, 0, s->beta, "
		        "s->Y + t * M * N, N, &s->ep);\n\t}\n}\n");
	}
	cb_printf(b, "/* %s '%s' (kgemm%s) */\nstatic int k%d(struct vibee_ctx *r)\n{\n",
	          ir_op_name(n->op), nm, packed ? ", packed weights" : "", ki);
	lib_bind(b, pl, "const float *", "A", m.a);
	lib_bind(b, pl, "const float *", "B", packed ? lb->packed : m.b);
	lib_bind(b, pl, "const float *", "Cb", lb->bias);
	lib_bind(b, pl, "const float *", "R", lb->res);
	lib_bind(b, pl, "float *", "Y", m.y);
	cb_puts(b, "\t(void)Cb;\n\t(void)R;\n\tconst int64_t M = ");
	lib_dimc(b, m.M);
	cb_puts(b, ", N = ");
	lib_dimc(b, m.N);
	cb_puts(b, ", K = ");
	lib_dimc(b, m.K);
	cb_puts(b, ";\n\t(void)M;\n");
	if (m.fold) {
		cb_puts(b, "\tconst int64_t rows = ");
		lib_dimc(b, m.rows);
		cb_puts(b, ";\n");
	} else {
		cb_puts(b, "\tint64_t nbt = 1;\n");
		for (int dd = 0; dd < m.nb; dd++) {
			cb_puts(b, "\tnbt *= ");
			lib_dimc(b, m.bext[dd]);
			cb_puts(b, ";\n");
		}
		cb_puts(b, "\tconst int64_t rows = nbt * M;\n");
	}
	/* a residual alone (no Gemm C term) is read by kgemm's store (R may be
	 * Y itself when planned in place); else the prefill sums them into Y */
	bool epres = m.fold && lb->res != IR_NONE && lb->iarg[0] != 2;
	cb_printf(b, "\tkgemm_epilogue ep = {%s, (kgemm_act)%d, %s, N};\n\tfloat beta = 0.0f;\n",
	          lb->iarg[0] == 1 ? "Cb" : "NULL", lb->act, epres ? "R" : "NULL");
	if (!epres)
		prefill(b, g, n, lb, &m);
	if (m.fold) {
		const char *lda = m.ta ? "M" : "K", *ldb = m.tb ? "K" : "N";
		if (packed)
			cb_printf(b, "\tkgemm_f32_packed_ex(r->pool, rows, N, K, (float)%.17g, A, %s, %d, B, beta, Y, N, "
			          "&ep);\n", m.alpha, lda, m.ta);
		else
			cb_printf(b, "\tkgemm_f32_ex(r->pool, rows, N, K, (float)%.17g, A, %s, %d, B, %s, %d, beta, Y, N, "
			          "&ep);\n", m.alpha, lda, m.ta, ldb, m.tb);
	} else {
		cb_printf(b, "\tstruct k%d_s s = {r, A, B, Y, NULL, ep, beta};\n"
		          "\tif (nbt > 1 && kpool_threads(r->pool) > 1 && nbt >= kpool_threads(r->pool) &&\n"
		          "\t    2.0 * (double)M * (double)N * (double)K * (double)nbt >= 2e6)\n"
		          "\t\tkpool_for(r->pool, nbt, 1, k%d_b, &s);\n"
		          "\telse {\n\t\ts.pool = r->pool;\n\t\tk%d_b(&s, 0, nbt);\n\t}\n", ki, ki, ki);
	}
	cb_puts(b, "\treturn 0;\n}\n\n");
	return E_OK;
}

static int emit_conv(CBuf *b, const KProg *p, const Plan *pl, int ki, Diag *d)
{
	Graph *g = p->g;
	const Kernel *k = &p->k[ki];
	const Node *n = &g->node[k->node];
	const KLib *lb = &k->lib;
	LibConv c;
	if (!lib_conv_shape_dyn(g, n, &c))
		return diag_set(d, E_MODEL, "internal: library Conv of node %u no longer applies", k->node);
	char nm[128];
	cg_safe(n->name, nm, sizeof nm);
	cb_printf(b, "/* %s '%s' (implicit GEMM) */\nstatic int k%d(struct vibee_ctx *r)\n{\n",
	          ir_op_name(n->op), nm, ki);
	lib_bind(b, pl, "const float *", "X", c.x);
	lib_bind(b, pl, "const float *", "W", lb->packed != IR_NONE && !c.dyn ? IR_NONE : c.w);
	lib_bind(b, pl, "const float *", "Wp", lb->packed);
	lib_bind(b, pl, "const float *", "Cb", lb->bias);
	lib_bind(b, pl, "const float *", "R", lb->res);
	lib_bind(b, pl, "float *", "Y", c.y);
	cb_puts(b, "\tconst int64_t p[KC_NP] = {");
	lib_dimc(b, c.n);
	cb_printf(b, ", %lld, ", (long long)c.c);
	lib_dimc(b, c.vh);
	cb_puts(b, ", ");
	lib_dimc(b, c.vw);
	cb_printf(b, ", %lld, %lld, %lld, ", (long long)c.m, (long long)c.kh, (long long)c.kw);
	lib_dimc(b, c.voh);
	cb_puts(b, ", ");
	lib_dimc(b, c.vow);
	cb_printf(b, ", %lld, %lld, %lld, %lld, %lld, %lld, %lld};\n", (long long)c.sh,
	          (long long)c.sw, (long long)c.pt, (long long)c.pl, (long long)c.dh, (long long)c.dw,
	          (long long)c.grp);
	cb_printf(b, "\tsize_t ns = kconv2d_scratch(p);\n"
	          "\tvoid *scr = ns ? karena_alloc(&r->arena, ns) : NULL;\n"
	          "\tif (ns && !scr)\n\t\treturn vfail(r, 4, \"node '%s' (%s): out of memory\");\n"
	          "\tkconv2d_f32(r->pool, p, X, W, Wp, Cb, R, Y, (kgemm_act)%d, scr);\n\treturn 0;\n}\n\n",
	          nm, ir_op_name(n->op), lb->act);
	return E_OK;
}

static int emit_layernorm(CBuf *b, const KProg *p, const Plan *pl, int ki)
{
	Graph *g = p->g;
	const Kernel *k = &p->k[ki];
	const Node *n = &g->node[k->node];
	char nm[128];
	cg_safe(n->name, nm, sizeof nm);
	const Shape *xs = &g->val[n->in[0]].shape;
	cb_printf(b, "/* LayerNormalization '%s' (kops) */\nstatic int k%d(struct vibee_ctx *r)\n{\n",
	          nm, ki);
	lib_bind(b, pl, "const float *", "X", n->in[0]);
	lib_bind(b, pl, "const float *", "S", n->in[1]);
	lib_bind(b, pl, "const float *", "Bb", n->nin > 2 ? n->in[2] : IR_NONE);
	lib_bind(b, pl, "float *", "Y", n->out[0]);
	cb_puts(b, "\tint64_t rows = 1;\n");
	for (int i = 0; i < k->lib.iarg[0]; i++) {
		cb_puts(b, "\trows *= ");
		lib_dimc(b, xs->d[i]);
		cb_puts(b, ";\n");
	}
	cb_printf(b, "\tklayernorm_f32(r->pool, rows, %lldLL, X, S, Bb, (float)%.17g, Y);\n\treturn 0;\n}\n\n",
	          (long long)k->lib.iarg[1], ir_attr_f(n, "epsilon", 1e-5));
	return E_OK;
}

static int emit_pool(CBuf *b, const KProg *p, const Plan *pl, int ki, Diag *d)
{
	Graph *g = p->g;
	const Kernel *k = &p->k[ki];
	const Node *n = &g->node[k->node];
	LibConv c;
	if (!lib_pool_shape(g, n, &c))
		return diag_set(d, E_MODEL, "internal: library pool of node %u no longer applies", k->node);
	char nm[128];
	cg_safe(n->name, nm, sizeof nm);
	cb_printf(b, "/* %s '%s' (kops) */\nstatic int k%d(struct vibee_ctx *r)\n{\n",
	          ir_op_name(n->op), nm, ki);
	lib_bind(b, pl, "const float *", "X", c.x);
	lib_bind(b, pl, "float *", "Y", c.y);
	if (c.dyn) {   /* dims read from the run */
		const Shape *xs = &g->val[c.x].shape;
		cb_puts(b, "\tconst int64_t planes = ");
		lib_dimc(b, xs->d[0]);
		cb_puts(b, " * ");
		lib_dimc(b, xs->d[1]);
		cb_puts(b, ", H = ");
		lib_dimc(b, c.vh);
		cb_puts(b, ", W = ");
		lib_dimc(b, c.vw);
		cb_puts(b, ";\n");
		if (n->op == OP_GlobalAveragePool) {
			cb_puts(b, "\tkgavgpool_f32(r->pool, planes, H * W, X, Y);\n\treturn 0;\n}\n\n");
			return E_OK;
		}
		cb_printf(b, "\tconst int64_t q[KP_NQ] = {planes, H, W, %lld, %lld, ", (long long)c.kh,
		          (long long)c.kw);
		lib_dimc(b, c.voh);
		cb_puts(b, ", ");
		lib_dimc(b, c.vow);
		cb_printf(b, ", %lld, %lld, %lld, %lld, %lld, %lld};\n"
		          "\tkmaxpool2d_f32(r->pool, q, X, Y);\n\treturn 0;\n}\n\n", (long long)c.sh,
		          (long long)c.sw, (long long)c.pt, (long long)c.pl, (long long)c.dh,
		          (long long)c.dw);
		return E_OK;
	}
	if (n->op == OP_GlobalAveragePool) {
		cb_printf(b, "\tkgavgpool_f32(r->pool, %lldLL, %lldLL, X, Y);\n\treturn 0;\n}\n\n",
		          (long long)c.n, (long long)(c.h * c.wd));
		return E_OK;
	}
	cb_printf(b, "\tstatic const int64_t q[KP_NQ] = {%lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, "
	          "%lld, %lld, %lld, %lld, %lld};\n", (long long)c.n, (long long)c.h, (long long)c.wd,
	          (long long)c.kh, (long long)c.kw, (long long)c.oh, (long long)c.ow, (long long)c.sh,
	          (long long)c.sw, (long long)c.pt, (long long)c.pl, (long long)c.dh, (long long)c.dw);
	cb_puts(b, "\tkmaxpool2d_f32(r->pool, q, X, Y);\n\treturn 0;\n}\n\n");
	return E_OK;
}

int cg_emit_lib(CBuf *b, const KProg *p, const Plan *pl, int ki, Diag *d)
{
	switch (p->k[ki].lib.fn) {
	case KL_GEMM: return emit_gemm(b, p, pl, ki, d);
	case KL_CONV: return emit_conv(b, p, pl, ki, d);
	case KL_LAYERNORM: return emit_layernorm(b, p, pl, ki);
	case KL_POOL: return emit_pool(b, p, pl, ki, d);
	case KL_NCHWC: return cg_emit_nchwc(b, p, pl, ki, d);
	}
	return diag_set(d, E_MODEL, "internal: unknown library kernel %d", p->k[ki].lib.fn);
}
