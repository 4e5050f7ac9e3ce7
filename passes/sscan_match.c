/* Small matchers over the graph shared by the scan rewrite rules: defining
 * nodes, constant scalars, Unsqueeze/Gather/Mul shapes of the exporters'
 * output, and the causal-mask test. */
#include <math.h>
#include <string.h>
#include "sscan_util.h"

Node *m_def(Graph *g, uint32_t v, int op)
{
	if (v >= g->nval || g->val[v].kind != VK_NODE || g->val[v].def >= g->nnode)
		return NULL;
	Node *n = &g->node[g->val[v].def];
	return !n->dead && (op < 0 || n->op == op) ? n : NULL;
}

bool m_const_int(Graph *g, uint32_t v, int64_t *x)
{
	if (v >= g->nval)
		return false;
	const Value *c = &g->val[v];
	if (c->kind != VK_CONST || !c->data || !dt_is_int(c->dt) || c->shape.rank > 1 ||
	    (c->shape.rank == 1 && c->shape.d[0] != 1))
		return false;
	*x = dt_load_i(c->dt, c->data, 0);
	return true;
}

bool m_const_all(Graph *g, uint32_t v, double x)
{
	if (v >= g->nval)
		return false;
	const Value *c = &g->val[v];
	if (c->kind != VK_CONST || !c->data || !ir_shape_static(&c->shape) ||
	    (c->dt != DT_F32 && c->dt != DT_F64))
		return false;
	int64_t n = 1;
	for (int i = 0; i < c->shape.rank; i++)
		n *= c->shape.d[i];
	for (int64_t i = 0; i < n; i++) {
		double y = c->dt == DT_F32 ? ((const float *)c->data)[i] : ((const double *)c->data)[i];
		if (!(y == x))
			return false;
	}
	return true;
}

int m_rank(Graph *g, uint32_t v)
{
	return v < g->nval ? g->val[v].shape.rank : -1;
}

int m_axes(Graph *g, const Node *n, int rank, int64_t *ax, int max)
{
	int cnt = -1;
	if (n->nin > 1 && n->in[1] != IR_NONE) {
		const Value *c = &g->val[n->in[1]];
		if (c->kind != VK_CONST || !c->data || !dt_is_int(c->dt) || c->shape.rank != 1 ||
		    c->shape.d[0] < 0 || c->shape.d[0] > max)
			return -1;
		cnt = (int)c->shape.d[0];
		for (int i = 0; i < cnt; i++)
			ax[i] = dt_load_i(c->dt, c->data, (size_t)i);
	} else {
		const int64_t *a;
		if (!ir_attr(n, "axes"))
			return -1;
		cnt = ir_attr_ints(n, "axes", &a);
		if (cnt < 0 || cnt > max)
			return -1;
		for (int i = 0; i < cnt; i++)
			ax[i] = a[i];
	}
	for (int i = 0; i < cnt; i++) {
		if (ax[i] < 0)
			ax[i] += rank;
		if (ax[i] < 0 || ax[i] >= rank)
			return -1;
	}
	return cnt;
}

uint32_t m_unsq(Graph *g, uint32_t v, int axis)
{
	Node *n = m_def(g, v, OP_Unsqueeze);
	int64_t ax[2];
	int r = m_rank(g, v);
	if (!n || r < 1)
		return IR_NONE;
	if (axis < 0)
		axis += r;
	if (m_axes(g, n, r, ax, 2) != 1 || ax[0] != axis)
		return IR_NONE;
	return n->in[0];
}

uint32_t m_gather_t(Graph *g, uint32_t v, int axis, int64_t *k)
{
	Node *n = m_def(g, v, OP_Gather);
	if (!n || n->nin != 2 || m_rank(g, n->in[1]) != 0 || !m_const_int(g, n->in[1], k))
		return IR_NONE;
	int r = m_rank(g, n->in[0]);
	int64_t a = ir_attr_i(n, "axis", 0);
	if (a < 0)
		a += r;
	if (a != axis || r <= axis)
		return IR_NONE;
	int64_t T = g->val[n->in[0]].shape.d[axis];
	if (*k < 0 && T >= 0)
		*k += T;
	return n->in[0];
}

static int leaves(Graph *g, uint32_t v, uint32_t *leaf, int n, int max, int depth)
{
	Node *m = m_def(g, v, OP_Mul);
	if (m && depth < 8 && m->nin == 2) {
		uint32_t a = m->in[0], b = m->in[1];
		n = leaves(g, a, leaf, n, max, depth + 1);
		return n < 0 ? n : leaves(g, b, leaf, n, max, depth + 1);
	}
	if (n >= max)
		return -1;
	leaf[n] = v;
	return n + 1;
}

int m_mul_leaves(Graph *g, uint32_t v, uint32_t *leaf, int max)
{
	return leaves(g, v, leaf, 0, max, 0);
}

uint32_t m_strip_unsq(Graph *g, uint32_t v)
{
	for (int i = 0; i < 8; i++) {
		Node *n = m_def(g, v, OP_Unsqueeze);
		if (!n)
			break;
		v = n->in[0];
	}
	return v;
}

/* r = Range(0, n, 1) */
static bool is_iota(Graph *g, uint32_t r)
{
	Node *n = m_def(g, r, OP_Range);
	int64_t s, d;
	return n && n->nin == 3 && m_const_int(g, n->in[0], &s) && s == 0 &&
	       m_const_int(g, n->in[2], &d) && d == 1;
}

bool m_causal(Graph *g, uint32_t v)
{
	uint32_t m = m_strip_unsq(g, v);
	const Value *mv = &g->val[m];
	if (mv->dt != DT_BOOL || mv->shape.rank != 2)
		return false;
	Node *n = m_def(g, m, OP_GreaterOrEqual);
	bool swap = false;
	if (!n && (n = m_def(g, m, OP_LessOrEqual)))
		swap = true;
	if (n && n->nin == 2) {
		uint32_t i = n->in[swap ? 1 : 0], j = n->in[swap ? 0 : 1];
		uint32_t ri = m_unsq(g, i, 1), rj = m_unsq(g, j, 0);
		return ri != IR_NONE && ri == rj && is_iota(g, ri);
	}
	if (mv->kind == VK_CONST && mv->data && ir_shape_static(&mv->shape)) {
		int64_t R = mv->shape.d[0], C = mv->shape.d[1];
		const uint8_t *p = mv->data;
		for (int64_t i = 0; i < R; i++)
			for (int64_t j = 0; j < C; j++)
				if ((p[i * C + j] != 0) != (i >= j))
					return false;
		return true;
	}
	return false;
}

/* A [D,N] view of A: rank 2 as is; a constant with leading 1s is re-viewed. */
uint32_t m_as_dn(Graph *g, uint32_t A)
{
	const Value *v = &g->val[A];
	if (v->shape.rank == 2)
		return A;
	if (v->kind != VK_CONST || v->shape.rank < 2)
		return IR_NONE;
	for (int i = 0; i + 2 < v->shape.rank; i++)
		if (v->shape.d[i] != 1)
			return IR_NONE;
	Shape s = {.rank = 2, .d = {v->shape.d[v->shape.rank - 2], v->shape.d[v->shape.rank - 1]}};
	return ir_const(g, NULL, v->dt, &s, v->data);
}

/* A 1-D view of v ([n], or [n,1] / [1,..,n] with all other dims 1): v itself,
 * an Unsqueeze's source, or a re-viewed constant; `first`: a constant's n
 * dim is its first (else its last). Callers check the broadcast. */
uint32_t m_as_vec(Graph *g, uint32_t v, int first)
{
	const Value *x = &g->val[v];
	if (x->shape.rank == 1)
		return v;
	uint32_t s = m_strip_unsq(g, v);
	if (m_rank(g, s) == 1)
		return s;
	if (x->kind != VK_CONST || x->shape.rank < 1)
		return IR_NONE;
	int nd = first ? 0 : x->shape.rank - 1;
	for (int i = 0; i < x->shape.rank; i++)
		if (i != nd && x->shape.d[i] != 1)
			return IR_NONE;
	Shape sh = {.rank = 1, .d = {x->shape.d[nd]}};
	return ir_const(g, NULL, x->dt, &sh, x->data);
}
