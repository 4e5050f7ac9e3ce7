/* Which CALL kernels run the library's data-movement / data-dependent-shape
 * kernels (runtime/kdyn*.c: kdyn_call) instead of the reference kernels:
 * the node's op is one kdyn implements, every tensor is numeric or bool,
 * and the attributes are cases the library handles. Anything else stays a
 * reference call. */
#include <string.h>
#include "fused.h"
#include "../runtime/kdyn.h"

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static const char *const resize_modes[] = {"nearest", "linear", "cubic", NULL};
static const char *const resize_ct[] = {"half_pixel", "pytorch_half_pixel", "align_corners",
                                        "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize",
                                        NULL};
static const char *const nearest_modes[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                            "ceil", NULL};
static const char *const pad_modes[] = {"constant", "reflect", "edge", "wrap", NULL};
static const char *const gs_modes[] = {"bilinear", "nearest", "bicubic", "linear", "cubic", NULL};
static const char *const gs_pads[] = {"zeros", "border", "reflection", NULL};
static const char *const reductions[] = {"none", "add", "mul", "max", "min", NULL};

bool cg_dyn_ok(const Graph *g, const Node *n)
{
	if (!kdyn_has_op(n->op) || n->nin < 1 || n->in[0] == IR_NONE)
		return false;
	for (int j = 0; j < n->nin; j++)
		if (n->in[j] != IR_NONE && (!dt_size(g->val[n->in[j]].dt) ||
		                            g->val[n->in[j]].shape.rank > K_MAXRANK))
			return false;
	for (int j = 0; j < n->nout; j++)
		if (n->out[j] != IR_NONE && (!dt_size(g->val[n->out[j]].dt) ||
		                             g->val[n->out[j]].shape.rank > K_MAXRANK))
			return false;
	const Value *x = &g->val[n->in[0]];
	switch (n->op) {
	case OP_Resize:
		if (n->opset < 11 || ir_attr_i(n, "antialias", 0) || ir_attr(n, "axes") ||
		    strcmp(ir_attr_s(n, "keep_aspect_ratio_policy", "stretch"), "stretch"))
			return false;
		if (!one_of(ir_attr_s(n, "coordinate_transformation_mode", "half_pixel"), resize_ct) ||
		    !one_of(ir_attr_s(n, "nearest_mode", "round_prefer_floor"), nearest_modes))
			return false;
		/* fallthrough */
	case OP_Upsample:
		if (!dt_is_float(x->dt) || !one_of(ir_attr_s(n, "mode", "nearest"), resize_modes))
			return false;   /* Upsample: nearest only */
		return n->op == OP_Resize || !strcmp(ir_attr_s(n, "mode", "nearest"), "nearest");
	case OP_GridSample:
		return x->shape.rank == 4 && dt_is_float(x->dt) &&
		       one_of(ir_attr_s(n, "mode", "bilinear"), gs_modes) &&
		       one_of(ir_attr_s(n, "padding_mode", "zeros"), gs_pads);
	case OP_Pad:
		return one_of(ir_attr_s(n, "mode", "constant"), pad_modes);
	case OP_ScatterElements: case OP_ScatterND:
		return one_of(ir_attr_s(n, "reduction", "none"), reductions);
	case OP_DepthToSpace: case OP_SpaceToDepth:
		return x->shape.rank == 4;
	}
	return true;
}
