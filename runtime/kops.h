/* Tuned f32 kernels of the kernel library beside the GEMM: 2-D convolution
 * as implicit GEMM (im2col straight into kgemm's packed-B layout),
 * LayerNormalization over trailing dims, and a row softmax. Threaded over
 * a kpool; the generated code of a model.so calls them (codegen/emit_lib.c). */
#ifndef VIBEE_KOPS_H
#define VIBEE_KOPS_H
#include <stddef.h>
#include <stdint.h>
#include "kgemm.h"
#include "kpool.h"

/* NCHW 2-D convolution, f32. x [N, C, H, W], w [M, C/group, KH, KW],
 * y [N, M, OH, OW]; bias [M] and res (same shape as y) may be NULL:
 * y = act(conv(x, w) + bias + res). p[] = {N, C, H, W, M, KH, KW, OH, OW,
 * stride_h, stride_w, pad_top, pad_left, dil_h, dil_w, group}.
 * When kconv2d_transposed(p) (many pixels, few channels) the GEMM runs as
 * Y^T = col^T x W^T; wpack may then hold W^T packed by kconv2d_pack
 * (kconv2d_pack_size bytes), else NULL. y may be res (in place).
 * scratch: kconv2d_scratch(p) bytes, 64-aligned (may be NULL when 0). */
enum { KC_N, KC_C, KC_H, KC_W, KC_M, KC_KH, KC_KW, KC_OH, KC_OW, KC_SH, KC_SW,
       KC_PT, KC_PL, KC_DH, KC_DW, KC_G, KC_NP };
int kconv2d_transposed(const int64_t *p);
size_t kconv2d_scratch(const int64_t *p);
size_t kconv2d_pack_size(const int64_t *p);
void kconv2d_pack(const int64_t *p, const float *w, float *packed);
void kconv2d_f32(kpool *pool, const int64_t *p, const float *x, const float *w,
                 const float *wpack, const float *bias, const float *res, float *y,
                 kgemm_act act, void *scratch);

/* LayerNormalization over the last `len` elements of each of `rows` rows:
 * y = (x - mean) / sqrt(var + eps) * scale + bias; scale/bias have `len`
 * elements (bias may be NULL). */
void klayernorm_f32(kpool *pool, int64_t rows, int64_t len, const float *x,
                    const float *scale, const float *bias, float eps, float *y);

/* MaxPool over NCHW planes, f32, windows clipped to the input (padding is
 * -inf). q[] = {planes, H, W, KH, KW, OH, OW, stride_h, stride_w, pad_top,
 * pad_left, dil_h, dil_w}. */
enum { KP_PL, KP_H, KP_W, KP_KH, KP_KW, KP_OH, KP_OW, KP_SH, KP_SW, KP_PT, KP_PLEFT,
       KP_DH, KP_DW, KP_NQ };
void kmaxpool2d_f32(kpool *pool, const int64_t *q, const float *x, float *y);
/* Valid window taps [*t0, *t1) of output o along one dim (input n, kernel
 * k, stride s, pad p, dilation d): the pools' and kconv's window clipping. */
void kops_taps(int64_t o, int64_t n, int64_t k, int64_t s, int64_t p, int64_t d,
               int64_t *t0, int64_t *t1);
/* GlobalAveragePool: y[p] = mean of the hw elements of plane p. */
void kgavgpool_f32(kpool *pool, int64_t planes, int64_t hw, const float *x, float *y);
#endif
