/*
 * encode.h — byte-level BPE encoding with exactly tiktoken's semantics.
 *
 * Text is cut at special tokens (longest first), each segment between them
 * is pre-tokenized (tok/pretok.h), and each piece becomes tokens: the whole
 * piece when its bytes are a token (tiktoken's own shortcut), else the
 * piece is cut where no token holds the two bytes either side (no merge can
 * span such a cut, so each run merges alone to the same ids: one CJK
 * character, one emoji) and each run is a recent run from a cache, else
 * BPE: repeatedly merge the adjacent pair of parts
 * whose concatenated bytes form the token of lowest id (ties: the leftmost).
 * Short pieces merge by scanning; long ones with a heap over a linked list,
 * O(m log m), so no input is pathological; giant ones (over 1 MiB, a run of
 * one letter say) in rounds over their ids alone, so memory stays near 5
 * bytes a byte of the longest piece (plus the text itself).
 *
 * A bpe_encoder is read-only once built and shared by threads; each thread
 * encodes with its own encode_state (cache and scratch).
 */
#ifndef LMPIPE_TOK_ENCODE_H
#define LMPIPE_TOK_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "tok/merges.h"

typedef struct bpe_encoder bpe_encoder;
typedef struct encode_state encode_state;

typedef struct {
	uint32_t *ids;
	size_t n, cap;
} token_buf;

/* Build from merges m (with its specials, matched in raw text). m must
 * outlive the encoder. NULL + lm_fail on error. */
bpe_encoder *encoder_new(const bpe_merges *m);
void encoder_free(bpe_encoder *e);
/* Pieces longer than n bytes (default 1 MiB) merge in rounds over their
 * ids alone: about 5 bytes a byte instead of 20, the same ids.
 * For tests (0: every piece); set before the encoder is shared. */
void encoder_set_lean_piece(bpe_encoder *e, size_t n);
/* Per-thread state. */
encode_state *encode_state_new(const bpe_encoder *e);
void encode_state_free(encode_state *st);

/* Append the ids of text s[0..n) (a whole text: its end ends the last
 * pre-token) to out. -1 on out of memory. */
int encoder_encode(encode_state *st, const uint8_t *s, size_t n, token_buf *out);
/* Append the ids of one piece (no pre-tokenization, no specials). */
int encoder_encode_piece(encode_state *st, const uint8_t *s, size_t n, token_buf *out);
/* How many ordinary tokens have the bytes of a lower id. */
uint32_t encoder_repeats(const bpe_encoder *e);
/* The lowest id of the ordinary tokens of bytes s[0..n), UINT32_MAX if
 * none. */
uint32_t encoder_token_id(const bpe_encoder *e, const uint8_t *s, size_t n);
/* BPE of ordinary token t's bytes with only the tokens below t (no whole-
 * piece shortcut): 0 with the two parts left, 1 when not two are left, -1
 * on out of memory. Linear-logarithmic in the token's length. */
int encoder_split(encode_state *st, uint32_t t, uint32_t *left, uint32_t *right);
/* Largest p <= n such that encoding s[0..p) then the rest equals encoding
 * the whole, whatever follows s[n-1]: a cut right after a special token, or
 * a safe pre-token cut (pretok_safe_cut) no special can straddle. 0 if none. */
size_t encoder_safe_cut(const bpe_encoder *e, const uint8_t *s, size_t n);
/* The id of special token i (in the order of m->specials). */
uint32_t encoder_special_id(const bpe_encoder *e, int i);

/* Bytes of ids[0..n) appended to *out (a growing buffer of *cap). Ids at or
 * beyond the vocabulary: -1, lm_fail naming the id and its position. */
int encoder_decode(const bpe_encoder *e, const uint32_t *ids, size_t n,
		   uint8_t **out, size_t *len, size_t *cap);

int token_buf_push(token_buf *b, uint32_t id);
void token_buf_free(token_buf *b);

#endif
