/* GPU-shaped lowerings (GPU targets only, p->gpu): row reductions as one
 * block of GPU_ROW_THREADS threads per row, each thread striding over the
 * row, then a tree reduction in shared memory with barriers:
 *     for r in [0, R) gpu.block: for t in [0, T) gpu.thread:
 *         acc = init; for j in [t, N) step T: acc = fn(acc, x[r*N + j])
 *         sh[t] = acc; barrier
 *         for s = T/2 .. 1: if t < s: sh[t] = fn(sh[t], sh[t + s]); barrier
 * Softmax/LogSoftmax (max, then sum of exp) and ReduceSum/Mean/Max/Min of
 * float tensors whose reduced axes are a contiguous suffix (so row r is
 * x[r*N .. r*N + N)). Anything else returns LW_CALL and takes the generic
 * lowering, which the grid mapper (gpu_map.c) spreads one row per thread. */
#include <math.h>
#include "lower.h"

#define GPU_ROW_THREADS 128

static void tree(Kernel *k, int parent, int sh, int tv, int fn)
{
	for (int s = GPU_ROW_THREADS / 2; s >= 1; s /= 2) {
		int iff = kir_if(k, parent, kir_bin(k, KB_LT, tv, kir_const_i(k, s)));
		kir_acc(k, iff, true, sh, fn, tv, kir_lread(k, sh, kir_add(k, tv, kir_const_i(k, s))));
		kir_barrier(k, parent);
	}
}

/* acc[0] := fn over the row of v(j) (j: the loop var expression), reduced
 * across the block; the result is left in private acc[0] for every thread. */
typedef int (*RowFn)(Kernel *k, void *ctx, int j);

static void row_reduce(Kernel *k, int tl, int tv, int nrow, int acc, int sh, int fn, double init,
                       RowFn f, void *ctx)
{
	int z = kir_const_i(k, 0);
	int ty = k->local[acc].ty;
	kir_store(k, tl, true, acc, z, kir_const_t(k, ty, init));
	int lj = kir_loop(k, tl, tv, nrow, GPU_ROW_THREADS, KP_SERIAL);
	kir_acc(k, lj, true, acc, fn, z, f(k, ctx, kir_var(k, k->s[lj].var)));
	kir_store(k, tl, true, sh, tv, kir_lread(k, acc, z));
	kir_barrier(k, tl);
	tree(k, tl, sh, tv, fn);
	kir_store(k, tl, true, acc, z, kir_lread(k, sh, z));
	kir_barrier(k, tl);   /* sh is reused next */
}

typedef struct Ctx {
	uint32_t x, y;
	int base, mx, ty;
} Ctx;

static int at(Kernel *k, const Ctx *c, int j) { return kir_add(k, c->base, j); }
static int ld(Kernel *k, void *cv, int j)
{
	Ctx *c = cv;
	return kir_load(k, c->x, at(k, c, j));
}
static int ex_shift(Kernel *k, void *cv, int j)
{
	Ctx *c = cv;
	return kir_un(k, KU_EXP, kir_bin(k, KB_SUB, ld(k, cv, j), kir_lread(k, c->mx, kir_const_i(k, 0))));
}

/* Split x's dims into kept prefix (R rows) and reduced suffix (N); false if
 * the reduced dims are not a suffix. */
static bool rows(Graph *g, const Shape *s, const bool *keep, Dim *R, Dim *N)
{
	int first = s->rank;
	for (int d = 0; d < s->rank; d++)
		if (!keep[d]) {
			first = d;
			break;
		}
	for (int d = first; d < s->rank; d++)
		if (keep[d])
			return false;
	*R = 1;
	*N = 1;
	for (int d = 0; d < s->rank; d++)
		*(d < first ? R : N) = ir_dim_bin(g, DX_MUL, d < first ? *R : *N, s->d[d]);
	return true;
}

static int begin(Low *L, Dim R, int *tl, int *tv, int *rv)
{
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	int z = kir_const_i(k, 0);
	int bl = kir_loop(k, -1, z, kir_dim(k, R), 1, KP_GPU_BLOCK);
	*rv = kir_var(k, k->s[bl].var);
	*tl = kir_loop(k, bl, z, kir_const_i(k, GPU_ROW_THREADS), 1, KP_GPU_THREAD);
	*tv = kir_var(k, k->s[*tl].var);
	return L->p->nk - 1;
}

static int softmax(Low *L, Node *n)
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
		return LW_CALL;   /* the generic lowering reports it */
	bool keep[IR_MAXRANK];
	for (int d = 0; d < r; d++)
		keep[d] = n->opset >= 13 ? d != axis : d < axis;
	Dim R, N;
	if (!rows(g, &x->shape, keep, &R, &N))
		return LW_CALL;
	int tl, tv, rv;
	int ki = begin(L, R, &tl, &tv, &rv);   /* may move p->k */
	Kernel *k = &L->p->k[ki];
	int ty = kir_ty(x->dt), z = kir_const_i(k, 0), nrow = kir_dim(k, N);
	int sh = kir_local(k, ty, GPU_ROW_THREADS, KM_SHARED);
	int acc = kir_local(k, ty, 1, KM_PRIVATE), mx = kir_local(k, ty, 1, KM_PRIVATE);
	Ctx c = {n->in[0], n->out[0], kir_mul(k, rv, nrow), mx, ty};
	row_reduce(k, tl, tv, nrow, acc, sh, KB_MAX, -INFINITY, ld, &c);
	kir_store(k, tl, true, mx, z, kir_lread(k, acc, z));
	row_reduce(k, tl, tv, nrow, acc, sh, KB_ADD, 0, ex_shift, &c);
	int lj = kir_loop(k, tl, tv, nrow, GPU_ROW_THREADS, KP_SERIAL);
	int j = kir_var(k, k->s[lj].var), idx = at(k, &c, j);
	int v;
	if (n->op == OP_Softmax)
		v = kir_bin(k, KB_DIV, ex_shift(k, &c, j), kir_lread(k, acc, z));
	else
		v = kir_bin(k, KB_SUB, kir_bin(k, KB_SUB, ld(k, &c, j), kir_lread(k, mx, z)),
		            kir_un(k, KU_LOG, kir_lread(k, acc, z)));
	kir_store(k, lj, false, (int)n->out[0], idx, v);
	return LW_OK;
}

static int reduce(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]];
	int r = x->shape.rank;
	if (!dt_is_float(x->dt) || r == 0)
		return LW_CALL;
	int64_t axes[IR_MAXRANK * 2];
	int na;
	bool axes_in = n->opset >= 18 || (n->op == OP_ReduceSum && n->opset >= 13);
	if (axes_in) {
		na = n->nin > 1 && n->in[1] != IR_NONE ? const_ints(g, n->in[1], axes, IR_MAXRANK * 2) : 0;
		if (na < 0 || (na == 0 && ir_attr_i(n, "noop_with_empty_axes", 0)))
			return LW_CALL;
	} else {
		const int64_t *a;
		na = ir_attr_ints(n, "axes", &a);
		if (na > IR_MAXRANK * 2)
			return LW_CALL;
		for (int i = 0; i < na; i++)
			axes[i] = a[i];
	}
	bool keep[IR_MAXRANK];
	for (int d = 0; d < r; d++)
		keep[d] = na > 0;
	for (int i = 0; i < na; i++) {
		int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
		if (a < 0 || a >= r)
			return LW_CALL;
		keep[a] = false;
	}
	Dim R, N;
	if (!rows(g, &x->shape, keep, &R, &N))
		return LW_CALL;
	int fn = n->op == OP_ReduceMax ? KB_MAX : n->op == OP_ReduceMin ? KB_MIN : KB_ADD;
	double init = n->op == OP_ReduceMax ? -INFINITY : n->op == OP_ReduceMin ? INFINITY : 0;
	int tl, tv, rv;
	int ki = begin(L, R, &tl, &tv, &rv);   /* may move p->k */
	Kernel *k = &L->p->k[ki];
	int ty = kir_ty(x->dt), z = kir_const_i(k, 0), nrow = kir_dim(k, N);
	int sh = kir_local(k, ty, GPU_ROW_THREADS, KM_SHARED);
	int acc = kir_local(k, ty, 1, KM_PRIVATE);
	Ctx c = {n->in[0], n->out[0], kir_mul(k, rv, nrow), -1, ty};
	row_reduce(k, tl, tv, nrow, acc, sh, fn, init, ld, &c);
	int res = kir_lread(k, acc, z);
	if (n->op == OP_ReduceMean)
		res = kir_bin(k, KB_DIV, res, kir_cast(k, ty, nrow));
	int iff = kir_if(k, tl, kir_bin(k, KB_EQ, tv, z));
	kir_store(k, iff, false, (int)n->out[0], rv, kir_cast(k, kir_ty(g->val[n->out[0]].dt), res));
	return LW_OK;
}

int lower_gpu_rows(Low *L, Node *n)
{
	switch (n->op) {
	case OP_Softmax: case OP_LogSoftmax: return softmax(L, n);
	case OP_ReduceSum: case OP_ReduceMean: case OP_ReduceMax: case OP_ReduceMin:
		return reduce(L, n);
	}
	return LW_CALL;
}
