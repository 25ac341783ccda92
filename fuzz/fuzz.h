/*
 * fuzz.h — what every libFuzzer target here shares: the input as a file,
 * for the parsers whose API takes a path.
 *
 * One target a parser, fuzz_NAME.c, defining LLVMFuzzerTestOneInput; its
 * seed corpus in fuzz/corpus/NAME/, its dictionary (if any) in
 * fuzz/NAME.dict, and the inputs that once crashed it in
 * fuzz/regressions/NAME/ (replayed by t0101). `make fuzz` builds and runs
 * every fuzz_*.c it finds, so a new parser's target needs no other change.
 */
#ifndef LMPIPE_FUZZ_H
#define LMPIPE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_paths_[4][256];
static int fuzz_made_[4];

static inline void fuzz_unlink_(void)
{
	for (int i = 0; i < 4; i++)
		if (fuzz_made_[i])
			unlink(fuzz_paths_[i]);
}

/* The input written to a file of this process named ...SUFFIX (the readers
 * that decide by name, .bin.zst or .bz2, see it), rewritten in place for
 * each input. The path stays valid for the process's life. */
static inline const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
	static const char *suffixes[4];
	char (*path)[256] = fuzz_paths_;
	int *made = fuzz_made_;
	int i = 0;
	while (i < 4 && made[i] && strcmp(suffixes[i], suffix) != 0)
		i++;
	if (i == 4)
		abort();
	if (!made[i]) {
		const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		snprintf(path[i], sizeof path[i], "%s/lmpipe-fuzz-%d-%d%s", dir, (int)getpid(), i, suffix);
		suffixes[i] = suffix;
		if (i == 0)
			atexit(fuzz_unlink_);
		made[i] = 1;
	}
	FILE *f = fopen(path[i], "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
		abort();
	return path[i];
}

/* The input as a NUL-terminated string (freed by the caller). */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
