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

/* Token arrays and merges grow together, at least doubling, from
 * FIRST_TOKENS; m->room is what they hold. */
enum { FIRST_TOKENS = 512 };

static int grow_tokens(bpe_merges *m, uint32_t need)
{
	uint32_t ncap = m->room > UINT32_MAX / 2 ? UINT32_MAX : m->room ? 2 * m->room : FIRST_TOKENS;
	if (ncap < need)
		ncap = need;
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
	m->room = ncap;
	return 0;
}

static inline int reserve_tokens(bpe_merges *m, uint32_t need)
{
	return need <= m->room ? 0 : grow_tokens(m, need);
}

/* Token bytes live in blocks (a list, newest first) so that 50000 tokens
 * cost a few allocations, not one each: no pointer into a block moves.
 * Each block has BYTES_SLACK bytes past its room, so that a word read or
 * written from inside a token stays in its block: a merge copies its parts
 * a word at a time (copy_words), a key reads its head as a word (make_key). */
typedef struct bytes_block {
	struct bytes_block *prev;
	size_t used, cap;
	uint8_t data[];
} bytes_block;

enum { BYTES_BLOCK = 1 << 16, BYTES_SLACK = 8 };

static inline uint8_t *bytes_alloc(bpe_merges *m, size_t n)
{
	bytes_block *b = m->bytes_blocks;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > BYTES_BLOCK ? n : BYTES_BLOCK;
		bytes_block *nb = malloc(sizeof *nb + cap + BYTES_SLACK);
		if (!nb)
			return NULL;
		*nb = (bytes_block){b, 0, cap};
		m->bytes_blocks = b = nb;
	}
	uint8_t *t = b->data + b->used;
	b->used += n;
	return t;
}

/* dst[0..n) = src[0..n), n > 0: words, which read and write up to 7 bytes
 * past n (in blocks, in the reader's texts; libc's memcpy call cost a tenth
 * of reading GPT-2's merges). */
static inline void copy_words(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i = 0;
	do {    /* n > 0 */
		uint64_t w;
		memcpy(&w, src + i, 8);
		memcpy(dst + i, &w, 8);
	} while ((i += 8) < n);
}

/* Room for a new token of n bytes at the end of the vocabulary, its bytes'
 * n + 1 (a NUL last) for the caller to write; NULL when out of memory. */
static inline uint8_t *push_token(bpe_merges *m, uint32_t n)
{
	uint8_t *t;
	if (reserve_tokens(m, m->vocab_size + 1) != 0)
		return NULL;
	if (!(t = bytes_alloc(m, (size_t)n + 1))) {
		lm_fail("out of memory");
		return NULL;
	}
	m->token_bytes[m->vocab_size] = t;
	m->token_len[m->vocab_size] = n;
	m->vocab_size++;
	return t;
}

int merges_init_bytes(bpe_merges *m)
{
	memset(m, 0, sizeof *m);
	for (int id = 0; id < 256; id++) {
		uint8_t *t = push_token(m, 1);
		if (!t) {
			merges_free(m);
			return -1;
		}
		t[0] = alphabet_id_byte(id);
		t[1] = 0;
	}
	return 0;
}

/* merges_add_merge, left and right known tokens and no special yet. */
static inline int add_merge(bpe_merges *m, uint32_t left, uint32_t right)
{
	uint32_t na = m->token_len[left], nb = m->token_len[right];
	uint8_t *t = push_token(m, na + nb);
	if (!t)
		return -1;
	copy_words(t, m->token_bytes[left], na);
	copy_words(t + na, m->token_bytes[right], nb);
	t[na + nb] = 0;
	m->merges[m->n_merges++] = (bpe_pair){left, right};
	return 0;
}

int merges_add_merge(bpe_merges *m, uint32_t left, uint32_t right)
{
	if (m->n_specials)
		return lm_fail("merge added after the special tokens");
	if (left >= m->vocab_size || right >= m->vocab_size)
		return lm_fail("merge of unknown token ids %u and %u", left, right);
	return add_merge(m, left, right);
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
		uint8_t *t = push_token(m, (uint32_t)len);
		if (!t)
			return -1;
		memcpy(t, specials[i], len + 1);
		sp[m->n_specials++] = (char *)t;
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

/* Off the path most lines take: inlined there, a function costs the hot
 * loop registers (spilled and reloaded a line) even when it is not called. */
#define COLD __attribute__((noinline))

/* ---- strings -> token ids -------------------------------------------------- */

/* A key of the table: its first 8 bytes inline (zero padded), so that most
 * lookups compare one word and touch no other memory. The head is read as
 * one word: every key has 7 readable bytes after it (the reader pads its
 * copy of the text and its texts with KEY_PAD bytes; token bytes have their
 * block's slack). */
typedef struct {
	const uint8_t *s;
	size_t n;         /* 0 only for an empty part, which finds no token */
	uint64_t head;    /* s[0..min(n, 8)), zero padded */
} str_key;

enum { KEY_PAD = 8 };

typedef struct {
	uint64_t head;
	uint32_t len;     /* 0: an empty slot */
	uint32_t id;
} str_slot;

typedef struct {
	str_slot *slot;
	uint64_t mask;
	int shift;                  /* the slot of hash h: h >> shift */
	const uint8_t *const *str;  /* [id]: the key of token id, when over 8 bytes */
} str_index;

static inline str_key make_key(const uint8_t *s, size_t n)
{
	uint64_t w;
	memcpy(&w, s, 8);
	return (str_key){s, n, n >= 8 ? w : w & ~(~0ull << 8 * n)};
}

/* Multiplicative, its high bits the slot: a key of up to 8 bytes costs one
 * add and one multiply; a longer one adds its words after the head, the
 * last one ending where the key ends. */
static uint64_t hash_words(uint64_t h, const uint8_t *s, size_t n)
{
	uint64_t w;
	for (size_t i = 8; i + 8 < n; i += 8) {
		memcpy(&w, s + i, 8);
		h = ((h ^ h >> 29) + w) * 0xff51afd7ed558ccdull;
	}
	memcpy(&w, s + n - 8, 8);
	return ((h ^ h >> 29) + w) * 0xff51afd7ed558ccdull;
}

static inline uint64_t key_hash(const str_key *k)
{
	uint64_t h = (k->head + k->n) * 0x9e3779b97f4a7c15ull;
	return k->n <= 8 ? h : hash_words(h, k->s, k->n);
}

/* Room for KEYS keys, the table at most half full. */
static int index_init(str_index *ix, size_t keys, const uint8_t *const *str)
{
	int bits = 10;
	while (((size_t)1 << bits) < 2 * keys)
		bits++;
	ix->slot = calloc((size_t)1 << bits, sizeof *ix->slot);
	ix->mask = ((uint64_t)1 << bits) - 1;
	ix->shift = 64 - bits;
	ix->str = str;
	return ix->slot ? 0 : lm_fail("out of memory");
}

/* The bytes of key s[0..n) after its head are those of token id's. (The
 * functions kept out of line take no key's address: a key whose address
 * escapes lives on the stack, not in registers.) */
static COLD bool same_rest(const str_index *ix, uint32_t id, const uint8_t *s, size_t n)
{
	return memcmp(ix->str[id] + 8, s + 8, n - 8) == 0;
}

static inline bool slot_holds(const str_index *ix, const str_slot *t, const str_key *k)
{
	return t->head == k->head && t->len == k->n && (k->n <= 8 || same_rest(ix, t->id, k->s, k->n));
}

/* index_find past the first slot i, which held another key. */
static COLD str_slot *index_probe(const str_index *ix, const uint8_t *s, size_t n, uint64_t head,
				     uint64_t i)
{
	str_key k = {s, n, head};
	for (;;) {
		i = (i + 1) & ix->mask;
		str_slot *t = &ix->slot[i];
		if (slot_holds(ix, t, &k) || !t->len)
			return t;
	}
}

/* The slot of key k: the token's (len set), or the empty one where
 * index_put puts it. */
static inline str_slot *index_find(const str_index *ix, const str_key *k)
{
	uint64_t i = key_hash(k) >> ix->shift;
	str_slot *t = &ix->slot[i];
	return slot_holds(ix, t, k) || !t->len ? t : index_probe(ix, k->s, k->n, k->head, i);
}

/* Key k of token id into its empty slot t (index_find's); when over 8
 * bytes, ix->str[id] must hold it from now on. */
static inline void index_put(str_slot *t, const str_key *k, uint32_t id)
{
	*t = (str_slot){k->head, (uint32_t)k->n, id};
}

int merges_check_unique(const bpe_merges *m)
{
	uint32_t n = 256 + m->n_merges;
	str_index ix;
	if (index_init(&ix, n, (const uint8_t *const *)m->token_bytes) != 0)
		return -1;
	int rc = 0;
	for (uint32_t id = 0; rc == 0 && id < n; id++) {
		str_key k = make_key(m->token_bytes[id], m->token_len[id]);
		str_slot *t = index_find(&ix, &k);
		if (t->len)
			rc = lm_fail("tokens %u and %u have the same bytes", t->id, id);
		else
			index_put(t, &k, id);
	}
	free(ix.slot);
	return rc;
}

/* ---- reading ---------------------------------------------------------------- */

/* A token is found by its text in the alphabet, not by its bytes: the
 * alphabet writes each byte as symbols of its own, so two tokens have the
 * same bytes exactly when they have the same text, and a merge's text is its
 * parts' texts joined. A part is looked up as it stands in the line, and
 * decoded only to say what is wrong with it. The reader works on a copy of
 * the text that ends in "\n" and KEY_PAD zero bytes: every line ends in a
 * "\n", and words are read past any part without a test. */
typedef struct {
	bpe_merges *m;
	str_index ix;           /* token text -> id */
	const uint8_t **text;   /* [256 + lines]: each token's text over 8 bytes */
	uint8_t *texts;         /* where those texts are, one after another */
	size_t used;
	uint8_t *copy;          /* the text, a "\n" last, then KEY_PAD zero bytes */
	const uint8_t *end;     /* after the copy's last "\n" */
	uint8_t *buf;           /* a part's bytes, when it is not a token */
} reader;

static const char NOT_A_MERGE[] = "not a merge (two parts separated by one space)";

/* Lines in text: a byte counter a round (at most 255 bytes, a multiple of
 * 64 so that no byte is left to a scalar tail) lets the compiler count a
 * vector of bytes a step. */
enum { COUNT_ROUND = 192 };

static size_t count_lines(const uint8_t *text, size_t len)
{
	size_t n = 1;
	for (size_t i = 0; i < len;) {
		size_t stop = len - i > COUNT_ROUND ? i + COUNT_ROUND : len;
		uint8_t round = 0;
		for (; i < stop; i++)
			round += text[i] == '\n';
		n += round;
	}
	return n;
}

/* The first ' ' or '\n' of eight bytes of text w, as bit 8i + 7 for byte i
 * (a zero byte of w ^ c flags c), or 0; bits above it may be set falsely. */
static inline uint64_t sep_bits(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t a = w ^ ones * ' ', b = w ^ ones * '\n';
	return (((a - ones) & ~a) | ((b - ones) & ~b)) & ones << 7;
}

/* The first ' ' or '\n' at or after p (there is one before end). */
static const uint8_t *find_sep(const uint8_t *p, const uint8_t *end)
{
	for (; end - p >= 8; p += 8) {
		uint64_t w, hit;
		memcpy(&w, p, 8);
		if ((hit = sep_bits(w)))
			return p + __builtin_ctzll(hit) / 8;
	}
	while (*p != ' ' && *p != '\n')
		p++;
	return p;
}

/* scan_part's way for a part of 8 bytes or more, or ending in another
 * byte below '!' ("\r", or one outside the alphabet). */
static COLD str_key scan_long(const uint8_t *p, const uint8_t *end)
{
	return make_key(p, (size_t)(find_sep(p, end) - p));
}

/* The key of the text from p to its first ' ' or '\n', which is then at
 * p + n. Most parts end in the word their head is, and the first byte
 * below '!' there is the separator: no symbol of the alphabet has one (the
 * test flags the lowest such byte truly). */
static inline str_key scan_part(const uint8_t *p, const uint8_t *end)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t w, below;
	memcpy(&w, p, 8);
	below = (w - ones * '!') & ~w & ones << 7;
	size_t n = below ? (size_t)__builtin_ctzll(below) / 8 : 8;
	if (n < 8 && (p[n] == ' ' || p[n] == '\n'))
		return (str_key){p, n, w & ~(~0ull << 8 * n)};
	return scan_long(p, end);
}

/* -1 when out of memory. */
static int reader_init(reader *r, bpe_merges *m, const uint8_t *text, size_t len)
{
	size_t tokens = 256 + count_lines(text, len);
	*r = (reader){.m = m};
	r->text = calloc(tokens, sizeof *r->text);
	r->texts = malloc(len + KEY_PAD);   /* a merge's text is shorter than its line */
	r->copy = malloc(len + 1 + KEY_PAD);
	r->buf = malloc(len + 1);
	if (index_init(&r->ix, tokens, r->text) != 0 || !r->text || !r->texts || !r->copy ||
	    !r->buf || reserve_tokens(m, (uint32_t)(tokens < UINT32_MAX ? tokens : UINT32_MAX)) != 0)
		return -1;
	memcpy(r->copy, text, len);
	size_t n = len;
	if (!len || text[len - 1] != '\n')
		r->copy[n++] = '\n';
	memset(r->copy + n, 0, len + 1 + KEY_PAD - n);
	r->end = r->copy + n;
	for (uint32_t id = 0; id < 256; id++) {
		uint8_t t[16] = {0};
		size_t nt = alphabet_encode(m->token_bytes[id], 1, (char *)t);
		str_key k = make_key(t, nt);
		index_put(index_find(&r->ix, &k), &k, id);
	}
	return 0;
}

static void reader_free(reader *r)
{
	free(r->ix.slot);
	free(r->text);
	free(r->texts);
	free(r->copy);
	free(r->buf);
}

/* The error of a part that is no token: empty, a symbol outside the
 * alphabet, or no earlier line made it. */
static COLD int part_error(const reader *r, const uint8_t *s, size_t n)
{
	size_t len;
	if (n == 0)
		return lm_fail("empty part");
	if (alphabet_decode((const char *)s, n, r->buf, &len) != 0)
		return -1;
	return lm_fail("'%.*s' is not a token made by an earlier line", (int)n, s);
}

/* Token id of one part, or -1 with the error recorded (no token's key is
 * empty, so an empty part finds none). */
static inline long part_id(const reader *r, const str_key *k)
{
	const str_slot *t = index_find(&r->ix, k);
	return t->len ? (long)t->id : part_error(r, k->s, k->n);
}

/* The key of a merge's text, its parts' texts joined: up to 8 bytes their
 * heads joined; a longer one written after the texts kept so far. */
static inline str_key join_key(reader *r, const str_key *a, const str_key *b)
{
	size_t n = a->n + b->n;
	if (n <= 8)
		return (str_key){NULL, n, a->head | b->head << 8 * a->n};
	uint8_t *s = r->texts + r->used;
	copy_words(s, a->s, a->n);
	copy_words(s + a->n, b->s, b->n);
	return make_key(s, n);
}

/* The key of token id, just made by a merge, kept in its slot t. */
static void keep_key(reader *r, str_slot *t, const str_key *k, uint32_t id)
{
	if (k->n > 8) {
		r->text[id] = k->s;
		r->used += k->n;
	}
	index_put(t, k, id);
}

/* The error of merge s[0..n) of (left, right), whose bytes token id has:
 * the same merge again, or the same bytes made another way. */
static COLD int same_bytes(const bpe_merges *m, const uint8_t *s, size_t n, uint32_t id,
			   uint32_t left, uint32_t right)
{
	if (id >= 256 && m->merges[id - 256].left == left && m->merges[id - 256].right == right)
		return lm_fail("duplicate merge '%.*s'", (int)n, s);
	return lm_fail("merge '%.*s' makes the bytes of token %u again (one id a token)",
		       (int)n, s, id);
}

/* The merge s[0..n), its parts' keys a and b. */
static int parse_merge(reader *r, const uint8_t *s, size_t n, const str_key *a, const str_key *b)
{
	long left = part_id(r, a);
	if (left < 0)
		return -1;
	long right = part_id(r, b);
	if (right < 0)
		return -1;
	str_key k = join_key(r, a, b);
	str_slot *t = index_find(&r->ix, &k);
	if (t->len)
		return same_bytes(r->m, s, n, t->id, (uint32_t)left, (uint32_t)right);
	if (add_merge(r->m, (uint32_t)left, (uint32_t)right) != 0)
		return -1;
	keep_key(r, t, &k, r->m->vocab_size - 1);
	return 0;
}

/* A line with no space, s up to its "\n" at eol: empty (after a "\r"), or
 * not a merge. Where the next line starts, or NULL with the error
 * recorded. */
static const uint8_t *parse_blank(const uint8_t *s, const uint8_t *eol)
{
	size_t n = (size_t)(eol - s);
	if (n && s[n - 1] == '\r')
		n--;
	if (n) {
		lm_fail(NOT_A_MERGE);
		return NULL;
	}
	return eol + 1;
}

/* The line from s: where the next one starts, or NULL with the error
 * recorded. */
static const uint8_t *parse_line(reader *r, const uint8_t *s)
{
	str_key a = scan_part(s, r->end);
	const uint8_t *sp = s + a.n;
	if (*sp != ' ')
		return parse_blank(s, sp);
	str_key b = scan_part(sp + 1, r->end);
	const uint8_t *eol = b.s + b.n;
	if (*eol == ' ') {
		lm_fail(NOT_A_MERGE);
		return NULL;
	}
	size_t n = (size_t)(eol - s);
	if (s[n - 1] == '\r') {   /* a space before it: it ends the second part */
		n--;
		b = make_key(b.s, b.n - 1);
	}
	if (parse_merge(r, s, n, &a, &b) != 0)
		return NULL;
	return eol + 1;
}

static int parse_text(bpe_merges *m, const char *path, const char *text, size_t len)
{
	if (strncmp(text, "#version", len < 8 ? len : 8) != 0 || len < 8)
		return lm_fail("'%s' line 1: not a merges file (no \"#version\" line)", path);
	reader r;
	if (reader_init(&r, m, (const uint8_t *)text, len) != 0) {
		reader_free(&r);
		return lm_fail("out of memory reading '%s'", path);
	}
	int rc = 0;
	const uint8_t *p = (const uint8_t *)memchr(r.copy, '\n', len + 1) + 1;
	for (size_t line = 2; rc == 0 && p < r.end; line++)
		if (!(p = parse_line(&r, p)))
			rc = lm_fail("'%s' line %zu: %s", path, line, lm_last_error());
	reader_free(&r);
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
