/* Micro benchmark of the fused attention kernel (runtime/kattn.c): GFLOP/s
 * of kattn_run at transformer shapes, 1 and 2 threads, contiguous
 * [B,H,T,D] operands and the strided [B,T,H,D] layout (q_bthd, k_bthd,
 * v_bthd, out_bthd). Flops count the visible (query, key) pairs only:
 * 2 (D + Dv) per pair, so a causal run is not credited for the skipped
 * upper triangle.
 * Usage: attn_kbench [-t THREADS,...] [-r REPEATS] [--bthd] [--mask]
 *                    [BxHq/HkvxTxD[c] ...]   (c: causal; default: bertm,
 *                    gptm and SmolLM2-like GQA shapes at T = 16..512) */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ir/kern.h"
#include "runtime/kattn.h"
#include "runtime/kpool.h"

static double clk(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}
#define now() clk(CLOCK_MONOTONIC)
#define cpu() clk(CLOCK_PROCESS_CPUTIME_ID)

typedef struct Shape { int B, Hq, Hkv, T, D, causal; } Shape;

static const Shape defaults[] = {
	{1, 6, 6, 128, 64, 0},  {1, 6, 6, 128, 64, 1},      /* bertm, gptm */
	{1, 9, 3, 128, 64, 1},                              /* SmolLM2-like GQA */
	{1, 6, 6, 16, 64, 0},   {1, 6, 6, 64, 64, 0},  {1, 6, 6, 256, 64, 0}, {1, 6, 6, 512, 64, 0},
	{1, 6, 6, 16, 64, 1},   {1, 6, 6, 64, 64, 1},  {1, 6, 6, 256, 64, 1}, {1, 6, 6, 512, 64, 1},
	{1, 9, 3, 16, 64, 1},   {1, 9, 3, 64, 64, 1},  {1, 9, 3, 256, 64, 1}, {1, 9, 3, 512, 64, 1},
};

typedef struct Bench {
	KCall c;
	KTensor in[4], out;
	KAttr at[8];
	char err[256];
	kpool *pool;
} Bench;

/* GFLOP/s (wall clock) of the best of `reps` timing rounds of at least
 * 20 ms each; *us: its time per call; *cg: GFLOP per CPU second of the
 * process (all threads, spinning included) in the same round, which other
 * load on the machine disturbs less. */
static double gflops(Bench *b, double flops, int reps, double *us, double *cg)
{
	double best = 0;
	if (kattn_run(b->pool, &b->c)) {
		fprintf(stderr, "attn_kbench: %s\n", b->err);
		exit(1);
	}
	for (int r = 0; r < reps; r++) {
		int iters = 0;
		double t0 = now(), c0 = cpu(), t;
		do {
			kattn_run(b->pool, &b->c);
			iters++;
			t = now() - t0;
		} while (t < 0.02);
		double g = flops * iters / t * 1e-9, c = cpu() - c0;
		if (g > best) {
			best = g;
			*us = t / iters * 1e6;
			*cg = flops * iters / c * 1e-9;
		}
	}
	return best;
}

static bool parse(const char *s, Shape *sh)
{
	char c = 0;
	int n = sscanf(s, "%dx%d/%dx%dx%d%c", &sh->B, &sh->Hq, &sh->Hkv, &sh->T, &sh->D, &c);
	if (n < 5 || sh->B < 1 || sh->Hq < 1 || sh->Hkv < 1 || sh->Hq % sh->Hkv || sh->T < 1 ||
	    sh->D < 1 || sh->T > 65536 || sh->D > 1024)
		return false;
	sh->causal = n == 6 && c == 'c';
	return true;
}

int main(int argc, char **argv)
{
	int threads[8] = {1, 2}, nthr = 2, reps = 5;
	bool bthd = false, mask = false;
	Shape shapes[64];
	int ns = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-t") && i + 1 < argc) {
			nthr = 0;
			for (char *p = strtok(argv[++i], ","); p && nthr < 8; p = strtok(NULL, ","))
				threads[nthr++] = atoi(p) > 0 ? atoi(p) : 1;
		} else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
			reps = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 1;
		} else if (!strcmp(argv[i], "--bthd")) {
			bthd = true;
		} else if (!strcmp(argv[i], "--mask")) {
			mask = true;
		} else if (ns < 64 && parse(argv[i], &shapes[ns])) {
			ns++;
		} else {
			fprintf(stderr, "usage: attn_kbench [-t 1,2] [-r REPS] [--bthd] [--mask] "
			                "[BxHq/HkvxTxD[c] ...]\n");
			return 2;
		}
	}
	if (!ns) {
		ns = (int)(sizeof defaults / sizeof defaults[0]);
		memcpy(shapes, defaults, sizeof defaults);
	}
	kpool *pools[8];
	for (int t = 0; t < nthr; t++)
		pools[t] = threads[t] > 1 ? kpool_new(threads[t]) : NULL;
	printf("attention kernel, %s layout%s; GFLOP/s (us per call), best of %d\n",
	       bthd ? "[B,T,H,D]" : "[B,H,T,D]", mask ? ", f32 padding mask [B,1,1,T]" : "", reps);
	printf("%-22s", "shape B,Hq/Hkv,T,D");
	for (int t = 0; t < nthr; t++)
		printf("   %2d thr: GF/s     us  cpuGF/s", threads[t]);
	printf("\n");
	for (int s = 0; s < ns; s++) {
		const Shape *sh = &shapes[s];
		size_t nq = (size_t)sh->B * sh->Hq * sh->T * sh->D, nk = (size_t)sh->B * sh->Hkv * sh->T * sh->D;
		float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), *o = malloc(nq * 4);
		float *m = malloc((size_t)sh->B * sh->T * 4);
		if (!q || !k || !v || !o || !m)
			return 1;
		unsigned rng = 7;
		for (size_t i = 0; i < nq; i++)
			q[i] = (float)((rng = rng * 1103515245u + 12345u) >> 16 & 0xff) / 128.0f - 1;
		for (size_t i = 0; i < nk; i++) {
			k[i] = (float)((rng = rng * 1103515245u + 12345u) >> 16 & 0xff) / 128.0f - 1;
			v[i] = (float)((rng = rng * 1103515245u + 12345u) >> 16 & 0xff) / 128.0f - 1;
		}
		for (int i = 0; i < sh->B * sh->T; i++)
			m[i] = 0;
		Bench b;
		memset(&b, 0, sizeof b);
		int64_t qd[4] = {sh->B, sh->Hq, sh->T, sh->D}, kd[4] = {sh->B, sh->Hkv, sh->T, sh->D};
		if (bthd) {
			qd[1] = sh->T, qd[2] = sh->Hq;
			kd[1] = sh->T, kd[2] = sh->Hkv;
		}
		b.in[0] = (KTensor){DT_F32, 4, {qd[0], qd[1], qd[2], qd[3]}, q};
		b.in[1] = (KTensor){DT_F32, 4, {kd[0], kd[1], kd[2], kd[3]}, k};
		b.in[2] = (KTensor){DT_F32, 4, {kd[0], kd[1], kd[2], kd[3]}, v};
		b.in[3] = (KTensor){DT_F32, 4, {sh->B, 1, 1, sh->T}, m};
		b.out = (KTensor){DT_F32, 4, {qd[0], qd[1], qd[2], qd[3]}, o};
		int na = 0;
		b.at[na++] = (KAttr){.name = "causal", .kind = AK_INT, .i = sh->causal};
		b.at[na++] = (KAttr){.name = "kv_group", .kind = AK_INT, .i = sh->Hq / sh->Hkv};
		if (bthd) {
			b.at[na++] = (KAttr){.name = "q_bthd", .kind = AK_INT, .i = 1};
			b.at[na++] = (KAttr){.name = "k_bthd", .kind = AK_INT, .i = 1};
			b.at[na++] = (KAttr){.name = "v_bthd", .kind = AK_INT, .i = 1};
			b.at[na++] = (KAttr){.name = "out_bthd", .kind = AK_INT, .i = 1};
		}
		b.c = (KCall){OP_attention, mask ? 4 : 3, 1, na, b.in, &b.out, b.at, b.err, sizeof b.err,
		              NULL, NULL};
		double pairs = sh->causal ? (double)sh->T * (sh->T + 1) / 2 : (double)sh->T * sh->T;
		double flops = pairs * sh->B * sh->Hq * 2.0 * (sh->D + sh->D);
		printf("%d,%d/%d,%d,%d%-10s", sh->B, sh->Hq, sh->Hkv, sh->T, sh->D,
		       sh->causal ? " causal" : "");
		for (int t = 0; t < nthr; t++) {
			b.pool = pools[t];
			double us = 0, cg = 0, g = gflops(&b, flops, reps, &us, &cg);
			printf("       %6.1f %7.1f %7.1f", g, us, cg);
			fflush(stdout);
		}
		printf("\n");
		free(q), free(k), free(v), free(o), free(m);
	}
	for (int t = 0; t < nthr; t++)
		kpool_free(pools[t]);
	return 0;
}
