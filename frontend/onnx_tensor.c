/* ONNX frontend, tensors: TensorProto -> VK_CONST values (zero-copy where
 * the message already holds the bytes), external data files (mmap'd, kept
 * inside the model's folder), and a nesting-depth check of the raw bytes. */
#define _GNU_SOURCE
#include "onnx_int.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *onnx_dt_label(int dt)
{
	switch (dt) {
	case DT_STRING: return "string";
	case DT_C64: return "complex64";
	case DT_C128: return "complex128";
	/* element types of ONNX IR 9+ that vibeec has no kernels for */
	case 17: return "float8e4m3fn";
	case 18: return "float8e4m3fnuz";
	case 19: return "float8e5m2";
	case 20: return "float8e5m2fnuz";
	case 21: return "uint4";
	case 22: return "int4";
	case 23: return "float4e2m1";
	case 24: return "float8e8m0";
	case 25: return "uint2";
	case 26: return "int2";
	default: return dt_name(dt);
	}
}

/* Supported element types: every numeric type with a fixed size. */
bool onnx_dt_ok(int64_t dt)
{
	return dt > DT_UNDEF && dt < DT_COUNT && dt_size((int)dt) > 0;
}

/* Fill s from ONNX dims, checking rank, each dim and the element count.
 * `what` names the tensor in messages. */
static int tensor_shape(Ld *L, const char *what, size_t ndims,
                        const int64_t *dims, Shape *s, uint64_t *numel)
{
	if (ndims > IR_MAXRANK)
		return diag_set(L->d, E_MODEL, "%s: %s has rank %zu (at most %d)",
		                L->path, what, ndims, IR_MAXRANK);
	uint64_t n = 1;
	s->rank = (int)ndims;
	for (size_t i = 0; i < ndims; i++) {
		if (dims[i] < 0 || dims[i] > ONNX_MAX_DIM)
			return diag_set(L->d, E_MODEL,
			                "%s: %s has dim %zu = %lld (must be 0..2^40)",
			                L->path, what, i, (long long)dims[i]);
		s->d[i] = dims[i];
		if (__builtin_mul_overflow(n, (uint64_t)dims[i], &n) ||
		    n > ((uint64_t)1 << 62))
			return diag_set(L->d, E_MODEL,
			                "%s: %s has too many elements", L->path, what);
	}
	*numel = n;
	return 0;
}

static int keep_map(Ld *L, void *p, size_t n)
{
	Keep *k = L->keep;
	if (k->nmap == k->capmap) {
		int cap = k->capmap ? 2 * k->capmap : 8;
		Map *m = realloc(k->map, (size_t)cap * sizeof *m);
		if (!m)
			return -1;
		k->map = m;
		k->capmap = cap;
	}
	k->map[k->nmap].p = p;
	k->map[k->nmap].n = n;
	k->nmap++;
	return 0;
}

/* The bytes of an external-data tensor: `nbytes` bytes of the file named
 * by key "location" (relative to the model's folder, which it must not
 * leave) from "offset", mmap'd and kept for the graph's life. */
static int external_data(Ld *L, const Onnx__TensorProto *t, const char *what,
                         size_t nbytes, const void **out)
{
	const char *loc = NULL;
	int64_t off = 0, len = -1;
	for (size_t i = 0; i < t->n_external_data; i++) {
		const Onnx__StringStringEntryProto *e = t->external_data[i];
		if (!e || !e->key || !e->value)
			continue;
		char *end;
		if (!strcmp(e->key, "location")) {
			loc = e->value;
		} else if (!strcmp(e->key, "offset") || !strcmp(e->key, "length")) {
			errno = 0;
			long long v = strtoll(e->value, &end, 10);
			if (errno || end == e->value || *end || v < 0)
				return diag_set(L->d, E_MODEL,
				                "%s: %s: bad external data %s '%s'", L->path,
				                what, e->key, onnx_name(L, e->value));
			*(e->key[0] == 'o' ? &off : &len) = v;
		}
	}
	if (!loc || !*loc)
		return diag_set(L->d, E_MODEL,
		                "%s: %s: external data without a location",
		                L->path, what);
	/* Refuse absolute paths and ".." components before touching the file
	 * system, then check the resolved path too (symlinks). */
	bool escapes = loc[0] == '/';
	for (const char *p = loc; *p; ) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			escapes = true;
		p += n;
		p += *p == '/';
	}
	char *full = NULL, *real = NULL;
	size_t dl = L->dir ? strlen(L->dir) : 0;
	if (!escapes && L->dir) {
		if (asprintf(&full, "%s/%s", L->dir, loc) < 0)
			full = NULL;
		real = full ? realpath(full, NULL) : NULL;
		free(full);
		if (real && (strncmp(real, L->dir, dl) != 0 ||
		             (dl > 1 && real[dl] != '/')))
			escapes = true;
	}
	if (escapes || !L->dir) {
		free(real);
		return diag_set(L->d, E_MODEL,
		                "%s: %s: external data path '%s' leaves the model's "
		                "folder", L->path, what, onnx_name(L, loc));
	}
	/* O_NONBLOCK: a FIFO must not block the open (fstat refuses it);
	 * O_NOFOLLOW: `real` has no symlinks, so one now is a swap since */
	int fd = real ? open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW) : -1;
	free(real);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return diag_set(L->d, E_IO,
		                "%s: %s: external data file '%s' is not a readable "
		                "regular file", L->path, what, onnx_name(L, loc));
	}
	uint64_t fsz = (uint64_t)st.st_size;
	if (len < 0)              /* no length: the tensor's own size */
		len = (int64_t)nbytes;
	if ((uint64_t)off > fsz || (uint64_t)len > fsz - (uint64_t)off ||
	    (uint64_t)len != nbytes) {
		close(fd);
		return diag_set(L->d, E_MODEL,
		                "%s: %s: external data range [%lld, +%lld) does not "
		                "fit '%s' (%llu bytes) or is not the tensor's %zu bytes",
		                L->path, what, (long long)off, (long long)len,
		                onnx_name(L, loc), (unsigned long long)fsz, nbytes);
	}
	if (nbytes == 0) {
		close(fd);
		*out = arena_alloc(L->g->arena, 16);
		return 0;
	}
	long pg = sysconf(_SC_PAGESIZE);
	size_t skew = (size_t)((uint64_t)off % (uint64_t)pg);
	void *p = mmap(NULL, nbytes + skew, PROT_READ, MAP_PRIVATE, fd,
	               (off_t)((uint64_t)off - skew));
	close(fd);
	if (p == MAP_FAILED)
		return diag_set(L->d, E_IO, "%s: %s: cannot map external data '%s'",
		                L->path, what, onnx_name(L, loc));
	if (keep_map(L, p, nbytes + skew) != 0) {
		munmap(p, nbytes + skew);
		return diag_set(L->d, E_IO, "%s: out of memory", L->path);
	}
	*out = (const char *)p + skew;
	return 0;
}

/* Make a VK_CONST value from TensorProto t, named `name` (the tensor's own
 * name when NULL). Bytes are referenced where the message already holds
 * them in the right layout (raw_data, float_data, int64_data, ...); only
 * fields that need narrowing (int32_data for 8/16-bit types) are
 * converted into arena memory. `what` names the tensor in messages. */
int onnx_tensor_const(Ld *L, const Onnx__TensorProto *t, const char *name,
                      const char *what, uint32_t *vout)
{
	Shape s;
	uint64_t numel = 0;
	int dt = t->has_data_type ? t->data_type : DT_UNDEF;
	if (!onnx_dt_ok(dt))
		return diag_set(L->d, E_MODEL,
		                "%s: %s has unsupported element type %d (%s)",
		                L->path, what, dt, onnx_dt_label(dt));
	if (t->segment)
		return diag_set(L->d, E_MODEL, "%s: %s is segmented (unsupported)",
		                L->path, what);
	if (tensor_shape(L, what, t->n_dims, t->dims, &s, &numel) != 0)
		return L->d->code;
	size_t es = dt_size(dt), nbytes;
	if (__builtin_mul_overflow((size_t)numel, es, &nbytes) ||
	    nbytes > ((size_t)1 << 62))
		return diag_set(L->d, E_MODEL, "%s: %s is too large", L->path, what);
	const void *data = NULL;
	size_t have = 0;          /* elements (typed) or bytes (raw) present */
	bool raw = false;
	if (t->has_data_location &&
	    t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
		if (external_data(L, t, what, nbytes, &data) != 0)
			return L->d->code;
		have = nbytes;
		raw = true;
	} else if (t->has_raw_data) {
		data = t->raw_data.data;
		have = t->raw_data.len;
		raw = true;
	} else if (dt == DT_F32) {
		data = t->float_data, have = t->n_float_data;
	} else if (dt == DT_F64) {
		data = t->double_data, have = t->n_double_data;
	} else if (dt == DT_I64) {
		data = t->int64_data, have = t->n_int64_data;
	} else if (dt == DT_U64) {
		data = t->uint64_data, have = t->n_uint64_data;
	} else if (dt == DT_I32) {
		data = t->int32_data, have = t->n_int32_data;
	} else if (dt == DT_U32) {
		have = t->n_uint64_data;
	} else {
		have = t->n_int32_data;    /* 8/16-bit ints, bool, f16, bf16 */
	}
	if (have != (raw ? nbytes : numel))
		return diag_set(L->d, E_MODEL,
		                "%s: %s holds %zu %s but its shape needs %llu",
		                L->path, what, have, raw ? "bytes" : "elements",
		                (unsigned long long)(raw ? nbytes : numel));
	bool convert = !raw && (dt == DT_U32 || es < 4);
	if (nbytes == 0 || !data || convert ||
	    ((uintptr_t)data % (es < 16 ? es : 16)) != 0) {
		void *buf = arena_alloc(L->g->arena, nbytes ? nbytes : 16);
		if (!buf)
			return diag_set(L->d, E_IO, "%s: out of memory", L->path);
		if (convert) {
			for (size_t i = 0; i < numel; i++) {
				if (dt == DT_U32)
					((uint32_t *)buf)[i] = (uint32_t)t->uint64_data[i];
				else if (dt == DT_BOOL)
					((uint8_t *)buf)[i] = t->int32_data[i] != 0;
				else if (es == 1)
					((uint8_t *)buf)[i] = (uint8_t)t->int32_data[i];
				else
					((uint16_t *)buf)[i] = (uint16_t)t->int32_data[i];
			}
		} else if (nbytes) {
			memcpy(buf, data, nbytes);
		}
		data = buf;
	}
	const char *nm = name ? name : t->name;
	*vout = ir_const(L->g, nm && *nm ? onnx_name(L, nm) : NULL, dt, &s, data);
	return 0;
}

/* Reject messages nested deeper than ONNX_MAX_DEPTH before protobuf-c
 * (which recurses without a limit) sees them. Walks the wire format with
 * the generated descriptors. Returns 0 if fine, 1 if too deep, -1 if the
 * bytes are not valid protobuf. */
int onnx_check_depth(const uint8_t *p, size_t n,
                     const ProtobufCMessageDescriptor *md, int depth)
{
	if (depth > ONNX_MAX_DEPTH)
		return 1;
	const uint8_t *e = p + n;
	while (p < e) {
		uint64_t key = 0, len = 0;
		int sh = 0;
		do {
			if (p >= e || sh > 63)
				return -1;
			key |= (uint64_t)(*p & 0x7f) << sh;
			sh += 7;
		} while (*p++ & 0x80);
		switch (key & 7) {
		case 0:
			for (sh = 0; ; sh++) {
				if (p >= e || sh > 9)
					return -1;
				if (!(*p++ & 0x80))
					break;
			}
			break;
		case 1: if (e - p < 8) return -1; p += 8; break;
		case 5: if (e - p < 4) return -1; p += 4; break;
		case 2:
			sh = 0;
			do {
				if (p >= e || sh > 63)
					return -1;
				len |= (uint64_t)(*p & 0x7f) << sh;
				sh += 7;
			} while (*p++ & 0x80);
			if (len > (uint64_t)(e - p))
				return -1;
			const ProtobufCFieldDescriptor *f = md && key >> 3 <= UINT32_MAX ?
				protobuf_c_message_descriptor_get_field(md,
				                                       (unsigned)(key >> 3)) :
				NULL;
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
				int r = onnx_check_depth(p, (size_t)len, f->descriptor,
				                    depth + 1);
				if (r != 0)
					return r;
			}
			p += len;
			break;
		default:
			return -1;     /* groups (3, 4) are not used by ONNX */
		}
	}
	return 0;
}
