/* Unit test for the fused attention kernel (runtime/kattn.c) against the
 * reference ref_attention (ir/ref_attn.c): GQA/MQA groups, causal with
 * Tq < Tk (bottom-right), sliding windows with sinks, ALiBi, softcap, f32 and
 * bool masks with broadcasting, odd head dims, fully masked rows, decoding
 * (Tq = 1) long enough to take the split-KV path; serial and 2 threads; each
 * kernel copy (plain, AVX2, AVX-512) the CPU has, each with both tile
 * routines (per-row softmax and the column form for many rows). */
#define _POSIX_C_SOURCE 200809L   /* setenv */
#include <math.h>
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
	int causal, window, sinks, mask;   /* mask: 0 none, 1 f32 [B,1,1,Tk], 2 bool [Tq,Tk], 3 f32 [B,Hq,Tq,Tk] */
	float softcap;
	int alibi;
} Case;

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
		for (size_t i = 0; i < n; i++)
			m[i] = frand() < -0.6f ? -1e9f : frand();
		mask = m;
		if (cs->mask == 1)
			in[3] = (KTensor){DT_F32, 4, {cs->B, 1, 1, cs->Tk}, m};
		else
			in[3] = (KTensor){DT_F32, 4, {cs->B, cs->Hq, cs->Tq, cs->Tk}, m};
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
	checks++;
	if (ref_table[OP_attention](&c1) || kattn_run(pool, &c2)) {
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
			       "alibi %d threads %d: max err %g\n", cs->B, cs->Hq, cs->Hkv, cs->Tq, cs->Tk,
			       cs->D, cs->Dv, cs->causal, cs->window, cs->sinks, cs->mask, cs->softcap,
			       cs->alibi, kpool_threads(pool), worst);
			fails++;
		}
	}
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
