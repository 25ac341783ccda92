/*
 * checkpoint.c — writing and finding a run's checkpoints (checkpoint.h).
 */
#include "train/checkpoint.h"
#include "ckpt/ckpt.h"
#include "ckpt/hf_dir.h"
#include "ckpt/safetensors.h"
#include "train/options.h"
#include "train/rundir.h"
#include "util/error.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

bool train_ckpt_due(long step, long every, bool last, bool stop)
{
	return train_every(step, every) || last || stop;
}

/* ---- writing ------------------------------------------------------------------------ */

/* The weights under HF's names (ckpt/ckpt.h); metadata: the progress and
 * the tokenizer (ckpt_save adds the config). */
static int save_weights(const train_ckpt *c, const char *path)
{
	char step[32], tokens[32];
	snprintf(step, sizeof step, "%llu", (unsigned long long)c->state->step);
	snprintf(tokens, sizeof tokens, "%llu", (unsigned long long)c->state->tokens);
	const char *meta[8] = {"step", step, "tokens", tokens};
	int nmeta = 2;
	if (c->tok_merges) {
		meta[4] = "tokenizer_merges";
		meta[5] = c->tok_merges;
		meta[6] = "tokenizer_specials";
		meta[7] = c->tok_specials ? c->tok_specials : "[]";
		nmeta += 2;
	}
	return ckpt_save(c->model, path, meta, nmeta, true);
}

/* The pair for this step, then the pointer, the transformers files, then
 * pruning (see rundir.h). */
int train_ckpt_write(const char *dir, int keep, const train_ckpt *c)
{
	long step = (long)c->state->step;
	char *w = rundir_ckpt_path(dir, step, "safetensors");
	char *s = rundir_ckpt_path(dir, step, "state");
	int rc = !w || !s ? -1 : save_weights(c, w);
	if (rc == 0)
		rc = train_state_write(s, c->state);
	if (rc == 0)
		rc = rundir_point_latest(dir, step);
	int hf = rc == 0 ? hf_dir_update(dir, c->model, c->tok) : 0;
	if (hf < 0)
		rc = -1;
	char why[512];
	snprintf(why, sizeof why, "%s", hf > 0 ? lm_last_error() : "");
	if (rc == 0)
		rc = rundir_prune(dir, keep);
	free(w);
	free(s);
	if (rc != 0 || hf == 0)
		return rc;
	lm_fail("%s", why);
	return 1;
}

/* ---- finding the one to resume ---------------------------------------------------------- */

/* Step's pair, if whole: weights whose header fits the file, a state whose
 * size and hash hold and whose step is the name's. */
static int pair_read(const char *dir, long step, train_state *st, char **weights)
{
	char *w = rundir_ckpt_path(dir, step, "safetensors");
	char *sp = rundir_ckpt_path(dir, step, "state");
	st_file *f = w ? st_open(w) : NULL;
	int rc = !w || !sp || !f ? -1 : train_state_read(sp, st);
	if (f)
		st_close(f);
	if (rc == 0 && st->step != (uint64_t)step) {
		rc = lm_fail("'%s': the state says step %llu, its name %ld", sp,
			     (unsigned long long)st->step, step);
		train_state_free(st);
	}
	free(sp);
	if (rc == 0)
		*weights = w;
	else
		free(w);
	return rc;
}

/* No pair to resume from: why, and what to do. */
static int no_checkpoint(const char *dir)
{
	if (rundir_in_use(dir) == RUNDIR_NO_CHECKPOINT)
		return lm_fail("'%s' has no checkpoint to resume: its run stopped before it wrote "
			       "a whole one (start it again with -f)", dir);
	return lm_fail("'%s' has no checkpoint to resume", dir);
}

int train_ckpt_find(const char *dir, train_state *st, char **weights)
{
	long step, prev;
	int pointed = rundir_latest(dir, &step);
	if (pointed < 0)
		return -1;
	if (pointed && pair_read(dir, step, st, weights) == 0)
		return 0;
	char why[512];
	snprintf(why, sizeof why, "%s", pointed ? lm_last_error() : "");
	for (long before = pointed ? step : LONG_MAX;; before = prev) {
		int found = rundir_previous(dir, before, &prev);
		if (found < 0)
			return -1;
		if (!found)
			return pointed ? lm_fail("cannot resume from step %ld: %s; and no earlier "
						 "whole checkpoint", step, why)
				       : no_checkpoint(dir);
		if (pair_read(dir, prev, st, weights) != 0)
			continue;
		if (pointed)
			lm_fail("cannot resume from step %ld: %s; resuming from step %ld, the "
				"previous whole checkpoint", step, why, prev);
		else
			lm_fail("'%s' has no %s: resuming from step %ld, its newest whole checkpoint",
				dir, RUNDIR_LATEST, prev);
		return 1;
	}
}

int train_ckpt_check_step(const train_state *st, long batch_tokens, const char *dir)
{
	uint64_t bt = (uint64_t)batch_tokens;
	if (bt == 0 || st->step > (uint64_t)LONG_MAX / bt)
		return lm_fail("'%s': step %llu of %llu tokens is past any run", dir,
			       (unsigned long long)st->step, (unsigned long long)bt);
	if (st->tokens != st->step * bt)
		return lm_fail("'%s': the state says %llu tokens, its step %llu x %llu a step",
			       dir, (unsigned long long)st->tokens, (unsigned long long)st->step,
			       (unsigned long long)bt);
	return 0;
}
