/* Loop lowering of reductions: Reduce* over constant axes, and Softmax /
 * LogSoftmax along an axis (opset >= 13) or over the trailing dims
 * (older opsets). Kept dims are the outer (parallel) loops; the reduction
 * runs in a private accumulator. */
#include <math.h>
#include <string.h>
#include "lower.h"

/* Loops over the dims with keep[d] set, outermost first; the first becomes a
 * thread loop when the whole output is big. Sets var[d] for those dims. */
static int kept_loops(Low *L, Kernel *k, const Shape *s, const bool *keep, int *var, int parent)
{
	int64_t numel = 1;
	for (int d = 0; d < s->rank; d++)
		if (keep[d])
			numel = numel < 0 || s->d[d] < 0 ? -1 : numel * s->d[d];
	int cur = parent;
	bool first = true;
	for (int d = 0; d < s->rank; d++) {
		if (!keep[d])
			continue;
		int mode = KP_SERIAL;
		if (first && (L->p->gpu || (L->p->opt > 0 && (numel < 0 || numel >= 64))))
			mode = KP_THREAD;
		first = false;
		cur = kir_loop(k, cur, kir_const_i(k, 0), kir_dim(k, s->d[d]), 1, mode);
		var[d] = kir_var(k, k->s[cur].var);
	}
	return cur;
}

static int red_loops(Kernel *k, const Shape *s, const bool *keep, int *var, int parent)
{
	int cur = parent;
	for (int d = 0; d < s->rank; d++) {
		if (keep[d])
			continue;
		cur = kir_loop(k, cur, kir_const_i(k, 0), kir_dim(k, s->d[d]), 1, KP_SERIAL);
		var[d] = kir_var(k, k->s[cur].var);
	}
	return cur;
}

static int in_index(Low *L, Kernel *k, const Shape *s, const int *var)
{
	return row_major_index(L, k, s, var);
}

static double lowest(int ty, bool hi)
{
	if (dt_is_float(ty))
		return hi ? INFINITY : -INFINITY;
	switch (ty) {
	case DT_I8: return hi ? 127 : -128;
	case DT_U8: return hi ? 255 : 0;
	case DT_I16: return hi ? 32767 : -32768;
	case DT_U16: return hi ? 65535 : 0;
	case DT_I32: return hi ? 2147483647.0 : -2147483648.0;
	case DT_U32: return hi ? 4294967295.0 : 0;
	case DT_BOOL: return hi ? 1 : 0;
	case DT_U64: return hi ? 18446744073709551615.0 : 0;
	default: return hi ? 9223372036854775807.0 : -9223372036854775807.0 - 1;
	}
}

int lower_reduce(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]], *y = &g->val[n->out[0]];
	int r = x->shape.rank;
	int64_t axes[IR_MAXRANK * 2];
	int na;
	bool axes_in = n->opset >= 18 || (n->op == OP_ReduceSum && n->opset >= 13);
	if (axes_in) {
		na = n->nin > 1 && n->in[1] != IR_NONE ? const_ints(g, n->in[1], axes, IR_MAXRANK * 2) : 0;
		if (na < 0)
			return LW_CALL;   /* axes known only at run time */
	} else {
		const int64_t *a;
		na = ir_attr_ints(n, "axes", &a);
		if (na > IR_MAXRANK * 2)
			return LW_CALL;
		for (int i = 0; i < na; i++)
			axes[i] = a[i];
	}
	bool keepdims = ir_attr_i(n, "keepdims", 1) != 0;
	bool keep[IR_MAXRANK];
	for (int d = 0; d < r; d++)
		keep[d] = na > 0;
	if (na == 0 && axes_in && ir_attr_i(n, "noop_with_empty_axes", 0))
		for (int d = 0; d < r; d++)
			keep[d] = true;
	for (int i = 0; i < na; i++) {
		int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
		if (a < 0 || a >= r)
			return ir_node_error(L->d, g, n, E_MODEL, "axis %lld out of range for rank %d",
			                     (long long)axes[i], r) ? LW_ERR : LW_ERR;
		keep[a] = false;
	}
	int ty = kir_ty(x->dt);
	int oty = kir_ty(y->dt);
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	int var[IR_MAXRANK];
	int outer = kept_loops(L, k, &x->shape, keep, var, -1);
	/* output index: over kept dims of the output shape */
	int oidx = kir_const_i(k, 0);
	for (int d = 0, od = 0; d < r; d++) {
		if (keep[d]) {
			oidx = kir_add(k, oidx, kir_mul(k, var[d], kir_dim(k, shape_stride(g, &y->shape, od))));
			od++;
		} else if (keepdims) {
			od++;
		}
	}
	Dim cnt = 1;
	for (int d = 0; d < r; d++)
		if (!keep[d])
			cnt = ir_dim_bin(g, DX_MUL, cnt, x->shape.d[d]);
	int acc = kir_local(k, ty, 1, KM_PRIVATE);
	int z = kir_const_i(k, 0);
	int fn = KB_ADD;
	double init = 0;
	switch (n->op) {
	case OP_ReduceMax: fn = KB_MAX; init = lowest(ty, false); break;
	case OP_ReduceMin: fn = KB_MIN; init = lowest(ty, true); break;
	case OP_ReduceProd: fn = KB_MUL; init = 1; break;
	case OP_ReduceLogSumExp: fn = KB_ADD; break;
	}
	int mx = -1;
	if (n->op == OP_ReduceLogSumExp) {   /* max first, for a stable exp-sum */
		mx = kir_local(k, ty, 1, KM_PRIVATE);
		kir_store(k, outer, true, mx, z, kir_const_t(k, ty, -INFINITY));
		int lp = red_loops(k, &x->shape, keep, var, outer);
		kir_acc(k, lp, true, mx, KB_MAX, z, kir_load(k, n->in[0], in_index(L, k, &x->shape, var)));
		/* all -inf (or empty): fall back to 0 so exp stays finite */
		int m = kir_lread(k, mx, z);
		kir_store(k, outer, true, mx, z,
		          kir_sel(k, kir_un(k, KU_ISNINF, m), kir_const_t(k, ty, 0), m));
	}
	kir_store(k, outer, true, acc, z, kir_const_t(k, ty, init));
	int lp = red_loops(k, &x->shape, keep, var, outer);
	int v = kir_load(k, n->in[0], in_index(L, k, &x->shape, var));
	switch (n->op) {
	case OP_ReduceL1: v = kir_un(k, KU_ABS, v); break;
	case OP_ReduceL2: case OP_ReduceSumSquare: v = kir_bin(k, KB_MUL, v, v); break;
	case OP_ReduceLogSumExp:
		v = kir_un(k, KU_EXP, kir_bin(k, KB_SUB, v, kir_lread(k, mx, z)));
		break;
	}
	kir_acc(k, lp, true, acc, fn, z, v);
	int res = kir_lread(k, acc, z);
	switch (n->op) {
	case OP_ReduceL2: res = kir_un(k, KU_SQRT, res); break;
	case OP_ReduceLogSum: res = kir_un(k, KU_LOG, res); break;
	case OP_ReduceLogSumExp:
		res = kir_bin(k, KB_ADD, kir_un(k, KU_LOG, res), kir_lread(k, mx, z));
		break;
	case OP_ReduceMean: res = kir_bin(k, KB_DIV, res, kir_cast(k, ty, kir_dim(k, cnt))); break;
	}
	kir_store(k, outer, false, (int)n->out[0], oidx, kir_cast(k, oty, res));
	return LW_OK;
}

int lower_softmax(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]];
	int r = x->shape.rank;
	if (!dt_is_float(x->dt) || r == 0)
		return LW_CALL;
	int64_t axis = ir_attr_i(n, "axis", n->opset >= 13 ? -1 : 1);
	if (axis < 0)
		axis += r;
	if (axis < 0 || axis >= r)
		return ir_node_error(L->d, g, n, E_MODEL, "axis %lld out of range for rank %d",
		                     (long long)ir_attr_i(n, "axis", 0), r) ? LW_ERR : LW_ERR;
	bool keep[IR_MAXRANK];
	for (int d = 0; d < r; d++)
		keep[d] = n->opset >= 13 ? d != axis : d < axis;
	int ty = kir_ty(x->dt);
	uint32_t out = n->out[0];
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	int var[IR_MAXRANK];
	int outer = kept_loops(L, k, &x->shape, keep, var, -1);
	int z = kir_const_i(k, 0);
	int mx = kir_local(k, ty, 1, KM_PRIVATE), sum = kir_local(k, ty, 1, KM_PRIVATE);
	kir_store(k, outer, true, mx, z, kir_const_t(k, ty, -INFINITY));
	int lp = red_loops(k, &x->shape, keep, var, outer);
	int idx = in_index(L, k, &x->shape, var);
	kir_acc(k, lp, true, mx, KB_MAX, z, kir_load(k, n->in[0], idx));
	kir_store(k, outer, true, sum, z, kir_const_t(k, ty, 0));
	lp = red_loops(k, &x->shape, keep, var, outer);
	idx = in_index(L, k, &x->shape, var);
	int sh = kir_bin(k, KB_SUB, kir_load(k, n->in[0], idx), kir_lread(k, mx, z));
	if (n->op == OP_Softmax) {
		int e = kir_un(k, KU_EXP, sh);
		kir_store(k, lp, false, (int)out, idx, e);
		kir_acc(k, lp, true, sum, KB_ADD, z, e);
		kir_store(k, outer, true, sum, z, kir_bin(k, KB_DIV, kir_const_t(k, ty, 1),
		                                          kir_lread(k, sum, z)));
		lp = red_loops(k, &x->shape, keep, var, outer);
		idx = in_index(L, k, &x->shape, var);
		/* output is f32 for f32 input; f16/bf16 outputs re-read what was stored */
		kir_store(k, lp, false, (int)out, idx,
		          kir_bin(k, KB_MUL, kir_load(k, out, idx), kir_lread(k, sum, z)));
	} else {
		kir_acc(k, lp, true, sum, KB_ADD, z, kir_un(k, KU_EXP, sh));
		kir_store(k, outer, true, sum, z, kir_un(k, KU_LOG, kir_lread(k, sum, z)));
		lp = red_loops(k, &x->shape, keep, var, outer);
		idx = in_index(L, k, &x->shape, var);
		int v = kir_bin(k, KB_SUB, kir_bin(k, KB_SUB, kir_load(k, n->in[0], idx),
		                                   kir_lread(k, mx, z)), kir_lread(k, sum, z));
		kir_store(k, lp, false, (int)out, idx, v);
	}
	return LW_OK;
}
