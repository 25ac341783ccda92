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
 */
#include "train/state.h"
#include "util/error.h"

#include <jansson.h>
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

int cmd__train(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "stream"))
		return stream(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "state"))
		return state(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "edit-state"))
		return edit_state(argc, argv);
	fprintf(stderr, "usage: test-tool train stream|state|edit-state ...\n");
	return 2;
}
