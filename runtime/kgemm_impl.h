/* Internal to the GEMM (kgemm.c, kgemm_x86.c): the microkernel ABI and the
 * per-ISA kernel tables. */
#ifndef VIBEE_KGEMM_IMPL_H
#define VIBEE_KGEMM_IMPL_H
#include <stdint.h>

#define KG_NR 16                /* columns per packed-B panel (all ISAs) */
#define KG_MAXR 16              /* most rows of any microkernel */
#define KG_MAXP 4               /* most 16-column panels of any microkernel */

/* How a tile is stored: C = act(alpha*acc + beta*C + bias + res). beta == 0
 * never reads C; bias (at the tile's first column) and res (at the tile's
 * first element, row stride ldr) may be NULL. */
typedef struct kg_store {
	float alpha, beta;
	const float *bias;
	int act;
	const float *res;
	int64_t ldr;
	/* software prefetch (optional, ISA kernels only): in each k step,
	 * the cache line at pf + k*16 + q*pfs for q < pfn (the next column
	 * panels' packed B, fetched into L2 while this tile computes) */
	const float *pf;
	int64_t pfs;
	int pfn;
} kg_store;

/* An r x (16*np) microkernel: acc[i][j] = sum_k a[i*rsa + k*csa] *
 * b[(j/16)*psb + k*rsb + j%16], then stored into the mr x nr corner of c
 * (mr <= r, nr <= 16*np; rows/columns past them are computed but dropped).
 * All r rows of a and all np panels of b must be readable. */
typedef void (*kg_ukr)(int64_t k, const float *a, int64_t rsa, int64_t csa,
                       const float *b, int64_t rsb, int64_t psb,
                       float *c, int64_t ldc, int mr, int nr, const kg_store *st);

typedef struct kg_impl {
	const char *name;
	int mr;                         /* height of packed-A panels (main kernel) */
	int kc, mc, nc;                 /* default cache blocking */
	int maxnp[KG_MAXR + 1];         /* widest kernel (in panels) per row count */
	kg_ukr k[KG_MAXR + 1][KG_MAXP + 1];
	kg_ukr kp[KG_MAXP + 1];         /* mr rows of packed A (rsa 1, csa mr) */
	/* optional: mr whole rows of A (row stride rsa, unit column stride),
	 * columns [0, kb), into dst[k * mr + r] */
	void (*pack_a)(const float *a, int64_t rsa, int64_t kb, float *dst);
} kg_impl;

extern const kg_impl kg_generic;
const kg_impl *kg_avx2(void);   /* NULL when not built for x86-64 */
const kg_impl *kg_avx512(void);
int kg_cpu_level(void);         /* KGEMM_ISA_* the CPU supports */

/* Scalar store of one value (edge tiles of the portable kernel). */
float kg_act1(float x, int act);
#endif
