/* Compiling control-flow subgraphs to generated kernels (subgraph.h). */
#include <string.h>
#include "subgraph.h"
#include "emit.h"
#include "fused.h"

/* every kernel generated code or a library kernel (no reference call)? */
static bool all_generated(const KProg *p)
{
	for (int i = 0; i < p->nk; i++) {
		const Kernel *k = &p->k[i];
		if (k->kind == KK_CALL && !cg_fused_kernel_node(p->g, &p->g->node[k->node]))
			return false;
	}
	return true;
}

static bool plain_tensors(const Graph *g, const Node *n)
{
	for (int j = 0; j < n->nin; j++)
		if (n->in[j] != IR_NONE && (!dt_size(g->val[n->in[j]].dt) || g->val[n->in[j]].shape.rank < 0))
			return false;
	for (int j = 0; j < n->nout; j++)
		if (n->out[j] == IR_NONE || !dt_size(g->val[n->out[j]].dt) ||
		    g->val[n->out[j]].shape.rank < 0)
			return false;
	return true;
}

/* compile one subgraph; its id, or -1 */
static int sub_compile(CgSubs *S, Graph *sg, const KProg *outer)
{
	if (S->n >= CG_MAX_SUBS || !sg || sg->nout == 0)
		return -1;
	for (uint32_t i = 0; i < sg->nin; i++) {
		const Value *v = &sg->val[sg->in[i]];
		if (!dt_size(v->dt) || v->shape.rank < 0)
			return -1;
	}
	for (uint32_t i = 0; i < sg->nout; i++) {
		const Value *v = &sg->val[sg->out[i]];
		if (!dt_size(v->dt) || v->shape.rank < 0)
			return -1;
	}
	int id = S->n++;
	CgSub *x = &S->s[id];
	memset(x, 0, sizeof *x);
	x->p.opt = outer->opt;
	x->p.vec = outer->vec;
	x->p.subs = S;
	Diag d = {0};
	if (cg_lower(sg, &x->p, &d) || cg_plan(&x->p, &x->pl, &d))
		goto fail;
	cg_subs_mark(S, &x->p);
	if (!all_generated(&x->p))
		goto fail;
	cb_printf(&x->c, "#define vibee_model vibee_sub_%d\n#define vibee_weights vibee_weights_s%d\n", id, id);
	EmitInfo ei = {S->target ? S->target : "cpu", S->isa ? S->isa : "", false, NULL, true};
	if (cg_emit_c(&x->c, &x->p, &x->pl, &ei, &d))
		goto fail;
	return id;
fail:
	/* keep the slot (ids stay stable) but as an empty unit */
	cg_plan_free(&x->pl);
	kir_prog_free(&x->p);
	cb_free(&x->c);
	memset(x, 0, sizeof *x);
	return -1;
}

void cg_subs_mark(CgSubs *S, KProg *p)
{
	if (p->gpu)
		return;
	Graph *g = p->g;
	for (int i = 0; i < p->nk; i++) {
		if (p->k[i].kind != KK_CALL)
			continue;
		uint32_t nid = p->k[i].node;
		Node *n = &g->node[nid];
		if ((n->op != OP_If && n->op != OP_Loop && n->op != OP_Scan) || ir_attr(n, "_kcf") ||
		    !plain_tensors(g, n))
			continue;
		if (n->op == OP_Scan && n->opset < 9 && n->nin > 0 && n->in[0] != IR_NONE)
			continue;   /* opset 8 with sequence_lens: the evaluator's Scan */
		int ids[8], na = 0;
		bool ok = true;
		for (int a = 0; a < n->nattr && ok; a++) {
			if (n->attr[a].kind != AK_GRAPH)
				continue;
			if (na == 8 || (ids[na++] = sub_compile(S, n->attr[a].g, p)) < 0)
				ok = false;
		}
		if (!ok || na == 0)
			continue;
		for (int a = 0, j = 0; a < n->nattr; a++)
			if (n->attr[a].kind == AK_GRAPH)
				n->attr[a].i = ids[j++];
		Attr *m = ir_attr_add(g, nid, "_kcf", AK_INT);
		if (m)
			m->i = 1;
	}
}

void cg_subs_free(CgSubs *S)
{
	for (int i = 0; i < S->n; i++) {
		cg_plan_free(&S->s[i].pl);
		kir_prog_free(&S->s[i].p);
		cb_free(&S->s[i].c);
	}
	S->n = 0;
}
