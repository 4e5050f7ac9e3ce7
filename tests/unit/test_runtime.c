/* libvibeert on its own: ABI checks, input checking (dtype, rank, static
 * dims, symbolic dims consistent across inputs) with its exact messages,
 * and load errors. Uses an in-process fake model via vibee_wrap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/vibee.h"

static int fails;
#define CHECK(c, ...) do { if (!(c)) { fails++; fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

struct vibee_ctx {
	int runs;
};

static int f_create(vibee_ctx **c, const vibee_options *o, char *err, size_t n)
{
	(void)o; (void)err; (void)n;
	*c = calloc(1, sizeof **c);
	return *c ? 0 : VIBEE_E_NOMEM;
}

/* y = x + z (x: f32[batch,3], z: f32[batch,3]) */
static int f_run(vibee_ctx *c, const vibee_tensor *in, vibee_tensor *out, char *err, size_t n)
{
	(void)err; (void)n;
	static float y[64];
	c->runs++;
	int64_t b = in[0].dims[0];
	for (int64_t i = 0; i < b * 3 && i < 64; i++)
		y[i] = ((const float *)in[0].data)[i] + ((const float *)in[1].data)[i];
	out[0] = in[0];
	out[0].data = y;
	return 0;
}

static void f_destroy(vibee_ctx *c) { free(c); }

static const int64_t dims[] = {-1, 3};
static const char *const names[] = {"batch", NULL};
static const vibee_io_desc ins[] = {{"x", 1, 2, dims, names}, {"z", 1, 2, dims, names}};
static const vibee_io_desc outs[] = {{"y", 1, 2, dims, names}};
static const vibee_model_desc fake = {
	.abi_version = VIBEE_ABI_VERSION, .compiler_version = "test", .target = "cpu",
	.isa = "x86-64", .name = "fake", .ninputs = 2, .noutputs = 1, .inputs = ins,
	.outputs = outs, .create = f_create, .run = f_run, .destroy = f_destroy};

int main(void)
{
	char err[512];
	vibee_handle *h;
	vibee_model_desc old = fake;
	old.abi_version = VIBEE_ABI_VERSION + 41;
	CHECK(vibee_wrap(&old, &h, err, sizeof err) == VIBEE_E_ABI && strstr(err, "ABI"),
	      "abi mismatch: %s", err);
	CHECK(vibee_load("/nonexistent/model.so", &h, err, sizeof err) == VIBEE_E_LOAD,
	      "load of a missing file");
	CHECK(vibee_load("/etc/hostname", &h, err, sizeof err) == VIBEE_E_LOAD, "load of a non-library");
	if (vibee_wrap(&fake, &h, err, sizeof err)) {
		fprintf(stderr, "wrap: %s\n", err);
		return 1;
	}
	vibee_context *c;
	CHECK(vibee_context_create(h, NULL, &c, err, sizeof err) == 0, "create: %s", err);
	float a[12] = {1, 2, 3, 4, 5, 6}, b[12] = {10, 20, 30, 40, 50, 60};
	vibee_tensor in[2] = {{1, 2, {2, 3}, a}, {1, 2, {2, 3}, b}}, out[1];
	CHECK(vibee_context_run(c, in, out, err, sizeof err) == 0, "run: %s", err);
	CHECK(((float *)out[0].data)[5] == 66, "fake model output");
	/* static dim wrong */
	in[1].dims[1] = 4;
	int rc = vibee_context_run(c, in, out, err, sizeof err);
	CHECK(rc == VIBEE_E_INPUT && strcmp(err, "input 'z': expected f32[batch,3], got f32[2,4]") == 0,
	      "static dim: %d '%s'", rc, err);
	in[1].dims[1] = 3;
	/* dtype wrong */
	in[0].dtype = 7;
	rc = vibee_context_run(c, in, out, err, sizeof err);
	CHECK(rc == VIBEE_E_INPUT && strcmp(err, "input 'x': expected f32[batch,3], got i64[2,3]") == 0,
	      "dtype: '%s'", err);
	in[0].dtype = 1;
	/* rank wrong */
	in[0].rank = 1;
	rc = vibee_context_run(c, in, out, err, sizeof err);
	CHECK(rc == VIBEE_E_INPUT && strstr(err, "input 'x': expected f32[batch,3], got f32[2]"),
	      "rank: '%s'", err);
	in[0].rank = 2;
	/* symbolic dim inconsistent across inputs */
	in[1].dims[0] = 4;
	rc = vibee_context_run(c, in, out, err, sizeof err);
	CHECK(rc == VIBEE_E_INPUT && strstr(err, "'batch'") && strstr(err, "input 'z'"),
	      "symbol: '%s'", err);
	in[1].dims[0] = 2;
	/* hostile rank */
	in[0].rank = 1000;
	rc = vibee_context_run(c, in, out, err, sizeof err);
	CHECK(rc == VIBEE_E_INPUT, "rank 1000 accepted");
	in[0].rank = 2;
	CHECK(c && vibee_context_run(c, in, out, err, sizeof err) == 0, "run after errors: %s", err);
	char buf[2048];
	vibee_describe(vibee_desc(h), buf, sizeof buf);
	CHECK(strstr(buf, "input 0: x f32[batch,3]") && strstr(buf, "output 0: y"), "describe: %s", buf);
	CHECK(strcmp(vibee_dtype_name(16), "bf16") == 0 && vibee_dtype_size(11) == 8, "dtype table");
	vibee_context_destroy(c);
	vibee_unload(h);
	printf("test_runtime: %s (%d failures)\n", fails ? "FAIL" : "ok", fails);
	return fails ? 1 : 0;
}
