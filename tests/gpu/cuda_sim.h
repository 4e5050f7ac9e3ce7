/* A host stand-in for the few CUDA features the tensor-core attention bodies
 * (codegen/render_gpu_attn.c) use, so tests/gpu/attn_sim.py can run that
 * generated CUDA C on the CPU: one block at a time as 64 pthreads (128 for
 * the wgmma body, section at the end; at most 4 warps)
 * (__shared__ arrays become function statics, shared by the block's
 * threads), __syncthreads / __syncwarp as pthread barriers,
 * __shfl_xor_sync through a per-warp exchange array, and mma.sync (the
 * script rewrites each asm statement into a vsim_mma_* call) as a
 * warp-collective product: every lane deposits its A/B fragment registers,
 * the fragments are reassembled into the 16xK and Kx8 matrices by the PTX
 * ISA layouts (g = lane / 4, q = lane % 4):
 *   m16n8k8 .tf32:  a0 (g, q)  a1 (g+8, q)  a2 (g, q+4)  a3 (g+8, q+4);
 *                   b0 (q, g)  b1 (q+4, g)
 *   m16n8k16 .f16/.bf16 (two halves per register, low half first):
 *                   a0 (g, 2q..2q+1)  a1 (g+8, 2q..)  a2 (g, 2q+8..)  a3 (g+8, 2q+8..);
 *                   b0 (2q..2q+1, g)  b1 (2q+8..2q+9, g)
 *   C:              c0 (g, 2q)  c1 (g, 2q+1)  c2 (g+8, 2q)  c3 (g+8, 2q+1)
 * and each lane adds its four C elements (products summed in double). This
 * checks the body's indexing against these layouts; that the layouts are
 * the hardware's is only as sure as this reading of the PTX ISA. */
#ifndef VIBEE_CUDA_SIM_H
#define VIBEE_CUDA_SIM_H
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define __device__
#define __forceinline__ inline
#define __global__
#define __shared__ static

struct vsim_dim { unsigned x, y, z; };
extern thread_local vsim_dim threadIdx, blockIdx;
extern pthread_barrier_t vsim_block, vsim_warp[4];

static inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
static inline float __uint_as_float(unsigned i) { float f; memcpy(&f, &i, 4); return f; }
static inline unsigned __float_as_uint(float f) { unsigned i; memcpy(&i, &f, 4); return i; }
static inline void __syncthreads(void) { pthread_barrier_wait(&vsim_block); }
static inline void __syncwarp(void) { pthread_barrier_wait(&vsim_warp[threadIdx.x / 32]); }

extern float vsim_xf[4][32];
static inline float __shfl_xor_sync(unsigned, float v, int o)
{
	int w = threadIdx.x / 32, l = threadIdx.x % 32;
	vsim_xf[w][l] = v;
	__syncwarp();
	float r = vsim_xf[w][l ^ o];
	__syncwarp();
	return r;
}

extern unsigned vsim_reg[4][32][6];
static inline float vsim_h2f(unsigned h, int bf)
{
	if (bf)
		return __uint_as_float(h << 16);
	unsigned s = (h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
	if (e == 0x1f)
		return __uint_as_float(s | 0x7f800000u | (m << 13));
	if (e == 0) {
		float v = (float)m * 5.9604644775390625e-8f;
		return s ? -v : v;
	}
	return __uint_as_float(s | ((e + 112) << 23) | (m << 13));
}

/* The harnesses' kernel arguments: file i of argv[2..] read whole into
 * buf[i] (returns how many, -1 on a short read), and buffer o written back
 * over its file. */
static inline int vsim_read_bufs(int argc, char **argv, unsigned char **buf)
{
	for (int i = 0; i < argc - 2; i++) {
		FILE *f = fopen(argv[2 + i], "rb");
		if (!f)
			return -1;
		fseek(f, 0, SEEK_END);
		long n = ftell(f);
		fseek(f, 0, SEEK_SET);
		buf[i] = (unsigned char *)malloc(n);
		size_t got = fread(buf[i], 1, n, f);
		fclose(f);
		if (got != (size_t)n)
			return -1;
	}
	return argc - 2;
}

static inline void vsim_write_buf(char **argv, unsigned char **buf, int o)
{
	FILE *f = fopen(argv[2 + o], "r+b");
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	fwrite(buf[o], 1, n, f);
	fclose(f);
}

/* the product one lane of a warp gets: the 32 lanes' fragment registers x
 * (a0..a3, b0, b1) reassembled by the layouts above, lane l's four C
 * elements c[0..3] += the sums (in double) */
static inline void vsim_mma_lane(int kind, unsigned (*regs)[6], int l, float **c)
{
	double A[16][16] = {{0}}, B[16][8] = {{0}};
	int K = kind ? 16 : 8;
	for (int lane = 0; lane < 32; lane++) {
		int g = lane / 4, q = lane % 4;
		unsigned *x = regs[lane];
		if (!kind) {
			A[g][q] = __uint_as_float(x[0]), A[g + 8][q] = __uint_as_float(x[1]);
			A[g][q + 4] = __uint_as_float(x[2]), A[g + 8][q + 4] = __uint_as_float(x[3]);
			B[q][g] = __uint_as_float(x[4]), B[q + 4][g] = __uint_as_float(x[5]);
		} else {
			int bf = kind == 2;
			for (int h = 0; h < 2; h++) {
				int sh = 16 * h;
				A[g][2 * q + h] = vsim_h2f((x[0] >> sh) & 0xffff, bf);
				A[g + 8][2 * q + h] = vsim_h2f((x[1] >> sh) & 0xffff, bf);
				A[g][2 * q + 8 + h] = vsim_h2f((x[2] >> sh) & 0xffff, bf);
				A[g + 8][2 * q + 8 + h] = vsim_h2f((x[3] >> sh) & 0xffff, bf);
				B[2 * q + h][g] = vsim_h2f((x[4] >> sh) & 0xffff, bf);
				B[2 * q + 8 + h][g] = vsim_h2f((x[5] >> sh) & 0xffff, bf);
			}
		}
	}
	int g = l / 4, q = l % 4;
	for (int i = 0; i < 4; i++) {
		int row = g + (i >> 1) * 8, col = 2 * q + (i & 1);
		double s = 0;
		for (int kk = 0; kk < K; kk++)
			s += A[row][kk] * B[kk][col];
		*c[i] = (float)((double)*c[i] + s);
	}
}

/* kind 0: m16n8k8 tf32; 1: m16n8k16 f16; 2: m16n8k16 bf16 */
static inline void vsim_mma(int kind, float &c0, float &c1, float &c2, float &c3, unsigned a0,
                            unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1)
{
	int w = threadIdx.x / 32, l = threadIdx.x % 32;
	unsigned *r = vsim_reg[w][l];
	r[0] = a0, r[1] = a1, r[2] = a2, r[3] = a3, r[4] = b0, r[5] = b1;
	__syncwarp();
	float *c[4] = {&c0, &c1, &c2, &c3};
	vsim_mma_lane(kind, vsim_reg[w], l, c);
	__syncwarp();
}
/* Two harnesses share this file: attn_sim.py (the attention bodies, the
 * sections up to the include guard's end) and mma_sim.py (the MatMul
 * bodies, which defines VSIM_MATMUL and gets the last section instead). */
#ifndef VSIM_MATMUL
/* ---- wgmma attention (render_gpu_attn.c, sm_90a; the block is one
 * warpgroup of 128 threads) ----
 * __cvta_generic_to_shared gives each distinct __shared__ array it is
 * asked about a 64 KiB slot of a made-up shared address space (slot s at
 * s << 16), so the descriptors the body builds can be decoded back to host
 * memory. vsim_wgmma is the warpgroup-collective wgmma.mma_async
 * m64nNk8 .tf32 / m64nNk16 .f16/.bf16 with both operands in shared memory
 * (the script rewrites each asm statement into a call): every thread must
 * pass the same descriptors and scale-d; each descriptor is decoded by the
 * PTX ISA's fields (start address >> 4 bits 0-13, leading-dimension byte
 * offset >> 4 bits 16-29, stride-dimension byte offset >> 4 bits 32-45,
 * base offset bits 49-51 and swizzle mode bits 62-63 required 0 here) and
 * element (r, k) of a K-major operand without swizzle is read at
 *     start + (k / kc) LBO + (r / 8) SBO + (r % 8) 16 + (k % kc) bytes
 *     (kc = 16 / element bytes: core matrices of 8 rows x 16 bytes);
 * tf32 operands keep their top 19 bits. Thread (warp w, lane l, g = l / 4,
 * q = l % 4) then gets register 4j + i = D[16w + g + 8 (i / 2)][8j + 2q +
 * i % 2] (the m64nN f32 D fragment), D = (scale-d ? D : 0) + A B^T summed
 * in double. Checks our reading of the ISA, not the hardware. */
#define __align__(n) __attribute__((aligned(n)))
extern pthread_mutex_t vsim_smu;
extern const unsigned char *vsim_sbase[4];
extern int vsim_nsh, vsim_wgbad;
struct vsim_wgarg { unsigned long long da, db; int n, kind, scale; };
extern vsim_wgarg vsim_wga[128];
static inline unsigned long long __cvta_generic_to_shared(const void *p)
{
	pthread_mutex_lock(&vsim_smu);
	int s = 0;
	while (s < vsim_nsh && vsim_sbase[s] != (const unsigned char *)p)
		s++;
	if (s == vsim_nsh && s < 4)
		vsim_sbase[vsim_nsh++] = (const unsigned char *)p;
	pthread_mutex_unlock(&vsim_smu);
	if (s >= 4) {
		vsim_wgbad = 1;
		return 0;
	}
	return (unsigned long long)s << 16;
}

/* operand element (r, k) through descriptor d; kind 0 tf32, 1 f16, 2 bf16 */
static inline double vsim_wgel(unsigned long long d, int kind, int r, int k)
{
	unsigned long long a = (d & 0x3fff) << 4, lbo = ((d >> 16) & 0x3fff) << 4;
	unsigned long long sbo = ((d >> 32) & 0x3fff) << 4;
	int eb = kind ? 2 : 4, kc = 16 / eb;
	a += (unsigned long long)(k / kc) * lbo + (unsigned long long)(r / 8) * sbo +
	     (unsigned long long)(r % 8) * 16 + (unsigned long long)(k % kc) * eb;
	unsigned s = (unsigned)(a >> 16);
	if ((d >> 49 & 7) || (d >> 62) || s >= (unsigned)vsim_nsh || (a & 0xffff) + eb > 0x10000) {
		vsim_wgbad = 1;
		return 0;
	}
	const unsigned char *h = vsim_sbase[s] + (a & 0xffff);
	if (kind) {
		unsigned short v;
		memcpy(&v, h, 2);
		return vsim_h2f(v, kind == 2);
	}
	unsigned u;
	memcpy(&u, h, 4);
	return __uint_as_float(u & 0xffffe000u);
}

static inline void vsim_wgmma(int kind, int n, int scale, unsigned long long da,
                              unsigned long long db, float **d)
{
	int t = threadIdx.x;
	vsim_wga[t].da = da, vsim_wga[t].db = db, vsim_wga[t].n = n, vsim_wga[t].kind = kind;
	vsim_wga[t].scale = scale != 0;
	__syncthreads();
	for (int u = 0; u < 128; u++)
		if (vsim_wga[u].da != da || vsim_wga[u].db != db || vsim_wga[u].n != n ||
		    vsim_wga[u].kind != kind || vsim_wga[u].scale != (scale != 0))
			vsim_wgbad = 1;
	int w = t / 32, g = t % 32 / 4, q = t % 4, K = kind ? 16 : 8;
	for (int i = 0; i < n / 2; i++) {
		int row = 16 * w + g + 8 * (i % 4 / 2), col = 8 * (i / 4) + 2 * q + i % 2;
		double s = 0;
		for (int k = 0; k < K; k++)
			s += vsim_wgel(da, kind, row, k) * vsim_wgel(db, kind, col, k);
		*d[i] = (float)((scale ? (double)*d[i] : 0.0) + s);
	}
	__syncthreads();
}
/* ---- HIP MFMA attention (render_gpu_attn.c, gfx90a / gfx940), with
 * VSIM_HIP defined: blocks of 64-lane wavefronts ----
 * The script replaces the source's ext_vector_type typedefs by vsim_v4
 * (the host compiler has no _Float16 on x86: a 16-bit pattern stands in
 * for it). __shfl_xor exchanges within the wavefront. The MFMA builtins
 * are the wavefront-collective vsim_mfma: every lane deposits its 4 A and
 * 4 B items, A[c][kq + e], B[kq + e][c] (c = lane % 16, kq = 4 (lane / 16),
 * e the item; the v_mfma_f32_16x16x16 lane layout as we read the AMD CDNA
 * ISA) are reassembled, and lane l's item e of D is D[kq + e][c] = C + A B
 * (products summed in double); cbsz, abid and blgp must be 0. */
#ifdef VSIM_HIP
struct vsim_half { unsigned short u; };
#define _Float16 vsim_half
template <class T> struct vsim_v4 {
	T v[4];
	T &operator[](int i) { return v[i]; }
	const T &operator[](int i) const { return v[i]; }
};
extern pthread_barrier_t vsim_wave[4];
extern float vsim_xw[4][64];
extern double vsim_mf[4][64][8];
static inline void vsim_wsync(void) { pthread_barrier_wait(&vsim_wave[threadIdx.x / 64]); }
static inline float __shfl_xor(float v, int o)
{
	int w = threadIdx.x / 64, l = threadIdx.x % 64;
	vsim_xw[w][l] = v;
	vsim_wsync();
	float r = vsim_xw[w][(l ^ o) & 63];
	vsim_wsync();
	return r;
}
static inline double vsim_mfel(vsim_half h) { return vsim_h2f(h.u, 0); }
static inline double vsim_mfel(short h) { return vsim_h2f((unsigned short)h, 1); }
template <class T>
static inline vsim_v4<float> vsim_mfma(const vsim_v4<T> &a, const vsim_v4<T> &b,
                                       vsim_v4<float> c, int cbsz, int abid, int blgp)
{
	int w = threadIdx.x / 64, l = threadIdx.x % 64;
	if (cbsz || abid || blgp)
		vsim_wgbad = 1;
	for (int e = 0; e < 4; e++)
		vsim_mf[w][l][e] = vsim_mfel(a[e]), vsim_mf[w][l][4 + e] = vsim_mfel(b[e]);
	vsim_wsync();
	double A[16][16], B[16][16];
	for (int lane = 0; lane < 64; lane++)
		for (int e = 0; e < 4; e++) {
			A[lane % 16][4 * (lane / 16) + e] = vsim_mf[w][lane][e];
			B[4 * (lane / 16) + e][lane % 16] = vsim_mf[w][lane][4 + e];
		}
	vsim_wsync();
	for (int e = 0; e < 4; e++) {
		int row = 4 * (l / 16) + e, col = l % 16;
		double s = 0;
		for (int k = 0; k < 16; k++)
			s += A[row][k] * B[k][col];
		c[e] = (float)((double)c[e] + s);
	}
	return c;
}
#define __builtin_amdgcn_mfma_f32_16x16x16f16(a, b, c, x, y, z) vsim_mfma(a, b, c, x, y, z)
#define __builtin_amdgcn_mfma_f32_16x16x16bf16_1k(a, b, c, x, y, z) vsim_mfma(a, b, c, x, y, z)
#endif
#endif /* !VSIM_MATMUL */
#endif

#ifdef VSIM_MATMUL
/* ---- MatMul tensor-core bodies (codegen/render_gpu_mma.c), for
 * tests/gpu/mma_sim.py. A separate section: blocks of 16 x 16 threads
 * (vsim_bdim), the thread's linear id threadIdx.y * 16 + threadIdx.x, so
 * warps and warpgroups are counted from that id, not from threadIdx.x as
 * above. Stand-ins, each for our reading of the ISA, not for the hardware:
 *   vsim_mm_mma: mma.sync m16n8k8 .tf32 / m16n8k16 .f16/.bf16, the warp's
 *     fragments reassembled by the layouts listed at the top of this file;
 *   vsim_wgmma: wgmma.mma_async m64nNk8 .tf32 / m64nNk16 .f16/.bf16 with A
 *     and B in shared memory named by matrix descriptors (PTX ISA "Matrix
 *     Descriptor Format"): start address >> 4 in bits 0-13, leading byte
 *     offset >> 4 in 16-29, stride byte offset >> 4 in 32-45, base offset
 *     in 49-51 and swizzle in 62-63 (both must be 0 here: anything else
 *     aborts). K-major, no swizzle ("Shared Memory Matrix Layout"): core
 *     matrices of 8 rows x 16 bytes stored row after row; element (r, k)
 *     of A (r < 64) or of B (r = n < N) lies at
 *         start + (k / kc) * LBO + (r / 8) * SBO + (r % 8) * 16 + (k % kc) * e
 *     (e the element bytes, kc = 16 / e). D fragment ("Matrix fragments
 *     for wgmma"): warp w of the warpgroup holds rows 16w .. 16w + 15, lane
 *     l (g = l / 4, q = l % 4) element d[4j + i] at row 16w + g + 8 (i / 2),
 *     column 8j + 2q + i % 2; scale-d 0 replaces D, imm-scale-a/b -1 negate;
 *     imm-trans-a/b must be 0 (K-major);
 *   vsim_mfma: v_mfma_f32_16x16x16 f16 / bf16 of a 64-lane wavefront, lane
 *     l: A row l % 16, k = 4 (l / 16) + item; B column l % 16, same k; D
 *     column l % 16, row 4 (l / 16) + item (the layout hip_body assumes).
 * Products are summed in double, added to the f32 accumulator once per
 * instruction. Shared memory: __cvta_generic_to_shared gives each
 * __shared__ array a window address of its own (vsim_shared_at maps it
 * back), so a descriptor that points outside an array aborts. */
#define __align__(n) __attribute__((aligned(n)))
struct vsim_bdim_t { unsigned x, y; };
extern vsim_bdim_t vsim_bdim;
extern pthread_barrier_t vsim_mwarp[8];
extern unsigned vsim_mreg[8][32][6];
static inline int vsim_ltid(void) { return (int)(threadIdx.y * vsim_bdim.x + threadIdx.x); }

struct vsim_win { const char *p; unsigned long long a; unsigned long long n; };
extern vsim_win vsim_wins[8];
extern int vsim_nwin;
extern pthread_mutex_t vsim_winmu;
/* each array of at most 8 KiB gets the window [0x400 + 0x2000 i, ...) */
static inline unsigned long long __cvta_generic_to_shared(const void *p)
{
	pthread_mutex_lock(&vsim_winmu);
	int i = 0;
	while (i < vsim_nwin && vsim_wins[i].p != (const char *)p)
		i++;
	if (i == vsim_nwin) {
		if (vsim_nwin == 8) { fprintf(stderr, "vsim: too many shared arrays\n"); abort(); }
		vsim_wins[i].p = (const char *)p;
		vsim_wins[i].a = 0x400ull + 0x2000ull * (unsigned long long)i;
		vsim_wins[i].n = 0x2000;
		vsim_nwin++;
	}
	unsigned long long a = vsim_wins[i].a;
	pthread_mutex_unlock(&vsim_winmu);
	return a;
}
static inline const char *vsim_shared_at(unsigned long long a, unsigned bytes)
{
	for (int i = 0; i < vsim_nwin; i++)
		if (a >= vsim_wins[i].a && a + bytes <= vsim_wins[i].a + vsim_wins[i].n)
			return vsim_wins[i].p + (a - vsim_wins[i].a);
	fprintf(stderr, "vsim: shared address 0x%llx is in no __shared__ array\n", a);
	abort();
}

static inline void vsim_mm_mma(int kind, float &c0, float &c1, float &c2, float &c3, unsigned a0,
                               unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1)
{
	int w = vsim_ltid() / 32, l = vsim_ltid() % 32;
	unsigned *r = vsim_mreg[w][l];
	r[0] = a0, r[1] = a1, r[2] = a2, r[3] = a3, r[4] = b0, r[5] = b1;
	pthread_barrier_wait(&vsim_mwarp[w]);
	float *c[4] = {&c0, &c1, &c2, &c3};
	vsim_mma_lane(kind, vsim_mreg[w], l, c);
	pthread_barrier_wait(&vsim_mwarp[w]);
}

/* element (r, k) of a K-major, unswizzled operand named by descriptor d */
static inline double vsim_desc_elem(unsigned long long d, int r, int k, int kind)
{
	if ((d >> 62) & 3) { fprintf(stderr, "vsim: swizzled descriptor\n"); abort(); }
	if ((d >> 49) & 7) { fprintf(stderr, "vsim: descriptor base offset\n"); abort(); }
	unsigned long long start = (d & 0x3fff) << 4, lbo = ((d >> 16) & 0x3fff) << 4;
	unsigned long long sbo = ((d >> 32) & 0x3fff) << 4;
	int e = kind ? 2 : 4, kc = 16 / e;
	unsigned long long a = start + (unsigned long long)(k / kc) * lbo +
	                       (unsigned long long)(r / 8) * sbo + (unsigned long long)(r % 8) * 16 +
	                       (unsigned long long)(k % kc) * e;
	const char *p = vsim_shared_at(a, (unsigned)e);
	if (!kind) {
		unsigned u;
		memcpy(&u, p, 4);
		return __uint_as_float(u);
	}
	unsigned short h;
	memcpy(&h, p, 2);
	return vsim_h2f(h, kind == 2);
}

/* wgmma m64nNk8 (kind 0) / m64nNk16 (1 f16, 2 bf16) for N = 16: d0..d7 of
 * this thread, descriptors da (A, 64 x K) and db (B, N x K) */
static inline void vsim_wgmma(int kind, int n, float &d0, float &d1, float &d2, float &d3,
                              float &d4, float &d5, float &d6, float &d7, unsigned long long da,
                              unsigned long long db, int scd, int sa, int sb, int ta, int tb)
{
	int t = vsim_ltid();
	if (t >= 128 || n != 16 || ta || tb || (sa != 1 && sa != -1) || (sb != 1 && sb != -1)) {
		fprintf(stderr, "vsim: wgmma outside warpgroup 0 or an unsupported form\n");
		abort();
	}
	int w = t / 32, l = t % 32, g = l / 4, q = l % 4, K = kind ? 16 : 8;
	float *d[8] = {&d0, &d1, &d2, &d3, &d4, &d5, &d6, &d7};
	for (int j = 0; j < 2; j++)
		for (int i = 0; i < 4; i++) {
			int row = 16 * w + g + 8 * (i >> 1), col = 8 * j + 2 * q + (i & 1);
			double s = 0;
			for (int kk = 0; kk < K; kk++)
				s += vsim_desc_elem(da, row, kk, kind) * vsim_desc_elem(db, col, kk, kind);
			s *= (double)sa * sb;
			float *o = d[4 * j + i];
			*o = (float)((scd ? (double)*o : 0.0) + s);
		}
}

/* the HIP body's vector types and MFMA builtins (mma_sim.py rewrites the
 * source's typedefs and bit casts into these) */
struct vsim_v4 {
	float v[4];
	float &operator[](int i) { return v[i]; }
};
struct vsim_h4 {
	unsigned short v[4];
	unsigned short &operator[](int i) { return v[i]; }
};
typedef vsim_v4 vf4;
typedef vsim_h4 vh4, vs4;
static inline vf4 vsim_mfma(int bf, vh4 a, vh4 b, vf4 c)
{
	int l = vsim_ltid();
	if (l >= 64) { fprintf(stderr, "vsim: mfma outside wavefront 0\n"); abort(); }
	unsigned short (*ra)[4] = (unsigned short (*)[4])vsim_mreg[0];
	unsigned short (*rb)[4] = (unsigned short (*)[4])vsim_mreg[4];
	for (int e = 0; e < 4; e++)
		ra[l][e] = a[e], rb[l][e] = b[e];
	pthread_barrier_wait(&vsim_mwarp[0]);
	double A[16][16], B[16][16];
	for (int x = 0; x < 64; x++)
		for (int e = 0; e < 4; e++) {
			A[x % 16][4 * (x / 16) + e] = vsim_h2f(ra[x][e], bf);
			B[4 * (x / 16) + e][x % 16] = vsim_h2f(rb[x][e], bf);
		}
	pthread_barrier_wait(&vsim_mwarp[0]);
	vf4 r;
	for (int e = 0; e < 4; e++) {
		int row = 4 * (l / 16) + e, col = l % 16;
		double s = 0;
		for (int kk = 0; kk < 16; kk++)
			s += A[row][kk] * B[kk][col];
		r[e] = (float)((double)c[e] + s);
	}
	return r;
}
#endif /* VSIM_MATMUL */
