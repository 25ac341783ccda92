/*
 * sampler.h — choosing the next token from logits: temperature, top-k,
 * top-p (nucleus), greedy, and the seeded generator behind the draws.
 *
 * The distribution (CS336's decoding, HF's warper order): p = softmax(logits
 * / temperature) over the V real tokens; with top_k > 0 only the k most
 * probable tokens stay (ties: the lower id first) and p is renormalized over
 * them; with top_p < 1 only the smallest set of the most probable remaining
 * tokens whose cumulative probability reaches top_p stays, renormalized.
 * Temperature 0 is greedy: the argmax (the lowest id among equal maxima),
 * no draw.
 *
 * The generator is xoshiro256** seeded through splitmix64: the same seed gives
 * the same tokens on every machine (the arithmetic is double precision and
 * the order of the sums fixed).
 */
#ifndef LMPIPE_SAMPLE_SAMPLER_H
#define LMPIPE_SAMPLE_SAMPLER_H

#include <stdint.h>

typedef struct {
	uint64_t s[4];
} sample_rng;

void sample_rng_seed(sample_rng *r, uint64_t seed);
uint64_t sample_rng_next(sample_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double sample_rng_uniform(sample_rng *r);

typedef struct {
	double temperature;   /* 0 = greedy */
	int top_k;            /* 0 = off */
	double top_p;         /* 1 = off; in (0, 1] */
} sample_opts;

typedef struct {
	double p;
	int id;
} sample_ranked;

typedef struct {
	sample_opts o;
	int V;                /* the real vocabulary (logits beyond it are ignored) */
	double *p;            /* (V) probabilities */
	sample_ranked *r;     /* (V) tokens sorted by probability (with filters) */
	int *idx;             /* (V) the tokens kept, most probable first */
	int kept;             /* how many of idx[] survive the filters */
} sampler;

/* Check the options (temperature >= 0, top_k >= 0, 0 < top_p <= 1) and
 * allocate for V tokens. -1 + lm_fail on bad options or out of memory. */
int sampler_init(sampler *s, int V, const sample_opts *o);
void sampler_free(sampler *s);

/* The filtered distribution of LOGITS (V floats): probs[i] for every token
 * (0 for those filtered out), summing to 1. Greedy puts 1 on the argmax. */
void sampler_probs(sampler *s, const float *logits, double *probs);
/* The next token: the argmax when greedy, else a draw from the filtered
 * distribution with one uniform number from RNG. */
int sampler_pick(sampler *s, const float *logits, sample_rng *rng);
/* The argmax of logits[0..V): the lowest id among equal maxima. */
int sample_argmax(const float *logits, int V);

#endif
