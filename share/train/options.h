/*
 * options.h — the options of a training run: their defaults, the table of
 * the numeric ones (one table for the command line and for the state a run
 * keeps), their JSON form, and what a resume does with them.
 *
 * The JSON form (the state sidecar's options, the log's run record):
 *     {"data": DIR, "ctx": T, KEY: NUMBER for every numeric option with a
 *      key, "device": "cpu"|"cuda", "merges": FILE, "sample_prompt": TEXT,
 *      "hellaswag": FILE, "specials": [TOKEN, ...]}
 * the last four only when set but "specials".
 *
 * The rules of a resume (train_opts_from_json): every saved option is kept
 * unless given again now; given, it overrides the saved one, except those
 * the data order rests on (the batch and the seed), which must be the same.
 * The saved value is checked as strictly as the command line checks a typed
 * one either way: a state can be edited by hand.
 */
#ifndef LMPIPE_TRAIN_OPTIONS_H
#define LMPIPE_TRAIN_OPTIONS_H

#include "model/config_flags.h"
#include "optim/adamw.h"
#include "optim/schedule.h"
#include "util/cli.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRAIN_DEFAULT_RUN_DIR "run"  /* when neither -o nor --resume names one */
#define TRAIN_MAX_SPECIALS 64
#define TRAIN_MAX_MICRO_BATCH (1 << 20)

/* The ids of lm-train's options (getopt_long's), which given[] is indexed by. */
enum {
	OPT_BATCH_TOKENS = OPT_TOOL_BASE, OPT_STEPS, OPT_TOKENS, OPT_LR, OPT_LR_MIN,
	OPT_WARMUP, OPT_COSINE, OPT_WD, OPT_BETA1, OPT_BETA2, OPT_EPS, OPT_GRAD_CLIP,
	OPT_SEED, OPT_EVAL_EVERY, OPT_EVAL_TOKENS, OPT_SAMPLE_EVERY, OPT_CKPT_EVERY,
	OPT_KEEP, OPT_RESUME, OPT_DEVICE, OPT_PEAK, OPT_MERGES, OPT_FORCE,
	OPT_SAMPLE_PROMPT, OPT_HELLASWAG, OPT_HELLASWAG_LIMIT, OPT_GPUS,
	OPT_COUNT
};

typedef struct {
	const char *data_dir, *model, *run_dir, *resume, *device, *merges;
	const char *sample_prompt, *hellaswag;
	long hellaswag_limit;
	const char *specials[TRAIN_MAX_SPECIALS];
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
	struct json_t *saved;  /* a resume's saved options, which strings taken point into */
} train_opts;

/* What a numeric option takes. */
typedef enum {
	NUM_COUNT,     /* a whole number >= 0 (10M, 1B, ...): a long */
	NUM_ROWS,      /* the micro-batch, 1 to TRAIN_MAX_MICRO_BATCH: a long */
	NUM_REAL,      /* a real >= 0: a double */
	NUM_POSITIVE,  /* a real > 0: a double */
	NUM_SEED,      /* a whole number >= 0: a uint64_t */
} num_kind;

typedef struct {
	int opt;
	const char *flag;   /* on the command line */
	const char *key;    /* in the JSON form (NULL: not kept) */
	num_kind kind;
	size_t off;         /* the field in train_opts */
	bool fixed;         /* the data order rests on it: a resume must not change it */
} num_opt;

/* The numeric options, n_train_num_opts of them. */
extern const num_opt train_num_opts[];
extern const size_t n_train_num_opts;

void train_opts_defaults(train_opts *o);
/* The numeric option OPT from ARG: 1 when set, 0 when OPT is not one,
 * -1 + lm_fail (naming its flag) when ARG is not a value it takes. */
int train_opts_set_number(train_opts *o, int opt, const char *arg);
/* Whether a model flag (--layers, --family, ...) was given. */
bool train_opts_model_given(const train_opts *o);
/* The paths a run keeps (data, merges, HellaSwag) made absolute against
 * the current directory, not resolved (a glob of shards stays a glob), so
 * that a resume from elsewhere finds the same files. */
int train_opts_paths_absolute(train_opts *o);

/* Whether an every-N-steps option (--eval-every, ...) is due at STEP: N
 * > 0 and STEP a multiple of it. */
bool train_every(long step, long n);

/* The JSON form of O for a run of context CTX (malloc'ed); NULL when out
 * of memory. */
char *train_opts_to_json(const train_opts *o, int ctx);
/* A resume: O (the command line's, given[] set) takes the saved options
 * JSON by the rules above; *ctx the saved context (the model must have
 * it). -1 + lm_fail naming PATH on a damaged or refused option. Once for
 * an O: the strings taken live until train_opts_free. */
int train_opts_from_json(train_opts *o, const char *json, const char *path, uint64_t *ctx);
/* What train_opts_from_json kept: the strings it took go. */
void train_opts_free(train_opts *o);

#endif
