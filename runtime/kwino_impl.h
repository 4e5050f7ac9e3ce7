/* The per-ISA Winograd F(2x2,3x3) body of runtime/kconv.c, included once per
 * instruction set after kconv_impl.h with SFX and TGT defined. One work item
 * is (image, chunk of <= KC_RW 2x2 output tiles, group of output-channel
 * blocks): it transforms its tiles' 4x4 input patches (V = B^T d B) into
 * its own scratch, multiplies them by the packed transformed weights
 * (U = G g G^T) as 16 independent [tiles x C] x [C x M] products, and
 * transforms the products back (Y = A^T m A) with bias, residual and
 * activation in the store. The items share nothing but the input, so one
 * pool dispatch covers the whole convolution. */

/* rw tiles x nb (1 or 2) blocks of 16 output channels of one of the 16
 * products: v [ncb][tc][16] (tile r, channel cb*16+ci at v[cb*tc16 + r*16 + ci]),
 * u [C][16] per output block (the next block ust floats on), m [tiles][16]
 * per output block (the next block mst floats on). */
static inline __attribute__((always_inline)) TGT void
SFX(wtile)(const float *v, int64_t ncb, int64_t tc16, const float *u, int64_t ust, float *m,
           int64_t mst, const int nb, const int rw)
{
	kv16 acc[2][KC_RW];
#pragma GCC unroll 16
	for (int r = 0; r < rw; r++) {
		acc[0][r] = (kv16){0};
		acc[1][r] = (kv16){0};
	}
	for (int64_t cb = 0; cb < ncb; cb++) {
		const float *vc = v + cb * tc16, *uc = u + cb * KCB * KCB;
		for (int ci = 0; ci < KCB; ci++) {
			kv16 w0 = ldv(uc + ci * KCB), w1 = (kv16){0};
			if (nb > 1)
				w1 = ldv(uc + ust + ci * KCB);
#pragma GCC unroll 16
			for (int r = 0; r < rw; r++) {
				float b = vc[r * KCB + ci];
				acc[0][r] += w0 * b;
				if (nb > 1)
					acc[1][r] += w1 * b;
			}
		}
	}
#pragma GCC unroll 2
	for (int j = 0; j < nb; j++)
#pragma GCC unroll 16
		for (int r = 0; r < rw; r++)
			stv(m + j * mst + r * KCB, acc[j][r]);
}

static TGT void SFX(wino_body)(void *arg, int64_t lo, int64_t hi)
{
	const kw_args *a = arg;
	const int64_t ncb = a->ncb, nocb = a->nocb, tc = a->tc, gsz = a->gsz, TW = a->tw;
	const int64_t rowst = a->wp * KCB, plane = a->hp * rowst, tc16 = tc * KCB;
	const int64_t OH = a->oh, OW = a->ow, C16 = ncb * KCB;
	for (int64_t it = lo; it < hi; it++) {
		int64_t gr = it % a->ngroup, ch = it / a->ngroup % a->nchunk;
		int64_t n = it / a->ngroup / a->nchunk;
		int64_t t0 = ch * tc, nt = a->ntile - t0 < tc ? a->ntile - t0 : tc;
		int64_t ocb0 = gr * gsz, ocb1 = ocb0 + gsz < nocb ? ocb0 + gsz : nocb;
		/* the items of one call run in turn: they share the first one's
		 * slot (no other call, concurrent or not, has that item) */
		float *v = a->scr + lo * a->per_item, *mo = v + 16 * ncb * tc16;
		const float *xs = a->xs + n * a->xn;
		/* input transform: V[xi][cb][t] = (B^T d B)[xi]; d is the tile's
		 * 4x4 patch at (2 ti - pt, 2 tj - pl) of the image, read in place
		 * when it lies inside, else point by point with zeros outside */
		for (int64_t t = 0; t < nt; t++) {
			int64_t ti = (t0 + t) / TW, tj = (t0 + t) % TW;
			int64_t i0 = 2 * ti - a->pt, j0 = 2 * tj - a->pl;
			int inside = i0 >= 0 && i0 + 4 <= a->hp && j0 >= 0 && j0 + 4 <= a->wp;
			for (int64_t cb = 0; cb < ncb; cb++) {
				const float *xb = xs + cb * plane;
				kv16 dd[4][4];
				if (inside) {
					const float *d = xb + i0 * rowst + j0 * KCB;
#pragma GCC unroll 4
					for (int i = 0; i < 4; i++)
#pragma GCC unroll 4
						for (int j = 0; j < 4; j++)
							dd[i][j] = ldv(d + i * rowst + j * KCB);
				} else {
					for (int i = 0; i < 4; i++)
						for (int j = 0; j < 4; j++) {
							int64_t ri = i0 + i, ci = j0 + j;
							dd[i][j] = ri >= 0 && ri < a->hp && ci >= 0 && ci < a->wp ?
							           ldv(xb + ri * rowst + ci * KCB) : (kv16){0};
						}
				}
				kv16 r[4][4];
#pragma GCC unroll 4
				for (int j = 0; j < 4; j++) {
					kv16 d0 = dd[0][j], d1 = dd[1][j], d2 = dd[2][j], d3 = dd[3][j];
					r[0][j] = d0 - d2;
					r[1][j] = d1 + d2;
					r[2][j] = d2 - d1;
					r[3][j] = d1 - d3;
				}
				float *vt = v + cb * tc16 + t * KCB;
				const int64_t xst = ncb * tc16;
#pragma GCC unroll 4
				for (int i = 0; i < 4; i++) {
					stv(vt + (4 * i + 0) * xst, r[i][0] - r[i][2]);
					stv(vt + (4 * i + 1) * xst, r[i][1] + r[i][2]);
					stv(vt + (4 * i + 2) * xst, r[i][2] - r[i][1]);
					stv(vt + (4 * i + 3) * xst, r[i][1] - r[i][3]);
				}
			}
		}
		/* the 16 products M[xi][ocb][t] = sum_c V[xi][c][t] U[xi][c][ocb] */
		for (int xi = 0; xi < 16; xi++) {
			const float *vx = v + xi * ncb * tc16;
			for (int64_t ocb = ocb0; ocb < ocb1; ocb += 2) {
				const float *u = a->u + (xi * nocb + ocb) * C16 * KCB;
				float *m = mo + (xi * gsz + ocb - ocb0) * tc16;
				int64_t t = 0;
				if (ocb + 1 < ocb1) {
#define T(k) for (; t + k <= nt; t += k) \
				SFX(wtile)(vx + t * KCB, ncb, tc16, u, C16 * KCB, m + t * KCB, tc16, 2, k);
					T(KC_RW) T(8) T(4) T(2) T(1)
#undef T
				} else {
#define T(k) for (; t + k <= nt; t += k) \
				SFX(wtile)(vx + t * KCB, ncb, tc16, u, C16 * KCB, m + t * KCB, tc16, 1, k);
					T(KC_RW) T(8) T(4) T(2) T(1)
#undef T
				}
			}
		}
		/* output transform Y = A^T M A, bias, residual, activation */
		for (int64_t ocb = ocb0; ocb < ocb1; ocb++) {
			kv16 bv = ldv(a->bias + ocb * KCB);
			const float *mj = mo + (ocb - ocb0) * tc16;
			const int64_t xst = gsz * tc16;
			for (int64_t t = 0; t < nt; t++) {
				int64_t ti = (t0 + t) / TW, tj = (t0 + t) % TW;
				kv16 s[2][4];
#pragma GCC unroll 4
				for (int j = 0; j < 4; j++) {
					kv16 m0 = ldv(mj + (0 + j) * xst + t * KCB);
					kv16 m1 = ldv(mj + (4 + j) * xst + t * KCB);
					kv16 m2 = ldv(mj + (8 + j) * xst + t * KCB);
					kv16 m3 = ldv(mj + (12 + j) * xst + t * KCB);
					s[0][j] = m0 + m1 + m2;
					s[1][j] = m1 - m2 - m3;
				}
				int64_t oh = 2 * ti, ow = 2 * tj;
				int64_t off = ((n * nocb + ocb) * OH + oh) * OW * KCB + ow * KCB;
#pragma GCC unroll 2
				for (int i = 0; i < 2; i++) {
					if (oh + i >= OH)
						break;
					kv16 y0 = s[i][0] + s[i][1] + s[i][2] + bv;
					kv16 y1 = s[i][1] - s[i][2] - s[i][3] + bv;
					int64_t o = off + i * OW * KCB;
					if (a->res)
						y0 += ldv(a->res + o);
					stv(a->y + o, SFX(actv)(y0, a->act, a->a0, a->a1));
					if (ow + 1 < OW) {
						if (a->res)
							y1 += ldv(a->res + o + KCB);
						stv(a->y + o + KCB, SFX(actv)(y1, a->act, a->a0, a->a1));
					}
				}
			}
		}
	}
}
