/* The reference-kernel ABI: plain tensors in, plain tensors out. Depends on
 * nothing of the compiler, so the same kernels serve the reference evaluator,
 * constant folding, and (linked into each model.so) the generated code. */
#ifndef VIBEE_KERN_H
#define VIBEE_KERN_H
#include "dtype.h"

#define K_MAXRANK 8

enum {
#define OP(id, ...) OP_##id,
#include "ops.def"
#undef OP
	OP_COUNT
};
extern const char *const op_names[OP_COUNT];   /* "Add", ... (ir/kern.c) */
int op_lookup(const char *name);               /* -1 if unknown */

/* A dense row-major tensor. data == NULL with dt == DT_UNDEF marks an
 * omitted optional input. */
typedef struct KTensor {
	int32_t dt;
	int32_t rank;
	int64_t dims[K_MAXRANK];
	void *data;
} KTensor;

/* Attribute kinds: numbering is ONNX AttributeProto.AttributeType. */
enum { AK_UNDEF = 0, AK_FLOAT = 1, AK_INT = 2, AK_STRING = 3, AK_TENSOR = 4,
       AK_GRAPH = 5, AK_FLOATS = 6, AK_INTS = 7, AK_STRINGS = 8 };

typedef struct KAttr {
	const char *name;
	int32_t kind;
	int32_t n;              /* element count of ints/floats/strs */
	int64_t i;
	double f;
	const char *s;          /* NUL-terminated */
	const int64_t *ints;
	const float *floats;
	const char *const *strs;
	const KTensor *t;       /* AK_TENSOR */
	const void *g;          /* AK_GRAPH: the subgraph (a Graph *), or NULL:
	                           then s is its IR text (generated code) */
} KAttr;

/* One kernel invocation. Outputs arrive with dt set. If out[i].data is
 * non-NULL, rank and dims are set too (from shape inference): the kernel
 * checks they are what it computes and fails otherwise. If out[i].data is
 * NULL, the caller did not know the shape (it depends on input data:
 * Reshape by a runtime shape tensor, NonZero, ...): the kernel sets rank
 * and dims and allocates with c->alloc(c->actx, nbytes). An optional
 * output the model does not use arrives with dt == DT_UNDEF: skip it.
 * The node's opset arrives as the int attribute "_opset".
 * A kernel returns 0, or nonzero after writing a one-line reason into
 * c->err (use kerr()). */
typedef struct KCall {
	int op;
	int nin, nout, nattr;
	const KTensor *in;
	KTensor *out;
	const KAttr *attr;
	char *err;
	size_t errlen;
	void *(*alloc)(void *actx, size_t nbytes);
	void *actx;
} KCall;

typedef int (*RefFn)(KCall *c);
extern const RefFn ref_table[OP_COUNT];        /* ir/ref_table.c */

int kerr(KCall *c, const char *fmt, ...);       /* returns 1 */
const KAttr *kattr(const KCall *c, const char *name);   /* NULL if absent */
int64_t kattr_i(const KCall *c, const char *name, int64_t def);
double kattr_f(const KCall *c, const char *name, double def);
const char *kattr_s(const KCall *c, const char *name, const char *def);
/* ints attribute: returns count (0 if absent) and sets *v */
int kattr_ints(const KCall *c, const char *name, const int64_t **v);
int kattr_floats(const KCall *c, const char *name, const float **v);

int64_t kt_numel(const KTensor *t);
/* Give output i its shape: if data is NULL, set rank/dims and allocate;
 * else check rank/dims equal. Returns 0 or kerr()'s 1. Every kernel uses
 * this for each output before writing it. */
int kout(KCall *c, int i, int rank, const int64_t *dims);
size_t kt_nbytes(const KTensor *t);
/* Row-major strides (in elements) of t, with broadcasting of t against an
 * output of rank `rank` (leading dims aligned right; size-1 dims get stride 0). */
void kt_bstrides(const KTensor *t, int rank, const int64_t *odims, int64_t *strides);

#endif
