/* The tensor-core bodies of the device attention (lower_gpu_attn.c) on CUDA
 * with --precision=tf32|fp16|bf16: on sm_90a (h100, h200) as wgmma (wg_*
 * below: one warpgroup, 64 query rows), elsewhere, or where the wgmma
 * tiles do not fit in shared memory, as mma.sync. The mma.sync form:
 * Q K^T and P V as mma.sync (m16n8k8
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
 * (g, 2q+1), (g+8, 2q), (g+8, 2q+1). Never run on a GPU: ptxas builds
 * both forms (nvidia.attn) and nvidia.attn_sim runs them on the host
 * through tests/gpu/cuda_sim.h's stand-ins of mma.sync and wgmma (our
 * reading of the PTX ISA, not the hardware); their numerics are those of
 * the loop nest, which rounds the same operands and runs on PoCL. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "gpu.h"
#include "render.h"

enum { RA_BQ = 32, RA_WG_BQ = 64, RA_WG_NC = 64 };

bool cg_gpu_attn_mma(const KProg *p, const Kernel *k, int dialect)
{
	if (k->mm[7] == 4)   /* HIP MFMA (fp16/bf16 only, lower_gpu_attn.c) */
		return dialect == GD_HIP && (p->prec == KPREC_FP16 || p->prec == KPREC_BF16);
	return (k->mm[7] == 2 || k->mm[7] == 3) && p->prec != KPREC_FP32 && dialect == GD_CUDA;
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

/* The mma.sync form's pieces (see the file comment): head and Qs, */
static void ms_head(CBuf *b, const char *T, const char *cvt, int pq, int pk, int pv, long long Hq,
                    long long Hkv, long long grp, long long D, long long Dv, long long BK)
{
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
}

/* the key tile into Ks / Vs and S = Q K^T into s[BK / 8][4], */
static void ms_scores(CBuf *b, const char *T, const char *cvt, bool tf, const char *ty, long long D,
                      long long Dv, long long BK)
{
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
	"\t\t}\n");
}

/* P into Ps, l += row sums, O += P V. */
static void ms_pv(CBuf *b, const char *T, const char *cvt, bool tf, const char *ty, long long Dv,
                  long long BK)
{
	cb_printf(b,
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
	T, BK, BK / 8, BK, cvt, Dv / 8, T);
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
	cb_puts(b, "\t\t}\n");
}

/* The sm_90a form (mm[7] == 3, lower_gpu_attn.c): one warpgroup of 4 warps
 * (128 threads) and 64 query rows, warp w owning rows 16w .. 16w + 15 as
 * in the mma.sync form, but S = Q K^T is one wgmma.mma_async m64nBKk8
 * (.tf32) or m64nBKk16 (.f16/.bf16) per k step over the whole 64 x BK tile,
 * and O += P V one per k step and column chunk of at most RA_WG_NC (N = 8 ..
 * 256 in steps of 8 allowed), all four operands (Qs, Ks, Ps, and V staged
 * transposed as Vt, Dv rows of BK keys) in shared memory named by matrix
 * descriptors. PTX ISA rules this relies on (the same reading as
 * render_gpu_mma.c's MatMul):
 *   descriptor: start address >> 4 in bits 0-13, leading-dimension byte
 *     offset (LBO) >> 4 in 16-29, stride-dimension byte offset (SBO) >> 4 in
 *     32-45, base offset 0 (49-51), no swizzle (62-63 = 0);
 *   K-major without swizzle: 8 x 16-byte core matrices (8 rows x 4 tf32 or
 *     8 f16/bf16, 128 contiguous bytes, row after row), LBO between core
 *     matrices adjacent in K, SBO between those adjacent in M / N; tf32
 *     allows K-major only, so both operands are K-major at every precision
 *     (imm-trans-a = imm-trans-b = 0 for f16/bf16);
 *   the D fragment of m64nN f32: register 4j + i of lane (g, q) of warp w
 *     is row 16w + g + 8 (i / 2), column 8j + 2q + i % 2, so d[4j .. 4j + 3]
 *     is the mma.sync C fragment of column block j and the online softmax
 *     and the final store are the mma.sync form's;
 *   generic stores to shared memory become visible to wgmma (the async
 *     proxy) through fence.proxy.async, then a barrier of the block; each
 *     asm statement is wgmma.fence (the accumulators were touched by
 *     ordinary code), the mma, commit_group, wait_group 0.
 * Element (r, c) of an operand with K columns sits at element
 *     (r / 8) 8 K + (c / kc) 8 kc + (r % 8) kc + c % kc      (kc = 16 / bytes)
 * so LBO = 128 and SBO = 8 K bytes x bytes, and a k step (2 core matrices
 * along K) moves the start address by 256 bytes. */
static void wg_asm(CBuf *b, long long n, bool tf, const char *ty, const char *acc, long long blk0,
                   const char *da, const char *db)
{
	long long nreg = n / 2;
	cb_printf(b,
	"\t\t\tasm volatile(\"{\\n\\t.reg .pred p;\\n\\tsetp.ne.b32 p, %%%lld, 0;\\n\\t\"\n"
	"\t\t\t    \"wgmma.fence.sync.aligned;\\n\\t\"\n"
	"\t\t\t    \"wgmma.mma_async.sync.aligned.m64n%lldk%d.f32.%s.%s \"\n"
	"\t\t\t    \"{", nreg + 2, n, tf ? 8 : 16, ty, ty);
	for (long long i = 0; i < nreg; i++)
		cb_printf(b, "%s%%%lld", i ? ", " : "", i);
	cb_printf(b, "}, %%%lld, %%%lld, p, 1, 1%s;\\n\\t\"\n"
	"\t\t\t    \"wgmma.commit_group.sync.aligned;\\n\\t\"\n"
	"\t\t\t    \"wgmma.wait_group.sync.aligned 0;\\n\\t}\"\n"
	"\t\t\t    :", nreg, nreg + 1, tf ? "" : ", 0, 0");
	for (long long i = 0; i < nreg; i++)
		cb_printf(b, "%s\"+f\"(%s[%lld][%lld])", i == 0 ? " " : i % 6 ? ", " : ",\n\t\t\t      ",
		          acc, blk0 + i / 4, i % 4);
	cb_printf(b, "\n\t\t\t    : \"l\"(%s), \"l\"(%s), \"r\"(1) : \"memory\");\n", da, db);
}

static void wg_head(CBuf *b, const char *T, const char *cvt, bool tf, int pq, int pk, int pv,
                    long long Hq, long long Hkv, long long grp, long long D, long long Dv,
                    long long BK)
{
	int eb = tf ? 4 : 2, kc = 16 / eb;
	cb_printf(b,
	"\tconst vi64 nqt = (Tq + %d) / %d, t = (vi64)blockIdx.x, qt = t %% nqt, bh = t / nqt;\n"
	"\tconst vi64 h = bh %% %lld, bb = bh / %lld, kvh = bb * %lld + h / %lld;\n"
	"\tconst int tid = (int)threadIdx.x, w = tid >> 5, lane = tid & 31, g = lane >> 2, q = lane & 3;\n"
	"\tconst vi64 i0 = qt * %d, off = Tk - Tq;\n"
	"\tconst float *Q = p%d + bh * Tq * %lld, *Kp = p%d + kvh * Tk * %lld, *Vp = p%d + kvh * Tk * %lld;\n"
	"\t/* wgmma operands, K-major core matrices without swizzle: Qs 64 x %lld, Ks %lld x %lld,\n"
	"\t * Vt (V transposed) %lld x %lld, Ps 64 x %lld; element (r, c) of K columns at VCM(r, c, K) */\n"
	"\t__shared__ __align__(128) %s Qs[64 * %lld], Ks[%lld * %lld], Vt[%lld * %lld], Ps[64 * %lld];\n"
	"\t#define VCM(r, c, K) (((r) >> 3) * 8 * (K) + (c) / %d * %d + ((r) & 7) * %d + (c) %% %d)\n"
	"\tfor (int e = tid; e < 64 * %lld; e += 128) {\n"
	"\t\tconst vi64 rr = i0 + e / %lld;\n"
	"\t\tQs[VCM(e / %lld, e %% %lld, %lld)] = %s(rr < Tq ? Q[rr * %lld + e %% %lld] : 0.0f));\n"
	"\t}\n",
	RA_WG_BQ - 1, RA_WG_BQ, Hq, Hq, Hkv, grp, RA_WG_BQ, pq, D, pk, D, pv, Dv,
	D, BK, D, Dv, BK, BK, T, D, BK, D, Dv, BK, BK, kc, 8 * kc, kc, kc,
	D, D, D, D, D, cvt, D, D);
	/* descriptors: LBO 128 bytes, SBO 8 rows of K elements */
	cb_printf(b,
	"\t/* matrix descriptors: start >> 4 | LBO (128) >> 4 << 16 | SBO (8 rows) >> 4 << 32 */\n"
	"\t#define VDESC(S, sbo) (((vu64)(__cvta_generic_to_shared(S) & 0x3ffff) >> 4) | "
	"(vu64)(128 >> 4) << 16 | (vu64)((sbo) >> 4) << 32)\n"
	"\tconst vu64 dq = VDESC(Qs, %lld), dk = VDESC(Ks, %lld), dv = VDESC(Vt, %lld), dp = VDESC(Ps, %lld);\n"
	"\t#undef VDESC\n",
	8 * D * eb, 8 * D * eb, 8 * BK * eb, 8 * BK * eb);
}

/* stage the key tile (Ks, Vt), then S = Q K^T into s[BK / 8][4] */
static void wg_scores(CBuf *b, const char *cvt, bool tf, const char *ty, long long D, long long Dv,
                      long long BK)
{
	cb_printf(b,
	"\t\t__syncthreads();\n"
	"\t\tfor (int e = tid; e < %lld * %lld; e += 128) {\n"
	"\t\t\tconst vi64 j = j0 + e / %lld;\n"
	"\t\t\tKs[VCM(e / %lld, e %% %lld, %lld)] = %s(j < Tk ? Kp[j * %lld + e %% %lld] : 0.0f));\n"
	"\t\t}\n"
	"\t\tfor (int e = tid; e < %lld * %lld; e += 128) {\n"
	"\t\t\tconst vi64 j = j0 + e / %lld;\n"
	"\t\t\tVt[VCM(e %% %lld, e / %lld, %lld)] = %s(j < Tk ? Vp[j * %lld + e %% %lld] : 0.0f));\n"
	"\t\t}\n"
	"\t\tasm volatile(\"fence.proxy.async.shared::cta;\" ::: \"memory\");\n"
	"\t\t__syncthreads();\n"
	"\t\tfloat s[%lld][4];\n"
	"\t\t#pragma unroll\n"
	"\t\tfor (int nt = 0; nt < %lld; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;\n"
	"\t\t#pragma unroll\n"
	"\t\tfor (int kk = 0; kk < %lld; kk++) {\n",
	BK, D, D, D, D, D, cvt, D, D, BK, Dv, Dv, Dv, Dv, BK, cvt, Dv, Dv, BK / 8, BK / 8,
	D / (tf ? 8 : 16));
	wg_asm(b, BK, tf, ty, "s", 0, "dq + (vu64)kk * 16", "dk + (vu64)kk * 16");
	cb_puts(b, "\t\t}\n");
}

/* P (rounded) into Ps, l += row sums, then O += P V per column chunk */
static void wg_pv(CBuf *b, const char *cvt, bool tf, const char *ty, long long Dv, long long BK)
{
	int eb = tf ? 4 : 2;
	cb_printf(b,
	"\t\t#pragma unroll\n"
	"\t\tfor (int nt = 0; nt < %lld; nt++)\n"
	"\t\t\tfor (int e = 0; e < 4; e++) {\n"
	"\t\t\t\tconst float pe = s[nt][e] > -VINF ? expf(s[nt][e] - mn[e >> 1]) : 0.0f;\n"
	"\t\t\t\tps[e >> 1] += pe;\n"
	"\t\t\t\tPs[VCM(w * 16 + g + (e >> 1) * 8, nt * 8 + 2 * q + (e & 1), %lld)] = %s(pe));\n"
	"\t\t\t}\n"
	"\t\t#pragma unroll\n"
	"\t\tfor (int a = 0; a < 2; a++) {\n"
	"\t\t\tps[a] += __shfl_xor_sync(0xffffffffu, ps[a], 1);\n"
	"\t\t\tps[a] += __shfl_xor_sync(0xffffffffu, ps[a], 2);\n"
	"\t\t\tl[a] = l[a] * corr[a] + ps[a];\n"
	"\t\t}\n"
	"\t\tasm volatile(\"fence.proxy.async.shared::cta;\" ::: \"memory\");\n"
	"\t\t__syncthreads();\n",
	BK / 8, BK, cvt);
	for (long long n0 = 0; n0 < Dv; n0 += RA_WG_NC) {
		long long nc = Dv - n0 < RA_WG_NC ? Dv - n0 : RA_WG_NC;
		char db[64];
		snprintf(db, sizeof db, "dv + (vu64)%lld + (vu64)kk * 16", n0 / 8 * 8 * BK * eb >> 4);
		cb_printf(b,
		"\t\t#pragma unroll\n"
		"\t\tfor (int kk = 0; kk < %lld; kk++) {   /* columns %lld .. %lld */\n",
		BK / (tf ? 8 : 16), n0, n0 + nc - 1);
		wg_asm(b, nc, tf, ty, "o", n0 / 8, "dp + (vu64)kk * 16", n0 ? db : "dv + (vu64)kk * 16");
		cb_puts(b, "\t\t}\n");
	}
}

/* ALiBi: the per-head slope table and this block's slope (h) */
static void alibi_slopes(CBuf *b, const Node *n)
{
	const Attr *al = ir_attr(n, "alibi");
	char f1[48];
	if (!al || al->n <= 0)
		return;
	cb_printf(b, "\tconst float vslope[%d] = {", al->n);
	for (int i = 0; i < al->n; i++)
		cb_printf(b, "%s%s", i ? ", " : "", flit(f1, sizeof f1, al->floats[i]));
	cb_puts(b, "};\n\tconst float slope = vslope[h];\n");
}

/* The score of s[nt][e] with the modifiers in the reference's order and
 * its visibility ok, for query row i (pp = i + Tk - Tq) and key j (all
 * forms; the caller masks and takes the row max). */
static void score_mods(CBuf *b, const Graph *g, const Node *n, int pm)
{
	const Shape *qs = &g->val[n->in[0]].shape;
	double scale = ir_attr_f(n, "scale", 1.0 / sqrt((double)qs->d[qs->rank - 1]));
	bool causal = ir_attr_i(n, "causal", 0) != 0;
	long long win = ir_attr_i(n, "window", 0), sinks = ir_attr_i(n, "sinks", 0);
	double cap = ir_attr_f(n, "softcap", 0);
	const Attr *al = ir_attr(n, "alibi");
	uint32_t mv = n->nin > 3 ? n->in[3] : IR_NONE;
	char f1[48], f2[48];
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
	if (pm >= 0 && mv != IR_NONE) {
		cb_printf(b,
		"\t\t\t\tconst vi64 mi = bb * ms0 + h * ms1 + vmin_i64(i, Tq - 1) * ms2 + vmin_i64(j, Tk - 1) * ms3;\n");
		if (g->val[mv].dt == DT_BOOL)
			cb_printf(b, "\t\t\t\tok = ok && p%d[mi] != 0;\n", pm);
		else
			cb_printf(b, "\t\t\t\txs += p%d[mi];\n", pm);
	}
}

/* The key tiles some row of the block sees, bounds as the loop nest's:
 * opens `for (j0 ...) {` (rows i0 .. last - 1, pmin / pend their p range) */
static void tile_loop(CBuf *b, bool causal, long long win, long long sinks, long long BK)
{
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
}

/* The HIP form (mm[7] == 4; gfx90a, gfx940: --precision=fp16|bf16): 2
 * wavefronts of 64 lanes, 32 query rows, wavefront w owning rows 16w ..
 * 16w + 15, one v_mfma_f32_16x16x16 f16 / bf16_1k per 16 x 16 x 16 step.
 * Lane layout of that instruction (AMD CDNA ISA, l the lane, c = l % 16,
 * kq = 4 (l / 16)): A[c][kq + e], B[kq + e][c] and D[kq + e][c] are item e of
 * lane l. The scores are computed transposed, S^T = K Q^T per 16 keys, so
 * that a lane holds one query row (c) and 4 keys of each 16-key block
 * (kq + e): the row max and sum are a lane's own items plus two xor
 * shuffles (16, 32), and the lane's probabilities are already the B
 * operand of O^T = V^T P^T (B[key kq + e][query c]), so P never goes
 * through shared memory; V^T is read from the row-major V tile as A.
 * Each lane ends with O[row c][16a + kq + e] in o[a][e]. */
static void mf_body(CgExpr *x, const Node *n, int pq, int pk, int pv, int po, int pm)
{
	CBuf *b = x->b;
	const Graph *g = x->p->g;
	const Kernel *k = x->k;
	bool f16 = x->p->prec == KPREC_FP16;
	const Shape *qs = &g->val[n->in[0]].shape, *ks = &g->val[n->in[1]].shape;
	int r = qs->rank;
	long long Hq = r == 4 ? qs->d[1] : 1, Hkv = r == 4 ? ks->d[1] : 1;
	long long D = qs->d[r - 1], Dv = g->val[n->in[2]].shape.d[r - 1], BK = k->mm[6];
	bool causal = ir_attr_i(n, "causal", 0) != 0;
	long long win = ir_attr_i(n, "window", 0), sinks = ir_attr_i(n, "sinks", 0);
	const char *cvt = f16 ? "vf32_to_f16((float)" : "vf32_to_bf16((float)";
	const char *H = f16 ? "__builtin_bit_cast(_Float16, (vu16)" : "(short)(";
	const char *vt = f16 ? "vh4" : "vs4";
	const char *mfma = f16 ? "__builtin_amdgcn_mfma_f32_16x16x16f16" :
	                   "__builtin_amdgcn_mfma_f32_16x16x16bf16_1k";
	cb_printf(b,
	"\tconst vi64 nqt = (Tq + %d) / %d, t = (vi64)blockIdx.x, qt = t %% nqt, bh = t / nqt;\n"
	"\tconst vi64 h = bh %% %lld, bb = bh / %lld, kvh = bb * %lld + h / %lld;\n"
	"\tconst int tid = (int)threadIdx.x, w = tid >> 6, lane = tid & 63, c = lane & 15, kq = (lane >> 4) * 4;\n"
	"\tconst vi64 i0 = qt * %d, off = Tk - Tq;\n"
	"\tconst float *Q = p%d + bh * Tq * %lld, *Kp = p%d + kvh * Tk * %lld, *Vp = p%d + kvh * Tk * %lld;\n"
	"\t__shared__ vu16 Qs[%d * %lld], Ks[%lld * %lld], Vs[%lld * %lld];\n"
	"\tfor (int e = tid; e < %d * %lld; e += 128) {\n"
	"\t\tconst vi64 rr = i0 + e / %lld;\n"
	"\t\tQs[e] = %s(rr < Tq ? Q[rr * %lld + e %% %lld] : 0.0f));\n"
	"\t}\n",
	RA_BQ - 1, RA_BQ, Hq, Hq, Hkv, Hq / Hkv, RA_BQ, pq, D, pk, D, pv, Dv,
	RA_BQ, D, BK, D, BK, Dv, RA_BQ, D, D, cvt, D, D);
	alibi_slopes(b, n);
	cb_printf(b,
	"\tfloat o[%lld][4];\n"
	"\t#pragma unroll\n"
	"\tfor (int a = 0; a < %lld; a++) o[a][0] = o[a][1] = o[a][2] = o[a][3] = 0.0f;\n"
	"\tfloat m = -VINF, l = 0.0f;\n"
	"\tconst vi64 i = i0 + w * 16 + c, pp = i + off;   /* the lane's query row */\n"
	"\tconst vi64 last = vmin_i64(i0 + %d, Tq), pmin = i0 + off, pend = last + off;\n",
	Dv / 16, Dv / 16, RA_BQ);
	tile_loop(b, causal, win, sinks, BK);
	cb_printf(b,
	"\t\t__syncthreads();\n"
	"\t\tfor (int e = tid; e < %lld * %lld; e += 128) {\n"
	"\t\t\tconst vi64 j = j0 + e / %lld;\n"
	"\t\t\tKs[e] = %s(j < Tk ? Kp[j * %lld + e %% %lld] : 0.0f));\n"
	"\t\t}\n"
	"\t\tfor (int e = tid; e < %lld * %lld; e += 128) {\n"
	"\t\t\tconst vi64 j = j0 + e / %lld;\n"
	"\t\t\tVs[e] = %s(j < Tk ? Vp[j * %lld + e %% %lld] : 0.0f));\n"
	"\t\t}\n"
	"\t\t__syncthreads();\n"
	"\t\tfloat s[%lld][4];   /* s[nt][e]: key j0 + 16 nt + kq + e of row i */\n"
	"\t\t#pragma unroll\n"
	"\t\tfor (int nt = 0; nt < %lld; nt++) {\n"
	"\t\t\tvf4 acc = {0.0f, 0.0f, 0.0f, 0.0f};\n"
	"\t\t\t#pragma unroll\n"
	"\t\t\tfor (int kk = 0; kk < %lld; kk += 16) {\n"
	"\t\t\t\t%s ka, qa;\n"
	"\t\t\t\tfor (int e = 0; e < 4; e++) {\n"
	"\t\t\t\t\tka[e] = %sKs[(nt * 16 + c) * %lld + kk + kq + e]);\n"
	"\t\t\t\t\tqa[e] = %sQs[(w * 16 + c) * %lld + kk + kq + e]);\n"
	"\t\t\t\t}\n"
	"\t\t\t\tacc = %s(ka, qa, acc, 0, 0, 0);\n"
	"\t\t\t}\n"
	"\t\t\ts[nt][0] = acc[0]; s[nt][1] = acc[1]; s[nt][2] = acc[2]; s[nt][3] = acc[3];\n"
	"\t\t}\n"
	"\t\tfloat mt = -VINF;\n"
	"\t\t#pragma unroll\n"
	"\t\tfor (int nt = 0; nt < %lld; nt++)\n"
	"\t\t\t#pragma unroll\n"
	"\t\t\tfor (int e = 0; e < 4; e++) {\n"
	"\t\t\t\tconst vi64 j = j0 + nt * 16 + kq + e;\n",
	BK, D, D, cvt, D, D, BK, Dv, Dv, cvt, Dv, Dv, BK / 16, BK / 16, D, vt, H, D, H, D, mfma,
	BK / 16);
	score_mods(b, g, n, pm);
	cb_printf(b,
	"\t\t\t\tok = ok && xs > -VINF;\n"
	"\t\t\t\ts[nt][e] = ok ? xs : -VINF;\n"
	"\t\t\t\tmt = fmaxf(mt, s[nt][e]);\n"
	"\t\t\t}\n"
	"\t\tmt = fmaxf(mt, __shfl_xor(mt, 16));\n"
	"\t\tmt = fmaxf(mt, __shfl_xor(mt, 32));\n"
	"\t\tconst float mn = fmaxf(m, mt), corr = mn > -VINF ? expf(m - mn) : 0.0f;\n"
	"\t\tfloat ps = 0.0f;\n"
	"\t\tm = mn;\n"
	"\t\t#pragma unroll\n"
	"\t\tfor (int a = 0; a < %lld; a++)\n"
	"\t\t\tfor (int e = 0; e < 4; e++) o[a][e] *= corr;\n"
	"\t\t%s pb[%lld];   /* P^T as the B operand: key 16 nt + kq + e, query row c */\n"
	"\t\t#pragma unroll\n"
	"\t\tfor (int nt = 0; nt < %lld; nt++)\n"
	"\t\t\tfor (int e = 0; e < 4; e++) {\n"
	"\t\t\t\tconst float pe = s[nt][e] > -VINF ? expf(s[nt][e] - mn) : 0.0f;\n"
	"\t\t\t\tps += pe;\n"
	"\t\t\t\tpb[nt][e] = %s%s(pe)));\n"
	"\t\t\t}\n"
	"\t\tps += __shfl_xor(ps, 16);\n"
	"\t\tps += __shfl_xor(ps, 32);\n"
	"\t\tl = l * corr + ps;\n"
	"\t\t#pragma unroll\n"
	"\t\tfor (int a = 0; a < %lld; a++) {\n"
	"\t\t\tvf4 acc = {o[a][0], o[a][1], o[a][2], o[a][3]};\n"
	"\t\t\t#pragma unroll\n"
	"\t\t\tfor (int nt = 0; nt < %lld; nt++) {\n"
	"\t\t\t\t%s va;\n"
	"\t\t\t\tfor (int e = 0; e < 4; e++)\n"
	"\t\t\t\t\tva[e] = %sVs[(nt * 16 + kq + e) * %lld + a * 16 + c]);\n"
	"\t\t\t\tacc = %s(va, pb[nt], acc, 0, 0, 0);\n"
	"\t\t\t}\n"
	"\t\t\to[a][0] = acc[0]; o[a][1] = acc[1]; o[a][2] = acc[2]; o[a][3] = acc[3];\n"
	"\t\t}\n"
	"\t}\n"
	"\tif (i < Tq)\n"
	"\t\tfor (int a = 0; a < %lld; a++)\n"
	"\t\t\tfor (int e = 0; e < 4; e++)\n"
	"\t\t\t\tp%d[(bh * Tq + i) * %lld + a * 16 + kq + e] = l > 0.0f ? o[a][e] / l : 0.0f;\n",
	Dv / 16, vt, BK / 16, BK / 16, H, cvt, Dv / 16, BK / 16, vt, H, Dv, mfma, Dv / 16, po, Dv);
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
	bool causal = ir_attr_i(n, "causal", 0) != 0;
	long long win = ir_attr_i(n, "window", 0), sinks = ir_attr_i(n, "sinks", 0);
	uint32_t mv = n->nin > 3 ? n->in[3] : IR_NONE;
	int pq = param_of(k, n->in[0]), pk = param_of(k, n->in[1]), pv = param_of(k, n->in[2]);
	int po = param_of(k, n->out[0]), pm = mv != IR_NONE ? param_of(k, mv) : -1;
	const char *T = tf ? "vu32" : "vu16";
	const char *cvt = tf ? "__float_as_uint(vrnd_tf32" : prec == KPREC_FP16 ? "vf32_to_f16((float)"
	                  : "vf32_to_bf16((float)";
	const char *ty = prec == KPREC_FP16 ? "f16" : "bf16";

	expr_line(x, "Tq", k->mm[0]);
	expr_line(x, "Tk", k->mm[1]);
	const char *sn[4] = {"ms0", "ms1", "ms2", "ms3"};
	if (pm >= 0)
		for (int i = 0; i < 4; i++)
			expr_line(x, sn[i], k->mm[2 + i]);
	bool wg = k->mm[7] == 3;
	int bq = wg ? RA_WG_BQ : RA_BQ;
	if (k->mm[7] == 4) {
		mf_body(x, n, pq, pk, pv, po, pm);
		return;
	}
	if (wg)
		wg_head(b, T, cvt, tf, pq, pk, pv, Hq, Hkv, grp, D, Dv, BK);
	else
		ms_head(b, T, cvt, pq, pk, pv, Hq, Hkv, grp, D, Dv, BK);
	alibi_slopes(b, n);
	cb_printf(b,
	"\tfloat o[%lld][4];\n"
	"\t#pragma unroll\n"
	"\tfor (int a = 0; a < %lld; a++) o[a][0] = o[a][1] = o[a][2] = o[a][3] = 0.0f;\n"
	"\tfloat m[2] = {-VINF, -VINF}, l[2] = {0.0f, 0.0f};\n"
	"\tconst vi64 rw[2] = {i0 + w * 16 + g, i0 + w * 16 + g + 8};\n"
	"\tconst vi64 last = vmin_i64(i0 + %d, Tq), pmin = i0 + off, pend = last + off;\n",
	Dv / 8, Dv / 8, bq);
	tile_loop(b, causal, win, sinks, BK);
	if (wg)
		wg_scores(b, cvt, tf, tf ? "tf32" : ty, D, Dv, BK);
	else
		ms_scores(b, T, cvt, tf, ty, D, Dv, BK);
	cb_puts(b,
	"\t\tfloat mt[2] = {-VINF, -VINF};\n"
	"\t\t#pragma unroll\n");
	cb_printf(b, "\t\tfor (int nt = 0; nt < %lld; nt++)\n", BK / 8);
	cb_puts(b,
	"\t\t\t#pragma unroll\n"
	"\t\t\tfor (int e = 0; e < 4; e++) {\n"
	"\t\t\t\tconst vi64 i = rw[e >> 1], pp = i + off, j = j0 + nt * 8 + 2 * q + (e & 1);\n");
	score_mods(b, g, n, pm);
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
	"\t\t\tfor (int e = 0; e < 4; e++) o[a][e] *= corr[e >> 1];\n", Dv / 8);
	if (wg) {
		wg_pv(b, cvt, tf, tf ? "tf32" : ty, Dv, BK);
	} else {
		ms_pv(b, T, cvt, tf, ty, Dv, BK);
	}
	cb_printf(b,
	"\t}\n"
	"\tfor (int a = 0; a < %lld; a++)\n"
	"\t\tfor (int e = 0; e < 4; e++) {\n"
	"\t\t\tconst vi64 i = rw[e >> 1];\n"
	"\t\t\tif (i < Tq) {\n"
	"\t\t\t\tconst float lr = l[e >> 1];\n"
	"\t\t\t\tp%d[(bh * Tq + i) * %lld + a * 8 + 2 * q + (e & 1)] = lr > 0.0f ? o[a][e] / lr : 0.0f;\n"
	"\t\t\t}\n"
	"\t\t}\n", Dv / 8, po, Dv);
	if (wg)
		cb_puts(b, "\t#undef VCM\n");
}
