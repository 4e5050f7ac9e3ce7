/* Direct convolution, pooling and reorders in the blocked channel layout
 * NCHW16c (passes/layout.c chooses it): a tensor [N, C, H, W] is stored as
 * [N, ceil(C/16), H, W, 16], channel c at block c/16, lane c%16, lanes past
 * C zero. The convolution is register-blocked over output width x output
 * channel blocks with FMA, bias, residual and activation fused into the
 * store; weights are packed at compile time (kconvc_pack). */
#ifndef VIBEE_KCONV_H
#define VIBEE_KCONV_H
#include <stddef.h>
#include <stdint.h>
#include "kgemm.h"
#include "kpool.h"
#include "kops.h"

enum { KCB = 16 };   /* channel block of the layout */

/* Activations of the convolution's store beyond kgemm_act's, with their
 * two parameters ap[0], ap[1]: Clip (min, max), HardSigmoid (alpha, beta:
 * max(0, min(1, alpha x + beta))), HardSwish (x * HardSigmoid(1/6, 1/2)). */
enum { KC_ACT_CLIP = 16, KC_ACT_HSWISH, KC_ACT_HSIGMOID };

/* p[] as kconv2d (kops.h: KC_*), group 1 or depthwise (group == C == M).
 * x: NCHW (in_blocked 0) or NCHW16c [N, ceil(C/16), H, W, 16];
 * y, res: NCHW16c [N, ceil(M/16), OH, OW, 16]; res may be NULL or y.
 * wpk: kconvc_pack(p, w) of the ONNX weights [M, C/group, KH, KW].
 * act: a kgemm_act or KC_ACT_*, ap its parameters (NULL for kgemm_act).
 * scratch: kconvc_scratch(p, in_blocked) bytes, 64-aligned. */
int kconvc_supported(const int64_t *p);
size_t kconvc_pack_size(const int64_t *p, int in_blocked);
void kconvc_pack(const int64_t *p, int in_blocked, const float *w, float *packed);
size_t kconvc_scratch(const int64_t *p, int in_blocked);
void kconvc_f32(kpool *pool, const int64_t *p, int in_blocked, const float *x,
                const float *wpk, const float *bias, const float *res, float *y,
                int act, const float *ap, void *scratch);

/* Tests and benches: 0 turns the Winograd F(2x2,3x3) path of 3x3 stride-1
 * convolutions off (direct tiles only), 1 (the default) back on; it must
 * not change between kconvc_pack and kconvc_f32 of one convolution. */
void kconvc_set_wino(int on);
/* 1 when kconvc_f32 of p runs the Winograd F(2x2,3x3) path. */
int kconvc_winograd(const int64_t *p, int in_blocked);

/* Run-time spatial sizes (H, W, OH, OW known only when the model runs,
 * codegen/lower_nchwc.c): the Winograd choice is made at compile time for
 * every size, kconvc_winograd_any (the kernel-shape conditions only; any
 * size >= 1 is correct either way), and given to the _w twins, which
 * otherwise are kconvc_pack_size .. kconvc_f32. */
int kconvc_winograd_any(const int64_t *p, int in_blocked);
size_t kconvc_pack_size_w(const int64_t *p, int in_blocked, int wino);
void kconvc_pack_w(const int64_t *p, int in_blocked, int wino, const float *w, float *packed);
size_t kconvc_scratch_w(const int64_t *p, int in_blocked, int wino);
void kconvc_f32_w(kpool *pool, const int64_t *p, int in_blocked, int wino, const float *x,
                  const float *wpk, const float *bias, const float *res, float *y, int act,
                  const float *ap, void *scratch);

/* NCHW [n, c, hw] <-> NCHW16c [n, ceil(c/16), hw, 16] (to: lanes past c zeroed) */
void knchwc_to(int64_t n, int64_t c, int64_t hw, const float *x, float *y);
void knchwc_from(int64_t n, int64_t c, int64_t hw, const float *x, float *y);
/* MaxPool over blocked planes: q[] as kmaxpool2d_f32 (kops.h: KP_*) with
 * KP_PL = N * ceil(C/16) planes of H x W pixels of 16 lanes. */
void kmaxpoolc_f32(kpool *pool, const int64_t *q, const float *x, float *y);
/* GlobalAveragePool of NCHW16c x [n, ceil(c/16), hw, 16] into NCHW y [n, c]. */
void kgapc_f32(int64_t n, int64_t c, int64_t hw, const float *x, float *y);
#endif
