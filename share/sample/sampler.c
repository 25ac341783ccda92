/*
 * sampler.c — temperature, top-k, top-p and greedy decoding; xoshiro256**.
 * See sampler.h.
 */
#include "sample/sampler.h"

#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the generator (Blackman and Vigna's xoshiro256**, splitmix64 seed) -- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void sample_rng_seed(sample_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

uint64_t sample_rng_next(sample_rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double sample_rng_uniform(sample_rng *r)
{
	return (double)(sample_rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---- the sampler ------------------------------------------------------- */

int sampler_init(sampler *s, int V, const sample_opts *o)
{
	memset(s, 0, sizeof *s);
	if (!(o->temperature >= 0) || !isfinite(o->temperature))
		return lm_fail("temperature must be a number >= 0");
	if (o->top_k < 0)
		return lm_fail("top-k must be >= 0");
	if (!(o->top_p > 0 && o->top_p <= 1))
		return lm_fail("top-p must be in (0, 1]");
	if (V <= 0)
		return lm_fail("empty vocabulary");
	s->o = *o;
	s->V = V;
	s->p = malloc((size_t)V * sizeof *s->p);
	s->idx = malloc((size_t)V * sizeof *s->idx);
	s->r = malloc((size_t)V * sizeof *s->r);
	if (!s->p || !s->idx || !s->r) {
		sampler_free(s);
		return lm_fail("out of memory");
	}
	return 0;
}

void sampler_free(sampler *s)
{
	free(s->p);
	free(s->idx);
	free(s->r);
	s->p = NULL;
	s->idx = NULL;
	s->r = NULL;
}

int sample_argmax(const float *logits, int V)
{
	int best = 0;
	for (int i = 1; i < V; i++)
		if (logits[i] > logits[best])
			best = i;
	return best;
}

/* qsort has no context argument, so the array it sorts carries the
 * probabilities it is sorted by. */
static int by_prob_desc(const void *a, const void *b)
{
	const sample_ranked *x = a, *y = b;
	if (x->p != y->p)
		return x->p > y->p ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* Softmax of logits / T into s->p (double, max subtracted). */
static void softmax_temp(sampler *s, const float *logits)
{
	double mx = -INFINITY, sum = 0, inv = 1.0 / s->o.temperature;
	for (int i = 0; i < s->V; i++)
		if (logits[i] > mx)
			mx = logits[i];
	for (int i = 0; i < s->V; i++) {
		s->p[i] = exp(((double)logits[i] - mx) * inv);
		sum += s->p[i];
	}
	for (int i = 0; i < s->V; i++)
		s->p[i] /= sum;
}

/* Sort by probability, then keep the top-k and the nucleus: s->idx[0..kept)
 * and s->p renormalized over them. Without filters every token stays in id
 * order (no sort needed). */
static void filter(sampler *s)
{
	int V = s->V;
	if (s->o.top_k == 0 && s->o.top_p >= 1) {
		for (int i = 0; i < V; i++)
			s->idx[i] = i;
		s->kept = V;
		return;
	}
	sample_ranked *r = s->r;
	for (int i = 0; i < V; i++)
		r[i] = (sample_ranked){s->p[i], i};
	qsort(r, (size_t)V, sizeof *r, by_prob_desc);
	int kept = s->o.top_k > 0 && s->o.top_k < V ? s->o.top_k : V;
	double total = 0;
	for (int i = 0; i < kept; i++)
		total += r[i].p;
	if (s->o.top_p < 1) {
		double cum = 0;
		int n = 0;
		while (n < kept) {
			cum += r[n].p / total;
			n++;
			if (cum >= s->o.top_p)
				break;
		}
		kept = n;
		total = 0;
		for (int i = 0; i < kept; i++)
			total += r[i].p;
	}
	for (int i = 0; i < V; i++)
		s->p[i] = 0;
	for (int i = 0; i < kept; i++) {
		s->idx[i] = r[i].id;
		s->p[r[i].id] = r[i].p / total;
	}
	s->kept = kept;
}

void sampler_probs(sampler *s, const float *logits, double *probs)
{
	if (s->o.temperature == 0) {
		memset(probs, 0, (size_t)s->V * sizeof *probs);
		probs[sample_argmax(logits, s->V)] = 1;
		return;
	}
	softmax_temp(s, logits);
	filter(s);
	memcpy(probs, s->p, (size_t)s->V * sizeof *probs);
}

int sampler_pick(sampler *s, const float *logits, sample_rng *rng)
{
	if (s->o.temperature == 0)
		return sample_argmax(logits, s->V);
	softmax_temp(s, logits);
	filter(s);
	double u = sample_rng_uniform(rng), cum = 0;
	for (int i = 0; i < s->kept; i++) {
		cum += s->p[s->idx[i]];
		if (u < cum)
			return s->idx[i];
	}
	return s->idx[s->kept - 1];   /* u within rounding of 1 */
}
