/* Reference kernels of the blocked-layout ops (ir/shape_nchwc.c): each
 * unblocks its NCHW16c operands to NCHW, runs the plain reference kernel
 * (fused_conv, MaxPool, GlobalAveragePool) and blocks the result, so the
 * blocked ops mean exactly what they replace. Lanes past C are zero. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kern.h"

#define NCB 16

int ref_fused(KCall *c);
int ref_pool(KCall *c);

static int64_t cblocks(int64_t c) { return (c + NCB - 1) / NCB; }

/* NCHW [n, c, hw] -> blocked [n, ceil(c/16), hw, 16] and back */
static void to_blk(int64_t n, int64_t c, int64_t hw, const float *x, float *y)
{
	int64_t cb = cblocks(c);
	memset(y, 0, (size_t)(n * cb * hw * NCB) * sizeof *y);
	for (int64_t i = 0; i < n; i++)
		for (int64_t ch = 0; ch < c; ch++)
			for (int64_t j = 0; j < hw; j++)
				y[((i * cb + ch / NCB) * hw + j) * NCB + ch % NCB] = x[(i * c + ch) * hw + j];
}

static void from_blk(int64_t n, int64_t c, int64_t hw, const float *x, float *y)
{
	int64_t cb = cblocks(c);
	for (int64_t i = 0; i < n; i++)
		for (int64_t ch = 0; ch < c; ch++)
			for (int64_t j = 0; j < hw; j++)
				y[(i * c + ch) * hw + j] = x[((i * cb + ch / NCB) * hw + j) * NCB + ch % NCB];
}

/* An NCHW f32 tensor of dims d[4], freshly allocated (NULL on failure). */
static KTensor plain(const int64_t *d)
{
	KTensor t = {.dt = DT_F32, .rank = 4, .dims = {d[0], d[1], d[2], d[3]}};
	t.data = malloc((size_t)(d[0] * d[1] * d[2] * d[3] + 1) * sizeof(float));
	return t;
}

static KTensor unblock(const KTensor *x, int64_t c)
{
	int64_t d[4] = {x->dims[0], c, x->dims[2], x->dims[3]};
	KTensor t = plain(d);
	if (t.data)
		from_blk(d[0], c, d[2] * d[3], x->data, t.data);
	return t;
}

static int blocked_f32(const KTensor *x)
{
	return x->dt == DT_F32 && x->rank == 5 && x->dims[4] == NCB;
}

int ref_nchwc(KCall *c)
{
	if (c->nin < 1 || c->nout < 1 || c->in[0].dt != DT_F32)
		return kerr(c, "%s: needs an f32 input and an output", op_names[c->op]);
	const KTensor *x = &c->in[0];
	KTensor *y = &c->out[0];
	int64_t ch = kattr_i(c, "channels", -1);
	if (c->op == OP_to_nchwc) {
		if (x->rank != 4)
			return kerr(c, "to_nchwc: input of rank %d, not 4", x->rank);
		int64_t d[5] = {x->dims[0], cblocks(x->dims[1]), x->dims[2], x->dims[3], NCB};
		if (kout(c, 0, 5, d))
			return 1;
		to_blk(d[0], x->dims[1], d[2] * d[3], x->data, y->data);
		return 0;
	}
	if (!blocked_f32(x) && !(c->op == OP_conv_nchwc && x->rank == 4))
		return kerr(c, "%s: input is not NCHW16c", op_names[c->op]);
	if (c->op == OP_from_nchwc || c->op == OP_gap_nchwc) {
		if (ch < 1 || cblocks(ch) != x->dims[1])
			return kerr(c, "%s: channels %lld do not fit %lld blocks", op_names[c->op],
			            (long long)ch, (long long)x->dims[1]);
		int64_t d[4] = {x->dims[0], ch, x->dims[2], x->dims[3]};
		if (c->op == OP_from_nchwc) {
			if (kout(c, 0, 4, d))
				return 1;
			from_blk(d[0], ch, d[2] * d[3], x->data, y->data);
			return 0;
		}
		d[2] = d[3] = 1;
		if (kout(c, 0, 4, d))
			return 1;
		KTensor xp = unblock(x, ch);
		if (!xp.data)
			return kerr(c, "gap_nchwc: out of memory");
		KCall in = *c;
		in.op = OP_GlobalAveragePool;
		in.in = &xp;
		in.nin = 1;
		in.nout = 1;
		int rc = ref_pool(&in);
		free(xp.data);
		return rc;
	}
	/* conv_nchwc and maxpool_nchwc: the plain kernel on unblocked operands */
	KTensor ins[4];
	int nin = c->nin < 4 ? c->nin : 4;
	int64_t cin = x->rank == 4 ? x->dims[1] : NCB * x->dims[1], cout = cin;
	if (c->op == OP_conv_nchwc) {
		if (nin < 2 || c->in[1].rank != 4)
			return kerr(c, "conv_nchwc: needs a 4-D weight");
		cin = c->in[1].dims[1] * kattr_i(c, "group", 1);
		cout = c->in[1].dims[0];
	} else if (c->op != OP_maxpool_nchwc)
		return kerr(c, "%s: not a blocked-layout op", op_names[c->op]);
	if (x->rank == 5 && cblocks(cin) != x->dims[1])
		return kerr(c, "%s: input does not have %lld channels", op_names[c->op], (long long)cin);
	for (int i = 0; i < nin; i++)
		ins[i] = c->in[i];
	ins[0] = x->rank == 5 ? unblock(x, cin) : *x;
	int rc = 1;
	KTensor yp = {.dt = DT_F32};
	KAttr *attrs = NULL;
	if (!ins[0].data)
		goto oom;
	if (c->op == OP_conv_nchwc && nin > 3 && c->in[3].data) {
		if (!blocked_f32(&c->in[3]))
			goto bad;
		ins[3] = unblock(&c->in[3], cout);
		if (!ins[3].data)
			goto oom;
	}
	/* the plain output's shape from the blocked one the caller expects
	 * (shape inference set it), or computed by the plain kernel */
	KCall in = *c;
	in.op = c->op == OP_conv_nchwc ? OP_fused_conv : OP_MaxPool;
	in.in = ins;
	in.nin = nin;
	in.nout = 1;
	in.out = &yp;
	in.alloc = NULL;
	/* activations beyond ref_fused's are applied here, after it */
	const char *as = c->op == OP_conv_nchwc ? kattr_s(c, "activation", "") : "";
	int post = !strcmp(as, "Clip") ? 1 : !strcmp(as, "HardSigmoid") ? 2 :
	           !strcmp(as, "HardSwish") ? 3 : 0;
	double pa = kattr_f(c, "act_alpha", 0.0), pb = kattr_f(c, "act_beta", 0.0);
	if (post) {
		attrs = malloc((size_t)(c->nattr + 1) * sizeof *attrs);
		if (!attrs)
			goto oom;
		for (int i = 0; i < c->nattr; i++) {
			attrs[i] = c->attr[i];
			if (!strcmp(attrs[i].name, "activation"))
				attrs[i].s = "";
		}
		in.attr = attrs;
	}
	if (y->data) {
		if (y->rank != 5 || y->dims[4] != NCB || y->dims[1] != cblocks(cout))
			goto bad;
		int64_t d[4] = {y->dims[0], cout, y->dims[2], y->dims[3]};
		yp = plain(d);
		if (!yp.data)
			goto oom;
		rc = c->op == OP_conv_nchwc ? ref_fused(&in) : ref_pool(&in);
		float *v = yp.data;
		for (int64_t i = 0, e = d[0] * d[1] * d[2] * d[3]; !rc && post && i < e; i++) {
			double t = v[i];
			if (post == 1)
				t = t < pa ? pa : t > pb ? pb : t;
			else if (post == 2)
				t = fmax(0.0, fmin(1.0, pa * t + pb));
			else
				t = t * fmax(0.0, fmin(1.0, t / 6.0 + 0.5));
			v[i] = (float)t;
		}
		if (!rc)
			to_blk(d[0], cout, d[2] * d[3], yp.data, y->data);
	} else
		rc = kerr(c, "%s: output shape unknown", op_names[c->op]);
	goto done;
bad:
	rc = kerr(c, "%s: operands are not NCHW16c of the expected shape", op_names[c->op]);
	goto done;
oom:
	rc = kerr(c, "%s: out of memory", op_names[c->op]);
done:
	if (x->rank == 5)
		free(ins[0].data);
	if (c->op == OP_conv_nchwc && nin > 3 && c->in[3].data && ins[3].data != c->in[3].data)
		free(ins[3].data);
	free(yp.data);
	free(attrs);
	return rc;
}
