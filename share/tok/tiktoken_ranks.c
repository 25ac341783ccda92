/*
 * tiktoken_ranks.c — merges from a .tiktoken rank table.
 *
 * A rank table lists tokens, not merges. The merge that makes token r is
 * found by BPE on r's bytes with only the tokens ranked below r: what is
 * left must be exactly two parts. The tokens sorted by bytes find repeats.
 */
#include "tok/tiktoken_ranks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/alphabet.h"
#include "tok/encode.h"
#include "util/error.h"
#include "util/io.h"

/* The tokens of a table as parsed: token i is bytes[i][0..len[i]), the
 * bytes of all in one arena. */
typedef struct {
	uint8_t **bytes;
	uint32_t *len;
	size_t n, cap;
	uint8_t *arena;
} token_list;

static void token_list_free(token_list *l)
{
	free(l->bytes);
	free(l->len);
	free(l->arena);
}

static int token_list_reserve(token_list *l)
{
	if (l->n < l->cap)
		return 0;
	size_t cap = l->cap ? 2 * l->cap : 1024;
	uint8_t **b = realloc(l->bytes, cap * sizeof *b);
	if (b)
		l->bytes = b;
	uint32_t *n = realloc(l->len, cap * sizeof *n);
	if (n)
		l->len = n;
	if (!b || !n)
		return lm_fail("out of memory");
	l->cap = cap;
	return 0;
}

static int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c ? c : (an > bn) - (an < bn);
}

/* Each base64 symbol's value plus one; 0 for any other byte. */
static const uint8_t b64_plus1[256] = {
	['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
	['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
	['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
	['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
	['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
	['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
	['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
	['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

static int b64_value(int c)
{
	return b64_plus1[c & 0xff] - 1;
}

/* Decode base64 s[0..n) into out; its length, or -1. Whole groups of four
 * symbols go three bytes at a time (a symbol out of the alphabet, '='
 * among them, wraps to over 63), the rest one symbol at a time. */
static long b64_decode(const char *s, size_t n, uint8_t *out)
{
	uint32_t acc = 0;
	int bits = 0;
	long k = 0;
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		uint32_t a = b64_plus1[(unsigned char)s[i]] - 1u, b = b64_plus1[(unsigned char)s[i + 1]] - 1u,
			 c = b64_plus1[(unsigned char)s[i + 2]] - 1u, d = b64_plus1[(unsigned char)s[i + 3]] - 1u;
		if ((a | b | c | d) > 63)
			break;
		uint32_t v = a << 18 | b << 12 | c << 6 | d;
		out[k++] = v >> 16 & 0xff;
		out[k++] = v >> 8 & 0xff;
		out[k++] = v & 0xff;
	}
	for (; i < n && s[i] != '='; i++) {
		int v = b64_value((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[k++] = acc >> bits & 0xff;
		}
	}
	for (; i < n; i++)
		if (s[i] != '=')
			return -1;
	return k;
}

enum { RANK_DIGITS = 18 };    /* a run this long cannot overflow 64 bits */

/* The rank after the space at s: strtoul's value and end, with plain
 * digits (every line of a sound table) read here, not by strtoul. */
static unsigned long parse_rank(const char *s, char **end)
{
	unsigned long v = 0;
	const char *p = s;
	while (*p >= '0' && *p <= '9' && p - s < RANK_DIGITS)
		v = 10 * v + (unsigned long)(*p++ - '0');
	if (p == s || (*p >= '0' && *p <= '9'))    /* a sign, a space, many digits */
		return strtoul(s, end, 10);
	*end = (char *)p;
	return v;
}

/* One line "BASE64 RANK" appended to l, which must be rank l->n: 0, or -1.
 * The line is in the text, which ends with a NUL. */
static int parse_line(const char *path, size_t line, const char *p, const char *eol, token_list *l,
		      uint8_t **at)
{
	const char *sp = memchr(p, ' ', eol - p);
	char *num_end;
	unsigned long rank = sp ? parse_rank(sp + 1, &num_end) : 0;
	if (!sp || num_end == sp + 1 || (num_end != eol && !(num_end + 1 == eol && *num_end == '\r')))
		return lm_fail("%s:%zu: not a line of a rank table (BASE64 RANK)", path, line);
	if (rank != l->n)
		return lm_fail("%s:%zu: rank %lu out of order (expected %zu)", path, line, rank, l->n);
	long bl = b64_decode(p, sp - p, *at);
	if (bl <= 0)
		return lm_fail("%s:%zu: not a line of a rank table (BASE64 RANK)", path, line);
	if (token_list_reserve(l) != 0)
		return -1;
	l->bytes[l->n] = *at;
	l->len[l->n++] = (uint32_t)bl;
	*at += bl;
	return 0;
}

/* Parse the table text[0..len) (NUL-terminated): ranks 0..n-1 in order.
 * A line's bytes are fewer than its base64, so the arena of len bytes
 * holds them all. */
static int parse(const char *path, const char *text, size_t len, token_list *l)
{
	memset(l, 0, sizeof *l);
	if (!(l->arena = malloc(len ? len : 1)))
		return lm_fail("out of memory");
	uint8_t *at = l->arena;
	size_t line = 0;
	for (const char *p = text, *end = text + len; p < end;) {
		const char *eol = memchr(p, '\n', end - p);
		if (!eol)
			eol = end;
		if (parse_line(path, ++line, p, eol, l, &at) != 0) {
			token_list_free(l);
			return -1;
		}
		p = eol + 1;
	}
	return 0;
}

/* A token repeated: the first of the repeats in the order of their bytes
 * (then of rank), each beside the lowest rank of its bytes; sought only
 * when the encoder's token table met some bytes twice. 0, or -1 and
 * lm_fail. */
static int check_repeats(const bpe_encoder *e, const char *origin, uint8_t *const *bytes,
			 const uint32_t *len, size_t n)
{
	size_t first = n;
	uint32_t first_of = 0;
	if (encoder_repeats(e) == 0)
		return 0;
	for (size_t t = 256; t < n; t++) {
		uint32_t id = encoder_token_id(e, bytes[t], len[t]);
		if (id == t)
			continue;
		if (first == n || cmp_bytes(bytes[t], len[t], bytes[first], len[first]) < 0) {
			first = t;
			first_of = id;
		}
	}
	if (first == n)
		return 0;
	return lm_fail("%s: token of rank %zu repeats rank %u", origin, first, first_of);
}

/* The merges: token t's two parts are what BPE with the tokens below t
 * leaves of its bytes, found by the encoder itself (tok/encode.h) over the
 * table's tokens (a vocabulary with no merges yet: the encoder reads only
 * the tokens' bytes), so the cost is O(m log m) a token of m bytes. The
 * encoder's token table also finds a token repeated. */
static int add_merges(bpe_merges *m, const char *origin, uint8_t *const *bytes, const uint32_t *len,
		      size_t n)
{
	bpe_merges vocab = {
		.n_merges = (uint32_t)(n - 256),
		.vocab_size = (uint32_t)n,
		.token_bytes = (uint8_t **)bytes,
		.token_len = (uint32_t *)len,
	};
	bpe_encoder *e = encoder_new(&vocab);
	encode_state *st = NULL;
	int rc = -1;
	if (!e || check_repeats(e, origin, bytes, len, n) != 0 || merges_init_bytes(m) != 0 ||
	    !(st = encode_state_new(e)))
		goto out;
	for (size_t t = 256; t < n; t++) {
		uint32_t a = 0, b = 0;
		int split = encoder_split(st, (uint32_t)t, &a, &b);
		if (split > 0)
			lm_fail("%s:%zu: token of rank %zu is not a merge of two lower ranks", origin, t + 1, t);
		if (split != 0 || merges_add_merge(m, a, b) != 0)
			goto out;
	}
	rc = 0;
out:
	encode_state_free(st);
	encoder_free(e);
	return rc;
}

/* The merges of n tokens in rank order: the first 256 the single bytes in
 * GPT-2's order, no token twice. The tokens stay the caller's. */
static int build(bpe_merges *m, const char *origin, uint8_t *const *bytes, const uint32_t *len, size_t n)
{
	memset(m, 0, sizeof *m);
	if (n < 256)
		return lm_fail("%s: %zu ranks, fewer than the 256 bytes", origin, n);
	for (int i = 0; i < 256; i++)
		if (len[i] != 1 || alphabet_byte_id(bytes[i][0]) != i)
			return lm_fail("%s:%d: ranks 0..255 are not the single bytes in GPT-2's order", origin, i + 1);
	if (add_merges(m, origin, bytes, len, n) != 0) {
		merges_free(m);
		return -1;
	}
	return 0;
}

int tiktoken_ranks_read(bpe_merges *m, const char *path)
{
	size_t len;
	token_list l;
	memset(m, 0, sizeof *m);
	char *text = read_whole_file(path, &len);
	if (!text)
		return -1;
	int rc = parse(path, text, len, &l);
	free(text);
	if (rc != 0)
		return -1;
	rc = build(m, path, l.bytes, l.len, l.n);
	token_list_free(&l);
	return rc;
}

int tiktoken_ranks_build(bpe_merges *m, const char *origin, uint8_t *const *bytes,
			 const uint32_t *len, size_t n)
{
	return build(m, origin, bytes, len, n);
}

bool tiktoken_ranks_sniff(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char line[512];
	bool yes = false;
	if (fgets(line, sizeof line, f)) {
		char *sp = strchr(line, ' ');
		if (sp && sp > line) {
			yes = true;
			for (char *p = line; p < sp; p++)
				if (b64_value((unsigned char)*p) < 0 && *p != '=')
					yes = false;
			for (char *p = sp + 1; *p && *p != '\n' && *p != '\r'; p++)
				if (*p < '0' || *p > '9')
					yes = false;
		}
	}
	fclose(f);
	return yes;
}
