/* CUDA back-end: the driver API from libcuda.so.1 through dlopen (entry
 * points declared here from the CUDA driver API reference, so building
 * needs no CUDA headers). The primary context of device 0, made current
 * around each call; one stream per vibee context. Loads the embedded cubin
 * when it matches the device, else JIT-compiles the embedded PTX.
 * Not yet run on a GPU: no machine of ours has one (docs/GPU.md). */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vdev.h"

typedef int CUresult;
typedef int CUdevice;
typedef uint64_t CUdeviceptr;
typedef void *CUcontext, *CUmodule, *CUfunction, *CUstream;

typedef struct CU {
	CUresult (*Init)(unsigned);
	CUresult (*DeviceGetCount)(int *);
	CUresult (*DeviceGet)(CUdevice *, int);
	CUresult (*DeviceGetName)(char *, int, CUdevice);
	CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice);
	CUresult (*DevicePrimaryCtxRelease)(CUdevice);
	CUresult (*CtxPushCurrent)(CUcontext);
	CUresult (*CtxPopCurrent)(CUcontext *);
	CUresult (*StreamCreate)(CUstream *, unsigned);
	CUresult (*StreamDestroy)(CUstream);
	CUresult (*StreamSynchronize)(CUstream);
	CUresult (*ModuleLoadData)(CUmodule *, const void *);
	CUresult (*ModuleUnload)(CUmodule);
	CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *);
	CUresult (*MemAlloc)(CUdeviceptr *, size_t);
	CUresult (*MemFree)(CUdeviceptr);
	CUresult (*MemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
	CUresult (*MemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
	CUresult (*MemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
	CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
	                         unsigned, unsigned, CUstream, void **, void **);
	CUresult (*GetErrorString)(CUresult, const char **);
	CUdevice dev;
	CUcontext ctx;
	CUstream s;
	CUmodule mod;
	CUfunction *k;
	int nk;
	bool retained;
} CU;

static int sym(void *lib, void *fp, const char *name)
{
	void *p = dlsym(lib, name);
	memcpy(fp, &p, sizeof p);
	return p != NULL;
}

static const char *estr(CU *c, CUresult r)
{
	const char *s = NULL;
	if (c->GetErrorString)
		c->GetErrorString(r, &s);
	return s ? s : "unknown error";
}

static void push(CU *c) { c->CtxPushCurrent(c->ctx); }
static void pop(CU *c)
{
	CUcontext x;
	c->CtxPopCurrent(&x);
}

static int cu_open(vdev *d, const vdev_code *code, int ncode, const char *opts,
                   const char *const *kernels, int nk, char *err, size_t el)
{
	d->lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!d->lib)
		return vdev_err(err, el, 7, "no CUDA driver found: cannot load libcuda.so.1 (no NVIDIA "
		                "driver installed?)");
	CU *c = calloc(1, sizeof *c);
	if (!c)
		return vdev_err(err, el, 4, "out of memory");
	d->impl = c;
	bool ok = true;
	ok &= sym(d->lib, &c->Init, "cuInit");
	ok &= sym(d->lib, &c->DeviceGetCount, "cuDeviceGetCount");
	ok &= sym(d->lib, &c->DeviceGet, "cuDeviceGet");
	ok &= sym(d->lib, &c->DeviceGetName, "cuDeviceGetName");
	ok &= sym(d->lib, &c->DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
	ok &= sym(d->lib, &c->DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
	ok &= sym(d->lib, &c->CtxPushCurrent, "cuCtxPushCurrent_v2");
	ok &= sym(d->lib, &c->CtxPopCurrent, "cuCtxPopCurrent_v2");
	ok &= sym(d->lib, &c->StreamCreate, "cuStreamCreate");
	ok &= sym(d->lib, &c->StreamDestroy, "cuStreamDestroy_v2");
	ok &= sym(d->lib, &c->StreamSynchronize, "cuStreamSynchronize");
	ok &= sym(d->lib, &c->ModuleLoadData, "cuModuleLoadData");
	ok &= sym(d->lib, &c->ModuleUnload, "cuModuleUnload");
	ok &= sym(d->lib, &c->ModuleGetFunction, "cuModuleGetFunction");
	ok &= sym(d->lib, &c->MemAlloc, "cuMemAlloc_v2");
	ok &= sym(d->lib, &c->MemFree, "cuMemFree_v2");
	ok &= sym(d->lib, &c->MemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
	ok &= sym(d->lib, &c->MemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
	ok &= sym(d->lib, &c->MemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2");
	ok &= sym(d->lib, &c->LaunchKernel, "cuLaunchKernel");
	sym(d->lib, &c->GetErrorString, "cuGetErrorString");
	if (!ok)
		return vdev_err(err, el, 7, "no usable CUDA driver: libcuda.so.1 lacks driver API entry "
		                "points (driver too old?)");
	CUresult r = c->Init(0);
	int n = 0;
	if (r || c->DeviceGetCount(&n) || n == 0)
		return vdev_err(err, el, 7, "no CUDA device found (cuInit: %s)", estr(c, r));
	if ((r = c->DeviceGet(&c->dev, 0)) || (r = c->DevicePrimaryCtxRetain(&c->ctx, c->dev)))
		return vdev_err(err, el, 7, "CUDA: cannot open device 0: %s", estr(c, r));
	c->retained = true;
	char nm[200] = "";
	c->DeviceGetName(nm, sizeof nm - 1, c->dev);
	snprintf(d->name, sizeof d->name, "CUDA: %s", nm);
	push(c);
	if ((r = c->StreamCreate(&c->s, 1 /* non-blocking */))) {
		pop(c);
		return vdev_err(err, el, 5, "CUDA: cannot create a stream: %s", estr(c, r));
	}
	/* the cubin if it loads (right arch), else JIT the PTX */
	r = 1;
	for (int pass = 0; pass < 2 && r; pass++)
		for (int i = 0; i < ncode && r; i++)
			if (code[i].form == (pass ? VC_PTX : VC_CUBIN))
				r = c->ModuleLoadData(&c->mod, code[i].p);
	if (r) {
		pop(c);
		return vdev_err(err, el, 5, "CUDA: neither the cubin nor the PTX of this model loads on "
		                "%s: %s", nm, estr(c, r));
	}
	c->k = calloc((size_t)(nk ? nk : 1), sizeof *c->k);
	c->nk = nk;
	for (int i = 0; c->k && i < nk; i++)
		if ((r = c->ModuleGetFunction(&c->k[i], c->mod, kernels[i]))) {
			pop(c);
			return vdev_err(err, el, 5, "CUDA: kernel %s not found: %s", kernels[i], estr(c, r));
		}
	pop(c);
	return c->k ? 0 : vdev_err(err, el, 4, "out of memory");
}

static void cu_close(vdev *d)
{
	CU *c = d->impl;
	if (!c)
		return;
	if (c->retained) {
		push(c);
		if (c->mod)
			c->ModuleUnload(c->mod);
		if (c->s)
			c->StreamDestroy(c->s);
		pop(c);
		c->DevicePrimaryCtxRelease(c->dev);
	}
	free(c->k);
	free(c);
	d->impl = NULL;
}

static void *cu_alloc(vdev *d, size_t n)
{
	CU *c = d->impl;
	CUdeviceptr p = 0;
	push(c);
	CUresult r = c->MemAlloc(&p, n);
	pop(c);
	return r ? NULL : (void *)(uintptr_t)p;
}

static void cu_free(vdev *d, void *m)
{
	CU *c = d->impl;
	push(c);
	c->MemFree((CUdeviceptr)(uintptr_t)m);
	pop(c);
}

static int cu_write(vdev *d, void *m, size_t off, const void *src, size_t n, char *err, size_t el)
{
	CU *c = d->impl;
	push(c);
	CUresult r = c->MemcpyHtoDAsync((CUdeviceptr)(uintptr_t)m + off, src, n, c->s);
	if (!r)
		r = c->StreamSynchronize(c->s);
	pop(c);
	return r ? vdev_err(err, el, 5, "CUDA: copy to the device failed: %s", estr(c, r)) : 0;
}

static int cu_read(vdev *d, void *m, size_t off, void *dst, size_t n, char *err, size_t el)
{
	CU *c = d->impl;
	push(c);
	CUresult r = c->MemcpyDtoHAsync(dst, (CUdeviceptr)(uintptr_t)m + off, n, c->s);
	if (!r)
		r = c->StreamSynchronize(c->s);
	pop(c);
	return r ? vdev_err(err, el, 5, "CUDA: copy from the device failed: %s", estr(c, r)) : 0;
}

static int cu_launch(vdev *d, int k, const int64_t grid[3], const int64_t block[3],
                     const vdev_arg *args, int nargs, char *err, size_t el)
{
	CU *c = d->impl;
	uint64_t val[VDEV_MAXARGS];
	void *pp[VDEV_MAXARGS];
	int rc = vdev_pack_args("CUDA", k, c->nk, grid, args, nargs, val, pp, err, el);
	if (rc)
		return rc;
	push(c);
	CUresult r = c->LaunchKernel(c->k[k], (unsigned)grid[0], (unsigned)grid[1], (unsigned)grid[2],
	                             (unsigned)block[0], (unsigned)block[1], (unsigned)block[2], 0,
	                             c->s, pp, NULL);
	pop(c);
	return r ? vdev_err(err, el, 5, "CUDA: kernel launch failed: %s", estr(c, r)) : 0;
}

static int cu_finish(vdev *d, char *err, size_t el)
{
	CU *c = d->impl;
	push(c);
	CUresult r = c->StreamSynchronize(c->s);
	pop(c);
	return r ? vdev_err(err, el, 5, "CUDA: stream failed: %s", estr(c, r)) : 0;
}

static int cu_copy(vdev *d, void *dst, size_t doff, void *src, size_t soff, size_t n, char *err,
                   size_t el)
{
	CU *c = d->impl;
	push(c);
	CUresult r = c->MemcpyDtoDAsync((CUdeviceptr)(uintptr_t)dst + doff,
	                                (CUdeviceptr)(uintptr_t)src + soff, n, c->s);
	pop(c);
	return r ? vdev_err(err, el, 5, "CUDA: device copy failed: %s", estr(c, r)) : 0;
}

static void cu_native(vdev *d, void **ctx, void **queue)
{
	CU *c = d->impl;
	*ctx = c->ctx;
	*queue = c->s;
}

const vdev_ops vdev_cu_ops = {cu_open, cu_close, cu_alloc, cu_free, cu_write, cu_read,
                              cu_launch, cu_finish, cu_copy, cu_native};
