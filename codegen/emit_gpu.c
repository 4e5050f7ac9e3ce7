/* Host code of a GPU model.so (hooks called by emit.c). Every buffer slot
 * keeps its host storage (as on the CPU) plus a device copy: weights in
 * one device buffer uploaded when the context is created, the planned
 * workspace in another, inputs and run-time sized values in buffers of the
 * run. Two flags per slot say which copies are current: a loop kernel's
 * launch stub uploads what the device lacks and marks what it writes as
 * device-only; a CALL kernel (a reference kernel, run on the host: there is
 * no device version of those) first downloads what it reads and marks what
 * it writes as host-only; outputs are downloaded at the end of a run.
 * run_device (device-resident I/O, runtime/vibee.h) adopts the caller's
 * input buffers as the inputs' device copies (host copies are staging
 * buffers of the run, filled only if a host kernel reads them) and returns
 * each output as a device buffer of its own, copied on the device. */
#include <stdlib.h>
#include <string.h>
#include "gpu.h"
#include "render.h"
#include "../runtime/vdev.h"

static void dimc(CBuf *b, Dim d)
{
	if (d >= 0)
		cb_printf(b, "%lldLL", (long long)d);
	else
		cb_printf(b, "r->dv[%u]", DIM_IDX(d));
}

/* bytes of value v as a C expression (0 when a dim is unknown/negative) */
static void vbytes(CBuf *b, const Graph *g, uint32_t v)
{
	const Value *x = &g->val[v];
	cb_printf(b, "vnb(%zu, %d, (const int64_t[]){", dt_size(x->dt) ? dt_size(x->dt) : 1,
	          x->shape.rank);
	for (int i = 0; i < x->shape.rank; i++) {
		cb_puts(b, i ? ", " : "");
		dimc(b, x->shape.d[i]);
	}
	cb_printf(b, "%s})", x->shape.rank ? "" : "0");
}

/* host C of an integer launch-extent expression */
static void hx(CBuf *b, const Kernel *k, int e)
{
	const KExpr *x = &k->x[e];
	switch (x->op) {
	case KX_CONST: cb_printf(b, "%lldLL", (long long)x->i); return;
	case KX_DIM: dimc(b, x->i); return;
	case KX_BIN: {
		const char *op = x->fn == KB_ADD ? "+" : x->fn == KB_SUB ? "-" : x->fn == KB_MUL ? "*"
		                 : x->fn == KB_DIV ? "/" : NULL;
		if (op) {
			cb_puts(b, "(");
			hx(b, k, x->a);
			cb_printf(b, " %s ", op);
			hx(b, k, x->b);
			cb_puts(b, ")");
			return;
		}
		if (x->fn == KB_MIN || x->fn == KB_MAX) {
			cb_printf(b, "v%s64(", x->fn == KB_MIN ? "min" : "max");
			hx(b, k, x->a);
			cb_puts(b, ", ");
			hx(b, k, x->b);
			cb_puts(b, ")");
			return;
		}
		break;
	}
	case KX_CAST: hx(b, k, x->a); return;
	}
	cb_puts(b, "0 /* not host-computable */");
}

static const char *api_name(int kind)
{
	return kind == TK_OPENCL ? "VDEV_OPENCL" : kind == TK_CUDA ? "VDEV_CUDA" : "VDEV_HIP";
}

void cg_gpu_ctx_fields(CBuf *b, const Plan *pl)
{
	uint32_t n = pl->nslot ? pl->nslot : 1;
	cb_puts(b, "\tint devio, ndout;\n\tvoid **dout;\n");   /* run_device: mode, output buffers */
	cb_printf(b, "\tvdev *dev;\n\tvoid *dw, *dws, *dbad;\n\tvoid *dm[%u];\n\tuint64_t doff[%u];\n"
	          "\tuint64_t dcap[%u];\n\tunsigned char hv[%u], dvv[%u], drun[%u];\n",
	          n, n, n, n, n, n);
}

/* helpers, once, after vfail */
void cg_gpu_helpers(CBuf *b, const GpuHost *h)
{
	cb_puts(b, "extern const unsigned char vibee_dev0[], vibee_dev0_end[], vibee_dev1[], "
	        "vibee_dev1_end[], vibee_dev2[], vibee_dev2_end[] __attribute__((visibility(\"hidden\")));\n");
	cb_puts(b, "static const char *const vk_names[] = {");
	const GProg *gp = h->gp;
	for (int i = 0; i < gp->nl; i++) {
		char kn[64];
		cg_gpu_kname(kn, sizeof kn, &gp->l[i], i - gp->first[gp->l[i].src]);
		cb_printf(b, "%s\"%s\"", i ? ", " : "", kn);
	}
	cb_printf(b, "%s};\n", gp->nl ? "" : "0");
	cb_puts(b,
	"static int64_t vmin64(int64_t a, int64_t b) { return a < b ? a : b; }\n"
	"static int64_t vmax64(int64_t a, int64_t b) { return a > b ? a : b; }\n"
	"static size_t vnb(size_t es, int rank, const int64_t *d)\n{\n\tsize_t n = es;\n"
	"\tfor (int i = 0; i < rank; i++)\n\t\tn = d[i] > 0 ? n * (size_t)d[i] : 0;\n\treturn n;\n}\n"
	"/* slot s current on the host */\n"
	"static int vh_get(struct vibee_ctx *r, unsigned s, size_t n)\n{\n"
	"\tif (!r->hv[s] && r->dvv[s] && n && r->buf[s] && r->dm[s]) {\n"
	"\t\tint rc = vdev_read(r->dev, r->dm[s], r->doff[s], r->buf[s], n, r->err, r->errlen);\n"
	"\t\tif (rc)\n\t\t\treturn rc;\n\t}\n\tr->hv[s] = 1;\n\treturn 0;\n}\n"
	"/* slot s current on the device (n bytes); a per-run buffer that is too\n"
	" * small is replaced, its contents kept through the host copy */\n"
	"static int vd_get(struct vibee_ctx *r, unsigned s, size_t n)\n{\n"
	"\tif (r->drun[s] && r->dcap[s] < n) {\n\t\tint rc = vh_get(r, s, r->dcap[s]);\n"
	"\t\tif (rc)\n\t\t\treturn rc;\n\t\tvdev_free(r->dev, r->dm[s]);\n\t\tr->dm[s] = NULL;\n"
	"\t\tr->dvv[s] = 0;\n\t}\n"
	"\tif (!r->dm[s]) {\n\t\tif (!(r->dm[s] = vdev_alloc(r->dev, n)))\n"
	"\t\t\treturn vfail(r, 4, \"device out of memory (%zu bytes)\", n);\n"
	"\t\tr->doff[s] = 0;\n\t\tr->dcap[s] = n;\n\t\tr->drun[s] = 1;\n\t}\n"
	"\tif (r->hv[s] && !r->dvv[s] && n && r->buf[s]) {\n"
	"\t\tint rc = vdev_write(r->dev, r->dm[s], r->doff[s], r->buf[s], n, r->err, r->errlen);\n"
	"\t\tif (rc)\n\t\t\treturn rc;\n\t}\n\tr->dvv[s] = 1;\n\treturn 0;\n}\n\n");
}

void cg_gpu_launch_fn(CBuf *b, const KProg *p, const Plan *pl, const GpuHost *h, int ki)
{
	const GProg *gp = h->gp;
	const Kernel *k = &p->k[ki];
	const Graph *g = p->g;
	const Node *n = &g->node[k->node];
	char nm[128];
	cg_safe(n->name, nm, sizeof nm);
	cb_printf(b, "/* %s '%s': %d device launch%s */\nstatic int k%d(struct vibee_ctx *r)\n{\n"
	          "\tint rc;\n\t(void)rc;\n", ir_op_name(n->op), nm, gp->count[ki],
	          gp->count[ki] == 1 ? "" : "es", ki);
	for (int i = 0; i < k->nparam; i++) {
		uint32_t v = k->param[i].value;
		cb_printf(b, "\tif ((rc = vd_get(r, %u, ", pl->slot[v]);
		vbytes(b, g, v);
		cb_puts(b, ")))\n\t\treturn rc;\n");
	}
	bool chk = false;
	for (int j = 0; j < gp->count[ki]; j++) {
		int li = gp->first[ki] + j;
		const GLaunch *l = &gp->l[li];
		const Kernel *lk = &l->k;
		cb_puts(b, "\t{\n\t\tconst vdev_arg a[] = {");
		int na = 0;
		for (int i = 0; i < lk->nparam; i++) {
			uint32_t s = pl->slot[lk->param[i].value];
			cb_printf(b, "%s{1, r->dm[%u], 0}, {0, 0, (int64_t)r->doff[%u]}", na ? ", " : "", s, s);
			na += 2;
		}
		uint32_t nd = g->ndim;
		unsigned char *used = calloc(nd ? nd : 1, 1);
		for (int e = 0; used && e < lk->nx; e++) {
			if (lk->x[e].op == KX_DIM && lk->x[e].i < 0 && DIM_IDX(lk->x[e].i) < nd)
				used[DIM_IDX(lk->x[e].i)] = 1;
			chk |= lk->x[e].op == KX_CHECK;
		}
		for (uint32_t i = 0; used && i < nd; i++)
			if (used[i]) {
				cb_printf(b, "%s{0, 0, r->dv[%u]}", na ? ", " : "", i);
				na++;
			}
		free(used);
		cb_printf(b, "%s{1, r->dbad, 0}};\n\t\tconst int64_t g[3] = {", na ? ", " : "");
		for (int d = 0; d < 3; d++) {
			cb_puts(b, d ? ", " : "");
			if (l->grid[d] < 0)
				cb_puts(b, "1");
			else
				hx(b, lk, l->grid[d]);
		}
		cb_printf(b, "}, t[3] = {%lld, %lld, %lld};\n", (long long)l->block[0],
		          (long long)l->block[1], (long long)l->block[2]);
		cb_printf(b, "\t\tif ((rc = vdev_launch(r->dev, %d, g, t, a, %d, r->err, r->errlen)))\n"
		          "\t\t\treturn rc;\n\t}\n", li, na + 1);
	}
	for (int i = 0; i < k->nparam; i++)
		if (k->param[i].write) {
			uint32_t s = pl->slot[k->param[i].value];
			cb_printf(b, "\tr->dvv[%u] = 1;\n\tr->hv[%u] = 0;\n", s, s);
		}
	if (chk)
		cb_printf(b, "\t{\n\t\tint32_t bad = 0;\n\t\tif ((rc = vdev_read(r->dev, r->dbad, 0, &bad, "
		          "4, r->err, r->errlen)))\n\t\t\treturn rc;\n\t\tif (bad) {\n"
		          "\t\t\tbad = 0;\n\t\t\tvdev_write(r->dev, r->dbad, 0, &bad, 4, NULL, 0);\n"
		          "\t\t\treturn vfail(r, 5, \"node '%s' (%s): index out of range\");\n\t\t}\n\t}\n",
		          nm, ir_op_name(n->op));
	cb_puts(b, "\treturn 0;\n}\n\n");
}

void cg_gpu_before_call(CBuf *b, const KProg *p, const Plan *pl, int ki)
{
	const Node *n = &p->g->node[p->k[ki].node];
	for (int j = 0; j < n->nin; j++) {
		uint32_t v = n->in[j];
		if (v == IR_NONE || pl->slot[v] == SLOT_NONE)
			continue;
		cb_printf(b, "\tif ((rc = vh_get(r, %u, ", pl->slot[v]);
		vbytes(b, p->g, v);
		cb_puts(b, ")))\n\t\treturn rc;\n");
	}
	/* tensor attributes are weights: always on the host */
}

void cg_gpu_after_call(CBuf *b, const KProg *p, const Plan *pl, int ki)
{
	const Node *n = &p->g->node[p->k[ki].node];
	for (int j = 0; j < n->nout; j++) {
		uint32_t v = n->out[j];
		if (v == IR_NONE || pl->slot[v] == SLOT_NONE)
			continue;
		cb_printf(b, "\tr->hv[%u] = 1;\n\tr->dvv[%u] = 0;\n", pl->slot[v], pl->slot[v]);
	}
}

void cg_gpu_create(CBuf *b, const KProg *p, const Plan *pl, const GpuHost *h)
{
	cb_puts(b, "\t{\n\t\tconst vdev_code code[] = {\n");
	int forms[3] = {VC_OPENCL_SRC, -1, -1};
	if (h->kind == TK_CUDA) {
		forms[0] = VC_CUBIN;
		forms[1] = VC_PTX;
	} else if (h->kind == TK_HIP) {
		forms[0] = VC_HSACO;
		forms[1] = VC_HSACO;
		forms[2] = VC_HIP_SRC;
	}
	for (int i = 0; i < 3; i++)
		cb_printf(b, "\t\t\t{%d, NULL, vibee_dev%d, (size_t)(vibee_dev%d_end - vibee_dev%d)},\n",
		          forms[i] < 0 ? 99 : forms[i], i, i, i);
	cb_printf(b, "\t\t};\n\t\tint rc = vdev_open(%s, code, 3, %s, vk_names, %d, &r->dev, err, errlen);\n"
	          "\t\tif (rc) {\n\t\t\tm_destroy(r);\n\t\t\treturn rc;\n\t\t}\n\t}\n",
	          api_name(h->kind),
	          h->kind == TK_OPENCL ? "\"-cl-fp32-correctly-rounded-divide-sqrt\"" : "NULL",
	          h->gp->nl);
	uint64_t ws = pl->ws_bytes ? pl->ws_bytes : 64, wb = pl->w_bytes ? pl->w_bytes : 64;
	cb_printf(b, "\tif (!(r->dws = vdev_alloc(r->dev, %lluULL)) || !(r->dw = vdev_alloc(r->dev, "
	          "%lluULL)) || !(r->dbad = vdev_alloc(r->dev, 4))) {\n\t\tm_destroy(r);\n"
	          "\t\tif (err && errlen)\n\t\t\tsnprintf(err, errlen, \"device out of memory\");\n"
	          "\t\treturn 4;\n\t}\n", (unsigned long long)ws, (unsigned long long)wb);
	cb_printf(b, "\t{\n\t\tint32_t zero = 0;\n\t\tint rc = vdev_write(r->dev, r->dw, 0, vibee_weights, "
	          "%lluULL, err, errlen);\n\t\tif (!rc)\n\t\t\trc = vdev_write(r->dev, r->dbad, 0, &zero, "
	          "4, err, errlen);\n\t\tif (rc) {\n\t\t\tm_destroy(r);\n\t\t\treturn rc;\n\t\t}\n\t}\n",
	          (unsigned long long)pl->w_bytes);
	for (uint32_t s = 0; s < pl->nslot; s++) {
		if (pl->kind[s] == SL_CONST)
			cb_printf(b, "\tr->dm[%u] = r->dw;\n\tr->doff[%u] = %lluULL;\n\tr->hv[%u] = r->dvv[%u] = 1;\n",
			          s, s, (unsigned long long)pl->off[s], s, s);
		else if (pl->kind[s] == SL_STATIC)
			cb_printf(b, "\tr->dm[%u] = r->dws;\n\tr->doff[%u] = %lluULL;\n", s, s,
			          (unsigned long long)pl->off[s]);
	}
}

void cg_gpu_destroy(CBuf *b, const Plan *pl)
{
	cb_puts(b, "\tif (r->dev && r->dout)\n\t\tfor (int i = 0; i < r->ndout; i++)\n"
	        "\t\t\tvdev_free(r->dev, r->dout[i]);\n\tfree(r->dout);\n");
	cb_printf(b, "\tif (r->dev) {\n\t\tfor (int s = 0; s < %u; s++)\n\t\t\tif (r->drun[s])\n"
	          "\t\t\t\tvdev_free(r->dev, r->dm[s]);\n\t\tvdev_free(r->dev, r->dw);\n"
	          "\t\tvdev_free(r->dev, r->dws);\n\t\tvdev_free(r->dev, r->dbad);\n"
	          "\t\tvdev_close(r->dev);\n\t}\n", pl->nslot);
}

void cg_gpu_run_begin(CBuf *b, const KProg *p, const Plan *pl)
{
	cb_printf(b, "\tfor (int s = 0; s < %u; s++) {\n\t\tif (r->drun[s]) {\n"
	          "\t\t\tvdev_free(r->dev, r->dm[s]);\n\t\t\tr->dm[s] = NULL;\n\t\t\tr->drun[s] = 0;\n"
	          "\t\t}\n\t}\n", pl->nslot);
	for (uint32_t s = 0; s < pl->nslot; s++) {
		if (pl->kind[s] == SL_CONST)
			continue;
		cb_printf(b, "\tr->hv[%u] = %d;\n\tr->dvv[%u] = 0;\n", s, pl->kind[s] == SL_INPUT, s);
		if (pl->kind[s] == SL_INPUT)   /* a buffer adopted by the last run_device */
			cb_printf(b, "\tr->dm[%u] = NULL;\n", s);
	}
	/* run_device: the caller's buffers are the inputs' device copies */
	const Graph *g = p->g;
	cb_puts(b, "\tif (r->devio) {\n\t\tsize_t n;\n");
	for (uint32_t i = 0; i < g->nin; i++) {
		uint32_t s = pl->slot[g->in[i]];
		if (s == SLOT_NONE)
			continue;
		cb_puts(b, "\t\tn = ");
		vbytes(b, g, g->in[i]);
		cb_printf(b, ";\n\t\tr->dm[%u] = in[%u].data;\n\t\tr->doff[%u] = 0;\n\t\tr->dcap[%u] = n;\n"
		          "\t\tr->hv[%u] = 0;\n\t\tr->dvv[%u] = 1;\n"
		          "\t\tif (!(r->buf[%u] = karena_alloc(&r->arena, n ? n : 1)))\n"
		          "\t\t\treturn vfail(r, 4, \"out of memory\");\n", s, i, s, s, s, s, s);
	}
	cb_puts(b, "\t}\n");
}

void cg_gpu_before_outputs(CBuf *b, const KProg *p, const Plan *pl)
{
	const Graph *g = p->g;
	cb_puts(b, "\tif (!r->devio) {\n");
	for (uint32_t i = 0; i < g->nout; i++) {
		uint32_t v = g->out[i];
		if (pl->slot[v] == SLOT_NONE)
			continue;
		cb_printf(b, "\t\tif ((rc = vh_get(r, %u, ", pl->slot[v]);
		vbytes(b, g, v);
		cb_puts(b, ")))\n\t\t\treturn rc;\n");
	}
	/* run_device: each output copied into a device buffer of its own */
	cb_puts(b, "\t} else {\n\t\tsize_t n;\n");
	for (uint32_t i = 0; i < g->nout; i++) {
		uint32_t v = g->out[i], s = pl->slot[v];
		cb_puts(b, "\t\tn = ");
		vbytes(b, g, v);
		cb_printf(b, ";\n\t\tif (!(r->dout[%u] = vdev_alloc(r->dev, n)))\n"
		          "\t\t\treturn vfail(r, 4, \"device out of memory (%%zu bytes)\", n);\n", i);
		if (s == SLOT_NONE)
			continue;
		cb_printf(b, "\t\tif ((rc = vd_get(r, %u, n)) || (rc = vdev_copy(r->dev, r->dout[%u], 0, "
		          "r->dm[%u], r->doff[%u], n, r->err, r->errlen)))\n\t\t\treturn rc;\n", s, i, s, s);
	}
	cb_puts(b, "\t}\n");
	cb_puts(b, "\tif ((rc = vdev_finish(r->dev, r->err, r->errlen)))\n\t\treturn rc;\n");
}

void cg_gpu_after_outputs(CBuf *b, const KProg *p)
{
	cb_puts(b, "\tif (r->devio) {\n");
	for (uint32_t i = 0; i < p->g->nout; i++)
		cb_printf(b, "\t\tout[%u].data = r->dout[%u];\n", i, i);
	cb_puts(b, "\t}\n");
}

/* The desc's device and run_device entries (after m_run). */
void cg_gpu_run_device(CBuf *b, const KProg *p)
{
	uint32_t no = p->g->nout;
	cb_printf(b,
	"static int m_device(struct vibee_ctx *r, void **ctx, void **queue)\n{\n"
	"\tvdev_native(r->dev, ctx, queue);\n\treturn 0;\n}\n\n"
	"static int m_run_device(struct vibee_ctx *r, const vibee_tensor *in, vibee_tensor *out, "
	"char *err, size_t errlen)\n{\n"
	"\tif (!r->dout && !(r->dout = calloc(%u, sizeof *r->dout))) {\n"
	"\t\tif (err && errlen)\n\t\t\tsnprintf(err, errlen, \"out of memory\");\n\t\treturn 4;\n\t}\n"
	"\tr->ndout = %u;\n"
	"\tfor (int i = 0; i < %u; i++) {\n\t\tvdev_free(r->dev, r->dout[i]);\n\t\tr->dout[i] = NULL;\n\t}\n"
	"\tr->devio = 1;\n\tint rc = m_run(r, in, out, err, errlen);\n\tr->devio = 0;\n"
	"\treturn rc;\n}\n\n", no ? no : 1, no, no);
}
