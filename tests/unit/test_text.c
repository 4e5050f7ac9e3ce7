/* Unit tests of the IR text form and the verifier: print(parse(x)) == x,
 * graphs built through the API survive print -> parse with identical
 * contents, and garbage (hand-written and mutated) fails cleanly with a
 * "file:line:col: message" diagnostic. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir/ir.h"
#include "ir/text.h"
#include "ir/verify.h"

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK(%s) failed\n", \
	__FILE__, __LINE__, #c); failures++; } } while (0)

/* Canonical texts: printing what was parsed gives the text back. */
static const char *const canon[] = {
	"graph \"tiny\" opset 17 {\n"
	"  in %x: f32[batch,seq,64]\n"
	"  const %w: f32[2] = [0.5, 1.25]\n"
	"  %t1: f32[batch,seq,64] = Mul(%x, %w)\n"
	"  %t2: f32[batch,seq,64] = Softmax(%t1) {axis = -1}\n"
	"  %y: f32[batch,seq,64] = Identity(%t2)\n"
	"  out %y\n"
	"}\n",

	"graph \"\" opset 13 {\n"
	"  in %a: ?\n"
	"  in %\"b:0\": i64[]\n"
	"  in %\"9\": u8[0,3]\n"
	"  %0: ? = Relu(%a)\n"
	"  %1: ?[2]<n,(n+1)> = Shape(%0) @\"x\\ty\\\\\\\"\\x01\" opset 21\n"
	"  out %1\n"
	"  out %0\n"
	"}\n",

	"graph \"attrs\" opset 17 {\n"
	"  in %x: bf16[batch,seq,(seq*batch),cdiv(seq,2),mod(batch,4),min(seq,8),(seq-1),(seq/2)]\n"
	"  const %k: i32[3] = [1, -2147483648, 2147483647]\n"
	"  const %f: f64[2] = [0.1, -1e+300]\n"
	"  const %b: bool[2] = [false, true]\n"
	"  %y: ? = Resize(%x, _, _, %k) {i = -9223372036854775808, f = 3.4028235e+38, "
	"s = \"\", is = [1, -1], fs = [-0.0, 1e-45, inf, nan], ss = [\"\", \"a,b\"], "
	"ei = ints[], ef = floats[], es = strings[], t = %k, u = undef}\n"
	"  out %y\n"
	"}\n",
};

/* Products order their operands by dim-table position, so a text whose
 * first dim is a product needs the `dims` statement to read back. */
static const char *const needs_dims =
	"graph \"d\" opset 17 {\n"
	"  in %x: f32[(seq*batch)]\n"
	"  in %y: f32[batch,seq]\n"
	"  out %x\n"
	"}\n";

static Graph *parse_ok(const char *text)
{
	Diag d = {0};
	Graph *g = ir_parse(text, "t.vir", &d);
	if (!g)
		fprintf(stderr, "unexpected parse failure: %s\n", d.msg);
	CHECK(g != NULL);
	return g;
}

static void test_canonical(void)
{
	for (size_t i = 0; i < sizeof canon / sizeof canon[0]; i++) {
		Graph *g = parse_ok(canon[i]);
		if (!g)
			continue;
		char *s = ir_print_str(g);
		if (strcmp(s, canon[i]) != 0)
			fprintf(stderr, "round trip %zu differs:\n--- want\n%s--- got\n%s", i, canon[i], s);
		CHECK(strcmp(s, canon[i]) == 0);
		free(s);
		ir_graph_free(g);
	}
}

static void test_dims_statement(void)
{
	Graph *g = parse_ok(needs_dims);
	if (!g)
		return;
	char *p1 = ir_print_str(g);
	CHECK(strstr(p1, "  dims ") != NULL);
	Graph *h = parse_ok(p1);
	if (h) {
		char *p2 = ir_print_str(h);
		CHECK(strcmp(p1, p2) == 0);
		free(p2);
		ir_graph_free(h);
	}
	free(p1);
	ir_graph_free(g);
}

/* A graph built through the API, with every attribute kind, survives the
 * trip with identical contents (compared field by field, not as text). */
static void test_api_graph(void)
{
	Graph *g = ir_graph_new("api");
	g->name = "api";
	Shape s = {.rank = 2, .d = {ir_dim_sym(g, "batch"), 3}};
	uint32_t x = ir_input(g, "x", DT_F32, &s);
	float big[40];
	for (int i = 0; i < 40; i++)
		big[i] = (float)i / 7.0f;
	Shape sb = {.rank = 2, .d = {10, 4}};
	uint32_t w = ir_const(g, "weights.0", DT_F32, &sb, big);
	uint32_t in[2] = {x, w};
	uint32_t n = ir_node(g, OP_MatMul, "mm", 2, in, 1);
	g->val[g->node[n].out[0]].name = "mm:out";
	Attr *a = ir_attr_add(g, n, "fl", AK_FLOAT);
	a->f = 0.1f;
	a = ir_attr_add(g, n, "in", AK_INT);
	a->i = -42;
	a = ir_attr_add(g, n, "st", AK_STRING);
	a->s = "quote\" backslash\\ newline\n high\xc3\xa9";
	static int64_t iv[3] = {5, -6, 7};
	a = ir_attr_add(g, n, "ints", AK_INTS);
	a->n = 3;
	a->ints = iv;
	static float fv[2] = {1.0f / 3.0f, -2.5e-8f};
	a = ir_attr_add(g, n, "floats", AK_FLOATS);
	a->n = 2;
	a->floats = fv;
	static const char *sv[2] = {"p", "q r"};
	a = ir_attr_add(g, n, "strs", AK_STRINGS);
	a->n = 2;
	a->strs = sv;
	a = ir_attr_add(g, n, "tensor", AK_TENSOR);
	a->t = w;
	ir_graph_output(g, g->node[n].out[0]);

	char *full = ir_print_str_opts(g, 1);
	char *brief = ir_print_str(g);
	CHECK(strstr(brief, "weight(160 bytes)") != NULL);
	CHECK(strstr(full, "hex\"") != NULL);
	Diag d = {0};
	Graph *e = ir_parse(brief, "brief.vir", &d);
	CHECK(e == NULL);
	CHECK(d.code == E_MODEL && strstr(d.msg, "elided") && strncmp(d.msg, "brief.vir:", 10) == 0);

	Graph *h = parse_ok(full);
	if (h) {
		char *again = ir_print_str_opts(h, 1);
		CHECK(strcmp(again, full) == 0);
		free(again);
		CHECK(h->nnode == 1 && h->nin == 1 && h->nout == 1);
		const Value *hw = NULL;
		for (uint32_t v = 0; v < h->nval; v++)
			if (h->val[v].kind == VK_CONST)
				hw = &h->val[v];
		CHECK(hw && hw->data && memcmp(hw->data, big, sizeof big) == 0);
		CHECK(hw && strcmp(hw->name, "weights.0") == 0);
		const Node *hn = &h->node[0];
		CHECK(hn->op == OP_MatMul && strcmp(hn->name, "mm") == 0);
		CHECK(strcmp(h->val[hn->out[0]].name, "mm:out") == 0);
		CHECK(ir_attr_f(hn, "fl", 0) == (double)0.1f);
		CHECK(ir_attr_i(hn, "in", 0) == -42);
		CHECK(strcmp(ir_attr_s(hn, "st", ""), "quote\" backslash\\ newline\n high\xc3\xa9") == 0);
		const int64_t *pi;
		CHECK(ir_attr_ints(hn, "ints", &pi) == 3 && pi[0] == 5 && pi[1] == -6 && pi[2] == 7);
		const Attr *af = ir_attr(hn, "floats");
		CHECK(af && af->kind == AK_FLOATS && af->n == 2 && af->floats[0] == fv[0] &&
		      af->floats[1] == fv[1]);
		const Attr *as = ir_attr(hn, "strs");
		CHECK(as && as->kind == AK_STRINGS && as->n == 2 && strcmp(as->strs[1], "q r") == 0);
		const Attr *at = ir_attr(hn, "tensor");
		CHECK(at && at->kind == AK_TENSOR && at->t < h->nval && &h->val[at->t] == hw);
		const Value *hx = &h->val[h->in[0]];
		CHECK(hx->shape.rank == 2 && hx->shape.d[1] == 3 && ir_dim_is_sym(h, hx->shape.d[0]));
		CHECK(strcmp(h->dim[DIM_IDX(hx->shape.d[0])].name, "batch") == 0);
		CHECK(ir_verify_opts(h, false, &d) == 0);
		ir_graph_free(h);
	}
	free(full);
	free(brief);
	ir_graph_free(g);
}

/* Each of these must fail with "t.vir:LINE:COL: ..." and no crash. */
static const char *const garbage[] = {
	"",
	"graph",
	"graph {",
	"graph \"x\" opset 17 { in %x: f32[2] ",
	"graph \"x\" opset 17 { in %x: f99[2] }",
	"graph \"x\" opset 17 { in %x: f32[1,2,3,4,5,6,7,8,9] }",
	"graph \"x\" opset 17 { in %x: f32[2] in %x: f32[2] }",
	"graph \"x\" opset 17 { %y: ? = Nope(%x) }",
	"graph \"x\" opset 17 { in %x: f32[2] %y: ? = Add(%x) }",
	"graph \"x\" opset 17 { in %x: f32[2] %y: ? = Relu(%x, %x) }",
	"graph \"x\" opset 17 { in %x: f32[2] %y: ? = Relu(%z) out %y }",
	"graph \"x\" opset 17 { out %nothing }",
	"graph \"x\" opset 17 { const %c: f32[2] = [1.0] }",
	"graph \"x\" opset 17 { const %c: f32[2] = [1.0, 2.0, 3.0] }",
	"graph \"x\" opset 17 { const %c: i8[1] = [128] }",
	"graph \"x\" opset 17 { const %c: u8[1] = [-1] }",
	"graph \"x\" opset 17 { const %c: i64[1] = [99999999999999999999] }",
	"graph \"x\" opset 17 { const %c: f32[n] = [1.0] }",
	"graph \"x\" opset 17 { const %c: f32[2] = hex\"00\" }",
	"graph \"x\" opset 17 { const %c: u8[1] = hex\"zz\" }",
	"graph \"x\" opset 17 { const %c: f32[1000000000000] = [1.0] }",
	"graph \"x\" opset 17 { in %x: f32[2] %y: ? = Relu(%x) {a = } }",
	"graph \"x\" opset 17 { in %x: f32[2] %y: ? = Relu(%x) {a = 1, a = 2} }",
	"graph \"x\" opset 17 { in %x: f32[2] %y: ? = Relu(%x) {a = [1, \"s\"]} }",
	"graph \"x\" opset 17 { in %x: f32[2] %y: ? = Relu(%x) {a = %x} }",
	"graph \"x\" opset 17 { in %x: f32[2] %y: ? = Relu(%x) {a = \"\\q\"} }",
	"graph \"x\" opset 17 { in %x: f32[2] %y: ? = Relu(%x) {a = \"\\x00\"} }",
	"graph \"x\" opset 17 { in %x: f32[2] %y: ? = Relu(%x) {a = \"open} }",
	"graph \"x\" opset 17 { in %x: f32[(a/0)] }",
	"graph \"x\" opset 17 { in %x: f32[((((((((((((((((((((((((((((((((((((a+1)+1)))))))))))))))))))))))))))))))))] }",
	"graph \"x\" opset 17 { in %x: f32[2] } trailing",
	"graph \"x\" opset 17 { in % }",
	"graph \"x\" opset 17 { in %x: f32[2] \x01 }",
	"graph \"x\" opset 17 { in %x: f32[2] %y: ? = Relu(%x) @name }",
	"graph \"x\" opset 0 { }",
	"graph \"x\" opset 17 { in %x: f32[2] %y: ? = Relu(%x) {g = graph \"s\" { in %a: ? } }",
};

static void test_garbage(void)
{
	for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
		Diag d = {0};
		Graph *g = ir_parse(garbage[i], "t.vir", &d);
		if (g)
			fprintf(stderr, "garbage %zu parsed: %s\n", i, garbage[i]);
		CHECK(g == NULL);
		CHECK(d.code == E_MODEL);
		int line = 0, col = 0;
		CHECK(sscanf(d.msg, "t.vir:%d:%d: ", &line, &col) == 2 && line >= 1 && col >= 1);
		CHECK(strchr(d.msg, '\n') == NULL);
		ir_graph_free(g);
	}
}

/* Mutated valid texts: parse must succeed or fail cleanly; whatever parses
 * must print, re-parse and print identically. */
static void test_mutations(void)
{
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	const char alphabet[] = "%\"[](){}<>,:=_-+*/?#@\\ \n0123456789.eabcxyzfi";
	for (int iter = 0; iter < 3000; iter++) {
		const char *src = canon[iter % (sizeof canon / sizeof canon[0])];
		size_t n = strlen(src);
		char *t = malloc(n + 16);
		memcpy(t, src, n + 1);
		int edits = 1 + iter % 4;
		for (int e = 0; e < edits; e++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			size_t pos = (size_t)(rng >> 33) % n;
			unsigned kind = (unsigned)(rng >> 20) % 3;
			char c = alphabet[(rng >> 40) % (sizeof alphabet - 1)];
			if (kind == 0)
				t[pos] = c;
			else if (kind == 1)
				t[pos] = 0;   /* truncate */
			else
				memmove(t + pos, t + pos + 1, n - pos);   /* delete */
			n = strlen(t);
			if (!n)
				break;
		}
		Diag d = {0};
		Graph *g = ir_parse(t, "m.vir", &d);
		if (g) {
			char *p1 = ir_print_str(g);
			Graph *h = ir_parse(p1, "p1.vir", &d);
			CHECK(h != NULL);
			if (h) {
				char *p2 = ir_print_str(h);
				CHECK(strcmp(p1, p2) == 0);
				free(p2);
				ir_graph_free(h);
			}
			free(p1);
			ir_graph_free(g);
		} else {
			CHECK(d.code == E_MODEL && strncmp(d.msg, "m.vir:", 6) == 0);
		}
		free(t);
	}
}

static void test_verify(void)
{
	Diag d = {0};
	Graph *g = parse_ok("graph \"v\" opset 17 {\n  in %x: f32[2]\n  %y: ? = Relu(%x)\n"
	                    "  %z: ? = Neg(%y)\n  out %z\n}\n");
	if (!g)
		return;
	CHECK(ir_verify_opts(g, false, &d) == 0);
	CHECK(ir_verify(g, &d) != 0 && strstr(d.msg, "no dtype"));   /* not inferred */
	/* use before definition: swap the two nodes' order by hand */
	Diag d2 = {0};
	Node tmp = g->node[0];
	g->node[0] = g->node[1];
	g->node[1] = tmp;
	CHECK(ir_verify_opts(g, false, &d2) != 0 && strstr(d2.msg, "before it is defined"));
	g->node[1] = g->node[0];
	g->node[0] = tmp;
	/* out-of-range input */
	Diag d3 = {0};
	g->node[1].in[0] = 999;
	CHECK(ir_verify_opts(g, false, &d3) != 0 && strstr(d3.msg, "out of range"));
	g->node[1].in[0] = g->node[0].out[0];
	/* dead definer */
	Diag d4 = {0};
	g->node[0].dead = true;
	CHECK(ir_verify_opts(g, false, &d4) != 0);
	ir_graph_free(g);
}

int main(void)
{
	test_canonical();
	test_dims_statement();
	test_api_graph();
	test_garbage();
	test_mutations();
	test_verify();
	if (failures) {
		fprintf(stderr, "test_text: %d failures\n", failures);
		return 1;
	}
	printf("test_text: ok\n");
	return 0;
}
