/*
 * rng.h — a small deterministic random number generator (splitmix64).
 *
 * The same seed gives the same stream on every machine and compiler: the
 * model's initialization and the trainer's data order depend on it, and a
 * resumed run must draw exactly what the uninterrupted run drew. The state is
 * one 64-bit word, so it is trivially saved and restored. Normal deviates come
 * from the Box-Muller transform (both values of a pair are used).
 */
#ifndef LMPIPE_RNG_H
#define LMPIPE_RNG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
	uint64_t state;
	bool has_spare;   /* Box-Muller makes normals in pairs */
	double spare;
} lm_rng;

void rng_seed(lm_rng *r, uint64_t seed);
uint64_t rng_u64(lm_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform(lm_rng *r);
/* Standard normal N(0, 1). */
double rng_normal(lm_rng *r);

#endif
