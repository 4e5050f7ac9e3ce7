/* Renderers of the kernel IR. Only C for now (render_c.c); a GPU or
 * accelerator renderer is another file with the same entry points. */
#ifndef VIBEE_RENDER_H
#define VIBEE_RENDER_H
#include "cbuf.h"
#include "kir.h"

const char *cg_ctype(int dt);             /* C storage type of a dtype */
/* Typed helper functions every rendered kernel may use; expects
 * `struct vibee_ctx` (with `int bad`) to be declared before it. */
void cg_render_prelude(CBuf *b);
/* Render loop kernel ki as `static void k<ki>(struct vibee_ctx *r)`
 * (plus its parallel bodies). slot[v]: index into r->buf of value v's
 * storage pointer. Dim-table entry i is read from r->dv[i]. */
void cg_render_kernel(CBuf *b, const KProg *p, int ki, const uint32_t *slot);
/* Copy s into buf keeping only characters safe in a C comment/string. */
const char *cg_safe(const char *s, char *buf, size_t n);
#endif
