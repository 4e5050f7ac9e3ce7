/* The table of fused library kernels that replace reference calls
 * (see fused.h). One row per op; the function takes (kpool *, KCall *). */
#include "../ir/kern.h"
#include "fused.h"

static const struct {
	int op;
	const char *fn;
} fused[] = {
	/* op                  library function (runtime/kscan.c) */
	{OP_selective_scan,   "kscan_call"},
	{OP_ssd,              "kscan_call"},
	{OP_linear_scan,      "kscan_call"},
	{OP_attention,        "kattn_run"},    /* runtime/kattn.c */
};

const char cg_fused_includes[] = "#include \"runtime/kscan.h\"\n#include \"runtime/kattn.h\"\n";

const char *cg_fused_kernel(int op)
{
	for (unsigned i = 0; i < sizeof fused / sizeof fused[0]; i++)
		if (fused[i].op == op)
			return fused[i].fn;
	return NULL;
}

const char *cg_fused_kernel_node(const Graph *g, const Node *n)
{
	if (ir_attr_i(n, "_kcf", 0))   /* subgraphs compiled (codegen/subgraph.c) */
		return "kcf_call";
	return cg_dyn_ok(g, n) ? "kdyn_call" : cg_fused_kernel(n->op);
}
