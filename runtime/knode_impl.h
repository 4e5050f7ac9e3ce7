/* Helpers shared by the runtime/knode_*.c kernels (not part of the ABI). */
#ifndef VIBEE_KNODE_IMPL_H
#define VIBEE_KNODE_IMPL_H
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "knode.h"

static inline double kn_ld(const KTensor *t, int64_t i) { return dt_load_f(t->dt, t->data, (size_t)i); }
static inline int64_t kn_ldi(const KTensor *t, int64_t i) { return dt_load_i(t->dt, t->data, (size_t)i); }
static inline void kn_st(KTensor *t, int64_t i, double v) { dt_store_f(t->dt, t->data, (size_t)i, v); }
static inline void kn_sti(KTensor *t, int64_t i, int64_t v) { dt_store_i(t->dt, t->data, (size_t)i, v); }
/* input i present (not omitted, and not empty: an empty optional input counts as omitted) */
static inline int kn_has(const KCall *c, int i)
{
	return i < c->nin && c->in[i].data && c->in[i].dt != DT_UNDEF && kt_numel(&c->in[i]) > 0;
}
/* output i wanted? */
static inline int kn_want(const KCall *c, int i) { return i < c->nout && c->out[i].dt != DT_UNDEF; }
static inline int kn_opset(const KCall *c) { return (int)kattr_i(c, "_opset", 1); }
static inline int64_t kn_prod(const int64_t *d, int lo, int hi)
{
	int64_t n = 1;
	for (int i = lo; i < hi; i++)
		n *= d[i];
	return n;
}
/* normalise axis a against rank r; -1 when out of range */
static inline int kn_axis(int64_t a, int r)
{
	if (a < 0)
		a += r;
	return a < 0 || a >= r ? -1 : (int)a;
}
/* scratch memory for the duration of a call (the call's arena) */
static inline void *kn_tmp(KCall *c, size_t n) { return c->alloc ? c->alloc(c->actx, n ? n : 1) : NULL; }
/* tensor t as doubles in scratch memory (NULL when out of memory) */
static inline double *kn_dbl(KCall *c, const KTensor *t)
{
	int64_t n = kt_numel(t);
	double *d = kn_tmp(c, (size_t)n * sizeof(double));
	if (!d)
		return NULL;
	if (t->dt == DT_F32)
		for (int64_t i = 0; i < n; i++)
			d[i] = ((const float *)t->data)[i];
	else
		for (int64_t i = 0; i < n; i++)
			d[i] = kn_ld(t, i);
	return d;
}

int kn_loss(kpool *pool, KCall *c);     /* knode_nn.c */
int kn_hardmax(kpool *pool, KCall *c);
int kn_dropout(kpool *pool, KCall *c);
int kn_reduce_sum(kpool *pool, KCall *c);
int kn_quant(kpool *pool, KCall *c);    /* knode_quant.c */
int kn_dequant(kpool *pool, KCall *c);
int kn_dynquant(kpool *pool, KCall *c);
int kn_conv(kpool *pool, KCall *c);     /* knode_conv.c */
int kn_norm(kpool *pool, KCall *c);     /* knode_norm.c */
int kn_rnn(kpool *pool, KCall *c);      /* knode_rnn.c */
int kn_signal(kpool *pool, KCall *c);   /* knode_sig.c */
int kn_misc(kpool *pool, KCall *c);     /* knode_misc.c */
#endif
