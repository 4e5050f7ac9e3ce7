/* Selective-scan rewrite rule: the silu(z) gate of a Mamba-2 mixer applied
 * after the heads are merged back,
 *     Mul(Reshape(ssd(..) [b,T,h,p] -> [b,T,h*p]), Mul(z, Sigmoid(z)))
 * (either operand order), becomes
 *     Reshape(ssd(.., z = Reshape(z, [0,0,h,p])), same shape)
 * so the gate runs inside the fused kernel. The ssd output must have no
 * other use and no gate yet; z has the merged shape. */
#include <string.h>
#include "sscan_util.h"

typedef struct Gate {
	uint32_t scan, reshape, z;
} Gate;

bool sscan_match_ssd_gate(RW *rw, uint32_t root, void *cap)
{
	Graph *g = rw->g;
	const Node *n = &g->node[root];
	Gate *c = cap;
	if (n->nin != 2)
		return false;
	for (int i = 0; i < 2; i++) {
		Node *r = m_def(g, n->in[i], OP_Reshape);
		Node *s = r ? m_def(g, r->in[0], OP_ssd) : NULL;
		Node *m = m_def(g, n->in[1 - i], OP_Mul);
		if (!s || !m || s->out[0] != r->in[0] || rw_uses(rw, r->in[0]) != 1 ||
		    rw_uses(rw, n->in[i]) != 1 || (s->nin > 6 && s->in[6] != IR_NONE))
			continue;
		const Value *y = &g->val[s->out[0]], *rv = &g->val[n->in[i]], *ov = &g->val[n->out[0]];
		/* [b,T,h,p] -> [b,T,h*p], h and p static */
		if (y->shape.rank != 4 || rv->shape.rank != 3 || y->shape.d[2] < 1 || y->shape.d[3] < 1 ||
		    rv->shape.d[0] != y->shape.d[0] || rv->shape.d[1] != y->shape.d[1] ||
		    rv->shape.d[2] != y->shape.d[2] * y->shape.d[3] || !pass_same_type(rv, ov))
			continue;
		for (int j = 0; j < 2; j++) {
			Node *sg = m_def(g, m->in[1 - j], OP_Sigmoid);
			if (sg && sg->in[0] == m->in[j] && pass_same_type(&g->val[m->in[j]], rv)) {
				c->scan = (uint32_t)(s - g->node);
				c->reshape = (uint32_t)(r - g->node);
				c->z = m->in[j];
				return true;
			}
		}
	}
	return false;
}

bool sscan_rewrite_ssd_gate(RW *rw, uint32_t root, void *cap)
{
	Graph *g = rw->g;
	Gate *c = cap;
	const Node *s = &g->node[c->scan];
	const Value *y = &g->val[s->out[0]];
	int64_t dims[4] = {0, 0, y->shape.d[2], y->shape.d[3]};
	Shape s4 = {.rank = 1, .d = {4}};
	uint32_t shp = ir_const_copy(g, "ssd_gate_shape", DT_I64, &s4, dims);
	uint32_t rin[2] = {c->z, shp};
	uint32_t zr = rw_node(rw, OP_Reshape, c->scan, "/z_heads", 2, rin, 1);
	if (!rw_infer(rw, zr))
		return false;
	s = &g->node[c->scan];
	uint32_t ins[9];
	for (int i = 0; i < 9; i++)
		ins[i] = i < s->nin ? s->in[i] : IR_NONE;
	ins[6] = g->node[zr].out[0];
	int nout = s->nout;
	uint32_t id = rw_node(rw, OP_ssd, c->scan, "", 9, ins, nout);
	s = &g->node[c->scan];
	ir_attr_add(g, id, "dt_softplus", AK_INT)->i = ir_attr_i(s, "dt_softplus", 0);
	int64_t chunk = ir_attr_i(s, "chunk", -1);
	if (chunk > 0)
		ir_attr_add(g, id, "chunk", AK_INT)->i = chunk;
	if (!rw_infer(rw, id))
		return false;
	uint32_t rr[2] = {g->node[id].out[0], g->node[c->reshape].in[1]};
	uint32_t back = rw_node(rw, OP_Reshape, c->reshape, "/gated", 2, rr, 1);
	if (ir_attr_i(&g->node[c->reshape], "allowzero", 0))
		ir_attr_add(g, back, "allowzero", AK_INT)->i = 1;
	if (!rw_infer(rw, back))
		return false;
	if (!rw_replace(rw, g->node[root].out[0], g->node[back].out[0]))
		return false;
	if (nout > 1)
		rw_replace(rw, g->node[c->scan].out[1], g->node[id].out[1]);
	rw_push(rw, id);
	return true;
}
