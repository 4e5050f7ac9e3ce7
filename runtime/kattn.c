/* The fused attention kernel linked into every model.so: flash-attention
 * tiling (query tiles x key tiles of BC keys, online softmax, the T x T
 * scores never exist), fully masked tiles skipped, the grp query heads of one
 * kv head processed together so each K/V tile is read once per group; for
 * short queries against a long cache, split-KV (flash decoding) with a
 * log-sum-exp combine. Threaded over (batch, kv head, query tile[, split]).
 * The tile code (kattn_core.h) is compiled per ISA: 4-lane plain, AVX2+FMA
 * and AVX-512, picked at run time. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "kattn.h"

typedef float v4 __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef float v8 __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
#define BC_MAX 64             /* keys per tile; short key sequences take BC_MIN */
#define BC_MIN 32             /* a multiple of every ISA's 2*VW block */
#ifndef KA_ROWS
#define KA_ROWS 128           /* query rows (all heads of a group) per task */
#endif
#define KA_TROWS 32           /* rows per task from which tile_runt runs */
#define KA_TPAD 32            /* its rows padded to this (a multiple of 2*VW) */
/* splat: x - 0 is x for every x (x + 0 would turn -0 into +0, which costs
 * an add before each broadcast) */
#define VS(x) ((x) - (VT){0})
#define VLD(p) ({ VT v_; memcpy(&v_, (p), sizeof v_); v_; })
#define VST(p, v) do { VT v_ = (v); memcpy((p), &v_, sizeof v_); } while (0)
#define VSEL(m, a, b) ((VT)(((VIT)(a) & (m)) | ((VIT)(b) & ~(m))))

typedef struct Job {
	AttnDims a;
	const float *Q, *K, *V;
	float *O;
	const void *mask;
	bool mask_bool, causal;
	float scale, cap;
	int64_t win, sinks;
	const float *alibi;
	int64_t Dvp;              /* Dv rounded up to 32 */
	int64_t Br, nqt;          /* query rows per tile, tiles per head */
	int64_t bc;               /* keys per tile: BC_MIN or BC_MAX */
	int64_t nsplit, splen;    /* key splits (1: none) and keys per split */
	float *part;              /* split partials: per task R x (Dvp + 2) */
	int isa;                  /* 0 plain, 1 AVX2+FMA, 2 AVX-512 */
	bool old_tile;            /* VIBEE_KATTN_TILE=row: tile_run for every task */
	int fail;                 /* out of memory in a task */
} Job;

/* Per-task scratch. */
typedef struct Work {
	float *Qs, *Kt, *Vt, *S, *O, *m, *l;
	float *al;                /* tile_runt: per-row rescale factors */
	float *madd;              /* tile_runt: a tile's shared mask row (BC) */
	int64_t *gp;              /* tile_runt: per row group min/max position, active
	                           * list, shared mask row, one-head flag */
	void *mem;
} Work;

#define VT v4                 /* plain copy: 4 lanes (SSE2, NEON) */
#define VIT v4i
#define VW 4
#define KA_ATTR
#define KA_SFX _gen
#include "kattn_core.h"
#undef KA_ATTR
#undef KA_SFX
#undef VT
#undef VIT
#undef VW
#if defined(__x86_64__) && defined(__GNUC__)
#define VT v8
#define VIT v8i
#define VW 8
#define KA_ATTR __attribute__((target("avx2,fma")))
#define KA_SFX _avx2
#include "kattn_core.h"
#undef KA_ATTR
#undef KA_SFX
#undef VT
#undef VIT
#undef VW
#define VT v16
#define VIT v16i
#define VW 16
#define KA_ATTR __attribute__((target("avx512f,avx2,fma")))
#define KA_SFX _avx512
#include "kattn_core.h"
#undef KA_ATTR
#undef KA_SFX
#define HAVE_X86_COPIES 1
#endif

static bool work_new(const Job *J, Work *w, int64_t R)
{
	/* rows padded for either tile routine (tile_run: 4, tile_runt: KA_TPAD) */
	int64_t Rp = (R + KA_TPAD - 1) / KA_TPAD * KA_TPAD, D = J->a.D ? J->a.D : 1, Dvp = J->Dvp;
	const int64_t BC = J->bc;
	size_t ng = (size_t)(Rp / 8);               /* groups of 2*VW >= 8 rows */
	size_t n = (size_t)(Rp * D + D * BC + BC * Dvp + Rp * BC + Rp * Dvp + 3 * Rp + BC + 64) +
	           5 * ng * sizeof(int64_t) / sizeof(float) + 16;
	float *p = aligned_alloc(64, (n * sizeof(float) + 63) & ~(size_t)63);
	if (!p)
		return false;
	w->mem = p;
	w->Qs = p; p += Rp * D;
	w->Kt = p; p += D * BC;
	w->Vt = p; p += BC * Dvp;
	w->S = p;  p += Rp * BC;
	w->O = p;  p += Rp * Dvp;
	w->m = p;  p += Rp;
	w->l = p;  p += Rp;
	w->al = p; p += Rp;
	w->madd = p; p += BC;
	p += (uintptr_t)p / sizeof(float) % 2;      /* 8-byte alignment */
	w->gp = (int64_t *)p;
	return true;
}

static void tile(const Job *J, Work *w, int64_t b, int64_t hk, int64_t i0, int64_t nr,
                 int64_t ks, int64_t ke)
{
	const bool many = J->a.grp * nr >= KA_TROWS && !J->old_tile;
#ifdef HAVE_X86_COPIES
	if (J->isa == 2) {
		if (many)
			tile_runt_avx512(J, w, b, hk, i0, nr, ks, ke);
		else
			tile_run_avx512(J, w, b, hk, i0, nr, ks, ke);
		return;
	}
	if (J->isa == 1) {
		if (many)
			tile_runt_avx2(J, w, b, hk, i0, nr, ks, ke);
		else
			tile_run_avx2(J, w, b, hk, i0, nr, ks, ke);
		return;
	}
#endif
	if (many)
		tile_runt_gen(J, w, b, hk, i0, nr, ks, ke);
	else
		tile_run_gen(J, w, b, hk, i0, nr, ks, ke);
}

static void store(const Job *J, const Work *w, int64_t b, int64_t hk, int64_t i0, int64_t nr)
{
#ifdef HAVE_X86_COPIES
	if (J->isa == 2) {
		store_out_avx512(J, w, b, hk, i0, nr);
		return;
	}
	if (J->isa == 1) {
		store_out_avx2(J, w, b, hk, i0, nr);
		return;
	}
#endif
	store_out_gen(J, w, b, hk, i0, nr);
}

/* Task t: (b, hk, query tile, split); query tiles run last-first so the
 * heavy causal tiles start early. */
static void body(void *arg, int64_t lo, int64_t hi)
{
	Job *J = arg;
	const AttnDims *a = &J->a;
	Work w;
	if (!work_new(J, &w, a->grp * J->Br)) {
		J->fail = 1;
		return;
	}
	for (int64_t t = lo; t < hi; t++) {
		int64_t sp = t % J->nsplit, u = t / J->nsplit;
		int64_t qt = J->nqt - 1 - u % J->nqt, bh = u / J->nqt;
		int64_t b = bh / a->Hkv, hk = bh % a->Hkv;
		int64_t i0 = qt * J->Br, nr = a->Tq - i0 < J->Br ? a->Tq - i0 : J->Br;
		int64_t ks = sp * J->splen, ke = ks + J->splen < a->Tk ? ks + J->splen : a->Tk;
		tile(J, &w, b, hk, i0, nr, ks, ke);
		int64_t R = a->grp * nr;
		if (J->nsplit > 1) {
			float *pp = J->part + t * (a->grp * J->Br) * (J->Dvp + 2);
			for (int64_t r = 0; r < R; r++) {
				memcpy(pp + r * (J->Dvp + 2), w.O + r * J->Dvp, (size_t)a->Dv * sizeof(float));
				pp[r * (J->Dvp + 2) + J->Dvp] = w.m[r];
				pp[r * (J->Dvp + 2) + J->Dvp + 1] = w.l[r];
			}
			continue;
		}
		store(J, &w, b, hk, i0, nr);
	}
	free(w.mem);
}

/* Flash-decoding combine: lse_s = m_s + log l_s; out = sum_s e^(lse_s - lse) O_s / l_s
 * = sum_s e^(m_s - M) O_s / sum_s e^(m_s - M) l_s. */
static void combine(Job *J)
{
	const AttnDims *a = &J->a;
	int64_t stride = J->Dvp + 2, rows = a->grp * J->Br;
	for (int64_t u = 0; u < a->B * a->Hkv * J->nqt; u++) {
		int64_t qt = J->nqt - 1 - u % J->nqt, bh = u / J->nqt;
		int64_t b = bh / a->Hkv, hk = bh % a->Hkv;
		int64_t i0 = qt * J->Br, nr = a->Tq - i0 < J->Br ? a->Tq - i0 : J->Br;
		for (int64_t r = 0; r < a->grp * nr; r++) {
			float M = -INFINITY;
			for (int64_t s = 0; s < J->nsplit; s++) {
				float ms = J->part[((u * J->nsplit + s) * rows + r) * stride + J->Dvp];
				M = ms > M ? ms : M;
			}
			int64_t h = hk * a->grp + r / nr, i = i0 + r % nr;
			float *o = J->O + b * a->os[0] + h * a->os[1] + i * a->os[2];
			memset(o, 0, (size_t)a->Dv * sizeof *o);
			if (M == -INFINITY)
				continue;
			float L = 0;
			for (int64_t s = 0; s < J->nsplit; s++) {
				const float *pp = J->part + ((u * J->nsplit + s) * rows + r) * stride;
				if (pp[J->Dvp] == -INFINITY)
					continue;
				float f = expf(pp[J->Dvp] - M);
				L += f * pp[J->Dvp + 1];
				for (int64_t e = 0; e < a->Dv; e++)
					o[e] += f * pp[e];
			}
			float inv = L > 0 ? 1.0f / L : 0.0f;
			for (int64_t e = 0; e < a->Dv; e++)
				o[e] *= inv;
		}
	}
}

/* The best copy this CPU runs; VIBEE_KATTN_ISA=0/1/2 caps it (tests, benchmarks). */
static int cpu_isa(void)
{
	int isa = 0;
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		isa = __builtin_cpu_supports("avx512f") ? 2 : 1;
#endif
	const char *cap = getenv("VIBEE_KATTN_ISA");
	if (cap && *cap >= '0' && *cap <= '2' && *cap - '0' < isa)
		isa = *cap - '0';
	return isa;
}

int kattn_run(kpool *pool, KCall *c)
{
	Job J;
	memset(&J, 0, sizeof J);
	if (ref_attention_dims(c, &J.a))
		return 1;
	const AttnDims *a = &J.a;
	J.Q = c->in[0].data;
	J.K = c->in[1].data;
	J.V = c->in[2].data;
	J.O = c->out[0].data;
	if (c->nin > 3 && c->in[3].data) {
		J.mask = c->in[3].data;
		J.mask_bool = c->in[3].dt == DT_BOOL;
	}
	J.scale = (float)kattr_f(c, "scale", 1.0 / sqrt((double)(a->D ? a->D : 1)));
	J.causal = kattr_i(c, "causal", 0) != 0;
	J.win = kattr_i(c, "window", 0);
	J.sinks = kattr_i(c, "sinks", 0);
	J.cap = (float)kattr_f(c, "softcap", 0);
	if (kattr_floats(c, "alibi", &J.alibi) == 0)
		J.alibi = NULL;
	J.Dvp = (a->Dv + 31) & ~(int64_t)31;     /* whole 2*VW-column blocks */
	if (J.Dvp == 0)
		J.Dvp = 32;
	J.isa = cpu_isa();
	const char *tv = getenv("VIBEE_KATTN_TILE");
	J.old_tile = tv && strcmp(tv, "row") == 0;
	/* keys of short sequences fit one narrower tile: no padded half */
	J.bc = a->Tk <= BC_MIN ? BC_MIN : BC_MAX;
	int64_t nout = a->B * a->Hq * a->Tq * a->Dv;
	if (nout == 0)
		return 0;
	if (a->Tk == 0 || a->D == 0) {            /* no keys: every row is 0 */
		memset(J.O, 0, (size_t)nout * sizeof(float));
		return 0;
	}
	/* ~KA_ROWS rows per task (fewer query rows per tile as the group grows):
	 * the K/V tiles are shared by more rows. Whole multiples of 32 query
	 * rows where there are that many, so each row group of tile_runt holds
	 * consecutive rows of one head (its causal edge and a shared mask row
	 * then go as vectors) */
	int64_t br = KA_ROWS / a->grp;
	br = br < 8 ? 8 : br > KA_ROWS ? KA_ROWS : br;
	if (a->Tq >= KA_TPAD && br > 8)
		br = br < KA_TPAD ? KA_TPAD : br / KA_TPAD * KA_TPAD;
	J.Br = a->Tq < br ? a->Tq : br;
	J.nqt = (a->Tq + J.Br - 1) / J.Br;
	int nt = kpool_threads(pool);
	int64_t tasks = a->B * a->Hkv * J.nqt;
	J.nsplit = 1;
	J.splen = a->Tk;
	/* too few tasks for the threads and a long cache: split the keys */
	if (tasks < 4 * nt && a->Tk >= 2 * 128) {
		int64_t want = (4 * nt + tasks - 1) / tasks, most = a->Tk / 128;
		J.nsplit = want < most ? want : most;
		J.splen = ((a->Tk + J.nsplit - 1) / J.nsplit + BC_MAX - 1) / BC_MAX * BC_MAX;
		J.nsplit = (a->Tk + J.splen - 1) / J.splen;
	}
	if (J.nsplit > 1) {
		size_t n = (size_t)(tasks * J.nsplit * a->grp * J.Br * (J.Dvp + 2));
		J.part = malloc(n * sizeof(float));
		if (!J.part)
			return kerr(c, "attention: out of memory (%zu split partials)", n);
	}
	kpool_for(pool, tasks * J.nsplit, 1, body, &J);
	if (!J.fail && J.nsplit > 1)
		combine(&J);
	free(J.part);
	if (J.fail)
		return kerr(c, "attention: out of memory");
	return 0;
}
