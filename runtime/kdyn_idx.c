/* Library kernels (runtime/kdyn.h) of the index ops: GatherND, Scatter /
 * ScatterElements, ScatterND, TopK, Unique, MaxUnpool. Every data-given
 * index is range-checked (negative ones count from the end). */
#include <stdlib.h>
#include "kdyn_int.h"

/* combine the element at dst with v under reduction red (0 none, 1 add,
 * 2 mul, 3 max, 4 min) */
static void reduce_store(int dt, void *dst, size_t di, const void *src, size_t si, int red)
{
	size_t es = dt_size(dt);
	if (red == 0) {
		memcpy((char *)dst + di * es, (const char *)src + si * es, es);
		return;
	}
	if (dt_is_float(dt)) {
		double a = dt_load_f(dt, dst, di), b = dt_load_f(dt, src, si);
		double v = red == 1 ? a + b : red == 2 ? a * b : red == 3 ? (a > b ? a : b) : (a < b ? a : b);
		dt_store_f(dt, dst, di, v);
	} else if (dt == DT_U64) {
		uint64_t a = dt_load_u(dt, dst, di), b = dt_load_u(dt, src, si);
		uint64_t v = red == 1 ? a + b : red == 2 ? a * b : red == 3 ? (a > b ? a : b) : (a < b ? a : b);
		dt_store_u(dt, dst, di, v);
	} else {
		int64_t a = dt_load_i(dt, dst, di), b = dt_load_i(dt, src, si);
		int64_t v = red == 1 ? (int64_t)((uint64_t)a + (uint64_t)b) :
		            red == 2 ? (int64_t)((uint64_t)a * (uint64_t)b) :
		            red == 3 ? (a > b ? a : b) : (a < b ? a : b);
		dt_store_i(dt, dst, di, v);
	}
}

static int reduction(KCall *c, int *red)
{
	const char *s = kattr_s(c, "reduction", "none");
	*red = !strcmp(s, "none") ? 0 : !strcmp(s, "add") ? 1 : !strcmp(s, "mul") ? 2 :
	       !strcmp(s, "max") ? 3 : !strcmp(s, "min") ? 4 : -1;
	return *red < 0 ? kerr(c, "reduction '%s' unsupported", s) : 0;
}

/* a data-given index into a dim of size n, or -1 */
static int64_t fix_index(int64_t v, int64_t n)
{
	v = v < 0 ? v + n : v;
	return v < 0 || v >= n ? -1 : v;
}

static int gathernd(KCall *c)
{
	const KTensor *x = &c->in[0], *ix = &c->in[1];
	int r = x->rank, q = ix->rank;
	int64_t bd = kattr_i(c, "batch_dims", 0);
	if (!kd_has(c, 1) || q < 1 || bd < 0 || bd >= q || bd >= r)
		return kerr(c, "indices rank or batch_dims out of range");
	int64_t last = ix->dims[q - 1];
	if (last < 1 || bd + last > r)
		return kerr(c, "indices' last dim %lld too large", (long long)last);
	for (int i = 0; i < bd; i++)
		if (ix->dims[i] != x->dims[i])
			return kerr(c, "batch dim %d differs", i);
	int64_t d[K_MAXRANK];
	int orank = q - 1 + r - (int)(bd + last);
	if (orank > K_MAXRANK)
		return kerr(c, "output rank too large");
	for (int i = 0; i < q - 1; i++)
		d[i] = ix->dims[i];
	for (int i = (int)(bd + last); i < r; i++)
		d[q - 1 + i - (int)(bd + last)] = x->dims[i];
	if (kout(c, 0, orank, d))
		return 1;
	int64_t st[K_MAXRANK], slice = 1, nb = 1, per = 1;
	kd_strides(x->dims, r, st);
	for (int i = (int)(bd + last); i < r; i++)
		slice *= x->dims[i];
	for (int i = 0; i < bd; i++)
		nb *= ix->dims[i];
	for (int i = (int)bd; i < q - 1; i++)
		per *= ix->dims[i];
	size_t es = dt_size(x->dt);
	char *o = c->out[0].data;
	for (int64_t b = 0; b < nb; b++)
		for (int64_t t = 0; t < per; t++) {
			int64_t tup = (b * per + t) * last, off = 0, rem = b;
			for (int i = (int)bd - 1; i >= 0; i--) {   /* batch offset */
				off += (rem % x->dims[i]) * st[i];
				rem /= x->dims[i];
			}
			for (int64_t k = 0; k < last; k++) {
				int64_t v = fix_index(kd_i(ix, tup + k), x->dims[bd + k]);
				if (v < 0)
					return kerr(c, "index %lld out of range", (long long)kd_i(ix, tup + k));
				off += v * st[bd + k];
			}
			memcpy(o + (size_t)((b * per + t) * slice) * es, (const char *)x->data + (size_t)off * es,
			       (size_t)slice * es);
		}
	return 0;
}

static int scatterelements(KCall *c)
{
	const KTensor *x = &c->in[0], *ix = &c->in[1], *u = &c->in[2];
	int r = x->rank, ax, red = 0;
	if (c->nin < 3 || !kd_has(c, 1) || !kd_has(c, 2) || ix->rank != r || u->rank != r ||
	    !kd_axis(kattr_i(c, "axis", 0), r, &ax) || u->dt != x->dt)
		return kerr(c, "indices/updates must match data's rank, axis in range");
	for (int i = 0; i < r; i++)
		if (ix->dims[i] != u->dims[i])
			return kerr(c, "indices and updates differ in shape");
	if (c->op == OP_ScatterElements && reduction(c, &red))
		return 1;
	if (kout(c, 0, r, x->dims))
		return 1;
	memmove(c->out[0].data, x->data, kt_nbytes(x));
	int64_t st[K_MAXRANK], idx[K_MAXRANK] = {0}, ne = kt_numel(ix);
	kd_strides(x->dims, r, st);
	for (int64_t e = 0; e < ne; e++) {
		int64_t off = 0;
		for (int i = 0; i < r; i++) {
			int64_t v = idx[i];
			if (i == ax && (v = fix_index(kd_i(ix, e), x->dims[i])) < 0)
				return kerr(c, "index %lld out of range", (long long)kd_i(ix, e));
			if (i != ax && v >= x->dims[i])
				return kerr(c, "indices larger than data");
			off += v * st[i];
		}
		reduce_store(x->dt, c->out[0].data, (size_t)off, u->data, (size_t)e, red);
		kd_next(idx, ix->dims, r);
	}
	return 0;
}

static int scatternd(KCall *c)
{
	const KTensor *x = &c->in[0], *ix = &c->in[1], *u = &c->in[2];
	int r = x->rank, q = ix->rank, red;
	if (c->nin < 3 || !kd_has(c, 1) || !kd_has(c, 2) || q < 1 || u->dt != x->dt)
		return kerr(c, "bad indices/updates");
	if (reduction(c, &red))
		return 1;
	int64_t last = ix->dims[q - 1];
	if (last < 1 || last > r || u->rank != q - 1 + r - last)
		return kerr(c, "updates' rank does not match");
	int64_t st[K_MAXRANK], slice = 1, nu = 1;
	kd_strides(x->dims, r, st);
	for (int i = (int)last; i < r; i++)
		slice *= x->dims[i];
	for (int i = 0; i < q - 1; i++)
		nu *= ix->dims[i];
	if (kt_numel(u) != nu * slice)
		return kerr(c, "updates have the wrong size");
	if (kout(c, 0, r, x->dims))
		return 1;
	memmove(c->out[0].data, x->data, kt_nbytes(x));
	for (int64_t t = 0; t < nu; t++) {
		int64_t off = 0;
		for (int64_t k = 0; k < last; k++) {
			int64_t v = fix_index(kd_i(ix, t * last + k), x->dims[k]);
			if (v < 0)
				return kerr(c, "index %lld out of range", (long long)kd_i(ix, t * last + k));
			off += v * st[k];
		}
		for (int64_t s = 0; s < slice; s++)
			reduce_store(x->dt, c->out[0].data, (size_t)(off + s), u->data, (size_t)(t * slice + s), red);
	}
	return 0;
}

/* Stable merge sort of a[0..n) by cmp(u, x, y) < 0 ("x before y"); tmp
 * holds n elements. No globals: models run concurrently. */
typedef int (*kd_cmp)(const void *u, int64_t x, int64_t y);

static void msort(int64_t *a, int64_t n, kd_cmp cmp, const void *u, int64_t *tmp)
{
	if (n < 2)
		return;
	int64_t h = n / 2;
	msort(a, h, cmp, u, tmp);
	msort(a + h, n - h, cmp, u, tmp);
	int64_t i = 0, j = h, k = 0;
	while (i < h && j < n)
		tmp[k++] = cmp(u, a[j], a[i]) < 0 ? a[j++] : a[i++];
	while (i < h)
		tmp[k++] = a[i++];
	while (j < n)
		tmp[k++] = a[j++];
	memcpy(a, tmp, (size_t)n * sizeof *a);
}

/* ---- TopK --------------------------------------------------------------- */
typedef struct { const KTensor *x; int64_t base, inner; int largest; } topk_ctx;

static int topk_cmp(const void *u, int64_t x, int64_t y)
{
	const topk_ctx *t = u;
	int s = kd_cmp_at(t->x, t->base + x * t->inner, t->base + y * t->inner);
	return t->largest ? -s : s;
}

static int topk(KCall *c)
{
	const KTensor *x = &c->in[0];
	int r = x->rank, ax;
	int64_t k;
	if (kattr_i(c, "_opset", 11) < 10)
		k = kattr_i(c, "k", -1);
	else if (!kd_has(c, 1) || kt_numel(&c->in[1]) != 1)
		return kerr(c, "K must be a 1-element tensor");
	else
		k = kd_i(&c->in[1], 0);
	if (!kd_axis(kattr_i(c, "axis", -1), r, &ax) || k < 0 || k > x->dims[ax])
		return kerr(c, "axis out of range or k (%lld) not in [0, dim]", (long long)k);
	int largest = kattr_i(c, "largest", 1) != 0;
	int64_t d[K_MAXRANK], n = x->dims[ax], inner = 1, outer = 1;
	memcpy(d, x->dims, sizeof d);
	d[ax] = k;
	for (int i = ax + 1; i < r; i++)
		inner *= x->dims[i];
	for (int i = 0; i < ax; i++)
		outer *= x->dims[i];
	if ((!kd_skip(c, 0) && kout(c, 0, r, d)) || (!kd_skip(c, 1) && kout(c, 1, r, d)))
		return 1;
	int64_t *ord = malloc((size_t)(n ? n : 1) * 2 * sizeof *ord);
	if (!ord)
		return kerr(c, "out of memory");
	topk_ctx tc = {x, 0, inner, largest};
	size_t es = dt_size(x->dt);
	for (int64_t a = 0; a < outer; a++)
		for (int64_t b = 0; b < inner; b++) {
			tc.base = a * n * inner + b;
			for (int64_t t = 0; t < n; t++)
				ord[t] = t;
			msort(ord, n, topk_cmp, &tc, ord + n);
			for (int64_t t = 0; t < k; t++) {
				size_t e = (size_t)((a * k + t) * inner + b);
				if (!kd_skip(c, 0))
					memcpy((char *)c->out[0].data + e * es,
					       (const char *)x->data + (size_t)((a * n + ord[t]) * inner + b) * es, es);
				if (!kd_skip(c, 1))
					dt_store_i(c->out[1].dt, c->out[1].data, e, ord[t]);
			}
		}
	free(ord);
	return 0;
}

/* ---- Unique ------------------------------------------------------------- */
typedef struct { const KTensor *x; int64_t n, inner, outer; } uq_ctx;

/* compare slices a and b along the axis (lexicographic over outer, inner) */
static int uq_cmp(const void *u, int64_t a, int64_t b)
{
	const uq_ctx *q = u;
	for (int64_t o = 0; o < q->outer; o++)
		for (int64_t i = 0; i < q->inner; i++) {
			int s = kd_cmp_at(q->x, (o * q->n + a) * q->inner + i, (o * q->n + b) * q->inner + i);
			if (s)
				return s;
		}
	return 0;
}

static int unique(KCall *c)
{
	const KTensor *x = &c->in[0];
	const KAttr *aa = kattr(c, "axis");
	int r = x->rank, ax = -1;
	if (aa && !kd_axis(aa->i, r, &ax))
		return kerr(c, "axis out of range");
	uq_ctx q = {x, ax < 0 ? kt_numel(x) : x->dims[ax], 1, 1};
	for (int i = ax + 1; ax >= 0 && i < r; i++)
		q.inner *= x->dims[i];
	for (int i = 0; i < ax; i++)
		q.outer *= x->dims[i];
	int64_t n = q.n;
	int64_t *ord = malloc((size_t)(n ? n : 1) * sizeof *ord * 4);
	if (!ord)
		return kerr(c, "out of memory");
	int64_t *grp = ord + n, *first = ord + 2 * n;   /* grp: slice -> unique id (sorted order) */
	for (int64_t i = 0; i < n; i++)
		ord[i] = i;
	msort(ord, n, uq_cmp, &q, ord + 3 * n);
	int64_t nu = 0;
	for (int64_t i = 0; i < n; i++) {
		if (i == 0 || uq_cmp(&q, ord[i - 1], ord[i]))
			first[nu++] = ord[i];   /* ord sorted stably: first index of each group */
		grp[ord[i]] = nu - 1;
	}
	/* unique ids in output order: sorted, or by first occurrence */
	bool sorted = kattr_i(c, "sorted", 1) != 0;
	int64_t *rank_of = malloc((size_t)(nu ? nu : 1) * sizeof *rank_of * 2);
	if (!rank_of) {
		free(ord);
		return kerr(c, "out of memory");
	}
	int64_t *out_src = rank_of + nu;   /* output position -> first index */
	if (sorted) {
		for (int64_t u = 0; u < nu; u++) {
			rank_of[u] = u;
			out_src[u] = first[u];
		}
	} else {
		int64_t m = 0;
		for (int64_t u = 0; u < nu; u++)
			rank_of[u] = -1;
		for (int64_t i = 0; i < n; i++)
			if (rank_of[grp[i]] < 0) {
				rank_of[grp[i]] = m;
				out_src[m++] = i;
			}
	}
	int rc = 0;
	size_t es = dt_size(x->dt);
	if (!kd_skip(c, 0)) {
		int64_t d[K_MAXRANK];
		int orank = ax < 0 ? 1 : r;
		if (ax < 0)
			d[0] = nu;
		else {
			memcpy(d, x->dims, sizeof d);
			d[ax] = nu;
		}
		if ((rc = kout(c, 0, orank, d)))
			goto done;
		for (int64_t o = 0; o < q.outer; o++)
			for (int64_t u = 0; u < nu; u++)
				memcpy((char *)c->out[0].data + (size_t)((o * nu + u) * q.inner) * es,
				       (const char *)x->data + (size_t)((o * n + out_src[u]) * q.inner) * es,
				       (size_t)q.inner * es);
	}
	int64_t d1[1] = {nu}, dn[1] = {n};
	if (!kd_skip(c, 1)) {
		if ((rc = kout(c, 1, 1, d1)))
			goto done;
		for (int64_t u = 0; u < nu; u++)
			dt_store_i(c->out[1].dt, c->out[1].data, (size_t)u, out_src[u]);
	}
	if (!kd_skip(c, 2)) {
		if ((rc = kout(c, 2, 1, dn)))
			goto done;
		for (int64_t i = 0; i < n; i++)
			dt_store_i(c->out[2].dt, c->out[2].data, (size_t)i, rank_of[grp[i]]);
	}
	if (!kd_skip(c, 3)) {
		if ((rc = kout(c, 3, 1, d1)))
			goto done;
		for (int64_t u = 0; u < nu; u++)
			dt_store_i(c->out[3].dt, c->out[3].data, (size_t)u, 0);
		for (int64_t i = 0; i < n; i++) {
			size_t p = (size_t)rank_of[grp[i]];
			dt_store_i(c->out[3].dt, c->out[3].data, p, dt_load_i(c->out[3].dt, c->out[3].data, p) + 1);
		}
	}
done:
	free(ord);
	free(rank_of);
	return rc;
}

static int maxunpool(KCall *c)
{
	const KTensor *x = &c->in[0], *ix = &c->in[1];
	int r = x->rank, ns = r - 2;
	if (!kd_has(c, 1) || r < 3 || ix->rank != r || kt_numel(ix) != kt_numel(x))
		return kerr(c, "X and I must have the same shape, rank >= 3");
	const int64_t *ks, *pads, *strides;
	int nk = kattr_ints(c, "kernel_shape", &ks), np = kattr_ints(c, "pads", &pads);
	int nst = kattr_ints(c, "strides", &strides);
	if (nk != ns || (np && np != 2 * ns) || (nst && nst != ns))
		return kerr(c, "kernel_shape/pads/strides do not match the spatial rank");
	/* X scatters into the inferred shape di; an output_shape input
	 * zero-extends that at the end of each dim (the indices keep their
	 * meaning in di, as the ONNX reference does) */
	int64_t di[K_MAXRANK], d[K_MAXRANK];
	di[0] = x->dims[0];
	di[1] = x->dims[1];
	for (int i = 0; i < ns; i++)
		di[2 + i] = (x->dims[2 + i] - 1) * (nst ? strides[i] : 1) + ks[i] -
		            (np ? pads[i] + pads[i + ns] : 0);
	memcpy(d, di, sizeof d);
	if (kd_has(c, 2) && kd_ints(&c->in[2], d, K_MAXRANK) != r)
		return kerr(c, "output_shape must have %d values", r);
	for (int i = 0; i < r; i++)
		if (di[i] < 0 || d[i] < di[i])
			return kerr(c, "output dim %d (%lld) negative or smaller than %lld", i, (long long)d[i],
			            (long long)di[i]);
	if (kout(c, 0, r, d))
		return 1;
	size_t es = dt_size(x->dt);
	int64_t on = kt_numel(&c->out[0]), ni = kd_numel(di, r), ne = kt_numel(x), st[K_MAXRANK];
	kd_strides(d, r, st);
	memset(c->out[0].data, 0, (size_t)on * es);
	for (int64_t e = 0; e < ne; e++) {
		int64_t v = kd_i(ix, e), off = 0;
		if (v < 0 || v >= ni)
			return kerr(c, "index %lld out of range", (long long)v);
		for (int i = r - 1; i >= 0; i--) {
			off += (v % di[i]) * st[i];
			v /= di[i];
		}
		memcpy((char *)c->out[0].data + (size_t)off * es, (const char *)x->data + (size_t)e * es, es);
	}
	return 0;
}

int kdyn_index(KCall *c, int *rc)
{
	switch (c->op) {
	case OP_GatherND: *rc = gathernd(c); return 0;
	case OP_Scatter: case OP_ScatterElements: *rc = scatterelements(c); return 0;
	case OP_ScatterND: *rc = scatternd(c); return 0;
	case OP_TopK: *rc = topk(c); return 0;
	case OP_Unique: *rc = unique(c); return 0;
	case OP_MaxUnpool: *rc = maxunpool(c); return 0;
	}
	return 1;
}
