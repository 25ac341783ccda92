/*
 * learn_merge.c — the merging step of bpe-learn (see learn.h).
 *
 * Every distinct pre-token is a "word": a sequence of token ids and the
 * number of times it occurred. A pair's count is the sum, over the words,
 * of the word's count times the pair's occurrences in it. The state kept
 * from step to step:
 *   - pairs: count, and the words it has occurred in (a list that may hold
 *     words that lost the pair since: they are skipped when looked at);
 *   - a max-heap of (count, pair) with lazy deletion: every pair whose count
 *     changed in a step is pushed again with its new count; a popped entry
 *     whose count is not the pair's current count is stale and dropped.
 * A merge of (a, b) into c rewrites, in place, only the words on the pair's
 * list, and changes the counts of the pairs around each occurrence:
 *   (x, a) -> (x, c) on the left, (b, y) -> (c, y) on the right,
 * where x is the symbol already written (it is c itself when two
 * occurrences touch, as in "a b a b"). This is exact for overlapping pairs
 * too ("a a a" merging (a, a) gives "c a").
 */
#include "tok/learn.h"
#include "tok/alphabet.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
	uint32_t *ids;
	uint32_t n, cap;
} word_list;

typedef struct {
	int64_t count;
	uint32_t pair;
} heap_entry;

typedef struct {
	/* words */
	uint32_t n_words;
	uint64_t *word_count;
	uint64_t *word_off;       /* into sym */
	uint32_t *word_len;
	uint32_t *word_stamp;     /* the step that last rewrote the word */
	uint32_t *sym;
	uint64_t n_sym;
	/* pairs */
	uint32_t n_pairs, pairs_cap;
	uint32_t *left, *right;
	int64_t *count;
	word_list *words;
	uint32_t *touch_stamp;
	uint64_t *slot_key;       /* hash (left << 32 | right) + 1 -> pair; 0 = empty */
	uint32_t *slot_pair;
	size_t slots_cap;
	/* the heap, and the pairs touched in this step */
	heap_entry *heap;
	size_t heap_n, heap_cap;
	uint32_t *touched;
	size_t n_touched, touched_cap;
	uint32_t stamp;
	bpe_merges *m;            /* the vocabulary so far: token bytes for ties */
	bool oom;
} merge_state;

/* ---- pairs ---------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static int grow_pair_slots(merge_state *s)
{
	size_t cap = s->slots_cap ? 2 * s->slots_cap : 1 << 16;
	uint64_t *key = calloc(cap, sizeof *key);
	uint32_t *pair = malloc(cap * sizeof *pair);
	if (!key || !pair) {
		free(key);
		free(pair);
		return lm_fail("out of memory (%u pairs)", s->n_pairs);
	}
	for (size_t i = 0; i < s->slots_cap; i++) {
		if (!s->slot_key[i])
			continue;
		size_t j = mix64(s->slot_key[i]) & (cap - 1);
		while (key[j])
			j = (j + 1) & (cap - 1);
		key[j] = s->slot_key[i];
		pair[j] = s->slot_pair[i];
	}
	free(s->slot_key);
	free(s->slot_pair);
	s->slot_key = key;
	s->slot_pair = pair;
	s->slots_cap = cap;
	return 0;
}

static int grow_pairs(merge_state *s)
{
	uint32_t cap = s->pairs_cap ? 2 * s->pairs_cap : 1 << 15;
#define GROW(field)                                                          \
	do {                                                                 \
		void *p_ = realloc(s->field, (size_t)cap * sizeof *s->field); \
		if (!p_)                                                     \
			return lm_fail("out of memory (%u pairs)", s->n_pairs); \
		s->field = p_;                                               \
	} while (0)
	GROW(left);
	GROW(right);
	GROW(count);
	GROW(words);
	GROW(touch_stamp);
#undef GROW
	s->pairs_cap = cap;
	return 0;
}

/* The pair (a, b), made with count 0 if new; UINT32_MAX when out of memory. */
static uint32_t pair_get(merge_state *s, uint32_t a, uint32_t b)
{
	uint64_t key = ((uint64_t)a << 32 | b) + 1;
	size_t mask = s->slots_cap - 1, i = mix64(key) & mask;
	for (; s->slot_key[i]; i = (i + 1) & mask)
		if (s->slot_key[i] == key)
			return s->slot_pair[i];
	if ((s->n_pairs + 1) * 2 > s->slots_cap) {
		if (grow_pair_slots(s) != 0)
			return UINT32_MAX;
		return pair_get(s, a, b);
	}
	if (s->n_pairs == s->pairs_cap && grow_pairs(s) != 0)
		return UINT32_MAX;
	uint32_t p = s->n_pairs++;
	s->slot_key[i] = key;
	s->slot_pair[i] = p;
	s->left[p] = a;
	s->right[p] = b;
	s->count[p] = 0;
	s->words[p] = (word_list){0};
	s->touch_stamp[p] = 0;
	return p;
}

static int list_add(word_list *l, uint32_t w)
{
	if (l->n && l->ids[l->n - 1] == w)
		return 0;
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? 2 * l->cap : 4;
		uint32_t *ids = realloc(l->ids, cap * sizeof *ids);
		if (!ids)
			return -1;
		l->ids = ids;
		l->cap = cap;
	}
	l->ids[l->n++] = w;
	return 0;
}

/* Change the count of (a, b) by d, for word w. */
static void pair_change(merge_state *s, uint32_t a, uint32_t b, int64_t d, uint32_t w)
{
	uint32_t p = pair_get(s, a, b);
	if (p == UINT32_MAX) {
		s->oom = true;
		return;
	}
	s->count[p] += d;
	if (d > 0 && list_add(&s->words[p], w) != 0)
		s->oom = true;
	if (s->touch_stamp[p] != s->stamp) {
		s->touch_stamp[p] = s->stamp;
		if (s->n_touched == s->touched_cap) {
			size_t cap = s->touched_cap ? 2 * s->touched_cap : 1024;
			uint32_t *t = realloc(s->touched, cap * sizeof *t);
			if (!t) {
				s->oom = true;
				return;
			}
			s->touched = t;
			s->touched_cap = cap;
		}
		s->touched[s->n_touched++] = p;
	}
}

/* ---- the heap: most frequent first, ties to the greater pair of byte strings ---- */

static int bytes_cmp(const bpe_merges *m, uint32_t x, uint32_t y)
{
	uint32_t nx = m->token_len[x], ny = m->token_len[y];
	int c = memcmp(m->token_bytes[x], m->token_bytes[y], nx < ny ? nx : ny);
	if (c)
		return c;
	return (nx > ny) - (nx < ny);
}

static bool pair_greater(const merge_state *s, uint32_t p, uint32_t q)
{
	int c = bytes_cmp(s->m, s->left[p], s->left[q]);
	if (c == 0)
		c = bytes_cmp(s->m, s->right[p], s->right[q]);
	return c > 0;
}

static bool entry_before(const merge_state *s, heap_entry x, heap_entry y)
{
	if (x.count != y.count)
		return x.count > y.count;
	return pair_greater(s, x.pair, y.pair);
}

static void heap_down(merge_state *s, size_t i)
{
	heap_entry *h = s->heap;
	for (;;) {
		size_t l = 2 * i + 1, best = i;
		if (l < s->heap_n && entry_before(s, h[l], h[best]))
			best = l;
		if (l + 1 < s->heap_n && entry_before(s, h[l + 1], h[best]))
			best = l + 1;
		if (best == i)
			return;
		heap_entry t = h[i];
		h[i] = h[best];
		h[best] = t;
		i = best;
	}
}

static int heap_push(merge_state *s, uint32_t p)
{
	if (s->heap_n == s->heap_cap) {
		size_t cap = s->heap_cap ? 2 * s->heap_cap : 1 << 16;
		heap_entry *h = realloc(s->heap, cap * sizeof *h);
		if (!h)
			return lm_fail("out of memory");
		s->heap = h;
		s->heap_cap = cap;
	}
	size_t i = s->heap_n++;
	heap_entry e = {s->count[p], p};
	while (i > 0 && entry_before(s, e, s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = e;
	return 0;
}

/* The pair to merge next, or UINT32_MAX when none is left. */
static uint32_t heap_pop_best(merge_state *s)
{
	while (s->heap_n > 0) {
		heap_entry top = s->heap[0];
		s->heap[0] = s->heap[--s->heap_n];
		heap_down(s, 0);
		if (top.count > 0 && top.count == s->count[top.pair])
			return top.pair;
	}
	return UINT32_MAX;
}

/* ---- words ---------------------------------------------------------------------- */

typedef struct {
	merge_state *s;
	uint64_t w, off;
} load_ctx;

static void count_words(const uint8_t *str, size_t n, uint64_t count, void *arg)
{
	load_ctx *c = arg;
	if (n < 2)
		return;  /* one byte: no pair, nothing to learn */
	c->w++;
	c->off += n;
}

static void store_word(const uint8_t *str, size_t n, uint64_t count, void *arg)
{
	load_ctx *c = arg;
	merge_state *s = c->s;
	if (n < 2)
		return;
	uint32_t w = (uint32_t)c->w++;
	s->word_count[w] = count;
	s->word_off[w] = c->off;
	s->word_len[w] = (uint32_t)n;
	s->word_stamp[w] = 0;
	for (size_t i = 0; i < n; i++)
		s->sym[c->off + i] = (uint32_t)alphabet_byte_id(str[i]);
	c->off += n;
}

static int load_words(merge_state *s, const learn_counts *counts)
{
	load_ctx c = {s, 0, 0};
	learn_counts_each(counts, count_words, &c);
	if (c.w >= UINT32_MAX)
		return lm_fail("too many distinct pre-tokens (%llu)", (unsigned long long)c.w);
	s->n_words = (uint32_t)c.w;
	s->n_sym = c.off;
	s->word_count = malloc((c.w + 1) * sizeof *s->word_count);
	s->word_off = malloc((c.w + 1) * sizeof *s->word_off);
	s->word_len = malloc((c.w + 1) * sizeof *s->word_len);
	s->word_stamp = malloc((c.w + 1) * sizeof *s->word_stamp);
	s->sym = malloc((c.off + 1) * sizeof *s->sym);
	if (!s->word_count || !s->word_off || !s->word_len || !s->word_stamp || !s->sym)
		return lm_fail("out of memory (%llu distinct pre-tokens)", (unsigned long long)c.w);
	c = (load_ctx){s, 0, 0};
	learn_counts_each(counts, store_word, &c);
	return 0;
}

/* The initial pair counts, and the heap over them. */
static int count_pairs(merge_state *s)
{
	if (grow_pair_slots(s) != 0)
		return -1;
	s->stamp = 1;
	for (uint32_t w = 0; w < s->n_words; w++) {
		const uint32_t *x = s->sym + s->word_off[w];
		for (uint32_t i = 0; i + 1 < s->word_len[w]; i++)
			pair_change(s, x[i], x[i + 1], (int64_t)s->word_count[w], w);
	}
	if (s->oom)
		return lm_fail("out of memory (%u pairs)", s->n_pairs);
	s->heap_cap = s->n_pairs + 1;
	if (!(s->heap = malloc(s->heap_cap * sizeof *s->heap)))
		return lm_fail("out of memory");
	for (uint32_t p = 0; p < s->n_pairs; p++)
		s->heap[p] = (heap_entry){s->count[p], p};
	s->heap_n = s->n_pairs;
	for (size_t i = s->heap_n / 2; i-- > 0;)
		heap_down(s, i);
	s->n_touched = 0;
	return 0;
}

/* Rewrite word w with (a, b) -> c, changing the pair counts around it. */
static void merge_word(merge_state *s, uint32_t w, uint32_t a, uint32_t b, uint32_t c)
{
	uint32_t *x = s->sym + s->word_off[w];
	uint32_t n = s->word_len[w], j = 0;
	int64_t f = (int64_t)s->word_count[w];
	for (uint32_t i = 0; i < n;) {
		if (i + 1 < n && x[i] == a && x[i + 1] == b) {
			if (j > 0) {
				pair_change(s, x[j - 1], a, -f, w);
				pair_change(s, x[j - 1], c, f, w);
			}
			if (i + 2 < n) {
				pair_change(s, b, x[i + 2], -f, w);
				pair_change(s, c, x[i + 2], f, w);
			}
			x[j++] = c;
			i += 2;
		} else {
			x[j++] = x[i++];
		}
	}
	s->word_len[w] = j;
}

/* Merge pair p: a new token, the words rewritten, the heap updated. */
static int merge_step(merge_state *s, uint32_t p)
{
	uint32_t a = s->left[p], b = s->right[p], c = s->m->vocab_size;
	if (merges_add_merge(s->m, a, b) != 0)
		return -1;
	s->stamp++;
	s->n_touched = 0;
	word_list list = s->words[p];
	s->words[p] = (word_list){0};
	for (uint32_t k = 0; k < list.n; k++) {
		uint32_t w = list.ids[k];
		if (s->word_stamp[w] == s->stamp)
			continue;
		s->word_stamp[w] = s->stamp;
		merge_word(s, w, a, b, c);
	}
	free(list.ids);
	s->count[p] = 0;
	if (s->oom)
		return lm_fail("out of memory (%u pairs)", s->n_pairs);
	for (size_t i = 0; i < s->n_touched; i++) {
		uint32_t q = s->touched[i];
		if (s->count[q] > 0 && heap_push(s, q) != 0)
			return -1;
		if (s->count[q] == 0 && s->words[q].n) {  /* gone from every word */
			free(s->words[q].ids);
			s->words[q] = (word_list){0};
		}
	}
	return 0;
}

static void state_free(merge_state *s)
{
	free(s->word_count);
	free(s->word_off);
	free(s->word_len);
	free(s->word_stamp);
	free(s->sym);
	for (uint32_t p = 0; p < s->n_pairs; p++)
		free(s->words[p].ids);
	free(s->words);
	free(s->left);
	free(s->right);
	free(s->count);
	free(s->touch_stamp);
	free(s->slot_key);
	free(s->slot_pair);
	free(s->heap);
	free(s->touched);
}

static void report(const learn_options *o, uint32_t done, uint32_t wanted, uint64_t distinct,
		   struct timespec *last, bool force)
{
	if (!o->progress)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double dt = (double)(now.tv_sec - last->tv_sec) + 1e-9 * (double)(now.tv_nsec - last->tv_nsec);
	if (!force && dt < 0.25)
		return;
	*last = now;
	learn_progress p = {.phase = LEARN_MERGING, .distinct = distinct,
			    .merges_done = done, .merges_wanted = wanted};
	o->progress(&p, o->progress_arg);
}

int learn_merges(const learn_counts *counts, uint32_t n_merges, const learn_options *o, bpe_merges *m)
{
	if (merges_init_bytes(m) != 0)
		return -1;
	merge_state s = {.m = m};
	int rc = load_words(&s, counts);
	if (rc == 0)
		rc = count_pairs(&s);
	struct timespec last;
	clock_gettime(CLOCK_MONOTONIC, &last);
	uint64_t distinct = learn_counts_distinct(counts);
	for (uint32_t k = 0; rc == 0 && k < n_merges; k++) {
		uint32_t p = heap_pop_best(&s);
		if (p == UINT32_MAX)
			break;
		rc = merge_step(&s, p);
		report(o, k + 1, n_merges, distinct, &last, false);
	}
	state_free(&s);
	/* Never write a file merges_read refuses (it has not been seen to
	 * happen: GPT-2's greedy leftmost merging reaches each byte string by
	 * one route on every corpus tried, linux-source included). */
	if (rc == 0 && merges_check_unique(m) != 0)
		rc = lm_fail("the merges cannot be written: %s", lm_last_error());
	if (rc == 0)
		report(o, m->n_merges, n_merges, distinct, &last, true);
	if (rc == 0 && o->n_specials > 0)
		rc = merges_add_specials(m, o->specials, o->n_specials);
	if (rc != 0)
		merges_free(m);
	return rc;
}
