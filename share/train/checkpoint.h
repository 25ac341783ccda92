/*
 * checkpoint.h — a run's checkpoints: when one is due, writing one into the
 * run directory, and finding the one a resume starts from.
 *
 * A checkpoint is a pair (rundir.h): the weights under transformers' names
 * with the progress and the tokenizer in their metadata, and the state
 * sidecar (state.h) for an exact resume. Writing one is, in this order:
 * the weights, the state, the pointer moved to them, the run directory's
 * transformers files, then pruning to the newest KEEP. A kill at any point
 * leaves the pointer on a whole pair.
 */
#ifndef LMPIPE_TRAIN_CHECKPOINT_H
#define LMPIPE_TRAIN_CHECKPOINT_H

#include "model/gpt.h"
#include "tok/merges.h"
#include "train/state.h"

#include <stdbool.h>

/* What one checkpoint holds, borrowed from the run. */
typedef struct {
	const gpt_model *model;    /* the weights (their host copy up to date) */
	const train_state *state;  /* step, tokens, RNG, options, moments, data position */
	/* the tokenizer the weights carry: the merges file's text and the
	 * specials as a JSON array (NULL: none) */
	const char *tok_merges, *tok_specials;
	const bpe_merges *tok;     /* the tokenizer for the transformers files, NULL: none */
} train_ckpt;

/* Whether a checkpoint is due after STEP: every EVERY steps (0: never), at
 * the run's last step, and when a signal stops the run. */
bool train_ckpt_due(long step, long every, bool last, bool stop);

/* Write c as DIR's checkpoint of its step, keep the newest KEEP (0: all).
 * 0 when written; 1 when written but the model has no transformers class
 * (no config.json; the reason is lm_last_error(), a warning, not an error);
 * -1 on an error. */
int train_ckpt_write(const char *dir, int keep, const train_ckpt *c);

/* The checkpoint a resume of DIR starts from: the pointer's pair when it is
 * whole, else the newest whole pair before it. *st gets its state and
 * *weights its weights' path (caller frees both). 0 for the pointer's; 1
 * for an earlier one, the why a warning in lm_last_error(); -1 when there
 * is none or on an error. */
int train_ckpt_find(const char *dir, train_state *st, char **weights);

/* The state's step as far as a run of BATCH_TOKENS a step goes: the tokens
 * it counts (step x batch) fit in a long, and are what the state says. */
int train_ckpt_check_step(const train_state *st, long batch_tokens, const char *dir);

#endif
