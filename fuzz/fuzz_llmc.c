/*
 * fuzz_llmc.c — llm.c's files on any bytes: the checkpoint's config and
 * weights (llmc_config, llmc_open_model), and the same bytes as llm.c's
 * tokenizer file (llmc_tokenizer_read), as lm-eval, lm-sample, lm-train
 * --model and lm-convert reach them.
 */
#include "fuzz.h"
#include "ckpt/llmc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size, ".bin");
	lm_config c;
	if (llmc_config(&c, path) == 0) {
		gpt_model m;
		if (llmc_open_model(&m, path) == 0)
			gpt_free(&m);
	}
	bpe_merges tok;
	if (llmc_tokenizer_read(&tok, path) == 0)
		merges_free(&tok);
	return 0;
}
