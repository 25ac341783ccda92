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
#include "util/timer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { DEFAULT_VOCAB = 50257, MAX_THREADS = 1024 };
enum { OPT_JSON = OPT_TOOL_BASE, OPT_JSONL, OPT_STATS };

struct options {
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
};

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
	       "      --stats           print bytes, pre-tokens, threads, times and speeds on\n"
	       "                        stderr\n"
	       "  -h, --help            this help\n"
	       "      --version         the version and the features of this build\n",
	       DEFAULT_VOCAB);
}

/* ---- options ------------------------------------------------------------------- */

/* 0, or the usage error's exit status. */
static int add_special(struct options *o, const char *s)
{
	if (!*s)
		return cli_usage_error("empty special token");
	for (int i = 0; i < o->n_specials; i++)
		if (strcmp(o->specials[i], s) == 0)
			return cli_usage_error("special token '%s' given twice", s);
	const char **sp = realloc(o->specials, (size_t)(o->n_specials + 1) * sizeof *sp);
	if (!sp)
		lm_die("out of memory");
	o->specials = sp;
	sp[o->n_specials++] = s;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
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
	*o = (struct options){.vocab = DEFAULT_VOCAB, .threads = threads_default(MAX_THREADS)};
	int opt, rc = 0;
	while (rc == 0 && (opt = cli_getopt(argc, argv, "v:s:j:o:fh", longopts)) != -1) {
		switch (opt) {
		case 'v': rc = cli_arg_count("--vocab", optarg, &o->vocab); break;
		case 's': rc = add_special(o, optarg); break;
		case 'j': rc = cli_arg_int("--threads", optarg, 1, MAX_THREADS, &o->threads); break;
		case 'o': o->output = optarg; break;
		case OPT_JSON: o->json = optarg; break;
		case OPT_JSONL:
			if (!*optarg)
				return cli_usage_error("empty --jsonl key");
			o->jsonl_key = optarg;
			break;
		case 'f': o->force = true; break;
		case OPT_STATS: o->stats = true; break;
		default: return cli_common_option(opt, usage);
		}
	}
	if (rc != 0)
		return rc;
	if (o->vocab < 256 + (uint64_t)o->n_specials)
		return cli_usage_error("vocabulary of %llu is too small: it needs 256 bytes + %d special%s",
				       (unsigned long long)o->vocab, o->n_specials,
				       o->n_specials == 1 ? "" : "s");
	if (o->vocab > UINT32_MAX)
		return cli_usage_error("vocabulary of %llu is too large", (unsigned long long)o->vocab);
	if (o->output && strcmp(o->output, "-") == 0)
		o->output = NULL;
	if (o->json && o->output && strcmp(o->json, o->output) == 0)
		return cli_usage_error("--json and -o name the same file '%s'", o->json);
	o->files = argv + optind;
	o->n_files = argc - optind;
	return CLI_RUN;
}

/* Refuse, before any work, to replace files without -f. */
static void check_outputs(const struct options *o)
{
	const char *outs[] = {o->output, o->json};
	for (int i = 0; i < 2; i++)
		if (outs[i] && strcmp(outs[i], "-") != 0 && !o->force && access(outs[i], F_OK) == 0)
			lm_die("refusing to overwrite '%s' (use -f to force)", outs[i]);
}

/* ---- progress on a terminal ---------------------------------------------------- */

typedef struct {
	double start;   /* timer_now() */
	bool shown;
} progress_state;

static void show_progress(const learn_progress *p, void *arg)
{
	progress_state *ps = arg;
	double dt = timer_since(ps->start);
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
	int threads;
	double count_s, merge_s;
} learn_stats;

static void print_stats(const learn_stats *st)
{
	fprintf(stderr, "bpe-learn: %llu bytes read, %llu pre-tokens, %llu distinct\n",
		(unsigned long long)st->bytes, (unsigned long long)st->total,
		(unsigned long long)st->distinct);
	fprintf(stderr, "bpe-learn: %d threads\n", st->threads);
	fprintf(stderr, "bpe-learn: counting %.2f s (%.1f MB/s), %u merges %.2f s\n", st->count_s,
		st->count_s > 0 ? (double)st->bytes / 1e6 / st->count_s : 0.0, st->merges,
		st->merge_s);
}

/* ---- main ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	lm_set_progname(argv[0]);
	struct options a;
	int status = parse_options(argc, argv, &a);
	if (status != CLI_RUN)
		return status;
	check_outputs(&a);

	progress_state ps = {.start = timer_now()};
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
		.threads = a.threads,
		.count_s = timer_since(ps.start),
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
	st.merge_s = timer_since(ps.start) - st.count_s;
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
