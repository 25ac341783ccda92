/*
 * test-train.c — deterministic data and state inspection for the lm-train
 * tests.
 *
 *   test-tool train stream N V [PERIOD]   N uint16 tokens on stdout: a fixed
 *                                         "sentence" of PERIOD tokens < V,
 *                                         repeated (a model learns it fast)
 *   test-tool train state FILE            a training state's header fields
 */
#include "train/state.h"
#include "util/error.h"

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

int cmd__train(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "stream"))
		return stream(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "state"))
		return state(argc, argv);
	fprintf(stderr, "usage: test-tool train stream|state ...\n");
	return 2;
}
