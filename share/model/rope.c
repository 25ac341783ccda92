/*
 * rope.c — RoPE on adjacent pairs, forward and backward.
 */
#include "model/rope.h"
#include "model/par.h"

#include <math.h>

void rope_table(float *cos_t, float *sin_t, int ctx, int HS, double theta)
{
	int half = HS / 2;
	for (int t = 0; t < ctx; t++)
		for (int i = 0; i < half; i++) {
			double angle = t * pow(theta, -2.0 * i / HS);
			cos_t[(long)t * half + i] = (float)cos(angle);
			sin_t[(long)t * half + i] = (float)sin(angle);
		}
}

/* Rotate the pairs of one (t, q or k) row of C channels by +angle or -angle. */
static void rotate_row(float *out, const float *in, const float *c, const float *s,
		       int C, int HS, float sign, int accumulate)
{
	int half = HS / 2;
	for (int h0 = 0; h0 < C; h0 += HS)
		for (int i = 0; i < half; i++) {
			float x0 = in[h0 + 2 * i], x1 = in[h0 + 2 * i + 1];
			float ci = c[i], si = sign * s[i];
			float y0 = x0 * ci - x1 * si, y1 = x0 * si + x1 * ci;
			if (accumulate) {
				out[h0 + 2 * i] += y0;
				out[h0 + 2 * i + 1] += y1;
			} else {
				out[h0 + 2 * i] = y0;
				out[h0 + 2 * i + 1] = y1;
			}
		}
}

void rope_forward(float *out, const float *qkv, const float *cos_t, const float *sin_t,
		  int B, int T, int C, int NH)
{
	int HS = C / NH;
#pragma omp parallel for schedule(static) if ((long)B * T * C >= PAR_MIN_WORK)
	for (long bt = 0; bt < (long)B * T; bt++) {
		int t = (int)(bt % T);
		const float *in = qkv + bt * 3 * C;
		float *o = out + bt * 3 * C;
		const float *c = cos_t + (long)t * (HS / 2), *s = sin_t + (long)t * (HS / 2);
		rotate_row(o, in, c, s, C, HS, 1.0f, 0);          /* q */
		rotate_row(o + C, in + C, c, s, C, HS, 1.0f, 0);  /* k */
		for (int i = 2 * C; i < 3 * C; i++)               /* v */
			o[i] = in[i];
	}
}

void rope_backward(float *dqkv, const float *dout, const float *cos_t, const float *sin_t,
		   int B, int T, int C, int NH)
{
	int HS = C / NH;
#pragma omp parallel for schedule(static) if ((long)B * T * C >= PAR_MIN_WORK)
	for (long bt = 0; bt < (long)B * T; bt++) {
		int t = (int)(bt % T);
		const float *d = dout + bt * 3 * C;
		float *o = dqkv + bt * 3 * C;
		const float *c = cos_t + (long)t * (HS / 2), *s = sin_t + (long)t * (HS / 2);
		rotate_row(o, d, c, s, C, HS, -1.0f, 1);
		rotate_row(o + C, d + C, c, s, C, HS, -1.0f, 1);
		for (int i = 2 * C; i < 3 * C; i++)
			o[i] += d[i];
	}
}
