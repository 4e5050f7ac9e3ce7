/* Lowering and C rendering of the blocked-layout ops (passes/layout.c):
 * conv_nchwc, maxpool_nchwc, gap_nchwc, to_nchwc and from_nchwc become
 * library kernels (KK_LIB, KL_NCHWC) calling runtime/kconv.c. The
 * convolution's constant weights are packed here, at compile time, into
 * the layout its tiles read. Channel counts are static; the batch and the
 * spatial dims may be symbolic, rendered from the run's dims (then the
 * Winograd choice of a convolution is made here, for every size:
 * kconvc_winograd_any and the kconvc_*_w entry points). */
#include <string.h>
#include "lower.h"
#include "lib.h"
#include "render.h"
#include "../runtime/kconv.h"

/* Spatial sizes of conv_nchwc node n: dims (symbolic where dynamic), in
 * KC_H, KC_W, KC_OH, KC_OW order; true when some is symbolic. */
static bool conv_dims(const Graph *g, const Node *n, Dim *v)
{
	const Shape *x = &g->val[n->in[0]].shape, *y = &g->val[n->out[0]].shape;
	v[0] = x->d[2], v[1] = x->d[3], v[2] = y->d[2], v[3] = y->d[3];
	return v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0;
}

/* The convolution parameters (kops.h KC_*, KC_N left 0: the batch is
 * rendered from the graph) of conv_nchwc node n; false when not covered.
 * Symbolic spatial sizes are 1 here (packing does not read them) and
 * *dyn is set. */
static bool conv_params(const Graph *g, const Node *n, int64_t *p, int *inb, bool *dyn)
{
	const Shape *x = &g->val[n->in[0]].shape, *w = &g->val[n->in[1]].shape;
	const Shape *y = &g->val[n->out[0]].shape;
	if (w->rank != 4 || y->rank != 5 || (x->rank != 4 && x->rank != 5))
		return false;
	int64_t st[2] = {1, 1}, dl[2] = {1, 1};
	const int64_t *v;
	if (ir_attr_ints(n, "strides", &v) == 2)
		st[0] = v[0], st[1] = v[1];
	if (ir_attr_ints(n, "dilations", &v) == 2)
		dl[0] = v[0], dl[1] = v[1];
	int64_t pt = 0, pl = 0;
	if (ir_attr_ints(n, "pads", &v) == 4)
		pt = v[0], pl = v[1];
	int64_t grp = ir_attr_i(n, "group", 1);
	Dim sp[4];
	*dyn = conv_dims(g, n, sp);
	for (int i = 0; i < 4; i++)
		sp[i] = sp[i] < 0 ? 1 : sp[i];
	int64_t q[KC_NP] = {0, w->d[1] * grp, sp[0], sp[1], w->d[0], w->d[2], w->d[3], sp[2],
	                    sp[3], st[0], st[1], pt, pl, dl[0], dl[1], grp};
	for (int i = 1; i < KC_NP; i++)
		if (q[i] < 0)
			return false;
	memcpy(p, q, sizeof q);
	*inb = x->rank == 5;
	return kconvc_supported(p);
}

static int act_of(const Node *n)
{
	const char *a = ir_attr_s(n, "activation", "");
	return !*a ? KGEMM_ACT_NONE : !strcmp(a, "Relu") ? KGEMM_ACT_RELU :
	       !strcmp(a, "Gelu") ? KGEMM_ACT_GELU_ERF : !strcmp(a, "Silu") ? KGEMM_ACT_SILU :
	       !strcmp(a, "Clip") ? KC_ACT_CLIP : !strcmp(a, "HardSwish") ? KC_ACT_HSWISH :
	       !strcmp(a, "HardSigmoid") ? KC_ACT_HSIGMOID : -1;
}

static bool f32(const Graph *g, uint32_t v)
{
	return v != IR_NONE && g->val[v].dt == DT_F32;
}

int lower_nchwc(Low *L, Node *n)
{
	Graph *g = L->g;
	if (!f32(g, n->in[0]) || !f32(g, n->out[0]) || g->val[n->in[0]].shape.d[1] < 0 ||
	    g->val[n->out[0]].shape.d[1] < 0)
		return LW_CALL;
	uint32_t packed = IR_NONE, bias = IR_NONE, res = IR_NONE;
	int act = KGEMM_ACT_NONE;
	if (n->op == OP_conv_nchwc) {
		int64_t p[KC_NP];
		int inb;
		bool dyn;
		const Value *W = &g->val[n->in[1]];
		if (!conv_params(g, n, p, &inb, &dyn) || W->kind != VK_CONST || !W->data || W->dt != DT_F32 ||
		    (act = act_of(n)) < 0)
			return LW_CALL;
		if (n->nin > 2 && n->in[2] != IR_NONE) {
			if (!f32(g, n->in[2]) || shape_numel_static(&g->val[n->in[2]].shape) != p[KC_M])
				return LW_CALL;
			bias = n->in[2];
		}
		if (n->nin > 3 && n->in[3] != IR_NONE) {
			if (!f32(g, n->in[3]))
				return LW_CALL;
			res = n->in[3];
		}
		const float *wd = W->data;   /* lib_new_const may move g->val (W) */
		float *buf;
		int wino = dyn ? kconvc_winograd_any(p, inb) : 0;
		packed = lib_new_const(L, dyn ? kconvc_pack_size_w(p, inb, wino) : kconvc_pack_size(p, inb),
		                       &buf);
		if (packed == IR_NONE)
			return ir_node_error(L->d, g, n, E_MODEL, "out of memory packing weights"), LW_ERR;
		if (dyn)
			kconvc_pack_w(p, inb, wino, wd, buf);
		else
			kconvc_pack(p, inb, wd, buf);
	}
	Kernel *k = kir_kernel(L->p, KK_LIB, L->nid);
	k->lib = (KLib){.fn = KL_NCHWC, .packed = packed, .bias = bias, .res = res, .act = act};
	kir_param(k, n->in[0], false);
	if (packed != IR_NONE)
		kir_param(k, packed, false);
	if (bias != IR_NONE)
		kir_param(k, bias, false);
	if (res != IR_NONE)
		kir_param(k, res, false);
	kir_param(k, n->out[0], true);
	return LW_OK;
}

/* the product of dims a and b as C */
static void dim2(CBuf *b, Dim x, Dim y)
{
	if (x >= 0 && y >= 0) {
		cb_printf(b, "%lldLL", (long long)(x * y));
		return;
	}
	cb_puts(b, "(");
	lib_dimc(b, x);
	cb_puts(b, " * ");
	lib_dimc(b, y);
	cb_puts(b, ")");
}

int cg_emit_nchwc(CBuf *b, const KProg *p, const Plan *pl, int ki, Diag *d)
{
	Graph *g = p->g;
	const Kernel *k = &p->k[ki];
	const Node *n = &g->node[k->node];
	const KLib *lb = &k->lib;
	const Shape *xs = &g->val[n->in[0]].shape, *ys = &g->val[n->out[0]].shape;
	char nm[128];
	cg_safe(n->name, nm, sizeof nm);
	cb_printf(b, "/* %s '%s' (kconv, NCHW16c) */\nstatic int k%d(struct vibee_ctx *r)\n{\n",
	          ir_op_name(n->op), nm, ki);
	lib_bind(b, pl, "const float *", "X", n->in[0]);
	lib_bind(b, pl, "float *", "Y", n->out[0]);
	cb_puts(b, "\tconst int64_t N = ");
	lib_dimc(b, xs->d[0]);
	cb_puts(b, ";\n\tconst int64_t HW = ");
	dim2(b, xs->d[2], xs->d[3]);
	cb_puts(b, ";\n\t(void)HW;\n");
	switch (n->op) {
	case OP_to_nchwc:
		cb_printf(b, "\tknchwc_to(N, %lldLL, HW, X, Y);\n", (long long)xs->d[1]);
		break;
	case OP_from_nchwc:
	case OP_gap_nchwc:
		cb_printf(b, "\t%s(N, %lldLL, HW, X, Y);\n",
		          n->op == OP_gap_nchwc ? "kgapc_f32" : "knchwc_from", (long long)ys->d[1]);
		break;
	case OP_maxpool_nchwc: {
		const int64_t *v;
		int64_t ks[2] = {1, 1}, st[2] = {1, 1}, pd[2] = {0, 0}, dl[2] = {1, 1};
		if (ir_attr_ints(n, "kernel_shape", &v) == 2)
			ks[0] = v[0], ks[1] = v[1];
		if (ir_attr_ints(n, "strides", &v) == 2)
			st[0] = v[0], st[1] = v[1];
		if (ir_attr_ints(n, "pads", &v) == 4)
			pd[0] = v[0], pd[1] = v[1];
		if (ir_attr_ints(n, "dilations", &v) == 2)
			dl[0] = v[0], dl[1] = v[1];
		cb_printf(b, "\tconst int64_t q[KP_NQ] = {N * %lldLL, ", (long long)xs->d[1]);
		lib_dimc(b, xs->d[2]);
		cb_puts(b, ", ");
		lib_dimc(b, xs->d[3]);
		cb_printf(b, ", %lld, %lld, ", (long long)ks[0], (long long)ks[1]);
		lib_dimc(b, ys->d[2]);
		cb_puts(b, ", ");
		lib_dimc(b, ys->d[3]);
		cb_printf(b, ", %lld, %lld, %lld, %lld, %lld, %lld};\n\tkmaxpoolc_f32(r->pool, q, X, Y);\n",
		          (long long)st[0], (long long)st[1], (long long)pd[0], (long long)pd[1],
		          (long long)dl[0], (long long)dl[1]);
		break;
	}
	case OP_conv_nchwc: {
		int64_t q[KC_NP];
		int inb;
		bool dyn;
		if (!conv_params(g, n, q, &inb, &dyn))
			return diag_set(d, E_MODEL, "internal: conv_nchwc of node %u no longer applies",
			                k->node);
		lib_bind(b, pl, "const float *", "Wp", lb->packed);
		lib_bind(b, pl, "const float *", "Cb", lb->bias);
		lib_bind(b, pl, "const float *", "R", lb->res);
		Dim sp[4];
		conv_dims(g, n, sp);
		const int at[4] = {KC_H, KC_W, KC_OH, KC_OW};
		cb_puts(b, "\tconst int64_t p[KC_NP] = {N");
		for (int i = 1; i < KC_NP; i++) {
			int s = -1;
			for (int j = 0; j < 4; j++)
				s = at[j] == i ? j : s;
			cb_puts(b, ", ");
			if (s >= 0)
				lib_dimc(b, sp[s]);
			else
				cb_printf(b, "%lld", (long long)q[i]);
		}
		cb_printf(b, "};\n\tstatic const float ap[2] = {%.9g, %.9g};\n",
		          ir_attr_f(n, "act_alpha", 0.0), ir_attr_f(n, "act_beta", 0.0));
		if (dyn) {   /* the Winograd choice of lower_nchwc, for every size */
			int wino = kconvc_winograd_any(q, inb);
			cb_printf(b, "\tsize_t ns = kconvc_scratch_w(p, %d, %d);\n"
			          "\tvoid *scr = karena_alloc(&r->arena, ns);\n"
			          "\tif (!scr)\n\t\treturn vfail(r, 4, \"node '%s' (%s): out of memory\");\n"
			          "\tkconvc_f32_w(r->pool, p, %d, %d, X, Wp, Cb, R, Y, %d, ap, scr);\n", inb,
			          wino, nm, ir_op_name(n->op), inb, wino, lb->act);
			break;
		}
		cb_printf(b, "\tsize_t ns = kconvc_scratch(p, %d);\n"
		          "\tvoid *scr = karena_alloc(&r->arena, ns);\n"
		          "\tif (!scr)\n\t\treturn vfail(r, 4, \"node '%s' (%s): out of memory\");\n"
		          "\tkconvc_f32(r->pool, p, %d, X, Wp, Cb, R, Y, %d, ap, scr);\n", inb, nm,
		          ir_op_name(n->op), inb, lb->act);
		break;
	}
	default:
		return diag_set(d, E_MODEL, "internal: %s is not a blocked-layout op", ir_op_name(n->op));
	}
	cb_puts(b, "\treturn 0;\n}\n\n");
	return E_OK;
}
