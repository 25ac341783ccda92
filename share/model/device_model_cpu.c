/*
 * device_model_cpu.c — the CPU device: the reference model (model/gpt.c,
 * fp32, OpenMP), its losses, and a KV cache for generation (allocated at
 * the first gen_reset). Its training pieces are device_model_train.c's.
 *
 * Deterministic: gpt.c and adamw.c split work over a fixed static thread
 * partition and sum in a fixed order, so the same inputs give the same bits
 * run after run — what an exact --resume relies on.
 */
#include "model/device_model.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>

/* ---- losses ------------------------------------------------------------------ */

/* lse(logits[b, t, :V]) - logits[b, t, target] of M's last forward, in
 * double over the V real tokens. */
static double token_loss(const gpt_model *m, int b, int t, int target)
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

/* The logits, then the wanted positions' losses in double; with no want,
 * the forward's own losses (the training loss). */
static int cpu_losses(device_model *d, const int *in, const int *tgt, int B, int T,
		      const unsigned char *want, double *out)
{
	gpt_model *m = d->model;
	if (gpt_forward(m, in, want ? NULL : tgt, B, T, NULL) != 0)
		return -1;
	for (size_t i = 0; i < (size_t)B * T; i++)
		if (!want)
			out[i] = m->acts.losses[i];
		else if (want[i])
			out[i] = token_loss(m, (int)(i / (size_t)T), (int)(i % (size_t)T), tgt[i]);
	return 0;
}

/* ---- generation over the KV cache (d->impl) ------------------------------------ */

static int cpu_gen_reset(device_model *d)
{
	if (!d->impl) {
		gpt_kv *kv = malloc(sizeof *kv);
		if (!kv)
			return lm_fail("out of memory");
		if (gpt_kv_alloc(kv, d->model, d->model->cfg.ctx) != 0) {
			free(kv);
			return -1;
		}
		d->impl = kv;
	}
	gpt_kv_reset(d->impl);
	return 0;
}

static const float *cpu_gen_append(device_model *d, const int *tokens, int n)
{
	const float *logits;
	if (!d->impl)
		return lm_fail("gen_append before gen_reset"), NULL;
	return gpt_forward_next(d->model, d->impl, tokens, n, &logits) == 0 ? logits : NULL;
}

/* ---- open and close ------------------------------------------------------------ */

static void cpu_close(device_model *d)
{
	if (d->impl) {
		gpt_kv_free(d->impl);
		free(d->impl);
		d->impl = NULL;
	}
}

int device_model_cpu_open(device_model *d)
{
	d->name = "cpu";
	d->close = cpu_close;
	d->losses = cpu_losses;
	d->gen_reset = cpu_gen_reset;
	d->gen_append = cpu_gen_append;
	return 0;
}
