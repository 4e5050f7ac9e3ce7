/* Library kernels for shape ops whose shape operands are run-time tensors
 * (runtime/kdyn.h): Reshape, Squeeze, Unsqueeze, Expand, Tile, Slice,
 * Split, Pad, Range, ConstantOfShape, and the dispatcher kdyn_call. Data
 * moves as raw elements of dt_size bytes, so every numeric dtype works. */
#include <math.h>
#include <stdlib.h>
#include "kdyn_int.h"

int kdyn_misc(KCall *c, int *rc);   /* kdyn_misc.c */

int kdyn_has_op(int op)
{
	switch (op) {
	case OP_Reshape: case OP_Squeeze: case OP_Unsqueeze: case OP_Expand: case OP_Tile:
	case OP_Slice: case OP_Split: case OP_Pad: case OP_Range: case OP_ConstantOfShape:
	case OP_OneHot: case OP_EyeLike: case OP_Trilu: case OP_CumSum: case OP_DepthToSpace:
	case OP_SpaceToDepth: case OP_Compress: case OP_NonZero: case OP_ReverseSequence:
	case OP_GatherND: case OP_Scatter: case OP_ScatterElements: case OP_ScatterND:
	case OP_TopK: case OP_Unique: case OP_MaxUnpool:
	case OP_Resize: case OP_Upsample: case OP_GridSample:
		return 1;
	}
	return 0;
}

int kdyn_call(kpool *pool, KCall *c)
{
	(void)pool;
	int rc = 0;
	for (int i = 0; i < c->nin; i++)
		if (c->in[i].dt != DT_UNDEF && (c->in[i].rank < 0 || c->in[i].rank > K_MAXRANK))
			return kerr(c, "input %d: rank %d out of range", i, c->in[i].rank);
	if (c->nin < 1 || c->in[0].dt == DT_UNDEF || (c->in[0].dt != DT_UNDEF && !dt_size(c->in[0].dt)))
		return kerr(c, "input 0 missing or of an unsupported dtype");
	if (!kdyn_shape(c, &rc) || !kdyn_misc(c, &rc) || !kdyn_index(c, &rc) || !kdyn_image(c, &rc))
		return rc;
	return kerr(c, "op %s has no library kernel", c->op >= 0 && c->op < OP_COUNT ? op_names[c->op] : "?");
}

/* out[0] = in[0]'s bytes under new dims */
static int copy_as(KCall *c, int rank, const int64_t *dims)
{
	if (kd_numel(dims, rank) != kt_numel(&c->in[0]))
		return kerr(c, "shape has %lld elements, input %lld", (long long)kd_numel(dims, rank),
		            (long long)kt_numel(&c->in[0]));
	if (kout(c, 0, rank, dims))
		return 1;
	size_t nb = kt_nbytes(&c->in[0]);
	if (nb && c->out[0].data != c->in[0].data)
		memmove(c->out[0].data, c->in[0].data, nb);
	return 0;
}

static int attr_or_input_ints(KCall *c, int in, const char *attr, int64_t *v, int max, int *n)
{
	const int64_t *a;
	if (kd_has(c, in)) {
		*n = kd_ints(&c->in[in], v, max);
		if (*n < 0)
			return kerr(c, "input %d: expected at most %d int32/int64 values", in, max);
		return 0;
	}
	*n = kattr_ints(c, attr, &a);
	if (*n > max)
		return kerr(c, "attribute %s: more than %d values", attr, max);
	for (int i = 0; i < *n; i++)
		v[i] = a[i];
	return 0;
}

static int reshape(KCall *c)
{
	const KTensor *x = &c->in[0];
	int64_t s[K_MAXRANK];
	int n;
	if (attr_or_input_ints(c, 1, "shape", s, K_MAXRANK, &n))
		return 1;
	int allowzero = (int)kattr_i(c, "allowzero", 0), infer = -1;
	int64_t known = 1;
	for (int i = 0; i < n; i++) {
		if (s[i] == 0 && !allowzero) {
			if (i >= x->rank)
				return kerr(c, "shape[%d] is 0 but the input has rank %d", i, x->rank);
			s[i] = x->dims[i];
		}
		if (s[i] == -1) {
			if (infer >= 0)
				return kerr(c, "shape has more than one -1");
			infer = i;
		} else if (s[i] < 0) {
			return kerr(c, "shape[%d] is %lld", i, (long long)s[i]);
		} else {
			known *= s[i];
		}
	}
	if (infer >= 0) {
		int64_t ne = kt_numel(x);
		if (known == 0 || ne % known)
			return kerr(c, "cannot infer the -1 of the shape (%lld elements)", (long long)ne);
		s[infer] = ne / known;
	}
	return copy_as(c, n, s);
}

static int squeeze(KCall *c)
{
	const KTensor *x = &c->in[0];
	int64_t ax[K_MAXRANK], d[K_MAXRANK];
	int n, r = x->rank, o = 0;
	bool drop[K_MAXRANK] = {false};
	if (attr_or_input_ints(c, 1, "axes", ax, K_MAXRANK, &n))
		return 1;
	for (int i = 0; i < n; i++) {
		int a;
		if (!kd_axis(ax[i], r, &a))
			return kerr(c, "axis %lld out of range for rank %d", (long long)ax[i], r);
		if (x->dims[a] != 1)
			return kerr(c, "cannot squeeze dim %d of size %lld", a, (long long)x->dims[a]);
		drop[a] = true;
	}
	for (int i = 0; i < r; i++)
		if (!(n ? drop[i] : x->dims[i] == 1))
			d[o++] = x->dims[i];
	return copy_as(c, o, d);
}

static int unsqueeze(KCall *c)
{
	const KTensor *x = &c->in[0];
	int64_t ax[K_MAXRANK], d[K_MAXRANK];
	int n;
	bool ins[K_MAXRANK] = {false};
	if (attr_or_input_ints(c, 1, "axes", ax, K_MAXRANK, &n))
		return 1;
	int r = x->rank + n;
	if (r > K_MAXRANK)
		return kerr(c, "output rank %d too large", r);
	for (int i = 0; i < n; i++) {
		int a;
		if (!kd_axis(ax[i], r, &a) || ins[a])
			return kerr(c, "axis %lld out of range or repeated", (long long)ax[i]);
		ins[a] = true;
	}
	for (int i = 0, j = 0; i < r; i++)
		d[i] = ins[i] ? 1 : x->dims[j++];
	return copy_as(c, r, d);
}

static int expand(KCall *c)
{
	const KTensor *x = &c->in[0];
	int64_t s[K_MAXRANK], d[K_MAXRANK];
	int n = kd_has(c, 1) ? kd_ints(&c->in[1], s, K_MAXRANK) : -1;
	if (n < 0)
		return kerr(c, "shape: expected a 1-D int64 tensor of at most %d values", K_MAXRANK);
	int r = n > x->rank ? n : x->rank;
	for (int i = 0; i < r; i++) {
		int xi = i - (r - x->rank), si = i - (r - n);
		int64_t a = xi >= 0 ? x->dims[xi] : 1, b = si >= 0 ? s[si] : 1;
		if (b < 0 || (a != b && a != 1 && b != 1))
			return kerr(c, "cannot broadcast dim %lld to %lld", (long long)a, (long long)b);
		d[i] = a == 1 ? b : a;
	}
	if (kout(c, 0, r, d))
		return 1;
	int64_t st[K_MAXRANK], idx[K_MAXRANK] = {0};
	kt_bstrides(x, r, d, st);
	size_t es = dt_size(x->dt);
	int64_t ne = kd_numel(d, r);
	char *o = c->out[0].data;
	const char *p = x->data;
	for (int64_t e = 0; e < ne; e++) {
		int64_t off = 0;
		for (int i = 0; i < r; i++)
			off += idx[i] * st[i];
		memcpy(o + (size_t)e * es, p + (size_t)off * es, es);
		kd_next(idx, d, r);
	}
	return 0;
}

static int tile(KCall *c)
{
	const KTensor *x = &c->in[0];
	int64_t rep[K_MAXRANK], d[K_MAXRANK] = {0}, st[K_MAXRANK], idx[K_MAXRANK] = {0};
	int r = x->rank;
	if (!kd_has(c, 1) || kd_ints(&c->in[1], rep, K_MAXRANK) != r)
		return kerr(c, "repeats: expected %d int64 values", r);
	for (int i = 0; i < r; i++) {
		if (rep[i] < 0)
			return kerr(c, "repeats[%d] is negative", i);
		d[i] = x->dims[i] * rep[i];
	}
	if (kout(c, 0, r, d))
		return 1;
	kd_strides(x->dims, r, st);
	size_t es = dt_size(x->dt);
	int64_t ne = kd_numel(d, r);
	char *o = c->out[0].data;
	const char *p = x->data;
	for (int64_t e = 0; e < ne; e++) {
		int64_t off = 0;
		for (int i = 0; i < r; i++)
			off += (idx[i] % x->dims[i]) * st[i];
		memcpy(o + (size_t)e * es, p + (size_t)off * es, es);
		kd_next(idx, d, r);
	}
	return 0;
}

/* strided window copy: out dim i reads input index start[i] + j*step[i] */
static int window(KCall *c, int r, const int64_t *d, const int64_t *start, const int64_t *step,
                  int oi)
{
	const KTensor *x = &c->in[0];
	if (kout(c, oi, r, d))
		return 1;
	int64_t st[K_MAXRANK], idx[K_MAXRANK] = {0};
	kd_strides(x->dims, r, st);
	size_t es = dt_size(x->dt);
	int64_t ne = kd_numel(d, r);
	char *o = c->out[oi].data;
	const char *p = x->data;
	for (int64_t e = 0; e < ne; e++) {
		int64_t off = 0;
		for (int i = 0; i < r; i++)
			off += (start[i] + idx[i] * step[i]) * st[i];
		memcpy(o + (size_t)e * es, p + (size_t)off * es, es);
		kd_next(idx, d, r);
	}
	return 0;
}

static int slice(KCall *c)
{
	const KTensor *x = &c->in[0];
	int r = x->rank, ns, ne, na, nst;
	int64_t sv[K_MAXRANK], ev[K_MAXRANK], av[K_MAXRANK], tv[K_MAXRANK];
	int64_t start[K_MAXRANK], step[K_MAXRANK], d[K_MAXRANK];
	bool opset1 = kattr_i(c, "_opset", 13) < 10;
	if (attr_or_input_ints(c, opset1 ? 99 : 1, "starts", sv, K_MAXRANK, &ns) ||
	    attr_or_input_ints(c, opset1 ? 99 : 2, "ends", ev, K_MAXRANK, &ne) ||
	    attr_or_input_ints(c, opset1 ? 99 : 3, "axes", av, K_MAXRANK, &na))
		return 1;
	nst = 0;
	if (!opset1 && kd_has(c, 4) && (nst = kd_ints(&c->in[4], tv, K_MAXRANK)) < 0)
		return kerr(c, "steps: expected int values");
	if (ns != ne || (na && na != ns) || (nst && nst != ns))
		return kerr(c, "starts, ends, axes and steps differ in length");
	for (int i = 0; i < r; i++) {
		start[i] = 0;
		step[i] = 1;
		d[i] = x->dims[i];
	}
	bool seen[K_MAXRANK] = {false};
	for (int k = 0; k < ns; k++) {
		int a;
		if (!kd_axis(na ? av[k] : k, r, &a) || seen[a])
			return kerr(c, "axis %lld out of range or repeated", (long long)(na ? av[k] : k));
		seen[a] = true;
		int64_t dim = x->dims[a], s = sv[k], e = ev[k], t = nst ? tv[k] : 1;
		if (t == 0)
			return kerr(c, "step 0");
		if (s < 0)
			s = s < -dim ? 0 : s + dim;   /* saturating: s + dim may not overflow */
		if (e < 0)
			e = e < -dim ? -1 : e + dim;
		if (t > 0) {
			s = s < 0 ? 0 : s > dim ? dim : s;
			e = e < 0 ? 0 : e > dim ? dim : e;
			d[a] = e > s ? (e - s + t - 1) / t : 0;
		} else {
			s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
			e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
			d[a] = s > e ? (s - e + (-t) - 1) / (-t) : 0;
		}
		start[a] = s;
		step[a] = t;
	}
	return window(c, r, d, start, step, 0);
}

static int split(KCall *c)
{
	const KTensor *x = &c->in[0];
	int r = x->rank, ax, n;
	int64_t sz[64];
	if (!kd_axis(kattr_i(c, "axis", 0), r, &ax))
		return kerr(c, "axis out of range");
	if (c->nout > 64)
		return kerr(c, "more than 64 outputs");
	bool opset13 = kattr_i(c, "_opset", 13) >= 13;
	if (attr_or_input_ints(c, opset13 ? 1 : 99, "split", sz, 64, &n))
		return 1;
	int64_t dim = x->dims[ax];
	if (n == 0) {
		int64_t q = (dim + c->nout - 1) / c->nout;
		if (dim % c->nout && kattr_i(c, "_opset", 13) < 18)
			return kerr(c, "dim %lld does not split into %d equal parts", (long long)dim, c->nout);
		for (int i = 0; i < c->nout; i++) {
			int64_t left = dim - q * i;
			sz[i] = left < 0 ? 0 : left < q ? left : q;
		}
	} else if (n != c->nout) {
		return kerr(c, "split has %d sizes for %d outputs", n, c->nout);
	}
	int64_t tot = 0;
	for (int i = 0; i < c->nout; i++) {
		if (sz[i] < 0)
			return kerr(c, "split size %lld", (long long)sz[i]);
		tot += sz[i];
	}
	if (tot != dim)
		return kerr(c, "split sizes add up to %lld, dim is %lld", (long long)tot, (long long)dim);
	int64_t start[K_MAXRANK] = {0}, step[K_MAXRANK], d[K_MAXRANK];
	for (int i = 0; i < r; i++) {
		step[i] = 1;
		d[i] = x->dims[i];
	}
	for (int o = 0; o < c->nout; o++) {
		d[ax] = sz[o];
		if (!kd_skip(c, o) && window(c, r, d, start, step, o))
			return 1;
		start[ax] += sz[o];
	}
	return 0;
}

static int pad(KCall *c)
{
	const KTensor *x = &c->in[0];
	int r = x->rank, np;
	int64_t p[2 * K_MAXRANK], pb[K_MAXRANK] = {0}, d[K_MAXRANK];
	bool old = kattr_i(c, "_opset", 11) < 11;
	if (old) {
		const int64_t *a;
		np = kattr_ints(c, "pads", &a);
		if (np > 2 * K_MAXRANK)
			return kerr(c, "too many pads");
		for (int i = 0; i < np; i++)
			p[i] = a[i];
	} else if (!kd_has(c, 1) || (np = kd_ints(&c->in[1], p, 2 * K_MAXRANK)) < 0) {
		return kerr(c, "pads: expected int64 values");
	}
	int64_t ax[K_MAXRANK];
	int na = r;
	if (!old && kd_has(c, 3)) {
		if ((na = kd_ints(&c->in[3], ax, K_MAXRANK)) < 0)
			return kerr(c, "axes: expected int values");
	} else {
		for (int i = 0; i < r; i++)
			ax[i] = i;
	}
	if (np != 2 * na)
		return kerr(c, "%d pads for %d axes", np, na);
	int64_t pe[K_MAXRANK] = {0};
	for (int k = 0; k < na; k++) {
		int a;
		if (!kd_axis(ax[k], r, &a))
			return kerr(c, "axis out of range");
		pb[a] = p[k];
		pe[a] = p[k + na];
	}
	for (int i = 0; i < r; i++)
		if ((d[i] = x->dims[i] + pb[i] + pe[i]) < 0)
			return kerr(c, "pads make dim %d negative", i);
	const char *mode = kattr_s(c, "mode", "constant");
	int m = !strcmp(mode, "constant") ? 0 : !strcmp(mode, "reflect") ? 1 :
	        !strcmp(mode, "edge") ? 2 : !strcmp(mode, "wrap") ? 3 : -1;
	if (m < 0)
		return kerr(c, "mode '%s' unsupported", mode);
	if (kout(c, 0, r, d))
		return 1;
	size_t es = dt_size(x->dt);
	unsigned char cv[16] = {0};
	if (old)
		dt_store_f(x->dt, cv, 0, kattr_f(c, "value", 0));
	else if (kd_has(c, 2) && kt_numel(&c->in[2]) >= 1 && c->in[2].dt == x->dt)
		memcpy(cv, c->in[2].data, es);
	int64_t ne = kd_numel(d, r), st[K_MAXRANK], idx[K_MAXRANK] = {0};
	kd_strides(x->dims, r, st);
	char *o = c->out[0].data;
	const char *src = x->data;
	for (int64_t e = 0; e < ne; e++) {
		int64_t off = 0;
		bool in = true;
		for (int i = 0; i < r && in; i++) {
			int64_t j = idx[i] - pb[i], n = x->dims[i];
			if (j < 0 || j >= n) {
				if (m == 0 || n == 0) {
					in = false;
				} else if (m == 2) {
					j = j < 0 ? 0 : n - 1;
				} else if (m == 3) {
					j %= n;
					j = j < 0 ? j + n : j;
				} else if (n == 1) {
					j = 0;
				} else {
					int64_t per = 2 * (n - 1);
					j %= per;
					j = j < 0 ? j + per : j;
					j = j >= n ? per - j : j;
				}
			}
			off += j * st[i];
		}
		memcpy(o + (size_t)e * es, in ? src + (size_t)off * es : (const char *)cv, es);
		kd_next(idx, d, r);
	}
	return 0;
}

static int range(KCall *c)
{
	const KTensor *s = &c->in[0];
	if (c->nin < 3 || !kd_has(c, 1) || !kd_has(c, 2) || kt_numel(s) != 1 ||
	    kt_numel(&c->in[1]) != 1 || kt_numel(&c->in[2]) != 1)
		return kerr(c, "start, limit and delta must be scalars");
	int dt = s->dt;
	int64_t n;
	if (dt_is_float(dt)) {
		double a = kd_f(s, 0), b = kd_f(&c->in[1], 0), t = kd_f(&c->in[2], 0);
		double q = t == 0 ? NAN : ceil((b - a) / t);
		if (!(q < 1e12))
			return kerr(c, "delta 0 or too many elements");
		n = q > 0 ? (int64_t)q : 0;
		int64_t dims[1] = {n};
		if (kout(c, 0, 1, dims))
			return 1;
		for (int64_t i = 0; i < n; i++)
			dt_store_f(dt, c->out[0].data, (size_t)i, a + (double)i * t);
		return 0;
	}
	int64_t a = kd_i(s, 0), b = kd_i(&c->in[1], 0), t = kd_i(&c->in[2], 0);
	if (t == 0)
		return kerr(c, "delta 0");
	double q = ceil(((double)b - (double)a) / (double)t);
	if (q > 1e12)
		return kerr(c, "too many elements");
	n = q > 0 ? (int64_t)q : 0;
	int64_t dims[1] = {n};
	if (kout(c, 0, 1, dims))
		return 1;
	for (int64_t i = 0; i < n; i++)
		dt_store_i(dt, c->out[0].data, (size_t)i, a + i * t);
	return 0;
}

static int constantofshape(KCall *c)
{
	int64_t d[K_MAXRANK];
	int r = kd_ints(&c->in[0], d, K_MAXRANK);
	if (r < 0 || c->in[0].rank != 1)
		return kerr(c, "input: expected a 1-D int64 shape of at most %d dims", K_MAXRANK);
	for (int i = 0; i < r; i++)
		if (d[i] < 0)
			return kerr(c, "negative dim %lld", (long long)d[i]);
	if (kout(c, 0, r, d))
		return 1;
	KTensor *o = &c->out[0];
	size_t es = dt_size(o->dt);
	unsigned char v[16] = {0};
	const KAttr *a = kattr(c, "value");
	if (a && a->t && a->t->data && a->t->dt == o->dt && kt_numel(a->t) == 1)
		memcpy(v, a->t->data, es);
	else if (a && a->t)
		return kerr(c, "value: expected one element of the output's dtype");
	int64_t ne = kt_numel(o);
	for (int64_t e = 0; e < ne; e++)
		memcpy((char *)o->data + (size_t)e * es, v, es);
	return 0;
}

int kdyn_shape(KCall *c, int *rc)
{
	switch (c->op) {
	case OP_Reshape: *rc = reshape(c); return 0;
	case OP_Squeeze: *rc = squeeze(c); return 0;
	case OP_Unsqueeze: *rc = unsqueeze(c); return 0;
	case OP_Expand: *rc = expand(c); return 0;
	case OP_Tile: *rc = tile(c); return 0;
	case OP_Slice: *rc = slice(c); return 0;
	case OP_Split: *rc = split(c); return 0;
	case OP_Pad: *rc = pad(c); return 0;
	case OP_Range: *rc = range(c); return 0;
	case OP_ConstantOfShape: *rc = constantofshape(c); return 0;
	}
	return 1;
}
