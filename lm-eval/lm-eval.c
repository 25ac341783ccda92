/*
 * lm-eval — a checkpoint's HellaSwag accuracy, and its loss on shards.
 *
 *   lm-eval hellaswag CKPT [--data FILE] [--style llmc|harness] [--limit N]
 *                          [--tokenizer MERGES] [-v] [--json]
 *   lm-eval loss CKPT [-b ROWS] [--limit N] [--json] SHARD...
 *   (both: [--device cpu|cuda|auto])
 *
 * CKPT is an lmpipe checkpoint (.safetensors) or a transformers
 * save_pretrained directory. The reading, styles and scoring live in
 * share/eval (hellaswag, hellaswag_eval, score); this file wires options to
 * them and prints. stdout carries the results; progress goes to stderr when
 * it is a terminal.
 */
#include "ckpt/ckpt.h"
#include "data/loader.h"
#include "eval/hellaswag.h"
#include "eval/hellaswag_eval.h"
#include "eval/score.h"
#include "eval/tokenizer.h"
#include "model/device.h"
#include "model/gpt.h"
#include "util/cli.h"
#include "util/datadir.h"
#include "util/error.h"
#include "util/io.h"
#include "util/threads.h"
#ifdef LMPIPE_CUDA
#include "eval/score_cuda.h"
#endif

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_DATA = OPT_TOOL_BASE, OPT_STYLE, OPT_LIMIT, OPT_JSON, OPT_TOKENIZER, OPT_DEVICE };

struct options {
	const char *cmd, *ckpt;          /* hellaswag|loss, the checkpoint */
	char **shards;                   /* loss: the shards */
	int n_shards;
	const char *data, *tokenizer, *device;
	hs_style style;
	size_t limit;
	int batch;
	int verbose, json;
};

static void usage(void)
{
	printf("usage: lm-eval hellaswag CKPT [--data FILE] [--style llmc|harness] [--limit N]\n"
	       "                              [--tokenizer MERGES] [-v] [--json]\n"
	       "       lm-eval loss CKPT [-b ROWS] [--limit N] [--json] SHARD...\n"
	       "\n"
	       "hellaswag: acc and acc_norm on the HellaSwag validation items.\n"
	       "      --data FILE        the official hellaswag_val.jsonl or llama.cpp's 6-line\n"
	       "                         text form, possibly compressed (default:\n"
	       "                         " DATADIR_HELLASWAG " in $LMPIPE_DATA_DIR, else in the\n"
	       "                         build tree's data/, else in " LMPIPE_DATADIR ")\n"
	       "      --style STYLE      llmc (llm.c: context = ctx, acc_norm per token; default)\n"
	       "                         or harness (lm-evaluation-harness: preprocessed,\n"
	       "                         acc_norm per character)\n"
	       "      --limit N          the first N items only\n"
	       "      --tokenizer FILE   merges (or .tiktoken) instead of the checkpoint's own\n"
	       "                         (default: its metadata, else GPT-2's)\n"
	       "  -v, --verbose          one line an item: index, label, pred, pred_norm, losses\n"
	       "      --json             one JSON object (with -v: the items too)\n"
	       "\n"
	       "loss: mean cross-entropy, perplexity and tokens over the shards' windows of\n"
	       "the model's context (every window once, in file order).\n"
	       "  -b, --batch ROWS       windows a forward (default 4)\n"
	       "      --limit N          the first N windows only\n"
	       "\n"
	       "Both:\n"
	       "      --device DEV       cpu (fp32, the reference), cuda (bf16, the losses from\n"
	       "                         lm-train's fused cross-entropy) or auto (cuda when there\n"
	       "                         is a GPU; default)\n"
	       "  -h, --help             this help\n"
	       "      --version          the version and the features of this build\n");
}

/* The operands: a command, a checkpoint, and for loss the shards. */
static int parse_operands(int argc, char **argv, struct options *o)
{
	if (argc < 2)
		return cli_usage_error("a command and a checkpoint: lm-eval hellaswag|loss CKPT (see --help)");
	o->cmd = argv[0];
	o->ckpt = argv[1];
	o->shards = argv + 2;
	o->n_shards = argc - 2;
	if (strcmp(o->cmd, "hellaswag") == 0)
		return o->n_shards == 0 ? CLI_RUN : cli_usage_error("hellaswag takes one checkpoint");
	if (strcmp(o->cmd, "loss") == 0)
		return o->n_shards > 0 ? CLI_RUN : cli_usage_error("loss needs at least one SHARD");
	return cli_usage_error("unknown command '%s': hellaswag or loss", o->cmd);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, OPT_DATA},
		{"style", required_argument, NULL, OPT_STYLE},
		{"limit", required_argument, NULL, OPT_LIMIT},
		{"json", no_argument, NULL, OPT_JSON},
		{"tokenizer", required_argument, NULL, OPT_TOKENIZER},
		{"verbose", no_argument, NULL, 'v'},
		{"batch", required_argument, NULL, 'b'},
		{"device", required_argument, NULL, OPT_DEVICE},
		CLI_COMMON_OPTIONS,
		{0},
	};
	*o = (struct options){.style = HS_STYLE_LLMC, .device = "auto"};
	int opt, rc = 0;
	uint64_t limit;
	while (rc == 0 && (opt = cli_getopt(argc, argv, "vb:h", longopts)) != -1) {
		switch (opt) {
		case OPT_DATA: o->data = optarg; break;
		case OPT_STYLE:
			if (hellaswag_style_parse(optarg, &o->style) != 0)
				return cli_usage_error("--style: '%s' is not llmc or harness", optarg);
			break;
		case OPT_LIMIT:
			rc = cli_arg_count("--limit", optarg, &limit);
			o->limit = (size_t)limit;
			break;
		case OPT_JSON: o->json = 1; break;
		case OPT_TOKENIZER: o->tokenizer = optarg; break;
		case 'v': o->verbose = 1; break;
		case 'b': rc = cli_arg_int("--batch", optarg, 1, 1 << 16, &o->batch); break;
		case OPT_DEVICE: o->device = optarg; break;
		default: return cli_common_option(opt, usage);
		}
	}
	if (rc != 0)
		return rc;
	const char *dev = device_resolve(o->device);
	if (!dev)
		lm_usage_error("--device: '%s' is cpu, cuda or auto", o->device);
	o->device = dev;
	return parse_operands(argc - optind, argv + optind, o);
}

/* ---- the model, on its device ------------------------------------------------ */

typedef struct {
	gpt_model m;       /* the checkpoint's weights on the host */
#ifdef LMPIPE_CUDA
	gpt_cuda g;        /* --device cuda: the model on the GPU */
#endif
	bool on_gpu;
	score_model s;     /* what scores: the CPU model or the GPU's */
} eval_model;

static void eval_model_open(eval_model *e, const char *ckpt, const char *device)
{
	memset(e, 0, sizeof *e);
	if (ckpt_open_model(&e->m, ckpt) != 0)
		lm_die_last();
	score_model_cpu(&e->s, &e->m);
	if (strcmp(device, "cuda") != 0)
		return;
#ifdef LMPIPE_CUDA
	if (cu_device_check("--device cuda") != 0 || gpt_cuda_open(&e->g, &e->m) != 0)
		lm_die_last();
	score_model_cuda(&e->s, &e->g);
	e->on_gpu = true;
#else
	lm_die("--device cuda: this build has no CUDA (make found no nvcc)");
#endif
}

static void eval_model_close(eval_model *e)
{
#ifdef LMPIPE_CUDA
	if (e->on_gpu)
		gpt_cuda_close(&e->g);
#endif
	gpt_free(&e->m);
}

/* ---- hellaswag ----------------------------------------------------------- */

/* --data, else the one search of share/util/datadir (lm-train's too). */
static const char *hellaswag_data(const struct options *o)
{
	static char path[PATH_MAX + 64];
	if (o->data)
		return o->data;
	if (!datadir_hellaswag(path, sizeof path))
		lm_die("no HellaSwag data: %s (give --data FILE)", lm_last_error());
	return path;
}

static json_t *result_json(size_t i, const hs_result *r)
{
	json_t *loss = json_array(), *ntok = json_array(), *nchar = json_array();
	for (int j = 0; j < HS_CHOICES; j++) {
		json_array_append_new(loss, json_real(r->loss[j]));
		json_array_append_new(ntok, json_integer(r->ntok[j]));
		json_array_append_new(nchar, json_integer((json_int_t)r->nchar[j]));
	}
	return json_pack("{s:I, s:i, s:i, s:i, s:o, s:o, s:o}", "index", (json_int_t)i, "label",
			 r->label, "pred", r->pred, "pred_norm", r->pred_norm, "loss", loss,
			 "ntok", ntok, "nchar", nchar);
}

static void print_result(size_t i, const hs_result *r)
{
	printf("%zu label %d pred %d pred_norm %d loss", i, r->label, r->pred, r->pred_norm);
	for (int j = 0; j < HS_CHOICES; j++)
		printf(" %.6f/%d", r->loss[j], r->ntok[j]);
	putchar('\n');
}

static int cmd_hellaswag(const char *ckpt, const struct options *o)
{
	const char *data = hellaswag_data(o);
	hs_set set;
	eval_model e;
	lm_tokenizer tok;
	if (hellaswag_read(&set, data, o->style, o->limit) != 0)
		lm_die_last();
	eval_model_open(&e, ckpt, o->device);
	if (lm_tokenizer_open(&tok, ckpt, o->tokenizer) != 0)
		lm_die_last();
	if ((int)tok.m.vocab_size > e.m.cfg.vocab_size)
		lm_die("the tokenizer (%s) has %u tokens, the model's vocabulary %d", tok.source,
		       tok.m.vocab_size, e.m.cfg.vocab_size);
	int progress = isatty(2);
	json_t *items = o->json && o->verbose ? json_array() : NULL;
	hs_total tot = {0};
	for (size_t i = 0; i < set.n; i++) {
		hs_result r;
		if (hellaswag_eval_item(&e.s, &tok, &set.items[i], o->style, &r) != 0)
			lm_die("'%s': %s", data, lm_last_error());
		hellaswag_total_add(&tot, &r);
		if (items)
			json_array_append_new(items, result_json(i, &r));
		else if (o->verbose)
			print_result(i, &r);
		if (progress && (i + 1) % 20 == 0)
			fprintf(stderr, "\r%zu/%zu acc_norm %.4f", i + 1, set.n,
				(double)tot.acc_norm / (double)tot.n);
	}
	if (progress)
		fputc('\n', stderr);
	double acc = (double)tot.acc / (double)tot.n, accn = (double)tot.acc_norm / (double)tot.n;
	if (o->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:f, s:f}", "data", data,
				      "form", set.form == HS_FORM_JSONL ? "jsonl" : "text", "style",
				      hellaswag_style_name(o->style), "note", hellaswag_note(&set),
				      "n", (json_int_t)tot.n, "correct", (json_int_t)tot.acc,
				      "correct_norm", (json_int_t)tot.acc_norm, "acc", acc,
				      "acc_norm", accn);
		if (items)
			json_object_set_new(j, "items", items);
		char *s = json_dumps(j, JSON_REAL_PRECISION(17));
		puts(s);
		free(s);
		json_decref(j);
	} else {
		printf("hellaswag: %zu items from '%s'\n%s\n", tot.n, data, hellaswag_note(&set));
		printf("acc      %.4f (%zu/%zu)\nacc_norm %.4f (%zu/%zu)\n", acc, tot.acc, tot.n,
		       accn, tot.acc_norm, tot.n);
	}
	lm_tokenizer_close(&tok);
	eval_model_close(&e);
	hellaswag_free(&set);
	return 0;
}

/* ---- loss ------------------------------------------------------------- */

typedef struct {
	double sum;     /* summed loss, nats */
	uint64_t tokens, windows;
} loss_total;

static void loss_of(const score_model *m, const char *spec, const struct options *o, loss_total *t)
{
	int B = o->batch ? o->batch : 4, T = m->cfg->ctx;
	loader_opts lo = {.B = B, .T = T, .rank = 0, .nranks = 1, .shuffle = false,
			  .vocab = m->cfg->vocab_size};
	loader *L = loader_open(spec, NULL, &lo);
	if (!L)
		lm_die_last();
	int32_t *x = malloc(sizeof *x * (size_t)B * T), *y = malloc(sizeof *y * (size_t)B * T);
	double *loss = malloc(sizeof *loss * (size_t)B * T);
	if (!x || !y || !loss)
		lm_die("out of memory");
	int rows = 0;
	while ((!o->limit || t->windows < o->limit) && (rows = loader_next(L, x, y, NULL)) > 0) {
		if (o->limit && t->windows + (uint64_t)rows > o->limit)
			rows = (int)(o->limit - t->windows);
		if (m->losses(m->impl, x, y, rows, T, NULL, loss) != 0)
			lm_die("'%s': %s", spec, lm_last_error());
		/* the mean of the rows' tokens, summed in double from the
		 * per-token losses so a long run does not round */
		for (size_t i = 0; i < (size_t)rows * T; i++)
			t->sum += loss[i];
		t->tokens += (uint64_t)rows * T;
		t->windows += (uint64_t)rows;
	}
	if (rows < 0)
		lm_die_last();
	free(x);
	free(y);
	free(loss);
	loader_close(L);
}

static int cmd_loss(const char *ckpt, char **shards, int n, const struct options *o)
{
	eval_model e;
	eval_model_open(&e, ckpt, o->device);
	loss_total t = {0};
	for (int i = 0; i < n; i++)
		loss_of(&e.s, shards[i], o, &t);
	double mean = t.sum / (double)t.tokens;
	if (o->json)
		printf("{\"loss\": %.9g, \"perplexity\": %.9g, \"tokens\": %llu, \"windows\": %llu, "
		       "\"ctx\": %d}\n", mean, exp(mean), (unsigned long long)t.tokens,
		       (unsigned long long)t.windows, e.m.cfg.ctx);
	else
		printf("loss       %.6f\nperplexity %.4f\ntokens     %llu (%llu windows of %d)\n",
		       mean, exp(mean), (unsigned long long)t.tokens, (unsigned long long)t.windows,
		       e.m.cfg.ctx);
	eval_model_close(&e);
	return 0;
}

int main(int argc, char **argv)
{
	threads_init(argv);
	lm_set_progname(argv[0]);
	struct options o;
	int status = parse_options(argc, argv, &o);
	if (status != CLI_RUN)
		return status;
	if (strcmp(o.cmd, "hellaswag") == 0)
		cmd_hellaswag(o.ckpt, &o);
	else
		cmd_loss(o.ckpt, o.shards, o.n_shards, &o);
	if (stdout_close_checked() != 0)
		lm_die_last();
	return 0;
}
