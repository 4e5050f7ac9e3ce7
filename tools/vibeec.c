/* vibeec: the compiler driver. Parses flags, loads an ONNX model (or IR
 * text), runs the -O pipeline and hands the graph to the code generator.
 * Exit status: 0 ok, 1 the model is at fault, 2 usage or I/O. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ir/ir.h"
#include "ir/text.h"
#include "frontend/onnx.h"
#include "passes/passes.h"
#include "codegen/codegen.h"
#include "targets/target.h"

static const char usage[] =
"usage: vibeec MODEL.onnx|MODEL.vir [options]\n"
"  -o OUT             output file ('-' = stdout); default: MODEL's name with\n"
"                     .so (or .c) in the current directory; --emit=ir: stdout\n"
"  --target=NAME      target machine (default: the host cpu)\n"
"  -O0 .. -O3         optimisation level (default -O2)\n"
"  --precision=fp32|tf32|fp16|bf16  GPU targets: operands of f32 MatMul\n"
"                     rounded to this (tensor cores), fp32 accumulation\n"
"                     (default fp32: exact)\n"
"  --emit=so|c|ir     what to write (default so)\n"
"  --emit=cuda|ptx|hip|opencl  the device code of a GPU target (with\n"
"                     no --target: h100 for cuda/ptx, mi300x for hip)\n"
"  --print-after=PASS print the IR to stderr after PASS ('all': every pass)\n"
"  --print-full       IR dumps include every weight (hex)\n"
"  --verify-each      verify the IR after every pass\n"
"  --stats            per-pass time and node counts on stderr\n"
"  --keep-temps       keep the generated C and build files\n"
"  --check            list every unsupported node (name, op, opset, reason)\n"
"                     without compiling; exit 0 if none, 1 otherwise\n"
"  --help             this text\n";

static int fail(int code, const char *msg)
{
	fprintf(stderr, "vibeec: %s\n", msg);
	return code;
}

static int exit_code(const Diag *d)
{
	return d->code == E_IO ? 2 : 1;
}

static int ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Read a whole file (for IR text); NULL with a message in d on failure. */
static char *read_file(const char *path, Diag *d)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) {
		diag_set(d, E_IO, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	size_t n = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	while (buf) {
		if (n + 1 >= cap) {
			if (cap >= ((size_t)1 << 32)) {
				free(buf);
				buf = NULL;
				diag_set(d, E_IO, "%s: file too large", path);
				break;
			}
			char *b = realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	if (buf && ferror(f)) {
		diag_set(d, E_IO, "%s: read error", path);
		free(buf);
		buf = NULL;
	}
	if (!buf && !d->code)
		diag_set(d, E_IO, "%s: out of memory", path);
	if (buf)
		buf[n] = 0;
	if (f != stdin)
		fclose(f);
	return buf;
}

/* Load MODEL: IR text if it ends in .vir, else ONNX. */
static Graph *load(const char *path, Diag *d)
{
	if (ends_with(path, ".vir") || strcmp(path, "-") == 0) {
		char *text = read_file(path, d);
		if (!text)
			return NULL;
		Graph *g = ir_parse(text, path, d);
		free(text);
		return g;
	}
	return onnx_load(path, d);
}

/* "dir/name.onnx" -> "name<ext>" (malloc'd). */
static char *default_out(const char *model, const char *ext)
{
	const char *base = strrchr(model, '/');
	base = base ? base + 1 : model;
	const char *dot = strrchr(base, '.');
	size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	char *r = malloc(n + strlen(ext) + 1);
	if (r) {
		memcpy(r, base, n);
		strcpy(r + n, ext);
	}
	return r;
}

/* Copy file `path` to stdout (for `--emit=so -o -`). */
static int cat_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	char buf[65536];
	size_t r;
	int rc = 0;
	while ((r = fread(buf, 1, sizeof buf, f)) > 0)
		if (fwrite(buf, 1, r, stdout) != r)
			rc = -1;
	fclose(f);
	return rc || fflush(stdout) ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *model = NULL, *out = NULL, *target = NULL, *emit = "so";
	PassCtx ctx = {.opt = 2};
	int keep_temps = 0, check = 0, precision = 0;
	static const char *const precs[] = {"fp32", "tf32", "fp16", "bf16"};   /* KPREC_* */
	char msg[1200];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(a, "-o") == 0) {
			if (++i >= argc)
				return fail(2, "-o needs a file name (see --help)");
			out = argv[i];
		} else if (strncmp(a, "-o", 2) == 0 && a[2]) {
			out = a + 2;
		} else if (strncmp(a, "--target=", 9) == 0) {
			target = a + 9;
		} else if (strncmp(a, "--precision=", 12) == 0) {
			for (precision = 3; precision >= 0 && strcmp(a + 12, precs[precision]); precision--)
				;
			if (precision < 0) {
				snprintf(msg, sizeof msg, "unknown --precision=%s (fp32, tf32, fp16 or bf16)", a + 12);
				return fail(2, msg);
			}
		} else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) {
			ctx.opt = a[2] - '0';
		} else if (strncmp(a, "--emit=", 7) == 0) {
			emit = a + 7;
			if (strcmp(emit, "so") && strcmp(emit, "c") && strcmp(emit, "ir") &&
			    strcmp(emit, "cuda") && strcmp(emit, "ptx") && strcmp(emit, "hip") &&
			    strcmp(emit, "opencl")) {
				snprintf(msg, sizeof msg, "unknown --emit=%s (so, c, ir, cuda, ptx, hip or opencl)", emit);
				return fail(2, msg);
			}
		} else if (strncmp(a, "--print-after=", 14) == 0) {
			ctx.print_after = a + 14;
			if (strcmp(ctx.print_after, "all") && !pass_find(ctx.print_after)) {
				snprintf(msg, sizeof msg, "unknown pass '%s' in --print-after", ctx.print_after);
				return fail(2, msg);
			}
		} else if (strcmp(a, "--print-full") == 0) {
			ctx.print_full = true;
		} else if (strcmp(a, "--verify-each") == 0) {
			ctx.verify_each = true;
		} else if (strcmp(a, "--stats") == 0) {
			ctx.stats = true;
		} else if (strcmp(a, "--keep-temps") == 0) {
			keep_temps = 1;
		} else if (strcmp(a, "--check") == 0) {
			check = 1;
		} else if (a[0] == '-' && a[1]) {
			snprintf(msg, sizeof msg, "unknown option '%s' (see --help)", a);
			return fail(2, msg);
		} else if (model) {
			return fail(2, "more than one model given (see --help)");
		} else {
			model = a;
		}
	}
	if (!model)
		return fail(2, "no model given (see --help)");

	Diag d = {0};
	ctx.diag = &d;
	if (check) {
		if (ends_with(model, ".vir") || strcmp(model, "-") == 0)
			return fail(2, "--check takes an ONNX model");
		int bad = onnx_check(model, stdout, &d);
		if (bad < 0)
			return fail(exit_code(&d), d.code ? d.msg : "cannot load the model");
		if (bad)
			fprintf(stderr, "vibeec: %s: %d unsupported node%s\n", model, bad,
			        bad == 1 ? "" : "s");
		return bad ? 1 : 0;
	}
	Graph *g = load(model, &d);
	if (!g)
		return fail(exit_code(&d), d.code ? d.msg : "cannot load the model");
	int is_dev = strcmp(emit, "cuda") == 0 || strcmp(emit, "ptx") == 0 ||
	             strcmp(emit, "hip") == 0 || strcmp(emit, "opencl") == 0;
	const Target *tg = target && *target ? target_find(target) : NULL;
	ctx.device = is_dev || (tg && tg->kind != TK_CPU);
	int rc = pass_run_pipeline(g, &ctx);
	if (ctx.stats)
		pass_print_stats(&ctx);
	if (rc) {
		rc = fail(d.code == E_USAGE || d.code == E_IO ? 2 : 1, d.msg);
		ir_graph_free(g);
		return rc;
	}

	char *dflt = NULL;
	if (strcmp(emit, "ir") == 0) {
		FILE *f = !out || strcmp(out, "-") == 0 ? stdout : fopen(out, "w");
		if (!f) {
			snprintf(msg, sizeof msg, "%s: cannot write: %s", out, strerror(errno));
			ir_graph_free(g);
			return fail(2, msg);
		}
		ir_print_opts(f, g, ctx.print_full);
		int bad = f == stdout ? fflush(f) != 0 : fclose(f) != 0;
		ir_graph_free(g);
		if (bad) {
			snprintf(msg, sizeof msg, "%s: write error", out ? out : "<stdout>");
			return fail(2, msg);
		}
		return 0;
	}
	if (is_dev && (!target || !*target || strcmp(target, "cpu") == 0))   /* a default GPU */
		target = emit[0] == 'h' ? "mi300x" : emit[0] == 'o' ? "opencl" : "h100";
	int is_c = strcmp(emit, "c") == 0 || is_dev;
	if (!out) {
		out = dflt = default_out(model, !is_dev ? (is_c ? ".c" : ".so") : emit[0] == 'c' ? ".cu" :
		                         emit[0] == 'p' ? ".ptx" : emit[0] == 'h' ? ".hip" : ".cl");
		if (!out) {
			ir_graph_free(g);
			return fail(2, "out of memory");
		}
	}
	char tmp[] = "/tmp/vibeec-XXXXXX.so";
	int to_stdout = !is_c && strcmp(out, "-") == 0;
	if (to_stdout) {   /* the code generator writes a file; copy it out */
		int fd = mkstemps(tmp, 3);
		if (fd < 0) {
			ir_graph_free(g);
			return fail(2, "cannot create a temporary file");
		}
		close(fd);
		out = tmp;
	}
	CgOptions co = {.target = target, .out = out,
	                .emit = is_dev ? CG_EMIT_DEV : is_c ? CG_EMIT_C : CG_EMIT_SO, .dev_form = emit,
	                .opt = ctx.opt, .cc = NULL, .keep_temps = keep_temps, .stats = ctx.stats,
	                .precision = precision};
	rc = cg_compile(g, &co, &d);
	if (!rc && to_stdout && cat_file(tmp) != 0)
		rc = diag_set(&d, E_IO, "<stdout>: write error");
	if (to_stdout)
		unlink(tmp);
	ir_graph_free(g);
	free(dflt);
	if (rc)
		return fail(d.code == E_IO || d.code == E_USAGE ? 2 : 1,
		            d.code ? d.msg : "code generation failed");
	return 0;
}
