/* Reference kernels, family A (along axes): ArgMax/ArgMin, the Reduce* ops,
 * CumSum, Softmax/LogSoftmax/Hardmax and TopK. Floats compute in double,
 * integers exactly in int64/uint64. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "kern.h"
#include "ref_util.h"

enum { CF, CI, CU };   /* value class: float, signed int, unsigned or bool */

static int vclass(int dt)
{
	return dt_is_float(dt) ? CF : dt_is_signed(dt) ? CI : CU;
}

static int need_out(KCall *c, int i)
{
	if (i >= c->nout || dt_size(c->out[i].dt) == 0)
		return kerr(c, "%s: output %d missing or of unsupported type", op_names[c->op], i);
	return 0;
}

/* Normalise axis *a against rank r (negative counts from the end). */
static int norm_axis(KCall *c, int64_t *a, int r)
{
	if (*a < -r || *a >= r)
		return kerr(c, "%s: axis %lld out of range for rank %d", op_names[c->op], (long long)*a, r);
	if (*a < 0)
		*a += r;
	return 0;
}

/* Split t around axis: outer (dims before), n (the axis), inner (after). */
static void split3(const KTensor *t, int axis, int64_t *outer, int64_t *n, int64_t *inner)
{
	*outer = *inner = 1;
	for (int d = 0; d < axis; d++)
		*outer *= t->dims[d];
	for (int d = axis + 1; d < t->rank; d++)
		*inner *= t->dims[d];
	*n = t->dims[axis];
}

/* Compare elements i and j of one buffer of type dt: -1, 0, 1. NaN orders
 * above everything (and equal to NaN), so sorts and argmax are total. */
static int ecmp(int dt, const void *p, int64_t i, int64_t j)
{
	switch (vclass(dt)) {
	case CF: {
		double a = dt_load_f(dt, p, i), b = dt_load_f(dt, p, j);
		if (isnan(a) || isnan(b))
			return isnan(a) - isnan(b);
		return (a > b) - (a < b);
	}
	case CI: {
		int64_t a = dt_load_i(dt, p, i), b = dt_load_i(dt, p, j);
		return (a > b) - (a < b);
	}
	default: {
		uint64_t a = dt_load_u(dt, p, i), b = dt_load_u(dt, p, j);
		return (a > b) - (a < b);
	}
	}
}

/* Copy element i of (sdt, s) to element j of (ddt, d) through its class. */
static void ecopy(int ddt, void *d, int64_t j, int sdt, const void *s, int64_t i)
{
	switch (vclass(sdt)) {
	case CF: dt_store_f(ddt, d, j, dt_load_f(sdt, s, i)); break;
	case CI: dt_store_i(ddt, d, j, dt_load_i(sdt, s, i)); break;
	default: dt_store_u(ddt, d, j, dt_load_u(sdt, s, i)); break;
	}
}

/* ---- ArgMax / ArgMin --------------------------------------------------- */

/* Index (int64) of the first (or, select_last_index, last) extreme element
 * along `axis`. */
int ref_argreduce(KCall *c)
{
	if (ref_need_in(c, 0) || need_out(c, 0))
		return 1;
	const KTensor *x = &c->in[0];
	int64_t axis = kattr_i(c, "axis", 0);
	int keep = kattr_i(c, "keepdims", 1) != 0;
	int last = kattr_i(c, "select_last_index", 0) != 0;
	int sgn = c->op == OP_ArgMax ? 1 : -1;
	if (norm_axis(c, &axis, x->rank))
		return 1;
	int64_t outer, n, inner, dims[K_MAXRANK];
	split3(x, (int)axis, &outer, &n, &inner);
	if (n == 0)
		return kerr(c, "%s: axis %lld has size 0", op_names[c->op], (long long)axis);
	int r = 0;
	for (int d = 0; d < x->rank; d++)
		if (d != axis || keep)
			dims[r++] = d == axis ? 1 : x->dims[d];
	if (kout(c, 0, r, dims))
		return 1;
	KTensor *y = &c->out[0];
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			int64_t base = o * n * inner + i, best = 0;
			for (int64_t k = 1; k < n; k++) {
				int cm = sgn * ecmp(x->dt, x->data, base + k * inner, base + best * inner);
				if (cm > 0 || (cm == 0 && last))
					best = k;
			}
			dt_store_i(y->dt, y->data, o * inner + i, best);
		}
	return 0;
}

/* ---- Reduce* ----------------------------------------------------------- */

/* Offsets (input elements) of every index over the axes with red[d] == want,
 * the other axes at 0, in row-major order. */
static void enum_offs(const KTensor *t, const int64_t *st, const char *red, int want, int64_t *out)
{
	int64_t idx[K_MAXRANK] = {0}, off = 0, k = 0;
	for (;;) {
		out[k++] = off;
		int d;
		for (d = t->rank - 1; d >= 0; d--) {
			if (red[d] != want)
				continue;
			idx[d]++;
			off += st[d];
			if (idx[d] < t->dims[d])
				break;
			off -= st[d] * t->dims[d];
			idx[d] = 0;
		}
		if (d < 0)
			return;
	}
}

/* Which axes to reduce into red[]: from input 1 if given, else the `axes`
 * attribute; none given means all axes, or none with noop_with_empty_axes. */
static int reduce_axes(KCall *c, const KTensor *x, char *red)
{
	const int64_t *av = NULL;
	int64_t na = 0;
	const KTensor *ax = NULL;
	if (c->nin > 1 && c->in[1].dt != DT_UNDEF) {
		if (ref_need_in(c, 1))
			return 1;
		ax = &c->in[1];
		if (!dt_is_int(ax->dt) || ax->rank > 1)
			return kerr(c, "%s: axes input must be a 1-D integer tensor", op_names[c->op]);
		na = kt_numel(ax);
	} else {
		na = kattr_ints(c, "axes", &av);
	}
	int noop = kattr_i(c, "noop_with_empty_axes", 0) != 0;
	memset(red, na == 0 && !noop, K_MAXRANK);
	for (int64_t k = 0; k < na; k++) {
		int64_t a = ax ? dt_load_i(ax->dt, ax->data, k) : av[k];
		if (norm_axis(c, &a, x->rank))
			return 1;
		red[a] = 1;
	}
	return 0;
}

/* Smallest / largest value of integer type dt (bool: 0 / 1). */
static int64_t int_lim(int dt, int hi)
{
	switch (dt) {
	case DT_I8: return hi ? INT8_MAX : INT8_MIN;
	case DT_I16: return hi ? INT16_MAX : INT16_MIN;
	case DT_I32: return hi ? INT32_MAX : INT32_MIN;
	case DT_I64: return hi ? INT64_MAX : INT64_MIN;
	case DT_U8: return hi ? UINT8_MAX : 0;
	case DT_U16: return hi ? UINT16_MAX : 0;
	case DT_U32: return hi ? UINT32_MAX : 0;
	case DT_U64: return hi ? -1 : 0;   /* stored as uint64: all ones */
	default: return hi;                /* bool */
	}
}

/* Reduce the m elements at base + roff[] into element j of y. */
static void reduce_one(int op, const KTensor *x, int64_t base, const int64_t *roff, int64_t m,
                       KTensor *y, int64_t j)
{
	int cls = vclass(x->dt);
	const void *p = x->data;
	if (op == OP_ReduceMax || op == OP_ReduceMin) {
		int mx = op == OP_ReduceMax;
		if (m == 0) {
			if (cls == CF)
				dt_store_f(y->dt, y->data, j, mx ? -INFINITY : INFINITY);
			else
				dt_store_i(y->dt, y->data, j, int_lim(x->dt, !mx));
			return;
		}
		int64_t best = base + roff[0];
		for (int64_t k = 1; k < m; k++) {
			int64_t e = base + roff[k];
			if (cls == CF && isnan(dt_load_f(x->dt, p, e))) {
				best = e;   /* NaN propagates */
				break;
			}
			int cm = ecmp(x->dt, p, e, best);
			if (mx ? cm > 0 : cm < 0)
				best = e;
		}
		ecopy(y->dt, y->data, j, x->dt, p, best);
		return;
	}
	int exact = cls != CF && (op == OP_ReduceSum || op == OP_ReduceProd ||
	            op == OP_ReduceSumSquare || op == OP_ReduceL1);
	if (exact) {
		uint64_t acc = op == OP_ReduceProd;   /* wrapping arithmetic */
		for (int64_t k = 0; k < m; k++) {
			uint64_t v = dt_load_u(x->dt, p, base + roff[k]);
			if (op == OP_ReduceL1 && cls == CI && (int64_t)v < 0)
				v = 0 - v;
			acc = op == OP_ReduceProd ? acc * v : op == OP_ReduceSumSquare ? acc + v * v : acc + v;
		}
		dt_store_u(y->dt, y->data, j, acc);
		return;
	}
	double mx = -INFINITY, acc = op == OP_ReduceProd ? 1.0 : 0.0;
	if (op == OP_ReduceLogSumExp) {
		for (int64_t k = 0; k < m; k++) {
			double v = dt_load_f(x->dt, p, base + roff[k]);
			if (v > mx || isnan(v))
				mx = v;
		}
		if (isinf(mx))   /* all -inf (or empty): avoid inf - inf */
			mx = mx > 0 ? mx : 0.0;
	}
	for (int64_t k = 0; k < m; k++) {
		double v = dt_load_f(x->dt, p, base + roff[k]);
		switch (op) {
		case OP_ReduceL1: acc += fabs(v); break;
		case OP_ReduceL2: case OP_ReduceSumSquare: acc += v * v; break;
		case OP_ReduceLogSumExp: acc += exp(v - mx); break;
		case OP_ReduceProd: acc *= v; break;
		default: acc += v; break;
		}
	}
	switch (op) {
	case OP_ReduceL2: acc = sqrt(acc); break;
	case OP_ReduceLogSum: acc = log(acc); break;
	case OP_ReduceLogSumExp: acc = log(acc) + mx; break;
	case OP_ReduceMean: acc = acc / (double)m; break;   /* empty: NaN */
	default: break;
	}
	dt_store_f(y->dt, y->data, j, acc);
}

/* All Reduce* ops over an arbitrary set of axes (see reduce_axes), keepdims
 * keeps reduced axes as 1. An empty set of axes with noop_with_empty_axes
 * applies the per-element part alone (ReduceSumSquare squares, ...). */
int ref_reduce(KCall *c)
{
	if (ref_need_in(c, 0) || need_out(c, 0))
		return 1;
	const KTensor *x = &c->in[0];
	char red[K_MAXRANK];
	if (reduce_axes(c, x, red))
		return 1;
	int keep = kattr_i(c, "keepdims", 1) != 0;
	int64_t dims[K_MAXRANK], st[K_MAXRANK], nout = 1, nred = 1, s = 1;
	int r = 0;
	for (int d = x->rank - 1; d >= 0; d--) {
		st[d] = s;
		s *= x->dims[d];
	}
	for (int d = 0; d < x->rank; d++) {
		if (red[d])
			nred *= x->dims[d];
		else
			nout *= x->dims[d];
		if (!red[d] || keep)
			dims[r++] = red[d] ? 1 : x->dims[d];
	}
	if (kout(c, 0, r, dims))
		return 1;
	if (nout == 0)
		return 0;
	int64_t *koff = malloc(sizeof(int64_t) * (size_t)(nout + (nred ? nred : 1)));
	if (!koff)
		return kerr(c, "%s: out of memory", op_names[c->op]);
	int64_t *roff = koff + nout;
	enum_offs(x, st, red, 0, koff);
	if (nred)
		enum_offs(x, st, red, 1, roff);
	for (int64_t j = 0; j < nout; j++)
		reduce_one(c->op, x, koff[j], roff, nred, &c->out[0], j);
	free(koff);
	return 0;
}

/* ---- CumSum ------------------------------------------------------------ */

/* Running sum along the axis given by input 1; `exclusive` leaves out the
 * element itself, `reverse` runs from the end. */
int ref_cumsum(KCall *c)
{
	if (ref_need_in(c, 0) || ref_need_in(c, 1) || need_out(c, 0))
		return 1;
	const KTensor *x = &c->in[0], *ax = &c->in[1];
	if (!dt_is_int(ax->dt) || kt_numel(ax) != 1)
		return kerr(c, "%s: axis must be an integer scalar", op_names[c->op]);
	int64_t axis = dt_load_i(ax->dt, ax->data, 0);
	if (norm_axis(c, &axis, x->rank) || kout(c, 0, x->rank, x->dims))
		return 1;
	KTensor *y = &c->out[0];
	int excl = kattr_i(c, "exclusive", 0) != 0, rev = kattr_i(c, "reverse", 0) != 0;
	int cls = vclass(x->dt);
	int64_t outer, n, inner;
	split3(x, (int)axis, &outer, &n, &inner);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			int prod = c->op == OP_CumProd;   /* CumProd: same walk, products */
			double fa = prod;
			uint64_t ua = (uint64_t)prod;
			for (int64_t t = 0; t < n; t++) {
				int64_t k = rev ? n - 1 - t : t, e = (o * n + k) * inner + i;
				double fv = cls == CF ? dt_load_f(x->dt, x->data, e) : 0;
				uint64_t uv = cls == CF ? 0 : dt_load_u(x->dt, x->data, e);
				if (!excl) {
					fa = prod ? fa * fv : fa + fv;
					ua = prod ? ua * uv : ua + uv;
				}
				if (cls == CF)
					dt_store_f(y->dt, y->data, e, fa);
				else
					dt_store_u(y->dt, y->data, e, ua);
				if (excl) {
					fa = prod ? fa * fv : fa + fv;
					ua = prod ? ua * uv : ua + uv;
				}
			}
		}
	return 0;
}

/* ---- Softmax / LogSoftmax / Hardmax ----------------------------------- */

/* Opset >= 13: along `axis` (default -1). Older: x is coerced to 2-D at
 * `axis` (default 1) and the op runs over each row of the flattened tail. */
int ref_softmax(KCall *c)
{
	if (ref_need_in(c, 0) || need_out(c, 0))
		return 1;
	const KTensor *x = &c->in[0];
	KTensor *y = &c->out[0];
	if (!dt_is_float(x->dt))
		return kerr(c, "%s: needs a float input, got %s", op_names[c->op], dt_name(x->dt));
	int old = kattr_i(c, "_opset", 17) < 13;
	int64_t axis = kattr_i(c, "axis", old ? 1 : -1);
	if (x->rank == 0)
		return kerr(c, "%s: input is a scalar", op_names[c->op]);
	if (norm_axis(c, &axis, x->rank) || kout(c, 0, x->rank, x->dims))
		return 1;
	int64_t outer, n, inner;
	split3(x, (int)axis, &outer, &n, &inner);
	if (old) {
		n *= inner;
		inner = 1;
	}
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			int64_t base = o * n * inner + i, best = 0;
			double mx = -INFINITY, sum = 0;
			for (int64_t k = 0; k < n; k++) {
				if (ecmp(x->dt, x->data, base + k * inner, base + best * inner) > 0)
					best = k;
				double v = dt_load_f(x->dt, x->data, base + k * inner);
				mx = v > mx ? v : mx;
			}
			if (isinf(mx))
				mx = 0;
			for (int64_t k = 0; k < n; k++)
				sum += exp(dt_load_f(x->dt, x->data, base + k * inner) - mx);
			for (int64_t k = 0; k < n; k++) {
				int64_t e = base + k * inner;
				double v = dt_load_f(x->dt, x->data, e), r;
				if (c->op == OP_Hardmax)
					r = k == best;
				else if (c->op == OP_LogSoftmax)
					r = v - mx - log(sum);
				else
					r = exp(v - mx) / sum;
				dt_store_f(y->dt, y->data, e, r);
			}
		}
	return 0;
}

/* ---- TopK -------------------------------------------------------------- */

typedef struct SortCtx {
	int dt, largest;
	const void *p;
	int64_t base, stride;
} SortCtx;

/* Does index a come strictly before index b? */
static int before(const SortCtx *s, int64_t a, int64_t b)
{
	int cm = ecmp(s->dt, s->p, s->base + a * s->stride, s->base + b * s->stride);
	return s->largest ? cm > 0 : cm < 0;
}

/* Stable merge sort of idx[0..n) using tmp[0..n): equal values keep the
 * lower index first, as TopK requires. */
static void msort(const SortCtx *s, int64_t *idx, int64_t *tmp, int64_t n)
{
	if (n < 2)
		return;
	int64_t h = n / 2;
	msort(s, idx, tmp, h);
	msort(s, idx + h, tmp, n - h);
	int64_t i = 0, j = h, k = 0;
	while (i < h && j < n)
		tmp[k++] = before(s, idx[j], idx[i]) ? idx[j++] : idx[i++];
	while (i < h)
		tmp[k++] = idx[i++];
	while (j < n)
		tmp[k++] = idx[j++];
	memcpy(idx, tmp, sizeof(int64_t) * (size_t)n);
}

/* The k largest (or smallest) elements along `axis`, with their int64
 * indices; always returned sorted (allowed when sorted = 0 too). */
int ref_topk(KCall *c)
{
	if (ref_need_in(c, 0) || need_out(c, 0) || need_out(c, 1))
		return 1;
	const KTensor *x = &c->in[0], *kt = c->nin > 1 ? &c->in[1] : NULL;
	int64_t k = kattr_i(c, "k", -1);   /* opset 1 has K as an attribute */
	if (kt) {
		if (ref_need_in(c, 1))
			return 1;
		if (!dt_is_int(kt->dt) || kt_numel(kt) != 1)
			return kerr(c, "TopK: K must be a one-element integer tensor");
		k = dt_load_i(kt->dt, kt->data, 0);
	}
	int64_t axis = kattr_i(c, "axis", -1);
	if (norm_axis(c, &axis, x->rank))
		return 1;
	int64_t outer, n, inner, dims[K_MAXRANK];
	split3(x, (int)axis, &outer, &n, &inner);
	if (k < 0 || k > n)
		return kerr(c, "TopK: K = %lld out of range for axis of size %lld", (long long)k, (long long)n);
	memcpy(dims, x->dims, sizeof dims);
	dims[axis] = k;
	if (kout(c, 0, x->rank, dims) || kout(c, 1, x->rank, dims))
		return 1;
	KTensor *yv = &c->out[0], *yi = &c->out[1];
	if (n == 0 || k == 0)
		return 0;
	int64_t *idx = malloc(sizeof(int64_t) * 2 * (size_t)n);
	if (!idx)
		return kerr(c, "TopK: out of memory");
	SortCtx s = { x->dt, kattr_i(c, "largest", 1) != 0, x->data, 0, inner };
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			s.base = o * n * inner + i;
			for (int64_t t = 0; t < n; t++)
				idx[t] = t;
			msort(&s, idx, idx + n, n);
			for (int64_t t = 0; t < k; t++) {
				int64_t e = (o * k + t) * inner + i;
				ecopy(yv->dt, yv->data, e, x->dt, x->data, s.base + idx[t] * inner);
				dt_store_i(yi->dt, yi->data, e, idx[t]);
			}
		}
	free(idx);
	return 0;
}
