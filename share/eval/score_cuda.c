/*
 * score_cuda.c — the GPU model as a score_model. See score_cuda.h.
 */
#include "eval/score_cuda.h"
#include "util/error.h"

#include <stdlib.h>

static int cuda_losses(void *impl, const int *in, const int *tgt, int B, int T,
		       const unsigned char *want, double *out)
{
	gpt_cuda *g = impl;
	size_t n = (size_t)B * T;
	float *loss = malloc(n * sizeof *loss);
	if (!loss)
		return lm_fail("out of memory");
	int rc = gpt_cuda_forward(g, in, tgt, B, T, 0.0f, NULL);
	if (rc == 0)
		rc = gpt_cuda_losses(g, loss);
	for (size_t i = 0; rc == 0 && i < n; i++)
		out[i] = loss[i];
	free(loss);
	(void)want;  /* every position comes at once */
	return rc;
}

void score_model_cuda(score_model *s, gpt_cuda *g)
{
	*s = (score_model){.cfg = &g->host->cfg, .impl = g, .losses = cuda_losses};
}
