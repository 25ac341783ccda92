/*
 * tokenizer.c — a training run's tokenizer (tokenizer.h).
 */
#include "train/tokenizer.h"
#include "ckpt/ckpt.h"
#include "ckpt/format.h"
#include "ckpt/gguf.h"
#include "ckpt/safetensors.h"
#include "train/rundir.h"
#include "util/error.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void train_tokenizer_close(train_tokenizer *t)
{
	if (t->open)
		lm_tokenizer_close(&t->enc);
	t->open = false;
	free(t->merges);
	free(t->specials);
	t->merges = t->specials = NULL;
}

/* -1 + lm_fail when the tokenizer has more tokens than the model. */
static int fits(const train_tokenizer *t, int vocab)
{
	if (t->enc.m.vocab_size <= (uint32_t)vocab)
		return 0;
	return lm_fail("the tokenizer %s has %u tokens, the model's vocabulary %d",
		       t->enc.source, t->enc.m.vocab_size, vocab);
}

int train_tokenizer_open_merges(train_tokenizer *t, const char *merges,
				const char *const *specials, int n, int vocab)
{
	memset(t, 0, sizeof *t);
	if (lm_tokenizer_open_merges(&t->enc, merges, specials, n) != 0)
		return -1;
	t->open = true;
	if (ckpt_tokenizer_meta(&t->enc.m, &t->merges, &t->specials) != 0)
		return -1;
	return fits(t, vocab);
}

/* The tokenizer in the metadata of safetensors file PATH into t->merges
 * and t->specials: 1 if it has one, 0 if not, -1 on an error. */
static int carried_safetensors(train_tokenizer *t, const char *path)
{
	st_file *f = st_open(path);
	if (!f)
		return -1;
	const char *merges = st_metadata(f, "tokenizer_merges");
	const char *specials = st_metadata(f, "tokenizer_specials");
	if (merges) {
		t->merges = strdup(merges);
		t->specials = specials ? strdup(specials) : NULL;
	}
	st_close(f);
	if (merges && (!t->merges || (specials && !t->specials)))
		return lm_fail("out of memory");
	return merges != NULL;
}

/* The tokenizer in the metadata of checkpoint SRC (a safetensors file, a
 * GGUF, or a directory's model.safetensors) into t->merges and
 * t->specials, and into FROM the file it is in: 1 if it has one, 0 if
 * not, -1 on an error. */
static int carried(train_tokenizer *t, const char *src, char *from, size_t cap)
{
	ckpt_format fmt;
	if (ckpt_sniff(src, &fmt) != 0)
		return -1;
	snprintf(from, cap, fmt == FMT_HF_DIR ? "%s/model.safetensors" : "%s", src);
	if (fmt == FMT_GGUF) {
		int rc = gguf_tokenizer_meta(src, &t->merges, &t->specials);
		return rc < 0 ? -1 : rc == 0;
	}
	if (fmt != FMT_SAFETENSORS && fmt != FMT_HF_DIR)
		return 0;   /* llm.c's checkpoint: its tokenizer is a file of its own */
	return carried_safetensors(t, from);
}

/* The carried tokenizer's text parsed, else (CARRIED_ONLY false) the one
 * lm-sample would take for SRC: 0 when open, 1 when there is none to use
 * (why in lm_last_error()), -1 on an error reading SRC. */
static int open_ckpt(train_tokenizer *t, const char *src, bool carried_only)
{
	char from[PATH_MAX];
	int have = carried(t, src, from, sizeof from);
	if (have < 0)
		return -1;
	if (have == 0 && carried_only)
		return 0;    /* a resumed run that trained without one */
	int rc = have ? lm_tokenizer_open_text(&t->enc, t->merges, t->specials, from)
		      : lm_tokenizer_open(&t->enc, src, NULL);
	t->open = rc == 0;
	return rc == 0 ? 0 : 1;
}

int train_tokenizer_open_ckpt(train_tokenizer *t, const char *src, bool carried_only, int vocab)
{
	memset(t, 0, sizeof *t);
	int rc = open_ckpt(t, src, carried_only);
	/* the checkpoint's tokenizer does not fit: train without it */
	if (rc == 0 && t->open && fits(t, vocab) != 0) {
		lm_fail("%s (give --merges FILE)", lm_last_error());
		rc = 1;
	}
	if (rc != 0)
		train_tokenizer_close(t);
	return rc;
}
