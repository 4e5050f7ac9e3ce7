/* Unit tests of the library kernels beside the GEMM (runtime/kops.c) and of
 * the fused ops' reference kernel (ir/ref_fused.c): kconv2d_f32 (both GEMM
 * orientations, packed and unpacked weights, pads, strides, dilations,
 * groups, 1x1, bias, residual in place, activations), klayernorm_f32 and
 * kmaxpool2d_f32 / kgavgpool_f32 against the reference kernels on
 * pseudo-random data, one and two threads; ref_fused on hand-worked cases. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kern.h"
#include "runtime/kops.h"

static int fails;
static char errbuf[256];

#define CHECK(c) do { if (!(c)) { fails++; fprintf(stderr, "%s:%d: CHECK(%s) failed\n", \
	__FILE__, __LINE__, #c); } } while (0)

static uint32_t rng = 12345;
static float frand(void)
{
	rng = rng * 1664525u + 1013904223u;
	return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rnd(int64_t n)
{
	float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
	for (int64_t i = 0; i < n; i++)
		p[i] = frand();
	return p;
}

static KTensor T(int rank, const int64_t *dims, void *data)
{
	KTensor t = {.dt = DT_F32, .rank = rank, .data = data};
	for (int i = 0; i < rank; i++)
		t.dims[i] = dims[i];
	return t;
}

static KAttr AI(const char *n, int64_t v) { return (KAttr){.name = n, .kind = AK_INT, .i = v}; }
static KAttr AF(const char *n, double v) { return (KAttr){.name = n, .kind = AK_FLOAT, .f = v}; }
static KAttr AS(const char *n, const char *v) { return (KAttr){.name = n, .kind = AK_STRING, .s = v}; }
static KAttr AIS(const char *n, int c, const int64_t *v)
{
	return (KAttr){.name = n, .kind = AK_INTS, .n = c, .ints = v};
}

static int call(int op, KTensor *in, int nin, KTensor *out, int nout, KAttr *at, int na)
{
	errbuf[0] = 0;
	KCall c = {.op = op, .nin = nin, .nout = nout, .nattr = na, .in = in, .out = out,
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
	return a == KGEMM_ACT_RELU ? (x > 0 ? x : 0) :
	       a == KGEMM_ACT_GELU_ERF ? 0.5 * x * (1 + erf(x / sqrt(2.0))) :
	       a == KGEMM_ACT_SILU ? x / (1 + exp(-x)) : x;
}

/* One convolution: reference ref_conv (+ bias + res, act) vs kconv2d_f32. */
static void conv_case(kpool *pool, int64_t n, int64_t c, int64_t h, int64_t w, int64_t m,
                      int64_t kh, int64_t kw, int64_t s, int64_t pad, int64_t dil, int64_t grp,
                      int withb, int withr, int a, int packed)
{
	int64_t oh = (h + 2 * pad - dil * (kh - 1) - 1) / s + 1;
	int64_t ow = (w + 2 * pad - dil * (kw - 1) - 1) / s + 1;
	int64_t xd[4] = {n, c, h, w}, wd[4] = {m, c / grp, kh, kw}, yd[4] = {n, m, oh, ow};
	int64_t ny = n * m * oh * ow;
	float *x = rnd(n * c * h * w), *wt = rnd(m * (c / grp) * kh * kw), *b = rnd(m);
	float *res = rnd(ny), *ref = calloc((size_t)ny, sizeof *ref), *y = malloc((size_t)ny * 4);
	KTensor in[3] = {T(4, xd, x), T(4, wd, wt), T(1, (int64_t[]){m}, b)};
	KTensor out[1] = {T(4, yd, ref)};
	int64_t st[2] = {s, s}, pd[4] = {pad, pad, pad, pad}, dl[2] = {dil, dil};
	KAttr at[4] = {AIS("strides", 2, st), AIS("pads", 4, pd), AIS("dilations", 2, dl),
	               AI("group", grp)};
	if (call(OP_Conv, in, withb ? 3 : 2, out, 1, at, 4)) {
		fails++;
		goto done;
	}
	for (int64_t i = 0; i < ny; i++)
		ref[i] = (float)act(a, (double)ref[i] + (withr ? res[i] : 0));
	int64_t p[KC_NP] = {n, c, h, w, m, kh, kw, oh, ow, s, s, pad, pad, dil, dil, grp};
	size_t ns = kconv2d_scratch(p);
	void *scr = ns ? aligned_alloc(64, ns) : NULL;
	float *wp = NULL;
	if (packed && kconv2d_transposed(p)) {
		wp = aligned_alloc(64, kconv2d_pack_size(p));
		kconv2d_pack(p, wt, wp);
	}
	/* the residual in place: y starts as res */
	memcpy(y, res, (size_t)ny * 4);
	kconv2d_f32(pool, p, x, wp ? NULL : wt, wp, withb ? b : NULL, withr ? y : NULL, y,
	            (kgemm_act)a, scr);
	double d = maxdiff(y, ref, ny);
	if (!(d < 1e-4)) {
		fails++;
		fprintf(stderr, "conv n%lld c%lld %lldx%lld m%lld k%lldx%lld s%lld p%lld d%lld g%lld b%d r%d "
		        "act%d packed%d: max rel diff %g\n", (long long)n, (long long)c, (long long)h,
		        (long long)w, (long long)m, (long long)kh, (long long)kw, (long long)s,
		        (long long)pad, (long long)dil, (long long)grp, withb, withr, a, packed, d);
	}
	free(scr);
	free(wp);
done:
	free(x); free(wt); free(b); free(res); free(ref); free(y);
}

static void layernorm_case(kpool *pool, int64_t rows, int64_t len)
{
	float *x = rnd(rows * len), *sc = rnd(len), *bb = rnd(len);
	float *ref = calloc((size_t)(rows * len), 4), *y = malloc((size_t)(rows * len) * 4);
	int64_t xd[2] = {rows, len};
	KTensor in[3] = {T(2, xd, x), T(1, &len, sc), T(1, &len, bb)};
	KTensor out[1] = {T(2, xd, ref)};
	KAttr at[2] = {AI("axis", -1), AF("epsilon", 1e-5)};
	CHECK(call(OP_LayerNormalization, in, 3, out, 1, at, 2) == 0);
	klayernorm_f32(pool, rows, len, x, sc, bb, 1e-5f, y);
	CHECK(maxdiff(y, ref, rows * len) < 1e-4);
	free(x); free(sc); free(bb); free(ref); free(y);
}

static void pool_case(kpool *pool, int64_t pl, int64_t h, int64_t w, int64_t k, int64_t s,
                      int64_t pad, int nan)
{
	int64_t oh = (h + 2 * pad - k) / s + 1, ow = (w + 2 * pad - k) / s + 1;
	float *x = rnd(pl * h * w), *ref = calloc((size_t)(pl * oh * ow), 4);
	float *y = malloc((size_t)(pl * oh * ow) * 4);
	if (nan)
		x[h * w / 2 + 1] = NAN;
	int64_t xd[4] = {1, pl, h, w}, yd[4] = {1, pl, oh, ow};
	KTensor in[1] = {T(4, xd, x)};
	KTensor out[1] = {T(4, yd, ref)};
	int64_t ks[2] = {k, k}, st[2] = {s, s}, pd[4] = {pad, pad, pad, pad};
	KAttr at[3] = {AIS("kernel_shape", 2, ks), AIS("strides", 2, st), AIS("pads", 4, pd)};
	CHECK(call(OP_MaxPool, in, 1, out, 1, at, 3) == 0);
	int64_t q[KP_NQ] = {pl, h, w, k, k, oh, ow, s, s, pad, pad, 1, 1};
	kmaxpool2d_f32(pool, q, x, y);
	int same = 1;
	for (int64_t i = 0; i < pl * oh * ow; i++) {
		int eq = (isnan(y[i]) && isnan(ref[i])) || y[i] == ref[i];
		if (!eq && same)
			fprintf(stderr, "maxpool %lldx%lld k%lld s%lld p%lld nan%d: [%lld] %g, reference %g\n",
			        (long long)h, (long long)w, (long long)k, (long long)s, (long long)pad, nan,
			        (long long)i, y[i], ref[i]);
		same &= eq;
	}
	CHECK(same);
	float g[64];
	kgavgpool_f32(pool, pl, h * w, x, g);
	for (int64_t i = 0; i < pl && !nan; i++) {
		double sum = 0;
		for (int64_t j = 0; j < h * w; j++)
			sum += x[i * h * w + j];
		CHECK(fabs(g[i] - sum / (h * w)) < 1e-5);
	}
	free(x); free(ref); free(y);
}

/* ref_fused by hand: A = [[1, 2, 3], [-1, 0, 1]], B = [[1, 0], [0, 1], [1, 1]]:
 * A B = [[4, 5], [0, 1]]; + bias [1, -10] = [[5, -5], [1, -9]];
 * + res [[0, 1], [-2, 0]] = [[5, -4], [-1, -9]]; Relu = [[5, 0], [0, 0]]. */
static void fused_cases(void)
{
	float A[6] = {1, 2, 3, -1, 0, 1}, B[6] = {1, 0, 0, 1, 1, 1}, bias[2] = {1, -10};
	float res[4] = {0, 1, -2, 0}, y[4];
	int64_t ad[2] = {2, 3}, bd[2] = {3, 2}, yd[2] = {2, 2}, nb = 2;
	KTensor in[4] = {T(2, ad, A), T(2, bd, B), T(1, &nb, bias), T(2, yd, res)};
	KTensor out[1] = {T(2, yd, y)};
	KAttr at[1] = {AS("activation", "Relu")};
	CHECK(call(OP_fused_matmul, in, 4, out, 1, at, 1) == 0);
	CHECK(y[0] == 5 && y[1] == 0 && y[2] == 0 && y[3] == 0);
	at[0] = AS("activation", "");
	CHECK(call(OP_fused_matmul, in, 4, out, 1, at, 1) == 0);
	CHECK(y[0] == 5 && y[1] == -4 && y[2] == -1 && y[3] == -9);
	/* Silu and Gelu of A B + bias (no residual) */
	at[0] = AS("activation", "Silu");
	CHECK(call(OP_fused_matmul, in, 3, out, 1, at, 1) == 0);
	CHECK(fabs(y[0] - 5 / (1 + exp(-5.0))) < 1e-5 && fabs(y[3] - -9 / (1 + exp(9.0))) < 1e-5);
	at[0] = AS("activation", "Gelu");
	CHECK(call(OP_fused_matmul, in, 3, out, 1, at, 1) == 0);
	CHECK(fabs(y[2] - 0.5 * (1 + erf(1 / sqrt(2.0)))) < 1e-5);
	at[0] = AS("activation", "Swish");
	errbuf[0] = 0;
	KCall c = {.op = OP_fused_matmul, .nin = 3, .nout = 1, .nattr = 1, .in = in, .out = out,
	           .attr = at, .err = errbuf, .errlen = sizeof errbuf};
	CHECK(ref_table[OP_fused_matmul](&c) != 0 && strstr(errbuf, "Swish"));
	/* fused_conv: 1x1 conv of a 1x1x2x1 image [2, -3] with w = 2, b = 1,
	 * res [0, 4]: [5, -5] + [0, 4] = [5, -1], Relu [5, 0] */
	float x[2] = {2, -3}, w[1] = {2}, cb[1] = {1}, r2[2] = {0, 4}, y2[2];
	int64_t xd[4] = {1, 1, 2, 1}, wd[4] = {1, 1, 1, 1}, one = 1;
	KTensor ci[4] = {T(4, xd, x), T(4, wd, w), T(1, &one, cb), T(4, xd, r2)};
	KTensor co[1] = {T(4, xd, y2)};
	KAttr ca[1] = {AS("activation", "Relu")};
	CHECK(call(OP_fused_conv, ci, 4, co, 1, ca, 1) == 0);
	CHECK(y2[0] == 5 && y2[1] == 0);
}

int main(void)
{
	kpool *pools[2] = {NULL, kpool_new(2)};
	for (int t = 0; t < 2; t++) {
		kpool *pl = pools[t];
		for (int a = 0; a < 4; a++)
			for (int packed = 0; packed < 2; packed++) {
				conv_case(pl, 1, 3, 17, 19, 16, 3, 3, 1, 1, 1, 1, 1, 1, a, packed);   /* transposed */
				conv_case(pl, 2, 8, 5, 6, 40, 3, 3, 2, 1, 1, 1, 1, 1, a, packed);     /* normal */
				conv_case(pl, 1, 4, 9, 9, 8, 1, 1, 1, 0, 1, 1, 1, 0, a, packed);      /* 1x1 */
				conv_case(pl, 1, 6, 11, 7, 6, 3, 3, 1, 2, 2, 3, 0, 1, a, packed);     /* groups, dilation */
				conv_case(pl, 1, 4, 6, 6, 4, 3, 3, 1, 1, 1, 4, 1, 0, a, packed);      /* depthwise */
				conv_case(pl, 1, 16, 4, 4, 64, 3, 3, 1, 1, 1, 1, 1, 1, a, packed);    /* few pixels */
			}
		conv_case(pl, 1, 32, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, KGEMM_ACT_RELU, 1);  /* threaded */
		conv_case(pl, 1, 3, 64, 64, 16, 7, 7, 2, 3, 1, 1, 1, 0, KGEMM_ACT_RELU, 1);
		layernorm_case(pl, 7, 33);
		layernorm_case(pl, 64, 1024);
		pool_case(pl, 5, 13, 11, 3, 2, 1, 0);
		pool_case(pl, 3, 8, 8, 2, 2, 0, 1);
		pool_case(pl, 16, 64, 64, 3, 2, 1, 0);
	}
	fused_cases();
	kpool_free(pools[1]);
	if (fails)
		fprintf(stderr, "test_kops: %d failure(s)\n", fails);
	else
		printf("test_kops: all passed\n");
	return fails != 0;
}
