/* Reference kernels of the text ops: TfIdfVectorizer over integer tokens
 * (string tokens are refused: string tensors are unsupported). */
#include <stdio.h>
#include <string.h>
#include "kern.h"

/* Check the pool layout of TfIdfVectorizer: counts[k] is where the
 * (k+1)-grams start in a pool of npool tokens (ascending, the first 0),
 * each group a whole number of grams, nidx grams in all. Returns 0, or 1
 * with a reason in err. Shared with the shape rule (ir/shape_text.c). */
int tfidf_layout(const int64_t *counts, int nc, int64_t npool, int64_t nidx,
                 char *err, size_t errlen)
{
	int64_t total = 0;
	if (nc < 1 || nc > 64)
		return snprintf(err, errlen, "TfIdfVectorizer: ngram_counts has %d "
		                "entries (1..64)", nc), 1;
	for (int k = 0; k < nc; k++) {
		int64_t lo = counts[k], hi = k + 1 < nc ? counts[k + 1] : npool;
		if ((k == 0 && lo != 0) || lo < 0 || hi < lo || hi > npool ||
		    (hi - lo) % (k + 1))
			return snprintf(err, errlen, "TfIdfVectorizer: ngram_counts "
			                "does not split the pool of %lld into whole "
			                "%d-grams", (long long)npool, k + 1), 1;
		total += (hi - lo) / (k + 1);
	}
	if (total != nidx)
		return snprintf(err, errlen, "TfIdfVectorizer: the pool holds %lld "
		                "n-grams but ngram_indexes has %lld", (long long)total,
		                (long long)nidx), 1;
	return 0;
}

/* Does the n-gram of row x (length len) at start i, stride `step`, equal
 * pool[g * n ..]? */
static int gram_eq(const KTensor *x, int64_t base, int64_t i, int64_t step,
                   int n, const int64_t *gram)
{
	for (int t = 0; t < n; t++)
		if (dt_load_i(x->dt, x->data, (size_t)(base + i + t * step)) != gram[t])
			return 0;
	return 1;
}

/* TfIdfVectorizer: for each row, count the pool's n-grams (n in
 * min..max_gram_length, tokens max_skip_count + 1 apart at most; unigrams
 * counted once), then Y[ngram_indexes[j]] = TF count, IDF weight if seen,
 * or TFIDF count * weight (weights default to 1). */
int ref_tfidf(KCall *c)
{
	const KTensor *x = &c->in[0];
	const int64_t *counts, *idx, *pool;
	const float *w;
	int nc = kattr_ints(c, "ngram_counts", &counts);
	int ni = kattr_ints(c, "ngram_indexes", &idx);
	int np = kattr_ints(c, "pool_int64s", &pool);
	int nw = kattr_floats(c, "weights", &w);
	int64_t mn = kattr_i(c, "min_gram_length", 0);
	int64_t mx = kattr_i(c, "max_gram_length", 0);
	int64_t skip = kattr_i(c, "max_skip_count", 0);
	const char *mode = kattr_s(c, "mode", "");
	int md = !strcmp(mode, "TF") ? 0 : !strcmp(mode, "IDF") ? 1 :
	         !strcmp(mode, "TFIDF") ? 2 : -1;
	if (!dt_is_int(x->dt))
		return kerr(c, "TfIdfVectorizer: input must be int32 or int64 (%s)",
		            dt_name(x->dt));
	if (x->rank != 1 && x->rank != 2)
		return kerr(c, "TfIdfVectorizer: input must be 1-D or 2-D, got "
		            "rank %d", x->rank);
	if (md < 0)
		return kerr(c, "TfIdfVectorizer: unknown mode '%s'", mode);
	if (mn < 1 || mx < mn || skip < 0 || skip > (1 << 20))
		return kerr(c, "TfIdfVectorizer: bad gram lengths %lld..%lld or "
		            "skip count %lld", (long long)mn, (long long)mx,
		            (long long)skip);
	if (tfidf_layout(counts, nc, np, ni, c->err, c->errlen))
		return 1;
	if (nw && nw != ni)
		return kerr(c, "TfIdfVectorizer: %d weights for %d n-grams", nw, ni);
	int64_t width = 0;
	for (int j = 0; j < ni; j++) {
		if (idx[j] < 0 || idx[j] >= ((int64_t)1 << 30))
			return kerr(c, "TfIdfVectorizer: ngram_indexes[%d] = %lld is "
			            "out of range", j, (long long)idx[j]);
		if (idx[j] + 1 > width)
			width = idx[j] + 1;
	}
	int64_t rows = x->rank == 2 ? x->dims[0] : 1;
	int64_t len = x->dims[x->rank - 1];
	int64_t od[2] = { rows, width };
	if (kout(c, 0, x->rank, x->rank == 2 ? od : od + 1))
		return 1;
	KTensor *o = &c->out[0];
	memset(o->data, 0, kt_nbytes(o));
	for (int64_t r = 0; r < rows; r++) {
		int64_t base = r * len;
		int j0 = 0;                       /* first gram of length n */
		for (int n = 1; n <= nc; j0 += (int)(((n < nc ? counts[n] : np) -
		                                      counts[n - 1]) / n), n++) {
			if (n < mn || n > mx)
				continue;
			int64_t ngr = ((n < nc ? counts[n] : np) - counts[n - 1]) / n;
			for (int64_t s = 0; s <= (n == 1 ? 0 : skip); s++) {
				int64_t step = s + 1;
				for (int64_t i = 0; i + (n - 1) * step < len; i++)
					for (int64_t gi = 0; gi < ngr; gi++) {
						const int64_t *gram = pool + counts[n - 1] + gi * n;
						if (gram_eq(x, base, i, step, n, gram)) {
							size_t at = (size_t)(r * width + idx[j0 + gi]);
							dt_store_f(o->dt, o->data, at,
							           dt_load_f(o->dt, o->data, at) + 1);
						}
					}
			}
		}
		for (int j = 0; j < ni; j++) {      /* counts -> mode's value */
			size_t at = (size_t)(r * width + idx[j]);
			double cnt = dt_load_f(o->dt, o->data, at);
			double wt = nw ? w[j] : 1.0;
			if (md == 1)
				dt_store_f(o->dt, o->data, at, cnt > 0 ? wt : 0);
			else if (md == 2)
				dt_store_f(o->dt, o->data, at, cnt * wt);
		}
	}
	return 0;
}
