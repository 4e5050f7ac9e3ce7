/* Reference kernels for the remaining families: Resize/Upsample, linear
 * (de)quantization, spectral ops (DFT, STFT, windows, mel weights), the two
 * loss ops, and the random generators (deterministic given `seed`). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kern.h"
#include "ref_util.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static int64_t ival(const KTensor *t, int64_t i) { return dt_load_i(t->dt, t->data, (size_t)i); }
static double fval(const KTensor *t, int64_t i) { return dt_load_f(t->dt, t->data, (size_t)i); }
static int has_in(const KCall *c, int i)
{
	return i < c->nin && c->in[i].dt != DT_UNDEF && c->in[i].data && kt_numel(&c->in[i]) > 0;
}

/* Integer range of dt; returns 0 for non-integer types. */
static int int_range(int dt, double *lo, double *hi)
{
	switch (dt) {
	case DT_U8: *lo = 0; *hi = 255; return 1;
	case DT_I8: *lo = -128; *hi = 127; return 1;
	case DT_U16: *lo = 0; *hi = 65535; return 1;
	case DT_I16: *lo = -32768; *hi = 32767; return 1;
	case DT_I32: *lo = -2147483648.0; *hi = 2147483647.0; return 1;
	case DT_U32: *lo = 0; *hi = 4294967295.0; return 1;
	case DT_I64: *lo = -9223372036854775808.0; *hi = 9223372036854774784.0; return 1;
	case DT_U64: *lo = 0; *hi = 18446744073709549568.0; return 1;
	case DT_BOOL: *lo = 0; *hi = 1; return 1;
	default: return 0;
	}
}

/* Store v into element i; integer types round half to even and saturate. */
static void store_sat(int dt, void *p, size_t i, double v)
{
	double lo, hi;
	if (!int_range(dt, &lo, &hi)) {
		dt_store_f(dt, p, i, v);
		return;
	}
	v = v != v ? 0 : nearbyint(v);
	v = v < lo ? lo : v > hi ? hi : v;
	if (dt == DT_U64)
		dt_store_u(dt, p, i, (uint64_t)v);
	else
		dt_store_i(dt, p, i, (int64_t)v);
}

/* ---- Resize / Upsample ------------------------------------------------- */

enum { CT_HALF, CT_HALF_SYM, CT_PYTORCH, CT_ALIGN, CT_ASYM, CT_TFNN, CT_CROP };
enum { NM_PFLOOR, NM_PCEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE };
enum { RM_NEAREST, RM_LINEAR, RM_CUBIC };

/* One axis's sampling: output index y reads taps idx[y*n .. y*n+n) with
 * weights w[...]; ext[y] marks tf_crop_and_resize extrapolation. */
typedef struct Taps {
	int n;
	int64_t *idx;
	double *w;
	char *ext;
} Taps;

static double cubic_k(double d, double a)
{
	d = fabs(d);
	if (d <= 1)
		return ((a + 2) * d - (a + 3)) * d * d + 1;
	if (d < 2)
		return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
	return 0;
}

typedef struct RSpec {
	int mode, ct, nm, excl, anti;
	double a;
} RSpec;

static int axis_taps(const RSpec *s, Taps *t, int64_t in, int64_t out, double scale,
                     double r0, double r1, int identity)
{
	int istart = 0;
	double sc = s->anti && scale < 1 ? scale : 1;
	if (identity || s->mode == RM_NEAREST)
		t->n = 1;
	else {
		if (!(sc > 1e-3))
			return 1;
		istart = (int)floor((s->mode == RM_CUBIC ? -2 : -1) / sc) + 1;
		t->n = 2 - 2 * istart;
	}
	if (t->n > 4096)
		return 1;
	size_t m = (size_t)(out ? out : 1) * (size_t)t->n;
	t->idx = malloc(m * sizeof *t->idx);
	t->w = malloc(m * sizeof *t->w);
	t->ext = calloc((size_t)(out ? out : 1), 1);
	if (!t->idx || !t->w || !t->ext)
		return 1;
	double ow = scale * (double)in;   /* output length before truncation */
	for (int64_t y = 0; y < out; y++) {
		int64_t *ix = t->idx + y * t->n;
		double *w = t->w + y * t->n;
		if (identity) {
			ix[0] = y;
			w[0] = 1;
			continue;
		}
		double x, yy = (double)y;
		switch (s->ct) {
		case CT_ALIGN: x = ow == 1 ? 0 : yy * (double)(in - 1) / (ow - 1); break;
		case CT_ASYM: x = yy / scale; break;
		case CT_TFNN: x = (yy + 0.5) / scale; break;
		case CT_PYTORCH: x = ow > 1 ? (yy + 0.5) / scale - 0.5 : 0; break;
		case CT_HALF_SYM: {
			double adj = (double)out / ow, off = (double)in / 2 * (1 - adj);
			x = off + (yy + 0.5) / scale - 0.5;
			break;
		}
		case CT_CROP:
			x = ow == 1 ? (r1 - r0) * (double)(in - 1) / 2
			            : yy * (r1 - r0) * (double)(in - 1) / (ow - 1);
			x += r0 * (double)(in - 1);
			t->ext[y] = x < 0 || x > (double)(in - 1);
			break;
		default: x = (yy + 0.5) / scale - 0.5; break;
		}
		if (s->mode == RM_NEAREST) {
			double f = floor(x), fr = x - f;
			int64_t v;
			if (fr == 0)
				v = (int64_t)f;
			else switch (s->nm) {
			case NM_PCEIL: v = (int64_t)(fr < 0.5 ? f : f + 1); break;
			case NM_FLOOR: v = (int64_t)f; break;
			case NM_CEIL: v = (int64_t)f + 1; break;
			case NM_SIMPLE: v = (int64_t)(scale < 1 ? f + 1 : f); break;
			default: v = (int64_t)(fr <= 0.5 ? f : f + 1); break;
			}
			ix[0] = v < 0 ? 0 : v >= in ? in - 1 : v;
			w[0] = 1;
			continue;
		}
		double x0 = floor(x), ratio = x - x0, sum = 0;
		if (ratio == 0) {
			ratio = 1;
			x0 -= 1;
		}
		for (int k = 0; k < t->n; k++) {
			double d = ((double)(istart + k) - ratio) * sc;
			double wk = s->mode == RM_CUBIC ? cubic_k(d, s->a) : fmax(0, 1 - fabs(d));
			int64_t v = (int64_t)x0 + istart + k;
			if (s->excl && (v < 0 || v >= in))
				wk = 0;
			ix[k] = v < 0 ? 0 : v >= in ? in - 1 : v;
			w[k] = wk;
			sum += wk;
		}
		if ((s->excl || s->anti) && sum != 0)
			for (int k = 0; k < t->n; k++)
				w[k] /= sum;
	}
	return 0;
}

typedef struct RCtx {
	const KTensor *x;
	int r;
	Taps *t;
	int64_t ist[K_MAXRANK], oi[K_MAXRANK];
} RCtx;

static double interp(const RCtx *q, int k, int64_t off, double w)
{
	if (k == q->r)
		return w * fval(q->x, off);
	const Taps *t = &q->t[k];
	double acc = 0;
	for (int j = 0; j < t->n; j++) {
		double wj = t->w[q->oi[k] * t->n + j];
		if (wj != 0)
			acc += interp(q, k + 1, off + t->idx[q->oi[k] * t->n + j] * q->ist[k], w * wj);
	}
	return acc;
}

static int pick(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

int ref_resize(KCall *c)
{
	const KTensor *x = &c->in[0];
	int r = x->rank, opset = (int)kattr_i(c, "_opset", 17);
	int up = c->op == OP_Upsample, old = up || opset < 11;
	RSpec s = {0};
	static const char *const mn[] = {"nearest", "linear", "cubic", "bilinear", "bicubic"};
	static const char *const cn[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
	                                 "align_corners", "asymmetric", "tf_half_pixel_for_nn",
	                                 "tf_crop_and_resize"};
	static const char *const nn[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
	const char *ms = kattr_s(c, "mode", "nearest");
	const char *cs = old ? "asymmetric" : kattr_s(c, "coordinate_transformation_mode", "half_pixel");
	const char *ns = kattr_s(c, "nearest_mode", "round_prefer_floor");
	s.mode = pick(ms, mn, 5);
	s.ct = pick(cs, cn, 7);
	s.nm = old ? NM_SIMPLE : pick(ns, nn, 4);
	if (s.mode < 0 || s.ct < 0 || s.nm < 0)
		return kerr(c, "%s: unsupported mode '%s', coordinate mode '%s' or nearest mode '%s'",
		            op_names[c->op], ms, cs, ns);
	s.mode = s.mode == 3 ? RM_LINEAR : s.mode == 4 ? RM_CUBIC : s.mode;
	s.a = kattr_f(c, "cubic_coeff_a", -0.75);
	s.excl = kattr_i(c, "exclude_outside", 0) != 0;
	s.anti = kattr_i(c, "antialias", 0) != 0 && s.mode != RM_NEAREST;
	double extrap = kattr_f(c, "extrapolation_value", 0);
	/* Which axes are resized, and their scales / sizes. */
	int ax[K_MAXRANK], na = r;
	for (int k = 0; k < r; k++)
		ax[k] = k;
	const int64_t *av;
	int nav = kattr_ints(c, "axes", &av);
	if (av) {
		int seen[K_MAXRANK] = {0};
		if (nav > r)
			return kerr(c, "Resize: %d axes for rank %d", nav, r);
		for (int i = 0; i < nav; i++) {
			int64_t a = av[i] < 0 ? av[i] + r : av[i];
			if (a < 0 || a >= r || seen[a]++)
				return kerr(c, "Resize: axis %lld invalid or repeated", (long long)av[i]);
			ax[i] = (int)a;
		}
		na = nav;
	}
	double scale[K_MAXRANK], roi[2 * K_MAXRANK];
	int64_t od[K_MAXRANK];
	for (int k = 0; k < r; k++) {
		scale[k] = 1;
		od[k] = x->dims[k];
		roi[k] = 0;
		roi[k + r] = 1;
	}
	const KTensor *sct = NULL, *szt = NULL;
	const float *sattr = NULL;
	int nsattr = 0;
	if (up && opset < 9)
		nsattr = kattr_floats(c, "scales", &sattr);
	else if (old)
		sct = has_in(c, 1) ? &c->in[1] : NULL;
	else {
		sct = has_in(c, 2) ? &c->in[2] : NULL;
		szt = has_in(c, 3) ? &c->in[3] : NULL;
	}
	if (!sattr && !sct && !szt)
		return kerr(c, "%s: neither scales nor sizes given", op_names[c->op]);
	if ((sattr && nsattr != na) || (sct && kt_numel(sct) != na) || (szt && kt_numel(szt) != na))
		return kerr(c, "%s: scales/sizes must have %d entries", op_names[c->op], na);
	if (s.ct == CT_CROP && has_in(c, 1)) {
		const KTensor *rt = &c->in[1];
		if (kt_numel(rt) != 2 * na)
			return kerr(c, "Resize: roi must have %d entries", 2 * na);
		for (int i = 0; i < na; i++) {
			roi[ax[i]] = fval(rt, i);
			roi[ax[i] + r] = fval(rt, i + na);
		}
	}
	if (szt) {
		const char *kp = kattr_s(c, "keep_aspect_ratio_policy", "stretch");
		int pol = !strcmp(kp, "stretch") ? 0 : !strcmp(kp, "not_larger") ? 1
		        : !strcmp(kp, "not_smaller") ? 2 : -1;
		if (pol < 0)
			return kerr(c, "Resize: unknown keep_aspect_ratio_policy '%s'", kp);
		double common = pol == 1 ? INFINITY : -INFINITY;
		for (int i = 0; i < na; i++) {
			int64_t v = ival(szt, i), d = x->dims[ax[i]];
			if (v < 0 || d == 0)
				return kerr(c, "Resize: sizes[%d] = %lld invalid for input dim %lld", i,
				            (long long)v, (long long)d);
			od[ax[i]] = v;
			scale[ax[i]] = (double)v / (double)d;
			common = pol == 1 ? fmin(common, scale[ax[i]]) : fmax(common, scale[ax[i]]);
		}
		if (pol)
			for (int i = 0; i < na; i++) {
				scale[ax[i]] = common;
				od[ax[i]] = (int64_t)floor(common * (double)x->dims[ax[i]] + 0.5);
			}
	} else {
		for (int i = 0; i < na; i++) {
			double v = sattr ? sattr[i] : fval(sct, i);
			if (!(v > 0) || v * (double)x->dims[ax[i]] > 1e12)
				return kerr(c, "%s: scale %g is invalid", op_names[c->op], v);
			scale[ax[i]] = v;
			od[ax[i]] = (int64_t)(v * (double)x->dims[ax[i]]);
		}
	}
	for (int k = 0; k < r; k++)
		if (x->dims[k] == 0 && od[k] > 0)
			return kerr(c, "%s: cannot resize empty axis %d", op_names[c->op], k);
	if (kout(c, 0, r, od))
		return 1;
	Taps t[K_MAXRANK];
	memset(t, 0, sizeof t);
	RCtx q = {x, r, t, {0}, {0}};
	int rc = 0;
	for (int k = 0; k < r && !rc; k++) {
		int ident = fabs(scale[k] - 1) < 1e-9 && od[k] == x->dims[k] &&
		            (s.ct != CT_CROP || (fabs(roi[k]) < 1e-9 && fabs(roi[k + r] - 1) < 1e-9));
		if (axis_taps(&s, &t[k], x->dims[k], od[k], scale[k], roi[k], roi[k + r], ident))
			rc = kerr(c, "%s: out of memory or filter too wide on axis %d", op_names[c->op], k);
	}
	int64_t n = ref_prod(od, 0, r), st = 1;
	for (int k = r - 1; k >= 0; k--) {
		q.ist[k] = st;
		st *= x->dims[k];
	}
	KTensor *o = &c->out[0];
	for (int64_t e = 0; e < n && !rc; e++) {
		int ext = 0;
		for (int k = 0; k < r; k++)
			ext |= t[k].ext[q.oi[k]];
		store_sat(o->dt, o->data, (size_t)e, ext ? extrap : interp(&q, 0, 0, 1));
		for (int k = r - 1; k >= 0; k--) {
			if (++q.oi[k] < od[k])
				break;
			q.oi[k] = 0;
		}
	}
	for (int k = 0; k < r; k++) {
		free(t[k].idx);
		free(t[k].w);
		free(t[k].ext);
	}
	return rc;
}

/* ---- QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear ---------- */

/* Index into a scale/zero-point tensor p for element i of x: per-tensor,
 * per-axis (1-D along axis) or blocked (same rank, axis dim divided). */
typedef struct QMap {
	int kind;                  /* 0 tensor, 1 axis, 2 block */
	int64_t d, inner, bs, db;
} QMap;

static int qmap_init(KCall *c, const KTensor *x, const KTensor *p, QMap *m)
{
	memset(m, 0, sizeof *m);
	if (kt_numel(p) == 1 && p->rank <= 1)
		return 0;
	int axis = (int)kattr_i(c, "axis", 1);
	if (axis < -x->rank || axis >= x->rank)
		return kerr(c, "%s: axis %d out of range for rank %d", op_names[c->op], axis, x->rank);
	axis = axis < 0 ? axis + x->rank : axis;
	m->d = x->dims[axis];
	m->inner = ref_prod(x->dims, axis + 1, x->rank);
	int64_t bs = kattr_i(c, "block_size", 0);
	if (bs <= 0) {
		if (p->rank != 1 || p->dims[0] != m->d)
			return kerr(c, "%s: per-axis scale must be 1-D of length %lld", op_names[c->op],
			            (long long)m->d);
		m->kind = 1;
		return 0;
	}
	m->kind = 2;
	m->bs = bs;
	m->db = (m->d + bs - 1) / bs;
	if (p->rank != x->rank)
		return kerr(c, "%s: blocked scale must have rank %d", op_names[c->op], x->rank);
	for (int k = 0; k < x->rank; k++)
		if (p->dims[k] != (k == axis ? m->db : x->dims[k]))
			return kerr(c, "%s: blocked scale dim %d is %lld, expected %lld", op_names[c->op], k,
			            (long long)p->dims[k], (long long)(k == axis ? m->db : x->dims[k]));
	return 0;
}

static int64_t qmap(const QMap *m, int64_t i)
{
	if (m->kind == 0)
		return 0;
	int64_t in = i % m->inner, a = i / m->inner % m->d;
	if (m->kind == 1)
		return a;
	int64_t o = i / m->inner / m->d;
	return (o * m->db + a / m->bs) * m->inner + in;
}

int ref_quantize(KCall *c)
{
	const KTensor *x = &c->in[0], *sc = &c->in[1];
	const KTensor *zp = c->nin > 2 && c->in[2].dt != DT_UNDEF && c->in[2].data ? &c->in[2] : NULL;
	QMap m;
	if (qmap_init(c, x, sc, &m))
		return 1;
	if (zp && kt_numel(zp) != kt_numel(sc))
		return kerr(c, "%s: zero point and scale differ in size", op_names[c->op]);
	if (kout(c, 0, x->rank, x->dims))
		return 1;
	KTensor *o = &c->out[0];
	int64_t n = kt_numel(x);
	int deq = c->op == OP_DequantizeLinear;
	double lo, hi;
	if (!deq && !int_range(o->dt, &lo, &hi))
		return kerr(c, "QuantizeLinear: output type %s not supported", dt_name(o->dt));
	for (int64_t i = 0; i < n; i++) {
		int64_t p = qmap(&m, i);
		double s = fval(sc, p), z = zp ? (double)ival(zp, p) : 0;
		if (deq) {
			float v = (float)((double)ival(x, i) - z) * (float)s;
			dt_store_f(o->dt, o->data, (size_t)i, o->dt == DT_F64 ? ((double)ival(x, i) - z) * s : v);
		} else {
			double v = dt_is_float(x->dt) && x->dt != DT_F64
			         ? (double)((float)fval(x, i) / (float)s) : fval(x, i) / s;
			v = v != v ? 0 : nearbyint(v) + z;
			store_sat(o->dt, o->data, (size_t)i, v);
		}
	}
	return 0;
}

int ref_dynquantize(KCall *c)
{
	const KTensor *x = &c->in[0];
	int64_t n = kt_numel(x);
	float mx = 0, mn = 0;
	for (int64_t i = 0; i < n; i++) {
		float v = (float)fval(x, i);
		mx = v > mx ? v : mx;
		mn = v < mn ? v : mn;
	}
	float scale = (mx == mn ? 1.0f : mx - mn) / 255.0f;
	float z0 = 0.0f - mn / scale;
	double zp = nearbyint(z0 < 0 ? 0 : z0 > 255 ? 255 : z0);
	if (kout(c, 0, x->rank, x->dims) || kout(c, 1, 0, NULL) || kout(c, 2, 0, NULL))
		return 1;
	for (int64_t i = 0; i < n; i++)
		store_sat(c->out[0].dt, c->out[0].data, (size_t)i,
		          nearbyint((double)((float)fval(x, i) / scale)) + zp);
	dt_store_f(c->out[1].dt, c->out[1].data, 0, scale);
	store_sat(c->out[2].dt, c->out[2].data, 0, zp);
	return 0;
}

/* ---- DFT / STFT / windows / mel weights -------------------------------- */

/* Naive DFT of `n` complex points read from (re, im) with stride `st`
 * (im NULL: real input), length `len` available (zero-padded / truncated
 * to n). Writes `nk` bins to out_re/out_im. */
static void dft1(const double *re, const double *im, int64_t len, int64_t n, int64_t nk,
                 int inverse, double *ore, double *oim)
{
	double sg = inverse ? 1 : -1;
	for (int64_t k = 0; k < nk; k++) {
		double sr = 0, si = 0;
		for (int64_t j = 0; j < n && j < len; j++) {
			double ang = sg * 2 * M_PI * (double)((k * j) % n) / (double)n;
			double cr = cos(ang), ci = sin(ang), a = re[j], b = im ? im[j] : 0;
			sr += a * cr - b * ci;
			si += a * ci + b * cr;
		}
		ore[k] = inverse ? sr / (double)n : sr;
		oim[k] = inverse ? si / (double)n : si;
	}
}

int ref_dft(KCall *c)
{
	const KTensor *x = &c->in[0];
	int r = x->rank, opset = (int)kattr_i(c, "_opset", 17);
	if (r < 2 || (x->dims[r - 1] != 1 && x->dims[r - 1] != 2))
		return kerr(c, "DFT: input must end in a dim of 1 (real) or 2 (complex)");
	int64_t axis = opset >= 20 ? -2 : kattr_i(c, "axis", 1);
	if (c->nin > 2 && has_in(c, 2))
		axis = ival(&c->in[2], 0);
	if (axis < 0)
		axis += r;
	if (axis < 0 || axis >= r - 1)
		return kerr(c, "DFT: axis invalid for rank %d (the last dim holds re/im)", r);
	int inv = kattr_i(c, "inverse", 0) != 0, one = kattr_i(c, "onesided", 0) != 0;
	int cplx = x->dims[r - 1] == 2;
	int64_t len = x->dims[axis];
	int64_t n = has_in(c, 1) ? ival(&c->in[1], 0) : inv && one ? 2 * (len - 1) : len;
	if (n <= 0 || n > (1 << 24))
		return kerr(c, "DFT: dft_length %lld invalid", (long long)n);
	int64_t nk = one && !inv ? n / 2 + 1 : n, od[K_MAXRANK];
	memcpy(od, x->dims, sizeof od);
	od[axis] = nk;
	od[r - 1] = inv && one ? 1 : 2;
	if (kout(c, 0, r, od))
		return 1;
	int64_t outer = ref_prod(x->dims, 0, (int)axis), inner = ref_prod(x->dims, (int)axis + 1, r - 1);
	int64_t m = len > n ? len : n;
	double *buf = malloc(sizeof(double) * (size_t)(4 * m + 4));
	if (!buf)
		return kerr(c, "DFT: out of memory");
	double *re = buf, *im = re + m, *orr = im + m, *oi = orr + m;
	KTensor *o = &c->out[0];
	for (int64_t a = 0; a < outer; a++)
		for (int64_t b = 0; b < inner; b++) {
			int64_t in_len = len;
			for (int64_t j = 0; j < len; j++) {
				int64_t e = (a * len + j) * inner + b;
				re[j] = fval(x, e * (cplx ? 2 : 1));
				im[j] = cplx ? fval(x, e * 2 + 1) : 0;
			}
			if (inv && one) {
				/* rebuild the Hermitian spectrum from bins 0..n/2 */
				int64_t h = n / 2 + 1;
				for (int64_t j = len; j < h; j++)
					re[j] = im[j] = 0;
				for (int64_t j = h; j < n; j++) {
					re[j] = re[n - j];
					im[j] = -im[n - j];
				}
				in_len = n;
			}
			dft1(re, im, in_len, n, nk, inv, orr, oi);
			for (int64_t k = 0; k < nk; k++) {
				int64_t e = (a * nk + k) * inner + b;
				if (inv && one)
					dt_store_f(o->dt, o->data, (size_t)e, orr[k]);
				else {
					dt_store_f(o->dt, o->data, (size_t)(2 * e), orr[k]);
					dt_store_f(o->dt, o->data, (size_t)(2 * e + 1), oi[k]);
				}
			}
		}
	free(buf);
	return 0;
}

int ref_stft(KCall *c)
{
	const KTensor *x = &c->in[0];
	if (x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
		return kerr(c, "STFT: signal must be [batch, length, 1 or 2]");
	const KTensor *win = c->nin > 2 && has_in(c, 2) ? &c->in[2] : NULL;
	if (!has_in(c, 1))
		return kerr(c, "STFT: frame_step missing");
	int64_t step = ival(&c->in[1], 0), B = x->dims[0], L = x->dims[1];
	int64_t fl = c->nin > 3 && has_in(c, 3) ? ival(&c->in[3], 0) : win ? win->dims[0] : L;
	if (win && (win->rank != 1 || win->dims[0] != fl))
		return kerr(c, "STFT: window length must equal frame_length %lld", (long long)fl);
	if (step <= 0 || fl <= 0 || fl > L || fl > (1 << 20))
		return kerr(c, "STFT: frame_step %lld / frame_length %lld invalid for signal length %lld",
		            (long long)step, (long long)fl, (long long)L);
	int one = kattr_i(c, "onesided", 1) != 0, cplx = x->dims[2] == 2;
	int64_t nf = 1 + (L - fl) / step, nk = one ? fl / 2 + 1 : fl;
	int64_t od[4] = {B, nf, nk, 2};
	if (kout(c, 0, 4, od))
		return 1;
	double *buf = malloc(sizeof(double) * (size_t)(4 * fl));
	if (!buf)
		return kerr(c, "STFT: out of memory");
	double *re = buf, *im = re + fl, *orr = im + fl, *oi = orr + fl;
	KTensor *o = &c->out[0];
	for (int64_t b = 0; b < B; b++)
		for (int64_t f = 0; f < nf; f++) {
			for (int64_t j = 0; j < fl; j++) {
				int64_t e = b * L + f * step + j;
				double w = win ? fval(win, j) : 1;
				re[j] = w * fval(x, e * (cplx ? 2 : 1));
				im[j] = cplx ? w * fval(x, e * 2 + 1) : 0;
			}
			dft1(re, im, fl, fl, nk, 0, orr, oi);
			for (int64_t k = 0; k < nk; k++) {
				int64_t e = ((b * nf + f) * nk + k) * 2;
				dt_store_f(o->dt, o->data, (size_t)e, orr[k]);
				dt_store_f(o->dt, o->data, (size_t)e + 1, oi[k]);
			}
		}
	free(buf);
	return 0;
}

int ref_window(KCall *c)
{
	if (kt_numel(&c->in[0]) != 1)
		return kerr(c, "%s: size must be a scalar", op_names[c->op]);
	int64_t n = ival(&c->in[0], 0);
	if (n < 0 || n > (1 << 28))
		return kerr(c, "%s: size %lld invalid", op_names[c->op], (long long)n);
	if (kout(c, 0, 1, &n))
		return 1;
	double N = kattr_i(c, "periodic", 1) ? (double)n : (double)(n - 1);
	for (int64_t i = 0; i < n; i++) {
		double t = 2 * M_PI * (double)i / N, v;
		if (c->op == OP_HannWindow)
			v = 0.5 - 0.5 * cos(t);
		else if (c->op == OP_HammingWindow)
			v = 25.0 / 46.0 - (21.0 / 46.0) * cos(t);
		else
			v = 0.42 - 0.5 * cos(t) + 0.08 * cos(2 * t);
		dt_store_f(c->out[0].dt, c->out[0].data, (size_t)i, N == 0 ? 1 : v);
	}
	return 0;
}

int ref_melweight(KCall *c)
{
	for (int i = 0; i < 5; i++)
		if (kt_numel(&c->in[i]) != 1)
			return kerr(c, "MelWeightMatrix: input %d must be a scalar", i);
	int64_t nm = ival(&c->in[0], 0), dl = ival(&c->in[1], 0), sr = ival(&c->in[2], 0);
	double lo = fval(&c->in[3], 0), hi = fval(&c->in[4], 0);
	if (nm <= 0 || dl <= 0 || sr <= 0 || nm > (1 << 16) || dl > (1 << 24))
		return kerr(c, "MelWeightMatrix: num_mel_bins %lld, dft_length %lld, sample_rate %lld "
		            "invalid", (long long)nm, (long long)dl, (long long)sr);
	int64_t nb = dl / 2 + 1, od[2] = {nb, nm};
	if (kout(c, 0, 2, od))
		return 1;
	int64_t *fb = malloc(sizeof(int64_t) * (size_t)(nm + 2));
	double *w = calloc((size_t)(nb * nm), sizeof(double));
	if (!fb || !w) {
		free(fb);
		free(w);
		return kerr(c, "MelWeightMatrix: out of memory");
	}
	double ml = 2595 * log10(1 + lo / 700), mh = 2595 * log10(1 + hi / 700);
	double step = (mh - ml) / (double)(nm + 2);
	for (int64_t i = 0; i < nm + 2; i++) {
		double hz = 700 * (pow(10, ((double)i * step + ml) / 2595) - 1);
		fb[i] = (int64_t)floor((double)(dl + 1) * hz / (double)sr);
	}
	int rc = 0;
	for (int64_t i = 0; i < nm && !rc; i++) {
		int64_t l = fb[i], ce = fb[i + 1], h = fb[i + 2];
		if (l < 0 || ce < 0 || h < 0 || l >= nb || ce >= nb || h > nb) {
			rc = kerr(c, "MelWeightMatrix: frequency edges fall outside %lld bins", (long long)nb);
			break;
		}
		if (ce == l)
			w[ce * nm + i] = 1;
		else
			for (int64_t j = l; j <= ce; j++)
				w[j * nm + i] = (double)(j - l) / (double)(ce - l);
		for (int64_t j = ce; j < h; j++)
			w[j * nm + i] = (double)(h - j) / (double)(h - ce);
	}
	for (int64_t i = 0; i < nb * nm && !rc; i++)
		dt_store_f(c->out[0].dt, c->out[0].data, (size_t)i, w[i]);
	free(fb);
	free(w);
	return rc;
}

/* ---- NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss --------------- */

/* Loss over log-probabilities lp (N, C, D...) given labels; writes output 0. */
static int nll(KCall *c, const KTensor *lp, const double *lpv, const KTensor *lab,
               const KTensor *wt)
{
	int r = lp->rank;
	if (r < 2 || lab->rank != r - 1 || !dt_is_int(lab->dt))
		return kerr(c, "%s: input must be [N,C,...] and target [N,...] integer", op_names[c->op]);
	int64_t N = lp->dims[0], C = lp->dims[1], D = ref_prod(lp->dims, 2, r);
	for (int k = 0; k < r - 1; k++)
		if (lab->dims[k] != lp->dims[k ? k + 1 : 0])
			return kerr(c, "%s: target dim %d does not match input", op_names[c->op], k);
	if (wt && (wt->rank != 1 || wt->dims[0] != C))
		return kerr(c, "%s: weight must be 1-D of length %lld", op_names[c->op], (long long)C);
	const char *rs = kattr_s(c, "reduction", "mean");
	int red = !strcmp(rs, "none") ? 0 : !strcmp(rs, "sum") ? 1 : !strcmp(rs, "mean") ? 2 : -1;
	if (red < 0)
		return kerr(c, "%s: unknown reduction '%s'", op_names[c->op], rs);
	const KAttr *ig = kattr(c, "ignore_index");
	if (kout(c, 0, red ? 0 : lab->rank, lab->dims))
		return 1;
	KTensor *o = &c->out[0];
	double sum = 0, wsum = 0;
	for (int64_t n = 0; n < N; n++)
		for (int64_t d = 0; d < D; d++) {
			int64_t t = ival(lab, n * D + d);
			double l = 0, w = 0;
			if (!(ig && t == ig->i)) {
				if (t < 0 || t >= C)
					return kerr(c, "%s: target %lld out of range [0, %lld)", op_names[c->op],
					            (long long)t, (long long)C);
				w = wt ? fval(wt, t) : 1;
				l = -lpv[(n * C + t) * D + d] * w;
			}
			if (!red)
				dt_store_f(o->dt, o->data, (size_t)(n * D + d), l);
			sum += l;
			wsum += w;
		}
	if (red)
		dt_store_f(o->dt, o->data, 0, red == 2 ? sum / wsum : sum);
	return 0;
}

int ref_nllloss(KCall *c)
{
	const KTensor *x = &c->in[0];
	int64_t n = kt_numel(x);
	double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
	if (!v)
		return kerr(c, "%s: out of memory", op_names[c->op]);
	for (int64_t i = 0; i < n; i++)
		v[i] = fval(x, i);
	const KTensor *wt = c->nin > 2 && c->in[2].dt != DT_UNDEF && c->in[2].data ? &c->in[2] : NULL;
	int rc = nll(c, x, v, &c->in[1], wt);
	free(v);
	return rc;
}

int ref_sceloss(KCall *c)
{
	const KTensor *x = &c->in[0];
	if (x->rank < 2)
		return kerr(c, "SoftmaxCrossEntropyLoss: scores must be [N,C,...]");
	int64_t n = kt_numel(x), N = x->dims[0], C = x->dims[1], D = ref_prod(x->dims, 2, x->rank);
	double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
	if (!v)
		return kerr(c, "%s: out of memory", op_names[c->op]);
	for (int64_t a = 0; a < N; a++)
		for (int64_t d = 0; d < D; d++) {
			double m = -INFINITY, s = 0;
			for (int64_t k = 0; k < C; k++)
				m = fmax(m, fval(x, (a * C + k) * D + d));
			for (int64_t k = 0; k < C; k++)
				s += exp(fval(x, (a * C + k) * D + d) - m);
			for (int64_t k = 0; k < C; k++)
				v[(a * C + k) * D + d] = fval(x, (a * C + k) * D + d) - m - log(s);
		}
	const KTensor *wt = c->nin > 2 && c->in[2].dt != DT_UNDEF && c->in[2].data ? &c->in[2] : NULL;
	int rc = nll(c, x, v, &c->in[1], wt);
	if (!rc && c->nout > 1 && c->out[1].dt != DT_UNDEF && !(rc = kout(c, 1, x->rank, x->dims)))
		for (int64_t i = 0; i < n; i++)
			dt_store_f(c->out[1].dt, c->out[1].data, (size_t)i, v[i]);
	free(v);
	return rc;
}

/* ---- random generators ------------------------------------------------- */

typedef struct Rng { uint64_t s; } Rng;

static uint64_t rng_next(Rng *g)   /* splitmix64 */
{
	uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_u01(Rng *g) { return (double)(rng_next(g) >> 11) * (1.0 / 9007199254740992.0); }

static double rng_normal(Rng *g)
{
	double u = rng_u01(g), v = rng_u01(g);
	return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

int ref_random(KCall *c)
{
	const KAttr *sd = kattr(c, "seed");
	Rng g = {0x5eedull};
	if (sd) {
		double f = sd->kind == AK_FLOAT ? sd->f : (double)sd->i;
		memcpy(&g.s, &f, sizeof f);
	}
	KTensor *o = &c->out[0];
	int64_t od[K_MAXRANK];
	int r;
	if (c->op == OP_RandomNormal || c->op == OP_RandomUniform) {
		const int64_t *sh;
		r = kattr_ints(c, "shape", &sh);
		if (!sh || r > K_MAXRANK)
			return kerr(c, "%s: shape attribute missing or of rank > %d", op_names[c->op], K_MAXRANK);
		for (int k = 0; k < r; k++)
			if ((od[k] = sh[k]) < 0)
				return kerr(c, "%s: shape[%d] is negative", op_names[c->op], k);
	} else if (c->op == OP_Multinomial) {
		const KTensor *x = &c->in[0];
		if (x->rank != 2)
			return kerr(c, "Multinomial: input must be [batch, classes]");
		int64_t ss = kattr_i(c, "sample_size", 1);
		if (ss < 0)
			return kerr(c, "Multinomial: sample_size %lld is negative", (long long)ss);
		od[0] = x->dims[0];
		od[1] = ss;
		if (kout(c, 0, 2, od))
			return 1;
		int64_t C = x->dims[1];
		for (int64_t b = 0; b < od[0]; b++) {
			double m = -INFINITY, tot = 0;
			for (int64_t k = 0; k < C; k++)
				m = fmax(m, fval(x, b * C + k));
			for (int64_t k = 0; k < C; k++)
				tot += exp(fval(x, b * C + k) - m);
			for (int64_t s = 0; s < ss; s++) {
				double u = rng_u01(&g) * tot, acc = 0;
				int64_t k = 0;
				for (; k < C - 1; k++) {
					acc += exp(fval(x, b * C + k) - m);
					if (u < acc)
						break;
				}
				dt_store_i(o->dt, o->data, (size_t)(b * ss + s), k);
			}
		}
		return 0;
	} else {
		r = c->in[0].rank;
		memcpy(od, c->in[0].dims, sizeof od);
	}
	if (kout(c, 0, r, od))
		return 1;
	int64_t n = kt_numel(o);
	double mean = kattr_f(c, "mean", 0), scale = kattr_f(c, "scale", 1);
	double low = kattr_f(c, "low", 0), high = kattr_f(c, "high", 1);
	for (int64_t i = 0; i < n; i++) {
		double v;
		if (c->op == OP_Bernoulli)
			v = rng_u01(&g) < fval(&c->in[0], i) ? 1 : 0;
		else if (c->op == OP_RandomNormal || c->op == OP_RandomNormalLike)
			v = mean + scale * rng_normal(&g);
		else
			v = low + (high - low) * rng_u01(&g);
		dt_store_f(o->dt, o->data, (size_t)i, v);
	}
	return 0;
}
