/* Shape rules of ops newer than ONNX 1.12 that only vibeec's table adds
 * here (kernels in ir/ref_newer.c): BitCast (opset 26). */
#include "shape.h"

int sh_bitcast(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	int64_t to = ir_attr_i(n, "to", -1);
	if (to <= DT_UNDEF || to >= DT_COUNT || !dt_size((int)to))
		return ir_node_error(d, g, n, E_MODEL, "unsupported or missing 'to' element type %lld",
		                     (long long)to);
	if (!dt_size(x->dt) || dt_size(x->dt) != dt_size((int)to))
		return ir_node_error(d, g, n, E_MODEL, "%s and %s differ in bit width", dt_name(x->dt),
		                     dt_name((int)to));
	return sh_out(g, n, d, 0, (int)to, &x->shape);
}
