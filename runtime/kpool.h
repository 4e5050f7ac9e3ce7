/* Kernel-library support linked into every model.so: a pthread pool with a
 * blocking parallel_for, and a bump arena for run-time sized buffers. */
#ifndef VIBEE_KPOOL_H
#define VIBEE_KPOOL_H
#include <stddef.h>
#include <stdint.h>

typedef struct kpool kpool;
/* body(arg, lo, hi) handles iterations [lo, hi). */
typedef void (*kpool_fn)(void *arg, int64_t lo, int64_t hi);

/* nthreads <= 0: kpool_default_threads(). Returns NULL when out of memory;
 * a pool whose threads fail to start runs everything on the caller.
 * VIBEE_SPIN_US (0..1000000) sets how long idle threads spin before they
 * sleep (default 200). */
kpool *kpool_new(int nthreads);
void kpool_free(kpool *p);
int kpool_threads(const kpool *p);
int kpool_cores(void);              /* CPUs this process may run on */
int kpool_default_threads(void);    /* VIBEE_THREADS (1..256), else kpool_cores() */
/* How many kpool_for calls of p handed work to its workers so far (each one
 * a wake-up and a join: the profiler reports them per kernel); 0 for NULL. */
uint64_t kpool_jobs(const kpool *p);
/* How many of those the caller ended asleep, waiting for a worker's last
 * chunk past the spin time (a sign of preempted or oversubscribed CPUs). */
uint64_t kpool_sleeps(const kpool *p);
/* Run body over [0, n) split into chunks of at least `grain` iterations,
 * spread over the pool; returns when all are done. p may be NULL (serial). */
void kpool_for(kpool *p, int64_t n, int64_t grain, kpool_fn body, void *arg);

/* A growable bump arena; karena_reset keeps the memory for the next run. */
typedef struct karena {
	struct kchunk *head;
	size_t used_total;
} karena;
void *karena_alloc(void *arena, size_t nbytes);   /* 64-aligned; NULL if out of memory */
void karena_reset(karena *a);
void karena_free(karena *a);
#endif
