/* Building the device code of a GPU model.so, and --emit=cuda|ptx|hip|opencl.
 * OpenCL: the OpenCL C source is embedded (the platform builds it when a
 * context is created). NVIDIA: CUDA C -> PTX in-process with NVRTC (when
 * vibeec was built with the CUDA toolkit), then PTX -> cubin with ptxas
 * when present; both are embedded. AMD: HIP C++ -> code objects with
 * hipcc --genco for the target's arches, plus the HIP source for hiprtc.
 * The blobs become vibee_dev0..2 (each followed by a NUL byte) in the
 * model's assembly file. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "gpu.h"
#ifdef VIBEE_HAVE_NVRTC
#include <nvrtc.h>
#endif
#ifndef VIBEE_PTXAS_DEFAULT
#define VIBEE_PTXAS_DEFAULT "ptxas"
#endif

static const char *tool(const char *env, const char *dflt)
{
	const char *e = getenv(env);
	return e && *e ? e : dflt;
}

/* CUDA C -> PTX (malloc'd, NUL-terminated) for virtual arch varch */
static int nvrtc_ptx(const char *src, const char *varch, char **ptx, size_t *n, Diag *d)
{
	/* wgmma (sm_90a's tensor-core MatMul, render_gpu_mma.c) exists only in
	 * the arch-specific PTX target: such code is compiled for compute_90a */
	if (strcmp(varch, "compute_90") == 0 && strstr(src, "wgmma.mma_async"))
		varch = "compute_90a";
#ifdef VIBEE_HAVE_NVRTC
	nvrtcProgram prog;
	if (nvrtcCreateProgram(&prog, src, "model.cu", 0, NULL, NULL) != NVRTC_SUCCESS)
		return diag_set(d, E_MODEL, "NVRTC: cannot create a program");
	char arch[64];
	snprintf(arch, sizeof arch, "--gpu-architecture=%s", varch);
	const char *opts[] = {arch, "--std=c++17"};
	nvrtcResult r = nvrtcCompileProgram(prog, 2, opts);
	if (r != NVRTC_SUCCESS) {
		size_t ln = 0;
		nvrtcGetProgramLogSize(prog, &ln);
		char *lg = malloc(ln + 1);
		char first[320] = "";
		if (lg && nvrtcGetProgramLog(prog, lg) == NVRTC_SUCCESS) {
			lg[ln] = 0;
			char *e = strstr(lg, "error");
			if (e) {
				char *st = e;
				while (st > lg && st[-1] != '\n')
					st--;
				snprintf(first, sizeof first, "%.300s", st);
				first[strcspn(first, "\n")] = 0;
			}
		}
		free(lg);
		nvrtcDestroyProgram(&prog);
		return diag_set(d, E_MODEL, "NVRTC could not compile the generated CUDA C (%s): %s",
		                nvrtcGetErrorString(r), first);
	}
	nvrtcGetPTXSize(prog, n);
	*ptx = malloc(*n + 1);
	if (!*ptx || nvrtcGetPTX(prog, *ptx) != NVRTC_SUCCESS) {
		nvrtcDestroyProgram(&prog);
		return diag_set(d, E_MODEL, "NVRTC: cannot get the PTX");
	}
	(*ptx)[*n] = 0;
	*n = strlen(*ptx);
	nvrtcDestroyProgram(&prog);
	return E_OK;
#else
	(void)src; (void)varch; (void)ptx; (void)n;
	return diag_set(d, E_USAGE, "this vibeec was built without the CUDA toolkit (NVRTC): NVIDIA "
	                "targets are not available (rebuild with /usr/local/cuda present)");
#endif
}

static const char *form_of(const Target *t, int *dialect)
{
	*dialect = t->kind == TK_CUDA ? GD_CUDA : t->kind == TK_HIP ? GD_HIP : GD_OPENCL;
	return NULL;
}

int cg_gpu_emit(const Target *t, const CBuf *src, const char *form, const char *out, Diag *d)
{
	int dia;
	form_of(t, &dia);
	const char *s = src->s ? src->s : "";
	char *ptx = NULL;
	size_t n = strlen(s);
	int want = strcmp(form, "opencl") == 0 ? TK_OPENCL : strcmp(form, "hip") == 0 ? TK_HIP : TK_CUDA;
	if (want != t->kind)
		return diag_set(d, E_USAGE, "--emit=%s does not fit --target=%s (%s)", form, t->name,
		                t->desc);
	if (strcmp(form, "ptx") == 0) {
		if (t->kind != TK_CUDA)
			return diag_set(d, E_USAGE, "--emit=ptx needs an NVIDIA target (h100, h200, b100, a100)");
		int rc = nvrtc_ptx(s, t->varch, &ptx, &n, d);
		if (rc)
			return rc;
		s = ptx;
	}
	int rc;
	if (!out || strcmp(out, "-") == 0)
		rc = fwrite(s, 1, n, stdout) != n || fflush(stdout) ? diag_set(d, E_IO, "<stdout>: write error")
		                                                    : E_OK;
	else
		rc = cg_write_file(out, s, n, d);
	free(ptx);
	return rc;
}

static void incbin(CBuf *as, int i, const char *path)
{
	cb_printf(as, "\t.section .rodata.vibee_dev%d,\"a\",@progbits\n\t.balign 64\n"
	          "\t.globl vibee_dev%d\n\t.hidden vibee_dev%d\nvibee_dev%d:\n\t.incbin \"", i, i, i, i);
	for (const char *q = path; *q; q++)
		cb_printf(as, *q == '"' || *q == '\\' ? "\\%c" : "%c", *q);
	cb_printf(as, "\"\n\t.globl vibee_dev%d_end\n\t.hidden vibee_dev%d_end\nvibee_dev%d_end:\n"
	          "\t.byte 0\n", i, i, i);
}

int cg_gpu_build(const Target *t, const CBuf *src, const char *dir, CBuf *as, Diag *d)
{
	char f[3][4200], fs[4200], fl[4200];
	for (int i = 0; i < 3; i++)
		snprintf(f[i], sizeof f[i], "%s/dev%d.bin", dir, i);
	snprintf(fl, sizeof fl, "%s/dev.log", dir);
	const char *s = src->s ? src->s : "";
	size_t n = strlen(s);
	int rc = E_OK;
	const void *blob[3] = {"", "", ""};
	size_t nb[3] = {0, 0, 0};
	char *ptx = NULL, *mem[3] = {NULL, NULL, NULL};
	if (t->kind == TK_OPENCL) {
		blob[0] = s;
		nb[0] = n;
	} else if (t->kind == TK_CUDA) {
		size_t np = 0;
		if ((rc = nvrtc_ptx(s, t->varch, &ptx, &np, d)))
			return rc;
		blob[1] = ptx;
		nb[1] = np;
		snprintf(fs, sizeof fs, "%s/model.ptx", dir);
		if ((rc = cg_write_file(fs, ptx, np, d))) {
			free(ptx);
			return rc;
		}
		char arch[64];
		snprintf(arch, sizeof arch, "-arch=%s", t->arch);
		char *argv[] = {(char *)tool("VIBEE_PTXAS", VIBEE_PTXAS_DEFAULT), arch, fs, "-o", f[0], NULL};
		int st = cg_run_tool(argv, fl);
		if (st == 127) {
			fprintf(stderr, "vibeec: note: ptxas not found; the model carries PTX only (the "
			        "driver compiles it when a context is created)\n");
		} else if (st != 0) {
			char e[400];
			cg_first_error(fl, e, sizeof e);
			free(ptx);
			return diag_set(d, E_MODEL, "ptxas %s failed (exit %d): %s", arch, st, e);
		}
		unlink(fs);
		nb[0] = (size_t)-1;   /* written by ptxas (or absent: empty) */
	} else {
		snprintf(fs, sizeof fs, "%s/model.hip", dir);
		if ((rc = cg_write_file(fs, s, n, d)))
			return rc;
		blob[2] = s;
		nb[2] = n;
		const char *arches[2] = {t->arch, t->arch2};
		for (int i = 0; i < 2; i++) {
			nb[i] = (size_t)-1;
			if (!arches[i])
				continue;
			char oa[64];
			snprintf(oa, sizeof oa, "--offload-arch=%s", arches[i]);
			char *argv[] = {(char *)tool("VIBEE_HIPCC", "hipcc"), "--genco", oa, "-O3", fs, "-o",
			                f[i], NULL};
			int st = cg_run_tool(argv, fl);
			if (st == 127) {
				fprintf(stderr, "vibeec: note: hipcc not found; the model carries HIP source only "
				        "(hiprtc compiles it when a context is created)\n");
				break;
			} else if (st != 0) {
				char e[400];
				cg_first_error(fl, e, sizeof e);
				return diag_set(d, E_MODEL, "hipcc %s failed (exit %d): %s", oa, st, e);
			}
		}
		unlink(fs);
	}
	for (int i = 0; i < 3 && !rc; i++) {
		struct stat st;
		if (nb[i] == (size_t)-1 && stat(f[i], &st) == 0)
			;   /* built by a tool */
		else
			rc = cg_write_file(f[i], blob[i], nb[i] == (size_t)-1 ? 0 : nb[i], d);
		incbin(as, i, f[i]);
	}
	unlink(fl);
	free(ptx);
	for (int i = 0; i < 3; i++)
		free(mem[i]);
	return rc;
}
