/* The layout pass leaves numerics unchanged: tests/ir/layout*.vir are
 * evaluated with the reference evaluator before and after `layout,dce` on
 * random inputs (so the blocked ops' reference kernels, ir/ref_nchwc.c, are
 * checked against the plain ones), and the rewritten graph must contain
 * conv_nchwc. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir/ir.h"
#include "passes/passes.h"

static int fails, checks;
static unsigned rng = 17;

#define CHECK(c, ...) do { checks++; if (!(c)) { fails++; printf("FAIL: " __VA_ARGS__); \
	printf("\n"); } } while (0)

static float frand(void)
{
	rng = rng * 1103515245u + 12345u;
	return -1.0f + 2.0f * (float)((rng >> 8) & 0xffff) / 65535.0f;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	if (s)
		s[n] = 0;
	fclose(f);
	return s;
}

static void one(const char *src, const char *file)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/tests/ir/%s", src, file);
	char *text = slurp(path);
	CHECK(text != NULL, "%s: cannot read", path);
	if (!text)
		return;
	Diag d = {0};
	Graph *g = ir_parse(text, path, &d);
	free(text);
	CHECK(g != NULL, "%s: parse: %s", file, d.msg);
	if (!g)
		return;
	PassCtx ctx = {.diag = &d, .opt = 2};
	static const char *const infer[] = {"infer", NULL}, *const rw[] = {"layout", "dce", NULL};
	KTensor in[8], ref[4], got[4];
	memset(in, 0, sizeof in);
	memset(ref, 0, sizeof ref);
	memset(got, 0, sizeof got);
	CHECK(pass_run(g, infer, &ctx) == 0, "%s: infer: %s", file, d.msg);
	for (uint32_t i = 0; i < g->nin && i < 8; i++) {
		const Value *v = &g->val[g->in[i]];
		int64_t n = 1;
		in[i].dt = v->dt;
		in[i].rank = v->shape.rank;
		for (int k = 0; k < v->shape.rank; k++)
			n *= in[i].dims[k] = v->shape.d[k];
		float *p = malloc((size_t)n * sizeof *p);
		for (int64_t j = 0; j < n; j++)
			p[j] = frand();
		in[i].data = p;
	}
	int rc = ir_eval(g, in, ref, &d);
	CHECK(rc == 0, "%s: eval before: %s", file, d.msg);
	CHECK(pass_run(g, rw, &ctx) == 0, "%s: layout: %s", file, d.msg);
	bool blocked = false;
	for (uint32_t i = 0; i < g->nnode; i++)
		blocked |= !g->node[i].dead && g->node[i].op == OP_conv_nchwc;
	CHECK(blocked, "%s: no conv_nchwc after the pass", file);
	rc |= ir_eval(g, in, got, &d);
	CHECK(rc == 0, "%s: eval after: %s", file, d.msg);
	for (uint32_t o = 0; rc == 0 && o < g->nout; o++) {
		int64_t n = kt_numel(&ref[o]);
		double worst = 0;
		CHECK(kt_numel(&got[o]) == n, "%s: output %u has %lld values, not %lld", file, o,
		      (long long)kt_numel(&got[o]), (long long)n);
		for (int64_t i = 0; i < n && kt_numel(&got[o]) == n; i++) {
			double a = ((float *)ref[o].data)[i], b = ((float *)got[o].data)[i];
			double e = fabs(a - b) / (1e-3 + fabs(a));
			if (!(e <= worst))
				worst = e;
		}
		CHECK(n > 0 && worst <= 1e-4, "%s: output %u differs by %g (relative)", file, o, worst);
		printf("%-20s output %u: %lld values, worst relative difference %.2g\n", file, o,
		       (long long)n, worst);
	}
	for (uint32_t i = 0; i < 8; i++)
		free(in[i].data);
	for (int o = 0; o < 4; o++) {
		free(ref[o].data);
		free(got[o].data);
	}
	ir_graph_free(g);
}

int main(void)
{
	const char *src = getenv("VIBEE_SRC");
	if (!src)
		src = ".";
	one(src, "layout.vir");
	one(src, "layout_mobile.vir");
	printf("%d checks, %d failures\n", checks, fails);
	return fails != 0;
}
