/* Selective-scan rewrite rule for recurrences inside ONNX control flow: a
 * Scan or a Loop whose body is one Mamba step
 *     h' = exp(dt (x) A) * h + dt (x) B (x) x,   y = sum_n(h' * C)
 * over a [b,d,n] state (dt, x [b,d]; B, C [b,n]; A [d,n]; optionally
 * softplus(dt) and the D skip y + x*D inside the body) becomes one
 * selective_scan over the outer [b,T,*] tensors the body slices:
 *   - Scan: the body's scan inputs (scan axis 0 or 1, forward), the state
 *     the single loop-carried value, y the single scan output;
 *   - Loop: the body Gathers step i (its iteration number) of captured
 *     outer tensors along axis 0 or 1; the trip count equals their length,
 *     the condition stays true; y is stacked on axis 0.
 * A and D are captured outer values or body constants (copied out). The
 * op's final state replaces the loop's last state when that is used. */
#include <stdio.h>
#include <string.h>
#include "sscan_util.h"

/* body values of one matched step */
typedef struct Step {
	uint32_t u, dt, B, C, A, D;  /* D: IR_NONE when absent */
	int softplus;
} Step;

/* v = Unsqueeze(src, [axis]) of a rank-2 src: src, else IR_NONE */
static uint32_t unsq2(Graph *b, uint32_t v, int axis)
{
	uint32_t s = m_unsq(b, v, axis);
	return s != IR_NONE && m_rank(b, s) == 2 ? s : IR_NONE;
}

/* The step pattern in body b: hin the state input, hout the next state,
 * yout the step's output. */
static bool match_step(Graph *b, uint32_t hin, uint32_t hout, uint32_t yout, Step *s)
{
	memset(s, 0xff, sizeof *s);
	s->softplus = 0;
	if (m_rank(b, hin) != 3 || b->val[hin].dt != DT_F32)
		return false;
	Node *add = m_def(b, hout, OP_Add);
	if (!add)
		return false;
	uint32_t inj = IR_NONE, P = IR_NONE;
	for (int i = 0; i < 2 && P == IR_NONE; i++) {
		Node *dec = m_def(b, add->in[i], OP_Mul);
		for (int j = 0; dec && j < 2; j++) {
			Node *e = m_def(b, dec->in[1 - j], OP_Exp);
			if (dec->in[j] == hin && e) {
				P = e->in[0];
				inj = add->in[1 - i];
				break;
			}
		}
	}
	if (P == IR_NONE)
		return false;
	/* exp(Unsqueeze(dt, -1) * A) */
	uint32_t pl[4], dts = IR_NONE;
	if (m_mul_leaves(b, P, pl, 4) != 2)
		return false;
	for (int i = 0; i < 2; i++)
		if ((dts = unsq2(b, pl[i], 2)) != IR_NONE && m_rank(b, pl[1 - i]) == 2) {
			s->A = pl[1 - i];
			break;
		}
	if (dts == IR_NONE)
		return false;
	Node *sp = m_def(b, dts, OP_Softplus);
	s->dt = sp ? sp->in[0] : dts;
	s->softplus = sp != NULL;
	/* Unsqueeze(dt, -1) * Unsqueeze(B, 1) * Unsqueeze(x, -1), any order */
	uint32_t il[4];
	if (m_mul_leaves(b, inj, il, 4) != 3)
		return false;
	int ndt = 0;
	for (int i = 0; i < 3; i++) {
		uint32_t c2 = unsq2(b, il[i], 2), c1 = unsq2(b, il[i], 1);
		if (c2 != IR_NONE && c2 == dts && !ndt)
			ndt = 1;
		else if (c2 != IR_NONE && s->u == IR_NONE)
			s->u = c2;
		else if (c1 != IR_NONE && s->B == IR_NONE)
			s->B = c1;
		else
			return false;
	}
	if (!ndt || s->u == IR_NONE || s->B == IR_NONE)
		return false;
	/* y = ReduceSum(h' * Unsqueeze(C, 1), -1, keepdims 0) [+ x * D] */
	Node *rs = m_def(b, yout, OP_ReduceSum);
	Node *ya = rs ? NULL : m_def(b, yout, OP_Add);
	for (int i = 0; ya && i < 2 && !rs; i++) {
		Node *m = m_def(b, ya->in[1 - i], OP_Mul);
		for (int j = 0; m && j < 2; j++)
			if (m->in[j] == s->u && m_rank(b, m->in[1 - j]) == 1 &&
			    (rs = m_def(b, ya->in[i], OP_ReduceSum))) {
				s->D = m->in[1 - j];
				break;
			}
	}
	int64_t ax[2];
	if (!rs || ir_attr_i(rs, "keepdims", 1) != 0 || m_axes(b, rs, 3, ax, 2) != 1 || ax[0] != 2)
		return false;
	uint32_t cl[4];
	if (m_mul_leaves(b, rs->in[0], cl, 4) != 2)
		return false;
	for (int i = 0; i < 2; i++)
		if (cl[i] == hout)
			s->C = unsq2(b, cl[1 - i], 1);
	return s->C != IR_NONE;
}

/* ---- mapping body values to outer ones ----------------------------------- */
typedef struct CfScan {
	uint32_t node;
	uint32_t in[9];              /* selective_scan inputs (outer values) */
	int ax[9];                   /* u, dt, B, C: the outer tensor's time axis */
	int softplus;
	int yax;                     /* axis of T in the op's stacked y (0: [T,b,d]) */
	uint32_t hlast, y;           /* the node's outputs */
	Graph *body;
	uint32_t cst[2];             /* body constants for A, D to copy (IR_NONE: none) */
} CfScan;

/* body value v as an outer per-channel operand: a captured input (body input
 * k >= nf is node input k) or a body constant (copied at the rewrite) */
static bool outer_param(Graph *g, const Node *n, Graph *b, uint32_t v, int nf, uint32_t *out,
                        uint32_t *cst)
{
	*cst = IR_NONE;
	for (uint32_t k = (uint32_t)nf; k < b->nin && k < (uint32_t)n->nin; k++)
		if (b->in[k] == v) {
			*out = n->in[k];
			return g->val[*out].dt == DT_F32;
		}
	if (b->val[v].kind == VK_CONST && b->val[v].data && b->val[v].dt == DT_F32 &&
	    ir_shape_static(&b->val[v].shape)) {
		*cst = v;
		*out = IR_NONE;
		return true;
	}
	return false;
}

static bool time_axis_ok(Graph *g, uint32_t v, int ax)
{
	return m_rank(g, v) == 3 && g->val[v].dt == DT_F32 && (ax == 0 || ax == 1);
}

static bool finish(RW *rw, const Node *n, Graph *b, const Step *st, int nf, CfScan *c)
{
	Graph *g = rw->g;
	c->softplus = st->softplus;
	c->body = b;
	if (!outer_param(g, n, b, st->A, nf, &c->in[2], &c->cst[0]))
		return false;
	if (st->D != IR_NONE && !outer_param(g, n, b, st->D, nf, &c->in[5], &c->cst[1]))
		return false;
	/* the four sliced tensors have the same length along their time axes */
	const int sl[4] = {0, 1, 3, 4};
	for (int i = 0; i < 4; i++)
		if (!time_axis_ok(g, c->in[sl[i]], c->ax[sl[i]]))
			return false;
	Dim T = g->val[c->in[0]].shape.d[c->ax[0]];
	for (int i = 0; i < 4; i++) {
		uint32_t v = c->in[sl[i]];
		if (!time_axis_ok(g, v, c->ax[sl[i]]) || g->val[v].shape.d[c->ax[sl[i]]] != T)
			return false;
	}
	return g->val[c->in[8]].dt == DT_F32 && m_rank(g, c->in[8]) == 3;
}

/* Scan(h0, x.., ) with one state, scan inputs over axis 0/1, one scan output */
bool sscan_match_scanop(RW *rw, uint32_t root, void *cap)
{
	Graph *g = rw->g;
	const Node *n = &g->node[root];
	CfScan *c = cap;
	memset(c, 0xff, sizeof *c);
	const Attr *ba = ir_attr(n, "body");
	int nf = (int)ir_attr_i(n, "_nformal", n->nin);
	int M = (int)ir_attr_i(n, "num_scan_inputs", -1);
	if (!ba || ba->kind != AK_GRAPH || !ba->g || n->opset < 9 || nf - M != 1 || M < 4 ||
	    n->nout != 2)
		return false;
	Graph *b = ba->g;
	if (b->nout != 2 || b->nin < (uint32_t)nf)
		return false;
	const Attr *dirs[2] = {ir_attr(n, "scan_input_directions"), ir_attr(n, "scan_output_directions")};
	for (int k = 0; k < 2; k++)
		for (int i = 0; dirs[k] && dirs[k]->kind == AK_INTS && dirs[k]->ints && i < dirs[k]->n; i++)
			if (dirs[k]->ints[i] != 0)
				return false;
	Step st;
	if (!match_step(b, b->in[0], b->out[0], b->out[1], &st))
		return false;
	const Attr *iax = ir_attr(n, "scan_input_axes"), *oax = ir_attr(n, "scan_output_axes");
	const uint32_t want[4] = {st.u, st.dt, st.B, st.C};
	const int slot[4] = {0, 1, 3, 4};
	for (int i = 0; i < 4; i++) {
		int k = -1;
		for (int j = 1; j < nf; j++)
			if (b->in[j] == want[i])
				k = j;
		if (k < 0)
			return false;
		int64_t a = iax && iax->kind == AK_INTS && iax->ints && iax->n == M ? iax->ints[k - 1] : 0;
		c->in[slot[i]] = n->in[k];
		c->ax[slot[i]] = (int)(a < 0 ? a + 3 : a);
	}
	int64_t ya = oax && oax->kind == AK_INTS && oax->ints && oax->n == 1 ? oax->ints[0] : 0;
	c->yax = (int)(ya < 0 ? ya + 3 : ya);
	if (c->yax != 0 && c->yax != 1)
		return false;
	c->node = root;
	c->in[8] = n->in[0];
	c->hlast = n->out[0];
	c->y = n->out[1];
	return finish(rw, n, b, &st, nf, c);
}

/* Loop(T, cond, h0) whose body Gathers step i of captured tensors */
bool sscan_match_loopop(RW *rw, uint32_t root, void *cap)
{
	Graph *g = rw->g;
	const Node *n = &g->node[root];
	CfScan *c = cap;
	memset(c, 0xff, sizeof *c);
	const Attr *ba = ir_attr(n, "body");
	int nf = (int)ir_attr_i(n, "_nformal", n->nin);
	if (!ba || ba->kind != AK_GRAPH || !ba->g || nf != 3 || n->nout != 2 || n->in[0] == IR_NONE)
		return false;
	Graph *b = ba->g;
	if (b->nout != 3 || b->nin < 3)
		return false;
	/* the condition stays true: cond_out is cond_in (maybe through Identity)
	 * or a constant true, and cond_in is absent or a constant true */
	uint32_t co = b->out[0];
	Node *id = m_def(b, co, OP_Identity);
	if (id)
		co = id->in[0];
	int64_t t1;
	bool cin_true = n->in[1] == IR_NONE || (m_const_int(g, n->in[1], &t1) && t1) ||
	                (g->val[n->in[1]].kind == VK_CONST && g->val[n->in[1]].dt == DT_BOOL &&
	                 g->val[n->in[1]].data && *(const uint8_t *)g->val[n->in[1]].data);
	bool cout_true = co == b->in[1] || (b->val[co].kind == VK_CONST && b->val[co].dt == DT_BOOL &&
	                                    b->val[co].data && *(const uint8_t *)b->val[co].data);
	if (!cin_true || !cout_true)
		return false;
	Step st;
	if (!match_step(b, b->in[2], b->out[1], b->out[2], &st))
		return false;
	const uint32_t want[4] = {st.u, st.dt, st.B, st.C};
	const int slot[4] = {0, 1, 3, 4};
	for (int i = 0; i < 4; i++) {
		Node *ga = m_def(b, want[i], OP_Gather);
		if (!ga || ga->in[1] != b->in[0])
			return false;
		int k = -1;
		for (uint32_t j = (uint32_t)nf; j < b->nin && j < (uint32_t)n->nin; j++)
			if (b->in[j] == ga->in[0])
				k = (int)j;
		if (k < 0)
			return false;
		int64_t a = ir_attr_i(ga, "axis", 0);
		c->in[slot[i]] = n->in[k];
		c->ax[slot[i]] = (int)(a < 0 ? a + 3 : a);
	}
	/* trip count = the sliced length (a constant or a value shape inference knows) */
	const Value *tv = &g->val[n->in[0]];
	Dim trip;
	int64_t tc;
	if (m_const_int(g, n->in[0], &tc))
		trip = tc;
	else if (tv->nsv == 1)
		trip = tv->sv[0];
	else
		return false;
	if (c->ax[0] < 0 || c->ax[0] > 1 || m_rank(g, c->in[0]) != 3 ||
	    g->val[c->in[0]].shape.d[c->ax[0]] != trip)
		return false;
	c->yax = 0;
	c->node = root;
	c->in[8] = n->in[2];
	c->hlast = n->out[0];
	c->y = n->out[1];
	return finish(rw, n, b, &st, nf, c);
}

/* ---- the rewrite -------------------------------------------------------- */
static uint32_t swap01(RW *rw, uint32_t like, uint32_t v)
{
	Graph *g = rw->g;
	uint32_t id = rw_node(rw, OP_Transpose, like, "/time_major", 1, &v, 1);
	Attr *a = ir_attr_add(g, id, "perm", AK_INTS);
	static const int64_t perm[3] = {1, 0, 2};
	a->n = 3;
	a->ints = arena_memdup(g->arena, perm, sizeof perm);
	return rw_infer(rw, id) ? g->node[id].out[0] : IR_NONE;
}

static uint32_t copy_const(Graph *g, Graph *b, uint32_t v)
{
	const Value *x = &b->val[v];
	char name[160];
	snprintf(name, sizeof name, "%s/body_const", x->name ? x->name : "scan");
	return ir_const_copy(g, name, x->dt, &x->shape, x->data);
}

bool sscan_rewrite_cf(RW *rw, uint32_t root, void *cap)
{
	Graph *g = rw->g;
	CfScan *c = cap;
	uint32_t ins[9];
	memcpy(ins, c->in, sizeof ins);
	for (int i = 0; i < 2; i++)
		if (c->cst[i] != IR_NONE && (ins[i ? 5 : 2] = copy_const(g, c->body, c->cst[i])) == IR_NONE)
			return false;
	/* selective_scan reads [b,d,n] A and [d] D */
	const Value *A = &g->val[ins[2]], *h0 = &g->val[ins[8]];
	if (A->shape.rank != 2 || A->shape.d[0] != h0->shape.d[1] || A->shape.d[1] != h0->shape.d[2])
		return false;
	if (ins[5] != IR_NONE && (g->val[ins[5]].shape.rank != 1 || g->val[ins[5]].shape.d[0] != h0->shape.d[1]))
		return false;
	const int sl[4] = {0, 1, 3, 4};
	for (int i = 0; i < 4; i++)
		if (c->ax[sl[i]] == 0 && (ins[sl[i]] = swap01(rw, root, ins[sl[i]])) == IR_NONE)
			return false;
	bool last = rw_uses(rw, c->hlast) > 0;
	uint32_t id = rw_node(rw, OP_selective_scan, root, "/selective_scan", 9, ins, last ? 2 : 1);
	ir_attr_add(g, id, "delta_softplus", AK_INT)->i = c->softplus;
	if (!rw_infer(rw, id))
		return false;
	uint32_t y = g->node[id].out[0], from = c->y;
	/* [T,b,d] read back through Transpose(perm [1,0,2]): use y as is */
	for (uint32_t i = 0; c->yax == 0 && from == c->y && rw_uses(rw, c->y) == 1 && i < g->nnode; i++) {
		const Node *t = &g->node[i];
		const int64_t *p;
		if (!t->dead && t->op == OP_Transpose && t->nin == 1 && t->in[0] == c->y &&
		    ir_attr_ints(t, "perm", &p) == 3 && p[0] == 1 && p[1] == 0 && p[2] == 2)
			from = t->out[0];
	}
	if (c->yax == 0 && from == c->y && (y = swap01(rw, id, y)) == IR_NONE)
		return false;
	if (!rw_replace(rw, from, y))
		return false;
	if (last)
		rw_replace(rw, c->hlast, g->node[id].out[1]);
	rw->retype = true;
	rw_push(rw, id);
	return true;
}
