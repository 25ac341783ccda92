/*
 * score.h — the loss of continuations: for each row (context tokens, then
 * continuation tokens) the cross-entropy of every continuation token given
 * all the tokens before it. Rows are forwarded together, right-padded to the
 * longest (causal attention: padding after a token never changes its
 * logits). A row longer than the model's context keeps its last ctx + 1
 * tokens, as lm-evaluation-harness truncates on the left.
 *
 * The model is a score_model: a view of a model on a device
 * (model/device_model.h's losses: on the CPU, log-sum-exp minus the
 * target's logit in double over the V real tokens, at the positions asked
 * for; on the GPU, the fused cross-entropy kernel's fp32 loss at every
 * position).
 */
#ifndef LMPIPE_EVAL_SCORE_H
#define LMPIPE_EVAL_SCORE_H

#include "model/device_model.h"

#include <stdint.h>

/* Per-position losses of a batch. */
typedef struct {
	const lm_config *cfg;
	void *impl;
	/* out[b*T + t] = the loss of target tgt[b*T + t] after inputs in[b*T ..
	 * b*T + t], in nats, at least where want[b*T + t] is set; want NULL:
	 * every position, as the training loss computes it. -1 + lm_fail. */
	int (*losses)(void *impl, const int *in, const int *tgt, int B, int T,
		      const unsigned char *want, double *out);
} score_model;

/* D (opened, on any device) as a score_model, valid while D is open. */
void score_model_device(score_model *s, device_model *d);

typedef struct {
	const uint32_t *ids;  /* context then continuation */
	int n;                /* total tokens */
	int cont;             /* the last cont tokens are scored; 1 <= cont < n */
} score_row;

/* For each of the nrows rows: sum[r] = summed loss of its continuation
 * tokens (nats). -1 + lm_fail on a bad row or a failed forward. */
int score_rows(const score_model *s, const score_row *rows, int nrows, double *sum);

#endif
