/*
 * rmsnorm.c — RMSNorm forward and backward, rows in parallel.
 *
 * Backward (one row, n = x rstd, g = dout * weight):
 *   dx = rstd (g - n mean(g n)),  dweight += dout n.
 */
#include "model/rmsnorm.h"
#include "model/par.h"

#include <math.h>

void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight,
		     int N, int C, float eps)
{
#pragma omp parallel for schedule(static) if ((long)N * C >= PAR_MIN_WORK)
	for (int i = 0; i < N; i++) {
		const float *x = inp + (long)i * C;
		float *y = out + (long)i * C;
		float ss = 0.0f;
		for (int c = 0; c < C; c++)
			ss += x[c] * x[c];
		float s = 1.0f / sqrtf(ss / C + eps);
		for (int c = 0; c < C; c++)
			y[c] = x[c] * s * weight[c];
		rstd[i] = s;
	}
}

void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
		      const float *weight, const float *rstd, int N, int C)
{
#pragma omp parallel for schedule(static) if ((long)N * C >= PAR_MIN_WORK)
	for (int i = 0; i < N; i++) {
		const float *x = inp + (long)i * C, *dy = dout + (long)i * C;
		float *dx = dinp + (long)i * C;
		float s = rstd[i];
		float gn_mean = 0.0f;
		for (int c = 0; c < C; c++)
			gn_mean += dy[c] * weight[c] * x[c] * s;
		gn_mean /= C;
		for (int c = 0; c < C; c++)
			dx[c] += s * (dy[c] * weight[c] - x[c] * s * gn_mean);
	}
#pragma omp parallel for schedule(static) if ((long)N * C >= PAR_MIN_WORK)
	for (int c = 0; c < C; c++) {
		float dw = 0.0f;
		for (int i = 0; i < N; i++)
			dw += dout[(long)i * C + c] * inp[(long)i * C + c] * rstd[i];
		dweight[c] += dw;
	}
}
