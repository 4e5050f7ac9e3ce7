/* Internal interface of the graph -> kernel-IR lowering (lower*.c). */
#ifndef VIBEE_LOWER_H
#define VIBEE_LOWER_H
#include "kir.h"

/* Result of one op's loop lowering. */
enum { LW_OK = 0, LW_CALL = 1 /* not handled: make a CALL kernel */, LW_ERR = 2 };

typedef struct Low {
	Graph *g;
	KProg *p;
	Diag *d;
	uint32_t nid;        /* node being lowered */
} Low;

/* A loop nest over an output shape. Adjacent dims are merged into one loop
 * when every operand allows it (nest_build with operands); gvar[i] is the
 * loop variable expression of group i, covering dims gfirst[i]..glast[i]. */
typedef struct Nest {
	int rank, ng;
	int gfirst[IR_MAXRANK], glast[IR_MAXRANK];
	int gvar[IR_MAXRANK];
	int gext[IR_MAXRANK];   /* extent expressions */
	int inner;              /* innermost loop statement, -1 if rank 0 */
	Shape out;
	int nop;
	Shape op[8];
	uint8_t st[8][IR_MAXRANK];   /* per operand, per dim: status */
} Nest;

/* Build loops for `out` under `parent`; operands (shapes, right-aligned
 * numpy broadcasting) decide merging; nop = 0 or merge = false keeps one
 * loop per dim. par: make the outermost loop a thread loop when big. */
int nest_build(Low *L, Kernel *k, Nest *n, const Shape *out, const Shape *ops, int nop,
               bool merge, int parent, bool par);
/* Element index of operand j (as given to nest_build) in the nest. */
int nest_index(Low *L, Kernel *k, const Nest *n, int j);
/* Element index in `out` itself (row-major, contiguous). */
int nest_out_index(Low *L, Kernel *k, const Nest *n);
/* Per-dim index variable of dim d (only when built without merging). */
int nest_dim_var(const Nest *n, int d);
/* Row-major stride of dim i of shape s, as a Dim. */
Dim shape_stride(Graph *g, const Shape *s, int i);
/* Static element count, or -1 when symbolic. */
int64_t shape_numel_static(const Shape *s);
/* Index expression of a row-major tensor of shape s at per-dim indices. */
int row_major_index(Low *L, Kernel *k, const Shape *s, const int *idx);
/* Remove the last kernel (after a lowering gave up half-way). */
void drop_last(KProg *p);
/* Is the dtype one the loop kernels handle (numbers and bool)? */
bool lw_dtype_ok(int dt);
/* A constant value's integers (rank <= 1): count, or -1 when not constant. */
int const_ints(Graph *g, uint32_t v, int64_t *out, int max);
/* Thread-loop threshold in elements. */
#define LW_PAR_MIN 32768
/* iterations per thread chunk of a loop whose iterations do `inner` elements
 * each: about 4096 elements a chunk */
#define LW_GRAIN(inner) ((inner) >= 4096 ? 1 : 4096 / ((inner) ? (inner) : 1))

int lower_elementwise(Low *L, Node *n);
int lower_reduce(Low *L, Node *n);
int lower_softmax(Low *L, Node *n);
int lower_matmul(Low *L, Node *n);
int lower_gemm(Low *L, Node *n);
int lower_transpose(Low *L, Node *n);
int lower_concat(Low *L, Node *n);
int lower_slice(Low *L, Node *n);
int lower_gather(Low *L, Node *n);
int lower_more(Low *L, Node *n);       /* lower_more.c: ArgMax/ArgMin, Trilu, ... */
int lower_gpu_rows(Low *L, Node *n);   /* lower_gpu.c, GPU targets only */
int lower_gpu_conv(Low *L, Node *n);   /* lower_gpu_conv.c, GPU targets only */
int lower_gpu_attn(Low *L, Node *n);   /* lower_gpu_attn.c, GPU targets only */
/* fused_conv / fused_matmul activation (lower_gpu_conv.c): kind 0 none,
 * 1 Relu, 2 Gelu (erf), 3 Silu, -1 unknown; lower_gpu_act applies it to f32 v */
int lower_gpu_act_kind(const Node *n);
int lower_gpu_act(Kernel *k, int kind, int v);
/* lower_gpu.c: a KB_DIV / KB_MOD of non-negative index a by positive b,
 * tagged KX_NONNEG (gpu.h) for the renderers; folded when both are constant
 * or b is 1 */
int lower_gpu_nn(Kernel *k, int fn, int a, int b);
/* lower_move.c: a Transpose's permutation, a constant Slice's per-dim start
 * and step (LW_CALL when they are not known at compile time). */
int lw_transpose_perm(Low *L, Node *n, int64_t *perm);
int lw_slice_params(Low *L, Node *n, int64_t *start, int64_t *step);
/* lower_ew.c: is node ni a fuse_group member computed inside its group's
 * root (the caller emits nothing for it)? */
bool cg_group_member(const Graph *g, uint32_t ni);
/* lower_ew.c for lower_rows.c: an elementwise node's value from operand
 * values; its fuse_group id (-1: none); operand indices by broadcasting. */
int lw_ew_value(Kernel *k, const Node *n, Graph *g, const int *xs, int nx);
bool lw_ew_simple(const Graph *g, const Node *n);
int64_t lw_group_of(const Node *n);
bool lw_bcast_idx(Kernel *k, const Shape *s, const Shape *o, const int *idx, int *oi);
/* lower_rows.c: a group with a row reduction (members mem, node order). */
int lower_group_rows(Low *L, Node *root, const uint32_t *mem, int nm);
/* lower_ew.c: lower group members (node order) as kernels of their own */
int lw_lower_members(Low *L, const uint32_t *mem, int nm);
/* lower_ew.c: a Concat rooting a fuse_group, its inputs computed into their
 * slices; LW_CALL (members lowered apart) when not possible */
int lw_concat_group(Low *L, Node *n);
/* lower_rowop.c: a LayerNormalization / Softmax / LogSoftmax fuse_group
 * root with its elementwise prologue as one row kernel; LW_CALL when not
 * possible, after lowering the members as kernels of their own (the
 * caller then lowers the root as usual). */
int lower_group_rowop(Low *L, Node *root);
/* lower_ew.c: node ids into graph order (fuse-group member lists) */
void cg_sort_nodes(uint32_t *v, int n);
/* lower_rows.c: the row kernels' loops over all dims but the last */
int cg_row_loops(Low *L, Kernel *k, const Shape *full, int *idx);
#endif
