/* libFuzzer harness: the ONNX loader (onnx_load_mem) on arbitrary bytes.
 * Any input must give a graph or a one-line error, never a crash or leak. */
#include "fuzz.h"
#include <stdint.h>
#include <string.h>
#include "ir/ir.h"
#include "frontend/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Diag d = {0};
	Graph *g = onnx_load_mem(data, size, "fuzz.onnx", &d);
	if (g) {
		CHECK(d.code == 0);
		ir_graph_free(g);
	} else {
		CHECK(d.code != 0);
		CHECK_ONE_LINE(d.msg);
	}
	return 0;
}
