/* Reference kernels that move data without computing on it: reshapes,
 * transpose, concat/split/slice, expand/tile/pad, shape queries, constant
 * generators, and the small layout ops (Trilu, DepthToSpace, ...). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kern.h"
#include "ref_util.h"

/* ---- shared helpers ---------------------------------------------------- */

static int64_t ival(const KTensor *t, int64_t i) { return dt_load_i(t->dt, t->data, (size_t)i); }

static int has_in(const KCall *c, int i) { return i < c->nin && c->in[i].dt != DT_UNDEF && c->in[i].data; }

/* Read an integer list either from input `in` (opset >= `from`) or from
 * ints attribute `name`. Returns count (-1 if absent, -2 on error). */
static int int_list(KCall *c, int in, const char *name, int64_t *v, int max)
{
	if (has_in(c, in)) {
		const KTensor *t = &c->in[in];
		if (!dt_is_int(t->dt) || t->rank > 1)
			return kerr(c, "%s: input %d must be a 1-D integer tensor", op_names[c->op], in), -2;
		int64_t n = kt_numel(t);
		if (n > max)
			return kerr(c, "%s: input %d has %lld entries, at most %d supported",
			            op_names[c->op], in, (long long)n, max), -2;
		for (int64_t i = 0; i < n; i++)
			v[i] = ival(t, i);
		return (int)n;
	}
	const int64_t *a;
	int n = kattr_ints(c, name, &a);
	if (!a)
		return -1;
	if (n > max)
		return kerr(c, "%s: attribute %s has %d entries, at most %d supported",
		            op_names[c->op], name, n, max), -2;
	for (int i = 0; i < n; i++)
		v[i] = a[i];
	return n;
}

/* Convert element si of src (type sdt) into element di of dst (type ddt). */
static void conv_elem(int ddt, void *dst, size_t di, int sdt, const void *src, size_t si)
{
	if (ddt == sdt) {
		size_t es = dt_size(ddt);
		memcpy((char *)dst + di * es, (const char *)src + si * es, es);
	} else if (dt_is_float(ddt) || dt_is_float(sdt))
		dt_store_f(ddt, dst, di, dt_load_f(sdt, src, si));
	else
		dt_store_i(ddt, dst, di, dt_load_i(sdt, src, si));
}

/* Copy a strided view into dense dst: the element at output index
 * (i_0..i_{r-1}) of dims od lives at src + sum(i_k * st[k]) bytes. */
static void copy_view(void *dst, const char *src, int r, const int64_t *od,
                      const int64_t *st, size_t es)
{
	int64_t n = 1, idx[K_MAXRANK] = {0};
	for (int k = 0; k < r; k++)
		n *= od[k];
	if (n == 0)
		return;
	int64_t row = 1;
	int rr = r;
	if (r > 0 && st[r - 1] == (int64_t)es) {   /* contiguous innermost row */
		row = od[r - 1];
		rr = r - 1;
	}
	char *d = dst;
	int64_t off = 0;
	for (int64_t e = 0; e < n; e += row) {
		memcpy(d, src + off, (size_t)row * es);
		d += (size_t)row * es;
		for (int k = rr - 1; k >= 0; k--) {
			if (++idx[k] < od[k]) {
				off += st[k];
				break;
			}
			off -= st[k] * (od[k] - 1);
			idx[k] = 0;
		}
	}
}

/* Dense row-major strides in bytes. */
static void dense_strides(int r, const int64_t *d, size_t es, int64_t *st)
{
	int64_t s = (int64_t)es;
	for (int k = r - 1; k >= 0; k--) {
		st[k] = s;
		s *= d[k];
	}
}

/* ---- Reshape / Flatten / Squeeze / Unsqueeze --------------------------- */

static int reshape_dims(KCall *c, const KTensor *x, int *rank, int64_t *od)
{
	const KTensor *s = &c->in[1];
	if (!has_in(c, 1) || !dt_is_int(s->dt) || s->rank != 1)
		return kerr(c, "Reshape: shape must be a 1-D integer tensor");
	int64_t n = s->dims[0];
	if (n > K_MAXRANK)
		return kerr(c, "Reshape: target rank %lld exceeds %d", (long long)n, K_MAXRANK);
	int allowzero = (int)kattr_i(c, "allowzero", 0);
	int neg = -1;
	int64_t known = 1, total = kt_numel(x);
	for (int i = 0; i < n; i++) {
		int64_t v = ival(s, i);
		if (v == 0 && !allowzero) {
			if (i >= x->rank)
				return kerr(c, "Reshape: shape[%d] = 0 copies a dim the input (rank %d) lacks",
				            i, x->rank);
			v = x->dims[i];
		}
		if (v == -1) {
			if (neg >= 0)
				return kerr(c, "Reshape: more than one -1 in shape");
			neg = i;
			v = 1;
		} else if (v < 0)
			return kerr(c, "Reshape: shape[%d] = %lld is negative", i, (long long)v);
		od[i] = v;
		if (i != neg) {
			if (v && known > INT64_MAX / v)
				return kerr(c, "Reshape: target shape too large");
			known *= v;
		}
	}
	if (neg >= 0) {
		if (known == 0 || total % known)
			return kerr(c, "Reshape: cannot infer -1: %lld elements into %lld",
			            (long long)total, (long long)known);
		od[neg] = total / known;
	} else if (known != total)
		return kerr(c, "Reshape: %lld elements cannot take a shape of %lld",
		            (long long)total, (long long)known);
	*rank = (int)n;
	return 0;
}

/* Input 0 copied unchanged into output 0 under a new shape. */
int ref_copy(KCall *c)
{
	const KTensor *x = &c->in[0];
	int64_t od[K_MAXRANK], ax[K_MAXRANK];
	int rank = 0;
	if (c->op == OP_Reshape) {
		if (reshape_dims(c, x, &rank, od))
			return 1;
	} else if (c->op == OP_Flatten) {
		int64_t a = kattr_i(c, "axis", 1);
		if (a < -x->rank || a > x->rank)
			return kerr(c, "Flatten: axis %lld out of range for rank %d", (long long)a, x->rank);
		if (a < 0)
			a += x->rank;
		od[0] = ref_prod(x->dims, 0, (int)a);
		od[1] = ref_prod(x->dims, (int)a, x->rank);
		rank = 2;
	} else if (c->op == OP_Squeeze) {
		int n = int_list(c, 1, "axes", ax, K_MAXRANK);
		if (n == -2)
			return 1;
		int drop[K_MAXRANK] = {0};
		if (n < 0) {
			for (int k = 0; k < x->rank; k++)
				drop[k] = x->dims[k] == 1;
		}
		for (int i = 0; i < n; i++) {
			int a;
			if (ref_norm_axis(c, ax[i], x->rank, &a))
				return 1;
			if (x->dims[a] != 1)
				return kerr(c, "Squeeze: axis %d has size %lld, not 1", a, (long long)x->dims[a]);
			drop[a] = 1;
		}
		for (int k = 0; k < x->rank; k++)
			if (!drop[k])
				od[rank++] = x->dims[k];
	} else if (c->op == OP_Unsqueeze) {
		int n = int_list(c, 1, "axes", ax, K_MAXRANK);
		if (n < 0)
			return n == -2 ? 1 : kerr(c, "Unsqueeze: axes missing");
		rank = x->rank + n;
		if (rank > K_MAXRANK)
			return kerr(c, "Unsqueeze: result rank %d exceeds %d", rank, K_MAXRANK);
		int ins[K_MAXRANK] = {0};
		for (int i = 0; i < n; i++) {
			int a;
			if (ref_norm_axis(c, ax[i], rank, &a))
				return 1;
			if (ins[a])
				return kerr(c, "Unsqueeze: axis %d repeated", a);
			ins[a] = 1;
		}
		for (int k = 0, j = 0; k < rank; k++)
			od[k] = ins[k] ? 1 : x->dims[j++];
	} else
		return kerr(c, "copy kernel: unexpected op %s", op_names[c->op]);
	if (ref_prod(od, 0, rank) != kt_numel(x))
		return kerr(c, "%s: output has %lld elements, input %lld", op_names[c->op],
		            (long long)ref_prod(od, 0, rank), (long long)kt_numel(x));
	if (kout(c, 0, rank, od))
		return 1;
	if (c->out[0].dt != x->dt)
		return kerr(c, "%s: output type %s differs from input %s", op_names[c->op],
		            dt_name(c->out[0].dt), dt_name(x->dt));
	if (c->out[0].data != x->data && kt_nbytes(x))
		memmove(c->out[0].data, x->data, kt_nbytes(x));
	return 0;
}

/* ---- Transpose --------------------------------------------------------- */

int ref_transpose(KCall *c)
{
	const KTensor *x = &c->in[0];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	int r = x->rank;
	int64_t perm[K_MAXRANK], od[K_MAXRANK], st[K_MAXRANK], ist[K_MAXRANK];
	const int64_t *p;
	int n = kattr_ints(c, "perm", &p);
	if (!p) {
		for (int k = 0; k < r; k++)
			perm[k] = r - 1 - k;
	} else {
		if (n != r)
			return kerr(c, "Transpose: perm has %d entries, input rank is %d", n, r);
		int seen[K_MAXRANK] = {0};
		for (int k = 0; k < r; k++) {
			int a;
			if (ref_norm_axis(c, p[k], r, &a))
				return 1;
			if (seen[a]++)
				return kerr(c, "Transpose: perm repeats axis %d", a);
			perm[k] = a;
		}
	}
	size_t es = dt_size(x->dt);
	dense_strides(r, x->dims, es, ist);
	for (int k = 0; k < r; k++) {
		od[k] = x->dims[perm[k]];
		st[k] = ist[perm[k]];
	}
	if (kout(c, 0, r, od))
		return 1;
	copy_view(c->out[0].data, x->data, r, od, st, es);
	return 0;
}

/* ---- Concat / Split ---------------------------------------------------- */

int ref_concat(KCall *c)
{
	const KTensor *x0 = &c->in[0];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	int r = x0->rank, axis;
	if (r == 0)
		return kerr(c, "Concat: inputs must have rank >= 1");
	if (ref_norm_axis(c, kattr_i(c, "axis", 0), r, &axis))
		return 1;
	int64_t od[K_MAXRANK];
	memcpy(od, x0->dims, sizeof od);
	od[axis] = 0;
	for (int i = 0; i < c->nin; i++) {
		const KTensor *t = &c->in[i];
		if (t->rank != r || t->dt != x0->dt)
			return kerr(c, "Concat: input %d is %s rank %d, input 0 is %s rank %d", i,
			            dt_name(t->dt), t->rank, dt_name(x0->dt), r);
		for (int k = 0; k < r; k++)
			if (k != axis && t->dims[k] != x0->dims[k])
				return kerr(c, "Concat: input %d dim %d is %lld, input 0 has %lld", i, k,
				            (long long)t->dims[k], (long long)x0->dims[k]);
		od[axis] += t->dims[axis];
	}
	if (kout(c, 0, r, od))
		return 1;
	size_t es = dt_size(x0->dt);
	int64_t outer = ref_prod(od, 0, axis), inner = ref_prod(od, axis + 1, r);
	size_t orow = (size_t)(od[axis] * inner) * es;
	char *dst = c->out[0].data;
	size_t off = 0;
	for (int i = 0; i < c->nin; i++) {
		const KTensor *t = &c->in[i];
		size_t row = (size_t)(t->dims[axis] * inner) * es;
		for (int64_t o = 0; o < outer && row; o++)
			memcpy(dst + o * orow + off, (const char *)t->data + o * row, row);
		off += row;
	}
	return 0;
}

int ref_split(KCall *c)
{
	const KTensor *x = &c->in[0];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	int r = x->rank, axis;
	if (r == 0)
		return kerr(c, "Split: input must have rank >= 1");
	if (ref_norm_axis(c, kattr_i(c, "axis", 0), r, &axis))
		return 1;
	int no = c->nout;
	int64_t *sz = malloc(sizeof(int64_t) * (size_t)(no > 0 ? no : 1));
	if (!sz)
		return kerr(c, "Split: out of memory");
	int64_t d = x->dims[axis], sum = 0;
	int n = -1;
	if (has_in(c, 1)) {
		const KTensor *t = &c->in[1];
		if (!dt_is_int(t->dt) || t->rank != 1 || t->dims[0] != no) {
			free(sz);
			return kerr(c, "Split: split input must be 1-D integer with %d entries", no);
		}
		for (int i = 0; i < no; i++)
			sz[i] = ival(t, i);
		n = no;
	} else {
		const int64_t *a;
		int na = kattr_ints(c, "split", &a);
		if (a) {
			if (na != no) {
				free(sz);
				return kerr(c, "Split: split attribute has %d entries for %d outputs", na, no);
			}
			for (int i = 0; i < no; i++)
				sz[i] = a[i];
			n = no;
		}
	}
	if (n < 0) {
		int64_t nout = kattr_i(c, "num_outputs", 0);
		if (nout > 0) {
			if (nout != no) {
				free(sz);
				return kerr(c, "Split: num_outputs %lld but %d outputs", (long long)nout, no);
			}
			int64_t ch = (d + no - 1) / no;
			for (int i = 0; i < no; i++) {
				int64_t left = d - ch * i;
				sz[i] = left < 0 ? 0 : left < ch ? left : ch;
			}
		} else {
			if (d % no) {
				free(sz);
				return kerr(c, "Split: axis size %lld does not split into %d equal parts",
				            (long long)d, no);
			}
			for (int i = 0; i < no; i++)
				sz[i] = d / no;
		}
	}
	for (int i = 0; i < no; i++) {
		if (sz[i] < 0 || sz[i] > d) {
			long long v = (long long)sz[i];
			free(sz);
			return kerr(c, "Split: split[%d] = %lld outside [0, %lld]", i, v, (long long)d);
		}
		sum += sz[i];
	}
	if (sum != d) {
		free(sz);
		return kerr(c, "Split: sizes sum to %lld, axis size is %lld", (long long)sum, (long long)d);
	}
	size_t es = dt_size(x->dt);
	int64_t outer = ref_prod(x->dims, 0, axis), inner = ref_prod(x->dims, axis + 1, r);
	size_t irow = (size_t)(d * inner) * es, off = 0;
	for (int i = 0; i < no; i++) {
		size_t row = (size_t)(sz[i] * inner) * es;
		if (c->out[i].dt != DT_UNDEF) {
			int64_t od[K_MAXRANK];
			if (ref_want_dt(c, i, x->dt)) {
				free(sz);
				return 1;
			}
			memcpy(od, x->dims, sizeof od);
			od[axis] = sz[i];
			if (kout(c, i, r, od)) {
				free(sz);
				return 1;
			}
			char *dst = c->out[i].data;
			for (int64_t o = 0; o < outer && row; o++)
				memcpy(dst + o * row, (const char *)x->data + o * irow + off, row);
		}
		off += row;
	}
	free(sz);
	return 0;
}

/* ---- Slice ------------------------------------------------------------- */

int ref_slice(KCall *c)
{
	const KTensor *x = &c->in[0];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	int r = x->rank;
	int64_t st[K_MAXRANK], en[K_MAXRANK], ax[K_MAXRANK], sp[K_MAXRANK];
	int n, ne, na, ns;
	int old = kattr_i(c, "_opset", 17) < 10;
	n = int_list(c, old ? 99 : 1, "starts", st, K_MAXRANK);
	ne = int_list(c, old ? 99 : 2, "ends", en, K_MAXRANK);
	if (n == -2 || ne == -2)
		return 1;
	if (n < 0 || ne != n)
		return kerr(c, "Slice: starts and ends missing or of different lengths");
	na = int_list(c, old ? 99 : 3, "axes", ax, K_MAXRANK);
	ns = old ? -1 : int_list(c, 4, "__none", sp, K_MAXRANK);
	if (na == -2 || ns == -2)
		return 1;
	if ((na >= 0 && na != n) || (ns >= 0 && ns != n))
		return kerr(c, "Slice: axes/steps must have as many entries as starts (%d)", n);
	int64_t b[K_MAXRANK], step[K_MAXRANK], od[K_MAXRANK];
	int seen[K_MAXRANK] = {0};
	for (int k = 0; k < r; k++) {
		b[k] = 0;
		step[k] = 1;
		od[k] = x->dims[k];
	}
	for (int i = 0; i < n; i++) {
		int a = i;
		if (na >= 0 && ref_norm_axis(c, ax[i], r, &a))
			return 1;
		if (na < 0 && i >= r)
			return kerr(c, "Slice: %d starts for rank %d", n, r);
		if (seen[a]++)
			return kerr(c, "Slice: axis %d repeated", a);
		int64_t s = ns >= 0 ? sp[i] : 1, d = x->dims[a], lo = st[i], hi = en[i];
		if (s == 0)
			return kerr(c, "Slice: step 0 on axis %d", a);
		if (s == INT64_MIN)
			s = -INT64_MAX;
		if (lo < 0)
			lo += d;
		if (hi < 0)
			hi += d;
		if (s > 0) {
			lo = lo < 0 ? 0 : lo > d ? d : lo;
			hi = hi < 0 ? 0 : hi > d ? d : hi;
			od[a] = hi > lo ? (hi - lo - 1) / s + 1 : 0;
		} else {
			lo = lo < 0 ? 0 : lo > d - 1 ? d - 1 : lo;
			hi = hi < -1 ? -1 : hi > d - 1 ? d - 1 : hi;
			od[a] = lo > hi ? (lo - hi - 1) / (-s) + 1 : 0;
		}
		b[a] = od[a] ? lo : 0;
		step[a] = s;
	}
	if (kout(c, 0, r, od))
		return 1;
	size_t es = dt_size(x->dt);
	int64_t ist[K_MAXRANK], vst[K_MAXRANK], off = 0;
	dense_strides(r, x->dims, es, ist);
	for (int k = 0; k < r; k++) {
		off += b[k] * ist[k];
		vst[k] = step[k] * ist[k];
	}
	if (ref_prod(od, 0, r))
		copy_view(c->out[0].data, (const char *)x->data + off, r, od, vst, es);
	return 0;
}

/* ---- Expand / Tile ----------------------------------------------------- */

int ref_expand(KCall *c)
{
	const KTensor *x = &c->in[0], *s = &c->in[1];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	if (!dt_is_int(s->dt) || s->rank != 1)
		return kerr(c, "Expand: shape must be a 1-D integer tensor");
	int n = (int)s->dims[0], r = n > x->rank ? n : x->rank;
	if (n > K_MAXRANK)
		return kerr(c, "Expand: shape has %d entries, at most %d supported", n, K_MAXRANK);
	int64_t od[K_MAXRANK], st[K_MAXRANK], ist[K_MAXRANK];
	size_t es = dt_size(x->dt);
	dense_strides(x->rank, x->dims, es, ist);
	for (int k = 0; k < r; k++) {
		int ks = k - (r - n), kx = k - (r - x->rank);
		int64_t a = ks >= 0 ? ival(s, ks) : 1, b = kx >= 0 ? x->dims[kx] : 1;
		if (a < 0)
			return kerr(c, "Expand: shape[%d] = %lld is negative", ks, (long long)a);
		if (a != b && a != 1 && b != 1)
			return kerr(c, "Expand: input dim %lld does not broadcast to %lld",
			            (long long)b, (long long)a);
		od[k] = b == 1 ? a : b;
		st[k] = kx >= 0 && b != 1 ? ist[kx] : 0;
	}
	if (kout(c, 0, r, od))
		return 1;
	copy_view(c->out[0].data, x->data, r, od, st, es);
	return 0;
}

int ref_tile(KCall *c)
{
	const KTensor *x = &c->in[0], *rp = &c->in[1];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	int r = x->rank;
	if (!dt_is_int(rp->dt) || rp->rank != 1 || rp->dims[0] != r)
		return kerr(c, "Tile: repeats must be 1-D integer with %d entries", r);
	int64_t od[K_MAXRANK], idx[K_MAXRANK] = {0};
	for (int k = 0; k < r; k++) {
		int64_t v = ival(rp, k);
		if (v < 0)
			return kerr(c, "Tile: repeats[%d] = %lld is negative", k, (long long)v);
		if (v && x->dims[k] > INT64_MAX / 8 / v)
			return kerr(c, "Tile: output too large");
		od[k] = x->dims[k] * v;
	}
	if (kout(c, 0, r, od))
		return 1;
	size_t es = dt_size(x->dt);
	int64_t ist[K_MAXRANK], n = ref_prod(od, 0, r);
	dense_strides(r, x->dims, es, ist);
	char *d = c->out[0].data;
	for (int64_t e = 0; e < n; e++) {
		int64_t off = 0;
		for (int k = 0; k < r; k++)
			off += (idx[k] % x->dims[k]) * ist[k];
		memcpy(d + e * es, (const char *)x->data + off, es);
		for (int k = r - 1; k >= 0; k--) {
			if (++idx[k] < od[k])
				break;
			idx[k] = 0;
		}
	}
	return 0;
}

/* ---- Pad --------------------------------------------------------------- */

/* Map output coordinate o (with `pb` padding before an axis of size d) to a
 * source coordinate, or -1 for the constant. */
static int64_t pad_src(int mode, int64_t o, int64_t pb, int64_t d)
{
	int64_t j = o - pb;
	if (j >= 0 && j < d)
		return j;
	if (mode == 0 || d == 0)
		return -1;
	if (mode == 2)          /* edge */
		return j < 0 ? 0 : d - 1;
	if (mode == 3) {        /* wrap */
		j %= d;
		return j < 0 ? j + d : j;
	}
	if (d == 1)             /* reflect */
		return 0;
	int64_t p = 2 * (d - 1);
	j %= p;
	if (j < 0)
		j += p;
	return j < d ? j : p - j;
}

int ref_pad(KCall *c)
{
	const KTensor *x = &c->in[0];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	int r = x->rank, opset = (int)kattr_i(c, "_opset", 17);
	int64_t pads[2 * K_MAXRANK] = {0}, pv[2 * K_MAXRANK], ax[K_MAXRANK];
	int np = int_list(c, opset >= 11 ? 1 : 99, opset < 2 ? "paddings" : "pads", pv, 2 * K_MAXRANK);
	if (np == -2)
		return 1;
	if (np < 0)
		return kerr(c, "Pad: pads missing");
	int na = opset >= 18 ? int_list(c, 3, "__none", ax, K_MAXRANK) : -1;
	if (na == -2)
		return 1;
	if (na < 0) {
		if (np != 2 * r)
			return kerr(c, "Pad: %d pads for rank %d", np, r);
		memcpy(pads, pv, sizeof(int64_t) * (size_t)np);
	} else {
		if (np != 2 * na)
			return kerr(c, "Pad: %d pads for %d axes", np, na);
		for (int i = 0; i < na; i++) {
			int a;
			if (ref_norm_axis(c, ax[i], r, &a))
				return 1;
			pads[a] = pv[i];
			pads[a + r] = pv[i + na];
		}
	}
	const char *ms = kattr_s(c, "mode", "constant");
	int mode = !strcmp(ms, "constant") ? 0 : !strcmp(ms, "reflect") ? 1
	         : !strcmp(ms, "edge") ? 2 : !strcmp(ms, "wrap") ? 3 : -1;
	if (mode < 0)
		return kerr(c, "Pad: unknown mode '%s'", ms);
	int64_t od[K_MAXRANK];
	for (int k = 0; k < r; k++) {
		if (pads[k] > ((int64_t)1 << 40) || pads[k] < -((int64_t)1 << 40) ||
		    pads[k + r] > ((int64_t)1 << 40) || pads[k + r] < -((int64_t)1 << 40))
			return kerr(c, "Pad: pads on axis %d out of range", k);
		od[k] = x->dims[k] + pads[k] + pads[k + r];
		if (od[k] < 0)
			return kerr(c, "Pad: axis %d would have negative size", k);
		if (mode && mode != 3 && x->dims[k] == 0 && od[k] > 0)
			return kerr(c, "Pad: cannot %s-pad empty axis %d", ms, k);
	}
	if (kout(c, 0, r, od))
		return 1;
	size_t es = dt_size(x->dt);
	unsigned char cv[16] = {0};
	if (opset >= 11 && has_in(c, 2)) {
		if (kt_numel(&c->in[2]) < 1)
			return kerr(c, "Pad: constant_value is empty");
		conv_elem(x->dt, cv, 0, c->in[2].dt, c->in[2].data, 0);
	} else if (opset < 11)
		dt_store_f(x->dt, cv, 0, kattr_f(c, "value", 0.0));
	int64_t ist[K_MAXRANK], idx[K_MAXRANK] = {0}, n = ref_prod(od, 0, r);
	dense_strides(r, x->dims, es, ist);
	char *d = c->out[0].data;
	for (int64_t e = 0; e < n; e++) {
		int64_t off = 0;
		for (int k = 0; k < r && off >= 0; k++) {
			int64_t j = pad_src(mode, idx[k], pads[k], x->dims[k]);
			off = j < 0 ? -1 : off + j * ist[k];
		}
		memcpy(d + e * es, off < 0 ? (const void *)cv : (const char *)x->data + off, es);
		for (int k = r - 1; k >= 0; k--) {
			if (++idx[k] < od[k])
				break;
			idx[k] = 0;
		}
	}
	return 0;
}

/* ---- Shape queries and generators -------------------------------------- */

int ref_shape(KCall *c)
{
	const KTensor *x = &c->in[0];
	int64_t r = x->rank, s = kattr_i(c, "start", 0), e = kattr_i(c, "end", r);
	if (s < 0)
		s += r;
	if (e < 0)
		e += r;
	s = s < 0 ? 0 : s > r ? r : s;
	e = e < 0 ? 0 : e > r ? r : e;
	int64_t n = e > s ? e - s : 0;
	if (kout(c, 0, 1, &n))
		return 1;
	for (int64_t i = 0; i < n; i++)
		dt_store_i(c->out[0].dt, c->out[0].data, (size_t)i, x->dims[s + i]);
	return 0;
}

int ref_size(KCall *c)
{
	if (kout(c, 0, 0, NULL))
		return 1;
	dt_store_i(c->out[0].dt, c->out[0].data, 0, kt_numel(&c->in[0]));
	return 0;
}

int ref_constantofshape(KCall *c)
{
	const KTensor *s = &c->in[0];
	if (!dt_is_int(s->dt) || s->rank != 1 || s->dims[0] > K_MAXRANK)
		return kerr(c, "ConstantOfShape: input must be a 1-D integer tensor of at most %d entries",
		            K_MAXRANK);
	int r = (int)s->dims[0];
	int64_t od[K_MAXRANK];
	for (int k = 0; k < r; k++)
		if ((od[k] = ival(s, k)) < 0)
			return kerr(c, "ConstantOfShape: dim %d is negative (%lld)", k, (long long)od[k]);
	if (kout(c, 0, r, od))
		return 1;
	KTensor *o = &c->out[0];
	size_t es = dt_size(o->dt);
	unsigned char v[16] = {0};
	const KAttr *a = kattr(c, "value");
	if (a && a->kind == AK_TENSOR && a->t) {
		if (kt_numel(a->t) != 1)
			return kerr(c, "ConstantOfShape: value must hold one element");
		conv_elem(o->dt, v, 0, a->t->dt, a->t->data, 0);
	}
	int64_t n = kt_numel(o);
	for (int64_t i = 0; i < n; i++)
		memcpy((char *)o->data + i * es, v, es);
	return 0;
}

int ref_range(KCall *c)
{
	for (int i = 0; i < 3; i++)
		if (kt_numel(&c->in[i]) != 1)
			return kerr(c, "Range: input %d must be a scalar", i);
	KTensor *o = &c->out[0];
	int64_t n;
	if (dt_is_float(c->in[0].dt)) {
		double s = dt_load_f(c->in[0].dt, c->in[0].data, 0);
		double l = dt_load_f(c->in[1].dt, c->in[1].data, 0);
		double d = dt_load_f(c->in[2].dt, c->in[2].data, 0);
		if (d == 0 || d != d || s != s || l != l)
			return kerr(c, "Range: delta is zero or an input is NaN");
		double m = ceil((l - s) / d);
		if (m > 1e12)
			return kerr(c, "Range: %g elements is too many", m);
		n = m > 0 ? (int64_t)m : 0;
		if (kout(c, 0, 1, &n))
			return 1;
		for (int64_t i = 0; i < n; i++)
			dt_store_f(o->dt, o->data, (size_t)i, s + (double)i * d);
		return 0;
	}
	int64_t s = ival(&c->in[0], 0), l = ival(&c->in[1], 0), d = ival(&c->in[2], 0);
	if (d == 0)
		return kerr(c, "Range: delta is zero");
	double m = ceil(((double)l - (double)s) / (double)d);
	if (m > 1e12)
		return kerr(c, "Range: %g elements is too many", m);
	n = m > 0 ? (int64_t)m : 0;
	if (kout(c, 0, 1, &n))
		return 1;
	for (int64_t i = 0; i < n; i++)
		dt_store_i(o->dt, o->data, (size_t)i, s + i * d);
	return 0;
}

int ref_eyelike(KCall *c)
{
	const KTensor *x = &c->in[0];
	if (x->rank != 2)
		return kerr(c, "EyeLike: input must be 2-D, got rank %d", x->rank);
	if (kout(c, 0, 2, x->dims))
		return 1;
	KTensor *o = &c->out[0];
	int64_t k = kattr_i(c, "k", 0), R = x->dims[0], C = x->dims[1];
	memset(o->data, 0, kt_nbytes(o));
	if (k >= C || k <= -R)
		return 0;
	for (int64_t i = 0; i < R; i++)
		if (i + k >= 0 && i + k < C)
			dt_store_i(o->dt, o->data, (size_t)(i * C + i + k), 1);
	return 0;
}

int ref_trilu(KCall *c)
{
	const KTensor *x = &c->in[0];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	if (x->rank < 2)
		return kerr(c, "Trilu: input must have rank >= 2, got %d", x->rank);
	int64_t k = 0;
	if (has_in(c, 1)) {
		if (!dt_is_int(c->in[1].dt) || kt_numel(&c->in[1]) != 1)
			return kerr(c, "Trilu: k must be an integer scalar");
		k = ival(&c->in[1], 0);
	}
	if (kout(c, 0, x->rank, x->dims))
		return 1;
	int upper = kattr_i(c, "upper", 1) != 0;
	int64_t R = x->dims[x->rank - 2], C = x->dims[x->rank - 1];
	int64_t nb = ref_prod(x->dims, 0, x->rank - 2);
	size_t es = dt_size(x->dt);
	char *d = c->out[0].data;
	const char *s = x->data;
	for (int64_t b = 0; b < nb; b++)
		for (int64_t i = 0; i < R; i++)
			for (int64_t j = 0; j < C; j++) {
				size_t off = (size_t)((b * R + i) * C + j) * es;
				int keep = upper ? j - i >= k : j - i <= k;
				if (keep)
					memcpy(d + off, s + off, es);
				else
					memset(d + off, 0, es);
			}
	return 0;
}

/* ---- DepthToSpace / SpaceToDepth / ReverseSequence ---------------------- */

int ref_depthtospace(KCall *c)
{
	const KTensor *x = &c->in[0];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	int64_t b = kattr_i(c, "blocksize", 0);
	if (x->rank != 4 || b <= 0 || x->dims[1] % (b * b))
		return kerr(c, "DepthToSpace: need a 4-D input whose channels divide by blocksize^2 "
		            "(blocksize %lld)", (long long)b);
	int crd = !strcmp(kattr_s(c, "mode", "DCR"), "CRD");
	int64_t N = x->dims[0], C = x->dims[1] / (b * b), H = x->dims[2], W = x->dims[3];
	int64_t od[4] = {N, C, H * b, W * b};
	if (kout(c, 0, 4, od))
		return 1;
	size_t es = dt_size(x->dt);
	char *d = c->out[0].data;
	const char *s = x->data;
	for (int64_t n = 0; n < N; n++)
		for (int64_t ch = 0; ch < C; ch++)
			for (int64_t y = 0; y < H * b; y++)
				for (int64_t xx = 0; xx < W * b; xx++) {
					int64_t i = y % b, j = xx % b;
					int64_t ic = crd ? ch * b * b + i * b + j : (i * b + j) * C + ch;
					size_t so = (size_t)(((n * x->dims[1] + ic) * H + y / b) * W + xx / b) * es;
					memcpy(d, s + so, es);
					d += es;
				}
	return 0;
}

int ref_spacetodepth(KCall *c)
{
	const KTensor *x = &c->in[0];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	int64_t b = kattr_i(c, "blocksize", 0);
	if (x->rank != 4 || b <= 0 || x->dims[2] % b || x->dims[3] % b)
		return kerr(c, "SpaceToDepth: need a 4-D input whose H and W divide by blocksize %lld",
		            (long long)b);
	int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2] / b, W = x->dims[3] / b;
	int64_t od[4] = {N, C * b * b, H, W};
	if (kout(c, 0, 4, od))
		return 1;
	size_t es = dt_size(x->dt);
	char *d = c->out[0].data;
	const char *s = x->data;
	for (int64_t n = 0; n < N; n++)
		for (int64_t oc = 0; oc < C * b * b; oc++)
			for (int64_t y = 0; y < H; y++)
				for (int64_t xx = 0; xx < W; xx++) {
					int64_t ch = oc % C, i = oc / C / b, j = oc / C % b;
					size_t so = (size_t)(((n * C + ch) * x->dims[2] + y * b + i) * x->dims[3]
					                     + xx * b + j) * es;
					memcpy(d, s + so, es);
					d += es;
				}
	return 0;
}

int ref_reversesequence(KCall *c)
{
	const KTensor *x = &c->in[0], *L = &c->in[1];
	if (ref_want_dt(c, 0, c->in[0].dt))
		return 1;
	int r = x->rank, ba, ta;
	if (r < 2)
		return kerr(c, "ReverseSequence: input must have rank >= 2");
	if (ref_norm_axis(c, kattr_i(c, "batch_axis", 1), r, &ba) ||
	    ref_norm_axis(c, kattr_i(c, "time_axis", 0), r, &ta))
		return 1;
	if (ba == ta || ba > 1 || ta > 1)
		return kerr(c, "ReverseSequence: batch_axis and time_axis must be 0 and 1");
	int64_t B = x->dims[ba], T = x->dims[ta];
	if (!dt_is_int(L->dt) || L->rank != 1 || L->dims[0] != B)
		return kerr(c, "ReverseSequence: sequence_lens must be 1-D integer of length %lld",
		            (long long)B);
	if (kout(c, 0, r, x->dims))
		return 1;
	size_t es = dt_size(x->dt);
	size_t inner = (size_t)ref_prod(x->dims, 2, r) * es;
	char *d = c->out[0].data;
	const char *s = x->data;
	for (int64_t bi = 0; bi < B; bi++) {
		int64_t len = ival(L, bi);
		if (len < 0 || len > T)
			return kerr(c, "ReverseSequence: sequence_lens[%lld] = %lld outside [0, %lld]",
			            (long long)bi, (long long)len, (long long)T);
		for (int64_t t = 0; t < T; t++) {
			int64_t st = t < len ? len - 1 - t : t;
			int64_t o = ba == 0 ? bi * T + t : t * B + bi;
			int64_t i = ba == 0 ? bi * T + st : st * B + bi;
			if (inner)
				memcpy(d + (size_t)o * inner, s + (size_t)i * inner, inner);
		}
	}
	return 0;
}
