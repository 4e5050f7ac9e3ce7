/* Library kernels: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear
 * (per-tensor or per-axis scale and zero point; round half to even and
 * saturate to the integer type). */
#include "knode_impl.h"

static void qrange(int dt, double *lo, double *hi)
{
	switch (dt) {
	case DT_I8: *lo = -128; *hi = 127; break;
	case DT_U16: *lo = 0; *hi = 65535; break;
	case DT_I16: *lo = -32768; *hi = 32767; break;
	case DT_I32: *lo = -2147483648.0; *hi = 2147483647.0; break;
	default: *lo = 0; *hi = 255; break;
	}
}

static double sat(double v, double lo, double hi) { return v != v ? 0 : v < lo ? lo : v > hi ? hi : v; }   /* NaN -> 0 */

/* per-axis broadcast of a scale/zero-point tensor P over X: the index into P
 * of element i, given outer/len/inner split at axis; -1 on a shape error */
static int qaxis(KCall *c, const KTensor *X, const KTensor *P, int64_t *len, int64_t *inner)
{
	int64_t np = kt_numel(P);
	*len = 1;
	*inner = 1;
	if (kattr_i(c, "block_size", 0) != 0)
		return kerr(c, "%s: blocked quantization (block_size) is not supported", op_names[c->op]);
	if (np == 1)
		return 0;
	int ax = kn_axis(kattr_i(c, "axis", 1), X->rank);
	if (P->rank != 1 || ax < 0 || X->dims[ax] != np)
		return kerr(c, "%s: scale/zero point of %lld elements do not match the axis",
		            op_names[c->op], (long long)np);
	*len = np;
	*inner = kn_prod(X->dims, ax + 1, X->rank);
	return 0;
}

int kn_quant(kpool *pool, KCall *c)
{
	(void)pool;
	const KTensor *X = &c->in[0], *S = &c->in[1];
	const KTensor *Z = kn_has(c, 2) ? &c->in[2] : NULL;
	int64_t len, inner;
	if (qaxis(c, X, S, &len, &inner) || (Z && kt_numel(Z) != kt_numel(S)))
		return c->err[0] ? 1 : kerr(c, "QuantizeLinear: zero point and scale differ in size");
	if (kout(c, 0, X->rank, X->dims))
		return 1;
	KTensor *Y = &c->out[0];
	double lo, hi;
	qrange(Y->dt, &lo, &hi);
	int64_t n = kt_numel(X);
	for (int64_t i = 0; i < n; i++) {
		int64_t p = (i / inner) % len;
		double q;
		if (X->dt == DT_F32 && S->dt == DT_F32)   /* the division in f32, as the spec's numpy does */
			q = (double)((float)kn_ld(X, i) / (float)kn_ld(S, p));
		else
			q = kn_ld(X, i) / kn_ld(S, p);
		q = nearbyint(q) + (Z ? (double)kn_ldi(Z, p) : 0.0);
		kn_sti(Y, i, (int64_t)sat(q, lo, hi));
	}
	return 0;
}

int kn_dequant(kpool *pool, KCall *c)
{
	(void)pool;
	const KTensor *X = &c->in[0], *S = &c->in[1];
	const KTensor *Z = kn_has(c, 2) ? &c->in[2] : NULL;
	int64_t len, inner;
	if (qaxis(c, X, S, &len, &inner) || (Z && kt_numel(Z) != kt_numel(S)))
		return c->err[0] ? 1 : kerr(c, "DequantizeLinear: zero point and scale differ in size");
	if (kout(c, 0, X->rank, X->dims))
		return 1;
	KTensor *Y = &c->out[0];
	int64_t n = kt_numel(X);
	for (int64_t i = 0; i < n; i++) {
		int64_t p = (i / inner) % len;
		int64_t d = kn_ldi(X, i) - (Z ? kn_ldi(Z, p) : 0);
		if (Y->dt == DT_F32)
			kn_st(Y, i, (double)((float)d * (float)kn_ld(S, p)));
		else
			kn_st(Y, i, (double)d * kn_ld(S, p));
	}
	return 0;
}

/* y_scale = (max(0,max x) - min(0,min x)) / 255, y_zero_point = round(-min/scale), all in f32 */
int kn_dynquant(kpool *pool, KCall *c)
{
	(void)pool;
	const KTensor *X = &c->in[0];
	if (X->dt != DT_F32)
		return kerr(c, "DynamicQuantizeLinear: input must be f32");
	if (kout(c, 0, X->rank, X->dims) || kout(c, 1, 0, NULL) || kout(c, 2, 0, NULL))
		return 1;
	const float *x = X->data;
	int64_t n = kt_numel(X);
	float mn = 0, mx = 0;
	for (int64_t i = 0; i < n; i++) {
		mn = x[i] < mn ? x[i] : mn;
		mx = x[i] > mx ? x[i] : mx;
	}
	float scale = (mx - mn) / 255.0f;
	float zpf = scale != 0 ? nearbyintf(0.0f - mn / scale) : 0.0f;
	zpf = zpf != zpf ? 0 : zpf < 0 ? 0 : zpf > 255 ? 255 : zpf;
	uint8_t zp = (uint8_t)zpf, *y = c->out[0].data;
	for (int64_t i = 0; i < n; i++) {
		float q = scale != 0 ? nearbyintf(x[i] / scale) + zp : zp;
		y[i] = (uint8_t)(q != q ? 0 : q < 0 ? 0 : q > 255 ? 255 : q);
	}
	*(float *)c->out[1].data = scale;
	*(uint8_t *)c->out[2].data = zp;
	return 0;
}
