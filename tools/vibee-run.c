/* vibee-run: load a compiled model.so, feed it DIR/input_N.pb, write the
 * outputs, compare against DIR/output_N.pb when present, and optionally
 * benchmark. Links only the runtime (libvibeert + tensorpb). */
#define _GNU_SOURCE      /* sched_getaffinity, CPU_COUNT */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "runtime/tensorpb.h"
#include "runtime/vibee.h"

static const char *usage =
"usage: vibee-run MODEL.so [--data DIR] [--rtol R] [--atol A] [--bench N]\n"
"                 [--threads N] [--out DIR] [--info] [--profile]\n"
"  --data DIR   read DIR/input_N.pb; compare with DIR/output_N.pb if present\n"
"  --rtol/--atol  tolerance |got-ref| <= atol + rtol*|ref| (1e-3 / 1e-4)\n"
"  --bench N    warm up, then N timed runs; prints median_ms\n"
"  --threads N  worker threads (default: VIBEE_THREADS, else the CPUs available)\n"
"  --out DIR    write output_N.pb there\n"
"  --info       print the model's self-description\n"
"  --profile    per-kernel times to stderr when done (as VIBEE_PROFILE=1)\n"
"exit: 0 pass, 1 mismatch, 2 error\n";

/* The thread count a context gets for --threads 0, as kpool_default_threads
 * in the model computes it; for the benchmark line only. */
static int default_threads(void)
{
	const char *e = getenv("VIBEE_THREADS");
	char *end;
	long v = e && *e ? strtol(e, &end, 10) : 0;
	if (e && *e && !*end && v >= 1 && v <= 256)
		return (int)v;
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set) > 256 ? 256 : CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : (int)n;
}

static int die(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "vibee-run: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n");
	return 2;
}

static bool is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double load_f(int dt, const void *p, size_t i)
{
	switch (dt) {
	case 1: return ((const float *)p)[i];
	case 11: return ((const double *)p)[i];
	case 10: {   /* f16 */
		uint16_t h = ((const uint16_t *)p)[i];
		int e = (h >> 10) & 31, m = h & 1023;
		double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
		return h & 0x8000 ? -v : v;
	}
	case 16: {   /* bf16 */
		uint32_t u = (uint32_t)((const uint16_t *)p)[i] << 16;
		float f;
		memcpy(&f, &u, 4);
		return f;
	}
	}
	return 0;
}

static int64_t load_i(int dt, const void *p, size_t i)
{
	switch (dt) {
	case 2: case 9: return ((const uint8_t *)p)[i];
	case 3: return ((const int8_t *)p)[i];
	case 4: return ((const uint16_t *)p)[i];
	case 5: return ((const int16_t *)p)[i];
	case 6: return ((const int32_t *)p)[i];
	case 7: return ((const int64_t *)p)[i];
	case 12: return ((const uint32_t *)p)[i];
	case 13: return (int64_t)((const uint64_t *)p)[i];
	}
	return 0;
}

/* Compare output i; prints a line; returns 1 on mismatch, 2 on error. */
static int compare(int i, const char *name, const vibee_tensor *got, const rt_tensor *ref,
                   double rtol, double atol)
{
	int rdt = ref->dtype == 4 && got->dtype == 16 ? 16 : ref->dtype;   /* bf16 stored as u16 */
	if (got->dtype != rdt || got->rank != ref->rank) {
		printf("output %d '%s': FAIL dtype/rank %s/%d, expected %s/%d\n", i, name,
		       vibee_dtype_name(got->dtype), got->rank, vibee_dtype_name(ref->dtype), ref->rank);
		return 1;
	}
	size_t n = 1;
	for (int k = 0; k < got->rank; k++) {
		if (got->dims[k] != ref->dims[k]) {
			printf("output %d '%s': FAIL dim %d is %lld, expected %lld\n", i, name, k,
			       (long long)got->dims[k], (long long)ref->dims[k]);
			return 1;
		}
		n *= (size_t)got->dims[k];
	}
	bool fl = got->dtype == 1 || got->dtype == 10 || got->dtype == 11 || got->dtype == 16;
	if (!fl && !vibee_dtype_size(got->dtype))
		return die("output '%s': cannot compare dtype %s", name, vibee_dtype_name(got->dtype));
	double maxabs = 0, maxrel = 0;
	size_t bad = 0, first = 0;
	for (size_t j = 0; j < n; j++) {
		if (fl) {
			double a = load_f(got->dtype, got->data, j), b = load_f(rdt, ref->data, j);
			if (isnan(a) && isnan(b))
				continue;
			if (a == b)
				continue;   /* equal infinities too */
			double e = fabs(a - b), rl = b != 0 ? e / fabs(b) : (e ? INFINITY : 0);
			if (isnan(e))
				e = INFINITY;
			if (e > maxabs)
				maxabs = e;
			if (rl > maxrel)
				maxrel = rl;
			if (!(e <= atol + rtol * fabs(b)) && !bad++)
				first = j;
		} else {
			int64_t a = load_i(got->dtype, got->data, j), b = load_i(ref->dtype, ref->data, j);
			double e = fabs((double)a - (double)b);
			if (e > maxabs)
				maxabs = e;
			if (a != b && !bad++)
				first = j;
		}
	}
	printf("output %d '%s': max_abs %.3g max_rel %.3g %s", i, name, maxabs, maxrel,
	       bad ? "FAIL" : "PASS");
	if (bad)
		printf(" (%zu of %zu differ, first at %zu)", bad, n, first);
	printf("\n");
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *model = NULL, *data = NULL, *outdir = NULL;
	double rtol = 1e-3, atol = 1e-4;
	int bench = 0, threads = 0, info = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(a, "--data") == 0 && more) {
			data = argv[++i];
		} else if (strcmp(a, "--out") == 0 && more) {
			outdir = argv[++i];
		} else if ((strcmp(a, "--rtol") == 0 || strcmp(a, "--atol") == 0) && more) {
			char *end;
			double v = strtod(argv[++i], &end);
			if (*end || v < 0 || isnan(v))
				return die("bad value for %s: '%s'", a, argv[i]);
			*(a[2] == 'r' ? &rtol : &atol) = v;
		} else if ((strcmp(a, "--bench") == 0 || strcmp(a, "--threads") == 0) && more) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 0 || v > 1000000)
				return die("bad value for %s: '%s'", a, argv[i]);
			*(a[2] == 'b' ? &bench : &threads) = (int)v;
		} else if (strcmp(a, "--info") == 0) {
			info = 1;
		} else if (strcmp(a, "--profile") == 0) {
			setenv("VIBEE_PROFILE", "1", 1);   /* read by the model's create */
		} else if (a[0] == '-' && a[1]) {
			fputs(usage, stderr);
			return die("unknown or incomplete option '%s'%s", a, "");
		} else if (!model) {
			model = a;
		} else {
			return die("unexpected argument '%s'%s", a, "");
		}
	}
	if (!model) {
		fputs(usage, stderr);
		return 2;
	}
	char err[1024] = "";
	vibee_handle *h;
	if (vibee_load(model, &h, err, sizeof err))
		return die("%s%s", err, "");
	const vibee_model_desc *d = vibee_desc(h);
	if (info) {
		char buf[16384];
		vibee_describe(d, buf, sizeof buf);
		fputs(buf, stdout);
		if (!data) {
			vibee_unload(h);
			return 0;
		}
	}
	if (!data) {
		vibee_unload(h);
		return die("no --data DIR given%s%s", "", "");
	}
	int ni = d->ninputs, no = d->noutputs;
	rt_tensor *tin = calloc((size_t)ni + 1, sizeof *tin), *tref = calloc((size_t)no + 1, sizeof *tref);
	vibee_tensor *vin = calloc((size_t)ni + 1, sizeof *vin), *vout = calloc((size_t)no + 1, sizeof *vout);
	bool *have = calloc((size_t)no + 1, sizeof *have);
	int rc = 0;
	if (!tin || !tref || !vin || !vout || !have) {
		rc = die("out of memory%s%s", "", "");
		goto done;
	}
	char path[4096];
	for (int i = 0; i < ni; i++) {
		snprintf(path, sizeof path, "%s/input_%d.pb", data, i);
		if (rt_tensor_read_file(path, &tin[i], err, sizeof err)) {
			rc = die("%s%s", err, "");
			goto done;
		}
		vin[i].dtype = tin[i].dtype;
		/* ONNX test data stores bf16 tensors as u16 bits: same bytes */
		if (vin[i].dtype == 4 && d->inputs[i].dtype == 16)
			vin[i].dtype = 16;
		vin[i].rank = tin[i].rank;
		memcpy(vin[i].dims, tin[i].dims, sizeof vin[i].dims);
		vin[i].data = tin[i].data;
	}
	int bad_extra;
	snprintf(path, sizeof path, "%s/input_%d.pb", data, ni);
	bad_extra = is_file(path);
	if (bad_extra) {
		rc = die("%s: model has only %s inputs", path, "the listed");
		goto done;
	}
	vibee_options opt = {.nthreads = threads};
	vibee_context *ctx;
	if (vibee_context_create(h, &opt, &ctx, err, sizeof err)) {
		rc = die("%s%s", err, "");
		goto done;
	}
	if (vibee_context_run(ctx, vin, vout, err, sizeof err)) {
		rc = die("%s%s", err, "");
		vibee_context_destroy(ctx);
		goto done;
	}
	for (int i = 0; i < no && rc != 2; i++) {
		snprintf(path, sizeof path, "%s/output_%d.pb", data, i);
		if (!is_file(path))
			continue;
		if (rt_tensor_read_file(path, &tref[i], err, sizeof err))
			rc = die("%s%s", err, "");
		else
			have[i] = true;
	}
	for (int i = 0; i < no && rc != 2; i++) {
		if (!have[i])
			continue;
		int c = compare(i, d->outputs[i].name, &vout[i], &tref[i], rtol, atol);
		if (c > rc)
			rc = c;
	}
	if (outdir && rc != 2 && mkdir(outdir, 0777) != 0 && errno != EEXIST)
		rc = die("%s: cannot create directory: %s", outdir, strerror(errno));
	if (outdir && rc != 2) {
		for (int i = 0; i < no && rc != 2; i++) {
			rt_tensor t = {0};
			t.name = (char *)d->outputs[i].name;
			t.dtype = vout[i].dtype;
			t.rank = vout[i].rank;
			memcpy(t.dims, vout[i].dims, sizeof t.dims);
			t.data = vout[i].data;
			size_t n = rt_dtype_size(t.dtype);
			for (int k = 0; k < t.rank; k++)
				n *= (size_t)t.dims[k];
			t.nbytes = n;
			snprintf(path, sizeof path, "%s/output_%d.pb", outdir, i);
			if (rt_tensor_write_file(path, &t, err, sizeof err))
				rc = die("%s%s", err, "");
		}
	}
	if (bench > 0 && rc != 2) {
		double *ms = calloc((size_t)bench, sizeof *ms);
		for (int w = 0; w < 2 && rc != 2; w++)
			if (vibee_context_run(ctx, vin, vout, err, sizeof err))
				rc = die("%s%s", err, "");
		for (int i = 0; ms && i < bench && rc != 2; i++) {
			double t0 = now_ms();
			if (vibee_context_run(ctx, vin, vout, err, sizeof err))
				rc = die("%s%s", err, "");
			ms[i] = now_ms() - t0;
		}
		if (ms && rc != 2) {
			qsort(ms, (size_t)bench, sizeof *ms, cmp_d);
			printf("runs %d threads %d min_ms %.3f median_ms %.3f\n", bench,
			       threads ? threads : default_threads(), ms[0], ms[bench / 2]);
		}
		free(ms);
	}
	fflush(stdout);   /* before a profile the model prints to stderr when destroyed */
	vibee_context_destroy(ctx);
done:
	for (int i = 0; tin && i < ni; i++)
		rt_tensor_free(&tin[i]);
	for (int i = 0; tref && i < no; i++)
		rt_tensor_free(&tref[i]);
	free(tin);
	free(tref);
	free(vin);
	free(vout);
	free(have);
	vibee_unload(h);
	return rc;
}
