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

/* Input i, when present, has rank r and dims d[0..r). */
static int dims_are(KCall *c, int i, int r, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
	if (i >= c->nin || !c->in[i].data)
		return 0;
	const KTensor *t = &c->in[i];
	int64_t d[4] = {d0, d1, d2, d3};
	if (t->rank != r)
		return kerr(c, "%s: input %d has rank %d, expected %d", op_names[c->op], i,
		            (int)t->rank, r);
	for (int k = 0; k < r; k++)
		if (t->dims[k] != d[k])
			return kerr(c, "%s: input %d dim %d is %lld, expected %lld", op_names[c->op], i,
			            k, (long long)t->dims[k], (long long)d[k]);
	return 0;
}

static int vec_is(KCall *c, int i, int64_t d, int col)
{
	if (i < c->nin && c->in[i].data && col && c->in[i].rank == 2)
		return dims_are(c, i, 2, d, 1, 0, 0);
	return dims_are(c, i, 1, d, 0, 0, 0);
}

/* Every input and output of the op has the shape the kernel will index. */
static int check_shapes(KCall *c)
{
	const KTensor *X = &c->in[0];
	if (c->nin < (c->op == OP_linear_scan ? 2 : 5) || !c->in[1].data)
		return kerr(c, "%s: required inputs missing", op_names[c->op]);
	for (int i = 0; i < (c->op == OP_linear_scan ? 2 : 5); i++)
		if (!c->in[i].data)
			return kerr(c, "%s: input %d is required", op_names[c->op], i);
	if (c->op == OP_selective_scan) {
		int lay = (int)kattr_i(c, "layout", 0);
		if (X->rank != 3 || c->in[2].rank != 2)
			return kerr(c, "selective_scan: bad ranks");
		int64_t nb = X->dims[0], T = X->dims[lay ? 2 : 1], nd = X->dims[lay ? 1 : 2];
		int64_t ns = c->in[2].dims[1];
		int64_t b1 = lay ? ns : T, b2 = lay ? T : ns;
		return dims_are(c, 1, 3, X->dims[0], X->dims[1], X->dims[2], 0) ||
		       dims_are(c, 2, 2, nd, ns, 0, 0) || dims_are(c, 3, 3, nb, b1, b2, 0) ||
		       dims_are(c, 4, 3, nb, b1, b2, 0) || vec_is(c, 5, nd, lay) ||
		       dims_are(c, 6, 3, X->dims[0], X->dims[1], X->dims[2], 0) ||
		       vec_is(c, 7, nd, lay) || dims_are(c, 8, 3, nb, nd, ns, 0) ||
		       (c->out[0].rank != 3 || c->out[0].dims[0] != X->dims[0] ||
		        c->out[0].dims[1] != X->dims[1] || c->out[0].dims[2] != X->dims[2] ?
		        kerr(c, "selective_scan: output shape disagrees with u") : 0) ||
		       (c->nout > 1 && c->out[1].dt != DT_UNDEF &&
		        (c->out[1].rank != 3 || c->out[1].dims[0] != nb || c->out[1].dims[1] != nd ||
		         c->out[1].dims[2] != ns) ? kerr(c, "selective_scan: bad last-state shape") : 0);
	}
	if (c->op == OP_ssd) {
		const KTensor *B = &c->in[3];
		if (X->rank != 4 || (B->rank != 3 && B->rank != 4))
			return kerr(c, "ssd: bad ranks");
		int64_t nb = X->dims[0], T = X->dims[1], H = X->dims[2], P = X->dims[3];
		int64_t N = B->dims[B->rank - 1], G = B->rank == 4 ? B->dims[2] : N;
		int br = (int)B->rank;
		return dims_are(c, 1, 3, nb, T, H, 0) || dims_are(c, 2, 1, H, 0, 0, 0) ||
		       dims_are(c, 3, br, nb, T, G, N) || dims_are(c, 4, br, nb, T, G, N) ||
		       dims_are(c, 5, 1, H, 0, 0, 0) || dims_are(c, 6, 4, nb, T, H, P) ||
		       dims_are(c, 7, 1, H, 0, 0, 0) || dims_are(c, 8, 4, nb, H, P, N) ||
		       (c->out[0].rank != 4 || c->out[0].dims[0] != nb || c->out[0].dims[1] != T ||
		        c->out[0].dims[2] != H || c->out[0].dims[3] != P ?
		        kerr(c, "ssd: output shape disagrees with x") : 0) ||
		       (c->nout > 1 && c->out[1].dt != DT_UNDEF &&
		        (c->out[1].rank != 4 || c->out[1].dims[0] != nb || c->out[1].dims[1] != H ||
		         c->out[1].dims[2] != P || c->out[1].dims[3] != N) ?
		        kerr(c, "ssd: bad last-state shape") : 0);
	}
	/* linear_scan: a, b, h and h0/h_last of one shape (h0 without T) */
	const KTensor *Bv = &c->in[1], *H0 = c->nin > 2 && c->in[2].data ? &c->in[2] : NULL;
	if (X->rank < 2 || Bv->rank != X->rank || c->out[0].rank != X->rank)
		return kerr(c, "linear_scan: a, b and h must share one shape");
	for (int k = 0; k < X->rank; k++)
		if (Bv->dims[k] != X->dims[k] || c->out[0].dims[k] != X->dims[k])
			return kerr(c, "linear_scan: a, b and h differ in dim %d", k);
	for (int j = 0; j < 2; j++) {
		const KTensor *t = j == 0 ? H0 : (c->nout > 1 && c->out[1].dt != DT_UNDEF ? &c->out[1] : NULL);
		if (!t)
			continue;
		if (t->rank != X->rank - 1 || t->dims[0] != X->dims[0])
			return kerr(c, "linear_scan: bad state shape");
		for (int k = 2; k < X->rank; k++)
			if (t->dims[k - 1] != X->dims[k])
				return kerr(c, "linear_scan: bad state shape");
	}
	return 0;
}

int kscan_call(kpool *pool, KCall *c)
{
	if (check_f32(c) || check_shapes(c))
		return 1;
	switch (c->op) {
	case OP_selective_scan: return sel(pool, c);
	case OP_ssd: return ssd(pool, c);
	case OP_linear_scan: return lin(pool, c);
	}
	return kerr(c, "kscan_call: %s is not a scan op", op_names[c->op]);
}
