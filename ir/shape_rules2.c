/* Shape and dtype rules (sh_* of ops.def) for data-movement ops: casts,
 * reshapes, concat/split/slice/gather. Known values (Value.sv) are carried
 * through so PyTorch-style shape arithmetic resolves to symbolic dims. */
#include <string.h>
#include "shape.h"

#define TSTR(v, b) sh_tstr(g, (v), (b), sizeof(b))
#define HUGE_IDX ((int64_t)1 << 40)   /* slice bounds beyond this mean "to the end" */

/* ---- casts ------------------------------------------------------------- */

/* Copy input 0's known values to output 0 converted to dtype dt. */
static void cast_sv(Graph *g, Node *n, int dt)
{
	Value *x = sh_in(g, n, 0);
	if (x->nsv < 0 || !(dt_is_int(dt) || dt == DT_BOOL) || !(dt_is_int(x->dt) || x->dt == DT_BOOL))
		return;
	Dim v[IR_MAXSV];
	for (int i = 0; i < x->nsv; i++) {
		int64_t t;
		if (dt == DT_BOOL) {
			if (!ir_sv_lit(g, x->sv[i], &t))
				return;
			v[i] = t != 0;
		} else {
			v[i] = x->sv[i];
		}
	}
	sh_set_sv(g, n, 0, v, x->nsv);
}

int sh_cast(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int64_t to = ir_attr_i(n, "to", -1);
	static const char *const newer[] = {"float8e4m3fn", "float8e4m3fnuz", "float8e5m2",
		"float8e5m2fnuz", "uint4", "int4", "float4e2m1", "float8e8m0", "uint2", "int2"};
	if (to >= 17 && to <= 26)      /* ONNX IR 9+ element types: no kernels */
		return ir_node_error(d, g, n, E_MODEL, "cast to %s (element type %lld) is not supported",
		                     newer[to - 17], (long long)to);
	if (to <= DT_UNDEF || to >= DT_COUNT)
		return ir_node_error(d, g, n, E_MODEL, "missing or unknown 'to' dtype %lld", (long long)to);
	int rc = sh_out(g, n, d, 0, (int)to, &x->shape);
	if (!rc)
		cast_sv(g, n, (int)to);
	return rc;
}

int sh_castlike(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int dt = sh_in(g, n, 1)->dt;
	int rc = sh_out(g, n, d, 0, dt, &x->shape);
	if (!rc)
		cast_sv(g, n, dt);
	return rc;
}

/* Dropout: output, and a mask (bool from opset 10, the input's type before). */
int sh_dropout(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int rc = sh_out(g, n, d, 0, x->dt, &x->shape);
	return rc ? rc : sh_out(g, n, d, 1, n->opset >= 10 ? DT_BOOL : x->dt, &x->shape);
}

/* ---- reshapes ---------------------------------------------------------- */

/* Append the factors of d (splitting products) to f. */
static void factors(const Graph *g, Dim d, Dim *f, int *nf, int64_t *c)
{
	if (d >= 0) {
		if (*c < 0)
			return;
		if (__builtin_mul_overflow(*c, d, c) || *c > SH_MAXDIM)
			*c = -1;   /* marks overflow */
		return;
	}
	const DimExpr *x = &g->dim[DIM_IDX(d)];
	if (x->op == DX_MUL && *nf < 4 * IR_MAXRANK) {
		factors(g, x->a, f, nf, c);
		factors(g, x->b, f, nf, c);
		return;
	}
	if (*nf < 4 * IR_MAXRANK)
		f[(*nf)++] = d;
}

/* num / den over dims, cancelling common factors: Reshape's -1. Returns
 * false when static sizes do not divide. */
static bool dim_quot(Graph *g, const Shape *num, const Dim *den, int nden, Dim *out)
{
	Dim fn[4 * IR_MAXRANK], fd[4 * IR_MAXRANK];
	int nn = 0, nd = 0;
	int64_t cn = 1, cd = 1;
	for (int i = 0; i < num->rank; i++)
		factors(g, num->d[i], fn, &nn, &cn);
	for (int i = 0; i < nden; i++)
		factors(g, den[i], fd, &nd, &cd);
	for (int i = 0; i < nd; i++)
		for (int j = 0; j < nn; j++)
			if (fn[j] == fd[i]) {
				fn[j] = fn[--nn];
				fd[i--] = fd[--nd];
				break;
			}
	if (cd <= 0 || cn < 0)
		return false;
	if (nd == 0 && cn % cd != 0 && nn == 0)
		return false;
	Dim a = 1, b = 1;
	for (int i = 0; i < nn; i++)
		a = ir_dim_bin(g, DX_MUL, a, fn[i]);
	for (int i = 0; i < nd; i++)
		b = ir_dim_bin(g, DX_MUL, b, fd[i]);
	if (nd == 0 && cn % cd == 0) {
		*out = ir_dim_bin(g, DX_MUL, a, cn / cd);
		return true;
	}
	*out = ir_dim_bin(g, DX_DIV, ir_dim_bin(g, DX_MUL, a, cn), ir_dim_bin(g, DX_MUL, b, cd));
	return true;
}

int sh_reshape(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char b1[256];
	Dim v[IR_MAXRANK + 1];
	int k = sh_dims(g, n, 1, v, IR_MAXRANK + 1);
	Shape s;
	if (k < 0) {
		int64_t len = sh_len1d(g, n, 1);
		if (len < 0)
			return ir_node_error(d, g, n, E_MODEL, "rank of output depends on run-time data (unsupported)");
		if (len > IR_MAXRANK)
			return ir_node_error(d, g, n, E_MODEL, "shape has %lld entries (at most %d)", (long long)len, IR_MAXRANK);
		s.rank = (int)len;
		for (int i = 0; i < s.rank; i++)
			s.d[i] = ir_dim_fresh(g);
		return sh_out(g, n, d, 0, x->dt, &s);
	}
	if (k > IR_MAXRANK)
		return ir_node_error(d, g, n, E_MODEL, "shape has %d entries (at most %d)", k, IR_MAXRANK);
	bool allowzero = n->opset >= 14 && ir_attr_i(n, "allowzero", 0);
	int infer = -1;
	s.rank = k;
	for (int i = 0; i < k; i++) {
		int64_t t;
		s.d[i] = v[i];
		if (!ir_sv_lit(g, v[i], &t))
			continue;
		if (t == 0 && !allowzero) {
			if (i >= x->shape.rank)
				return ir_node_error(d, g, n, E_MODEL, "shape entry %d is 0 (copy) but input %s has rank %d",
				                     i, TSTR(x, b1), x->shape.rank);
			s.d[i] = x->shape.d[i];
		} else if (t == -1) {
			if (infer >= 0)
				return ir_node_error(d, g, n, E_MODEL, "shape has more than one -1");
			infer = i;
		} else if (t < 0) {
			return ir_node_error(d, g, n, E_MODEL, "shape entry %d is %lld", i, (long long)t);
		}
	}
	char b2[256];
	Dim rest[IR_MAXRANK];
	int nr = 0;
	for (int i = 0; i < k; i++)
		if (i != infer)
			rest[nr++] = s.d[i];
	if (infer >= 0) {
		if (!dim_quot(g, &x->shape, rest, nr, &s.d[infer]))
			return ir_node_error(d, g, n, E_MODEL, "cannot reshape %s: the other dims do not "
			                     "divide its size for entry %d (-1)", TSTR(x, b1), infer);
	} else if (ir_shape_static(&x->shape) && ir_shape_static(&s)) {
		bool ok = true;
		Dim a = sh_numel(g, &x->shape, &ok), b = sh_numel(g, &s, &ok);
		if (!ok || a != b) {
			Value y = {.dt = x->dt, .shape = s};
			return ir_node_error(d, g, n, E_MODEL, "cannot reshape %s to %s", TSTR(x, b1), TSTR(&y, b2));
		}
	}
	int rc = sh_out(g, n, d, 0, x->dt, &s);
	if (!rc && x->nsv >= 0 && s.rank <= 1)
		sh_set_sv(g, n, 0, x->sv, x->nsv);
	return rc;
}

int sh_flatten(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int r = x->shape.rank;
	int64_t ax = ir_attr_i(n, "axis", 1);
	if (ax < 0)
		ax += r;
	if (ax < 0 || ax > r)
		return ir_node_error(d, g, n, E_MODEL, "axis %lld out of range for rank %d",
		                     (long long)ir_attr_i(n, "axis", 1), r);
	Shape a = {.rank = (int)ax}, b = {.rank = r - (int)ax};
	memcpy(a.d, x->shape.d, ax * sizeof(Dim));
	memcpy(b.d, x->shape.d + ax, (r - ax) * sizeof(Dim));
	bool ok = true;
	Shape s = {.rank = 2, .d = {sh_numel(g, &a, &ok), sh_numel(g, &b, &ok)}};
	if (!ok)
		return ir_node_error(d, g, n, E_MODEL, "output dims too large");
	return sh_out(g, n, d, 0, x->dt, &s);
}

/* Axes of Squeeze/Unsqueeze: input 1 from opset 13, else the attribute.
 * Returns the count, -1 if absent, -2 if given but unknown (*len: count if
 * the input's length is known, else -1). */
static int axes_of(Graph *g, Node *n, int64_t *ax, int max, int64_t *len)
{
	*len = -1;
	if (sh_in(g, n, 1)) {
		int k = sh_ints(g, n, 1, ax, max);
		if (k >= 0)
			return k;
		*len = sh_len1d(g, n, 1);
		return -2;
	}
	return sh_attr_ints(n, "axes", ax, max);
}

int sh_squeeze(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char b[256];
	int r = x->shape.rank, rc;
	int64_t ax[IR_MAXRANK + 1], len;
	int k = axes_of(g, n, ax, IR_MAXRANK + 1, &len);
	Shape s = {.rank = 0};
	bool drop[IR_MAXRANK] = {0};
	if (k == -2) {
		if (len < 0 || len > r)
			return ir_node_error(d, g, n, E_MODEL, "rank of output depends on run-time data (unsupported)");
		s.rank = r - (int)len;
		for (int i = 0; i < s.rank; i++)
			s.d[i] = ir_dim_fresh(g);
		return sh_out(g, n, d, 0, x->dt, &s);
	}
	if (k < 0 || (k == 0 && sh_in(g, n, 1))) {
		/* No axes: drop every dim of size 1. A symbolic dim is assumed
		 * not to be 1 (PyTorch's x.squeeze() on [batch,C,1,1] drops the
		 * 1s, not the batch); the compiled model checks that assumption
		 * at run time (codegen/emit.c) and fails clearly if batch is 1. */
		for (int i = 0; i < r; i++)
			drop[i] = x->shape.d[i] == 1;
	}
	for (int i = 0; i < k; i++) {
		int a;
		if ((rc = sh_axis(g, n, d, ax[i], r, "axis", &a)))
			return rc;
		if (x->shape.d[a] >= 0 && x->shape.d[a] != 1)
			return ir_node_error(d, g, n, E_MODEL, "cannot squeeze dim %d of %s (not 1)", a, TSTR(x, b));
		drop[a] = true;
	}
	for (int i = 0; i < r; i++)
		if (!drop[i])
			s.d[s.rank++] = x->shape.d[i];
	rc = sh_out(g, n, d, 0, x->dt, &s);
	if (!rc && x->nsv >= 0 && s.rank <= 1)
		sh_set_sv(g, n, 0, x->sv, x->nsv);
	return rc;
}

int sh_unsqueeze(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int r = x->shape.rank, rc;
	int64_t ax[IR_MAXRANK + 1], len;
	int k = axes_of(g, n, ax, IR_MAXRANK + 1, &len);
	if (k == -2) {
		/* which axes is unknown: only the rank is */
		if (len < 0 || r + len > IR_MAXRANK)
			return ir_node_error(d, g, n, E_MODEL, "rank of output depends on run-time data (unsupported)");
		Shape s = {.rank = r + (int)len};
		for (int i = 0; i < s.rank; i++)
			s.d[i] = ir_dim_fresh(g);
		return sh_out(g, n, d, 0, x->dt, &s);
	}
	if (k < 0)
		return ir_node_error(d, g, n, E_MODEL, "missing axes");
	int ro = r + k;
	if (ro > IR_MAXRANK)
		return ir_node_error(d, g, n, E_MODEL, "output rank %d too large", ro);
	bool ins[IR_MAXRANK] = {0};
	for (int i = 0; i < k; i++) {
		int a;
		if ((rc = sh_axis(g, n, d, ax[i], ro, "axis", &a)))
			return rc;
		if (ins[a])
			return ir_node_error(d, g, n, E_MODEL, "axis %d repeated", a);
		ins[a] = true;
	}
	Shape s = {.rank = ro};
	for (int i = 0, j = 0; i < ro; i++)
		s.d[i] = ins[i] ? 1 : x->shape.d[j++];
	rc = sh_out(g, n, d, 0, x->dt, &s);
	if (!rc && x->nsv >= 0 && s.rank <= 1)
		sh_set_sv(g, n, 0, x->sv, x->nsv);
	return rc;
}

int sh_transpose(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int r = x->shape.rank;
	int64_t p[IR_MAXRANK + 1];
	int k = sh_attr_ints(n, "perm", p, IR_MAXRANK + 1);
	if (k < 0)
		for (int i = 0; i < (k = r); i++)
			p[i] = r - 1 - i;
	if (k != r)
		return ir_node_error(d, g, n, E_MODEL, "perm has %d entries for rank %d", k, r);
	bool seen[IR_MAXRANK] = {0};
	Shape s = {.rank = r};
	for (int i = 0; i < r; i++) {
		if (p[i] < 0 || p[i] >= r || seen[p[i]])
			return ir_node_error(d, g, n, E_MODEL, "perm is not a permutation of 0..%d", r - 1);
		seen[p[i]] = true;
		s.d[i] = x->shape.d[p[i]];
	}
	return sh_out(g, n, d, 0, x->dt, &s);
}

/* ---- concat, split, slice, gather -------------------------------------- */

int sh_concat(Graph *g, Node *n, Diag *d)
{
	Value *x0 = sh_in(g, n, 0);
	char b1[256], b2[256];
	if (!ir_attr(n, "axis"))
		return ir_node_error(d, g, n, E_MODEL, "missing axis attribute");
	int r = x0->shape.rank, ax, rc;
	if ((rc = sh_axis(g, n, d, ir_attr_i(n, "axis", 0), r, "axis", &ax)))
		return rc;
	Shape s = x0->shape;
	bool ok = true, sv = true;
	s.d[ax] = 0;
	Dim v[IR_MAXSV];
	int nv = 0;
	for (int i = 0; i < n->nin; i++) {
		Value *x = sh_in(g, n, i);
		if (!x)
			return ir_node_error(d, g, n, E_MODEL, "input %d is missing", i);
		if (x->dt != x0->dt || x->shape.rank != r)
			return ir_node_error(d, g, n, E_MODEL, "inputs %s and %s do not concatenate",
			                     TSTR(x0, b1), TSTR(x, b2));
		for (int j = 0; j < r; j++)
			if (j != ax)
				s.d[j] = sh_unify(s.d[j], x->shape.d[j], &ok);
		if (!ok)
			return ir_node_error(d, g, n, E_MODEL, "inputs %s and %s do not concatenate on axis %d",
			                     TSTR(x0, b1), TSTR(x, b2), ax);
		s.d[ax] = ir_dim_bin(g, DX_ADD, s.d[ax], x->shape.d[ax]);
		if (x->nsv < 0 || nv + x->nsv > IR_MAXSV)
			sv = false;
		else {
			memcpy(v + nv, x->sv, x->nsv * sizeof(Dim));
			nv += x->nsv;
		}
	}
	rc = sh_out(g, n, d, 0, x0->dt, &s);
	if (!rc && sv && r == 1)
		sh_set_sv(g, n, 0, v, nv);
	return rc;
}

int sh_split(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char b[256];
	int r = x->shape.rank, ax, rc, no = n->nout;
	if ((rc = sh_axis(g, n, d, ir_attr_i(n, "axis", 0), r, "axis", &ax)))
		return rc;
	Dim dim = x->shape.d[ax];
	int64_t sp[256];
	int k;
	bool unknown = false;
	if (sh_in(g, n, 1)) {
		k = sh_ints(g, n, 1, sp, 256);
		unknown = k < 0;
	} else {
		k = sh_attr_ints(n, "split", sp, 256);
	}
	Dim out[256];
	if (no > 256)
		return ir_node_error(d, g, n, E_MODEL, "too many outputs");
	if (unknown) {
		for (int i = 0; i < no; i++)
			out[i] = ir_dim_fresh(g);
	} else if (k >= 0) {
		if (k != no)
			return ir_node_error(d, g, n, E_MODEL, "split has %d entries for %d outputs", k, no);
		int64_t sum = 0;
		for (int i = 0; i < k; i++) {
			if (sp[i] < 0 || sp[i] > SH_MAXDIM)
				return ir_node_error(d, g, n, E_MODEL, "split %lld out of range", (long long)sp[i]);
			sum += sp[i];
			out[i] = sp[i];
		}
		if (dim >= 0 && sum != dim)
			return ir_node_error(d, g, n, E_MODEL, "split sums to %lld but axis %d of %s is %lld",
			                     (long long)sum, ax, TSTR(x, b), (long long)dim);
	} else {
		int64_t parts = ir_attr_i(n, "num_outputs", no);
		if (parts != no)
			return ir_node_error(d, g, n, E_MODEL, "num_outputs %lld but %d outputs", (long long)parts, no);
		if (dim >= 0) {
			int64_t c = (dim + no - 1) / no;
			if (dim % no && n->opset < 18)
				return ir_node_error(d, g, n, E_MODEL, "axis %d of %s does not split into %d equal parts",
				                     ax, TSTR(x, b), no);
			for (int i = 0; i < no; i++)
				out[i] = dim - i * c >= c ? c : (dim - i * c > 0 ? dim - i * c : 0);
		} else {
			for (int i = 0; i < no; i++)
				out[i] = ir_dim_bin(g, DX_DIV, dim, no);
		}
	}
	int64_t off = 0;
	for (int i = 0; i < no; i++) {
		Shape s = x->shape;
		s.d[ax] = out[i];
		if ((rc = sh_out(g, n, d, i, x->dt, &s)))
			return rc;
		if (x->nsv >= 0 && r == 1 && out[i] >= 0 && off + out[i] <= x->nsv)
			sh_set_sv(g, n, i, x->sv + off, (int)out[i]);
		off += out[i] >= 0 ? out[i] : 0;
	}
	return 0;
}

/* Length of x[start:end:step] along a dim of size dim. */
static bool slice_len(Graph *g, Dim dim, int64_t st, int64_t en, int64_t step, Dim *out)
{
	if (dim >= 0) {
		int64_t n = dim;
		if (st < 0) st += n;
		if (en < 0) en += n;
		if (step > 0) {
			st = st < 0 ? 0 : st > n ? n : st;
			en = en < 0 ? 0 : en > n ? n : en;
			*out = en > st ? (en - st - 1) / step + 1 : 0;
		} else {
			st = st < 0 ? 0 : st > n - 1 ? n - 1 : st;
			en = en < -1 ? -1 : en > n - 1 ? n - 1 : en;
			*out = st > en ? (st - en - 1) / -(step < -SH_MAXDIM ? -SH_MAXDIM : step) + 1 : 0;
		}
		return true;
	}
	Dim len;
	if (step > 0) {
		/* positions as (relative to the end?, offset) */
		bool se = st < 0, ee = en < 0 || en >= HUGE_IDX;
		int64_t so = st, eo = en >= HUGE_IDX ? 0 : en;
		if (st >= HUGE_IDX || st <= -HUGE_IDX)
			return false;
		if (en <= -HUGE_IDX) {
			*out = 0;
			return true;
		}
		if (se == ee) {
			int64_t l = eo - so;
			len = l > 0 ? l : 0;
			if (!se && l > 0)   /* both from the start: the dim may be shorter */
				len = ir_dim_bin(g, DX_SUB, ir_dim_bin(g, DX_MIN, dim, eo),
				                 ir_dim_bin(g, DX_MIN, dim, so));
		} else if (!se && ee) {
			sh_addk(g, dim, eo - so, &len);
		} else {
			return false;
		}
		*out = step == 1 ? len : ir_dim_bin(g, DX_CDIV, len, step);
		return true;
	}
	/* negative steps: only the full reversal is symbolic */
	if ((st == -1 || st >= HUGE_IDX) && en <= -HUGE_IDX) {
		*out = step == -1 ? dim : ir_dim_bin(g, DX_CDIV, dim, -step);
		return true;
	}
	return false;
}

int sh_slice(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int r = x->shape.rank, rc;
	int64_t st[IR_MAXRANK], en[IR_MAXRANK], ax[IR_MAXRANK], sp[IR_MAXRANK];
	int ns, ne, na, nsp;
	bool known = true, axes_known = true;
	if (n->opset < 10 && n->nin == 1) {
		ns = sh_attr_ints(n, "starts", st, IR_MAXRANK);
		ne = sh_attr_ints(n, "ends", en, IR_MAXRANK);
		na = sh_attr_ints(n, "axes", ax, IR_MAXRANK);
		nsp = -1;
		if (ns < 0 || ne < 0)
			return ir_node_error(d, g, n, E_MODEL, "missing or bad starts/ends attributes");
	} else {
		ns = sh_ints(g, n, 1, st, IR_MAXRANK);
		ne = sh_ints(g, n, 2, en, IR_MAXRANK);
		na = sh_in(g, n, 3) ? sh_ints(g, n, 3, ax, IR_MAXRANK) : -1;
		nsp = sh_in(g, n, 4) ? sh_ints(g, n, 4, sp, IR_MAXRANK) : -1;
		if (sh_in(g, n, 3) && na < 0)
			axes_known = false;
		if (ns < 0 || ne < 0 || (sh_in(g, n, 4) && nsp < 0))
			known = false;
		if (!known && axes_known && na < 0) {
			int64_t len = sh_len1d(g, n, 1);
			if (len >= 0 && len <= r) {
				na = (int)len;
				for (int i = 0; i < na; i++)
					ax[i] = i;
			}
		}
	}
	Shape s = x->shape;
	if (!axes_known || (!known && na < 0)) {
		for (int i = 0; i < r; i++)
			s.d[i] = ir_dim_fresh(g);
		return sh_out(g, n, d, 0, x->dt, &s);
	}
	if (na < 0) {
		na = known ? ns : 0;
		for (int i = 0; i < na; i++)
			ax[i] = i;
	}
	if (known && (ns != ne || ns != na || (nsp >= 0 && nsp != ns)))
		return ir_node_error(d, g, n, E_MODEL, "starts/ends/axes/steps lengths differ (%d/%d/%d/%d)",
		                     ns, ne, na, nsp);
	bool seen[IR_MAXRANK] = {0};
	int axn[IR_MAXRANK];
	for (int i = 0; i < na; i++) {
		if ((rc = sh_axis(g, n, d, ax[i], r, "axis", &axn[i])))
			return rc;
		if (seen[axn[i]])
			return ir_node_error(d, g, n, E_MODEL, "axis %d repeated", axn[i]);
		seen[axn[i]] = true;
		if (!known) {
			s.d[axn[i]] = ir_dim_fresh(g);
			continue;
		}
		int64_t step = nsp >= 0 ? sp[i] : 1;
		if (step == 0)
			return ir_node_error(d, g, n, E_MODEL, "slice step is 0");
		if (!slice_len(g, x->shape.d[axn[i]], st[i], en[i], step, &s.d[axn[i]]))
			s.d[axn[i]] = ir_dim_fresh(g);
	}
	rc = sh_out(g, n, d, 0, x->dt, &s);
	/* known values of a sliced 1-D shape tensor */
	if (!rc && known && r == 1 && x->nsv >= 0 && na == 1 && s.d[0] >= 0) {
		int64_t step = nsp >= 0 ? sp[0] : 1, b = st[0], nn = x->nsv;
		if (b < 0) b += nn;
		if (step > 0) b = b < 0 ? 0 : b > nn ? nn : b;
		else b = b < 0 ? 0 : b > nn - 1 ? nn - 1 : b;
		Dim v[IR_MAXSV];
		for (int64_t i = 0; i < s.d[0]; i++)
			v[i] = x->sv[b + i * step];
		sh_set_sv(g, n, 0, v, (int)s.d[0]);
	}
	return rc;
}

int sh_gather(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0), *ix = sh_in(g, n, 1);
	char b1[256], b2[256];
	int r = x->shape.rank, q = ix->shape.rank, ax, rc;
	if (r < 1)
		return ir_node_error(d, g, n, E_MODEL, "data %s is a scalar", TSTR(x, b1));
	if ((rc = sh_axis(g, n, d, ir_attr_i(n, "axis", 0), r, "axis", &ax)))
		return rc;
	if (ix->dt != DT_I32 && ix->dt != DT_I64)
		return ir_node_error(d, g, n, E_MODEL, "indices %s are not i32/i64", TSTR(ix, b2));
	if (r + q - 1 > IR_MAXRANK)
		return ir_node_error(d, g, n, E_MODEL, "output rank %d too large", r + q - 1);
	Shape s = {.rank = r + q - 1};
	memcpy(s.d, x->shape.d, ax * sizeof(Dim));
	memcpy(s.d + ax, ix->shape.d, q * sizeof(Dim));
	memcpy(s.d + ax + q, x->shape.d + ax + 1, (r - ax - 1) * sizeof(Dim));
	if ((rc = sh_out(g, n, d, 0, x->dt, &s)))
		return rc;
	int64_t iv[IR_MAXSV];
	int k;
	if (x->nsv >= 0 && r == 1 && q <= 1 && (k = sh_ints(g, n, 1, iv, IR_MAXSV)) >= 0) {
		Dim v[IR_MAXSV];
		for (int i = 0; i < k; i++) {
			int64_t j = iv[i] < 0 ? iv[i] + x->nsv : iv[i];
			if (j < 0 || j >= x->nsv)
				return ir_node_error(d, g, n, E_MODEL, "index %lld out of range for %s",
				                     (long long)iv[i], TSTR(x, b1));
			v[i] = x->sv[j];
		}
		sh_set_sv(g, n, 0, v, k);
	}
	return 0;
}

int sh_gatherelements(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0), *ix = sh_in(g, n, 1);
	char b1[256], b2[256];
	int ax, rc;
	if (x->shape.rank != ix->shape.rank || x->shape.rank < 1)
		return ir_node_error(d, g, n, E_MODEL, "data %s and indices %s differ in rank",
		                     TSTR(x, b1), TSTR(ix, b2));
	if ((rc = sh_axis(g, n, d, ir_attr_i(n, "axis", 0), x->shape.rank, "axis", &ax)))
		return rc;
	return sh_out(g, n, d, 0, x->dt, &ix->shape);
}

int sh_gathernd(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0), *ix = sh_in(g, n, 1);
	char b1[256], b2[256];
	int r = x->shape.rank, q = ix->shape.rank;
	int64_t bd = ir_attr_i(n, "batch_dims", 0);
	if (q < 1 || r < 1 || bd < 0 || bd >= q || bd >= r)
		return ir_node_error(d, g, n, E_MODEL, "bad ranks: data %s, indices %s, batch_dims %lld",
		                     TSTR(x, b1), TSTR(ix, b2), (long long)bd);
	Dim k = ix->shape.d[q - 1];
	if (k < 0)
		return ir_node_error(d, g, n, E_MODEL, "last dim of indices %s must be static", TSTR(ix, b2));
	if (bd + k > r)
		return ir_node_error(d, g, n, E_MODEL, "indices %s index too many dims of %s",
		                     TSTR(ix, b2), TSTR(x, b1));
	Shape s = {.rank = q - 1 + r - (int)(bd + k)};
	if (s.rank > IR_MAXRANK)
		return ir_node_error(d, g, n, E_MODEL, "output rank too large");
	memcpy(s.d, ix->shape.d, (q - 1) * sizeof(Dim));
	memcpy(s.d + q - 1, x->shape.d + bd + k, (r - bd - k) * sizeof(Dim));
	return sh_out(g, n, d, 0, x->dt, &s);
}
