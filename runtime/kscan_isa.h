/* Per-ISA copies of the scan kernels (runtime/kscan.c, runtime/kscan512.c)
 * and the run-time choice between them. */
#ifndef VIBEE_KSCAN_ISA_H
#define VIBEE_KSCAN_ISA_H
#include <stdint.h>
#include "kscan.h"

/* The best copy this CPU runs: 0 plain vectors, 1 AVX2+FMA, 2 AVX-512F;
 * the environment variable VIBEE_KSCAN_ISA=0/1/2 caps it (tests, benches). */
int kscan_isa(void);

#if defined(__x86_64__) && defined(__GNUC__)
/* selective scan, tasks [lo, hi) of (batch, block of 16 channels); hs and
 * As hold ns x 16 floats each, 64-byte aligned. */
void kscan_sel_avx512(const kscan_sel *a, int64_t lo, int64_t hi, float *hs, float *As);
#endif
#endif
