/* The host CPU target: x86-64-v3 (AVX2, FMA) by default, threads from the
 * kernel library's pool. */
#include "../target.h"

const Target target_cpu = {
	.name = "cpu",
	.desc = "host CPU, x86-64-v3 (AVX2/FMA), pthread pool",
	.isa = "x86-64-v3",
	.cflags = "-fwrapv -fno-math-errno",
	.vector_bytes = 32,
	.cores_hint = 0,
	.l1d_kb = 32,
	.l2_kb = 1024,
	.l3_kb = 32768,
};
