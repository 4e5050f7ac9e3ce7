/* Selective-scan rewriting: finds linear recurrences as exporters emit them
 * and replaces them by one fused op. A table of rules {name, root op, match,
 * rewrite} run by a worklist driver to a fixed point:
 *   - Mamba's per-step chain unrolled over T steps,
 *       h_t = Gather(dA,t) * h_{t-1} + Gather(dBx,t),  y_t = h_t @ C_t,
 *     stacked by Concat, with dA = exp(dt*A), dBx = dt*B*x -> selective_scan;
 *     (also discretised per step, einsum-built in the [b,d,T] layout, or
 *     Mamba-2's per-head decay over a [b,h,p,n] state -> ssd);
 *   - the same chain read out as h_t itself (RG-LRU, any diagonal gated
 *     linear recurrence) -> linear_scan;
 *   - the "parallel scan by cumsum" form, exp(segment sums of cumsum(dt*A))
 *     under a causal Where, summed against dt*B*x -> selective_scan;
 *   - the same Mamba step as the body of an ONNX Scan or Loop (sscan_cf.c);
 *   - absorption into selective_scan / ssd of softplus(dt), dt's bias, the D
 *     skip (+ x*D) and the silu(z) gate (for ssd also after the Reshape that
 *     merges its heads: sscan_gate.c).
 * The matchers of the first rules are in sscan_chain.c, small graph matchers
 * in sscan_match.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sscan_util.h"

/* ---- the driver -------------------------------------------------------- */
static bool grow(RW *rw)
{
	Graph *g = rw->g;
	if (g->nval + 1 > rw->capuses) {
		uint32_t c = 2 * (g->nval + 1);
		uint32_t *u = realloc(rw->uses, c * sizeof *u);
		if (!u)
			return false;
		memset(u + rw->capuses, 0, (c - rw->capuses) * sizeof *u);
		rw->uses = u;
		rw->capuses = c;
	}
	if (g->nnode + 1 > rw->capqueued) {
		uint32_t c = 2 * (g->nnode + 1);
		uint8_t *q = realloc(rw->queued, c);
		if (!q)
			return false;
		memset(q + rw->capqueued, 0, c - rw->capqueued);
		rw->queued = q;
		rw->capqueued = c;
	}
	return true;
}

static void push(RW *rw, uint32_t id)
{
	if (!grow(rw) || rw->queued[id])
		return;
	if (rw->nwork == rw->capwork) {
		uint32_t c = rw->capwork ? 2 * rw->capwork : 256;
		uint32_t *w = realloc(rw->work, c * sizeof *w);
		if (!w)
			return;
		rw->work = w;
		rw->capwork = c;
	}
	rw->work[rw->nwork++] = id;
	rw->queued[id] = 1;
}

void rw_push(RW *rw, uint32_t id) { push(rw, id); }

uint32_t rw_uses(RW *rw, uint32_t v)
{
	return grow(rw) && v < rw->g->nval ? rw->uses[v] : 0;
}

/* Mark nodes dead whose outputs nothing uses, starting from value v's
 * definition (iteratively: chains are thousands of nodes long). */
static void kill_from(RW *rw, uint32_t v)
{
	Graph *g = rw->g;
	uint32_t *stack = NULL, n = 0, cap = 0;
	for (;;) {
		Node *d = m_def(g, v, -1);
		bool dead = d != NULL;
		for (int o = 0; d && o < d->nout; o++)
			if (d->out[o] < g->nval && rw->uses[d->out[o]])
				dead = false;
		if (dead) {
			d->dead = true;
			for (int k = 0; k < d->nin; k++) {
				uint32_t x = d->in[k];
				if (x >= g->nval || !rw->uses[x] || --rw->uses[x])
					continue;
				if (n == cap) {
					uint32_t *s = realloc(stack, (cap = cap ? 2 * cap : 64) * sizeof *s);
					if (!s)
						break;
					stack = s;
				}
				stack[n++] = x;
			}
		}
		if (!n)
			break;
		v = stack[--n];
	}
	free(stack);
}

uint32_t rw_node(RW *rw, int op, uint32_t like, const char *suffix, int nin,
                 const uint32_t *ins, int nout)
{
	Graph *g = rw->g;
	while (nin > 0 && ins[nin - 1] == IR_NONE)
		nin--;
	char name[256];
	snprintf(name, sizeof name, "%s%s", like < g->nnode ? g->node[like].name : "", suffix);
	uint32_t id = ir_node(g, op, name, nin, ins, nout);
	if (grow(rw))
		for (int k = 0; k < nin; k++)
			if (ins[k] != IR_NONE)
				rw->uses[ins[k]]++;
	return id;
}

bool rw_infer(RW *rw, uint32_t id)
{
	Graph *g = rw->g;
	Diag d = {0};
	Node *n = &g->node[id];
	if (op_info[n->op].shape(g, n, &d) == 0 && !d.code)
		return true;
	n->dead = true;
	for (int k = 0; k < n->nin; k++)
		if (n->in[k] != IR_NONE && rw->uses[n->in[k]])
			rw->uses[n->in[k]]--;
	return false;
}

bool rw_replace(RW *rw, uint32_t from, uint32_t to)
{
	Graph *g = rw->g;
	const Value *a = &g->val[from], *b = &g->val[to];
	if (a->dt != b->dt || a->shape.rank != b->shape.rank || !grow(rw))
		return false;
	for (int i = 0; i < a->shape.rank; i++)
		if (a->shape.d[i] >= 0 && b->shape.d[i] >= 0 && a->shape.d[i] != b->shape.d[i])
			return false;
	Node *t = m_def(g, to, -1);
	for (int k = 0; t && k < t->nin; k++)
		if (t->in[k] == from)
			return false;
	if (!pass_replace_value(g, from, to))
		return false;
	rw->uses[to] += rw->uses[from];
	rw->uses[from] = 0;
	for (uint32_t i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		for (int k = 0; !n->dead && k < n->nin; k++)
			if (n->in[k] == to) {
				push(rw, i);
				break;
			}
	}
	kill_from(rw, from);
	return true;
}

/* Build the scan op of a capture and replace root's output (and the last
 * state's other uses) by it. */
static bool rewrite_scan(RW *rw, uint32_t root, void *cap)
{
	Graph *g = rw->g;
	Scan *s = cap;
	uint32_t out = g->node[root].out[0];
	/* the last state has uses outside the chain: produce it too */
	bool last = s->hlast != IR_NONE && rw_uses(rw, s->hlast) > 1;
	uint32_t id;
	if (s->linear) {
		uint32_t ins[3] = {s->a, s->b, s->h0};
		id = rw_node(rw, OP_linear_scan, root, "/linear_scan", 3, ins, last ? 2 : 1);
	} else if (s->ssd) {
		uint32_t ins[9] = {s->x, s->dt, s->A, s->B, s->C, IR_NONE, IR_NONE, IR_NONE, s->h0};
		id = rw_node(rw, OP_ssd, root, "/ssd", 9, ins, last ? 2 : 1);
		ir_attr_add(g, id, "dt_softplus", AK_INT)->i = 0;
	} else {
		uint32_t A = m_as_dn(g, s->A);
		if (A == IR_NONE)
			return false;
		uint32_t ins[9] = {s->x, s->dt, A, s->B, s->C, IR_NONE, IR_NONE, IR_NONE, s->h0};
		id = rw_node(rw, OP_selective_scan, root, "/selective_scan", 9, ins, last ? 2 : 1);
		ir_attr_add(g, id, "delta_softplus", AK_INT)->i = 0;
		if (s->layout)
			ir_attr_add(g, id, "layout", AK_INT)->i = 1;
	}
	if (!rw_infer(rw, id))
		return false;
	uint32_t o0 = g->node[id].out[0], o1 = last ? g->node[id].out[1] : IR_NONE;
	if (!rw_replace(rw, out, o0))
		return false;
	if (last)
		rw_replace(rw, s->hlast, o1);
	push(rw, id);
	return true;
}

/* ---- absorption into selective_scan ------------------------------------ */
typedef struct Absorb {
	uint32_t scan;               /* the selective_scan or ssd node */
	uint32_t in[9];
	int softplus;
} Absorb;

static const char *sp_attr(int op)
{
	return op == OP_ssd ? "dt_softplus" : "delta_softplus";
}

static void absorb_init(Graph *g, uint32_t scan, Absorb *a)
{
	const Node *n = &g->node[scan];
	a->scan = scan;
	for (int i = 0; i < 9; i++)
		a->in[i] = i < n->nin ? n->in[i] : IR_NONE;
	a->softplus = (int)ir_attr_i(n, sp_attr(n->op), 0);
}

/* A copy of the scan with a->in, replacing `from` (the root's output, or the
 * scan's own y) and the scan's last state. */
static bool absorb_rewrite(RW *rw, uint32_t root, void *cap)
{
	Graph *g = rw->g;
	Absorb *a = cap;
	int nout = g->node[a->scan].nout, op = g->node[a->scan].op;
	uint32_t from = g->node[root].out[0];
	int64_t chunk = ir_attr_i(&g->node[a->scan], "chunk", -1);
	uint32_t id = rw_node(rw, op, a->scan, "", 9, a->in, nout);
	ir_attr_add(g, id, sp_attr(op), AK_INT)->i = a->softplus;
	if (chunk > 0)
		ir_attr_add(g, id, "chunk", AK_INT)->i = chunk;
	if (ir_attr_i(&g->node[a->scan], "layout", 0))
		ir_attr_add(g, id, "layout", AK_INT)->i = 1;
	if (!rw_infer(rw, id))
		return false;
	uint32_t o0 = g->node[id].out[0];
	if (!rw_replace(rw, from, o0))
		return false;
	if (nout > 1)
		rw_replace(rw, g->node[a->scan].out[1], g->node[id].out[1]);
	push(rw, id);
	return true;
}

/* Channels (selective_scan) or heads (ssd) of a scan node. */
static int64_t nd_of(Graph *g, uint32_t scan)
{
	const Node *n = &g->node[scan];
	return g->val[n->in[0]].shape.d[ir_attr_i(n, "layout", 0) ? 1 : 2];
}

/* A per-channel vector operand: [d] when it broadcasts along the last axis,
 * [d,1] against u/delta [b,d,T] (layout 1) and against ssd's x [b,T,h,p]
 * (not its dt [b,T,h]); `delta`: the operand meets delta, else u/x.
 * Returns its 1-D view or IR_NONE. */
static uint32_t chan_vec(Graph *g, uint32_t scan, uint32_t v, bool delta)
{
	const Node *n = &g->node[scan];
	const Value *x = &g->val[v];
	bool col = ir_attr_i(n, "layout", 0) || (n->op == OP_ssd && !delta);
	bool ok = col ? x->shape.rank == 2 && x->shape.d[1] == 1 && x->shape.d[0] == nd_of(g, scan)
	              : x->shape.rank == 1 && x->shape.d[0] == nd_of(g, scan);
	return ok && x->dt == DT_F32 ? m_as_vec(g, v, 1) : IR_NONE;
}

/* delta = Softplus(v)  ->  delta = v, delta_softplus = 1 */
static bool match_softplus(RW *rw, uint32_t root, void *cap)
{
	Graph *g = rw->g;
	Absorb *a = cap;
	absorb_init(g, root, a);
	Node *sp = m_def(g, a->in[1], OP_Softplus);
	if (a->softplus || a->in[7] != IR_NONE || !sp)
		return false;
	a->in[1] = sp->in[0];
	a->softplus = 1;
	return true;
}

/* delta = Add(v, bias[d])  ->  delta = v, delta_bias = bias */
static bool match_bias(RW *rw, uint32_t root, void *cap)
{
	Graph *g = rw->g;
	Absorb *a = cap;
	absorb_init(g, root, a);
	Node *add = m_def(g, a->in[1], OP_Add);
	if (a->in[7] != IR_NONE || !add)
		return false;
	for (int i = 0; i < 2; i++) {
		const Value *v = &g->val[add->in[1 - i]];
		uint32_t b1 = pass_same_type(v, &g->val[a->in[1]]) ? chan_vec(g, root, add->in[i], true) : IR_NONE;
		if (b1 != IR_NONE) {
			a->in[1] = add->in[1 - i];
			a->in[7] = b1;
			return true;
		}
	}
	return false;
}

/* root = op(y, other) with y the single-use output 0 of a selective_scan
 * without z (and without D when nod): returns the scan node and the other
 * operand. */
static bool scan_operand(RW *rw, uint32_t root, uint32_t *scan, uint32_t *other, int i, bool nod)
{
	Graph *g = rw->g;
	const Node *n = &g->node[root];
	Node *s = n->nin == 2 ? m_def(g, n->in[i], -1) : NULL;
	if (!s || (s->op != OP_selective_scan && s->op != OP_ssd) || s->out[0] != n->in[i] || rw_uses(rw, n->in[i]) != 1 ||
	    (nod && s->nin > 5 && s->in[5] != IR_NONE) || (s->nin > 6 && s->in[6] != IR_NONE))
		return false;
	*scan = (uint32_t)(s - g->node);
	*other = n->in[1 - i];
	return true;
}

/* Add(y, Mul(u, D[d]))  ->  selective_scan(..., D) */
static bool match_skip(RW *rw, uint32_t root, void *cap)
{
	Graph *g = rw->g;
	Absorb *a = cap;
	for (int i = 0; i < 2; i++) {
		uint32_t scan, other;
		if (!scan_operand(rw, root, &scan, &other, i, true))
			continue;
		Node *m = m_def(g, other, OP_Mul);
		for (int j = 0; m && j < 2; j++) {
			/* D [d] against u [b,T,d]; [d,1] against u [b,d,T] or ssd's x [b,T,h,p] */
			uint32_t d1 = chan_vec(g, scan, m->in[1 - j], false);
			if (m->in[j] == g->node[scan].in[0] && d1 != IR_NONE) {
				absorb_init(g, scan, a);
				a->in[5] = d1;
				return true;
			}
		}
	}
	return false;
}

/* Mul(y, Mul(z, Sigmoid(z)))  ->  selective_scan(..., z) */
static bool match_gate(RW *rw, uint32_t root, void *cap)
{
	Graph *g = rw->g;
	Absorb *a = cap;
	for (int i = 0; i < 2; i++) {
		uint32_t scan, other;
		if (!scan_operand(rw, root, &scan, &other, i, false))
			continue;
		Node *m = m_def(g, other, OP_Mul);
		for (int j = 0; m && j < 2; j++) {
			Node *sg = m_def(g, m->in[1 - j], OP_Sigmoid);
			if (sg && sg->in[0] == m->in[j] &&
			    pass_same_type(&g->val[m->in[j]], &g->val[g->node[scan].in[0]])) {
				absorb_init(g, scan, a);
				a->in[6] = m->in[j];
				return true;
			}
		}
	}
	return false;
}

/* ---- the rule table and the pass --------------------------------------- */
static const Rule rules[] = {
	/* name               root op              match            rewrite */
	{"unrolled",          OP_Concat,           sscan_match_unrolled,  rewrite_scan},
	{"cumsum",            OP_ReduceSum,        sscan_match_cumsum,    rewrite_scan},
	{"scan-body",         OP_Scan,             sscan_match_scanop,    sscan_rewrite_cf},
	{"loop-body",         OP_Loop,             sscan_match_loopop,    sscan_rewrite_cf},
	{"absorb-softplus",   OP_selective_scan,   match_softplus,  absorb_rewrite},
	{"absorb-dt-bias",    OP_selective_scan,   match_bias,      absorb_rewrite},
	{"absorb-softplus",   OP_ssd,              match_softplus,  absorb_rewrite},
	{"absorb-dt-bias",    OP_ssd,              match_bias,      absorb_rewrite},
	{"absorb-skip",       OP_Add,              match_skip,      absorb_rewrite},
	{"absorb-gate",       OP_Mul,              match_gate,      absorb_rewrite},
	{"absorb-gate-reshape", OP_Mul,            sscan_match_ssd_gate, sscan_rewrite_ssd_gate},
};
_Static_assert(sizeof(Scan) <= RW_CAP && sizeof(Absorb) <= RW_CAP, "capture size");

bool pass_sscan(Graph *g, PassCtx *ctx)
{
	RW rw = {.g = g, .ctx = ctx};
	rw.uses = pass_use_counts(g);
	if (!rw.uses)
		return false;
	rw.capuses = g->nval + 1;
	uint32_t nnode = g->nnode;
	for (uint32_t i = 0; i < nnode; i++)
		if (!g->node[i].dead)
			push(&rw, i);
	bool changed = false;
	uint32_t cap = 64 + nnode;   /* iteration cap on rewrites */
	_Alignas(16) unsigned char capbuf[RW_CAP];
	for (uint32_t head = 0; head < rw.nwork && rw.rewrites < cap; head++) {
		uint32_t id = rw.work[head];
		rw.queued[id] = 0;
		for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
			if (g->node[id].dead || g->node[id].op != rules[r].op || g->node[id].nout < 1)
				continue;
			if (rules[r].match(&rw, id, capbuf) && rules[r].rewrite(&rw, id, capbuf)) {
				changed = true;
				rw.rewrites++;
				ctx->merged++;
				break;
			}
		}
	}
	free(rw.uses);
	free(rw.work);
	free(rw.queued);
	/* a Loop's stacked outputs had a fresh run-time length: retype */
	if (rw.retype && (ir_compact(g, ctx->diag) || ir_infer(g, ctx->diag)))
		ctx->failed = true;
	return changed;
}
