/* cg_compile: lower, plan, emit C, and build one self-contained model.so:
 * model.c + weights.S (.incbin of weights.bin, never C array text) + the
 * kernel library archive, with a version script so exactly one dynamic
 * symbol (vibee_model) is exported. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "codegen.h"
#include "emit.h"
#include "fused.h"
#include "subgraph.h"
#include "gpu.h"
#include "../targets/target.h"

static bool exists(const char *p)
{
	struct stat st;
	return p && stat(p, &st) == 0;
}

/* Locate libvibeekern.a and the include root (holding ir/ and runtime/). */
static int find_kit(char *lib, char *inc, size_t n, Diag *d)
{
	const char *home = getenv("VIBEE_HOME");
	if (home && *home) {
		const char *libs[] = {"lib/libvibeekern.a", "build/libvibeekern.a", "libvibeekern.a"};
		const char *incs[] = {"include", "."};
		lib[0] = inc[0] = 0;
		for (int i = 0; i < 3 && !lib[0]; i++) {
			snprintf(lib, n, "%s/%s", home, libs[i]);
			if (!exists(lib))
				lib[0] = 0;
		}
		for (int i = 0; i < 2 && !inc[0]; i++) {
			char t[4096];
			snprintf(inc, n, "%s/%s", home, incs[i]);
			snprintf(t, sizeof t, "%s/ir/kern.h", inc);
			if (!exists(t))
				inc[0] = 0;
		}
		if (lib[0] && inc[0])
			return E_OK;
		return diag_set(d, E_IO, "VIBEE_HOME=%s: no %s found there", home,
		                lib[0] ? "include/ir/kern.h" : "lib/libvibeekern.a");
	}
#if defined(VIBEE_KERN_LIB) && defined(VIBEE_INCLUDE_DIR)
	snprintf(lib, n, "%s", VIBEE_KERN_LIB);
	snprintf(inc, n, "%s", VIBEE_INCLUDE_DIR);
	if (!exists(lib))
		return diag_set(d, E_IO, "kernel library %s not found (build it, or set VIBEE_HOME)", lib);
	return E_OK;
#else
	return diag_set(d, E_IO, "kernel library not found: set VIBEE_HOME");
#endif
}

int cg_write_file(const char *path, const void *p, size_t n, Diag *d)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return diag_set(d, E_IO, "%s: %s", path, strerror(errno));
	bool bad = n && fwrite(p, 1, n, f) != n;
	bad |= fclose(f) != 0;
	return bad ? diag_set(d, E_IO, "%s: write error", path) : E_OK;
}

static int write_weights(const KProg *p, const Plan *pl, const char *path, Diag *d)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return diag_set(d, E_IO, "%s: %s", path, strerror(errno));
	static const char zero[64];
	uint64_t at = 0;
	bool bad = false;
	/* constants were given increasing offsets in slot order */
	for (uint32_t s = 0; s < pl->nslot && !bad; s++) {
		if (pl->kind[s] != SL_CONST)
			continue;
		while (at < pl->off[s] && !bad) {
			size_t k = pl->off[s] - at > 64 ? 64 : (size_t)(pl->off[s] - at);
			bad = fwrite(zero, 1, k, f) != k;
			at += k;
		}
		const Value *v = &p->g->val[pl->owner[s]];
		if (pl->bytes[s])
			bad |= fwrite(v->data, 1, pl->bytes[s], f) != pl->bytes[s];
		at += pl->bytes[s];
	}
	bad |= fclose(f) != 0;
	return bad ? diag_set(d, E_IO, "%s: write error", path) : E_OK;
}

int cg_run_tool(char *const *argv, const char *log)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		FILE *f = freopen(log, "w", stderr);
		if (f)
			dup2(fileno(stderr), 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void cg_first_error(const char *log, char *out, size_t n)
{
	out[0] = 0;
	FILE *f = fopen(log, "r");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof line, f)) {
		if (strstr(line, "error") || strstr(line, "undefined")) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, n, "%.300s", line);
			break;
		}
	}
	fclose(f);
}

static void rmtree(const char *dir)
{
	const char *names[] = {"model.c", "weights.bin", "weights.S", "vibee.map", "cc.log",
	                       "dev0.bin", "dev1.bin", "dev2.bin"};
	char p[4096];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		unlink(p);
	}
	for (int i = 0; i < CG_MAX_SUBS; i++) {   /* compiled subgraphs (subgraph.h) */
		snprintf(p, sizeof p, "%s/sub%d.c", dir, i);
		unlink(p);
		snprintf(p, sizeof p, "%s/sub%d.bin", dir, i);
		unlink(p);
	}
	rmdir(dir);
}

static int build_so(const CgOptions *o, const Target *t, const KProg *p, const Plan *pl,
                    const CBuf *c, const CBuf *dev, Diag *d)
{
	char lib[4096], inc[4096];
	int rc = find_kit(lib, inc, sizeof lib, d);
	if (rc)
		return rc;
	const char *tmp = getenv("TMPDIR");
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/vibeec-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return diag_set(d, E_IO, "cannot create a build directory in %s: %s",
		                tmp && *tmp ? tmp : "/tmp", strerror(errno));
	char fc[4200], fw[4200], fs[4200], fm[4200], fl[4200], incf[4200], map[4300];
	snprintf(fc, sizeof fc, "%s/model.c", dir);
	snprintf(fw, sizeof fw, "%s/weights.bin", dir);
	snprintf(fs, sizeof fs, "%s/weights.S", dir);
	snprintf(fm, sizeof fm, "%s/vibee.map", dir);
	snprintf(fl, sizeof fl, "%s/cc.log", dir);
	snprintf(incf, sizeof incf, "-I%s", inc);
	snprintf(map, sizeof map, "-Wl,--version-script=%s", fm);
	CBuf s = {0};
	cb_puts(&s, "\t.section .rodata.vibee_weights,\"a\",@progbits\n\t.balign 64\n"
	        "\t.globl vibee_weights\n\t.hidden vibee_weights\n\t.type vibee_weights, @object\n"
	        "vibee_weights:\n\t.incbin \"");
	for (const char *q = fw; *q; q++)
		cb_printf(&s, *q == '"' || *q == '\\' ? "\\%c" : "%c", *q);
	cb_puts(&s, "\"\n\t.byte 0\n\t.size vibee_weights, .-vibee_weights\n"
	        "\t.section .note.GNU-stack,\"\",@progbits\n");
	/* compiled subgraphs: sub<i>.c and their weights vibee_weights_s<i> */
	char subc[CG_MAX_SUBS][4200];
	int nsub = 0;
	for (int i = 0; p->subs && i < p->subs->n && !rc; i++) {
		const CgSub *x = &p->subs->s[i];
		if (!x->c.n)
			continue;
		char fb[4200];
		snprintf(subc[nsub], sizeof subc[nsub], "%s/sub%d.c", dir, i);
		snprintf(fb, sizeof fb, "%s/sub%d.bin", dir, i);
		if ((rc = cg_write_file(subc[nsub], x->c.s, x->c.n, d)) || (rc = write_weights(&x->p, &x->pl, fb, d)))
			break;
		nsub++;
		cb_printf(&s, "\t.section .rodata.vibee_weights_s%d,\"a\",@progbits\n\t.balign 64\n"
		          "\t.globl vibee_weights_s%d\n\t.hidden vibee_weights_s%d\n"
		          "vibee_weights_s%d:\n\t.incbin \"", i, i, i, i);
		for (const char *q = fb; *q; q++)
			cb_printf(&s, *q == '"' || *q == '\\' ? "\\%c" : "%c", *q);
		cb_puts(&s, "\"\n\t.byte 0\n");
	}
	if (rc) {
		cb_free(&s);
		rmtree(dir);
		return rc;
	}
	const char *mapt = "{\n\tglobal: vibee_model;\n\tlocal: *;\n};\n";
	if (t->kind != TK_CPU && (rc = cg_gpu_build(t, dev, dir, &s, d))) {   /* device code blobs */
		cb_free(&s);
		rmtree(dir);
		return rc;
	}
	if ((rc = cg_write_file(fc, c->s, c->n, d)) || (rc = write_weights(p, pl, fw, d)) ||
	    (rc = cg_write_file(fs, s.s, s.n, d)) || (rc = cg_write_file(fm, mapt, strlen(mapt), d))) {
		cb_free(&s);
		rmtree(dir);
		return rc;
	}
	cb_free(&s);
	const char *cc = o->cc ? o->cc : getenv("CC");
	if (!cc || !*cc)
		cc = "cc";
	char march[128], olev[8];
	snprintf(march, sizeof march, "-march=%s", t->isa);
	snprintf(olev, sizeof olev, "-O%d", o->opt <= 0 ? 1 : o->opt == 1 ? 2 : 3);
	char *argv[40 + CG_MAX_SUBS];
	int a = 0;
	argv[a++] = (char *)cc;
	argv[a++] = olev;
	argv[a++] = march;
	argv[a++] = "-std=gnu11";
	argv[a++] = "-fPIC";
	argv[a++] = "-shared";
	argv[a++] = "-fvisibility=hidden";
	argv[a++] = "-fwrapv";
	argv[a++] = "-fno-math-errno";
	argv[a++] = "-fopenmp-simd";   /* the simd reductions of render_c.c */
	argv[a++] = "-w";
	argv[a++] = incf;
	argv[a++] = "-o";
	argv[a++] = (char *)o->out;
	argv[a++] = fc;
	argv[a++] = fs;
	for (int i = 0; i < nsub; i++)
		argv[a++] = subc[i];
	argv[a++] = "-Wl,--whole-archive";
	argv[a++] = lib;
	argv[a++] = "-Wl,--no-whole-archive";
	argv[a++] = map;
	argv[a++] = "-Wl,-z,noexecstack";
	argv[a++] = "-lm";
	argv[a++] = "-lpthread";
#ifdef VIBEE_CC_SANITIZE
	/* a sanitizer build (VIBEE_SANITIZE=ON) instruments each model.so too */
	char san[] = VIBEE_CC_SANITIZE, *sp = NULL;
	for (char *q = strtok_r(san, " ", &sp); q && a < 38; q = strtok_r(NULL, " ", &sp))
		argv[a++] = q;
#endif
	argv[a] = NULL;
	int st = cg_run_tool(argv, fl);
	if (st != 0) {
		char e[600];
		cg_first_error(fl, e, sizeof e);
		rc = diag_set(d, E_IO, "C compiler '%s' failed (exit %d)%s%s; build kept in %s", cc, st,
		              e[0] ? ": " : "", e, dir);
		return rc;
	}
	if (o->keep_temps)
		fprintf(stderr, "vibeec: build directory kept: %s\n", dir);
	else
		rmtree(dir);
	return E_OK;
}

/* Every tensor whose size is known at compile time must fit in
 * CG_MAX_TENSOR_BYTES (the static factor of a symbolic shape too): the
 * planner and the generated code compute offsets in 64-bit arithmetic, and
 * a model may ask for dims whose product overflows it. */
#define CG_MAX_TENSOR_BYTES ((uint64_t)1 << 40)
static int check_sizes(const Graph *g, Diag *d)
{
	for (uint32_t i = 0; i < g->nval; i++) {
		const Value *v = &g->val[i];
		uint64_t n = dt_size(v->dt) ? dt_size(v->dt) : 1;
		bool over = false;
		for (int j = 0; j < v->shape.rank && !over; j++)
			if (v->shape.d[j] >= 0)
				over = __builtin_mul_overflow(n, (uint64_t)v->shape.d[j], &n);
		if (over || n > CG_MAX_TENSOR_BYTES)
			return diag_set(d, E_MODEL, "%s: value '%s' (%s, rank %d) is larger "
			                "than the %llu bytes a tensor may take", g->source,
			                v->name ? v->name : "?", dt_name(v->dt), v->shape.rank,
			                (unsigned long long)CG_MAX_TENSOR_BYTES);
	}
	return E_OK;
}

/* Is kernel i a CALL of a fused library kernel rather than a reference kernel? */
static bool is_fused_call(const KProg *p, int i)
{
	return p->k[i].kind == KK_CALL && cg_fused_kernel_node(p->g, &p->g->node[p->k[i].node]) != NULL;
}

int cg_compile(Graph *g, const CgOptions *o, Diag *d)
{
	const Target *t = target_find(o->target);
	if (!t)
		return diag_set(d, E_USAGE, "unknown target '%s' (known targets: %s)", o->target,
		                target_names());
	for (uint32_t i = 0; i < g->nin; i++) {
		const Value *v = &g->val[g->in[i]];
		if (v->dt == DT_UNDEF || v->shape.rank < 0)
			return diag_set(d, E_MODEL, "%s: input '%s' has no type or shape", g->source,
			                v->name ? v->name : "?");
	}
	if (check_sizes(g, d))
		return d->code;
	KProg p = {0};
	p.opt = o->opt;
	p.vec = t->vector_bytes;
	p.gpu = t->kind != TK_CPU;
	p.prec = o->precision;
	p.wgmma = t->kind == TK_CUDA && t->arch && strcmp(t->arch, "sm_90a") == 0;
	p.warp = (t->kind == TK_CUDA || t->kind == TK_HIP) && t->gpu ? t->gpu->warp : 0;
	if (p.prec != KPREC_FP32 && !p.gpu)
		return diag_set(d, E_USAGE, "--precision other than fp32 applies to GPU targets only "
		                "(target '%s')", t->name);
	Plan pl = {0};
	CBuf c = {0}, dev = {0};
	GProg gp = {0};
	GpuHost gh = {&gp, t->kind, NULL};
	char isa[200];
	int rc = cg_lower(g, &p, d);
	if (!rc)
		rc = cg_plan(&p, &pl, d);
	if (!rc && p.gpu && !(rc = cg_gpu_map(&p, &gp, t->gpu ? t->gpu->block_threads : 256, d))) {
		gp.dialect = t->kind == TK_CUDA ? GD_CUDA : t->kind == TK_HIP ? GD_HIP : GD_OPENCL;
		cg_gpu_render(&dev, &p, &gp);
		int ncall = 0;
		for (int i = 0; i < p.nk; i++)
			ncall += p.k[i].kind == KK_CALL;
		snprintf(isa, sizeof isa, "%s%s%s; %d device kernels; %d reference kernels on the host "
		         "(explicit copies)", t->kind == TK_OPENCL ? "OpenCL C" : t->kind == TK_CUDA ?
		         "PTX/cubin " : "HIP code objects ", t->arch ? t->arch : "",
		         t->kind == TK_OPENCL ? "" : "", gp.nl, ncall);
		static const char *const prec[] = {"fp32", "tf32", "fp16", "bf16"};   /* KPREC_* */
		if (p.prec != KPREC_FP32)
			snprintf(isa + strlen(isa), sizeof isa - strlen(isa), "; f32 MatMul operands %s, "
			         "fp32 accumulation", prec[p.prec]);
	}
	CgSubs subs = {.target = t->name, .isa = t->isa};
	if (!rc && !p.gpu) {   /* If / Loop bodies as generated kernels where they compile */
		p.subs = &subs;
		cg_subs_mark(&subs, &p);
	}
	if (!rc) {
		EmitInfo ei = {t->name, p.gpu ? isa : t->isa, strcmp(t->isa, "x86-64-v3") == 0,
		               p.gpu ? &gh : NULL};
		rc = cg_emit_c(&c, &p, &pl, &ei, d);
	}
	if (!rc && o->stats) {
		int nloop = 0, ncall = 0, nlib = 0;
		/* a CALL of a fused library kernel (codegen/fused.c) is a library kernel */
		for (int i = 0; i < p.nk; i++)
			p.k[i].kind == KK_LIB || is_fused_call(&p, i) ? nlib++ :
			p.k[i].kind == KK_CALL ? ncall++ : nloop++;
		fprintf(stderr, "vibeec: %d kernels (%d loop, %d library, %d reference calls), workspace "
		        "%llu bytes (%llu without reuse), weights %llu bytes\n", p.nk, nloop, nlib, ncall,
		        (unsigned long long)pl.ws_bytes, (unsigned long long)pl.naive_bytes,
		        (unsigned long long)pl.w_bytes);
		if (ncall) {          /* which ops are reference calls */
			fprintf(stderr, "vibeec: reference calls:");
			for (int i = 0; i < p.nk; i++)
				if (p.k[i].kind == KK_CALL && !is_fused_call(&p, i))
					fprintf(stderr, " %s", ir_op_name(g->node[p.k[i].node].op));
			fprintf(stderr, "\n");
		}
		if (p.gpu)
			fprintf(stderr, "vibeec: %s: %s\n", t->name, isa);
	}
	if (!rc && o->emit == CG_EMIT_DEV) {
		rc = p.gpu ? cg_gpu_emit(t, &dev, o->dev_form, o->out, d)
		           : diag_set(d, E_USAGE, "--emit=%s needs a GPU target", o->dev_form);
	} else if (!rc && o->emit == CG_EMIT_C) {
		if (!o->out || strcmp(o->out, "-") == 0) {
			if (fwrite(c.s, 1, c.n, stdout) != c.n || fflush(stdout))
				rc = diag_set(d, E_IO, "<stdout>: write error");
		} else {
			rc = cg_write_file(o->out, c.s, c.n, d);
		}
	} else if (!rc) {
		CgOptions oo = *o;
		if (!oo.out || strcmp(oo.out, "-") == 0)
			oo.out = "model.so";
		rc = build_so(&oo, t, &p, &pl, &c, &dev, d);
	}
	cb_free(&c);
	cb_free(&dev);
	cg_gpu_free(&gp);
	cg_plan_free(&pl);
	kir_prog_free(&p);
	cg_subs_free(&subs);
	return rc;
}
