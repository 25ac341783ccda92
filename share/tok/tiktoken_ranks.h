/*
 * tiktoken_ranks.h — a .tiktoken rank table (one "BASE64-TOKEN RANK" a line,
 * as tiktoken and openai-whisper ship gpt2.tiktoken) turned into merges.
 *
 * Ranks 0..255 must be the single bytes in GPT-2's alphabet order (the ids
 * of merges.h); each token of rank r >= 256 becomes the merge of the two
 * parts BPE with the ranks below r leaves of its bytes. With gpt2.tiktoken
 * this gives GPT-2's vocab.bpe exactly.
 */
#ifndef LMPIPE_TOK_TIKTOKEN_RANKS_H
#define LMPIPE_TOK_TIKTOKEN_RANKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tok/merges.h"

/* GPT-2's rank table as set-up installs it (scripts/fetch-gpt2.sh), found
 * with datadir_find(); the default tokenizer of bpe-encode and lm-eval. */
#define GPT2_RANK_TABLE "gpt2.tiktoken"

/* Read PATH into *m (no specials). Errors name the file and line. */
int tiktoken_ranks_read(bpe_merges *m, const char *path);
/* The same from n tokens in rank order (token i: bytes[i], len[i] bytes),
 * e.g. llm.c's tokenizer file; ORIGIN names them in errors. */
int tiktoken_ranks_build(bpe_merges *m, const char *origin, uint8_t *const *bytes,
			 const uint32_t *len, size_t n);
/* Whether PATH looks like a rank table (its first line "BASE64 NUMBER"). */
bool tiktoken_ranks_sniff(const char *path);

#endif
