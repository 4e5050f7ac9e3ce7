/* Common subexpression elimination: two live nodes with the same op, opset,
 * inputs and attributes compute the same outputs, so the later one's uses
 * move to the earlier one. Random ops and nodes with subgraphs never merge. */
#include <stdlib.h>
#include <string.h>
#include "passes.h"

static uint64_t mix(uint64_t h, uint64_t x)
{
	h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static bool mergeable(const Node *n)
{
	switch (n->op) {
	case OP_Bernoulli: case OP_RandomNormal: case OP_RandomUniform:
	case OP_RandomNormalLike: case OP_RandomUniformLike: case OP_Multinomial:
	case OP_Dropout:
		return false;
	}
	if (n->nout == 0)
		return false;
	for (int k = 0; k < n->nattr; k++)
		if (n->attr[k].kind == AK_GRAPH || n->attr[k].kind == AK_UNDEF)
			return false;
	return true;
}

static uint64_t attr_hash(const Attr *a)
{
	uint64_t h = mix(hash_str(a->name), (uint64_t)a->kind);
	switch (a->kind) {
	case AK_INT: h = mix(h, (uint64_t)a->i); break;
	case AK_FLOAT: { uint64_t b; memcpy(&b, &a->f, sizeof b); h = mix(h, b); break; }
	case AK_STRING: h = mix(h, hash_str(a->s)); break;
	case AK_TENSOR: h = mix(h, a->t); break;
	case AK_INTS:
		for (int i = 0; i < a->n; i++)
			h = mix(h, (uint64_t)a->ints[i]);
		break;
	default: h = mix(h, (uint64_t)a->n); break;
	}
	return h;
}

static uint64_t node_hash(const Node *n)
{
	uint64_t h = mix(mix(mix((uint64_t)n->op, (uint64_t)n->opset), (uint64_t)n->nin),
	                 (uint64_t)n->nout);
	for (int k = 0; k < n->nin; k++)
		h = mix(h, n->in[k]);
	uint64_t a = 0;
	for (int k = 0; k < n->nattr; k++)
		a += attr_hash(&n->attr[k]);   /* order-independent */
	return mix(h, a);
}

static bool attr_eq(const Attr *a, const Attr *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case AK_INT: return a->i == b->i;
	case AK_FLOAT: return memcmp(&a->f, &b->f, sizeof a->f) == 0;
	case AK_STRING: return strcmp(a->s ? a->s : "", b->s ? b->s : "") == 0;
	case AK_TENSOR: return a->t == b->t;
	case AK_INTS:
		return a->n == b->n && (!a->n || memcmp(a->ints, b->ints, a->n * sizeof *a->ints) == 0);
	case AK_FLOATS:
		return a->n == b->n && (!a->n || memcmp(a->floats, b->floats, a->n * sizeof *a->floats) == 0);
	case AK_STRINGS:
		if (a->n != b->n)
			return false;
		for (int i = 0; i < a->n; i++)
			if (strcmp(a->strs[i], b->strs[i]) != 0)
				return false;
		return true;
	}
	return false;
}

static bool node_eq(const Node *a, const Node *b)
{
	if (a->op != b->op || a->opset != b->opset || a->nin != b->nin || a->nout != b->nout ||
	    a->nattr != b->nattr)
		return false;
	for (int k = 0; k < a->nin; k++)
		if (a->in[k] != b->in[k])
			return false;
	for (int k = 0; k < a->nattr; k++) {
		const Attr *x = &a->attr[k], *y = ir_attr(b, x->name);
		if (!y || !attr_eq(x, y))
			return false;
	}
	return true;
}

bool pass_cse(Graph *g, PassCtx *ctx)
{
	size_t cap = 16;
	while (cap < 2 * (size_t)g->nnode + 2)
		cap *= 2;
	uint32_t *tab = malloc(cap * sizeof *tab);
	if (!tab) {
		ctx->failed = true;
		diag_set(ctx->diag, E_MODEL, "cse: out of memory");
		return false;
	}
	memset(tab, 0xff, cap * sizeof *tab);
	bool changed = false;
	/* node order is topological, so a node's inputs are already rewritten
	 * to their representatives when it is hashed */
	for (uint32_t i = 0; i < g->nnode; i++) {
		Node *n = &g->node[i];
		if (n->dead || !mergeable(n))
			continue;
		size_t s = node_hash(n) & (cap - 1);
		for (; tab[s] != IR_NONE; s = (s + 1) & (cap - 1))
			if (node_eq(&g->node[tab[s]], n))
				break;
		if (tab[s] == IR_NONE) {
			tab[s] = i;
			continue;
		}
		const Node *m = &g->node[tab[s]];
		int moved = 0;
		for (int k = 0; k < n->nout; k++)
			moved += pass_replace_value(g, n->out[k], m->out[k]);
		if (moved) {
			changed = true;
			ctx->merged++;
		}
		if (moved == n->nout)
			n->dead = true;
	}
	free(tab);
	return changed;
}
