/* Verifier entry points beyond ir_verify (ir/verify.c). */
#ifndef VIBEE_VERIFY_H
#define VIBEE_VERIFY_H
#include "ir.h"

/* The structural checks of ir_verify; `typed` adds the post-inference
 * check that every used value has a dtype and a shape. ir_verify(g, d) is
 * ir_verify_opts(g, true, d). */
int ir_verify_opts(const Graph *g, bool typed, Diag *d);
#endif
