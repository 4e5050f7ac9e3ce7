/* Shape and dtype inference driver (ir_infer), binding of input symbols to
 * concrete shapes (ir_bind_symbols), and the helpers the sh_* rules of
 * ir/shape_rules*.c share (see shape.h). */
#include <stdlib.h>
#include <string.h>
#include "shape.h"

/* ---- known values ----------------------------------------------------- */

bool ir_sv_lit(const Graph *g, Dim d, int64_t *v)
{
	if (d >= 0) {
		*v = d;
		return true;
	}
	uint32_t i = DIM_IDX(d);
	if (i >= g->ndim)
		return false;
	const DimExpr *x = &g->dim[i];
	if (x->op == DX_SUB && x->a == 0 && x->b > 0) {
		*v = -x->b;
		return true;
	}
	return false;
}

Dim ir_sv_mk(Graph *g, int64_t v)
{
	if (v >= 0)
		return v;
	if (v == INT64_MIN)
		v = INT64_MIN + 1;
	return ir_dim_bin(g, DX_SUB, 0, -v);
}

void sh_set_sv(Graph *g, const Node *n, int i, const Dim *v, int count)
{
	Value *o = sh_outv(g, n, i);
	if (!o || count < 0 || count > IR_MAXSV)
		return;
	o->sv = arena_alloc(g->arena, (count ? count : 1) * sizeof(Dim));
	memcpy(o->sv, v, count * sizeof(Dim));
	o->nsv = count;
}

/* Element count of a value with a static shape, or -1. */
static int64_t static_numel(const Value *v)
{
	if (!ir_shape_static(&v->shape))
		return -1;
	int64_t n = 1;
	for (int i = 0; i < v->shape.rank; i++) {
		if (v->shape.d[i] > (int64_t)1 << 40)
			return -1;
		n *= v->shape.d[i];
		if (n > (int64_t)1 << 40)
			return -1;
	}
	return n;
}

static bool is_intlike(int dt)
{
	return dt_is_int(dt) || dt == DT_BOOL;
}

int sh_dims(Graph *g, const Node *n, int i, Dim *v, int max)
{
	Value *x = sh_in(g, n, i);
	if (!x)
		return -1;
	if (x->nsv >= 0) {
		if (x->nsv > max)
			return -1;
		memcpy(v, x->sv, x->nsv * sizeof(Dim));
		return x->nsv;
	}
	if (x->kind == VK_CONST && x->data && is_intlike(x->dt) && dt_size(x->dt)) {
		int64_t k = static_numel(x);
		if (k < 0 || k > max)
			return -1;
		for (int64_t j = 0; j < k; j++)
			v[j] = ir_sv_mk(g, dt_load_i(x->dt, x->data, (size_t)j));
		return (int)k;
	}
	return -1;
}

int sh_ints(Graph *g, const Node *n, int i, int64_t *v, int max)
{
	Value *x = sh_in(g, n, i);
	if (!x)
		return -1;
	if (x->kind == VK_CONST && x->data && is_intlike(x->dt) && dt_size(x->dt)) {
		int64_t k = static_numel(x);
		if (k < 0 || k > max)
			return -1;
		for (int64_t j = 0; j < k; j++)
			v[j] = dt_load_i(x->dt, x->data, (size_t)j);
		return (int)k;
	}
	if (x->nsv < 0 || x->nsv > max)
		return -1;
	for (int j = 0; j < x->nsv; j++)
		if (!ir_sv_lit(g, x->sv[j], &v[j]))
			return -1;
	return x->nsv;
}

bool sh_scalar_f(Graph *g, const Node *n, int i, double *v)
{
	Value *x = sh_in(g, n, i);
	if (!x)
		return false;
	if (x->kind == VK_CONST && x->data && dt_size(x->dt) && static_numel(x) >= 1) {
		*v = dt_load_f(x->dt, x->data, 0);
		return true;
	}
	int64_t k;
	if (x->nsv >= 1 && ir_sv_lit(g, x->sv[0], &k)) {
		*v = (double)k;
		return true;
	}
	return false;
}

int64_t sh_len1d(Graph *g, const Node *n, int i)
{
	Value *x = sh_in(g, n, i);
	if (!x || x->shape.rank > 1)
		return -1;
	if (x->shape.rank == 0)
		return 1;
	return x->shape.d[0] >= 0 ? x->shape.d[0] : -1;
}

int sh_attr_ints(const Node *n, const char *name, int64_t *v, int max)
{
	const Attr *a = ir_attr(n, name);
	if (!a)
		return -1;
	if (a->kind == AK_INT) {
		v[0] = a->i;
		return 1;
	}
	if (a->kind != AK_INTS || a->n > max)
		return -1;
	memcpy(v, a->ints, a->n * sizeof(int64_t));
	return a->n;
}

/* ---- inputs, outputs, messages ----------------------------------------- */

Value *sh_in(Graph *g, const Node *n, int i)
{
	if (i < 0 || i >= n->nin || n->in[i] == IR_NONE)
		return NULL;
	return &g->val[n->in[i]];
}

Value *sh_outv(Graph *g, const Node *n, int i)
{
	if (i < 0 || i >= n->nout || n->out[i] == IR_NONE)
		return NULL;
	return &g->val[n->out[i]];
}

int sh_out(Graph *g, Node *n, Diag *d, int i, int dt, const Shape *s)
{
	Value *o = sh_outv(g, n, i);
	if (!o)
		return 0;
	if (s->rank < 0 || s->rank > IR_MAXRANK)
		return ir_node_error(d, g, n, E_MODEL, "output %d has rank %d (at most %d supported)",
		                     i, s->rank, IR_MAXRANK);
	for (int k = 0; k < s->rank; k++)
		if (s->d[k] > SH_MAXDIM)
			return ir_node_error(d, g, n, E_MODEL, "output %d: dim %d is too large (%lld)", i, k,
			                     (long long)s->d[k]);
	o->dt = dt;
	o->shape = *s;
	return 0;
}

const char *sh_tstr(const Graph *g, const Value *v, char *buf, size_t n)
{
	char s[512];
	ir_shape_str(g, &v->shape, s, sizeof s);
	snprintf(buf, n, "%s%s", dt_name(v->dt), s);
	return buf;
}

int sh_axis(Graph *g, Node *n, Diag *d, int64_t axis, int rank, const char *what, int *out)
{
	if (axis < -(int64_t)rank || axis >= rank)
		return ir_node_error(d, g, n, E_MODEL, "%s %lld out of range for rank %d", what,
		                     (long long)axis, rank);
	*out = (int)(axis < 0 ? axis + rank : axis);
	return 0;
}

/* ---- dims -------------------------------------------------------------- */

Dim sh_bdim(Graph *g, Dim a, Dim b, bool *ok)
{
	if (a == b)
		return a;
	if (a == 1)
		return b;
	if (b == 1)
		return a;
	if (a >= 0 && b >= 0) {
		*ok = false;
		return 0;
	}
	/* A static dim other than 1 is what the symbolic side must broadcast to. */
	if (a >= 0)
		return a;
	if (b >= 0)
		return b;
	/* Two different symbols: assumed to broadcast at run time. */
	return ir_dim_bin(g, DX_MAX, a, b);
}

Dim sh_unify(Dim a, Dim b, bool *ok)
{
	if (a == b)
		return a;
	if (a >= 0 && b >= 0) {
		*ok = false;
		return a;
	}
	return a >= 0 ? a : b;
}

int sh_bcast2(Graph *g, Node *n, Diag *d, const Value *a, const Value *b, Shape *out)
{
	int r = a->shape.rank > b->shape.rank ? a->shape.rank : b->shape.rank;
	bool ok = true;
	out->rank = r;
	for (int i = 0; i < r; i++) {
		int ia = i - (r - a->shape.rank), ib = i - (r - b->shape.rank);
		Dim da = ia >= 0 ? a->shape.d[ia] : 1, db = ib >= 0 ? b->shape.d[ib] : 1;
		out->d[i] = sh_bdim(g, da, db, &ok);
	}
	if (!ok) {
		char s1[256], s2[256];
		return ir_node_error(d, g, n, E_MODEL, "inputs %s and %s do not broadcast",
		                     sh_tstr(g, a, s1, sizeof s1), sh_tstr(g, b, s2, sizeof s2));
	}
	return 0;
}

Dim sh_mul(Graph *g, Dim a, Dim b, bool *ok)
{
	if (a >= 0 && b >= 0) {
		int64_t r;
		if (__builtin_mul_overflow(a, b, &r) || r > SH_MAXDIM) {
			*ok = false;
			return 0;
		}
		return r;
	}
	return ir_dim_bin(g, DX_MUL, a, b);
}

Dim sh_numel(Graph *g, const Shape *s, bool *ok)
{
	Dim c = 1, sym = 1;
	for (int i = 0; i < s->rank; i++) {
		if (s->d[i] >= 0)
			c = sh_mul(g, c, s->d[i], ok);
		else
			sym = ir_dim_bin(g, DX_MUL, sym, s->d[i]);
	}
	return ir_dim_bin(g, DX_MUL, sym, c);
}

bool sh_addk(Graph *g, Dim in, int64_t k, Dim *out)
{
	if (k > SH_MAXDIM || k < -SH_MAXDIM)
		return false;
	if (in >= 0) {
		if (in + k < 0)
			return false;
		*out = in + k;
		return true;
	}
	*out = k >= 0 ? ir_dim_bin(g, DX_ADD, in, k) : ir_dim_bin(g, DX_SUB, in, -k);
	return true;
}

bool sh_winsize(Graph *g, Dim in, int64_t pad, int64_t k, int64_t dil, int64_t stride,
               bool ceil_mode, Dim *out)
{
	if (stride < 1 || k < 1 || dil < 1 || k > SH_MAXDIM || dil > SH_MAXDIM || stride > SH_MAXDIM ||
	    pad > 2 * SH_MAXDIM || pad < 0)
		return false;
	int64_t ext;
	if (__builtin_mul_overflow(k - 1, dil, &ext) || ext > SH_MAXDIM)
		return false;
	ext += 1;
	if (in >= 0) {
		int64_t num = in + pad - ext;
		if (num < 0)
			return false;
		*out = (ceil_mode ? (num + stride - 1) / stride : num / stride) + 1;
		return true;
	}
	Dim num;
	sh_addk(g, in, pad - ext, &num);
	num = ir_dim_bin(g, ceil_mode ? DX_CDIV : DX_DIV, num, stride);
	*out = ir_dim_bin(g, DX_ADD, num, 1);
	return true;
}

/* ---- the driver -------------------------------------------------------- */

/* Known values of a small integer constant. */
static void const_sv(Graph *g, Value *v)
{
	v->nsv = -1;
	v->sv = NULL;
	if (v->kind != VK_CONST || !v->data || v->shape.rank > 1 || !ir_shape_static(&v->shape))
		return;
	if (v->dt != DT_I32 && v->dt != DT_I64 && v->dt != DT_BOOL)
		return;
	int64_t k = static_numel(v);
	if (k < 0 || k > IR_MAXSV)
		return;
	v->sv = arena_alloc(g->arena, (k ? k : 1) * sizeof(Dim));
	for (int64_t j = 0; j < k; j++)
		v->sv[j] = ir_sv_mk(g, dt_load_i(v->dt, v->data, (size_t)j));
	v->nsv = (int)k;
}

static int check_node(Graph *g, Node *n, Diag *d)
{
	if (n->op < 0 || n->op >= OP_COUNT)
		return diag_set(d, E_MODEL, "%s: node '%s': bad op id %d", g->source, n->name, n->op);
	const OpInfo *oi = &op_info[n->op];
	if (n->nin < oi->min_in || (oi->max_in >= 0 && n->nin > oi->max_in))
		return ir_node_error(d, g, n, E_MODEL, "has %d inputs (expected %d..%d)", n->nin,
		                     oi->min_in, oi->max_in);
	if (n->nout < oi->min_out || (oi->max_out >= 0 && n->nout > oi->max_out))
		return ir_node_error(d, g, n, E_MODEL, "has %d outputs (expected %d..%d)", n->nout,
		                     oi->min_out, oi->max_out);
	for (int i = 0; i < n->nin; i++) {
		uint32_t v = n->in[i];
		if (v == IR_NONE) {
			if (i < oi->min_in)
				return ir_node_error(d, g, n, E_MODEL, "required input %d is missing", i);
			continue;
		}
		if (v >= g->nval)
			return ir_node_error(d, g, n, E_MODEL, "input %d refers to unknown value %u", i, v);
		Value *x = &g->val[v];
		if (x->dt == DT_UNDEF || x->shape.rank < 0 || x->shape.rank > IR_MAXRANK) {
			if (x->name)
				return ir_node_error(d, g, n, E_MODEL, "input %d ('%s') has no known type and rank", i, x->name);
			return ir_node_error(d, g, n, E_MODEL, "input %d has no known type and rank", i);
		}
	}
	for (int i = 0; i < n->nout; i++)
		if (n->out[i] != IR_NONE && n->out[i] >= g->nval)
			return ir_node_error(d, g, n, E_MODEL, "output %d refers to unknown value %u", i, n->out[i]);
	return 0;
}

/* Infer every node's output types in order. Values defined by live nodes
 * are reset first, so the graph may be re-inferred after a rewrite. */
int ir_infer(Graph *g, Diag *d)
{
	for (uint32_t v = 0; v < g->nval; v++) {
		Value *x = &g->val[v];
		if (x->kind == VK_CONST)
			const_sv(g, x);
		else {
			x->nsv = -1;
			x->sv = NULL;
		}
	}
	for (uint32_t k = 0; k < g->nnode; k++) {
		Node *n = &g->node[k];
		if (n->dead)
			continue;
		for (int i = 0; i < n->nout; i++) {
			if (n->out[i] == IR_NONE || n->out[i] >= g->nval)
				continue;
			Value *o = &g->val[n->out[i]];
			if (o->kind == VK_NODE) {
				o->dt = DT_UNDEF;
				o->shape.rank = -1;
			}
		}
	}
	for (uint32_t k = 0; k < g->nnode; k++) {
		Node *n = &g->node[k];
		if (n->dead)
			continue;
		int rc = check_node(g, n, d);
		if (rc)
			return rc;
		rc = op_info[n->op].shape(g, n, d);
		if (rc)
			return rc;
		for (int i = 0; i < n->nout; i++) {
			Value *o = sh_outv(g, n, i);
			if (o && (o->dt == DT_UNDEF || o->shape.rank < 0))
				return ir_node_error(d, g, n, E_MODEL, "output %d could not be typed", i);
			if (o && o->nsv >= 0 && o->shape.rank > 1)
				o->nsv = -1;
		}
	}
	return 0;
}

/* ir_bind_symbols is in ir/eval.c (linked into every model.so). */
