/* Reference kernels for linear algebra (MatMul family, Gemm, Einsum, Det)
 * and the normalisations (Batch/Instance/Layer/Group/Lp norm, LRN, MVN).
 * Oracle code: every value goes through double; clarity before speed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kern.h"
#include "ref_util.h"

static int norm_axis(KCall *c, int64_t axis, int rank, int *out)
{
	if (axis < -rank || (axis >= rank && !(rank == 0 && axis == 0)))
		return kerr(c, "%s: axis %lld out of range for rank %d", op_names[c->op],
		            (long long)axis, rank);
	*out = (int)(axis < 0 ? axis + rank : axis);
	return 0;
}

/* Saturating store of a quantized value (already rounded). */
static void store_sat(int dt, void *p, size_t i, double v)
{
	double lo = -INFINITY, hi = INFINITY;
	switch (dt) {
	case DT_U8: lo = 0; hi = 255; break;
	case DT_I8: lo = -128; hi = 127; break;
	case DT_U16: lo = 0; hi = 65535; break;
	case DT_I16: lo = -32768; hi = 32767; break;
	case DT_I32: lo = -2147483648.0; hi = 2147483647.0; break;
	}
	if (v < lo) v = lo;
	if (v > hi) v = hi;
	if (dt_is_int(dt))
		dt_store_i(dt, p, i, (int64_t)v);
	else
		dt_store_f(dt, p, i, v);
}

/* Per-tensor or per-axis parameter (scale / zero point): element j of t when
 * t has `n` elements, element 0 when t is a scalar; absent -> def. */
static int qparam(KCall *c, int idx, int64_t n, const char *what, double **out)
{
	int64_t cnt = n > 0 ? n : 1;
	double *p = malloc((size_t)cnt * sizeof *p);
	if (!p)
		return kerr(c, "%s: out of memory", op_names[c->op]);
	if (!ref_has_in(c, idx)) {
		for (int64_t j = 0; j < cnt; j++)
			p[j] = 0;
	} else {
		const KTensor *t = &c->in[idx];
		int64_t k = kt_numel(t);
		if (k != 1 && k != n) {
			free(p);
			return kerr(c, "%s: %s has %lld elements, expected 1 or %lld",
			            op_names[c->op], what, (long long)k, (long long)n);
		}
		p[0] = 0;
		for (int64_t j = 0; j < n; j++)
			p[j] = dt_load_f(t->dt, t->data, (size_t)(k == 1 ? 0 : j));
	}
	*out = p;
	return 0;
}

/* MatMul, MatMulInteger, QLinearMatMul: numpy matmul semantics (1-D operands
 * promoted and the promoted dim dropped again; batch dims broadcast). */
int ref_matmul(KCall *c)
{
	if (ref_need(c, c->op == OP_QLinearMatMul ? 8 : 2, 1))
		return 1;
	int q = c->op == OP_QLinearMatMul, integer = c->op == OP_MatMulInteger;
	const KTensor *a = &c->in[0], *b = &c->in[q ? 3 : 1];
	const char *on = op_names[c->op];
	if (a->rank < 1 || b->rank < 1)
		return kerr(c, "%s: operands must have rank >= 1 (got %d and %d)", on,
		            a->rank, b->rank);
	int64_t M = a->rank >= 2 ? a->dims[a->rank - 2] : 1, K = a->dims[a->rank - 1];
	int64_t K2 = b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0];
	int64_t N = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
	if (K != K2)
		return kerr(c, "%s: inner dimensions differ (%lld vs %lld)", on,
		            (long long)K, (long long)K2);
	int ab = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0;
	int br = ab > bb ? ab : bb;
	int64_t bd[K_MAXRANK], da[K_MAXRANK], db[K_MAXRANK], od[K_MAXRANK];
	for (int j = 0; j < br; j++) {
		da[j] = j >= br - ab ? a->dims[j - (br - ab)] : 1;
		db[j] = j >= br - bb ? b->dims[j - (br - bb)] : 1;
		if (da[j] != db[j] && da[j] != 1 && db[j] != 1)
			return kerr(c, "%s: batch dims %lld and %lld do not broadcast", on,
			            (long long)da[j], (long long)db[j]);
		bd[j] = da[j] == 1 ? db[j] : da[j];
	}
	int orank = 0;
	for (int j = 0; j < br; j++)
		od[orank++] = bd[j];
	if (a->rank >= 2)
		od[orank++] = M;
	if (b->rank >= 2)
		od[orank++] = N;
	if (kout(c, 0, orank, od))
		return 1;
	KTensor *y = &c->out[0];
	double *A = ref_load(c, a), *B = A ? ref_load(c, b) : NULL, *acc = NULL;
	double *azp = NULL, *bzp = NULL, *as = NULL, *bs = NULL;
	int rc = 1;
	if (!B)
		goto out;
	if (integer || q) {
		if (qparam(c, 2, M, "a_zero_point", &azp) ||
		    qparam(c, q ? 5 : 3, N, "b_zero_point", &bzp))
			goto out;
		for (int64_t i = 0; i < kt_numel(a); i++)
			A[i] -= azp[(i / (K > 0 ? K : 1)) % M];
		for (int64_t i = 0; i < kt_numel(b); i++)
			B[i] -= bzp[i % N];
	}
	if (q && (qparam(c, 1, M, "a_scale", &as) || qparam(c, 4, N, "b_scale", &bs)))
		goto out;
	acc = malloc((size_t)(M * N > 0 ? M * N : 1) * sizeof *acc);
	if (!acc) {
		kerr(c, "%s: out of memory", on);
		goto out;
	}
	double ys = 1, yzp = 0;
	if (q) {
		if (kt_numel(&c->in[6]) != 1 || kt_numel(&c->in[7]) != 1) {
			kerr(c, "%s: y_scale and y_zero_point must be scalars", on);
			goto out;
		}
		ys = dt_load_f(c->in[6].dt, c->in[6].data, 0);
		yzp = dt_load_f(c->in[7].dt, c->in[7].data, 0);
	}
	int64_t nbatch = ref_prod(bd, 0, br);
	for (int64_t f = 0; f < nbatch; f++) {
		int64_t ia = 0, ib = 0, sa = 1, sb = 1, r = f;
		for (int j = br - 1; j >= 0; j--) {
			int64_t x = r % bd[j];
			r /= bd[j];
			ia += (da[j] == 1 ? 0 : x) * sa;
			ib += (db[j] == 1 ? 0 : x) * sb;
			sa *= da[j];
			sb *= db[j];
		}
		const double *pa = A + ia * M * K, *pb = B + ib * K * N;
		for (int64_t i = 0; i < M * N; i++)
			acc[i] = 0;
		for (int64_t i = 0; i < M; i++)
			for (int64_t k = 0; k < K; k++) {
				double v = pa[i * K + k];
				const double *row = pb + k * N;
				double *o = acc + i * N;
				for (int64_t j = 0; j < N; j++)
					o[j] += v * row[j];
			}
		for (int64_t i = 0; i < M; i++)
			for (int64_t j = 0; j < N; j++) {
				size_t oi = (size_t)(f * M * N + i * N + j);
				double v = acc[i * N + j];
				if (q)
					store_sat(y->dt, y->data, oi,
					          rint(v * as[i] * bs[j] / ys) + yzp);
				else if (integer)
					store_sat(y->dt, y->data, oi, v);
				else
					dt_store_f(y->dt, y->data, oi, v);
			}
	}
	rc = 0;
out:
	free(A); free(B); free(acc); free(azp); free(bzp); free(as); free(bs);
	return rc;
}

/* Gemm: Y = alpha * A' * B' + beta * C, C unidirectionally broadcast to [M,N]. */
int ref_gemm(KCall *c)
{
	if (ref_need(c, 2, 1))
		return 1;
	const KTensor *a = &c->in[0], *b = &c->in[1];
	if (a->rank != 2 || b->rank != 2)
		return kerr(c, "Gemm: A and B must be 2-D (got rank %d and %d)", a->rank, b->rank);
	int ta = kattr_i(c, "transA", 0) != 0, tb = kattr_i(c, "transB", 0) != 0;
	double alpha = kattr_f(c, "alpha", 1.0), beta = kattr_f(c, "beta", 1.0);
	int64_t M = ta ? a->dims[1] : a->dims[0], K = ta ? a->dims[0] : a->dims[1];
	int64_t K2 = tb ? b->dims[1] : b->dims[0], N = tb ? b->dims[0] : b->dims[1];
	if (K != K2)
		return kerr(c, "Gemm: inner dimensions differ (%lld vs %lld)", (long long)K,
		            (long long)K2);
	int64_t cs[2] = {0, 0}, od[2] = {M, N};
	const KTensor *ct = ref_has_in(c, 2) ? &c->in[2] : NULL;
	if (ct) {
		if (ct->rank > 2)
			return kerr(c, "Gemm: C has rank %d > 2", ct->rank);
		for (int j = 0; j < ct->rank; j++) {
			int64_t d = ct->dims[j], want = od[2 - ct->rank + j];
			if (d != 1 && d != want)
				return kerr(c, "Gemm: C dim %lld does not broadcast to %lld",
				            (long long)d, (long long)want);
		}
		kt_bstrides(ct, 2, od, cs);
	}
	if (kout(c, 0, 2, od))
		return 1;
	double *A = ref_load(c, a), *B = A ? ref_load(c, b) : NULL;
	if (!B) {
		free(A);
		return 1;
	}
	KTensor *y = &c->out[0];
	for (int64_t i = 0; i < M; i++)
		for (int64_t j = 0; j < N; j++) {
			double s = 0;
			for (int64_t k = 0; k < K; k++)
				s += A[ta ? k * M + i : i * K + k] * B[tb ? j * K + k : k * N + j];
			s *= alpha;
			if (ct)
				s += beta * dt_load_f(ct->dt, ct->data, (size_t)(i * cs[0] + j * cs[1]));
			dt_store_f(y->dt, y->data, (size_t)(i * N + j), s);
		}
	free(A);
	free(B);
	return 0;
}

/* ---- Einsum ---------------------------------------------------------- */

enum { EL_ELL = 52, EL_MAX = 52 + K_MAXRANK };  /* labels: a-z A-Z, then ellipsis dims */

static int lab_of(char ch)
{
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';          /* upper case sorts first, as in numpy */
	return -1;
}

/* Parse one term of the equation [s, e) into labels; ellipsis -> -2. */
static int parse_term(KCall *c, const char *s, const char *e, int *lab, int *n)
{
	*n = 0;
	int ell = 0;
	while (s < e) {
		if (*s == ' ') { s++; continue; }
		if (*s == '.') {
			if (e - s < 3 || s[1] != '.' || s[2] != '.' || ell)
				return kerr(c, "Einsum: bad ellipsis in equation");
			ell = 1;
			lab[(*n)++] = -2;
			s += 3;
			continue;
		}
		int l = lab_of(*s);
		if (l < 0)
			return kerr(c, "Einsum: bad character '%c' in equation", *s);
		if (*n >= K_MAXRANK + 1)
			return kerr(c, "Einsum: term has too many subscripts");
		lab[(*n)++] = l;
		s++;
	}
	return 0;
}

/* Einsum: general; repeated labels take diagonals, ellipsis dims broadcast,
 * implicit output = ellipsis dims then once-only labels in order. */
int ref_einsum(KCall *c)
{
	if (ref_need(c, c->nin, 1))
		return 1;
	const char *eq = kattr_s(c, "equation", NULL);
	if (!eq)
		return kerr(c, "Einsum: missing equation attribute");
	int nin = c->nin, tl[64][K_MAXRANK + 1], tn[64];
	if (nin > 64)
		return kerr(c, "Einsum: too many inputs (%d)", nin);
	const char *arrow = strstr(eq, "->"), *end = arrow ? arrow : eq + strlen(eq);
	const char *s = eq;
	int t = 0;
	for (;;) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *te = comma ? comma : end;
		if (t >= nin)
			return kerr(c, "Einsum: equation has more terms than the %d inputs", nin);
		if (parse_term(c, s, te, tl[t], &tn[t]))
			return 1;
		t++;
		if (!comma)
			break;
		s = comma + 1;
	}
	if (t != nin)
		return kerr(c, "Einsum: equation has %d terms but %d inputs", t, nin);
	int64_t size[EL_MAX];
	int count[EL_MAX] = {0}, E = 0, ellr[64];
	for (int l = 0; l < EL_MAX; l++)
		size[l] = -1;
	for (int i = 0; i < nin; i++) {
		int letters = 0, has_ell = 0;
		for (int k = 0; k < tn[i]; k++)
			tl[i][k] == -2 ? (has_ell = 1) : letters++;
		int r = c->in[i].rank;
		ellr[i] = r - letters;
		if (ellr[i] < 0 || (!has_ell && ellr[i] != 0))
			return kerr(c, "Einsum: term %d has %d subscripts but input rank is %d",
			            i, letters, r);
		if (ellr[i] > E)
			E = ellr[i];
	}
	/* sizes: letters must agree; ellipsis dims broadcast */
	for (int i = 0; i < nin; i++) {
		int d = 0;
		for (int k = 0; k < tn[i]; k++) {
			if (tl[i][k] == -2) {
				for (int e = 0; e < ellr[i]; e++, d++) {
					int l = EL_ELL + E - ellr[i] + e;
					int64_t v = c->in[i].dims[d];
					if (size[l] < 0 || size[l] == 1)
						size[l] = v;
					else if (v != 1 && v != size[l])
						return kerr(c, "Einsum: ellipsis dims do not broadcast");
				}
				continue;
			}
			int l = tl[i][k];
			int64_t v = c->in[i].dims[d++];
			if (size[l] >= 0 && size[l] != v)
				return kerr(c, "Einsum: label '%c' has sizes %lld and %lld",
				            l < 26 ? 'A' + l : 'a' + l - 26, (long long)size[l],
				            (long long)v);
			size[l] = v;
			count[l]++;
		}
	}
	for (int e = 0; e < E; e++)
		if (size[EL_ELL + e] < 0)
			size[EL_ELL + e] = 1;
	int ol[EL_MAX], on = 0, used[EL_MAX] = {0};
	if (arrow) {
		int lab[K_MAXRANK + 1], n;
		if (parse_term(c, arrow + 2, arrow + strlen(arrow), lab, &n))
			return 1;
		for (int k = 0; k < n; k++) {
			if (lab[k] == -2) {
				for (int e = 0; e < E; e++)
					ol[on++] = EL_ELL + e, used[EL_ELL + e] = 1;
				continue;
			}
			if (size[lab[k]] < 0 || used[lab[k]])
				return kerr(c, "Einsum: output subscript '%c' is unknown or repeated",
				            lab[k] < 26 ? 'A' + lab[k] : 'a' + lab[k] - 26);
			ol[on++] = lab[k];
			used[lab[k]] = 1;
		}
	} else {
		for (int e = 0; e < E; e++)
			ol[on++] = EL_ELL + e, used[EL_ELL + e] = 1;
		for (int l = 0; l < EL_ELL; l++)
			if (count[l] == 1)
				ol[on++] = l, used[l] = 1;
	}
	if (on > K_MAXRANK)
		return kerr(c, "Einsum: output rank %d too large", on);
	int64_t od[K_MAXRANK];
	for (int k = 0; k < on; k++)
		od[k] = size[ol[k]];
	if (kout(c, 0, on, od))
		return 1;
	/* loop labels: output ones first, then the summed ones */
	int al[EL_MAX], an = 0;
	for (int k = 0; k < on; k++)
		al[an++] = ol[k];
	for (int l = 0; l < EL_MAX; l++)
		if (size[l] >= 0 && !used[l])
			al[an++] = l;
	/* strides[i][j]: step of input i along loop label j (0 = not present/broadcast) */
	int64_t (*st)[EL_MAX] = calloc((size_t)nin + 1, sizeof *st);
	double **X = calloc((size_t)nin, sizeof *X);
	int64_t onum = ref_prod(od, 0, on);
	double *acc = calloc((size_t)(onum > 0 ? onum : 1), sizeof *acc);
	int rc = 1;
	if (!st || !X || !acc) {
		kerr(c, "Einsum: out of memory");
		goto out;
	}
	for (int i = 0; i < nin; i++) {
		const KTensor *x = &c->in[i];
		int64_t s1 = 1, dst[K_MAXRANK];
		int dl[K_MAXRANK], d = 0;
		for (int k = 0; k < tn[i]; k++) {
			if (tl[i][k] == -2)
				for (int e = 0; e < ellr[i]; e++)
					dl[d++] = EL_ELL + E - ellr[i] + e;
			else
				dl[d++] = tl[i][k];
		}
		for (int k = x->rank - 1; k >= 0; k--) {
			dst[k] = x->dims[k] == 1 ? 0 : s1;
			s1 *= x->dims[k];
		}
		for (int k = 0; k < x->rank; k++)
			for (int j = 0; j < an; j++)
				if (al[j] == dl[k])
					st[i][j] += dst[k];
		if (!(X[i] = ref_load(c, x)))
			goto out;
	}
	{
		int64_t s1 = 1;
		for (int k = on - 1; k >= 0; k--) {
			st[nin][k] = s1;
			s1 *= od[k];
		}
	}
	int64_t total = 1, idx[EL_MAX] = {0}, off[65] = {0};
	for (int j = 0; j < an; j++)
		total *= size[al[j]];
	for (int64_t it = 0; it < total; it++) {
		double p = 1;
		for (int i = 0; i < nin; i++)
			p *= X[i][off[i]];
		acc[off[nin]] += p;
		for (int j = an - 1; j >= 0; j--) {
			for (int i = 0; i <= nin; i++)
				off[i] += st[i][j];
			if (++idx[j] < size[al[j]])
				break;
			for (int i = 0; i <= nin; i++)
				off[i] -= st[i][j] * idx[j];
			idx[j] = 0;
		}
	}
	for (int64_t i = 0; i < onum; i++)
		dt_store_f(c->out[0].dt, c->out[0].data, (size_t)i, acc[i]);
	rc = 0;
out:
	if (X)
		for (int i = 0; i < nin; i++)
			free(X[i]);
	free(X);
	free(st);
	free(acc);
	return rc;
}

/* Det: determinant of the trailing [M, M] matrices via LU with partial pivoting. */
int ref_det(KCall *c)
{
	if (ref_need(c, 1, 1))
		return 1;
	const KTensor *x = &c->in[0];
	int r = x->rank;
	if (r < 2 || x->dims[r - 1] != x->dims[r - 2])
		return kerr(c, "Det: input must be [..., M, M]");
	int64_t n = x->dims[r - 1];
	if (kout(c, 0, r - 2, x->dims))
		return 1;
	double *X = ref_load(c, x);
	if (!X)
		return 1;
	int64_t nb = ref_prod(x->dims, 0, r - 2);
	for (int64_t b = 0; b < nb; b++) {
		double *m = X + b * n * n, det = 1;
		for (int64_t k = 0; k < n; k++) {
			int64_t p = k;
			for (int64_t i = k + 1; i < n; i++)
				if (fabs(m[i * n + k]) > fabs(m[p * n + k]))
					p = i;
			if (m[p * n + k] == 0) {
				det = 0;
				break;
			}
			if (p != k) {
				for (int64_t j = 0; j < n; j++) {
					double t = m[k * n + j];
					m[k * n + j] = m[p * n + j];
					m[p * n + j] = t;
				}
				det = -det;
			}
			det *= m[k * n + k];
			for (int64_t i = k + 1; i < n; i++) {
				double f = m[i * n + k] / m[k * n + k];
				for (int64_t j = k; j < n; j++)
					m[i * n + j] -= f * m[k * n + j];
			}
		}
		dt_store_f(c->out[0].dt, c->out[0].data, (size_t)b, det);
	}
	free(X);
	return 0;
}

/* ---- Normalisations --------------------------------------------------- */

/* Per-channel parameter j of input idx, which must have exactly n elements. */
static int chan_param(KCall *c, int idx, int64_t n, const char *what)
{
	if (kt_numel(&c->in[idx]) != n)
		return kerr(c, "%s: %s has %lld elements, expected %lld", op_names[c->op], what,
		            (long long)kt_numel(&c->in[idx]), (long long)n);
	return 0;
}

static double ld1(const KTensor *t, int64_t i)
{
	return dt_load_f(t->dt, t->data, (size_t)i);
}

/* BatchNormalization: inference mode normalises with the given running
 * statistics; training mode (training_mode=1, or an opset < 14 node with
 * extra outputs) uses batch statistics and emits updated running ones. */
int ref_batchnorm(KCall *c)
{
	if (ref_need(c, 5, 1))
		return 1;
	const KTensor *x = &c->in[0];
	if (x->rank < 2)
		return kerr(c, "BatchNormalization: input rank %d < 2", x->rank);
	int64_t N = x->dims[0], C = x->dims[1], S = ref_prod(x->dims + 2, 0, x->rank - 2);
	static const char *nm[] = {"", "scale", "B", "input_mean", "input_var"};
	for (int i = 1; i < 5; i++)
		if (chan_param(c, i, C, nm[i]))
			return 1;
	double eps = kattr_f(c, "epsilon", 1e-5), mom = kattr_f(c, "momentum", 0.9);
	int opset = (int)kattr_i(c, "_opset", 17);
	int train = kattr_i(c, "training_mode", 0) != 0 ||
	            (opset < 14 && (ref_want_out(c, 1) || ref_want_out(c, 2)));
	if (kout(c, 0, x->rank, x->dims))
		return 1;
	int64_t cd[1] = {C};
	for (int i = 1; i < 3 && train; i++)
		if (ref_want_out(c, i) && kout(c, i, 1, cd))
			return 1;
	for (int64_t ch = 0; ch < C; ch++) {
		double mean = ld1(&c->in[3], ch), var = ld1(&c->in[4], ch);
		if (train) {
			double s = 0, s2 = 0, cnt = (double)(N * S);
			for (int64_t n = 0; n < N; n++)
				for (int64_t k = 0; k < S; k++)
					s += ld1(x, (n * C + ch) * S + k);
			double bm = cnt > 0 ? s / cnt : 0;
			for (int64_t n = 0; n < N; n++)
				for (int64_t k = 0; k < S; k++) {
					double d = ld1(x, (n * C + ch) * S + k) - bm;
					s2 += d * d;
				}
			double bv = cnt > 0 ? s2 / cnt : 0;
			if (ref_want_out(c, 1))
				dt_store_f(c->out[1].dt, c->out[1].data, (size_t)ch,
				           mean * mom + bm * (1 - mom));
			if (ref_want_out(c, 2))
				dt_store_f(c->out[2].dt, c->out[2].data, (size_t)ch,
				           var * mom + bv * (1 - mom));
			mean = bm;
			var = bv;
		}
		double g = ld1(&c->in[1], ch) / sqrt(var + eps), b = ld1(&c->in[2], ch);
		for (int64_t n = 0; n < N; n++)
			for (int64_t k = 0; k < S; k++) {
				size_t i = (size_t)((n * C + ch) * S + k);
				dt_store_f(c->out[0].dt, c->out[0].data, i, (ld1(x, i) - mean) * g + b);
			}
	}
	return 0;
}

/* Mean and 1/sqrt(var + eps) (population variance) of x[0..len). */
static void moments(const double *x, int64_t len, double *mean, double *rstd, double eps)
{
	double s = 0, s2 = 0;
	for (int64_t k = 0; k < len; k++)
		s += x[k];
	double m = len > 0 ? s / (double)len : 0;
	for (int64_t k = 0; k < len; k++)
		s2 += (x[k] - m) * (x[k] - m);
	*mean = m;
	*rstd = 1.0 / sqrt((len > 0 ? s2 / (double)len : 0) + eps);
}

/* InstanceNormalization / GroupNormalization: per (n, group) statistics over
 * channels-in-group x spatial; affine per channel (or per group, opset 18). */
static int group_norm(KCall *c, int64_t G)
{
	if (ref_need(c, 3, 1))
		return 1;
	const KTensor *x = &c->in[0];
	const char *on = op_names[c->op];
	if (x->rank < 2)
		return kerr(c, "%s: input rank %d < 2", on, x->rank);
	int64_t N = x->dims[0], C = x->dims[1], S = ref_prod(x->dims + 2, 0, x->rank - 2);
	if (G <= 0 || C % G)
		return kerr(c, "%s: num_groups %lld does not divide %lld channels", on,
		            (long long)G, (long long)C);
	int64_t ns = kt_numel(&c->in[1]), nb = kt_numel(&c->in[2]);
	int per_group = 0;
	if (ns != C || nb != C) {
		if (c->op == OP_GroupNormalization && ns == G && nb == G)
			per_group = 1;
		else
			return kerr(c, "%s: scale/bias have %lld/%lld elements, expected %lld",
			            on, (long long)ns, (long long)nb, (long long)C);
	}
	if (kout(c, 0, x->rank, x->dims))
		return 1;
	double eps = kattr_f(c, "epsilon", 1e-5);
	double *X = ref_load(c, x);
	if (!X)
		return 1;
	int64_t cg = C / G, len = cg * S;
	for (int64_t n = 0; n < N; n++)
		for (int64_t g = 0; g < G; g++) {
			double *p = X + (n * C + g * cg) * S, mean, rstd;
			moments(p, len, &mean, &rstd, eps);
			for (int64_t k = 0; k < len; k++) {
				int64_t ch = g * cg + k / (S > 0 ? S : 1), pi = per_group ? g : ch;
				double v = (p[k] - mean) * rstd * ld1(&c->in[1], pi) + ld1(&c->in[2], pi);
				dt_store_f(c->out[0].dt, c->out[0].data,
				           (size_t)((n * C + g * cg) * S + k), v);
			}
		}
	free(X);
	return 0;
}

int ref_instancenorm(KCall *c)
{
	if (ref_need(c, 1, 1))
		return 1;
	return group_norm(c, c->in[0].rank >= 2 ? c->in[0].dims[1] : 1);
}

int ref_groupnorm(KCall *c)
{
	const KAttr *a = kattr(c, "num_groups");
	if (!a)
		return kerr(c, "GroupNormalization: missing num_groups attribute");
	return group_norm(c, a->i);
}

/* LayerNormalization: statistics over dims [axis, rank); Scale and B
 * broadcast to those dims; optional Mean / InvStdDev outputs keep the
 * reduced dims as 1. */
int ref_layernorm(KCall *c)
{
	if (ref_need(c, 2, 1))
		return 1;
	const KTensor *x = &c->in[0];
	int r = x->rank, ax;
	if (norm_axis(c, kattr_i(c, "axis", -1), r, &ax))
		return 1;
	int nr = r - ax;
	const int64_t *nd = x->dims + ax;
	int64_t outer = ref_prod(x->dims, 0, ax), len = ref_prod(nd, 0, nr);
	int64_t ss[K_MAXRANK] = {0}, bs[K_MAXRANK] = {0};
	const KTensor *sc = &c->in[1], *bt = ref_has_in(c, 2) ? &c->in[2] : NULL;
	for (int t = 0; t < 2; t++) {
		const KTensor *p = t ? bt : sc;
		if (!p)
			continue;
		if (p->rank > nr)
			return kerr(c, "LayerNormalization: %s rank %d exceeds normalised rank %d",
			            t ? "B" : "Scale", p->rank, nr);
		for (int j = 0; j < p->rank; j++) {
			int64_t d = p->dims[j], w = nd[nr - p->rank + j];
			if (d != 1 && d != w)
				return kerr(c, "LayerNormalization: %s does not broadcast to X",
				            t ? "B" : "Scale");
		}
		kt_bstrides(p, nr, nd, t ? bs : ss);
	}
	if (kout(c, 0, r, x->dims))
		return 1;
	int64_t md[K_MAXRANK];
	for (int j = 0; j < r; j++)
		md[j] = j < ax ? x->dims[j] : 1;
	for (int i = 1; i < 3; i++)
		if (ref_want_out(c, i) && kout(c, i, r, md))
			return 1;
	double eps = kattr_f(c, "epsilon", 1e-5);
	double *X = ref_load(c, x);
	if (!X)
		return 1;
	for (int64_t o = 0; o < outer; o++) {
		double *p = X + o * len, mean, rstd;
		moments(p, len, &mean, &rstd, eps);
		for (int64_t k = 0; k < len; k++) {
			int64_t si = 0, bi = 0, rem = k;
			for (int j = nr - 1; j >= 0; j--) {
				int64_t q = rem % nd[j];
				rem /= nd[j];
				si += q * ss[j];
				bi += q * bs[j];
			}
			double v = (p[k] - mean) * rstd * ld1(sc, si) + (bt ? ld1(bt, bi) : 0);
			dt_store_f(c->out[0].dt, c->out[0].data, (size_t)(o * len + k), v);
		}
		if (ref_want_out(c, 1))
			dt_store_f(c->out[1].dt, c->out[1].data, (size_t)o, mean);
		if (ref_want_out(c, 2))
			dt_store_f(c->out[2].dt, c->out[2].data, (size_t)o, rstd);
	}
	free(X);
	return 0;
}

/* LpNormalization: x / ||x||_p along axis (p = 1 or 2); a zero norm gives 0. */
int ref_lpnorm(KCall *c)
{
	if (ref_need(c, 1, 1))
		return 1;
	const KTensor *x = &c->in[0];
	int ax;
	if (norm_axis(c, kattr_i(c, "axis", -1), x->rank, &ax))
		return 1;
	int64_t p = kattr_i(c, "p", 2);
	if (p != 1 && p != 2)
		return kerr(c, "LpNormalization: p must be 1 or 2 (got %lld)", (long long)p);
	if (kout(c, 0, x->rank, x->dims))
		return 1;
	int64_t outer = ref_prod(x->dims, 0, ax), n = x->rank ? x->dims[ax] : 1;
	int64_t inner = ref_prod(x->dims + ax + 1, 0, x->rank - ax - 1);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t in = 0; in < inner; in++) {
			double s = 0;
			for (int64_t k = 0; k < n; k++) {
				double v = ld1(x, (o * n + k) * inner + in);
				s += p == 1 ? fabs(v) : v * v;
			}
			if (p == 2)
				s = sqrt(s);
			for (int64_t k = 0; k < n; k++) {
				size_t i = (size_t)((o * n + k) * inner + in);
				dt_store_f(c->out[0].dt, c->out[0].data, i, s != 0 ? ld1(x, i) / s : 0);
			}
		}
	return 0;
}

/* LRN: cross-channel local response normalisation over [c - (size-1)/2,
 * c + ceil((size-1)/2)]. */
int ref_lrn(KCall *c)
{
	if (ref_need(c, 1, 1))
		return 1;
	const KTensor *x = &c->in[0];
	const KAttr *sa = kattr(c, "size");
	if (!sa || sa->i <= 0)
		return kerr(c, "LRN: missing or non-positive size attribute");
	if (x->rank < 2)
		return kerr(c, "LRN: input rank %d < 2", x->rank);
	double alpha = kattr_f(c, "alpha", 1e-4), beta = kattr_f(c, "beta", 0.75);
	double bias = kattr_f(c, "bias", 1.0);
	int64_t size = sa->i, lo = (size - 1) / 2, hi = size - 1 - lo;
	int64_t N = x->dims[0], C = x->dims[1], S = ref_prod(x->dims + 2, 0, x->rank - 2);
	if (kout(c, 0, x->rank, x->dims))
		return 1;
	for (int64_t n = 0; n < N; n++)
		for (int64_t ch = 0; ch < C; ch++)
			for (int64_t k = 0; k < S; k++) {
				double s = 0;
				int64_t j0 = ch - lo > 0 ? ch - lo : 0;
				int64_t j1 = hi >= C - 1 - ch ? C - 1 : ch + hi;
				for (int64_t j = j0; j <= j1; j++) {
					double v = ld1(x, (n * C + j) * S + k);
					s += v * v;
				}
				size_t i = (size_t)((n * C + ch) * S + k);
				dt_store_f(c->out[0].dt, c->out[0].data, i,
				           ld1(x, i) / pow(bias + alpha / (double)size * s, beta));
			}
	return 0;
}

/* MeanVarianceNormalization: (x - mean) / (sqrt(var) + 1e-9) over `axes`
 * (default [0, 2, 3]), as in the ONNX function body. */
int ref_mvn(KCall *c)
{
	if (ref_need(c, 1, 1))
		return 1;
	const KTensor *x = &c->in[0];
	static const int64_t defax[3] = {0, 2, 3};
	const int64_t *ax;
	int na = kattr_ints(c, "axes", &ax);
	if (!kattr(c, "axes"))
		ax = defax, na = 3;
	int red[K_MAXRANK] = {0}, r = x->rank;
	for (int k = 0; k < na; k++) {
		int a;
		if (norm_axis(c, ax[k], r, &a))
			return 1;
		red[a] = 1;
	}
	if (kout(c, 0, r, x->dims))
		return 1;
	/* group elements by their kept-dims index */
	int64_t n = kt_numel(x), ng = 1;
	for (int j = 0; j < r; j++)
		if (!red[j])
			ng *= x->dims[j];
	double *X = ref_load(c, x), *sum = calloc((size_t)(ng > 0 ? ng : 1), sizeof(double));
	double *sq = calloc((size_t)(ng > 0 ? ng : 1), sizeof(double));
	int64_t *gi = malloc((size_t)(n > 0 ? n : 1) * sizeof *gi);
	int rc = 1;
	if (!X || !sum || !sq || !gi) {
		kerr(c, "MeanVarianceNormalization: out of memory");
		goto out;
	}
	for (int64_t i = 0; i < n; i++) {
		int64_t rem = i, g = 0, m = 1;
		for (int j = r - 1; j >= 0; j--) {
			int64_t q = rem % x->dims[j];
			rem /= x->dims[j];
			if (!red[j]) {
				g += q * m;
				m *= x->dims[j];
			}
		}
		gi[i] = g;
		sum[g] += X[i];
		sq[g] += X[i] * X[i];
	}
	double cnt = ng > 0 ? (double)n / (double)ng : 1;
	for (int64_t i = 0; i < n; i++) {
		double m = sum[gi[i]] / cnt, var = sq[gi[i]] / cnt - m * m;
		dt_store_f(c->out[0].dt, c->out[0].data, (size_t)i,
		           (X[i] - m) / (sqrt(var > 0 ? var : 0) + 1e-9));
	}
	rc = 0;
out:
	free(X); free(sum); free(sq); free(gi);
	return rc;
}
