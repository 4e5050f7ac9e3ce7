/* Loop lowering of MatMul (batched, numpy-broadcast batch dims, 1-D
 * operands) and Gemm (transA/transB, alpha, beta, broadcast bias) as one
 * tiled loop nest: the outer loop runs over (batch, row tile) in the
 * thread pool; column and depth tiles keep a C tile and a B panel in
 * cache; the innermost loop runs along contiguous columns. */
#include <string.h>
#include "lower.h"

enum { TM = 16, TN = 256, TK = 128 };

typedef struct MM {
	uint32_t a, b, c, y;     /* values; c = bias (Gemm) or IR_NONE */
	Dim M, N, K;
	int nb;                  /* batch dims of the output */
	Dim bext[IR_MAXRANK];    /* their extents */
	Dim ast[IR_MAXRANK], bst[IR_MAXRANK];   /* A/B batch strides (0: broadcast) */
	bool ta, tb;
	double alpha, beta;
	Dim cm, cn;              /* bias dims aligned to [M, N] (1: broadcast) */
} MM;

static int build(Low *L, MM *m)
{
	Graph *g = L->g;
	Kernel *k = kir_kernel(L->p, KK_LOOP, L->nid);
	int ity = kir_ty(g->val[m->y].dt);
	Dim btot = 1;
	for (int i = 0; i < m->nb; i++)
		btot = ir_dim_bin(g, DX_MUL, btot, m->bext[i]);
	Dim nit = ir_dim_bin(g, DX_CDIV, m->M, TM);
	Dim tot = ir_dim_bin(g, DX_MUL, btot, nit);
	int par = L->p->opt > 0 ? KP_THREAD : KP_SERIAL;
	int lt = kir_loop(k, -1, kir_const_i(k, 0), kir_dim(k, tot), 1, par);
	int t = kir_var(k, k->s[lt].var);
	int xnit = kir_dim(k, nit);
	int bt = kir_bin(k, KB_DIV, t, xnit);
	int i0 = kir_mul(k, kir_bin(k, KB_MOD, t, xnit), kir_const_i(k, TM));
	int xM = kir_dim(k, m->M), xN = kir_dim(k, m->N), xK = kir_dim(k, m->K);
	int i1 = kir_min(k, kir_add(k, i0, kir_const_i(k, TM)), xM);
	/* batch offsets */
	int aoff = kir_const_i(k, 0), boff = kir_const_i(k, 0), coff = kir_const_i(k, 0);
	int rest = bt;
	Dim cst = ir_dim_bin(g, DX_MUL, m->M, m->N);
	for (int d = m->nb - 1; d >= 0; d--) {
		int ext = kir_dim(k, m->bext[d]);
		int id = d > 0 ? kir_bin(k, KB_MOD, rest, ext) : rest;
		if (d > 0)
			rest = kir_bin(k, KB_DIV, rest, ext);
		aoff = kir_add(k, aoff, kir_mul(k, id, kir_dim(k, m->ast[d])));
		boff = kir_add(k, boff, kir_mul(k, id, kir_dim(k, m->bst[d])));
		coff = kir_add(k, coff, kir_mul(k, id, kir_dim(k, cst)));
		cst = ir_dim_bin(g, DX_MUL, cst, m->bext[d]);
	}
	int lj0 = kir_loop(k, lt, kir_const_i(k, 0), xN, TN, KP_SERIAL);
	int j0 = kir_var(k, k->s[lj0].var);
	int j1 = kir_min(k, kir_add(k, j0, kir_const_i(k, TN)), xN);
	/* zero the C tile */
	int li = kir_loop(k, lj0, i0, i1, 1, KP_SERIAL);
	int lj = kir_loop(k, li, j0, j1, 1, KP_VECTOR);
	int vi = kir_var(k, k->s[li].var), vj = kir_var(k, k->s[lj].var);
	int cidx = kir_add(k, coff, kir_add(k, kir_mul(k, vi, xN), vj));
	kir_store(k, lj, false, (int)m->y, cidx, kir_const_t(k, ity, 0));
	/* accumulate over depth tiles */
	int lk0 = kir_loop(k, lj0, kir_const_i(k, 0), xK, TK, KP_SERIAL);
	int k0 = kir_var(k, k->s[lk0].var);
	int k1 = kir_min(k, kir_add(k, k0, kir_const_i(k, TK)), xK);
	li = kir_loop(k, lk0, i0, i1, 1, KP_SERIAL);
	vi = kir_var(k, k->s[li].var);
	int lk = kir_loop(k, li, k0, k1, 1, KP_SERIAL);
	int vk = kir_var(k, k->s[lk].var);
	lj = kir_loop(k, lk, j0, j1, 1, KP_VECTOR);
	vj = kir_var(k, k->s[lj].var);
	int aidx = m->ta ? kir_add(k, kir_mul(k, vk, xM), vi) : kir_add(k, kir_mul(k, vi, xK), vk);
	int bidx = m->tb ? kir_add(k, kir_mul(k, vj, xK), vk) : kir_add(k, kir_mul(k, vk, xN), vj);
	int a = kir_load(k, m->a, kir_add(k, aoff, aidx));
	int b = kir_load(k, m->b, kir_add(k, boff, bidx));
	cidx = kir_add(k, coff, kir_add(k, kir_mul(k, vi, xN), vj));
	int prod = kir_bin(k, KB_MUL, kir_cast(k, ity, a), kir_cast(k, ity, b));
	kir_acc(k, lj, false, (int)m->y, KB_ADD, cidx, prod);
	/* Gemm epilogue: y = alpha*y + beta*c */
	if (m->alpha != 1.0 || (m->c != IR_NONE && m->beta != 0.0)) {
		li = kir_loop(k, lj0, i0, i1, 1, KP_SERIAL);
		lj = kir_loop(k, li, j0, j1, 1, KP_VECTOR);
		vi = kir_var(k, k->s[li].var);
		vj = kir_var(k, k->s[lj].var);
		cidx = kir_add(k, kir_mul(k, vi, xN), vj);
		int v = kir_load(k, m->y, cidx);
		if (m->alpha != 1.0)
			v = kir_bin(k, KB_MUL, v, kir_const_t(k, ity, m->alpha));
		if (m->c != IR_NONE && m->beta != 0.0) {
			int ci = kir_const_i(k, 0);
			if (m->cm != 1)
				ci = kir_mul(k, vi, kir_dim(k, m->cn));
			if (m->cn != 1)
				ci = kir_add(k, ci, vj);
			int cv = kir_cast(k, ity, kir_load(k, m->c, ci));
			if (m->beta != 1.0)
				cv = kir_bin(k, KB_MUL, cv, kir_const_t(k, ity, m->beta));
			v = kir_bin(k, KB_ADD, v, cv);
		}
		kir_store(k, lj, false, (int)m->y, cidx, v);
	}
	return LW_OK;
}

static bool mm_dtype(int dt)
{
	return dt == DT_F32 || dt == DT_F64 || dt == DT_I32 || dt == DT_I64 || dt == DT_U32 ||
	       dt == DT_U64;
}

int lower_matmul(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *A = &g->val[n->in[0]], *B = &g->val[n->in[1]], *Y = &g->val[n->out[0]];
	if (!mm_dtype(Y->dt) || A->dt != Y->dt || B->dt != Y->dt)
		return LW_CALL;
	int ra = A->shape.rank, rb = B->shape.rank, ro = Y->shape.rank;
	if (ra < 1 || rb < 1)
		return LW_CALL;
	MM m = {.a = n->in[0], .b = n->in[1], .c = IR_NONE, .y = n->out[0], .alpha = 1, .beta = 0};
	m.M = ra > 1 ? A->shape.d[ra - 2] : 1;
	m.K = A->shape.d[ra - 1];
	m.N = rb > 1 ? B->shape.d[rb - 1] : 1;
	Dim kb = rb > 1 ? B->shape.d[rb - 2] : B->shape.d[0];
	if (m.K >= 0 && kb >= 0 && m.K != kb)
		return ir_node_error(L->d, g, n, E_MODEL, "inner dims %lld and %lld differ",
		                     (long long)m.K, (long long)kb) ? LW_ERR : LW_ERR;
	m.nb = ro - (ra > 1) - (rb > 1);
	if (m.nb < 0)
		return LW_CALL;
	int abat = ra > 2 ? ra - 2 : 0, bbat = rb > 2 ? rb - 2 : 0;
	Dim ast = ir_dim_bin(g, DX_MUL, m.M, m.K), bst = ir_dim_bin(g, DX_MUL, m.K, m.N);
	for (int d = m.nb - 1; d >= 0; d--) {
		m.bext[d] = Y->shape.d[d];
		int da = d - (m.nb - abat), db = d - (m.nb - bbat);
		Dim xa = da >= 0 ? A->shape.d[da] : 1, xb = db >= 0 ? B->shape.d[db] : 1;
		/* a symbolic batch dim that might be 1 while the output's is not:
		 * leave to the reference kernel */
		if ((xa != m.bext[d] && xa != 1) || (xb != m.bext[d] && xb != 1))
			return LW_CALL;
		m.ast[d] = xa == 1 ? 0 : ast;
		m.bst[d] = xb == 1 ? 0 : bst;
		if (da >= 0)
			ast = ir_dim_bin(g, DX_MUL, ast, xa);
		if (db >= 0)
			bst = ir_dim_bin(g, DX_MUL, bst, xb);
	}
	return build(L, &m);
}

int lower_gemm(Low *L, Node *n)
{
	Graph *g = L->g;
	const Value *A = &g->val[n->in[0]], *B = &g->val[n->in[1]], *Y = &g->val[n->out[0]];
	if (!mm_dtype(Y->dt) || A->dt != Y->dt || B->dt != Y->dt || A->shape.rank != 2 ||
	    B->shape.rank != 2)
		return LW_CALL;
	MM m = {.a = n->in[0], .b = n->in[1], .y = n->out[0], .c = IR_NONE};
	m.ta = ir_attr_i(n, "transA", 0) != 0;
	m.tb = ir_attr_i(n, "transB", 0) != 0;
	m.alpha = ir_attr_f(n, "alpha", 1.0);
	m.beta = ir_attr_f(n, "beta", 1.0);
	m.M = A->shape.d[m.ta ? 1 : 0];
	m.K = A->shape.d[m.ta ? 0 : 1];
	m.N = B->shape.d[m.tb ? 0 : 1];
	if (n->nin > 2 && n->in[2] != IR_NONE) {
		const Value *C = &g->val[n->in[2]];
		if (C->dt != Y->dt || C->shape.rank > 2)
			return LW_CALL;
		m.c = n->in[2];
		int rc = C->shape.rank;
		m.cm = rc == 2 ? C->shape.d[0] : 1;
		m.cn = rc >= 1 ? C->shape.d[rc - 1] : 1;
		if ((m.cm != 1 && m.cm != m.M) || (m.cn != 1 && m.cn != m.N))
			return LW_CALL;
	}
	m.nb = 0;
	return build(L, &m);
}
