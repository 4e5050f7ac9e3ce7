/* Library kernels: InstanceNormalization, LRN, MeanVarianceNormalization,
 * BatchNormalization (inference and training mode), RoiAlign and Det.
 * Statistics in double, stored in the output's dtype. */
#include "knode_impl.h"

/* mean and biased variance of n elements X[base + i * stride] */
static void stats(const KTensor *X, int64_t base, int64_t n, int64_t stride, double *mean, double *var)
{
	double s = 0, q = 0;
	for (int64_t i = 0; i < n; i++)
		s += kn_ld(X, base + i * stride);
	double m = n ? s / (double)n : 0;
	for (int64_t i = 0; i < n; i++) {
		double d = kn_ld(X, base + i * stride) - m;
		q += d * d;
	}
	*mean = m;
	*var = n ? q / (double)n : 0;
}

static int kn_instnorm(KCall *c)
{
	const KTensor *X = &c->in[0], *S = &c->in[1], *B = &c->in[2];
	if (X->rank < 2 || kt_numel(S) != X->dims[1] || kt_numel(B) != X->dims[1])
		return kerr(c, "InstanceNormalization: scale and B must be [C]");
	if (kout(c, 0, X->rank, X->dims))
		return 1;
	double eps = kattr_f(c, "epsilon", 1e-5);
	int64_t N = X->dims[0], C = X->dims[1], sp = kn_prod(X->dims, 2, X->rank);
	for (int64_t n = 0; n < N; n++)
		for (int64_t ch = 0; ch < C; ch++) {
			int64_t base = (n * C + ch) * sp;
			double m, v;
			stats(X, base, sp, 1, &m, &v);
			double a = kn_ld(S, ch) / sqrt(v + eps), b = kn_ld(B, ch);
			for (int64_t i = 0; i < sp; i++)
				kn_st(&c->out[0], base + i, (kn_ld(X, base + i) - m) * a + b);
		}
	return 0;
}

static int kn_lrn(KCall *c)
{
	const KTensor *X = &c->in[0];
	int64_t size = kattr_i(c, "size", 0);
	if (X->rank < 2 || size < 1)
		return kerr(c, "LRN: input rank >= 2 and size >= 1 required");
	if (kout(c, 0, X->rank, X->dims))
		return 1;
	double alpha = kattr_f(c, "alpha", 1e-4), beta = kattr_f(c, "beta", 0.75), bias = kattr_f(c, "bias", 1.0);
	int64_t N = X->dims[0], C = X->dims[1], sp = kn_prod(X->dims, 2, X->rank);
	int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
	for (int64_t n = 0; n < N; n++)
		for (int64_t ch = 0; ch < C; ch++)
			for (int64_t i = 0; i < sp; i++) {
				double s = 0;
				for (int64_t k = ch - lo; k <= ch + hi; k++)
					if (k >= 0 && k < C) {
						double v = kn_ld(X, (n * C + k) * sp + i);
						s += v * v;
					}
				int64_t at = (n * C + ch) * sp + i;
				kn_st(&c->out[0], at, kn_ld(X, at) / pow(bias + alpha / (double)size * s, beta));
			}
	return 0;
}

/* MVN: (X - mean) / (sqrt(E[X^2] - mean^2) + 1e-9) over axes (default 0, 2, 3) */
static int kn_mvn(KCall *c)
{
	const KTensor *X = &c->in[0];
	int r = X->rank;
	const int64_t *av;
	int na = kattr_ints(c, "axes", &av);
	static const int64_t def[3] = {0, 2, 3};
	if (!na) {
		av = def;
		na = 3;
	}
	uint8_t red[K_MAXRANK] = {0};
	for (int i = 0; i < na; i++) {
		int a = kn_axis(av[i], r);
		if (a < 0)
			return kerr(c, "MeanVarianceNormalization: axis %lld out of range", (long long)av[i]);
		red[a] = 1;
	}
	if (kout(c, 0, r, X->dims))
		return 1;
	/* group index of each element: its coordinates on the kept dims */
	int64_t st[K_MAXRANK], gs = 1, n = kt_numel(X);
	for (int k = r - 1; k >= 0; k--) {
		st[k] = red[k] ? 0 : gs;
		if (!red[k])
			gs *= X->dims[k];
	}
	double *s1 = kn_tmp(c, (size_t)gs * sizeof(double)), *s2 = kn_tmp(c, (size_t)gs * sizeof(double));
	int64_t *gi = kn_tmp(c, (size_t)n * sizeof(int64_t));
	if (!s1 || !s2 || !gi)
		return kerr(c, "MeanVarianceNormalization: out of memory");
	memset(s1, 0, (size_t)gs * sizeof(double));
	memset(s2, 0, (size_t)gs * sizeof(double));
	int64_t idx[K_MAXRANK] = {0}, o = 0;
	for (int64_t i = 0; i < n; i++) {
		gi[i] = o;
		double v = kn_ld(X, i);
		s1[o] += v;
		s2[o] += v * v;
		for (int k = r - 1; k >= 0; k--) {
			o += st[k];
			if (++idx[k] < X->dims[k])
				break;
			o -= st[k] * X->dims[k];
			idx[k] = 0;
		}
	}
	double cnt = gs ? (double)n / (double)gs : 1;
	for (int64_t i = 0; i < n; i++) {
		double m = s1[gi[i]] / cnt, var = s2[gi[i]] / cnt - m * m;
		kn_st(&c->out[0], i, (kn_ld(X, i) - m) / (sqrt(var > 0 ? var : 0) + 1e-9));
	}
	return 0;
}

/* BatchNormalization(X, scale, B, mean, var): inference with the given
 * statistics, or (training_mode, opset >= 14; opset < 14 when the running
 * statistics are asked for) with the batch's, updating the running ones */
static int kn_batchnorm(KCall *c)
{
	const KTensor *X = &c->in[0];
	if (X->rank < 2 || c->nin < 5)
		return kerr(c, "BatchNormalization: X [N,C,...] and four [C] inputs required");
	int64_t N = X->dims[0], C = X->dims[1], sp = kn_prod(X->dims, 2, X->rank);
	for (int i = 1; i < 5; i++)
		if (kt_numel(&c->in[i]) != C)
			return kerr(c, "BatchNormalization: input %d must have C = %lld elements", i, (long long)C);
	int ops = kn_opset(c);
	int train = ops >= 14 ? kattr_i(c, "training_mode", 0) != 0 : (kn_want(c, 1) || kn_want(c, 2));
	if (ops < 14 && (kn_want(c, 3) || kn_want(c, 4)))
		return kerr(c, "BatchNormalization: saved_mean/saved_var outputs (opset %d) are not supported", ops);
	double eps = kattr_f(c, "epsilon", 1e-5), mom = kattr_f(c, "momentum", 0.9);
	if (kout(c, 0, X->rank, X->dims))
		return 1;
	int64_t cd[1] = {C};
	for (int i = 1; i < 3; i++)
		if (kn_want(c, i) && kout(c, i, 1, cd))
			return 1;
	for (int64_t ch = 0; ch < C; ch++) {
		double m = kn_ld(&c->in[3], ch), v = kn_ld(&c->in[4], ch);
		if (train) {
			double s = 0, q = 0, cnt = (double)(N * sp);
			for (int64_t n = 0; n < N; n++)
				for (int64_t i = 0; i < sp; i++)
					s += kn_ld(X, (n * C + ch) * sp + i);
			double bm = cnt ? s / cnt : 0;
			for (int64_t n = 0; n < N; n++)
				for (int64_t i = 0; i < sp; i++) {
					double d = kn_ld(X, (n * C + ch) * sp + i) - bm;
					q += d * d;
				}
			double bv = cnt ? q / cnt : 0;
			if (kn_want(c, 1))
				kn_st(&c->out[1], ch, m * mom + bm * (1 - mom));
			if (kn_want(c, 2))
				kn_st(&c->out[2], ch, v * mom + bv * (1 - mom));
			m = bm;
			v = bv;
		}
		double a = kn_ld(&c->in[1], ch) / sqrt(v + eps), b = kn_ld(&c->in[2], ch);
		for (int64_t n = 0; n < N; n++)
			for (int64_t i = 0; i < sp; i++) {
				int64_t at = (n * C + ch) * sp + i;
				kn_st(&c->out[0], at, (kn_ld(X, at) - m) * a + b);
			}
	}
	return 0;
}

/* ---- RoiAlign(X [N,C,H,W], rois [R,4], batch_indices [R]) ---- */
static double bilin(const KTensor *X, int64_t base, int64_t H, int64_t W, double y, double x, int mx,
                    double *best)
{
	if (!(y >= -1.0 && y <= (double)H && x >= -1.0 && x <= (double)W)) {   /* NaN too */
		if (mx && *best < 0)   /* outside: all four weights are 0 */
			*best = 0;
		return 0;
	}
	y = y < 0 ? 0 : y;
	x = x < 0 ? 0 : x;
	int64_t yl = (int64_t)y, xl = (int64_t)x, yh, xh;
	if (yl >= H - 1) {
		yh = yl = H - 1;
		y = (double)yl;
	} else
		yh = yl + 1;
	if (xl >= W - 1) {
		xh = xl = W - 1;
		x = (double)xl;
	} else
		xh = xl + 1;
	double ly = y - (double)yl, lx = x - (double)xl, hy = 1 - ly, hx = 1 - lx;
	double t[4] = {hy * hx * kn_ld(X, base + yl * W + xl), hy * lx * kn_ld(X, base + yl * W + xh),
	               ly * hx * kn_ld(X, base + yh * W + xl), ly * lx * kn_ld(X, base + yh * W + xh)};
	if (mx)   /* max mode: the largest weighted corner, as ONNX Runtime defines it */
		for (int i = 0; i < 4; i++)
			*best = t[i] > *best ? t[i] : *best;
	return t[0] + t[1] + t[2] + t[3];
}

static int kn_roialign(KCall *c)
{
	const KTensor *X = &c->in[0], *R = &c->in[1], *BI = &c->in[2];
	if (X->rank != 4 || R->rank != 2 || R->dims[1] != 4 || kt_numel(BI) != R->dims[0])
		return kerr(c, "RoiAlign: X [N,C,H,W], rois [R,4] and batch_indices [R] required");
	int64_t oh = kattr_i(c, "output_height", 1), ow = kattr_i(c, "output_width", 1),
	        sr = kattr_i(c, "sampling_ratio", 0);
	double sc = kattr_f(c, "spatial_scale", 1.0);
	const char *mode = kattr_s(c, "mode", "avg");
	int mx = !strcmp(mode, "max");
	if (!mx && strcmp(mode, "avg"))
		return kerr(c, "RoiAlign: unknown mode '%s'", mode);
	int half = !strcmp(kattr_s(c, "coordinate_transformation_mode",
	                           kn_opset(c) >= 16 ? "half_pixel" : "output_half_pixel"), "half_pixel");
	int64_t NR = R->dims[0], N = X->dims[0], C = X->dims[1], H = X->dims[2], W = X->dims[3];
	if (oh < 1 || ow < 1 || sr < 0 || H < 1 || W < 1)
		return kerr(c, "RoiAlign: bad output size, sampling_ratio or empty image");
	int64_t od[4] = {NR, C, oh, ow};
	if (kout(c, 0, 4, od))
		return 1;
	double off = half ? 0.5 : 0.0;
	for (int64_t r = 0; r < NR; r++) {
		int64_t b = kn_ldi(BI, r);
		if (b < 0 || b >= N)
			return kerr(c, "RoiAlign: batch index %lld out of range", (long long)b);
		double x1 = kn_ld(R, r * 4) * sc - off, y1 = kn_ld(R, r * 4 + 1) * sc - off;
		double x2 = kn_ld(R, r * 4 + 2) * sc - off, y2 = kn_ld(R, r * 4 + 3) * sc - off;
		double rw = x2 - x1, rh = y2 - y1;
		if (!half) {
			rw = rw > 1 ? rw : 1;
			rh = rh > 1 ? rh : 1;
		}
		double bh = rh / (double)oh, bw = rw / (double)ow;
		if (!(rh > -1e9 && rh < 1e9 && rw > -1e9 && rw < 1e9))
			return kerr(c, "RoiAlign: roi %lld is too large or not finite", (long long)r);
		int64_t gh = sr > 0 ? sr : (int64_t)ceil(rh / (double)oh), gw = sr > 0 ? sr : (int64_t)ceil(rw / (double)ow);
		if (gh > 4096 || gw > 4096)
			return kerr(c, "RoiAlign: sampling grid %lldx%lld too large", (long long)gh, (long long)gw);
		gh = gh > 0 ? gh : 0;
		gw = gw > 0 ? gw : 0;
		double cnt = gh * gw > 1 ? (double)(gh * gw) : 1.0;
		for (int64_t ch = 0; ch < C; ch++) {
			int64_t base = (b * C + ch) * H * W;
			for (int64_t ph = 0; ph < oh; ph++)
				for (int64_t pw = 0; pw < ow; pw++) {
					double s = 0, best = -INFINITY;
					for (int64_t iy = 0; iy < gh; iy++) {
						double y = y1 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
						for (int64_t ix = 0; ix < gw; ix++) {
							double x = x1 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;
							double v = bilin(X, base, H, W, y, x, mx, &best);
							s += v;
						}
					}
					double out = mx ? (gh * gw > 0 ? best : 0) : s / cnt;
					kn_st(&c->out[0], ((r * C + ch) * oh + ph) * ow + pw, out);
				}
		}
	}
	return 0;
}

/* ---- Det: LU with partial pivoting over [..., M, M] ---- */
static int kn_det(KCall *c)
{
	const KTensor *X = &c->in[0];
	int r = X->rank;
	if (r < 2 || X->dims[r - 1] != X->dims[r - 2])
		return kerr(c, "Det: input must be [..., M, M]");
	if (kout(c, 0, r - 2, X->dims))
		return 1;
	int64_t M = X->dims[r - 1], nb = kn_prod(X->dims, 0, r - 2);
	double *a = kn_tmp(c, (size_t)(M * M) * sizeof(double));
	if (!a)
		return kerr(c, "Det: out of memory");
	for (int64_t b = 0; b < nb; b++) {
		for (int64_t i = 0; i < M * M; i++)
			a[i] = kn_ld(X, b * M * M + i);
		double det = 1;
		for (int64_t k = 0; k < M && det != 0; k++) {
			int64_t p = k;
			for (int64_t i = k + 1; i < M; i++)
				if (fabs(a[i * M + k]) > fabs(a[p * M + k]))
					p = i;
			if (a[p * M + k] == 0) {
				det = 0;
				break;
			}
			if (p != k) {
				for (int64_t j = 0; j < M; j++) {
					double t = a[k * M + j];
					a[k * M + j] = a[p * M + j];
					a[p * M + j] = t;
				}
				det = -det;
			}
			det *= a[k * M + k];
			for (int64_t i = k + 1; i < M; i++) {
				double f = a[i * M + k] / a[k * M + k];
				for (int64_t j = k; j < M; j++)
					a[i * M + j] -= f * a[k * M + j];
			}
		}
		kn_st(&c->out[0], b, det);
	}
	return 0;
}

int kn_norm(kpool *pool, KCall *c)
{
	(void)pool;
	switch (c->op) {
	case OP_InstanceNormalization: return kn_instnorm(c);
	case OP_LRN: return kn_lrn(c);
	case OP_MeanVarianceNormalization: return kn_mvn(c);
	case OP_BatchNormalization: return kn_batchnorm(c);
	case OP_RoiAlign: return kn_roialign(c);
	case OP_Det: return kn_det(c);
	}
	return kerr(c, "%s: not a normalisation kernel", op_names[c->op]);
}
