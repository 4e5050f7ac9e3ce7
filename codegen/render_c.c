/* The C renderer: kernel IR -> C99. A kernel becomes `static void k<N>(ctx)`;
 * each top-level thread loop becomes a body function run through the
 * kernel library's kpool_for. Expressions render with typed helpers from
 * the prelude (NaN-propagating max, guarded integer division, ...). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "render.h"

const char *cg_ctype(int dt) { return cg_tyname(dt, false); }

/* compute type as C */
static const char *cty(int ty) { return ty == DT_BOOL ? "int" : cg_ctype(ty); }

static const CgSpell spell_c = {cg_ctype, "int", "f", "NAN", "INFINITY", "((int64_t)%lldLL)",
	"((uint64_t)%lluULL)", "(-9223372036854775807LL - 1)", "", "r", false};

void cg_render_prelude(CBuf *b)
{
	cg_prelude_helpers(b, "static inline", &spell_c);
	cb_puts(b,
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
	CgExpr x;        /* b, p, k: where and what is rendered */
	const uint32_t *slot;
	int id;          /* kernel number */
	int npar;        /* parallel bodies emitted */
} R;

static void ex(R *r, int e) { cg_expr(&r->x, e); }

static void indent(CBuf *b, int d)
{
	for (int i = 0; i < d; i++)
		cb_puts(b, "\t");
}

static void stmts(R *r, int s, int depth, bool top);

/* A serial loop whose whole body is one float sum into a private scalar
 * (l[c] = l[c] + v, c constant): the innermost loop of a ReduceSum/Mean/L2
 * /SumSquare. C's strict left-to-right order keeps GCC from vectorising it,
 * so it is rendered over a register copy with an OpenMP simd reduction
 * (-fopenmp-simd): partial sums per lane, added up at the end. */
static bool sum_loop(const R *r, int s)
{
	const KStmt *st = &r->x.k->s[s];
	if (st->op != KS_LOOP || st->par != KP_SERIAL || st->body < 0)
		return false;
	const KStmt *a = &r->x.k->s[st->body];
	if (a->next >= 0 || a->op != KS_ACC || !a->local || a->fn != KB_ADD)
		return false;
	int ty = r->x.k->local[a->tgt].ty;
	return (ty == DT_F32 || ty == DT_F64) && r->x.k->x[a->idx].op == KX_CONST;
}

static void render_sum_loop(R *r, int s, int depth)
{
	const KStmt *st = &r->x.k->s[s], *a = &r->x.k->s[st->body];
	CBuf *b = r->x.b;
	indent(b, depth);
	cb_printf(b, "{\n");
	indent(b, depth + 1);
	cb_printf(b, "%s rs%d = l%d[", cty(r->x.k->local[a->tgt].ty), st->var, a->tgt);
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
	const KStmt *st = &r->x.k->s[s];
	CBuf *b = r->x.b;
	switch (st->op) {
	case KS_LOOP: {
		const KExpr *lo = &r->x.k->x[st->lo];
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
	case KS_STORE: case KS_ACC:
		indent(b, depth);
		cg_expr_store(&r->x, st);
		return;
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
	for (; s >= 0; s = r->x.k->s[s].next)
		stmt(r, s, depth, top);
}

/* Declarations every function of the kernel starts with. */
static void decls(R *r)
{
	const Kernel *k = r->x.k;
	CBuf *b = r->x.b;
	for (int i = 0; i < k->nparam; i++) {
		uint32_t v = k->param[i].value;
		const char *t = cg_ctype(r->x.p->g->val[v].dt);
		cb_printf(b, "\t%s%s *restrict p%d = (%s%s *)r->buf[%u]; (void)p%d;\n",
		          k->param[i].write ? "" : "const ", t, i, k->param[i].write ? "" : "const ", t,
		          r->slot[v], i);
	}
	/* dims: every dim-table entry the kernel reads */
	uint32_t nd = r->x.p->g->ndim;
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
	R r = {{b, p, k, &spell_c}, slot, ki, 0};
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
