/* Library kernels: ConvTranspose, ConvInteger, QLinearConv, MatMulInteger,
 * QLinearMatMul and the general MaxPool (N-D, dilations, ceil_mode,
 * Indices, any dtype) for the cases the loop lowering leaves. Direct loops,
 * N-D through odometers over the spatial dims. */
#include "knode_impl.h"

#define KN_SP (K_MAXRANK - 2)

/* Spatial geometry of a conv-like node over X [N, C, D...] */
typedef struct {
	int nd;
	int64_t in[KN_SP], out[KN_SP], k[KN_SP], s[KN_SP], d[KN_SP], pb[KN_SP], pe[KN_SP];
} Geo;

static int ints_or(KCall *c, const char *nm, int nd, int64_t def, int64_t *v)
{
	const int64_t *a;
	int n = kattr_ints(c, nm, &a);
	if (n && n != nd)
		return kerr(c, "%s: %s has %d values for %d spatial dims", op_names[c->op], nm, n, nd);
	for (int i = 0; i < nd; i++)
		v[i] = n ? a[i] : def;
	return 0;
}

/* forward conv / pool geometry: kernel from ks (may be NULL: attribute) */
static int geo_fwd(KCall *c, const KTensor *X, const int64_t *ks, int ceil_mode, Geo *g)
{
	g->nd = X->rank - 2;
	if (g->nd < 1 || g->nd > KN_SP)
		return kerr(c, "%s: input rank %d unsupported", op_names[c->op], X->rank);
	int nd = g->nd;
	if (ks)
		memcpy(g->k, ks, (size_t)nd * sizeof *ks);
	else if (ints_or(c, "kernel_shape", nd, -1, g->k))
		return 1;
	int64_t pads[2 * KN_SP];
	if (ints_or(c, "strides", nd, 1, g->s) || ints_or(c, "dilations", nd, 1, g->d))
		return 1;
	const int64_t *pa;
	int np = kattr_ints(c, "pads", &pa);
	if (np && np != 2 * nd)
		return kerr(c, "%s: pads has %d values", op_names[c->op], np);
	for (int i = 0; i < 2 * nd; i++)
		pads[i] = np ? pa[i] : 0;
	const char *ap = kattr_s(c, "auto_pad", "NOTSET");
	for (int i = 0; i < nd; i++) {
		g->in[i] = X->dims[2 + i];
		if (g->k[i] < 1 || g->s[i] < 1 || g->d[i] < 1 || pads[i] < 0 || pads[nd + i] < 0)
			return kerr(c, "%s: bad kernel, stride, dilation or pad", op_names[c->op]);
		int64_t ek = (g->k[i] - 1) * g->d[i] + 1;
		if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
			g->out[i] = (g->in[i] + g->s[i] - 1) / g->s[i];
			int64_t tot = (g->out[i] - 1) * g->s[i] + ek - g->in[i];
			tot = tot < 0 ? 0 : tot;
			g->pb[i] = !strcmp(ap, "SAME_UPPER") ? tot / 2 : tot - tot / 2;
			g->pe[i] = tot - g->pb[i];
			continue;
		}
		if (!strcmp(ap, "VALID"))
			pads[i] = pads[nd + i] = 0;
		else if (strcmp(ap, "NOTSET"))
			return kerr(c, "%s: unknown auto_pad '%s'", op_names[c->op], ap);
		g->pb[i] = pads[i];
		g->pe[i] = pads[nd + i];
		int64_t span = g->in[i] + g->pb[i] + g->pe[i] - ek;
		if (span < 0)
			return kerr(c, "%s: kernel larger than the padded input", op_names[c->op]);
		g->out[i] = (ceil_mode ? (span + g->s[i] - 1) / g->s[i] : span / g->s[i]) + 1;
		if (ceil_mode && (g->out[i] - 1) * g->s[i] >= g->in[i] + g->pb[i])
			g->out[i]--;
	}
	return 0;
}

static int64_t geo_n(const int64_t *d, int nd) { return kn_prod(d, 0, nd); }

/* next index of an odometer over dims d[0..nd); false after the last */
static int odo(int64_t *ix, const int64_t *d, int nd)
{
	for (int i = nd - 1; i >= 0; i--) {
		if (++ix[i] < d[i])
			return 1;
		ix[i] = 0;
	}
	return 0;
}

/* ---- integer convolution core: ConvInteger and QLinearConv ---- */
static int conv_int(KCall *c, const KTensor *X, const KTensor *W, const KTensor *XZ,
                    const KTensor *WZ, int64_t **accp, Geo *g, int64_t *odims)
{
	if (W->rank != X->rank)
		return kerr(c, "%s: X and W ranks differ", op_names[c->op]);
	int64_t grp = kattr_i(c, "group", 1);
	int64_t N = X->dims[0], C = X->dims[1], M = W->dims[0];
	if (grp < 1 || C % grp || M % grp || W->dims[1] != C / grp)
		return kerr(c, "%s: channels and group disagree", op_names[c->op]);
	if (geo_fwd(c, X, W->dims + 2, 0, g))
		return 1;
	int nd = g->nd;
	int64_t Cg = C / grp, Mg = M / grp, osz = geo_n(g->out, nd), isz = geo_n(g->in, nd),
	        ksz = geo_n(g->k, nd);
	if (WZ && kt_numel(WZ) != 1 && kt_numel(WZ) != M)
		return kerr(c, "%s: w_zero_point must be a scalar or [M]", op_names[c->op]);
	odims[0] = N;
	odims[1] = M;
	memcpy(odims + 2, g->out, (size_t)nd * sizeof(int64_t));
	int64_t *acc = kn_tmp(c, (size_t)(N * M * osz) * sizeof(int64_t));
	if (!acc)
		return kerr(c, "%s: out of memory", op_names[c->op]);
	int64_t xz = XZ ? kn_ldi(XZ, 0) : 0;
	for (int64_t n = 0; n < N; n++)
		for (int64_t m = 0; m < M; m++) {
			int64_t gi = m / Mg, wz = WZ ? kn_ldi(WZ, kt_numel(WZ) == 1 ? 0 : m) : 0;
			int64_t o[KN_SP] = {0};
			for (int64_t oi = 0; oi < osz; oi++, odo(o, g->out, nd)) {
				int64_t s = 0;
				for (int64_t ci = 0; ci < Cg; ci++) {
					int64_t ch = gi * Cg + ci, xb = (n * C + ch) * isz, wb = (m * Cg + ci) * ksz;
					int64_t kk[KN_SP] = {0};
					for (int64_t ki = 0; ki < ksz; ki++, odo(kk, g->k, nd)) {
						int64_t xo = 0, ok = 1;
						for (int i = 0; i < nd && ok; i++) {
							int64_t p = o[i] * g->s[i] - g->pb[i] + kk[i] * g->d[i];
							ok = p >= 0 && p < g->in[i];
							xo = xo * g->in[i] + p;
						}
						if (ok)
							s += (kn_ldi(X, xb + xo) - xz) * (kn_ldi(W, wb + ki) - wz);
					}
				}
				acc[(n * M + m) * osz + oi] = s;
			}
		}
	*accp = acc;
	return 0;
}

static int kn_convinteger(KCall *c)
{
	Geo g;
	int64_t *acc, od[K_MAXRANK];
	const KTensor *X = &c->in[0], *W = &c->in[1];
	if (conv_int(c, X, W, kn_has(c, 2) ? &c->in[2] : NULL, kn_has(c, 3) ? &c->in[3] : NULL, &acc, &g, od) ||
	    kout(c, 0, X->rank, od))
		return 1;
	int64_t n = kt_numel(&c->out[0]);
	for (int64_t i = 0; i < n; i++)
		kn_sti(&c->out[0], i, acc[i]);
	return 0;
}

static double qsat(int dt, double v)
{
	double lo = dt == DT_I8 ? -128 : 0, hi = dt == DT_I8 ? 127 : 255;
	return v != v ? 0 : v < lo ? lo : v > hi ? hi : v;   /* NaN (a zero y_scale) -> 0 */
}

/* QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B?) */
static int kn_qlinearconv(KCall *c)
{
	Geo g;
	int64_t *acc, od[K_MAXRANK];
	const KTensor *X = &c->in[0], *W = &c->in[3], *WS = &c->in[4];
	if (c->nin < 8 || kt_numel(&c->in[1]) != 1 || kt_numel(&c->in[2]) != 1 || kt_numel(&c->in[6]) != 1 ||
	    kt_numel(&c->in[7]) != 1)
		return kerr(c, "QLinearConv: x_scale, x_zero_point, y_scale and y_zero_point must be scalars");
	if (conv_int(c, X, W, &c->in[2], &c->in[5], &acc, &g, od) || kout(c, 0, X->rank, od))
		return 1;
	KTensor *Y = &c->out[0];
	int64_t M = od[1], osz = geo_n(g.out, g.nd), N = od[0];
	if (kt_numel(WS) != 1 && kt_numel(WS) != M)
		return kerr(c, "QLinearConv: w_scale must be a scalar or [M]");
	const KTensor *B = kn_has(c, 8) ? &c->in[8] : NULL;
	if (B && kt_numel(B) != M)
		return kerr(c, "QLinearConv: B must be [M]");
	double xs = kn_ld(&c->in[1], 0), ys = kn_ld(&c->in[6], 0);
	int64_t yz = kn_ldi(&c->in[7], 0);
	for (int64_t n = 0; n < N; n++)
		for (int64_t m = 0; m < M; m++) {
			float sc = (float)(xs * kn_ld(WS, kt_numel(WS) == 1 ? 0 : m)) / (float)ys;
			int64_t b = B ? kn_ldi(B, m) : 0;
			for (int64_t oi = 0; oi < osz; oi++) {
				int64_t i = (n * M + m) * osz + oi;
				kn_sti(Y, i, (int64_t)qsat(Y->dt, nearbyint((double)((float)(acc[i] + b) * sc)) + yz));
			}
		}
	return 0;
}

/* ---- integer matrix products: MatMulInteger and QLinearMatMul ---- */
/* acc[b][M][N] = sum_k (A - az) (B - bz); az per row (M) or scalar, bz per column (N) or scalar */
static int mm_int(KCall *c, const KTensor *A, const KTensor *B, const KTensor *AZ, const KTensor *BZ,
                  int64_t **accp, int *orank, int64_t *od)
{
	if (A->rank < 1 || B->rank < 1)
		return kerr(c, "%s: scalar operands", op_names[c->op]);
	int ar = A->rank, br = B->rank;
	int64_t M = ar >= 2 ? A->dims[ar - 2] : 1, K = A->dims[ar - 1];
	int64_t K2 = br >= 2 ? B->dims[br - 2] : B->dims[0], N = br >= 2 ? B->dims[br - 1] : 1;
	if (K != K2)
		return kerr(c, "%s: inner dims %lld and %lld differ", op_names[c->op], (long long)K, (long long)K2);
	int ab = ar > 2 ? ar - 2 : 0, bb = br > 2 ? br - 2 : 0, nb = ab > bb ? ab : bb;
	if (nb + 2 > K_MAXRANK)
		return kerr(c, "%s: rank too large", op_names[c->op]);
	int64_t bd[K_MAXRANK], ast[K_MAXRANK], bst[K_MAXRANK];
	int64_t sa = M * K, sb = K * N;
	for (int i = nb - 1; i >= 0; i--) {
		int ia = i - (nb - ab), ib = i - (nb - bb);
		int64_t da = ia >= 0 ? A->dims[ia] : 1, db = ib >= 0 ? B->dims[ib] : 1;
		if (da != db && da != 1 && db != 1)
			return kerr(c, "%s: batch dims do not broadcast", op_names[c->op]);
		bd[i] = da > db ? da : db;
		ast[i] = da == 1 ? 0 : sa;
		bst[i] = db == 1 ? 0 : sb;
		sa *= da;
		sb *= db;
	}
	int r = 0;
	for (int i = 0; i < nb; i++)
		od[r++] = bd[i];
	if (ar >= 2)
		od[r++] = M;
	if (br >= 2)
		od[r++] = N;
	*orank = r;
	int64_t nbat = kn_prod(bd, 0, nb);
	int64_t nz_a = AZ ? kt_numel(AZ) : 0, nz_b = BZ ? kt_numel(BZ) : 0;
	if ((AZ && nz_a != 1 && nz_a != M) || (BZ && nz_b != 1 && nz_b != N))
		return kerr(c, "%s: zero point shapes unsupported", op_names[c->op]);
	int64_t *acc = kn_tmp(c, (size_t)(nbat * M * N) * sizeof(int64_t));
	if (!acc)
		return kerr(c, "%s: out of memory", op_names[c->op]);
	int64_t bi[K_MAXRANK] = {0};
	for (int64_t t = 0; t < nbat; t++, odo(bi, bd, nb)) {
		int64_t ao = 0, bo = 0;
		for (int i = 0; i < nb; i++) {
			ao += bi[i] * ast[i];
			bo += bi[i] * bst[i];
		}
		for (int64_t m = 0; m < M; m++) {
			int64_t az = AZ ? kn_ldi(AZ, nz_a == 1 ? 0 : m) : 0;
			for (int64_t n = 0; n < N; n++) {
				int64_t bz = BZ ? kn_ldi(BZ, nz_b == 1 ? 0 : n) : 0, s = 0;
				for (int64_t k = 0; k < K; k++)
					s += (kn_ldi(A, ao + m * K + k) - az) * (kn_ldi(B, bo + k * N + n) - bz);
				acc[(t * M + m) * N + n] = s;
			}
		}
	}
	*accp = acc;
	return 0;
}

static int kn_matmulinteger(KCall *c)
{
	int64_t *acc, od[K_MAXRANK];
	int r;
	if (mm_int(c, &c->in[0], &c->in[1], kn_has(c, 2) ? &c->in[2] : NULL, kn_has(c, 3) ? &c->in[3] : NULL,
	           &acc, &r, od) || kout(c, 0, r, od))
		return 1;
	int64_t n = kt_numel(&c->out[0]);
	for (int64_t i = 0; i < n; i++)
		kn_sti(&c->out[0], i, acc[i]);
	return 0;
}

/* QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp): per-tensor scales */
static int kn_qlinearmatmul(KCall *c)
{
	int64_t *acc, od[K_MAXRANK];
	int r;
	if (c->nin < 8 || kt_numel(&c->in[1]) != 1 || kt_numel(&c->in[4]) != 1 || kt_numel(&c->in[6]) != 1 ||
	    kt_numel(&c->in[7]) != 1)
		return kerr(c, "QLinearMatMul: only per-tensor scales and output zero point are supported");
	if (mm_int(c, &c->in[0], &c->in[3], &c->in[2], &c->in[5], &acc, &r, od) || kout(c, 0, r, od))
		return 1;
	KTensor *Y = &c->out[0];
	float sc = (float)(kn_ld(&c->in[1], 0) * kn_ld(&c->in[4], 0)) / (float)kn_ld(&c->in[6], 0);
	int64_t yz = kn_ldi(&c->in[7], 0), n = kt_numel(Y);
	for (int64_t i = 0; i < n; i++)
		kn_sti(Y, i, (int64_t)qsat(Y->dt, nearbyint((double)((float)acc[i] * sc)) + yz));
	return 0;
}

/* ---- ConvTranspose: scatter each input pixel through the kernel ---- */
static int kn_convtranspose(KCall *c)
{
	const KTensor *X = &c->in[0], *W = &c->in[1], *B = kn_has(c, 2) ? &c->in[2] : NULL;
	int nd = X->rank - 2;
	if (nd < 1 || nd > KN_SP || W->rank != X->rank)
		return kerr(c, "ConvTranspose: X and W must have the same rank >= 3");
	int64_t grp = kattr_i(c, "group", 1), N = X->dims[0], C = X->dims[1];
	if (grp < 1 || C % grp || W->dims[0] != C)
		return kerr(c, "ConvTranspose: channels and group disagree");
	int64_t Mg = W->dims[1], M = Mg * grp, Cg = C / grp;
	if (B && kt_numel(B) != M)
		return kerr(c, "ConvTranspose: B must be [M]");
	Geo g;
	g.nd = nd;
	int64_t op[KN_SP], os[KN_SP];
	if (ints_or(c, "strides", nd, 1, g.s) || ints_or(c, "dilations", nd, 1, g.d) ||
	    ints_or(c, "output_padding", nd, 0, op) || ints_or(c, "kernel_shape", nd, 0, g.k))
		return 1;
	const int64_t *pa, *osa;
	int np = kattr_ints(c, "pads", &pa), nos = kattr_ints(c, "output_shape", &osa);
	if (np && np != 2 * nd)
		return kerr(c, "ConvTranspose: pads has %d values", np);
	if (nos && nos != nd && nos != nd + 2)
		return kerr(c, "ConvTranspose: output_shape has %d values", nos);
	const char *ap = kattr_s(c, "auto_pad", "NOTSET");
	int same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER");
	for (int i = 0; i < nd; i++) {
		g.in[i] = X->dims[2 + i];
		if (g.k[i] == 0)
			g.k[i] = W->dims[2 + i];
		if (g.k[i] != W->dims[2 + i] || g.s[i] < 1 || g.d[i] < 1)
			return kerr(c, "ConvTranspose: bad kernel_shape, strides or dilations");
		int64_t full = g.s[i] * (g.in[i] - 1) + op[i] + (g.k[i] - 1) * g.d[i] + 1;
		if (nos || same) {
			os[i] = nos ? osa[nos - nd + i] : g.in[i] * g.s[i];
			int64_t tot = full - os[i];
			if (!strcmp(ap, "SAME_LOWER")) {
				g.pb[i] = tot - tot / 2;
				g.pe[i] = tot / 2;
			} else {
				g.pb[i] = tot / 2;
				g.pe[i] = tot - tot / 2;
			}
			g.out[i] = os[i];
		} else {
			int valid = !strcmp(ap, "VALID");
			g.pb[i] = np && !valid ? pa[i] : 0;
			g.pe[i] = np && !valid ? pa[nd + i] : 0;
			g.out[i] = full - g.pb[i] - g.pe[i];
		}
		if (g.out[i] < 0)
			return kerr(c, "ConvTranspose: negative output size");
	}
	int64_t od[K_MAXRANK] = {N, M};
	memcpy(od + 2, g.out, (size_t)nd * sizeof(int64_t));
	if (kout(c, 0, X->rank, od))
		return 1;
	KTensor *Y = &c->out[0];
	int64_t isz = geo_n(g.in, nd), osz = geo_n(g.out, nd), ksz = geo_n(g.k, nd);
	double *acc = kn_tmp(c, (size_t)(N * M * osz) * sizeof(double)), *xd = kn_dbl(c, X), *wd = kn_dbl(c, W);
	if (!acc || !xd || !wd)
		return kerr(c, "ConvTranspose: out of memory");
	for (int64_t n = 0; n < N; n++)
		for (int64_t m = 0; m < M; m++)
			for (int64_t o = 0; o < osz; o++)
				acc[(n * M + m) * osz + o] = B ? kn_ld(B, m) : 0.0;
	/* off[ii * ksz + ki]: the output pixel input pixel ii reaches through
	 * kernel tap ki (-1: outside), computed once for every (n, ch, m) */
	int64_t *off = isz * ksz <= (1 << 24) ? kn_tmp(c, (size_t)(isz * ksz) * sizeof(int64_t)) : NULL;
	if (off) {
		int64_t ix[KN_SP] = {0};
		for (int64_t ii = 0; ii < isz; ii++, odo(ix, g.in, nd)) {
			int64_t kk[KN_SP] = {0};
			for (int64_t ki = 0; ki < ksz; ki++, odo(kk, g.k, nd)) {
				int64_t oo = 0, ok = 1;
				for (int i = 0; i < nd && ok; i++) {
					int64_t p = ix[i] * g.s[i] + kk[i] * g.d[i] - g.pb[i];
					ok = p >= 0 && p < g.out[i];
					oo = oo * g.out[i] + p;
				}
				off[ii * ksz + ki] = ok ? oo : -1;
			}
		}
		for (int64_t n = 0; n < N; n++)
			for (int64_t ch = 0; ch < C; ch++)
				for (int64_t mm = 0; mm < Mg; mm++) {
					double *ac = acc + (n * M + (ch / Cg) * Mg + mm) * osz;
					const double *wk = wd + (ch * Mg + mm) * ksz, *xp = xd + (n * C + ch) * isz;
					for (int64_t ii = 0; ii < isz; ii++) {
						double xv = xp[ii];
						const int64_t *of = off + ii * ksz;
						for (int64_t ki = 0; ki < ksz; ki++)
							if (of[ki] >= 0)
								ac[of[ki]] += xv * wk[ki];
					}
				}
	} else {   /* table too large: the taps on the fly */
		for (int64_t n = 0; n < N; n++)
			for (int64_t ch = 0; ch < C; ch++) {
				int64_t gi = ch / Cg;
				int64_t ix[KN_SP] = {0};
				for (int64_t ii = 0; ii < isz; ii++, odo(ix, g.in, nd)) {
					double xv = xd[(n * C + ch) * isz + ii];
					if (xv == 0)
						continue;
					int64_t kk[KN_SP] = {0};
					for (int64_t ki = 0; ki < ksz; ki++, odo(kk, g.k, nd)) {
						int64_t oo = 0, ok = 1;
						for (int i = 0; i < nd && ok; i++) {
							int64_t p = ix[i] * g.s[i] + kk[i] * g.d[i] - g.pb[i];
							ok = p >= 0 && p < g.out[i];
							oo = oo * g.out[i] + p;
						}
						if (!ok)
							continue;
						double *ac = acc + (n * M + gi * Mg) * osz + oo;
						const double *wk = wd + ch * Mg * ksz + ki;
						for (int64_t mm = 0; mm < Mg; mm++)
							ac[mm * osz] += xv * wk[mm * ksz];
					}
				}
			}
	}
	int64_t tot = N * M * osz;
	for (int64_t i = 0; i < tot; i++)
		kn_st(Y, i, acc[i]);
	return 0;
}

/* ---- MaxPool: any rank, dtype, dilations, ceil_mode; Indices (flat,
 * storage_order 0 row-major / 1 column-major within the plane) ---- */
static int kn_maxpool(KCall *c)
{
	const KTensor *X = &c->in[0];
	Geo g;
	if (geo_fwd(c, X, NULL, (int)kattr_i(c, "ceil_mode", 0), &g))
		return 1;
	int nd = g.nd;
	for (int i = 0; i < nd; i++)
		if (g.k[i] < 1)
			return kerr(c, "MaxPool: kernel_shape missing");
	int64_t od[K_MAXRANK] = {X->dims[0], X->dims[1]};
	memcpy(od + 2, g.out, (size_t)nd * sizeof(int64_t));
	if (kout(c, 0, X->rank, od))
		return 1;
	KTensor *Y = &c->out[0], *I = kn_want(c, 1) ? &c->out[1] : NULL;
	if (I && kout(c, 1, X->rank, od))
		return 1;
	int so = (int)kattr_i(c, "storage_order", 0);
	int64_t planes = X->dims[0] * X->dims[1], isz = geo_n(g.in, nd), osz = geo_n(g.out, nd),
	        ksz = geo_n(g.k, nd);
	int isf = dt_is_float(X->dt);
	for (int64_t pl = 0; pl < planes; pl++) {
		int64_t o[KN_SP] = {0};
		for (int64_t oi = 0; oi < osz; oi++, odo(o, g.out, nd)) {
			double best = -INFINITY;
			int64_t bi = -1, bint = INT64_MIN;
			int64_t kk[KN_SP] = {0};
			for (int64_t ki = 0; ki < ksz; ki++, odo(kk, g.k, nd)) {
				int64_t xo = 0, xc = 0, ok = 1, p[KN_SP];
				for (int i = 0; i < nd && ok; i++) {
					p[i] = o[i] * g.s[i] - g.pb[i] + kk[i] * g.d[i];
					ok = p[i] >= 0 && p[i] < g.in[i];
					xo = xo * g.in[i] + p[i];
				}
				if (!ok)
					continue;
				for (int i = nd - 1; i >= 0; i--)
					xc = xc * g.in[i] + p[i];
				int better;
				if (isf) {
					double v = kn_ld(X, pl * isz + xo);
					better = v > best || (bi < 0 && !(v <= best));
					if (better)
						best = v;
				} else {
					int64_t v = kn_ldi(X, pl * isz + xo);
					better = bi < 0 || v > bint;
					if (better)
						bint = v;
				}
				if (better)
					bi = pl * isz + (so ? xc : xo);
			}
			if (isf)
				kn_st(Y, pl * osz + oi, best);
			else
				kn_sti(Y, pl * osz + oi, bi < 0 ? 0 : bint);
			if (I)
				kn_sti(I, pl * osz + oi, bi < 0 ? 0 : bi);
		}
	}
	return 0;
}

int kn_conv(kpool *pool, KCall *c)
{
	(void)pool;
	switch (c->op) {
	case OP_ConvTranspose: return kn_convtranspose(c);
	case OP_ConvInteger: return kn_convinteger(c);
	case OP_QLinearConv: return kn_qlinearconv(c);
	case OP_MatMulInteger: return kn_matmulinteger(c);
	case OP_QLinearMatMul: return kn_qlinearmatmul(c);
	case OP_MaxPool: return kn_maxpool(c);
	}
	return kerr(c, "%s: not a conv kernel", op_names[c->op]);
}
