/*
 * score.h — the loss of continuations: for each row (context tokens, then
 * continuation tokens) the cross-entropy of every continuation token given
 * all the tokens before it. Rows are forwarded together, right-padded to the
 * longest (causal attention: padding after a token never changes its
 * logits). A row longer than the model's context keeps its last ctx + 1
 * tokens, as lm-evaluation-harness truncates on the left.
 *
 * The forward is gpt_forward's, so the model's backend (CPU now, CUDA when
 * it lands) is the switch; the per-token losses are log-sum-exp minus the
 * target's logit, in double, over the V real tokens.
 */
#ifndef LMPIPE_EVAL_SCORE_H
#define LMPIPE_EVAL_SCORE_H

#include "model/gpt.h"

#include <stdint.h>

typedef struct {
	const uint32_t *ids;  /* context then continuation */
	int n;                /* total tokens */
	int cont;             /* the last cont tokens are scored; 1 <= cont < n */
} score_row;

/* For each of the nrows rows: sum[r] = summed loss of its continuation
 * tokens (nats). -1 + lm_fail on a bad row or a failed forward. */
int score_rows(gpt_model *m, const score_row *rows, int nrows, double *sum);
/* Per-token cross-entropy at position t of row b of the last forward:
 * lse(logits[b, t, :V]) - logits[b, t, target], in double. */
double score_token_loss(const gpt_model *m, int b, int t, int target);

#endif
