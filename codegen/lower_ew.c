/* Loop lowering of elementwise ops: unary math and activations, binary
 * arithmetic/logic/compare with numpy broadcasting, variadic Max/Min/Mean/
 * Sum, Where, Clip, Cast/CastLike. Broadcasting is index arithmetic. */
#include <math.h>
#include <string.h>
#include "lower.h"
#include "gpu.h"

/* node ids ascending (graph order); insertion sort, n is small */
void cg_sort_nodes(uint32_t *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint32_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

static int cf(Kernel *k, int ty, double v) { return kir_const_t(k, ty, v); }
static int bin(Kernel *k, int fn, int a, int b) { return kir_bin(k, fn, a, b); }

/* value of a unary op applied to x (compute type ty) */
static int unary(Kernel *k, const Node *n, int x, int ty)
{
	switch (n->op) {
	case OP_Abs: return kir_un(k, KU_ABS, x);
	case OP_Acos: return kir_un(k, KU_ACOS, x);
	case OP_Acosh: return kir_un(k, KU_ACOSH, x);
	case OP_Asin: return kir_un(k, KU_ASIN, x);
	case OP_Asinh: return kir_un(k, KU_ASINH, x);
	case OP_Atan: return kir_un(k, KU_ATAN, x);
	case OP_Atanh: return kir_un(k, KU_ATANH, x);
	case OP_Ceil: return kir_un(k, KU_CEIL, x);
	case OP_Cos: return kir_un(k, KU_COS, x);
	case OP_Cosh: return kir_un(k, KU_COSH, x);
	case OP_Erf: return kir_un(k, KU_ERF, x);
	case OP_Exp: return kir_un(k, KU_EXP, x);
	case OP_Floor: return kir_un(k, KU_FLOOR, x);
	case OP_Log: return kir_un(k, KU_LOG, x);
	case OP_Neg: return kir_un(k, KU_NEG, x);
	case OP_Reciprocal: return kir_un(k, KU_RECIP, x);
	case OP_Round: return kir_un(k, KU_ROUND, x);
	case OP_Sign: return kir_un(k, KU_SIGN, x);
	case OP_Sin: return kir_un(k, KU_SIN, x);
	case OP_Sinh: return kir_un(k, KU_SINH, x);
	case OP_Sqrt: return kir_un(k, KU_SQRT, x);
	case OP_Tan: return kir_un(k, KU_TAN, x);
	case OP_Tanh: return kir_un(k, KU_TANH, x);
	case OP_Not: return kir_un(k, KU_NOT, x);
	case OP_BitwiseNot: return kir_un(k, KU_BNOT, x);
	case OP_IsNaN: return kir_un(k, KU_ISNAN, x);
	case OP_IsInf: {
		bool pos = ir_attr_i(n, "detect_positive", 1), neg = ir_attr_i(n, "detect_negative", 1);
		if (pos && neg)
			return bin(k, KB_OR, kir_un(k, KU_ISPINF, x), kir_un(k, KU_ISNINF, x));
		if (pos)
			return kir_un(k, KU_ISPINF, x);
		if (neg)
			return kir_un(k, KU_ISNINF, x);
		return kir_cast(k, DT_BOOL, cf(k, DT_I64, 0));
	}
	case OP_Relu: return bin(k, KB_MAX, x, cf(k, ty, 0));
	case OP_Sigmoid:
		return bin(k, KB_DIV, cf(k, ty, 1),
		           bin(k, KB_ADD, cf(k, ty, 1), kir_un(k, KU_EXP, kir_un(k, KU_NEG, x))));
	case OP_Softplus: return kir_un(k, KU_LOG1P, kir_un(k, KU_EXP, x));
	case OP_Softsign:
		return bin(k, KB_DIV, x, bin(k, KB_ADD, cf(k, ty, 1), kir_un(k, KU_ABS, x)));
	case OP_LeakyRelu: {
		double a = ir_attr_f(n, "alpha", 0.01);
		return kir_sel(k, bin(k, KB_LT, x, cf(k, ty, 0)), bin(k, KB_MUL, x, cf(k, ty, a)), x);
	}
	case OP_Elu: {
		double a = ir_attr_f(n, "alpha", 1.0);
		int neg = bin(k, KB_MUL, cf(k, ty, a), bin(k, KB_SUB, kir_un(k, KU_EXP, x), cf(k, ty, 1)));
		return kir_sel(k, bin(k, KB_LT, x, cf(k, ty, 0)), neg, x);
	}
	case OP_Celu: {
		double a = ir_attr_f(n, "alpha", 1.0);
		int e = bin(k, KB_MUL, cf(k, ty, a), bin(k, KB_SUB,
		            kir_un(k, KU_EXP, bin(k, KB_DIV, x, cf(k, ty, a))), cf(k, ty, 1)));
		return bin(k, KB_ADD, bin(k, KB_MAX, x, cf(k, ty, 0)), bin(k, KB_MIN, e, cf(k, ty, 0)));
	}
	case OP_Selu: {
		double a = ir_attr_f(n, "alpha", 1.67326319217681884765625);
		double gm = ir_attr_f(n, "gamma", 1.05070102214813232421875);
		int neg = bin(k, KB_SUB, bin(k, KB_MUL, cf(k, ty, a), kir_un(k, KU_EXP, x)), cf(k, ty, a));
		int v = kir_sel(k, bin(k, KB_GT, x, cf(k, ty, 0)), x, neg);
		return bin(k, KB_MUL, cf(k, ty, gm), v);
	}
	case OP_HardSigmoid: {
		double a = ir_attr_f(n, "alpha", 0.2), b = ir_attr_f(n, "beta", 0.5);
		int v = bin(k, KB_ADD, bin(k, KB_MUL, x, cf(k, ty, a)), cf(k, ty, b));
		return bin(k, KB_MAX, cf(k, ty, 0), bin(k, KB_MIN, cf(k, ty, 1), v));
	}
	case OP_HardSwish: {
		int v = bin(k, KB_ADD, bin(k, KB_MUL, x, cf(k, ty, 1.0 / 6)), cf(k, ty, 0.5));
		return bin(k, KB_MUL, x, bin(k, KB_MAX, cf(k, ty, 0), bin(k, KB_MIN, cf(k, ty, 1), v)));
	}
	case OP_Swish: {        /* x * sigmoid(alpha * x) */
		int ax = bin(k, KB_MUL, x, cf(k, ty, ir_attr_f(n, "alpha", 1.0)));
		return bin(k, KB_DIV, x, bin(k, KB_ADD, cf(k, ty, 1), kir_un(k, KU_EXP, kir_un(k, KU_NEG, ax))));
	}
	case OP_Mish:
		return bin(k, KB_MUL, x, kir_un(k, KU_TANH, kir_un(k, KU_LOG1P, kir_un(k, KU_EXP, x))));
	case OP_Gelu: {
		const char *ap = ir_attr_s(n, "approximate", "none");
		if (strcmp(ap, "tanh") == 0) {
			int x3 = bin(k, KB_MUL, bin(k, KB_MUL, x, x), x);
			int in = bin(k, KB_MUL, cf(k, ty, 0.79788456080286535588),
			             bin(k, KB_ADD, x, bin(k, KB_MUL, cf(k, ty, 0.044715), x3)));
			return bin(k, KB_MUL, bin(k, KB_MUL, cf(k, ty, 0.5), x),
			           bin(k, KB_ADD, cf(k, ty, 1), kir_un(k, KU_TANH, in)));
		}
		int e = kir_un(k, KU_ERF, bin(k, KB_MUL, x, cf(k, ty, 0.70710678118654752440)));
		return bin(k, KB_MUL, bin(k, KB_MUL, cf(k, ty, 0.5), x), bin(k, KB_ADD, cf(k, ty, 1), e));
	}
	case OP_ThresholdedRelu: {
		double a = ir_attr_f(n, "alpha", 1.0);
		return kir_sel(k, bin(k, KB_GT, x, cf(k, ty, a)), x, cf(k, ty, 0));
	}
	case OP_Shrink: {
		double b = ir_attr_f(n, "bias", 0.0), l = ir_attr_f(n, "lambd", 0.5);
		int hi = kir_sel(k, bin(k, KB_GT, x, cf(k, ty, l)), bin(k, KB_SUB, x, cf(k, ty, b)),
		                 cf(k, ty, 0));
		return kir_sel(k, bin(k, KB_LT, x, cf(k, ty, -l)), bin(k, KB_ADD, x, cf(k, ty, b)), hi);
	}
	}
	return -1;
}

static int binary_fn(const Node *n, int ty)
{
	switch (n->op) {
	case OP_Add: return KB_ADD;
	case OP_Sub: return KB_SUB;
	case OP_Mul: return KB_MUL;
	case OP_Div: return KB_DIV;
	case OP_Pow: return KB_POW;
	case OP_Mod:
		return ir_attr_i(n, "fmod", 0) ? KB_FMOD : KB_MOD;
	case OP_BitwiseAnd: return KB_BAND;
	case OP_BitwiseOr: return KB_BOR;
	case OP_BitwiseXor: return KB_BXOR;
	case OP_And: return KB_AND;
	case OP_Or: return KB_OR;
	case OP_Xor: return KB_XOR;
	case OP_Equal: return KB_EQ;
	case OP_Greater: return KB_GT;
	case OP_GreaterOrEqual: return KB_GE;
	case OP_Less: return KB_LT;
	case OP_LessOrEqual: return KB_LE;
	case OP_BitShift:      /* unsigned (ONNX); signed ones are reference calls (ir/ref_elem.c) */
		if (ty != DT_U8 && ty != DT_U16 && ty != DT_U32 && ty != DT_U64)
			return -1;
		return strcmp(ir_attr_s(n, "direction", ""), "LEFT") == 0 ? KB_SHL : KB_SHR;
	}
	(void)ty;
	return -1;
}

static bool is_unary(int op)
{
	return ((op >= OP_Abs && op <= OP_IsInf) && op != OP_Identity) || op == OP_Swish;
}

static bool is_binary(int op)
{
	return op >= OP_Add && op <= OP_LessOrEqual && op != OP_PRelu;
}

/* The value of node n at the current nest position, from operand loads
 * xs[] (already in compute types). */
static int value(Kernel *k, const Node *n, Graph *g, const int *xs, int nx)
{
	int oty = kir_ty(g->val[n->out[0]].dt);
	int ity = n->nin && n->in[0] != IR_NONE ? kir_ty(g->val[n->in[0]].dt) : oty;
	if (is_unary(n->op))
		return unary(k, n, xs[0], ity);
	if (n->op == OP_PRelu)
		return kir_sel(k, bin(k, KB_LT, xs[0], cf(k, ity, 0)), bin(k, KB_MUL, xs[0], xs[1]),
		               xs[0]);
	if (n->op == OP_Pow) {
		if (!dt_is_float(ity))   /* integer base: compute in f64, truncate back */
			return kir_cast(k, ity, bin(k, KB_POW, kir_cast(k, DT_F64, xs[0]),
			                               kir_cast(k, DT_F64, xs[1])));
		const Value *e = n->nin > 1 && n->in[1] != IR_NONE ? &g->val[n->in[1]] : NULL;
		if (e && e->kind == VK_CONST && e->data && shape_numel_static(&e->shape) == 1 &&
		    dt_load_f(e->dt, e->data, 0) == 2.0)   /* x^2, exactly as pow rounds it */
			return bin(k, KB_MUL, xs[0], xs[0]);
		return bin(k, KB_POW, xs[0], kir_cast(k, ity, xs[1]));
	}
	if (is_binary(n->op)) {
		int fn = binary_fn(n, ity);
		if (fn == KB_FMOD && !dt_is_float(ity))
			fn = KB_FMOD;   /* C remainder: sign of the dividend */
		return bin(k, fn, xs[0], xs[1]);
	}
	switch (n->op) {
	case OP_Max: case OP_Min: case OP_Sum: case OP_Mean: {
		int fn = n->op == OP_Max ? KB_MAX : n->op == OP_Min ? KB_MIN : KB_ADD;
		int v = xs[0];
		for (int i = 1; i < nx; i++)
			v = bin(k, fn, v, xs[i]);
		if (n->op == OP_Mean)
			v = bin(k, KB_DIV, v, cf(k, ity, nx));
		return v;
	}
	case OP_Where:
		return kir_sel(k, xs[0], xs[1], xs[2]);
	case OP_Clip: {
		int v = xs[0];
		if (n->opset < 11) {
			double lo = ir_attr_f(n, "min", -INFINITY), hi = ir_attr_f(n, "max", INFINITY);
			if (!isinf(lo))
				v = bin(k, KB_MAX, v, cf(k, ity, lo));
			if (!isinf(hi))
				v = bin(k, KB_MIN, v, cf(k, ity, hi));
			return v;
		}
		if (nx > 1 && xs[1] >= 0)
			v = bin(k, KB_MAX, v, xs[1]);
		if (nx > 2 && xs[2] >= 0)
			v = bin(k, KB_MIN, v, xs[2]);
		return v;
	}
	case OP_Cast: case OP_CastLike:
		if (oty == DT_BOOL)
			return bin(k, KB_NE, xs[0], cf(k, ity, 0));
		return kir_cast(k, oty, xs[0]);
	}
	return -1;
}

static bool handled(int op)
{
	if (is_unary(op) || is_binary(op) || op == OP_PRelu)
		return true;
	switch (op) {
	case OP_Max: case OP_Min: case OP_Sum: case OP_Mean: case OP_Where: case OP_Clip:
	case OP_Cast: case OP_CastLike:
		return true;
	}
	return false;
}

bool cg_is_elementwise(int op)
{
	return handled(op);
}

/* ---- fused elementwise groups (attribute fuse_group, passes/fuse.c) ----
 * Every member but the last (the root) feeds one other member of the same
 * shape; the root's loop computes the members inline instead of loading
 * their outputs, which are never stored. */
static int64_t group_of(const Node *n)
{
	const Attr *a = ir_attr(n, "fuse_group");
	return a && a->kind == AK_INT ? a->i : -1;
}

static bool ew_simple(const Graph *g, const Node *n)
{
	if (n->dead || n->nout != 1 || g->val[n->out[0]].dt != DT_F32 || n->nin < 1 || n->nin > 2 ||
	    (n->nin == 1 ? !is_unary(n->op) : !is_binary(n->op)))
		return false;
	for (int j = 0; j < n->nin; j++)
		if (n->in[j] == IR_NONE || g->val[n->in[j]].dt != DT_F32)
			return false;
	return true;
}

/* The node consuming n's output inside its group, or NULL. */
static const Node *group_user(const Graph *g, uint32_t ni)
{
	const Node *n = &g->node[ni];
	int64_t gid = group_of(n);
	if (gid < 0)
		return NULL;
	for (uint32_t i = ni + 1; i < g->nnode; i++) {
		const Node *m = &g->node[i];
		if (m->dead)
			continue;
		for (int j = 0; j < m->nin; j++)
			if (m->in[j] == n->out[0])
				return group_of(m) == gid && ew_simple(g, m) ? m : NULL;
	}
	return NULL;
}

static bool is_member(const Graph *g, uint32_t ni)
{
	const Node *n = &g->node[ni], *u = group_user(g, ni);
	return u && ew_simple(g, n) && g->val[n->out[0]].shape.rank == g->val[u->out[0]].shape.rank &&
	       memcmp(g->val[n->out[0]].shape.d, g->val[u->out[0]].shape.d,
	              (size_t)g->val[u->out[0]].shape.rank * sizeof(Dim)) == 0;
}

/* Does row op m (lower_rowop.c) read v as its input X only? */
static bool rowop_input(const Node *m, uint32_t v)
{
	if (m->op != OP_LayerNormalization && m->op != OP_Softmax && m->op != OP_LogSoftmax)
		return false;
	for (int j = 0; j < m->nin; j++)
		if ((m->in[j] == v) != (j == 0))
			return false;
	return m->nin > 0;
}

/* A node of a group whose every use is inside the group (the group's root
 * is the one that is not): its value is computed in the root's loop. A
 * member with `fuse_out = 1` (X of a row op, passes/fuse.c) may have later
 * users outside: the root's kernel also writes it (lower_rowop.c). */
bool cg_group_member(const Graph *g, uint32_t ni)
{
	if (ni >= g->nnode)
		return false;
	const Node *n = &g->node[ni];
	int64_t gid = group_of(n);
	if (gid < 0 || n->dead || n->nout != 1)
		return false;
	bool stored = ir_attr_i(n, "fuse_out", 0) != 0;
	uint32_t v = n->out[0];
	for (uint32_t o = 0; o < g->nout; o++)
		if (g->out[o] == v)
			return false;
	int users = 0;
	for (uint32_t i = ni + 1; i < g->nnode; i++) {
		const Node *m = &g->node[i];
		if (m->dead)
			continue;
		bool uses = false;
		for (int j = 0; j < m->nin; j++)
			uses |= m->in[j] == v;
		for (int j = 0; j < m->nattr; j++)
			uses |= m->attr[j].kind == AK_TENSOR && m->attr[j].t == v;
		if (uses) {
			if (group_of(m) == gid) {
				users++;
				if (stored && !rowop_input(m, v))
					return false;
			} else if (!stored || !users) {
				return false;   /* a stored value's other users follow its root */
			}
		}
	}
	return users == 1 || (users > 1 && !stored);
}

static int data_ins(const Node *n)
{
	return n->op == OP_Slice || n->op == OP_Expand || cg_is_alias_op(n->op) ? 1 : n->nin;
}

/* The members of root's group, in node order (they precede the root):
 * the producers reachable from the root through members. */
static int group_members(const Graph *g, uint32_t root, uint32_t *mem, int max)
{
	int64_t gid = group_of(&g->node[root]);
	int nm = 0;
	uint32_t st[256];
	int sp = 0;
	st[sp++] = root;
	while (sp > 0) {
		const Node *c = &g->node[st[--sp]];
		for (int j = 0; j < data_ins(c); j++) {
			uint32_t v = c->in[j];
			if (v >= g->nval || g->val[v].kind != VK_NODE)
				continue;
			uint32_t m = g->val[v].def;
			if (m >= root || group_of(&g->node[m]) != gid)
				continue;
			bool seen = false;
			for (int i = 0; i < nm && !seen; i++)
				seen = mem[i] == m;
			if (seen || !cg_group_member(g, m))
				continue;
			if (nm >= max || sp >= 256)
				return -1;
			mem[nm++] = m;
			st[sp++] = m;
		}
	}
	cg_sort_nodes(mem, nm);
	return nm;
}

/* Only elementwise members of the root's shape: the merged-loop lowering. */
static bool group_plain(const Graph *g, uint32_t root, const uint32_t *mem, int nm)
{
	const Shape *rs = &g->val[g->node[root].out[0]].shape;
	for (int i = 0; i < nm; i++) {
		const Node *m = &g->node[mem[i]];
		const Shape *s = &g->val[m->out[0]].shape;
		if (!ew_simple(g, m) || s->rank != rs->rank ||
		    memcmp(s->d, rs->d, (size_t)rs->rank * sizeof(Dim)))
			return false;
	}
	return true;
}

/* Leaves (values loaded from memory) of the group expression at v. */
static bool leaves(const Graph *g, uint32_t v, int64_t gid, uint32_t *lv, int *nl)
{
	const Value *x = &g->val[v];
	if (x->kind == VK_NODE && group_of(&g->node[x->def]) == gid && is_member(g, x->def)) {
		const Node *m = &g->node[x->def];
		for (int j = 0; j < m->nin; j++)
			if (!leaves(g, m->in[j], gid, lv, nl))
				return false;
		return true;
	}
	for (int i = 0; i < *nl; i++)
		if (lv[i] == v)
			return true;
	if (*nl >= 8)
		return false;
	lv[(*nl)++] = v;
	return true;
}

static int expr(Low *L, Kernel *k, Nest *ne, uint32_t v, int64_t gid, const uint32_t *lv, int nl)
{
	Graph *g = L->g;
	const Value *x = &g->val[v];
	if (x->kind == VK_NODE && group_of(&g->node[x->def]) == gid && is_member(g, x->def)) {
		const Node *m = &g->node[x->def];
		int xs[2];
		for (int j = 0; j < m->nin; j++)
			if ((xs[j] = expr(L, k, ne, m->in[j], gid, lv, nl)) < 0)
				return -1;
		return value(k, m, g, xs, m->nin);
	}
	for (int i = 0; i < nl; i++)
		if (lv[i] == v)
			return kir_load(k, v, nest_index(L, k, ne, i));
	return -1;
}

static int lower_ew_one(Low *L, Node *n);

/* The root of a group: one loop over its output; LW_CALL if not possible. */
static int lower_group(Low *L, Node *n)
{
	Graph *g = L->g;
	int64_t gid = group_of(n);
	uint32_t lv[8];
	int nl = 0;
	for (int j = 0; j < n->nin; j++)
		if (!leaves(g, n->in[j], gid, lv, &nl))
			return LW_CALL;
	const Value *out = &g->val[n->out[0]];
	Shape ops[8];
	for (int i = 0; i < nl; i++) {
		ops[i] = g->val[lv[i]].shape;
		if (ops[i].rank > out->shape.rank)
			return LW_CALL;
	}
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	Nest ne;
	if (nest_build(L, k, &ne, &out->shape, ops, nl, true, -1, true) != LW_OK) {
		drop_last(L->p);
		return LW_CALL;
	}
	int xs[2];
	for (int j = 0; j < n->nin; j++)
		if ((xs[j] = expr(L, k, &ne, n->in[j], gid, lv, nl)) < 0) {
			drop_last(L->p);
			return LW_CALL;
		}
	int v = value(k, n, g, xs, n->nin);
	if (v < 0) {
		drop_last(L->p);
		return LW_CALL;
	}
	kir_store(k, ne.inner, false, (int)n->out[0], nest_out_index(L, k, &ne), v);
	return LW_OK;
}

/* ---- groups with data-movement members ---------------------------------
 * The root's loop nest has one loop per dim; each member is evaluated at
 * per-dim index expressions of its own output: an elementwise member maps
 * them to its operands by broadcasting, a Transpose permutes them, a Slice
 * takes start + i * step, an Expand broadcasts, a Concat selects the input
 * by the axis index (each input's index clamped into its own range, so no
 * load is out of bounds whichever way the select is computed). Values that
 * are not members are loaded at the row-major index of the result. */

/* Indices oi of an operand of shape s read by broadcasting into shape o at
 * indices idx; false when the shapes do not broadcast. */
static bool bcast_idx(Kernel *k, const Shape *s, const Shape *o, const int *idx, int *oi)
{
	if (s->rank > o->rank)
		return false;
	for (int d = 0; d < s->rank; d++) {
		int od = d + o->rank - s->rank;
		Dim sd = s->d[d], x = o->d[od];
		if (sd == x)
			oi[d] = idx[od];
		else if (sd == 1)
			oi[d] = kir_const_i(k, 0);
		else if (sd >= 0 && x >= 0)
			return false;
		else
			oi[d] = kir_sel(k, kir_bin(k, KB_EQ, kir_dim(k, sd), kir_const_i(k, 1)),
			                kir_const_i(k, 0), idx[od]);
	}
	return true;
}

static int gnode(Low *L, Kernel *k, uint32_t ni, const int *idx, int64_t gid, int depth);

static int nonneg(Kernel *k, int fn, int a, int b)   /* index div/mod, operands >= 0 */
{
	int e = kir_bin(k, fn, a, b);
	k->x[e].c = KX_NONNEG;
	return e;
}

/* Indices ii in xs of the element at indices idx of its reshape ys: dims of
 * size 1 added or removed map one to one; any other static reshape goes
 * through the row-major linear index. */
static bool reshape_idx(Low *L, Kernel *k, const Shape *xs, const Shape *ys, const int *idx,
                        int *ii)
{
	int a = 0, b = 0;
	bool ones = true;
	for (;;) {
		while (a < xs->rank && xs->d[a] == 1)
			ii[a++] = kir_const_i(k, 0);
		while (b < ys->rank && ys->d[b] == 1)
			b++;
		if (a == xs->rank || b == ys->rank)
			break;
		if (xs->d[a] != ys->d[b]) {
			ones = false;
			break;
		}
		ii[a++] = idx[b++];
	}
	if (ones && a == xs->rank && b == ys->rank)
		return true;
	if (shape_numel_static(xs) < 0 || shape_numel_static(ys) < 0)
		return false;
	int lin = row_major_index(L, k, ys, idx);
	for (int d = 0; d < xs->rank; d++) {
		int64_t st = 1;
		for (int e = d + 1; e < xs->rank; e++)
			st *= xs->d[e];
		int q = st == 1 ? lin : nonneg(k, KB_DIV, lin, kir_const_i(k, st));
		ii[d] = d == 0 ? q : nonneg(k, KB_MOD, q, kir_const_i(k, xs->d[d]));
	}
	return true;
}

/* Value v at per-dim indices idx (v's rank). */
static int gload(Low *L, Kernel *k, uint32_t v, const int *idx, int64_t gid, int depth)
{
	Graph *g = L->g;
	if (v >= g->nval || depth > 64)
		return -1;
	const Value *x = &g->val[v];
	if (x->kind == VK_NODE && group_of(&g->node[x->def]) == gid && cg_group_member(g, x->def))
		return gnode(L, k, x->def, idx, gid, depth + 1);
	return kir_load(k, v, row_major_index(L, k, &x->shape, idx));
}

static int gconcat(Low *L, Kernel *k, Node *n, const int *idx, int64_t gid, int depth)
{
	Graph *g = L->g;
	const Shape *ys = &g->val[n->out[0]].shape;
	int r = ys->rank;
	int64_t axis = ir_attr_i(n, "axis", 0);
	if (axis < 0)
		axis += r;
	if (axis < 0 || axis >= r || n->nin < 1 || n->nin > 64)
		return -1;
	Dim off[65];
	off[0] = 0;
	for (int j = 0; j < n->nin; j++) {
		if (n->in[j] == IR_NONE || g->val[n->in[j]].shape.rank != r)
			return -1;
		off[j + 1] = ir_dim_bin(g, DX_ADD, off[j], g->val[n->in[j]].shape.d[axis]);
	}
	int val = -1;
	for (int j = n->nin; j-- > 0;) {
		const Shape *xs = &g->val[n->in[j]].shape;
		if (xs->d[axis] == 0)
			continue;
		int ii[IR_MAXRANK];
		memcpy(ii, idx, (size_t)r * sizeof *ii);
		int a = idx[axis];
		if (off[j] != 0)
			a = kir_bin(k, KB_MAX, kir_bin(k, KB_SUB, a, kir_dim(k, off[j])), kir_const_i(k, 0));
		if (val >= 0)   /* not the last input: clamp from above too */
			a = kir_min(k, a, kir_bin(k, KB_SUB, kir_dim(k, xs->d[axis]), kir_const_i(k, 1)));
		ii[axis] = a;
		int x = gload(L, k, n->in[j], ii, gid, depth);
		if (x < 0)
			return -1;
		val = val < 0 ? x : kir_sel(k, kir_bin(k, KB_LT, idx[axis], kir_dim(k, off[j + 1])), x, val);
	}
	return val;
}

/* Member (or root) ni at indices idx of its output. */
static int gnode(Low *L, Kernel *k, uint32_t ni, const int *idx, int64_t gid, int depth)
{
	Graph *g = L->g;
	Node *n = &g->node[ni];
	const Shape *ys = &g->val[n->out[0]].shape;
	int ii[IR_MAXRANK];
	if (n->op == OP_Transpose || n->op == OP_Slice || n->op == OP_Expand) {
		const Shape *xs = &g->val[n->in[0]].shape;
		int64_t a[IR_MAXRANK], b[IR_MAXRANK];
		uint32_t save = L->nid;
		L->nid = ni;   /* errors name the member */
		int rc = n->op == OP_Transpose ? lw_transpose_perm(L, n, a)
		         : n->op == OP_Slice ? lw_slice_params(L, n, a, b) : LW_OK;
		L->nid = save;
		if (rc != LW_OK)
			return -1;
		if (n->op == OP_Transpose) {
			if (xs->rank != ys->rank)
				return -1;
			for (int d = 0; d < ys->rank; d++)
				ii[a[d]] = idx[d];
		} else if (n->op == OP_Slice) {
			if (xs->rank != ys->rank)
				return -1;
			for (int d = 0; d < ys->rank; d++)
				ii[d] = a[d] == 0 && b[d] == 1 ? idx[d]
				        : kir_add(k, kir_const_i(k, a[d]), kir_mul(k, idx[d], kir_const_i(k, b[d])));
		} else if (!bcast_idx(k, xs, ys, idx, ii)) {
			return -1;
		}
		return gload(L, k, n->in[0], ii, gid, depth);
	}
	if (n->op == OP_Concat)
		return gconcat(L, k, n, idx, gid, depth);
	if (cg_is_alias_op(n->op) && n->nin >= 1 && n->in[0] < g->nval) {
		uint32_t x = n->in[0];
		const Value *xv = &g->val[x];
		if (xv->kind != VK_NODE || group_of(&g->node[xv->def]) != gid ||
		    !cg_group_member(g, xv->def))   /* a view of a stored value: same linear index */
			return kir_load(k, x, row_major_index(L, k, ys, idx));
		if (!reshape_idx(L, k, &xv->shape, ys, idx, ii))
			return -1;
		return gload(L, k, x, ii, gid, depth);
	}
	if (!ew_simple(g, n))
		return -1;
	int xs[2];
	for (int j = 0; j < n->nin; j++) {
		if (!bcast_idx(k, &g->val[n->in[j]].shape, ys, idx, ii))
			return -1;
		if ((xs[j] = gload(L, k, n->in[j], ii, gid, depth)) < 0)
			return -1;
	}
	return value(k, n, g, xs, n->nin);
}

static int lower_group_move(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *out = &g->val[n->out[0]];
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	Nest ne;
	if (nest_build(L, k, &ne, &out->shape, NULL, 0, false, -1, true) != LW_OK) {
		drop_last(L->p);
		return LW_CALL;
	}
	int idx[IR_MAXRANK];
	for (int d = 0; d < out->shape.rank; d++)
		idx[d] = nest_dim_var(&ne, d);
	int v = gnode(L, k, L->nid, idx, group_of(n), 0);
	if (v < 0) {
		drop_last(L->p);
		return LW_CALL;
	}
	kir_store(k, ne.inner, false, (int)n->out[0], nest_out_index(L, k, &ne), v);
	return LW_OK;
}

static int lower_members(Low *L, const uint32_t *mem, int nm);

/* A Concat rooting a group (passes/fuse.c): one loop nest per input over
 * its own shape, writing its slice of the output; a member input is
 * computed there (its producers write straight into the Concat's output,
 * nothing else is stored). LW_CALL after lowering the members as kernels
 * of their own when that is not possible (lower_concat then copies). */
int lw_concat_group(Low *L, Node *n)
{
	Graph *g = L->g;
	uint32_t mem[256];
	int nm = group_members(g, L->nid, mem, 256);
	if (nm < 0)
		return ir_node_error(L->d, g, n, E_MODEL, "fused group too large to lower")
		       ? LW_ERR : LW_ERR;
	const Shape *ys = &g->val[n->out[0]].shape;
	int r = ys->rank;
	int64_t axis = ir_attr_i(n, "axis", 0);
	if (axis < 0)
		axis += r;
	bool ok = nm > 0 && !L->p->gpu && axis >= 0 && axis < r && g->val[n->out[0]].dt == DT_F32;
	for (int j = 0; j < n->nin && ok; j++)
		ok = n->in[j] != IR_NONE && g->val[n->in[j]].shape.rank == r &&
		     g->val[n->in[j]].dt == DT_F32;
	if (ok) {
		Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
		Dim off = 0;
		for (int j = 0; j < n->nin && ok; j++) {
			const Shape *xs = &g->val[n->in[j]].shape;
			Nest ne;
			int idx[IR_MAXRANK], oi[IR_MAXRANK];
			if (nest_build(L, k, &ne, xs, NULL, 0, false, -1, true) != LW_OK) {
				ok = false;
				break;
			}
			for (int d = 0; d < r; d++)
				oi[d] = idx[d] = nest_dim_var(&ne, d);
			oi[axis] = kir_add(k, idx[axis], kir_dim(k, off));
			int v = gload(L, k, n->in[j], idx, group_of(n), 0);
			if (v < 0 || ne.inner < 0) {
				ok = false;
				break;
			}
			kir_store(k, ne.inner, false, (int)n->out[0], row_major_index(L, k, ys, oi), v);
			off = ir_dim_bin(g, DX_ADD, off, xs->d[axis]);
		}
		if (ok)
			return LW_OK;
		drop_last(L->p);
	}
	int rc = lower_members(L, mem, nm);
	return rc == LW_OK ? LW_CALL : rc;
}

/* Lower the members of n's group (before it, in order) as kernels of their
 * own: the fallback when the group cannot be one loop. */
static int lower_members(Low *L, const uint32_t *mem, int nm)
{
	Graph *g = L->g;
	uint32_t save = L->nid;
	for (int q = 0; q < nm; q++) {
		uint32_t i = mem[q];
		Node *m = &g->node[i];
		L->nid = i;
		if (cg_is_alias_op(m->op))
			continue;   /* a view: cg_lower made it an alias of its input */
		int rc = m->op == OP_Transpose ? lower_transpose(L, m)
		         : m->op == OP_Slice ? lower_slice(L, m)
		         : m->op == OP_Concat ? lower_concat(L, m)
		         : m->op == OP_Expand ? lower_more(L, m)
		         : m->op == OP_ReduceMean || m->op == OP_ReduceSum ? lower_reduce(L, m)
		         : lower_ew_one(L, m);
		if (rc == LW_CALL) {
			Kernel *k = kir_kernel(L->p, KK_CALL, i);
			for (int j = 0; j < m->nin; j++)
				if (m->in[j] != IR_NONE)
					kir_param(k, m->in[j], false);
			kir_param(k, m->out[0], true);
		} else if (rc != LW_OK) {
			L->nid = save;
			return rc;
		}
	}
	L->nid = save;
	return LW_OK;
}

int lw_lower_members(Low *L, const uint32_t *mem, int nm) { return lower_members(L, mem, nm); }

int lw_ew_value(Kernel *k, const Node *n, Graph *g, const int *xs, int nx)
{
	return value(k, n, g, xs, nx);
}

bool lw_ew_simple(const Graph *g, const Node *n) { return ew_simple(g, n); }

int64_t lw_group_of(const Node *n) { return group_of(n); }

bool lw_bcast_idx(Kernel *k, const Shape *s, const Shape *o, const int *idx, int *oi)
{
	return bcast_idx(k, s, o, idx, oi);
}

static bool has_reduce(const Graph *g, const uint32_t *mem, int nm)
{
	for (int i = 0; i < nm; i++)
		if (g->node[mem[i]].op == OP_ReduceMean || g->node[mem[i]].op == OP_ReduceSum)
			return true;
	return false;
}

int lower_elementwise(Low *L, Node *n)
{
	Graph *g = L->g;
	if (group_of(n) >= 0 && n->nout == 1 && L->p->opt > 0) {
		if (cg_group_member(g, L->nid))
			return LW_OK;   /* computed inside its group's root */
		uint32_t mem[256];
		int nm = group_members(g, L->nid, mem, 256);
		if (nm > 0 && ew_simple(g, n)) {
			int rc = has_reduce(g, mem, nm) ? lower_group_rows(L, n, mem, nm)
			         : group_plain(g, L->nid, mem, nm) ? lower_group(L, n)
			         : lower_group_move(L, n);
			if (rc == LW_OK)
				return LW_OK;
		}
		if (nm < 0)
			return ir_node_error(L->d, g, n, E_MODEL, "fused group too large to lower")
			       ? LW_ERR : LW_ERR;
		int rc = lower_members(L, mem, nm);
		if (rc != LW_OK)
			return rc;
	}
	return lower_ew_one(L, n);
}

static int lower_ew_one(Low *L, Node *n)
{
	Graph *g = L->g;
	if (!handled(n->op) || n->nout != 1)
		return LW_CALL;
	if (n->op == OP_BitShift && binary_fn(n, g->val[n->in[0]].dt) < 0)
		return LW_CALL;            /* signed: the reference kernel */
	if (n->op == OP_Gelu && n->opset < 20 && 0)
		return LW_CALL;
	uint32_t outv = n->out[0];
	const Value *out = &g->val[outv];
	/* operands read elementwise (Clip's bounds are scalars, loaded at 0) */
	int nel = n->nin;
	if (n->op == OP_Clip)
		nel = 1;
	if (n->op == OP_CastLike)
		nel = 1;
	if (nel > 8)
		return LW_CALL;
	Shape ops[8];
	for (int j = 0; j < nel; j++) {
		if (n->in[j] == IR_NONE)
			return LW_CALL;
		ops[j] = g->val[n->in[j]].shape;
		if (ops[j].rank > out->shape.rank)
			return LW_CALL;
	}
	if (n->op == OP_Clip)
		for (int j = 1; j < n->nin; j++)
			if (n->in[j] != IR_NONE && shape_numel_static(&g->val[n->in[j]].shape) != 1)
				return LW_CALL;
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	Nest ne;
	if (nest_build(L, k, &ne, &out->shape, ops, nel, true, -1, true) != LW_OK) {
		drop_last(L->p);
		return LW_ERR;
	}
	int xs[8];
	for (int j = 0; j < nel; j++)
		xs[j] = kir_load(k, n->in[j], nest_index(L, k, &ne, j));
	int nx = nel;
	if (n->op == OP_Clip) {
		for (int j = 1; j < 3; j++)
			xs[j] = j < n->nin && n->in[j] != IR_NONE ? kir_load(k, n->in[j], kir_const_i(k, 0))
			                                          : -1;
		nx = 3;
	}
	int v = value(k, n, g, xs, nx);
	if (v < 0) {
		drop_last(L->p);
		return LW_CALL;
	}
	kir_store(k, ne.inner, false, (int)outv, nest_out_index(L, k, &ne), v);
	return LW_OK;
}
