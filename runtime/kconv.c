/* Direct convolution in the NCHW16c layout (kconv.h). The input is first
 * copied into a zero-padded blocked scratch image (skipped when it already
 * is one: blocked and unpadded), so the tiles read every tap without
 * bounds checks; an NCHW input with fewer than 16 channels keeps its
 * channel count as block (the stem convolution), others use 16. Work is
 * split over (image, pair of output-channel blocks, output row). */
#include <math.h>
#include <string.h>
#include "kconv.h"
#include "kgemm_impl.h"
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

/* vectors of 16 floats by value only inside always_inline helpers */
#pragma GCC diagnostic ignored "-Wpsabi"

#define KC_RW 12     /* pixels per tile (x 2 channel blocks = 24 accumulators) */

typedef float kv16 __attribute__((vector_size(64)));
typedef int32_t ki16 __attribute__((vector_size(64)));
typedef float kv16u __attribute__((vector_size(64), aligned(4)));

typedef struct kc_args {
	const float *xs, *w, *bias, *res;
	float *y;
	int64_t xn;                  /* scratch floats per image */
	int64_t cbk, ncb, hp, wp;    /* input channel block, blocks, padded dims */
	int64_t pt, pl;              /* depthwise: padding still to apply (0 after the copy) */
	int64_t kh, kw, sh, sw, dh, dw, oh, ow, nocb, wost;
	int64_t nchk, chw;           /* column chunks per output row, columns per chunk */
	int64_t clast;               /* input channels of the last block */
	int act;
	float a0, a1;                /* activation parameters */
} kc_args;

typedef struct kw_args {     /* Winograd F(2x2,3x3): kwino_impl.h */
	const float *xs, *u, *bias, *res;
	float *y, *scr;
	int64_t xn, ncb, hp, wp, oh, ow, nocb;
	int64_t pt, pl;              /* padding still to apply: 0 after the padded copy */
	int64_t tw, ntile, nchunk, tc, gsz, ngroup, per_item;   /* per_item: scratch floats */
	int act;
	float a0, a1;
} kw_args;

typedef struct mpc_args {
	const int64_t *q;
	const float *x;
	float *y;
} mpc_args;

static inline __attribute__((always_inline)) kv16 ldv(const float *p) { return *(const kv16u *)p; }
static inline __attribute__((always_inline)) void stv(float *p, kv16 v) { *(kv16u *)p = v; }
static inline __attribute__((always_inline)) kv16 sel16(ki16 m, kv16 a, kv16 b)
{
	return (kv16)(((ki16)a & m) | ((ki16)b & ~m));
}

static __attribute__((noinline)) void act_lanes(float *v, int act)
{
	for (int l = 0; l < KCB; l++)
		v[l] = kg_act1(v[l], act);
}

/* act(v): none and Relu in vector form, the others lane by lane */
static inline __attribute__((always_inline)) kv16 clip16(kv16 v, kv16 lo, kv16 hi)
{
	v = sel16(v < lo, lo, v);
	return sel16(v > hi, hi, v);
}

static inline __attribute__((always_inline)) kv16 act16(kv16 v, int act, float a0, float a1)
{
	if (act == KGEMM_ACT_NONE)
		return v;
	if (act == KGEMM_ACT_RELU)
		return sel16(v > (kv16){0}, v, (kv16){0});
	kv16 zero = {0}, one = zero + 1.0f;
	if (act == KC_ACT_CLIP)
		return clip16(v, zero + a0, zero + a1);
	if (act == KC_ACT_HSIGMOID)
		return clip16(v * a0 + a1, zero, one);
	if (act == KC_ACT_HSWISH)
		return v * clip16(v * (1.0f / 6.0f) + 0.5f, zero, one);
	float t[KCB];
	stv(t, v);
	act_lanes(t, act);
	return ldv(t);
}

#define SFX(x) x##_gen
#define TGT
#include "kconv_impl.h"
#include "kwino_impl.h"
#undef SFX
#undef TGT
#if defined(__x86_64__) && defined(__GNUC__)
#define SFX(x) x##_avx2
#define TGT __attribute__((target("avx2,fma")))
#include "kconv_impl.h"
#include "kwino_impl.h"
#undef SFX
#undef TGT
#define SFX(x) x##_avx512
#define TGT __attribute__((target("avx512f,avx2,fma")))
#define KC_AVX512
#include "kconv_impl.h"
#include "kwino_impl.h"
#undef KC_AVX512
#undef SFX
#undef TGT
#endif

static kpool_fn pick(kpool_fn g, kpool_fn a2, kpool_fn a5)
{
	int isa = kgemm_isa();
	(void)a2;
	(void)a5;
#if defined(__x86_64__) && defined(__GNUC__)
	if (isa >= KGEMM_ISA_AVX512)
		return a5;
	if (isa >= KGEMM_ISA_AVX2)
		return a2;
#endif
	return g;
}

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static size_t al64(size_t n) { return (n + 63) & ~(size_t)63; }
static int depthwise(const int64_t *p) { return p[KC_G] > 1; }

/* Winograd F(2x2,3x3) for 3x3 stride-1 undilated dense convolutions with
 * 16-channel input blocks and at least KW_MIN_TILES 2x2 output tiles per
 * image: 2.25x fewer multiplies (bench/conv_bench: 1.4x faster at C=M=16,
 * where the transforms weigh most, 1.7-2.3x at 32-256 channels on one core;
 * a 2x2 output, one tile, stays direct). */
enum { KW_MIN_TILES = 4 };
static int wino_on = 1;

void kconvc_set_wino(int on) { wino_on = on; }

/* -1: the output size decides; 0 or 1: the caller's choice (the _w entry
 * points, for run-time sizes). Set only around one call on its thread. */
static _Thread_local int wino_force = -1;

static int use_wino(const int64_t *p, int in_blocked)
{
	return wino_on && p[KC_G] == 1 && p[KC_KH] == 3 && p[KC_KW] == 3 && p[KC_SH] == 1 &&
	       p[KC_SW] == 1 && p[KC_DH] == 1 && p[KC_DW] == 1 && (in_blocked || p[KC_C] >= KCB) &&
	       (wino_force >= 0 ? wino_force
	                        : ((p[KC_OH] + 1) / 2) * ((p[KC_OW] + 1) / 2) >= KW_MIN_TILES);
}

int kconvc_supported(const int64_t *p)
{
	if (p[KC_G] == 1)
		return 1;
	return p[KC_G] == p[KC_C] && p[KC_G] == p[KC_M];
}

typedef struct geo {
	int64_t cbk, ncb, hp, wp;
	int copy;
} geo;

static void geometry(const int64_t *p, int in_blocked, geo *g)
{
	int64_t C = p[KC_C];
	g->cbk = !in_blocked && !depthwise(p) && C < KCB ? C : KCB;
	if (g->cbk < 1)
		g->cbk = 1;
	g->ncb = cdiv(C, g->cbk);
	int64_t nh = (p[KC_OH] - 1) * p[KC_SH] + (p[KC_KH] - 1) * p[KC_DH] + 1;
	int64_t nw = (p[KC_OW] - 1) * p[KC_SW] + (p[KC_KW] - 1) * p[KC_DW] + 1;
	if (use_wino(p, in_blocked)) {   /* whole 4x4 patches of every 2x2 tile */
		nh = 2 * cdiv(p[KC_OH], 2) + 2;
		nw = 2 * cdiv(p[KC_OW], 2) + 2;
	}
	/* Winograd and depthwise read a blocked input in place, border tiles or
	 * pixels point by point */
	g->copy = !in_blocked || (!use_wino(p, in_blocked) && !depthwise(p) &&
	                          (p[KC_PT] || p[KC_PL] || nh > p[KC_H] || nw > p[KC_W]));
	g->hp = g->copy ? max64(p[KC_H] + p[KC_PT], nh) : p[KC_H];
	g->wp = g->copy ? max64(p[KC_W] + p[KC_PL], nw) : p[KC_W];
}

/* The Winograd work split (kwino_impl.h), independent of the thread count:
 * balanced chunks of <= KC_RW tiles, and output-channel blocks in groups
 * (pairs) so that there are at least 8 items to spread. */
typedef struct wplan {
	int64_t tw, ntile, nchunk, tc, gsz, ngroup, per_item;
} wplan;

static void wino_plan(const int64_t *p, const geo *g, wplan *w)
{
	int64_t nocb = cdiv(p[KC_M], KCB), npair = cdiv(nocb, 2), ng = 1;
	w->tw = cdiv(p[KC_OW], 2);
	w->ntile = cdiv(p[KC_OH], 2) * w->tw;
	w->nchunk = cdiv(w->ntile, KC_RW);
	w->tc = cdiv(w->ntile, w->nchunk);
	while (p[KC_N] * w->nchunk * ng < 8 && ng < npair)
		ng++;
	w->gsz = 2 * cdiv(npair, ng);
	w->ngroup = cdiv(nocb, w->gsz);
	w->per_item = (int64_t)(al64((size_t)(16 * (g->ncb + w->gsz) * w->tc * KCB) * sizeof(float)) /
	                        sizeof(float));
}

int kconvc_winograd(const int64_t *p, int in_blocked) { return use_wino(p, in_blocked); }

size_t kconvc_pack_size(const int64_t *p, int in_blocked)
{
	geo g;
	geometry(p, in_blocked, &g);
	if (use_wino(p, in_blocked))
		return (size_t)(16 * cdiv(p[KC_M], KCB) * g.ncb * KCB * KCB) * sizeof(float);
	int64_t taps = p[KC_KH] * p[KC_KW];
	size_t n = depthwise(p) ? (size_t)(g.ncb * taps * KCB)
	                        : (size_t)(cdiv(p[KC_M], KCB) * g.ncb * taps * g.cbk * KCB);
	return n * sizeof(float);
}

/* Packed layout: [ocb][cb][kh][kw][ci][16] (depthwise: [cb][kh][kw][16]). */
void kconvc_pack(const int64_t *p, int in_blocked, const float *w, float *packed)
{
	geo g;
	geometry(p, in_blocked, &g);
	int64_t C = p[KC_C], M = p[KC_M], KH = p[KC_KH], KW = p[KC_KW];
	memset(packed, 0, kconvc_pack_size(p, in_blocked));
	if (use_wino(p, in_blocked)) {   /* U = G g G^T as [16][ocb][c][16] */
		int64_t nocb = cdiv(M, KCB), c16 = g.ncb * KCB;
		for (int64_t m = 0; m < M; m++)
			for (int64_t c = 0; c < C; c++) {
				const float *k = w + (m * C + c) * 9;
				float t[4][3], u[4][4];
				for (int j = 0; j < 3; j++) {
					t[0][j] = k[j];
					t[1][j] = 0.5f * (k[j] + k[3 + j] + k[6 + j]);
					t[2][j] = 0.5f * (k[j] - k[3 + j] + k[6 + j]);
					t[3][j] = k[6 + j];
				}
				for (int i = 0; i < 4; i++) {
					u[i][0] = t[i][0];
					u[i][1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
					u[i][2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
					u[i][3] = t[i][2];
				}
				for (int xi = 0; xi < 16; xi++)
					packed[((xi * nocb + m / KCB) * c16 + c) * KCB + m % KCB] = u[xi / 4][xi % 4];
			}
		return;
	}
	if (depthwise(p)) {
		for (int64_t c = 0; c < C; c++)
			for (int64_t t = 0; t < KH * KW; t++)
				packed[((c / KCB) * KH * KW + t) * KCB + c % KCB] = w[c * KH * KW + t];
		return;
	}
	for (int64_t m = 0; m < M; m++)
		for (int64_t c = 0; c < C; c++)
			for (int64_t t = 0; t < KH * KW; t++) {
				int64_t cb = c / g.cbk, ci = c % g.cbk;
				size_t at = (size_t)(((((m / KCB) * g.ncb + cb) * KH * KW + t) * g.cbk + ci) * KCB +
				                     m % KCB);
				packed[at] = w[(m * C + c) * KH * KW + t];
			}
}

size_t kconvc_scratch(const int64_t *p, int in_blocked)
{
	geo g;
	geometry(p, in_blocked, &g);
	size_t bias = al64((size_t)cdiv(p[KC_M], KCB) * KCB * sizeof(float));
	if (use_wino(p, in_blocked)) {
		wplan w;
		wino_plan(p, &g, &w);
		bias += (size_t)(p[KC_N] * w.nchunk * w.ngroup * w.per_item) * sizeof(float);
	}
	if (!g.copy)
		return bias;
	return bias + al64((size_t)(p[KC_N] * g.ncb * g.hp * g.wp * g.cbk) * sizeof(float));
}

/* Padded rows [r0, r1) of the blocked copy of channel block cb of image x
 * (NCHW or NCHW16c) into s, border zeroed. */
static void pad_rows(const int64_t *p, int in_blocked, const geo *g, const float *x, float *s,
                     int64_t cb, int64_t r0, int64_t r1)
{
	int64_t C = p[KC_C], H = p[KC_H], W = p[KC_W], cbk = g->cbk;
	int64_t plane = g->hp * g->wp * cbk, row = g->wp * cbk, PT = p[KC_PT], PL = p[KC_PL];
	int64_t nc = C - cb * cbk < cbk ? C - cb * cbk : cbk;
	float *sb = s + cb * plane;
	for (int64_t r = r0; r < r1; r++) {
		float *sr = sb + r * row;
		if (r < PT || r >= PT + H) {   /* rows above and below */
			memset(sr, 0, (size_t)row * sizeof *s);
			continue;
		}
		int64_t h = r - PT;
		memset(sr, 0, (size_t)(PL * cbk) * sizeof *s);
		memset(sr + (PL + W) * cbk, 0, (size_t)((g->wp - PL - W) * cbk) * sizeof *s);
		float *sp = sr + PL * cbk;
		if (in_blocked) {
			memcpy(sp, x + (cb * H + h) * W * KCB, (size_t)(W * KCB) * sizeof *s);
			continue;
		}
		if (nc < cbk)   /* lanes past C inside the image too */
			memset(sp, 0, (size_t)(W * cbk) * sizeof *s);
		/* pixel by pixel: the stores run in order (RGB stems: 3 lanes) */
		const float *xc = x + ((cb * cbk) * H + h) * W;
		const int64_t cs = H * W;
		if (nc == 3)
			for (int64_t w = 0; w < W; w++) {
				sp[w * cbk] = xc[w];
				sp[w * cbk + 1] = xc[cs + w];
				sp[w * cbk + 2] = xc[2 * cs + w];
			}
		else
			for (int64_t w = 0; w < W; w++)
				for (int64_t ci = 0; ci < nc; ci++)
					sp[w * cbk + ci] = xc[ci * cs + w];
	}
}

typedef struct {
	const int64_t *p;
	const geo *g;
	const float *x;
	float *s;
	int in_blocked;
	int64_t xin, xn;   /* floats per input image, per padded image */
	int64_t nrc, rpc;  /* row chunks per block, padded rows per chunk */
} pc_args;

/* items (image, channel block, row chunk) of the padded copy, split over
 * the pool */
static void pad_body(void *arg, int64_t lo, int64_t hi)
{
	const pc_args *a = arg;
	for (int64_t i = lo; i < hi; i++) {
		int64_t rc = i % a->nrc, cb = i / a->nrc % a->g->ncb, n = i / a->nrc / a->g->ncb;
		int64_t r0 = rc * a->rpc, r1 = r0 + a->rpc < a->g->hp ? r0 + a->rpc : a->g->hp;
		pad_rows(a->p, a->in_blocked, a->g, a->x + n * a->xin, a->s + n * a->xn, cb, r0, r1);
	}
}

void kconvc_f32(kpool *pool, const int64_t *p, int in_blocked, const float *x,
                const float *wpk, const float *bias, const float *res, float *y,
                int act, const float *ap, void *scratch)
{
	int64_t N = p[KC_N], M = p[KC_M], nocb = cdiv(M, KCB);
	if (N <= 0 || M <= 0 || p[KC_OH] <= 0 || p[KC_OW] <= 0)
		return;
	geo g;
	geometry(p, in_blocked, &g);
	float *bv = scratch;
	for (int64_t m = 0; m < nocb * KCB; m++)
		bv[m] = bias && m < M ? bias[m] : 0.0f;
	const float *xs = x;
	int64_t xn = (in_blocked ? cdiv(p[KC_C], KCB) * KCB : p[KC_C]) * p[KC_H] * p[KC_W];
	if (g.copy) {
		float *s = (float *)((char *)scratch + al64((size_t)(nocb * KCB) * sizeof(float)));
		xn = g.ncb * g.hp * g.wp * g.cbk;
		/* row chunks of >= 4096 floats, enough of them for 8 items */
		int64_t nb = N * g.ncb, row = g.wp * g.cbk, rpc = g.hp;
		if (nb < 8)
			rpc = max64(cdiv(4096, row), cdiv(g.hp, cdiv(8, nb)));
		rpc = rpc < g.hp ? rpc : g.hp;
		pc_args pa = {p, &g, x, s, in_blocked,
		              (in_blocked ? cdiv(p[KC_C], KCB) * KCB : p[KC_C]) * p[KC_H] * p[KC_W], xn,
		              cdiv(g.hp, rpc), rpc};
		nb *= pa.nrc;
		if (kpool_threads(pool) > 1 && nb > 1 && xn * N >= 16384)
			kpool_for(pool, nb, 1, pad_body, &pa);
		else
			pad_body(&pa, 0, nb);
		xs = s;
	}
	int dw = depthwise(p);
	int64_t taps = p[KC_KH] * p[KC_KW];
	if (use_wino(p, in_blocked)) {
		wplan w;
		wino_plan(p, &g, &w);
		float *ws = (float *)((char *)scratch + al64((size_t)(nocb * KCB) * sizeof(float)));
		if (g.copy)
			ws += al64((size_t)(N * g.ncb * g.hp * g.wp * g.cbk) * sizeof(float)) / sizeof(float);
		kw_args b = {xs, wpk, bv, res, y, ws, xn, g.ncb, g.hp, g.wp, p[KC_OH], p[KC_OW], nocb,
		             g.copy ? 0 : p[KC_PT], g.copy ? 0 : p[KC_PL],
		             w.tw, w.ntile, w.nchunk, w.tc, w.gsz, w.ngroup, w.per_item,
		             act, ap ? ap[0] : 0.0f, ap ? ap[1] : 0.0f};
		int64_t items = N * w.nchunk * w.ngroup;
		kpool_fn wb = pick(wino_body_gen, wino_body_avx2, wino_body_avx512);
		if (kpool_threads(pool) > 1 && items > 1)
			kpool_for(pool, items, 1, wb, &b);
		else
			wb(&b, 0, items);
		return;
	}
	/* A pointwise convolution (1x1, stride 1, no padding) over a plane read
	 * in place is one row of OH x OW pixels: whole tiles across the rows. */
	int flat = !dw && taps == 1 && p[KC_SH] == 1 && p[KC_SW] == 1 && !g.copy &&
	           p[KC_OH] == g.hp && p[KC_OW] == g.wp;
	int64_t oh = flat ? 1 : p[KC_OH], ow = flat ? p[KC_OH] * p[KC_OW] : p[KC_OW];
	int64_t npair = (nocb + 1) / 2, nchk = 1, chw = ow;
	if (!dw) {   /* at least 16 items where the row allows (any thread count) */
		int64_t rows = N * npair * oh;
		if (rows < 16) {
			nchk = cdiv(16, rows);
			chw = cdiv(cdiv(ow, nchk), KC_RW) * KC_RW;
			nchk = cdiv(ow, chw);
		}
	}
	kc_args a = {xs, wpk, bv, res, y, xn, g.cbk, g.ncb, flat ? 1 : g.hp, flat ? ow : g.wp,
	             g.copy ? 0 : p[KC_PT], g.copy ? 0 : p[KC_PL],
	             p[KC_KH], p[KC_KW],
	             p[KC_SH], p[KC_SW], p[KC_DH], p[KC_DW], oh, ow, nocb,
	             g.ncb * taps * g.cbk * KCB, nchk, chw, p[KC_C] - (g.ncb - 1) * g.cbk, act, ap ? ap[0] : 0.0f,
	             ap ? ap[1] : 0.0f};
	kpool_fn body = dw ? pick(dw_body_gen, dw_body_avx2, dw_body_avx512)
	                   : pick(conv_body_gen, conv_body_avx2, conv_body_avx512);
	int64_t items = dw ? N * nocb * oh : N * npair * oh * nchk;
	double flops = 2.0 * (double)N * (double)M * (double)(p[KC_OH] * p[KC_OW]) * (double)taps *
	               (double)(dw ? 1 : p[KC_C]);
	if (kpool_threads(pool) > 1 && items > 1 && flops >= 2e5)
		kpool_for(pool, items, 1, body, &a);
	else
		body(&a, 0, items);
}

void knchwc_to(int64_t n, int64_t c, int64_t hw, const float *x, float *y)
{
	int64_t cb = cdiv(c, KCB);
	for (int64_t i = 0; i < n; i++)
		for (int64_t b = 0; b < cb; b++) {
			float *yb = y + (i * cb + b) * hw * KCB;
			for (int64_t l = 0; l < KCB; l++) {
				int64_t ch = b * KCB + l;
				const float *xc = x + (i * c + ch) * hw;
				if (ch >= c)
					for (int64_t j = 0; j < hw; j++)
						yb[j * KCB + l] = 0.0f;
				else
					for (int64_t j = 0; j < hw; j++)
						yb[j * KCB + l] = xc[j];
			}
		}
}

void knchwc_from(int64_t n, int64_t c, int64_t hw, const float *x, float *y)
{
	int64_t cb = cdiv(c, KCB);
	for (int64_t i = 0; i < n; i++)
		for (int64_t ch = 0; ch < c; ch++) {
			const float *xb = x + (i * cb + ch / KCB) * hw * KCB + ch % KCB;
			float *yc = y + (i * c + ch) * hw;
			for (int64_t j = 0; j < hw; j++)
				yc[j] = xb[j * KCB];
		}
}

void kmaxpoolc_f32(kpool *pool, const int64_t *q, const float *x, float *y)
{
	mpc_args a = {q, x, y};
	kpool_fn body = pick(mp_body_gen, mp_body_avx2, mp_body_avx512);
	int64_t items = q[KP_PL] * q[KP_OH];   /* (plane, output row) */
	if (kpool_threads(pool) > 1 && items > 1 && items * q[KP_OW] * KCB >= 16384)
		kpool_for(pool, items, 1, body, &a);
	else
		body(&a, 0, items);
}

void kgapc_f32(int64_t n, int64_t c, int64_t hw, const float *x, float *y)
{
	int64_t cb = cdiv(c, KCB);
	for (int64_t i = 0; i < n; i++)
		for (int64_t b = 0; b < cb; b++) {
			float s[KCB] = {0};
			const float *xb = x + (i * cb + b) * hw * KCB;
			for (int64_t j = 0; j < hw; j++)
				for (int l = 0; l < KCB; l++)
					s[l] += xb[j * KCB + l];
			for (int l = 0; l < KCB && b * KCB + l < c; l++)
				y[i * c + b * KCB + l] = s[l] / (float)hw;
		}
}

/* Run-time spatial sizes (kconv.h): the Winograd choice made once, at
 * compile time, for every size. */
int kconvc_winograd_any(const int64_t *p, int in_blocked)
{
	wino_force = 1;
	int r = use_wino(p, in_blocked);
	wino_force = -1;
	return r;
}

size_t kconvc_pack_size_w(const int64_t *p, int in_blocked, int wino)
{
	wino_force = wino != 0;
	size_t r = kconvc_pack_size(p, in_blocked);
	wino_force = -1;
	return r;
}

void kconvc_pack_w(const int64_t *p, int in_blocked, int wino, const float *w, float *packed)
{
	wino_force = wino != 0;
	kconvc_pack(p, in_blocked, w, packed);
	wino_force = -1;
}

size_t kconvc_scratch_w(const int64_t *p, int in_blocked, int wino)
{
	wino_force = wino != 0;
	size_t r = kconvc_scratch(p, in_blocked);
	wino_force = -1;
	return r;
}

void kconvc_f32_w(kpool *pool, const int64_t *p, int in_blocked, int wino, const float *x,
                  const float *wpk, const float *bias, const float *res, float *y, int act,
                  const float *ap, void *scratch)
{
	wino_force = wino != 0;   /* read on this thread only, before the pool runs */
	kconvc_f32(pool, p, in_blocked, x, wpk, bias, res, y, act, ap, scratch);
	wino_force = -1;
}
