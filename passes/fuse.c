/* Operator fusion over the graph IR (late in -O2/-O3):
 *  - activation patterns become one op: x * 0.5 * (1 + erf(x / sqrt 2)) in
 *    PyTorch's export shape becomes Gelu (one elementwise loop), and the
 *    tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) becomes
 *    Gelu(approximate=tanh);
 *  - MatMul and Conv (f32) take their epilogues: a constant bias [N] added
 *    to a product, a residual Add of the output's shape, then one
 *    activation (Relu, Gelu, GeluTanh for MatMul, or SiLU x * Sigmoid(x)), into vibeec's ops
 *    fused_matmul(A, B, bias?, residual?) / fused_conv(X, W, B?, residual?)
 *    with attributes `activation` and `fused` (the ops of the group, in
 *    order). The group's last node becomes the fused op, so its output and
 *    name survive and every input is already defined there; the intermediate
 *    values must have no other use. */
#include <stdlib.h>
#include <string.h>
#include "passes.h"

enum { MAXC = 4, GROUP_MAX = 128 /* members of one fuse_group (codegen takes 256) */ };

/* Live consumers of v (up to MAXC); returns their count (all of them). */
static int consumers(const Graph *g, uint32_t v, uint32_t *c)
{
	int k = 0;
	for (uint32_t i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		if (n->dead)
			continue;
		bool uses = false;
		for (int j = 0; j < n->nin; j++)
			uses |= n->in[j] == v;
		for (int j = 0; j < n->nattr; j++)
			uses |= n->attr[j].kind == AK_TENSOR && n->attr[j].t == v;
		if (uses) {
			if (k < MAXC)
				c[k] = i;
			k++;
		}
	}
	return k;
}

static bool is_f32(const Graph *g, uint32_t v)
{
	return v < g->nval && g->val[v].dt == DT_F32 && g->val[v].shape.rank >= 0;
}

/* The single consumer of v, or -1 (v a graph output, unused, or shared). */
static int64_t only_user(const Graph *g, uint32_t v)
{
	uint32_t c[MAXC];
	if (pass_is_graph_output(g, v) || consumers(g, v, c) != 1)
		return -1;
	return c[0];
}

/* A scalar (one element) f32 constant's value, or NAN-free false. */
static bool scalar_const(const Graph *g, uint32_t v, double *x)
{
	if (v >= g->nval)
		return false;
	const Value *c = &g->val[v];
	if (c->kind != VK_CONST || !c->data || (c->dt != DT_F32 && c->dt != DT_F64))
		return false;
	for (int i = 0; i < c->shape.rank; i++)
		if (c->shape.d[i] != 1)
			return false;
	*x = dt_load_f(c->dt, c->data, 0);
	return true;
}

static bool near(double a, double b) { return a > b - 1e-6 * b && a < b + 1e-6 * b; }

/* The other input of binary node n than v, or IR_NONE. */
static uint32_t other(const Node *n, uint32_t v)
{
	if (n->nin != 2)
		return IR_NONE;
	return n->in[0] == v ? n->in[1] : n->in[1] == v ? n->in[0] : IR_NONE;
}

/* Node ui becomes op with inputs ins, attributes of tmpl (NULL: none)
 * plus `activation` / `fused` when given. Keeps ui's output. */
static void become(Graph *g, uint32_t ui, int op, const uint32_t *ins, int nin,
                   const Node *tmpl, const char *act, const char *fused)
{
	Node *u = &g->node[ui];
	while (nin > 1 && ins[nin - 1] == IR_NONE)
		nin--;
	uint32_t *in = arena_alloc(g->arena, (size_t)nin * sizeof *in);
	memcpy(in, ins, (size_t)nin * sizeof *in);
	Attr *at = NULL;
	int na = 0;
	if (tmpl && tmpl->nattr) {
		at = arena_alloc(g->arena, (size_t)tmpl->nattr * sizeof *at);
		for (int i = 0; i < tmpl->nattr; i++)
			if (strcmp(tmpl->attr[i].name, "activation") && strcmp(tmpl->attr[i].name, "fused"))
				at[na++] = tmpl->attr[i];
	}
	int opset = tmpl ? tmpl->opset : u->opset;
	u->op = op;
	u->in = in;
	u->nin = nin;
	u->attr = at;
	u->nattr = na;
	u->opset = opset;
	if (act) {
		Attr *a = ir_attr_add(g, ui, "activation", AK_STRING);
		a->s = arena_strdup(g->arena, act);
	}
	if (fused) {
		Attr *a = ir_attr_add(g, ui, "fused", AK_STRING);
		a->s = arena_strdup(g->arena, fused);
	}
}

/* Is v = Add(t, 1) (either order) for a scalar constant 1? */
static bool one_plus(const Graph *g, uint32_t v)
{
	if (v >= g->nval || g->val[v].kind != VK_NODE)
		return false;
	const Node *a = &g->node[g->val[v].def];
	double c;
	return a->op == OP_Add && a->nin == 2 &&
	       ((scalar_const(g, a->in[0], &c) && near(c, 1.0)) ||
	        (scalar_const(g, a->in[1], &c) && near(c, 1.0)));
}

/* Gelu from Mul(Mul(x, Add(Erf(Div(x, sqrt2)), 1)), 0.5) (or Mul(x, 1/sqrt2)
 * inside, or the 0.5 applied to x first), rooted at node ri. */
static bool gelu_at(Graph *g, uint32_t ri)
{
	Node *r = &g->node[ri];
	if (r->op != OP_Mul || r->nin != 2 || !is_f32(g, r->out[0]))
		return false;
	for (int side = 0; side < 2; side++) {
		uint32_t m1v = r->in[side], hv = r->in[1 - side];
		double c;
		uint32_t x = IR_NONE, kill[4];
		int nk = 0;
		uint32_t addv = IR_NONE;
		const Value *m1 = &g->val[m1v];
		if (scalar_const(g, hv, &c) && near(c, 0.5) && m1->kind == VK_NODE &&
		    g->node[m1->def].op == OP_Mul && only_user(g, m1v) == ri) {
			/* case A: r = Mul(Mul(x, add), 0.5) */
			const Node *m = &g->node[m1->def];
			for (int s = 0; s < 2 && x == IR_NONE; s++) {
				uint32_t av = m->in[s];
				if (one_plus(g, av)) {
					x = m->in[1 - s];
					addv = av;
				}
			}
			kill[nk++] = m1->def;
		} else {
			/* case B: r = Mul(Mul(x, 0.5), add) */
			const Value *h = &g->val[hv];
			if (h->kind != VK_NODE || g->node[h->def].op != OP_Mul || only_user(g, hv) != ri)
				continue;
			const Node *hn = &g->node[h->def];
			for (int s = 0; s < 2; s++)
				if (scalar_const(g, hn->in[s], &c) && near(c, 0.5))
					x = hn->in[1 - s];
			addv = m1v;
			kill[nk++] = h->def;
		}
		if (x == IR_NONE || addv == IR_NONE || !is_f32(g, x) ||
		    !pass_same_type(&g->val[x], &g->val[r->out[0]]))
			continue;
		const Value *av = &g->val[addv];
		if (av->kind != VK_NODE || g->node[av->def].op != OP_Add || only_user(g, addv) < 0)
			continue;
		const Node *an = &g->node[av->def];
		uint32_t ev = IR_NONE;
		for (int s = 0; s < 2; s++)
			if (scalar_const(g, an->in[s], &c) && near(c, 1.0))
				ev = an->in[1 - s];
		if (ev == IR_NONE || g->val[ev].kind != VK_NODE || g->node[g->val[ev].def].op != OP_Erf ||
		    only_user(g, ev) != av->def)
			continue;
		const Node *en = &g->node[g->val[ev].def];
		uint32_t tv = en->in[0];
		if (g->val[tv].kind != VK_NODE || only_user(g, tv) != g->val[ev].def)
			continue;
		const Node *tn = &g->node[g->val[tv].def];
		if (tn->nin != 2 || tn->in[0] != x || !scalar_const(g, tn->in[1], &c) ||
		    !((tn->op == OP_Div && near(c, 1.4142135623730951)) ||
		      (tn->op == OP_Mul && near(c, 0.7071067811865476))))
			continue;
		kill[nk++] = av->def;
		kill[nk++] = g->val[ev].def;
		kill[nk++] = g->val[tv].def;
		for (int i = 0; i < nk; i++)
			g->node[kill[i]].dead = true;
		become(g, ri, OP_Gelu, &x, 1, NULL, NULL, NULL);
		return true;
	}
	return false;
}

/* The defining node of v when it has op `op` and its only user is node u. */
static const Node *def_for(const Graph *g, uint32_t v, int op, uint32_t u)
{
	if (v >= g->nval || g->val[v].kind != VK_NODE || only_user(g, v) != (int64_t)u)
		return NULL;
	const Node *d = &g->node[g->val[v].def];
	return d->op == op && d->nin == 2 ? d : NULL;
}

/* Of binary node d, the input that is not the scalar constant near c
 * (IR_NONE when neither is). */
static uint32_t but_const(const Graph *g, const Node *d, double c)
{
	double k;
	for (int s = 0; s < 2; s++)
		if (scalar_const(g, d->in[s], &k) && near(k, c))
			return d->in[1 - s];
	return IR_NONE;
}

/* x^3 as Pow(x, 3), Mul(Mul(x, x), x) or Mul(x, Mul(x, x)), used only by
 * node u; its nodes go to kill. */
static bool cube_of(const Graph *g, uint32_t v, uint32_t x, uint32_t u, uint32_t *kill, int *nk)
{
	const Node *d = def_for(g, v, OP_Pow, u);
	if (d) {
		double e;
		if (d->in[0] != x || !scalar_const(g, d->in[1], &e) || e != 3.0)
			return false;
		kill[(*nk)++] = g->val[v].def;
		return true;
	}
	if (!(d = def_for(g, v, OP_Mul, u)))
		return false;
	for (int s = 0; s < 2; s++) {
		const Node *sq = def_for(g, d->in[s], OP_Mul, g->val[v].def);
		if (d->in[1 - s] == x && sq && sq->in[0] == x && sq->in[1] == x) {
			kill[(*nk)++] = g->val[v].def;
			kill[(*nk)++] = g->val[d->in[s]].def;
			return true;
		}
	}
	return false;
}

/* Gelu(approximate=tanh) from 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715
 * x^3))): the root Mul at ri multiplies x, 0.5 and the (1 + tanh) term in
 * any grouping of two Muls (HF's NewGELU and torch's own decomposition). */
static bool gelu_tanh_at(Graph *g, uint32_t ri)
{
	Node *r = &g->node[ri];
	if (r->op != OP_Mul || r->nin != 2 || !is_f32(g, r->out[0]))
		return false;
	for (int side = 0; side < 2; side++) {
		const Node *m = def_for(g, r->in[side], OP_Mul, ri);
		if (!m)
			continue;
		uint32_t f[3] = {m->in[0], m->in[1], r->in[1 - side]}, kill[12];
		int nk = 0;
		kill[nk++] = g->val[r->in[side]].def;
		for (int h = 0; h < 3; h++) {   /* f[h]: 0.5, f[t]: 1 + tanh, the other: x */
			double c;
			if (!scalar_const(g, f[h], &c) || !near(c, 0.5))
				continue;
			for (int t = 0; t < 3; t++) {
				if (t == h)
					continue;
				uint32_t x = f[3 - h - t], user = t == 2 ? ri : g->val[r->in[side]].def;
				int nk0 = nk;
				const Node *a = def_for(g, f[t], OP_Add, user);
				uint32_t tv = a ? but_const(g, a, 1.0) : IR_NONE;
				const Node *th = tv != IR_NONE && g->val[tv].kind == VK_NODE &&
				                 only_user(g, tv) == (int64_t)g->val[f[t]].def ?
				                 &g->node[g->val[tv].def] : NULL;
				if (!th || th->op != OP_Tanh || th->nin != 1 || !is_f32(g, x) ||
				    !pass_same_type(&g->val[x], &g->val[r->out[0]]))
					continue;
				kill[nk++] = g->val[f[t]].def;
				kill[nk++] = g->val[tv].def;
				const Node *sc = def_for(g, th->in[0], OP_Mul, g->val[tv].def);
				uint32_t sv = sc ? but_const(g, sc, 0.79788456080286535588) : IR_NONE;
				const Node *ad = sv != IR_NONE ? def_for(g, sv, OP_Add, g->val[th->in[0]].def) : NULL;
				uint32_t kv = ad ? other(ad, x) : IR_NONE;
				const Node *kn = kv != IR_NONE ? def_for(g, kv, OP_Mul, g->val[sv].def) : NULL;
				uint32_t cv = kn ? but_const(g, kn, 0.044715) : IR_NONE;
				if (!kn || cv == IR_NONE || !cube_of(g, cv, x, g->val[kv].def, kill, &nk)) {
					nk = nk0;
					continue;
				}
				kill[nk++] = g->val[th->in[0]].def;
				kill[nk++] = g->val[sv].def;
				kill[nk++] = g->val[kv].def;
				for (int i = 0; i < nk; i++)
					g->node[kill[i]].dead = true;
				become(g, ri, OP_Gelu, &x, 1, NULL, NULL, NULL);
				Attr *at = ir_attr_add(g, ri, "approximate", AK_STRING);
				at->s = arena_strdup(g->arena, "tanh");
				return true;
			}
		}
	}
	return false;
}

/* Try to grow the fusable node at pi by its single consumer. */
static bool epilogue_at(Graph *g, uint32_t pi)
{
	Node *p = &g->node[pi];
	bool mm = p->op == OP_MatMul || p->op == OP_fused_matmul;
	bool cv = p->op == OP_Conv || p->op == OP_fused_conv;
	if ((!mm && !cv) || p->nout != 1 || !is_f32(g, p->out[0]) || !is_f32(g, p->in[0]) ||
	    !is_f32(g, p->in[1]))
		return false;
	if (cv && (g->val[p->in[0]].shape.rank < 3 || g->val[p->in[0]].shape.rank > 4))
		return false;
	bool fused = p->op == OP_fused_matmul || p->op == OP_fused_conv;
	const char *act = fused ? ir_attr_s(p, "activation", "") : "";
	if (*act)
		return false;
	uint32_t y = p->out[0];
	const Value *yv = &g->val[y];
	uint32_t ins[4] = {p->in[0], p->in[1], IR_NONE, IR_NONE};
	for (int j = 2; j < p->nin && j < 4; j++)
		ins[j] = p->in[j];
	char grp[256];
	snprintf(grp, sizeof grp, "%s", fused ? ir_attr_s(p, "fused", "?") : ir_op_name(p->op));
	uint32_t c[MAXC];
	int nc = pass_is_graph_output(g, y) ? -1 : consumers(g, y, c);
	int fop = mm ? OP_fused_matmul : OP_fused_conv;
	if (nc == 1) {
		Node *u = &g->node[c[0]];
		const char *a = NULL;
		if (u->op == OP_Relu && u->nin == 1)
			a = "Relu";
		else if (u->op == OP_Gelu && u->nin == 1 &&
		         !strcmp(ir_attr_s(u, "approximate", "none"), "none"))
			a = "Gelu";
		else if (mm && u->op == OP_Gelu && u->nin == 1 &&
		         !strcmp(ir_attr_s(u, "approximate", "none"), "tanh"))
			a = "GeluTanh";   /* matmul only: the conv kernels have no tanh form */
		if (a && pass_same_type(yv, &g->val[u->out[0]])) {
			size_t l = strlen(grp);
			snprintf(grp + l, sizeof grp - l, ",%s", ir_op_name(u->op));
			become(g, c[0], fop, ins, 4, p, a, grp);
			p = &g->node[pi];
			p->dead = true;
			return true;
		}
		if (u->op != OP_Add || u->nin != 2 || !pass_same_type(yv, &g->val[u->out[0]]))
			return false;
		uint32_t o = other(u, y);
		if (o == IR_NONE || o == y || !is_f32(g, o))
			return false;
		const Value *ov = &g->val[o];
		int r = yv->shape.rank;
		bool bias = mm && ins[2] == IR_NONE && ins[3] == IR_NONE && ov->kind == VK_CONST &&
		            ov->shape.rank == 1 && r >= 1 && ov->shape.d[0] == yv->shape.d[r - 1];
		bool res = !bias && ins[3] == IR_NONE && pass_same_type(ov, yv);
		if (!bias && !res)
			return false;
		ins[bias ? 2 : 3] = o;
		size_t l = strlen(grp);
		snprintf(grp + l, sizeof grp - l, ",Add");
		become(g, c[0], fop, ins, 4, p, NULL, grp);
		g->node[pi].dead = true;
		return true;
	}
	if (nc == 2) {   /* SiLU: Mul(y, Sigmoid(y)) */
		for (int s = 0; s < 2; s++) {
			Node *sg = &g->node[c[s]], *mu = &g->node[c[1 - s]];
			if (sg->op != OP_Sigmoid || mu->op != OP_Mul || c[s] > c[1 - s] ||
			    only_user(g, sg->out[0]) != (int64_t)c[1 - s] || other(mu, y) != sg->out[0] ||
			    !pass_same_type(yv, &g->val[mu->out[0]]))
				continue;
			size_t l = strlen(grp);
			snprintf(grp + l, sizeof grp - l, ",Sigmoid,Mul");
			sg->dead = true;
			become(g, c[1 - s], fop, ins, 4, p, "Silu", grp);
			g->node[pi].dead = true;
			return true;
		}
	}
	return false;
}

/* ---- elementwise groups -------------------------------------------------
 * A tree of f32 elementwise nodes of one output shape, each but the last
 * feeding only the next, with the data movement between them (Transpose,
 * constant Slice, Expand, Concat, read only inside the group), gets
 * attribute fuse_group = id on every member: codegen computes it as one
 * loop (codegen/lower_ew.c; with a row reduction codegen/lower_rows.c),
 * the movement as index arithmetic of the loads. */
static bool ew_op(int op)
{
	switch (op) {
	case OP_Add: case OP_Sub: case OP_Mul: case OP_Div: case OP_Pow:
		return true;
	case OP_Neg: case OP_Sqrt: case OP_Exp: case OP_Log: case OP_Abs: case OP_Reciprocal:
	case OP_Sigmoid: case OP_Tanh: case OP_Relu: case OP_Erf: case OP_Gelu: case OP_Sin:
	case OP_Cos:
		return true;
	}
	return false;
}

static bool ew_node(const Graph *g, const Node *n)
{
	bool bin = n->op == OP_Add || n->op == OP_Sub || n->op == OP_Mul || n->op == OP_Div ||
	           n->op == OP_Pow;
	if (n->dead || !ew_op(n->op) || n->nout != 1 || n->nin != (bin ? 2 : 1) ||
	    !is_f32(g, n->out[0]) || ir_attr(n, "fuse_group"))
		return false;
	for (int j = 0; j < n->nin; j++)
		if (!is_f32(g, n->in[j]))
			return false;
	return true;
}

static void set_group(Graph *g, uint32_t ni, int64_t id)
{
	Attr *a = ir_attr_add(g, ni, "fuse_group", AK_INT);
	a->i = id;
}

/* Can a reshape from xs to ys be index arithmetic (codegen/lower_ew.c)?
 * Only dims of size 1 added or removed, or both shapes static. */
static bool view_ok(const Shape *xs, const Shape *ys)
{
	int a = 0, b = 0;
	for (;;) {
		while (a < xs->rank && xs->d[a] == 1)
			a++;
		while (b < ys->rank && ys->d[b] == 1)
			b++;
		if (a == xs->rank || b == ys->rank || xs->d[a] != ys->d[b])
			break;
		a++;
		b++;
	}
	if (a == xs->rank && b == ys->rank)
		return true;
	int64_t nx = 1, ny = 1;
	for (int d = 0; d < xs->rank; d++)
		nx = xs->d[d] < 0 || nx < 0 ? -1 : nx * xs->d[d];
	for (int d = 0; d < ys->rank; d++)
		ny = ys->d[d] < 0 || ny < 0 ? -1 : ny * ys->d[d];
	return nx >= 0 && nx == ny;
}

/* Data movement that a group computes as index arithmetic of its consumer
 * (codegen/lower_ew.c): Transpose, Slice with constant parameters, Expand
 * to its inferred shape, Concat, the Reshape family (view_ok). Every output
 * element is one load. */
static bool move_node(const Graph *g, const Node *n)
{
	if (n->dead || n->nout != 1 || n->nin < 1 || !is_f32(g, n->out[0]) ||
	    ir_attr(n, "fuse_group"))
		return false;
	switch (n->op) {
	case OP_Transpose:
		return n->nin == 1 && is_f32(g, n->in[0]);
	case OP_Slice:
		for (int j = 1; j < n->nin; j++)
			if (n->in[j] != IR_NONE && g->val[n->in[j]].kind != VK_CONST)
				return false;
		return is_f32(g, n->in[0]);
	case OP_Expand:
		return n->nin == 2 && is_f32(g, n->in[0]) &&
		       g->val[n->in[0]].shape.rank <= g->val[n->out[0]].shape.rank;
	case OP_Reshape: case OP_Squeeze: case OP_Unsqueeze: case OP_Flatten:
		return is_f32(g, n->in[0]) && view_ok(&g->val[n->in[0]].shape, &g->val[n->out[0]].shape);
	case OP_Concat:
		for (int j = 0; j < n->nin; j++)
			if (n->in[j] == IR_NONE || !is_f32(g, n->in[j]) ||
			    g->val[n->in[j]].shape.rank != g->val[n->out[0]].shape.rank)
				return false;
		return true;
	}
	return false;
}

/* The inputs of member n that the group reads as data. */
static int data_inputs(const Node *n)
{
	return n->op == OP_Slice || n->op == OP_Expand || n->op == OP_Reshape ||
	       n->op == OP_Squeeze || n->op == OP_Unsqueeze ? 1 : n->nin;
}

/* Is n a sum or mean over the last axis of a tensor of root r's shape,
 * keeping the axis (f32)? Such a reduction can join the group of r as a
 * row reduction: codegen computes one row of it in a private accumulator,
 * then the row's epilogue once, then the root's row (codegen/lower_rows.c). */
static bool row_red(const Graph *g, const Node *n, const Value *rv)
{
	if (n->dead || (n->op != OP_ReduceMean && n->op != OP_ReduceSum) || n->nout != 1 ||
	    n->nin < 1 || !is_f32(g, n->in[0]) || !is_f32(g, n->out[0]) || ir_attr(n, "fuse_group") ||
	    !ir_attr_i(n, "keepdims", 1) || !pass_same_type(&g->val[n->in[0]], rv))
		return false;
	int r = rv->shape.rank;
	if (r < 1 || rv->shape.d[r - 1] == 1)
		return false;
	int64_t ax;
	bool axes_in = n->opset >= 18 || (n->op == OP_ReduceSum && n->opset >= 13);
	if (axes_in) {
		if (n->nin < 2 || n->in[1] >= g->nval)
			return false;
		const Value *a = &g->val[n->in[1]];
		if (a->kind != VK_CONST || !a->data || (a->dt != DT_I64 && a->dt != DT_I32) ||
		    a->shape.rank != 1 || a->shape.d[0] != 1)
			return false;
		ax = dt_load_i(a->dt, a->data, 0);
	} else {
		const int64_t *a;
		if (ir_attr_ints(n, "axes", &a) != 1)
			return false;
		ax = a[0];
	}
	if (ax != -1 && ax != r - 1)
		return false;
	const Shape *os = &g->val[n->out[0]].shape;
	if (os->rank != r || os->d[r - 1] != 1)
		return false;
	for (int d = 0; d < r - 1; d++)
		if (os->d[d] != rv->shape.d[d])
			return false;
	return true;
}

/* Has x the shape of one row of rv's rows (rv's shape, last dim 1)? */
static bool row_shaped(const Value *x, const Value *rv)
{
	int r = rv->shape.rank;
	if (x->shape.rank != r || r < 1 || x->shape.d[r - 1] != 1 || x->dt != DT_F32)
		return false;
	for (int d = 0; d < r - 1; d++)
		if (x->shape.d[d] != rv->shape.d[d])
			return false;
	return true;
}

/* Does row-shaped v come from a row reduction through single-use
 * elementwise nodes of the row's shape? */
static bool leads_to_red(const Graph *g, uint32_t v, const Value *rv, const uint32_t *uses,
                         int depth)
{
	if (v >= g->nval || depth > 16 || g->val[v].kind != VK_NODE || !row_shaped(&g->val[v], rv))
		return false;
	const Node *m = &g->node[g->val[v].def];
	if (row_red(g, m, rv))
		return true;
	if (!ew_node(g, m) || uses[v] != 1)
		return false;
	for (int j = 0; j < m->nin; j++)
		if (leads_to_red(g, m->in[j], rv, uses, depth + 1))
			return true;
	return false;
}

/* Grow the group of root r: a producer joins when every use of its output
 * is inside the group. An elementwise producer must have one use, of its
 * own shape (no broadcast: each element computed once), and not below a
 * member whose elements are read more than once (a movement node with
 * several uses, an Expand); a movement producer may have several uses (they
 * are loads). mark[i]: 0 outside, 1 member, 2 member read more than once,
 * 3 a row-shaped epilogue of a row reduction, 4 the reduction's prologue
 * (one row reduction per group, and then no movement members).
 * Returns the members added. */
static int grow(Graph *g, uint32_t r, const uint32_t *uses, uint32_t *muse, uint8_t *mark,
                uint32_t *ml, int64_t id)
{
	int nm = 0;
	const Value *rv = &g->val[g->node[r].out[0]];
	uint32_t red = UINT32_MAX;
	bool has_move = false;
	mark[r] = 1;
	ml[nm++] = r;
	for (int j = 0; j < g->node[r].nin; j++)
		if (g->node[r].in[j] < g->nval)
			muse[g->node[r].in[j]]++;
	bool changed = true;
	while (changed) {
		changed = false;
		for (int q = 0; q < nm && nm < GROUP_MAX; q++) {
			uint32_t c = ml[q];
			const Node *cn = &g->node[c];
			int nd = data_inputs(cn);
			for (int j = 0; j < nd && nm < GROUP_MAX; j++) {
				uint32_t v = cn->in[j];
				if (v >= g->nval)
					continue;
				const Value *x = &g->val[v];
				if (x->kind != VK_NODE || x->def >= g->nnode || mark[x->def] ||
				    muse[v] != uses[v] || pass_is_graph_output(g, v))
					continue;
				uint32_t m = x->def;
				const Node *mn = &g->node[m];
				uint8_t mk, mc = mark[c];
				bool cew = ew_op(cn->op);
				if (ew_node(g, mn)) {
					if (uses[v] != 1 || mc == 2 || cn->op == OP_Expand)
						continue;
					if (!cew || pass_same_type(x, &g->val[cn->out[0]]))
						mk = mc;   /* same shape as its consumer (or under movement) */
					else if (mc == 1 && !has_move && pass_same_type(&g->val[cn->out[0]], rv) &&
					         row_shaped(x, rv) && leads_to_red(g, v, rv, uses, 0))
						mk = 3;    /* a row's epilogue, computed once per row */
					else
						continue;
				} else if (move_node(g, mn)) {
					if (mc > 2 || red != UINT32_MAX)
						continue;
					mk = uses[v] > 1 || mc == 2 || cn->op == OP_Expand ? 2 : 1;
					has_move = true;
				} else if (row_red(g, mn, rv)) {
					/* (not under a Concat root: its lowering has no row kernel) */
					if ((mc != 3 && !(mc == 1 && cew)) || has_move || !ew_op(g->node[r].op) ||
					    (red != UINT32_MAX && red != m))
						continue;
					red = m;
					mk = 4;    /* its input: the row's prologue */
				} else {
					continue;
				}
				mark[m] = mk;
				ml[nm++] = m;
				for (int t = 0; t < mn->nin; t++)
					if (mn->in[t] < g->nval)
						muse[mn->in[t]]++;
				changed = true;
			}
		}
	}
	/* members get the id; the scratch marks are cleared for the next root */
	for (int q = 0; q < nm; q++) {
		const Node *mn = &g->node[ml[q]];
		for (int t = 0; t < mn->nin; t++)
			if (mn->in[t] < g->nval)
				muse[mn->in[t]] = 0;
		mark[ml[q]] = 0;
		if (q > 0)
			set_group(g, ml[q], id);
	}
	return nm - 1;
}

/* ---- row ops with a prologue --------------------------------------------
 * A LayerNormalization over the last axis (Mean/InvStdDev unused, Scale and
 * B of shape [N]) or a Softmax / LogSoftmax over the last axis, f32, takes
 * the elementwise chain computing its input X into its group: members of
 * X's shape, each read once inside the group (a residual sum, a scale and
 * mask: Softmax(x * c + mask)). X's producer may have users outside the
 * group when all of them come after the root and it is no graph output:
 * it gets `fuse_out = 1` and the root's row kernel also writes it (the
 * transformer residual stream: h = x + r; LayerNorm(h); ... h ...).
 * codegen/lower_rowop.c lowers the group as one row kernel. Off on device
 * targets (their row kernels read X from memory). */
static bool rowop_root(const Graph *g, const Node *n, const uint32_t *uses)
{
	if (n->dead || n->nin < 1 || n->nout < 1 || !is_f32(g, n->in[0]) || !is_f32(g, n->out[0]) ||
	    ir_attr(n, "fuse_group"))
		return false;
	const Shape *xs = &g->val[n->in[0]].shape;
	int r = xs->rank;
	if (r < 1 || xs->d[r - 1] == 1)
		return false;
	if (n->op == OP_LayerNormalization) {
		int64_t ax = ir_attr_i(n, "axis", -1);
		if ((ax != -1 && ax != r - 1) || n->nin < 2 || n->nin > 3)
			return false;
		for (int o = 1; o < n->nout; o++)
			if (n->out[o] != IR_NONE && (uses[n->out[o]] || pass_is_graph_output(g, n->out[o])))
				return false;
		for (int j = 1; j < n->nin; j++) {
			uint32_t v = n->in[j];
			if (v == IR_NONE)
				continue;
			if (!is_f32(g, v) || g->val[v].shape.rank != 1 || g->val[v].shape.d[0] != xs->d[r - 1])
				return false;
		}
		return true;
	}
	if (n->op == OP_Softmax || n->op == OP_LogSoftmax) {
		int64_t ax = ir_attr_i(n, "axis", n->opset >= 13 ? -1 : 1);
		return n->nout == 1 && n->nin == 1 && (ax == -1 || ax == r - 1);
	}
	return false;
}

/* Grow the group of row op r (rowop_root) over its input's elementwise
 * chain; returns the members added (0: no group). */
static int grow_rowop(Graph *g, uint32_t r, const uint32_t *uses, uint32_t *ml, int64_t id)
{
	const Node *rn = &g->node[r];
	uint32_t x = rn->in[0];
	const Value *xv = &g->val[x];
	if (xv->kind != VK_NODE || xv->def >= r || !ew_node(g, &g->node[xv->def]) ||
	    pass_is_graph_output(g, x))
		return 0;
	for (int j = 1; j < rn->nin; j++)
		if (rn->in[j] == x)
			return 0;
	bool store = uses[x] != 1;
	for (uint32_t i = xv->def + 1; store && i < r; i++) {
		const Node *m = &g->node[i];
		for (int j = 0; j < m->nin && !m->dead; j++)
			if (m->in[j] == x)
				return 0;   /* a user before the root: the value must exist there */
	}
	int nm = 0;
	ml[nm++] = xv->def;
	for (int q = 0; q < nm && nm < GROUP_MAX; q++) {
		const Node *cn = &g->node[ml[q]];
		for (int j = 0; j < cn->nin && nm < GROUP_MAX; j++) {
			uint32_t v = cn->in[j];
			if (v >= g->nval || g->val[v].kind != VK_NODE || uses[v] != 1 ||
			    pass_is_graph_output(g, v) || !pass_same_type(&g->val[v], xv))
				continue;
			uint32_t m = g->val[v].def;
			if (!ew_node(g, &g->node[m]))
				continue;
			bool seen = false;
			for (int i = 0; i < nm; i++)
				seen |= ml[i] == m;
			if (!seen)
				ml[nm++] = m;
		}
	}
	for (int q = 0; q < nm; q++)
		set_group(g, ml[q], id);
	if (store) {
		Attr *a = ir_attr_add(g, ml[0], "fuse_out", AK_INT);
		a->i = 1;
	}
	set_group(g, r, id);
	return nm;
}

static bool ew_groups(Graph *g, PassCtx *ctx)
{
	uint32_t *uses = pass_use_counts(g);
	uint32_t *muse = calloc(g->nval + 1, sizeof *muse);
	uint32_t *ml = calloc(g->nnode + 1, sizeof *ml);
	uint8_t *mark = calloc(g->nnode + 1, 1);
	bool any = false;
	if (!uses || !muse || !mark || !ml)
		goto out;
	int64_t id = 0;
	for (uint32_t i = 0; i < g->nnode; i++) {
		const Attr *a = ir_attr(&g->node[i], "fuse_group");
		if (a && a->i >= id)
			id = a->i + 1;
	}
	for (uint32_t i = g->nnode; i-- > 0;) {
		if (!ctx->device && rowop_root(g, &g->node[i], uses)) {
			int n = grow_rowop(g, i, uses, ml, id);
			if (n) {
				id++;
				ctx->merged += (uint32_t)n;
				any = true;
			}
			continue;
		}
		/* a Concat roots a group too: its inputs' producers are computed into
		 * their slices of its output (codegen/lower_ew.c lw_concat_group) */
		bool cat = !ctx->device && g->node[i].op == OP_Concat && move_node(g, &g->node[i]);
		if (!cat && !ew_node(g, &g->node[i]))
			continue;
		int n = grow(g, i, uses, muse, mark, ml, id);
		if (n) {
			set_group(g, i, id++);
			ctx->merged += (uint32_t)n;
			any = true;
		}
	}
out:
	free(uses);
	free(muse);
	free(ml);
	free(mark);
	return any;
}

bool pass_fuse(Graph *g, PassCtx *ctx)
{
	bool any = false;
	for (uint32_t i = 0; i < g->nnode; i++)
		if (!g->node[i].dead && (gelu_at(g, i) || gelu_tanh_at(g, i))) {
			any = true;
			ctx->merged++;
		}
	for (int round = 0; round < 4; round++) {
		bool changed = false;
		for (uint32_t i = 0; i < g->nnode; i++)
			if (!g->node[i].dead && epilogue_at(g, i)) {
				changed = true;
				ctx->merged++;
			}
		any |= changed;
		if (!changed)
			break;
	}
	any |= ew_groups(g, ctx);
	return any;
}
