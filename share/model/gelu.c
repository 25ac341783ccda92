/*
 * gelu.c — GELU (tanh form) and its derivative, elementwise.
 */
#include "model/gelu.h"
#include "model/par.h"

#include <math.h>

#define GELU_K 0.7978845608028654f   /* sqrt(2 / pi) */
#define GELU_A 0.044715f

void gelu_forward(float *out, const float *inp, long n)
{
#pragma omp parallel for schedule(static) if (n >= PAR_MIN_WORK)
	for (long i = 0; i < n; i++) {
		float x = inp[i];
		out[i] = 0.5f * x * (1.0f + tanhf(GELU_K * (x + GELU_A * x * x * x)));
	}
}

void gelu_backward(float *dinp, const float *inp, const float *dout, long n)
{
#pragma omp parallel for schedule(static) if (n >= PAR_MIN_WORK)
	for (long i = 0; i < n; i++) {
		float x = inp[i];
		float t = tanhf(GELU_K * (x + GELU_A * x * x * x));
		float du = GELU_K * (1.0f + 3.0f * GELU_A * x * x);
		float grad = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
		dinp[i] += grad * dout[i];
	}
}
