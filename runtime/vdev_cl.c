/* OpenCL back-end: libOpenCL.so.1 through dlopen (the ICD loader; PoCL on
 * our test machines). The few entry points and constants used are declared
 * here from the OpenCL 1.2 specification, so building needs no OpenCL
 * headers. The program is built from the embedded OpenCL C source when
 * the context is created; one in-order command queue per context. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vdev.h"

typedef int32_t cl_int;
typedef uint32_t cl_uint;
typedef uint64_t cl_ulong;
typedef void *cl_platform_id, *cl_device_id, *cl_context, *cl_command_queue, *cl_mem,
	*cl_program, *cl_kernel;

#define CL_DEVICE_TYPE_ALL 0xFFFFFFFFu
#define CL_DEVICE_TYPE_GPU (1u << 2)
#define CL_MEM_READ_WRITE 1u
#define CL_DEVICE_NAME 0x102B
#define CL_PLATFORM_NAME 0x0902
#define CL_PROGRAM_BUILD_LOG 0x1183

typedef struct CL {
	cl_int (*GetPlatformIDs)(cl_uint, cl_platform_id *, cl_uint *);
	cl_int (*GetPlatformInfo)(cl_platform_id, cl_uint, size_t, void *, size_t *);
	cl_int (*GetDeviceIDs)(cl_platform_id, cl_ulong, cl_uint, cl_device_id *, cl_uint *);
	cl_int (*GetDeviceInfo)(cl_device_id, cl_uint, size_t, void *, size_t *);
	cl_context (*CreateContext)(const intptr_t *, cl_uint, const cl_device_id *, void *, void *,
	                            cl_int *);
	cl_command_queue (*CreateCommandQueue)(cl_context, cl_device_id, cl_ulong, cl_int *);
	cl_program (*CreateProgramWithSource)(cl_context, cl_uint, const char **, const size_t *,
	                                      cl_int *);
	cl_int (*BuildProgram)(cl_program, cl_uint, const cl_device_id *, const char *, void *, void *);
	cl_int (*GetProgramBuildInfo)(cl_program, cl_device_id, cl_uint, size_t, void *, size_t *);
	cl_kernel (*CreateKernel)(cl_program, const char *, cl_int *);
	cl_mem (*CreateBuffer)(cl_context, cl_ulong, size_t, void *, cl_int *);
	cl_int (*EnqueueWriteBuffer)(cl_command_queue, cl_mem, cl_uint, size_t, size_t, const void *,
	                             cl_uint, const void *, void *);
	cl_int (*EnqueueReadBuffer)(cl_command_queue, cl_mem, cl_uint, size_t, size_t, void *, cl_uint,
	                            const void *, void *);
	cl_int (*SetKernelArg)(cl_kernel, cl_uint, size_t, const void *);
	cl_int (*EnqueueNDRangeKernel)(cl_command_queue, cl_kernel, cl_uint, const size_t *,
	                               const size_t *, const size_t *, cl_uint, const void *, void *);
	cl_int (*Finish)(cl_command_queue);
	cl_int (*EnqueueCopyBuffer)(cl_command_queue, cl_mem, cl_mem, size_t, size_t, size_t, cl_uint,
	                            const void *, void *);
	cl_int (*ReleaseMemObject)(cl_mem);
	cl_int (*ReleaseKernel)(cl_kernel);
	cl_int (*ReleaseProgram)(cl_program);
	cl_int (*ReleaseCommandQueue)(cl_command_queue);
	cl_int (*ReleaseContext)(cl_context);
	cl_device_id dev;
	cl_context ctx;
	cl_command_queue q;
	cl_program prog;
	cl_kernel *k;
	int nk;
} CL;

static int sym(void *lib, void *fp, const char *name)
{
	void *p = dlsym(lib, name);
	memcpy(fp, &p, sizeof p);
	return p != NULL;
}

static int cl_open(vdev *d, const vdev_code *code, int ncode, const char *opts,
                   const char *const *kernels, int nk, char *err, size_t el)
{
	const char *src = NULL;
	size_t nsrc = 0;
	for (int i = 0; i < ncode; i++)
		if (code[i].form == VC_OPENCL_SRC) {
			src = (const char *)code[i].p;
			nsrc = code[i].n;
		}
	if (!src)
		return vdev_err(err, el, 5, "this model has no OpenCL code");
	d->lib = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!d->lib)
		d->lib = dlopen("libOpenCL.so", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!d->lib)
		return vdev_err(err, el, 7, "no OpenCL device found: cannot load libOpenCL.so.1 (%s)",
		                dlerror());
	CL *c = calloc(1, sizeof *c);
	if (!c)
		return vdev_err(err, el, 4, "out of memory");
	d->impl = c;
	bool ok = true;
#define S(n) ok &= sym(d->lib, &c->n, "cl" #n)
	S(GetPlatformIDs); S(GetPlatformInfo); S(GetDeviceIDs); S(GetDeviceInfo); S(CreateContext);
	S(CreateCommandQueue); S(CreateProgramWithSource); S(BuildProgram); S(GetProgramBuildInfo);
	S(CreateKernel); S(CreateBuffer); S(EnqueueWriteBuffer); S(EnqueueReadBuffer);
	S(SetKernelArg); S(EnqueueNDRangeKernel); S(Finish); S(ReleaseMemObject); S(ReleaseKernel);
	S(ReleaseProgram); S(ReleaseCommandQueue); S(ReleaseContext); S(EnqueueCopyBuffer);
#undef S
	if (!ok)
		return vdev_err(err, el, 7, "no OpenCL device found: libOpenCL lacks OpenCL 1.2 entry points");
	cl_platform_id plats[16];
	cl_uint np = 0;
	if (c->GetPlatformIDs(16, plats, &np) != 0 || np == 0)
		return vdev_err(err, el, 7, "no OpenCL device found: no OpenCL platform is installed");
	/* a GPU if there is one, else any device */
	for (int pass = 0; pass < 2 && !c->dev; pass++)
		for (cl_uint i = 0; i < np && i < 16 && !c->dev; i++) {
			cl_uint nd = 0;
			cl_device_id dv;
			if (c->GetDeviceIDs(plats[i], pass ? CL_DEVICE_TYPE_ALL : CL_DEVICE_TYPE_GPU, 1, &dv,
			                    &nd) == 0 && nd > 0)
				c->dev = dv;
		}
	if (!c->dev)
		return vdev_err(err, el, 7, "no OpenCL device found: %u platform(s), no device", np);
	char nm[200] = "";
	c->GetDeviceInfo(c->dev, CL_DEVICE_NAME, sizeof nm - 1, nm, NULL);
	snprintf(d->name, sizeof d->name, "OpenCL: %s", nm);
	cl_int e = 0;
	c->ctx = c->CreateContext(NULL, 1, &c->dev, NULL, NULL, &e);
	if (!c->ctx || e)
		return vdev_err(err, el, 7, "OpenCL: cannot create a context on %s (error %d)", nm, e);
	c->q = c->CreateCommandQueue(c->ctx, c->dev, 0, &e);
	if (!c->q || e)
		return vdev_err(err, el, 5, "OpenCL: cannot create a command queue (error %d)", e);
	c->prog = c->CreateProgramWithSource(c->ctx, 1, &src, &nsrc, &e);
	if (!c->prog || e)
		return vdev_err(err, el, 5, "OpenCL: cannot create the program (error %d)", e);
	if ((e = c->BuildProgram(c->prog, 1, &c->dev, opts ? opts : "", NULL, NULL)) != 0) {
		char log[400] = "";
		c->GetProgramBuildInfo(c->prog, c->dev, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
		for (char *q = log; *q; q++)
			if (*q == '\n')
				*q = ' ';
		return vdev_err(err, el, 5, "OpenCL: the device code does not build (error %d): %.300s",
		                e, log);
	}
	c->k = calloc((size_t)(nk ? nk : 1), sizeof *c->k);
	if (!c->k)
		return vdev_err(err, el, 4, "out of memory");
	c->nk = nk;
	for (int i = 0; i < nk; i++) {
		c->k[i] = c->CreateKernel(c->prog, kernels[i], &e);
		if (!c->k[i] || e)
			return vdev_err(err, el, 5, "OpenCL: kernel %s not found (error %d)", kernels[i], e);
	}
	return 0;
}

static void cl_close(vdev *d)
{
	CL *c = d->impl;
	if (!c)
		return;
	for (int i = 0; c->k && i < c->nk; i++)
		if (c->k[i])
			c->ReleaseKernel(c->k[i]);
	free(c->k);
	if (c->prog)
		c->ReleaseProgram(c->prog);
	if (c->q)
		c->ReleaseCommandQueue(c->q);
	if (c->ctx)
		c->ReleaseContext(c->ctx);
	free(c);
	d->impl = NULL;
}

static void *cl_alloc(vdev *d, size_t n)
{
	CL *c = d->impl;
	cl_int e = 0;
	cl_mem m = c->CreateBuffer(c->ctx, CL_MEM_READ_WRITE, n, NULL, &e);
	return e ? NULL : m;
}

static void cl_free(vdev *d, void *m)
{
	((CL *)d->impl)->ReleaseMemObject(m);
}

static int cl_write(vdev *d, void *m, size_t off, const void *src, size_t n, char *err, size_t el)
{
	CL *c = d->impl;
	cl_int e = c->EnqueueWriteBuffer(c->q, m, 1, off, n, src, 0, NULL, NULL);
	return e ? vdev_err(err, el, 5, "OpenCL: write of %zu bytes failed (error %d)", n, e) : 0;
}

static int cl_read(vdev *d, void *m, size_t off, void *dst, size_t n, char *err, size_t el)
{
	CL *c = d->impl;
	cl_int e = c->EnqueueReadBuffer(c->q, m, 1, off, n, dst, 0, NULL, NULL);
	return e ? vdev_err(err, el, 5, "OpenCL: read of %zu bytes failed (error %d)", n, e) : 0;
}

static int cl_launch(vdev *d, int k, const int64_t grid[3], const int64_t block[3],
                     const vdev_arg *args, int nargs, char *err, size_t el)
{
	CL *c = d->impl;
	if (k < 0 || k >= c->nk)
		return vdev_err(err, el, 5, "OpenCL: no kernel %d", k);
	for (int i = 0; i < nargs; i++) {
		cl_int e = args[i].mem ? c->SetKernelArg(c->k[k], (cl_uint)i, sizeof(cl_mem), &args[i].m)
		                       : c->SetKernelArg(c->k[k], (cl_uint)i, sizeof(int64_t), &args[i].i);
		if (e)
			return vdev_err(err, el, 5, "OpenCL: kernel argument %d rejected (error %d)", i, e);
	}
	size_t gs[3], ls[3];
	for (int i = 0; i < 3; i++) {
		ls[i] = (size_t)block[i];
		gs[i] = (size_t)grid[i] * ls[i];
	}
	cl_int e = c->EnqueueNDRangeKernel(c->q, c->k[k], 3, NULL, gs, ls, 0, NULL, NULL);
	return e ? vdev_err(err, el, 5, "OpenCL: kernel launch failed (error %d)", e) : 0;
}

static int cl_finish(vdev *d, char *err, size_t el)
{
	CL *c = d->impl;
	cl_int e = c->Finish(c->q);
	return e ? vdev_err(err, el, 5, "OpenCL: queue failed (error %d)", e) : 0;
}

static int cl_copy(vdev *d, void *dst, size_t doff, void *src, size_t soff, size_t n, char *err,
                   size_t el)
{
	CL *c = d->impl;
	cl_int e = c->EnqueueCopyBuffer(c->q, src, dst, soff, doff, n, 0, NULL, NULL);
	return e ? vdev_err(err, el, 5, "OpenCL: copy of %zu bytes failed (error %d)", n, e) : 0;
}

static void cl_native(vdev *d, void **ctx, void **queue)
{
	CL *c = d->impl;
	*ctx = c->ctx;
	*queue = c->q;
}

const vdev_ops vdev_cl_ops = {cl_open, cl_close, cl_alloc, cl_free, cl_write, cl_read,
                              cl_launch, cl_finish, cl_copy, cl_native};
