/* The vibeec graph IR: a typed SSA graph. Values carry a dtype and a shape of
 * static or symbolic dims; nodes apply ops from ops.def. Everything is
 * referred to by 32-bit index; the graph owns an arena for names and
 * attribute payloads. Weights are referenced, never copied. */
#ifndef VIBEE_IR_H
#define VIBEE_IR_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "kern.h"

#define IR_NONE 0xffffffffu
#define IR_MAXRANK K_MAXRANK

/* ---- diagnostics ------------------------------------------------------ */
enum { E_OK = 0, E_MODEL = 1, E_IO = 2, E_USAGE = 2 };
typedef struct Diag {
	int code;             /* first error's code, 0 if none */
	char msg[1024];       /* first error's one-line message */
} Diag;
/* Record an error (only the first is kept); returns code. */
int diag_set(Diag *d, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int diag_vset(Diag *d, int code, const char *fmt, va_list ap);

/* ---- arena ------------------------------------------------------------ */
typedef struct Arena Arena;
Arena *arena_new(void);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t n);          /* zeroed, 16-aligned */
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
void *arena_memdup(Arena *a, const void *p, size_t n);

/* ---- dims ------------------------------------------------------------- */
/* A Dim >= 0 is a known size. A Dim < 0 names entry DIM_IDX(d) of the
 * graph's dim table: a symbol (a dim_param such as "batch") or an
 * expression over other dims. Dims are hash-consed, so two equal
 * expressions built the same way are the same Dim.
 * Symbols not appearing in any graph input's shape are runtime symbols:
 * a shape rule that cannot know a dim before run time (it depends on
 * tensor data) makes a fresh one with ir_dim_fresh(). Such a symbol is
 * bound when the first node (in order) having it as a plain dim of an
 * output runs: that node is executed with out.data == NULL (see kern.h)
 * and the symbol takes the dim the kernel produced. */
typedef int64_t Dim;
#define DIM_IDX(d) ((uint32_t)(-(d) - 1))
#define DIM_OF(i)  (-(Dim)(i) - 1)
enum { DX_SYM, DX_ADD, DX_SUB, DX_MUL, DX_DIV, DX_MOD, DX_MAX, DX_MIN,
       DX_CDIV /* ceil division */ };
typedef struct DimExpr {
	uint8_t op;           /* DX_* */
	Dim a, b;             /* operands (DX_SYM: unused) */
	const char *name;     /* DX_SYM: the symbol's name */
} DimExpr;

typedef struct Shape {
	int rank;             /* -1: not yet inferred */
	Dim d[IR_MAXRANK];
} Shape;

/* ---- values, nodes, attributes ---------------------------------------- */
enum { VK_NODE = 0, VK_INPUT = 1, VK_CONST = 2 };

typedef struct Value {
	const char *name;     /* ONNX name, or NULL (printed as %<id>) */
	int dt;               /* DType; DT_UNDEF until inferred */
	Shape shape;
	uint8_t kind;         /* VK_* */
	uint32_t def;         /* VK_NODE: defining node; else IR_NONE */
	uint16_t defout;      /* which output of def */
	const void *data;     /* VK_CONST: row-major data, not owned */
	/* Known element values of a small integer tensor (rank <= 1, at most
	 * IR_MAXSV elements), as dims: shape arithmetic (Shape -> Gather ->
	 * Concat -> Reshape) is tracked through these. nsv < 0: unknown. */
	int nsv;
	Dim *sv;
} Value;
#define IR_MAXSV 64

typedef struct Attr {
	const char *name;
	int kind;             /* AK_* from kern.h */
	int n;                /* count for FLOATS/INTS/STRINGS */
	int64_t i;
	double f;
	const char *s;        /* STRING: NUL-terminated */
	int64_t *ints;
	float *floats;
	const char **strs;
	uint32_t t;           /* TENSOR: a VK_CONST value of the graph */
	struct Graph *g;      /* GRAPH: subgraph, owned by the graph (parsed, not yet lowered) */
} Attr;

typedef struct Node {
	int op;               /* OP_* */
	const char *name;     /* ONNX node name (may be "") */
	int opset;            /* opset of the op's domain in the model */
	int nin, nout, nattr;
	uint32_t *in;         /* value ids; IR_NONE for an omitted input */
	uint32_t *out;
	Attr *attr;
	bool dead;            /* removed; ir_compact() drops it */
} Node;

typedef struct Graph {
	Arena *arena;
	const char *source;   /* model file name, for messages */
	const char *name;
	int opset;            /* default-domain opset */
	Value *val;   uint32_t nval, capval;
	Node *node;   uint32_t nnode, capnode;
	uint32_t *in;  uint32_t nin;    /* graph inputs, in order */
	uint32_t *out; uint32_t nout;   /* graph outputs, in order */
	DimExpr *dim; uint32_t ndim, capdim;
	void *keep;           /* owner of the weight bytes (frontend's) */
	void (*keep_free)(void *);
} Graph;

/* ---- building --------------------------------------------------------- */
Graph *ir_graph_new(const char *source);
void ir_graph_free(Graph *g);
uint32_t ir_value(Graph *g, const char *name, int dt, const Shape *s);
uint32_t ir_input(Graph *g, const char *name, int dt, const Shape *s);
/* A constant referencing `data` (not copied: must outlive the graph, or be
 * arena memory). */
uint32_t ir_const(Graph *g, const char *name, int dt, const Shape *s,
                  const void *data);
/* A constant whose bytes are copied into the arena (for folded values). */
uint32_t ir_const_copy(Graph *g, const char *name, int dt, const Shape *s,
                       const void *data);
/* Append a node; its outputs are new VK_NODE values with unknown type.
 * ins may contain IR_NONE. Returns the node id. */
uint32_t ir_node(Graph *g, int op, const char *name, int nin,
                 const uint32_t *ins, int nout);
Attr *ir_attr_add(Graph *g, uint32_t node, const char *name, int kind);
const Attr *ir_attr(const Node *n, const char *name);   /* NULL if absent */
int64_t ir_attr_i(const Node *n, const char *name, int64_t def);
double ir_attr_f(const Node *n, const char *name, double def);
const char *ir_attr_s(const Node *n, const char *name, const char *def);
int ir_attr_ints(const Node *n, const char *name, const int64_t **v);
void ir_graph_output(Graph *g, uint32_t v);
/* Replace every use of value `from` (node inputs and graph outputs) by `to`. */
void ir_replace_uses(Graph *g, uint32_t from, uint32_t to);
/* Drop dead nodes, order nodes topologically, and drop values nothing uses
 * or defines, renumbering ids. Returns E_MODEL (and a message) on a cycle. */
int ir_compact(Graph *g, Diag *d);
/* Use counts per value (caller frees). */
uint32_t *ir_use_counts(const Graph *g);

static inline Value *ir_val(Graph *g, uint32_t v) { return &g->val[v]; }

/* ---- dims and shapes -------------------------------------------------- */
Dim ir_dim_sym(Graph *g, const char *name);     /* same name, same Dim */
Dim ir_dim_fresh(Graph *g);                     /* new runtime symbol "_rN" */
Dim ir_dim_bin(Graph *g, int op, Dim a, Dim b); /* folds constants */
bool ir_dim_is_sym(const Graph *g, Dim d);      /* d is a plain symbol */
int ir_dim_is_static(Dim d);
bool ir_shape_static(const Shape *s);
Dim ir_shape_numel(Graph *g, const Shape *s);
/* Evaluate d given symbol values (indexed by dim-table index; entries that
 * are not symbols are ignored). Returns 0, or -1 if a symbol is unbound
 * (symval < 0) or the arithmetic is invalid (division by zero). */
int ir_dim_eval(const Graph *g, Dim d, const int64_t *symval, int64_t *out);
/* Print a dim into buf: "4", "batch", "(batch*seq)". */
const char *ir_dim_str(const Graph *g, Dim d, char *buf, size_t n);
void ir_shape_str(const Graph *g, const Shape *s, char *buf, size_t n);

/* ---- messages --------------------------------------------------------- */
/* "file: node 'name' (Op, opset N): <fmt>" */
int ir_node_error(Diag *d, const Graph *g, const Node *n, int code,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
const char *ir_op_name(int op);

/* ---- ops.def metadata ------------------------------------------------- */
typedef int (*ShapeFn)(Graph *g, Node *n, Diag *d);
typedef struct OpInfo {
	const char *name;
	int min_in, max_in, min_out, max_out;
	ShapeFn shape;
	RefFn ref;
} OpInfo;
extern const OpInfo op_info[OP_COUNT];

/* ---- tools over the IR ------------------------------------------------ */
/* Text form (ir/print.c, ir/parse.c): ir_print(ir_parse(t)) == t for any
 * printed t. Constants print their bytes only when small (<= 16 elements);
 * larger ones print as `= weight(<n> bytes)`, which does not parse back,
 * unless full printing (--print-full) asks for their bytes as hex. */
void ir_print(FILE *f, const Graph *g);
char *ir_print_str(const Graph *g);             /* malloc'd */
Graph *ir_parse(const char *text, const char *source, Diag *d);
/* Structural checks: ids in range, SSA (one def per value), topological
 * order, arity within ops.def bounds, types present after inference. */
int ir_verify(const Graph *g, Diag *d);
/* Shape and dtype inference over the whole graph (ir/shape.c drives the
 * sh_* rules of ops.def). */
int ir_infer(Graph *g, Diag *d);
/* Reference evaluator (ir/eval.c): runs the graph with the ref_* kernels.
 * inputs: one per graph input; outputs: one per graph output, filled with
 * malloc'd data the caller frees. */
int ir_eval(Graph *g, const KTensor *inputs, KTensor *outputs, Diag *d);
/* Bind symbols from concrete input shapes: symval[i] for each dim-table
 * entry that is a symbol (others -1). Fails (E_MODEL, message) when a
 * static dim or an already bound symbol disagrees. */
int ir_bind_symbols(const Graph *g, const KTensor *inputs, int64_t *symval,
                    Diag *d);
#endif
