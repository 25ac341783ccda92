/*
 * score.c — summed continuation losses of padded rows. See score.h.
 */
#include "eval/score.h"

#include "util/error.h"

#include <math.h>
#include <stdlib.h>

double score_token_loss(const gpt_model *m, int b, int t, int target)
{
	int V = m->cfg.vocab_size, Vp = m->cfg.padded_vocab;
	const float *lg = m->acts.logits + ((size_t)b * m->T + t) * Vp;
	double mx = -INFINITY, sum = 0;
	for (int i = 0; i < V; i++)
		if (lg[i] > mx)
			mx = lg[i];
	for (int i = 0; i < V; i++)
		sum += exp((double)lg[i] - mx);
	return mx + log(sum) - (double)lg[target];
}

int score_rows(gpt_model *m, const score_row *rows, int nrows, double *sum)
{
	int ctx = m->cfg.ctx, T = 0;
	for (int r = 0; r < nrows; r++) {
		if (rows[r].cont < 1 || rows[r].cont >= rows[r].n)
			return lm_fail("a row of %d tokens cannot score %d of them", rows[r].n,
				       rows[r].cont);
		if (rows[r].cont > ctx)
			return lm_fail("a continuation of %d tokens is longer than the context (%d)",
				       rows[r].cont, ctx);
		int len = rows[r].n - 1 < ctx ? rows[r].n - 1 : ctx;
		if (len > T)
			T = len;
	}
	int *in = calloc((size_t)nrows * T, sizeof *in);
	if (!in)
		return lm_fail("out of memory");
	for (int r = 0; r < nrows; r++) {
		int skip = rows[r].n - 1 > ctx ? rows[r].n - 1 - ctx : 0;
		for (int t = 0; t + skip < rows[r].n - 1 && t < T; t++)
			in[(size_t)r * T + t] = (int)rows[r].ids[t + skip];
	}
	int rc = gpt_forward(m, in, NULL, nrows, T, NULL);
	free(in);
	if (rc != 0)
		return -1;
	for (int r = 0; r < nrows; r++) {
		int skip = rows[r].n - 1 > ctx ? rows[r].n - 1 - ctx : 0;
		double s = 0;
		/* target i (i >= 1) is predicted at input position i - 1 - skip */
		for (int i = rows[r].n - rows[r].cont; i < rows[r].n; i++)
			s += score_token_loss(m, r, i - 1 - skip, (int)rows[r].ids[i]);
		sum[r] = s;
	}
	return 0;
}
