/*
 * merges.h — the merges file (GPT-2's vocab.bpe format) and the vocabulary
 * it defines.
 *
 * The file: a first line "#version: ..." (the only header: eight of GPT-2's
 * own merges begin with '#'), then one merge a line, its two parts written
 * in GPT-2's byte alphabet (tok/alphabet.h) and separated by one space.
 * Empty lines are skipped; a final "\r" on a line is ignored.
 *
 * Token ids: 0..255 the single bytes in encoder.json's order
 * (alphabet_byte_id), 256 + i merge i, then the special tokens in the order
 * they were added. With GPT-2's vocab.bpe and the special <|endoftext|> this
 * gives GPT-2's ids exactly (<|endoftext|> = 50256).
 */
#ifndef LMPIPE_TOK_MERGES_H
#define LMPIPE_TOK_MERGES_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint32_t left, right;    /* token ids */
} bpe_pair;

typedef struct {
	uint32_t n_merges;
	bpe_pair *merges;        /* merge i makes token 256 + i */
	uint32_t n_specials;
	char **specials;         /* special i is token 256 + n_merges + i */
	uint32_t vocab_size;     /* 256 + n_merges + n_specials */
	uint8_t **token_bytes;   /* [vocab_size]: each token's bytes (a special: its text) */
	uint32_t *token_len;     /* [vocab_size] */
	void *bytes_blocks;      /* where token_bytes point (merges.c's own) */
	uint32_t room;           /* tokens the arrays hold before they grow (merges.c's own) */
} bpe_merges;

/* Read a merges file. Errors (messages name the file and line): no version
 * line, a symbol outside the alphabet, a line that is not two parts, a part
 * that is not an existing token, a duplicate merge, a merge whose bytes are
 * those of an earlier token ("a bc" after "ab c"): ids are one a token, as
 * in encoder.json, tiktoken's rank tables and GPT-2's own vocab.bpe (whose
 * 50000 merges make 50000 distinct byte strings). On error *m is empty. */
int merges_read(bpe_merges *m, const char *path);
/* The same from text[0..len) held in memory; NAME stands for the file in
 * messages. */
int merges_read_text(bpe_merges *m, const char *name, const char *text, size_t len);
/* 0, or -1 + lm_fail when two tokens (bytes or merges) have the same bytes. */
int merges_check_unique(const bpe_merges *m);
/* The 256 byte tokens and no merges: a start for merges_add_merge. */
int merges_init_bytes(bpe_merges *m);
/* Append merge (left, right), making token vocab_size; before any special. */
int merges_add_merge(bpe_merges *m, uint32_t left, uint32_t right);
/* Append special tokens (after the merges, in order). An empty string, or
 * one already a special, is an error. */
int merges_add_specials(bpe_merges *m, const char *const *specials, int n);
/* The merges file; atomic, replaces PATH; "-" = stdout. */
int merges_write(const bpe_merges *m, const char *path);
/* The merges file's text (what merges_write writes), NUL-terminated;
 * caller frees. NULL + lm_fail when out of memory. */
char *merges_text(const bpe_merges *m);
/* encoder.json (token in the alphabet -> id, specials as their text),
 * written as GPT-2's own is (Python's json.dumps); atomic; "-" = stdout. */
int merges_write_encoder_json(const bpe_merges *m, const char *path);
void merges_free(bpe_merges *m);

#endif
