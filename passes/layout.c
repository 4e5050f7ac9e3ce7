/* Layout: convolution chains move to the blocked channel layout NCHW16c
 * ([N, C, H, W] stored as [N, ceil(C/16), H, W, 16], ir/shape_nchwc.c).
 * Each f32 2-D Conv / fused_conv with constant weights (group 1 or
 * depthwise) becomes conv_nchwc writing the blocked layout; it reads its
 * input blocked when the producer is already blocked, else NCHW as is (the
 * stem). MaxPool and GlobalAveragePool of a blocked value become
 * maxpool_nchwc / gap_nchwc (the latter writes NCHW [N, C, 1, 1] directly,
 * which is the same memory), and elementwise ops that keep values finite
 * (Relu, Clip, HardSwish, Add, Mul, ...) of a blocked value run on the
 * blocked twins (broadcasting over H, W carries over). Every replaced node becomes
 * from_nchwc(blocked twin), so any other user still sees NCHW; DCE drops
 * the reorders nothing reads, leaving them only at the chain's ends. An
 * inference BatchNormalization of a blocked value (one the Conv before it
 * could not take, as in pre-activation blocks) becomes a depthwise 1x1
 * conv_nchwc (weight scale / sqrt(var + eps), bias shift), so the
 * activation after it joins its store. Channel counts must be static; N, H
 * and W may be symbolic (the kernels read them at run time), with explicit
 * pads only (SAME pads would depend on the run-time size). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "passes.h"
#include "shape.h"

#define BLK 16

static int64_t cblocks(int64_t c) { return (c + BLK - 1) / BLK; }

/* f32 NCHW with a static channel count (N, H, W may be symbolic) */
static bool nchw_ok(const Value *v)
{
	return v->dt == DT_F32 && v->shape.rank == 4 && v->shape.d[1] >= 0;
}

static void set_ints(Graph *g, uint32_t node, const char *name, int cnt, const int64_t *v)
{
	Attr *a = ir_attr_add(g, node, name, AK_INTS);
	a->n = cnt;
	a->ints = arena_alloc(g->arena, (size_t)cnt * sizeof *a->ints);
	memcpy(a->ints, v, (size_t)cnt * sizeof *a->ints);
}

static void set_int(Graph *g, uint32_t node, const char *name, int64_t v)
{
	ir_attr_add(g, node, name, AK_INT)->i = v;
}

/* Explicit strides, pads (4) and dilations of a 2-D window op whose output
 * spatial dims are out[2]; false for what the blocked ops do not cover.
 * in and out may be symbolic: then the pads must be explicit, and out must
 * be the very dims the blocked op's shape rule gives. */
static bool window(Graph *g, const Node *n, const Dim *in, const int64_t *ks, const Dim *out,
                   int64_t *st, int64_t *pd, int64_t *dl)
{
	const int64_t *v;
	int c;
	st[0] = st[1] = dl[0] = dl[1] = 1;
	pd[0] = pd[1] = pd[2] = pd[3] = 0;
	if ((c = ir_attr_ints(n, "strides", &v)) > 0) {
		if (c != 2)
			return false;
		st[0] = v[0], st[1] = v[1];
	}
	if ((c = ir_attr_ints(n, "dilations", &v)) > 0) {
		if (c != 2)
			return false;
		dl[0] = v[0], dl[1] = v[1];
	}
	if ((c = ir_attr_ints(n, "kernel_shape", &v)) > 0 && (c != 2 || v[0] != ks[0] || v[1] != ks[1]))
		return false;
	const char *ap = ir_attr_s(n, "auto_pad", "NOTSET");
	int same = !strcmp(ap, "SAME_UPPER") ? 1 : !strcmp(ap, "SAME_LOWER") ? 2 : 0;
	if (!same && strcmp(ap, "VALID") && strcmp(ap, "NOTSET") && *ap)
		return false;
	if (!same && strcmp(ap, "VALID") && (c = ir_attr_ints(n, "pads", &v)) > 0) {
		if (c != 4)
			return false;
		memcpy(pd, v, 4 * sizeof *pd);
	}
	for (int i = 0; i < 2; i++) {
		if (st[i] < 1 || dl[i] < 1 || pd[i] < 0 || pd[i + 2] < 0)
			return false;
		if (same && (in[i] < 0 || out[i] < 0))
			return false;
		if (same) {
			int64_t tot = (out[i] - 1) * st[i] + (ks[i] - 1) * dl[i] + 1 - in[i];
			tot = tot < 0 ? 0 : tot;
			pd[i] = same == 1 ? tot / 2 : tot - tot / 2;
			pd[i + 2] = tot - pd[i];
		}
		/* the blocked ops' output size (ir/shape_nchwc.c) must be the node's */
		Dim o;
		if (!sh_winsize(g, in[i], pd[i] + pd[i + 2], ks[i], dl[i], st[i], false, &o) ||
		    o != out[i])
			return false;
	}
	return true;
}

/* A new value of node `node`'s output: f32, blocked twin of NCHW shape s. */
static uint32_t blocked_out(Graph *g, uint32_t node, const Shape *s)
{
	uint32_t v = g->node[node].out[0];
	Value *bv = &g->val[v];
	bv->dt = DT_F32;
	bv->shape = (Shape){.rank = 5, .d = {s->d[0], cblocks(s->d[1]), s->d[2], s->d[3], BLK}};
	return v;
}

/* Node i (output y, NCHW) becomes from_nchwc(yb). */
static void become_from(Graph *g, uint32_t i, uint32_t yb, int64_t channels)
{
	Node *n = &g->node[i];
	n->op = OP_from_nchwc;
	n->in = arena_alloc(g->arena, sizeof *n->in);
	n->in[0] = yb;
	n->nin = 1;
	n->nout = 1;
	n->attr = NULL;
	n->nattr = 0;
	set_int(g, i, "channels", channels);
}

/* The blocked twin of NCHW value v: its existing one or a new to_nchwc. */
static uint32_t twin(Graph *g, uint32_t *blk, uint32_t v)
{
	if (blk[v] != IR_NONE)
		return blk[v];
	uint32_t t = ir_node(g, OP_to_nchwc, "", 1, &v, 1);
	return blocked_out(g, t, &g->val[v].shape);
}

/* Scalar f32 constant v (IR_NONE: absent, def) into *out; false if not one. */
static bool scalar_c(const Graph *g, uint32_t v, double def, double *out)
{
	if (v == IR_NONE) {
		*out = def;
		return true;
	}
	const Value *V = &g->val[v];
	if (V->kind != VK_CONST || !V->data || V->dt != DT_F32)
		return false;
	for (int k = 0; k < V->shape.rank; k++)
		if (V->shape.d[k] != 1)
			return false;
	*out = *(const float *)V->data;
	return true;
}

/* When the only user of conv node i's output y is an activation the store
 * applies (Relu, Clip with constant bounds, HardSigmoid, HardSwish), blocked
 * conv c takes it: the user becomes from_nchwc(yb) (dead unless used). */
static void absorb_act(Graph *g, uint32_t i, uint32_t c, uint32_t y, uint32_t *blk,
                       const uint32_t *uses)
{
	/* a Relu already there may still give way to a Clip with min >= 0
	 * after it: Clip(Relu(v), lo, hi) = Clip(v, lo, hi) */
	Attr *have = (Attr *)ir_attr(&g->node[c], "activation");
	if (uses[y] != 1 || pass_is_graph_output(g, y) ||
	    (have && (have->kind != AK_STRING || strcmp(have->s, "Relu"))))
		return;
	uint32_t j = i + 1;
	for (; j < g->nnode; j++) {
		const Node *u = &g->node[j];
		if (!u->dead && u->nin >= 1 && u->in[0] == y)
			break;
	}
	if (j >= g->nnode)
		return;
	const Node *u = &g->node[j];
	double a = 0, b = 0;
	const char *name;
	if (u->nout != 1 || !nchw_ok(&g->val[u->out[0]]))
		return;
	switch (u->op) {
	case OP_Relu: name = "Relu"; break;
	case OP_HardSwish: name = "HardSwish"; break;
	case OP_HardSigmoid:
		name = "HardSigmoid";
		a = ir_attr_f(u, "alpha", 0.2);
		b = ir_attr_f(u, "beta", 0.5);
		break;
	case OP_Clip:
		name = "Clip";
		if (u->opset < 11) {
			a = ir_attr_f(u, "min", -3.4028234663852886e38);
			b = ir_attr_f(u, "max", 3.4028234663852886e38);
		} else if (!scalar_c(g, u->nin > 1 ? u->in[1] : IR_NONE, -3.4028234663852886e38, &a) ||
		           !scalar_c(g, u->nin > 2 ? u->in[2] : IR_NONE, 3.4028234663852886e38, &b))
			return;
		break;
	default:
		return;
	}
	if (have && !(u->op == OP_Clip && a >= 0 && a <= b) && u->op != OP_Relu)
		return;
	Attr *at = have ? have : ir_attr_add(g, c, "activation", AK_STRING);
	at->s = arena_strdup(g->arena, have && u->op == OP_Relu ? "Relu" : name);
	if ((u->op == OP_HardSigmoid || u->op == OP_Clip) && !ir_attr(&g->node[c], "act_alpha")) {
		ir_attr_add(g, c, "act_alpha", AK_FLOAT)->f = a;
		ir_attr_add(g, c, "act_beta", AK_FLOAT)->f = b;
	}
	uint32_t yu = g->node[j].out[0];
	blk[yu] = blk[y];
	become_from(g, j, blk[y], g->val[yu].shape.d[1]);
}

static bool conv_at(Graph *g, uint32_t i, uint32_t *blk, const uint32_t *uses)
{
	Node *n = &g->node[i];
	if ((n->op != OP_Conv && n->op != OP_fused_conv) || n->nout != 1 || n->nin < 2)
		return false;
	uint32_t x = n->in[0], w = n->in[1], y = n->out[0];
	const Value *X = &g->val[x], *W = &g->val[w], *Y = &g->val[y];
	if (!nchw_ok(X) || !nchw_ok(Y) || W->kind != VK_CONST || !W->data ||
	    W->dt != DT_F32 || W->shape.rank != 4 || X->shape.d[0] != Y->shape.d[0])
		return false;
	int64_t C = X->shape.d[1], M = Y->shape.d[1], grp = ir_attr_i(n, "group", 1);
	if (W->shape.d[0] != M || W->shape.d[1] * grp != C || C < 1 || M < 1)
		return false;
	if (grp != 1 && !(grp == C && grp == M))
		return false;
	const char *act = ir_attr_s(n, "activation", "");
	if (*act && strcmp(act, "Relu") && strcmp(act, "Gelu") && strcmp(act, "Silu"))
		return false;
	if (n->nin > 2 && n->in[2] != IR_NONE &&
	    (g->val[n->in[2]].dt != DT_F32 || g->val[n->in[2]].shape.rank != 1 ||
	     g->val[n->in[2]].shape.d[0] != M))
		return false;
	uint32_t r = n->op == OP_fused_conv && n->nin > 3 ? n->in[3] : IR_NONE;
	if (r != IR_NONE) {
		const Value *R = &g->val[r];
		if (R->dt != DT_F32 || R->shape.rank != 4)
			return false;
		for (int k = 0; k < 4; k++)
			if (R->shape.d[k] != Y->shape.d[k])
				return false;
	}
	Dim in[2] = {X->shape.d[2], X->shape.d[3]}, out[2] = {Y->shape.d[2], Y->shape.d[3]};
	int64_t ks[2] = {W->shape.d[2], W->shape.d[3]}, st[2], pd[4], dl[2];
	if (!window(g, n, in, ks, out, st, pd, dl))
		return false;
	uint32_t bias = n->nin > 2 ? n->in[2] : IR_NONE;
	uint32_t ins[4] = {blk[x] != IR_NONE ? blk[x] : x, w, bias, IR_NONE};
	if (r != IR_NONE)
		ins[3] = twin(g, blk, r);   /* (may move g->node) */
	int nin = r != IR_NONE ? 4 : ins[2] != IR_NONE ? 3 : 2;
	char name[256];
	snprintf(name, sizeof name, "%s", g->node[i].name);
	Shape ys = g->val[y].shape;
	uint32_t c = ir_node(g, OP_conv_nchwc, name, nin, ins, 1);
	g->node[c].opset = g->node[i].opset;
	set_ints(g, c, "strides", 2, st);
	set_ints(g, c, "pads", 4, pd);
	set_ints(g, c, "dilations", 2, dl);
	set_int(g, c, "group", grp);
	if (*act) {
		Attr *a = ir_attr_add(g, c, "activation", AK_STRING);
		a->s = arena_strdup(g->arena, act);
	}
	blk[y] = blocked_out(g, c, &ys);
	become_from(g, i, blk[y], M);
	absorb_act(g, i, c, y, blk, uses);
	return true;
}

/* The constant f32 vector [n] v, or NULL. */
static const float *cvec(const Graph *g, uint32_t v, int64_t n)
{
	if (v == IR_NONE)
		return NULL;
	const Value *x = &g->val[v];
	if (x->kind != VK_CONST || !x->data || x->dt != DT_F32 || x->shape.rank != 1 ||
	    x->shape.d[0] != n)
		return NULL;
	return x->data;
}

/* Inference BatchNormalization of a blocked value: y = x * s + t per
 * channel, as a depthwise 1x1 conv_nchwc, which takes the activation after
 * it into its store. */
static bool bn_at(Graph *g, uint32_t i, uint32_t *blk, const uint32_t *uses)
{
	Node *n = &g->node[i];
	if (n->op != OP_BatchNormalization || n->nin != 5 || ir_attr_i(n, "training_mode", 0))
		return false;
	for (int j = 1; j < n->nout; j++)
		if (uses[n->out[j]] || pass_is_graph_output(g, n->out[j]))
			return false;
	uint32_t x = n->in[0], y = n->out[0];
	if (blk[x] == IR_NONE || !nchw_ok(&g->val[x]) || !nchw_ok(&g->val[y]))
		return false;
	int64_t C = g->val[x].shape.d[1];
	const float *sc = cvec(g, n->in[1], C), *bb = cvec(g, n->in[2], C);
	const float *mean = cvec(g, n->in[3], C), *var = cvec(g, n->in[4], C);
	if (C < 1 || !sc || !bb || !mean || !var)
		return false;
	double eps = ir_attr_f(n, "epsilon", 1e-5);
	float *wd = arena_alloc(g->arena, (size_t)C * sizeof *wd);
	float *bd = arena_alloc(g->arena, (size_t)C * sizeof *bd);
	if (!wd || !bd)
		return false;
	for (int64_t k = 0; k < C; k++) {
		double s = sc[k] / sqrt((double)var[k] + eps);
		wd[k] = (float)s;
		bd[k] = (float)(bb[k] - mean[k] * s);
	}
	Shape ws = {.rank = 4, .d = {C, 1, 1, 1}}, bs = {.rank = 1, .d = {C}};
	uint32_t ins[3] = {blk[x], ir_const(g, NULL, DT_F32, &ws, wd), ir_const(g, NULL, DT_F32, &bs, bd)};
	char name[256];
	snprintf(name, sizeof name, "%s", g->node[i].name);
	Shape ys = g->val[y].shape;
	uint32_t c = ir_node(g, OP_conv_nchwc, name, 3, ins, 1);
	g->node[c].opset = g->node[i].opset;
	int64_t one[2] = {1, 1}, zero[4] = {0, 0, 0, 0};
	set_ints(g, c, "strides", 2, one);
	set_ints(g, c, "pads", 4, zero);
	set_ints(g, c, "dilations", 2, one);
	set_int(g, c, "group", C);
	blk[y] = blocked_out(g, c, &ys);
	become_from(g, i, blk[y], C);
	absorb_act(g, i, c, y, blk, uses);
	return true;
}

/* MaxPool (Indices unused, floor mode, row-major) of a blocked value. */
static bool pool_at(Graph *g, uint32_t i, uint32_t *blk, const uint32_t *uses)
{
	Node *n = &g->node[i];
	if (n->op != OP_MaxPool && n->op != OP_GlobalAveragePool)
		return false;
	uint32_t x = n->in[0], y = n->out[0];
	if (blk[x] == IR_NONE || !nchw_ok(&g->val[y]))
		return false;
	if (n->op == OP_GlobalAveragePool) {
		int64_t C = g->val[x].shape.d[1];
		n->op = OP_gap_nchwc;
		n->in[0] = blk[x];
		n->attr = NULL;
		n->nattr = 0;
		set_int(g, i, "channels", C);
		return true;
	}
	if (n->nout > 1 && (uses[n->out[1]] || pass_is_graph_output(g, n->out[1])))
		return false;
	const int64_t *v;
	if (ir_attr_i(n, "ceil_mode", 0) || ir_attr_i(n, "storage_order", 0) ||
	    ir_attr_ints(n, "kernel_shape", &v) != 2)
		return false;
	const Shape *xs = &g->val[x].shape, *ysh = &g->val[y].shape;
	int64_t ks[2] = {v[0], v[1]};
	Dim in[2] = {xs->d[2], xs->d[3]}, out[2] = {ysh->d[2], ysh->d[3]};
	int64_t st[2], pd[4], dl[2];
	if (ks[0] < 1 || ks[1] < 1 || !window(g, n, in, ks, out, st, pd, dl))
		return false;
	char name[256];
	snprintf(name, sizeof name, "%s", n->name);
	Shape ys = *ysh;
	int64_t C = xs->d[1];
	uint32_t xb = blk[x];
	uint32_t p = ir_node(g, OP_maxpool_nchwc, name, 1, &xb, 1);
	g->node[p].opset = g->node[i].opset;
	set_ints(g, p, "kernel_shape", 2, ks);
	set_ints(g, p, "strides", 2, st);
	set_ints(g, p, "pads", 4, pd);
	set_ints(g, p, "dilations", 2, dl);
	blk[y] = blocked_out(g, p, &ys);
	become_from(g, i, blk[y], C);
	return true;
}

/* Elementwise ops that keep every finite value finite, so the lanes past C
 * (which they may make nonzero) stay harmless: the blocked convolutions
 * weigh them by zero and from_nchwc / gap_nchwc drop them. */
static bool ew_op(int op)
{
	switch (op) {
	case OP_Relu: case OP_Clip: case OP_HardSwish: case OP_HardSigmoid: case OP_Sigmoid:
	case OP_Tanh: case OP_LeakyRelu: case OP_Add: case OP_Sub: case OP_Mul:
		return true;
	}
	return false;
}

/* An elementwise node with an input already blocked runs on the blocked
 * twins: rank-4 operands of the output's N and C (spatial dims equal or 1,
 * numpy broadcasting carries over) are blocked, scalars stay. */
static bool ew_at(Graph *g, uint32_t i, uint32_t *blk)
{
	Node *n = &g->node[i];
	if (!ew_op(n->op) || n->nout != 1 || n->nin < 1 || n->nin > 3)
		return false;
	uint32_t y = n->out[0];
	const Value *Y = &g->val[y];
	if (!nchw_ok(Y))
		return false;
	bool some = false;
	int rank4 = n->op == OP_Clip ? 1 : n->nin;   /* Clip's min/max are scalars */
	for (int j = 0; j < n->nin; j++) {
		uint32_t v = n->in[j];
		if (v == IR_NONE)
			continue;
		const Value *V = &g->val[v];
		if (j >= rank4) {
			if (V->shape.rank != 0)
				return false;
			continue;
		}
		if (V->dt != DT_F32 || V->shape.rank != 4 || V->shape.d[0] != Y->shape.d[0] ||
		    V->shape.d[1] != Y->shape.d[1])
			return false;
		for (int k = 2; k < 4; k++)
			if (V->shape.d[k] != Y->shape.d[k] && V->shape.d[k] != 1)
				return false;
		some |= blk[v] != IR_NONE;
	}
	if (!some)
		return false;
	uint32_t ins[3];
	int nin = n->nin;
	for (int j = 0; j < nin; j++)
		ins[j] = g->node[i].in[j];
	for (int j = 0; j < nin && j < rank4; j++)
		ins[j] = twin(g, blk, ins[j]);
	char name[256];
	snprintf(name, sizeof name, "%s", g->node[i].name);
	Shape ys = g->val[y].shape;
	uint32_t e = ir_node(g, g->node[i].op, name, nin, ins, 1);
	g->node[e].opset = g->node[i].opset;
	g->node[e].attr = g->node[i].attr;
	g->node[e].nattr = g->node[i].nattr;
	blk[y] = blocked_out(g, e, &ys);
	become_from(g, i, blk[y], ys.d[1]);
	return true;
}

bool pass_layout(Graph *g, PassCtx *ctx)
{
	if (ctx->device)   /* the blocked layout is the host kernels' (runtime/kconv.c) */
		return false;
	uint32_t *uses = pass_use_counts(g);
	uint32_t *blk = malloc((size_t)(g->nval + 1) * sizeof *blk);
	if (!uses || !blk) {
		free(uses);
		free(blk);
		return false;
	}
	uint32_t cap = g->nval + 1;
	for (uint32_t v = 0; v < cap; v++)
		blk[v] = IR_NONE;
	bool any = false;
	uint32_t nn = g->nnode;
	for (uint32_t i = 0; i < nn; i++) {
		if (g->node[i].dead)
			continue;
		/* the new values (twins) are numbered past the old ones */
		if (g->nval + 4 > cap) {
			uint32_t nc = 2 * (g->nval + 4);
			uint32_t *nb = realloc(blk, (size_t)nc * sizeof *blk);
			if (!nb)
				break;
			blk = nb;
			for (uint32_t v = cap; v < nc; v++)
				blk[v] = IR_NONE;
			cap = nc;
		}
		bool ch = conv_at(g, i, blk, uses) || pool_at(g, i, blk, uses) ||
		          bn_at(g, i, blk, uses) || ew_at(g, i, blk);
		any |= ch;
	}
	free(uses);
	free(blk);
	return any;
}
