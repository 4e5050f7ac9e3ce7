/* Unit tests of the family-B reference kernels (ir/ref_nn.c, ir/ref_conv.c,
 * ir/ref_rnn.c): small cases derived by hand from the ONNX operator
 * definitions, plus the error paths a hostile model can reach. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kern.h"

static int fails;
static char errbuf[256];

#define CHECK(c) do { if (!(c)) { fails++; fprintf(stderr, "%s:%d: CHECK(%s) failed\n", \
	__FILE__, __LINE__, #c); } } while (0)

#define D(...) ((int64_t[]){__VA_ARGS__})
#define V(...) ((double[]){__VA_ARGS__})
#define NV(...) (sizeof((double[]){__VA_ARGS__}) / sizeof(double))

/* Allocations made for tensors and by kernels, freed at exit. */
static void *blocks[1024];
static int nblocks;

static void *talloc(void *ctx, size_t n)
{
	(void)ctx;
	void *p = calloc(1, n ? n : 1);
	if (p && nblocks < 1024)
		blocks[nblocks++] = p;
	return p;
}

/* A tensor of type dt and the given dims holding vals (converted by dt). */
static KTensor T(int dt, int rank, const int64_t *dims, const double *vals)
{
	KTensor t = { .dt = dt, .rank = rank };
	for (int i = 0; i < rank; i++)
		t.dims[i] = dims[i];
	t.data = talloc(NULL, kt_nbytes(&t));
	for (int64_t i = 0; i < kt_numel(&t); i++)
		dt_store_f(dt, t.data, (size_t)i, vals[i]);
	return t;
}
#define TF(rank, dims, ...) T(DT_F32, rank, dims, V(__VA_ARGS__))
/* An output whose shape the kernel computes and allocates. */
static KTensor O(int dt) { return (KTensor){ .dt = dt }; }
static const KTensor NONE = { .dt = DT_UNDEF };

static KAttr AI(const char *n, int64_t v) { return (KAttr){ .name = n, .kind = AK_INT, .i = v }; }
static KAttr AF(const char *n, double v) { return (KAttr){ .name = n, .kind = AK_FLOAT, .f = v }; }
static KAttr AS(const char *n, const char *v) { return (KAttr){ .name = n, .kind = AK_STRING, .s = v }; }
static KAttr AIS(const char *n, int cnt, const int64_t *v)
{
	return (KAttr){ .name = n, .kind = AK_INTS, .n = cnt, .ints = v };
}
static KAttr ASS(const char *n, int cnt, const char *const *v)
{
	return (KAttr){ .name = n, .kind = AK_STRINGS, .n = cnt, .strs = v };
}

/* Run op's reference kernel; returns its status (error text in errbuf). */
static int run(int op, KTensor *in, int nin, KTensor *out, int nout, KAttr *attr, int nattr)
{
	errbuf[0] = 0;
	KCall c = { .op = op, .nin = nin, .nout = nout, .nattr = nattr, .in = in, .out = out,
	            .attr = attr, .err = errbuf, .errlen = sizeof errbuf, .alloc = talloc };
	return ref_table[op](&c);
}

static void ok(int line, int op, KTensor *in, int nin, KTensor *out, int nout, KAttr *attr,
               int nattr)
{
	if (run(op, in, nin, out, nout, attr, nattr)) {
		fails++;
		fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, line, op_names[op], errbuf);
	}
}
#define OK(op, in, nin, out, nout, at, nat) ok(__LINE__, op, in, nin, out, nout, at, nat)

/* Expect an error whose message contains `frag`. */
static void bad(int line, int op, KTensor *in, int nin, KTensor *out, int nout, KAttr *attr,
                int nattr, const char *frag)
{
	if (!run(op, in, nin, out, nout, attr, nattr) || !strstr(errbuf, frag)) {
		fails++;
		fprintf(stderr, "%s:%d: %s: expected error containing '%s', got '%s'\n", __FILE__,
		        line, op_names[op], frag, errbuf);
	}
}
#define BAD(op, in, nin, out, nout, at, nat, frag) \
	bad(__LINE__, op, in, nin, out, nout, at, nat, frag)

/* Check shape and values of t (absolute tolerance tol). */
static void expect(int line, const KTensor *t, int rank, const int64_t *dims, size_t n,
                   const double *vals, double tol)
{
	int good = t->data && t->rank == rank;
	for (int i = 0; good && i < rank; i++)
		good = t->dims[i] == dims[i];
	if (!good || (size_t)kt_numel(t) != n) {
		fails++;
		fprintf(stderr, "%s:%d: wrong output shape (rank %d)\n", __FILE__, line, t->rank);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		double g = dt_load_f(t->dt, t->data, i);
		if (!(fabs(g - vals[i]) <= tol)) {
			fails++;
			fprintf(stderr, "%s:%d: element %zu is %.9g, expected %.9g\n", __FILE__, line,
			        i, g, vals[i]);
			return;
		}
	}
}
#define EXPECT(t, rank, dims, ...) \
	expect(__LINE__, t, rank, dims, NV(__VA_ARGS__), V(__VA_ARGS__), 1e-5)

static void test_matmul(void)
{
	/* 1-D x 2-D: [1, 2] . [[1, 2], [3, 4]] = [7, 10], the promoted dim dropped */
	KTensor in[8] = { TF(1, D(2), 1, 2), TF(2, D(2, 2), 1, 2, 3, 4) }, out[1] = { O(DT_F32) };
	OK(OP_MatMul, in, 2, out, 1, NULL, 0);
	EXPECT(&out[0], 1, D(2), 7, 10);
	/* batch broadcast: [2,1,2] x [2,2] -> [2,1,2] */
	in[0] = TF(3, D(2, 1, 2), 1, 0, 0, 1);
	out[0] = O(DT_F32);
	OK(OP_MatMul, in, 2, out, 1, NULL, 0);
	EXPECT(&out[0], 3, D(2, 1, 2), 1, 2, 3, 4);
	/* f16 operands accumulate exactly */
	in[0] = T(DT_F16, 2, D(1, 3), V(0.5, 0.25, 2));
	in[1] = T(DT_F16, 2, D(3, 1), V(2, 4, -1));
	out[0] = O(DT_F16);
	OK(OP_MatMul, in, 2, out, 1, NULL, 0);
	EXPECT(&out[0], 2, D(1, 1), 0);
	/* inner dims differ */
	in[1] = TF(2, D(2, 1), 1, 1);
	out[0] = O(DT_F16);
	BAD(OP_MatMul, in, 2, out, 1, NULL, 0, "inner dimensions");
	/* MatMulInteger: ([3,4] - 1) . ([1,2] - [0]) = 2 + 6 = 8 */
	in[0] = T(DT_U8, 2, D(1, 2), V(3, 4));
	in[1] = T(DT_U8, 2, D(2, 1), V(1, 2));
	in[2] = T(DT_U8, 0, NULL, V(1));
	in[3] = T(DT_U8, 1, D(1), V(0));
	out[0] = O(DT_I32);
	OK(OP_MatMulInteger, in, 4, out, 1, NULL, 0);
	EXPECT(&out[0], 2, D(1, 1), 8);
	/* QLinearMatMul: (2 + 4) * 0.5 * 1 / 1 + 10 = 13; y_zp 254 saturates to 255 */
	in[0] = T(DT_U8, 2, D(1, 2), V(2, 4));
	in[1] = TF(0, NULL, 0.5);
	in[2] = T(DT_U8, 0, NULL, V(0));
	in[3] = T(DT_U8, 2, D(2, 1), V(1, 1));
	in[4] = TF(0, NULL, 1);
	in[5] = T(DT_U8, 0, NULL, V(0));
	in[6] = TF(0, NULL, 1);
	in[7] = T(DT_U8, 0, NULL, V(10));
	out[0] = O(DT_U8);
	OK(OP_QLinearMatMul, in, 8, out, 1, NULL, 0);
	EXPECT(&out[0], 2, D(1, 1), 13);
	in[7] = T(DT_U8, 0, NULL, V(254));
	out[0] = O(DT_U8);
	OK(OP_QLinearMatMul, in, 8, out, 1, NULL, 0);
	EXPECT(&out[0], 2, D(1, 1), 255);
}

static void test_gemm(void)
{
	/* A' = [[1,2],[3,4]] given transposed, B' = I given as I, C = [10, 20] per column */
	KTensor in[3] = { TF(2, D(2, 2), 1, 3, 2, 4), TF(2, D(2, 2), 1, 0, 0, 1), TF(1, D(2), 10, 20) };
	KTensor out[1] = { O(DT_F32) };
	KAttr at[4] = { AI("transA", 1), AI("transB", 1), AF("alpha", 2), AF("beta", 0.5) };
	OK(OP_Gemm, in, 3, out, 1, at, 4);
	EXPECT(&out[0], 2, D(2, 2), 2 + 5, 4 + 10, 6 + 5, 8 + 10);
	/* no C */
	out[0] = O(DT_F32);
	OK(OP_Gemm, in, 2, out, 1, at, 2);
	EXPECT(&out[0], 2, D(2, 2), 1, 2, 3, 4);
	in[2] = TF(1, D(3), 1, 2, 3);
	out[0] = O(DT_F32);
	BAD(OP_Gemm, in, 3, out, 1, at, 2, "broadcast");
}

static void test_einsum(void)
{
	KTensor m = TF(2, D(2, 2), 1, 2, 3, 4), in[2] = { m, m }, out[1] = { O(DT_F32) };
	KAttr at[1] = { AS("equation", "ii") };             /* implicit: trace */
	OK(OP_Einsum, in, 1, out, 1, at, 1);
	EXPECT(&out[0], 0, NULL, 5);
	at[0] = AS("equation", "ij->ji");
	out[0] = O(DT_F32);
	OK(OP_Einsum, in, 1, out, 1, at, 1);
	EXPECT(&out[0], 2, D(2, 2), 1, 3, 2, 4);
	at[0] = AS("equation", "ij,jk");                    /* implicit output "ik" */
	out[0] = O(DT_F32);
	OK(OP_Einsum, in, 2, out, 1, at, 1);
	EXPECT(&out[0], 2, D(2, 2), 7, 10, 15, 22);
	at[0] = AS("equation", "ba");                       /* implicit sorts: "ab" */
	out[0] = O(DT_F32);
	OK(OP_Einsum, in, 1, out, 1, at, 1);
	EXPECT(&out[0], 2, D(2, 2), 1, 3, 2, 4);
	/* batched diagonal with ellipsis */
	in[0] = TF(3, D(2, 2, 2), 1, 2, 3, 4, 5, 6, 7, 8);
	at[0] = AS("equation", "...ii->...i");
	out[0] = O(DT_F32);
	OK(OP_Einsum, in, 1, out, 1, at, 1);
	EXPECT(&out[0], 2, D(2, 2), 1, 4, 5, 8);
	/* ellipsis dims broadcast: [2,1,2] . [2,2] summed over j -> [2,1] */
	in[0] = TF(2, D(2, 2), 1, 1, 2, 2);
	in[1] = TF(1, D(2), 3, 4);
	at[0] = AS("equation", "...j,j->...");
	out[0] = O(DT_F32);
	OK(OP_Einsum, in, 2, out, 1, at, 1);
	EXPECT(&out[0], 1, D(2), 7, 14);
	in[0] = in[1];
	at[0] = AS("equation", "i,i");
	out[0] = O(DT_F32);
	OK(OP_Einsum, in, 2, out, 1, at, 1);
	EXPECT(&out[0], 0, NULL, 25);
	at[0] = AS("equation", "i$j");
	out[0] = O(DT_F32);
	BAD(OP_Einsum, in, 1, out, 1, at, 1, "bad character");
	at[0] = AS("equation", "ijk");
	out[0] = O(DT_F32);
	BAD(OP_Einsum, in, 1, out, 1, at, 1, "subscripts");
}

static void test_det(void)
{
	KTensor in[1] = { TF(3, D(2, 2, 2), 1, 2, 3, 4, 2, 0, 0, 3) }, out[1] = { O(DT_F32) };
	OK(OP_Det, in, 1, out, 1, NULL, 0);
	EXPECT(&out[0], 1, D(2), -2, 6);
	/* needs a pivot swap: permutation matrix times diag -> -2 */
	in[0] = TF(2, D(3, 3), 0, 1, 0, 1, 0, 0, 0, 0, 2);
	out[0] = O(DT_F32);
	OK(OP_Det, in, 1, out, 1, NULL, 0);
	EXPECT(&out[0], 0, NULL, -2);
}

static void test_conv(void)
{
	/* 3x3 input 1..9, 2x2 ones kernel: window sums */
	KTensor x = TF(4, D(1, 1, 3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9);
	KTensor in[9] = { x, TF(4, D(1, 1, 2, 2), 1, 1, 1, 1) }, out[1] = { O(DT_F32) };
	OK(OP_Conv, in, 2, out, 1, NULL, 0);
	EXPECT(&out[0], 4, D(1, 1, 2, 2), 12, 16, 24, 28);
	/* SAME_UPPER, stride 2: out 2x2, total pad 1 put at the end; bias 100 */
	KAttr at[3] = { AS("auto_pad", "SAME_UPPER"), AIS("strides", 2, D(2, 2)) };
	in[2] = TF(1, D(1), 100);
	out[0] = O(DT_F32);
	OK(OP_Conv, in, 3, out, 1, at, 2);
	EXPECT(&out[0], 4, D(1, 1, 2, 2), 112, 109, 115, 109);
	/* explicit pads [1,1,0,0] (top/left), dilation 2: each tap 2 apart */
	at[0] = AIS("pads", 4, D(1, 1, 0, 0));
	at[1] = AIS("dilations", 2, D(2, 2));
	out[0] = O(DT_F32);
	OK(OP_Conv, in, 2, out, 1, at, 2);
	/* padded 4x4 (zero row/col first), dilated 2x2 taps over a 3x3 span -> 2x2 out */
	EXPECT(&out[0], 4, D(1, 1, 2, 2), 0 + 0 + 0 + 5, 0 + 0 + 4 + 6, 0 + 2 + 0 + 8,
	       1 + 3 + 7 + 9);
	/* depthwise (group 2), 1x1 kernels scale by 2 and -1 */
	in[0] = TF(3, D(1, 2, 2), 1, 2, 3, 4);
	in[1] = TF(3, D(2, 1, 1), 2, -1);
	at[0] = AI("group", 2);
	out[0] = O(DT_F32);
	OK(OP_Conv, in, 2, out, 1, at, 1);
	EXPECT(&out[0], 3, D(1, 2, 2), 2, 4, -3, -4);
	/* ConvInteger: (x - 1) * (w - 0), x_zero_point 1 */
	in[0] = T(DT_U8, 3, D(1, 1, 3), V(1, 2, 3));
	in[1] = T(DT_U8, 3, D(1, 1, 2), V(1, 1));
	in[2] = T(DT_U8, 0, NULL, V(1));
	out[0] = O(DT_I32);
	OK(OP_ConvInteger, in, 3, out, 1, NULL, 0);
	EXPECT(&out[0], 3, D(1, 1, 2), 1, 3);
	/* preallocated output with the wrong dims is refused, not overrun */
	in[0] = x;
	in[1] = TF(4, D(1, 1, 2, 2), 1, 1, 1, 1);
	out[0] = T(DT_F32, 4, D(1, 1, 3, 3), V(0, 0, 0, 0, 0, 0, 0, 0, 0));
	BAD(OP_Conv, in, 2, out, 1, NULL, 0, "dim");
	/* W channels do not match X */
	in[1] = TF(4, D(1, 2, 1, 1), 1, 1);
	out[0] = O(DT_F32);
	BAD(OP_Conv, in, 2, out, 1, NULL, 0, "channels");
	/* kernel larger than the input */
	in[1] = TF(4, D(1, 1, 4, 1), 1, 1, 1, 1);
	out[0] = O(DT_F32);
	BAD(OP_Conv, in, 2, out, 1, NULL, 0, "exceeds");
}

static void test_convtranspose(void)
{
	/* x = [1, 2], w = [1, 1, 1], stride 2: [1,1,1,0,0] + [0,0,2,2,2] */
	KTensor in[3] = { TF(3, D(1, 1, 2), 1, 2), TF(3, D(1, 1, 3), 1, 1, 1) }, out[1] = { O(DT_F32) };
	KAttr at[2] = { AIS("strides", 1, D(2)) };
	OK(OP_ConvTranspose, in, 2, out, 1, at, 1);
	EXPECT(&out[0], 3, D(1, 1, 5), 1, 1, 3, 2, 2);
	/* output_shape 6: total padding -1 -> one zero appended at the end */
	at[1] = AIS("output_shape", 1, D(6));
	out[0] = O(DT_F32);
	OK(OP_ConvTranspose, in, 2, out, 1, at, 2);
	EXPECT(&out[0], 3, D(1, 1, 6), 1, 1, 3, 2, 2, 0);
	/* pads [1, 1] crop one each side; output_padding adds one at the end */
	at[1] = AIS("pads", 2, D(1, 1));
	out[0] = O(DT_F32);
	OK(OP_ConvTranspose, in, 2, out, 1, at, 2);
	EXPECT(&out[0], 3, D(1, 1, 3), 1, 3, 2);
	at[1] = AIS("output_padding", 1, D(1));
	out[0] = O(DT_F32);
	OK(OP_ConvTranspose, in, 2, out, 1, at, 2);
	EXPECT(&out[0], 3, D(1, 1, 6), 1, 1, 3, 2, 2, 0);
	/* group 2 with M/group = 1 and a bias */
	in[0] = TF(3, D(1, 2, 1), 1, 2);
	in[1] = TF(3, D(2, 1, 2), 1, 2, 3, 4);
	in[2] = TF(1, D(2), 10, 20);
	at[0] = AI("group", 2);
	out[0] = O(DT_F32);
	OK(OP_ConvTranspose, in, 3, out, 1, at, 1);
	EXPECT(&out[0], 3, D(1, 2, 2), 11, 12, 26, 28);
}

static void test_pool(void)
{
	KTensor x = TF(4, D(1, 1, 4, 4), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
	KTensor in[3] = { x }, out[2] = { O(DT_F32), O(DT_I64) };
	KAttr at[4] = { AIS("kernel_shape", 2, D(2, 2)), AIS("strides", 2, D(2, 2)) };
	OK(OP_MaxPool, in, 1, out, 2, at, 2);
	EXPECT(&out[0], 4, D(1, 1, 2, 2), 6, 8, 14, 16);
	EXPECT(&out[1], 4, D(1, 1, 2, 2), 5, 7, 13, 15);
	/* column-major indices: (h, w) -> w * H + h */
	at[2] = AI("storage_order", 1);
	out[0] = O(DT_F32);
	out[1] = O(DT_I64);
	OK(OP_MaxPool, in, 1, out, 2, at, 3);
	EXPECT(&out[1], 4, D(1, 1, 2, 2), 5, 13, 7, 15);
	/* indices include the batch/channel offset */
	in[0] = TF(3, D(2, 1, 2), 1, 3, 4, 2);
	at[0] = AIS("kernel_shape", 1, D(2));
	out[0] = O(DT_F32);
	out[1] = O(DT_I64);
	OK(OP_MaxPool, in, 1, out, 2, at, 1);
	EXPECT(&out[1], 3, D(2, 1, 1), 1, 2);
	/* AveragePool 1-D, pads 1/1: count_include_pad 0 vs 1 */
	in[0] = TF(3, D(1, 1, 3), 1, 2, 3);
	at[1] = AIS("pads", 2, D(1, 1));
	out[0] = O(DT_F32);
	OK(OP_AveragePool, in, 1, out, 1, at, 2);
	EXPECT(&out[0], 3, D(1, 1, 4), 1, 1.5, 2.5, 3);
	at[2] = AI("count_include_pad", 1);
	out[0] = O(DT_F32);
	OK(OP_AveragePool, in, 1, out, 1, at, 3);
	EXPECT(&out[0], 3, D(1, 1, 4), 0.5, 1.5, 2.5, 1.5);
	/* ceil_mode: 5 wide, kernel 2 stride 2 -> 3 windows, last one partial */
	in[0] = TF(3, D(1, 1, 5), 1, 2, 3, 4, 5);
	at[1] = AIS("strides", 1, D(2));
	at[2] = AI("ceil_mode", 1);
	out[0] = O(DT_F32);
	OK(OP_AveragePool, in, 1, out, 1, at, 3);
	EXPECT(&out[0], 3, D(1, 1, 3), 1.5, 3.5, 5);
	/* LpPool p=2 over [3, 4] -> 5 */
	in[0] = TF(3, D(1, 1, 2), 3, 4);
	at[1] = AI("p", 2);
	out[0] = O(DT_F32);
	OK(OP_LpPool, in, 1, out, 1, at, 2);
	EXPECT(&out[0], 3, D(1, 1, 1), 5);
	/* global pools */
	in[0] = TF(4, D(1, 2, 1, 2), 1, 3, -2, 6);
	out[0] = O(DT_F32);
	OK(OP_GlobalAveragePool, in, 1, out, 1, NULL, 0);
	EXPECT(&out[0], 4, D(1, 2, 1, 1), 2, 2);
	out[0] = O(DT_F32);
	OK(OP_GlobalMaxPool, in, 1, out, 1, NULL, 0);
	EXPECT(&out[0], 4, D(1, 2, 1, 1), 3, 6);
	/* missing kernel_shape */
	out[0] = O(DT_F32);
	BAD(OP_MaxPool, in, 1, out, 1, NULL, 0, "kernel_shape");
}

static void test_unpool_roi(void)
{
	/* MaxUnpool: inferred width (2-1)*2+2 = 4, values at flat 1 and 2 */
	KTensor in[3] = { TF(4, D(1, 1, 1, 2), 5, 6), T(DT_I64, 4, D(1, 1, 1, 2), V(1, 2)) };
	KTensor out[1] = { O(DT_F32) };
	KAttr at[3] = { AIS("kernel_shape", 2, D(1, 2)), AIS("strides", 2, D(1, 2)) };
	OK(OP_MaxUnpool, in, 2, out, 1, at, 2);
	EXPECT(&out[0], 4, D(1, 1, 1, 4), 0, 5, 6, 0);
	/* output_shape extends with zeros at the end */
	in[2] = T(DT_I64, 1, D(4), V(1, 1, 2, 5));
	out[0] = O(DT_F32);
	OK(OP_MaxUnpool, in, 3, out, 1, at, 2);
	EXPECT(&out[0], 4, D(1, 1, 2, 5), 0, 5, 6, 0, 0, 0, 0, 0, 0, 0);
	in[1] = T(DT_I64, 4, D(1, 1, 1, 2), V(1, 4));
	out[0] = O(DT_F32);
	BAD(OP_MaxUnpool, in, 2, out, 1, at, 2, "out of range");
	/* MaxRoiPool: ROI (0,0)-(2,2) over 1..9 in one bin -> 9 */
	in[0] = TF(4, D(1, 1, 3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9);
	in[1] = TF(2, D(1, 5), 0, 0, 0, 2, 2);
	at[0] = AIS("pooled_shape", 2, D(1, 1));
	out[0] = O(DT_F32);
	OK(OP_MaxRoiPool, in, 2, out, 1, at, 1);
	EXPECT(&out[0], 4, D(1, 1, 1, 1), 9);
	in[1] = TF(2, D(1, 5), 3, 0, 0, 2, 2);
	out[0] = O(DT_F32);
	BAD(OP_MaxRoiPool, in, 2, out, 1, at, 1, "batch index");
	/* RoiAlign half_pixel: ROI [0,0,2,2] -> [-0.5,1.5]; one sample at (0.5, 0.5) */
	in[0] = TF(4, D(1, 1, 2, 2), 1, 2, 3, 4);
	in[1] = TF(2, D(1, 4), 0, 0, 2, 2);
	in[2] = T(DT_I64, 1, D(1), V(0));
	at[0] = AI("sampling_ratio", 1);
	out[0] = O(DT_F32);
	OK(OP_RoiAlign, in, 3, out, 1, at, 1);
	EXPECT(&out[0], 4, D(1, 1, 1, 1), 2.5);
	in[2] = T(DT_I64, 1, D(1), V(7));
	out[0] = O(DT_F32);
	BAD(OP_RoiAlign, in, 3, out, 1, at, 1, "batch index");
}

static void test_norms(void)
{
	/* BatchNorm inference: (x - mean) / sqrt(var + eps) * scale + B, eps 0 */
	KTensor in[5] = { TF(3, D(1, 2, 2), 1, 3, 4, 8), TF(1, D(2), 2, 1), TF(1, D(2), 0, 1),
	                  TF(1, D(2), 1, 4), TF(1, D(2), 4, 16) };
	KTensor out[3] = { O(DT_F32), O(DT_F32), O(DT_F32) };
	KAttr at[3] = { AF("epsilon", 0) };
	OK(OP_BatchNormalization, in, 5, out, 1, at, 1);
	EXPECT(&out[0], 3, D(1, 2, 2), 0, 2, 1, 2);
	/* training mode: batch stats mean 2 / 6, var 1 / 4; running = 0.5 mixes */
	at[1] = AI("training_mode", 1);
	at[2] = AF("momentum", 0.5);
	out[0] = O(DT_F32);
	OK(OP_BatchNormalization, in, 5, out, 3, at, 3);
	EXPECT(&out[0], 3, D(1, 2, 2), -2, 2, 0, 2);
	EXPECT(&out[1], 1, D(2), 1.5, 5);
	EXPECT(&out[2], 1, D(2), 2.5, 10);
	/* InstanceNorm: per channel [1,3] -> [-1, 1] * scale + B (eps 0) */
	in[1] = TF(1, D(2), 1, 2);
	in[2] = TF(1, D(2), 0, 10);
	out[0] = O(DT_F32);
	OK(OP_InstanceNormalization, in, 3, out, 1, at, 1);
	EXPECT(&out[0], 3, D(1, 2, 2), -1, 1, 8, 12);
	/* GroupNorm, one group over all four values: mean 4, var 6.5 */
	KAttr ga[2] = { AF("epsilon", 0), AI("num_groups", 1) };
	out[0] = O(DT_F32);
	OK(OP_GroupNormalization, in, 3, out, 1, ga, 2);
	double s = 1 / sqrt(6.5);
	EXPECT(&out[0], 3, D(1, 2, 2), -3 * s, -1 * s, 10 + 0 * s, 10 + 8 * s);
	ga[1] = AI("num_groups", 3);
	out[0] = O(DT_F32);
	BAD(OP_GroupNormalization, in, 3, out, 1, ga, 2, "num_groups");
	/* LayerNorm with Mean / InvStdDev: rows [1,3] and [4,8] */
	in[1] = TF(1, D(2), 1, 1);
	in[2] = TF(1, D(2), 0, 0);
	in[0] = TF(2, D(2, 2), 1, 3, 4, 8);
	out[0] = O(DT_F32);
	out[1] = O(DT_F32);
	out[2] = O(DT_F32);
	OK(OP_LayerNormalization, in, 3, out, 3, at, 1);
	EXPECT(&out[0], 2, D(2, 2), -1, 1, -1, 1);
	EXPECT(&out[1], 2, D(2, 1), 2, 6);
	EXPECT(&out[2], 2, D(2, 1), 1, 0.5);
	/* LpNormalization */
	in[0] = TF(1, D(2), 3, 4);
	KAttr la[1] = { AI("p", 1) };
	out[0] = O(DT_F32);
	OK(OP_LpNormalization, in, 1, out, 1, NULL, 0);
	EXPECT(&out[0], 1, D(2), 0.6, 0.8);
	out[0] = O(DT_F32);
	OK(OP_LpNormalization, in, 1, out, 1, la, 1);
	EXPECT(&out[0], 1, D(2), 3.0 / 7, 4.0 / 7);
	/* LRN size 1, alpha 1, beta 1, bias 1: x / (1 + x^2) */
	in[0] = TF(4, D(1, 2, 1, 1), 2, 1);
	KAttr ra[4] = { AI("size", 1), AF("alpha", 1), AF("beta", 1), AF("bias", 1) };
	out[0] = O(DT_F32);
	OK(OP_LRN, in, 1, out, 1, ra, 4);
	EXPECT(&out[0], 4, D(1, 2, 1, 1), 0.4, 0.5);
	/* LRN size 3 over 2 channels: both see 4 + 1 */
	ra[0] = AI("size", 3);
	out[0] = O(DT_F32);
	OK(OP_LRN, in, 1, out, 1, ra, 4);
	EXPECT(&out[0], 4, D(1, 2, 1, 1), 2 / (1 + 5.0 / 3), 1 / (1 + 5.0 / 3));
	/* MVN over default axes [0,2,3]: [1, 3] -> [-1, 1] */
	in[0] = TF(4, D(1, 1, 1, 2), 1, 3);
	out[0] = O(DT_F32);
	OK(OP_MeanVarianceNormalization, in, 1, out, 1, NULL, 0);
	EXPECT(&out[0], 4, D(1, 1, 1, 2), -1, 1);
}

static void test_rnn(void)
{
	/* RNN, H = I = 1, W = R = 1, Relu: h = x + h_prev over x = 1, 2, 3 */
	static const char *const relu[1] = { "Relu" };
	KTensor in[8] = { TF(3, D(3, 1, 1), 1, 2, 3), TF(3, D(1, 1, 1), 1), TF(3, D(1, 1, 1), 1) };
	KTensor out[3] = { O(DT_F32), O(DT_F32) };
	KAttr at[3] = { ASS("activations", 1, relu), AI("hidden_size", 1) };
	OK(OP_RNN, in, 3, out, 2, at, 2);
	EXPECT(&out[0], 4, D(3, 1, 1, 1), 1, 3, 6);
	EXPECT(&out[1], 3, D(1, 1, 1), 6);
	/* reverse: t = 2, 1, 0 -> 3, 5, 6, written at their own time steps */
	at[2] = AS("direction", "reverse");
	out[0] = O(DT_F32);
	out[1] = O(DT_F32);
	OK(OP_RNN, in, 3, out, 2, at, 3);
	EXPECT(&out[0], 4, D(3, 1, 1, 1), 6, 5, 3);
	/* sequence_lens 2 with an omitted Y: Y_h = 1 + 2 */
	in[3] = NONE;
	in[4] = T(DT_I32, 1, D(1), V(2));
	out[0] = NONE;
	out[1] = O(DT_F32);
	OK(OP_RNN, in, 5, out, 2, at, 2);
	EXPECT(&out[1], 3, D(1, 1, 1), 3);
	in[4] = T(DT_I32, 1, D(1), V(4));
	out[1] = O(DT_F32);
	BAD(OP_RNN, in, 5, out, 2, at, 2, "sequence_lens");
	/* GRU with zero weights: z = r = 0.5, candidate tanh(0) = 0 -> h halves */
	in[0] = TF(3, D(2, 1, 1), 5, 7);
	in[1] = TF(3, D(1, 3, 1), 0, 0, 0);
	in[2] = TF(3, D(1, 3, 1), 0, 0, 0);
	in[3] = NONE;
	in[4] = NONE;
	in[5] = TF(3, D(1, 1, 1), 1);
	out[0] = O(DT_F32);
	out[1] = O(DT_F32);
	OK(OP_GRU, in, 6, out, 2, NULL, 0);
	EXPECT(&out[0], 4, D(2, 1, 1, 1), 0.5, 0.25);
	/* LSTM with zero weights: gates 0.5, c = 0.5 * c_prev, h = 0.5 * tanh(c) */
	in[1] = TF(3, D(1, 4, 1), 0, 0, 0, 0);
	in[2] = TF(3, D(1, 4, 1), 0, 0, 0, 0);
	in[6] = TF(3, D(1, 1, 1), 1);
	out[0] = O(DT_F32);
	out[1] = O(DT_F32);
	out[2] = O(DT_F32);
	OK(OP_LSTM, in, 7, out, 3, NULL, 0);
	EXPECT(&out[0], 4, D(2, 1, 1, 1), 0.5 * tanh(0.5), 0.5 * tanh(0.25));
	EXPECT(&out[2], 3, D(1, 1, 1), 0.25);
	/* peepholes P = [Pi, Po, Pf] = [0, 0, 0] change nothing; a wrong P size is refused */
	in[7] = TF(1, D(2), 0, 0);
	out[0] = O(DT_F32);
	BAD(OP_LSTM, in, 8, out, 1, NULL, 0, "P has");
	KAttr da[1] = { AS("direction", "bidirectional") };
	out[0] = O(DT_F32);
	BAD(OP_LSTM, in, 3, out, 1, da, 1, "num_directions");
}

int main(void)
{
	test_matmul();
	test_gemm();
	test_einsum();
	test_det();
	test_conv();
	test_convtranspose();
	test_pool();
	test_unpool_roi();
	test_norms();
	test_rnn();
	for (int i = 0; i < nblocks; i++)
		free(blocks[i]);
	if (fails)
		fprintf(stderr, "test_ref_b: %d failure(s)\n", fails);
	else
		printf("test_ref_b: ok\n");
	return fails != 0;
}
