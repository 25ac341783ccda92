/*
 * test-tool learn-count — the counting step of share/tok/learn.h.
 *
 *   test-tool learn-count [-j N] [-s SPECIAL]... [-k KEY] FILE
 *
 * One line a distinct pre-token: its bytes in hex, a space, its count (in
 * no particular order: sort to compare).
 */
#include "tok/learn.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void print_piece(const uint8_t *s, size_t n, uint64_t count, void *arg)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", s[i]);
	printf(" %llu\n", (unsigned long long)count);
}

int cmd__learn_count(int argc, char **argv)
{
	const char *specials[16];
	learn_options o = {.threads = 1, .specials = specials};
	int opt;
	optind = 1;
	while ((opt = getopt(argc, argv, "j:s:k:")) != -1) {
		if (opt == 'j')
			o.threads = atoi(optarg);
		else if (opt == 's' && o.n_specials < 16)
			specials[o.n_specials++] = optarg;
		else if (opt == 'k')
			o.jsonl_key = optarg;
		else
			return 2;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: test-tool learn-count [-j N] [-s SPECIAL]... [-k KEY] FILE\n");
		return 2;
	}
	const char *path = argv[optind];
	learn_counts *c = learn_count_files(&path, 1, &o);
	if (!c)
		lm_die_last();
	learn_counts_each(c, print_piece, NULL);
	learn_counts_free(c);
	return 0;
}
