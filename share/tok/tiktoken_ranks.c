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

typedef struct {
	uint8_t *bytes;
	uint32_t len, rank;
} ranked;

static int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c ? c : (an > bn) - (an < bn);
}

static int cmp_ranked(const void *x, const void *y)
{
	const ranked *a = x, *b = y;
	return cmp_bytes(a->bytes, a->len, b->bytes, b->len);
}

static int b64_value(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* Decode base64 s[0..n) into out; its length, or -1. */
static long b64_decode(const char *s, size_t n, uint8_t *out)
{
	uint32_t acc = 0;
	int bits = 0;
	long k = 0;
	size_t i = 0;
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

static void ranked_free(ranked *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++)
		free(r[i].bytes);
	free(r);
}

/* One line "BASE64 RANK" into *e, which must be rank `want`: 0, or -1. */
static int parse_line(const char *path, size_t line, const char *p, const char *eol, size_t want,
		      ranked *e)
{
	const char *sp = memchr(p, ' ', eol - p);
	char *num_end;
	unsigned long rank = sp ? strtoul(sp + 1, &num_end, 10) : 0;
	if (!sp || num_end == sp + 1 || (num_end != eol && !(num_end + 1 == eol && *num_end == '\r')))
		return lm_fail("%s:%zu: not a line of a rank table (BASE64 RANK)", path, line);
	if (rank != want)
		return lm_fail("%s:%zu: rank %lu out of order (expected %zu)", path, line, rank, want);
	uint8_t *bytes = malloc(sp - p + 1);
	if (!bytes)
		return lm_fail("out of memory");
	long bl = b64_decode(p, sp - p, bytes);
	if (bl <= 0) {
		free(bytes);
		return lm_fail("%s:%zu: not a line of a rank table (BASE64 RANK)", path, line);
	}
	*e = (ranked){bytes, (uint32_t)bl, (uint32_t)want};
	return 0;
}

/* Parse the table: entries[rank] for ranks 0..n-1, each once. */
static int parse(const char *path, char *text, size_t len, ranked **out, size_t *out_n)
{
	size_t cap = 1024, n = 0, line = 0;
	ranked *r = malloc(cap * sizeof *r);
	if (!r)
		return lm_fail("out of memory");
	for (char *p = text, *end = text + len; p < end; n++) {
		char *eol = memchr(p, '\n', end - p);
		if (!eol)
			eol = end;
		if (n == cap) {
			ranked *g = realloc(r, (cap *= 2) * sizeof *r);
			if (!g) {
				ranked_free(r, n);
				return lm_fail("out of memory");
			}
			r = g;
		}
		if (parse_line(path, ++line, p, eol, n, &r[n]) != 0) {
			ranked_free(r, n);
			return -1;
		}
		p = eol + 1;
	}
	*out = r;
	*out_n = n;
	return 0;
}

/* The merges: token t's two parts are what BPE with the tokens below t
 * leaves of its bytes, found by the encoder itself (tok/encode.h) over the
 * table's tokens (a vocabulary with no merges yet: the encoder reads only
 * the tokens' bytes), so the cost is O(m log m) a token of m bytes. */
static int add_merges(bpe_merges *m, const char *path, const ranked *r, size_t n)
{
	bpe_merges vocab = {.n_merges = (uint32_t)(n - 256), .vocab_size = (uint32_t)n};
	vocab.token_bytes = malloc(n * sizeof *vocab.token_bytes);
	vocab.token_len = malloc(n * sizeof *vocab.token_len);
	bpe_encoder *e = NULL;
	encode_state *st = NULL;
	int rc = -1;
	if (!vocab.token_bytes || !vocab.token_len) {
		lm_fail("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		vocab.token_bytes[i] = r[i].bytes;
		vocab.token_len[i] = r[i].len;
	}
	if (!(e = encoder_new(&vocab)) || !(st = encode_state_new(e)))
		goto out;
	for (size_t t = 256; t < n; t++) {
		uint32_t a = 0, b = 0;
		int split = encoder_split(st, (uint32_t)t, &a, &b);
		if (split > 0)
			lm_fail("%s:%zu: token of rank %zu is not a merge of two lower ranks", path, t + 1, t);
		if (split != 0 || merges_add_merge(m, a, b) != 0)
			goto out;
	}
	rc = 0;
out:
	encode_state_free(st);
	encoder_free(e);
	free(vocab.token_bytes);
	free(vocab.token_len);
	return rc;
}

/* The merges of n tokens in rank order: the first 256 the single bytes in
 * GPT-2's order, no token twice. R stays the caller's. */
static int build(bpe_merges *m, const char *origin, const ranked *r, size_t n)
{
	ranked *sorted = NULL;
	int rc = -1;
	if (n < 256) {
		lm_fail("%s: %zu ranks, fewer than the 256 bytes", origin, n);
		goto out;
	}
	for (int i = 0; i < 256; i++)
		if (r[i].len != 1 || alphabet_byte_id(r[i].bytes[0]) != i) {
			lm_fail("%s:%d: ranks 0..255 are not the single bytes in GPT-2's order", origin, i + 1);
			goto out;
		}
	if (!(sorted = malloc(n * sizeof *sorted))) {
		lm_fail("out of memory");
		goto out;
	}
	memcpy(sorted, r, n * sizeof *r);
	qsort(sorted, n, sizeof *sorted, cmp_ranked);
	for (size_t i = 1; i < n; i++)
		if (cmp_ranked(&sorted[i - 1], &sorted[i]) == 0) {
			lm_fail("%s: token of rank %u repeats rank %u", origin, sorted[i].rank,
				sorted[i - 1].rank);
			goto out;
		}
	if (merges_init_bytes(m) != 0 || add_merges(m, origin, r, n) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		merges_free(m);
	free(sorted);
	return rc;
}

int tiktoken_ranks_read(bpe_merges *m, const char *path)
{
	size_t len, n = 0;
	ranked *r = NULL;
	memset(m, 0, sizeof *m);
	char *text = read_whole_file(path, &len);
	if (!text)
		return -1;
	int rc = parse(path, text, len, &r, &n);
	free(text);
	if (rc != 0)
		return -1;
	rc = build(m, path, r, n);
	ranked_free(r, n);
	return rc;
}

int tiktoken_ranks_build(bpe_merges *m, const char *origin, uint8_t *const *bytes,
			 const uint32_t *len, size_t n)
{
	memset(m, 0, sizeof *m);
	ranked *r = malloc((n ? n : 1) * sizeof *r);
	if (!r)
		return lm_fail("out of memory");
	for (size_t i = 0; i < n; i++)
		r[i] = (ranked){.bytes = bytes[i], .len = len[i], .rank = (uint32_t)i};
	int rc = build(m, origin, r, n);
	free(r);
	return rc;
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
