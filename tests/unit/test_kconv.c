/* Unit tests of the blocked-layout kernels (runtime/kconv.c): kconvc_f32
 * (group 1 and depthwise, NCHW and NCHW16c input, channel counts that are
 * and are not multiples of 16, pads, strides, dilations, bias, residual in
 * place, activations, every ISA the CPU has), the reorders, kmaxpoolc_f32
 * and kgapc_f32, against the reference kernels on pseudo-random data, one
 * and two threads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kern.h"
#include "runtime/kconv.h"

static int fails;
static char errbuf[256];

static uint32_t rng = 4242;
static float frand(void)
{
	rng = rng * 1664525u + 1013904223u;
	return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rnd(int64_t n)
{
	float *p = aligned_alloc(64, (size_t)((n + 16) * 4 + 63) / 64 * 64);
	for (int64_t i = 0; i < n; i++)
		p[i] = frand();
	return p;
}

static float *blk(int64_t n, int64_t c, int64_t hw)
{
	return aligned_alloc(64, (size_t)(n * (c + 15) / 16 * 16 * hw * 4 + 64) / 64 * 64);
}

static KTensor T(int rank, const int64_t *dims, void *data)
{
	KTensor t = {.dt = DT_F32, .rank = rank, .data = data};
	for (int i = 0; i < rank; i++)
		t.dims[i] = dims[i];
	return t;
}

static KAttr AI(const char *n, int64_t v) { return (KAttr){.name = n, .kind = AK_INT, .i = v}; }
static KAttr AIS(const char *n, int c, const int64_t *v)
{
	return (KAttr){.name = n, .kind = AK_INTS, .n = c, .ints = v};
}

static int call(int op, KTensor *in, int nin, KTensor *out, KAttr *at, int na)
{
	errbuf[0] = 0;
	KCall c = {.op = op, .nin = nin, .nout = 1, .nattr = na, .in = in, .out = out,
	           .attr = at, .err = errbuf, .errlen = sizeof errbuf};
	int rc = ref_table[op](&c);
	if (rc)
		fprintf(stderr, "%s: %s\n", op_names[op], errbuf);
	return rc;
}

static double maxdiff(const float *a, const float *b, int64_t n)
{
	double m = 0;
	for (int64_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
		if (d > m || d != d)
			m = d != d ? INFINITY : d;
	}
	return m;
}

static double act(int a, double x)
{
	if (a == KC_ACT_CLIP)
		return x < -0.25 ? -0.25 : x > 0.5 ? 0.5 : x;
	if (a == KC_ACT_HSIGMOID)
		return fmax(0.0, fmin(1.0, 0.2 * x + 0.5));
	if (a == KC_ACT_HSWISH)
		return x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5));
	return a == KGEMM_ACT_RELU ? (x > 0 ? x : 0) :
	       a == KGEMM_ACT_SILU ? x / (1 + exp(-x)) : x;
}

static int want_wino;   /* 1: the case must take the Winograd path */

static void conv_case(kpool *pool, int64_t n, int64_t c, int64_t h, int64_t w, int64_t m,
                      int64_t k, int64_t s, int64_t pad, int64_t dil, int dw, int withr, int a,
                      int inb)
{
	int64_t grp = dw ? c : 1;
	int64_t oh = (h + 2 * pad - dil * (k - 1) - 1) / s + 1;
	int64_t ow = (w + 2 * pad - dil * (k - 1) - 1) / s + 1;
	int64_t xd[4] = {n, c, h, w}, wd[4] = {m, c / grp, k, k}, yd[4] = {n, m, oh, ow};
	int64_t ny = n * m * oh * ow;
	float *x = rnd(n * c * h * w), *wt = rnd(m * (c / grp) * k * k), *b = rnd(m);
	float *res = rnd(ny), *ref = calloc((size_t)ny, 4), *y = malloc((size_t)ny * 4);
	KTensor in[3] = {T(4, xd, x), T(4, wd, wt), T(1, (int64_t[]){m}, b)};
	KTensor out[1] = {T(4, yd, ref)};
	int64_t st[2] = {s, s}, pd[4] = {pad, pad, pad, pad}, dl[2] = {dil, dil};
	KAttr at[4] = {AIS("strides", 2, st), AIS("pads", 4, pd), AIS("dilations", 2, dl),
	               AI("group", grp)};
	if (call(OP_Conv, in, 3, out, at, 4)) {
		fails++;
		return;
	}
	for (int64_t i = 0; i < ny; i++)
		ref[i] = (float)act(a, (double)ref[i] + (withr ? res[i] : 0));
	int64_t p[KC_NP] = {n, c, h, w, m, k, k, oh, ow, s, s, pad, pad, dil, dil, grp};
	const float *ap = a == KC_ACT_CLIP ? (const float[]){-0.25f, 0.5f} :
	                  a == KC_ACT_HSIGMOID ? (const float[]){0.2f, 0.5f} : NULL;
	if (!kconvc_supported(p)) {
		fails++;
		fprintf(stderr, "conv case not supported\n");
		return;
	}
	if (want_wino && !kconvc_winograd(p, inb)) {
		fails++;
		fprintf(stderr, "conv case c%lld %lldx%lld m%lld: Winograd path not taken\n",
		        (long long)c, (long long)h, (long long)w, (long long)m);
	}
	float *wp = aligned_alloc(64, (kconvc_pack_size(p, inb) + 63) / 64 * 64);
	kconvc_pack(p, inb, wt, wp);
	void *scr = aligned_alloc(64, (kconvc_scratch(p, inb) + 63) / 64 * 64);
	float *xb = blk(n, c, h * w), *yb = blk(n, m, oh * ow);
	if (inb)
		knchwc_to(n, c, h * w, x, xb);
	knchwc_to(n, m, oh * ow, res, yb);   /* the residual in place */
	kconvc_f32(pool, p, inb, inb ? xb : x, wp, b, withr ? yb : NULL, yb, a, ap, scr);
	knchwc_from(n, m, oh * ow, yb, y);
	double d = maxdiff(y, ref, ny);
	if (!(d < 1e-4)) {
		fails++;
		fprintf(stderr, "convc n%lld c%lld %lldx%lld m%lld k%lld s%lld p%lld d%lld dw%d r%d act%d "
		        "inb%d: max rel diff %g\n", (long long)n, (long long)c, (long long)h, (long long)w,
		        (long long)m, (long long)k, (long long)s, (long long)pad, (long long)dil, dw,
		        withr, a, inb, d);
	}
	free(wp); free(scr); free(xb); free(yb);
	free(x); free(wt); free(b); free(res); free(ref); free(y);
}

static void pool_case(kpool *pool, int64_t n, int64_t c, int64_t h, int64_t w, int64_t k,
                      int64_t s, int64_t pad, int64_t dil)
{
	int64_t oh = (h + 2 * pad - dil * (k - 1) - 1) / s + 1;
	int64_t ow = (w + 2 * pad - dil * (k - 1) - 1) / s + 1;
	int64_t xd[4] = {n, c, h, w}, yd[4] = {n, c, oh, ow}, ny = n * c * oh * ow;
	float *x = rnd(n * c * h * w), *ref = calloc((size_t)ny, 4), *y = malloc((size_t)ny * 4);
	KTensor in[1] = {T(4, xd, x)}, out[1] = {T(4, yd, ref)};
	int64_t ks[2] = {k, k}, st[2] = {s, s}, pd[4] = {pad, pad, pad, pad}, dl[2] = {dil, dil};
	KAttr at[4] = {AIS("kernel_shape", 2, ks), AIS("strides", 2, st), AIS("pads", 4, pd),
	               AIS("dilations", 2, dl)};
	if (call(OP_MaxPool, in, 1, out, at, 4)) {
		fails++;
		return;
	}
	float *xb = blk(n, c, h * w), *yb = blk(n, c, oh * ow);
	knchwc_to(n, c, h * w, x, xb);
	int64_t q[KP_NQ] = {n * ((c + 15) / 16), h, w, k, k, oh, ow, s, s, pad, pad, dil, dil};
	kmaxpoolc_f32(pool, q, xb, yb);
	knchwc_from(n, c, oh * ow, yb, y);
	if (maxdiff(y, ref, ny) != 0) {
		fails++;
		fprintf(stderr, "maxpoolc c%lld %lldx%lld k%lld s%lld p%lld d%lld differs\n",
		        (long long)c, (long long)h, (long long)w, (long long)k, (long long)s,
		        (long long)pad, (long long)dil);
	}
	/* global average pool of the same input */
	float *g = malloc((size_t)(n * c) * 4), *gr = calloc((size_t)(n * c), 4);
	int64_t gd[4] = {n, c, 1, 1};
	KTensor go[1] = {T(4, gd, gr)};
	if (call(OP_GlobalAveragePool, in, 1, go, NULL, 0) == 0) {
		kgapc_f32(n, c, h * w, xb, g);
		if (!(maxdiff(g, gr, n * c) < 1e-5)) {
			fails++;
			fprintf(stderr, "gapc c%lld %lldx%lld differs\n", (long long)c, (long long)h,
			        (long long)w);
		}
	} else
		fails++;
	free(g); free(gr); free(xb); free(yb); free(x); free(ref); free(y);
}

int main(void)
{
	kpool *pools[2] = {NULL, kpool_new(2)};
	int top = kgemm_isa();
	for (int isa = top; isa >= 0; isa--) {
		kgemm_force_isa(isa);
		for (int t = 0; t < 4; t++) {
			kpool *pl = pools[t & 1];
			/* t >= 2: the direct tiles for the 3x3 stride-1 cases too */
			kconvc_set_wino(t < 2);
			want_wino = t < 2;
			/* Winograd F(2x2,3x3) shapes: odd sizes (partial tiles), padding 0
			 * (no copy), C and M not multiples of 16, several images, channel
			 * groups, the fused epilogues */
			conv_case(pl, 1, 16, 9, 11, 16, 3, 1, 1, 1, 0, 1, KGEMM_ACT_RELU, 1);
			conv_case(pl, 2, 20, 10, 13, 40, 3, 1, 1, 1, 0, 1, KC_ACT_HSWISH, 1);
			conv_case(pl, 1, 32, 12, 12, 96, 3, 1, 0, 1, 0, 0, KGEMM_ACT_NONE, 1);
			conv_case(pl, 1, 48, 9, 8, 24, 3, 1, 1, 1, 0, 0, KGEMM_ACT_SILU, 0);
			conv_case(pl, 1, 64, 8, 8, 64, 3, 1, 1, 1, 0, 1, KC_ACT_CLIP, 1);
			conv_case(pl, 1, 16, 40, 36, 32, 3, 1, 1, 1, 0, 0, KGEMM_ACT_RELU, 1);
			/* padding 2 (tiles half outside), and the small late-resnet image */
			conv_case(pl, 1, 16, 6, 7, 16, 3, 1, 2, 1, 0, 1, KGEMM_ACT_RELU, 1);
			conv_case(pl, 1, 128, 4, 4, 128, 3, 1, 1, 1, 0, 1, KGEMM_ACT_RELU, 1);
			want_wino = 0;
			/* n c h w m k s pad dil dw res act inb */
			conv_case(pl, 1, 3, 17, 19, 16, 3, 1, 1, 1, 0, 0, KGEMM_ACT_RELU, 0);
			conv_case(pl, 1, 16, 12, 12, 16, 3, 1, 1, 1, 0, 1, KGEMM_ACT_RELU, 1);
			conv_case(pl, 2, 16, 9, 9, 32, 3, 2, 1, 1, 0, 0, KGEMM_ACT_NONE, 1);
			conv_case(pl, 1, 32, 8, 8, 64, 1, 2, 0, 1, 0, 0, KGEMM_ACT_NONE, 1);
			conv_case(pl, 1, 24, 7, 30, 40, 3, 1, 2, 2, 0, 1, KGEMM_ACT_SILU, 1);
			conv_case(pl, 1, 20, 6, 5, 8, 1, 1, 0, 1, 0, 1, KGEMM_ACT_RELU, 0);
			conv_case(pl, 1, 48, 4, 4, 48, 1, 1, 0, 1, 0, 0, KGEMM_ACT_RELU, 1);
			conv_case(pl, 1, 24, 11, 13, 24, 3, 1, 1, 1, 1, 0, KGEMM_ACT_RELU, 1);
			conv_case(pl, 1, 40, 10, 10, 40, 5, 2, 2, 1, 1, 1, KGEMM_ACT_NONE, 1);
			conv_case(pl, 2, 16, 8, 8, 16, 3, 2, 1, 1, 1, 0, KGEMM_ACT_RELU, 0);
			conv_case(pl, 1, 16, 9, 9, 24, 3, 1, 1, 1, 0, 1, KC_ACT_CLIP, 1);
			conv_case(pl, 1, 24, 9, 9, 24, 3, 1, 1, 1, 1, 0, KC_ACT_HSWISH, 1);
			conv_case(pl, 1, 3, 9, 9, 16, 3, 2, 1, 1, 0, 0, KC_ACT_HSIGMOID, 0);
			/* depthwise read in place: 3x3 stride 2, dilation 2, no padding,
			 * widths with a remainder after the groups of four */
			conv_case(pl, 1, 32, 13, 17, 32, 3, 2, 1, 1, 1, 1, KC_ACT_CLIP, 1);
			conv_case(pl, 1, 16, 10, 19, 16, 3, 1, 2, 2, 1, 0, KGEMM_ACT_RELU, 1);
			conv_case(pl, 1, 16, 6, 23, 16, 3, 1, 0, 1, 1, 1, KGEMM_ACT_NONE, 1);
			conv_case(pl, 2, 48, 16, 16, 48, 3, 1, 1, 1, 1, 0, KC_ACT_HSWISH, 1);
			conv_case(pl, 1, 16, 3, 2, 16, 3, 1, 1, 1, 1, 0, KGEMM_ACT_RELU, 1);
			/* pointwise convolutions as one row of pixels, cut into column
			 * chunks when there are few output-channel pairs: several
			 * images, an odd block count, chunk tails; few output rows
			 * (chunked rows) of 3x3 stride 1 and 2; stem copies split
			 * over rows (NCHW, 3 and 20 channels) */
			conv_case(pl, 2, 40, 7, 7, 72, 1, 1, 0, 1, 0, 1, KC_ACT_CLIP, 1);
			conv_case(pl, 1, 16, 13, 29, 96, 1, 1, 0, 1, 0, 0, KC_ACT_HSWISH, 1);
			conv_case(pl, 1, 33, 5, 3, 17, 1, 1, 0, 1, 0, 1, KGEMM_ACT_RELU, 1);
			conv_case(pl, 1, 16, 2, 40, 16, 3, 1, 1, 1, 0, 1, KGEMM_ACT_NONE, 1);
			conv_case(pl, 1, 16, 4, 50, 48, 3, 2, 1, 1, 0, 0, KC_ACT_CLIP, 1);
			conv_case(pl, 1, 3, 80, 70, 32, 3, 2, 1, 1, 0, 0, KC_ACT_CLIP, 0);
			conv_case(pl, 2, 20, 40, 36, 16, 3, 1, 1, 1, 0, 1, KGEMM_ACT_RELU, 0);
			/* n c h w k s pad dil; 64x64: one plane, split over rows */
			pool_case(pl, 1, 16, 16, 16, 3, 2, 1, 1);
			pool_case(pl, 2, 40, 7, 9, 2, 2, 0, 1);
			pool_case(pl, 1, 8, 5, 5, 3, 1, 1, 1);
			pool_case(pl, 1, 16, 64, 64, 3, 2, 1, 1);
			pool_case(pl, 1, 24, 9, 11, 5, 1, 2, 1);
			pool_case(pl, 1, 16, 12, 13, 3, 2, 2, 2);
			pool_case(pl, 1, 16, 3, 4, 3, 1, 1, 1);
		}
	}
	kgemm_force_isa(-1);
	kconvc_set_wino(1);
	kpool_free(pools[1]);
	if (fails) {
		fprintf(stderr, "%d failures\n", fails);
		return 1;
	}
	printf("kconv: all cases pass\n");
	return 0;
}
