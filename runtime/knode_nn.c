/* Library kernels: SoftmaxCrossEntropyLoss, Hardmax, Dropout and ReduceSum
 * with its axes as a run-time input. Float math in double, stored in the
 * output's dtype. */
#include "knode_impl.h"

/* ---- SoftmaxCrossEntropyLoss: scores [N,C,D..], labels [N,D..], weights [C] ---- */
int kn_loss(kpool *pool, KCall *c)
{
	(void)pool;
	const KTensor *X = &c->in[0], *L = &c->in[1];
	const KTensor *W = kn_has(c, 2) ? &c->in[2] : NULL;
	if (X->rank < 2 || L->rank != X->rank - 1 || !dt_is_float(X->dt) || !dt_is_int(L->dt))
		return kerr(c, "SoftmaxCrossEntropyLoss: scores [N,C,...] float and labels [N,...] int expected");
	if (L->dims[0] != X->dims[0])
		return kerr(c, "SoftmaxCrossEntropyLoss: labels and scores disagree on N");
	for (int k = 2; k < X->rank; k++)
		if (L->dims[k - 1] != X->dims[k])
			return kerr(c, "SoftmaxCrossEntropyLoss: labels and scores disagree on dim %d", k);
	int64_t N = X->dims[0], C = X->dims[1], D = kn_prod(X->dims, 2, X->rank);
	if (W && (W->rank != 1 || W->dims[0] != C))
		return kerr(c, "SoftmaxCrossEntropyLoss: weights must be [C]");
	const char *red = kattr_s(c, "reduction", "mean");
	int rmode = !strcmp(red, "none") ? 0 : !strcmp(red, "sum") ? 1 : !strcmp(red, "mean") ? 2 : -1;
	if (rmode < 0)
		return kerr(c, "SoftmaxCrossEntropyLoss: unknown reduction '%s'", red);
	const KAttr *ia = kattr(c, "ignore_index");
	int64_t ign = ia ? ia->i : 0;
	int has_ign = ia != NULL;
	KTensor *Y = &c->out[0];
	if (rmode == 0) {
		int64_t d[K_MAXRANK];
		for (int k = 0; k < L->rank; k++)
			d[k] = L->dims[k];
		if (kout(c, 0, L->rank, d))
			return 1;
	} else if (kout(c, 0, 0, NULL))
		return 1;
	KTensor *P = kn_want(c, 1) ? &c->out[1] : NULL;
	if (P && kout(c, 1, X->rank, X->dims))
		return 1;
	double *lp = kn_tmp(c, (size_t)C * sizeof(double));
	if (!lp)
		return kerr(c, "SoftmaxCrossEntropyLoss: out of memory");
	double sum = 0, wsum = 0;
	for (int64_t n = 0; n < N; n++)
		for (int64_t d = 0; d < D; d++) {
			int64_t base = n * C * D + d;
			double mx = -INFINITY, se = 0;
			for (int64_t k = 0; k < C; k++) {
				double v = kn_ld(X, base + k * D);
				if (v > mx)
					mx = v;
			}
			for (int64_t k = 0; k < C; k++)
				se += exp(kn_ld(X, base + k * D) - mx);
			double lse = mx + log(se);
			for (int64_t k = 0; k < C; k++) {
				lp[k] = kn_ld(X, base + k * D) - lse;
				if (P)
					kn_st(P, base + k * D, lp[k]);
			}
			int64_t lab = kn_ldi(L, n * D + d);
			double loss = 0, w = 0;
			if (!(has_ign && lab == ign)) {
				if (lab < 0 || lab >= C)
					return kerr(c, "SoftmaxCrossEntropyLoss: label %lld out of range [0,%lld)",
					            (long long)lab, (long long)C);
				w = W ? kn_ld(W, lab) : 1.0;
				loss = -lp[lab] * w;
			}
			if (rmode == 0)
				kn_st(Y, n * D + d, loss);
			sum += loss;
			wsum += w;
		}
	if (rmode == 1)
		kn_st(Y, 0, sum);
	else if (rmode == 2)
		kn_st(Y, 0, wsum != 0 ? sum / wsum : (sum == 0 ? 0.0 : NAN));
	return 0;
}

/* ---- Hardmax: 1 at the first maximum along the axis (opset < 13: of the
 * input flattened to 2-D at axis) ---- */
int kn_hardmax(kpool *pool, KCall *c)
{
	(void)pool;
	const KTensor *X = &c->in[0];
	int r = X->rank, op13 = kn_opset(c) >= 13;
	if (r < 1)
		return kerr(c, "Hardmax: input must have rank >= 1");
	int ax = kn_axis(kattr_i(c, "axis", op13 ? -1 : 1), r);
	if (ax < 0)
		return kerr(c, "Hardmax: axis out of range");
	if (kout(c, 0, r, X->dims))
		return 1;
	KTensor *Y = &c->out[0];
	int64_t outer = kn_prod(X->dims, 0, ax), len, inner;
	if (op13) {
		len = X->dims[ax];
		inner = kn_prod(X->dims, ax + 1, r);
	} else {
		len = kn_prod(X->dims, ax, r);
		inner = 1;
	}
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			int64_t base = o * len * inner + i, best = 0;
			double bv = -INFINITY;
			for (int64_t k = 0; k < len; k++) {
				double v = kn_ld(X, base + k * inner);
				if (v > bv || (k == 0 && !(v <= bv))) {
					bv = v;
					best = k;
				}
			}
			for (int64_t k = 0; k < len; k++)
				kn_st(Y, base + k * inner, k == best ? 1.0 : 0.0);
		}
	return 0;
}

/* ---- Dropout: identity in inference mode; training mode with ratio > 0
 * draws a mask (xorshift seeded by the seed attribute) ---- */
static uint64_t kn_rng(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

int kn_dropout(kpool *pool, KCall *c)
{
	(void)pool;
	const KTensor *X = &c->in[0];
	int ops = kn_opset(c);
	double ratio = ops >= 12 ? (kn_has(c, 1) ? kn_ld(&c->in[1], 0) : 0.5) : kattr_f(c, "ratio", 0.5);
	int train = ops >= 12 ? (kn_has(c, 2) ? kn_ldi(&c->in[2], 0) != 0 : 0)
	                      : (ops < 7 ? !kattr_i(c, "is_test", 0) : 0);
	if (ratio < 0 || ratio >= 1)
		if (train)
			return kerr(c, "Dropout: ratio %g outside [0, 1)", ratio);
	if (kout(c, 0, X->rank, X->dims))
		return 1;
	KTensor *Y = &c->out[0], *M = kn_want(c, 1) ? &c->out[1] : NULL;
	if (M && kout(c, 1, X->rank, X->dims))
		return 1;
	int64_t n = kt_numel(X);
	if (!train || ratio == 0) {
		if (Y->data != X->data)
			memcpy(Y->data, X->data, kt_nbytes(X));
		for (int64_t i = 0; M && i < n; i++)
			dt_store_i(M->dt, M->data, (size_t)i, 1);
		return 0;
	}
	const KAttr *sa = kattr(c, "seed");
	uint64_t s = sa ? (uint64_t)sa->i * 0x9E3779B97F4A7C15ull + 1 : 0x243F6A8885A308D3ull;
	s = s ? s : 1;   /* xorshift must not start at 0 */
	double scale = 1.0 / (1.0 - ratio);
	for (int64_t i = 0; i < n; i++) {
		double u = (double)(kn_rng(&s) >> 11) * (1.0 / 9007199254740992.0);
		int keep = u >= ratio;
		kn_st(Y, i, keep ? kn_ld(X, i) * scale : 0.0);
		if (M)
			dt_store_i(M->dt, M->data, (size_t)i, keep);
	}
	return 0;
}

/* ---- ReduceSum (axes from the input at opset 13, else the attribute) ---- */
int kn_reduce_sum(kpool *pool, KCall *c)
{
	(void)pool;
	const KTensor *X = &c->in[0];
	int r = X->rank;
	int keep = (int)kattr_i(c, "keepdims", 1), noop = (int)kattr_i(c, "noop_with_empty_axes", 0);
	uint8_t red[K_MAXRANK] = {0};
	int64_t nax = 0;
	if (kn_opset(c) >= 13) {
		if (kn_has(c, 1)) {
			const KTensor *A = &c->in[1];
			if (A->rank > 1 || !dt_is_int(A->dt))
				return kerr(c, "ReduceSum: axes must be a 1-D integer tensor");
			nax = kt_numel(A);
			for (int64_t i = 0; i < nax; i++) {
				int a = kn_axis(kn_ldi(A, i), r);
				if (a < 0)
					return kerr(c, "ReduceSum: axis %lld out of range", (long long)kn_ldi(A, i));
				red[a] = 1;
			}
		}
	} else {
		const int64_t *v;
		nax = kattr_ints(c, "axes", &v);
		for (int64_t i = 0; i < nax; i++) {
			int a = kn_axis(v[i], r);
			if (a < 0)
				return kerr(c, "ReduceSum: axis %lld out of range", (long long)v[i]);
			red[a] = 1;
		}
	}
	if (nax == 0 && !noop)
		for (int k = 0; k < r; k++)
			red[k] = 1;
	int64_t od[K_MAXRANK], ost[K_MAXRANK];   /* output dims; output stride per input dim */
	int orank = 0;
	for (int k = 0; k < r; k++)
		if (!red[k])
			od[orank++] = X->dims[k];
		else if (keep)
			od[orank++] = 1;
	if (kout(c, 0, orank, od))
		return 1;
	KTensor *Y = &c->out[0];
	int64_t st = 1;
	for (int k = r - 1; k >= 0; k--) {
		ost[k] = red[k] ? 0 : st;
		if (!red[k])
			st *= X->dims[k];
	}
	int64_t on = kt_numel(Y), n = kt_numel(X);
	int isf = dt_is_float(X->dt);
	double *af = isf ? kn_tmp(c, (size_t)on * sizeof(double)) : NULL;
	uint64_t *ai = isf ? NULL : kn_tmp(c, (size_t)on * sizeof(uint64_t));   /* wraps like the ints */
	if (!af && !ai)
		return kerr(c, "ReduceSum: out of memory");
	if (af)
		memset(af, 0, (size_t)on * sizeof(double));
	else
		memset(ai, 0, (size_t)on * sizeof(uint64_t));
	int64_t idx[K_MAXRANK] = {0}, o = 0;
	for (int64_t i = 0; i < n; i++) {
		if (af)
			af[o] += kn_ld(X, i);
		else
			ai[o] += (uint64_t)kn_ldi(X, i);
		for (int k = r - 1; k >= 0; k--) {   /* odometer */
			o += ost[k];
			if (++idx[k] < X->dims[k])
				break;
			o -= ost[k] * X->dims[k];
			idx[k] = 0;
		}
	}
	for (int64_t i = 0; i < on; i++)
		if (af)
			kn_st(Y, i, af[i]);
		else
			kn_sti(Y, i, (int64_t)ai[i]);
	return 0;
}
