/* Graph -> kernel IR: the driver (one kernel per node, aliases for the
 * Reshape family, CALL kernels for ops without a loop lowering) and the
 * loop-nest helpers shared by the op lowerings. */
#include <stdlib.h>
#include <string.h>
#include "lower.h"
#include "lib.h"

bool cg_is_alias_op(int op)
{
	return op == OP_Reshape || op == OP_Squeeze || op == OP_Unsqueeze ||
	       op == OP_Flatten || op == OP_Identity;
}

bool lw_dtype_ok(int dt)
{
	return dt != DT_UNDEF && dt != DT_STRING && dt != DT_C64 && dt != DT_C128 && dt < DT_COUNT;
}

void drop_last(KProg *p)
{
	Kernel *k = &p->k[--p->nk];
	free(k->param);
	free(k->local);
	free(k->x);
	free(k->s);
}

int64_t shape_numel_static(const Shape *s)
{
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++) {
		if (s->d[i] < 0)
			return -1;
		n *= s->d[i];
	}
	return n;
}

Dim shape_stride(Graph *g, const Shape *s, int i)
{
	Dim st = 1;
	for (int j = s->rank - 1; j > i; j--)
		st = ir_dim_bin(g, DX_MUL, st, s->d[j]);
	return st;
}

int row_major_index(Low *L, Kernel *k, const Shape *s, const int *idx)
{
	int e = kir_const_i(k, 0);
	for (int i = 0; i < s->rank; i++)
		e = kir_add(k, e, kir_mul(k, idx[i], kir_dim(k, shape_stride(L->g, s, i))));
	return e;
}

int const_ints(Graph *g, uint32_t v, int64_t *out, int max)
{
	if (v == IR_NONE || v >= g->nval)
		return -1;
	const Value *x = &g->val[v];
	if (x->kind != VK_CONST || !x->data || x->shape.rank > 1 ||
	    (x->dt != DT_I64 && x->dt != DT_I32))
		return -1;
	int64_t n = x->shape.rank == 0 ? 1 : x->shape.d[0];
	if (n < 0 || n > max)
		return -1;
	for (int64_t i = 0; i < n; i++)
		out[i] = dt_load_i(x->dt, x->data, (size_t)i);
	return (int)n;
}

/* ---- loop nests --------------------------------------------------------- */
enum { ST_FULL, ST_BCAST, ST_ANY /* output dim is 1 */, ST_UNKNOWN };

int nest_build(Low *L, Kernel *k, Nest *n, const Shape *out, const Shape *ops, int nop,
               bool merge, int parent, bool par)
{
	memset(n, 0, sizeof *n);
	n->rank = out->rank;
	n->out = *out;
	n->nop = nop;
	n->inner = -1;
	for (int j = 0; j < nop; j++) {
		n->op[j] = ops[j];
		for (int d = 0; d < out->rank; d++) {
			int di = d - (out->rank - ops[j].rank);
			Dim o = out->d[d];
			if (di < 0) {
				n->st[j][d] = ST_BCAST;
				continue;
			}
			Dim x = ops[j].d[di];
			if (o == 1)
				n->st[j][d] = ST_ANY;
			else if (x == o)
				n->st[j][d] = ST_FULL;
			else if (x == 1)
				n->st[j][d] = ST_BCAST;
			else if (x >= 0 && o >= 0)
				return ir_node_error(L->d, L->g, &L->g->node[L->nid], E_MODEL,
				                     "operand %d dim %d is %lld, cannot broadcast to %lld", j, di,
				                     (long long)x, (long long)o) ? LW_ERR : LW_ERR;
			else
				n->st[j][d] = ST_UNKNOWN;
		}
	}
	/* group dims */
	uint8_t gst[8];
	for (int d = 0; d < out->rank; d++) {
		bool join = merge && d > 0;
		for (int j = 0; join && j < nop; j++) {
			uint8_t s = n->st[j][d];
			if (s == ST_UNKNOWN || gst[j] == ST_UNKNOWN)
				join = false;
			else if (s != ST_ANY && gst[j] != ST_ANY && s != gst[j])
				join = false;
		}
		if (join) {
			n->glast[n->ng - 1] = d;
			for (int j = 0; j < nop; j++)
				if (n->st[j][d] != ST_ANY)
					gst[j] = n->st[j][d];
		} else {
			n->gfirst[n->ng] = n->glast[n->ng] = d;
			n->ng++;
			for (int j = 0; j < nop; j++)
				gst[j] = n->st[j][d];
		}
	}
	int64_t numel = shape_numel_static(out);
	int cur = parent;
	bool first = true;   /* no loop emitted yet: this one may be the threaded one */
	for (int gi = 0; gi < n->ng; gi++) {
		Dim ext = 1;
		for (int d = n->gfirst[gi]; d <= n->glast[gi]; d++)
			ext = ir_dim_bin(L->g, DX_MUL, ext, out->d[d]);
		/* CPU: a dim of static extent 1 (the batch of one of most models)
		 * gets no loop, its index is 0; else an unmerged nest over
		 * [1, T, C] would thread over the 1 and run serially */
		if (ext == 1 && !L->p->gpu && gi < n->ng - 1) {
			n->gext[gi] = kir_const_i(k, 1);
			n->gvar[gi] = kir_const_i(k, 0);
			continue;
		}
		int mode = KP_SERIAL;
		int64_t grain = 1;
		/* CPU: a run-time sized outermost dim (an export's `batch`, 1 when
		 * it runs) is threaded together with the next group, one loop over
		 * both, its indices by division; the innermost group stays a loop */
		if (first && par && !L->p->gpu && L->p->opt > 0 && gi + 2 < n->ng && ext < 0) {
			Dim ext1 = 1;
			for (int d = n->gfirst[gi + 1]; d <= n->glast[gi + 1]; d++)
				ext1 = ir_dim_bin(L->g, DX_MUL, ext1, out->d[d]);
			int64_t inner = 1;
			for (int d = n->glast[gi + 1] + 1; d < out->rank; d++)
				inner *= out->d[d] >= 0 ? out->d[d] : 64;
			n->gext[gi] = kir_dim(k, ext);
			n->gext[gi + 1] = kir_dim(k, ext1);
			cur = kir_loop(k, cur, kir_const_i(k, 0),
			               kir_dim(k, ir_dim_bin(L->g, DX_MUL, ext, ext1)), 1, KP_THREAD);
			k->s[cur].grain = LW_GRAIN(inner);
			/* divided once per iteration into private scalars, which the
			 * inner loops read */
			int i = kir_var(k, k->s[cur].var), loc = kir_local(k, DT_I64, 2, KM_PRIVATE);
			kir_store(k, cur, true, loc, kir_const_i(k, 0), kir_bin(k, KB_DIV, i, n->gext[gi + 1]));
			kir_store(k, cur, true, loc, kir_const_i(k, 1), kir_bin(k, KB_MOD, i, n->gext[gi + 1]));
			n->gvar[gi] = kir_lread(k, loc, kir_const_i(k, 0));
			n->gvar[gi + 1] = kir_lread(k, loc, kir_const_i(k, 1));
			first = false;
			gi++;
			continue;
		}
		if (first && par && (L->p->gpu || (L->p->opt > 0 && (numel < 0 || numel >= LW_PAR_MIN)))) {
			mode = KP_THREAD;
			int64_t inner = 1;
			for (int d = n->glast[gi] + 1; d < out->rank; d++)
				inner *= out->d[d] >= 0 ? out->d[d] : 64;
			grain = LW_GRAIN(inner);
		} else if (gi == n->ng - 1 && n->ng > 1) {
			mode = KP_VECTOR;
		}
		first = false;
		n->gext[gi] = kir_dim(k, ext);
		cur = kir_loop(k, cur, kir_const_i(k, 0), n->gext[gi], 1, mode);
		k->s[cur].grain = grain;
		n->gvar[gi] = kir_var(k, k->s[cur].var);
	}
	n->inner = n->ng ? cur : parent;
	return LW_OK;
}

int nest_index(Low *L, Kernel *k, const Nest *n, int j)
{
	const Shape *s = &n->op[j];
	int e = kir_const_i(k, 0);
	for (int gi = 0; gi < n->ng; gi++) {
		int d = n->glast[gi];
		int di = d - (n->rank - s->rank);
		/* the group's status: its first non-ANY dim */
		uint8_t st = ST_ANY;
		for (int dd = n->gfirst[gi]; dd <= n->glast[gi]; dd++)
			if (n->st[j][dd] != ST_ANY) {
				st = n->st[j][dd];
				break;
			}
		if (st == ST_BCAST || di < 0)
			continue;
		int v = n->gvar[gi];
		if (st == ST_UNKNOWN) {   /* one dim: broadcast iff it is 1 at run time */
			int isone = kir_bin(k, KB_EQ, kir_dim(k, s->d[di]), kir_const_i(k, 1));
			v = kir_sel(k, isone, kir_const_i(k, 0), v);
		}
		e = kir_add(k, e, kir_mul(k, v, kir_dim(k, shape_stride(L->g, s, di))));
	}
	return e;
}

int nest_out_index(Low *L, Kernel *k, const Nest *n)
{
	int e = kir_const_i(k, 0);
	for (int gi = 0; gi < n->ng; gi++)
		e = kir_add(k, e, kir_mul(k, n->gvar[gi],
		                          kir_dim(k, shape_stride(L->g, &n->out, n->glast[gi]))));
	return e;
}

int nest_dim_var(const Nest *n, int d)
{
	for (int gi = 0; gi < n->ng; gi++)
		if (n->gfirst[gi] == d && n->glast[gi] == d)
			return n->gvar[gi];
	return -1;
}

/* ---- the driver ------------------------------------------------------- */
static int lower_node(Low *L, Node *n)
{
	if (L->p->opt > 0 && cg_group_member(L->g, L->nid))
		return LW_OK;   /* computed in its fuse_group's root (lower_ew.c) */
	switch (n->op) {
	case OP_Softmax: case OP_LogSoftmax:
		if (L->p->gpu && lower_gpu_rows(L, n) == LW_OK)   /* GPU targets: block per row */
			return LW_OK;
		return lower_softmax(L, n);
	case OP_ReduceSum: case OP_ReduceMean: case OP_ReduceMax: case OP_ReduceMin:
		if (L->p->gpu && lower_gpu_rows(L, n) == LW_OK)
			return LW_OK;
		return lower_reduce(L, n);
	case OP_ReduceL1: case OP_ReduceL2: case OP_ReduceLogSum: case OP_ReduceLogSumExp:
	case OP_ReduceProd: case OP_ReduceSumSquare:
		return lower_reduce(L, n);
	case OP_MatMul:
		if (L->p->gpu && lower_gpu_rows(L, n) == LW_OK)   /* GPU: shared-memory tiles */
			return LW_OK;
		return lower_matmul(L, n);
	case OP_Gemm:
		if (L->p->gpu && lower_gpu_rows(L, n) == LW_OK)   /* GPU: shared-memory tiles */
			return LW_OK;
		return lower_gemm(L, n);
	case OP_Transpose: return lower_transpose(L, n);
	case OP_Concat: return lower_concat(L, n);
	case OP_Slice: return lower_slice(L, n);
	case OP_Gather: return lower_gather(L, n);
	case OP_LayerNormalization: case OP_GlobalAveragePool: case OP_GlobalMaxPool:
		if (L->p->gpu && lower_gpu_rows(L, n) == LW_OK)   /* GPU targets: block per row */
			return LW_OK;
		return lower_more(L, n);
	case OP_ArgMax: case OP_ArgMin: case OP_Trilu: case OP_GatherElements: case OP_CumSum:
	case OP_Expand: case OP_BatchNormalization: case OP_Split:
	case OP_Shape: case OP_Size: case OP_ConstantOfShape: case OP_MaxPool: case OP_AveragePool:
	case OP_CumProd:
	case OP_NegativeLogLikelihoodLoss:
		return lower_more(L, n);
	default:
		return lower_elementwise(L, n);
	}
}

/* Can node n be an alias of its first input? Same element count and
 * dtype, and the output is not a graph output whose storage would then
 * be an input or a constant (the host copies those; allowed too). */
static bool can_alias(Graph *g, Node *n)
{
	if (!cg_is_alias_op(n->op) || n->nin < 1 || n->nout != 1 || n->in[0] == IR_NONE)
		return false;
	const Value *a = &g->val[n->in[0]], *b = &g->val[n->out[0]];
	if (a->dt != b->dt || a->shape.rank < 0 || b->shape.rank < 0)
		return false;
	Dim na = ir_shape_numel(g, &a->shape), nb = ir_shape_numel(g, &b->shape);
	return na == nb;
}

int cg_lower(Graph *g, KProg *p, Diag *d)
{
	p->g = g;
	p->alias = malloc((g->nval ? g->nval : 1) * sizeof *p->alias);
	if (!p->alias)
		return diag_set(d, E_MODEL, "out of memory");
	for (uint32_t v = 0; v < g->nval; v++)
		p->alias[v] = v;
	Low L = {g, p, d, 0};
	for (uint32_t i = 0; i < g->nnode; i++) {
		Node *n = &g->node[i];
		if (n->dead)
			continue;
		L.nid = i;
		for (int o = 0; o < n->nout; o++) {
			const Value *v = &g->val[n->out[o]];
			if (v->dt == DT_UNDEF || v->shape.rank < 0)
				return ir_node_error(d, g, n, E_MODEL, "output %d has no inferred type/shape", o);
		}
		if (can_alias(g, n)) {
			p->alias[n->out[0]] = p->alias[n->in[0]];
			continue;
		}
		int rc = LW_CALL;
		bool ok = true;
		for (int j = 0; j < n->nin; j++)
			if (n->in[j] != IR_NONE && !lw_dtype_ok(g->val[n->in[j]].dt))
				ok = false;
		for (int j = 0; j < n->nout; j++)
			if (!lw_dtype_ok(g->val[n->out[j]].dt))
				ok = false;
		for (int j = 0; j < n->nout && ok; j++)
			if (g->val[n->out[j]].shape.rank > IR_MAXRANK)
				ok = false;
		if (ok && p->gpu && (n->op == OP_Conv || n->op == OP_fused_conv))
			rc = lower_gpu_conv(&L, n);   /* GPU targets: device conv */
		if (ok && p->gpu && n->op == OP_attention)
			rc = lower_gpu_attn(&L, n);   /* GPU targets: device flash attention */
		if (ok && p->gpu && n->op == OP_fused_matmul)
			rc = lower_gpu_rows(&L, n);   /* GPU targets: device tiles + epilogue */
		if (ok && rc == LW_CALL)
			rc = lower_lib(&L, n);
		if (ok && rc == LW_CALL)
			rc = lower_node(&L, n);
		if (rc == LW_ERR)
			return d->code ? d->code : diag_set(d, E_MODEL, "lowering failed");
		if (rc == LW_CALL) {
			Kernel *k = kir_kernel(p, KK_CALL, i);
			for (int j = 0; j < n->nin; j++)
				if (n->in[j] != IR_NONE)
					kir_param(k, n->in[j], false);
			for (int j = 0; j < n->nout; j++)
				kir_param(k, n->out[j], true);
			for (int a = 0; a < n->nattr; a++)
				if (n->attr[a].kind == AK_TENSOR && n->attr[a].t != IR_NONE)
					kir_param(k, n->attr[a].t, false);
		}
	}
	return E_OK;
}
