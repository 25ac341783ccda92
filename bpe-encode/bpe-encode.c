/*
 * bpe-encode — text to a token stream with a byte-level BPE, and back.
 *
 *   bpe-encode [-m MERGES] [-s SPECIAL]... [-j N] [--jsonl KEY] [--u32] [--stats] [FILE...]
 *   bpe-encode -d [-m MERGES] [-s SPECIAL]... [--u32] [FILE...]
 *
 * Output: uint16 little-endian ids on stdout (uint32 with --u32), the ids of
 * tiktoken's encode(text, allowed_special="all"). The default merges are
 * GPT-2's (gpt2.tiktoken, found in $LMPIPE_DATA_DIR, the build tree or the
 * installed share/lmpipe) with <|endoftext|> = 50256.
 *
 * Streaming: input is read into chunks cut at safe points (encoder_safe_cut),
 * so memory stays fixed (beyond the longest pre-token) and the ids equal
 * those of encoding each document whole. Reading, encoding (-j N threads)
 * and writing overlap: a ring of chunk slots, written in input order.
 * Several files, or archive members, are separate texts with nothing
 * between them; --jsonl puts <|endoftext|> before each document.
 */
#include "text/input.h"
#include "tok/encode.h"
#include "tok/merges.h"
#include "tok/tiktoken_ranks.h"
#include "util/cli.h"
#include "util/datadir.h"
#include "util/error.h"
#include "util/io.h"
#include "util/num.h"
#include "util/threads.h"
#include "util/timer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENDOFTEXT "<|endoftext|>"
#define DEFAULT_TABLE GPT2_RANK_TABLE
#define DEFAULT_CHUNK TEXT_INPUT_BLOCK    /* bytes of text a thread encodes at a time */
#define MAX_SPECIALS 256

enum { OPT_JSONL = OPT_TOOL_BASE, OPT_U32, OPT_STATS, OPT_CHUNK };

struct options {
	const char *merges;
	const char *specials[MAX_SPECIALS];
	int n_specials;
	int threads;
	const char *jsonl_key;
	bool u32, stats, decode;
	size_t chunk;            /* bytes a thread encodes at a time */
	char **files;
	int n_files;
};

/* ---- the pipeline -------------------------------------------------------
 *
 * The reader (main thread) fills chunks of about --chunk bytes, cut at safe
 * points (encoder_safe_cut), into a ring of slots; N workers encode slots
 * concurrently (each also converts its ids to their on-disk width); the
 * writer thread writes the slots in input order. A slot is free, filled,
 * taken by a worker, or encoded; at most RING_PER_THREAD * N + 2 are in
 * flight, so memory stays constant whatever the input's size. A slot holds
 * several texts (documents, files) each encoded alone, so small JSON-lines
 * documents do not make small chunks.
 */

enum { SLOT_FREE, SLOT_FILLED, SLOT_TAKEN, SLOT_ENCODED };
enum { RING_PER_THREAD = 2, PROGRESS_EVERY_MS = 250, MAX_THREADS = 1024 };

typedef struct {
	size_t off, len;
	bool eot;                /* an <|endoftext|> precedes this text */
} text_seg;

typedef struct {
	int state;
	uint8_t *text;           /* the texts, back to back */
	size_t len, cap;
	text_seg *segs;          /* [n_segs]: the last one may go on in the next slot */
	int n_segs, segs_cap;
	token_buf ids;
	uint8_t *wbuf;           /* ids in their on-disk width */
	size_t wlen, wcap;
	size_t n_tokens;
} chunk_slot;

typedef struct {
	const bpe_encoder *enc;
	bool u32, progress;
	uint32_t eot;
	size_t chunk;
	int threads;
	pthread_mutex_t mu;
	pthread_cond_t changed;  /* any slot changed state, or the reader ended */
	chunk_slot *ring;        /* [n_slots] */
	int n_slots;
	uint64_t filled;         /* slots published by the reader */
	uint64_t next_encode;    /* the next slot a worker takes */
	bool reader_done;
	unsigned long long bytes, tokens;   /* written so far (the writer's) */
	double t0;
} encode_run;

static void *xrealloc(void *p, size_t n)
{
	if (!(p = realloc(p, n ? n : 1)))
		lm_die("out of memory");
	return p;
}

/* ---- a slot ------------------------------------------------------------ */

static void slot_reserve(chunk_slot *c, size_t more)
{
	if (c->len + more <= c->cap)
		return;
	size_t cap = c->cap ? c->cap : 1 << 16;
	while (cap < c->len + more)
		cap *= 2;
	c->text = xrealloc(c->text, cap);
	c->cap = cap;
}

static void slot_new_seg(chunk_slot *c, bool eot)
{
	if (c->n_segs == c->segs_cap) {
		c->segs_cap = c->segs_cap ? 2 * c->segs_cap : 16;
		c->segs = xrealloc(c->segs, c->segs_cap * sizeof *c->segs);
	}
	c->segs[c->n_segs++] = (text_seg){c->len, 0, eot};
}

static void slot_append(chunk_slot *c, const uint8_t *s, size_t n)
{
	slot_reserve(c, n);
	memcpy(c->text + c->len, s, n);
	c->len += n;
	c->segs[c->n_segs - 1].len += n;
}

/* Encode slot c (a worker, outside the lock) and lay out its ids. */
static void slot_encode(const encode_run *r, encode_state *st, chunk_slot *c)
{
	c->ids.n = 0;
	for (int i = 0; i < c->n_segs; i++) {
		const text_seg *g = &c->segs[i];
		if ((g->eot && token_buf_push(&c->ids, r->eot) != 0) ||
		    encoder_encode(st, c->text + g->off, g->len, &c->ids) != 0)
			lm_die_last();
	}
	size_t w = r->u32 ? 4 : 2, n = c->ids.n;
	if (n * w > c->wcap) {
		c->wcap = n * w;
		c->wbuf = xrealloc(c->wbuf, c->wcap);
	}
	/* locals, not c's fields: a store through c->wbuf might change c
	 * itself, so the compiler reloaded the pointer every id and could not
	 * vectorize (a twenty-fifth of the time on CJK text) */
	const uint32_t *ids = c->ids.ids;
	uint8_t *out = c->wbuf;
	if (w == 2) {
		/* little-endian: one 16-bit store an id, which the compiler
		 * vectorizes (two byte stores cost a twentieth of the time) */
		for (size_t i = 0; i < n; i++) {
			uint16_t v = (uint16_t)ids[i];
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
			v = __builtin_bswap16(v);
#endif
			memcpy(out + 2 * i, &v, 2);
		}
	} else {
		for (size_t i = 0; i < n; i++)
			for (int b = 0; b < 4; b++)
				out[4 * i + b] = (uint8_t)(ids[i] >> (8 * b));
	}
	c->wlen = n * w;
	c->n_tokens = n;
}

static void slot_free(chunk_slot *c)
{
	free(c->text);
	free(c->segs);
	token_buf_free(&c->ids);
	free(c->wbuf);
}

/* ---- workers and the writer -------------------------------------------- */

static void *worker_main(void *arg)
{
	encode_run *r = arg;
	encode_state *st = encode_state_new(r->enc);
	if (!st)
		lm_die_last();
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (r->next_encode == r->filled && !r->reader_done)
			pthread_cond_wait(&r->changed, &r->mu);
		if (r->next_encode == r->filled)
			break;
		chunk_slot *c = &r->ring[r->next_encode++ % r->n_slots];
		c->state = SLOT_TAKEN;
		pthread_mutex_unlock(&r->mu);
		slot_encode(r, st, c);
		pthread_mutex_lock(&r->mu);
		c->state = SLOT_ENCODED;
		pthread_cond_broadcast(&r->changed);
	}
	pthread_mutex_unlock(&r->mu);
	encode_state_free(st);
	return NULL;
}

/* The progress line (stderr is a terminal): rewritten in place, ended with
 * a newline by the last call (final). */
static void progress_print(const encode_run *r, bool final)
{
	char b[32];
	double dt = timer_since(r->t0);
	fprintf(stderr, "\rbpe-encode: %s bytes, %.1f MB/s%s", num_commas(r->bytes, b),
		dt > 0 ? r->bytes / dt / 1e6 : 0.0, final ? "\n" : "");
	fflush(stderr);
}

static void *writer_main(void *arg)
{
	encode_run *r = arg;
	double shown = timer_now();
	pthread_mutex_lock(&r->mu);
	for (uint64_t seq = 0;; seq++) {
		chunk_slot *c = &r->ring[seq % r->n_slots];
		while (!(seq < r->filled && c->state == SLOT_ENCODED) && !(r->reader_done && seq == r->filled))
			pthread_cond_wait(&r->changed, &r->mu);
		if (seq == r->filled)
			break;
		pthread_mutex_unlock(&r->mu);
		if (write_all(1, c->wbuf, c->wlen, "stdout") != 0)
			lm_die_last();
		r->tokens += c->n_tokens;
		r->bytes += c->len;
		if (r->progress && timer_since(shown) >= PROGRESS_EVERY_MS / 1e3) {
			progress_print(r, false);
			shown = timer_now();
		}
		pthread_mutex_lock(&r->mu);
		c->state = SLOT_FREE;
		pthread_cond_broadcast(&r->changed);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* ---- the reader -------------------------------------------------------- */

/* The slot of sequence number seq, for the reader to fill (waits until the
 * writer freed it). */
static chunk_slot *reader_acquire(encode_run *r, uint64_t seq)
{
	chunk_slot *c = &r->ring[seq % r->n_slots];
	pthread_mutex_lock(&r->mu);
	while (c->state != SLOT_FREE)
		pthread_cond_wait(&r->changed, &r->mu);
	pthread_mutex_unlock(&r->mu);
	c->len = 0;
	c->n_segs = 0;
	return c;
}

static void reader_publish(encode_run *r, chunk_slot *c)
{
	pthread_mutex_lock(&r->mu);
	c->state = SLOT_FILLED;
	r->filled++;
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->mu);
}

typedef struct {
	chunk_slot *cur;         /* being filled */
	size_t high;             /* publish once cur holds this much */
	bool new_text;           /* the next piece starts a text */
} reader_state;

/* Publish the slot being filled up to the last safe cut of its last text
 * (or whole, at the end); the rest goes on in a fresh slot. With no cut and
 * no other text in the slot, read on: wait for twice as much, so the search
 * for a cut stays linear overall. */
static void reader_flush(encode_run *r, reader_state *rs, bool end)
{
	chunk_slot *c = rs->cur;
	if (end) {
		if (c->len)
			reader_publish(r, c);
		else
			c->n_segs = 0;
		return;
	}
	text_seg *last = &c->segs[c->n_segs - 1];
	size_t cut = encoder_safe_cut(r->enc, c->text + last->off, last->len);
	if (cut == 0 && c->n_segs == 1) {
		rs->high = 2 * c->len;
		return;
	}
	chunk_slot *next = reader_acquire(r, r->filled + 1);
	text_seg rest = *last;
	if (cut > 0) {
		rest.off += cut;
		rest.len -= cut;
		rest.eot = false;
		last->len = cut;
	} else {
		c->n_segs--;    /* the whole text goes on in the next slot */
	}
	c->len = rest.off;
	slot_new_seg(next, rest.eot);
	slot_append(next, c->text + rest.off, rest.len);
	reader_publish(r, c);
	rs->cur = next;
	rs->high = r->chunk;
}

static void encode_file(encode_run *r, reader_state *rs, const char *path, const char *jsonl_key)
{
	text_input *in = text_input_open(path, jsonl_key);
	if (!in)
		lm_die_last();
	rs->new_text = true;
	for (;;) {
		const uint8_t *piece;
		bool doc_start = false;
		long n = text_input_read(in, &piece, &doc_start);
		if (n < 0)
			lm_die_last();
		if (n == 0)
			break;
		if (doc_start || rs->new_text)
			slot_new_seg(rs->cur, doc_start && jsonl_key);
		rs->new_text = false;
		slot_append(rs->cur, piece, n);
		if (rs->cur->len >= rs->high)
			reader_flush(r, rs, false);
	}
	text_input_close(in);
}

static void run_encode(const bpe_merges *m, struct options *o)
{
	uint32_t eot = UINT32_MAX;
	for (uint32_t i = 0; i < m->n_specials; i++)
		if (strcmp(m->specials[i], ENDOFTEXT) == 0)
			eot = 256 + m->n_merges + i;
	if (o->jsonl_key && eot == UINT32_MAX)
		lm_usage_error("--jsonl needs the special token %s (-s '%s')", ENDOFTEXT, ENDOFTEXT);
	if (refuse_binary_to_tty(1, "token stream") != 0)
		lm_die_last();
	encode_run r = {.threads = o->threads, .u32 = o->u32, .chunk = o->chunk, .eot = eot,
			.progress = isatty(2)};
	if (!(r.enc = encoder_new(m)))
		lm_die_last();
	r.n_slots = RING_PER_THREAD * o->threads + 2;
	if (!(r.ring = calloc(r.n_slots, sizeof *r.ring)))
		lm_die("out of memory");
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.changed, NULL);
	r.t0 = timer_now();
	pthread_t *workers = xrealloc(NULL, o->threads * sizeof *workers), writer;
	for (int i = 0; i < o->threads; i++)
		if (pthread_create(&workers[i], NULL, worker_main, &r) != 0)
			lm_die("cannot start a thread");
	if (pthread_create(&writer, NULL, writer_main, &r) != 0)
		lm_die("cannot start a thread");

	reader_state rs = {.cur = reader_acquire(&r, 0), .high = r.chunk};
	if (o->n_files == 0)
		encode_file(&r, &rs, "-", o->jsonl_key);
	for (int i = 0; i < o->n_files; i++)
		encode_file(&r, &rs, o->files[i], o->jsonl_key);
	reader_flush(&r, &rs, true);
	pthread_mutex_lock(&r.mu);
	r.reader_done = true;
	pthread_cond_broadcast(&r.changed);
	pthread_mutex_unlock(&r.mu);
	for (int i = 0; i < o->threads; i++)
		pthread_join(workers[i], NULL);
	pthread_join(writer, NULL);

	if (stdout_close_checked() != 0)
		lm_die_last();
	double dt = timer_since(r.t0);
	if (r.progress)
		progress_print(&r, true);
	if (o->stats)
		fprintf(stderr, "bpe-encode: %llu bytes, %llu tokens, %.3f bytes/token, %.1f MB/s\n",
			r.bytes, r.tokens, r.tokens ? (double)r.bytes / r.tokens : 0.0,
			dt > 0 ? r.bytes / dt / 1e6 : 0.0);
	if (o->stats)
		fprintf(stderr, "bpe-encode: %d threads\n", o->threads);
	for (int i = 0; i < r.n_slots; i++)
		slot_free(&r.ring[i]);
	free(r.ring);
	free(workers);
	pthread_mutex_destroy(&r.mu);
	pthread_cond_destroy(&r.changed);
	encoder_free((bpe_encoder *)r.enc);
}

static void usage(void)
{
	printf("usage: bpe-encode [-m MERGES] [-s SPECIAL]... [-j N] [--jsonl KEY] [--u32] [--stats] [FILE...]\n"
	       "       bpe-encode -d [-m MERGES] [-s SPECIAL]... [--u32] [FILE...]\n"
	       "\n"
	       "Encode text (files, stdin, archives libarchive reads) into a stream of\n"
	       "uint16 little-endian token ids on stdout, exactly as tiktoken does.\n"
	       "\n"
	       "  -m, --merges FILE    merges (vocab.bpe format) or a .tiktoken rank table;\n"
	       "                       default GPT-2's, with <|endoftext|> = 50256\n"
	       "  -s, --special TEXT   a special token (after the merges, in order); repeatable\n"
	       "  -j, --threads N      encode with N threads (default: the CPUs it may run on)\n"
	       "      --jsonl KEY      read field KEY of JSON lines; each document is\n"
	       "                       preceded by <|endoftext|>\n"
	       "      --u32            write uint32 ids (needed beyond 65536 tokens)\n"
	       "      --stats          print bytes, tokens, bytes/token, MB/s and threads on\n"
	       "                       stderr\n"
	       "      --chunk SIZE     bytes of text a thread encodes at a time (default 128K)\n"
	       "  -d, --decode         read ids (uint16, or uint32 with --u32), write the bytes\n"
	       "  -h, --help           this help\n"
	       "      --version        the version and the features of this build\n"
	       "\n"
	       "Default merges: $LMPIPE_DATA_DIR/" DEFAULT_TABLE ", else the build tree's\n"
	       "build/data, else " LMPIPE_DATADIR ".\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"merges", required_argument, NULL, 'm'},
		{"special", required_argument, NULL, 's'},
		{"threads", required_argument, NULL, 'j'},
		{"jsonl", required_argument, NULL, OPT_JSONL},
		{"u32", no_argument, NULL, OPT_U32},
		{"stats", no_argument, NULL, OPT_STATS},
		{"decode", no_argument, NULL, 'd'},
		{"chunk", required_argument, NULL, OPT_CHUNK},
		CLI_COMMON_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof *o);
	o->threads = threads_default(MAX_THREADS);
	o->chunk = DEFAULT_CHUNK;
	int opt, rc = 0;
	double chunk;
	while (rc == 0 && (opt = cli_getopt(argc, argv, "m:s:j:dh", longopts)) != -1) {
		switch (opt) {
		case 'm': o->merges = optarg; break;
		case 's':
			if (!*optarg)
				return cli_usage_error("empty special token");
			if (o->n_specials == MAX_SPECIALS)
				return cli_usage_error("more than %d special tokens", MAX_SPECIALS);
			o->specials[o->n_specials++] = optarg;
			break;
		case 'j': rc = cli_arg_int("--threads", optarg, 1, MAX_THREADS, &o->threads); break;
		case OPT_JSONL: o->jsonl_key = optarg; break;
		case OPT_U32: o->u32 = true; break;
		case OPT_STATS: o->stats = true; break;
		case 'd': o->decode = true; break;
		case OPT_CHUNK:
			rc = cli_arg_bytes("--chunk", optarg, &chunk);
			if (rc == 0 && chunk < 1)
				return cli_usage_error("--chunk must be at least 1 byte");
			o->chunk = (size_t)chunk;
			break;
		default: return cli_common_option(opt, usage);
		}
	}
	if (rc != 0)
		return rc;
	o->files = argv + optind;
	o->n_files = argc - optind;
	return CLI_RUN;
}

/* ---- the vocabulary ---------------------------------------------------- */

static bool readable(const char *path)
{
	return access(path, R_OK) == 0;
}

/* The default rank table, found by share/util/datadir. */
static char *default_table(void)
{
	static char path[PATH_MAX + 64];
	return (char *)datadir_find(GPT2_RANK_TABLE, path, sizeof path);
}

static void load_vocab(bpe_merges *m, struct options *o)
{
	const char *path = o->merges;
	if (!path) {
		path = default_table();
		if (!path)
			lm_die("cannot find GPT-2's merges (%s): run scripts/fetch-gpt2.sh, set "
			       "LMPIPE_DATA_DIR, or give -m MERGES", DEFAULT_TABLE);
		if (o->n_specials == 0)
			o->specials[o->n_specials++] = ENDOFTEXT;
	}
	if (!readable(path))
		lm_die("cannot open '%s': %s", path, strerror(errno));
	int rc = tiktoken_ranks_sniff(path) ? tiktoken_ranks_read(m, path) : merges_read(m, path);
	if (rc != 0 || merges_add_specials(m, o->specials, o->n_specials) != 0)
		lm_die_last();
	if (!o->u32 && m->vocab_size > 65536)
		lm_die("a vocabulary of %u tokens does not fit uint16: use --u32", m->vocab_size);
}

/* ---- decoding ---------------------------------------------------------- */

static void decode_fd(const bpe_encoder *enc, uint32_t vocab, int fd, const char *name, bool u32)
{
	size_t w = u32 ? 4 : 2, have = 0, cap = 0, len = 0;
	uint8_t raw[1 << 16], *out = NULL;
	uint32_t ids[sizeof raw / 2];
	unsigned long long pos = 0;
	for (;;) {
		long long n = read_full(fd, raw + have, sizeof raw - have, name);
		if (n < 0)
			lm_die_last();
		have += n;
		size_t k = have / w;
		for (size_t i = 0; i < k; i++) {
			const uint8_t *p = raw + i * w;
			ids[i] = u32 ? (uint32_t)p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24
				     : (uint32_t)p[0] | p[1] << 8;
		}
		for (size_t i = 0; i < k; i++)
			if (ids[i] >= vocab)
				lm_die("'%s': token id %u at position %llu is beyond the vocabulary of %u",
				       name, ids[i], pos + i, vocab);
		len = 0;
		if (encoder_decode(enc, ids, k, &out, &len, &cap) != 0)
			lm_die_last();
		if (write_all(1, out, len, "stdout") != 0)
			lm_die_last();
		pos += k;
		memmove(raw, raw + k * w, have - k * w);
		have -= k * w;
		if (n == 0)
			break;
	}
	free(out);
	if (have)
		lm_die("'%s': %zu trailing byte%s: not a whole number of %zu-byte ids", name, have,
		       have == 1 ? "" : "s", w);
}

static void run_decode(const bpe_merges *m, const struct options *o)
{
	bpe_encoder *enc = encoder_new(m);
	if (!enc)
		lm_die_last();
	if (o->n_files == 0)
		decode_fd(enc, m->vocab_size, 0, "stdin", o->u32);
	for (int i = 0; i < o->n_files; i++) {
		bool in = strcmp(o->files[i], "-") == 0;
		int fd = in ? 0 : open(o->files[i], O_RDONLY);
		if (fd < 0)
			lm_die("cannot open '%s': %s", o->files[i], strerror(errno));
		decode_fd(enc, m->vocab_size, fd, in ? "stdin" : o->files[i], o->u32);
		if (!in)
			close(fd);
	}
	if (stdout_close_checked() != 0)
		lm_die_last();
	encoder_free(enc);
}

int main(int argc, char **argv)
{
	lm_set_progname(argv[0]);
	struct options o;
	int status = parse_options(argc, argv, &o);
	if (status != CLI_RUN)
		return status;
	for (int i = 0; i < o.n_files; i++)    /* fail before writing anything */
		if (strcmp(o.files[i], "-") != 0 && !readable(o.files[i]))
			lm_die("cannot open '%s': %s", o.files[i], strerror(errno));
	bpe_merges m;
	load_vocab(&m, &o);
	if (o.decode)
		run_decode(&m, &o);
	else
		run_encode(&m, &o);
	merges_free(&m);
	return 0;
}
