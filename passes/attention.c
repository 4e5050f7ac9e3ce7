/* The attention rewrite: finds scaled-dot-product attention as PyTorch and
 * Hugging Face export it (MatMul(Q, K^T), scaling, additive or Where masks,
 * Softmax, MatMul with V) and replaces it by one `attention` op (ir/ref_attn.c
 * states its semantics), then folds GQA head repetition, Q/K scaling and
 * causal / sliding-window masks into its attributes. A table of rules driven
 * to a fixed point over a worklist. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "passes.h"
#include "../ir/dtype.h"

#define FILL_MIN -1e4     /* a Where fill or mask entry at most this is "masked" */
#define MAX_ITER 100000   /* rule applications per pass run */

typedef struct RW {
	Graph *g;
	PassCtx *ctx;
	uint32_t *work;       /* worklist of node ids */
	uint32_t nwork, capwork;
	struct ProbeHit { uint32_t mask; Dim tq, tk; int64_t win, sinks; int res; } pc[64];
	uint32_t nprobed;         /* probe results, per mask and attention size */
	int napplied;
} RW;

typedef struct ProbeHit ProbeHit;

typedef struct Rule {
	const char *name;
	int root;                                 /* op of the node it starts at */
	bool (*apply)(RW *rw, uint32_t node);     /* match and rewrite; true if changed */
} Rule;

/* ---- driver calls: every edit goes through these ------------------------ */

static void push(RW *rw, uint32_t n)
{
	if (rw->nwork == rw->capwork) {
		rw->capwork = rw->capwork ? 2 * rw->capwork : 256;
		rw->work = realloc(rw->work, rw->capwork * sizeof *rw->work);
	}
	rw->work[rw->nwork++] = n;
}

/* A new node of op over ins, typed by its shape rule and queued. Returns its
 * first output, or IR_NONE (node dropped) when the rule rejects it. */
static uint32_t mk(RW *rw, int op, const char *name, int nin, const uint32_t *ins)
{
	Graph *g = rw->g;
	uint32_t id = ir_node(g, op, name, nin, ins, 1);
	Diag d = {0};
	if (op_info[op].shape(g, &g->node[id], &d)) {
		g->node[id].dead = true;
		return IR_NONE;
	}
	push(rw, id);
	return g->node[id].out[0];
}

/* Every use of from becomes a use of to; the users are queued again. */
static bool replace(RW *rw, uint32_t from, uint32_t to)
{
	Graph *g = rw->g;
	if (!pass_replace_value(g, from, to))
		return false;
	for (uint32_t i = 0; i < g->nnode; i++)
		if (!g->node[i].dead)
			for (int k = 0; k < g->node[i].nin; k++)
				if (g->node[i].in[k] == to) {
					push(rw, i);
					break;
				}
	return true;
}

/* ---- matching helpers --------------------------------------------------- */

/* The live node defining v with op `op` (-1: any), or NULL. */
static Node *def(Graph *g, uint32_t v, int op)
{
	if (v >= g->nval || g->val[v].kind != VK_NODE || g->val[v].def >= g->nnode)
		return NULL;
	Node *n = &g->node[g->val[v].def];
	return n->dead || (op >= 0 && n->op != op) ? NULL : n;
}

/* v is a one-element f32/f64 constant: its value. */
static bool scalar(const Graph *g, uint32_t v, double *x)
{
	if (v >= g->nval)
		return false;
	const Value *c = &g->val[v];
	if (c->kind != VK_CONST || !c->data || c->shape.rank < 0)
		return false;
	for (int i = 0; i < c->shape.rank; i++)
		if (c->shape.d[i] != 1)
			return false;
	if (c->dt == DT_F32)
		*x = *(const float *)c->data;
	else if (c->dt == DT_F64)
		*x = *(const double *)c->data;
	else
		return false;
	return true;
}

static int rank(const Graph *g, uint32_t v)
{
	return v < g->nval ? g->val[v].shape.rank : -1;
}

static void set_attr_f(Graph *g, uint32_t node, const char *name, double f)
{
	for (int i = 0; i < g->node[node].nattr; i++)
		if (strcmp(g->node[node].attr[i].name, name) == 0) {
			g->node[node].attr[i].kind = AK_FLOAT;
			g->node[node].attr[i].f = f;
			return;
		}
	ir_attr_add(g, node, name, AK_FLOAT)->f = f;
}

static void set_attr_i(Graph *g, uint32_t node, const char *name, int64_t v)
{
	for (int i = 0; i < g->node[node].nattr; i++)
		if (strcmp(g->node[node].attr[i].name, name) == 0) {
			g->node[node].attr[i].kind = AK_INT;
			g->node[node].attr[i].i = v;
			return;
		}
	ir_attr_add(g, node, name, AK_INT)->i = v;
}

/* ---- rule: sdpa --------------------------------------------------------- */

enum { M_ADD, M_KEEP, M_DROP };   /* additive mask; bool true = attend; bool true = masked */
typedef struct Match {
	uint32_t q, kt;           /* kt: K^T [.., D, Tk], or IR_NONE and then k */
	uint32_t k;               /* K [.., Tk, D] (an Einsum that contracts the last axes) */
	double scale;
	double softcap;           /* c of c * tanh(s / c) (0: none) */
	bool scaled;              /* a scale was crossed: masks below it would be scaled */
	int nm;
	uint32_t mv[8];
	int mk[8];
} Match;

enum { EIN_NO, EIN_MATMUL, EIN_QKT };
/* A rank-r Einsum of two operands that is a batched MatMul ("..ik,..kj->..ij"
 * with the same batch letters everywhere) or Q K^T ("..id,..jd->..ij"). */
static int einsum_kind(const Node *n, int r)
{
	const char *e = ir_attr_s(n, "equation", NULL);
	char t[3][IR_MAXRANK + 1];
	int len[3] = {0, 0, 0}, part = 0;
	if (!e || n->nin != 2 || r < 3 || r > IR_MAXRANK)
		return EIN_NO;
	for (; *e; e++) {
		if (*e == ' ')
			continue;
		if (*e == ',' && part == 0) {
			part = 1;
		} else if (*e == '-' && e[1] == '>' && part == 1) {
			part = 2;
			e++;
		} else if (((*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z')) && len[part] < r) {
			t[part][len[part]++] = *e;
		} else {
			return EIN_NO;                   /* ellipsis, a third operand, too long */
		}
	}
	if (part != 2 || len[0] != r || len[1] != r || len[2] != r)
		return EIN_NO;
	for (int i = 0; i < r - 2; i++)
		if (t[0][i] != t[1][i] || t[0][i] != t[2][i])
			return EIN_NO;
	char a = t[0][r - 2], b = t[0][r - 1], c = t[1][r - 2], d = t[1][r - 1];
	char zi = t[2][r - 2], zj = t[2][r - 1];
	for (int i = 0; i < r - 2; i++)
		if (t[0][i] == a || t[0][i] == b || t[0][i] == c || t[0][i] == d)
			return EIN_NO;
	if (a == b || c == d)
		return EIN_NO;
	if (b == c && a != d && zi == a && zj == d)
		return EIN_MATMUL;
	if (b == d && a != c && zi == a && zj == c)
		return EIN_QKT;
	return EIN_NO;
}

/* v computes scale * Q K^T with masks applied: fills m. Additive masks must
 * sit above every scaling (a mask added below a scale would be scaled). */
static bool scores(Graph *g, uint32_t v, Match *m, int depth)
{
	Node *n = def(g, v, -1);
	double c;
	if (!n || depth > 12)
		return false;
	int r = rank(g, v);
	switch (n->op) {
	case OP_MatMul:
	case OP_Einsum: {
		int kind = n->op == OP_MatMul ? EIN_MATMUL : einsum_kind(n, r);
		if (kind == EIN_NO || r < 3 || rank(g, n->in[0]) != r || rank(g, n->in[1]) != r)
			return false;
		m->q = n->in[0];
		m->kt = kind == EIN_MATMUL ? n->in[1] : IR_NONE;
		m->k = kind == EIN_QKT ? n->in[1] : IR_NONE;
		return true;
	}
	case OP_Mul:
	case OP_Div: {
		int si = scalar(g, n->in[1], &c) ? 1 : n->op == OP_Mul && scalar(g, n->in[0], &c) ? 0 : -1;
		if (si < 0 || c == 0 || !isfinite(c))
			return false;
		Node *th = n->op == OP_Mul ? def(g, n->in[1 - si], OP_Tanh) : NULL;
		if (th && !m->scaled && m->softcap == 0 && c > 0) {
			/* logit softcap c * tanh(k qk): scale k c, softcap c; masks
			 * above it stay masks, none may sit inside the tanh */
			Match save = *m;
			m->softcap = c;
			m->scaled = true;
			if (rank(g, th->in[0]) == r && scores(g, th->in[0], m, depth + 1)) {
				m->scale *= c;
				return true;
			}
			*m = save;
			return false;
		}
		m->scaled = true;
		m->scale *= n->op == OP_Mul ? c : 1.0 / c;
		return scores(g, n->in[1 - si], m, depth + 1);
	}
	case OP_Add:
		for (int side = 0; side < 2; side++) {
			uint32_t s = n->in[side], mask = n->in[1 - side];
			Match save = *m;
			if (m->nm == 8 || m->scaled || rank(g, mask) > r || g->val[mask].dt != DT_F32)
				continue;
			m->mv[m->nm] = mask;
			m->mk[m->nm++] = M_ADD;
			if (rank(g, s) == r && scores(g, s, m, depth + 1))
				return true;
			*m = save;
		}
		return false;
	case OP_Where: {
		uint32_t cnd = n->in[0];
		if (g->val[cnd].dt != DT_BOOL || rank(g, cnd) > r || m->nm == 8)
			return false;
		for (int side = 1; side <= 2; side++) {
			uint32_t fill = n->in[side], s = n->in[3 - side];
			if (!scalar(g, fill, &c) || !(c <= FILL_MIN))
				continue;
			Match save = *m;
			m->mv[m->nm] = cnd;
			m->mk[m->nm++] = side == 1 ? M_DROP : M_KEEP;
			if (rank(g, s) == r && scores(g, s, m, depth + 1))
				return true;
			*m = save;
		}
		return false;
	}
	default:
		return false;
	}
}

/* Transpose(x, perm) through the driver, composed with x's own Transpose
 * (out[i] = in[p[perm[i]]]) and elided when the result is the identity. */
static uint32_t transpose(RW *rw, uint32_t x, const int64_t *perm, const char *name)
{
	Graph *g = rw->g;
	int r = rank(g, x);
	int64_t pp[IR_MAXRANK];
	const int64_t *p;
	Node *t = def(g, x, OP_Transpose);
	if (r < 1 || r > IR_MAXRANK)
		return IR_NONE;
	for (int i = 0; i < r; i++)
		pp[i] = perm[i];
	if (t && ir_attr_ints(t, "perm", &p) == r) {
		for (int i = 0; i < r; i++)
			pp[i] = p[perm[i]];
		x = t->in[0];
	}
	bool ident = true;
	for (int i = 0; i < r; i++)
		ident &= pp[i] == i;
	if (ident)
		return x;
	uint32_t id = ir_node(g, OP_Transpose, name, 1, &x, 1);
	Attr *a = ir_attr_add(g, id, "perm", AK_INTS);
	a->n = r;
	a->ints = arena_memdup(g->arena, pp, r * sizeof *pp);
	Diag d = {0};
	if (op_info[OP_Transpose].shape(g, &g->node[id], &d)) {
		g->node[id].dead = true;
		return IR_NONE;
	}
	push(rw, id);
	return g->node[id].out[0];
}

/* K [.., Tk, D] from K^T [.., D, Tk]: swap the last two axes (undoing the
 * exporter's Transpose when there is one). */
static uint32_t untranspose(RW *rw, uint32_t kt, const char *name)
{
	int r = rank(rw->g, kt);
	int64_t perm[IR_MAXRANK];
	if (r < 2 || r > IR_MAXRANK)
		return IR_NONE;
	for (int i = 0; i < r; i++)
		perm[i] = i;
	perm[r - 2] = r - 1;
	perm[r - 1] = r - 2;
	return transpose(rw, kt, perm, name);
}

/* MatMul(Softmax(scores), V) -> attention(Q, K, V[, mask]); the MatMuls may
 * be Einsums of the same meaning. */
static bool r_sdpa(RW *rw, uint32_t ni)
{
	Graph *g = rw->g;
	Node *mm = &g->node[ni];
	if (mm->nin != 2)
		return false;
	uint32_t P = mm->in[0], V = mm->in[1], out = mm->out[0];
	Node *sm = def(g, P, OP_Softmax);
	int r = rank(g, P);
	if (!sm || (r != 3 && r != 4) || rank(g, V) != r || g->val[V].dt != DT_F32 ||
	    g->val[P].dt != DT_F32 || (mm->op == OP_Einsum && einsum_kind(mm, r) != EIN_MATMUL))
		return false;
	int64_t axis = ir_attr_i(sm, "axis", sm->opset >= 13 ? -1 : 1);
	if (axis != -1 && axis != r - 1)
		return false;
	Match m = {.scale = 1.0};
	if (!scores(g, sm->in[0], &m, 0))
		return false;
	const Value *q = &g->val[m.q], *kt = &g->val[m.kt != IR_NONE ? m.kt : m.k], *v = &g->val[V];
	int dax = m.kt != IR_NONE ? r - 2 : r - 1, tax = m.kt != IR_NONE ? r - 1 : r - 2;
	if (q->dt != DT_F32 || kt->dt != DT_F32 || q->shape.d[r - 1] != kt->shape.d[dax] ||
	    kt->shape.d[tax] != v->shape.d[r - 2])
		return false;
	for (int i = 0; i < r - 2; i++) {
		bool mqa = r == 4 && i == 1 && kt->shape.d[1] == 1 && v->shape.d[1] == 1;
		if (!mqa && (q->shape.d[i] != kt->shape.d[i] || q->shape.d[i] != v->shape.d[i]))
			return false;                  /* (one K/V head broadcast over all is MQA) */
	}
	char name[256];
	snprintf(name, sizeof name, "%s/attention", mm->name ? mm->name : "");
	uint32_t K = m.kt != IR_NONE ? untranspose(rw, m.kt, name) : m.k;
	if (K == IR_NONE)
		return false;
	/* one mask: Not of masked-true conditions, And of bools, Add of floats */
	uint32_t keep = IR_NONE, add = IR_NONE;
	for (int i = 0; i < m.nm; i++) {
		uint32_t x = m.mv[i];
		if (m.mk[i] == M_DROP && (x = mk(rw, OP_Not, name, 1, &x)) == IR_NONE)
			return false;
		uint32_t *acc = m.mk[i] == M_ADD ? &add : &keep;
		if (*acc == IR_NONE) {
			*acc = x;
		} else {
			uint32_t two[2] = {*acc, x};
			if ((*acc = mk(rw, m.mk[i] == M_ADD ? OP_Add : OP_And, name, 2, two)) == IR_NONE)
				return false;
		}
	}
	uint32_t mask = add != IR_NONE ? add : keep;
	if (add != IR_NONE && keep != IR_NONE) {
		float ninf = -INFINITY;
		Shape s0 = {.rank = 0};
		uint32_t three[3] = {keep, add, ir_const_copy(g, NULL, DT_F32, &s0, &ninf)};
		if ((mask = mk(rw, OP_Where, name, 3, three)) == IR_NONE)
			return false;
	}
	uint32_t ins[4] = {m.q, K, V, mask};
	uint32_t id = ir_node(g, OP_attention, name, mask == IR_NONE ? 3 : 4, ins, 1);
	set_attr_f(g, id, "scale", m.scale);
	if (m.softcap > 0)
		set_attr_f(g, id, "softcap", m.softcap);
	Diag d = {0};
	if (op_info[OP_attention].shape(g, &g->node[id], &d)) {
		g->node[id].dead = true;
		return false;
	}
	push(rw, id);
	return replace(rw, out, g->node[id].out[0]);
}

/* ---- rule: gqa ---------------------------------------------------------- */

/* x = Reshape(Expand|Tile(u, .., n, ..)) repeating each of Hkv heads n times
 * in a row ([B,Hkv,1,T,D] -> [B,Hkv,n,T,D] -> [B,Hkv*n,T,D]), u from k [B,Hkv,T,D]
 * by Unsqueeze or Reshape. Returns n (> 1) and sets *base = k, else 0. */
static int64_t repeat_of(Graph *g, uint32_t x, uint32_t *base)
{
	Node *rs = def(g, x, OP_Reshape);
	if (!rs || rank(g, x) != 4)
		return 0;
	uint32_t e = rs->in[0];
	Node *ex = def(g, e, OP_Expand);
	if (!ex)
		ex = def(g, e, OP_Tile);
	if (!ex || rank(g, e) != 5)
		return 0;
	uint32_t u = ex->in[0];
	Node *un = def(g, u, -1);
	if (!un || (un->op != OP_Unsqueeze && un->op != OP_Reshape) || rank(g, u) != 5)
		return 0;
	uint32_t k = un->in[0];
	if (rank(g, k) != 4)
		return 0;
	const Dim *E = g->val[e].shape.d, *U = g->val[u].shape.d, *X = g->val[x].shape.d;
	const Dim *Kd = g->val[k].shape.d;
	if (U[2] != 1 || U[0] != Kd[0] || U[1] != Kd[1] || U[3] != Kd[2] || U[4] != Kd[3])
		return 0;
	if (E[0] != Kd[0] || E[1] != Kd[1] || E[3] != Kd[2] || E[4] != Kd[3] || E[2] < 2)
		return 0;
	if (X[0] != Kd[0] || X[2] != Kd[2] || X[3] != Kd[3] || Kd[1] < 1 || X[1] != Kd[1] * E[2])
		return 0;
	*base = k;
	return E[2];
}

/* attention over K, V repeated per group -> attention over the kv heads. */
static bool r_gqa(RW *rw, uint32_t ni)
{
	Graph *g = rw->g;
	Node *n = &g->node[ni];
	uint32_t k, v;
	int64_t a = repeat_of(g, n->in[1], &k), b = repeat_of(g, n->in[2], &v);
	if (a < 2 || a != b)
		return false;
	int64_t grp = ir_attr_i(n, "kv_group", 1);
	n->in[1] = k;
	n->in[2] = v;
	set_attr_i(g, ni, "kv_group", grp * a);
	push(rw, ni);
	return true;
}

/* ---- rule: scale-qk ----------------------------------------------------- */

/* attention(Q * c, ..) -> attention(Q, ..) {scale *= c}; the same for K (also
 * under a Transpose). */
static bool r_scale(RW *rw, uint32_t ni)
{
	Graph *g = rw->g;
	for (int i = 0; i < 2; i++) {
		uint32_t x = g->node[ni].in[i];
		Node *t = i == 1 ? def(g, x, OP_Transpose) : NULL;
		Node *s = def(g, t ? t->in[0] : x, -1);
		double c;
		if (!s || (s->op != OP_Mul && s->op != OP_Div))
			continue;
		int si = scalar(g, s->in[1], &c) ? 1 : s->op == OP_Mul && scalar(g, s->in[0], &c) ? 0 : -1;
		if (si < 0 || c == 0 || !isfinite(c))
			continue;
		uint32_t src = s->in[1 - si];
		if (t) {
			const int64_t *p;
			if (ir_attr_ints(t, "perm", &p) != rank(g, src) ||
			    (src = transpose(rw, src, p, t->name)) == IR_NONE)
				continue;
		}
		double sc = ir_attr_f(&g->node[ni], "scale", 1.0);
		set_attr_f(g, ni, "scale", s->op == OP_Mul ? sc * c : sc / c);
		g->node[ni].in[i] = src;
		push(rw, ni);
		return true;
	}
	return false;
}

/* ---- rule: causal-mask -------------------------------------------------- */

/* Evaluates mask (which must depend on tensor shapes only: a graph input may
 * reach it through Shape/Size alone) with the reference evaluator at a few
 * bindings of the input symbols, and checks that it is the causal pattern of
 * attention node att (bottom-right aligned), optionally cut to a sliding
 * window that keeps the first keys visible (StreamingLLM sink tokens):
 * returns 1 (window in *win, 0 for none; sinks in *sinks) if so at every
 * binding that evaluates (at least two when there are symbols), else 0. f32 masks count
 * 0 as visible and <= FILL_MIN as masked; any other value fails. */
/* probe's ALiBi mode: the mask must fit alibi_fit at every binding, with the
 * same slopes and the same causal-ness */
typedef struct AlibiProbe {
	float *slopes;
	int maxh;
	int64_t hq;
	bool causal, seen;
} AlibiProbe;

static bool alibi_fit(const float *m, const int64_t *dims, int mr, int r, int64_t hq, int64_t tq,
                      int64_t tk, float *slopes, int maxh, bool *causal);

static int probe(Graph *g, uint32_t att, uint32_t mask, int64_t *win, int64_t *sinks,
                 AlibiProbe *ap)
{
	const Node *a = &g->node[att];
	int r = rank(g, a->in[0]);
	Dim Tq = g->val[a->in[0]].shape.d[r - 2], Tk = g->val[a->in[1]].shape.d[r - 2];
	int mdt = g->val[mask].dt;
	if (rank(g, mask) < 2 || (mdt != DT_BOOL && mdt != DT_F32) || g->val[mask].kind == VK_INPUT)
		return 0;
	uint8_t *cone = calloc(g->nnode + 1, 1);
	uint32_t *stack = malloc((g->nnode + 1) * sizeof *stack), ns = 0, ncone = 0;
	uint32_t *sym = malloc((g->ndim + 1) * sizeof *sym), nsym = 0;
	int64_t *sv = malloc((g->ndim + 1) * sizeof *sv);
	KTensor *ins = calloc(g->nin + 1, sizeof *ins);
	bool *dead = malloc(g->nnode + 1);
	uint32_t leaf[256], nleaf = 0;
	int64_t *leafbuf = malloc(256 * IR_MAXSV * sizeof *leafbuf);
	struct { uint8_t kind; const void *data; } saved[256];
	int res = 0, good = 0;
	int64_t W = 0, S = 0, maxfull0 = 0;
	static const unsigned char dummy[64];
	if (!cone || !stack || !sym || !sv || !ins || !dead || !leafbuf)
		goto out;
	if (def(g, mask, -1))
		stack[ns++] = g->val[mask].def;
	while (ns) {
		uint32_t ni = stack[--ns];
		if (cone[ni])
			continue;
		cone[ni] = 1;
		const Node *n = &g->node[ni];
		if (++ncone > 4096 || n->op == OP_RandomNormal || n->op == OP_RandomUniform ||
		    n->op == OP_RandomNormalLike || n->op == OP_RandomUniformLike ||
		    n->op == OP_Bernoulli || n->op == OP_Multinomial)
			goto out;
		for (int k = 0; k < n->nattr; k++)
			if (n->attr[k].kind == AK_GRAPH)
				goto out;
		for (int k = 0; k < n->nin; k++) {
			uint32_t u = n->in[k];
			if (u == IR_NONE)
				continue;
			if (g->val[u].kind == VK_INPUT) {
				if (n->op != OP_Shape && n->op != OP_Size)
					goto out;          /* depends on input data */
				continue;
			}
			const Value *uv = &g->val[u];
			if (uv->kind == VK_NODE && uv->nsv >= 0 && dt_is_int(uv->dt) && uv->shape.rank <= 1) {
				bool seen = false;             /* known values (shape arithmetic): a leaf */
				for (uint32_t l = 0; l < nleaf; l++)
					seen |= leaf[l] == u;
				if (!seen && nleaf == 256)
					goto out;
				if (!seen)
					leaf[nleaf++] = u;
				continue;
			}
			if (def(g, u, -1))
				stack[ns++] = g->val[u].def;
		}
	}
	for (uint32_t i = 0; i < g->nin; i++) {
		const Value *x = &g->val[g->in[i]];
		for (int k = 0; k < x->shape.rank; k++) {
			Dim dm = x->shape.d[k];
			if (dm >= 0)
				continue;
			if (!ir_dim_is_sym(g, dm))
				goto out;
			bool seen = false;
			for (uint32_t s = 0; s < nsym; s++)
				seen |= sym[s] == DIM_IDX(dm);
			if (!seen)
				sym[nsym++] = DIM_IDX(dm);
		}
	}
	static const int64_t base[] = {1, 3, 6, 13, 40, 130, 600};
	for (size_t pi = 0; pi < (nsym ? sizeof base / sizeof base[0] : 1); pi++) {
		for (uint32_t i = 0; i < g->ndim; i++)
			sv[i] = -1;
		for (uint32_t s = 0; s < nsym; s++)
			sv[sym[s]] = base[pi] + s;
		int64_t tq, tk, numel = 1;
		/* the sizes we pick are kept small; a static model is evaluated as is */
		int64_t cap = nsym ? (int64_t)1 << 22 : (int64_t)1 << 30;
		if (ir_dim_eval(g, Tq, sv, &tq) || ir_dim_eval(g, Tk, sv, &tk) || tq * tk > cap)
			continue;
		for (int k = 0; k < rank(g, mask); k++) {
			int64_t e;
			if (ir_dim_eval(g, g->val[mask].shape.d[k], sv, &e) == 0)
				numel *= e;
		}
		if (numel > cap)
			continue;
		/* nothing in the cone may be bigger than the mask is allowed to be */
		bool small = true;
		for (uint32_t i = 0; small && i < g->nnode; i++) {
			if (!cone[i])
				continue;
			for (int o = 0; small && o < g->node[i].nout; o++) {
				const Value *x = &g->val[g->node[i].out[o]];
				int64_t cnt = 1, e;
				for (int k = 0; k < x->shape.rank; k++)
					if (ir_dim_eval(g, x->shape.d[k], sv, &e) == 0 && e > 0)
						cnt = cnt > cap / e ? cap + 1 : cnt * e;
				small = cnt <= cap;
			}
		}
		if (!small)
			continue;
		bool okin = true;
		for (uint32_t i = 0; i < g->nin; i++) {
			const Value *x = &g->val[g->in[i]];
			ins[i].dt = x->dt;
			ins[i].rank = x->shape.rank;
			for (int k = 0; k < x->shape.rank; k++)
				okin &= ir_dim_eval(g, x->shape.d[k], sv, &ins[i].dims[k]) == 0;
			ins[i].data = (void *)dummy;  /* only Shape/Size of inputs are evaluated */
		}
		/* leaves become constants holding their known values at this binding */
		for (uint32_t l = 0; okin && l < nleaf; l++) {
			const Value *x = &g->val[leaf[l]];
			for (int e = 0; okin && e < x->nsv; e++) {
				int64_t val;
				okin = ir_dim_eval(g, x->sv[e], sv, &val) == 0;
				dt_store_i(x->dt, &leafbuf[l * IR_MAXSV], (size_t)e, val);
			}
		}
		if (!okin)
			continue;
		for (uint32_t l = 0; l < nleaf; l++) {
			Value *x = &g->val[leaf[l]];
			saved[l].kind = x->kind;
			saved[l].data = x->data;
			x->kind = VK_CONST;
			x->data = &leafbuf[l * IR_MAXSV];
		}
		for (uint32_t i = 0; i < g->nnode; i++) {
			dead[i] = g->node[i].dead;
			g->node[i].dead = dead[i] || !cone[i];
		}
		uint32_t *sout = g->out, snout = g->nout;
		g->out = &mask;
		g->nout = 1;
		Diag d = {0};
		KTensor t = {0};
		int rc = ir_eval(g, ins, &t, &d);
		g->out = sout;
		g->nout = snout;
		for (uint32_t i = 0; i < g->nnode; i++)
			g->node[i].dead = dead[i];
		for (uint32_t l = 0; l < nleaf; l++) {
			g->val[leaf[l]].kind = saved[l].kind;
			g->val[leaf[l]].data = saved[l].data;
		}
		if (rc)
			continue;                      /* the model does not run at this size */
		if (ap && tk < 2) {                /* one key: no slope to see */
			free(t.data);
			continue;
		}
		if (ap) {                          /* ALiBi mode */
			float sl[256];
			bool cz = false;
			bool ok = t.dt == DT_F32 && ap->maxh <= 256 &&
			          alibi_fit(t.data, t.dims, t.rank, r, ap->hq, tq, tk, sl, ap->maxh, &cz);
			free(t.data);
			if (!ok)
				goto out;
			if (ap->seen && (cz != ap->causal ||
			                 memcmp(sl, ap->slopes, (size_t)ap->hq * sizeof *sl) != 0))
				goto out;              /* slopes that change with the length */
			memcpy(ap->slopes, sl, (size_t)ap->hq * sizeof *sl);
			ap->causal = cz;
			ap->seen = true;
			good++;
			continue;
		}
		int64_t nb = 1;
		for (int k = 0; k < t.rank - 2; k++)
			nb *= t.dims[k];
		if (t.rank < 2 || t.dims[t.rank - 2] != tq || t.dims[t.rank - 1] != tk) {
			free(t.data);                  /* e.g. a buffer sliced past its end */
			continue;
		}
		bool fit = true;
		/* per row: visible keys must be a run ending at p = i + tk - tq, or
		 * (sink tokens) that run and a run starting at key 0: a row with a
		 * gap gives the window (its last run) and the sinks (its first) */
		int64_t wp = 0, spk = -1, maxfull = 0;
		for (int pass = 0; fit && pass < 2; pass++)
			for (int64_t bI = 0; fit && bI < nb; bI++)
				for (int64_t i = 0; fit && i < tq; i++) {
					int64_t p = i + tk - tq, full = p + 1 < tk ? p + 1 : tk;
					full = full < 0 ? 0 : full;
					int64_t cnt = 0, lead = 0, trail = 0, trailp = 0;
					for (int64_t j = 0; fit && j < tk; j++) {
						size_t o = (size_t)((bI * tq + i) * tk + j);
						bool keep;
						if (t.dt == DT_BOOL) {
							keep = ((const unsigned char *)t.data)[o] != 0;
						} else {
							float x = ((const float *)t.data)[o];
							keep = x == 0;
							fit &= keep || x <= FILL_MIN;
						}
						bool want = j <= p && (pass == 0 || wp == 0 || j > p - wp ||
						                       j < (spk > 0 ? spk : 0));
						if (pass == 0) {
							cnt += keep;
							lead += keep && lead == j;
							trail = keep ? trail + 1 : 0;
							if (j == p)
								trailp = trail;
							fit &= !keep || j <= p;
						} else {
							fit &= keep == want;
						}
					}
					if (pass == 0 && cnt < full && wp == 0) {
						/* the first row with a gap: (p - W, p] and [0, S);
						 * pass 1 checks every row against them */
						wp = trailp;
						spk = lead < cnt ? lead : 0;
					}
					if (pass == 0 && full > maxfull)
						maxfull = full;
				}
		free(t.data);
		if (!fit || (wp > 0 && W > 0 && (wp != W || (spk > 0 ? spk : 0) != S)))
			goto out;
		if (wp > 0) {
			W = wp;
			S = spk > 0 ? spk : 0;
		} else if (maxfull > maxfull0) {
			maxfull0 = maxfull;
		}
		good++;
	}
	/* a window seen at one size must not have been contradicted at another */
	if (ap && good >= (nsym ? 2 : 1)) {
		res = 1;
	} else if (!ap && good >= (nsym ? 2 : 1) && !(W > 0 && maxfull0 > W + S)) {
		*win = W;
		*sinks = S;
		res = 1;
	}
out:
	free(cone);
	free(stack);
	free(sym);
	free(sv);
	free(ins);
	free(dead);
	free(leafbuf);
	return res;
}

/* probe() with a cache per (mask, Tq, Tk): one mask usually serves every layer. */
static int probe_causal(RW *rw, uint32_t att, uint32_t mask, int64_t *win, int64_t *sinks)
{
	Graph *g = rw->g;
	if (mask >= g->nval)
		return 0;
	int r = rank(g, g->node[att].in[0]);
	Dim tq = g->val[g->node[att].in[0]].shape.d[r - 2], tk = g->val[g->node[att].in[1]].shape.d[r - 2];
	for (uint32_t i = 0; i < rw->nprobed; i++)
		if (rw->pc[i].mask == mask && rw->pc[i].tq == tq && rw->pc[i].tk == tk) {
			*win = rw->pc[i].win;
			*sinks = rw->pc[i].sinks;
			return rw->pc[i].res;
		}
	int64_t w = 0;
	int64_t sk = 0;
	int res = probe(g, att, mask, &w, &sk, NULL);
	if (rw->nprobed < sizeof rw->pc / sizeof rw->pc[0])
		rw->pc[rw->nprobed++] = (ProbeHit){mask, tq, tk, w, sk, res};
	*sinks = sk;
	*win = w;
	return res;
}

/* attention(.., mask) whose mask is the causal pattern -> {causal = 1}; also
 * one operand of an Add/And of masks. */
static bool r_causal(RW *rw, uint32_t ni)
{
	Graph *g = rw->g;
	Node *n = &g->node[ni];
	if (n->nin < 4 || n->in[3] == IR_NONE || ir_attr_i(n, "causal", 0))
		return false;
	uint32_t mask = n->in[3], rest = IR_NONE;
	int64_t win = 0;
	int64_t sinks = 0;
	bool hit = probe_causal(rw, ni, mask, &win, &sinks) == 1;
	Node *c = hit ? NULL : def(g, mask, g->val[mask].dt == DT_BOOL ? OP_And : OP_Add);
	for (int side = 0; c && side < 2 && !hit; side++)
		if (probe_causal(rw, ni, c->in[side], &win, &sinks) == 1) {
			hit = true;
			rest = c->in[1 - side];
		}
	if (!hit)
		return false;
	n = &g->node[ni];
	n->in[3] = rest;
	if (rest == IR_NONE)
		n->nin = 3;
	set_attr_i(g, ni, "causal", 1);
	if (win > 0)
		set_attr_i(g, ni, "window", win);
	if (win > 0 && sinks > 0)
		set_attr_i(g, ni, "sinks", sinks);
	push(rw, ni);
	return true;
}

/* ---- rule: alibi-mask --------------------------------------------------- */

/* m (dims md, rank mr <= r, the rank of attention's q) holds ALiBi biases
 * for hq query heads, tq queries and tk keys: per head h and row i, entry j
 * is a_h j + r_(h,i) (softmax ignores the row constant r, so this is
 * a_h (j - p)), except entries <= FILL_MIN, which must then be exactly the
 * causal pattern (*causal set). One batch. Fills slopes[hq]. */
static bool alibi_fit(const float *m, const int64_t *dims, int mr, int r, int64_t hq, int64_t tq,
                      int64_t tk, float *slopes, int maxh, bool *causal)
{
	if (mr < 1 || mr > r || (r != 3 && r != 4))
		return false;
	int64_t md[4] = {1, 1, 1, 1};
	for (int i = 0; i < mr; i++)
		md[4 - mr + i] = dims[i];
	if (r == 3) {                      /* [B,Tq,Tk]: no head axis */
		md[0] = md[1];
		md[1] = 1;
	}
	if (hq < 1 || hq > maxh || tq < 1 || tk < 2 || md[0] != 1 || md[3] != tk ||
	    (md[1] != 1 && md[1] != hq) || (md[2] != 1 && md[2] != tq))
		return false;
	int64_t n = md[1] * md[2] * tk;
	bool masked = false;
	for (int64_t e = 0; e < n; e++) {
		if (!(m[e] > FILL_MIN) && !(m[e] <= FILL_MIN))
			return false;                  /* NaN */
		masked |= m[e] <= FILL_MIN;
	}
	if (masked && md[2] != tq)
		return false;
	for (int64_t h = 0; h < hq; h++) {
		const float *mh = m + (md[1] == 1 ? 0 : h) * md[2] * tk;
		const float *last = mh + (md[2] - 1) * tk;   /* the row that sees the most keys */
		if (!isfinite(last[0]) || !isfinite(last[1]) || last[0] <= FILL_MIN || last[1] <= FILL_MIN)
			return false;
		double sl = (double)last[1] - last[0];
		for (int64_t i = 0; i < md[2]; i++) {
			const float *row = mh + i * tk;
			int64_t p = i + tk - tq;
			for (int64_t j = 0; j < tk; j++) {
				bool off = row[j] <= FILL_MIN;
				if (masked && off != (j > p))
					return false;          /* masked entries: exactly the causal pattern */
				if (off)
					continue;
				double want = (double)row[0] + sl * (double)j;
				if (!isfinite(row[j]) || fabs(row[j] - want) > 1e-4 * (1.0 + fabs(want)))
					return false;
			}
		}
		slopes[h] = (float)sl;
	}
	*causal = masked;
	return true;
}

/* v: a constant, or (probe) a mask computed from shapes only, holding the
 * ALiBi biases of attention att (see alibi_fit; static head count). */
static bool alibi_of(Graph *g, uint32_t att, uint32_t v, float *slopes, int maxh, bool *causal)
{
	if (v >= g->nval || g->val[v].dt != DT_F32)
		return false;
	const Node *a = &g->node[att];
	const Value *x = &g->val[v], *q = &g->val[a->in[0]], *k = &g->val[a->in[1]];
	int r = rank(g, a->in[0]);
	if (r != 3 && r != 4)
		return false;
	int64_t hq = r == 4 ? q->shape.d[1] : 1;
	if (x->kind == VK_CONST) {
		if (!x->data || !ir_shape_static(&x->shape))
			return false;
		return alibi_fit(x->data, x->shape.d, x->shape.rank, r, hq, q->shape.d[r - 2],
		                 k->shape.d[r - 2], slopes, maxh, causal);
	}
	int64_t w = 0, sk = 0;
	AlibiProbe ap = {slopes, maxh, hq, false, false};
	if (hq < 1 || hq > maxh || probe(g, att, v, &w, &sk, &ap) != 1)
		return false;
	*causal = ap.causal;
	return true;
}

/* attention(.., mask) whose f32 mask (or one operand of an Add of masks) is
 * a constant ALiBi bias -> {alibi = [a_h]} (and causal when its -inf
 * entries are the causal pattern). */
static bool r_alibi(RW *rw, uint32_t ni)
{
	Graph *g = rw->g;
	Node *n = &g->node[ni];
	if (n->nin < 4 || n->in[3] == IR_NONE || ir_attr(n, "alibi") || g->val[n->in[3]].dt != DT_F32)
		return false;
	float sl[256];
	bool causal = false;
	uint32_t mask = n->in[3], rest = IR_NONE;
	bool hit = alibi_of(g, ni, mask, sl, 256, &causal);
	Node *c = hit ? NULL : def(g, mask, OP_Add);
	for (int side = 0; c && side < 2 && !hit; side++)
		if (alibi_of(g, ni, c->in[side], sl, 256, &causal)) {
			hit = true;
			rest = c->in[1 - side];
		}
	/* Where(keep, alibi, -inf) as the sdpa rule combines a bool mask with an
	 * additive one: alibi with keep the causal pattern */
	Node *w = hit ? NULL : def(g, mask, OP_Where);
	double fill;
	int64_t win = 0, sinks = 0;
	if (w && scalar(g, w->in[2], &fill) && fill <= FILL_MIN &&
	    alibi_of(g, ni, w->in[1], sl, 256, &causal) &&
	    probe_causal(rw, ni, w->in[0], &win, &sinks) == 1 && win == 0) {
		hit = causal = true;
		rest = IR_NONE;
	}
	if (!hit || (causal && ir_attr_i(n, "window", 0)))
		return false;
	n = &g->node[ni];
	int r = rank(g, n->in[0]);
	int hq = r == 4 ? (int)g->val[n->in[0]].shape.d[1] : 1;
	n->in[3] = rest;
	if (rest == IR_NONE)
		n->nin = 3;
	Attr *al = ir_attr_add(g, ni, "alibi", AK_FLOATS);
	al->n = hq;
	al->floats = arena_memdup(g->arena, sl, (size_t)hq * sizeof *sl);
	if (causal)
		set_attr_i(g, ni, "causal", 1);
	push(rw, ni);
	return true;
}

/* ---- the rule table and the driver -------------------------------------- */

static const Rule rules[] = {
	/* name          root          apply */
	{"sdpa",         OP_MatMul,    r_sdpa},
	{"sdpa-einsum",  OP_Einsum,    r_sdpa},
	{"gqa",          OP_attention, r_gqa},
	{"scale-qk",     OP_attention, r_scale},
	{"causal-mask",  OP_attention, r_causal},
	{"alibi-mask",   OP_attention, r_alibi},
};

bool pass_attention(Graph *g, PassCtx *ctx)
{
	RW rw = {.g = g, .ctx = ctx};
	for (uint32_t i = g->nnode; i-- > 0;)    /* popped in node order */
		if (!g->node[i].dead)
			push(&rw, i);
	bool changed = false;
	while (rw.nwork && rw.napplied < MAX_ITER) {
		uint32_t ni = rw.work[--rw.nwork];
		for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
			if (ni >= g->nnode || g->node[ni].dead || g->node[ni].op != rules[r].root)
				continue;
			if (rules[r].apply(&rw, ni)) {
				changed = true;
				rw.napplied++;
				ctx->merged++;
			}
		}
	}
	free(rw.work);
	if (!changed)
		return false;
	/* values downstream of an attention can get simpler shapes than the
	 * masked-softmax path had: compact and retype */
	if (ir_compact(g, ctx->diag) || ir_infer(g, ctx->diag))
		ctx->failed = true;
	return true;
}
