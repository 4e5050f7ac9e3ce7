/* Lowering to library kernels (KK_LIB): f32 MatMul / Gemm, Conv (1-D and
 * 2-D, any group) and LayerNormalization run as calls of the tuned kernel
 * library (runtime/kgemm.h, runtime/kops.h) instead of loop nests. A
 * constant GEMM right operand is packed here, at compile time, into
 * kgemm's panel layout and stored in the weights blob as a new constant,
 * so a run reads it as is. Fused epilogues (bias, residual, activation)
 * come from the fused ops of passes/fuse.c. */
#include <stdlib.h>
#include <string.h>
#include "lower.h"
#include "lib.h"
#include "../runtime/kgemm.h"
#include "../runtime/kops.h"

static bool f32(const Graph *g, uint32_t v)
{
	return v != IR_NONE && v < g->nval && g->val[v].dt == DT_F32;
}

static bool is_const(const Graph *g, uint32_t v)
{
	return v != IR_NONE && g->val[v].kind == VK_CONST && g->val[v].data;
}

static bool same_shape(const Shape *a, const Shape *b)
{
	if (a->rank != b->rank)
		return false;
	for (int i = 0; i < a->rank; i++)
		if (a->d[i] != b->d[i])
			return false;
	return true;
}

static bool is_fused_mm(int op) { return op == OP_fused_matmul; }
static bool is_fused_conv(int op) { return op == OP_fused_conv; }

bool lib_mm_shape(Graph *g, const Node *n, LibMM *m)
{
	memset(m, 0, sizeof *m);
	if (n->nin < 2 || n->in[0] == IR_NONE || n->in[1] == IR_NONE)
		return false;
	m->a = n->in[0];
	m->b = n->in[1];
	m->y = n->out[0];
	m->alpha = 1.0;
	if (!f32(g, m->a) || !f32(g, m->b) || !f32(g, m->y))
		return false;
	const Value *A = &g->val[m->a], *B = &g->val[m->b], *Y = &g->val[m->y];
	int ra = A->shape.rank, rb = B->shape.rank, ro = Y->shape.rank;
	if (n->op == OP_Gemm) {
		if (ra != 2 || rb != 2)
			return false;
		m->ta = ir_attr_i(n, "transA", 0) != 0;
		m->tb = ir_attr_i(n, "transB", 0) != 0;
		m->alpha = ir_attr_f(n, "alpha", 1.0);
		m->M = A->shape.d[m->ta ? 1 : 0];
		m->K = A->shape.d[m->ta ? 0 : 1];
		m->N = B->shape.d[m->tb ? 0 : 1];
		m->fold = true;
		m->rows = m->M;
		return true;
	}
	if (ra < 1 || rb < 1)
		return false;
	m->M = ra > 1 ? A->shape.d[ra - 2] : 1;
	m->K = A->shape.d[ra - 1];
	m->N = rb > 1 ? B->shape.d[rb - 1] : 1;
	Dim kb = rb > 1 ? B->shape.d[rb - 2] : B->shape.d[0];
	if (m->K != kb)
		return false;
	m->nb = ro - (ra > 1) - (rb > 1);
	if (m->nb < 0)
		return false;
	if (rb <= 2) {   /* A's batch dims are the output's: fold them into rows */
		m->fold = true;
		m->rows = m->M;
		for (int d = 0; d < ra - 2; d++)
			m->rows = ir_dim_bin(g, DX_MUL, m->rows, A->shape.d[d]);
		return true;
	}
	int abat = ra > 2 ? ra - 2 : 0, bbat = rb - 2;
	Dim ast = ir_dim_bin(g, DX_MUL, m->M, m->K), bst = ir_dim_bin(g, DX_MUL, m->K, m->N);
	for (int d = m->nb - 1; d >= 0; d--) {
		m->bext[d] = Y->shape.d[d];
		int da = d - (m->nb - abat), db = d - (m->nb - bbat);
		Dim xa = da >= 0 ? A->shape.d[da] : 1, xb = db >= 0 ? B->shape.d[db] : 1;
		/* a symbolic batch dim that might be 1 where the output's is not */
		if ((xa != m->bext[d] && xa != 1) || (xb != m->bext[d] && xb != 1))
			return false;
		m->ast[d] = xa == 1 ? 0 : ast;
		m->bst[d] = xb == 1 ? 0 : bst;
		if (da >= 0)
			ast = ir_dim_bin(g, DX_MUL, ast, xa);
		if (db >= 0)
			bst = ir_dim_bin(g, DX_MUL, bst, xb);
	}
	return true;
}

/* Strides, dilations and leading pads of a window op over nsp spatial dims
 * (input in[], kernel ks[], output out[]); false for what is not covered. */
static bool win_attrs(const Node *n, int nsp, const int64_t *in, const int64_t *ks,
                      const int64_t *out, int64_t *st, int64_t *dl, int64_t *pb)
{
	const int64_t *v;
	int cnt;
	if ((cnt = ir_attr_ints(n, "strides", &v)) > 0) {
		if (cnt != nsp)
			return false;
		for (int i = 0; i < nsp; i++)
			st[i] = v[i];
	}
	if ((cnt = ir_attr_ints(n, "dilations", &v)) > 0) {
		if (cnt != nsp)
			return false;
		for (int i = 0; i < nsp; i++)
			dl[i] = v[i];
	}
	const char *ap = ir_attr_s(n, "auto_pad", "NOTSET");
	int same = !strcmp(ap, "SAME_UPPER") ? 1 : !strcmp(ap, "SAME_LOWER") ? 2 : 0;
	if (!same && strcmp(ap, "VALID") && strcmp(ap, "NOTSET") && *ap)
		return false;
	if (!same && strcmp(ap, "VALID") && (cnt = ir_attr_ints(n, "pads", &v)) > 0) {
		if (cnt != 2 * nsp)
			return false;
		for (int i = 0; i < nsp; i++)
			pb[i] = v[i];
	}
	for (int i = 0; i < nsp; i++) {
		if (st[i] < 1 || dl[i] < 1 || pb[i] < 0)
			return false;
		if (same) {
			int64_t tot = (out[i] - 1) * st[i] + (ks[i] - 1) * dl[i] + 1 - in[i];
			if (tot < 0)
				tot = 0;
			pb[i] = same == 1 ? tot / 2 : tot - tot / 2;
		}
	}
	return true;
}

static bool conv_shape(Graph *g, const Node *n, LibConv *c, bool dyn_ok);

bool lib_conv_shape(Graph *g, const Node *n, LibConv *c) { return conv_shape(g, n, c, false); }

bool lib_conv_shape_dyn(Graph *g, const Node *n, LibConv *c) { return conv_shape(g, n, c, true); }

static bool conv_shape(Graph *g, const Node *n, LibConv *c, bool dyn_ok)
{
	memset(c, 0, sizeof *c);
	if (n->nin < 2 || n->in[0] == IR_NONE || n->in[1] == IR_NONE)
		return false;
	c->x = n->in[0];
	c->w = n->in[1];
	c->y = n->out[0];
	if (!f32(g, c->x) || !f32(g, c->w) || !f32(g, c->y))
		return false;
	const Value *X = &g->val[c->x], *W = &g->val[c->w], *Y = &g->val[c->y];
	int r = X->shape.rank;
	if ((r != 3 && r != 4) || W->shape.rank != r || Y->shape.rank != r)
		return false;
	for (int i = 1; i < r; i++) {
		if (W->shape.d[i] < 0)
			return false;
		if (X->shape.d[i] < 0 || Y->shape.d[i] < 0) {
			if (!dyn_ok || r != 4 || i < 2)
				return false;
			c->dyn = true;
		}
	}
	if (W->shape.d[0] < 0 || X->shape.d[0] != Y->shape.d[0])
		return false;
	int two = r == 4;
	if (c->dyn) {
		const char *ap = ir_attr_s(n, "auto_pad", "NOTSET");
		if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER"))
			return false;   /* the pads would depend on the run-time size */
		c->vh = X->shape.d[2];
		c->vw = X->shape.d[3];
		c->voh = Y->shape.d[2];
		c->vow = Y->shape.d[3];
	}
	c->n = X->shape.d[0];
	c->c = X->shape.d[1];
	c->h = two ? X->shape.d[2] : 1;
	c->wd = X->shape.d[r - 1];
	c->m = W->shape.d[0];
	c->kh = two ? W->shape.d[2] : 1;
	c->kw = W->shape.d[r - 1];
	c->oh = two ? Y->shape.d[2] : 1;
	c->ow = Y->shape.d[r - 1];
	if (!c->dyn) {
		c->vh = c->h;
		c->vw = c->wd;
		c->voh = c->oh;
		c->vow = c->ow;
	} else
		c->h = c->wd = c->oh = c->ow = -1;
	c->grp = ir_attr_i(n, "group", 1);
	if (c->grp < 1 || c->c % c->grp || c->m % c->grp || W->shape.d[1] * c->grp != c->c ||
	    Y->shape.d[1] != c->m)
		return false;
	int nsp = r - 2;
	int64_t st[2] = {1, 1}, dl[2] = {1, 1}, pb[2] = {0, 0};
	int64_t in[2] = {c->h, c->wd}, ks[2] = {c->kh, c->kw}, out[2] = {c->oh, c->ow};
	if (!two) {
		in[0] = c->wd; ks[0] = c->kw; out[0] = c->ow;
	}
	if (!win_attrs(n, nsp, in, ks, out, st, dl, pb))
		return false;
	if (two) {
		c->sh = st[0]; c->sw = st[1]; c->dh = dl[0]; c->dw = dl[1]; c->pt = pb[0]; c->pl = pb[1];
	} else {
		c->sh = 1; c->sw = st[0]; c->dh = 1; c->dw = dl[0]; c->pt = 0; c->pl = pb[0];
	}
	return true;
}

bool lib_pool_shape(Graph *g, const Node *n, LibConv *c)
{
	memset(c, 0, sizeof *c);
	if (n->nin < 1 || !f32(g, n->in[0]) || !f32(g, n->out[0]))
		return false;
	c->x = n->in[0];
	c->y = n->out[0];
	const Value *X = &g->val[c->x], *Y = &g->val[c->y];
	if (X->shape.rank != 4 || Y->shape.rank != 4)
		return false;
	for (int i = 0; i < 4; i++)
		c->dyn |= X->shape.d[i] < 0 || Y->shape.d[i] < 0;
	/* symbolic dims (dyn): the rendering reads them at run time (vh ..
	 * vow; planes from X's N and C) and h .. ow are -1 */
	c->vh = X->shape.d[2];
	c->vw = X->shape.d[3];
	c->voh = Y->shape.d[2];
	c->vow = Y->shape.d[3];
	c->n = c->dyn ? -1 : X->shape.d[0] * X->shape.d[1];
	c->h = c->dyn ? -1 : X->shape.d[2];
	c->wd = c->dyn ? -1 : X->shape.d[3];
	c->oh = c->dyn ? -1 : Y->shape.d[2];
	c->ow = c->dyn ? -1 : Y->shape.d[3];
	if (n->op == OP_GlobalAveragePool)
		return Y->shape.d[0] == X->shape.d[0] && Y->shape.d[1] == X->shape.d[1] &&
		       Y->shape.d[2] == 1 && Y->shape.d[3] == 1;
	if (c->dyn && strcmp(ir_attr_s(n, "auto_pad", "NOTSET"), "NOTSET") &&
	    strcmp(ir_attr_s(n, "auto_pad", "NOTSET"), "VALID"))
		return false;   /* SAME pads would depend on the run-time size */
	const int64_t *v;
	if (ir_attr_ints(n, "kernel_shape", &v) != 2 || ir_attr_i(n, "storage_order", 0))
		return false;
	c->kh = v[0];
	c->kw = v[1];
	int64_t st[2] = {1, 1}, dl[2] = {1, 1}, pb[2] = {0, 0};
	int64_t in[2] = {c->h, c->wd}, ks[2] = {c->kh, c->kw}, out[2] = {c->oh, c->ow};
	if (c->kh < 1 || c->kw < 1 || !win_attrs(n, 2, in, ks, out, st, dl, pb))
		return false;
	c->sh = st[0]; c->sw = st[1]; c->dh = dl[0]; c->dw = dl[1]; c->pt = pb[0]; c->pl = pb[1];
	return true;
}

/* A new f32 constant of `bytes` bytes, filled by the caller; IR_NONE when
 * out of memory. Grows the program's alias table to the new value count. */
uint32_t lib_new_const(Low *L, size_t bytes, float **data)
{
	Graph *g = L->g;
	float *buf = arena_alloc(g->arena, bytes ? bytes : 64);
	uint32_t *al = realloc(L->p->alias, (g->nval + 1) * sizeof *al);
	if (!buf || !al)
		return IR_NONE;
	L->p->alias = al;
	Shape s = {.rank = 1, .d = {(Dim)(bytes / sizeof(float))}};
	uint32_t v = ir_const(g, NULL, DT_F32, &s, buf);
	if (v == IR_NONE || v != g->nval - 1)
		return IR_NONE;
	al[v] = v;
	*data = buf;
	return v;
}

/* A new constant holding op(B) (K x N) packed for kgemm. */
static uint32_t packed_const(Low *L, uint32_t bv, int transB, int64_t K, int64_t N)
{
	float *buf;
	const float *src = L->g->val[bv].data;
	uint32_t v = lib_new_const(L, kgemm_pack_b_size(K, N), &buf);
	if (v != IR_NONE)
		kgemm_pack_b(src, transB ? K : N, transB, K, N, buf);
	return v;
}

static int act_of(const Node *n)
{
	const char *a = ir_attr_s(n, "activation", "");
	if (!strcmp(a, "Relu"))
		return KGEMM_ACT_RELU;
	if (!strcmp(a, "Gelu"))
		return KGEMM_ACT_GELU_ERF;
	if (!strcmp(a, "Silu"))
		return KGEMM_ACT_SILU;
	if (!strcmp(a, "GeluTanh"))
		return KGEMM_ACT_GELU_TANH;
	return *a ? -1 : KGEMM_ACT_NONE;
}

static int lower_gemm_lib(Low *L, Node *n)
{
	Graph *g = L->g;
	LibMM m;
	if (!lib_mm_shape(g, n, &m))
		return LW_CALL;
	uint32_t bias = IR_NONE, res = IR_NONE;
	int act = KGEMM_ACT_NONE, cmode = 0;
	if (n->op == OP_Gemm && n->nin > 2 && n->in[2] != IR_NONE) {
		const Value *C = &g->val[n->in[2]];
		double beta = ir_attr_f(n, "beta", 1.0);
		if (!f32(g, n->in[2]) || C->shape.rank > 2)
			return LW_CALL;
		int rc = C->shape.rank;
		Dim cm = rc == 2 ? C->shape.d[0] : 1, cn = rc >= 1 ? C->shape.d[rc - 1] : 1;
		if ((cm != 1 && cm != m.M) || (cn != 1 && cn != m.N))
			return LW_CALL;
		if (beta != 0.0) {
			bias = n->in[2];
			cmode = cm == 1 && cn == m.N && beta == 1.0 ? 1 : 2;
		}
	}
	if (is_fused_mm(n->op)) {
		if ((act = act_of(n)) < 0)
			return LW_CALL;
		if (n->nin > 2 && n->in[2] != IR_NONE) {
			const Value *C = &g->val[n->in[2]];
			if (!f32(g, n->in[2]) || C->shape.rank != 1 || C->shape.d[0] != m.N)
				return LW_CALL;
			bias = n->in[2];
			cmode = 1;
		}
		if (n->nin > 3 && n->in[3] != IR_NONE) {
			const Value *R = &g->val[n->in[3]], *Y = &g->val[m.y];
			if (!f32(g, n->in[3]) || !same_shape(&R->shape, &Y->shape))
				return LW_CALL;
			res = n->in[3];
		}
	}
	uint32_t packed = IR_NONE;
	const Value *B = &g->val[m.b];
	if (m.fold && is_const(g, m.b) && B->shape.rank <= 2 && m.K >= 0 && m.N >= 0) {
		packed = packed_const(L, m.b, m.tb, m.K, m.N);
		if (packed == IR_NONE)
			return ir_node_error(L->d, g, n, E_MODEL, "out of memory packing weights") ? LW_ERR
			                                                                         : LW_ERR;
	}
	Kernel *k = kir_kernel(L->p, KK_LIB, L->nid);
	k->lib = (KLib){.fn = KL_GEMM, .packed = packed, .bias = bias, .res = res, .act = act};
	k->lib.iarg[0] = cmode;
	kir_param(k, m.a, false);
	kir_param(k, packed != IR_NONE ? packed : m.b, false);
	if (bias != IR_NONE)
		kir_param(k, bias, false);
	if (res != IR_NONE)
		kir_param(k, res, false);
	kir_param(k, m.y, true);
	return LW_OK;
}

static int lower_conv_lib(Low *L, Node *n)
{
	Graph *g = L->g;
	LibConv c;
	if (!lib_conv_shape_dyn(g, n, &c))
		return LW_CALL;
	uint32_t bias = IR_NONE, res = IR_NONE;
	int act = KGEMM_ACT_NONE;
	if (n->nin > 2 && n->in[2] != IR_NONE) {
		const Value *B = &g->val[n->in[2]];
		if (!f32(g, n->in[2]) || B->shape.rank != 1 || B->shape.d[0] != c.m)
			return LW_CALL;
		bias = n->in[2];
	}
	if (is_fused_conv(n->op)) {
		if ((act = act_of(n)) < 0)
			return LW_CALL;
		if (n->nin > 3 && n->in[3] != IR_NONE) {
			if (!f32(g, n->in[3]) || !same_shape(&g->val[n->in[3]].shape, &g->val[c.y].shape))
				return LW_CALL;
			res = n->in[3];
		}
	}
	/* W^T packed at compile time for the transposed orientation */
	int64_t q[KC_NP] = {1, c.c, c.h, c.wd, c.m, c.kh, c.kw, c.oh, c.ow, c.sh, c.sw, c.pt, c.pl,
	                    c.dh, c.dw, c.grp};
	uint32_t packed = IR_NONE;
	/* symbolic sizes: the orientation is only known at run time, so the
	 * packed copy goes along with the plain weights */
	if (is_const(g, c.w) && (c.dyn || kconv2d_transposed(q))) {
		float *buf;
		const float *w = g->val[c.w].data;
		packed = lib_new_const(L, kconv2d_pack_size(q), &buf);
		if (packed == IR_NONE)
			return ir_node_error(L->d, g, n, E_MODEL, "out of memory packing weights") ? LW_ERR
			                                                                         : LW_ERR;
		kconv2d_pack(q, w, buf);
	}
	Kernel *k = kir_kernel(L->p, KK_LIB, L->nid);
	k->lib = (KLib){.fn = KL_CONV, .packed = packed, .bias = bias, .res = res, .act = act};
	kir_param(k, c.x, false);
	kir_param(k, packed != IR_NONE ? packed : c.w, false);
	if (c.dyn && packed != IR_NONE)
		kir_param(k, c.w, false);
	if (bias != IR_NONE)
		kir_param(k, bias, false);
	if (res != IR_NONE)
		kir_param(k, res, false);
	kir_param(k, c.y, true);
	return LW_OK;
}

/* LayerNormalization with only its first output used, Scale and B of the
 * normalised dims' full shape. */
static int lower_ln_lib(Low *L, Node *n)
{
	Graph *g = L->g;
	if (n->nin < 2 || !f32(g, n->in[0]) || !f32(g, n->in[1]) || !f32(g, n->out[0]))
		return LW_CALL;
	uint32_t *uses = ir_use_counts(g);
	bool extra = false;
	for (int j = 1; j < n->nout; j++) {
		bool used = uses && uses[n->out[j]] > 0;
		for (uint32_t o = 0; o < g->nout; o++)
			used |= g->out[o] == n->out[j];
		extra |= used;
	}
	free(uses);
	if (extra)
		return LW_CALL;
	const Shape *xs = &g->val[n->in[0]].shape;
	int r = xs->rank;
	int64_t ax = ir_attr_i(n, "axis", -1);
	if (ax < 0)
		ax += r;
	if (ax < 0 || ax >= r)
		return LW_CALL;
	int64_t len = 1;
	for (int i = (int)ax; i < r; i++) {
		if (xs->d[i] < 0)
			return LW_CALL;
		len *= xs->d[i];
	}
	for (int t = 1; t < 3 && t < n->nin; t++) {
		if (n->in[t] == IR_NONE)
			continue;
		if (!f32(g, n->in[t]))
			return LW_CALL;
		const Shape *s = &g->val[n->in[t]].shape;
		if (shape_numel_static(s) != len || s->rank > r - ax)
			return LW_CALL;
	}
	Kernel *k = kir_kernel(L->p, KK_LIB, L->nid);
	k->lib = (KLib){.fn = KL_LAYERNORM, .packed = IR_NONE, .bias = IR_NONE, .res = IR_NONE};
	k->lib.iarg[0] = ax;
	k->lib.iarg[1] = len;
	for (int j = 0; j < n->nin && j < 3; j++)
		if (n->in[j] != IR_NONE)
			kir_param(k, n->in[j], false);
	kir_param(k, n->out[0], true);
	return LW_OK;
}

/* MaxPool (Indices unused) and GlobalAveragePool, f32 NCHW; dims may be
 * symbolic (explicit pads then). */
static int lower_pool_lib(Low *L, Node *n)
{
	Graph *g = L->g;
	LibConv c;
	if (!lib_pool_shape(g, n, &c))
		return LW_CALL;
	if (n->nout > 1) {
		uint32_t *uses = ir_use_counts(g);
		bool used = !uses || uses[n->out[1]] > 0;
		for (uint32_t o = 0; o < g->nout; o++)
			used |= g->out[o] == n->out[1];
		free(uses);
		if (used)
			return LW_CALL;
	}
	Kernel *k = kir_kernel(L->p, KK_LIB, L->nid);
	k->lib = (KLib){.fn = KL_POOL, .packed = IR_NONE, .bias = IR_NONE, .res = IR_NONE};
	kir_param(k, c.x, false);
	kir_param(k, c.y, true);
	return LW_OK;
}

int lower_lib(Low *L, Node *n)
{
	if (L->p->opt < 1)
		return LW_CALL;
	if (n->op >= OP_to_nchwc && n->op <= OP_gap_nchwc)
		return lower_nchwc(L, n);
	/* a row op with its prologue (passes/fuse.c): one row kernel, or its
	 * members lowered apart and the op as below */
	if ((n->op == OP_LayerNormalization || n->op == OP_Softmax || n->op == OP_LogSoftmax) &&
	    lw_group_of(n) >= 0) {
		int rc = lower_group_rowop(L, n);
		if (rc != LW_CALL)
			return rc;
	}
	/* GPU targets: ops with device loop lowerings stay device kernels; the
	 * library kernels run on the host */
	if (L->p->gpu && (n->op == OP_MatMul || n->op == OP_Gemm ||
	                  n->op == OP_LayerNormalization || n->op == OP_MaxPool ||
	                  n->op == OP_GlobalAveragePool))
		return LW_CALL;
	if (n->op == OP_MatMul || n->op == OP_Gemm || is_fused_mm(n->op))
		return lower_gemm_lib(L, n);
	if (n->op == OP_Conv || is_fused_conv(n->op))
		return lower_conv_lib(L, n);
	if (n->op == OP_LayerNormalization)
		return lower_ln_lib(L, n);
	if (n->op == OP_MaxPool || n->op == OP_GlobalAveragePool)
		return lower_pool_lib(L, n);
	return LW_CALL;
}
