/* Shape rule of vibeec's fused `attention` op (see ir/ref_attn.c for its
 * semantics): q [B,Hq,Tq,D], k [B,Hkv,Tk,D], v [B,Hkv,Tk,Dv] (or rank 3, one
 * head), optional mask broadcastable to [B,Hq,Tq,Tk] ([B,Tq,Tk]) -> [B,Hq,Tq,Dv].
 * Rank 4 layout flags q_bthd, k_bthd, v_bthd, out_bthd: that operand (the
 * output) is [B,T,H,D] instead. */
#include "shape.h"

int sh_attention(Graph *g, Node *n, Diag *d)
{
	Value *q = sh_in(g, n, 0), *k = sh_in(g, n, 1), *v = sh_in(g, n, 2);
	Value *m = sh_in(g, n, 3);
	char b1[128], b2[128], b3[128];
	if (!q || !k || !v)
		return ir_node_error(d, g, n, E_MODEL, "attention needs q, k and v");
	int r = q->shape.rank;
	if ((r != 3 && r != 4) || k->shape.rank != r || v->shape.rank != r)
		return ir_node_error(d, g, n, E_MODEL, "q, k, v must all have rank 3 or 4, got %s, %s, %s",
		                     sh_tstr(g, q, b1, sizeof b1), sh_tstr(g, k, b2, sizeof b2),
		                     sh_tstr(g, v, b3, sizeof b3));
	if (q->dt != DT_F32 || k->dt != DT_F32 || v->dt != DT_F32)
		return ir_node_error(d, g, n, E_MODEL, "attention supports f32 q, k, v only, got %s, %s, %s",
		                     sh_tstr(g, q, b1, sizeof b1), sh_tstr(g, k, b2, sizeof b2),
		                     sh_tstr(g, v, b3, sizeof b3));
	bool fq = ir_attr_i(n, "q_bthd", 0) != 0, fk = ir_attr_i(n, "k_bthd", 0) != 0;
	bool fv = ir_attr_i(n, "v_bthd", 0) != 0, fo = ir_attr_i(n, "out_bthd", 0) != 0;
	if (r == 3 && (fq || fk || fv || fo))
		return ir_node_error(d, g, n, E_MODEL, "the [B,T,H,D] layout flags (q_bthd, k_bthd, "
		                     "v_bthd, out_bthd) need rank 4 operands");
	bool ok = true;
	/* every operand seen as [B,H,T,D] (swapped back from [B,T,H,D]) */
	Dim Q[4], K[4], V[4];
	for (int i = 0; i < r; i++)
		Q[i] = q->shape.d[i], K[i] = k->shape.d[i], V[i] = v->shape.d[i];
	if (fq)
		Q[1] = q->shape.d[2], Q[2] = q->shape.d[1];
	if (fk)
		K[1] = k->shape.d[2], K[2] = k->shape.d[1];
	if (fv)
		V[1] = v->shape.d[2], V[2] = v->shape.d[1];
	Shape o = q->shape;
	for (int i = 0; i < r; i++)
		o.d[i] = Q[i];
	o.d[0] = sh_unify(sh_unify(Q[0], K[0], &ok), V[0], &ok);
	sh_unify(Q[r - 1], K[r - 1], &ok);              /* head dim of q and k */
	Dim tk = sh_unify(K[r - 2], V[r - 2], &ok);     /* key length */
	Dim hq = r == 4 ? Q[1] : 1, hkv = r == 4 ? sh_unify(K[1], V[1], &ok) : 1;
	if (!ok)
		return ir_node_error(d, g, n, E_MODEL, "q %s, k %s, v %s do not fit [B,Hq,Tq,D], "
		                     "[B,Hkv,Tk,D], [B,Hkv,Tk,Dv]", sh_tstr(g, q, b1, sizeof b1),
		                     sh_tstr(g, k, b2, sizeof b2), sh_tstr(g, v, b3, sizeof b3));
	int64_t grp = ir_attr_i(n, "kv_group", 0);
	if (grp < 0)
		return ir_node_error(d, g, n, E_MODEL, "kv_group must be >= 1, got %lld", (long long)grp);
	if (hq >= 0 && hkv >= 0) {
		if (hkv == 0 || hq % hkv || (grp && hq != hkv * grp))
			return ir_node_error(d, g, n, E_MODEL, "%lld query heads do not split into groups of "
			                     "%lld kv heads%s", (long long)hq, (long long)hkv,
			                     grp ? " with the given kv_group" : "");
	}
	if (ir_attr_i(n, "window", 0) < 0 || ir_attr_i(n, "sinks", 0) < 0 ||
	    ir_attr_f(n, "softcap", 0) < 0)
		return ir_node_error(d, g, n, E_MODEL, "window, sinks and softcap must be >= 0");
	const Attr *al = ir_attr(n, "alibi");
	if (al && (al->kind != AK_FLOATS || (hq >= 0 && al->n != hq)))
		return ir_node_error(d, g, n, E_MODEL, "alibi must list one slope per query head");
	if (m) {
		Dim full[4] = {o.d[0], hq, Q[r - 2], tk};
		if (m->dt != DT_F32 && m->dt != DT_BOOL)
			return ir_node_error(d, g, n, E_MODEL, "mask must be f32 (added) or bool (true = "
			                     "attend), got %s", sh_tstr(g, m, b1, sizeof b1));
		if (m->shape.rank > r)
			return ir_node_error(d, g, n, E_MODEL, "mask rank %d > %d", m->shape.rank, r);
		if (r == 3)
			full[1] = full[0];               /* rank 3: [B,Tq,Tk] */
		for (int i = 0; i < m->shape.rank; i++) {
			Dim md = m->shape.d[m->shape.rank - 1 - i], fd = full[3 - i];
			if (md != 1 && md != fd && !(md >= 0 && fd >= 0 && md == fd) &&
			    !(md < 0 || fd < 0))
				return ir_node_error(d, g, n, E_MODEL, "mask %s does not broadcast to "
				                     "[B,%sTq,Tk]", sh_tstr(g, m, b1, sizeof b1), r == 4 ? "Hq," : "");
		}
	}
	o.d[r - 1] = V[r - 1];
	if (fo) {
		Dim t = o.d[1];
		o.d[1] = o.d[2], o.d[2] = t;
	}
	return sh_out(g, n, d, 0, q->dt, &o);
}
