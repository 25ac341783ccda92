/*
 * adamw.h — AdamW (Loshchilov, Hutter 2019) over one flat parameter array,
 * with PyTorch's formula (torch.optim.AdamW, 1.13):
 *
 *   p <- p - lr wd p                          (decoupled decay, decayed tensors only)
 *   m <- b1 m + (1 - b1) g
 *   v <- b2 v + (1 - b2) g^2
 *   p <- p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * Weight decay applies to every 2-D tensor — the matrices AND the
 * embeddings (token, position, untied head) — and to no 1-D tensor (biases,
 * norm gains), as nanoGPT's configure_optimizers does. The decay mask comes
 * from spans of the flat array (the model's tensor table gives them:
 * model/device_model.h's device_model_spans); this file knows no model.
 */
#ifndef LMPIPE_ADAMW_H
#define LMPIPE_ADAMW_H

#include <stddef.h>

typedef struct {
	double beta1, beta2, eps, weight_decay;
} adamw_hparams;

/* lm-train(1)'s defaults (the GPT-2 124M recipe): betas (0.9, 0.95), eps
 * 1e-8, weight decay 0.1. */
#define ADAMW_DEFAULTS ((adamw_hparams){0.9, 0.95, 1e-8, 0.1})

/* A run of the flat array with one decay setting. (Tagged so that
 * model/cuda/kernels.h can declare it without this header.) */
typedef struct adamw_span {
	size_t offset, numel;
	int decay;
} adamw_span;

typedef struct {
	adamw_hparams hp;
	size_t n;            /* parameters */
	float *m, *v;        /* (n) first and second moments */
	unsigned char *decay;/* (n) 1 where weight decay applies */
	long step;           /* steps taken; the next is step + 1 */
} adamw;

/* Moments start at zero; every element must be covered by exactly one span. */
int adamw_init(adamw *o, size_t n, const adamw_span *spans, int nspans, adamw_hparams hp);
void adamw_free(adamw *o);
/* One step at learning rate lr: params updated in place from grads. */
void adamw_step(adamw *o, float *params, const float *grads, double lr);

/* The global L2 norm of the gradients (summed in double, in a fixed order). */
double grad_norm(const float *grads, size_t n);
/* torch.nn.utils.clip_grad_norm_: scale the grads by grad_clip_coef (below;
 * max_norm <= 0 leaves them alone). Returns the norm before clipping. */
double grad_clip(float *grads, size_t n, double max_norm);
/* The factor grad_clip scales by: max_norm / (norm + 1e-6) when that is
 * below 1, else 1 (and 1 for max_norm <= 0: no clipping). A device that
 * folds the clipping into its optimizer step uses the same rule. */
double grad_clip_coef(double norm, double max_norm);

#endif
