/* The IR text form, reading side: parses what ir/print.c writes back into a
 * Graph. Hostile input must only ever produce "file:line:col: message":
 * every count, index, rank and number is checked before it is used. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "parse.h"
#include "text.h"

/* ---- types ----------------------------------------------------------------------- */
static int parse_dim(Parser *P, int depth, Dim *out)
{
	char b[48];
	Graph *g = P->g;
	if (depth > IR_TEXT_MAXDEPTH)
		return ERR("dim expression nested too deeply");
	if (P->t.kind == T_NUM) {
		int64_t v;
		if (ir_lex_int(P, 0, INT64_MAX / 4, &v))
			return -1;
		*out = v;
		return 0;
	}
	if (P->t.kind == T_STR || P->t.kind == T_IDENT) {
		static const char *const fns[] = {"mod", "max", "min", "cdiv"};
		static const int fnop[] = {DX_MOD, DX_MAX, DX_MIN, DX_CDIV};
		if (P->t.kind == T_IDENT && P->s[0] == '(') {
			for (int i = 0; i < 4; i++) {
				if (!ir_lex_kw(P, fns[i]))
					continue;
				Dim a, c;
				if (ir_lex_next(P) || ir_lex_expect(P, '(') || parse_dim(P, depth + 1, &a) ||
				    ir_lex_expect(P, ',') || parse_dim(P, depth + 1, &c) || ir_lex_expect(P, ')'))
					return -1;
				*out = ir_dim_bin(g, fnop[i], a, c);
				return 0;
			}
		}
		char *name = ir_lex_name(P);
		if (!name)
			return -1;
		*out = ir_dim_sym(g, name);
		free(name);
		return ir_lex_next(P);
	}
	if (ir_lex_punct(P, '(')) {
		Dim a, c;
		if (ir_lex_next(P) || parse_dim(P, depth + 1, &a))
			return -1;
		int op;
		if (ir_lex_punct(P, '+')) op = DX_ADD;
		else if (ir_lex_punct(P, '-')) op = DX_SUB;
		else if (ir_lex_punct(P, '*')) op = DX_MUL;
		else if (ir_lex_punct(P, '/')) op = DX_DIV;
		else return ERR("expected '+', '-', '*' or '/' in a dim expression, found %s",
		                ir_lex_desc(P, b, sizeof b));
		if (ir_lex_next(P) || parse_dim(P, depth + 1, &c) || ir_lex_expect(P, ')'))
			return -1;
		if (op == DX_DIV && c == 0)
			return ERR("division by zero in a dim expression");
		*out = ir_dim_bin(g, op, a, c);
		return 0;
	}
	return ERR("expected a dim, found %s", ir_lex_desc(P, b, sizeof b));
}

/* Dims up to `close`; returns the count or -1. */
static int parse_dims(Parser *P, char close, Dim *d, int max, const char *what)
{
	int n = 0;
	if (ir_lex_next(P))
		return -1;
	while (!ir_lex_punct(P, close)) {
		if (n && ir_lex_expect(P, ','))
			return -1;
		if (n == max)
			return ERR("%s has more than %d entries", what, max);
		if (parse_dim(P, 0, &d[n++]))
			return -1;
	}
	return ir_lex_next(P) ? -1 : n;
}

/* dtype-or-? [ '[' dims ']' ] [ '<' known values '>' ] */
static int parse_type(Parser *P, Value *v)
{
	char b[48];
	Graph *g = P->g;
	v->dt = DT_UNDEF;
	v->shape.rank = -1;
	if (ir_lex_punct(P, '?')) {
		if (ir_lex_next(P))
			return -1;
	} else if (P->t.kind == T_IDENT) {
		char name[16] = "";
		if (P->t.n < sizeof name)
			memcpy(name, P->t.p, P->t.n);
		v->dt = dt_parse(name);
		if (v->dt == DT_UNDEF)
			return ERR("unknown dtype %s", ir_lex_desc(P, b, sizeof b));
		if (ir_lex_next(P))
			return -1;
	} else {
		return ERR("expected a type, found %s", ir_lex_desc(P, b, sizeof b));
	}
	if (ir_lex_punct(P, '[')) {
		int r = parse_dims(P, ']', v->shape.d, IR_MAXRANK, "a shape");
		if (r < 0)
			return -1;
		v->shape.rank = r;
	}
	if (ir_lex_punct(P, '<')) {
		Dim sv[IR_MAXSV];
		int n = parse_dims(P, '>', sv, IR_MAXSV, "a known-values list");
		if (n < 0)
			return -1;
		v->nsv = n;
		v->sv = arena_memdup(g->arena, sv, (n ? n : 1) * sizeof *sv);
	}
	return 0;
}

/* Parse `%label: type` and define a value made by mk (ir_input etc). */
typedef uint32_t (*MkVal)(Graph *g, const char *name, int dt, const Shape *s);

static uint32_t mk_capture(Graph *g, const char *name, int dt, const Shape *s)
{
	uint32_t v = ir_value(g, name, dt, s);
	g->val[v].kind = VK_INPUT;
	return v;
}

static int parse_valdef(Parser *P, MkVal mk, uint32_t *out)
{
	char b[48];
	if (P->t.kind != T_REF)
		return ERR("expected a value (%%name), found %s", ir_lex_desc(P, b, sizeof b));
	int line = P->t.line, col = P->t.col;
	char *label = ir_lex_label(P);
	if (!label || ir_lex_next(P) || ir_lex_expect(P, ':')) {
		free(label);
		return -1;
	}
	Value tmp = {.nsv = -1};
	if (parse_type(P, &tmp)) {
		free(label);
		return -1;
	}
	uint32_t v = mk ? mk(P->g, label[0] == '#' ? NULL : label, tmp.dt, &tmp.shape) : *out;
	if (!mk) {
		Value *x = &P->g->val[v];
		x->name = label[0] == '#' ? NULL : arena_strdup(P->g->arena, label);
		x->dt = tmp.dt;
		x->shape = tmp.shape;
	}
	P->g->val[v].nsv = tmp.nsv;
	P->g->val[v].sv = tmp.sv;
	*out = v;
	return ir_lex_sym_bind(P, label, v, line, col);
}

/* ---- constants ------------------------------------------------------------------ */

static int parse_elem(Parser *P, int dt, void *data, size_t i)
{
	if (dt_is_float(dt)) {
		double x;
		if (ir_lex_float(P, dt != DT_F64, &x))
			return -1;
		dt_store_f(dt, data, i, x);
		return 0;
	}
	if (dt == DT_BOOL) {
		if (ir_lex_kw(P, "true") || ir_lex_kw(P, "false")) {
			((uint8_t *)data)[i] = ir_lex_kw(P, "true");
			return ir_lex_next(P);
		}
		int64_t x;
		if (ir_lex_int(P, 0, 1, &x))
			return -1;
		((uint8_t *)data)[i] = (uint8_t)x;
		return 0;
	}
	if (dt == DT_U64) {
		uint64_t x = 0;
		if (ir_lex_u64(P, &x))
			return -1;
		dt_store_u(dt, data, i, x);
		return 0;
	}
	int64_t lo, hi;
	switch (dt) {
	case DT_I8: lo = INT8_MIN; hi = INT8_MAX; break;
	case DT_I16: lo = INT16_MIN; hi = INT16_MAX; break;
	case DT_I32: lo = INT32_MIN; hi = INT32_MAX; break;
	case DT_U8: lo = 0; hi = UINT8_MAX; break;
	case DT_U16: lo = 0; hi = UINT16_MAX; break;
	case DT_U32: lo = 0; hi = UINT32_MAX; break;
	default: lo = INT64_MIN; hi = INT64_MAX; break;
	}
	int64_t x;
	if (ir_lex_int(P, lo, hi, &x))
		return -1;
	dt_store_i(dt, data, i, x);
	return 0;
}

/* `const %c: type = [elems] | hex"..."`; the elided `weight(...)` form is
 * refused: the bytes are not in the text. */
static int parse_const(Parser *P)
{
	char b[48];
	Graph *g = P->g;
	if (P->t.kind != T_REF)
		return ERR("expected a value (%%name), found %s", ir_lex_desc(P, b, sizeof b));
	int line = P->t.line, col = P->t.col;
	char *label = ir_lex_label(P);
	if (!label)
		return -1;
	char *shown = label[0] == '#' ? label + 1 : label;
	Value tmp = {.nsv = -1};
	if (ir_lex_next(P) || ir_lex_expect(P, ':') || parse_type(P, &tmp) || ir_lex_expect(P, '=')) {
		free(label);
		return -1;
	}
	int64_t numel = 1;
	for (int i = 0; i < tmp.shape.rank; i++) {
		if (tmp.shape.d[i] < 0) {
			ir_lex_err(P, line, col, "constant %%%s needs a static shape", shown);
			free(label);
			return -1;
		}
		if (tmp.shape.d[i] && numel > ((int64_t)1 << 40) / tmp.shape.d[i]) {
			ir_lex_err(P, line, col, "constant %%%s is too large", shown);
			free(label);
			return -1;
		}
		numel *= tmp.shape.d[i];
	}
	size_t es = dt_size(tmp.dt);
	if (tmp.shape.rank < 0 || !es) {
		ir_lex_err(P, line, col, "constant %%%s needs a numeric dtype and a shape", shown);
		free(label);
		return -1;
	}
	if (ir_lex_kw(P, "weight")) {
		ir_lex_err(P, P->t.line, P->t.col, "constant %%%s has elided weights (print with "
		       "--print-full to keep them in the text)", shown);
		free(label);
		return -1;
	}
	void *data = NULL;
	if (ir_lex_kw(P, "hex")) {
		if (ir_lex_next(P))
			goto fail;
		if (P->t.kind != T_STR) {
			ERR("expected a hex string after 'hex'");
			goto fail;
		}
		size_t nb = (size_t)numel * es, len = P->t.n - 2;
		if (len != 2 * nb) {
			ERR("constant %%%s: hex data has %zu bytes, its type needs %zu",
			    shown, len / 2, nb);
			goto fail;
		}
		unsigned char *p = arena_alloc(g->arena, nb ? nb : 1);
		for (size_t i = 0; i < nb; i++) {
			int hi = ir_lex_hexval(P->t.p[1 + 2 * i]), lo = ir_lex_hexval(P->t.p[2 + 2 * i]);
			if (hi < 0 || lo < 0) {
				ERR("bad hex digit in constant %%%s", shown);
				goto fail;
			}
			p[i] = (unsigned char)(hi * 16 + lo);
		}
		data = p;
		if (ir_lex_next(P))
			goto fail;
	} else if (ir_lex_punct(P, '[')) {
		if (numel > 1 << 20) {
			ERR("constant %%%s: inline data limited to 2^20 elements", shown);
			goto fail;
		}
		data = arena_alloc(g->arena, (size_t)(numel ? numel : 1) * es);
		int64_t n = 0;
		if (ir_lex_next(P))
			goto fail;
		while (!ir_lex_punct(P, ']')) {
			if (n && ir_lex_expect(P, ','))
				goto fail;
			if (n == numel) {
				ERR("constant %%%s has more than %lld elements", shown, (long long)numel);
				goto fail;
			}
			if (parse_elem(P, tmp.dt, data, (size_t)n++))
				goto fail;
		}
		if (n != numel) {
			ERR("constant %%%s has %lld elements, its shape needs %lld", shown,
			    (long long)n, (long long)numel);
			goto fail;
		}
		if (ir_lex_next(P))
			goto fail;
	} else {
		ERR("expected '[', hex\"...\" or weight(...) after '=', found %s", ir_lex_desc(P, b, sizeof b));
		goto fail;
	}
	uint32_t v = ir_const(g, label[0] == '#' ? NULL : label, tmp.dt, &tmp.shape, data);
	return ir_lex_sym_bind(P, label, v, line, col);
fail:
	free(label);
	return -1;
}

/* ---- attributes ----------------------------------------------------------------- */
static int parse_graph_body(Parser *P, Graph *g);

typedef struct List {
	int kind;             /* AK_INTS / AK_FLOATS / AK_STRINGS, or 0 if unknown */
	int n, cap;
	int64_t *ints;
	double *floats;
	char **strs;
} List;

static void list_free(List *l)
{
	for (int i = 0; i < l->n && l->strs; i++)
		free(l->strs[i]);
	free(l->ints);
	free(l->floats);
	free(l->strs);
}

static int list_push(Parser *P, List *l)
{
	if (l->n == l->cap) {
		if (l->cap >= 1 << 24)
			return ERR("list too long");
		int cap = l->cap ? 2 * l->cap : 8;
		int64_t *a = realloc(l->ints, cap * sizeof *a);
		if (a) l->ints = a;
		double *f = realloc(l->floats, cap * sizeof *f);
		if (f) l->floats = f;
		char **s = realloc(l->strs, cap * sizeof *s);
		if (s) l->strs = s;
		if (!a || !f || !s)
			return ERR("out of memory");
		l->cap = cap;
	}
	l->strs[l->n] = NULL;
	l->n++;
	return 0;
}

/* '[' elems ']' after an optional kind keyword (ints/floats/strings). */
static int parse_list(Parser *P, List *l)
{
	char b[48];
	if (ir_lex_expect(P, '['))
		return -1;
	while (!ir_lex_punct(P, ']')) {
		if (l->n && ir_lex_expect(P, ','))
			return -1;
		int kind;
		if (P->t.kind == T_STR)
			kind = AK_STRINGS;
		else if (ir_lex_kw(P, "inf") || ir_lex_kw(P, "nan") ||
		         (P->t.kind == T_NUM && ir_lex_isfloat(&P->t)))
			kind = AK_FLOATS;
		else if (ir_lex_punct(P, '-') && (P->s[0] == 'i' || P->s[0] == 'n' ||
		         ir_lex_isfloat(&(Tok){.p = P->s, .n = strspn(P->s, "0123456789.eE+-")})))
			kind = AK_FLOATS;
		else if (P->t.kind == T_NUM || ir_lex_punct(P, '-'))
			kind = AK_INTS;
		else
			return ERR("expected a list element, found %s", ir_lex_desc(P, b, sizeof b));
		if (l->kind == AK_STRINGS ? kind != AK_STRINGS : kind == AK_STRINGS && l->kind)
			return ERR("a list mixes strings and numbers");
		if (!l->kind || (l->kind == AK_INTS && kind == AK_FLOATS)) {
			if (l->kind == AK_INTS)
				for (int i = 0; i < l->n; i++)
					l->floats[i] = (double)l->ints[i];
			if (l->kind != AK_FLOATS || !l->n)
				l->kind = kind;
		}
		if (list_push(P, l))
			return -1;
		int i = l->n - 1;
		if (kind == AK_STRINGS) {
			if (!(l->strs[i] = ir_lex_unquote(P, P->t.p, P->t.n)) || ir_lex_next(P))
				return -1;
		} else if (l->kind == AK_FLOATS) {
			if (ir_lex_float(P, 1, &l->floats[i]))
				return -1;
		} else {
			if (ir_lex_int(P, INT64_MIN, INT64_MAX, &l->ints[i]))
				return -1;
		}
	}
	return ir_lex_next(P);
}

static int lookup_ref(Parser *P, uint32_t *v)
{
	char *label = ir_lex_label(P);
	if (!label)
		return -1;
	Sym *s = ir_lex_sym_find(P, label);
	if (!s) {
		ERR("undefined value %%%s", label[0] == '#' ? label + 1 : label);
		free(label);
		return -1;
	}
	free(label);
	*v = s->v;
	return ir_lex_next(P);
}

/* name = value, adding the attribute to node `id`. */
static int parse_attr(Parser *P, uint32_t id)
{
	char b[48];
	Graph *g = P->g;
	if (P->t.kind != T_IDENT && P->t.kind != T_STR)
		return ERR("expected an attribute name, found %s", ir_lex_desc(P, b, sizeof b));
	char *name = ir_lex_name(P);
	if (!name)
		return -1;
	for (int i = 0; i < g->node[id].nattr; i++)
		if (strcmp(g->node[id].attr[i].name, name) == 0) {
			ERR("attribute '%s' given twice", name);
			free(name);
			return -1;
		}
	if (ir_lex_next(P) || ir_lex_expect(P, '=')) {
		free(name);
		return -1;
	}
	Attr a = {.kind = AK_UNDEF, .t = IR_NONE};
	List l = {0};
	int rc = 0;
	if (P->t.kind == T_STR) {
		a.kind = AK_STRING;
		char *s = ir_lex_unquote(P, P->t.p, P->t.n);
		rc = !s || ir_lex_next(P);
		if (s)
			a.s = arena_strdup(g->arena, s);
		free(s);
	} else if (P->t.kind == T_REF) {
		a.kind = AK_TENSOR;
		rc = lookup_ref(P, &a.t);
		if (!rc && g->val[a.t].kind != VK_CONST)
			rc = ERR("tensor attribute '%s' must name a constant", name);
	} else if (ir_lex_kw(P, "graph")) {
		if (P->depth >= IR_TEXT_MAXDEPTH) {
			rc = ERR("subgraphs nested too deeply");
		} else {
			Graph *sub = ir_graph_new(g->source);
			Parser Q = *P;
			Q.g = sub;
			Q.sym = NULL; Q.nsym = Q.capsym = 0;
			Q.fix = NULL; Q.nfix = Q.capfix = 0;
			Q.depth = P->depth + 1;
			rc = parse_graph_body(&Q, sub);
			/* hand the cursor back */
			P->s = Q.s; P->line = Q.line; P->linestart = Q.linestart; P->t = Q.t;
			P->failed = Q.failed;
			if (rc) {
				ir_graph_free(sub);
			} else {
				a.kind = AK_GRAPH;
				a.g = sub;
			}
		}
	} else if (ir_lex_kw(P, "undef")) {
		rc = ir_lex_next(P);
	} else if (ir_lex_punct(P, '[') || ir_lex_kw(P, "ints") || ir_lex_kw(P, "floats") || ir_lex_kw(P, "strings")) {
		if (P->t.kind == T_IDENT) {
			l.kind = ir_lex_kw(P, "ints") ? AK_INTS : ir_lex_kw(P, "floats") ? AK_FLOATS : AK_STRINGS;
			rc = ir_lex_next(P);
		}
		int want = l.kind;
		rc = rc || parse_list(P, &l);
		if (!rc && want && want != l.kind && l.n)
			rc = ERR("list elements do not match '%s'",
			         want == AK_INTS ? "ints" : want == AK_FLOATS ? "floats" : "strings");
		if (!rc) {
			a.kind = l.kind ? l.kind : AK_INTS;
			a.n = l.n;
			if (a.kind == AK_INTS)
				a.ints = arena_memdup(g->arena, l.ints ? l.ints : (int64_t[1]){0},
				                      (l.n ? l.n : 1) * sizeof *a.ints);
			if (a.kind == AK_FLOATS) {
				a.floats = arena_alloc(g->arena, (l.n ? l.n : 1) * sizeof *a.floats);
				for (int i = 0; i < l.n; i++)
					a.floats[i] = (float)l.floats[i];
			}
			if (a.kind == AK_STRINGS) {
				a.strs = arena_alloc(g->arena, (l.n ? l.n : 1) * sizeof *a.strs);
				for (int i = 0; i < l.n; i++)
					a.strs[i] = arena_strdup(g->arena, l.strs[i]);
			}
		}
		list_free(&l);
	} else if (P->t.kind == T_NUM || ir_lex_punct(P, '-') || ir_lex_kw(P, "inf") || ir_lex_kw(P, "nan")) {
		int fl = ir_lex_kw(P, "inf") || ir_lex_kw(P, "nan") || (P->t.kind == T_NUM && ir_lex_isfloat(&P->t));
		if (ir_lex_punct(P, '-'))
			fl = P->s[0] == 'i' || P->s[0] == 'n' ||
			     ir_lex_isfloat(&(Tok){.p = P->s, .n = strspn(P->s, "0123456789.eE+-")});
		if (fl) {
			a.kind = AK_FLOAT;
			rc = ir_lex_float(P, 1, &a.f);
		} else {
			a.kind = AK_INT;
			rc = ir_lex_int(P, INT64_MIN, INT64_MAX, &a.i);
		}
	} else {
		rc = ERR("expected an attribute value, found %s", ir_lex_desc(P, b, sizeof b));
	}
	if (rc) {
		free(name);
		return -1;
	}
	Attr *r = ir_attr_add(g, id, name, a.kind);
	free(name);
	a.name = r->name;
	*r = a;
	return 0;
}

/* ---- statements ------------------------------------------------------------------- */
#define MAX_PORTS 4096

/* outs '=' Op '(' args ')' [ '{' attrs '}' ] [ '@' "name" ] [ 'opset' N ] */
static int parse_node(Parser *P)
{
	char b[48];
	Graph *g = P->g;
	typedef struct Out { char *label; Value type; int line, col; } Out;
	Out *outs = NULL;
	int nout = 0, cap = 0, rc = -1;
	uint32_t *ins = NULL;
	char **inl = NULL;
	int *inpos = NULL;
	int nin = 0, incap = 0;
	if (ir_lex_punct(P, '(')) {   /* "()" : no outputs */
		if (ir_lex_next(P) || ir_lex_expect(P, ')'))
			return -1;
	} else {
		for (;;) {
			if (nout == cap) {
				if (cap >= MAX_PORTS) {
					ERR("too many outputs");
					goto out;
				}
				cap = cap ? 2 * cap : 4;
				Out *o = realloc(outs, cap * sizeof *o);
				if (!o) {
					ERR("out of memory");
					goto out;
				}
				outs = o;
			}
			Out *o = &outs[nout];
			memset(o, 0, sizeof *o);
			o->line = P->t.line;
			o->col = P->t.col;
			if (ir_lex_kw(P, "_")) {
				nout++;
				if (ir_lex_next(P))
					goto out;
			} else if (P->t.kind == T_REF) {
				o->label = ir_lex_label(P);
				nout++;
				o->type.nsv = -1;
				if (!o->label || ir_lex_next(P) || ir_lex_expect(P, ':') || parse_type(P, &o->type))
					goto out;
			} else {
				ERR("expected a statement, found %s", ir_lex_desc(P, b, sizeof b));
				goto out;
			}
			if (!ir_lex_punct(P, ','))
				break;
			if (ir_lex_next(P))
				goto out;
		}
	}
	if (ir_lex_expect(P, '='))
		goto out;
	if (P->t.kind != T_IDENT) {
		ERR("expected an op name, found %s", ir_lex_desc(P, b, sizeof b));
		goto out;
	}
	char opname[64] = "";
	if (P->t.n < sizeof opname)
		memcpy(opname, P->t.p, P->t.n);
	int op = op_lookup(opname);
	if (op < 0 || op >= OP_COUNT) {
		ERR("unknown op %s", ir_lex_desc(P, b, sizeof b));
		goto out;
	}
	int opline = P->t.line, opcol = P->t.col;
	if (ir_lex_next(P) || ir_lex_expect(P, '('))
		goto out;
	while (!ir_lex_punct(P, ')')) {
		if (nin && ir_lex_expect(P, ','))
			goto out;
		if (nin == incap) {
			if (incap >= MAX_PORTS) {
				ERR("too many inputs");
				goto out;
			}
			incap = incap ? 2 * incap : 4;
			uint32_t *a = realloc(ins, incap * sizeof *a);
			if (a) ins = a;
			char **l = realloc(inl, incap * sizeof *l);
			if (l) inl = l;
			int *pp = realloc(inpos, 2 * incap * sizeof *pp);
			if (pp) inpos = pp;
			if (!a || !l || !pp) {
				ERR("out of memory");
				goto out;
			}
		}
		ins[nin] = IR_NONE;
		inl[nin] = NULL;
		inpos[2 * nin] = P->t.line;
		inpos[2 * nin + 1] = P->t.col;
		if (ir_lex_kw(P, "_")) {
			nin++;
		} else if (P->t.kind == T_REF) {
			inl[nin++] = ir_lex_label(P);
			if (!inl[nin - 1])
				goto out;
		} else {
			ERR("expected an input (%%name or _), found %s", ir_lex_desc(P, b, sizeof b));
			goto out;
		}
		if (ir_lex_next(P))
			goto out;
	}
	if (ir_lex_next(P))
		goto out;
	const OpInfo *oi = &op_info[op];
	if (nin < oi->min_in || (oi->max_in >= 0 && nin > oi->max_in)) {
		ir_lex_err(P, opline, opcol, "%s takes %d..%d inputs, not %d", oi->name, oi->min_in,
		       oi->max_in, nin);
		goto out;
	}
	if (nout < oi->min_out || (oi->max_out >= 0 && nout > oi->max_out)) {
		ir_lex_err(P, opline, opcol, "%s gives %d..%d outputs, not %d", oi->name, oi->min_out,
		       oi->max_out, nout);
		goto out;
	}
	uint32_t id = ir_node(g, op, "", nin, ins, nout);
	g->node[id].opset = g->opset;
	for (int k = 0; k < nin; k++) {
		if (!inl[k])
			continue;
		if (ir_lex_fixup(P, id, k, inl[k], inpos[2 * k], inpos[2 * k + 1]))
			goto out;
		inl[k] = NULL;
	}
	for (int k = 0; k < nout; k++) {
		uint32_t v = g->node[id].out[k];
		if (!outs[k].label)
			continue;   /* `_`: an unnamed, untyped output nothing uses */
		Value *x = &g->val[v];
		x->name = outs[k].label[0] == '#' ? NULL : arena_strdup(g->arena, outs[k].label);
		x->dt = outs[k].type.dt;
		x->shape = outs[k].type.shape;
		x->nsv = outs[k].type.nsv;
		x->sv = outs[k].type.sv;
		char *lab = outs[k].label;
		outs[k].label = NULL;
		if (ir_lex_sym_bind(P, lab, v, outs[k].line, outs[k].col))
			goto out;
	}
	if (ir_lex_punct(P, '{')) {
		if (ir_lex_next(P))
			goto out;
		int na = 0;
		while (!ir_lex_punct(P, '}')) {
			if (na && ir_lex_expect(P, ','))
				goto out;
			if (na++ >= MAX_PORTS) {
				ERR("too many attributes");
				goto out;
			}
			if (parse_attr(P, id))
				goto out;
		}
		if (ir_lex_next(P))
			goto out;
	}
	if (ir_lex_punct(P, '@')) {
		if (ir_lex_next(P))
			goto out;
		if (P->t.kind != T_STR) {
			ERR("expected a quoted node name after '@'");
			goto out;
		}
		char *s = ir_lex_unquote(P, P->t.p, P->t.n);
		if (!s)
			goto out;
		g->node[id].name = arena_strdup(g->arena, s);
		free(s);
		if (ir_lex_next(P))
			goto out;
	}
	if (ir_lex_kw(P, "opset")) {
		int64_t v;
		if (ir_lex_next(P) || ir_lex_int(P, 1, 100000, &v))
			goto out;
		g->node[id].opset = (int)v;
	}
	rc = 0;
out:
	for (int k = 0; k < nout; k++)
		free(outs[k].label);
	for (int k = 0; k < nin; k++)
		free(inl[k]);
	free(outs);
	free(ins);
	free(inl);
	free(inpos);
	return rc;
}

/* 'graph' "name" 'opset' N '{' statements '}' */
static int parse_graph_body(Parser *P, Graph *g)
{
	char b[48];
	if (!ir_lex_kw(P, "graph"))
		return ERR("expected 'graph', found %s", ir_lex_desc(P, b, sizeof b));
	if (ir_lex_next(P))
		return -1;
	if (P->t.kind == T_STR) {
		char *s = ir_lex_unquote(P, P->t.p, P->t.n);
		if (!s)
			return -1;
		g->name = arena_strdup(g->arena, s);
		free(s);
		if (ir_lex_next(P))
			return -1;
	}
	if (ir_lex_kw(P, "opset")) {
		int64_t v;
		if (ir_lex_next(P) || ir_lex_int(P, 1, 100000, &v))
			return -1;
		g->opset = (int)v;
	}
	if (ir_lex_expect(P, '{'))
		return -1;
	int rc = 0;
	while (!rc && !ir_lex_punct(P, '}')) {
		if (P->t.kind == T_EOF) {
			rc = ERR("missing '}' at the end of the graph");
		} else if (ir_lex_kw(P, "dims")) {
			/* dim-table entries in order (see ir/print.c pdimtable) */
			rc = ir_lex_next(P);
			for (int first = 1; !rc && (first || ir_lex_punct(P, ',')); first = 0) {
				Dim dd;
				rc = (!first && ir_lex_next(P)) || parse_dim(P, 0, &dd);
			}
		} else if (ir_lex_kw(P, "in")) {
			uint32_t v;
			rc = ir_lex_next(P) || parse_valdef(P, ir_input, &v);
		} else if (ir_lex_kw(P, "capture")) {
			uint32_t v;
			rc = ir_lex_next(P) || parse_valdef(P, mk_capture, &v);
		} else if (ir_lex_kw(P, "const")) {
			rc = ir_lex_next(P) || parse_const(P);
		} else if (ir_lex_kw(P, "out")) {
			rc = ir_lex_next(P);
			for (int first = 1; !rc; first = 0) {
				if (!first) {
					if (!ir_lex_punct(P, ','))
						break;
					rc = ir_lex_next(P);
					if (rc)
						break;
				}
				if (P->t.kind != T_REF) {
					rc = ERR("expected a value after 'out', found %s", ir_lex_desc(P, b, sizeof b));
					break;
				}
				int line = P->t.line, col = P->t.col;
				char *label = ir_lex_label(P);
				if (!label) {
					rc = -1;
					break;
				}
				ir_graph_output(g, IR_NONE);
				rc = ir_lex_fixup(P, IR_NONE, (int)g->nout - 1, label, line, col) || ir_lex_next(P);
			}
		} else {
			rc = parse_node(P);
		}
	}
	/* resolve uses */
	for (size_t i = 0; i < P->nfix; i++) {
		Fixup *f = &P->fix[i];
		if (!rc) {
			Sym *s = ir_lex_sym_find(P, f->label);
			if (!s) {
				rc = ir_lex_err(P, f->line, f->col, "undefined value %%%s",
				            f->label[0] == '#' ? f->label + 1 : f->label);
			} else if (f->node == IR_NONE) {
				g->out[f->slot] = s->v;
			} else {
				g->node[f->node].in[f->slot] = s->v;
			}
		}
		free(f->label);
	}
	free(P->fix);
	P->fix = NULL;
	P->nfix = P->capfix = 0;
	for (size_t i = 0; i < P->capsym; i++)
		free(P->sym[i].label);
	free(P->sym);
	P->sym = NULL;
	P->nsym = P->capsym = 0;
	if (rc)
		return -1;
	return ir_lex_next(P);
}

Graph *ir_parse(const char *text, const char *source, Diag *d)
{
	Parser P = {.src = text ? text : "", .file = source ? source : "<input>",
	            .line = 1, .d = d};
	P.s = P.src;
	P.linestart = P.src;
	Graph *g = ir_graph_new(P.file);
	P.g = g;
	int rc = ir_lex_next(&P) || parse_graph_body(&P, g);
	if (!rc && P.t.kind != T_EOF) {
		char b[48];
		rc = ir_lex_err(&P, P.t.line, P.t.col, "unexpected %s after the graph", ir_lex_desc(&P, b, sizeof b));
	}
	if (rc) {
		if (!P.failed)
			diag_set(d, E_MODEL, "%s: parse error", P.file);
		ir_graph_free(g);
		return NULL;
	}
	return g;
}
