/* Small helpers the passes share: use counts, value replacement that keeps
 * graph output names, and type comparison. */
#include <stdlib.h>
#include <string.h>
#include "passes.h"

uint32_t pass_live_nodes(const Graph *g)
{
	uint32_t c = 0;
	for (uint32_t i = 0; i < g->nnode; i++)
		c += !g->node[i].dead;
	return c;
}

uint32_t *pass_use_counts(const Graph *g)
{
	uint32_t *u = calloc(g->nval + 1, sizeof *u);
	if (!u)
		return NULL;
	for (uint32_t i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] < g->nval)
				u[n->in[k]]++;
		for (int k = 0; k < n->nattr; k++)
			if (n->attr[k].kind == AK_TENSOR && n->attr[k].t < g->nval)
				u[n->attr[k].t]++;
	}
	for (uint32_t i = 0; i < g->nout; i++)
		if (g->out[i] < g->nval)
			u[g->out[i]]++;
	return u;
}

bool pass_is_graph_output(const Graph *g, uint32_t v)
{
	for (uint32_t i = 0; i < g->nout; i++)
		if (g->out[i] == v)
			return true;
	return false;
}

bool pass_is_graph_input(const Graph *g, uint32_t v)
{
	for (uint32_t i = 0; i < g->nin; i++)
		if (g->in[i] == v)
			return true;
	return false;
}

bool pass_replace_value(Graph *g, uint32_t from, uint32_t to)
{
	if (from == to)
		return false;
	if (pass_is_graph_output(g, from)) {
		if (g->val[to].kind == VK_INPUT || pass_is_graph_output(g, to))
			return false;
		g->val[to].name = g->val[from].name;   /* the output keeps its name */
		g->val[from].name = NULL;
	}
	ir_replace_uses(g, from, to);
	return true;
}

bool pass_same_type(const Value *a, const Value *b)
{
	if (a->dt != b->dt || a->dt == DT_UNDEF || a->shape.rank < 0 || a->shape.rank != b->shape.rank)
		return false;
	for (int i = 0; i < a->shape.rank; i++)
		if (a->shape.d[i] != b->shape.d[i])
			return false;
	return true;
}

int64_t pass_only_user(const Graph *g, uint32_t v)
{
	if (pass_is_graph_output(g, v))
		return -1;
	int64_t who = -1;
	int uses = 0;
	for (uint32_t i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] == v) {
				uses++;
				who = i;
			}
		for (int k = 0; k < n->nattr; k++)
			if (n->attr[k].kind == AK_GRAPH)
				return -1;             /* a subgraph may capture v */
	}
	return uses == 1 ? who : -1;
}

bool pass_each(Graph *g, int op, bool (*fn)(Graph *, uint32_t, PassCtx *), PassCtx *ctx)
{
	bool changed = false;
	for (uint32_t i = 0; i < g->nnode; i++)
		if (!g->node[i].dead && g->node[i].op == op)
			changed |= fn(g, i, ctx);
	return changed;
}
