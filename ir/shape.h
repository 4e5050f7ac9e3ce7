/* Helpers shared by the shape and dtype rules (ir/shape*.c): typed access to
 * a node's inputs and outputs, broadcasting of symbolic dims, and the
 * "known values" (Value.sv) of small integer tensors. */
#ifndef VIBEE_SHAPE_H
#define VIBEE_SHAPE_H
#include "ir.h"

/* Known element values (Value.sv) are Dims. A non-negative integer is
 * stored as itself; a negative integer k (e.g. Reshape's -1) is stored as
 * the dim expression (0 - |k|), which ir_dim_eval evaluates to k. Use
 * ir_sv_lit / ir_sv_mk rather than testing d >= 0. */
bool ir_sv_lit(const Graph *g, Dim d, int64_t *v);     /* d is a known integer */
Dim ir_sv_mk(Graph *g, int64_t v);

/* Largest static dim a rule may produce (as the frontend's ONNX_MAX_DIM);
 * bounds keep all static dim arithmetic far from int64 overflow. */
#define SH_MAXDIM ((int64_t)1 << 40)
/* a * b and the product of a shape's dims; static results above SH_MAXDIM
 * set *ok = false. */
Dim sh_mul(Graph *g, Dim a, Dim b, bool *ok);
Dim sh_numel(Graph *g, const Shape *s, bool *ok);

/* Input i of n, or NULL when omitted (IR_NONE) or past nin. */
Value *sh_in(Graph *g, const Node *n, int i);
/* Set output i's type (skipped when the output is omitted). Fails when the
 * rank exceeds IR_MAXRANK. */
int sh_out(Graph *g, Node *n, Diag *d, int i, int dt, const Shape *s);
/* Output i's value, or NULL when omitted. */
Value *sh_outv(Graph *g, const Node *n, int i);
/* "f32[2,batch]" for messages. */
const char *sh_tstr(const Graph *g, const Value *v, char *buf, size_t n);
/* Normalise an axis in [-rank, rank) to [0, rank); fails naming `what`. */
int sh_axis(Graph *g, Node *n, Diag *d, int64_t axis, int rank,
            const char *what, int *out);
/* Broadcast two dims; -1 is never returned: on failure returns 0 and sets
 * *ok = false. */
Dim sh_bdim(Graph *g, Dim a, Dim b, bool *ok);
/* Multidirectional (numpy) broadcast of a and b into out. */
int sh_bcast2(Graph *g, Node *n, Diag *d, const Value *a, const Value *b,
             Shape *out);
/* Unify two dims that must be equal (static wins over symbolic); fails on
 * two different static dims. */
Dim sh_unify(Dim a, Dim b, bool *ok);

/* Known integer values of input i: returns the element count and fills
 * v[0..max) (all must be literals), or -1 when not known at compile time
 * (from sv, or from a VK_CONST's data of any integer dtype). */
int sh_ints(Graph *g, const Node *n, int i, int64_t *v, int max);
/* Known values of input i as Dims (symbolic allowed): count or -1. */
int sh_dims(Graph *g, const Node *n, int i, Dim *v, int max);
/* Known scalar (first element) of input i as a double, from a constant of
 * any numeric dtype or from a literal sv. Returns false if unknown. */
bool sh_scalar_f(Graph *g, const Node *n, int i, double *v);
/* Number of elements of a 1-D (or scalar) input i, when static; else -1. */
int64_t sh_len1d(Graph *g, const Node *n, int i);
/* Integer list from attribute `name` (count, or -1 if absent). */
int sh_attr_ints(const Node *n, const char *name, int64_t *v, int max);
/* Store known values into output i's sv (nsv = count). */
void sh_set_sv(Graph *g, const Node *n, int i, const Dim *v, int count);
/* Spatial output size of a sliding window: floor or ceil((in + pad - ext) /
 * stride) + 1 where ext = (k - 1) * dil + 1 (pad: begin + end). Returns
 * false when a static result would be below 1 (window larger than input). */
bool sh_winsize(Graph *g, Dim in, int64_t pad, int64_t k, int64_t dil,
               int64_t stride, bool ceil_mode, Dim *out);
/* in + k for a possibly negative k (false if a static result is < 0). */
bool sh_addk(Graph *g, Dim in, int64_t k, Dim *out);

#endif
