/* Device attention (GPU targets only, p->gpu): the fused `attention` op
 * (docs/ATTENTION.md, semantics of ir/ref_attn.c) as a flash-attention
 * launch. One block per (batch, query head, tile of AT_BQ query rows), one
 * thread per query row; the K and V tiles of AT_BK keys are staged through
 * shared memory between barriers and each thread keeps its q row, its
 * output row and the running max m and sum l in private memory (online
 * softmax: the T x T scores never exist, at most AT_BK per row):
 *     for t in [0, B * Hq * ceil(Tq/BQ)) gpu.block:
 *       for r in [0, BQ) gpu.thread:            (i = qt*BQ + r, p = i + Tk - Tq)
 *         q[:] = Q[b, h, i, :]; o[:] = 0; m = -inf; l = 0
 *         for j0 in [jlo, jhi) step BK:          (only tiles some row can see)
 *           if (tile not left of the window or a sink tile):
 *             for e in [r, BK*D) step BQ: Ks[e] = K[b, h/grp, j0 + e/D, e%D] (0 past Tk)
 *             (the same for Vs); barrier
 *             s[jj] = modified score of key j0+jj, -inf where not visible
 *             m' = max(m, max s); c = exp(m - m'); l *= c; o *= c
 *             s[jj] = exp(s[jj] - m') (0 where -inf); l += s[jj]
 *             o[:] += s[jj] * Vs[jj, :]; m = m'; barrier
 *         if (i < Tq): O[b, h, i, :] = l > 0 ? o / l : 0
 * Score modifiers in the reference's order: scale, softcap c tanh(s/c),
 * ALiBi a_h (j - p), f32 mask added; visibility: j < Tk, causal j <= p
 * (bottom-right aligned), window W (j > p - W, and j < p + W when not
 * causal) unless j < sinks, bool mask, score > -inf. Tiles past the causal
 * edge or right of a non-causal window are cut from the loop bounds, tiles
 * left of the window start it (no sinks) or are skipped by a block-uniform
 * test (sinks). --precision=tf32|fp16|bf16 rounds the operands of the two
 * products as a tensor core reads them (q and K in Q K^T, the
 * probabilities and V in P V; l sums the unrounded probabilities), the
 * products accumulate in fp32. Falls back to the host kernel (LW_CALL):
 * non-f32, symbolic D or Dv, D + Dv > 512, a mask whose broadcast cannot be
 * decided statically, more than 256 ALiBi slopes. */
#include <math.h>
#include <string.h>
#include "lower.h"
#include "gpu.h"

enum { AT_BQ = 64, AT_MAXDV = 512, AT_MAXALIBI = 256 };
/* CUDA tensor-core forms (render_gpu_attn.c): mma.sync, 2 warps of 16 query
 * rows each; wgmma (sm_90a), one warpgroup of 4 warps, 64 rows. Both keep
 * their tiles in static shared memory (at most AT_SMEM bytes). */
enum { AT_MMA_BQ = 32, AT_MMA_NT = 64, AT_MMA_MAXDV = 256, AT_WG_BQ = 64, AT_WG_NT = 128,
       AT_SMEM = 48 * 1024 };
/* HIP MFMA form at fp16/bf16: 2 wavefronts of 64 lanes, 16 query rows each,
 * tiles in at most AT_LDS bytes of LDS */
enum { AT_MF_BQ = 32, AT_MF_NT = 128, AT_LDS = 64 * 1024 };

static int ci(Kernel *k, int64_t v) { return kir_const_i(k, v); }
static int cf(Kernel *k, double v) { return kir_const_f(k, DT_F32, v); }
static int bin(Kernel *k, int fn, int a, int b) { return kir_bin(k, fn, a, b); }
static int sub(Kernel *k, int a, int b) { return kir_bin(k, KB_SUB, a, b); }

/* Element strides of the mask over the broadcast shape full[0..r) (mask
 * dims right-aligned; a dim of 1 broadcasts); false when a mask dim is
 * neither 1 nor statically the full dim. */
static bool mask_strides(Graph *g, const Shape *ms, const Dim *full, int r, Dim *st)
{
	if (ms->rank > r)
		return false;
	Dim run = 1;
	for (int i = 0; i < r; i++)
		st[i] = 0;
	for (int i = ms->rank - 1; i >= 0; i--) {
		Dim md = ms->d[i], fd = full[r - ms->rank + i];
		if (md == 1)
			continue;
		if (md != fd)
			return false;
		st[r - ms->rank + i] = run;
		run = ir_dim_bin(g, DX_MUL, run, md);
	}
	return true;
}

static int round_op(int prec)
{
	return prec == KPREC_TF32 ? KU_RTF32 : prec == KPREC_FP16 ? KU_RF16 :
	       prec == KPREC_BF16 ? KU_RBF16 : -1;
}

int lower_gpu_attn(Low *L, Node *n)
{
	Graph *g = L->g;
	if (n->nin < 3 || n->nout != 1)
		return LW_CALL;
	const Value *Qv = &g->val[n->in[0]], *Kv = &g->val[n->in[1]], *Vv = &g->val[n->in[2]];
	const Value *Ov = &g->val[n->out[0]];
	int r = Qv->shape.rank;
	if ((r != 3 && r != 4) || Kv->shape.rank != r || Vv->shape.rank != r || Ov->shape.rank != r ||
	    Qv->dt != DT_F32 || Kv->dt != DT_F32 || Vv->dt != DT_F32 || Ov->dt != DT_F32)
		return LW_CALL;
	Dim B = Qv->shape.d[0], Hq = r == 4 ? Qv->shape.d[1] : 1, Hkv = r == 4 ? Kv->shape.d[1] : 1;
	Dim Tq = Qv->shape.d[r - 2], D = Qv->shape.d[r - 1], Tk = Kv->shape.d[r - 2];
	Dim Dv = Vv->shape.d[r - 1];
	if (!ir_dim_is_static(D) || !ir_dim_is_static(Dv) || !ir_dim_is_static(Hq) ||
	    !ir_dim_is_static(Hkv) || D < 1 || Dv < 1 || D + Dv > AT_MAXDV || Hkv < 1 || Hq % Hkv ||
	    Kv->shape.d[0] != B || Vv->shape.d[0] != B || Kv->shape.d[r - 1] != D ||
	    Vv->shape.d[r - 2] != Tk || (r == 4 && Vv->shape.d[1] != Hkv))
		return LW_CALL;   /* the host kernel checks and reports at run time */
	int64_t grp = Hq / Hkv;
	if (ir_attr_i(n, "kv_group", 0) && ir_attr_i(n, "kv_group", 0) != grp)
		return LW_CALL;
	/* [B,T,H,D] operands (passes/attn_layout.c, host targets only): the
	 * host kernel reads them */
	if (ir_attr_i(n, "q_bthd", 0) || ir_attr_i(n, "k_bthd", 0) || ir_attr_i(n, "v_bthd", 0) ||
	    ir_attr_i(n, "out_bthd", 0))
		return LW_CALL;
	double scale = ir_attr_f(n, "scale", 1.0 / sqrt((double)D));
	bool causal = ir_attr_i(n, "causal", 0) != 0;
	int64_t win = ir_attr_i(n, "window", 0), sinks = ir_attr_i(n, "sinks", 0);
	double cap = ir_attr_f(n, "softcap", 0);
	const Attr *al = ir_attr(n, "alibi");
	if (al && al->n > 0 && (al->kind != AK_FLOATS || al->n != Hq || al->n > AT_MAXALIBI))
		return LW_CALL;
	uint32_t mk = n->nin > 3 ? n->in[3] : IR_NONE;
	Dim full[4] = {B, Hq, Tq, Tk}, mst[4] = {0, 0, 0, 0};
	if (mk != IR_NONE) {
		const Value *M = &g->val[mk];
		if (M->dt != DT_F32 && M->dt != DT_BOOL)
			return LW_CALL;
		Dim f3[3] = {B, Tq, Tk}, s3[3];
		if (r == 4 && !mask_strides(g, &M->shape, full, 4, mst))
			return LW_CALL;
		if (r == 3) {
			if (!mask_strides(g, &M->shape, f3, 3, s3))
				return LW_CALL;
			mst[0] = s3[0], mst[2] = s3[1], mst[3] = s3[2];
		}
	}
	/* K and V tiles: 32 keys (16 when the rows are wide) */
	int64_t BK = D + Dv <= 256 ? 32 : 16;
	/* CUDA with --precision: the tensor-core body replaces the loop nest
	 * (D a multiple of the mma k step, Dv of 8, the tiles fit in shared
	 * memory); mma.sync takes BQ = 32 rows per block of 64 threads, wgmma
	 * (sm_90a) 64 rows per warpgroup of 128, which the loop nest below is
	 * built with too (threads past BQ only help staging) so the launch
	 * shape agrees. HIP at fp16/bf16 (wavefronts of 64): the MFMA body,
	 * 32 rows per block of 128 threads (D and Dv multiples of 16). */
	bool mma = L->p->prec != KPREC_FP32 && L->p->warp == 32 && D % (L->p->prec == KPREC_TF32 ? 8 : 16) == 0 &&
	           Dv % 8 == 0 && D + Dv <= AT_MMA_MAXDV;
	/* shared bytes of either body: Qs, Ks, Vs and Ps at the operand width */
	int64_t eb = L->p->prec == KPREC_TF32 ? 4 : 2;
	bool wg = mma && L->p->wgmma && (AT_WG_BQ * (D + BK) + BK * (D + Dv)) * eb <= AT_SMEM;
	mma = mma && (wg || (AT_MMA_BQ * (D + BK) + BK * (D + Dv)) * eb <= AT_SMEM);
	bool mf = (L->p->prec == KPREC_FP16 || L->p->prec == KPREC_BF16) && L->p->warp == 64 &&
	          D % 16 == 0 && Dv % 16 == 0 && D + Dv <= AT_MMA_MAXDV &&
	          (AT_MF_BQ * D + BK * (D + Dv)) * 2 <= AT_LDS;
	int64_t BQ = wg ? AT_WG_BQ : mma ? AT_MMA_BQ : mf ? AT_MF_BQ : AT_BQ;
	int64_t NT = wg ? AT_WG_NT : mma ? AT_MMA_NT : mf ? AT_MF_NT : AT_BQ;
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	int z = ci(k, 0), bq = ci(k, BQ), bk = ci(k, BK), xD = ci(k, D), xDv = ci(k, Dv);
	int xHq = ci(k, Hq), xTq = kir_dim(k, Tq), xTk = kir_dim(k, Tk);
	int nqt = lower_gpu_nn(k, KB_DIV, kir_add(k, xTq, ci(k, BQ - 1)), bq);
	int bl = kir_loop(k, -1, z, kir_mul(k, kir_dim(k, B), kir_mul(k, xHq, nqt)), 1, KP_GPU_BLOCK);
	int t = kir_var(k, k->s[bl].var);
	int tl = kir_loop(k, bl, z, ci(k, NT), 1, KP_GPU_THREAD);
	int tv = kir_var(k, k->s[tl].var);
	int qt = lower_gpu_nn(k, KB_MOD, t, nqt), bh = lower_gpu_nn(k, KB_DIV, t, nqt);
	int h = lower_gpu_nn(k, KB_MOD, bh, xHq), b = lower_gpu_nn(k, KB_DIV, bh, xHq);
	int hk = lower_gpu_nn(k, KB_DIV, h, ci(k, grp));
	int i0 = kir_mul(k, qt, bq), i = kir_add(k, i0, tv);
	int off = sub(k, xTk, xTq);            /* p = i + Tk - Tq */
	int p = kir_add(k, i, off);
	int rnd = round_op(L->p->prec);
	int ninf = cf(k, -INFINITY), zf = cf(k, 0);

	int qv = kir_local(k, DT_F32, D, KM_PRIVATE), ov = kir_local(k, DT_F32, Dv, KM_PRIVATE);
	int sv = kir_local(k, DT_F32, BK, KM_PRIVATE), st = kir_local(k, DT_F32, 4, KM_PRIVATE);
	int Ks = kir_local(k, DT_F32, BK * D, KM_SHARED), Vs = kir_local(k, DT_F32, BK * Dv, KM_SHARED);
	int sm = ci(k, 0), sl = ci(k, 1), smt = ci(k, 2), smn = ci(k, 3);   /* st: m, l, tile max, m' */
#define ST(j) kir_lread(k, st, j)

	/* q row (0 past Tq), o = 0, m = -inf, l = 0 */
	int irow = kir_bin(k, KB_LT, i, xTq);
	if (NT > BQ)
		irow = bin(k, KB_AND, kir_bin(k, KB_LT, tv, bq), irow);
	int qbase = kir_mul(k, kir_add(k, kir_mul(k, bh, xTq), i), xD);   /* bh = b*Hq + h */
	int ld = kir_loop(k, tl, z, xD, 1, KP_SERIAL);
	int dv = kir_var(k, k->s[ld].var);
	int qx = kir_load(k, n->in[0], kir_add(k, qbase, dv));
	if (rnd >= 0)
		qx = kir_un(k, rnd, qx);
	kir_store(k, ld, true, qv, dv, kir_sel(k, irow, qx, zf));
	int le = kir_loop(k, tl, z, xDv, 1, KP_SERIAL);
	kir_store(k, le, true, ov, kir_var(k, k->s[le].var), zf);
	kir_store(k, tl, true, st, sm, ninf);
	kir_store(k, tl, true, st, sl, zf);

	/* key tiles some row of the block can see: [jlo, jhi) */
	int last = kir_min(k, kir_add(k, i0, bq), xTq);      /* rows end (exclusive) */
	int pmin = kir_add(k, i0, off), pend = kir_add(k, last, off);   /* p of row i0; p_max + 1 */
	int jhi = xTk, jlo = z;
	if (causal)
		jhi = kir_min(k, xTk, pend);
	else if (win > 0 && sinks <= 0)
		jhi = kir_min(k, xTk, kir_add(k, pend, ci(k, win - 1)));
	else if (win > 0)   /* sinks keep keys [0, sinks) visible in every row */
		jhi = kir_min(k, xTk, bin(k, KB_MAX, ci(k, sinks), kir_add(k, pend, ci(k, win - 1))));
	if (win > 0 && sinks <= 0)
		jlo = bin(k, KB_MAX, z, kir_add(k, pmin, ci(k, 1 - win)));
	int lj = kir_loop(k, tl, jlo, jhi, BK, KP_SERIAL);
	int j0 = kir_var(k, k->s[lj].var);
	int body = lj;
	if (win > 0 && sinks > 0) {
		/* skip a tile wholly left of every row's window and past the sinks;
		 * the test is the same for all threads of the block */
		int need = bin(k, KB_OR, kir_bin(k, KB_LT, j0, ci(k, sinks)),
		               kir_bin(k, KB_GT, kir_add(k, j0, ci(k, BK - 1)),
		                       kir_add(k, pmin, ci(k, -win))));
		body = kir_if(k, lj, need);
	}
	int kvh = kir_add(k, kir_mul(k, b, ci(k, Hkv)), hk);
	for (int w = 0; w < 2; w++) {   /* stage Ks, Vs */
		int wd = w ? xDv : xD;
		int le2 = kir_loop(k, body, tv, ci(k, BK * (w ? Dv : D)), NT, KP_SERIAL);
		int e = kir_var(k, k->s[le2].var);
		int jj = lower_gpu_nn(k, KB_DIV, e, wd), dd = lower_gpu_nn(k, KB_MOD, e, wd);
		int j = kir_add(k, j0, jj);
		int src = kir_load(k, n->in[1 + w],
		                   kir_add(k, kir_mul(k, kir_add(k, kir_mul(k, kvh, xTk), j), wd), dd));
		if (rnd >= 0)
			src = kir_un(k, rnd, src);
		kir_store(k, le2, true, w ? Vs : Ks, e, kir_sel(k, kir_bin(k, KB_LT, j, xTk), src, zf));
	}
	kir_barrier(k, body);

	/* scores of the tile */
	kir_store(k, body, true, st, smt, ninf);
	int ls = kir_loop(k, body, z, bk, 1, KP_SERIAL);
	int jj = kir_var(k, k->s[ls].var), j = kir_add(k, j0, jj);
	kir_store(k, ls, true, sv, jj, zf);
	int ldd = kir_loop(k, ls, z, xD, 1, KP_SERIAL);
	int d2 = kir_var(k, k->s[ldd].var);
	kir_acc(k, ldd, true, sv, KB_ADD, jj,
	        bin(k, KB_MUL, kir_lread(k, qv, d2), kir_lread(k, Ks, kir_add(k, kir_mul(k, jj, xD), d2))));
	int x = bin(k, KB_MUL, kir_lread(k, sv, jj), cf(k, scale));
	if (cap > 0)
		x = bin(k, KB_MUL, cf(k, cap), kir_un(k, KU_TANH, bin(k, KB_DIV, x, cf(k, cap))));
	int jrel = kir_cast(k, DT_F32, sub(k, j, p));   /* j - p */
	if (al && al->n > 0) {
		int slope = cf(k, al->floats[al->n - 1]);
		for (int hh = al->n - 2; hh >= 0; hh--)
			slope = kir_sel(k, kir_bin(k, KB_EQ, h, ci(k, hh)), cf(k, al->floats[hh]), slope);
		x = bin(k, KB_ADD, x, bin(k, KB_MUL, slope, jrel));
	}
	int ok = kir_bin(k, KB_LT, j, xTk);
	if (causal)
		ok = bin(k, KB_AND, ok, kir_bin(k, KB_LE, j, p));
	if (win > 0) {
		int in = kir_bin(k, KB_GT, j, kir_add(k, p, ci(k, -win)));
		if (!causal)
			in = bin(k, KB_AND, in, kir_bin(k, KB_LT, j, kir_add(k, p, ci(k, win))));
		if (sinks > 0)
			in = bin(k, KB_OR, in, kir_bin(k, KB_LT, j, ci(k, sinks)));
		ok = bin(k, KB_AND, ok, in);
	}
	if (mk != IR_NONE) {
		/* indices clamped into the tensor: rows past Tq and keys past Tk
		 * are invisible anyway (ok / the final store) */
		int ic = kir_min(k, i, sub(k, xTq, ci(k, 1))), jc = kir_min(k, j, sub(k, xTk, ci(k, 1)));
		int vars[4] = {b, h, ic, jc}, mi = z;
		for (int d = 0; d < 4; d++)
			if (mst[d])
				mi = kir_add(k, mi, kir_mul(k, vars[d], kir_dim(k, mst[d])));
		int mv = kir_load(k, mk, mi);
		if (g->val[mk].dt == DT_BOOL)
			ok = bin(k, KB_AND, ok, mv);
		else
			x = bin(k, KB_ADD, x, mv);
	}
	kir_store(k, ls, true, sv, jj, x);   /* once: the test below reads it back */
	int xs = kir_lread(k, sv, jj);
	ok = bin(k, KB_AND, ok, kir_bin(k, KB_GT, xs, ninf));
	kir_store(k, ls, true, sv, jj, kir_sel(k, ok, xs, ninf));
	kir_acc(k, ls, true, st, KB_MAX, smt, kir_lread(k, sv, jj));

	/* online softmax: m' = max(m, tile max); rescale o and l by exp(m - m') */
	kir_store(k, body, true, st, smn, bin(k, KB_MAX, ST(sm), ST(smt)));
	int live = kir_bin(k, KB_GT, ST(smn), ninf);
	int corr = kir_sel(k, live, kir_un(k, KU_EXP, sub(k, ST(sm), ST(smn))), zf);
	kir_store(k, body, true, st, smt, corr);      /* tile max no longer needed */
	kir_store(k, body, true, st, sl, bin(k, KB_MUL, ST(sl), ST(smt)));
	int lc = kir_loop(k, body, z, xDv, 1, KP_SERIAL);
	int ec = kir_var(k, k->s[lc].var);
	kir_store(k, lc, true, ov, ec, bin(k, KB_MUL, kir_lread(k, ov, ec), ST(smt)));
	int lp = kir_loop(k, body, z, bk, 1, KP_SERIAL);
	int jp = kir_var(k, k->s[lp].var);
	int sj = kir_lread(k, sv, jp);
	int pj = kir_sel(k, kir_bin(k, KB_GT, sj, ninf), kir_un(k, KU_EXP, sub(k, sj, ST(smn))), zf);
	kir_store(k, lp, true, sv, jp, pj);
	kir_acc(k, lp, true, st, KB_ADD, sl, kir_lread(k, sv, jp));
	int lo2 = kir_loop(k, lp, z, xDv, 1, KP_SERIAL);
	int eo = kir_var(k, k->s[lo2].var);
	int pr = kir_lread(k, sv, jp);
	if (rnd >= 0)
		pr = kir_un(k, rnd, pr);
	kir_acc(k, lo2, true, ov, KB_ADD, eo,
	        bin(k, KB_MUL, pr, kir_lread(k, Vs, kir_add(k, kir_mul(k, jp, xDv), eo))));
	kir_store(k, body, true, st, sm, ST(smn));
	kir_barrier(k, body);   /* Ks, Vs are restaged next */

	/* O = o / l (0 for a row that saw no key) */
	int iff = kir_if(k, tl, irow);
	int lw = kir_loop(k, iff, z, xDv, 1, KP_SERIAL);
	int ew = kir_var(k, k->s[lw].var);
	int obase = kir_mul(k, kir_add(k, kir_mul(k, bh, xTq), i), xDv);
	kir_store(k, lw, false, (int)n->out[0], kir_add(k, obase, ew),
	          kir_sel(k, kir_bin(k, KB_GT, ST(sl), zf),
	                  bin(k, KB_DIV, kir_lread(k, ov, ew), ST(sl)), zf));
#undef ST
	if (mma || mf) {
		/* for render_gpu_attn.c: Tq, Tk and the mask strides (b, h, i, j) */
		int32_t mm[8] = {xTq, xTk, kir_dim(k, mst[0]), kir_dim(k, mst[1]), kir_dim(k, mst[2]),
		                 kir_dim(k, mst[3]), (int32_t)BK, wg ? 3 : mf ? 4 : 2};
		memcpy(k->mm, mm, sizeof mm);
		kir_param(k, n->in[0], false);
		kir_param(k, n->in[1], false);
		kir_param(k, n->in[2], false);
	}
	return LW_OK;
}
