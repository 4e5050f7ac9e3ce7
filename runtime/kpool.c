/* Kernel-library support linked into every model.so: the thread pool behind
 * generated parallel loops (kpool_for) and the per-run bump arena that
 * run-time sized buffers and data-dependent kernel outputs come from. */
#define _GNU_SOURCE      /* sched_getaffinity, CPU_COUNT */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "kpool.h"

/* Workers and the caller spin this long for the next job / the last chunk
 * before sleeping on a condition variable: the kernels of one model run
 * follow each other within microseconds, and a sleeping thread takes tens
 * of microseconds to wake. VIBEE_SPIN_US overrides it (0: sleep at once,
 * for machines shared with other busy processes). */
#define SPIN_NS 200000
#define YIELD_NS 20000   /* after this, spin with sched_yield (oversubscribed CPUs) */
#define SPIN_MAX_US 1000000

/* The job ticket: job number << IDX_BITS | index of the next chunk to take.
 * IDX_NONE as index: the caller is writing the job's fields. */
#define IDX_BITS 24
#define IDX_MASK ((1ull << IDX_BITS) - 1)
#define IDX_NONE IDX_MASK

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Lock-free hand-out: the caller publishes a job (its fields between two
 * stores of the ticket, seqlock style) and takes chunks like the workers;
 * a chunk is claimed by a compare-and-swap of the ticket that also checks
 * the job number, so a worker that read an old job's fields, or one torn
 * by the next job's writes, claims nothing. A job's fields change only
 * after all its chunks finished, so nobody waits for the workers to leave
 * a job before the next one is posted. The mutex and condition variables
 * are only for sleeping. */
struct kpool {
	int nthreads;                 /* including the caller */
	int nworkers;                 /* threads actually started */
	pthread_t *tid;
	pthread_mutex_t mu;
	pthread_cond_t wake, done;
	atomic_int quit;
	atomic_int sleepers;          /* workers asleep (or going to sleep) on wake */
	atomic_int waiter;            /* the caller asleep (or going to sleep) on done */
	int64_t spin_ns, yield_ns;    /* SPIN_NS, YIELD_NS or VIBEE_SPIN_US */
	/* the ticket and the current job's fields (written by the caller only
	 * while the ticket says so) share a cache line: one miss per job */
	_Alignas(64) atomic_ullong ticket;
	atomic_uintptr_t body, arg;
	atomic_llong n, chunk, nchunks;
	_Alignas(64) atomic_llong left;   /* chunks of the current job not yet finished */
	_Alignas(64) uint64_t jobs;       /* jobs posted (the caller's counters) */
	uint64_t sleeps;                  /* times the caller slept for the last chunk */
};

/* The CPUs this process may run on (taskset, cgroup cpusets), else the
 * online ones. */
int kpool_cores(void)
{
	long n = 0;
#ifdef CPU_COUNT
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		n = CPU_COUNT(&set);
#endif
	if (n < 1)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

/* A decimal environment value in [lo, hi], else -1 (unset or malformed:
 * the default applies). */
static long env_num(const char *name, long lo, long hi)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return -1;
	char *end;
	long v = strtol(s, &end, 10);
	return *end || v < lo || v > hi ? -1 : v;
}

int kpool_default_threads(void)
{
	long n = env_num("VIBEE_THREADS", 1, 256);
	return n > 0 ? (int)n : kpool_cores();
}

typedef struct job {
	kpool_fn body;
	void *arg;
	int64_t n, chunk, nchunks;
} job;

/* Take chunks of job number id (fields j) until none remain; returns how
 * many this thread ran. */
static int64_t work(kpool *p, uint64_t id, const job *j)
{
	int64_t did = 0;
	uint64_t v = atomic_load_explicit(&p->ticket, memory_order_relaxed);
	for (;;) {
		if (v >> IDX_BITS != id || (int64_t)(v & IDX_MASK) >= j->nchunks)
			break;
		if (!atomic_compare_exchange_weak(&p->ticket, &v, v + 1))
			continue;   /* v now holds the current ticket */
		int64_t lo = (int64_t)(v & IDX_MASK) * j->chunk, hi = lo + j->chunk;
		j->body(j->arg, lo, hi < j->n ? hi : j->n);
		did++;
		v = atomic_load_explicit(&p->ticket, memory_order_relaxed);
	}
	return did;
}

/* Count `did` finished chunks; the last one wakes a sleeping caller. */
static void finish(kpool *p, int64_t did)
{
	if (did && atomic_fetch_sub(&p->left, did) == did && atomic_load(&p->waiter)) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_broadcast(&p->done);
		pthread_mutex_unlock(&p->mu);
	}
}

/* Wait for a job other than `seen` to be published; false on quit. */
static bool next_job(kpool *p, uint64_t seen, uint64_t *v)
{
	int64_t t0 = now_ns();
	for (int i = 0;; i++) {
		*v = atomic_load_explicit(&p->ticket, memory_order_acquire);
		if (atomic_load_explicit(&p->quit, memory_order_relaxed))
			return false;
		if (*v >> IDX_BITS != seen && (*v & IDX_MASK) != IDX_NONE)
			return true;
		relax();
		if ((i & 63) == 63) {
			int64_t dt = now_ns() - t0;
			if (dt > p->spin_ns)
				break;
			if (dt > p->yield_ns)
				sched_yield();
		}
	}
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add(&p->sleepers, 1);   /* then read the ticket: see kpool_for */
	for (;;) {
		*v = atomic_load(&p->ticket);
		if (atomic_load(&p->quit) || (*v >> IDX_BITS != seen && (*v & IDX_MASK) != IDX_NONE))
			break;
		pthread_cond_wait(&p->wake, &p->mu);
	}
	atomic_fetch_sub(&p->sleepers, 1);
	pthread_mutex_unlock(&p->mu);
	return !atomic_load(&p->quit);
}

static void *worker(void *vp)
{
	kpool *p = vp;
	uint64_t seen = 0, v;
	while (next_job(p, seen, &v)) {
		uint64_t id = v >> IDX_BITS;
		job j = {(kpool_fn)atomic_load_explicit(&p->body, memory_order_relaxed),
		         (void *)atomic_load_explicit(&p->arg, memory_order_relaxed),
		         atomic_load_explicit(&p->n, memory_order_relaxed),
		         atomic_load_explicit(&p->chunk, memory_order_relaxed),
		         atomic_load_explicit(&p->nchunks, memory_order_relaxed)};
		atomic_thread_fence(memory_order_acquire);
		uint64_t w = atomic_load_explicit(&p->ticket, memory_order_relaxed);
		if (w >> IDX_BITS != id || (w & IDX_MASK) == IDX_NONE)
			continue;   /* the next job is being written: the fields may be torn */
		seen = id;
		finish(p, work(p, id, &j));
	}
	return NULL;
}

kpool *kpool_new(int nthreads)
{
	kpool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->nthreads = nthreads > 0 ? nthreads : kpool_default_threads();
	long us = env_num("VIBEE_SPIN_US", 0, SPIN_MAX_US);
	p->spin_ns = us >= 0 ? us * 1000 : SPIN_NS;
	p->yield_ns = p->spin_ns < YIELD_NS ? p->spin_ns : YIELD_NS;
	if (p->nthreads > 256)
		p->nthreads = 256;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->done, NULL);
	if (p->nthreads > 1) {
		p->tid = calloc((size_t)p->nthreads - 1, sizeof *p->tid);
		for (int i = 0; p->tid && i < p->nthreads - 1; i++) {
			if (pthread_create(&p->tid[i], NULL, worker, p))
				break;
			p->nworkers++;
		}
	}
	return p;
}

void kpool_free(kpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->quit, 1);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nworkers; i++)
		pthread_join(p->tid[i], NULL);
	free(p->tid);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->done);
	free(p);
}

int kpool_threads(const kpool *p) { return p ? p->nworkers + 1 : 1; }

uint64_t kpool_jobs(const kpool *p) { return p ? p->jobs : 0; }

uint64_t kpool_sleeps(const kpool *p) { return p ? p->sleeps : 0; }

void kpool_for(kpool *p, int64_t n, int64_t grain, kpool_fn body, void *arg)
{
	if (n <= 0)
		return;
	if (grain < 1)
		grain = 1;
	int nt = kpool_threads(p);
	if (nt == 1 || n <= grain) {
		body(arg, 0, n);
		return;
	}
	/* a few chunks per thread balance uneven work without much overhead */
	int64_t chunk = (n + 4 * nt - 1) / (4 * nt);
	if (chunk < grain)
		chunk = grain;
	job j = {body, arg, n, chunk, (n + chunk - 1) / chunk};   /* <= 4 nt chunks */
	/* the last job is finished: its chunks are all taken, and a late
	 * worker's claim fails once the job number changes */
	uint64_t id = (atomic_load_explicit(&p->ticket, memory_order_relaxed) >> IDX_BITS) + 1;
	id &= (1ull << (64 - IDX_BITS)) - 1;
	atomic_store_explicit(&p->ticket, id << IDX_BITS | IDX_NONE, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&p->body, (uintptr_t)body, memory_order_relaxed);
	atomic_store_explicit(&p->arg, (uintptr_t)arg, memory_order_relaxed);
	atomic_store_explicit(&p->n, n, memory_order_relaxed);
	atomic_store_explicit(&p->chunk, chunk, memory_order_relaxed);
	atomic_store_explicit(&p->nchunks, j.nchunks, memory_order_relaxed);
	atomic_store_explicit(&p->left, j.nchunks, memory_order_relaxed);
	/* seq_cst: a worker adds itself to sleepers, then reads the ticket */
	atomic_store(&p->ticket, id << IDX_BITS);
	p->jobs++;
	if (atomic_load(&p->sleepers)) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_broadcast(&p->wake);
		pthread_mutex_unlock(&p->mu);
	}
	int64_t did = work(p, id, &j);
	if (did && atomic_fetch_sub(&p->left, did) == did)
		return;
	int64_t t0 = now_ns();
	for (int i = 0; atomic_load_explicit(&p->left, memory_order_acquire) > 0; i++) {
		relax();
		if ((i & 63) == 63) {
			int64_t dt = now_ns() - t0;
			if (dt > p->spin_ns)
				break;
			if (dt > p->yield_ns)
				sched_yield();
		}
	}
	if (atomic_load(&p->left) > 0) {
		pthread_mutex_lock(&p->mu);
		atomic_store(&p->waiter, 1);   /* then read left: see finish */
		if (atomic_load(&p->left) > 0)
			p->sleeps++;
		while (atomic_load(&p->left) > 0)
			pthread_cond_wait(&p->done, &p->mu);
		atomic_store(&p->waiter, 0);
		pthread_mutex_unlock(&p->mu);
	}
}

/* ---- arena ------------------------------------------------------------ */
struct kchunk {
	struct kchunk *next;
	size_t cap, used;
	unsigned char *mem;
};

void *karena_alloc(void *arena, size_t nbytes)
{
	karena *a = arena;
	size_t need = (nbytes + 63) & ~(size_t)63;
	if (need < nbytes)
		return NULL;
	struct kchunk *c = a->head;
	if (!c || c->cap - c->used < need) {
		size_t cap = need > ((size_t)1 << 20) ? need : (size_t)1 << 20;
		c = malloc(sizeof *c);
		if (!c)
			return NULL;
		c->mem = aligned_alloc(64, cap);
		if (!c->mem) {
			free(c);
			return NULL;
		}
		c->cap = cap;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	void *r = c->mem + c->used;
	c->used += need;
	a->used_total += need;
	return r;
}

/* Keep the largest chunk sized to last run's total so the next run needs
 * a single allocation. */
void karena_reset(karena *a)
{
	size_t total = a->used_total;
	if (a->head && !a->head->next) {
		a->head->used = 0;
	} else if (a->head) {
		karena_free(a);
		if (total)
			karena_alloc(a, total);
		if (a->head)
			a->head->used = 0;
	}
	a->used_total = 0;
}

void karena_free(karena *a)
{
	for (struct kchunk *c = a->head, *n; c; c = n) {
		n = c->next;
		free(c->mem);
		free(c);
	}
	a->head = NULL;
	a->used_total = 0;
}
