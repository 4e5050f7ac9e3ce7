/* Reference kernels that index with data: Gather*, Scatter*, OneHot, and
 * the ops whose output size depends on the data (Compress, NonZero, Unique,
 * NonMaxSuppression). Every index read from a tensor is bounds-checked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kern.h"
#include "ref_util.h"

static int64_t ival(const KTensor *t, int64_t i) { return dt_load_i(t->dt, t->data, (size_t)i); }

static int has_in(const KCall *c, int i) { return i < c->nin && c->in[i].dt != DT_UNDEF && c->in[i].data; }

/* Read index i of t, wrap a negative one once against dim d, and check it. */
static int get_index(KCall *c, const KTensor *t, int64_t i, int64_t d, int64_t *out)
{
	int64_t v = ival(t, i);
	if (v < 0)
		v += d;
	if (v < 0 || v >= d)
		return kerr(c, "%s: index %lld out of range [-%lld, %lld)", op_names[c->op],
		            (long long)ival(t, i), (long long)d, (long long)d);
	*out = v;
	return 0;
}

static int need_int(KCall *c, int i, const char *what)
{
	if (!dt_is_int(c->in[i].dt))
		return kerr(c, "%s: %s must be an integer tensor, got %s", op_names[c->op], what,
		            dt_name(c->in[i].dt));
	return 0;
}

/* ---- Gather family ----------------------------------------------------- */

int ref_gather(KCall *c)
{
	const KTensor *x = &c->in[0], *ind = &c->in[1];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	int r = x->rank, axis;
	if (r == 0)
		return kerr(c, "Gather: data must have rank >= 1");
	if (need_int(c, 1, "indices") || ref_norm_axis(c, kattr_i(c, "axis", 0), r, &axis))
		return 1;
	int orank = r - 1 + ind->rank;
	if (orank > K_MAXRANK)
		return kerr(c, "Gather: output rank %d exceeds %d", orank, K_MAXRANK);
	int64_t od[K_MAXRANK];
	int k = 0;
	for (int i = 0; i < axis; i++)
		od[k++] = x->dims[i];
	for (int i = 0; i < ind->rank; i++)
		od[k++] = ind->dims[i];
	for (int i = axis + 1; i < r; i++)
		od[k++] = x->dims[i];
	if (kout(c, 0, orank, od))
		return 1;
	size_t es = dt_size(x->dt);
	int64_t outer = ref_prod(x->dims, 0, axis), inner = ref_prod(x->dims, axis + 1, r);
	int64_t d = x->dims[axis], ni = kt_numel(ind);
	size_t row = (size_t)inner * es;
	char *dst = c->out[0].data;
	for (int64_t j = 0; j < ni; j++) {
		int64_t v;
		if (get_index(c, ind, j, d, &v))
			return 1;
		for (int64_t o = 0; o < outer; o++)
			memcpy(dst + (size_t)(o * ni + j) * row,
			       (const char *)x->data + (size_t)(o * d + v) * row, row);
	}
	return 0;
}

int ref_gatherelements(KCall *c)
{
	const KTensor *x = &c->in[0], *ind = &c->in[1];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	int r = x->rank, axis;
	if (need_int(c, 1, "indices") || ref_norm_axis(c, kattr_i(c, "axis", 0), r, &axis))
		return 1;
	if (ind->rank != r)
		return kerr(c, "GatherElements: indices rank %d differs from data rank %d", ind->rank, r);
	for (int k = 0; k < r; k++)
		if (k != axis && ind->dims[k] > x->dims[k])
			return kerr(c, "GatherElements: indices dim %d (%lld) exceeds data dim (%lld)", k,
			            (long long)ind->dims[k], (long long)x->dims[k]);
	if (kout(c, 0, r, ind->dims))
		return 1;
	size_t es = dt_size(x->dt);
	int64_t n = kt_numel(ind), idx[K_MAXRANK] = {0}, ist[K_MAXRANK], s = 1;
	for (int k = r - 1; k >= 0; k--) {
		ist[k] = s;
		s *= x->dims[k];
	}
	char *dst = c->out[0].data;
	for (int64_t e = 0; e < n; e++) {
		int64_t v, off = 0;
		if (get_index(c, ind, e, x->dims[axis], &v))
			return 1;
		for (int k = 0; k < r; k++)
			off += (k == axis ? v : idx[k]) * ist[k];
		memcpy(dst + (size_t)e * es, (const char *)x->data + (size_t)off * es, es);
		for (int k = r - 1; k >= 0; k--) {
			if (++idx[k] < ind->dims[k])
				break;
			idx[k] = 0;
		}
	}
	return 0;
}

/* Shared by GatherND and ScatterND: for index tuple t (0-based among the
 * tuples of `ind`, last dim m), the element offset into data of the slice
 * it selects. `b` leading batch dims; `bsz` elements per data batch. */
static int nd_offset(KCall *c, const KTensor *x, const KTensor *ind, int b, int64_t t,
                     int64_t tuples_per_batch, int64_t *off)
{
	int m = (int)ind->dims[ind->rank - 1];
	int64_t bi = t / tuples_per_batch, o = 0;
	for (int k = 0; k < m; k++) {
		int64_t v = 0;
		if (get_index(c, ind, t * m + k, x->dims[b + k], &v))
			return 1;
		o = o * x->dims[b + k] + v;
	}
	*off = (bi * ref_prod(x->dims, b, b + m) + o) * ref_prod(x->dims, b + m, x->rank);
	return 0;
}

int ref_gathernd(KCall *c)
{
	const KTensor *x = &c->in[0], *ind = &c->in[1];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	int r = x->rank, q = ind->rank;
	int64_t b = kattr_i(c, "batch_dims", 0);
	if (need_int(c, 1, "indices"))
		return 1;
	if (q < 1 || b < 0 || b >= q || b >= r)
		return kerr(c, "GatherND: batch_dims %lld invalid for ranks %d and %d", (long long)b, r, q);
	int64_t m = ind->dims[q - 1];
	if (m < 1 || m > r - b)
		return kerr(c, "GatherND: indices last dim %lld must be in [1, %lld]", (long long)m,
		            (long long)(r - b));
	for (int k = 0; k < b; k++)
		if (ind->dims[k] != x->dims[k])
			return kerr(c, "GatherND: batch dim %d differs (%lld vs %lld)", k,
			            (long long)ind->dims[k], (long long)x->dims[k]);
	int orank = q - 1 + r - (int)b - (int)m;
	if (orank > K_MAXRANK)
		return kerr(c, "GatherND: output rank %d exceeds %d", orank, K_MAXRANK);
	int64_t od[K_MAXRANK];
	int k = 0;
	for (int i = 0; i < q - 1; i++)
		od[k++] = ind->dims[i];
	for (int i = (int)(b + m); i < r; i++)
		od[k++] = x->dims[i];
	if (kout(c, 0, orank, od))
		return 1;
	size_t es = dt_size(x->dt);
	int64_t nt = ref_prod(ind->dims, 0, q - 1), per = ref_prod(ind->dims, (int)b, q - 1);
	size_t slice = (size_t)ref_prod(x->dims, (int)(b + m), r) * es;
	char *dst = c->out[0].data;
	for (int64_t t = 0; t < nt; t++) {
		int64_t off;
		if (nd_offset(c, x, ind, (int)b, t, per, &off))
			return 1;
		memcpy(dst + (size_t)t * slice, (const char *)x->data + (size_t)off * es, slice);
	}
	return 0;
}

/* ---- Scatter family ---------------------------------------------------- */

enum { RD_NONE, RD_ADD, RD_MUL, RD_MAX, RD_MIN };

static int reduction(KCall *c, int *rd)
{
	const char *s = kattr_s(c, "reduction", "none");
	*rd = !strcmp(s, "none") ? RD_NONE : !strcmp(s, "add") ? RD_ADD : !strcmp(s, "mul") ? RD_MUL
	    : !strcmp(s, "max") ? RD_MAX : !strcmp(s, "min") ? RD_MIN : -1;
	if (*rd < 0)
		return kerr(c, "%s: unknown reduction '%s'", op_names[c->op], s);
	return 0;
}

/* Combine element si of updates u into element di of output o. */
static void combine(int rd, KTensor *o, int64_t di, const KTensor *u, int64_t si)
{
	int dt = o->dt;
	if (rd == RD_NONE) {
		size_t es = dt_size(dt);
		memcpy((char *)o->data + di * es, (const char *)u->data + si * es, es);
	} else if (dt_is_float(dt)) {
		double a = dt_load_f(dt, o->data, (size_t)di), b = dt_load_f(dt, u->data, (size_t)si);
		double v = rd == RD_ADD ? a + b : rd == RD_MUL ? a * b : rd == RD_MAX ? (a > b ? a : b)
		         : (a < b ? a : b);
		dt_store_f(dt, o->data, (size_t)di, v);
	} else if (dt == DT_U64) {
		uint64_t a = dt_load_u(dt, o->data, (size_t)di), b = dt_load_u(dt, u->data, (size_t)si);
		uint64_t v = rd == RD_ADD ? a + b : rd == RD_MUL ? a * b : rd == RD_MAX ? (a > b ? a : b)
		           : (a < b ? a : b);
		dt_store_u(dt, o->data, (size_t)di, v);
	} else {
		int64_t a = dt_load_i(dt, o->data, (size_t)di), b = dt_load_i(dt, u->data, (size_t)si);
		int64_t v = rd == RD_ADD ? (int64_t)((uint64_t)a + (uint64_t)b)
		          : rd == RD_MUL ? (int64_t)((uint64_t)a * (uint64_t)b)
		          : rd == RD_MAX ? (a > b ? a : b) : (a < b ? a : b);
		if (dt == DT_BOOL)
			v = rd == RD_ADD ? (a || b) : rd == RD_MUL ? (a && b) : v;
		dt_store_i(dt, o->data, (size_t)di, v);
	}
}

int ref_scatterelements(KCall *c)
{
	const KTensor *x = &c->in[0], *ind = &c->in[1], *u = &c->in[2];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	int r = x->rank, axis, rd;
	if (need_int(c, 1, "indices") || ref_norm_axis(c, kattr_i(c, "axis", 0), r, &axis) ||
	    reduction(c, &rd))
		return 1;
	if (ind->rank != r || u->rank != r || u->dt != x->dt)
		return kerr(c, "%s: data, indices and updates must have equal rank (and updates "
		            "the data type)", op_names[c->op]);
	for (int k = 0; k < r; k++) {
		if (ind->dims[k] != u->dims[k])
			return kerr(c, "%s: indices and updates differ in dim %d", op_names[c->op], k);
		if (k != axis && ind->dims[k] > x->dims[k])
			return kerr(c, "%s: indices dim %d exceeds data dim", op_names[c->op], k);
	}
	if (kout(c, 0, r, x->dims))
		return 1;
	KTensor *o = &c->out[0];
	if (o->data != x->data)
		memcpy(o->data, x->data, kt_nbytes(x));
	int64_t n = kt_numel(ind), idx[K_MAXRANK] = {0}, ist[K_MAXRANK], s = 1;
	for (int k = r - 1; k >= 0; k--) {
		ist[k] = s;
		s *= x->dims[k];
	}
	for (int64_t e = 0; e < n; e++) {
		int64_t v, off = 0;
		if (get_index(c, ind, e, x->dims[axis], &v))
			return 1;
		for (int k = 0; k < r; k++)
			off += (k == axis ? v : idx[k]) * ist[k];
		combine(rd, o, off, u, e);
		for (int k = r - 1; k >= 0; k--) {
			if (++idx[k] < ind->dims[k])
				break;
			idx[k] = 0;
		}
	}
	return 0;
}

int ref_scatternd(KCall *c)
{
	const KTensor *x = &c->in[0], *ind = &c->in[1], *u = &c->in[2];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	int r = x->rank, q = ind->rank, rd;
	if (need_int(c, 1, "indices") || reduction(c, &rd))
		return 1;
	if (q < 1 || ind->dims[q - 1] < 1 || ind->dims[q - 1] > r)
		return kerr(c, "ScatterND: indices last dim must be in [1, %d]", r);
	int m = (int)ind->dims[q - 1];
	if (u->dt != x->dt || u->rank != q - 1 + r - m)
		return kerr(c, "ScatterND: updates must be %s of rank %d", dt_name(x->dt), q - 1 + r - m);
	for (int k = 0; k < u->rank; k++) {
		int64_t want = k < q - 1 ? ind->dims[k] : x->dims[m + k - (q - 1)];
		if (u->dims[k] != want)
			return kerr(c, "ScatterND: updates dim %d is %lld, expected %lld", k,
			            (long long)u->dims[k], (long long)want);
	}
	if (kout(c, 0, r, x->dims))
		return 1;
	KTensor *o = &c->out[0];
	if (o->data != x->data)
		memcpy(o->data, x->data, kt_nbytes(x));
	int64_t nt = ref_prod(ind->dims, 0, q - 1), slice = ref_prod(x->dims, m, r);
	for (int64_t t = 0; t < nt; t++) {
		int64_t off;
		if (nd_offset(c, x, ind, 0, t, nt ? nt : 1, &off))
			return 1;
		for (int64_t j = 0; j < slice; j++)
			combine(rd, o, off + j, u, t * slice + j);
	}
	return 0;
}

/* ---- OneHot ------------------------------------------------------------ */

int ref_onehot(KCall *c)
{
	const KTensor *ind = &c->in[0], *dep = &c->in[1], *val = &c->in[2];
	int r = ind->rank + 1, axis;
	if (r > K_MAXRANK)
		return kerr(c, "OneHot: output rank %d exceeds %d", r, K_MAXRANK);
	if (kt_numel(dep) != 1 || kt_numel(val) != 2)
		return kerr(c, "OneHot: depth must be a scalar and values hold 2 elements");
	if (ref_norm_axis(c, kattr_i(c, "axis", -1), r, &axis))
		return 1;
	double df = dt_load_f(dep->dt, dep->data, 0);
	if (!(df >= 1) || df > 1e9)
		return kerr(c, "OneHot: depth %g must be a positive count", df);
	int64_t depth = (int64_t)df;
	int64_t od[K_MAXRANK];
	for (int k = 0, j = 0; k < r; k++)
		od[k] = k == axis ? depth : ind->dims[j++];
	if (kout(c, 0, r, od))
		return 1;
	KTensor *o = &c->out[0];
	size_t es = dt_size(o->dt);
	unsigned char off[16] = {0}, on[16] = {0};
	if (val->dt == o->dt) {
		memcpy(off, val->data, es);
		memcpy(on, (const char *)val->data + es, es);
	} else {
		dt_store_f(o->dt, off, 0, dt_load_f(val->dt, val->data, 0));
		dt_store_f(o->dt, on, 0, dt_load_f(val->dt, val->data, 1));
	}
	int64_t outer = ref_prod(ind->dims, 0, axis), inner = ref_prod(ind->dims, axis, ind->rank);
	char *d = o->data;
	for (int64_t a = 0; a < outer; a++)
		for (int64_t k = 0; k < depth; k++)
			for (int64_t b = 0; b < inner; b++) {
				int64_t i = a * inner + b;
				double fv = dt_is_float(ind->dt) ? dt_load_f(ind->dt, ind->data, (size_t)i)
				                                  : (double)ival(ind, i);
				int64_t v = fv > -1e18 && fv < 1e18 ? (int64_t)fv : -2 * depth - 1;
				if (v < 0)
					v += depth;
				memcpy(d + (size_t)((a * depth + k) * inner + b) * es, v == k ? on : off, es);
			}
	return 0;
}

/* ---- data-dependent sizes: Compress, NonZero --------------------------- */

static int is_nonzero(const KTensor *t, int64_t i)
{
	if (dt_is_float(t->dt))
		return dt_load_f(t->dt, t->data, (size_t)i) != 0;
	return dt_load_u(t->dt, t->data, (size_t)i) != 0;
}

int ref_compress(KCall *c)
{
	const KTensor *x = &c->in[0], *cond = &c->in[1];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	if (cond->rank != 1)
		return kerr(c, "Compress: condition must be 1-D");
	const KAttr *aa = kattr(c, "axis");
	int flat = !aa, axis = 0, r = flat ? 1 : x->rank;
	int64_t dims[K_MAXRANK];
	if (flat)
		dims[0] = kt_numel(x);
	else {
		if (ref_norm_axis(c, aa->i, x->rank, &axis))
			return 1;
		memcpy(dims, x->dims, sizeof dims);
	}
	int64_t d = dims[axis], nc = cond->dims[0], kept = 0;
	for (int64_t i = 0; i < nc; i++)
		if (is_nonzero(cond, i)) {
			if (i >= d)
				return kerr(c, "Compress: condition selects index %lld past axis size %lld",
				            (long long)i, (long long)d);
			kept++;
		}
	int64_t od[K_MAXRANK];
	memcpy(od, dims, sizeof od);
	od[axis] = kept;
	if (kout(c, 0, r, od))
		return 1;
	size_t es = dt_size(x->dt);
	int64_t outer = ref_prod(dims, 0, axis), inner = ref_prod(dims, axis + 1, r);
	size_t row = (size_t)inner * es;
	char *dst = c->out[0].data;
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < nc && i < d; i++)
			if (is_nonzero(cond, i)) {
				memcpy(dst, (const char *)x->data + (size_t)(o * d + i) * row, row);
				dst += row;
			}
	return 0;
}

int ref_nonzero(KCall *c)
{
	const KTensor *x = &c->in[0];
	int64_t n = kt_numel(x), nz = 0;
	for (int64_t i = 0; i < n; i++)
		nz += is_nonzero(x, i);
	int64_t od[2] = {x->rank, nz};
	if (kout(c, 0, 2, od))
		return 1;
	KTensor *o = &c->out[0];
	int64_t idx[K_MAXRANK] = {0}, j = 0;
	for (int64_t i = 0; i < n; i++) {
		if (is_nonzero(x, i)) {
			for (int k = 0; k < x->rank; k++)
				dt_store_i(o->dt, o->data, (size_t)(k * nz + j), idx[k]);
			j++;
		}
		for (int k = x->rank - 1; k >= 0; k--) {
			if (++idx[k] < x->dims[k])
				break;
			idx[k] = 0;
		}
	}
	return 0;
}

/* ---- Unique ------------------------------------------------------------ */

/* A tensor viewed as `nu` units (slices along an axis, or elements), each of
 * `outer` x `inner` elements: unit u, part o, element i lives at
 * (o * nu + u) * inner + i. */
typedef struct Units {
	const KTensor *t;
	int64_t nu, outer, inner;
} Units;

static int unit_cmp(const Units *v, int64_t a, int64_t b)
{
	int dt = v->t->dt;
	for (int64_t o = 0; o < v->outer; o++)
		for (int64_t i = 0; i < v->inner; i++) {
			size_t ia = (size_t)((o * v->nu + a) * v->inner + i);
			size_t ib = (size_t)((o * v->nu + b) * v->inner + i);
			if (dt_is_float(dt)) {
				double x = dt_load_f(dt, v->t->data, ia), y = dt_load_f(dt, v->t->data, ib);
				if (x != y)
					return x < y ? -1 : 1;
			} else if (dt == DT_U64) {
				uint64_t x = dt_load_u(dt, v->t->data, ia), y = dt_load_u(dt, v->t->data, ib);
				if (x != y)
					return x < y ? -1 : 1;
			} else {
				int64_t x = dt_load_i(dt, v->t->data, ia), y = dt_load_i(dt, v->t->data, ib);
				if (x != y)
					return x < y ? -1 : 1;
			}
		}
	return 0;
}

/* Stable merge sort of unit ids p[0..n) by value. */
static void unit_sort(const Units *v, int64_t *p, int64_t *tmp, int64_t n)
{
	if (n < 2)
		return;
	int64_t h = n / 2;
	unit_sort(v, p, tmp, h);
	unit_sort(v, p + h, tmp, n - h);
	int64_t i = 0, j = h, k = 0;
	while (i < h && j < n)
		tmp[k++] = unit_cmp(v, p[j], p[i]) < 0 ? p[j++] : p[i++];
	while (i < h)
		tmp[k++] = p[i++];
	while (j < n)
		tmp[k++] = p[j++];
	memcpy(p, tmp, sizeof(int64_t) * (size_t)n);
}

int ref_unique(KCall *c)
{
	const KTensor *x = &c->in[0];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	const KAttr *aa = kattr(c, "axis");
	Units v = {x, kt_numel(x), 1, 1};
	int axis = -1;
	if (aa) {
		if (ref_norm_axis(c, aa->i, x->rank, &axis))
			return 1;
		v.nu = x->dims[axis];
		v.outer = ref_prod(x->dims, 0, axis);
		v.inner = ref_prod(x->dims, axis + 1, x->rank);
	}
	int64_t n = v.nu;
	int sorted = kattr_i(c, "sorted", 1) != 0;
	int64_t *ord = malloc(sizeof(int64_t) * (size_t)(4 * n + 1));
	if (!ord)
		return kerr(c, "Unique: out of memory");
	int64_t *tmp = ord + n, *first = tmp + n, *inv = first + n;
	for (int64_t i = 0; i < n; i++)
		ord[i] = i;
	unit_sort(&v, ord, tmp, n);
	/* Group equal runs: each unit's group id in value order, and each
	 * group's first occurrence (smallest id, as the sort is stable). */
	int64_t ng = 0;
	for (int64_t i = 0; i < n; i++) {
		if (i == 0 || unit_cmp(&v, ord[i - 1], ord[i]))
			first[ng++] = ord[i];
		inv[ord[i]] = ng - 1;
	}
	/* Output order: by value (sorted) or by first occurrence. rank[g] is
	 * group g's output position. */
	int64_t *pos = tmp;
	for (int64_t g = 0; g < ng; g++)
		pos[g] = g;
	if (!sorted) {
		/* order groups by first occurrence: walk units in id order */
		int64_t k = 0;
		for (int64_t g = 0; g < ng; g++)
			pos[g] = -1;
		for (int64_t u = 0; u < n; u++)
			if (pos[inv[u]] < 0)
				pos[inv[u]] = k++;
	}
	int64_t od[K_MAXRANK];
	int orank = 1;
	od[0] = ng;
	if (axis >= 0) {
		orank = x->rank;
		memcpy(od, x->dims, sizeof od);
		od[axis] = ng;
	}
	int rc = 0;
	size_t es = dt_size(x->dt);
	if (c->nout > 0 && c->out[0].dt != DT_UNDEF && !(rc = kout(c, 0, orank, od))) {
		char *d = c->out[0].data;
		for (int64_t o = 0; o < v.outer; o++)
			for (int64_t g = 0; g < ng; g++)
				memcpy(d + (size_t)((o * ng + pos[g]) * v.inner) * es,
				       (const char *)x->data + (size_t)((o * n + first[g]) * v.inner) * es,
				       (size_t)v.inner * es);
	}
	for (int oi = 1; oi < 4 && oi < c->nout && !rc; oi++) {
		KTensor *o = &c->out[oi];
		if (o->dt == DT_UNDEF)
			continue;
		int64_t len = oi == 2 ? n : ng;
		if ((rc = kout(c, oi, 1, &len)))
			break;
		if (oi == 1)
			for (int64_t g = 0; g < ng; g++)
				dt_store_i(o->dt, o->data, (size_t)pos[g], first[g]);
		else if (oi == 2)
			for (int64_t u = 0; u < n; u++)
				dt_store_i(o->dt, o->data, (size_t)u, pos[inv[u]]);
		else {
			for (int64_t g = 0; g < ng; g++)
				dt_store_i(o->dt, o->data, (size_t)g, 0);
			for (int64_t u = 0; u < n; u++) {
				size_t p = (size_t)pos[inv[u]];
				dt_store_i(o->dt, o->data, p, dt_load_i(o->dt, o->data, p) + 1);
			}
		}
	}
	free(ord);
	return rc;
}

/* ---- NonMaxSuppression ------------------------------------------------- */

typedef struct Box { double x0, y0, x1, y1; } Box;

static Box get_box(const KTensor *b, int64_t off, int center)
{
	double v[4];
	for (int k = 0; k < 4; k++)
		v[k] = dt_load_f(b->dt, b->data, (size_t)(off + k));
	Box r;
	if (center) {
		r.x0 = v[0] - v[2] / 2;
		r.x1 = v[0] + v[2] / 2;
		r.y0 = v[1] - v[3] / 2;
		r.y1 = v[1] + v[3] / 2;
	} else {
		r.y0 = v[0] < v[2] ? v[0] : v[2];
		r.y1 = v[0] < v[2] ? v[2] : v[0];
		r.x0 = v[1] < v[3] ? v[1] : v[3];
		r.x1 = v[1] < v[3] ? v[3] : v[1];
	}
	return r;
}

/* Whether boxes a and b overlap by more than thr (intersection over union). */
static int suppress(Box a, Box b, double thr)
{
	double ix0 = a.x0 > b.x0 ? a.x0 : b.x0, ix1 = a.x1 < b.x1 ? a.x1 : b.x1;
	double iy0 = a.y0 > b.y0 ? a.y0 : b.y0, iy1 = a.y1 < b.y1 ? a.y1 : b.y1;
	if (ix1 <= ix0 || iy1 <= iy0)
		return 0;
	double inter = (ix1 - ix0) * (iy1 - iy0);
	double aa = (a.x1 - a.x0) * (a.y1 - a.y0), ab = (b.x1 - b.x0) * (b.y1 - b.y0);
	double uni = aa + ab - inter;
	if (inter <= 0 || aa <= 0 || ab <= 0 || uni <= 0)
		return 0;
	return inter / uni > thr;
}

int ref_nms(KCall *c)
{
	const KTensor *bx = &c->in[0], *sc = &c->in[1];
	if (bx->rank != 3 || bx->dims[2] != 4 || sc->rank != 3 || sc->dims[0] != bx->dims[0] ||
	    sc->dims[2] != bx->dims[1])
		return kerr(c, "NonMaxSuppression: boxes must be [B,N,4] and scores [B,C,N]");
	int64_t B = bx->dims[0], N = bx->dims[1], C = sc->dims[1];
	int64_t maxo = has_in(c, 2) && kt_numel(&c->in[2]) ? ival(&c->in[2], 0) : 0;
	double iou = has_in(c, 3) && kt_numel(&c->in[3])
	           ? dt_load_f(c->in[3].dt, c->in[3].data, 0) : 0;
	int has_st = has_in(c, 4) && kt_numel(&c->in[4]);
	double st = has_st ? dt_load_f(c->in[4].dt, c->in[4].data, 0) : 0;
	int center = kattr_i(c, "center_point_box", 0) != 0;
	if (maxo < 0)
		maxo = 0;
	int64_t cap = B * C * (maxo < N ? maxo : N);
	int64_t *sel = malloc(sizeof(int64_t) * (size_t)(3 * cap + 2 * N + 1));
	if (!sel)
		return kerr(c, "NonMaxSuppression: out of memory");
	int64_t *cand = sel + 3 * cap, *tmp = cand + N, ns = 0;
	for (int64_t b = 0; b < B; b++)
		for (int64_t cl = 0; cl < C; cl++) {
			int64_t base = (b * C + cl) * N, nc = 0;
			for (int64_t i = 0; i < N; i++)
				if (!has_st || dt_load_f(sc->dt, sc->data, (size_t)(base + i)) > st)
					cand[nc++] = i;
			/* stable insertion order by descending score (ties: lower index) */
			for (int64_t i = 1; i < nc; i++) {
				int64_t v = cand[i], j = i;
				double s = dt_load_f(sc->dt, sc->data, (size_t)(base + v));
				while (j > 0 && dt_load_f(sc->dt, sc->data, (size_t)(base + cand[j - 1])) < s) {
					cand[j] = cand[j - 1];
					j--;
				}
				cand[j] = v;
			}
			int64_t nsel = 0;
			for (int64_t i = 0; i < nc && nsel < maxo; i++) {
				Box a = get_box(bx, (b * N + cand[i]) * 4, center);
				int ok = 1;
				for (int64_t j = 0; j < nsel && ok; j++)
					ok = !suppress(a, get_box(bx, (b * N + tmp[j]) * 4, center), iou);
				if (ok) {
					tmp[nsel++] = cand[i];
					sel[3 * ns] = b;
					sel[3 * ns + 1] = cl;
					sel[3 * ns + 2] = cand[i];
					ns++;
				}
			}
		}
	int64_t od[2] = {ns, 3};
	int rc = kout(c, 0, 2, od);
	if (!rc)
		for (int64_t i = 0; i < 3 * ns; i++)
			dt_store_i(c->out[0].dt, c->out[0].data, (size_t)i, sel[i]);
	free(sel);
	return rc;
}

/* ---- GridSample -------------------------------------------------------- */

typedef struct GS {
	const KTensor *x;
	int ns, pad;                       /* spatial rank; 0 zeros 1 border 2 reflection */
	const int64_t *dims;               /* spatial dims */
	double bmin[K_MAXRANK], bmax[K_MAXRANK];
	int64_t base, st[K_MAXRANK];       /* offset of this (n, c) plane; strides */
} GS;

static double gs_reflect(double x, double lo, double hi)
{
	double rng = hi - lo;
	if (rng <= 0)
		return lo;
	if (x < lo) {
		double dx = lo - x;
		int64_t n = (int64_t)(dx / rng);
		double r = dx - (double)n * rng;
		return n % 2 == 0 ? lo + r : hi - r;
	}
	if (x > hi) {
		double dx = x - hi;
		int64_t n = (int64_t)(dx / rng);
		double r = dx - (double)n * rng;
		return n % 2 == 0 ? hi - r : lo + r;
	}
	return x;
}

/* Pixel at integer coordinates ix (per spatial axis), with padding. */
static double gs_pixel(const GS *g, const int64_t *ix)
{
	int64_t off = g->base;
	for (int k = 0; k < g->ns; k++) {
		int64_t i = ix[k], d = g->dims[k];
		if (g->pad == 0 && (i < 0 || i >= d))
			return 0;
		if (g->pad == 1)
			i = i < 0 ? 0 : i >= d ? d - 1 : i;
		else if (g->pad == 2) {
			i = (int64_t)gs_reflect((double)i, g->bmin[k], g->bmax[k]);
			i = i < 0 ? 0 : i >= d ? d - 1 : i;
		}
		off += i * g->st[k];
	}
	return dt_load_f(g->x->dt, g->x->data, (size_t)off);
}

static double gs_cubic(double t, int j)
{
	const double a = -0.75;
	double d = fabs(t + 1 - j);   /* distance of tap j (at floor-1+j) from x */
	if (d <= 1)
		return ((a + 2) * d - (a + 3)) * d * d + 1;
	if (d < 2)
		return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
	return 0;
}

/* Sum over the taps of axes k.. of the interpolation at coordinates xs. */
static double gs_interp(const GS *g, int mode, const double *xs, int k, int64_t *ix)
{
	if (k == g->ns)
		return gs_pixel(g, ix);
	double f = floor(xs[k]), t = xs[k] - f, acc = 0;
	int n = mode == 1 ? 2 : 4;
	for (int j = 0; j < n; j++) {
		double w = mode == 1 ? (j ? t : 1 - t) : gs_cubic(t, j);
		if (w == 0)
			continue;
		ix[k] = (int64_t)f + (mode == 1 ? j : j - 1);
		acc += w * gs_interp(g, mode, xs, k + 1, ix);
	}
	return acc;
}

int ref_gridsample(KCall *c)
{
	const KTensor *x = &c->in[0], *gr = &c->in[1];
	int r = x->rank, ns = r - 2;
	if (r < 3 || gr->rank != r || gr->dims[0] != x->dims[0] || gr->dims[r - 1] != ns)
		return kerr(c, "GridSample: X must be [N,C,spatial...] and grid [N,out...,%d]", ns);
	const char *ms = kattr_s(c, "mode", kattr_i(c, "_opset", 20) >= 20 ? "linear" : "bilinear");
	const char *ps = kattr_s(c, "padding_mode", "zeros");
	int mode = !strcmp(ms, "nearest") ? 0 : !strcmp(ms, "linear") || !strcmp(ms, "bilinear") ? 1
	         : !strcmp(ms, "cubic") || !strcmp(ms, "bicubic") ? 2 : -1;
	int pad = !strcmp(ps, "zeros") ? 0 : !strcmp(ps, "border") ? 1
	        : !strcmp(ps, "reflection") ? 2 : -1;
	if (mode < 0 || pad < 0)
		return kerr(c, "GridSample: unsupported mode '%s' or padding_mode '%s'", ms, ps);
	int align = kattr_i(c, "align_corners", 0) != 0;
	int64_t od[K_MAXRANK];
	od[0] = x->dims[0];
	od[1] = x->dims[1];
	for (int k = 0; k < ns; k++)
		od[k + 2] = gr->dims[k + 1];
	if (kout(c, 0, r, od))
		return 1;
	GS g = {x, ns, pad, x->dims + 2, {0}, {0}, 0, {0}};
	int64_t s = 1;
	for (int k = ns - 1; k >= 0; k--) {
		g.st[k] = s;
		s *= g.dims[k];
		g.bmin[k] = align ? 0 : -0.5;
		g.bmax[k] = align ? (double)g.dims[k] - 1 : (double)g.dims[k] - 0.5;
	}
	int64_t N = x->dims[0], C = x->dims[1], P = ref_prod(od, 2, r), plane = s;
	KTensor *o = &c->out[0];
	for (int64_t n = 0; n < N; n++)
		for (int64_t p = 0; p < P; p++) {
			double xs[K_MAXRANK];
			for (int k = 0; k < ns; k++) {
				/* grid's last dim lists coordinates innermost axis first */
				double v = dt_load_f(gr->dt, gr->data, (size_t)((n * P + p) * ns + (ns - 1 - k)));
				double d = (double)g.dims[k];
				v = align ? (v + 1) / 2 * (d - 1) : ((v + 1) * d - 1) / 2;
				if (v != v)
					v = -1e15;
				v = v < -1e15 ? -1e15 : v > 1e15 ? 1e15 : v;
				if (mode == 0)
					v = nearbyint(v);
				if (v < g.bmin[k] || v > g.bmax[k]) {
					if (pad == 1)
						v = v < 0 ? 0 : v > d - 1 ? d - 1 : v;
					else if (pad == 2)
						v = gs_reflect(v, g.bmin[k], g.bmax[k]);
				}
				xs[k] = v;
			}
			for (int64_t ch = 0; ch < C; ch++) {
				int64_t ix[K_MAXRANK];
				g.base = (n * C + ch) * plane;
				double v;
				if (mode == 0) {
					for (int k = 0; k < ns; k++)
						ix[k] = (int64_t)xs[k];
					v = gs_pixel(&g, ix);
				} else
					v = gs_interp(&g, mode, xs, 0, ix);
				dt_store_f(o->dt, o->data, (size_t)((n * C + ch) * P + p), v);
			}
		}
	return 0;
}
