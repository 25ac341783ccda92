/*
 * test-tool merges — share/tok/merges.c and share/tok/alphabet.c.
 *
 *   test-tool merges info MERGES [SPECIAL...]    counts and the last tokens
 *   test-tool merges json MERGES [SPECIAL...]    encoder.json on stdout
 *   test-tool merges write MERGES OUT            read, then write again
 *   test-tool merges alphabet                    byte, id, code point, text
 */
#include "tok/alphabet.h"
#include "tok/merges.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

static int load(bpe_merges *m, int argc, char **argv)
{
	if (merges_read(m, argv[0]) != 0)
		return -1;
	if (merges_add_specials(m, (const char *const *)argv + 1, argc - 1) != 0) {
		merges_free(m);
		return -1;
	}
	return 0;
}

static int show_alphabet(void)
{
	for (int b = 0; b < 256; b++) {
		uint8_t byte = (uint8_t)b, back[2];
		char text[3];
		size_t n = alphabet_encode(&byte, 1, text), got;
		int id = alphabet_byte_id(byte);
		if (alphabet_decode(text, n, back, &got) != 0 || got != 1 || back[0] != byte ||
		    alphabet_byte((uint32_t)alphabet_codepoint(byte)) != b || alphabet_id_byte(id) != byte) {
			printf("byte %d does not round-trip\n", b);
			return 1;
		}
		printf("%d %d U+%04X %s\n", b, id, (unsigned)alphabet_codepoint(byte), text);
	}
	return 0;
}

int cmd__merges(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "alphabet") == 0)
		return show_alphabet();
	if (argc < 3) {
		fprintf(stderr, "usage: test-tool merges info|json|write MERGES ...\n");
		return 2;
	}
	bpe_merges m;
	int rc = 0;
	if (strcmp(argv[1], "write") == 0) {
		if (argc != 4 || load(&m, 1, argv + 2) != 0)
			lm_die_last();
		rc = merges_write(&m, argv[3]);
	} else {
		if (load(&m, argc - 2, argv + 2) != 0)
			lm_die_last();
		if (strcmp(argv[1], "json") == 0) {
			rc = merges_write_encoder_json(&m, "-");
		} else {
			printf("merges %u specials %u vocab %u\n", m.n_merges, m.n_specials, m.vocab_size);
			for (uint32_t i = 0; i < m.n_merges; i++)
				if (m.token_bytes[256 + i][0] == '#')
					printf("merge %u: %u %u\n", i, m.merges[i].left, m.merges[i].right);
		}
	}
	merges_free(&m);
	if (rc != 0)
		lm_die_last();
	return 0;
}
