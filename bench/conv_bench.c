/* Per-shape timing of the blocked convolution (runtime/kconv.c): each shape
 * runs with the Winograd F(2x2,3x3) path and with the direct tiles only,
 * on 1 and 2 threads, and prints min and median microseconds and GFLOP/s
 * of the direct algorithm's flop count (so the two are comparable).
 * Usage: build/conv_bench [-r REPEATS] [mobilenet | C,H,W,M,K,S[,B[,G]] ...]
 * (default: the resnet sample's 3x3 stride-1 shapes; mobilenet: the
 * MobileNetV2 224x224 shapes (stem, pointwise expand / project, depthwise);
 * B 0: the input is NCHW, as a stem convolution's, else blocked; G > 1:
 * depthwise, G = C = M). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "runtime/kconv.h"

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void *zalloc(size_t n)
{
	void *p = aligned_alloc(64, (n + 63) / 64 * 64);
	if (!p) {
		fprintf(stderr, "conv_bench: out of memory\n");
		exit(2);
	}
	memset(p, 0, (n + 63) / 64 * 64);
	return p;
}

static void run(kpool *pool, int wino, const int64_t *sh, int reps)
{
	int64_t C = sh[0], H = sh[1], W = sh[2], M = sh[3], K = sh[4], S = sh[5], pad = K / 2;
	int inb = sh[6] != 0;
	int64_t G = sh[7] > 1 ? sh[7] : 1;
	int64_t OH = (H + 2 * pad - K) / S + 1, OW = (W + 2 * pad - K) / S + 1;
	int64_t p[KC_NP] = {1, C, H, W, M, K, K, OH, OW, S, S, pad, pad, 1, 1, G};
	kconvc_set_wino(wino);
	int64_t cb = (C + 15) / 16, mb = (M + 15) / 16;
	float *w = zalloc((size_t)(M * C * K * K) * 4), *x = zalloc((size_t)(cb * 16 * H * W) * 4);
	float *y = zalloc((size_t)(mb * 16 * OH * OW) * 4), *b = zalloc((size_t)M * 4);
	for (int64_t i = 0; i < M * C * K * K; i++)
		w[i] = (float)((i * 7919) % 101) / 101.0f - 0.5f;
	for (int64_t i = 0; i < C * H * W; i++)
		x[i] = (float)((i * 104729) % 97) / 97.0f - 0.5f;
	float *wp = zalloc(kconvc_pack_size(p, inb));
	kconvc_pack(p, inb, w, wp);
	void *scr = zalloc(kconvc_scratch(p, inb));
	double *t = malloc((size_t)reps * sizeof *t);
	for (int i = 0; i < 20; i++)
		kconvc_f32(pool, p, inb, x, wp, b, NULL, y, 1, NULL, scr);
	for (int i = 0; i < reps; i++) {
		double t0 = now_us();
		kconvc_f32(pool, p, inb, x, wp, b, NULL, y, 1, NULL, scr);
		t[i] = now_us() - t0;
	}
	qsort(t, (size_t)reps, sizeof *t, cmpd);
	double fl = 2.0 * (double)(M * (C / G) * K * K * OH * OW);
	printf("C%-4lld %3lldx%-3lld M%-4lld k%lld s%lld %s %-8s%s threads %d  min %8.2f us  median %8.2f us"
	       "  %6.1f GFLOP/s(direct-equiv, min)\n", (long long)C, (long long)H, (long long)W,
	       (long long)M, (long long)K, (long long)S, inb ? "blk " : "nchw",
	       kconvc_winograd(p, inb) ? "winograd" : "direct", G > 1 ? " dw" : "", kpool_threads(pool), t[0], t[reps / 2],
	       fl / t[0] * 1e-3);
	free(t); free(w); free(x); free(y); free(b); free(wp); free(scr);
}

int main(int argc, char **argv)
{
	int reps = 300, ai = 1;
	if (argc > 2 && !strcmp(argv[1], "-r")) {
		reps = atoi(argv[2]);
		ai = 3;
	}
	if (reps < 1)
		reps = 1;
	static const int64_t def[][8] = {{16, 32, 32, 16, 3, 1, 1}, {32, 16, 16, 32, 3, 1, 1},
	                                 {64, 8, 8, 64, 3, 1, 1}, {128, 4, 4, 128, 3, 1, 1}};
	static const int64_t mbv2[][8] = {
		{3, 224, 224, 32, 3, 2, 0},       {32, 112, 112, 32, 3, 1, 1, 32},
		{16, 112, 112, 96, 1, 1, 1},      {96, 112, 112, 96, 3, 2, 1, 96},
		{96, 56, 56, 24, 1, 1, 1},        {24, 56, 56, 144, 1, 1, 1},
		{144, 56, 56, 144, 3, 1, 1, 144}, {144, 56, 56, 24, 1, 1, 1},
		{32, 28, 28, 192, 1, 1, 1},       {192, 28, 28, 32, 1, 1, 1},
		{96, 14, 14, 576, 1, 1, 1},       {576, 14, 14, 576, 3, 1, 1, 576},
		{576, 14, 14, 96, 1, 1, 1},       {160, 7, 7, 960, 1, 1, 1},
		{960, 7, 7, 960, 3, 1, 1, 960},   {960, 7, 7, 160, 1, 1, 1},
		{960, 7, 7, 320, 1, 1, 1},        {320, 7, 7, 1280, 1, 1, 1}};
	int64_t (*sh)[8] = NULL;
	int ns = argc - ai;
	if (ns == 1 && !strcmp(argv[ai], "mobilenet")) {
		ns = (int)(sizeof mbv2 / sizeof mbv2[0]);
		sh = calloc((size_t)ns, sizeof *sh);
		memcpy(sh, mbv2, sizeof mbv2);
	} else if (ns > 0) {
		sh = calloc((size_t)ns, sizeof *sh);
		for (int i = 0; i < ns; i++) {
			long long v[8] = {0, 0, 0, 0, 0, 0, 1, 1};
			int got = sscanf(argv[ai + i], "%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld", &v[0],
			                 &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
			if (got < 6 || v[0] < 1 || v[1] < 1 || v[2] < 1 || v[3] < 1 || v[4] < 1 || v[5] < 1 ||
			    (v[7] > 1 && (v[7] != v[0] || v[7] != v[3])) || v[4] > v[1] + 2 * (v[4] / 2) ||
			    v[4] > v[2] + 2 * (v[4] / 2)) {
				fprintf(stderr, "conv_bench: bad shape '%s' (C,H,W,M,K,S[,B[,G]]: G 1 or "
				        "C = M, K <= H, W + 2 (K / 2))\n", argv[ai + i]);
				return 2;
			}
			for (int j = 0; j < 8; j++)
				sh[i][j] = v[j];
		}
	} else {
		ns = (int)(sizeof def / sizeof def[0]);
		sh = calloc((size_t)ns, sizeof *sh);
		memcpy(sh, def, sizeof def);
	}
	kpool *pools[2] = {kpool_new(1), kpool_new(2)};
	for (int i = 0; i < ns; i++)
		for (int t = 0; t < 2; t++)
			for (int wn = 0; wn < 2; wn++)
				run(pools[t], wn, sh[i], reps);
	kpool_free(pools[0]);
	kpool_free(pools[1]);
	free(sh);
	return 0;
}
