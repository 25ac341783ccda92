/*
 * learn_merge.c — the merging step of bpe-learn (see learn.h).
 *
 * Every distinct pre-token is a "word": a sequence of token ids and the
 * number of times it occurred. A pair's count is the sum, over the words,
 * of the word's count times the pair's occurrences in it. A merge of (a, b)
 * into c rewrites, in place, only the words on the pair's list, and moves
 * the count around each occurrence:
 *   (x, a) -> (x, c) on the left, (b, y) -> (c, y) on the right,
 * where x is the symbol already written (it is c itself when two
 * occurrences touch, as in "a b a b"). This is exact for overlapping pairs
 * too ("a a a" merging (a, a) gives "c a").
 *
 * Only pairs that hold the new token gain, so a pair gains count (and
 * words) only in the step that makes it, and loses after. Hence:
 *   - a pair's word list is written once, word after word, and never holds
 *     a word twice (words that lost the pair since stay on it, and are
 *     passed over: they have no occurrence left);
 *   - the heap keeps one entry a pair, pushed when the pair is made, whose
 *     count is an upper bound of the pair's from then on. The top entry
 *     whose count is still the pair's is the best pair; a top entry gone
 *     stale is sifted down again with the pair's count (or dropped at 0).
 *     Ties go to the lexicographically greater pair of byte strings.
 *
 * A step sums the count it moves by neighbour symbol: left[x] for
 * (x, a) -> (x, c), right[y] for (b, y) -> (c, y), and logs (neighbour,
 * word) for the new pairs' lists; the pair table is touched once a
 * neighbour, not once an occurrence. A step with many words cuts its list
 * into contiguous ranges, one a thread, each with its own sums and log;
 * the sums are folded and the logs replayed in thread order, which is the
 * order one thread would have made. Pair ids, lists and merges are the
 * same for every thread count.
 */
#include "tok/learn.h"
#include "tok/alphabet.h"
#include "util/error.h"
#include "util/grow.h"
#include "util/timer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum {
	/* A word in the word store: a head of 4 uint32 (count low, count
	 * high, length now, length at first), then its symbols, padded to a
	 * multiple of 4; a word's id is its head's index / 4, so 32-bit ids
	 * reach 64 GB of words. */
	WORD_HEAD = 4,
	W_COUNT_LO = 0, W_COUNT_HI = 1, W_LEN = 2, W_LEN0 = 3,
	/* The words to run through before the one a prefetch is for: a
	 * word is a cache miss, and a step goes through millions of them. */
	PREFETCH_AHEAD = 16,
	/* A step with fewer words than this runs in the calling thread: a
	 * thread hand-off costs tens of microseconds, a word tens of
	 * nanoseconds. */
	PARALLEL_MIN_WORDS = 4096,
};

typedef struct {
	uint32_t *ids;
	uint32_t n, cap;
} word_list;

typedef struct {
	int64_t count;
	uint32_t pair;
} heap_entry;

/* Count moved in one step, summed by neighbour symbol. */
typedef struct {
	uint32_t nb;             /* the neighbour symbol */
	uint32_t word;
} log_entry;

/* Count moved in one step on one side, summed by neighbour symbol, and the
 * words it was moved in. */
typedef struct {
	int64_t *sum;            /* (V) 0 where not touched */
	uint32_t *touched;       /* the symbols with sum > 0, first seen first */
	size_t n_touched, touched_cap;
	log_entry *log;          /* (neighbour, word), in list order */
	size_t n_log, log_cap;
} nb_sums;

struct merge_state;

/* One thread's share of a step. Worker 0 is the calling thread. */
typedef struct {
	struct merge_state *s;
	nb_sums left, right;
	bool oom;
	pthread_t thread;
} merge_worker;

/* The step being run by the workers. */
typedef struct {
	pthread_mutex_t lock;
	pthread_cond_t go, done;
	uint64_t generation;     /* one more a parallel step */
	int n_done;
	bool quit;
	const uint32_t *ids;     /* the pair's words */
	uint32_t n_ids;
	uint32_t a, b, c;
} merge_job;

typedef struct merge_state {
	/* words */
	uint32_t *wd;             /* the word store (WORD_HEAD) */
	uint64_t wd_len;          /* in blocks of WORD_HEAD */
	uint64_t n_sym;           /* symbols in all words, at first */
	/* pairs */
	uint32_t n_pairs, pairs_cap;
	uint32_t *left, *right;
	int64_t *count;
	word_list *words;
	uint64_t *slot_key;       /* hash (left << 32 | right) + 1 -> pair; 0 = empty */
	uint32_t *slot_pair;
	size_t slots_cap;
	/* the heap */
	heap_entry *heap;
	size_t heap_n, heap_cap;
	/* a step's work */
	size_t vocab_cap;         /* symbols are below this */
	uint32_t *new_left;       /* (V) x -> the pair (x, c), for this step's x */
	uint32_t *new_right;      /* (V) y -> the pair (c, y) */
	merge_worker *workers;
	int n_workers;            /* wanted */
	int n_started;            /* threads running (workers 1 ..) */
	uint32_t parallel_min;
	merge_job job;
	bpe_merges *m;            /* the vocabulary so far: token bytes for ties */
	bool oom;
} merge_state;

/* ---- words ---------------------------------------------------------------------- */

static uint32_t *word_at(const merge_state *s, uint32_t w)
{
	return s->wd + (size_t)w * WORD_HEAD;
}

static uint64_t word_blocks(uint64_t len)
{
	return 1 + (len + WORD_HEAD - 1) / WORD_HEAD;
}

static int64_t word_count(const uint32_t *h)
{
	return (int64_t)((uint64_t)h[W_COUNT_HI] << 32 | h[W_COUNT_LO]);
}

typedef struct {
	merge_state *s;
	uint64_t blocks, n_sym;
} load_ctx;

static void size_word(const uint8_t *str, size_t n, uint64_t count, void *arg)
{
	load_ctx *c = arg;
	if (n >= 2) {  /* one byte: no pair, nothing to learn */
		c->blocks += word_blocks(n);
		c->n_sym += n;
	}
}

static void store_word(const uint8_t *str, size_t n, uint64_t count, void *arg)
{
	load_ctx *c = arg;
	if (n < 2)
		return;
	uint32_t *h = c->s->wd + c->blocks * WORD_HEAD;
	h[W_COUNT_LO] = (uint32_t)count;
	h[W_COUNT_HI] = (uint32_t)(count >> 32);
	h[W_LEN] = h[W_LEN0] = (uint32_t)n;
	for (size_t i = 0; i < n; i++)
		h[WORD_HEAD + i] = (uint32_t)alphabet_byte_id(str[i]);
	c->blocks += word_blocks(n);
}

static int load_words(merge_state *s, const learn_counts *counts)
{
	load_ctx c = {s, 0, 0};
	learn_counts_each(counts, size_word, &c);
	if (c.blocks >= UINT32_MAX)
		return lm_fail("too many distinct pre-tokens (%llu)",
			       (unsigned long long)learn_counts_distinct(counts));
	s->wd_len = c.blocks;
	s->n_sym = c.n_sym;
	if (!(s->wd = malloc((c.blocks + 1) * WORD_HEAD * sizeof *s->wd)))
		return lm_fail("out of memory (%llu distinct pre-tokens)",
			       (unsigned long long)learn_counts_distinct(counts));
	c.blocks = 0;
	learn_counts_each(counts, store_word, &c);
	return 0;
}

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

static void list_free(word_list *l)
{
	free(l->ids);
	*l = (word_list){0};
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

static void heap_drop_top(merge_state *s)
{
	s->heap[0] = s->heap[--s->heap_n];
	heap_down(s, 0);
}

/* The pair to merge next, or UINT32_MAX when none is left. */
static uint32_t heap_pop_best(merge_state *s)
{
	while (s->heap_n > 0) {
		heap_entry *top = &s->heap[0];
		int64_t now = s->count[top->pair];
		if (now == top->count) {
			uint32_t p = top->pair;
			heap_drop_top(s);
			return p;
		}
		if (now > 0) {  /* stale: fewer now; sift down with the count it has */
			top->count = now;
			heap_down(s, 0);
		} else {
			heap_drop_top(s);
		}
	}
	return UINT32_MAX;
}

/* The initial pair counts and lists, and the heap over them. */
static int count_pairs(merge_state *s)
{
	if (grow_pair_slots(s) != 0)
		return -1;
	for (uint64_t w = 0; w < s->wd_len; w += word_blocks(word_at(s, (uint32_t)w)[W_LEN0])) {
		const uint32_t *h = word_at(s, (uint32_t)w), *x = h + WORD_HEAD;
		for (uint32_t i = 0; i + 1 < h[W_LEN]; i++) {
			uint32_t p = pair_get(s, x[i], x[i + 1]);
			if (p == UINT32_MAX)
				return -1;
			s->count[p] += word_count(h);
			if (list_add(&s->words[p], (uint32_t)w) != 0)
				return lm_fail("out of memory (%u pairs)", s->n_pairs);
		}
	}
	s->heap_cap = s->n_pairs + 1;
	if (!(s->heap = malloc(s->heap_cap * sizeof *s->heap)))
		return lm_fail("out of memory");
	for (uint32_t p = 0; p < s->n_pairs; p++)
		s->heap[p] = (heap_entry){s->count[p], p};
	s->heap_n = s->n_pairs;
	for (size_t i = s->heap_n / 2; i-- > 0;)
		heap_down(s, i);
	return 0;
}

/* ---- a step's work: rewriting words, in one thread or several ------------------- */

static int sums_init(nb_sums *n, size_t vocab_cap)
{
	n->sum = calloc(vocab_cap, sizeof *n->sum);
	return n->sum ? 0 : -1;
}

static void sums_free(nb_sums *n)
{
	free(n->sum);
	free(n->touched);
	free(n->log);
}

/* Add f to the sum of neighbour x. */
static bool sums_add(nb_sums *n, uint32_t x, int64_t f)
{
	if (n->sum[x] == 0) {
		if (n->n_touched == n->touched_cap) {
			uint32_t *t = grow(n->touched, &n->touched_cap, sizeof *t, 256);
			if (!t)
				return false;
			n->touched = t;
		}
		n->touched[n->n_touched++] = x;
	}
	n->sum[x] += f;
	return true;
}

/* Add src's sums to dst's (src left empty), dst's order first. */
static bool sums_fold(nb_sums *dst, nb_sums *src)
{
	bool ok = true;
	for (size_t i = 0; i < src->n_touched; i++) {
		uint32_t x = src->touched[i];
		ok &= sums_add(dst, x, src->sum[x]);
		src->sum[x] = 0;
	}
	src->n_touched = 0;
	return ok;
}

static bool log_add(nb_sums *n, uint32_t nb, uint32_t w)
{
	if (n->n_log == n->log_cap) {
		log_entry *l = grow(n->log, &n->log_cap, sizeof *l, 4096);
		if (!l)
			return false;
		n->log = l;
	}
	n->log[n->n_log++] = (log_entry){nb, w};
	return true;
}

/* Count f moved beside neighbour nb of an occurrence in word w. */
static void moved(merge_worker *t, nb_sums *side, uint32_t nb, int64_t f, uint32_t w)
{
	if (!sums_add(side, nb, f) || !log_add(side, nb, w))
		t->oom = true;
}

/* Rewrite word w with (a, b) -> c, summing the count moved around it. */
static void merge_word(merge_worker *t, uint32_t w, uint32_t a, uint32_t b, uint32_t c)
{
	uint32_t *h = word_at(t->s, w), *x = h + WORD_HEAD;
	uint32_t n = h[W_LEN], j = 0;
	int64_t f = word_count(h);
	for (uint32_t i = 0; i < n;) {
		if (i + 1 < n && x[i] == a && x[i + 1] == b) {
			if (j > 0)
				moved(t, &t->left, x[j - 1], f, w);
			if (i + 2 < n)
				moved(t, &t->right, x[i + 2], f, w);
			x[j++] = c;
			i += 2;
		} else {
			x[j++] = x[i++];
		}
	}
	h[W_LEN] = j;
}

static void merge_range(merge_worker *t, const uint32_t *ids, uint32_t lo, uint32_t hi,
			uint32_t a, uint32_t b, uint32_t c)
{
	for (uint32_t k = lo; k < hi; k++) {
		if (k + PREFETCH_AHEAD < hi)
			__builtin_prefetch(word_at(t->s, ids[k + PREFETCH_AHEAD]));
		merge_word(t, ids[k], a, b, c);
	}
}

/* Worker i's share of the job: a contiguous range, in list order. */
static void job_share(const merge_state *s, int i, uint32_t *lo, uint32_t *hi)
{
	uint64_t n = s->job.n_ids, k = (uint64_t)s->n_workers;
	*lo = (uint32_t)(n * (uint64_t)i / k);
	*hi = (uint32_t)(n * (uint64_t)(i + 1) / k);
}

static void run_share(merge_state *s, int i)
{
	uint32_t lo, hi;
	job_share(s, i, &lo, &hi);
	merge_range(&s->workers[i], s->job.ids, lo, hi, s->job.a, s->job.b, s->job.c);
}

static void *worker_main(void *arg)
{
	merge_worker *t = arg;
	merge_state *s = t->s;
	merge_job *j = &s->job;
	int i = (int)(t - s->workers);
	uint64_t seen = 0;
	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (j->generation == seen && !j->quit)
			pthread_cond_wait(&j->go, &j->lock);
		if (j->quit)
			break;
		seen = j->generation;
		pthread_mutex_unlock(&j->lock);
		run_share(s, i);
		pthread_mutex_lock(&j->lock);
		if (++j->n_done == s->n_workers - 1)
			pthread_cond_signal(&j->done);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

static int workers_start(merge_state *s)
{
	for (int i = 1; i < s->n_workers; i++) {
		if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]) != 0)
			return lm_fail("cannot start a merging thread");
		s->n_started = i;
	}
	return 0;
}

static void workers_stop(merge_state *s)
{
	merge_job *j = &s->job;
	pthread_mutex_lock(&j->lock);
	j->quit = true;
	pthread_cond_broadcast(&j->go);
	pthread_mutex_unlock(&j->lock);
	for (int i = 1; i <= s->n_started; i++)
		pthread_join(s->workers[i].thread, NULL);
	s->n_started = 0;
}

/* Rewrite the words of the list, in worker 0 alone or in all of them. */
static int merge_words(merge_state *s, const word_list *list, uint32_t a, uint32_t b, uint32_t c)
{
	if (s->n_workers == 1 || list->n < s->parallel_min) {
		merge_range(&s->workers[0], list->ids, 0, list->n, a, b, c);
		return 0;
	}
	if (s->n_started == 0 && workers_start(s) != 0)
		return -1;
	merge_job *j = &s->job;
	pthread_mutex_lock(&j->lock);
	j->ids = list->ids;
	j->n_ids = list->n;
	j->a = a;
	j->b = b;
	j->c = c;
	j->n_done = 0;
	j->generation++;
	pthread_cond_broadcast(&j->go);
	pthread_mutex_unlock(&j->lock);
	run_share(s, 0);
	pthread_mutex_lock(&j->lock);
	while (j->n_done < s->n_workers - 1)
		pthread_cond_wait(&j->done, &j->lock);
	pthread_mutex_unlock(&j->lock);
	return 0;
}

/* Move the summed counts: (x, a) -> (x, c) for each left x, (b, y) -> (c, y)
 * for each right y; note the new pairs by neighbour for the lists. Pairs
 * made in this step have ids from first_new on; an older pair that falls
 * to 0 stays there, and its list goes. */
static void move_counts(merge_state *s, nb_sums *side, bool right, uint32_t a, uint32_t b,
			uint32_t c, uint32_t first_new)
{
	for (size_t i = 0; i < side->n_touched; i++) {
		uint32_t x = side->touched[i];
		int64_t f = side->sum[x];
		side->sum[x] = 0;
		uint32_t from = right ? pair_get(s, b, x) : pair_get(s, x, a);
		uint32_t to = right ? pair_get(s, c, x) : pair_get(s, x, c);
		if (from == UINT32_MAX || to == UINT32_MAX) {
			s->oom = true;
			continue;
		}
		s->count[from] -= f;
		if (from < first_new && s->count[from] == 0)
			list_free(&s->words[from]);  /* gone from every word */
		s->count[to] += f;
		(right ? s->new_right : s->new_left)[x] = to;
	}
	side->n_touched = 0;
}

/* Add the words of a side's log to the new pairs' lists (pair_of: neighbour
 * -> new pair). A new pair has words from one side only: (x, c) from the
 * left, (c, y) from the right (y is never c, which is not yet written when
 * y is read), so its list keeps the order of the merged pair's. */
static void replay_log(merge_state *s, nb_sums *side, const uint32_t *pair_of)
{
	for (size_t k = 0; k < side->n_log; k++)
		if (list_add(&s->words[pair_of[side->log[k].nb]], side->log[k].word) != 0)
			s->oom = true;
	side->n_log = 0;
}

/* The workers' sums and logs into the pairs, in worker order. */
static void fold_step(merge_state *s, uint32_t a, uint32_t b, uint32_t c, uint32_t first_new)
{
	merge_worker *w0 = &s->workers[0];
	for (int i = 1; i < s->n_workers; i++) {
		merge_worker *t = &s->workers[i];
		s->oom |= t->oom;
		s->oom |= !sums_fold(&w0->left, &t->left) | !sums_fold(&w0->right, &t->right);
	}
	s->oom |= w0->oom;
	move_counts(s, &w0->left, false, a, b, c, first_new);
	move_counts(s, &w0->right, true, a, b, c, first_new);
	for (int i = 0; i < s->n_workers; i++) {
		replay_log(s, &s->workers[i].left, s->new_left);
		replay_log(s, &s->workers[i].right, s->new_right);
	}
}

/* Merge pair p: a new token, the words rewritten, the counts moved, the new
 * pairs on the heap. */
static int merge_step(merge_state *s, uint32_t p)
{
	uint32_t a = s->left[p], b = s->right[p], c = s->m->vocab_size;
	if (merges_add_merge(s->m, a, b) != 0)
		return -1;
	word_list list = s->words[p];
	s->words[p] = (word_list){0};
	int rc = merge_words(s, &list, a, b, c);
	free(list.ids);
	if (rc != 0)
		return -1;
	uint32_t first_new = s->n_pairs;
	fold_step(s, a, b, c, first_new);
	s->count[p] = 0;  /* (b, y) may have been (a, b) itself, as in "a a a" */
	if (s->oom)
		return lm_fail("out of memory (%u pairs)", s->n_pairs);
	for (uint32_t q = first_new; q < s->n_pairs; q++) {
		if (s->count[q] == 0)
			list_free(&s->words[q]);  /* made and gone, as (c, a) in "a b a b" */
		else if (heap_push(s, q) != 0)
			return -1;
	}
	return 0;
}

/* ---- the state ------------------------------------------------------------------ */

/* After load_words: a merge takes one symbol at least away, so there are at
 * most n_sym merges, whatever was asked. */
static int state_init(merge_state *s, uint32_t n_merges, const learn_options *o)
{
	s->vocab_cap = 256 + 1 + (s->n_sym < n_merges ? s->n_sym : n_merges);
	s->n_workers = o->threads > 1 ? o->threads : 1;
	s->parallel_min = o->parallel_min ? o->parallel_min : PARALLEL_MIN_WORDS;
	s->new_left = malloc((size_t)s->vocab_cap * sizeof *s->new_left);
	s->new_right = malloc((size_t)s->vocab_cap * sizeof *s->new_right);
	s->workers = calloc((size_t)s->n_workers, sizeof *s->workers);
	if (!s->new_left || !s->new_right || !s->workers)
		return lm_fail("out of memory");
	for (int i = 0; i < s->n_workers; i++) {
		s->workers[i].s = s;
		if (sums_init(&s->workers[i].left, s->vocab_cap) != 0 ||
		    sums_init(&s->workers[i].right, s->vocab_cap) != 0)
			return lm_fail("out of memory");
	}
	return 0;
}

static void state_free(merge_state *s)
{
	workers_stop(s);
	pthread_mutex_destroy(&s->job.lock);
	pthread_cond_destroy(&s->job.go);
	pthread_cond_destroy(&s->job.done);
	for (int i = 0; s->workers && i < s->n_workers; i++) {
		sums_free(&s->workers[i].left);
		sums_free(&s->workers[i].right);
	}
	free(s->workers);
	free(s->new_left);
	free(s->new_right);
	free(s->wd);
	for (uint32_t p = 0; p < s->n_pairs; p++)
		free(s->words[p].ids);
	free(s->words);
	free(s->left);
	free(s->right);
	free(s->count);
	free(s->slot_key);
	free(s->slot_pair);
	free(s->heap);
}

static void report(const learn_options *o, uint32_t done, uint32_t wanted, uint64_t distinct,
		   double *last, bool force)
{
	if (!o->progress)
		return;
	double now = timer_now();
	if (!force && now - *last < 0.25)
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
	pthread_mutex_init(&s.job.lock, NULL);
	pthread_cond_init(&s.job.go, NULL);
	pthread_cond_init(&s.job.done, NULL);
	int rc = load_words(&s, counts);
	if (rc == 0)
		rc = state_init(&s, n_merges, o);
	if (rc == 0)
		rc = count_pairs(&s);
	double last = timer_now();
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
