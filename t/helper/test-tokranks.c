/*
 * test-tool tokranks — a .tiktoken rank table as merges (share/tok/tiktoken_ranks.c).
 *
 *   test-tool tokranks FILE     the merges file it makes, on stdout
 */
#include "tok/merges.h"
#include "tok/tiktoken_ranks.h"
#include "util/error.h"

#include <stdio.h>

int cmd__tokranks(int argc, char **argv)
{
	bpe_merges m;
	if (argc != 2)
		return 2;
	if (tiktoken_ranks_read(&m, argv[1]) != 0 || merges_write(&m, "-") != 0) {
		fprintf(stderr, "test-tool tokranks: %s\n", lm_last_error());
		return 1;
	}
	merges_free(&m);
	return 0;
}
