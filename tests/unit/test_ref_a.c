/* Unit tests of the family-A reference kernels (ir/ref_elem.c,
 * ir/ref_reduce.c): small hand-derived cases and values from math.h,
 * including the error paths a hostile model can reach. */
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

static void *talloc(void *ctx, size_t n) { (void)ctx; return calloc(1, n); }

/* Run op's reference kernel; returns its status (error text in errbuf). */
static int run(int op, KTensor *in, int nin, KTensor *out, int nout, KAttr *attr, int nattr)
{
	errbuf[0] = 0;
	KCall c = { .op = op, .nin = nin, .nout = nout, .nattr = nattr, .in = in, .out = out,
	            .attr = attr, .err = errbuf, .errlen = sizeof errbuf, .alloc = talloc };
	return ref_table[op](&c);
}

/* run() that must succeed */
static void ok(int op, KTensor *in, int nin, KTensor *out, int nout, KAttr *attr, int nattr)
{
	if (run(op, in, nin, out, nout, attr, nattr)) {
		fails++;
		fprintf(stderr, "%s: unexpected error: %s\n", op_names[op], errbuf);
	}
}

/* run() that must fail with a message */
static void bad(int op, KTensor *in, int nin, KTensor *out, int nout, KAttr *attr, int nattr)
{
	if (!run(op, in, nin, out, nout, attr, nattr) || !errbuf[0]) {
		fails++;
		fprintf(stderr, "%s: expected an error, got none\n", op_names[op]);
	}
}

static int near(double a, double b, double tol)
{
	return (isnan(a) && isnan(b)) || fabs(a - b) <= tol * (1 + fabs(b));
}

static void test_unary(void)
{
	float x[] = { -2.0f, -0.5f, 0.0f, 0.5f, 3.0f }, y[5];
	KTensor in = T(DT_F32, 1, D(5), x), out = T(DT_F32, 1, D(5), y);
	ok(OP_Relu, &in, 1, &out, 1, NULL, 0);
	CHECK(y[0] == 0 && y[1] == 0 && y[2] == 0 && y[3] == 0.5f && y[4] == 3);
	ok(OP_Sigmoid, &in, 1, &out, 1, NULL, 0);
	for (int i = 0; i < 5; i++)
		CHECK(near(y[i], 1 / (1 + exp(-x[i])), 1e-6));
	KAttr tanh_a = AS("approximate", "tanh");
	ok(OP_Gelu, &in, 1, &out, 1, &tanh_a, 1);
	for (int i = 0; i < 5; i++) {
		double v = x[i];
		CHECK(near(y[i], 0.5 * v * (1 + tanh(sqrt(2 / 3.14159265358979) * (v + 0.044715 * v * v * v))), 1e-6));
	}
	ok(OP_Gelu, &in, 1, &out, 1, NULL, 0);
	CHECK(near(y[4], 1.5 * (1 + erf(3 / sqrt(2.0))), 1e-6));
	KAttr alpha = AF("alpha", 2.0);
	ok(OP_Elu, &in, 1, &out, 1, &alpha, 1);
	CHECK(near(y[0], 2 * (exp(-2.0) - 1), 1e-6) && y[4] == 3);
	ok(OP_LeakyRelu, &in, 1, &out, 1, NULL, 0);
	CHECK(near(y[0], -0.02, 1e-6) && y[3] == 0.5f);
	KAttr sh[2] = { AF("lambd", 1.0), AF("bias", 0.5) };
	ok(OP_Shrink, &in, 1, &out, 1, sh, 2);
	CHECK(y[0] == -1.5f && y[1] == 0 && y[3] == 0 && y[4] == 2.5f);

	/* round half to even */
	float r[] = { 0.5f, 1.5f, 2.5f, -2.5f, -0.4f }, ry[5];
	KTensor rin = T(DT_F32, 1, D(5), r), rout = T(DT_F32, 1, D(5), ry);
	ok(OP_Round, &rin, 1, &rout, 1, NULL, 0);
	CHECK(ry[0] == 0 && ry[1] == 2 && ry[2] == 2 && ry[3] == -2 && ry[4] == 0);

	/* softplus does not overflow for large x */
	float big[] = { 1000.0f, -1000.0f }, by[2];
	KTensor bin = T(DT_F32, 1, D(2), big), bout = T(DT_F32, 1, D(2), by);
	ok(OP_Softplus, &bin, 1, &bout, 1, NULL, 0);
	CHECK(by[0] == 1000.0f && by[1] == 0.0f);

	/* integers stay exact */
	int8_t i8[] = { -128, -5, 0, 7 }, o8[4];
	KTensor iin = T(DT_I8, 1, D(4), i8), iout = T(DT_I8, 1, D(4), o8);
	ok(OP_Abs, &iin, 1, &iout, 1, NULL, 0);
	CHECK(o8[0] == -128 && o8[1] == 5 && o8[2] == 0 && o8[3] == 7);   /* wraps like C */
	ok(OP_Neg, &iin, 1, &iout, 1, NULL, 0);
	CHECK(o8[1] == 5 && o8[3] == -7);
	ok(OP_Sign, &iin, 1, &iout, 1, NULL, 0);
	CHECK(o8[0] == -1 && o8[2] == 0 && o8[3] == 1);
	int64_t i64[] = { INT64_MAX - 1 }, o64[1];
	KTensor lin = T(DT_I64, 1, D(1), i64), lout = T(DT_I64, 1, D(1), o64);
	ok(OP_Neg, &lin, 1, &lout, 1, NULL, 0);
	CHECK(o64[0] == -(INT64_MAX - 1));
	uint8_t u[] = { 0x0f, 0 }, uo[2];
	KTensor uin = T(DT_U8, 1, D(2), u), uout = T(DT_U8, 1, D(2), uo);
	ok(OP_BitwiseNot, &uin, 1, &uout, 1, NULL, 0);
	CHECK(uo[0] == 0xf0 && uo[1] == 0xff);
	KTensor bl = T(DT_BOOL, 1, D(2), u), blo = T(DT_BOOL, 1, D(2), uo);
	ok(OP_Not, &bl, 1, &blo, 1, NULL, 0);
	CHECK(uo[0] == 0 && uo[1] == 1);

	/* IsInf with detect_negative = 0, IsNaN */
	float sp[] = { INFINITY, -INFINITY, NAN, 1.0f };
	uint8_t b[4];
	KTensor sin_ = T(DT_F32, 1, D(4), sp), bo = T(DT_BOOL, 1, D(4), b);
	KAttr dn = AI("detect_negative", 0);
	ok(OP_IsInf, &sin_, 1, &bo, 1, &dn, 1);
	CHECK(b[0] == 1 && b[1] == 0 && b[2] == 0 && b[3] == 0);
	ok(OP_IsNaN, &sin_, 1, &bo, 1, NULL, 0);
	CHECK(b[0] == 0 && b[2] == 1 && b[3] == 0);

	/* f16 in, f16 out */
	uint16_t h[] = { f32_to_f16(4.0f) }, ho[1];
	KTensor hin = T(DT_F16, 1, D(1), h), hout = T(DT_F16, 1, D(1), ho);
	ok(OP_Sqrt, &hin, 1, &hout, 1, NULL, 0);
	CHECK(f16_to_f32(ho[0]) == 2.0f);

	/* wrong preallocated output shape is an error, not a write */
	KTensor wrong = T(DT_F32, 1, D(4), y);
	bad(OP_Relu, &in, 1, &wrong, 1, NULL, 0);
	/* unknown shape: the kernel allocates */
	KTensor dyn = { .dt = DT_F32 };
	ok(OP_Relu, &in, 1, &dyn, 1, NULL, 0);
	CHECK(dyn.rank == 1 && dyn.dims[0] == 5 && dyn.data && ((float *)dyn.data)[4] == 3);
	free(dyn.data);
}

static void test_clip_cast_dropout(void)
{
	float x[] = { -3, -1, 0, 2, 5 }, y[5];
	KTensor io[3] = { T(DT_F32, 1, D(5), x), T(DT_F32, 0, NULL, F32(-1.5f)), T(DT_F32, 0, NULL, F32(2.5f)) };
	KTensor out = T(DT_F32, 1, D(5), y);
	ok(OP_Clip, io, 3, &out, 1, NULL, 0);
	CHECK(y[0] == -1.5f && y[1] == -1 && y[2] == 0 && y[3] == 2 && y[4] == 2.5f);
	io[1] = (KTensor){ 0 };   /* omitted min */
	ok(OP_Clip, io, 3, &out, 1, NULL, 0);
	CHECK(y[0] == -3 && y[4] == 2.5f);
	KAttr mm[2] = { AF("min", 0.0), AF("max", 1.0) };   /* opset < 11 */
	ok(OP_Clip, io, 1, &out, 1, mm, 2);
	CHECK(y[0] == 0 && y[3] == 1 && y[4] == 1);
	KTensor inv[3] = { io[0], T(DT_F32, 0, NULL, F32(3.0f)), T(DT_F32, 0, NULL, F32(1.0f)) };
	ok(OP_Clip, inv, 3, &out, 1, NULL, 0);   /* min > max: all max */
	CHECK(y[0] == 1 && y[2] == 1 && y[4] == 1);
	KTensor vec[2] = { io[0], T(DT_F32, 1, D(2), F32(0, 1)) };
	bad(OP_Clip, vec, 2, &out, 1, NULL, 0);
	int32_t xi[] = { -7, 3, 100 }, yi[3];
	KTensor ii[3] = { T(DT_I32, 1, D(3), xi), { 0 }, T(DT_I32, 0, NULL, I32(10)) };
	KTensor oi = T(DT_I32, 1, D(3), yi);
	ok(OP_Clip, ii, 3, &oi, 1, NULL, 0);
	CHECK(yi[0] == -7 && yi[1] == 3 && yi[2] == 10);

	/* Cast: truncation toward zero, bool, f16, bf16 */
	float cx[] = { -1.7f, 2.9f, 0.0f, NAN };
	int32_t ci[4];
	KTensor cin = T(DT_F32, 1, D(4), cx), cout_ = T(DT_I32, 1, D(4), ci);
	KAttr to = AI("to", DT_I32);
	ok(OP_Cast, &cin, 1, &cout_, 1, &to, 1);
	CHECK(ci[0] == -1 && ci[1] == 2 && ci[2] == 0);
	uint8_t cb[4];
	KTensor cbo = T(DT_BOOL, 1, D(4), cb);
	KAttr tob = AI("to", DT_BOOL);
	ok(OP_Cast, &cin, 1, &cbo, 1, &tob, 1);
	CHECK(cb[0] == 1 && cb[1] == 1 && cb[2] == 0 && cb[3] == 1);
	uint16_t ch[4];
	KTensor cho = T(DT_F16, 1, D(4), ch);
	KAttr toh = AI("to", DT_F16);
	ok(OP_Cast, &cin, 1, &cho, 1, &toh, 1);
	CHECK(ch[2] == 0 && f16_to_f32(ch[1]) == 2.900390625f);   /* nearest f16 of 2.9 */
	KTensor like[2] = { cin, T(DT_BF16, 1, D(1), (uint16_t[]){ 0 }) };
	KTensor bfo = T(DT_BF16, 1, D(4), ch);
	ok(OP_CastLike, like, 2, &bfo, 1, NULL, 0);
	CHECK(bf16_to_f32(ch[0]) == -1.703125f);   /* -1.7 to 8 bits of mantissa */
	int64_t big[] = { (int64_t)1 << 40 | 5 };
	uint8_t ub[1];
	KTensor lin = T(DT_I64, 1, D(1), big), ubo = T(DT_U8, 1, D(1), ub);
	KAttr tou = AI("to", DT_U8);
	ok(OP_Cast, &lin, 1, &ubo, 1, &tou, 1);
	CHECK(ub[0] == 5);   /* int -> narrower int wraps */
	KAttr tos = AI("to", DT_STRING);
	bad(OP_Cast, &cin, 1, &cout_, 1, &tos, 1);
	bad(OP_Cast, &cin, 1, &cout_, 1, &tob, 1);   /* `to` disagrees with output */

	/* Dropout: copy, all-true mask; random training refused */
	float dy[5];
	uint8_t mask[5];
	KTensor dout[2] = { T(DT_F32, 1, D(5), dy), T(DT_BOOL, 1, D(5), mask) };
	ok(OP_Dropout, io, 1, dout, 2, NULL, 0);
	CHECK(memcmp(dy, x, sizeof x) == 0 && mask[0] == 1 && mask[4] == 1);
	KTensor tr[3] = { io[0], T(DT_F32, 0, NULL, F32(0.5f)), T(DT_BOOL, 0, NULL, U8(1)) };
	bad(OP_Dropout, tr, 3, dout, 2, NULL, 0);
	tr[1] = T(DT_F32, 0, NULL, F32(0.0f));
	ok(OP_Dropout, tr, 3, dout, 2, NULL, 0);
	CHECK(dy[3] == 2);
}

static void test_binary(void)
{
	/* [2,3] + [3] and [2,1] * [1,3] */
	float a[] = { 1, 2, 3, 4, 5, 6 }, y[6];
	KTensor ab[2] = { T(DT_F32, 2, D(2, 3), a), T(DT_F32, 1, D(3), F32(10, 20, 30)) };
	KTensor out = T(DT_F32, 2, D(2, 3), y);
	ok(OP_Add, ab, 2, &out, 1, NULL, 0);
	CHECK(y[0] == 11 && y[2] == 33 && y[3] == 14 && y[5] == 36);
	KTensor cr[2] = { T(DT_F32, 2, D(2, 1), F32(2, 3)), T(DT_F32, 2, D(1, 3), F32(1, 10, 100)) };
	ok(OP_Mul, cr, 2, &out, 1, NULL, 0);
	CHECK(y[0] == 2 && y[2] == 200 && y[3] == 3 && y[5] == 300);
	KTensor mis[2] = { T(DT_F32, 1, D(2), a), T(DT_F32, 1, D(3), a) };
	bad(OP_Add, mis, 2, &out, 1, NULL, 0);
	KTensor mixed[2] = { T(DT_F32, 1, D(2), a), T(DT_I32, 1, D(2), I32(1, 2)) };
	bad(OP_Add, mixed, 2, &out, 1, NULL, 0);

	/* integer Div truncates, Mod follows the divisor (or dividend with fmod) */
	int32_t n[] = { -7, 7, -7, 7 }, d[] = { 2, -2, -2, 2 }, q[4];
	KTensor nd[2] = { T(DT_I32, 1, D(4), n), T(DT_I32, 1, D(4), d) };
	KTensor qo = T(DT_I32, 1, D(4), q);
	ok(OP_Div, nd, 2, &qo, 1, NULL, 0);
	CHECK(q[0] == -3 && q[1] == -3 && q[2] == 3 && q[3] == 3);
	ok(OP_Mod, nd, 2, &qo, 1, NULL, 0);
	CHECK(q[0] == 1 && q[1] == -1 && q[2] == -1 && q[3] == 1);
	KAttr fm = AI("fmod", 1);
	ok(OP_Mod, nd, 2, &qo, 1, &fm, 1);
	CHECK(q[0] == -1 && q[1] == 1 && q[2] == -1 && q[3] == 1);
	d[1] = 0;
	bad(OP_Div, nd, 2, &qo, 1, NULL, 0);
	bad(OP_Mod, nd, 2, &qo, 1, NULL, 0);
	float fn[] = { -7.5f, 7.5f }, fd[] = { 2, -2 }, fq[2];
	KTensor fnd[2] = { T(DT_F32, 1, D(2), fn), T(DT_F32, 1, D(2), fd) };
	KTensor fqo = T(DT_F32, 1, D(2), fq);
	ok(OP_Mod, fnd, 2, &fqo, 1, &fm, 1);
	CHECK(fq[0] == -1.5f && fq[1] == 1.5f);

	/* Pow: int base with int exponent exact; float exponent */
	int64_t pb[] = { 3, -2, 2 }, pr[3];
	KTensor pw[2] = { T(DT_I64, 1, D(3), pb), T(DT_I32, 1, D(3), I32(39, 3, -1)) };
	KTensor po = T(DT_I64, 1, D(3), pr);
	ok(OP_Pow, pw, 2, &po, 1, NULL, 0);
	CHECK(pr[0] == 4052555153018976267LL && pr[1] == -8 && pr[2] == 0);
	KTensor pwf[2] = { T(DT_F32, 1, D(2), F32(4, 2)), T(DT_F32, 0, NULL, F32(0.5f)) };
	KTensor pfo = T(DT_F32, 1, D(2), fq);
	ok(OP_Pow, pwf, 2, &pfo, 1, NULL, 0);
	CHECK(fq[0] == 2 && near(fq[1], sqrt(2.0), 1e-7));

	/* BitShift, bitwise ops */
	uint8_t sx[] = { 1, 0x81 }, sy[2];
	KTensor sh[2] = { T(DT_U8, 1, D(2), sx), T(DT_U8, 1, D(2), U8(3, 1)) };
	KTensor so = T(DT_U8, 1, D(2), sy);
	KAttr dir = AS("direction", "LEFT");
	ok(OP_BitShift, sh, 2, &so, 1, &dir, 1);
	CHECK(sy[0] == 8 && sy[1] == 2);
	dir = AS("direction", "RIGHT");
	ok(OP_BitShift, sh, 2, &so, 1, &dir, 1);
	CHECK(sy[0] == 0 && sy[1] == 0x40);
	ok(OP_BitwiseXor, sh, 2, &so, 1, NULL, 0);
	CHECK(sy[0] == 2 && sy[1] == 0x80);
	/* signed (the onnx 1.23 tests): count read as unsigned of the width;
	 * >= width gives 0 (left) or the sign (right); right is arithmetic */
	int32_t bx[] = { -8, 4, -1, 5 }, by[] = { -1, 2, 40, 1 }, bz[4];
	KTensor bs[2] = { T(DT_I32, 1, D(4), bx), T(DT_I32, 1, D(4), by) };
	KTensor bo = T(DT_I32, 1, D(4), bz);
	ok(OP_BitShift, bs, 2, &bo, 1, &dir, 1);
	CHECK(bz[0] == -1 && bz[1] == 1 && bz[2] == -1 && bz[3] == 2);
	dir = AS("direction", "LEFT");
	ok(OP_BitShift, bs, 2, &bo, 1, &dir, 1);
	CHECK(bz[0] == 0 && bz[1] == 16 && bz[2] == 0 && bz[3] == 10);
	KTensor bf[2] = { T(DT_F32, 1, D(2), F32(1, 2)), T(DT_F32, 1, D(2), F32(1, 1)) };
	KTensor bfo = T(DT_F32, 1, D(2), fq);
	bad(OP_BitShift, bf, 2, &bfo, 1, &dir, 1);   /* floats: not defined */
	(void)nd;
	(void)qo;

	/* comparisons write bool; PRelu broadcasts its slope */
	uint8_t cb[6];
	KTensor cbo = T(DT_BOOL, 2, D(2, 3), cb);
	KTensor cmp[2] = { ab[0], T(DT_F32, 0, NULL, F32(3)) };
	ok(OP_Greater, cmp, 2, &cbo, 1, NULL, 0);
	CHECK(cb[0] == 0 && cb[2] == 0 && cb[3] == 1 && cb[5] == 1);
	ok(OP_LessOrEqual, cmp, 2, &cbo, 1, NULL, 0);
	CHECK(cb[2] == 1 && cb[3] == 0);
	KTensor pr2[2] = { T(DT_F32, 2, D(2, 2), F32(-1, 2, -3, 4)), T(DT_F32, 1, D(2), F32(0.5f, 0.25f)) };
	KTensor pro = T(DT_F32, 2, D(2, 2), y);
	ok(OP_PRelu, pr2, 2, &pro, 1, NULL, 0);
	CHECK(y[0] == -0.5f && y[1] == 2 && y[2] == -1.5f && y[3] == 4);
	uint8_t lx[] = { 0, 0, 1, 1 }, ly[] = { 0, 1, 0, 1 }, lo[4];
	KTensor lg[2] = { T(DT_BOOL, 1, D(4), lx), T(DT_BOOL, 1, D(4), ly) };
	KTensor lgo = T(DT_BOOL, 1, D(4), lo);
	ok(OP_Xor, lg, 2, &lgo, 1, NULL, 0);
	CHECK(lo[0] == 0 && lo[1] == 1 && lo[2] == 1 && lo[3] == 0);
}

static void test_variadic_where(void)
{
	float y[4];
	KTensor in[3] = { T(DT_F32, 2, D(2, 2), F32(1, 5, 3, 7)), T(DT_F32, 1, D(2), F32(4, 2)),
	                  T(DT_F32, 0, NULL, F32(3)) };
	KTensor out = T(DT_F32, 2, D(2, 2), y);
	ok(OP_Max, in, 3, &out, 1, NULL, 0);
	CHECK(y[0] == 4 && y[1] == 5 && y[2] == 4 && y[3] == 7);
	ok(OP_Min, in, 3, &out, 1, NULL, 0);
	CHECK(y[0] == 1 && y[1] == 2 && y[2] == 3 && y[3] == 2);
	ok(OP_Mean, in, 3, &out, 1, NULL, 0);
	CHECK(near(y[0], 8 / 3.0, 1e-6) && near(y[3], 4, 1e-6));
	ok(OP_Sum, in, 1, &out, 1, NULL, 0);
	CHECK(y[0] == 1 && y[3] == 7);
	int64_t s[2];
	KTensor li[2] = { T(DT_I64, 1, D(2), I64(INT64_MAX - 1, 5)), T(DT_I64, 1, D(1), I64(1)) };
	KTensor lo = T(DT_I64, 1, D(2), s);
	ok(OP_Sum, li, 2, &lo, 1, NULL, 0);
	CHECK(s[0] == INT64_MAX && s[1] == 6);
	KTensor nan_in[2] = { T(DT_F32, 1, D(2), F32(1, NAN)), T(DT_F32, 1, D(2), F32(NAN, 2)) };
	KTensor no = T(DT_F32, 1, D(2), y);
	ok(OP_Max, nan_in, 2, &no, 1, NULL, 0);
	CHECK(isnan(y[0]) && isnan(y[1]));

	int32_t w[6];
	KTensor wi[3] = { T(DT_BOOL, 2, D(2, 1), U8(1, 0)), T(DT_I32, 1, D(3), I32(1, 2, 3)),
	                  T(DT_I32, 2, D(2, 3), I32(-1, -2, -3, -4, -5, -6)) };
	KTensor wo = T(DT_I32, 2, D(2, 3), w);
	ok(OP_Where, wi, 3, &wo, 1, NULL, 0);
	CHECK(w[0] == 1 && w[2] == 3 && w[3] == -4 && w[5] == -6);
	wi[2].dt = DT_I64;
	bad(OP_Where, wi, 3, &wo, 1, NULL, 0);
}

static void test_reduce(void)
{
	/* x[2][3] = {{1, 5, 2}, {7, 0, 7}} */
	float x[] = { 1, 5, 2, 7, 0, 7 }, y[6];
	int64_t idx[3];
	KTensor in = T(DT_F32, 2, D(2, 3), x);
	KTensor ao = T(DT_I64, 2, D(1, 3), idx);
	ok(OP_ArgMax, &in, 1, &ao, 1, NULL, 0);
	CHECK(idx[0] == 1 && idx[1] == 0 && idx[2] == 1);
	KAttr am[3] = { AI("axis", -1), AI("keepdims", 0), AI("select_last_index", 1) };
	KTensor ao2 = T(DT_I64, 1, D(2), idx);
	ok(OP_ArgMax, &in, 1, &ao2, 1, am, 3);
	CHECK(idx[0] == 1 && idx[1] == 2);
	ok(OP_ArgMin, &in, 1, &ao2, 1, am, 2);
	CHECK(idx[0] == 0 && idx[1] == 1);
	KAttr axbad = AI("axis", 2);
	bad(OP_ArgMax, &in, 1, &ao, 1, &axbad, 1);

	/* ReduceSum with axes input, keepdims 0 */
	KTensor ri[2] = { in, T(DT_I64, 1, D(1), I64(0)) };
	KAttr kd0 = AI("keepdims", 0);
	KTensor ro = T(DT_F32, 1, D(3), y);
	ok(OP_ReduceSum, ri, 2, &ro, 1, &kd0, 1);
	CHECK(y[0] == 8 && y[1] == 5 && y[2] == 9);
	/* ReduceMean with axes attribute, keepdims 1 */
	KAttr ax1[1] = { AIS("axes", 1, I64(-1)) };
	KTensor mo = T(DT_F32, 2, D(2, 1), y);
	ok(OP_ReduceMean, &in, 1, &mo, 1, ax1, 1);
	CHECK(y[0] == 8 / 3.0f && near(y[1], 14 / 3.0, 1e-6));
	/* no axes: all of them */
	KTensor all = T(DT_F32, 2, D(1, 1), y);
	ok(OP_ReduceMax, &in, 1, &all, 1, NULL, 0);
	CHECK(y[0] == 7);
	ok(OP_ReduceL2, &in, 1, &all, 1, NULL, 0);
	CHECK(near(y[0], sqrt(1 + 25 + 4 + 49 + 0 + 49.0), 1e-6));
	ok(OP_ReduceLogSum, &in, 1, &all, 1, NULL, 0);
	CHECK(near(y[0], log(22.0), 1e-6));
	/* noop_with_empty_axes: element-wise part only */
	KAttr noop = AI("noop_with_empty_axes", 1);
	KTensor same = T(DT_F32, 2, D(2, 3), y);
	ok(OP_ReduceSumSquare, &in, 1, &same, 1, &noop, 1);
	CHECK(y[1] == 25 && y[3] == 49);
	/* log-sum-exp is stable */
	KTensor big = T(DT_F32, 1, D(2), F32(1000, 1000));
	KTensor one = T(DT_F32, 1, D(1), y);
	ok(OP_ReduceLogSumExp, &big, 1, &one, 1, NULL, 0);
	CHECK(near(y[0], 1000 + log(2.0), 1e-6));
	/* integer product exact; empty set gives the identity */
	int32_t p[1];
	KTensor ip = T(DT_I32, 1, D(4), I32(-3, 5, 7, 2)), ipo = T(DT_I32, 1, D(1), p);
	ok(OP_ReduceProd, &ip, 1, &ipo, 1, NULL, 0);
	CHECK(p[0] == -210);
	ok(OP_ReduceL1, &ip, 1, &ipo, 1, NULL, 0);
	CHECK(p[0] == 17);
	KTensor empty = T(DT_F32, 2, D(2, 0), x);
	KTensor eo = T(DT_F32, 2, D(2, 1), y);
	KAttr ax_1[1] = { AIS("axes", 1, I64(1)) };
	ok(OP_ReduceMin, &empty, 1, &eo, 1, ax_1, 1);
	CHECK(isinf(y[0]) && y[0] > 0);
	ok(OP_ReduceProd, &empty, 1, &eo, 1, ax_1, 1);
	CHECK(y[0] == 1 && y[1] == 1);
	KAttr axo[1] = { AIS("axes", 1, I64(5)) };
	bad(OP_ReduceSum, &in, 1, &all, 1, axo, 1);
	bad(OP_ReduceSum, &in, 1, &ro, 1, NULL, 0);   /* output shape disagrees */

	/* CumSum exclusive + reverse on axis 1 */
	KTensor cs[2] = { in, T(DT_I32, 0, NULL, I32(1)) };
	KTensor co = T(DT_F32, 2, D(2, 3), y);
	ok(OP_CumSum, cs, 2, &co, 1, NULL, 0);
	CHECK(y[0] == 1 && y[1] == 6 && y[2] == 8 && y[5] == 14);
	KAttr er[2] = { AI("exclusive", 1), AI("reverse", 1) };
	ok(OP_CumSum, cs, 2, &co, 1, er, 2);
	CHECK(y[0] == 7 && y[1] == 2 && y[2] == 0 && y[3] == 7 && y[5] == 0);
	cs[1] = T(DT_I32, 0, NULL, I32(2));
	bad(OP_CumSum, cs, 2, &co, 1, NULL, 0);
}

static void test_softmax_topk(void)
{
	float x[] = { 1, 2, 3, 4, 1, 1, 1, 1 }, y[8];
	KTensor in = T(DT_F32, 3, D(2, 2, 2), x), out = T(DT_F32, 3, D(2, 2, 2), y);
	KAttr op13 = AI("_opset", 13);
	ok(OP_Softmax, &in, 1, &out, 1, &op13, 1);   /* along the last axis */
	CHECK(near(y[0], 1 / (1 + exp(1.0)), 1e-6) && near(y[1], 1 / (1 + exp(-1.0)), 1e-6));
	CHECK(near(y[4], 0.5, 1e-6));
	KAttr op11 = AI("_opset", 11);
	ok(OP_Softmax, &in, 1, &out, 1, &op11, 1);   /* rows of 4 from axis 1 */
	double s = exp(1.0) + exp(2.0) + exp(3.0) + exp(4.0);
	CHECK(near(y[0], exp(1.0) / s, 1e-6) && near(y[3], exp(4.0) / s, 1e-6) && near(y[5], 0.25, 1e-6));
	ok(OP_LogSoftmax, &in, 1, &out, 1, &op11, 1);
	CHECK(near(y[2], 3 - log(s), 1e-6));
	ok(OP_Hardmax, &in, 1, &out, 1, &op11, 1);
	CHECK(y[3] == 1 && y[0] == 0 && y[4] == 1 && y[5] == 0 && y[7] == 0);   /* first max wins */
	KAttr a0[2] = { AI("_opset", 13), AI("axis", 0) };
	ok(OP_Softmax, &in, 1, &out, 1, a0, 2);
	CHECK(near(y[0], 0.5, 1e-6) && near(y[3], 1 / (1 + exp(-3.0)), 1e-6));
	int32_t iv[] = { 1 }, io[1];
	KTensor ii = T(DT_I32, 1, D(1), iv), iout = T(DT_I32, 1, D(1), io);
	bad(OP_Softmax, &ii, 1, &iout, 1, NULL, 0);

	/* TopK with ties: lower index first */
	float v[] = { 3, 1, 3, 2, 5 }, tv[3];
	int64_t ti[3];
	KTensor tk[2] = { T(DT_F32, 1, D(5), v), T(DT_I64, 1, D(1), I64(3)) };
	KTensor to[2] = { T(DT_F32, 1, D(3), tv), T(DT_I64, 1, D(3), ti) };
	ok(OP_TopK, tk, 2, to, 2, NULL, 0);
	CHECK(tv[0] == 5 && tv[1] == 3 && tv[2] == 3 && ti[0] == 4 && ti[1] == 0 && ti[2] == 2);
	KAttr sm = AI("largest", 0);
	ok(OP_TopK, tk, 2, to, 2, &sm, 1);
	CHECK(tv[0] == 1 && tv[1] == 2 && tv[2] == 3 && ti[0] == 1 && ti[1] == 3 && ti[2] == 0);
	tk[1] = T(DT_I64, 1, D(1), I64(2));   /* K disagrees with the output dims */
	bad(OP_TopK, tk, 2, to, 2, NULL, 0);
	tk[1] = T(DT_I64, 1, D(1), I64(9));
	bad(OP_TopK, tk, 2, to, 2, NULL, 0);
	/* along axis 0 of a [3,2] matrix */
	int32_t m[] = { 1, 9, 8, 2, 5, 5 }, mv[4];
	int64_t mi[4];
	KAttr ax0 = AI("axis", 0);
	KTensor mk[2] = { T(DT_I32, 2, D(3, 2), m), T(DT_I64, 1, D(1), I64(2)) };
	KTensor mo[2] = { T(DT_I32, 2, D(2, 2), mv), T(DT_I64, 2, D(2, 2), mi) };
	ok(OP_TopK, mk, 2, mo, 2, &ax0, 1);
	CHECK(mv[0] == 8 && mv[1] == 9 && mv[2] == 5 && mv[3] == 5);
	CHECK(mi[0] == 1 && mi[1] == 0 && mi[2] == 2 && mi[3] == 2);
}

int main(void)
{
	test_unary();
	test_clip_cast_dropout();
	test_binary();
	test_variadic_where();
	test_reduce();
	test_softmax_topk();
	if (fails)
		fprintf(stderr, "test_ref_a: %d failure(s)\n", fails);
	else
		printf("test_ref_a: ok\n");
	return fails != 0;
}
