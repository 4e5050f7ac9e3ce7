/* Several models in one process, several contexts running at once: two
 * samples (gpt2, resnet) compiled from ONNX are loaded side by side (their
 * generated kernels have the same names inside, so a clash would show), and
 * NTHR threads each run their own context repeatedly (three contexts of each
 * model at once; some with a 2-thread kernel pool of their own, so pools run
 * side by side too). Every result must be bit-identical to a run of one
 * context alone with the same thread count, and match the reference.
 * `make test-tsan` runs this under ThreadSanitizer. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "codegen/codegen.h"
#include "frontend/onnx.h"
#include "runtime/tensorpb.h"
#include "runtime/vibee.h"

#define ITERS 6
#define NTHR 6
static int fails;
#define CHECK(c, ...) do { if (!(c)) { fails++; fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

typedef struct Model {
	const char *name;
	vibee_handle *h;
	rt_tensor in[4];
	int nin;
	void *golden[2];    /* output 0 of a lone run with 1 and 2 threads */
	size_t nbytes;
} Model;

typedef struct Job { Model *m; int nthreads, same; } Job;

static int compile(const char *src, const char *name, const char *dir, Model *m)
{
	char path[1024], so[1024], err[512];
	Diag d = {0};
	snprintf(path, sizeof path, "%s/samples/%s/model.onnx", src, name);
	snprintf(so, sizeof so, "%s/%s.so", dir, name);
	Graph *g = onnx_load(path, &d);
	if (!g || ir_infer(g, &d)) {
		CHECK(0, "%s: %s", name, d.msg);
		ir_graph_free(g);
		return 1;
	}
	CgOptions o = {.out = so, .emit = CG_EMIT_SO, .opt = 2};
	int rc = cg_compile(g, &o, &d);
	ir_graph_free(g);
	CHECK(rc == 0, "%s: compile: %s", name, d.msg);
	if (rc || vibee_load(so, &m->h, err, sizeof err)) {
		CHECK(0, "%s: load: %s", name, err);
		return 1;
	}
	m->name = name;
	for (m->nin = 0; m->nin < 4; m->nin++) {
		snprintf(path, sizeof path, "%s/samples/%s/test_data_set_0/input_%d.pb", src, name, m->nin);
		if (access(path, R_OK))
			break;
		CHECK(rt_tensor_read_file(path, &m->in[m->nin], err, sizeof err) == 0, "%s", err);
	}
	return 0;
}

/* One context, ITERS runs; returns 0 when each run's output 0 equals m->golden. */
static int run_ctx(Model *m, void **out0, size_t *nbytes, int nthreads)
{
	char err[512];
	vibee_context *c;
	vibee_options opt = {.nthreads = nthreads};
	if (vibee_context_create(m->h, &opt, &c, err, sizeof err))
		return 1;
	vibee_tensor vin[4], vout[4];
	for (int i = 0; i < m->nin; i++) {
		vin[i].dtype = m->in[i].dtype;
		vin[i].rank = m->in[i].rank;
		memcpy(vin[i].dims, m->in[i].dims, sizeof vin[i].dims);
		vin[i].data = m->in[i].data;
	}
	int bad = 0;
	for (int it = 0; it < (out0 ? 1 : ITERS); it++) {
		memset(vout, 0, sizeof vout);
		if (vibee_context_run(c, vin, vout, err, sizeof err)) {
			bad = 1;
			break;
		}
		size_t n = vibee_dtype_size(vout[0].dtype);
		for (int k = 0; k < vout[0].rank; k++)
			n *= (size_t)vout[0].dims[k];
		if (out0) {
			*out0 = malloc(n);
			memcpy(*out0, vout[0].data, n);
			*nbytes = n;
		} else if (n != m->nbytes || memcmp(vout[0].data, m->golden[nthreads - 1], n)) {
			bad = 1;
		}
	}
	vibee_context_destroy(c);
	return bad;
}

static void *worker(void *p)
{
	Job *j = p;
	j->same = run_ctx(j->m, NULL, NULL, j->nthreads) == 0;
	return NULL;
}

int main(void)
{
	const char *src = getenv("VIBEE_SRC");
	if (!src)
		src = ".";
	char dir[] = "/tmp/vibee-conc-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	Model m[2] = {0};
	if (compile(src, "gpt2", dir, &m[0]) || compile(src, "resnet", dir, &m[1]))
		return 1;
	for (int i = 0; i < 2; i++) {
		size_t n2 = 0;
		CHECK(run_ctx(&m[i], &m[i].golden[0], &m[i].nbytes, 1) == 0, "%s: lone run", m[i].name);
		CHECK(run_ctx(&m[i], &m[i].golden[1], &n2, 2) == 0 && n2 == m[i].nbytes,
		      "%s: lone run, 2 threads", m[i].name);
	}
	/* the lone runs match the PyTorch references (so "identical" means right) */
	for (int i = 0; i < 2; i++) {
		char path[1024], err[512];
		rt_tensor ref = {0};
		snprintf(path, sizeof path, "%s/samples/%s/test_data_set_0/output_0.pb", src, m[i].name);
		CHECK(rt_tensor_read_file(path, &ref, err, sizeof err) == 0, "%s", err);
		CHECK(ref.nbytes == m[i].nbytes, "%s: output size", m[i].name);
		const float *a = m[i].golden[0], *b = ref.data;
		for (size_t k = 0; k < ref.nbytes / 4 && ref.nbytes == m[i].nbytes; k++)
			if (!(a[k] - b[k] <= 1e-4 + 1e-3 * (b[k] < 0 ? -b[k] : b[k]) &&
			      b[k] - a[k] <= 1e-4 + 1e-3 * (b[k] < 0 ? -b[k] : b[k]))) {
				CHECK(0, "%s: element %zu: %g vs reference %g", m[i].name, k, a[k], b[k]);
				break;
			}
		rt_tensor_free(&ref);
	}
	pthread_t th[NTHR];
	Job jobs[NTHR];
	for (int t = 0; t < NTHR; t++) {
		jobs[t] = (Job){.m = &m[t % 2], .nthreads = t < 4 ? 1 : 2};
		pthread_create(&th[t], NULL, worker, &jobs[t]);
	}
	for (int t = 0; t < NTHR; t++) {
		pthread_join(th[t], NULL);
		CHECK(jobs[t].same, "thread %d (%s, %d kernel threads): results differ from a lone run",
		      t, jobs[t].m->name, jobs[t].nthreads);
	}
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < m[i].nin; k++)
			rt_tensor_free(&m[i].in[k]);
		free(m[i].golden[0]);
		free(m[i].golden[1]);
		vibee_unload(m[i].h);
	}
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd)) {}
	if (fails) {
		fprintf(stderr, "test_concurrent: %d failures\n", fails);
		return 1;
	}
	printf("test_concurrent: ok\n");
	return 0;
}
