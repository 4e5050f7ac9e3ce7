/* Fused scan kernels (see kscan.h): discretisation, recurrence and readout
 * in one pass over time, state kept in registers or a small per-task
 * buffer. The selective scan runs 8 channels per vector (GCC vector
 * extensions; an AVX2+FMA build of the same code, or the 16-lane AVX-512
 * copy of runtime/kscan512.c, is picked at run time: kscan_isa). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kscan.h"
#include "kscan_isa.h"

typedef float v8 __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
#define AI static inline __attribute__((always_inline))

AI v8 v8set(float x) { return (v8){x, x, x, x, x, x, x, x}; }
AI v8 v8sel(v8i m, v8 a, v8 b) { return (v8)(((v8i)a & m) | ((v8i)b & ~m)); }

/* exp(x) for 8 lanes: 2^k * p(r), |r| <= ln2/2, a degree-6 polynomial
 * (about 2 ulp); x is clamped to [-87, 88] (results stay normal floats). */
AI v8 v8exp(v8 x)
{
	x = v8sel(x < v8set(-87.0f), v8set(-87.0f), x);
	x = v8sel(x > v8set(88.0f), v8set(88.0f), x);
	v8 fx = x * v8set(1.44269504088896341f) + v8set(0.5f);
	v8 fl = __builtin_convertvector(__builtin_convertvector(fx, v8i), v8);
	fl = fl + __builtin_convertvector(fl > fx, v8);   /* truncation -> floor */
	v8 r = x - fl * v8set(0.693359375f) + fl * v8set(2.12194440e-4f);
	v8 p = v8set(1.9875691500e-4f);
	p = p * r + v8set(1.3981999507e-3f);
	p = p * r + v8set(8.3334519073e-3f);
	p = p * r + v8set(4.1665795894e-2f);
	p = p * r + v8set(1.6666665459e-1f);
	p = p * r + v8set(5.0000001201e-1f);
	p = p * r * r + r + v8set(1.0f);
	v8i e = (__builtin_convertvector(fl, v8i) + 127) << 23;
	return p * (v8)e;
}

/* log(y) for 8 lanes of normal positive y (Cephes' logf polynomial). */
AI v8 v8log(v8 y)
{
	v8i bits = (v8i)y;
	v8i e = ((bits >> 23) & 0xff) - 126;
	v8 m = (v8)((bits & 0x007fffff) | 0x3f000000);   /* y = m 2^e, m in [0.5, 1) */
	v8i small = m < v8set(0.707106781186547524f);
	e = e + small;                                     /* small lanes are -1 */
	m = v8sel(small, m + m - v8set(1.0f), m - v8set(1.0f));
	v8 z = m * m;
	v8 p = v8set(7.0376836292e-2f);
	p = p * m - v8set(1.1514610310e-1f);
	p = p * m + v8set(1.1676998740e-1f);
	p = p * m - v8set(1.2420140846e-1f);
	p = p * m + v8set(1.4249322787e-1f);
	p = p * m - v8set(1.6668057665e-1f);
	p = p * m + v8set(2.0000714765e-1f);
	p = p * m - v8set(2.4999993993e-1f);
	p = p * m + v8set(3.3333331174e-1f);
	p = p * m * z;
	v8 fe = __builtin_convertvector(e, v8);
	p = p - v8set(2.12194440e-4f) * fe - v8set(0.5f) * z;
	return m + p + v8set(0.693359375f) * fe;
}

/* softplus: x > 20: x; x < -15: e^x (1 + e^x rounds to 1); else log(1 + e^x). */
AI v8 v8softplus(v8 x)
{
	v8 ex = v8exp(x);
	v8 r = v8sel(x < v8set(-15.0f), ex, v8log(v8set(1.0f) + ex));
	return v8sel(x > v8set(20.0f), x, r);
}

static float softplusf(float x) { return x <= 20.0f ? log1pf(expf(x)) : x; }
static float siluf(float x) { return x / (1.0f + expf(-x)); }

int kscan_isa(void)
{
	int isa = 0;
#if defined(__x86_64__) && defined(__GNUC__)
	static int cpu = -1;    /* workers race here; each stores the same value */
	int v = __atomic_load_n(&cpu, __ATOMIC_RELAXED);
	if (v < 0) {
		__builtin_cpu_init();
		v = 0;
		if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
			v = __builtin_cpu_supports("avx512f") ? 2 : 1;
		__atomic_store_n(&cpu, v, __ATOMIC_RELAXED);
	}
	isa = v;
#endif
	const char *cap = getenv("VIBEE_KSCAN_ISA");
	if (cap && *cap >= '0' && *cap <= '2' && *cap - '0' < isa)
		isa = *cap - '0';
	return isa;
}

#if defined(__x86_64__)
static int have_avx2(void) { return kscan_isa() >= 1; }
#define T2 __attribute__((target("avx2,fma")))
#endif

/* ---- selective scan ------------------------------------------------------ */
typedef struct SelJob {
	const kscan_sel *a;
	int64_t nblk;           /* channel blocks of 8 (isa 2: 16) per batch */
	int bad;
	int isa;                /* kscan_isa() */
} SelJob;

/* Tasks [lo, hi) of (batch, channel block). hs/As: ns vectors each. */
AI void sel_body(const kscan_sel *a, int64_t nblk, int64_t lo, int64_t hi, v8 *hs, v8 *As)
{
	const int64_t T = a->T, nd = a->nd, ns = a->ns;
	for (int64_t task = lo; task < hi; task++) {
		int64_t b = task / nblk, d0 = (task % nblk) * 8;
		int nv = nd - d0 < 8 ? (int)(nd - d0) : 8;
		float Dl[8] = {0}, bl[8] = {0};
		for (int j = 0; j < nv; j++) {
			Dl[j] = a->D ? a->D[d0 + j] : 0.0f;
			bl[j] = a->bias ? a->bias[d0 + j] : 0.0f;
		}
		for (int64_t n = 0; n < ns; n++) {
			float t8[8] = {0}, h8[8] = {0};
			for (int j = 0; j < nv; j++) {
				t8[j] = a->A[(d0 + j) * ns + n];
				if (a->h0)
					h8[j] = a->h0[(b * nd + d0 + j) * ns + n];
			}
			memcpy(&As[n], t8, sizeof t8);
			memcpy(&hs[n], h8, sizeof h8);
		}
		/* lane j of step t is element base + j*cs; B/C element n is bb + n*bs */
		const int lay = a->layout;
		const int64_t cs = lay ? T : 1, bs = lay ? T : 1;
		for (int64_t t = 0; t < T; t++) {
			int64_t base = lay ? (b * nd + d0) * T + t : (b * T + t) * nd + d0;
			int64_t bb = lay ? b * ns * T + t : (b * T + t) * ns;
			float u8[8] = {0}, dt8[8] = {0};
			for (int j = 0; j < nv; j++) {
				dt8[j] = a->delta[base + j * cs] + bl[j];
				u8[j] = a->u[base + j * cs];
			}
			v8 u, dt, acc = v8set(0.0f);
			memcpy(&u, u8, sizeof u);
			memcpy(&dt, dt8, sizeof dt);
			if (a->softplus)
				dt = v8softplus(dt);
			v8 dtu = dt * u;
			const float *Bt = a->B + bb, *Ct = a->C + bb;
			for (int64_t n = 0; n < ns; n++) {
				v8 h = v8exp(dt * As[n]) * hs[n] + dtu * v8set(Bt[n * bs]);
				hs[n] = h;
				acc += h * v8set(Ct[n * bs]);
			}
			float y8[8];
			memcpy(y8, &acc, sizeof y8);
			for (int j = 0; j < nv; j++) {
				float v = y8[j] + Dl[j] * u8[j];
				a->y[base + j * cs] = a->z ? v * siluf(a->z[base + j * cs]) : v;
			}
		}
		if (a->hlast)
			for (int64_t n = 0; n < ns; n++) {
				float h8[8];
				memcpy(h8, &hs[n], sizeof h8);
				for (int j = 0; j < nv; j++)
					a->hlast[(b * nd + d0 + j) * ns + n] = h8[j];
			}
	}
}

static void sel_gen(const kscan_sel *a, int64_t nblk, int64_t lo, int64_t hi, v8 *hs, v8 *As)
{
	sel_body(a, nblk, lo, hi, hs, As);
}
#ifdef T2
T2 static void sel_avx2(const kscan_sel *a, int64_t nblk, int64_t lo, int64_t hi, v8 *hs,
                        v8 *As)
{
	sel_body(a, nblk, lo, hi, hs, As);
}
#endif

static void sel_task(void *arg, int64_t lo, int64_t hi)
{
	SelJob *j = arg;
	int64_t ns = j->a->ns ? j->a->ns : 1;
	v8 *buf = aligned_alloc(64, (size_t)(4 * ns) * sizeof(v8));
	if (!buf) {
		j->bad = 1;
		return;
	}
#ifdef T2
	if (j->isa == 2)
		kscan_sel_avx512(j->a, lo, hi, (float *)buf, (float *)(buf + 2 * ns));
	else if (j->isa == 1)
		sel_avx2(j->a, j->nblk, lo, hi, buf, buf + ns);
	else
#endif
		sel_gen(j->a, j->nblk, lo, hi, buf, buf + ns);
	free(buf);
}

int kscan_selective_f32(kpool *pool, const kscan_sel *a)
{
	int isa = kscan_isa();
	int64_t lanes = isa == 2 ? 16 : 8;
	SelJob j = {a, (a->nd + lanes - 1) / lanes, 0, isa};
	int64_t ntask = a->nb * j.nblk;
	if (ntask <= 0)
		return 0;
	kpool_for(pool, ntask, 1, sel_task, &j);
	return j.bad ? -1 : 0;
}

/* ---- ssd, the chunked algorithm ---------------------------------------------
 * Per (batch, head), chunks of Q steps; acum = in-chunk cumulative log decay,
 * xdt = x * dt. With S the state entering the chunk (kept as S[n][p]):
 *   y_i  = exp(acum_i) C_i^T S                      (off-diagonal, from S)
 *        + sum_{j<=i} (C_i.B_j) exp(acum_i - acum_j) xdt_j   (diagonal block)
 *   S   <- exp(acum_last) S + sum_j exp(acum_last - acum_j) B_j xdt_j^T  */
typedef struct SsdJob {
	const kscan_ssd *a;
	int bad;
} SsdJob;

AI void ssd_body(const kscan_ssd *a, int64_t lo, int64_t hi, float *S, float *acum,
                 float *xdt, float *yb)
{
	const int64_t T = a->T, H = a->H, P = a->P, G = a->G, N = a->N, Q = a->chunk;
	for (int64_t task = lo; task < hi; task++) {
		int64_t b = task / H, k = task % H, g = k / (H / G);
		float Ak = a->A[k], bias = a->bias ? a->bias[k] : 0.0f;
		for (int64_t n = 0; n < N; n++)
			for (int64_t p = 0; p < P; p++)
				S[n * P + p] = a->h0 ? a->h0[((b * H + k) * P + p) * N + n] : 0.0f;
		for (int64_t c0 = 0; c0 < T; c0 += Q) {
			int64_t L = T - c0 < Q ? T - c0 : Q;
			float run = 0.0f;
			for (int64_t i = 0; i < L; i++) {
				int64_t t = c0 + i;
				float dt = a->dt[(b * T + t) * H + k] + bias;
				if (a->softplus)
					dt = softplusf(dt);
				run += dt * Ak;
				acum[i] = run;
				const float *xt = a->x + ((b * T + t) * H + k) * P;
				for (int64_t p = 0; p < P; p++)
					xdt[i * P + p] = xt[p] * dt;
			}
			for (int64_t i = 0; i < L; i++) {
				const float *Ci = a->C + ((b * T + c0 + i) * G + g) * N;
				float *yi = yb + i * P;
				float ei = expf(acum[i]);
				for (int64_t p = 0; p < P; p++)
					yi[p] = 0.0f;
				for (int64_t n = 0; n < N; n++) {
					float w = ei * Ci[n];
					const float *Sn = S + n * P;
					for (int64_t p = 0; p < P; p++)
						yi[p] += w * Sn[p];
				}
				for (int64_t j = 0; j <= i; j++) {
					const float *Bj = a->B + ((b * T + c0 + j) * G + g) * N;
					float cb = 0.0f;
					for (int64_t n = 0; n < N; n++)
						cb += Ci[n] * Bj[n];
					float w = cb * expf(acum[i] - acum[j]);
					const float *xj = xdt + j * P;
					for (int64_t p = 0; p < P; p++)
						yi[p] += w * xj[p];
				}
			}
			float last = acum[L - 1], el = expf(last);
			for (int64_t n = 0; n < N; n++) {
				float *Sn = S + n * P;
				for (int64_t p = 0; p < P; p++)
					Sn[p] *= el;
			}
			for (int64_t j = 0; j < L; j++) {
				const float *Bj = a->B + ((b * T + c0 + j) * G + g) * N;
				float ej = expf(last - acum[j]);
				const float *xj = xdt + j * P;
				for (int64_t n = 0; n < N; n++) {
					float w = ej * Bj[n];
					float *Sn = S + n * P;
					for (int64_t p = 0; p < P; p++)
						Sn[p] += w * xj[p];
				}
			}
			for (int64_t i = 0; i < L; i++) {
				int64_t xi = ((b * T + c0 + i) * H + k) * P;
				for (int64_t p = 0; p < P; p++) {
					float v = yb[i * P + p] + (a->D ? a->D[k] * a->x[xi + p] : 0.0f);
					a->y[xi + p] = a->z ? v * siluf(a->z[xi + p]) : v;
				}
			}
		}
		if (a->hlast)
			for (int64_t n = 0; n < N; n++)
				for (int64_t p = 0; p < P; p++)
					a->hlast[((b * H + k) * P + p) * N + n] = S[n * P + p];
	}
}

static void ssd_gen(const kscan_ssd *a, int64_t lo, int64_t hi, float *S, float *acum,
                    float *xdt, float *yb)
{
	ssd_body(a, lo, hi, S, acum, xdt, yb);
}
#ifdef T2
T2 static void ssd_avx2(const kscan_ssd *a, int64_t lo, int64_t hi, float *S, float *acum,
                        float *xdt, float *yb)
{
	ssd_body(a, lo, hi, S, acum, xdt, yb);
}
#endif

static void ssd_task(void *arg, int64_t lo, int64_t hi)
{
	SsdJob *j = arg;
	const kscan_ssd *a = j->a;
	size_t n = (size_t)(a->N * a->P + a->chunk + 2 * a->chunk * a->P);
	float *buf = malloc((n ? n : 1) * sizeof(float));
	if (!buf) {
		j->bad = 1;
		return;
	}
	float *S = buf, *acum = S + a->N * a->P, *xdt = acum + a->chunk, *yb = xdt + a->chunk * a->P;
#ifdef T2
	if (have_avx2())
		ssd_avx2(a, lo, hi, S, acum, xdt, yb);
	else
#endif
		ssd_gen(a, lo, hi, S, acum, xdt, yb);
	free(buf);
}

int kscan_ssd_f32(kpool *pool, const kscan_ssd *a)
{
	if (a->nb * a->H <= 0 || a->T <= 0 || a->G < 1 || a->H % a->G || a->chunk < 1)
		return a->T <= 0 || a->nb * a->H <= 0 ? 0 : -1;
	SsdJob j = {a, 0};
	kpool_for(pool, a->nb * a->H, 1, ssd_task, &j);
	return j.bad ? -1 : 0;
}

/* ---- linear scan ------------------------------------------------------------ */
#define LIN_BLK 256
typedef struct LinJob {
	int64_t nb, T, inner, nblk;
	const float *a, *b, *h0;
	float *h, *hlast;
} LinJob;

AI void lin_body(const LinJob *j, int64_t lo, int64_t hi)
{
	for (int64_t task = lo; task < hi; task++) {
		int64_t b = task / j->nblk, e0 = (task % j->nblk) * LIN_BLK;
		int64_t ne = j->inner - e0 < LIN_BLK ? j->inner - e0 : LIN_BLK;
		float s[LIN_BLK];
		for (int64_t e = 0; e < ne; e++)
			s[e] = j->h0 ? j->h0[b * j->inner + e0 + e] : 0.0f;
		for (int64_t t = 0; t < j->T; t++) {
			int64_t base = (b * j->T + t) * j->inner + e0;
			const float *at = j->a + base, *bt = j->b + base;
			float *ht = j->h + base;
			for (int64_t e = 0; e < ne; e++) {
				s[e] = at[e] * s[e] + bt[e];
				ht[e] = s[e];
			}
		}
		if (j->hlast)
			memcpy(j->hlast + b * j->inner + e0, s, (size_t)ne * sizeof(float));
	}
}

static void lin_gen(const LinJob *j, int64_t lo, int64_t hi) { lin_body(j, lo, hi); }
#ifdef T2
T2 static void lin_avx2(const LinJob *j, int64_t lo, int64_t hi) { lin_body(j, lo, hi); }
#endif

static void lin_task(void *arg, int64_t lo, int64_t hi)
{
#ifdef T2
	if (have_avx2()) {
		lin_avx2(arg, lo, hi);
		return;
	}
#endif
	lin_gen(arg, lo, hi);
}

int kscan_linear_f32(kpool *pool, int64_t nb, int64_t T, int64_t inner, const float *a,
                     const float *b, const float *h0, float *h, float *hlast)
{
	LinJob j = {nb, T, inner, (inner + LIN_BLK - 1) / LIN_BLK, a, b, h0, h, hlast};
	if (nb * j.nblk <= 0)
		return 0;
	if (T <= 0) {
		if (hlast)
			for (int64_t i = 0; i < nb * inner; i++)
				hlast[i] = h0 ? h0[i] : 0.0f;
		return 0;
	}
	kpool_for(pool, nb * j.nblk, 1, lin_task, &j);
	return 0;
}
