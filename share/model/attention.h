/*
 * attention.h — causal multi-head self-attention on a packed qkv tensor:
 * for each head, softmax(q k^T / sqrt(HS) + causal mask) v.
 * qkv (B, T, 3C) holds q, k, v one after the other, heads side by side
 * within each (HS = C / NH channels a head).
 */
#ifndef LMPIPE_ATTENTION_H
#define LMPIPE_ATTENTION_H

/* out (B, T, C); att (B, NH, T, T) keeps the softmax for the backward pass
 * (only the causal part, t2 <= t, is written or read). */
void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH);
/* Accumulates into dqkv (B, T, 3C). */
void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
			int B, int T, int C, int NH);

#endif
