/* Library kernels: NonMaxSuppression (run-time sized output),
 * TfIdfVectorizer (integer input), Einsum (any equation, ellipsis,
 * diagonals), and the random ops Bernoulli and RandomUniformLike (a
 * seeded xorshift generator: their draws cannot match another
 * implementation's, only their distribution). */
#include "knode_impl.h"

/* ---- NonMaxSuppression(boxes [B,S,4], scores [B,C,S], max_out?, iou?, score_th?) ---- */
typedef struct { double s; int64_t i; } Cand;

static int cand_cmp(const void *a, const void *b)
{
	const Cand *x = a, *y = b;
	if (x->s != y->s)
		return x->s > y->s ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;   /* stable: lower index first */
}

static void corners(const KTensor *Bx, int64_t at, int center, double *y1, double *x1, double *y2, double *x2)
{
	double a = kn_ld(Bx, at), b = kn_ld(Bx, at + 1), p = kn_ld(Bx, at + 2), q = kn_ld(Bx, at + 3);
	if (center) {   /* [x_center, y_center, width, height] */
		*x1 = a - p / 2;
		*x2 = a + p / 2;
		*y1 = b - q / 2;
		*y2 = b + q / 2;
	} else {        /* [y1, x1, y2, x2], any diagonal */
		*y1 = fmin(a, p);
		*y2 = fmax(a, p);
		*x1 = fmin(b, q);
		*x2 = fmax(b, q);
	}
}

static int kn_nms(KCall *c)
{
	const KTensor *Bx = &c->in[0], *Sc = &c->in[1];
	if (Bx->rank != 3 || Bx->dims[2] != 4 || Sc->rank != 3 || Sc->dims[0] != Bx->dims[0] ||
	    Sc->dims[2] != Bx->dims[1])
		return kerr(c, "NonMaxSuppression: boxes [B,S,4] and scores [B,C,S] required");
	int64_t NB = Bx->dims[0], S = Bx->dims[1], C = Sc->dims[1];
	int64_t mx = kn_has(c, 2) ? kn_ldi(&c->in[2], 0) : 0;
	double iou_t = kn_has(c, 3) ? kn_ld(&c->in[3], 0) : 0;
	int has_st = kn_has(c, 4);
	double st = has_st ? kn_ld(&c->in[4], 0) : 0;
	int center = (int)kattr_i(c, "center_point_box", 0);
	if (mx < 0)
		mx = 0;
	if (mx > S)
		mx = S;
	Cand *cd = kn_tmp(c, (size_t)S * sizeof(Cand));
	int64_t *sel = kn_tmp(c, (size_t)(NB * C * (mx ? mx : 1)) * 3 * sizeof(int64_t));
	double *bx = kn_tmp(c, (size_t)S * 4 * sizeof(double));
	if (!cd || !sel || !bx)
		return kerr(c, "NonMaxSuppression: out of memory");
	int64_t ns = 0;
	for (int64_t b = 0; b < NB; b++) {
		for (int64_t i = 0; i < S; i++)
			corners(Bx, (b * S + i) * 4, center, &bx[i * 4], &bx[i * 4 + 1], &bx[i * 4 + 2], &bx[i * 4 + 3]);
		for (int64_t k = 0; k < C && mx > 0; k++) {
			int64_t nc = 0, first = ns;
			for (int64_t i = 0; i < S; i++) {
				double s = kn_ld(Sc, (b * C + k) * S + i);
				if (!has_st || s > st)
					cd[nc++] = (Cand){s, i};
			}
			qsort(cd, (size_t)nc, sizeof *cd, cand_cmp);
			for (int64_t j = 0; j < nc && ns - first < mx; j++) {
				const double *p = &bx[cd[j].i * 4];
				int keep = 1;
				for (int64_t q = first; q < ns && keep; q++) {
					const double *o = &bx[sel[q * 3 + 2] * 4];
					double ih = fmin(p[2], o[2]) - fmax(p[0], o[0]), iw = fmin(p[3], o[3]) - fmax(p[1], o[1]);
					double inter = ih > 0 && iw > 0 ? ih * iw : 0;
					double uni = (p[2] - p[0]) * (p[3] - p[1]) + (o[2] - o[0]) * (o[3] - o[1]) - inter;
					if (inter > 0 && uni > 0 && inter / uni > iou_t)
						keep = 0;
				}
				if (keep) {
					sel[ns * 3] = b;
					sel[ns * 3 + 1] = k;
					sel[ns * 3 + 2] = cd[j].i;
					ns++;
				}
			}
		}
	}
	int64_t od[2] = {ns, 3};
	if (kout(c, 0, 2, od))
		return 1;
	for (int64_t i = 0; i < ns * 3; i++)
		kn_sti(&c->out[0], i, sel[i]);
	return 0;
}

/* ---- TfIdfVectorizer over integer tokens [C] or [N, C] ---- */
static int kn_tfidf(KCall *c)
{
	const KTensor *X = &c->in[0];
	if ((X->rank != 1 && X->rank != 2) || !dt_is_int(X->dt))
		return kerr(c, "TfIdfVectorizer: integer input [C] or [N, C] required (string pools unsupported)");
	int64_t mn = kattr_i(c, "min_gram_length", 1), mxg = kattr_i(c, "max_gram_length", 1),
	        skip = kattr_i(c, "max_skip_count", 0);
	const char *mode = kattr_s(c, "mode", "TF");
	int md = !strcmp(mode, "TF") ? 0 : !strcmp(mode, "IDF") ? 1 : !strcmp(mode, "TFIDF") ? 2 : -1;
	const int64_t *cnt, *idx, *pool;
	const float *wts;
	int ncnt = kattr_ints(c, "ngram_counts", &cnt), nidx = kattr_ints(c, "ngram_indexes", &idx);
	int npool = kattr_ints(c, "pool_int64s", &pool), nw = kattr_floats(c, "weights", &wts);
	if (md < 0 || mn < 1 || mxg < mn || skip < 0 || ncnt < 1 || (nw && nw != nidx))
		return kerr(c, "TfIdfVectorizer: bad mode, gram lengths, ngram_counts or weights");
	if (kattr(c, "pool_strings") && !npool)
		return kerr(c, "TfIdfVectorizer: string pools are not supported");
	/* the pool's n-grams: n-gram length g (1-based) occupies [cnt[g-1], cnt[g]) */
	int64_t nout = 0, ngr = 0;
	for (int i = 0; i < nidx; i++)
		nout = idx[i] + 1 > nout ? idx[i] + 1 : nout;
	for (int g = 1; g <= ncnt; g++) {
		int64_t lo = cnt[g - 1], hi = g < ncnt ? cnt[g] : npool;
		if (lo < 0 || hi < lo || hi > npool || (hi - lo) % g)
			return kerr(c, "TfIdfVectorizer: ngram_counts inconsistent with pool_int64s");
		ngr += (hi - lo) / g;
	}
	if (ngr != nidx)
		return kerr(c, "TfIdfVectorizer: %lld pool n-grams but %d ngram_indexes", (long long)ngr, nidx);
	for (int i = 0; i < nidx; i++)
		if (idx[i] < 0)
			return kerr(c, "TfIdfVectorizer: negative ngram index");
	int64_t N = X->rank == 2 ? X->dims[0] : 1, L = X->dims[X->rank - 1];
	int64_t od[2] = {N, nout};
	if (X->rank == 2 ? kout(c, 0, 2, od) : kout(c, 0, 1, od + 1))
		return 1;
	double *tf = kn_tmp(c, (size_t)(nout ? nout : 1) * sizeof(double));
	if (!tf)
		return kerr(c, "TfIdfVectorizer: out of memory");
	for (int64_t r = 0; r < N; r++) {
		memset(tf, 0, (size_t)nout * sizeof(double));
		for (int64_t g = mn; g <= mxg && g <= ncnt; g++) {
			int64_t lo = cnt[g - 1], hi = g < ncnt ? cnt[g] : npool, first = 0;
			for (int64_t gg = 1; gg < g; gg++)   /* index of this length's first n-gram */
				first += ((gg < ncnt ? cnt[gg] : npool) - cnt[gg - 1]) / gg;
			for (int64_t s = 0; s <= (g == 1 ? 0 : skip); s++)
				for (int64_t i = 0; i + (g - 1) * (s + 1) < L; i++)
					for (int64_t p = lo, e = 0; p < hi; p += g, e++) {
						int64_t k = 0;
						while (k < g && kn_ldi(X, r * L + i + k * (s + 1)) == pool[p + k])
							k++;
						if (k == g) {
							tf[idx[first + e]] += 1;
							break;
						}
					}
		}
		for (int64_t j = 0; j < nout; j++) {
			double v = tf[j];
			if (md != 0) {   /* weight of the pool entry mapped to j */
				double w = 1;
				for (int i = 0; i < nidx; i++)
					if (idx[i] == j && nw)
						w = wts[i];
				v = md == 1 ? (v > 0 ? w : 0) : v * w;
			}
			kn_st(&c->out[0], r * nout + j, v);
		}
	}
	return 0;
}

/* ---- Einsum ---- */
#define EL 64   /* labels: a-z 0..25, A-Z 26..51, ellipsis dims 52.. */

static int lab(char ch) { return ch >= 'a' && ch <= 'z' ? ch - 'a' : ch >= 'A' && ch <= 'Z' ? ch - 'A' + 26 : -1; }

/* parse one term into labels; e = ellipsis dims it covers (-1: none) */
static int term(KCall *c, const char *s, const char *end, int rank, int E, int *lb, int *n)
{
	int k = 0, nl = 0, ell = 0;
	for (const char *p = s; p < end; p++)
		if (*p == '.') {
			if (p + 2 >= end + 0 || p[1] != '.' || p[2] != '.' || ell)
				return kerr(c, "Einsum: bad ellipsis in the equation");
			ell = 1;
			p += 2;
		} else if (*p != ' ') {
			if (lab(*p) < 0)
				return kerr(c, "Einsum: bad label '%c'", *p);
			nl++;
		}
	int e = ell ? (rank >= 0 ? rank - nl : E) : 0;
	if (e < 0 || (rank >= 0 && !ell && nl != rank) || k + nl + e > K_MAXRANK)
		return kerr(c, "Einsum: a term does not match its operand's rank");
	for (const char *p = s; p < end; p++)
		if (*p == '.') {
			for (int j = 0; j < e; j++)
				lb[k++] = 52 + (E - e) + j;
			p += 2;
		} else if (*p != ' ')
			lb[k++] = lab(*p);
	*n = k;
	return 0;
}

static int kn_einsum(KCall *c)
{
	const char *eq = kattr_s(c, "equation", NULL);
	if (!eq || c->nin < 1 || c->nin > 16)
		return kerr(c, "Einsum: equation and 1..16 inputs required");
	const char *arrow = strstr(eq, "->"), *lhs_end = arrow ? arrow : eq + strlen(eq);
	int lb[16][K_MAXRANK], nl[16], E = 0;
	/* the ellipsis rank: the largest over operands */
	const char *p = eq;
	for (int j = 0; j < c->nin; j++) {
		const char *e = memchr(p, ',', (size_t)(lhs_end - p));
		if (!e)
			e = lhs_end;
		if ((j == c->nin - 1) != (e == lhs_end))
			return kerr(c, "Einsum: equation has a different number of terms than inputs");
		int ll = 0, ell = 0;
		for (const char *q = p; q < e; q++)
			if (*q == '.')
				ell = 1;
			else if (*q != ' ')
				ll++;
		if (ell && c->in[j].rank - ll > E)
			E = c->in[j].rank - ll;
		p = e + 1;
	}
	if (E > K_MAXRANK)
		return kerr(c, "Einsum: ellipsis too long");
	p = eq;
	int64_t size[EL];
	int cntl[EL] = {0};
	for (int l = 0; l < EL; l++)
		size[l] = -1;
	for (int j = 0; j < c->nin; j++) {
		const char *e = memchr(p, ',', (size_t)(lhs_end - p));
		if (!e)
			e = lhs_end;
		if (term(c, p, e, c->in[j].rank, E, lb[j], &nl[j]))
			return 1;
		for (int k = 0; k < nl[j]; k++) {
			int l = lb[j][k];
			int64_t d = c->in[j].dims[k];
			cntl[l]++;
			if (size[l] < 0 || size[l] == 1)
				size[l] = d;
			else if (d != size[l] && !(d == 1 && l >= 52))
				return kerr(c, "Einsum: label sizes disagree (%lld vs %lld)", (long long)d, (long long)size[l]);
		}
		p = e + 1;
	}
	int ol[K_MAXRANK], no = 0;
	if (arrow) {
		if (term(c, arrow + 2, arrow + strlen(arrow), -1, E, ol, &no))
			return 1;
		for (int k = 0; k < no; k++)
			if (size[ol[k]] < 0)
				return kerr(c, "Einsum: output label not in any input");
	} else {
		for (int l = 52; l < 52 + E; l++)
			ol[no++] = l;
		for (int l = 0; l < 52 && no < K_MAXRANK; l++)
			if (cntl[l] == 1)
				ol[no++] = l;
	}
	int inout[EL] = {0}, sl[EL], ns = 0;
	for (int k = 0; k < no; k++) {
		if (inout[ol[k]])
			return kerr(c, "Einsum: output label repeated");
		inout[ol[k]] = 1;
	}
	for (int l = 0; l < EL; l++)
		if (size[l] >= 0 && !inout[l])
			sl[ns++] = l;
	/* per operand, per label: the summed stride of its occurrences */
	int64_t (*st)[EL] = kn_tmp(c, sizeof(int64_t[16][EL]));
	if (!st)
		return kerr(c, "Einsum: out of memory");
	memset(st, 0, sizeof(int64_t[16][EL]));
	for (int j = 0; j < c->nin; j++) {
		int64_t s = 1;
		for (int k = nl[j] - 1; k >= 0; k--) {
			if (!(c->in[j].dims[k] == 1 && size[lb[j][k]] != 1))
				st[j][lb[j][k]] += s;
			s *= c->in[j].dims[k];
		}
	}
	int64_t od[K_MAXRANK], sd[EL];
	for (int k = 0; k < no; k++)
		od[k] = size[ol[k]];
	for (int k = 0; k < ns; k++)
		sd[k] = size[sl[k]];
	if (kout(c, 0, no, od))
		return 1;
	KTensor *Y = &c->out[0];
	int isf = dt_is_float(Y->dt);
	int64_t on = kt_numel(Y), sn = kn_prod(sd, 0, ns), oi[K_MAXRANK] = {0};
	double *ind[16] = {0};
	for (int j = 0; isf && j < c->nin; j++)
		if (!(ind[j] = kn_dbl(c, &c->in[j])))
			return kerr(c, "Einsum: out of memory");
	for (int64_t o = 0; o < on; o++) {
		int64_t base[16] = {0};
		for (int j = 0; j < c->nin; j++)
			for (int k = 0; k < no; k++)
				base[j] += oi[k] * st[j][ol[k]];
		double acc = 0;
		uint64_t iacc = 0;   /* integer math wraps, as in two's complement */
		int64_t si[EL] = {0};
		for (int64_t s = 0; s < sn; s++) {
			double pf = 1;
			uint64_t pi = 1;
			for (int j = 0; j < c->nin; j++) {
				int64_t at = base[j];
				for (int k = 0; k < ns; k++)
					at += si[k] * st[j][sl[k]];
				if (isf)
					pf *= ind[j][at];
				else
					pi *= (uint64_t)kn_ldi(&c->in[j], at);
			}
			acc += pf;
			iacc += pi;
			for (int k = ns - 1; k >= 0; k--) {
				if (++si[k] < sd[k])
					break;
				si[k] = 0;
			}
		}
		if (isf)
			kn_st(Y, o, acc);
		else
			kn_sti(Y, o, (int64_t)iacc);
		for (int k = no - 1; k >= 0; k--) {
			if (++oi[k] < od[k])
				break;
			oi[k] = 0;
		}
	}
	return 0;
}

/* ---- random ops ---- */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

static uint64_t rng_seed(KCall *c)
{
	static uint64_t ctr = 0x2545F4914F6CDD1Dull;
	const KAttr *a = kattr(c, "seed");
	if (a) {
		double f = a->kind == AK_FLOAT ? a->f : (double)a->i;
		int64_t v = f > -9e18 && f < 9e18 ? (int64_t)f : 0;
		return ((uint64_t)v * 0x9E3779B97F4A7C15ull + 1) | 1;
	}
	/* unseeded: differs per call, and contexts on other threads may call at
	 * once: a Weyl step taken atomically, then splitmix64's finaliser */
	uint64_t z = __atomic_add_fetch(&ctr, 0x9E3779B97F4A7C15ull, __ATOMIC_RELAXED);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (z ^ (z >> 31)) | 1;
}

static int kn_bernoulli(KCall *c)
{
	const KTensor *X = &c->in[0];
	if (kout(c, 0, X->rank, X->dims))
		return 1;
	uint64_t s = rng_seed(c);
	int64_t n = kt_numel(X);
	for (int64_t i = 0; i < n; i++)
		kn_st(&c->out[0], i, rng_unit(&s) < kn_ld(X, i) ? 1.0 : 0.0);
	return 0;
}

static int kn_randlike(KCall *c)
{
	const KTensor *X = &c->in[0];
	if (kout(c, 0, X->rank, X->dims))
		return 1;
	double lo = kattr_f(c, "low", 0), hi = kattr_f(c, "high", 1);
	uint64_t s = rng_seed(c);
	int64_t n = kt_numel(X);
	for (int64_t i = 0; i < n; i++)
		kn_st(&c->out[0], i, lo + rng_unit(&s) * (hi - lo));
	return 0;
}

int kn_misc(kpool *pool, KCall *c)
{
	(void)pool;
	switch (c->op) {
	case OP_NonMaxSuppression: return kn_nms(c);
	case OP_TfIdfVectorizer: return kn_tfidf(c);
	case OP_Einsum: return kn_einsum(c);
	case OP_Bernoulli: return kn_bernoulli(c);
	case OP_RandomUniformLike: return kn_randlike(c);
	}
	return kerr(c, "%s: not a misc kernel", op_names[c->op]);
}
