/*
 * lm-train — train a GPT on token shards: gradient accumulation to a fixed
 * batch, AdamW with warmup + cosine decay, global-norm clipping, periodic
 * validation, samples and checkpoints, an exact --resume, data parallel
 * over MPI or NCCL (--gpus N starts N ranks, one a GPU).
 *
 *   lm-train DATA_DIR [--model PRESET|CONFIG|CKPT] [model flags] [-o RUN_DIR] [options]
 *   lm-train --resume RUN_DIR [--steps N] [options]
 *
 * The arithmetic runs behind train/backend.h (the CPU or the CUDA
 * backend); this file is the loop around it: options, the step, evaluation,
 * sampling, checkpoints, the progress line and the log. Rank 0 alone writes files and
 * prints; every rank runs the same loop and takes the same decisions, from
 * values all-reduced across ranks.
 *
 * What an exact resume rests on: the weights (safetensors, fp32), AdamW's
 * moments and step, the loader's global position and the run's options
 * (the .state sidecar), and deterministic arithmetic (fixed thread
 * partitions, fixed summation order).
 */
#include "ckpt/ckpt.h"
#include "ckpt/format.h"
#include "ckpt/gguf.h"
#include "ckpt/hf_dir.h"
#include "ckpt/safetensors.h"
#include "data/loader.h"
#include "dist/dist.h"
#include "dist/spawn.h"
#include "eval/hellaswag.h"
#include "eval/hellaswag_eval.h"
#include "eval/tokenizer.h"
#include "model/accounting.h"
#include "model/config_flags.h"
#include "model/device.h"
#include "model/gpt.h"
#include "model/rng.h"
#include "optim/adamw.h"
#include "optim/schedule.h"
#include "sample/generate.h"
#include "sample/sampler.h"
#include "tok/merges.h"
#include "train/backend.h"
#include "train/log.h"
#include "train/rundir.h"
#include "train/state.h"
#include "util/cli.h"
#include "util/datadir.h"
#include "util/error.h"
#include "util/io.h"
#include "util/num.h"
#include "util/threads.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- defaults (lm-train(1): the GPT-2 124M recipe) -------------------------- */

#define DEFAULT_MODEL "gpt2"
#define DEFAULT_RUN_DIR "run"
#define DEFAULT_BATCH_TOKENS 524288
#define DEFAULT_MICRO_BATCH 4
#define DEFAULT_GRAD_CLIP 1.0
#define DEFAULT_SEED 1337
#define DEFAULT_EVAL_EVERY 250
#define DEFAULT_EVAL_TOKENS 10485760   /* llm.c: 20 batches of 524288 */
#define DEFAULT_SAMPLE_EVERY 1000
#define DEFAULT_CKPT_EVERY 1000
#define DEFAULT_KEEP 3
#define DEFAULT_PEAK 1e12              /* FLOP/s: a stated guess for a CPU; use --peak */
#define SAMPLE_TOKENS 64
#define SAMPLE_TEMPERATURE 1.0
#define SAMPLE_TOP_K 40
#define DEFAULT_HELLASWAG_LIMIT 200
#define HELLASWAG_FILE "hellaswag_val.jsonl"   /* where lm-eval looks by default */
#define MAX_SPECIALS 64
#define MAX_GPUS 256                   /* --gpus: ranks on one machine */
/* After one rank of --gpus fails, the others get this long to stop on
 * SIGTERM before SIGKILL (one waiting in a collective for it never will). */
#define RANKS_STOP_GRACE_S 10
/* Test only: the loss of this step is replaced by NaN (the NaN stop's test). */
#define ENV_TEST_NAN_STEP "LM_TRAIN_TEST_NAN_STEP"
/* Test only: each step sleeps this many ms, so a signal test can catch a
 * run mid-way on any machine (the numbers are untouched). */
#define ENV_TEST_STEP_MS "LM_TRAIN_TEST_STEP_MS"
/* Test only: the --gpus spawner counts this many GPUs, so that its process
 * handling runs on any machine (the ranks then fail at their GPU). */
#define ENV_TEST_GPUS "LM_TRAIN_TEST_GPUS"

enum {
	OPT_BATCH_TOKENS = OPT_TOOL_BASE, OPT_STEPS, OPT_TOKENS, OPT_LR, OPT_LR_MIN,
	OPT_WARMUP, OPT_COSINE, OPT_WD, OPT_BETA1, OPT_BETA2, OPT_EPS, OPT_GRAD_CLIP,
	OPT_SEED, OPT_EVAL_EVERY, OPT_EVAL_TOKENS, OPT_SAMPLE_EVERY, OPT_CKPT_EVERY,
	OPT_KEEP, OPT_RESUME, OPT_DEVICE, OPT_PEAK, OPT_MERGES, OPT_FORCE,
	OPT_SAMPLE_PROMPT, OPT_HELLASWAG, OPT_HELLASWAG_LIMIT, OPT_GPUS,
	OPT_COUNT
};

/* ---- options ------------------------------------------------------------------ */

typedef struct {
	const char *data_dir, *model, *run_dir, *resume, *device, *merges;
	const char *sample_prompt, *hellaswag;
	long hellaswag_limit;
	const char *specials[MAX_SPECIALS];
	int n_specials;
	config_flags flags;
	long batch_tokens, micro_batch, steps, tokens;
	lr_schedule sched;     /* lr_min < 0: 10% of lr_max; cosine 0: the steps */
	adamw_hparams hp;
	double grad_clip, peak;
	uint64_t seed;
	long eval_every, eval_tokens, sample_every, ckpt_every, keep;
	int threads, force;
	int gpus;              /* --gpus: ranks this command starts on this machine */
	char given[OPT_COUNT]; /* set on the command line (a resume keeps the rest) */
} train_opts;

static void usage(void)
{
	printf("usage: lm-train DATA_DIR [--model PRESET|CONFIG|CKPT] [model flags] [-o RUN_DIR] [options]\n"
	       "       lm-train --resume RUN_DIR [--steps N] [options]\n"
	       "\n"
	       "Train a GPT on the token shards of DATA_DIR (*_train_* and *_val_* files).\n"
	       "\n"
	       "  -m, --model M            preset (gpt2, d12, cs336-ts, ...), config JSON or checkpoint (gpt2)\n"
	       "  -o, --output RUN_DIR     checkpoints and log.jsonl go here (run)\n"
	       "      --resume RUN_DIR     continue RUN_DIR's run exactly where it stopped\n"
	       "      --device DEV         where to train: cpu, cuda, or auto (cuda when there is\n"
	       "                           a GPU) (auto; cuda with --gpus)\n"
	       "      --gpus N             N ranks on this machine, one a GPU, NCCL between them (1);\n"
	       "                           under mpirun or srun their ranks count, one GPU each\n"
	       "  -j, --threads N          OpenMP threads\n"
	       "Batch and length:\n"
	       "      --batch-tokens N     tokens a step, all ranks (524288); accumulates micro-batches\n"
	       "  -b, --micro-batch B      rows of --ctx tokens a forward pass (4)\n"
	       "      --steps N            optimizer steps (default: one pass over the train shards)\n"
	       "      --tokens N           or train on N tokens (10M, 1B, ...)\n"
	       "Optimizer (AdamW, warmup then cosine decay, CS336's names accepted):\n"
	       "      --lr, --lr-max LR    peak learning rate (6e-4)\n"
	       "      --lr-min LR          floor of the cosine (10%% of the peak)\n"
	       "      --warmup, --warmup-iters N           linear warmup steps (0)\n"
	       "      --cosine-steps, --cosine-cycle-iters N  end of the cosine (the steps)\n"
	       "      --weight-decay WD    on 2-D weights only (0.1)\n"
	       "      --beta1 B1 --beta2 B2 --eps E        (0.9, 0.95, 1e-8)\n"
	       "      --grad-clip N        clip the global gradient norm; 0 = off (1.0)\n"
	       "      --seed S             data order and initialization (1337)\n"
	       "Every N steps (0 = never):\n"
	       "      --eval-every N       val loss on the first --eval-tokens val tokens (250)\n"
	       "      --eval-tokens N      (10485760)\n"
	       "      --sample-every N     a sample on stderr (temperature 1, top-k 40, seed --seed) (1000)\n"
	       "      --sample-prompt TEXT what the sample continues (<|endoftext|>)\n"
	       "      --hellaswag FILE     HellaSwag items scored at each eval (llmc style; default:\n"
	       "                           " HELLASWAG_FILE " where lm-eval finds it, if there)\n"
	       "      --hellaswag-limit N  the first N items; 0 = all (200)\n"
	       "      --ckpt-every N       a checkpoint; also at the end and on SIGINT/TERM/HUP (1000)\n"
	       "      --keep K             keep the last K checkpoints; 0 = all (3)\n"
	       "Tokenizer (for samples, and stored in the checkpoints):\n"
	       "      --merges FILE        the merges file (or .tiktoken) the shards were encoded with\n"
	       "  -s, --special TOKEN      a special token after the merges (repeatable)\n"
	       "      --peak FLOPS         peak FLOP/s for the MFU figure (1T)\n"
	       "  -f, --force              start a fresh run in a RUN_DIR that has one\n"
	       "%s"
	       "  -h, --help               this text\n",
	       CONFIG_FLAGS_HELP);
}

static void opts_defaults(train_opts *o)
{
	memset(o, 0, sizeof *o);
	o->model = DEFAULT_MODEL;
	o->run_dir = NULL;
	o->device = "auto";
	o->gpus = 1;
	o->batch_tokens = DEFAULT_BATCH_TOKENS;
	o->micro_batch = DEFAULT_MICRO_BATCH;
	o->sched = (lr_schedule){LR_MAX_DEFAULT, -1, 0, 0};
	o->hp = ADAMW_DEFAULTS;
	o->grad_clip = DEFAULT_GRAD_CLIP;
	o->peak = DEFAULT_PEAK;
	o->seed = DEFAULT_SEED;
	o->eval_every = DEFAULT_EVAL_EVERY;
	o->eval_tokens = DEFAULT_EVAL_TOKENS;
	o->sample_every = DEFAULT_SAMPLE_EVERY;
	o->hellaswag_limit = DEFAULT_HELLASWAG_LIMIT;
	o->ckpt_every = DEFAULT_CKPT_EVERY;
	o->keep = DEFAULT_KEEP;
}

/* ---- the numeric options -------------------------------------------------------- *
 * One table for the command line and the state a run keeps: a value read back
 * from a state goes through the checks a typed one does. */

#define MAX_MICRO_BATCH (1 << 20)

typedef enum {
	NUM_COUNT,     /* a whole number >= 0 (10M, 1B, ...): a long */
	NUM_ROWS,      /* the micro-batch, 1 to MAX_MICRO_BATCH: a long */
	NUM_REAL,      /* a real >= 0: a double */
	NUM_POSITIVE,  /* a real > 0: a double */
	NUM_SEED,      /* a whole number >= 0: a uint64_t */
} num_kind;

typedef struct {
	int opt;
	const char *flag;   /* on the command line */
	const char *key;    /* in the state's options (NULL: not kept) */
	num_kind kind;
	size_t off;         /* the field in train_opts */
	bool fixed;         /* the data order rests on it: a resume must not change it */
} num_opt;

#define NUM(opt, flag, key, kind, field, fixed) {opt, flag, key, kind, offsetof(train_opts, field), fixed}
static const num_opt num_opts[] = {
	NUM(OPT_BATCH_TOKENS, "--batch-tokens", "batch_tokens", NUM_COUNT, batch_tokens, true),
	NUM('b', "--micro-batch", "micro_batch", NUM_ROWS, micro_batch, false),
	NUM(OPT_STEPS, "--steps", "steps", NUM_COUNT, steps, false),
	NUM(OPT_TOKENS, "--tokens", NULL, NUM_COUNT, tokens, false),
	NUM(OPT_LR, "--lr", "lr_max", NUM_REAL, sched.lr_max, false),
	NUM(OPT_LR_MIN, "--lr-min", "lr_min", NUM_REAL, sched.lr_min, false),
	NUM(OPT_WARMUP, "--warmup", "warmup_iters", NUM_COUNT, sched.warmup_iters, false),
	NUM(OPT_COSINE, "--cosine-steps", "cosine_cycle_iters", NUM_COUNT, sched.cosine_cycle_iters, false),
	NUM(OPT_WD, "--weight-decay", "weight_decay", NUM_REAL, hp.weight_decay, false),
	NUM(OPT_BETA1, "--beta1", "beta1", NUM_REAL, hp.beta1, false),
	NUM(OPT_BETA2, "--beta2", "beta2", NUM_REAL, hp.beta2, false),
	NUM(OPT_EPS, "--eps", "eps", NUM_REAL, hp.eps, false),
	NUM(OPT_GRAD_CLIP, "--grad-clip", "grad_clip", NUM_REAL, grad_clip, false),
	NUM(OPT_SEED, "--seed", "seed", NUM_SEED, seed, true),
	NUM(OPT_EVAL_EVERY, "--eval-every", "eval_every", NUM_COUNT, eval_every, false),
	NUM(OPT_EVAL_TOKENS, "--eval-tokens", "eval_tokens", NUM_COUNT, eval_tokens, false),
	NUM(OPT_SAMPLE_EVERY, "--sample-every", "sample_every", NUM_COUNT, sample_every, false),
	NUM(OPT_CKPT_EVERY, "--ckpt-every", "ckpt_every", NUM_COUNT, ckpt_every, false),
	NUM(OPT_KEEP, "--keep", "keep", NUM_COUNT, keep, false),
	NUM(OPT_HELLASWAG_LIMIT, "--hellaswag-limit", "hellaswag_limit", NUM_COUNT, hellaswag_limit, false),
	NUM(OPT_PEAK, "--peak", "peak", NUM_POSITIVE, peak, false),
};
#undef NUM
#define N_NUM_OPTS (sizeof num_opts / sizeof num_opts[0])

static bool num_is_real(const num_opt *n)
{
	return n->kind == NUM_REAL || n->kind == NUM_POSITIVE;
}

static size_t num_size(const num_opt *n)
{
	return num_is_real(n) ? sizeof(double) : n->kind == NUM_SEED ? sizeof(uint64_t) : sizeof(long);
}

/* Set n's field of o from TEXT; -1 + lm_fail (naming LABEL) if it is not
 * a value the option takes. */
static int num_opt_set(train_opts *o, const num_opt *n, const char *label, const char *text)
{
	char *field = (char *)o + n->off;
	uint64_t c;
	double v;
	switch (n->kind) {
	case NUM_COUNT:
	case NUM_SEED:
		if (num_parse_count(text, &c) != 0)
			return lm_fail("%s: %s", label, lm_last_error());
		if (n->kind == NUM_SEED)
			*(uint64_t *)field = c;
		else
			*(long *)field = (long)c;
		return 0;
	case NUM_ROWS:
		if (num_parse_real(text, &v) != 0 || v != floor(v))
			return lm_fail("%s: invalid integer '%s'", label, text);
		if (v < 1 || v > MAX_MICRO_BATCH)
			return lm_fail("%s: %s is out of range [1, %d]", label, text, MAX_MICRO_BATCH);
		*(long *)field = (long)v;
		return 0;
	case NUM_REAL:
	case NUM_POSITIVE:
		if (num_parse_real(text, &v) != 0)
			return lm_fail("%s: %s", label, lm_last_error());
		if (n->kind == NUM_REAL && v < 0)
			return lm_fail("%s: %s must not be negative", label, text);
		if (n->kind == NUM_POSITIVE && !(v > 0))
			return lm_fail("%s: '%s' must be positive", label, text);
		*(double *)field = v;
		return 0;
	}
	return lm_fail("%s: unknown kind of number", label);
}

static const num_opt *num_opt_find(int opt)
{
	for (size_t i = 0; i < N_NUM_OPTS; i++)
		if (num_opts[i].opt == opt)
			return &num_opts[i];
	return NULL;
}

/* One numeric option of the command line; false if OPT is not one. */
static bool take_train_opt(train_opts *o, int opt, const char *arg)
{
	const num_opt *n = num_opt_find(opt);
	if (!n)
		return false;
	if (num_opt_set(o, n, n->flag, arg) != 0)
		lm_usage_error("%s", lm_last_error());
	return true;
}

static bool take_run_opt(train_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case 'm': o->model = arg; break;
	case 'o': o->run_dir = arg; break;
	case 'j': o->threads = cli_int("--threads", arg, 1, 4096); break;
	case 's':
		if (o->n_specials == MAX_SPECIALS)
			lm_usage_error("more than %d special tokens", MAX_SPECIALS);
		o->specials[o->n_specials++] = arg;
		break;
	case 'f': o->force = 1; break;
	case OPT_RESUME: o->resume = arg; break;
	case OPT_DEVICE: o->device = arg; break;
	case OPT_GPUS: o->gpus = cli_int("--gpus", arg, 1, MAX_GPUS); break;
	case OPT_MERGES: o->merges = arg; break;
	case OPT_SAMPLE_PROMPT: o->sample_prompt = arg; break;
	case OPT_HELLASWAG: o->hellaswag = arg; break;
	default: return false;
	}
	return true;
}

/* PATH made absolute against the current directory (not resolved: a glob
 * of shards stays a glob); the result lives as long as the process. */
static const char *path_absolute(const char *path)
{
	static char cwd[PATH_MAX];
	if (!path || path[0] == '/')
		return path;
	if (!cwd[0] && !getcwd(cwd, sizeof cwd))
		lm_die("cannot make '%s' absolute: %s", path, strerror(errno));
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	char *abs;
	if (asprintf(&abs, "%s/%s", strcmp(cwd, "/") ? cwd : "", path) < 0)
		lm_die("out of memory");
	return abs;
}

/* The paths a run keeps in its state, absolute: a resume from elsewhere
 * finds the same files. */
static void opts_paths_absolute(train_opts *o)
{
	o->data_dir = path_absolute(o->data_dir);
	o->merges = path_absolute(o->merges);
	o->hellaswag = path_absolute(o->hellaswag);
}

static void opts_parse(train_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 'm'},
		{"output", required_argument, NULL, 'o'},
		{"threads", required_argument, NULL, 'j'},
		{"micro-batch", required_argument, NULL, 'b'},
		{"special", required_argument, NULL, 's'},
		{"force", no_argument, NULL, 'f'},
		{"batch-tokens", required_argument, NULL, OPT_BATCH_TOKENS},
		{"steps", required_argument, NULL, OPT_STEPS},
		{"tokens", required_argument, NULL, OPT_TOKENS},
		{"lr", required_argument, NULL, OPT_LR},
		{"lr-max", required_argument, NULL, OPT_LR},
		{"lr-min", required_argument, NULL, OPT_LR_MIN},
		{"warmup", required_argument, NULL, OPT_WARMUP},
		{"warmup-iters", required_argument, NULL, OPT_WARMUP},
		{"cosine-steps", required_argument, NULL, OPT_COSINE},
		{"cosine-cycle-iters", required_argument, NULL, OPT_COSINE},
		{"weight-decay", required_argument, NULL, OPT_WD},
		{"beta1", required_argument, NULL, OPT_BETA1},
		{"beta2", required_argument, NULL, OPT_BETA2},
		{"eps", required_argument, NULL, OPT_EPS},
		{"grad-clip", required_argument, NULL, OPT_GRAD_CLIP},
		{"seed", required_argument, NULL, OPT_SEED},
		{"eval-every", required_argument, NULL, OPT_EVAL_EVERY},
		{"eval-tokens", required_argument, NULL, OPT_EVAL_TOKENS},
		{"sample-every", required_argument, NULL, OPT_SAMPLE_EVERY},
		{"ckpt-every", required_argument, NULL, OPT_CKPT_EVERY},
		{"keep", required_argument, NULL, OPT_KEEP},
		{"resume", required_argument, NULL, OPT_RESUME},
		{"device", required_argument, NULL, OPT_DEVICE},
		{"gpus", required_argument, NULL, OPT_GPUS},
		{"peak", required_argument, NULL, OPT_PEAK},
		{"merges", required_argument, NULL, OPT_MERGES},
		{"sample-prompt", required_argument, NULL, OPT_SAMPLE_PROMPT},
		{"hellaswag", required_argument, NULL, OPT_HELLASWAG},
		{"hellaswag-limit", required_argument, NULL, OPT_HELLASWAG_LIMIT},
		CONFIG_LONG_OPTIONS,
		CLI_COMMON_OPTIONS,
		{0, 0, 0, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "m:o:j:b:s:fh", longopts, NULL)) != -1) {
		if (opt >= 0 && opt < OPT_COUNT)
			o->given[opt] = 1;
		if (config_flags_take(&o->flags, opt, optarg))
			continue;
		if (!take_train_opt(o, opt, optarg) && !take_run_opt(o, opt, optarg))
			cli_common(opt, usage);
	}
	if (o->resume) {
		if (optind < argc)
			o->data_dir = argv[optind++];
	} else {
		if (optind >= argc)
			lm_usage_error("no DATA_DIR (the directory of token shards)");
		o->data_dir = argv[optind++];
	}
	if (optind < argc)
		lm_usage_error("unexpected argument '%s'", argv[optind]);
	if (o->given[OPT_STEPS] && o->given[OPT_TOKENS])
		lm_usage_error("--steps and --tokens: give one");
	if (o->given[OPT_GPUS] && !o->given[OPT_DEVICE])
		o->device = "cuda";
	const char *dev = device_resolve(o->device);
	if (!dev)
		lm_usage_error("--device: '%s' is cpu, cuda or auto", o->device);
	o->device = dev;
	if (o->gpus > 1 && strcmp(o->device, "cuda"))
		lm_usage_error("--gpus %d trains on GPUs: --device %s does not go with it",
			       o->gpus, o->device);
	opts_paths_absolute(o);
}

static bool model_flags_given(const config_flags *f)
{
	return f->has_family || f->has_norm || f->has_positions || f->has_mlp || f->layers ||
	       f->d_model || f->heads || f->ff || f->ctx || f->vocab;
}

/* ---- the options a run keeps (in its state sidecar) ---------------------------- */

static json_t *num_opt_json(const train_opts *o, const num_opt *n)
{
	const char *field = (const char *)o + n->off;
	if (num_is_real(n))
		return json_real(*(const double *)field);
	if (n->kind == NUM_SEED)
		return json_integer((json_int_t)*(const uint64_t *)field);
	return json_integer((json_int_t)*(const long *)field);
}

static char *opts_to_json(const train_opts *o, int ctx)
{
	json_t *j = json_pack("{s:s, s:i}", "data", o->data_dir, "ctx", ctx);
	if (!j)
		return NULL;
	for (size_t i = 0; i < N_NUM_OPTS; i++)
		if (num_opts[i].key)
			json_object_set_new(j, num_opts[i].key, num_opt_json(o, &num_opts[i]));
	json_object_set_new(j, "device", json_string(o->device));
	if (o->merges)
		json_object_set_new(j, "merges", json_string(o->merges));
	if (o->sample_prompt)
		json_object_set_new(j, "sample_prompt", json_string(o->sample_prompt));
	if (o->hellaswag)
		json_object_set_new(j, "hellaswag", json_string(o->hellaswag));
	json_t *sp = json_array();
	for (int i = 0; i < o->n_specials; i++)
		json_array_append_new(sp, json_string(o->specials[i]));
	json_object_set_new(j, "specials", sp);
	char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(j);
	return s;
}

/* The text of a state's number, as it would be typed. */
static int state_number_text(json_t *v, const char *key, char *buf, size_t cap)
{
	if (json_is_integer(v))
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, cap, "%.17g", json_real_value(v));
	else
		return v ? lm_fail("\"%s\" is not a number", key) : lm_fail("no \"%s\"", key);
	return 0;
}

/* Every numeric option of the state, checked as the command line checks
 * it; taken unless given now. The data order's must match. */
static int opts_numbers_from_state(train_opts *o, json_t *j, const char *path)
{
	for (size_t i = 0; i < N_NUM_OPTS; i++) {
		const num_opt *n = &num_opts[i];
		char text[64], label[64];
		train_opts saved = *o;
		if (!n->key)
			continue;
		snprintf(label, sizeof label, "\"%s\"", n->key);
		if (state_number_text(json_object_get(j, n->key), n->key, text, sizeof text) != 0 ||
		    num_opt_set(&saved, n, label, text) != 0)
			return lm_fail("'%s': %s", path, lm_last_error());
		char *mine = (char *)o + n->off, *theirs = (char *)&saved + n->off;
		if (!o->given[n->opt])
			memcpy(mine, theirs, num_size(n));
		else if (n->fixed && memcmp(mine, theirs, num_size(n)) != 0)
			return lm_fail("%s differs from the run's %s: the data order rests on it",
				       n->flag, text);
	}
	return 0;
}

/* KEY's string, or NULL when absent; -1 when there and not a string. */
static int state_string(json_t *j, const char *key, const char **out)
{
	json_t *v = json_object_get(j, key);
	*out = json_string_value(v);
	return v && !*out ? lm_fail("\"%s\" is not a string", key) : 0;
}

/* The strings: the data (required), the device (cpu or cuda), the paths,
 * the prompt, the specials. They live as long as the process (strdup). */
static int opts_strings_from_state(train_opts *o, json_t *j)
{
	const char *data, *merges, *prompt, *device, *hs;
	if (state_string(j, "data", &data) || state_string(j, "merges", &merges) ||
	    state_string(j, "sample_prompt", &prompt) || state_string(j, "device", &device) ||
	    state_string(j, "hellaswag", &hs))
		return -1;
	if (!data)
		return lm_fail("no \"data\" (the data directory)");
	if (device && strcmp(device, "cpu") && strcmp(device, "cuda"))
		return lm_fail("\"device\" is '%s', not cpu or cuda", device);
	json_t *sp = json_object_get(j, "specials");
	if (sp && (!json_is_array(sp) || json_array_size(sp) > MAX_SPECIALS))
		return lm_fail("\"specials\" is not an array of at most %d strings", MAX_SPECIALS);
	for (size_t i = 0; i < json_array_size(sp); i++) {
		const char *t = json_string_value(json_array_get(sp, i));
		if (!t || !*t)
			return lm_fail("\"specials\" holds something not a token");
	}
	if (!o->data_dir)
		o->data_dir = strdup(data);
	if (!o->merges && merges)
		o->merges = strdup(merges);
	if (!o->sample_prompt && prompt)
		o->sample_prompt = strdup(prompt);
	/* the run's device, unless --device or --gpus (which implies cuda) says */
	if (!o->given[OPT_DEVICE] && !o->given[OPT_GPUS] && device)
		o->device = !strcmp(device, "cuda") ? "cuda" : "cpu";
	if (!o->hellaswag && hs)
		o->hellaswag = strdup(hs);
	if (o->n_specials == 0)
		for (size_t i = 0; i < json_array_size(sp); i++)
			o->specials[o->n_specials++] = strdup(json_string_value(json_array_get(sp, i)));
	return 0;
}

/* The resumed run's options: the saved ones, overridden by those given now,
 * every one checked as strictly as the command line checks it (a state can
 * be edited by hand). The batch and the seed define the data order: they
 * must match. *ctx: the context the run trained with (the model must have it). */
static int opts_from_state(train_opts *o, const char *json, const char *path, uint64_t *ctx)
{
	json_error_t err;
	json_t *j = json_loads(json, 0, &err);
	if (!j)
		return lm_fail("'%s': bad options in the training state: %s", path, err.text);
	char text[64];
	int rc = opts_numbers_from_state(o, j, path);
	if (rc == 0 && opts_strings_from_state(o, j) != 0)
		rc = lm_fail("'%s': %s", path, lm_last_error());
	if (rc == 0 && state_number_text(json_object_get(j, "ctx"), "ctx", text, sizeof text) != 0)
		rc = lm_fail("'%s': %s", path, lm_last_error());
	else if (rc == 0 && num_parse_count(text, ctx) != 0)
		rc = lm_fail("'%s': \"ctx\": %s", path, lm_last_error());
	json_decref(j);
	return rc;
}

/* ---- the run: everything the loop holds -------------------------------------------- */

typedef struct {
	train_opts o;
	dist_ctx dist;
	lm_config cfg;
	gpt_model model;
	train_backend be;
	loader *train, *val;
	train_log log;
	bool have_log;
	lm_tokenizer etok;       /* encodes sample prompts and HellaSwag, decodes samples */
	bool have_etok;
	hs_set hs;               /* the HellaSwag items scored at each eval */
	bool have_hs;
	char *tok_merges;        /* the tokenizer the checkpoints carry: merges text, */
	char *tok_specials;      /* and the specials as a JSON array (NULL: none) */
	const char *model_src;   /* the checkpoint the weights came from, NULL: fresh */
	int lock_fd;             /* the run directory's lock (root), when locked */
	bool locked;
	lm_rng rng;
	int B, T, accum;         /* micro-batch rows, length, micro-batches a step a rank */
	long step;               /* steps done */
	long last_ckpt;          /* step of the last checkpoint written, -1 none */
	int32_t *x, *y;          /* (B, T) */
	double flops_per_token;
	double ms_avg;           /* moving average of a step's wall time */
	bool tty;
} run;

static bool is_root(const run *r) { return r->dist.rank == 0; }

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void signals_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);  /* a closed terminal or ssh session: checkpoint too */
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A runtime error: every rank stops (a collective would hang otherwise). */
static noreturn void run_die(run *r)
{
	fprintf(stderr, "%s%s: %s\n", r->tty ? "\n" : "", lm_progname, lm_last_error());
	if (r->dist.nranks > 1)
		dist_abort(&r->dist, EXIT_RUNTIME);
	exit(EXIT_RUNTIME);
}

/* ---- checkpoints ---------------------------------------------------------------------- */

/* The weights under HF's names (ckpt/ckpt.h); metadata: the tokenizer and
 * the progress (ckpt_save adds the config). */
static int save_weights(run *r, const char *path)
{
	char step[32], tokens[32];
	snprintf(step, sizeof step, "%ld", r->step);
	snprintf(tokens, sizeof tokens, "%ld", r->step * r->o.batch_tokens);
	const char *meta[8] = {"step", step, "tokens", tokens};
	int nmeta = 2;
	if (r->tok_merges) {
		meta[4] = "tokenizer_merges";
		meta[5] = r->tok_merges;
		meta[6] = "tokenizer_specials";
		meta[7] = r->tok_specials ? r->tok_specials : "[]";
		nmeta += 2;
	}
	return ckpt_save(&r->model, path, meta, nmeta, true);
}

static int save_state(run *r, const char *path)
{
	train_state s = {
		.step = (uint64_t)r->step,
		.tokens = (uint64_t)(r->step * r->o.batch_tokens),
		.rng_state = r->rng.state,
		.options_json = opts_to_json(&r->o, r->T),
		.num_params = r->model.num_params,
		.m = r->be.opt.m,
		.v = r->be.opt.v,
	};
	if (!s.options_json)
		return lm_fail("out of memory");
	loader_pos_save(r->train, s.loader_pos);
	int rc = train_state_write(path, &s);
	free(s.options_json);
	return rc;
}

/* The run directory as a transformers model directory (ckpt/hf_dir.h); a
 * model transformers cannot express is said once, and is no error. */
static int run_dir_for_transformers(run *r)
{
	static bool said;
	int rc = hf_dir_update(r->o.run_dir, &r->model, r->have_etok ? &r->etok.m : NULL);
	if (rc > 0 && !said)
		lm_warn("%s", lm_last_error());
	said = said || rc > 0;
	return rc < 0 ? -1 : 0;
}

/* The pair for this step, then the pointer, then pruning (see rundir.h). */
static int checkpoint(run *r)
{
	if (r->last_ckpt == r->step)
		return 0;
	r->last_ckpt = r->step;
	if (!is_root(r))
		return 0;
	if (r->be.sync_host(&r->be) != 0)
		return -1;
	char *w = rundir_ckpt_path(r->o.run_dir, r->step, "safetensors");
	char *s = rundir_ckpt_path(r->o.run_dir, r->step, "state");
	int rc = !w || !s ? -1 : save_weights(r, w);
	if (rc == 0)
		rc = save_state(r, s);
	if (rc == 0)
		rc = rundir_point_latest(r->o.run_dir, r->step);
	if (rc == 0)
		rc = run_dir_for_transformers(r);
	if (rc == 0)
		rc = rundir_prune(r->o.run_dir, (int)r->o.keep);
	free(w);
	free(s);
	return rc;
}

/* ---- set-up ------------------------------------------------------------------------------ */

/* The model: from the resumed checkpoint, or a preset/config (+ flags) with
 * fresh weights from the seed, or an existing checkpoint to continue from. */
static bool has_weights(const char *model)
{
	return ckpt_has_weights(model);
}

static int model_setup(run *r, const char *ckpt)
{
	const char *src = ckpt ? ckpt : r->o.model;
	if (has_weights(src)) {
		if (!ckpt && model_flags_given(&r->o.flags))
			return lm_fail("model flags cannot change the model of '%s'", src);
		if (ckpt_open_model(&r->model, src) != 0)
			return -1;
		r->cfg = r->model.cfg;
		r->model_src = src;
		return 0;
	}
	if (config_load(&r->cfg, src) != 0 || config_flags_apply(&r->o.flags, &r->cfg) != 0)
		return -1;
	return gpt_init(&r->model, &r->cfg, r->o.seed);
}

/* ---- the tokenizer ----------------------------------------------------------------------- *
 * The checkpoints carry the run's tokenizer (their metadata, lm-eval's and
 * lm-sample's first choice): --merges and -s when given, else the one the
 * checkpoint the weights came from carries, so that a run continued from a
 * checkpoint, or resumed, keeps it. */

/* The tokenizer in the metadata of checkpoint SRC (a safetensors file, a GGUF, or a directory's
 * model.safetensors) into r->tok_*: 1 if it has one, 0 if not, -1 on error. */
static int carried_tokenizer(run *r, const char *src)
{
	ckpt_format fmt;
	if (ckpt_sniff(src, &fmt) != 0)
		return -1;
	if (fmt == FMT_GGUF) {
		int rc = gguf_tokenizer_meta(src, &r->tok_merges, &r->tok_specials);
		return rc < 0 ? -1 : rc == 0;
	}
	if (fmt != FMT_SAFETENSORS && fmt != FMT_HF_DIR)
		return 0;   /* llm.c's checkpoint: its tokenizer is a file of its own */
	char *dir_file = fmt == FMT_HF_DIR ? rundir_file(src, "model.safetensors") : NULL;
	st_file *f = st_open(dir_file ? dir_file : src);
	free(dir_file);
	if (!f)
		return -1;
	const char *merges = st_metadata(f, "tokenizer_merges");
	const char *specials = st_metadata(f, "tokenizer_specials");
	if (merges) {
		r->tok_merges = strdup(merges);
		r->tok_specials = specials ? strdup(specials) : NULL;
	}
	st_close(f);
	if (merges && (!r->tok_merges || (specials && !r->tok_specials)))
		return lm_fail("out of memory");
	return merges != NULL;
}

/* r->tok_* from the tokenizer read from --merges (a merges file or a
 * .tiktoken rank table) and its specials. */
static int carry_etok(run *r)
{
	return ckpt_tokenizer_meta(&r->etok.m, &r->tok_merges, &r->tok_specials);
}

static void tokenizer_drop(run *r)
{
	if (r->have_etok)
		lm_tokenizer_close(&r->etok);
	r->have_etok = false;
	free(r->tok_merges);
	free(r->tok_specials);
	r->tok_merges = r->tok_specials = NULL;
}

/* The tokenizer for samples and HellaSwag, and the one the checkpoints
 * carry: --merges and -s given now; else the one the source checkpoint
 * carries; else (a fresh run from a transformers directory or a checkpoint
 * without one) GPT-2's for samples, carried by none. */
static int eval_tokenizer_setup(run *r)
{
	if (r->o.given[OPT_MERGES]) {
		if (lm_tokenizer_open_merges(&r->etok, r->o.merges, r->o.specials,
					     r->o.n_specials) != 0)
			return -1;
		r->have_etok = true;
		if (carry_etok(r) != 0)
			return -1;
	} else if (r->model_src) {
		int carried = carried_tokenizer(r, r->model_src);
		if (carried < 0)
			return -1;
		if (!carried && r->o.resume)   /* a run trained without one */
			return 0;
		if (lm_tokenizer_open(&r->etok, r->model_src, NULL) != 0) {
			if (is_root(r))
				lm_warn("no samples or HellaSwag: %s", lm_last_error());
			tokenizer_drop(r);
			return 0;
		}
		r->have_etok = true;
	} else {
		return 0;
	}
	if (r->etok.m.vocab_size <= (uint32_t)r->cfg.vocab_size)
		return 0;
	lm_fail("the tokenizer %s has %u tokens, the model's vocabulary %d",
		r->etok.source, r->etok.m.vocab_size, r->cfg.vocab_size);
	if (r->o.given[OPT_MERGES])   /* the user's choice: a mistake to report */
		return -1;
	/* The checkpoint's tokenizer does not fit: train without it. */
	if (is_root(r))
		lm_warn("no samples or HellaSwag: %s (give --merges FILE)", lm_last_error());
	tokenizer_drop(r);
	return 0;
}

/* The HellaSwag items: --hellaswag FILE (an error if unreadable), else
 * lm-eval's default file when it is there. */
static int hellaswag_setup(run *r)
{
	char found[4096];
	const char *path = r->o.hellaswag;
	if (!path)
		path = datadir_find(HELLASWAG_FILE, found, sizeof found);
	if (!path || r->o.eval_every <= 0 || !is_root(r))
		return 0;
	if (!r->have_etok) {
		lm_warn("no HellaSwag: no tokenizer (give --merges FILE)");
		return 0;
	}
	if (hellaswag_read(&r->hs, path, HS_STYLE_LLMC, (size_t)r->o.hellaswag_limit) != 0)
		return -1;
	r->have_hs = true;
	return 0;
}

static int tokenizer_setup(run *r)
{
	return eval_tokenizer_setup(r) != 0 || hellaswag_setup(r) != 0 ? -1 : 0;
}

/* ---- batch and data ------------------------------------------------------------------------ */

/* Batch geometry: batch_tokens = B * T * accum * ranks, exactly. */
static int batch_setup(run *r)
{
	r->B = (int)r->o.micro_batch;
	r->T = r->cfg.ctx;
	long per = (long)r->B * r->T * r->dist.nranks;
	if (r->o.batch_tokens % per != 0 || r->o.batch_tokens < per)
		return lm_fail("--batch-tokens %ld is not a multiple of micro-batch x ctx x ranks "
			       "= %d x %d x %d = %ld", r->o.batch_tokens, r->B, r->T,
			       r->dist.nranks, per);
	r->accum = (int)(r->o.batch_tokens / per);
	r->x = malloc((size_t)r->B * r->T * sizeof *r->x);
	r->y = malloc((size_t)r->B * r->T * sizeof *r->y);
	return r->x && r->y ? 0 : lm_fail("out of memory");
}

static int data_setup(run *r)
{
	loader_opts lo = {.B = r->B, .T = r->T, .rank = r->dist.rank,
			  .nranks = r->dist.nranks, .seed = r->o.seed, .shuffle = true,
			  .vocab = r->cfg.vocab_size};
	r->train = loader_open(r->o.data_dir, "train", &lo);
	if (!r->train)
		return -1;
	if (r->o.eval_every > 0) {
		lo.shuffle = false;
		r->val = loader_open(r->o.data_dir, "val", &lo);
		if (!r->val && is_root(r))
			lm_warn("no evaluation: %s", lm_last_error());
	}
	return 0;
}

/* The schedule's defaults resolved once, so the state records real values. */
static void schedule_setup(run *r)
{
	train_opts *o = &r->o;
	if (o->tokens)
		o->steps = (o->tokens + o->batch_tokens - 1) / o->batch_tokens;
	if (!o->steps) {
		o->steps = (long)(loader_num_windows(r->train) * (uint64_t)r->T / (uint64_t)o->batch_tokens);
		if (o->steps < 1)
			o->steps = 1;
	}
	if (o->sched.lr_min < 0)
		o->sched.lr_min = LR_MIN_RATIO_DEFAULT * o->sched.lr_max;
	if (!o->sched.cosine_cycle_iters)
		o->sched.cosine_cycle_iters = o->steps;
	lm_accounting acc;
	accounting_compute(&r->cfg, r->T, &acc);
	r->flops_per_token = accounting_train_flops_per_token(&acc);
}

/* ---- the run directory --------------------------------------------------------------------- */

/* One run writes a run directory: root takes its lock before it reads or
 * writes anything there, and holds it to the end. */
static int run_lock(run *r, const char *dir)
{
	if (!is_root(r) || r->locked)
		return 0;
	r->lock_fd = rundir_lock(dir);
	if (r->lock_fd < 0)
		return -1;
	r->locked = true;
	return 0;
}

/* A fresh run's directory must be empty of runs (unless --force). */
static int rundir_check_fresh(const run *r)
{
	int used = rundir_in_use(r->o.run_dir);
	if (r->o.resume || r->o.force || used == RUNDIR_EMPTY)
		return 0;
	if (used == RUNDIR_NO_CHECKPOINT)
		return lm_fail("'%s' holds a run that wrote no whole checkpoint: nothing to "
			       "resume; -f to start over", r->o.run_dir);
	return lm_fail("'%s' already holds a run: --resume it, or -f to start over", r->o.run_dir);
}

/* A resumed run's log goes on where its last whole line ends. */
static int log_repair(const run *r, const char *path)
{
	long dropped;
	if (!r->o.resume)
		return 0;
	if (train_log_repair(path, &dropped) != 0)
		return -1;
	if (dropped)
		lm_warn("'%s': its last line was torn (%ld bytes, a crash mid-write): cut off",
			path, dropped);
	return 0;
}

static int rundir_setup(run *r)
{
	if (!is_root(r))
		return 0;
	if (rundir_make(r->o.run_dir) != 0 || run_lock(r, r->o.run_dir) != 0 ||
	    rundir_check_fresh(r) != 0)
		return -1;
	char *p = rundir_file(r->o.run_dir, RUNDIR_LOG);
	if (!p)
		return -1;
	if (!r->o.resume && r->o.force)
		unlink(p);
	int rc = log_repair(r, p);
	if (rc == 0)
		rc = train_log_open(&r->log, p);
	free(p);
	if (rc)
		return -1;
	r->have_log = true;
	char *cfg = config_to_json(&r->cfg), *opts = opts_to_json(&r->o, r->T);
	const char *slash = strrchr(r->o.run_dir, '/');
	rc = train_log_run(&r->log, slash && slash[1] ? slash + 1 : r->o.run_dir, cfg, opts);
	free(cfg);
	free(opts);
	return rc;
}

/* ---- --resume -------------------------------------------------------------------------------- */

/* Step's pair, if whole: weights whose header fits the file, a state whose
 * size and hash hold and whose step is the name's. */
static int pair_read(const char *dir, long step, train_state *st, char **ckpt)
{
	char *w = rundir_ckpt_path(dir, step, "safetensors");
	char *sp = rundir_ckpt_path(dir, step, "state");
	st_file *f = w ? st_open(w) : NULL;
	int rc = !w || !sp || !f ? -1 : train_state_read(sp, st);
	if (f)
		st_close(f);
	if (rc == 0 && st->step != (uint64_t)step) {
		rc = lm_fail("'%s': the state says step %llu, its name %ld", sp,
			     (unsigned long long)st->step, step);
		train_state_free(st);
	}
	free(sp);
	if (rc == 0)
		*ckpt = w;
	else
		free(w);
	return rc;
}

/* No pair to resume from: why, and what to do. */
static int no_checkpoint(const char *dir)
{
	if (rundir_in_use(dir) == RUNDIR_NO_CHECKPOINT)
		return lm_fail("'%s' has no checkpoint to resume: its run stopped before it wrote "
			       "a whole one (start it again with -f)", dir);
	return lm_fail("'%s' has no checkpoint to resume", dir);
}

/* The pair to resume: the pointer's, else (missing or damaged) the newest
 * whole one before it, said on stderr. */
static int resume_pair(run *r, train_state *st, char **ckpt)
{
	const char *dir = r->o.resume;
	long step, prev;
	int pointed = rundir_latest(dir, &step);
	if (pointed < 0)
		return -1;
	if (pointed && pair_read(dir, step, st, ckpt) == 0)
		return 0;
	char why[512];
	snprintf(why, sizeof why, "%s", pointed ? lm_last_error() : "");
	for (long before = pointed ? step : LONG_MAX;; before = prev) {
		int found = rundir_previous(dir, before, &prev);
		if (found < 0)
			return -1;
		if (!found)
			return pointed ? lm_fail("cannot resume from step %ld: %s; and no earlier "
						 "whole checkpoint", step, why)
				       : no_checkpoint(dir);
		if (pair_read(dir, prev, st, ckpt) != 0)
			continue;
		if (!is_root(r))
			return 0;
		if (pointed)
			lm_warn("cannot resume from step %ld: %s; resuming from step %ld, the "
				"previous whole checkpoint", step, why, prev);
		else
			lm_warn("'%s' has no %s: resuming from step %ld, its newest whole checkpoint",
				dir, RUNDIR_LATEST, prev);
		return 0;
	}
}

/* The state's step as far as this run's arithmetic goes: the tokens it
 * counts (step x batch) fit, and are what the state says. */
static int state_step_check(const train_state *st, const train_opts *o, const char *dir)
{
	uint64_t bt = (uint64_t)o->batch_tokens;
	if (bt == 0 || st->step > (uint64_t)LONG_MAX / bt)
		return lm_fail("'%s': step %llu of %llu tokens is past any run", dir,
			       (unsigned long long)st->step, (unsigned long long)bt);
	if (st->tokens != st->step * bt)
		return lm_fail("'%s': the state says %llu tokens, its step %llu x %llu a step",
			       dir, (unsigned long long)st->tokens, (unsigned long long)st->step,
			       (unsigned long long)bt);
	return 0;
}

/* --resume: the pair's weights (*ckpt) and state, the run's options. */
static int resume_setup(run *r, train_state *st, char **ckpt, uint64_t *ctx)
{
	struct stat sb;
	if (!r->o.run_dir)
		r->o.run_dir = r->o.resume;
	if (stat(r->o.resume, &sb) != 0)
		return lm_fail_errno("cannot open run directory '%s'", r->o.resume);
	if (!strcmp(r->o.run_dir, r->o.resume) && run_lock(r, r->o.resume) != 0)
		return -1;
	if (resume_pair(r, st, ckpt) != 0)
		return -1;
	char *sp = rundir_ckpt_path(r->o.resume, (long)st->step, "state");
	int rc = sp ? opts_from_state(&r->o, st->options_json, sp, ctx) : -1;
	free(sp);
	return rc == 0 ? state_step_check(st, &r->o, r->o.resume) : -1;
}

/* Moments, step, data position and RNG from the state. */
static int resume_apply(run *r, const train_state *st, uint64_t ctx)
{
	if (st->num_params != r->model.num_params)
		return lm_fail("the state holds %zu parameters, the model %zu",
			       st->num_params, r->model.num_params);
	if (ctx != (uint64_t)r->T)
		return lm_fail("the state says context %llu, the model %d",
			       (unsigned long long)ctx, r->T);
	memcpy(r->be.opt.m, st->m, st->num_params * sizeof(float));
	memcpy(r->be.opt.v, st->v, st->num_params * sizeof(float));
	r->be.opt.step = (long)st->step;
	r->step = (long)st->step;
	r->last_ckpt = r->step;
	r->rng.state = st->rng_state;
	r->rng.has_spare = false;
	if (loader_pos_restore(r->train, st->loader_pos, LOADER_POS_BYTES) != 0)
		return -1;
	return r->be.sync_device(&r->be);
}

/* After dist_init and the resumed run's options (its device): cuda gives
 * this rank its GPU and NCCL before the backend allocates anything. Under mpirun or srun their ranks count.
 * One rank without --gpus trains on the current GPU with no NCCL at all;
 * --gpus 1 takes the NCCL path (a 1-rank communicator), as N ranks would. */
static void gpu_setup(run *r)
{
	if (r->o.given[OPT_GPUS] && r->o.gpus != r->dist.nranks && is_root(r))
		lm_warn("--gpus %d ignored: %s started %d rank%s, one GPU each", r->o.gpus,
			r->dist.launcher, r->dist.nranks, r->dist.nranks == 1 ? "" : "s");
	if (r->dist.nranks == 1 && !r->o.given[OPT_GPUS])
		return;
	if (!strcmp(r->o.device, "cuda") && dist_use_gpu(&r->dist) != 0)
		run_die(r);
}

static void run_setup(run *r)
{
	train_state st = {0};
	char *ckpt = NULL;
	uint64_t ctx = 0;
	r->last_ckpt = -1;
	r->tty = isatty(2);
	if (r->o.resume) {
		if (model_flags_given(&r->o.flags))
			lm_usage_error("model flags with --resume: the model is the run's");
		if (resume_setup(r, &st, &ckpt, &ctx) != 0)
			run_die(r);
	}
	gpu_setup(r);
	if (!r->o.run_dir)
		r->o.run_dir = DEFAULT_RUN_DIR;
	if (model_setup(r, ckpt) != 0 || tokenizer_setup(r) != 0)
		run_die(r);
	if (batch_setup(r) != 0) {
		if (is_root(r))  /* the same on every rank: say it once */
			fprintf(stderr, "%s: %s\n", lm_progname, lm_last_error());
		exit(EXIT_USAGE);
	}
	if (data_setup(r) != 0)
		run_die(r);
	schedule_setup(r);
	rng_seed(&r->rng, r->o.seed);
	if (backend_open(&r->be, r->o.device, &r->model, r->o.hp) != 0)
		run_die(r);
	if (r->o.resume && resume_apply(r, &st, ctx) != 0)
		run_die(r);
	if (rundir_setup(r) != 0)
		run_die(r);
	train_state_free(&st);
	r->model_src = NULL;  /* it was ckpt's */
	free(ckpt);
}

/* ---- evaluation and samples ------------------------------------------------------------------ */

/* Mean val loss over the first eval_tokens val tokens (all ranks). */
static double evaluate(run *r)
{
	long batches = r->o.eval_tokens / ((long)r->B * r->T * r->dist.nranks);
	double sum[2] = {0, 0};  /* loss x rows, rows */
	loader_rewind(r->val);
	for (long i = 0; i < (batches ? batches : 1); i++) {
		int rows = loader_next(r->val, r->x, r->y, NULL);
		if (rows < 0)
			run_die(r);
		if (rows == 0)
			break;
		float loss;
		if (r->be.eval_loss(&r->be, r->x, r->y, rows, r->T, &loss) != 0)
			run_die(r);
		sum[0] += (double)loss * rows;
		sum[1] += rows;
	}
	if (dist_allreduce_sum_f64(&r->dist, sum, 2) != 0)
		run_die(r);
	return sum[1] > 0 ? sum[0] / sum[1] : NAN;
}

/* acc_norm over the HellaSwag items, scored by lm-eval's code on the
 * training device (root only); *ms gets the time taken. */
static double hellaswag_score(run *r, double *ms)
{
	double t0 = now_ms();
	hs_total tot = {0};
	score_model model;
	score_model_device(&model, &r->be);
	for (size_t i = 0; i < r->hs.n; i++) {
		hs_result res;
		if (hellaswag_eval_item(&model, &r->etok, &r->hs.items[i], r->hs.style, &res) != 0)
			run_die(r);
		hellaswag_total_add(&tot, &res);
	}
	*ms = now_ms() - t0;
	return tot.n ? (double)tot.acc_norm / tot.n : NAN;
}

/* Val loss (all ranks) and HellaSwag (root), one log record. */
static void eval_step(run *r)
{
	if (!r->val && !r->have_hs)
		return;
	double t0 = now_ms(), loss = r->val ? evaluate(r) : NAN;
	if (!is_root(r))
		return;
	double val_ms = now_ms() - t0, hs_ms = 0;
	double hs = r->have_hs ? hellaswag_score(r, &hs_ms) : NAN;
	fprintf(stderr, "%sstep %ld:", r->tty ? "\r\033[K" : "", r->step);
	if (r->val)
		fprintf(stderr, " val loss %.4f (%.0f ms)", loss, val_ms);
	if (r->have_hs)
		fprintf(stderr, "%s hellaswag %.4f acc_norm on %zu items (%.0f ms)",
			r->val ? " |" : "", hs, r->hs.n, hs_ms);
	fputc('\n', stderr);
	log_record rec = log_record_empty(r->step, (double)r->step * r->o.batch_tokens);
	rec.val_loss = loss;
	rec.hellaswag = hs;
	if (train_log_write(&r->log, &rec) != 0)
		run_die(r);
}

typedef struct {
	token_buf out;
} sample_out;

static int sample_collect(void *ctx, uint32_t id)
{
	return token_buf_push(&((sample_out *)ctx)->out, id) == 0 ? 0 : lm_fail("out of memory");
}

/* The ids of the sample prompt: --sample-prompt, else <|endoftext|> (a
 * document start), else the current batch's first token. */
static int sample_prompt(run *r, token_buf *p)
{
	const char *text = r->o.sample_prompt;
	if (text && lm_tokenizer_encode(&r->etok, text, strlen(text), p) != 0)
		return -1;
	if (p->n == 0 && token_buf_push(p, r->etok.eot >= 0 ? (uint32_t)r->etok.eot
							   : (uint32_t)r->x[0]) != 0)
		return lm_fail("out of memory");
	for (size_t i = 0; i < p->n; i++)
		if (p->ids[i] >= (uint32_t)r->cfg.vocab_size)
			return lm_fail("the sample prompt's token %u is beyond the vocabulary (%d)",
				       p->ids[i], r->cfg.vocab_size);
	return 0;
}

/* SAMPLE_TOKENS sampled after the prompt, through the backend's incremental
 * forward and lm-sample's loop, decoded to stderr. Its own generator, seeded
 * with --seed: the same sample for the same weights, and the training RNG
 * and state untouched (an exact --resume does not see it). */
static void sample_step(run *r)
{
	if (!is_root(r))
		return;
	if (!r->have_etok) {
		static bool said;
		if (!said)
			lm_warn("no samples: no tokenizer (give --merges FILE and -s TOKEN)");
		said = true;
		return;
	}
	token_buf prompt = {0};
	sample_out so = {{0}};
	sampler smp;
	sample_opts opts = {.temperature = SAMPLE_TEMPERATURE, .top_k = SAMPLE_TOP_K, .top_p = 1};
	sample_rng rng;
	sample_rng_seed(&rng, r->o.seed);
	gen_model g;
	backend_gen_model(&r->be, &g);
	if (sample_prompt(r, &prompt) != 0 || sampler_init(&smp, r->cfg.vocab_size, &opts) != 0)
		run_die(r);
	if (generate_with(&g, prompt.ids, (int)prompt.n, SAMPLE_TOKENS, r->etok.eot, &smp, &rng,
			  sample_collect, &so) != 0)
		run_die(r);
	fprintf(stderr, "%sstep %ld sample: ", r->tty ? "\r\033[K" : "", r->step);
	for (size_t i = 0; i < so.out.n; i++) {
		size_t n;
		const uint8_t *b = lm_tokenizer_bytes(&r->etok, so.out.ids[i], &n);
		if (b && (int)so.out.ids[i] != r->etok.eot)
			fwrite(b, 1, n, stderr);
	}
	fputc('\n', stderr);
	sampler_free(&smp);
	token_buf_free(&prompt);
	token_buf_free(&so.out);
}

/* ---- one step ------------------------------------------------------------------------------ */

typedef struct {
	double loss, norm, lr, ms;
} step_result;

static double test_nan_step(void)
{
	const char *s = getenv(ENV_TEST_NAN_STEP);
	return s ? atof(s) : -1;
}

static void test_step_delay(void)
{
	const char *s = getenv(ENV_TEST_STEP_MS);
	if (s && atoi(s) > 0)
		usleep((useconds_t)atoi(s) * 1000);
}

/* Micro-batches to batch_tokens, mean over ranks, clip, AdamW. */
static step_result train_step(run *r)
{
	step_result s = {0};
	double t0 = now_ms(), sum = 0;
	if (r->be.zero_grad(&r->be) != 0)
		run_die(r);
	for (int a = 0; a < r->accum; a++) {
		float loss;
		dist_ctx *reduce = a == r->accum - 1 ? &r->dist : NULL;  /* the mean over ranks */
		if (loader_next(r->train, r->x, r->y, NULL) < 0 ||
		    r->be.micro_step(&r->be, r->x, r->y, r->B, r->T, 1.0f / r->accum, reduce,
				     &loss) != 0)
			run_die(r);
		sum += loss;
	}
	s.loss = sum / r->accum;
	if (dist_allreduce_sum_f64(&r->dist, &s.loss, 1) != 0)
		run_die(r);
	s.loss /= r->dist.nranks;
	if (test_nan_step() == r->step + 1)
		s.loss = NAN;
	s.norm = r->be.clip_grads(&r->be, r->o.grad_clip);
	if (!isfinite(s.loss) || !isfinite(s.norm)) {
		double bad = isfinite(s.loss) ? s.norm : s.loss;
		lm_fail("%s is %s at step %ld: stopping; %s", isfinite(s.loss) ? "gradient norm" : "loss",
			isnan(bad) ? "nan" : bad > 0 ? "inf" : "-inf", r->step + 1,
			r->last_ckpt >= 0 ? "the last good checkpoint is in place" : "no checkpoint written");
		run_die(r);
	}
	s.lr = lr_at(&r->o.sched, r->step);
	if (r->be.update(&r->be, s.lr) != 0)
		run_die(r);
	r->step++;
	test_step_delay();
	s.ms = now_ms() - t0;
	return s;
}

/* ---- progress ------------------------------------------------------------------------------ */

static void report_step(run *r, const step_result *s)
{
	if (!is_root(r))
		return;
	double tok_s = r->o.batch_tokens / (s->ms / 1e3);
	double mfu = tok_s * r->flops_per_token / r->o.peak;
	r->ms_avg = r->ms_avg ? 0.9 * r->ms_avg + 0.1 * s->ms : s->ms;
	char eta[32], tps[32];
	num_duration((r->o.steps - r->step) * r->ms_avg / 1e3, eta);
	num_commas((uint64_t)tok_s, tps);
	fprintf(stderr, "%sstep %*ld/%ld | loss %.4f | lr %.2e | norm %.3f | %.0f ms | %s tok/s"
		" | MFU %.1f%% | ETA %s%s", r->tty ? "\r\033[K" : "", (int)snprintf(NULL, 0, "%ld", r->o.steps),
		r->step, r->o.steps, s->loss, s->lr, s->norm, s->ms, tps, 100 * mfu, eta,
		r->tty ? "" : "\n");
	log_record rec = log_record_empty(r->step, (double)r->step * r->o.batch_tokens);
	rec.loss = s->loss;
	rec.lr = s->lr;
	rec.grad_norm = s->norm;
	rec.ms = s->ms;
	rec.tok_s = tok_s;
	rec.mfu = mfu;
	if (train_log_write(&r->log, &rec) != 0)
		run_die(r);
}

static bool every(long step, long n) { return n > 0 && step % n == 0; }

/* ---- --gpus N: the ranks of one machine ---------------------------------------------- */

/* lm-train --gpus N outside any launcher becomes a launcher (dist/spawn.h):
 * it checks the GPUs, makes the NCCL id, starts itself N times as ranks
 * and exits with their status. */
static void say_rank_failed(int rank, int nranks, int code)
{
	lm_warn("rank %d of %d failed (status %d): stopping the other ranks", rank, nranks, code);
}

static noreturn void ranks_run(int n, char **argv)
{
	char id[DIST_NCCL_ID_HEX];
	const char *test_gpus = getenv(ENV_TEST_GPUS);
	int have = test_gpus ? atoi(test_gpus) : dist_gpu_count();
	if (have < 0)
		lm_die("--gpus %d: %s", n, lm_last_error());
	if (have < n)
		lm_die("--gpus %d: this machine has %d GPU%s (one rank a GPU: NCCL refuses two "
		       "ranks on one)", n, have, have == 1 ? "" : "s");
	if (dist_nccl_id_hex(id) != 0)
		lm_die("--gpus %d: %s", n, lm_last_error());
	fflush(NULL);
	int code = dist_spawn(n, id, argv, RANKS_STOP_GRACE_S, say_rank_failed);
	if (code < 0)
		lm_die("--gpus %d: %s", n, lm_last_error());
	exit(code);
}

/* Before dist_init: a spawner for --gpus N > 1 when no launcher started
 * this process (it never returns then). */
static void ranks_start(const train_opts *o, char **argv)
{
	dist_ctx env;
	if (o->gpus > 1 && dist_probe(&env) == 0 && env.nranks == 1)
		ranks_run(o->gpus, argv);
}

/* ---- main ---------------------------------------------------------------------------------- */

static void run_free(run *r)
{
	if (r->have_log && train_log_close(&r->log) != 0)
		lm_warn("%s", lm_last_error());
	backend_close(&r->be);
	gpt_free(&r->model);
	loader_close(r->train);
	if (r->val)
		loader_close(r->val);
	tokenizer_drop(r);
	if (r->have_hs)
		hellaswag_free(&r->hs);
	if (r->locked)
		close(r->lock_fd);
	free(r->x);
	free(r->y);
}

static void say_start(const run *r)
{
	char np[32], bt[32];
	if (!is_root(r))
		return;
	fprintf(stderr, "%s %s: %s parameters, %d layers, d %d, ctx %d, vocab %d | "
		"batch %s tokens = %d x %d x %d accum x %d ranks | %ld steps | %s, %d threads\n",
		r->o.resume ? "resuming" : "training", r->cfg.name,
		num_commas(r->model.num_params, np), r->cfg.n_layer, r->cfg.d_model, r->cfg.ctx,
		r->cfg.vocab_size, num_commas((uint64_t)r->o.batch_tokens, bt), r->B, r->T,
		r->accum, r->dist.nranks, r->o.steps, r->be.name, omp_get_max_threads());
	if (r->dist.nranks > 1 || r->dist.nccl)
		fprintf(stderr, "ranks: %s\n", r->dist.what);
	if (r->o.resume)
		fprintf(stderr, "from step %ld of %s\n", r->step, r->o.resume);
}

int main(int argc, char **argv)
{
	threads_init(argv);
	static run r;
	lm_set_progname(argv[0]);
	opts_defaults(&r.o);
	opts_parse(&r.o, argc, argv);
	if (r.o.threads)
		omp_set_num_threads(r.o.threads);
	ranks_start(&r.o, argv);
	if (dist_init(&r.dist) != 0)
		lm_die_last();
	signals_install();
	run_setup(&r);
	say_start(&r);
	if (!r.o.resume && every(0, r.o.eval_every))
		eval_step(&r);
	while (r.step < r.o.steps) {
		step_result s = train_step(&r);
		report_step(&r, &s);
		int stop = stop_signal != 0;
		if (dist_allreduce_max_int(&r.dist, &stop) != 0)
			run_die(&r);
		bool last = r.step == r.o.steps;
		if (every(r.step, r.o.eval_every) || (last && r.o.eval_every))
			eval_step(&r);
		if (every(r.step, r.o.sample_every))
			sample_step(&r);
		if ((every(r.step, r.o.ckpt_every) || last || stop) && checkpoint(&r) != 0)
			run_die(&r);
		if (stop) {
			if (is_root(&r))
				fprintf(stderr, "%sstopped by a signal after step %ld; continue with "
					"--resume %s\n", r.tty ? "\n" : "", r.step, r.o.run_dir);
			break;
		}
	}
	if (checkpoint(&r) != 0)
		run_die(&r);
	if (is_root(&r) && r.tty)
		fputc('\n', stderr);
	run_free(&r);
	dist_finalize(&r.dist);
	return 0;
}
