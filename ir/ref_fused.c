/* Reference kernel of vibeec's fused ops (passes/fuse.c): fused_matmul
 * (A, B, bias?, residual?) and fused_conv (X, W, B?, residual?) compute
 * the MatMul / Conv, then add the bias ([N], along the last dim of a
 * product) and the residual (the output's shape), then apply the
 * "activation" attribute: "" (none), "Relu", "Gelu" (erf form), "Silu",
 * "GeluTanh" (0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))). */
#include <math.h>
#include <string.h>
#include "kern.h"

int ref_matmul(KCall *c);
int ref_conv(KCall *c);

static double act1(int a, double x)
{
	switch (a) {
	case 1: return x > 0 ? x : 0;
	case 2: return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440));
	case 3: return x / (1.0 + exp(-x));
	case 4: return 0.5 * x * (1.0 + tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x)));
	}
	return x;
}

int ref_fused(KCall *c)
{
	int mm = c->op == OP_fused_matmul;
	if (c->nin < 2 || c->nout < 1)
		return kerr(c, "%s: needs 2 inputs and an output", op_names[c->op]);
	const char *as = kattr_s(c, "activation", "");
	int act = !*as ? 0 : !strcmp(as, "Relu") ? 1 : !strcmp(as, "Gelu") ? 2 :
	          !strcmp(as, "Silu") ? 3 : !strcmp(as, "GeluTanh") ? 4 : -1;
	if (act < 0)
		return kerr(c, "%s: unknown activation '%s'", op_names[c->op], as);
	KCall inner = *c;
	inner.op = mm ? OP_MatMul : OP_Conv;
	inner.nin = mm ? 2 : (c->nin < 3 ? c->nin : 3);
	inner.nout = 1;
	int rc = mm ? ref_matmul(&inner) : ref_conv(&inner);
	if (rc)
		return rc;
	KTensor *y = &c->out[0];
	int64_t n = kt_numel(y);
	const KTensor *bias = mm && c->nin > 2 && c->in[2].data ? &c->in[2] : NULL;
	const KTensor *res = c->nin > 3 && c->in[3].data ? &c->in[3] : NULL;
	int64_t nb = bias ? kt_numel(bias) : 0, last = y->rank ? y->dims[y->rank - 1] : 1;
	if (bias && (bias->rank != 1 || nb != last))
		return kerr(c, "fused_matmul: bias has %lld elements, output rows %lld", (long long)nb,
		            (long long)last);
	if (res && kt_numel(res) != n)
		return kerr(c, "%s: residual has %lld elements, output %lld", op_names[c->op],
		            (long long)kt_numel(res), (long long)n);
	for (int64_t i = 0; i < n; i++) {
		double v = dt_load_f(y->dt, y->data, (size_t)i);
		if (bias)
			v += dt_load_f(bias->dt, bias->data, (size_t)(i % last));
		if (res)
			v += dt_load_f(res->dt, res->data, (size_t)i);
		dt_store_f(y->dt, y->data, (size_t)i, act1(act, v));
	}
	return 0;
}
