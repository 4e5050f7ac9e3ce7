/* Loop lowering of ops the node tests use often that were reference calls:
 * ArgMax/ArgMin, Trilu, GatherElements, CumSum, Expand, LayerNormalization,
 * BatchNormalization (inference), Split, Shape, Size, ConstantOfShape,
 * MaxPool/AveragePool and their Global forms, NegativeLogLikelihoodLoss.
 * Each falls back to
 * the reference kernel (LW_CALL) for cases it does not handle (a run-time
 * axis or k, an axis of size 0). */
#include <math.h>
#include <string.h>
#include "lower.h"

/* One serial-or-thread loop per dim d of s with skip[d] false; var[d]. */
static int dim_loops(Low *L, Kernel *k, const Shape *s, const bool *skip, int *var, int parent)
{
	int64_t numel = 1;
	for (int d = 0; d < s->rank; d++)
		if (!skip[d])
			numel = numel < 0 || s->d[d] < 0 ? -1 : numel * s->d[d];
	int cur = parent;
	bool first = true;
	for (int d = 0; d < s->rank; d++) {
		if (skip[d])
			continue;
		int mode = first && L->p->opt > 0 && (numel < 0 || numel >= LW_PAR_MIN) ? KP_THREAD
		                                                                       : KP_SERIAL;
		first = false;
		cur = kir_loop(k, cur, kir_const_i(k, 0), kir_dim(k, s->d[d]), 1, mode);
		var[d] = kir_var(k, k->s[cur].var);
	}
	return cur;
}

static int norm_axis(Low *L, Node *n, int64_t a, int r, int *out)
{
	if (a < 0)
		a += r;
	if (a < 0 || a >= r)
		return ir_node_error(L->d, L->g, n, E_MODEL, "axis out of range for rank %d", r)
		       ? LW_ERR : LW_ERR;
	*out = (int)a;
	return LW_OK;
}

/* A constant integer scalar input i (or def when omitted); false if not
 * known at compile time. */
static bool const_scalar(Graph *g, const Node *n, int i, int64_t def, int64_t *v)
{
	if (i >= n->nin || n->in[i] == IR_NONE) {
		*v = def;
		return true;
	}
	int64_t t[2];
	if (const_ints(g, n->in[i], t, 1) != 1)
		return false;
	*v = t[0];
	return true;
}

static int lower_argreduce(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]], *y = &g->val[n->out[0]];
	int r = x->shape.rank, ax, rc;
	if (r == 0 || (rc = norm_axis(L, n, ir_attr_i(n, "axis", 0), r, &ax)))
		return r == 0 ? LW_CALL : rc;
	if (x->shape.d[ax] <= 0)
		return LW_CALL;                /* symbolic (maybe 0) or empty: the kernel says why */
	bool keepdims = ir_attr_i(n, "keepdims", 1) != 0;
	bool last = ir_attr_i(n, "select_last_index", 0) != 0;
	int ty = kir_ty(x->dt);
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	bool skip[IR_MAXRANK] = {0};
	skip[ax] = true;
	int var[IR_MAXRANK];
	int outer = dim_loops(L, k, &x->shape, skip, var, -1);
	int z = kir_const_i(k, 0);
	int best = kir_local(k, ty, 1, KM_PRIVATE), bi = kir_local(k, DT_I64, 1, KM_PRIVATE);
	var[ax] = z;
	kir_store(k, outer, true, best, z, kir_load(k, n->in[0], row_major_index(L, k, &x->shape, var)));
	kir_store(k, outer, true, bi, z, z);
	int lp = kir_loop(k, outer, kir_const_i(k, 1), kir_dim(k, x->shape.d[ax]), 1, KP_SERIAL);
	var[ax] = kir_var(k, k->s[lp].var);
	int v = kir_load(k, n->in[0], row_major_index(L, k, &x->shape, var));
	int fn = n->op == OP_ArgMax ? (last ? KB_GE : KB_GT) : (last ? KB_LE : KB_LT);
	int iff = kir_if(k, lp, kir_bin(k, fn, v, kir_lread(k, best, z)));
	kir_store(k, iff, true, best, z, v);
	kir_store(k, iff, true, bi, z, var[ax]);
	int oidx = kir_const_i(k, 0);
	for (int d = 0, od = 0; d < r; d++) {
		if (d != ax)
			oidx = kir_add(k, oidx, kir_mul(k, var[d], kir_dim(k, shape_stride(g, &y->shape, od))));
		if (d != ax || keepdims)
			od++;
	}
	kir_store(k, outer, false, (int)n->out[0], oidx, kir_cast(k, kir_ty(y->dt), kir_lread(k, bi, z)));
	return LW_OK;
}

static int lower_trilu(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]];
	int r = x->shape.rank;
	int64_t kk;
	if (r < 2 || !const_scalar(g, n, 1, 0, &kk))
		return LW_CALL;
	bool upper = ir_attr_i(n, "upper", 1) != 0;
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	Nest nst;
	nest_build(L, k, &nst, &x->shape, NULL, 0, false, -1, true);
	int i = nest_dim_var(&nst, r - 2), j = nest_dim_var(&nst, r - 1);
	/* keep: j - i >= k (upper) or j - i <= k (lower) */
	int diff = kir_bin(k, KB_SUB, j, i);
	int keep = kir_bin(k, upper ? KB_GE : KB_LE, diff, kir_const_i(k, kk));
	int idx = nest_out_index(L, k, &nst);
	int ty = kir_ty(x->dt);
	kir_store(k, nst.inner, false, (int)n->out[0], idx,
	          kir_sel(k, keep, kir_load(k, n->in[0], idx), kir_const_t(k, ty, 0)));
	return LW_OK;
}

static int lower_gatherelements(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]], *iv = &g->val[n->in[1]];
	int r = x->shape.rank, ax;
	if ((iv->dt != DT_I64 && iv->dt != DT_I32) || r == 0 || iv->shape.rank != r)
		return LW_CALL;
	int rc = norm_axis(L, n, ir_attr_i(n, "axis", 0), r, &ax);
	if (rc)
		return rc;
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	Nest nst;
	nest_build(L, k, &nst, &iv->shape, NULL, 0, false, -1, true);
	int var[IR_MAXRANK];
	for (int d = 0; d < r; d++)
		var[d] = nest_dim_var(&nst, d);
	int oidx = nest_out_index(L, k, &nst);
	int ix = kir_cast(k, DT_I64, kir_load(k, n->in[1], oidx));
	int D = kir_dim(k, x->shape.d[ax]);
	ix = kir_sel(k, kir_bin(k, KB_LT, ix, kir_const_i(k, 0)), kir_add(k, ix, D), ix);
	var[ax] = kir_check(k, ix, D);
	kir_store(k, nst.inner, false, (int)n->out[0], oidx,
	          kir_load(k, n->in[0], row_major_index(L, k, &x->shape, var)));
	return LW_OK;
}

static int lower_cumsum(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]];
	int r = x->shape.rank, ax, rc;
	int64_t a;
	if (r == 0 || !const_scalar(g, n, 1, 0, &a) || n->nin < 2 || n->in[1] == IR_NONE)
		return LW_CALL;
	if ((rc = norm_axis(L, n, a, r, &ax)))
		return rc;
	bool excl = ir_attr_i(n, "exclusive", 0) != 0, rev = ir_attr_i(n, "reverse", 0) != 0;
	int ty = kir_ty(x->dt);
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	bool skip[IR_MAXRANK] = {0};
	skip[ax] = true;
	int var[IR_MAXRANK];
	int outer = dim_loops(L, k, &x->shape, skip, var, -1);
	int z = kir_const_i(k, 0);
	int acc = kir_local(k, ty, 1, KM_PRIVATE);
	int fn = n->op == OP_CumProd ? KB_MUL : KB_ADD;
	kir_store(k, outer, true, acc, z, kir_const_t(k, ty, fn == KB_MUL));
	int N = kir_dim(k, x->shape.d[ax]);
	int lp = kir_loop(k, outer, z, N, 1, KP_SERIAL);
	int t = kir_var(k, k->s[lp].var);
	/* reverse: position N-1-t */
	var[ax] = rev ? kir_add(k, kir_add(k, N, kir_const_i(k, -1)), kir_mul(k, t, kir_const_i(k, -1)))
	              : t;
	int idx = row_major_index(L, k, &x->shape, var);
	int v = kir_load(k, n->in[0], idx);
	if (excl) {
		kir_store(k, lp, false, (int)n->out[0], idx, kir_lread(k, acc, z));
		kir_acc(k, lp, true, acc, fn, z, v);
	} else {
		kir_acc(k, lp, true, acc, fn, z, v);
		kir_store(k, lp, false, (int)n->out[0], idx, kir_lread(k, acc, z));
	}
	return LW_OK;
}

static int lower_expand(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]], *y = &g->val[n->out[0]];
	if (y->shape.rank < x->shape.rank)
		return LW_CALL;
	/* the output must be sized before the kernel runs: each dim static or
	 * one of the input's (a shape known only from data stays a CALL) */
	for (int d = 0; d < y->shape.rank; d++) {
		bool known = y->shape.d[d] >= 0;
		for (int e = 0; e < x->shape.rank && !known; e++)
			known = x->shape.d[e] == y->shape.d[d];
		if (!known)
			return LW_CALL;
	}
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	Nest nst;
	int rc = nest_build(L, k, &nst, &y->shape, &x->shape, 1, true, -1, true);
	if (rc != LW_OK) {
		drop_last(L->p);
		return rc;
	}
	kir_store(k, nst.inner, false, (int)n->out[0], nest_out_index(L, k, &nst),
	          kir_load(k, n->in[0], nest_index(L, k, &nst, 0)));
	return LW_OK;
}

/* Index of a per-normalized-element parameter p (Scale, B) whose shape
 * broadcasts (right-aligned, static 1s) over x's dims [ax, r). */
static bool param_index(Low *L, Kernel *k, const Value *x, const Value *p, int ax, const int *var,
                        int *out)
{
	int r = x->shape.rank, pr = p->shape.rank;
	if (pr > r - ax)
		return false;
	int e = kir_const_i(k, 0);
	for (int j = 0; j < pr; j++) {
		int d = r - pr + j;
		Dim pd = p->shape.d[j];
		if (pd == 1)
			continue;
		if (pd != x->shape.d[d])
			return false;
		e = kir_add(k, e, kir_mul(k, var[d], kir_dim(k, shape_stride(L->g, &p->shape, j))));
	}
	*out = e;
	return true;
}

static int lower_layernorm(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]], *sc = &g->val[n->in[1]];
	const Value *b = n->nin > 2 && n->in[2] != IR_NONE ? &g->val[n->in[2]] : NULL;
	int r = x->shape.rank, ax, rc;
	if (r == 0 || !dt_is_float(x->dt))
		return LW_CALL;
	if ((rc = norm_axis(L, n, ir_attr_i(n, "axis", -1), r, &ax)))
		return rc;
	for (int i = 1; i < n->nout; i++)      /* Mean/InvStdDev: f32 (stash_type) only */
		if (n->out[i] != IR_NONE && g->val[n->out[i]].dt != DT_F32 &&
		    g->val[n->out[i]].dt != DT_UNDEF)
			return LW_CALL;
	int ty = x->dt == DT_F64 ? DT_F64 : DT_F32;
	double eps = ir_attr_f(n, "epsilon", 1e-5);
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	bool skip[IR_MAXRANK] = {0};
	for (int d = ax; d < r; d++)
		skip[d] = true;
	int var[IR_MAXRANK];
	int outer = dim_loops(L, k, &x->shape, skip, var, -1);
	bool inner[IR_MAXRANK] = {0};
	for (int d = 0; d < ax; d++)
		inner[d] = true;
	Dim cnt = 1;
	for (int d = ax; d < r; d++)
		cnt = ir_dim_bin(g, DX_MUL, cnt, x->shape.d[d]);
	int z = kir_const_i(k, 0);
	int mean = kir_local(k, ty, 1, KM_PRIVATE), vr = kir_local(k, ty, 1, KM_PRIVATE);
	int fcnt = kir_cast(k, ty, kir_dim(k, cnt));
	/* mean */
	kir_store(k, outer, true, mean, z, kir_const_t(k, ty, 0));
	int lp = dim_loops(L, k, &x->shape, inner, var, outer);
	kir_acc(k, lp, true, mean, KB_ADD, z,
	        kir_cast(k, ty, kir_load(k, n->in[0], row_major_index(L, k, &x->shape, var))));
	kir_store(k, outer, true, mean, z, kir_bin(k, KB_DIV, kir_lread(k, mean, z), fcnt));
	/* variance, then 1/sqrt(var + eps) */
	kir_store(k, outer, true, vr, z, kir_const_t(k, ty, 0));
	lp = dim_loops(L, k, &x->shape, inner, var, outer);
	int dv = kir_bin(k, KB_SUB, kir_cast(k, ty, kir_load(k, n->in[0],
	                 row_major_index(L, k, &x->shape, var))), kir_lread(k, mean, z));
	kir_acc(k, lp, true, vr, KB_ADD, z, kir_bin(k, KB_MUL, dv, dv));
	int rstd = kir_bin(k, KB_DIV, kir_const_t(k, ty, 1),
	                   kir_un(k, KU_SQRT, kir_bin(k, KB_ADD, kir_bin(k, KB_DIV, kir_lread(k, vr, z),
	                                                                 fcnt), kir_const_t(k, ty, eps))));
	kir_store(k, outer, true, vr, z, rstd);
	/* y = (x - mean) * rstd * scale + bias */
	lp = dim_loops(L, k, &x->shape, inner, var, outer);
	int si, bi = -1;
	if (!param_index(L, k, x, sc, ax, var, &si) || (b && !param_index(L, k, x, b, ax, var, &bi))) {
		drop_last(L->p);
		return LW_CALL;
	}
	int xi = row_major_index(L, k, &x->shape, var);
	int y = kir_bin(k, KB_MUL, kir_bin(k, KB_SUB, kir_cast(k, ty, kir_load(k, n->in[0], xi)),
	                                   kir_lread(k, mean, z)), kir_lread(k, vr, z));
	y = kir_bin(k, KB_MUL, y, kir_cast(k, ty, kir_load(k, n->in[1], si)));
	if (b)
		y = kir_bin(k, KB_ADD, y, kir_cast(k, ty, kir_load(k, n->in[2], bi)));
	kir_store(k, lp, false, (int)n->out[0], xi, kir_cast(k, kir_ty(g->val[n->out[0]].dt), y));
	/* Mean and InvStdDev: x's shape with the normalized dims 1 */
	int oi = kir_const_i(k, 0);
	Shape ms = x->shape;
	for (int d = ax; d < r; d++)
		ms.d[d] = 1;
	for (int d = 0; d < ax; d++)
		oi = kir_add(k, oi, kir_mul(k, var[d], kir_dim(k, shape_stride(g, &ms, d))));
	if (n->nout > 1 && n->out[1] != IR_NONE && g->val[n->out[1]].dt == DT_F32)
		kir_store(k, outer, false, (int)n->out[1], oi, kir_cast(k, DT_F32, kir_lread(k, mean, z)));
	if (n->nout > 2 && n->out[2] != IR_NONE && g->val[n->out[2]].dt == DT_F32)
		kir_store(k, outer, false, (int)n->out[2], oi, kir_cast(k, DT_F32, kir_lread(k, vr, z)));
	return LW_OK;
}

/* Is dim d known before node nid runs (static, a dim of a graph input or of
 * an earlier node's output, or an expression over such)? Loop kernels need
 * their outputs sized before they run. */
static bool dim_bound(const Graph *g, uint32_t nid, Dim d, int depth)
{
	if (d >= 0)
		return true;
	for (uint32_t i = 0; i < g->nin; i++) {
		const Shape *s = &g->val[g->in[i]].shape;
		for (int j = 0; j < s->rank; j++)
			if (s->d[j] == d)
				return true;
	}
	for (uint32_t k = 0; k < nid && k < g->nnode; k++) {
		const Node *m = &g->node[k];
		if (m->dead)
			continue;
		for (int o = 0; o < m->nout; o++) {
			if (m->out[o] == IR_NONE)
				continue;
			const Shape *s = &g->val[m->out[o]].shape;
			for (int j = 0; j < s->rank; j++)
				if (s->d[j] == d)
					return true;
		}
	}
	const DimExpr *x = &g->dim[DIM_IDX(d)];
	if (x->op == DX_SYM || depth > 16)
		return false;
	return dim_bound(g, nid, x->a, depth + 1) && dim_bound(g, nid, x->b, depth + 1);
}

static bool shape_bound(const Graph *g, uint32_t nid, const Shape *s)
{
	for (int i = 0; i < s->rank; i++)
		if (!dim_bound(g, nid, s->d[i], 0))
			return false;
	return true;
}

static int lower_batchnorm(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]];
	int r = x->shape.rank;
	if (n->nout != 1 || ir_attr_i(n, "training_mode", 0) != 0 || r < 2 || !dt_is_float(x->dt))
		return LW_CALL;
	for (int i = 1; i < 5; i++) {
		const Value *p = &g->val[n->in[i]];
		if (p->shape.rank != 1 || p->shape.d[0] != x->shape.d[1])
			return LW_CALL;
	}
	int ty = x->dt == DT_F64 ? DT_F64 : DT_F32;
	double eps = ir_attr_f(n, "epsilon", 1e-5);
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	Nest nst;
	nest_build(L, k, &nst, &x->shape, NULL, 0, false, -1, true);
	int c = nest_dim_var(&nst, 1);
	int sc = kir_cast(k, ty, kir_load(k, n->in[1], c)), b = kir_cast(k, ty, kir_load(k, n->in[2], c));
	int mu = kir_cast(k, ty, kir_load(k, n->in[3], c)), vr = kir_cast(k, ty, kir_load(k, n->in[4], c));
	int rs = kir_bin(k, KB_DIV, sc, kir_un(k, KU_SQRT, kir_bin(k, KB_ADD, vr, kir_const_t(k, ty, eps))));
	int idx = nest_out_index(L, k, &nst);
	int y = kir_bin(k, KB_ADD, kir_bin(k, KB_MUL, kir_bin(k, KB_SUB,
	                kir_cast(k, ty, kir_load(k, n->in[0], idx)), mu), rs), b);
	kir_store(k, nst.inner, false, (int)n->out[0], idx, kir_cast(k, kir_ty(g->val[n->out[0]].dt), y));
	return LW_OK;
}

static int lower_split(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]];
	int r = x->shape.rank, ax, rc;
	if (r == 0 || (rc = norm_axis(L, n, ir_attr_i(n, "axis", 0), r, &ax)))
		return r == 0 ? LW_CALL : rc;
	for (int o = 0; o < n->nout; o++)
		if (n->out[o] == IR_NONE || g->val[n->out[o]].shape.rank != r ||
		    !shape_bound(g, L->nid, &g->val[n->out[o]].shape))
			return LW_CALL;
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	Dim off = 0;
	for (int o = 0; o < n->nout; o++) {
		const Value *y = &g->val[n->out[o]];
		Nest nst;
		nest_build(L, k, &nst, &y->shape, NULL, 0, false, -1, true);
		int var[IR_MAXRANK];
		for (int d = 0; d < r; d++)
			var[d] = nest_dim_var(&nst, d);
		var[ax] = kir_add(k, var[ax], kir_dim(k, off));
		kir_store(k, nst.inner, false, (int)n->out[o], nest_out_index(L, k, &nst),
		          kir_load(k, n->in[0], row_major_index(L, k, &x->shape, var)));
		off = ir_dim_bin(g, DX_ADD, off, y->shape.d[ax]);
	}
	return LW_OK;
}

/* Shape and Size: stores of dims (bound once the input exists). */
static int lower_shape(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]], *y = &g->val[n->out[0]];
	int r = x->shape.rank;
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	int oty = kir_ty(y->dt);
	if (n->op == OP_Size) {
		Dim ne = 1;
		for (int d = 0; d < r; d++)
			ne = ir_dim_bin(g, DX_MUL, ne, x->shape.d[d]);
		kir_store(k, -1, false, (int)n->out[0], kir_const_i(k, 0), kir_cast(k, oty, kir_dim(k, ne)));
		return LW_OK;
	}
	int64_t st = ir_attr_i(n, "start", 0), en = ir_attr_i(n, "end", r);
	st = st < 0 ? st + r : st;
	en = en < 0 ? en + r : en;
	st = st < 0 ? 0 : st > r ? r : st;
	en = en < 0 ? 0 : en > r ? r : en;
	if (y->shape.rank != 1 || y->shape.d[0] != (en > st ? en - st : 0)) {
		drop_last(L->p);
		return LW_CALL;
	}
	for (int64_t j = st; j < en; j++)
		kir_store(k, -1, false, (int)n->out[0], kir_const_i(k, j - st),
		          kir_cast(k, oty, kir_dim(k, x->shape.d[j])));
	return LW_OK;
}

static int lower_constantofshape(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *y = &g->val[n->out[0]];
	if (!shape_bound(g, L->nid, &y->shape))
		return LW_CALL;
	double v = 0;
	const Attr *a = ir_attr(n, "value");
	if (a) {
		if (a->kind != AK_TENSOR || a->t == IR_NONE || !g->val[a->t].data)
			return LW_CALL;
		const Value *t = &g->val[a->t];
		if (shape_numel_static(&t->shape) != 1 || !dt_size(t->dt))
			return LW_CALL;
		v = dt_load_f(t->dt, t->data, 0);
		if (dt_is_int(t->dt) && (v > 9007199254740992.0 || v < -9007199254740992.0))
			return LW_CALL;           /* not exact as a double */
	}
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	Nest nst;
	nest_build(L, k, &nst, &y->shape, NULL, 0, true, -1, true);
	kir_store(k, nst.inner, false, (int)n->out[0], nest_out_index(L, k, &nst),
	          kir_const_t(k, kir_ty(y->dt), v));
	return LW_OK;
}

/* MaxPool (no Indices), AveragePool, GlobalAveragePool, GlobalMaxPool on
 * float tensors with static spatial dims: the window of the reference
 * kernel (ir/ref_conv.c win_setup): strides, dilations, pads or auto_pad,
 * ceil_mode; AveragePool divides by the in-bounds count, or with
 * count_include_pad by the count inside the padded input. */
static int lower_pool(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]], *y = &g->val[n->out[0]];
	int r = x->shape.rank, k = r - 2;
	bool global = n->op == OP_GlobalAveragePool || n->op == OP_GlobalMaxPool;
	bool mx = n->op == OP_MaxPool || n->op == OP_GlobalMaxPool;
	if (k < 1 || !dt_is_float(x->dt) || y->shape.rank != r)
		return LW_CALL;
	if (n->op == OP_MaxPool && (n->nout > 1 || ir_attr_i(n, "storage_order", 0)))
		return LW_CALL;
	int64_t in[IR_MAXRANK], ker[IR_MAXRANK], str[IR_MAXRANK], dil[IR_MAXRANK], pb[IR_MAXRANK],
	        pe[IR_MAXRANK], out[IR_MAXRANK];
	for (int j = 0; j < k; j++) {
		in[j] = x->shape.d[j + 2];
		out[j] = y->shape.d[j + 2];
		if (in[j] < 0 || out[j] < 0)
			return LW_CALL;
		str[j] = dil[j] = 1;
		pb[j] = pe[j] = 0;
		ker[j] = in[j];
	}
	if (!global) {
		const int64_t *v;
		if (ir_attr_ints(n, "kernel_shape", &v) != k)
			return LW_CALL;
		memcpy(ker, v, k * sizeof *ker);
		if (ir_attr_ints(n, "strides", &v) == k)
			memcpy(str, v, k * sizeof *str);
		else if (ir_attr(n, "strides"))
			return LW_CALL;
		if (ir_attr_ints(n, "dilations", &v) == k)
			memcpy(dil, v, k * sizeof *dil);
		else if (ir_attr(n, "dilations"))
			return LW_CALL;
		const char *ap = ir_attr_s(n, "auto_pad", "NOTSET");
		int same = !strcmp(ap, "SAME_UPPER") ? 1 : !strcmp(ap, "SAME_LOWER") ? 2 : 0;
		if (!same && strcmp(ap, "VALID") && strcmp(ap, "NOTSET") && *ap)
			return LW_CALL;
		if (!same && strcmp(ap, "VALID") && ir_attr_ints(n, "pads", &v) == 2 * k)
			for (int j = 0; j < k; j++)
				pb[j] = v[j], pe[j] = v[j + k];
		for (int j = 0; j < k; j++) {
			if (ker[j] < 1 || str[j] < 1 || dil[j] < 1 || pb[j] < 0 || pe[j] < 0)
				return LW_CALL;
			if (same) {
				int64_t dk = (ker[j] - 1) * dil[j] + 1, o = (in[j] + str[j] - 1) / str[j];
				int64_t tot = (o - 1) * str[j] + dk - in[j];
				tot = tot < 0 ? 0 : tot;
				pb[j] = same == 1 ? tot / 2 : tot - tot / 2;
				pe[j] = tot - pb[j];
			}
		}
	}
	bool cip = ir_attr_i(n, "count_include_pad", 0) != 0;
	int ty = x->dt == DT_F64 ? DT_F64 : DT_F32;
	Kernel *kk = kir_kernel(L->p, KK_LOOP, L->nid);
	Nest nst;
	nest_build(L, kk, &nst, &y->shape, NULL, 0, false, -1, true);
	for (int i = 0; i < kk->ns; i++)    /* the window loops go inside: no ivdep loop */
		if (kk->s[i].op == KS_LOOP && kk->s[i].par == KP_VECTOR)
			kk->s[i].par = KP_SERIAL;
	int z = kir_const_i(kk, 0);
	int acc = kir_local(kk, ty, 1, KM_PRIVATE), cnt = kir_local(kk, DT_I64, 1, KM_PRIVATE);
	int cpad = kir_local(kk, DT_I64, 1, KM_PRIVATE);
	int body = nst.inner;
	kir_store(kk, body, true, acc, z, kir_const_t(kk, ty, mx ? -INFINITY : 0));
	kir_store(kk, body, true, cnt, z, z);
	kir_store(kk, body, true, cpad, z, z);
	int cur = body, var[IR_MAXRANK];
	var[0] = nest_dim_var(&nst, 0);
	var[1] = nest_dim_var(&nst, 1);
	int okin = -1, okpad = -1;
	for (int j = 0; j < k; j++) {
		cur = kir_loop(kk, cur, z, kir_const_i(kk, ker[j]), 1, KP_SERIAL);
		int kv = kir_var(kk, kk->s[cur].var);
		int ii = kir_add(kk, kir_add(kk, kir_mul(kk, nest_dim_var(&nst, j + 2), kir_const_i(kk, str[j])),
		                             kir_mul(kk, kv, kir_const_i(kk, dil[j]))), kir_const_i(kk, -pb[j]));
		var[j + 2] = ii;
		int a = kir_bin(kk, KB_AND, kir_bin(kk, KB_GE, ii, z), kir_bin(kk, KB_LT, ii, kir_const_i(kk, in[j])));
		int b = kir_bin(kk, KB_AND, kir_bin(kk, KB_GE, ii, kir_const_i(kk, -pb[j])),
		                kir_bin(kk, KB_LT, ii, kir_const_i(kk, in[j] + pe[j])));
		okin = okin < 0 ? a : kir_bin(kk, KB_AND, okin, a);
		okpad = okpad < 0 ? b : kir_bin(kk, KB_AND, okpad, b);
	}
	int one = kir_const_i(kk, 1);
	if (!mx && cip)
		kir_acc(kk, kir_if(kk, cur, okpad), true, cpad, KB_ADD, z, one);
	int iff = kir_if(kk, cur, okin);
	int v = kir_cast(kk, ty, kir_load(kk, n->in[0], row_major_index(L, kk, &x->shape, var)));
	kir_acc(kk, iff, true, acc, mx ? KB_MAX : KB_ADD, z, v);
	kir_acc(kk, iff, true, cnt, KB_ADD, z, one);
	int res = kir_lread(kk, acc, z);
	if (!mx) {
		int dv = kir_lread(kk, cip ? cpad : cnt, z);
		res = kir_sel(kk, kir_bin(kk, KB_GT, dv, z), kir_bin(kk, KB_DIV, res, kir_cast(kk, ty, dv)),
		              kir_const_t(kk, ty, 0));
	}
	kir_store(kk, body, false, (int)n->out[0], nest_out_index(L, kk, &nst),
	          kir_cast(kk, kir_ty(y->dt), res));
	return LW_OK;
}

/* NegativeLogLikelihoodLoss: -x[n, t, d...] * w[t] over the targets, 0 for
 * ignore_index; reduction none, sum, or mean (sum / sum of the weights),
 * accumulated in f64 in the reference kernel's order. */
static int lower_nllloss(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]], *t = &g->val[n->in[1]], *y = &g->val[n->out[0]];
	bool hw = n->nin > 2 && n->in[2] != IR_NONE;
	int r = x->shape.rank;
	if (r < 2 || t->shape.rank != r - 1 || !dt_is_float(x->dt) ||
	    (t->dt != DT_I64 && t->dt != DT_I32) || (hw && !dt_is_float(g->val[n->in[2]].dt)))
		return LW_CALL;
	const char *rs = ir_attr_s(n, "reduction", "mean");
	int red = !strcmp(rs, "none") ? 0 : !strcmp(rs, "sum") ? 1 : !strcmp(rs, "mean") ? 2 : -1;
	if (red < 0)
		return LW_CALL;
	const Attr *ig = ir_attr(n, "ignore_index");
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	int z = kir_const_i(k, 0);
	int sum = kir_local(k, DT_F64, 1, KM_PRIVATE), wsum = kir_local(k, DT_F64, 1, KM_PRIVATE);
	if (red) {
		kir_store(k, -1, true, sum, z, kir_const_t(k, DT_F64, 0));
		kir_store(k, -1, true, wsum, z, kir_const_t(k, DT_F64, 0));
	}
	Nest nst;
	nest_build(L, k, &nst, &t->shape, NULL, 0, false, -1, red == 0);
	for (int i = 0; red && i < k->ns; i++)   /* sums across iterations: no ivdep loop */
		if (k->s[i].op == KS_LOOP && k->s[i].par == KP_VECTOR)
			k->s[i].par = KP_SERIAL;
	int var[IR_MAXRANK];
	var[0] = nest_dim_var(&nst, 0);
	for (int d = 1; d < r - 1; d++)
		var[d + 1] = nest_dim_var(&nst, d);
	int ti = nest_out_index(L, k, &nst);
	int tv = kir_cast(k, DT_I64, kir_load(k, n->in[1], ti));
	int ign = ig ? kir_bin(k, KB_EQ, tv, kir_const_i(k, ig->i)) : kir_const_t(k, DT_BOOL, 0);
	int C = kir_dim(k, x->shape.d[1]);
	var[1] = kir_check(k, kir_sel(k, ign, z, tv), C);     /* ignored: read class 0, weight 0 */
	int w = hw ? kir_cast(k, DT_F64, kir_load(k, n->in[2], var[1])) : kir_const_t(k, DT_F64, 1);
	w = kir_sel(k, ign, kir_const_t(k, DT_F64, 0), w);
	int xv = kir_cast(k, DT_F64, kir_load(k, n->in[0], row_major_index(L, k, &x->shape, var)));
	int l = kir_sel(k, ign, kir_const_t(k, DT_F64, 0),
	                kir_bin(k, KB_MUL, kir_un(k, KU_NEG, xv), w));
	int oty = kir_ty(y->dt);
	if (!red) {
		kir_store(k, nst.inner, false, (int)n->out[0], ti, kir_cast(k, oty, l));
		return LW_OK;
	}
	kir_acc(k, nst.inner, true, sum, KB_ADD, z, l);
	kir_acc(k, nst.inner, true, wsum, KB_ADD, z, w);
	int res = kir_lread(k, sum, z);
	if (red == 2)
		res = kir_bin(k, KB_DIV, res, kir_lread(k, wsum, z));
	kir_store(k, -1, false, (int)n->out[0], z, kir_cast(k, oty, res));
	return LW_OK;
}

int lower_more(Low *L, Node *n)
{
	switch (n->op) {
	case OP_ArgMax: case OP_ArgMin: return lower_argreduce(L, n);
	case OP_Trilu: return lower_trilu(L, n);
	case OP_GatherElements: return lower_gatherelements(L, n);
	case OP_CumSum: case OP_CumProd: return lower_cumsum(L, n);
	case OP_Expand: return lower_expand(L, n);
	case OP_LayerNormalization: return lower_layernorm(L, n);
	case OP_BatchNormalization: return lower_batchnorm(L, n);
	case OP_Split: return lower_split(L, n);
	case OP_Shape: case OP_Size: return lower_shape(L, n);
	case OP_ConstantOfShape: return lower_constantofshape(L, n);
	case OP_MaxPool: case OP_AveragePool: case OP_GlobalAveragePool: case OP_GlobalMaxPool:
		return lower_pool(L, n);
	case OP_NegativeLogLikelihoodLoss: return lower_nllloss(L, n);
	}
	return LW_CALL;
}
