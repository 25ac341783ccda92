/*
 * test-tool sample — share/sample/sampler: the filtered distribution and
 * draws from it.
 *
 *   test-tool sample probs [-t TEMP] [-k TOPK] [-p TOPP] LOGIT...
 *       one probability a line (%.17g), token 0 first
 *   test-tool sample draw [-t TEMP] [-k TOPK] [-p TOPP] [-n DRAWS] [-s SEED] LOGIT...
 *       draw i uses a generator seeded SEED + i; prints "token count expected"
 *       a line (expected = DRAWS * probability), then "chi2 X df D"
 *       over the tokens of nonzero probability
 *   test-tool sample rng SEED N     N raw 64-bit outputs
 *   test-tool sample utf8 HEX       utf8_complete_prefix of the bytes HEX
 */
#include "sample/generate.h"
#include "sample/sampler.h"
#include "util/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse(int argc, char **argv, sample_opts *o, long *draws, uint64_t *seed,
		 float **logits, int *V)
{
	*o = (sample_opts){.temperature = 1, .top_k = 0, .top_p = 1};
	int opt;
	optind = 1;
	while ((opt = getopt(argc, argv, "t:k:p:n:s:")) != -1) {
		switch (opt) {
		case 't': o->temperature = atof(optarg); break;
		case 'k': o->top_k = atoi(optarg); break;
		case 'p': o->top_p = atof(optarg); break;
		case 'n': *draws = atol(optarg); break;
		case 's': *seed = strtoull(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	*V = argc - optind;
	if (*V <= 0)
		return 2;
	*logits = malloc((size_t)*V * sizeof **logits);
	for (int i = 0; i < *V; i++)
		(*logits)[i] = strtof(argv[optind + i], NULL);
	return 0;
}

/* The options and logits of ARGV, the sampler they make, and its
 * probabilities P (V); 2 on a usage error. */
static int sampler_setup(int argc, char **argv, long *draws, uint64_t *seed, sampler *s,
			 float **lg, double **p, int *V)
{
	sample_opts o;
	if (parse(argc, argv, &o, draws, seed, lg, V))
		return 2;
	if (sampler_init(s, *V, &o) != 0)
		lm_die_last();
	*p = malloc((size_t)*V * sizeof **p);
	sampler_probs(s, *lg, *p);
	return 0;
}

static int cmd_probs(int argc, char **argv)
{
	long draws = 0;
	uint64_t seed = 0;
	float *lg;
	double *p;
	int V;
	sampler s;
	if (sampler_setup(argc, argv, &draws, &seed, &s, &lg, &p, &V))
		return 2;
	for (int i = 0; i < V; i++)
		printf("%.17g\n", p[i]);
	free(p);
	free(lg);
	sampler_free(&s);
	return 0;
}

static int cmd_draw(int argc, char **argv)
{
	long draws = 20000;
	uint64_t seed = 1;
	float *lg;
	double *p;
	int V;
	sampler s;
	if (sampler_setup(argc, argv, &draws, &seed, &s, &lg, &p, &V))
		return 2;
	long *count = calloc((size_t)V, sizeof *count);
	for (long i = 0; i < draws; i++) {
		sample_rng r;
		sample_rng_seed(&r, seed + (uint64_t)i);
		count[sampler_pick(&s, lg, &r)]++;
	}
	double chi2 = 0;
	int df = -1;
	for (int i = 0; i < V; i++) {
		double e = (double)draws * p[i];
		printf("%d %ld %.3f\n", i, count[i], e);
		if (e > 0) {
			chi2 += (count[i] - e) * (count[i] - e) / e;
			df++;
		} else if (count[i]) {
			chi2 = 1e300;   /* a filtered-out token was drawn */
		}
	}
	printf("chi2 %.4f df %d\n", chi2, df);
	free(p);
	free(count);
	free(lg);
	sampler_free(&s);
	return 0;
}

int cmd__sample(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "probs") == 0)
		return cmd_probs(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "draw") == 0)
		return cmd_draw(argc - 1, argv + 1);
	if (argc == 4 && strcmp(argv[1], "rng") == 0) {
		sample_rng r;
		sample_rng_seed(&r, strtoull(argv[2], NULL, 10));
		for (long i = 0, n = atol(argv[3]); i < n; i++)
			printf("%" PRIu64 "\n", sample_rng_next(&r));
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "utf8") == 0) {
		uint8_t b[256];
		size_t n = 0;
		for (const char *h = argv[2]; h[0] && h[1] && n < sizeof b; h += 2) {
			unsigned v;
			sscanf(h, "%2x", &v);
			b[n++] = (uint8_t)v;
		}
		printf("%zu\n", utf8_complete_prefix(b, n));
		return 0;
	}
	fprintf(stderr, "usage: test-tool sample probs|draw|rng|utf8 ...\n");
	return 2;
}
