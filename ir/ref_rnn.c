/* Reference kernel for the recurrent ops RNN, GRU and LSTM: all directions,
 * activation attributes, clip, sequence_lens, initial states and layout. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kern.h"
#include "ref_util.h"

/* An activation function with its alpha / beta. */
typedef struct Act {
	int fn;
	double a, b;
} Act;

enum { A_RELU, A_TANH, A_SIGMOID, A_AFFINE, A_LEAKYRELU, A_THRELU, A_SCALEDTANH,
       A_HARDSIGMOID, A_ELU, A_SOFTSIGN, A_SOFTPLUS };

/*  name              fn              uses  default alpha, beta */
static const struct { const char *name; int fn, nab; double a, b; } act_tab[] = {
	{"relu",            A_RELU,        0, 0, 0},
	{"tanh",            A_TANH,        0, 0, 0},
	{"sigmoid",         A_SIGMOID,     0, 0, 0},
	{"affine",          A_AFFINE,      2, 1.0, 0.0},
	{"leakyrelu",       A_LEAKYRELU,   1, 0.01, 0},
	{"thresholdedrelu", A_THRELU,      1, 1.0, 0},
	{"scaledtanh",      A_SCALEDTANH,  2, 1.0, 1.0},
	{"hardsigmoid",     A_HARDSIGMOID, 2, 0.2, 0.5},
	{"elu",             A_ELU,         1, 1.0, 0},
	{"softsign",        A_SOFTSIGN,    0, 0, 0},
	{"softplus",        A_SOFTPLUS,    0, 0, 0},
};

static double act(const Act *f, double x)
{
	switch (f->fn) {
	case A_RELU: return x > 0 ? x : 0;
	case A_TANH: return tanh(x);
	case A_SIGMOID: return 1.0 / (1.0 + exp(-x));
	case A_AFFINE: return f->a * x + f->b;
	case A_LEAKYRELU: return x >= 0 ? x : f->a * x;
	case A_THRELU: return x > f->a ? x : 0;
	case A_SCALEDTANH: return f->a * tanh(f->b * x);
	case A_HARDSIGMOID: { double v = f->a * x + f->b; return v < 0 ? 0 : v > 1 ? 1 : v; }
	case A_ELU: return x >= 0 ? x : f->a * (exp(x) - 1);
	case A_SOFTSIGN: return x / (1 + fabs(x));
	default: return x > 30 ? x : log1p(exp(x));
	}
}

/* Fill acts[0 .. nact*D) from the activations / activation_alpha /
 * activation_beta attributes (alphas and betas consumed in order by the
 * functions that take them), or the op's defaults. */
static int read_acts(KCall *c, int nact, int D, Act *acts)
{
	static const char *const defs[3][3] = {
		{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
	const KAttr *aa = kattr(c, "activations");
	const float *al, *be;
	int nal = kattr_floats(c, "activation_alpha", &al);
	int nbe = kattr_floats(c, "activation_beta", &be), ia = 0, ib = 0;
	if (aa && (aa->kind != AK_STRINGS || !aa->strs))
		return kerr(c, "%s: activations must be a list of strings", op_names[c->op]);
	int n = aa ? aa->n : nact;
	if (aa && n != nact && n != nact * D)
		return kerr(c, "%s: %d activations given, expected %d", op_names[c->op], n,
		            nact * D);
	for (int i = 0; i < nact * D; i++) {
		if (i >= n) {           /* one list given for both directions */
			acts[i] = acts[i - n];
			continue;
		}
		const char *nm = aa ? aa->strs[i] : defs[nact - 1][i];
		if (!nm)
			return kerr(c, "%s: missing activation name", op_names[c->op]);
		char low[32];
		size_t k = 0;
		for (; nm[k] && k < sizeof low - 1; k++)
			low[k] = (char)tolower((unsigned char)nm[k]);
		low[k] = 0;
		int t = -1;
		for (size_t j = 0; j < sizeof act_tab / sizeof act_tab[0]; j++)
			if (!strcmp(low, act_tab[j].name))
				t = (int)j;
		if (t < 0)
			return kerr(c, "%s: unsupported activation '%s'", op_names[c->op], nm);
		acts[i].fn = act_tab[t].fn;
		acts[i].a = act_tab[t].a;
		acts[i].b = act_tab[t].b;
		if (act_tab[t].nab >= 1 && ia < nal)
			acts[i].a = al[ia++];
		if (act_tab[t].nab >= 2 && ib < nbe)
			acts[i].b = be[ib++];
	}
	return 0;
}

/* RNN / GRU / LSTM. Gate orders as in ONNX: GRU z,r,h; LSTM i,o,f,c. */
int ref_rnn(KCall *c)
{
	if (ref_need(c, 3, 0))
		return 1;
	const char *on = op_names[c->op];
	int G = c->op == OP_RNN ? 1 : c->op == OP_GRU ? 3 : 4, nact = G == 1 ? 1 : G - 1;
	const KTensor *x = &c->in[0], *wt = &c->in[1], *rt = &c->in[2];
	int64_t layout = kattr_i(c, "layout", 0);
	if (layout != 0 && layout != 1)
		return kerr(c, "%s: layout must be 0 or 1 (got %lld)", on, (long long)layout);
	if (x->rank != 3 || wt->rank != 3 || rt->rank != 3)
		return kerr(c, "%s: X, W and R must be 3-D", on);
	int64_t S = x->dims[layout ? 1 : 0], B = x->dims[layout ? 0 : 1], I = x->dims[2];
	int64_t D = wt->dims[0], H = rt->dims[2];
	const char *dir = kattr_s(c, "direction", "forward");
	int bidi = !strcmp(dir, "bidirectional"), rev = !strcmp(dir, "reverse");
	if (!bidi && !rev && strcmp(dir, "forward"))
		return kerr(c, "%s: unknown direction '%s'", on, dir);
	if (D != (bidi ? 2 : 1) || rt->dims[0] != D)
		return kerr(c, "%s: num_directions %lld does not match direction '%s'", on,
		            (long long)D, dir);
	if (kattr(c, "hidden_size") && kattr_i(c, "hidden_size", 0) != H)
		return kerr(c, "%s: hidden_size %lld but R is [.., .., %lld]", on,
		            (long long)kattr_i(c, "hidden_size", 0), (long long)H);
	if (wt->dims[1] != G * H || wt->dims[2] != I || rt->dims[1] != G * H)
		return kerr(c, "%s: W / R shapes do not match hidden size %lld and input size %lld",
		            on, (long long)H, (long long)I);
	static const char *const inm[8] = {"X", "W", "R", "B", "sequence_lens", "initial_h",
	                                   "initial_c", "P"};
	int64_t want[8] = {0, 0, 0, D * 2 * G * H, B, D * B * H, D * B * H, D * 3 * H};
	for (int i = 3; i < 8 && i < c->nin; i++)
		if (ref_has_in(c, i) && kt_numel(&c->in[i]) != want[i])
			return kerr(c, "%s: %s has %lld elements, expected %lld", on, inm[i],
			            (long long)kt_numel(&c->in[i]), (long long)want[i]);
	Act acts[6];
	if (read_acts(c, nact, (int)D, acts))
		return 1;
	double clip = kattr_f(c, "clip", 0);
	int has_clip = kattr(c, "clip") != NULL;
	int lbr = kattr_i(c, "linear_before_reset", 0) != 0;
	int input_forget = kattr_i(c, "input_forget", 0) != 0;
	int64_t yd[4], hd[3];
	if (layout) {
		yd[0] = B; yd[1] = S; yd[2] = D; yd[3] = H;
		hd[0] = B; hd[1] = D; hd[2] = H;
	} else {
		yd[0] = S; yd[1] = D; yd[2] = B; yd[3] = H;
		hd[0] = D; hd[1] = B; hd[2] = H;
	}
	if (ref_want_out(c, 0) && kout(c, 0, 4, yd))
		return 1;
	for (int i = 1; i < 3 && i < c->nout; i++) {
		if (i == 2 && G != 4)
			break;
		if (ref_want_out(c, i) && kout(c, i, 3, hd))
			return 1;
	}
	int64_t *len = malloc((size_t)(B > 0 ? B : 1) * sizeof *len);
	double *X = ref_load(NULL, x), *W = ref_load(NULL, wt), *R = ref_load(NULL, rt);
	double *h = malloc((size_t)(H * 2 + G * H * 2 + 4) * sizeof *h);
	double *Bi = NULL, *P = NULL, *h0 = NULL, *c0 = NULL;
	int rc = 1;
	if (!len || !X || !W || !R || !h) {
		kerr(c, "%s: out of memory", on);
		goto out;
	}
	if ((ref_has_in(c, 3) && !(Bi = ref_load(NULL, &c->in[3]))) || (ref_has_in(c, 5) && !(h0 = ref_load(NULL, &c->in[5]))) ||
	    (ref_has_in(c, 6) && !(c0 = ref_load(NULL, &c->in[6]))) || (ref_has_in(c, 7) && !(P = ref_load(NULL, &c->in[7])))) {
		kerr(c, "%s: out of memory", on);
		goto out;
	}
	for (int64_t b = 0; b < B; b++) {
		len[b] = ref_has_in(c, 4) ? dt_load_i(c->in[4].dt, c->in[4].data, (size_t)b) : S;
		if (len[b] < 0 || len[b] > S) {
			kerr(c, "%s: sequence_lens[%lld] = %lld outside [0, %lld]", on, (long long)b,
			     (long long)len[b], (long long)S);
			goto out;
		}
	}
	if (ref_want_out(c, 0))
		memset(c->out[0].data, 0, (size_t)kt_numel(&c->out[0]) * dt_size(c->out[0].dt));
	double *cs = h + H, *xw = cs + H, *hr = xw + G * H;
	for (int64_t d = 0; d < D; d++) {
		const double *Wd = W + d * G * H * I, *Rd = R + d * G * H * H;
		const double *wb = Bi ? Bi + d * 2 * G * H : NULL, *rb = wb ? wb + G * H : NULL;
		const double *pd = P ? P + d * 3 * H : NULL;
		const Act *f = &acts[d * nact], *g = &acts[d * nact + (nact > 1)];
		const Act *hh = &acts[d * nact + (nact > 2 ? 2 : 0)];
		int back = rev || d == 1;
		for (int64_t b = 0; b < B; b++) {
			/* state layout index of (d, b) in initial_h/Y_h: layout-dependent */
			int64_t si = layout ? (b * D + d) * H : (d * B + b) * H;
			for (int64_t k = 0; k < H; k++) {
				h[k] = h0 ? h0[si + k] : 0;
				cs[k] = c0 ? c0[si + k] : 0;
			}
			for (int64_t s = 0; s < len[b]; s++) {
				int64_t t = back ? len[b] - 1 - s : s;
				const double *xt = X + (layout ? b * S + t : t * B + b) * I;
				for (int64_t j = 0; j < G * H; j++) {
					double a = wb ? wb[j] : 0, e = rb ? rb[j] : 0;
					for (int64_t i = 0; i < I; i++)
						a += xt[i] * Wd[j * I + i];
					for (int64_t k = 0; k < H; k++)
						e += h[k] * Rd[j * H + k];
					xw[j] = a;
					hr[j] = e;
				}
#define CL(v) (has_clip ? fmax(-clip, fmin(clip, (v))) : (v))
				if (G == 1) {
					for (int64_t k = 0; k < H; k++)
						h[k] = act(f, CL(xw[k] + hr[k]));
				} else if (G == 3) {
					/* z = xw[0..H), r = [H..2H), h = [2H..3H) */
					double *zr = hr;     /* reuse: z in hr[0..H), r in hr[H..2H) */
					for (int64_t k = 0; k < 2 * H; k++)
						zr[k] = act(f, CL(xw[k] + hr[k]));
					for (int64_t k = 0; k < H; k++) {
						double v;
						if (lbr) {
							v = xw[2 * H + k] + zr[H + k] * hr[2 * H + k];
						} else {
							v = xw[2 * H + k] + (rb ? rb[2 * H + k] : 0);
							for (int64_t m = 0; m < H; m++)
								v += zr[H + m] * h[m] * Rd[(2 * H + k) * H + m];
						}
						xw[2 * H + k] = act(g, CL(v));
					}
					for (int64_t k = 0; k < H; k++)
						h[k] = (1 - zr[k]) * xw[2 * H + k] + zr[k] * h[k];
				} else {
					for (int64_t k = 0; k < H; k++) {
						double gi = xw[k] + hr[k] + (pd ? pd[k] * cs[k] : 0);
						double gf = xw[2 * H + k] + hr[2 * H + k] + (pd ? pd[2 * H + k] * cs[k] : 0);
						double gc = xw[3 * H + k] + hr[3 * H + k];
						double iv = act(f, CL(gi));
						double fv = input_forget ? 1 - iv : act(f, CL(gf));
						double cv = act(g, CL(gc));
						cs[k] = fv * cs[k] + iv * cv;
						double ov = act(f, CL(xw[H + k] + hr[H + k] + (pd ? pd[H + k] * cs[k] : 0)));
						h[k] = ov * act(hh, cs[k]);
					}
				}
#undef CL
				if (ref_want_out(c, 0)) {
					int64_t yo = layout ? ((b * S + t) * D + d) * H : ((t * D + d) * B + b) * H;
					for (int64_t k = 0; k < H; k++)
						dt_store_f(c->out[0].dt, c->out[0].data, (size_t)(yo + k), h[k]);
				}
			}
			if (len[b] == 0)        /* empty sequence: zero states, as onnxruntime does */
				for (int64_t k = 0; k < H; k++)
					h[k] = cs[k] = 0;
			for (int64_t k = 0; k < H; k++) {
				if (ref_want_out(c, 1))
					dt_store_f(c->out[1].dt, c->out[1].data, (size_t)(si + k), h[k]);
				if (G == 4 && ref_want_out(c, 2))
					dt_store_f(c->out[2].dt, c->out[2].data, (size_t)(si + k), cs[k]);
			}
		}
	}
	rc = 0;
out:
	free(len); free(X); free(W); free(R); free(h); free(Bi); free(P); free(h0); free(c0);
	return rc;
}
