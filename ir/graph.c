/* Building and editing graphs: values, nodes, attributes, use replacement,
 * compaction into topological order, and diagnostics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"

int diag_vset(Diag *d, int code, const char *fmt, va_list ap)
{
	if (d && !d->code) {
		d->code = code;
		vsnprintf(d->msg, sizeof d->msg, fmt, ap);
		for (char *p = d->msg; *p; p++)   /* one line, always */
			if (*p == '\n')
				*p = ' ';
	}
	return code;
}

int diag_set(Diag *d, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_vset(d, code, fmt, ap);
	va_end(ap);
	return code;
}

const char *ir_op_name(int op) { return op >= 0 && op < OP_COUNT ? op_names[op] : "?"; }

int ir_node_error(Diag *d, const Graph *g, const Node *n, int code, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return diag_set(d, code, "%s: node '%s' (%s, opset %d): %s", g->source ? g->source : "<graph>",
	                n->name ? n->name : "", ir_op_name(n->op), n->opset, msg);
}

Graph *ir_graph_new(const char *source)
{
	Graph *g = calloc(1, sizeof *g);
	g->arena = arena_new();
	g->source = arena_strdup(g->arena, source ? source : "<graph>");
	g->opset = 17;
	return g;
}

/* A graph owns the subgraphs of its nodes' graph attributes. */
static void free_node_subgraphs(Node *n)
{
	for (int k = 0; k < n->nattr; k++)
		if (n->attr[k].kind == AK_GRAPH && n->attr[k].g) {
			ir_graph_free(n->attr[k].g);
			n->attr[k].g = NULL;
		}
}

void ir_graph_free(Graph *g)
{
	if (!g)
		return;
	for (uint32_t i = 0; i < g->nnode; i++)
		free_node_subgraphs(&g->node[i]);
	if (g->keep_free)
		g->keep_free(g->keep);
	free(g->val);
	free(g->node);
	free(g->in);
	free(g->out);
	free(g->dim);
	arena_free(g->arena);
	free(g);
}

static uint32_t newval(Graph *g, const char *name, int dt, const Shape *s, int kind)
{
	if (g->nval == g->capval) {
		g->capval = g->capval ? 2 * g->capval : 64;
		g->val = realloc(g->val, g->capval * sizeof *g->val);
	}
	Value *v = &g->val[g->nval];
	memset(v, 0, sizeof *v);
	v->name = name ? arena_strdup(g->arena, name) : NULL;
	v->dt = dt;
	if (s)
		v->shape = *s;
	else
		v->shape.rank = -1;
	v->kind = (uint8_t)kind;
	v->def = IR_NONE;
	v->nsv = -1;
	return g->nval++;
}

uint32_t ir_value(Graph *g, const char *name, int dt, const Shape *s)
{
	return newval(g, name, dt, s, VK_NODE);
}

uint32_t ir_input(Graph *g, const char *name, int dt, const Shape *s)
{
	uint32_t v = newval(g, name, dt, s, VK_INPUT);
	g->in = realloc(g->in, (g->nin + 1) * sizeof *g->in);
	g->in[g->nin++] = v;
	return v;
}

uint32_t ir_const(Graph *g, const char *name, int dt, const Shape *s, const void *data)
{
	uint32_t v = newval(g, name, dt, s, VK_CONST);
	g->val[v].data = data;
	return v;
}

uint32_t ir_const_copy(Graph *g, const char *name, int dt, const Shape *s, const void *data)
{
	size_t n = dt_size(dt);
	for (int i = 0; i < s->rank; i++)
		n *= (size_t)s->d[i];
	return ir_const(g, name, dt, s, arena_memdup(g->arena, data, n));
}

uint32_t ir_node(Graph *g, int op, const char *name, int nin, const uint32_t *ins, int nout)
{
	if (g->nnode == g->capnode) {
		g->capnode = g->capnode ? 2 * g->capnode : 64;
		g->node = realloc(g->node, g->capnode * sizeof *g->node);
	}
	uint32_t id = g->nnode++;
	Node *n = &g->node[id];
	memset(n, 0, sizeof *n);
	n->op = op;
	n->name = arena_strdup(g->arena, name ? name : "");
	n->opset = g->opset;
	n->nin = nin;
	n->nout = nout;
	n->in = arena_alloc(g->arena, (nin ? nin : 1) * sizeof(uint32_t));
	n->out = arena_alloc(g->arena, (nout ? nout : 1) * sizeof(uint32_t));
	if (nin)
		memcpy(n->in, ins, nin * sizeof(uint32_t));
	for (int i = 0; i < nout; i++) {
		uint32_t v = newval(g, NULL, DT_UNDEF, NULL, VK_NODE);
		g->val[v].def = id;
		g->val[v].defout = (uint16_t)i;
		g->node[id].out[i] = v;
	}
	return id;
}

Attr *ir_attr_add(Graph *g, uint32_t node, const char *name, int kind)
{
	Node *n = &g->node[node];
	Attr *a = arena_alloc(g->arena, (n->nattr + 1) * sizeof *a);
	if (n->nattr)
		memcpy(a, n->attr, n->nattr * sizeof *a);
	n->attr = a;
	Attr *r = &a[n->nattr++];
	r->name = arena_strdup(g->arena, name);
	r->kind = kind;
	r->t = IR_NONE;
	return r;
}

const Attr *ir_attr(const Node *n, const char *name)
{
	for (int i = 0; i < n->nattr; i++)
		if (strcmp(n->attr[i].name, name) == 0)
			return &n->attr[i];
	return NULL;
}

int64_t ir_attr_i(const Node *n, const char *name, int64_t def)
{
	const Attr *a = ir_attr(n, name);
	return a && a->kind == AK_INT ? a->i : def;
}

double ir_attr_f(const Node *n, const char *name, double def)
{
	const Attr *a = ir_attr(n, name);
	return a && a->kind == AK_FLOAT ? a->f : a && a->kind == AK_INT ? (double)a->i : def;
}

const char *ir_attr_s(const Node *n, const char *name, const char *def)
{
	const Attr *a = ir_attr(n, name);
	return a && a->kind == AK_STRING ? a->s : def;
}

int ir_attr_ints(const Node *n, const char *name, const int64_t **v)
{
	const Attr *a = ir_attr(n, name);
	if (!a || a->kind != AK_INTS) {
		*v = NULL;
		return 0;
	}
	*v = a->ints;
	return a->n;
}

void ir_graph_output(Graph *g, uint32_t v)
{
	g->out = realloc(g->out, (g->nout + 1) * sizeof *g->out);
	g->out[g->nout++] = v;
}

void ir_replace_uses(Graph *g, uint32_t from, uint32_t to)
{
	for (uint32_t i = 0; i < g->nnode; i++) {
		Node *n = &g->node[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] == from)
				n->in[k] = to;
	}
	for (uint32_t i = 0; i < g->nout; i++)
		if (g->out[i] == from)
			g->out[i] = to;
}

uint32_t *ir_use_counts(const Graph *g)
{
	uint32_t *u = calloc(g->nval ? g->nval : 1, sizeof *u);
	for (uint32_t i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] != IR_NONE && n->in[k] < g->nval)
				u[n->in[k]]++;
		for (int k = 0; k < n->nattr; k++)
			if (n->attr[k].kind == AK_TENSOR && n->attr[k].t < g->nval)
				u[n->attr[k].t]++;
	}
	for (uint32_t i = 0; i < g->nout; i++)
		u[g->out[i]]++;
	return u;
}

/* Kahn's algorithm over live nodes, keeping the existing order where it is
 * already valid; then renumber values, dropping those nothing uses and
 * nothing live defines (graph inputs always stay). */
int ir_compact(Graph *g, Diag *d)
{
	uint32_t nn = g->nnode, nv = g->nval;
	uint32_t *indeg = calloc(nn + 1, sizeof *indeg);
	uint32_t *order = malloc((nn + 1) * sizeof *order);
	uint32_t *users_start = calloc(nv + 1, sizeof *users_start);
	uint32_t nlive = 0, nedge = 0;
	for (uint32_t i = 0; i < nn; i++) {
		Node *n = &g->node[i];
		if (n->dead)
			continue;
		nlive++;
		for (int k = 0; k < n->nin; k++) {
			uint32_t v = n->in[k];
			if (v == IR_NONE)
				continue;
			if (v >= nv) {
				free(indeg); free(order); free(users_start);
				return ir_node_error(d, g, n, E_MODEL, "input %d refers to no value", k);
			}
			if (g->val[v].kind == VK_NODE) {
				uint32_t def = g->val[v].def;
				if (def == IR_NONE || g->node[def].dead) {
					free(indeg); free(order); free(users_start);
					return ir_node_error(d, g, n, E_MODEL, "input '%s' is not defined",
					                     g->val[v].name ? g->val[v].name : "?");
				}
				indeg[i]++;
				users_start[v]++;
				nedge++;
			}
		}
	}
	/* CSR of users per value */
	uint32_t *users = malloc((nedge + 1) * sizeof *users), acc = 0;
	for (uint32_t v = 0; v < nv; v++) {
		uint32_t c = users_start[v];
		users_start[v] = acc;
		acc += c;
	}
	users_start[nv] = acc;
	uint32_t *fill = calloc(nv + 1, sizeof *fill);
	for (uint32_t i = 0; i < nn; i++) {
		Node *n = &g->node[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++) {
			uint32_t v = n->in[k];
			if (v != IR_NONE && g->val[v].kind == VK_NODE)
				users[users_start[v] + fill[v]++] = i;
		}
	}
	/* a min-heap would keep original order exactly; a FIFO seeded in order
	 * keeps it for already-sorted graphs, which is the common case */
	uint32_t head = 0, tail = 0;
	uint32_t *queue = malloc((nn + 1) * sizeof *queue);
	for (uint32_t i = 0; i < nn; i++)
		if (!g->node[i].dead && indeg[i] == 0)
			queue[tail++] = i;
	uint32_t cnt = 0;
	while (head < tail) {
		uint32_t i = queue[head++];
		order[cnt++] = i;
		Node *n = &g->node[i];
		for (int k = 0; k < n->nout; k++) {
			uint32_t v = n->out[k];
			if (v == IR_NONE)
				continue;
			for (uint32_t u = users_start[v]; u < users_start[v + 1]; u++) {
				uint32_t j = users[u];
				if (--indeg[j] == 0)
					queue[tail++] = j;
			}
		}
	}
	free(queue); free(users); free(fill); free(users_start); free(indeg);
	if (cnt != nlive) {
		free(order);
		return diag_set(d, E_MODEL, "%s: the graph has a cycle", g->source);
	}
	/* stable-ish: if the live nodes were already in topological order, keep
	 * that order exactly */
	{
		uint32_t *pos = malloc((nn + 1) * sizeof *pos), c = 0;
		int sorted = 1;
		for (uint32_t i = 0; i < nn; i++)
			if (!g->node[i].dead)
				pos[i] = c++;
		for (uint32_t i = 0; i < nn && sorted; i++) {
			Node *n = &g->node[i];
			if (n->dead)
				continue;
			for (int k = 0; k < n->nin; k++) {
				uint32_t v = n->in[k];
				if (v != IR_NONE && g->val[v].kind == VK_NODE && pos[g->val[v].def] >= pos[i])
					sorted = 0;
			}
		}
		if (sorted) {
			c = 0;
			for (uint32_t i = 0; i < nn; i++)
				if (!g->node[i].dead)
					order[c++] = i;
		}
		free(pos);
	}
	/* which values survive */
	uint32_t *uses = ir_use_counts(g);
	uint32_t *vmap = malloc((nv + 1) * sizeof *vmap);
	uint8_t *keep = calloc(nv + 1, 1);
	for (uint32_t i = 0; i < g->nin; i++)
		keep[g->in[i]] = 1;
	for (uint32_t v = 0; v < nv; v++)
		if (uses[v])
			keep[v] = 1;
	for (uint32_t c = 0; c < cnt; c++) {
		Node *n = &g->node[order[c]];
		for (int k = 0; k < n->nout; k++)
			if (n->out[k] != IR_NONE)
				keep[n->out[k]] = 1;
	}
	free(uses);
	/* values: inputs first in their order, then constants, then node
	 * outputs in node order; this makes printing deterministic */
	Value *nvals = malloc((nv + 1) * sizeof *nvals);
	uint32_t nvc = 0;
	for (uint32_t v = 0; v < nv; v++)
		vmap[v] = IR_NONE;
	for (uint32_t i = 0; i < g->nin; i++) {
		uint32_t v = g->in[i];
		if (vmap[v] == IR_NONE) {
			vmap[v] = nvc;
			nvals[nvc++] = g->val[v];
		}
	}
	for (uint32_t v = 0; v < nv; v++)
		if (keep[v] && vmap[v] == IR_NONE && g->val[v].kind == VK_CONST) {
			vmap[v] = nvc;
			nvals[nvc++] = g->val[v];
		}
	Node *nnodes = malloc((cnt + 1) * sizeof *nnodes);
	for (uint32_t c = 0; c < cnt; c++) {
		Node *n = &g->node[order[c]];
		for (int k = 0; k < n->nout; k++) {
			uint32_t v = n->out[k];
			if (v == IR_NONE)
				continue;
			vmap[v] = nvc;
			nvals[nvc] = g->val[v];
			nvals[nvc].def = c;
			nvc++;
		}
		nnodes[c] = *n;
	}
	for (uint32_t c = 0; c < cnt; c++) {
		Node *n = &nnodes[c];
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] != IR_NONE)
				n->in[k] = vmap[n->in[k]];
		for (int k = 0; k < n->nout; k++)
			if (n->out[k] != IR_NONE)
				n->out[k] = vmap[n->out[k]];
		for (int k = 0; k < n->nattr; k++)
			if (n->attr[k].kind == AK_TENSOR && n->attr[k].t != IR_NONE)
				n->attr[k].t = vmap[n->attr[k].t];
	}
	for (uint32_t i = 0; i < g->nin; i++)
		g->in[i] = vmap[g->in[i]];
	for (uint32_t i = 0; i < g->nout; i++)
		g->out[i] = vmap[g->out[i]];
	for (uint32_t i = 0; i < nn; i++)
		if (g->node[i].dead)
			free_node_subgraphs(&g->node[i]);
	free(g->val);
	free(g->node);
	g->val = nvals;
	g->nval = g->capval = nvc;
	if (!g->capval) {
		g->val = realloc(g->val, sizeof *g->val);
		g->capval = 1;
	}
	g->node = nnodes;
	g->nnode = g->capnode = cnt;
	if (!g->capnode) {
		g->capnode = 1;
	}
	free(vmap);
	free(keep);
	free(order);
	return 0;
}
