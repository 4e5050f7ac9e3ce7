/* Dead code elimination: a node none of whose outputs is used (by a live
 * node, a tensor attribute or a graph output) is removed; ONNX ops have no
 * side effects, so this includes nodes with no outputs at all. */
#include <stdlib.h>
#include "passes.h"

bool pass_dce(Graph *g, PassCtx *ctx)
{
	uint32_t *uses = pass_use_counts(g);
	if (!uses) {
		ctx->failed = true;
		diag_set(ctx->diag, E_MODEL, "dce: out of memory");
		return false;
	}
	bool changed = false, again = true;
	while (again) {   /* one backward sweep suffices for sorted graphs */
		again = false;
		for (uint32_t i = g->nnode; i-- > 0;) {
			Node *n = &g->node[i];
			if (n->dead)
				continue;
			bool used = false;
			for (int k = 0; k < n->nout && !used; k++)
				used = n->out[k] < g->nval && uses[n->out[k]];
			if (used)
				continue;
			n->dead = true;
			changed = again = true;
			ctx->removed++;
			for (int k = 0; k < n->nin; k++)
				if (n->in[k] < g->nval)
					uses[n->in[k]]--;
			for (int k = 0; k < n->nattr; k++)
				if (n->attr[k].kind == AK_TENSOR && n->attr[k].t < g->nval)
					uses[n->attr[k].t]--;
		}
	}
	free(uses);
	return changed;
}
