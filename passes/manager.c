/* The pass manager: the pass table, the pipeline for each -O level (the one
 * place it is written down), and the driver that runs a list of passes with
 * --print-after, --verify-each and --stats. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "passes.h"
#include "../ir/text.h"
#include "../ir/verify.h"

const Pass pass_table[] = {
	{"infer", pass_infer, "infer dtypes, shapes and known values (ir_infer)"},
	{"fold",  pass_fold,  "evaluate nodes whose inputs are constants"},
	{"noop",  pass_noop,  "remove no-op nodes; merge Reshape and Transpose chains"},
	{"cse",   pass_cse,   "merge identical nodes"},
	{"dce",   pass_dce,   "remove nodes whose outputs nothing uses"},
	{"foldbn", pass_foldbn, "fold inference BatchNormalization into the Conv before it"},
	{"fuse",  pass_fuse,  "fuse activation patterns and MatMul/Conv epilogues (bias, residual, activation)"},
	{"attention", pass_attention, "fuse scaled-dot-product attention into `attention` ops"},
	{"layout", pass_layout, "move convolution chains to the blocked channel layout NCHW16c"},
	{"sscan", pass_sscan, "fuse selective scans (Mamba) and gated linear recurrences"},
	{"gemm_mm", pass_gemm_mm, "Gemm with constant weights as fused_matmul, through the Reshapes around it"},
	{"attn_layout", pass_attn_layout, "read attention operands and write its output as [B,T,H,D] instead of Transposes"},
	{NULL, NULL, NULL},
};

/* The pipelines, one line per -O level. */
static const char *const pipe_o0[] = {"infer", NULL};
static const char *const pipe_o1[] = {"infer", "noop", "dce", NULL};
static const char *const pipe_o2[] = {"infer", "fold", "noop", "cse",
	"attention", "attn_layout", "sscan", "dce", "foldbn", "gemm_mm", "fuse", "layout", "dce", NULL};

const char *const *pass_pipeline(int opt)
{
	return opt <= 0 ? pipe_o0 : opt == 1 ? pipe_o1 : pipe_o2;
}

const Pass *pass_find(const char *name)
{
	for (const Pass *p = pass_table; p->name; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static PassStat *stat_for(PassCtx *ctx, const char *name)
{
	for (int i = 0; i < ctx->nstat; i++)
		if (strcmp(ctx->stat[i].name, name) == 0)
			return &ctx->stat[i];
	if (ctx->nstat == (int)(sizeof ctx->stat / sizeof ctx->stat[0]))
		return NULL;
	PassStat *s = &ctx->stat[ctx->nstat++];
	memset(s, 0, sizeof *s);
	s->name = name;
	return s;
}

/* A failure inside a pass must leave a message: make sure one is there. */
static int fail(PassCtx *ctx, const char *pass)
{
	ctx->failed = true;
	if (!ctx->diag->code)
		diag_set(ctx->diag, E_MODEL, "pass '%s' failed", pass);
	return ctx->diag->code;
}

int pass_run(Graph *g, const char *const *names, PassCtx *ctx)
{
	FILE *log = ctx->log ? ctx->log : stderr;
	bool typed = false;
	for (int i = 0; names[i]; i++) {
		const Pass *p = pass_find(names[i]);
		if (!p) {
			ctx->failed = true;
			return diag_set(ctx->diag, E_USAGE, "unknown pass '%s'", names[i]);
		}
		PassStat *st = stat_for(ctx, p->name);
		uint32_t before = pass_live_nodes(g);
		double t0 = now();
		bool changed = p->fn(g, ctx);
		if (ctx->failed || ctx->diag->code)
			return fail(ctx, p->name);
		if (changed && ir_compact(g, ctx->diag))
			return fail(ctx, p->name);
		if (p->fn == pass_infer)
			typed = true;
		if (st) {
			st->runs++;
			st->changed += changed;
			st->seconds += now() - t0;
			st->nodes_before = before;
			st->nodes_after = pass_live_nodes(g);
		}
		if (ctx->print_after && (strcmp(ctx->print_after, "all") == 0 ||
		                         strcmp(ctx->print_after, p->name) == 0)) {
			fprintf(log, "# IR after %s\n", p->name);
			ir_print_opts(log, g, ctx->print_full);
			fflush(log);
		}
		if (ctx->verify_each) {
			Diag vd = {0};
			if (ir_verify_opts(g, typed, &vd)) {
				ctx->failed = true;
				return diag_set(ctx->diag, vd.code, "%s (after pass '%s')", vd.msg, p->name);
			}
		}
	}
	if (ir_compact(g, ctx->diag))
		return fail(ctx, "compact");
	return 0;
}

int pass_run_pipeline(Graph *g, PassCtx *ctx)
{
	return pass_run(g, pass_pipeline(ctx->opt), ctx);
}

void pass_print_stats(const PassCtx *ctx)
{
	FILE *log = ctx->log ? ctx->log : stderr;
	fprintf(log, "%-8s %5s %8s %11s %8s %8s\n", "pass", "runs", "changed", "time(ms)",
	        "nodes<", "nodes>");
	double total = 0;
	for (int i = 0; i < ctx->nstat; i++) {
		const PassStat *s = &ctx->stat[i];
		fprintf(log, "%-8s %5d %8d %11.3f %8u %8u\n", s->name, s->runs, s->changed,
		        1e3 * s->seconds, s->nodes_before, s->nodes_after);
		total += s->seconds;
	}
	fprintf(log, "%-8s %5s %8s %11.3f   folded %u, removed %u, merged %u\n", "total", "", "",
	        1e3 * total, ctx->folded, ctx->removed, ctx->merged);
}
