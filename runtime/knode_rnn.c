/* Library kernels: RNN, GRU and LSTM (forward, reverse, bidirectional;
 * layout 0/1; sequence_lens; clip; the spec's activation functions;
 * GRU linear_before_reset; LSTM peepholes and input_forget). */
#include <strings.h>
#include "knode_impl.h"

enum { A_SIG, A_TANH, A_RELU, A_AFF, A_LRELU, A_TRELU, A_STANH, A_HSIG, A_ELU, A_SSIGN, A_SPLUS };

typedef struct { int f; double a, b; } Act;

static double act(const Act *x, double v)
{
	switch (x->f) {
	case A_SIG: return 1.0 / (1.0 + exp(-v));
	case A_TANH: return tanh(v);
	case A_RELU: return v > 0 ? v : 0;
	case A_AFF: return x->a * v + x->b;
	case A_LRELU: return v >= 0 ? v : x->a * v;
	case A_TRELU: return v > x->a ? v : 0;
	case A_STANH: return x->a * tanh(x->b * v);
	case A_HSIG: { double y = x->a * v + x->b; return y < 0 ? 0 : y > 1 ? 1 : y; }
	case A_ELU: return v >= 0 ? v : x->a * (exp(v) - 1);
	case A_SSIGN: return v / (1 + fabs(v));
	case A_SPLUS: return log1p(exp(v));
	}
	return v;
}

/* the activations attribute: na per direction, defaults def[] */
static int acts(KCall *c, int nd, int na, const int *def, Act *out)
{
	const KAttr *as = kattr(c, "activations");
	const float *al, *be;
	int nal = kattr_floats(c, "activation_alpha", &al), nbe = kattr_floats(c, "activation_beta", &be);
	int n = as ? as->n : 0, ia = 0, ib = 0;
	if (n && n != na * nd && !(n == na && nd == 2))
		return kerr(c, "%s: %d activations for %d directions", op_names[c->op], n, nd);
	static const char *const nm[] = {"Sigmoid", "Tanh", "Relu", "Affine", "LeakyRelu", "ThresholdedRelu",
	                                 "ScaledTanh", "HardSigmoid", "Elu", "Softsign", "Softplus"};
	static const double da[] = {0, 0, 0, 1, 0.01, 1, 1, 0.2, 1, 0, 0}, db[] = {0, 0, 0, 0, 0, 0, 1, 0.5, 0, 0, 0};
	static const int ua[] = {0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0}, ub[] = {0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0};
	for (int i = 0; i < na * nd; i++) {
		int f = def[i % na];
		if (n) {
			const char *s = as->strs[i % n];
			f = -1;
			for (int k = 0; k < 11; k++)
				if (!strcasecmp(s, nm[k]))
					f = k;
			if (f < 0)
				return kerr(c, "%s: unknown activation '%s'", op_names[c->op], s);
		}
		out[i].f = f;
		out[i].a = da[f];
		out[i].b = db[f];
		if (n && i < n) {   /* alpha/beta are consumed in order by the functions that take them */
			if (ua[f] && ia < nal)
				out[i].a = al[ia++];
			if (ub[f] && ib < nbe)
				out[i].b = be[ib++];
		}
	}
	return 0;
}

/* dot of row w[off..off+n) and vector x[0..n) */
static double dotw(const double *w, int64_t off, const double *x, int64_t n)
{
	double s = 0;
	w += off;
	for (int64_t i = 0; i < n; i++)
		s += w[i] * x[i];
	return s;
}

int kn_rnn(kpool *pool, KCall *c)
{
	(void)pool;
	int op = c->op, G = op == OP_LSTM ? 4 : op == OP_GRU ? 3 : 1, NA = op == OP_LSTM ? 3 : op == OP_GRU ? 2 : 1;
	const KTensor *X = &c->in[0], *W = &c->in[1], *R = &c->in[2];
	const KTensor *B = kn_has(c, 3) ? &c->in[3] : NULL, *SL = kn_has(c, 4) ? &c->in[4] : NULL;
	const KTensor *H0 = kn_has(c, 5) ? &c->in[5] : NULL;
	const KTensor *C0 = op == OP_LSTM && kn_has(c, 6) ? &c->in[6] : NULL;
	const KTensor *P = op == OP_LSTM && kn_has(c, 7) ? &c->in[7] : NULL;
	int layout = (int)kattr_i(c, "layout", 0);
	const char *dir = kattr_s(c, "direction", "forward");
	int nd = !strcmp(dir, "bidirectional") ? 2 : 1, rev = !strcmp(dir, "reverse");
	if (nd == 1 && !rev && strcmp(dir, "forward"))
		return kerr(c, "%s: unknown direction '%s'", op_names[op], dir);
	if (X->rank != 3 || W->rank != 3 || R->rank != 3)
		return kerr(c, "%s: X, W and R must have rank 3", op_names[op]);
	int64_t T = X->dims[layout ? 1 : 0], NB = X->dims[layout ? 0 : 1], I = X->dims[2];
	int64_t Hs = kattr_i(c, "hidden_size", R->dims[2]);
	if (W->dims[0] != nd || R->dims[0] != nd || W->dims[1] != G * Hs || W->dims[2] != I ||
	    R->dims[1] != G * Hs || R->dims[2] != Hs)
		return kerr(c, "%s: W or R shape disagrees with X, hidden_size and direction", op_names[op]);
	if ((B && kt_numel(B) != nd * 2 * G * Hs) || (SL && kt_numel(SL) != NB) ||
	    (H0 && kt_numel(H0) != nd * NB * Hs) || (C0 && kt_numel(C0) != nd * NB * Hs) ||
	    (P && kt_numel(P) != nd * 3 * Hs))
		return kerr(c, "%s: B, sequence_lens, initial_h, initial_c or P has the wrong size", op_names[op]);
	static const int d_rnn[] = {A_TANH}, d_gru[] = {A_SIG, A_TANH}, d_lstm[] = {A_SIG, A_TANH, A_TANH};
	Act af[6];
	if (acts(c, nd, NA, op == OP_LSTM ? d_lstm : op == OP_GRU ? d_gru : d_rnn, af))
		return 1;
	const KAttr *ca = kattr(c, "clip");
	double clip = ca ? ca->f : 0;
	int lbr = op == OP_GRU && kattr_i(c, "linear_before_reset", 0), ifg = op == OP_LSTM && kattr_i(c, "input_forget", 0);
	int64_t yd[4], hd[3];
	if (layout) {
		yd[0] = NB; yd[1] = T; yd[2] = nd; yd[3] = Hs;
		hd[0] = NB; hd[1] = nd; hd[2] = Hs;
	} else {
		yd[0] = T; yd[1] = nd; yd[2] = NB; yd[3] = Hs;
		hd[0] = nd; hd[1] = NB; hd[2] = Hs;
	}
	KTensor *Y = kn_want(c, 0) ? &c->out[0] : NULL, *YH = kn_want(c, 1) ? &c->out[1] : NULL;
	KTensor *YC = op == OP_LSTM && kn_want(c, 2) ? &c->out[2] : NULL;
	if ((Y && kout(c, 0, 4, yd)) || (YH && kout(c, 1, 3, hd)) || (YC && kout(c, 2, 3, hd)))
		return 1;
	double *h = kn_tmp(c, (size_t)Hs * sizeof(double)), *cc = kn_tmp(c, (size_t)Hs * sizeof(double));
	double *x = kn_tmp(c, (size_t)(I ? I : 1) * sizeof(double)), *g = kn_tmp(c, (size_t)(G * Hs) * sizeof(double));
	double *rh = kn_tmp(c, (size_t)Hs * sizeof(double)), *hn = kn_tmp(c, (size_t)Hs * sizeof(double));
	double *w = kn_dbl(c, W), *rr = kn_dbl(c, R), *bb = B ? kn_dbl(c, B) : NULL;
	if (!h || !cc || !x || !g || !rh || !hn || !w || !rr || (B && !bb))
		return kerr(c, "%s: out of memory", op_names[op]);
	/* the index of [d][b][k] in initial_h/Y_h and of step t in Y */
#define HIX(d, b, k) (layout ? (((b) * nd + (d)) * Hs + (k)) : (((d) * NB + (b)) * Hs + (k)))
#define YIX(t, d, b, k) (layout ? ((((b) * T + (t)) * nd + (d)) * Hs + (k)) : ((((t) * nd + (d)) * NB + (b)) * Hs + (k)))
#define XIX(t, b, i) (layout ? (((b) * T + (t)) * I + (i)) : (((t) * NB + (b)) * I + (i)))
	if (Y)
		memset(Y->data, 0, kt_nbytes(Y));
	for (int d = 0; d < nd; d++) {
		int back = rev || d == 1;
		const Act *fa = &af[d * NA];
		int64_t wo = (int64_t)d * G * Hs * I, ro = (int64_t)d * G * Hs * Hs, bo = (int64_t)d * 2 * G * Hs;
		for (int64_t b = 0; b < NB; b++) {
			int64_t L = SL ? kn_ldi(SL, b) : T;
			if (L < 0 || L > T)
				return kerr(c, "%s: sequence_lens[%lld] = %lld out of range", op_names[op], (long long)b, (long long)L);
			for (int64_t k = 0; k < Hs; k++) {
				h[k] = H0 ? kn_ld(H0, HIX(d, b, k)) : 0;
				cc[k] = C0 ? kn_ld(C0, HIX(d, b, k)) : 0;
			}
			for (int64_t s = 0; s < L; s++) {
				int64_t t = back ? L - 1 - s : s;
				for (int64_t i = 0; i < I; i++)
					x[i] = kn_ld(X, XIX(t, b, i));
				for (int64_t j = 0; j < G * Hs; j++) {   /* x W^T + Wb (+ h R^T + Rb, except GRU's h gate) */
					g[j] = dotw(w, wo + j * I, x, I) + (bb ? bb[bo + j] : 0);
					if (!(op == OP_GRU && j >= 2 * Hs))
						g[j] += dotw(rr, ro + j * Hs, h, Hs) + (bb ? bb[bo + G * Hs + j] : 0);
				}
#define CL(v) (clip > 0 ? ((v) < -clip ? -clip : (v) > clip ? clip : (v)) : (v))
				if (op == OP_RNN) {
					for (int64_t k = 0; k < Hs; k++)
						hn[k] = act(&fa[0], CL(g[k]));
				} else if (op == OP_GRU) {
					for (int64_t k = 0; k < Hs; k++) {
						g[k] = act(&fa[0], CL(g[k]));             /* z */
						g[Hs + k] = act(&fa[0], CL(g[Hs + k]));   /* r */
						rh[k] = g[Hs + k] * h[k];
					}
					for (int64_t k = 0; k < Hs; k++) {
						int64_t j = 2 * Hs + k;
						double rb = bb ? bb[bo + G * Hs + j] : 0, v;
						if (lbr)
							v = g[j] + g[Hs + k] * (dotw(rr, ro + j * Hs, h, Hs) + rb);
						else
							v = g[j] + dotw(rr, ro + j * Hs, rh, Hs) + rb;
						double ht = act(&fa[1], CL(v));
						hn[k] = (1 - g[k]) * ht + g[k] * h[k];
					}
				} else {   /* LSTM: gates i, o, f, c; peepholes i, o, f */
					for (int64_t k = 0; k < Hs; k++) {
						double pi = P ? kn_ld(P, d * 3 * Hs + k) : 0, po = P ? kn_ld(P, d * 3 * Hs + Hs + k) : 0,
						       pf = P ? kn_ld(P, d * 3 * Hs + 2 * Hs + k) : 0;
						double it = act(&fa[0], CL(g[k] + pi * cc[k]));
						double ft = ifg ? 1 - it : act(&fa[0], CL(g[2 * Hs + k] + pf * cc[k]));
						double ct = act(&fa[1], CL(g[3 * Hs + k]));
						double cn = ft * cc[k] + it * ct;
						double ot = act(&fa[0], CL(g[Hs + k] + po * cn));
						cc[k] = cn;
						hn[k] = ot * act(&fa[2], cn);
					}
				}
#undef CL
				memcpy(h, hn, (size_t)Hs * sizeof(double));
				for (int64_t k = 0; Y && k < Hs; k++)
					kn_st(Y, YIX(t, d, b, k), h[k]);
			}
			for (int64_t k = 0; k < Hs; k++) {
				if (YH)
					kn_st(YH, HIX(d, b, k), h[k]);
				if (YC)
					kn_st(YC, HIX(d, b, k), cc[k]);
			}
		}
	}
#undef HIX
#undef YIX
#undef XIX
	return 0;
}
