/*
 * rope.h — rotary position embedding (Su et al. 2021) as CS336 defines it:
 * within each head, the ADJACENT pair (x[2i], x[2i+1]) at position t is
 * rotated by the angle t * theta^(-2i/HS). (HF's Llama rotates the halves
 * (x[i], x[i + HS/2]); the checkpoint code permutes q/k rows to match.)
 * Applied to the q and k thirds of a (B, T, 3C) qkv tensor; v is copied.
 */
#ifndef LMPIPE_ROPE_H
#define LMPIPE_ROPE_H

/* cos, sin: (ctx, HS/2), computed in double and rounded once. */
void rope_table(float *cos_t, float *sin_t, int ctx, int HS, double theta);
void rope_forward(float *out, const float *qkv, const float *cos_t, const float *sin_t,
		  int B, int T, int C, int NH);
/* Accumulates into dqkv: the inverse rotation of dout (a rotation's
 * transpose), and dout's v third unchanged. */
void rope_backward(float *dqkv, const float *dout, const float *cos_t, const float *sin_t,
		   int B, int T, int C, int NH);

#endif
