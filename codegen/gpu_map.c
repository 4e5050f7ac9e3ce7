/* Mapping loop kernels onto GPU grids. A loop kernel's top-level statements
 * are cut into launches: each top-level thread loop (iterations independent,
 * as the CPU thread pool already relies on) becomes a 1-D grid of blocks of
 * `threads` work-items, one iteration per work-item, guarded against the
 * ragged end:
 *     for b in [0, ceil(n/T)) gpu.block: for t in [0, T) gpu.thread:
 *         if (b*T + t < n): body[i := b*T + t]
 * (perfectly nested independent map loops below it are collapsed into the
 * same index space). Runs of other top-level statements become one single-work-item launch
 * (correct, not fast: the kernel is serial by construction). Kernels that a
 * GPU-aware lowering already tagged with gpu.block/gpu.thread loops at the
 * top of their nest are taken as they are. */
#include <stdlib.h>
#include <string.h>
#include "gpu.h"

#define GROW(arr, n, cap)                                                  \
	do {                                                                   \
		if ((n) == (cap)) {                                                \
			int nc_ = (cap) ? 2 * (cap) : 16;                              \
			void *np_ = realloc((arr), (size_t)nc_ * sizeof *(arr));       \
			if (!np_)                                                      \
				return -1;                                                 \
			(arr) = np_;                                                   \
			(cap) = nc_;                                                   \
		}                                                                  \
	} while (0)

static void *dup(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);
	if (q && n)
		memcpy(q, p, n);
	return q;
}

/* A deep copy of kernel src (arrays sized exactly; kir_* grows them). */
static bool copy_kernel(Kernel *dst, const Kernel *src)
{
	*dst = *src;
	dst->param = dup(src->param, (size_t)src->nparam * sizeof *src->param);
	dst->local = dup(src->local, (size_t)src->nlocal * sizeof *src->local);
	dst->x = dup(src->x, (size_t)src->nx * sizeof *src->x);
	dst->s = dup(src->s, (size_t)src->ns * sizeof *src->s);
	dst->capparam = src->nparam;
	dst->caplocal = src->nlocal;
	dst->capx = src->nx;
	dst->caps = src->ns;
	return dst->param && dst->local && dst->x && dst->s;
}

static void free_kernel(Kernel *k)
{
	free(k->param);
	free(k->local);
	free(k->x);
	free(k->s);
}

static bool is_const(const Kernel *k, int e, int64_t v)
{
	return e >= 0 && k->x[e].op == KX_CONST && !dt_is_float(k->x[e].ty) && k->x[e].i == v;
}

static bool parallel_top(const Kernel *k, int s)
{
	const KStmt *st = &k->s[s];
	return st->op == KS_LOOP && st->par == KP_THREAD && st->step == 1 && is_const(k, st->lo, 0);
}

static int ix(Kernel *k, int op, int fn, int ty, int a, int b)
{
	return kir_x(k, (KExpr){.op = (uint8_t)op, .fn = (uint16_t)fn, .ty = (uint8_t)ty, .a = a,
	                        .b = b, .c = -1});
}

/* Only constants, dims and arithmetic of them (no loop variable, no load). */
static bool invariant(const Kernel *k, int e, int depth)
{
	if (e < 0 || depth > 32)
		return false;
	const KExpr *x = &k->x[e];
	if (x->op == KX_CONST || x->op == KX_DIM)
		return true;
	if (x->op == KX_BIN)
		return invariant(k, x->a, depth + 1) && invariant(k, x->b, depth + 1);
	return x->op == KX_CAST && invariant(k, x->a, depth + 1);
}

/* Index expression e as coef * v + rest (v: loop variable var): *coef
 * (-1: not affine in v) and whether rest is a multiple of 4 (*m4). */
static void affine(const Kernel *k, int e, int var, int depth, int64_t *coef, bool *m4)
{
	*coef = -1;
	*m4 = false;
	if (e < 0 || depth > 48)
		return;
	const KExpr *x = &k->x[e];
	int64_t ca, cb;
	bool ma, mb;
	switch (x->op) {
	case KX_CONST:
		if (dt_is_float(x->ty))
			return;
		*coef = 0;
		*m4 = x->i % 4 == 0;
		return;
	case KX_DIM:
		*coef = 0;
		*m4 = x->i >= 0 && x->i % 4 == 0;
		return;
	case KX_VAR:
		*coef = x->i == var;
		*m4 = x->i == var;
		return;
	case KX_CAST:
		if (dt_is_float(x->ty))
			return;
		affine(k, x->a, var, depth + 1, coef, m4);
		return;
	case KX_BIN:
		affine(k, x->a, var, depth + 1, &ca, &ma);
		affine(k, x->b, var, depth + 1, &cb, &mb);
		if (ca < 0 || cb < 0)
			return;
		if (x->fn == KB_ADD) {
			*coef = ca + cb;
			*m4 = ma && mb;
		} else if (x->fn == KB_MUL && (ca == 0 || cb == 0)) {
			/* (c v + r) * f: a factor f with no v */
			const KExpr *f = &k->x[ca == 0 ? x->a : x->b];
			bool fm4 = ca == 0 ? ma : mb;
			int64_t c = ca == 0 ? cb : ca;
			bool rm4 = ca == 0 ? mb : ma;
			if (c != 0 && (f->op != KX_CONST || dt_is_float(f->ty)))
				return;
			*coef = c != 0 ? c * f->i : 0;
			*m4 = rm4 || fm4;
		}
		return;
	}
}

/* Vectorise a 1-D mapped elementwise nest (4 elements per work-item,
 * float4 loads and store) when the innermost collapsed loop has a
 * constant extent that is a multiple of 4 and its body is one store of an
 * f32 value at index v + 4m (v: that loop's variable). Loads of f32 at
 * such indices become vector loads (vload[e] = 1). */
static bool vec_ok(const Kernel *c, int inner, unsigned char *vload)
{
	const KStmt *in = &c->s[inner];
	const KExpr *h = &c->x[in->hi];
	if (h->op != KX_CONST || h->i <= 0 || h->i % 4)
		return false;
	int s = in->body;
	if (s < 0 || c->s[s].next >= 0 || c->s[s].op != KS_STORE || c->s[s].local)
		return false;
	const KStmt *st = &c->s[s];
	if (c->g->val[c->param[st->tgt].value].dt != DT_F32)
		return false;
	int64_t co;
	bool m4;
	affine(c, st->idx, in->var, 0, &co, &m4);
	if (co != 1 || !m4)
		return false;
	for (int e = 0; e < c->nx; e++) {
		const KExpr *x = &c->x[e];
		if (x->op != KX_LOAD || c->g->val[c->param[x->i].value].dt != DT_F32)
			continue;
		affine(c, x->a, in->var, 0, &co, &m4);
		vload[e] = co == 1 && m4;
	}
	return true;
}

/* Turn the copy's single top loop `loop` into block/thread loops. A chain
 * of perfectly nested loops under it that ends in a vector loop (nest_build's
 * independent map loops: invariant extents, start 0, step 1) is collapsed
 * into the same 1-D index space: one element per work-item. */
static void map_1d(Kernel *c, int loop, int64_t T, GLaunch *l)
{
	int chain[IR_MAXRANK + 1], nc = 1, use = 1;
	chain[0] = loop;
	for (int s = c->s[loop].body; nc <= IR_MAXRANK && s >= 0 && c->s[s].next < 0; s = c->s[s].body) {
		const KStmt *st = &c->s[s];
		if (st->op != KS_LOOP || st->step != 1 || !is_const(c, st->lo, 0) ||
		    !invariant(c, st->hi, 0) || (st->par != KP_SERIAL && st->par != KP_VECTOR))
			break;
		chain[nc++] = s;
		if (st->par == KP_VECTOR)
			use = nc;
	}
	if (!invariant(c, c->s[loop].hi, 0))
		use = 1;
	nc = use;
	int nx0 = c->nx;
	unsigned char *vload = calloc((size_t)nx0 + 1, 1);
	bool vec = vload && vec_ok(c, chain[nc - 1], vload);
	if (!vec) {
		free(vload);
		vload = NULL;
	}
	int z = kir_const_i(c, 0), tT = kir_const_i(c, T);
	int total = c->s[chain[0]].hi;
	for (int i = 1; i < nc; i++)
		total = ix(c, KX_BIN, KB_MUL, DT_I64, total, c->s[chain[i]].hi);
	c->root = -1;
	int items = total;
	if (vec) {   /* total is a multiple of 4 */
		items = ix(c, KX_BIN, KB_DIV, DT_I64, total, kir_const_i(c, 4));
		c->x[items].c = KX_NONNEG;
	}
	int nb = ix(c, KX_BIN, KB_DIV, DT_I64, ix(c, KX_BIN, KB_ADD, DT_I64, items,
	                                           kir_const_i(c, T - 1)), tT);
	c->x[nb].c = KX_NONNEG;
	int bl = kir_loop(c, -1, z, nb, 1, KP_GPU_BLOCK);
	int tl = kir_loop(c, bl, z, tT, 1, KP_GPU_THREAD);
	int bv = kir_var(c, c->s[bl].var), tv = kir_var(c, c->s[tl].var);
	int gid0 = ix(c, KX_BIN, KB_ADD, DT_I64, ix(c, KX_BIN, KB_MUL, DT_I64, bv, tT), tv);
	int gid = gid0, lane = -1;
	if (vec) {   /* element 4 gid0 + lane, lane: a vector loop of 4 */
		gid0 = ix(c, KX_BIN, KB_MUL, DT_I64, gid0, kir_const_i(c, 4));
		lane = kir_loop(c, -1, z, kir_const_i(c, 4), 1, KP_VECTOR);
		c->s[bl].next = -1;   /* kir_loop put it after bl */
		gid = ix(c, KX_BIN, KB_ADD, DT_I64, gid0, kir_var(c, c->s[lane].var));
	}
	/* gid -> per-loop indices, innermost fastest */
	int val[IR_MAXRANK + 1], rem = gid;
	for (int i = nc - 1; i >= 0; i--) {
		int h = c->s[chain[i]].hi;
		val[i] = i == 0 ? rem : ix(c, KX_BIN, KB_MOD, DT_I64, rem, h);
		if (i > 0)
			rem = ix(c, KX_BIN, KB_DIV, DT_I64, rem, h);
		c->x[val[i]].c = KX_NONNEG;
		c->x[rem].c = KX_NONNEG;
	}
	for (int e = 0; e < nx0; e++)
		for (int i = 0; i < nc; i++)
			if (c->x[e].op == KX_VAR && c->x[e].i == c->s[chain[i]].var) {
				c->x[e] = c->x[val[i]];
				break;
			}
	int cond = ix(c, KX_BIN, KB_LT, DT_BOOL, gid0, total);
	int iff = kir_if(c, tl, cond);
	if (vec) {
		c->s[iff].body = lane;
		c->s[lane].body = c->s[chain[nc - 1]].body;
		/* one flag per expression of the mapped kernel (none new is a load) */
		unsigned char *vl = realloc(vload, (size_t)c->nx + 1);
		if (!vl) {   /* keep the scalar lanes of the vector loop */
			free(vload);
			return;
		}
		vload = vl;
		memset(vload + nx0, 0, (size_t)(c->nx - nx0) + 1);
		l->vload = vload;
		l->vlane = c->s[lane].var;
	} else {
		c->s[iff].body = c->s[chain[nc - 1]].body;
	}
}

/* Grid/block extents from the gpu loops at the top of l->k's nest; every
 * gpu loop must be there. */
static int config(GLaunch *l, Diag *d, const Graph *g)
{
	Kernel *k = &l->k;
	int ng = 0, nt = 0, s = k->root;
	for (int i = 0; i < 3; i++) {
		l->grid[i] = -1;
		l->block[i] = 1;
	}
	while (s >= 0 && k->s[s].next < 0 && k->s[s].op == KS_LOOP &&
	       (k->s[s].par == KP_GPU_BLOCK || k->s[s].par == KP_GPU_THREAD)) {
		const KStmt *st = &k->s[s];
		const Node *n = &g->node[k->node];
		if (st->step != 1 || !is_const(k, st->lo, 0))
			return ir_node_error(d, g, n, E_MODEL, "gpu loop with a start or step the "
			                     "grid mapping does not support");
		if (st->par == KP_GPU_BLOCK) {
			if (nt || ng == 3)
				return ir_node_error(d, g, n, E_MODEL, "gpu.block loop inside a gpu.thread "
				                     "loop, or more than 3");
			l->grid[ng++] = st->hi;
		} else {
			const KExpr *h = &k->x[st->hi];
			if (nt == 3 || h->op != KX_CONST || h->i <= 0 || h->i > 1024)
				return ir_node_error(d, g, n, E_MODEL, "gpu.thread loop needs a constant "
				                     "extent in 1..1024 (at most 3 of them)");
			l->block[nt++] = h->i;
		}
		s = st->body;
	}
	int total = 0;
	for (int i = 0; i < k->ns; i++)
		total += k->s[i].op == KS_LOOP &&
		         (k->s[i].par == KP_GPU_BLOCK || k->s[i].par == KP_GPU_THREAD);
	if (total != ng + nt)
		return ir_node_error(d, g, &g->node[k->node], E_MODEL,
		                     "gpu loops below the top of the loop nest are not supported");
	l->serial = ng == 0 && nt == 0;
	return E_OK;
}

static int add_launch(GProg *gp, const Kernel *k, int ki, int first, int last, int T, Diag *d)
{
	GROW(gp->l, gp->nl, gp->capl);
	GLaunch *l = &gp->l[gp->nl];
	memset(l, 0, sizeof *l);
	l->src = ki;
	if (!copy_kernel(&l->k, k)) {
		free_kernel(&l->k);
		return diag_set(d, E_MODEL, "out of memory");
	}
	gp->nl++;
	l->k.root = first;
	l->k.s[last].next = -1;
	if (first == last && parallel_top(&l->k, first))
		map_1d(&l->k, first, T, l);
	gp->count[ki]++;
	return config(l, d, k->g);
}

int cg_gpu_map(const KProg *p, GProg *gp, int threads, Diag *d)
{
	memset(gp, 0, sizeof *gp);
	gp->first = calloc((size_t)(p->nk ? p->nk : 1), sizeof *gp->first);
	gp->count = calloc((size_t)(p->nk ? p->nk : 1), sizeof *gp->count);
	if (!gp->first || !gp->count)
		return diag_set(d, E_MODEL, "out of memory");
	if (threads <= 0)
		threads = 256;
	for (int ki = 0; ki < p->nk; ki++) {
		const Kernel *k = &p->k[ki];
		gp->first[ki] = gp->nl;
		if (k->kind != KK_LOOP)
			continue;
		int s = k->root, run = -1, prev = -1;
		for (; s >= 0; prev = s, s = k->s[s].next) {
			const KStmt *st = &k->s[s];
			bool alone = parallel_top(k, s) || (st->op == KS_LOOP && st->par == KP_GPU_BLOCK);
			if (!alone) {
				if (run < 0)
					run = s;
				continue;
			}
			int rc;
			if (run >= 0 && (rc = add_launch(gp, k, ki, run, prev, threads, d)))
				return rc;
			run = -1;
			if ((rc = add_launch(gp, k, ki, s, s, threads, d)))
				return rc;
		}
		int rc;
		if (run >= 0 && (rc = add_launch(gp, k, ki, run, prev, threads, d)))
			return rc;
	}
	return E_OK;
}

void cg_gpu_free(GProg *gp)
{
	for (int i = 0; i < gp->nl; i++) {
		free_kernel(&gp->l[i].k);
		free(gp->l[i].vload);
	}
	free(gp->l);
	free(gp->first);
	free(gp->count);
	memset(gp, 0, sizeof *gp);
}

void cg_gpu_kname(char *buf, size_t n, const GLaunch *l, int j)
{
	snprintf(buf, n, "vk%d_%d", l->src, j);
}
