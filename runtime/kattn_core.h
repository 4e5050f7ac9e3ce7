/* The tile routine of runtime/kattn.c, included once per ISA: KA_ATTR (a
 * target attribute), KA_SFX (name suffix), and the vector type VT of VW
 * floats (GCC vector extensions, VIT the int32 vector of the same width) with
 * VS (splat), VLD/VST (unaligned load/store) and VSEL (lane select). Blocks
 * are 4 rows x 2*VW columns. */

#define KA_CAT2(a, b) a##b
#define KA_CAT(a, b) KA_CAT2(a, b)
#define KA_FN(name) KA_CAT(name, KA_SFX)

/* exp of VW lanes: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial for e^r,
 * 2^n from exponent bits. Lanes below -87 (and -inf) give exactly 0. */
static inline __attribute__((always_inline)) KA_ATTR VT KA_FN(vexp)(VT x)
{
	const VT lo = VS(-87.0f), hi = VS(88.0f);
	VIT dead = x < lo;
	x = VSEL(dead, lo, x);
	x = VSEL(x > hi, hi, x);
	const VT magic = VS(12582912.0f);             /* 1.5 * 2^23: round to nearest */
	VT t = x * VS(1.44269504088896341f) + magic;
	VT n = t - magic;
	VT r = x - n * VS(0.693359375f);
	r = r - n * VS(-2.12194440e-4f);
	VT p = VS(1.9875691500e-4f);
	p = p * r + VS(1.3981999507e-3f);
	p = p * r + VS(8.3334519073e-3f);
	p = p * r + VS(4.1665795894e-2f);
	p = p * r + VS(1.6666665459e-1f);
	p = p * r + VS(5.0000001201e-1f);
	p = p * r * r + r + VS(1.0f);
	VIT e = (__builtin_convertvector(n, VIT) + 127) << 23;
	return (VT)((VIT)(p * (VT)e) & ~dead);
}

/* Horizontal max / sum of the VW lanes: log2(VW) butterfly steps, every
 * lane ends with the result (GCC >= 12 / clang: __builtin_shufflevector). */
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
#if VW == 16
#define KA_BFLY(v, f)                                                                   \
	v = f(v, __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)); \
	v = f(v, __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11)); \
	v = f(v, __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)); \
	v = f(v, __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14))
#elif VW == 8
#define KA_BFLY(v, f)                                                       \
	v = f(v, __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3));    \
	v = f(v, __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5));    \
	v = f(v, __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6))
#else
#define KA_BFLY(v, f)                                              \
	v = f(v, __builtin_shufflevector(v, v, 2, 3, 0, 1));       \
	v = f(v, __builtin_shufflevector(v, v, 1, 0, 3, 2))
#endif
#endif

static inline __attribute__((always_inline)) KA_ATTR VT KA_FN(vmx)(VT a, VT b)
{
	return VSEL(b > a, b, a);
}

static inline __attribute__((always_inline)) KA_ATTR VT KA_FN(vad)(VT a, VT b)
{
	return a + b;
}

static inline __attribute__((always_inline)) KA_ATTR float KA_FN(hmax)(VT v)
{
#ifdef KA_BFLY
	KA_BFLY(v, KA_FN(vmx));
	return v[0];
#else
	float m = v[0];
	for (int k = 1; k < VW; k++)
		m = v[k] > m ? v[k] : m;
	return m;
#endif
}

static inline __attribute__((always_inline)) KA_ATTR float KA_FN(hsum)(VT v)
{
#ifdef KA_BFLY
	KA_BFLY(v, KA_FN(vad));
	return v[0];
#else
	float t = 0;
	for (int k = 0; k < VW; k++)
		t += v[k];
	return t;
#endif
}

/* One task: rows of query tile [i0, i0+nr) of the grp query heads of kv head
 * hk in batch b, against keys [ks, ke). Leaves the unnormalised output in
 * w->O (R x Dvp), the running max in w->m and the sum in w->l. */
static KA_ATTR void KA_FN(tile_run)(const Job *J, Work *w, int64_t b, int64_t hk, int64_t i0,
                                    int64_t nr, int64_t ks, int64_t ke)
{
	const AttnDims *a = &J->a;
	const int64_t D = a->D, Dv = a->Dv, Dvp = J->Dvp, G = a->grp;
	const int64_t BC = J->bc;
	const int64_t R = G * nr, Rp = (R + 3) & ~(int64_t)3;
	float *Qs = w->Qs, *Kt = w->Kt, *Vt = w->Vt, *S = w->S, *O = w->O;
	for (int64_t r = 0; r < Rp; r++) {
		float *dst = Qs + r * D;
		if (r >= R) {
			memset(dst, 0, (size_t)D * sizeof *dst);
			continue;
		}
		int64_t h = hk * G + r / nr, i = i0 + r % nr;
		const float *src = J->Q + b * a->qs[0] + h * a->qs[1] + i * a->qs[2];
		const float sc = J->scale;
		int64_t e = 0;
		for (; e + VW <= D; e += VW)
			VST(dst + e, VLD(src + e) * sc);
		for (; e < D; e++)
			dst[e] = src[e] * sc;
	}
	memset(O, 0, (size_t)(Rp * Dvp) * sizeof *O);
	for (int64_t r = 0; r < Rp; r++) {
		w->m[r] = -INFINITY;
		w->l[r] = 0;
	}
	const int64_t off = a->Tk - a->Tq;            /* bottom-right alignment */
	const int64_t p0 = i0 + off, p1 = i0 + nr - 1 + off;
	const int64_t W = J->win;
	const float *Kb = J->K + b * a->ks[0] + hk * a->ks[1];
	const float *Vb = J->V + b * a->vs[0] + hk * a->vs[1];
	const int64_t kst = a->ks[2], vst = a->vs[2];    /* token strides */
	for (int64_t j0 = ks; j0 < ke; j0 += BC) {
		int64_t nj = ke - j0 < BC ? ke - j0 : BC, jl = j0 + nj - 1;
		/* skip tiles no row can see */
		if (J->causal && j0 > p1)
			break;
		if (W > 0 && jl <= p0 - W && j0 >= J->sinks)
			continue;
		if (W > 0 && !J->causal && j0 >= p1 + W)
			break;
		bool elem = (J->causal && jl > p0) || J->mask_bool ||
		            (W > 0 && (j0 <= p1 - W || (!J->causal && jl >= p0 + W)));
		/* K tile transposed to [D][BC], V tile to [BC][Dvp], zero padded */
		for (int64_t e = 0; e < D; e++) {
			float *kt = Kt + e * BC;
			for (int64_t jj = 0; jj < nj; jj++)
				kt[jj] = Kb[(j0 + jj) * kst + e];
			for (int64_t jj = nj; jj < BC; jj++)
				kt[jj] = 0;
		}
		for (int64_t jj = 0; jj < BC; jj++) {
			float *vt = Vt + jj * Dvp;
			int64_t e = 0;
			if (jj < nj) {
				memcpy(vt, Vb + (j0 + jj) * vst, (size_t)Dv * sizeof *vt);
				e = Dv;
			}
			for (; e < Dvp; e++)
				vt[e] = 0;
		}
		/* S = Qs Kt: 4 rows x 2*VW keys per block */
		for (int64_t r = 0; r < Rp; r += 4)
			for (int64_t c = 0; c < BC; c += 2 * VW) {
				VT c00 = VS(0), c01 = VS(0), c10 = VS(0), c11 = VS(0);
				VT c20 = VS(0), c21 = VS(0), c30 = VS(0), c31 = VS(0);
				const float *q0 = Qs + r * D, *q1 = q0 + D, *q2 = q1 + D, *q3 = q2 + D;
				for (int64_t e = 0; e < D; e++) {
					VT k0 = VLD(Kt + e * BC + c), k1 = VLD(Kt + e * BC + c + VW);
					VT x0 = VS(q0[e]), x1 = VS(q1[e]), x2 = VS(q2[e]), x3 = VS(q3[e]);
					c00 += x0 * k0; c01 += x0 * k1;
					c10 += x1 * k0; c11 += x1 * k1;
					c20 += x2 * k0; c21 += x2 * k1;
					c30 += x3 * k0; c31 += x3 * k1;
				}
				VST(S + r * BC + c, c00); VST(S + r * BC + c + VW, c01);
				VST(S + (r + 1) * BC + c, c10); VST(S + (r + 1) * BC + c + VW, c11);
				VST(S + (r + 2) * BC + c, c20); VST(S + (r + 2) * BC + c + VW, c21);
				VST(S + (r + 3) * BC + c, c30); VST(S + (r + 3) * BC + c + VW, c31);
			}
		/* score modifiers, visibility, online softmax */
		for (int64_t r = 0; r < Rp; r++) {
			float *s = S + r * BC;
			if (r >= R) {
				memset(s, 0, BC * sizeof *s);
				continue;
			}
			int64_t h = hk * G + r / nr, i = i0 + r % nr, p = i + off;
			if (J->cap > 0)
				for (int64_t jj = 0; jj < nj; jj++)
					s[jj] = J->cap * tanhf(s[jj] / J->cap);
			if (J->alibi) {
				float sl = J->alibi[h];
				for (int64_t jj = 0; jj < nj; jj++)
					s[jj] += sl * (float)(j0 + jj - p);
			}
			if (J->mask) {
				const int64_t *ms = a->mst;
				int64_t mo = b * ms[0] + h * ms[1] + i * ms[2] + j0 * ms[3];
				if (J->mask_bool) {
					const unsigned char *mb = J->mask;
					for (int64_t jj = 0; jj < nj; jj++)
						if (!mb[mo + jj * ms[3]])
							s[jj] = -INFINITY;
				} else {
					const float *mf = J->mask;
					for (int64_t jj = 0; jj < nj; jj++)
						s[jj] += mf[mo + jj * ms[3]];
				}
			}
			if (elem && W <= 0) {
				/* causal only: keys after position p are hidden, one range */
				if (J->causal)
					for (int64_t jj = p - j0 + 1 < 0 ? 0 : p - j0 + 1; jj < nj; jj++)
						s[jj] = -INFINITY;
			} else if (elem)
				for (int64_t jj = 0; jj < nj; jj++) {
					int64_t j = j0 + jj;
					bool ok = !J->causal || j <= p;
					if (ok && W > 0 && !(j < J->sinks))
						ok = j > p - W && (J->causal || j < p + W);
					if (!ok)
						s[jj] = -INFINITY;
				}
			for (int64_t jj = nj; jj < BC; jj++)
				s[jj] = -INFINITY;
			VT mx = VLD(s);
			for (int c = VW; c < BC; c += VW) {
				VT x = VLD(s + c);
				mx = VSEL(x > mx, x, mx);
			}
			float rm = KA_FN(hmax)(mx);
			float mnew = rm > w->m[r] ? rm : w->m[r];
			if (mnew == -INFINITY) {        /* nothing visible yet */
				memset(s, 0, BC * sizeof *s);
				continue;
			}
			float alpha = w->m[r] == -INFINITY ? 0.0f : expf(w->m[r] - mnew);
			VT mv = VS(mnew), sum = VS(0);
			for (int c = 0; c < BC; c += VW) {
				VT e = KA_FN(vexp)(VLD(s + c) - mv);
				VST(s + c, e);
				sum += e;
			}
			float ls = KA_FN(hsum)(sum);
			w->l[r] = w->l[r] * alpha + ls;
			w->m[r] = mnew;
			if (alpha != 1.0f) {
				float *o = O + r * Dvp;
				VT av = VS(alpha);
				for (int64_t e = 0; e < Dvp; e += VW)
					VST(o + e, VLD(o + e) * av);
			}
		}
		/* O += P Vt: 4 rows x 2*VW columns per block */
		for (int64_t r = 0; r < Rp; r += 4)
			for (int64_t c = 0; c < Dvp; c += 2 * VW) {
				float *o0 = O + r * Dvp + c, *o1 = o0 + Dvp, *o2 = o1 + Dvp, *o3 = o2 + Dvp;
				VT c00 = VLD(o0), c01 = VLD(o0 + VW), c10 = VLD(o1), c11 = VLD(o1 + VW);
				VT c20 = VLD(o2), c21 = VLD(o2 + VW), c30 = VLD(o3), c31 = VLD(o3 + VW);
				const float *s0 = S + r * BC, *s1 = s0 + BC, *s2 = s1 + BC, *s3 = s2 + BC;
				for (int64_t jj = 0; jj < nj; jj++) {
					VT v0 = VLD(Vt + jj * Dvp + c), v1 = VLD(Vt + jj * Dvp + c + VW);
					VT x0 = VS(s0[jj]), x1 = VS(s1[jj]), x2 = VS(s2[jj]), x3 = VS(s3[jj]);
					c00 += x0 * v0; c01 += x0 * v1;
					c10 += x1 * v0; c11 += x1 * v1;
					c20 += x2 * v0; c21 += x2 * v1;
					c30 += x3 * v0; c31 += x3 * v1;
				}
				VST(o0, c00); VST(o0 + VW, c01); VST(o1, c10); VST(o1 + VW, c11);
				VST(o2, c20); VST(o2 + VW, c21); VST(o3, c30); VST(o3 + VW, c31);
			}
	}
}

/* Many-row variant (R >= KA_TROWS): the scores are kept transposed, St[key][row],
 * so the online softmax runs down the key axis on whole vectors of rows (no
 * horizontal reductions, one vector exp gives VW rescale factors), K is read in
 * place (broadcast per key), V in place when Dv is a whole number of blocks,
 * the rescale of O is folded into the P V pass, and each group of KA_RG rows
 * skips the key tiles none of its rows can see (finer than the task-level
 * skip: less work on the causal diagonal). A group whose rows share one mask
 * row (a padding mask [B,1,1,Tk], or [B,H,1,Tk] within one head) gets the
 * mask added as the scores are stored, a group of consecutive rows of one
 * head gets the causal edge as a lane mask there too, and the running max is
 * kept in registers meanwhile; other modifiers (softcap, ALiBi, full masks,
 * windows) take the row-by-row pass. Same outputs as tile_run. */
#define KA_RG (2 * VW)                 /* rows per group: two vectors */
#if VW >= 16
#define KA_KQ 8                        /* keys per S block (8 x 2 vectors) */
#define KA_PR 8                        /* rows per P V block (8 x 2 vectors) */
#else
#define KA_KQ 4                        /* 16 registers: 4 x 2 blocks */
#define KA_PR 4
#endif

/* Qt[e][r8 + k] = sc * src[k][e] for k < 8 (src[k] NULL: zero), e < D. */
static inline KA_ATTR void KA_FN(qt_rows8)(float *Qt, int64_t Rp, int64_t r8,
                                           const float *const *src, int64_t D, float sc)
{
	int64_t e = 0;
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
	/* 8 x 8 blocks transposed in registers */
	for (; e + 8 <= D; e += 8) {
		v8 x[8], t[8], u[8];
#pragma GCC unroll 8
		for (int k = 0; k < 8; k++) {
			v8 y = {0};
			if (src[k])
				memcpy(&y, src[k] + e, sizeof y);
			x[k] = y;
		}
#pragma GCC unroll 4
		for (int k = 0; k < 8; k += 2) {
			t[k] = __builtin_shufflevector(x[k], x[k + 1], 0, 8, 1, 9, 4, 12, 5, 13);
			t[k + 1] = __builtin_shufflevector(x[k], x[k + 1], 2, 10, 3, 11, 6, 14, 7, 15);
		}
#pragma GCC unroll 2
		for (int k = 0; k < 8; k += 4)
#pragma GCC unroll 2
			for (int m = 0; m < 2; m++) {
				u[k + 2 * m] = __builtin_shufflevector(t[k + m], t[k + m + 2], 0, 1, 8, 9, 4, 5, 12, 13);
				u[k + 2 * m + 1] = __builtin_shufflevector(t[k + m], t[k + m + 2], 2, 3, 10, 11, 6, 7, 14, 15);
			}
		/* u[k] (k < 4) holds columns k and k + 4 of rows 0-3, u[k + 4] of rows 4-7 */
#pragma GCC unroll 4
		for (int k = 0; k < 4; k++) {
			v8 lo = __builtin_shufflevector(u[k], u[k + 4], 0, 1, 2, 3, 8, 9, 10, 11);
			v8 hi = __builtin_shufflevector(u[k], u[k + 4], 4, 5, 6, 7, 12, 13, 14, 15);
			lo *= sc;
			hi *= sc;
			memcpy(Qt + (e + k) * Rp + r8, &lo, sizeof lo);
			memcpy(Qt + (e + k + 4) * Rp + r8, &hi, sizeof hi);
		}
	}
#endif
	for (; e < D; e++)
		for (int k = 0; k < 8; k++)
			Qt[e * Rp + r8 + k] = src[k] ? src[k][e] * sc : 0.0f;
}

static KA_ATTR void KA_FN(tile_runt)(const Job *J, Work *w, int64_t b, int64_t hk, int64_t i0,
                                     int64_t nr, int64_t ks, int64_t ke)
{
	const AttnDims *a = &J->a;
	const int64_t D = a->D, Dv = a->Dv, Dvp = J->Dvp, G = a->grp;
	const int64_t BC = J->bc;
	const int64_t R = G * nr, Rp = (R + KA_TPAD - 1) / KA_TPAD * KA_TPAD, ng = Rp / KA_RG;
	float *Qt = w->Qs, *St = w->S, *O = w->O, *M = w->m, *L = w->l, *AL = w->al;
	float *madd = w->madd;
	int64_t *gmin = w->gp, *gmax = w->gp + ng, *act = w->gp + 2 * ng;
	int64_t *gmo = w->gp + 3 * ng, *greg = w->gp + 4 * ng;
	const float sc = J->scale;
	const int64_t off = a->Tk - a->Tq;            /* bottom-right alignment */
	const int64_t *ms = a->mst;
	/* Qt[e][r] = scale * q of row r (zero past R), 8 rows at a time */
	for (int64_t r8 = 0; r8 < Rp; r8 += 8) {
		const float *src[8];
		for (int k = 0; k < 8; k++) {
			int64_t r = r8 + k, h = hk * G + r / nr, i = i0 + r % nr;
			src[k] = r < R ? J->Q + b * a->qs[0] + h * a->qs[1] + i * a->qs[2] : NULL;
		}
		KA_FN(qt_rows8)(Qt, Rp, r8, src, D, sc);
	}
	memset(O, 0, (size_t)(Rp * Dvp) * sizeof *O);
	for (int64_t r = 0; r < Rp; r++) {
		M[r] = -INFINITY;
		L[r] = 0;
	}
	/* per group: positions spanned by its real rows (min > max: padding
	 * only); whether they are consecutive rows of one head (greg: row r0 + k
	 * sits at position gmin + k); the mask row all of them share (gmo,
	 * offset of key 0; -1: rows differ) */
	for (int64_t g = 0; g < ng; g++) {
		int64_t r0 = g * KA_RG, rl = r0 + KA_RG < R ? r0 + KA_RG - 1 : R - 1;
		gmin[g] = INT64_MAX;
		gmax[g] = INT64_MIN;
		for (int64_t r = r0; r <= rl; r++) {
			int64_t p = i0 + r % nr + off;
			gmin[g] = p < gmin[g] ? p : gmin[g];
			gmax[g] = p > gmax[g] ? p : gmax[g];
		}
		bool one = r0 <= rl && r0 / nr == rl / nr;
		greg[g] = one;
		gmo[g] = -1;
		if (J->mask && r0 <= rl && (one || ms[1] == 0) && (ms[2] == 0 || r0 == rl))
			gmo[g] = b * ms[0] + (hk * G + r0 / nr) * ms[1] + (i0 + r0 % nr) * ms[2];
	}
	const int64_t p0 = i0 + off, p1 = i0 + nr - 1 + off;
	const int64_t W = J->win;
	/* softcap applies before masking: then every modifier goes row by row */
	const bool vec_ok = !(J->cap > 0);
	const float *Kb = J->K + b * a->ks[0] + hk * a->ks[1];
	const float *Vb = J->V + b * a->vs[0] + hk * a->vs[1];
	const int64_t kst = a->ks[2], vst = a->vs[2];    /* token strides */
	VIT lane0, lane1;                              /* lane indices 0..2VW-1 */
	for (int k = 0; k < VW; k++) {
		lane0[k] = k;
		lane1[k] = k + VW;
	}
	for (int64_t j0 = ks; j0 < ke; j0 += BC) {
		int64_t nj = ke - j0 < BC ? ke - j0 : BC, jl = j0 + nj - 1;
		/* skip tiles no row can see */
		if (J->causal && j0 > p1)
			break;
		if (W > 0 && jl <= p0 - W && j0 >= J->sinks)
			continue;
		if (W > 0 && !J->causal && j0 >= p1 + W)
			break;
		/* the row groups that see some key of the tile */
		int64_t na = 0;
		for (int64_t g = 0; g < ng; g++) {
			int64_t pn = gmin[g], px = gmax[g];
			if (pn > px)
				continue;
			if (J->causal && j0 > px)
				continue;
			if (W > 0 && jl <= pn - W && j0 >= J->sinks)
				continue;
			if (W > 0 && !J->causal && j0 >= px + W)
				continue;
			act[na++] = g;
		}
		if (na == 0)
			continue;
		/* V rows in place when Dv is whole blocks (Dvp == Dv), else a
		 * zero-padded copy; either way row jj at Vs + jj * vrs */
		const float *Vs = Vb + j0 * vst;
		int64_t vrs = vst;
		if (Dv != Dvp) {
			float *Vt = w->Vt;
			for (int64_t jj = 0; jj < nj; jj++) {
				memcpy(Vt + jj * Dvp, Vb + (j0 + jj) * vst, (size_t)Dv * sizeof *Vt);
				memset(Vt + jj * Dvp + Dv, 0, (size_t)(Dvp - Dv) * sizeof *Vt);
			}
			Vs = Vt;
			vrs = Dvp;
		}
		int64_t madd_mo = -2;                      /* the mask row madd holds */
		for (int64_t t = 0; t < na; t++) {
			const int64_t g = act[t], r0 = g * KA_RG, pn = gmin[g], px = gmax[g];
			/* causal: the group's keys end at its last row's position (the
			 * rest of the tile is hidden from every row of the group) */
			const int64_t njg = J->causal && px - j0 + 1 < nj ? px - j0 + 1 : nj;
			/* what the store does: the shared mask row (madd), the causal
			 * edge as lane masks (keys past pn); the rest goes row by row */
			const bool vmask = J->mask && gmo[g] >= 0 && vec_ok;
			const bool diag = J->causal && jl > pn;
			const bool vcausal = diag && W <= 0 && greg[g] && vec_ok;
			const bool vis = diag || (W > 0 && (j0 <= px - W || (!J->causal && jl >= pn + W)));
			const bool slow = J->cap > 0 || J->alibi || (J->mask && !vmask) || (vis && !vcausal);
			if (vmask && madd_mo != gmo[g]) {
				const int64_t mo = gmo[g] + j0 * ms[3];
				if (J->mask_bool) {
					const unsigned char *mb = J->mask;
					for (int64_t jj = 0; jj < nj; jj++)
						madd[jj] = mb[mo + jj * ms[3]] ? 0.0f : -INFINITY;
				} else {
					const float *mf = J->mask;
					for (int64_t jj = 0; jj < nj; jj++)
						madd[jj] = mf[mo + jj * ms[3]];
				}
				madd_mo = gmo[g];
			}
			VT mx0 = VS(-INFINITY), mx1 = VS(-INFINITY);
			/* St[jj][r0 .. r0+2VW) = sum_e K[j0+jj][e] Qt[e][r]: KA_KQ keys x 2 vectors */
			for (int64_t jb = 0; jb < njg; jb += KA_KQ) {
				const float *kr[KA_KQ];
				VT c0[KA_KQ], c1[KA_KQ];
#pragma GCC unroll 8
				for (int q = 0; q < KA_KQ; q++) {
					int64_t jj = jb + q < nj ? jb + q : nj - 1;
					kr[q] = Kb + (j0 + jj) * kst;
					c0[q] = VS(0);
					c1[q] = VS(0);
				}
				const float *qt = Qt + r0;
				if (vcausal && j0 + jb >= pn + VW) {
					/* keys past every row of the first vector (their lanes
					 * are masked below): the second vector only */
					for (int64_t e = 0; e < D; e++) {
						VT x1 = VLD(qt + e * Rp + VW);
#pragma GCC unroll 8
						for (int q = 0; q < KA_KQ; q++)
							c1[q] += VS(kr[q][e]) * x1;
					}
				} else
					for (int64_t e = 0; e < D; e++) {
						VT x0 = VLD(qt + e * Rp), x1 = VLD(qt + e * Rp + VW);
#pragma GCC unroll 8
						for (int q = 0; q < KA_KQ; q++) {
							VT kv = VS(kr[q][e]);
							c0[q] += kv * x0;
							c1[q] += kv * x1;
						}
					}
#pragma GCC unroll 8
				for (int q = 0; q < KA_KQ; q++) {       /* BC is whole blocks */
					int64_t jj = jb + q;
					VT x0 = c0[q], x1 = c1[q];
					if (vmask && jj < nj) {
						x0 += VS(madd[jj]);
						x1 += VS(madd[jj]);
					}
					if (vcausal && j0 + jj > pn) {
						/* lane k sits at pn + k: it sees key j0 + jj iff k >= j0 + jj - pn */
						VIT cut = (VIT){0} + (int32_t)(j0 + jj - pn > 2 * VW ? 2 * VW : j0 + jj - pn);
						x0 = VSEL(lane0 < cut, VS(-INFINITY), x0);
						x1 = VSEL(lane1 < cut, VS(-INFINITY), x1);
					}
					VST(St + jj * Rp + r0, x0);
					VST(St + jj * Rp + r0 + VW, x1);
					if (jj < njg) {
						mx0 = VSEL(x0 > mx0, x0, mx0);
						mx1 = VSEL(x1 > mx1, x1, mx1);
					}
				}
			}
			/* score modifiers and visibility, row by row */
			if (slow) {
				for (int64_t r = r0; r < r0 + KA_RG && r < R; r++) {
					int64_t h = hk * G + r / nr, i = i0 + r % nr, p = i + off;
					float *s = St + r;
					if (J->cap > 0)
						for (int64_t jj = 0; jj < njg; jj++)
							s[jj * Rp] = J->cap * tanhf(s[jj * Rp] / J->cap);
					if (J->alibi) {
						float sl = J->alibi[h];
						for (int64_t jj = 0; jj < njg; jj++)
							s[jj * Rp] += sl * (float)(j0 + jj - p);
					}
					if (J->mask && !vmask) {
						int64_t mo = b * ms[0] + h * ms[1] + i * ms[2] + j0 * ms[3];
						if (J->mask_bool) {
							const unsigned char *mb = J->mask;
							for (int64_t jj = 0; jj < njg; jj++)
								if (!mb[mo + jj * ms[3]])
									s[jj * Rp] = -INFINITY;
						} else {
							const float *mf = J->mask;
							for (int64_t jj = 0; jj < njg; jj++)
								s[jj * Rp] += mf[mo + jj * ms[3]];
						}
					}
					if (!vis || vcausal)
						continue;
					if (W <= 0) {
						for (int64_t jj = p - j0 + 1 < 0 ? 0 : p - j0 + 1; jj < njg; jj++)
							s[jj * Rp] = -INFINITY;
					} else
						for (int64_t jj = 0; jj < njg; jj++) {
							int64_t j = j0 + jj;
							bool ok = !J->causal || j <= p;
							if (ok && !(j < J->sinks))
								ok = j > p - W && (J->causal || j < p + W);
							if (!ok)
								s[jj * Rp] = -INFINITY;
						}
				}
				mx0 = VLD(St + r0);
				mx1 = VLD(St + r0 + VW);
				for (int64_t jj = 1; jj < njg; jj++) {
					VT x0 = VLD(St + jj * Rp + r0), x1 = VLD(St + jj * Rp + r0 + VW);
					mx0 = VSEL(x0 > mx0, x0, mx0);
					mx1 = VSEL(x1 > mx1, x1, mx1);
				}
			}
			/* online softmax down the keys, VW rows at a time */
			for (int64_t r = r0, u = 0; u < 2; r += VW, u++) {
				VT mx = u ? mx1 : mx0;
				VT mo = VLD(M + r);
				VT mn = VSEL(mx > mo, mx, mo);
				/* rows with nothing visible yet: subtract 0, so every exp is
				 * of -inf (0) and alpha = 0 (O and l are still 0) */
				VT mz = VSEL(mn == VS(-INFINITY), VS(0), mn);
				VT al = KA_FN(vexp)(mo - mz), sum = VS(0);
				for (int64_t jj = 0; jj < njg; jj++) {
					VT e = KA_FN(vexp)(VLD(St + jj * Rp + r) - mz);
					VST(St + jj * Rp + r, e);
					sum += e;
				}
				VST(L + r, VLD(L + r) * al + sum);
				VST(M + r, mn);
				VST(AL + r, al);
			}
			/* O = alpha O + P V: KA_PR rows x 2 vectors; under causal masking
			 * a block of consecutive rows stops at its last row's position
			 * (P is exactly 0 past it) */
			for (int64_t r = r0; r < r0 + KA_RG; r += KA_PR) {
				int64_t njr = njg;
				if (J->causal && greg[g] && pn + (r - r0) + KA_PR - j0 < njr)
					njr = pn + (r - r0) + KA_PR - j0 < 0 ? 0 : pn + (r - r0) + KA_PR - j0;
				for (int64_t c = 0; c < Dvp; c += 2 * VW) {
					VT o0[KA_PR], o1[KA_PR];
#pragma GCC unroll 8
					for (int i = 0; i < KA_PR; i++) {
						VT av = VS(AL[r + i]);
						o0[i] = VLD(O + (r + i) * Dvp + c) * av;
						o1[i] = VLD(O + (r + i) * Dvp + c + VW) * av;
					}
					for (int64_t jj = 0; jj < njr; jj++) {
						const float *vr = Vs + jj * vrs + c;
						VT v0 = VLD(vr), v1 = VLD(vr + VW);
						const float *pr = St + jj * Rp + r;
#pragma GCC unroll 8
						for (int i = 0; i < KA_PR; i++) {
							VT x = VS(pr[i]);
							o0[i] += x * v0;
							o1[i] += x * v1;
						}
					}
#pragma GCC unroll 8
					for (int i = 0; i < KA_PR; i++) {
						VST(O + (r + i) * Dvp + c, o0[i]);
						VST(O + (r + i) * Dvp + c + VW, o1[i]);
					}
				}
			}
		}
	}
}
#undef KA_RG
#undef KA_KQ
#undef KA_PR

/* The task's normalised rows O / l into the output (through its strides). */
static KA_ATTR void KA_FN(store_out)(const Job *J, const Work *w, int64_t b, int64_t hk,
                                     int64_t i0, int64_t nr)
{
	const AttnDims *a = &J->a;
	const int64_t Dv = a->Dv, Dvp = J->Dvp;
	for (int64_t r = 0; r < a->grp * nr; r++) {
		int64_t h = hk * a->grp + r / nr, i = i0 + r % nr;
		float *o = J->O + b * a->os[0] + h * a->os[1] + i * a->os[2];
		const float *s = w->O + r * Dvp;
		const float inv = w->l[r] > 0 ? 1.0f / w->l[r] : 0.0f;
		int64_t e = 0;
		for (; e + VW <= Dv; e += VW)
			VST(o + e, VLD(s + e) * inv);
		for (; e < Dv; e++)
			o[e] = s[e] * inv;
	}
}

#undef KA_FN
#undef KA_BFLY
#undef KA_CAT
#undef KA_CAT2
