/* If, Loop and Scan (opset 9+) over compiled subgraphs (runtime/kcf.h). Each subgraph is a
 * vibee_model_desc of the same model.so; a context is created per node run
 * (one thread: the node already runs inside the model's schedule). Inputs
 * are checked against the subgraph's declared dtypes and dims before each
 * run (its generated code trusts them); outputs are copied out, since a
 * subgraph's outputs live only until its next run. Captured outer values
 * follow the node's _nformal inputs, in graph-attribute order. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "kcf.h"
#include "vibee.h"

typedef struct {
	const vibee_model_desc *d;
	vibee_ctx *ctx;
	int base;              /* node input of its first captured value */
} Sub;

static int sub_open(KCall *c, const KAttr *a, Sub *s)
{
	s->d = a->g;
	s->ctx = NULL;
	if (!s->d || s->d->abi_version != VIBEE_ABI_VERSION)
		return kerr(c, "graph attribute '%s' is not a compiled subgraph", a->name);
	vibee_options o;
	memset(&o, 0, sizeof o);
	o.nthreads = 1;
	char e[256] = "";
	if (s->d->create(&s->ctx, &o, e, sizeof e))
		return kerr(c, "subgraph '%s': %s", a->name, e);
	return 0;
}

static void sub_close(Sub *s)
{
	if (s->ctx)
		s->d->destroy(s->ctx);
	s->ctx = NULL;
}

/* run s on in[0..nin) (checked against its declared inputs) into out */
static int sub_run(KCall *c, const Sub *s, const KTensor *in, int nin, vibee_tensor *out)
{
	const vibee_model_desc *d = s->d;
	if (nin != d->ninputs || nin > 64)
		return kerr(c, "subgraph '%s' takes %d inputs, got %d", d->name, d->ninputs, nin);
	vibee_tensor v[64];
	for (int i = 0; i < nin; i++) {
		const vibee_io_desc *io = &d->inputs[i];
		if (in[i].dt != io->dtype || in[i].rank != io->rank || in[i].rank > VIBEE_MAXRANK)
			return kerr(c, "subgraph input '%s': dtype or rank differs from the compiled one", io->name);
		v[i].dtype = in[i].dt;
		v[i].rank = in[i].rank;
		v[i].data = in[i].data;
		for (int k = 0; k < in[i].rank; k++) {
			v[i].dims[k] = in[i].dims[k];
			if (io->dims[k] >= 0 && io->dims[k] != in[i].dims[k])
				return kerr(c, "subgraph input '%s' dim %d is %lld, compiled for %lld", io->name, k,
				            (long long)in[i].dims[k], (long long)io->dims[k]);
			/* a symbolic dim must agree with every other use of its name */
			for (int j = 0; j <= i && io->dims[k] < 0 && io->dim_names && io->dim_names[k]; j++) {
				const vibee_io_desc *jo = &d->inputs[j];
				for (int q = 0; q < jo->rank && jo->dim_names; q++)
					if ((j < i || q < k) && jo->dim_names[q] && !strcmp(jo->dim_names[q], io->dim_names[k]) &&
					    in[j].dims[q] != in[i].dims[k])
						return kerr(c, "subgraph inputs disagree on dim '%s'", io->dim_names[k]);
			}
		}
	}
	char e[256] = "";
	if (d->run(s->ctx, v, out, e, sizeof e))
		return kerr(c, "subgraph '%s': %s", d->name, e);
	return 0;
}

static int64_t vt_bytes(const vibee_tensor *t)
{
	int64_t n = (int64_t)dt_size(t->dtype);
	for (int k = 0; k < t->rank; k++)
		n *= t->dims[k];
	return n;
}

/* node output i = t (shape from t; dtype must match) */
static int put(KCall *c, int i, int dt, int rank, const int64_t *dims, const void *data)
{
	if (i >= c->nout || c->out[i].dt == DT_UNDEF)
		return 0;
	if (c->out[i].dt != dt)
		return kerr(c, "output %d: the subgraph gives %s, the node %s", i, dt_name(dt),
		            dt_name(c->out[i].dt));
	if (kout(c, i, rank, dims))
		return 1;
	size_t n = kt_nbytes(&c->out[i]);
	if (n)
		memcpy(c->out[i].data, data, n);
	return 0;
}

static bool truth(const KTensor *t)
{
	return t->dt != DT_UNDEF && t->data && kt_numel(t) >= 1 && dt_load_f(t->dt, t->data, 0) != 0;
}

static int kcf_if(KCall *c)
{
	int nf = (int)kattr_i(c, "_nformal", 1);
	if (nf != 1 || c->nin < 1 || kt_numel(&c->in[0]) != 1 || !c->in[0].data)
		return kerr(c, "the condition must have one element");
	const char *want = truth(&c->in[0]) ? "then_branch" : "else_branch";
	const KAttr *ga = NULL;
	int base = nf, mybase = 0;
	for (int a = 0; a < c->nattr; a++) {
		const KAttr *ka = &c->attr[a];
		if (ka->kind != AK_GRAPH)
			continue;
		if (!ka->g)
			return kerr(c, "graph attribute '%s' is not compiled", ka->name);
		if (!strcmp(ka->name, want)) {
			ga = ka;
			mybase = base;
		}
		base += ((const vibee_model_desc *)ka->g)->ninputs;
	}
	if (!ga)
		return kerr(c, "no %s", want);
	Sub s;
	if (sub_open(c, ga, &s))
		return 1;
	int rc = 0, nout = s.d->noutputs;
	if (nout != c->nout || nout > 64 || mybase + s.d->ninputs > c->nin)
		rc = kerr(c, "%s has %d outputs and %d inputs; the node %d and %d", want, nout,
		          s.d->ninputs, c->nout, c->nin);
	vibee_tensor out[64];
	if (!rc)
		rc = sub_run(c, &s, c->in + mybase, s.d->ninputs, out);
	for (int i = 0; i < nout && !rc; i++)
		rc = put(c, i, out[i].dtype, out[i].rank, out[i].dims, out[i].data);
	sub_close(&s);
	return rc;
}

typedef struct {
	unsigned char *p;
	size_t len, cap;
	int dt, rank;
	int64_t dims[K_MAXRANK];
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

/* The body's new carried values o[0..N) replace car[] (owned copies). */
static int carry_set(KCall *c, KTensor *car, int N, const vibee_tensor *o, const char *what)
{
	for (int k = 0; k < N; k++, o++) {
		if (o->dtype != car[k].dt || o->rank > K_MAXRANK)
			return kerr(c, "%s %d changes dtype", what, k);
		size_t n = (size_t)vt_bytes(o);
		void *q = malloc(n ? n : 1);
		if (!q)
			return kerr(c, "out of memory");
		if (n)
			memcpy(q, o->data, n);
		free(car[k].data);
		car[k].data = q;
		car[k].rank = o->rank;
		memcpy(car[k].dims, o->dims, sizeof car[k].dims);
	}
	return 0;
}

/* Appends the step outputs e[0..K) to acc[]; the first step fixes each one's
 * element shape, later steps must keep it. */
static int acc_step(KCall *c, Acc *acc, int K, const vibee_tensor *e, bool first, const char *what)
{
	for (int j = 0; j < K; j++, e++) {
		Acc *a = &acc[j];
		if (first) {
			if (e->rank + 1 > K_MAXRANK)
				return kerr(c, "scan output %d: rank too large", j);
			a->dt = e->dtype;
			a->rank = e->rank;
			memcpy(a->dims, e->dims, sizeof a->dims);
		} else if (e->dtype != a->dt || e->rank != a->rank ||
		           memcmp(e->dims, a->dims, (size_t)e->rank * sizeof *e->dims)) {
			return kerr(c, "scan output %d changes shape between %s", j, what);
		}
		if (acc_add(a, e->data, (size_t)vt_bytes(e)))
			return kerr(c, "out of memory");
	}
	return 0;
}

/* A scan output of a body that never ran: its declared element shape. */
static int acc_declared(KCall *c, Acc *a, const vibee_io_desc *io, int j, const char *what)
{
	a->dt = io->dtype;
	a->rank = io->rank;
	for (int k = 0; k < io->rank; k++)
		if ((a->dims[k] = io->dims[k]) < 0)
			return kerr(c, "scan output %d ran zero %s and its element shape is not static", j, what);
	return 0;
}

static int kcf_loop(KCall *c)
{
	int nf = (int)kattr_i(c, "_nformal", c->nin);
	const KAttr *ga = NULL;
	for (int a = 0; a < c->nattr; a++)
		if (c->attr[a].kind == AK_GRAPH)
			ga = &c->attr[a];
	if (nf < 2 || nf > c->nin || !ga)
		return kerr(c, "bad inputs or no body");
	Sub s;
	if (sub_open(c, ga, &s))
		return 1;
	int N = nf - 2, K = s.d->noutputs - 1 - N, nin = s.d->ninputs, rc = 0;
	KTensor *bin = calloc((size_t)nin + 1, sizeof *bin), *car = calloc((size_t)N + 1, sizeof *car);
	Acc *acc = calloc((size_t)K + 1, sizeof *acc);
	vibee_tensor *bout = calloc((size_t)s.d->noutputs + 1, sizeof *bout);
	if (!bin || !car || !acc || !bout) {
		rc = kerr(c, "out of memory");
		goto out;
	}
	if (K < 0 || c->nout != N + K || nin != c->nin || s.d->noutputs > 64 || nin > 64) {
		rc = kerr(c, "the body's inputs/outputs do not match the node's");
		goto out;
	}
	bool hasm = c->in[0].dt != DT_UNDEF && c->in[0].data && kt_numel(&c->in[0]) >= 1;
	bool hasc = c->in[1].dt != DT_UNDEF && c->in[1].data && kt_numel(&c->in[1]) >= 1;
	if (!hasm && !hasc) {
		rc = kerr(c, "neither a trip count nor a condition: the loop would never end");
		goto out;
	}
	int64_t M = hasm ? dt_load_i(c->in[0].dt, c->in[0].data, 0) : INT64_MAX;
	bool cond = hasc ? truth(&c->in[1]) : true;
	for (int k = 0; k < N; k++) {   /* carried values: owned copies */
		car[k] = c->in[2 + k];
		size_t n = kt_nbytes(&car[k]);
		car[k].data = malloc(n ? n : 1);
		if (!car[k].data) {
			rc = kerr(c, "out of memory");
			goto out;
		}
		if (n)
			memcpy(car[k].data, c->in[2 + k].data, n);
	}
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
			bin[k] = c->in[k];
		if ((rc = sub_run(c, &s, bin, nin, bout)))
			goto out;
		KTensor ct = {bout[0].dtype, bout[0].rank, {0}, bout[0].data};
		memcpy(ct.dims, bout[0].dims, sizeof ct.dims);
		cond = truth(&ct);
		if ((rc = carry_set(c, car, N, bout + 1, "carried value")) ||
		    (rc = acc_step(c, acc, K, bout + 1 + N, it == 0, "iterations")))
			goto out;
	}
	for (int k = 0; k < N && !rc; k++)
		rc = put(c, k, car[k].dt, car[k].rank, car[k].dims, car[k].data);
	for (int j = 0; j < K && !rc; j++) {
		Acc *a = &acc[j];
		if (it == 0 && (rc = acc_declared(c, a, &s.d->outputs[1 + N + j], j, "times")))
			break;
		int64_t d[K_MAXRANK];
		d[0] = it;
		memcpy(d + 1, a->dims, (size_t)a->rank * sizeof *d);
		rc = put(c, N + j, a->dt, a->rank + 1, d, a->p);
	}
out:
	for (int k = 0; car && k < N; k++)
		free(car[k].data);
	for (int j = 0; acc && j < K; j++)
		free(acc[j].p);
	free(bin);
	free(car);
	free(acc);
	free(bout);
	sub_close(&s);
	return rc;
}

/* Scan (opset 9+): N states and M scan inputs (sliced along their axes,
 * in their directions) per step; K scan outputs stacked along theirs. */
static int kcf_scan(KCall *c)
{
	int nf = (int)kattr_i(c, "_nformal", c->nin);
	int M = (int)kattr_i(c, "num_scan_inputs", 0), N = nf - M;
	const KAttr *ga = NULL;
	for (int a = 0; a < c->nattr; a++)
		if (c->attr[a].kind == AK_GRAPH)
			ga = &c->attr[a];
	if (M < 1 || N < 0 || nf > c->nin || !ga || M > 32)
		return kerr(c, "bad inputs or no body");
	const int64_t *iax = NULL, *idir = NULL, *oax = NULL, *odir = NULL;
	int niax = kattr_ints(c, "scan_input_axes", &iax), nidir = kattr_ints(c, "scan_input_directions", &idir);
	int noax = kattr_ints(c, "scan_output_axes", &oax), nodir = kattr_ints(c, "scan_output_directions", &odir);
	Sub s;
	if (sub_open(c, ga, &s))
		return 1;
	int K = s.d->noutputs - N, nin = s.d->ninputs, rc = 0;
	KTensor *bin = calloc((size_t)nin + 1, sizeof *bin), *car = calloc((size_t)N + 1, sizeof *car);
	KTensor *sl = calloc((size_t)M + 1, sizeof *sl);
	Acc *acc = calloc((size_t)K + 1, sizeof *acc);
	vibee_tensor *bout = calloc((size_t)s.d->noutputs + 1, sizeof *bout);
	int ax[32];
	int64_t T = -1;
	if (!bin || !car || !sl || !acc || !bout) {
		rc = kerr(c, "out of memory");
		goto out;
	}
	if (K < 0 || c->nout != N + K || nin != c->nin || s.d->noutputs > 64 || nin > 64 ||
	    (niax && niax != M) || (nidir && nidir != M) || (noax && noax != K) || (nodir && nodir != K)) {
		rc = kerr(c, "the body's inputs/outputs or the axes do not match the node's");
		goto out;
	}
	for (int m = 0; m < M; m++) {
		const KTensor *x = &c->in[N + m];
		int64_t a = niax ? iax[m] : 0;
		if (x->rank < 1 || a < -x->rank || a >= x->rank) {
			rc = kerr(c, "scan input %d: axis out of range", m);
			goto out;
		}
		ax[m] = (int)(a < 0 ? a + x->rank : a);
		if (T >= 0 && x->dims[ax[m]] != T) {
			rc = kerr(c, "scan inputs differ in length");
			goto out;
		}
		T = x->dims[ax[m]];
		sl[m].dt = x->dt;
		sl[m].rank = x->rank - 1;
		for (int k = 0, j = 0; k < x->rank; k++)
			if (k != ax[m])
				sl[m].dims[j++] = x->dims[k];
		size_t n = kt_nbytes(&sl[m]);
		if (!(sl[m].data = malloc(n ? n : 1))) {
			rc = kerr(c, "out of memory");
			goto out;
		}
	}
	for (int k = 0; k < N; k++) {
		car[k] = c->in[k];
		size_t n = kt_nbytes(&car[k]);
		if (!(car[k].data = malloc(n ? n : 1))) {
			rc = kerr(c, "out of memory");
			goto out;
		}
		if (n)
			memcpy(car[k].data, c->in[k].data, n);
	}
	for (int64_t t = 0; t < T; t++) {
		for (int m = 0; m < M; m++) {   /* gather slice t of scan input m */
			const KTensor *x = &c->in[N + m];
			int64_t tt = nidir && idir[m] ? T - 1 - t : t, outer = 1, inner = 1;
			size_t es = dt_size(x->dt);
			for (int k = 0; k < ax[m]; k++)
				outer *= x->dims[k];
			for (int k = ax[m] + 1; k < x->rank; k++)
				inner *= x->dims[k];
			for (int64_t o = 0; o < outer; o++)
				memcpy((char *)sl[m].data + (size_t)(o * inner) * es,
				       (const char *)x->data + (size_t)((o * T + tt) * inner) * es, (size_t)inner * es);
		}
		for (int k = 0; k < N; k++)
			bin[k] = car[k];
		for (int m = 0; m < M; m++)
			bin[N + m] = sl[m];
		for (int k = nf; k < nin; k++)
			bin[k] = c->in[k];
		if ((rc = sub_run(c, &s, bin, nin, bout)))
			goto out;
		if ((rc = carry_set(c, car, N, bout, "state")) ||
		    (rc = acc_step(c, acc, K, bout + N, t == 0, "steps")))
			goto out;
	}
	for (int k = 0; k < N && !rc; k++)
		rc = put(c, k, car[k].dt, car[k].rank, car[k].dims, car[k].data);
	for (int j = 0; j < K && !rc; j++) {
		Acc *a = &acc[j];
		if (T <= 0 && (rc = acc_declared(c, a, &s.d->outputs[N + j], j, "steps")))
			break;
		int r = a->rank + 1;
		int64_t oa = noax ? oax[j] : 0, d[K_MAXRANK], outer = 1, inner = 1, TT = T < 0 ? 0 : T;
		if (oa < -r || oa >= r) {
			rc = kerr(c, "scan output %d: axis out of range", j);
			break;
		}
		int o_ax = (int)(oa < 0 ? oa + r : oa);
		for (int k = 0, q = 0; k < r; k++)
			d[k] = k == o_ax ? TT : a->dims[q++];
		for (int k = 0; k < o_ax; k++)
			outer *= a->dims[k];
		for (int k = o_ax; k < a->rank; k++)
			inner *= a->dims[k];
		if (c->out[N + j].dt == DT_UNDEF)
			continue;
		if (c->out[N + j].dt != a->dt) {
			rc = kerr(c, "scan output %d: dtype differs", j);
			break;
		}
		if ((rc = kout(c, N + j, r, d)))
			break;
		size_t es = dt_size(a->dt);
		for (int64_t t = 0; t < TT; t++) {
			int64_t tt = nodir && odir[j] ? TT - 1 - t : t;
			for (int64_t o = 0; o < outer; o++)
				memcpy((char *)c->out[N + j].data + (size_t)((o * TT + tt) * inner) * es,
				       a->p + (size_t)((t * outer + o) * inner) * es, (size_t)inner * es);
		}
	}
out:
	for (int k = 0; car && k < N; k++)
		free(car[k].data);
	for (int m = 0; sl && m < M; m++)
		free(sl[m].data);
	for (int j = 0; acc && j < K; j++)
		free(acc[j].p);
	free(bin);
	free(car);
	free(sl);
	free(acc);
	free(bout);
	sub_close(&s);
	return rc;
}

/* Scan opset 8: input 0 sequence_lens (must be omitted: every sequence
 * full length), then N states [B, ...] and M scan inputs [B, T, ...]; the
 * body runs per batch item. Outputs: N states [B, ...], K scans [B, T, ...]. */
static int kcf_scan8(KCall *c)
{
	int nf = (int)kattr_i(c, "_nformal", c->nin);
	int M = (int)kattr_i(c, "num_scan_inputs", 0), N = nf - 1 - M;
	const KAttr *ga = NULL;
	for (int a = 0; a < c->nattr; a++)
		if (c->attr[a].kind == AK_GRAPH)
			ga = &c->attr[a];
	if (M < 1 || N < 0 || nf > c->nin || !ga || M > 32)
		return kerr(c, "bad inputs or no body");
	if (c->in[0].dt != DT_UNDEF)
		return kerr(c, "sequence_lens is not supported by the compiled Scan");
	const int64_t *dir = NULL;
	int ndir = kattr_ints(c, "directions", &dir);
	Sub s;
	if (sub_open(c, ga, &s))
		return 1;
	int K = s.d->noutputs - N, nin = s.d->ninputs, rc = 0;
	KTensor *bin = calloc((size_t)nin + 1, sizeof *bin), *car = calloc((size_t)N + 1, sizeof *car);
	Acc *acc = calloc((size_t)(K + N) + 1, sizeof *acc);   /* scan outputs, then final states */
	vibee_tensor *bout = calloc((size_t)s.d->noutputs + 1, sizeof *bout);
	int64_t B = -1, T = -1;
	if (!bin || !car || !acc || !bout) {
		rc = kerr(c, "out of memory");
		goto out;
	}
	if (K < 0 || c->nout != N + K || nin != c->nin - 1 || s.d->noutputs > 64 || nin > 64 ||
	    (ndir && ndir != M)) {
		rc = kerr(c, "the body's inputs/outputs do not match the node's");
		goto out;
	}
	for (int i = 1; i < nf; i++) {
		const KTensor *x = &c->in[i];
		bool scan = i > N;
		if (x->rank < (scan ? 2 : 1) || (B >= 0 && x->dims[0] != B) ||
		    (scan && T >= 0 && x->dims[1] != T)) {
			rc = kerr(c, "states need a batch dim, scan inputs batch and sequence dims, all equal");
			goto out;
		}
		B = x->dims[0];
		if (scan)
			T = x->dims[1];
	}
	for (int64_t b = 0; b < B && !rc; b++) {
		for (int k = 0; k < N; k++) {   /* this batch item's initial state */
			const KTensor *x = &c->in[1 + k];
			free(car[k].data);
			car[k].dt = x->dt;
			car[k].rank = x->rank - 1;
			memcpy(car[k].dims, x->dims + 1, sizeof x->dims[0] * (size_t)(K_MAXRANK - 1));
			size_t n = kt_nbytes(&car[k]);
			if (!(car[k].data = malloc(n ? n : 1))) {
				rc = kerr(c, "out of memory");
				goto out;
			}
			if (n)
				memcpy(car[k].data, (const char *)x->data + (size_t)b * n, n);
		}
		for (int64_t t = 0; t < T; t++) {
			for (int k = 0; k < N; k++)
				bin[k] = car[k];
			for (int m = 0; m < M; m++) {   /* a view: slices are contiguous */
				const KTensor *x = &c->in[1 + N + m];
				int64_t tt = ndir && dir[m] ? T - 1 - t : t;
				KTensor v = {x->dt, x->rank - 2, {0}, NULL};
				memcpy(v.dims, x->dims + 2, sizeof x->dims[0] * (size_t)(K_MAXRANK - 2));
				v.data = (char *)x->data + (size_t)(b * T + tt) * kt_nbytes(&v);
				bin[N + m] = v;
			}
			for (int k = nf; k < c->nin; k++)
				bin[k - 1] = c->in[k];
			if ((rc = sub_run(c, &s, bin, nin, bout)))
				goto out;
			for (int k = 0; k < N; k++) {
				const vibee_tensor *o = &bout[k];
				if (o->dtype != car[k].dt || o->rank != car[k].rank ||
				    memcmp(o->dims, car[k].dims, (size_t)o->rank * sizeof *o->dims)) {
					rc = kerr(c, "state %d changes shape", k);
					goto out;
				}
				if (vt_bytes(o))
					memcpy(car[k].data, o->data, (size_t)vt_bytes(o));
			}
			for (int j = 0; j < K; j++) {
				const vibee_tensor *e = &bout[N + j];
				Acc *a = &acc[j];
				if (b == 0 && t == 0) {
					if (e->rank + 2 > K_MAXRANK) {
						rc = kerr(c, "scan output %d: rank too large", j);
						goto out;
					}
					a->dt = e->dtype;
					a->rank = e->rank;
					memcpy(a->dims, e->dims, sizeof a->dims);
				} else if (e->dtype != a->dt || e->rank != a->rank ||
				           memcmp(e->dims, a->dims, (size_t)e->rank * sizeof *e->dims)) {
					rc = kerr(c, "scan output %d changes shape between steps", j);
					goto out;
				}
				if (acc_add(a, e->data, (size_t)vt_bytes(e))) {
					rc = kerr(c, "out of memory");
					goto out;
				}
			}
		}
		for (int k = 0; k < N; k++)
			if (acc_add(&acc[K + k], car[k].data, kt_nbytes(&car[k]))) {
				rc = kerr(c, "out of memory");
				goto out;
			}
	}
	if (B == 0 || T == 0) {
		rc = kerr(c, "empty batch or sequence is not supported by the compiled Scan");
		goto out;
	}
	for (int k = 0; k < N && !rc; k++) {
		int64_t d[K_MAXRANK];
		d[0] = B;
		memcpy(d + 1, car[k].dims, (size_t)car[k].rank * sizeof *d);
		rc = put(c, k, car[k].dt, car[k].rank + 1, d, acc[K + k].p);
	}
	for (int j = 0; j < K && !rc; j++) {
		int64_t d[K_MAXRANK];
		d[0] = B;
		d[1] = T;
		memcpy(d + 2, acc[j].dims, (size_t)acc[j].rank * sizeof *d);
		rc = put(c, N + j, acc[j].dt, acc[j].rank + 2, d, acc[j].p);
	}
out:
	for (int k = 0; car && k < N; k++)
		free(car[k].data);
	for (int j = 0; acc && j < K + N; j++)
		free(acc[j].p);
	free(bin);
	free(car);
	free(acc);
	free(bout);
	sub_close(&s);
	return rc;
}

int kcf_call(kpool *pool, KCall *c)
{
	(void)pool;
	switch (c->op) {
	case OP_If: return kcf_if(c);
	case OP_Loop: return kcf_loop(c);
	case OP_Scan: return kattr_i(c, "_opset", 9) < 9 ? kcf_scan8(c) : kcf_scan(c);
	}
	return kerr(c, "op has no compiled control-flow driver");
}
