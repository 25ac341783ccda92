/*
 * swiglu.c — SiLU and SwiGLU, elementwise. silu'(x) = s (1 + x (1 - s)),
 * s = sigmoid(x).
 */
#include "model/swiglu.h"
#include "model/par.h"

#include <math.h>

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

void silu_forward(float *out, const float *inp, long n)
{
#pragma omp parallel for schedule(static) if (n >= PAR_MIN_WORK)
	for (long i = 0; i < n; i++)
		out[i] = inp[i] * sigmoidf(inp[i]);
}

void silu_backward(float *dinp, const float *inp, const float *dout, long n)
{
#pragma omp parallel for schedule(static) if (n >= PAR_MIN_WORK)
	for (long i = 0; i < n; i++) {
		float s = sigmoidf(inp[i]);
		dinp[i] += s * (1.0f + inp[i] * (1.0f - s)) * dout[i];
	}
}

void swiglu_forward(float *out, const float *a, const float *b, long n)
{
#pragma omp parallel for schedule(static) if (n >= PAR_MIN_WORK)
	for (long i = 0; i < n; i++)
		out[i] = a[i] * sigmoidf(a[i]) * b[i];
}

void swiglu_backward(float *da, float *db, const float *dout, const float *a,
		     const float *b, long n)
{
#pragma omp parallel for schedule(static) if (n >= PAR_MIN_WORK)
	for (long i = 0; i < n; i++) {
		float s = sigmoidf(a[i]);
		da[i] += s * (1.0f + a[i] * (1.0f - s)) * b[i] * dout[i];
		db[i] += a[i] * s * dout[i];
	}
}
