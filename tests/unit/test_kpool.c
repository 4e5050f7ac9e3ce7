/* The kernel pool (runtime/kpool.c) under back-to-back jobs: many tiny
 * kpool_for calls of varying size from one caller, on a pool with more
 * threads than cores, so that workers are often still inside one job when
 * the next is posted. Every iteration of every job must run exactly once,
 * with that job's own body argument, before kpool_for returns. Under
 * `make test-tsan` a data race in the pool fails the test too. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include "runtime/kpool.h"

#define MAXN 96
#define JOBS 20000

typedef struct Job {
	int id;
	atomic_int hits[MAXN];
	atomic_int wrong;             /* chunks run with another job's bounds */
	int64_t n;
} Job;

static void body(void *arg, int64_t lo, int64_t hi)
{
	Job *j = arg;
	if (lo < 0 || hi > j->n || lo >= hi) {
		atomic_fetch_add(&j->wrong, 1);
		return;
	}
	for (int64_t i = lo; i < hi; i++)
		atomic_fetch_add(&j->hits[i], 1);
}

int main(void)
{
	kpool *p = kpool_new(4);
	if (!p) {
		fprintf(stderr, "test_kpool: out of memory\n");
		return 1;
	}
	int fails = 0;
	/* two job records used in turn: a late worker that ran job k's chunk
	 * with job k+1's argument, or ran a chunk twice, shows up in them */
	static Job jobs[2];
	for (int k = 0; k < JOBS && fails < 5; k++) {
		Job *j = &jobs[k & 1];
		j->id = k;
		j->n = 1 + (k * 37) % MAXN;
		for (int i = 0; i < MAXN; i++)
			atomic_store(&j->hits[i], 0);
		atomic_store(&j->wrong, 0);
		kpool_for(p, j->n, 1 + k % 3, body, j);
		int bad = atomic_load(&j->wrong) != 0;
		for (int i = 0; i < MAXN; i++)
			bad |= atomic_load(&j->hits[i]) != (i < j->n);
		if (bad) {
			fails++;
			fprintf(stderr, "job %d (n %lld): iterations not run exactly once\n", k,
			        (long long)j->n);
		}
	}
	kpool_free(p);
	if (fails) {
		fprintf(stderr, "test_kpool: %d jobs wrong\n", fails);
		return 1;
	}
	printf("test_kpool: ok (%d jobs, %d threads)\n", JOBS, 4);
	return 0;
}
