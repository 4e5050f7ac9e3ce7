/* The machine's fp32 FMA peak, the roof every GFLOP/s figure of bench.py and
 * gemm_bench is set against: each thread runs independent chains of fused
 * multiply-adds on registers only (enough chains to cover the FMA latency on
 * every pipe), at the widest vector width the CPU has, for a few tenths of
 * a second, best of 3.
 * Usage: fma_peak [THREADS ...]   (default: 1 and 2)
 * GFLOP/s = 2 * lanes * chains * iterations / seconds, summed over threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12        /* > FMA latency (4) x pipes (2): no chain waits on itself */
#define ITERS 40000000L  /* per thread: ~0.15 s at 16 lanes, 110 GFLOP/s */

typedef float v16 __attribute__((vector_size(64)));
typedef float v8 __attribute__((vector_size(32)));

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* The chains' results go here, so the compiler must compute them. */
static volatile float sink;

#define BODY(T, attr)                                                       \
	attr static void run_##T(long iters)                                    \
	{                                                                       \
		T acc[CHAINS], m, a;                                                \
		for (int c = 0; c < CHAINS; c++)                                    \
			acc[c] = (T){0} + (float)c * 1e-3f;                             \
		m = (T){0} + 0.999999f;                                             \
		a = (T){0} + 1e-7f;                                                 \
		for (long i = 0; i < iters; i++)                                    \
			for (int c = 0; c < CHAINS; c++)                                \
				acc[c] = acc[c] * m + a;                                    \
		float s = 0;                                                        \
		for (int c = 0; c < CHAINS; c++)                                    \
			s += acc[c][0];                                                 \
		sink = s;                                                           \
	}

#if defined(__x86_64__)
BODY(v16, __attribute__((target("avx512f,fma"))))
BODY(v8, __attribute__((target("avx2,fma"))))
#endif

static int lanes(void)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		return 16;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return 8;
#endif
	return 0;
}

static void *thread_main(void *arg)
{
	long iters = *(long *)arg;
#if defined(__x86_64__)
	if (lanes() == 16)
		run_v16(iters);
	else
		run_v8(iters);
#endif
	return NULL;
}

int main(int argc, char **argv)
{
	int L = lanes();
	if (!L) {
		fprintf(stderr, "fma_peak: needs an x86-64 CPU with AVX2+FMA or AVX-512\n");
		return 77;
	}
	int counts[16], n = 0;
	for (int i = 1; i < argc && n < 16; i++) {
		counts[n] = atoi(argv[i]);
		if (counts[n] < 1 || counts[n] > 256) {
			fprintf(stderr, "fma_peak: bad thread count '%s'\n", argv[i]);
			return 2;
		}
		n++;
	}
	if (!n) {
		counts[n++] = 1;
		counts[n++] = 2;
	}
	long iters = L == 16 ? ITERS : 2 * ITERS;
	printf("fp32 FMA peak, %d-lane vectors, %d chains per thread\n", L, CHAINS);
	for (int k = 0; k < n; k++) {
		int t = counts[k];
		pthread_t *tid = malloc(sizeof *tid * t);
		if (!tid)
			return 1;
		double best = 0;
		for (int rep = 0; rep < 3; rep++) {   /* best of 3: the host steals time */
			double t0 = now();
			for (int i = 0; i < t; i++)
				pthread_create(&tid[i], NULL, thread_main, &iters);
			for (int i = 0; i < t; i++)
				pthread_join(tid[i], NULL);
			double g = 2.0 * L * CHAINS * (double)iters * t / (now() - t0) / 1e9;
			best = g > best ? g : best;
		}
		printf("threads %d  GFLOP/s %.1f\n", t, best);
		free(tid);
	}
	return 0;
}
