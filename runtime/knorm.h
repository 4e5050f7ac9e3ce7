/* Vectorised normalisation rows of the kernel library (runtime/knorm.c). */
#ifndef VIBEE_KNORM_H
#define VIBEE_KNORM_H
#include <stdint.h>

/* LayerNormalization of rows [r0, r1) of x[rows][len] into y: full-length
 * scale, optional bias (NULL), two-pass mean and variance. */
void knorm_layer_rows(int64_t r0, int64_t r1, int64_t len, const float *x,
                      const float *scale, const float *bias, float eps, float *y);

#endif
