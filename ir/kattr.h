/* Converting a node's IR attributes into the kernel ABI's KAttr array, as
 * the reference evaluator, constant folding and the generated code's CALL
 * kernels pass them. */
#ifndef VIBEE_KATTR_H
#define VIBEE_KATTR_H
#include "ir.h"

/* Build n's attributes as KAttrs, plus the int attribute "_opset". Tensor
 * attributes point at their constant's data (static shapes only). Returns
 * the count and sets *out (free with ir_kattrs_free), or -1 on a tensor
 * attribute without static shape. */
int ir_node_kattrs(const Graph *g, const Node *n, KAttr **out);
void ir_kattrs_free(KAttr *a, int n);
#endif
