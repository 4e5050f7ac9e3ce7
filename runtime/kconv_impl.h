/* The per-ISA body of runtime/kconv.c, included once per instruction set
 * with SFX (name suffix) and TGT (target attribute) defined: the direct
 * convolution tiles, the depthwise rows and the blocked max pool. */

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
	for (int64_t cb = 0; cb < a->ncb; cb++) {
		const float *xc = xs + cb * plane + (oh * a->sh) * rowst + ow0 * ps;
		for (int64_t kh = 0; kh < KH; kh++) {
			const float *xr = xc + kh * a->dh * rowst;
			for (int64_t kw = 0; kw < KW; kw++) {
				const float *xp = xr + kw * a->dw * cbk;
				const float *wq = w + ((cb * KH + kh) * KW + kw) * cbk * KCB;
				for (int64_t ci = 0; ci < cbk; ci++) {
					kv16 w0 = ldv(wq + ci * KCB), w1 = (kv16){0};
					if (nb > 1)
						w1 = ldv(wq + a->wost + ci * KCB);
#pragma GCC unroll 16
					for (int r = 0; r < rw; r++) {
						float b = xp[r * ps + ci];
						acc[0][r] += w0 * b;
						if (nb > 1)
							acc[1][r] += w1 * b;
					}
				}
			}
		}
	}
	const int64_t ost = a->oh * a->ow * KCB;
#pragma GCC unroll 2
	for (int j = 0; j < nb; j++) {
		kv16 bv = ldv(a->bias + (ocb + j) * KCB);
#pragma GCC unroll 16
		for (int r = 0; r < rw; r++) {
			kv16 v = acc[j][r] + bv;
			if (ro)
				v += ldv(ro + j * ost + r * KCB);
			stv(yo + j * ost + r * KCB, act16(v, a->act, a->a0, a->a1));
		}
	}
}

/* Output rows [lo, hi) of items (image, pair of output-channel blocks, row). */
static TGT void SFX(conv_body)(void *arg, int64_t lo, int64_t hi)
{
	const kc_args *a = arg;
	int64_t OH = a->oh, OW = a->ow, npair = (a->nocb + 1) / 2;
	for (int64_t it = lo; it < hi; it++) {
		int64_t oh = it % OH, pr = it / OH % npair, n = it / OH / npair;
		int64_t ocb = 2 * pr;
		int nb = ocb + 1 < a->nocb ? 2 : 1;
		const float *xs = a->xs + n * a->xn;
		int64_t off = ((n * a->nocb + ocb) * OH + oh) * OW * KCB;
		float *yo = a->y + off;
		const float *ro = a->res ? a->res + off : NULL;
		int64_t ow = 0;
		if (nb == 2) {
#define T(k) for (; ow + k <= OW; ow += k) \
			SFX(tile)(a, xs, ocb, oh, ow, yo + ow * KCB, ro ? ro + ow * KCB : NULL, 2, k);
			T(KC_RW) T(8) T(4) T(2) T(1)
		} else {
#undef T
#define T(k) for (; ow + k <= OW; ow += k) \
			SFX(tile)(a, xs, ocb, oh, ow, yo + ow * KCB, ro ? ro + ow * KCB : NULL, 1, k);
			T(KC_RW) T(8) T(4) T(2) T(1)
#undef T
		}
	}
}

/* Depthwise: items (image, channel block, row); each pixel is one vector
 * of 16 channels, summed over the taps. */
static TGT void SFX(dw_body)(void *arg, int64_t lo, int64_t hi)
{
	const kc_args *a = arg;
	int64_t OH = a->oh, OW = a->ow, KH = a->kh, KW = a->kw;
	const int64_t rowst = a->wp * KCB, plane = a->hp * rowst;
	for (int64_t it = lo; it < hi; it++) {
		int64_t oh = it % OH, cb = it / OH % a->nocb, n = it / OH / a->nocb;
		const float *xc = a->xs + n * a->xn + cb * plane + oh * a->sh * rowst;
		const float *w = a->w + cb * KH * KW * KCB;
		int64_t off = ((n * a->nocb + cb) * OH + oh) * OW * KCB;
		kv16 bv = ldv(a->bias + cb * KCB);
		for (int64_t ow = 0; ow < OW; ow++) {
			kv16 acc = bv;
			const float *xp = xc + ow * a->sw * KCB;
			for (int64_t kh = 0; kh < KH; kh++)
				for (int64_t kw = 0; kw < KW; kw++)
					acc += ldv(xp + kh * a->dh * rowst + kw * a->dw * KCB) *
					       ldv(w + (kh * KW + kw) * KCB);
			if (a->res)
				acc += ldv(a->res + off + ow * KCB);
			stv(a->y + off + ow * KCB, act16(acc, a->act, a->a0, a->a1));
		}
	}
}

/* Max pool over blocked planes [lo, hi): the first valid tap as is, later
 * ones when greater (as the reference kernel, per lane). */
static TGT void SFX(mp_body)(void *arg, int64_t lo, int64_t hi)
{
	const mpc_args *m = arg;
	const int64_t *q = m->q;
	int64_t H = q[KP_H], W = q[KP_W], OH = q[KP_OH], OW = q[KP_OW];
	for (int64_t pl = lo; pl < hi; pl++) {
		const float *x = m->x + pl * H * W * KCB;
		float *y = m->y + pl * OH * OW * KCB;
		for (int64_t oh = 0; oh < OH; oh++) {
			int64_t h0, h1;
			kops_taps(oh, H, q[KP_KH], q[KP_SH], q[KP_PT], q[KP_DH], &h0, &h1);
			int64_t ih0 = oh * q[KP_SH] - q[KP_PT];
			for (int64_t ow = 0; ow < OW; ow++) {
				int64_t w0, w1;
				kops_taps(ow, W, q[KP_KW], q[KP_SW], q[KP_PLEFT], q[KP_DW], &w0, &w1);
				int64_t iw0 = ow * q[KP_SW] - q[KP_PLEFT];
				kv16 acc = (kv16){0};
				int first = 1;
				for (int64_t kh = h0; kh < h1; kh++)
					for (int64_t kw = w0; kw < w1; kw++) {
						kv16 v = ldv(x + ((ih0 + kh * q[KP_DH]) * W + iw0 + kw * q[KP_DW]) * KCB);
						if (first)
							acc = v;
						else
							acc = sel16(v > acc, v, acc);
						first = 0;
					}
				if (first)
					acc = (kv16){0} - (kv16){0} + -__builtin_inff();
				stv(y + (oh * OW + ow) * KCB, acc);
			}
		}
	}
}
