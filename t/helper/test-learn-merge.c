/*
 * test-tool learn-merge — the merging step of share/tok/learn.h, with the
 * threshold that splits a merge across threads set by the test.
 *
 *   test-tool learn-merge [-j N] [-p MIN_WORDS] [-s SPECIAL]... -v VOCAB FILE
 *
 * Counts FILE's pre-tokens (one thread), then learns VOCAB - 256 - specials
 * merges with N threads, a merge touching MIN_WORDS words or more split
 * across them (-p 1: every merge); writes the merges file on stdout.
 */
#include "tok/learn.h"
#include "tok/merges.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int cmd__learn_merge(int argc, char **argv)
{
	const char *specials[16];
	learn_options o = {.threads = 1, .specials = specials};
	unsigned long vocab = 0;
	int opt;
	optind = 1;
	while ((opt = getopt(argc, argv, "j:p:s:v:")) != -1) {
		if (opt == 'j')
			o.threads = atoi(optarg);
		else if (opt == 'p')
			o.parallel_min = (uint32_t)strtoul(optarg, NULL, 10);
		else if (opt == 's' && o.n_specials < 16)
			specials[o.n_specials++] = optarg;
		else if (opt == 'v')
			vocab = strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (optind + 1 != argc || o.threads < 1 || vocab < 256 + (unsigned long)o.n_specials) {
		fprintf(stderr, "usage: test-tool learn-merge [-j N] [-p MIN_WORDS] [-s SPECIAL]... -v VOCAB FILE\n");
		return 2;
	}
	const char *path = argv[optind];
	learn_options count_o = o;
	count_o.threads = 1;
	learn_counts *c = learn_count_files(&path, 1, &count_o);
	if (!c)
		lm_die_last();
	bpe_merges m;
	if (learn_merges(c, (uint32_t)(vocab - 256 - (unsigned long)o.n_specials), &o, &m) != 0)
		lm_die_last();
	learn_counts_free(c);
	if (merges_write(&m, "-") != 0)
		lm_die_last();
	merges_free(&m);
	return 0;
}
