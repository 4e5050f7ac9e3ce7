/* Target machine descriptions, as data: one file per target under
 * targets/<name>/ defines a Target; targets.c lists them. */
#ifndef VIBEE_TARGET_H
#define VIBEE_TARGET_H

typedef struct Target {
	const char *name;        /* --target=NAME */
	const char *desc;
	const char *isa;         /* -march value for the C compiler */
	const char *cflags;      /* extra flags for the C compiler */
	int vector_bytes;        /* widest SIMD register */
	int cores_hint;          /* 0: ask the machine at run time */
	int l1d_kb, l2_kb, l3_kb;
} Target;

extern const Target target_cpu;

/* NULL or "" selects "cpu". Returns NULL if unknown. */
const Target *target_find(const char *name);
/* "cpu, ..." for messages. */
const char *target_names(void);
#endif
