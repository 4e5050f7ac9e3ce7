/* The ONNX frontend: reads a .onnx file (protobuf) and builds the graph IR.
 * Weights stay in the unpacked message (or mmap'd external data files),
 * owned by the returned graph through g->keep. */
#ifndef VIBEE_FRONTEND_ONNX_H
#define VIBEE_FRONTEND_ONNX_H
#include "../ir/ir.h"

/* Load the ONNX model at `path` into a new graph, topologically sorted
 * (ir_compact) but not yet shape-inferred. On bad input returns NULL with
 * d->code E_MODEL (malformed or unsupported model) or E_IO (unreadable
 * file) and a one-line message that starts with `path`. */
Graph *onnx_load(const char *path, Diag *d);
/* Same from the n bytes at buf (not referenced after the call); `name`
 * stands for the path in messages. External data is refused: a model in
 * memory has no folder. */
Graph *onnx_load_mem(const void *buf, size_t n, const char *name, Diag *d);

/* Check the model at `path` without compiling it: print one line per
 * unsupported node (node name, op, opset, reason) to `out`. Returns the
 * number of such nodes, or -1 when the model cannot be read at all (the
 * message in d). */
int onnx_check(const char *path, FILE *out, Diag *d);

/* Limits on what a model may ask for. */
#define ONNX_MAX_FILE   ((uint64_t)4 << 30)    /* 4 GiB */
#define ONNX_MAX_NODES  1000000
#define ONNX_MAX_DIM    ((int64_t)1 << 40)
#define ONNX_MAX_DEPTH  64                     /* protobuf message nesting */
#define ONNX_MAX_ATTRS  1000                   /* attributes per node */
#define ONNX_MAX_SYMDIMS 10000                 /* symbolic dims, all inputs */
#endif
