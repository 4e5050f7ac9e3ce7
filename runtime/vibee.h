/* The vibeec model ABI: what one compiled model.so exports (a single symbol,
 * `vibee_model`, a const vibee_model_desc), and the libvibeert API that loads
 * and runs such models. Depends on nothing of the compiler. */
#ifndef VIBEE_H
#define VIBEE_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change of the structs below. */
#define VIBEE_ABI_VERSION 1
#define VIBEE_MAXRANK 8
#define VIBEE_MODEL_SYMBOL "vibee_model"

/* Status codes of every call. */
enum {
	VIBEE_OK = 0,
	VIBEE_E_LOAD = 1,      /* dlopen/dlsym failed, not a vibeec model */
	VIBEE_E_ABI = 2,       /* model built for another ABI version */
	VIBEE_E_INPUT = 3,     /* wrong input count, dtype, rank or dims */
	VIBEE_E_NOMEM = 4,
	VIBEE_E_RUN = 5,       /* a kernel failed (message says which) */
	VIBEE_E_ARG = 6,       /* NULL or otherwise invalid argument */
	VIBEE_E_DEVICE = 7     /* GPU model: no device, driver or runtime library found */
};

/* A dense row-major tensor. dtype uses ONNX TensorProto numbering
 * (1 f32, 7 i64, 9 bool, 10 f16, ...). */
typedef struct vibee_tensor {
	int32_t dtype;
	int32_t rank;
	int64_t dims[VIBEE_MAXRANK];
	void *data;
} vibee_tensor;

/* Description of one model input or output. dims[i] is -1 when symbolic;
 * dim_names[i] then names it ("batch", or an expression "(batch*2)").
 * dim_names[i] is NULL for static dims. */
typedef struct vibee_io_desc {
	const char *name;
	int32_t dtype;
	int32_t rank;
	const int64_t *dims;
	const char *const *dim_names;
} vibee_io_desc;

typedef struct vibee_options {
	int32_t nthreads;      /* <= 0: VIBEE_THREADS, else the CPUs this process may use */
} vibee_options;

typedef struct vibee_ctx vibee_ctx;

/* The model's self-description and entry points. Contexts are independent:
 * a model keeps no writable global state, so several contexts of one or
 * more models run concurrently (one run per context at a time).
 *  create:  allocates a context (workspace, thread pool).
 *  run:     inputs[ninputs] (caller-owned), outputs[noutputs] filled by the
 *           model (dtype, rank, dims, data); output data is owned by the
 *           context and valid until its next run or destroy. Inputs are
 *           trusted to match the description: use vibee_context_run,
 *           which checks them first.
 *  destroy: frees the context (NULL is fine). */
/* vibee_model_desc.flags */
#define VIBEE_FLAG_DEVICE_IO 1u        /* the desc has the device and run_device entries */

typedef struct vibee_model_desc {
	uint32_t abi_version;          /* VIBEE_ABI_VERSION */
	uint32_t flags;                /* VIBEE_FLAG_*; other bits reserved, 0 */
	const char *compiler_version;
	const char *target;            /* e.g. "cpu" */
	const char *isa;               /* e.g. "x86-64-v3" */
	const char *name;              /* model (graph) name */
	int32_t ninputs, noutputs;
	const vibee_io_desc *inputs;
	const vibee_io_desc *outputs;
	uint64_t workspace_bytes;      /* planned static part */
	uint64_t weight_bytes;
	int (*create)(vibee_ctx **ctx, const vibee_options *opt, char *err, size_t errlen);
	int (*run)(vibee_ctx *ctx, const vibee_tensor *inputs, vibee_tensor *outputs,
	           char *err, size_t errlen);
	void (*destroy)(vibee_ctx *ctx);
	/* GPU models only, and only present when flags has VIBEE_FLAG_DEVICE_IO
	 * (models from older compilers end at destroy): device-resident I/O.
	 *  device:     the native handles of ctx's device: OpenCL cl_context and
	 *              cl_command_queue; CUDA CUcontext (primary context of
	 *              device 0) and CUstream; HIP NULL (device 0) and hipStream_t.
	 *  run_device: as run, but inputs[i].data is a device buffer of that
	 *              context (cl_mem, or a CUdeviceptr / hipDeviceptr_t cast to
	 *              void *) holding the tensor from its start, complete before
	 *              the call (OpenCL: written through that queue, or finished);
	 *              outputs[i].data are device buffers of the same kind, owned
	 *              by ctx, valid until its next run or destroy, complete when
	 *              run_device returns. Buffers are never freed by the model. */
	int (*device)(vibee_ctx *ctx, void **native_ctx, void **native_queue);
	int (*run_device)(vibee_ctx *ctx, const vibee_tensor *inputs, vibee_tensor *outputs,
	                  char *err, size_t errlen);
} vibee_model_desc;

/* ---- libvibeert --------------------------------------------------------- */
typedef struct vibee_handle vibee_handle;

/* Load a model.so (dlopen RTLD_LOCAL), find vibee_model, check the ABI. */
int vibee_load(const char *path, vibee_handle **h, char *err, size_t errlen);
void vibee_unload(vibee_handle *h);
const vibee_model_desc *vibee_desc(const vibee_handle *h);

/* Wrap a descriptor already in this process (e.g. linked statically). */
int vibee_wrap(const vibee_model_desc *desc, vibee_handle **h, char *err, size_t errlen);

/* A runtime context: one model context plus the description it checks
 * inputs against. */
typedef struct vibee_context vibee_context;
int vibee_context_create(vibee_handle *h, const vibee_options *opt, vibee_context **c,
                         char *err, size_t errlen);
/* Checks every input's dtype, rank and dims against the description
 * (static dims equal, symbolic dims consistent across inputs), then runs.
 * Error message example:
 *   "input 'x': expected f32[1,3,224,224], got f32[1,3,200,224]" */
int vibee_context_run(vibee_context *c, const vibee_tensor *inputs,
                      vibee_tensor *outputs, char *err, size_t errlen);
void vibee_context_destroy(vibee_context *c);
/* Device-resident inputs and outputs (GPU models, see run_device above):
 * the native device handles of c, and a run whose tensors' data are device
 * buffers (inputs checked as by vibee_context_run). VIBEE_E_ARG for a model
 * without them (a CPU model, or one from an older vibeec). */
int vibee_context_device(vibee_context *c, void **native_ctx, void **native_queue, char *err,
                         size_t errlen);
int vibee_context_run_device(vibee_context *c, const vibee_tensor *inputs,
                             vibee_tensor *outputs, char *err, size_t errlen);

/* Helpers for tools. */
const char *vibee_dtype_name(int dtype);     /* "f32", ...; "?" if unknown */
size_t vibee_dtype_size(int dtype);          /* 0 if unknown */
/* Print the self-description (inputs, outputs, sizes) as text. */
void vibee_describe(const vibee_model_desc *d, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
