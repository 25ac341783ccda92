/*
 * learn_count.c — the counting step of bpe-learn (see learn.h): read text,
 * cut it into chunks at safe places, pre-tokenize and count in threads.
 *
 * The reader (the calling thread) appends input to a chunk and assigns the
 * chunk's text to "segments": stretches between special tokens, each cut
 * only at a safe cut (pretok_safe_cut) or at a true end (a special token,
 * the end of a document). A full chunk goes to the workers; its unassigned
 * tail is carried into the next chunk. Each worker pre-tokenizes whole
 * segments into its own table; the tables are summed at the end.
 */
#include "tok/learn.h"
#include "tok/learn_table.h"
#include "tok/pretok.h"
#include "tok/specials.h"
#include "text/input.h"
#include "util/error.h"
#include "util/timer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum {
	CHUNK_BYTES = 1 << 20,      /* text a chunk collects before it is counted */
	FEED_SLICE = 1 << 16,       /* learn_count_text feeds text in slices this big */
};

struct learn_counts {
	piece_table table;
	uint64_t bytes;             /* text read, specials included */
	uint64_t links_skipped;     /* links in archives, passed over */
};

/* ---- chunks and the queue between the reader and the workers ------------------ */

typedef struct {
	size_t off, len;
} segment;

typedef struct chunk {
	uint8_t *data;
	size_t len, cap;
	segment *segs;
	size_t n_segs, segs_cap;
	struct chunk *next;
} chunk;

typedef struct {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	chunk *full_head, *full_tail;   /* waiting to be counted */
	chunk *free_list;               /* counted, for reuse */
	int n_free;
	bool closing;                   /* no more chunks will come */
	bool failed;                    /* a worker ran out of memory */
} chunk_queue;

static void chunk_free(chunk *c)
{
	if (c) {
		free(c->data);
		free(c->segs);
		free(c);
	}
}

static int chunk_reserve(chunk *c, size_t need)
{
	if (need <= c->cap)
		return 0;
	size_t cap = c->cap ? c->cap : CHUNK_BYTES + FEED_SLICE;
	while (cap < need)
		cap *= 2;
	uint8_t *d = realloc(c->data, cap);
	if (!d)
		return lm_fail("out of memory (a stretch of %zu bytes with no safe cut)", need);
	c->data = d;
	c->cap = cap;
	return 0;
}

static int chunk_add_segment(chunk *c, size_t off, size_t len)
{
	if (len == 0)
		return 0;
	if (c->n_segs == c->segs_cap) {
		size_t cap = c->segs_cap ? 2 * c->segs_cap : 256;
		segment *s = realloc(c->segs, cap * sizeof *s);
		if (!s)
			return lm_fail("out of memory");
		c->segs = s;
		c->segs_cap = cap;
	}
	c->segs[c->n_segs++] = (segment){off, len};
	return 0;
}

/* Pre-tokenize every segment of the chunk into the table. */
static int chunk_count(const chunk *c, piece_table *t)
{
	for (size_t i = 0; i < c->n_segs; i++) {
		const uint8_t *s = c->data + c->segs[i].off;
		size_t n = c->segs[i].len;
		while (n > 0) {
			size_t k = pretok_next(s, n);
			if (piece_table_add(t, s, k, 1) != 0)
				return -1;
			s += k;
			n -= k;
		}
	}
	return 0;
}

/* ---- workers ----------------------------------------------------------------------- */

typedef struct {
	chunk_queue *q;
	piece_table table;
	pthread_t thread;
} worker;

static chunk *queue_take_full(chunk_queue *q)
{
	pthread_mutex_lock(&q->lock);
	while (!q->full_head && !q->closing)
		pthread_cond_wait(&q->changed, &q->lock);
	chunk *c = q->full_head;
	if (c && !(q->full_head = c->next))
		q->full_tail = NULL;
	pthread_mutex_unlock(&q->lock);
	return c;
}

static void queue_give_back(chunk_queue *q, chunk *c, bool failed)
{
	pthread_mutex_lock(&q->lock);
	c->next = q->free_list;
	q->free_list = c;
	q->n_free++;
	q->failed |= failed;
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->lock);
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	chunk *c;
	while ((c = queue_take_full(w->q)))
		queue_give_back(w->q, c, chunk_count(c, &w->table) != 0);
	return NULL;
}

/* ---- the reader ---------------------------------------------------------------------- */

typedef struct {
	const learn_options *o;
	specials *sp;
	size_t max_special;
	chunk *cur;          /* being filled */
	size_t done;         /* cur's text before this is assigned */
	size_t retry_at;     /* no safe cut found: wait until cur is this long */
	chunk_queue q;
	worker *workers;     /* NULL: count in the reader's own thread */
	int n_workers;
	int n_chunks;        /* chunks made, at most 2 a worker + 1 */
	piece_table *table;  /* where the reader counts itself */
	uint64_t bytes;
	double last_progress;   /* timer_now() */
} reader;

/* Assign cur's text from done on to segments; all of it at a document's end,
 * else as far as a safe cut that no special token can straddle. */
static int reader_assign(reader *r, bool doc_end)
{
	chunk *c = r->cur;
	size_t pos = r->done, n = c->len;
	while (r->sp && pos < n) {
		int which;
		size_t len, o = specials_find(r->sp, c->data + pos, n - pos, &which, &len);
		/* a match is final once no longer special could start at or before it */
		if (pos + o >= n || (!doc_end && pos + o + r->max_special > n))
			break;
		if (chunk_add_segment(c, pos, o) != 0)
			return -1;
		pos += o + len;
	}
	if (doc_end) {
		if (chunk_add_segment(c, pos, n - pos) != 0)
			return -1;
		pos = n;
	} else {
		size_t hold = r->max_special ? r->max_special - 1 : 0;
		size_t lim = n - pos > hold ? n - hold : pos;
		size_t cut = lim > pos ? pretok_safe_cut(c->data + pos, lim - pos) : 0;
		if (chunk_add_segment(c, pos, cut) != 0)
			return -1;
		pos += cut;
	}
	r->done = pos;
	return 0;
}

static chunk *reader_new_chunk(reader *r)
{
	if (!r->workers || r->n_chunks < 2 * r->n_workers + 1) {
		chunk *c = calloc(1, sizeof *c);
		if (!c || chunk_reserve(c, CHUNK_BYTES + FEED_SLICE) != 0) {
			chunk_free(c);
			lm_fail("out of memory");
			return NULL;
		}
		r->n_chunks++;
		return c;
	}
	chunk_queue *q = &r->q;
	pthread_mutex_lock(&q->lock);
	while (!q->free_list)
		pthread_cond_wait(&q->changed, &q->lock);
	chunk *c = q->free_list;
	q->free_list = c->next;
	q->n_free--;
	pthread_mutex_unlock(&q->lock);
	c->len = c->n_segs = 0;
	return c;
}

static void reader_progress(reader *r, bool force)
{
	if (!r->o->progress)
		return;
	double now = timer_now();
	if (!force && now - r->last_progress < 0.25)
		return;
	r->last_progress = now;
	learn_progress p = {.phase = LEARN_COUNTING, .bytes = r->bytes};
	r->o->progress(&p, r->o->progress_arg);
}

/* Hand cur's segments to be counted; its unassigned tail starts the next chunk. */
static int reader_dispatch(reader *r)
{
	chunk *c = r->cur;
	if (c->n_segs == 0)
		return 0;
	chunk *next = reader_new_chunk(r);
	if (!next)
		return -1;
	size_t tail = c->len - r->done;
	if (chunk_reserve(next, tail + FEED_SLICE) != 0) {
		chunk_free(next);
		return -1;
	}
	memcpy(next->data, c->data + r->done, tail);
	next->len = tail;
	r->cur = next;
	r->done = 0;
	reader_progress(r, false);
	if (!r->workers) {
		int rc = chunk_count(c, r->table);
		chunk_free(c);
		r->n_chunks--;
		return rc;
	}
	chunk_queue *q = &r->q;
	pthread_mutex_lock(&q->lock);
	c->next = NULL;
	if (q->full_tail)
		q->full_tail->next = c;
	else
		q->full_head = c;
	q->full_tail = c;
	bool failed = q->failed;
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->lock);
	return failed ? lm_fail("out of memory counting pre-tokens") : 0;
}

/* The end of a document: all of its text is assigned. */
static int reader_end_doc(reader *r)
{
	return reader_assign(r, true);
}

/* Take a piece of input; doc_start ends the document before it. */
static int reader_feed(reader *r, const uint8_t *s, size_t n, bool doc_start)
{
	if (doc_start && reader_end_doc(r) != 0)
		return -1;
	r->bytes += n;
	while (n > 0) {
		chunk *c = r->cur;
		size_t take = n < FEED_SLICE ? n : FEED_SLICE;
		if (chunk_reserve(c, c->len + take) != 0)
			return -1;
		memcpy(c->data + c->len, s, take);
		c->len += take;
		s += take;
		n -= take;
		if (c->len >= CHUNK_BYTES && c->len >= r->retry_at) {
			if (reader_assign(r, false) != 0 || reader_dispatch(r) != 0)
				return -1;
			/* a long stretch with no safe cut: look again when it doubled */
			r->retry_at = r->cur == c ? 2 * c->len : 0;
		}
	}
	return 0;
}

static int reader_start(reader *r, const learn_options *o, piece_table *own)
{
	memset(r, 0, sizeof *r);
	r->o = o;
	r->table = own;
	pthread_mutex_init(&r->q.lock, NULL);
	pthread_cond_init(&r->q.changed, NULL);
	if (o->n_specials > 0) {
		if (!(r->sp = specials_new(o->specials, o->n_specials)))
			return -1;
		r->max_special = specials_max_len(r->sp);
	}
	r->last_progress = timer_now();
	if (o->threads > 1) {
		r->workers = calloc((size_t)o->threads, sizeof *r->workers);
		if (!r->workers)
			return lm_fail("out of memory");
		for (int i = 0; i < o->threads; i++) {
			worker *w = &r->workers[i];
			w->q = &r->q;
			if (piece_table_init(&w->table) != 0)
				return -1;
			if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
				return lm_fail("cannot start a counting thread");
			r->n_workers++;
		}
	}
	if (!(r->cur = reader_new_chunk(r)))
		return -1;
	return 0;
}

/* Swap r->table with the fullest worker's table: the sum starts from it
 * rather than inserting its millions of entries again. */
static void table_take_fullest(reader *r)
{
	int big = 0;
	for (int i = 1; i < r->o->threads; i++)
		if (r->workers[i].table.used > r->workers[big].table.used)
			big = i;
	piece_table t = *r->table;
	*r->table = r->workers[big].table;
	r->workers[big].table = t;
}

/* Stop the workers and sum their tables into r->table; rc is the result so
 * far, returned unless the finish fails. */
static int reader_finish(reader *r, int rc)
{
	if (rc == 0 && (reader_end_doc(r) != 0 || reader_dispatch(r) != 0))
		rc = -1;
	chunk_queue *q = &r->q;
	pthread_mutex_lock(&q->lock);
	q->closing = true;
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->lock);
	for (int i = 0; i < r->n_workers; i++)
		pthread_join(r->workers[i].thread, NULL);
	if (rc == 0 && q->failed)
		rc = lm_fail("out of memory counting pre-tokens");
	if (rc == 0 && r->workers)  /* every worker's table made */
		table_take_fullest(r);
	for (int i = 0; r->workers && i < r->o->threads; i++) {
		if (rc == 0 && piece_table_absorb(r->table, &r->workers[i].table) != 0)
			rc = -1;
		piece_table_free(&r->workers[i].table);
	}
	free(r->workers);
	for (chunk *c = q->full_head, *next; c; c = next) {
		next = c->next;
		chunk_free(c);
	}
	for (chunk *c = q->free_list, *next; c; c = next) {
		next = c->next;
		chunk_free(c);
	}
	chunk_free(r->cur);
	specials_free(r->sp);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->changed);
	if (rc == 0)
		reader_progress(r, true);
	return rc;
}

/* ---- reading files ------------------------------------------------------------------ */

static int feed_file(reader *r, const char *path, const char *jsonl_key, uint64_t *links)
{
	text_input *in = text_input_open(path, jsonl_key);
	if (!in)
		return -1;
	const uint8_t *buf;
	bool doc_start;
	long n;
	while ((n = text_input_read(in, &buf, &doc_start)) > 0)
		if (reader_feed(r, buf, (size_t)n, doc_start) != 0)
			break;
	*links += text_input_links_skipped(in);
	text_input_close(in);
	if (n != 0)
		return -1;
	return reader_end_doc(r);
}

static learn_counts *counts_new(void)
{
	learn_counts *c = calloc(1, sizeof *c);
	if (!c || piece_table_init(&c->table) != 0) {
		free(c);
		lm_fail("out of memory");
		return NULL;
	}
	return c;
}

/* The reader's end: C with its byte count, or NULL (C freed) on failure. */
static learn_counts *counts_finish(learn_counts *c, reader *r, int rc)
{
	rc = reader_finish(r, rc);
	c->bytes = r->bytes;
	if (rc != 0) {
		learn_counts_free(c);
		return NULL;
	}
	return c;
}

learn_counts *learn_count_files(const char *const *paths, int n_paths, const learn_options *o)
{
	learn_counts *c = counts_new();
	if (!c)
		return NULL;
	reader r;
	int rc = reader_start(&r, o, &c->table);
	static const char *const std_in[] = {"-"};
	if (n_paths == 0) {
		paths = std_in;
		n_paths = 1;
	}
	for (int i = 0; rc == 0 && i < n_paths; i++)
		rc = feed_file(&r, paths[i] ? paths[i] : "-", o->jsonl_key, &c->links_skipped);
	return counts_finish(c, &r, rc);
}

learn_counts *learn_count_text(const uint8_t *text, size_t n, const learn_options *o)
{
	learn_counts *c = counts_new();
	if (!c)
		return NULL;
	reader r;
	int rc = reader_start(&r, o, &c->table);
	for (size_t i = 0; rc == 0 && i < n; i += FEED_SLICE)
		rc = reader_feed(&r, text + i, n - i < FEED_SLICE ? n - i : FEED_SLICE, i == 0);
	return counts_finish(c, &r, rc);
}

uint64_t learn_counts_distinct(const learn_counts *c)
{
	return c->table.used;
}

uint64_t learn_counts_total(const learn_counts *c)
{
	return c->table.total;
}

uint64_t learn_counts_bytes(const learn_counts *c)
{
	return c->bytes;
}

uint64_t learn_counts_links_skipped(const learn_counts *c)
{
	return c->links_skipped;
}

void learn_counts_each(const learn_counts *c,
		       void (*fn)(const uint8_t *s, size_t n, uint64_t count, void *arg), void *arg)
{
	const piece_table *t = &c->table;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].count)
			fn(t->arena + t->slots[i].off, t->slots[i].len, t->slots[i].count, arg);
}

void learn_counts_free(learn_counts *c)
{
	if (c) {
		piece_table_free(&c->table);
		free(c);
	}
}
