/* No-op removal: Identity, Dropout in inference mode, Cast to the same
 * dtype, Reshape/Flatten/Squeeze/Unsqueeze to the same shape, Transpose by
 * the identity permutation; Reshape->Reshape chains collapse and
 * Transpose->Transpose chains compose. Graph outputs keep their names. */
#include <stdlib.h>
#include <string.h>
#include "passes.h"

static const Value *in_val(const Graph *g, const Node *n, int k)
{
	return k < n->nin && n->in[k] < g->nval ? &g->val[n->in[k]] : NULL;
}

/* The node defining value v, if it is a live node with op `op`. */
static Node *def_of(Graph *g, uint32_t v, int op)
{
	if (v >= g->nval || g->val[v].kind != VK_NODE || g->val[v].def >= g->nnode)
		return NULL;
	Node *m = &g->node[g->val[v].def];
	return !m->dead && m->op == op ? m : NULL;
}

/* Dropout is a no-op unless training_mode (input 2, opset >= 12) is a
 * known true, and only when its mask output is unused. */
static bool dropout_is_noop(const Graph *g, const Node *n, const uint32_t *uses)
{
	if (n->nout > 1 && n->out[1] < g->nval && uses[n->out[1]])
		return false;
	const Value *t = in_val(g, n, 2);
	if (!t)
		return true;
	if (t->kind != VK_CONST || !t->data || t->dt != DT_BOOL)
		return false;
	return ((const uint8_t *)t->data)[0] == 0;
}

/* perm of a Transpose of rank r (default: reversed); false if malformed. */
static bool get_perm(const Node *n, int r, int64_t *perm)
{
	const int64_t *p;
	int np = ir_attr_ints(n, "perm", &p);
	if (!ir_attr(n, "perm")) {
		for (int i = 0; i < r; i++)
			perm[i] = r - 1 - i;
		return r >= 0;
	}
	if (np != r)
		return false;
	bool seen[IR_MAXRANK] = {0};
	for (int i = 0; i < r; i++) {
		if (p[i] < 0 || p[i] >= r || seen[p[i]])
			return false;
		seen[p[i]] = true;
		perm[i] = p[i];
	}
	return true;
}

static bool is_identity(const int64_t *perm, int r)
{
	for (int i = 0; i < r; i++)
		if (perm[i] != i)
			return false;
	return true;
}

/* Reshape(Reshape(x, s1), s2) == Reshape(x, s2) when s2 has no 0 entry
 * (a 0 copies a dim of the data input, which the rewrite would change)
 * or allowzero is set. */
static bool shape_has_no_copy(const Graph *g, const Node *n)
{
	if (ir_attr_i(n, "allowzero", 0))
		return true;
	const Value *s = in_val(g, n, 1);
	if (!s)
		return false;
	if (s->kind == VK_CONST && s->data && dt_is_int(s->dt) && s->shape.rank == 1 &&
	    s->shape.d[0] >= 0) {
		for (int64_t i = 0; i < s->shape.d[0]; i++)
			if (dt_load_i(s->dt, s->data, (size_t)i) == 0)
				return false;
		return true;
	}
	if (s->nsv >= 0 && s->sv) {
		for (int i = 0; i < s->nsv; i++)
			if (s->sv[i] == 0)
				return false;
		return true;
	}
	return false;
}

static bool reshape_like(int op)
{
	return op == OP_Reshape || op == OP_Flatten || op == OP_Squeeze || op == OP_Unsqueeze;
}

/* Walking back from x through reshape-like nodes (which keep the elements
 * in order), the first value typed exactly like `want`, or IR_NONE: e.g.
 * Squeeze(Unsqueeze(v)) is v. */
static uint32_t reshaped_source(const Graph *g, uint32_t x, const Value *want)
{
	for (int step = 0; step < 8; step++) {
		if (x >= g->nval || g->val[x].kind != VK_NODE || g->val[x].def >= g->nnode)
			return IR_NONE;
		const Node *m = &g->node[g->val[x].def];
		if (m->dead || !reshape_like(m->op) || m->nin < 1 || m->in[0] >= g->nval)
			return IR_NONE;
		x = m->in[0];
		if (pass_same_type(&g->val[x], want))
			return x;
	}
	return IR_NONE;
}

static bool replace(Graph *g, Node *n, uint32_t from, uint32_t to, PassCtx *ctx)
{
	if (!pass_replace_value(g, from, to))
		return false;
	n->dead = true;
	ctx->removed++;
	return true;
}

bool pass_noop(Graph *g, PassCtx *ctx)
{
	uint32_t *uses = pass_use_counts(g);
	if (!uses) {
		ctx->failed = true;
		diag_set(ctx->diag, E_MODEL, "noop: out of memory");
		return false;
	}
	bool changed = false;
	for (uint32_t i = 0; i < g->nnode; i++) {
		Node *n = &g->node[i];
		if (n->dead || n->nout < 1 || n->nin < 1 || n->in[0] >= g->nval || n->out[0] >= g->nval)
			continue;
		uint32_t x = n->in[0], y = n->out[0];
		const Value *xv = &g->val[x], *yv = &g->val[y];
		switch (n->op) {
		case OP_Identity:
			changed |= replace(g, n, y, x, ctx);
			break;
		case OP_Dropout:
			if (dropout_is_noop(g, n, uses))
				changed |= replace(g, n, y, x, ctx);
			break;
		case OP_Cast:
			if (xv->dt == yv->dt && xv->dt != DT_UNDEF)
				changed |= replace(g, n, y, x, ctx);
			break;
		case OP_Reshape: {
			if (pass_same_type(xv, yv)) {
				changed |= replace(g, n, y, x, ctx);
				break;
			}
			uint32_t src = reshaped_source(g, x, yv);
			if (src != IR_NONE) {
				changed |= replace(g, n, y, src, ctx);
				break;
			}
			Node *m = def_of(g, x, OP_Reshape);
			if (m && m->nin >= 1 && m->in[0] < g->nval && shape_has_no_copy(g, n)) {
				n->in[0] = m->in[0];   /* the first Reshape may now be dead */
				changed = true;
				ctx->merged++;
				if (pass_same_type(&g->val[n->in[0]], &g->val[y]))
					replace(g, n, y, n->in[0], ctx);
			}
			break;
		}
		case OP_Flatten: case OP_Squeeze: case OP_Unsqueeze:
			if (pass_same_type(xv, yv))
				changed |= replace(g, n, y, x, ctx);
			else if ((x = reshaped_source(g, x, yv)) != IR_NONE)
				changed |= replace(g, n, y, x, ctx);
			break;
		case OP_Transpose: {
			int r = xv->shape.rank;
			int64_t p2[IR_MAXRANK];
			if (r < 0 || r > IR_MAXRANK || !get_perm(n, r, p2))
				break;
			if (is_identity(p2, r)) {
				changed |= replace(g, n, y, x, ctx);
				break;
			}
			Node *m = def_of(g, x, OP_Transpose);
			int64_t p1[IR_MAXRANK], p[IR_MAXRANK];
			if (!m || m->in[0] >= g->nval || g->val[m->in[0]].shape.rank != r || !get_perm(m, r, p1))
				break;
			/* out[i] = mid[p2[i]] = src[p1[p2[i]]] */
			for (int k = 0; k < r; k++)
				p[k] = p1[p2[k]];
			n->in[0] = m->in[0];
			changed = true;
			ctx->merged++;
			if (is_identity(p, r) && replace(g, n, y, n->in[0], ctx))
				break;
			Attr *a = NULL;
			for (int k = 0; k < n->nattr; k++)
				if (strcmp(n->attr[k].name, "perm") == 0)
					a = &n->attr[k];
			if (!a) {
				a = ir_attr_add(g, i, "perm", AK_INTS);
				n = &g->node[i];
			}
			a->kind = AK_INTS;
			a->n = r;
			a->ints = arena_memdup(g->arena, p, (r ? r : 1) * sizeof *p);
			break;
		}
		}
	}
	free(uses);
	return changed;
}
