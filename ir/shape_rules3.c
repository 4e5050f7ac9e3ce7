/* Shape and dtype rules (sh_* of ops.def) for resampling, data-dependent
 * ops (TopK, NonZero, Unique, Compress, NonMaxSuppression), signal
 * processing, losses and random generators. */
#include <math.h>
#include <string.h>
#include "shape.h"

#define TSTR(v, b) sh_tstr(g, (v), (b), sizeof(b))

/* Values of a constant input as doubles: count, or -1 if not a constant. */
static int const_floats(Graph *g, const Node *n, int i, double *v, int max)
{
	Value *x = sh_in(g, n, i);
	if (!x || x->kind != VK_CONST || !x->data || !dt_size(x->dt) || !ir_shape_static(&x->shape))
		return -1;
	int64_t k = 1;
	for (int j = 0; j < x->shape.rank; j++)
		k *= x->shape.d[j];
	if (k > max)
		return -1;
	for (int64_t j = 0; j < k; j++)
		v[j] = dt_load_f(x->dt, x->data, (size_t)j);
	return (int)k;
}

/* An input that is present and not an empty tensor. */
static bool nonempty(Graph *g, const Node *n, int i)
{
	Value *x = sh_in(g, n, i);
	if (!x)
		return false;
	for (int j = 0; j < x->shape.rank; j++)
		if (x->shape.d[j] == 0)
			return false;
	return true;
}

/* floor(in * scale) for a possibly symbolic in. */
static Dim scale_dim(Graph *g, Dim in, double sc)
{
	if (in >= 0) {
		double v = floor((double)in * sc + 1e-9 * (double)in * sc);
		return v <= (double)SH_MAXDIM ? (Dim)v : SH_MAXDIM + 1;   /* sh_out rejects it */
	}
	if (sc > (double)SH_MAXDIM)
		return ir_dim_fresh(g);
	if (sc >= 1 && sc == floor(sc))
		return ir_dim_bin(g, DX_MUL, in, (Dim)sc);
	if (sc > 0 && sc < 1 && 1 / sc == floor(1 / sc))
		return ir_dim_bin(g, DX_DIV, in, (Dim)(1 / sc));
	return ir_dim_fresh(g);
}

/* Resize (opsets 10-18) and Upsample (7-9). */
int sh_resize(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int r = x->shape.rank, rc;
	int64_t axes[IR_MAXRANK + 1];
	int na = sh_attr_ints(n, "axes", axes, IR_MAXRANK + 1);
	int ax[IR_MAXRANK];
	if (na < 0) {
		na = r;
		for (int i = 0; i < r; i++)
			ax[i] = i;
	} else {
		for (int i = 0; i < na; i++)
			if ((rc = sh_axis(g, n, d, axes[i], r, "axis", &ax[i])))
				return rc;
	}
	int si, zi = -1;   /* scales and sizes inputs */
	if (n->op == OP_Upsample || n->opset < 11)
		si = 1;
	else
		si = 2, zi = 3;
	Shape s = x->shape;
	double sc[IR_MAXRANK + 1];
	if (zi >= 0 && nonempty(g, n, zi)) {
		Dim v[IR_MAXRANK + 1];
		int k = sh_dims(g, n, zi, v, IR_MAXRANK + 1);
		const char *pol = ir_attr_s(n, "keep_aspect_ratio_policy", "stretch");
		if (k < 0) {
			int64_t len = sh_len1d(g, n, zi);
			if (len != na)
				return ir_node_error(d, g, n, E_MODEL, "sizes must have %d entries", na);
			for (int i = 0; i < na; i++)
				s.d[ax[i]] = ir_dim_fresh(g);
			return sh_out(g, n, d, 0, x->dt, &s);
		}
		if (k != na)
			return ir_node_error(d, g, n, E_MODEL, "sizes has %d entries, expected %d", k, na);
		if (strcmp(pol, "stretch") == 0) {
			for (int i = 0; i < na; i++) {
				int64_t t;
				if (ir_sv_lit(g, v[i], &t) && t < 0)
					return ir_node_error(d, g, n, E_MODEL, "negative size %lld", (long long)t);
				s.d[ax[i]] = v[i];
			}
			return sh_out(g, n, d, 0, x->dt, &s);
		}
		/* not_larger / not_smaller: one scale for all axes */
		bool larger = strcmp(pol, "not_smaller") == 0;
		double scale = larger ? 0 : INFINITY;
		for (int i = 0; i < na; i++) {
			Dim in = x->shape.d[ax[i]];
			if (in < 0 || v[i] < 0) {
				for (int j = 0; j < na; j++)
					s.d[ax[j]] = ir_dim_fresh(g);
				return sh_out(g, n, d, 0, x->dt, &s);
			}
			double t = in ? (double)v[i] / (double)in : 0;
			scale = larger ? fmax(scale, t) : fmin(scale, t);
		}
		for (int i = 0; i < na; i++)
		{
			double t = floor((double)x->shape.d[ax[i]] * scale + 0.5);
			s.d[ax[i]] = t <= (double)SH_MAXDIM ? (Dim)t : SH_MAXDIM + 1;
		}
		return sh_out(g, n, d, 0, x->dt, &s);
	}
	int k;
	if (n->op == OP_Upsample && n->opset < 9) {
		const Attr *a = ir_attr(n, "scales");
		if (!a || a->kind != AK_FLOATS || a->n > IR_MAXRANK)
			return ir_node_error(d, g, n, E_MODEL, "missing scales attribute");
		k = a->n;
		for (int i = 0; i < k; i++)
			sc[i] = a->floats[i];
	} else {
		if (!nonempty(g, n, si))
			return ir_node_error(d, g, n, E_MODEL, "neither scales nor sizes given");
		k = const_floats(g, n, si, sc, IR_MAXRANK + 1);
		if (k < 0) {
			for (int i = 0; i < na; i++)
				s.d[ax[i]] = ir_dim_fresh(g);
			return sh_out(g, n, d, 0, x->dt, &s);
		}
	}
	if (k != na)
		return ir_node_error(d, g, n, E_MODEL, "scales has %d entries, expected %d", k, na);
	double roi[2 * IR_MAXRANK];
	bool crop = strcmp(ir_attr_s(n, "coordinate_transformation_mode", ""), "tf_crop_and_resize") == 0 &&
	            n->op == OP_Resize && const_floats(g, n, 1, roi, 2 * IR_MAXRANK) == 2 * na;
	for (int i = 0; i < na; i++) {
		if (!(sc[i] > 0))
			return ir_node_error(d, g, n, E_MODEL, "scale %g is not positive", sc[i]);
		double f = crop ? (roi[na + i] - roi[i]) * sc[i] : sc[i];
		if (crop && x->shape.d[ax[i]] < 0)
			s.d[ax[i]] = ir_dim_fresh(g);
		else
			s.d[ax[i]] = scale_dim(g, x->shape.d[ax[i]], f);
	}
	return sh_out(g, n, d, 0, x->dt, &s);
}

int sh_gridsample(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0), *gr = sh_in(g, n, 1);
	char b1[256], b2[256];
	int r = x->shape.rank;
	if (r < 3 || gr->shape.rank != r)
		return ir_node_error(d, g, n, E_MODEL, "input %s and grid %s must have equal rank >= 3",
		                     TSTR(x, b1), TSTR(gr, b2));
	Shape s = {.rank = r, .d = {x->shape.d[0], x->shape.d[1]}};
	for (int i = 2; i < r; i++)
		s.d[i] = gr->shape.d[i - 1];
	return sh_out(g, n, d, 0, x->dt, &s);
}

/* ---- data-dependent outputs -------------------------------------------- */

int sh_topk(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char b[256];
	int ax, rc;
	if ((rc = sh_axis(g, n, d, ir_attr_i(n, "axis", -1), x->shape.rank, "axis", &ax)))
		return rc;
	Dim k, v[1];
	bool known = true;
	if (n->opset < 10 && ir_attr(n, "k"))
		v[0] = ir_attr_i(n, "k", 0);
	else if (sh_dims(g, n, 1, v, 1) != 1)
		known = false;
	int64_t t;
	if (!known)
		k = ir_dim_fresh(g);
	else if (ir_sv_lit(g, v[0], &t) && t < 0)
		return ir_node_error(d, g, n, E_MODEL, "k %lld is negative", (long long)t);
	else
		k = v[0];
	if (k >= 0 && x->shape.d[ax] >= 0 && k > x->shape.d[ax])
		return ir_node_error(d, g, n, E_MODEL, "k %lld exceeds axis %d of %s", (long long)k, ax, TSTR(x, b));
	Shape s = x->shape;
	s.d[ax] = k;
	rc = sh_out(g, n, d, 0, x->dt, &s);
	return rc ? rc : sh_out(g, n, d, 1, DT_I64, &s);
}

/* Number of nonzero elements of a constant input, or a fresh symbol. */
static Dim count_nonzero(Graph *g, const Node *n, int i, int64_t limit)
{
	Value *x = sh_in(g, n, i);
	if (x->kind != VK_CONST || !x->data || !dt_size(x->dt) || !ir_shape_static(&x->shape))
		return ir_dim_fresh(g);
	int64_t k = 1, c = 0;
	for (int j = 0; j < x->shape.rank; j++)
		k *= x->shape.d[j];
	if (limit >= 0 && limit < k)
		k = limit;
	if (k > (1 << 20))
		return ir_dim_fresh(g);
	for (int64_t j = 0; j < k; j++)
		c += dt_load_f(x->dt, x->data, (size_t)j) != 0;
	return c;
}

int sh_compress(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0), *c = sh_in(g, n, 1);
	char b[256];
	if (c->shape.rank != 1)
		return ir_node_error(d, g, n, E_MODEL, "condition %s is not 1-D", TSTR(c, b));
	Shape s;
	if (!ir_attr(n, "axis")) {
		s.rank = 1;
		s.d[0] = count_nonzero(g, n, 1, -1);
	} else {
		int ax, rc;
		if ((rc = sh_axis(g, n, d, ir_attr_i(n, "axis", 0), x->shape.rank, "axis", &ax)))
			return rc;
		s = x->shape;
		s.d[ax] = count_nonzero(g, n, 1, x->shape.d[ax]);
	}
	return sh_out(g, n, d, 0, x->dt, &s);
}

int sh_nonzero(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	Shape s = {.rank = 2, .d = {x->shape.rank, count_nonzero(g, n, 0, -1)}};
	return sh_out(g, n, d, 0, DT_I64, &s);
}

int sh_unique(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	Dim u = ir_dim_fresh(g);
	Shape y, inv = {.rank = 1}, one = {.rank = 1, .d = {u}};
	if (ir_attr(n, "axis")) {
		int ax, rc;
		if ((rc = sh_axis(g, n, d, ir_attr_i(n, "axis", 0), x->shape.rank, "axis", &ax)))
			return rc;
		y = x->shape;
		y.d[ax] = u;
		inv.d[0] = x->shape.d[ax];
	} else {
		y = one;
		bool ok = true;
		inv.d[0] = sh_numel(g, &x->shape, &ok);
		if (!ok)
			return ir_node_error(d, g, n, E_MODEL, "input too large");
	}
	int rc = sh_out(g, n, d, 0, x->dt, &y);
	if (!rc) rc = sh_out(g, n, d, 1, DT_I64, &one);
	if (!rc) rc = sh_out(g, n, d, 2, DT_I64, &inv);
	if (!rc) rc = sh_out(g, n, d, 3, DT_I64, &one);
	return rc;
}

int sh_nms(Graph *g, Node *n, Diag *d)
{
	Shape s = {.rank = 2, .d = {ir_dim_fresh(g), 3}};
	return sh_out(g, n, d, 0, DT_I64, &s);
}

/* ---- signal processing ------------------------------------------------- */

/* A scalar-ish input as a Dim (literal or symbolic): false if unknown.
 * Callers then give the output dim a fresh symbol of its own, so that the
 * symbol appears plain in an output and can be bound at run time. */
static bool dim_input(Graph *g, const Node *n, int i, Dim *out)
{
	Dim v[1];
	if (sh_dims(g, n, i, v, 1) != 1)
		return false;
	*out = v[0];
	return true;
}

static bool negative(Graph *g, Dim v)
{
	int64_t t;
	return ir_sv_lit(g, v, &t) && t < 0;
}

int sh_dft(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char b[256];
	int r = x->shape.rank, ax, rc;
	if (r < 2 || (x->shape.d[r - 1] >= 0 && x->shape.d[r - 1] != 1 && x->shape.d[r - 1] != 2))
		return ir_node_error(d, g, n, E_MODEL, "input %s must end in a dim of 1 or 2", TSTR(x, b));
	int64_t axis = ir_attr_i(n, "axis", 1);
	if (n->opset >= 20) {
		int64_t a;
		axis = sh_in(g, n, 2) ? (sh_ints(g, n, 2, &a, 1) == 1 ? a : INT64_MIN) : -2;
		if (axis == INT64_MIN) {   /* axis known at run time: every dim but the last */
			Shape s = {.rank = r};
			for (int i = 0; i < r - 1; i++)
				s.d[i] = ir_dim_fresh(g);
			s.d[r - 1] = ir_attr_i(n, "inverse", 0) && ir_attr_i(n, "onesided", 0) ? 1 : 2;
			return sh_out(g, n, d, 0, x->dt, &s);
		}
	}
	if ((rc = sh_axis(g, n, d, axis, r, "axis", &ax)))
		return rc;
	if (ax == r - 1)
		return ir_node_error(d, g, n, E_MODEL, "axis is the real/imaginary dim");
	Shape s = x->shape;
	Dim len = x->shape.d[ax];
	bool known = true;
	bool inv = ir_attr_i(n, "inverse", 0) != 0, one = ir_attr_i(n, "onesided", 0) != 0;
	if (sh_in(g, n, 1) && nonempty(g, n, 1))
		known = dim_input(g, n, 1, &len);
	else if (inv && one)         /* inverse of a one-sided spectrum: 2 (len - 1) */
		len = ir_dim_bin(g, DX_MUL, ir_dim_bin(g, DX_SUB, len, 1), 2);
	if (known && negative(g, len))
		return ir_node_error(d, g, n, E_MODEL, "negative dft_length");
	if (!known)
		len = ir_dim_fresh(g);
	else if (one && !inv)
		len = ir_dim_bin(g, DX_ADD, ir_dim_bin(g, DX_DIV, len, 2), 1);
	s.d[ax] = len;
	s.d[r - 1] = inv && one ? 1 : 2;     /* an inverse one-sided DFT is real */
	return sh_out(g, n, d, 0, x->dt, &s);
}

int sh_stft(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char b[256];
	if (x->shape.rank != 3)
		return ir_node_error(d, g, n, E_MODEL, "signal %s must be [batch, length, 1|2]", TSTR(x, b));
	int64_t step;
	if (sh_ints(g, n, 1, &step, 1) != 1)
		step = -1;
	else if (step < 1)
		return ir_node_error(d, g, n, E_MODEL, "frame_step %lld is not positive", (long long)step);
	Dim fl = 0;
	bool known = true;
	if (nonempty(g, n, 3))
		known = dim_input(g, n, 3, &fl);
	else if (sh_in(g, n, 2) && sh_in(g, n, 2)->shape.rank == 1)
		fl = sh_in(g, n, 2)->shape.d[0];
	else
		return ir_node_error(d, g, n, E_MODEL, "neither window nor frame_length given");
	if (negative(g, fl))
		return ir_node_error(d, g, n, E_MODEL, "negative frame_length");
	Dim frames, len = x->shape.d[1];
	if (!known) {
		Shape s = {.rank = 4, .d = {x->shape.d[0], ir_dim_fresh(g), ir_dim_fresh(g), 2}};
		return sh_out(g, n, d, 0, x->dt, &s);
	}
	if (step < 0)
		frames = ir_dim_fresh(g);
	else if (len >= 0 && fl >= 0) {
		if (fl > len)
			return ir_node_error(d, g, n, E_MODEL, "frame_length %lld exceeds signal %s",
			                     (long long)fl, TSTR(x, b));
		frames = (len - fl) / step + 1;
	} else
		frames = ir_dim_bin(g, DX_ADD, ir_dim_bin(g, DX_DIV, ir_dim_bin(g, DX_SUB, len, fl), step), 1);
	Dim bins = ir_attr_i(n, "onesided", 1) ? ir_dim_bin(g, DX_ADD, ir_dim_bin(g, DX_DIV, fl, 2), 1) : fl;
	Shape s = {.rank = 4, .d = {x->shape.d[0], frames, bins, 2}};
	return sh_out(g, n, d, 0, x->dt, &s);
}

static int out_dtype(Graph *g, Node *n, Diag *d, const char *attr, int def, int *dt)
{
	int64_t t = ir_attr_i(n, attr, def);
	if (t <= DT_UNDEF || t >= DT_COUNT)
		return ir_node_error(d, g, n, E_MODEL, "unknown %s %lld", attr, (long long)t);
	*dt = (int)t;
	return 0;
}

int sh_window(Graph *g, Node *n, Diag *d)
{
	int dt = DT_F32, rc;
	if ((rc = out_dtype(g, n, d, "output_datatype", DT_F32, &dt)))
		return rc;
	Shape s = {.rank = 1};
	if (!dim_input(g, n, 0, &s.d[0]))
		s.d[0] = ir_dim_fresh(g);
	if (negative(g, s.d[0]))
		return ir_node_error(d, g, n, E_MODEL, "negative window size");
	return sh_out(g, n, d, 0, dt, &s);
}

int sh_melweight(Graph *g, Node *n, Diag *d)
{
	int dt = DT_F32, rc;
	if ((rc = out_dtype(g, n, d, "output_datatype", DT_F32, &dt)))
		return rc;
	Dim bins, len;
	bool kb = dim_input(g, n, 0, &bins), kl = dim_input(g, n, 1, &len);
	if ((kb && negative(g, bins)) || (kl && negative(g, len)))
		return ir_node_error(d, g, n, E_MODEL, "negative num_mel_bins or dft_length");
	Shape s = {.rank = 2, .d = {kl ? ir_dim_bin(g, DX_ADD, ir_dim_bin(g, DX_DIV, len, 2), 1) : ir_dim_fresh(g),
	                            kb ? bins : ir_dim_fresh(g)}};
	return sh_out(g, n, d, 0, dt, &s);
}

/* ---- losses ------------------------------------------------------------ */

static int loss_shape(Graph *g, Node *n, Diag *d, const Value *x, const Value *t, Shape *s)
{
	char b1[256], b2[256];
	if (x->shape.rank < 2 || t->shape.rank != x->shape.rank - 1)
		return ir_node_error(d, g, n, E_MODEL, "input %s and target %s: need [N,C,...] and [N,...]",
		                     TSTR(x, b1), TSTR(t, b2));
	const char *red = ir_attr_s(n, "reduction", "mean");
	if (strcmp(red, "none") == 0)
		*s = t->shape;
	else if (strcmp(red, "mean") == 0 || strcmp(red, "sum") == 0)
		s->rank = 0;
	else
		return ir_node_error(d, g, n, E_MODEL, "unknown reduction '%s'", red);
	return 0;
}

int sh_nllloss(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	Shape s;
	int rc = loss_shape(g, n, d, x, sh_in(g, n, 1), &s);
	return rc ? rc : sh_out(g, n, d, 0, x->dt, &s);
}

int sh_sceloss(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	Shape s;
	int rc = loss_shape(g, n, d, x, sh_in(g, n, 1), &s);
	if (!rc)
		rc = sh_out(g, n, d, 0, x->dt, &s);
	return rc ? rc : sh_out(g, n, d, 1, x->dt, &x->shape);
}

/* ---- random ------------------------------------------------------------ */

/* Bernoulli, RandomNormalLike, RandomUniformLike: input's shape, dtype
 * attribute or the input's. */
int sh_castlike_attr(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int dt = DT_F32, rc;
	if ((rc = out_dtype(g, n, d, "dtype", x->dt, &dt)))
		return rc;
	return sh_out(g, n, d, 0, dt, &x->shape);
}

int sh_random(Graph *g, Node *n, Diag *d)
{
	int64_t v[IR_MAXRANK + 1];
	int dt = DT_F32, rc, k = sh_attr_ints(n, "shape", v, IR_MAXRANK + 1);
	if ((rc = out_dtype(g, n, d, "dtype", DT_F32, &dt)))
		return rc;
	if (k < 0 || k > IR_MAXRANK)
		return ir_node_error(d, g, n, E_MODEL, "missing or too long shape attribute");
	Shape s = {.rank = k};
	for (int i = 0; i < k; i++) {
		if (v[i] < 0)
			return ir_node_error(d, g, n, E_MODEL, "negative dim %lld in shape", (long long)v[i]);
		s.d[i] = v[i];
	}
	return sh_out(g, n, d, 0, dt, &s);
}

int sh_multinomial(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char b[256];
	int dt = DT_F32, rc;
	if ((rc = out_dtype(g, n, d, "dtype", DT_I32, &dt)))
		return rc;
	if (x->shape.rank != 2)
		return ir_node_error(d, g, n, E_MODEL, "input %s is not [batch, classes]", TSTR(x, b));
	int64_t k = ir_attr_i(n, "sample_size", 1);
	if (k < 1)
		return ir_node_error(d, g, n, E_MODEL, "sample_size %lld < 1", (long long)k);
	Shape s = {.rank = 2, .d = {x->shape.d[0], k}};
	return sh_out(g, n, d, 0, dt, &s);
}
