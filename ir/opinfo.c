/* op_info: the ops.def table as data (names, arity, shape rule, reference
 * kernel). Shape rules not yet written get a weak default that reports the
 * op as unsupported; the real sh_* in ir/shape_*.c replace it. */
#include "ir.h"

#define STUB(sh) \
	__attribute__((weak)) int sh_##sh(Graph *g, Node *n, Diag *d) \
	{ return ir_node_error(d, g, n, E_MODEL, "unsupported op (no shape rule yet)"); }
#include "sh_stubs.h"
#undef STUB

#define OP(id, mi, ma, mo, mx, sh, ref) int ref_##ref(KCall *c);
#include "ops.def"
#undef OP

const OpInfo op_info[OP_COUNT] = {
#define OP(id, mi, ma, mo, mx, sh, ref) {#id, mi, ma, mo, mx, sh_##sh, ref_##ref},
#include "ops.def"
#undef OP
};
_Static_assert(sizeof op_info / sizeof op_info[0] == OP_COUNT, "op_info size");
