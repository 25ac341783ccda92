/*
 * tokenizer.h — a training run's tokenizer: the one its checkpoints carry
 * (their metadata, lm-eval's and lm-sample's first choice) and the one it
 * encodes sample prompts and HellaSwag with and decodes samples with.
 *
 * Where it comes from: --merges and -s when given; else the one the
 * checkpoint the weights came from carries (so that a run continued from a
 * checkpoint, or resumed, keeps it), read once: its text is what the new
 * checkpoints carry, its parse what the run encodes with; else, for a
 * fresh run from a transformers directory or a checkpoint without one,
 * the one lm-sample would take (the directory's files, GPT-2's), for
 * samples only, carried by none.
 */
#ifndef LMPIPE_TRAIN_TOKENIZER_H
#define LMPIPE_TRAIN_TOKENIZER_H

#include "eval/tokenizer.h"

#include <stdbool.h>

typedef struct {
	lm_tokenizer enc;   /* encodes prompts and HellaSwag, decodes samples */
	bool open;          /* enc is there */
	/* what the checkpoints carry: the merges file's text and the specials
	 * as a JSON array (NULL: nothing) */
	char *merges, *specials;
} train_tokenizer;

/* MERGES (a merges file or a .tiktoken rank table) with its N specials,
 * for a model of VOCAB tokens; -1 on any error, a tokenizer larger than the
 * vocabulary included. */
int train_tokenizer_open_merges(train_tokenizer *t, const char *merges,
				const char *const *specials, int n, int vocab);
/* The tokenizer of checkpoint SRC for a model of VOCAB tokens; CARRIED_ONLY
 * (a resume): none when SRC carries none. 0 when done (t->open tells if one
 * was found); 1 when there is none to use, why in lm_last_error() (a
 * warning: the run goes on without); -1 on an error reading SRC. */
int train_tokenizer_open_ckpt(train_tokenizer *t, const char *src, bool carried_only, int vocab);
void train_tokenizer_close(train_tokenizer *t);

#endif
