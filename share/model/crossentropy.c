/*
 * crossentropy.c — loss = logsumexp(logits[0..V)) - logits[target].
 * The log-sum-exp is taken in double: V reaches 50257 and a float sum of
 * that many terms loses digits the parity test would see.
 */
#include "model/crossentropy.h"
#include "model/par.h"

#include <math.h>

float crossentropy_forward(float *losses, float *lse, const float *logits, const int *targets,
			   int N, int V, int Vp)
{
#pragma omp parallel for schedule(static) if ((long)N * V >= PAR_MIN_WORK)
	for (int i = 0; i < N; i++) {
		const float *z = logits + (long)i * Vp;
		float maxv = z[0];
		for (int v = 1; v < V; v++)
			if (z[v] > maxv)
				maxv = z[v];
		double sum = 0.0;
		for (int v = 0; v < V; v++)
			sum += exp((double)(z[v] - maxv));
		double l = maxv + log(sum);
		lse[i] = (float)l;
		losses[i] = (float)(l - z[targets[i]]);
	}
	/* summed in order, not by an OpenMP reduction: the same loss every run */
	double total = 0.0;
	for (int i = 0; i < N; i++)
		total += losses[i];
	return (float)(total / N);
}

void crossentropy_backward(float *logits, const float *lse, const int *targets,
			   int N, int V, int Vp, float scale)
{
#pragma omp parallel for schedule(static) if ((long)N * V >= PAR_MIN_WORK)
	for (int i = 0; i < N; i++) {
		float *z = logits + (long)i * Vp;
		for (int v = 0; v < V; v++)
			z[v] = expf(z[v] - lse[i]) * scale;
		z[targets[i]] -= scale;
		for (int v = V; v < Vp; v++)
			z[v] = 0.0f;
	}
}
