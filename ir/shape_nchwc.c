/* Shape rules of the blocked-layout ops (passes/layout.c): a blocked value
 * of logical shape [N, C, H, W] has the 5-D shape [N, ceil(C/16), H, W, 16]
 * (NCHW16c). Window attributes are explicit (the pass writes them); the
 * channel count is static, N, H and W may be symbolic. */
#include "shape.h"

#define NCB 16
#define TSTR(v, b) sh_tstr(g, (v), (b), sizeof(b))

static int64_t cblocks(int64_t c) { return (c + NCB - 1) / NCB; }

static bool blocked(const Value *x)
{
	if (!x || x->shape.rank != 5 || x->shape.d[4] != NCB)
		return false;
	return x->shape.d[1] >= 0;   /* N, H, W may be symbolic */
}

static int need_blocked(Graph *g, Node *n, Diag *d, const Value *x)
{
	char b[256];
	return ir_node_error(d, g, n, E_MODEL, "input %s is not an NCHW16c tensor (static channels)",
	                     x ? TSTR(x, b) : "(none)");
}

/* Output spatial size of window k (stride s, pads p0 + p1, dilation dl);
 * 0 when a static one would be below 1. */
static Dim wout(Graph *g, Dim in, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t dl)
{
	Dim o;
	return sh_winsize(g, in, p0 + p1, k, dl, s, false, &o) ? o : 0;
}

/* The explicit window attributes: kernel ks[2] (given), strides, pads,
 * dilations; false when one is malformed. */
static bool window(const Node *n, int64_t *st, int64_t *pd, int64_t *dl)
{
	st[0] = st[1] = dl[0] = dl[1] = 1;
	pd[0] = pd[1] = pd[2] = pd[3] = 0;
	int c;
	if ((c = sh_attr_ints(n, "strides", st, 2)) >= 0 && c != 2)
		return false;
	if ((c = sh_attr_ints(n, "pads", pd, 4)) >= 0 && c != 4)
		return false;
	if ((c = sh_attr_ints(n, "dilations", dl, 2)) >= 0 && c != 2)
		return false;
	for (int i = 0; i < 2; i++)
		if (st[i] < 1 || dl[i] < 1 || pd[i] < 0 || pd[i + 2] < 0)
			return false;
	return true;
}

int sh_to_nchwc(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char b[256];
	if (x->shape.rank != 4 || x->shape.d[1] < 0)
		return ir_node_error(d, g, n, E_MODEL, "input %s is not NCHW with static C", TSTR(x, b));
	Shape s = {.rank = 5, .d = {x->shape.d[0], cblocks(x->shape.d[1]), x->shape.d[2],
	                            x->shape.d[3], NCB}};
	return sh_out(g, n, d, 0, x->dt, &s);
}

int sh_from_nchwc(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int64_t c = ir_attr_i(n, "channels", -1);
	if (!blocked(x))
		return need_blocked(g, n, d, x);
	if (c < 1 || cblocks(c) != x->shape.d[1])
		return ir_node_error(d, g, n, E_MODEL, "channels %lld do not fit %lld blocks",
		                     (long long)c, (long long)x->shape.d[1]);
	Shape s = {.rank = 4, .d = {x->shape.d[0], c, x->shape.d[2], x->shape.d[3]}};
	return sh_out(g, n, d, 0, x->dt, &s);
}

int sh_gap_nchwc(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int64_t c = ir_attr_i(n, "channels", -1);
	if (!blocked(x))
		return need_blocked(g, n, d, x);
	if (c < 1 || cblocks(c) != x->shape.d[1])
		return ir_node_error(d, g, n, E_MODEL, "channels %lld do not fit %lld blocks",
		                     (long long)c, (long long)x->shape.d[1]);
	Shape s = {.rank = 4, .d = {x->shape.d[0], c, 1, 1}};
	return sh_out(g, n, d, 0, x->dt, &s);
}

int sh_maxpool_nchwc(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int64_t ks[2], st[2], pd[4], dl[2];
	if (!blocked(x))
		return need_blocked(g, n, d, x);
	if (sh_attr_ints(n, "kernel_shape", ks, 2) != 2 || ks[0] < 1 || ks[1] < 1 ||
	    !window(n, st, pd, dl))
		return ir_node_error(d, g, n, E_MODEL, "bad window attributes");
	Shape s = x->shape;
	s.d[2] = wout(g, x->shape.d[2], ks[0], st[0], pd[0], pd[2], dl[0]);
	s.d[3] = wout(g, x->shape.d[3], ks[1], st[1], pd[1], pd[3], dl[1]);
	if (s.d[2] == 0 || s.d[3] == 0)
		return ir_node_error(d, g, n, E_MODEL, "window larger than the padded input");
	return sh_out(g, n, d, 0, x->dt, &s);
}

/* conv_nchwc(X, W, B?, R?): X NCHW [N, C, H, W] or NCHW16c; W [M, C/group,
 * KH, KW]; R (the residual) NCHW16c of the output's shape. */
int sh_conv_nchwc(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0), *w = sh_in(g, n, 1);
	char b1[256], b2[256];
	int64_t st[2], pd[4], dl[2], grp = ir_attr_i(n, "group", 1);
	bool xb = blocked(x);
	if ((!xb && x->shape.rank != 4) || w->shape.rank != 4 || x->shape.d[1] < 0 ||
	    w->shape.d[0] < 1 || w->shape.d[1] < 1 || w->shape.d[2] < 1 ||
	    w->shape.d[3] < 1 || grp < 1)
		return ir_node_error(d, g, n, E_MODEL, "input %s and weight %s do not make a 2-D convolution",
		                     TSTR(x, b1), TSTR(w, b2));
	int64_t c = w->shape.d[1] * grp;
	if ((xb && cblocks(c) != x->shape.d[1]) || (!xb && x->shape.d[1] != c) ||
	    w->shape.d[0] % grp)
		return ir_node_error(d, g, n, E_MODEL, "input %s does not have the %lld channels of weight %s",
		                     TSTR(x, b1), (long long)c, TSTR(w, b2));
	if (!window(n, st, pd, dl))
		return ir_node_error(d, g, n, E_MODEL, "bad window attributes");
	Shape s = {.rank = 5, .d = {x->shape.d[0], cblocks(w->shape.d[0]),
	                            wout(g, x->shape.d[2], w->shape.d[2], st[0], pd[0], pd[2], dl[0]),
	                            wout(g, x->shape.d[3], w->shape.d[3], st[1], pd[1], pd[3], dl[1]),
	                            NCB}};
	if (s.d[2] == 0 || s.d[3] == 0)
		return ir_node_error(d, g, n, E_MODEL, "kernel larger than the padded input");
	Value *r = sh_in(g, n, 3);
	if (r) {
		bool ok = r->shape.rank == 5;
		for (int i = 1; ok && i < 5; i++)
			ok = r->shape.d[i] == s.d[i];
		if (!ok)
			return ir_node_error(d, g, n, E_MODEL, "residual %s is not the output's NCHW16c shape",
			                     TSTR(r, b1));
	}
	return sh_out(g, n, d, 0, x->dt, &s);
}
