/*
 * test-tool config MODEL — load a preset, JSON config or checkpoint, finish
 * it, and print it as our JSON (one line), or the error.
 */
#include "ckpt/ckpt.h"
#include "model/config.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>

int cmd__config(int argc, char **argv)
{
	lm_config c;
	if (argc != 2)
		return 2;
	if (ckpt_load_config(&c, argv[1]) != 0 || config_finish(&c) != 0) {
		fprintf(stderr, "error: %s\n", lm_last_error());
		return 1;
	}
	char *json = config_to_json(&c);
	printf("%s padded_vocab=%d\n", json, c.padded_vocab);
	free(json);
	return 0;
}
