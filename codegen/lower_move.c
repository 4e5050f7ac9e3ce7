/* Loop lowering of data-movement ops: Transpose, Concat, Slice (constant
 * starts/ends/axes/steps) and Gather (any axis, indices checked at run time).
 * Each output element is one load at a computed index. */
#include <string.h>
#include "lower.h"

int lw_transpose_perm(Low *L, Node *n, int64_t *perm)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]];
	int r = x->shape.rank;
	const int64_t *pa;
	int np = ir_attr_ints(n, "perm", &pa);
	if (np == 0) {
		for (int d = 0; d < r; d++)
			perm[d] = r - 1 - d;
	} else {
		if (np != r)
			return ir_node_error(L->d, g, n, E_MODEL, "perm has %d entries for rank %d", np, r)
			       ? LW_ERR : LW_ERR;
		bool seen[IR_MAXRANK] = {0};
		for (int d = 0; d < r; d++) {
			if (pa[d] < 0 || pa[d] >= r || seen[pa[d]])
				return ir_node_error(L->d, g, n, E_MODEL, "perm is not a permutation")
				       ? LW_ERR : LW_ERR;
			seen[pa[d]] = true;
			perm[d] = pa[d];
		}
	}
	return LW_OK;
}

int lower_transpose(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]], *y = &g->val[n->out[0]];
	int r = x->shape.rank;
	int64_t perm[IR_MAXRANK];
	int rc = lw_transpose_perm(L, n, perm);
	if (rc != LW_OK)
		return rc;
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	Nest ne;
	nest_build(L, k, &ne, &y->shape, NULL, 0, false, -1, true);
	int idx = kir_const_i(k, 0);
	for (int d = 0; d < r; d++)
		idx = kir_add(k, idx, kir_mul(k, nest_dim_var(&ne, d),
		                              kir_dim(k, shape_stride(g, &x->shape, (int)perm[d]))));
	kir_store(k, ne.inner, false, (int)n->out[0], nest_out_index(L, k, &ne),
	          kir_load(k, n->in[0], idx));
	return LW_OK;
}

int lower_concat(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *y = &g->val[n->out[0]];
	int r = y->shape.rank;
	int64_t axis = ir_attr_i(n, "axis", 0);
	if (axis < 0)
		axis += r;
	if (axis < 0 || axis >= r)
		return ir_node_error(L->d, g, n, E_MODEL, "axis out of range for rank %d", r)
		       ? LW_ERR : LW_ERR;
	if (L->p->opt > 0 && lw_group_of(n) >= 0) {   /* a group's root (passes/fuse.c) */
		int rc = lw_concat_group(L, n);
		if (rc != LW_CALL)
			return rc;
	}
	for (int j = 0; j < n->nin; j++)
		if (n->in[j] == IR_NONE || g->val[n->in[j]].shape.rank != r ||
		    g->val[n->in[j]].dt != y->dt)
			return LW_CALL;
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	Dim outer = 1, inner = 1;
	for (int d = 0; d < axis; d++)
		outer = ir_dim_bin(g, DX_MUL, outer, y->shape.d[d]);
	for (int d = (int)axis + 1; d < r; d++)
		inner = ir_dim_bin(g, DX_MUL, inner, y->shape.d[d]);
	Dim orow = ir_dim_bin(g, DX_MUL, y->shape.d[axis], inner);
	Dim off = 0;
	for (int j = 0; j < n->nin; j++) {
		const Value *x = &g->val[n->in[j]];
		Dim row = ir_dim_bin(g, DX_MUL, x->shape.d[axis], inner);
		int64_t so = outer >= 0 ? outer : -1, sr = row >= 0 ? row : -1;
		bool par = L->p->gpu || (L->p->opt > 0 && (so < 0 || sr < 0 || so * sr >= LW_PAR_MIN) && so != 1);
		int lo = kir_loop(k, -1, kir_const_i(k, 0), kir_dim(k, outer), 1,
		                  par ? KP_THREAD : KP_SERIAL);
		int vo = kir_var(k, k->s[lo].var);
		int lc = kir_loop(k, lo, kir_const_i(k, 0), kir_dim(k, row), 1, KP_VECTOR);
		int vc = kir_var(k, k->s[lc].var);
		int iidx = kir_add(k, kir_mul(k, vo, kir_dim(k, row)), vc);
		int oidx = kir_add(k, kir_add(k, kir_mul(k, vo, kir_dim(k, orow)),
		                              kir_dim(k, ir_dim_bin(g, DX_MUL, off, inner))), vc);
		kir_store(k, lc, false, (int)n->out[0], oidx, kir_load(k, n->in[j], iidx));
		off = ir_dim_bin(g, DX_ADD, off, x->shape.d[axis]);
	}
	return LW_OK;
}

static int64_t clampi(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

int lw_slice_params(Low *L, Node *n, int64_t *start, int64_t *step)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]];
	int r = x->shape.rank;
	int64_t st[IR_MAXRANK], en[IR_MAXRANK], ax[IR_MAXRANK], sp[IR_MAXRANK];
	int ns, ne2, na, nsp;
	if (n->opset < 10) {
		const int64_t *a;
		ns = ir_attr_ints(n, "starts", &a);
		if (ns > IR_MAXRANK)
			return LW_CALL;
		if (ns > 0)
			memcpy(st, a, (size_t)ns * sizeof *a);
		ne2 = ir_attr_ints(n, "ends", &a);
		if (ne2 != ns)
			return LW_CALL;
		if (ne2 > 0)
			memcpy(en, a, (size_t)ne2 * sizeof *a);
		na = ir_attr_ints(n, "axes", &a);
		if (na > IR_MAXRANK)
			return LW_CALL;
		if (na > 0)
			memcpy(ax, a, (size_t)na * sizeof *a);
		nsp = 0;
	} else {
		ns = const_ints(g, n->in[1], st, IR_MAXRANK);
		ne2 = const_ints(g, n->in[2], en, IR_MAXRANK);
		na = n->nin > 3 && n->in[3] != IR_NONE ? const_ints(g, n->in[3], ax, IR_MAXRANK) : 0;
		nsp = n->nin > 4 && n->in[4] != IR_NONE ? const_ints(g, n->in[4], sp, IR_MAXRANK) : 0;
		if (ns < 0 || ne2 < 0 || na < 0 || nsp < 0)
			return LW_CALL;   /* run-time starts/ends */
	}
	if (ns != ne2 || (na && na != ns) || (nsp && nsp != ns))
		return ir_node_error(L->d, g, n, E_MODEL, "starts/ends/axes/steps lengths differ")
		       ? LW_ERR : LW_ERR;
	for (int d = 0; d < r; d++) {
		start[d] = 0;
		step[d] = 1;
	}
	for (int i = 0; i < ns; i++) {
		int64_t a = na ? ax[i] : i;
		if (a < 0)
			a += r;
		if (a < 0 || a >= r)
			return ir_node_error(L->d, g, n, E_MODEL, "axis out of range") ? LW_ERR : LW_ERR;
		int64_t s = nsp ? sp[i] : 1;
		if (s == 0)
			return ir_node_error(L->d, g, n, E_MODEL, "step is 0") ? LW_ERR : LW_ERR;
		Dim D = x->shape.d[a];
		int64_t b = st[i];
		if (D < 0) {
			if (b < 0 || s < 0)
				return LW_CALL;   /* would need the run-time dim */
		} else {
			if (b < 0)
				b += D;
			b = s > 0 ? clampi(b, 0, D) : clampi(b, 0, D - 1);
		}
		start[a] = b;
		step[a] = s;
	}
	return LW_OK;
}

int lower_slice(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]], *y = &g->val[n->out[0]];
	int r = x->shape.rank;
	int64_t start[IR_MAXRANK], step[IR_MAXRANK];
	int rc = lw_slice_params(L, n, start, step);
	if (rc != LW_OK)
		return rc;
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	Nest nst;
	nest_build(L, k, &nst, &y->shape, NULL, 0, false, -1, true);
	int idx = kir_const_i(k, 0);
	for (int d = 0; d < r; d++) {
		int v = nest_dim_var(&nst, d);
		int e = kir_add(k, kir_const_i(k, start[d]), kir_mul(k, v, kir_const_i(k, step[d])));
		idx = kir_add(k, idx, kir_mul(k, e, kir_dim(k, shape_stride(g, &x->shape, d))));
	}
	kir_store(k, nst.inner, false, (int)n->out[0], nest_out_index(L, k, &nst),
	          kir_load(k, n->in[0], idx));
	return LW_OK;
}

/* The checked gather index depends only on the loops down to dim `last`
 * (the last index dim); when dims follow it, compute it once per iteration of
 * that loop into a private scalar instead of in the innermost loop (where
 * the check's error flag keeps the C compiler from hoisting it). The nest
 * has one loop per dim (built without merging), each the first statement of
 * its parent. */
static int hoist_index(Kernel *k, int last, int lastvar, int rank, int ix)
{
	if (last < 0 || last >= rank - 1 || lastvar < 0 || k->x[lastvar].op != KX_VAR)
		return ix;
	int lp = k->root;
	for (int d = 0; lp >= 0 && d < last; d++)
		lp = k->s[lp].op == KS_LOOP ? k->s[lp].body : -1;
	/* only into the loop of dim `last` itself (no tiling loops in between) */
	if (lp < 0 || k->s[lp].op != KS_LOOP || k->s[lp].body < 0 ||
	    k->s[lp].var != k->x[lastvar].i)
		return ix;
	int z = kir_const_i(k, 0);
	int li = kir_local(k, DT_I64, 1, KM_PRIVATE);
	int st = kir_store(k, lp, true, li, z, ix);
	/* kir_store appended it after the inner loop: move it to the front */
	int first = k->s[lp].body;
	if (first != st) {
		int prev = first;
		while (k->s[prev].next != st)
			prev = k->s[prev].next;
		k->s[prev].next = k->s[st].next;
		k->s[st].next = first;
		k->s[lp].body = st;
	}
	return kir_lread(k, li, z);
}

int lower_gather(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]], *iv = &g->val[n->in[1]], *y = &g->val[n->out[0]];
	int r = x->shape.rank, q = iv->shape.rank;
	if (iv->dt != DT_I64 && iv->dt != DT_I32)
		return LW_CALL;
	int64_t axis = ir_attr_i(n, "axis", 0);
	if (axis < 0)
		axis += r;
	if (axis < 0 || axis >= r)
		return ir_node_error(L->d, g, n, E_MODEL, "axis out of range for rank %d", r)
		       ? LW_ERR : LW_ERR;
	if (y->shape.rank != r + q - 1)
		return LW_CALL;
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	Nest nst;
	nest_build(L, k, &nst, &y->shape, NULL, 0, false, -1, true);
	int ivar[IR_MAXRANK];
	for (int d = 0; d < q; d++)
		ivar[d] = nest_dim_var(&nst, (int)axis + d);
	int ix = kir_cast(k, DT_I64, kir_load(k, n->in[1], row_major_index(L, k, &iv->shape, ivar)));
	int D = kir_dim(k, x->shape.d[axis]);
	ix = kir_sel(k, kir_bin(k, KB_LT, ix, kir_const_i(k, 0)), kir_add(k, ix, D), ix);
	ix = kir_check(k, ix, D);
	ix = hoist_index(k, (int)axis + q - 1, nest_dim_var(&nst, (int)axis + q - 1), y->shape.rank, ix);
	int idx = kir_const_i(k, 0);
	for (int d = 0; d < r; d++) {
		int v = d < axis ? nest_dim_var(&nst, d) : d == axis ? ix : nest_dim_var(&nst, d + q - 1);
		idx = kir_add(k, idx, kir_mul(k, v, kir_dim(k, shape_stride(g, &x->shape, d))));
	}
	kir_store(k, nst.inner, false, (int)n->out[0], nest_out_index(L, k, &nst),
	          kir_load(k, n->in[0], idx));
	return LW_OK;
}
