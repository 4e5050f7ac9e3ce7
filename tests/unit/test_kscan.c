/* Unit test for the fused scan kernels (runtime/kscan.c) against the plain
 * reference recurrences (ir/ref_scan.c): selective_scan, ssd (chunked, odd
 * chunk sizes and tails) and linear_scan, with and without every optional
 * input, last states included, on 1 and 2 threads, for every ISA copy this
 * CPU runs (plain, AVX2, AVX-512: VIBEE_KSCAN_ISA caps the choice). Tolerance
 * rtol 6e-4, atol 2e-3 (ALGORITHMS.md section 2). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir/kern.h"
#include "runtime/kpool.h"
#include "runtime/kscan.h"
#include "runtime/kscan_isa.h"

static int fails, checks;
static unsigned rng = 777;

static float frand(float lo, float hi)
{
	rng = rng * 1103515245u + 12345u;
	return lo + (hi - lo) * (float)((rng >> 8) & 0xffff) / 65535.0f;
}

static KTensor mk(int rank, const int64_t *dims, float lo, float hi)
{
	KTensor t = {DT_F32, rank, {0}, NULL};
	int64_t n = 1;
	for (int i = 0; i < rank; i++)
		n *= (t.dims[i] = dims[i]);
	float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
	for (int64_t i = 0; i < n; i++)
		p[i] = frand(lo, hi);
	t.data = p;
	return t;
}

static KTensor none(void)
{
	KTensor t = {DT_UNDEF, 0, {0}, NULL};
	return t;
}

static void *xalloc(void *a, size_t n) { (void)a; return calloc(1, n ? n : 1); }

/* Run op on `in` by reference and by kscan_call (pool), compare nout outputs. */
static void compare(const char *tag, int op, KTensor *in, int nin, const KAttr *at, int nat,
                    const KTensor *oshape, int nout, kpool *pool)
{
	KTensor ro[2], fo[2];
	for (int o = 0; o < nout; o++) {
		ro[o] = oshape[o];
		fo[o] = oshape[o];
		int64_t n = kt_numel(&oshape[o]);
		ro[o].data = calloc((size_t)(n ? n : 1), sizeof(float));
		fo[o].data = calloc((size_t)(n ? n : 1), sizeof(float));
	}
	char e1[256] = "", e2[256] = "";
	KCall rc = {op, nin, nout, nat, in, ro, at, e1, sizeof e1, xalloc, NULL};
	KCall fc = {op, nin, nout, nat, in, fo, at, e2, sizeof e2, xalloc, NULL};
	checks++;
	if (ref_table[op](&rc) || kscan_call(pool, &fc)) {
		fails++;
		printf("FAIL %s: %s %s\n", tag, e1, e2);
		return;
	}
	for (int o = 0; o < nout; o++) {
		int64_t n = kt_numel(&oshape[o]);
		double worst = 0;
		const float *r = ro[o].data, *f = fo[o].data;
		for (int64_t i = 0; i < n; i++) {
			double err = fabs((double)r[i] - f[i]) - (2e-3 + 6e-4 * fabs(r[i]));
			if (!(err <= worst))
				worst = isnan(err) ? INFINITY : err;
		}
		checks++;
		if (worst > 0) {
			fails++;
			printf("FAIL %s: output %d exceeds tolerance by %g\n", tag, o, worst);
		}
		free(ro[o].data);
		free(fo[o].data);
	}
}

static void free_in(KTensor *in, int n)
{
	for (int i = 0; i < n; i++)
		free(in[i].data);
}

static void t_selective(kpool *pool, int64_t nb, int64_t T, int64_t nd, int64_t ns, int opts)
{
	int lay = (opts & 32) != 0;   /* [b,d,T] / [b,n,T] layout */
	int64_t btd[3] = {nb, lay ? nd : T, lay ? T : nd}, dn[2] = {nd, ns};
	int64_t btn[3] = {nb, lay ? ns : T, lay ? T : ns}, d1[1] = {nd};
	int64_t bdn[3] = {nb, nd, ns};
	KTensor in[9] = {
		mk(3, btd, -1, 1), mk(3, btd, (opts & 1) ? -3 : 0.01f, (opts & 1) ? 1 : 0.3f),
		mk(2, dn, -4, -0.1f), mk(3, btn, -1, 1), mk(3, btn, -1, 1),
		(opts & 2) ? mk(1, d1, 0.5f, 1.5f) : none(), (opts & 4) ? mk(3, btd, -2, 2) : none(),
		(opts & 8) ? mk(1, d1, (opts & 1) ? -1 : 0, (opts & 1) ? 0 : 0.5f) : none(), (opts & 16) ? mk(3, bdn, -1, 1) : none()};
	KAttr at[2] = {{.name = "delta_softplus", .kind = AK_INT, .i = opts & 1},
	               {.name = "layout", .kind = AK_INT, .i = lay}};
	KTensor os[2] = {{DT_F32, 3, {btd[0], btd[1], btd[2]}, NULL}, {DT_F32, 3, {nb, nd, ns}, NULL}};
	char tag[128];
	snprintf(tag, sizeof tag, "selective_scan b%lld T%lld d%lld n%lld opts%d", (long long)nb,
	         (long long)T, (long long)nd, (long long)ns, opts);
	compare(tag, OP_selective_scan, in, 9, at, 2, os, 2, pool);
	free_in(in, 9);
}

static void t_ssd(kpool *pool, int64_t nb, int64_t T, int64_t H, int64_t P, int64_t G, int64_t N,
                  int64_t chunk, int opts)
{
	int64_t bthp[4] = {nb, T, H, P}, bth[3] = {nb, T, H}, h1[1] = {H}, btgn[4] = {nb, T, G, N};
	int64_t bhpn[4] = {nb, H, P, N};
	KTensor in[9] = {
		mk(4, bthp, -1, 1), mk(3, bth, (opts & 1) ? -3 : 0.01f, (opts & 1) ? 1 : 0.2f),
		mk(1, h1, -2, -0.2f), mk(4, btgn, -1, 1), mk(4, btgn, -1, 1),
		(opts & 2) ? mk(1, h1, 0.5f, 1.5f) : none(), (opts & 4) ? mk(4, bthp, -2, 2) : none(),
		(opts & 8) ? mk(1, h1, (opts & 1) ? -1 : 0, (opts & 1) ? 0 : 0.5f) : none(), (opts & 16) ? mk(4, bhpn, -1, 1) : none()};
	KAttr at[2] = {{.name = "dt_softplus", .kind = AK_INT, .i = opts & 1},
	               {.name = "chunk", .kind = AK_INT, .i = chunk}};
	KTensor os[2] = {{DT_F32, 4, {nb, T, H, P}, NULL}, {DT_F32, 4, {nb, H, P, N}, NULL}};
	char tag[128];
	snprintf(tag, sizeof tag, "ssd b%lld T%lld H%lld P%lld G%lld N%lld chunk%lld opts%d",
	         (long long)nb, (long long)T, (long long)H, (long long)P, (long long)G,
	         (long long)N, (long long)chunk, opts);
	compare(tag, OP_ssd, in, 9, at, 2, os, 2, pool);
	free_in(in, 9);
}

static void t_linear(kpool *pool, int64_t nb, int64_t T, int64_t e, int h0)
{
	int64_t bte[3] = {nb, T, e}, be[2] = {nb, e};
	KTensor in[3] = {mk(3, bte, 0, 1), mk(3, bte, -1, 1), h0 ? mk(2, be, -1, 1) : none()};
	KTensor os[2] = {{DT_F32, 3, {nb, T, e}, NULL}, {DT_F32, 2, {nb, e}, NULL}};
	char tag[96];
	snprintf(tag, sizeof tag, "linear_scan b%lld T%lld e%lld h0 %d", (long long)nb,
	         (long long)T, (long long)e, h0);
	compare(tag, OP_linear_scan, in, 3, NULL, 0, os, 2, pool);
	free_in(in, 3);
}

/* Inconsistent shapes are refused by both kernels, never read out of bounds. */
static void t_bad(void)
{
	int64_t u3[3] = {1, 6, 4}, du[3] = {1, 5, 4}, a2[2] = {4, 3}, b3[3] = {1, 6, 3};
	int64_t dd[1] = {5}, h0[3] = {1, 4, 2};
	KTensor in[9] = {mk(3, u3, -1, 1), mk(3, du, 0, 1), mk(2, a2, -1, 0), mk(3, b3, -1, 1),
	                 mk(3, b3, -1, 1), none(), none(), none(), none()};
	KTensor out[2] = {{DT_F32, 3, {1, 6, 4}, NULL}, {DT_UNDEF, 0, {0}, NULL}};
	out[0].data = calloc(24, sizeof(float));
	for (int v = 0; v < 3; v++) {
		if (v == 1) {   /* delta right, D too short */
			free(in[1].data);
			in[1] = mk(3, u3, 0, 1);
			in[5] = mk(1, dd, 0, 1);
		} else if (v == 2) {   /* h0 of the wrong state size */
			free(in[5].data);
			in[5] = none();
			in[8] = mk(3, h0, 0, 1);
		}
		char e1[256] = "", e2[256] = "";
		KCall rc = {OP_selective_scan, 9, 1, 0, in, out, NULL, e1, sizeof e1, xalloc, NULL};
		KCall fc = {OP_selective_scan, 9, 1, 0, in, out, NULL, e2, sizeof e2, xalloc, NULL};
		checks += 2;
		if (!ref_table[OP_selective_scan](&rc) || !e1[0]) {
			fails++;
			printf("FAIL bad shapes %d: reference kernel accepted them\n", v);
		}
		if (!kscan_call(NULL, &fc) || !e2[0]) {
			fails++;
			printf("FAIL bad shapes %d: kscan_call accepted them\n", v);
		}
	}
	free(out[0].data);
	free_in(in, 9);
}

/* The copies against each other: every ISA's selective scan on the same
 * inputs agrees with the plain copy to rtol 1e-4, atol 1e-5 (6x tighter
 * than against the reference; they differ only in the
 * exp/log polynomials and the order of a few roundings). */
static void t_cross(kpool *pool, int best, int64_t nb, int64_t T, int64_t nd, int64_t ns, int opts)
{
	int lay = (opts & 32) != 0;
	int64_t btd[3] = {nb, lay ? nd : T, lay ? T : nd}, dn[2] = {nd, ns};
	int64_t btn[3] = {nb, lay ? ns : T, lay ? T : ns}, d1[1] = {nd}, bdn[3] = {nb, nd, ns};
	KTensor in[9] = {
		mk(3, btd, -1, 1), mk(3, btd, (opts & 1) ? -3 : 0.01f, (opts & 1) ? 1 : 0.3f),
		mk(2, dn, -4, -0.1f), mk(3, btn, -1, 1), mk(3, btn, -1, 1),
		(opts & 2) ? mk(1, d1, 0.5f, 1.5f) : none(), (opts & 4) ? mk(3, btd, -2, 2) : none(),
		(opts & 8) ? mk(1, d1, -1, 0) : none(), (opts & 16) ? mk(3, bdn, -1, 1) : none()};
	KAttr at[2] = {{.name = "delta_softplus", .kind = AK_INT, .i = opts & 1},
	               {.name = "layout", .kind = AK_INT, .i = lay}};
	int64_t ny = nb * T * nd, nh = nb * nd * ns;
	float *y[3] = {0}, *h[3] = {0};
	for (int isa = 0; isa <= best; isa++) {
		char v[2] = {(char)('0' + isa), 0};
		setenv("VIBEE_KSCAN_ISA", v, 1);
		KTensor out[2] = {{DT_F32, 3, {btd[0], btd[1], btd[2]}, NULL}, {DT_F32, 3, {nb, nd, ns}, NULL}};
		out[0].data = y[isa] = calloc((size_t)ny + 1, sizeof(float));
		out[1].data = h[isa] = calloc((size_t)nh + 1, sizeof(float));
		char e[256] = "";
		KCall fc = {OP_selective_scan, 9, 2, 2, in, out, at, e, sizeof e, xalloc, NULL};
		checks++;
		if (kscan_call(pool, &fc)) {
			fails++;
			printf("FAIL cross isa %d: %s\n", isa, e);
		}
	}
	for (int isa = 1; isa <= best; isa++) {
		double worst = 0;
		for (int64_t i = 0; i < ny + nh; i++) {
			float a = i < ny ? y[0][i] : h[0][i - ny], b = i < ny ? y[isa][i] : h[isa][i - ny];
			double err = fabs((double)a - b) - (1e-5 + 1e-4 * fabs(a));
			if (!(err <= worst))
				worst = isnan(err) ? INFINITY : err;
		}
		checks++;
		if (worst > 0) {
			fails++;
			printf("FAIL cross isa %d vs 0 (T%lld d%lld n%lld opts%d): off by %g\n", isa,
			       (long long)T, (long long)nd, (long long)ns, opts, worst);
		}
	}
	for (int isa = 0; isa <= best; isa++) {
		free(y[isa]);
		free(h[isa]);
	}
	free_in(in, 9);
}

static void run_all(kpool **pools)
{
	for (int pi = 0; pi < 2; pi++) {
		kpool *p = pools[pi];
		for (int opts = 0; opts < 32; opts += 3)
			t_selective(p, 2, 37, 13, 5, opts);
		t_selective(p, 2, 128, 4, 8, 31);     /* ALGORITHMS.md: B=2, D=4, N=8 */
		t_selective(p, 2, 1024, 4, 8, 1);
		t_selective(p, 1, 300, 64, 16, 7);
		t_selective(p, 1, 256, 40, 16, 15);   /* two full 16-lane blocks and a tail */
		t_selective(p, 3, 1, 8, 1, 31);
		for (int opts = 32; opts < 64; opts += 7)
			t_selective(p, 2, 29, 11, 6, opts);
		t_selective(p, 1, 50, 33, 3, 63);
		t_selective(p, 1, 0, 8, 4, 16);
		for (int opts = 0; opts < 32; opts += 5)
			t_ssd(p, 2, 45, 4, 6, 2, 5, 7, opts);
		t_ssd(p, 1, 200, 2, 16, 1, 16, 64, 31);
		t_ssd(p, 1, 64, 4, 8, 4, 8, 64, 3);
		t_ssd(p, 1, 129, 2, 8, 1, 8, 1, 1);
		t_ssd(p, 2, 10, 3, 5, 3, 4, 100, 16);
		t_linear(p, 2, 57, 3, 0);
		t_linear(p, 3, 20, 600, 1);
		t_linear(p, 1, 1, 1, 1);
	}
}

int main(void)
{
	t_bad();
	kpool *pools[2] = {NULL, kpool_new(2)};
	int best = kscan_isa();
	for (int isa = 0; isa <= best; isa++) {
		char v[2] = {(char)('0' + isa), 0};
		setenv("VIBEE_KSCAN_ISA", v, 1);
		checks++;
		if (kscan_isa() != isa) {
			fails++;
			printf("FAIL VIBEE_KSCAN_ISA=%d gives copy %d\n", isa, kscan_isa());
		}
		int before = fails;
		run_all(pools);
		printf("isa %d (%s): %s\n", isa, isa == 2 ? "avx512" : isa == 1 ? "avx2" : "plain",
		       fails == before ? "ok" : "FAILED");
	}
	if (best > 0) {
		for (int opts = 0; opts < 64; opts += 9)
			t_cross(pools[1], best, 2, 77, 37, 16, opts);
		t_cross(NULL, best, 1, 256, 128, 16, 15);   /* the bench model's scan */
		printf("isa copies agree with each other: %s\n", fails ? "FAILED" : "ok");
	}
	kpool_free(pools[1]);
	printf("%d checks, %d failures\n", checks, fails);
	return fails != 0;
}
