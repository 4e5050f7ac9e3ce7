/* Gemm with constant weights becomes a MatMul-shaped fused_matmul, so that
 * the fuse pass can hang its epilogues (activation, residual Add) on it.
 * Exporters write a linear layer as Gemm on 2-D operands: nn.Linear on a
 * matrix, and Hugging Face's Conv1D (GPT-2) as
 *     y = Reshape(Gemm(Reshape(x, [-1, K]), W, b), [B, T, N])
 * where the Reshapes flatten and restore the leading dims. Y = A W + b with
 * transA = 0, alpha = 1, a constant W (transB = 1: transposed here, once, at
 * compile time) and a bias of shape [N] or [1, N] (beta = 1) is
 * fused_matmul(A, W, b); with the Reshape pair around it, the MatMul reads x
 * and writes y directly (MatMul broadcasts over the leading dims), so the
 * consumers of y (GELU, the residual Add) meet the product with no Reshape
 * in between. Host targets only (GPU targets keep their Gemm kernels). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "passes.h"

/* An f32 matrix whose last dim is static (and, with all, every dim). */
static bool f32_mat(const Value *v, bool all)
{
	if (v->dt != DT_F32 || v->shape.rank != 2 || v->shape.d[1] < 0)
		return false;
	return !all || v->shape.d[0] >= 0;
}

/* The Reshape node producing v, if live. */
static const Node *reshape_of(const Graph *g, uint32_t v)
{
	if (v >= g->nval || g->val[v].kind != VK_NODE || g->val[v].def >= g->nnode)
		return NULL;
	const Node *r = &g->node[g->val[v].def];
	return !r->dead && r->op == OP_Reshape && r->nin >= 1 ? r : NULL;
}

/* Do shapes a and b agree on all but their last dim (same rank; a run-time
 * dim agrees with the same dim-table entry: the batch and seq of an export)? */
static bool same_lead(const Shape *a, const Shape *b)
{
	if (a->rank != b->rank || a->rank < 2)
		return false;
	for (int i = 0; i < a->rank - 1; i++)
		if (a->d[i] != b->d[i])
			return false;
	return true;
}

/* A name for a value made from `name`: name.suffix, in the arena. */
static const char *derived(Graph *g, const char *name, const char *suffix)
{
	size_t l = (name ? strlen(name) : 0) + strlen(suffix) + 2;
	char *s = arena_alloc(g->arena, l);
	if (s)
		snprintf(s, l, "%s.%s", name ? name : "w", suffix);
	return s;
}

static bool rewrite(Graph *g, uint32_t gi, PassCtx *ctx)
{
	Node *n = &g->node[gi];
	if (n->nout != 1 || n->nin < 2 || ir_attr_i(n, "transA", 0) != 0 ||
	    ir_attr_f(n, "alpha", 1.0) != 1.0)
		return false;
	uint32_t a = n->in[0], b = n->in[1], c = n->nin > 2 ? n->in[2] : IR_NONE, y = n->out[0];
	const Value *av = &g->val[a], *bv = &g->val[b], *yv = &g->val[y];
	if (!f32_mat(av, false) || !f32_mat(bv, true) || !f32_mat(yv, false) ||
	    bv->kind != VK_CONST || !bv->data)
		return false;
	bool tb = ir_attr_i(n, "transB", 0) != 0;
	int64_t K = av->shape.d[1], N = yv->shape.d[1];
	if (bv->shape.d[tb ? 1 : 0] != K || bv->shape.d[tb ? 0 : 1] != N)
		return false;
	/* (ir_const below may move g->val: av, bv, yv are not used after it) */
	const float *bdata = bv->data;
	const char *bname = bv->name;
	/* the bias: [N] or [1, N], taken whole (beta = 1) */
	uint32_t bias = IR_NONE;
	if (c != IR_NONE) {
		const Value *cv = &g->val[c];
		if (cv->kind != VK_CONST || !cv->data || cv->dt != DT_F32 ||
		    ir_attr_f(n, "beta", 1.0) != 1.0)
			return false;
		if (cv->shape.rank == 1 && cv->shape.d[0] == N)
			bias = c;
		else if (cv->shape.rank == 2 && cv->shape.d[0] == 1 && cv->shape.d[1] == N) {
			Shape s = {.rank = 1, .d = {N}};
			bias = ir_const(g, derived(g, cv->name, "vec"), DT_F32, &s, cv->data);
		} else
			return false;
	}
	uint32_t w = b;
	if (tb) {   /* W = B^T, [K, N] */
		float *t = arena_alloc(g->arena, (size_t)K * (size_t)N * sizeof *t);
		if (!t)
			return false;
		for (int64_t k = 0; k < K; k++)
			for (int64_t j = 0; j < N; j++)
				t[k * N + j] = bdata[j * K + k];
		Shape s = {.rank = 2, .d = {K, N}};
		w = ir_const(g, derived(g, bname, "T"), DT_F32, &s, t);
	}
	/* the flatten / restore Reshape pair around it */
	uint32_t x = a, out = IR_NONE;
	const Node *rin = reshape_of(g, a);
	int64_t ru = pass_only_user(g, y);
	if (rin && ru >= 0 && g->node[ru].op == OP_Reshape && g->node[ru].in[0] == y) {
		uint32_t xin = rin->in[0], yo = g->node[ru].out[0];
		const Value *xv = &g->val[xin], *ov = &g->val[yo];
		if (xv->dt == DT_F32 && xv->shape.rank >= 3 && xv->shape.d[xv->shape.rank - 1] == K &&
		    ov->dt == DT_F32 && ov->shape.d[ov->shape.rank - 1] == N &&
		    same_lead(&xv->shape, &ov->shape)) {
			x = xin;
			out = (uint32_t)ru;
		}
	}
	uint32_t *in = arena_alloc(g->arena, 3 * sizeof *in);
	if (!in)
		return false;
	in[0] = x;
	in[1] = w;
	in[2] = bias;
	n = &g->node[gi];
	n->op = OP_fused_matmul;
	n->in = in;
	n->nin = bias != IR_NONE ? 3 : 2;
	n->attr = NULL;
	n->nattr = 0;
	ir_attr_add(g, gi, "fused", AK_STRING)->s = arena_strdup(g->arena, "Gemm");
	if (out != IR_NONE) {   /* y takes the restored shape; the Reshape goes */
		uint32_t yo = g->node[out].out[0];
		Shape flat = g->val[y].shape;
		g->val[y].shape = g->val[yo].shape;
		if (pass_replace_value(g, yo, y)) {
			g->node[out].dead = true;
		} else {   /* (a graph output fed by an input: keep the Reshape) */
			g->val[y].shape = flat;
			n->in[0] = a;
		}
	}
	ctx->merged++;
	return true;
}

bool pass_gemm_mm(Graph *g, PassCtx *ctx)
{
	return !ctx->device && pass_each(g, OP_Gemm, rewrite, ctx);
}
