/* Building kernel-IR kernels: growable tables of expressions and statements,
 * index arithmetic with constant folding, and a readable dump. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "kir.h"

#define GROW(arr, n, cap)                                                  \
	do {                                                                   \
		if ((n) == (cap)) {                                                \
			(cap) = (cap) ? 2 * (cap) : 16;                                \
			void *np_ = realloc((arr), (size_t)(cap) * sizeof *(arr));      \
			assert(np_ && "out of memory");                                \
			(arr) = np_;                                                   \
		}                                                                  \
	} while (0)

Kernel *kir_kernel(KProg *p, int kind, uint32_t node)
{
	GROW(p->k, p->nk, p->capk);
	Kernel *k = &p->k[p->nk++];
	memset(k, 0, sizeof *k);
	k->kind = kind;
	k->g = p->g;
	k->node = node;
	k->root = -1;
	return k;
}

int kir_param(Kernel *k, uint32_t value, bool write)
{
	for (int i = 0; i < k->nparam; i++)
		if (k->param[i].value == value) {
			k->param[i].write |= write;
			return i;
		}
	GROW(k->param, k->nparam, k->capparam);
	k->param[k->nparam] = (KParam){value, write};
	return k->nparam++;
}

int kir_local(Kernel *k, int ty, int64_t n, int space)
{
	GROW(k->local, k->nlocal, k->caplocal);
	k->local[k->nlocal] = (KLocal){ty, n, (uint8_t)space};
	return k->nlocal++;
}

int kir_ty(int dt)
{
	return dt == DT_F16 || dt == DT_BF16 ? DT_F32 : dt;
}

int kir_x(Kernel *k, KExpr e)
{
	GROW(k->x, k->nx, k->capx);
	k->x[k->nx] = e;
	return k->nx++;
}

int kir_const_i(Kernel *k, int64_t v)
{
	return kir_x(k, (KExpr){.op = KX_CONST, .ty = DT_I64, .i = v, .a = -1, .b = -1, .c = -1});
}

/* v as int64, saturated (NaN: 0): a plain cast of inf is undefined. */
static int64_t sat_i64(double v)
{
	if (v != v)
		return 0;
	if (v >= 9223372036854775807.0)
		return INT64_MAX;
	if (v <= -9223372036854775808.0)
		return INT64_MIN;
	return (int64_t)v;
}

int kir_const_f(Kernel *k, int ty, double v)
{
	return kir_x(k, (KExpr){.op = KX_CONST, .ty = (uint8_t)ty, .f = v, .i = sat_i64(v),
	                        .a = -1, .b = -1, .c = -1});
}

int kir_const_t(Kernel *k, int ty, double v)
{
	ty = kir_ty(ty);
	if (dt_is_float(ty))
		return kir_const_f(k, ty, v);
	return kir_x(k, (KExpr){.op = KX_CONST, .ty = (uint8_t)ty, .i = sat_i64(v), .f = v,
	                        .a = -1, .b = -1, .c = -1});
}

int kir_dim(Kernel *k, Dim d)
{
	if (d >= 0)
		return kir_const_i(k, d);
	return kir_x(k, (KExpr){.op = KX_DIM, .ty = DT_I64, .i = d, .a = -1, .b = -1, .c = -1});
}

int kir_var(Kernel *k, int var)
{
	return kir_x(k, (KExpr){.op = KX_VAR, .ty = DT_I64, .i = var, .a = -1, .b = -1, .c = -1});
}

static bool isconst(Kernel *k, int a, int64_t *v)
{
	if (k->x[a].op == KX_CONST && !dt_is_float(k->x[a].ty)) {
		*v = k->x[a].i;
		return true;
	}
	return false;
}

int kir_add(Kernel *k, int a, int b)
{
	int64_t va, vb;
	bool ca = isconst(k, a, &va), cb = isconst(k, b, &vb);
	if (ca && cb)
		return kir_const_i(k, va + vb);
	if (ca && va == 0)
		return b;
	if (cb && vb == 0)
		return a;
	return kir_x(k, (KExpr){.op = KX_BIN, .fn = KB_ADD, .ty = DT_I64, .a = a, .b = b, .c = -1});
}

int kir_mul(Kernel *k, int a, int b)
{
	int64_t va, vb;
	bool ca = isconst(k, a, &va), cb = isconst(k, b, &vb);
	if (ca && cb)
		return kir_const_i(k, va * vb);
	if ((ca && va == 0) || (cb && vb == 0))
		return kir_const_i(k, 0);
	if (ca && va == 1)
		return b;
	if (cb && vb == 1)
		return a;
	return kir_x(k, (KExpr){.op = KX_BIN, .fn = KB_MUL, .ty = DT_I64, .a = a, .b = b, .c = -1});
}

int kir_min(Kernel *k, int a, int b)
{
	int64_t va, vb;
	if (isconst(k, a, &va) && isconst(k, b, &vb))
		return kir_const_i(k, va < vb ? va : vb);
	return kir_x(k, (KExpr){.op = KX_BIN, .fn = KB_MIN, .ty = DT_I64, .a = a, .b = b, .c = -1});
}

int kir_load(Kernel *k, uint32_t value, int idx)
{
	int prm = kir_param(k, value, false);
	int ty = kir_ty(k->g->val[value].dt);
	return kir_x(k, (KExpr){.op = KX_LOAD, .ty = (uint8_t)ty, .i = prm, .a = idx, .b = -1, .c = -1});
}

int kir_lread(Kernel *k, int local, int idx)
{
	return kir_x(k, (KExpr){.op = KX_LREAD, .ty = (uint8_t)k->local[local].ty, .i = local,
	                        .a = idx, .b = -1, .c = -1});
}

int kir_un(Kernel *k, int fn, int a)
{
	int ty = k->x[a].ty;
	if (fn == KU_NOT || fn == KU_ISNAN || fn == KU_ISPINF || fn == KU_ISNINF)
		ty = DT_BOOL;
	return kir_x(k, (KExpr){.op = KX_UN, .fn = (uint16_t)fn, .ty = (uint8_t)ty, .a = a,
	                        .b = -1, .c = -1});
}

int kir_bin(Kernel *k, int fn, int a, int b)
{
	int ta = k->x[a].ty, tb = k->x[b].ty, ty = ta;
	if (ta != tb) {   /* promote: float wins, then the wider */
		if (dt_is_float(tb) && !dt_is_float(ta))
			ty = tb;
		else if (dt_is_float(ta) == dt_is_float(tb) && dt_size(tb) > dt_size(ta))
			ty = tb;
		if (ty != ta)
			a = kir_cast(k, ty, a);
		if (ty != tb)
			b = kir_cast(k, ty, b);
	}
	if (fn == KB_ADD && ty == DT_I64)
		return kir_add(k, a, b);
	if (fn == KB_MUL && ty == DT_I64)
		return kir_mul(k, a, b);
	int rty = ty;
	if (fn >= KB_EQ || fn == KB_AND || fn == KB_OR || fn == KB_XOR)
		rty = DT_BOOL;
	return kir_x(k, (KExpr){.op = KX_BIN, .fn = (uint16_t)fn, .ty = (uint8_t)rty, .a = a,
	                        .b = b, .c = -1});
}

int kir_sel(Kernel *k, int c, int a, int b)
{
	int ta = k->x[a].ty, tb = k->x[b].ty;
	if (ta != tb) {
		int ty = dt_is_float(tb) && !dt_is_float(ta) ? tb : ta;
		a = ty == ta ? a : kir_cast(k, ty, a);
		b = ty == tb ? b : kir_cast(k, ty, b);
	}
	return kir_x(k, (KExpr){.op = KX_SEL, .ty = k->x[a].ty, .a = c, .b = a, .c = b});
}

int kir_cast(Kernel *k, int ty, int a)
{
	ty = kir_ty(ty);
	if (k->x[a].ty == ty)
		return a;
	if (k->x[a].op == KX_CONST) {   /* fold */
		KExpr e = k->x[a];
		if (dt_is_float(ty)) {
			double v = dt_is_float(e.ty) ? e.f : (double)e.i;
			return kir_const_f(k, ty, v);
		}
		if (!dt_is_float(e.ty) && ty != DT_BOOL)
			return kir_const_t(k, ty, (double)e.i);
	}
	return kir_x(k, (KExpr){.op = KX_CAST, .ty = (uint8_t)ty, .a = a, .b = -1, .c = -1});
}

int kir_check(Kernel *k, int a, int hi)
{
	return kir_x(k, (KExpr){.op = KX_CHECK, .ty = DT_I64, .a = a, .b = hi, .c = -1});
}

static int stmt(Kernel *k, int parent, KStmt s)
{
	s.next = -1;
	s.body = -1;
	GROW(k->s, k->ns, k->caps);
	int id = k->ns++;
	k->s[id] = s;
	int *link = parent < 0 ? &k->root : &k->s[parent].body;
	while (*link >= 0)
		link = &k->s[*link].next;
	*link = id;
	return id;
}

int kir_loop(Kernel *k, int parent, int lo, int hi, int64_t step, int par)
{
	KStmt s = {.op = KS_LOOP, .par = (uint8_t)par, .var = k->nvar++, .lo = lo, .hi = hi,
	           .step = step, .grain = 1, .tgt = -1, .idx = -1, .val = -1};
	return stmt(k, parent, s);
}

int kir_store(Kernel *k, int parent, bool local, int tgt, int idx, int val)
{
	if (!local)
		kir_param(k, (uint32_t)tgt, true);
	KStmt s = {.op = KS_STORE, .local = local, .tgt = local ? tgt
	           : kir_param(k, (uint32_t)tgt, true), .idx = idx, .val = val, .lo = -1, .hi = -1};
	return stmt(k, parent, s);
}

int kir_acc(Kernel *k, int parent, bool local, int tgt, int fn, int idx, int val)
{
	KStmt s = {.op = KS_ACC, .local = local, .fn = (uint16_t)fn, .tgt = local ? tgt
	           : kir_param(k, (uint32_t)tgt, true), .idx = idx, .val = val, .lo = -1, .hi = -1};
	return stmt(k, parent, s);
}

int kir_if(Kernel *k, int parent, int cond)
{
	KStmt s = {.op = KS_IF, .val = cond, .tgt = -1, .idx = -1, .lo = -1, .hi = -1};
	return stmt(k, parent, s);
}

int kir_barrier(Kernel *k, int parent)
{
	KStmt s = {.op = KS_BARRIER, .tgt = -1, .idx = -1, .val = -1, .lo = -1, .hi = -1};
	return stmt(k, parent, s);
}

void kir_prog_free(KProg *p)
{
	for (int i = 0; i < p->nk; i++) {
		Kernel *k = &p->k[i];
		free(k->param);
		free(k->local);
		free(k->x);
		free(k->s);
	}
	free(p->k);
	free(p->alias);
	p->k = NULL;
	p->alias = NULL;
	p->nk = p->capk = 0;
}

/* ---- dump ----------------------------------------------------------------- */
static const char *un_names[KU_COUNT] = {"neg", "abs", "exp", "log", "sqrt", "sin", "cos",
	"tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "erf",
	"floor", "ceil", "round", "not", "bnot", "isnan", "ispinf", "isninf", "sign", "recip",
	"log1p", "rtf32", "rf16", "rbf16", "wsum", "wmax", "wmin"};
static const char *bin_names[KB_COUNT] = {"add", "sub", "mul", "div", "mod", "fmod", "pow",
	"max", "min", "and", "or", "xor", "band", "bor", "bxor", "shl", "shr", "eq", "ne", "lt",
	"le", "gt", "ge"};
static const char *par_names[] = {"serial", "thread", "gpu.block", "gpu.thread", "vector"};

static void px(FILE *f, const Kernel *k, int e)
{
	const KExpr *x = &k->x[e];
	char buf[64];
	switch (x->op) {
	case KX_CONST:
		if (dt_is_float(x->ty))
			fprintf(f, "%g", x->f);
		else
			fprintf(f, "%lld", (long long)x->i);
		return;
	case KX_DIM: fprintf(f, "%s", ir_dim_str(k->g, x->i, buf, sizeof buf)); return;
	case KX_VAR: fprintf(f, "i%lld", (long long)x->i); return;
	case KX_LOAD: fprintf(f, "p%lld[", (long long)x->i); px(f, k, x->a); fputc(']', f); return;
	case KX_LREAD: fprintf(f, "l%lld[", (long long)x->i); px(f, k, x->a); fputc(']', f); return;
	case KX_UN: fprintf(f, "%s(", un_names[x->fn]); px(f, k, x->a); fputc(')', f); return;
	case KX_BIN:
		fprintf(f, "%s(", bin_names[x->fn]);
		px(f, k, x->a);
		fputs(", ", f);
		px(f, k, x->b);
		fputc(')', f);
		return;
	case KX_SEL:
		fputs("select(", f);
		px(f, k, x->a); fputs(", ", f);
		px(f, k, x->b); fputs(", ", f);
		px(f, k, x->c); fputc(')', f);
		return;
	case KX_CAST: fprintf(f, "%s(", dt_name(x->ty)); px(f, k, x->a); fputc(')', f); return;
	case KX_CHECK:
		fputs("check(", f);
		px(f, k, x->a); fputs(", ", f);
		px(f, k, x->b); fputc(')', f);
		return;
	}
}

static void ps(FILE *f, const Kernel *k, int s, int depth)
{
	for (; s >= 0; s = k->s[s].next) {
		const KStmt *st = &k->s[s];
		fprintf(f, "%*s", 2 * depth + 2, "");
		switch (st->op) {
		case KS_LOOP:
			fprintf(f, "for i%d in [", st->var);
			px(f, k, st->lo);
			fputs(", ", f);
			px(f, k, st->hi);
			fprintf(f, ") step %lld %s:\n", (long long)st->step, par_names[st->par]);
			ps(f, k, st->body, depth + 1);
			break;
		case KS_STORE: case KS_ACC:
			fprintf(f, "%c%d[", st->local ? 'l' : 'p', st->tgt);
			px(f, k, st->idx);
			if (st->op == KS_STORE)
				fputs("] = ", f);
			else
				fprintf(f, "] %s= ", bin_names[st->fn]);
			px(f, k, st->val);
			fputc('\n', f);
			break;
		case KS_IF:
			fputs("if ", f);
			px(f, k, st->val);
			fputs(":\n", f);
			ps(f, k, st->body, depth + 1);
			break;
		case KS_BARRIER: fputs("barrier\n", f); break;
		}
	}
}

void kir_print(FILE *f, const KProg *p, const Kernel *k)
{
	const Node *n = &p->g->node[k->node];
	fprintf(f, "kernel %s '%s' (%s)\n", k->kind == KK_CALL ? "call" : "loop", n->name,
	        ir_op_name(n->op));
	for (int i = 0; i < k->nparam; i++) {
		const Value *v = &p->g->val[k->param[i].value];
		char sh[256];
		ir_shape_str(p->g, &v->shape, sh, sizeof sh);
		fprintf(f, "  param p%d %s %s%s %s\n", i, k->param[i].write ? "out" : "in",
		        dt_name(v->dt), sh, v->name ? v->name : "");
	}
	for (int i = 0; i < k->nlocal; i++)
		fprintf(f, "  local l%d %s[%lld] %s\n", i, dt_name(k->local[i].ty),
		        (long long)k->local[i].n, k->local[i].space == KM_PRIVATE ? "private"
		        : k->local[i].space == KM_SHARED ? "shared" : "scratchpad");
	ps(f, k, k->root, 0);
}
