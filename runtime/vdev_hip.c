/* HIP back-end: libamdhip64.so through dlopen (module API, declared here
 * from the HIP reference, so building needs no ROCm headers). Device 0;
 * one stream per vibee context. Loads the first embedded code object the
 * device accepts (gfx90a, gfx940 built offline); if none does (e.g. gfx942
 * on MI300X), compiles the embedded HIP source for the device with hiprtc.
 * Not yet run on a GPU: no machine of ours has one (docs/GPU.md). */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vdev.h"

typedef int hipError_t;
typedef void *hipModule_t, *hipFunction_t, *hipStream_t, *hiprtcProgram;

typedef struct HIP {
	hipError_t (*Init)(unsigned);
	hipError_t (*GetDeviceCount)(int *);
	hipError_t (*SetDevice)(int);
	hipError_t (*DeviceGetName)(char *, int, int);
	hipError_t (*StreamCreate)(hipStream_t *);
	hipError_t (*StreamDestroy)(hipStream_t);
	hipError_t (*StreamSynchronize)(hipStream_t);
	hipError_t (*ModuleLoadData)(hipModule_t *, const void *);
	hipError_t (*ModuleUnload)(hipModule_t);
	hipError_t (*ModuleGetFunction)(hipFunction_t *, hipModule_t, const char *);
	hipError_t (*Malloc)(void **, size_t);
	hipError_t (*Free)(void *);
	hipError_t (*MemcpyHtoDAsync)(void *, const void *, size_t, hipStream_t);
	hipError_t (*MemcpyDtoHAsync)(void *, void *, size_t, hipStream_t);
	hipError_t (*MemcpyDtoDAsync)(void *, void *, size_t, hipStream_t);
	hipError_t (*ModuleLaunchKernel)(hipFunction_t, unsigned, unsigned, unsigned, unsigned,
	                                 unsigned, unsigned, unsigned, hipStream_t, void **, void **);
	const char *(*GetErrorString)(hipError_t);
	hipStream_t s;
	hipModule_t mod;
	hipFunction_t *k;
	int nk;
	bool open;
} HIP;

static int sym(void *lib, void *fp, const char *name)
{
	void *p = dlsym(lib, name);
	memcpy(fp, &p, sizeof p);
	return p != NULL;
}

static const char *estr(HIP *h, hipError_t e)
{
	const char *s = h->GetErrorString ? h->GetErrorString(e) : NULL;
	return s ? s : "unknown error";
}

/* hiprtc: compile src for the current device; malloc'd code object or NULL */
static void *rtc(const char *src, size_t *n, char *why, size_t wn)
{
	void *lib = dlopen("libhiprtc.so", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!lib)
		lib = dlopen("libhiprtc.so.5", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!lib) {
		snprintf(why, wn, "no libhiprtc.so");
		return NULL;
	}
	int (*create)(hiprtcProgram *, const char *, const char *, int, const char **, const char **);
	int (*compile)(hiprtcProgram, int, const char **);
	int (*size)(hiprtcProgram, size_t *);
	int (*get)(hiprtcProgram, char *);
	int (*destroy)(hiprtcProgram *);
	void *out = NULL;
	if (sym(lib, &create, "hiprtcCreateProgram") && sym(lib, &compile, "hiprtcCompileProgram") &&
	    sym(lib, &size, "hiprtcGetCodeSize") && sym(lib, &get, "hiprtcGetCode") &&
	    sym(lib, &destroy, "hiprtcDestroyProgram")) {
		hiprtcProgram p = NULL;
		if (create(&p, src, "model.hip", 0, NULL, NULL) == 0) {
			if (compile(p, 0, NULL) == 0 && size(p, n) == 0 && (out = malloc(*n)) && get(p, out)) {
				free(out);
				out = NULL;
			}
			destroy(&p);
		}
		if (!out)
			snprintf(why, wn, "hiprtc could not compile the HIP source");
	}
	dlclose(lib);
	return out;
}

static int hip_open(vdev *d, const vdev_code *code, int ncode, const char *opts,
                    const char *const *kernels, int nk, char *err, size_t el)
{
	d->lib = dlopen("libamdhip64.so", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!d->lib)
		d->lib = dlopen("libamdhip64.so.5", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!d->lib)
		return vdev_err(err, el, 7, "no HIP runtime found: cannot load libamdhip64.so (no ROCm "
		                "installed?)");
	HIP *h = calloc(1, sizeof *h);
	if (!h)
		return vdev_err(err, el, 4, "out of memory");
	d->impl = h;
	bool ok = true;
#define S(f) ok &= sym(d->lib, &h->f, "hip" #f)
	S(Init); S(GetDeviceCount); S(SetDevice); S(DeviceGetName); S(StreamCreate);
	S(StreamDestroy); S(StreamSynchronize); S(ModuleLoadData); S(ModuleUnload);
	S(ModuleGetFunction); S(Malloc); S(Free); S(MemcpyHtoDAsync); S(MemcpyDtoHAsync);
	S(MemcpyDtoDAsync);
	S(ModuleLaunchKernel); S(GetErrorString);
#undef S
	if (!ok)
		return vdev_err(err, el, 7, "no usable HIP runtime: libamdhip64 lacks module API entry points");
	int n = 0;
	hipError_t e = h->Init(0);
	if (e || h->GetDeviceCount(&n) || n == 0)
		return vdev_err(err, el, 7, "no AMD GPU found (hipInit: %s)", estr(h, e));
	if ((e = h->SetDevice(0)) || (e = h->StreamCreate(&h->s)))
		return vdev_err(err, el, 7, "HIP: cannot open device 0: %s", estr(h, e));
	h->open = true;
	char nm[200] = "";
	h->DeviceGetName(nm, sizeof nm - 1, 0);
	snprintf(d->name, sizeof d->name, "HIP: %s", nm);
	e = 1;
	for (int i = 0; i < ncode && e; i++)
		if (code[i].form == VC_HSACO)
			e = h->ModuleLoadData(&h->mod, code[i].p);
	char why[128] = "no code object for this device";
	for (int i = 0; i < ncode && e; i++)
		if (code[i].form == VC_HIP_SRC) {
			size_t sz = 0;
			void *co = rtc((const char *)code[i].p, &sz, why, sizeof why);
			if (co)
				e = h->ModuleLoadData(&h->mod, co);
			free(co);
		}
	if (e)
		return vdev_err(err, el, 5, "HIP: this model's code does not load on %s (%s)", nm, why);
	h->k = calloc((size_t)(nk ? nk : 1), sizeof *h->k);
	if (!h->k)
		return vdev_err(err, el, 4, "out of memory");
	h->nk = nk;
	for (int i = 0; i < nk; i++)
		if ((e = h->ModuleGetFunction(&h->k[i], h->mod, kernels[i])))
			return vdev_err(err, el, 5, "HIP: kernel %s not found: %s", kernels[i], estr(h, e));
	return 0;
}

static void hip_close(vdev *d)
{
	HIP *h = d->impl;
	if (!h)
		return;
	if (h->open) {
		h->SetDevice(0);
		if (h->mod)
			h->ModuleUnload(h->mod);
		h->StreamDestroy(h->s);
	}
	free(h->k);
	free(h);
	d->impl = NULL;
}

static void *hip_alloc(vdev *d, size_t n)
{
	HIP *h = d->impl;
	void *p = NULL;
	h->SetDevice(0);
	return h->Malloc(&p, n) ? NULL : p;
}

static void hip_free(vdev *d, void *m)
{
	((HIP *)d->impl)->Free(m);
}

static int hip_write(vdev *d, void *m, size_t off, const void *src, size_t n, char *err, size_t el)
{
	HIP *h = d->impl;
	h->SetDevice(0);
	hipError_t e = h->MemcpyHtoDAsync((char *)m + off, src, n, h->s);
	if (!e)
		e = h->StreamSynchronize(h->s);
	return e ? vdev_err(err, el, 5, "HIP: copy to the device failed: %s", estr(h, e)) : 0;
}

static int hip_read(vdev *d, void *m, size_t off, void *dst, size_t n, char *err, size_t el)
{
	HIP *h = d->impl;
	h->SetDevice(0);
	hipError_t e = h->MemcpyDtoHAsync(dst, (char *)m + off, n, h->s);
	if (!e)
		e = h->StreamSynchronize(h->s);
	return e ? vdev_err(err, el, 5, "HIP: copy from the device failed: %s", estr(h, e)) : 0;
}

static int hip_launch(vdev *d, int k, const int64_t grid[3], const int64_t block[3],
                      const vdev_arg *args, int nargs, char *err, size_t el)
{
	HIP *h = d->impl;
	uint64_t val[VDEV_MAXARGS];
	void *pp[VDEV_MAXARGS];
	int rc = vdev_pack_args("HIP", k, h->nk, grid, args, nargs, val, pp, err, el);
	if (rc)
		return rc;
	h->SetDevice(0);
	hipError_t e = h->ModuleLaunchKernel(h->k[k], (unsigned)grid[0], (unsigned)grid[1],
	                                     (unsigned)grid[2], (unsigned)block[0], (unsigned)block[1],
	                                     (unsigned)block[2], 0, h->s, pp, NULL);
	return e ? vdev_err(err, el, 5, "HIP: kernel launch failed: %s", estr(h, e)) : 0;
}

static int hip_finish(vdev *d, char *err, size_t el)
{
	HIP *h = d->impl;
	h->SetDevice(0);
	hipError_t e = h->StreamSynchronize(h->s);
	return e ? vdev_err(err, el, 5, "HIP: stream failed: %s", estr(h, e)) : 0;
}

static int hip_copy(vdev *d, void *dst, size_t doff, void *src, size_t soff, size_t n,
                    char *err, size_t el)
{
	HIP *h = d->impl;
	h->SetDevice(0);
	hipError_t e = h->MemcpyDtoDAsync((char *)dst + doff, (char *)src + soff, n, h->s);
	return e ? vdev_err(err, el, 5, "HIP: device copy failed: %s", estr(h, e)) : 0;
}

static void hip_native(vdev *d, void **ctx, void **queue)
{
	*ctx = NULL;
	*queue = ((HIP *)d->impl)->s;
}

const vdev_ops vdev_hip_ops = {hip_open, hip_close, hip_alloc, hip_free, hip_write, hip_read,
                               hip_launch, hip_finish, hip_copy, hip_native};
