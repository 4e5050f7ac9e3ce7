/* Internal interface of the selective-scan rewrite (passes/sscan*.c): the
 * rule table's worklist driver state and the small graph matchers the rules
 * share. */
#ifndef VIBEE_SSCAN_UTIL_H
#define VIBEE_SSCAN_UTIL_H
#include "passes.h"

/* Driver state: live use counts (kept up to date by rw_replace/rw_kill) and
 * the worklist of nodes to (re)visit. */
typedef struct RW {
	Graph *g;
	PassCtx *ctx;
	uint32_t *uses;  uint32_t capuses;
	uint32_t *work;  uint32_t nwork, capwork;
	uint8_t *queued; uint32_t capqueued;
	uint32_t rewrites;
	bool retype;     /* a rewrite left run-time-sized dims behind: re-infer at the end */
} RW;

/* A rule: `match` inspects node `root` (whose op is `op`) and fills the
 * rule's capture (at most RW_CAP bytes); `rewrite` builds the replacement
 * through rw_node/rw_replace and returns false when it gave up (the graph is
 * then unchanged apart from dead new nodes). */
#define RW_CAP 512
typedef struct Rule {
	const char *name;
	int op;
	bool (*match)(RW *rw, uint32_t root, void *cap);
	bool (*rewrite)(RW *rw, uint32_t root, void *cap);
} Rule;

/* Create node op(ins[0..nin)) with nout outputs named after `like`'s name
 * plus `suffix`; trailing IR_NONE inputs are dropped. Returns the node id. */
uint32_t rw_node(RW *rw, int op, uint32_t like, const char *suffix, int nin,
                 const uint32_t *ins, int nout);
/* Run the shape rule of node id; on failure mark it dead and return false. */
bool rw_infer(RW *rw, uint32_t id);
/* Replace every use of `from` by `to` (same dtype and rank; static dims must
 * agree), queue the new users, and kill what became unused. */
bool rw_replace(RW *rw, uint32_t from, uint32_t to);
/* Live uses of value v. */
uint32_t rw_uses(RW *rw, uint32_t v);
/* Queue node id for (another) visit by the rules. */
void rw_push(RW *rw, uint32_t id);

/* ---- matchers (passes/sscan_match.c) ---- */
/* The live node defining v when its op is `op` (op < 0: any), else NULL. */
Node *m_def(Graph *g, uint32_t v, int op);
/* Integer scalar (or 1-element) constant value v. */
bool m_const_int(Graph *g, uint32_t v, int64_t *x);
/* Every element of the float constant v equals x (NaN-free compare). */
bool m_const_all(Graph *g, uint32_t v, double x);
/* Axes of an Unsqueeze/Squeeze/Reduce* node (input 1 or attribute `axes`),
 * normalised against `rank`; count, or -1 when unknown. */
int m_axes(Graph *g, const Node *n, int rank, int64_t *ax, int max);
/* v = Unsqueeze(src, [axis]) with axis normalised against the output rank:
 * returns src, else IR_NONE. */
uint32_t m_unsq(Graph *g, uint32_t v, int axis);
/* v with any chain of Unsqueezes removed. */
uint32_t m_strip_unsq(Graph *g, uint32_t v);
/* v = Gather(src, k, axis) with a scalar constant k: returns src and sets *k. */
uint32_t m_gather_t(Graph *g, uint32_t v, int axis, int64_t *k);
/* Rank of value v (-1 when untyped). */
int m_rank(Graph *g, uint32_t v);
/* Flatten a tree of Mul nodes into its leaves (at most max); count or -1. */
int m_mul_leaves(Graph *g, uint32_t v, uint32_t *leaf, int max);
/* The causal mask test: v (after stripping Unsqueezes) is a [T,T] boolean
 * "i >= j" built as GreaterOrEqual(Unsqueeze(r,1), Unsqueeze(r,0)) (or
 * LessOrEqual with the operands swapped) of r = Range(0, n, 1), or a
 * constant lower-triangular boolean. */
bool m_causal(Graph *g, uint32_t v);
/* ---- the scan rules' capture (passes/sscan_chain.c fills it) ---- */
typedef struct Scan {
	uint32_t x, dt, A, B, C;     /* selective_scan inputs */
	uint32_t a, b;               /* linear_scan inputs (dA, dBx) */
	uint32_t h0, hlast;          /* initial state (IR_NONE: zero), last state value */
	uint32_t aw;                 /* the decay operand of the last step's Mul */
	bool linear, ssd;
	int layout;                  /* selective_scan layout: 1 = [b,d,T] */
} Scan;
bool sscan_match_unrolled(RW *rw, uint32_t root, void *cap);
bool sscan_match_cumsum(RW *rw, uint32_t root, void *cap);
/* The Mamba step as the body of a Scan or Loop (passes/sscan_cf.c). */
bool sscan_match_scanop(RW *rw, uint32_t root, void *cap);
bool sscan_match_loopop(RW *rw, uint32_t root, void *cap);
bool sscan_rewrite_cf(RW *rw, uint32_t root, void *cap);
/* silu(z) after ssd's heads are merged by a Reshape (passes/sscan_gate.c). */
bool sscan_match_ssd_gate(RW *rw, uint32_t root, void *cap);
bool sscan_rewrite_ssd_gate(RW *rw, uint32_t root, void *cap);
/* A [D,N] view of A: rank 2 as is; a constant with leading 1s is re-viewed. */
uint32_t m_as_dn(Graph *g, uint32_t A);
/* A 1-D view of v ([n], or [n,1] / [1,..,n] with all other dims 1): v itself,
 * an Unsqueeze's source, or a re-viewed constant; `first`: a constant's n
 * dim is its first (else its last). Callers check the broadcast. */
uint32_t m_as_vec(Graph *g, uint32_t v, int first);
#endif
