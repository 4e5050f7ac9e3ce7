/* A growable text buffer for the renderers and the host-code emitter. */
#ifndef VIBEE_CBUF_H
#define VIBEE_CBUF_H
#include <stddef.h>

typedef struct CBuf {
	char *s;
	size_t n, cap;
	int oom;              /* set when an allocation failed */
} CBuf;

void cb_printf(CBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cb_puts(CBuf *b, const char *s);
void cb_free(CBuf *b);
#endif
