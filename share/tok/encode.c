/*
 * encode.c — the BPE encoder (see encode.h for what it promises).
 *
 * One hash table, built once: token bytes -> id, the lowest id where bytes
 * repeat. It serves the whole-piece lookup and ranks each merge as
 * tiktoken does, by the bytes the two parts make: merging s[a..b) and
 * s[b..c) ranks as the token of the bytes s[a..c), whatever the merges file
 * lists (so no table of (left, right) pairs, nor its building at start).
 * The two-byte tokens also sit in a 256 KiB table (byte_pair), where a
 * piece's first merges find their ranks; and every two bytes in another
 * (cut_id): whether some token holds them side by side, else no part BPE
 * makes spans them (a cut, where a piece's runs merge alone: most CJK and
 * emoji), with the id to write there.
 */
#include "tok/encode.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tok/pretok.h"
#include "tok/specials.h"
#include "util/error.h"

enum {
	SMALL_PIECE = 48,       /* pieces up to this many bytes merge by scanning */
	LEAN_PIECE = 1 << 20,   /* pieces longer than this merge in rounds (merge_lean) */
	CACHE_BITS = 14,        /* 13 missed often on CJK and prose; 15 slowed emoji */
	CACHE_SLOTS = 1 << CACHE_BITS,    /* direct-mapped cache of recent pieces */
	CACHE_KEY = 30,         /* longest piece cached */
	CACHE_IDS = 10,         /* most tokens of a cached piece */
};
#define NONE UINT32_MAX
#define JOINED (1u << 31)    /* in cut_id: some token holds the two bytes ... */
#define PAIR (1u << 30)      /* ... and they are one */

/* A token in the bytes -> id table: its first 8 bytes inline (zero padded),
 * so most lookups compare one word and touch no other memory. */
typedef struct {
	uint64_t w;
	uint32_t id;     /* NONE: empty */
	uint32_t len;
} tok_slot;

struct bpe_encoder {
	const bpe_merges *m;
	uint32_t n_tokens;       /* ordinary tokens: 256 + n_merges */
	uint32_t max_len;        /* longest ordinary token */
	uint32_t repeats;        /* ordinary tokens with the bytes of a lower id */
	uint32_t byte_id[256];
	uint64_t inner[256 * 256 / 64];   /* bit x << 8 | y: some token holds the bytes x y */
	uint32_t byte_pair[256 * 256];    /* [x << 8 | y]: the token of the bytes x y, or NONE */
	uint32_t cut_id[256 * 256];       /* [y << 8 | x]: see cut_after */
	uint64_t rare_tok[1 << 11];       /* bit h >> 47 of each rare token (h its hash) */
	uint64_t tok_mask;
	int tok_shift;           /* index = hash >> tok_shift */
	tok_slot *tok;           /* [tok_mask + 1] */
	specials *sp;
	uint32_t special_base;
	size_t lean_piece;       /* longer pieces merge in rounds */
};

/* An entry of the cache of recent pieces, one cache line: a hit on a piece
 * of 8 bytes or less reads that line alone (its key, in cache_key, is only
 * read past the head word). Entries of 96 bytes with the key straddled two
 * lines half the time, and the probes that miss the caches are a fifth of
 * CJK's time. */
typedef struct {
	alignas(64) uint64_t h;
	uint64_t w;              /* head_word of the key */
	uint8_t len, n_ids;
	uint32_t ids[CACHE_IDS];
} cache_entry;

typedef struct {
	uint8_t b[CACHE_KEY];
} cache_key;

struct encode_state {
	const bpe_encoder *e;
	cache_entry *cache;      /* [CACHE_SLOTS] */
	cache_key *key;          /* [CACHE_SLOTS]: cache[i]'s bytes */
	void *cache_mem;         /* cache, then key */
	uint32_t *next, *prev;   /* merge_large's scratch of cap */
	uint64_t *heap;          /* [2 * cap] */
	size_t cap;
	token_buf split;         /* encoder_split's parts */
	uint32_t *hist;          /* merge_lean: [n_tokens] pairs of each rank */
	uint8_t *joint;          /* merge_lean: [max_len + 8] two parts' bytes */
	uint64_t *band;          /* merge_lean: its heap ... */
	size_t band_cap;         /* ... and its room */
};

/* ---- hashing ----------------------------------------------------------- */

static inline uint64_t mix(uint64_t h)
{
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return h;
}

/* The first min(n, 8) bytes of s, zero padded; s[0..8) readable if wide. */
static inline uint64_t head_word(const uint8_t *s, size_t n, int wide)
{
	uint64_t w = 0;
	if (wide || n >= 8) {
		memcpy(&w, s, 8);
		if (n < 8)
			w &= (1ull << 8 * n) - 1;    /* one bzhi where there is BMI2 */
		return w;
	}
	/* two loads that overlap: the bytes they share are the same */
	if (n >= 4) {
		uint32_t lo, hi;
		memcpy(&lo, s, 4);
		memcpy(&hi, s + n - 4, 4);
		return lo | (uint64_t)hi << (8 * (n - 4));
	}
	if (n >= 2) {
		uint16_t lo, hi;
		memcpy(&lo, s, 2);
		memcpy(&hi, s + n - 2, 2);
		return lo | (uint64_t)hi << (8 * (n - 2));
	}
	return n ? s[0] : 0;
}

/* A piece's hash: multiplicative, its high bits the table index (so a short
 * piece costs one add and one multiply). w = head_word(s, n); s[0..n+8)
 * readable if wide. */
static inline uint64_t hash_piece(const uint8_t *s, size_t n, uint64_t w, int wide)
{
	uint64_t h = (w + n) * 0x9e3779b97f4a7c15ull;
	for (size_t i = 8; i < n; i += 8) {
		uint64_t v = head_word(s + i, n - i, wide);
		h = ((h ^ h >> 29) + v) * 0xff51afd7ed558ccdull;
	}
	return h;
}

static inline uint64_t hash_bytes(const uint8_t *s, size_t n)
{
	return hash_piece(s, n, head_word(s, n, 0), 0);
}

/* a[8..n) == b[8..n), n > 8: words, the last one overlapping (libc's
 * memcmp call cost a twentieth of the time on prose). */
static inline bool same_after_head(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t x, y;
	for (size_t i = 8; i + 8 < n; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return false;
	}
	memcpy(&x, a + n - 8, 8);
	memcpy(&y, b + n - 8, 8);
	return x == y;
}

static inline uint32_t token_lookup_w(const bpe_encoder *e, const uint8_t *s, size_t n, uint64_t w, uint64_t h)
{
	for (uint64_t i = h >> e->tok_shift;; i = (i + 1) & e->tok_mask) {
		const tok_slot *t = &e->tok[i];
		if (t->w == w && t->len == n &&
		    (n <= 8 || same_after_head(e->m->token_bytes[t->id], s, n)))
			return t->id;
		if (t->id == NONE)
			return NONE;
	}
}

static uint32_t token_lookup_h(const bpe_encoder *e, const uint8_t *s, size_t n, uint64_t h)
{
	return token_lookup_w(e, s, n, head_word(s, n, 0), h);
}

static uint64_t pow2_at_least(uint64_t n)
{
	uint64_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

/* ---- building ---------------------------------------------------------- */

static void mark_inner(bpe_encoder *e, uint8_t x, uint8_t y)
{
	unsigned xy = (unsigned)x << 8 | y;
	e->inner[xy / 64] |= 1ull << (xy % 64);
}

/* The inner bits from the merges: every two bytes side by side in a token
 * meet where some merge joins its left part's last byte to its right
 * part's first (by induction: a merged token is its two parts). */
static void inner_by_merges(bpe_encoder *e)
{
	const bpe_merges *m = e->m;
	for (uint32_t i = 0; i < m->n_merges; i++) {
		uint32_t a = m->merges[i].left, b = m->merges[i].right;
		mark_inner(e, m->token_bytes[a][m->token_len[a] - 1], m->token_bytes[b][0]);
	}
}

/* rare_tok: most pieces over 8 bytes are no token (CJK, long words, code),
 * nor most short ones with a byte >= 0x80 (a CJK or Indic character, an
 * emoji: GPT-2 has under a thousand such tokens), and 16 KiB that stay in
 * the nearest cache tell most of them so, not a probe of the token table
 * that misses the caches. The rare tokens are those two kinds. */
static inline bool maybe_rare_token(const bpe_encoder *e, uint64_t h)
{
	return e->rare_tok[h >> 53] >> (h >> 47 & 63) & 1;
}

static void mark_rare(bpe_encoder *e, uint64_t h)
{
	e->rare_tok[h >> 53] |= 1ull << (h >> 47 & 63);
}

/* Some byte of head word w is >= 0x80. */
static inline bool high_byte(uint64_t w)
{
	return w & 0x8080808080808080ull;
}

/* The piece s[0..n) (w its head word, h its hash) may be a token: it is
 * short and ASCII, else the filter of rare tokens may hold it. */
static inline bool maybe_token(const bpe_encoder *e, size_t n, uint64_t w, uint64_t h)
{
	return n <= 8 && !high_byte(w) ? true : n <= e->max_len && maybe_rare_token(e, h);
}

/* n bytes, uninitialised, on huge pages where the system lends them (freed
 * by free): the token table and the piece cache are probed at random, and
 * on pages of 4 KiB most of those probes miss the TLB as well. */
static void *huge_alloc(size_t n)
{
	enum { HUGE_PAGE = 2 << 20 };
	size_t size = (n + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
	void *p;
	if (posix_memalign(&p, HUGE_PAGE, size) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(p, size, MADV_HUGEPAGE);    /* advice: no huge pages is no error */
#endif
	return p;
}

static int build_tokens(bpe_encoder *e)
{
	const bpe_merges *m = e->m;
	if (m->merges)    /* else (a vocabulary alone) each token's bytes */
		inner_by_merges(e);
	e->tok_mask = pow2_at_least(2 * (uint64_t)e->n_tokens) - 1;
	e->tok_shift = 64 - __builtin_popcountll(e->tok_mask);
	if (!(e->tok = huge_alloc((e->tok_mask + 1) * sizeof *e->tok)))
		return lm_fail("out of memory");
	for (uint64_t i = 0; i <= e->tok_mask; i++)
		e->tok[i] = (tok_slot){0, NONE, UINT32_MAX};    /* len matches nothing */
	for (uint32_t id = 0; id < e->n_tokens; id++) {
		const uint8_t *s = m->token_bytes[id];
		size_t n = m->token_len[id];
		if (n > e->max_len)
			e->max_len = n;
		if (!m->merges)
			for (size_t i = 1; i < n; i++)
				mark_inner(e, s[i - 1], s[i]);
		uint64_t w = head_word(s, n, 0), h = hash_piece(s, n, w, 0);
		uint64_t i = h >> e->tok_shift;
		for (; e->tok[i].id != NONE; i = (i + 1) & e->tok_mask) {
			const tok_slot *t = &e->tok[i];
			if (t->w == w && t->len == n &&
			    (n <= 8 || same_after_head(m->token_bytes[t->id], s, n)))
				break;
		}
		if (e->tok[i].id != NONE) {
			e->repeats++;    /* the same bytes twice: the lower id ranks */
			continue;
		}
		e->tok[i] = (tok_slot){w, id, (uint32_t)n};
		if (n > 8 || high_byte(w))
			mark_rare(e, h);
	}
	for (int b = 0; b < 256; b++) {
		uint8_t c = b;
		e->byte_id[b] = token_lookup_h(e, &c, 1, hash_bytes(&c, 1));
		if (e->byte_id[b] == NONE)
			return lm_fail("the vocabulary lacks byte %d", b);
	}
	return 0;
}

/* byte_pair: the ranks of two bytes found in 256 KiB, not in the token
 * table (a piece's first pairs: the lookups of BPE that miss the caches
 * most). */
static void build_byte_pairs(bpe_encoder *e)
{
	const bpe_merges *m = e->m;
	memset(e->byte_pair, 0xff, sizeof e->byte_pair);
	for (uint32_t t = e->n_tokens; t-- > 256;)    /* the lowest id of the same bytes last */
		if (m->token_len[t] == 2)
			e->byte_pair[m->token_bytes[t][0] << 8 | m->token_bytes[t][1]] = t;
}

/* cut_id (see cut_after): the byte ids, then the flags and the pairs'
 * tokens at each inner bit (ids are far below PAIR). */
static void build_cut_ids(bpe_encoder *e)
{
	for (unsigned y = 0; y < 256; y++)
		memcpy(e->cut_id + (y << 8), e->byte_id, sizeof e->byte_id);
	for (unsigned w = 0; w < 256 * 256 / 64; w++)
		for (uint64_t bits = e->inner[w]; bits; bits &= bits - 1) {
			unsigned xy = w * 64 + (unsigned)__builtin_ctzll(bits), yx = (xy & 255) << 8 | xy >> 8;
			uint32_t ab = e->byte_pair[xy];
			e->cut_id[yx] = ab != NONE ? JOINED | PAIR | ab : JOINED | e->cut_id[yx];
		}
}

bpe_encoder *encoder_new(const bpe_merges *m)
{
	bpe_encoder *e = calloc(1, sizeof *e);
	if (!e) {
		lm_fail("out of memory");
		return NULL;
	}
	e->m = m;
	e->n_tokens = 256 + m->n_merges;
	e->special_base = e->n_tokens;
	e->lean_piece = LEAN_PIECE;
	if (build_tokens(e) != 0 ||
	    !(e->sp = specials_new((const char *const *)m->specials, (int)m->n_specials))) {
		encoder_free(e);
		return NULL;
	}
	build_byte_pairs(e);
	build_cut_ids(e);
	return e;
}

void encoder_free(bpe_encoder *e)
{
	if (!e)
		return;
	free(e->tok);
	specials_free(e->sp);
	free(e);
}

uint32_t encoder_special_id(const bpe_encoder *e, int i)
{
	return e->special_base + (uint32_t)i;
}

encode_state *encode_state_new(const bpe_encoder *e)
{
	encode_state *st = calloc(1, sizeof *st);
	size_t size = CACHE_SLOTS * (sizeof(cache_entry) + sizeof(cache_key));
	if (!st || !(st->cache_mem = huge_alloc(size))) {
		free(st);
		lm_fail("out of memory");
		return NULL;
	}
	memset(st->cache_mem, 0, size);
	st->cache = st->cache_mem;
	st->key = (cache_key *)(st->cache + CACHE_SLOTS);
	st->e = e;
	return st;
}

void encode_state_free(encode_state *st)
{
	if (!st)
		return;
	free(st->cache_mem);
	token_buf_free(&st->split);
	free(st->hist);
	free(st->joint);
	free(st->band);
	free(st->next);
	free(st->prev);
	free(st->heap);
	free(st);
}

/* ---- token buffers ----------------------------------------------------- */

static int token_buf_reserve(token_buf *b, size_t more)
{
	if (b->n + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < b->n + more)
		cap *= 2;
	uint32_t *ids = realloc(b->ids, cap * sizeof *ids);
	if (!ids)
		return lm_fail("out of memory");
	b->ids = ids;
	b->cap = cap;
	return 0;
}

int token_buf_push(token_buf *b, uint32_t id)
{
	if (b->n == b->cap && token_buf_reserve(b, 1) != 0)
		return -1;
	b->ids[b->n++] = id;
	return 0;
}

void token_buf_free(token_buf *b)
{
	free(b->ids);
	memset(b, 0, sizeof *b);
}

/* ---- merging ----------------------------------------------------------- */

static int scratch_reserve(encode_state *st, size_t n)
{
	if (n <= st->cap)
		return 0;
	size_t cap = st->cap ? st->cap : 256;
	while (cap < n)
		cap *= 2;
	uint32_t *next = realloc(st->next, cap * sizeof *next);
	if (next)
		st->next = next;
	uint32_t *prev = realloc(st->prev, cap * sizeof *prev);
	if (prev)
		st->prev = prev;
	uint64_t *heap = realloc(st->heap, 2 * cap * sizeof *heap);
	if (heap)
		st->heap = heap;
	if (!next || !prev || !heap)
		return lm_fail("out of memory");
	st->cap = cap;
	return 0;
}

/* The rank of merging the parts that make s[0..n), n >= 3: the token of
 * those bytes, NONE when they are none below limit (tiktoken's rank: no
 * table of pairs, whatever the parts). s[0..room) is readable. */
static inline uint32_t join_rank(const bpe_encoder *e, const uint8_t *s, size_t n, size_t room, uint32_t limit)
{
	uint32_t r = NONE;
	if (n <= e->max_len) {
		int wide = (n > 8 ? n : 0) + 8 <= room;    /* what hash_piece reads wide */
		uint64_t w = head_word(s, n, wide), h = hash_piece(s, n, w, wide);
		if (n <= 8 || maybe_rare_token(e, h))
			r = token_lookup_w(e, s, n, w, h);
	}
	return r < limit ? r : NONE;
}

/* The rank of merging the bytes x and y: from byte_pair. */
static inline uint32_t byte_rank(const bpe_encoder *e, uint8_t x, uint8_t y, uint32_t limit)
{
	uint32_t r = e->byte_pair[x << 8 | y];
	return r < limit ? r : NONE;
}

/* a[i..n) = a[i + 1..n + 1) for elements of size bytes, 16 bytes at a time
 * (a few vector moves, not a memmove call): a has room for 16 bytes past
 * a[n + 1]. */
static inline void drop_one(void *a, size_t i, size_t n, size_t size)
{
	uint8_t *p = a, v[16];
	for (size_t k = i * size; k < n * size; k += 16) {
		memcpy(v, p + k + size, 16);
		memcpy(p + k, v, 16);
	}
}

/* The token table's slots of every 3 to 8 bytes of s[0..n) fetched at once:
 * a short piece's merges wait on each other's ranks, so a slot that misses
 * the caches at each merge costs one miss after another (most of a short
 * piece's joins are that long: 13% of Python's CPU time was in them). */
static inline void prefetch_joins(const bpe_encoder *e, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i + 3 <= n; i++)
		for (size_t k = 3; k <= 8 && i + k <= n; k++) {
			uint64_t w = head_word(s + i, k, i + 8 <= n);
			__builtin_prefetch(&e->tok[hash_piece(s + i, k, w, 0) >> e->tok_shift]);
		}
}

/* Short piece s[0..n) into ids (room for n): find the lowest rank by
 * scanning; the parts' ids, ranks and starts shrink in place, on the
 * stack. */
static size_t merge_small(const bpe_encoder *e, const uint8_t *s, uint32_t *ids, size_t n, uint32_t limit)
{
	static const uint8_t iota[SMALL_PIECE + 16] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
		24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
	};
	uint32_t id[SMALL_PIECE + 8], rank[SMALL_PIECE + 8];
	uint8_t at[SMALL_PIECE + 16];    /* part i is s[at[i]..at[i + 1]) */
	size_t len = n;
	memcpy(at, iota, sizeof at);
	for (size_t i = 0; i < n; i++)
		id[i] = e->byte_id[s[i]];
	for (size_t i = 0; i + 1 < n; i++)
		rank[i] = byte_rank(e, s[i], s[i + 1], limit);
	prefetch_joins(e, s, n);
	while (n > 1) {
		size_t best = 0;
		for (size_t i = 1; i + 1 < n; i++)
			if (rank[i] < rank[best])
				best = i;
		if (rank[best] == NONE)
			break;
		id[best] = rank[best];
		drop_one(id, best + 1, n - 1, sizeof *id);
		drop_one(rank, best + 1, n - 2, sizeof *rank);
		drop_one(at, best + 1, n, 1);
		n--;
		if (best > 0) {
			size_t a = at[best - 1];
			rank[best - 1] = join_rank(e, s + a, at[best + 1] - a, len - a, limit);
		}
		if (best + 1 < n) {
			size_t a = at[best];
			rank[best] = join_rank(e, s + a, at[best + 2] - a, len - a, limit);
		}
	}
	memcpy(ids, id, n * sizeof *ids);
	return n;
}

/* Min-heap of (rank << 32 | position): lowest rank, then leftmost. */
static void heap_push(uint64_t *h, size_t *n, uint64_t v)
{
	size_t i = (*n)++;
	while (i > 0 && h[(i - 1) / 2] > v) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n)
{
	uint64_t top = h[0], v = h[--*n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (h[c] >= v)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
	return top;
}

/* Long piece s[0..n): parts in a linked list over the byte positions (part
 * i is s[i..next[i]), ids[i] its token; NONE inside a part), candidate
 * merges in a heap checked when popped: a merge of rank r at i stands when
 * i still starts a part and the part after it ends r's length after i (the
 * same bytes, so the same rank); else it is stale and skipped. */
static size_t merge_large(encode_state *st, const uint8_t *s, uint32_t *ids, size_t n, uint32_t limit)
{
	const bpe_encoder *e = st->e;
	const uint32_t *len = e->m->token_len;
	uint32_t *next = st->next, *prev = st->prev;
	uint64_t *heap = st->heap;
	size_t hn = 0;
	for (size_t i = 0; i < n; i++) {
		next[i] = i + 1;
		prev[i] = i > 0 ? i - 1 : NONE;
	}
	for (size_t i = 0; i + 1 < n; i++) {
		uint32_t r = byte_rank(e, s[i], s[i + 1], limit);
		if (r != NONE)
			heap_push(heap, &hn, (uint64_t)r << 32 | i);
	}
	while (hn > 0) {
		uint64_t top = heap_pop(heap, &hn);
		uint32_t r = top >> 32, i = (uint32_t)top, j = next[i];
		if (ids[i] == NONE || j >= n || next[j] - i != len[r])
			continue;
		ids[i] = r;
		ids[j] = NONE;
		uint32_t k = next[i] = next[j];
		if (k < n)
			prev[k] = i;
		if (prev[i] != NONE) {
			uint32_t h = prev[i], q = join_rank(e, s + h, k - h, n - h, limit);
			if (q != NONE)
				heap_push(heap, &hn, (uint64_t)q << 32 | h);
		}
		if (k < n) {
			uint32_t q = join_rank(e, s + i, next[k] - i, n - i, limit);
			if (q != NONE)
				heap_push(heap, &hn, (uint64_t)q << 32 | i);
		}
	}
	size_t w = 0;
	for (size_t i = 0; i < n; i = next[i])
		ids[w++] = ids[i];
	return w;
}

/* ---- giant pieces ------------------------------------------------------
 *
 * merge_large's list and heap cost some 20 bytes a byte of the piece (a
 * 200 MB run of one letter took 4.6 GB), so above lean_piece bytes the
 * merges go in rounds over the ids alone, compacted in place between rounds
 * (4 bytes a byte), with a heap of at most about n/8 entries. Each round
 * counts the pairs of each rank, then:
 *   - when the lowest rank lo present has more pairs than the heap may hold
 *     (a run of one letter), a sweep left to right merges every pair of rank
 *     lo, the leftmost first, and at once each pair of lower rank a merge
 *     makes beside the new part (only the two pairs next to the newest part
 *     can be such, every other ranking lo or above), the lower first, the
 *     left one on a tie;
 *   - else the heap takes every pair of the lowest ranks up to hi, as many
 *     as it may hold, and merges as merge_large does, pushing the new pairs
 *     of rank <= hi; merged-away places hold NONE until the compaction.
 * Either way every merge is the one-merge-at-a-time definition's: the
 * lowest rank present, then the leftmost (every pair of rank <= hi is in
 * the heap, every other ranks above). t1062 ties the rounds to the heap.
 *
 * The compaction loses where each part starts in the piece, so a pair ranks
 * by its two tokens' bytes, joined in a scratch of the longest token's
 * length (none longer is a token): at most max_len bytes copied a lookup
 * and twice the piece's bytes a round (each part is in two pairs), so a
 * round stays linear and the memory the ids'. A merge popped from the heap
 * still stands when its two parts are as long as it is (their start fixed,
 * the same bytes). */

enum { LEAN_HEAP_SHARE = 8 };   /* the heap holds up to n / 8 pairs */

/* The rank of merging parts a and b (token ids): by their bytes, joined. */
static uint32_t lean_rank(encode_state *st, uint32_t a, uint32_t b, uint32_t limit)
{
	const bpe_encoder *e = st->e;
	const bpe_merges *m = e->m;
	size_t la = m->token_len[a], n = la + m->token_len[b];
	if (n > e->max_len)
		return NONE;
	if (n == 2)
		return byte_rank(e, m->token_bytes[a][0], m->token_bytes[b][0], limit);
	memcpy(st->joint, m->token_bytes[a], la);
	memcpy(st->joint + la, m->token_bytes[b], n - la);
	return join_rank(e, st->joint, n, e->max_len + 8, limit);
}

/* The next part after i (n at the end), and the one before i (i > 0), over
 * the NONE a round's merges leave. */
static inline size_t part_after(const uint32_t *ids, size_t n, size_t i)
{
	do
		i++;
	while (i < n && ids[i] == NONE);
	return i;
}

static inline size_t part_before(const uint32_t *ids, size_t i)
{
	do
		i--;
	while (ids[i] == NONE);
	return i;
}

/* One sweep merging every pair of rank lo (see above); the parts left. */
static size_t lean_sweep(encode_state *st, uint32_t *ids, size_t n, uint32_t lo, uint32_t limit)
{
	size_t w = 1, i = 1;    /* ids[0..w): settled this round, ids[i..n): not reached */
	while (i < n) {
		uint32_t r = lean_rank(st, ids[w - 1], ids[i], limit);
		if (r > lo) {
			ids[w++] = ids[i++];
			continue;
		}
		ids[w - 1] = r;
		i++;
		for (;;) {
			uint32_t a = w >= 2 ? lean_rank(st, ids[w - 2], ids[w - 1], limit) : NONE;
			uint32_t b = i < n ? lean_rank(st, ids[w - 1], ids[i], limit) : NONE;
			if (a <= lo && a <= b) {
				ids[w - 2] = a;
				w--;
			} else if (b <= lo) {
				ids[w - 1] = b;
				i++;
			} else {
				break;
			}
		}
	}
	return w;
}

static int band_push(encode_state *st, size_t *hn, uint64_t v)
{
	if (*hn == st->band_cap) {
		size_t cap = st->band_cap ? 2 * st->band_cap : 1024;
		uint64_t *h = realloc(st->band, cap * sizeof *h);
		if (!h)
			return lm_fail("out of memory");
		st->band = h;
		st->band_cap = cap;
	}
	heap_push(st->band, hn, v);
	return 0;
}

/* Merge every pair of rank <= hi through the heap (see above), then compact:
 * the parts left, or -1 on out of memory. */
static long lean_band(encode_state *st, uint32_t *ids, size_t n, uint32_t hi, uint32_t limit)
{
	const uint32_t *len = st->e->m->token_len;
	size_t hn = 0;
	for (size_t i = 0; i + 1 < n; i++) {
		uint32_t r = lean_rank(st, ids[i], ids[i + 1], limit);
		if (r <= hi && band_push(st, &hn, (uint64_t)r << 32 | i) != 0)
			return -1;
	}
	while (hn > 0) {
		uint64_t top = heap_pop(st->band, &hn);
		uint32_t r = top >> 32;
		size_t i = (uint32_t)top, j;
		if (ids[i] == NONE || (j = part_after(ids, n, i)) >= n ||
		    len[ids[i]] + len[ids[j]] != len[r])
			continue;    /* stale */
		ids[i] = r;
		ids[j] = NONE;
		if (i > 0) {
			size_t h = part_before(ids, i);
			uint32_t q = lean_rank(st, ids[h], r, limit);
			if (q <= hi && band_push(st, &hn, (uint64_t)q << 32 | h) != 0)
				return -1;
		}
		size_t k = part_after(ids, n, i);
		if (k < n) {
			uint32_t q = lean_rank(st, r, ids[k], limit);
			if (q <= hi && band_push(st, &hn, (uint64_t)q << 32 | i) != 0)
				return -1;
		}
	}
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		if (ids[i] != NONE)
			ids[w++] = ids[i];
	return (long)w;
}

/* The parts left of ids[0..n), or -1 on out of memory. */
static long merge_lean(encode_state *st, uint32_t *ids, size_t n, uint32_t limit)
{
	const bpe_encoder *e = st->e;
	if (!st->hist && !(st->hist = calloc(e->n_tokens, sizeof *st->hist)))
		return lm_fail("out of memory");
	if (!st->joint && !(st->joint = calloc(e->max_len + 8, 1)))
		return lm_fail("out of memory");
	uint32_t *hist = st->hist;
	size_t budget = n / LEAN_HEAP_SHARE > 1024 ? n / LEAN_HEAP_SHARE : 1024;
	for (;;) {
		uint32_t lo = NONE, hi;
		for (size_t i = 0; i + 1 < n; i++) {
			uint32_t r = lean_rank(st, ids[i], ids[i + 1], limit);
			if (r != NONE) {
				hist[r]++;
				if (r < lo)
					lo = r;
			}
		}
		if (lo == NONE)
			return (long)n;
		bool sweep = hist[lo] > budget;
		size_t in_band = hist[lo];
		for (hi = lo; hi + 1 < e->n_tokens && in_band + hist[hi + 1] <= budget; hi++)
			in_band += hist[hi + 1];
		memset(hist + lo, 0, (e->n_tokens - lo) * sizeof *hist);
		if (sweep) {
			n = lean_sweep(st, ids, n, lo, limit);
		} else {
			long k = lean_band(st, ids, n, hi, limit);
			if (k < 0)
				return -1;
			n = (size_t)k;
		}
	}
}

/* BPE of s[0..n) with the tokens below limit into ids (room for n): the
 * count of parts left. -1 on out of memory. */
static long bpe_merge(encode_state *st, const uint8_t *s, size_t n, uint32_t limit, uint32_t *ids)
{
	const bpe_encoder *e = st->e;
	if (n <= SMALL_PIECE && n <= e->lean_piece)
		return (long)merge_small(e, s, ids, n, limit);
	for (size_t i = 0; i < n; i++)
		ids[i] = e->byte_id[s[i]];
	if (n > e->lean_piece)
		return merge_lean(st, ids, n, limit);
	if (scratch_reserve(st, n) != 0)
		return -1;
	return (long)merge_large(st, s, ids, n, limit);
}

static int bpe_piece(encode_state *st, const uint8_t *s, size_t n, token_buf *out)
{
	if (token_buf_reserve(out, n) != 0)
		return -1;
	long k = bpe_merge(st, s, n, NONE, out->ids + out->n);
	if (k < 0)
		return -1;
	out->n += (size_t)k;
	return 0;
}

/* ---- encoding ---------------------------------------------------------- */

/* A cut: a place between two bytes x y that no token holds, so no part
 * BPE makes ever spans it, and the two sides merge alone to the same ids.
 * Text that GPT-2's merges know little of (CJK, emoji, runs of spaces)
 * falls into short, recurring runs between cuts: one character, one emoji,
 * which the cache then holds; or single bytes and pairs (an ideograph that
 * no token holds), written in place.
 *
 * cut_id answers "is there a cut after s[0]" in one load, indexed by the
 * two bytes s[0] s[1] as one little-endian 16-bit word, with the first id
 * of a run of one or two bytes from s[0]: below JOINED (a cut), the id of
 * s[0] alone; else JOINED | PAIR | the token of s[0] s[1], or JOINED | the
 * id of s[0] when the two are no token. */
static inline uint32_t cut_after(const bpe_encoder *e, const uint8_t *s)
{
	return e->cut_id[(unsigned)s[1] << 8 | s[0]];
}

/* The first cut of s[0..n) after i (n if none). */
static inline size_t next_cut(const bpe_encoder *e, const uint8_t *s, size_t n, size_t i)
{
	for (i++; i < n; i++)
		if (cut_after(e, s + i - 1) < JOINED)
			break;
	return i;
}

static int bpe_runs(encode_state *st, const uint8_t *s, size_t n, token_buf *out);

/* BPE of s[0..n) merged (by runs when it is a whole piece), then kept in
 * the cache entry c when there is one and the ids fit. Out of line: the
 * callers inline only the cache's probe. */
__attribute__((noinline)) static int bpe_to_cache(encode_state *st, const uint8_t *s, size_t n, uint64_t w,
						  uint64_t h, bool whole, cache_entry *c, token_buf *out)
{
	size_t start = out->n;
	if ((whole ? bpe_runs(st, s, n, out) : bpe_piece(st, s, n, out)) != 0)
		return -1;
	if (c && out->n - start <= CACHE_IDS) {
		c->h = h;
		c->w = w;
		c->len = n;
		c->n_ids = out->n - start;
		memcpy(st->key[c - st->cache].b, s, n);
		memcpy(c->ids, out->ids + start, c->n_ids * sizeof *c->ids);
	}
	return 0;
}

/* BPE of s[0..n) (w its head word, h its hash) by the cache of recent
 * pieces, else by bpe_to_cache; out has room for CACHE_IDS more ids (a hit
 * copies all the entry's slots: the callers make the room once). */
static inline int cached_bpe(encode_state *st, const uint8_t *s, size_t n, uint64_t w, uint64_t h, bool whole,
			     token_buf *out)
{
	cache_entry *c = NULL;
	if (n <= CACHE_KEY) {
		/* bits 44 on, not the token table's (the top ones): on huge
		 * pages a piece's entry and its token's slot would share an
		 * offset, so a set of the L2 cache */
		c = &st->cache[h >> 44 & (CACHE_SLOTS - 1)];
		if (c->h == h && c->w == w && c->len == n && (n <= 8 || same_after_head(st->key[c - st->cache].b, s, n))) {
			/* all CACHE_IDS copied: a fixed size is a few vector moves,
			 * not a memcpy call (a twentieth of the time on CJK) */
			memcpy(out->ids + out->n, c->ids, sizeof c->ids);
			out->n += c->n_ids;
			return 0;
		}
	}
	return bpe_to_cache(st, s, n, w, h, whole, c, out);
}

/* The BPE of a run of three bytes or more between cuts, through the cache. */
static int run_ids(encode_state *st, const uint8_t *s, size_t n, token_buf *out)
{
	uint64_t w = head_word(s, n, 0);
	return cached_bpe(st, s, n, w, hash_piece(s, n, w, 0), false, out);
}

/* The ids of two bytes (x cut_after the first, y the id of the second) at
 * q: their token when they are one (then they are a run of two), else the
 * two bytes' ids. Where the next id goes. */
static inline uint32_t *put_two(uint32_t x, uint32_t y, uint32_t *q)
{
	q[0] = x & ~(JOINED | PAIR);
	q[1] = y;
	return q + 2 - !!(x & PAIR);
}

/* BPE of a whole piece: of each run between its cuts. Runs of one byte (a
 * CJK character whose bytes no token joins) and of two (merged when they
 * are a token) are written in place, found by cut_after alone, with room
 * for n ids (a run has no more ids than bytes) and a cache hit's copy made
 * once, not pushed one by one. */
static int bpe_runs(encode_state *st, const uint8_t *s, size_t n, token_buf *out)
{
	const bpe_encoder *e = st->e;
	if (next_cut(e, s, n, 0) == n)
		return bpe_piece(st, s, n, out);
	if (token_buf_reserve(out, n + CACHE_IDS) != 0)
		return -1;
	uint32_t *q = out->ids + out->n;
	const uint8_t *p = s, *end = s + n - 2;    /* a run starts at p; p[2] is there to read */
	while (p < end) {
		uint32_t x;
		while ((x = cut_after(e, p)) < JOINED) {    /* runs of one byte */
			*q++ = x;
			if (++p == end)
				goto tail;
		}
		uint32_t y = cut_after(e, p + 1);
		if (y < JOINED) {    /* a run of two */
			q = put_two(x, y, q);
			p += 2;
			continue;
		}
		size_t b = next_cut(e, s, n, p - s + 2);
		out->n = q - out->ids;
		if (run_ids(st, p, s + b - p, out) != 0)
			return -1;
		q = out->ids + out->n;
		p = s + b;
	}
tail:
	if (p == end)    /* two bytes left: one run or two, as cut_after says */
		q = put_two(cut_after(e, p), e->byte_id[p[1]], q);
	else if (p == end + 1)
		*q++ = e->byte_id[p[0]];
	out->n = q - out->ids;
	return 0;
}

/* A piece (w its head word, h its hash): the whole piece when it is a
 * token, else its BPE (by the cache, else run by run). */
static inline int piece_hashed(encode_state *st, const uint8_t *s, size_t n, uint64_t w, uint64_t h,
			       token_buf *out)
{
	const bpe_encoder *e = st->e;
	if (maybe_token(e, n, w, h)) {
		uint32_t id = token_lookup_w(e, s, n, w, h);
		if (id != NONE)
			return token_buf_push(out, id);
	}
	return cached_bpe(st, s, n, w, h, true, out);
}

int encoder_encode_piece(encode_state *st, const uint8_t *s, size_t n, token_buf *out)
{
	if (n == 0)
		return 0;
	if (token_buf_reserve(out, n + CACHE_IDS) != 0)
		return -1;
	uint64_t w = head_word(s, n, 0);
	return piece_hashed(st, s, n, w, hash_piece(s, n, w, 0), out);
}

/* The ordinary text s[0..n); out has room for n + CACHE_IDS more ids (a
 * piece is at least one byte a token; a cache hit copies CACHE_IDS). The
 * hot loop: a short piece that is one token costs a pre-token scan, one
 * word load, a multiply and (mostly) one probe. */
static int encode_ordinary(encode_state *st, const uint8_t *s, size_t n, token_buf *out)
{
	const bpe_encoder *e = st->e;
	uint32_t *ids = out->ids;
	size_t k = out->n, i = 0;
	while (i < n) {
		size_t len = pretok_next(s + i, n - i);
		if (len <= 8 && i + 8 <= n) {
			uint64_t w = head_word(s + i, len, 1), h = hash_piece(s + i, len, w, 1);
			uint32_t id = !high_byte(w) || maybe_rare_token(e, h) ? token_lookup_w(e, s + i, len, w, h) : NONE;
			if (id != NONE) {
				ids[k++] = id;
				i += len;
				continue;
			}
			/* not a token: straight to its BPE, not a second lookup */
			out->n = k;
			if (cached_bpe(st, s + i, len, w, h, true, out) != 0)
				return -1;
		} else {
			out->n = k;
			uint64_t w = head_word(s + i, len, 0);
			int wide = i + len + 8 <= n;
			if (piece_hashed(st, s + i, len, w, hash_piece(s + i, len, w, wide), out) != 0)
				return -1;
		}
		ids = out->ids;
		k = out->n;
		i += len;
	}
	out->n = k;
	return 0;
}

int encoder_encode(encode_state *st, const uint8_t *s, size_t n, token_buf *out)
{
	const bpe_encoder *e = st->e;
	if (token_buf_reserve(out, n + CACHE_IDS) != 0)
		return -1;
	while (n > 0) {
		int which;
		size_t len, at = specials_find(e->sp, s, n, &which, &len);
		if (encode_ordinary(st, s, at, out) != 0)
			return -1;
		if (at == n)
			break;
		out->ids[out->n++] = encoder_special_id(e, which);
		s += at + len;
		n -= at + len;
	}
	return 0;
}

uint32_t encoder_repeats(const bpe_encoder *e)
{
	return e->repeats;
}

uint32_t encoder_token_id(const bpe_encoder *e, const uint8_t *s, size_t n)
{
	return n <= e->max_len ? token_lookup_h(e, s, n, hash_bytes(s, n)) : NONE;
}

/* encoder_split's BPE of a short token s[0..n) (n <= SMALL_PIECE) with the
 * tokens below t: merge_small's scan less what only encoding needs (the
 * prefetch of prefetch_joins: some 15% of the instructions of deriving a
 * rank table's merges), its bytes copied where each lookup reads a whole
 * word, its parts kept where they start (no shifting: a part merged away
 * ranks NONE), and no rank sought once two parts are left but theirs:
 * the token's own bytes, which rank t (then they stay two) unless a lower
 * id has them. 0 with the two parts, 1 when not two are left. */
static int split_small(const bpe_encoder *e, const uint8_t *s, size_t n, uint32_t t, uint32_t *left,
		       uint32_t *right)
{
	/* the part at i: b[i..end[i]), token id[i], the part before it at
	 * prev[i]; rank[i] the rank of joining it to the next (NONE at a
	 * place no part starts) */
	uint8_t b[SMALL_PIECE + 8] = {0}, end[SMALL_PIECE], prev[SMALL_PIECE];
	uint32_t id[SMALL_PIECE], rank[SMALL_PIECE];
	if (n < 2)
		return 1;
	for (size_t i = 0; i < n; i++) {
		b[i] = s[i];
		end[i] = (uint8_t)(i + 1);
		prev[i] = (uint8_t)(i - 1);
		id[i] = e->byte_id[s[i]];
	}
	for (size_t i = 0; i + 1 < n; i++)
		rank[i] = byte_rank(e, b[i], b[i + 1], t);
	rank[n - 1] = NONE;
	for (size_t k = n; k > 2; k--) {
		size_t best = 0;
		uint32_t lo = rank[0];
		for (size_t i = end[0]; end[i] < n; i = end[i])
			if (rank[i] < lo) {
				lo = rank[i];
				best = i;
			}
		if (lo == NONE)
			return 1;
		size_t j = end[best], c = end[j];
		id[best] = rank[best];
		rank[j] = NONE;
		end[best] = (uint8_t)c;
		if (c < n)
			prev[c] = (uint8_t)best;
		if (k == 3)
			break;
		if (best > 0) {
			size_t a = prev[best];
			rank[a] = join_rank(e, b + a, c - a, sizeof b - a, t);
		}
		rank[best] = c < n ? join_rank(e, b + best, end[c] - best, sizeof b - best, t) : NONE;
	}
	if ((n == 2 ? byte_rank(e, b[0], b[1], t) : join_rank(e, b, n, sizeof b, t)) != NONE)
		return 1;
	*left = id[0];
	*right = id[end[0]];
	return 0;
}

int encoder_split(encode_state *st, uint32_t t, uint32_t *left, uint32_t *right)
{
	const bpe_merges *m = st->e->m;
	if (m->token_len[t] <= SMALL_PIECE)
		return split_small(st->e, m->token_bytes[t], m->token_len[t], t, left, right);
	token_buf *b = &st->split;
	b->n = 0;
	if (token_buf_reserve(b, m->token_len[t]) != 0)
		return -1;
	long k = bpe_merge(st, m->token_bytes[t], m->token_len[t], t, b->ids);
	if (k < 0)
		return -1;
	if (k != 2)
		return 1;
	*left = b->ids[0];
	*right = b->ids[1];
	return 0;
}

void encoder_set_lean_piece(bpe_encoder *e, size_t n)
{
	e->lean_piece = n;
}

size_t encoder_safe_cut(const bpe_encoder *e, const uint8_t *s, size_t n)
{
	size_t keep = specials_max_len(e->sp), cut = 0, seg = 0;
	size_t limit = n > keep ? n - keep : 0;   /* a special starting before it ends by n */
	for (;;) {
		int which;
		size_t len, at = specials_find(e->sp, s + seg, n - seg, &which, &len);
		if (seg + at >= limit || seg + at == n)
			break;
		seg += at + len;
		cut = seg;
	}
	if (limit > seg) {
		size_t p = pretok_safe_cut_below(s + seg, n - seg, limit - seg);
		if (p > 0)
			cut = seg + p;
	}
	return cut;
}

/* ---- decoding ---------------------------------------------------------- */

int encoder_decode(const bpe_encoder *e, const uint32_t *ids, size_t n,
		   uint8_t **out, size_t *len, size_t *cap)
{
	const bpe_merges *m = e->m;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] >= m->vocab_size)
			return lm_fail("token id %u at position %zu is beyond the vocabulary of %u",
				       ids[i], i, m->vocab_size);
		size_t tl = m->token_len[ids[i]];
		if (*len + tl > *cap) {
			size_t c = *cap ? *cap : 4096;
			while (c < *len + tl)
				c *= 2;
			uint8_t *p = realloc(*out, c);
			if (!p)
				return lm_fail("out of memory");
			*out = p;
			*cap = c;
		}
		memcpy(*out + *len, m->token_bytes[ids[i]], tl);
		*len += tl;
	}
	return 0;
}
