/* Unit test for the library kernels of runtime/kdyn*.c against the
 * reference kernels (ir/ref_*.c): random cases of every op kdyn_call
 * implements (run-time shape operands, negative / out-of-bounds starts,
 * pads and steps, every Pad / Resize / GridSample mode, reductions, ties
 * in TopK and Unique, several dtypes), outputs allocated by the kernels
 * (data == NULL) and compared in shape and value; then hostile operands
 * (out-of-range indices, impossible shapes) that both must refuse with an
 * error instead of reading or writing out of bounds. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir/kern.h"
#include "runtime/kdyn.h"

static int fails, checks, refusals;
static unsigned rng = 12345;

static unsigned rnd(unsigned n)
{
	rng = rng * 1103515245u + 12345u;
	return n ? (rng >> 8) % n : 0;
}

static int64_t rndi(int64_t lo, int64_t hi) { return lo + (int64_t)rnd((unsigned)(hi - lo + 1)); }

/* arena of everything allocated in one case */
static void **pool;
static int npool, cpool;
static void *xalloc(void *a, size_t n)
{
	(void)a;
	if (npool == cpool) {
		int c = cpool ? 2 * cpool : 256;
		void **q = realloc(pool, (size_t)c * sizeof *q);
		if (!q)
			return NULL;
		pool = q;
		cpool = c;
	}
	void *p = calloc(1, n ? n : 1);
	if (p)
		pool[npool++] = p;
	return p;
}
static void pool_free(void)
{
	while (npool)
		free(pool[--npool]);
}

static KTensor mk(int dt, int rank, const int64_t *dims)
{
	KTensor t = {dt, rank, {0}, NULL};
	for (int i = 0; i < rank; i++)
		t.dims[i] = dims[i];
	int64_t n = kt_numel(&t);
	t.data = xalloc(NULL, (size_t)n * dt_size(dt));
	for (int64_t i = 0; i < n; i++) {
		if (dt_is_float(dt))
			dt_store_f(dt, t.data, (size_t)i, (double)rndi(-12, 12) / 4);
		else if (dt == DT_BOOL)
			dt_store_i(dt, t.data, (size_t)i, rndi(0, 1));
		else
			dt_store_i(dt, t.data, (size_t)i, dt_is_signed(dt) ? rndi(-5, 5) : rndi(0, 9));
	}
	return t;
}

static KTensor ints(int dt, int n, const int64_t *v, bool scalar)
{
	int64_t d[1] = {n};
	KTensor t = mk(dt, scalar ? 0 : 1, d);
	for (int i = 0; i < n; i++)
		dt_store_i(dt, t.data, (size_t)i, v[i]);
	return t;
}

static KTensor flts(int dt, int n, const double *v)
{
	int64_t d[1] = {n};
	KTensor t = mk(dt, 1, d);
	for (int i = 0; i < n; i++)
		dt_store_f(dt, t.data, (size_t)i, v[i]);
	return t;
}

static KTensor none(void)
{
	KTensor t = {DT_UNDEF, 0, {0}, NULL};
	return t;
}

#define AI(nm, v) {.name = nm, .kind = AK_INT, .i = (v)}
#define AF(nm, v) {.name = nm, .kind = AK_FLOAT, .f = (v)}
#define AS(nm, v) {.name = nm, .kind = AK_STRING, .s = (v)}
#define AV(nm, a, c) {.name = nm, .kind = AK_INTS, .n = (c), .ints = (a)}

/* Run op both ways; outputs of dtypes odt[0..nout) with unknown shape.
 * expect_fail: hostile case, both must fail. Returns 1 if both ran. */
static int run2(const char *tag, int op, int opset, KTensor *in, int nin, const KAttr *at, int nat,
                int nout, const int *odt, double tol, bool expect_fail)
{
	KAttr a[16];
	if (nat)
		memcpy(a, at, (size_t)nat * sizeof *a);
	KAttr ops = AI("_opset", opset);
	a[nat] = ops;
	KTensor ro[4], ko[4];
	for (int o = 0; o < nout; o++) {
		memset(&ro[o], 0, sizeof ro[o]);
		ro[o].dt = odt[o];
		ko[o] = ro[o];
	}
	char e1[256] = "", e2[256] = "";
	KCall rc = {op, nin, nout, nat + 1, in, ro, a, e1, sizeof e1, xalloc, NULL};
	KCall kc = {op, nin, nout, nat + 1, in, ko, a, e2, sizeof e2, xalloc, NULL};
	int r1 = ref_table[op](&rc), r2 = kdyn_call(NULL, &kc);
	checks++;
	if (expect_fail) {
		if (!r2) {
			fails++;
			fprintf(stderr, "FAIL %s: library kernel accepted a hostile operand\n", tag);
		}
		refusals += r2 != 0;
		return 0;
	}
	if (r1 || r2) {
		if (!r1 || !r2) {   /* only one refused: a disagreement */
			fails++;
			fprintf(stderr, "FAIL %s: reference %s, library %s\n", tag, r1 ? e1 : "ok", r2 ? e2 : "ok");
		}
		return 0;
	}
	for (int o = 0; o < nout; o++) {
		if (ro[o].rank != ko[o].rank || memcmp(ro[o].dims, ko[o].dims, (size_t)ro[o].rank * 8)) {
			fails++;
			fprintf(stderr, "FAIL %s: output %d shape differs\n", tag, o);
			return 0;
		}
		int64_t n = kt_numel(&ro[o]);
		for (int64_t i = 0; i < n; i++) {
			double x = dt_load_f(odt[o], ro[o].data, (size_t)i), y = dt_load_f(odt[o], ko[o].data, (size_t)i);
			if (!(fabs(x - y) <= tol * (1 + fabs(x))) && !(isnan(x) && isnan(y))) {
				fails++;
				fprintf(stderr, "FAIL %s: output %d[%lld]: reference %g, library %g\n", tag, o,
				        (long long)i, x, y);
				return 0;
			}
		}
	}
	return 1;
}

static void rshape(int r, int64_t *d, int lo, int hi)
{
	for (int i = 0; i < r; i++)
		d[i] = rndi(lo, hi);
}

static const int dts[] = {DT_F32, DT_F64, DT_F16, DT_I8, DT_I32, DT_I64, DT_U8, DT_BOOL};

static void shape_ops(void)
{
	int64_t d[8], v[16];
	for (int it = 0; it < 300; it++) {
		int dt = dts[rnd(8)], r = (int)rndi(1, 4), o1[1] = {dt};
		rshape(r, d, 1, 4);
		KTensor in[5];
		char tag[64];
		/* Slice with random starts/ends/steps, some out of bounds */
		in[0] = mk(dt, r, d);
		int na = (int)rndi(1, r);
		int64_t st[8], en[8], ax[8], sp[8];
		for (int k = 0; k < na; k++) {
			ax[k] = (k + it) % r - (rnd(2) ? r : 0);
			st[k] = rndi(-6, 6);
			en[k] = rnd(5) ? rndi(-6, 6) : (rnd(2) ? INT64_MAX : INT64_MIN);
			sp[k] = rnd(2) ? rndi(1, 3) : -rndi(1, 3);
		}
		for (int k = 0; k < na; k++)   /* distinct axes */
			for (int j = 0; j < k; j++)
				if ((ax[j] + r) % r == (ax[k] + r) % r)
					na = k;
		in[1] = ints(DT_I64, na, st, false);
		in[2] = ints(DT_I64, na, en, false);
		in[3] = ints(DT_I64, na, ax, false);
		in[4] = ints(DT_I64, na, sp, false);
		snprintf(tag, sizeof tag, "Slice #%d", it);
		run2(tag, OP_Slice, 13, in, 5, NULL, 0, 1, o1, 0, false);
		/* Pad, every mode, negative pads too */
		static const char *const modes[] = {"constant", "reflect", "edge", "wrap"};
		const char *m = modes[rnd(4)];
		for (int k = 0; k < 2 * r; k++)
			v[k] = rndi(strcmp(m, "constant") ? 0 : -1, strcmp(m, "reflect") ? 3 : 1);
		in[1] = ints(DT_I64, 2 * r, v, false);
		in[2] = mk(dt, 0, d);
		KAttr pa[] = {AS("mode", m)};
		snprintf(tag, sizeof tag, "Pad %s #%d", m, it);
		run2(tag, OP_Pad, 13, in, 3, pa, 1, 1, o1, 0, false);
		/* Tile, Expand */
		for (int k = 0; k < r; k++)
			v[k] = rndi(0, 3);
		in[1] = ints(DT_I64, r, v, false);
		run2("Tile", OP_Tile, 13, in, 2, NULL, 0, 1, o1, 0, false);
		int64_t d1[8];
		for (int k = 0; k < r; k++)
			d1[k] = rnd(2) ? 1 : d[k];
		in[0] = mk(dt, r, d1);
		int er = r + (int)rnd(2);
		for (int k = 0; k < er; k++)
			v[k] = k < er - r ? rndi(1, 3) : rnd(3) ? d[k - (er - r)] : 1;
		in[1] = ints(DT_I64, er, v, false);
		run2("Expand", OP_Expand, 13, in, 2, NULL, 0, 1, o1, 0, false);
		/* Reshape / Squeeze / Unsqueeze */
		in[0] = mk(dt, r, d);
		v[0] = -1;
		for (int k = 1; k < r; k++)
			v[k] = rnd(2) ? 0 : d[k];
		in[1] = ints(DT_I64, r, v, false);
		run2("Reshape", OP_Reshape, 14, in, 2, NULL, 0, 1, o1, 0, false);
		v[0] = (int64_t)rnd((unsigned)r + 1) - 1;
		v[1] = (int64_t)rnd((unsigned)r + 1);
		in[1] = ints(DT_I64, 1 + (int)rnd(2), v, false);
		run2("Unsqueeze", OP_Unsqueeze, 13, in, 2, NULL, 0, 1, o1, 0, false);
		d[0] = 1;
		in[0] = mk(dt, r, d);
		v[0] = -r;
		in[1] = ints(DT_I64, 1, v, false);
		run2("Squeeze", OP_Squeeze, 13, in, 2, NULL, 0, 1, o1, 0, false);
		/* Split by a run-time split input */
		in[0] = mk(dt, r, d);
		int axs = (int)rnd((unsigned)r);
		v[0] = rndi(0, d[axs]);
		v[1] = d[axs] - v[0];
		in[1] = ints(DT_I64, 2, v, false);
		KAttr sa[] = {AI("axis", axs)};
		int o2[2] = {dt, dt};
		run2("Split", OP_Split, 13, in, 2, sa, 1, 2, o2, 0, false);
		/* Trilu, CumSum, ReverseSequence, Compress, NonZero */
		if (r >= 2) {
			v[0] = rndi(-4, 4);
			in[1] = ints(DT_I64, 1, v, true);
			KAttr ta[] = {AI("upper", rnd(2))};
			run2("Trilu", OP_Trilu, 14, in, 2, ta, 1, 1, o1, 0, false);
			int64_t sl[8];
			for (int k = 0; k < d[1]; k++)
				sl[k] = rndi(1, d[0]);
			in[1] = ints(DT_I64, (int)d[1], sl, false);
			run2("ReverseSequence", OP_ReverseSequence, 10, in, 2, NULL, 0, 1, o1, 0, false);
		}
		if (dt != DT_BOOL) {
			v[0] = rndi(-r, r - 1);
			in[1] = ints(DT_I32, 1, v, true);
			KAttr ca[] = {AI("exclusive", rnd(2)), AI("reverse", rnd(2))};
			run2("CumSum", OP_CumSum, 14, in, 2, ca, 2, 1, o1, 1e-3, false);
		}
		int axc = (int)rnd((unsigned)r);
		int64_t cl = rndi(0, d[axc]);
		in[1] = mk(DT_BOOL, 1, &cl);
		KAttr cpa[] = {AI("axis", axc - (rnd(2) ? r : 0))};
		run2("Compress", OP_Compress, 11, in, 2, cpa, rnd(3) ? 1 : 0, 1, o1, 0, false);
		int oi[1] = {DT_I64};
		run2("NonZero", OP_NonZero, 13, in, 1, NULL, 0, 1, oi, 0, false);
	}
	/* Range, ConstantOfShape, EyeLike, OneHot, Depth/SpaceToDepth */
	for (int it = 0; it < 60; it++) {
		KTensor in[3];
		int idt = rnd(2) ? DT_I32 : DT_I64, o1[1] = {idt};
		int64_t a = rndi(-6, 6), b = rndi(-6, 6), t = rnd(2) ? rndi(1, 3) : -rndi(1, 3);
		in[0] = ints(idt, 1, &a, true);
		in[1] = ints(idt, 1, &b, true);
		in[2] = ints(idt, 1, &t, true);
		run2("Range int", OP_Range, 11, in, 3, NULL, 0, 1, o1, 0, false);
		double fa = a / 3.0, fb = b / 2.0, ft = t / 4.0;
		int of[1] = {DT_F32};
		in[0] = flts(DT_F32, 1, &fa);
		in[1] = flts(DT_F32, 1, &fb);
		in[2] = flts(DT_F32, 1, &ft);
		in[0].rank = in[1].rank = in[2].rank = 0;
		run2("Range float", OP_Range, 11, in, 3, NULL, 0, 1, of, 1e-6, false);
		int64_t s[3] = {rndi(0, 3), rndi(1, 3), rndi(1, 3)};
		in[0] = ints(DT_I64, 3, s, false);
		int64_t one = 1;
		KTensor val = mk(DT_I32, 1, &one);
		KAttr va[] = {{.name = "value", .kind = AK_TENSOR, .t = &val}};
		int o32[1] = {DT_I32};
		run2("ConstantOfShape", OP_ConstantOfShape, 9, in, 1, va, 1, 1, o32, 0, false);
		int64_t d2[2] = {rndi(1, 5), rndi(1, 5)};
		in[0] = mk(DT_F32, 2, d2);
		KAttr ea[] = {AI("k", rndi(-3, 3))};
		run2("EyeLike", OP_EyeLike, 9, in, 1, ea, 1, 1, of, 0, false);
		int64_t d3[3] = {rndi(1, 3), rndi(1, 3), rndi(1, 3)}, depth = rndi(1, 6);
		in[0] = mk(DT_I64, 3, d3);
		in[1] = ints(DT_I64, 1, &depth, true);
		double ov[2] = {-1, 7};
		in[2] = flts(DT_F32, 2, ov);
		KAttr oa[] = {AI("axis", rndi(-4, 3))};
		run2("OneHot", OP_OneHot, 11, in, 3, oa, 1, 1, of, 0, false);
		int64_t bs = rndi(1, 3), d4[4] = {rndi(1, 2), bs * bs * rndi(1, 2), rndi(1, 3), rndi(1, 3)};
		in[0] = mk(DT_F32, 4, d4);
		KAttr da[] = {AI("blocksize", bs), AS("mode", rnd(2) ? "CRD" : "DCR")};
		run2("DepthToSpace", OP_DepthToSpace, 13, in, 1, da, 2, 1, of, 0, false);
		int64_t d5[4] = {rndi(1, 2), rndi(1, 3), bs * rndi(1, 3), bs * rndi(1, 3)};
		in[0] = mk(DT_F32, 4, d5);
		run2("SpaceToDepth", OP_SpaceToDepth, 13, in, 1, da, 1, 1, of, 0, false);
	}
}

static void index_ops(void)
{
	for (int it = 0; it < 200; it++) {
		KTensor in[3];
		int dt = dts[rnd(6)], o1[1] = {dt}, r = (int)rndi(1, 3);
		int64_t d[4], id[4];
		rshape(r, d, 1, 4);
		in[0] = mk(dt, r, d);
		/* ScatterElements with a reduction */
		static const char *const reds[] = {"none", "add", "mul", "max", "min"};
		int ax = (int)rnd((unsigned)r);
		for (int k = 0; k < r; k++)
			id[k] = rndi(1, d[k]);
		in[1] = mk(DT_I64, r, id);
		for (int64_t i = 0; i < kt_numel(&in[1]); i++)
			((int64_t *)in[1].data)[i] = rndi(-d[ax], d[ax] - 1);
		in[2] = mk(dt, r, id);
		const char *red = dt == DT_BOOL ? "none" : reds[rnd(5)];
		KAttr sa[] = {AI("axis", ax), AS("reduction", red)};
		run2("ScatterElements", OP_ScatterElements, 18, in, 3, sa, 2, 1, o1, 1e-6, false);
		/* ScatterND, GatherND */
		int last = (int)rndi(1, r), nu = (int)rndi(1, 3);
		int64_t idn[2] = {nu, last}, ud[5] = {nu};
		in[1] = mk(DT_I64, 2, idn);
		for (int u = 0; u < nu; u++)
			for (int k = 0; k < last; k++)
				((int64_t *)in[1].data)[u * last + k] = rndi(-d[k], d[k] - 1);
		for (int k = last; k < r; k++)
			ud[1 + k - last] = d[k];
		in[2] = mk(dt, 1 + r - last, ud);
		KAttr na[] = {AS("reduction", nu == 1 ? red : "add")};
		if (dt != DT_BOOL)
			run2("ScatterND", OP_ScatterND, 18, in, 3, na, 1, 1, o1, 1e-6, false);
		run2("GatherND", OP_GatherND, 13, in, 2, NULL, 0, 1, o1, 0, false);
		/* TopK with ties, Unique */
		if (dt != DT_BOOL) {
			int64_t k = rndi(0, d[r - 1]);
			in[1] = ints(DT_I64, 1, &k, false);
			KAttr ka[] = {AI("axis", -1), AI("largest", rnd(2))};
			int o2[2] = {dt, DT_I64};
			run2("TopK", OP_TopK, 11, in, 2, ka, 2, 2, o2, 0, false);
		}
		int o4[4] = {dt, DT_I64, DT_I64, DT_I64};
		KAttr ua[] = {AI("sorted", rnd(2)), AI("axis", rndi(-r, r - 1))};
		run2("Unique", OP_Unique, 11, in, 1, ua, rnd(2) ? 2 : 1, 4, o4, 0, false);
	}
	/* MaxUnpool of a 2x2 max pool's indices */
	for (int it = 0; it < 20; it++) {
		KTensor in[3];
		int64_t d[4] = {rndi(1, 2), rndi(1, 2), rndi(1, 3), rndi(1, 3)}, H = d[2] * 2, W = d[3] * 2;
		in[0] = mk(DT_F32, 4, d);
		in[1] = mk(DT_I64, 4, d);
		for (int64_t n = 0; n < d[0] * d[1]; n++)
			for (int64_t h = 0; h < d[2]; h++)
				for (int64_t w = 0; w < d[3]; w++)
					((int64_t *)in[1].data)[(n * d[2] + h) * d[3] + w] =
					    n * H * W + (2 * h + rndi(0, 1)) * W + 2 * w + rndi(0, 1);
		int64_t osh[4] = {d[0], d[1], H + rndi(0, 2), W + rndi(0, 2)};
		in[2] = ints(DT_I64, 4, osh, false);
		static const int64_t ks[2] = {2, 2};
		KAttr ma[] = {AV("kernel_shape", ks, 2), AV("strides", ks, 2)};
		int of[1] = {DT_F32};
		run2("MaxUnpool", OP_MaxUnpool, 11, in, rnd(2) ? 3 : 2, ma, 2, 1, of, 0, false);
	}
}

static void image_ops(void)
{
	static const char *const md[] = {"nearest", "linear", "cubic"};
	static const char *const ct[] = {"half_pixel", "pytorch_half_pixel", "align_corners",
	                                 "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
	static const char *const nm[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
	int of[1] = {DT_F32};
	for (int it = 0; it < 200; it++) {
		KTensor in[4];
		int64_t d[4] = {1, rndi(1, 2), rndi(1, 5), rndi(1, 5)};
		in[0] = mk(DT_F32, 4, d);
		const char *m = md[rnd(3)], *c = ct[rnd(6)];
		double roi[8] = {0, 0, 0.1 * rndi(0, 3), 0.1 * rndi(0, 3), 1, 1, 0.1 * rndi(7, 12), 0.1 * rndi(7, 12)};
		in[1] = strcmp(c, "tf_crop_and_resize") ? flts(DT_F32, 0, roi) : flts(DT_F32, 8, roi);
		if (rnd(2)) {
			double sc[4] = {1, 1, 0.25 * rndi(1, 12), 0.25 * rndi(1, 12)};
			in[2] = flts(DT_F32, 4, sc);
			in[3] = none();
		} else {
			int64_t sz[4] = {1, d[1], rndi(1, 9), rndi(1, 9)};
			in[2] = flts(DT_F32, 0, NULL);
			in[3] = ints(DT_I64, 4, sz, false);
		}
		KAttr ra[] = {AS("mode", m), AS("coordinate_transformation_mode", c), AS("nearest_mode", nm[rnd(4)]),
		              AI("exclude_outside", rnd(2)), AF("cubic_coeff_a", rnd(2) ? -0.75 : -0.5),
		              AF("extrapolation_value", 0.5 * rndi(-2, 2))};
		char tag[96];
		snprintf(tag, sizeof tag, "Resize %s %s #%d", m, c, it);
		run2(tag, OP_Resize, 13, in, 4, ra, 6, 1, of, 1e-5, false);
		/* GridSample */
		int64_t gd[4] = {1, rndi(1, 4), rndi(1, 4), 2};
		in[1] = mk(DT_F32, 4, gd);
		for (int64_t i = 0; i < kt_numel(&in[1]); i++)
			((float *)in[1].data)[i] = (float)rndi(-150, 150) / 100.0f;
		static const char *const gm[] = {"bilinear", "nearest", "bicubic"};
		static const char *const gp[] = {"zeros", "border", "reflection"};
		KAttr ga[] = {AS("mode", gm[rnd(3)]), AS("padding_mode", gp[rnd(3)]), AI("align_corners", rnd(2))};
		snprintf(tag, sizeof tag, "GridSample %s %s #%d", ga[0].s, ga[1].s, it);
		run2(tag, OP_GridSample, 16, in, 2, ga, 3, 1, of, 1e-5, false);
	}
	KTensor in[2];
	int64_t d[4] = {1, 1, 2, 3};
	in[0] = mk(DT_F32, 4, d);
	double sc[4] = {1, 1, 2, 3};
	in[1] = flts(DT_F32, 4, sc);
	KAttr ua[] = {AS("mode", "nearest")};
	run2("Upsample", OP_Upsample, 9, in, 2, ua, 1, 1, of, 0, false);
}

/* operands that must be refused, not read or written out of bounds */
static void hostile(void)
{
	KTensor in[3];
	int of[1] = {DT_F32}, oi[1] = {DT_I64};
	int64_t d[2] = {3, 4}, bad[4] = {0, 3, -4, 7}, two = 2;
	in[0] = mk(DT_F32, 2, d);
	int64_t sh[2] = {5, -1};
	in[1] = ints(DT_I64, 2, sh, false);
	run2("Reshape 12 -> [5,-1]", OP_Reshape, 14, in, 2, NULL, 0, 1, of, 0, true);
	int64_t neg[2] = {1, -1};
	in[1] = ints(DT_I64, 2, neg, false);
	run2("Tile by -1", OP_Tile, 13, in, 2, NULL, 0, 1, of, 0, true);
	int64_t idx[2] = {1, 2};
	in[1] = mk(DT_I64, 2, idx);
	memcpy(in[1].data, bad, sizeof(int64_t) * 2);
	((int64_t *)in[1].data)[1] = 9;
	run2("GatherND index 9", OP_GatherND, 13, in, 2, NULL, 0, 1, of, 0, true);
	in[2] = mk(DT_F32, 1, &two);
	int64_t id2[2] = {1, 2};
	in[1] = mk(DT_I64, 2, id2);
	((int64_t *)in[1].data)[0] = 4;
	in[2] = mk(DT_F32, 2, id2);
	KAttr sa[] = {AI("axis", 1)};
	((int64_t *)in[1].data)[1] = -5;
	run2("ScatterElements index -5", OP_ScatterElements, 13, in, 3, sa, 1, 1, of, 0, true);
	int64_t idn[2] = {1, 2};
	in[1] = mk(DT_I64, 2, idn);
	((int64_t *)in[1].data)[0] = 3;
	int64_t ud[1] = {1};
	in[2] = mk(DT_F32, 1, ud);
	run2("ScatterND index 3", OP_ScatterND, 13, in, 3, NULL, 0, 1, of, 0, true);
	int64_t k = 9;
	in[1] = ints(DT_I64, 1, &k, false);
	run2("TopK k 9 > 4", OP_TopK, 11, in, 2, NULL, 0, 1, of, 0, true);
	int64_t x4[4] = {1, 1, 1, 1};
	in[0] = mk(DT_F32, 4, x4);
	in[1] = mk(DT_I64, 4, x4);
	((int64_t *)in[1].data)[0] = 100;
	static const int64_t ks[2] = {2, 2};
	KAttr ma[] = {AV("kernel_shape", ks, 2), AV("strides", ks, 2)};
	run2("MaxUnpool index 100", OP_MaxUnpool, 11, in, 2, ma, 2, 1, of, 0, true);
	in[0] = mk(DT_F32, 2, d);
	int64_t sl[4] = {1, 9, 1, 1};
	in[1] = ints(DT_I64, 4, sl, false);
	KAttr ra[] = {AI("batch_axis", 1), AI("time_axis", 0)};
	run2("ReverseSequence len 9", OP_ReverseSequence, 10, in, 2, ra, 2, 1, of, 0, true);
	int64_t zero = 0;
	KTensor rg[3] = {ints(DT_I64, 1, &zero, true), ints(DT_I64, 1, &two, true), ints(DT_I64, 1, &zero, true)};
	run2("Range delta 0", OP_Range, 11, rg, 3, NULL, 0, 1, oi, 0, true);
}

int main(void)
{
	shape_ops();
	pool_free();
	index_ops();
	pool_free();
	image_ops();
	pool_free();
	hostile();
	pool_free();
	free(pool);
	printf("test_kdyn: %d checks, %d failures (%d hostile operands refused)\n", checks, fails, refusals);
	return fails ? 1 : 0;
}
