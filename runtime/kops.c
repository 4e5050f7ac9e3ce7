/* Convolution as implicit GEMM and LayerNormalization, f32 (kops.h).
 * A convolution is, per image and group, Y[m, pixel] = W[m, k] x col[k, pixel]
 * with k = (c, kh, kw): the column matrix is gathered row by row from the
 * image (one contiguous input row segment per output row at stride 1) and
 * kgemm reads or packs it as B; 1x1 stride-1 unpadded convolutions read the
 * image itself as B. Bias and residual are stored into Y first and
 * the GEMM accumulates onto them (beta 1), then applies the activation. */
#include <math.h>
#include <string.h>
#include "kops.h"
#include "knorm.h"
#include "kgemm_impl.h"

static int pointwise(const int64_t *p)
{
	return p[KC_KH] == 1 && p[KC_KW] == 1 && p[KC_SH] == 1 && p[KC_SW] == 1 &&
	       p[KC_PT] == 0 && p[KC_PL] == 0 && p[KC_OH] == p[KC_H] && p[KC_OW] == p[KC_W];
}

int kconv2d_transposed(const int64_t *p)
{
	int64_t mg = p[KC_M] / p[KC_G], np = p[KC_OH] * p[KC_OW];
	return np >= 2 * mg;
}

static size_t al64(size_t n) { return (n + 63) & ~(size_t)63; }

size_t kconv2d_scratch(const int64_t *p)
{
	int64_t k = p[KC_C] / p[KC_G] * p[KC_KH] * p[KC_KW], np = p[KC_OH] * p[KC_OW];
	size_t col = pointwise(p) ? 0 : al64((size_t)(k * np) * sizeof(float));
	size_t ct = kconv2d_transposed(p) ? al64((size_t)(np * (p[KC_M] / p[KC_G])) * sizeof(float)) : 0;
	return col + ct;
}

size_t kconv2d_pack_size(const int64_t *p)
{
	int64_t k = p[KC_C] / p[KC_G] * p[KC_KH] * p[KC_KW];
	return (size_t)p[KC_G] * kgemm_pack_b_size(k, p[KC_M] / p[KC_G]);
}

void kconv2d_pack(const int64_t *p, const float *w, float *packed)
{
	int64_t k = p[KC_C] / p[KC_G] * p[KC_KH] * p[KC_KW], mg = p[KC_M] / p[KC_G];
	size_t per = kgemm_pack_b_size(k, mg) / sizeof(float);
	for (int64_t g = 0; g < p[KC_G]; g++)
		kgemm_pack_b(w + g * mg * k, k, 1, k, mg, packed + g * per);
}

typedef struct im2col {
	const int64_t *p;
	const float *x;      /* the group's first channel */
	float *dst;          /* [K][OH*OW] */
} im2col;

/* Rows k in [lo, hi) of the column matrix, k = (c, kh, kw): for each output
 * row the input row segment, contiguous for stride 1, zeros outside. */
static void im2col_body(void *arg, int64_t lo, int64_t hi)
{
	const im2col *a = arg;
	const int64_t *p = a->p;
	int64_t H = p[KC_H], W = p[KC_W], KH = p[KC_KH], KW = p[KC_KW];
	int64_t OH = p[KC_OH], OW = p[KC_OW], sw = p[KC_SW];
	for (int64_t k = lo; k < hi; k++) {
		int64_t c = k / (KH * KW), kh = k / KW % KH, kw = k % KW;
		const float *xc = a->x + c * H * W;
		float *d = a->dst + k * OH * OW;
		int64_t iw0 = kw * p[KC_DW] - p[KC_PL];
		int64_t olo = 0, ohi = OW;   /* outputs whose iw is inside [0, W) */
		if (sw == 1) {
			olo = iw0 < 0 ? -iw0 : 0;
			ohi = W - iw0 < OW ? W - iw0 : OW;
			if (ohi < olo)
				ohi = olo;
		}
		for (int64_t oh = 0; oh < OH; oh++) {
			int64_t ih = oh * p[KC_SH] - p[KC_PT] + kh * p[KC_DH];
			float *row = d + oh * OW;
			if (ih < 0 || ih >= H) {
				memset(row, 0, (size_t)OW * sizeof *row);
				continue;
			}
			const float *xr = xc + ih * W;
			if (sw == 1) {
				for (int64_t o = 0; o < olo; o++)
					row[o] = 0.0f;
				if (ohi > olo)
					memcpy(row + olo, xr + olo + iw0, (size_t)(ohi - olo) * sizeof *row);
				for (int64_t o = ohi; o < OW; o++)
					row[o] = 0.0f;
			} else {
				for (int64_t o = 0; o < OW; o++) {
					int64_t iw = o * sw + iw0;
					row[o] = iw >= 0 && iw < W ? xr[iw] : 0.0f;
				}
			}
		}
	}
}

/* One image and group in the transposed orientation: Y^T[pixel, m] =
 * col^T x W^T, so the many pixels are the GEMM's rows and the few output
 * channels its (packed) columns; bias is then per column, the residual is
 * stored transposed first; the result is transposed back into Y. */
static void conv_t(kpool *pool, const int64_t *p, const float *cols, const float *wg,
                   const float *wpk, const float *bias, const float *rp, float *out,
                   kgemm_act act, float *ct)
{
	int64_t Mg = p[KC_M] / p[KC_G], np = p[KC_OH] * p[KC_OW];
	int64_t K = p[KC_C] / p[KC_G] * p[KC_KH] * p[KC_KW];
	float beta = 0.0f;
	if (rp) {
		for (int64_t i = 0; i < Mg; i++)
			for (int64_t j = 0; j < np; j++)
				ct[j * Mg + i] = rp[i * np + j];
		beta = 1.0f;
	}
	kgemm_epilogue ep = {bias, act};
	if (wpk)
		kgemm_f32_packed_ex(pool, np, Mg, K, 1.0f, cols, np, 1, wpk, beta, ct, Mg, &ep);
	else
		kgemm_f32_ex(pool, np, Mg, K, 1.0f, cols, np, 1, wg, K, 1, beta, ct, Mg, &ep);
	for (int64_t i = 0; i < Mg; i++)
		for (int64_t j = 0; j < np; j++)
			out[i * np + j] = ct[j * Mg + i];
}

void kconv2d_f32(kpool *pool, const int64_t *p, const float *x, const float *w,
                 const float *wpack, const float *bias, const float *res, float *y,
                 kgemm_act act, void *scratch)
{
	int64_t N = p[KC_N], C = p[KC_C], M = p[KC_M], G = p[KC_G];
	int64_t Cg = C / G, Mg = M / G, HW = p[KC_H] * p[KC_W];
	int64_t np = p[KC_OH] * p[KC_OW], K = Cg * p[KC_KH] * p[KC_KW];
	if (N <= 0 || M <= 0 || np <= 0)
		return;
	int direct = pointwise(p), tr = kconv2d_transposed(p);
	size_t per = kgemm_pack_b_size(K, Mg) / sizeof(float);
	float *col = scratch;
	float *ct = (float *)((char *)scratch + (direct ? 0 : al64((size_t)(K * np) * sizeof(float))));
	kgemm_epilogue ep = {NULL, act};
	for (int64_t n = 0; n < N; n++)
		for (int64_t g = 0; g < G; g++) {
			float *out = y + (n * M + g * Mg) * np;
			const float *xin = x + (n * C + g * Cg) * HW;
			const float *wg = w + g * Mg * K;
			const float *rp = res ? res + (n * M + g * Mg) * np : NULL;
			const float *bg = bias ? bias + g * Mg : NULL;
			if (K == 0) {
				for (int64_t i = 0; i < Mg; i++)
					for (int64_t j = 0; j < np; j++)
						out[i * np + j] = kg_act1((bg ? bg[i] : 0.0f) + (rp ? rp[i * np + j] : 0.0f),
						                          act);
				continue;
			}
			const float *cols = xin;
			if (!direct) {
				im2col a = {p, xin, col};
				if (kpool_threads(pool) > 1 && K * np >= 65536)
					kpool_for(pool, K, 8, im2col_body, &a);
				else
					im2col_body(&a, 0, K);
				cols = col;
			}
			if (tr) {
				conv_t(pool, p, cols, wg, wpack ? wpack + g * per : NULL, bg, rp, out, act, ct);
				continue;
			}
			float beta = 0.0f;
			if (bg || rp) {
				for (int64_t i = 0; i < Mg; i++) {
					float b = bg ? bg[i] : 0.0f;
					float *o = out + i * np;
					if (rp)
						for (int64_t j = 0; j < np; j++)
							o[j] = rp[i * np + j] + b;
					else
						for (int64_t j = 0; j < np; j++)
							o[j] = b;
				}
				beta = 1.0f;
			}
			kgemm_f32_ex(pool, Mg, np, K, 1.0f, wg, K, 0, cols, np, 0, beta, out, np, &ep);
		}
}

typedef struct lnorm {
	int64_t len;
	const float *x, *scale, *bias;
	float eps;
	float *y;
} lnorm;

static void ln_body(void *arg, int64_t lo, int64_t hi)
{
	const lnorm *a = arg;
	int64_t len = a->len;
	knorm_layer_rows(lo, hi, len, a->x, a->scale, a->bias, a->eps, a->y);
}

void klayernorm_f32(kpool *pool, int64_t rows, int64_t len, const float *x,
                    const float *scale, const float *bias, float eps, float *y)
{
	if (rows <= 0 || len <= 0)
		return;
	lnorm a = {len, x, scale, bias, eps, y};
	if (kpool_threads(pool) > 1 && rows > 1 && rows * len >= 65536)
		kpool_for(pool, rows, 1, ln_body, &a);
	else
		ln_body(&a, 0, rows);
}

typedef struct mpool {
	const int64_t *q;
	const float *x;
	float *y;
} mpool;

void kops_taps(int64_t o, int64_t n, int64_t k, int64_t s, int64_t p, int64_t d,
               int64_t *t0, int64_t *t1)
{
	int64_t i0 = o * s - p, a = 0, b = k;
	while (a < b && i0 + a * d < 0)
		a++;
	while (b > a && i0 + (b - 1) * d >= n)
		b--;
	*t0 = a;
	*t1 = b;
}

/* One output row at a time: acc[ow] takes the max over the valid taps, the
 * loop over ow innermost (vectorisable). As in the reference kernel the
 * first valid tap is taken as is and later ones when greater, so a NaN
 * counts only as the window's first tap. */
static void mp_body(void *arg, int64_t lo, int64_t hi)
{
	const mpool *a = arg;
	const int64_t *q = a->q;
	int64_t H = q[KP_H], W = q[KP_W], OH = q[KP_OH], OW = q[KP_OW], dh = q[KP_DH], dw = q[KP_DW];
	int64_t sw = q[KP_SW], KW = q[KP_KW];
	/* outputs [o0, o1) have every kw tap inside the row */
	int64_t o0 = 0, o1 = OW;
	while (o0 < OW && o0 * sw - q[KP_PLEFT] < 0)
		o0++;
	while (o1 > o0 && (o1 - 1) * sw - q[KP_PLEFT] + (KW - 1) * dw >= W)
		o1--;
	float acc[256];
	unsigned char first[256];
	for (int64_t pl = lo; pl < hi; pl++) {
		const float *x = a->x + pl * H * W;
		float *y = a->y + pl * OH * OW;
		for (int64_t oh = 0; oh < OH; oh++) {
			int64_t h0, h1;
			kops_taps(oh, H, q[KP_KH], q[KP_SH], q[KP_PT], dh, &h0, &h1);
			int64_t ihb = oh * q[KP_SH] - q[KP_PT];
			for (int64_t c0 = 0; c0 < OW; c0 += 256) {
				int64_t c1 = c0 + 256 < OW ? c0 + 256 : OW;
				for (int64_t ow = c0; ow < c1; ow++) {
					acc[ow - c0] = -INFINITY;
					first[ow - c0] = 1;
				}
				for (int64_t kh = h0; kh < h1; kh++) {
					const float *xr = x + (ihb + kh * dh) * W - q[KP_PLEFT];
					int64_t i0 = o0 > c0 ? o0 : c0, i1 = o1 < c1 ? o1 : c1;
					for (int64_t ow = c0; ow < c1; ow++) {
						if (ow >= i0 && ow < i1)
							continue;
						int64_t w0, w1;
						kops_taps(ow, W, KW, sw, q[KP_PLEFT], dw, &w0, &w1);
						for (int64_t kw = w0; kw < w1; kw++) {
							float v = xr[ow * sw + kw * dw];
							acc[ow - c0] = first[ow - c0] || v > acc[ow - c0] ? v : acc[ow - c0];
							first[ow - c0] = 0;
						}
					}
					for (int64_t kw = 0; kw < KW; kw++)
						for (int64_t ow = i0; ow < i1; ow++) {
							float v = xr[ow * sw + kw * dw];
							acc[ow - c0] = first[ow - c0] || v > acc[ow - c0] ? v : acc[ow - c0];
							first[ow - c0] = 0;
						}
				}
				for (int64_t ow = c0; ow < c1; ow++)
					y[oh * OW + ow] = acc[ow - c0];
			}
		}
	}
}

void kmaxpool2d_f32(kpool *pool, const int64_t *q, const float *x, float *y)
{
	mpool a = {q, x, y};
	if (kpool_threads(pool) > 1 && q[KP_PL] > 1 && q[KP_PL] * q[KP_OH] * q[KP_OW] >= 16384)
		kpool_for(pool, q[KP_PL], 1, mp_body, &a);
	else
		mp_body(&a, 0, q[KP_PL]);
}

void kgavgpool_f32(kpool *pool, int64_t planes, int64_t hw, const float *x, float *y)
{
	(void)pool;
	for (int64_t p = 0; p < planes; p++) {
		float s = 0.0f;
		for (int64_t i = 0; i < hw; i++)
			s += x[p * hw + i];
		y[p] = s / (float)hw;
	}
}
