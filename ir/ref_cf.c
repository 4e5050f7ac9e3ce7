/* Reference kernels of the control-flow ops If, Loop and Scan. Their
 * subgraphs run through the reference evaluator (ir_eval). A graph
 * attribute arrives as the Graph itself (evaluator, constant folding) or,
 * in generated code, as its IR text, parsed here. The node's inputs after
 * its _nformal ONNX inputs are the outer values the subgraphs capture, in
 * attribute order (see frontend/onnx.c, ir/shape_cf.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "ref_util.h"

typedef struct Sub {
	const char *name;
	Graph *g;
	bool owned;
	int base;             /* node input of its first captured value */
	int nform;            /* formal inputs */
} Sub;

/* The graph attributes of c in order (at most max). */
static int subs_get(KCall *c, int nformal_node, const int *nform, Sub *s, int max, int *ns)
{
	*ns = 0;
	int base = nformal_node;
	for (int a = 0; a < c->nattr; a++) {
		const KAttr *ka = &c->attr[a];
		if (ka->kind != AK_GRAPH)
			continue;
		if (*ns == max)
			return kerr(c, "unexpected graph attribute '%s'", ka->name);
		Sub *x = &s[(*ns)++];
		x->name = ka->name;
		x->owned = false;
		x->g = (Graph *)ka->g;
		if (!x->g) {
			Diag d = {0};
			if (!ka->s)
				return kerr(c, "graph attribute '%s' is empty", ka->name);
			x->g = ir_parse(ka->s, ka->name, &d);
			if (!x->g)
				return kerr(c, "graph attribute '%s': %s", ka->name, d.msg);
			x->owned = true;
		}
		x->nform = nform[*ns - 1];
		x->base = base;
		if ((int)x->g->nin < x->nform)
			return kerr(c, "subgraph '%s' has %u inputs, expected at least %d", ka->name,
			            x->g->nin, x->nform);
		base += (int)x->g->nin - x->nform;
	}
	if (base != c->nin)
		return kerr(c, "%d inputs, but the subgraphs account for %d", c->nin, base);
	return 0;
}

static void subs_free(Sub *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i].owned)
			ir_graph_free(s[i].g);
}

/* Run sub on in (its nin inputs); out gets malloc'd outputs. */
static int run_sub(KCall *c, const Sub *s, const KTensor *in, KTensor *out)
{
	Diag d = {0};
	memset(out, 0, s->g->nout * sizeof *out);
	if (ir_eval(s->g, in, out, &d) == 0)
		return 0;
	return kerr(c, "in subgraph '%s': %s", s->name, d.msg);
}

static void free_outs(KTensor *t, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		free(t[i].data);
		t[i].data = NULL;
	}
}

/* Output i of c := t (shape and bytes). */
static int put(KCall *c, int i, const KTensor *t)
{
	if (c->out[i].dt == DT_UNDEF)
		return 0;
	if (c->out[i].dt != t->dt)
		return kerr(c, "output %d: subgraph gives %s, expected %s", i, dt_name(t->dt),
		            dt_name(c->out[i].dt));
	if (kout(c, i, t->rank, t->dims))
		return 1;
	size_t nb = kt_nbytes(t);
	if (nb)
		memcpy(c->out[i].data, t->data, nb);
	return 0;
}

static bool truth(const KTensor *t)
{
	return t->data && kt_numel(t) >= 1 && dt_load_f(t->dt, t->data, 0) != 0;
}

int ref_if(KCall *c)
{
	int nf = (int)kattr_i(c, "_nformal", 1);
	const int nform[2] = {0, 0};
	Sub s[2];
	int ns, rc = 1;
	if (nf != 1 || subs_get(c, nf, nform, s, 2, &ns))
		goto out_early;
	if (c->in[0].data == NULL || kt_numel(&c->in[0]) != 1) {
		kerr(c, "the condition must have one element");
		goto out;
	}
	const char *want = truth(&c->in[0]) ? "then_branch" : "else_branch";
	const Sub *b = NULL;
	for (int i = 0; i < ns; i++)
		if (!strcmp(s[i].name, want))
			b = &s[i];
	if (!b) {
		kerr(c, "no %s", want);
		goto out;
	}
	if ((int)b->g->nout != c->nout) {
		kerr(c, "%s has %u outputs, the node %d", want, b->g->nout, c->nout);
		goto out;
	}
	KTensor *o = calloc(b->g->nout + 1, sizeof *o);
	if (!o) {
		kerr(c, "out of memory");
		goto out;
	}
	rc = run_sub(c, b, c->in + b->base, o);
	for (int i = 0; i < c->nout && !rc; i++)
		rc = put(c, i, &o[i]);
	free_outs(o, b->g->nout);
	free(o);
out:
	subs_free(s, ns);
	return rc;
out_early:
	if (nf != 1)
		return kerr(c, "bad input count");
	subs_free(s, ns);
	return 1;
}

/* A growing byte buffer for one scan output. */
typedef struct Acc {
	unsigned char *p;
	size_t len, cap;
	KTensor elem;         /* shape of one iteration's slice */
} Acc;

static int acc_add(Acc *a, const void *p, size_t n)
{
	if (a->len + n > a->cap) {
		size_t cap = a->cap ? a->cap : 256;
		while (cap < a->len + n)
			cap *= 2;
		unsigned char *q = realloc(a->p, cap);
		if (!q)
			return -1;
		a->p = q;
		a->cap = cap;
	}
	if (n)
		memcpy(a->p + a->len, p, n);
	a->len += n;
	return 0;
}

static bool same_shape(const KTensor *a, const KTensor *b)
{
	if (a->rank != b->rank || a->dt != b->dt)
		return false;
	for (int i = 0; i < a->rank; i++)
		if (a->dims[i] != b->dims[i])
			return false;
	return true;
}

/* Element shape of a scan output that never ran: the body's static output
 * shape. */
static int static_elem(KCall *c, const Graph *g, uint32_t o, KTensor *t)
{
	const Value *v = &g->val[g->out[o]];
	t->dt = v->dt;
	t->rank = v->shape.rank;
	for (int i = 0; i < v->shape.rank; i++) {
		if (v->shape.d[i] < 0)
			return kerr(c, "scan output %u ran zero times and its element shape is not static", o);
		t->dims[i] = v->shape.d[i];
	}
	return 0;
}

int ref_loop(KCall *c)
{
	int nf = (int)kattr_i(c, "_nformal", c->nin);
	if (nf < 2 || nf > c->nin)
		return kerr(c, "bad input count");
	const int nform[1] = {nf};
	Sub s[1];
	int ns;
	if (subs_get(c, nf, nform, s, 1, &ns)) {
		subs_free(s, ns);
		return 1;
	}
	if (ns != 1) {
		subs_free(s, ns);
		return kerr(c, "no body");
	}
	const Sub *b = &s[0];
	int N = nf - 2, K = (int)b->g->nout - 1 - N;
	if (K < 0 || c->nout != N + K) {
		subs_free(s, ns);
		return kerr(c, "the body's outputs do not match the node's");
	}
	bool hasm = c->in[0].data && c->in[0].dt != DT_UNDEF && kt_numel(&c->in[0]) >= 1;
	bool hasc = c->in[1].data && c->in[1].dt != DT_UNDEF && kt_numel(&c->in[1]) >= 1;
	if (!hasm && !hasc) {
		subs_free(s, ns);
		return kerr(c, "neither a trip count nor a condition: the loop would never end");
	}
	int64_t M = hasm ? dt_load_i(c->in[0].dt, c->in[0].data, 0) : INT64_MAX;
	bool cond = hasc ? truth(&c->in[1]) : true;
	int nin = (int)b->g->nin, nout = (int)b->g->nout, rc = 0;
	KTensor *bin = calloc(nin + 1, sizeof *bin), *bout = calloc(nout + 1, sizeof *bout);
	KTensor *car = calloc(N + 1, sizeof *car);
	bool *own = calloc(N + 1, sizeof *own);
	Acc *acc = calloc(K + 1, sizeof *acc);
	if (!bin || !bout || !car || !own || !acc) {
		rc = kerr(c, "out of memory");
		goto out;
	}
	for (int k = 0; k < N; k++)
		car[k] = c->in[2 + k];
	int64_t it = 0, itv;
	uint8_t cv;
	for (; it < M && cond; it++) {
		itv = it;
		cv = 1;
		bin[0] = (KTensor){.dt = DT_I64, .rank = 0, .data = &itv};
		bin[1] = (KTensor){.dt = DT_BOOL, .rank = 0, .data = &cv};
		for (int k = 0; k < N; k++)
			bin[2 + k] = car[k];
		for (int k = nf; k < nin; k++)
			bin[k] = c->in[b->base + k - nf];
		if ((rc = run_sub(c, b, bin, bout)))
			goto out;
		cond = truth(&bout[0]);
		for (int k = 0; k < N; k++) {
			if (own[k])
				free(car[k].data);
			car[k] = bout[1 + k];
			own[k] = true;
			bout[1 + k].data = NULL;
		}
		for (int j = 0; j < K; j++) {
			const KTensor *e = &bout[1 + N + j];
			if (it == 0)
				acc[j].elem = *e;
			else if (!same_shape(&acc[j].elem, e)) {
				rc = kerr(c, "scan output %d changes shape between iterations", j);
				goto out;
			}
			if (acc_add(&acc[j], e->data, kt_nbytes(e))) {
				rc = kerr(c, "out of memory");
				goto out;
			}
		}
		free_outs(bout, nout);
	}
	for (int k = 0; k < N && !rc; k++)
		rc = put(c, k, &car[k]);
	for (int j = 0; j < K && !rc; j++) {
		KTensor t = acc[j].elem;
		if (it == 0 && (rc = static_elem(c, b->g, 1 + N + j, &t)))
			break;
		if (t.rank + 1 > K_MAXRANK) {
			rc = kerr(c, "scan output %d: rank too large", j);
			break;
		}
		memmove(t.dims + 1, t.dims, t.rank * sizeof *t.dims);
		t.dims[0] = it;
		t.rank++;
		t.data = acc[j].p;
		rc = put(c, N + j, &t);
	}
out:
	if (bout)
		free_outs(bout, nout);
	for (int k = 0; car && own && k < N; k++)
		if (own[k])
			free(car[k].data);
	for (int j = 0; acc && j < K; j++)
		free(acc[j].p);
	free(bin);
	free(bout);
	free(car);
	free(own);
	free(acc);
	subs_free(s, ns);
	return rc;
}

/* One Scan over `len` steps. st: N initial states; sc: M scan inputs with
 * their axis and direction; captures follow in bin. Results: N final
 * states and K stacked scan outputs in res (malloc'd). */
typedef struct ScanIO {
	int N, M, K;
	const KTensor *st, *sc;
	const int *iax, *idir, *oax, *odir;
	const KTensor *cap;
	int ncap;
} ScanIO;

static int run_scan(KCall *c, const Sub *b, const ScanIO *io, int64_t len, KTensor *res)
{
	int nin = (int)b->g->nin, nout = (int)b->g->nout, rc = 0;
	int N = io->N, M = io->M, K = io->K;
	KTensor *bin = calloc(nin + 1, sizeof *bin), *bout = calloc(nout + 1, sizeof *bout);
	unsigned char **slice = calloc(M + 1, sizeof *slice);
	memset(res, 0, (N + K) * sizeof *res);
	if (!bin || !bout || !slice) {
		rc = kerr(c, "out of memory");
		goto out;
	}
	for (int k = 0; k < N; k++)
		bin[k] = io->st[k];
	for (int j = 0; j < M; j++) {
		const KTensor *x = &io->sc[j];
		KTensor *e = &bin[N + j];
		int ax = io->iax[j];
		e->dt = x->dt;
		e->rank = x->rank - 1;
		for (int i = 0, r = 0; i < x->rank; i++)
			if (i != ax)
				e->dims[r++] = x->dims[i];
		if (x->dims[ax] != len) {
			rc = kerr(c, "scan input %d has %lld steps, expected %lld", j,
			          (long long)x->dims[ax], (long long)len);
			goto out;
		}
		slice[j] = malloc(kt_nbytes(e) + 1);
		if (!slice[j]) {
			rc = kerr(c, "out of memory");
			goto out;
		}
		e->data = slice[j];
	}
	for (int k = 0; k < io->ncap; k++)
		bin[N + M + k] = io->cap[k];
	for (int64_t t = 0; t < len; t++) {
		for (int j = 0; j < M; j++) {        /* gather step t of scan input j */
			const KTensor *x = &io->sc[j];
			int ax = io->iax[j];
			int64_t tt = io->idir[j] ? len - 1 - t : t;
			size_t es = dt_size(x->dt);
			int64_t outer = ref_prod(x->dims, 0, ax), inner = ref_prod(x->dims, ax + 1, x->rank);
			for (int64_t o = 0; o < outer; o++)
				memcpy(slice[j] + (size_t)(o * inner) * es,
				       (const unsigned char *)x->data + (size_t)((o * len + tt) * inner) * es,
				       (size_t)inner * es);
		}
		if ((rc = run_sub(c, b, bin, bout)))
			goto out;
		for (int k = 0; k < N; k++) {
			free(res[k].data);
			res[k] = bout[k];
			bin[k] = res[k];
			bout[k].data = NULL;
		}
		for (int j = 0; j < K; j++) {       /* scatter into stacked output j */
			const KTensor *e = &bout[N + j];
			KTensor *y = &res[N + j];
			int ax = io->oax[j];
			if (ax < 0 || ax > e->rank || e->rank + 1 > K_MAXRANK) {
				rc = kerr(c, "scan_output_axes[%d] out of range", j);
				goto out;
			}
			if (t == 0) {
				y->dt = e->dt;
				y->rank = e->rank + 1;
				for (int i = 0, r = 0; i < y->rank; i++)
					y->dims[i] = i == ax ? len : e->dims[r++];
				y->data = malloc(kt_nbytes(y) + 1);
				if (!y->data) {
					rc = kerr(c, "out of memory");
					goto out;
				}
			} else {
				for (int i = 0, r = 0; i < y->rank; i++)
					if (i != ax && y->dims[i] != e->dims[r++]) {
						rc = kerr(c, "scan output %d changes shape between steps", j);
						goto out;
					}
			}
			int64_t tt = io->odir[j] ? len - 1 - t : t;
			size_t es = dt_size(e->dt);
			int64_t outer = ref_prod(e->dims, 0, ax), inner = ref_prod(e->dims, ax, e->rank);
			for (int64_t o = 0; o < outer; o++)
				memcpy((unsigned char *)y->data + (size_t)((o * len + tt) * inner) * es,
				       (const unsigned char *)e->data + (size_t)(o * inner) * es,
				       (size_t)inner * es);
		}
		free_outs(bout, nout);
	}
	for (int k = 0; k < N; k++)             /* zero steps: states pass through */
		if (!res[k].data) {
			res[k] = io->st[k];
			size_t nb = kt_nbytes(&res[k]);
			res[k].data = malloc(nb + 1);
			if (!res[k].data) {
				rc = kerr(c, "out of memory");
				goto out;
			}
			if (nb)
				memcpy(res[k].data, io->st[k].data, nb);
		}
	for (int j = 0; j < K; j++)
		if (!res[N + j].data) {
			KTensor e;
			if ((rc = static_elem(c, b->g, N + j, &e)))
				goto out;
			KTensor *y = &res[N + j];
			int ax = io->oax[j];
			y->dt = e.dt;
			y->rank = e.rank + 1;
			for (int i = 0, r = 0; i < y->rank; i++)
				y->dims[i] = i == ax ? 0 : e.dims[r++];
			y->data = malloc(1);
		}
out:
	if (bout)
		free_outs(bout, nout);
	for (int j = 0; slice && j < M; j++)
		free(slice[j]);
	free(slice);
	free(bin);
	free(bout);
	if (rc)
		free_outs(res, N + K);
	return rc;
}

static int axes_attr(KCall *c, const char *name, int cnt, int *out, int rank_of(int, void *),
                     void *ctx, bool dir)
{
	const int64_t *v;
	int n = kattr_ints(c, name, &v);
	if (n && n != cnt)
		return kerr(c, "%s has %d entries, expected %d", name, n, cnt);
	for (int j = 0; j < cnt; j++) {
		int64_t a = n ? v[j] : 0;
		if (dir) {
			if (a != 0 && a != 1)
				return kerr(c, "%s[%d] = %lld (must be 0 or 1)", name, j, (long long)a);
		} else {
			int r = rank_of(j, ctx);
			if (a < -r || a >= r)
				return kerr(c, "%s[%d] = %lld out of range", name, j, (long long)a);
			if (a < 0)
				a += r;
		}
		out[j] = (int)a;
	}
	return 0;
}

typedef struct RankCtx {
	const KTensor *sc;    /* scan inputs */
	const Graph *g;       /* body, for output ranks */
	int N;
} RankCtx;

static int rank_in(int j, void *p)
{
	return ((RankCtx *)p)->sc[j].rank;
}

static int rank_out(int j, void *p)
{
	RankCtx *x = p;
	return x->g->val[x->g->out[x->N + j]].shape.rank + 1;
}

int ref_scan(KCall *c)
{
	int nf = (int)kattr_i(c, "_nformal", c->nin);
	int M = (int)kattr_i(c, "num_scan_inputs", -1);
	int opset = (int)kattr_i(c, "_opset", 9);
	bool v8 = opset < 9;
	int off = v8 ? 1 : 0, N = nf - off - M;
	if (M < 1 || N < 0 || nf > c->nin)
		return kerr(c, "num_scan_inputs %d does not fit the inputs", M);
	const int nform[1] = {nf - off};
	Sub s[1];
	int ns, rc = 0;
	if (subs_get(c, nf, nform, s, 1, &ns)) {
		subs_free(s, ns);
		return 1;
	}
	if (ns != 1) {
		subs_free(s, ns);
		return kerr(c, "no body");
	}
	const Sub *b = &s[0];
	int K = (int)b->g->nout - N;
	int *ax = calloc(2 * (M + K) + 2, sizeof *ax);
	KTensor *st = calloc(N + M + 1, sizeof *st), *res = calloc(N + K + 1, sizeof *res);
	if (K < 0 || c->nout != N + K) {
		rc = kerr(c, "the body's outputs do not match the node's");
		goto out;
	}
	if (!ax || !st || !res) {
		rc = kerr(c, "out of memory");
		goto out;
	}
	int *iax = ax, *idir = ax + M, *oax = ax + 2 * M, *odir = ax + 2 * M + K;
	const KTensor *in = c->in + off;
	RankCtx rcx = {in + N, b->g, N};
	if (v8) {
		const KTensor *sl = &c->in[0];
		if (sl->data && sl->dt != DT_UNDEF) {
			rc = kerr(c, "sequence_lens is not supported (every sequence must be full length)");
			goto out;
		}
		if ((rc = axes_attr(c, "directions", M, idir, NULL, NULL, true)))
			goto out;
		for (int j = 0; j < K; j++)
			oax[j] = 0, odir[j] = 0;
		for (int j = 0; j < M; j++)
			iax[j] = 0;
	} else if ((rc = axes_attr(c, "scan_input_axes", M, iax, rank_in, &rcx, false)) ||
	           (rc = axes_attr(c, "scan_input_directions", M, idir, NULL, NULL, true)) ||
	           (rc = axes_attr(c, "scan_output_axes", K, oax, rank_out, &rcx, false)) ||
	           (rc = axes_attr(c, "scan_output_directions", K, odir, NULL, NULL, true))) {
		goto out;
	}
	for (int k = 0; k < N + M; k++)
		if (!in[k].data && kt_numel(&in[k]) > 0) {
			rc = kerr(c, "input %d is missing", off + k);
			goto out;
		}
	ScanIO io = {N, M, K, in, in + N, iax, idir, oax, odir, c->in + b->base,
	             c->nin - b->base};
	if (!v8) {
		int64_t len = in[N].rank > iax[0] ? in[N].dims[iax[0]] : 0;
		if ((rc = run_scan(c, b, &io, len, res)))
			goto out;
		for (int k = 0; k < N + K && !rc; k++)
			rc = put(c, k, &res[k]);
		free_outs(res, N + K);
		goto out;
	}
	/* Scan-8: every input has a batch dim 0; run one scan per batch row */
	int64_t batch = in[0].rank >= 1 ? in[0].dims[0] : -1;
	for (int k = 0; k < N + M; k++)
		if (in[k].rank < (k < N ? 1 : 2) || in[k].dims[0] != batch) {
			rc = kerr(c, "input %d: every input needs batch dim %lld", off + k, (long long)batch);
			goto out;
		}
	if (batch == 0) {
		rc = kerr(c, "batch size 0 is not supported");
		goto out;
	}
	int64_t len = in[N].dims[1];
	for (int64_t bi = 0; bi < batch && !rc; bi++) {
		for (int k = 0; k < N + M; k++) {   /* row bi of each input */
			st[k] = in[k];
			st[k].rank--;
			memmove(st[k].dims, st[k].dims + 1, st[k].rank * sizeof *st[k].dims);
			st[k].data = (unsigned char *)in[k].data + (size_t)bi * kt_nbytes(&st[k]);
		}
		io.st = st;
		io.sc = st + N;
		if ((rc = run_scan(c, b, &io, len, res)))
			break;
		for (int k = 0; k < N + K && !rc; k++) {
			KTensor *r = &res[k];
			if (c->out[k].dt == DT_UNDEF)
				continue;
			if (r->rank + 1 > K_MAXRANK) {
				rc = kerr(c, "output %d: rank too large", k);
				break;
			}
			int64_t dims[K_MAXRANK];
			dims[0] = batch;
			memcpy(dims + 1, r->dims, r->rank * sizeof *dims);
			if (bi == 0 && r->dt != c->out[k].dt)
				rc = kerr(c, "output %d: body gives %s", k, dt_name(r->dt));
			else if (bi == 0)
				rc = kout(c, k, r->rank + 1, dims);
			else
				for (int i = 0; i < r->rank; i++)
					if (c->out[k].dims[i + 1] != r->dims[i])
						rc = kerr(c, "output %d changes shape between batch rows", k);
			if (!rc)
				memcpy((unsigned char *)c->out[k].data + (size_t)bi * kt_nbytes(r), r->data,
				       kt_nbytes(r));
		}
		free_outs(res, N + K);
	}
out:
	free(ax);
	free(st);
	free(res);
	subs_free(s, ns);
	return rc;
}
