/* `vibeec --check`: load a model collecting every unsupported node (op,
 * arity, attributes, old opset forms, shape/dtype rules) instead of
 * stopping at the first, without compiling it. */
#include "onnx_int.h"
#include <string.h>

void onnx_problem(Ld *L)
{
	if (L->report)
		fprintf(L->report, "%s\n", L->d->msg[0] ? L->d->msg :
		        "unknown problem");
	L->nproblem++;
	L->d->code = 0;
	L->d->msg[0] = 0;
}

int onnx_check(const char *path, FILE *out, Diag *d)
{
	Ld L = { .d = d, .check = true, .report = out };
	Graph *g = onnx_load_ld(&L, path);
	if (!g)
		return -1;           /* the model as a whole is unreadable */
	int rc = 0;
	if (L.nproblem == 0 && !L.legacy_ranks) {
		/* every node was created: now run each node's shape rule (the
		 * loader's own walk did so already for an opset < 7 fix-up) */
		Ld W = L;
		W.g = g;
		W.path = path;
		W.nproblem = 0;
		rc = onnx_infer_walk(&W, true, NULL);
		L.nproblem += W.nproblem;
	}
	ir_graph_free(g);
	return rc ? -1 : L.nproblem;
}
