/* Element types shared by the compiler, the reference kernels and compiled
 * models. Numbering is ONNX TensorProto.DataType, so no table maps them. */
#ifndef VIBEE_DTYPE_H
#define VIBEE_DTYPE_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
	DT_UNDEF = 0, DT_F32 = 1, DT_U8 = 2, DT_I8 = 3, DT_U16 = 4, DT_I16 = 5,
	DT_I32 = 6, DT_I64 = 7, DT_STRING = 8, DT_BOOL = 9, DT_F16 = 10,
	DT_F64 = 11, DT_U32 = 12, DT_U64 = 13, DT_C64 = 14, DT_C128 = 15,
	DT_BF16 = 16, DT_COUNT
} DType;

size_t dt_size(int dt);           /* bytes per element; 0 for UNDEF/STRING/complex */
const char *dt_name(int dt);      /* "f32", "i64", "bool", ...; "?" if unknown */
int dt_parse(const char *s);      /* inverse of dt_name; DT_UNDEF if unknown */
int dt_is_float(int dt);          /* f16, bf16, f32, f64 */
int dt_is_int(int dt);            /* signed or unsigned integer (not bool) */
int dt_is_signed(int dt);         /* signed int or float */

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);     /* round to nearest even */
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);    /* round to nearest even; NaN stays NaN */

/* Generic element access: load element i of a buffer of type dt as double /
 * int64, or store one. Slow but exact for every type (i64 through the int
 * path). The reference kernels use these so one loop serves all dtypes. */
double dt_load_f(int dt, const void *p, size_t i);
int64_t dt_load_i(int dt, const void *p, size_t i);
uint64_t dt_load_u(int dt, const void *p, size_t i);
void dt_store_f(int dt, void *p, size_t i, double v);
void dt_store_i(int dt, void *p, size_t i, int64_t v);
void dt_store_u(int dt, void *p, size_t i, uint64_t v);

#endif
