/* Library kernels (runtime/kdyn.h) of the resampling ops: Resize (opset
 * 11+: nearest / linear / cubic, every coordinate transformation mode,
 * scales or sizes given at run time), Upsample (nearest) and GridSample
 * (4-D input; bilinear / nearest / bicubic; zeros / border / reflection).
 * Resize is separable: each output element is the sum over the product of
 * per-dim taps (1 nearest, 2 linear, 4 cubic), computed in double. */
#include <math.h>
#include <stdlib.h>
#include "kdyn_int.h"

enum { RM_NEAREST, RM_LINEAR, RM_CUBIC };
enum { CT_HALF, CT_PYTORCH, CT_ALIGN, CT_ASYM, CT_TFNN, CT_CROP };
enum { NR_PFLOOR, NR_PCEIL, NR_FLOOR, NR_CEIL };

typedef struct {
	int mode, ct, nr, excl;
	double a;              /* cubic coefficient */
	double extra;          /* extrapolation value (tf_crop_and_resize) */
} rs_opts;

/* per output index of one dim: up to 4 taps, or out (extrapolate) */
typedef struct {
	int64_t idx[4];
	double w[4];
	int n;
	int out;
} rs_taps;

static void cubic_w(double t, double A, double *w)
{
	double u = 1 - t;
	w[0] = ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A;
	w[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
	w[2] = ((A + 2) * u - (A + 3)) * u * u + 1;
	w[3] = ((A * (u + 1) - 5 * A) * (u + 1) + 8 * A) * (u + 1) - 4 * A;
}

static int64_t clampi(int64_t v, int64_t n)
{
	return v < 0 ? 0 : v >= n ? n - 1 : v;
}

/* taps of output index o of a dim: in elements, scale s (out/in or given),
 * output width ow (in * scale, not rounded), roi [r0, r1] */
static void taps(const rs_opts *p, int64_t o, int64_t in, double s, double ow, double r0,
                 double r1, rs_taps *t)
{
	double x;
	t->out = 0;
	switch (p->ct) {
	case CT_ALIGN: x = ow == 1 ? 0 : (double)o * (double)(in - 1) / (ow - 1); break;
	case CT_ASYM: x = (double)o / s; break;
	case CT_TFNN: x = ((double)o + 0.5) / s; break;
	case CT_PYTORCH: x = ow > 1 ? ((double)o + 0.5) / s - 0.5 : 0; break;
	case CT_CROP:
		x = ow == 1 ? (r1 - r0) * (double)(in - 1) / 2
		            : (double)o * (r1 - r0) * (double)(in - 1) / (ow - 1);
		x += r0 * (double)(in - 1);
		if (x < 0 || x > (double)(in - 1))
			t->out = 1;
		break;
	default: x = ((double)o + 0.5) / s - 0.5; break;
	}
	double f = floor(x), r = x - f;
	int64_t x0 = (int64_t)f;
	if (p->mode == RM_NEAREST) {
		int64_t v = x0;
		if (r != 0) {
			bool up = p->nr == NR_PFLOOR ? r > 0.5 : p->nr == NR_PCEIL ? r >= 0.5 : p->nr == NR_CEIL;
			v = x0 + up;
		}
		t->n = 1;
		t->idx[0] = clampi(v, in);
		t->w[0] = 1;
		return;
	}
	if (p->mode == RM_LINEAR) {
		t->n = 2;
		t->idx[0] = x0;
		t->idx[1] = x0 + 1;
		t->w[0] = 1 - r;
		t->w[1] = r;
	} else {
		t->n = 4;
		for (int i = 0; i < 4; i++)
			t->idx[i] = x0 - 1 + i;
		cubic_w(r, p->a, t->w);
	}
	if (p->excl) {
		double sum = 0;
		for (int i = 0; i < t->n; i++) {
			if (t->idx[i] < 0 || t->idx[i] >= in)
				t->w[i] = 0;
			sum += t->w[i];
		}
		for (int i = 0; i < t->n && sum != 0; i++)
			t->w[i] /= sum;
	}
	for (int i = 0; i < t->n; i++)
		t->idx[i] = clampi(t->idx[i], in);
}

static int parse_opts(KCall *c, rs_opts *p)
{
	const char *m = kattr_s(c, "mode", "nearest");
	p->mode = !strcmp(m, "nearest") ? RM_NEAREST : !strcmp(m, "linear") || !strcmp(m, "bilinear") ?
	          RM_LINEAR : !strcmp(m, "cubic") ? RM_CUBIC : -1;
	const char *ct = kattr_s(c, "coordinate_transformation_mode", "half_pixel");
	p->ct = !strcmp(ct, "half_pixel") ? CT_HALF : !strcmp(ct, "pytorch_half_pixel") ? CT_PYTORCH :
	        !strcmp(ct, "align_corners") ? CT_ALIGN : !strcmp(ct, "asymmetric") ? CT_ASYM :
	        !strcmp(ct, "tf_half_pixel_for_nn") ? CT_TFNN : !strcmp(ct, "tf_crop_and_resize") ?
	        CT_CROP : -1;
	const char *nr = kattr_s(c, "nearest_mode", "round_prefer_floor");
	p->nr = !strcmp(nr, "round_prefer_floor") ? NR_PFLOOR : !strcmp(nr, "round_prefer_ceil") ?
	        NR_PCEIL : !strcmp(nr, "floor") ? NR_FLOOR : !strcmp(nr, "ceil") ? NR_CEIL : -1;
	p->excl = kattr_i(c, "exclude_outside", 0) != 0;
	p->a = kattr_f(c, "cubic_coeff_a", -0.75);
	p->extra = kattr_f(c, "extrapolation_value", 0);
	if (c->op == OP_Upsample) {
		p->ct = CT_ASYM;
		p->nr = NR_FLOOR;
		if (p->mode != RM_NEAREST)
			return kerr(c, "Upsample mode '%s' has no library kernel", m);
	}
	if (p->mode < 0 || p->ct < 0 || p->nr < 0)
		return kerr(c, "unsupported mode '%s' / '%s' / '%s'", m, ct, nr);
	if (kattr_i(c, "antialias", 0) || kattr(c, "axes"))
		return kerr(c, "antialias and axes have no library kernel");
	return 0;
}

static int resize(KCall *c)
{
	const KTensor *x = &c->in[0];
	int r = x->rank;
	rs_opts p;
	if (parse_opts(c, &p))
		return 1;
	double sc[K_MAXRANK], ow[K_MAXRANK], r0[K_MAXRANK], r1[K_MAXRANK];
	int64_t d[K_MAXRANK];
	int isc = c->op == OP_Upsample ? 1 : 2, isz = 3, iroi = 1;
	const KTensor *scl = kd_has(c, isc) && kt_numel(&c->in[isc]) > 0 ? &c->in[isc] : NULL;
	const KTensor *siz = c->op == OP_Resize && kd_has(c, isz) && kt_numel(&c->in[isz]) > 0 ?
	                     &c->in[isz] : NULL;
	const KTensor *roi = c->op == OP_Resize && kd_has(c, iroi) && kt_numel(&c->in[iroi]) > 0 ?
	                     &c->in[iroi] : NULL;
	const float *asc = NULL;
	if (c->op == OP_Upsample && !scl && kattr_floats(c, "scales", &asc) != r)
		return kerr(c, "scales must have %d values", r);
	if (!!scl + !!siz + !!asc != 1)
		return kerr(c, "exactly one of scales and sizes must be given");
	if ((scl && kt_numel(scl) != r) || (siz && kt_numel(siz) != r) || (roi && kt_numel(roi) != 2 * r))
		return kerr(c, "scales/sizes/roi do not match the rank %d", r);
	for (int i = 0; i < r; i++) {
		r0[i] = roi ? kd_f(roi, i) : 0;
		r1[i] = roi ? kd_f(roi, r + i) : 1;
		int64_t in = x->dims[i];
		if (siz) {
			d[i] = kd_i(siz, i);
			sc[i] = in ? (double)d[i] / (double)in : 1;
			ow[i] = (double)d[i];
		} else {
			sc[i] = scl ? kd_f(scl, i) : asc[i];
			if (!(sc[i] > 0))
				return kerr(c, "scale %g not positive", sc[i]);
			d[i] = (int64_t)floor((double)in * sc[i]);   /* roi does not scale it (as ORT) */
			ow[i] = (double)in * sc[i];
		}
		if (d[i] < 0 || (d[i] > 0 && in == 0))
			return kerr(c, "output dim %d is %lld", i, (long long)d[i]);
	}
	if (kout(c, 0, r, d))
		return 1;
	int64_t tot = 0, off[K_MAXRANK];
	for (int i = 0; i < r; i++) {
		off[i] = tot;
		tot += d[i];
	}
	rs_taps *tp = malloc((size_t)(tot ? tot : 1) * sizeof *tp);
	if (!tp)
		return kerr(c, "out of memory");
	for (int i = 0; i < r; i++) {
		/* an axis kept as it is (scale 1, full roi) is not resampled */
		bool ident = d[i] == x->dims[i] && fabs(sc[i] - 1) < 1e-9 &&
		             (p.ct != CT_CROP || (fabs(r0[i]) < 1e-9 && fabs(r1[i] - 1) < 1e-9));
		for (int64_t o = 0; o < d[i]; o++) {
			rs_taps *t = &tp[off[i] + o];
			if (ident) {
				t->n = 1;
				t->idx[0] = o;
				t->w[0] = 1;
				t->out = 0;
			} else {
				taps(&p, o, x->dims[i], sc[i], ow[i], r0[i], r1[i], t);
			}
		}
	}
	int64_t st[K_MAXRANK], idx[K_MAXRANK] = {0}, ne = kd_numel(d, r);
	kd_strides(x->dims, r, st);
	KTensor *y = &c->out[0];
	for (int64_t e = 0; e < ne; e++) {
		const rs_taps *t[K_MAXRANK];
		int out = 0, ncomb = 1;
		for (int i = 0; i < r; i++) {
			t[i] = &tp[off[i] + idx[i]];
			out |= t[i]->out;
			ncomb *= t[i]->n;
		}
		double v = 0;
		if (out) {
			v = p.extra;
		} else {
			for (int k = 0; k < ncomb; k++) {
				int q = k;
				int64_t src = 0;
				double w = 1;
				for (int i = r - 1; i >= 0; i--) {
					int j = q % t[i]->n;
					q /= t[i]->n;
					src += t[i]->idx[j] * st[i];
					w *= t[i]->w[j];
				}
				if (w != 0)
					v += w * kd_f(x, src);
			}
		}
		dt_store_f(y->dt, y->data, (size_t)e, v);
		kd_next(idx, d, r);
	}
	free(tp);
	return 0;
}

/* ---- GridSample ---------------------------------------------------------- */
enum { GP_ZEROS, GP_BORDER, GP_REFLECT };

/* reflect x into [lo, hi] (bounces off both ends) */
static double reflect(double x, double lo, double hi)
{
	double span = hi - lo;
	if (span <= 0)
		return lo;
	if (x >= lo && x <= hi)
		return x;
	double dist = x < lo ? lo - x : x - hi;
	double k = floor(dist / span), rem = dist - k * span;
	bool even = fmod(k, 2) == 0;
	if (x < lo)
		return even ? lo + rem : hi - rem;
	return even ? hi - rem : lo + rem;
}

typedef struct {
	const KTensor *x;
	int64_t base, H, W;
	int pad;
	double lo[2], hi[2];   /* reflection bounds: y, x */
} gs_img;

/* pixel (yy, xx) with the padding mode: zeros outside, border clamps,
 * reflection reflects the index into the image */
static double pix(const gs_img *g, int64_t yy, int64_t xx)
{
	int64_t n[2] = {g->H, g->W}, v[2] = {yy, xx};
	for (int k = 0; k < 2; k++) {
		if (v[k] >= 0 && v[k] < n[k])
			continue;
		if (g->pad == GP_ZEROS)
			return 0;
		if (g->pad == GP_REFLECT)
			v[k] = (int64_t)reflect((double)v[k], g->lo[k], g->hi[k]);
		v[k] = v[k] < 0 ? 0 : v[k] >= n[k] ? n[k] - 1 : v[k];
	}
	return kd_f(g->x, g->base + v[0] * g->W + v[1]);
}

static int gridsample(KCall *c)
{
	const KTensor *x = &c->in[0], *g = &c->in[1];
	if (!kd_has(c, 1) || x->rank != 4 || g->rank != 4 || g->dims[0] != x->dims[0] || g->dims[3] != 2)
		return kerr(c, "X must be [N,C,H,W] and grid [N,Ho,Wo,2]");
	const char *m = kattr_s(c, "mode", "bilinear"), *pm = kattr_s(c, "padding_mode", "zeros");
	int mode = !strcmp(m, "bilinear") || !strcmp(m, "linear") ? RM_LINEAR : !strcmp(m, "nearest") ?
	           RM_NEAREST : !strcmp(m, "bicubic") || !strcmp(m, "cubic") ? RM_CUBIC : -1;
	int pad = !strcmp(pm, "zeros") ? GP_ZEROS : !strcmp(pm, "border") ? GP_BORDER :
	          !strcmp(pm, "reflection") ? GP_REFLECT : -1;
	int align = kattr_i(c, "align_corners", 0) != 0;
	if (mode < 0 || pad < 0)
		return kerr(c, "mode '%s' / padding_mode '%s' unsupported", m, pm);
	int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
	int64_t Ho = g->dims[1], Wo = g->dims[2], d[4] = {N, C, Ho, Wo};
	if (kout(c, 0, 4, d))
		return 1;
	KTensor *y = &c->out[0];
	gs_img im = {x, 0, H, W, pad, {align ? 0 : -0.5, align ? 0 : -0.5},
	             {align ? (double)H - 1 : (double)H - 0.5, align ? (double)W - 1 : (double)W - 0.5}};
	for (int64_t n = 0; n < N; n++)
		for (int64_t h = 0; h < Ho; h++)
			for (int64_t w = 0; w < Wo; w++) {
				int64_t gi = ((n * Ho + h) * Wo + w) * 2;
				double cv[2], sz[2] = {(double)H, (double)W};
				for (int k = 0; k < 2; k++) {
					/* grid holds (x, y): k = 0 is y, the second entry */
					double v = kd_f(g, gi + 1 - k);
					v = align ? (v + 1) / 2 * (sz[k] - 1) : ((v + 1) * sz[k] - 1) / 2;
					v = v != v ? -1e15 : v < -1e15 ? -1e15 : v > 1e15 ? 1e15 : v;
					if (mode == RM_NEAREST)
						v = nearbyint(v);
					if (v < im.lo[k] || v > im.hi[k]) {
						if (pad == GP_BORDER)
							v = v < 0 ? 0 : v > sz[k] - 1 ? sz[k] - 1 : v;
						else if (pad == GP_REFLECT)
							v = reflect(v, im.lo[k], im.hi[k]);
					}
					cv[k] = v;
				}
				double fy = floor(cv[0]), fx = floor(cv[1]);
				double ty = cv[0] - fy, tx = cv[1] - fx, wy[4], wx[4];
				int64_t y0 = (int64_t)fy, x0 = (int64_t)fx;
				if (mode == RM_CUBIC) {
					cubic_w(ty, -0.75, wy);
					cubic_w(tx, -0.75, wx);
				}
				for (int64_t ch = 0; ch < C; ch++) {
					im.base = (n * C + ch) * H * W;
					double v = 0;
					if (mode == RM_NEAREST) {
						v = pix(&im, (int64_t)cv[0], (int64_t)cv[1]);
					} else if (mode == RM_LINEAR) {
						v = pix(&im, y0, x0) * (1 - tx) * (1 - ty) + pix(&im, y0, x0 + 1) * tx * (1 - ty) +
						    pix(&im, y0 + 1, x0) * (1 - tx) * ty + pix(&im, y0 + 1, x0 + 1) * tx * ty;
					} else {
						for (int a = 0; a < 4; a++)
							for (int b = 0; b < 4; b++)
								v += wy[a] * wx[b] * pix(&im, y0 - 1 + a, x0 - 1 + b);
					}
					dt_store_f(y->dt, y->data, (size_t)(((n * C + ch) * Ho + h) * Wo + w), v);
				}
			}
	return 0;
}

int kdyn_image(KCall *c, int *rc)
{
	switch (c->op) {
	case OP_Resize: case OP_Upsample: *rc = resize(c); return 0;
	case OP_GridSample: *rc = gridsample(c); return 0;
	}
	return 1;
}
