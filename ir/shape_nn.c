/* Shape and dtype rules (sh_* of ops.def) for convolution and pooling,
 * normalisation, recurrent and quantisation ops (ONNX opsets 7-17). */
#include <string.h>
#include "shape.h"

#define TSTR(v, b) sh_tstr(g, (v), (b), sizeof(b))

static int same_as(Graph *g, Node *n, Diag *d, int out, int dt, const Value *x)
{
	return sh_out(g, n, d, out, dt, &x->shape);
}

/* ---- convolution and pooling ------------------------------------------- */

/* Read an ints attribute of exactly `want` entries, or fill with `def`. */
static int attr_list(Graph *g, Node *n, Diag *d, const char *name, int want, int64_t def,
                     int64_t *v)
{
	int k = sh_attr_ints(n, name, v, 2 * IR_MAXRANK);
	if (k < 0) {
		if (ir_attr(n, name))
			return ir_node_error(d, g, n, E_MODEL, "attribute %s is not a list of ints", name);
		for (int i = 0; i < want; i++)
			v[i] = def;
		return 0;
	}
	if (k != want)
		return ir_node_error(d, g, n, E_MODEL, "attribute %s has %d values, expected %d", name, k, want);
	for (int i = 0; i < k; i++)
		if (v[i] > SH_MAXDIM || v[i] < -SH_MAXDIM)
			return ir_node_error(d, g, n, E_MODEL, "attribute %s value %lld out of range", name,
			                     (long long)v[i]);
	return 0;
}

/* Spatial output dims of a sliding window over x (Conv, pools). ks: kernel
 * dims (-1 if unknown). Writes s->d[2..]. */
static int window_dims(Graph *g, Node *n, Diag *d, const Value *x, const int64_t *ks,
                       bool has_dil, bool ceil_mode, Shape *s)
{
	int nsp = x->shape.rank - 2;
	int64_t st[IR_MAXRANK], dil[IR_MAXRANK], pads[2 * IR_MAXRANK];
	int rc;
	if ((rc = attr_list(g, n, d, "strides", nsp, 1, st)) ||
	    (rc = attr_list(g, n, d, "dilations", nsp, 1, dil)) ||
	    (rc = attr_list(g, n, d, "pads", 2 * nsp, 0, pads)))
		return rc;
	if (!has_dil)
		for (int i = 0; i < nsp; i++)
			dil[i] = 1;
	const char *ap = ir_attr_s(n, "auto_pad", "NOTSET");
	bool same = strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0;
	bool valid = strcmp(ap, "VALID") == 0;
	if (!same && !valid && strcmp(ap, "NOTSET") != 0)
		return ir_node_error(d, g, n, E_MODEL, "unknown auto_pad '%s'", ap);
	for (int i = 0; i < nsp; i++) {
		Dim in = x->shape.d[2 + i];
		if (st[i] < 1 || dil[i] < 1 || pads[i] < 0 || pads[nsp + i] < 0)
			return ir_node_error(d, g, n, E_MODEL, "bad strides/dilations/pads for spatial dim %d", i);
		if (same) {
			s->d[2 + i] = in >= 0 ? (in + st[i] - 1) / st[i] : ir_dim_bin(g, DX_CDIV, in, st[i]);
			continue;
		}
		if (ks[i] < 0) {
			s->d[2 + i] = ir_dim_fresh(g);
			continue;
		}
		int64_t pad = valid ? 0 : pads[i] + pads[nsp + i];
		char b[256];
		if (!sh_winsize(g, in, pad, ks[i], dil[i], st[i], ceil_mode, &s->d[2 + i]))
			return ir_node_error(d, g, n, E_MODEL, "kernel %lld (dilation %lld) does not fit input %s",
			                     (long long)ks[i], (long long)dil[i], TSTR(x, b));
		/* The last window must start inside the input or its leading pad. */
		if (ceil_mode && in >= 0 && (s->d[2 + i] - 1) * st[i] >= in + (valid ? 0 : pads[i]))
			s->d[2 + i]--;
	}
	return 0;
}

static int conv_shape(Graph *g, Node *n, Diag *d, const Value *x, const Value *w, Shape *s)
{
	char b1[256], b2[256];
	int r = x->shape.rank;
	if (r < 3 || w->shape.rank != r)
		return ir_node_error(d, g, n, E_MODEL, "input %s and weight %s: need equal ranks >= 3",
		                     TSTR(x, b1), TSTR(w, b2));
	int64_t grp = ir_attr_i(n, "group", 1), ks[IR_MAXRANK];
	if (grp < 1 || grp > SH_MAXDIM)
		return ir_node_error(d, g, n, E_MODEL, "group %lld out of range", (long long)grp);
	Dim c = x->shape.d[1], wc = w->shape.d[1];
	if (c >= 0 && wc >= 0 && c != wc * grp)
		return ir_node_error(d, g, n, E_MODEL, "input %s has %lld channels, weight %s expects %lld (group %lld)",
		                     TSTR(x, b1), (long long)c, TSTR(w, b2), (long long)(wc * grp), (long long)grp);
	int rc, nsp = r - 2;
	if (ir_attr(n, "kernel_shape")) {
		if ((rc = attr_list(g, n, d, "kernel_shape", nsp, 1, ks)))
			return rc;
	} else {
		for (int i = 0; i < nsp; i++)
			ks[i] = w->shape.d[2 + i] >= 0 ? w->shape.d[2 + i] : -1;
	}
	s->rank = r;
	s->d[0] = x->shape.d[0];
	s->d[1] = w->shape.d[0];
	return window_dims(g, n, d, x, ks, true, false, s);
}

int sh_conv(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	Shape s;
	int rc = conv_shape(g, n, d, x, sh_in(g, n, 1), &s);
	return rc ? rc : sh_out(g, n, d, 0, n->op == OP_ConvInteger ? DT_I32 : x->dt, &s);
}

int sh_qlinearconv(Graph *g, Node *n, Diag *d)
{
	Shape s;
	int rc = conv_shape(g, n, d, sh_in(g, n, 0), sh_in(g, n, 3), &s);
	return rc ? rc : sh_out(g, n, d, 0, sh_in(g, n, 7)->dt, &s);
}

int sh_convtranspose(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0), *w = sh_in(g, n, 1);
	char b1[256], b2[256];
	int r = x->shape.rank, nsp = r - 2, rc;
	if (r < 3 || w->shape.rank != r)
		return ir_node_error(d, g, n, E_MODEL, "input %s and weight %s: need equal ranks >= 3",
		                     TSTR(x, b1), TSTR(w, b2));
	int64_t grp = ir_attr_i(n, "group", 1);
	if (grp < 1)
		return ir_node_error(d, g, n, E_MODEL, "group %lld < 1", (long long)grp);
	int64_t ks[IR_MAXRANK], st[IR_MAXRANK], dil[IR_MAXRANK], op[IR_MAXRANK], pads[2 * IR_MAXRANK],
		os[IR_MAXRANK + 2];
	if (ir_attr(n, "kernel_shape")) {
		if ((rc = attr_list(g, n, d, "kernel_shape", nsp, 1, ks)))
			return rc;
	} else {
		for (int i = 0; i < nsp; i++)
			ks[i] = w->shape.d[2 + i] >= 0 ? w->shape.d[2 + i] : -1;
	}
	if ((rc = attr_list(g, n, d, "strides", nsp, 1, st)) ||
	    (rc = attr_list(g, n, d, "dilations", nsp, 1, dil)) ||
	    (rc = attr_list(g, n, d, "output_padding", nsp, 0, op)) ||
	    (rc = attr_list(g, n, d, "pads", 2 * nsp, 0, pads)))
		return rc;
	Shape s = {.rank = r};
	s.d[0] = x->shape.d[0];
	bool gok = true;
	s.d[1] = sh_mul(g, w->shape.d[1], grp, &gok);
	if (!gok)
		return ir_node_error(d, g, n, E_MODEL, "group %lld too large", (long long)grp);
	int nos = sh_attr_ints(n, "output_shape", os, IR_MAXRANK + 2);
	if (nos >= 0) {
		if (nos != nsp && nos != r)
			return ir_node_error(d, g, n, E_MODEL, "output_shape has %d values for %d spatial dims", nos, nsp);
		for (int i = 0; i < nsp; i++) {
			if (os[nos - nsp + i] < 0)
				return ir_node_error(d, g, n, E_MODEL, "negative output_shape");
			s.d[2 + i] = os[nos - nsp + i];
		}
		return sh_out(g, n, d, 0, x->dt, &s);
	}
	const char *ap = ir_attr_s(n, "auto_pad", "NOTSET");
	bool same = strncmp(ap, "SAME", 4) == 0, valid = strcmp(ap, "VALID") == 0;
	for (int i = 0; i < nsp; i++) {
		Dim in = x->shape.d[2 + i];
		if (st[i] < 1 || dil[i] < 1)
			return ir_node_error(d, g, n, E_MODEL, "bad strides/dilations");
		if (same) {
			bool ok = true;
			s.d[2 + i] = sh_mul(g, in, st[i], &ok);
			if (!ok)
				return ir_node_error(d, g, n, E_MODEL, "output spatial dim %d too large", i);
			continue;
		}
		if (ks[i] < 0) {
			s.d[2 + i] = ir_dim_fresh(g);
			continue;
		}
		int64_t extra = op[i] + (ks[i] - 1) * dil[i] + 1 - (valid ? 0 : pads[i] + pads[nsp + i]);
		bool ok = true;
		Dim base = in >= 0 ? sh_mul(g, in >= 1 ? in - 1 : 0, st[i], &ok)
		                   : ir_dim_bin(g, DX_MUL, ir_dim_bin(g, DX_SUB, in, 1), st[i]);
		if (!ok || !sh_addk(g, base, extra, &s.d[2 + i]) || s.d[2 + i] == 0)
			return ir_node_error(d, g, n, E_MODEL, "output spatial dim %d would be empty", i);
	}
	return sh_out(g, n, d, 0, x->dt, &s);
}

int sh_pool(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char b[256];
	int r = x->shape.rank, rc;
	if (r < 3)
		return ir_node_error(d, g, n, E_MODEL, "input %s has rank below 3", TSTR(x, b));
	int64_t ks[IR_MAXRANK];
	if (!ir_attr(n, "kernel_shape"))
		return ir_node_error(d, g, n, E_MODEL, "missing kernel_shape");
	if ((rc = attr_list(g, n, d, "kernel_shape", r - 2, 1, ks)))
		return rc;
	Shape s = {.rank = r, .d = {x->shape.d[0], x->shape.d[1]}};
	bool ceil_mode = ir_attr_i(n, "ceil_mode", 0) != 0;
	if ((rc = window_dims(g, n, d, x, ks, true, ceil_mode, &s)) ||   /* dilations: all pools (AveragePool-19, LpPool-18) */
	    (rc = sh_out(g, n, d, 0, x->dt, &s)))
		return rc;
	return sh_out(g, n, d, 1, DT_I64, &s);
}

int sh_globalpool(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char b[256];
	if (x->shape.rank < 2)
		return ir_node_error(d, g, n, E_MODEL, "input %s has rank below 2", TSTR(x, b));
	Shape s = x->shape;
	for (int i = 2; i < s.rank; i++)
		s.d[i] = 1;
	return sh_out(g, n, d, 0, x->dt, &s);
}

int sh_maxunpool(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char b[256];
	int r = x->shape.rank, nsp = r - 2, rc;
	if (r < 3)
		return ir_node_error(d, g, n, E_MODEL, "input %s has rank below 3", TSTR(x, b));
	Shape s = {.rank = r};
	if (sh_in(g, n, 2)) {
		Dim v[IR_MAXSV];
		int k = sh_dims(g, n, 2, v, IR_MAXSV);
		int64_t len = sh_len1d(g, n, 2);
		if (k < 0 && len != r)
			return ir_node_error(d, g, n, E_MODEL, "output_shape must have %d values", r);
		for (int i = 0; i < r; i++) {
			int64_t t;
			s.d[i] = k < 0 ? ir_dim_fresh(g) : v[i];
			if (k >= 0 && ir_sv_lit(g, v[i], &t) && t < 0)
				return ir_node_error(d, g, n, E_MODEL, "negative output_shape");
		}
		if (k >= 0 && k != r)
			return ir_node_error(d, g, n, E_MODEL, "output_shape has %d values for rank %d", k, r);
		return sh_out(g, n, d, 0, x->dt, &s);
	}
	int64_t ks[IR_MAXRANK], st[IR_MAXRANK], pads[2 * IR_MAXRANK];
	if (!ir_attr(n, "kernel_shape"))
		return ir_node_error(d, g, n, E_MODEL, "missing kernel_shape");
	if ((rc = attr_list(g, n, d, "kernel_shape", nsp, 1, ks)) ||
	    (rc = attr_list(g, n, d, "strides", nsp, 1, st)) ||
	    (rc = attr_list(g, n, d, "pads", 2 * nsp, 0, pads)))
		return rc;
	s.d[0] = x->shape.d[0];
	s.d[1] = x->shape.d[1];
	for (int i = 0; i < nsp; i++) {
		Dim in = x->shape.d[2 + i];
		bool ok = true;
		Dim base = in >= 0 ? sh_mul(g, in >= 1 ? in - 1 : 0, st[i], &ok)
		                   : ir_dim_bin(g, DX_MUL, ir_dim_bin(g, DX_SUB, in, 1), st[i]);
		if (!ok || !sh_addk(g, base, ks[i] - pads[i] - pads[nsp + i], &s.d[2 + i]))
			return ir_node_error(d, g, n, E_MODEL, "output spatial dim %d would be negative", i);
	}
	return sh_out(g, n, d, 0, x->dt, &s);
}

int sh_maxroipool(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0), *rois = sh_in(g, n, 1);
	char b1[256], b2[256];
	int64_t ps[2];
	if (x->shape.rank != 4 || rois->shape.rank != 2)
		return ir_node_error(d, g, n, E_MODEL, "input %s must be 4-D and rois %s 2-D",
		                     TSTR(x, b1), TSTR(rois, b2));
	if (sh_attr_ints(n, "pooled_shape", ps, 2) != 2 || ps[0] < 1 || ps[1] < 1)
		return ir_node_error(d, g, n, E_MODEL, "pooled_shape must be 2 positive ints");
	Shape s = {.rank = 4, .d = {rois->shape.d[0], x->shape.d[1], ps[0], ps[1]}};
	return sh_out(g, n, d, 0, x->dt, &s);
}

int sh_roialign(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0), *rois = sh_in(g, n, 1);
	char b1[256], b2[256];
	if (x->shape.rank != 4 || rois->shape.rank != 2)
		return ir_node_error(d, g, n, E_MODEL, "input %s must be 4-D and rois %s 2-D",
		                     TSTR(x, b1), TSTR(rois, b2));
	int64_t oh = ir_attr_i(n, "output_height", 1), ow = ir_attr_i(n, "output_width", 1);
	if (oh < 1 || ow < 1)
		return ir_node_error(d, g, n, E_MODEL, "output_height/width must be positive");
	Shape s = {.rank = 4, .d = {rois->shape.d[0], x->shape.d[1], oh, ow}};
	return sh_out(g, n, d, 0, x->dt, &s);
}

/* ---- normalisation ----------------------------------------------------- */

int sh_batchnorm(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0), *mean = sh_in(g, n, 3);
	int rc = same_as(g, n, d, 0, x->dt, x);
	for (int i = 1; !rc && i < n->nout; i++)
		rc = sh_out(g, n, d, i, n->opset >= 14 ? mean->dt : x->dt, &sh_in(g, n, 1)->shape);
	return rc;
}

int sh_layernorm(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int ax, rc;
	if ((rc = sh_axis(g, n, d, ir_attr_i(n, "axis", -1), x->shape.rank, "axis", &ax)) ||
	    (rc = same_as(g, n, d, 0, x->dt, x)))
		return rc;
	Shape s = x->shape;
	for (int i = ax; i < s.rank; i++)
		s.d[i] = 1;
	int st = (int)ir_attr_i(n, "stash_type", DT_F32);
	if (!dt_is_float(st))
		return ir_node_error(d, g, n, E_MODEL, "stash_type %d is not a float type", st);
	for (int i = 1; !rc && i < n->nout; i++)
		rc = sh_out(g, n, d, i, st, &s);
	return rc;
}

/* RNN, GRU, LSTM: Y [seq, dirs, batch, hidden] (layout 0) or [batch, seq,
 * dirs, hidden] (layout 1); Y_h, Y_c [dirs, batch, hidden] or [batch, dirs,
 * hidden]. */
int sh_rnn(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0), *w = sh_in(g, n, 1), *r = sh_in(g, n, 2);
	char b1[256], b2[256];
	if (x->shape.rank != 3 || w->shape.rank != 3 || r->shape.rank != 3)
		return ir_node_error(d, g, n, E_MODEL, "X %s and W %s (and R) must be 3-D",
		                     TSTR(x, b1), TSTR(w, b2));
	int layout = (int)ir_attr_i(n, "layout", 0);
	const char *dir = ir_attr_s(n, "direction", "forward");
	Dim ndir = strcmp(dir, "bidirectional") == 0 ? 2 : 1;
	if (strcmp(dir, "forward") && strcmp(dir, "reverse") && strcmp(dir, "bidirectional"))
		return ir_node_error(d, g, n, E_MODEL, "unknown direction '%s'", dir);
	Dim h = ir_attr_i(n, "hidden_size", -1);
	if (h < 0) {
		if (!ir_attr(n, "hidden_size"))
			h = r->shape.d[2];
		else
			return ir_node_error(d, g, n, E_MODEL, "negative hidden_size");
	}
	Dim seq = x->shape.d[layout ? 1 : 0], batch = x->shape.d[layout ? 0 : 1];
	Shape y = {.rank = 4}, yh = {.rank = 3};
	if (layout) {
		y.d[0] = batch; y.d[1] = seq; y.d[2] = ndir; y.d[3] = h;
		yh.d[0] = batch; yh.d[1] = ndir; yh.d[2] = h;
	} else {
		y.d[0] = seq; y.d[1] = ndir; y.d[2] = batch; y.d[3] = h;
		yh.d[0] = ndir; yh.d[1] = batch; yh.d[2] = h;
	}
	int rc = sh_out(g, n, d, 0, x->dt, &y);
	for (int i = 1; !rc && i < n->nout; i++)
		rc = sh_out(g, n, d, i, x->dt, &yh);
	return rc;
}

/* ---- quantisation ------------------------------------------------------ */

int sh_quantize(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0), *zp = sh_in(g, n, 2);
	int dt = zp ? zp->dt : (int)ir_attr_i(n, "output_dtype", 0);
	return same_as(g, n, d, 0, dt ? dt : DT_U8, x);
}

int sh_dequantize(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0), *sc = sh_in(g, n, 1);
	return same_as(g, n, d, 0, n->opset >= 19 ? sc->dt : DT_F32, x);
}

int sh_dynquantize(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	Shape sc = {.rank = 0};
	int rc = same_as(g, n, d, 0, DT_U8, x);
	if (!rc)
		rc = sh_out(g, n, d, 1, DT_F32, &sc);
	if (!rc)
		rc = sh_out(g, n, d, 2, DT_U8, &sc);
	return rc;
}
