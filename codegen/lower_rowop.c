/* Loop lowering of a fuse_group rooted at a row op (passes/fuse.c,
 * rowop_root): LayerNormalization or Softmax / LogSoftmax over the last
 * axis, with the elementwise chain that computes its input X (a residual
 * sum, Softmax(x * c + mask)). One row kernel:
 *
 *   for each row (thread loop over the leading dims):
 *     [X[row, j] = prologue(row, j)]         (when X has outside users)
 *     pass 1: sum or max of X (or of the prologue)
 *     pass 2: LayerNorm: variance of X - mean; Softmax: sum of exp(X - max)
 *     pass 3: the output row
 *
 * Passes 2 and 3 read X back when the kernel stores it (its producer has
 * `fuse_out = 1`: users outside the group), else recompute the prologue,
 * whose members are never stored. Values outside the group are loaded at
 * their broadcast index. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lower.h"

enum { MAXM = 128 };

typedef struct RowOp {
	Low *L;
	Kernel *k;
	int64_t gid;
	uint32_t x;       /* the root's input */
	bool stored;      /* X is written by this kernel */
} RowOp;

static bool same_shape(const Shape *a, const Shape *b)
{
	return a->rank == b->rank && !memcmp(a->d, b->d, (size_t)a->rank * sizeof(Dim));
}

/* Is v computed inside the kernel (a member of the group)? */
static bool member(const RowOp *R, uint32_t v)
{
	const Graph *g = R->L->g;
	return v < g->nval && g->val[v].kind == VK_NODE &&
	       lw_group_of(&g->node[g->val[v].def]) == R->gid && cg_group_member(g, g->val[v].def);
}

/* Value v at indices idx (v's rank). */
static int pval(RowOp *R, uint32_t v, const int *idx, int depth)
{
	Graph *g = R->L->g;
	Kernel *k = R->k;
	if (v >= g->nval || depth > MAXM)
		return -1;
	if (!member(R, v))
		return kir_load(k, v, row_major_index(R->L, k, &g->val[v].shape, idx));
	const Node *n = &g->node[g->val[v].def];
	if (!lw_ew_simple(g, n))
		return -1;
	int xs[2], ii[IR_MAXRANK];
	for (int j = 0; j < n->nin; j++) {
		if (!lw_bcast_idx(k, &g->val[n->in[j]].shape, &g->val[n->out[0]].shape, idx, ii) ||
		    (xs[j] = pval(R, n->in[j], ii, depth + 1)) < 0)
			return -1;
	}
	return lw_ew_value(k, n, g, xs, n->nin);
}

/* The members (producers reachable from X through members), node order. */
static int members(const RowOp *R, uint32_t *mem)
{
	const Graph *g = R->L->g;
	int nm = 0;
	if (!member(R, R->x))
		return 0;
	mem[nm++] = g->val[R->x].def;
	for (int q = 0; q < nm; q++) {
		const Node *n = &g->node[mem[q]];
		for (int j = 0; j < n->nin; j++) {
			if (!member(R, n->in[j]))
				continue;
			uint32_t m = g->val[n->in[j]].def;
			bool seen = false;
			for (int i = 0; i < nm; i++)
				seen |= mem[i] == m;
			if (seen)
				continue;
			if (nm >= MAXM)
				return -1;
			mem[nm++] = m;
		}
	}
	cg_sort_nodes(mem, nm);
	return nm;
}

/* X at the row's index j: read back when stored, else the prologue. */
static int xval(RowOp *R, const Shape *full, const int *idx)
{
	if (R->stored)
		return kir_load(R->k, R->x, row_major_index(R->L, R->k, full, idx));
	return pval(R, R->x, idx, 0);
}

/* The row kernel; false when some member cannot be computed (the caller
 * drops the kernel). */
static bool row_kernel(RowOp *R, const Node *root)
{
	Low *L = R->L;
	Graph *g = L->g;
	const Shape *full = &g->val[R->x].shape;
	int r = full->rank;
	Dim n = full->d[r - 1];
	Kernel *k = R->k;
	int idx[IR_MAXRANK];
	int cur = cg_row_loops(L, k, full, idx);
	int z = kir_const_i(k, 0);
	bool ln = root->op == OP_LayerNormalization, sm = root->op == OP_Softmax;
	int fn = kir_cast(k, DT_F32, kir_dim(k, n));
	/* pass 1: sum or max of the prologue; when X has outside users, one
	 * vector loop stores the row of X first and the reduction reads it back
	 * (a loop of its own: a simd reduction) */
	int lp;
	if (R->stored) {
		lp = kir_loop(k, cur, z, kir_dim(k, n), 1, KP_VECTOR);
		idx[r - 1] = kir_var(k, k->s[lp].var);
		int p = pval(R, R->x, idx, 0);
		if (p < 0)
			return false;
		kir_store(k, lp, false, (int)R->x, row_major_index(L, k, full, idx), p);
	}
	int a1 = kir_local(k, DT_F32, 1, KM_PRIVATE);
	kir_store(k, cur, true, a1, z, kir_const_t(k, DT_F32, ln ? 0 : -INFINITY));
	lp = kir_loop(k, cur, z, kir_dim(k, n), 1, KP_SERIAL);
	idx[r - 1] = kir_var(k, k->s[lp].var);
	int p = xval(R, full, idx);
	if (p < 0)
		return false;
	kir_acc(k, lp, true, a1, ln ? KB_ADD : KB_MAX, z, p);
	if (ln)
		kir_store(k, cur, true, a1, z, kir_bin(k, KB_DIV, kir_lread(k, a1, z), fn));
	/* pass 2 (Softmax: exp(X - max) stored by a vector loop, then summed) */
	uint32_t out = root->out[0];
	int a2 = kir_local(k, DT_F32, 1, KM_PRIVATE);
	kir_store(k, cur, true, a2, z, kir_const_t(k, DT_F32, 0));
	lp = kir_loop(k, cur, z, kir_dim(k, n), 1, sm ? KP_VECTOR : KP_SERIAL);
	idx[r - 1] = kir_var(k, k->s[lp].var);
	int xv = xval(R, full, idx);
	if (xv < 0)
		return false;
	int dv = kir_bin(k, KB_SUB, xv, kir_lread(k, a1, z));
	if (sm) {
		int oi = row_major_index(L, k, full, idx);
		kir_store(k, lp, false, (int)out, oi, kir_un(k, KU_EXP, dv));
		lp = kir_loop(k, cur, z, kir_dim(k, n), 1, KP_SERIAL);
		idx[r - 1] = kir_var(k, k->s[lp].var);
		kir_acc(k, lp, true, a2, KB_ADD, z, kir_load(k, out, row_major_index(L, k, full, idx)));
		kir_store(k, cur, true, a2, z, kir_bin(k, KB_DIV, kir_const_t(k, DT_F32, 1),
		                                        kir_lread(k, a2, z)));
	} else if (ln) {
		kir_acc(k, lp, true, a2, KB_ADD, z, kir_bin(k, KB_MUL, dv, dv));
		double eps = ir_attr_f(root, "epsilon", 1e-5);
		int rstd = kir_bin(k, KB_DIV, kir_const_t(k, DT_F32, 1),
		                   kir_un(k, KU_SQRT, kir_bin(k, KB_ADD, kir_bin(k, KB_DIV,
		                          kir_lread(k, a2, z), fn), kir_const_t(k, DT_F32, eps))));
		kir_store(k, cur, true, a2, z, rstd);
	} else {
		kir_acc(k, lp, true, a2, KB_ADD, z, kir_un(k, KU_EXP, dv));
		kir_store(k, cur, true, a2, z, kir_un(k, KU_LOG, kir_lread(k, a2, z)));
	}
	/* pass 3: the output row */
	lp = kir_loop(k, cur, z, kir_dim(k, n), 1, KP_VECTOR);
	idx[r - 1] = kir_var(k, k->s[lp].var);
	int oi = row_major_index(L, k, full, idx), y;
	if (sm) {
		y = kir_bin(k, KB_MUL, kir_load(k, out, oi), kir_lread(k, a2, z));
	} else {
		if ((xv = xval(R, full, idx)) < 0)
			return false;
		dv = kir_bin(k, KB_SUB, xv, kir_lread(k, a1, z));
		if (ln) {
			y = kir_bin(k, KB_MUL, kir_bin(k, KB_MUL, dv, kir_lread(k, a2, z)),
			            kir_load(k, root->in[1], idx[r - 1]));
			if (root->nin > 2 && root->in[2] != IR_NONE)
				y = kir_bin(k, KB_ADD, y, kir_load(k, root->in[2], idx[r - 1]));
		} else {
			y = kir_bin(k, KB_SUB, dv, kir_lread(k, a2, z));
		}
	}
	kir_store(k, lp, false, (int)out, oi, y);
	return true;
}

int lower_group_rowop(Low *L, Node *root)
{
	Graph *g = L->g;
	RowOp R = {.L = L, .gid = lw_group_of(root), .x = root->nin > 0 ? root->in[0] : IR_NONE};
	uint32_t mem[MAXM];
	if (R.x == IR_NONE || R.gid < 0)
		return LW_CALL;
	int nm = members(&R, mem);
	if (nm < 0)
		return ir_node_error(L->d, g, root, E_MODEL, "fused group too large to lower")
		       ? LW_ERR : LW_ERR;
	if (nm == 0)
		return LW_CALL;
	const Shape *full = &g->val[R.x].shape;
	int r = full->rank;
	bool ok = !L->p->gpu && r >= 1 && r <= IR_MAXRANK && g->val[R.x].dt == DT_F32 &&
	          g->val[root->out[0]].dt == DT_F32 && same_shape(full, &g->val[root->out[0]].shape);
	for (int i = 0; i < nm && ok; i++) {
		const Node *m = &g->node[mem[i]];
		ok = lw_ew_simple(g, m) && same_shape(&g->val[m->out[0]].shape, full);
	}
	if (ok && root->op == OP_LayerNormalization) {
		for (int j = 1; j < root->nin && j < 3; j++) {
			uint32_t v = root->in[j];
			ok &= j == 2 && v == IR_NONE ? true
			      : v != IR_NONE && g->val[v].dt == DT_F32 && g->val[v].shape.rank == 1 &&
			        g->val[v].shape.d[0] == full->d[r - 1];
		}
		uint32_t *uses = ir_use_counts(g);
		ok &= uses != NULL;
		for (int o = 1; o < root->nout && ok; o++) {
			uint32_t v = root->out[o];
			if (v == IR_NONE)
				continue;
			ok &= uses[v] == 0;
			for (uint32_t q = 0; q < g->nout; q++)
				ok &= g->out[q] != v;
		}
		free(uses);
		ok &= root->nin >= 2;
	}
	if (ok) {
		R.stored = ir_attr_i(&g->node[g->val[R.x].def], "fuse_out", 0) != 0;
		R.k = kir_kernel(L->p, KK_LOOP, L->nid);
		if (row_kernel(&R, root))
			return LW_OK;
		drop_last(L->p);
	}
	/* not one kernel: the members as kernels of their own, then the root */
	int rc = lw_lower_members(L, mem, nm);
	return rc == LW_OK ? LW_CALL : rc;
}
