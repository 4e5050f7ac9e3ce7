/* The recurrence matchers of the selective-scan rewrite (rules "unrolled"
 * and "cumsum" of passes/sscan.c): the per-step chain in its export styles
 * (precomputed or per-step discretisation, MatMul / ReduceSum / einsum
 * readouts, time on axis 1 or 2, SSD's per-head decay, a plain gated linear
 * recurrence) and the cumsum form; they fill a Scan capture. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sscan_util.h"

/* dA's exponent or cumsum operand: Mul(Unsqueeze(dt, 3), A) -> dt, A. */
static bool split_dt_A(Graph *g, uint32_t v, uint32_t *dt, uint32_t *A)
{
	uint32_t l[2];
	if (!m_def(g, v, OP_Mul) || m_mul_leaves(g, v, l, 2) != 2)
		return false;
	for (int i = 0; i < 2; i++) {
		uint32_t d = m_unsq(g, l[i], 3);
		if (d != IR_NONE && m_rank(g, d) == 3 && m_rank(g, l[1 - i]) >= 2) {
			*dt = d;
			*A = l[1 - i];
			return true;
		}
	}
	return false;
}

/* dBx = dt * B * x as a Mul tree of Unsqueeze(dt,3), Unsqueeze(B,2),
 * Unsqueeze(x,3) (or Unsqueeze(dt*x, 3)); dt is known. */
static bool split_dBx(Graph *g, uint32_t v, uint32_t dt, uint32_t *x, uint32_t *B)
{
	uint32_t l[3], dv[4];
	int nl = m_mul_leaves(g, v, l, 3), nd = 0, nb = 0;
	if (nl < 2)
		return false;
	for (int i = 0; i < nl; i++) {
		uint32_t s;
		if ((s = m_unsq(g, l[i], 3)) != IR_NONE && m_rank(g, s) == 3) {
			uint32_t p[2];
			int np = m_def(g, s, OP_Mul) ? m_mul_leaves(g, s, p, 2) : -1;
			if (np == 2 && m_rank(g, p[0]) == 3 && m_rank(g, p[1]) == 3 &&
			    (p[0] == dt || p[1] == dt)) {
				dv[nd++] = p[0];
				dv[nd++] = p[1];
			} else {
				dv[nd++] = s;
			}
		} else if ((s = m_unsq(g, l[i], 2)) != IR_NONE && m_rank(g, s) == 3) {
			*B = s;
			nb++;
		} else {
			return false;
		}
		if (nd > 2)
			return false;
	}
	if (nd != 2 || nb != 1)
		return false;
	if (dv[0] == dt)
		*x = dv[1];
	else if (dv[1] == dt)
		*x = dv[0];
	else
		return false;
	return true;
}

/* SSD's exponent: Mul(dt [b,T,h], A [h]) -> dt, A (A as a 1-D view). */
static bool split_dt_A_ssd(Graph *g, uint32_t v, uint32_t *dt, uint32_t *A)
{
	uint32_t l[2];
	if (!m_def(g, v, OP_Mul) || m_mul_leaves(g, v, l, 2) != 2)
		return false;
	for (int i = 0; i < 2; i++) {
		const Value *d = &g->val[l[i]], *a = &g->val[l[1 - i]];
		if (d->shape.rank == 3 && a->shape.rank >= 1 &&
		    a->shape.d[a->shape.rank - 1] == d->shape.d[2]) {
			uint32_t a1 = m_as_vec(g, l[1 - i], 0);
			if (a1 == IR_NONE)
				continue;
			*dt = l[i];
			*A = a1;
			return true;
		}
	}
	return false;
}

/* SSD's input term: Mul(Unsqueeze(Mul(Unsqueeze(dt,3), x), 4), B') with
 * x [b,T,h,p] and B' = B [b,T,n] unsqueezed to [b,T,1,1,n]. */
static bool split_dBx_ssd(Graph *g, uint32_t v, uint32_t dt, uint32_t *x, uint32_t *B)
{
	Node *m = m_def(g, v, OP_Mul);
	for (int i = 0; m && i < 2; i++) {
		uint32_t dx = m_unsq(g, m->in[i], 4), b = m_strip_unsq(g, m->in[1 - i]), l[2];
		const Shape *bs = &g->val[m->in[1 - i]].shape;
		if (dx == IR_NONE || m_rank(g, dx) != 4 || m_rank(g, b) != 3 || bs->rank != 5 ||
		    bs->d[2] != 1 || bs->d[3] != 1 || m_mul_leaves(g, dx, l, 2) != 2)
			continue;
		for (int j = 0; j < 2; j++)
			if (m_unsq(g, l[j], 3) == dt && m_rank(g, l[1 - j]) == 4) {
				*x = l[1 - j];
				*B = b;
				return true;
			}
	}
	return false;
}

/* Does einsum equation eq have the shape of pat (same punctuation, letters
 * renamed one-to-one)? Spaces in eq are ignored. */
static bool eq_match(const char *eq, const char *pat)
{
	char fw[128] = {0}, bw[128] = {0};
	for (;; eq++, pat++) {
		while (*eq == ' ')
			eq++;
		unsigned char e = (unsigned char)*eq, p = (unsigned char)*pat;
		if (!e || !p)
			return !e && !p;
		if (e >= 128 || p >= 128)
			return false;
		bool le = (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z');
		bool lp = p >= 'a' && p <= 'z';
		if (le != lp || (!lp && e != p))
			return false;
		if (lp) {
			if ((fw[p] && fw[p] != (char)e) || (bw[e] && bw[e] != (char)p))
				return false;
			fw[p] = (char)e;
			bw[e] = (char)p;
		}
	}
}

/* mamba_ssm's reference: dA = exp(einsum('bdl,dn->bdln', delta, A)) and
 * dBx = einsum('bdl,bnl,bdl->bdln', delta, B, u) (operands in any order), or
 * the same in the [b,l,d] layout ('bld,dn->bldn', 'bld,bln,bld->bldn'). */
static bool split_einsum(Graph *g, uint32_t ea, uint32_t eb, Scan *s, int tax)
{
	Node *a = m_def(g, ea, OP_Einsum), *b = m_def(g, eb, OP_Einsum);
	if (!a || !b || a->nin != 2 || b->nin != 3)
		return false;
	const char *qa = ir_attr_s(a, "equation", ""), *qb = ir_attr_s(b, "equation", "");
	/* per layout: dA's two operand orders, dBx's three (B first, second, third) */
	static const char *const pa[2][2] = {{"bld,dn->bldn", "dn,bld->bldn"},
	                                     {"bdl,dn->bdln", "dn,bdl->bdln"}};
	static const char *const pb[2][3] = {
		{"bln,bld,bld->bldn", "bld,bln,bld->bldn", "bld,bld,bln->bldn"},
		{"bnl,bdl,bdl->bdln", "bdl,bnl,bdl->bdln", "bdl,bdl,bnl->bdln"}};
	int L = tax == 2;
	if (eq_match(qa, pa[L][0])) {
		s->dt = a->in[0];
		s->A = a->in[1];
	} else if (eq_match(qa, pa[L][1])) {
		s->dt = a->in[1];
		s->A = a->in[0];
	} else {
		return false;
	}
	for (int ib = 0; ib < 3; ib++) {
		if (!eq_match(qb, pb[L][ib]))
			continue;
		int o1 = ib == 0 ? 1 : 0, o2 = ib == 2 ? 1 : 2;
		uint32_t p = b->in[o1], q = b->in[o2];
		if (p != s->dt && q != s->dt)
			return false;
		s->x = p == s->dt ? q : p;
		s->B = b->in[ib];
		return m_rank(g, s->dt) == 3 && m_rank(g, s->x) == 3 && m_rank(g, s->B) == 3;
	}
	return false;
}

/* Readout of step k: Squeeze(MatMul(h, Unsqueeze..(Gather(C,k,1))), [last])
 * with h [b,d,n] (Mamba) or [b,h,p,n] (SSD) and the Unsqueezes making C_k
 * [b,1,..,n,1]; or ReduceSum(Mul(h, Unsqueeze(Gather(C,k,1), 1)), [2]). */
static uint32_t readout(Graph *g, uint32_t y, int64_t k, uint32_t *C, int tax)
{
	int64_t ax[2], kk;
	Node *es = m_def(g, y, OP_Einsum);
	if (es && es->nin == 2) {   /* einsum('bdn,bn->bd', h, C[:, :, k]), either operand order */
		const char *eq = ir_attr_s(es, "equation", "");
		for (int i = 0; i < 2; i++) {
			uint32_t c = m_gather_t(g, es->in[1 - i], tax, &kk);
			if (c != IR_NONE && kk == k && m_rank(g, c) == 3 && m_rank(g, es->in[i]) == 3 &&
			    eq_match(eq, i == 0 ? "bdn,bn->bd" : "bn,bdn->bd")) {
				*C = c;
				return es->in[i];
			}
		}
		return IR_NONE;
	}
	Node *s = m_def(g, y, OP_Squeeze);
	int R = s ? m_rank(g, s->in[0]) : -1;
	if (s && (R == 3 || R == 4) && m_axes(g, s, R, ax, 2) == 1 && ax[0] == R - 1) {
		Node *mm = m_def(g, s->in[0], OP_MatMul);
		if (!mm || m_rank(g, mm->in[0]) != R || m_rank(g, mm->in[1]) != R)
			return IR_NONE;
		uint32_t c = m_gather_t(g, m_strip_unsq(g, mm->in[1]), tax, &kk);
		if (c == IR_NONE || kk != k || m_rank(g, c) != 3)
			return IR_NONE;
		const Shape *cs = &g->val[c].shape, *vs = &g->val[mm->in[1]].shape;
		for (int i = 1; i < R; i++)
			if (vs->d[i] != (i == R - 2 ? cs->d[2] : 1))
				return IR_NONE;
		if (vs->d[0] != cs->d[0])
			return IR_NONE;
		*C = c;
		return mm->in[0];
	}
	Node *r = m_def(g, y, OP_ReduceSum);
	if (r && m_rank(g, r->in[0]) == 3 && ir_attr_i(r, "keepdims", 1) == 0 &&
	    m_axes(g, r, 3, ax, 2) == 1 && ax[0] == 2) {
		Node *m = m_def(g, r->in[0], OP_Mul);
		for (int i = 0; m && i < 2; i++) {
			uint32_t ck = m_unsq(g, m->in[1 - i], 1);
			uint32_t c = ck == IR_NONE ? IR_NONE : m_gather_t(g, ck, tax, &kk);
			if (c != IR_NONE && kk == k && m_rank(g, c) == 3 && m_rank(g, m->in[i]) == 3) {
				*C = c;
				return m->in[i];
			}
		}
	}
	return IR_NONE;
}

/* Step k of the chain: h = Add(Mul(Gather(a,k,1), prev), Gather(b,k,1)) in
 * any operand order; a, b and prev, when known (!= IR_NONE) must match. k == 0 may
 * also be h = Gather(b,0,1) (zero initial state). */
static bool step(Graph *g, uint32_t h, int64_t k, uint32_t *a, uint32_t *b, uint32_t *prev,
                 uint32_t *aw, int tax)
{
	int64_t kk;
	Node *add = m_def(g, h, OP_Add);
	if (!add) {
		uint32_t bs = k == 0 ? m_gather_t(g, h, tax, &kk) : IR_NONE;
		if (bs == IR_NONE || kk != 0 || (*b != IR_NONE && bs != *b))
			return false;
		*b = bs;
		*prev = IR_NONE;
		return true;
	}
	for (int i = 0; i < 2; i++) {
		uint32_t bs = m_gather_t(g, add->in[1 - i], tax, &kk);
		Node *mul = m_def(g, add->in[i], OP_Mul);
		if (bs == IR_NONE || kk != k || !mul || (*b != IR_NONE && bs != *b))
			continue;
		for (int j = 0; j < 2; j++) {
			uint32_t as = m_gather_t(g, m_strip_unsq(g, mul->in[j]), tax, &kk);
			uint32_t pv = mul->in[1 - j];
			if (as == IR_NONE || kk != k || (*a != IR_NONE && as != *a) ||
			    (*prev != IR_NONE && pv != *prev))
				continue;
			*a = as;
			*b = bs;
			*prev = pv;
			*aw = mul->in[j];
			return true;
		}
	}
	return false;
}

/* dt_k, x_k: Unsqueeze(Gather(src,k,1), 2) of a [b,T,d] source ([b,d,1]);
 * B_k: Unsqueeze(Gather(B,k,1), 1) ([b,1,n]). Returns the source. */
static uint32_t ps_vec(Graph *g, uint32_t v, int64_t k, int axis)
{
	int64_t kk;
	uint32_t s = m_unsq(g, v, axis);
	uint32_t src = s == IR_NONE ? IR_NONE : m_gather_t(g, s, 1, &kk);
	return src != IR_NONE && kk == k && m_rank(g, src) == 3 ? src : IR_NONE;
}

/* Step k with the discretisation inside the loop (per step):
 *   h = Exp(Mul(dt_k, A)) * prev + Mul-tree{dt_k, B_k, x_k}
 * (dt_k, x_k [b,d,1], B_k [b,1,n]; dt_k*x_k may be one Unsqueeze of a Mul);
 * k == 0 may be the input term alone. Sources must agree across steps. */
static bool step_ps(Graph *g, uint32_t h, int64_t k, Scan *s, uint32_t *prev)
{
	Node *add = m_def(g, h, OP_Add);
	for (int i = 0; i < 3; i++) {
		uint32_t bt = i < 2 ? (add ? add->in[1 - i] : IR_NONE) : (k == 0 ? h : IR_NONE);
		Node *mul = i < 2 && add ? m_def(g, add->in[i], OP_Mul) : NULL;
		uint32_t pv = IR_NONE, dt = s->dt, A = s->A;
		if (bt == IR_NONE || (i < 2 && !mul))
			continue;
		bool dec = i == 2;   /* i == 2: no decay term (zero initial state) */
		for (int j = 0; !dec && j < 2; j++) {
			Node *e = m_def(g, mul->in[j], OP_Exp);
			uint32_t l[2];
			if (!e || (*prev != IR_NONE && mul->in[1 - j] != *prev) ||
			    m_mul_leaves(g, e->in[0], l, 2) != 2)
				continue;
			for (int q = 0; q < 2 && !dec; q++) {
				uint32_t d = ps_vec(g, l[q], k, 2);
				if (d != IR_NONE && m_rank(g, l[1 - q]) >= 2 && (dt == IR_NONE || d == dt) &&
				    (A == IR_NONE || l[1 - q] == A)) {
					dt = d;
					A = l[1 - q];
					pv = mul->in[1 - j];
					dec = true;
				}
			}
		}
		if (!dec || dt == IR_NONE)
			continue;
		uint32_t l[3], dv[4], B = IR_NONE;
		int nl = m_mul_leaves(g, bt, l, 3), nd = 0;
		bool bad = nl < 2;
		for (int q = 0; q < nl && !bad; q++) {
			uint32_t v;
			Node *inner = m_def(g, m_unsq(g, l[q], 2), OP_Mul);
			if ((v = ps_vec(g, l[q], k, 2)) != IR_NONE) {
				dv[nd++] = v;
			} else if (inner && inner->nin == 2 && nd < 3) {   /* Unsqueeze(dt_k * x_k) */
				int64_t k1, k2;
				uint32_t p1 = m_gather_t(g, inner->in[0], 1, &k1);
				uint32_t p2 = m_gather_t(g, inner->in[1], 1, &k2);
				bad = p1 == IR_NONE || p2 == IR_NONE || k1 != k || k2 != k;
				if (!bad) {
					dv[nd++] = p1;
					dv[nd++] = p2;
				}
			} else if ((v = ps_vec(g, l[q], k, 1)) != IR_NONE && B == IR_NONE) {
				B = v;
			} else {
				bad = true;
			}
			bad = bad || nd > 2;
		}
		if (bad || nd != 2 || B == IR_NONE || (dv[0] != dt && dv[1] != dt))
			continue;
		uint32_t x = dv[0] == dt ? dv[1] : dv[0];
		if ((s->x != IR_NONE && s->x != x) || (s->B != IR_NONE && s->B != B))
			continue;
		s->dt = dt;
		s->A = A;
		s->x = x;
		s->B = B;
		*prev = pv;
		return true;
	}
	return false;
}

/* Rule "unrolled": root Concat(Unsqueeze(y_0,1), ..., Unsqueeze(y_{T-1},1)). */
bool sscan_match_unrolled(RW *rw, uint32_t root, void *cap)
{
	Graph *g = rw->g;
	Node *n = &g->node[root];
	Scan *s = cap;
	int r = m_rank(g, n->out[0]);
	int64_t axis = ir_attr_i(n, "axis", 0), T = n->nin;
	if (r < 0 || g->val[n->out[0]].dt != DT_F32)
		return false;
	if (axis < 0)
		axis += r;
	/* time on axis 1, or axis 2 for the [b,d,T] layout of mamba_ssm's reference */
	if ((axis != 1 && !(axis == 2 && r == 3)) || T < 1 || g->val[n->out[0]].shape.d[axis] != T)
		return false;
	int tax = (int)axis;
	memset(s, 0xff, sizeof *s);
	s->linear = s->ssd = false;
	s->layout = 0;
	uint32_t *hs = malloc((size_t)T * sizeof *hs);
	if (!hs)
		return false;
	bool ok = true;
	for (int64_t k = 0; k < T && ok; k++) {
		uint32_t y = m_unsq(g, n->in[k], tax), c = IR_NONE;
		if (y == IR_NONE) {
			ok = false;
			break;
		}
		uint32_t h = readout(g, y, k, &c, tax);
		bool lin = h == IR_NONE;
		if (lin)
			h = y;
		if (k == 0)
			s->linear = lin;
		if (lin != s->linear || (!lin && s->C != IR_NONE && c != s->C)) {
			ok = false;
			break;
		}
		if (!lin)
			s->C = c;
		hs[k] = h;
	}
	/* the chain, last step first: the dA and dBx sources get fixed early */
	bool chain = ok;
	for (int64_t k = T - 1; k >= 0 && chain; k--) {
		uint32_t prev = k > 0 ? hs[k - 1] : IR_NONE, aw = IR_NONE;
		chain = step(g, hs[k], k, &s->a, &s->b, &prev, &aw, tax);
		if (k == T - 1)
			s->aw = aw;
		if (chain && k == 0)
			s->h0 = prev;
	}
	if (ok && !chain && !s->linear && tax == 1) {   /* discretised inside the loop */
		for (int64_t k = T - 1; k >= 0 && ok; k--) {
			uint32_t prev = k > 0 ? hs[k - 1] : IR_NONE;
			ok = step_ps(g, hs[k], k, s, &prev);
			if (ok && k == 0)
				s->h0 = prev;
		}
		s->hlast = hs[T - 1];
		free(hs);
		if (ok && s->h0 != IR_NONE && m_const_all(g, s->h0, 0.0))
			s->h0 = IR_NONE;
		return ok;
	}
	ok = ok && chain;
	if (ok) {   /* (T == 1 with h = Gather(b, 0) leaves a unknown: not a scan) */
		s->hlast = hs[T - 1];
		ok = s->a != IR_NONE && s->b != IR_NONE && s->aw != IR_NONE &&
		     g->val[s->a].shape.d[tax] == T && g->val[s->a].dt == DT_F32 &&
		     g->val[s->b].dt == DT_F32;
	}
	free(hs);
	if (!ok)
		return false;
	if (s->h0 != IR_NONE && m_const_all(g, s->h0, 0.0))
		s->h0 = IR_NONE;
	const Value *av = &g->val[s->a], *bv = &g->val[s->b], *wv = &g->val[s->aw];
	s->layout = tax == 2;
	if (tax == 2) {   /* dA = exp(einsum(bdl,dn->bdln)), dBx = einsum(bdl,bnl,bdl->bdln) */
		Node *e = m_def(g, s->a, OP_Exp);
		return !s->linear && pass_same_type(av, bv) && m_rank(g, s->a) == 4 && e &&
		       m_def(g, s->aw, OP_Gather) && split_einsum(g, e->in[0], s->b, s, 2);
	}
	if (!s->linear && av->shape.rank == 3 && bv->shape.rank == 5) {
		/* SSD: decay [b,T,h] read as [b,h,1,1] against the [b,h,p,n] state */
		const Shape *w = &wv->shape;
		if (w->rank != 4 || w->d[0] != av->shape.d[0] || w->d[1] != av->shape.d[2] ||
		    w->d[2] != 1 || w->d[3] != 1)
			return false;
		s->ssd = true;
		Node *e = m_def(g, s->a, OP_Exp);
		return e && split_dt_A_ssd(g, e->in[0], &s->dt, &s->A) &&
		       split_dBx_ssd(g, s->b, s->dt, &s->x, &s->B);
	}
	if (!pass_same_type(av, bv) || !m_def(g, s->aw, OP_Gather))
		return false;
	if (s->linear)
		return true;
	Node *e = m_def(g, s->a, OP_Exp);
	return m_rank(g, s->a) == 4 && e &&
	       ((split_dt_A(g, e->in[0], &s->dt, &s->A) && split_dBx(g, s->b, s->dt, &s->x, &s->B)) ||
	        split_einsum(g, e->in[0], s->b, s, 1));
}

/* Rule "cumsum": root ReduceSum_n(Mul(h, Unsqueeze(C,2))) with
 * h = ReduceSum_j(Mul(Exp(Where(causal, cs_i - cs_j, -inf)), Unsqueeze(dBx,1))),
 * cs = CumSum(dt*A, axis 1). */
bool sscan_match_cumsum(RW *rw, uint32_t root, void *cap)
{
	Graph *g = rw->g;
	Node *n = &g->node[root];
	Scan *s = cap;
	int64_t ax[2], cax;
	memset(s, 0xff, sizeof *s);
	s->linear = s->ssd = false;
	s->layout = 0;
	if (m_rank(g, n->in[0]) != 4 || ir_attr_i(n, "keepdims", 1) != 0 ||
	    m_axes(g, n, 4, ax, 2) != 1 || ax[0] != 3 || g->val[n->out[0]].dt != DT_F32)
		return false;
	Node *m = m_def(g, n->in[0], OP_Mul), *h = NULL;
	for (int i = 0; m && i < 2 && !h; i++) {
		uint32_t c = m_unsq(g, m->in[1 - i], 2);
		Node *r = m_def(g, m->in[i], OP_ReduceSum);
		if (c != IR_NONE && m_rank(g, c) == 3 && r && m_rank(g, r->in[0]) == 5 &&
		    ir_attr_i(r, "keepdims", 1) == 0 && m_axes(g, r, 5, ax, 2) == 1 && ax[0] == 2) {
			s->C = c;
			h = r;
		}
	}
	if (!h)
		return false;
	Node *wm = m_def(g, h->in[0], OP_Mul), *ex = NULL;
	for (int i = 0; wm && i < 2 && !ex; i++) {
		uint32_t b = m_unsq(g, wm->in[1 - i], 1);
		if (b != IR_NONE && m_rank(g, b) == 4 && (ex = m_def(g, wm->in[i], OP_Exp)))
			s->b = b;
	}
	Node *wh = ex ? m_def(g, ex->in[0], OP_Where) : NULL;
	if (!wh || wh->nin != 3 || m_rank(g, wh->in[0]) != 5 || !m_causal(g, wh->in[0]))
		return false;
	const Value *mk = &g->val[wh->in[0]];
	if (mk->shape.d[0] != 1 || mk->shape.d[3] != 1 || mk->shape.d[4] != 1)
		return false;
	Node *cs = m_def(g, wh->in[2], OP_ConstantOfShape);
	const Attr *va = cs ? ir_attr(cs, "value") : NULL;
	bool ninf = va && va->kind == AK_TENSOR && m_const_all(g, va->t, -INFINITY);
	if (!ninf && !m_const_all(g, wh->in[2], -INFINITY))
		return false;
	Node *sub = m_def(g, wh->in[1], OP_Sub);
	if (!sub)
		return false;
	uint32_t ci = m_unsq(g, sub->in[0], 2), cj = m_unsq(g, sub->in[1], 1);
	Node *cum = ci != IR_NONE && ci == cj ? m_def(g, ci, OP_CumSum) : NULL;
	if (!cum || !m_const_int(g, cum->in[1], &cax) || (cax != 1 && cax != -3) ||
	    ir_attr_i(cum, "exclusive", 0) || ir_attr_i(cum, "reverse", 0) || m_rank(g, ci) != 4)
		return false;
	return split_dt_A(g, cum->in[0], &s->dt, &s->A) && split_dBx(g, s->b, s->dt, &s->x, &s->B);
}

