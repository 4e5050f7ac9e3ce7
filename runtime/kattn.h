/* The fused attention kernel linked into every model.so (runtime/kattn.c):
 * flash-attention tiling with an online softmax, and split-KV decoding with a
 * log-sum-exp combine. Same semantics as the reference ref_attention
 * (ir/ref_attn.c), which parses the shapes for both. */
#ifndef VIBEE_KATTN_H
#define VIBEE_KATTN_H
#include "../ir/kern.h"
#include "kpool.h"

/* The op's sizes, parsed and checked from a KCall (ir/ref_attn.c). */
typedef struct AttnDims {
	int64_t B, Hq, Hkv, Tq, Tk, D, Dv, grp;
	int64_t mst[4];        /* mask strides over [B,Hq,Tq,Tk] (0: broadcast) */
	/* element strides of (batch, head, token) of q, k, v and the output;
	 * the head dim is contiguous. [B,H,T,D] by default, [B,T,H,D] where the
	 * attribute q_bthd / k_bthd / v_bthd / out_bthd is set (rank 4). */
	int64_t qs[3], ks[3], vs[3], os[3];
} AttnDims;
/* Checks c's inputs and attributes, fills a, gives the output its shape;
 * returns 0 or kerr()'s 1. */
int ref_attention_dims(KCall *c, AttnDims *a);

/* Runs the attention node c over the pool (NULL: serial). 0 or 1 (c->err).
 * Argument order of the fused-kernel table (codegen/fused.c). */
int kattn_run(kpool *pool, KCall *c);
#endif
