/*
 * shard — a token stream to llm.c shards; shard --info checks shards.
 *
 *     bpe-encode corpus.txt | shard -o data/      # data/shard_val_000000.bin, shard_train_000001.bin, ...
 *     shard --info data/shard_*
 *
 * What it promises: a shard on disk is whole (temp name, fsync, rename; a
 * kill -9 at any moment leaves only complete shards and maybe one temp file
 * named *.tmp.*, which no reader takes for a shard); nothing existing is
 * overwritten without -f; memory stays at one chunk for plain shards and one
 * shard for compressed ones; bad input (no tokens, half a token, an id past
 * --vocab or past uint16) stops with an error naming the file and the place,
 * and the shard being written is dropped.
 */
#include "data/shard.h"
#include "util/cli.h"
#include "util/error.h"
#include "util/io.h"
#include "util/num.h"
#include "util/threads.h"
#include "util/timer.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define DEFAULT_SHARD_TOKENS 100000000ULL
#define DEFAULT_PREFIX "shard"
#define DEFAULT_ZSTD_LEVEL 3
#define CHUNK_BYTES (4u << 20)  /* read size: 4 MiB */
#define VAL_DEFAULT UINT64_MAX  /* --val-tokens not given: the first shard */

static void usage(void)
{
	printf("usage: shard -o DIR [options] [FILE...]\n"
	       "       shard --info [--json] [--eot ID] [--head N] SHARD...\n"
	       "\n"
	       "Cut a token stream (raw little-endian uint16, no header; FILEs or stdin)\n"
	       "into llm.c / modded-nanogpt shards: DIR/PREFIX_val_000000.bin,\n"
	       "DIR/PREFIX_train_000001.bin, ...\n"
	       "\n"
	       "  -o, --output DIR        where the shards go (made if missing)\n"
	       "  -n, --tokens N          tokens a shard (default 100M)\n"
	       "      --val-tokens N      the first N tokens go to val shards (default: the\n"
	       "                          first shard; 0: no val shard)\n"
	       "      --prefix P          shard names start with P (default '%s')\n"
	       "      --start-index I     number the first shard I (default 0)\n"
	       "      --zstd[=LEVEL]      write .bin.zst (level %d; `--zstd 19` works too)\n"
	       "  -j, --threads N         zstd compression threads (default: the CPUs it may run on)\n"
	       "      --u32               the input is uint32 tokens (each must fit uint16)\n"
	       "      --vocab N           refuse any token >= N\n"
	       "  -f, --force             overwrite existing shards\n"
	       "  -v, --verbose           name each shard written (and with --zstd, the threads)\n"
	       "                          on stderr\n"
	       "\n"
	       "  --info                  check each SHARD (magic, version, size, zstd integrity)\n"
	       "                          and print its tokens, id range, documents, first ids\n"
	       "  --json                  --info as JSON lines\n"
	       "  --eot ID                the end-of-text id counted as documents (default %d)\n"
	       "  --head N                how many first tokens --info shows (default 8)\n"
	       "\n"
	       "  -h, --help              this help\n"
	       "      --version           the version and the features of this build\n",
	       DEFAULT_PREFIX, DEFAULT_ZSTD_LEVEL, SHARD_EOT_GPT2);
}

/* ---- options ------------------------------------------------------------------ */

struct options {
	const char *dir, *prefix;
	uint64_t shard_tokens, val_tokens, start_index, vocab;
	bool zstd, u32, force, verbose;
	int zstd_level, threads;
	bool info, json;
	uint64_t eot;
	int head;
};

enum {
	OPT_VAL = OPT_TOOL_BASE, OPT_PREFIX, OPT_START, OPT_ZSTD, OPT_U32, OPT_VOCAB,
	OPT_INFO, OPT_JSON, OPT_EOT, OPT_HEAD,
};
enum { MAX_THREADS = 256 };  /* zstd's ZSTDMT_NBWORKERS_MAX on 64-bit */

static bool looks_like_int(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int zstd_level_arg(const char *arg, int *level)
{
	return cli_arg_int("--zstd", arg, ZSTD_minCLevel(), ZSTD_maxCLevel(), level);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"tokens", required_argument, NULL, 'n'},
		{"val-tokens", required_argument, NULL, OPT_VAL},
		{"prefix", required_argument, NULL, OPT_PREFIX},
		{"start-index", required_argument, NULL, OPT_START},
		{"zstd", optional_argument, NULL, OPT_ZSTD},
		{"threads", required_argument, NULL, 'j'},
		{"u32", no_argument, NULL, OPT_U32},
		{"vocab", required_argument, NULL, OPT_VOCAB},
		{"force", no_argument, NULL, 'f'},
		{"verbose", no_argument, NULL, 'v'},
		{"info", no_argument, NULL, OPT_INFO},
		{"json", no_argument, NULL, OPT_JSON},
		{"eot", required_argument, NULL, OPT_EOT},
		{"head", required_argument, NULL, OPT_HEAD},
		CLI_COMMON_OPTIONS,
		{0},
	};
	*o = (struct options){.prefix = DEFAULT_PREFIX, .shard_tokens = DEFAULT_SHARD_TOKENS,
			   .val_tokens = VAL_DEFAULT, .vocab = 65536,
			   .zstd_level = DEFAULT_ZSTD_LEVEL, .threads = threads_default(MAX_THREADS),
			   .eot = SHARD_EOT_GPT2, .head = 8};
	int c, rc = 0;
	while (rc == 0 && (c = cli_getopt(argc, argv, "o:n:j:fvh", longopts)) != -1) {
		switch (c) {
		case 'o': o->dir = optarg; break;
		case 'n': rc = cli_arg_count("-n", optarg, &o->shard_tokens); break;
		case OPT_VAL: rc = cli_arg_count("--val-tokens", optarg, &o->val_tokens); break;
		case OPT_PREFIX: o->prefix = optarg; break;
		case OPT_START: rc = cli_arg_count("--start-index", optarg, &o->start_index); break;
		case OPT_ZSTD:
			o->zstd = true;
			if (optarg)
				rc = zstd_level_arg(optarg, &o->zstd_level);
			else if (optind < argc && looks_like_int(argv[optind]))
				rc = zstd_level_arg(argv[optind++], &o->zstd_level);
			break;
		case 'j': rc = cli_arg_int("--threads", optarg, 1, MAX_THREADS, &o->threads); break;
		case OPT_U32: o->u32 = true; break;
		case OPT_VOCAB: rc = cli_arg_count("--vocab", optarg, &o->vocab); break;
		case 'f': o->force = true; break;
		case 'v': o->verbose = true; break;
		case OPT_INFO: o->info = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_EOT: rc = cli_arg_count("--eot", optarg, &o->eot); break;
		case OPT_HEAD: rc = cli_arg_int("--head", optarg, 0, 1000000, &o->head); break;
		default: return cli_common_option(c, usage);
		}
	}
	if (rc != 0)
		return rc;
	if (o->info)
		return optind < argc ? CLI_RUN : cli_usage_error("--info: no shard named");
	if (!o->dir)
		return cli_usage_error("no output directory (-o DIR)");
	if (o->shard_tokens < 1 || o->shard_tokens > SHARD_MAX_TOKENS)
		return cli_usage_error("-n: a shard holds 1 to %d tokens, not %llu",
				       SHARD_MAX_TOKENS, (unsigned long long)o->shard_tokens);
	if (o->vocab < 1 || o->vocab > 65536)
		return cli_usage_error("--vocab: shards store uint16, so 1 to 65536, not %llu",
				       (unsigned long long)o->vocab);
	if (!*o->prefix || strchr(o->prefix, '/'))
		return cli_usage_error("--prefix: '%s' is not a file name prefix", o->prefix);
	if (o->zstd_level == 0)
		o->zstd_level = ZSTD_CLEVEL_DEFAULT;  /* zstd's own meaning of 0 */
	return CLI_RUN;
}

/* ---- signals: the temp file goes when we are told to stop ---------------- */

static const char *volatile g_tmp_path;

static void on_signal(int sig)
{
	const char *p = g_tmp_path;
	if (p)
		unlink(p);
	signal(sig, SIG_DFL);
	raise(sig);
}

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};

static void catch_signals(void)
{
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
		signal(stop_signals[i], on_signal);
}

/* While a temp file is made or renamed into place, g_tmp_path cannot name
 * it exactly (it is set after the file exists, cleared before the rename),
 * so the stop signals wait until the file and g_tmp_path agree again. */
static void stop_signals_hold(sigset_t *old)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
		sigaddset(&set, stop_signals[i]);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

static void stop_signals_release(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* ---- the sink: tokens in, shards out ------------------------------------------ */

struct sink {
	const struct options *o;
	uint64_t index;          /* the next shard's number */
	uint64_t val_left;       /* tokens still owed to val */
	uint64_t total;          /* tokens in committed shards */
	unsigned nval, ntrain;
	/* the shard being written */
	bool open, is_val;
	char path[4096];
	uint64_t cap, have;
	shard_stream st;         /* plain */
	uint16_t *buf;           /* zstd: the whole shard */
	uint64_t buf_cap;
	/* progress */
	bool tty;
	double t0, last;
};

static void shard_name(const struct options *o, bool val, uint64_t index, bool zstd, char *out,
		       size_t n)
{
	snprintf(out, n, "%s/%s_%s_%06llu.bin%s", o->dir, o->prefix, val ? "val" : "train",
		 (unsigned long long)index, zstd ? ".zst" : "");
}

/* The same shard under the other extension counts as existing too. */
static int check_twin(struct sink *s)
{
	char twin[sizeof s->path];
	shard_name(s->o, s->is_val, s->index, !s->o->zstd, twin, sizeof twin);
	if (!s->o->force && access(twin, F_OK) == 0)
		return lm_fail("refusing to overwrite shard %llu: '%s' exists (use -f to force)",
			       (unsigned long long)s->index, twin);
	return 0;
}

static int sink_start(struct sink *s)
{
	const struct options *o = s->o;
	s->is_val = s->val_left > 0;
	s->cap = s->is_val && s->val_left < o->shard_tokens ? s->val_left : o->shard_tokens;
	s->have = 0;
	shard_name(o, s->is_val, s->index, o->zstd, s->path, sizeof s->path);
	if (check_twin(s) != 0)
		return -1;
	if (o->zstd) {
		if (!o->force && access(s->path, F_OK) == 0)
			return lm_fail("refusing to overwrite '%s' (use -f to force)", s->path);
		if (s->buf_cap < s->cap) {
			free(s->buf);
			s->buf_cap = 0;
			if (!(s->buf = malloc(2 * s->cap)))
				return lm_fail("out of memory for a shard of %llu tokens",
					       (unsigned long long)s->cap);
			s->buf_cap = s->cap;
		}
	} else {
		sigset_t old;
		stop_signals_hold(&old);
		int rc = shard_stream_open(&s->st, s->path, o->force);
		g_tmp_path = rc == 0 ? shard_stream_tmp_path(&s->st) : NULL;
		stop_signals_release(&old);
		if (rc != 0)
			return -1;
	}
	s->open = true;
	return 0;
}

static int sink_finish(struct sink *s)
{
	const struct options *o = s->o;
	int rc;
	if (o->zstd) {
		shard_write_opts wo = {o->zstd_level, o->threads, o->force, &g_tmp_path};
		rc = shard_write(s->path, s->buf, s->have, &wo);
	} else {
		sigset_t old;
		stop_signals_hold(&old);
		g_tmp_path = NULL;
		rc = shard_stream_commit(&s->st);
		stop_signals_release(&old);
	}
	s->open = false;
	if (rc != 0)
		return -1;
	if (o->force) {  /* drop an older copy of this shard under the other extension */
		char twin[sizeof s->path];
		shard_name(o, s->is_val, s->index, !o->zstd, twin, sizeof twin);
		unlink(twin);
	}
	if (o->verbose) {
		char c[32];
		fprintf(stderr, "%s%s: wrote '%s' (%s tokens)\n", s->tty ? "\r\033[K" : "",
			lm_progname, s->path, num_commas(s->have, c));
	}
	s->total += s->have;
	*(s->is_val ? &s->nval : &s->ntrain) += 1;
	s->index++;
	return 0;
}

static void sink_abort(struct sink *s)
{
	if (s->open && !s->o->zstd) {
		sigset_t old;
		stop_signals_hold(&old);
		g_tmp_path = NULL;
		shard_stream_abort(&s->st);
		stop_signals_release(&old);
	}
	s->open = false;
}

static void sink_progress(struct sink *s, bool force)
{
	double t = timer_now();
	if (!s->tty || (!force && t - s->last < 0.5))
		return;
	s->last = t;
	char c[32], r[32];
	uint64_t tok = s->total + (s->open ? s->have : 0);
	fprintf(stderr, "\r\033[K%s: %s tokens, %u shards, %s/s", lm_progname, num_commas(tok, c),
		s->nval + s->ntrain, num_bytes(2.0 * (double)tok / (t - s->t0 + 1e-9), r));
}

static int sink_put(struct sink *s, const uint16_t *tok, size_t n)
{
	while (n > 0) {
		if (!s->open && sink_start(s) != 0)
			return -1;
		uint64_t room = s->cap - s->have;
		size_t take = n < room ? n : (size_t)room;
		if (s->o->zstd)
			memcpy(s->buf + s->have, tok, 2 * take);
		else if (shard_stream_write(&s->st, tok, take) != 0)
			return -1;
		s->have += take;
		if (s->is_val)
			s->val_left -= take;
		tok += take;
		n -= take;
		if (s->have == s->cap && sink_finish(s) != 0)
			return -1;
	}
	sink_progress(s, false);
	return 0;
}

/* ---- reading the stream --------------------------------------------------------- */

struct input {
	const char *name;   /* for messages */
	uint64_t pos;       /* tokens read from it so far */
};

/* Check ids and narrow to uint16 in place; n tokens of width w at buf. */
static int check_tokens(const struct options *o, struct input *in, uint8_t *buf, size_t n)
{
	uint16_t *out = (uint16_t *)buf;
	if (o->u32) {
		const uint32_t *t32 = (const uint32_t *)buf;
		for (size_t i = 0; i < n; i++) {
			uint32_t v = t32[i];
			if (v >= o->vocab)
				return lm_fail("%s: token %u at position %llu is %s %llu", in->name, v,
					       (unsigned long long)(in->pos + i),
					       v > 65535 ? "too large for uint16 shards, limit"
							 : "outside the vocabulary, --vocab",
					       (unsigned long long)(v > 65535 ? 65536 : o->vocab));
			out[i] = (uint16_t)v;
		}
	} else if (o->vocab < 65536) {
		for (size_t i = 0; i < n; i++)
			if (out[i] >= o->vocab)
				return lm_fail("%s: token %u at position %llu is outside the "
					       "vocabulary, --vocab %llu",
					       in->name, out[i], (unsigned long long)(in->pos + i),
					       (unsigned long long)o->vocab);
	}
	return 0;
}

static int read_stream(struct sink *s, int fd, const char *name, uint8_t *buf)
{
	const struct options *o = s->o;
	size_t width = o->u32 ? 4 : 2, carry = 0;
	struct input in = {name, 0};
	(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);  /* fewer, larger reads from a pipe */
	for (;;) {
		/* one read(), not a full chunk: a slow producer's tokens reach disk as they come */
		ssize_t got = read(fd, buf + carry, CHUNK_BYTES - carry);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return lm_fail_errno("cannot read %s", name);
		size_t have = carry + (size_t)got;
		size_t n = have / width;
		if (n > 0) {
			if (check_tokens(o, &in, buf, n) != 0 || sink_put(s, (uint16_t *)buf, n) != 0)
				return -1;
			in.pos += n;
		}
		carry = have - n * width;
		if (carry)
			memmove(buf, buf + n * width, carry);
		if (got == 0)
			break;
	}
	if (carry)
		return lm_fail("%s ends in half a token: %llu bytes is not a whole number of "
			       "%zu-byte tokens",
			       name, (unsigned long long)(in.pos * width + carry), width);
	return 0;
}

static int read_one(struct sink *s, const char *file, uint8_t *buf)
{
	if (strcmp(file, "-") == 0)
		return read_stream(s, 0, "standard input", buf);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lm_fail_errno("cannot open '%s'", file);
	char name[4200];
	snprintf(name, sizeof name, "'%s'", file);
	int rc = read_stream(s, fd, name, buf);
	close(fd);
	return rc;
}

static int run_shard(const struct options *o, int nfiles, char **files)
{
	if (mkdir_p(o->dir) != 0)
		return -1;
	if (o->verbose && o->zstd)
		fprintf(stderr, "%s: %d threads\n", lm_progname, o->threads);
	struct sink s = {.o = o, .index = o->start_index, .tty = isatty(2), .t0 = timer_now()};
	s.val_left = o->val_tokens == VAL_DEFAULT ? o->shard_tokens : o->val_tokens;
	uint8_t *buf = malloc(CHUNK_BYTES);
	if (!buf)
		return lm_fail("out of memory");
	catch_signals();
	int rc = 0;
	if (nfiles == 0)
		rc = read_one(&s, "-", buf);
	for (int i = 0; rc == 0 && i < nfiles; i++)
		rc = read_one(&s, files[i], buf);
	if (rc == 0 && s.open && s.have > 0)
		rc = sink_finish(&s);
	if (rc != 0)
		sink_abort(&s);
	else if (s.total == 0)
		rc = lm_fail("empty input: no tokens to shard");
	if (s.tty) {
		sink_progress(&s, true);
		fputc('\n', stderr);
	}
	if (rc == 0 && s.ntrain == 0)
		lm_warn("all %llu tokens went to val, no train shard (see --val-tokens)",
			(unsigned long long)s.total);
	free(buf);
	free(s.buf);
	return rc;
}

/* ---- --info --------------------------------------------------------------------- */

struct info {
	uint64_t ntok, docs, bytes;
	uint16_t lo, hi;
	uint16_t *head;
	int nhead;
	bool zstd;
};

static int info_scan(const struct options *o, const char *path, struct info *f, uint16_t *buf,
		     size_t cap)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return lm_fail_errno("cannot open '%s'", path);
	f->bytes = (uint64_t)st.st_size;
	f->zstd = shard_path_is_zstd(path);
	shard_reader *r = shard_reader_open(path);
	if (!r)
		return -1;
	f->ntok = shard_reader_count(r);
	f->lo = UINT16_MAX;
	f->hi = 0;
	long long got;
	while ((got = shard_reader_read(r, buf, cap)) > 0) {
		for (long long i = 0; i < got; i++) {
			uint16_t t = buf[i];
			f->lo = t < f->lo ? t : f->lo;
			f->hi = t > f->hi ? t : f->hi;
			f->docs += t == o->eot;
			if (f->nhead < o->head)
				f->head[f->nhead++] = t;
		}
	}
	shard_reader_close(r);
	return got < 0 ? -1 : 0;
}

static void info_print_json(const char *path, const struct info *f)
{
	json_t *head = json_array();
	for (int i = 0; i < f->nhead; i++)
		json_array_append_new(head, json_integer(f->head[i]));
	json_t *j = json_object();
	json_object_set_new(j, "file", json_string(path));
	json_object_set_new(j, "format", json_string(f->zstd ? "bin.zst" : "bin"));
	json_object_set_new(j, "version", json_integer(SHARD_VERSION));
	json_object_set_new(j, "tokens", json_integer((json_int_t)f->ntok));
	json_object_set_new(j, "bytes", json_integer((json_int_t)f->bytes));
	if (f->ntok > 0) {
		json_object_set_new(j, "min", json_integer(f->lo));
		json_object_set_new(j, "max", json_integer(f->hi));
	}
	json_object_set_new(j, "documents", json_integer((json_int_t)f->docs));
	json_object_set_new(j, "head", head);
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s)
		puts(s);
	free(s);
	json_decref(j);
}

static void info_print(const char *path, const struct info *f)
{
	char c[32], d[32];
	printf("%s: %s tokens", path, num_commas(f->ntok, c));
	if (f->ntok > 0)
		printf(", ids %u..%u", f->lo, f->hi);
	printf(", %s documents", num_commas(f->docs, d));
	if (f->zstd)
		printf(", zstd %.1f%%", 100.0 * (double)f->bytes /
						   (double)(SHARD_HEADER_BYTES + 2 * f->ntok));
	if (f->nhead > 0) {
		printf(", first:");
		for (int i = 0; i < f->nhead; i++)
			printf(" %u", f->head[i]);
		if ((uint64_t)f->nhead < f->ntok)
			printf(" ...");
	}
	putchar('\n');
}

static int run_info(const struct options *o, int nfiles, char **files)
{
	size_t cap = 1 << 20;
	uint16_t *buf = malloc(cap * sizeof *buf);
	uint16_t *head = malloc(((size_t)o->head + 1) * sizeof *head);
	if (!buf || !head)
		lm_die("out of memory");
	int bad = 0, good = 0;
	uint64_t tokens = 0, docs = 0;
	for (int i = 0; i < nfiles; i++) {
		struct info f = {.head = head};
		if (info_scan(o, files[i], &f, buf, cap) != 0) {
			lm_warn("%s", lm_last_error());
			bad++;
			continue;
		}
		if (o->json)
			info_print_json(files[i], &f);
		else
			info_print(files[i], &f);
		good++;
		tokens += f.ntok;
		docs += f.docs;
	}
	if (!o->json && good > 1) {
		char c[32], d[32];
		printf("total: %d shards, %s tokens, %s documents\n", good, num_commas(tokens, c),
		       num_commas(docs, d));
	}
	free(buf);
	free(head);
	if (bad)
		lm_fail("%d of %d files failed their checks", bad, nfiles);
	return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
	lm_set_progname(argv[0]);
	struct options o;
	int status = parse_options(argc, argv, &o);
	if (status != CLI_RUN)
		return status;
	int rc = o.info ? run_info(&o, argc - optind, argv + optind)
			: run_shard(&o, argc - optind, argv + optind);
	if (rc != 0)
		lm_die_last();
	if (stdout_close_checked() != 0)
		lm_die_last();
	return 0;
}
