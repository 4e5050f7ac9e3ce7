/* Unit tests of shape and dtype inference (ir_infer, ir/shape*.c) and of
 * ir_bind_symbols: graphs built with the builder API, symbolic results
 * checked by evaluating them for concrete symbol values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"

static int fails;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

static Shape shp(int rank, ...)
{
	Shape s = {.rank = rank};
	va_list ap;
	va_start(ap, rank);
	for (int i = 0; i < rank; i++)
		s.d[i] = va_arg(ap, Dim);
	va_end(ap);
	return s;
}

static uint32_t node(Graph *g, int op, int nin, const uint32_t *in, int nout)
{
	return ir_node(g, op, NULL, nin, in, nout);
}
static uint32_t out0(Graph *g, uint32_t n) { return g->node[n].out[0]; }
static uint32_t op1(Graph *g, int op, uint32_t a) { return out0(g, node(g, op, 1, &a, 1)); }
static uint32_t op2(Graph *g, int op, uint32_t a, uint32_t b)
{
	uint32_t in[2] = {a, b};
	return out0(g, node(g, op, 2, in, 1));
}
static void attr_i(Graph *g, uint32_t n, const char *name, int64_t v)
{
	ir_attr_add(g, n, name, AK_INT)->i = v;
}
static void attr_ints(Graph *g, uint32_t n, const char *name, int k, const int64_t *v)
{
	Attr *a = ir_attr_add(g, n, name, AK_INTS);
	a->n = k;
	a->ints = arena_memdup(g->arena, v, k * sizeof *v);
}
static uint32_t ci64(Graph *g, int k, const int64_t *v)
{
	Shape s = shp(1, (Dim)k);
	return ir_const_copy(g, NULL, DT_I64, &s, v);
}
static uint32_t si64(Graph *g, int64_t v)   /* scalar */
{
	Shape s = {.rank = 0};
	return ir_const_copy(g, NULL, DT_I64, &s, &v);
}

/* Does value v have rank r and, with symbols bound by `sym`, dims `want`? */
static bool dims_are(Graph *g, uint32_t v, const int64_t *symval, int r, const int64_t *want)
{
	Value *x = &g->val[v];
	if (x->shape.rank != r)
		return false;
	for (int i = 0; i < r; i++) {
		int64_t got;
		if (ir_dim_eval(g, x->shape.d[i], symval, &got) || got != want[i]) {
			char b[512];
			ir_shape_str(g, &x->shape, b, sizeof b);
			fprintf(stderr, "  dim %d of %s wrong\n", i, b);
			return false;
		}
	}
	return true;
}

static int64_t *bind(Graph *g, const char **names, const int64_t *vals, int k)
{
	int64_t *sv = malloc((g->ndim + 1) * sizeof *sv);
	for (uint32_t i = 0; i < g->ndim; i++) {
		sv[i] = -1;
		for (int j = 0; j < k; j++)
			if (g->dim[i].op == DX_SYM && strcmp(g->dim[i].name, names[j]) == 0)
				sv[i] = vals[j];
	}
	return sv;
}

/* Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as PyTorch exports
 * x.view(b, s, 4, 16) and x.view(b, s, 4, -1). */
static void test_pytorch_chain(int use_minus1, int opset)
{
	Graph *g = ir_graph_new("chain");
	g->opset = opset;
	Dim B = ir_dim_sym(g, "batch"), S = ir_dim_sym(g, "seq");
	Shape xs = shp(3, B, S, (Dim)64);
	uint32_t x = ir_input(g, "x", DT_F32, &xs);
	uint32_t sh = op1(g, OP_Shape, x);
	uint32_t parts[4];
	for (int i = 0; i < 2; i++) {
		uint32_t gi = op2(g, OP_Gather, sh, si64(g, i));
		int64_t zero = 0;
		if (opset >= 13) {
			parts[i] = op2(g, OP_Unsqueeze, gi, ci64(g, 1, &zero));
		} else {
			uint32_t n = node(g, OP_Unsqueeze, 1, &gi, 1);
			attr_ints(g, n, "axes", 1, &zero);
			parts[i] = out0(g, n);
		}
	}
	int64_t four = 4, last = use_minus1 ? -1 : 16;
	parts[2] = ci64(g, 1, &four);
	parts[3] = ci64(g, 1, &last);
	uint32_t cn = node(g, OP_Concat, 4, parts, 1);
	attr_i(g, cn, "axis", 0);
	uint32_t y = op2(g, OP_Reshape, x, out0(g, cn));
	Diag d = {0};
	int rc = ir_infer(g, &d);
	if (rc)
		fprintf(stderr, "%s\n", d.msg);
	CHECK(rc == 0);
	Value *yv = &g->val[y];
	CHECK(yv->dt == DT_F32);
	CHECK(yv->shape.rank == 4);
	CHECK(yv->shape.d[0] == B && yv->shape.d[1] == S);   /* the very symbols */
	CHECK(yv->shape.d[2] == 4 && yv->shape.d[3] == 16);
	Value *cv = &g->val[out0(g, cn)];
	CHECK(cv->dt == DT_I64 && cv->nsv == 4 && cv->sv[0] == B && cv->sv[1] == S);
	ir_graph_free(g);
}

static void test_broadcast(void)
{
	Graph *g = ir_graph_new("bc");
	Dim B = ir_dim_sym(g, "B"), T = ir_dim_sym(g, "T");
	Shape a = shp(3, B, (Dim)1, (Dim)4), b = shp(2, (Dim)3, (Dim)1), c = shp(1, T);
	uint32_t x = ir_input(g, "a", DT_F32, &a), y = ir_input(g, "b", DT_F32, &b);
	uint32_t z = ir_input(g, "c", DT_F32, &c);
	uint32_t s = op2(g, OP_Add, x, y);
	uint32_t e = op2(g, OP_Less, s, z);   /* [B,3,4] vs [T]: T broadcasts with 4 */
	Diag d = {0};
	CHECK(ir_infer(g, &d) == 0);
	const char *nm[] = {"B", "T"};
	int64_t vals[] = {5, 4};
	int64_t *sv = bind(g, nm, vals, 2);
	CHECK(dims_are(g, s, sv, 3, (int64_t[]){5, 3, 4}));
	CHECK(g->val[s].dt == DT_F32);
	CHECK(g->val[e].dt == DT_BOOL && g->val[e].shape.d[2] == 4);
	free(sv);
	ir_graph_free(g);

	/* two symbols broadcast to their max; static mismatch is an error */
	g = ir_graph_new("bc2");
	Dim P = ir_dim_sym(g, "P"), Q = ir_dim_sym(g, "Q");
	Shape p = shp(1, P), q = shp(1, Q), t23 = shp(2, (Dim)2, (Dim)3), t4 = shp(1, (Dim)4);
	uint32_t m = op2(g, OP_Mul, ir_input(g, "p", DT_F32, &p), ir_input(g, "q", DT_F32, &q));
	CHECK(ir_infer(g, &d) == 0);
	const char *nm2[] = {"P", "Q"};
	sv = bind(g, nm2, (int64_t[]){1, 7}, 2);
	CHECK(dims_are(g, m, sv, 1, (int64_t[]){7}));
	free(sv);
	op2(g, OP_Add, ir_input(g, "u", DT_F32, &t23), ir_input(g, "v", DT_F32, &t4));
	memset(&d, 0, sizeof d);
	CHECK(ir_infer(g, &d) == E_MODEL);
	CHECK(strstr(d.msg, "f32[2,3] and f32[4] do not broadcast") != NULL);
	ir_graph_free(g);

	/* dtype mismatch */
	g = ir_graph_new("bc3");
	uint32_t i1 = ir_input(g, "i", DT_I64, &t4), f1 = ir_input(g, "f", DT_F32, &t4);
	op2(g, OP_Add, i1, f1);
	memset(&d, 0, sizeof d);
	CHECK(ir_infer(g, &d) == E_MODEL && strstr(d.msg, "dtype"));
	ir_graph_free(g);
}

/* x.expand(...) as exported: ConstantOfShape, Mul by -1, Equal, Where. */
static void test_expand_pattern(void)
{
	Graph *g = ir_graph_new("expand");
	Dim B = ir_dim_sym(g, "B");
	Shape xs = shp(3, B, (Dim)1, (Dim)8);
	uint32_t x = ir_input(g, "x", DT_F32, &xs);
	uint32_t sh = op1(g, OP_Shape, x);
	uint32_t b0 = op2(g, OP_Gather, sh, si64(g, 0));
	int64_t z = 0, m1 = -1, six = 6;
	uint32_t ub = op2(g, OP_Unsqueeze, b0, ci64(g, 1, &z));
	uint32_t parts[3] = {ub, ci64(g, 1, &six), ci64(g, 1, &m1)};
	uint32_t cn = node(g, OP_Concat, 3, parts, 1);
	attr_i(g, cn, "axis", 0);
	uint32_t want = out0(g, cn);                      /* [B, 6, -1] */
	int64_t three = 3;
	uint32_t cos = op1(g, OP_ConstantOfShape, ci64(g, 1, &three));
	Attr *va = ir_attr_add(g, g->val[cos].def, "value", AK_TENSOR);
	int64_t one = 1;
	Shape s1 = shp(1, (Dim)1);
	va->t = ir_const_copy(g, NULL, DT_I64, &s1, &one);
	uint32_t neg = op2(g, OP_Mul, cos, si64(g, -1));   /* [-1,-1,-1] */
	uint32_t eq = op2(g, OP_Equal, want, neg);        /* [0, 0, 1] */
	uint32_t in3[3] = {eq, cos, want};
	uint32_t wh = out0(g, node(g, OP_Where, 3, in3, 1));   /* [B, 6, 1] */
	uint32_t y = op2(g, OP_Expand, x, wh);
	Diag d = {0};
	int rc = ir_infer(g, &d);
	if (rc)
		fprintf(stderr, "%s\n", d.msg);
	CHECK(rc == 0);
	CHECK(g->val[eq].dt == DT_BOOL && g->val[eq].nsv == 3);
	CHECK(g->val[y].shape.rank == 3);
	CHECK(g->val[y].shape.d[0] == B && g->val[y].shape.d[1] == 6 && g->val[y].shape.d[2] == 8);
	ir_graph_free(g);
}

static void test_conv_pool_matmul(void)
{
	Graph *g = ir_graph_new("conv");
	Dim N = ir_dim_sym(g, "N"), H = ir_dim_sym(g, "H");
	Shape xs = shp(4, N, (Dim)3, H, (Dim)32), ws = shp(4, (Dim)8, (Dim)3, (Dim)3, (Dim)3);
	uint32_t x = ir_input(g, "x", DT_F32, &xs);
	uint32_t w = ir_const(g, "w", DT_F32, &ws, NULL);
	uint32_t cv = node(g, OP_Conv, 2, (uint32_t[]){x, w}, 1);
	attr_ints(g, cv, "pads", 4, (int64_t[]){1, 1, 1, 1});
	attr_ints(g, cv, "strides", 2, (int64_t[]){2, 2});
	uint32_t c = out0(g, cv);
	uint32_t mp = node(g, OP_MaxPool, 1, &c, 2);
	attr_ints(g, mp, "kernel_shape", 2, (int64_t[]){3, 3});
	attr_ints(g, mp, "strides", 2, (int64_t[]){2, 2});
	attr_i(g, mp, "ceil_mode", 1);
	uint32_t p = out0(g, mp), pi = g->node[mp].out[1];
	Shape wm = shp(2, (Dim)8, (Dim)5);
	uint32_t t = op1(g, OP_Transpose, p);                       /* [8?, 8, C, N] reversed */
	(void)t;
	uint32_t fl = node(g, OP_Flatten, 1, &p, 1);                 /* [N, 8*H'*8] */
	(void)fl;
	Shape ms = shp(3, N, (Dim)7, (Dim)8);
	uint32_t m = op2(g, OP_MatMul, ir_input(g, "m", DT_F32, &ms), ir_const(g, "wm", DT_F32, &wm, NULL));
	Diag d = {0};
	int rc = ir_infer(g, &d);
	if (rc)
		fprintf(stderr, "%s\n", d.msg);
	CHECK(rc == 0);
	const char *nm[] = {"N", "H"};
	for (int64_t h = 5; h <= 40; h++) {
		int64_t *sv = bind(g, nm, (int64_t[]){2, h}, 2);
		int64_t ch = (h + 2 - 3) / 2 + 1;                     /* conv */
		int64_t ph = (ch - 3 + 1) / 2 + 1;                    /* ceil-mode pool */
		if ((ph - 1) * 2 >= ch)
			ph--;
		CHECK(dims_are(g, c, sv, 4, (int64_t[]){2, 8, ch, 16}));
		if (h == 32)
			CHECK(dims_are(g, p, sv, 4, (int64_t[]){2, 8, ph, 8}));
		free(sv);
	}
	CHECK(g->val[pi].dt == DT_I64);
	int64_t *sv = bind(g, nm, (int64_t[]){3, 32}, 2);
	CHECK(dims_are(g, m, sv, 3, (int64_t[]){3, 7, 5}));
	free(sv);
	/* inner dims that do not match */
	Shape bad = shp(2, (Dim)9, (Dim)5);
	op2(g, OP_MatMul, ir_input(g, "m2", DT_F32, &ms), ir_const(g, "wb", DT_F32, &bad, NULL));
	memset(&d, 0, sizeof d);
	CHECK(ir_infer(g, &d) == E_MODEL && strstr(d.msg, "do not multiply"));
	ir_graph_free(g);
}

static void test_slice_range_split(void)
{
	Graph *g = ir_graph_new("slice");
	Dim T = ir_dim_sym(g, "T");
	Shape xs = shp(2, T, (Dim)10);
	uint32_t x = ir_input(g, "x", DT_F32, &xs);
	int64_t st[] = {-3, 2}, en[] = {INT64_MAX, 9}, ax[] = {0, 1}, sp[] = {1, 3};
	uint32_t in5[5] = {x, ci64(g, 2, st), ci64(g, 2, en), ci64(g, 2, ax), ci64(g, 2, sp)};
	uint32_t s = out0(g, node(g, OP_Slice, 5, in5, 1));
	/* Range(0, T, 1) with T from Shape */
	uint32_t t = op2(g, OP_Gather, op1(g, OP_Shape, x), si64(g, 0));
	uint32_t r3[3] = {si64(g, 0), t, si64(g, 1)};
	uint32_t rg = out0(g, node(g, OP_Range, 3, r3, 1));
	uint32_t sn = node(g, OP_Split, 1, &x, 2);
	attr_i(g, sn, "axis", 1);
	uint32_t tk2[2] = {x, ci64(g, 1, (int64_t[]){4})};
	uint32_t tk = node(g, OP_TopK, 2, tk2, 2);
	uint32_t nz = op1(g, OP_NonZero, x);
	Diag d = {0};
	int rc = ir_infer(g, &d);
	if (rc)
		fprintf(stderr, "%s\n", d.msg);
	CHECK(rc == 0);
	const char *nm[] = {"T"};
	int64_t *sv = bind(g, nm, (int64_t[]){12}, 1);
	CHECK(dims_are(g, s, sv, 2, (int64_t[]){3, 3}));
	CHECK(dims_are(g, rg, sv, 1, (int64_t[]){12}));
	CHECK(g->val[rg].dt == DT_I64);
	CHECK(dims_are(g, g->node[sn].out[1], sv, 2, (int64_t[]){12, 5}));
	CHECK(dims_are(g, g->node[tk].out[0], sv, 2, (int64_t[]){12, 4}));
	CHECK(g->val[g->node[tk].out[1]].dt == DT_I64);
	free(sv);
	CHECK(g->val[nz].dt == DT_I64 && g->val[nz].shape.d[0] == 2);
	CHECK(ir_dim_is_sym(g, g->val[nz].shape.d[1]));
	ir_graph_free(g);

	/* Reshape by a run-time shape: rank from the shape's length, else error */
	g = ir_graph_new("rt");
	Shape s2 = shp(1, (Dim)2), su = shp(1, ir_dim_sym(g, "k")), x3 = shp(3, (Dim)2, (Dim)3, (Dim)4);
	x = ir_input(g, "x", DT_F32, &x3);
	uint32_t r1 = op2(g, OP_Reshape, x, ir_input(g, "shape", DT_I64, &s2));
	CHECK(ir_infer(g, &d) == 0);
	CHECK(g->val[r1].shape.rank == 2 && ir_dim_is_sym(g, g->val[r1].shape.d[0]));
	/* Expand to a run-time shape: static input dims stay, others are plain
	 * fresh symbols (bound when the node runs) */
	Shape s3 = shp(1, (Dim)3), xe = shp(2, (Dim)1, (Dim)5);
	uint32_t ex = op2(g, OP_Expand, ir_input(g, "xe", DT_F32, &xe), ir_input(g, "eshape", DT_I64, &s3));
	CHECK(ir_infer(g, &d) == 0);
	CHECK(g->val[ex].shape.rank == 3 && g->val[ex].shape.d[2] == 5);
	CHECK(ir_dim_is_sym(g, g->val[ex].shape.d[0]) && ir_dim_is_sym(g, g->val[ex].shape.d[1]));
	op2(g, OP_Reshape, x, ir_input(g, "shape2", DT_I64, &su));
	memset(&d, 0, sizeof d);
	CHECK(ir_infer(g, &d) == E_MODEL && strstr(d.msg, "rank of output depends on run-time data"));
	ir_graph_free(g);
}

static void test_misc_dtypes(void)
{
	Graph *g = ir_graph_new("dt");
	Shape xs = shp(3, (Dim)2, (Dim)3, (Dim)4);
	uint32_t x = ir_input(g, "x", DT_F32, &xs);
	uint32_t cn = node(g, OP_Cast, 1, &x, 1);
	attr_i(g, cn, "to", DT_F16);
	uint32_t am = node(g, OP_ArgMax, 1, &x, 1);
	attr_i(g, am, "axis", -1);
	attr_i(g, am, "keepdims", 0);
	uint32_t rs = node(g, OP_ReduceSum, 2, (uint32_t[]){x, ci64(g, 1, (int64_t[]){1})}, 1);
	uint32_t rm = node(g, OP_ReduceMean, 1, &x, 1);
	g->node[rm].opset = 11;
	attr_ints(g, rm, "axes", 2, (int64_t[]){0, -1});
	attr_i(g, rm, "keepdims", 0);
	Shape sc = {.rank = 0};
	uint32_t q = out0(g, node(g, OP_QuantizeLinear, 2, (uint32_t[]){x, ir_input(g, "s", DT_F32, &sc)}, 1));
	uint32_t es = node(g, OP_Einsum, 2, (uint32_t[]){x, ir_input(g, "y", DT_F32, &(Shape){.rank = 3, .d = {2, 4, 5}})}, 1);
	ir_attr_add(g, es, "equation", AK_STRING)->s = "bij,bjk->bik";
	uint32_t sz = op1(g, OP_Size, x);
	Diag d = {0};
	int rc = ir_infer(g, &d);
	if (rc)
		fprintf(stderr, "%s\n", d.msg);
	CHECK(rc == 0);
	CHECK(g->val[out0(g, cn)].dt == DT_F16);
	CHECK(g->val[out0(g, am)].dt == DT_I64 && dims_are(g, out0(g, am), NULL, 2, (int64_t[]){2, 3}));
	CHECK(dims_are(g, out0(g, rs), NULL, 3, (int64_t[]){2, 1, 4}));
	CHECK(dims_are(g, out0(g, rm), NULL, 1, (int64_t[]){3}));
	CHECK(g->val[q].dt == DT_U8);
	CHECK(dims_are(g, out0(g, es), NULL, 3, (int64_t[]){2, 3, 5}));
	CHECK(g->val[sz].dt == DT_I64 && g->val[sz].nsv == 1 && g->val[sz].sv[0] == 24);
	ir_graph_free(g);
}

/* Forms of older opsets: attributes that later became inputs. */
static void test_old_opsets(void)
{
	Graph *g = ir_graph_new("old");
	g->opset = 10;
	Shape xs = shp(4, (Dim)1, (Dim)6, (Dim)4, (Dim)5);
	uint32_t x = ir_input(g, "x", DT_F32, &xs);
	uint32_t sp = node(g, OP_Split, 1, &x, 2);
	attr_i(g, sp, "axis", 1);
	attr_ints(g, sp, "split", 2, (int64_t[]){2, 4});
	uint32_t pd = node(g, OP_Pad, 1, &x, 1);
	attr_ints(g, pd, "pads", 8, (int64_t[]){0, 0, 1, 2, 0, 0, 3, -1});
	uint32_t sq = node(g, OP_Squeeze, 1, &x, 1);
	attr_ints(g, sq, "axes", 1, (int64_t[]){0});
	Shape s4 = shp(1, (Dim)4);
	float sc[4] = {1, 1, 2, 0.5f};
	uint32_t rs = op2(g, OP_Resize, x, ir_const(g, "sc", DT_F32, &s4, sc));
	uint32_t up = op2(g, OP_Upsample, x, ir_const(g, "sc2", DT_F32, &s4, sc));
	uint32_t dr = node(g, OP_Dropout, 1, &x, 2);
	g->node[dr].opset = 7;
	uint32_t rd = node(g, OP_ReduceSum, 1, &x, 1);
	attr_ints(g, rd, "axes", 2, (int64_t[]){1, -1});
	Diag d = {0};
	int rc = ir_infer(g, &d);
	if (rc)
		fprintf(stderr, "%s\n", d.msg);
	CHECK(rc == 0);
	CHECK(dims_are(g, g->node[sp].out[0], NULL, 4, (int64_t[]){1, 2, 4, 5}));
	CHECK(dims_are(g, g->node[sp].out[1], NULL, 4, (int64_t[]){1, 4, 4, 5}));
	CHECK(dims_are(g, out0(g, pd), NULL, 4, (int64_t[]){1, 6, 8, 6}));
	CHECK(dims_are(g, out0(g, sq), NULL, 3, (int64_t[]){6, 4, 5}));
	CHECK(dims_are(g, rs, NULL, 4, (int64_t[]){1, 6, 8, 2}));
	CHECK(dims_are(g, up, NULL, 4, (int64_t[]){1, 6, 8, 2}));
	CHECK(g->val[g->node[dr].out[1]].dt == DT_F32);   /* mask is T before opset 10 */
	CHECK(dims_are(g, out0(g, rd), NULL, 4, (int64_t[]){1, 1, 4, 1}));
	/* a squeeze of a dim that is not 1 */
	uint32_t bad = node(g, OP_Squeeze, 1, &x, 1);
	attr_ints(g, bad, "axes", 1, (int64_t[]){1});
	memset(&d, 0, sizeof d);
	CHECK(ir_infer(g, &d) == E_MODEL && strstr(d.msg, "cannot squeeze dim 1"));
	ir_graph_free(g);
}

static void test_bind(void)
{
	Graph *g = ir_graph_new("bind");
	Dim B = ir_dim_sym(g, "batch");
	Shape a = shp(2, B, (Dim)3), b = shp(1, B);
	ir_input(g, "a", DT_F32, &a);
	ir_input(g, "b", DT_I64, &b);
	int64_t sym[16];
	KTensor in[2] = {{.dt = DT_F32, .rank = 2, .dims = {5, 3}}, {.dt = DT_I64, .rank = 1, .dims = {5}}};
	Diag d = {0};
	CHECK(ir_bind_symbols(g, in, sym, &d) == 0);
	CHECK(sym[DIM_IDX(B)] == 5);
	in[1].dims[0] = 6;
	CHECK(ir_bind_symbols(g, in, sym, &d) == E_MODEL && strstr(d.msg, "'b'") && strstr(d.msg, "batch"));
	in[1].dims[0] = 5;
	in[0].dims[1] = 4;
	memset(&d, 0, sizeof d);
	CHECK(ir_bind_symbols(g, in, sym, &d) == E_MODEL && strstr(d.msg, "dim 1"));
	in[0].dims[1] = 3;
	in[0].rank = 3;
	memset(&d, 0, sizeof d);
	CHECK(ir_bind_symbols(g, in, sym, &d) == E_MODEL && strstr(d.msg, "rank"));
	in[0].rank = 2;
	in[0].dt = DT_F16;
	memset(&d, 0, sizeof d);
	CHECK(ir_bind_symbols(g, in, sym, &d) == E_MODEL && strstr(d.msg, "dtype"));
	ir_graph_free(g);
}

int main(void)
{
	test_pytorch_chain(0, 17);
	test_pytorch_chain(1, 17);
	test_pytorch_chain(1, 11);
	test_broadcast();
	test_expand_pattern();
	test_conv_pool_matmul();
	test_slice_range_split();
	test_misc_dtypes();
	test_old_opsets();
	test_bind();
	if (fails)
		fprintf(stderr, "test_shape: %d checks failed\n", fails);
	return fails != 0;
}
