/* Symbolic dims: a hash-consed table of symbols and expressions, with
 * constant folding and a few algebraic simplifications, evaluation against
 * bound symbol values, and printing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"

static Dim push(Graph *g, DimExpr e)
{
	for (uint32_t i = 0; i < g->ndim; i++) {   /* hash-consing by search: tables stay small */
		DimExpr *x = &g->dim[i];
		if (x->op != e.op)
			continue;
		if (e.op == DX_SYM ? strcmp(x->name, e.name) == 0 : (x->a == e.a && x->b == e.b))
			return DIM_OF(i);
	}
	if (g->ndim == g->capdim) {
		g->capdim = g->capdim ? 2 * g->capdim : 16;
		g->dim = realloc(g->dim, g->capdim * sizeof *g->dim);
	}
	if (e.op == DX_SYM)
		e.name = arena_strdup(g->arena, e.name);
	g->dim[g->ndim] = e;
	return DIM_OF(g->ndim++);
}

Dim ir_dim_sym(Graph *g, const char *name)
{
	return push(g, (DimExpr){.op = DX_SYM, .name = name});
}

Dim ir_dim_fresh(Graph *g)
{
	char buf[32];
	for (int k = g->ndim;; k++) {
		snprintf(buf, sizeof buf, "_r%d", k);
		int clash = 0;
		for (uint32_t i = 0; i < g->ndim; i++)
			if (g->dim[i].op == DX_SYM && strcmp(g->dim[i].name, buf) == 0)
				clash = 1;
		if (!clash)
			return ir_dim_sym(g, buf);
	}
}

bool ir_dim_is_sym(const Graph *g, Dim d) { return d < 0 && g->dim[DIM_IDX(d)].op == DX_SYM; }
int ir_dim_is_static(Dim d) { return d >= 0; }

static int64_t fdiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int apply(int op, int64_t a, int64_t b, int64_t *r)
{
	switch (op) {
	case DX_ADD: return __builtin_add_overflow(a, b, r) ? -1 : 0;
	case DX_SUB: return __builtin_sub_overflow(a, b, r) ? -1 : 0;
	case DX_MUL: if (__builtin_mul_overflow(a, b, r)) return -1; return 0;
	case DX_DIV: if (!b) return -1; *r = fdiv(a, b); return 0;
	case DX_CDIV: if (!b) return -1; *r = -fdiv(-a, b); return 0;
	case DX_MOD: if (!b) return -1; *r = a - fdiv(a, b) * b; return 0;
	case DX_MAX: *r = a > b ? a : b; return 0;
	case DX_MIN: *r = a < b ? a : b; return 0;
	}
	return -1;
}

Dim ir_dim_bin(Graph *g, int op, Dim a, Dim b)
{
	if (a >= 0 && b >= 0) {
		int64_t r;   /* an overflowing product stays an expression; shape rules reject it */
		if (apply(op, a, b, &r) == 0 && r >= 0 && !(op == DX_MUL && a && r / a != b))
			return r;
	}
	if ((op == DX_ADD || op == DX_SUB) && a < 0 && b > 0) {
		/* (x +- c1) +- c2 -> x +- c: exporters' conv arithmetic
		 * (((seq+2)-3)+1) becomes seq again */
		DimExpr *x = &g->dim[DIM_IDX(a)];
		int64_t off = op == DX_ADD ? b : -b, c;
		if ((x->op == DX_ADD || x->op == DX_SUB) && x->b > 0 &&
		    !__builtin_add_overflow(off, x->op == DX_ADD ? x->b : -x->b, &c)) {
			if (c == 0)
				return x->a;
			return c > 0 ? ir_dim_bin(g, DX_ADD, x->a, c) : ir_dim_bin(g, DX_SUB, x->a, -c);
		}
	}
	switch (op) {
	case DX_ADD: if (a == 0) return b; if (b == 0) return a; break;
	case DX_SUB:
		if (b == 0) return a;
		if (a == b) return 0;
		if (a < 0 && g->dim[DIM_IDX(a)].op == DX_ADD) {   /* (x+y)-x -> y, (x+y)-y -> x */
			DimExpr *x = &g->dim[DIM_IDX(a)];
			if (x->a == b) return x->b;
			if (x->b == b) return x->a;
		}
		break;
	case DX_MUL:
		if (a == 1) return b;
		if (b == 1) return a;
		if (a == 0 || b == 0) return 0;
		if (a >= 0 && b < 0) { Dim t = a; a = b; b = t; }   /* constants right */
		if (a < 0 && b < 0 && a > b) { Dim t = a; a = b; b = t; }  /* canonical order */
		if (b >= 0 && a < 0) {   /* (x*c1)*c2 -> x*(c1*c2) */
			DimExpr *x = &g->dim[DIM_IDX(a)];
			int64_t c;
			if (x->op == DX_MUL && x->b >= 0 && !__builtin_mul_overflow(x->b, b, &c))
				return ir_dim_bin(g, DX_MUL, x->a, c);
		}
		break;
	case DX_DIV:
		if (b == 1) return a;
		if (a == b && a != 0) return 1;
		if (a < 0 && b != 0) {   /* (x*y)/y -> x, (x*c1)/c2 when c2 | c1 */
			DimExpr *x = &g->dim[DIM_IDX(a)];
			if (x->op == DX_MUL) {
				if (x->b == b) return x->a;
				if (x->a == b) return x->b;
				if (b > 0 && x->b >= 0 && x->b % b == 0)
					return ir_dim_bin(g, DX_MUL, x->a, x->b / b);
				if (b < 0) {   /* (p*q*r)/(q*r) style: try dividing by each factor of b */
					DimExpr *y = &g->dim[DIM_IDX(b)];
					if (y->op == DX_MUL) {
						Dim t = ir_dim_bin(g, DX_DIV, a, y->a);
						if (t != a && !(t < 0 && g->dim[DIM_IDX(t)].op == DX_DIV))
							return ir_dim_bin(g, DX_DIV, t, y->b);
					}
				}
			}
		}
		break;
	case DX_MAX: case DX_MIN:
		if (a == b) return a;
		if (a > b) { Dim t = a; a = b; b = t; }
		break;
	}
	return push(g, (DimExpr){.op = (uint8_t)op, .a = a, .b = b});
}

bool ir_shape_static(const Shape *s)
{
	if (s->rank < 0)
		return false;
	for (int i = 0; i < s->rank; i++)
		if (s->d[i] < 0)
			return false;
	return true;
}

Dim ir_shape_numel(Graph *g, const Shape *s)
{
	Dim n = 1;
	for (int i = 0; i < s->rank; i++)
		n = ir_dim_bin(g, DX_MUL, n, s->d[i]);
	return n;
}

int ir_dim_eval(const Graph *g, Dim d, const int64_t *symval, int64_t *out)
{
	if (d >= 0) {
		*out = d;
		return 0;
	}
	uint32_t i = DIM_IDX(d);
	if (i >= g->ndim)
		return -1;
	const DimExpr *x = &g->dim[i];
	if (x->op == DX_SYM) {
		if (!symval || symval[i] < 0)
			return -1;
		*out = symval[i];
		return 0;
	}
	int64_t a, b;
	if (ir_dim_eval(g, x->a, symval, &a) || ir_dim_eval(g, x->b, symval, &b))
		return -1;
	return apply(x->op, a, b, out);
}

const char *ir_dim_str(const Graph *g, Dim d, char *buf, size_t n)
{
	static const char *ops[] = {[DX_ADD] = "+", [DX_SUB] = "-", [DX_MUL] = "*",
		[DX_DIV] = "/", [DX_MOD] = "%", [DX_MAX] = " max ", [DX_MIN] = " min ",
		[DX_CDIV] = " cdiv "};
	if (d >= 0) {
		snprintf(buf, n, "%lld", (long long)d);
		return buf;
	}
	const DimExpr *x = &g->dim[DIM_IDX(d)];
	if (x->op == DX_SYM) {
		snprintf(buf, n, "%s", x->name);
		return buf;
	}
	char a[256], b[256];
	ir_dim_str(g, x->a, a, sizeof a);
	ir_dim_str(g, x->b, b, sizeof b);
	snprintf(buf, n, "(%s%s%s)", a, ops[x->op], b);
	return buf;
}

void ir_shape_str(const Graph *g, const Shape *s, char *buf, size_t n)
{
	if (s->rank < 0) {
		snprintf(buf, n, "?");
		return;
	}
	size_t k = 0;
	k += snprintf(buf + k, n - k, "[");
	for (int i = 0; i < s->rank && k < n; i++) {
		char t[256];
		k += snprintf(buf + k, n - k, "%s%s", i ? "," : "", ir_dim_str(g, s->d[i], t, sizeof t));
	}
	if (k < n)
		snprintf(buf + k, n - k, "]");
}
