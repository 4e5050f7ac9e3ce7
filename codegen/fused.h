/* Ops whose CALL kernel is a fused library kernel (runtime/k*.c) rather than
 * the reference kernel: the generated code calls `name(r->pool, &call)`. */
#ifndef VIBEE_FUSED_H
#define VIBEE_FUSED_H
/* The library function for op, or NULL when the op uses ref_table[op]. */
const char *cg_fused_kernel(int op);
/* Headers the generated code includes for those functions. */
extern const char cg_fused_includes[];
#endif
