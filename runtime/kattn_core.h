/* The tile routine of runtime/kattn.c, included twice: once plain, once with
 * KA_ATTR = target("avx2,fma") and KA_SFX = _avx2 (picked at run time).
 * 8-float vectors are GCC vector extensions; the compiler maps them to the
 * ISA of each copy. */

#define KA_CAT2(a, b) a##b
#define KA_CAT(a, b) KA_CAT2(a, b)
#define KA_FN(name) KA_CAT(name, KA_SFX)

/* exp of 8 lanes: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial for e^r,
 * 2^n from exponent bits. Lanes below -87 (and -inf) give exactly 0. */
static inline KA_ATTR v8 KA_FN(vexp)(v8 x)
{
	const v8 lo = V8(-87.0f), hi = V8(88.0f);
	v8i dead = x < lo;
	x = vsel(dead, lo, x);
	x = vsel(x > hi, hi, x);
	const v8 magic = V8(12582912.0f);             /* 1.5 * 2^23: round to nearest */
	v8 t = x * V8(1.44269504088896341f) + magic;
	v8 n = t - magic;
	v8 r = x - n * V8(0.693359375f);
	r = r - n * V8(-2.12194440e-4f);
	v8 p = V8(1.9875691500e-4f);
	p = p * r + V8(1.3981999507e-3f);
	p = p * r + V8(8.3334519073e-3f);
	p = p * r + V8(4.1665795894e-2f);
	p = p * r + V8(1.6666665459e-1f);
	p = p * r + V8(5.0000001201e-1f);
	p = p * r * r + r + V8(1.0f);
	v8i e = (__builtin_convertvector(n, v8i) + 127) << 23;
	return (v8)((v8i)(p * (v8)e) & ~dead);
}

/* One task: rows of query tile [i0, i0+nr) of the grp query heads of kv head
 * hk in batch b, against keys [ks, ke). Leaves the unnormalised output in
 * w->O (R x Dvp), the running max in w->m and the sum in w->l. */
static KA_ATTR void KA_FN(tile_run)(const Job *J, Work *w, int64_t b, int64_t hk, int64_t i0,
                                    int64_t nr, int64_t ks, int64_t ke)
{
	const AttnDims *a = &J->a;
	const int64_t D = a->D, Dv = a->Dv, Dvp = J->Dvp, G = a->grp;
	const int64_t R = G * nr, Rp = (R + 3) & ~(int64_t)3;
	float *Qs = w->Qs, *Kt = w->Kt, *Vt = w->Vt, *S = w->S, *O = w->O;
	for (int64_t r = 0; r < Rp; r++) {
		float *dst = Qs + r * D;
		if (r >= R) {
			memset(dst, 0, (size_t)D * sizeof *dst);
			continue;
		}
		int64_t h = hk * G + r / nr, i = i0 + r % nr;
		const float *src = J->Q + ((b * a->Hq + h) * a->Tq + i) * D;
		for (int64_t e = 0; e < D; e++)
			dst[e] = src[e] * J->scale;
	}
	memset(O, 0, (size_t)(Rp * Dvp) * sizeof *O);
	for (int64_t r = 0; r < Rp; r++) {
		w->m[r] = -INFINITY;
		w->l[r] = 0;
	}
	const int64_t off = a->Tk - a->Tq;            /* bottom-right alignment */
	const int64_t p0 = i0 + off, p1 = i0 + nr - 1 + off;
	const int64_t W = J->win;
	const float *Kb = J->K + (b * a->Hkv + hk) * a->Tk * D;
	const float *Vb = J->V + (b * a->Hkv + hk) * a->Tk * Dv;
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
				kt[jj] = Kb[(j0 + jj) * D + e];
			for (int64_t jj = nj; jj < BC; jj++)
				kt[jj] = 0;
		}
		for (int64_t jj = 0; jj < BC; jj++) {
			float *vt = Vt + jj * Dvp;
			int64_t e = 0;
			if (jj < nj)
				for (; e < Dv; e++)
					vt[e] = Vb[(j0 + jj) * Dv + e];
			for (; e < Dvp; e++)
				vt[e] = 0;
		}
		/* S = Qs Kt: 4 rows x 16 keys per block */
		for (int64_t r = 0; r < Rp; r += 4)
			for (int64_t c = 0; c < BC; c += 16) {
				v8 c00 = V8(0), c01 = V8(0), c10 = V8(0), c11 = V8(0);
				v8 c20 = V8(0), c21 = V8(0), c30 = V8(0), c31 = V8(0);
				const float *q0 = Qs + r * D, *q1 = q0 + D, *q2 = q1 + D, *q3 = q2 + D;
				for (int64_t e = 0; e < D; e++) {
					v8 k0 = LD8(Kt + e * BC + c), k1 = LD8(Kt + e * BC + c + 8);
					v8 x0 = V8(q0[e]), x1 = V8(q1[e]), x2 = V8(q2[e]), x3 = V8(q3[e]);
					c00 += x0 * k0; c01 += x0 * k1;
					c10 += x1 * k0; c11 += x1 * k1;
					c20 += x2 * k0; c21 += x2 * k1;
					c30 += x3 * k0; c31 += x3 * k1;
				}
				ST8(S + r * BC + c, c00); ST8(S + r * BC + c + 8, c01);
				ST8(S + (r + 1) * BC + c, c10); ST8(S + (r + 1) * BC + c + 8, c11);
				ST8(S + (r + 2) * BC + c, c20); ST8(S + (r + 2) * BC + c + 8, c21);
				ST8(S + (r + 3) * BC + c, c30); ST8(S + (r + 3) * BC + c + 8, c31);
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
			if (elem)
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
			v8 mx = LD8(s);
			for (int c = 8; c < BC; c += 8) {
				v8 x = LD8(s + c);
				mx = vsel(x > mx, x, mx);
			}
			float rm = mx[0];
			for (int k = 1; k < 8; k++)
				rm = mx[k] > rm ? mx[k] : rm;
			float mnew = rm > w->m[r] ? rm : w->m[r];
			if (mnew == -INFINITY) {        /* nothing visible yet */
				memset(s, 0, BC * sizeof *s);
				continue;
			}
			float alpha = w->m[r] == -INFINITY ? 0.0f : expf(w->m[r] - mnew);
			v8 mv = V8(mnew), sum = V8(0);
			for (int c = 0; c < BC; c += 8) {
				v8 e = KA_FN(vexp)(LD8(s + c) - mv);
				ST8(s + c, e);
				sum += e;
			}
			float ls = 0;
			for (int k = 0; k < 8; k++)
				ls += sum[k];
			w->l[r] = w->l[r] * alpha + ls;
			w->m[r] = mnew;
			if (alpha != 1.0f) {
				float *o = O + r * Dvp;
				v8 av = V8(alpha);
				for (int64_t e = 0; e < Dvp; e += 8)
					ST8(o + e, LD8(o + e) * av);
			}
		}
		/* O += P Vt: 4 rows x 16 columns per block */
		for (int64_t r = 0; r < Rp; r += 4)
			for (int64_t c = 0; c < Dvp; c += 16) {
				float *o0 = O + r * Dvp + c, *o1 = o0 + Dvp, *o2 = o1 + Dvp, *o3 = o2 + Dvp;
				v8 c00 = LD8(o0), c01 = LD8(o0 + 8), c10 = LD8(o1), c11 = LD8(o1 + 8);
				v8 c20 = LD8(o2), c21 = LD8(o2 + 8), c30 = LD8(o3), c31 = LD8(o3 + 8);
				const float *s0 = S + r * BC, *s1 = s0 + BC, *s2 = s1 + BC, *s3 = s2 + BC;
				for (int64_t jj = 0; jj < nj; jj++) {
					v8 v0 = LD8(Vt + jj * Dvp + c), v1 = LD8(Vt + jj * Dvp + c + 8);
					v8 x0 = V8(s0[jj]), x1 = V8(s1[jj]), x2 = V8(s2[jj]), x3 = V8(s3[jj]);
					c00 += x0 * v0; c01 += x0 * v1;
					c10 += x1 * v0; c11 += x1 * v1;
					c20 += x2 * v0; c21 += x2 * v1;
					c30 += x3 * v0; c31 += x3 * v1;
				}
				ST8(o0, c00); ST8(o0 + 8, c01); ST8(o1, c10); ST8(o1 + 8, c11);
				ST8(o2, c20); ST8(o2 + 8, c21); ST8(o3, c30); ST8(o3 + 8, c31);
			}
	}
}

#undef KA_FN
#undef KA_CAT
#undef KA_CAT2
