/*
 * rmsnorm.h — RMSNorm (Zhang, Sennrich 2019; CS336 assignment 1):
 * y = x / sqrt(mean(x^2) + eps) * weight. N rows of C channels.
 */
#ifndef LMPIPE_RMSNORM_H
#define LMPIPE_RMSNORM_H

/* rstd (N) is saved for the backward pass. */
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight,
		     int N, int C, float eps);
/* Accumulates into dinp (N, C) and dweight (C). */
void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
		      const float *weight, const float *rstd, int N, int C);

#endif
