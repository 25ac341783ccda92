/*
 * bpe-learn — learn a byte-level BPE (GPT-2's kind) from text.
 *
 *   bpe-learn [-v VOCAB] [-s SPECIAL]... [-j THREADS] [-o OUT] [--json FILE]
 *             [--jsonl KEY] [-f] [--stats] [FILE...]
 *
 * Writes a merges file (GPT-2's vocab.bpe format) whose ids are: 256 bytes,
 * the merges, then the special tokens. The engine is share/tok/learn.h; this
 * file reads options, checks them before any work, and writes the results.
 */
#include "tok/learn.h"
#include "tok/merges.h"
#include "util/cli.h"
#include "util/error.h"
#include "util/io.h"
#include "util/num.h"
#include "util/threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { DEFAULT_VOCAB = 50257, MAX_THREADS = 1024 };
enum { OPT_JSON = OPT_TOOL_BASE, OPT_JSONL, OPT_STATS };

typedef struct {
	uint64_t vocab;
	const char **specials;
	int n_specials;
	int threads;
	const char *output;      /* NULL: stdout */
	const char *json;        /* encoder.json, or NULL */
	const char *jsonl_key;
	bool force;
	bool stats;
	char **files;
	int n_files;
} learn_args;

static void usage(void)
{
	printf("usage: bpe-learn [-v VOCAB] [-s SPECIAL]... [-j THREADS] [-o OUT] [--json FILE]\n"
	       "                 [--jsonl KEY] [-f] [--stats] [FILE...]\n"
	       "\n"
	       "Learn a byte-level BPE from text and write its merges file (GPT-2's vocab.bpe\n"
	       "format). FILEs may be plain, compressed (gz, xz, zst, bz2) or tar/zip archives\n"
	       "of text; no FILE, or -, reads stdin. Special tokens split the text and are\n"
	       "never merged. Ties go to the lexicographically greater pair of byte strings.\n"
	       "\n"
	       "  -v, --vocab VOCAB     vocabulary size: 256 bytes + merges + specials\n"
	       "                        (default %d)\n"
	       "  -s, --special TEXT    a special token (repeatable), e.g. '<|endoftext|>'\n"
	       "  -j, --threads N       counting threads (default: the CPUs it may run on)\n"
	       "  -o, --output OUT      the merges file (default stdout); written atomically\n"
	       "      --json FILE       also write the matching encoder.json (token -> id)\n"
	       "      --jsonl KEY       the inputs are JSON lines; learn from field KEY\n"
	       "  -f, --force           replace existing output files\n"
	       "      --stats           print bytes, pre-tokens, times and speeds on stderr\n"
	       "  -h, --help            this help\n"
	       "      --version         the version\n",
	       DEFAULT_VOCAB);
}

/* ---- options ------------------------------------------------------------------- */

static void add_special(learn_args *a, const char *s)
{
	if (!*s)
		lm_usage_error("empty special token");
	for (int i = 0; i < a->n_specials; i++)
		if (strcmp(a->specials[i], s) == 0)
			lm_usage_error("special token '%s' given twice", s);
	const char **sp = realloc(a->specials, (size_t)(a->n_specials + 1) * sizeof *sp);
	if (!sp)
		lm_die("out of memory");
	a->specials = sp;
	sp[a->n_specials++] = s;
}

static void parse_args(learn_args *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"vocab", required_argument, NULL, 'v'},
		{"special", required_argument, NULL, 's'},
		{"threads", required_argument, NULL, 'j'},
		{"output", required_argument, NULL, 'o'},
		{"json", required_argument, NULL, OPT_JSON},
		{"jsonl", required_argument, NULL, OPT_JSONL},
		{"force", no_argument, NULL, 'f'},
		{"stats", no_argument, NULL, OPT_STATS},
		CLI_COMMON_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	*a = (learn_args){.vocab = DEFAULT_VOCAB, .threads = threads_default(MAX_THREADS)};
	int opt;
	while ((opt = getopt_long(argc, argv, "v:s:j:o:fh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'v': a->vocab = cli_count("--vocab", optarg); break;
		case 's': add_special(a, optarg); break;
		case 'j': a->threads = cli_int("--threads", optarg, 1, MAX_THREADS); break;
		case 'o': a->output = optarg; break;
		case OPT_JSON: a->json = optarg; break;
		case OPT_JSONL:
			if (!*optarg)
				lm_usage_error("empty --jsonl key");
			a->jsonl_key = optarg;
			break;
		case 'f': a->force = true; break;
		case OPT_STATS: a->stats = true; break;
		default: cli_common(opt, usage);
		}
	}
	if (a->vocab < 256 + (uint64_t)a->n_specials)
		lm_usage_error("vocabulary of %llu is too small: it needs 256 bytes + %d special%s",
			       (unsigned long long)a->vocab, a->n_specials, a->n_specials == 1 ? "" : "s");
	if (a->vocab > UINT32_MAX)
		lm_usage_error("vocabulary of %llu is too large", (unsigned long long)a->vocab);
	if (a->output && strcmp(a->output, "-") == 0)
		a->output = NULL;
	if (a->json && a->output && strcmp(a->json, a->output) == 0)
		lm_usage_error("--json and -o name the same file '%s'", a->json);
	a->files = argv + optind;
	a->n_files = argc - optind;
}

/* Refuse, before any work, to replace files without -f. */
static void check_outputs(const learn_args *a)
{
	const char *outs[] = {a->output, a->json};
	for (int i = 0; i < 2; i++)
		if (outs[i] && strcmp(outs[i], "-") != 0 && !a->force && access(outs[i], F_OK) == 0)
			lm_die("refusing to overwrite '%s' (use -f to force)", outs[i]);
}

/* ---- progress on a terminal ---------------------------------------------------- */

typedef struct {
	struct timespec start;
	bool shown;
} progress_state;

static double clock_seconds(clockid_t id)
{
	struct timespec now;
	clock_gettime(id, &now);
	return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

static double seconds_since(const struct timespec *t)
{
	return clock_seconds(CLOCK_MONOTONIC) - ((double)t->tv_sec + 1e-9 * (double)t->tv_nsec);
}

static void show_progress(const learn_progress *p, void *arg)
{
	progress_state *ps = arg;
	double dt = seconds_since(&ps->start);
	if (p->phase == LEARN_COUNTING)
		fprintf(stderr, "\rbpe-learn: counting: %.1f MB read, %.1f MB/s   ",
			(double)p->bytes / 1e6, dt > 0 ? (double)p->bytes / 1e6 / dt : 0.0);
	else
		fprintf(stderr, "\rbpe-learn: merging: %u / %u merges, %llu distinct pre-tokens   ",
			p->merges_done, p->merges_wanted, (unsigned long long)p->distinct);
	ps->shown = true;
}

/* ---- the closing report --------------------------------------------------------- */

typedef struct {
	uint64_t bytes, total, distinct;
	uint32_t merges;
	double count_s, merge_s;
	double count_cpu_s, merge_cpu_s;  /* CPU time, all threads */
} learn_stats;

static void print_stats(const learn_stats *st)
{
	fprintf(stderr, "bpe-learn: %llu bytes read, %llu pre-tokens, %llu distinct\n",
		(unsigned long long)st->bytes, (unsigned long long)st->total,
		(unsigned long long)st->distinct);
	fprintf(stderr, "bpe-learn: counting %.2f s (%.1f MB/s), %u merges %.2f s\n", st->count_s,
		st->count_s > 0 ? (double)st->bytes / 1e6 / st->count_s : 0.0, st->merges,
		st->merge_s);
	fprintf(stderr, "bpe-learn: CPU time: counting %.2f s, merging %.2f s\n", st->count_cpu_s,
		st->merge_cpu_s);
}

/* ---- main ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	lm_set_progname(argv[0]);
	learn_args a;
	parse_args(&a, argc, argv);
	check_outputs(&a);

	progress_state ps = {0};
	clock_gettime(CLOCK_MONOTONIC, &ps.start);
	learn_options o = {
		.threads = a.threads,
		.specials = a.specials,
		.n_specials = a.n_specials,
		.jsonl_key = a.jsonl_key,
		.progress = isatty(STDERR_FILENO) ? show_progress : NULL,
		.progress_arg = &ps,
	};
	learn_counts *counts = learn_count_files((const char *const *)a.files, a.n_files, &o);
	if (!counts) {
		if (ps.shown)
			fputc('\n', stderr);
		lm_die_last();
	}
	learn_stats st = {
		.bytes = learn_counts_bytes(counts),
		.total = learn_counts_total(counts),
		.distinct = learn_counts_distinct(counts),
		.count_s = seconds_since(&ps.start),
		.count_cpu_s = clock_seconds(CLOCK_PROCESS_CPUTIME_ID),
	};
	uint64_t links = learn_counts_links_skipped(counts);
	bpe_merges m;
	uint32_t n_merges = (uint32_t)(a.vocab - 256 - (uint64_t)a.n_specials);
	int rc = learn_merges(counts, n_merges, &o, &m);
	learn_counts_free(counts);
	if (ps.shown)
		fputc('\n', stderr);
	if (rc != 0)
		lm_die_last();
	st.merges = m.n_merges;
	st.merge_s = seconds_since(&ps.start) - st.count_s;
	st.merge_cpu_s = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - st.count_cpu_s;
	if (links)
		lm_warn("skipped %llu link%s in archives (the files they name are read as members)",
			(unsigned long long)links, links == 1 ? "" : "s");
	if (m.n_merges < n_merges)
		lm_warn("only %u merges: no pair left to merge (vocabulary %u, not %llu)",
			m.n_merges, m.vocab_size, (unsigned long long)a.vocab);
	if (merges_write(&m, a.output ? a.output : "-") != 0 ||
	    (a.json && merges_write_encoder_json(&m, a.json) != 0))
		lm_die_last();
	merges_free(&m);
	free(a.specials);
	if (a.stats)
		print_stats(&st);
	if (stdout_close_checked() != 0)
		lm_die_last();
	return 0;
}
