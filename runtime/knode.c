/* knode_call: the one entry the generated code uses for the runtime/knode_*
 * kernels; dispatches on the node's op. */
#include "knode_impl.h"

int knode_call(kpool *pool, KCall *c)
{
	switch (c->op) {
	case OP_SoftmaxCrossEntropyLoss: return kn_loss(pool, c);
	case OP_Hardmax: return kn_hardmax(pool, c);
	case OP_Dropout: return kn_dropout(pool, c);
	case OP_ReduceSum: return kn_reduce_sum(pool, c);
	case OP_QuantizeLinear: return kn_quant(pool, c);
	case OP_DequantizeLinear: return kn_dequant(pool, c);
	case OP_DynamicQuantizeLinear: return kn_dynquant(pool, c);
	case OP_ConvTranspose: case OP_ConvInteger: case OP_QLinearConv: case OP_MatMulInteger: case OP_QLinearMatMul: case OP_MaxPool:
		return kn_conv(pool, c);
	case OP_InstanceNormalization: case OP_LRN: case OP_MeanVarianceNormalization: case OP_BatchNormalization: case OP_RoiAlign: case OP_Det:
		return kn_norm(pool, c);
	case OP_RNN: case OP_GRU: case OP_LSTM:
		return kn_rnn(pool, c);
	case OP_HannWindow: case OP_HammingWindow: case OP_BlackmanWindow: case OP_MelWeightMatrix: case OP_DFT: case OP_STFT:
		return kn_signal(pool, c);
	case OP_NonMaxSuppression: case OP_TfIdfVectorizer: case OP_Einsum: case OP_Bernoulli: case OP_RandomUniformLike:
		return kn_misc(pool, c);
	}
	return kerr(c, "%s: no library kernel", op_names[c->op]);
}
