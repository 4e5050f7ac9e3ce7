/* Shape and dtype rules (sh_* of ops.def) for ops that take or make shape
 * tensors: Expand, Tile, Pad, Shape, Size, ConstantOfShape, Range, EyeLike,
 * OneHot, DepthToSpace/SpaceToDepth (ONNX opsets 7-17). */
#include <string.h>
#include "shape.h"

#define TSTR(v, b) sh_tstr(g, (v), (b), sizeof(b))

/* ---- expand, tile, pad ------------------------------------------------- */

/* Shape input i as dims, or fresh dims when its values are unknown but its
 * length is. Returns the rank, or -1 (error set). */
static int shape_input(Graph *g, Node *n, Diag *d, int i, Dim *v)
{
	int k = sh_dims(g, n, i, v, IR_MAXRANK + 1);
	if (k < 0) {
		int64_t len = sh_len1d(g, n, i);
		if (len < 0)
			return ir_node_error(d, g, n, E_MODEL, "rank of output depends on run-time data (unsupported)"), -1;
		if (len > IR_MAXRANK)
			return ir_node_error(d, g, n, E_MODEL, "shape has %lld entries (at most %d)", (long long)len, IR_MAXRANK), -1;
		for (k = 0; k < len; k++)
			v[k] = ir_dim_fresh(g);
	}
	if (k > IR_MAXRANK)
		return ir_node_error(d, g, n, E_MODEL, "shape has %d entries (at most %d)", k, IR_MAXRANK), -1;
	for (int j = 0; j < k; j++) {
		int64_t t;
		if (ir_sv_lit(g, v[j], &t) && t < 0)
			return ir_node_error(d, g, n, E_MODEL, "shape entry %d is negative (%lld)", j, (long long)t), -1;
	}
	return k;
}

int sh_expand(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	Dim v[IR_MAXRANK + 1];
	bool unknown = sh_dims(g, n, 1, v, IR_MAXRANK + 1) < 0;
	int k = shape_input(g, n, d, 1, v);
	if (k < 0)
		return d->code;
	Value t = {.dt = x->dt, .shape = {.rank = k}};
	memcpy(t.shape.d, v, k * sizeof(Dim));
	Shape s;
	int rc = sh_bcast2(g, n, d, x, &t, &s);
	if (rc)
		return rc;
	/* Unknown target dims: the input's if static and not 1, else a symbol
	 * of their own (plain, so it is bound when this node runs). */
	for (int i = 0; unknown && i < s.rank; i++) {
		int j = i - (s.rank - x->shape.rank);
		Dim xd = j >= 0 ? x->shape.d[j] : 1;
		s.d[i] = xd >= 0 && xd != 1 ? xd : (i - (s.rank - k) >= 0 ? v[i - (s.rank - k)] : xd);
	}
	return sh_out(g, n, d, 0, x->dt, &s);
}

int sh_tile(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	Dim v[IR_MAXRANK + 1];
	int r = x->shape.rank;
	int k = sh_dims(g, n, 1, v, IR_MAXRANK + 1);
	if (k >= 0 && k != r)
		return ir_node_error(d, g, n, E_MODEL, "repeats has %d entries for rank %d", k, r);
	Shape s = {.rank = r};
	for (int i = 0; i < r; i++) {
		int64_t t;
		if (k >= 0 && ir_sv_lit(g, v[i], &t) && t < 0)
			return ir_node_error(d, g, n, E_MODEL, "negative repeat %lld", (long long)t);
		bool ok = true;
		s.d[i] = k < 0 ? ir_dim_fresh(g) : sh_mul(g, x->shape.d[i], v[i], &ok);
		if (!ok)
			return ir_node_error(d, g, n, E_MODEL, "repeat makes dim %d too large", i);
	}
	return sh_out(g, n, d, 0, x->dt, &s);
}

int sh_pad(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char b[256];
	int r = x->shape.rank, k, na = r, rc;
	int64_t p[2 * IR_MAXRANK + 1], ax[IR_MAXRANK + 1];
	if (!sh_in(g, n, 1)) {
		k = sh_attr_ints(n, "pads", p, 2 * IR_MAXRANK + 1);
		if (k < 0)
			k = sh_attr_ints(n, "paddings", p, 2 * IR_MAXRANK + 1);
		if (k < 0)
			return ir_node_error(d, g, n, E_MODEL, "missing pads");
	} else {
		k = sh_ints(g, n, 1, p, 2 * IR_MAXRANK + 1);
	}
	for (int i = 0; i < r; i++)
		ax[i] = i;
	if (sh_in(g, n, 3)) {
		na = sh_ints(g, n, 3, ax, IR_MAXRANK + 1);
		if (na < 0)
			k = -1;   /* which axes is unknown */
	}
	Shape s = x->shape;
	if (k < 0) {
		for (int i = 0; i < r; i++)
			s.d[i] = ir_dim_fresh(g);
		return sh_out(g, n, d, 0, x->dt, &s);
	}
	if (k != 2 * na)
		return ir_node_error(d, g, n, E_MODEL, "pads has %d entries, expected %d", k, 2 * na);
	for (int i = 0; i < na; i++) {
		int a;
		if ((rc = sh_axis(g, n, d, ax[i], r, "axis", &a)))
			return rc;
		if (p[i] > SH_MAXDIM || p[i] < -SH_MAXDIM || p[na + i] > SH_MAXDIM || p[na + i] < -SH_MAXDIM ||
		    !sh_addk(g, x->shape.d[a], p[i] + p[na + i], &s.d[a]))
			return ir_node_error(d, g, n, E_MODEL, "pads %lld,%lld make dim %d of %s negative",
			                     (long long)p[i], (long long)p[na + i], a, TSTR(x, b));
	}
	return sh_out(g, n, d, 0, x->dt, &s);
}

/* ---- shape tensors ----------------------------------------------------- */

int sh_shape(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int64_t r = x->shape.rank, st = ir_attr_i(n, "start", 0), en = ir_attr_i(n, "end", r);
	if (st < 0) st += r;
	if (en < 0) en += r;
	st = st < 0 ? 0 : st > r ? r : st;
	en = en < 0 ? 0 : en > r ? r : en;
	int64_t len = en > st ? en - st : 0;
	Shape s = {.rank = 1, .d = {len}};
	int rc = sh_out(g, n, d, 0, DT_I64, &s);
	if (!rc)
		sh_set_sv(g, n, 0, x->shape.d + st, (int)len);
	return rc;
}

int sh_size(Graph *g, Node *n, Diag *d)
{
	Shape s = {.rank = 0};
	int rc = sh_out(g, n, d, 0, DT_I64, &s);
	if (!rc) {
		bool ok = true;
		Dim v = sh_numel(g, &sh_in(g, n, 0)->shape, &ok);
		if (!ok)
			return ir_node_error(d, g, n, E_MODEL, "size too large");
		sh_set_sv(g, n, 0, &v, 1);
	}
	return rc;
}

int sh_constantofshape(Graph *g, Node *n, Diag *d)
{
	Dim v[IR_MAXRANK + 1];
	const Attr *a = ir_attr(n, "value");
	int dt = DT_F32;
	const Value *cv = NULL;
	if (a) {
		if (a->kind != AK_TENSOR || a->t >= g->nval)
			return ir_node_error(d, g, n, E_MODEL, "attribute value is not a tensor");
		cv = &g->val[a->t];
		dt = cv->dt;
	}
	int k = shape_input(g, n, d, 0, v);
	if (k < 0)
		return d->code;
	Shape s = {.rank = k};
	memcpy(s.d, v, k * sizeof(Dim));
	int rc = sh_out(g, n, d, 0, dt, &s);
	if (rc || !(dt_is_int(dt) || dt == DT_BOOL) || k > 1 || !ir_shape_static(&s))
		return rc;
	int64_t cnt = k ? s.d[0] : 1, val = 0;
	if (cnt > IR_MAXSV)
		return 0;
	if (cv) {
		if (!cv->data || !dt_size(dt))
			return 0;
		val = dt_load_i(dt, cv->data, 0);
	}
	Dim sv[IR_MAXSV];
	for (int64_t i = 0; i < cnt; i++)
		sv[i] = ir_sv_mk(g, val);
	sh_set_sv(g, n, 0, sv, (int)cnt);
	return 0;
}

int sh_range(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char b[256];
	for (int i = 0; i < 3; i++)
		if (sh_in(g, n, i)->shape.rank > 1 || sh_len1d(g, n, i) != 1)
			return ir_node_error(d, g, n, E_MODEL, "input %d %s is not a scalar", i,
			                     TSTR(sh_in(g, n, i), b));
	Shape s = {.rank = 1};
	double f0, f1, f2;
	Dim lim[2];
	int64_t i0, i2;
	bool isint = dt_is_int(x->dt), lit = false;
	if (sh_scalar_f(g, n, 0, &f0) && sh_scalar_f(g, n, 1, &f1) && sh_scalar_f(g, n, 2, &f2)) {
		if (f2 == 0)
			return ir_node_error(d, g, n, E_MODEL, "delta is 0");
		int64_t i1;
		if (isint && sh_ints(g, n, 0, &i0, 1) == 1 && sh_ints(g, n, 1, &i1, 1) == 1 &&
		    sh_ints(g, n, 2, &i2, 1) == 1) {
			int64_t num, cnt = 0;
			if (__builtin_sub_overflow(i1, i0, &num) || i2 == INT64_MIN)
				return ir_node_error(d, g, n, E_MODEL, "range too large");
			if (i2 > 0 && num > 0)
				cnt = (num - 1) / i2 + 1;
			else if (i2 < 0 && num < 0)
				cnt = (-(num + 1)) / -i2 + 1;
			s.d[0] = cnt;
			lit = true;
		} else {
			double c = __builtin_ceil((f1 - f0) / f2);
			if (!(c <= (double)SH_MAXDIM) && c == c && c > 0)
				c = (double)SH_MAXDIM + 1;   /* rejected by sh_out */
			s.d[0] = c > 0 ? (int64_t)c : 0;
		}
	} else if (isint && sh_ints(g, n, 0, &i0, 1) == 1 && sh_ints(g, n, 2, &i2, 1) == 1 && i2 > 0 &&
	           sh_dims(g, n, 1, lim, 1) == 1) {
		Dim num;
		sh_addk(g, lim[0], -i0, &num);
		s.d[0] = i2 == 1 ? num : ir_dim_bin(g, DX_CDIV, num, i2);
	} else if (isint && sh_ints(g, n, 2, &i2, 1) == 1 && i2 == 1 && sh_dims(g, n, 0, lim, 1) == 1 &&
	           sh_dims(g, n, 1, lim + 1, 1) == 1 && lim[0] < 0 && lim[1] < 0) {
		/* Range(start, start + n, 1) over symbolic dims has n elements; any
		 * other difference is not known to be >= 0 */
		Dim num = ir_dim_bin(g, DX_SUB, lim[1], lim[0]);
		s.d[0] = num >= 0 || g->dim[DIM_IDX(num)].op != DX_SUB ? num : ir_dim_fresh(g);
	} else {
		s.d[0] = ir_dim_fresh(g);
	}
	int rc = sh_out(g, n, d, 0, x->dt, &s);
	if (!rc && lit && s.d[0] <= IR_MAXSV) {
		Dim v[IR_MAXSV];
		for (int64_t i = 0; i < s.d[0]; i++)
			v[i] = ir_sv_mk(g, i0 + i * i2);
		sh_set_sv(g, n, 0, v, (int)s.d[0]);
	}
	return rc;
}

int sh_eyelike(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char b[256];
	if (x->shape.rank != 2)
		return ir_node_error(d, g, n, E_MODEL, "input %s is not 2-D", TSTR(x, b));
	int dt = (int)ir_attr_i(n, "dtype", x->dt);
	if (dt <= DT_UNDEF || dt >= DT_COUNT)
		return ir_node_error(d, g, n, E_MODEL, "unknown dtype %d", dt);
	return sh_out(g, n, d, 0, dt, &x->shape);
}

int sh_onehot(Graph *g, Node *n, Diag *d)
{
	Value *ix = sh_in(g, n, 0), *vals = sh_in(g, n, 2);
	int r = ix->shape.rank, ax, rc;
	if (r + 1 > IR_MAXRANK)
		return ir_node_error(d, g, n, E_MODEL, "output rank too large");
	if ((rc = sh_axis(g, n, d, ir_attr_i(n, "axis", -1), r + 1, "axis", &ax)))
		return rc;
	Dim depth;
	double f;
	Dim dv[1];
	if (sh_dims(g, n, 1, dv, 1) == 1 && !(dv[0] < 0 && ir_sv_lit(g, dv[0], &(int64_t){0})))
		depth = dv[0];
	else if (sh_scalar_f(g, n, 1, &f)) {
		if (f < 1)
			return ir_node_error(d, g, n, E_MODEL, "depth %g is not positive", f);
		depth = f <= (double)SH_MAXDIM ? (Dim)f : SH_MAXDIM + 1;
	} else
		depth = ir_dim_fresh(g);
	Shape s = {.rank = r + 1};
	for (int i = 0, j = 0; i < r + 1; i++)
		s.d[i] = i == ax ? depth : ix->shape.d[j++];
	return sh_out(g, n, d, 0, vals->dt, &s);
}

static int space_depth(Graph *g, Node *n, Diag *d, bool to_space)
{
	Value *x = sh_in(g, n, 0);
	char b[256];
	int64_t bs = ir_attr_i(n, "blocksize", 0);
	if (x->shape.rank != 4 || bs < 1 || bs > (1 << 20))
		return ir_node_error(d, g, n, E_MODEL, "input %s must be 4-D with blocksize in 1..2^20", TSTR(x, b));
	Shape s = x->shape;
	Dim *c = &s.d[1], *h = &s.d[2], *w = &s.d[3];
	int64_t bb = bs * bs;
	bool ok = true;
	if (to_space) {
		if (*c >= 0 && *c % bb)
			return ir_node_error(d, g, n, E_MODEL, "channels of %s not divisible by %lld", TSTR(x, b), (long long)bb);
		*c = ir_dim_bin(g, DX_DIV, *c, bb);
		*h = sh_mul(g, *h, bs, &ok);
		*w = sh_mul(g, *w, bs, &ok);
	} else {
		if ((*h >= 0 && *h % bs) || (*w >= 0 && *w % bs))
			return ir_node_error(d, g, n, E_MODEL, "H, W of %s not divisible by %lld", TSTR(x, b), (long long)bs);
		*c = sh_mul(g, *c, bb, &ok);
		*h = ir_dim_bin(g, DX_DIV, *h, bs);
		*w = ir_dim_bin(g, DX_DIV, *w, bs);
	}
	if (!ok)
		return ir_node_error(d, g, n, E_MODEL, "output dims of %s too large", TSTR(x, b));
	return sh_out(g, n, d, 0, x->dt, &s);
}

int sh_depthtospace(Graph *g, Node *n, Diag *d) { return space_depth(g, n, d, true); }
int sh_spacetodepth(Graph *g, Node *n, Diag *d) { return space_depth(g, n, d, false); }
