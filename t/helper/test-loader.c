/*
 * test-tool loader — drives share/data/loader for the t2* tests.
 *
 *   test-tool loader [options] SPEC SPLIT
 *     -B N, -T N         batch rows, window length (default 4, 8)
 *     --rank R --ranks N this process's share (default 0 of 1)
 *     --seed S           shuffle seed (default 1)
 *     --val              val order (one pass, unshuffled)
 *     --batches K        take K batches (default: until the loader runs out
 *                        or, with --epochs E, until a row of epoch E comes)
 *     --epochs E         stop at the first row of epoch E (rows of epoch E
 *                        in that batch are not printed)
 *     --save FILE        after the batches, write the position to FILE
 *     --resume FILE      before them, restore the position from FILE
 *     --dump FILE        also write each batch to FILE: x then y, B*T int32
 *                        each, little-endian (the batches lm-train trains on
 *                        with the same B, T and --seed, for a reference
 *                        trainer to read)
 *
 * One line a row: "EPOCH SHARD_BASENAME OFFSET SUM", SUM = sum over the
 * window's T+1 tokens of (i+1)*token[i] mod 2^32, a fingerprint a numpy
 * script recomputes from the files. It also checks y is x shifted by one.
 */
#include "data/loader.h"
#include "util/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct args {
	loader_opts o;
	long long batches;
	long long epochs;
	const char *save, *resume, *dump;
};

static int parse(struct args *a, int argc, char **argv)
{
	static const struct option lo[] = {
		{"rank", required_argument, NULL, 'r'}, {"ranks", required_argument, NULL, 'R'},
		{"seed", required_argument, NULL, 's'}, {"val", no_argument, NULL, 'v'},
		{"batches", required_argument, NULL, 'k'}, {"epochs", required_argument, NULL, 'e'},
		{"save", required_argument, NULL, 'S'}, {"resume", required_argument, NULL, 'L'},
		{"dump", required_argument, NULL, 'D'},
		{0},
	};
	*a = (struct args){.o = {.B = 4, .T = 8, .nranks = 1, .seed = 1, .shuffle = true},
			   .batches = -1, .epochs = -1};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "B:T:", lo, NULL)) != -1) {
		switch (c) {
		case 'B': a->o.B = atoi(optarg); break;
		case 'T': a->o.T = atoi(optarg); break;
		case 'r': a->o.rank = atoi(optarg); break;
		case 'R': a->o.nranks = atoi(optarg); break;
		case 's': a->o.seed = strtoull(optarg, NULL, 0); break;
		case 'v': a->o.shuffle = false; break;
		case 'k': a->batches = atoll(optarg); break;
		case 'e': a->epochs = atoll(optarg); break;
		case 'S': a->save = optarg; break;
		case 'L': a->resume = optarg; break;
		case 'D': a->dump = optarg; break;
		default: return -1;
		}
	}
	return optind + 2 == argc ? 0 : -1;
}

static int restore(loader *L, const char *file)
{
	uint8_t pos[LOADER_POS_BYTES + 1];
	FILE *fp = fopen(file, "rb");
	if (!fp)
		return lm_fail_errno("cannot open '%s'", file);
	size_t n = fread(pos, 1, sizeof pos, fp);
	fclose(fp);
	return loader_pos_restore(L, pos, n);
}

static int save(loader *L, const char *file)
{
	uint8_t pos[LOADER_POS_BYTES];
	loader_pos_save(L, pos);
	FILE *fp = fopen(file, "wb");
	if (!fp || fwrite(pos, 1, sizeof pos, fp) != sizeof pos || fclose(fp) != 0)
		return lm_fail_errno("cannot write '%s'", file);
	return 0;
}

/* Print the rows; returns 1 when an --epochs row stops the run. */
static int print_rows(const struct args *a, loader *L, const int32_t *x, const int32_t *y,
		      const loader_src *src, int rows)
{
	int T = a->o.T;
	for (int r = 0; r < rows; r++) {
		if (a->epochs >= 0 && src[r].epoch >= (uint64_t)a->epochs)
			return 1;
		const int32_t *xr = x + (size_t)r * T, *yr = y + (size_t)r * T;
		uint32_t sum = 0;
		for (int t = 0; t < T; t++) {
			if (t + 1 < T && yr[t] != xr[t + 1]) {
				fprintf(stderr, "row %d: y[%d] != x[%d]\n", r, t, t + 1);
				exit(1);
			}
			sum += (uint32_t)(t + 1) * (uint32_t)xr[t];
		}
		sum += (uint32_t)(T + 1) * (uint32_t)yr[T - 1];
		const char *p = loader_shard_path(L, src[r].file), *b = strrchr(p, '/');
		printf("%llu %s %llu %u\n", (unsigned long long)src[r].epoch, b ? b + 1 : p,
		       (unsigned long long)src[r].offset, sum);
	}
	return 0;
}

int cmd__loader(int argc, char **argv)
{
	struct args a;
	if (parse(&a, argc, argv) != 0) {
		fprintf(stderr, "usage: test-tool loader [-B N] [-T N] [--rank R --ranks N] "
				"[--seed S] [--val] [--batches K] [--epochs E] [--save F] "
				"[--resume F] [--dump F] SPEC SPLIT\n");
		return 2;
	}
	const char *split = strcmp(argv[optind + 1], "all") ? argv[optind + 1] : NULL;
	loader *L = loader_open(argv[optind], split, &a.o);
	if (!L || (a.resume && restore(L, a.resume) != 0)) {
		fprintf(stderr, "test-tool: %s\n", lm_last_error());
		loader_close(L);
		return 1;
	}
	size_t cells = (size_t)a.o.B * (size_t)a.o.T;
	int32_t *x = malloc(cells * sizeof *x), *y = malloc(cells * sizeof *y);
	loader_src *src = malloc((size_t)a.o.B * sizeof *src);
	int rc = 0;
	FILE *dump = a.dump ? fopen(a.dump, "wb") : NULL;
	if (a.dump && !dump) {
		fprintf(stderr, "test-tool: cannot write '%s'\n", a.dump);
		rc = 1;
	}
	for (long long k = 0; rc == 0 && (a.batches < 0 || k < a.batches); k++) {
		int rows = loader_next(L, x, y, src);
		if (rows < 0) {
			fprintf(stderr, "test-tool: %s\n", lm_last_error());
			rc = 1;
			break;
		}
		if (dump && (fwrite(x, sizeof *x, (size_t)rows * a.o.T, dump) != (size_t)rows * a.o.T ||
			     fwrite(y, sizeof *y, (size_t)rows * a.o.T, dump) != (size_t)rows * a.o.T)) {
			fprintf(stderr, "test-tool: cannot write '%s'\n", a.dump);
			rc = 1;
		}
		if (print_rows(&a, L, x, y, src, rows) || rows == 0)
			break;
	}
	if (dump && fclose(dump) != 0 && rc == 0) {
		fprintf(stderr, "test-tool: cannot write '%s'\n", a.dump);
		rc = 1;
	}
	if (rc == 0 && a.save && save(L, a.save) != 0) {
		fprintf(stderr, "test-tool: %s\n", lm_last_error());
		rc = 1;
	}
	free(x);
	free(y);
	free(src);
	loader_close(L);
	return rc;
}
