/*
 * pretok.h — GPT-2's pre-tokenizer, exactly tiktoken's gpt2 pattern
 *
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * hand-written (no regex engine). The classes \p{L}, \p{N} and \s (White_Space)
 * are those of the Unicode version the tables in unicode_tables.c were
 * generated from (scripts/gen-unicode-tables.py; the version is stated there
 * and is the one of the regex engine tiktoken 0.8.0 uses). The contractions
 * are case-sensitive, as in the pattern: "I'LL" is "I", "'", "LL".
 *
 * Invalid UTF-8: every byte that does not begin a complete, valid UTF-8
 * sequence (a stray continuation byte, a truncated sequence, an overlong
 * form, a surrogate, a code point above U+10FFFF, bytes F5..FF) is one
 * symbol of one byte in the class "other" ([^\s\p{L}\p{N}]), as if it were
 * U+FFFD (category So) — so invalid bytes join runs of punctuation and
 * symbols and take an optional leading space like them. Valid UTF-8 text is
 * split exactly as tiktoken splits the same str.
 *
 * Text ends: the text passed in is the whole of a segment (tiktoken splits
 * at special tokens first and pre-tokenizes each segment alone), so "\s+(?!\S)"
 * treats its end as the end of the text.
 */
#ifndef LMPIPE_TOK_PRETOK_H
#define LMPIPE_TOK_PRETOK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Length in bytes (>= 1) of the first pre-token of s[0..n), n > 0, where n
 * is the end of the text. Inline: an ASCII fast path (one class-table load
 * and compare a byte) that hands over to pretok_next_slow at anything else. */
static inline size_t pretok_next(const uint8_t *s, size_t n);

/* The same without the fast path (any text). */
size_t pretok_next_slow(const uint8_t *s, size_t n);
/* The same where s[0] >= 0x80 (a character of two bytes or more, or an
 * invalid byte). */
size_t pretok_next_wide(const uint8_t *s, size_t n);
/* End of the run of class k (letter, number, other) that goes on at s[i]. */
size_t pretok_run_end(const uint8_t *s, size_t n, size_t i, int k);

/* Largest p <= n such that pre-tokenizing s[0..p) and then the rest gives
 * exactly the pieces of the whole, whatever follows s[n-1] (a safe cut for
 * streaming and parallel work); 0 if none in s[0..n). A cut lies between two
 * complete, valid characters where the first is not white space and not an
 * apostrophe and the second is of another class (letter, number, white space,
 * other). */
size_t pretok_safe_cut(const uint8_t *s, size_t n);
/* The same, the largest such p <= limit (s[0..n) still read, limit < n). */
size_t pretok_safe_cut_below(const uint8_t *s, size_t n, size_t limit);

/* The class of code point cp (exposed for tests): */
enum { PRETOK_OTHER = 0, PRETOK_LETTER = 1, PRETOK_NUMBER = 2, PRETOK_SPACE = 3 };
int pretok_class(uint32_t cp);

/* ---- the fast path ---------------------------------------------------- */

/* The class of each byte as a character when it is ASCII; PRETOK_SLOW for
 * the bytes >= 0x80 (a multi-byte character, or an invalid byte). */
enum { PRETOK_SLOW = 4 };
extern const uint8_t pretok_byte_class[256];

/* The high bit of each byte of w that is not an ASCII letter (w: 8 bytes of
 * text loaded little-endian). Seven-bit sums: no carry between bytes. */
static inline uint64_t pretok_not_letters(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, high = ones * 0x80;
	uint64_t v = (w | ones * 0x20) & ~high;    /* lower case, seven bits */
	uint64_t ge_a = v + ones * (0x80 - 'a');   /* high bit: v >= 'a' */
	uint64_t gt_z = v + ones * (0x7F - 'z');   /* high bit: v > 'z' */
	return ~(ge_a & ~gt_z & ~w) & high;
}

/* Past the ASCII letters from s[i], eight at a time while eight are left
 * (the byte loop ends the run). */
static inline size_t pretok_letters_end(const uint8_t *s, size_t n, size_t i)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		uint64_t m = pretok_not_letters(w);
		if (m)
			return i + (size_t)(__builtin_ctzll(m) >> 3);
	}
#endif
	return i;
}

static inline size_t pretok_next(const uint8_t *s, size_t n)
{
	const uint8_t *cls = pretok_byte_class;
	size_t i = 1;
	int k = cls[s[0]];
	if (s[0] == ' ' && n > 1 && cls[s[1]] < PRETOK_SPACE) {
		/* " ?\p{L}+" and friends; an apostrophe after a space is other */
		k = cls[s[1]];
		i = 2;
	} else if (k == PRETOK_SPACE) {
		/* "\s+(?!\S)" then "\s+" on ASCII white space: the run, less
		 * its last character when a non-space follows */
		while (i < n && cls[s[i]] == PRETOK_SPACE)
			i++;
		if (i < n && s[i] >= 0x80)
			return pretok_next_slow(s, n);
		return i == n || i == 1 ? i : i - 1;
	} else if (k > PRETOK_SPACE) {    /* PRETOK_SLOW */
		return pretok_next_wide(s, n);
	} else if (s[0] == '\'') {
		return pretok_next_slow(s, n);
	}
	if (k == PRETOK_LETTER)
		i = pretok_letters_end(s, n, i);
	while (i < n && cls[s[i]] == k)
		i++;
	if (i < n && s[i] >= 0x80)
		return pretok_run_end(s, n, i, k);
	return i;
}

#endif
