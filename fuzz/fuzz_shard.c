/*
 * fuzz_shard.c — a token shard on any bytes, both kinds: the first byte
 * chooses .bin or .bin.zst (the readers decide by name), the rest is the
 * file. Every reader: the header, the count peek, the whole-file open and
 * the streaming reader, which must agree on the count.
 */
#include "fuzz.h"
#include "data/shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *path = fuzz_file(data + 1, size - 1, (data[0] & 1) ? ".bin.zst" : ".bin");
	uint64_t ntok;
	if (size - 1 >= SHARD_HEADER_BYTES)
		(void)shard_header_decode(data + 1, path, &ntok);
	(void)shard_peek_count(path, &ntok);

	shard_file s;
	uint64_t whole = UINT64_MAX;
	if (shard_open(&s, path) == 0) {
		uint64_t sum = 0;
		for (uint64_t i = 0; i < s.ntok; i++)
			sum += s.tok[i];
		(void)sum;
		whole = s.ntok;
		shard_close(&s);
	}

	shard_reader *r = shard_reader_open(path);
	if (r) {
		uint16_t buf[4096];
		uint64_t got = 0;
		long long n;
		while ((n = shard_reader_read(r, buf, sizeof buf / sizeof *buf)) > 0)
			got += (uint64_t)n;
		/* a stream read to its end without error holds what open saw */
		if (n == 0 && whole != UINT64_MAX && got != whole)
			abort();
		shard_reader_close(r);
	}
	return 0;
}
