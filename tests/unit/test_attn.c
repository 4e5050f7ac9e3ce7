/* Unit test for the fused attention kernel (runtime/kattn.c) against the
 * reference ref_attention (ir/ref_attn.c): GQA/MQA groups, causal with
 * Tq < Tk (bottom-right), sliding windows with sinks, ALiBi, softcap, f32 and
 * bool masks with broadcasting, odd head dims, fully masked rows, decoding
 * (Tq = 1) long enough to take the split-KV path; serial and 2 threads; each
 * kernel copy (plain, AVX2, AVX-512) the CPU has, each with both tile
 * routines (per-row softmax and the column form for many rows). */
#define _POSIX_C_SOURCE 200809L   /* setenv */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir/kern.h"
#include "runtime/kattn.h"
#include "runtime/kpool.h"

static int fails, checks;
static unsigned rng = 4242;

static float frand(void)
{
	rng = rng * 1103515245u + 12345u;
	return ((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

typedef struct Case {
	int B, Hq, Hkv, Tq, Tk, D, Dv;
	int causal, window, sinks, mask;   /* mask: 0 none, 1 f32 [B,1,1,Tk], 2 bool [Tq,Tk], 3 f32 [B,Hq,Tq,Tk], 4 bool [B,1,1,Tk] */
	float softcap;
	int alibi;
	int bthd;      /* layout flags: 1 q, 2 k, 4 v, 8 out given as [B,T,H,D] */
} Case;

/* [B,H,T,D] -> [B,T,H,D] copy (to: true) or back (false). */
static float *swap_ht(const float *x, int B, int H, int T, int D, bool to)
{
	float *y = malloc(((size_t)B * H * T * D + 1) * sizeof *y);
	for (int b = 0; b < B; b++)
		for (int h = 0; h < H; h++)
			for (int t = 0; t < T; t++) {
				size_t bhtd = (((size_t)b * H + h) * T + t) * D, bthd = (((size_t)b * T + t) * H + h) * D;
				memcpy(y + (to ? bthd : bhtd), x + (to ? bhtd : bthd), (size_t)D * sizeof *y);
			}
	return y;
}

static void fill(float *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = frand();
}

static void run_case(const Case *cs, kpool *pool)
{
	size_t nq = (size_t)cs->B * cs->Hq * cs->Tq * cs->D, nk = (size_t)cs->B * cs->Hkv * cs->Tk * cs->D;
	size_t nv = (size_t)cs->B * cs->Hkv * cs->Tk * cs->Dv, no = (size_t)cs->B * cs->Hq * cs->Tq * cs->Dv;
	float *q = malloc((nq + 1) * 4), *k = malloc((nk + 1) * 4), *v = malloc((nv + 1) * 4);
	float *o1 = malloc((no + 1) * 4), *o2 = malloc((no + 1) * 4);
	fill(q, nq);
	fill(k, nk);
	fill(v, nv);
	for (size_t i = 0; i < nq; i++)
		q[i] *= 3;                          /* peaked softmax rows too */
	KTensor in[4];
	memset(in, 0, sizeof in);
	in[0] = (KTensor){DT_F32, 4, {cs->B, cs->Hq, cs->Tq, cs->D}, q};
	in[1] = (KTensor){DT_F32, 4, {cs->B, cs->Hkv, cs->Tk, cs->D}, k};
	in[2] = (KTensor){DT_F32, 4, {cs->B, cs->Hkv, cs->Tk, cs->Dv}, v};
	void *mask = NULL;
	int nin = 3;
	if (cs->mask == 1 || cs->mask == 3) {
		size_t n = (size_t)cs->B * cs->Tk * (cs->mask == 3 ? cs->Hq * cs->Tq : 1);
		float *m = malloc(n * 4);
		/* masked keys -1e9 (-inf under causal: a row whose few visible keys
		 * are all at -1e9 + s has its scores rounded together in f32, while
		 * the reference in double still tells them apart) */
		const float big = cs->causal ? -INFINITY : -1e9f;
		for (size_t i = 0; i < n; i++)
			m[i] = frand() < -0.6f ? big : frand();
		mask = m;
		if (cs->mask == 1)
			in[3] = (KTensor){DT_F32, 4, {cs->B, 1, 1, cs->Tk}, m};
		else
			in[3] = (KTensor){DT_F32, 4, {cs->B, cs->Hq, cs->Tq, cs->Tk}, m};
		nin = 4;
	} else if (cs->mask == 4) {
		unsigned char *m = malloc((size_t)cs->B * cs->Tk + 1);
		for (int i = 0; i < cs->B * cs->Tk; i++)
			m[i] = frand() > -0.7f;
		mask = m;
		in[3] = (KTensor){DT_BOOL, 4, {cs->B, 1, 1, cs->Tk}, m};
		nin = 4;
	} else if (cs->mask == 2) {
		unsigned char *m = malloc((size_t)cs->Tq * cs->Tk);
		for (int i = 0; i < cs->Tq * cs->Tk; i++)
			m[i] = frand() > -0.5f;
		if (cs->Tk > 0)
			memset(m, 0, (size_t)cs->Tk);    /* row 0 fully masked */
		mask = m;
		in[3] = (KTensor){DT_BOOL, 2, {cs->Tq, cs->Tk}, m};
		nin = 4;
	}
	float slopes[64];
	for (int h = 0; h < cs->Hq; h++)
		slopes[h] = 0.5f / (float)(h + 1);
	KAttr at[8];
	int na = 0;
	memset(at, 0, sizeof at);
	at[na++] = (KAttr){.name = "scale", .kind = AK_FLOAT, .f = 1.0 / sqrt((double)cs->D)};
	at[na++] = (KAttr){.name = "causal", .kind = AK_INT, .i = cs->causal};
	at[na++] = (KAttr){.name = "kv_group", .kind = AK_INT, .i = cs->Hq / cs->Hkv};
	at[na++] = (KAttr){.name = "window", .kind = AK_INT, .i = cs->window};
	at[na++] = (KAttr){.name = "sinks", .kind = AK_INT, .i = cs->sinks};
	at[na++] = (KAttr){.name = "softcap", .kind = AK_FLOAT, .f = cs->softcap};
	if (cs->alibi)
		at[na++] = (KAttr){.name = "alibi", .kind = AK_FLOATS, .n = cs->Hq, .floats = slopes};
	char err[256] = "";
	KTensor out1 = {DT_F32, 4, {cs->B, cs->Hq, cs->Tq, cs->Dv}, o1}, out2 = out1;
	out2.data = o2;
	KCall c1 = {OP_attention, nin, 1, na, in, &out1, at, err, sizeof err, NULL, NULL};
	KCall c2 = c1;
	c2.out = &out2;
	/* layout flags: the kernel (and the reference, o3) read the flagged
	 * operands as [B,T,H,D] copies and write a [B,T,H,D] output, which is
	 * swapped back and compared with the reference on [B,H,T,D] */
	KTensor in2[4], out3 = out2;
	float *qt = NULL, *kt = NULL, *vt = NULL, *o3 = NULL;
	KAttr at2[12];
	if (cs->bthd) {
		memcpy(in2, in, sizeof in2);
		memcpy(at2, at, sizeof at);
		int na2 = na;
		static const char *flag[4] = {"q_bthd", "k_bthd", "v_bthd", "out_bthd"};
		for (int f = 0; f < 4; f++)
			if (cs->bthd >> f & 1)
				at2[na2++] = (KAttr){.name = flag[f], .kind = AK_INT, .i = 1};
		if (cs->bthd & 1) {
			in2[0].data = qt = swap_ht(q, cs->B, cs->Hq, cs->Tq, cs->D, true);
			in2[0].dims[1] = cs->Tq, in2[0].dims[2] = cs->Hq;
		}
		if (cs->bthd & 2) {
			in2[1].data = kt = swap_ht(k, cs->B, cs->Hkv, cs->Tk, cs->D, true);
			in2[1].dims[1] = cs->Tk, in2[1].dims[2] = cs->Hkv;
		}
		if (cs->bthd & 4) {
			in2[2].data = vt = swap_ht(v, cs->B, cs->Hkv, cs->Tk, cs->Dv, true);
			in2[2].dims[1] = cs->Tk, in2[2].dims[2] = cs->Hkv;
		}
		if (cs->bthd & 8)
			out2.dims[1] = out3.dims[1] = cs->Tq, out2.dims[2] = out3.dims[2] = cs->Hq;
		o3 = malloc((no + 1) * 4);
		out3.data = o3;
		c2.in = in2;
		c2.attr = at2;
		c2.nattr = na2;
	}
	KCall c3 = c2;
	c3.out = &out3;
	checks++;
	int bad = ref_table[OP_attention](&c1) || kattn_run(pool, &c2) ||
	          (cs->bthd && ref_table[OP_attention](&c3));
	if (!bad && (cs->bthd & 8)) {
		float *x = swap_ht(o2, cs->B, cs->Hq, cs->Tq, cs->Dv, false);
		float *y = swap_ht(o3, cs->B, cs->Hq, cs->Tq, cs->Dv, false);
		memcpy(o2, x, no * 4);
		memcpy(o3, y, no * 4);
		free(x);
		free(y);
	}
	/* the reference through the strides gives the same numbers as on copies */
	if (!bad && o3 && memcmp(o1, o3, no * 4)) {
		printf("FAIL layout %d: ref_attention through strides differs\n", cs->bthd);
		fails++;
	}
	if (bad) {
		printf("FAIL case B%d H%d/%d T%d/%d D%d/%d: %s\n", cs->B, cs->Hq, cs->Hkv, cs->Tq, cs->Tk,
		       cs->D, cs->Dv, err);
		fails++;
	} else {
		double worst = 0;
		for (size_t i = 0; i < no; i++) {
			double e = fabs((double)o1[i] - o2[i]);
			if (!(e <= worst))
				worst = isnan(e) ? INFINITY : e;
		}
		double mag = 0;
		for (size_t i = 0; i < no; i++)
			mag += fabs(o1[i]);
		if (getenv("ATTN_VERBOSE"))
			printf("B%d H%d/%d T%d/%d: max err %.3g, mean abs %.3g\n", cs->B, cs->Hq, cs->Hkv, cs->Tq, cs->Tk, worst, mag / (double)(no ? no : 1));
		if (!(worst <= 2e-5)) {
			printf("FAIL B%d H%d/%d T%d/%d D%d/%d causal %d win %d sinks %d mask %d cap %g "
			       "alibi %d layout %d threads %d: max err %g\n", cs->B, cs->Hq, cs->Hkv, cs->Tq,
			       cs->Tk, cs->D, cs->Dv, cs->causal, cs->window, cs->sinks, cs->mask,
			       cs->softcap, cs->alibi, cs->bthd, kpool_threads(pool), worst);
			fails++;
		}
	}
	free(qt);
	free(kt);
	free(vt);
	free(o3);
	free(q);
	free(k);
	free(v);
	free(o1);
	free(o2);
	free(mask);
}

int main(void)
{
	static const Case cases[] = {
		/* B Hq Hkv Tq  Tk   D  Dv  causal win sinks mask cap alibi */
		{1, 1, 1, 1, 1, 8, 8, 0, 0, 0, 0, 0, 0},
		{1, 4, 4, 32, 32, 32, 32, 1, 0, 0, 0, 0, 0},
		{2, 4, 2, 37, 37, 32, 32, 1, 0, 0, 0, 0, 0},
		{1, 8, 2, 100, 165, 64, 64, 1, 0, 0, 0, 0, 0},      /* Tq < Tk, bottom-right */
		{1, 4, 1, 70, 70, 17, 23, 0, 0, 0, 0, 0, 0},        /* MQA, odd dims */
		{2, 2, 2, 50, 130, 16, 16, 0, 0, 0, 1, 0, 0},       /* padding mask [B,1,1,Tk] */
		{1, 2, 1, 40, 40, 16, 16, 0, 0, 0, 2, 0, 0},        /* bool mask, masked row */
		{1, 2, 2, 33, 70, 8, 8, 0, 0, 0, 3, 0, 0},          /* full f32 mask */
		{1, 4, 2, 200, 200, 32, 32, 1, 48, 0, 0, 0, 0},     /* sliding window */
		{1, 2, 2, 150, 150, 32, 32, 1, 40, 4, 0, 0, 0},     /* window + sinks */
		{1, 2, 2, 60, 60, 16, 16, 0, 9, 0, 0, 0, 0},        /* non-causal band */
		{1, 4, 4, 45, 45, 32, 32, 1, 0, 0, 0, 30.0f, 0},    /* softcap */
		{1, 4, 4, 45, 80, 32, 32, 1, 0, 0, 0, 0, 1},        /* alibi */
		{1, 8, 2, 1, 1000, 64, 64, 1, 0, 0, 0, 0, 0},       /* decode: split-KV */
		{2, 4, 4, 1, 777, 32, 48, 0, 0, 0, 1, 0, 0},        /* decode with padding mask */
		{1, 4, 2, 3, 900, 32, 32, 1, 100, 2, 0, 0, 0},      /* decode, window + sinks */
		{1, 2, 2, 5, 3, 16, 16, 1, 0, 0, 0, 0, 0},          /* Tq > Tk: rows with no key */
		{1, 2, 1, 129, 129, 128, 128, 1, 0, 0, 0, 0, 0},
		/* many rows per task (the column-softmax tile routine) at tile edges */
		{1, 1, 1, 300, 300, 64, 64, 1, 64, 3, 0, 0, 0},     /* window + sinks */
		{1, 2, 2, 70, 40, 32, 32, 1, 0, 0, 0, 0, 0},        /* Tq > Tk, 30 empty rows */
		{1, 3, 1, 97, 161, 40, 64, 1, 0, 0, 3, 0, 0},       /* GQA 3, f32 mask, Dv in place */
		{1, 2, 2, 65, 65, 32, 32, 0, 0, 0, 2, 20.0f, 0},    /* bool mask + softcap */
		{1, 2, 1, 40, 600, 32, 32, 1, 0, 0, 0, 0, 0},       /* 80 rows, split-KV */
		/* [B,T,H,D] operands and output (attributes q_bthd .. out_bthd) */
		{1, 6, 6, 128, 128, 64, 64, 0, 0, 0, 1, 0, 0, 15},  /* bert: padding mask */
		{1, 6, 6, 128, 128, 64, 64, 1, 0, 0, 0, 0, 0, 15},  /* gpt: causal */
		{2, 9, 3, 77, 77, 64, 64, 1, 0, 0, 0, 0, 0, 15},    /* SmolLM2-like GQA */
		{1, 4, 2, 40, 90, 32, 48, 1, 0, 0, 3, 0, 0, 5},     /* q, v only; full mask */
		{2, 4, 4, 33, 33, 16, 16, 0, 0, 0, 2, 0, 0, 10},    /* k, out; bool mask */
		{1, 8, 2, 1, 700, 64, 64, 1, 0, 0, 0, 0, 0, 15},    /* decode, split-KV */
		{1, 4, 4, 9, 9, 8, 8, 1, 0, 0, 0, 0, 0, 8},         /* out only, row routine */
		/* masks added as the scores are stored, with the causal lane mask */
		{2, 6, 2, 96, 96, 64, 64, 1, 0, 0, 1, 0, 0, 15},    /* GQA, causal, padding */
		{1, 4, 4, 70, 100, 32, 32, 1, 0, 0, 4, 0, 0, 0},    /* bool padding, Tq < Tk */
		{1, 4, 4, 64, 64, 32, 32, 1, 0, 0, 4, 0, 1, 0},     /* + alibi (row by row) */
		{1, 4, 2, 80, 80, 16, 16, 1, 0, 0, 1, 10.0f, 0, 0}, /* + softcap: all row by row */
	};
	kpool *p2 = kpool_new(2);
	/* every kernel copy the CPU has: plain, AVX2, AVX-512 (capped by the CPU) */
	/* and both tile routines: per-row softmax (VIBEE_KATTN_TILE=row, which
	 * short query tiles always take) and the column form for many rows */
	for (int isa = 0; isa <= 5; isa++) {
		char v[2] = {(char)('0' + isa % 3), 0};
		setenv("VIBEE_KATTN_ISA", v, 1);
		if (isa >= 3)
			setenv("VIBEE_KATTN_TILE", "row", 1);
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			run_case(&cases[i], NULL);
			run_case(&cases[i], p2);
		}
	}
	unsetenv("VIBEE_KATTN_ISA");
	unsetenv("VIBEE_KATTN_TILE");
	kpool_free(p2);
	printf("attention kernel: %d/%d cases match the reference\n", checks - fails, checks);
	return fails ? 1 : 0;
}
