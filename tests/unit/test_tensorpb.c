/* Tests of runtime/tensorpb.c: reads a real ONNX test input, round-trips
 * tensors of several dtypes, decodes hand-encoded typed/packed fields, and
 * checks that truncated and random bytes fail cleanly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "runtime/tensorpb.h"

static int nfail;
#define CHECK(c) do { if (!(c)) { nfail++; \
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); } \
	} while (0)

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc(sz > 0 ? (size_t)sz : 1);
	*n = fread(b, 1, (size_t)sz, f);
	fclose(f);
	return b;
}

/* test_abs input: x = f32 [3,4,5]; output is |x|, which checks the data. */
static void test_real_file(const char *dir)
{
	char in[512], out[512], err[256];
	snprintf(in, sizeof in, "%s/input_0.pb", dir);
	snprintf(out, sizeof out, "%s/output_0.pb", dir);
	rt_tensor x, y;
	int r = rt_tensor_read_file(in, &x, err, sizeof err);
	if (r != 0)
		fprintf(stderr, "%s\n", err);
	CHECK(r == 0);
	CHECK(x.dtype == 1 && x.rank == 3);
	CHECK(x.dims[0] == 3 && x.dims[1] == 4 && x.dims[2] == 5);
	CHECK(x.nbytes == 60 * sizeof(float));
	CHECK(x.name && strcmp(x.name, "x") == 0);
	CHECK(rt_tensor_read_file(out, &y, err, sizeof err) == 0);
	CHECK(y.nbytes == x.nbytes);
	int neg = 0;
	for (int i = 0; i < 60 && y.nbytes == x.nbytes; i++) {
		float a = ((float *)x.data)[i], b = ((float *)y.data)[i];
		CHECK(b == (a < 0 ? -a : a));
		neg += a < 0;
	}
	CHECK(neg > 0);      /* random normal data: some negative */
	/* round trip through a file */
	char tmp[] = "/tmp/test_tensorpb_XXXXXX";
	int fd = mkstemp(tmp);
	CHECK(fd >= 0);
	close(fd);
	CHECK(rt_tensor_write_file(tmp, &x, err, sizeof err) == 0);
	rt_tensor z;
	CHECK(rt_tensor_read_file(tmp, &z, err, sizeof err) == 0);
	CHECK(z.dtype == x.dtype && z.rank == x.rank && z.nbytes == x.nbytes);
	CHECK(memcmp(z.dims, x.dims, sizeof z.dims) == 0);
	CHECK(z.name && strcmp(z.name, "x") == 0);
	CHECK(z.nbytes == x.nbytes && memcmp(z.data, x.data, x.nbytes) == 0);
	rt_tensor_free(&z);

	/* every strict prefix of the file is an error, never a crash (a cut
	 * on a field boundary drops data, which the count check catches) */
	size_t n;
	uint8_t *b = slurp(in, &n);
	CHECK(b != NULL);
	for (size_t k = 0; b && k < n; k++) {
		r = rt_tensor_read_mem(b, k, &z, err, sizeof err);
		if (r == 0) {
			fprintf(stderr, "prefix %zu of %zu accepted\n", k, n);
			rt_tensor_free(&z);
		}
		CHECK(r != 0);
		CHECK(err[0] != 0 && strchr(err, '\n') == NULL);
	}
	free(b);
	unlink(tmp);
	rt_tensor_free(&x);
	rt_tensor_free(&y);
}

/* Write/read tensors of several dtypes, including rank 0 and empty. */
static void test_roundtrip_dtypes(void)
{
	static const int dts[] = { 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 16 };
	char tmp[] = "/tmp/test_tensorpb_XXXXXX", err[256];
	int fd = mkstemp(tmp);
	close(fd);
	for (size_t i = 0; i < sizeof dts / sizeof *dts; i++) {
		for (int shape = 0; shape < 3; shape++) {
			rt_tensor t = { .dtype = dts[i] };
			size_t es = rt_dtype_size(dts[i]);
			CHECK(es > 0);
			if (shape == 1)
				t.rank = 2, t.dims[0] = 2, t.dims[1] = 3;
			else if (shape == 2)
				t.rank = 3, t.dims[0] = 4, t.dims[1] = 0, t.dims[2] = 7;
			size_t numel = shape == 0 ? 1 : shape == 1 ? 6 : 0;
			t.nbytes = numel * es;
			uint8_t data[64];
			for (size_t k = 0; k < sizeof data; k++)
				data[k] = (uint8_t)(k * 37 + i);
			t.data = data;
			CHECK(rt_tensor_write_file(tmp, &t, err, sizeof err) == 0);
			rt_tensor u;
			CHECK(rt_tensor_read_file(tmp, &u, err, sizeof err) == 0);
			CHECK(u.dtype == t.dtype && u.rank == t.rank);
			CHECK(u.nbytes == t.nbytes && u.name == NULL);
			CHECK(memcmp(u.data, data, t.nbytes) == 0);
			rt_tensor_free(&u);
		}
	}
	/* bad tensors are refused by the writer */
	rt_tensor t = { .dtype = 1, .rank = 1, .dims = { 3 }, .nbytes = 8 };
	float f[3] = { 0 };
	t.data = f;
	CHECK(rt_tensor_write_file(tmp, &t, err, sizeof err) != 0);
	t.nbytes = 12, t.dtype = 8;
	CHECK(rt_tensor_write_file(tmp, &t, err, sizeof err) != 0);
	unlink(tmp);
}

/* Hand-encoded typed fields, packed and unpacked, per the protobuf wire
 * format: key = field << 3 | wire type. */
static void test_typed_fields(void)
{
	char err[256];
	rt_tensor t;
	/* dims 3 (unpacked), data_type 6 (i32), int32_data packed [-1, 2, 300] */
	static const uint8_t a[] = {
		0x08, 3, 0x10, 6, 0x2a, 13,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
		2, 0xac, 0x02 };
	CHECK(rt_tensor_read_mem(a, sizeof a, &t, err, sizeof err) == 0);
	CHECK(t.dtype == 6 && t.rank == 1 && t.dims[0] == 3);
	if (t.data) {
		int32_t *v = t.data;
		CHECK(v[0] == -1 && v[1] == 2 && v[2] == 300);
	}
	rt_tensor_free(&t);
	/* dims packed [2], data_type 1, float_data unpacked 1.5, -2 */
	uint8_t b[32];
	size_t n = 0;
	float f1 = 1.5f, f2 = -2.0f;
	b[n++] = 0x0a, b[n++] = 1, b[n++] = 2;
	b[n++] = 0x10, b[n++] = 1;
	b[n++] = 0x25, memcpy(b + n, &f1, 4), n += 4;
	b[n++] = 0x25, memcpy(b + n, &f2, 4), n += 4;
	CHECK(rt_tensor_read_mem(b, n, &t, err, sizeof err) == 0);
	CHECK(t.dtype == 1 && t.rank == 1 && t.dims[0] == 2 && t.nbytes == 8);
	if (t.data)
		CHECK(((float *)t.data)[0] == 1.5f && ((float *)t.data)[1] == -2.0f);
	rt_tensor_free(&t);
	/* bool from int32_data: nonzero -> 1 */
	static const uint8_t c[] = { 0x08, 2, 0x10, 9, 0x28, 5, 0x28, 0 };
	CHECK(rt_tensor_read_mem(c, sizeof c, &t, err, sizeof err) == 0);
	if (t.data)
		CHECK(((uint8_t *)t.data)[0] == 1 && ((uint8_t *)t.data)[1] == 0);
	rt_tensor_free(&t);
	/* errors: count mismatch, string data, external, rank 9, negative dim */
	static const uint8_t e1[] = { 0x08, 3, 0x10, 7, 0x38, 1 };
	static const uint8_t e2[] = { 0x10, 8, 0x32, 1, 'a' };
	static const uint8_t e3[] = { 0x10, 1, 0x70, 1 };
	static const uint8_t e4[] = { 0x0a, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x10, 1,
	                              0x4a, 4, 0, 0, 0, 0 };
	static const uint8_t e5[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	                              0xff, 0xff, 0xff, 0x01, 0x10, 1 };
	static const uint8_t e6[] = { 0x08, 1, 0x4a, 4, 0, 0, 0, 0 };   /* no dtype */
	static const uint8_t e7[] = { 0x10, 1, 0x4a, 0x80, 0x80, 0x80, 0x80, 0x10 };
	const struct { const uint8_t *p; size_t n; } bad[] = {
		{ e1, sizeof e1 }, { e2, sizeof e2 }, { e3, sizeof e3 },
		{ e4, sizeof e4 }, { e5, sizeof e5 }, { e6, sizeof e6 },
		{ e7, sizeof e7 } };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err[0] = 0;
		int r = rt_tensor_read_mem(bad[i].p, bad[i].n, &t, err, sizeof err);
		if (r == 0)
			fprintf(stderr, "bad case %zu accepted\n", i);
		CHECK(r != 0 && err[0] != 0);
		CHECK(t.data == NULL && t.name == NULL);
	}
}

/* Random bytes (fixed seed) and random mutations of a valid tensor: must
 * return (0 or -1) without crashing; errors carry a message. */
static void test_random(const char *dir)
{
	char path[512], err[256];
	snprintf(path, sizeof path, "%s/input_0.pb", dir);
	size_t n = 0;
	uint8_t *good = slurp(path, &n);
	uint8_t buf[1024];
	unsigned seed = 12345;
	int rejected = 0;
	for (int it = 0; it < 20000; it++) {
		size_t m;
		seed = seed * 1103515245u + 12345u;
		if (it % 2 || !good) {
			m = (seed >> 8) % sizeof buf;
			for (size_t k = 0; k < m; k++) {
				seed = seed * 1103515245u + 12345u;
				buf[k] = (uint8_t)(seed >> 16);
			}
		} else {
			m = n < sizeof buf ? n : sizeof buf;
			memcpy(buf, good, m);
			for (int j = 0; j < 3; j++) {
				seed = seed * 1103515245u + 12345u;
				buf[(seed >> 8) % m] = (uint8_t)(seed >> 20);
			}
		}
		rt_tensor t;
		err[0] = 0;
		if (rt_tensor_read_mem(buf, m, &t, err, sizeof err) == 0) {
			CHECK(t.data != NULL && t.rank >= 0 && t.rank <= 8);
			rt_tensor_free(&t);
		} else {
			CHECK(err[0] != 0);
			rejected++;
		}
	}
	CHECK(rejected > 1000);
	free(good);
}

int main(void)
{
	const char *dir =
		"/usr/share/libonnx-testdata/data/node/test_abs/test_data_set_0";
	if (access(dir, R_OK) != 0) {
		fprintf(stderr, "skip: %s missing\n", dir);
		return 77;
	}
	test_real_file(dir);
	test_roundtrip_dtypes();
	test_typed_fields();
	test_random(dir);
	if (nfail)
		fprintf(stderr, "%d checks failed\n", nfail);
	else
		printf("test_tensorpb: ok\n");
	return nfail ? 1 : 0;
}
