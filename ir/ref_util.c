/* Helpers shared by the reference kernels: see ref_util.h. */
#include <stdlib.h>
#include "ref_util.h"

int ref_has_in(const KCall *c, int i)
{
	return i >= 0 && i < c->nin && dt_size(c->in[i].dt) > 0 && c->in[i].data;
}

int ref_want_out(const KCall *c, int i)
{
	return i >= 0 && i < c->nout && dt_size(c->out[i].dt) > 0;
}

int ref_need(KCall *c, int n, int out0)
{
	for (int i = 0; i < n; i++) {
		const KTensor *t = i < c->nin ? &c->in[i] : NULL;
		if (!t || dt_size(t->dt) == 0 || (!t->data && kt_numel(t) != 0) ||
		    t->rank < 0 || t->rank > K_MAXRANK)
			return kerr(c, "%s: input %d is missing or has an unsupported type",
			            op_names[c->op], i);
	}
	if (out0 && (c->nout < 1 || dt_size(c->out[0].dt) == 0))
		return kerr(c, "%s: output 0 is missing or has an unsupported type", op_names[c->op]);
	return 0;
}

int ref_need_in(KCall *c, int i)
{
	if (i >= c->nin || c->in[i].dt == DT_UNDEF)
		return kerr(c, "%s: input %d missing", op_names[c->op], i);
	const KTensor *t = &c->in[i];
	if (dt_size(t->dt) == 0)
		return kerr(c, "%s: input %d has unsupported type %s", op_names[c->op], i, dt_name(t->dt));
	if (t->rank < 0 || t->rank > K_MAXRANK)
		return kerr(c, "%s: input %d rank %d out of range", op_names[c->op], i, t->rank);
	for (int k = 0; k < t->rank; k++)
		if (t->dims[k] < 0)
			return kerr(c, "%s: input %d dim %d is negative", op_names[c->op], i, k);
	if (!t->data && kt_numel(t) > 0)
		return kerr(c, "%s: input %d has no data", op_names[c->op], i);
	return 0;
}

int ref_want_dt(KCall *c, int o, int dt)
{
	if (o < c->nout && c->out[o].dt != DT_UNDEF && c->out[o].dt != dt)
		return kerr(c, "%s: output %d is %s, expected %s", op_names[c->op], o,
		            dt_name(c->out[o].dt), dt_name(dt));
	return 0;
}

int ref_norm_axis(KCall *c, int64_t a, int r, int *out)
{
	*out = 0;
	if (a < -r || a >= r)
		return kerr(c, "%s: axis %lld out of range for rank %d", op_names[c->op], (long long)a, r);
	*out = (int)(a < 0 ? a + r : a);
	return 0;
}

double *ref_load(KCall *c, const KTensor *t)
{
	int64_t n = kt_numel(t);
	double *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
	if (!p) {
		if (c)
			kerr(c, "%s: out of memory (%lld elements)", op_names[c->op], (long long)n);
		return NULL;
	}
	for (int64_t i = 0; i < n; i++)
		p[i] = dt_load_f(t->dt, t->data, (size_t)i);
	return p;
}

int64_t ref_prod(const int64_t *d, int a, int b)
{
	int64_t p = 1;
	for (int k = a; k < b; k++)
		p *= d[k];
	return p;
}
