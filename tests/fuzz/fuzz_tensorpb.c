/* libFuzzer harness: the runtime's TensorProto reader (rt_tensor_read_mem),
 * which vibee-run uses on --data files. Accepted tensors must be
 * self-consistent: element count times element size equals nbytes. */
#include "fuzz.h"
#include <stdint.h>
#include <string.h>
#include "runtime/tensorpb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rt_tensor t;
	char err[512];
	memset(&t, 0x5a, sizeof t);
	if (rt_tensor_read_mem(data, size, &t, err, sizeof err) != 0) {
		CHECK_ONE_LINE(err);
		CHECK(!t.data && !t.name);
		return 0;
	}
	size_t es = rt_dtype_size(t.dtype);
	CHECK(es > 0 && t.rank >= 0 && t.rank <= RT_TENSOR_MAXRANK);
	uint64_t n = 1;
	for (int i = 0; i < t.rank; i++) {
		CHECK(t.dims[i] >= 0);
		CHECK(!__builtin_mul_overflow(n, (uint64_t)t.dims[i], &n));
	}
	CHECK(n * es == t.nbytes);
	if (t.nbytes) {        /* touch every byte: ASan checks the bounds */
		volatile uint8_t x = 0;
		for (size_t i = 0; i < t.nbytes; i++)
			x ^= ((const uint8_t *)t.data)[i];
		(void)x;
	}
	rt_tensor_free(&t);
	return 0;
}
