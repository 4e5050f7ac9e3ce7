/* The IR verifier: structural invariants every pass must keep (ids in
 * range, one definition per value, definitions before uses, arity within
 * ops.def bounds) and, after inference, a type on every used value. */
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "verify.h"

static const char *vname(const Graph *g, uint32_t v, char *buf, size_t n)
{
	if (v < g->nval && g->val[v].name)
		snprintf(buf, n, "'%s'", g->val[v].name);
	else
		snprintf(buf, n, "%%%u", v);
	return buf;
}

static int check_dim(const Graph *g, Dim d)
{
	return d >= 0 || DIM_IDX(d) < g->ndim;
}

static int check_value(const Graph *g, uint32_t v, Diag *d)
{
	const Value *x = &g->val[v];
	char b[160];
	const char *src = g->source ? g->source : "<graph>";
	if (x->kind > VK_CONST)
		return diag_set(d, E_MODEL, "%s: verify: value %s has kind %d", src, vname(g, v, b, sizeof b), x->kind);
	if (x->dt < 0 || x->dt >= DT_COUNT)
		return diag_set(d, E_MODEL, "%s: verify: value %s has dtype %d", src, vname(g, v, b, sizeof b), x->dt);
	if (x->shape.rank < -1 || x->shape.rank > IR_MAXRANK)
		return diag_set(d, E_MODEL, "%s: verify: value %s has rank %d", src, vname(g, v, b, sizeof b),
		                x->shape.rank);
	for (int i = 0; i < x->shape.rank; i++)
		if (!check_dim(g, x->shape.d[i]))
			return diag_set(d, E_MODEL, "%s: verify: value %s: dim %d is not in the dim table",
			                src, vname(g, v, b, sizeof b), i);
	if (x->nsv > IR_MAXSV || (x->nsv > 0 && !x->sv))
		return diag_set(d, E_MODEL, "%s: verify: value %s has %d known values", src,
		                vname(g, v, b, sizeof b), x->nsv);
	for (int i = 0; i < x->nsv; i++)
		if (!check_dim(g, x->sv[i]))
			return diag_set(d, E_MODEL, "%s: verify: value %s: known value %d is not in the dim table",
			                src, vname(g, v, b, sizeof b), i);
	if (x->kind == VK_CONST) {
		if (!x->data)
			return diag_set(d, E_MODEL, "%s: verify: constant %s has no data", src, vname(g, v, b, sizeof b));
		if (!ir_shape_static(&x->shape))
			return diag_set(d, E_MODEL, "%s: verify: constant %s has no static shape", src,
			                vname(g, v, b, sizeof b));
	}
	return 0;
}

int ir_verify_opts(const Graph *g, bool typed, Diag *d)
{
	const char *src = g->source ? g->source : "<graph>";
	char b[160];
	int rc = 0;
	/* dim expressions refer only to earlier entries, so evaluation ends */
	for (uint32_t i = 0; i < g->ndim; i++) {
		const DimExpr *x = &g->dim[i];
		if (x->op == DX_SYM) {
			if (!x->name)
				return diag_set(d, E_MODEL, "%s: verify: dim symbol %u has no name", src, i);
			continue;
		}
		if (x->op > DX_CDIV)
			return diag_set(d, E_MODEL, "%s: verify: dim %u has op %d", src, i, x->op);
		if ((x->a < 0 && DIM_IDX(x->a) >= i) || (x->b < 0 && DIM_IDX(x->b) >= i))
			return diag_set(d, E_MODEL, "%s: verify: dim %u refers forward", src, i);
	}
	for (uint32_t v = 0; v < g->nval; v++)
		if ((rc = check_value(g, v, d)))
			return rc;
	/* definitions: each VK_NODE value defined once, by the node it names */
	uint8_t *ok = calloc(g->nval + 1, 1);   /* 1: defined so far (in node order) */
	uint32_t *ndef = calloc(g->nval + 1, sizeof *ndef);
	if (!ok || !ndef) {
		free(ok);
		free(ndef);
		return diag_set(d, E_MODEL, "%s: verify: out of memory", src);
	}
	for (uint32_t i = 0; i < g->nin; i++) {
		uint32_t v = g->in[i];
		if (v >= g->nval || g->val[v].kind != VK_INPUT) {
			rc = diag_set(d, E_MODEL, "%s: verify: graph input %u is not an input value", src, i);
			goto out;
		}
	}
	for (uint32_t v = 0; v < g->nval; v++)
		if (g->val[v].kind != VK_NODE)
			ok[v] = 1;
	for (uint32_t i = 0; i < g->nnode && !rc; i++) {
		const Node *n = &g->node[i];
		if (n->dead)
			continue;
		if (n->op < 0 || n->op >= OP_COUNT) {
			rc = diag_set(d, E_MODEL, "%s: verify: node %u has op %d", src, i, n->op);
			break;
		}
		const OpInfo *oi = &op_info[n->op];
		if (n->nin < oi->min_in || (oi->max_in >= 0 && n->nin > oi->max_in) || (n->nin && !n->in)) {
			rc = ir_node_error(d, g, n, E_MODEL, "verify: %d inputs, the op takes %d..%d",
			                   n->nin, oi->min_in, oi->max_in);
			break;
		}
		if (n->nout < oi->min_out || (oi->max_out >= 0 && n->nout > oi->max_out) || (n->nout && !n->out)) {
			rc = ir_node_error(d, g, n, E_MODEL, "verify: %d outputs, the op gives %d..%d",
			                   n->nout, oi->min_out, oi->max_out);
			break;
		}
		for (int k = 0; k < n->nin && !rc; k++) {
			uint32_t v = n->in[k];
			if (v == IR_NONE) {
				if (k < oi->min_in)
					rc = ir_node_error(d, g, n, E_MODEL, "verify: required input %d is omitted", k);
			} else if (v >= g->nval) {
				rc = ir_node_error(d, g, n, E_MODEL, "verify: input %d is value %u, out of range", k, v);
			} else if (!ok[v]) {
				rc = ir_node_error(d, g, n, E_MODEL, "verify: input %d (%s) is used before it is defined",
				                   k, vname(g, v, b, sizeof b));
			}
		}
		for (int k = 0; k < n->nout && !rc; k++) {
			uint32_t v = n->out[k];
			if (v >= g->nval) {
				rc = ir_node_error(d, g, n, E_MODEL, "verify: output %d is value %u, out of range", k, v);
			} else if (g->val[v].kind != VK_NODE || g->val[v].def != i || g->val[v].defout != k) {
				rc = ir_node_error(d, g, n, E_MODEL, "verify: output %d (%s) does not point back to this node",
				                   k, vname(g, v, b, sizeof b));
			} else if (ndef[v]++) {
				rc = ir_node_error(d, g, n, E_MODEL, "verify: output %d (%s) is defined twice",
				                   k, vname(g, v, b, sizeof b));
			}
		}
		for (int k = 0; k < n->nattr && !rc; k++) {
			const Attr *a = &n->attr[k];
			if (!a->name)
				rc = ir_node_error(d, g, n, E_MODEL, "verify: attribute %d has no name", k);
			else if (a->kind == AK_TENSOR && (a->t >= g->nval || g->val[a->t].kind != VK_CONST))
				rc = ir_node_error(d, g, n, E_MODEL, "verify: tensor attribute '%s' names no constant",
				                   a->name);
			else if (((a->kind == AK_INTS && !a->ints) || (a->kind == AK_FLOATS && !a->floats) ||
			          (a->kind == AK_STRINGS && !a->strs)) && a->n > 0)
				rc = ir_node_error(d, g, n, E_MODEL, "verify: attribute '%s' has no elements", a->name);
			else if (a->n < 0)
				rc = ir_node_error(d, g, n, E_MODEL, "verify: attribute '%s' has count %d", a->name, a->n);
			else if ((a->kind == AK_STRING && !a->s) || (a->kind == AK_GRAPH && !a->g))
				rc = ir_node_error(d, g, n, E_MODEL, "verify: attribute '%s' has no value", a->name);
		}
		for (int k = 0; k < n->nout && !rc; k++)
			ok[n->out[k]] = 1;
	}
	for (uint32_t i = 0; i < g->nout && !rc; i++) {
		uint32_t v = g->out[i];
		if (v >= g->nval || !ok[v])
			rc = diag_set(d, E_MODEL, "%s: verify: graph output %u (%s) is not defined", src, i,
			              vname(g, v, b, sizeof b));
	}
	if (rc || !typed)
		goto out;
	/* after inference: whatever is used has a type */
	uint32_t *uses = ir_use_counts(g);
	for (uint32_t v = 0; v < g->nval && !rc; v++) {
		const Value *x = &g->val[v];
		if (!uses[v])
			continue;
		if (x->dt == DT_UNDEF || x->shape.rank < 0)
			rc = diag_set(d, E_MODEL, "%s: verify: value %s is used but has no %s", src,
			              vname(g, v, b, sizeof b), x->dt == DT_UNDEF ? "dtype" : "shape");
	}
	free(uses);
out:
	free(ok);
	free(ndef);
	return rc;
}

int ir_verify(const Graph *g, Diag *d) { return ir_verify_opts(g, true, d); }
