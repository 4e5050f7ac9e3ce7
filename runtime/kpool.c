/* Kernel-library support linked into every model.so: the thread pool behind
 * generated parallel loops (kpool_for) and the per-run bump arena that
 * run-time sized buffers and data-dependent kernel outputs come from. */
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
 * of microseconds to wake. */
#define SPIN_NS 200000
#define YIELD_NS 20000   /* after this, spin with sched_yield (oversubscribed CPUs) */

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

struct kpool {
	int nthreads;                 /* including the caller */
	int nworkers;                 /* threads actually started */
	pthread_t *tid;
	pthread_mutex_t mu;
	pthread_cond_t wake, done;
	atomic_ullong gen;            /* bumped per job */
	atomic_int quit;
	int busy;                     /* workers inside work(), under mu */
	uint64_t jobs;                /* jobs posted, by the caller only */
	/* the current job */
	kpool_fn body;
	void *arg;
	int64_t n, chunk, nchunks;
	atomic_llong next;            /* next chunk to take */
	atomic_llong left;            /* chunks not yet finished */
};

int kpool_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

/* Take chunks until none remain; returns how many this thread finished. */
static int64_t work(kpool *p)
{
	int64_t did = 0;
	for (;;) {
		int64_t c = atomic_fetch_add(&p->next, 1);
		if (c >= p->nchunks)
			break;
		int64_t lo = c * p->chunk, hi = lo + p->chunk;
		p->body(p->arg, lo, hi < p->n ? hi : p->n);
		did++;
	}
	return did;
}

static void *worker(void *vp)
{
	kpool *p = vp;
	uint64_t seen = 0;
	for (;;) {
		int64_t t0 = now_ns();
		for (int i = 0; atomic_load(&p->gen) == seen && !atomic_load(&p->quit); i++) {
			relax();
			if ((i & 63) == 63) {
				int64_t dt = now_ns() - t0;
				if (dt > SPIN_NS)
					break;
				if (dt > YIELD_NS)
					sched_yield();
			}
		}
		pthread_mutex_lock(&p->mu);
		while (!atomic_load(&p->quit) && atomic_load(&p->gen) == seen)
			pthread_cond_wait(&p->wake, &p->mu);
		if (atomic_load(&p->quit)) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		/* busy is taken under mu, where jobs are posted: a job's bounds
		 * never change while a worker is inside work() */
		seen = atomic_load(&p->gen);
		p->busy++;
		pthread_mutex_unlock(&p->mu);
		int64_t did = work(p);
		bool last = did && atomic_fetch_sub(&p->left, did) == did;
		pthread_mutex_lock(&p->mu);
		if (--p->busy == 0 || last)
			pthread_cond_broadcast(&p->done);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

kpool *kpool_new(int nthreads)
{
	kpool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->nthreads = nthreads > 0 ? nthreads : kpool_cores();
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
	pthread_mutex_lock(&p->mu);
	/* A worker still inside work() (one that joined the last job after its
	 * chunks were all taken) could read this job's `next` against the old
	 * bounds, or the old `next` against these: post only when none is. */
	while (p->busy)
		pthread_cond_wait(&p->done, &p->mu);
	p->body = body;
	p->arg = arg;
	p->n = n;
	p->chunk = chunk;
	p->nchunks = (n + chunk - 1) / chunk;
	/* left before next: a worker still leaving the last job may take a
	 * chunk of this one as soon as next is reset, and must count it */
	atomic_store(&p->left, p->nchunks);
	atomic_store(&p->next, 0);
	atomic_fetch_add(&p->gen, 1);
	p->jobs++;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	int64_t did = work(p);
	if (did)
		atomic_fetch_sub(&p->left, did);
	int64_t t0 = now_ns();
	for (int i = 0; atomic_load(&p->left) > 0; i++) {
		relax();
		if ((i & 63) == 63) {
			int64_t dt = now_ns() - t0;
			if (dt > SPIN_NS)
				break;
			if (dt > YIELD_NS)
				sched_yield();
		}
	}
	if (atomic_load(&p->left) > 0) {
		pthread_mutex_lock(&p->mu);
		while (atomic_load(&p->left) > 0)
			pthread_cond_wait(&p->done, &p->mu);
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
