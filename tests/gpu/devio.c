/* Device-resident I/O on OpenCL (runtime/vibee.h run_device): the inputs of
 * DATA/input_N.pb go into cl_mem buffers created in the model's own
 * cl_context, vibee_context_run_device runs on them, and its cl_mem outputs,
 * read back, must equal the host run's outputs bit for bit and the
 * references DATA/output_N.pb within |d| <= 1e-4 + 1e-3 |ref|. A host run
 * after the device runs must still match (adopted buffers are dropped). A
 * CPU model (optional third argument) must refuse run_device. Exits 77
 * without an OpenCL platform or device.
 * usage: devio MODEL.so DATA_DIR [CPU_MODEL.so] */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/tensorpb.h"
#include "runtime/vibee.h"

#define MAXIO 16

/* the OpenCL 1.2 entry points used, declared from the specification */
typedef int32_t cl_int;
static void *(*CreateBuffer)(void *, uint64_t, size_t, void *, cl_int *);
static cl_int (*EnqueueWriteBuffer)(void *, void *, uint32_t, size_t, size_t, const void *,
                                    uint32_t, const void *, void *);
static cl_int (*EnqueueReadBuffer)(void *, void *, uint32_t, size_t, size_t, void *, uint32_t,
                                   const void *, void *);
static cl_int (*ReleaseMemObject)(void *);

static size_t nbytes(const vibee_tensor *t)
{
	size_t n = vibee_dtype_size(t->dtype);
	for (int i = 0; i < t->rank; i++)
		n *= (size_t)t->dims[i];
	return n;
}

static int fail(const char *what, const char *err)
{
	printf("FAIL: %s%s%s\n", what, err ? ": " : "", err ? err : "");
	return 1;
}

/* outputs of one run, copied to host memory (device ones read back) */
static int keep(vibee_tensor *o, int n, void *q, int dev, void **copy)
{
	for (int i = 0; i < n; i++) {
		size_t b = nbytes(&o[i]);
		copy[i] = malloc(b ? b : 1);
		if (!copy[i])
			return 1;
		if (!dev)
			memcpy(copy[i], o[i].data, b);
		else if (b && EnqueueReadBuffer(q, o[i].data, 1, 0, b, copy[i], 0, NULL, NULL))
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: devio MODEL.so DATA_DIR [CPU_MODEL.so]\n");
		return 2;
	}
	char err[512] = "", path[4096];
	vibee_handle *h;
	vibee_context *c;
	if (vibee_load(argv[1], &h, err, sizeof err))
		return fail("load", err);
	int rc = vibee_context_create(h, NULL, &c, err, sizeof err);
	if (rc == VIBEE_E_DEVICE) {
		printf("skipped: %s\n", err);
		return 77;
	}
	if (rc)
		return fail("create", err);
	void *cl = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!cl || !(*(void **)&CreateBuffer = dlsym(cl, "clCreateBuffer")) ||
	    !(*(void **)&EnqueueWriteBuffer = dlsym(cl, "clEnqueueWriteBuffer")) ||
	    !(*(void **)&EnqueueReadBuffer = dlsym(cl, "clEnqueueReadBuffer")) ||
	    !(*(void **)&ReleaseMemObject = dlsym(cl, "clReleaseMemObject")))
		return fail("libOpenCL.so.1", NULL);
	const vibee_model_desc *d = vibee_desc(h);
	int ni = d->ninputs, no = d->noutputs;
	if (ni > MAXIO || no > MAXIO)
		return fail("too many inputs or outputs for this test", NULL);
	rt_tensor in[MAXIO] = {0}, ref[MAXIO] = {0};
	vibee_tensor vin[MAXIO], din[MAXIO], out[MAXIO];
	for (int i = 0; i < ni; i++) {
		snprintf(path, sizeof path, "%s/input_%d.pb", argv[2], i);
		if (rt_tensor_read_file(path, &in[i], err, sizeof err))
			return fail("input", err);
		vin[i] = (vibee_tensor){in[i].dtype, in[i].rank, {0}, in[i].data};
		memcpy(vin[i].dims, in[i].dims, sizeof vin[i].dims);
	}
	for (int i = 0; i < no; i++) {
		snprintf(path, sizeof path, "%s/output_%d.pb", argv[2], i);
		if (rt_tensor_read_file(path, &ref[i], err, sizeof err))
			return fail("reference", err);
	}
	/* host run */
	void *host[MAXIO], *dev1[MAXIO], *dev2[MAXIO], *host2[MAXIO];
	if (vibee_context_run(c, vin, out, err, sizeof err) || keep(out, no, NULL, 0, host))
		return fail("host run", err);
	/* device run, twice (the second frees the first's outputs) */
	void *nctx = NULL, *q = NULL;
	if (vibee_context_device(c, &nctx, &q, err, sizeof err) || !nctx || !q)
		return fail("vibee_context_device", err);
	for (int i = 0; i < ni; i++) {
		size_t b = in[i].nbytes;
		cl_int e = 0;
		din[i] = vin[i];
		din[i].data = CreateBuffer(nctx, 1 /* CL_MEM_READ_WRITE */, b ? b : 1, NULL, &e);
		if (e || !din[i].data || (b && EnqueueWriteBuffer(q, din[i].data, 1, 0, b, in[i].data, 0,
		                                                  NULL, NULL)))
			return fail("clCreateBuffer / clEnqueueWriteBuffer", NULL);
	}
	for (int pass = 0; pass < 2; pass++) {
		vibee_tensor dout[MAXIO];
		if (vibee_context_run_device(c, din, dout, err, sizeof err) ||
		    keep(dout, no, q, 1, pass ? dev2 : dev1))
			return fail("device run", err);
	}
	if (vibee_context_run(c, vin, out, err, sizeof err) || keep(out, no, NULL, 0, host2))
		return fail("host run after the device runs", err);
	int bad = 0;
	for (int i = 0; i < no; i++) {
		size_t b = nbytes(&out[i]);
		if (b != ref[i].nbytes) {
			printf("output %d: %zu bytes, reference %zu\n", i, b, ref[i].nbytes);
			bad = 1;
			continue;
		}
		if (memcmp(host[i], dev1[i], b) || memcmp(host[i], dev2[i], b) ||
		    memcmp(host[i], host2[i], b)) {
			printf("output %d: device run differs from the host run\n", i);
			bad = 1;
		}
		double worst = 0;
		if (out[i].dtype == 1)   /* f32: against the reference */
			for (size_t k = 0; k < b / 4; k++) {
				double g = ((float *)dev1[i])[k], r = ((float *)ref[i].data)[k];
				double ex = fabs(g - r) - (1e-4 + 1e-3 * fabs(r));
				worst = ex > worst || isnan(ex) ? (isnan(ex) ? INFINITY : ex) : worst;
			}
		else if (memcmp(dev1[i], ref[i].data, b))
			worst = 1;
		printf("output %d: device = host run; %s the reference\n", i,
		       worst > 0 ? "does NOT match" : "matches");
		bad |= worst > 0;
	}
	for (int i = 0; i < ni; i++)
		ReleaseMemObject(din[i].data);
	vibee_context_destroy(c);
	vibee_unload(h);
	if (argc > 3) {   /* a CPU model has no device I/O */
		vibee_handle *hc;
		vibee_context *cc;
		vibee_tensor o2[MAXIO];
		if (vibee_load(argv[3], &hc, err, sizeof err) ||
		    vibee_context_create(hc, NULL, &cc, err, sizeof err))
			return fail("cpu model", err);
		rc = vibee_context_run_device(cc, vin, o2, err, sizeof err);
		printf("cpu model run_device: %d (%s)\n", rc, err);
		bad |= rc != VIBEE_E_ARG;
		vibee_context_destroy(cc);
		vibee_unload(hc);
	}
	for (int i = 0; i < no; i++) {
		free(host[i]);
		free(dev1[i]);
		free(dev2[i]);
		free(host2[i]);
		rt_tensor_free(&ref[i]);
	}
	for (int i = 0; i < ni; i++)
		rt_tensor_free(&in[i]);
	dlclose(cl);
	puts(bad ? "FAIL" : "PASS");
	return bad;
}
