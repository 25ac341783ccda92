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
 * Streaming: input is read into a buffer and encoded up to the last safe cut
 * (encoder_safe_cut), so memory stays fixed (beyond the longest pre-token)
 * and the ids equal those of encoding each document whole. With -j N the
 * buffer is split at safe cuts into N chunks encoded in parallel and written
 * in order.
 */
#include "text/input.h"
#include "tok/encode.h"
#include "tok/merges.h"
#include "tok/tiktoken_ranks.h"
#include "util/cli.h"
#include "util/error.h"
#include "util/io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ENDOFTEXT "<|endoftext|>"
#define DEFAULT_TABLE "gpt2.tiktoken"
#define DEFAULT_CHUNK (1u << 20)    /* bytes of text a thread encodes at a time */
#define MAX_SPECIALS 256

enum { OPT_JSONL = OPT_TOOL_BASE, OPT_U32, OPT_STATS, OPT_CHUNK };

typedef struct {
	const char *merges;
	const char *specials[MAX_SPECIALS];
	int n_specials;
	int threads;
	const char *jsonl_key;
	bool u32, stats, decode;
	size_t chunk;            /* bytes a thread encodes at a time */
	char **files;
	int n_files;
} encode_options;

/* What encoding one run needs: the encoder, a state a thread, the output. */
typedef struct {
	const bpe_encoder *enc;
	encode_state **states;   /* [threads] */
	token_buf *outs;         /* [threads] */
	int threads;
	bool u32;
	size_t chunk;
	uint8_t *wbuf;           /* ids in their on-disk width */
	size_t wcap;
	unsigned long long bytes, tokens;
} encode_run;

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
	       "  -j, --threads N      encode with N threads (default 1)\n"
	       "      --jsonl KEY      read field KEY of JSON lines; each document is\n"
	       "                       preceded by <|endoftext|>\n"
	       "      --u32            write uint32 ids (needed beyond 65536 tokens)\n"
	       "      --stats          print bytes, tokens, bytes/token and MB/s on stderr\n"
	       "      --chunk SIZE     bytes of text a thread encodes at a time (default 1M)\n"
	       "  -d, --decode         read ids (uint16, or uint32 with --u32), write the bytes\n"
	       "  -h, --help           this help\n"
	       "      --version        the version\n"
	       "\n"
	       "Default merges: $LMPIPE_DATA_DIR/" DEFAULT_TABLE ", else the build tree's\n"
	       "build/data, else " LMPIPE_DATADIR ".\n");
}

static void parse_options(encode_options *o, int argc, char **argv)
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
	o->threads = 1;
	o->chunk = DEFAULT_CHUNK;
	int opt;
	while ((opt = getopt_long(argc, argv, "m:s:j:dh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm': o->merges = optarg; break;
		case 's':
			if (!*optarg)
				lm_usage_error("empty special token");
			if (o->n_specials == MAX_SPECIALS)
				lm_usage_error("more than %d special tokens", MAX_SPECIALS);
			o->specials[o->n_specials++] = optarg;
			break;
		case 'j': o->threads = cli_int("-j", optarg, 1, 1024); break;
		case OPT_JSONL: o->jsonl_key = optarg; break;
		case OPT_U32: o->u32 = true; break;
		case OPT_STATS: o->stats = true; break;
		case 'd': o->decode = true; break;
		case OPT_CHUNK:
			o->chunk = (size_t)cli_bytes("--chunk", optarg);
			if (o->chunk < 1)
				lm_usage_error("--chunk must be at least 1 byte");
			break;
		default: cli_common(opt, usage);
		}
	}
	o->files = argv + optind;
	o->n_files = argc - optind;
}

/* ---- the vocabulary ---------------------------------------------------- */

static bool readable(const char *path)
{
	return access(path, R_OK) == 0;
}

/* The default rank table: $LMPIPE_DATA_DIR, the build tree, the install. */
static char *default_table(void)
{
	static char path[PATH_MAX + 64];
	const char *env = getenv("LMPIPE_DATA_DIR");
	if (env && *env) {
		snprintf(path, sizeof path, "%s/%s", env, DEFAULT_TABLE);
		if (readable(path))
			return path;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(path, sizeof path, "%s/../../data/%s", exe, DEFAULT_TABLE);
			if (readable(path))
				return path;
		}
	}
	snprintf(path, sizeof path, "%s/%s", LMPIPE_DATADIR, DEFAULT_TABLE);
	if (readable(path))
		return path;
	return NULL;
}

static void load_vocab(bpe_merges *m, encode_options *o)
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

/* ---- output ------------------------------------------------------------ */

static void write_ids(encode_run *r, const uint32_t *ids, size_t n)
{
	size_t w = r->u32 ? 4 : 2;
	if (n * w > r->wcap) {
		r->wcap = n * w;
		if (!(r->wbuf = realloc(r->wbuf, r->wcap)))
			lm_die("out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t v = ids[i];
		uint8_t *p = r->wbuf + i * w;
		p[0] = v;
		p[1] = v >> 8;
		if (w == 4) {
			p[2] = v >> 16;
			p[3] = v >> 24;
		}
	}
	if (write_all(1, r->wbuf, n * w, "stdout") != 0)
		lm_die_last();
	r->tokens += n;
}

/* ---- encoding ---------------------------------------------------------- */

/* Encode s[0..n) (ending at a safe cut, or at a document's end) with the
 * run's threads, and write the ids in order. */
static void encode_span(encode_run *r, const uint8_t *s, size_t n)
{
	int k = r->threads;
	if (n < (size_t)k * 256)
		k = 1;
	size_t bound[1025];
	bound[0] = 0;
	bound[k] = n;
	for (int i = 1; i < k; i++) {
		size_t target = n / k * i;
		size_t p = encoder_safe_cut(r->enc, s, target);
		bound[i] = p > bound[i - 1] ? p : bound[i - 1];
	}
	int failed = 0;
	#pragma omp parallel for num_threads(k) schedule(static, 1) reduction(|:failed)
	for (int i = 0; i < k; i++) {
		r->outs[i].n = 0;
		failed |= encoder_encode(r->states[i], s + bound[i], bound[i + 1] - bound[i], &r->outs[i]) != 0;
	}
	if (failed)
		lm_die("out of memory");
	for (int i = 0; i < k; i++)
		write_ids(r, r->outs[i].ids, r->outs[i].n);
	r->bytes += n;
}

typedef struct {
	uint8_t *buf;
	size_t len, cap;
} text_buf;

static void text_append(text_buf *t, const uint8_t *s, size_t n)
{
	if (t->len + n > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->len + n)
			cap *= 2;
		if (!(t->buf = realloc(t->buf, cap)))
			lm_die("out of memory");
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
}

/* Encode the buffered text up to its last safe cut; keep the rest. */
static void flush_safe(encode_run *r, text_buf *t)
{
	size_t cut = encoder_safe_cut(r->enc, t->buf, t->len);
	if (cut == 0)
		return;    /* one long pre-token: read on */
	encode_span(r, t->buf, cut);
	memmove(t->buf, t->buf + cut, t->len - cut);
	t->len -= cut;
}

static void flush_all(encode_run *r, text_buf *t)
{
	if (t->len)
		encode_span(r, t->buf, t->len);
	t->len = 0;
}

static void encode_file(encode_run *r, const char *path, const encode_options *o, uint32_t eot, text_buf *t)
{
	text_input *in = text_input_open(path, o->jsonl_key);
	if (!in)
		lm_die_last();
	size_t high = r->chunk * r->threads;
	for (;;) {
		const uint8_t *piece;
		bool doc_start = false;
		long n = text_input_read(in, &piece, &doc_start);
		if (n < 0)
			lm_die_last();
		if (n == 0)
			break;
		if (doc_start) {
			flush_all(r, t);    /* a document's end is a text's end */
			if (o->jsonl_key)
				write_ids(r, &eot, 1);
		}
		text_append(t, piece, n);
		if (t->len >= high) {
			flush_safe(r, t);
			/* no cut (one long pre-token): wait for twice as much, so
			 * the search for a cut stays linear overall */
			high = t->len >= high ? 2 * t->len : r->chunk * r->threads;
		}
	}
	flush_all(r, t);
	text_input_close(in);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void run_encode(const bpe_merges *m, encode_options *o)
{
	uint32_t eot = UINT32_MAX;
	for (uint32_t i = 0; i < m->n_specials; i++)
		if (strcmp(m->specials[i], ENDOFTEXT) == 0)
			eot = 256 + m->n_merges + i;
	if (o->jsonl_key && eot == UINT32_MAX)
		lm_usage_error("--jsonl needs the special token %s (-s '%s')", ENDOFTEXT, ENDOFTEXT);
	if (refuse_binary_to_tty(1, "token stream") != 0)
		lm_die_last();
	encode_run r = {.threads = o->threads, .u32 = o->u32, .chunk = o->chunk};
	if (!(r.enc = encoder_new(m)))
		lm_die_last();
	r.states = calloc(o->threads, sizeof *r.states);
	r.outs = calloc(o->threads, sizeof *r.outs);
	if (!r.states || !r.outs)
		lm_die("out of memory");
	for (int i = 0; i < o->threads; i++)
		if (!(r.states[i] = encode_state_new(r.enc)))
			lm_die_last();
	text_buf t = {0};
	double t0 = now();
	if (o->n_files == 0)
		encode_file(&r, "-", o, eot, &t);
	for (int i = 0; i < o->n_files; i++)
		encode_file(&r, o->files[i], o, eot, &t);
	if (stdout_close_checked() != 0)
		lm_die_last();
	double dt = now() - t0;
	if (o->stats)
		fprintf(stderr, "bpe-encode: %llu bytes, %llu tokens, %.3f bytes/token, %.1f MB/s\n",
			r.bytes, r.tokens, r.tokens ? (double)r.bytes / r.tokens : 0.0,
			dt > 0 ? r.bytes / dt / 1e6 : 0.0);
	for (int i = 0; i < o->threads; i++) {
		encode_state_free(r.states[i]);
		token_buf_free(&r.outs[i]);
	}
	free(r.states);
	free(r.outs);
	free(r.wbuf);
	free(t.buf);
	encoder_free((bpe_encoder *)r.enc);
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

static void run_decode(const bpe_merges *m, const encode_options *o)
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
	encode_options o;
	parse_options(&o, argc, argv);
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
