/* Helpers shared by runtime/kdyn*.c (internal). */
#ifndef VIBEE_KDYN_INT_H
#define VIBEE_KDYN_INT_H
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "kdyn.h"

/* input i present (not an omitted optional input)? */
static inline bool kd_has(const KCall *c, int i)
{
	return i < c->nin && c->in[i].dt != DT_UNDEF;
}

static inline int64_t kd_i(const KTensor *t, int64_t i)
{
	return dt_load_i(t->dt, t->data, (size_t)i);
}

static inline double kd_f(const KTensor *t, int64_t i)
{
	return dt_load_f(t->dt, t->data, (size_t)i);
}

/* row-major strides of dims[0..r) */
static inline void kd_strides(const int64_t *dims, int r, int64_t *st)
{
	int64_t s = 1;
	for (int i = r - 1; i >= 0; i--) {
		st[i] = s;
		s *= dims[i];
	}
}

static inline int64_t kd_numel(const int64_t *dims, int r)
{
	int64_t n = 1;
	for (int i = 0; i < r; i++)
		n *= dims[i];
	return n;
}

/* advance a row-major counter idx over dims; false after the last */
static inline bool kd_next(int64_t *idx, const int64_t *dims, int r)
{
	for (int i = r - 1; i >= 0; i--) {
		if (++idx[i] < dims[i])
			return true;
		idx[i] = 0;
	}
	return false;
}

/* normalise axis a against rank r; false if out of range */
static inline bool kd_axis(int64_t a, int r, int *out)
{
	if (a < -r || a >= r)
		return false;
	*out = (int)(a < 0 ? a + r : a);
	return true;
}

/* a rank-0/1 integer input's values into v (at most max); count or -1 */
static inline int kd_ints(const KTensor *t, int64_t *v, int max)
{
	if (t->dt != DT_I64 && t->dt != DT_I32)
		return -1;
	if (t->rank > 1)
		return -1;
	int64_t n = t->rank == 0 ? 1 : t->dims[0];
	if (n < 0 || n > max)
		return -1;
	for (int64_t i = 0; i < n; i++)
		v[i] = kd_i(t, i);
	return (int)n;
}

/* -1, 0, 1: element i of t against element j (exact for 64-bit ints) */
static inline int kd_cmp_at(const KTensor *t, int64_t i, int64_t j)
{
	if (dt_is_float(t->dt)) {
		double a = kd_f(t, i), b = kd_f(t, j);
		return a < b ? -1 : a > b;
	}
	if (t->dt == DT_U64) {
		uint64_t a = dt_load_u(t->dt, t->data, (size_t)i), b = dt_load_u(t->dt, t->data, (size_t)j);
		return a < b ? -1 : a > b;
	}
	int64_t a = kd_i(t, i), b = kd_i(t, j);
	return a < b ? -1 : a > b;
}

/* output i is unused (optional, the model does not read it) */
static inline bool kd_skip(const KCall *c, int i)
{
	return i >= c->nout || c->out[i].dt == DT_UNDEF;
}
#endif
