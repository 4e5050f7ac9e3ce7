/* Opsets 1-6 of the default ONNX domain: maps the old forms of ops onto
 * the semantics our shape rules and kernels implement (opset 7+), or
 * refuses them naming what is missing. Also the node-by-node inference
 * walk shared with `vibeec --check` (onnx_check.c). */
#include "onnx_int.h"
#include "../ir/shape.h"
#include <stdlib.h>
#include <string.h>

/* "node 'n' (Op, opset N): <why> is not supported" for an IR node. */
static int refuse(Ld *L, uint32_t id, const char *why)
{
	return ir_node_error(L->d, L->g, &L->g->node[id], E_MODEL,
	                     "%s is not supported", why);
}

static Attr *attr_mut(Node *n, const char *name)
{
	for (int i = 0; i < n->nattr; i++)
		if (!strcmp(n->attr[i].name, name))
			return &n->attr[i];
	return NULL;
}

/* Cast-1 names its target type by string. */
static int cast_type(const char *s)
{
	static const char *const tab[] = {
		"", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
		"STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64" };
	for (int i = 1; i < (int)(sizeof tab / sizeof *tab); i++)
		if (!strcmp(s, tab[i]))
			return i;
	return -1;
}

static bool is_legacy_bcast_op(int op)
{
	switch (op) {
	case OP_Add: case OP_Sub: case OP_Mul: case OP_Div: case OP_Pow:
	case OP_And: case OP_Or: case OP_Xor:
	case OP_Equal: case OP_Greater: case OP_Less:
		return true;
	}
	return false;
}

int onnx_legacy_pre(Ld *L, const Onnx__NodeProto *np, int op, int opset)
{
	if (opset >= 7)
		return 0;
	const char *why = NULL;
	if (op == OP_Reshape && opset < 5)
		why = "Reshape before opset 5 (target shape as an attribute)";
	else if (op == OP_Tile && opset < 6)
		why = "Tile before opset 6 (tiles and axis inputs)";
	else if (op == OP_Upsample)
		why = "Upsample before opset 7 (experimental height_scale/"
		      "width_scale form)";
	else if (op == OP_Split && opset < 2 && np->n_input > 1)
		why = "Split-1 with the split sizes as an input";
	else if (op == OP_BatchNormalization && np->n_output > 1)
		why = "BatchNormalization before opset 7 in training mode "
		      "(running statistics outputs)";
	if (!why)
		return 0;
	const char *dom = np->domain && *np->domain ? np->domain : NULL;
	return diag_set(L->d, E_MODEL, "%s: node '%s' (%s%s%s, opset %d): %s is "
	                "not supported", L->path, onnx_name(L, np->name),
	                dom ? onnx_name(L, dom) : "", dom ? "." : "",
	                onnx_name(L, np->op_type), opset, why);
}

int onnx_legacy_node(Ld *L, uint32_t id)
{
	Graph *g = L->g;
	Node *n = &g->node[id];
	int v = n->opset;
	Attr *a;
	if (v >= 7)
		return 0;
	if (is_legacy_bcast_op(n->op)) {
		/* broadcast=0: shapes equal (numpy agrees); broadcast=1 without
		 * axis: suffix matching (numpy agrees); with axis: B is aligned
		 * at `axis`, fixed up once ranks are known (onnx_legacy_ranks). */
		if (ir_attr_i(n, "broadcast", 0) && ir_attr(n, "axis"))
			L->legacy_ranks = true;
		return 0;
	}
	switch (n->op) {
	case OP_PRelu:
		/* a 1-D slope applies per channel (axis 1), not numpy-style */
		L->legacy_ranks = true;
		break;
	case OP_BatchNormalization:
		if (!ir_attr_i(n, "spatial", 1))
			return refuse(L, id, "spatial=0 (per-activation statistics)");
		if (!ir_attr_i(n, "is_test", 0))
			return refuse(L, id, "training mode (is_test=0: batch "
			              "statistics)");
		break;
	case OP_Dropout:
		if (!ir_attr_i(n, "is_test", 0))
			return refuse(L, id, "training mode (is_test=0: random mask)");
		break;
	case OP_Cast:
		a = attr_mut(n, "to");
		if (a && a->kind == AK_STRING) {
			int t = cast_type(a->s ? a->s : "");
			if (t < 0)
				return ir_node_error(L->d, g, n, E_MODEL, "Cast 'to' = "
				                     "'%s' is not a tensor type name",
				                     onnx_name(L, a->s));
			a->kind = AK_INT;
			a->i = t;
		}
		break;
	case OP_Concat:
		if (v < 4 && !ir_attr(n, "axis"))    /* Concat-1: axis 1 */
			ir_attr_add(g, id, "axis", AK_INT)->i = 1;
		break;
	case OP_LpPool: case OP_GlobalLpPool:
		a = attr_mut(n, "p");     /* a float before opset 2 */
		if (a && a->kind == AK_FLOAT) {
			if (a->f != (double)(int64_t)a->f || a->f < 1 || a->f > 64)
				return refuse(L, id, "a non-integer p");
			a->kind = AK_INT;
			a->i = (int64_t)a->f;
		}
		break;
	case OP_Selu:
		if (v < 6) {             /* Selu-1's defaults */
			if (!ir_attr(n, "alpha"))
				ir_attr_add(g, id, "alpha", AK_FLOAT)->f = 1.6732f;
			n = &g->node[id];
			if (!ir_attr(n, "gamma"))
				ir_attr_add(g, id, "gamma", AK_FLOAT)->f = 1.0507f;
		}
		break;
	}
	return 0;
}

/* ---- rank-dependent rewrites -------------------------------------------- */

/* Whether node k's inputs are all typed (the walk skips it if not); a
 * required input missing is an error. */
static int node_ready(Graph *g, const Node *n, Diag *d, bool *ready)
{
	const OpInfo *oi = &op_info[n->op];
	*ready = true;
	for (int i = 0; i < n->nin; i++) {
		uint32_t v = n->in[i];
		if (v == IR_NONE) {
			if (i < oi->min_in)
				return ir_node_error(d, g, n, E_MODEL, "required input "
				                     "%d is missing", i);
			continue;
		}
		const Value *x = v < g->nval ? &g->val[v] : NULL;
		if (!x || x->dt == DT_UNDEF || x->shape.rank < 0 ||
		    x->shape.rank > IR_MAXRANK)
			*ready = false;
	}
	return 0;
}

/* Feed input `in` of node k through Unsqueeze(axes = first..first+cnt-1)
 * and infer the new node. */
static int unsqueeze_input(Ld *L, uint32_t k, int in, int first, int cnt)
{
	Graph *g = L->g;
	char name[300];
	snprintf(name, sizeof name, "%s/legacy_unsqueeze", g->node[k].name);
	uint32_t src = g->node[k].in[in];
	uint32_t u = ir_node(g, OP_Unsqueeze, name, 1, &src, 1);
	g->node[u].opset = g->node[k].opset;       /* axes as an attribute */
	Attr *a = ir_attr_add(g, u, "axes", AK_INTS);
	a->n = cnt;
	a->ints = arena_alloc(g->arena, (size_t)(cnt + 1) * sizeof(int64_t));
	for (int i = 0; i < cnt; i++)
		a->ints[i] = first + i;
	g->node[k].in[in] = g->node[u].out[0];
	return op_info[OP_Unsqueeze].shape(g, &g->node[u], L->d);
}

static bool all_ones(const Shape *s)
{
	for (int i = 0; i < s->rank; i++)
		if (s->d[i] != 1)
			return false;
	return true;
}

/* Before node k is inferred: rewrite an opset < 7 node whose meaning
 * depends on its inputs' ranks into the numpy-broadcasting form. */
static int fix_ranks(Ld *L, uint32_t k)
{
	Graph *g = L->g;
	Node *n = &g->node[k];
	if (n->opset >= 7 || n->nin < 2 || n->in[0] == IR_NONE ||
	    n->in[1] == IR_NONE)
		return 0;
	const Shape *sa = &g->val[n->in[0]].shape, *sb = &g->val[n->in[1]].shape;
	int ra = sa->rank, rb = sb->rank;
	if (is_legacy_bcast_op(n->op) && ir_attr_i(n, "broadcast", 0) &&
	    ir_attr(n, "axis")) {
		int64_t axis = ir_attr_i(n, "axis", 0);
		if (axis < 0)
			axis += ra;
		if (axis < 0 || axis > ra || rb > ra - axis)
			return ir_node_error(L->d, g, n, E_MODEL, "broadcast axis %lld"
			                     " does not fit B (rank %d) into A (rank "
			                     "%d)", (long long)ir_attr_i(n, "axis", 0),
			                     rb, ra);
		int trail = (int)(ra - axis) - rb;
		if (trail > 0 && !all_ones(sb))
			return unsqueeze_input(L, k, 1, rb, trail);
	} else if (n->op == OP_PRelu && rb == 1 && ra >= 3 && sb->d[0] != 1) {
		return unsqueeze_input(L, k, 1, 1, ra - 2);
	}
	return 0;
}

int onnx_infer_walk(Ld *L, bool tolerant, int (*pre)(Ld *, uint32_t))
{
	Graph *g = L->g;
	/* ir_infer over no nodes resets every value's type and gives the
	 * constants their known values; then the nodes go one by one. */
	bool *dead = malloc((g->nnode + 1) * sizeof *dead);
	if (!dead)
		return diag_set(L->d, E_IO, "%s: out of memory", L->path);
	for (uint32_t k = 0; k < g->nnode; k++) {
		dead[k] = g->node[k].dead;
		g->node[k].dead = true;
	}
	for (uint32_t k = 0; k < g->nnode; k++) {   /* ir_infer skips these */
		Node *n = &g->node[k];
		for (int i = 0; i < n->nout; i++)
			if (n->out[i] != IR_NONE && n->out[i] < g->nval) {
				g->val[n->out[i]].dt = DT_UNDEF;
				g->val[n->out[i]].shape.rank = -1;
			}
	}
	int rc = ir_infer(g, L->d);
	uint32_t nn = g->nnode;
	for (uint32_t k = 0; k < nn; k++)
		g->node[k].dead = dead[k];
	free(dead);
	for (uint32_t k = 0; !rc && k < nn; k++) {
		bool ready;
		if (g->node[k].dead)
			continue;
		rc = node_ready(g, &g->node[k], L->d, &ready);
		if (!rc && !ready) {
			if (!tolerant)
				rc = ir_node_error(L->d, g, &g->node[k], E_MODEL,
				                   "an input has no known type and rank");
			continue;
		}
		if (!rc && pre)
			rc = pre(L, k);
		if (!rc)
			rc = op_info[g->node[k].op].shape(g, &g->node[k], L->d);
		if (rc && tolerant) {
			onnx_problem(L);
			Node *n = &g->node[k];
			for (int i = 0; i < n->nout; i++)
				if (n->out[i] != IR_NONE) {
					g->val[n->out[i]].dt = DT_UNDEF;
					g->val[n->out[i]].shape.rank = -1;
				}
			rc = 0;
		}
	}
	return rc;
}

int onnx_legacy_ranks(Ld *L)
{
	if (!L->legacy_ranks)
		return 0;
	int rc = onnx_infer_walk(L, L->check, fix_ranks);
	return rc ? rc : ir_compact(L->g, L->d);
}
