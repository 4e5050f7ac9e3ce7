/* x86-64 GEMM microkernels: AVX2+FMA (6x16 main) and AVX-512 (12x32 main),
 * compiled with target attributes and picked at run time by kgemm.c. */
#include <string.h>
#include "kgemm.h"
#include "kgemm_impl.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define T2 __attribute__((target("avx2,fma")))
#define T5 __attribute__((target("avx512f,avx2,fma")))
#define AI static inline __attribute__((always_inline))

int kg_cpu_level(void)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
		return KGEMM_ISA_GENERIC;
	if (__builtin_cpu_supports("avx512f"))
		return KGEMM_ISA_AVX512;
	return KGEMM_ISA_AVX2;
}

/* ---- vector activations (8 lanes) ---------------------------------------- */
/* exp(x): Cody-Waite reduction by ln 2, degree-6 polynomial, 2^n by exponent
 * bits; inputs clamped to the normal range. */
AI T2 __m256 exp8(__m256 x)
{
	x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
	__m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504089f)),
	                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
	__m256 p = _mm256_set1_ps(1.9875691500e-4f);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
	p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
	__m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n),
	                                               _mm256_set1_epi32(127)), 23);
	return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* erf(x), Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7). */
AI T2 __m256 erf8(__m256 x)
{
	__m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
	__m256 z = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
	__m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
	                         _mm256_fmadd_ps(z, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
	__m256 p = _mm256_set1_ps(1.061405429f);
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
	p = _mm256_mul_ps(p, t);
	__m256 e = exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), z), z));
	__m256 y = _mm256_fnmadd_ps(p, e, _mm256_set1_ps(1.0f));
	return _mm256_or_ps(y, sign);
}

AI T2 __m256 act8(__m256 v, int act)
{
	switch (act) {
	case KGEMM_ACT_RELU:
		return _mm256_max_ps(v, _mm256_setzero_ps());
	case KGEMM_ACT_GELU_ERF: {
		__m256 h = _mm256_mul_ps(v, _mm256_set1_ps(0.5f));
		__m256 e = erf8(_mm256_mul_ps(v, _mm256_set1_ps(0.70710678118654752f)));
		return _mm256_fmadd_ps(h, e, h);
	}
	case KGEMM_ACT_SILU: {
		__m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), v));
		return _mm256_div_ps(v, _mm256_add_ps(e, _mm256_set1_ps(1.0f)));
	}
	case KGEMM_ACT_GELU_TANH: {     /* x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3) */
		__m256 x2 = _mm256_mul_ps(v, v);
		__m256 u = _mm256_mul_ps(v, _mm256_fmadd_ps(x2, _mm256_set1_ps(-0.0713548162726f),
		                                            _mm256_set1_ps(-1.5957691216057308f)));
		return _mm256_div_ps(v, _mm256_add_ps(exp8(u), _mm256_set1_ps(1.0f)));
	}
	default:
		return v;
	}
}

/* One stored vector: alpha*acc + beta*C + bias + res, then the activation. */
AI T2 void put8(float *cp, __m256 v, const float *bias, const float *rp, const kg_store *st)
{
	if (st->alpha != 1.0f)
		v = _mm256_mul_ps(v, _mm256_set1_ps(st->alpha));
	if (st->beta == 1.0f)
		v = _mm256_add_ps(v, _mm256_loadu_ps(cp));
	else if (st->beta != 0.0f)
		v = _mm256_fmadd_ps(_mm256_set1_ps(st->beta), _mm256_loadu_ps(cp), v);
	if (bias)
		v = _mm256_add_ps(v, _mm256_loadu_ps(bias));
	if (rp)
		v = _mm256_add_ps(v, _mm256_loadu_ps(rp));
	if (st->act)
		v = act8(v, st->act);
	_mm256_storeu_ps(cp, v);
}

/* Edge tiles go through a full-size scratch tile so that no load or store
 * leaves the mr x nr corner of C (or bias, or the residual). */
#define EDGE_BEGIN(W)                                                         \
	float tmp_[KG_MAXR * KG_MAXP * 16], tb_[KG_MAXP * 16];                \
	float tr_[KG_MAXR * KG_MAXP * 16];                                    \
	int full_ = mr == R && nr == (W);                                     \
	float *cc_ = c;                                                       \
	int64_t ldo_ = ldc, ldr_ = st->ldr;                                   \
	const float *bo_ = st->bias, *ro_ = st->res;                          \
	if (!full_) {                                                         \
		if (ro_) {                                                    \
			memset(tr_, 0, sizeof(float) * R * (W));              \
			for (int i = 0; i < mr; i++)                          \
				memcpy(tr_ + i * (W), ro_ + i * ldr_, nr * sizeof(float)); \
			ro_ = tr_;                                            \
			ldr_ = (W);                                           \
		}                                                             \
		cc_ = tmp_;                                                   \
		ldo_ = (W);                                                   \
		if (st->beta != 0.0f)                                         \
			for (int i = 0; i < mr; i++)                          \
				memcpy(tmp_ + i * (W), c + i * ldc, nr * sizeof(float)); \
		if (bo_) {                                                    \
			memset(tb_, 0, sizeof tb_);                           \
			memcpy(tb_, bo_, nr * sizeof(float));                 \
			bo_ = tb_;                                            \
		}                                                             \
	}
#define EDGE_END(W)                                                           \
	if (!full_)                                                           \
		for (int i = 0; i < mr; i++)                                  \
			memcpy(c + i * ldc, tmp_ + i * (W), nr * sizeof(float));

/* One k step's software prefetch of the next panels (kg_store.pf): one
 * line in each of pfn panels; the branches go the same way all tile long. */
#ifndef KG_PF_HINT
#define KG_PF_HINT _MM_HINT_T1
#endif
#define PREFETCH_STEP()                                                       \
	do {                                                                  \
		if (pfn) {                                                    \
			_mm_prefetch(pf, KG_PF_HINT);                         \
			if (pfn > 1) {                                        \
				_mm_prefetch(pf + pfs, KG_PF_HINT);           \
				if (pfn > 2) {                                \
					_mm_prefetch(pf + 2 * pfs, KG_PF_HINT); \
					if (pfn > 3)                          \
						_mm_prefetch(pf + 3 * pfs, KG_PF_HINT); \
				}                                             \
			}                                                     \
			pf += 64;                                             \
		}                                                             \
	} while (0)

/* ---- AVX2: R rows x NP panels, 2 ymm per panel row ------------------------ */
AI T2 void body2(const int R, const int NP, int64_t k, const float *a, int64_t rsa,
                 int64_t csa, const float *b, int64_t rsb, int64_t psb,
                 float *c, int64_t ldc, int mr, int nr, const kg_store *st)
{
	__m256 acc[KG_MAXR][2 * KG_MAXP];
#pragma GCC unroll 16
	for (int i = 0; i < R; i++)
#pragma GCC unroll 8
		for (int j = 0; j < 2 * NP; j++)
			acc[i][j] = _mm256_setzero_ps();
	const char *pf = (const char *)st->pf;
	int pfn = pf ? st->pfn : 0;
	int64_t pfs = st->pfs * (int64_t)sizeof(float);
	for (int64_t p = 0; p < k; p++) {
		__m256 bv[2 * KG_MAXP];
		PREFETCH_STEP();
#pragma GCC unroll 4
		for (int q = 0; q < NP; q++) {
			bv[2 * q] = _mm256_loadu_ps(b + q * psb);
			bv[2 * q + 1] = _mm256_loadu_ps(b + q * psb + 8);
		}
#pragma GCC unroll 16
		for (int i = 0; i < R; i++) {
			__m256 av = _mm256_broadcast_ss(a + i * rsa);
#pragma GCC unroll 8
			for (int j = 0; j < 2 * NP; j++)
				acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
		}
		a += csa;
		b += rsb;
	}
	EDGE_BEGIN(16 * NP)
#pragma GCC unroll 16
	for (int i = 0; i < R; i++)
#pragma GCC unroll 8
		for (int j = 0; j < 2 * NP; j++)
			put8(cc_ + i * ldo_ + 8 * j, acc[i][j], bo_ ? bo_ + 8 * j : NULL,
			     ro_ ? ro_ + i * ldr_ + 8 * j : NULL, st);
	EDGE_END(16 * NP)
}

#define UKR2(R, NP)                                                              \
	static T2 void u2_##R##_##NP(int64_t k, const float *a, int64_t rsa,     \
	                             int64_t csa, const float *b, int64_t rsb,    \
	                             int64_t psb, float *c, int64_t ldc, int mr,  \
	                             int nr, const kg_store *st)                  \
	{ body2(R, NP, k, a, rsa, csa, b, rsb, psb, c, ldc, mr, nr, st); }
UKR2(1, 1) UKR2(1, 2) UKR2(1, 3) UKR2(1, 4)
UKR2(2, 1) UKR2(2, 2) UKR2(2, 3)
UKR2(3, 1) UKR2(3, 2)
UKR2(4, 1) UKR2(5, 1) UKR2(6, 1)

/* packed A: constant strides, so the broadcasts use fixed offsets */
static T2 void u2p_6_1(int64_t k, const float *a, int64_t rsa, int64_t csa,
                       const float *b, int64_t rsb, int64_t psb, float *c,
                       int64_t ldc, int mr, int nr, const kg_store *st)
{ body2(6, 1, k, a, 1, 6, b, rsb, psb, c, ldc, mr, nr, st); }

static const kg_impl avx2_impl = {
	.name = "avx2", .mr = 6, .kc = 512, .mc = 60, .nc = 1024,
	.maxnp = {0, 4, 3, 2, 1, 1, 1},
	.k = {
		[1] = {NULL, u2_1_1, u2_1_2, u2_1_3, u2_1_4},
		[2] = {NULL, u2_2_1, u2_2_2, u2_2_3},
		[3] = {NULL, u2_3_1, u2_3_2},
		[4] = {NULL, u2_4_1}, [5] = {NULL, u2_5_1}, [6] = {NULL, u2_6_1},
	},
	.kp = {NULL, u2p_6_1},
};
const kg_impl *kg_avx2(void) { return &avx2_impl; }

/* ---- AVX-512: R rows x NP panels, 1 zmm per panel row --------------------- */
/* 1/d: the 14-bit estimate and one Newton step (~23 bits; cheaper than a
 * 512-bit division, which Zen 4 splits in two). */
AI T5 __m512 rcp16(__m512 d)
{
	__m512 r = _mm512_rcp14_ps(d);
	return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

/* exp16 / erf16: exp8 / erf8 on 16 lanes (erf16 with rcp16 for the
 * division). */
AI T5 __m512 exp16(__m512 x)
{
	x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.3f));
	__m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504089f)),
	                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
	r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
	__m512 p = _mm512_set1_ps(1.9875691500e-4f);
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
	p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
	__m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n),
	                                               _mm512_set1_epi32(127)), 23);
	return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

AI T5 __m512 erf16(__m512 x)
{
	__m512i sm = _mm512_set1_epi32((int)0x80000000u);
	__m512i xi = _mm512_castps_si512(x);
	__m512i sign = _mm512_and_si512(xi, sm);
	__m512 z = _mm512_castsi512_ps(_mm512_andnot_si512(sm, xi));
	__m512 t = rcp16(_mm512_fmadd_ps(z, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
	__m512 p = _mm512_set1_ps(1.061405429f);
	p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
	p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
	p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
	p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
	p = _mm512_mul_ps(p, t);
	__m512 e = exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), z), z));
	__m512 y = _mm512_fnmadd_ps(p, e, _mm512_set1_ps(1.0f));
	return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(y), sign));
}

AI T5 __m512 act16(__m512 v, int act)
{
	switch (act) {
	case KGEMM_ACT_RELU:
		return _mm512_max_ps(v, _mm512_setzero_ps());
	case KGEMM_ACT_GELU_ERF: {
		__m512 h = _mm512_mul_ps(v, _mm512_set1_ps(0.5f));
		__m512 e = erf16(_mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f)));
		return _mm512_fmadd_ps(h, e, h);
	}
	case KGEMM_ACT_SILU: {
		__m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), v));
		return _mm512_mul_ps(v, rcp16(_mm512_add_ps(e, _mm512_set1_ps(1.0f))));
	}
	case KGEMM_ACT_GELU_TANH: {
		__m512 x2 = _mm512_mul_ps(v, v);
		__m512 u = _mm512_mul_ps(v, _mm512_fmadd_ps(x2, _mm512_set1_ps(-0.0713548162726f),
		                                            _mm512_set1_ps(-1.5957691216057308f)));
		return _mm512_mul_ps(v, rcp16(_mm512_add_ps(exp16(u), _mm512_set1_ps(1.0f))));
	}
	default:
		return v;
	}
}

AI T5 void put16(float *cp, __m512 v, const float *bias, const float *rp, const kg_store *st)
{
	if (st->alpha != 1.0f)
		v = _mm512_mul_ps(v, _mm512_set1_ps(st->alpha));
	if (st->beta == 1.0f)
		v = _mm512_add_ps(v, _mm512_loadu_ps(cp));
	else if (st->beta != 0.0f)
		v = _mm512_fmadd_ps(_mm512_set1_ps(st->beta), _mm512_loadu_ps(cp), v);
	if (bias)
		v = _mm512_add_ps(v, _mm512_loadu_ps(bias));
	if (rp)
		v = _mm512_add_ps(v, _mm512_loadu_ps(rp));
	if (st->act)
		v = act16(v, st->act);
	_mm512_storeu_ps(cp, v);
}

AI T5 void body5(const int R, const int NP, int64_t k, const float *a, int64_t rsa,
                 int64_t csa, const float *b, int64_t rsb, int64_t psb,
                 float *c, int64_t ldc, int mr, int nr, const kg_store *st)
{
	__m512 acc[KG_MAXR][KG_MAXP];
#pragma GCC unroll 16
	for (int i = 0; i < R; i++)
#pragma GCC unroll 4
		for (int j = 0; j < NP; j++)
			acc[i][j] = _mm512_setzero_ps();
	const char *pf = (const char *)st->pf;
	int pfn = pf ? st->pfn : 0;
	int64_t pfs = st->pfs * (int64_t)sizeof(float);
	for (int64_t p = 0; p < k; p++) {
		__m512 bv[KG_MAXP];
		PREFETCH_STEP();
#pragma GCC unroll 4
		for (int q = 0; q < NP; q++)
			bv[q] = _mm512_loadu_ps(b + q * psb);
#pragma GCC unroll 16
		for (int i = 0; i < R; i++) {
			__m512 av = _mm512_set1_ps(a[i * rsa]);
#pragma GCC unroll 4
			for (int j = 0; j < NP; j++)
				acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
		}
		a += csa;
		b += rsb;
	}
	EDGE_BEGIN(16 * NP)
#pragma GCC unroll 16
	for (int i = 0; i < R; i++)
#pragma GCC unroll 4
		for (int j = 0; j < NP; j++)
			put16(cc_ + i * ldo_ + 16 * j, acc[i][j], bo_ ? bo_ + 16 * j : NULL,
			      ro_ ? ro_ + i * ldr_ + 16 * j : NULL, st);
	EDGE_END(16 * NP)
}

#define UKR5(R, NP)                                                              \
	static T5 void u5_##R##_##NP(int64_t k, const float *a, int64_t rsa,     \
	                             int64_t csa, const float *b, int64_t rsb,    \
	                             int64_t psb, float *c, int64_t ldc, int mr,  \
	                             int nr, const kg_store *st)                  \
	{ body5(R, NP, k, a, rsa, csa, b, rsb, psb, c, ldc, mr, nr, st); }
UKR5(1, 1) UKR5(1, 2) UKR5(1, 3) UKR5(1, 4)
UKR5(2, 1) UKR5(2, 2) UKR5(2, 3) UKR5(2, 4)
UKR5(3, 1) UKR5(3, 2) UKR5(3, 3) UKR5(3, 4)
UKR5(4, 1) UKR5(4, 2) UKR5(4, 3) UKR5(4, 4)
UKR5(5, 1) UKR5(5, 2) UKR5(5, 3) UKR5(5, 4)
UKR5(6, 1) UKR5(6, 2) UKR5(6, 3) UKR5(6, 4)
UKR5(7, 1) UKR5(7, 2) UKR5(7, 3)
UKR5(8, 1) UKR5(8, 2) UKR5(8, 3)
UKR5(9, 1) UKR5(9, 2) UKR5(10, 1) UKR5(10, 2)
UKR5(11, 1) UKR5(11, 2) UKR5(12, 1) UKR5(12, 2)

#define UKR5P(NP)                                                               \
	static T5 void u5p_##NP(int64_t k, const float *a, int64_t rsa,         \
	                        int64_t csa, const float *b, int64_t rsb,        \
	                        int64_t psb, float *c, int64_t ldc, int mr,      \
	                        int nr, const kg_store *st)                      \
	{ body5(12, NP, k, a, 1, 12, b, rsb, psb, c, ldc, mr, nr, st); }
UKR5P(1) UKR5P(2)

/* 12 rows of A into a packed panel: 16 columns of each row loaded at once,
 * the 16 x 16 block (4 rows zero) transposed in registers, each column's 12
 * values stored with one masked store; the column tail one value at a time. */
static T5 void pack_a12(const float *a, int64_t rsa, int64_t kb, float *dst)
{
	int64_t k = 0;
	for (; k + 16 <= kb; k += 16) {
		__m512 v[16], t[16];
		for (int r = 0; r < 12; r++)
			v[r] = _mm512_loadu_ps(a + r * rsa + k);
		for (int r = 12; r < 16; r++)
			v[r] = _mm512_setzero_ps();
		/* 4 x 4 blocks of 4 x 4: unpack pairs, then 64-bit pairs, then
		 * 128-bit lanes (twice) */
		for (int r = 0; r < 16; r += 2) {
			t[r] = _mm512_unpacklo_ps(v[r], v[r + 1]);
			t[r + 1] = _mm512_unpackhi_ps(v[r], v[r + 1]);
		}
		for (int r = 0; r < 16; r += 4) {
			v[r] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[r]), _mm512_castps_pd(t[r + 2])));
			v[r + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[r]), _mm512_castps_pd(t[r + 2])));
			v[r + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[r + 1]), _mm512_castps_pd(t[r + 3])));
			v[r + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[r + 1]), _mm512_castps_pd(t[r + 3])));
		}
		/* v[4q + c] now holds, per 128-bit lane L, rows 4q..4q+3 of column
		 * 4L + c; gather the four row quads of each column */
		for (int c = 0; c < 4; c++) {
			__m512 a01 = _mm512_shuffle_f32x4(v[c], v[4 + c], 0x44);      /* q0 L0 L1, q1 L0 L1 */
			__m512 a23 = _mm512_shuffle_f32x4(v[8 + c], v[12 + c], 0x44);
			__m512 b01 = _mm512_shuffle_f32x4(v[c], v[4 + c], 0xee);      /* L2 L3 */
			__m512 b23 = _mm512_shuffle_f32x4(v[8 + c], v[12 + c], 0xee);
			t[c] = _mm512_shuffle_f32x4(a01, a23, 0x88);                  /* column c      */
			t[4 + c] = _mm512_shuffle_f32x4(a01, a23, 0xdd);              /* column 4 + c  */
			t[8 + c] = _mm512_shuffle_f32x4(b01, b23, 0x88);              /* column 8 + c  */
			t[12 + c] = _mm512_shuffle_f32x4(b01, b23, 0xdd);             /* column 12 + c */
		}
		for (int c = 0; c < 16; c++)
			_mm512_mask_storeu_ps(dst + (k + c) * 12, 0x0fff, t[c]);
	}
	for (; k < kb; k++)
		for (int r = 0; r < 12; r++)
			dst[k * 12 + r] = a[r * rsa + k];
}

static const kg_impl avx512_impl = {
	.name = "avx512", .mr = 12, .kc = 512, .mc = 48, .nc = 1024,
	.maxnp = {0, 4, 4, 4, 4, 4, 4, 3, 3, 2, 2, 2, 2},
	.k = {
		[1] = {NULL, u5_1_1, u5_1_2, u5_1_3, u5_1_4},
		[2] = {NULL, u5_2_1, u5_2_2, u5_2_3, u5_2_4},
		[3] = {NULL, u5_3_1, u5_3_2, u5_3_3, u5_3_4},
		[4] = {NULL, u5_4_1, u5_4_2, u5_4_3, u5_4_4},
		[5] = {NULL, u5_5_1, u5_5_2, u5_5_3, u5_5_4},
		[6] = {NULL, u5_6_1, u5_6_2, u5_6_3, u5_6_4},
		[7] = {NULL, u5_7_1, u5_7_2, u5_7_3},
		[8] = {NULL, u5_8_1, u5_8_2, u5_8_3},
		[9] = {NULL, u5_9_1, u5_9_2}, [10] = {NULL, u5_10_1, u5_10_2},
		[11] = {NULL, u5_11_1, u5_11_2}, [12] = {NULL, u5_12_1, u5_12_2},
	},
	.kp = {NULL, u5p_1, u5p_2},
	.pack_a = pack_a12,
};
const kg_impl *kg_avx512(void) { return &avx512_impl; }

#else
int kg_cpu_level(void) { return KGEMM_ISA_GENERIC; }
const kg_impl *kg_avx2(void) { return NULL; }
const kg_impl *kg_avx512(void) { return NULL; }
#endif
