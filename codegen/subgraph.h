/* Control-flow subgraphs (If / Loop / Scan bodies) compiled to generated kernels:
 * each subgraph is lowered, planned and emitted like a model, into its own
 * translation unit of the model.so whose descriptor is vibee_sub_<id>; the
 * If / Loop node then calls runtime/kcf.c's driver (kcf_call), which runs
 * those descriptors, instead of the reference evaluator. */
#ifndef VIBEE_SUBGRAPH_H
#define VIBEE_SUBGRAPH_H
#include "kir.h"
#include "plan.h"
#include "cbuf.h"

#define CG_MAX_SUBS 32

typedef struct CgSub {
	KProg p;
	Plan pl;
	CBuf c;              /* the translation unit's C text */
} CgSub;

typedef struct CgSubs {
	CgSub s[CG_MAX_SUBS];
	int n;
	const char *target, *isa;
} CgSubs;

/* For every If / Loop / Scan (opset 8 only without sequence_lens) CALL kernel of p whose subgraphs all compile to
 * generated kernels only (no reference calls, nested control flow
 * included): compile them into S, store each graph attribute's sub id in
 * its Attr.i and mark the node with the int attribute _kcf = 1. */
void cg_subs_mark(CgSubs *S, KProg *p);
void cg_subs_free(CgSubs *S);
#endif
