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

/* Attention of n new queries against a KV cache (the incremental forward,
 * gpt_forward_next). Query i sits at absolute position pos + i and sees the
 * cached positions 0..pos+i. q: the q third of n rows of a (n, 3C) qkv
 * tensor (row stride 3C); kc, vc: one layer's cache (NH, max_T, HS), with
 * positions up to pos + n - 1 already written. scores: scratch of at least
 * pos + n floats a thread (nthreads * stride). out (n, C). The arithmetic is
 * attention_forward's, in the same order, so a cached position gets the
 * logits of the full forward. */
void attention_forward_cached(float *out, const float *q, const float *kc, const float *vc,
			      float *scores, long stride, int pos, int n, int max_T, int C, int NH);

#endif
