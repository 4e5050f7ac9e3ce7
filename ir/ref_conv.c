/* Reference kernels for sliding-window ops: Conv (+Integer, QLinear),
 * ConvTranspose, the pools (Average/Max/Lp, global), MaxUnpool, MaxRoiPool
 * and RoiAlign. Accumulation in double; NCHW-style layouts, N-D spatial. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kern.h"
#include "ref_util.h"

static int64_t fdiv(int64_t a, int64_t b)   /* floor(a / b), b > 0 */
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int64_t cdiv(int64_t a, int64_t b)   /* ceil(a / b), b > 0 */
{
	return -fdiv(-a, b);
}

static void store_sat(int dt, void *p, size_t i, double v)
{
	double lo = -INFINITY, hi = INFINITY;
	switch (dt) {
	case DT_U8: lo = 0; hi = 255; break;
	case DT_I8: lo = -128; hi = 127; break;
	case DT_U16: lo = 0; hi = 65535; break;
	case DT_I16: lo = -32768; hi = 32767; break;
	case DT_I32: lo = -2147483648.0; hi = 2147483647.0; break;
	}
	if (v < lo) v = lo;
	if (v > hi) v = hi;
	if (dt_is_int(dt))
		dt_store_i(dt, p, i, (int64_t)v);
	else
		dt_store_f(dt, p, i, v);
}

/* Largest stride / dilation / pad / kernel dim accepted: keeps the window
 * arithmetic far from int64 overflow. */
#define ATTR_MAX ((int64_t)1 << 30)

/* Clamp a float coordinate to a safe integer (NaN -> 0). */
static int64_t to_i(double v)
{
	if (!(v == v))
		return 0;
	return v < -1e15 ? (int64_t)-1e15 : v > 1e15 ? (int64_t)1e15 : (int64_t)v;
}

/* Window geometry of one sliding-window node over k spatial dims. */
typedef struct Win {
	int k;
	int64_t in[K_MAXRANK], out[K_MAXRANK], ker[K_MAXRANK], str[K_MAXRANK];
	int64_t dil[K_MAXRANK], pb[K_MAXRANK], pe[K_MAXRANK];
} Win;

/* Read strides / dilations / pads / auto_pad for spatial dims in[0..k) and
 * kernel ker[0..k); compute out[] (ceil_mode drops windows that would start
 * in the end padding). Returns 0 or kerr. */
static int win_setup(KCall *c, Win *w, int k, const int64_t *in, const int64_t *ker,
                     int ceil_mode)
{
	const char *on = op_names[c->op];
	const int64_t *v;
	int n;
	w->k = k;
	for (int j = 0; j < k; j++) {
		w->in[j] = in[j];
		w->ker[j] = ker[j];
		w->str[j] = w->dil[j] = 1;
		w->pb[j] = w->pe[j] = 0;
		if (ker[j] < 1 || ker[j] > ATTR_MAX)
			return kerr(c, "%s: kernel dim %d is %lld", on, j, (long long)ker[j]);
	}
	static const char *const nm[2] = {"strides", "dilations"};
	for (int t = 0; t < 2; t++) {
		if (!(n = kattr_ints(c, nm[t], &v)))
			continue;
		if (n != k)
			return kerr(c, "%s: %s has %d values for %d spatial dims", on, nm[t], n, k);
		for (int j = 0; j < k; j++) {
			if (v[j] < 1 || v[j] > ATTR_MAX)
				return kerr(c, "%s: %s[%d] = %lld out of range", on, nm[t], j,
				            (long long)v[j]);
			(t ? w->dil : w->str)[j] = v[j];
		}
	}
	const char *ap = kattr_s(c, "auto_pad", "NOTSET");
	int same = !strcmp(ap, "SAME_UPPER") ? 1 : !strcmp(ap, "SAME_LOWER") ? 2 : 0;
	int valid = !strcmp(ap, "VALID");
	if (!same && !valid && strcmp(ap, "NOTSET") && *ap)
		return kerr(c, "%s: unknown auto_pad '%s'", on, ap);
	if ((n = kattr_ints(c, "pads", &v)) && !same && !valid) {
		if (n != 2 * k)
			return kerr(c, "%s: pads has %d values, expected %d", on, n, 2 * k);
		for (int j = 0; j < k; j++) {
			if (v[j] < 0 || v[j + k] < 0 || v[j] > ATTR_MAX || v[j + k] > ATTR_MAX)
				return kerr(c, "%s: pads out of range", on);
			w->pb[j] = v[j];
			w->pe[j] = v[j + k];
		}
	}
	for (int j = 0; j < k; j++) {
		int64_t dk = (w->ker[j] - 1) * w->dil[j] + 1, s = w->str[j], o;
		if (same) {
			o = cdiv(in[j], s);
			int64_t tot = (o - 1) * s + dk - in[j];
			if (tot < 0)
				tot = 0;
			w->pb[j] = same == 1 ? tot / 2 : tot - tot / 2;
			w->pe[j] = tot - w->pb[j];
		} else {
			int64_t span = in[j] + w->pb[j] + w->pe[j] - dk;
			if (span < 0)
				return kerr(c, "%s: kernel extent %lld exceeds padded input %lld in dim %d",
				            on, (long long)dk, (long long)(in[j] + w->pb[j] + w->pe[j]), j);
			o = (ceil_mode ? cdiv(span, s) : span / s) + 1;
			if (ceil_mode && (o - 1) * s >= in[j] + w->pb[j])
				o--;
		}
		w->out[j] = o;
	}
	return 0;
}

/* Iterate an odometer idx[0..k) over dims d; returns 0 when it wraps. */
static int step(int64_t *idx, const int64_t *d, int k)
{
	for (int j = k - 1; j >= 0; j--) {
		if (++idx[j] < d[j])
			return 1;
		idx[j] = 0;
	}
	return 0;
}

/* ---- Conv --------------------------------------------------------------- */

/* acc[O] += wv * x(window at kernel index kidx) for one (in-channel, out-channel)
 * pair: the last spatial dim runs as a tight loop over its valid range. */
static void conv_tap(const Win *w, const int64_t *kidx, double wv, const double *x,
                     double *acc)
{
	int k = w->k, l = k - 1;
	int64_t oidx[K_MAXRANK] = {0}, sl = w->str[l];
	int64_t offl = kidx[l] * w->dil[l] - w->pb[l];
	int64_t lo = cdiv(-offl, sl), hi = fdiv(w->in[l] - 1 - offl, sl) + 1;
	if (lo < 0) lo = 0;
	if (hi > w->out[l]) hi = w->out[l];
	if (lo >= hi)
		return;
	do {
		int64_t xo = 0, oo = 0;
		int ok = 1;
		for (int j = 0; j < l; j++) {
			int64_t ii = oidx[j] * w->str[j] + kidx[j] * w->dil[j] - w->pb[j];
			if (ii < 0 || ii >= w->in[j]) {
				ok = 0;
				break;
			}
			xo = xo * w->in[j] + ii;
			oo = oo * w->out[j] + oidx[j];
		}
		if (!ok)
			continue;
		const double *xr = x + xo * w->in[l] + offl;
		double *ar = acc + oo * w->out[l];
		if (sl == 1)
			for (int64_t o = lo; o < hi; o++)
				ar[o] += wv * xr[o];
		else
			for (int64_t o = lo; o < hi; o++)
				ar[o] += wv * xr[o * sl];
	} while (step(oidx, w->out, l));
}

/* Conv, ConvInteger, QLinearConv. */
int ref_conv(KCall *c)
{
	if (ref_need(c, c->op == OP_QLinearConv ? 8 : 2, 1))
		return 1;
	int q = c->op == OP_QLinearConv, integer = c->op == OP_ConvInteger;
	const char *on = op_names[c->op];
	const KTensor *x = &c->in[0], *wt = &c->in[q ? 3 : 1];
	int bidx = q ? 8 : integer ? 99 : 2;   /* ConvInteger has no bias */
	if (x->rank < 3 || wt->rank != x->rank)
		return kerr(c, "%s: X rank %d and W rank %d must be equal and >= 3", on, x->rank,
		            wt->rank);
	int k = x->rank - 2;
	int64_t N = x->dims[0], C = x->dims[1], M = wt->dims[0], G = kattr_i(c, "group", 1);
	if (G < 1 || C % G || M % G || wt->dims[1] != C / G)
		return kerr(c, "%s: X has %lld channels, W is [%lld, %lld, ...], group %lld", on,
		            (long long)C, (long long)M, (long long)wt->dims[1], (long long)G);
	const int64_t *ks;
	int nk = kattr_ints(c, "kernel_shape", &ks);
	if (nk && nk != k)
		return kerr(c, "%s: kernel_shape has %d values for %d spatial dims", on, nk, k);
	for (int j = 0; j < nk; j++)
		if (ks[j] != wt->dims[j + 2])
			return kerr(c, "%s: kernel_shape disagrees with W", on);
	Win w;
	if (win_setup(c, &w, k, x->dims + 2, wt->dims + 2, 0))
		return 1;
	int64_t od[K_MAXRANK] = {N, M};
	for (int j = 0; j < k; j++)
		od[j + 2] = w.out[j];
	if (ref_has_in(c, bidx) && kt_numel(&c->in[bidx]) != M)
		return kerr(c, "%s: bias has %lld elements, expected %lld", on,
		            (long long)kt_numel(&c->in[bidx]), (long long)M);
	if (kout(c, 0, x->rank, od))
		return 1;
	int64_t I = ref_prod(w.in, 0, k), O = ref_prod(w.out, 0, k), Kn = ref_prod(w.ker, 0, k);
	int64_t Cg = C / G, Mg = M / G;
	double *X = ref_load(c, x), *W = X ? ref_load(c, wt) : NULL;
	double *acc = malloc((size_t)(O > 0 ? O : 1) * sizeof *acc);
	double *wzp = calloc((size_t)(M > 0 ? M : 1), sizeof *wzp);
	double *wsc = malloc((size_t)(M > 0 ? M : 1) * sizeof *wsc);
	int rc = 1;
	if (!W || !acc || !wzp || !wsc) {
		kerr(c, "%s: out of memory", on);
		goto out;
	}
	double xzp = 0, xs = 1, ys = 1, yzp = 0;
	if (q || integer) {
		int xzi = 2, wzi = q ? 5 : 3;
		if (ref_has_in(c, xzi)) {
			if (kt_numel(&c->in[xzi]) != 1) {
				kerr(c, "%s: x_zero_point must be a scalar", on);
				goto out;
			}
			xzp = dt_load_f(c->in[xzi].dt, c->in[xzi].data, 0);
		}
		if (ref_has_in(c, wzi)) {
			int64_t nz = kt_numel(&c->in[wzi]);
			if (nz != 1 && nz != M) {
				kerr(c, "%s: w_zero_point has %lld elements, expected 1 or %lld", on,
				     (long long)nz, (long long)M);
				goto out;
			}
			for (int64_t m = 0; m < M; m++)
				wzp[m] = dt_load_f(c->in[wzi].dt, c->in[wzi].data,
				                   (size_t)(nz == 1 ? 0 : m));
		}
		for (int64_t i = 0; i < N * C * I; i++)
			X[i] -= xzp;
		for (int64_t i = 0; i < M * Cg * Kn; i++)
			W[i] -= wzp[i / (Cg * Kn)];
	}
	if (q) {
		int64_t ns = kt_numel(&c->in[4]);
		if (kt_numel(&c->in[1]) != 1 || kt_numel(&c->in[6]) != 1 ||
		    kt_numel(&c->in[7]) != 1 || (ns != 1 && ns != M)) {
			kerr(c, "%s: scales / y_zero_point have bad element counts", on);
			goto out;
		}
		xs = dt_load_f(c->in[1].dt, c->in[1].data, 0);
		ys = dt_load_f(c->in[6].dt, c->in[6].data, 0);
		yzp = dt_load_f(c->in[7].dt, c->in[7].data, 0);
		for (int64_t m = 0; m < M; m++)
			wsc[m] = dt_load_f(c->in[4].dt, c->in[4].data, (size_t)(ns == 1 ? 0 : m));
	}
	KTensor *y = &c->out[0];
	for (int64_t n = 0; n < N; n++)
		for (int64_t m = 0; m < M; m++) {
			int64_t g = m / Mg;
			double b = ref_has_in(c, bidx) ? dt_load_f(c->in[bidx].dt, c->in[bidx].data,
			                                       (size_t)m) : 0;
			for (int64_t o = 0; o < O; o++)
				acc[o] = b;
			for (int64_t cc = 0; cc < Cg; cc++) {
				const double *xp = X + (n * C + g * Cg + cc) * I;
				const double *wp = W + (m * Cg + cc) * Kn;
				int64_t kidx[K_MAXRANK] = {0};
				for (int64_t kp = 0; kp < Kn; kp++, step(kidx, w.ker, k))
					if (wp[kp] != 0)
						conv_tap(&w, kidx, wp[kp], xp, acc);
			}
			for (int64_t o = 0; o < O; o++) {
				size_t oi = (size_t)((n * M + m) * O + o);
				if (q)
					store_sat(y->dt, y->data, oi, rint(acc[o] * xs * wsc[m] / ys) + yzp);
				else if (integer)
					store_sat(y->dt, y->data, oi, acc[o]);
				else
					dt_store_f(y->dt, y->data, oi, acc[o]);
			}
		}
	rc = 0;
out:
	free(X); free(W); free(acc); free(wzp); free(wsc);
	return rc;
}

/* ConvTranspose: the adjoint of Conv. Output size from output_shape (pads
 * derived) or from pads / output_padding; auto_pad SAME_* gives in * stride. */
int ref_convtranspose(KCall *c)
{
	if (ref_need(c, 2, 1))
		return 1;
	const KTensor *x = &c->in[0], *wt = &c->in[1];
	if (x->rank < 3 || wt->rank != x->rank)
		return kerr(c, "ConvTranspose: X rank %d and W rank %d must be equal and >= 3",
		            x->rank, wt->rank);
	int k = x->rank - 2;
	int64_t N = x->dims[0], C = x->dims[1], G = kattr_i(c, "group", 1);
	if (G < 1 || C % G || wt->dims[0] != C)
		return kerr(c, "ConvTranspose: X has %lld channels, W is [%lld, ...], group %lld",
		            (long long)C, (long long)wt->dims[0], (long long)G);
	int64_t Mg = wt->dims[1], M = Mg * G, Cg = C / G;
	const int64_t *v;
	int n;
	Win w;
	memset(&w, 0, sizeof w);
	w.k = k;
	for (int j = 0; j < k; j++) {
		w.in[j] = x->dims[j + 2];
		w.ker[j] = wt->dims[j + 2];
		w.str[j] = w.dil[j] = 1;
	}
	if ((n = kattr_ints(c, "kernel_shape", &v))) {
		if (n != k)
			return kerr(c, "ConvTranspose: kernel_shape has %d values", n);
		for (int j = 0; j < k; j++)
			if (v[j] != w.ker[j])
				return kerr(c, "ConvTranspose: kernel_shape disagrees with W");
	}
	static const char *const nm[2] = {"strides", "dilations"};
	for (int t = 0; t < 2; t++)
		if ((n = kattr_ints(c, nm[t], &v))) {
			if (n != k)
				return kerr(c, "ConvTranspose: %s has %d values", nm[t], n);
			for (int j = 0; j < k; j++) {
				if (v[j] < 1 || v[j] > ATTR_MAX)
					return kerr(c, "ConvTranspose: %s out of range", nm[t]);
				(t ? w.dil : w.str)[j] = v[j];
			}
		}
	int64_t opad[K_MAXRANK] = {0};
	if ((n = kattr_ints(c, "output_padding", &v))) {
		if (n != k)
			return kerr(c, "ConvTranspose: output_padding has %d values", n);
		for (int j = 0; j < k; j++) {
			if (v[j] < 0 || v[j] > ATTR_MAX)
				return kerr(c, "ConvTranspose: output_padding out of range");
			opad[j] = v[j];
		}
	}
	const char *ap = kattr_s(c, "auto_pad", "NOTSET");
	int upper = !strcmp(ap, "SAME_UPPER"), same = upper || !strcmp(ap, "SAME_LOWER");
	if (!same && strcmp(ap, "VALID") && strcmp(ap, "NOTSET") && *ap)
		return kerr(c, "ConvTranspose: unknown auto_pad '%s'", ap);
	if (!same && strcmp(ap, "VALID") && (n = kattr_ints(c, "pads", &v))) {
		if (n != 2 * k)
			return kerr(c, "ConvTranspose: pads has %d values", n);
		for (int j = 0; j < k; j++) {
			if (v[j] < -ATTR_MAX || v[j] > ATTR_MAX || v[j + k] < -ATTR_MAX ||
			    v[j + k] > ATTR_MAX)
				return kerr(c, "ConvTranspose: pads out of range");
			w.pb[j] = v[j];
			w.pe[j] = v[j + k];
		}
	}
	int nos = kattr_ints(c, "output_shape", &v);
	if (nos && nos != k && nos != k + 2)
		return kerr(c, "ConvTranspose: output_shape has %d values", nos);
	for (int j = 0; j < nos; j++)
		if (v[j] < 0 || v[j] > ((int64_t)1 << 40))
			return kerr(c, "ConvTranspose: output_shape value %lld out of range",
			            (long long)v[j]);
	for (int j = 0; j < k; j++) {
		int64_t full = w.str[j] * (w.in[j] - 1) + opad[j] + (w.ker[j] - 1) * w.dil[j] + 1;
		if (nos || same) {
			w.out[j] = nos ? v[nos - k + j] : w.in[j] * w.str[j];
			int64_t tot = full - w.out[j];
			if (tot < 0 && same)
				tot = 0;
			/* floor halves, as the spec's Python does (tot may be < 0) */
			w.pb[j] = upper ? fdiv(tot, 2) : tot - fdiv(tot, 2);
			w.pe[j] = tot - w.pb[j];
		} else {
			w.out[j] = full - w.pb[j] - w.pe[j];
		}
		if (w.out[j] < 0)
			return kerr(c, "ConvTranspose: negative output size in dim %d", j);
	}
	if (ref_has_in(c, 2) && kt_numel(&c->in[2]) != M)
		return kerr(c, "ConvTranspose: bias has %lld elements, expected %lld",
		            (long long)kt_numel(&c->in[2]), (long long)M);
	int64_t od[K_MAXRANK] = {N, M};
	for (int j = 0; j < k; j++)
		od[j + 2] = w.out[j];
	if (kout(c, 0, x->rank, od))
		return 1;
	int64_t I = ref_prod(w.in, 0, k), O = ref_prod(w.out, 0, k), Kn = ref_prod(w.ker, 0, k);
	double *X = ref_load(c, x), *W = X ? ref_load(c, wt) : NULL;
	double *acc = malloc((size_t)(M * O > 0 ? M * O : 1) * sizeof *acc);
	if (!W || !acc) {
		free(X); free(W); free(acc);
		return kerr(c, "ConvTranspose: out of memory");
	}
	int l = k - 1;
	for (int64_t b = 0; b < N; b++) {
		for (int64_t m = 0; m < M; m++)
			for (int64_t o = 0; o < O; o++)
				acc[m * O + o] = ref_has_in(c, 2) ? dt_load_f(c->in[2].dt, c->in[2].data,
				                                          (size_t)m) : 0;
		for (int64_t ch = 0; ch < C; ch++) {
			int64_t g = ch / Cg;
			const double *xp = X + (b * C + ch) * I;
			for (int64_t mm = 0; mm < Mg; mm++) {
				double *ap2 = acc + (g * Mg + mm) * O;
				const double *wp = W + (ch * Mg + mm) * Kn;
				int64_t kidx[K_MAXRANK] = {0};
				for (int64_t kp = 0; kp < Kn; kp++, step(kidx, w.ker, k)) {
					double wv = wp[kp];
					int64_t offl = kidx[l] * w.dil[l] - w.pb[l], sl = w.str[l];
					/* output o = i*s + offl in [0, out) */
					int64_t lo = cdiv(-offl, sl), hi = fdiv(w.out[l] - 1 - offl, sl) + 1;
					if (lo < 0) lo = 0;
					if (hi > w.in[l]) hi = w.in[l];
					if (wv == 0 || lo >= hi)
						continue;
					int64_t iidx[K_MAXRANK] = {0};
					do {
						int64_t xo = 0, oo = 0;
						int ok = 1;
						for (int j = 0; j < l; j++) {
							int64_t oj = iidx[j] * w.str[j] + kidx[j] * w.dil[j] - w.pb[j];
							if (oj < 0 || oj >= w.out[j]) {
								ok = 0;
								break;
							}
							xo = xo * w.in[j] + iidx[j];
							oo = oo * w.out[j] + oj;
						}
						if (!ok)
							continue;
						const double *xr = xp + xo * w.in[l];
						double *ar = ap2 + oo * w.out[l] + offl;
						for (int64_t i = lo; i < hi; i++)
							ar[i * sl] += wv * xr[i];
					} while (step(iidx, w.in, l));
				}
			}
		}
		for (int64_t i = 0; i < M * O; i++)
			dt_store_f(c->out[0].dt, c->out[0].data, (size_t)(b * M * O + i), acc[i]);
	}
	free(X); free(W); free(acc);
	return 0;
}

/* ---- Pooling ------------------------------------------------------------ */

/* AveragePool, MaxPool (+Indices), LpPool, and the Global* variants. */
int ref_pool(KCall *c)
{
	if (ref_need(c, 1, 1))
		return 1;
	const KTensor *x = &c->in[0];
	const char *on = op_names[c->op];
	int global = c->op == OP_GlobalAveragePool || c->op == OP_GlobalMaxPool ||
	             c->op == OP_GlobalLpPool;
	int kind = (c->op == OP_MaxPool || c->op == OP_GlobalMaxPool) ? 1 :
	           (c->op == OP_LpPool || c->op == OP_GlobalLpPool) ? 2 : 0;
	if (x->rank < 3)
		return kerr(c, "%s: input rank %d < 3", on, x->rank);
	int k = x->rank - 2;
	Win w;
	if (global) {
		memset(&w, 0, sizeof w);
		w.k = k;
		for (int j = 0; j < k; j++) {
			w.in[j] = w.ker[j] = x->dims[j + 2];
			w.out[j] = w.str[j] = w.dil[j] = 1;
		}
	} else {
		const int64_t *ks;
		int nk = kattr_ints(c, "kernel_shape", &ks);
		if (nk != k)
			return kerr(c, "%s: kernel_shape has %d values for %d spatial dims", on, nk, k);
		if (win_setup(c, &w, k, x->dims + 2, ks, kattr_i(c, "ceil_mode", 0) != 0))
			return 1;
	}
	double p = 2;
	const KAttr *pa = kattr(c, "p");
	if (pa)
		p = pa->kind == AK_FLOAT ? pa->f : (double)pa->i;
	int cip = kattr_i(c, "count_include_pad", 0) != 0;
	int colmajor = kattr_i(c, "storage_order", 0) != 0;
	int64_t N = x->dims[0], C = x->dims[1], od[K_MAXRANK] = {N, C};
	for (int j = 0; j < k; j++)
		od[j + 2] = w.out[j];
	if (kout(c, 0, x->rank, od))
		return 1;
	int idx_out = kind == 1 && ref_want_out(c, 1);
	if (idx_out && kout(c, 1, x->rank, od))
		return 1;
	int64_t I = ref_prod(w.in, 0, k), O = ref_prod(w.out, 0, k);
	double *X = ref_load(c, x);
	if (!X)
		return 1;
	for (int64_t nc = 0; nc < N * C; nc++) {
		const double *xp = X + nc * I;
		int64_t oidx[K_MAXRANK] = {0};
		for (int64_t o = 0; o < O; o++, step(oidx, w.out, k)) {
			double acc = kind == 1 ? -INFINITY : 0;
			int64_t cnt = 0, cntpad = 0, best = -1, kidx[K_MAXRANK] = {0};
			do {
				int64_t xi = 0, ci = 0, cm = 1;
				int in = 1, inpad = 1;
				for (int j = 0; j < k; j++) {
					int64_t ii = oidx[j] * w.str[j] + kidx[j] * w.dil[j] - w.pb[j];
					if (ii < -w.pb[j] || ii >= w.in[j] + w.pe[j])
						inpad = 0;
					if (ii < 0 || ii >= w.in[j])
						in = 0;
					xi = xi * w.in[j] + ii;
					ci += ii * cm;
					cm *= w.in[j];
				}
				cntpad += inpad;
				if (!in)
					continue;
				double v = xp[xi];
				cnt++;
				if (kind == 1) {
					if (v > acc || best < 0) {
						acc = v;
						best = colmajor ? ci : xi;
					}
				} else if (kind == 2) {
					acc += pow(fabs(v), p);
				} else {
					acc += v;
				}
			} while (step(kidx, w.ker, k));
			if (kind == 2)
				acc = pow(acc, 1.0 / p);
			else if (kind == 0)
				acc = (cip ? cntpad : cnt) > 0 ? acc / (double)(cip ? cntpad : cnt) : 0;
			size_t oi = (size_t)(nc * O + o);
			dt_store_f(c->out[0].dt, c->out[0].data, oi, acc);
			if (idx_out)
				dt_store_i(c->out[1].dt, c->out[1].data, oi, best < 0 ? 0 : nc * I + best);
		}
	}
	free(X);
	return 0;
}

/* MaxUnpool: scatter X into a zero tensor of the inferred shape
 * ((in - 1) * stride + kernel - pads) at the flat positions in I; an
 * output_shape input then zero-extends that tensor at the end of each dim
 * (indices keep referring to the inferred shape, as in the ONNX reference). */
int ref_maxunpool(KCall *c)
{
	if (ref_need(c, 2, 1))
		return 1;
	const KTensor *x = &c->in[0], *ix = &c->in[1];
	if (x->rank < 3)
		return kerr(c, "MaxUnpool: input rank %d < 3", x->rank);
	if (ix->rank != x->rank || memcmp(ix->dims, x->dims, (size_t)x->rank * sizeof *x->dims))
		return kerr(c, "MaxUnpool: indices shape differs from X");
	int k = x->rank - 2, r = x->rank;
	int64_t dd[K_MAXRANK] = {x->dims[0], x->dims[1]}, od[K_MAXRANK];
	const int64_t *ks, *st, *pd;
	if (kattr_ints(c, "kernel_shape", &ks) != k)
		return kerr(c, "MaxUnpool: kernel_shape must have %d values", k);
	int ns = kattr_ints(c, "strides", &st), np = kattr_ints(c, "pads", &pd);
	if ((ns && ns != k) || (np && np != 2 * k))
		return kerr(c, "MaxUnpool: strides/pads have the wrong length");
	for (int j = 0; j < k; j++) {
		int64_t sj = ns ? st[j] : 1, pb = np ? pd[j] : 0, pe = np ? pd[j + k] : 0;
		if (ks[j] < 1 || ks[j] > ATTR_MAX || sj < 1 || sj > ATTR_MAX || pb < 0 ||
		    pb > ATTR_MAX || pe < 0 || pe > ATTR_MAX)
			return kerr(c, "MaxUnpool: kernel_shape/strides/pads value out of range");
		dd[j + 2] = (x->dims[j + 2] - 1) * sj + ks[j] - pb - pe;
		if (dd[j + 2] < 0)
			return kerr(c, "MaxUnpool: negative inferred output size");
	}
	memcpy(od, dd, sizeof od);
	if (ref_has_in(c, 2)) {
		const KTensor *os = &c->in[2];
		if (kt_numel(os) != r)
			return kerr(c, "MaxUnpool: output_shape has %lld values, expected %d",
			            (long long)kt_numel(os), r);
		for (int j = 0; j < r; j++) {
			od[j] = dt_load_i(os->dt, os->data, (size_t)j);
			if (od[j] < dd[j])
				return kerr(c, "MaxUnpool: output_shape dim %d (%lld) is smaller than "
				            "the inferred %lld", j, (long long)od[j], (long long)dd[j]);
		}
	}
	if (kout(c, 0, r, od))
		return 1;
	int64_t dn = ref_prod(dd, 0, r), n = kt_numel(x);
	KTensor *y = &c->out[0];
	memset(y->data, 0, (size_t)ref_prod(od, 0, r) * dt_size(y->dt));
	for (int64_t i = 0; i < n; i++) {
		int64_t t = dt_load_i(ix->dt, ix->data, (size_t)i), o = 0, m = 1;
		if (t < 0 || t >= dn)
			return kerr(c, "MaxUnpool: index %lld out of range [0, %lld)", (long long)t,
			            (long long)dn);
		for (int j = r - 1; j >= 0; j--) {
			o += (t % dd[j]) * m;
			t /= dd[j];
			m *= od[j];
		}
		dt_store_f(y->dt, y->data, (size_t)o, dt_load_f(x->dt, x->data, (size_t)i));
	}
	return 0;
}

/* MaxRoiPool: Caffe-style max pooling of each ROI (batch, x1, y1, x2, y2)
 * into pooled_shape bins. */
int ref_maxroipool(KCall *c)
{
	if (ref_need(c, 2, 1))
		return 1;
	const KTensor *x = &c->in[0], *r = &c->in[1];
	const int64_t *ps;
	if (x->rank != 4 || r->rank != 2 || r->dims[1] != 5)
		return kerr(c, "MaxRoiPool: X must be 4-D and rois [num_rois, 5]");
	if (kattr_ints(c, "pooled_shape", &ps) != 2 || ps[0] < 1 || ps[1] < 1)
		return kerr(c, "MaxRoiPool: pooled_shape must be two positive values");
	double scale = kattr_f(c, "spatial_scale", 1.0);
	int64_t R = r->dims[0], N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
	int64_t od[4] = {R, C, ps[0], ps[1]};
	if (kout(c, 0, 4, od))
		return 1;
	for (int64_t ri = 0; ri < R; ri++) {
		double rv[5];
		for (int j = 0; j < 5; j++)
			rv[j] = dt_load_f(r->dt, r->data, (size_t)(ri * 5 + j));
		int64_t b = to_i(rv[0]);
		if (b < 0 || b >= N)
			return kerr(c, "MaxRoiPool: roi batch index %lld out of range", (long long)b);
		int64_t x1 = to_i(round(rv[1] * scale)), y1 = to_i(round(rv[2] * scale));
		int64_t x2 = to_i(round(rv[3] * scale)), y2 = to_i(round(rv[4] * scale));
		int64_t rw = x2 - x1 + 1 > 1 ? x2 - x1 + 1 : 1, rh = y2 - y1 + 1 > 1 ? y2 - y1 + 1 : 1;
		double bh = (double)rh / (double)ps[0], bw = (double)rw / (double)ps[1];
		for (int64_t ch = 0; ch < C; ch++)
			for (int64_t ph = 0; ph < ps[0]; ph++)
				for (int64_t pw = 0; pw < ps[1]; pw++) {
					int64_t hs = to_i(floor(ph * bh)) + y1, he = to_i(ceil((ph + 1) * bh)) + y1;
					int64_t ws = to_i(floor(pw * bw)) + x1, we = to_i(ceil((pw + 1) * bw)) + x1;
					hs = hs < 0 ? 0 : hs > H ? H : hs;
					he = he < 0 ? 0 : he > H ? H : he;
					ws = ws < 0 ? 0 : ws > W ? W : ws;
					we = we < 0 ? 0 : we > W ? W : we;
					double m = -INFINITY;
					for (int64_t h = hs; h < he; h++)
						for (int64_t ww = ws; ww < we; ww++) {
							double v = dt_load_f(x->dt, x->data,
							                     (size_t)(((b * C + ch) * H + h) * W + ww));
							if (v > m)
								m = v;
						}
					if (hs >= he || ws >= we)
						m = 0;
					dt_store_f(c->out[0].dt, c->out[0].data,
					           (size_t)(((ri * C + ch) * ps[0] + ph) * ps[1] + pw), m);
				}
	}
	return 0;
}

/* RoiAlign: bilinear samples averaged (or max'ed, per sample of the
 * weighted corners, as the ONNX reference does) over each output bin. */
int ref_roialign(KCall *c)
{
	if (ref_need(c, 3, 1))
		return 1;
	const KTensor *x = &c->in[0], *r = &c->in[1], *bi = &c->in[2];
	if (x->rank != 4 || r->rank != 2 || r->dims[1] != 4)
		return kerr(c, "RoiAlign: X must be 4-D and rois [num_rois, 4]");
	int64_t R = r->dims[0];
	if (kt_numel(bi) != R)
		return kerr(c, "RoiAlign: batch_indices has %lld values for %lld rois",
		            (long long)kt_numel(bi), (long long)R);
	int64_t oh = kattr_i(c, "output_height", 1), ow = kattr_i(c, "output_width", 1);
	int64_t sr = kattr_i(c, "sampling_ratio", 0);
	double scale = kattr_f(c, "spatial_scale", 1.0);
	const char *mode = kattr_s(c, "mode", "avg");
	int opset = (int)kattr_i(c, "_opset", 17);
	const char *ctm = kattr_s(c, "coordinate_transformation_mode",
	                          opset < 16 ? "output_half_pixel" : "half_pixel");
	int half = !strcmp(ctm, "half_pixel"), mx = !strcmp(mode, "max");
	if (!half && strcmp(ctm, "output_half_pixel"))
		return kerr(c, "RoiAlign: unknown coordinate_transformation_mode '%s'", ctm);
	if (!mx && strcmp(mode, "avg"))
		return kerr(c, "RoiAlign: unknown mode '%s'", mode);
	if (oh < 1 || ow < 1 || sr < 0)
		return kerr(c, "RoiAlign: bad output size or sampling_ratio");
	int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
	int64_t od[4] = {R, C, oh, ow};
	if (kout(c, 0, 4, od))
		return 1;
	for (int64_t ri = 0; ri < R; ri++) {
		int64_t b = dt_load_i(bi->dt, bi->data, (size_t)ri);
		if (b < 0 || b >= N)
			return kerr(c, "RoiAlign: batch index %lld out of range", (long long)b);
		double off = half ? 0.5 : 0, rv[4];
		for (int j = 0; j < 4; j++)
			rv[j] = dt_load_f(r->dt, r->data, (size_t)(ri * 4 + j)) * scale - off;
		for (int j = 0; j < 4; j++)
			if (!isfinite(rv[j]))
				return kerr(c, "RoiAlign: roi %lld has a non-finite coordinate", (long long)ri);
		double rw = rv[2] - rv[0], rh = rv[3] - rv[1];
		if (!half) {
			rw = rw > 1 ? rw : 1;
			rh = rh > 1 ? rh : 1;
		}
		double bh = rh / (double)oh, bw = rw / (double)ow;
		int64_t gh = sr > 0 ? sr : to_i(ceil(rh / (double)oh));
		int64_t gw = sr > 0 ? sr : to_i(ceil(rw / (double)ow));
		double cnt = gh * gw > 1 ? (double)(gh * gw) : 1;
		for (int64_t ch = 0; ch < C; ch++) {
			size_t base = (size_t)((b * C + ch) * H * W);
			for (int64_t ph = 0; ph < oh; ph++)
				for (int64_t pw = 0; pw < ow; pw++) {
					double acc = 0;
					int first = 1;
					for (int64_t iy = 0; iy < gh; iy++)
						for (int64_t ix = 0; ix < gw; ix++) {
							double yy = rv[1] + ph * bh + (iy + 0.5) * bh / (double)gh;
							double xx = rv[0] + pw * bw + (ix + 0.5) * bw / (double)gw;
							double t[4] = {0, 0, 0, 0};
							if (!(yy < -1.0 || yy > (double)H || xx < -1.0 || xx > (double)W)) {
								if (yy <= 0) yy = 0;
								if (xx <= 0) xx = 0;
								int64_t yl = (int64_t)yy, xl = (int64_t)xx, yh, xh;
								if (yl >= H - 1) { yh = yl = H - 1; yy = (double)yl; } else yh = yl + 1;
								if (xl >= W - 1) { xh = xl = W - 1; xx = (double)xl; } else xh = xl + 1;
								double ly = yy - yl, lx = xx - xl, hy = 1 - ly, hx = 1 - lx;
								t[0] = hy * hx * dt_load_f(x->dt, x->data, base + yl * W + xl);
								t[1] = hy * lx * dt_load_f(x->dt, x->data, base + yl * W + xh);
								t[2] = ly * hx * dt_load_f(x->dt, x->data, base + yh * W + xl);
								t[3] = ly * lx * dt_load_f(x->dt, x->data, base + yh * W + xh);
							}
							if (mx) {
								double m = fmax(fmax(t[0], t[1]), fmax(t[2], t[3]));
								acc = first ? m : fmax(acc, m);
								first = 0;
							} else {
								acc += t[0] + t[1] + t[2] + t[3];
							}
						}
					if (!mx)
						acc /= cnt;
					dt_store_f(c->out[0].dt, c->out[0].data,
					           (size_t)(((ri * C + ch) * oh + ph) * ow + pw), acc);
				}
		}
	}
	return 0;
}
