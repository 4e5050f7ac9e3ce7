/* The per-ISA body of runtime/kconv.c, included once per instruction set
 * with SFX (name suffix) and TGT (target attribute) defined: the direct
 * convolution tiles, the depthwise rows and the blocked max pool. */

/* act16 with Clip as one max and one min on AVX-512 (NaN passes through,
 * as the compare-and-select form: max(lo, NaN) and min(hi, NaN) are NaN) */
static inline __attribute__((always_inline)) TGT kv16 SFX(actv)(kv16 v, int act, float a0, float a1)
{
#ifdef KC_AVX512
	if (act == KC_ACT_CLIP)
		return (kv16)_mm512_min_ps(_mm512_set1_ps(a1), _mm512_max_ps(_mm512_set1_ps(a0), (__m512)v));
#endif
	return act16(v, act, a0, a1);
}

/* One output row segment: nb (1 or 2) blocks of 16 output channels x rw
 * pixels from ow0, accumulated in registers over every input channel and
 * tap, then bias + residual + activation and one store per vector. */
static inline __attribute__((always_inline)) TGT void
SFX(tile)(const kc_args *a, const float *xs, int64_t ocb, int64_t oh, int64_t ow0,
          float *yo, const float *ro, const int nb, const int rw)
{
	kv16 acc[2][KC_RW];
#pragma GCC unroll 16
	for (int r = 0; r < rw; r++) {
		acc[0][r] = (kv16){0};
		acc[1][r] = (kv16){0};
	}
	const int64_t cbk = a->cbk, KH = a->kh, KW = a->kw, ps = a->sw * cbk;
	const int64_t rowst = a->wp * cbk, plane = a->hp * rowst;
	const float *w = a->w + ocb * a->wost;
	/* one FMA step: weights wq (and wq + wost), inputs xp[r * ps] */
#define KC_STEP(wq, xp) do { \
		kv16 w0 = ldv(wq), w1 = (kv16){0}; \
		if (nb > 1) \
			w1 = ldv((wq) + a->wost); \
		_Pragma("GCC unroll 16") \
		for (int r = 0; r < rw; r++) { \
			float b = (xp)[r * ps]; \
			acc[0][r] += w0 * b; \
			if (nb > 1) \
				acc[1][r] += w1 * b; \
		} \
	} while (0)
	for (int64_t cb = 0; cb < a->ncb; cb++) {
		const float *xc = xs + cb * plane + (oh * a->sh) * rowst + ow0 * ps;
		/* lanes past C in the last block are zero: skipped */
		const int64_t nci = cb + 1 < a->ncb ? cbk : a->clast;
		for (int64_t kh = 0; kh < KH; kh++) {
			const float *xr = xc + kh * a->dh * rowst;
			const float *wr = w + (cb * KH + kh) * KW * cbk * KCB;
			if (a->dw == 1 && nci == cbk) {   /* the taps of a kernel row: one run */
				for (int64_t t = 0; t < KW * cbk; t++)
					KC_STEP(wr + t * KCB, xr + t);
				continue;
			}
			for (int64_t kw = 0; kw < KW; kw++) {
				const float *xp = xr + kw * a->dw * cbk;
				const float *wq = wr + kw * cbk * KCB;
				for (int64_t ci = 0; ci < nci; ci++)
					KC_STEP(wq + ci * KCB, xp + ci);
			}
		}
	}
#undef KC_STEP
	const int64_t ost = a->oh * a->ow * KCB;
#pragma GCC unroll 2
	for (int j = 0; j < nb; j++) {
		kv16 bv = ldv(a->bias + (ocb + j) * KCB);
#pragma GCC unroll 16
		for (int r = 0; r < rw; r++) {
			kv16 v = acc[j][r] + bv;
			if (ro)
				v += ldv(ro + j * ost + r * KCB);
			stv(yo + j * ost + r * KCB, SFX(actv)(v, a->act, a->a0, a->a1));
		}
	}
}

/* Each tile shape its own function: inlined all into conv_body, GCC's
 * register allocation spilled accumulators of the small ones. */
#define KC_TILE_FN(nb, rw) \
	static __attribute__((noinline)) TGT void SFX(tile_##nb##_##rw)( \
		const kc_args *a, const float *xs, int64_t ocb, int64_t oh, int64_t ow0, float *yo, \
		const float *ro) \
	{ \
		SFX(tile)(a, xs, ocb, oh, ow0, yo, ro, nb, rw); \
	}
KC_TILE_FN(2, 12) KC_TILE_FN(2, 8) KC_TILE_FN(2, 4) KC_TILE_FN(2, 2) KC_TILE_FN(2, 1)
KC_TILE_FN(1, 12) KC_TILE_FN(1, 8) KC_TILE_FN(1, 4) KC_TILE_FN(1, 2) KC_TILE_FN(1, 1)
#undef KC_TILE_FN

/* Items (image, pair of output-channel blocks, output row, column chunk)
 * [lo, hi); a pointwise convolution runs as one row of OH x OW pixels
 * (kconv.c), cut into chunks of chw columns. */
static TGT void SFX(conv_body)(void *arg, int64_t lo, int64_t hi)
{
	const kc_args *a = arg;
	int64_t OH = a->oh, OW = a->ow, npair = (a->nocb + 1) / 2, nch = a->nchk;
	for (int64_t it = lo; it < hi; it++) {
		int64_t ch = it % nch, oh = it / nch % OH, pr = it / nch / OH % npair;
		int64_t n = it / nch / OH / npair;
		int64_t ocb = 2 * pr;
		int nb = ocb + 1 < a->nocb ? 2 : 1;
		const float *xs = a->xs + n * a->xn;
		int64_t off = ((n * a->nocb + ocb) * OH + oh) * OW * KCB;
		float *yo = a->y + off;
		const float *ro = a->res ? a->res + off : NULL;
		int64_t ow = ch * a->chw, oe = ow + a->chw < OW ? ow + a->chw : OW;
#define T(k, nb) for (; ow + k <= oe; ow += k) \
			SFX(tile_##nb##_##k)(a, xs, ocb, oh, ow, yo + ow * KCB, ro ? ro + ow * KCB : NULL);
		if (nb == 2) {
			T(12, 2) T(8, 2) T(4, 2) T(2, 2) T(1, 2)
		} else {
			T(12, 1) T(8, 1) T(4, 1) T(2, 1) T(1, 1)
		}
#undef T
	}
}

/* Four depthwise 3x3 outputs of one row from ow (stride S, dilation 1,
 * every tap inside the row): per kernel row, the 3 S + 3 input columns
 * they share are loaded once. */
static inline __attribute__((always_inline)) TGT void
SFX(dw3_quad)(kv16 acc[4], const float *row, const kv16 *wr, const int S)
{
	kv16 c[3 * 2 + 3];
#pragma GCC unroll 9
	for (int k = 0; k < 3 * S + 3; k++)
		c[k] = ldv(row + k * KCB);
#pragma GCC unroll 4
	for (int j = 0; j < 4; j++)
		acc[j] += c[j * S] * wr[0] + c[j * S + 1] * wr[1] + c[j * S + 2] * wr[2];
}

/* Depthwise: items (image, channel block, row); each pixel is one vector
 * of 16 channels, summed over the taps. The image is read in place with
 * its padding (pt, pl; 0 after a padded copy): kernel rows outside it are
 * skipped for the whole output row, border columns clipped per pixel.
 * 3x3 kernels keep their 9 weight vectors in registers; at dilation 1 and
 * stride 1 or 2 the interior runs four outputs at a time. */
static inline __attribute__((always_inline)) TGT void
SFX(dw_rows)(const kc_args *a, int64_t lo, int64_t hi, const int act)
{
	const int64_t OH = a->oh, OW = a->ow, KH = a->kh, KW = a->kw, H = a->hp, W = a->wp;
	const int64_t sh = a->sh, sw = a->sw, dh = a->dh, dwl = a->dw, pt = a->pt, pl = a->pl;
	const int64_t rowst = W * KCB, plane = H * rowst;
	/* [o0, o1): columns whose whole window lies inside the row */
	int64_t o0 = (pl + sw - 1) / sw, last = W - 1 + pl - (KW - 1) * dwl;
	int64_t o1 = last >= 0 ? last / sw + 1 : 0;
	o0 = o0 < OW ? o0 : OW;
	o1 = o1 < OW ? o1 : OW;
	o1 = o1 > o0 ? o1 : o0;
	const int k3 = KH == 3 && KW == 3;
	for (int64_t it = lo; it < hi; it++) {
		int64_t oh = it % OH, cb = it / OH % a->nocb, n = it / OH / a->nocb;
		const float *xc = a->xs + n * a->xn + cb * plane;
		const float *w = a->w + cb * KH * KW * KCB;
		int64_t off = ((n * a->nocb + cb) * OH + oh) * OW * KCB;
		const float *ro = a->res ? a->res + off : NULL;
		float *yo = a->y + off;
		kv16 bv = ldv(a->bias + cb * KCB);
		int64_t ih0 = oh * sh - pt, kh0 = 0, kh1 = KH;
		while (kh0 < kh1 && ih0 + kh0 * dh < 0)
			kh0++;
		while (kh1 > kh0 && ih0 + (kh1 - 1) * dh >= H)
			kh1--;
		/* the border pixels, and every pixel of other kernel shapes */
#define DW_PIXEL(ow) do { \
			int64_t iw0 = (ow) * sw - pl; \
			kv16 acc = bv; \
			for (int64_t kh = kh0; kh < kh1; kh++) { \
				const float *xr = xc + (ih0 + kh * dh) * rowst; \
				for (int64_t kw = 0; kw < KW; kw++) { \
					int64_t iw = iw0 + kw * dwl; \
					if (iw >= 0 && iw < W) \
						acc += ldv(xr + iw * KCB) * ldv(w + (kh * KW + kw) * KCB); \
				} \
			} \
			if (ro) \
				acc += ldv(ro + (ow) * KCB); \
			stv(yo + (ow) * KCB, SFX(actv)(acc, act, a->a0, a->a1)); \
		} while (0)
		if (!k3) {
			for (int64_t ow = 0; ow < OW; ow++)
				DW_PIXEL(ow);
			continue;
		}
		for (int64_t ow = 0; ow < o0; ow++)
			DW_PIXEL(ow);
		kv16 wv[9];
#pragma GCC unroll 9
		for (int t = 0; t < 9; t++)
			wv[t] = ldv(w + t * KCB);
		int64_t ow = o0;
		if (dwl == 1 && (sw == 1 || sw == 2)) {
			for (; ow + 4 <= o1; ow += 4) {
				kv16 acc[4] = {bv, bv, bv, bv};
				for (int64_t kh = kh0; kh < kh1; kh++) {
					const float *xr = xc + (ih0 + kh * dh) * rowst + (ow * sw - pl) * KCB;
					if (sw == 1)
						SFX(dw3_quad)(acc, xr, wv + 3 * kh, 1);
					else
						SFX(dw3_quad)(acc, xr, wv + 3 * kh, 2);
				}
#pragma GCC unroll 4
				for (int j = 0; j < 4; j++) {
					if (ro)
						acc[j] += ldv(ro + (ow + j) * KCB);
					stv(yo + (ow + j) * KCB, SFX(actv)(acc[j], act, a->a0, a->a1));
				}
			}
		}
		for (; ow < o1; ow++) {
			kv16 acc = bv;
			for (int64_t kh = kh0; kh < kh1; kh++) {
				const float *xr = xc + (ih0 + kh * dh) * rowst + (ow * sw - pl) * KCB;
				acc += ldv(xr) * wv[3 * kh] + ldv(xr + dwl * KCB) * wv[3 * kh + 1] +
				       ldv(xr + 2 * dwl * KCB) * wv[3 * kh + 2];
			}
			if (ro)
				acc += ldv(ro + ow * KCB);
			stv(yo + ow * KCB, SFX(actv)(acc, act, a->a0, a->a1));
		}
		for (ow = o1; ow < OW; ow++)
			DW_PIXEL(ow);
#undef DW_PIXEL
	}
}

/* Depthwise items [lo, hi) (dw_rows), the common activations constant */
static TGT void SFX(dw_body)(void *arg, int64_t lo, int64_t hi)
{
	const kc_args *a = arg;
	if (a->act == KGEMM_ACT_NONE)
		SFX(dw_rows)(a, lo, hi, KGEMM_ACT_NONE);
	else if (a->act == KGEMM_ACT_RELU)
		SFX(dw_rows)(a, lo, hi, KGEMM_ACT_RELU);
	else if (a->act == KC_ACT_CLIP)
		SFX(dw_rows)(a, lo, hi, KC_ACT_CLIP);
	else
		SFX(dw_rows)(a, lo, hi, a->act);
}

/* Max pool over items (blocked plane, output row) [lo, hi): the first
 * valid tap as is, later ones when greater (as the reference kernel, per
 * lane). Columns whose window lies inside the row take every tap without
 * clipping; only the border columns call kops_taps. */
static TGT void SFX(mp_body)(void *arg, int64_t lo, int64_t hi)
{
	const mpc_args *m = arg;
	const int64_t *q = m->q;
	const int64_t H = q[KP_H], W = q[KP_W], OH = q[KP_OH], OW = q[KP_OW], KW = q[KP_KW];
	const int64_t sw = q[KP_SW], dw = q[KP_DW], pl = q[KP_PLEFT];
	/* [o0, o1): ow * sw - pl >= 0 and ow * sw - pl + (KW - 1) * dw < W */
	int64_t o0 = (pl + sw - 1) / sw, last = W - 1 + pl - (KW - 1) * dw;
	int64_t o1 = last >= 0 ? last / sw + 1 : 0;
	if (o0 > OW)
		o0 = OW;
	if (o1 > OW)
		o1 = OW;
	if (o1 < o0)
		o1 = o0;
	for (int64_t it = lo; it < hi; it++) {
		int64_t pn = it / OH, oh = it % OH;
		const float *x = m->x + pn * H * W * KCB;
		float *y = m->y + (pn * OH + oh) * OW * KCB;
		int64_t h0, h1;
		kops_taps(oh, H, q[KP_KH], q[KP_SH], q[KP_PT], q[KP_DH], &h0, &h1);
		const float *xr = x + (oh * q[KP_SH] - q[KP_PT]) * W * KCB - pl * KCB;
		const int64_t rs = q[KP_DH] * W * KCB;
		for (int64_t ow = 0; ow < OW; ow++) {
			int64_t w0 = 0, w1 = KW;
			if (ow < o0 || ow >= o1)
				kops_taps(ow, W, KW, sw, pl, dw, &w0, &w1);
			const float *xp = xr + ow * sw * KCB;
			kv16 acc = (kv16){0} - (kv16){0} + -__builtin_inff();
			if (h0 < h1 && w0 < w1) {
				acc = ldv(xp + h0 * rs + w0 * dw * KCB);
				for (int64_t kh = h0; kh < h1; kh++)
					for (int64_t kw = kh == h0 ? w0 + 1 : w0; kw < w1; kw++) {
						kv16 v = ldv(xp + kh * rs + kw * dw * KCB);
						acc = sel16(v > acc, v, acc);
					}
			}
			stv(y + ow * KCB, acc);
		}
	}
}
