/* Shape rules of vibeec's scan ops: selective_scan (Mamba-1 S6), ssd
 * (Mamba-2, scalar decay per head) and linear_scan (a diagonal gated linear
 * recurrence). Time is axis 1 everywhere: [batch, T, ...]. The semantics
 * are written down with the reference kernels in ir/ref_scan.c. */
#include "shape.h"

/* Check input i (when present) is f32 of rank `rank` whose dims equal want[]
 * (entries < -1000000 are "don't care"; symbolic dims are unified). */
static int want_in(Graph *g, Node *n, Diag *d, int i, const char *what, int rank,
                   Dim *want, bool required)
{
	Value *v = sh_in(g, n, i);
	if (!v) {
		if (required)
			return ir_node_error(d, g, n, E_MODEL, "input %d (%s) is required", i, what);
		return 0;
	}
	char t[128];
	if (v->dt != DT_F32)
		return ir_node_error(d, g, n, E_MODEL, "input %d (%s) must be f32, got %s", i,
		                     what, sh_tstr(g, v, t, sizeof t));
	if (v->shape.rank != rank)
		return ir_node_error(d, g, n, E_MODEL, "input %d (%s) must have rank %d, got %s", i,
		                     what, rank, sh_tstr(g, v, t, sizeof t));
	for (int k = 0; k < rank; k++) {
		bool ok = true;
		Dim u = sh_unify(want[k], v->shape.d[k], &ok);
		if (!ok)
			return ir_node_error(d, g, n, E_MODEL, "input %d (%s) dim %d is %lld, expected "
			                     "%lld (%s)", i, what, k, (long long)v->shape.d[k],
			                     (long long)want[k], sh_tstr(g, v, t, sizeof t));
		want[k] = u;
	}
	return 0;
}

/* selective_scan(u, delta, A, B, C, [D], [z], [delta_bias], [h0]) -> y, [h_last]
 * u, delta, z [b,T,d]; A [d,n]; B, C [b,T,n]; D, delta_bias [d]; h0 [b,d,n];
 * y [b,T,d]; h_last [b,d,n]. Attribute layout = 1: u, delta, z, y [b,d,T]
 * and B, C [b,n,T] (the mamba_ssm reference layout). */
int sh_selective_scan(Graph *g, Node *n, Diag *d)
{
	Value *u = sh_in(g, n, 0), *A = sh_in(g, n, 2);
	int64_t layout = ir_attr_i(n, "layout", 0);
	if (layout != 0 && layout != 1)
		return ir_node_error(d, g, n, E_MODEL, "layout must be 0 ([b,T,d]) or 1 ([b,d,T])");
	if (!u || !A)
		return ir_node_error(d, g, n, E_MODEL, "inputs u and A are required");
	if (u->shape.rank != 3 || A->shape.rank != 2)
		return ir_node_error(d, g, n, E_MODEL, "u must be [batch,T,d] (layout 1: [batch,d,T]) "
		                     "and A [d,n]");
	/* ta, ca: the time and channel axes of u, delta, z, y (B, C: time and state) */
	int ta = layout ? 2 : 1, ca = layout ? 1 : 2;
	Dim btd[3] = {u->shape.d[0], u->shape.d[1], u->shape.d[2]};
	Dim dn[2] = {btd[ca], A->shape.d[1]};
	if (want_in(g, n, d, 0, "u", 3, btd, true) || want_in(g, n, d, 2, "A", 2, dn, true) ||
	    want_in(g, n, d, 1, "delta", 3, btd, true))
		return d->code;
	Dim btn[3], btn2[3];
	btn[0] = btn2[0] = btd[0];
	btn[ta] = btn2[ta] = btd[ta];
	btn[ca] = btn2[ca] = dn[1];
	Dim dd[2] = {btd[ca], 1}, dd2[2] = {btd[ca], 1}, z[3] = {btd[0], btd[1], btd[2]};
	Dim bdn[3] = {btd[0], btd[ca], dn[1]};
	/* layout 1 takes D and delta_bias as [d] or [d,1] */
	Value *Dv = sh_in(g, n, 5), *bv = sh_in(g, n, 7);
	int dr = layout && Dv && Dv->shape.rank == 2 ? 2 : 1, br = layout && bv && bv->shape.rank == 2 ? 2 : 1;
	if (want_in(g, n, d, 3, "B", 3, btn, true) || want_in(g, n, d, 4, "C", 3, btn2, true) ||
	    want_in(g, n, d, 5, "D", dr, dd, false) || want_in(g, n, d, 6, "z", 3, z, false) ||
	    want_in(g, n, d, 7, "delta_bias", br, dd2, false) ||
	    want_in(g, n, d, 8, "h0", 3, bdn, false))
		return d->code;
	Shape y = {.rank = 3, .d = {btd[0], btd[1], btd[2]}};
	Shape h = {.rank = 3, .d = {btd[0], btd[ca], dn[1]}};
	if (sh_out(g, n, d, 0, DT_F32, &y))
		return d->code;
	return n->nout > 1 ? sh_out(g, n, d, 1, DT_F32, &h) : 0;
}

/* ssd(x, dt, A, B, C, [D], [z], [dt_bias], [h0]) -> y, [h_last]
 * x, z [b,T,h,p]; dt [b,T,h]; A, D, dt_bias [h]; B, C [b,T,g,n] with g
 * dividing h (head k uses group k / (h/g)), or [b,T,n] (one group);
 * h0 [b,h,p,n]. */
int sh_ssd(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0), *B = sh_in(g, n, 3);
	if (!x || !B)
		return ir_node_error(d, g, n, E_MODEL, "inputs x and B are required");
	if (x->shape.rank != 4 || (B->shape.rank != 4 && B->shape.rank != 3))
		return ir_node_error(d, g, n, E_MODEL, "x must be [batch,T,heads,headdim] and B "
		                     "[batch,T,groups,dstate] or [batch,T,dstate]");
	Dim bthp[4] = {x->shape.d[0], x->shape.d[1], x->shape.d[2], x->shape.d[3]};
	if (want_in(g, n, d, 0, "x", 4, bthp, true))
		return d->code;
	int br = B->shape.rank;   /* rank 3: one group */
	Dim btgn[4] = {bthp[0], bthp[1], br == 4 ? B->shape.d[2] : 1, B->shape.d[br - 1]};
	Dim btgn2[4] = {btgn[0], btgn[1], btgn[2], btgn[3]};
	if (br == 3)
		btgn[2] = btgn[3], btgn2[2] = btgn2[3];   /* want_in compares [b,T,n] */
	Dim bth[3] = {bthp[0], bthp[1], bthp[2]}, h1[1] = {bthp[2]}, h2[1] = {bthp[2]};
	Dim h3[1] = {bthp[2]}, z[4] = {bthp[0], bthp[1], bthp[2], bthp[3]};
	Dim hp[4] = {bthp[0], bthp[2], bthp[3], B->shape.d[br - 1]};
	if (want_in(g, n, d, 1, "dt", 3, bth, true) || want_in(g, n, d, 2, "A", 1, h1, true) ||
	    want_in(g, n, d, 3, "B", br, btgn, true) || want_in(g, n, d, 4, "C", br, btgn2, true) ||
	    want_in(g, n, d, 5, "D", 1, h2, false) || want_in(g, n, d, 6, "z", 4, z, false) ||
	    want_in(g, n, d, 7, "dt_bias", 1, h3, false) || want_in(g, n, d, 8, "h0", 4, hp, false))
		return d->code;
	if (br == 3)
		btgn[2] = 1, btgn[3] = hp[3];
	if (bthp[2] >= 0 && btgn[2] > 0 && bthp[2] % btgn[2])
		return ir_node_error(d, g, n, E_MODEL, "%lld groups do not divide %lld heads",
		                     (long long)btgn[2], (long long)bthp[2]);
	if (ir_attr_i(n, "chunk", 64) < 1 || ir_attr_i(n, "chunk", 64) > 4096)
		return ir_node_error(d, g, n, E_MODEL, "chunk must be in 1..4096");
	Shape y = {.rank = 4, .d = {bthp[0], bthp[1], bthp[2], bthp[3]}};
	Shape h = {.rank = 4, .d = {bthp[0], bthp[2], bthp[3], hp[3]}};
	if (sh_out(g, n, d, 0, DT_F32, &y))
		return d->code;
	return n->nout > 1 ? sh_out(g, n, d, 1, DT_F32, &h) : 0;
}

/* linear_scan(a, b, [h0]) -> h, [h_last]: a, b [batch,T,...] (same shape,
 * rank 2..8), h0 and h_last [batch,...]. */
int sh_linear_scan(Graph *g, Node *n, Diag *d)
{
	Value *a = sh_in(g, n, 0);
	if (!a || a->shape.rank < 2)
		return ir_node_error(d, g, n, E_MODEL, "a must be [batch,T,...]");
	int r = a->shape.rank;
	Dim s[IR_MAXRANK], l[IR_MAXRANK];
	for (int k = 0; k < r; k++)
		s[k] = a->shape.d[k];
	if (want_in(g, n, d, 0, "a", r, s, true) || want_in(g, n, d, 1, "b", r, s, true))
		return d->code;
	l[0] = s[0];
	for (int k = 2; k < r; k++)
		l[k - 1] = s[k];
	if (want_in(g, n, d, 2, "h0", r - 1, l, false))
		return d->code;
	Shape h = {.rank = r}, hl = {.rank = r - 1};
	for (int k = 0; k < r; k++)
		h.d[k] = s[k];
	for (int k = 0; k < r - 1; k++)
		hl.d[k] = l[k];
	if (sh_out(g, n, d, 0, DT_F32, &h))
		return d->code;
	return n->nout > 1 ? sh_out(g, n, d, 1, DT_F32, &hl) : 0;
}
