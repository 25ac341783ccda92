/*
 * layernorm.c — LayerNorm forward and backward, rows in parallel.
 *
 * Backward (for one row, n = (x - mean) rstd, g = dout * weight):
 *   dx = rstd (g - mean(g) - n mean(g n)),  dweight += dout n,  dbias += dout.
 * The parameter gradients sum over rows; each thread owns a block of
 * channels and reads the rows in order, so the sums are deterministic.
 */
#include "model/layernorm.h"
#include "model/par.h"

#include <math.h>

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
		       const float *weight, const float *bias, int N, int C, float eps)
{
#pragma omp parallel for schedule(static) if ((long)N * C >= PAR_MIN_WORK)
	for (int i = 0; i < N; i++) {
		const float *x = inp + (long)i * C;
		float *y = out + (long)i * C;
		float m = 0.0f;
		for (int c = 0; c < C; c++)
			m += x[c];
		m /= C;
		float v = 0.0f;
		for (int c = 0; c < C; c++)
			v += (x[c] - m) * (x[c] - m);
		v /= C;
		float s = 1.0f / sqrtf(v + eps);
		for (int c = 0; c < C; c++)
			y[c] = (x[c] - m) * s * weight[c] + (bias ? bias[c] : 0.0f);
		mean[i] = m;
		rstd[i] = s;
	}
}

void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
			const float *inp, const float *weight, const float *mean,
			const float *rstd, int N, int C)
{
#pragma omp parallel for schedule(static) if ((long)N * C >= PAR_MIN_WORK)
	for (int i = 0; i < N; i++) {
		const float *x = inp + (long)i * C, *dy = dout + (long)i * C;
		float *dx = dinp + (long)i * C;
		float m = mean[i], s = rstd[i];
		float g_mean = 0.0f, gn_mean = 0.0f;
		for (int c = 0; c < C; c++) {
			float g = dy[c] * weight[c];
			g_mean += g;
			gn_mean += g * (x[c] - m) * s;
		}
		g_mean /= C;
		gn_mean /= C;
		for (int c = 0; c < C; c++) {
			float n = (x[c] - m) * s;
			dx[c] += s * (dy[c] * weight[c] - g_mean - n * gn_mean);
		}
	}
#pragma omp parallel for schedule(static) if ((long)N * C >= PAR_MIN_WORK)
	for (int c = 0; c < C; c++) {
		float dw = 0.0f, db = 0.0f;
		for (int i = 0; i < N; i++) {
			float dy = dout[(long)i * C + c];
			dw += dy * (inp[(long)i * C + c] - mean[i]) * rstd[i];
			db += dy;
		}
		dweight[c] += dw;
		if (dbias)
			dbias[c] += db;
	}
}
