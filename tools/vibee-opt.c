/* vibee-opt: runs passes over IR text, for testing passes in isolation:
 *   vibee-opt [-p pass1,pass2 | -O2] [--print-full] FILE.vir | FileCheck FILE.vir
 * Exit status: 0 ok, 1 the input is at fault, 2 usage or I/O. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir/ir.h"
#include "ir/text.h"
#include "ir/verify.h"
#include "frontend/onnx.h"
#include "passes/passes.h"

static const char usage[] =
"usage: vibee-opt [options] FILE.vir|FILE.onnx|-\n"
"  -p P1,P2,...       run these passes in order, then compact\n"
"  -O0 .. -O3         run the vibeec pipeline of that level\n"
"  --print-full       print every weight (hex), so the output parses back\n"
"  --print-after=PASS print the IR to stderr after PASS ('all': every pass)\n"
"  --verify-each      verify the IR after every pass\n"
"  --verify           verify the result (types required if a pass inferred them)\n"
"  --stats            per-pass time and node counts on stderr\n"
"passes:\n";

static int fail(int code, const char *msg)
{
	fprintf(stderr, "vibee-opt: %s\n", msg);
	return code;
}

static char *read_all(const char *path, Diag *d)
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
			char *b = cap < ((size_t)1 << 32) ? realloc(buf, cap * 2) : NULL;
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
	if (buf)
		buf[n] = 0;
	else
		diag_set(d, E_IO, "%s: out of memory or file too large", path);
	if (f != stdin)
		fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	const char *file = NULL, *plist = NULL;
	int opt = -1, full = 0, verify = 0;
	PassCtx ctx = {0};
	char msg[1200];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			for (const Pass *p = pass_table; p->name; p++)
				printf("  %-8s %s\n", p->name, p->what);
			return 0;
		} else if (strcmp(a, "-p") == 0) {
			if (++i >= argc)
				return fail(2, "-p needs a pass list (see --help)");
			plist = argv[i];
		} else if (strncmp(a, "-p", 2) == 0 && a[2]) {
			plist = a + 2;
		} else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) {
			opt = a[2] - '0';
		} else if (strcmp(a, "--print-full") == 0) {
			full = 1;
		} else if (strncmp(a, "--print-after=", 14) == 0) {
			ctx.print_after = a + 14;
		} else if (strcmp(a, "--verify-each") == 0) {
			ctx.verify_each = true;
		} else if (strcmp(a, "--verify") == 0) {
			verify = 1;
		} else if (strcmp(a, "--stats") == 0) {
			ctx.stats = true;
		} else if (a[0] == '-' && a[1]) {
			snprintf(msg, sizeof msg, "unknown option '%s' (see --help)", a);
			return fail(2, msg);
		} else if (file) {
			return fail(2, "more than one input given");
		} else {
			file = a;
		}
	}
	if (!file)
		return fail(2, "no input given (see --help)");
	if (plist && opt >= 0)
		return fail(2, "give either -p or -O, not both");

	/* split the pass list */
	const char *names[64];
	int nnames = 0;
	char *pl = plist ? strdup(plist) : NULL;
	for (char *s = pl, *tok; s && (tok = strsep(&s, ","));) {
		if (!*tok)
			continue;
		if (nnames == 63) {
			free(pl);
			return fail(2, "too many passes in -p");
		}
		if (!pass_find(tok)) {
			snprintf(msg, sizeof msg, "unknown pass '%s' (see --help)", tok);
			free(pl);
			return fail(2, msg);
		}
		names[nnames++] = tok;
	}
	names[nnames] = NULL;

	Diag d = {0};
	ctx.diag = &d;
	ctx.print_full = full;
	size_t n = strlen(file);
	Graph *g = NULL;
	if (n > 5 && strcmp(file + n - 5, ".onnx") == 0) {
		g = onnx_load(file, &d);
	} else {
		char *text = read_all(file, &d);
		if (text)
			g = ir_parse(text, file, &d);
		free(text);
	}
	if (!g) {
		free(pl);
		return fail(d.code == E_IO ? 2 : 1, d.code ? d.msg : "cannot read the input");
	}
	int rc = 0;
	if (opt >= 0) {
		ctx.opt = opt;
		rc = pass_run_pipeline(g, &ctx);
	} else if (nnames) {
		rc = pass_run(g, names, &ctx);
	}
	if (ctx.stats)
		pass_print_stats(&ctx);
	if (!rc && verify) {
		bool typed = opt >= 0;
		for (int i = 0; i < nnames; i++)
			typed |= strcmp(names[i], "infer") == 0;
		rc = ir_verify_opts(g, typed, &d);
	}
	free(pl);
	if (rc) {
		ir_graph_free(g);
		return fail(d.code == E_IO || d.code == E_USAGE ? 2 : 1, d.msg);
	}
	ir_print_opts(stdout, g, full);
	ir_graph_free(g);
	return fflush(stdout) ? 2 : 0;
}
