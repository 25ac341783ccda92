/*
 * tokenizer.h — the tokenizer that goes with a checkpoint, for lm-eval and
 * lm-sample: encode prompts and contexts, decode samples.
 *
 * Where it comes from, first found wins:
 *  1. a file the user names, told by content: a merges file or .tiktoken
 *     rank table (specials: <|endoftext|>), or llm.c's tokenizer file (its
 *     EOT is <|endoftext|>; ckpt/llmc.h);
 *  2. the checkpoint's safetensors __metadata__ (what lm-train stores):
 *     "tokenizer_merges" (the merges file's text) and "tokenizer_specials"
 *     (a JSON array of strings);
 *  3. a transformers directory's merges.txt, with vocab.json's tokens past
 *     the merges as the specials, in id order; a GGUF file's merges, with
 *     its control tokens past the merges;
 *  4. GPT-2's (llm.c's checkpoint, or one trained without a tokenizer):
 *     gpt2.tiktoken in $LMPIPE_DATA_DIR, the build tree's data/, or the
 *     install's share directory, with <|endoftext|> (id 50256).
 */
#ifndef LMPIPE_EVAL_TOKENIZER_H
#define LMPIPE_EVAL_TOKENIZER_H

#include "tok/encode.h"
#include "tok/merges.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
	bpe_merges m;
	bpe_encoder *enc;
	encode_state *st;
	int eot;             /* id of <|endoftext|>, -1 when the tokenizer has none */
	/* where it came from, as read after "the tokenizer" in messages:
	 * 'FILE', GPT-2's 'FILE', or in 'CKPT' */
	char source[512];
} lm_tokenizer;

/* Open the tokenizer for checkpoint CKPT (a .safetensors or a directory),
 * MERGES (may be NULL) overriding. -1 + lm_fail when none is found. */
int lm_tokenizer_open(lm_tokenizer *t, const char *ckpt, const char *merges);
/* Source 1 with the specials a run was trained with (lm-train's -s), after
 * the merges in order; none: <|endoftext|>. */
int lm_tokenizer_open_merges(lm_tokenizer *t, const char *merges, const char *const *specials,
			     int n_specials);
/* Source 2 from text already read out of checkpoint FROM (named in errors
 * and in source): MERGES, the merges file's text, and SPECIALS, a JSON
 * array of strings (NULL: none). */
int lm_tokenizer_open_text(lm_tokenizer *t, const char *merges, const char *specials,
			   const char *from);
void lm_tokenizer_close(lm_tokenizer *t);
/* Append the ids of text s[0..n) to out (a whole text). */
int lm_tokenizer_encode(lm_tokenizer *t, const char *s, size_t n, token_buf *out);
/* The bytes of one token (a special: its text); NULL for an id out of range. */
const uint8_t *lm_tokenizer_bytes(const lm_tokenizer *t, uint32_t id, size_t *len);

#endif
