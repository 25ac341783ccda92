/*
 * rng.c — splitmix64 (Steele, Lea, Flood 2014) and Box-Muller normals.
 */
#include "model/rng.h"

#include <math.h>

void rng_seed(lm_rng *r, uint64_t seed)
{
	r->state = seed;
	r->has_spare = false;
	r->spare = 0.0;
}

uint64_t rng_u64(lm_rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double rng_uniform(lm_rng *r)
{
	return (double)(rng_u64(r) >> 11) * 0x1.0p-53;
}

double rng_normal(lm_rng *r)
{
	if (r->has_spare) {
		r->has_spare = false;
		return r->spare;
	}
	double u1 = 1.0 - rng_uniform(r);  /* (0, 1]: log stays finite */
	double u2 = rng_uniform(r);
	double radius = sqrt(-2.0 * log(u1));
	double angle = 2.0 * M_PI * u2;
	r->spare = radius * sin(angle);
	r->has_spare = true;
	return radius * cos(angle);
}
