/*
 * device_model_cuda.c — the CUDA device: the model on the GPU
 * (model/cuda/gpt_cuda.c, bf16 weights and activations, fp32 master weights
 * and gradients). Its training pieces are device_model_train_cuda.c's.
 *
 * Losses: one forward with the targets, and every position's loss from the
 * fused cross-entropy kernel (fp32 log-sum-exp over the V real tokens, the
 * training loss). Generation: each append forwards the whole sequence again
 * with the flash-attention forward and returns the last position's logits
 * (no KV cache on the GPU yet); the activations are reused.
 *
 * Deterministic: every kernel sums in a fixed order (no atomics), cuBLASLt
 * keeps one algorithm per shape, and the loss is summed on the host in
 * order, so the same seed on the same GPU gives the same bits.
 */
#include "model/device_model_cuda.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

/* ---- losses ------------------------------------------------------------------ */

static int cuda_losses(device_model *d, const int *in, const int *tgt, int B, int T,
		       const unsigned char *want, double *out)
{
	gpt_cuda *g = &cuda_state_of(d)->g;
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

/* ---- generation ---------------------------------------------------------------- */

static int cuda_gen_reset(device_model *d)
{
	cuda_state *s = cuda_state_of(d);
	const lm_config *c = &d->model->cfg;
	if (!s->tokens)
		s->tokens = malloc((size_t)c->ctx * sizeof *s->tokens);
	if (!s->logits)
		s->logits = malloc((size_t)c->padded_vocab * sizeof *s->logits);
	if (!s->tokens || !s->logits)
		return lm_fail("out of memory");
	s->len = 0;
	return 0;
}

static const float *cuda_gen_append(device_model *d, const int *tokens, int n)
{
	cuda_state *s = cuda_state_of(d);
	int ctx = d->model->cfg.ctx;
	if (!s->tokens)
		return lm_fail("gen_append before gen_reset"), NULL;
	if (n < 1 || s->len + n > ctx)
		return lm_fail("the sequence would pass the context (%d + %d > %d)", s->len, n, ctx),
		       NULL;
	memcpy(s->tokens + s->len, tokens, (size_t)n * sizeof *tokens);
	s->len += n;
	if (gpt_cuda_forward(&s->g, s->tokens, NULL, 1, s->len, 0.0f, NULL) != 0 ||
	    gpt_cuda_logits_row(&s->g, s->len - 1, s->logits) != 0)
		return NULL;
	return s->logits;
}

/* ---- open and close ------------------------------------------------------------ */

static void cuda_close(device_model *d)
{
	cuda_state *s = cuda_state_of(d);
	if (!s)
		return;
	if (s->comm)  /* an all-reduce may still read the gradients */
		cudaStreamSynchronize(s->comm);
	gpt_cuda_close(&s->g);
	cudaFree(s->m);
	cudaFree(s->v);
	cudaFree(s->sumsq);
	cudaFree(s->sumsq_scratch);
	free(s->tokens);
	free(s->logits);
	grad_stages_free(&s->stages);
	if (s->reduced)
		cudaEventDestroy(s->reduced);
	if (s->comm)
		cudaStreamDestroy(s->comm);
	free(s);
	d->impl = NULL;
}

int device_model_cuda_open(device_model *d)
{
	if (cu_device_check("--device cuda") != 0)
		return -1;
	cuda_state *s = calloc(1, sizeof *s);
	if (!s)
		return lm_fail("out of memory");
	d->impl = s;
	d->close = cuda_close;  /* device_model_open closes what a failed open left */
	if (gpt_cuda_open(&s->g, d->model) != 0)
		return -1;
	d->name = "cuda";
	d->losses = cuda_losses;
	d->gen_reset = cuda_gen_reset;
	d->gen_append = cuda_gen_append;
	return 0;
}
