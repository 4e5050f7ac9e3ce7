/* Storage planning for a lowered program. Static-size intermediates get
 * workspace offsets by greedy best fit over their live ranges (largest
 * first, into the tightest gap among buffers live at the same time); the
 * output of an elementwise loop kernel (or the residual of a library GEMM
 * or Conv) takes the storage of a same-shape input that dies there (in
 * place: each element is read before it is written, at the same index);
 * constants get 64-aligned offsets in the weights blob; run-time sized
 * values are left to the per-run arena. */
#include <stdlib.h>
#include <string.h>
#include "plan.h"

#define ALIGN(x) (((x) + 63) & ~(uint64_t)63)

static uint64_t value_bytes(const Graph *g, const Value *v, bool *dyn)
{
	uint64_t n = dt_size(v->dt);
	if (!n)
		n = 1;
	for (int i = 0; i < v->shape.rank; i++) {
		if (v->shape.d[i] < 0) {
			*dyn = true;
			return 0;
		}
		n *= (uint64_t)v->shape.d[i];
	}
	(void)g;
	*dyn = false;
	return n;
}

typedef struct Buf {
	uint32_t slot;
	int first, last;
	uint64_t size, off;
} Buf;

static int by_size(const void *a, const void *b)
{
	const Buf *x = a, *y = b;
	if (x->size != y->size)
		return x->size < y->size ? 1 : -1;
	return x->first - y->first;
}

static int by_off(const void *a, const void *b)
{
	const Buf *x = *(Buf *const *)a, *y = *(Buf *const *)b;
	return x->off < y->off ? -1 : x->off > y->off;
}

static uint32_t need(const KProg *p, Plan *pl, uint32_t v)
{
	uint32_t r = p->alias[v];
	if (pl->slot[r] == SLOT_NONE) {
		uint32_t s = pl->nslot++;
		pl->slot[r] = s;
		pl->owner[s] = r;
		pl->defk[s] = -1;
	}
	pl->slot[v] = pl->slot[r];
	return pl->slot[r];
}

int cg_plan(const KProg *p, Plan *pl, Diag *d)
{
	const Graph *g = p->g;
	memset(pl, 0, sizeof *pl);
	size_t nv = g->nval ? g->nval : 1;
	pl->slot = malloc(nv * sizeof *pl->slot);
	pl->kind = calloc(nv, 1);
	pl->owner = calloc(nv, sizeof *pl->owner);
	pl->off = calloc(nv, sizeof *pl->off);
	pl->bytes = calloc(nv, sizeof *pl->bytes);
	pl->defk = calloc(nv, sizeof *pl->defk);
	int *first = malloc(nv * sizeof *first), *last = malloc(nv * sizeof *last);
	if (!pl->slot || !pl->kind || !pl->owner || !pl->off || !pl->bytes || !pl->defk || !first ||
	    !last) {
		free(first);
		free(last);
		cg_plan_free(pl);
		return diag_set(d, E_MODEL, "out of memory");
	}
	for (size_t i = 0; i < nv; i++)
		pl->slot[i] = SLOT_NONE;
	for (uint32_t i = 0; i < g->nin; i++)
		need(p, pl, g->in[i]);
	for (int ki = 0; ki < p->nk; ki++)
		for (int j = 0; j < p->k[ki].nparam; j++)
			need(p, pl, p->k[ki].param[j].value);
	for (uint32_t i = 0; i < g->nout; i++)
		need(p, pl, g->out[i]);
	for (uint32_t s = 0; s < pl->nslot; s++) {
		first[s] = p->nk;
		last[s] = -1;
	}
	for (int ki = 0; ki < p->nk; ki++)
		for (int j = 0; j < p->k[ki].nparam; j++) {
			uint32_t s = pl->slot[p->k[ki].param[j].value];
			if (ki < first[s])
				first[s] = ki;
			if (ki > last[s])
				last[s] = ki;
			if (p->k[ki].param[j].write && pl->defk[s] < 0)
				pl->defk[s] = ki;
		}
	for (uint32_t i = 0; i < g->nout; i++)
		last[pl->slot[g->out[i]]] = p->nk;
	/* in place: grp[s] = the slot whose storage s shares */
	uint32_t *grp = malloc((pl->nslot ? pl->nslot : 1) * sizeof *grp);
	if (!grp) {
		free(first);
		free(last);
		cg_plan_free(pl);
		return diag_set(d, E_MODEL, "out of memory");
	}
	for (uint32_t s = 0; s < pl->nslot; s++)
		grp[s] = s;
	for (int ki = 0; p->opt > 0 && ki < p->nk; ki++) {
		const Kernel *k = &p->k[ki];
		const Node *n = &g->node[k->node];
		/* library kernels with a residual read it once per output element,
		 * at the output's index, before anything else writes there */
		bool lib_res = k->kind == KK_LIB && k->lib.res != IR_NONE;
		if ((!lib_res && (k->kind != KK_LOOP || !cg_is_elementwise(n->op))) || n->nout != 1)
			continue;
		uint32_t o = pl->slot[n->out[0]];
		const Value *ov = &g->val[pl->owner[o]];
		bool dyn;
		uint64_t ob = value_bytes(g, ov, &dyn);
		if (dyn || ov->kind != VK_NODE || pl->defk[o] != ki || last[o] == p->nk || grp[o] != o)
			continue;
		for (int j = 0; j < k->nparam; j++) {
			uint32_t pv = k->param[j].value;
			if (k->param[j].write || (lib_res && pv != k->lib.res))
				continue;
			uint32_t i = pl->slot[pv];
			if (i == SLOT_NONE)
				continue;
			const Value *iv = &g->val[pl->owner[i]];
			if (i == o || iv->kind != VK_NODE || last[i] != ki ||
			    value_bytes(g, iv, &dyn) != ob || dyn || g->val[pv].shape.rank != ov->shape.rank)
				continue;
			bool same = true;
			for (int r = 0; r < ov->shape.rank; r++)
				same &= g->val[pv].shape.d[r] == ov->shape.d[r];
			/* no other param of the kernel shares this storage (an alias
			 * read at other indices) */
			for (int j2 = 0; j2 < k->nparam; j2++)
				same &= j2 == j || pl->slot[k->param[j2].value] != i;
			/* a residual that is also the product's operand (x + x W) is
			 * read again after the prefill: not in place */
			for (int j2 = 0; lib_res && j2 < n->nin; j2++)
				same &= j2 == 3 || n->in[j2] == IR_NONE || pl->slot[n->in[j2]] != i;
			if (!same)
				continue;
			uint32_t r0 = i;
			while (grp[r0] != r0)
				r0 = grp[r0];
			grp[o] = r0;
			if (last[o] > last[r0])
				last[r0] = last[o];
			break;
		}
	}
	/* kinds and sizes; constants into the blob */
	Buf *bufs = calloc(pl->nslot ? pl->nslot : 1, sizeof *bufs);
	Buf **live = calloc(pl->nslot ? pl->nslot : 1, sizeof *live);
	int nb = 0;
	for (uint32_t s = 0; s < pl->nslot; s++) {
		const Value *v = &g->val[pl->owner[s]];
		bool dyn;
		uint64_t bytes = value_bytes(g, v, &dyn);
		if (v->kind == VK_INPUT) {
			pl->kind[s] = SL_INPUT;
		} else if (v->kind == VK_CONST) {
			pl->kind[s] = SL_CONST;
			if (dyn || !v->data) {
				free(first); free(last); free(bufs); free(live);
				cg_plan_free(pl);
				return diag_set(d, E_MODEL, "%s: constant '%s' has no static shape or data",
				                g->source, v->name ? v->name : "?");
			}
			pl->off[s] = pl->w_bytes;
			pl->bytes[s] = bytes;
			pl->w_bytes = ALIGN(pl->w_bytes + bytes);
		} else if (dyn) {
			pl->kind[s] = SL_DYN;
		} else {
			pl->kind[s] = SL_STATIC;
			pl->bytes[s] = bytes;
			if (bufs && grp[s] == s) {
				int f = pl->defk[s] >= 0 ? pl->defk[s] : first[s];
				bufs[nb++] = (Buf){s, f, last[s] < f ? f : last[s], ALIGN(bytes ? bytes : 1), 0};
			}
			pl->naive_bytes += ALIGN(bytes ? bytes : 1);
		}
	}
	/* greedy best fit, largest first */
	qsort(bufs, (size_t)nb, sizeof *bufs, by_size);
	for (int i = 0; i < nb; i++) {
		int nl = 0;
		for (int j = 0; j < i; j++)
			if (bufs[j].first <= bufs[i].last && bufs[i].first <= bufs[j].last)
				live[nl++] = &bufs[j];
		qsort(live, (size_t)nl, sizeof *live, by_off);
		uint64_t best = UINT64_MAX, bestgap = UINT64_MAX, at = 0;
		for (int j = 0; j < nl; j++) {
			if (live[j]->off > at && live[j]->off - at >= bufs[i].size &&
			    live[j]->off - at < bestgap) {
				bestgap = live[j]->off - at;
				best = at;
			}
			uint64_t end = live[j]->off + live[j]->size;
			if (end > at)
				at = end;
		}
		bufs[i].off = best != UINT64_MAX ? best : at;
		pl->off[bufs[i].slot] = bufs[i].off;
		if (bufs[i].off + bufs[i].size > pl->ws_bytes)
			pl->ws_bytes = bufs[i].off + bufs[i].size;
	}
	for (uint32_t s = 0; s < pl->nslot; s++) {
		uint32_t r = s;
		while (grp[r] != r)
			r = grp[r];
		if (r != s && pl->kind[s] == SL_STATIC)
			pl->off[s] = pl->off[r];
	}
	free(grp);
	free(bufs);
	free(live);
	free(first);
	free(last);
	return E_OK;
}

void cg_plan_free(Plan *pl)
{
	free(pl->slot);
	free(pl->kind);
	free(pl->owner);
	free(pl->off);
	free(pl->bytes);
	free(pl->defk);
	memset(pl, 0, sizeof *pl);
}
