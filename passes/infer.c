/* The infer pass: dtype, shape and known-value inference over the whole
 * graph (ir_infer drives the sh_* rules of ops.def). */
#include "passes.h"

bool pass_infer(Graph *g, PassCtx *ctx)
{
	if (ir_infer(g, ctx->diag))
		ctx->failed = true;
	return false;   /* types only: the node structure is unchanged */
}
