/*
 * test-tool shard — deterministic token streams for the t2* tests.
 *
 *   test-tool shard gen N [--seed S] [--vocab V] [--u32] [--eot-every K]
 *                         [--chunk C --delay-ms D]
 *
 * Writes N tokens (uint16 LE, uint32 with --u32) to stdout: pseudo-random
 * ids below V (default 50257) from seed S, and with --eot-every K the id
 * 50256 at every K-th position (K-1, 2K-1, ...). With --delay-ms it writes
 * C tokens at a time and sleeps D ms between writes: a slow producer.
 */
#include "data/shard.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int put(const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(1, c, n);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int gen(int argc, char **argv)
{
	static const struct option lo[] = {
		{"seed", required_argument, NULL, 's'}, {"vocab", required_argument, NULL, 'V'},
		{"u32", no_argument, NULL, 'u'}, {"eot-every", required_argument, NULL, 'e'},
		{"chunk", required_argument, NULL, 'c'}, {"delay-ms", required_argument, NULL, 'd'},
		{0},
	};
	uint64_t seed = 1, vocab = 50257, eot_every = 0, chunk = 4096, delay = 0;
	int u32 = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'V': vocab = strtoull(optarg, NULL, 0); break;
		case 'u': u32 = 1; break;
		case 'e': eot_every = strtoull(optarg, NULL, 0); break;
		case 'c': chunk = strtoull(optarg, NULL, 0); break;
		case 'd': delay = strtoull(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	if (optind + 1 != argc || vocab == 0 || chunk == 0)
		return 2;
	uint64_t n = strtoull(argv[optind], NULL, 0);
	uint32_t *buf = malloc(chunk * 4);
	if (!buf)
		return 1;
	for (uint64_t i = 0; i < n;) {
		uint64_t k = n - i < chunk ? n - i : chunk;
		for (uint64_t j = 0; j < k; j++, i++) {
			uint32_t t = (uint32_t)(next(&seed) % vocab);
			if (eot_every && i % eot_every == eot_every - 1)
				t = SHARD_EOT_GPT2;
			if (u32)
				buf[j] = t;
			else
				((uint16_t *)buf)[j] = (uint16_t)t;
		}
		if (put(buf, k * (u32 ? 4 : 2)) != 0) {
			free(buf);
			return 1;
		}
		if (delay) {
			struct timespec ts = {(time_t)(delay / 1000), (long)(delay % 1000) * 1000000};
			nanosleep(&ts, NULL);
		}
	}
	free(buf);
	return 0;
}

int cmd__shard(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "gen") == 0)
		return gen(argc - 1, argv + 1);
	fprintf(stderr, "usage: test-tool shard gen N [--seed S] [--vocab V] [--u32] "
			"[--eot-every K] [--chunk C --delay-ms D]\n");
	return 2;
}
