/* Ops whose CALL kernel is a fused library kernel (runtime/k*.c) rather than
 * the reference kernel: the generated code calls `name(r->pool, &call)`. */
#ifndef VIBEE_FUSED_H
#define VIBEE_FUSED_H
#include "../ir/ir.h"
/* The library function for op, or NULL when the op uses ref_table[op]. */
const char *cg_fused_kernel(int op);
/* Headers the generated code includes for those functions. */
extern const char cg_fused_includes[];
/* The library function for node n: kdyn_call when cg_dyn_ok (the
 * data-movement kernels of runtime/kdyn*.c, codegen/lower_dyn.c), else
 * cg_fused_kernel(n->op). */
bool cg_dyn_ok(const Graph *g, const Node *n);
const char *cg_fused_kernel_node(const Graph *g, const Node *n);
#endif
