/*
 * fuzz_tiktoken.c — a .tiktoken rank table (base64 token, rank a line) on
 * any bytes: the sniff, then the read into merges.
 */
#include "fuzz.h"
#include "tok/merges.h"
#include "tok/tiktoken_ranks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size, ".tiktoken");
	(void)tiktoken_ranks_sniff(path);
	bpe_merges m;
	if (tiktoken_ranks_read(&m, path) == 0)
		merges_free(&m);
	return 0;
}
