/* vibee-eval: run an ONNX model through the reference evaluator alone
 * (ir/eval.c and the ref_* kernels; nothing is compiled), on the ONNX test
 * layout DIR/input_N.pb, and compare with DIR/output_N.pb like vibee-run:
 *   vibee-eval MODEL.onnx --data DIR [--rtol R] [--atol A] [-O0..-O3] [--out DIR]
 * The default -O0 only infers types and shapes; -O2 runs vibeec's passes
 * (constant folding runs the reference kernels too).
 * Exit status: 0 pass, 1 mismatch or the model is at fault, 2 usage/I/O. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "ir/ir.h"
#include "frontend/onnx.h"
#include "passes/passes.h"
#include "runtime/tensorpb.h"

static const char usage[] =
"usage: vibee-eval MODEL.onnx|MODEL.vir --data DIR [--rtol R] [--atol A] [-O0..-O3] [--out DIR]\n"
"  runs the model with the reference evaluator (no code generation) on\n"
"  DIR/input_N.pb and compares with DIR/output_N.pb (|got-ref| <= atol + rtol*|ref|,\n"
"  defaults 1e-3 / 1e-4); --out writes output_N.pb there\n";

static int fail(int code, const char *msg)
{
	fprintf(stderr, "vibee-eval: %s\n", msg);
	return code;
}

static bool is_float(int dt)
{
	return dt == DT_F32 || dt == DT_F64 || dt == DT_F16 || dt == DT_BF16;
}

/* Compare output i; prints a line; 1 on mismatch. */
static int compare(int i, const char *name, const KTensor *got, const rt_tensor *ref,
                   double rtol, double atol)
{
	int rdt = ref->dtype == DT_U16 && got->dt == DT_BF16 ? DT_BF16 : ref->dtype;
	if (got->dt != rdt || got->rank != ref->rank) {
		printf("output %d '%s': FAIL dtype/rank %s/%d, expected %s/%d\n", i, name,
		       dt_name(got->dt), got->rank, dt_name(ref->dtype), ref->rank);
		return 1;
	}
	for (int k = 0; k < got->rank; k++)
		if (got->dims[k] != ref->dims[k]) {
			printf("output %d '%s': FAIL dim %d is %lld, expected %lld\n", i, name, k,
			       (long long)got->dims[k], (long long)ref->dims[k]);
			return 1;
		}
	size_t n = (size_t)kt_numel(got), bad = 0, first = 0;
	if (!dt_size(got->dt)) {
		printf("output %d '%s': FAIL cannot compare dtype %s\n", i, name, dt_name(got->dt));
		return 1;
	}
	double maxabs = 0, maxrel = 0;
	for (size_t j = 0; j < n; j++) {
		if (is_float(got->dt)) {
			double a = dt_load_f(got->dt, got->data, j), b = dt_load_f(rdt, ref->data, j);
			if ((isnan(a) && isnan(b)) || a == b)
				continue;
			double e = fabs(a - b), rl = b != 0 ? e / fabs(b) : INFINITY;
			if (isnan(e))
				e = INFINITY;
			maxabs = e > maxabs ? e : maxabs;
			maxrel = rl > maxrel ? rl : maxrel;
			if (!(e <= atol + rtol * fabs(b)) && !bad++)
				first = j;
		} else {
			bool u = got->dt == DT_U64;
			uint64_t a = u ? dt_load_u(got->dt, got->data, j) : (uint64_t)dt_load_i(got->dt, got->data, j);
			uint64_t b = u ? dt_load_u(rdt, ref->data, j) : (uint64_t)dt_load_i(rdt, ref->data, j);
			if (a != b) {
				double e = fabs((double)(int64_t)a - (double)(int64_t)b);
				maxabs = e > maxabs ? e : maxabs;
				if (!bad++)
					first = j;
			}
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
	int opt = 0;
	char msg[1400];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(a, "--data") && more) {
			data = argv[++i];
		} else if (!strcmp(a, "--out") && more) {
			outdir = argv[++i];
		} else if ((!strcmp(a, "--rtol") || !strcmp(a, "--atol")) && more) {
			char *end;
			double v = strtod(argv[++i], &end);
			if (*end || !(v >= 0))
				return fail(2, "--rtol/--atol need a number >= 0");
			*(a[2] == 'r' ? &rtol : &atol) = v;
		} else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) {
			opt = a[2] - '0';
		} else if (a[0] == '-') {
			snprintf(msg, sizeof msg, "unknown option '%s' (see --help)", a);
			return fail(2, msg);
		} else if (model) {
			return fail(2, "more than one model given");
		} else {
			model = a;
		}
	}
	if (!model || !data)
		return fail(2, "a model and --data DIR are needed (see --help)");
	Diag d = {0};
	size_t ml = strlen(model);
	Graph *g = NULL;
	if (ml > 4 && !strcmp(model + ml - 4, ".vir")) {   /* IR text (ir_parse) */
		FILE *f = fopen(model, "rb");
		char *text = NULL;
		long n = -1;
		if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
		    (text = malloc((size_t)n + 1)) && fread(text, 1, (size_t)n, f) == (size_t)n) {
			text[n] = 0;
			g = ir_parse(text, model, &d);
		} else {
			diag_set(&d, 2, "cannot read %s", model);
		}
		if (f)
			fclose(f);
		free(text);
	} else {
		g = onnx_load(model, &d);
	}
	if (!g)
		return fail(d.code ? d.code : 1, d.msg);
	PassCtx ctx = {.opt = opt, .diag = &d};
	if (pass_run_pipeline(g, &ctx) != 0) {
		ir_graph_free(g);
		return fail(d.code ? d.code : 1, d.msg);
	}
	rt_tensor *tin = calloc(g->nin + 1, sizeof *tin), *tref = calloc(g->nout + 1, sizeof *tref);
	KTensor *kin = calloc(g->nin + 1, sizeof *kin), *kout = calloc(g->nout + 1, sizeof *kout);
	int rc = 0;
	char path[4200], err[512];
	for (uint32_t i = 0; i < g->nin && !rc; i++) {
		snprintf(path, sizeof path, "%s/input_%u.pb", data, i);
		if (rt_tensor_read_file(path, &tin[i], err, sizeof err) != 0) {
			rc = fail(2, err);
			break;
		}
		const Value *v = &g->val[g->in[i]];
		kin[i].dt = tin[i].dtype == DT_U16 && v->dt == DT_BF16 ? DT_BF16 : tin[i].dtype;
		kin[i].rank = tin[i].rank;
		memcpy(kin[i].dims, tin[i].dims, sizeof kin[i].dims);
		kin[i].data = tin[i].data;
	}
	if (!rc && ir_eval(g, kin, kout, &d) != 0)
		rc = fail(1, d.msg);
	int worst = 0;
	for (uint32_t i = 0; i < g->nout && !rc; i++) {
		const Value *v = &g->val[g->out[i]];
		const char *name = v->name ? v->name : "?";
		if (outdir) {
			mkdir(outdir, 0777);
			rt_tensor t = {.name = (char *)name, .dtype = kout[i].dt, .rank = kout[i].rank,
			               .data = kout[i].data, .nbytes = kt_nbytes(&kout[i])};
			memcpy(t.dims, kout[i].dims, sizeof t.dims);
			snprintf(path, sizeof path, "%s/output_%u.pb", outdir, i);
			if (rt_tensor_write_file(path, &t, err, sizeof err) != 0)
				rc = fail(2, err);
		}
		snprintf(path, sizeof path, "%s/output_%u.pb", data, i);
		struct stat st;
		if (stat(path, &st) != 0)
			continue;
		if (rt_tensor_read_file(path, &tref[i], err, sizeof err) != 0) {
			rc = fail(2, err);
			break;
		}
		int c = compare((int)i, name, &kout[i], &tref[i], rtol, atol);
		worst = c > worst ? c : worst;
	}
	for (uint32_t i = 0; i < g->nin; i++) {
		free(tin[i].name);
		free(tin[i].data);
	}
	for (uint32_t i = 0; i < g->nout; i++) {
		free(tref[i].name);
		free(tref[i].data);
		free(kout[i].data);
	}
	free(tin);
	free(tref);
	free(kin);
	free(kout);
	ir_graph_free(g);
	return rc ? rc : worst;
}
