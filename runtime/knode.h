/* Library kernels for ONNX ops that had only a reference kernel (issue 3):
 * runtime/knode_*.c, written from the ONNX operator specs independently of
 * ir/ref_*.c. The generated code calls knode_call(pool, &call) with the
 * same KCall as a reference call (codegen/fused.c routes the ops). */
#ifndef VIBEE_KNODE_H
#define VIBEE_KNODE_H
#include "../ir/kern.h"
#include "kpool.h"

int knode_call(kpool *pool, KCall *c);
#endif
