/*
 * test-train.c — deterministic data and state inspection for the lm-train
 * tests.
 *
 *   test-tool train stream N V [PERIOD]   N uint16 tokens on stdout: a fixed
 *                                         "sentence" of PERIOD tokens < V,
 *                                         repeated (a model learns it fast)
 *   test-tool train state FILE            a training state's header fields
 *   test-tool train edit-state FILE EDIT...
 *                                         rewrite a state as a hand would,
 *                                         its hash made good again. EDIT:
 *                                         step=N, tokens=N (the header);
 *                                         KEY=JSON (an option set), -KEY
 *                                         (an option removed)
 *   test-tool train opts-json [GIVEN...]  the JSON form of the defaults with
 *                                         GIVEN set as a command line would:
 *                                         --FLAG=VALUE (a numeric option),
 *                                         --device= --merges= --sample-prompt=
 *                                         --hellaswag= -s= --gpus=, data=DIR
 *   test-tool train opts-resume FILE [GIVEN...]
 *                                         the options a resume takes from the
 *                                         saved JSON FILE, GIVEN typed now, as
 *                                         JSON; exit 1 and the error if refused
 *   test-tool train opts-rules FILE       for every numeric option, what a
 *                                         resume from FILE does with it typed
 *                                         again with another value: "kept"
 *                                         (not typed), then "overridden",
 *                                         "refused" (the run's must stay) or
 *                                         "not kept"; and whether the run's own
 *                                         value typed again resumes
 *   test-tool train ckpt-find DIR         the checkpoint a resume of DIR takes:
 *                                         "step N", and the warning when it is
 *                                         not the pointer's
 *   test-tool train ckpt-due STEP EVERY LAST STOP
 *                                         "due" or "not due" (LAST, STOP: 0/1)
 */
#include "train/checkpoint.h"
#include "train/options.h"
#include "train/state.h"
#include "util/io.h"
#include "util/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int stream(int argc, char **argv)
{
	if (argc < 4)
		return fprintf(stderr, "usage: test-tool train stream N V [PERIOD]\n"), 2;
	long n = atol(argv[2]), V = atol(argv[3]), period = argc > 4 ? atol(argv[4]) : 17;
	if (n < 1 || V < 2 || V > 65536 || period < 1)
		return fprintf(stderr, "test-tool train stream: bad arguments\n"), 2;
	uint64_t x = 88172645463325252ull;
	uint16_t *sentence = malloc((size_t)period * sizeof *sentence);
	for (long i = 0; i < period; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;  /* xorshift64 */
		sentence[i] = (uint16_t)(x % (uint64_t)V);
	}
	for (long i = 0; i < n; i++)
		if (fwrite(&sentence[i % period], 2, 1, stdout) != 1)
			return 1;
	free(sentence);
	return fflush(stdout) != 0;
}

static int state(int argc, char **argv)
{
	if (argc < 3)
		return fprintf(stderr, "usage: test-tool train state FILE\n"), 2;
	train_state s;
	if (train_state_read(argv[2], &s) != 0)
		return fprintf(stderr, "test-tool: %s\n", lm_last_error()), 1;
	double msum = 0, vsum = 0;
	for (size_t i = 0; i < s.num_params; i++)
		msum += (double)s.m[i] * s.m[i], vsum += s.v[i];
	printf("step=%llu\ntokens=%llu\nnum_params=%zu\nm_nonzero=%d\nv_nonzero=%d\noptions=%s\n",
	       (unsigned long long)s.step, (unsigned long long)s.tokens, s.num_params,
	       msum > 0, vsum > 0, s.options_json);
	train_state_free(&s);
	return 0;
}

/* One EDIT of edit-state on s and its options j. */
static int edit_one(train_state *s, json_t *j, const char *e)
{
	const char *eq = strchr(e, '=');
	if (e[0] == '-')
		return json_object_del(j, e + 1) == 0 ? 0 : lm_fail("no option '%s'", e + 1);
	if (!eq)
		return lm_fail("'%s': not KEY=VALUE nor -KEY", e);
	if (!strncmp(e, "step=", 5) || !strncmp(e, "tokens=", 7)) {
		uint64_t v = strtoull(eq + 1, NULL, 0);
		*(e[0] == 's' ? &s->step : &s->tokens) = v;
		return 0;
	}
	json_error_t err;
	json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, &err);
	if (!v)
		return lm_fail("'%s': %s", eq + 1, err.text);
	char key[128];
	snprintf(key, sizeof key, "%.*s", (int)(eq - e), e);
	return json_object_set_new(j, key, v);
}

static int edit_state(int argc, char **argv)
{
	if (argc < 4)
		return fprintf(stderr, "usage: test-tool train edit-state FILE EDIT...\n"), 2;
	train_state s;
	if (train_state_read(argv[2], &s) != 0)
		return fprintf(stderr, "test-tool: %s\n", lm_last_error()), 1;
	json_t *j = json_loads(s.options_json, 0, NULL);
	int rc = j ? 0 : lm_fail("'%s': options are not JSON", argv[2]);
	for (int i = 3; rc == 0 && i < argc; i++)
		rc = edit_one(&s, j, argv[i]);
	if (rc == 0) {
		free(s.options_json);
		s.options_json = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
		rc = train_state_write(argv[2], &s);
	}
	json_decref(j);
	train_state_free(&s);
	return rc == 0 ? 0 : (fprintf(stderr, "test-tool: %s\n", lm_last_error()), 1);
}

/* ---- the run's options ---------------------------------------------------------- */

static const num_opt *num_by_flag(const char *flag, size_t len)
{
	for (size_t i = 0; i < n_train_num_opts; i++)
		if (strlen(train_num_opts[i].flag) == len && !strncmp(train_num_opts[i].flag, flag, len))
			return &train_num_opts[i];
	return NULL;
}

/* One GIVEN of opts-json and opts-resume, as the command line sets it. */
static int give(train_opts *o, const char *g)
{
	const char *eq = strchr(g, '=');
	if (!eq)
		return lm_fail("'%s': not --FLAG=VALUE", g);
	const char *v = eq + 1;
	size_t len = (size_t)(eq - g);
	const num_opt *n = num_by_flag(g, len);
	if (n) {
		o->given[n->opt] = 1;
		return train_opts_set_number(o, n->opt, v) == 1 ? 0 : -1;
	}
#define IS(name) (len == strlen(name) && !strncmp(g, name, len))
	if (IS("data"))
		o->data_dir = v;
	else if (IS("--device"))
		o->device = v, o->given[OPT_DEVICE] = 1;
	else if (IS("--gpus"))
		o->gpus = atoi(v), o->given[OPT_GPUS] = 1;
	else if (IS("--merges"))
		o->merges = v, o->given[OPT_MERGES] = 1;
	else if (IS("--sample-prompt"))
		o->sample_prompt = v, o->given[OPT_SAMPLE_PROMPT] = 1;
	else if (IS("--hellaswag"))
		o->hellaswag = v, o->given[OPT_HELLASWAG] = 1;
	else if (IS("-s") && o->n_specials < TRAIN_MAX_SPECIALS)
		o->specials[o->n_specials++] = v;
	else
		return lm_fail("'%s': no such option", g);
#undef IS
	return 0;
}

static int give_all(train_opts *o, int n, char **given)
{
	train_opts_defaults(o);
	for (int i = 0; i < n; i++)
		if (give(o, given[i]) != 0)
			return -1;
	return 0;
}

static int print_opts(const train_opts *o, int ctx)
{
	char *j = train_opts_to_json(o, ctx);
	if (!j)
		return lm_fail("out of memory");
	printf("%s\n", j);
	free(j);
	return 0;
}

static int fail(void)
{
	fprintf(stderr, "test-tool: %s\n", lm_last_error());
	return 1;
}

static int opts_json(int argc, char **argv)
{
	train_opts o;
	return give_all(&o, argc - 2, argv + 2) || print_opts(&o, 64) ? fail() : 0;
}

/* A resume's options from the saved JSON at PATH, O given on the command line. */
static int resume_from(train_opts *o, const char *path, uint64_t *ctx)
{
	char *json = read_whole_file(path, NULL);
	if (!json)
		return -1;
	int rc = train_opts_from_json(o, json, path, ctx);
	free(json);
	return rc;
}

static int opts_resume(int argc, char **argv)
{
	if (argc < 3)
		return fprintf(stderr, "usage: test-tool train opts-resume FILE [GIVEN...]\n"), 2;
	train_opts o;
	uint64_t ctx;
	int rc = give_all(&o, argc - 3, argv + 3) != 0 || resume_from(&o, argv[2], &ctx) != 0 ||
		 print_opts(&o, (int)ctx) != 0 ? fail() : 0;
	train_opts_free(&o);
	return rc;
}

/* N's value in O as it would be typed; ANOTHER: a different one it takes. */
static void num_text(const train_opts *o, const num_opt *n, bool another, char *buf, size_t cap)
{
	const char *f = (const char *)o + n->off;
	switch (n->kind) {
	case NUM_REAL:
	case NUM_POSITIVE:
		snprintf(buf, cap, "%.17g", *(const double *)f * (another ? 2 : 1) + another);
		break;
	case NUM_SEED:
		snprintf(buf, cap, "%llu", (unsigned long long)(*(const uint64_t *)f + another));
		break;
	default:
		snprintf(buf, cap, "%ld", *(const long *)f + another);
	}
}

/* What a resume from PATH does with N typed as TEXT: "overridden",
 * "refused" or "not kept"; NULL (an error) when the saved value won. */
static const char *rule_typed(const num_opt *n, const char *path, const char *text)
{
	train_opts o, typed;
	uint64_t ctx;
	train_opts_defaults(&o);
	o.given[n->opt] = 1;
	if (train_opts_set_number(&o, n->opt, text) != 1)
		return NULL;
	typed = o;
	int rc = resume_from(&o, path, &ctx);
	train_opts_free(&o);
	if (rc != 0)
		return strstr(lm_last_error(), "differs from the run's") ? "refused" : NULL;
	size_t size = n->kind == NUM_REAL || n->kind == NUM_POSITIVE ? sizeof(double)
		    : n->kind == NUM_SEED ? sizeof(uint64_t) : sizeof(long);
	if (memcmp((char *)&o + n->off, (char *)&typed + n->off, size) != 0) {
		lm_fail("%s %s: the saved value won", n->flag, text);
		return NULL;
	}
	return n->key ? "overridden" : "not kept";
}

static int opts_rules(int argc, char **argv)
{
	if (argc < 3)
		return fprintf(stderr, "usage: test-tool train opts-rules FILE\n"), 2;
	train_opts saved;
	uint64_t ctx;
	train_opts_defaults(&saved);
	int rc = resume_from(&saved, argv[2], &ctx);
	for (size_t i = 0; rc == 0 && i < n_train_num_opts; i++) {
		const num_opt *n = &train_num_opts[i];
		char same[64], other[64];
		num_text(&saved, n, false, same, sizeof same);
		num_text(&saved, n, true, other, sizeof other);
		const char *rule = rule_typed(n, argv[2], other);
		const char *again = rule_typed(n, argv[2], same);
		if (rule)
			printf("%s %s, the run's value again %s\n", n->flag, rule,
			       again ? "resumes" : "is refused");
		else
			rc = -1;
	}
	train_opts_free(&saved);
	return rc == 0 ? 0 : fail();
}

/* ---- checkpoints ---------------------------------------------------------------- */

static int ckpt_find(int argc, char **argv)
{
	if (argc < 3)
		return fprintf(stderr, "usage: test-tool train ckpt-find DIR\n"), 2;
	train_state st;
	char *weights;
	int rc = train_ckpt_find(argv[2], &st, &weights);
	if (rc < 0)
		return fail();
	printf("step %llu\n", (unsigned long long)st.step);
	if (rc > 0)
		printf("warning: %s\n", lm_last_error());
	train_state_free(&st);
	free(weights);
	return 0;
}

static int ckpt_due(int argc, char **argv)
{
	if (argc < 6)
		return fprintf(stderr, "usage: test-tool train ckpt-due STEP EVERY LAST STOP\n"), 2;
	bool due = train_ckpt_due(atol(argv[2]), atol(argv[3]), atoi(argv[4]), atoi(argv[5]));
	printf("%s\n", due ? "due" : "not due");
	return 0;
}

int cmd__train(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "stream"))
		return stream(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "state"))
		return state(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "edit-state"))
		return edit_state(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "opts-json"))
		return opts_json(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "opts-resume"))
		return opts_resume(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "opts-rules"))
		return opts_rules(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "ckpt-find"))
		return ckpt_find(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "ckpt-due"))
		return ckpt_due(argc, argv);
	fprintf(stderr, "usage: test-tool train stream|state|edit-state|opts-json|opts-resume|"
		"opts-rules|ckpt-find|ckpt-due ...\n");
	return 2;
}
