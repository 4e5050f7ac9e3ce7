/* Helpers of the reference-kernel ABI: op names, attribute lookup, error
 * reporting, output shaping. Linked into the compiler and into every
 * model.so. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kern.h"

const char *const op_names[OP_COUNT] = {
#define OP(id, ...) #id,
#include "ops.def"
#undef OP
};

int op_lookup(const char *name)
{
	for (int i = 0; i < OP_COUNT; i++)
		if (strcmp(op_names[i], name) == 0)
			return i;
	return -1;
}

int kerr(KCall *c, const char *fmt, ...)
{
	if (c->err && c->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return 1;
}

const KAttr *kattr(const KCall *c, const char *name)
{
	for (int i = 0; i < c->nattr; i++)
		if (strcmp(c->attr[i].name, name) == 0)
			return &c->attr[i];
	return NULL;
}

int64_t kattr_i(const KCall *c, const char *name, int64_t def)
{
	const KAttr *a = kattr(c, name);
	return a && a->kind == AK_INT ? a->i : a && a->kind == AK_FLOAT ? (int64_t)a->f : def;
}

double kattr_f(const KCall *c, const char *name, double def)
{
	const KAttr *a = kattr(c, name);
	return a && a->kind == AK_FLOAT ? a->f : a && a->kind == AK_INT ? (double)a->i : def;
}

const char *kattr_s(const KCall *c, const char *name, const char *def)
{
	const KAttr *a = kattr(c, name);
	return a && a->kind == AK_STRING ? a->s : def;
}

int kattr_ints(const KCall *c, const char *name, const int64_t **v)
{
	const KAttr *a = kattr(c, name);
	if (!a || a->kind != AK_INTS) {
		*v = NULL;
		return 0;
	}
	*v = a->ints;
	return a->n;
}

int kattr_floats(const KCall *c, const char *name, const float **v)
{
	const KAttr *a = kattr(c, name);
	if (!a || a->kind != AK_FLOATS) {
		*v = NULL;
		return 0;
	}
	*v = a->floats;
	return a->n;
}

int64_t kt_numel(const KTensor *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->rank; i++)
		n *= t->dims[i];
	return n;
}

size_t kt_nbytes(const KTensor *t) { return (size_t)kt_numel(t) * dt_size(t->dt); }

void kt_bstrides(const KTensor *t, int rank, const int64_t *odims, int64_t *strides)
{
	int64_t s = 1;
	(void)odims;
	for (int i = rank - 1; i >= 0; i--) {
		int k = i - (rank - t->rank);
		if (k < 0) {
			strides[i] = 0;
			continue;
		}
		strides[i] = t->dims[k] == 1 ? 0 : s;
		s *= t->dims[k];
	}
}

int kout(KCall *c, int i, int rank, const int64_t *dims)
{
	KTensor *o = &c->out[i];
	if (rank < 0 || rank > K_MAXRANK)
		return kerr(c, "output %d: rank %d out of range", i, rank);
	if (o->data) {
		if (o->rank != rank)
			return kerr(c, "output %d: expected rank %d, computed %d", i, o->rank, rank);
		for (int k = 0; k < rank; k++)
			if (o->dims[k] != dims[k])
				return kerr(c, "output %d: dim %d is %lld, computed %lld", i, k,
				            (long long)o->dims[k], (long long)dims[k]);
		return 0;
	}
	int64_t n = 1;
	for (int k = 0; k < rank; k++) {
		if (dims[k] < 0 || (dims[k] && n > INT64_MAX / 4 / dims[k]))
			return kerr(c, "output %d: dim %d (%lld) invalid or too large", i, k, (long long)dims[k]);
		n *= dims[k];
	}
	size_t bytes = (size_t)n * dt_size(o->dt);
	if (!c->alloc)
		return kerr(c, "output %d: shape unknown and no allocator", i);
	o->rank = rank;
	for (int k = 0; k < rank; k++)
		o->dims[k] = dims[k];
	o->data = c->alloc(c->actx, bytes ? bytes : 1);
	if (!o->data)
		return kerr(c, "output %d: out of memory (%zu bytes)", i, bytes);
	return 0;
}
