/* The generated code's entry to the fused scan kernels: unpacks the KCall of
 * a selective_scan, ssd or linear_scan node (shapes as ir/ref_scan.c checks
 * them) and runs runtime/kscan.c on the context's thread pool. */
#include "../ir/kern.h"
#include "kscan.h"

static const float *opt_in(const KCall *c, int i)
{
	return i < c->nin && c->in[i].dt == DT_F32 ? (const float *)c->in[i].data : NULL;
}

static float *opt_out(KCall *c, int i)
{
	return i < c->nout && c->out[i].dt != DT_UNDEF ? (float *)c->out[i].data : NULL;
}

static int check_f32(KCall *c)
{
	for (int i = 0; i < c->nin; i++)
		if (c->in[i].data && c->in[i].dt != DT_F32)
			return kerr(c, "%s: input %d must be f32", op_names[c->op], i);
	for (int i = 0; i < c->nout; i++)
		if (c->out[i].dt != DT_UNDEF && (c->out[i].dt != DT_F32 || !c->out[i].data))
			return kerr(c, "%s: output %d must be a preallocated f32 tensor", op_names[c->op], i);
	return 0;
}

static int sel(kpool *pool, KCall *c)
{
	const KTensor *U = &c->in[0], *A = &c->in[2];
	if (c->nin < 5 || U->rank != 3 || A->rank != 2 || c->out[0].rank != 3)
		return kerr(c, "selective_scan: bad ranks");
	int lay = (int)kattr_i(c, "layout", 0), ta = lay ? 2 : 1, ca = lay ? 1 : 2;
	kscan_sel a = {
		.nb = U->dims[0], .T = U->dims[ta], .nd = U->dims[ca], .ns = A->dims[1], .layout = lay,
		.u = opt_in(c, 0), .delta = opt_in(c, 1), .A = opt_in(c, 2), .B = opt_in(c, 3),
		.C = opt_in(c, 4), .D = opt_in(c, 5), .z = opt_in(c, 6), .bias = opt_in(c, 7),
		.h0 = opt_in(c, 8), .softplus = (int)kattr_i(c, "delta_softplus", 0),
		.y = opt_out(c, 0), .hlast = opt_out(c, 1),
	};
	if (A->dims[0] != a.nd || c->in[3].dims[ca] != a.ns || c->in[4].dims[ca] != a.ns ||
	    c->in[3].dims[ta] != a.T || c->in[4].dims[ta] != a.T)
		return kerr(c, "selective_scan: A, B, C disagree with u on d, n or T");
	return kscan_selective_f32(pool, &a) ? kerr(c, "selective_scan: out of memory") : 0;
}

static int ssd(kpool *pool, KCall *c)
{
	const KTensor *X = &c->in[0], *B = &c->in[3];
	if (c->nin < 5 || X->rank != 4 || (B->rank != 4 && B->rank != 3) || c->out[0].rank != 4)
		return kerr(c, "ssd: bad ranks");
	kscan_ssd a = {
		.nb = X->dims[0], .T = X->dims[1], .H = X->dims[2], .P = X->dims[3],
		.G = B->rank == 4 ? B->dims[2] : 1, .N = B->dims[B->rank - 1], .chunk = kattr_i(c, "chunk", 64),
		.x = opt_in(c, 0), .dt = opt_in(c, 1), .A = opt_in(c, 2), .B = opt_in(c, 3),
		.C = opt_in(c, 4), .D = opt_in(c, 5), .z = opt_in(c, 6), .bias = opt_in(c, 7),
		.h0 = opt_in(c, 8), .softplus = (int)kattr_i(c, "dt_softplus", 0),
		.y = opt_out(c, 0), .hlast = opt_out(c, 1),
	};
	if (a.chunk < 1 || a.chunk > 4096 || a.G < 1 || a.H % a.G)
		return kerr(c, "ssd: bad chunk or groups");
	return kscan_ssd_f32(pool, &a) ? kerr(c, "ssd: out of memory") : 0;
}

static int lin(kpool *pool, KCall *c)
{
	const KTensor *A = &c->in[0];
	if (A->rank < 2)
		return kerr(c, "linear_scan: a must be [batch,T,...]");
	int64_t inner = 1;
	for (int k = 2; k < A->rank; k++)
		inner *= A->dims[k];
	return kscan_linear_f32(pool, A->dims[0], A->dims[1], inner, opt_in(c, 0), opt_in(c, 1),
	                        opt_in(c, 2), opt_out(c, 0), opt_out(c, 1));
}

int kscan_call(kpool *pool, KCall *c)
{
	if (check_f32(c))
		return 1;
	switch (c->op) {
	case OP_selective_scan: return sel(pool, c);
	case OP_ssd: return ssd(pool, c);
	case OP_linear_scan: return lin(pool, c);
	}
	return kerr(c, "kscan_call: %s is not a scan op", op_names[c->op]);
}
