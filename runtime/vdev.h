/* Device back-ends of GPU model.so files: OpenCL, CUDA (driver API) and
 * HIP, each loaded with dlopen when a context is created, so a model.so
 * loads on any machine and says plainly when there is no device or driver.
 * Part of the kernel library linked into every model.so; includes nothing
 * of the compiler. One vdev = one device context with one in-order queue
 * (stream); a vibee context owns one. The libraries are opened with
 * RTLD_NODELETE: GPU runtimes keep threads and state for the life of the
 * process and must not be unloaded under them. */
#ifndef VIBEE_VDEV_H
#define VIBEE_VDEV_H
#include <stddef.h>
#include <stdint.h>

enum { VDEV_OPENCL, VDEV_CUDA, VDEV_HIP };
/* forms of device code a model embeds */
enum { VC_OPENCL_SRC, VC_PTX, VC_CUBIN, VC_HIP_SRC, VC_HSACO };

typedef struct vdev_code {
	int form;                 /* VC_* */
	const char *arch;         /* cubin/code object arch ("sm_90a", "gfx940"), or NULL */
	const unsigned char *p;
	size_t n;
} vdev_code;

/* A kernel argument: a device buffer (handle from vdev_alloc) or an i64. */
typedef struct vdev_arg {
	int mem;                  /* 1: m, else i */
	void *m;
	int64_t i;
} vdev_arg;

typedef struct vdev vdev;

/* Open the first device of api, build/load the code, look up the kernels.
 * Returns 0; 7 (VIBEE_E_DEVICE) when there is no library, driver or device
 * (err says which); 5 when the code does not build or load. */
int vdev_open(int api, const vdev_code *code, int ncode, const char *opts,
              const char *const *kernels, int nkernels, vdev **out, char *err, size_t errlen);
void vdev_close(vdev *d);
const char *vdev_name(const vdev *d);
/* Buffers: NULL on failure. n == 0 allocates a small buffer. */
void *vdev_alloc(vdev *d, size_t n);
void vdev_free(vdev *d, void *m);
/* Blocking copies; 0 or an error (message in err). */
int vdev_write(vdev *d, void *m, size_t off, const void *src, size_t n, char *err, size_t errlen);
int vdev_read(vdev *d, void *m, size_t off, void *dst, size_t n, char *err, size_t errlen);
/* Enqueue kernel k on grid x block (blocks, threads per block). */
int vdev_launch(vdev *d, int k, const int64_t grid[3], const int64_t block[3],
                const vdev_arg *args, int nargs, char *err, size_t errlen);
int vdev_finish(vdev *d, char *err, size_t errlen);
/* Enqueue a device-to-device copy of n bytes (in queue order). */
int vdev_copy(vdev *d, void *dst, size_t doff, void *src, size_t soff, size_t n, char *err,
              size_t errlen);
/* The native handles under d, for callers that bring their own device
 * buffers: OpenCL cl_context, cl_command_queue; CUDA CUcontext (the primary
 * context of device 0), CUstream; HIP NULL (device 0), hipStream_t. */
void vdev_native(vdev *d, void **ctx, void **queue);

/* back-end tables (vdev_cl.c, vdev_cu.c, vdev_hip.c) */
typedef struct vdev_ops {
	int (*open)(vdev *d, const vdev_code *code, int ncode, const char *opts,
	            const char *const *kernels, int nk, char *err, size_t errlen);
	void (*close)(vdev *d);
	void *(*alloc)(vdev *d, size_t n);
	void (*free)(vdev *d, void *m);
	int (*write)(vdev *d, void *m, size_t off, const void *src, size_t n, char *err, size_t el);
	int (*read)(vdev *d, void *m, size_t off, void *dst, size_t n, char *err, size_t el);
	int (*launch)(vdev *d, int k, const int64_t grid[3], const int64_t block[3],
	              const vdev_arg *args, int nargs, char *err, size_t el);
	int (*finish)(vdev *d, char *err, size_t el);
	int (*copy)(vdev *d, void *dst, size_t doff, void *src, size_t soff, size_t n, char *err,
	            size_t el);
	void (*native)(vdev *d, void **ctx, void **queue);
} vdev_ops;

struct vdev {
	const vdev_ops *ops;
	void *lib;                /* dlopen handle */
	void *impl;               /* back-end state */
	char name[256];
};

extern const vdev_ops vdev_cl_ops, vdev_cu_ops, vdev_hip_ops;
int vdev_err(char *err, size_t errlen, int code, const char *fmt, ...);
/* CUDA and HIP launches: check kernel k < nk, nargs <= VDEV_MAXARGS and the
 * grid against the driver's limits (x < 2^31, y and z < 2^16), then fill
 * val[i] with argument i (a device pointer or an integer) and pp[i] with
 * &val[i], as cuLaunchKernel / hipModuleLaunchKernel take them. api names
 * the back-end in the message. 0, or 5 with the reason in err. */
enum { VDEV_MAXARGS = 256 };
int vdev_pack_args(const char *api, int k, int nk, const int64_t grid[3], const vdev_arg *args,
                   int nargs, uint64_t *val, void **pp, char *err, size_t el);
#endif
