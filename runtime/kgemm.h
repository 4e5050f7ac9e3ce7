/* Single-precision GEMM for the kernel library: cache-blocked, packed,
 * register-blocked microkernels (AVX2+FMA, AVX-512 where the CPU has it,
 * portable C otherwise), threaded over a kpool, with a fused epilogue. */
#ifndef VIBEE_KGEMM_H
#define VIBEE_KGEMM_H
#include <stddef.h>
#include <stdint.h>
#include "kpool.h"

/* Activation applied on store, after bias. */
typedef enum kgemm_act {
	KGEMM_ACT_NONE = 0,
	KGEMM_ACT_RELU,
	KGEMM_ACT_GELU_ERF,     /* 0.5 x (1 + erf(x / sqrt 2)) */
	KGEMM_ACT_SILU,         /* x / (1 + exp(-x)) */
	KGEMM_ACT_GELU_TANH,    /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
} kgemm_act;

/* Fused epilogue: C = act(alpha*op(A)*op(B) + beta*C + bias[col] + res[row*ldr + col]).
 * bias (N floats, one per column of C) and res (an M x N residual with row
 * stride ldr) may be NULL. res is read after C has been partly written, so
 * it must not overlap C unless it is C itself (ldr == ldc: taken as beta + 1). */
typedef struct kgemm_epilogue {
	const float *bias;
	kgemm_act act;
	const float *res;
	int64_t ldr;
} kgemm_epilogue;

/* Row-major C[M,N] = alpha*op(A)*op(B) + beta*C, op(X) = X or X^T.
 * op(A) is M x K (A is M x K with row stride lda, or K x M when transA);
 * op(B) is K x N (B is K x N with row stride ldb, or N x K when transB).
 * beta == 0 never reads C (NaNs there do not propagate). pool may be NULL. */
void kgemm_f32(kpool *pool, int64_t M, int64_t N, int64_t K, float alpha,
               const float *A, int64_t lda, int transA,
               const float *B, int64_t ldb, int transB,
               float beta, float *C, int64_t ldc);
/* The same with an epilogue (ep may be NULL). */
void kgemm_f32_ex(kpool *pool, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, int transA,
                  const float *B, int64_t ldb, int transB,
                  float beta, float *C, int64_t ldc, const kgemm_epilogue *ep);

/* Pre-packed B (constant weights, packed once, e.g. at compile time).
 * The layout depends only on op(B), K and N: panels of 16 columns,
 * panel p holds op(B)[k][16p + j] at packed[(p*K + k)*16 + j], columns past
 * N zero. Same on every machine and thread count.
 * kgemm_pack_b_size returns the size in BYTES (a multiple of 64). */
size_t kgemm_pack_b_size(int64_t K, int64_t N);
void kgemm_pack_b(const float *B, int64_t ldb, int transB, int64_t K, int64_t N,
                  float *packed);
void kgemm_f32_packed(kpool *pool, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, int transA,
                      const float *packedB, float beta, float *C, int64_t ldc);
void kgemm_f32_packed_ex(kpool *pool, int64_t M, int64_t N, int64_t K, float alpha,
                         const float *A, int64_t lda, int transA,
                         const float *packedB, float beta, float *C, int64_t ldc,
                         const kgemm_epilogue *ep);

/* Which microkernels run: KGEMM_ISA_*; kgemm_force_isa is for tests and
 * benchmarks (a level the CPU lacks is clamped to what it has; -1 resets). */
enum { KGEMM_ISA_GENERIC = 0, KGEMM_ISA_AVX2 = 1, KGEMM_ISA_AVX512 = 2 };
int kgemm_isa(void);
void kgemm_force_isa(int isa);
#endif
