/*
 * test-tool tokranks — a .tiktoken rank table as merges (share/tok/tiktoken_ranks.c).
 *
 *   test-tool tokranks FILE     the merges file it makes, on stdout
 *   test-tool tokranks --from-merges MERGES
 *                               the rank table of a merges file, on stdout
 *                               (each token's bytes in base64, its id)
 */
#include "tok/merges.h"
#include "tok/tiktoken_ranks.h"
#include "util/error.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void put_base64(const uint8_t *s, size_t n)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) |
			     (i + 2 < n ? s[i + 2] : 0);
		putchar(b64[v >> 18 & 63]);
		putchar(b64[v >> 12 & 63]);
		putchar(i + 1 < n ? b64[v >> 6 & 63] : '=');
		putchar(i + 2 < n ? b64[v & 63] : '=');
	}
}

static int from_merges(const char *path)
{
	bpe_merges m;
	if (merges_read(&m, path) != 0) {
		fprintf(stderr, "test-tool tokranks: %s\n", lm_last_error());
		return 1;
	}
	for (uint32_t id = 0; id < m.vocab_size; id++) {
		put_base64(m.token_bytes[id], m.token_len[id]);
		printf(" %u\n", id);
	}
	merges_free(&m);
	return fflush(stdout) != 0;
}

int cmd__tokranks(int argc, char **argv)
{
	bpe_merges m;
	if (argc == 3 && !strcmp(argv[1], "--from-merges"))
		return from_merges(argv[2]);
	if (argc != 2)
		return 2;
	if (tiktoken_ranks_read(&m, argv[1]) != 0 || merges_write(&m, "-") != 0) {
		fprintf(stderr, "test-tool tokranks: %s\n", lm_last_error());
		return 1;
	}
	merges_free(&m);
	return 0;
}
