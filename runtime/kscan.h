/* Fused scan kernels of the kernel library (runtime/kscan.c): Mamba's
 * selective scan, Mamba-2's SSD (chunked), and a diagonal gated linear
 * recurrence, streaming over time with the state in registers so the
 * (batch, T, channels, state) tensors are never materialised. Linear in T,
 * parallel over batch x channel blocks (or batch x heads) in a kpool. */
#ifndef VIBEE_KSCAN_H
#define VIBEE_KSCAN_H
#include <stdint.h>
#include "kpool.h"

/* selective_scan, layout [b,T,d] (see ir/ref_scan.c for the semantics).
 * Optional pointers may be NULL. */
typedef struct kscan_sel {
	int64_t nb, T, nd, ns;
	const float *u, *delta, *A, *B, *C;   /* [b,T,d] [b,T,d] [d,n] [b,T,n] [b,T,n] */
	const float *D, *z, *bias, *h0;       /* [d] [b,T,d] [d] [b,d,n] */
	int softplus;
	int layout;                           /* 1: u, delta, z, y [b,d,T]; B, C [b,n,T] */
	float *y;                             /* [b,T,d] */
	float *hlast;                         /* [b,d,n] or NULL */
} kscan_sel;
/* Returns 0, or -1 when out of memory (huge state sizes only). */
int kscan_selective_f32(kpool *pool, const kscan_sel *a);

/* ssd (Mamba-2): x [b,T,h,p], dt [b,T,h], A [h], B, C [b,T,g,n]; chunk
 * length `chunk` (the chunked algorithm: in-chunk quadratic form, chunk
 * states, scan across chunks, off-diagonal output). */
typedef struct kscan_ssd {
	int64_t nb, T, H, P, G, N, chunk;
	const float *x, *dt, *A, *B, *C;
	const float *D, *z, *bias, *h0;       /* [h] [b,T,h,p] [h] [b,h,p,n] */
	int softplus;
	float *y;                             /* [b,T,h,p] */
	float *hlast;                         /* [b,h,p,n] or NULL */
} kscan_ssd;
int kscan_ssd_f32(kpool *pool, const kscan_ssd *a);

/* linear_scan: h[:,t] = a[:,t] * h[:,t-1] + b[:,t]; a, b, h [nb,T,inner]. */
int kscan_linear_f32(kpool *pool, int64_t nb, int64_t T, int64_t inner, const float *a,
                     const float *b, const float *h0, float *h, float *hlast);

/* Entry used by generated code for the scan ops: unpacks a KCall (ir/kern.h)
 * and runs the fused kernel; returns 0 or nonzero with c->err set. */
struct KCall;
int kscan_call(kpool *pool, struct KCall *c);
#endif
