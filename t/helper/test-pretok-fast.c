/*
 * test-tool pretok-fast — the pre-tokenizer's inline ASCII fast path
 * (tok/pretok.h) against its general path (pretok_next_slow).
 *
 *   test-tool pretok-fast <IN    checks pretok_byte_class against the
 *                                generated Unicode table for every byte, and
 *                                pretok_next == pretok_next_slow at every
 *                                offset of IN; prints "fast N ok" or the first
 *                                difference
 */
#include "tok/pretok.h"
#include "tok/unicode_tables.h"
#include "util/io.h"

#include <stdio.h>
#include <stdlib.h>

int cmd__pretok_fast(int argc, char **argv)
{
	for (int b = 0; b < 256; b++) {
		int want = b < 0x80 ? unicode_class_stage2[0][b] : PRETOK_SLOW;
		if (pretok_byte_class[b] != want) {
			printf("byte %02X: class %d, want %d\n", b, pretok_byte_class[b], want);
			return 1;
		}
	}
	size_t n;
	uint8_t *s = (uint8_t *)read_whole_file("/dev/stdin", &n);
	if (!s) {
		fprintf(stderr, "test-tool pretok_fast: cannot read stdin\n");
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t a = pretok_next(s + i, n - i), b = pretok_next_slow(s + i, n - i);
		if (a != b) {
			printf("offset %zu: fast %zu, slow %zu\n", i, a, b);
			return 1;
		}
	}
	printf("fast %zu ok\n", n);
	free(s);
	return 0;
}
