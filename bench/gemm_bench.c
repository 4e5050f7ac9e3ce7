/* GEMM benchmark: GFLOP/s of kgemm (B unpacked and pre-packed) against
 * OpenBLAS cblas_sgemm on square and transformer shapes, 1 and 2 threads.
 * Usage: gemm_bench [-t THREADS,...] [-r REPEATS] [--isa generic|avx2|avx512] [--cold]
 *                   [--ms ROUND_MS] [-e EPILOGUE,...] [MxKxN ...]
 * (default: the shape list). -e also times pre-packed kgemm with each
 * fused epilogue (none bias relu gelu gelu_tanh silu res scale bias_res
 * bias_gelu), interleaved with the plain packed call, in microseconds.
 * --cold flushes the caches (a 96 MiB read, not timed) before each timed
 * call: the weights stream from DRAM, as in a model whose other layers
 * evicted them. --cpu times by process CPU time instead of the wall clock (on a loaded
 * machine, with -t 1: the work itself, without the time slices lost to
 * other processes; with more threads it counts the workers' spinning too). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>
#include "runtime/kgemm.h"
#include "runtime/kpool.h"

extern int kg_tune_kc, kg_tune_mc, kg_tune_nc, kg_tune_direct_m, kg_tune_serial, kg_tune_pack_a_m,
           kg_tune_prefetch, kg_tune_ppt;

#ifdef HAVE_OPENBLAS
/* declared here so that the cblas.h of another BLAS cannot get in the way */
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta,
                 float *c, int ldc);
void openblas_set_num_threads(int n);
#endif

static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void)
{
	struct timespec ts;
	clock_gettime(clock_id, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct shape { long m, k, n; } shape;
typedef struct job {
	int which;              /* 0 kgemm, 1 kgemm packed, 2 openblas, 3+e packed with eps[e] */
	kpool *pool;
	shape s;
	float *a, *b, *pb, *c, *bias, *res;
} job;

/* The epilogues of -e: name, bias, activation, residual, alpha. */
typedef struct epdef { const char *name; int bias, act, res; float alpha; } epdef;
static const epdef epdefs[] = {
	{"none", 0, KGEMM_ACT_NONE, 0, 1.0f},
	{"bias", 1, KGEMM_ACT_NONE, 0, 1.0f},
	{"relu", 0, KGEMM_ACT_RELU, 0, 1.0f},
	{"gelu", 0, KGEMM_ACT_GELU_ERF, 0, 1.0f},
	{"gelu_tanh", 0, KGEMM_ACT_GELU_TANH, 0, 1.0f},
	{"silu", 0, KGEMM_ACT_SILU, 0, 1.0f},
	{"res", 0, KGEMM_ACT_NONE, 1, 1.0f},
	{"scale", 0, KGEMM_ACT_NONE, 0, 0.125f},
	{"bias_res", 1, KGEMM_ACT_NONE, 1, 1.0f},
	{"bias_gelu", 1, KGEMM_ACT_GELU_ERF, 0, 1.0f},
};
static int eps[16], neps;
static double round_s = 0.03;

static void call(job *j)
{
	long m = j->s.m, n = j->s.n, k = j->s.k;
	if (j->which >= 3) {
		const epdef *e = &epdefs[eps[j->which - 3]];
		kgemm_epilogue ep = {e->bias ? j->bias : NULL, (kgemm_act)e->act,
		                     e->res ? j->res : NULL, n};
		kgemm_f32_packed_ex(j->pool, m, n, k, e->alpha, j->a, k, 0, j->pb, 0.0f, j->c, n, &ep);
	} else if (j->which == 0)
		kgemm_f32(j->pool, m, n, k, 1.0f, j->a, k, 0, j->b, n, 0, 0.0f, j->c, n);
	else if (j->which == 1)
		kgemm_f32_packed(j->pool, m, n, k, 1.0f, j->a, k, 0, j->pb, 0.0f, j->c, n);
#ifdef HAVE_OPENBLAS
	else
		cblas_sgemm(101, 111, 111, m, n, k, 1.0f, j->a, k, j->b, n, 0.0f, j->c, n);
#endif
}

/* --cold: before each timed call, this buffer (larger than the L3) is
 * read and written, so A and B come from DRAM as in a model whose other
 * kernels pushed the weights out of the caches. */
static float *cold_buf;
static size_t cold_n;
static volatile float cold_sink;

static void flush_part(void *arg, int64_t lo, int64_t hi)
{
	(void)arg;
	float s = 0;
	for (size_t i = (size_t)lo << 14; i < (size_t)hi << 14; i += 16)
		s += cold_buf[i];
	cold_sink = s;
}

/* Read only (no dirty lines left to write back during the timed call),
 * through the job's pool (its workers are then awake, as between the
 * kernels of a model run). */
static void flush_caches(kpool *pool)
{
	kpool_for(pool, (int64_t)(cold_n >> 14), 64, flush_part, NULL);
}

/* GFLOP/s of one timing round of at least round_s (30 ms); with --cold,
 * of 16 calls, each on flushed caches (the flush not timed). */
static double round_gflops(job *j)
{
	double flops = 2.0 * j->s.m * j->s.n * j->s.k;
	int iters = 0;
	if (cold_buf) {
		double t = 0;
		for (; iters < 16; iters++) {
			flush_caches(j->pool);
			double t0 = now();
			call(j);
			t += now() - t0;
		}
		return flops * iters / t * 1e-9;
	}
	double t0 = now(), t;
	do {
		call(j);
		iters++;
		t = now() - t0;
	} while (t < round_s);
	return flops * iters / t * 1e-9;
}

/* Best of `reps` rounds per variant, the variants' rounds interleaved so
 * that load from other processes hits them alike. */
static void measure(job *j, int reps, int nvar, double *best)
{
	for (int v = 0; v < nvar; v++) {
		j->which = v;
		call(j);
		best[v] = 0;
	}
	for (int r = 0; r < reps; r++)
		for (int v = 0; v < nvar; v++) {
			j->which = v;
			double g = round_gflops(j);
			if (g > best[v])
				best[v] = g;
		}
}

static job ejob;

/* Like measure over variant 1 (plain packed) and 3.. (the epilogues). */
static void measure_eps(job *j, int reps, double *best)
{
	for (int v = 0; v <= neps; v++) {
		j->which = v ? 2 + v : 1;
		call(j);
		best[v] = 0;
	}
	for (int r = 0; r < reps; r++)
		for (int v = 0; v <= neps; v++) {
			j->which = v ? 2 + v : 1;
			double g = round_gflops(j);
			if (g > best[v])
				best[v] = g;
		}
}

static int env_int(const char *name, int dflt)
{
	const char *v = getenv(name);
	return v ? atoi(v) : dflt;
}

int main(int argc, char **argv)
{
#ifdef HAVE_OPENBLAS
	/* OpenBLAS's idle threads spin about 2^28 cycles (~75 ms) after each
	 * call (its default THREAD_TIMEOUT): interleaved with kgemm's 30 ms
	 * rounds, they kept a CPU from kgemm's pool, and 2-thread kgemm ran at
	 * its 1-thread speed in some processes. 2^20 cycles (~0.3 ms, like
	 * kpool's 200 us spin) still covers back-to-back calls. OpenBLAS reads
	 * it when loaded, so the bench re-runs itself with it set. */
	if (!getenv("OPENBLAS_THREAD_TIMEOUT")) {
		setenv("OPENBLAS_THREAD_TIMEOUT", "20", 1);
		execv("/proc/self/exe", argv);
	}
#endif
	shape dflt[] = {{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024},
	                {2048, 2048, 2048}, {32, 128, 384}, {32, 128, 512},
	                {32, 512, 128}, {1, 2048, 2048},
	                /* BERT/GPT-2 at d=384, ffn=1536 (QKV fused, out-proj, FFN up/down)
	                 * at 16..512 tokens */
	                {16, 384, 1536}, {16, 1536, 384}, {64, 384, 1152}, {64, 1536, 384},
	                {128, 384, 384}, {128, 384, 1152}, {128, 384, 1536}, {128, 1536, 384},
	                {256, 1536, 384}, {512, 384, 1536}, {512, 1536, 384},
	                /* realistic sizes (bench/scale): SmolLM2 (d=576, ffn 1536, tied
	                 * lm_head 49152), GPT-2/BERT base (768, 3072), llama/gpt2
	                 * lm_heads (8192), and decode-style / classifier GEMVs */
	                {64, 576, 49152}, {128, 576, 8192}, {128, 768, 8192},
	                {64, 576, 1536}, {64, 1536, 576}, {128, 576, 1536},
	                {128, 768, 768}, {128, 768, 3072}, {128, 3072, 768},
	                {1, 1280, 1000}, {1, 576, 1536}, {1, 768, 3072},
	                {4, 768, 3072}, {8, 576, 1536}};
	shape shapes[96];
	int ns = 0, threads[8] = {1, 2}, nthr = 2, reps = 15;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-t") && i + 1 < argc) {
			nthr = 0;
			for (char *p = strtok(argv[++i], ","); p && nthr < 8; p = strtok(NULL, ","))
				threads[nthr++] = atoi(p);
		} else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
			reps = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--cold")) {
			cold_n = (size_t)96 << 18;      /* 96 MiB of floats */
			cold_buf = malloc(cold_n * sizeof(float));
			if (!cold_buf)
				return 1;
			for (size_t c = 0; c < cold_n; c++)
				cold_buf[c] = (float)(c & 7);
		} else if (!strcmp(argv[i], "--cpu")) {
			clock_id = CLOCK_PROCESS_CPUTIME_ID;
		} else if (!strcmp(argv[i], "--ms") && i + 1 < argc) {
			round_s = atof(argv[++i]) * 1e-3;
		} else if (!strcmp(argv[i], "-e") && i + 1 < argc) {
			for (char *p = strtok(argv[++i], ","); p && neps < 16; p = strtok(NULL, ",")) {
				int f = -1;
				for (int e = 0; e < (int)(sizeof epdefs / sizeof epdefs[0]); e++)
					if (!strcmp(p, epdefs[e].name))
						f = e;
				if (f < 0) {
					fprintf(stderr, "gemm_bench: unknown epilogue '%s'\n", p);
					return 2;
				}
				eps[neps++] = f;
			}
		} else if (!strcmp(argv[i], "--isa") && i + 1 < argc) {
			const char *s = argv[++i];
			kgemm_force_isa(!strcmp(s, "generic") ? KGEMM_ISA_GENERIC
			                : !strcmp(s, "avx2") ? KGEMM_ISA_AVX2 : KGEMM_ISA_AVX512);
		} else if (ns < 96 && sscanf(argv[i], "%ldx%ldx%ld", &shapes[ns].m,
		                             &shapes[ns].k, &shapes[ns].n) == 3) {
			ns++;
		} else {
			fprintf(stderr, "gemm_bench: bad argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!ns) {
		ns = sizeof dflt / sizeof dflt[0];
		memcpy(shapes, dflt, sizeof dflt);
	}
	kg_tune_kc = env_int("KG_KC", 0);
	kg_tune_mc = env_int("KG_MC", 0);
	kg_tune_nc = env_int("KG_NC", 0);
	kg_tune_direct_m = env_int("KG_DIRECT_M", -1);
	kg_tune_serial = env_int("KG_SERIAL", -1);
	kg_tune_pack_a_m = env_int("KG_PACK_A_M", -1);
	kg_tune_prefetch = env_int("KG_PREFETCH", -1);
	kg_tune_ppt = env_int("KG_PPT", 0);
	const char *isa[] = {"generic", "avx2", "avx512"};
	printf("kgemm isa: %s; best of %d interleaved %.0f ms rounds (%s); GFLOP/s (C = A*B, row-major, fp32)\n",
	       isa[kgemm_isa()], reps, round_s * 1e3,
	       clock_id == CLOCK_MONOTONIC ? "wall clock" : "process CPU time");
	printf("%-16s %3s %9s %9s %9s %7s %7s\n", "MxKxN", "thr", "kgemm", "kg-packed",
	       "openblas", "kg/ob", "pk/ob");
	for (int s = 0; s < ns; s++) {
		shape sh = shapes[s];
		size_t na = sh.m * sh.k, nb = sh.k * sh.n, nc = sh.m * sh.n;
		float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(nc * 4);
		float *pb = aligned_alloc(64, kgemm_pack_b_size(sh.k, sh.n));
		float *bias = malloc(sh.n * 4), *res = malloc(nc * 4);
		if (!a || !b || !c || !pb || !bias || !res)
			return 1;
		srand(1);
		for (size_t i = 0; i < na; i++)
			a[i] = rand() / (float)RAND_MAX - 0.5f;
		for (size_t i = 0; i < nb; i++)
			b[i] = rand() / (float)RAND_MAX - 0.5f;
		for (long i = 0; i < sh.n; i++)
			bias[i] = rand() / (float)RAND_MAX - 0.5f;
		for (size_t i = 0; i < nc; i++)
			res[i] = rand() / (float)RAND_MAX - 0.5f;
		memset(c, 0, nc * 4);
		kgemm_pack_b(b, sh.n, 0, sh.k, sh.n, pb);
		for (int t = 0; t < nthr; t++) {
			kpool *pool = kpool_new(threads[t]);
			job j = {0, pool, sh, a, b, pb, c, bias, res};
			double g[3 + 16] = {0};
#ifdef HAVE_OPENBLAS
			openblas_set_num_threads(threads[t]);
			measure(&j, reps, 3, g);
#else
			measure(&j, reps, 2, g);
#endif
			double g0 = g[0], g1 = g[1], g2 = g[2];
			char name[64];
			snprintf(name, sizeof name, "%ldx%ldx%ld", sh.m, sh.k, sh.n);
			printf("%-16s %3d %9.1f %9.1f %9.1f %7.2f %7.2f\n", name, threads[t],
			       g0, g1, g2, g2 > 0 ? g0 / g2 : 0, g2 > 0 ? g1 / g2 : 0);
			if (neps) {
				/* the plain packed call (variant 1) and each epilogue, interleaved */
				double ge[1 + 16];
				ejob = j;
				measure_eps(&ejob, reps, ge);
				double flops = 2.0 * sh.m * sh.n * sh.k;
				printf("  epilogues (packed, us per call; plain %.1f us):", flops / ge[0] * 1e-3);
				for (int e = 0; e < neps; e++)
					printf(" %s %.1f (%+.1f%%)", epdefs[eps[e]].name, flops / ge[1 + e] * 1e-3,
					       (ge[0] / ge[1 + e] - 1.0) * 100.0);
				printf("\n");
			}
			fflush(stdout);
			kpool_free(pool);
		}
		free(a);
		free(b);
		free(c);
		free(pb);
		free(bias);
		free(res);
	}
	return 0;
}
