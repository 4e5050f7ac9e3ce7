/* The IR text lexer and its small helpers: tokens, quoted strings, labels,
 * range-checked numbers, the label table and forward-reference fixups. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "parse.h"
#include "text.h"

int ir_lex_err(Parser *P, int line, int col, const char *fmt, ...)
{
	if (!P->failed) {
		char msg[768];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		diag_set(P->d, E_MODEL, "%s:%d:%d: %s", P->file, line, col, msg);
		P->failed = 1;
	}
	return -1;
}

/* ---- lexer ---------------------------------------------------------------- */
static void skip_space(Parser *P)
{
	for (;;) {
		char c = *P->s;
		if (c == '\n') {
			P->s++;
			P->line++;
			P->linestart = P->s;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			P->s++;
		} else if (c == '#') {
			while (*P->s && *P->s != '\n')
				P->s++;
		} else {
			return;
		}
	}
}

int ir_lex_isdig(int c) { return c >= '0' && c <= '9'; }

/* Scan a quoted string starting at q (on the '"'); returns the end (after
 * the closing quote) or NULL if unterminated. */
static const char *scan_string(const char *q)
{
	for (q++; *q && *q != '"' && *q != '\n'; q++)
		if (*q == '\\' && q[1])
			q++;
	return *q == '"' ? q + 1 : NULL;
}

int ir_lex_next(Parser *P)
{
	skip_space(P);
	Tok *t = &P->t;
	t->line = P->line;
	t->col = (int)(P->s - P->linestart) + 1;
	t->p = P->s;
	t->c = 0;
	unsigned char c = (unsigned char)*P->s;
	if (!c) {
		t->kind = T_EOF;
		t->n = 0;
		return 0;
	}
	if (ir_text_identchar(c, 1)) {
		const char *q = P->s + 1;
		while (ir_text_identchar((unsigned char)*q, 0))
			q++;
		t->kind = T_IDENT;
		t->n = (size_t)(q - P->s);
		P->s = q;
		return 0;
	}
	if (ir_lex_isdig(c)) {
		const char *q = P->s;
		while (ir_lex_isdig(*q))
			q++;
		if (*q == '.') {
			q++;
			while (ir_lex_isdig(*q))
				q++;
		}
		if ((*q == 'e' || *q == 'E') &&
		    (ir_lex_isdig(q[1]) || ((q[1] == '+' || q[1] == '-') && ir_lex_isdig(q[2])))) {
			q += 2;
			while (ir_lex_isdig(*q))
				q++;
		}
		t->kind = T_NUM;
		t->n = (size_t)(q - P->s);
		P->s = q;
		return 0;
	}
	if (c == '"') {
		const char *q = scan_string(P->s);
		if (!q)
			return ERR("unterminated string");
		t->kind = T_STR;
		t->n = (size_t)(q - P->s);
		P->s = q;
		return 0;
	}
	if (c == '%') {
		const char *q = P->s + 1;
		if (*q == '"') {
			q = scan_string(q);
			if (!q)
				return ERR("unterminated quoted value name");
		} else {
			while (ir_text_namechar((unsigned char)*q))
				q++;
			if (q == P->s + 1)
				return ERR("expected a value name after '%%'");
		}
		t->kind = T_REF;
		t->n = (size_t)(q - P->s);
		P->s = q;
		return 0;
	}
	if (strchr("{}()[]<>,:=@+-*/?", c)) {
		t->kind = T_PUNCT;
		t->c = (char)c;
		t->n = 1;
		P->s++;
		return 0;
	}
	if (c >= 0x20 && c < 0x7f)
		return ERR("unexpected character '%c'", c);
	return ERR("unexpected byte 0x%02x", c);
}

int ir_lex_punct(Parser *P, char c) { return P->t.kind == T_PUNCT && P->t.c == c; }

int ir_lex_kw(Parser *P, const char *kw)
{
	return P->t.kind == T_IDENT && strlen(kw) == P->t.n && memcmp(P->t.p, kw, P->t.n) == 0;
}

const char *ir_lex_desc(Parser *P, char *buf, size_t n)
{
	if (P->t.kind == T_EOF)
		return "end of input";
	int len = P->t.n > 24 ? 24 : (int)P->t.n;
	snprintf(buf, n, "'%.*s%s'", len, P->t.p, P->t.n > 24 ? "..." : "");
	return buf;
}

int ir_lex_expect(Parser *P, char c)
{
	char b[48];
	if (!ir_lex_punct(P, c))
		return ERR("expected '%c', found %s", c, ir_lex_desc(P, b, sizeof b));
	return ir_lex_next(P);
}

int ir_lex_hexval(char c)
{
	return ir_lex_isdig(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 :
	       (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

/* Decode the string token at t (quotes included) into a malloc'd string. */
char *ir_lex_unquote(Parser *P, const char *p, size_t n)
{
	char *r = malloc(n + 1), *w = r;
	if (!r) {
		ERR("out of memory");
		return NULL;
	}
	for (size_t i = 1; i + 1 < n; i++) {
		char c = p[i];
		if (c != '\\') {
			*w++ = c;
			continue;
		}
		c = p[++i];
		if (c == 'n') {
			*w++ = '\n';
		} else if (c == 't') {
			*w++ = '\t';
		} else if (c == '"' || c == '\\') {
			*w++ = c;
		} else if (c == 'x') {
			int v = 0;
			for (int k = 1; k <= 2; k++) {
				int x = i + k < n - 1 ? ir_lex_hexval(p[i + k]) : -1;
				if (x < 0) {
					free(r);
					ERR("bad \\x escape in string");
					return NULL;
				}
				v = v * 16 + x;
			}
			if (!v) {
				free(r);
				ERR("\\x00 is not allowed in a string");
				return NULL;
			}
			*w++ = (char)v;
			i += 2;
		} else {
			free(r);
			ERR("bad escape '\\%c' in string", c ? c : '0');
			return NULL;
		}
	}
	*w = 0;
	return r;
}

/* The current string or identifier token as a malloc'd string. */
char *ir_lex_name(Parser *P)
{
	if (P->t.kind == T_STR)
		return ir_lex_unquote(P, P->t.p, P->t.n);
	char *r = malloc(P->t.n + 1);
	if (!r) {
		ERR("out of memory");
		return NULL;
	}
	memcpy(r, P->t.p, P->t.n);
	r[P->t.n] = 0;
	return r;
}

/* The label of the current T_REF token: "name" or "#<digits>". */
char *ir_lex_label(Parser *P)
{
	const char *p = P->t.p + 1;
	size_t n = P->t.n - 1;
	if (*p == '"')
		return ir_lex_unquote(P, p, n);
	int digits = 1;
	for (size_t i = 0; i < n; i++)
		if (!ir_lex_isdig(p[i]))
			digits = 0;
	char *r = malloc(n + 2);
	if (!r) {
		ERR("out of memory");
		return NULL;
	}
	r[0] = '#';
	memcpy(r + digits, p, n);
	r[n + digits] = 0;
	return r;
}

/* ---- symbol table ------------------------------------------------------------- */
static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

Sym *ir_lex_sym_find(Parser *P, const char *label)
{
	if (!P->capsym)
		return NULL;
	size_t mask = P->capsym - 1;
	for (size_t i = hash_str(label) & mask; P->sym[i].label; i = (i + 1) & mask)
		if (strcmp(P->sym[i].label, label) == 0)
			return &P->sym[i];
	return NULL;
}

/* Bind label (taking ownership) to v; fails if already bound. */
int ir_lex_sym_bind(Parser *P, char *label, uint32_t v, int line, int col)
{
	if (ir_lex_sym_find(P, label)) {
		ir_lex_err(P, line, col, "value %%%s is defined twice", label[0] == '#' ? label + 1 : label);
		free(label);
		return -1;
	}
	if (2 * (P->nsym + 1) > P->capsym) {
		size_t cap = P->capsym ? 2 * P->capsym : 64;
		Sym *s = calloc(cap, sizeof *s);
		if (!s) {
			ir_lex_err(P, line, col, "out of memory");
			free(label);
			return -1;
		}
		for (size_t i = 0; i < P->capsym; i++) {
			if (!P->sym[i].label)
				continue;
			size_t j = hash_str(P->sym[i].label) & (cap - 1);
			while (s[j].label)
				j = (j + 1) & (cap - 1);
			s[j] = P->sym[i];
		}
		free(P->sym);
		P->sym = s;
		P->capsym = cap;
	}
	size_t mask = P->capsym - 1, i = hash_str(label) & mask;
	while (P->sym[i].label)
		i = (i + 1) & mask;
	P->sym[i].label = label;
	P->sym[i].v = v;
	P->nsym++;
	return 0;
}

int ir_lex_fixup(Parser *P, uint32_t node, int slot, char *label, int line, int col)
{
	if (P->nfix == P->capfix) {
		size_t cap = P->capfix ? 2 * P->capfix : 64;
		Fixup *f = realloc(P->fix, cap * sizeof *f);
		if (!f) {
			free(label);
			return ERR("out of memory");
		}
		P->fix = f;
		P->capfix = cap;
	}
	P->fix[P->nfix++] = (Fixup){node, slot, label, line, col};
	return 0;
}

/* ---- numbers ------------------------------------------------------------------ */
int ir_lex_isfloat(const Tok *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->p[i] == '.' || t->p[i] == 'e' || t->p[i] == 'E')
			return 1;
	return 0;
}

/* A signed integer (optional '-', then an integer token) in [lo, hi]. */
int ir_lex_int(Parser *P, int64_t lo, int64_t hi, int64_t *out)
{
	char b[48];
	int neg = 0;
	if (ir_lex_punct(P, '-')) {
		neg = 1;
		if (ir_lex_next(P))
			return -1;
	}
	if (P->t.kind != T_NUM || ir_lex_isfloat(&P->t))
		return ERR("expected an integer, found %s", ir_lex_desc(P, b, sizeof b));
	uint64_t v = 0;
	for (size_t i = 0; i < P->t.n; i++) {
		unsigned dgt = (unsigned)(P->t.p[i] - '0');
		if (v > (UINT64_MAX - dgt) / 10)
			return ERR("integer out of range");
		v = v * 10 + dgt;
	}
	if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
		return ERR("integer out of range");
	int64_t x = neg ? (int64_t)(0 - v) : (int64_t)v;
	if (x < lo || x > hi)
		return ERR("integer %lld out of range [%lld, %lld]", (long long)x,
		           (long long)lo, (long long)hi);
	*out = x;
	return ir_lex_next(P);
}

/* An unsigned 64-bit integer (for u64 constants). */
int ir_lex_u64(Parser *P, uint64_t *out)
{
	if (P->t.kind != T_NUM || ir_lex_isfloat(&P->t))
		return ERR("expected an unsigned integer");
	uint64_t v = 0;
	for (size_t i = 0; i < P->t.n; i++) {
		unsigned dgt = (unsigned)(P->t.p[i] - '0');
		if (v > (UINT64_MAX - dgt) / 10)
			return ERR("integer out of range");
		v = v * 10 + dgt;
	}
	*out = v;
	return ir_lex_next(P);
}

/* A float: optional '-', then a number, inf or nan. single != 0 reads it
 * as a 32-bit float (what ONNX float attributes are). */
int ir_lex_float(Parser *P, int single, double *out)
{
	char b[48];
	int neg = 0;
	if (ir_lex_punct(P, '-')) {
		neg = 1;
		if (ir_lex_next(P))
			return -1;
	}
	double v;
	if (ir_lex_kw(P, "inf")) {
		v = INFINITY;
	} else if (ir_lex_kw(P, "nan")) {
		v = NAN;
	} else if (P->t.kind == T_NUM) {
		char tmp[128];
		if (P->t.n >= sizeof tmp)
			return ERR("number too long");
		memcpy(tmp, P->t.p, P->t.n);
		tmp[P->t.n] = 0;
		v = single ? (double)strtof(tmp, NULL) : strtod(tmp, NULL);
	} else {
		return ERR("expected a number, found %s", ir_lex_desc(P, b, sizeof b));
	}
	*out = neg ? -v : v;
	return ir_lex_next(P);
}
