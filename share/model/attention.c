/*
 * attention.c — causal multi-head attention, forward and backward.
 *
 * Each (batch, head) pair is independent, so OpenMP splits over them and
 * every gradient element is written by one thread in a fixed order.
 * Backward, for one query row t with probabilities p and upstream dy:
 *   dv[t2] += p[t2] dy,  dp[t2] = dy . v[t2],
 *   ds[t2] = p[t2] (dp[t2] - sum_j p[j] dp[j])        (softmax)
 *   dq[t]  += scale sum_t2 ds[t2] k[t2],  dk[t2] += scale ds[t2] q[t].
 */
#include "model/attention.h"
#include "model/vec.h"
#include "model/par.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>


void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH)
{
	int HS = C / NH;
	float scale = 1.0f / sqrtf((float)HS);
#pragma omp parallel for collapse(2) schedule(static) if ((long)B * NH * T * T * HS >= PAR_MIN_WORK)
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				const float *q = qkv + ((long)b * T + t) * 3 * C + h * HS;
				float *p = att + (((long)b * NH + h) * T + t) * T;
				float maxv = -INFINITY;
				for (int t2 = 0; t2 <= t; t2++) {
					const float *k = qkv + ((long)b * T + t2) * 3 * C + C + h * HS;
					float s = vec_dot(q, k, HS) * scale;
					p[t2] = s;
					if (s > maxv)
						maxv = s;
				}
				float sum = 0.0f;
				for (int t2 = 0; t2 <= t; t2++) {
					p[t2] = expf(p[t2] - maxv);
					sum += p[t2];
				}
				float inv = 1.0f / sum;
				for (int t2 = 0; t2 <= t; t2++)
					p[t2] *= inv;
				float *y = out + ((long)b * T + t) * C + h * HS;
				for (int i = 0; i < HS; i++)
					y[i] = 0.0f;
				for (int t2 = 0; t2 <= t; t2++) {
					const float *v = qkv + ((long)b * T + t2) * 3 * C + 2 * C + h * HS;
					for (int i = 0; i < HS; i++)
						y[i] += p[t2] * v[i];
				}
			}
}

/* The softmax-weighted sum of one query over positions 0..last (the body of
 * attention_forward's inner loop, shared so both paths round alike). */
static void attend_one(float *y, float *p, const float *q, const float *k0, long kstride,
		       const float *v0, long vstride, int last, int HS, float scale)
{
	float maxv = -INFINITY;
	for (int t2 = 0; t2 <= last; t2++) {
		float s = vec_dot(q, k0 + t2 * kstride, HS) * scale;
		p[t2] = s;
		if (s > maxv)
			maxv = s;
	}
	float sum = 0.0f;
	for (int t2 = 0; t2 <= last; t2++) {
		p[t2] = expf(p[t2] - maxv);
		sum += p[t2];
	}
	float inv = 1.0f / sum;
	for (int t2 = 0; t2 <= last; t2++)
		p[t2] *= inv;
	for (int i = 0; i < HS; i++)
		y[i] = 0.0f;
	for (int t2 = 0; t2 <= last; t2++) {
		const float *v = v0 + t2 * vstride;
		for (int i = 0; i < HS; i++)
			y[i] += p[t2] * v[i];
	}
}

void attention_forward_cached(float *out, const float *q, const float *kc, const float *vc,
			      float *scores, long stride, int pos, int n, int max_T, int C, int NH)
{
	int HS = C / NH;
	float scale = 1.0f / sqrtf((float)HS);
#pragma omp parallel if ((long)n * NH * (pos + n) * HS >= PAR_MIN_WORK)
	{
		float *p = scores + (long)omp_get_thread_num() * stride;
#pragma omp for collapse(2) schedule(static)
		for (int i = 0; i < n; i++)
			for (int h = 0; h < NH; h++) {
				long head = (long)h * max_T * HS;
				attend_one(out + (long)i * C + h * HS, p, q + (long)i * 3 * C + h * HS,
					   kc + head, HS, vc + head, HS, pos + i, HS, scale);
			}
	}
}

void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
			int B, int T, int C, int NH)
{
	int HS = C / NH;
	float scale = 1.0f / sqrtf((float)HS);
#pragma omp parallel if ((long)B * NH * T * T * HS >= PAR_MIN_WORK)
	{
		/* dp of each t2, kept for the second pass; without it (no memory)
		 * the second pass computes each again, the same dot product */
		float *ds = malloc(sizeof(float) * (size_t)T);
#pragma omp for collapse(2) schedule(static)
		for (int b = 0; b < B; b++)
			for (int h = 0; h < NH; h++)
				for (int t = 0; t < T; t++) {
					const float *p = att + (((long)b * NH + h) * T + t) * T;
					const float *dy = dout + ((long)b * T + t) * C + h * HS;
					const float *q = qkv + ((long)b * T + t) * 3 * C + h * HS;
					float *dq = dqkv + ((long)b * T + t) * 3 * C + h * HS;
					float pdp = 0.0f;
					for (int t2 = 0; t2 <= t; t2++) {
						long row = ((long)b * T + t2) * 3 * C + h * HS;
						const float *v = qkv + row + 2 * C;
						float *dv = dqkv + row + 2 * C;
						float dp = vec_dot(dy, v, HS);
						for (int i = 0; i < HS; i++)
							dv[i] += p[t2] * dy[i];
						if (ds)
							ds[t2] = dp;
						pdp += p[t2] * dp;
					}
					for (int t2 = 0; t2 <= t; t2++) {
						long row = ((long)b * T + t2) * 3 * C + h * HS;
						const float *k = qkv + row + C;
						float *dk = dqkv + row + C;
						float dp = ds ? ds[t2] : vec_dot(dy, qkv + row + 2 * C, HS);
						float g = scale * p[t2] * (dp - pdp);
						for (int i = 0; i < HS; i++) {
							dq[i] += g * k[i];
							dk[i] += g * q[i];
						}
					}
				}
		free(ds);
	}
}
