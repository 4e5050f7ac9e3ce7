/* Loop lowering of a fuse_group with a row reduction (passes/fuse.c): a sum
 * or mean over the last axis with its prologue (the elementwise values it
 * sums), its epilogue (row-shaped values computed from it: eps, sqrt,
 * reciprocal) and the elementwise tail of the root's shape (x * r * w, a
 * residual). RMSNorm written out as ReduceMean(x*x) ... is one kernel:
 *
 *   for each row (thread loop over the leading dims):
 *     acc = 0; for j: acc += prologue(row, j)           (one register, simd)
 *     e_i = epilogue value i at (row, 0)                 (once per row)
 *     for j: out[row, j] = tail(row, j), reading e_i     (vector loop)
 *
 * Nothing between is stored. Values outside the group are loaded at their
 * broadcast index. */
#include <string.h>
#include "lower.h"

enum { MAXB = 16 };

typedef struct Rows {
	Low *L;
	Kernel *k;
	int64_t gid;
	uint32_t red;           /* the reduction node */
	int acc;                /* its accumulator (private local) */
	Dim n;                  /* the row length */
	uint32_t bv[MAXB];      /* row-shaped values read by the tail ... */
	int bl[MAXB];           /* ... and the locals holding them */
	int nb;
} Rows;

static bool member(const Rows *R, uint32_t v)
{
	const Graph *g = R->L->g;
	return g->val[v].kind == VK_NODE && lw_group_of(&g->node[g->val[v].def]) == R->gid &&
	       cg_group_member(g, g->val[v].def);
}

static int rnode(Rows *R, uint32_t ni, const int *idx, int depth);

/* Value v at indices idx (v's rank). */
static int rload(Rows *R, uint32_t v, const int *idx, int depth)
{
	Graph *g = R->L->g;
	Kernel *k = R->k;
	if (v >= g->nval || depth > 64)
		return -1;
	for (int i = 0; i < R->nb; i++)
		if (R->bv[i] == v)
			return kir_lread(k, R->bl[i], kir_const_i(k, 0));
	if (!member(R, v))
		return kir_load(k, v, row_major_index(R->L, k, &g->val[v].shape, idx));
	uint32_t m = g->val[v].def;
	if (m == R->red) {
		int s = kir_lread(k, R->acc, kir_const_i(k, 0));
		if (g->node[m].op == OP_ReduceMean)
			s = kir_bin(k, KB_DIV, s, kir_cast(k, DT_F32, kir_dim(k, R->n)));
		return s;
	}
	return rnode(R, m, idx, depth + 1);
}

static int rnode(Rows *R, uint32_t ni, const int *idx, int depth)
{
	Graph *g = R->L->g;
	const Node *n = &g->node[ni];
	if (!lw_ew_simple(g, n))
		return -1;
	const Shape *ys = &g->val[n->out[0]].shape;
	int xs[2], ii[IR_MAXRANK];
	for (int j = 0; j < n->nin; j++) {
		if (!lw_bcast_idx(R->k, &g->val[n->in[j]].shape, ys, idx, ii))
			return -1;
		if ((xs[j] = rload(R, n->in[j], ii, depth)) < 0)
			return -1;
	}
	return lw_ew_value(R->k, n, g, xs, n->nin);
}

static bool same_shape(const Shape *a, const Shape *b)
{
	return a->rank == b->rank && !memcmp(a->d, b->d, (size_t)a->rank * sizeof(Dim));
}

/* The row-shaped members that a member of the full shape reads: the values
 * computed once per row. */
static bool boundaries(Rows *R, uint32_t ni, const Shape *full, int depth)
{
	Graph *g = R->L->g;
	const Node *n = &g->node[ni];
	if (depth > 64)
		return false;
	for (int j = 0; j < n->nin; j++) {
		uint32_t v = n->in[j];
		if (v >= g->nval || !member(R, v))
			continue;
		uint32_t m = g->val[v].def;
		if (same_shape(&g->val[v].shape, full)) {
			if (m == R->red || !boundaries(R, m, full, depth + 1))
				return false;
			continue;
		}
		bool seen = false;
		for (int i = 0; i < R->nb; i++)
			seen |= R->bv[i] == v;
		if (seen)
			continue;
		if (R->nb >= MAXB)
			return false;
		R->bv[R->nb++] = v;
	}
	return true;
}

/* One loop per leading dim of `full` that is not 1 (index 0 where it is),
 * outermost first, their variables in idx[0 .. rank-2]; the first is the
 * thread loop (when the tensor is big, or on GPU targets), all others
 * serial, so each iteration of the innermost reuses the row's private
 * accumulators. Returns the innermost loop (-1: none). */
int cg_row_loops(Low *L, Kernel *k, const Shape *full, int *idx)
{
	int r = full->rank, cur = -1;
	int64_t numel = shape_numel_static(full);
	bool first = true;
	/* host, run-time sized leading dims ([batch, seq, C] exports): one
	 * thread loop over all rows, each row's indices by division, so the
	 * threads share the rows even when the outermost dim is 1 at run time */
	int lead = 0;
	bool sym = false;
	for (int d = 0; d < r - 1; d++)
		if (full->d[d] != 1) {
			lead++;
			sym |= full->d[d] < 0;
		}
	if (!L->p->gpu && L->p->opt > 0 && lead >= 2 && sym) {
		Dim rows = 1;
		for (int d = 0; d < r - 1; d++)
			rows = ir_dim_bin(L->g, DX_MUL, rows, full->d[d]);
		int64_t inner = full->d[r - 1] >= 0 ? full->d[r - 1] : 64;
		cur = kir_loop(k, -1, kir_const_i(k, 0), kir_dim(k, rows), 1, KP_THREAD);
		k->s[cur].grain = LW_GRAIN(inner);
		/* each row's indices computed once, into private scalars the
		 * row's loops read (not divided again inside them) */
		int i = kir_var(k, k->s[cur].var), loc = kir_local(k, DT_I64, lead, KM_PRIVATE);
		for (int d = r - 2, slot = 0; d >= 0; d--) {
			if (full->d[d] == 1) {
				idx[d] = kir_const_i(k, 0);
				continue;
			}
			int ext = kir_dim(k, full->d[d]);
			int v = --lead ? kir_bin(k, KB_MOD, i, ext) : i;
			if (lead)
				i = kir_bin(k, KB_DIV, i, ext);
			kir_store(k, cur, true, loc, kir_const_i(k, slot), v);
			idx[d] = kir_lread(k, loc, kir_const_i(k, slot));
			slot++;
		}
		return cur;
	}
	for (int d = 0; d < r - 1; d++) {
		if (full->d[d] == 1) {
			idx[d] = kir_const_i(k, 0);
			continue;
		}
		int mode = KP_SERIAL;
		int64_t grain = 1;
		if (first && (L->p->gpu || (L->p->opt > 0 && (numel < 0 || numel >= LW_PAR_MIN)))) {
			mode = KP_THREAD;
			int64_t inner = 1;
			for (int e = d + 1; e < r; e++)
				inner *= full->d[e] >= 0 ? full->d[e] : 64;
			grain = LW_GRAIN(inner);
		}
		first = false;
		cur = kir_loop(k, cur, kir_const_i(k, 0), kir_dim(k, full->d[d]), 1, mode);
		k->s[cur].grain = grain;
		idx[d] = kir_var(k, k->s[cur].var);
	}
	return cur;
}

int lower_group_rows(Low *L, Node *root, const uint32_t *mem, int nm)
{
	Graph *g = L->g;
	const Shape *full = &g->val[root->out[0]].shape;
	int r = full->rank;
	if (r < 1 || r > IR_MAXRANK || !lw_ew_simple(g, root))
		return LW_CALL;
	Rows R = {.L = L, .gid = lw_group_of(root), .red = UINT32_MAX, .n = full->d[r - 1]};
	for (int i = 0; i < nm; i++) {
		const Node *m = &g->node[mem[i]];
		if (m->op == OP_ReduceMean || m->op == OP_ReduceSum) {
			if (R.red != UINT32_MAX || !same_shape(&g->val[m->in[0]].shape, full))
				return LW_CALL;
			R.red = mem[i];
		} else if (!lw_ew_simple(g, m)) {
			return LW_CALL;
		}
	}
	if (R.red == UINT32_MAX)
		return LW_CALL;
	/* a row-shaped member would be evaluated at (row, 0): check the shapes */
	Shape row = *full;
	row.d[r - 1] = 1;
	for (int i = 0; i < nm; i++) {
		const Shape *s = &g->val[g->node[mem[i]].out[0]].shape;
		if (!same_shape(s, full) && !same_shape(s, &row))
			return LW_CALL;
	}
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	R.k = k;
	if (!boundaries(&R, L->nid, full, 0)) {
		drop_last(L->p);
		return LW_CALL;
	}
	int idx[IR_MAXRANK];
	int cur = cg_row_loops(L, k, full, idx);
	Nest ne = {.inner = cur};
	int z = kir_const_i(k, 0);
	/* the reduction over one row */
	R.acc = kir_local(k, DT_F32, 1, KM_PRIVATE);
	kir_store(k, ne.inner, true, R.acc, z, kir_const_t(k, DT_F32, 0));
	int lr = kir_loop(k, ne.inner, z, kir_dim(k, R.n), 1, KP_SERIAL);
	idx[r - 1] = kir_var(k, k->s[lr].var);
	const Node *red = &g->node[R.red];
	int pv = rload(&R, red->in[0], idx, 0);
	if (pv < 0) {
		drop_last(L->p);
		return LW_CALL;
	}
	kir_acc(k, lr, true, R.acc, KB_ADD, z, pv);
	/* the epilogue values, once per row */
	idx[r - 1] = z;
	int nb = R.nb;
	R.nb = 0;   /* evaluate them from the accumulator, not from themselves */
	for (int i = 0; i < nb; i++) {
		int v = rload(&R, R.bv[i], idx, 0);
		if (v < 0) {
			drop_last(L->p);
			return LW_CALL;
		}
		R.bl[i] = kir_local(k, DT_F32, 1, KM_PRIVATE);
		kir_store(k, ne.inner, true, R.bl[i], z, v);
		R.nb = i + 1;
	}
	/* the row of the root */
	int lt = kir_loop(k, ne.inner, z, kir_dim(k, R.n), 1, KP_VECTOR);
	idx[r - 1] = kir_var(k, k->s[lt].var);
	int v = rnode(&R, L->nid, idx, 0);
	if (v < 0) {
		drop_last(L->p);
		return LW_CALL;
	}
	kir_store(k, lt, false, (int)root->out[0], row_major_index(L, k, full, idx), v);
	return LW_OK;
}
