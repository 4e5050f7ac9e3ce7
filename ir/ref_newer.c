/* Reference kernels of ops newer than ONNX 1.12: BitCast (opset 26) and
 * SwiGLU (opset 28). */
#include <math.h>
#include <string.h>
#include "kern.h"

/* The same bytes, read as another type of the same width (little endian,
 * as the host). */
int ref_bitcast(KCall *c)
{
	const KTensor *x = &c->in[0];
	if (c->nin < 1 || !x->data || c->nout < 1)
		return kerr(c, "BitCast: needs an input and an output");
	if (dt_size(x->dt) != dt_size(c->out[0].dt) || !dt_size(x->dt))
		return kerr(c, "BitCast: %s and %s differ in bit width", dt_name(x->dt),
		            dt_name(c->out[0].dt));
	if (kout(c, 0, x->rank, x->dims))
		return 1;
	size_t nb = kt_nbytes(x);
	if (nb)
		memcpy(c->out[0].data, x->data, nb);
	return 0;
}

/* Y = A * sigmoid(alpha * A) * B, A and B of one shape. */
int ref_swiglu(KCall *c)
{
	if (c->nin < 2 || !c->in[0].data || !c->in[1].data || c->nout < 1)
		return kerr(c, "SwiGLU: needs inputs A and B");
	const KTensor *a = &c->in[0], *b = &c->in[1];
	if (a->dt != b->dt || a->rank != b->rank || !dt_is_float(a->dt))
		return kerr(c, "SwiGLU: A and B must be float tensors of one type and shape");
	for (int i = 0; i < a->rank; i++)
		if (a->dims[i] != b->dims[i])
			return kerr(c, "SwiGLU: A and B differ in dim %d (no broadcasting)", i);
	if (kout(c, 0, a->rank, a->dims))
		return 1;
	double al = kattr_f(c, "alpha", 1.0);
	int64_t n = kt_numel(a);
	for (int64_t i = 0; i < n; i++) {
		double x = dt_load_f(a->dt, a->data, (size_t)i);
		dt_store_f(c->out[0].dt, c->out[0].data, (size_t)i,
		           x / (1.0 + exp(-al * x)) * dt_load_f(b->dt, b->data, (size_t)i));
	}
	return 0;
}
