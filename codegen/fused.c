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
	{OP_SoftmaxCrossEntropyLoss, "knode_call"},   /* runtime/knode*.c */
	{OP_Hardmax,             "knode_call"},   /* runtime/knode*.c */
	{OP_Dropout,             "knode_call"},   /* runtime/knode*.c */
	{OP_ReduceSum,           "knode_call"},   /* runtime/knode*.c */
	{OP_QuantizeLinear,      "knode_call"},   /* runtime/knode*.c */
	{OP_DequantizeLinear,    "knode_call"},   /* runtime/knode*.c */
	{OP_DynamicQuantizeLinear, "knode_call"},   /* runtime/knode*.c */
	{OP_ConvTranspose,       "knode_call"},   /* runtime/knode*.c */
	{OP_ConvInteger,         "knode_call"},   /* runtime/knode*.c */
	{OP_QLinearConv,         "knode_call"},   /* runtime/knode*.c */
	{OP_MatMulInteger,       "knode_call"},   /* runtime/knode*.c */
	{OP_QLinearMatMul,       "knode_call"},   /* runtime/knode*.c */
	{OP_MaxPool,             "knode_call"},   /* runtime/knode*.c */
	{OP_InstanceNormalization, "knode_call"},   /* runtime/knode*.c */
	{OP_LRN,                 "knode_call"},   /* runtime/knode*.c */
	{OP_MeanVarianceNormalization, "knode_call"},   /* runtime/knode*.c */
	{OP_BatchNormalization,  "knode_call"},   /* runtime/knode*.c */
	{OP_RoiAlign,            "knode_call"},   /* runtime/knode*.c */
	{OP_Det,                 "knode_call"},   /* runtime/knode*.c */
	{OP_RNN,                 "knode_call"},   /* runtime/knode*.c */
	{OP_GRU,                 "knode_call"},   /* runtime/knode*.c */
	{OP_LSTM,                "knode_call"},   /* runtime/knode*.c */
	{OP_HannWindow,          "knode_call"},   /* runtime/knode*.c */
	{OP_HammingWindow,       "knode_call"},   /* runtime/knode*.c */
	{OP_BlackmanWindow,      "knode_call"},   /* runtime/knode*.c */
	{OP_MelWeightMatrix,     "knode_call"},   /* runtime/knode*.c */
	{OP_DFT,                 "knode_call"},   /* runtime/knode*.c */
	{OP_STFT,                "knode_call"},   /* runtime/knode*.c */
	{OP_NonMaxSuppression,   "knode_call"},   /* runtime/knode*.c */
	{OP_TfIdfVectorizer,     "knode_call"},   /* runtime/knode*.c */
	{OP_Einsum,              "knode_call"},   /* runtime/knode*.c */
	{OP_Bernoulli,           "knode_call"},   /* runtime/knode*.c */
	{OP_RandomUniformLike,   "knode_call"},   /* runtime/knode*.c */
};

const char cg_fused_includes[] = "#include \"runtime/kscan.h\"\n#include \"runtime/kattn.h\"\n"
                                 "#include \"runtime/knode.h\"\n"
                                 "#include \"runtime/kconv.h\"\n";

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
