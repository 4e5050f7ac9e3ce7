/* Shape and dtype rules (sh_* of ops.def) for elementwise ops (with known
 * values for shape arithmetic), reductions and contractions. Semantics
 * follow the ONNX operator specs, opsets 7-17. */
#include <string.h>
#include "shape.h"

#define TSTR(v, b) sh_tstr(g, (v), (b), sizeof(b))

/* ---- elementwise ------------------------------------------------------- */

static int same_as(Graph *g, Node *n, Diag *d, int out, int dt, const Value *x)
{
	return sh_out(g, n, d, out, dt, &x->shape);
}

/* Unary ops keep type and shape; Identity (and Neg/Abs of known integers)
 * carry known values through. */
int sh_unary(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int rc = same_as(g, n, d, 0, x->dt, x);
	if (rc || x->nsv < 0)
		return rc;
	Dim v[IR_MAXSV];
	int k = x->nsv;
	if (n->op == OP_Identity) {
		sh_set_sv(g, n, 0, x->sv, k);
	} else if (n->op == OP_Neg || n->op == OP_Abs) {
		for (int i = 0; i < k; i++) {
			int64_t a;
			if (!ir_sv_lit(g, x->sv[i], &a)) {
				if (n->op == OP_Abs) { v[i] = x->sv[i]; continue; }   /* dims are >= 0 */
				return 0;
			}
			if (a == INT64_MIN)
				return 0;
			v[i] = ir_sv_mk(g, n->op == OP_Neg ? -a : (a < 0 ? -a : a));
		}
		sh_set_sv(g, n, 0, v, k);
	}
	return 0;
}

int sh_unary_bool(Graph *g, Node *n, Diag *d)
{
	return same_as(g, n, d, 0, DT_BOOL, sh_in(g, n, 0));
}

int sh_first(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	return same_as(g, n, d, 0, x->dt, x);
}

/* One element of known-value arithmetic. Negative integers are literals
 * only; symbolic operands are dims, hence >= 0. False: not representable. */
static bool sv_arith(Graph *g, int op, int64_t fmod, Dim a, Dim b, Dim *r)
{
	int64_t x, y;
	bool la = ir_sv_lit(g, a, &x), lb = ir_sv_lit(g, b, &y);
	if (la && lb) {
		int64_t z;
		switch (op) {
		case OP_Add: if (__builtin_add_overflow(x, y, &z)) return false; break;
		case OP_Sub: if (__builtin_sub_overflow(x, y, &z)) return false; break;
		case OP_Mul: if (__builtin_mul_overflow(x, y, &z)) return false; break;
		case OP_Div: if (!y || (x == INT64_MIN && y == -1)) return false; z = x / y; break;
		case OP_Mod:
			if (!y || (x == INT64_MIN && y == -1)) return false;
			z = x % y;
			if (!fmod && z != 0 && ((z < 0) != (y < 0)))
				z += y;
			break;
		case OP_Max: z = x > y ? x : y; break;
		case OP_Min: z = x < y ? x : y; break;
		default: return false;
		}
		*r = ir_sv_mk(g, z);
		return true;
	}
	bool na = la && x < 0, nb = lb && y < 0;
	switch (op) {
	case OP_Add:
		if (na && nb) return false;
		if (na) { *r = ir_dim_bin(g, DX_SUB, b, -x); return true; }
		if (nb) { *r = ir_dim_bin(g, DX_SUB, a, -y); return true; }
		*r = ir_dim_bin(g, DX_ADD, a, b); return true;
	case OP_Sub:
		if (na) return false;
		if (nb) { *r = ir_dim_bin(g, DX_ADD, a, -y); return true; }
		*r = ir_dim_bin(g, DX_SUB, a, b); return true;
	case OP_Mul:
		if (na || nb) return false;
		*r = ir_dim_bin(g, DX_MUL, a, b); return true;
	case OP_Div:
		if (na || nb || b == 0) return false;
		*r = ir_dim_bin(g, DX_DIV, a, b); return true;
	case OP_Mod:
		if (na || nb || b == 0) return false;
		*r = ir_dim_bin(g, DX_MOD, a, b); return true;
	case OP_Max:
		if (na) { *r = b; return true; }
		if (nb) { *r = a; return true; }
		*r = ir_dim_bin(g, DX_MAX, a, b); return true;
	case OP_Min:
		if (na) { *r = a; return true; }
		if (nb) { *r = b; return true; }
		*r = ir_dim_bin(g, DX_MIN, a, b); return true;
	}
	return false;
}

/* Known-value comparison; false when undecidable. */
static bool sv_cmp(Graph *g, int op, Dim a, Dim b, Dim *r)
{
	int64_t x, y;
	bool la = ir_sv_lit(g, a, &x), lb = ir_sv_lit(g, b, &y);
	if (!(la && lb)) {
		/* A symbolic dim is >= 0: it differs from any negative literal. */
		if (la && x < 0) { x = -1; y = 0; }
		else if (lb && y < 0) { x = 0; y = -1; }
		else if (a == b) x = y = 0;
		else return false;
	}
	bool z;
	switch (op) {
	case OP_Equal: z = x == y; break;
	case OP_Greater: z = x > y; break;
	case OP_GreaterOrEqual: z = x >= y; break;
	case OP_Less: z = x < y; break;
	case OP_LessOrEqual: z = x <= y; break;
	default: return false;
	}
	*r = z;
	return true;
}

/* Known values of an elementwise op over inputs with known values. */
static void bcast_sv(Graph *g, Node *n, const Shape *os)
{
	if (os->rank > 1 || n->nin < 1)
		return;
	int len = os->rank == 0 ? 1 : (os->d[0] >= 0 && os->d[0] <= IR_MAXSV ? (int)os->d[0] : -1);
	if (len < 0)
		return;
	for (int i = 0; i < n->nin; i++) {
		Value *x = sh_in(g, n, i);
		if (!x || x->nsv < 0 || (x->nsv != len && x->nsv != 1))
			return;
	}
	int64_t fmod = ir_attr_i(n, "fmod", 0);
	bool cmp = n->op >= OP_Equal && n->op <= OP_LessOrEqual;
	if (n->nin == 1 && !(n->op == OP_Max || n->op == OP_Min || n->op == OP_Sum))
		return;
	Dim out[IR_MAXSV];
	for (int e = 0; e < len; e++) {
		Value *x0 = sh_in(g, n, 0);
		Dim acc = x0->sv[x0->nsv == 1 ? 0 : e];
		for (int i = 1; i < n->nin; i++) {
			Value *x = sh_in(g, n, i);
			Dim b = x->sv[x->nsv == 1 ? 0 : e];
			int op = n->op == OP_Sum ? OP_Add : n->op;
			if (cmp ? !sv_cmp(g, op, acc, b, &acc) : !sv_arith(g, op, fmod, acc, b, &acc))
				return;
		}
		out[e] = acc;
	}
	sh_set_sv(g, n, 0, out, len);
}

static int bcast_all(Graph *g, Node *n, Diag *d, bool same_dt, Shape *out)
{
	Value *x0 = sh_in(g, n, 0);
	*out = x0->shape;
	for (int i = 1; i < n->nin; i++) {
		Value *x = sh_in(g, n, i);
		if (!x)
			continue;
		char b1[256], b2[256];
		if (same_dt && x->dt != x0->dt)
			return ir_node_error(d, g, n, E_MODEL, "inputs %s and %s differ in dtype",
			                     TSTR(x0, b1), TSTR(x, b2));
		Value acc = *x0;
		acc.shape = *out;
		int rc = sh_bcast2(g, n, d, &acc, x, out);
		if (rc)
			return rc;
	}
	return 0;
}

/* Multidirectional broadcast; output dtype is the inputs' (all equal). */
int sh_bcast(Graph *g, Node *n, Diag *d)
{
	Shape s;
	int rc = bcast_all(g, n, d, n->op != OP_PRelu, &s);
	if (rc || (rc = sh_out(g, n, d, 0, sh_in(g, n, 0)->dt, &s)))
		return rc;
	if (dt_is_int(sh_in(g, n, 0)->dt))
		bcast_sv(g, n, &s);
	return 0;
}

/* Pow: the exponent may have another dtype. */
int sh_bcast_first(Graph *g, Node *n, Diag *d)
{
	Shape s;
	int rc = bcast_all(g, n, d, false, &s);
	return rc ? rc : sh_out(g, n, d, 0, sh_in(g, n, 0)->dt, &s);
}

/* Comparisons: bool output. */
int sh_bcast_bool(Graph *g, Node *n, Diag *d)
{
	Shape s;
	int rc = bcast_all(g, n, d, true, &s);
	if (rc || (rc = sh_out(g, n, d, 0, DT_BOOL, &s)))
		return rc;
	bcast_sv(g, n, &s);
	return 0;
}

int sh_where(Graph *g, Node *n, Diag *d)
{
	Value *c = sh_in(g, n, 0), *x = sh_in(g, n, 1), *y = sh_in(g, n, 2);
	char b1[256], b2[256];
	if (x->dt != y->dt)
		return ir_node_error(d, g, n, E_MODEL, "inputs %s and %s differ in dtype",
		                     TSTR(x, b1), TSTR(y, b2));
	if (c->dt != DT_BOOL)
		return ir_node_error(d, g, n, E_MODEL, "condition %s is not bool", TSTR(c, b1));
	Shape s;
	int rc = bcast_all(g, n, d, false, &s);
	if (rc || (rc = sh_out(g, n, d, 0, x->dt, &s)))
		return rc;
	if (s.rank > 1 || c->nsv < 0 || x->nsv < 0 || y->nsv < 0)
		return 0;
	int len = s.rank == 0 ? 1 : (s.d[0] >= 0 && s.d[0] <= IR_MAXSV ? (int)s.d[0] : -1);
	if (len < 0)
		return 0;
	Dim out[IR_MAXSV];
	for (int e = 0; e < len; e++) {
		int64_t cv;
		if ((c->nsv != 1 && c->nsv != len) || (x->nsv != 1 && x->nsv != len) ||
		    (y->nsv != 1 && y->nsv != len) || !ir_sv_lit(g, c->sv[c->nsv == 1 ? 0 : e], &cv))
			return 0;
		out[e] = cv ? x->sv[x->nsv == 1 ? 0 : e] : y->sv[y->nsv == 1 ? 0 : e];
	}
	sh_set_sv(g, n, 0, out, len);
	return 0;
}

/* ---- reductions -------------------------------------------------------- */

int sh_argreduce(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int ax, rc;
	if ((rc = sh_axis(g, n, d, ir_attr_i(n, "axis", 0), x->shape.rank ? x->shape.rank : 1, "axis", &ax)))
		return rc;
	Shape s = x->shape;
	if (x->shape.rank == 0)
		return sh_out(g, n, d, 0, DT_I64, &s);
	if (ir_attr_i(n, "keepdims", 1))
		s.d[ax] = 1;
	else {
		memmove(&s.d[ax], &s.d[ax + 1], (s.rank - ax - 1) * sizeof(Dim));
		s.rank--;
	}
	return sh_out(g, n, d, 0, DT_I64, &s);
}

/* ReduceX: axes from the attribute (before opset 13 / 18) or input 1. */
int sh_reduce(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int r = x->shape.rank;
	int64_t axes[IR_MAXRANK + 1];
	int na = -1;
	bool keep = ir_attr_i(n, "keepdims", 1) != 0;
	bool noop = ir_attr_i(n, "noop_with_empty_axes", 0) != 0;
	bool unknown = false;
	if (sh_in(g, n, 1)) {
		na = sh_ints(g, n, 1, axes, IR_MAXRANK + 1);
		if (na < 0) {
			int64_t k = sh_len1d(g, n, 1);
			if (k < 0 && !keep)
				return ir_node_error(d, g, n, E_MODEL, "rank of output depends on run-time data (unsupported)");
			unknown = true;
			na = (int)k;
		}
	} else {
		na = sh_attr_ints(n, "axes", axes, IR_MAXRANK + 1);
		if (na < 0 && ir_attr(n, "axes"))
			return ir_node_error(d, g, n, E_MODEL, "bad axes attribute");
	}
	Shape s = x->shape;
	if (unknown) {
		/* Which axes is not known: each dim is its own or 1. */
		if (na == 0 && noop)
			return sh_out(g, n, d, 0, x->dt, &s);
		if (keep) {
			for (int i = 0; i < r; i++)
				s.d[i] = x->shape.d[i] == 1 ? 1 : ir_dim_fresh(g);
		} else {
			if (na > r)
				return ir_node_error(d, g, n, E_MODEL, "%d axes for rank %d", na, r);
			s.rank = na == 0 ? 0 : r - na;
			for (int i = 0; i < s.rank; i++)
				s.d[i] = ir_dim_fresh(g);
		}
		return sh_out(g, n, d, 0, x->dt, &s);
	}
	bool red[IR_MAXRANK] = {0};
	if (na <= 0) {
		if (noop && na == 0 && sh_in(g, n, 1))
			return sh_out(g, n, d, 0, x->dt, &s);
		if (noop && na < 0 && n->opset >= 13 && (n->op == OP_ReduceSum || n->opset >= 18))
			return sh_out(g, n, d, 0, x->dt, &s);
		for (int i = 0; i < r; i++)
			red[i] = true;
	}
	for (int i = 0; i < na; i++) {
		int ax, rc;
		if ((rc = sh_axis(g, n, d, axes[i], r, "axis", &ax)))
			return rc;
		red[ax] = true;
	}
	s.rank = 0;
	for (int i = 0; i < r; i++) {
		if (!red[i])
			s.d[s.rank++] = x->shape.d[i];
		else if (keep)
			s.d[s.rank++] = 1;
	}
	return sh_out(g, n, d, 0, x->dt, &s);
}

/* ---- contractions ------------------------------------------------------ */

/* numpy matmul of a and b into out. */
static int matmul_shape(Graph *g, Node *n, Diag *d, const Value *a, const Value *b, Shape *out)
{
	char b1[256], b2[256];
	int ra = a->shape.rank, rb = b->shape.rank;
	if (ra < 1 || rb < 1)
		return ir_node_error(d, g, n, E_MODEL, "inputs %s x %s: scalars do not multiply",
		                     TSTR(a, b1), TSTR(b, b2));
	Shape sa = a->shape, sb = b->shape;
	if (ra == 1) { sa.rank = 2; sa.d[0] = 1; sa.d[1] = a->shape.d[0]; }
	if (rb == 1) { sb.rank = 2; sb.d[0] = b->shape.d[0]; sb.d[1] = 1; }
	bool ok = true;
	sh_unify(sa.d[sa.rank - 1], sb.d[sb.rank - 2], &ok);
	if (!ok)
		return ir_node_error(d, g, n, E_MODEL, "inputs %s x %s do not multiply",
		                     TSTR(a, b1), TSTR(b, b2));
	Value va = {.shape = sa}, vb = {.shape = sb};
	va.shape.rank -= 2;
	vb.shape.rank -= 2;
	Shape bs;
	bool bok = true;
	int r = va.shape.rank > vb.shape.rank ? va.shape.rank : vb.shape.rank;
	bs.rank = r;
	for (int i = 0; i < r; i++) {
		int ia = i - (r - va.shape.rank), ib = i - (r - vb.shape.rank);
		bs.d[i] = sh_bdim(g, ia >= 0 ? sa.d[ia] : 1, ib >= 0 ? sb.d[ib] : 1, &bok);
	}
	if (!bok)
		return ir_node_error(d, g, n, E_MODEL, "batch dims of %s and %s do not broadcast",
		                     TSTR(a, b1), TSTR(b, b2));
	if (r + 2 > IR_MAXRANK)
		return ir_node_error(d, g, n, E_MODEL, "rank too large");
	*out = bs;
	if (ra > 1)
		out->d[out->rank++] = sa.d[sa.rank - 2];
	if (rb > 1)
		out->d[out->rank++] = sb.d[sb.rank - 1];
	return 0;
}

int sh_matmul(Graph *g, Node *n, Diag *d)
{
	Value *a = sh_in(g, n, 0), *b = sh_in(g, n, 1);
	Shape s;
	int rc = matmul_shape(g, n, d, a, b, &s);
	return rc ? rc : sh_out(g, n, d, 0, n->op == OP_MatMulInteger ? DT_I32 : a->dt, &s);
}

int sh_qlinearmatmul(Graph *g, Node *n, Diag *d)
{
	Shape s;
	int rc = matmul_shape(g, n, d, sh_in(g, n, 0), sh_in(g, n, 3), &s);
	return rc ? rc : sh_out(g, n, d, 0, sh_in(g, n, 7)->dt, &s);
}

int sh_gemm(Graph *g, Node *n, Diag *d)
{
	Value *a = sh_in(g, n, 0), *b = sh_in(g, n, 1), *c = sh_in(g, n, 2);
	char b1[256], b2[256];
	if (a->shape.rank != 2 || b->shape.rank != 2)
		return ir_node_error(d, g, n, E_MODEL, "inputs %s and %s must be 2-D",
		                     TSTR(a, b1), TSTR(b, b2));
	bool ta = ir_attr_i(n, "transA", 0), tb = ir_attr_i(n, "transB", 0), ok = true;
	Dim m = a->shape.d[ta ? 1 : 0], ka = a->shape.d[ta ? 0 : 1];
	Dim kb = b->shape.d[tb ? 1 : 0], nn = b->shape.d[tb ? 0 : 1];
	sh_unify(ka, kb, &ok);
	if (!ok)
		return ir_node_error(d, g, n, E_MODEL, "inputs %s x %s do not multiply",
		                     TSTR(a, b1), TSTR(b, b2));
	Shape s = {.rank = 2, .d = {m, nn}};
	if (c) {
		Value y = {.dt = a->dt, .shape = s};
		Shape t;
		int rc = sh_bcast2(g, n, d, &y, c, &t);
		if (rc)
			return rc;
		if (c->shape.rank > 2)
			return ir_node_error(d, g, n, E_MODEL, "C %s has rank above 2", TSTR(c, b1));
	}
	return sh_out(g, n, d, 0, a->dt, &s);
}

/* Einsum: explicit ("ij,jk->ik") or implicit output (letters seen once, in
 * alphabetical order, after the broadcast ellipsis dims). */
int sh_einsum(Graph *g, Node *n, Diag *d)
{
	const char *eq = ir_attr_s(n, "equation", NULL);
	if (!eq)
		return ir_node_error(d, g, n, E_MODEL, "missing equation attribute");
	Dim ldim[128];
	int lcount[128] = {0};
	bool lset[128] = {0};
	Shape ell = {.rank = 0};
	const char *p = eq;
	int term = 0;
	bool ok = true;
	for (;;) {
		Value *x = sh_in(g, n, term);
		if (!x)
			return ir_node_error(d, g, n, E_MODEL, "equation '%s' has more terms than inputs", eq);
		/* collect this term's labels */
		char lab[IR_MAXRANK + 2];
		int nl = 0, ellpos = -1;
		while (*p && *p != ',' && *p != '-') {
			if (*p == ' ') { p++; continue; }
			if (p[0] == '.' && p[1] == '.' && p[2] == '.') {
				if (ellpos >= 0)
					return ir_node_error(d, g, n, E_MODEL, "two ellipses in one term of '%s'", eq);
				ellpos = nl;
				p += 3;
				continue;
			}
			unsigned char c = (unsigned char)*p++;
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) || nl > IR_MAXRANK)
				return ir_node_error(d, g, n, E_MODEL, "bad equation '%s'", eq);
			lab[nl++] = (char)c;
		}
		int r = x->shape.rank;
		int er = ellpos >= 0 ? r - nl : 0;
		if (er < 0 || (ellpos < 0 && nl != r))
			return ir_node_error(d, g, n, E_MODEL, "term %d of '%s' does not match input rank %d",
			                     term, eq, r);
		for (int i = 0, k = 0; i < r; i++) {
			if (ellpos >= 0 && i >= ellpos && i < ellpos + er) {
				/* broadcast ellipsis dims, aligned right */
				int j = i - ellpos, off;
				if (er > ell.rank) {
					off = er - ell.rank;
					memmove(&ell.d[off], &ell.d[0], ell.rank * sizeof(Dim));
					for (int t = 0; t < off; t++)
						ell.d[t] = 1;
					ell.rank = er;
				}
				off = ell.rank - er;
				ell.d[off + j] = sh_bdim(g, ell.d[off + j], x->shape.d[i], &ok);
				continue;
			}
			unsigned char c = (unsigned char)lab[k++];
			ldim[c] = lset[c] ? sh_bdim(g, ldim[c], x->shape.d[i], &ok) : x->shape.d[i];
			lset[c] = true;
			lcount[c]++;
		}
		if (!ok)
			return ir_node_error(d, g, n, E_MODEL, "dims of input %d disagree with '%s'", term, eq);
		term++;
		if (*p == ',') { p++; continue; }
		break;
	}
	if (term != n->nin)
		return ir_node_error(d, g, n, E_MODEL, "equation '%s' has %d terms for %d inputs", eq, term, n->nin);
	Shape s = {.rank = 0};
	if (p[0] == '-' && p[1] == '>') {
		p += 2;
		bool ell_done = false;
		while (*p) {
			if (*p == ' ') { p++; continue; }
			if (p[0] == '.' && p[1] == '.' && p[2] == '.' && !ell_done) {
				if (s.rank + ell.rank > IR_MAXRANK)
					return ir_node_error(d, g, n, E_MODEL, "output rank too large");
				for (int i = 0; i < ell.rank; i++)
					s.d[s.rank++] = ell.d[i];
				ell_done = true;
				p += 3;
				continue;
			}
			unsigned char c = (unsigned char)*p++;
			if (c >= 128 || !lset[c] || s.rank >= IR_MAXRANK)
				return ir_node_error(d, g, n, E_MODEL, "bad output term in '%s'", eq);
			s.d[s.rank++] = ldim[c];
		}
	} else if (*p) {
		return ir_node_error(d, g, n, E_MODEL, "bad equation '%s'", eq);
	} else {
		for (int i = 0; i < ell.rank; i++)
			s.d[s.rank++] = ell.d[i];
		for (int c = 0; c < 128; c++)
			if (lcount[c] == 1) {
				if (s.rank >= IR_MAXRANK)
					return ir_node_error(d, g, n, E_MODEL, "output rank too large");
				s.d[s.rank++] = ldim[c];
			}
	}
	return sh_out(g, n, d, 0, sh_in(g, n, 0)->dt, &s);
}

int sh_det(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char b[256];
	bool ok = true;
	int r = x->shape.rank;
	if (r < 2 || (sh_unify(x->shape.d[r - 1], x->shape.d[r - 2], &ok), !ok))
		return ir_node_error(d, g, n, E_MODEL, "input %s is not a (batch of) square matrices",
		                     TSTR(x, b));
	Shape s = x->shape;
	s.rank -= 2;
	return sh_out(g, n, d, 0, x->dt, &s);
}
