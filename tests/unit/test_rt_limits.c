/* libvibeert input checks at their limits (issue 7): a symbol shared by
 * inputs far apart (more symbols than any fixed table), byte sizes that
 * overflow 64 bits or pass the 1 TiB limit, NULL data, negative and huge
 * dims, a symbol bound twice in one input. Fake model via
 * vibee_wrap; the run function fails the test if it is ever reached with
 * inputs the checks should have refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/vibee.h"

static int fails;
#define CHECK(c, ...) do { if (!(c)) { fails++; fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

#define NIN 80      /* inputs: x0..x78 f32[s0]..f32[s78], x79 f32[s70] again */

struct vibee_ctx { int runs; };
static int runs;

static int f_create(vibee_ctx **c, const vibee_options *o, char *err, size_t n)
{
	(void)o; (void)err; (void)n;
	*c = calloc(1, sizeof **c);
	return *c ? 0 : VIBEE_E_NOMEM;
}

static int f_run(vibee_ctx *c, const vibee_tensor *in, vibee_tensor *out, char *err, size_t n)
{
	(void)c; (void)err; (void)n;
	runs++;
	out[0] = in[0];
	return 0;
}

static void f_destroy(vibee_ctx *c) { free(c); }

static const int64_t sym1[] = {-1};
static char names_s[NIN][8];
static const char *dimname[NIN][1];
static char innames[NIN][8];
static vibee_io_desc ins[NIN];

int main(void)
{
	for (int i = 0; i < NIN; i++) {
		snprintf(names_s[i], sizeof names_s[i], "s%d", i == NIN - 1 ? 70 : i);
		snprintf(innames[i], sizeof innames[i], "x%d", i);
		dimname[i][0] = names_s[i];
		ins[i] = (vibee_io_desc){innames[i], 1, 1, sym1, dimname[i]};
	}
	vibee_model_desc md = {
		.abi_version = VIBEE_ABI_VERSION, .compiler_version = "test", .target = "cpu",
		.isa = "x86-64", .name = "limits", .ninputs = NIN, .noutputs = 1, .inputs = ins,
		.outputs = ins, .create = f_create, .run = f_run, .destroy = f_destroy};
	char err[512];
	vibee_handle *h;
	vibee_context *c;
	if (vibee_wrap(&md, &h, err, sizeof err) || vibee_context_create(h, NULL, &c, err, sizeof err)) {
		fprintf(stderr, "setup: %s\n", err);
		return 1;
	}
	static float data[16];
	vibee_tensor in[NIN], out[1];
	for (int i = 0; i < NIN; i++)
		in[i] = (vibee_tensor){1, 1, {2 + (i == NIN - 1 ? 70 : i) % 3}, data};
	CHECK(vibee_context_run(c, in, out, err, sizeof err) == 0 && runs == 1,
	      "consistent inputs: %s", err);
	/* the last input rebinds s70 (bound by x70, after 70 other symbols) */
	in[NIN - 1].dims[0] = 2;
	int rc = vibee_context_run(c, in, out, err, sizeof err);
	CHECK(rc == VIBEE_E_INPUT && strstr(err, "input 'x79'") && strstr(err, "'s70'"),
	      "symbol shared across 80 inputs: rc %d '%s'", rc, err);
	in[NIN - 1].dims[0] = 3;
	/* a dim of 2^62: over the dim limit */
	in[5].dims[0] = (int64_t)1 << 62;
	rc = vibee_context_run(c, in, out, err, sizeof err);
	CHECK(rc == VIBEE_E_INPUT && strstr(err, "input 'x5': dim 0 is") && strstr(err, "over the limit"),
	      "dim 2^62: rc %d '%s'", rc, err);
	/* 2^39 floats = 2 TiB: over the limit */
	in[5].dims[0] = (int64_t)1 << 39;
	rc = vibee_context_run(c, in, out, err, sizeof err);
	CHECK(rc == VIBEE_E_INPUT && strstr(err, "larger than"), "2 TiB input: rc %d '%s'", rc, err);
	in[5].dims[0] = 2 + 5 % 3;
	/* NULL data: refused unless the tensor is empty */
	in[7].data = NULL;
	rc = vibee_context_run(c, in, out, err, sizeof err);
	CHECK(rc == VIBEE_E_INPUT && strstr(err, "input 'x7': data is NULL"),
	      "NULL data: rc %d '%s'", rc, err);
	in[7].dims[0] = 0;
	CHECK(vibee_context_run(c, in, out, err, sizeof err) == 0, "empty input, NULL data: %s", err);
	CHECK(runs == 2, "run reached %d times, want 2", runs);
	/* a negative dim */
	in[3].dims[0] = -1;
	rc = vibee_context_run(c, in, out, err, sizeof err);
	CHECK(rc == VIBEE_E_INPUT && strstr(err, "input 'x3'"), "negative dim: rc %d '%s'", rc, err);
	in[3].dims[0] = 2 + 3 % 3;
	CHECK(runs == 2, "run reached %d times, want 2", runs);
	vibee_context_destroy(c);
	vibee_unload(h);

	/* one input f32[n,n,m]: n bound twice in one input; an empty tensor
	 * with a huge dim (0 bytes, but 2^41 over the dim limit) */
	static const int64_t sym3[] = {-1, -1, -1};
	static const char *nnm[] = {"n", "n", "m"};
	vibee_io_desc one = {"q", 1, 3, sym3, nnm};
	md.ninputs = md.noutputs = 1;
	md.inputs = md.outputs = &one;
	if (vibee_wrap(&md, &h, err, sizeof err) || vibee_context_create(h, NULL, &c, err, sizeof err)) {
		fprintf(stderr, "setup 2: %s\n", err);
		return 1;
	}
	vibee_tensor q = {1, 3, {2, 2, 4}, data};
	CHECK(vibee_context_run(c, &q, out, err, sizeof err) == 0 && runs == 3, "q[2,2,4]: %s", err);
	q.dims[1] = 3;
	rc = vibee_context_run(c, &q, out, err, sizeof err);
	CHECK(rc == VIBEE_E_INPUT && strstr(err, "'n'"), "q[2,3,4] (n twice): rc %d '%s'", rc, err);
	q = (vibee_tensor){1, 3, {0, 0, (int64_t)1 << 41}, NULL};
	rc = vibee_context_run(c, &q, out, err, sizeof err);
	CHECK(rc == VIBEE_E_INPUT && strstr(err, "over the limit"), "q[0,0,2^41]: rc %d '%s'", rc, err);
	/* [2^40,2^40,2^40] floats: every dim at the limit, the byte size
	 * overflows 64 bits */
	q.dims[0] = q.dims[1] = q.dims[2] = (int64_t)1 << 40;
	rc = vibee_context_run(c, &q, out, err, sizeof err);
	CHECK(rc == VIBEE_E_INPUT && strstr(err, "input 'q': larger than"),
	      "overflowing size: rc %d '%s'", rc, err);
	q.dims[0] = q.dims[1] = 0;         /* at the limit: an empty tensor is fine */
	CHECK(vibee_context_run(c, &q, out, err, sizeof err) == 0, "q[0,0,2^40]: %s", err);
	CHECK(runs == 4, "run reached %d times, want 4", runs);
	vibee_context_destroy(c);
	vibee_unload(h);
	if (fails)
		fprintf(stderr, "test_rt_limits: %d failed\n", fails);
	else
		printf("test_rt_limits: ok\n");
	return fails != 0;
}
