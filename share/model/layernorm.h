/*
 * layernorm.h — LayerNorm over the last dimension (Ba, Kiros, Hinton 2016):
 * y = (x - mean) / sqrt(var + eps) * weight + bias, var the biased variance
 * (torch.nn.LayerNorm). N rows of C channels; bias may be NULL.
 */
#ifndef LMPIPE_LAYERNORM_H
#define LMPIPE_LAYERNORM_H

/* mean and rstd (N) are saved for the backward pass. */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
		       const float *weight, const float *bias, int N, int C, float eps);
/* Accumulates into dinp (N, C), dweight (C), dbias (C; may be NULL). */
void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
			const float *inp, const float *weight, const float *mean,
			const float *rstd, int N, int C);

#endif
