/* Reference kernel of vibeec's fused `attention` op: plain loops, double
 * accumulation, the oracle the fast kernel (runtime/kattn.c) is tested against.
 *
 * q [B,Hq,Tq,D], k [B,Hkv,Tk,D], v [B,Hkv,Tk,Dv] (rank 3: one head), optional
 * mask (input 3) broadcast to [B,Hq,Tq,Tk] (rank 3: [B,Tq,Tk]): f32 is added to the score, bool
 * keeps a key where true. Query head h reads kv head h / kv_group. Query row i
 * sits at position p = i + Tk - Tq (bottom-right aligned). Key j is visible
 * when: causal => j <= p; window W > 0 => j > p - W (and, when not causal,
 * j < p + W); j < sinks overrides the window (not causality); a bool mask
 * says true. Score s = scale * q.k; softcap c > 0: s = c*tanh(s/c); alibi
 * slope a_h: s += a_h * (j - p); f32 mask: s += m. Out = softmax over the
 * visible keys of s, times v; a row with no visible key (or all -inf)
 * outputs 0. Attributes: scale (default 1/sqrt(D)), causal, kv_group,
 * window, sinks, softcap, alibi (floats, one per query head), and the
 * layout flags q_bthd, k_bthd, v_bthd, out_bthd (rank 4): that operand (or
 * the output) is [B,T,H,D] instead of [B,H,T,D], so the exporter's
 * Transpose(0,2,1,3) around attention needs no copy. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "kern.h"
#include "../runtime/kattn.h"

/* t's (heads, tokens) and its (batch, head, token) strides: [B,H,T,D], or
 * [B,T,H,D] when bthd (rank 3: [B,T,D], one head). */
static void bhtd(const KTensor *t, bool bthd, int64_t *h, int64_t *n, int64_t *st)
{
	int64_t d = t->dims[t->rank - 1];
	if (t->rank == 3) {
		*h = 1, *n = t->dims[1];
		st[0] = *n * d, st[1] = 0, st[2] = d;
	} else if (bthd) {
		*h = t->dims[2], *n = t->dims[1];
		st[0] = *n * *h * d, st[1] = d, st[2] = *h * d;
	} else {
		*h = t->dims[1], *n = t->dims[2];
		st[0] = *h * *n * d, st[1] = *n * d, st[2] = d;
	}
}

int ref_attention_dims(KCall *c, AttnDims *a)
{
	const KTensor *q = &c->in[0], *k = &c->in[1], *v = &c->in[2];
	int r = q->rank;
	if ((r != 3 && r != 4) || k->rank != r || v->rank != r)
		return kerr(c, "attention: q, k, v must have rank 3 or 4");
	if (q->dt != DT_F32 || k->dt != DT_F32 || v->dt != DT_F32)
		return kerr(c, "attention: f32 only");
	bool qt = kattr_i(c, "q_bthd", 0) != 0, kt = kattr_i(c, "k_bthd", 0) != 0;
	bool vt = kattr_i(c, "v_bthd", 0) != 0, ot = kattr_i(c, "out_bthd", 0) != 0;
	if (r == 3 && (qt || kt || vt || ot))
		return kerr(c, "attention: the [B,T,H,D] layout flags need rank 4 operands");
	int64_t hv, tv;
	bhtd(q, qt, &a->Hq, &a->Tq, a->qs);
	bhtd(k, kt, &a->Hkv, &a->Tk, a->ks);
	bhtd(v, vt, &hv, &tv, a->vs);
	a->B = q->dims[0];
	a->D = q->dims[r - 1];
	a->Dv = v->dims[r - 1];
	if (k->dims[0] != a->B || v->dims[0] != a->B || k->dims[r - 1] != a->D ||
	    tv != a->Tk || hv != a->Hkv)
		return kerr(c, "attention: q, k, v shapes do not fit");
	if (a->Hkv <= 0 || a->Hq % a->Hkv)
		return kerr(c, "attention: %lld query heads, %lld kv heads", (long long)a->Hq,
		            (long long)a->Hkv);
	a->grp = a->Hq / a->Hkv;
	int64_t g = kattr_i(c, "kv_group", 0);
	if (g && g != a->grp)
		return kerr(c, "attention: kv_group %lld does not match %lld/%lld heads", (long long)g,
		            (long long)a->Hq, (long long)a->Hkv);
	const float *al;
	int na = kattr_floats(c, "alibi", &al);
	if (na && na != a->Hq)
		return kerr(c, "attention: %d alibi slopes for %lld heads", na, (long long)a->Hq);
	for (int i = 0; i < 4; i++)
		a->mst[i] = 0;
	if (c->nin > 3 && c->in[3].data) {
		const KTensor *m = &c->in[3];
		if (m->dt != DT_F32 && m->dt != DT_BOOL)
			return kerr(c, "attention: mask must be f32 or bool");
		if (m->rank > r)
			return kerr(c, "attention: mask rank %d > %d", m->rank, r);
		/* rank 4: [B,Hq,Tq,Tk]; rank 3: [B,Tq,Tk] */
		int64_t od[4] = {a->B, a->Hq, a->Tq, a->Tk}, o3[3] = {a->B, a->Tq, a->Tk}, st[4];
		const int64_t *full = r == 4 ? od : o3;
		for (int i = 0; i < m->rank; i++) {
			int64_t md = m->dims[m->rank - 1 - i];
			if (md != 1 && md != full[r - 1 - i])
				return kerr(c, "attention: mask does not broadcast to [B,%sTq,Tk]",
				            r == 4 ? "Hq," : "");
		}
		kt_bstrides(m, r, full, st);
		if (r == 4)
			memcpy(a->mst, st, sizeof a->mst);
		else
			a->mst[0] = st[0], a->mst[1] = 0, a->mst[2] = st[1], a->mst[3] = st[2];
	}
	int64_t od[4] = {a->B, a->Hq, a->Tq, a->Dv};
	int64_t o3[3] = {a->B, a->Tq, a->Dv};
	if (ot)
		od[1] = a->Tq, od[2] = a->Hq;
	if (r == 3) {
		a->os[0] = a->Tq * a->Dv, a->os[1] = 0, a->os[2] = a->Dv;
	} else if (ot) {
		a->os[0] = a->Tq * a->Hq * a->Dv, a->os[1] = a->Dv, a->os[2] = a->Hq * a->Dv;
	} else {
		a->os[0] = a->Hq * a->Tq * a->Dv, a->os[1] = a->Tq * a->Dv, a->os[2] = a->Dv;
	}
	return kout(c, 0, r, r == 4 ? od : o3);
}

int ref_attention(KCall *c)
{
	AttnDims a;
	if (ref_attention_dims(c, &a))
		return 1;
	const float *Q = c->in[0].data, *K = c->in[1].data, *V = c->in[2].data;
	float *O = c->out[0].data;
	const KTensor *m = c->nin > 3 && c->in[3].data ? &c->in[3] : NULL;
	double scale = kattr_f(c, "scale", 1.0 / sqrt((double)(a.D ? a.D : 1)));
	int causal = kattr_i(c, "causal", 0) != 0;
	int64_t win = kattr_i(c, "window", 0), sinks = kattr_i(c, "sinks", 0);
	double cap = kattr_f(c, "softcap", 0);
	const float *al = NULL;
	kattr_floats(c, "alibi", &al);
	double *s = malloc((size_t)(a.Tk ? a.Tk : 1) * sizeof *s);
	char *vis = malloc((size_t)(a.Tk ? a.Tk : 1));
	if (!s || !vis) {
		free(s);
		free(vis);
		return kerr(c, "attention: out of memory");
	}
	for (int64_t b = 0; b < a.B; b++)
		for (int64_t h = 0; h < a.Hq; h++) {
			int64_t hk = h / a.grp;
			for (int64_t i = 0; i < a.Tq; i++) {
				const float *q = Q + b * a.qs[0] + h * a.qs[1] + i * a.qs[2];
				int64_t p = i + a.Tk - a.Tq;
				double mx = -INFINITY;
				for (int64_t j = 0; j < a.Tk; j++) {
					int ok = !causal || j <= p;
					if (ok && win > 0 && !(sinks > 0 && j < sinks))
						ok = j > p - win && (causal || j < p + win);
					const float *kr = K + b * a.ks[0] + hk * a.ks[1] + j * a.ks[2];
					double x = 0;
					for (int64_t e = 0; e < a.D; e++)
						x += (double)q[e] * kr[e];
					x *= scale;
					if (cap > 0)
						x = cap * tanh(x / cap);
					if (al)
						x += (double)al[h] * (double)(j - p);
					if (m) {
						int64_t mo = b * a.mst[0] + h * a.mst[1] + i * a.mst[2] + j * a.mst[3];
						if (m->dt == DT_BOOL)
							ok &= ((const unsigned char *)m->data)[mo] != 0;
						else
							x += ((const float *)m->data)[mo];
					}
					vis[j] = ok && x > -INFINITY;
					s[j] = x;
					if (vis[j] && x > mx)
						mx = x;
				}
				double l = 0;
				for (int64_t j = 0; j < a.Tk; j++) {
					s[j] = vis[j] ? exp(s[j] - mx) : 0;
					l += s[j];
				}
				float *o = O + b * a.os[0] + h * a.os[1] + i * a.os[2];
				for (int64_t e = 0; e < a.Dv; e++) {
					double acc = 0;
					if (l > 0)
						for (int64_t j = 0; j < a.Tk; j++)
							if (vis[j])
								acc += s[j] * V[b * a.vs[0] + hk * a.vs[1] + j * a.vs[2] + e];
					o[e] = l > 0 ? (float)(acc / l) : 0.0f;
				}
			}
		}
	free(s);
	free(vis);
	return 0;
}
