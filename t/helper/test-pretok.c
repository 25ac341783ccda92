/*
 * test-tool pretok — GPT-2's pre-tokenizer (share/tok/pretok.c).
 *
 *   test-tool pretok classes        "HEX CLASS" for every code point but the
 *                                   surrogates (0 other, 1 letter, 2 number, 3 space)
 *   test-tool pretok three          "HEX CLASS" for each 16 bits a three-byte
 *                                   sequence carries (unicode_class_three)
 *   test-tool pretok split <IN      each pre-token's bytes, hex, one a line
 *   test-tool pretok cuts <IN       for every prefix length n: the safe cut p of
 *                                   s[0..n), checked: pieces of s[0..p) then
 *                                   s[p..) equal the pieces of s; prints
 *                                   "cuts N ok" or the first bad cut
 *   test-tool pretok version        the Unicode version of the tables
 */
#include "tok/pretok.h"
#include "tok/unicode_tables.h"
#include "util/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint8_t *read_stdin(size_t *n)
{
	size_t cap = 1 << 16;
	uint8_t *buf = malloc(cap);
	*n = 0;
	for (;;) {
		if (*n == cap)
			buf = realloc(buf, cap *= 2);
		ssize_t r = read(0, buf + *n, cap - *n);
		if (r <= 0)
			break;
		*n += r;
	}
	return buf;
}

/* Piece ends of s[0..n), offset by base, appended to ends[]. */
static size_t piece_ends(const uint8_t *s, size_t n, size_t base, size_t *ends)
{
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		i += pretok_next(s + i, n - i);
		ends[k++] = base + i;
	}
	return k;
}

static int check_cuts(const uint8_t *s, size_t n)
{
	size_t *whole = malloc((n + 1) * sizeof *whole), *parts = malloc((n + 1) * sizeof *parts);
	size_t nw = piece_ends(s, n, 0, whole), checked = 0;
	for (size_t m = 1; m <= n; m++) {
		size_t p = pretok_safe_cut(s, m);
		if (p == 0)
			continue;
		if (p >= m) {
			printf("cut %zu beyond prefix %zu\n", p, m);
			return 1;
		}
		size_t k = piece_ends(s, p, 0, parts);
		k += piece_ends(s + p, n - p, p, parts + k);
		if (k != nw || memcmp(parts, whole, k * sizeof *parts) != 0) {
			printf("bad cut %zu of prefix %zu\n", p, m);
			return 1;
		}
		checked++;
	}
	printf("cuts %zu ok\n", checked);
	free(whole);
	free(parts);
	return 0;
}

int cmd__pretok(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (strcmp(argv[1], "version") == 0) {
		printf("%s\n", unicode_tables_version);
		return 0;
	}
	if (strcmp(argv[1], "classes") == 0) {
		for (uint32_t cp = 0; cp < 0x110000; cp++)
			if (cp < 0xD800 || cp > 0xDFFF)
				printf("%X %d\n", cp, pretok_class(cp));
		return 0;
	}
	if (strcmp(argv[1], "three") == 0) {
		for (uint32_t p = 0; p < 0x10000; p++)
			printf("%X %d\n", p, unicode_class_three[p]);
		return 0;
	}
	size_t n;
	uint8_t *s = read_stdin(&n);
	int rc = 0;
	if (strcmp(argv[1], "split") == 0) {
		for (size_t i = 0; i < n;) {
			size_t len = pretok_next(s + i, n - i);
			for (size_t j = 0; j < len; j++)
				printf("%02x", s[i + j]);
			putchar('\n');
			i += len;
		}
	} else if (strcmp(argv[1], "cuts") == 0) {
		rc = check_cuts(s, n);
	} else {
		rc = 2;
	}
	free(s);
	return rc;
}
