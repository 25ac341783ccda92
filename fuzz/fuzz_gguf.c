/*
 * fuzz_gguf.c — a GGUF file on any bytes: its config, its weights and its
 * tokenizer (gguf_config, gguf_open_model, gguf_tokenizer_meta), as the
 * lm-* tools and lm-convert reach them.
 */
#include "fuzz.h"
#include "ckpt/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size, ".gguf");
	lm_config c;
	if (gguf_config(&c, path) == 0) {
		gpt_model m;
		if (gguf_open_model(&m, path) == 0)
			gpt_free(&m);
	}
	char *merges = NULL, *specials = NULL;
	if (gguf_tokenizer_meta(path, &merges, &specials) == 0) {
		free(merges);
		free(specials);
	}
	return 0;
}
