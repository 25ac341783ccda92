/*
 * lm-train — train a GPT on token shards: gradient accumulation to a fixed
 * batch, AdamW with warmup + cosine decay, global-norm clipping, periodic
 * validation, samples and checkpoints, an exact --resume, data parallel
 * over MPI or NCCL (--gpus N starts N ranks, one a GPU).
 *
 *   lm-train DATA_DIR [--model PRESET|CONFIG|CKPT] [model flags] [-o RUN_DIR] [options]
 *   lm-train --resume RUN_DIR [--steps N] [options]
 *
 * The arithmetic runs behind model/device_model.h (the model on the CPU
 * or the GPU: micro-step, clip, update); the run's options, their JSON form and what a resume keeps of
 * them in train/options.h; writing and finding checkpoints in
 * train/checkpoint.h; the run's tokenizer in train/tokenizer.h. This file
 * is the loop around them: parse, open the run and the device model, then for
 * each step the micro-batches, the clipping, the update and the progress
 * line, an eval, a sample or a checkpoint when due; close. Rank 0 alone
 * writes files and prints; every rank runs the same loop and takes the
 * same decisions, from values all-reduced across ranks.
 *
 * What an exact resume rests on: the weights (safetensors, fp32), AdamW's
 * moments and step, the loader's global position and the run's options
 * (the .state sidecar), and deterministic arithmetic (fixed thread
 * partitions, fixed summation order).
 */
#include "ckpt/ckpt.h"
#include "ckpt/format.h"
#include "data/loader.h"
#include "dist/dist.h"
#include "dist/spawn.h"
#include "eval/hellaswag.h"
#include "eval/hellaswag_eval.h"
#include "model/accounting.h"
#include "model/device.h"
#include "model/device_model.h"
#include "model/gpt.h"
#include "model/rng.h"
#include "sample/generate.h"
#include "sample/sampler.h"
#include "train/checkpoint.h"
#include "train/log.h"
#include "train/options.h"
#include "train/rundir.h"
#include "train/state.h"
#include "train/tokenizer.h"
#include "util/cli.h"
#include "util/datadir.h"
#include "util/error.h"
#include "util/io.h"
#include "util/num.h"
#include "util/threads.h"
#include "util/timer.h"

#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- constants ---------------------------------------------------------------- */

#define SAMPLE_TOKENS 64
#define SAMPLE_TEMPERATURE 1.0
#define SAMPLE_TOP_K 40
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
	       "                           " DATADIR_HELLASWAG " where lm-eval finds it, if there)\n"
	       "      --hellaswag-limit N  the first N items; 0 = all (200)\n"
	       "      --ckpt-every N       a checkpoint; also at the end and on SIGINT/TERM/HUP (1000)\n"
	       "      --keep K             keep the last K checkpoints; 0 = all (3)\n"
	       "Tokenizer (for samples, and stored in the checkpoints):\n"
	       "      --merges FILE        the merges file (or .tiktoken) the shards were encoded with\n"
	       "  -s, --special TOKEN      a special token after the merges (repeatable)\n"
	       "      --peak FLOPS         peak FLOP/s for the MFU figure (1T)\n"
	       "  -f, --force              start a fresh run in a RUN_DIR that has one\n"
	       "%s"
	       "  -h, --help               this text\n"
	       "      --version            the version and the features of this build\n",
	       CONFIG_FLAGS_HELP);
}

/* -s TOKEN: one more special token. */
static int add_special(train_opts *o, const char *token)
{
	if (o->n_specials == TRAIN_MAX_SPECIALS)
		return cli_usage_error("more than %d special tokens", TRAIN_MAX_SPECIALS);
	o->specials[o->n_specials++] = token;
	return 0;
}

/* DATA_DIR (optional with --resume), and the checks across options. */
static int check_options(train_opts *o, int argc, char **argv)
{
	if (o->resume) {
		if (optind < argc)
			o->data_dir = argv[optind++];
	} else {
		if (optind >= argc)
			return cli_usage_error("no DATA_DIR (the directory of token shards)");
		o->data_dir = argv[optind++];
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (o->given[OPT_STEPS] && o->given[OPT_TOKENS])
		return cli_usage_error("--steps and --tokens: give one");
	if (o->resume && train_opts_model_given(o))
		return cli_usage_error("model flags with --resume: the model is the run's");
	if (o->given[OPT_GPUS] && !o->given[OPT_DEVICE])
		o->device = "cuda";
	const char *dev = device_resolve(o->device);
	if (!dev)
		return cli_usage_error("--device: '%s' is cpu, cuda or auto", o->device);
	o->device = dev;
	if (o->gpus > 1 && strcmp(o->device, "cuda"))
		return cli_usage_error("--gpus %d trains on GPUs: --device %s does not go with it",
				       o->gpus, o->device);
	return CLI_RUN;
}

/* CLI_RUN, or the exit status (util/cli.h). The numeric options go through
 * the run's table (train/options.h); given[] records what was typed. */
static int parse_options(int argc, char **argv, train_opts *o)
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
	train_opts_defaults(o);
	int opt, rc = 0;
	while (rc == 0 && (opt = cli_getopt(argc, argv, "m:o:j:b:s:fh", longopts)) != -1) {
		if (opt >= 0 && opt < OPT_COUNT)
			o->given[opt] = 1;
		int model = config_flags_arg(&o->flags, opt, optarg);
		if (model != CONFIG_FLAGS_OTHER) {
			rc = model;
			continue;
		}
		int num = train_opts_set_number(o, opt, optarg);
		if (num < 0)
			return cli_usage_error("%s", lm_last_error());
		if (num > 0)
			continue;
		switch (opt) {
		case 'm': o->model = optarg; break;
		case 'o': o->run_dir = optarg; break;
		case 'j': rc = cli_arg_int("--threads", optarg, 1, 4096, &o->threads); break;
		case 's': rc = add_special(o, optarg); break;
		case 'f': o->force = 1; break;
		case OPT_RESUME: o->resume = optarg; break;
		case OPT_DEVICE: o->device = optarg; break;
		case OPT_GPUS: rc = cli_arg_int("--gpus", optarg, 1, MAX_GPUS, &o->gpus); break;
		case OPT_MERGES: o->merges = optarg; break;
		case OPT_SAMPLE_PROMPT: o->sample_prompt = optarg; break;
		case OPT_HELLASWAG: o->hellaswag = optarg; break;
		default: return cli_common_option(opt, usage);
		}
	}
	return rc != 0 ? rc : check_options(o, argc, argv);
}

/* ---- the run: everything the loop holds -------------------------------------------- */

typedef struct {
	train_opts o;
	dist_ctx dist;
	lm_config cfg;
	gpt_model model;
	device_model dev;   /* the model on --device, for training */
	loader *train, *val;
	train_log log;
	bool have_log;
	train_tokenizer tok;     /* for samples and HellaSwag; the checkpoints carry it */
	hs_set hs;               /* the HellaSwag items scored at each eval */
	bool have_hs;
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

/* A runtime error: every rank stops (a collective would hang otherwise). */
static noreturn void run_die(run *r)
{
	fprintf(stderr, "%s%s: %s\n", r->tty ? "\n" : "", lm_progname, lm_last_error());
	if (r->dist.nranks > 1)
		dist_abort(&r->dist, EXIT_RUNTIME);
	exit(EXIT_RUNTIME);
}

/* ---- checkpoints ---------------------------------------------------------------------- */

/* The state a checkpoint of this step keeps (options_json malloc'ed). */
static int state_of_run(const run *r, train_state *s)
{
	*s = (train_state){
		.step = (uint64_t)r->step,
		.tokens = (uint64_t)(r->step * r->o.batch_tokens),
		.rng_state = r->rng.state,
		.options_json = train_opts_to_json(&r->o, r->T),
		.num_params = r->model.num_params,
		.m = r->dev.opt.m,
		.v = r->dev.opt.v,
	};
	if (!s->options_json)
		return lm_fail("out of memory");
	loader_pos_save(r->train, s->loader_pos);
	return 0;
}

/* This step's checkpoint, once (root writes it). A model transformers
 * cannot express is said once, and is no error. */
static int checkpoint(run *r)
{
	static bool said;
	if (r->last_ckpt == r->step)
		return 0;
	r->last_ckpt = r->step;
	if (!is_root(r))
		return 0;
	train_state st;
	if (r->dev.sync_host(&r->dev) != 0 || state_of_run(r, &st) != 0)
		return -1;
	train_ckpt c = {&r->model, &st, r->tok.merges, r->tok.specials,
			r->tok.open ? &r->tok.enc.m : NULL};
	int rc = train_ckpt_write(r->o.run_dir, (int)r->o.keep, &c);
	free(st.options_json);
	if (rc > 0 && !said)
		lm_warn("%s", lm_last_error());
	said = said || rc > 0;
	return rc < 0 ? -1 : 0;
}

/* ---- set-up ------------------------------------------------------------------------------ */

/* The model: from the resumed checkpoint, or a preset/config (+ flags) with
 * fresh weights from the seed, or an existing checkpoint to continue from. */
static int model_setup(run *r, const char *ckpt)
{
	const char *src = ckpt ? ckpt : r->o.model;
	if (ckpt_has_weights(src)) {
		if (!ckpt && train_opts_model_given(&r->o))
			return lm_fail("model flags cannot change the model of '%s'", src);
		if (ckpt_open_model(&r->model, src) != 0)
			return -1;
		r->cfg = r->model.cfg;
		r->model_src = src;
		return 0;
	}
	if (ckpt_load_config(&r->cfg, src) != 0 || config_flags_apply(&r->o.flags, &r->cfg) != 0)
		return -1;
	return gpt_init(&r->model, &r->cfg, r->o.seed);
}

/* ---- the tokenizer ----------------------------------------------------------------------- */

/* The run's tokenizer (train/tokenizer.h): --merges and -s given now, else
 * the source checkpoint's; one that does not fit a checkpoint's model is
 * said, and the run goes on without. */
static int eval_tokenizer_setup(run *r)
{
	if (r->o.given[OPT_MERGES])
		return train_tokenizer_open_merges(&r->tok, r->o.merges, r->o.specials,
						   r->o.n_specials, r->cfg.vocab_size);
	if (!r->model_src)
		return 0;
	int rc = train_tokenizer_open_ckpt(&r->tok, r->model_src, r->o.resume != NULL,
					   r->cfg.vocab_size);
	if (rc > 0 && is_root(r))
		lm_warn("no samples or HellaSwag: %s", lm_last_error());
	return rc < 0 ? -1 : 0;
}

/* The HellaSwag items: --hellaswag FILE (an error if unreadable), else
 * lm-eval's default file when it is there. */
static int hellaswag_setup(run *r)
{
	char found[4096];
	const char *path = r->o.hellaswag;
	if (!path)
		path = datadir_hellaswag(found, sizeof found);
	if (!path || r->o.eval_every <= 0 || !is_root(r))
		return 0;
	if (!r->tok.open) {
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
	if (mkdir_p(r->o.run_dir) != 0 || run_lock(r, r->o.run_dir) != 0)
		return -1;
	if (!r->o.resume && !r->o.force && rundir_check_fresh(r->o.run_dir) != 0)
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
	char *cfg = config_to_json(&r->cfg), *opts = train_opts_to_json(&r->o, r->T);
	const char *slash = strrchr(r->o.run_dir, '/');
	rc = train_log_run(&r->log, slash && slash[1] ? slash + 1 : r->o.run_dir, cfg, opts);
	free(cfg);
	free(opts);
	return rc;
}

/* ---- --resume -------------------------------------------------------------------------------- */

/* The pair to resume (train_ckpt_find); root says when it is not the
 * pointer's. */
static int resume_pair(const run *r, train_state *st, char **ckpt)
{
	int rc = train_ckpt_find(r->o.resume, st, ckpt);
	if (rc > 0 && is_root(r))
		lm_warn("%s", lm_last_error());
	return rc < 0 ? -1 : 0;
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
	int rc = sp ? train_opts_from_json(&r->o, st->options_json, sp, ctx) : -1;
	free(sp);
	return rc == 0 ? train_ckpt_check_step(st, r->o.batch_tokens, r->o.resume) : -1;
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
	memcpy(r->dev.opt.m, st->m, st->num_params * sizeof(float));
	memcpy(r->dev.opt.v, st->v, st->num_params * sizeof(float));
	r->dev.opt.step = (long)st->step;
	r->step = (long)st->step;
	r->last_ckpt = r->step;
	r->rng.state = st->rng_state;
	r->rng.has_spare = false;
	if (loader_pos_restore(r->train, st->loader_pos, LOADER_POS_BYTES) != 0)
		return -1;
	return r->dev.sync_device(&r->dev);
}

/* After dist_init and the resumed run's options (its device): cuda gives
 * this rank its GPU and NCCL before the device model allocates anything. Under mpirun or srun their ranks count.
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
	if (r->o.resume && resume_setup(r, &st, &ckpt, &ctx) != 0)
		run_die(r);
	gpu_setup(r);
	if (!r->o.run_dir)
		r->o.run_dir = TRAIN_DEFAULT_RUN_DIR;
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
	if (device_model_open_train(&r->dev, r->o.device, &r->model, r->o.hp) != 0)
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
		if (r->dev.eval_loss(&r->dev, r->x, r->y, rows, r->T, &loss) != 0)
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
	double t0 = timer_now();
	hs_total tot = {0};
	score_model model;
	score_model_device(&model, &r->dev);
	for (size_t i = 0; i < r->hs.n; i++) {
		hs_result res;
		if (hellaswag_eval_item(&model, &r->tok.enc, &r->hs.items[i], r->hs.style, &res) != 0)
			run_die(r);
		hellaswag_total_add(&tot, &res);
	}
	*ms = 1e3 * timer_since(t0);
	return tot.n ? (double)tot.acc_norm / tot.n : NAN;
}

/* Val loss (all ranks) and HellaSwag (root), one log record. */
static void eval_step(run *r)
{
	if (!r->val && !r->have_hs)
		return;
	double t0 = timer_now(), loss = r->val ? evaluate(r) : NAN;
	if (!is_root(r))
		return;
	double val_ms = 1e3 * timer_since(t0), hs_ms = 0;
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
	if (text && lm_tokenizer_encode(&r->tok.enc, text, strlen(text), p) != 0)
		return -1;
	if (p->n == 0 && token_buf_push(p, r->tok.enc.eot >= 0 ? (uint32_t)r->tok.enc.eot
							   : (uint32_t)r->x[0]) != 0)
		return lm_fail("out of memory");
	for (size_t i = 0; i < p->n; i++)
		if (p->ids[i] >= (uint32_t)r->cfg.vocab_size)
			return lm_fail("the sample prompt's token %u is beyond the vocabulary (%d)",
				       p->ids[i], r->cfg.vocab_size);
	return 0;
}

/* SAMPLE_TOKENS sampled after the prompt, through the device model's incremental
 * forward and lm-sample's loop, decoded to stderr. Its own generator, seeded
 * with --seed: the same sample for the same weights, and the training RNG
 * and state untouched (an exact --resume does not see it). */
static void sample_step(run *r)
{
	if (!is_root(r))
		return;
	if (!r->tok.open) {
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
	gen_model_device(&g, &r->dev);
	if (sample_prompt(r, &prompt) != 0 || sampler_init(&smp, r->cfg.vocab_size, &opts) != 0)
		run_die(r);
	if (generate_with(&g, prompt.ids, (int)prompt.n, SAMPLE_TOKENS, r->tok.enc.eot, &smp, &rng,
			  sample_collect, &so) != 0)
		run_die(r);
	fprintf(stderr, "%sstep %ld sample: ", r->tty ? "\r\033[K" : "", r->step);
	for (size_t i = 0; i < so.out.n; i++) {
		size_t n;
		const uint8_t *b = lm_tokenizer_bytes(&r->tok.enc, so.out.ids[i], &n);
		if (b && (int)so.out.ids[i] != r->tok.enc.eot)
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
	double t0 = timer_now(), sum = 0;
	if (r->dev.zero_grad(&r->dev) != 0)
		run_die(r);
	for (int a = 0; a < r->accum; a++) {
		float loss;
		dist_ctx *reduce = a == r->accum - 1 ? &r->dist : NULL;  /* the mean over ranks */
		if (loader_next(r->train, r->x, r->y, NULL) < 0 ||
		    r->dev.micro_step(&r->dev, r->x, r->y, r->B, r->T, 1.0f / r->accum, reduce,
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
	s.norm = r->dev.clip_grads(&r->dev, r->o.grad_clip);
	if (!isfinite(s.loss) || !isfinite(s.norm)) {
		double bad = isfinite(s.loss) ? s.norm : s.loss;
		lm_fail("%s is %s at step %ld: stopping; %s", isfinite(s.loss) ? "gradient norm" : "loss",
			isnan(bad) ? "nan" : bad > 0 ? "inf" : "-inf", r->step + 1,
			r->last_ckpt >= 0 ? "the last good checkpoint is in place" : "no checkpoint written");
		run_die(r);
	}
	s.lr = lr_at(&r->o.sched, r->step);
	if (r->dev.update(&r->dev, s.lr) != 0)
		run_die(r);
	r->step++;
	test_step_delay();
	s.ms = 1e3 * timer_since(t0);
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

/* ---- closing ---------------------------------------------------------------------------------- */

static void run_free(run *r)
{
	if (r->have_log && train_log_close(&r->log) != 0)
		lm_warn("%s", lm_last_error());
	device_model_close(&r->dev);
	gpt_free(&r->model);
	loader_close(r->train);
	if (r->val)
		loader_close(r->val);
	train_tokenizer_close(&r->tok);
	if (r->have_hs)
		hellaswag_free(&r->hs);
	if (r->locked)
		close(r->lock_fd);
	free(r->x);
	free(r->y);
	train_opts_free(&r->o);
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
		r->accum, r->dist.nranks, r->o.steps, r->dev.name, omp_get_max_threads());
	if (r->dist.nranks > 1 || r->dist.nccl)
		fprintf(stderr, "ranks: %s\n", r->dist.what);
	if (r->o.resume)
		fprintf(stderr, "from step %ld of %s\n", r->step, r->o.resume);
}

/* ---- the loop ------------------------------------------------------------------------------- */

/* Whether a signal asked any rank to stop (every rank takes the answer). */
static bool stop_requested(run *r)
{
	int stop = stop_signal != 0;
	if (dist_allreduce_max_int(&r->dist, &stop) != 0)
		run_die(r);
	return stop;
}

/* What is due after a step: the eval (also at the last step), a sample, a
 * checkpoint (also at the last step and on a stop). */
static void after_step(run *r, bool stop)
{
	bool last = r->step == r->o.steps;
	if (train_every(r->step, r->o.eval_every) || (last && r->o.eval_every))
		eval_step(r);
	if (train_every(r->step, r->o.sample_every))
		sample_step(r);
	if (train_ckpt_due(r->step, r->o.ckpt_every, last, stop) && checkpoint(r) != 0)
		run_die(r);
}

static void say_stopped(const run *r)
{
	if (is_root(r))
		fprintf(stderr, "%sstopped by a signal after step %ld; continue with --resume %s\n",
			r->tty ? "\n" : "", r->step, r->o.run_dir);
}

/* The steps up to --steps, or to a signal; then the final checkpoint (a
 * no-op when the last step's is written). */
static void train_loop(run *r)
{
	if (!r->o.resume && train_every(0, r->o.eval_every))
		eval_step(r);
	while (r->step < r->o.steps) {
		step_result s = train_step(r);
		report_step(r, &s);
		bool stop = stop_requested(r);
		after_step(r, stop);
		if (stop) {
			say_stopped(r);
			break;
		}
	}
	if (checkpoint(r) != 0)
		run_die(r);
	if (is_root(r) && r->tty)
		fputc('\n', stderr);
}

/* ---- main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static run r;
	threads_init(argv);
	lm_set_progname(argv[0]);
	int rc = parse_options(argc, argv, &r.o);
	if (rc != CLI_RUN)
		return rc;
	if (train_opts_paths_absolute(&r.o) != 0)
		lm_die_last();
	if (r.o.threads)
		omp_set_num_threads(r.o.threads);
	ranks_start(&r.o, argv);
	if (dist_init(&r.dist) != 0)
		lm_die_last();
	signals_install();
	run_setup(&r);
	say_start(&r);
	train_loop(&r);
	run_free(&r);
	dist_finalize(&r.dist);
	return 0;
}
