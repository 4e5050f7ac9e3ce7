/* The tensor-core body of the device attention (lower_gpu_attn.c) on CUDA
 * with --precision=tf32|fp16|bf16: Q K^T and P V as mma.sync (m16n8k8
 * .tf32, m16n8k16 .f16/.bf16, f32 accumulators; sm_80 and newer), the
 * online softmax in fp32 on the accumulator fragments. Block: 2 warps of
 * 32 lanes, 32 query rows of one (batch, head), warp w owning rows
 * 16w .. 16w + 15. Shared memory holds the block's q rows, the K and V
 * tiles of BK keys and the probabilities P, all rounded as the tensor core
 * reads them (tf32 as its 32-bit pattern, f16/bf16 as 16-bit);
 *     Qs <- Q rows; for each visible key tile (bounds as the loop nest's):
 *       barrier; Ks, Vs <- tile; barrier
 *       S = mma(Qs, Ks^T)         (per warp 16 x BK, fragments in registers)
 *       score modifiers, visibility -> -inf; row max over the lane quad
 *       m' = max(m, tile max); o, l *= exp(m - m'); p = exp(s - m')
 *       l += row sum of p (unrounded); Ps <- p rounded; syncwarp
 *       o += mma(Ps, Vs)
 *     O = o / l (0 where l = 0), rows < Tq.
 * Fragment layouts (PTX ISA, g = lane / 4, q = lane % 4): A m16k8 tf32:
 * (g, q), (g+8, q), (g, q+4), (g+8, q+4); B k8n8: (q, g), (q+4, g);
 * A m16k16 f16: pairs (g, 2q..2q+1), (g+8, ..), (g, 2q+8..), (g+8, 2q+8..);
 * B k16n8: pairs (2q..2q+1, g), (2q+8..2q+9, g); C m16n8: (g, 2q),
 * (g, 2q+1), (g+8, 2q), (g+8, 2q+1). Never run on a GPU: ptxas builds it
 * (nvidia.attn_precision); its numerics are those of the loop nest, which
 * rounds the same operands and runs on PoCL. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "gpu.h"
#include "render.h"

enum { RA_BQ = 32 };

bool cg_gpu_attn_mma(const KProg *p, const Kernel *k, int dialect)
{
	return k->mm[7] == 2 && p->prec != KPREC_FP32 && dialect == GD_CUDA;
}

static int param_of(const Kernel *k, uint32_t value)
{
	for (int i = 0; i < k->nparam; i++)
		if (k->param[i].value == value)
			return i;
	return -1;
}

/* a float literal: %.9g with a decimal point, then f */
static const char *flit(char *buf, size_t n, double v)
{
	snprintf(buf, n, "%.9g", (double)(float)v);
	if (!strpbrk(buf, ".eE"))
		strncat(buf, ".0", n - strlen(buf) - 1);
	strncat(buf, "f", n - strlen(buf) - 1);
	return buf;
}

static void expr_line(CgExpr *x, const char *name, int e)
{
	cb_printf(x->b, "\tconst vi64 %s = ", name);
	cg_expr(x, e);
	cb_puts(x->b, ";\n");
}

void cg_gpu_attn_body(CgExpr *x)
{
	CBuf *b = x->b;
	const Kernel *k = x->k;
	const Graph *g = x->p->g;
	const Node *n = &g->node[k->node];
	int prec = x->p->prec;
	bool tf = prec == KPREC_TF32;
	const Shape *qs = &g->val[n->in[0]].shape, *ks = &g->val[n->in[1]].shape;
	int r = qs->rank;
	long long Hq = r == 4 ? qs->d[1] : 1, Hkv = r == 4 ? ks->d[1] : 1;
	long long D = qs->d[r - 1], Dv = g->val[n->in[2]].shape.d[r - 1], BK = k->mm[6];
	long long grp = Hq / Hkv;
	double scale = ir_attr_f(n, "scale", 1.0 / sqrt((double)D));
	bool causal = ir_attr_i(n, "causal", 0) != 0;
	long long win = ir_attr_i(n, "window", 0), sinks = ir_attr_i(n, "sinks", 0);
	double cap = ir_attr_f(n, "softcap", 0);
	const Attr *al = ir_attr(n, "alibi");
	uint32_t mv = n->nin > 3 ? n->in[3] : IR_NONE;
	int pq = param_of(k, n->in[0]), pk = param_of(k, n->in[1]), pv = param_of(k, n->in[2]);
	int po = param_of(k, n->out[0]), pm = mv != IR_NONE ? param_of(k, mv) : -1;
	const char *T = tf ? "vu32" : "vu16";
	const char *cvt = tf ? "__float_as_uint(vrnd_tf32" : prec == KPREC_FP16 ? "vf32_to_f16((float)"
	                  : "vf32_to_bf16((float)";
	const char *ty = prec == KPREC_FP16 ? "f16" : "bf16";
	char f1[48], f2[48];

	expr_line(x, "Tq", k->mm[0]);
	expr_line(x, "Tk", k->mm[1]);
	const char *sn[4] = {"ms0", "ms1", "ms2", "ms3"};
	if (pm >= 0)
		for (int i = 0; i < 4; i++)
			expr_line(x, sn[i], k->mm[2 + i]);
	cb_printf(b,
	"\tconst vi64 nqt = (Tq + %d) / %d, t = (vi64)blockIdx.x, qt = t %% nqt, bh = t / nqt;\n"
	"\tconst vi64 h = bh %% %lld, bb = bh / %lld, kvh = bb * %lld + h / %lld;\n"
	"\tconst int tid = (int)threadIdx.x, w = tid >> 5, lane = tid & 31, g = lane >> 2, q = lane & 3;\n"
	"\tconst vi64 i0 = qt * %d, off = Tk - Tq;\n"
	"\tconst float *Q = p%d + bh * Tq * %lld, *Kp = p%d + kvh * Tk * %lld, *Vp = p%d + kvh * Tk * %lld;\n"
	"\t__shared__ %s Qs[%d * %lld], Ks[%lld * %lld], Vs[%lld * %lld], Ps[%d * %lld];\n"
	"\tfor (int e = tid; e < %d * %lld; e += 64) {\n"
	"\t\tconst vi64 rr = i0 + e / %lld;\n"
	"\t\tQs[e] = %s(rr < Tq ? Q[rr * %lld + e %% %lld] : 0.0f));\n"
	"\t}\n",
	RA_BQ - 1, RA_BQ, Hq, Hq, Hkv, grp, RA_BQ, pq, D, pk, D, pv, Dv,
	T, RA_BQ, D, BK, D, BK, Dv, RA_BQ, BK, RA_BQ, D, D, cvt, D, D);
	if (al && al->n > 0) {
		cb_printf(b, "\tconst float vslope[%d] = {", al->n);
		for (int i = 0; i < al->n; i++)
			cb_printf(b, "%s%s", i ? ", " : "", flit(f1, sizeof f1, al->floats[i]));
		cb_puts(b, "};\n\tconst float slope = vslope[h];\n");
	}
	cb_printf(b,
	"\tfloat o[%lld][4];\n"
	"\t#pragma unroll\n"
	"\tfor (int a = 0; a < %lld; a++) o[a][0] = o[a][1] = o[a][2] = o[a][3] = 0.0f;\n"
	"\tfloat m[2] = {-VINF, -VINF}, l[2] = {0.0f, 0.0f};\n"
	"\tconst vi64 rw[2] = {i0 + w * 16 + g, i0 + w * 16 + g + 8};\n"
	"\tconst vi64 last = vmin_i64(i0 + %d, Tq), pmin = i0 + off, pend = last + off;\n",
	Dv / 8, Dv / 8, RA_BQ);
	/* key tile bounds: the loop nest's */
	if (causal)
		cb_puts(b, "\tconst vi64 jhi = vmin_i64(Tk, pend);\n");
	else if (win > 0 && sinks <= 0)
		cb_printf(b, "\tconst vi64 jhi = vmin_i64(Tk, pend + %lld);\n", win - 1);
	else if (win > 0)
		cb_printf(b, "\tconst vi64 jhi = vmin_i64(Tk, vmax_i64(%lld, pend + %lld));\n", sinks, win - 1);
	else
		cb_puts(b, "\tconst vi64 jhi = Tk;\n");
	if (win > 0 && sinks <= 0)
		cb_printf(b, "\tconst vi64 jlo = vmax_i64(0, pmin + %lld);\n", 1 - win);
	else
		cb_puts(b, "\tconst vi64 jlo = 0;\n");
	cb_printf(b, "\tfor (vi64 j0 = jlo; j0 < jhi; j0 += %lld) {\n", BK);
	if (win > 0 && sinks > 0)   /* block-uniform: every thread skips together */
		cb_printf(b, "\t\tif (!(j0 < %lld || j0 + %lld > pmin - %lld)) continue;\n", sinks, BK - 1, win);
	cb_printf(b,
	"\t\t__syncthreads();\n"
	"\t\tfor (int e = tid; e < %lld * %lld; e += 64) {\n"
	"\t\t\tconst vi64 j = j0 + e / %lld;\n"
	"\t\t\tKs[e] = %s(j < Tk ? Kp[j * %lld + e %% %lld] : 0.0f));\n"
	"\t\t}\n"
	"\t\tfor (int e = tid; e < %lld * %lld; e += 64) {\n"
	"\t\t\tconst vi64 j = j0 + e / %lld;\n"
	"\t\t\tVs[e] = %s(j < Tk ? Vp[j * %lld + e %% %lld] : 0.0f));\n"
	"\t\t}\n"
	"\t\t__syncthreads();\n"
	"\t\tfloat s[%lld][4];\n"
	"\t\t#pragma unroll\n"
	"\t\tfor (int nt = 0; nt < %lld; nt++) {\n"
	"\t\t\tfloat c0 = 0.0f, c1 = 0.0f, c2 = 0.0f, c3 = 0.0f;\n"
	"\t\t\tconst %s *A = Qs + (w * 16) * %lld, *Bk = Ks + (nt * 8 + g) * %lld;\n",
	BK, D, D, cvt, D, D, BK, Dv, Dv, cvt, Dv, Dv, BK / 8, BK / 8, T, D, D);
	if (tf)
		cb_printf(b,
		"\t\t\t#pragma unroll\n"
		"\t\t\tfor (int kk = 0; kk < %lld; kk += 8) {\n"
		"\t\t\t\tvu32 a0 = A[g * %lld + kk + q], a1 = A[(g + 8) * %lld + kk + q];\n"
		"\t\t\t\tvu32 a2 = A[g * %lld + kk + q + 4], a3 = A[(g + 8) * %lld + kk + q + 4];\n"
		"\t\t\t\tvu32 b0 = Bk[kk + q], b1 = Bk[kk + q + 4];\n"
		"\t\t\t\tasm volatile(\"mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 \"\n"
		"\t\t\t\t    \"{%%0, %%1, %%2, %%3}, {%%4, %%5, %%6, %%7}, {%%8, %%9}, {%%0, %%1, %%2, %%3};\"\n"
		"\t\t\t\t    : \"+f\"(c0), \"+f\"(c1), \"+f\"(c2), \"+f\"(c3)\n"
		"\t\t\t\t    : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(b0), \"r\"(b1));\n"
		"\t\t\t}\n", D, D, D, D, D);
	else
		cb_printf(b,
		"\t\t\t#pragma unroll\n"
		"\t\t\tfor (int kk = 0; kk < %lld; kk += 16) {\n"
		"\t\t\t\t#define VP(S, i, j) ((vu32)(S)[i] | (vu32)(S)[j] << 16)\n"
		"\t\t\t\tvu32 a0 = VP(A, g * %lld + kk + 2 * q, g * %lld + kk + 2 * q + 1);\n"
		"\t\t\t\tvu32 a1 = VP(A, (g + 8) * %lld + kk + 2 * q, (g + 8) * %lld + kk + 2 * q + 1);\n"
		"\t\t\t\tvu32 a2 = VP(A, g * %lld + kk + 2 * q + 8, g * %lld + kk + 2 * q + 9);\n"
		"\t\t\t\tvu32 a3 = VP(A, (g + 8) * %lld + kk + 2 * q + 8, (g + 8) * %lld + kk + 2 * q + 9);\n"
		"\t\t\t\tvu32 b0 = VP(Bk, kk + 2 * q, kk + 2 * q + 1), b1 = VP(Bk, kk + 2 * q + 8, kk + 2 * q + 9);\n"
		"\t\t\t\t#undef VP\n"
		"\t\t\t\tasm volatile(\"mma.sync.aligned.m16n8k16.row.col.f32.%s.%s.f32 \"\n"
		"\t\t\t\t    \"{%%0, %%1, %%2, %%3}, {%%4, %%5, %%6, %%7}, {%%8, %%9}, {%%0, %%1, %%2, %%3};\"\n"
		"\t\t\t\t    : \"+f\"(c0), \"+f\"(c1), \"+f\"(c2), \"+f\"(c3)\n"
		"\t\t\t\t    : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(b0), \"r\"(b1));\n"
		"\t\t\t}\n", D, D, D, D, D, D, D, D, D, ty, ty);
	cb_puts(b,
	"\t\t\ts[nt][0] = c0; s[nt][1] = c1; s[nt][2] = c2; s[nt][3] = c3;\n"
	"\t\t}\n"
	"\t\tfloat mt[2] = {-VINF, -VINF};\n"
	"\t\t#pragma unroll\n");
	cb_printf(b, "\t\tfor (int nt = 0; nt < %lld; nt++)\n", BK / 8);
	cb_puts(b,
	"\t\t\t#pragma unroll\n"
	"\t\t\tfor (int e = 0; e < 4; e++) {\n"
	"\t\t\t\tconst vi64 i = rw[e >> 1], pp = i + off, j = j0 + nt * 8 + 2 * q + (e & 1);\n");
	cb_printf(b, "\t\t\t\tfloat xs = s[nt][e] * %s;\n", flit(f1, sizeof f1, scale));
	if (cap > 0)
		cb_printf(b, "\t\t\t\txs = %s * tanhf(xs / %s);\n", flit(f1, sizeof f1, cap),
		          flit(f2, sizeof f2, cap));
	if (al && al->n > 0)
		cb_puts(b, "\t\t\t\txs += slope * (float)(j - pp);\n");
	cb_puts(b, "\t\t\t\tbool ok = j < Tk;\n");
	if (causal)
		cb_puts(b, "\t\t\t\tok = ok && j <= pp;\n");
	if (win > 0) {
		cb_printf(b, "\t\t\t\tbool in = j > pp - %lld", win);
		if (!causal)
			cb_printf(b, " && j < pp + %lld", win);
		if (sinks > 0)
			cb_printf(b, " || j < %lld", sinks);
		cb_puts(b, ";\n\t\t\t\tok = ok && in;\n");
	}
	if (pm >= 0) {
		cb_printf(b,
		"\t\t\t\tconst vi64 mi = bb * ms0 + h * ms1 + vmin_i64(i, Tq - 1) * ms2 + vmin_i64(j, Tk - 1) * ms3;\n");
		if (g->val[mv].dt == DT_BOOL)
			cb_printf(b, "\t\t\t\tok = ok && p%d[mi] != 0;\n", pm);
		else
			cb_printf(b, "\t\t\t\txs += p%d[mi];\n", pm);
	}
	cb_printf(b,
	"\t\t\t\tok = ok && xs > -VINF;\n"
	"\t\t\t\ts[nt][e] = ok ? xs : -VINF;\n"
	"\t\t\t\tmt[e >> 1] = fmaxf(mt[e >> 1], s[nt][e]);\n"
	"\t\t\t}\n"
	"\t\tfloat corr[2], ps[2] = {0.0f, 0.0f}, mn[2];\n"
	"\t\t#pragma unroll\n"
	"\t\tfor (int a = 0; a < 2; a++) {\n"
	"\t\t\tmt[a] = fmaxf(mt[a], __shfl_xor_sync(0xffffffffu, mt[a], 1));\n"
	"\t\t\tmt[a] = fmaxf(mt[a], __shfl_xor_sync(0xffffffffu, mt[a], 2));\n"
	"\t\t\tmn[a] = fmaxf(m[a], mt[a]);\n"
	"\t\t\tcorr[a] = mn[a] > -VINF ? expf(m[a] - mn[a]) : 0.0f;\n"
	"\t\t\tm[a] = mn[a];\n"
	"\t\t}\n"
	"\t\t#pragma unroll\n"
	"\t\tfor (int a = 0; a < %lld; a++)\n"
	"\t\t\tfor (int e = 0; e < 4; e++) o[a][e] *= corr[e >> 1];\n"
	"\t\t%s *P = Ps + (w * 16) * %lld;\n"
	"\t\t#pragma unroll\n"
	"\t\tfor (int nt = 0; nt < %lld; nt++)\n"
	"\t\t\tfor (int e = 0; e < 4; e++) {\n"
	"\t\t\t\tconst float pe = s[nt][e] > -VINF ? expf(s[nt][e] - mn[e >> 1]) : 0.0f;\n"
	"\t\t\t\tps[e >> 1] += pe;\n"
	"\t\t\t\tP[(g + (e >> 1) * 8) * %lld + nt * 8 + 2 * q + (e & 1)] = %s(pe));\n"
	"\t\t\t}\n"
	"\t\t#pragma unroll\n"
	"\t\tfor (int a = 0; a < 2; a++) {\n"
	"\t\t\tps[a] += __shfl_xor_sync(0xffffffffu, ps[a], 1);\n"
	"\t\t\tps[a] += __shfl_xor_sync(0xffffffffu, ps[a], 2);\n"
	"\t\t\tl[a] = l[a] * corr[a] + ps[a];\n"
	"\t\t}\n"
	"\t\t__syncwarp();\n"
	"\t\t#pragma unroll\n"
	"\t\tfor (int a = 0; a < %lld; a++) {\n"
	"\t\t\tconst %s *Bv = Vs + a * 8 + g;\n",
	Dv / 8, T, BK, BK / 8, BK, cvt, Dv / 8, T);
	if (tf)
		cb_printf(b,
		"\t\t\t#pragma unroll\n"
		"\t\t\tfor (int kk = 0; kk < %lld; kk += 8) {\n"
		"\t\t\t\tvu32 a0 = P[g * %lld + kk + q], a1 = P[(g + 8) * %lld + kk + q];\n"
		"\t\t\t\tvu32 a2 = P[g * %lld + kk + q + 4], a3 = P[(g + 8) * %lld + kk + q + 4];\n"
		"\t\t\t\tvu32 b0 = Bv[(kk + q) * %lld], b1 = Bv[(kk + q + 4) * %lld];\n"
		"\t\t\t\tasm volatile(\"mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 \"\n"
		"\t\t\t\t    \"{%%0, %%1, %%2, %%3}, {%%4, %%5, %%6, %%7}, {%%8, %%9}, {%%0, %%1, %%2, %%3};\"\n"
		"\t\t\t\t    : \"+f\"(o[a][0]), \"+f\"(o[a][1]), \"+f\"(o[a][2]), \"+f\"(o[a][3])\n"
		"\t\t\t\t    : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(b0), \"r\"(b1));\n"
		"\t\t\t}\n", BK, BK, BK, BK, BK, Dv, Dv);
	else
		cb_printf(b,
		"\t\t\t#pragma unroll\n"
		"\t\t\tfor (int kk = 0; kk < %lld; kk += 16) {\n"
		"\t\t\t\t#define VP(S, i, j) ((vu32)(S)[i] | (vu32)(S)[j] << 16)\n"
		"\t\t\t\tvu32 a0 = VP(P, g * %lld + kk + 2 * q, g * %lld + kk + 2 * q + 1);\n"
		"\t\t\t\tvu32 a1 = VP(P, (g + 8) * %lld + kk + 2 * q, (g + 8) * %lld + kk + 2 * q + 1);\n"
		"\t\t\t\tvu32 a2 = VP(P, g * %lld + kk + 2 * q + 8, g * %lld + kk + 2 * q + 9);\n"
		"\t\t\t\tvu32 a3 = VP(P, (g + 8) * %lld + kk + 2 * q + 8, (g + 8) * %lld + kk + 2 * q + 9);\n"
		"\t\t\t\tvu32 b0 = VP(Bv, (kk + 2 * q) * %lld, (kk + 2 * q + 1) * %lld);\n"
		"\t\t\t\tvu32 b1 = VP(Bv, (kk + 2 * q + 8) * %lld, (kk + 2 * q + 9) * %lld);\n"
		"\t\t\t\t#undef VP\n"
		"\t\t\t\tasm volatile(\"mma.sync.aligned.m16n8k16.row.col.f32.%s.%s.f32 \"\n"
		"\t\t\t\t    \"{%%0, %%1, %%2, %%3}, {%%4, %%5, %%6, %%7}, {%%8, %%9}, {%%0, %%1, %%2, %%3};\"\n"
		"\t\t\t\t    : \"+f\"(o[a][0]), \"+f\"(o[a][1]), \"+f\"(o[a][2]), \"+f\"(o[a][3])\n"
		"\t\t\t\t    : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(b0), \"r\"(b1));\n"
		"\t\t\t}\n", BK, BK, BK, BK, BK, BK, BK, BK, BK, Dv, Dv, Dv, Dv, ty, ty);
	cb_printf(b,
	"\t\t}\n"
	"\t}\n"
	"\tfor (int a = 0; a < %lld; a++)\n"
	"\t\tfor (int e = 0; e < 4; e++) {\n"
	"\t\t\tconst vi64 i = rw[e >> 1];\n"
	"\t\t\tif (i < Tq) {\n"
	"\t\t\t\tconst float lr = l[e >> 1];\n"
	"\t\t\t\tp%d[(bh * Tq + i) * %lld + a * 8 + 2 * q + (e & 1)] = lr > 0.0f ? o[a][e] / lr : 0.0f;\n"
	"\t\t\t}\n"
	"\t\t}\n", Dv / 8, po, Dv);
}
