/* Unit tests of the family-C reference kernels (ir/ref_tensor.c,
 * ir/ref_index.c, ir/ref_misc.c): hand-derived cases (most from the ONNX
 * operator docs' worked examples) and the error paths bad indices reach. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kern.h"

static int fails;
static char errbuf[256];

#define CHECK(c) do { if (!(c)) { fails++; fprintf(stderr, "%s:%d: CHECK(%s) failed\n", \
	__FILE__, __LINE__, #c); } } while (0)

static KTensor T(int dt, int rank, const int64_t *dims, const void *data)
{
	KTensor t = { .dt = dt, .rank = rank, .data = (void *)data };
	for (int i = 0; i < rank; i++)
		t.dims[i] = dims[i];
	return t;
}
/* An output whose shape the kernel must compute and allocate. */
static KTensor O(int dt) { return (KTensor){ .dt = dt }; }
#define D(...) ((int64_t[]){__VA_ARGS__})
#define F32(...) ((float[]){__VA_ARGS__})
#define I32(...) ((int32_t[]){__VA_ARGS__})
#define I64(...) ((int64_t[]){__VA_ARGS__})
#define U8(...) ((uint8_t[]){__VA_ARGS__})

static KAttr AI(const char *n, int64_t v) { return (KAttr){ .name = n, .kind = AK_INT, .i = v }; }
static KAttr AF(const char *n, double v) { return (KAttr){ .name = n, .kind = AK_FLOAT, .f = v }; }
static KAttr AS(const char *n, const char *v) { return (KAttr){ .name = n, .kind = AK_STRING, .s = v }; }
static KAttr AIS(const char *n, int cnt, const int64_t *v)
{
	return (KAttr){ .name = n, .kind = AK_INTS, .n = cnt, .ints = v };
}

/* Kernel allocations, freed at exit so leak checkers see only kernel leaks. */
static void *allocs[1024];
static int nalloc;
static void *talloc(void *ctx, size_t n)
{
	(void)ctx;
	if (nalloc == (int)(sizeof allocs / sizeof allocs[0]))
		return NULL;
	return allocs[nalloc++] = calloc(1, n);
}

static int run(int op, KTensor *in, int nin, KTensor *out, int nout, KAttr *attr, int nattr)
{
	errbuf[0] = 0;
	KCall c = { .op = op, .nin = nin, .nout = nout, .nattr = nattr, .in = in, .out = out,
	            .attr = attr, .err = errbuf, .errlen = sizeof errbuf, .alloc = talloc };
	return ref_table[op](&c);
}

static int ok(int op, KTensor *in, int nin, KTensor *out, int nout, KAttr *attr, int nattr)
{
	if (run(op, in, nin, out, nout, attr, nattr)) {
		fails++;
		fprintf(stderr, "%s: unexpected error: %s\n", op_names[op], errbuf);
		return 0;
	}
	return 1;
}

static void bad(int op, KTensor *in, int nin, KTensor *out, int nout, KAttr *attr, int nattr)
{
	if (!run(op, in, nin, out, nout, attr, nattr) || !errbuf[0]) {
		fails++;
		fprintf(stderr, "%s: expected an error, got none\n", op_names[op]);
	}
}

static int near(double a, double b, double tol) { return fabs(a - b) <= tol * (1 + fabs(b)); }

/* out has rank r and dims d */
static int shape_is(const KTensor *t, int r, const int64_t *d)
{
	if (t->rank != r)
		return 0;
	for (int i = 0; i < r; i++)
		if (t->dims[i] != d[i])
			return 0;
	return 1;
}
static int f32_is(const KTensor *t, const float *v, int n, double tol)
{
	if (!t->data || kt_numel(t) != n)
		return 0;
	for (int i = 0; i < n; i++)
		if (!near(((float *)t->data)[i], v[i], tol))
			return 0;
	return 1;
}
static int i64_is(const KTensor *t, const int64_t *v, int n)
{
	if (!t->data || kt_numel(t) != n)
		return 0;
	return !memcmp(t->data, v, sizeof(int64_t) * (size_t)n);
}

static float iota[64];

static void test_reshape_family(void)
{
	KTensor in[2] = { T(DT_F32, 3, D(2, 3, 4), iota), T(DT_I64, 1, D(3), I64(0, -1, 2)) };
	KTensor o = O(DT_F32);
	ok(OP_Reshape, in, 2, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 3, D(2, 6, 2)) && f32_is(&o, iota, 24, 0));
	in[1] = T(DT_I64, 1, D(2), I64(-1, -1));
	o = O(DT_F32);
	bad(OP_Reshape, in, 2, &o, 1, NULL, 0);
	in[1] = T(DT_I64, 1, D(2), I64(5, 5));
	o = O(DT_F32);
	bad(OP_Reshape, in, 2, &o, 1, NULL, 0);
	/* preallocated output with a wrong shape is refused */
	float buf[24];
	in[1] = T(DT_I64, 1, D(2), I64(4, 6));
	o = T(DT_F32, 2, D(6, 4), buf);
	bad(OP_Reshape, in, 2, &o, 1, NULL, 0);

	KAttr ax = AI("axis", -1);
	o = O(DT_F32);
	ok(OP_Flatten, in, 1, &o, 1, &ax, 1);
	CHECK(shape_is(&o, 2, D(6, 4)));

	KTensor sq[2] = { T(DT_F32, 4, D(1, 3, 1, 2), iota), T(DT_I64, 1, D(1), I64(-2)) };
	o = O(DT_F32);
	ok(OP_Squeeze, sq, 2, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 3, D(1, 3, 2)));
	o = O(DT_F32);
	ok(OP_Squeeze, sq, 1, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 2, D(3, 2)));
	sq[1] = T(DT_I64, 1, D(1), I64(1));
	o = O(DT_F32);
	bad(OP_Squeeze, sq, 2, &o, 1, NULL, 0);

	KTensor us[2] = { T(DT_F32, 2, D(3, 2), iota), T(DT_I64, 1, D(2), I64(0, -1)) };
	o = O(DT_F32);
	ok(OP_Unsqueeze, us, 2, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 4, D(1, 3, 2, 1)));
	KAttr axes = AIS("axes", 1, I64(1));
	o = O(DT_F32);
	ok(OP_Unsqueeze, us, 1, &o, 1, &axes, 1);   /* opset < 13: attribute */
	CHECK(shape_is(&o, 3, D(3, 1, 2)));
}

static void test_transpose_concat_split(void)
{
	KTensor x = T(DT_F32, 3, D(2, 3, 4), iota), o = O(DT_F32);
	KAttr perm = AIS("perm", 3, I64(1, 2, 0));
	ok(OP_Transpose, &x, 1, &o, 1, &perm, 1);
	CHECK(shape_is(&o, 3, D(3, 4, 2)));
	/* out[i][j][k] = x[k][i][j] = k*12 + i*4 + j */
	int good = 1;
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 4; j++)
			for (int k = 0; k < 2; k++)
				good &= ((float *)o.data)[(i * 4 + j) * 2 + k] == k * 12 + i * 4 + j;
	CHECK(good);
	o = O(DT_F32);
	ok(OP_Transpose, &x, 1, &o, 1, NULL, 0);   /* default: reverse */
	CHECK(shape_is(&o, 3, D(4, 3, 2)) && ((float *)o.data)[1] == 12 && ((float *)o.data)[2] == 4);
	perm = AIS("perm", 3, I64(0, 0, 1));
	o = O(DT_F32);
	bad(OP_Transpose, &x, 1, &o, 1, &perm, 1);

	int16_t a[] = { 1, 2, 3, 4 }, b[] = { 5, 6 };
	KTensor cin[2] = { T(DT_I16, 2, D(2, 2), a), T(DT_I16, 2, D(2, 1), b) };
	KAttr cax = AI("axis", -1);
	o = O(DT_I16);
	ok(OP_Concat, cin, 2, &o, 1, &cax, 1);
	int16_t cw[] = { 1, 2, 5, 3, 4, 6 };
	CHECK(shape_is(&o, 2, D(2, 3)) && !memcmp(o.data, cw, sizeof cw));
	cax = AI("axis", 0);
	o = O(DT_I16);
	bad(OP_Concat, cin, 2, &o, 1, &cax, 1);

	KTensor sx[2] = { T(DT_F32, 1, D(7), iota), T(DT_I64, 1, D(2), I64(2, 5)) };
	KTensor so[3] = { O(DT_F32), O(DT_F32), O(DT_F32) };
	ok(OP_Split, sx, 2, so, 2, NULL, 0);
	CHECK(shape_is(&so[0], 1, D(2)) && shape_is(&so[1], 1, D(5)));
	CHECK(((float *)so[1].data)[0] == 2 && ((float *)so[1].data)[4] == 6);
	KAttr no = AI("num_outputs", 3);
	so[0] = so[1] = so[2] = O(DT_F32);
	ok(OP_Split, sx, 1, so, 3, &no, 1);
	CHECK(shape_is(&so[0], 1, D(3)) && shape_is(&so[2], 1, D(1)) && ((float *)so[2].data)[0] == 6);
	so[0] = so[1] = O(DT_F32);
	bad(OP_Split, sx, 1, so, 2, NULL, 0);   /* 7 does not halve */
	sx[1] = T(DT_I64, 1, D(2), I64(2, 4));
	so[0] = so[1] = O(DT_F32);
	bad(OP_Split, sx, 2, so, 2, NULL, 0);
}

static void test_slice(void)
{
	KTensor in[5] = { T(DT_F32, 1, D(10), iota), T(DT_I64, 1, D(1), I64(-1)),
	                  T(DT_I64, 1, D(1), I64(INT64_MIN)), T(DT_I64, 1, D(1), I64(0)),
	                  T(DT_I64, 1, D(1), I64(-3)) };
	KTensor o = O(DT_F32);
	ok(OP_Slice, in, 5, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 1, D(4)) && f32_is(&o, F32(9, 6, 3, 0), 4, 0));
	in[1] = T(DT_I64, 1, D(1), I64(2));
	in[2] = T(DT_I64, 1, D(1), I64(1000));
	o = O(DT_F32);
	ok(OP_Slice, in, 3, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 1, D(8)) && ((float *)o.data)[0] == 2);
	in[4] = T(DT_I64, 1, D(1), I64(0));
	o = O(DT_F32);
	bad(OP_Slice, in, 5, &o, 1, NULL, 0);
	/* 2-D, axis 1 only, step 2 */
	KTensor x2[5] = { T(DT_F32, 2, D(3, 4), iota), T(DT_I64, 1, D(1), I64(1)),
	                  T(DT_I64, 1, D(1), I64(4)), T(DT_I64, 1, D(1), I64(-1)),
	                  T(DT_I64, 1, D(1), I64(2)) };
	o = O(DT_F32);
	ok(OP_Slice, x2, 5, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 2, D(3, 2)) && f32_is(&o, F32(1, 3, 5, 7, 9, 11), 6, 0));
	/* opset 9: attributes */
	KAttr at[4] = { AIS("starts", 1, I64(1)), AIS("ends", 1, I64(3)), AIS("axes", 1, I64(0)),
	                AI("_opset", 9) };
	o = O(DT_F32);
	ok(OP_Slice, x2, 1, &o, 1, at, 4);
	CHECK(shape_is(&o, 2, D(2, 4)) && ((float *)o.data)[0] == 4);
}

static void test_gather(void)
{
	KTensor in[2] = { T(DT_F32, 2, D(3, 2), iota), T(DT_I64, 2, D(2, 2), I64(0, 1, -1, 1)) };
	KTensor o = O(DT_F32);
	ok(OP_Gather, in, 2, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 3, D(2, 2, 2)) && f32_is(&o, F32(0, 1, 2, 3, 4, 5, 2, 3), 8, 0));
	KAttr ax = AI("axis", 1);
	in[1] = T(DT_I32, 1, D(1), I32(1));
	o = O(DT_F32);
	ok(OP_Gather, in, 2, &o, 1, &ax, 1);
	CHECK(shape_is(&o, 2, D(3, 1)) && f32_is(&o, F32(1, 3, 5), 3, 0));
	in[1] = T(DT_I64, 1, D(1), I64(3));
	o = O(DT_F32);
	bad(OP_Gather, in, 2, &o, 1, NULL, 0);
	in[1] = T(DT_I64, 1, D(1), I64(-4));
	o = O(DT_F32);
	bad(OP_Gather, in, 2, &o, 1, NULL, 0);

	/* GatherElements doc example: axis 1 */
	KTensor ge[2] = { T(DT_F32, 2, D(2, 2), F32(1, 2, 3, 4)), T(DT_I64, 2, D(2, 2), I64(0, 0, 1, 0)) };
	o = O(DT_F32);
	ok(OP_GatherElements, ge, 2, &o, 1, &ax, 1);
	CHECK(f32_is(&o, F32(1, 1, 4, 3), 4, 0));
	ge[1] = T(DT_I64, 2, D(2, 2), I64(0, 0, 2, 0));
	o = O(DT_F32);
	bad(OP_GatherElements, ge, 2, &o, 1, &ax, 1);

	/* GatherND doc example 5 (batch_dims 1) */
	KTensor gn[2] = { T(DT_F32, 3, D(2, 2, 2), iota), T(DT_I64, 2, D(2, 1), I64(1, 0)) };
	KAttr bd = AI("batch_dims", 1);
	o = O(DT_F32);
	ok(OP_GatherND, gn, 2, &o, 1, &bd, 1);
	CHECK(shape_is(&o, 2, D(2, 2)) && f32_is(&o, F32(2, 3, 4, 5), 4, 0));
	/* doc example 2: indices [[[0,1]],[[1,0]]] on [[0,1],[2,3]] */
	KTensor gn2[2] = { T(DT_F32, 2, D(2, 2), iota), T(DT_I64, 3, D(2, 1, 2), I64(0, 1, 1, 0)) };
	o = O(DT_F32);
	ok(OP_GatherND, gn2, 2, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 2, D(2, 1)) && f32_is(&o, F32(1, 2), 2, 0));
	gn2[1] = T(DT_I64, 3, D(2, 1, 2), I64(0, 1, 2, 0));
	o = O(DT_F32);
	bad(OP_GatherND, gn2, 2, &o, 1, NULL, 0);
}

static void test_scatter(void)
{
	/* ScatterElements doc example with reduction add */
	KTensor in[3] = { T(DT_F32, 2, D(1, 5), F32(1, 2, 3, 4, 5)), T(DT_I64, 2, D(1, 2), I64(1, 1)),
	                  T(DT_F32, 2, D(1, 2), F32(1.1f, 2.1f)) };
	KAttr at[2] = { AI("axis", 1), AS("reduction", "add") };
	KTensor o = O(DT_F32);
	ok(OP_ScatterElements, in, 3, &o, 1, at, 2);
	CHECK(f32_is(&o, F32(1, 5.2f, 3, 4, 5), 5, 1e-6));
	o = O(DT_F32);
	ok(OP_ScatterElements, in, 3, &o, 1, at, 1);
	CHECK(f32_is(&o, F32(1, 2.1f, 3, 4, 5), 5, 0));
	in[1] = T(DT_I64, 2, D(1, 2), I64(1, 5));
	o = O(DT_F32);
	bad(OP_ScatterElements, in, 3, &o, 1, at, 1);

	/* ScatterND doc example 1 */
	KTensor nd[3] = { T(DT_F32, 1, D(8), F32(1, 2, 3, 4, 5, 6, 7, 8)),
	                  T(DT_I64, 2, D(4, 1), I64(4, 3, 1, 7)), T(DT_F32, 1, D(4), F32(9, 10, 11, 12)) };
	o = O(DT_F32);
	ok(OP_ScatterND, nd, 3, &o, 1, NULL, 0);
	CHECK(f32_is(&o, F32(1, 11, 3, 10, 9, 6, 7, 12), 8, 0));
	KAttr mul = AS("reduction", "mul");
	o = O(DT_F32);
	ok(OP_ScatterND, nd, 3, &o, 1, &mul, 1);
	CHECK(f32_is(&o, F32(1, 22, 3, 40, 45, 6, 7, 96), 8, 0));
	nd[1] = T(DT_I64, 2, D(4, 1), I64(4, 3, 1, 8));
	o = O(DT_F32);
	bad(OP_ScatterND, nd, 3, &o, 1, NULL, 0);
}

static void test_expand_tile_pad(void)
{
	KTensor in[2] = { T(DT_F32, 2, D(3, 1), F32(1, 2, 3)), T(DT_I64, 1, D(3), I64(2, 1, 2)) };
	KTensor o = O(DT_F32);
	ok(OP_Expand, in, 2, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 3, D(2, 3, 2)) && f32_is(&o, F32(1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3), 12, 0));
	in[1] = T(DT_I64, 1, D(2), I64(2, 2));
	o = O(DT_F32);
	bad(OP_Expand, in, 2, &o, 1, NULL, 0);   /* 3 vs 2 */

	KTensor ti[2] = { T(DT_F32, 2, D(1, 2), F32(1, 2)), T(DT_I64, 1, D(2), I64(2, 2)) };
	o = O(DT_F32);
	ok(OP_Tile, ti, 2, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 2, D(2, 4)) && f32_is(&o, F32(1, 2, 1, 2, 1, 2, 1, 2), 8, 0));

	KTensor pi[3] = { T(DT_F32, 1, D(3), F32(1, 2, 3)), T(DT_I64, 1, D(2), I64(2, 2)),
	                  T(DT_F32, 0, NULL, F32(9)) };
	KAttr m = AS("mode", "reflect");
	o = O(DT_F32);
	ok(OP_Pad, pi, 2, &o, 1, &m, 1);
	CHECK(f32_is(&o, F32(3, 2, 1, 2, 3, 2, 1), 7, 0));
	m = AS("mode", "edge");
	o = O(DT_F32);
	ok(OP_Pad, pi, 2, &o, 1, &m, 1);
	CHECK(f32_is(&o, F32(1, 1, 1, 2, 3, 3, 3), 7, 0));
	m = AS("mode", "wrap");
	pi[1] = T(DT_I64, 1, D(2), I64(1, 1));
	o = O(DT_F32);
	ok(OP_Pad, pi, 2, &o, 1, &m, 1);
	CHECK(f32_is(&o, F32(3, 1, 2, 3, 1), 5, 0));
	pi[1] = T(DT_I64, 1, D(2), I64(1, 0));
	o = O(DT_F32);
	ok(OP_Pad, pi, 3, &o, 1, NULL, 0);
	CHECK(f32_is(&o, F32(9, 1, 2, 3), 4, 0));
	pi[1] = T(DT_I64, 1, D(2), I64(-1, 1));
	o = O(DT_F32);
	ok(OP_Pad, pi, 2, &o, 1, NULL, 0);
	CHECK(f32_is(&o, F32(2, 3, 0), 3, 0));
	pi[1] = T(DT_I64, 1, D(2), I64(-3, -1));
	o = O(DT_F32);
	bad(OP_Pad, pi, 2, &o, 1, NULL, 0);
	/* opset 2: pads and value attributes */
	KAttr old[3] = { AIS("pads", 2, I64(0, 1)), AF("value", 7), AI("_opset", 2) };
	o = O(DT_F32);
	ok(OP_Pad, pi, 1, &o, 1, old, 3);
	CHECK(f32_is(&o, F32(1, 2, 3, 7), 4, 0));
}

static void test_generators(void)
{
	KTensor x = T(DT_F32, 3, D(2, 3, 4), iota), o = O(DT_I64);
	ok(OP_Shape, &x, 1, &o, 1, NULL, 0);
	CHECK(i64_is(&o, I64(2, 3, 4), 3));
	KAttr se[2] = { AI("start", -2), AI("end", 100) };
	o = O(DT_I64);
	ok(OP_Shape, &x, 1, &o, 1, se, 2);
	CHECK(i64_is(&o, I64(3, 4), 2));
	o = O(DT_I64);
	ok(OP_Size, &x, 1, &o, 1, NULL, 0);
	CHECK(o.rank == 0 && ((int64_t *)o.data)[0] == 24);

	KTensor vt = T(DT_I32, 1, D(1), I32(7));
	KAttr val = { .name = "value", .kind = AK_TENSOR, .t = &vt };
	KTensor sh = T(DT_I64, 1, D(2), I64(2, 3));
	o = O(DT_I32);
	ok(OP_ConstantOfShape, &sh, 1, &o, 1, &val, 1);
	CHECK(shape_is(&o, 2, D(2, 3)) && ((int32_t *)o.data)[5] == 7);
	o = O(DT_F32);
	ok(OP_ConstantOfShape, &sh, 1, &o, 1, NULL, 0);
	CHECK(((float *)o.data)[0] == 0);
	sh = T(DT_I64, 1, D(1), I64(-1));
	o = O(DT_F32);
	bad(OP_ConstantOfShape, &sh, 1, &o, 1, NULL, 0);

	KTensor ri[3] = { T(DT_I64, 0, NULL, I64(10)), T(DT_I64, 0, NULL, I64(4)),
	                  T(DT_I64, 0, NULL, I64(-3)) };
	o = O(DT_I64);
	ok(OP_Range, ri, 3, &o, 1, NULL, 0);
	CHECK(i64_is(&o, I64(10, 7), 2));
	KTensor rf[3] = { T(DT_F32, 0, NULL, F32(0)), T(DT_F32, 0, NULL, F32(1)),
	                  T(DT_F32, 0, NULL, F32(0.3f)) };
	o = O(DT_F32);
	ok(OP_Range, rf, 3, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 1, D(4)) && f32_is(&o, F32(0, 0.3f, 0.6f, 0.9f), 4, 1e-6));
	ri[2] = T(DT_I64, 0, NULL, I64(0));
	o = O(DT_I64);
	bad(OP_Range, ri, 3, &o, 1, NULL, 0);

	KTensor e = T(DT_F32, 2, D(2, 3), iota);
	KAttr k = AI("k", 1);
	o = O(DT_F32);
	ok(OP_EyeLike, &e, 1, &o, 1, &k, 1);
	CHECK(f32_is(&o, F32(0, 1, 0, 0, 0, 1), 6, 0));

	float m9[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	KTensor tr[2] = { T(DT_F32, 2, D(3, 3), m9), T(DT_I64, 0, NULL, I64(1)) };
	o = O(DT_F32);
	ok(OP_Trilu, tr, 2, &o, 1, NULL, 0);
	CHECK(f32_is(&o, F32(0, 2, 3, 0, 0, 6, 0, 0, 0), 9, 0));
	KAttr lo = AI("upper", 0);
	tr[1] = T(DT_I64, 0, NULL, I64(-1));
	o = O(DT_F32);
	ok(OP_Trilu, tr, 2, &o, 1, &lo, 1);
	CHECK(f32_is(&o, F32(0, 0, 0, 4, 0, 0, 7, 8, 0), 9, 0));

	KTensor oh[3] = { T(DT_I64, 1, D(3), I64(0, -1, 5)), T(DT_F32, 0, NULL, F32(3)),
	                  T(DT_F32, 1, D(2), F32(0, 1)) };
	o = O(DT_F32);
	ok(OP_OneHot, oh, 3, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 2, D(3, 3)) && f32_is(&o, F32(1, 0, 0, 0, 0, 1, 0, 0, 0), 9, 0));
	KAttr a0 = AI("axis", 0);
	o = O(DT_F32);
	ok(OP_OneHot, oh, 3, &o, 1, &a0, 1);
	CHECK(f32_is(&o, F32(1, 0, 0, 0, 0, 0, 0, 1, 0), 9, 0));
}

static void test_layout(void)
{
	KTensor x = T(DT_F32, 4, D(1, 8, 1, 1), iota), o = O(DT_F32);
	KAttr b = AI("blocksize", 2);
	ok(OP_DepthToSpace, &x, 1, &o, 1, &b, 1);
	CHECK(shape_is(&o, 4, D(1, 2, 2, 2)) && f32_is(&o, F32(0, 2, 4, 6, 1, 3, 5, 7), 8, 0));
	KTensor back = O(DT_F32);
	ok(OP_SpaceToDepth, &o, 1, &back, 1, &b, 1);
	CHECK(shape_is(&back, 4, D(1, 8, 1, 1)) && f32_is(&back, iota, 8, 0));
	KAttr crd[2] = { AI("blocksize", 2), AS("mode", "CRD") };
	o = O(DT_F32);
	ok(OP_DepthToSpace, &x, 1, &o, 1, crd, 2);
	CHECK(f32_is(&o, iota, 8, 0));
	KAttr b3 = AI("blocksize", 3);
	o = O(DT_F32);
	bad(OP_DepthToSpace, &x, 1, &o, 1, &b3, 1);

	KTensor rs[2] = { T(DT_F32, 2, D(4, 2), iota), T(DT_I64, 1, D(2), I64(4, 2)) };
	o = O(DT_F32);
	ok(OP_ReverseSequence, rs, 2, &o, 1, NULL, 0);
	CHECK(f32_is(&o, F32(6, 3, 4, 1, 2, 5, 0, 7), 8, 0));
	rs[1] = T(DT_I64, 1, D(2), I64(5, 2));
	o = O(DT_F32);
	bad(OP_ReverseSequence, rs, 2, &o, 1, NULL, 0);
}

static void test_data_dependent(void)
{
	KTensor cx[2] = { T(DT_F32, 2, D(3, 2), F32(1, 2, 3, 4, 5, 6)), T(DT_BOOL, 1, D(3), U8(0, 1, 1)) };
	KAttr a0 = AI("axis", 0);
	KTensor o = O(DT_F32);
	ok(OP_Compress, cx, 2, &o, 1, &a0, 1);
	CHECK(shape_is(&o, 2, D(2, 2)) && f32_is(&o, F32(3, 4, 5, 6), 4, 0));
	cx[1] = T(DT_BOOL, 1, D(5), U8(0, 1, 0, 0, 1));
	o = O(DT_F32);
	ok(OP_Compress, cx, 2, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 1, D(2)) && f32_is(&o, F32(2, 5), 2, 0));
	o = O(DT_F32);
	bad(OP_Compress, cx, 2, &o, 1, &a0, 1);   /* selects index 4 of 3 */

	KTensor nz = T(DT_F32, 2, D(2, 2), F32(1, 0, 1, 1));
	o = O(DT_I64);
	ok(OP_NonZero, &nz, 1, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 2, D(2, 3)) && i64_is(&o, I64(0, 1, 1, 0, 0, 1), 6));

	/* Unique doc examples */
	KTensor ux = T(DT_F32, 1, D(6), F32(2, 1, 1, 3, 4, 3));
	KTensor uo[4] = { O(DT_F32), O(DT_I64), O(DT_I64), O(DT_I64) };
	ok(OP_Unique, &ux, 1, uo, 4, NULL, 0);
	CHECK(f32_is(&uo[0], F32(1, 2, 3, 4), 4, 0) && i64_is(&uo[1], I64(1, 0, 3, 4), 4));
	CHECK(i64_is(&uo[2], I64(1, 0, 0, 2, 3, 2), 6) && i64_is(&uo[3], I64(2, 1, 2, 1), 4));
	KAttr uns = AI("sorted", 0);
	for (int i = 0; i < 4; i++)
		uo[i] = O(i ? DT_I64 : DT_F32);
	ok(OP_Unique, &ux, 1, uo, 4, &uns, 1);
	CHECK(f32_is(&uo[0], F32(2, 1, 3, 4), 4, 0) && i64_is(&uo[1], I64(0, 1, 3, 4), 4));
	CHECK(i64_is(&uo[2], I64(0, 1, 1, 2, 3, 2), 6) && i64_is(&uo[3], I64(1, 2, 2, 1), 4));
	KTensor u2 = T(DT_F32, 2, D(3, 3), F32(1, 0, 0, 1, 0, 0, 2, 3, 4));
	KAttr ua[2] = { AI("axis", 0), AI("sorted", 1) };
	for (int i = 0; i < 4; i++)
		uo[i] = O(i ? DT_I64 : DT_F32);
	uo[1].dt = DT_UNDEF;   /* optional output not used */
	ok(OP_Unique, &u2, 1, uo, 4, ua, 2);
	CHECK(shape_is(&uo[0], 2, D(2, 3)) && f32_is(&uo[0], F32(1, 0, 0, 2, 3, 4), 6, 0));
	CHECK(uo[1].data == NULL && i64_is(&uo[3], I64(2, 1), 2));

	/* NMS: box 1 overlaps box 0 (IoU 0.82), box 2 is apart */
	KTensor nm[4] = { T(DT_F32, 3, D(1, 3, 4), F32(0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, 2, 1, 3)),
	                  T(DT_F32, 3, D(1, 1, 3), F32(0.9f, 0.8f, 0.7f)),
	                  T(DT_I64, 1, D(1), I64(3)), T(DT_F32, 1, D(1), F32(0.5f)) };
	o = O(DT_I64);
	ok(OP_NonMaxSuppression, nm, 4, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 2, D(2, 3)) && i64_is(&o, I64(0, 0, 0, 0, 0, 2), 6));
	nm[3] = T(DT_F32, 1, D(1), F32(0.9f));
	o = O(DT_I64);
	ok(OP_NonMaxSuppression, nm, 4, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 2, D(3, 3)));
	o = O(DT_I64);
	ok(OP_NonMaxSuppression, nm, 2, &o, 1, NULL, 0);   /* max boxes defaults to 0 */
	CHECK(shape_is(&o, 2, D(0, 3)));
}

static void test_resize(void)
{
	KTensor in[4] = { T(DT_F32, 1, D(2), F32(1, 2)), { 0 }, T(DT_F32, 1, D(1), F32(2)), { 0 } };
	KAttr lin = AS("mode", "linear");
	KTensor o = O(DT_F32);
	ok(OP_Resize, in, 3, &o, 1, &lin, 1);
	CHECK(shape_is(&o, 1, D(4)) && f32_is(&o, F32(1, 1.25f, 1.75f, 2), 4, 1e-6));
	o = O(DT_F32);
	ok(OP_Resize, in, 3, &o, 1, NULL, 0);   /* nearest, half_pixel, round_prefer_floor */
	CHECK(f32_is(&o, F32(1, 1, 2, 2), 4, 0));
	KAttr al[2] = { AS("mode", "linear"), AS("coordinate_transformation_mode", "align_corners") };
	KTensor sz[4] = { T(DT_F32, 1, D(2), F32(0, 3)), { 0 }, { 0 }, T(DT_I64, 1, D(1), I64(4)) };
	o = O(DT_F32);
	ok(OP_Resize, sz, 4, &o, 1, al, 2);
	CHECK(f32_is(&o, F32(0, 1, 2, 3), 4, 1e-6));
	/* cubic keeps a constant constant (weights sum to one) */
	KTensor cu[4] = { T(DT_F32, 2, D(3, 3), F32(5, 5, 5, 5, 5, 5, 5, 5, 5)), { 0 },
	                  T(DT_F32, 1, D(2), F32(2, 1.5f)), { 0 } };
	KAttr cm = AS("mode", "cubic");
	o = O(DT_F32);
	ok(OP_Resize, cu, 3, &o, 1, &cm, 1);
	CHECK(shape_is(&o, 2, D(6, 4)) && ((float *)o.data)[7] > 4.9999f && ((float *)o.data)[7] < 5.0001f);
	/* tf_crop_and_resize: the third sample falls outside and extrapolates */
	KTensor cr[4] = { T(DT_F32, 1, D(3), F32(1, 2, 3)), T(DT_F32, 1, D(2), F32(0, 2)), { 0 },
	                  T(DT_I64, 1, D(1), I64(3)) };
	KAttr ca[3] = { AS("mode", "linear"), AS("coordinate_transformation_mode", "tf_crop_and_resize"),
	                AF("extrapolation_value", 10) };
	o = O(DT_F32);
	ok(OP_Resize, cr, 4, &o, 1, ca, 3);
	CHECK(f32_is(&o, F32(1, 3, 10), 3, 1e-6));
	/* Upsample (opset 9): nearest repeats */
	KTensor up[2] = { T(DT_F32, 2, D(1, 2), F32(1, 2)), T(DT_F32, 1, D(2), F32(2, 3)) };
	KAttr op9 = AI("_opset", 9);
	o = O(DT_F32);
	ok(OP_Upsample, up, 2, &o, 1, &op9, 1);
	CHECK(shape_is(&o, 2, D(2, 6)) && f32_is(&o, F32(1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2), 12, 0));
	in[2] = T(DT_F32, 1, D(1), F32(-1));
	o = O(DT_F32);
	bad(OP_Resize, in, 3, &o, 1, NULL, 0);
	/* integer output rounds and saturates */
	KTensor ui[4] = { T(DT_U8, 1, D(2), U8(0, 255)), { 0 }, { 0 }, T(DT_I64, 1, D(1), I64(3)) };
	o = O(DT_U8);
	ok(OP_Resize, ui, 4, &o, 1, al, 2);
	CHECK(o.data && ((uint8_t *)o.data)[1] == 128 && ((uint8_t *)o.data)[2] == 255);
}

static void test_gridsample(void)
{
	KTensor in[2] = { T(DT_F32, 4, D(1, 1, 2, 2), F32(1, 2, 3, 4)),
	                  T(DT_F32, 4, D(1, 1, 4, 2), F32(-1, -1, 1, 1, 0, 0, 1, -1)) };
	KAttr al = AI("align_corners", 1);
	KTensor o = O(DT_F32);
	ok(OP_GridSample, in, 2, &o, 1, &al, 1);
	CHECK(shape_is(&o, 4, D(1, 1, 1, 4)) && f32_is(&o, F32(1, 4, 2.5f, 2), 4, 1e-6));
	/* zeros padding: a point far outside samples 0; border clamps */
	in[1] = T(DT_F32, 4, D(1, 1, 1, 2), F32(5, 5));
	o = O(DT_F32);
	ok(OP_GridSample, in, 2, &o, 1, &al, 1);
	CHECK(f32_is(&o, F32(0), 1, 0));
	KAttr bo[2] = { AI("align_corners", 1), AS("padding_mode", "border") };
	o = O(DT_F32);
	ok(OP_GridSample, in, 2, &o, 1, bo, 2);
	CHECK(f32_is(&o, F32(4), 1, 0));
}

static void test_quantize(void)
{
	KTensor in[3] = { T(DT_F32, 1, D(5), F32(0, 1.5f, 2.5f, -3, 300)), T(DT_F32, 0, NULL, F32(1)),
	                  T(DT_U8, 0, NULL, U8(0)) };
	KTensor o = O(DT_U8);
	ok(OP_QuantizeLinear, in, 3, &o, 1, NULL, 0);
	CHECK(o.data && !memcmp(o.data, U8(0, 2, 2, 0, 255), 5));
	int8_t z = 1;
	in[2] = T(DT_I8, 0, NULL, &z);
	o = O(DT_I8);
	ok(OP_QuantizeLinear, in, 3, &o, 1, NULL, 0);
	CHECK(o.data && !memcmp(o.data, ((int8_t[]){1, 3, 3, -2, 127}), 5));
	/* per-axis dequantize: axis 1 of [2,2] */
	KTensor dq[3] = { T(DT_U8, 2, D(2, 2), U8(10, 20, 30, 40)), T(DT_F32, 1, D(2), F32(0.5f, 2)),
	                  T(DT_U8, 1, D(2), U8(10, 0)) };
	o = O(DT_F32);
	ok(OP_DequantizeLinear, dq, 3, &o, 1, NULL, 0);
	CHECK(f32_is(&o, F32(0, 40, 10, 80), 4, 0));
	dq[1] = T(DT_F32, 1, D(3), F32(1, 1, 1));
	o = O(DT_F32);
	bad(OP_DequantizeLinear, dq, 2, &o, 1, NULL, 0);

	/* DynamicQuantizeLinear doc example */
	KTensor dx = T(DT_F32, 1, D(6), F32(0, 2, -3, -2.5f, 1.34f, 0.5f));
	KTensor d3[3] = { O(DT_U8), O(DT_F32), O(DT_U8) };
	ok(OP_DynamicQuantizeLinear, &dx, 1, d3, 3, NULL, 0);
	CHECK(d3[2].data && ((uint8_t *)d3[2].data)[0] == 153);
	CHECK(d3[1].data && near(((float *)d3[1].data)[0], 0.019607844f, 1e-6));
	CHECK(d3[0].data && !memcmp(d3[0].data, U8(153, 255, 0, 26, 221, 179), 6));
}

static void test_signal(void)
{
	KTensor x = T(DT_F32, 3, D(1, 4, 1), F32(1, 2, 3, 4)), o = O(DT_F32);
	ok(OP_DFT, &x, 1, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 3, D(1, 4, 2)) && f32_is(&o, F32(10, 0, -2, 2, -2, 0, -2, -2), 8, 1e-5));
	KAttr one = AI("onesided", 1);
	o = O(DT_F32);
	ok(OP_DFT, &x, 1, &o, 1, &one, 1);
	CHECK(shape_is(&o, 3, D(1, 3, 2)));
	/* inverse of the spectrum gives the signal back */
	KTensor spec = T(DT_F32, 3, D(1, 4, 2), F32(10, 0, -2, 2, -2, 0, -2, -2));
	KAttr inv = AI("inverse", 1);
	o = O(DT_F32);
	ok(OP_DFT, &spec, 1, &o, 1, &inv, 1);
	CHECK(f32_is(&o, F32(1, 0, 2, 0, 3, 0, 4, 0), 8, 1e-5));

	KTensor st[2] = { T(DT_F32, 3, D(1, 6, 1), F32(1, 2, 3, 4, 5, 6)), T(DT_I64, 0, NULL, I64(2)) };
	KTensor stw[4] = { st[0], st[1], { 0 }, T(DT_I64, 0, NULL, I64(4)) };
	o = O(DT_F32);
	ok(OP_STFT, stw, 4, &o, 1, NULL, 0);
	/* frames [1..4], [3..6]; bin 0 is the frame sum */
	CHECK(shape_is(&o, 4, D(1, 2, 3, 2)) && o.data && near(((float *)o.data)[0], 10, 1e-5) &&
	      near(((float *)o.data)[6], 18, 1e-5));

	KTensor n = T(DT_I64, 0, NULL, I64(4));
	o = O(DT_F32);
	ok(OP_HannWindow, &n, 1, &o, 1, NULL, 0);
	CHECK(f32_is(&o, F32(0, 0.5f, 1, 0.5f), 4, 1e-6));
	o = O(DT_F32);
	ok(OP_BlackmanWindow, &n, 1, &o, 1, NULL, 0);
	CHECK(o.data && fabs(((float *)o.data)[0]) < 1e-6 && f32_is(&o, F32(0, 0.34f, 1, 0.34f), 4, 1e-6));

	/* Mel: 8-point DFT at 8 Hz, 1 mel bin over [0, 4] Hz: triangle on bins */
	KTensor mw[5] = { T(DT_I64, 0, NULL, I64(1)), T(DT_I64, 0, NULL, I64(8)),
	                  T(DT_I64, 0, NULL, I64(8)), T(DT_F32, 0, NULL, F32(0)),
	                  T(DT_F32, 0, NULL, F32(4)) };
	o = O(DT_F32);
	ok(OP_MelWeightMatrix, mw, 5, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 2, D(5, 1)));
	if (o.data) {
		float sum = 0;
		for (int i = 0; i < 5; i++)
			sum += ((float *)o.data)[i];
		CHECK(sum > 0 && ((float *)o.data)[0] == 0);
	}
}

static void test_loss(void)
{
	KTensor in[3] = { T(DT_F32, 2, D(2, 3), F32(-1, -2, -3, -4, -5, -6)), T(DT_I64, 1, D(2), I64(2, 0)),
	                  T(DT_F32, 1, D(3), F32(1, 1, 2)) };
	KTensor o = O(DT_F32);
	ok(OP_NegativeLogLikelihoodLoss, in, 2, &o, 1, NULL, 0);
	CHECK(o.rank == 0 && f32_is(&o, F32(3.5f), 1, 1e-6));
	o = O(DT_F32);
	ok(OP_NegativeLogLikelihoodLoss, in, 3, &o, 1, NULL, 0);
	CHECK(f32_is(&o, F32(10.0f / 3), 1, 1e-6));
	KAttr ig = AI("ignore_index", 2);
	o = O(DT_F32);
	ok(OP_NegativeLogLikelihoodLoss, in, 2, &o, 1, &ig, 1);
	CHECK(f32_is(&o, F32(4), 1, 1e-6));
	KAttr none = AS("reduction", "none");
	o = O(DT_F32);
	ok(OP_NegativeLogLikelihoodLoss, in, 2, &o, 1, &none, 1);
	CHECK(shape_is(&o, 1, D(2)) && f32_is(&o, F32(3, 4), 2, 1e-6));
	in[1] = T(DT_I64, 1, D(2), I64(3, 0));
	o = O(DT_F32);
	bad(OP_NegativeLogLikelihoodLoss, in, 2, &o, 1, NULL, 0);

	KTensor sc[2] = { T(DT_F32, 2, D(1, 2), F32(0, 0)), T(DT_I64, 1, D(1), I64(1)) };
	KTensor so[2] = { O(DT_F32), O(DT_F32) };
	ok(OP_SoftmaxCrossEntropyLoss, sc, 2, so, 2, NULL, 0);
	CHECK(f32_is(&so[0], F32((float)log(2.0)), 1, 1e-6));
	CHECK(shape_is(&so[1], 2, D(1, 2)) && f32_is(&so[1], F32((float)-log(2.0), (float)-log(2.0)), 2, 1e-6));
}

static void test_random(void)
{
	KAttr at[4] = { AIS("shape", 2, I64(3, 4)), AF("low", 2), AF("high", 5), AF("seed", 1) };
	KTensor o = O(DT_F32), o2 = O(DT_F32);
	ok(OP_RandomUniform, NULL, 0, &o, 1, at, 4);
	ok(OP_RandomUniform, NULL, 0, &o2, 1, at, 4);
	CHECK(shape_is(&o, 2, D(3, 4)) && o.data && o2.data);
	if (o.data && o2.data) {
		int inr = 1;
		for (int i = 0; i < 12; i++)
			inr &= ((float *)o.data)[i] >= 2 && ((float *)o.data)[i] <= 5;
		CHECK(inr && !memcmp(o.data, o2.data, 48));   /* same seed, same numbers */
	}
	KTensor p = T(DT_F32, 1, D(4), F32(0, 1, 0, 1));
	o = O(DT_F32);
	ok(OP_Bernoulli, &p, 1, &o, 1, NULL, 0);
	CHECK(f32_is(&o, F32(0, 1, 0, 1), 4, 0));
	KTensor lg = T(DT_F32, 2, D(1, 3), F32(-1e30f, 0, -1e30f));
	KAttr ss = AI("sample_size", 5);
	o = O(DT_I32);
	ok(OP_Multinomial, &lg, 1, &o, 1, &ss, 1);
	CHECK(shape_is(&o, 2, D(1, 5)) && o.data && ((int32_t *)o.data)[0] == 1 && ((int32_t *)o.data)[4] == 1);
	KTensor like = T(DT_F32, 1, D(3), iota);
	o = O(DT_F32);
	ok(OP_RandomNormalLike, &like, 1, &o, 1, NULL, 0);
	CHECK(shape_is(&o, 1, D(3)));
}

int main(void)
{
	for (int i = 0; i < 64; i++)
		iota[i] = (float)i;
	test_reshape_family();
	test_transpose_concat_split();
	test_slice();
	test_gather();
	test_scatter();
	test_expand_tile_pad();
	test_generators();
	test_layout();
	test_data_dependent();
	test_resize();
	test_gridsample();
	test_quantize();
	test_signal();
	test_loss();
	test_random();
	while (nalloc > 0)
		free(allocs[--nalloc]);
	if (fails)
		fprintf(stderr, "test_ref_c: %d check(s) failed\n", fails);
	else
		printf("test_ref_c: all checks passed\n");
	return fails != 0;
}
