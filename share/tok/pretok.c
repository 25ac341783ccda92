/*
 * pretok.c — GPT-2's pre-tokenizer by hand, equal to tiktoken's gpt2 regex
 *
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * The alternatives are tried in order at the current position (leftmost
 * first, like the regex). Every character is a letter, a number, white space
 * or other, so one of them always matches there. The runs are maximal; the
 * only backtracking is "\s+(?!\S)", which gives back the last white-space
 * character of a run that a non-space follows (it then starts the next
 * pre-token: " word", or a lone "\n" by the final "\s+").
 */
#include "tok/pretok.h"

#include <stdbool.h>
#ifdef __BMI2__
#include <immintrin.h>
#endif

#include "tok/unicode_tables.h"

/* ---- characters -------------------------------------------------------- */

/* Classes of the ASCII bytes, the common case: the generator stores the
 * block of U+0000..U+00FF first. */
#define ascii_class (unicode_class_stage2[0])

/* The fast path's table (pretok.h): ASCII as in unicode_class_stage2[0]
 * (t1000 checks they agree), PRETOK_SLOW for every byte >= 0x80. */
#define S PRETOK_SLOW
#define S16 S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S
const uint8_t pretok_byte_class[256] = {
	0,0,0,0,0,0,0,0,0,3,3,3,3,3,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	3,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,2,2,2,2,2,2,2,2,0,0,0,0,0,0,
	0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,0,0,0,0,0,
	0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,0,0,0,0,0,
	S16, S16, S16, S16, S16, S16, S16, S16,
};
#undef S16
#undef S

/* Four bytes read big-endian: s[0] the highest. */
static inline uint32_t be32_at(const uint8_t *s)
{
	uint32_t w;
	memcpy(&w, s, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return w;
#else
	return __builtin_bswap32(w);
#endif
}

/* The 16 bits a three-byte sequence carries, its bytes the highest three
 * of w (xxxx of 1110xxxx, then the six of each continuation byte): one
 * PEXT where the target has BMI2. */
static inline uint32_t three_byte_bits(uint32_t w)
{
#ifdef __BMI2__
	return _pext_u32(w, 0x0F3F3F00);
#else
	return (w >> 12 & 0xF000) | (w >> 10 & 0x0FC0) | (w >> 8 & 0x3F);
#endif
}

static int is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

/* One UTF-8 character at s[0..n), n > 0: its code point in *cp and its
 * length; an invalid byte gives length 1 and *cp = UINT32_MAX (class other).
 * Inline in the scanning loops: most CJK text is 3-byte characters, and a
 * call each cost a tenth of the time. */
static inline size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint8_t b = s[0];
	*cp = UINT32_MAX;
	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	if (b >= 0xC2 && b <= 0xDF) {
		if (n < 2 || !is_cont(s[1]))
			return 1;
		*cp = (uint32_t)(b & 0x1F) << 6 | (s[1] & 0x3F);
		return 2;
	}
	if (b >= 0xE0 && b <= 0xEF) {
		if (n < 3 || !is_cont(s[1]) || !is_cont(s[2]))
			return 1;
		if ((b == 0xE0 && s[1] < 0xA0) || (b == 0xED && s[1] > 0x9F))
			return 1;    /* overlong, surrogate */
		*cp = (uint32_t)(b & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
		return 3;
	}
	if (b >= 0xF0 && b <= 0xF4) {
		if (n < 4 || !is_cont(s[1]) || !is_cont(s[2]) || !is_cont(s[3]))
			return 1;
		if ((b == 0xF0 && s[1] < 0x90) || (b == 0xF4 && s[1] > 0x8F))
			return 1;    /* overlong, above U+10FFFF */
		*cp = (uint32_t)(b & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
		      (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
		return 4;
	}
	return 1;
}

/* The class of a code point below U+110000. */
static inline int class_below_max(uint32_t cp)
{
	return unicode_class_stage2[unicode_class_stage1[cp >> 8]][cp & 255];
}

static inline int class_of(uint32_t cp)
{
	return cp < 0x110000 ? class_below_max(cp) : PRETOK_OTHER;
}

int pretok_class(uint32_t cp)
{
	return class_of(cp);
}

/* The classes of U+0000..U+07FF, the code points of one and two bytes, as
 * one array: the generator stores the blocks of U+0000..U+07FF first, in
 * order, all distinct (t1074 checks it against pretok_class). */
#define low_class ((const uint8_t *)unicode_class_stage2)

/* Both bytes continuation bytes (10xxxxxx). */
static inline bool both_cont(uint8_t x, uint8_t y)
{
	return ((x ^ 0x80) | (y ^ 0x80)) < 0x40;
}

/* Class and length of the character at s[0..n), n > 0: utf8_decode and
 * class_of in one, the code point assembled before it is checked (one
 * range test for overlong forms and surrogates, not a branch a case), the
 * three-byte characters of CJK and Indic text tried first. */
static inline int char_at(const uint8_t *s, size_t n, size_t *len)
{
	uint8_t b = s[0];
	*len = 1;
	if (b < 0x80)
		return ascii_class[b];
	if ((b & 0xF0) == 0xE0) {
		if (n < 3 || !both_cont(s[1], s[2]))
			return PRETOK_OTHER;
		uint32_t cp = (uint32_t)(b & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
		if (cp < 0x800 || cp - 0xD800 < 0x800)
			return PRETOK_OTHER;    /* overlong, surrogate */
		*len = 3;
		return class_below_max(cp);
	}
	if (b >= 0xC2 && b <= 0xDF) {
		if (n < 2 || !is_cont(s[1]))
			return PRETOK_OTHER;
		*len = 2;
		return low_class[(b & 0x1F) << 6 | (s[1] & 0x3F)];
	}
	uint32_t cp;
	*len = utf8_decode(s, n, &cp);
	return class_of(cp);
}

/* Past the Cyrillic letters U+0400..U+047F (lead byte D0 or D1: every one
 * a letter) from s[i], four at a time while eight bytes are left. */
static inline size_t cyrillic_end(const uint8_t *s, size_t n, size_t i)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; n - i >= 8; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		if ((w & 0xC0FEC0FEC0FEC0FEull) != 0x80D080D080D080D0ull)
			break;
	}
#endif
	return i;
}

/* Whether s[0..n) begins with a lead byte 1110xxxx and two continuation
 * bytes, with one more byte after them (one load of four); if so *c is the
 * class of the character by one flat table, other for an overlong form
 * (its three bytes are each invalid, of class other: the same for any run)
 * or a surrogate. */
static inline bool three_byte_at(const uint8_t *s, size_t n, int *c)
{
	if (n < 4)
		return false;
	uint32_t w = be32_at(s);
	if ((w & 0xF0C0C000) != 0xE0808000)
		return false;
	*c = unicode_class_three[three_byte_bits(w)];
	return true;
}

/* End of the run of class k that goes on at i. The characters of two and
 * three bytes are read in place: an overlong three-byte form or a surrogate
 * is three invalid bytes of class other, so the run of other goes on over
 * them as over a character (and any other run ends there) — the same end;
 * the table gives the surrogates (category Cs) class other already. */
static inline size_t run_end(const uint8_t *s, size_t n, size_t i, int k)
{
	while (i < n) {
		int c;
		if (three_byte_at(s + i, n - i, &c)) {
			if (c != k)
				break;
			i += 3;
			continue;
		}
		uint8_t b = s[i];
		if (b < 0x80) {
			if (ascii_class[b] != k)
				break;
			i++;
		} else if (b >= 0xC2 && b <= 0xDF && n - i >= 2 && is_cont(s[i + 1])) {
			do {    /* two-byte characters (Cyrillic, Greek, Arabic, Hebrew) */
				if (low_class[(b & 0x1F) << 6 | (s[i + 1] & 0x3F)] != k)
					return i;
				i += 2;
				if ((b & 0xFE) == 0xD0)    /* a Cyrillic letter, so k is letter */
					i = cyrillic_end(s, n, i);
			} while (n - i >= 2 && (b = s[i]) >= 0xC2 && b <= 0xDF && is_cont(s[i + 1]));
		} else {
			size_t len;
			if (char_at(s + i, n - i, &len) != k)
				break;
			i += len;
		}
	}
	return i;
}

size_t pretok_run_end(const uint8_t *s, size_t n, size_t i, int k)
{
	return run_end(s, n, i, k);
}

/* ---- the pattern ------------------------------------------------------- */

/* 's|'t|'re|'ve|'m|'ll|'d: the length matched at s, or 0. */
static size_t contraction(const uint8_t *s, size_t n)
{
	if (n < 2 || s[0] != '\'')
		return 0;
	switch (s[1]) {
	case 's': case 't': case 'm': case 'd':
		return 2;
	case 'r': case 'v':
		return n >= 3 && s[2] == 'e' ? 3 : 0;
	case 'l':
		return n >= 3 && s[2] == 'l' ? 3 : 0;
	}
	return 0;
}

/* The pattern at s, any text. Out of line: the wide path below falls back
 * to it only at white space, and inlined it made that path save and restore
 * registers at every piece. */
__attribute__((noinline)) static size_t next_general(const uint8_t *s, size_t n)
{
	size_t len, m = contraction(s, n);
	if (m)
		return m;
	int k = char_at(s, n, &len);
	if (s[0] == ' ' && n > 1) {
		size_t len1;
		int k1 = char_at(s + 1, n - 1, &len1);
		if (k1 != PRETOK_SPACE)    /* " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+" */
			return pretok_run_end(s, n, 1 + len1, k1);
	}
	if (k != PRETOK_SPACE)
		return pretok_run_end(s, n, len, k);
	/* white space: "\s+(?!\S)" then "\s+" */
	size_t last = 0, i = len;
	while (i < n) {
		size_t l;
		if (char_at(s + i, n - i, &l) != PRETOK_SPACE)
			break;
		last = i;
		i += l;
	}
	if (i == n || last == 0)
		return i;
	return last;
}

/* The pattern at s where the first character after an optional space (at
 * s[w], w is 0 or 1) is not ASCII: when it is not white space either, the
 * run of its class, the character decoded once and no contraction tested
 * (Indic and Arabic text, split into many short pieces, comes here). */
static inline size_t next_wide(const uint8_t *s, size_t n, size_t w)
{
	int k;
	size_t len = 3;
	if (s[w] < 0xE0 || !three_byte_at(s + w, n - w, &k))
		k = char_at(s + w, n - w, &len);
	if (k == PRETOK_SPACE)
		return next_general(s, n);
	return run_end(s, n, w + len, k);
}

size_t pretok_next_wide(const uint8_t *s, size_t n)
{
	return next_wide(s, n, 0);
}

size_t pretok_next_slow(const uint8_t *s, size_t n)
{
	size_t w = s[0] == ' ' && n > 1;
	return s[w] >= 0x80 ? next_wide(s, n, w) : next_general(s, n);
}

/* ---- safe cuts --------------------------------------------------------- */

/* The complete, valid character that ends at p (p > 0): its class and
 * first byte, or -1 when there is none (an invalid byte, p inside one). */
static int char_before(const uint8_t *s, size_t n, size_t p, uint8_t *first)
{
	size_t q = p - 1;
	while (q > 0 && p - q < 4 && is_cont(s[q]))
		q--;
	uint32_t cp;
	size_t len = utf8_decode(s + q, n - q, &cp);
	if (cp == UINT32_MAX || q + len != p)
		return -1;
	*first = s[q];
	return class_of(cp);
}

size_t pretok_safe_cut_below(const uint8_t *s, size_t n, size_t limit)
{
	if (limit >= n)
		limit = n - (n > 0);
	for (size_t p = limit; p > 0; p--) {
		if (is_cont(s[p]))
			continue;
		uint32_t cp;
		utf8_decode(s + p, n - p, &cp);
		if (cp == UINT32_MAX)
			continue;
		uint8_t first;
		int k0 = char_before(s, n, p, &first);
		if (k0 < 0 || k0 == PRETOK_SPACE || first == '\'')
			continue;
		if (k0 != class_of(cp))
			return p;
	}
	return 0;
}

size_t pretok_safe_cut(const uint8_t *s, size_t n)
{
	return n ? pretok_safe_cut_below(s, n, n - 1) : 0;
}
