/* GPU-shaped lowerings (GPU targets only, p->gpu): row reductions as one
 * block of GPU_ROW_THREADS threads per row, each thread striding over the
 * row, then a tree reduction in shared memory with barriers:
 *     for r in [0, R) gpu.block: for t in [0, T) gpu.thread:
 *         acc = init; for j in [t, N) step T: acc = fn(acc, x[r*N + j])
 *         sh[t] = acc; barrier
 *         for s = T/2 .. 1: if t < s: sh[t] = fn(sh[t], sh[t + s]); barrier
 * Softmax/LogSoftmax (max, then sum of exp) and ReduceSum/Mean/Max/Min of
 * float tensors whose reduced axes are a contiguous suffix (so row r is
 * x[r*N .. r*N + N)). And float MatMul as 16x16 output tiles per block,
 * A and B tiles staged through shared memory:
 *     for t in [0, batch * ceil(M/16) * ceil(N/16)) gpu.block:
 *       for tx in [0,16) gpu.thread: for ty in [0,16) gpu.thread:
 *         for k0 in [0, K) step 16:
 *           As[ty][tx] = A[row, k0+tx]; Bs[ty][tx] = B[k0+ty, col]   (0 outside)
 *           barrier; acc += sum_kk As[ty][kk] * Bs[kk][tx]; barrier
 *         Y[row, col] = acc
 * (row = tile row + ty, col = tile col + tx; products summed in k order.)
 * Anything else returns LW_CALL and takes the generic lowering, which the
 * grid mapper (gpu_map.c) spreads one row or tile per thread. */
#include <math.h>
#include <string.h>
#include "lower.h"
#include "gpu.h"

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

/* Across the block with warp shuffles (CUDA, HIP: warp lanes): each warp
 * reduces its lanes (KU_WSUM/WMAX/WMIN), lane 0 of warp w writes sh[w],
 * and every thread folds sh[0 .. T/warp) in order. */
static void warp_reduce(Kernel *k, int tl, int tv, int acc, int sh, int fn, int warp)
{
	int z = kir_const_i(k, 0), w = kir_const_i(k, warp);
	int wf = fn == KB_ADD ? KU_WSUM : fn == KB_MAX ? KU_WMAX : KU_WMIN;
	kir_store(k, tl, true, acc, z, kir_un(k, wf, kir_lread(k, acc, z)));
	int iff = kir_if(k, tl, kir_bin(k, KB_EQ, lower_gpu_nn(k, KB_MOD, tv, w), z));
	kir_store(k, iff, true, sh, lower_gpu_nn(k, KB_DIV, tv, w), kir_lread(k, acc, z));
	kir_barrier(k, tl);
	kir_store(k, tl, true, acc, z, kir_lread(k, sh, z));
	for (int i = 1; i < GPU_ROW_THREADS / warp; i++)
		kir_acc(k, tl, true, acc, fn, z, kir_lread(k, sh, kir_const_i(k, i)));
}

static void row_reduce(Kernel *k, int tl, int tv, int nrow, int acc, int sh, int fn, double init,
                       RowFn f, void *ctx, int warp)
{
	int z = kir_const_i(k, 0);
	int ty = k->local[acc].ty;
	kir_store(k, tl, true, acc, z, kir_const_t(k, ty, init));
	int lj = kir_loop(k, tl, tv, nrow, GPU_ROW_THREADS, KP_SERIAL);
	kir_acc(k, lj, true, acc, fn, z, f(k, ctx, kir_var(k, k->s[lj].var)));
	if (warp > 1 && GPU_ROW_THREADS % warp == 0) {
		warp_reduce(k, tl, tv, acc, sh, fn, warp);
	} else {
		kir_store(k, tl, true, sh, tv, kir_lread(k, acc, z));
		kir_barrier(k, tl);
		tree(k, tl, sh, tv, fn);
		kir_store(k, tl, true, acc, z, kir_lread(k, sh, z));
	}
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
	row_reduce(k, tl, tv, nrow, acc, sh, KB_MAX, -INFINITY, ld, &c, L->p->warp);
	kir_store(k, tl, true, mx, z, kir_lread(k, acc, z));
	row_reduce(k, tl, tv, nrow, acc, sh, KB_ADD, 0, ex_shift, &c, L->p->warp);
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
	row_reduce(k, tl, tv, nrow, acc, sh, fn, init, ld, &c, L->p->warp);
	int res = kir_lread(k, acc, z);
	if (n->op == OP_ReduceMean)
		res = kir_bin(k, KB_DIV, res, kir_cast(k, ty, nrow));
	int iff = kir_if(k, tl, kir_bin(k, KB_EQ, tv, z));
	kir_store(k, iff, false, (int)n->out[0], rv, kir_cast(k, kir_ty(g->val[n->out[0]].dt), res));
	return LW_OK;
}

enum { TS = 16 };

int lower_gpu_nn(Kernel *k, int fn, int a, int b)
{
	const KExpr *xa = &k->x[a], *xb = &k->x[b];
	if (xa->op == KX_CONST && xb->op == KX_CONST && xa->i >= 0 && xb->i > 0)
		return kir_const_i(k, fn == KB_DIV ? xa->i / xb->i : xa->i % xb->i);
	if (xb->op == KX_CONST && xb->i == 1)
		return fn == KB_DIV ? a : kir_const_i(k, 0);
	int e = kir_bin(k, fn, a, b);
	k->x[e].c = KX_NONNEG;
	return e;
}

/* A tile-lowered product: Y = alpha op(A) op(B) + beta C (Gemm; MatMul:
 * no transposes, alpha 1, no C). cm, cn: C's dims aligned to [M, N] (1:
 * broadcast). */
typedef struct Tile {
	bool ta, tb;
	double alpha, beta;
	uint32_t c;
	Dim cm, cn;
	uint32_t bias, res;   /* fused_matmul: bias [N], residual (Y's shape), or IR_NONE */
	int act;              /* fused_matmul: lower_gpu_act kind */
} Tile;

/* The stored value of output (b, row, col) from the accumulator value v:
 * the Gemm epilogue (alpha v + beta C, as lower_mm.c) or fused_matmul's
 * (+ bias [N], + residual, activation: ir/ref_fused.c). *yi: its index. */
static int epilogue(Kernel *k, const Tile *tp, int ty, int b, int row, int col, int v, int xM,
                    int xN, int *yi)
{
	int z = kir_const_i(k, 0);
	if (tp->alpha != 1.0)
		v = kir_bin(k, KB_MUL, v, kir_const_t(k, ty, tp->alpha));
	if (tp->c != IR_NONE && tp->beta != 0.0) {
		int ci = z;
		if (tp->cm != 1)
			ci = kir_mul(k, row, kir_dim(k, tp->cn));
		if (tp->cn != 1)
			ci = kir_add(k, ci, col);
		int cv = kir_load(k, tp->c, ci);
		if (tp->beta != 1.0)
			cv = kir_bin(k, KB_MUL, cv, kir_const_t(k, ty, tp->beta));
		v = kir_bin(k, KB_ADD, v, cv);
	}
	*yi = kir_add(k, kir_mul(k, b, kir_mul(k, xM, xN)), kir_add(k, kir_mul(k, row, xN), col));
	if (tp->bias != IR_NONE)
		v = kir_bin(k, KB_ADD, v, kir_load(k, tp->bias, col));
	if (tp->res != IR_NONE)
		v = kir_bin(k, KB_ADD, v, kir_load(k, tp->res, *yi));
	return lower_gpu_act(k, tp->act, v);
}

/* Output tiles of TM x 16 per block of 16 x 16 threads, the A and B tiles
 * staged through shared memory, products summed in k order. TM is 16, or
 * 64 (each thread owns rows ty + 16 i, i < 4) for an f32 product at
 * --precision on sm_90a whose M is not known to be <= 16: the wgmma body
 * (render_gpu_mma.c) then fills all of its m64 operand with real rows.
 * At --precision the operands are rounded as a tensor core reads them and
 * Kernel.mm / mmx describe the tile for the tensor-core renderers. */
static int tiles(Low *L, Node *n, Dim bat, Dim M, Dim N, Dim K, bool bbatch, const Tile *tp)
{
	Graph *g = L->g;
	const Value *Y = &g->val[n->out[0]];
	bool tc = Y->dt == DT_F32 && L->p->prec != KPREC_FP32;
	int TM = tc && L->p->wgmma && (M < 0 || M > TS) ? 4 * TS : TS, R = TM / TS;
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	int ty = kir_ty(Y->dt), z = kir_const_i(k, 0), ts = kir_const_i(k, TS), tm = kir_const_i(k, TM);
	int xM = kir_dim(k, M), xN = kir_dim(k, N), xK = kir_dim(k, K);
	int mt = lower_gpu_nn(k, KB_DIV, kir_add(k, xM, kir_const_i(k, TM - 1)), tm);
	int nt = lower_gpu_nn(k, KB_DIV, kir_add(k, xN, kir_const_i(k, TS - 1)), ts);
	int bl = kir_loop(k, -1, z, kir_mul(k, kir_dim(k, bat), kir_mul(k, mt, nt)), 1, KP_GPU_BLOCK);
	int t = kir_var(k, k->s[bl].var);
	int lx = kir_loop(k, bl, z, ts, 1, KP_GPU_THREAD);
	int tx = kir_var(k, k->s[lx].var);
	int ly = kir_loop(k, lx, z, ts, 1, KP_GPU_THREAD);
	int tyv = kir_var(k, k->s[ly].var);
	int b = lower_gpu_nn(k, KB_DIV, t, kir_mul(k, mt, nt));
	int r0 = kir_mul(k, lower_gpu_nn(k, KB_MOD, lower_gpu_nn(k, KB_DIV, t, nt), mt), tm);
	int col = kir_add(k, kir_mul(k, lower_gpu_nn(k, KB_MOD, t, nt), ts), tx);
	int abase = kir_mul(k, b, kir_mul(k, xM, xK));
	int bbase = !bbatch ? z : kir_mul(k, b, kir_mul(k, xK, xN));
	int As = kir_local(k, ty, TM * TS, KM_SHARED), Bs = kir_local(k, ty, TS * TS, KM_SHARED);
	int acc = kir_local(k, ty, R, KM_PRIVATE);
	/* R > 1: a loop over the thread's rows; ri its row within the tile */
	int li = R > 1 ? kir_loop(k, ly, z, kir_const_i(k, R), 1, KP_SERIAL) : ly;
	int iv = R > 1 ? kir_var(k, k->s[li].var) : z;
	int ri = R > 1 ? kir_add(k, tyv, kir_mul(k, iv, ts)) : tyv, row = kir_add(k, r0, ri);
	kir_store(k, li, true, acc, iv, kir_const_t(k, ty, 0));
	int lk = kir_loop(k, ly, z, xK, TS, KP_SERIAL);
	int k0 = kir_var(k, k->s[lk].var);
	int ak = kir_add(k, k0, tx), bk = kir_add(k, k0, tyv);
	int zero = kir_const_t(k, ty, 0);
	int rnd = !tc ? -1 : L->p->prec == KPREC_TF32 ? KU_RTF32 : L->p->prec == KPREC_FP16 ?
	          KU_RF16 : KU_RBF16;
	/* A: one element per row the thread owns */
	int sa = R > 1 ? kir_loop(k, lk, z, kir_const_i(k, R), 1, KP_SERIAL) : lk;
	int sv = R > 1 ? kir_var(k, k->s[sa].var) : z;
	int sr = R > 1 ? kir_add(k, tyv, kir_mul(k, sv, ts)) : tyv, srow = kir_add(k, r0, sr);
	int aok = kir_bin(k, KB_AND, kir_bin(k, KB_LT, srow, xM), kir_bin(k, KB_LT, ak, xK));
	int aidx = tp->ta ? kir_add(k, kir_mul(k, ak, xM), srow) : kir_add(k, kir_mul(k, srow, xK), ak);
	int av = kir_load(k, n->in[0], kir_add(k, abase, aidx));
	int bok = kir_bin(k, KB_AND, kir_bin(k, KB_LT, bk, xK), kir_bin(k, KB_LT, col, xN));
	int bidx = tp->tb ? kir_add(k, kir_mul(k, col, xK), bk) : kir_add(k, kir_mul(k, bk, xN), col);
	int bv = kir_load(k, n->in[1], kir_add(k, bbase, bidx));
	if (tc) {   /* --precision: the operands as a tensor core reads them */
		av = kir_un(k, rnd, av);
		bv = kir_un(k, rnd, bv);
	}
	kir_store(k, sa, true, As, kir_add(k, kir_mul(k, sr, ts), tx), kir_sel(k, aok, av, zero));
	kir_store(k, lk, true, Bs, kir_add(k, kir_mul(k, tyv, ts), tx), kir_sel(k, bok, bv, zero));
	kir_barrier(k, lk);
	int lkk = kir_loop(k, lk, z, ts, 1, KP_SERIAL);
	int kk = kir_var(k, k->s[lkk].var);
	int lr = R > 1 ? kir_loop(k, lkk, z, kir_const_i(k, R), 1, KP_SERIAL) : lkk;
	int rv = R > 1 ? kir_var(k, k->s[lr].var) : z;
	int rr = R > 1 ? kir_add(k, tyv, kir_mul(k, rv, ts)) : tyv;
	kir_acc(k, lr, true, acc, KB_ADD, rv,
	        kir_bin(k, KB_MUL, kir_lread(k, As, kir_add(k, kir_mul(k, rr, ts), kk)),
	                kir_lread(k, Bs, kir_add(k, kir_mul(k, kk, ts), tx))));
	kir_barrier(k, lk);
	int lo = R > 1 ? kir_loop(k, ly, z, kir_const_i(k, R), 1, KP_SERIAL) : ly;
	int ov = R > 1 ? kir_var(k, k->s[lo].var) : z;
	int orow = R > 1 ? kir_add(k, r0, kir_add(k, tyv, kir_mul(k, ov, ts))) : row;
	int ok = kir_bin(k, KB_AND, kir_bin(k, KB_LT, orow, xM), kir_bin(k, KB_LT, col, xN));
	int iff = kir_if(k, lo, ok);
	int yi, v = epilogue(k, tp, ty, b, orow, col, kir_lread(k, acc, ov), xM, xN, &yi);
	kir_store(k, iff, false, (int)n->out[0], yi, v);
	if (tc) {
		/* the tensor-core bodies apply the same epilogue to each f32
		 * accumulator: variables row, col, batch and acc[0] stand for it */
		int vr = k->nvar++, vc = k->nvar++, vb = k->nvar++, ye;
		int ve = epilogue(k, tp, ty, kir_var(k, vb), kir_var(k, vr), kir_var(k, vc),
		                  kir_lread(k, acc, z), xM, xN, &ye);
		int32_t mm[8] = {xM, xN, xK, kir_param(k, n->in[0], false),
		                 kir_param(k, n->in[1], false), kir_param(k, n->out[0], true), bbatch, 1};
		int32_t mx[8] = {tp->ta, tp->tb, TM, vr, vc, vb, acc, ve};
		memcpy(k->mm, mm, sizeof mm);
		memcpy(k->mmx, mx, sizeof mx);
	}
	return LW_OK;
}

static int matmul(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *A = &g->val[n->in[0]], *B = &g->val[n->in[1]], *Y = &g->val[n->out[0]];
	int ra = A->shape.rank, rb = B->shape.rank, ro = Y->shape.rank;
	if ((Y->dt != DT_F32 && Y->dt != DT_F64) || A->dt != Y->dt || B->dt != Y->dt || ra < 2 ||
	    rb < 2 || ra != ro || (rb != 2 && rb != ro))
		return LW_CALL;
	Dim M = A->shape.d[ra - 2], K = A->shape.d[ra - 1], N = B->shape.d[rb - 1];
	if (B->shape.d[rb - 2] != K || Y->shape.d[ro - 2] != M || Y->shape.d[ro - 1] != N)
		return LW_CALL;
	Dim bat = 1;
	for (int d = 0; d < ro - 2; d++) {
		if (A->shape.d[d] != Y->shape.d[d] || (rb == ro && B->shape.d[d] != Y->shape.d[d]))
			return LW_CALL;   /* broadcasting batch dims: the generic lowering */
		bat = ir_dim_bin(g, DX_MUL, bat, Y->shape.d[d]);
	}
	Tile tp = {false, false, 1.0, 0.0, IR_NONE, 1, 1, IR_NONE, IR_NONE, 0};
	if (n->op == OP_fused_matmul) {   /* + bias [N], + residual, activation */
		if (Y->dt != DT_F32 || (tp.act = lower_gpu_act_kind(n)) < 0)
			return LW_CALL;
		if (n->nin > 2 && n->in[2] != IR_NONE) {
			const Value *C = &g->val[n->in[2]];
			if (C->dt != DT_F32 || C->shape.rank != 1 || C->shape.d[0] != N)
				return LW_CALL;
			tp.bias = n->in[2];
		}
		if (n->nin > 3 && n->in[3] != IR_NONE) {
			const Value *Rv = &g->val[n->in[3]];
			if (Rv->dt != DT_F32 || Rv->shape.rank != ro)
				return LW_CALL;
			for (int d = 0; d < ro; d++)
				if (Rv->shape.d[d] != Y->shape.d[d])
					return LW_CALL;
			tp.res = n->in[3];
		}
	}
	return tiles(L, n, bat, M, N, K, rb != 2, &tp);
}

/* Gemm of 2-D f32/f64 A, B (transA/transB), alpha, beta and a C that
 * broadcasts to [M, N] (rank <= 2); anything else: the generic lowering. */
static int gemm(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *A = &g->val[n->in[0]], *B = &g->val[n->in[1]], *Y = &g->val[n->out[0]];
	if ((Y->dt != DT_F32 && Y->dt != DT_F64) || A->dt != Y->dt || B->dt != Y->dt ||
	    A->shape.rank != 2 || B->shape.rank != 2 || Y->shape.rank != 2)
		return LW_CALL;
	Tile tp = {ir_attr_i(n, "transA", 0) != 0, ir_attr_i(n, "transB", 0) != 0,
	           ir_attr_f(n, "alpha", 1.0), ir_attr_f(n, "beta", 1.0), IR_NONE, 1, 1, IR_NONE, IR_NONE, 0};
	Dim M = A->shape.d[tp.ta ? 1 : 0], K = A->shape.d[tp.ta ? 0 : 1];
	Dim N = B->shape.d[tp.tb ? 0 : 1], kb = B->shape.d[tp.tb ? 1 : 0];
	if (kb != K || Y->shape.d[0] != M || Y->shape.d[1] != N)
		return LW_CALL;
	if (n->nin > 2 && n->in[2] != IR_NONE) {
		const Value *C = &g->val[n->in[2]];
		int rc = C->shape.rank;
		if (C->dt != Y->dt || rc > 2)
			return LW_CALL;
		tp.c = n->in[2];
		tp.cm = rc == 2 ? C->shape.d[0] : 1;
		tp.cn = rc >= 1 ? C->shape.d[rc - 1] : 1;
		if ((tp.cm != 1 && tp.cm != M) || (tp.cn != 1 && tp.cn != N))
			return LW_CALL;
	}
	return tiles(L, n, 1, M, N, K, false, &tp);
}

/* LayerNormalization of a float X over axes [axis, r): one block per row,
 * mean = sum x / N and var = sum (x - mean)^2 / N by two block reductions
 * (accumulated in f32, f64 for f64 X, as lower_more.c's CPU loop), then
 * y = (x - mean) * (1 / sqrt(var + eps)) * scale + bias; thread 0 writes
 * the optional Mean / InvStdDev (f32). Scale and bias must hold N elements
 * laid out as X's normalized dims (leading 1s allowed) or one element;
 * other broadcasts take the generic lowering. */
static int ln_x(Kernel *k, void *cv, int j)
{
	Ctx *c = cv;
	return kir_cast(k, c->ty, ld(k, cv, j));
}
static int ln_sq(Kernel *k, void *cv, int j)
{
	Ctx *c = cv;
	int d = kir_bin(k, KB_SUB, ln_x(k, cv, j), kir_lread(k, c->mx, kir_const_i(k, 0)));
	return kir_bin(k, KB_MUL, d, d);
}

/* 1: p has x's dims [ax, r) (after leading 1s); 0: one element; -1: other */
static int ln_param(const Value *x, const Value *p, int ax)
{
	int r = x->shape.rank, rp = p->shape.rank, lead = rp - (r - ax);
	bool one = true;
	for (int d = 0; d < rp; d++)
		one = one && p->shape.d[d] == 1;
	if (one)
		return 0;
	if (lead < 0)
		return -1;
	for (int d = 0; d < rp; d++)
		if (d < lead ? p->shape.d[d] != 1 : p->shape.d[d] != x->shape.d[ax + d - lead])
			return -1;
	return 1;
}

static int lnorm(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]], *sc = &g->val[n->in[1]];
	const Value *bv = n->nin > 2 && n->in[2] != IR_NONE ? &g->val[n->in[2]] : NULL;
	int r = x->shape.rank;
	if (r == 0 || !dt_is_float(x->dt))
		return LW_CALL;
	int64_t axis = ir_attr_i(n, "axis", -1);
	if (axis < 0)
		axis += r;
	if (axis < 0 || axis >= r)
		return LW_CALL;   /* the generic lowering reports it */
	for (int i = 1; i < n->nout; i++)   /* Mean/InvStdDev: f32 (stash_type) only */
		if (n->out[i] != IR_NONE && g->val[n->out[i]].dt != DT_F32 &&
		    g->val[n->out[i]].dt != DT_UNDEF)
			return LW_CALL;
	int fs = ln_param(x, sc, (int)axis), fb = bv ? ln_param(x, bv, (int)axis) : 0;
	if (fs < 0 || fb < 0)
		return LW_CALL;
	bool keep[IR_MAXRANK];
	for (int d = 0; d < r; d++)
		keep[d] = d < axis;
	Dim R, N;
	if (!rows(g, &x->shape, keep, &R, &N))
		return LW_CALL;
	double eps = ir_attr_f(n, "epsilon", 1e-5);
	int tl, tv, rv;
	int ki = begin(L, R, &tl, &tv, &rv);   /* may move p->k */
	Kernel *k = &L->p->k[ki];
	int ty = x->dt == DT_F64 ? DT_F64 : DT_F32, z = kir_const_i(k, 0), nrow = kir_dim(k, N);
	int sh = kir_local(k, ty, GPU_ROW_THREADS, KM_SHARED);
	int acc = kir_local(k, ty, 1, KM_PRIVATE), mean = kir_local(k, ty, 1, KM_PRIVATE);
	int rs = kir_local(k, ty, 1, KM_PRIVATE);
	Ctx c = {n->in[0], n->out[0], kir_mul(k, rv, nrow), mean, ty};
	int fcnt = kir_cast(k, ty, nrow);
	row_reduce(k, tl, tv, nrow, acc, sh, KB_ADD, 0, ln_x, &c, L->p->warp);
	kir_store(k, tl, true, mean, z, kir_bin(k, KB_DIV, kir_lread(k, acc, z), fcnt));
	row_reduce(k, tl, tv, nrow, acc, sh, KB_ADD, 0, ln_sq, &c, L->p->warp);
	kir_store(k, tl, true, rs, z, kir_bin(k, KB_DIV, kir_const_t(k, ty, 1),
	          kir_un(k, KU_SQRT, kir_bin(k, KB_ADD, kir_bin(k, KB_DIV, kir_lread(k, acc, z), fcnt),
	                                     kir_const_t(k, ty, eps)))));
	int lj = kir_loop(k, tl, tv, nrow, GPU_ROW_THREADS, KP_SERIAL);
	int j = kir_var(k, k->s[lj].var);
	int y = kir_bin(k, KB_MUL, kir_bin(k, KB_SUB, ln_x(k, &c, j), kir_lread(k, mean, z)),
	                kir_lread(k, rs, z));
	y = kir_bin(k, KB_MUL, y, kir_cast(k, ty, kir_load(k, n->in[1], fs ? j : z)));
	if (bv)
		y = kir_bin(k, KB_ADD, y, kir_cast(k, ty, kir_load(k, n->in[2], fb ? j : z)));
	kir_store(k, lj, false, (int)n->out[0], at(k, &c, j),
	          kir_cast(k, kir_ty(g->val[n->out[0]].dt), y));
	int iff = kir_if(k, tl, kir_bin(k, KB_EQ, tv, z));
	if (n->nout > 1 && n->out[1] != IR_NONE && g->val[n->out[1]].dt == DT_F32)
		kir_store(k, iff, false, (int)n->out[1], rv, kir_cast(k, DT_F32, kir_lread(k, mean, z)));
	if (n->nout > 2 && n->out[2] != IR_NONE && g->val[n->out[2]].dt == DT_F32)
		kir_store(k, iff, false, (int)n->out[2], rv, kir_cast(k, DT_F32, kir_lread(k, rs, z)));
	return LW_OK;
}

/* GlobalAveragePool / GlobalMaxPool of a float [N, C, spatial...] X: one
 * block per (n, c) row of the spatial elements, as ReduceMean / ReduceMax
 * over the suffix axes 2 .. r-1. */
static int gpool(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *x = &g->val[n->in[0]];
	int r = x->shape.rank;
	if (r < 3 || !dt_is_float(x->dt) || g->val[n->out[0]].shape.rank != r)
		return LW_CALL;
	bool keep[IR_MAXRANK];
	for (int d = 0; d < r; d++)
		keep[d] = d < 2;
	Dim R, N;
	if (!rows(g, &x->shape, keep, &R, &N))
		return LW_CALL;
	bool mx = n->op == OP_GlobalMaxPool;
	int tl, tv, rv;
	int ki = begin(L, R, &tl, &tv, &rv);   /* may move p->k */
	Kernel *k = &L->p->k[ki];
	int ty = kir_ty(x->dt), z = kir_const_i(k, 0), nrow = kir_dim(k, N);
	int sh = kir_local(k, ty, GPU_ROW_THREADS, KM_SHARED);
	int acc = kir_local(k, ty, 1, KM_PRIVATE);
	Ctx c = {n->in[0], n->out[0], kir_mul(k, rv, nrow), -1, ty};
	row_reduce(k, tl, tv, nrow, acc, sh, mx ? KB_MAX : KB_ADD, mx ? -INFINITY : 0, ld, &c,
	           L->p->warp);
	int res = kir_lread(k, acc, z);
	if (!mx)
		res = kir_bin(k, KB_DIV, res, kir_cast(k, ty, nrow));
	int iff = kir_if(k, tl, kir_bin(k, KB_EQ, tv, z));
	kir_store(k, iff, false, (int)n->out[0], rv, kir_cast(k, kir_ty(g->val[n->out[0]].dt), res));
	return LW_OK;
}

int lower_gpu_rows(Low *L, Node *n)
{
	switch (n->op) {
	case OP_MatMul: case OP_fused_matmul: return matmul(L, n);
	case OP_Gemm: return gemm(L, n);
	case OP_LayerNormalization: return lnorm(L, n);
	case OP_GlobalAveragePool: case OP_GlobalMaxPool: return gpool(L, n);
	case OP_Softmax: case OP_LogSoftmax: return softmax(L, n);
	case OP_ReduceSum: case OP_ReduceMean: case OP_ReduceMax: case OP_ReduceMin:
		return reduce(L, n);
	}
	return LW_CALL;
}
