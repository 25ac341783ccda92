/*
 * test-tool bpe — share/tok/encode.c's merging paths side by side.
 *
 *   test-tool bpe [--lean | --heap] [--piece] TABLE FILE
 *
 * FILE's ids, one a line, with the merges or rank table TABLE: the whole
 * file as a text (pre-tokenized), or with --piece as one piece. --lean
 * merges every piece in rounds (merge_lean), which the encoder otherwise
 * keeps for pieces over 1 MiB; --heap merges none so: the outputs must be
 * the same.
 */
#include "tok/encode.h"
#include "tok/merges.h"
#include "tok/tiktoken_ranks.h"
#include "util/error.h"
#include "util/io.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum merging { AS_DEFAULT, ALL_LEAN, NONE_LEAN };

static int encode_file(const char *table, const char *path, enum merging how, bool piece)
{
	bpe_merges m;
	if ((tiktoken_ranks_sniff(table) ? tiktoken_ranks_read(&m, table) : merges_read(&m, table)) != 0)
		return -1;
	size_t len;
	char *text = read_whole_file(path, &len);
	bpe_encoder *e = text ? encoder_new(&m) : NULL;
	encode_state *st = e ? encode_state_new(e) : NULL;
	token_buf out = {0};
	int rc = -1;
	if (st) {
		if (how != AS_DEFAULT)
			encoder_set_lean_piece(e, how == ALL_LEAN ? 0 : SIZE_MAX);
		const uint8_t *s = (const uint8_t *)text;
		rc = piece ? encoder_encode_piece(st, s, len, &out) : encoder_encode(st, s, len, &out);
	}
	for (size_t i = 0; rc == 0 && i < out.n; i++)
		printf("%u\n", out.ids[i]);
	token_buf_free(&out);
	encode_state_free(st);
	encoder_free(e);
	free(text);
	merges_free(&m);
	return rc;
}

int cmd__bpe(int argc, char **argv)
{
	enum merging how = AS_DEFAULT;
	bool piece = false;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--lean") == 0)
			how = ALL_LEAN;
		else if (strcmp(argv[i], "--heap") == 0)
			how = NONE_LEAN;
		else if (strcmp(argv[i], "--piece") == 0)
			piece = true;
		else
			break;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: test-tool bpe [--lean | --heap] [--piece] TABLE FILE\n");
		return 2;
	}
	if (encode_file(argv[i], argv[i + 1], how, piece) != 0) {
		fprintf(stderr, "test-tool bpe: %s\n", lm_last_error());
		return 1;
	}
	return 0;
}
