/* Data-movement and data-dependent-shape kernels of the kernel library
 * (runtime/kdyn*.c), called from a model.so in place of the reference
 * kernels for the ops codegen/lower_dyn.c accepts: shape ops whose shape
 * inputs are only known at run time (Reshape, Slice, Pad, Tile, Expand,
 * Range, ...), index ops (GatherND, Scatter*, TopK, Unique, NonZero, ...)
 * and image resampling (Resize, Upsample, GridSample). Written from the
 * ONNX operator specs, independently of ir/ref_*.c. Same calling
 * convention as the reference kernels (ir/kern.h): an output with
 * data == NULL gets its dims here and is allocated through c->alloc. */
#ifndef VIBEE_KDYN_H
#define VIBEE_KDYN_H
#include "../ir/kern.h"
#include "kpool.h"

/* Runs c->op; 0, or nonzero with the reason in c->err. */
int kdyn_call(kpool *pool, KCall *c);
/* Is op one kdyn_call implements (the lowering also checks the attributes)? */
int kdyn_has_op(int op);

/* per file (kdyn.c, kdyn_idx.c, kdyn_img.c): 1 if c->op is not theirs */
int kdyn_shape(KCall *c, int *rc);
int kdyn_index(KCall *c, int *rc);
int kdyn_image(KCall *c, int *rc);
#endif
