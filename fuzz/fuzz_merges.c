/*
 * fuzz_merges.c — merges_read (GPT-2's vocab.bpe format) on any bytes,
 * then the specials and encoder.json on what it read.
 */
#include "fuzz.h"
#include "tok/merges.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bpe_merges m;
	if (merges_read(&m, fuzz_file(data, size, ".bpe")) != 0)
		return 0;
	const char *specials[] = {"<|endoftext|>"};
	if (merges_add_specials(&m, specials, 1) == 0)
		(void)merges_check_unique(&m);
	merges_free(&m);
	return 0;
}
