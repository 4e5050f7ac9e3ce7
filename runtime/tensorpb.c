/* A minimal protobuf wire-format reader/writer for ONNX TensorProto, the
 * format of the test_data_set_N/input_K.pb files. Every length and varint
 * is bounds-checked: any byte string gives a tensor or an error. */
#include "tensorpb.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* TensorProto field numbers. */
enum { F_DIMS = 1, F_DTYPE = 2, F_SEGMENT = 3, F_FLOAT = 4, F_INT32 = 5,
       F_STRING = 6, F_INT64 = 7, F_NAME = 8, F_RAW = 9, F_DOUBLE = 10,
       F_UINT64 = 11, F_LOCATION = 14, F_MAX = 16 };
/* Wire types. */
enum { W_VARINT = 0, W_I64 = 1, W_LEN = 2, W_I32 = 5 };

#define MAX_FILE ((uint64_t)16 << 30)

/* dtype      size  typed field (ONNX numbering; 0 = unsupported) */
static const struct { uint8_t size, field; } dtinfo[17] = {
	[1] = { 4, F_FLOAT },   /* float */
	[2] = { 1, F_INT32 },   /* uint8 */
	[3] = { 1, F_INT32 },   /* int8 */
	[4] = { 2, F_INT32 },   /* uint16 */
	[5] = { 2, F_INT32 },   /* int16 */
	[6] = { 4, F_INT32 },   /* int32 */
	[7] = { 8, F_INT64 },   /* int64 */
	[9] = { 1, F_INT32 },   /* bool */
	[10] = { 2, F_INT32 },  /* float16 (bits in int32_data) */
	[11] = { 8, F_DOUBLE }, /* double */
	[12] = { 4, F_UINT64 }, /* uint32 */
	[13] = { 8, F_UINT64 }, /* uint64 */
	[16] = { 2, F_INT32 },  /* bfloat16 (bits in int32_data) */
};

size_t rt_dtype_size(int dtype)
{
	return dtype > 0 && dtype < 17 ? dtinfo[dtype].size : 0;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

typedef struct Rd { const uint8_t *p, *e, *start; } Rd;

static int varint(Rd *r, uint64_t *v)
{
	uint64_t x = 0;
	for (int sh = 0; sh < 70; sh += 7) {
		if (r->p >= r->e)
			return -1;
		uint8_t b = *r->p++;
		if (sh == 63 && b > 1)
			return -1;              /* more than 64 bits */
		x |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* What pass 1 learns. */
typedef struct Info {
	int dtype;
	int rank;
	int64_t dims[RT_TENSOR_MAXRANK];
	const uint8_t *name; size_t namelen; bool has_name;
	const uint8_t *raw; size_t rawlen; bool has_raw;
	size_t count[F_MAX];      /* elements seen per typed field */
	bool external, segment, strings;
} Info;

/* Store element k of a typed field, converted to dtype, into out. */
static void put(void *out, int dtype, size_t k, uint64_t bits)
{
	switch (dtinfo[dtype].size) {
	case 1: ((uint8_t *)out)[k] = dtype == 9 ? bits != 0 : (uint8_t)bits; break;
	case 2: ((uint16_t *)out)[k] = (uint16_t)bits; break;
	case 4: { uint32_t u = (uint32_t)bits; memcpy((char *)out + 4 * k, &u, 4); break; }
	default: memcpy((char *)out + 8 * k, &bits, 8); break;
	}
}

/* One element of repeated field f with wire type w (unpacked), or of a
 * packed run. Counts it in pass 1 (out == NULL); stores it in pass 2 if f
 * is the dtype's field. */
static int elem(Rd *r, Info *in, int f, int w, void *out, size_t *k)
{
	uint64_t v = 0;
	if (w == W_VARINT) {
		if (varint(r, &v) != 0)
			return -1;
	} else if (w == W_I32 || w == W_I64) {
		size_t n = w == W_I32 ? 4 : 8;
		if ((size_t)(r->e - r->p) < n)
			return -1;
		uint32_t u32;
		if (n == 4)
			memcpy(&u32, r->p, 4), v = u32;
		else
			memcpy(&v, r->p, 8);
		r->p += n;
	} else {
		return -1;
	}
	if (f == F_DIMS && !out) {
		if (in->rank < RT_TENSOR_MAXRANK)
			in->dims[in->rank] = (int64_t)v;
		in->rank++;
	} else if (out && f == dtinfo[in->dtype].field) {
		put(out, in->dtype, (*k)++, v);
	}
	if (!out)
		in->count[f]++;
	return 0;
}

/* The wire type each repeated field's elements use when unpacked. */
static int elem_wire(int f)
{
	return f == F_FLOAT ? W_I32 : f == F_DOUBLE ? W_I64 : W_VARINT;
}

/* Walk all fields. Pass 1 (out == NULL) fills *in; pass 2 decodes the
 * dtype's typed field into out. Returns 0 or -1 (err set). */
static int walk(const uint8_t *buf, size_t n, Info *in, void *out,
                char *err, size_t errlen)
{
	Rd r = { buf, buf + n, buf };
	size_t k = 0;
	while (r.p < r.e) {
		size_t at = (size_t)(r.p - r.start);
		uint64_t key, len, v;
		if (varint(&r, &key) != 0)
			return fail(err, errlen, "bad field key at byte %zu", at);
		uint64_t f64 = key >> 3;
		int w = (int)(key & 7);
		int f = f64 < F_MAX ? (int)f64 : 0;
		if (f64 == 0)
			return fail(err, errlen, "field number 0 at byte %zu", at);
		bool repeated = f == F_DIMS || f == F_FLOAT || f == F_INT32 ||
		                f == F_INT64 || f == F_DOUBLE || f == F_UINT64;
		if (repeated && w == elem_wire(f)) {
			if (elem(&r, in, f, w, out, &k) != 0)
				return fail(err, errlen, "truncated field %d at byte %zu",
				            f, at);
			continue;
		}
		switch (w) {
		case W_VARINT:
			if (varint(&r, &v) != 0)
				return fail(err, errlen, "truncated varint at byte %zu", at);
			if (f == F_DTYPE && !out)   /* pass 1 settles it (last wins) */
				in->dtype = v > 1000 ? -1 : (int)v;
			else if (f == F_LOCATION)
				in->external = v == 1;
			break;
		case W_I64:
		case W_I32:
			if ((size_t)(r.e - r.p) < (w == W_I64 ? 8u : 4u))
				return fail(err, errlen, "truncated field at byte %zu", at);
			r.p += w == W_I64 ? 8 : 4;
			break;
		case W_LEN: {
			if (varint(&r, &len) != 0 || len > (uint64_t)(r.e - r.p))
				return fail(err, errlen, "field %llu at byte %zu has a bad "
				            "length", (unsigned long long)f64, at);
			const uint8_t *p = r.p;
			r.p += len;
			if (repeated) {          /* a packed run */
				Rd s = { p, p + len, r.start };
				int ew = elem_wire(f);
				if (ew != W_VARINT && len % (ew == W_I32 ? 4 : 8) != 0)
					return fail(err, errlen, "packed field %d at byte %zu "
					            "has a partial element", f, at);
				while (s.p < s.e)
					if (elem(&s, in, f, ew, out, &k) != 0)
						return fail(err, errlen, "bad packed field %d at "
						            "byte %zu", f, at);
			} else if (f == F_NAME) {
				in->name = p, in->namelen = len, in->has_name = true;
			} else if (f == F_RAW) {
				in->raw = p, in->rawlen = len, in->has_raw = true;
			} else if (f == F_STRING) {
				in->strings = true;
			} else if (f == F_SEGMENT) {
				in->segment = true;
			}
			break;
		}
		default:
			return fail(err, errlen, "unsupported wire type %d at byte %zu",
			            w, at);
		}
	}
	return 0;
}

void rt_tensor_free(rt_tensor *t)
{
	if (!t)
		return;
	free(t->name);
	free(t->data);
	memset(t, 0, sizeof *t);
}

int rt_tensor_read_mem(const void *buf, size_t n, rt_tensor *t, char *err,
                       size_t errlen)
{
	Info in = { .dtype = 0 };
	memset(t, 0, sizeof *t);
	if (!buf && n)
		return fail(err, errlen, "no buffer");
	if (walk(buf, n, &in, NULL, err, errlen) != 0)
		return -1;
	if (in.external)
		return fail(err, errlen, "external data is not supported here");
	if (in.segment)
		return fail(err, errlen, "segmented tensors are not supported");
	if (in.dtype == 8 || in.strings)
		return fail(err, errlen, "string tensors are not supported");
	if (in.dtype == 0)
		return fail(err, errlen, "no data_type");
	size_t es = rt_dtype_size(in.dtype);
	if (!es)
		return fail(err, errlen, "unsupported data_type %d", in.dtype);
	if (in.rank > RT_TENSOR_MAXRANK)
		return fail(err, errlen, "rank %d (at most %d)", in.rank,
		            RT_TENSOR_MAXRANK);
	uint64_t numel = 1;
	for (int i = 0; i < in.rank; i++) {
		if (in.dims[i] < 0)
			return fail(err, errlen, "dim %d is negative (%lld)", i,
			            (long long)in.dims[i]);
		if (__builtin_mul_overflow(numel, (uint64_t)in.dims[i], &numel))
			return fail(err, errlen, "element count overflows");
	}
	size_t nbytes;
	if (numel > SIZE_MAX || __builtin_mul_overflow((size_t)numel, es, &nbytes))
		return fail(err, errlen, "tensor size overflows");
	int field = dtinfo[in.dtype].field;
	if (in.has_raw) {
		if (in.rawlen != nbytes)
			return fail(err, errlen, "raw_data has %zu bytes, dims need %zu",
			            in.rawlen, nbytes);
	} else if (in.count[field] != numel) {
		return fail(err, errlen, "%zu elements of data, dims need %llu",
		            in.count[field], (unsigned long long)numel);
	}
	/* The sizes are now bounded by n, so these allocations are too. */
	t->data = malloc(nbytes ? nbytes : 1);
	t->name = in.has_name ? malloc(in.namelen + 1) : NULL;
	if (!t->data || (in.has_name && !t->name)) {
		rt_tensor_free(t);
		return fail(err, errlen, "out of memory");
	}
	if (in.has_name) {
		memcpy(t->name, in.name, in.namelen);
		t->name[in.namelen] = 0;
	}
	if (in.has_raw) {
		if (nbytes)
			memcpy(t->data, in.raw, nbytes);
	} else if (walk(buf, n, &in, t->data, err, errlen) != 0) {
		rt_tensor_free(t);
		return -1;
	}
	t->dtype = in.dtype;
	t->rank = in.rank;
	memcpy(t->dims, in.dims, sizeof t->dims);
	t->nbytes = nbytes;
	return 0;
}

int rt_tensor_read_file(const char *path, rt_tensor *t, char *err,
                        size_t errlen)
{
	memset(t, 0, sizeof *t);
	/* O_NONBLOCK: a FIFO must not block the open (fstat refuses it) */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
	struct stat st;
	if (!f) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return fail(err, errlen, "%s: cannot open: %s", path, strerror(e));
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > MAX_FILE) {
		fclose(f);
		return fail(err, errlen, "%s: not a regular file of at most 16 GiB",
		            path);
	}
	size_t n = (size_t)st.st_size;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf) {
		fclose(f);
		return fail(err, errlen, "%s: out of memory", path);
	}
	size_t got = fread(buf, 1, n, f);
	fclose(f);
	if (got != n) {
		free(buf);
		return fail(err, errlen, "%s: read failed", path);
	}
	char msg[256];
	int r = rt_tensor_read_mem(buf, n, t, msg, sizeof msg);
	free(buf);
	if (r != 0)
		return fail(err, errlen, "%s: not a valid TensorProto: %s", path, msg);
	return 0;
}

/* ---- writing ---------------------------------------------------------- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	do {
		p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

static bool put_bytes(FILE *f, const void *p, size_t n)
{
	return n == 0 || fwrite(p, 1, n, f) == n;
}

static bool put_len_field(FILE *f, int field, const void *p, size_t n)
{
	uint8_t hdr[24];
	size_t h = put_varint(hdr, (uint64_t)field << 3 | W_LEN);
	h += put_varint(hdr + h, n);
	return put_bytes(f, hdr, h) && put_bytes(f, p, n);
}

int rt_tensor_write_file(const char *path, const rt_tensor *t, char *err,
                         size_t errlen)
{
	size_t es = rt_dtype_size(t->dtype);
	if (!es)
		return fail(err, errlen, "%s: unsupported dtype %d", path, t->dtype);
	if (t->rank < 0 || t->rank > RT_TENSOR_MAXRANK)
		return fail(err, errlen, "%s: bad rank %d", path, t->rank);
	uint64_t numel = 1;
	for (int i = 0; i < t->rank; i++)
		if (t->dims[i] < 0 ||
		    __builtin_mul_overflow(numel, (uint64_t)t->dims[i], &numel))
			return fail(err, errlen, "%s: bad dim %d", path, i);
	if (numel > SIZE_MAX / es || numel * es != t->nbytes ||
	    (t->nbytes && !t->data))
		return fail(err, errlen, "%s: %zu data bytes for %llu elements of "
		            "%zu bytes", path, t->nbytes, (unsigned long long)numel,
		            es);
	FILE *f = fopen(path, "wb");
	if (!f)
		return fail(err, errlen, "%s: cannot create: %s", path,
		            strerror(errno));
	uint8_t b[32];
	bool ok = true;
	for (int i = 0; i < t->rank && ok; i++) {
		size_t h = put_varint(b, F_DIMS << 3 | W_VARINT);
		h += put_varint(b + h, (uint64_t)t->dims[i]);
		ok = put_bytes(f, b, h);
	}
	size_t h = put_varint(b, F_DTYPE << 3 | W_VARINT);
	h += put_varint(b + h, (uint64_t)t->dtype);
	ok = ok && put_bytes(f, b, h);
	if (t->name)
		ok = ok && put_len_field(f, F_NAME, t->name, strlen(t->name));
	ok = ok && put_len_field(f, F_RAW, t->data, t->nbytes);
	if (fclose(f) != 0 || !ok)
		return fail(err, errlen, "%s: write failed", path);
	return 0;
}
