/* The If / Loop / Scan driver of the kernel library (runtime/kcf.c): runs the
 * node's subgraphs compiled to generated kernels (codegen/subgraph.c), each
 * a model descriptor passed as its graph attribute's `g`, instead of the
 * reference evaluator. Reference-kernel calling convention (ir/kern.h). */
#ifndef VIBEE_KCF_H
#define VIBEE_KCF_H
#include "../ir/kern.h"
#include "kpool.h"

int kcf_call(kpool *pool, KCall *c);
#endif
