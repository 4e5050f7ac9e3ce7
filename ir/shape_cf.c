/* Shape rules of the control-flow ops If, Loop and Scan: type each
 * subgraph's inputs from the node (ONNX inputs, then the captured outer
 * values that follow them), infer the subgraph, and type the node's
 * outputs from the subgraph's. A dim of the outer graph appears in a
 * subgraph as the symbol "outer<k>" (k: its dim-table index), so equal dims
 * stay equal across the boundary; a dim the subgraph makes up (data
 * dependent, or a loop-carried dim that changes between iterations) comes
 * back as a fresh run-time dim, bound when the node runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "shape.h"

/* Outer dim d as a dim of sub. */
static Dim dim_in(Graph *sub, Dim d)
{
	if (d >= 0)
		return d;
	char nm[32];
	snprintf(nm, sizeof nm, "outer%u", DIM_IDX(d));
	return ir_dim_sym(sub, arena_strdup(sub->arena, nm));
}

/* Subgraph dims -> outer dims. */
typedef struct Tr {
	Graph *g;
	const Graph *sub;
	Dim *memo;            /* [2 * sub->ndim]: dim (1 = not yet), open flag */
} Tr;

static bool outer_sym(const Tr *t, const DimExpr *x, Dim *out)
{
	unsigned k;
	char tail;
	if (x->op != DX_SYM || !x->name || sscanf(x->name, "outer%u%c", &k, &tail) != 1 ||
	    k >= t->g->ndim)
		return false;
	*out = DIM_OF(k);
	return true;
}

/* d in outer terms; *open set when it had to become a fresh dim. */
static Dim tr_dim(Tr *t, Dim d, bool *open)
{
	if (d >= 0)
		return d;
	uint32_t i = DIM_IDX(d);
	if (i >= t->sub->ndim)
		return *open = true, ir_dim_fresh(t->g);
	if (t->memo[2 * i] != 1) {
		*open |= t->memo[2 * i + 1] != 0;
		return t->memo[2 * i];
	}
	const DimExpr *x = &t->sub->dim[i];
	Dim r;
	bool op = false;
	if (x->op == DX_SYM) {
		if (!outer_sym(t, x, &r))
			r = ir_dim_fresh(t->g), op = true;
	} else {
		Dim a = tr_dim(t, x->a, &op), b = tr_dim(t, x->b, &op);
		r = op ? ir_dim_fresh(t->g) : ir_dim_bin(t->g, x->op, a, b);
	}
	*open |= op;
	t->memo[2 * i] = r;
	t->memo[2 * i + 1] = op;
	return r;
}

static Shape tr_shape(Tr *t, const Shape *s)
{
	Shape r = {.rank = s->rank};
	bool open = false;
	for (int i = 0; i < s->rank; i++)
		r.d[i] = tr_dim(t, s->d[i], &open);
	return r;
}

static int tr_init(Tr *t, Graph *g, const Graph *sub)
{
	t->g = g;
	t->sub = sub;
	t->memo = malloc((2 * sub->ndim + 2) * sizeof *t->memo);
	if (!t->memo)
		return -1;
	for (uint32_t i = 0; i <= sub->ndim; i++)
		t->memo[2 * i] = 1, t->memo[2 * i + 1] = 0;
	return 0;
}

/* Give input k of sub the type dt and the outer shape s. */
static void set_in(Graph *sub, uint32_t k, int dt, const Shape *s)
{
	Value *v = &sub->val[sub->in[k]];
	v->dt = dt;
	v->shape.rank = s->rank;
	for (int i = 0; i < s->rank; i++)
		v->shape.d[i] = dim_in(sub, s->d[i]);
}

/* The graph attributes of n in order, with where their captures start
 * among n's inputs: subgraph j's inputs past its nform[j] formal ones take
 * node inputs base[j].. */
typedef struct Subs {
	int n;
	const char *name[4];
	Graph *g[4];
	int base[4];
} Subs;

static int subs_of(Graph *g, Node *n, Diag *d, int nformal_node, const int *nform, Subs *s)
{
	s->n = 0;
	int base = nformal_node;
	for (int a = 0; a < n->nattr; a++) {
		const Attr *at = &n->attr[a];
		if (at->kind != AK_GRAPH)
			continue;
		if (s->n == 4 || !at->g)
			return ir_node_error(d, g, n, E_MODEL, "unexpected graph attribute '%s'", at->name);
		Graph *sub = at->g;
		int nf = nform[s->n];
		if ((int)sub->nin < nf)
			return ir_node_error(d, g, n, E_MODEL, "subgraph '%s' has %u inputs, expected at least %d",
			                     at->name, sub->nin, nf);
		s->name[s->n] = at->name;
		s->g[s->n] = sub;
		s->base[s->n] = base;
		base += (int)sub->nin - nf;
		s->n++;
	}
	if (base != n->nin)
		return ir_node_error(d, g, n, E_MODEL, "%d inputs, but the subgraphs account for %d",
		                     n->nin, base);
	for (int j = 0; j < s->n; j++)
		for (int k = nform[j]; k < (int)s->g[j]->nin; k++) {
			Value *x = sh_in(g, n, s->base[j] + k - nform[j]);
			if (!x)
				return ir_node_error(d, g, n, E_MODEL, "captured value %d is missing", k);
			set_in(s->g[j], (uint32_t)k, x->dt, &x->shape);
		}
	return 0;
}

static int infer_sub(Graph *g, Node *n, Diag *d, Graph *sub, const char *what)
{
	Diag sd = {0};
	if (ir_infer(sub, &sd) == 0)
		return 0;
	return ir_node_error(d, g, n, E_MODEL, "in subgraph '%s': %s", what, sd.msg);
}

static const Graph *attr_graph(const Node *n, const char *name)
{
	const Attr *a = ir_attr(n, name);
	return a && a->kind == AK_GRAPH ? a->g : NULL;
}

/* Loop-carried values: cnt subgraph inputs from in0 come back as outputs
 * from out0. Where an output dim differs from its input's, make the input
 * dim a fresh symbol (the value's shape varies between iterations) and
 * infer again; then any dim may change (the input's is a symbol). */
static int carry(Graph *g, Node *n, Diag *d, Graph *sub, const char *what, int in0, int out0,
                 int cnt)
{
	for (int round = 0; round < 2; round++) {
		int rc = infer_sub(g, n, d, sub, what);
		if (rc)
			return rc;
		bool changed = false;
		for (int k = 0; k < cnt; k++) {
			Value *vi = &sub->val[sub->in[in0 + k]];
			const Value *vo = &sub->val[sub->out[out0 + k]];
			if (vi->dt != vo->dt || vi->shape.rank != vo->shape.rank)
				return ir_node_error(d, g, n, E_MODEL, "loop-carried value %d is %s%s at the start "
				                     "and %s%s after an iteration (type or rank changes)", k,
				                     dt_name(vi->dt), vi->shape.rank ? "[...]" : "",
				                     dt_name(vo->dt), vo->shape.rank ? "[...]" : "");
			for (int i = 0; i < vi->shape.rank && !round; i++) {
				if (vi->shape.d[i] == vo->shape.d[i])
					continue;
				char nm[48];
				snprintf(nm, sizeof nm, "carry%d_%d", in0 + k, i);
				vi->shape.d[i] = ir_dim_sym(sub, arena_strdup(sub->arena, nm));
				changed = true;
			}
		}
		if (!changed)
			return 0;
	}
	return 0;
}

int sh_if(Graph *g, Node *n, Diag *d)
{
	Value *c = sh_in(g, n, 0);
	if (!c || c->dt != DT_BOOL)
		return ir_node_error(d, g, n, E_MODEL, "the condition must be a bool tensor");
	const int nform[4] = {0, 0, 0, 0};
	Subs s;
	int rc = subs_of(g, n, d, 1, nform, &s);
	if (rc)
		return rc;
	const Graph *tg = attr_graph(n, "then_branch"), *eg = attr_graph(n, "else_branch");
	if (s.n != 2 || !tg || !eg)
		return ir_node_error(d, g, n, E_MODEL, "needs graph attributes then_branch and else_branch");
	for (int j = 0; j < 2; j++)
		if ((rc = infer_sub(g, n, d, s.g[j], s.name[j])))
			return rc;
	if ((int)tg->nout != n->nout || (int)eg->nout != n->nout)
		return ir_node_error(d, g, n, E_MODEL, "%d outputs, but the branches have %u and %u",
		                     n->nout, tg->nout, eg->nout);
	Tr tt, te;
	if (tr_init(&tt, g, tg) || tr_init(&te, g, eg)) {
		free(tt.memo);
		return ir_node_error(d, g, n, E_MODEL, "out of memory");
	}
	for (int o = 0; o < n->nout && !rc; o++) {
		const Value *a = &tg->val[tg->out[o]], *b = &eg->val[eg->out[o]];
		if (a->dt != b->dt || a->shape.rank != b->shape.rank) {
			rc = ir_node_error(d, g, n, E_MODEL, "output %d: the branches give %s rank %d and "
			                   "%s rank %d (must agree)", o, dt_name(a->dt), a->shape.rank,
			                   dt_name(b->dt), b->shape.rank);
			break;
		}
		Shape sa = tr_shape(&tt, &a->shape), sb = tr_shape(&te, &b->shape);
		for (int i = 0; i < sa.rank; i++)
			if (sa.d[i] != sb.d[i])
				sa.d[i] = ir_dim_fresh(g);
		rc = sh_out(g, n, d, o, a->dt, &sa);
	}
	free(tt.memo);
	free(te.memo);
	return rc;
}

int sh_loop(Graph *g, Node *n, Diag *d)
{
	int nf = (int)ir_attr_i(n, "_nformal", n->nin);
	if (nf < 2 || nf > n->nin)
		return ir_node_error(d, g, n, E_MODEL, "bad input count");
	int N = nf - 2;
	Value *m = sh_in(g, n, 0), *c = sh_in(g, n, 1);
	if (m && !dt_is_int(m->dt))
		return ir_node_error(d, g, n, E_MODEL, "the trip count M must be an integer tensor");
	if (c && c->dt != DT_BOOL)
		return ir_node_error(d, g, n, E_MODEL, "the condition must be a bool tensor");
	if (!m && !c)
		return ir_node_error(d, g, n, E_MODEL, "neither a trip count M nor a condition: "
		                     "the loop would never end");
	const int nform[4] = {nf};
	Subs s;
	int rc = subs_of(g, n, d, nf, nform, &s);
	if (rc)
		return rc;
	if (s.n != 1 || !attr_graph(n, "body"))
		return ir_node_error(d, g, n, E_MODEL, "needs one graph attribute, body");
	Graph *b = s.g[0];
	Shape sc = {.rank = 0};
	set_in(b, 0, DT_I64, &sc);
	set_in(b, 1, DT_BOOL, &sc);
	for (int k = 0; k < N; k++) {
		Value *x = sh_in(g, n, 2 + k);
		if (!x)
			return ir_node_error(d, g, n, E_MODEL, "loop-carried input %d is missing", k);
		set_in(b, (uint32_t)(2 + k), x->dt, &x->shape);
	}
	if ((int)b->nout < 1 + N)
		return ir_node_error(d, g, n, E_MODEL, "the body has %u outputs, expected at least %d",
		                     b->nout, 1 + N);
	if ((rc = carry(g, n, d, b, "body", 2, 1, N)))
		return rc;
	int K = (int)b->nout - 1 - N;
	if (n->nout != N + K)
		return ir_node_error(d, g, n, E_MODEL, "%d outputs, expected %d (%d carried + %d scan)",
		                     n->nout, N + K, N, K);
	if (b->val[b->out[0]].dt != DT_BOOL)
		return ir_node_error(d, g, n, E_MODEL, "the body's first output (condition) must be bool");
	Tr t;
	if (tr_init(&t, g, b))
		return ir_node_error(d, g, n, E_MODEL, "out of memory");
	Dim trip = ir_dim_fresh(g);
	for (int k = 0; k < N + K && !rc; k++) {
		const Value *v = k < N ? &b->val[b->in[2 + k]] : &b->val[b->out[1 + k]];
		Shape so = tr_shape(&t, &v->shape);
		if (k >= N) {
			if (so.rank + 1 > IR_MAXRANK) {
				rc = ir_node_error(d, g, n, E_MODEL, "scan output %d: rank too large", k - N);
				break;
			}
			memmove(so.d + 1, so.d, so.rank * sizeof *so.d);
			so.d[0] = trip;
			so.rank++;
		}
		rc = sh_out(g, n, d, k, v->dt, &so);
	}
	free(t.memo);
	return rc;
}

int sh_scan(Graph *g, Node *n, Diag *d)
{
	int nf = (int)ir_attr_i(n, "_nformal", n->nin);
	int M = (int)ir_attr_i(n, "num_scan_inputs", -1);
	bool v8 = n->opset < 9;          /* Scan-8: batch dim 0, sequence_lens first */
	int off = v8 ? 1 : 0;
	int N = nf - off - M;
	if (M < 1 || N < 0 || nf > n->nin)
		return ir_node_error(d, g, n, E_MODEL, "num_scan_inputs %d does not fit %d inputs", M,
		                     nf - off);
	int nform[4] = {nf - off};
	Subs s;
	int rc = subs_of(g, n, d, nf, nform, &s);
	if (rc)
		return rc;
	if (s.n != 1 || !attr_graph(n, "body"))
		return ir_node_error(d, g, n, E_MODEL, "needs one graph attribute, body");
	Graph *b = s.g[0];
	int64_t iax[IR_MAXRANK * 4], oax[IR_MAXRANK * 4];
	int niax = v8 ? -1 : sh_attr_ints(n, "scan_input_axes", iax, IR_MAXRANK * 4);
	int noax = v8 ? -1 : sh_attr_ints(n, "scan_output_axes", oax, IR_MAXRANK * 4);
	if ((niax >= 0 && niax != M) || M > IR_MAXRANK * 4)
		return ir_node_error(d, g, n, E_MODEL, "scan_input_axes has %d entries, expected %d",
		                     niax, M);
	Dim seq = 0, batch = 0;
	for (int k = 0; k < N + M; k++) {
		Value *x = sh_in(g, n, off + k);
		if (!x)
			return ir_node_error(d, g, n, E_MODEL, "input %d is missing", off + k);
		Shape sl = x->shape;
		int drop = v8 ? (k < N ? 1 : 2) : (k < N ? 0 : 1);
		if (sl.rank < drop)
			return ir_node_error(d, g, n, E_MODEL, "input %d has rank %d", off + k, sl.rank);
		if (v8) {
			if (k == 0 || (N == 0 && k == N))
				batch = sl.d[0];
			if (k == N)
				seq = sl.d[1];
			memmove(sl.d, sl.d + drop, (sl.rank - drop) * sizeof *sl.d);
			sl.rank -= drop;
		} else if (k >= N) {
			int ax;
			if ((rc = sh_axis(g, n, d, niax > 0 ? iax[k - N] : 0, sl.rank, "scan_input_axes", &ax)))
				return rc;
			if (k == N)
				seq = sl.d[ax];
			memmove(sl.d + ax, sl.d + ax + 1, (sl.rank - ax - 1) * sizeof *sl.d);
			sl.rank--;
		}
		set_in(b, (uint32_t)k, x->dt, &sl);
	}
	if ((int)b->nout < N)
		return ir_node_error(d, g, n, E_MODEL, "the body has %u outputs, expected at least %d",
		                     b->nout, N);
	if ((rc = carry(g, n, d, b, "body", 0, 0, N)))
		return rc;
	int K = (int)b->nout - N;
	if (n->nout != N + K)
		return ir_node_error(d, g, n, E_MODEL, "%d outputs, expected %d (%d states + %d scan)",
		                     n->nout, N + K, N, K);
	if (noax >= 0 && noax != K)
		return ir_node_error(d, g, n, E_MODEL, "scan_output_axes has %d entries, expected %d",
		                     noax, K);
	Tr t;
	if (tr_init(&t, g, b))
		return ir_node_error(d, g, n, E_MODEL, "out of memory");
	for (int k = 0; k < N + K && !rc; k++) {
		const Value *v = k < N ? &b->val[b->in[k]] : &b->val[b->out[k]];
		Shape so = tr_shape(&t, &v->shape);
		int ins = k < N ? (v8 ? 1 : 0) : (v8 ? 2 : 1);
		if (so.rank + ins > IR_MAXRANK) {
			rc = ir_node_error(d, g, n, E_MODEL, "output %d: rank too large", k);
			break;
		}
		int ax = 0;
		if (!v8 && k >= N && (rc = sh_axis(g, n, d, noax > 0 ? oax[k - N] : 0, so.rank + 1,
		                                   "scan_output_axes", &ax)))
			break;
		if (v8) {
			memmove(so.d + ins, so.d, so.rank * sizeof *so.d);
			so.d[0] = batch;
			if (ins == 2)
				so.d[1] = seq;
		} else if (ins) {
			memmove(so.d + ax + 1, so.d + ax, (so.rank - ax) * sizeof *so.d);
			so.d[ax] = seq;
		}
		so.rank += ins;
		rc = sh_out(g, n, d, k, v->dt, &so);
	}
	free(t.memo);
	return rc;
}
