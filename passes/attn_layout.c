/* Folds the head/token Transposes around `attention` into its addressing.
 * Exporters write multi-head attention as
 *     q = Transpose(Reshape(x W, [B,T,H,D]), perm = [0,2,1,3])   (also k, v)
 *     y = Reshape(Transpose(attention(q, k, v), perm = [0,2,1,3]), [B,T,H*D])
 * and each Transpose is a copy. The attention kernel reads every operand
 * through (batch, head, token) strides (runtime/kattn.c), so an operand that
 * is such a Transpose is replaced by the Transpose's input with the flag
 * q_bthd / k_bthd / v_bthd set (the operand is then [B,T,H,D]), and an output
 * whose only user is such a Transpose is written as [B,T,H,Dv] (out_bthd)
 * and replaces the Transpose's output. The Reshapes are aliases; the
 * Transposes that lose their last user go (dce). Host targets only: the GPU
 * attention launch reads [B,H,T,D] (codegen/lower_gpu_attn.c sends flagged
 * nodes to the host kernel). */
#include <stdlib.h>
#include <string.h>
#include "passes.h"

static const char *const flag[3] = {"q_bthd", "k_bthd", "v_bthd"};

/* v is the output of a live Transpose with perm [0,2,1,3]: that node. */
static Node *swap_ht(Graph *g, uint32_t v)
{
	if (v >= g->nval || g->val[v].kind != VK_NODE || g->val[v].def >= g->nnode)
		return NULL;
	Node *t = &g->node[g->val[v].def];
	const int64_t *p;
	if (t->dead || t->op != OP_Transpose || t->nin != 1 || ir_attr_ints(t, "perm", &p) != 4 ||
	    p[0] != 0 || p[1] != 2 || p[2] != 1 || p[3] != 3)
		return NULL;
	return t;
}

static void set_flag(Graph *g, uint32_t node, const char *name)
{
	Node *n = &g->node[node];
	for (int i = 0; i < n->nattr; i++)
		if (strcmp(n->attr[i].name, name) == 0) {
			n->attr[i].kind = AK_INT;
			n->attr[i].i = 1;
			return;
		}
	ir_attr_add(g, node, name, AK_INT)->i = 1;
}

/* One attention node: fold its operand Transposes and its output Transpose.
 * true if it changed. */
static bool fold(Graph *g, uint32_t ni, PassCtx *ctx)
{
	Node *n = &g->node[ni];
	if (n->nin < 3 || n->nout != 1 || g->val[n->in[0]].shape.rank != 4)
		return false;
	bool changed = false;
	for (int i = 0; i < 3; i++) {
		Node *t;
		if (ir_attr_i(n, flag[i], 0) || !(t = swap_ht(g, n->in[i])))
			continue;
		n->in[i] = t->in[0];
		set_flag(g, ni, flag[i]);
		changed = true;
	}
	uint32_t o = n->out[0];
	int64_t u = ir_attr_i(n, "out_bthd", 0) ? -1 : pass_only_user(g, o);
	Node *t = u >= 0 ? swap_ht(g, g->node[u].out[0]) : NULL;
	if (t && t == &g->node[u] && t->in[0] == o) {
		uint32_t to = t->out[0];
		Shape want = g->val[to].shape;
		set_flag(g, ni, "out_bthd");
		Diag d = {0};
		if (op_info[OP_attention].shape(g, &g->node[ni], &d) || !pass_replace_value(g, to, o)) {
			/* cannot happen for a well-typed graph; leave the node as it was */
			Node *m = &g->node[ni];
			for (int k = 0; k < m->nattr; k++)
				if (strcmp(m->attr[k].name, "out_bthd") == 0)
					m->attr[k].i = 0;
			op_info[OP_attention].shape(g, m, &d);
		} else {
			g->val[o].shape = want;    /* the Transpose's dims, symbols and all */
			g->node[u].dead = true;
			changed = true;
		}
	}
	if (changed)
		ctx->merged++;
	return changed;
}

bool pass_attn_layout(Graph *g, PassCtx *ctx)
{
	return !ctx->device && pass_each(g, OP_attention, fold, ctx);
}
