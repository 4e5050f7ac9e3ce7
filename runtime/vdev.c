/* Device back-end dispatch (see vdev.h). */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "vdev.h"

int vdev_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

int vdev_pack_args(const char *api, int k, int nk, const int64_t grid[3], const vdev_arg *args,
                   int nargs, uint64_t *val, void **pp, char *err, size_t el)
{
	if (k < 0 || k >= nk || nargs < 0 || nargs > VDEV_MAXARGS)
		return vdev_err(err, el, 5, "%s: bad launch of kernel %d", api, k);
	if (grid[0] > 0x7fffffff || grid[1] > 65535 || grid[2] > 65535)
		return vdev_err(err, el, 5, "%s: grid %lld x %lld x %lld too large", api,
		                (long long)grid[0], (long long)grid[1], (long long)grid[2]);
	for (int i = 0; i < nargs; i++) {
		val[i] = args[i].mem ? (uint64_t)(uintptr_t)args[i].m : (uint64_t)args[i].i;
		pp[i] = &val[i];
	}
	return 0;
}

int vdev_open(int api, const vdev_code *code, int ncode, const char *opts,
              const char *const *kernels, int nkernels, vdev **out, char *err, size_t errlen)
{
	*out = NULL;
	vdev *d = calloc(1, sizeof *d);
	if (!d)
		return vdev_err(err, errlen, 4, "out of memory");
	d->ops = api == VDEV_OPENCL ? &vdev_cl_ops : api == VDEV_CUDA ? &vdev_cu_ops : &vdev_hip_ops;
	int rc = d->ops->open(d, code, ncode, opts, kernels, nkernels, err, errlen);
	if (rc) {
		d->ops->close(d);
		if (d->lib)
			dlclose(d->lib);
		free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void vdev_close(vdev *d)
{
	if (!d)
		return;
	d->ops->close(d);
	if (d->lib)
		dlclose(d->lib);
	free(d);
}

const char *vdev_name(const vdev *d) { return d ? d->name : ""; }
void *vdev_alloc(vdev *d, size_t n) { return d->ops->alloc(d, n ? n : 64); }
void vdev_free(vdev *d, void *m)
{
	if (m)
		d->ops->free(d, m);
}
int vdev_write(vdev *d, void *m, size_t off, const void *src, size_t n, char *err, size_t el)
{
	return n ? d->ops->write(d, m, off, src, n, err, el) : 0;
}
int vdev_read(vdev *d, void *m, size_t off, void *dst, size_t n, char *err, size_t el)
{
	return n ? d->ops->read(d, m, off, dst, n, err, el) : 0;
}
int vdev_launch(vdev *d, int k, const int64_t grid[3], const int64_t block[3],
                const vdev_arg *args, int nargs, char *err, size_t el)
{
	for (int i = 0; i < 3; i++)
		if (grid[i] <= 0)
			return 0;   /* empty grid: nothing to run */
	return d->ops->launch(d, k, grid, block, args, nargs, err, el);
}
int vdev_finish(vdev *d, char *err, size_t el) { return d->ops->finish(d, err, el); }
int vdev_copy(vdev *d, void *dst, size_t doff, void *src, size_t soff, size_t n, char *err,
              size_t el)
{
	return n ? d->ops->copy(d, dst, doff, src, soff, n, err, el) : 0;
}
void vdev_native(vdev *d, void **ctx, void **queue) { d->ops->native(d, ctx, queue); }
