/* Code generator end to end: small graphs built with the IR builder are
 * compiled to a temporary model.so, loaded with libvibeert, run, and
 * compared against the reference evaluator (ir_eval) or hand-computed
 * values: broadcasting, reductions, matmul, symbolic dims, a CALL kernel,
 * run-time symbols, index checks, and the single exported symbol. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "codegen/codegen.h"
#include "runtime/vibee.h"

static int fails;
static char dir[256];

#define CHECK(c, ...) do { if (!(c)) { fails++; fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static Shape shp(int rank, ...)
{
	Shape s = {.rank = rank};
	va_list ap;
	va_start(ap, rank);
	for (int i = 0; i < rank; i++)
		s.d[i] = va_arg(ap, int);   /* callers pass int literals */
	va_end(ap);
	return s;
}

/* deterministic pseudo-random floats in [-2, 2) */
static void fill(float *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (float)((seed >> 8) % 4096) / 1024.0f - 2.0f;
	}
}

static size_t numel(const KTensor *t)
{
	size_t n = 1;
	for (int i = 0; i < t->rank; i++)
		n *= (size_t)t->dims[i];
	return n;
}

/* Compile g to dir/name.so and load it. */
static vibee_handle *build(Graph *g, const char *name, int opt)
{
	Diag d = {0};
	if (ir_infer(g, &d)) {
		CHECK(0, "%s: infer: %s", name, d.msg);
		return NULL;
	}
	char path[512], err[512];
	snprintf(path, sizeof path, "%s/%s.so", dir, name);
	CgOptions o = {.out = path, .emit = CG_EMIT_SO, .opt = opt};
	if (cg_compile(g, &o, &d)) {
		CHECK(0, "%s: compile: %s", name, d.msg);
		return NULL;
	}
	vibee_handle *h;
	if (vibee_load(path, &h, err, sizeof err)) {
		CHECK(0, "%s: load: %s", name, err);
		return NULL;
	}
	return h;
}

/* Run the model and ir_eval on the same inputs; compare all outputs. */
static void run_vs_eval(Graph *g, const char *name, const KTensor *in, int opt, double tol)
{
	vibee_handle *h = build(g, name, opt);
	if (!h)
		return;
	const vibee_model_desc *md = vibee_desc(h);
	vibee_tensor vin[8], vout[8];
	KTensor ref[8];
	memset(ref, 0, sizeof ref);
	for (int i = 0; i < md->ninputs; i++) {
		vin[i].dtype = in[i].dt;
		vin[i].rank = in[i].rank;
		memcpy(vin[i].dims, in[i].dims, sizeof vin[i].dims);
		vin[i].data = in[i].data;
	}
	Diag d = {0};
	if (ir_eval(g, in, ref, &d)) {
		CHECK(0, "%s: ir_eval: %s", name, d.msg);
		vibee_unload(h);
		return;
	}
	char err[512];
	vibee_options op = {.nthreads = 2};
	vibee_context *c;
	if (vibee_context_create(h, &op, &c, err, sizeof err)) {
		CHECK(0, "%s: create: %s", name, err);
	} else {
		if (vibee_context_run(c, vin, vout, err, sizeof err)) {
			CHECK(0, "%s: run: %s", name, err);
		} else {
			for (int o = 0; o < md->noutputs; o++) {
				CHECK(vout[o].rank == ref[o].rank, "%s: output rank", name);
				for (int k = 0; k < ref[o].rank; k++)
					CHECK(vout[o].dims[k] == ref[o].dims[k], "%s: dim %d", name, k);
				size_t n = numel(&ref[o]);
				double worst = 0;
				for (size_t i = 0; i < n; i++) {
					double a = dt_load_f(vout[o].dtype, vout[o].data, i);
					double b = dt_load_f(ref[o].dt, ref[o].data, i);
					double e = fabs(a - b) / (1 + fabs(b));
					if (e > worst || isnan(a) != isnan(b))
						worst = isnan(a) != isnan(b) ? INFINITY : e;
				}
				CHECK(worst <= tol, "%s: output %d differs from ir_eval by %g", name, o, worst);
			}
		}
		vibee_context_destroy(c);
	}
	for (int o = 0; o < md->noutputs; o++)
		free(ref[o].data);
	vibee_unload(h);
}

/* First output of node n (read after ir_node returns: it may move g->node). */
static uint32_t out0(Graph *g, uint32_t n) { return g->node[n].out[0]; }

static KTensor kt(int dt, int rank, const int64_t *dims, void *data)
{
	KTensor t = {.dt = dt, .rank = rank, .data = data};
	memcpy(t.dims, dims, (size_t)rank * sizeof *dims);
	return t;
}

/* (x[2,3,4] + b[3,1]) -> Relu -> * s[4] -> Sub(., scalar const) */
static void test_broadcast(void)
{
	for (int opt = 0; opt <= 3; opt += 3) {
		Graph *g = ir_graph_new("bcast");
		Shape s1 = shp(3, 2, 3, 4), s2 = shp(2, 3, 1), s3 = shp(1, 4), s0 = shp(0);
		uint32_t x = ir_input(g, "x", DT_F32, &s1), b = ir_input(g, "b", DT_F32, &s2);
		uint32_t sc = ir_input(g, "s", DT_F32, &s3);
		float two = 2.0f;
		uint32_t k2 = ir_const_copy(g, "two", DT_F32, &s0, &two);
		uint32_t a = out0(g, ir_node(g, OP_Add, "add", 2, (uint32_t[]){x, b}, 1));
		uint32_t r = out0(g, ir_node(g, OP_Relu, "relu", 1, &a, 1));
		uint32_t m = out0(g, ir_node(g, OP_Mul, "mul", 2, (uint32_t[]){r, sc}, 1));
		uint32_t y = out0(g, ir_node(g, OP_Sub, "sub", 2, (uint32_t[]){m, k2}, 1));
		ir_graph_output(g, y);
		float xv[24], bv[3], sv[4];
		fill(xv, 24, 1);
		fill(bv, 3, 2);
		fill(sv, 4, 3);
		KTensor in[3] = {kt(DT_F32, 3, (int64_t[]){2, 3, 4}, xv), kt(DT_F32, 2, (int64_t[]){3, 1}, bv),
		                 kt(DT_F32, 1, (int64_t[]){4}, sv)};
		run_vs_eval(g, opt ? "bcast3" : "bcast0", in, opt, 1e-6);
		ir_graph_free(g);
	}
}

/* ReduceSum over axis 1 (axes as a constant input), ReduceMax, and
 * Softmax along the last axis of a symbolic [N,5] input, run with two Ns. */
static void test_reduce_softmax_symbolic(void)
{
	Graph *g = ir_graph_new("red");
	Shape s = {.rank = 2, .d = {ir_dim_sym(g, "N"), 5}};
	uint32_t x = ir_input(g, "x", DT_F32, &s);
	Shape s1 = shp(1, 1);
	int64_t ax = 1;
	uint32_t axes = ir_const_copy(g, "axes", DT_I64, &s1, &ax);
	uint32_t nr = ir_node(g, OP_ReduceSum, "rsum", 2, (uint32_t[]){x, axes}, 1);
	Attr *kd = ir_attr_add(g, nr, "keepdims", AK_INT);
	kd->i = 0;
	ir_graph_output(g, out0(g, nr));
	uint32_t ns = ir_node(g, OP_Softmax, "sm", 1, &x, 1);
	ir_graph_output(g, g->node[ns].out[0]);
	uint32_t nm = ir_node(g, OP_ReduceMax, "rmax", 1, &x, 1);   /* all axes, keepdims */
	ir_graph_output(g, g->node[nm].out[0]);
	float xv[35];
	fill(xv, 35, 7);
	for (int64_t n = 3; n <= 7; n += 4) {
		KTensor in = kt(DT_F32, 2, (int64_t[]){n, 5}, xv);
		run_vs_eval(g, n == 3 ? "red3" : "red7", &in, 3, 1e-5);
	}
	/* one context, two shapes in a row */
	vibee_handle *h = build(g, "red_sym", 3);
	if (h) {
		vibee_context *c;
		char err[512];
		vibee_tensor vin = {.dtype = DT_F32, .rank = 2, .dims = {7, 5}, .data = xv}, vout[3];
		CHECK(vibee_context_create(h, NULL, &c, err, sizeof err) == 0, "create: %s", err);
		CHECK(vibee_context_run(c, &vin, vout, err, sizeof err) == 0, "run: %s", err);
		CHECK(vout[0].rank == 1 && vout[0].dims[0] == 7, "rsum dims for N=7");
		vin.dims[0] = 2;
		CHECK(vibee_context_run(c, &vin, vout, err, sizeof err) == 0, "run: %s", err);
		CHECK(vout[0].rank == 1 && vout[0].dims[0] == 2, "rsum dims for N=2");
		for (int i = 0; i < 2; i++) {
			float sum = 0;
			for (int j = 0; j < 5; j++)
				sum += xv[i * 5 + j];
			CHECK(fabsf(((float *)vout[0].data)[i] - sum) < 1e-5f, "rsum row %d", i);
		}
		CHECK(vout[2].rank == 2 && vout[2].dims[0] == 1 && vout[2].dims[1] == 1, "rmax dims");
		float mx = -INFINITY;
		for (int i = 0; i < 10; i++)
			mx = xv[i] > mx ? xv[i] : mx;
		CHECK(((float *)vout[2].data)[0] == mx, "rmax over N=2 rows");
		vibee_context_destroy(c);
		vibee_unload(h);
	}
	ir_graph_free(g);
}

/* MatMul [2,5,7] x [7,3] (batched, broadcast B), and Gemm with transB and bias. */
static void test_matmul(void)
{
	Graph *g = ir_graph_new("mm");
	Shape sa = shp(3, 2, 5, 7), sb = shp(2, 7, 3), sw = shp(2, 4, 3), sbias = shp(1, 4);
	uint32_t a = ir_input(g, "a", DT_F32, &sa), b = ir_input(g, "b", DT_F32, &sb);
	float wv[12], bias[4];
	fill(wv, 12, 11);
	fill(bias, 4, 12);
	uint32_t w = ir_const_copy(g, "w", DT_F32, &sw, wv), bi = ir_const_copy(g, "bias", DT_F32, &sbias, bias);
	uint32_t mm = out0(g, ir_node(g, OP_MatMul, "mm", 2, (uint32_t[]){a, b}, 1));
	ir_graph_output(g, mm);
	Shape s2 = shp(1, 2);
	int64_t shape2[2] = {10, 3};
	uint32_t sh = ir_const_copy(g, "shape", DT_I64, &s2, shape2);
	uint32_t flat = out0(g, ir_node(g, OP_Reshape, "flat", 2, (uint32_t[]){mm, sh}, 1));
	uint32_t ng = ir_node(g, OP_Gemm, "gemm", 3, (uint32_t[]){flat, w, bi}, 1);
	ir_attr_add(g, ng, "transB", AK_INT)->i = 1;
	ir_attr_add(g, ng, "alpha", AK_FLOAT)->f = 0.5;
	ir_graph_output(g, g->node[ng].out[0]);
	float av[70], bv[21];
	fill(av, 70, 5);
	fill(bv, 21, 6);
	KTensor in[2] = {kt(DT_F32, 3, (int64_t[]){2, 5, 7}, av), kt(DT_F32, 2, (int64_t[]){7, 3}, bv)};
	run_vs_eval(g, "mm", in, 3, 1e-5);
	ir_graph_free(g);
}

/* A CALL kernel (CumSum) between loop kernels; Transpose, Concat, Slice, Gather. */
static void test_call_and_movement(void)
{
	Graph *g = ir_graph_new("mv");
	Shape sx = shp(2, 3, 4), s0 = shp(0), si = shp(2, 2, 2), s1 = shp(1, 1);
	uint32_t x = ir_input(g, "x", DT_F32, &sx);
	int64_t axis = 1, idx[4] = {2, -1, 0, 1}, st = 1, en = 3;
	uint32_t ca = ir_const_copy(g, "axis", DT_I64, &s0, &axis);
	uint32_t cs = out0(g, ir_node(g, OP_CumSum, "cumsum", 2, (uint32_t[]){x, ca}, 1));
	uint32_t tr = out0(g, ir_node(g, OP_Transpose, "tr", 1, &cs, 1));    /* [4,3] */
	uint32_t cc = ir_node(g, OP_Concat, "cat", 2, (uint32_t[]){tr, tr}, 1);
	ir_attr_add(g, cc, "axis", AK_INT)->i = 1;                                    /* [4,6] */
	uint32_t ci = ir_const_copy(g, "idx", DT_I64, &si, idx);
	uint32_t ga = out0(g, ir_node(g, OP_Gather, "gather", 2, (uint32_t[]){g->node[cc].out[0], ci}, 1));
	uint32_t cst = ir_const_copy(g, "st", DT_I64, &s1, &st), cen = ir_const_copy(g, "en", DT_I64, &s1, &en);
	uint32_t sl = out0(g, ir_node(g, OP_Slice, "slice", 3, (uint32_t[]){ga, cst, cen}, 1));
	ir_graph_output(g, sl);
	ir_graph_output(g, cs);
	float xv[12];
	fill(xv, 12, 9);
	KTensor in = kt(DT_F32, 2, (int64_t[]){3, 4}, xv);
	run_vs_eval(g, "mv", &in, 3, 1e-6);
	ir_graph_free(g);
}

/* NonZero makes a run-time symbol; a loop kernel (Cast) consumes it. */
static void test_runtime_symbol(void)
{
	Graph *g = ir_graph_new("nz");
	Shape sx = shp(1, 6);
	uint32_t x = ir_input(g, "x", DT_F32, &sx);
	uint32_t nz = out0(g, ir_node(g, OP_NonZero, "nz", 1, &x, 1));
	uint32_t nc = ir_node(g, OP_Cast, "cast", 1, &nz, 1);
	ir_attr_add(g, nc, "to", AK_INT)->i = DT_F32;
	ir_graph_output(g, g->node[nc].out[0]);
	vibee_handle *h = build(g, "nz", 3);
	if (h) {
		float xv[6] = {0, 3, 0, -1, 2, 0};
		vibee_tensor vin = {.dtype = DT_F32, .rank = 1, .dims = {6}, .data = xv}, vout;
		vibee_context *c;
		char err[512];
		CHECK(vibee_context_create(h, NULL, &c, err, sizeof err) == 0, "create: %s", err);
		for (int pass = 0; pass < 2; pass++) {
			if (pass)
				xv[0] = 5;
			CHECK(vibee_context_run(c, &vin, &vout, err, sizeof err) == 0, "run: %s", err);
			int64_t want = pass ? 4 : 3;
			CHECK(vout.rank == 2 && vout.dims[0] == 1 && vout.dims[1] == want,
			      "nonzero dims [%lld,%lld]", (long long)vout.dims[0], (long long)vout.dims[1]);
			float e0[] = {1, 3, 4}, e1[] = {0, 1, 3, 4};
			for (int i = 0; i < want; i++)
				CHECK(((float *)vout.data)[i] == (pass ? e1 : e0)[i], "nonzero[%d]", i);
		}
		vibee_context_destroy(c);
		vibee_unload(h);
	}
	ir_graph_free(g);
}

/* Gather with an out-of-range index fails the run with a clear message. */
static void test_bad_index(void)
{
	Graph *g = ir_graph_new("gi");
	Shape sx = shp(1, 4), si = shp(1, 2);
	uint32_t x = ir_input(g, "x", DT_F32, &sx), i = ir_input(g, "i", DT_I64, &si);
	ir_graph_output(g, out0(g, ir_node(g, OP_Gather, "g", 2, (uint32_t[]){x, i}, 1)));
	vibee_handle *h = build(g, "gi", 3);
	if (h) {
		float xv[4] = {1, 2, 3, 4};
		int64_t iv[2] = {1, 9};
		vibee_tensor vin[2] = {{.dtype = DT_F32, .rank = 1, .dims = {4}, .data = xv},
		                       {.dtype = DT_I64, .rank = 1, .dims = {2}, .data = iv}}, vout;
		vibee_context *c;
		char err[512] = "";
		CHECK(vibee_context_create(h, NULL, &c, err, sizeof err) == 0, "create: %s", err);
		int rc = vibee_context_run(c, vin, &vout, err, sizeof err);
		CHECK(rc == VIBEE_E_RUN && strstr(err, "index out of range"), "bad index: rc %d '%s'", rc, err);
		iv[1] = -1;
		rc = vibee_context_run(c, vin, &vout, err, sizeof err);
		CHECK(rc == 0 && ((float *)vout.data)[0] == 2 && ((float *)vout.data)[1] == 4,
		      "negative index: rc %d", rc);
		vibee_context_destroy(c);
		vibee_unload(h);
	}
	ir_graph_free(g);
}

/* The .so exports exactly one dynamic symbol, vibee_model. */
static void test_one_symbol(void)
{
	char cmd[600], line[256];
	snprintf(cmd, sizeof cmd, "nm -D --defined-only %s/mm.so 2>/dev/null", dir);
	FILE *f = popen(cmd, "r");
	if (!f) {
		CHECK(0, "cannot run nm");
		return;
	}
	int n = 0, ok = 0;
	while (fgets(line, sizeof line, f)) {
		n++;
		ok |= strstr(line, " vibee_model") != NULL;
	}
	pclose(f);
	CHECK(n == 1 && ok, "nm -D shows %d defined symbols", n);
}

/* An unknown target is a usage error naming the known ones. */
static void test_bad_target(void)
{
	Graph *g = ir_graph_new("t");
	Shape s = shp(1, 2);
	uint32_t x = ir_input(g, "x", DT_F32, &s);
	ir_graph_output(g, out0(g, ir_node(g, OP_Relu, "r", 1, &x, 1)));
	Diag d = {0};
	ir_infer(g, &d);
	CgOptions o = {.out = "/dev/null", .emit = CG_EMIT_C, .target = "tpu9000"};
	int rc = cg_compile(g, &o, &d);
	CHECK(rc == E_USAGE && strstr(d.msg, "tpu9000") && strstr(d.msg, "cpu"), "bad target: %s", d.msg);
	ir_graph_free(g);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/test_codegen-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_broadcast();
	test_reduce_softmax_symbolic();
	test_matmul();
	test_call_and_movement();
	test_runtime_symbol();
	test_bad_index();
	test_one_symbol();
	test_bad_target();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (!fails && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	printf("test_codegen: %s (%d failures)\n", fails ? "FAIL" : "ok", fails);
	return fails ? 1 : 0;
}
