/* Helpers shared by the reference kernels (ir/ref_*.c): checks of a call's
 * inputs and outputs, whole-tensor loads, shape products. Each returns 0 or
 * kerr()'s 1 where it checks; the messages name the op and the operand. */
#ifndef VIBEE_REF_UTIL_H
#define VIBEE_REF_UTIL_H
#include "kern.h"

/* input i is given (known type, data there) */
int ref_has_in(const KCall *c, int i);
/* output i is wanted (known element type) */
int ref_want_out(const KCall *c, int i);
/* the first n inputs are present and numeric (and output 0 when out0) */
int ref_need(KCall *c, int n, int out0);
/* input i present, of a known type, rank in range, dims >= 0, data there */
int ref_need_in(KCall *c, int i);
/* output o, when wanted, has type dt (data-moving kernels copy bytes) */
int ref_want_dt(KCall *c, int o, int dt);
/* axis a of rank r (valid range [-r, r-1]) into *out */
int ref_norm_axis(KCall *c, int64_t a, int r, int *out);
/* all of t as doubles in a fresh malloc'd array; NULL (and kerr when c)
 * when out of memory */
double *ref_load(KCall *c, const KTensor *t);
/* product of d[a .. b-1] */
int64_t ref_prod(const int64_t *d, int a, int b);
#endif
