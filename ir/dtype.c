/* Element types: sizes, names, half-precision conversion and the generic
 * load/store the reference kernels use to serve every dtype with one loop. */
#include <math.h>
#include <string.h>
#include "dtype.h"

static const struct { const char *name; unsigned char size; } dt_tab[DT_COUNT] = {
	[DT_UNDEF] = {"?", 0},     [DT_F32] = {"f32", 4},  [DT_U8] = {"u8", 1},
	[DT_I8] = {"i8", 1},       [DT_U16] = {"u16", 2},  [DT_I16] = {"i16", 2},
	[DT_I32] = {"i32", 4},     [DT_I64] = {"i64", 8},  [DT_STRING] = {"string", 0},
	[DT_BOOL] = {"bool", 1},   [DT_F16] = {"f16", 2},  [DT_F64] = {"f64", 8},
	[DT_U32] = {"u32", 4},     [DT_U64] = {"u64", 8},  [DT_C64] = {"c64", 0},
	[DT_C128] = {"c128", 0},   [DT_BF16] = {"bf16", 2},
};

size_t dt_size(int dt) { return dt > 0 && dt < DT_COUNT ? dt_tab[dt].size : 0; }
const char *dt_name(int dt) { return dt >= 0 && dt < DT_COUNT ? dt_tab[dt].name : "?"; }

int dt_parse(const char *s)
{
	for (int i = 1; i < DT_COUNT; i++)
		if (strcmp(s, dt_tab[i].name) == 0)
			return i;
	return DT_UNDEF;
}

int dt_is_float(int dt) { return dt == DT_F32 || dt == DT_F64 || dt == DT_F16 || dt == DT_BF16; }
int dt_is_int(int dt)
{
	return dt == DT_I8 || dt == DT_I16 || dt == DT_I32 || dt == DT_I64 ||
	       dt == DT_U8 || dt == DT_U16 || dt == DT_U32 || dt == DT_U64;
}
int dt_is_signed(int dt)
{
	return dt_is_float(dt) || dt == DT_I8 || dt == DT_I16 || dt == DT_I32 || dt == DT_I64;
}

static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bitsf(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
	if (exp == 0x1f)
		return bitsf(sign | 0x7f800000u | (man << 13));
	if (exp == 0) {
		float v = ldexpf((float)man, -24);
		return sign ? -v : v;
	}
	return bitsf(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t f32_to_f16(float f)
{
	uint32_t u = fbits(f), sign = (u >> 16) & 0x8000;
	uint32_t a = u & 0x7fffffffu;
	if (a >= 0x7f800000u)   /* inf or nan */
		return (uint16_t)(sign | 0x7c00 | (a > 0x7f800000u ? 0x200 | ((a >> 13) & 0x3ff) : 0));
	if (a >= 0x477ff000u)   /* rounds to >= 65520: overflow to inf */
		return (uint16_t)(sign | 0x7c00);
	if (a < 0x38800000u) {  /* subnormal in f16 (< 2^-14) */
		/* value / 2^-24 rounded to nearest even */
		float v = bitsf(a) * 16777216.0f;
		uint32_t m = (uint32_t)lrintf(v);   /* default rounding: nearest even */
		return (uint16_t)(sign | m);
	}
	uint32_t e = (a >> 23) - 112, m = a & 0x7fffff;
	uint32_t h = (e << 10) | (m >> 13);
	uint32_t rest = m & 0x1fff;
	if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
		h++;
	return (uint16_t)(sign | h);
}

float bf16_to_f32(uint16_t h) { return bitsf((uint32_t)h << 16); }

uint16_t f32_to_bf16(float f)
{
	uint32_t u = fbits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fff + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

double dt_load_f(int dt, const void *p, size_t i)
{
	switch (dt) {
	case DT_F32: return ((const float *)p)[i];
	case DT_F64: return ((const double *)p)[i];
	case DT_F16: return f16_to_f32(((const uint16_t *)p)[i]);
	case DT_BF16: return bf16_to_f32(((const uint16_t *)p)[i]);
	case DT_U64: return (double)((const uint64_t *)p)[i];
	case DT_U32: return ((const uint32_t *)p)[i];
	case DT_U16: return ((const uint16_t *)p)[i];
	case DT_U8: case DT_BOOL: return ((const uint8_t *)p)[i];
	case DT_I8: case DT_I16: case DT_I32: case DT_I64: return (double)dt_load_i(dt, p, i);
	default: return 0;   /* no numeric value (undef, string, complex) */
	}
}

int64_t dt_load_i(int dt, const void *p, size_t i)
{
	switch (dt) {
	case DT_I8: return ((const int8_t *)p)[i];
	case DT_I16: return ((const int16_t *)p)[i];
	case DT_I32: return ((const int32_t *)p)[i];
	case DT_I64: return ((const int64_t *)p)[i];
	case DT_U8: case DT_BOOL: return ((const uint8_t *)p)[i];
	case DT_U16: return ((const uint16_t *)p)[i];
	case DT_U32: return ((const uint32_t *)p)[i];
	case DT_U64: return (int64_t)((const uint64_t *)p)[i];
	default: {
		if (!dt_is_float(dt))
			return 0;
		double v = dt_load_f(dt, p, i);
		if (v != v) return 0;
		if (v >= 9.2233720368547758e18) return INT64_MAX;
		if (v <= -9.2233720368547758e18) return INT64_MIN;
		return (int64_t)v;
	}
	}
}

uint64_t dt_load_u(int dt, const void *p, size_t i)
{
	if (dt == DT_U64)
		return ((const uint64_t *)p)[i];
	if (dt_is_float(dt)) {
		double v = dt_load_f(dt, p, i);
		if (v != v || v <= 0) return v < 0 ? (uint64_t)(int64_t)v : 0;
		if (v >= 1.8446744073709552e19) return UINT64_MAX;
		return (uint64_t)v;
	}
	return (uint64_t)dt_load_i(dt, p, i);
}

void dt_store_f(int dt, void *p, size_t i, double v)
{
	switch (dt) {
	case DT_F32: ((float *)p)[i] = (float)v; return;
	case DT_F64: ((double *)p)[i] = v; return;
	case DT_F16: ((uint16_t *)p)[i] = f32_to_f16((float)v); return;
	case DT_BF16: ((uint16_t *)p)[i] = f32_to_bf16((float)v); return;
	case DT_BOOL: ((uint8_t *)p)[i] = v != 0; return;
	case DT_U64:
		((uint64_t *)p)[i] = v != v ? 0 : v < 0 ? (uint64_t)(int64_t)v
		                   : v >= 1.8446744073709552e19 ? UINT64_MAX : (uint64_t)v;
		return;
	default: {
		int64_t x = v != v ? 0 : v >= 9.2233720368547758e18 ? INT64_MAX
		          : v <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)v;
		dt_store_i(dt, p, i, x);
	}
	}
}

void dt_store_i(int dt, void *p, size_t i, int64_t v)
{
	switch (dt) {
	case DT_I8: ((int8_t *)p)[i] = (int8_t)v; return;
	case DT_I16: ((int16_t *)p)[i] = (int16_t)v; return;
	case DT_I32: ((int32_t *)p)[i] = (int32_t)v; return;
	case DT_I64: ((int64_t *)p)[i] = v; return;
	case DT_U8: ((uint8_t *)p)[i] = (uint8_t)v; return;
	case DT_BOOL: ((uint8_t *)p)[i] = v != 0; return;
	case DT_U16: ((uint16_t *)p)[i] = (uint16_t)v; return;
	case DT_U32: ((uint32_t *)p)[i] = (uint32_t)v; return;
	case DT_U64: ((uint64_t *)p)[i] = (uint64_t)v; return;
	default: dt_store_f(dt, p, i, (double)v);
	}
}

void dt_store_u(int dt, void *p, size_t i, uint64_t v)
{
	if (dt == DT_U64)
		((uint64_t *)p)[i] = v;
	else if (dt_is_float(dt))
		dt_store_f(dt, p, i, (double)v);
	else
		dt_store_i(dt, p, i, (int64_t)v);
}
