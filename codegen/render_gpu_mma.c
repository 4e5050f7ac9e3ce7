/* --precision=tf32|fp16|bf16 on GPU targets: the rounding helpers every
 * dialect gets (operands rounded as a tensor core reads them), and the
 * tensor-core bodies of lower_gpu.c's MatMul / Gemm / fused_matmul tile
 * launches (16 x 16, or 64 x 16 for wgmma; each stored accumulator goes
 * through the node's epilogue, Kernel.mmx[7]):
 * CUDA mma.sync (m16n8k8 tf32, m16n8k16 f16/bf16, sm_80 and newer), CUDA
 * wgmma on sm_90a (h100, h200: KProg.wgmma; wgmma_body below) and HIP
 * MFMA (v_mfma_f32_16x16x16 f16/bf16, gfx90a/gfx940). OpenCL, HIP tf32 and
 * f64 keep the KIR loop nest, with the same rounding, accumulating in fp32:
 * that is the path whose numerics the tests check on PoCL. */
#include "gpu.h"
#include "render.h"

/* vrnd_tf32: nearest, ties away from zero (PTX cvt.rna.tf32.f32), NaN and
 * infinity kept; vrnd_f16/bf16: nearest even through the prelude's
 * converters (f16 overflows to infinity). */
void cg_gpu_prec_prelude(CBuf *b, int dialect)
{
	const char *asf = dialect == GD_OPENCL ? "as_float" : "__uint_as_float";
	const char *asu = dialect == GD_OPENCL ? "as_uint" : "__float_as_uint";
	cb_printf(b,
	"VFN float vrnd_tf32(float f) { vu32 u = %s(f);\n"
	"	if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;\n"
	"	return %s(u); }\n"
	"VFN float vrnd_f16(float f) { return vf16_to_f32(vf32_to_f16(f)); }\n"
	"VFN float vrnd_bf16(float f) { return vbf16_to_f32(vf32_to_bf16(f)); }\n\n", asu, asf);
}

bool cg_gpu_mma(const KProg *p, const Kernel *k, int dialect)
{
	if (k->mm[7] != 1 || p->prec == KPREC_FP32)   /* 2: attention (render_gpu_attn.c) */
		return false;
	return dialect == GD_CUDA || (dialect == GD_HIP && p->prec != KPREC_TF32);
}

/* The tile's sizes, block -> (batch, row, column) tile (Kernel.mmx[2]
 * rows x 16 columns), thread ids, the A / B base pointers, and VA(r, k) /
 * VB(k, c): the operand elements, read with the other stride when Gemm
 * transposes them (mmx[0..1]); out() #undefs them. */
static void tile_head(CgExpr *x)
{
	CBuf *b = x->b;
	const Kernel *k = x->k;
	int tm = k->mmx[2];
	cb_puts(b, "\tconst vi64 M = ");
	cg_expr(x, k->mm[0]);
	cb_puts(b, ", N = ");
	cg_expr(x, k->mm[1]);
	cb_puts(b, ", K = ");
	cg_expr(x, k->mm[2]);
	cb_puts(b, ";\n");
	cb_printf(b,
	"\tconst vi64 mt = (M + %d) / %d, nt = (N + 15) / 16, t = (vi64)blockIdx.x;\n"
	"\tconst vi64 bt = t / (mt * nt), r0 = t / nt %% mt * %d, c0 = t %% nt * 16;\n"
	"\tconst int tx = (int)threadIdx.x, ty = (int)threadIdx.y, tid = ty * 16 + tx;\n"
	"\tconst float *A = p%d + bt * M * K, *B = p%d + %s;\n"
	"\tfloat l%d[1];\n"
	"\t#define VA(r, c) A[%s]\n"
	"\t#define VB(r, c) B[%s]\n",
	tm - 1, tm, tm, k->mm[3], k->mm[4], k->mm[6] ? "bt * K * N" : "0", k->mmx[6],
	k->mmx[0] ? "(c) * M + (r)" : "(r) * K + (c)", k->mmx[1] ? "(c) * K + (r)" : "(r) * N + (c)");
}

/* The store of output (row, col) of the tile, accumulator value val, when
 * inside [M, N]: Kernel.mmx[7], the epilogue lower_gpu.c built for it
 * (alpha / beta C for Gemm, bias, residual and activation for
 * fused_matmul; plain MatMul: the value), with its row, column and batch
 * variables and acc[0] bound here. */
static void out(CgExpr *x, const char *in, const char *row, const char *col, const char *val)
{
	CBuf *b = x->b;
	const Kernel *k = x->k;
	cb_printf(b,
	"%sif (%s < M && %s < N) {\n"
	"%s\tconst vi64 i%d = %s, i%d = %s, i%d = bt;\n"
	"%s\t(void)i%d; (void)i%d; (void)i%d;\n"
	"%s\tl%d[0] = %s;\n"
	"%s\tp%d[bt * M * N + i%d * N + i%d] = ",
	in, row, col, in, k->mmx[3], row, k->mmx[4], col, k->mmx[5], in, k->mmx[3], k->mmx[4],
	k->mmx[5], in, k->mmx[6], val, in, k->mm[5], k->mmx[3], k->mmx[4]);
	cg_expr(x, k->mmx[7]);
	cb_printf(b, ";\n%s}\n", in);
}

static void out_end(CBuf *b)
{
	cb_puts(b, "\t#undef VA\n\t#undef VB\n");
}

/* The mma.sync and MFMA bodies' tile head and the staging of the A and B
 * tiles (operands rounded; f16/bf16 kept as their bits) into As/Bs. cvt
 * opens one parenthesis more than it closes. */
static void stage(CgExpr *x, const char *elem, const char *cvt)
{
	CBuf *b = x->b;
	tile_head(x);
	cb_printf(b,
	"\t__shared__ %s As[256], Bs[256];\n"
	"\tfloat c0v = 0.0f, c1v = 0.0f, c2v = 0.0f, c3v = 0.0f;\n"
	"\tfor (vi64 k0 = 0; k0 < K; k0 += 16) {\n"
	"\t\tconst vi64 ar = r0 + ty, ak = k0 + tx, bk = k0 + ty, bc = c0 + tx;\n"
	"\t\tAs[tid] = %s(ar < M && ak < K ? VA(ar, ak) : 0.0f));\n"
	"\t\tBs[tid] = %s(bk < K && bc < N ? VB(bk, bc) : 0.0f));\n"
	"\t\t__syncthreads();\n",
	elem, cvt, cvt);
}

/* The CUDA body: warps 0 and 1 each own a 16x8 half of the tile (PTX ISA
 * fragment layouts: g = lane / 4, q = lane % 4; A rows g, g + 8; C
 * elements (g, 2q), (g, 2q + 1), (g + 8, 2q), (g + 8, 2q + 1)). */
static void cuda_body(CgExpr *x)
{
	CBuf *b = x->b;
	int prec = x->p->prec;
	if (prec == KPREC_TF32)
		stage(x, "vu32", "__float_as_uint(vrnd_tf32");
	else
		stage(x, "vu16", prec == KPREC_FP16 ? "vf32_to_f16((float)" : "vf32_to_bf16((float)");
	cb_puts(b,
	"\t\tif (tid < 64) {\n"
	"\t\t\tconst int lane = tid & 31, g = lane >> 2, q = lane & 3, n0 = (tid >> 5) * 8;\n");
	if (prec == KPREC_TF32)
		cb_puts(b,
		"\t\t\tfor (int kk = 0; kk < 16; kk += 8) {\n"
		"\t\t\t\tvu32 a0 = As[g * 16 + kk + q], a1 = As[(g + 8) * 16 + kk + q];\n"
		"\t\t\t\tvu32 a2 = As[g * 16 + kk + q + 4], a3 = As[(g + 8) * 16 + kk + q + 4];\n"
		"\t\t\t\tvu32 fb0 = Bs[(kk + q) * 16 + n0 + g], fb1 = Bs[(kk + q + 4) * 16 + n0 + g];\n"
		"\t\t\t\tasm volatile(\"mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 \"\n"
		"\t\t\t\t    \"{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\"\n"
		"\t\t\t\t    : \"+f\"(c0v), \"+f\"(c1v), \"+f\"(c2v), \"+f\"(c3v)\n"
		"\t\t\t\t    : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(fb0), \"r\"(fb1));\n"
		"\t\t\t}\n");
	else
		cb_printf(b,
		"\t\t\t#define VP(s, i, j) ((vu32)s[i] | (vu32)s[j] << 16)\n"
		"\t\t\tvu32 a0 = VP(As, g * 16 + 2 * q, g * 16 + 2 * q + 1);\n"
		"\t\t\tvu32 a1 = VP(As, (g + 8) * 16 + 2 * q, (g + 8) * 16 + 2 * q + 1);\n"
		"\t\t\tvu32 a2 = VP(As, g * 16 + 2 * q + 8, g * 16 + 2 * q + 9);\n"
		"\t\t\tvu32 a3 = VP(As, (g + 8) * 16 + 2 * q + 8, (g + 8) * 16 + 2 * q + 9);\n"
		"\t\t\tvu32 fb0 = VP(Bs, 2 * q * 16 + n0 + g, (2 * q + 1) * 16 + n0 + g);\n"
		"\t\t\tvu32 fb1 = VP(Bs, (2 * q + 8) * 16 + n0 + g, (2 * q + 9) * 16 + n0 + g);\n"
		"\t\t\t#undef VP\n"
		"\t\t\tasm volatile(\"mma.sync.aligned.m16n8k16.row.col.f32.%s.%s.f32 \"\n"
		"\t\t\t    \"{%%0, %%1, %%2, %%3}, {%%4, %%5, %%6, %%7}, {%%8, %%9}, {%%0, %%1, %%2, %%3};\"\n"
		"\t\t\t    : \"+f\"(c0v), \"+f\"(c1v), \"+f\"(c2v), \"+f\"(c3v)\n"
		"\t\t\t    : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(fb0), \"r\"(fb1));\n",
		prec == KPREC_FP16 ? "f16" : "bf16", prec == KPREC_FP16 ? "f16" : "bf16");
	cb_printf(b,
	"\t\t}\n"
	"\t\t__syncthreads();\n"
	"\t}\n"
	"\tif (tid < 64) {\n"
	"\t\tconst int lane = tid & 31, g = lane >> 2, q = lane & 3;\n"
	"\t\tconst float cv[4] = {c0v, c1v, c2v, c3v};\n"
	"\t\tfor (int i = 0; i < 4; i++) {\n"
	"\t\t\tconst vi64 row = r0 + g + (i >> 1) * 8, col = c0 + (tid >> 5) * 8 + 2 * q + (i & 1);\n");
	out(x, "\t\t\t", "row", "col", "cv[i]");
	cb_puts(b, "\t\t}\n\t}\n");
	out_end(b);
}

/* The HIP body: wavefront 0 computes the whole 16x16 tile with one
 * v_mfma_f32_16x16x16 per k step (lane l: A row l % 16, B and C column
 * l % 16; k = 4 (l / 16) + item for A and B, C row = 4 (l / 16) + item). */
static void hip_body(CgExpr *x)
{
	CBuf *b = x->b;
	bool f16 = x->p->prec == KPREC_FP16;
	stage(x, "vu16", f16 ? "vf32_to_f16((float)" : "vf32_to_bf16((float)");
	cb_printf(b,
	"\t\tif (tid < 64) {\n"
	"\t\t\tconst int i = tid & 15, kq = (tid >> 4) * 4;\n"
	"\t\t\t%s a, bb;\n"
	"\t\t\tfor (int e = 0; e < 4; e++) {\n"
	"\t\t\t\ta[e] = %sAs[i * 16 + kq + e]);\n"
	"\t\t\t\tbb[e] = %sBs[(kq + e) * 16 + i]);\n"
	"\t\t\t}\n"
	"\t\t\tvf4 acc = {c0v, c1v, c2v, c3v};\n"
	"\t\t\tacc = %s(a, bb, acc, 0, 0, 0);\n"
	"\t\t\tc0v = acc[0]; c1v = acc[1]; c2v = acc[2]; c3v = acc[3];\n"
	"\t\t}\n"
	"\t\t__syncthreads();\n"
	"\t}\n"
	"\tif (tid < 64) {\n"
	"\t\tconst float cv[4] = {c0v, c1v, c2v, c3v};\n"
	"\t\tfor (int e = 0; e < 4; e++) {\n"
	"\t\t\tconst vi64 row = r0 + (tid >> 4) * 4 + e, col = c0 + (tid & 15);\n",
	f16 ? "vh4" : "vs4", f16 ? "__builtin_bit_cast(_Float16, (vu16)" : "(short)(",
	f16 ? "__builtin_bit_cast(_Float16, (vu16)" : "(short)(",
	f16 ? "__builtin_amdgcn_mfma_f32_16x16x16f16" : "__builtin_amdgcn_mfma_f32_16x16x16bf16_1k");
	out(x, "\t\t\t", "row", "col", "cv[e]");
	cb_puts(b, "\t\t}\n\t}\n");
	out_end(b);
}

/* The sm_90a body (KProg.wgmma): warpgroup 0 (threads 0..127) issues one
 * wgmma.mma_async per k step, m64n16k8 .tf32 (two per 16-wide k chunk) or
 * m64n16k16 .f16/.bf16, both operands in shared memory named by matrix
 * descriptors, f32 accumulators in registers. PTX ISA rules used:
 *   descriptor (64 bits): start address (shared, bytes >> 4) in bits 0-13,
 *     leading-dimension byte offset >> 4 in 16-29, stride-dimension byte
 *     offset >> 4 in 32-45, base offset 0 (bits 49-51), swizzle 0 (62-63:
 *     none, the "interleaved" canonical layout);
 *   no swizzle, K-major: the operand is made of core matrices of 8 rows x
 *     16 bytes (8 x 4 tf32, 8 x 8 f16/bf16), each 128 contiguous bytes (row
 *     after row); LBO = bytes between core matrices adjacent in K, SBO =
 *     between core matrices adjacent in M (A) or N (B); tf32 allows K-major
 *     A and B only, so B is staged transposed (n rows of k), and the f16/bf16
 *     form says so with imm-trans-a = imm-trans-b = 0;
 *   order: generic stores to shared memory, fence.proxy.async (they become
 *     visible to the async proxy wgmma reads through), barrier, then in the
 *     warpgroup wgmma.fence, the mma, wgmma.commit_group, wgmma.wait_group 0
 *     (done before the registers are read or the tiles overwritten);
 *   accumulator fragment of m64nN: warp w holds rows 16w .. 16w + 15; lane
 *     l (g = l / 4, q = l % 4) holds, for each 8-column block j, d[4j + i]
 *     at row 16w + g + 8 (i / 2 % 2), column 8j + 2q + i % 2.
 * Here the byte offset of element (r, k) of a 16-wide k chunk is
 *     (k / kc) * 128 + (r / 8) * SBO + (r % 8) * 16 + (k % kc) * e
 * (e the element bytes, kc = 16 / e, LBO = 128, SBO = 128 * 16 / kc).
 * The block's tile (Kernel.mmx[2]) is 64 rows x 16 columns: its 256
 * threads stage 4 rows of A each and one element of B, and all four warps
 * of warpgroup 0 store their 16 rows. Where M <= 16 (known when lowering)
 * the tile keeps 16 rows: A's rows 16 .. 63 are zero and only warp 0's
 * results are stored (3/4 of that mma's work is padding, but a 64-row tile
 * would pad the same rows and stage more). */
static void wgmma_body(CgExpr *x)
{
	CBuf *b = x->b;
	const Kernel *k = x->k;
	int prec = x->p->prec, tm = k->mmx[2];
	bool tf = prec == KPREC_TF32;
	const char *cvt = tf ? "__float_as_uint(vrnd_tf32" : prec == KPREC_FP16 ?
	                  "vf32_to_f16((float)" : "vf32_to_bf16((float)";
	tile_head(x);
	cb_printf(b,
	"\t/* wgmma operands (K-major, no swizzle): A 64 x 16, B 16 (n) x 16 (k) */\n"
	"\t__shared__ __align__(128) %s As[64 * 16], Bs[16 * 16];\n"
	"\t#define VW(r, c) (%s)\n",
	tf ? "vu32" : "vu16",
	tf ? "((c) >> 2) * 32 + ((r) >> 3) * 128 + ((r) & 7) * 4 + ((c) & 3)"
	   : "((c) >> 3) * 64 + ((r) >> 3) * 128 + ((r) & 7) * 8 + ((c) & 7)");
	if (tm != 64)
		cb_puts(b, "\tfor (int i = tid; i < 64 * 16; i += 256)\n"
		           "\t\tAs[i] = 0;\n");
	cb_printf(b,
	"\tfloat d0 = 0.0f, d1 = 0.0f, d2 = 0.0f, d3 = 0.0f, d4 = 0.0f, d5 = 0.0f, d6 = 0.0f, "
	"d7 = 0.0f;\n"
	"\tfor (vi64 k0 = 0; k0 < K; k0 += 16) {\n"
	"\t\t__syncthreads();\n"
	"\t\tconst vi64 ak = k0 + tx, bk = k0 + ty, bc = c0 + tx;\n"
	"\t\tfor (int j = 0; j < %d; j++) {\n"
	"\t\t\tconst int r = ty + 16 * j;\n"
	"\t\t\tconst vi64 ar = r0 + r;\n"
	"\t\t\tAs[VW(r, tx)] = %s(ar < M && ak < K ? VA(ar, ak) : 0.0f));\n"
	"\t\t}\n"
	"\t\tBs[VW(tx, ty)] = %s(bk < K && bc < N ? VB(bk, bc) : 0.0f));\n"
	"\t\tasm volatile(\"fence.proxy.async.shared::cta;\" ::: \"memory\");\n"
	"\t\t__syncthreads();\n"
	"\t\tif (tid < 128) {\n"
	"\t\t\tconst vu64 lo = (vu64)(128 >> 4) << 16 | (vu64)(%d >> 4) << 32;\n"
	"\t\t\tconst vu64 da = ((vu64)(__cvta_generic_to_shared(As) & 0x3ffff) >> 4) | lo;\n"
	"\t\t\tconst vu64 db = ((vu64)(__cvta_generic_to_shared(Bs) & 0x3ffff) >> 4) | lo;\n",
	tm / 16, cvt, cvt, tf ? 512 : 256);
	/* tf32: the second k step of 8 starts 2 core matrices (256 bytes) on:
	 * the start address field advances by 256 >> 4 */
	cb_printf(b,
	"\t\t\tfor (int s = 0; s < %d; s++)\n"
	"\t\t\t\tasm volatile(\"{\\n\\t.reg .pred p;\\n\\tsetp.ne.b32 p, %%10, 0;\\n\\t\"\n"
	"\t\t\t\t    \"wgmma.fence.sync.aligned;\\n\\t\"\n"
	"\t\t\t\t    \"wgmma.mma_async.sync.aligned.%s \"\n"
	"\t\t\t\t    \"{%%0, %%1, %%2, %%3, %%4, %%5, %%6, %%7}, %%8, %%9, p, 1, 1%s;\\n\\t\"\n"
	"\t\t\t\t    \"wgmma.commit_group.sync.aligned;\\n\\t\"\n"
	"\t\t\t\t    \"wgmma.wait_group.sync.aligned 0;\\n\\t}\"\n"
	"\t\t\t\t    : \"+f\"(d0), \"+f\"(d1), \"+f\"(d2), \"+f\"(d3), \"+f\"(d4), \"+f\"(d5), "
	"\"+f\"(d6), \"+f\"(d7)\n"
	"\t\t\t\t    : \"l\"(da + (vu64)s * 16), \"l\"(db + (vu64)s * 16), \"r\"(1) : \"memory\");\n"
	"\t\t}\n"
	"\t}\n"
	"\t#undef VW\n"
	"\tif (tid < %d) {\n"
	"\t\tconst int g = (tid & 31) >> 2, q = tid & 3, w = tid >> 5;\n"
	"\t\tconst float dv[8] = {d0, d1, d2, d3, d4, d5, d6, d7};\n"
	"\t\tfor (int i = 0; i < 8; i++) {\n"
	"\t\t\tconst vi64 row = r0 + 16 * w + g + ((i >> 1) & 1) * 8, "
	"col = c0 + (i >> 2) * 8 + 2 * q + (i & 1);\n",
	tf ? 2 : 1, tf ? "m64n16k8.f32.tf32.tf32" : prec == KPREC_FP16 ? "m64n16k16.f32.f16.f16" :
	"m64n16k16.f32.bf16.bf16", tf ? "" : ", 0, 0", tm == 64 ? 128 : 32);
	out(x, "\t\t\t", "row", "col", "dv[i]");
	cb_puts(b, "\t\t}\n\t}\n");
	out_end(b);
}

void cg_gpu_mma_types(CBuf *b, int dialect)
{
	if (dialect == GD_HIP)
		cb_puts(b, "typedef _Float16 vh4 __attribute__((ext_vector_type(4)));\n"
		           "typedef short vs4 __attribute__((ext_vector_type(4)));\n"
		           "typedef float vf4 __attribute__((ext_vector_type(4)));\n\n");
}

void cg_gpu_mma_body(CgExpr *x, int dialect)
{
	if (dialect == GD_CUDA && x->p->wgmma)
		wgmma_body(x);
	else if (dialect == GD_CUDA)
		cuda_body(x);
	else
		hip_body(x);
}
