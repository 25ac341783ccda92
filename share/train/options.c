/*
 * options.c — a training run's options: defaults, the numeric table, the
 * JSON form and the rules of a resume (see options.h).
 */
#include "train/options.h"
#include "util/error.h"
#include "util/num.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- defaults (lm-train(1): the GPT-2 124M recipe) -------------------------- */

#define DEFAULT_MODEL "gpt2"
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
#define DEFAULT_HELLASWAG_LIMIT 200

void train_opts_defaults(train_opts *o)
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

bool train_opts_model_given(const train_opts *o)
{
	const config_flags *f = &o->flags;
	return f->has_family || f->has_norm || f->has_positions || f->has_mlp || f->layers ||
	       f->d_model || f->heads || f->ff || f->ctx || f->vocab;
}

bool train_every(long step, long n)
{
	return n > 0 && step % n == 0;
}

/* ---- the numeric options -------------------------------------------------------- *
 * One table for the command line and the state a run keeps: a value read back
 * from a state goes through the checks a typed one does. */

#define NUM(opt, flag, key, kind, field, fixed) {opt, flag, key, kind, offsetof(train_opts, field), fixed}
const num_opt train_num_opts[] = {
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
const size_t n_train_num_opts = sizeof train_num_opts / sizeof train_num_opts[0];

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
		if (v < 1 || v > TRAIN_MAX_MICRO_BATCH)
			return lm_fail("%s: %s is out of range [1, %d]", label, text,
				       TRAIN_MAX_MICRO_BATCH);
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
	for (size_t i = 0; i < n_train_num_opts; i++)
		if (train_num_opts[i].opt == opt)
			return &train_num_opts[i];
	return NULL;
}

int train_opts_set_number(train_opts *o, int opt, const char *arg)
{
	const num_opt *n = num_opt_find(opt);
	if (!n)
		return 0;
	return num_opt_set(o, n, n->flag, arg) == 0 ? 1 : -1;
}

/* ---- paths ------------------------------------------------------------------------ */

/* *PATH made absolute against the current directory (not resolved); the
 * result lives as long as the process. */
static int path_absolute(const char **path)
{
	static char cwd[PATH_MAX];
	const char *p = *path;
	if (!p || p[0] == '/')
		return 0;
	if (!cwd[0] && !getcwd(cwd, sizeof cwd))
		return lm_fail("cannot make '%s' absolute: %s", p, strerror(errno));
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	char *abs;
	if (asprintf(&abs, "%s/%s", strcmp(cwd, "/") ? cwd : "", p) < 0)
		return lm_fail("out of memory");
	*path = abs;
	return 0;
}

int train_opts_paths_absolute(train_opts *o)
{
	return path_absolute(&o->data_dir) || path_absolute(&o->merges) ||
	       path_absolute(&o->hellaswag) ? -1 : 0;
}

/* ---- the JSON form ---------------------------------------------------------------- */

static json_t *num_opt_json(const train_opts *o, const num_opt *n)
{
	const char *field = (const char *)o + n->off;
	if (num_is_real(n))
		return json_real(*(const double *)field);
	if (n->kind == NUM_SEED)
		return json_integer((json_int_t)*(const uint64_t *)field);
	return json_integer((json_int_t)*(const long *)field);
}

char *train_opts_to_json(const train_opts *o, int ctx)
{
	json_t *j = json_pack("{s:s, s:i}", "data", o->data_dir, "ctx", ctx);
	if (!j)
		return NULL;
	for (size_t i = 0; i < n_train_num_opts; i++)
		if (train_num_opts[i].key)
			json_object_set_new(j, train_num_opts[i].key, num_opt_json(o, &train_num_opts[i]));
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

/* ---- a resume: the saved options, by the rules -------------------------------------- */

/* The text of a saved number, as it would be typed. */
static int saved_number_text(json_t *v, const char *key, char *buf, size_t cap)
{
	if (json_is_integer(v))
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, cap, "%.17g", json_real_value(v));
	else
		return v ? lm_fail("\"%s\" is not a number", key) : lm_fail("no \"%s\"", key);
	return 0;
}

/* Every saved numeric option, checked as the command line checks it;
 * taken unless given now. The data order's must match. */
static int numbers_from_json(train_opts *o, json_t *j, const char *path)
{
	for (size_t i = 0; i < n_train_num_opts; i++) {
		const num_opt *n = &train_num_opts[i];
		char text[64], label[64];
		train_opts saved = *o;
		if (!n->key)
			continue;
		snprintf(label, sizeof label, "\"%s\"", n->key);
		if (saved_number_text(json_object_get(j, n->key), n->key, text, sizeof text) != 0 ||
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
static int saved_string(json_t *j, const char *key, const char **out)
{
	json_t *v = json_object_get(j, key);
	*out = json_string_value(v);
	return v && !*out ? lm_fail("\"%s\" is not a string", key) : 0;
}

/* The strings: the data (required), the device (cpu or cuda), the paths,
 * the prompt, the specials. They point into j. */
static int strings_from_json(train_opts *o, json_t *j)
{
	const char *data, *merges, *prompt, *device, *hs;
	if (saved_string(j, "data", &data) || saved_string(j, "merges", &merges) ||
	    saved_string(j, "sample_prompt", &prompt) || saved_string(j, "device", &device) ||
	    saved_string(j, "hellaswag", &hs))
		return -1;
	if (!data)
		return lm_fail("no \"data\" (the data directory)");
	if (device && strcmp(device, "cpu") && strcmp(device, "cuda"))
		return lm_fail("\"device\" is '%s', not cpu or cuda", device);
	json_t *sp = json_object_get(j, "specials");
	if (sp && (!json_is_array(sp) || json_array_size(sp) > TRAIN_MAX_SPECIALS))
		return lm_fail("\"specials\" is not an array of at most %d strings",
			       TRAIN_MAX_SPECIALS);
	for (size_t i = 0; i < json_array_size(sp); i++) {
		const char *t = json_string_value(json_array_get(sp, i));
		if (!t || !*t)
			return lm_fail("\"specials\" holds something not a token");
	}
	if (!o->data_dir)
		o->data_dir = data;
	if (!o->merges && merges)
		o->merges = merges;
	if (!o->sample_prompt && prompt)
		o->sample_prompt = prompt;
	/* the run's device, unless --device or --gpus (which implies cuda) says */
	if (!o->given[OPT_DEVICE] && !o->given[OPT_GPUS] && device)
		o->device = !strcmp(device, "cuda") ? "cuda" : "cpu";
	if (!o->hellaswag && hs)
		o->hellaswag = hs;
	if (o->n_specials == 0)
		for (size_t i = 0; i < json_array_size(sp); i++)
			o->specials[o->n_specials++] = json_string_value(json_array_get(sp, i));
	return 0;
}

int train_opts_from_json(train_opts *o, const char *json, const char *path, uint64_t *ctx)
{
	json_error_t err;
	json_t *j = json_loads(json, 0, &err);
	if (!j)
		return lm_fail("'%s': bad options in the training state: %s", path, err.text);
	char text[64];
	int rc = numbers_from_json(o, j, path);
	if (rc == 0 && strings_from_json(o, j) != 0)
		rc = lm_fail("'%s': %s", path, lm_last_error());
	if (rc == 0 && saved_number_text(json_object_get(j, "ctx"), "ctx", text, sizeof text) != 0)
		rc = lm_fail("'%s': %s", path, lm_last_error());
	else if (rc == 0 && num_parse_count(text, ctx) != 0)
		rc = lm_fail("'%s': \"ctx\": %s", path, lm_last_error());
	o->saved = j;
	return rc;
}

void train_opts_free(train_opts *o)
{
	json_decref(o->saved);
	o->saved = NULL;
}
