/* Private to the IR text form (ir/print.c, ir/parse.c): the printing options
 * beyond ir_print, and the lexical rules both sides must agree on. */
#ifndef VIBEE_TEXT_H
#define VIBEE_TEXT_H
#include "ir.h"

/* Print g; full != 0 prints every constant's bytes (as hex"..." when it
 * has more than IR_TEXT_INLINE elements), so the text parses back. */
void ir_print_opts(FILE *f, const Graph *g, int full);
char *ir_print_str_opts(const Graph *g, int full);   /* malloc'd */


#define IR_TEXT_INLINE 16     /* constants up to this many elements print inline */
#define IR_TEXT_MAXDEPTH 32   /* nesting of subgraphs and dim expressions */

/* A character that may appear in an unquoted value name (%name). Names made
 * only of digits are reserved for unnamed values (%0, %1, ...). */
static inline int ir_text_namechar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '/';
}
/* A character of a bare identifier (dim symbols, attribute names, ops). */
static inline int ir_text_identchar(int c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}
#endif
