/* Single-precision GEMM driver: picks the microkernels for this CPU, packs
 * A and B panels, blocks for the caches, and splits C between the threads of
 * a kpool. Also the portable C microkernels used where AVX2 is missing. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "kgemm.h"
#include "kgemm_impl.h"

/* Tuning knobs for benchmarks (0 = the ISA's default). */
int kg_tune_kc, kg_tune_mc, kg_tune_nc, kg_tune_direct_m = -1, kg_tune_serial = -1;
int kg_tune_pack_a_m = -1, kg_tune_prefetch = -1, kg_tune_ppt;

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define CDIV(a, b) (((a) + (b) - 1) / (b))

/* ---- portable microkernel (R x 16) --------------------------------------- */
float kg_act1(float x, int act)
{
	switch (act) {
	case KGEMM_ACT_RELU:
		return x > 0.0f ? x : 0.0f;
	case KGEMM_ACT_GELU_ERF:
		return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
	case KGEMM_ACT_SILU:
		return x / (1.0f + expf(-x));
	case KGEMM_ACT_GELU_TANH:       /* x * sigmoid(2u) = 0.5 x (1 + tanh u) */
		return x / (1.0f + expf(-1.5957691216057308f * (x + 0.044715f * x * x * x)));
	default:
		return x;
	}
}

/* GCC/Clang vector extensions: 4-float vectors on any target (SSE2, NEON, or
 * plain scalar code where there is no SIMD). */
typedef float kg_v4 __attribute__((vector_size(16)));

static inline __attribute__((always_inline))
void gbody(const int R, int64_t k, const float *a, int64_t rsa, int64_t csa,
           const float *b, int64_t rsb, float *c, int64_t ldc, int mr, int nr,
           const kg_store *st)
{
	kg_v4 acc[4][4];
	for (int i = 0; i < R; i++)
		for (int j = 0; j < 4; j++)
			acc[i][j] = (kg_v4){0, 0, 0, 0};
	for (int64_t p = 0; p < k; p++) {
		kg_v4 bv[4];
		memcpy(bv, b, sizeof bv);
		for (int i = 0; i < R; i++) {
			float av = a[i * rsa];
			for (int j = 0; j < 4; j++)
				acc[i][j] += av * bv[j];
		}
		a += csa;
		b += rsb;
	}
	float out[4][KG_NR];
	memcpy(out, acc, sizeof(float) * KG_NR * R);
	for (int i = 0; i < mr; i++)
		for (int j = 0; j < nr; j++) {
			float v = st->alpha * out[i][j];
			if (st->beta != 0.0f)
				v += st->beta * c[i * ldc + j];
			if (st->bias)
				v += st->bias[j];
			if (st->res)
				v += st->res[i * st->ldr + j];
			c[i * ldc + j] = kg_act1(v, st->act);
		}
}

#define UKRG(R)                                                                  \
	static void ug_##R(int64_t k, const float *a, int64_t rsa, int64_t csa,  \
	                   const float *b, int64_t rsb, int64_t psb, float *c,    \
	                   int64_t ldc, int mr, int nr, const kg_store *st)       \
	{ gbody(R, k, a, rsa, csa, b, rsb, c, ldc, mr, nr, st); }
UKRG(1) UKRG(2) UKRG(3) UKRG(4)

const kg_impl kg_generic = {
	.name = "generic", .mr = 4, .kc = 256, .mc = 120, .nc = 1024,
	.maxnp = {0, 1, 1, 1, 1},
	.k = {[1] = {NULL, ug_1}, [2] = {NULL, ug_2}, [3] = {NULL, ug_3}, [4] = {NULL, ug_4}},
	.kp = {NULL, ug_4},
};

/* ---- ISA selection -------------------------------------------------------- */
static atomic_int cpu_level = -1, forced_isa = -1;

int kgemm_isa(void)
{
	int lv = atomic_load(&cpu_level);
	if (lv < 0) {
		lv = kg_cpu_level();
		atomic_store(&cpu_level, lv);
	}
	int f = atomic_load(&forced_isa);
	return f >= 0 && f < lv ? f : lv;
}

void kgemm_force_isa(int isa) { atomic_store(&forced_isa, isa); }

static const kg_impl *pick_impl(void)
{
	switch (kgemm_isa()) {
	case KGEMM_ISA_AVX512:
		return kg_avx512();
	case KGEMM_ISA_AVX2:
		return kg_avx2();
	default:
		return &kg_generic;
	}
}

/* ---- B packing ------------------------------------------------------------ */
size_t kgemm_pack_b_size(int64_t K, int64_t N)
{
	size_t n = (size_t)CDIV(N, KG_NR) * KG_NR * (size_t)(K > 0 ? K : 0) * sizeof(float);
	return (n + 63) & ~(size_t)63;
}

/* Panels [p0, p1) of op(B) into the packed layout. */
static void pack_b_panels(const float *B, int64_t ldb, int transB, int64_t K,
                          int64_t N, float *packed, int64_t p0, int64_t p1)
{
	for (int64_t p = p0; p < p1; p++) {
		float *d = packed + p * K * KG_NR;
		int64_t j0 = p * KG_NR, w = MIN(KG_NR, N - j0);
		if (!transB) {
			for (int64_t k = 0; k < K; k++) {
				const float *s = B + k * ldb + j0;
				for (int64_t j = 0; j < w; j++)
					d[k * KG_NR + j] = s[j];
				for (int64_t j = w; j < KG_NR; j++)
					d[k * KG_NR + j] = 0.0f;
			}
		} else {
			for (int64_t j = 0; j < KG_NR; j++) {
				if (j < w) {
					const float *s = B + (j0 + j) * ldb;
					for (int64_t k = 0; k < K; k++)
						d[k * KG_NR + j] = s[k];
				} else {
					for (int64_t k = 0; k < K; k++)
						d[k * KG_NR + j] = 0.0f;
				}
			}
		}
	}
}

void kgemm_pack_b(const float *B, int64_t ldb, int transB, int64_t K, int64_t N,
                  float *packed)
{
	if (K > 0 && N > 0)
		pack_b_panels(B, ldb, transB, K, N, packed, 0, CDIV(N, KG_NR));
}

/* ---- the blocked driver --------------------------------------------------- */
typedef struct gctx {
	const kg_impl *im;
	int64_t M, N, K;
	float alpha, beta;
	const float *A;
	int64_t rsa, csa;               /* op(A)[i][k] = A[i*rsa + k*csa] */
	/* panel p < nfull: B + p*psb, row k at +k*rsb; the rest: bedge (rows of 16) */
	const float *B, *bedge;
	int64_t rsb, psb, nfull;
	float *C;
	int64_t ldc;
	const float *bias, *res;
	int64_t ldr;
	int act;
	int64_t kc, mc, nc;
	int pack_a;
	int prefetch;                   /* software prefetch of the next B panels */
	int gm, gn;                     /* thread grid over rows x column panels */
	/* for the parallel B packing */
	const float *srcB;
	int64_t ldb;
	int transB;
	float *packed;
} gctx;

/* Rows [i0, i1) x k [k0, k0+kb) of op(A) into mr-row panels, zero-padded. */
static void pack_a_block(const gctx *g, int64_t i0, int64_t i1, int64_t k0,
                         int64_t kb, float *dst)
{
	int mr = g->im->mr;
	for (int64_t i = i0; i < i1; i += mr) {
		int rows = (int)MIN(mr, i1 - i);
		const float *s = g->A + i * g->rsa + k0 * g->csa;
		if (g->csa == 1 && rows == mr && g->im->pack_a) {
			/* the ISA's vector transpose (a whole panel) */
			g->im->pack_a(s, g->rsa, kb, dst);
		} else if (g->csa == 1) {
			for (int r = 0; r < rows; r++)
				for (int64_t k = 0; k < kb; k++)
					dst[k * mr + r] = s[r * g->rsa + k];
		} else {
			for (int64_t k = 0; k < kb; k++)
				for (int r = 0; r < rows; r++)
					dst[k * mr + r] = s[k * g->csa + r * g->rsa];
		}
		for (int r = rows; r < mr; r++)
			for (int64_t k = 0; k < kb; k++)
				dst[k * mr + r] = 0.0f;
		dst += (int64_t)mr * kb;
	}
}

/* C rows [i0, i1) x panels [p0, p1), k range [k0, k0+kb); the prefetch
 * runs on up to panel pend (>= p1: where the thread goes on with the same
 * rows and k range). */
static void macro_tile(const gctx *g, const float *apk, int64_t i0, int64_t i1,
                       int64_t p0, int64_t p1, int64_t k0, int64_t kb, int64_t pend)
{
	const kg_impl *im = g->im;
	int mr = im->mr;
	int last = k0 + kb >= g->K;
	kg_store st = {g->alpha, k0 == 0 ? g->beta : 1.0f, NULL, last ? g->act : 0, NULL, g->ldr,
	               NULL, 0, 0};
	int rmain = g->pack_a ? mr : (int)MIN(mr, i1 - i0);
	int gw = im->maxnp[rmain];
	int nstr = (int)CDIV(i1 - i0, mr);
	for (int64_t p = p0; p < p1;) {
		int np = (int)MIN(gw, p1 - p);
		const float *bp;
		int64_t rsb, psb;
		if (p >= g->nfull) {
			np = 1;
			bp = g->bedge + k0 * KG_NR;
			rsb = KG_NR;
			psb = 0;
		} else {
			np = (int)MIN(np, g->nfull - p);
			bp = g->B + p * g->psb + k0 * g->rsb;
			rsb = g->rsb;
			psb = g->psb;
		}
		int64_t jc = p * KG_NR;
		int nr = (int)MIN(KG_NR * np, g->N - jc);
		st.bias = last && g->bias ? g->bias + jc : NULL;
		/* the next micro-tile column's panels (the same k range) are
		 * prefetched while this one runs down the strips: with few strips
		 * each tile fetches several of them, with many the first strips
		 * one each (one line per panel per k step: a panel's kb lines).
		 * One strip (M <= mr) streams B once and is left to the hardware
		 * prefetcher (the extra instructions cost more than they hide) */
		int64_t pn = p + np;
		int np2 = g->prefetch && nstr > 1 && pn < pend && pn < g->nfull
		          ? (int)MIN(MIN(gw, pend - pn), g->nfull - pn) : 0;
		const float *bn = np2 ? g->B + pn * g->psb + k0 * g->rsb : NULL;
		int s = 0;
		for (int64_t i = i0; i < i1; i += mr, s++) {
			int rows = (int)MIN(mr, i1 - i);
			float *c = g->C + i * g->ldc + jc;
			st.res = last && g->res ? g->res + i * g->ldr + jc : NULL;
			int lo = nstr >= np2 ? MIN(s, np2) : s * np2 / nstr;
			int hi = nstr >= np2 ? MIN(s + 1, np2) : (s + 1) * np2 / nstr;
			st.pf = hi > lo ? bn + lo * g->psb : NULL;
			st.pfs = g->psb;
			st.pfn = hi - lo;
			if (g->pack_a)
				im->kp[np](kb, apk + (i - i0) * kb, 1, mr, bp, rsb, psb,
				              c, g->ldc, rows, nr, &st);
			else
				im->k[rows][np](kb, g->A + i * g->rsa + k0 * g->csa, g->rsa,
				                g->csa, bp, rsb, psb, c, g->ldc, rows, nr, &st);
		}
		p += np;
	}
}

/* One thread's share: rows [r0, r1) x panels [q0, q1), blocked jc/pc/ic. */
static void thread_part(const gctx *g, int64_t r0, int64_t r1, int64_t q0, int64_t q1)
{
	if (r0 >= r1 || q0 >= q1)
		return;
	const kg_impl *im = g->im;
	int64_t rows = r1 - r0;
	int64_t nmb = CDIV(rows, g->mc);
	int64_t mcb = CDIV(CDIV(rows, nmb), im->mr) * im->mr;
	float *apk = NULL;
	if (g->pack_a) {
		apk = aligned_alloc(64, ((size_t)mcb * g->kc * sizeof(float) + 63) & ~(size_t)63);
		if (!apk) {     /* out of memory: run unpacked */
			gctx g2 = *g;
			g2.pack_a = 0;
			thread_part(&g2, r0, r1, q0, q1);
			return;
		}
	}
	int64_t ncp = MAX(1, g->nc / KG_NR);
	int64_t nkb = MAX(1, CDIV(g->K, g->kc));
	int64_t kcb = MAX(1, CDIV(g->K, nkb));
	/* one k block and one row block: the next column block follows at
	 * once, so the prefetch runs on into it */
	int one = nkb == 1 && rows <= mcb;
	for (int64_t q = q0; q < q1; q += ncp) {
		int64_t qe = MIN(q1, q + ncp);
		int64_t k0 = 0;
		do {
			int64_t kb = MIN(kcb, g->K - k0);
			for (int64_t i = r0; i < r1; i += mcb) {
				int64_t ie = MIN(r1, i + mcb);
				if (apk)
					pack_a_block(g, i, ie, k0, kb, apk);
				macro_tile(g, apk, i, ie, q, qe, k0, kb, one ? q1 : qe);
			}
			k0 += kb;
		} while (k0 < g->K);
	}
	free(apk);
}

/* Width in panels of the micro-tiles the driver runs (the kernel for full
 * strips); thread parts are cut at multiples of it. */
static int tile_panels(const gctx *g)
{
	int rm = g->pack_a ? g->im->mr : (int)MIN(g->im->mr, g->M);
	return MAX(1, g->im->maxnp[rm]);
}

static void part_body(void *arg, int64_t lo, int64_t hi)
{
	const gctx *g = arg;
	int64_t npan = CDIV(g->N, KG_NR);
	int mr = g->im->mr, gw = tile_panels(g);
	int64_t mstrips = CDIV(g->M, mr), ntile = CDIV(npan, gw);
	for (int64_t t = lo; t < hi; t++) {
		int64_t tm = t / g->gn, tn = t % g->gn;
		int64_t r0 = mstrips * tm / g->gm * mr, r1 = mstrips * (tm + 1) / g->gm * mr;
		int64_t q0 = ntile * tn / g->gn * gw, q1 = ntile * (tn + 1) / g->gn * gw;
		thread_part(g, r0, MIN(r1, g->M), q0, MIN(q1, npan));
	}
}

static void packb_body(void *arg, int64_t lo, int64_t hi)
{
	const gctx *g = arg;
	pack_b_panels(g->srcB, g->ldb, g->transB, g->K, g->N, g->packed, lo, hi);
}

/* Threads and their grid gm x gn over row strips x column micro-tiles.
 * Below ~0.5 MFLOP (~5 us on one core) one thread runs it all: the
 * kpool's workers spin between jobs, so handing out parts costs ~1-2 us.
 * The grid is the one whose largest part (in real rows x columns, whole
 * micro-tiles) is smallest; ties go to the grid that moves less data
 * (each column part packs all its rows of A, each row part reads all its
 * columns of B). */
static int plan_threads(kpool *pool, gctx *g)
{
	int nt = kpool_threads(pool);
	double flops = 2.0 * g->M * g->N * (g->K ? g->K : 1);
	double serial = kg_tune_serial >= 0 ? kg_tune_serial : 5e5;
	int mr = g->im->mr, gw = tile_panels(g);
	int64_t npan = CDIV(g->N, KG_NR);
	int64_t mstrips = CDIV(g->M, mr), ntile = CDIV(npan, gw);
	g->gm = 1;
	g->gn = 1;
	if (flops < serial || nt <= 1)
		return 1;
	/* one part per thread (the pool's workers spin, so they start at once);
	 * big jobs get more, smaller parts so a thread descheduled by other
	 * load does not leave the rest waiting on its big share */
	int ppt = kg_tune_ppt > 0 ? kg_tune_ppt : flops >= 1e9 ? 4 : 1;
	int parts = ppt * nt;
	if (parts > mstrips * ntile)
		parts = (int)(mstrips * ntile);
	double best = -1;
	/* (a prime part count may fit no grid: then one part fewer) */
	for (; parts > 1 && best < 0; parts--) {
	for (int gm = 1; gm <= parts; gm++) {
		if (parts % gm)
			continue;
		int gn = parts / gm;
		if (gm > mstrips || gn > ntile)
			continue;
		double rows = (double)MIN(g->M, CDIV(mstrips, gm) * mr);
		double cols = (double)MIN(g->N, CDIV(ntile, gn) * gw * KG_NR);
		double work = rows * cols * (g->K ? g->K : 1);
		double moved = (double)g->M * g->K * (g->pack_a ? gn : 0) +
		               (double)g->K * g->N * gm;
		/* a part's work dominates; data moved breaks near-ties (< 2 %) */
		double cost = work + 0.02 * work * moved / ((double)g->M * g->K + (double)g->K * g->N);
		if (best < 0 || cost < best) {
			best = cost;
			g->gm = gm;
			g->gn = gn;
		}
	}
	}
	return g->gm * g->gn;
}

static void run(kpool *pool, gctx *g)
{
	int parts = plan_threads(pool, g);
	if (parts <= 1)
		part_body(g, 0, 1);
	else
		kpool_for(pool, parts, 1, part_body, g);
}

static void setup(gctx *g, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, int transA, float beta,
                  float *C, int64_t ldc, const kgemm_epilogue *ep)
{
	memset(g, 0, sizeof *g);
	g->im = pick_impl();
	g->M = M;
	g->N = N;
	g->K = K;
	g->alpha = alpha;
	g->beta = beta;
	g->A = A;
	g->rsa = transA ? 1 : lda;
	g->csa = transA ? lda : 1;
	g->C = C;
	g->ldc = ldc;
	g->bias = ep ? ep->bias : NULL;
	g->res = ep ? ep->res : NULL;
	g->ldr = ep ? ep->ldr : 0;
	if (g->res == C && g->ldr == ldc) {     /* in place: the residual is C */
		g->res = NULL;
		g->beta = beta + 1.0f;
	}
	g->act = ep ? (int)ep->act : 0;
	g->kc = kg_tune_kc ? kg_tune_kc : g->im->kc;
	g->mc = kg_tune_mc ? kg_tune_mc : g->im->mc;
	g->nc = kg_tune_nc ? kg_tune_nc : g->im->nc;
	/* packing A pays off once its panels are reused over enough columns and
	 * rows; a few row strips (M <= 64, the token rows of small transformer
	 * batches) stay in L1 read in place, and the unpacked path runs the last
	 * strip at its real height instead of zero-padding it to mr rows */
	int64_t pm = kg_tune_pack_a_m >= 0 ? kg_tune_pack_a_m : MAX(2 * g->im->mr, 64);
	g->pack_a = M > pm && N > 2 * KG_NR;
	/* A read in place (a few strips): all its rows in one block, and all
	 * of K while those rows fit in half the L2 (each B micro-tile column
	 * then comes from memory once, is used by every strip from L2, and C
	 * is stored once); K blocks otherwise. Depends on M and K only, so
	 * every thread count sums in the same order. */
	if (!g->pack_a && !kg_tune_mc)
		g->mc = CDIV(M, g->im->mr) * g->im->mr;
	if (!g->pack_a && !kg_tune_kc) {
		int64_t kfit = (512 << 10) / (sizeof(float) * CDIV(M, g->im->mr) * g->im->mr);
		g->kc = MAX(g->kc, MIN(K, kfit));
	}
}

static void use_packed(gctx *g, const float *packedB)
{
	g->B = packedB;
	g->rsb = KG_NR;
	g->psb = g->K * KG_NR;
	g->nfull = CDIV(g->N, KG_NR);
	/* the next-panel prefetch is for B streams that are large per flop
	 * (few rows: B read once or a few times); with many row blocks B is
	 * reused from the caches, and 1024^3 / 2048^3 measured no faster with
	 * it (within the noise), so they keep the path they had */
	g->prefetch = kg_tune_prefetch > 0 || (kg_tune_prefetch < 0 && g->M <= 256);
}

void kgemm_f32_packed_ex(kpool *pool, int64_t M, int64_t N, int64_t K, float alpha,
                         const float *A, int64_t lda, int transA,
                         const float *packedB, float beta, float *C, int64_t ldc,
                         const kgemm_epilogue *ep)
{
	if (M <= 0 || N <= 0)
		return;
	gctx g;
	setup(&g, M, N, K, alpha, A, lda, transA, beta, C, ldc, ep);
	use_packed(&g, packedB);
	run(pool, &g);
}

void kgemm_f32_packed(kpool *pool, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, int transA,
                      const float *packedB, float beta, float *C, int64_t ldc)
{
	kgemm_f32_packed_ex(pool, M, N, K, alpha, A, lda, transA, packedB, beta, C, ldc, NULL);
}

void kgemm_f32_ex(kpool *pool, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, int transA,
                  const float *B, int64_t ldb, int transB,
                  float beta, float *C, int64_t ldc, const kgemm_epilogue *ep)
{
	if (M <= 0 || N <= 0)
		return;
	gctx g;
	setup(&g, M, N, K, alpha, A, lda, transA, beta, C, ldc, ep);
	int64_t direct_m = kg_tune_direct_m >= 0 ? kg_tune_direct_m : 4 * g.im->mr;
	float *buf = NULL;
	/* read B in place (only a ragged last panel copied) when M is small or B
	 * is small (<= 128 KiB, attention-sized): packing would not pay back;
	 * bigger B is packed (in parallel, ~1/M of the product's time), as
	 * reading it in place at a power-of-two row stride (256^2, 512^2)
	 * thrashes L1 sets and ran at about half the packed speed */
	int direct = kg_tune_direct_m >= 0 ? M <= direct_m
	             : M <= direct_m || (double)K * N * sizeof(float) <= (1 << 17);
	if (!transB && direct) {
		g.B = B;
		g.rsb = ldb;
		g.psb = KG_NR;
		g.nfull = N / KG_NR;
		if (N % KG_NR && K > 0) {
			buf = aligned_alloc(64, kgemm_pack_b_size(K, KG_NR));
			if (buf) {
				pack_b_panels(B + g.nfull * KG_NR, ldb, 0, K, N - g.nfull * KG_NR,
				              buf, 0, 1);
				g.bedge = buf;
			}
		}
		if (buf || N % KG_NR == 0 || K == 0) {
			run(pool, &g);
			free(buf);
			return;
		}
	}
	buf = aligned_alloc(64, MAX(kgemm_pack_b_size(K, N), 64));
	if (!buf) {
		/* out of memory: fall back to the unblocked reference loop */
		for (int64_t i = 0; i < M; i++)
			for (int64_t j = 0; j < N; j++) {
				float s = 0.0f;
				for (int64_t k = 0; k < K; k++)
					s += A[i * g.rsa + k * g.csa] *
					     (transB ? B[j * ldb + k] : B[k * ldb + j]);
				float v = alpha * s + (beta != 0.0f ? beta * C[i * ldc + j] : 0.0f);
				if (g.bias)
					v += g.bias[j];
				if (g.res)
					v += g.res[i * g.ldr + j];
				C[i * ldc + j] = kg_act1(v, g.act);
			}
		return;
	}
	int64_t npan = CDIV(N, KG_NR);
	g.srcB = B;
	g.ldb = ldb;
	g.transB = transB;
	g.packed = buf;
	if (K > 0) {
		if (kpool_threads(pool) > 1 && (double)K * N > 64e3)
			kpool_for(pool, npan, 4, packb_body, &g);
		else
			packb_body(&g, 0, npan);
	}
	use_packed(&g, buf);
	run(pool, &g);
	free(buf);
}

void kgemm_f32(kpool *pool, int64_t M, int64_t N, int64_t K, float alpha,
               const float *A, int64_t lda, int transA,
               const float *B, int64_t ldb, int transB,
               float beta, float *C, int64_t ldc)
{
	kgemm_f32_ex(pool, M, N, K, alpha, A, lda, transA, B, ldb, transB, beta, C, ldc, NULL);
}
