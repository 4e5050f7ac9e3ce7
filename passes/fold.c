/* Constant folding: a node whose inputs are all constants and whose outputs
 * are static and small is run with its reference kernel and replaced by
 * constants; so is any output whose elements inference already knows (Value
 * sv, e.g. Shape of a static tensor). Random ops never fold. */
#include <stdlib.h>
#include <string.h>
#include "passes.h"
#include "../ir/kattr.h"
#include "../ir/shape.h"

#define FOLD_MAX_ELEMS (1 << 20)
#define FOLD_ROUNDS 4

static bool never_fold(int op)
{
	switch (op) {
	case OP_Bernoulli: case OP_RandomNormal: case OP_RandomUniform:
	case OP_RandomNormalLike: case OP_RandomUniformLike: case OP_Multinomial:
	case OP_Dropout:   /* random in training mode; noop removes it otherwise */
		return true;
	}
	return false;
}

/* Elements of a static shape, or -1. */
static int64_t numel(const Shape *s)
{
	if (s->rank < 0)
		return -1;
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++) {
		if (s->d[i] < 0 || (s->d[i] && n > INT64_MAX / s->d[i]))
			return -1;
		n *= s->d[i];
	}
	return n;
}

static void *fold_alloc(void *actx, size_t n)
{
	(void)actx;
	return calloc(1, n ? n : 1);
}

/* Replace output k of node i by a new constant holding `data`. */
static void to_const(Graph *g, uint32_t i, int k, const void *data)
{
	uint32_t v = g->node[i].out[k];
	Value x = g->val[v];   /* copy: ir_const_copy may move g->val */
	uint32_t c = ir_const_copy(g, x.name, x.dt, &x.shape, data);
	pass_replace_value(g, v, c);
}

/* Run node i's reference kernel on its constant inputs; true if replaced. */
static bool fold_by_kernel(Graph *g, uint32_t i, PassCtx *ctx)
{
	Node *n = &g->node[i];
	if (n->nin == 0 || never_fold(n->op) || !ref_table[n->op])
		return false;
	for (int k = 0; k < n->nin; k++) {
		uint32_t v = n->in[k];
		if (v == IR_NONE)
			continue;
		if (v >= g->nval || g->val[v].kind != VK_CONST || !g->val[v].data ||
		    numel(&g->val[v].shape) < 0 || !dt_size(g->val[v].dt))
			return false;
	}
	for (int k = 0; k < n->nout; k++) {
		uint32_t v = n->out[k];
		if (v >= g->nval)
			return false;
		int64_t ne = numel(&g->val[v].shape);
		if (ne < 0 || ne > FOLD_MAX_ELEMS || !dt_size(g->val[v].dt))
			return false;
	}
	KTensor *in = calloc(n->nin, sizeof *in), *out = calloc(n->nout + 1, sizeof *out);
	KAttr *ka = NULL;
	int nka = -1;
	bool ok = false;
	if (!in || !out)
		goto done;
	for (int k = 0; k < n->nin; k++) {
		if (n->in[k] == IR_NONE)
			continue;   /* omitted: dt UNDEF, data NULL */
		const Value *x = &g->val[n->in[k]];
		in[k].dt = x->dt;
		in[k].rank = x->shape.rank;
		for (int r = 0; r < x->shape.rank; r++)
			in[k].dims[r] = x->shape.d[r];
		in[k].data = (void *)x->data;
	}
	for (int k = 0; k < n->nout; k++) {
		const Value *x = &g->val[n->out[k]];
		out[k].dt = x->dt;
		out[k].rank = x->shape.rank;
		for (int r = 0; r < x->shape.rank; r++)
			out[k].dims[r] = x->shape.d[r];
		out[k].data = calloc(1, kt_nbytes(&out[k]) + 1);
		if (!out[k].data)
			goto done;
	}
	nka = ir_node_kattrs(g, n, &ka);
	if (nka < 0)
		goto done;
	char err[256] = "";
	KCall c = {.op = n->op, .nin = n->nin, .nout = n->nout, .nattr = nka, .in = in,
	           .out = out, .attr = ka, .err = err, .errlen = sizeof err, .alloc = fold_alloc};
	if (ref_table[n->op](&c) != 0)
		goto done;   /* leave it to run time, which reports the error in context */
	for (int k = 0; k < n->nout; k++)
		to_const(g, i, k, out[k].data);
	g->node[i].dead = true;
	ctx->folded++;
	ok = true;
done:
	if (nka >= 0)
		ir_kattrs_free(ka, nka);
	for (int k = 0; out && k < n->nout; k++)
		free(out[k].data);
	free(in);
	free(out);
	return ok;
}

/* Outputs whose elements are all known (sv) become constants. */
static bool fold_known(Graph *g, uint32_t i, const uint32_t *uses, PassCtx *ctx)
{
	Node *n = &g->node[i];
	if (never_fold(n->op))
		return false;
	int nfolded = 0, nunused = 0;
	for (int k = 0; k < n->nout; k++) {
		uint32_t v = n->out[k];
		if (v >= g->nval)
			continue;
		if (!uses[v]) {
			nunused++;
			continue;
		}
		const Value *x = &g->val[v];
		int64_t ne = numel(&x->shape);
		if (x->nsv < 0 || !x->sv || ne != x->nsv || x->shape.rank > 1 || !dt_is_int(x->dt))
			continue;
		int64_t vals[IR_MAXSV];
		bool lit = true;
		for (int e = 0; e < x->nsv && lit; e++)
			lit = ir_sv_lit(g, x->sv[e], &vals[e]);
		if (!lit)
			continue;
		char buf[IR_MAXSV * 8];
		for (int e = 0; e < x->nsv; e++)
			dt_store_i(x->dt, buf, (size_t)e, vals[e]);
		to_const(g, i, k, buf);
		nfolded++;
	}
	if (nfolded && nfolded + nunused == n->nout)
		g->node[i].dead = true;
	ctx->folded += nfolded;
	return nfolded > 0;
}

/* One sweep in node order; uses are counted once up front (a value made
 * unused during the sweep is at worst folded needlessly; dce drops it). */
static bool fold_once(Graph *g, PassCtx *ctx)
{
	bool changed = false;
	uint32_t nn = g->nnode;
	uint32_t *uses = pass_use_counts(g);
	if (!uses)
		return false;
	for (uint32_t i = 0; i < nn; i++) {
		const Node *n = &g->node[i];
		if (n->dead)
			continue;
		bool used = false;
		for (int k = 0; k < n->nout; k++)
			used |= n->out[k] < g->nval && uses[n->out[k]];
		if (!used)
			continue;
		if (fold_by_kernel(g, i, ctx) || fold_known(g, i, uses, ctx))
			changed = true;
	}
	free(uses);
	return changed;
}

/* Fold, re-infer (new constants can make more values known), repeat. */
bool pass_fold(Graph *g, PassCtx *ctx)
{
	bool any = false;
	for (int round = 0; round < FOLD_ROUNDS; round++) {
		if (!fold_once(g, ctx))
			break;
		any = true;
		if (ir_infer(g, ctx->diag)) {
			ctx->failed = true;
			break;
		}
	}
	return any;
}
