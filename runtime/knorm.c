/* Row kernels of the normalisations in the kernel library: one LayerNorm row
 * y = (x - mean) * rstd * scale (+ bias), mean and variance in two passes
 * over the row (as the reference kernel: no E[x^2] - mean^2 cancellation).
 * The library is compiled for the baseline ISA, so the row routine is
 * compiled once per ISA with GCC vector extensions (plain 4 lanes, AVX2 8,
 * AVX-512 16) and picked once by the CPU this runs on. Each vector lane
 * keeps its own partial sum; lanes are added at the end of the row. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "knorm.h"

typedef float v4 __attribute__((vector_size(16)));
typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

#define KN_ROW(SFX, ATTR, VT, VW)                                                \
static ATTR float hsum_##SFX(VT v)                                               \
{                                                                                \
	float s = 0;                                                             \
	for (int k = 0; k < VW; k++)                                             \
		s += v[k];                                                       \
	return s;                                                                \
}                                                                                \
static ATTR VT ld_##SFX(const float *p)                                          \
{                                                                                \
	VT v;                                                                    \
	memcpy(&v, p, sizeof v);                                                 \
	return v;                                                                \
}                                                                                \
static ATTR void ln_row_##SFX(const float *x, float *y, int64_t n,              \
                              const float *scale, const float *bias, float eps) \
{                                                                                \
	VT s0 = {0}, s1 = {0};                                                   \
	int64_t i = 0;                                                           \
	for (; i + 2 * VW <= n; i += 2 * VW) {                                   \
		s0 += ld_##SFX(x + i);                                           \
		s1 += ld_##SFX(x + i + VW);                                      \
	}                                                                        \
	float s = hsum_##SFX(s0 + s1);                                           \
	for (; i < n; i++)                                                       \
		s += x[i];                                                       \
	float mean = s / (float)n;                                               \
	VT mv = (VT){0} + mean;                                                  \
	s0 = (VT){0};                                                            \
	s1 = (VT){0};                                                            \
	for (i = 0; i + 2 * VW <= n; i += 2 * VW) {                              \
		VT d0 = ld_##SFX(x + i) - mv, d1 = ld_##SFX(x + i + VW) - mv;    \
		s0 += d0 * d0;                                                   \
		s1 += d1 * d1;                                                   \
	}                                                                        \
	s = hsum_##SFX(s0 + s1);                                                 \
	for (; i < n; i++)                                                       \
		s += (x[i] - mean) * (x[i] - mean);                              \
	float rstd = 1.0f / sqrtf(s / (float)n + eps);                           \
	VT rv = (VT){0} + rstd;                                                  \
	for (i = 0; i + VW <= n; i += VW) {                                      \
		VT v = (ld_##SFX(x + i) - mv) * rv * ld_##SFX(scale + i);        \
		if (bias)                                                        \
			v += ld_##SFX(bias + i);                                 \
		memcpy(y + i, &v, sizeof v);                                     \
	}                                                                        \
	for (; i < n; i++)                                                       \
		y[i] = (x[i] - mean) * rstd * scale[i] + (bias ? bias[i] : 0.0f); \
}

KN_ROW(gen, , v4, 4)
#if defined(__x86_64__) && defined(__GNUC__)
KN_ROW(avx2, __attribute__((target("avx2,fma"))), v8, 8)
KN_ROW(avx512, __attribute__((target("avx512f"))), v16, 16)
#endif

typedef void (*ln_row_fn)(const float *, float *, int64_t, const float *,
                          const float *, float);

static ln_row_fn pick(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		return ln_row_avx512;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return ln_row_avx2;
#endif
	return ln_row_gen;
}

void knorm_layer_rows(int64_t r0, int64_t r1, int64_t len, const float *x,
                      const float *scale, const float *bias, float eps, float *y)
{
	static ln_row_fn fn;    /* every thread that races here stores the same */
	ln_row_fn f = __atomic_load_n(&fn, __ATOMIC_RELAXED);
	if (!f) {
		f = pick();
		__atomic_store_n(&fn, f, __ATOMIC_RELAXED);
	}
	for (int64_t r = r0; r < r1; r++)
		f(x + r * len, y + r * len, len, scale, bias, eps);
}
