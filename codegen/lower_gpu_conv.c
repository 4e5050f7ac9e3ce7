/* Device convolution (GPU targets only, p->gpu): Conv and fused_conv of
 * f32 NCHW (1-D as H = 1, 2-D; any group, stride, pad, dilation, as
 * lib_conv_shape reads them) as an implicit GEMM per group,
 *     Y[b, g*Mg + m, p] = sum_k W[g*Mg + m, k] * X~[b, g, k, p]
 * with k = (c, r, s) over Cg x kh x kw and p = (oh, ow), where X~ is the
 * input patch (0 in the padding). One block per TM output channels x TP
 * output pixels of one image and group; each block walks k in chunks of
 * TK, staging the weight tile Ws[TM][TK] and the input tile Xs[TK][TP]
 * through shared memory between barriers:
 *     for t in [0, N * G * ceil(Mg/TM) * ceil(P/TP)) gpu.block:
 *       for tx in [0, TP) gpu.thread: for ty in [0, TM) gpu.thread:
 *         acc = 0
 *         for k0 in [0, K) step TK:
 *           for e in [ty*TP + tx, TM*TK) step TM*TP: Ws[e] = W[...] (0 outside)
 *           for e in [ty*TP + tx, TK*TP) step TM*TP: Xs[e] = X~[...]
 *           barrier; for kk in [0, TK): acc += Ws[ty][kk] * Xs[kk][tx]; barrier
 *         if (m < Mg && p < P): Y = act(acc + bias[oc] + residual[y])
 * Products are summed in k order, in fp32. The epilogue is fused_conv's
 * (ir/ref_fused.c): bias, then residual, then Relu / Gelu (erf) / Silu.
 * TM = 16 (TP = 16) when a group has at least 16 output channels,
 * otherwise TM = Mg and TP = 256 / TM (depthwise: one channel, 256
 * pixels); TK = min(K, 16). */
#include <string.h>
#include "lower.h"
#include "lib.h"

enum { CV_THREADS = 256, CV_TK = 16 };

static int ci(Kernel *k, int64_t v) { return kir_const_i(k, v); }
static int lt(Kernel *k, int a, int b) { return kir_bin(k, KB_LT, a, b); }
static int and2(Kernel *k, int a, int b) { return kir_bin(k, KB_AND, a, b); }

/* activation attribute of fused_conv / fused_matmul: 0 none, 1 Relu, 2 Gelu,
 * 3 Silu, 4 GeluTanh, -1 other */
int lower_gpu_act_kind(const Node *n)
{
	if (n->op != OP_fused_conv && n->op != OP_fused_matmul)
		return 0;
	const char *a = ir_attr_s(n, "activation", "");
	return !*a ? 0 : !strcmp(a, "Relu") ? 1 : !strcmp(a, "Gelu") ? 2 : !strcmp(a, "Silu") ? 3 :
	       !strcmp(a, "GeluTanh") ? 4 : -1;
}

int lower_gpu_act(Kernel *k, int kind, int v)
{
	int zero = kir_const_f(k, DT_F32, 0), one = kir_const_f(k, DT_F32, 1);
	switch (kind) {
	case 1: return kir_sel(k, kir_bin(k, KB_GT, v, zero), v, zero);
	case 2: {
		int e = kir_un(k, KU_ERF, kir_bin(k, KB_MUL, v, kir_const_f(k, DT_F32, 0.70710678118654752440)));
		return kir_bin(k, KB_MUL, kir_bin(k, KB_MUL, kir_const_f(k, DT_F32, 0.5), v),
		               kir_bin(k, KB_ADD, one, e));
	}
	case 3:
		return kir_bin(k, KB_DIV, v, kir_bin(k, KB_ADD, one, kir_un(k, KU_EXP, kir_un(k, KU_NEG, v))));
	case 4: {   /* 0.5 v (1 + tanh(sqrt(2/pi) (v + 0.044715 v^3))) */
		int v3 = kir_bin(k, KB_MUL, kir_bin(k, KB_MUL, v, v), v);
		int u = kir_bin(k, KB_MUL, kir_const_f(k, DT_F32, 0.79788456080286535588),
		                kir_bin(k, KB_ADD, v, kir_bin(k, KB_MUL, kir_const_f(k, DT_F32, 0.044715), v3)));
		return kir_bin(k, KB_MUL, kir_bin(k, KB_MUL, kir_const_f(k, DT_F32, 0.5), v),
		               kir_bin(k, KB_ADD, one, kir_un(k, KU_TANH, u)));
	}
	}
	return v;
}

int lower_gpu_conv(Low *L, Node *n)
{
	Graph *g = L->g;
	LibConv c;
	if (!lib_conv_shape(g, n, &c))
		return LW_CALL;
	uint32_t bias = n->nin > 2 ? n->in[2] : IR_NONE;
	uint32_t res = n->op == OP_fused_conv && n->nin > 3 ? n->in[3] : IR_NONE;
	if (bias != IR_NONE) {
		const Value *B = &g->val[bias];
		if (B->dt != DT_F32 || B->shape.rank != 1 || B->shape.d[0] != c.m)
			return LW_CALL;
	}
	if (res != IR_NONE) {
		const Shape *rs = &g->val[res].shape, *ys = &g->val[c.y].shape;
		if (g->val[res].dt != DT_F32 || rs->rank != ys->rank)
			return LW_CALL;
		for (int i = 0; i < rs->rank; i++)
			if (rs->d[i] != ys->d[i])
				return LW_CALL;
	}
	int ak = lower_gpu_act_kind(n);
	if (ak < 0)
		return LW_CALL;
	int64_t G = c.grp, Cg = c.c / G, Mg = c.m / G, P = c.oh * c.ow, KHW = c.kh * c.kw;
	int64_t K = Cg * KHW;
	if (K <= 0 || P <= 0 || Mg <= 0 || c.h <= 0 || c.wd <= 0)
		return LW_CALL;   /* empty: the generic path */
	int64_t TM = Mg >= 16 ? 16 : Mg, TP = CV_THREADS / TM, TK = K < CV_TK ? K : CV_TK;
	int64_t nmt = (Mg + TM - 1) / TM, npt = (P + TP - 1) / TP, T = TM * TP;

	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	int z = ci(k, 0), fz = kir_const_f(k, DT_F32, 0);
	int per = ci(k, G * nmt * npt);
	int bl = kir_loop(k, -1, z, kir_mul(k, kir_dim(k, c.n), per), 1, KP_GPU_BLOCK);
	int t = kir_var(k, k->s[bl].var);
	int lx = kir_loop(k, bl, z, ci(k, TP), 1, KP_GPU_THREAD);
	int tx = kir_var(k, k->s[lx].var);
	int ly = kir_loop(k, lx, z, ci(k, TM), 1, KP_GPU_THREAD);
	int ty = kir_var(k, k->s[ly].var);
	/* block -> (image b, group gg, channel tile mt, pixel tile pt) */
	int ptile = lower_gpu_nn(k, KB_MOD, t, ci(k, npt));
	int mtile = lower_gpu_nn(k, KB_MOD, lower_gpu_nn(k, KB_DIV, t, ci(k, npt)), ci(k, nmt));
	int gg = lower_gpu_nn(k, KB_MOD, lower_gpu_nn(k, KB_DIV, t, ci(k, npt * nmt)), ci(k, G));
	int b = lower_gpu_nn(k, KB_DIV, t, per);
	int m0 = kir_mul(k, mtile, ci(k, TM));          /* first channel of the tile in its group */
	int p0 = kir_mul(k, ptile, ci(k, TP));
	int ocb = kir_add(k, kir_mul(k, gg, ci(k, Mg)), m0);   /* first output channel */
	int lin = kir_add(k, kir_mul(k, ty, ci(k, TP)), tx);
	int Ws = kir_local(k, DT_F32, TM * TK, KM_SHARED), Xs = kir_local(k, DT_F32, TK * TP, KM_SHARED);
	int acc = kir_local(k, DT_F32, 1, KM_PRIVATE);
	kir_store(k, ly, true, acc, z, fz);
	int lk = kir_loop(k, ly, z, ci(k, K), TK, KP_SERIAL);
	int k0 = kir_var(k, k->s[lk].var);

	/* weight tile: W[oc, k] is row-major [M, K] */
	int lw = kir_loop(k, lk, lin, ci(k, TM * TK), T, KP_SERIAL);
	int e = kir_var(k, k->s[lw].var);
	int wm = lower_gpu_nn(k, KB_DIV, e, ci(k, TK)), wk = kir_add(k, k0, lower_gpu_nn(k, KB_MOD, e, ci(k, TK)));
	int wok = and2(k, lt(k, kir_add(k, m0, wm), ci(k, Mg)), lt(k, wk, ci(k, K)));
	int wv = kir_load(k, c.w, kir_add(k, kir_mul(k, kir_add(k, ocb, wm), ci(k, K)), wk));
	kir_store(k, lw, true, Ws, e, kir_sel(k, wok, wv, fz));

	/* input tile: Xs[kk][pp] = X[b, gg*Cg + ch, ih, iw], 0 in the padding */
	int lxs = kir_loop(k, lk, lin, ci(k, TK * TP), T, KP_SERIAL);
	e = kir_var(k, k->s[lxs].var);
	int xk = kir_add(k, k0, lower_gpu_nn(k, KB_DIV, e, ci(k, TP)));
	int pp = kir_add(k, p0, lower_gpu_nn(k, KB_MOD, e, ci(k, TP)));
	int ch = lower_gpu_nn(k, KB_DIV, xk, ci(k, KHW)), rs = lower_gpu_nn(k, KB_MOD, xk, ci(k, KHW));
	int r = lower_gpu_nn(k, KB_DIV, rs, ci(k, c.kw)), s = lower_gpu_nn(k, KB_MOD, rs, ci(k, c.kw));
	int oh = lower_gpu_nn(k, KB_DIV, pp, ci(k, c.ow)), ow = lower_gpu_nn(k, KB_MOD, pp, ci(k, c.ow));
	int ih = kir_add(k, kir_add(k, kir_mul(k, oh, ci(k, c.sh)), ci(k, -c.pt)),
	                 kir_mul(k, r, ci(k, c.dh)));
	int iw = kir_add(k, kir_add(k, kir_mul(k, ow, ci(k, c.sw)), ci(k, -c.pl)),
	                 kir_mul(k, s, ci(k, c.dw)));
	/* ih, iw >= 0 needs checking only with a leading pad */
	int hok = lt(k, ih, ci(k, c.h)), wok2 = lt(k, iw, ci(k, c.wd));
	if (c.pt > 0)
		hok = and2(k, kir_bin(k, KB_GE, ih, z), hok);
	if (c.pl > 0)
		wok2 = and2(k, kir_bin(k, KB_GE, iw, z), wok2);
	int xok = and2(k, and2(k, lt(k, xk, ci(k, K)), lt(k, pp, ci(k, P))), and2(k, hok, wok2));
	int plane = kir_add(k, kir_mul(k, b, ci(k, c.c)), kir_add(k, kir_mul(k, gg, ci(k, Cg)), ch));
	int xi = kir_add(k, kir_mul(k, kir_add(k, kir_mul(k, plane, ci(k, c.h)), ih), ci(k, c.wd)), iw);
	kir_store(k, lxs, true, Xs, e, kir_sel(k, xok, kir_load(k, c.x, xi), fz));
	kir_barrier(k, lk);
	int lkk = kir_loop(k, lk, z, ci(k, TK), 1, KP_SERIAL);
	int kk = kir_var(k, k->s[lkk].var);
	kir_acc(k, lkk, true, acc, KB_ADD, z,
	        kir_bin(k, KB_MUL, kir_lread(k, Ws, kir_add(k, kir_mul(k, ty, ci(k, TK)), kk)),
	                kir_lread(k, Xs, kir_add(k, kir_mul(k, kk, ci(k, TP)), tx))));
	kir_barrier(k, lk);

	/* epilogue */
	int p = kir_add(k, p0, tx), oc = kir_add(k, ocb, ty);
	int ok = and2(k, lt(k, kir_add(k, m0, ty), ci(k, Mg)), lt(k, p, ci(k, P)));
	int iff = kir_if(k, ly, ok);
	int yi = kir_add(k, kir_mul(k, kir_add(k, kir_mul(k, b, ci(k, c.m)), oc), ci(k, P)), p);
	int v = kir_lread(k, acc, z);
	if (bias != IR_NONE)
		v = kir_bin(k, KB_ADD, v, kir_load(k, bias, oc));
	if (res != IR_NONE)
		v = kir_bin(k, KB_ADD, v, kir_load(k, res, yi));
	kir_store(k, iff, false, (int)c.y, yi, lower_gpu_act(k, ak, v));
	return LW_OK;
}
