/* Reference kernels of vibeec's scan ops, written as the plain recurrences
 * (one time step after another, in double): the oracle the fused kernels of
 * runtime/kscan.c are tested against. f32 tensors only. */
#include <math.h>
#include <string.h>
#include "kern.h"

static int present(const KCall *c, int i)
{
	return i < c->nin && c->in[i].data && c->in[i].dt != DT_UNDEF;
}

static const float *fin(const KCall *c, int i)
{
	return present(c, i) ? (const float *)c->in[i].data : NULL;
}

static int all_f32(KCall *c)
{
	for (int i = 0; i < c->nin; i++)
		if (present(c, i) && c->in[i].dt != DT_F32)
			return kerr(c, "%s: input %d must be f32", op_names[c->op], i);
	return 0;
}

/* Input i, when present, has rank r and dims d[0..r) (else a kerr). */
static int dims_are(KCall *c, int i, int r, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
	if (!present(c, i))
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

/* [d] or, when col, [d,1] */
static int vec_is(KCall *c, int i, int64_t d, int col)
{
	if (present(c, i) && col && c->in[i].rank == 2)
		return dims_are(c, i, 2, d, 1, 0, 0);
	return dims_are(c, i, 1, d, 0, 0, 0);
}

static int want_out(const KCall *c, int i)
{
	return i < c->nout && c->out[i].dt != DT_UNDEF;
}

static double softplus(double x)
{
	return x <= 20.0 ? log1p(exp(x)) : x;
}

static double silu(double x)
{
	return x / (1.0 + exp(-x));
}

/* selective_scan(u, delta, A, B, C, D, z, delta_bias, h0) -> y, h_last.
 * For each batch b, channel d, state n, with dt = delta + delta_bias
 * (softplus'd when attribute delta_softplus = 1) and h = h0 (else 0):
 *   h = exp(dt*A[d,n]) * h + dt * B[b,t,n] * u[b,t,d]
 *   y[b,t,d] = sum_n h * C[b,t,n]  + D[d]*u[b,t,d]
 *   y *= silu(z[b,t,d])    when z is given.
 * Attribute layout = 1: u, delta, z, y are [b,d,T] and B, C [b,n,T]. */
int ref_selective_scan(KCall *c)
{
	if (all_f32(c))
		return 1;
	const KTensor *U = &c->in[0], *Am = &c->in[2];
	int lay = (int)kattr_i(c, "layout", 0);
	if (U->rank != 3 || Am->rank != 2 || c->in[3].rank != 3 || c->in[4].rank != 3)
		return kerr(c, "selective_scan: bad ranks");
	int64_t nb = U->dims[0], T = U->dims[lay ? 2 : 1], nd = U->dims[lay ? 1 : 2];
	int64_t ns = Am->dims[1];
	const int64_t *ud = U->dims, bd0 = nb, bd1 = lay ? ns : T, bd2 = lay ? T : ns;
	if (!present(c, 1) || !present(c, 3) || !present(c, 4))
		return kerr(c, "selective_scan: u, delta, A, B and C are required");
	if (dims_are(c, 1, 3, ud[0], ud[1], ud[2], 0) || dims_are(c, 2, 2, nd, ns, 0, 0) ||
	    dims_are(c, 3, 3, bd0, bd1, bd2, 0) || dims_are(c, 4, 3, bd0, bd1, bd2, 0) ||
	    vec_is(c, 5, nd, lay) || dims_are(c, 6, 3, ud[0], ud[1], ud[2], 0) ||
	    vec_is(c, 7, nd, lay) || dims_are(c, 8, 3, nb, nd, ns, 0))
		return 1;
	int64_t hd[3] = {nb, nd, ns};
	if (kout(c, 0, 3, U->dims) || (want_out(c, 1) && kout(c, 1, 3, hd)))
		return 1;
	const float *u = fin(c, 0), *dl = fin(c, 1), *A = fin(c, 2), *B = fin(c, 3),
	            *C = fin(c, 4), *D = fin(c, 5), *z = fin(c, 6), *bias = fin(c, 7),
	            *h0 = fin(c, 8);
	int sp = (int)kattr_i(c, "delta_softplus", 0);
	float *y = c->out[0].data, *hl = want_out(c, 1) ? c->out[1].data : NULL;
	/* element (b,t,d) of u/delta/z/y and (b,t,n) of B/C in either layout */
#define UI(b, t, d) (lay ? ((b) * nd + (d)) * T + (t) : ((b) * T + (t)) * nd + (d))
#define BI(b, t, n) (lay ? ((b) * ns + (n)) * T + (t) : ((b) * T + (t)) * ns + (n))
	for (int64_t b = 0; b < nb; b++)
		for (int64_t d = 0; d < nd; d++) {
			for (int64_t t = 0; t < T; t++)
				y[UI(b, t, d)] = 0;
			for (int64_t n = 0; n < ns; n++) {
				double h = h0 ? h0[(b * nd + d) * ns + n] : 0.0;
				for (int64_t t = 0; t < T; t++) {
					int64_t i = UI(b, t, d), j = BI(b, t, n);
					double dt = dl[i] + (bias ? bias[d] : 0.0);
					if (sp)
						dt = softplus(dt);
					h = exp(dt * A[d * ns + n]) * h + dt * B[j] * u[i];
					y[i] += (float)(h * C[j]);
				}
				if (hl)
					hl[(b * nd + d) * ns + n] = (float)h;
			}
			for (int64_t t = 0; t < T; t++) {
				int64_t i = UI(b, t, d);
				double v = y[i] + (D ? (double)D[d] * u[i] : 0.0);
				y[i] = (float)(z ? v * silu(z[i]) : v);
			}
		}
#undef UI
#undef BI
	return 0;
}

/* ssd(x, dt, A, B, C, D, z, dt_bias, h0) -> y, h_last (Mamba-2, as the
 * recurrence; the chunked algorithm is the fused kernel's business).
 * Head k of H uses group g = k / (H/G) of B and C; per batch b, head k,
 * with dt' = dt + dt_bias (softplus'd when dt_softplus = 1), a = exp(dt'*A[k]):
 *   h[p,n] = a * h[p,n] + dt' * x[b,t,k,p] * B[b,t,g,n]
 *   y[b,t,k,p] = sum_n C[b,t,g,n] h[p,n] + D[k] x[b,t,k,p];  y *= silu(z). */
int ref_ssd(KCall *c)
{
	if (all_f32(c))
		return 1;
	const KTensor *X = &c->in[0], *Bt = &c->in[3];
	if (X->rank != 4 || (Bt->rank != 4 && Bt->rank != 3) || c->in[1].rank != 3 ||
	    c->in[4].rank != Bt->rank)
		return kerr(c, "ssd: bad ranks");
	int64_t nb = X->dims[0], T = X->dims[1], H = X->dims[2], P = X->dims[3];
	int64_t G = Bt->rank == 4 ? Bt->dims[2] : 1, N = Bt->dims[Bt->rank - 1];
	if (G < 1 || H % G)
		return kerr(c, "ssd: %lld groups do not divide %lld heads", (long long)G,
		            (long long)H);
	int br = (int)Bt->rank;
	if (!present(c, 1) || !present(c, 2) || !present(c, 4))
		return kerr(c, "ssd: x, dt, A, B and C are required");
	if (dims_are(c, 1, 3, nb, T, H, 0) || dims_are(c, 2, 1, H, 0, 0, 0) ||
	    dims_are(c, 3, br, nb, T, br == 4 ? G : N, N) ||
	    dims_are(c, 4, br, nb, T, br == 4 ? G : N, N) || dims_are(c, 5, 1, H, 0, 0, 0) ||
	    dims_are(c, 6, 4, nb, T, H, P) || dims_are(c, 7, 1, H, 0, 0, 0) ||
	    dims_are(c, 8, 4, nb, H, P, N))
		return 1;
	int64_t yd[4] = {nb, T, H, P}, hd[4] = {nb, H, P, N};
	if (kout(c, 0, 4, yd) || (want_out(c, 1) && kout(c, 1, 4, hd)))
		return 1;
	const float *x = fin(c, 0), *dl = fin(c, 1), *A = fin(c, 2), *B = fin(c, 3),
	            *C = fin(c, 4), *D = fin(c, 5), *z = fin(c, 6), *bias = fin(c, 7),
	            *h0 = fin(c, 8);
	int sp = (int)kattr_i(c, "dt_softplus", 0);
	float *y = c->out[0].data, *hl = want_out(c, 1) ? c->out[1].data : NULL;
	for (int64_t b = 0; b < nb; b++)
		for (int64_t k = 0; k < H; k++) {
			int64_t gi = k / (H / G);
			for (int64_t t = 0; t < T; t++)
				for (int64_t p = 0; p < P; p++)
					y[((b * T + t) * H + k) * P + p] = 0;
			for (int64_t p = 0; p < P; p++)
				for (int64_t n = 0; n < N; n++) {
					double h = h0 ? h0[((b * H + k) * P + p) * N + n] : 0.0;
					for (int64_t t = 0; t < T; t++) {
						double dt = dl[(b * T + t) * H + k] + (bias ? bias[k] : 0.0);
						if (sp)
							dt = softplus(dt);
						int64_t xi = ((b * T + t) * H + k) * P + p;
						int64_t bi = ((b * T + t) * G + gi) * N + n;
						h = exp(dt * A[k]) * h + dt * x[xi] * B[bi];
						y[xi] += (float)(C[bi] * h);
					}
					if (hl)
						hl[((b * H + k) * P + p) * N + n] = (float)h;
				}
			for (int64_t t = 0; t < T; t++)
				for (int64_t p = 0; p < P; p++) {
					int64_t xi = ((b * T + t) * H + k) * P + p;
					double v = y[xi] + (D ? (double)D[k] * x[xi] : 0.0);
					y[xi] = (float)(z ? v * silu(z[xi]) : v);
				}
		}
	return 0;
}

/* linear_scan(a, b, h0) -> h, h_last: h[:,t] = a[:,t] * h[:,t-1] + b[:,t]
 * along axis 1, h[:,-1] = h0 (else 0); h_last = h[:,T-1]. */
int ref_linear_scan(KCall *c)
{
	if (all_f32(c))
		return 1;
	const KTensor *A = &c->in[0];
	if (A->rank < 2 || c->in[1].rank != A->rank)
		return kerr(c, "linear_scan: a and b must be [batch,T,...] of one shape");
	if (!present(c, 0) || !present(c, 1))
		return kerr(c, "linear_scan: a and b are required");
	for (int k = 0; k < A->rank; k++)
		if (c->in[1].dims[k] != A->dims[k])
			return kerr(c, "linear_scan: a and b differ in dim %d", k);
	if (present(c, 2)) {
		if (c->in[2].rank != A->rank - 1 || c->in[2].dims[0] != A->dims[0])
			return kerr(c, "linear_scan: h0 must be [batch,...] of a without T");
		for (int k = 2; k < A->rank; k++)
			if (c->in[2].dims[k - 1] != A->dims[k])
				return kerr(c, "linear_scan: h0 dim %d disagrees with a", k - 1);
	}
	int64_t nb = A->dims[0], T = A->dims[1], inner = 1, ld[K_MAXRANK];
	for (int k = 2; k < A->rank; k++)
		inner *= A->dims[k];
	ld[0] = nb;
	for (int k = 2; k < A->rank; k++)
		ld[k - 1] = A->dims[k];
	if (kout(c, 0, A->rank, A->dims) || (want_out(c, 1) && kout(c, 1, A->rank - 1, ld)))
		return 1;
	const float *a = fin(c, 0), *bb = fin(c, 1), *h0 = fin(c, 2);
	float *h = c->out[0].data, *hl = want_out(c, 1) ? c->out[1].data : NULL;
	for (int64_t b = 0; b < nb; b++)
		for (int64_t e = 0; e < inner; e++) {
			double s = h0 ? h0[b * inner + e] : 0.0;
			for (int64_t t = 0; t < T; t++) {
				int64_t i = (b * T + t) * inner + e;
				s = a[i] * s + bb[i];
				h[i] = (float)s;
			}
			if (hl)
				hl[b * inner + e] = (float)s;
		}
	return 0;
}
