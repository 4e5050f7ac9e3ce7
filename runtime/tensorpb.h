/* Reading and writing ONNX TensorProto files (the test_data_set *.pb files)
 * with a small hand-rolled protobuf reader: the runtime links nothing of the
 * compiler and no protobuf library. */
#ifndef VIBEE_RT_TENSORPB_H
#define VIBEE_RT_TENSORPB_H
#include <stddef.h>
#include <stdint.h>

#define RT_TENSOR_MAXRANK 8

/* A dense row-major tensor. dtype: ONNX TensorProto numbering. name and
 * data are malloc'd (owned) after a read; name may be NULL. */
typedef struct rt_tensor {
	char *name;
	int dtype;
	int rank;
	int64_t dims[RT_TENSOR_MAXRANK];
	void *data;
	size_t nbytes;
} rt_tensor;

/* Bytes per element of an ONNX dtype the runtime handles (numeric types of
 * fixed size; not string or complex); 0 otherwise. */
size_t rt_dtype_size(int dtype);

/* Parse a serialized TensorProto. Accepts dims, data_type, name and the
 * data in raw_data or in the typed field for its dtype (float_data,
 * int32_data, int64_data, double_data, uint64_data; packed or not).
 * Refuses string data, external data, segments, rank > 8, and data whose
 * element count does not match dims. Returns 0, or -1 with a one-line
 * reason in err (t is then empty). Never reads outside buf[0..n). */
int rt_tensor_read_mem(const void *buf, size_t n, rt_tensor *t, char *err,
                       size_t errlen);
/* Same from a file; the message starts with the path. */
int rt_tensor_read_file(const char *path, rt_tensor *t, char *err,
                        size_t errlen);
/* Write t as a TensorProto (dims, data_type, name if set, raw_data).
 * t->nbytes must equal the element count times rt_dtype_size(). */
int rt_tensor_write_file(const char *path, const rt_tensor *t, char *err,
                         size_t errlen);
/* Free name and data and clear t. */
void rt_tensor_free(rt_tensor *t);
#endif
