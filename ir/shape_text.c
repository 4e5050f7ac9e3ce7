/* Shape rules of the text ops: TfIdfVectorizer (integer tokens). */
#include <string.h>
#include "shape.h"

/* ir/ref_text.c: the pool layout check the kernel makes too. */
int tfidf_layout(const int64_t *counts, int nc, int64_t npool, int64_t nidx,
                 char *err, size_t errlen);

/* TfIdfVectorizer: [C] -> f32[W] or [N, C] -> f32[N, W], W the largest
 * ngram_indexes entry + 1. */
int sh_tfidf(Graph *g, Node *n, Diag *d)
{
	Value *x = sh_in(g, n, 0);
	char err[256];
	const int64_t *counts, *idx, *pool;
	int nc = ir_attr_ints(n, "ngram_counts", &counts);
	int ni = ir_attr_ints(n, "ngram_indexes", &idx);
	int np = ir_attr_ints(n, "pool_int64s", &pool);
	if (ir_attr(n, "pool_strings"))
		return ir_node_error(d, g, n, E_MODEL, "string pools (pool_strings) "
		                     "are not supported");
	if (x->dt != DT_I32 && x->dt != DT_I64)
		return ir_node_error(d, g, n, E_MODEL, "input must be int32 or int64 "
		                     "(got %s)", dt_name(x->dt));
	if (x->shape.rank != 1 && x->shape.rank != 2)
		return ir_node_error(d, g, n, E_MODEL, "input must be 1-D or 2-D");
	const char *mode = ir_attr_s(n, "mode", "");
	if (strcmp(mode, "TF") && strcmp(mode, "IDF") && strcmp(mode, "TFIDF"))
		return ir_node_error(d, g, n, E_MODEL, "unknown mode '%s'", mode);
	int64_t mn = ir_attr_i(n, "min_gram_length", 0);
	int64_t mx = ir_attr_i(n, "max_gram_length", 0);
	int64_t skip = ir_attr_i(n, "max_skip_count", 0);
	if (mn < 1 || mx < mn || skip < 0 || skip > (1 << 20))
		return ir_node_error(d, g, n, E_MODEL, "bad gram lengths %lld..%lld "
		                     "or skip count %lld", (long long)mn,
		                     (long long)mx, (long long)skip);
	if (tfidf_layout(counts, nc < 0 ? 0 : nc, np < 0 ? 0 : np, ni < 0 ? 0 : ni,
	                 err, sizeof err))
		return ir_node_error(d, g, n, E_MODEL, "%s", err);
	const Attr *wa = ir_attr(n, "weights");
	if (wa && wa->n != ni)
		return ir_node_error(d, g, n, E_MODEL, "%d weights for %d n-grams",
		                     wa->n, ni);
	int64_t width = 0;
	for (int j = 0; j < ni; j++) {
		if (idx[j] < 0 || idx[j] >= ((int64_t)1 << 30))
			return ir_node_error(d, g, n, E_MODEL, "ngram_indexes[%d] = %lld "
			                     "is out of range", j, (long long)idx[j]);
		if (idx[j] + 1 > width)
			width = idx[j] + 1;
	}
	Shape s = { .rank = x->shape.rank };
	if (s.rank == 2)
		s.d[0] = x->shape.d[0];
	s.d[s.rank - 1] = width;
	return sh_out(g, n, d, 0, DT_F32, &s);
}
