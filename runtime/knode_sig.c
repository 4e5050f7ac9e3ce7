/* Library kernels for the signal ops: HannWindow, HammingWindow,
 * BlackmanWindow, MelWeightMatrix, DFT and STFT (direct O(n^2) transforms
 * in double; real [...,1] or complex [...,2] signals). */
#include "knode_impl.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static int kn_window(KCall *c)
{
	if (!kn_has(c, 0) || kt_numel(&c->in[0]) != 1)
		return kerr(c, "%s: size must be a scalar", op_names[c->op]);
	int64_t n = kn_ldi(&c->in[0], 0);
	if (n < 0)
		return kerr(c, "%s: negative size", op_names[c->op]);
	int64_t d[1] = {n};
	if (kout(c, 0, 1, d))
		return 1;
	double den = kattr_i(c, "periodic", 1) ? (double)n : (double)(n - 1);
	for (int64_t i = 0; i < n; i++) {
		double t = den > 0 ? 2 * M_PI * (double)i / den : 0, v;
		if (c->op == OP_HannWindow)
			v = 0.5 - 0.5 * cos(t);
		else if (c->op == OP_HammingWindow)
			v = 25.0 / 46.0 - 21.0 / 46.0 * cos(t);
		else
			v = 0.42 - 0.5 * cos(t) + 0.08 * cos(2 * t);
		kn_st(&c->out[0], i, v);
	}
	return 0;
}

static int kn_mel(KCall *c)
{
	for (int i = 0; i < 5; i++)
		if (!kn_has(c, i) || kt_numel(&c->in[i]) != 1)
			return kerr(c, "MelWeightMatrix: input %d must be a scalar", i);
	int64_t nmel = kn_ldi(&c->in[0], 0), dl = kn_ldi(&c->in[1], 0), sr = kn_ldi(&c->in[2], 0);
	double lo = kn_ld(&c->in[3], 0), hi = kn_ld(&c->in[4], 0);
	if (nmel < 1 || dl < 1 || sr < 1 || nmel > (1 << 20))
		return kerr(c, "MelWeightMatrix: num_mel_bins, dft_length and sample_rate must be positive");
	int64_t nspec = dl / 2 + 1, d[2] = {nspec, nmel};
	if (kout(c, 0, 2, d))
		return 1;
	int64_t *fb = kn_tmp(c, (size_t)(nmel + 2) * sizeof(int64_t));
	double *w = kn_tmp(c, (size_t)(nspec * nmel) * sizeof(double));
	if (!fb || !w)
		return kerr(c, "MelWeightMatrix: out of memory");
	/* nmel + 2 points equally spaced in mel from lo to (almost) hi, back to
	 * hertz, then to spectrogram bins floor((dl + 1) f / sr) */
	double ml = 2595.0 * log10(1 + lo / 700), mh = 2595.0 * log10(1 + hi / 700);
	double step = (mh - ml) / (double)(nmel + 2);
	for (int64_t i = 0; i < nmel + 2; i++) {
		double hz = 700.0 * (pow(10.0, ((double)i * step + ml) / 2595.0) - 1);
		fb[i] = (int64_t)floor((double)(dl + 1) * hz / (double)sr);
		if (fb[i] < 0 || fb[i] >= nspec)
			return kerr(c, "MelWeightMatrix: band edge %lld outside the %lld spectrogram bins",
			            (long long)fb[i], (long long)nspec);
	}
	memset(w, 0, (size_t)(nspec * nmel) * sizeof(double));
	for (int64_t m = 0; m < nmel; m++) {
		int64_t l = fb[m], ce = fb[m + 1], h = fb[m + 2];
		if (ce == l)
			w[ce * nmel + m] = 1;
		else
			for (int64_t j = l; j <= ce; j++)
				w[j * nmel + m] = (double)(j - l) / (double)(ce - l);
		for (int64_t j = ce; j < h; j++)
			w[j * nmel + m] = (double)(h - j) / (double)(h - ce);
	}
	for (int64_t i = 0; i < nspec * nmel; i++)
		kn_st(&c->out[0], i, w[i]);
	return 0;
}

/* one transform: n input points (re, im) at stride st, zero beyond nin,
 * nout output bins written at stride ost; sign -1 forward, +1 inverse */
static void dft1(const double *re, const double *im, int64_t nin, int64_t n, int64_t nout, int inv,
                 double *ore, double *oim)
{
	double sg = inv ? 1.0 : -1.0;
	for (int64_t k = 0; k < nout; k++) {
		double sr = 0, si = 0;
		for (int64_t t = 0; t < nin && t < n; t++) {
			double a = sg * 2 * M_PI * (double)((k * t) % n) / (double)n, cs = cos(a), sn = sin(a);
			sr += re[t] * cs - im[t] * sn;
			si += re[t] * sn + im[t] * cs;
		}
		ore[k] = inv ? sr / (double)n : sr;
		oim[k] = inv ? si / (double)n : si;
	}
}

static int kn_dft(KCall *c)
{
	const KTensor *X = &c->in[0];
	int r = X->rank, ops = kn_opset(c);
	if (r < 2 || (X->dims[r - 1] != 1 && X->dims[r - 1] != 2))
		return kerr(c, "DFT: input must be [..., 1] (real) or [..., 2] (complex)");
	int64_t axv = ops >= 20 ? (kn_has(c, 2) ? kn_ldi(&c->in[2], 0) : -2) : kattr_i(c, "axis", 1);
	int ax = kn_axis(axv, r);
	if (ax < 0 || ax == r - 1)
		return kerr(c, "DFT: axis %lld out of range", (long long)axv);
	int inv = (int)kattr_i(c, "inverse", 0), one = (int)kattr_i(c, "onesided", 0);
	/* onesided inverse: the input holds bins 0..n/2 of a Hermitian spectrum;
	 * the output is the real signal of length n (default 2 (L - 1)) */
	int irf = inv && one;
	int64_t L = X->dims[ax], n = kn_has(c, 1) ? kn_ldi(&c->in[1], 0) : irf ? 2 * (L - 1) : L;
	if (n < 1)
		return kerr(c, "DFT: dft_length must be positive");
	int64_t nout = irf ? n : one ? n / 2 + 1 : n, od[K_MAXRANK];
	for (int k = 0; k < r; k++)
		od[k] = X->dims[k];
	od[ax] = nout;
	od[r - 1] = irf ? 1 : 2;
	if (kout(c, 0, r, od))
		return 1;
	int cplx = X->dims[r - 1] == 2;
	int64_t outer = kn_prod(X->dims, 0, ax), inner = kn_prod(X->dims, ax + 1, r - 1);
	double *b = kn_tmp(c, (size_t)(2 * n + 2 * nout) * sizeof(double));
	if (!b)
		return kerr(c, "DFT: out of memory");
	double *re = b, *im = b + n, *ore = b + 2 * n, *oim = ore + nout;
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			int64_t nin = L < n ? L : n;
			if (irf)
				nin = n;
			for (int64_t t = 0; t < nin; t++) {
				int64_t src = t, conj = 0;
				if (irf && t > n / 2) {   /* X[n - t]* */
					src = n - t;
					conj = 1;
				}
				if (src >= L) {
					re[t] = im[t] = 0;
					continue;
				}
				int64_t at = ((o * L + src) * inner + i) * X->dims[r - 1];
				re[t] = kn_ld(X, at);
				im[t] = cplx ? kn_ld(X, at + 1) : 0;
				if (conj)
					im[t] = -im[t];
			}
			dft1(re, im, nin, n, nout, inv, ore, oim);
			for (int64_t k = 0; k < nout; k++) {
				if (irf) {
					kn_st(&c->out[0], (o * nout + k) * inner + i, ore[k]);
					continue;
				}
				int64_t at = ((o * nout + k) * inner + i) * 2;
				kn_st(&c->out[0], at, ore[k]);
				kn_st(&c->out[0], at + 1, oim[k]);
			}
		}
	return 0;
}

/* STFT(signal [B, T, 1|2], frame_step, window?, frame_length?) -> [B, frames, bins, 2] */
static int kn_stft(KCall *c)
{
	const KTensor *X = &c->in[0], *Wn = kn_has(c, 2) ? &c->in[2] : NULL;
	if (X->rank != 3 || (X->dims[2] != 1 && X->dims[2] != 2) || !kn_has(c, 1))
		return kerr(c, "STFT: signal [batch, length, 1|2] and frame_step required");
	int64_t step = kn_ldi(&c->in[1], 0), T = X->dims[1];
	int64_t fl = kn_has(c, 3) ? kn_ldi(&c->in[3], 0) : Wn ? kt_numel(Wn) : -1;
	if (fl < 1 || step < 1 || fl > T || (Wn && kt_numel(Wn) != fl))
		return kerr(c, "STFT: frame_length, frame_step or window inconsistent");
	int one = (int)kattr_i(c, "onesided", 1);
	if (one && X->dims[2] == 2)
		one = 0;
	int64_t nf = (T - fl) / step + 1, nb = one ? fl / 2 + 1 : fl;
	int64_t od[4] = {X->dims[0], nf, nb, 2};
	if (kout(c, 0, 4, od))
		return 1;
	double *b = kn_tmp(c, (size_t)(2 * fl + 2 * nb) * sizeof(double));
	if (!b)
		return kerr(c, "STFT: out of memory");
	double *re = b, *im = b + fl, *ore = b + 2 * fl, *oim = ore + nb;
	int64_t ch = X->dims[2];
	for (int64_t bt = 0; bt < X->dims[0]; bt++)
		for (int64_t f = 0; f < nf; f++) {
			for (int64_t t = 0; t < fl; t++) {
				double w = Wn ? kn_ld(Wn, t) : 1.0;
				int64_t at = (bt * T + f * step + t) * ch;
				re[t] = kn_ld(X, at) * w;
				im[t] = ch == 2 ? kn_ld(X, at + 1) * w : 0;
			}
			dft1(re, im, fl, fl, nb, 0, ore, oim);
			for (int64_t k = 0; k < nb; k++) {
				int64_t at = ((bt * nf + f) * nb + k) * 2;
				kn_st(&c->out[0], at, ore[k]);
				kn_st(&c->out[0], at + 1, oim[k]);
			}
		}
	return 0;
}

int kn_signal(kpool *pool, KCall *c)
{
	(void)pool;
	switch (c->op) {
	case OP_HannWindow: case OP_HammingWindow: case OP_BlackmanWindow: return kn_window(c);
	case OP_MelWeightMatrix: return kn_mel(c);
	case OP_DFT: return kn_dft(c);
	case OP_STFT: return kn_stft(c);
	}
	return kerr(c, "%s: not a signal kernel", op_names[c->op]);
}
