/* Unit test for runtime/kgemm.c: every ISA level the CPU has, against a
 * double-accumulating reference, over odd shapes, transposes, alpha/beta,
 * packed B, epilogues (bias, activations, residual: separate or C itself),
 * 1 and 2 threads, and small cache blocks; the transformer-scale paths
 * (skinny M, A read in place over all of K or K blocks, the next-panel
 * prefetch, finer thread parts) on and off, bit for bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/kgemm.h"
#include "runtime/kpool.h"

extern int kg_tune_kc, kg_tune_mc, kg_tune_nc, kg_tune_direct_m, kg_tune_serial;
extern int kg_tune_prefetch, kg_tune_ppt;

static int fails, checks;
static unsigned rng = 12345;

static float frand(void)
{
	rng = rng * 1103515245u + 12345u;
	return ((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static int irand(int n)
{
	rng = rng * 1103515245u + 12345u;
	return (int)((rng >> 8) % (unsigned)n);
}

static double act_ref(double x, int act)
{
	switch (act) {
	case KGEMM_ACT_RELU: return x > 0 ? x : 0;
	case KGEMM_ACT_GELU_ERF: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
	case KGEMM_ACT_SILU: return x / (1.0 + exp(-x));
	case KGEMM_ACT_GELU_TANH:
		return 0.5 * x * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
	default: return x;
	}
}

typedef struct tcase {
	int M, N, K, ta, tb, packed, act, has_bias;
	float alpha, beta;
	int res;        /* 0 none, 1 a separate residual buffer, 2 C itself */
} tcase;

/* Runs one case with `pool`; compares to the reference; returns C (caller frees). */
static float *run_case(const tcase *t, kpool *pool, const char *tag)
{
	int M = t->M, N = t->N, K = t->K;
	int lda = (t->ta ? M : K) + irand(3), ldb = (t->tb ? K : N) + irand(3);
	int ldc = N + 1 + irand(3);
	size_t na = (size_t)(t->ta ? K : M) * lda + 1, nb = (size_t)(t->tb ? N : K) * ldb + 1;
	float *A = malloc(na * 4), *B = malloc(nb * 4), *C = malloc((size_t)M * ldc * 4);
	float *C0 = malloc((size_t)M * ldc * 4), *bias = malloc((size_t)N * 4 + 4);
	float *pk = aligned_alloc(64, kgemm_pack_b_size(K, N) + 64);
	for (size_t i = 0; i < na; i++)
		A[i] = frand();
	for (size_t i = 0; i < nb; i++)
		B[i] = frand();
	for (int i = 0; i < N; i++)
		bias[i] = frand();
	for (size_t i = 0; i < (size_t)M * ldc; i++)
		C0[i] = (t->beta == 0.0f && t->res != 2 && (i % ldc) < (size_t)N) ? NAN : frand();
	memcpy(C, C0, (size_t)M * ldc * 4);
	/* the residual buffer ends at its last element (ASan sees overreads) */
	int ldr = t->res == 2 ? ldc : N + irand(3);
	size_t nr = M > 0 ? (size_t)(M - 1) * ldr + N : 1;
	float *R = malloc(nr * 4);
	for (size_t i = 0; i < nr; i++)
		R[i] = frand();
	const float *rp = t->res == 1 ? R : t->res == 2 ? C : NULL;
	kgemm_epilogue ep = {t->has_bias ? bias : NULL, (kgemm_act)t->act, rp, ldr};
	const kgemm_epilogue *epp = (t->act || t->has_bias || rp) ? &ep : NULL;
	if (t->packed) {
		kgemm_pack_b(B, ldb, t->tb, K, N, pk);
		/* the layout is the documented one */
		for (int p = 0; p < (N + 15) / 16; p++)
			for (int k = 0; k < K; k++)
				for (int j = 0; j < 16; j++) {
					int col = p * 16 + j;
					float want = col >= N ? 0.0f : t->tb ? B[(size_t)col * ldb + k]
					                                     : B[(size_t)k * ldb + col];
					if (pk[((size_t)p * K + k) * 16 + j] != want) {
						if (fails++ < 10)
							printf("FAIL pack layout K=%d N=%d at p=%d k=%d j=%d\n",
							       K, N, p, k, j);
						p = N;
						k = K;
						break;
					}
				}
		kgemm_f32_packed_ex(pool, M, N, K, t->alpha, A, lda, t->ta, pk, t->beta, C, ldc, epp);
	} else {
		kgemm_f32_ex(pool, M, N, K, t->alpha, A, lda, t->ta, B, ldb, t->tb, t->beta, C, ldc, epp);
	}
	int bad = 0;
	for (int i = 0; i < M && !bad; i++)
		for (int j = 0; j < ldc && !bad; j++) {
			float got = C[(size_t)i * ldc + j];
			if (j >= N) {   /* past the last column: untouched */
				if (memcmp(&got, &C0[(size_t)i * ldc + j], 4)) {
					bad = 1;
					printf("FAIL %s: wrote past column N at (%d,%d)\n", tag, i, j);
				}
				continue;
			}
			double s = 0, mag = 0;
			for (int k = 0; k < K; k++) {
				double a = t->ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
				double b = t->tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
				s += a * b;
				mag += fabs(a * b);
			}
			double x = t->alpha * s;
			if (t->beta != 0.0f)
				x += (double)t->beta * C0[(size_t)i * ldc + j];
			if (t->has_bias)
				x += bias[j];
			if (t->res)     /* C itself when res == 2 */
				x += t->res == 1 ? R[(size_t)i * ldr + j] : C0[(size_t)i * ldc + j];
			double want = act_ref(x, t->act);
			double tol = 4e-7 * (K + 8) * (fabs(t->alpha) * mag + 2.0) + 2e-6 * fabs(want) + 1e-6;
			if (!(fabs(got - want) <= tol)) {
				bad = 1;
				printf("FAIL %s: M=%d N=%d K=%d ta=%d tb=%d packed=%d alpha=%g beta=%g act=%d bias=%d"
				       " res=%d at (%d,%d): got %.7g want %.7g\n", tag, M, N, K, t->ta, t->tb,
				       t->packed, t->alpha, t->beta, t->act, t->has_bias, t->res, i, j, got,
				       want);
			}
		}
	checks++;
	fails += bad;
	free(A);
	free(B);
	free(C0);
	free(bias);
	free(pk);
	free(R);
	return C;
}

static void random_case(tcase *t, const int *dims, int ndims)
{
	static const float alphas[] = {1.0f, 0.5f, -1.25f}, betas[] = {0.0f, 1.0f, 0.75f};
	t->M = dims[irand(ndims)];
	t->N = dims[irand(ndims)];
	t->K = dims[irand(ndims)];
	t->ta = irand(2);
	t->tb = irand(2);
	t->packed = irand(2);
	t->alpha = alphas[irand(3)];
	t->beta = betas[irand(3)];
	t->act = irand(3) ? 0 : 1 + irand(4);
	t->has_bias = irand(3) == 0;
	t->res = irand(3) ? 0 : 1 + irand(2);
}

/* Runs t on the serial path and on 1 and 2 threads; all must agree bitwise
 * (the split never changes any element's summation order). */
static void run_threads(const tcase *t, kpool *p1, kpool *p2, const char *tag)
{
	unsigned seed = rng;
	float *c0 = run_case(t, NULL, tag);
	rng = seed;
	float *c1 = run_case(t, p1, tag);
	rng = seed;
	float *c2 = run_case(t, p2, tag);
	size_t n = (size_t)t->M * (t->N + 1);   /* compare the first columns of every row */
	if (memcmp(c0, c1, n * 4) || memcmp(c0, c2, n * 4)) {
		fails++;
		printf("FAIL %s: results differ between thread counts (M=%d N=%d K=%d)\n",
		       tag, t->M, t->N, t->K);
	}
	free(c0);
	free(c1);
	free(c2);
}

int main(void)
{
	static const int edges[] = {1, 2, 3, 5, 6, 7, 8, 11, 12, 13, 15, 16, 17, 23, 24, 25,
	                            31, 32, 33, 47, 48, 49, 63, 64, 65, 67};
	static const int big[] = {1, 7, 33, 64, 97, 130, 257, 300};
	kpool *p1 = kpool_new(1), *p2 = kpool_new(2);
	if (!p1 || !p2) {
		printf("FAIL: kpool_new\n");
		return 1;
	}
	kg_tune_serial = 0;     /* thread even the small cases */
	int top = kgemm_isa();
	const char *names[] = {"generic", "avx2", "avx512"};
	for (int isa = 0; isa <= top; isa++) {
		kgemm_force_isa(isa);
		char tag[64];
		/* the edge shapes on default blocking */
		snprintf(tag, sizeof tag, "%s", names[isa]);
		for (int n = 0; n < (isa == 0 ? 120 : 400); n++) {
			tcase t;
			random_case(&t, edges, sizeof edges / sizeof edges[0]);
			run_threads(&t, p1, p2, tag);
		}
		/* larger shapes with tiny cache blocks: many k/m/n blocks */
		kg_tune_kc = 32;
		kg_tune_mc = 24;
		kg_tune_nc = 48;
		snprintf(tag, sizeof tag, "%s/small-blocks", names[isa]);
		for (int n = 0; n < 60; n++) {
			tcase t;
			random_case(&t, big, sizeof big / sizeof big[0]);
			run_threads(&t, p1, p2, tag);
		}
		/* the direct (unpacked B) path for every M, and packing for all */
		for (int dm = 0; dm <= 1; dm++) {
			kg_tune_direct_m = dm ? 1000 : 0;
			snprintf(tag, sizeof tag, "%s/direct=%d", names[isa], dm);
			for (int n = 0; n < 40; n++) {
				tcase t;
				random_case(&t, big, sizeof big / sizeof big[0]);
				t.packed = 0;
				run_threads(&t, p1, p2, tag);
			}
		}
		kg_tune_kc = kg_tune_mc = kg_tune_nc = 0;
		kg_tune_direct_m = -1;
		/* K = 0: C = act(beta*C + bias) */
		tcase z = {5, 19, 0, 0, 0, 0, KGEMM_ACT_RELU, 1, 1.0f, 0.5f};
		snprintf(tag, sizeof tag, "%s/K=0", names[isa]);
		run_threads(&z, p1, p2, tag);
		z.packed = 1;
		run_threads(&z, p1, p2, tag);
	}
	/* transformer-scale paths on every ISA: skinny M (1..8 rows: one
	 * strip), A read in place with all of K in one block (M*K within half
	 * the L2) or in K blocks (M=64..70, K=2100), many micro-tile columns
	 * so that the next-panel prefetch runs and stops at each thread part's
	 * last column, odd N and K; then prefetch off, 3 parts per thread and
	 * 3-panel column blocks (the prefetch running on across them), which
	 * must not change a bit */
	static const int skinny_m[] = {1, 2, 3, 4, 5, 6, 7, 8, 13, 25, 64, 70};
	static const int wide_n[] = {17, 100, 129, 333, 520};
	static const int long_k[] = {1, 300, 577, 1031, 2100};
	for (int isa = 0; isa <= top; isa++) {
		kgemm_force_isa(isa);
		char tag[64];
		for (int n = 0; n < (isa == 0 ? 12 : 40); n++) {
			tcase t;
			random_case(&t, long_k, 1);
			t.M = skinny_m[irand(sizeof skinny_m / sizeof skinny_m[0])];
			t.N = wide_n[irand(sizeof wide_n / sizeof wide_n[0])];
			t.K = long_k[irand(sizeof long_k / sizeof long_k[0])];
			if (t.M >= 64 && t.K > 1031 && irand(2))
				t.K = 2100;     /* A in place over K blocks */
			t.packed = irand(4) != 0;
			snprintf(tag, sizeof tag, "%s/skinny", names[isa]);
			unsigned seed = rng;
			float *c0 = run_case(&t, p2, tag);
			size_t cn = (size_t)t.M * (t.N + 1);
			for (int v = 0; v < 3; v++) {
				static const char *vn[] = {"no-prefetch", "3-parts", "nc-blocks"};
				kg_tune_prefetch = v == 0 ? 0 : 1;     /* off, then forced on */
				kg_tune_ppt = v == 1 ? 3 : 0;
				kg_tune_nc = v == 2 ? 48 : 0;   /* prefetch across column blocks */
				snprintf(tag, sizeof tag, "%s/skinny/%s", names[isa], vn[v]);
				rng = seed;
				float *c1 = run_case(&t, p2, tag);
				if (memcmp(c0, c1, cn * 4)) {
					fails++;
					printf("FAIL %s: bits differ (M=%d N=%d K=%d packed=%d)\n", tag,
					       t.M, t.N, t.K, t.packed);
				}
				free(c1);
			}
			kg_tune_prefetch = -1;
			kg_tune_ppt = 0;
			kg_tune_nc = 0;
			free(c0);
			rng = seed;
			snprintf(tag, sizeof tag, "%s/skinny", names[isa]);
			run_threads(&t, p1, p2, tag);
		}
	}
	kgemm_force_isa(-1);
	kpool_free(p1);
	kpool_free(p2);
	printf("test_kgemm: %d checks, %d failures (isa levels up to %s)\n", checks, fails,
	       names[top]);
	return fails != 0;
}
