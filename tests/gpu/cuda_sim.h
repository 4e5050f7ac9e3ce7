/* A host stand-in for the few CUDA features the tensor-core attention body
 * (codegen/render_gpu_attn.c) uses, so tests/gpu/attn_sim.py can run that
 * generated CUDA C on the CPU: one block at a time as 64 pthreads
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
#include <string.h>

#define __device__
#define __forceinline__ inline
#define __global__
#define __shared__ static

struct vsim_dim { unsigned x, y, z; };
extern thread_local vsim_dim threadIdx, blockIdx;
extern pthread_barrier_t vsim_block, vsim_warp[2];

static inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
static inline float __uint_as_float(unsigned i) { float f; memcpy(&f, &i, 4); return f; }
static inline unsigned __float_as_uint(float f) { unsigned i; memcpy(&i, &f, 4); return i; }
static inline void __syncthreads(void) { pthread_barrier_wait(&vsim_block); }
static inline void __syncwarp(void) { pthread_barrier_wait(&vsim_warp[threadIdx.x / 32]); }

extern float vsim_xf[2][32];
static inline float __shfl_xor_sync(unsigned, float v, int o)
{
	int w = threadIdx.x / 32, l = threadIdx.x % 32;
	vsim_xf[w][l] = v;
	__syncwarp();
	float r = vsim_xf[w][l ^ o];
	__syncwarp();
	return r;
}

extern unsigned vsim_reg[2][32][6];
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

/* kind 0: m16n8k8 tf32; 1: m16n8k16 f16; 2: m16n8k16 bf16 */
static inline void vsim_mma(int kind, float &c0, float &c1, float &c2, float &c3, unsigned a0,
                            unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1)
{
	int w = threadIdx.x / 32, l = threadIdx.x % 32;
	unsigned *r = vsim_reg[w][l];
	r[0] = a0, r[1] = a1, r[2] = a2, r[3] = a3, r[4] = b0, r[5] = b1;
	__syncwarp();
	double A[16][16] = {{0}}, B[16][8] = {{0}};
	int K = kind ? 16 : 8;
	for (int lane = 0; lane < 32; lane++) {
		int g = lane / 4, q = lane % 4;
		unsigned *x = vsim_reg[w][lane];
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
	__syncwarp();
	int g = l / 4, q = l % 4;
	float *c[4] = {&c0, &c1, &c2, &c3};
	for (int i = 0; i < 4; i++) {
		int row = g + (i >> 1) * 8, col = 2 * q + (i & 1);
		double s = 0;
		for (int kk = 0; kk < K; kk++)
			s += A[row][kk] * B[kk][col];
		*c[i] = (float)((double)*c[i] + s);
	}
}
#endif
