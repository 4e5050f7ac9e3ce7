/* Private to the IR text parser (ir/parse.c, ir/parse_lex.c): the parser
 * state, the lexer, number reading and the table of value labels. */
#ifndef VIBEE_PARSE_H
#define VIBEE_PARSE_H
#include "ir.h"

enum { T_EOF, T_IDENT, T_NUM, T_STR, T_REF, T_PUNCT };

typedef struct Tok {
	int kind;
	int line, col;
	const char *p;        /* start in the text */
	size_t n;             /* length in the text */
	char c;               /* T_PUNCT: the character */
} Tok;

/* A use of a value by label, resolved once the whole graph is read (so
 * forward references work). */
typedef struct Fixup {
	uint32_t node;        /* IR_NONE: graph output number `slot` */
	int slot;
	char *label;
	int line, col;
} Fixup;

typedef struct Sym {
	char *label;          /* "x" for %x, "#3" for %3 */
	uint32_t v;
} Sym;

typedef struct Parser {
	const char *src, *s;  /* text, cursor */
	const char *file;
	int line;
	const char *linestart;
	Tok t;                /* current token */
	Diag *d;
	int failed;
	int depth;
	Graph *g;
	Sym *sym; size_t nsym, capsym;   /* open addressing table */
	Fixup *fix; size_t nfix, capfix;
} Parser;

/* First error wins: "file:line:col: message"; returns -1. */
int ir_lex_err(Parser *P, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define ERR(...) ir_lex_err(P, P->t.line, P->t.col, __VA_ARGS__)

int ir_lex_next(Parser *P);                   /* advance; -1 on a lexical error */
int ir_lex_punct(Parser *P, char c);          /* current token is punctuation c */
int ir_lex_kw(Parser *P, const char *kw);     /* current token is identifier kw */
const char *ir_lex_desc(Parser *P, char *buf, size_t n);   /* "'tok'" for messages */
int ir_lex_expect(Parser *P, char c);         /* require c and advance */
int ir_lex_isdig(int c);
int ir_lex_hexval(char c);                    /* -1 if not a hex digit */
int ir_lex_isfloat(const Tok *t);             /* number token has '.' or exponent */
/* Decode a quoted string (quotes included) into a malloc'd string. */
char *ir_lex_unquote(Parser *P, const char *p, size_t n);
char *ir_lex_name(Parser *P);                 /* string or identifier, malloc'd */
char *ir_lex_label(Parser *P);                /* %ref as "name" or "#<digits>" */
int ir_lex_int(Parser *P, int64_t lo, int64_t hi, int64_t *out);
int ir_lex_u64(Parser *P, uint64_t *out);
int ir_lex_float(Parser *P, int single, double *out);
Sym *ir_lex_sym_find(Parser *P, const char *label);
/* Bind label (ownership passes) to v; fails if bound already. */
int ir_lex_sym_bind(Parser *P, char *label, uint32_t v, int line, int col);
int ir_lex_fixup(Parser *P, uint32_t node, int slot, char *label, int line, int col);
#endif
