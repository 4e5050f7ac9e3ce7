/* Library kernels (runtime/kdyn.h): OneHot, EyeLike, Trilu, CumSum,
 * DepthToSpace, SpaceToDepth, Compress, NonZero, ReverseSequence. */
#include <math.h>
#include "kdyn_int.h"

int kdyn_misc(KCall *c, int *rc);

static int onehot(KCall *c)
{
	const KTensor *ix = &c->in[0];
	if (c->nin < 3 || !kd_has(c, 1) || !kd_has(c, 2) || kt_numel(&c->in[1]) != 1 ||
	    kt_numel(&c->in[2]) != 2)
		return kerr(c, "depth must be a scalar and values a pair [off, on]");
	const KTensor *dp = &c->in[1], *vals = &c->in[2];
	int64_t depth = dt_is_float(dp->dt) ? (int64_t)kd_f(dp, 0) : kd_i(dp, 0);
	int r = ix->rank + 1, ax;
	if (depth < 0 || r > K_MAXRANK || !kd_axis(kattr_i(c, "axis", -1), r, &ax))
		return kerr(c, "depth negative, or axis/rank out of range");
	int64_t d[K_MAXRANK], idx[K_MAXRANK] = {0}, st[K_MAXRANK];
	for (int i = 0, j = 0; i < r; i++)
		d[i] = i == ax ? depth : ix->dims[j++];
	if (kout(c, 0, r, d))
		return 1;
	KTensor *o = &c->out[0];
	if (vals->dt != o->dt)
		return kerr(c, "values and output dtypes differ");
	kd_strides(ix->dims, ix->rank, st);
	size_t es = dt_size(o->dt);
	int64_t ne = kd_numel(d, r);
	for (int64_t e = 0; e < ne; e++) {
		int64_t off = 0;
		for (int i = 0, j = 0; i < r; i++)
			if (i != ax)
				off += idx[i] * st[j++];
		int64_t v = dt_is_float(ix->dt) ? (int64_t)kd_f(ix, off) : kd_i(ix, off);
		v = v < 0 ? v + depth : v;
		memcpy((char *)o->data + (size_t)e * es, (const char *)vals->data + (v == idx[ax] ? es : 0), es);
		kd_next(idx, d, r);
	}
	return 0;
}

static int eyelike(KCall *c)
{
	const KTensor *x = &c->in[0];
	if (x->rank != 2)
		return kerr(c, "input must be 2-D");
	if (kout(c, 0, 2, x->dims))
		return 1;
	int64_t k = kattr_i(c, "k", 0);
	KTensor *o = &c->out[0];
	for (int64_t i = 0; i < x->dims[0]; i++)
		for (int64_t j = 0; j < x->dims[1]; j++)
			dt_store_f(o->dt, o->data, (size_t)(i * x->dims[1] + j), j - i == k ? 1.0 : 0.0);
	return 0;
}

static int trilu(KCall *c)
{
	const KTensor *x = &c->in[0];
	int r = x->rank;
	if (r < 2)
		return kerr(c, "input rank %d < 2", r);
	int64_t k = 0;
	if (kd_has(c, 1)) {
		if (kt_numel(&c->in[1]) != 1 || dt_is_float(c->in[1].dt))
			return kerr(c, "k must be an integer scalar");
		k = kd_i(&c->in[1], 0);
	}
	bool upper = kattr_i(c, "upper", 1) != 0;
	if (kout(c, 0, r, x->dims))
		return 1;
	int64_t R = x->dims[r - 2], C = x->dims[r - 1], nb = R > 0 && C > 0 ? kt_numel(x) / (R * C) : 0;
	size_t es = dt_size(x->dt);
	char *o = c->out[0].data;
	const char *p = x->data;
	for (int64_t b = 0; b < nb; b++)
		for (int64_t i = 0; i < R; i++)
			for (int64_t j = 0; j < C; j++) {
				size_t e = (size_t)((b * R + i) * C + j) * es;
				bool keep = upper ? j - i >= k : j - i <= k;
				if (keep)
					memcpy(o + e, p + e, es);
				else
					memset(o + e, 0, es);
			}
	return 0;
}

static int cumsum(KCall *c)
{
	const KTensor *x = &c->in[0];
	int r = x->rank, ax;
	if (!kd_has(c, 1) || kt_numel(&c->in[1]) != 1 || dt_is_float(c->in[1].dt) ||
	    !kd_axis(kd_i(&c->in[1], 0), r, &ax))
		return kerr(c, "axis must be an integer scalar in range");
	if (kout(c, 0, r, x->dims))
		return 1;
	bool excl = kattr_i(c, "exclusive", 0) != 0, rev = kattr_i(c, "reverse", 0) != 0;
	int64_t n = x->dims[ax], inner = 1, outer = 1;
	for (int i = ax + 1; i < r; i++)
		inner *= x->dims[i];
	for (int i = 0; i < ax; i++)
		outer *= x->dims[i];
	bool fl = dt_is_float(x->dt);
	void *o = c->out[0].data;
	for (int64_t a = 0; a < outer; a++)
		for (int64_t b = 0; b < inner; b++) {
			double sf = 0;
			uint64_t si = 0;
			for (int64_t t0 = 0; t0 < n; t0++) {
				int64_t t = rev ? n - 1 - t0 : t0;
				size_t e = (size_t)((a * n + t) * inner + b);
				double vf = fl ? kd_f(x, (int64_t)e) : 0;
				uint64_t vi = fl ? 0 : (uint64_t)kd_i(x, (int64_t)e);
				if (!excl) {
					sf += vf;
					si += vi;
				}
				if (fl)
					dt_store_f(x->dt, o, e, sf);
				else
					dt_store_i(x->dt, o, e, (int64_t)si);
				if (excl) {
					sf += vf;
					si += vi;
				}
			}
		}
	return 0;
}

/* DepthToSpace (s2d false) and SpaceToDepth on [N, C, H, W] */
static int depthspace(KCall *c, bool s2d)
{
	const KTensor *x = &c->in[0];
	int64_t b = kattr_i(c, "blocksize", 0);
	if (x->rank != 4 || b <= 0)
		return kerr(c, "input must be 4-D and blocksize positive");
	int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], d[4];
	bool crd = !s2d && !strcmp(kattr_s(c, "mode", "DCR"), "CRD");
	if (s2d) {
		if (H % b || W % b)
			return kerr(c, "spatial dims not divisible by blocksize");
		int64_t dd[4] = {N, C * b * b, H / b, W / b};
		memcpy(d, dd, sizeof d);
	} else {
		if (C % (b * b))
			return kerr(c, "channels not divisible by blocksize^2");
		int64_t dd[4] = {N, C / (b * b), H * b, W * b};
		memcpy(d, dd, sizeof d);
	}
	if (kout(c, 0, 4, d))
		return 1;
	size_t es = dt_size(x->dt);
	char *o = c->out[0].data;
	const char *p = x->data;
	/* iterate over the "deep" layout [N, Cs, H/W small] and the "space" one */
	int64_t Cs = s2d ? C : d[1], Hs = s2d ? H / b : H, Ws = s2d ? W / b : W;
	for (int64_t n = 0; n < N; n++)
		for (int64_t ch = 0; ch < Cs; ch++)
			for (int64_t i = 0; i < b; i++)
				for (int64_t j = 0; j < b; j++) {
					int64_t dc = crd ? ch * b * b + i * b + j : (i * b + j) * Cs + ch;
					for (int64_t h = 0; h < Hs; h++)
						for (int64_t w = 0; w < Ws; w++) {
							size_t deep = (size_t)(((n * Cs * b * b + dc) * Hs + h) * Ws + w);
							size_t space = (size_t)(((n * Cs + ch) * Hs * b + h * b + i) * Ws * b +
							                        w * b + j);
							if (s2d)
								memcpy(o + deep * es, p + space * es, es);
							else
								memcpy(o + space * es, p + deep * es, es);
						}
				}
	return 0;
}

static bool nonzero_at(const KTensor *t, int64_t i)
{
	return dt_is_float(t->dt) ? kd_f(t, i) != 0 : kd_i(t, i) != 0;
}

static int compress(KCall *c)
{
	const KTensor *x = &c->in[0];
	if (!kd_has(c, 1) || c->in[1].rank != 1)
		return kerr(c, "condition must be 1-D");
	const KTensor *cd = &c->in[1];
	const KAttr *aa = kattr(c, "axis");
	size_t es = dt_size(x->dt);
	int64_t nc = cd->dims[0], cnt = 0;
	if (!aa) {
		if (nc > kt_numel(x))
			return kerr(c, "condition longer than the input");
		for (int64_t i = 0; i < nc; i++)
			cnt += nonzero_at(cd, i);
		int64_t d[1] = {cnt};
		if (kout(c, 0, 1, d))
			return 1;
		for (int64_t i = 0, k = 0; i < nc; i++)
			if (nonzero_at(cd, i))
				memcpy((char *)c->out[0].data + (size_t)k++ * es, (const char *)x->data + (size_t)i * es, es);
		return 0;
	}
	int r = x->rank, ax;
	if (!kd_axis(aa->i, r, &ax))
		return kerr(c, "axis out of range");
	int64_t n = x->dims[ax];
	if (nc > n)
		return kerr(c, "condition longer than dim %d", ax);
	for (int64_t i = 0; i < nc; i++)
		cnt += nonzero_at(cd, i);
	int64_t d[K_MAXRANK], inner = 1, outer = 1;
	memcpy(d, x->dims, sizeof d);
	d[ax] = cnt;
	for (int i = ax + 1; i < r; i++)
		inner *= x->dims[i];
	for (int i = 0; i < ax; i++)
		outer *= x->dims[i];
	if (kout(c, 0, r, d))
		return 1;
	char *o = c->out[0].data;
	const char *p = x->data;
	for (int64_t a = 0; a < outer; a++)
		for (int64_t i = 0, k = 0; i < nc; i++)
			if (nonzero_at(cd, i))
				memcpy(o + (size_t)((a * cnt + k++) * inner) * es, p + (size_t)((a * n + i) * inner) * es,
				       (size_t)inner * es);
	return 0;
}

static int nonzero(KCall *c)
{
	const KTensor *x = &c->in[0];
	int r = x->rank;
	int64_t ne = kt_numel(x), cnt = 0, idx[K_MAXRANK] = {0};
	for (int64_t i = 0; i < ne; i++)
		cnt += nonzero_at(x, i);
	int64_t d[2] = {r, cnt};
	if (kout(c, 0, 2, d))
		return 1;
	KTensor *o = &c->out[0];
	for (int64_t i = 0, k = 0; i < ne; i++) {
		if (nonzero_at(x, i)) {
			for (int j = 0; j < r; j++)
				dt_store_i(o->dt, o->data, (size_t)(j * cnt + k), idx[j]);
			k++;
		}
		kd_next(idx, x->dims, r);
	}
	return 0;
}

static int reversesequence(KCall *c)
{
	const KTensor *x = &c->in[0];
	int r = x->rank, ba, ta;
	if (r < 2 || !kd_axis(kattr_i(c, "batch_axis", 1), r, &ba) ||
	    !kd_axis(kattr_i(c, "time_axis", 0), r, &ta) || ba == ta || ba > 1 || ta > 1)
		return kerr(c, "batch_axis and time_axis must be 0 and 1");
	if (!kd_has(c, 1) || c->in[1].rank != 1 || c->in[1].dims[0] != x->dims[ba])
		return kerr(c, "sequence_lens must have one entry per batch");
	if (kout(c, 0, r, x->dims))
		return 1;
	int64_t inner = 1, st[K_MAXRANK];
	for (int i = 2; i < r; i++)
		inner *= x->dims[i];
	kd_strides(x->dims, r, st);
	size_t es = dt_size(x->dt);
	char *o = c->out[0].data;
	const char *p = x->data;
	for (int64_t b = 0; b < x->dims[ba]; b++) {
		int64_t len = kd_i(&c->in[1], b);
		if (len < 0 || len > x->dims[ta])
			return kerr(c, "sequence_lens[%lld] = %lld out of range", (long long)b, (long long)len);
		for (int64_t t = 0; t < x->dims[ta]; t++) {
			int64_t src = t < len ? len - 1 - t : t;
			memcpy(o + (size_t)(b * st[ba] + t * st[ta]) * es, p + (size_t)(b * st[ba] + src * st[ta]) * es,
			       (size_t)inner * es);
		}
	}
	return 0;
}

int kdyn_misc(KCall *c, int *rc)
{
	switch (c->op) {
	case OP_OneHot: *rc = onehot(c); return 0;
	case OP_EyeLike: *rc = eyelike(c); return 0;
	case OP_Trilu: *rc = trilu(c); return 0;
	case OP_CumSum: *rc = cumsum(c); return 0;
	case OP_DepthToSpace: *rc = depthspace(c, false); return 0;
	case OP_SpaceToDepth: *rc = depthspace(c, true); return 0;
	case OP_Compress: *rc = compress(c); return 0;
	case OP_NonZero: *rc = nonzero(c); return 0;
	case OP_ReverseSequence: *rc = reversesequence(c); return 0;
	}
	return 1;
}
