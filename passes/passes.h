/* The pass manager and the passes: a pass is `bool pass_x(Graph *, PassCtx *)`
 * returning whether it changed the graph; errors go to ctx->diag and set
 * ctx->failed. Pipelines per -O level are listed once, in passes/manager.c. */
#ifndef VIBEE_PASSES_H
#define VIBEE_PASSES_H
#include <stdbool.h>
#include <stdio.h>
#include "../ir/ir.h"

typedef struct PassStat {
	const char *name;
	int runs, changed;
	double seconds;
	uint32_t nodes_before, nodes_after;   /* live nodes around the last run */
} PassStat;

typedef struct PassCtx {
	Diag *diag;
	bool failed;              /* set together with diag on error */
	int opt;                  /* -O level (0..3) */
	bool device;              /* a GPU target: host-only layouts (layout pass) stay off */
	const char *print_after;  /* pass name, "all", or NULL */
	bool print_full;          /* --print-after prints weights too */
	bool verify_each;
	bool stats;               /* print per-pass stats to `log` at the end */
	FILE *log;                /* where IR dumps and stats go (NULL: stderr) */
	/* per-pass counters (filled by the manager) */
	PassStat stat[32];
	int nstat;
	/* counters passes may bump for --stats */
	uint32_t folded, removed, merged;
} PassCtx;

typedef bool (*PassFn)(Graph *g, PassCtx *ctx);
typedef struct Pass {
	const char *name;
	PassFn fn;
	const char *what;         /* one line for --help */
} Pass;

bool pass_infer(Graph *g, PassCtx *ctx);   /* shape and dtype inference */
bool pass_fold(Graph *g, PassCtx *ctx);    /* constant folding */
bool pass_noop(Graph *g, PassCtx *ctx);    /* remove no-op nodes, merge chains */
bool pass_cse(Graph *g, PassCtx *ctx);     /* common subexpressions */
bool pass_dce(Graph *g, PassCtx *ctx);     /* dead nodes */
bool pass_foldbn(Graph *g, PassCtx *ctx);  /* BatchNormalization into Conv weights */
bool pass_fuse(Graph *g, PassCtx *ctx);    /* activation patterns, GEMM/Conv epilogues */
bool pass_attention(Graph *g, PassCtx *ctx);   /* fuse attention (passes/attention.c) */
bool pass_sscan(Graph *g, PassCtx *ctx);   /* selective scans and linear recurrences (sscan.c) */
bool pass_layout(Graph *g, PassCtx *ctx);  /* convolution chains to NCHW16c (layout.c) */
bool pass_attn_layout(Graph *g, PassCtx *ctx);   /* [B,T,H,D] attention operands (attn_layout.c) */
bool pass_gemm_mm(Graph *g, PassCtx *ctx);   /* Gemm with constant weights as fused_matmul (gemm_mm.c) */

/* All passes, ending with {NULL}. */
extern const Pass pass_table[];
const Pass *pass_find(const char *name);
/* The pipeline for -O level opt: NULL-terminated pass names. */
const char *const *pass_pipeline(int opt);

/* Run the named passes in order (names: NULL-terminated array), then
 * compact the graph. Honours print_after / verify_each / stats. Returns 0
 * or the diag code. */
int pass_run(Graph *g, const char *const *names, PassCtx *ctx);
/* Run the -O pipeline (pass_run over pass_pipeline(ctx->opt)). */
int pass_run_pipeline(Graph *g, PassCtx *ctx);
/* Print the --stats table to ctx->log. */
void pass_print_stats(const PassCtx *ctx);

/* ---- helpers shared by the passes (passes/util.c) ---- */
/* Live node count. */
uint32_t pass_live_nodes(const Graph *g);
/* Use counts per value (live nodes, tensor attributes, graph outputs);
 * caller frees. */
uint32_t *pass_use_counts(const Graph *g);
/* Make every use of `from` a use of `to`. When `from` is a graph output its
 * name must survive: `to` takes the name if it is an unnamed-or-renamable
 * node output or constant that is not itself a graph input or output;
 * otherwise nothing changes and false is returned. */
bool pass_replace_value(Graph *g, uint32_t from, uint32_t to);
bool pass_is_graph_output(const Graph *g, uint32_t v);
bool pass_is_graph_input(const Graph *g, uint32_t v);
/* Same dtype and the same dims (symbolic dims compare by identity). */
bool pass_same_type(const Value *a, const Value *b);
/* The live node that is v's only user, or -1: v is a graph output, unused,
 * used more than once, or possibly captured by a subgraph. */
int64_t pass_only_user(const Graph *g, uint32_t v);
/* fn(g, node, ctx) on every live node of op, in order; whether any changed. */
bool pass_each(Graph *g, int op, bool (*fn)(Graph *, uint32_t, PassCtx *), PassCtx *ctx);
#endif
