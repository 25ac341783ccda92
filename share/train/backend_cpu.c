/*
 * backend_cpu.c — the CPU backend: the reference model (model/gpt.c, fp32,
 * OpenMP) and AdamW on the host arrays themselves, so syncing is free.
 *
 * Deterministic: gpt.c and adamw.c split work over a fixed static thread
 * partition and sum in a fixed order, so the same inputs give the same bits
 * run after run — what an exact --resume relies on.
 */
#include "train/backend.h"
#include "util/error.h"

#include <stdlib.h>

static int cpu_zero_grad(train_backend *b)
{
	return gpt_zero_grad(b->model);
}

static int cpu_micro_step(train_backend *b, const int *x, const int *y, int B, int T,
			  float dloss, dist_ctx *reduce, float *loss)
{
	gpt_model *m = b->model;
	if (gpt_forward(m, x, y, B, T, loss) != 0 || gpt_backward(m, dloss) != 0)
		return -1;
	return reduce ? dist_allreduce_mean(reduce, m->grads, m->num_params) : 0;
}

static double cpu_clip_grads(train_backend *b, double max_norm)
{
	gpt_model *m = b->model;
	return grad_clip(m->grads, m->num_params, max_norm);  /* max_norm <= 0: the norm only */
}

static int cpu_update(train_backend *b, double lr)
{
	adamw_step(&b->opt, b->model->params, b->model->grads, lr);
	return 0;
}

static int cpu_eval_loss(train_backend *b, const int *x, const int *y, int B, int T, float *loss)
{
	return gpt_forward(b->model, x, y, B, T, loss);
}

static void cpu_scorer(train_backend *b, score_model *out)
{
	score_model_cpu(out, b->model);
}

static const float *cpu_next_logits(train_backend *b, const int *x, int T)
{
	gpt_model *m = b->model;
	if (gpt_forward(m, x, NULL, 1, T, NULL) != 0)
		return NULL;
	return m->acts.logits + (size_t)(T - 1) * m->cfg.padded_vocab;
}

/* b->impl: the KV cache for sampling, allocated at the first gen_reset. */
static int cpu_gen_reset(train_backend *b)
{
	if (!b->impl) {
		gpt_kv *kv = malloc(sizeof *kv);
		if (!kv)
			return lm_fail("out of memory");
		if (gpt_kv_alloc(kv, b->model, b->model->cfg.ctx) != 0) {
			free(kv);
			return -1;
		}
		b->impl = kv;
	}
	gpt_kv_reset(b->impl);
	return 0;
}

static const float *cpu_gen_append(train_backend *b, const int *tokens, int n)
{
	const float *logits;
	if (!b->impl)
		return lm_fail("gen_append before gen_reset"), NULL;
	return gpt_forward_next(b->model, b->impl, tokens, n, &logits) == 0 ? logits : NULL;
}

static void cpu_close(train_backend *b)
{
	if (b->impl) {
		gpt_kv_free(b->impl);
		free(b->impl);
		b->impl = NULL;
	}
}

static int cpu_sync(train_backend *b)
{
	return 0;
}

int backend_cpu_open(train_backend *b)
{
	b->name = "cpu";
	b->zero_grad = cpu_zero_grad;
	b->micro_step = cpu_micro_step;
	b->scorer = cpu_scorer;
	b->clip_grads = cpu_clip_grads;
	b->update = cpu_update;
	b->eval_loss = cpu_eval_loss;
	b->next_logits = cpu_next_logits;
	b->gen_reset = cpu_gen_reset;
	b->gen_append = cpu_gen_append;
	b->sync_host = cpu_sync;
	b->sync_device = cpu_sync;
	b->close = cpu_close;
	return 0;
}
