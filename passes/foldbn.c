/* BatchNormalization (inference) folded into the Conv before it: with
 * s = scale / sqrt(var + eps), W'[m] = W[m] * s[m] and
 * B'[m] = (B[m] - mean[m]) * s[m] + bias[m]. Needs constant W, B, scale,
 * bias, mean and var, f32, and the Conv output used by the BatchNorm only;
 * the BatchNorm node becomes the Conv (its output and name survive). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "passes.h"

static const float *cvec(const Graph *g, uint32_t v, int64_t n)
{
	if (v == IR_NONE || v >= g->nval)
		return NULL;
	const Value *x = &g->val[v];
	if (x->kind != VK_CONST || !x->data || x->dt != DT_F32 || x->shape.rank != 1 ||
	    x->shape.d[0] != n)
		return NULL;
	return x->data;
}

static bool fold_at(Graph *g, uint32_t bi, const uint32_t *uses)
{
	Node *b = &g->node[bi];
	if (b->op != OP_BatchNormalization || b->nin != 5 || ir_attr_i(b, "training_mode", 0))
		return false;
	for (int j = 1; j < b->nout; j++)
		if (uses[b->out[j]])
			return false;
	uint32_t y = b->in[0];
	const Value *yv = &g->val[y];
	if (yv->kind != VK_NODE || uses[y] != 1 || pass_is_graph_output(g, y))
		return false;
	uint32_t ci = yv->def;
	Node *c = &g->node[ci];
	if (c->dead || c->op != OP_Conv || c->nout != 1 || yv->dt != DT_F32 || yv->shape.rank < 3)
		return false;
	const Value *w = &g->val[c->in[1]];
	int64_t m = w->shape.d[0], per = 1;
	if (w->kind != VK_CONST || !w->data || w->dt != DT_F32 || m <= 0)
		return false;
	for (int i = 1; i < w->shape.rank; i++)
		per *= w->shape.d[i];
	const float *cb = NULL;
	if (c->nin > 2 && c->in[2] != IR_NONE && !(cb = cvec(g, c->in[2], m)))
		return false;
	const float *sc = cvec(g, b->in[1], m), *bb = cvec(g, b->in[2], m);
	const float *mean = cvec(g, b->in[3], m), *var = cvec(g, b->in[4], m);
	if (!sc || !bb || !mean || !var)
		return false;
	double eps = ir_attr_f(b, "epsilon", 1e-5);
	float *nw = arena_alloc(g->arena, (size_t)(m * per) * sizeof *nw);
	float *nb = arena_alloc(g->arena, (size_t)m * sizeof *nb);
	if (!nw || !nb)
		return false;
	const float *ow = w->data;
	for (int64_t i = 0; i < m; i++) {
		double s = sc[i] / sqrt((double)var[i] + eps);
		for (int64_t k = 0; k < per; k++)
			nw[i * per + k] = (float)(ow[i * per + k] * s);
		nb[i] = (float)(((cb ? cb[i] : 0.0) - mean[i]) * s + bb[i]);
	}
	Shape ws = w->shape, bs = {.rank = 1, .d = {m}};
	uint32_t wv = ir_const(g, NULL, DT_F32, &ws, nw);
	uint32_t bv = ir_const(g, NULL, DT_F32, &bs, nb);
	b = &g->node[bi];
	c = &g->node[ci];
	uint32_t *in = arena_alloc(g->arena, 3 * sizeof *in);
	in[0] = c->in[0];
	in[1] = wv;
	in[2] = bv;
	b->op = OP_Conv;
	b->in = in;
	b->nin = 3;
	b->attr = c->attr;
	b->nattr = c->nattr;
	b->opset = c->opset;
	b->nout = 1;
	c->dead = true;
	return true;
}

bool pass_foldbn(Graph *g, PassCtx *ctx)
{
	uint32_t *uses = pass_use_counts(g);
	if (!uses)
		return false;
	bool any = false;
	for (uint32_t i = 0; i < g->nnode; i++)
		if (!g->node[i].dead && fold_at(g, i, uses)) {
			any = true;
			ctx->folded++;
		}
	free(uses);
	return any;
}
