/* Storage planning: which values need a buffer (a slot of the context's
 * buffer table), and where it lives: the caller's input, the weights blob,
 * the statically planned workspace, or the per-run arena (run-time sizes). */
#ifndef VIBEE_PLAN_H
#define VIBEE_PLAN_H
#include "kir.h"

enum { SL_INPUT, SL_CONST, SL_STATIC, SL_DYN };
#define SLOT_NONE 0xffffffffu

typedef struct Plan {
	uint32_t nslot;
	uint32_t *slot;       /* [g->nval]: slot of the value's storage, or SLOT_NONE */
	uint8_t *kind;        /* [nslot] SL_* */
	uint32_t *owner;      /* [nslot] root value */
	uint64_t *off;        /* [nslot] workspace or weights offset */
	uint64_t *bytes;      /* [nslot] static size (0 for SL_DYN) */
	int *defk;            /* [nslot] kernel that writes it, -1 if none */
	uint64_t ws_bytes;    /* planned workspace */
	uint64_t naive_bytes; /* sum of static buffers without reuse */
	uint64_t w_bytes;     /* weights blob */
} Plan;

int cg_plan(const KProg *p, Plan *pl, Diag *d);
void cg_plan_free(Plan *pl);
#endif
