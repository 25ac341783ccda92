/*
 * merges.c — read and write merges files and encoder.json (see merges.h).
 */
#include "tok/merges.h"
#include "tok/alphabet.h"
#include "util/error.h"
#include "util/io.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- growing the vocabulary ---------------------------------------------- */

static int reserve_tokens(bpe_merges *m, uint32_t need)
{
	/* token arrays and merges grow together, by doubling */
	static const uint32_t first = 512;
	uint32_t cap = 0;
	if (m->vocab_size)    /* the power of two (>= first) the arrays have */
		cap = m->vocab_size <= first ? first : 2u << (31 - __builtin_clz(m->vocab_size - 1));
	if (need <= cap)
		return 0;
	uint32_t ncap = cap ? cap : first;
	while (ncap < need)
		ncap *= 2;
	uint8_t **tb = realloc(m->token_bytes, ncap * sizeof *tb);
	if (tb)
		m->token_bytes = tb;
	uint32_t *tl = realloc(m->token_len, ncap * sizeof *tl);
	if (tl)
		m->token_len = tl;
	bpe_pair *mg = realloc(m->merges, ncap * sizeof *mg);
	if (mg)
		m->merges = mg;
	if (!tb || !tl || !mg)
		return lm_fail("out of memory");
	return 0;
}

/* Token bytes live in blocks (a list, newest first) so that 50000 tokens
 * cost a few allocations, not one each: no pointer into a block moves. */
typedef struct bytes_block {
	struct bytes_block *prev;
	size_t used, cap;
	uint8_t data[];
} bytes_block;

enum { BYTES_BLOCK = 1 << 16 };

static uint8_t *bytes_alloc(bpe_merges *m, size_t n)
{
	bytes_block *b = m->bytes_blocks;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > BYTES_BLOCK ? n : BYTES_BLOCK;
		bytes_block *nb = malloc(sizeof *nb + cap);
		if (!nb)
			return NULL;
		*nb = (bytes_block){b, 0, cap};
		m->bytes_blocks = b = nb;
	}
	uint8_t *t = b->data + b->used;
	b->used += n;
	return t;
}

static int push_token(bpe_merges *m, const uint8_t *a, uint32_t na, const uint8_t *b, uint32_t nb)
{
	if (reserve_tokens(m, m->vocab_size + 1) != 0)
		return -1;
	uint8_t *t = bytes_alloc(m, (size_t)na + nb + 1);
	if (!t)
		return lm_fail("out of memory");
	memcpy(t, a, na);
	if (nb)
		memcpy(t + na, b, nb);
	t[na + nb] = 0;
	m->token_bytes[m->vocab_size] = t;
	m->token_len[m->vocab_size] = na + nb;
	m->vocab_size++;
	return 0;
}

int merges_init_bytes(bpe_merges *m)
{
	memset(m, 0, sizeof *m);
	for (int id = 0; id < 256; id++) {
		uint8_t b = alphabet_id_byte(id);
		if (push_token(m, &b, 1, NULL, 0) != 0) {
			merges_free(m);
			return -1;
		}
	}
	return 0;
}

int merges_add_merge(bpe_merges *m, uint32_t left, uint32_t right)
{
	if (m->n_specials)
		return lm_fail("merge added after the special tokens");
	if (left >= m->vocab_size || right >= m->vocab_size)
		return lm_fail("merge of unknown token ids %u and %u", left, right);
	if (push_token(m, m->token_bytes[left], m->token_len[left],
		       m->token_bytes[right], m->token_len[right]) != 0)
		return -1;
	m->merges[m->n_merges++] = (bpe_pair){left, right};
	return 0;
}

int merges_add_specials(bpe_merges *m, const char *const *specials, int n)
{
	for (int i = 0; i < n; i++) {
		if (!specials[i][0])
			return lm_fail("empty special token");
		for (uint32_t j = 0; j < m->n_specials; j++)
			if (strcmp(m->specials[j], specials[i]) == 0)
				return lm_fail("duplicate special token '%s'", specials[i]);
		char **sp = realloc(m->specials, (m->n_specials + 1) * sizeof *sp);
		if (!sp)
			return lm_fail("out of memory");
		m->specials = sp;
		size_t len = strlen(specials[i]);
		if (len > UINT32_MAX / 2)
			return lm_fail("special token too long");
		if (push_token(m, (const uint8_t *)specials[i], (uint32_t)len, NULL, 0) != 0)
			return -1;
		sp[m->n_specials++] = (char *)m->token_bytes[m->vocab_size - 1];
	}
	return 0;
}

void merges_free(bpe_merges *m)
{
	for (bytes_block *b = m->bytes_blocks, *prev; b; b = prev) {
		prev = b->prev;
		free(b);
	}
	free(m->token_bytes);
	free(m->token_len);
	free(m->merges);
	free(m->specials);  /* the strings are token_bytes entries */
	memset(m, 0, sizeof *m);
}

/* ---- lookups while reading: token bytes -> id, merge pair -> seen --------- */

typedef struct {
	uint32_t *slot;   /* token id + 1, or 0 when empty */
	uint64_t *pair;   /* (left << 32 | right) + 1, or 0 when empty */
	size_t cap;       /* power of two, for both tables */
} read_index;

/* Eight bytes a step (the last word zero padded): FNV-1a a byte cost a
 * tenth of reading GPT-2's merges. */
static uint64_t hash_bytes(const uint8_t *s, size_t n)
{
	uint64_t h = n * 0x9e3779b97f4a7c15ull, w;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	for (w = 0; i < n; i++)
		w = w << 8 | s[i];
	h = (h ^ w) * 0xff51afd7ed558ccdull;
	return h ^ h >> 29;
}

static uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

/* Id of the token with bytes s[0..n) and hash h, or -1. */
static long index_find_h(const read_index *ix, const bpe_merges *m, const uint8_t *s, size_t n, uint64_t h)
{
	for (size_t i = h & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
		uint32_t id = ix->slot[i];
		if (!id)
			return -1;
		id--;
		if (m->token_len[id] == n && memcmp(m->token_bytes[id], s, n) == 0)
			return id;
	}
}

static long index_find(const read_index *ix, const bpe_merges *m, const uint8_t *s, size_t n)
{
	return index_find_h(ix, m, s, n, hash_bytes(s, n));
}

/* Token id, whose bytes hash to h, added (not there yet). */
static void index_add_token_h(read_index *ix, uint32_t id, uint64_t h)
{
	size_t i = h & (ix->cap - 1);
	while (ix->slot[i])
		i = (i + 1) & (ix->cap - 1);
	ix->slot[i] = id + 1;
}

static void index_add_token(read_index *ix, const bpe_merges *m, uint32_t id)
{
	index_add_token_h(ix, id, hash_bytes(m->token_bytes[id], m->token_len[id]));
}

/* Adds the pair; false if it was there already. */
static bool index_add_pair(read_index *ix, uint32_t left, uint32_t right)
{
	uint64_t key = ((uint64_t)left << 32 | right) + 1;
	for (size_t i = hash_u64(key) & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
		if (ix->pair[i] == key)
			return false;
		if (!ix->pair[i]) {
			ix->pair[i] = key;
			return true;
		}
	}
}

/* ---- reading ---------------------------------------------------------------- */

/* Token id of one alphabet-written part, or -1 with the error recorded. */
static long part_id(const read_index *ix, const bpe_merges *m, const char *s, size_t n, uint8_t *buf)
{
	size_t len;
	if (n == 0)
		return lm_fail("empty part");
	if (alphabet_decode(s, n, buf, &len) != 0)
		return -1;
	long id = index_find(ix, m, buf, len);
	if (id < 0)
		return lm_fail("'%.*s' is not a token made by an earlier line", (int)n, s);
	return id;
}

static int parse_line(read_index *ix, bpe_merges *m, const char *s, size_t n, uint8_t *buf)
{
	const char *sp = memchr(s, ' ', n);
	if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s)))
		return lm_fail("not a merge (two parts separated by one space)");
	long left = part_id(ix, m, s, (size_t)(sp - s), buf);
	if (left < 0)
		return -1;
	long right = part_id(ix, m, sp + 1, n - (size_t)(sp + 1 - s), buf);
	if (right < 0)
		return -1;
	if (!index_add_pair(ix, (uint32_t)left, (uint32_t)right))
		return lm_fail("duplicate merge '%.*s'", (int)n, s);
	size_t nl = m->token_len[left], nr = m->token_len[right];
	memcpy(buf, m->token_bytes[left], nl);
	memcpy(buf + nl, m->token_bytes[right], nr);
	uint64_t h = hash_bytes(buf, nl + nr);
	long same = index_find_h(ix, m, buf, nl + nr, h);
	if (same >= 0)
		return lm_fail("merge '%.*s' makes the bytes of token %ld again (one id a token)",
			       (int)n, s, same);
	if (merges_add_merge(m, (uint32_t)left, (uint32_t)right) != 0)
		return -1;
	index_add_token_h(ix, m->vocab_size - 1, h);
	return 0;
}

static size_t count_lines(const char *text, size_t len)
{
	size_t n = 1;
	for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))); p++)
		n++;
	return n;
}

static int parse_text(bpe_merges *m, const char *path, const char *text, size_t len)
{
	const char *end = text + len, *p = text;
	const char *nl = memchr(p, '\n', len);
	if (strncmp(text, "#version", len < 8 ? len : 8) != 0 || len < 8)
		return lm_fail("'%s' line 1: not a merges file (no \"#version\" line)", path);
	p = nl ? nl + 1 : end;

	read_index ix = {0};
	size_t lines = count_lines(text, len);
	for (ix.cap = 1024; ix.cap < 2 * (lines + 256); ix.cap *= 2)
		;
	ix.slot = calloc(ix.cap, sizeof *ix.slot);
	ix.pair = calloc(ix.cap, sizeof *ix.pair);
	uint8_t *buf = malloc(len + 1);
	int rc = 0;
	if (!ix.slot || !ix.pair || !buf)
		rc = lm_fail("out of memory reading '%s'", path);
	for (uint32_t id = 0; rc == 0 && id < 256; id++)
		index_add_token(&ix, m, id);
	for (size_t line = 2; rc == 0 && p < end; line++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t n = (size_t)(eol - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n && parse_line(&ix, m, p, n, buf) != 0)
			rc = lm_fail("'%s' line %zu: %s", path, line, lm_last_error());
		p = nl ? nl + 1 : end;
	}
	free(ix.slot);
	free(ix.pair);
	free(buf);
	return rc;
}

int merges_check_unique(const bpe_merges *m)
{
	read_index ix = {0};
	for (ix.cap = 1024; ix.cap < 2 * (size_t)m->vocab_size; ix.cap *= 2)
		;
	if (!(ix.slot = calloc(ix.cap, sizeof *ix.slot)))
		return lm_fail("out of memory");
	int rc = 0;
	for (uint32_t id = 0; rc == 0 && id < 256 + m->n_merges; id++) {
		long same = index_find(&ix, m, m->token_bytes[id], m->token_len[id]);
		if (same >= 0)
			rc = lm_fail("tokens %ld and %u have the same bytes", same, id);
		else
			index_add_token(&ix, m, id);
	}
	free(ix.slot);
	return rc;
}

int merges_read_text(bpe_merges *m, const char *name, const char *text, size_t len)
{
	if (merges_init_bytes(m) != 0)
		return -1;
	int rc = parse_text(m, name, text, len);
	if (rc != 0)
		merges_free(m);
	return rc;
}

int merges_read(bpe_merges *m, const char *path)
{
	memset(m, 0, sizeof *m);
	size_t len;
	char *text = read_whole_file(path, &len);
	if (!text)
		return -1;
	int rc = merges_read_text(m, path, text, len);
	free(text);
	return rc;
}

/* ---- writing ---------------------------------------------------------------- */

static int write_merges_to(const bpe_merges *m, FILE *fp)
{
	uint32_t longest = 1;
	for (uint32_t i = 0; i < m->vocab_size; i++)
		if (m->token_len[i] > longest)
			longest = m->token_len[i];
	char *a = malloc(2 * (size_t)longest + 1), *b = malloc(2 * (size_t)longest + 1);
	if (!a || !b) {
		free(a);
		free(b);
		return lm_fail("out of memory");
	}
	fputs("#version: 0.2\n", fp);
	for (uint32_t i = 0; i < m->n_merges; i++) {
		bpe_pair p = m->merges[i];
		alphabet_encode(m->token_bytes[p.left], m->token_len[p.left], a);
		alphabet_encode(m->token_bytes[p.right], m->token_len[p.right], b);
		fprintf(fp, "%s %s\n", a, b);
	}
	free(a);
	free(b);
	return 0;
}

/* One JSON string as Python's json.dumps (ensure_ascii) writes it. Invalid
 * UTF-8 (possible only in a special token) is written as U+FFFD. */
static void write_json_string(FILE *fp, const uint8_t *s, size_t n)
{
	fputc('"', fp);
	for (size_t i = 0; i < n;) {
		uint32_t c = s[i], need = 0;
		if (c >= 0xF0 && c < 0xF5)
			need = 3, c &= 0x07;
		else if (c >= 0xE0 && c < 0xF0)
			need = 2, c &= 0x0F;
		else if (c >= 0xC2 && c < 0xE0)
			need = 1, c &= 0x1F;
		else if (c >= 0x80)
			c = 0xFFFD;
		size_t j = 1;
		for (; j <= need && i + j < n && (s[i + j] & 0xC0) == 0x80; j++)
			c = (c << 6) | (s[i + j] & 0x3F);
		if (j <= need) {
			c = 0xFFFD;
			j = 1;
		}
		i += j;
		switch (c) {
		case '"': fputs("\\\"", fp); break;
		case '\\': fputs("\\\\", fp); break;
		case '\n': fputs("\\n", fp); break;
		case '\r': fputs("\\r", fp); break;
		case '\t': fputs("\\t", fp); break;
		case '\b': fputs("\\b", fp); break;
		case '\f': fputs("\\f", fp); break;
		default:
			if (c < 0x20 || (c >= 0x80 && c < 0x10000)) {
				fprintf(fp, "\\u%04x", (unsigned)c);
			} else if (c >= 0x10000) {
				c -= 0x10000;
				fprintf(fp, "\\u%04x\\u%04x", 0xD800 + (unsigned)(c >> 10),
					0xDC00 + (unsigned)(c & 0x3FF));
			} else {
				fputc((int)c, fp);
			}
		}
	}
	fputc('"', fp);
}

static int write_encoder_to(const bpe_merges *m, FILE *fp)
{
	uint32_t longest = 1;
	for (uint32_t i = 0; i < m->vocab_size; i++)
		if (m->token_len[i] > longest)
			longest = m->token_len[i];
	char *a = malloc(2 * (size_t)longest + 1);
	if (!a)
		return lm_fail("out of memory");
	uint32_t first_special = 256 + m->n_merges;
	fputc('{', fp);
	for (uint32_t id = 0; id < m->vocab_size; id++) {
		if (id)
			fputs(", ", fp);
		if (id < first_special) {
			size_t n = alphabet_encode(m->token_bytes[id], m->token_len[id], a);
			write_json_string(fp, (const uint8_t *)a, n);
		} else {
			write_json_string(fp, m->token_bytes[id], m->token_len[id]);
		}
		fprintf(fp, ": %u", id);
	}
	fputc('}', fp);
	free(a);
	return 0;
}

static int write_atomically(const bpe_merges *m, const char *path,
			    int (*write_to)(const bpe_merges *, FILE *))
{
	if (strcmp(path, "-") == 0) {
		if (write_to(m, stdout) != 0)
			return -1;
		if (fflush(stdout) != 0 || ferror(stdout))
			return lm_fail_errno("cannot write to stdout");
		return 0;
	}
	atomic_file af;
	if (atomic_file_open(&af, path, true) != 0)
		return -1;
	if (write_to(m, af.fp) != 0) {
		atomic_file_abort(&af);
		return -1;
	}
	return atomic_file_commit(&af);
}

int merges_write(const bpe_merges *m, const char *path)
{
	return write_atomically(m, path, write_merges_to);
}

char *merges_text(const bpe_merges *m)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	if (!fp) {
		lm_fail("out of memory");
		return NULL;
	}
	int rc = write_merges_to(m, fp);
	if (fclose(fp) != 0 && rc == 0)
		rc = lm_fail("out of memory");
	if (rc != 0) {
		free(text);
		return NULL;
	}
	return text;
}

int merges_write_encoder_json(const bpe_merges *m, const char *path)
{
	return write_atomically(m, path, write_encoder_to);
}
