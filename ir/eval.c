/* The reference evaluator: runs a graph node by node with the ref_*
 * kernels, binding symbolic dims from the inputs and runtime symbols from
 * the kernels that produce them. Plain and slow on purpose: it is the
 * oracle that compiled code is checked against. */
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "kattr.h"

static void *eval_alloc(void *actx, size_t n)
{
	(void)actx;
	return calloc(1, n ? n : 1);
}

/* Fill t's rank/dims from v's shape; 1 if some dim is not yet known. */
static int dims_of(const Graph *g, const Value *v, const int64_t *symval, KTensor *t)
{
	t->dt = v->dt;
	t->rank = v->shape.rank;
	for (int i = 0; i < v->shape.rank; i++)
		if (ir_dim_eval(g, v->shape.d[i], symval, &t->dims[i]))
			return 1;
	return 0;
}

/* After a node ran: bind runtime symbols that are plain output dims, and
 * check every other dim against what the kernel produced. */
static int bind_outputs(Graph *g, Node *n, int64_t *symval, const KTensor *t, Diag *d)
{
	for (int k = 0; k < n->nout; k++) {
		Value *v = &g->val[n->out[k]];
		if (t[k].dt == DT_UNDEF)
			continue;
		if (v->shape.rank != t[k].rank)
			return ir_node_error(d, g, n, E_MODEL, "output %d: rank %d, expected %d", k,
			                     t[k].rank, v->shape.rank);
		for (int i = 0; i < t[k].rank; i++) {
			Dim dm = v->shape.d[i];
			if (ir_dim_is_sym(g, dm) && symval[DIM_IDX(dm)] < 0)
				symval[DIM_IDX(dm)] = t[k].dims[i];
			int64_t e;
			if (ir_dim_eval(g, dm, symval, &e) == 0 && e != t[k].dims[i])
				return ir_node_error(d, g, n, E_MODEL,
				                     "output %d dim %d is %lld at run time, expected %lld",
				                     k, i, (long long)t[k].dims[i], (long long)e);
		}
	}
	return 0;
}

/* Bind symbols of graph-input shapes to the dims of `inputs` (one KTensor per
 * graph input, in order). symval has g->ndim entries. */
int ir_bind_symbols(const Graph *g, const KTensor *inputs, int64_t *symval, Diag *d)
{
	const char *src = g->source ? g->source : "<graph>";
	for (uint32_t i = 0; i < g->ndim; i++)
		symval[i] = -1;
	for (uint32_t k = 0; k < g->nin; k++) {
		const Value *v = &g->val[g->in[k]];
		const KTensor *t = &inputs[k];
		const char *name = v->name ? v->name : "?";
		if (t->dt != v->dt)
			return diag_set(d, E_MODEL, "%s: input '%s': dtype %s given, %s expected", src, name,
			                dt_name(t->dt), dt_name(v->dt));
		if (v->shape.rank < 0)
			continue;
		if (t->rank != v->shape.rank)
			return diag_set(d, E_MODEL, "%s: input '%s': rank %d given, %d expected", src, name,
			                t->rank, v->shape.rank);
		for (int j = 0; j < t->rank; j++) {
			Dim e = v->shape.d[j];
			int64_t got = t->dims[j];
			if (got < 0)
				return diag_set(d, E_MODEL, "%s: input '%s': dim %d is negative (%lld)", src, name,
				                j, (long long)got);
			if (e >= 0) {
				if (got != e)
					return diag_set(d, E_MODEL, "%s: input '%s': dim %d is %lld, expected %lld",
					                src, name, j, (long long)got, (long long)e);
				continue;
			}
			uint32_t s = DIM_IDX(e);
			if (s >= g->ndim || g->dim[s].op != DX_SYM)
				continue;   /* expressions are checked below */
			if (symval[s] >= 0 && symval[s] != got)
				return diag_set(d, E_MODEL, "%s: input '%s': dim %d ('%s') is %lld, but '%s' is already %lld",
				                src, name, j, g->dim[s].name, (long long)got, g->dim[s].name,
				                (long long)symval[s]);
			symval[s] = got;
		}
	}
	/* Dims given as expressions over symbols must agree once all are bound. */
	for (uint32_t k = 0; k < g->nin; k++) {
		const Value *v = &g->val[g->in[k]];
		for (int j = 0; j < v->shape.rank; j++) {
			Dim e = v->shape.d[j];
			int64_t val;
			if (e >= 0 || ir_dim_is_sym(g, e) || ir_dim_eval(g, e, symval, &val))
				continue;
			if (val != inputs[k].dims[j]) {
				char buf[256];
				return diag_set(d, E_MODEL, "%s: input '%s': dim %d is %lld, but %s = %lld", src,
				                v->name ? v->name : "?", j, (long long)inputs[k].dims[j],
				                ir_dim_str(g, e, buf, sizeof buf), (long long)val);
			}
		}
	}
	return 0;
}

int ir_eval(Graph *g, const KTensor *inputs, KTensor *outputs, Diag *d)
{
	int rc = 0;
	int64_t *symval = malloc((g->ndim + 1) * sizeof *symval);
	KTensor *vt = calloc(g->nval + 1, sizeof *vt);
	uint8_t *owned = calloc(g->nval + 1, 1);
	char err[512];
	if ((rc = ir_bind_symbols(g, inputs, symval, d)))
		goto out;
	for (uint32_t i = 0; i < g->nin; i++)
		vt[g->in[i]] = inputs[i];
	for (uint32_t v = 0; v < g->nval; v++)
		if (g->val[v].kind == VK_CONST) {
			dims_of(g, &g->val[v], symval, &vt[v]);
			vt[v].data = (void *)g->val[v].data;
		}
	for (uint32_t ni = 0; ni < g->nnode; ni++) {
		Node *n = &g->node[ni];
		if (n->dead)
			continue;
		KTensor in[n->nin + 1], out[n->nout + 1];
		for (int k = 0; k < n->nin; k++) {
			if (n->in[k] == IR_NONE)
				memset(&in[k], 0, sizeof in[k]);
			else
				in[k] = vt[n->in[k]];
		}
		for (int k = 0; k < n->nout; k++) {
			Value *v = &g->val[n->out[k]];
			memset(&out[k], 0, sizeof out[k]);
			if (!v->name && v->dt == DT_UNDEF)
				continue;
			if (dims_of(g, v, symval, &out[k]) == 0) {
				size_t nb = kt_nbytes(&out[k]);
				out[k].data = calloc(1, nb ? nb : 1);
			} else {
				out[k].data = NULL;   /* the kernel sizes it */
			}
		}
		KAttr *ka = NULL;
		int nka = ir_node_kattrs(g, n, &ka);
		if (nka < 0) {
			rc = ir_node_error(d, g, n, E_MODEL, "bad attributes");
			goto out;
		}
		err[0] = 0;
		KCall c = {.op = n->op, .nin = n->nin, .nout = n->nout, .nattr = nka, .in = in,
		           .out = out, .attr = ka, .err = err, .errlen = sizeof err,
		           .alloc = eval_alloc};
		int krc = ref_table[n->op](&c);
		ir_kattrs_free(ka, nka);
		for (int k = 0; k < n->nout; k++) {
			vt[n->out[k]] = out[k];
			owned[n->out[k]] = out[k].data != NULL;
		}
		if (krc) {
			rc = ir_node_error(d, g, n, E_MODEL, "%s", err[0] ? err : "kernel failed");
			goto out;
		}
		if ((rc = bind_outputs(g, n, symval, out, d)))
			goto out;
	}
	for (uint32_t i = 0; i < g->nout; i++) {
		uint32_t v = g->out[i];
		KTensor t = vt[v];
		size_t nb = kt_nbytes(&t);
		void *p = malloc(nb ? nb : 1);
		if (t.data && nb)
			memcpy(p, t.data, nb);
		outputs[i] = t;
		outputs[i].data = p;
	}
out:
	for (uint32_t v = 0; v < g->nval; v++)
		if (owned[v])
			free(vt[v].data);
	free(owned);
	free(vt);
	free(symval);
	return rc;
}
