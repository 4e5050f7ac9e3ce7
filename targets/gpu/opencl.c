/* OpenCL: the loop kernels as OpenCL C, built by the platform at context
 * creation (PoCL on the CPU in our tests). Device figures are queried. */
#include "../target.h"

static const GpuSpec ocl = {.warp = 1, .max_threads = 256, .block_threads = 64};

const Target target_opencl = {.name = "opencl", .desc = "any OpenCL 1.2 device (libOpenCL)",
	.isa = "x86-64-v3", .cflags = "-fwrapv -fno-math-errno", .vector_bytes = 32,
	.kind = TK_OPENCL, .gpu = &ocl};
