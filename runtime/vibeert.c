/* libvibeert: loads a compiled model.so, checks its ABI, and runs contexts
 * with every input checked against the model's self-description first.
 * Includes nothing of the compiler. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vibee.h"

struct vibee_handle {
	void *dl;                      /* NULL for vibee_wrap */
	const vibee_model_desc *desc;
};

struct vibee_context {
	const vibee_model_desc *desc;
	vibee_ctx *ctx;
};

static int fail(char *err, size_t n, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t n, int code, const char *fmt, ...)
{
	if (err && n) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, n, fmt, ap);
		va_end(ap);
	}
	return code;
}

const char *vibee_dtype_name(int dt)
{
	static const char *names[] = {"undef", "f32", "u8", "i8", "u16", "i16", "i32",
		"i64", "string", "bool", "f16", "f64", "u32", "u64", "c64", "c128", "bf16"};
	return dt >= 0 && dt < (int)(sizeof names / sizeof names[0]) ? names[dt] : "?";
}

size_t vibee_dtype_size(int dt)
{
	static const unsigned char sz[] = {0, 4, 1, 1, 2, 2, 4, 8, 0, 1, 2, 8, 4, 8, 8, 16, 2};
	return dt >= 0 && dt < (int)sizeof sz ? sz[dt] : 0;
}

static int check_desc(const vibee_model_desc *d, char *err, size_t n)
{
	if (d->abi_version != VIBEE_ABI_VERSION)
		return fail(err, n, VIBEE_E_ABI, "model ABI version %u, runtime expects %u",
		            d->abi_version, VIBEE_ABI_VERSION);
	if (!d->create || !d->run || !d->destroy || d->ninputs < 0 || d->noutputs < 0 ||
	    (d->ninputs && !d->inputs) || (d->noutputs && !d->outputs))
		return fail(err, n, VIBEE_E_LOAD, "malformed model description");
	return VIBEE_OK;
}

int vibee_wrap(const vibee_model_desc *desc, vibee_handle **h, char *err, size_t errlen)
{
	if (!desc || !h)
		return fail(err, errlen, VIBEE_E_ARG, "vibee_wrap: NULL argument");
	int rc = check_desc(desc, err, errlen);
	if (rc)
		return rc;
	*h = calloc(1, sizeof **h);
	if (!*h)
		return fail(err, errlen, VIBEE_E_NOMEM, "out of memory");
	(*h)->desc = desc;
	return VIBEE_OK;
}

int vibee_load(const char *path, vibee_handle **h, char *err, size_t errlen)
{
	if (!path || !h)
		return fail(err, errlen, VIBEE_E_ARG, "vibee_load: NULL argument");
	*h = NULL;
	/* dlopen searches the library path for names without a slash */
	char buf[4096];
	if (!strchr(path, '/') && strlen(path) + 3 < sizeof buf) {
		snprintf(buf, sizeof buf, "./%s", path);
		path = buf;
	}
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		return fail(err, errlen, VIBEE_E_LOAD, "%s", dlerror());
	const vibee_model_desc *d = dlsym(dl, VIBEE_MODEL_SYMBOL);
	if (!d) {
		dlclose(dl);
		return fail(err, errlen, VIBEE_E_LOAD, "%s: not a vibeec model (no symbol %s)",
		            path, VIBEE_MODEL_SYMBOL);
	}
	int rc = vibee_wrap(d, h, err, errlen);
	if (rc) {
		dlclose(dl);
		return rc;
	}
	(*h)->dl = dl;
	return VIBEE_OK;
}

void vibee_unload(vibee_handle *h)
{
	if (!h)
		return;
	if (h->dl)
		dlclose(h->dl);
	free(h);
}

const vibee_model_desc *vibee_desc(const vibee_handle *h) { return h ? h->desc : NULL; }

int vibee_context_create(vibee_handle *h, const vibee_options *opt, vibee_context **c,
                         char *err, size_t errlen)
{
	if (!h || !c)
		return fail(err, errlen, VIBEE_E_ARG, "vibee_context_create: NULL argument");
	*c = calloc(1, sizeof **c);
	if (!*c)
		return fail(err, errlen, VIBEE_E_NOMEM, "out of memory");
	vibee_options def = {0};
	(*c)->desc = h->desc;
	int rc = h->desc->create(&(*c)->ctx, opt ? opt : &def, err, errlen);
	if (rc) {
		free(*c);
		*c = NULL;
		return rc;
	}
	return VIBEE_OK;
}

void vibee_context_destroy(vibee_context *c)
{
	if (!c)
		return;
	c->desc->destroy(c->ctx);
	free(c);
}

/* "f32[1,3,batch]" for a description, "f32[1,3,7]" for a tensor. */
static void fmt_io(char *buf, size_t n, int dt, int rank, const int64_t *dims,
                   const char *const *names)
{
	size_t k = (size_t)snprintf(buf, n, "%s[", vibee_dtype_name(dt));
	for (int i = 0; i < rank && k < n; i++) {
		if (dims[i] < 0 && names && names[i])
			k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? "," : "", names[i]);
		else
			k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)dims[i]);
	}
	if (k < n)
		snprintf(buf + k, n - k, "]");
}

/* Symbol bindings seen so far while checking inputs. */
/* The input (j, l) before (i, k) whose dim carries the symbol `name`, as
 * the value given there; -1 if none. No table: no limit on symbols. */
static int64_t bound_before(const vibee_model_desc *d, const vibee_tensor *in, int i,
                            int k, const char *name)
{
	for (int j = 0; j <= i; j++) {
		const vibee_io_desc *io = &d->inputs[j];
		for (int l = 0; l < (j < i ? io->rank : k); l++)
			if (io->dims[l] < 0 && io->dim_names && io->dim_names[l] &&
			    strcmp(io->dim_names[l], name) == 0)
				return in[j].dims[l];
	}
	return -1;
}

/* Largest input the runtime accepts: sizes stay far from overflowing the
 * 64-bit arithmetic of the generated code (the compiler's limit too). */
#define RT_MAX_INPUT_BYTES ((uint64_t)1 << 40)
/* Largest dim, as in the compiler (ONNX_MAX_DIM): an empty tensor (a 0 dim)
 * may not carry a huge one into the model's shape arithmetic. */
#define RT_MAX_DIM ((int64_t)1 << 40)

static int check_inputs(const vibee_model_desc *d, const vibee_tensor *in, char *err,
                        size_t errlen)
{
	for (int i = 0; i < d->ninputs; i++) {
		const vibee_io_desc *io = &d->inputs[i];
		const vibee_tensor *t = &in[i];
		char want[512], got[512];
		int bad = t->dtype != io->dtype || t->rank != io->rank;
		if (t->rank < 0 || t->rank > VIBEE_MAXRANK)
			bad = 1;
		for (int k = 0; !bad && k < io->rank; k++) {
			if (t->dims[k] > RT_MAX_DIM) {
				return fail(err, errlen, VIBEE_E_INPUT,
				            "input '%s': dim %d is %lld, over the limit 2^40",
				            io->name, k, (long long)t->dims[k]);
			} else if (t->dims[k] < 0) {
				bad = 1;
			} else if (io->dims[k] >= 0) {
				bad = t->dims[k] != io->dims[k];
			} else if (io->dim_names && io->dim_names[k]) {
				int64_t v = bound_before(d, in, i, k, io->dim_names[k]);
				if (v >= 0 && v != t->dims[k]) {
					fmt_io(got, sizeof got, t->dtype, t->rank, t->dims, NULL);
					return fail(err, errlen, VIBEE_E_INPUT,
					            "input '%s': dim %d ('%s') is %lld, but another input "
					            "bound '%s' to %lld (got %s)", io->name, k,
					            io->dim_names[k], (long long)t->dims[k],
					            io->dim_names[k], (long long)v, got);
				}
			}
		}
		if (bad) {
			fmt_io(want, sizeof want, io->dtype, io->rank, io->dims, io->dim_names);
			int r = t->rank < 0 ? 0 : t->rank > VIBEE_MAXRANK ? VIBEE_MAXRANK : t->rank;
			fmt_io(got, sizeof got, t->dtype, r, t->dims, NULL);
			return fail(err, errlen, VIBEE_E_INPUT, "input '%s': expected %s, got %s",
			            io->name, want, got);
		}
		/* overflow-checked byte size; NULL data only for an empty tensor */
		uint64_t bytes = vibee_dtype_size(t->dtype);
		int over = 0;
		for (int k = 0; k < t->rank; k++)
			over |= __builtin_mul_overflow(bytes, (uint64_t)t->dims[k], &bytes);
		if (over || bytes > RT_MAX_INPUT_BYTES)
			return fail(err, errlen, VIBEE_E_INPUT, "input '%s': larger than %llu bytes",
			            io->name, (unsigned long long)RT_MAX_INPUT_BYTES);
		if (!t->data && bytes)
			return fail(err, errlen, VIBEE_E_INPUT, "input '%s': data is NULL", io->name);
	}
	return VIBEE_OK;
}

int vibee_context_run(vibee_context *c, const vibee_tensor *inputs, vibee_tensor *outputs,
                      char *err, size_t errlen)
{
	if (!c || (!inputs && c->desc->ninputs) || (!outputs && c->desc->noutputs))
		return fail(err, errlen, VIBEE_E_ARG, "vibee_context_run: NULL argument");
	int rc = check_inputs(c->desc, inputs, err, errlen);
	if (rc)
		return rc;
	return c->desc->run(c->ctx, inputs, outputs, err, errlen);
}

static bool has_device_io(const vibee_model_desc *d)
{
	return (d->flags & VIBEE_FLAG_DEVICE_IO) && d->device && d->run_device;
}

int vibee_context_device(vibee_context *c, void **native_ctx, void **native_queue, char *err,
                         size_t errlen)
{
	if (!c || !native_ctx || !native_queue)
		return fail(err, errlen, VIBEE_E_ARG, "vibee_context_device: NULL argument");
	if (!has_device_io(c->desc))
		return fail(err, errlen, VIBEE_E_ARG, "model '%s' (target %s) has no device I/O",
		            c->desc->name ? c->desc->name : "", c->desc->target ? c->desc->target : "?");
	return c->desc->device(c->ctx, native_ctx, native_queue);
}

int vibee_context_run_device(vibee_context *c, const vibee_tensor *inputs,
                             vibee_tensor *outputs, char *err, size_t errlen)
{
	if (!c || (!inputs && c->desc->ninputs) || (!outputs && c->desc->noutputs))
		return fail(err, errlen, VIBEE_E_ARG, "vibee_context_run_device: NULL argument");
	if (!has_device_io(c->desc))
		return fail(err, errlen, VIBEE_E_ARG, "model '%s' (target %s) has no device I/O",
		            c->desc->name ? c->desc->name : "", c->desc->target ? c->desc->target : "?");
	int rc = check_inputs(c->desc, inputs, err, errlen);
	if (rc)
		return rc;
	return c->desc->run_device(c->ctx, inputs, outputs, err, errlen);
}

void vibee_describe(const vibee_model_desc *d, char *buf, size_t n)
{
	size_t k = (size_t)snprintf(buf, n,
		"model: %s\nabi: %u\ncompiler: %s\ntarget: %s (%s)\nworkspace_bytes: %llu\n"
		"weight_bytes: %llu\n", d->name ? d->name : "", d->abi_version,
		d->compiler_version ? d->compiler_version : "?", d->target ? d->target : "?",
		d->isa ? d->isa : "?", (unsigned long long)d->workspace_bytes,
		(unsigned long long)d->weight_bytes);
	for (int pass = 0; pass < 2; pass++) {
		int cnt = pass ? d->noutputs : d->ninputs;
		const vibee_io_desc *ios = pass ? d->outputs : d->inputs;
		for (int i = 0; i < cnt && k < n; i++) {
			char t[512];
			fmt_io(t, sizeof t, ios[i].dtype, ios[i].rank, ios[i].dims, ios[i].dim_names);
			k += (size_t)snprintf(buf + k, n - k, "%s %d: %s %s\n", pass ? "output" : "input",
			                      i, ios[i].name, t);
		}
	}
}
