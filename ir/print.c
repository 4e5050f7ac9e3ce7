/* The IR text form, printing side: a readable, line-per-statement rendering
 * of a graph that ir/parse.c reads back exactly (see docs in ir/text.h).
 * Printing never fails, even on a broken graph: bad references print as
 * `%!bad<id>` so a dump taken while debugging still shows everything. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "text.h"

/* ---- output buffer ------------------------------------------------------ */
typedef struct Buf {
	char *p;
	size_t n, cap;
} Buf;

static void bput(Buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (b->n + n + 1 > cap)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return;   /* out of memory: the text is truncated */
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void bstr(Buf *b, const char *s) { bput(b, s, strlen(s)); }

static void bfmt(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bfmt(Buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof tmp) {
		bput(b, tmp, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big)
		return;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	bput(b, big, (size_t)n);
	free(big);
}

static void bindent(Buf *b, int depth)
{
	for (int i = 0; i < depth; i++)
		bstr(b, "  ");
}

/* A double-quoted string with C-style escapes; bytes outside printable
 * ASCII become \xHH so the text stays one line and 7-bit clean. */
static void bquote(Buf *b, const char *s)
{
	bstr(b, "\"");
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			bfmt(b, "\\%c", *p);
		else if (*p == '\n')
			bstr(b, "\\n");
		else if (*p == '\t')
			bstr(b, "\\t");
		else if (*p < 0x20 || *p >= 0x7f)
			bfmt(b, "\\x%02x", *p);
		else
			bput(b, (const char *)p, 1);
	}
	bstr(b, "\"");
}

static int is_ident(const char *s)
{
	if (!s || !ir_text_identchar((unsigned char)s[0], 1))
		return 0;
	for (const char *p = s + 1; *p; p++)
		if (!ir_text_identchar((unsigned char)*p, 0))
			return 0;
	return 1;
}

/* Unquoted value names: name characters, and not all digits. */
static int is_plain_name(const char *s)
{
	if (!s || !*s)
		return 0;
	int digits = 1;
	for (const char *p = s; *p; p++) {
		if (!ir_text_namechar((unsigned char)*p))
			return 0;
		if (*p < '0' || *p > '9')
			digits = 0;
	}
	return !digits;
}

/* ---- numbers that round-trip ---------------------------------------------- */
/* Shortest %g form that reads back (strtof) as the same float; always
 * carries a '.', an exponent, or is inf/nan, so it never reads as an int. */
static void fmt_f32(char *buf, size_t n, float x)
{
	if (isnan(x)) {
		snprintf(buf, n, "nan");
		return;
	}
	if (isinf(x)) {
		snprintf(buf, n, x < 0 ? "-inf" : "inf");
		return;
	}
	for (int p = 1; p <= 9; p++) {
		snprintf(buf, n, "%.*g", p, (double)x);
		if (strtof(buf, NULL) == x)
			break;
	}
	if (!strpbrk(buf, ".e"))
		strncat(buf, ".0", n - strlen(buf) - 1);
}

static void fmt_f64(char *buf, size_t n, double x)
{
	if (isnan(x)) {
		snprintf(buf, n, "nan");
		return;
	}
	if (isinf(x)) {
		snprintf(buf, n, x < 0 ? "-inf" : "inf");
		return;
	}
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, n, "%.*g", p, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	if (!strpbrk(buf, ".e"))
		strncat(buf, ".0", n - strlen(buf) - 1);
}

/* ---- the printer ------------------------------------------------------------ */
typedef struct Printer {
	Buf *b;
	const Graph *g;
	int full;
	int depth;            /* indentation (subgraph nesting) */
	char **label;         /* per value: its printed reference, or NULL */
	uint32_t nextnum;     /* next number for an unnamed value */
	/* hash set of names taken so far (open addressing over label strings) */
	const char **names;
	size_t nnames_cap;
} Printer;

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Claim name s; returns 0 if another value already holds it. */
static int claim_name(Printer *P, const char *s)
{
	size_t mask = P->nnames_cap - 1;
	for (size_t i = hash_str(s) & mask;; i = (i + 1) & mask) {
		if (!P->names[i]) {
			P->names[i] = s;
			return 1;
		}
		if (strcmp(P->names[i], s) == 0)
			return 0;
	}
}

/* Give value v its label: its name when it is unique, else the next number.
 * Called in definition order, so unnamed values are numbered as they
 * appear and a parse-and-print reproduces the same numbers. */
static void define_label(Printer *P, uint32_t v)
{
	const Graph *g = P->g;
	if (v >= g->nval || P->label[v])
		return;
	const char *name = g->val[v].name;
	Buf t = {0};
	if (name && claim_name(P, name)) {
		bstr(&t, "%");
		if (is_plain_name(name))
			bstr(&t, name);
		else
			bquote(&t, name);
	} else {
		bfmt(&t, "%%%u", P->nextnum++);
	}
	P->label[v] = t.p;
}

static void pref(Printer *P, uint32_t v)
{
	if (v == IR_NONE) {
		bstr(P->b, "_");
		return;
	}
	if (v >= P->g->nval) {
		bfmt(P->b, "%%!bad%u", v);
		return;
	}
	if (!P->label[v])
		define_label(P, v);   /* used but never defined: still give it a name */
	bstr(P->b, P->label[v] ? P->label[v] : "%!oom");
}

static void pdim(Printer *P, Dim d, int depth)
{
	const Graph *g = P->g;
	if (d >= 0) {
		bfmt(P->b, "%lld", (long long)d);
		return;
	}
	uint32_t i = DIM_IDX(d);
	if (i >= g->ndim || depth > IR_TEXT_MAXDEPTH) {
		bfmt(P->b, "?bad%lld", (long long)d);
		return;
	}
	const DimExpr *x = &g->dim[i];
	static const char *const infix[] = {[DX_ADD] = "+", [DX_SUB] = "-",
		[DX_MUL] = "*", [DX_DIV] = "/"};
	static const char *const fn[] = {[DX_MOD] = "mod", [DX_MAX] = "max",
		[DX_MIN] = "min", [DX_CDIV] = "cdiv"};
	switch (x->op) {
	case DX_SYM:
		if (is_ident(x->name))
			bstr(P->b, x->name);
		else
			bquote(P->b, x->name);
		return;
	case DX_ADD: case DX_SUB: case DX_MUL: case DX_DIV:
		bstr(P->b, "(");
		pdim(P, x->a, depth + 1);
		bstr(P->b, infix[x->op]);
		pdim(P, x->b, depth + 1);
		bstr(P->b, ")");
		return;
	case DX_MOD: case DX_MAX: case DX_MIN: case DX_CDIV:
		bstr(P->b, fn[x->op]);
		bstr(P->b, "(");
		pdim(P, x->a, depth + 1);
		bstr(P->b, ",");
		pdim(P, x->b, depth + 1);
		bstr(P->b, ")");
		return;
	}
	bfmt(P->b, "?op%d", x->op);
}

static void pdims(Printer *P, const Dim *d, int n)
{
	for (int i = 0; i < n; i++) {
		if (i)
			bstr(P->b, ",");
		pdim(P, d[i], 0);
	}
}

/* dtype, shape and (for computed values) the known element values:
 * `f32[batch,64]`, `i64[3]<batch,seq,64>`, `?` before inference. */
static void ptype(Printer *P, const Value *v)
{
	if (v->dt == DT_UNDEF || v->dt < 0 || v->dt >= DT_COUNT)
		bstr(P->b, "?");
	else
		bstr(P->b, dt_name(v->dt));
	if (v->shape.rank >= 0) {
		bstr(P->b, "[");
		pdims(P, v->shape.d, v->shape.rank <= IR_MAXRANK ? v->shape.rank : 0);
		bstr(P->b, "]");
	}
	if (v->kind != VK_CONST && v->nsv >= 0 && v->sv) {
		bstr(P->b, "<");
		pdims(P, v->sv, v->nsv <= IR_MAXSV ? v->nsv : 0);
		bstr(P->b, ">");
	}
}

/* Number of elements of a static shape, or -1. */
static int64_t static_numel(const Shape *s)
{
	if (s->rank < 0 || s->rank > IR_MAXRANK)
		return -1;
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++) {
		if (s->d[i] < 0)
			return -1;
		if (s->d[i] && n > INT64_MAX / s->d[i])
			return -1;
		n *= s->d[i];
	}
	return n;
}

static int inline_dtype(int dt)
{
	return dt_is_float(dt) || dt_is_int(dt) || dt == DT_BOOL;
}

static void pelem(Printer *P, int dt, const void *data, size_t i)
{
	char t[64];
	switch (dt) {
	case DT_F32: fmt_f32(t, sizeof t, ((const float *)data)[i]); break;
	case DT_F16: fmt_f32(t, sizeof t, f16_to_f32(((const uint16_t *)data)[i])); break;
	case DT_BF16: fmt_f32(t, sizeof t, bf16_to_f32(((const uint16_t *)data)[i])); break;
	case DT_F64: fmt_f64(t, sizeof t, ((const double *)data)[i]); break;
	case DT_BOOL: snprintf(t, sizeof t, "%s", ((const uint8_t *)data)[i] ? "true" : "false"); break;
	case DT_U64: snprintf(t, sizeof t, "%llu", (unsigned long long)dt_load_u(dt, data, i)); break;
	default: snprintf(t, sizeof t, "%lld", (long long)dt_load_i(dt, data, i)); break;
	}
	bstr(P->b, t);
}

static void pconst_data(Printer *P, const Value *v)
{
	int64_t n = static_numel(&v->shape);
	size_t es = dt_size(v->dt);
	if (v->data && n >= 0 && inline_dtype(v->dt) && n <= IR_TEXT_INLINE) {
		bstr(P->b, "[");
		for (int64_t i = 0; i < n; i++) {
			if (i)
				bstr(P->b, ", ");
			pelem(P, v->dt, v->data, (size_t)i);
		}
		bstr(P->b, "]");
	} else if (v->data && n >= 0 && es && P->full) {
		static const char hx[] = "0123456789abcdef";
		const unsigned char *p = v->data;
		size_t nb = (size_t)n * es;
		bstr(P->b, "hex\"");
		char chunk[512];
		size_t k = 0;
		for (size_t i = 0; i < nb; i++) {
			chunk[k++] = hx[p[i] >> 4];
			chunk[k++] = hx[p[i] & 15];
			if (k == sizeof chunk) {
				bput(P->b, chunk, k);
				k = 0;
			}
		}
		bput(P->b, chunk, k);
		bstr(P->b, "\"");
	} else if (n >= 0 && es) {
		bfmt(P->b, "weight(%llu bytes)", (unsigned long long)((uint64_t)n * es));
	} else {
		bstr(P->b, "weight(? bytes)");
	}
}

static void pgraph(Printer *P);

static void pattr(Printer *P, const Attr *a)
{
	char t[64];
	if (is_ident(a->name))
		bstr(P->b, a->name);
	else
		bquote(P->b, a->name);
	bstr(P->b, " = ");
	switch (a->kind) {
	case AK_INT:
		bfmt(P->b, "%lld", (long long)a->i);
		break;
	case AK_FLOAT:
		fmt_f32(t, sizeof t, (float)a->f);
		bstr(P->b, t);
		break;
	case AK_STRING:
		bquote(P->b, a->s);
		break;
	case AK_INTS: case AK_FLOATS: case AK_STRINGS:
		if (a->n <= 0 || (a->kind == AK_INTS && !a->ints) ||
		    (a->kind == AK_FLOATS && !a->floats) || (a->kind == AK_STRINGS && !a->strs)) {
			bstr(P->b, a->kind == AK_INTS ? "ints[]" : a->kind == AK_FLOATS ? "floats[]" : "strings[]");
			break;
		}
		bstr(P->b, "[");
		for (int i = 0; i < a->n; i++) {
			if (i)
				bstr(P->b, ", ");
			if (a->kind == AK_INTS) {
				bfmt(P->b, "%lld", (long long)a->ints[i]);
			} else if (a->kind == AK_FLOATS) {
				fmt_f32(t, sizeof t, a->floats[i]);
				bstr(P->b, t);
			} else {
				bquote(P->b, a->strs[i]);
			}
		}
		bstr(P->b, "]");
		break;
	case AK_TENSOR:
		pref(P, a->t);
		break;
	case AK_GRAPH:
		if (!a->g || P->depth >= IR_TEXT_MAXDEPTH) {
			bstr(P->b, "graph?");
			break;
		}
		{
			Printer sub = *P;
			sub.g = a->g;
			sub.depth = P->depth + 1;
			pgraph(&sub);
		}
		break;
	default:
		bstr(P->b, "undef");
		break;
	}
}

static void pnode(Printer *P, uint32_t id)
{
	const Graph *g = P->g;
	const Node *n = &g->node[id];
	bindent(P->b, P->depth + 1);
	if (n->nout <= 0)
		bstr(P->b, "()");
	for (int k = 0; k < n->nout; k++) {
		if (k)
			bstr(P->b, ", ");
		uint32_t v = n->out[k];
		pref(P, v);
		if (v != IR_NONE && v < g->nval) {
			bstr(P->b, ": ");
			ptype(P, &g->val[v]);
		}
	}
	bstr(P->b, " = ");
	bstr(P->b, ir_op_name(n->op));
	bstr(P->b, "(");
	for (int k = 0; k < n->nin; k++) {
		if (k)
			bstr(P->b, ", ");
		pref(P, n->in[k]);
	}
	bstr(P->b, ")");
	if (n->nattr > 0 && n->attr) {
		bstr(P->b, " {");
		for (int k = 0; k < n->nattr; k++) {
			if (k)
				bstr(P->b, ", ");
			pattr(P, &n->attr[k]);
		}
		bstr(P->b, "}");
	}
	if (n->name && n->name[0]) {
		bstr(P->b, " @");
		bquote(P->b, n->name);
	}
	if (n->opset != g->opset)
		bfmt(P->b, " opset %d", n->opset);
	bstr(P->b, "\n");
}

static bool is_graph_input(const Graph *g, uint32_t v)
{
	for (uint32_t i = 0; i < g->nin; i++)
		if (g->in[i] == v)
			return true;
	return false;
}

static void mark_dims(const Graph *g, uint8_t *mark, const Dim *d, int n)
{
	for (int i = 0; i < n; i++)
		if (d[i] < 0 && DIM_IDX(d[i]) < g->ndim)
			mark[DIM_IDX(d[i])] = 1;
}

static void mark_value(const Graph *g, uint8_t *mark, uint32_t v)
{
	if (v >= g->nval)
		return;
	const Value *x = &g->val[v];
	if (x->shape.rank > 0 && x->shape.rank <= IR_MAXRANK)
		mark_dims(g, mark, x->shape.d, x->shape.rank);
	if (x->kind != VK_CONST && x->sv && x->nsv > 0 && x->nsv <= IR_MAXSV)
		mark_dims(g, mark, x->sv, x->nsv);
}

/* Record the dim-table entries under d in the order the parser creates
 * them when it reads d (operands first); *inorder stays 1 while that order
 * is increasing table order. */
static void visit_dim(const Graph *g, uint8_t *seen, Dim d, int64_t *last, int *inorder, int depth)
{
	if (d >= 0 || DIM_IDX(d) >= g->ndim || seen[DIM_IDX(d)] || depth > IR_TEXT_MAXDEPTH)
		return;
	uint32_t i = DIM_IDX(d);
	const DimExpr *x = &g->dim[i];
	if (x->op != DX_SYM) {
		visit_dim(g, seen, x->a, last, inorder, depth + 1);
		visit_dim(g, seen, x->b, last, inorder, depth + 1);
	}
	seen[i] = 1;
	if ((int64_t)i < *last)
		*inorder = 0;
	*last = i;
}

static void visit_value(const Graph *g, uint8_t *seen, uint32_t v, int64_t *last, int *inorder)
{
	if (v >= g->nval)
		return;
	const Value *x = &g->val[v];
	for (int k = 0; k < x->shape.rank && k < IR_MAXRANK; k++)
		visit_dim(g, seen, x->shape.d[k], last, inorder, 0);
	if (x->kind != VK_CONST && x->sv)
		for (int k = 0; k < x->nsv && k < IR_MAXSV; k++)
			visit_dim(g, seen, x->sv[k], last, inorder, 0);
}

/* Would a parser reading the statements in print order create the dims in
 * table order? (Then no `dims` statement is needed.) */
static int dims_in_order(const Graph *g, const bool *isin)
{
	uint8_t *seen = calloc(g->ndim, 1);
	if (!seen)
		return 0;
	int64_t last = -1;
	int inorder = 1;
	for (uint32_t i = 0; i < g->nin; i++)
		visit_value(g, seen, g->in[i], &last, &inorder);
	for (uint32_t v = 0; v < g->nval; v++)
		if (g->val[v].kind == VK_INPUT && !isin[v])
			visit_value(g, seen, v, &last, &inorder);
	for (uint32_t v = 0; v < g->nval; v++)
		if (g->val[v].kind == VK_CONST)
			visit_value(g, seen, v, &last, &inorder);
	for (uint32_t i = 0; i < g->nnode && inorder; i++)
		if (!g->node[i].dead)
			for (int k = 0; k < g->node[i].nout; k++)
				visit_value(g, seen, g->node[i].out[k], &last, &inorder);
	free(seen);
	return inorder;
}

/* The `dims` statements: every dim-table entry the printed values use, in
 * table order. Symbolic dims are hash-consed and put in canonical operand
 * order by table position, so the parser must create them in this order to
 * reproduce the same text; printed only when reading the rest of the text
 * would create them in another order. */
static void pdimtable(Printer *P, const bool *printed, const bool *isin)
{
	const Graph *g = P->g;
	if (!g->ndim || dims_in_order(g, isin))
		return;
	uint8_t *mark = calloc(g->ndim, 1);
	if (!mark)
		return;
	for (uint32_t v = 0; v < g->nval; v++)
		if (printed[v])
			mark_value(g, mark, v);
	for (uint32_t i = g->ndim; i-- > 0;) {
		const DimExpr *x = &g->dim[i];
		if (!mark[i] || x->op == DX_SYM)
			continue;
		if (x->a < 0 && DIM_IDX(x->a) < i)
			mark[DIM_IDX(x->a)] = 1;
		if (x->b < 0 && DIM_IDX(x->b) < i)
			mark[DIM_IDX(x->b)] = 1;
	}
	int col = 0;
	for (uint32_t i = 0; i < g->ndim; i++) {
		if (!mark[i])
			continue;
		if (col == 0) {
			bindent(P->b, P->depth + 1);
			bstr(P->b, "dims ");
		} else {
			bstr(P->b, ", ");
		}
		pdim(P, DIM_OF(i), 0);
		if (++col == 12) {
			bstr(P->b, "\n");
			col = 0;
		}
	}
	if (col)
		bstr(P->b, "\n");
	free(mark);
}

/* Statement order: dims, inputs, captured outer values, constants, live
 * nodes, outputs; labels are handed out in the same order. */
static void pgraph(Printer *P)
{
	const Graph *g = P->g;
	Buf *b = P->b;
	size_t cap = 16;
	while (cap < 2 * (size_t)g->nval + 2)
		cap *= 2;
	Printer Q = *P;
	Q.label = calloc(g->nval + 1, sizeof *Q.label);
	Q.names = calloc(cap, sizeof *Q.names);
	Q.nnames_cap = cap;
	Q.nextnum = 0;
	if (!Q.label || !Q.names) {
		free(Q.label);
		free(Q.names);
		bstr(b, "graph? /* out of memory */");
		return;
	}
	bool *isin = calloc(g->nval + 1, sizeof *isin);
	for (uint32_t i = 0; i < g->nin; i++)
		if (g->in[i] < g->nval && isin)
			isin[g->in[i]] = true;

	bstr(b, "graph ");
	bquote(b, g->name ? g->name : "");
	bfmt(b, " opset %d {\n", g->opset);
	bool *printed = calloc(g->nval + 1, sizeof *printed);
	if (printed && isin) {
		for (uint32_t v = 0; v < g->nval; v++)
			printed[v] = g->val[v].kind != VK_NODE;
		for (uint32_t i = 0; i < g->nnode; i++)
			if (!g->node[i].dead)
				for (int k = 0; k < g->node[i].nout; k++)
					if (g->node[i].out[k] < g->nval)
						printed[g->node[i].out[k]] = true;
		pdimtable(&Q, printed, isin);
	}
	free(printed);
	for (uint32_t i = 0; i < g->nin; i++) {
		uint32_t v = g->in[i];
		bindent(b, Q.depth + 1);
		bstr(b, "in ");
		define_label(&Q, v);
		pref(&Q, v);
		if (v < g->nval) {
			bstr(b, ": ");
			ptype(&Q, &g->val[v]);
		}
		bstr(b, "\n");
	}
	for (uint32_t v = 0; v < g->nval; v++) {
		const Value *x = &g->val[v];
		if (x->kind != VK_INPUT || (isin ? isin[v] : is_graph_input(g, v)))
			continue;
		bindent(b, Q.depth + 1);
		bstr(b, "capture ");
		define_label(&Q, v);
		pref(&Q, v);
		bstr(b, ": ");
		ptype(&Q, x);
		bstr(b, "\n");
	}
	for (uint32_t v = 0; v < g->nval; v++) {
		const Value *x = &g->val[v];
		if (x->kind != VK_CONST)
			continue;
		bindent(b, Q.depth + 1);
		bstr(b, "const ");
		define_label(&Q, v);
		pref(&Q, v);
		bstr(b, ": ");
		ptype(&Q, x);
		bstr(b, " = ");
		pconst_data(&Q, x);
		bstr(b, "\n");
	}
	free(isin);
	/* label every live node's outputs first: a graph not yet in
	 * topological order still numbers its values in definition order */
	for (uint32_t i = 0; i < g->nnode; i++)
		if (!g->node[i].dead)
			for (int k = 0; k < g->node[i].nout; k++)
				define_label(&Q, g->node[i].out[k]);
	for (uint32_t i = 0; i < g->nnode; i++)
		if (!g->node[i].dead)
			pnode(&Q, i);
	for (uint32_t i = 0; i < g->nout; i++) {
		bindent(b, Q.depth + 1);
		bstr(b, "out ");
		pref(&Q, g->out[i]);
		bstr(b, "\n");
	}
	bindent(b, Q.depth);
	bstr(b, "}");
	for (uint32_t v = 0; v <= g->nval; v++)
		free(Q.label[v]);
	free(Q.label);
	free(Q.names);
}

char *ir_print_str_opts(const Graph *g, int full)
{
	Buf b = {0};
	Printer P = {.b = &b, .g = g, .full = full};
	pgraph(&P);
	bstr(&b, "\n");
	return b.p;
}

void ir_print_opts(FILE *f, const Graph *g, int full)
{
	char *s = ir_print_str_opts(g, full);
	if (s)
		fputs(s, f);
	free(s);
}

void ir_print(FILE *f, const Graph *g) { ir_print_opts(f, g, 0); }
char *ir_print_str(const Graph *g) { return ir_print_str_opts(g, 0); }
