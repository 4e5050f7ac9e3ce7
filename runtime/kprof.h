/* The per-kernel profiler of a model.so: VIBEE_PROFILE=1 in the environment
 * of the process that creates a context makes its run function time every
 * kernel; destroying the context prints the table to stderr. Off, the cost
 * is one pointer test per kernel call. */
#ifndef VIBEE_KPROF_H
#define VIBEE_KPROF_H
#include <stdint.h>
#include "kpool.h"

/* One kernel of the model, as the generated code describes it. */
typedef struct kprof_kern {
	const char *name;    /* the graph node's name */
	const char *op;      /* its op */
	const char *kind;    /* "loop", "lib" or "call" */
	const char *shape;   /* its first output, e.g. "f32[1,64,56,56]" */
} kprof_kern;

typedef struct kprof kprof;

/* NULL unless VIBEE_PROFILE is set to something other than "" or "0" (or
 * out of memory): the generated code then skips every other call. */
kprof *kprof_open(const char *model, const kprof_kern *k, int nk);
void kprof_run_begin(kprof *p);
void kprof_run_end(kprof *p);
/* Around kernel ki of a run: its time and the pool dispatches it made. */
void kprof_begin(kprof *p, const kpool *pool);
void kprof_end(kprof *p, int ki, const kpool *pool);
/* Print the report (nothing when no run finished) and free p; NULL is fine. */
void kprof_close(kprof *p, const kpool *pool);
#endif
