/* libFuzzer harness: the whole vibeec pipeline on a small ONNX model, up to
 * C emission: onnx_load_mem, the -O2 passes (inference, folding, ...),
 * lowering, planning and the C renderer (written to /dev/null; no cc). */
#include "fuzz.h"
#include <stdint.h>
#include <string.h>
#include "ir/ir.h"
#include "frontend/onnx.h"
#include "passes/passes.h"
#include "codegen/codegen.h"

static void one_line(const Diag *d)
{
	CHECK(d->code != 0);
	CHECK_ONE_LINE(d->msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1 << 16))     /* small models: keep executions fast */
		return 0;
	Diag d = {0};
	Graph *g = onnx_load_mem(data, size, "fuzz.onnx", &d);
	if (!g) {
		one_line(&d);
		return 0;
	}
	PassCtx ctx = {.opt = 2, .diag = &d};
	if (pass_run_pipeline(g, &ctx) != 0) {
		one_line(&d);
		ir_graph_free(g);
		return 0;
	}
	CgOptions co = {.target = NULL, .out = "/dev/null", .emit = CG_EMIT_C,
	                .opt = 2};
	if (cg_compile(g, &co, &d) != 0)
		one_line(&d);
	ir_graph_free(g);
	return 0;
}
