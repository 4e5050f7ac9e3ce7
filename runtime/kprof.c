/* The per-kernel profiler linked into every model.so (kprof.h): wall time
 * of each kernel call on the calling thread (a parallel kernel's time is
 * its whole dispatch), its minimum over the runs, and how many thread-pool
 * dispatches it made; printed sorted by total time when the context goes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kprof.h"

typedef struct kstat {
	uint64_t calls, jobs;
	int64_t ns, min_ns;
} kstat;

struct kprof {
	const char *model;
	const kprof_kern *k;
	int nk;
	kstat *st;
	int64_t t0, run_t0;              /* the current kernel's and run's start */
	uint64_t jobs0;                  /* kpool_jobs at the kernel's start */
	uint64_t runs;
	int64_t run_ns, run_min_ns;
};

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

kprof *kprof_open(const char *model, const kprof_kern *k, int nk)
{
	const char *e = getenv("VIBEE_PROFILE");
	if (!e || !*e || !strcmp(e, "0") || nk < 0)
		return NULL;
	kprof *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->st = calloc((size_t)nk + 1, sizeof *p->st);
	if (!p->st) {
		free(p);
		return NULL;
	}
	p->model = model ? model : "";
	p->k = k;
	p->nk = nk;
	p->run_min_ns = INT64_MAX;
	for (int i = 0; i < nk; i++)
		p->st[i].min_ns = INT64_MAX;
	return p;
}

void kprof_run_begin(kprof *p) { p->run_t0 = now_ns(); }

void kprof_run_end(kprof *p)
{
	int64_t dt = now_ns() - p->run_t0;
	p->runs++;
	p->run_ns += dt;
	if (dt < p->run_min_ns)
		p->run_min_ns = dt;
}

void kprof_begin(kprof *p, const kpool *pool)
{
	p->jobs0 = kpool_jobs(pool);
	p->t0 = now_ns();
}

void kprof_end(kprof *p, int ki, const kpool *pool)
{
	int64_t dt = now_ns() - p->t0;
	if (ki < 0 || ki >= p->nk)
		return;
	kstat *s = &p->st[ki];
	s->calls++;
	s->ns += dt;
	if (dt < s->min_ns)
		s->min_ns = dt;
	s->jobs += kpool_jobs(pool) - p->jobs0;
}

typedef struct rank {
	int64_t ns;
	int i;
} rank;

static int by_total(const void *a, const void *b)
{
	const rank *x = a, *y = b;
	if (x->ns != y->ns)
		return x->ns > y->ns ? -1 : 1;
	return x->i - y->i;
}

static const char *str(const char *s) { return s ? s : "?"; }

void kprof_close(kprof *p, const kpool *pool)
{
	if (!p)
		return;
	rank *ord = calloc((size_t)p->nk + 1, sizeof *ord);
	if (ord && p->runs) {
		int64_t sum = 0;
		uint64_t jobs = 0;
		for (int i = 0; i < p->nk; i++) {
			ord[i] = (rank){p->st[i].ns, i};
			sum += p->st[i].ns;
			jobs += p->st[i].jobs;
		}
		qsort(ord, (size_t)p->nk, sizeof *ord, by_total);
		double runs = (double)p->runs;
		fprintf(stderr,
		        "vibee profile: model '%s', %llu runs, %d threads: run mean %.3f ms, min %.3f ms; "
		        "kernels %.1f%% of run time, %.1f pool dispatches per run (the caller slept "
		        "on %llu)\n",
		        p->model, (unsigned long long)p->runs, kpool_threads(pool),
		        (double)p->run_ns / runs / 1e6, (double)p->run_min_ns / 1e6,
		        p->run_ns ? 100.0 * (double)sum / (double)p->run_ns : 0.0, (double)jobs / runs,
		        (unsigned long long)kpool_sleeps(pool));
		fprintf(stderr, "%3s %6s %10s %8s %9s %9s %5s %-4s %-16s %s\n", "#", "share", "total_ms",
		        "calls", "mean_us", "min_us", "jobs", "kind", "op", "kernel (first output)");
		for (int j = 0; j < p->nk; j++) {
			int i = ord[j].i;
			const kstat *s = &p->st[i];
			const kprof_kern *k = &p->k[i];
			double c = s->calls ? (double)s->calls : 1.0;
			fprintf(stderr, "%3d %5.1f%% %10.3f %8llu %9.2f %9.2f %5.1f %-4s %-16s %s %s\n", i,
			        sum ? 100.0 * (double)s->ns / (double)sum : 0.0, (double)s->ns / 1e6,
			        (unsigned long long)s->calls, (double)s->ns / c / 1e3,
			        s->calls ? (double)s->min_ns / 1e3 : 0.0, (double)s->jobs / c, str(k->kind),
			        str(k->op), str(k->name), str(k->shape));
		}
	}
	free(ord);
	free(p->st);
	free(p);
}
