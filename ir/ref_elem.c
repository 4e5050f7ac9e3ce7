/* Reference kernels, family A (elementwise): unary math, Clip, Cast,
 * Dropout (inference), broadcasting binary ops, variadic Max/Min/Mean/Sum
 * and Where. One loop per kernel serves every dtype through dt_load/store. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "kern.h"
#include "ref_util.h"

/* Value classes: how an element is loaded and computed exactly. */
enum { CF, CI, CU };   /* float (double), signed int (int64), unsigned or bool (uint64) */

static int vclass(int dt)
{
	return dt_is_float(dt) ? CF : dt_is_signed(dt) ? CI : CU;
}

static int has_in(const KCall *c, int i)
{
	return i < c->nin && c->in[i].dt != DT_UNDEF;
}

/* Output i exists with a storable type. */
static int need_out(KCall *c, int i)
{
	if (i >= c->nout || dt_size(c->out[i].dt) == 0)
		return kerr(c, "%s: output %d missing or of unsupported type", op_names[c->op], i);
	return 0;
}

/* ---- broadcasting iteration ------------------------------------------ */

/* Numpy broadcast of the n tensors t[] into rank/dims. Returns 0 or kerr(). */
static int bshape(KCall *c, int n, const KTensor *const *t, int *rank, int64_t *dims)
{
	int r = 0;
	for (int k = 0; k < n; k++)
		if (t[k]->rank > r)
			r = t[k]->rank;
	for (int d = 0; d < r; d++)
		dims[d] = 1;
	for (int k = 0; k < n; k++) {
		for (int j = 0; j < t[k]->rank; j++) {
			int d = j + r - t[k]->rank;
			int64_t a = dims[d], b = t[k]->dims[j];
			if (a == b || b == 1)
				continue;
			if (a == 1) {
				dims[d] = b;
				continue;
			}
			return kerr(c, "%s: input shapes do not broadcast (dim %d: %lld vs %lld)",
			            op_names[c->op], d, (long long)a, (long long)b);
		}
	}
	*rank = r;
	return 0;
}

/* An odometer over an output shape that tracks the element offsets of up to
 * three broadcast operands. */
typedef struct Iter {
	int rank, nops;
	int64_t dims[K_MAXRANK], idx[K_MAXRANK];
	int64_t st[3][K_MAXRANK];
	int64_t off[3];
} Iter;

static void it_init(Iter *it, int rank, const int64_t *dims, int nops, const KTensor *const *ops)
{
	memset(it, 0, sizeof *it);
	it->rank = rank;
	it->nops = nops;
	memcpy(it->dims, dims, sizeof(int64_t) * rank);
	for (int k = 0; k < nops; k++)
		kt_bstrides(ops[k], rank, dims, it->st[k]);
}

static void it_next(Iter *it)
{
	for (int d = it->rank - 1; d >= 0; d--) {
		it->idx[d]++;
		for (int k = 0; k < it->nops; k++)
			it->off[k] += it->st[k][d];
		if (it->idx[d] < it->dims[d])
			return;
		for (int k = 0; k < it->nops; k++)
			it->off[k] -= it->st[k][d] * it->dims[d];
		it->idx[d] = 0;
	}
}

/* ---- unary ------------------------------------------------------------ */

/* Attribute values of a unary op, read once per call. */
typedef struct UParams {
	int op;
	double a, b;          /* alpha/lambd/..., beta/gamma/bias */
	int tanh_gelu;
} UParams;

static UParams uparams(const KCall *c)
{
	UParams p = { .op = c->op };
	switch (c->op) {
	case OP_Celu: case OP_Elu: case OP_ThresholdedRelu:
		p.a = kattr_f(c, "alpha", 1.0);
		break;
	case OP_LeakyRelu: p.a = kattr_f(c, "alpha", 0.01); break;
	case OP_Swish: p.a = kattr_f(c, "alpha", 1.0); break;
	case OP_HardSigmoid:
		p.a = kattr_f(c, "alpha", 0.2);
		p.b = kattr_f(c, "beta", 0.5);
		break;
	case OP_Selu:
		p.a = kattr_f(c, "alpha", 1.67326319217681884765625);
		p.b = kattr_f(c, "gamma", 1.05070102214813232421875);
		break;
	case OP_Shrink:
		p.a = kattr_f(c, "lambd", 0.5);
		p.b = kattr_f(c, "bias", 0.0);
		break;
	case OP_Gelu:
		p.tanh_gelu = strcmp(kattr_s(c, "approximate", "none"), "tanh") == 0;
		break;
	default: break;
	}
	return p;
}

static double unary_f(const UParams *p, double x)
{
	double a = p->a, b = p->b;
	switch (p->op) {
	case OP_Abs: return fabs(x);
	case OP_Acos: return acos(x);
	case OP_Acosh: return acosh(x);
	case OP_Asin: return asin(x);
	case OP_Asinh: return asinh(x);
	case OP_Atan: return atan(x);
	case OP_Atanh: return atanh(x);
	case OP_Ceil: return ceil(x);
	case OP_Celu: return fmax(0.0, x) + fmin(0.0, a * expm1(x / a));
	case OP_Cos: return cos(x);
	case OP_Cosh: return cosh(x);
	case OP_Elu: return x < 0 ? a * expm1(x) : x;
	case OP_Erf: return erf(x);
	case OP_Exp: return exp(x);
	case OP_Floor: return floor(x);
	case OP_Gelu:
		if (p->tanh_gelu)   /* sqrt(2/pi) */
			return 0.5 * x * (1.0 + tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x)));
		return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440));
	case OP_HardSigmoid: return fmax(0.0, fmin(1.0, a * x + b));
	case OP_HardSwish: return x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5));
	case OP_Swish: return x / (1.0 + exp(-a * x));
	case OP_Identity: return x;
	case OP_LeakyRelu: return x < 0 ? a * x : x;
	case OP_Log: return log(x);
	case OP_Mish: return x * tanh(x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)));
	case OP_Neg: return -x;
	case OP_Reciprocal: return 1.0 / x;
	case OP_Relu: return x < 0 ? 0.0 : x;
	case OP_Round: return nearbyint(x);   /* default mode: half to even */
	case OP_Selu: return x > 0 ? b * x : b * (a * exp(x) - a);
	case OP_Shrink: return x < -a ? x + b : x > a ? x - b : 0.0;
	case OP_Sigmoid: return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
	case OP_Sign: return x > 0 ? 1.0 : x < 0 ? -1.0 : x;   /* keeps 0 and NaN */
	case OP_Sin: return sin(x);
	case OP_Sinh: return sinh(x);
	case OP_Softplus: return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
	case OP_Softsign: return x / (1.0 + fabs(x));
	case OP_Sqrt: return sqrt(x);
	case OP_Tan: return tan(x);
	case OP_Tanh: return tanh(x);
	case OP_ThresholdedRelu: return x > a ? x : 0.0;
	default: return NAN;
	}
}

/* Integer unary ops computed exactly; returns 0 if op has no integer form
 * (then the caller goes through double). */
static int unary_int(KCall *c, int cls, const KTensor *x, KTensor *y, int64_t n)
{
	int op = c->op;
	if (op != OP_Abs && op != OP_Neg && op != OP_Sign && op != OP_Relu &&
	    op != OP_BitwiseNot && op != OP_Ceil && op != OP_Floor && op != OP_Round)
		return 0;
	for (int64_t i = 0; i < n; i++) {
		if (cls == CU) {
			uint64_t v = dt_load_u(x->dt, x->data, i);
			uint64_t r = op == OP_Neg ? 0 - v : op == OP_Sign ? (v != 0)
			           : op == OP_BitwiseNot ? ~v : v;
			dt_store_u(y->dt, y->data, i, r);
		} else {
			int64_t v = dt_load_i(x->dt, x->data, i);
			uint64_t u = (uint64_t)v;
			int64_t r = op == OP_Abs ? (v < 0 ? (int64_t)(0 - u) : v)
			          : op == OP_Neg ? (int64_t)(0 - u)
			          : op == OP_Sign ? (v > 0) - (v < 0)
			          : op == OP_Relu ? (v < 0 ? 0 : v)
			          : op == OP_BitwiseNot ? (int64_t)~u : v;
			dt_store_i(y->dt, y->data, i, r);
		}
	}
	return 1;
}

/* All single-input elementwise ops (ops.def ref `unary`). Floats compute in
 * double; Abs/Neg/Sign/Relu/BitwiseNot are exact on integers; Not is on
 * bool; IsNaN/IsInf write bool. */
int ref_unary(KCall *c)
{
	if (ref_need_in(c, 0) || need_out(c, 0))
		return 1;
	const KTensor *x = &c->in[0];
	KTensor *y = &c->out[0];
	if (kout(c, 0, x->rank, x->dims))
		return 1;
	int64_t n = kt_numel(x);
	int cls = vclass(x->dt);
	if (c->op == OP_Identity) {
		if (x->dt != y->dt)
			return kerr(c, "Identity: output type %s differs from input %s", dt_name(y->dt), dt_name(x->dt));
		if (n)
			memmove(y->data, x->data, (size_t)n * dt_size(x->dt));
		return 0;
	}
	if (c->op == OP_Not) {
		for (int64_t i = 0; i < n; i++)
			dt_store_i(y->dt, y->data, i, dt_load_u(x->dt, x->data, i) == 0);
		return 0;
	}
	if (c->op == OP_IsNaN || c->op == OP_IsInf) {
		int pos = kattr_i(c, "detect_positive", 1) != 0;
		int neg = kattr_i(c, "detect_negative", 1) != 0;
		for (int64_t i = 0; i < n; i++) {
			double v = cls == CF ? dt_load_f(x->dt, x->data, i) : 0.0;
			int r = c->op == OP_IsNaN ? isnan(v)
			      : isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
			dt_store_i(y->dt, y->data, i, r);
		}
		return 0;
	}
	if (c->op == OP_BitwiseNot && cls == CF)
		return kerr(c, "BitwiseNot: needs an integer input, got %s", dt_name(x->dt));
	if (cls != CF && unary_int(c, cls, x, y, n))
		return 0;
	UParams p = uparams(c);
	for (int64_t i = 0; i < n; i++)
		dt_store_f(y->dt, y->data, i, unary_f(&p, dt_load_f(x->dt, x->data, i)));
	return 0;
}

/* ---- Clip -------------------------------------------------------------- */

/* Read bound input i (a one-element tensor) into *v. Returns 1 if present,
 * 0 if absent, -1 after kerr() if malformed. */
static int bound_in(KCall *c, int i, const KTensor **v)
{
	if (!has_in(c, i))
		return 0;
	if (ref_need_in(c, i))
		return -1;
	int64_t n = kt_numel(&c->in[i]);
	if (n == 0)
		return 0;
	if (n != 1)
		return kerr(c, "Clip: %s must be a scalar, has %lld elements",
		            i == 1 ? "min" : "max", (long long)n), -1;
	*v = &c->in[i];
	return 1;
}

/* Clip: y = min(max(x, lo), hi); bounds from inputs 1/2 (opset >= 11) or
 * attributes min/max (older). lo > hi gives hi everywhere, as ONNX says. */
int ref_clip(KCall *c)
{
	if (ref_need_in(c, 0) || need_out(c, 0))
		return 1;
	const KTensor *x = &c->in[0], *lo = NULL, *hi = NULL;
	KTensor *y = &c->out[0];
	int hl = bound_in(c, 1, &lo), hh = bound_in(c, 2, &hi);
	if (hl < 0 || hh < 0)
		return 1;
	if (kout(c, 0, x->rank, x->dims))
		return 1;
	int64_t n = kt_numel(x);
	int cls = vclass(x->dt);
	if (cls == CF) {
		double l = hl ? dt_load_f(lo->dt, lo->data, 0) : kattr_f(c, "min", -INFINITY);
		double h = hh ? dt_load_f(hi->dt, hi->data, 0) : kattr_f(c, "max", INFINITY);
		for (int64_t i = 0; i < n; i++) {
			double v = dt_load_f(x->dt, x->data, i);
			v = v < l ? l : v;
			v = v > h ? h : v;
			dt_store_f(y->dt, y->data, i, v);
		}
	} else if (cls == CI) {
		int64_t l = hl ? dt_load_i(lo->dt, lo->data, 0) : INT64_MIN;
		int64_t h = hh ? dt_load_i(hi->dt, hi->data, 0) : INT64_MAX;
		for (int64_t i = 0; i < n; i++) {
			int64_t v = dt_load_i(x->dt, x->data, i);
			v = v < l ? l : v;
			v = v > h ? h : v;
			dt_store_i(y->dt, y->data, i, v);
		}
	} else {
		uint64_t l = hl ? dt_load_u(lo->dt, lo->data, 0) : 0;
		uint64_t h = hh ? dt_load_u(hi->dt, hi->data, 0) : UINT64_MAX;
		for (int64_t i = 0; i < n; i++) {
			uint64_t v = dt_load_u(x->dt, x->data, i);
			v = v < l ? l : v;
			v = v > h ? h : v;
			dt_store_u(y->dt, y->data, i, v);
		}
	}
	return 0;
}

/* ---- Cast / CastLike --------------------------------------------------- */

/* Cast to out[0].dt (Cast checks it against `to`, CastLike against in[1]).
 * float -> int truncates toward zero; anything -> bool is (x != 0). */
int ref_cast(KCall *c)
{
	if (c->nout < 1)
		return kerr(c, "%s: output missing", op_names[c->op]);
	KTensor *y = &c->out[0];
	int to = c->op == OP_CastLike ? (has_in(c, 1) ? c->in[1].dt : DT_UNDEF)
	                              : (int)kattr_i(c, "to", y->dt);
	if (to == DT_STRING || (c->nin > 0 && c->in[0].dt == DT_STRING))
		return kerr(c, "%s: casts to or from string are not supported", op_names[c->op]);
	if (ref_need_in(c, 0) || need_out(c, 0))
		return 1;
	if (to != y->dt)
		return kerr(c, "%s: target type %s does not match output type %s",
		            op_names[c->op], dt_name(to), dt_name(y->dt));
	const KTensor *x = &c->in[0];
	if (kout(c, 0, x->rank, x->dims))
		return 1;
	int64_t n = kt_numel(x);
	int cls = vclass(x->dt);
	for (int64_t i = 0; i < n; i++) {
		if (cls == CF)
			dt_store_f(y->dt, y->data, i, dt_load_f(x->dt, x->data, i));
		else if (dt_is_float(y->dt))
			dt_store_f(y->dt, y->data, i, cls == CI ? (double)dt_load_i(x->dt, x->data, i)
			                                        : (double)dt_load_u(x->dt, x->data, i));
		else if (cls == CI)
			dt_store_i(y->dt, y->data, i, dt_load_i(x->dt, x->data, i));
		else
			dt_store_u(y->dt, y->data, i, dt_load_u(x->dt, x->data, i));
	}
	return 0;
}

/* ---- Dropout ----------------------------------------------------------- */

/* Inference Dropout: y = x, mask all true. Training mode (input 2 true) is
 * random and refused unless the ratio is 0, where it is the same copy. */
int ref_dropout(KCall *c)
{
	if (ref_need_in(c, 0) || need_out(c, 0))
		return 1;
	const KTensor *x = &c->in[0];
	double ratio = kattr_f(c, "ratio", 0.5);
	if (has_in(c, 1)) {
		if (ref_need_in(c, 1))
			return 1;
		if (kt_numel(&c->in[1]) != 1)
			return kerr(c, "Dropout: ratio must be a scalar");
		ratio = dt_load_f(c->in[1].dt, c->in[1].data, 0);
	}
	if (has_in(c, 2)) {
		if (ref_need_in(c, 2))
			return 1;
		if (kt_numel(&c->in[2]) != 1)
			return kerr(c, "Dropout: training_mode must be a scalar");
		if (dt_load_u(c->in[2].dt, c->in[2].data, 0) != 0 && ratio != 0)
			return kerr(c, "Dropout: training mode with ratio %g is random: not supported", ratio);
	}
	KTensor *y = &c->out[0];
	if (y->dt != x->dt)
		return kerr(c, "Dropout: output type %s differs from input %s", dt_name(y->dt), dt_name(x->dt));
	if (kout(c, 0, x->rank, x->dims))
		return 1;
	int64_t n = kt_numel(x);
	if (n)
		memmove(y->data, x->data, (size_t)n * dt_size(x->dt));
	if (c->nout > 1 && c->out[1].dt != DT_UNDEF) {
		KTensor *m = &c->out[1];
		if (need_out(c, 1) || kout(c, 1, x->rank, x->dims))
			return 1;
		for (int64_t i = 0; i < n; i++)
			dt_store_i(m->dt, m->data, i, 1);
	}
	return 0;
}

/* ---- binary ------------------------------------------------------------ */

/* x ** e for integers: exact by squaring (wrapping); negative e truncates
 * 1/x^|e| toward zero. */
static int64_t ipow(int64_t x, int64_t e)
{
	if (e < 0)
		return x == 1 ? 1 : x == -1 ? ((e & 1) ? -1 : 1) : 0;
	uint64_t r = 1, b = (uint64_t)x;
	for (; e; e >>= 1, b *= b)
		if (e & 1)
			r *= b;
	return (int64_t)r;
}

static double bin_f(int op, double a, double b, int fmod_attr)
{
	switch (op) {
	case OP_Add: return a + b;
	case OP_Sub: return a - b;
	case OP_Mul: return a * b;
	case OP_Div: return a / b;
	case OP_Pow: return pow(a, b);
	case OP_Mod: {
		double r = fmod(a, b);
		if (!fmod_attr && r != 0 && (r < 0) != (b < 0))
			r += b;
		return r;
	}
	case OP_PRelu: return a < 0 ? a * b : a;
	case OP_And: return a != 0 && b != 0;
	case OP_Or: return a != 0 || b != 0;
	case OP_Xor: return (a != 0) != (b != 0);
	case OP_Equal: return a == b;
	case OP_Greater: return a > b;
	case OP_GreaterOrEqual: return a >= b;
	case OP_Less: return a < b;
	case OP_LessOrEqual: return a <= b;
	default: return NAN;
	}
}

/* Signed integer op; *bad set on division by zero. */
static int64_t bin_i(int op, int64_t a, int64_t b, int fmod_attr, int *bad)
{
	uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
	switch (op) {
	case OP_Add: return (int64_t)(ua + ub);
	case OP_Sub: return (int64_t)(ua - ub);
	case OP_Mul: return (int64_t)(ua * ub);
	case OP_Div:
		if (b == 0) { *bad = 1; return 0; }
		return b == -1 ? (int64_t)(0 - ua) : a / b;
	case OP_Mod: {
		if (b == 0) { *bad = 1; return 0; }
		int64_t r = b == -1 ? 0 : a % b;
		if (!fmod_attr && r != 0 && (r < 0) != (b < 0))
			r += b;
		return r;
	}
	case OP_Pow: return ipow(a, b);
	case OP_PRelu: return a < 0 ? (int64_t)(ua * ub) : a;
	case OP_BitwiseAnd: return a & b;
	case OP_BitwiseOr: return a | b;
	case OP_BitwiseXor: return a ^ b;
	case OP_And: return a && b;
	case OP_Or: return a || b;
	case OP_Xor: return !a != !b;
	case OP_Equal: return a == b;
	case OP_Greater: return a > b;
	case OP_GreaterOrEqual: return a >= b;
	case OP_Less: return a < b;
	case OP_LessOrEqual: return a <= b;
	default: *bad = 2; return 0;
	}
}

/* Unsigned (and bool) op; BitShift of unsigned types lives here. */
static uint64_t bin_u(int op, uint64_t a, uint64_t b, int left, int *bad)
{
	switch (op) {
	case OP_Add: return a + b;
	case OP_Sub: return a - b;
	case OP_Mul: case OP_PRelu: return op == OP_Mul ? a * b : a;
	case OP_Div:
		if (b == 0) { *bad = 1; return 0; }
		return a / b;
	case OP_Mod:
		if (b == 0) { *bad = 1; return 0; }
		return a % b;
	case OP_Pow: return (uint64_t)ipow((int64_t)a, b > INT64_MAX ? INT64_MAX : (int64_t)b);
	case OP_BitShift: return b >= 64 ? 0 : left ? a << b : a >> b;
	case OP_BitwiseAnd: return a & b;
	case OP_BitwiseOr: return a | b;
	case OP_BitwiseXor: return a ^ b;
	case OP_And: return a && b;
	case OP_Or: return a || b;
	case OP_Xor: return !a != !b;
	case OP_Equal: return a == b;
	case OP_Greater: return a > b;
	case OP_GreaterOrEqual: return a >= b;
	case OP_Less: return a < b;
	case OP_LessOrEqual: return a <= b;
	default: *bad = 2; return 0;
	}
}

/* One broadcast pass y = a (op) b, where y may alias a (variadic ops fold
 * their inputs into the output this way). Shapes must already agree. */
static int bin_loop(KCall *c, int op, const KTensor *a, const KTensor *b, KTensor *y)
{
	const KTensor *ops[3] = { y, a, b };
	Iter it;
	it_init(&it, y->rank, y->dims, 3, ops);
	int64_t n = kt_numel(y);
	int cls = vclass(a->dt);
	int fm = kattr_i(c, "fmod", 0) != 0;
	int left = strcmp(kattr_s(c, "direction", "LEFT"), "RIGHT") != 0;
	int bad = 0;
	if (op == OP_BitShift && cls != CU && cls != CI)
		return kerr(c, "BitShift: needs integers, got %s", dt_name(a->dt));
	if (op == OP_BitShift && cls == CI) {
		/* Signed types: outside BitShift-11's type list, but the onnx 1.23
		 * backend tests define them: the shift count read as unsigned of
		 * the type's width; a count >= width gives 0 (left) or the sign
		 * (right); right shifts are arithmetic, left shifts wrap. */
		int w = (int)dt_size(a->dt) * 8;
		uint64_t mask = w == 64 ? ~0ull : (1ull << w) - 1;
		for (int64_t i = 0; i < n; i++, it_next(&it)) {
			int64_t x = dt_load_i(a->dt, a->data, it.off[1]);
			uint64_t sh = (uint64_t)dt_load_i(b->dt, b->data, it.off[2]) & mask;
			int64_t r = sh >= (uint64_t)w ? (left ? 0 : x < 0 ? -1 : 0)
			            : left ? (int64_t)((uint64_t)x << sh) : x >> sh;
			dt_store_i(y->dt, y->data, it.off[0], r);
		}
		return 0;
	}
	if ((op == OP_BitwiseAnd || op == OP_BitwiseOr || op == OP_BitwiseXor) && cls == CF)
		return kerr(c, "%s: needs integers, got %s", op_names[op], dt_name(a->dt));
	/* Pow with an integer base and a float exponent goes through double. */
	if (op == OP_Pow && cls != CF && dt_is_float(b->dt))
		cls = CF;
	for (int64_t i = 0; i < n; i++, it_next(&it)) {
		int64_t o = it.off[0], ia = it.off[1], ib = it.off[2];
		if (cls == CF) {
			double r = bin_f(op, dt_load_f(a->dt, a->data, ia), dt_load_f(b->dt, b->data, ib), fm);
			dt_store_f(y->dt, y->data, o, r);
		} else if (cls == CI) {
			int64_t r = bin_i(op, dt_load_i(a->dt, a->data, ia), dt_load_i(b->dt, b->data, ib), fm, &bad);
			dt_store_i(y->dt, y->data, o, r);
		} else {
			uint64_t r = bin_u(op, dt_load_u(a->dt, a->data, ia), dt_load_u(b->dt, b->data, ib), left, &bad);
			dt_store_u(y->dt, y->data, o, r);
		}
		if (bad)
			return kerr(c, bad == 1 ? "%s: integer division by zero"
			                        : "%s: not defined on this type", op_names[op]);
	}
	return 0;
}

/* Two-input elementwise ops with numpy broadcasting. Both inputs share a
 * type, except Pow whose exponent may differ. */
int ref_binary(KCall *c)
{
	if (ref_need_in(c, 0) || ref_need_in(c, 1) || need_out(c, 0))
		return 1;
	const KTensor *a = &c->in[0], *b = &c->in[1];
	if (c->op != OP_Pow && a->dt != b->dt)
		return kerr(c, "%s: input types differ (%s vs %s)", op_names[c->op], dt_name(a->dt), dt_name(b->dt));
	const KTensor *t[2] = { a, b };
	int rank;
	int64_t dims[K_MAXRANK];
	if (bshape(c, 2, t, &rank, dims) || kout(c, 0, rank, dims))
		return 1;
	return bin_loop(c, c->op, a, b, &c->out[0]);
}

/* ---- variadic ---------------------------------------------------------- */

/* Max/Min/Mean/Sum over any number of broadcast inputs, folded pairwise
 * into the output in its own type (as the ONNX reference does). */
int ref_variadic(KCall *c)
{
	if (c->nin < 1 || need_out(c, 0))
		return kerr(c, "%s: needs at least one input and an output", op_names[c->op]);
	const KTensor *t[64];
	if (c->nin > 64)
		return kerr(c, "%s: too many inputs (%d)", op_names[c->op], c->nin);
	for (int k = 0; k < c->nin; k++) {
		if (ref_need_in(c, k))
			return 1;
		if (c->in[k].dt != c->in[0].dt)
			return kerr(c, "%s: input types differ (%s vs %s)", op_names[c->op],
			            dt_name(c->in[0].dt), dt_name(c->in[k].dt));
		t[k] = &c->in[k];
	}
	int rank;
	int64_t dims[K_MAXRANK];
	if (bshape(c, c->nin, t, &rank, dims) || kout(c, 0, rank, dims))
		return 1;
	KTensor *y = &c->out[0];
	if (y->dt != c->in[0].dt)
		return kerr(c, "%s: output type %s differs from input %s", op_names[c->op],
		            dt_name(y->dt), dt_name(c->in[0].dt));
	int cls = vclass(y->dt);
	int64_t n = kt_numel(y);
	/* y = broadcast(in[0]) */
	const KTensor *ops[2] = { y, t[0] };
	Iter it;
	it_init(&it, rank, dims, 2, ops);
	size_t es = dt_size(y->dt);
	for (int64_t i = 0; i < n; i++, it_next(&it))
		memcpy((char *)y->data + it.off[0] * es, (const char *)t[0]->data + it.off[1] * es, es);
	for (int k = 1; k < c->nin; k++) {
		if (c->op == OP_Sum || c->op == OP_Mean) {
			if (bin_loop(c, OP_Add, y, t[k], y))
				return 1;
			continue;
		}
		/* Max/Min: NaN propagates. */
		const KTensor *o2[2] = { y, t[k] };
		it_init(&it, rank, dims, 2, o2);
		int mx = c->op == OP_Max;
		for (int64_t i = 0; i < n; i++, it_next(&it)) {
			int64_t o = it.off[0], j = it.off[1];
			if (cls == CF) {
				double p = dt_load_f(y->dt, y->data, o), q = dt_load_f(y->dt, t[k]->data, j);
				if (isnan(q) || (mx ? q > p : q < p))
					dt_store_f(y->dt, y->data, o, q);
			} else if (cls == CI) {
				int64_t p = dt_load_i(y->dt, y->data, o), q = dt_load_i(y->dt, t[k]->data, j);
				if (mx ? q > p : q < p)
					dt_store_i(y->dt, y->data, o, q);
			} else {
				uint64_t p = dt_load_u(y->dt, y->data, o), q = dt_load_u(y->dt, t[k]->data, j);
				if (mx ? q > p : q < p)
					dt_store_u(y->dt, y->data, o, q);
			}
		}
	}
	if (c->op == OP_Mean && c->nin > 1) {
		for (int64_t i = 0; i < n; i++) {
			if (cls == CF)
				dt_store_f(y->dt, y->data, i, dt_load_f(y->dt, y->data, i) / c->nin);
			else if (cls == CI)
				dt_store_i(y->dt, y->data, i, dt_load_i(y->dt, y->data, i) / c->nin);
			else
				dt_store_u(y->dt, y->data, i, dt_load_u(y->dt, y->data, i) / (uint64_t)c->nin);
		}
	}
	return 0;
}

/* ---- Where ------------------------------------------------------------- */

/* y = cond ? x : z, all three broadcast; elements are copied bytewise. */
int ref_where(KCall *c)
{
	if (ref_need_in(c, 0) || ref_need_in(c, 1) || ref_need_in(c, 2) || need_out(c, 0))
		return 1;
	const KTensor *t[3] = { &c->in[0], &c->in[1], &c->in[2] };
	KTensor *y = &c->out[0];
	if (t[1]->dt != t[2]->dt || y->dt != t[1]->dt)
		return kerr(c, "Where: X (%s), Y (%s) and output (%s) types differ",
		            dt_name(t[1]->dt), dt_name(t[2]->dt), dt_name(y->dt));
	int rank;
	int64_t dims[K_MAXRANK];
	if (bshape(c, 3, t, &rank, dims) || kout(c, 0, rank, dims))
		return 1;
	Iter it;
	it_init(&it, rank, dims, 3, t);
	int64_t n = kt_numel(y);
	size_t es = dt_size(y->dt);
	for (int64_t i = 0; i < n; i++, it_next(&it)) {
		int take_x = dt_load_u(t[0]->dt, t[0]->data, it.off[0]) != 0;
		const KTensor *s = take_x ? t[1] : t[2];
		memcpy((char *)y->data + i * es, (const char *)s->data + it.off[take_x ? 1 : 2] * es, es);
	}
	return 0;
}
