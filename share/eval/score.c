/*
 * score.c — summed continuation losses of padded rows, and a model on a
 * device as a score_model. See score.h.
 */
#include "eval/score.h"

#include "util/error.h"

#include <stdlib.h>

static int device_losses(void *impl, const int *in, const int *tgt, int B, int T,
			 const unsigned char *want, double *out)
{
	device_model *d = impl;
	return d->losses(d, in, tgt, B, T, want, out);
}

void score_model_device(score_model *s, device_model *d)
{
	*s = (score_model){.cfg = &d->model->cfg, .impl = d, .losses = device_losses};
}

/* Tokens a row drops on the left to fit the context. */
static int row_skip(const score_row *r, int ctx)
{
	return r->n - 1 > ctx ? r->n - 1 - ctx : 0;
}

/* The padded (nrows, T) inputs and targets, and where the continuations'
 * losses are: target i (i >= 1) of a row is predicted at input position
 * i - 1 - skip. */
static int rows_batch(const score_row *rows, int nrows, int ctx, int T, int *in, int *tgt,
		      unsigned char *want)
{
	for (int r = 0; r < nrows; r++) {
		int skip = row_skip(&rows[r], ctx);
		for (int t = 0; t + skip < rows[r].n - 1 && t < T; t++) {
			in[(size_t)r * T + t] = (int)rows[r].ids[t + skip];
			tgt[(size_t)r * T + t] = (int)rows[r].ids[t + skip + 1];
		}
		for (int i = rows[r].n - rows[r].cont; i < rows[r].n; i++)
			want[(size_t)r * T + (i - 1 - skip)] = 1;
	}
	return 0;
}

int score_rows(const score_model *s, const score_row *rows, int nrows, double *sum)
{
	int ctx = s->cfg->ctx, T = 0;
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
	size_t cells = (size_t)nrows * T;
	int *in = calloc(cells, sizeof *in), *tgt = calloc(cells, sizeof *tgt);
	unsigned char *want = calloc(cells, 1);
	double *loss = calloc(cells, sizeof *loss);
	int rc = !in || !tgt || !want || !loss ? lm_fail("out of memory") : 0;
	if (rc == 0)
		rc = rows_batch(rows, nrows, ctx, T, in, tgt, want);
	if (rc == 0)
		rc = s->losses(s->impl, in, tgt, nrows, T, want, loss);
	for (int r = 0; rc == 0 && r < nrows; r++) {
		double total = 0;
		for (int t = 0; t < T; t++)
			if (want[(size_t)r * T + t])
				total += loss[(size_t)r * T + t];
		sum[r] = total;
	}
	free(in), free(tgt), free(want), free(loss);
	return rc;
}
