/* The selective-scan rewrite leaves numerics unchanged: each pattern variant
 * of tests/ir/sscan_*.vir (the unrolled chains, Scan and Loop bodies, the
 * ssd gate after a Reshape) is evaluated with the reference evaluator before
 * and after `sscan,dce` on random inputs (batch = 2, seq = 5), and the
 * rewritten graph must contain the fused op. The same for the attention
 * rewrite's flex variants (softcap, ALiBi constant or computed from the
 * length, sink tokens: `attention,dce`). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir/ir.h"
#include "passes/passes.h"

static int fails, checks;
static unsigned rng = 99;

#define CHECK(c, ...) do { checks++; if (!(c)) { fails++; printf("FAIL: " __VA_ARGS__); \
	printf("\n"); } } while (0)

static float frand(float lo, float hi)
{
	rng = rng * 1103515245u + 12345u;
	return lo + (hi - lo) * (float)((rng >> 8) & 0xffff) / 65535.0f;
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

/* Inputs by name: dt > 0 (no softplus in some variants), A < 0, a in (0,1). */
static void make_inputs(Graph *g, KTensor *in)
{
	for (uint32_t i = 0; i < g->nin; i++) {
		const Value *v = &g->val[g->in[i]];
		KTensor *t = &in[i];
		memset(t, 0, sizeof *t);
		t->dt = v->dt;
		t->rank = v->shape.rank;
		int64_t n = 1;
		for (int k = 0; k < v->shape.rank; k++) {
			char buf[64];
			Dim d = v->shape.d[k];
			t->dims[k] = d >= 0 ? d : strcmp(ir_dim_str(g, d, buf, sizeof buf), "batch") == 0 ? 2 : 5;
			n *= t->dims[k];
		}
		float lo = -1, hi = 1;
		const char *nm = v->name ? v->name : "";
		if (strcmp(nm, "dt") == 0)
			lo = 0.05f, hi = 0.5f;
		else if (strcmp(nm, "A") == 0)
			lo = -2, hi = -0.1f;
		else if (strcmp(nm, "a") == 0)
			lo = 0, hi = 1;
		float *p = malloc((size_t)n * sizeof *p);
		for (int64_t j = 0; j < n; j++)
			p[j] = frand(lo, hi);
		t->data = p;
	}
}

static void one_pass(const char *src, const char *file, int op, const char *pass)
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
	CHECK(g->nin <= 16 && g->nout <= 8, "%s: too many inputs or outputs for this test", file);
	if (g->nin > 16 || g->nout > 8) {
		ir_graph_free(g);
		return;
	}
	PassCtx ctx = {.diag = &d, .opt = 2};
	static const char *const infer[] = {"infer", NULL};
	const char *const rw[] = {pass, "dce", NULL};
	KTensor in[16], ref[8], got[8];
	memset(ref, 0, sizeof ref);
	memset(got, 0, sizeof got);
	CHECK(pass_run(g, infer, &ctx) == 0, "%s: infer: %s", file, d.msg);
	make_inputs(g, in);
	int rc = ir_eval(g, in, ref, &d);
	CHECK(rc == 0, "%s: eval before: %s", file, d.msg);
	CHECK(pass_run(g, rw, &ctx) == 0, "%s: %s: %s", file, pass, d.msg);
	bool fused = false;
	for (uint32_t i = 0; i < g->nnode; i++)
		fused |= !g->node[i].dead && g->node[i].op == op;
	CHECK(fused, "%s: no %s after the rewrite", file, ir_op_name(op));
	rc |= ir_eval(g, in, got, &d);
	CHECK(rc == 0, "%s: eval after: %s", file, d.msg);
	for (uint32_t o = 0; rc == 0 && o < g->nout; o++) {
		int64_t n = kt_numel(&ref[o]);
		double worst = 0;
		for (int64_t i = 0; i < n; i++) {
			double a = ((float *)ref[o].data)[i], b = ((float *)got[o].data)[i];
			double e = fabs(a - b) / (1e-3 + fabs(a));
			if (!(e <= worst))
				worst = e;
		}
		CHECK(n > 0 && worst <= 1e-4, "%s: output %u differs by %g (relative)", file, o, worst);
		printf("%-22s output %u: %lld values, worst relative difference %.2g\n", file, o,
		       (long long)n, worst);
	}
	for (uint32_t i = 0; i < g->nin; i++)
		free(in[i].data);
	for (int o = 0; o < 8; o++) {
		free(ref[o].data);
		free(got[o].data);
	}
	ir_graph_free(g);
}

static void one(const char *src, const char *file, int op)
{
	one_pass(src, file, op, "sscan");
}

int main(void)
{
	const char *src = getenv("VIBEE_SRC");
	if (!src)
		src = ".";
	one(src, "sscan_unrolled.vir", OP_selective_scan);
	one(src, "sscan_reducesum.vir", OP_selective_scan);
	one(src, "sscan_cumsum.vir", OP_selective_scan);
	one(src, "sscan_ssd.vir", OP_ssd);
	one(src, "sscan_linear.vir", OP_linear_scan);
	one(src, "sscan_einsum.vir", OP_selective_scan);
	one(src, "sscan_perstep.vir", OP_selective_scan);
	one(src, "sscan_einsum_bld.vir", OP_selective_scan);
	one(src, "sscan_scanop.vir", OP_selective_scan);
	one(src, "sscan_loopop.vir", OP_selective_scan);
	one(src, "sscan_ssd_gate.vir", OP_ssd);
	one_pass(src, "attention_flex.vir", OP_attention, "attention");
	one_pass(src, "attention_sinks.vir", OP_attention, "attention");
	one_pass(src, "attention_alibi_dyn.vir", OP_attention, "attention");
	printf("%d checks, %d failures\n", checks, fails);
	return fails != 0;
}
